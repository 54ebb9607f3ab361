"""Jobs and scenarios: what is running, and which scenario runs failed."""

import requests

from ..errors import Unavailable
from .connection import DataikuException, call, unreachable
from .projects import project_keys


def running_job_ids(client, project_key):
    """IDs of the jobs of a project that are not finished (``stableState`` false).

    ``list_jobs`` exists in every client and server; the 15.2-only running-jobs
    endpoints would not save a call per project.
    """
    jobs = call("listing the jobs of project %s" % project_key, client.get_project(project_key).list_jobs)
    out = set()
    for j in jobs:
        if not j.get("stableState", True):
            out.add(j.get("jobId") or j["def"]["id"])
    return out


def running_scenarios(client, project_key):
    """{scenario id: start of its current run (epoch ms)} for the running scenarios of a project."""
    items = call("listing the scenarios of project %s" % project_key, client.get_project(project_key).list_scenarios)
    return {item["id"]: int(item.get("start") or 0) for item in items if item.get("running")}


def running_jobs_by_project(client):
    """{project key: running job IDs} for the whole instance in one call, or None.

    Uses ``DSSClient.list_running_jobs`` (client and DSS 15.2+). None when the
    client lacks it or DSS refuses it (an older DSS): callers then ask project
    by project with :func:`running_job_ids`. A DSS that cannot be reached raises
    Unavailable.
    """
    if not hasattr(client, "list_running_jobs"):
        return None
    try:
        items = client.list_running_jobs(all_users=True)
    except requests.exceptions.RequestException as e:
        raise Unavailable(unreachable("listing running jobs", e)) from e
    except DataikuException:
        return None
    out = {}
    for j in items:
        d = j.get("def", {})
        out.setdefault(d.get("projectKey"), set()).add(j.get("jobId") or d["id"])
    return out


def running_jobs(client, keys):
    """Raw dicts of the jobs running now: one instance-wide call where DSS offers it,
    else one ``list_jobs`` per project."""
    if hasattr(client, "list_running_jobs"):
        try:
            items = client.list_running_jobs(all_users=True)
            return [dict(j) for j in items]
        except requests.exceptions.RequestException as e:
            raise Unavailable(unreachable("listing running jobs", e)) from e
        except DataikuException:
            pass  # an older DSS: per project
    out = []
    for key in keys:
        jobs = call("listing the jobs of project %s" % key, client.get_project(key).list_jobs)
        out += [j for j in jobs if not j.get("stableState", True)]
    return out


def running_scenario_count(client):
    return len(call("listing running scenarios", client.list_running_scenarios, all_users=True))


def failed_scenario_runs(client, since_ms):
    """[(project, scenario, run start)] of the scenario runs that failed since ``since_ms``,
    over the active scenarios of every project."""
    import datetime as _dt

    since = _dt.datetime.fromtimestamp(since_ms / 1000.0)
    until = _dt.datetime.now() + _dt.timedelta(days=1)
    out = []
    for key in sorted(project_keys(client)):
        project = client.get_project(key)
        for item in call("listing the scenarios of %s" % key, project.list_scenarios):
            if not item.get("active"):
                continue
            runs = call("reading the runs of %s.%s" % (key, item["id"]),
                         project.get_scenario(item["id"]).get_runs_by_date, since, until)
            for run in runs:
                data = run.run if hasattr(run, "run") else run
                outcome = (data.get("result") or {}).get("outcome")
                if outcome == "FAILED" and int(data.get("start") or 0) >= since_ms:
                    out.append((key, item["id"], data.get("start")))
    return out
