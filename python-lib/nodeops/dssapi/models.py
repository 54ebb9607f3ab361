"""Saved models and ML tasks: their versions, deleting non-active versions, unused split data.

What the client sends (dataikuapi 12.6.4 and 15.2.0, identical but for ``foreign``):

- ``DSSProject.list_saved_models()``: ``GET /projects/{key}/savedmodels/`` (15.2 adds
  ``?foreign=False``) -> a list of dicts, each with ``"id"``;
- ``DSSSavedModel.list_versions()``: ``GET /projects/{key}/savedmodels/{id}/versions`` -> a list
  of dicts, each with at least ``"id"`` and ``"active"`` (the client's docstring and its own
  ``get_active_version``);
- ``DSSSavedModel.delete_versions(versions, remove_intermediate)``: ``POST
  /projects/{key}/savedmodels/{id}/actions/delete-versions`` with ``{"versions": [...],
  "removeIntermediate": bool}``;
- ``DSSProject.list_ml_tasks()``: ``GET /projects/{key}/models/lab/`` -> ``{"mlTasks": [{"analysisId",
  "mlTaskId", ...}]}`` (the client's own docstring example reads ``["mlTasks"][0]["mlTaskId"]``);
- ``DSSMLTask.remove_unused_splits()``: ``POST
  /projects/{key}/models/lab/{analysis}/{mltask}/actions/removeUnusedSplits``, no body.
"""

from typing import Optional

from ..errors import Unavailable
from .connection import call

#: Where a version's training time is read from, in this order: the version's ``snippet`` (what
#: DSS shows of a trained model) ``trainInfo.endTime``, then ``trainDate``, then
#: ``trainInfo.startTime`` (epoch ms; the client's trained-model snippets carry ``trainDate`` and
#: ``trainInfo``, and Dataiku's ML-assisted labeling plugin sorts ``dataiku.Model.list_versions()``
#: by ``int(v["snippet"]["trainDate"])``), then a version id that is itself an epoch-ms time.
#: That the public API's versions carry the same ``snippet`` is the guess.
GUESS_VERSION_TIME_FIELDS = (("snippet", "trainInfo", "endTime"), ("snippet", "trainDate"),
                             ("snippet", "trainInfo", "startTime"))

#: A number read as epoch ms only between 2001-09-09 and 2286-11-20 (13 digits): a small
#: version id such as "3" or a date in seconds is not a time.
_MIN_MS = 10 ** 12
_MAX_MS = 10 ** 13 - 1


def _as_ms(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        n = int(value)
    elif isinstance(value, str) and value.strip().isdigit():
        n = int(value.strip())
    else:
        return None
    return n if _MIN_MS <= n <= _MAX_MS else None


def saved_model_ids(client, project_key):
    """Ids of the saved models of a project (``list_saved_models``; shared ones from other
    projects are not listed)."""
    project = client.get_project(project_key)
    items = call("listing the saved models of project %s" % project_key, project.list_saved_models)
    if not isinstance(items, list):
        raise Unavailable("listing the saved models of project %s: unexpected answer %r" % (project_key, type(items).__name__))
    out = []
    for item in items:
        # 12.6/15.2 return dicts; a client returning handles would have .id
        sid = item.get("id") if isinstance(item, dict) else getattr(item, "id", None)
        if not isinstance(sid, str) or not sid:
            raise Unavailable("listing the saved models of project %s: an item without an id" % project_key)
        out.append(sid)
    return out


def saved_model_versions(client, project_key, saved_model_id):
    """The versions of a saved model, as DSS returns them (dicts with at least ``id`` and ``active``)."""
    sm = client.get_project(project_key).get_saved_model(saved_model_id)
    what = "listing the versions of saved model %s.%s" % (project_key, saved_model_id)
    versions = call(what, sm.list_versions)
    if not isinstance(versions, list) or not all(isinstance(v, dict) and "id" in v for v in versions):
        raise Unavailable("%s: unexpected answer" % what)
    return versions


def version_time_ms(version: dict) -> Optional[int]:
    """When a saved-model version was trained (epoch ms), or None when DSS does not say
    (:data:`GUESS_VERSION_TIME_FIELDS`)."""
    for path in GUESS_VERSION_TIME_FIELDS:
        value = version
        for name in path:
            value = value.get(name) if isinstance(value, dict) else None
        ms = _as_ms(value)
        if ms is not None:
            return ms
    return _as_ms(version.get("id"))


def delete_saved_model_versions(client, project_key, saved_model_id, version_ids):
    """Delete versions of a saved model through DSS (``delete_versions``, intermediate versions of
    partitioned models included). DSS refuses deleting the active version."""
    ids = [str(v) for v in version_ids]
    if not ids:
        return
    sm = client.get_project(project_key).get_saved_model(saved_model_id)
    call("deleting versions %s of saved model %s.%s" % (", ".join(ids), project_key, saved_model_id),
         sm.delete_versions, ids, remove_intermediate=True)


def ml_task_ids(client, project_key):
    """``[(analysis_id, ml_task_id)]`` of the ML tasks of a project's visual analyses."""
    project = client.get_project(project_key)
    what = "listing the ML tasks of project %s" % project_key
    answer = call(what, project.list_ml_tasks)
    tasks = answer.get("mlTasks") if isinstance(answer, dict) else None
    if not isinstance(tasks, list):
        raise Unavailable("%s: unexpected answer (no mlTasks list)" % what)
    out = []
    for t in tasks:
        aid = t.get("analysisId") if isinstance(t, dict) else None
        mid = t.get("mlTaskId") if isinstance(t, dict) else None
        if not isinstance(aid, str) or not isinstance(mid, str) or not aid or not mid:
            raise Unavailable("%s: an ML task without analysisId/mlTaskId" % what)
        out.append((aid, mid))
    return out


def remove_unused_splits(client, project_key, analysis_id, ml_task_id):
    """Ask DSS to delete the split data of an ML task that no longer is in use (DSS's own rule)."""
    task = client.get_project(project_key).get_ml_task(analysis_id, ml_task_id)
    call("removing the unused splits of ML task %s.%s.%s" % (project_key, analysis_id, ml_task_id),
         task.remove_unused_splits)
