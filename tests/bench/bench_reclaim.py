"""Benchmarks of reclaim-disk (issue 16), dry run, on 200 projects x 10 saved models x 10
versions plus 1,000 ML tasks (5 per project):

- API calls, counted by the simulator: at most one version listing per saved model and one
  split cleanup question per ML task would be asked, plus one listing of saved models and one
  of ML tasks per project and the few calls that say who the user is and list the projects;
- the time of the run's scan of the folders it reads (measured around the methods that read
  them, in the same process; the time waiting for the API and the rest, planning and
  reporting, are printed beside it) against ``du -s`` of those folders (saved_models,
  analysis-data and the other project-keyed folders, diagnosis), measured in the same run:
  target <= 1.5;
- peak RSS of the dry run (its own process, peak_rss.py) with 40 versions per saved model
  against 10: flat in the number of versions.

The builder makes the projects; the saved models and ML tasks are written here, minimal (a
version is a folder with its training times and one small file), so that the tree builds in
seconds.
"""

import json
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
PROJECTS, MODELS, VERSIONS, TASKS = 200, 10, 10, 5
DAY_MS = 86400 * 1000


def _write(path, data, mtime):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else json.dumps(data).encode())
    os.utime(path, (mtime, mtime))


def build(root, projects=PROJECTS, versions=VERSIONS):
    dip_home = Path(root) / "dss_data"
    model = build_datadir({"seed": 5, "now": None, "projects": [
        {"key": "P%04d" % p, "owner": "admin", "managed_datasets": 0} for p in range(projects)]}, dip_home)
    now_ms = int(time.time() * 1000)
    blob = os.urandom(3000)
    for p in range(projects):
        key = "P%04d" % p
        for m in range(MODELS):
            sm = "SM%02d" % m
            vids = [str(now_ms - (versions - v) * 5 * DAY_MS - m) for v in range(versions)]
            _write(dip_home / "config/projects" / key / "saved_models" / (sm + ".json"),
                   {"id": sm, "projectKey": key, "name": sm, "type": "PREDICTION", "activeVersion": vids[-1]},
                   int(vids[-1]) / 1000)
            for vid in vids:
                t = int(vid)
                vdir = dip_home / "saved_models" / key / sm / "versions" / vid
                _write(vdir / "train_info.json", {"startTime": t - 60000, "endTime": t}, t / 1000)
                _write(vdir / "clf.pkl", blob, t / 1000)
        for a in range(TASKS):
            aid, mid = "A%02d" % a, "M%02d" % a
            t = (now_ms - 40 * DAY_MS) / 1000
            _write(dip_home / "config/projects" / key / "analysis" / aid / "core_params.json", {"id": aid}, t)
            _write(dip_home / "config/projects" / key / "analysis" / aid / "ml" / mid / "params.json",
                   {"taskType": "PREDICTION", "name": "Predict"}, t)
            base = dip_home / "analysis-data" / key / aid / mid
            _write(base / "sessions" / "s1" / "session.json", {"sessionId": "s1", "splitId": "cur"}, t)
            for split in ("cur", "old"):
                _write(base / "splits" / ("%s_train.csv" % split), blob, t)
                _write(base / "splits" / ("%s.json" % split), {"id": split}, t)
    return dip_home, model


AFFECTED = ("saved_models", "analysis-data", "managed_datasets", "managed_folders", "jobs", "scenarios", "jupyter-run",
            "diagnosis")


def _du(dip_home):
    folders = [str(dip_home / f) for f in AFFECTED if (dip_home / f).exists()]
    os.sync()
    t0 = time.perf_counter()
    subprocess.run(["du", "-s", "-B1"] + folders, check=True, capture_output=True)
    return time.perf_counter() - t0


