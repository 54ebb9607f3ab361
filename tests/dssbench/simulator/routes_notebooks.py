"""Jupyter notebooks and their sessions: the per-project API (DSS 9+) and the
older instance-wide one that DSS's own "Kill Jupyter sessions" macro uses.

Each session's kernel is a real process (see kernels.py); its PID is what the
session reports, and unloading the session ends the process.
"""

from . import guesses
from .routing import HTTPError, route
from .state import NotFound

SESSION_FIELDS = ("sessionId", "kernelId", "kernelExecutionState", "kernelConnections", "kernelLastActivityTime",
                  "sessionStartTime", "sessionCreator", "sessionCreatorDisplayName", "sessionUnixOwner")


def _notebooks(call, key):
    return call.state.model["notebooks"].get(key, [])


def _notebook(call, key, name):
    for nb in _notebooks(call, key):
        if nb["name"] == name:
            return nb
    raise NotFound("Notebook %s.%s does not exist" % (key, name))


def _session_dict(call, key, nb, s):
    d = {f: s[f] for f in SESSION_FIELDS if f in s}
    d["projectKey"] = key
    d["notebookName"] = nb["name"]
    kernel = call.state.kernels.get(s["sessionId"])
    d["kernelPid"] = kernel.pid if kernel is not None else s.get("kernelPid", 0)
    return d


def _visible_sessions(call, key, nb):
    # Non-administrators see their own sessions only (assumption).
    return [s for s in nb.get("sessions", []) if call.is_admin or s.get("sessionCreator") == call.login]


def _unload(call, key, nb, session_id):
    for s in list(nb.get("sessions", [])):
        if s["sessionId"] == session_id:
            if not call.is_admin and s.get("sessionCreator") != call.login:
                raise HTTPError(403, "You may not unload another user's notebook session")
            kernel = call.state.kernels.pop(session_id, None)
            if kernel is not None:
                kernel.stop()
            nb["sessions"].remove(s)
            return dict(guesses.UNLOAD_RESPONSE)
    raise NotFound("Session %s of notebook %s.%s does not exist" % (session_id, key, nb["name"]))


# ---- new API ------------------------------------------------------------
@route("GET", "/projects/<key>/jupyter-notebooks/", since="jupyter.new_api")
def list_jupyter_notebooks(call, key):
    call.require_project(key)
    active = call.arg_bool("active")
    out = []
    for nb in _notebooks(call, key):
        if active and not nb.get("sessions"):
            continue
        out.append({"projectKey": key, "name": nb["name"], "language": nb.get("language", "python"),
                    "kernelSpec": nb.get("kernelSpec", {}), "tags": nb.get("tags", [])})
    return out


@route("GET", "/projects/<key>/jupyter-notebooks/<name>/sessions", since="jupyter.new_api")
def notebook_sessions(call, key, name):
    call.require_project(key)
    nb = _notebook(call, key, name)
    return [_session_dict(call, key, nb, s) for s in _visible_sessions(call, key, nb)]


@route("DELETE", "/projects/<key>/jupyter-notebooks/<name>/sessions/<session_id>", since="jupyter.new_api")
def unload_session(call, key, name, session_id):
    call.require_project(key)
    return _unload(call, key, _notebook(call, key, name), session_id)


# ---- old, instance-wide API ------------------------------------------------
@route("GET", "/admin/notebooks/", admin=True)
def list_running_notebooks(call):
    out = []
    for key in sorted(call.state.model["notebooks"]):
        for nb in _notebooks(call, key):
            if nb.get("sessions"):
                out.append({"projectKey": key, "name": nb["name"], "language": nb.get("language", "python"),
                            "activeSessions": [_session_dict(call, key, nb, s) for s in nb["sessions"]]})
    return out


@route("GET", "/projects/<key>/notebooks/")
def notebook_state(call, key):
    call.require_project(key)
    nb = _notebook(call, key, call.args.get("notebookName"))
    return {"projectKey": key, "name": nb["name"], "language": nb.get("language", "python"),
            "activeSessions": [_session_dict(call, key, nb, s) for s in _visible_sessions(call, key, nb)]}


@route("DELETE", "/projects/<key>/notebooks/")
def unload_notebook_old(call, key):
    call.require_project(key)
    nb = _notebook(call, key, call.args.get("notebookName"))
    return _unload(call, key, nb, call.args.get("sessionId"))


@route("GET", "/projects/<key>/notebooks/active")
def project_active_notebooks(call, key):
    call.require_project(key)
    out = []
    for nb in _notebooks(call, key):
        sessions = _visible_sessions(call, key, nb)
        if sessions:
            out.append({"projectKey": key, "name": nb["name"], "language": nb.get("language", "python"),
                        "activeSessions": [_session_dict(call, key, nb, s) for s in sessions]})
    return out
