"""Benchmark of kernel culling (issue 4): 500 sessions over 100 notebooks (20
projects x 5 notebooks x 5 sessions, every other one idle for two days), each
a real kernel process. A real cull with the default rules runs through the
command line against the simulator; the simulator counts the API calls.

Contract: calls <= notebooks + unloads + 3. Printed: that ratio, and the wall
time (against the same cull with the per-project notebook API, the fallback
when DSS refuses the instance-wide list).
"""

import shutil
import subprocess
import sys
import time
from pathlib import Path

from dssbench import cli as nodeops_cli
from dssbench.datadir import build_datadir
from dssbench.simulator import DSSSimulator

PROJECTS, NOTEBOOKS, SESSIONS = 20, 5, 5


def spec():
    def session(i):
        idle = 48 if i % 2 == 0 else 1
        return {"owner": "admin", "memory_mb": 0, "state": "idle", "idle_hours": idle, "age_hours": idle + 1}

    return {
        "seed": 11, "now": None, "dss_version": "14.2.1",
        "projects": [{"key": "P%03d" % p, "owner": "admin", "jobs": {"count": 0},
                      "notebooks": [{"name": "nb%d" % n, "sessions": [session(p + n + s) for s in range(SESSIONS)]}
                                    for n in range(NOTEBOOKS)]}
                     for p in range(PROJECTS)],
    }


def _cull(dip_home, model, refuse_instance_wide):
    with DSSSimulator(dip_home, model) as sim:
        if refuse_instance_wide:
            sim.inject(r"/admin/notebooks/$", status=404, method="GET")
        env = nodeops_cli.env()
        sim.hits.clear()
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "nodeops", "cull-kernels", "--url", sim.url,
                               "--api-key", sim.api_key("admin"), "--dry-run", "false", "--format", "json"],
                              env=env, capture_output=True, text=True)
        elapsed = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError("cull-kernels failed: %s%s" % (proc.stdout[-2000:], proc.stderr[-2000:]))
        calls = len(sim.hits)
        unloads = sum(1 for h in sim.hits if h.method == "DELETE")
        alive = sum(1 for k in sim.state.kernels.values() if k.alive())
        return elapsed, calls, unloads, alive


def bench_cull(workdir):
    work = Path(workdir) / "bench_cull"
    shutil.rmtree(work, ignore_errors=True)
    try:
        model = build_datadir(spec(), work / "a" / "dss_data")
        t_ours, calls, unloads, alive = _cull(work / "a" / "dss_data", model, False)
        model_b = build_datadir(spec(), work / "b" / "dss_data")
        t_new, calls_new, unloads_new, _ = _cull(work / "b" / "dss_data", model_b, True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    notebooks = PROJECTS * NOTEBOOKS
    budget = notebooks + unloads + 3
    return [
        {"name": "cull-kernels API calls, %d sessions over %d notebooks (%d unloaded, %d left)"
                 % (notebooks * SESSIONS, notebooks, unloads, alive),
         "seconds": calls, "baseline_seconds": budget, "ratio": round(calls / budget, 3), "unit": "calls",
         "target": "<= 1.0", "baseline": "notebooks + unloads + 3"},
        {"name": "cull-kernels wall time, same instance (%d calls)" % calls,
         "seconds": round(t_ours, 3), "baseline_seconds": round(t_new, 3), "ratio": round(t_ours / t_new, 3),
         "baseline": "the same cull through the per-project notebook API (%d calls, %d unloads)"
                     % (calls_new, unloads_new)},
    ]
