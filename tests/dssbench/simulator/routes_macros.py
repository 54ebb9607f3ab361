"""Macros (runnables of installed plugins), dashboards and insights."""

import base64
import json
import os
import threading
import time
from pathlib import Path

from . import normalise
from .routing import HTTPError, Raw, route
from .state import NotFound


# ---- macros ---------------------------------------------------------------
def _runnables(call):
    """(runnableType, plugin id, runnable id, folder) of every installed plugin macro."""
    out = []
    for plugin_id, plugin_dir in sorted(call.sim.plugins.items()):
        base = Path(plugin_dir) / "python-runnables"
        if base.is_dir():
            for d in sorted(base.iterdir()):
                if (d / "runnable.json").is_file():
                    out.append(("pyrunnable_%s_%s" % (plugin_id, d.name), plugin_id, d.name, d))
    return out


def _runnable(call, runnable_type):
    for item in _runnables(call):
        if item[0] == runnable_type:
            return item
    raise NotFound("Macro %s does not exist" % runnable_type)


def _definition(folder):
    with open(folder / "runnable.json", encoding="utf-8") as f:
        return json.load(f)


@route("GET", "/projects/<key>/runnables/")
def list_macros(call, key):
    call.require_project(key)
    out = []
    for rtype, plugin_id, _, folder in _runnables(call):
        d = _definition(folder)
        if d.get("requiresGlobalAdmin") and not call.is_admin:
            continue
        out.append({"runnableType": rtype, "ownerPluginId": plugin_id, "meta": d.get("meta", {}),
                    "resultType": d.get("resultType", "NONE")})
    return out


@route("GET", "/projects/<key>/runnables/<runnable_type>")
def macro_definition(call, key, runnable_type):
    call.require_project(key)
    _, plugin_id, runnable_id, folder = _runnable(call, runnable_type)
    d = _definition(folder)
    d.update({"runnableType": runnable_type, "ownerPluginId": plugin_id, "id": runnable_id})
    return d


def installed_plugin_config(sim, plugin_dir):
    """The plugin_config DSS hands the macros of the plugin installed from ``plugin_dir``: its saved
    settings, flat (guesses.PLUGIN_SETTINGS_FIELDS)."""
    for plugin_id, folder in sim.plugins.items():
        if Path(folder) == Path(plugin_dir).resolve():
            return sim.state.plugin_config(plugin_id)
    return {}


def execute_macro(sim, plugin_dir, runnable_id, definition, key, config, login):
    """Run a macro's process as DSS does: under User Isolation as the uid its ``impersonate`` gives,
    with the plugin's settings as plugin_config."""
    from dssbench import harness

    iso = sim.user_isolation
    account = iso.macro_account(definition) if iso else None
    started = time.time()
    outcome = harness.run_macro_process(plugin_dir, runnable_id, key, config, installed_plugin_config(sim, plugin_dir),
                                        sim.url, sim.issue_ticket(login), sim.state.dip_home, isolation=iso,
                                        account=account)
    with sim.state.lock:
        sim.executions.append({"kind": "macro", "id": runnable_id, "login": login, "config": dict(config),
                               "uid": account.uid if account else os.geteuid(), "outcome": outcome,
                               "seconds": time.time() - started})
    return outcome


def _execute(sim, run, plugin_dir, runnable_id, key, config, definition):
    outcome = execute_macro(sim, plugin_dir, runnable_id, definition, key, config, run["login"])
    with sim.state.lock:
        run["running"] = False
        run["outcome"] = outcome


