"""Jupyter notebook sessions: list them, unload them."""

import requests

from ..errors import Unavailable
from .connection import DataikuException, call, unreachable
from .projects import project_keys


# ---- Jupyter notebook sessions ----------------------------------------------------------
OLD_NOTEBOOK_API = "instance-wide notebook list (/admin/notebooks/)"
NEW_NOTEBOOK_API = "per-project notebook API (/projects/{key}/jupyter-notebooks/)"


def notebook_sessions(client):
    """``(api, sessions)``: every Jupyter session of the instance, with as few calls as DSS allows.

    One call where DSS offers the instance-wide list of running notebooks
    (``/admin/notebooks/``, the call DSS's own "Kill Jupyter sessions" macro
    makes, in every client); when the client lacks it or DSS refuses it, the
    per-project API (DSS 9+): the project list, each project's active
    notebooks, each active notebook's sessions. Each session is the API's dict
    with ``projectKey`` and ``notebookName`` set. Unload with :func:`unload_session`
    and the same ``api``. Raises Unavailable when neither API can list them.
    """
    refused = None
    if hasattr(client, "list_running_notebooks"):
        try:
            notebooks = client.list_running_notebooks(as_objects=False)
        except requests.exceptions.RequestException as e:
            raise Unavailable(unreachable("listing notebook sessions", e)) from e
        except DataikuException as e:
            refused = e
        else:
            sessions = []
            for nb in notebooks:
                for s in nb.get("activeSessions") or []:
                    sessions.append(dict(s, projectKey=nb.get("projectKey"), notebookName=nb.get("name")))
            return OLD_NOTEBOOK_API, sessions
    from dataikuapi.dss.project import DSSProject

    if not hasattr(DSSProject, "list_jupyter_notebooks"):
        raise Unavailable("the DSS API cannot list notebook sessions: %s" % (refused or "this client has neither notebook API"))
    sessions = []
    for key in sorted(project_keys(client)):
        project = client.get_project(key)
        active = call("listing the active notebooks of project %s" % key, project.list_jupyter_notebooks, active=True)
        for nb in active:
            found = call("listing the sessions of notebook %s.%s" % (key, nb.notebook_name), nb.get_sessions)
            for s in found:
                sessions.append(dict(s, projectKey=key, notebookName=nb.notebook_name))
    return NEW_NOTEBOOK_API, sessions


def unload_session(client, api, session):
    """Unload one session (DSS stops its kernel) through the API that listed it: one call."""
    what = "unloading session %s of notebook %s.%s" % (session.get("sessionId"), session["projectKey"],
                                                       session["notebookName"])
    if api == OLD_NOTEBOOK_API:
        from dataikuapi.dss.notebook import DSSNotebook

        nb = DSSNotebook(client, session["projectKey"], session["notebookName"],
                         state={"activeSessions": [session]})  # the listing is the state: no extra GET
        return call(what, nb.unload, session["sessionId"])
    from dataikuapi.dss.jupyternotebook import DSSNotebookSession

    return call(what, DSSNotebookSession(client, session).unload)
