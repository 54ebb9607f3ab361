"""Benchmark of the backup (issue 9): a generated 2 GB config-like tree of many
small files (JSON-like text, about 100,000 files of 20 KB), archived by
``python -m nodeops backup`` (DATA_DIR scope, nothing excluded, gzip, sha256
manifest) against ``tar -czf`` of the same tree, measured in the same run. The
tree is built on a RAM disk when one is large enough."""

import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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
