"""Projects, scenarios and their runs, jobs, futures (running scenarios)."""

import datetime as _dt
import json
import re

from . import guesses, normalise, scenario_runner
from .routing import HTTPError, Raw, route
from .state import NotFound

KEY_RE = re.compile(r"^[A-Z0-9_]+$")


# ---- projects -----------------------------------------------------------
def _project_item(call, key):
    p = call.state.project(key)
    users = {u["login"]: u for u in call.state.users_file()["users"]}
    owner = p.get("owner")
    item = {"projectKey": key, "name": p.get("name", key), "ownerLogin": owner,
            "ownerDisplayName": users.get(owner, {}).get("displayName", owner),
            "tags": p.get("tags", []), "shortDesc": p.get("shortDesc", "")}
    if call.arg_bool("includeLocation"):
        item["projectLocation"] = {"folderId": "ROOT"}
    return item


@route("GET", "/projects/")
def list_projects(call):
    keys = [k for k in call.state.project_keys() if call.state.can_read_project(call.login, k)]
    return [_project_item(call, k) for k in keys]


@route("POST", "/projects/")
def create_project(call):
    body = call.json or {}
    key = body.get("projectKey")
    if not key or not KEY_RE.match(key):
        raise HTTPError(400, "Invalid project key: %r" % key)
    if not call.is_admin:
        user = call.state.user(call.login) or {}
        if not any((call.state.group(g) or {}).get(guesses.GROUP_MAY_CREATE_PROJECTS) for g in user.get("groups", [])):
            raise HTTPError(403, "You may not create projects")
    if key in call.state.project_keys():
        raise HTTPError(409, "Project %s already exists" % key)
    now = call.state.clock()
    params = {"projectKey": key, "name": body.get("name", key), "owner": body.get("owner") or call.login,
              "shortDesc": body.get("description") or "", "tags": body.get("tags") or [],
              "permissions": normalise.permissions(body.get("permissions") or []),
              "settings": body.get("settings") or {},
              "creationTag": {"lastModifiedBy": {"login": call.login}, "lastModifiedOn": now}}
    call.state.save_project(key, params)
    return Raw("", "application/json")


@route("GET", "/projects/<key>")
def project_summary(call, key):
    call.require_project(key)
    return _project_item(call, key)


@route("GET", "/projects/<key>/settings")
def project_settings(call, key):
    call.require_project(key)
    return normalise.project_settings_view(call.state.project(key), key)


def _require_project_admin(call, key):
    p = call.state.project(key)
    if not (call.is_admin or p.get("owner") == call.login):
        raise HTTPError(403, "You may not administer project %s" % key)
    return p


@route("PUT", "/projects/<key>/settings")
def save_project_settings(call, key):
    call.require_project(key)
    p = _require_project_admin(call, key)
    call.state.save_project(key, normalise.project_settings(call.json or {}, p))
    return {}


@route("GET", "/projects/<key>/permissions")
def project_permissions(call, key):
    call.require_project(key)
    p = _require_project_admin(call, key)
    return {"owner": p.get("owner"), "permissions": normalise.permissions(p.get("permissions", []))}


@route("PUT", "/projects/<key>/permissions")
def save_project_permissions(call, key):
    call.require_project(key)
    p = _require_project_admin(call, key)
    body = call.json
    if not isinstance(body, dict) or not isinstance(body.get("permissions"), list):
        raise HTTPError(400, "Permissions must be {\"owner\": ..., \"permissions\": [...]}")
    owner = body.get("owner", p.get("owner"))
    if owner != p.get("owner") and call.state.user(owner) is None:
        raise HTTPError(400, "Unknown owner %r" % (owner,))
    p["owner"] = owner
    p["permissions"] = normalise.permissions(body["permissions"])
    call.state.save_project(key, p)
    return Raw("", "application/json")


# ---- scenarios ----------------------------------------------------------
def _running(run):
    return "result" not in run


