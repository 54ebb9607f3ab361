"""Jupyter notebooks and sessions: the per-project API (DSS 9+) and the old instance-wide one.

Each session's kernel is a real process; ``kernelPid`` must name it. Reference:
dss-rest-api-and-datadir.md section B, "Jupyter notebooks". Unloads run on their
own instance, with 40 MiB kernels.
"""

import time

import psutil
import pytest
from dataikuapi.dss.jupyternotebook import DSSJupyterNotebook, DSSNotebookSession
from dataikuapi.dss.notebook import DSSNotebook
from dataikuapi.utils import DataikuException

MiB = 1024 * 1024
NOTEBOOK_ITEM = {"projectKey": str, "name": str, "language": str, "kernelSpec": dict, "tags": list}
SESSION = {"projectKey": str, "notebookName": str, "sessionId": str, "kernelId": str, "kernelPid": int,
           "kernelConnections": int, "kernelExecutionState": str, "kernelLastActivityTime": int,
           "sessionStartTime": int, "sessionCreator": str, "sessionCreatorDisplayName": str,
           "sessionUnixOwner": str}


def model_sessions(model):
    """sessionId -> (project key, notebook name, session) of the instance's model."""
    return {s["sessionId"]: (key, nb["name"], s)
            for key, nbs in model["notebooks"].items() for nb in nbs for s in nb.get("sessions", [])}


