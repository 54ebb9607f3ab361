"""Benchmarks of the capacity report (issue 5).

- the full report (one pass over DIP_HOME with every breakdown, the
  reclaimable figures, host, processes, heaps; no history) on a generated tree
  of 1,000,000 files against one ``du -s -B1`` of the same tree, warm cache,
  measured in the same run, runs interleaved, best of 5 each: at most 1.0x
  (``max_ratio``: run.py fails when it is exceeded). The report's Python runs
  with its bytecode cached (in the bench's own folder), as a node that runs the
  report every day has it: this checkout's environment sets
  PYTHONDONTWRITEBYTECODE, which would add the compilation of every module to
  each run;
- its peak RSS on 2,000,000 files against 1,000,000.

The trees are DSS-shaped (top-level folders, 50 projects in the project-keyed
ones, three levels below) with hard links, symlinks pointing outside and a
sparse file. They are built on a RAM disk (/dev/shm) when one is large enough:
building and deleting millions of files on the development machine's disk
takes many minutes, and "warm cache" is what is measured anyway.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dssbench import cli as nodeops_cli

HERE = Path(__file__).resolve().parent

TOPS = ("jobs", "scenarios", "saved_models", "analysis-data", "managed_datasets", "managed_folders",
        "jupyter-run", "code-envs", "exports", "tmp", "caches", "config")
PROJECTS = 50
FILES_PER_DIR = 100


def make_tree(dip_home, files):
    """A DSS-shaped tree of ``files`` regular files (hard links not included)."""
    dip_home = Path(dip_home)
    dip_home.mkdir(parents=True)
    (dip_home / "dss-version.json").write_text('{"product_version": "14.2.1"}')
    outside = dip_home.parent / "outside"
    outside.mkdir()
    (outside / "big.bin").write_bytes(b"\x01" * 65536)
    dirs = files // FILES_PER_DIR
    made = 0
    content = b"x" * 3000
    for d in range(dirs):
        top = TOPS[d % len(TOPS)]
        folder = dip_home / top / ("P%02d" % ((d // len(TOPS)) % PROJECTS)) / ("d%04d" % (d // (len(TOPS) * PROJECTS))) / "items"
        os.makedirs(folder)
        fd_dir = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            for f in range(FILES_PER_DIR):
                name = "f%03d.log" % f
                fd = os.open(name, os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd_dir)
                if (made + f) % 50 == 0:
                    os.write(fd, content)
                os.close(fd)
        finally:
            os.close(fd_dir)
        made += FILES_PER_DIR
        if d % 500 == 0:
            os.link(folder / "f000.log", folder / "hardlink.log")
            os.symlink(outside, folder / "outside-link")
    with open(dip_home / "tmp" / "sparse.bin", "wb") as f:
        f.truncate(1 << 30)
    return made + 1


def _ram_disk(need_inodes):
    try:
        st = os.statvfs("/dev/shm")
    except OSError:
        return None
    if st.f_favail < need_inodes * 1.2 or st.f_bavail * st.f_frsize < 2 << 30 or not os.access("/dev/shm", os.W_OK):
        return None
    return "/dev/shm"


def _best_of(n, *fns):
    """The best wall time of each of ``fns``, run ``n`` times each, interleaved (so that
    a busy moment of the machine weighs on both sides alike)."""
    best = [None] * len(fns)
    for _ in range(n):
        for i, fn in enumerate(fns):
            t0 = time.perf_counter()
            fn()
            t = time.perf_counter() - t0
            best[i] = t if best[i] is None else min(best[i], t)
    return best


def _report(dip_home, hwm_file=None):
    env = nodeops_cli.env()
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(Path(dip_home).parent.parent / "pycache")
    args = ["capacity-report", "--dip-home", str(dip_home), "--history", "false", "--format", "json",
            "--out", str(Path(dip_home).parent / "report.json")]
    cmd = [sys.executable, str(HERE / "peak_rss.py"), hwm_file] + args if hwm_file else \
        [sys.executable, "-m", "nodeops"] + args
    subprocess.run(cmd, env=env, check=True, capture_output=True)


def bench_capacity_scan(workdir):
    base = _ram_disk(2_100_000) or os.fspath(workdir)
    where = "RAM disk" if base == "/dev/shm" else "disk"
    results = []
    with tempfile.TemporaryDirectory(prefix="nodeops-bench-capacity-", dir=base) as tmp:
        small = Path(tmp) / "m1" / "dss_data"
        n_small = make_tree(small, 1_000_000)
        du = lambda: subprocess.run(["du", "-s", "-B1", str(small)], check=True, capture_output=True)  # noqa: E731
        du()  # warm the cache
        _report(small)  # and the bytecode cache
        t_du, t_report = _best_of(5, du, lambda: _report(small))
        hwm_small = os.path.join(tmp, "hwm1")
        _report(small, hwm_small)
        shutil.rmtree(small.parent)
        big = Path(tmp) / "m2" / "dss_data"
        n_big = make_tree(big, 2_000_000)
        hwm_big = os.path.join(tmp, "hwm2")
        _report(big, hwm_big)
        rss_small, rss_big = int(open(hwm_small).read()), int(open(hwm_big).read())
    results.append({
        "name": "capacity-report, full scan of %s files (%s, warm cache)" % (format(n_small, ","), where),
        "seconds": round(t_report, 3), "baseline_seconds": round(t_du, 3), "ratio": round(t_report / t_du, 3),
        "target": "<= 1.0", "max_ratio": 1.0,
        "baseline": "du -s -B1 on the same tree (best of 5 each, interleaved); the report is the whole command-line "
                    "run: per folder, project and top-N breakdowns, reclaimable figures, filesystem, host, processes, "
                    "heaps"})
    results.append({
        "name": "capacity-report peak RSS, %s vs %s files" % (format(n_big, ","), format(n_small, ",")),
        "seconds": round(rss_big / 2 ** 20, 1), "baseline_seconds": round(rss_small / 2 ** 20, 1),
        "ratio": round(rss_big / rss_small, 3), "target": "<= 1.2", "unit": "MiB",
        "baseline": "peak RSS of the same report on the 1M-file tree (the larger of its own VmHWM and its largest scan worker)"})
    return results
