"""Benchmark: the DATA_DIR builder on 100k job folders, against a bare-loop baseline.

``bench_datadir(workdir, cleanup=True)`` is imported by the bench runner.  Both trees
are built under ``workdir`` (which must be writable) and removed afterwards unless
``cleanup`` is false (removing ~350k entries can take longer than building them on a
slow disk).  ``os.sync()``
runs (untimed) before each timed part so that one part's write-back does not land
in the other's time.  Times depend heavily on the filesystem: compare the ratio.
"""

import os
import shutil
import time

from dssbench.datadir import build_datadir, scale_spec

JOB_FOLDERS = 100000


def _folders_per_project(spec):
    """{project key: job folders} as scale_spec lays them out (orphans included)."""
    out = {}
    for p in spec["projects"]:
        j = p.get("jobs") or {}
        out[p["key"]] = j.get("count", 0) + j.get("folder_only", 0)
    for o in spec.get("orphan_projects") or []:
        out[o["key"]] = out.get(o["key"], 0) + o.get("jobs", 0)
    return out


def _baseline(root, per_project):
    """Same number of job folders, same project split, one empty output.log each."""
    jobs = os.path.join(root, "jobs")
    for key, n in per_project.items():
        base = os.path.join(jobs, key)
        os.makedirs(base)
        for i in range(n):
            d = "%s/Build_dataset_%07d" % (base, i)
            os.makedirs(d)
            open(d + "/output.log", "w").close()


def bench_datadir(workdir, cleanup=True):
    workdir = os.fspath(workdir)
    spec = scale_spec(JOB_FOLDERS, seed=1, now="2026-11-25T12:00:00")
    per_project = _folders_per_project(spec)
    assert sum(per_project.values()) == JOB_FOLDERS
    base_root = os.path.join(workdir, "bench_datadir_baseline")
    dip_home = os.path.join(workdir, "bench_datadir_dss", "dss_data")
    for p in (base_root, os.path.dirname(dip_home)):
        shutil.rmtree(p, ignore_errors=True)
    os.makedirs(os.path.dirname(dip_home))
    try:
        os.sync()
        t0 = time.perf_counter()
        _baseline(base_root, per_project)
        t_base = time.perf_counter() - t0

        os.sync()
        t0 = time.perf_counter()
        model = build_datadir(spec, dip_home)
        t_builder = time.perf_counter() - t0
    finally:
        if cleanup:
            shutil.rmtree(base_root, ignore_errors=True)
            shutil.rmtree(os.path.dirname(dip_home), ignore_errors=True)
    return {
        "name": "datadir builder, 100k job folders",
        "seconds": round(t_builder, 3),
        "baseline_seconds": round(t_base, 3),
        "ratio": round(t_builder / t_base, 3) if t_base > 0 else None,
        "baseline": ("bare loop: os.makedirs + open/close of one empty output.log for each of the "
                     "%d job folders, split over the same %d project folders as scale_spec; the "
                     "builder also writes activities/<id>/log.log, log contents, mtimes, "
                     "scenario runs, config and the rest of DIP_HOME (%d files, %.0f MB)"
                     % (JOB_FOLDERS, len(per_project), model["disk"]["files"],
                        model["disk"]["bytes"] / 1e6)),
    }
