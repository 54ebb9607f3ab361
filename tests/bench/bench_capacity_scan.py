"""Benchmark: the capacity report's single pass over DIP_HOME against ``du -s``.

Both walk the same 100k-job-folder tree with a warm page cache (one untimed
walk first); ``du`` is the tool administrators run by hand today.
"""

import os
import shutil
import subprocess
import time

from dssbench.datadir import build_datadir, scale_spec
from nodeops import datadir

JOB_FOLDERS = 100000


def _best_of(n, fn):
    best = None
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        t = time.perf_counter() - t0
        best = t if best is None else min(best, t)
    return best


def bench_capacity_scan(workdir):
    root = os.path.join(os.fspath(workdir), "bench_capacity")
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(root)
    dip_home = os.path.join(root, "dss_data")
    try:
        build_datadir(scale_spec(JOB_FOLDERS, seed=1, now="2026-11-25T12:00:00"), dip_home)
        du = lambda: subprocess.run(["du", "-s", "-B1", dip_home], check=True, capture_output=True)  # noqa: E731
        du()  # warm the cache
        t_du = _best_of(3, du)
        scan = {}
        t_scan = _best_of(3, lambda: scan.setdefault("r", datadir.scan(dip_home)))
        files = scan["r"].total.files
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return {
        "name": "capacity scan of DIP_HOME, %d job folders (%d files)" % (JOB_FOLDERS, files),
        "seconds": round(t_scan, 3),
        "baseline_seconds": round(t_du, 3),
        "ratio": round(t_scan / t_du, 3),
        "baseline": "du -s -B1 on the same tree (best of 3, warm cache); the scan also splits per folder and project",
    }