def _scenario_item(call, key, scenario_id):
    s = call.state.scenario(key, scenario_id)
    runs = call.state.runs(key, scenario_id)
    running = [r for r in runs if _running(r)]
    return {"id": scenario_id, "name": s.get("name", scenario_id), "projectKey": key,
            "running": bool(running), "start": running[-1]["start"] if running else 0,
            "tags": s.get("tags", []), "active": s.get("active", False), "type": s.get("type", "step_based")}


@route("GET", "/projects/<key>/scenarios/")
def list_scenarios(call, key):
    call.require_project(key)
    return [_scenario_item(call, key, sid) for sid in call.state.scenario_ids(key)]


@route("POST", "/projects/<key>/scenarios/")
def create_scenario(call, key):
    call.require_project(key)
    body = call.json or {}
    name = body.get("name")
    if not name:
        raise HTTPError(400, "A scenario needs a name")
    stype = body.get("type", "step_based")
    if stype not in ("step_based", "custom_python"):
        raise HTTPError(400, "Unknown scenario type %s" % stype)
    existing = set(call.state.scenario_ids(key))
    base = re.sub(r"[^A-Za-z0-9_]", "", name.upper().replace(" ", "_")) or "SCENARIO"
    sid = base
    n = 1
    while sid in existing:
        n += 1
        sid = "%s_%d" % (base, n)
    params = body.get("params") or {}
    if stype == "step_based":
        params.setdefault("steps", [])
    data = {"projectKey": key, "id": sid, "name": name, "type": stype, "active": False, "triggers": [],
            "reporters": [], "params": params,
            "versionTag": {"versionNumber": 0, "lastModifiedBy": {"login": call.login},
                           "lastModifiedOn": call.state.clock()}}
    call.state.save_scenario(key, sid, normalise.scenario(data, call.state))
    return {"id": sid, "projectKey": key, "name": name}


@route("GET", "/projects/<key>/scenarios/<sid>")
def get_scenario(call, key, sid):
    call.require_project(key)
    return call.state.scenario(key, sid)


@route("PUT", "/projects/<key>/scenarios/<sid>")
def save_scenario(call, key, sid):
    call.require_project(key)
    old = call.state.scenario(key, sid)
    body = call.json
    if not isinstance(body, dict):
        raise HTTPError(400, "Scenario settings must be a JSON object")
    body = normalise.scenario(body, call.state)
    body["projectKey"], body["id"] = key, sid
    version = (old.get("versionTag") or {}).get("versionNumber", 0) + 1
    body["versionTag"] = {"versionNumber": version, "lastModifiedBy": {"login": call.login},
                          "lastModifiedOn": call.state.clock()}
    call.state.save_scenario(key, sid, body)
    return {"msg": "Saved"}


@route("DELETE", "/projects/<key>/scenarios/<sid>")
def delete_scenario(call, key, sid):
    call.require_project(key)
    call.state.delete_scenario(key, sid)
    return {}


@route("GET", "/projects/<key>/scenarios/<sid>/payload")
def scenario_payload(call, key, sid):
    call.require_project(key)
    call.state.scenario(key, sid)
    path = call.state.projects_dir() / key / "scenarios" / ("%s.py" % sid)
    return {"script": path.read_text() if path.is_file() else "", "extension": "py"}


@route("PUT", "/projects/<key>/scenarios/<sid>/payload")
def save_scenario_payload(call, key, sid):
    call.require_project(key)
    call.state.scenario(key, sid)
    body = call.json or {}
    call.state.write_bytes(call.state.projects_dir() / key / "scenarios" / ("%s.py" % sid),
                           body.get("script", "").encode("utf-8"))
    return {}


@route("GET", "/projects/<key>/scenarios/<sid>/light")
def scenario_status(call, key, sid):
    call.require_project(key)
    s = call.state.scenario(key, sid)
    item = _scenario_item(call, key, sid)
    return {"running": item["running"], "active": s.get("active", False), "nextRun": 0, "start": item["start"]}