_IN_PROCESS = r"""
import json, sys, time
from nodeops import dssapi, runner
from nodeops.context import Context
from nodeops.dssapi import connection, models, projects
waited = [0.0, 0]
def timed(real):
    def call(*a, **kw):
        t0 = time.perf_counter()
        try:
            return real(*a, **kw)
        finally:
            waited[0] += time.perf_counter() - t0
            waited[1] += 1
    return call
models.call = timed(models.call)
projects.call = timed(projects.call)
from nodeops import reclaim
scanned = [0.0]
def scan(real):
    def method(*a, **kw):
        t0 = time.perf_counter()
        try:
            return real(*a, **kw)
        finally:
            scanned[0] += time.perf_counter() - t0
    return method
for name in ("_measure_versions", "_splits_bytes", "_orphans_in", "_diagnosis", "_pre_migration_backups"):
    setattr(reclaim._Reclaim, name, scan(getattr(reclaim._Reclaim, name)))
dip_home, url, key = sys.argv[1:4]
client = dssapi.connect(url, key)
ctx = Context(dip_home=dip_home, client=client, user="admin", is_admin=True, component="cli")
t0 = time.perf_counter()
report = runner.run_operation("reclaim-disk", ctx, {"dry_run": True})
total = time.perf_counter() - t0
print(json.dumps({"total": total, "api": waited[0], "calls": waited[1], "scan": scanned[0], "errors": report.errors,
                  "items": next(f.value for f in report.summary if f.key == "items")}))
"""


def _dry_in_process(dip_home, sim):
    out = subprocess.run([sys.executable, "-c", _IN_PROCESS, str(dip_home), sim.url, sim.api_key("admin")],
                         env=nodeops_cli.env(), capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError("reclaim-disk dry run failed: %s" % out.stderr[-2000:])
    return json.loads(out.stdout)


def _peak_rss(dip_home, sim):
    with tempfile.TemporaryDirectory() as tmp:
        hwm = os.path.join(tmp, "hwm")
        code = subprocess.call([sys.executable, str(HERE / "peak_rss.py"), hwm, "reclaim-disk", "--dip-home",
                                str(dip_home), "--url", sim.url, "--api-key", sim.api_key("admin"), "--format", "json"],
                               env=nodeops_cli.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if code not in (0, 1):
            raise RuntimeError("reclaim-disk failed (%d)" % code)
        return int(open(hwm).read())


def bench_reclaim(workdir):
    work = Path(workdir) / "bench_reclaim"
    shutil.rmtree(work, ignore_errors=True)
    results = []
    try:
        dip_home, model = build(work / "main")
        with DSSSimulator(dip_home, model) as sim:
            sim.hits.clear()
            run = _dry_in_process(dip_home, sim)
            calls = len(sim.hits)
            again = _dry_in_process(dip_home, sim)  # the best of two: the machine is shared
            if again["scan"] < run["scan"]:
                run = dict(again, calls=run["calls"])
        t_du = min(_du(dip_home) for _ in range(3))
        if run["errors"]:
            raise RuntimeError("reclaim-disk dry run reported errors: %s" % run["errors"][:3])
        models, tasks = PROJECTS * MODELS, PROJECTS * TASKS
        budget = models + tasks + 2 * PROJECTS + 3
        results.append({
            "name": "reclaim-disk dry run API calls, %d saved models x %d versions, %d ML tasks (%d items)"
                    % (models, VERSIONS, tasks, run["items"]),
            "seconds": calls, "baseline_seconds": budget, "ratio": round(calls / budget, 3), "unit": "calls",
            "target": "<= 1.0",
            "baseline": "one version listing per saved model + one per ML task + two listings per project + 3"})
        rest = run["total"] - run["api"] - run["scan"]
        results.append({
            "name": "reclaim-disk dry run, its scan of the affected folders (wall %.2f s: %.2f s waiting for %d API "
                    "calls, %.2f s planning and reporting)" % (run["total"], run["api"], run["calls"], rest),
            "seconds": round(run["scan"], 3), "baseline_seconds": round(t_du, 3),
            "ratio": round(run["scan"] / t_du, 3), "target": "<= 1.5",
            "baseline": "du -s -B1 of %s, same tree (best of 3)" % ", ".join(AFFECTED)})
        shutil.rmtree(work, ignore_errors=True)
        rss = []
        for versions in (10, 40):
            home, m = build(work / ("v%d" % versions), projects=50, versions=versions)
            with DSSSimulator(home, m) as sim:
                rss.append(_peak_rss(home, sim))
            shutil.rmtree(work / ("v%d" % versions), ignore_errors=True)
        results.append({
            "name": "reclaim-disk peak RSS, 500 saved models x 40 versions vs x 10 (dry run)",
            "seconds": round(rss[1] / 2 ** 20, 1), "baseline_seconds": round(rss[0] / 2 ** 20, 1),
            "ratio": round(rss[1] / rss[0], 3), "target": "<= 1.2", "unit": "MiB",
            "baseline": "peak RSS of the same dry run with 10 versions per saved model"})
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return results