def wait_gone(pid, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not psutil.pid_exists(pid):
            return True
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


def check_live_kernel(session, model_session):
    pid = session["kernelPid"]
    assert pid > 0 and psutil.pid_exists(pid), "kernelPid %s is not a live process" % pid
    rss = psutil.Process(pid).memory_info().rss
    assert rss > model_session["memory_mb"] * 0.8 * MiB, "kernel %s holds %d MiB, model says %d MiB" % (
        pid, rss // MiB, model_session["memory_mb"])


def test_active_notebooks_and_their_sessions_are_live_kernels(admin_client, sim, shape):
    expected = model_sessions(sim.state.model)
    seen = set()
    for key, nbs in sim.state.model["notebooks"].items():
        project = admin_client.get_project(key)
        items = project.list_jupyter_notebooks(active=True, as_type="listitems")
        assert {i.name for i in items} == {nb["name"] for nb in nbs if nb.get("sessions")}
        for item in items:
            shape(dict(item), NOTEBOOK_ITEM, "jupyter notebook item")
            shape(item.kernel_spec, {"name": str, "display_name": str, "language": str}, "kernelSpec")
            assert item.language in ("python", "R")
            notebook = item.to_notebook()
            assert isinstance(notebook, DSSJupyterNotebook)
            for s in notebook.get_sessions():
                shape(s, SESSION, "session")
                _, nb_name, model_session = expected[s["sessionId"]]
                assert (s["projectKey"], s["notebookName"]) == (key, item.name) and nb_name == item.name
                assert s["sessionCreator"] == model_session["sessionCreator"]
                assert s["kernelExecutionState"] in ("idle", "busy")
                check_live_kernel(s, model_session)
                seen.add(s["sessionId"])
    assert seen == set(expected)
    hit = [h for h in sim.hits if h.path.endswith("/jupyter-notebooks/")][-1]
    assert hit.query == "active=True"


def test_sessions_as_objects(admin_client, sim):
    notebook = admin_client.get_project("SALES_ANALYTICS").get_jupyter_notebook("explore_sales")
    sessions = notebook.get_sessions(as_objects=True)
    assert len(sessions) == 2 and all(isinstance(s, DSSNotebookSession) for s in sessions)
    for s in sessions:
        assert s.kernel_pid == sim.state.kernels[s.session_id].pid
        assert s.notebook_name == "explore_sales" and s.project_key == "SALES_ANALYTICS"


def test_all_notebooks_without_active_filter(admin_client, sim):
    names = [nb.notebook_name for nb in admin_client.get_project("CHURN_MODEL").list_jupyter_notebooks()]
    assert sorted(names) == sorted(nb["name"] for nb in sim.state.model["notebooks"]["CHURN_MODEL"])
    assert [h for h in sim.hits if h.path.endswith("/jupyter-notebooks/")][-1].query == "active=False"


def test_old_api_lists_the_same_sessions(admin_client, sim, shape):
    expected = model_sessions(sim.state.model)
    raw = admin_client.list_running_notebooks(as_objects=False)
    seen = set()
    for nb in raw:
        shape(nb, {"projectKey": str, "name": str, "activeSessions": list}, "running notebook")
        for s in nb["activeSessions"]:
            shape(s, SESSION, "old API session")
            check_live_kernel(s, expected[s["sessionId"]][2])
            seen.add(s["sessionId"])
    assert seen == set(expected)
    objects = admin_client.list_running_notebooks()
    assert all(isinstance(o, DSSNotebook) for o in objects)
    assert {(o.project_key, o.notebook_name) for o in objects} == {(nb["projectKey"], nb["name"]) for nb in raw}
    assert sum(len(o.get_sessions()) for o in objects) == len(expected)


def test_non_admin_gets_403_on_the_old_instance_wide_list(user_client, sim):
    with pytest.raises(DataikuException):
        user_client.list_running_notebooks()
    assert sim.hits[-1].path == "/dip/publicapi/admin/notebooks/" and sim.hits[-1].status == 403


def test_unloading_an_unknown_session_fails(admin_client):
    notebook = admin_client.get_project("SALES_ANALYTICS").get_jupyter_notebook("explore_sales")
    with pytest.raises(DataikuException, match="UnknownObjectException"):
        notebook.unload("no-such-session")


def test_unload_with_the_new_api_ends_the_kernel(fresh_sim, connect):
    sim = fresh_sim()
    notebook = connect(sim).get_project("SALES_ANALYTICS").get_jupyter_notebook("explore_sales")
    sessions = notebook.get_sessions()
    assert len(sessions) == 2
    with pytest.raises(Exception, match="Several sessions"):
        notebook.unload()  # the client refuses to choose
    first, second = sessions
    assert psutil.pid_exists(first["kernelPid"]) and psutil.pid_exists(second["kernelPid"])

    assert isinstance(notebook.unload(first["sessionId"]), dict)
    assert wait_gone(first["kernelPid"]), "kernel %s still runs after unload" % first["kernelPid"]
    assert [s["sessionId"] for s in notebook.get_sessions()] == [second["sessionId"]]
    assert first["sessionId"] not in sim.state.kernels
    assert psutil.pid_exists(second["kernelPid"])  # the other session is untouched

    (remaining,) = notebook.get_sessions(as_objects=True)
    remaining.unload()
    assert wait_gone(second["kernelPid"])
    assert notebook.get_sessions() == []
    names = {i.name for i in connect(sim).get_project("SALES_ANALYTICS").list_jupyter_notebooks(
        active=True, as_type="listitems")}
    assert "explore_sales" not in names
    with pytest.raises(Exception, match="isn't running"):
        notebook.unload()


def test_unload_with_the_old_api_ends_the_kernel(fresh_sim, connect):
    sim = fresh_sim()
    client = connect(sim)
    notebooks = {(nb.project_key, nb.notebook_name): nb for nb in client.list_running_notebooks()}

    single = notebooks[("SALES_ANALYTICS", "forecast_draft")]
    (session,) = single.get_sessions()
    assert isinstance(single.unload(), dict)  # one session: no id needed
    assert wait_gone(session["kernelPid"])

    several = notebooks[("CHURN_MODEL", "feature_study")]
    first, second = several.get_sessions()
    several.unload(first["sessionId"])
    assert wait_gone(first["kernelPid"]) and psutil.pid_exists(second["kernelPid"])
    hit = [h for h in sim.hits if h.method == "DELETE"][-1]
    assert hit.path == "/dip/publicapi/projects/CHURN_MODEL/notebooks/" and "sessionId=" in hit.query

    after = {(nb["projectKey"], nb["name"]): nb for nb in client.list_running_notebooks(as_objects=False)}
    assert ("SALES_ANALYTICS", "forecast_draft") not in after
    assert [s["sessionId"] for s in after[("CHURN_MODEL", "feature_study")]["activeSessions"]] == [
        second["sessionId"]]
