"""Benchmarks of the job-log purge (issue 3).

- real purge vs ``find jobs -mindepth 2 -maxdepth 2 -mtime +N -exec rm -rf {} +``
  on an identical copy (200 projects x 500 jobs, half of them expired);
- dry run vs real purge on identical copies;
- peak RSS of a dry run at 200,000 job folders vs 100,000.

The purge runs through the command line against the DSS simulator (so it asks
the API for running jobs, as in DSS); each run is its own process, which gives
its wall time and its peak RSS (VmHWM, see peak_rss.py).
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dssbench import cli as nodeops_cli
from dssbench.datadir import build_datadir
from dssbench.simulator import DSSSimulator

HERE = Path(__file__).resolve().parent
RETENTION_DAYS = 30


def spec(projects, jobs_per_project):
    return {
        "seed": 7,
        "now": None,
        # a current DSS: running jobs come from one instance-wide call (older DSS: one call per project)
        "dss_version": "15.2.0",
        "projects": [{"key": "P%04d" % i, "jobs": {"count": jobs_per_project, "max_age_days": 2 * RETENTION_DAYS,
                                                    "running": 0, "log_bytes": [200, 600]}}
                     for i in range(projects)],
    }


def _build(root, projects, jobs_per_project):
    dip_home = Path(root) / "dss_data"
    model = build_datadir(spec(projects, jobs_per_project), dip_home)
    return dip_home, model


def _timed_process(argv, env=None):
    """(wall seconds, peak RSS bytes, stdout) of ``python -m nodeops argv`` in its own process."""
    with tempfile.TemporaryDirectory() as tmp:
        out, err, hwm = (os.path.join(tmp, n) for n in ("out", "err", "hwm"))
        with open(out, "wb") as fo, open(err, "wb") as fe:  # files, not pipes: the child never blocks
            t0 = time.perf_counter()
            code = subprocess.call([sys.executable, str(HERE / "peak_rss.py"), hwm] + argv, stdout=fo, stderr=fe, env=env)
            elapsed = time.perf_counter() - t0
        if code not in (0, 1):
            raise RuntimeError("%s failed: %s" % (argv, open(err).read()[-2000:]))
        return elapsed, int(open(hwm).read()), open(out).read()


def _purge(dip_home, model, dry_run):
    with DSSSimulator(dip_home, model) as sim:
        env = nodeops_cli.env()
        return _timed_process(["purge-job-logs", "--dip-home", str(dip_home),
                               "--url", sim.url, "--api-key", sim.api_key("admin"),
                               "--retention-days", str(RETENTION_DAYS), "--keep-last", "0",
                               "--dry-run", "true" if dry_run else "false", "--format", "json"], env)


def _count_jobs(dip_home):
    return sum(1 for p in (Path(dip_home) / "jobs").iterdir() if not p.name.startswith(".") for _ in p.iterdir())


def bench_purge(workdir):
    work = Path(workdir) / "bench_purge"
    shutil.rmtree(work, ignore_errors=True)
    results = []
    try:
        base_home, _ = _build(work / "find", 200, 500)
        ours_home, ours_model = _build(work / "ours", 200, 500)
        dry_home, dry_model = _build(work / "dry", 200, 500)
        total = _count_jobs(base_home)
        os.sync()
        t0 = time.perf_counter()
        subprocess.run("find jobs -mindepth 2 -maxdepth 2 -mtime +%d -exec rm -rf {} +" % RETENTION_DAYS,
                       shell=True, cwd=str(base_home), check=True)
        t_find = time.perf_counter() - t0
        left_find = _count_jobs(base_home)
        os.sync()
        t_ours, rss_100k, _ = _purge(ours_home, ours_model, dry_run=False)
        left_ours = _count_jobs(ours_home)
        os.sync()
        t_dry, _, _ = _purge(dry_home, dry_model, dry_run=True)
        results.append({
            "name": "purge-job-logs, 100k job folders (%d deleted; find deleted %d)" % (total - left_ours, total - left_find),
            "seconds": round(t_ours, 3), "baseline_seconds": round(t_find, 3), "ratio": round(t_ours / t_find, 3),
            "target": "<= 1.25",
            "baseline": "find jobs -mindepth 2 -maxdepth 2 -mtime +%d -exec rm -rf {} + on an identical copy" % RETENTION_DAYS})
        results.append({
            "name": "purge-job-logs dry run vs real purge, 100k job folders",
            "seconds": round(t_dry, 3), "baseline_seconds": round(t_ours, 3), "ratio": round(t_dry / t_ours, 3),
            "target": "<= 0.5", "baseline": "the real purge above (same tree, same process setup)"})
        shutil.rmtree(work, ignore_errors=True)
        small_home, small_model = _build(work / "m100", 200, 500)
        _, rss_small, _ = _purge(small_home, small_model, dry_run=True)
        shutil.rmtree(work / "m100", ignore_errors=True)
        big_home, big_model = _build(work / "m200", 400, 500)
        _, rss_big, _ = _purge(big_home, big_model, dry_run=True)
        results.append({
            "name": "purge-job-logs peak RSS, 200k vs 100k job folders (dry run)",
            "seconds": round(rss_big / 2 ** 20, 1), "baseline_seconds": round(rss_small / 2 ** 20, 1),
            "ratio": round(rss_big / rss_small, 3), "target": "<= 1.2", "unit": "MiB",
            "baseline": "peak RSS of the same dry run on 100k job folders"})
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return results
