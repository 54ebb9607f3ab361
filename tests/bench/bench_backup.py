"""Benchmark of the backup (issue 9): a generated 2 GB config-like tree of many
small files (JSON-like text, about 100,000 files of 20 KB), archived by
``python -m nodeops backup`` (DATA_DIR scope, nothing excluded, gzip, sha256
manifest) against ``tar -czf`` of the same tree, measured in the same run. The
tree is built on a RAM disk when one is large enough."""

import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_purge import _timed_process
from dssbench import cli as nodeops_cli

FILES = 100_000
FILE_BYTES = 20_000
WORDS = ("project", "dataset", "recipe", "schema", "column", "type", "string", "bigint", "partition", "connection",
         "managed", "true", "false", "null", "params", "name", "owner", "versionTag", "lastModifiedOn", "tags")


def make_tree(dip_home):
    rng = random.Random(9)
    blobs = []
    for _ in range(2000):
        words = []
        size = 0
        while size < FILE_BYTES:
            w = '"%s": "%s_%d",\n' % (rng.choice(WORDS), rng.choice(WORDS), rng.randrange(100000))
            words.append(w)
            size += len(w)
        blobs.append("".join(words)[:FILE_BYTES].encode())
    (dip_home / "config").mkdir(parents=True)
    (dip_home / "dss-version.json").write_text('{"product_version": "14.2.1"}')
    for i in range(FILES):
        folder = dip_home / "config" / "projects" / ("P%03d" % (i // 1000)) / ("d%02d" % ((i // 50) % 20))
        if i % 50 == 0:
            folder.mkdir(parents=True, exist_ok=True)
        (folder / ("obj%05d.json" % i)).write_bytes(blobs[rng.randrange(len(blobs))])
    return FILES * FILE_BYTES


def _base():
    try:
        st = os.statvfs("/dev/shm")
        if st.f_bavail * st.f_frsize > 8 * 2 ** 30 and os.access("/dev/shm", os.W_OK):
            return "/dev/shm"
    except OSError:
        pass
    return None


def bench_backup(workdir):
    base = _base() or os.fspath(workdir)
    with tempfile.TemporaryDirectory(prefix="nodeops-bench-backup-", dir=base) as tmp:
        dip_home = Path(tmp) / "dss_data"
        total = make_tree(dip_home)
        subprocess.run(["tar", "-cf", "/dev/null", "-C", str(dip_home), "."], check=True)  # warm the cache
        t0 = time.perf_counter()
        subprocess.run(["tar", "-czf", str(Path(tmp) / "baseline.tar.gz"), "-C", str(dip_home), "."], check=True)
        t_tar = time.perf_counter() - t0
        env = nodeops_cli.env()
        target = Path(tmp) / "backups"
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "nodeops", "backup", "--dip-home", str(dip_home), "--target-dir",
                              str(target), "--scope", "DATA_DIR", "--exclude", "", "--format", "json"],
                             capture_output=True, text=True, env=env)
        t_ours = time.perf_counter() - t0
        if out.returncode != 0:
            raise RuntimeError(out.stderr[-2000:] + out.stdout[-2000:])
        sizes = (os.path.getsize(str(Path(tmp) / "baseline.tar.gz")), sum(p.stat().st_size for p in target.iterdir()))
    return [{"name": "backup of a %.1f GB config-like tree, %d files (archive %.0f MB; tar's %.0f MB)"
                     % (total / 1e9, FILES, sizes[1] / 1e6, sizes[0] / 1e6),
             "seconds": round(t_ours, 2), "baseline_seconds": round(t_tar, 2), "ratio": round(t_ours / t_tar, 3),
             "target": "<= 1.3", "baseline": "tar -czf of the same tree, warm cache (ours adds a sha256 manifest)"}]


def make_small_files(root, count):
    """A config-like tree of ``count`` small files (100 per folder)."""
    (root / "config").mkdir(parents=True)
    (root / "dss-version.json").write_text('{"product_version": "14.2.1"}')
    body = b'{"type": "dataset", "params": {"connection": "filesystem_managed"}}\n' * 3
    for i in range(count):
        folder = root / "config" / "projects" / ("P%03d" % (i // 10000)) / ("d%03d" % ((i // 100) % 100))
        if i % 100 == 0:
            folder.mkdir(parents=True, exist_ok=True)
        (folder / ("obj%06d.json" % i)).write_bytes(body)


def _peaks(tmp, count):
    """Peak RSS (bytes) of backup, verify and restore of a tree of ``count`` small files."""
    dip_home, target, into = Path(tmp) / "dss_data", Path(tmp) / "backups", Path(tmp) / "restored"
    make_small_files(dip_home, count)
    env = nodeops_cli.env()
    _, backup_rss, _ = _timed_process(["backup", "--dip-home", str(dip_home), "--target-dir", str(target), "--scope",
                                       "CONFIG", "--format", "json"], env)
    (archive,) = target.iterdir()
    _, verify_rss, out = _timed_process(["backup-verify", "--archive", str(archive), "--format", "json"], env)
    if json.loads(out)["errors"]:
        raise RuntimeError("verify failed: %s" % out[-2000:])
    _, restore_rss, _ = _timed_process(["backup-restore", "--archive", str(archive), "--into", str(into),
                                        "--dry-run", "false", "--format", "json"], env)
    restored = sum(len(files) for _, _, files in os.walk(into))
    if restored != count:
        raise RuntimeError("restore wrote %d files, not %d" % (restored, count))
    return {"backup": backup_rss, "backup-verify": verify_rss, "backup-restore": restore_rss}


def bench_backup_memory(workdir, small=100_000):
    """Peak RSS of backup, verify and restore at 2x the files vs 1x (target: at most 1.2x)."""
    base = _base() or os.fspath(workdir)
    peaks = {}
    for count in (small, 2 * small):
        with tempfile.TemporaryDirectory(prefix="nodeops-bench-backup-rss-", dir=base) as tmp:
            peaks[count] = _peaks(tmp, count)
    return [{"name": "%s peak RSS, %dk vs %dk files" % (op, 2 * small // 1000, small // 1000),
             "seconds": round(peaks[2 * small][op] / 2 ** 20, 1), "baseline_seconds": round(peaks[small][op] / 2 ** 20, 1),
             "ratio": round(peaks[2 * small][op] / peaks[small][op], 3), "target": "<= 1.2", "unit": "MiB",
             "baseline": "peak RSS of the same operation on %dk files" % (small // 1000)}
            for op in ("backup", "backup-verify", "backup-restore")]
