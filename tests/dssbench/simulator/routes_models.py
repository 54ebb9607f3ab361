"""Saved models and their versions, ML tasks and their split data, disk-backed.

Paths, methods and bodies as dataikuapi 12.6.4 and 15.2.0 send them (dss/project.py
list_saved_models, list_ml_tasks; dss/savedmodel.py list_versions, delete_versions; dss/ml.py
remove_unused_splits). State on disk, as the builder writes it:

- ``config/projects/<KEY>/saved_models/<SM>.json`` (``activeVersion``; shape guessed),
  ``saved_models/<KEY>/<SM>/versions/<V>/`` (one folder per version, with
  guesses.SAVED_MODEL_TRAIN_INFO_FILE);
- ``config/projects/<KEY>/analysis/<A>/core_params.json`` and ``.../ml/<M>/params.json``,
  ``analysis-data/<KEY>/<A>/<M>/{sessions,splits}``.

Deleting versions removes their folders (as DSS does); the active version is never deleted
(guesses.DELETE_ACTIVE_VERSION_ERROR). removeUnusedSplits deletes the split files no session
uses (guesses.SPLIT_IN_USE_FIELD).
"""

import json
import os
import shutil

from . import guesses
from .routing import HTTPError, route
from .state import NotFound


def _read(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _require_write(call, key):
    """An administrator, the owner, or a user/group with a write flag on the project."""
    call.require_project(key)
    if call.is_admin:
        return
    p = call.state.project(key)
    if p.get("owner") == call.login:
        return
    groups = set((call.state.user(call.login) or {}).get("groups", []))
    for perm in p.get("permissions", []):
        if perm.get("user") == call.login or perm.get("group") in groups:
            if any(perm.get(flag) for flag in guesses.PROJECT_WRITE_FLAGS):
                return
    raise HTTPError(403, "You may not write project %s" % key)


# ---- saved models -------------------------------------------------------------------------
def _sm_configs_dir(call, key):
    return call.state.projects_dir() / key / "saved_models"


def _sm_config(call, key, sm_id):
    path = _sm_configs_dir(call, key) / ("%s.json" % sm_id)
    if "/" in sm_id or sm_id in (".", "..") or not path.is_file():
        raise NotFound("Saved model %s.%s does not exist" % (key, sm_id))
    return _read(path)


def _versions_dir(call, key, sm_id):
    return call.state.dip_home / "saved_models" / key / sm_id / "versions"


def _version_ids(call, key, sm_id):
    d = _versions_dir(call, key, sm_id)
    if not d.is_dir():
        return []
    return sorted(e.name for e in os.scandir(d) if e.is_dir(follow_symlinks=False))


def _snippet(vdir):
    try:
        info = _read(vdir / guesses.SAVED_MODEL_TRAIN_INFO_FILE)
    except (FileNotFoundError, ValueError):
        return {}
    train_info = {k: info[k] for k in ("startTime", "endTime") if isinstance(info.get(k), int)}
    out = {"trainInfo": train_info}
    if "startTime" in train_info:
        out["trainDate"] = train_info["startTime"]
    return out


@route("GET", "/projects/<key>/savedmodels/")
def list_saved_models(call, key):
    call.require_project(key)
    # 15.2 sends foreign=False|True (shared models of other projects): the bench shares none.
    call.arg_bool("foreign")
    d = _sm_configs_dir(call, key)
    out = []
    if d.is_dir():
        for p in sorted(d.glob("*.json")):
            c = _read(p)
            out.append({k: c[k] for k in guesses.SAVED_MODEL_ITEM_FIELDS if k in c})
    return out


@route("GET", "/projects/<key>/savedmodels/<sm_id>/versions")
def list_versions(call, key, sm_id):
    call.require_project(key)
    active = _sm_config(call, key, sm_id).get("activeVersion")
    out = []
    for vid in _version_ids(call, key, sm_id):
        item = {"id": vid, "active": vid == active}
        snippet = _snippet(_versions_dir(call, key, sm_id) / vid)
        if snippet:
            item["snippet"] = snippet
        out.append(item)
    return out


@route("POST", "/projects/<key>/savedmodels/<sm_id>/actions/delete-versions")
def delete_versions(call, key, sm_id):
    _require_write(call, key)
    config = _sm_config(call, key, sm_id)
    body = call.json
    if not isinstance(body, dict) or not isinstance(body.get("versions"), list) \
            or not all(isinstance(v, str) for v in body["versions"]):
        raise HTTPError(400, "delete-versions needs {\"versions\": [version ids], \"removeIntermediate\": bool}")
    if not isinstance(body.get("removeIntermediate", True), bool):
        raise HTTPError(400, "removeIntermediate must be a boolean")
    wanted = list(dict.fromkeys(body["versions"]))
    existing = set(_version_ids(call, key, sm_id))
    active = config.get("activeVersion")
    if active in wanted:
        status, error_type = guesses.DELETE_ACTIVE_VERSION_ERROR
        raise HTTPError(status, "Cannot delete version %s of saved model %s.%s: it is the active version"
                        % (active, key, sm_id), error_type)
    missing = [v for v in wanted if v not in existing]
    if missing and guesses.DELETE_UNKNOWN_VERSION_REFUSED:
        raise NotFound("Saved model %s.%s has no version %s" % (key, sm_id, ", ".join(missing)))
    base = _versions_dir(call, key, sm_id)
    for vid in wanted:
        if vid in existing:
            shutil.rmtree(base / vid)
    return {}


# ---- ML tasks ---------------------------------------------------------------------------
def _analysis_dir(call, key):
    return call.state.projects_dir() / key / "analysis"


def _task_item(call, key, aid, mid):
    core = {}
    try:
        core = _read(_analysis_dir(call, key) / aid / "core_params.json")
    except (FileNotFoundError, ValueError):
        pass
    params = _read(_analysis_dir(call, key) / aid / "ml" / mid / "params.json")
    values = {"analysisId": aid, "mlTaskId": mid, "name": params.get("name"),
              "taskType": params.get("taskType"), "inputDataset": core.get("inputDatasetSmartName")}
    return {k: values[k] for k in guesses.ML_TASK_ITEM_FIELDS if values.get(k) is not None}


@route("GET", "/projects/<key>/models/lab/")
def list_ml_tasks(call, key):
    call.require_project(key)
    tasks = []
    d = _analysis_dir(call, key)
    if d.is_dir():
        for a in sorted(os.scandir(d), key=lambda e: e.name):
            ml = os.path.join(a.path, "ml")
            if not a.is_dir(follow_symlinks=False) or not os.path.isdir(ml):
                continue
            for m in sorted(os.scandir(ml), key=lambda e: e.name):
                if os.path.isfile(os.path.join(m.path, "params.json")):
                    tasks.append(_task_item(call, key, a.name, m.name))
    return {"mlTasks": tasks}


def _split_id(name):
    cut = [i for i in (name.find(s) for s in guesses.SPLIT_FILE_SEPARATORS) if i > 0]
    return name[:min(cut)] if cut else None


@route("POST", "/projects/<key>/models/lab/<aid>/<mid>/actions/removeUnusedSplits")
def remove_unused_splits(call, key, aid, mid):
    _require_write(call, key)
    if not (_analysis_dir(call, key) / aid / "ml" / mid / "params.json").is_file():
        raise NotFound("ML task %s.%s.%s does not exist" % (key, aid, mid))
    base = call.state.dip_home / "analysis-data" / key / aid / mid
    used = set()
    sessions = base / "sessions"
    if sessions.is_dir():
        for s in os.scandir(sessions):
            try:
                data = _read(os.path.join(s.path, "session.json"))
            except (FileNotFoundError, NotADirectoryError, ValueError):
                continue
            if isinstance(data.get(guesses.SPLIT_IN_USE_FIELD), str):
                used.add(data[guesses.SPLIT_IN_USE_FIELD])
    splits = base / "splits"
    if splits.is_dir():
        for e in list(os.scandir(splits)):
            sid = _split_id(e.name)
            if sid is None or sid in used:
                continue
            if e.is_dir(follow_symlinks=False):
                shutil.rmtree(e.path)
            else:
                os.unlink(e.path)
    return {}