@route("POST", "/projects/<key>/runnables/<runnable_type>", locked=False)
def run_macro(call, key, runnable_type):
    with call.state.lock:
        call.require_project(key)
        _, plugin_id, runnable_id, folder = _runnable(call, runnable_type)
        d = _definition(folder)
        if d.get("requiresGlobalAdmin") and not call.is_admin:
            raise HTTPError(403, "Macro %s requires a DSS administrator" % runnable_type)
        body = call.json or {}
        config = dict(body.get("params") or {})
        config.update(body.get("adminParams") or {})
        run_id = call.state.new_id(call.state.macro_runs, 12)
        run = {"runId": run_id, "login": call.login, "running": True, "start": call.state.clock(),
               "resultType": d.get("resultType", "NONE"), "outcome": None}
        call.state.macro_runs[run_id] = run
    plugin_dir = folder.parent.parent
    if call.arg_bool("wait"):
        _execute(call.sim, run, plugin_dir, runnable_id, key, config, d)
    else:
        threading.Thread(target=_execute, args=(call.sim, run, plugin_dir, runnable_id, key, config, d),
                         daemon=True).start()
    return {"runId": run_id}


def _macro_run(call, run_id):
    run = call.state.macro_runs.get(run_id)
    if run is None or (run["login"] != call.login and not call.is_admin):
        raise NotFound("Macro run %s does not exist" % run_id)
    return run


@route("GET", "/projects/<key>/runnables/<runnable_type>/state/<run_id>")
def macro_state(call, key, runnable_type, run_id):
    run = _macro_run(call, run_id)
    state = {"runId": run_id, "running": run["running"], "hasResult": not run["running"]}
    if not run["running"] and run["outcome"].error:
        # guesses.MACRO_STATE_EXCEPTION: what the macro's Python side sends DSS
        state["exception"] = {"errorType": "<class '%s'>" % run["outcome"].error_class,
                              "message": run["outcome"].error}
    return state


@route("GET", "/projects/<key>/runnables/<runnable_type>/result/<run_id>")
def macro_result(call, key, runnable_type, run_id):
    run = _macro_run(call, run_id)
    if run["running"]:
        raise HTTPError(400, "Macro run %s is still running" % run_id)
    del call.state.macro_runs[run_id]  # once fetched, the run no longer exists
    outcome = run["outcome"]
    if outcome.error:
        raise HTTPError(500, outcome.error, "com.dataiku.dip.exceptions.ExternalProcessFailedException")
    if isinstance(outcome.result, str):
        ctype = "text/html; charset=utf-8" if run["resultType"] == "HTML" else "text/plain; charset=utf-8"
        return Raw(outcome.result, ctype)
    return Raw(json.dumps(outcome.result), "application/json")


@route("POST", "/projects/<key>/runnables/<runnable_type>/abort/<run_id>")
def macro_abort(call, key, runnable_type, run_id):
    _macro_run(call, run_id)
    return Raw("")


# ---- dashboards -------------------------------------------------------------
def _tiles(d):
    return sum(len(p.get("grid", {}).get("tiles", p.get("tiles", []))) for p in d.get("pages", []))


@route("GET", "/projects/<key>/dashboards/", since="dashboards")
def list_dashboards(call, key):
    call.require_project(key)
    return [{"id": d["id"], "projectKey": key, "name": d.get("name"), "listed": d.get("listed", False),
             "owner": d.get("owner"), "numPages": len(d.get("pages", [])), "numTiles": _tiles(d),
             "tags": d.get("tags", [])} for d in call.state.list_objects(key, "dashboards")]


@route("POST", "/projects/<key>/dashboards/", since="dashboards")
def create_dashboard(call, key):
    call.require_project(key)
    body = call.json or {}
    if not body.get("name"):
        raise HTTPError(400, "A dashboard needs a name")
    existing = {d["id"] for d in call.state.list_objects(key, "dashboards")}
    body = normalise.dashboard(body, call.state, key)
    body.update({"id": call.state.new_id(existing), "projectKey": key, "owner": call.login})
    call.state.save_object(key, "dashboards", body["id"], body)
    return {"id": body["id"]}


@route("GET", "/projects/<key>/dashboards/<dashboard_id>/", since="dashboards")
def get_dashboard(call, key, dashboard_id):
    call.require_project(key)
    return call.state.get_object(key, "dashboards", dashboard_id)


