"""Benchmark of the configuration audit (issue 6): a simulated instance with 1,000
projects (a few job folders and a scenario each); the audit runs through the
command line against the simulator. Target: under 3 seconds of its own time.
Measured conservatively as the wall time of the whole command-line run (Python
start, API calls and the simulator's answers included); the CPU time the
audit itself spends (the report's "Audit time" note) is printed beside it."""

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from dssbench import cli as nodeops_cli
from dssbench.datadir import build_datadir
from dssbench.simulator import DSSSimulator

PROJECTS = 1000


def spec():
    return {"seed": 3, "now": None,
            "projects": [{"key": "P%04d" % i, "owner": "admin", "managed_datasets": 0,
                          "jobs": {"count": 3, "max_age_days": 90, "log_bytes": [100, 200]},
                          "scenarios": [{"id": "DAILY", "runs": 3, "every_hours": 24}]}
                         for i in range(PROJECTS)]}


def bench_audit(workdir):
    work = Path(workdir) / "bench_audit"
    shutil.rmtree(work, ignore_errors=True)
    try:
        dip_home = work / "dss_data"
        model = build_datadir(spec(), dip_home)
        with DSSSimulator(dip_home, model) as sim:
            env = nodeops_cli.env()
            t0 = time.perf_counter()
            out = subprocess.run([sys.executable, "-m", "nodeops", "config-audit", "--dip-home", str(dip_home),
                                  "--url", sim.url, "--api-key", sim.api_key("admin"), "--format", "json"],
                                 capture_output=True, text=True, env=env)
            wall = time.perf_counter() - t0
            if out.returncode not in (0, 1):
                raise RuntimeError(out.stderr[-2000:])
            report = json.loads(out.stdout)
            calls = len(sim.hits)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    cpu = float(re.search(r"Audit time: ([\d.]+) s", " ".join(report["notes"])).group(1))
    return [{"name": "config-audit on %d projects, whole CLI run (audit CPU %.2f s, %d API calls)"
                     % (PROJECTS, cpu, calls),
             "seconds": round(wall, 3), "baseline_seconds": 3.0, "ratio": round(wall / 3.0, 3), "target": "<= 1.0",
             "baseline": "the 3-second budget of the issue"}]