def _run_id_for(ms):
    t = _dt.datetime.fromtimestamp(ms // 1000, _dt.timezone.utc)  # UTC, as the builder's IDs
    return t.strftime("%Y-%m-%d-%H-%M-%S-") + "%03d" % (ms % 1000)


@route("POST", "/projects/<key>/scenarios/<sid>/run")
def run_scenario(call, key, sid):
    call.require_project(key)
    s = call.state.scenario(key, sid)
    runs = call.state.runs(key, sid)
    if any(_running(r) for r in runs):
        raise HTTPError(400, "Scenario %s.%s is already running" % (key, sid))
    start = call.state.clock()
    trigger_run_id = "%s_%d" % (sid, start)
    run = {"runId": _run_id_for(start), "start": start, "end": 0,
           "scenario": {"projectKey": key, "id": sid, "name": s.get("name", sid)},
           "trigger": {"trigger": {"id": "manual", "type": "manual", "name": "API run"},
                       "triggerRunId": trigger_run_id, "params": call.json or {}},
           "runAsUser": {"realUserLogin": scenario_runner.run_as(s, call.login)}}
    runs.append(run)
    folder = call.state.dip_home / "scenarios" / key / sid / run["runId"]
    call.state.append_text(folder / "log.log", "[%s] Scenario run started by %s\n" % (run["runId"], call.login))
    scenario_runner.start(call.sim, key, sid, s, run)
    return {"trigger": {"id": "manual", "type": "manual"}, "runId": trigger_run_id, "cancelled": False,
            "projectKey": key, "scenarioId": sid}


def _find_trigger_run(call, key, sid, trigger_run_id):
    for r in call.state.runs(key, sid):
        if r.get("trigger", {}).get("triggerRunId") == trigger_run_id:
            return r
    return None


@route("GET", "/projects/<key>/scenarios/trigger/<sid>/<trigger_id>")
def trigger_fire(call, key, sid, trigger_id):
    call.require_project(key)
    call.state.scenario(key, sid)
    trigger_run_id = call.args.get("triggerRunId")
    if _find_trigger_run(call, key, sid, trigger_run_id) is None:
        raise NotFound("No trigger fire %s" % trigger_run_id)
    return {"trigger": {"id": trigger_id}, "runId": trigger_run_id, "cancelled": False}


@route("GET", "/projects/<key>/scenarios/<sid>/get-run-for-trigger")
def run_for_trigger(call, key, sid):
    call.require_project(key)
    call.state.scenario(key, sid)
    run = _find_trigger_run(call, key, sid, call.args.get("triggerRunId"))
    return {"scenarioRun": run} if run else {}


@route("POST", "/projects/<key>/scenarios/<sid>/abort")
def abort_scenario(call, key, sid):
    call.require_project(key)
    call.state.scenario(key, sid)
    now = call.state.clock()
    for r in call.state.runs(key, sid):
        if _running(r):
            r["end"] = now
            r["result"] = {"outcome": "ABORTED", "type": "SCENARIO_DONE"}
            scenario_runner.abort(call.state, key, sid, r, now)
    return {}


def _sorted_runs(call, key, sid):
    return sorted(call.state.runs(key, sid), key=lambda r: r["start"], reverse=True)


@route("GET", "/projects/<key>/scenarios/<sid>/get-last-runs")
def last_runs(call, key, sid):
    call.require_project(key)
    call.state.scenario(key, sid)
    limit = call.arg_int("limit", 10)
    runs = _sorted_runs(call, key, sid)
    if call.arg_bool("onlyFinishedRuns"):
        runs = [r for r in runs if not _running(r)]
    return runs[:limit]


def _parse_day(text, name):
    try:
        return _dt.datetime.strptime(text, "%Y-%m-%d")
    except (TypeError, ValueError):
        raise HTTPError(400, "Invalid %s: %r (expected YYYY-MM-DD)" % (name, text))


@route("GET", "/projects/<key>/scenarios/<sid>/get-runs-by-date")
def runs_by_date(call, key, sid):
    call.require_project(key)
    call.state.scenario(key, sid)
    start = _parse_day(call.args.get("fromDate"), "fromDate").timestamp() * 1000
    # toDate is exclusive (dataikuapi's get_runs_by_date docstring)
    end = _parse_day(call.args.get("toDate"), "toDate").timestamp() * 1000
    return [r for r in _sorted_runs(call, key, sid) if start <= r["start"] < end]


def _get_run(call, key, sid, run_id):
    call.require_project(key)
    call.state.scenario(key, sid)
    for r in call.state.runs(key, sid):
        if r["runId"] == run_id:
            return r
    raise NotFound("Scenario run %s.%s.%s does not exist" % (key, sid, run_id))


@route("GET", "/projects/<key>/scenarios/<sid>/<run_id>/")
def run_details(call, key, sid, run_id):
    run = _get_run(call, key, sid, run_id)
    executed = call.state.step_runs.get((key, sid, run_id))
    if executed is not None:  # a run the scenario runner made
        return {"scenarioRun": run, "stepRuns": [dict(r) for r in executed]}
    step = {"step": {"id": "step_1", "type": "build_flowitem", "name": "Step #1"},
            "start": run["start"], "end": run.get("end", 0), "additionalReportItems": []}
    if not _running(run):
        step["result"] = {"outcome": run["result"]["outcome"], "type": "STEP_DONE"}
    return {"scenarioRun": run, "stepRuns": [step]}


@route("GET", "/projects/<key>/scenarios/<sid>/<run_id>/log")
def run_log(call, key, sid, run_id):
    _get_run(call, key, sid, run_id)
    folder = call.state.dip_home / "scenarios" / key / sid / run_id
    texts = []
    if folder.is_dir():
        for p in sorted(folder.rglob("*.log")):
            texts.append(p.read_text(errors="replace"))
    return Raw("".join(texts))


# ---- jobs ---------------------------------------------------------------
def _jobs(call, key):
    jobs = list(call.state.model["jobs"].get(key, []))
    jobs.sort(key=lambda j: j["def"]["initiationTimestamp"], reverse=guesses.JOBS_NEWEST_FIRST)
    return jobs


@route("GET", "/projects/<key>/jobs/")
def list_jobs(call, key):
    call.require_project(key)
    return _jobs(call, key)


@route("GET", "/projects/<key>/jobs/running/", since="jobs.running")
def list_project_running_jobs(call, key):
    call.require_project(key)
    return [j for j in _jobs(call, key) if not j["stableState"]]


@route("GET", "/jobs/running/", since="jobs.running")
def list_running_jobs(call):
    all_users = call.arg_bool("allUsers")
    out = []
    for key in call.state.project_keys():
        if not call.state.can_read_project(call.login, key):
            continue
        for j in _jobs(call, key):
            if j["stableState"]:
                continue
            if (all_users and call.is_admin) or j["def"].get("initiator") == call.login:
                out.append(j)
    return out


def _job(call, key, job_id):
    call.require_project(key)
    for j in call.state.model["jobs"].get(key, []):
        if j["def"]["id"] == job_id:
            return j
    raise NotFound("Job %s.%s does not exist" % (key, job_id))


@route("GET", "/projects/<key>/jobs/<job_id>/")
def job_status(call, key, job_id):
    j = _job(call, key, job_id)
    return {"baseStatus": j, "globalState": {"done": 0, "failed": 0, "running": 0 if j["stableState"] else 1}}


@route("POST", "/projects/<key>/jobs/<job_id>/abort")
def abort_job(call, key, job_id):
    j = _job(call, key, job_id)
    if not j["stableState"]:
        j["state"] = "ABORTED"
        j["stableState"] = True
        j["endTime"] = call.state.clock()
    return {}


@route("GET", "/projects/<key>/jobs/<job_id>/log")
def job_log(call, key, job_id):
    _job(call, key, job_id)
    folder = call.state.dip_home / "jobs" / key / job_id
    activity = call.args.get("activity")
    path = folder / "activities" / activity / "log.log" if activity else folder / "output.log"
    if activity and not path.is_file():
        candidates = sorted((folder / "activities" / activity).glob("*")) if (folder / "activities" / activity).is_dir() else []
        path = candidates[0] if candidates else path
    if not path.is_file():
        raise NotFound("No log for job %s.%s" % (key, job_id))
    return Raw(path.read_text(errors="replace"))


# ---- futures: running scenarios (and other long tasks) -----------------------
def _scenario_futures(call, all_users):
    out = []
    for key, by_scenario in call.state.model["scenario_runs"].items():
        for sid, runs in by_scenario.items():
            for r in runs:
                if not _running(r):
                    continue
                owner = (r.get("runAsUser") or {}).get("realUserLogin", "admin")
                if not (all_users and call.is_admin) and owner != call.login:
                    continue
                now = call.state.clock()
                out.append({"jobId": "scenario_%s_%s_%s" % (key, sid, r["runId"]), "alive": True,
                            "runningTime": now - r["start"], "startTime": r["start"], "hasResult": False,
                            "owner": owner, "jobDisplayName": "Scenario %s" % r["scenario"]["name"],
                            "payload": {"type": "scenario", "targets": [{"projectKey": key, "objectId": sid}]}})
    return out


@route("GET", "/futures/")
def list_futures(call):
    out = []
    if call.arg_bool("withScenarios"):
        out += _scenario_futures(call, call.arg_bool("allUsers"))
    if call.arg_bool("withNotScenarios"):
        for run_id, run in call.state.macro_runs.items():
            if run["running"] and (run["login"] == call.login or (call.is_admin and call.arg_bool("allUsers"))):
                out.append({"jobId": run_id, "alive": True, "runningTime": call.state.clock() - run["start"],
                            "startTime": run["start"], "hasResult": False, "owner": run["login"],
                            "payload": {"type": "runnable", "targets": []}})
    return out


def _find_future(call, future_id):
    for f in _scenario_futures(call, True):
        if f["jobId"] == future_id:
            return f
    raise NotFound("Future %s does not exist" % future_id)


@route("GET", "/futures/<future_id>")
def future_state(call, future_id):
    return _find_future(call, future_id)


@route("DELETE", "/futures/<future_id>")
def abort_future(call, future_id):
    f = _find_future(call, future_id)
    target = f["payload"]["targets"][0]
    if f["owner"] != call.login and not call.is_admin:
        raise HTTPError(403, "You may not abort this future")
    abort_scenario(call, target["projectKey"], target["objectId"])
    return Raw("")


# ---- project variables (config/projects/<KEY>/variables.json) ---------------------------------
@route("GET", "/projects/<key>/variables/")
def get_variables(call, key):
    call.require_project(key)
    path = call.state.projects_dir() / key / "variables.json"
    if not path.is_file():
        return {"standard": {}, "local": {}}
    with open(path, encoding="utf-8") as f:
        return json.load(f)


@route("PUT", "/projects/<key>/variables/")
def set_variables(call, key):
    call.require_project(key)
    body = call.json
    if not isinstance(body, dict) or not isinstance(body.get("standard", {}), dict) \
            or not isinstance(body.get("local", {}), dict):
        raise HTTPError(400, "Variables must be {\"standard\": {...}, \"local\": {...}}")
    call.state.write_json(call.state.projects_dir() / key / "variables.json",
                          {"standard": body.get("standard", {}), "local": body.get("local", {})})
    return Raw("", "application/json")