@route("PUT", "/projects/<key>/dashboards/<dashboard_id>/", since="dashboards")
def save_dashboard(call, key, dashboard_id):
    call.require_project(key)
    old = call.state.get_object(key, "dashboards", dashboard_id)
    body = normalise.dashboard(call.json or {}, call.state, key)
    body.update({"id": dashboard_id, "projectKey": key, "owner": body.get("owner", old.get("owner"))})
    call.state.save_object(key, "dashboards", dashboard_id, body)
    return body


@route("DELETE", "/projects/<key>/dashboards/<dashboard_id>/", since="dashboards")
def delete_dashboard(call, key, dashboard_id):
    call.require_project(key)
    call.state.delete_object(key, "dashboards", dashboard_id)
    return Raw("")


# ---- insights -----------------------------------------------------------------
@route("GET", "/projects/<key>/insights/", since="dashboards")
def list_insights(call, key):
    call.require_project(key)
    return [{"id": i["id"], "projectKey": key, "name": i.get("name"), "type": i.get("type"),
             "listed": i.get("listed", False), "owner": i.get("owner"), "tags": i.get("tags", [])}
            for i in call.state.list_objects(key, "insights")]


@route("POST", "/projects/<key>/insights/", since="dashboards")
def create_insight(call, key):
    call.require_project(key)
    proto = (call.json or {}).get("insightPrototype")
    if not isinstance(proto, dict) or not proto.get("type"):
        raise HTTPError(400, "insightPrototype with a type is required")
    existing = {i["id"] for i in call.state.list_objects(key, "insights")}
    insight = normalise.insight(proto)
    insight.update({"id": call.state.new_id(existing), "projectKey": key, "owner": call.login})
    insight.setdefault("name", insight["type"])
    call.state.save_object(key, "insights", insight["id"], insight)
    return {"id": insight["id"]}


@route("GET", "/projects/<key>/insights/<insight_id>/", since="dashboards")
def get_insight(call, key, insight_id):
    call.require_project(key)
    return call.state.get_object(key, "insights", insight_id)


@route("POST", "/projects/<key>/insights/<insight_id>/", since="dashboards")
def save_insight(call, key, insight_id):
    call.require_project(key)
    old = call.state.get_object(key, "insights", insight_id)
    insight = normalise.insight((call.json or {}).get("insight") or {})
    insight.update({"id": insight_id, "projectKey": key, "owner": insight.get("owner", old.get("owner"))})
    call.state.save_object(key, "insights", insight_id, insight)
    return insight


@route("DELETE", "/projects/<key>/insights/<insight_id>/", since="dashboards")
def delete_insight(call, key, insight_id):
    call.require_project(key)
    call.state.delete_object(key, "insights", insight_id)
    return Raw("")


# ---- static insights: what dataiku.insights.save_data posts to the backend ------------------------
@route("POST", "/tintercom/insights/save-static-file-insight")
def save_static_file_insight(call):
    """``dataiku.insights.save_data(id, payload, content_type, label, project_key)`` (KIT
    ``insights/__init__.py``): form fields projectKey, id, payload (base64), contentType, label;
    replaces an insight with the same id."""
    form = call.request.form
    key, insight_id = form.get("projectKey"), form.get("id")
    call.require_project(key)
    if not insight_id:
        raise HTTPError(400, "A static insight needs an id")
    try:
        payload = base64.b64decode(form.get("payload") or "", validate=True)
    except ValueError:
        raise HTTPError(400, "The payload of a static insight must be base64")
    try:
        old = call.state.get_object(key, "insights", insight_id)
    except NotFound:
        old = {"owner": call.login}
    insight = normalise.insight({"type": "static_file", "name": form.get("label") or insight_id,
                                 "params": {"contentType": form.get("contentType") or ""},
                                 "owner": old.get("owner"), "listed": old.get("listed", False),
                                 "tags": old.get("tags", [])})
    insight.update({"id": insight_id, "projectKey": key})
    call.state.save_object(key, "insights", insight_id, insight)
    call.state.insight_data[(key, insight_id)] = payload
    return Raw("")
