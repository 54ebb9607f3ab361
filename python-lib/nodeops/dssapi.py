"""How node-ops talks to the DSS API: the one home for every ``dataikuapi`` call.

Functions here take a ``dataikuapi.DSSClient`` and hide what differs between
DSS / client versions (feature detection with ``hasattr``, never version
numbers). Connection failures become :class:`~nodeops.errors.Unavailable` with a
message an administrator can act on.
"""

from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from .errors import ParameterError, Unavailable
from .params import Param, parse_params

try:  # dataikuapi is a dependency of the dataiku runtime and of the CLI
    from dataikuapi.utils import DataikuException
except ImportError:  # pragma: no cover - only without dataikuapi installed
    class DataikuException(Exception):
        pass


# ---- connection and timeouts --------------------------------------------------------------
#: How long each DSS API call may wait for the server (to connect, then for each read): the one
#: place it is set. Entry points take it from $NODEOPS_API_TIMEOUT (and ``--api-timeout``).
TIMEOUT = Param("api_timeout", "DOUBLE", "DSS API timeout (seconds)", default=30.0, min=0.1, max=3600,
                description="Each DSS API call gives up after this many seconds without an answer.")
TIMEOUT_ENV = "NODEOPS_API_TIMEOUT"


def timeout_seconds(value, source="$" + TIMEOUT_ENV):
    """The API timeout from a setting (None or empty: the default); a ParameterError naming ``source`` otherwise."""
    try:
        return parse_params("node-ops", (TIMEOUT,), {TIMEOUT.name: value})[TIMEOUT.name]
    except ParameterError as e:
        raise ParameterError(e.operation, [p.replace("'%s'" % TIMEOUT.name, "'%s'" % source) for p in e.problems])


def _retry():
    """Retries for idempotent calls the server could not serve right now (a proxy's 502/503/504);
    never after a timeout, so a call that hangs costs one timeout, not three."""
    kwargs = dict(total=2, connect=0, read=False, status=2, status_forcelist=(502, 503, 504), backoff_factor=0.5,
                  respect_retry_after_header=False, raise_on_status=False)
    methods = frozenset(("GET", "HEAD", "OPTIONS"))
    try:
        return Retry(allowed_methods=methods, other=0, **kwargs)
    except TypeError:  # urllib3 < 1.26
        return Retry(method_whitelist=methods, **kwargs)


class TimeoutAdapter(HTTPAdapter):
    """A transport adapter giving every request of its session a timeout (dataikuapi sets none).

    Once a call has timed out, the next ones fail at once: a DSS that did not
    answer in time is not waited on again by the same run, so a run that makes
    many calls still ends within about one timeout."""

    def __init__(self, timeout):
        self.timeout = timeout
        self.timed_out = None  # the first call that did not answer in time
        super().__init__(max_retries=_retry())

    def send(self, request, **kwargs):
        if self.timed_out is not None:
            raise requests.exceptions.Timeout("not sent: an earlier call (%s) did not answer within %g s"
                                              % (self.timed_out, self.timeout), request=request)
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        try:
            return super().send(request, **kwargs)
        except requests.exceptions.Timeout:
            self.timed_out = "%s %s" % (request.method, urlsplit(request.url).path)
            raise


def set_timeout(client, seconds):
    """Give every HTTP call of ``client`` a timeout of at most ``seconds``: a
    :class:`TimeoutAdapter` mounted on the client's ``requests`` session (the
    session is ``DSSClient._session`` in every client version; dataikuapi has no
    public accessor). Refuses a client without such a session rather than risk a
    call that waits forever. Returns ``client``."""
    session = getattr(client, "_session", None)
    if not isinstance(session, requests.Session):
        raise Unavailable("this DSS API client has no requests session node-ops can give a timeout to; "
                          "refusing to call the DSS API without one")
    for prefix in ("https://", "http://"):
        adapter = session.adapters.get(prefix)
        if isinstance(adapter, TimeoutAdapter):
            adapter.timeout = min(adapter.timeout, seconds)
        else:
            session.mount(prefix, TimeoutAdapter(seconds))
    return client


def timeout_of(client):
    """The timeout :func:`set_timeout` gave ``client``, or None."""
    adapter = getattr(getattr(client, "_session", None), "adapters", {}).get("http://")
    return adapter.timeout if isinstance(adapter, TimeoutAdapter) else None


def _unreachable(what, e):
    if isinstance(e, requests.exceptions.Timeout):
        return "the DSS API did not answer in time (%s): %s" % (what, e)
    return "the DSS API could not be reached (%s): %s" % (what, e)


def connect(url, api_key, timeout=TIMEOUT.default):
    """A client for a DSS reached by URL with an API key (command line, remote nodes);
    every call it makes times out after ``timeout`` seconds."""
    from dataikuapi import DSSClient

    return set_timeout(DSSClient(url.rstrip("/"), api_key), timeout)


def identify(client):
    """Who the client acts for, and whether that user is a DSS administrator.

    Returns ``(login, is_admin)``. The login comes from ``/auth/info``; a user is
    an administrator when one of their groups has the ``admin`` flag. Reading a
    group's definition is itself admin-only, so a refusal there means "not an
    administrator". A key without groups (a global API key) is an administrator
    when it can list users, which only administrators can.
    """
    try:
        info = client.get_auth_info()
        login = info.get("authIdentifier")
        groups = info.get("groups") or []
        if not groups:
            try:
                client.list_users()
                return login, True
            except DataikuException:
                return login, False
        for name in groups:
            try:
                definition = client.get_group(name).get_definition()
            except DataikuException:
                return login, False
            if definition.get("admin"):
                return login, True
        return login, False
    except requests.exceptions.RequestException as e:
        raise Unavailable("%s: %s" % (getattr(client, "host", "DSS"),
                                      _unreachable("asked who the current user is", e))) from e
    except DataikuException as e:
        raise Unavailable("the DSS API refused to say who the current user is: %s" % e) from e


def _call(what, fn, *args, **kwargs):
    """Run one API call; a connection failure or a refusal becomes Unavailable naming ``what``."""
    try:
        return fn(*args, **kwargs)
    except requests.exceptions.RequestException as e:
        raise Unavailable(_unreachable(what, e)) from e
    except DataikuException as e:
        raise Unavailable("the DSS API refused %s: %s" % (what, e)) from e


def enabled_user_count(client):
    """How many DSS users are enabled (an administrator sees them all)."""
    users = _call("listing users", client.list_users)
    return sum(1 for u in users if u.get("enabled", True))


def project_keys(client):
    """Keys of every project (the caller is an administrator, so it sees them all)."""
    return set(_call("listing projects", client.list_project_keys))


def running_job_ids(client, project_key):
    """IDs of the jobs of a project that are not finished (``stableState`` false).

    ``list_jobs`` exists in every client and server; the 15.2-only running-jobs
    endpoints would not save a call per project.
    """
    jobs = _call("listing the jobs of project %s" % project_key, client.get_project(project_key).list_jobs)
    out = set()
    for j in jobs:
        if not j.get("stableState", True):
            out.add(j.get("jobId") or j["def"]["id"])
    return out


def running_scenarios(client, project_key):
    """{scenario id: start of its current run (epoch ms)} for the running scenarios of a project."""
    items = _call("listing the scenarios of project %s" % project_key, client.get_project(project_key).list_scenarios)
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
        raise Unavailable(_unreachable("listing running jobs", e)) from e
    except DataikuException:
        return None
    out = {}
    for j in items:
        d = j.get("def", {})
        out.setdefault(d.get("projectKey"), set()).add(j.get("jobId") or d["id"])
    return out


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
            raise Unavailable(_unreachable("listing notebook sessions", e)) from e
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
        active = _call("listing the active notebooks of project %s" % key, project.list_jupyter_notebooks, active=True)
        for nb in active:
            found = _call("listing the sessions of notebook %s.%s" % (key, nb.notebook_name), nb.get_sessions)
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
        return _call(what, nb.unload, session["sessionId"])
    from dataikuapi.dss.jupyternotebook import DSSNotebookSession

    return _call(what, DSSNotebookSession(client, session).unload)


# ---- managed folders (capacity history) -------------------------------------------------
def managed_folder(client, project_key, name, create):
    """The managed folder called ``name`` in a project (created when ``create``), or None."""
    project = client.get_project(project_key)
    folders = _call("listing the managed folders of project %s" % project_key, project.list_managed_folders)
    for f in folders:
        if f.get("name") == name:
            return project.get_managed_folder(f["id"])
    if not create:
        return None
    return _call("creating managed folder %s in project %s" % (name, project_key), project.create_managed_folder, name)


def read_folder_file(folder, path):
    """Text of a file of a managed folder; None when it does not exist."""
    try:
        with folder.get_file(path) as resp:
            return resp.content.decode("utf-8")
    except requests.exceptions.RequestException as e:
        raise Unavailable(_unreachable("reading %s" % path, e)) from e
    except DataikuException as e:
        if "UnknownObject" in str(e) or "404" in str(e) or "does not exist" in str(e).lower():
            return None
        raise Unavailable("the DSS API refused reading %s: %s" % (path, e)) from e


def write_folder_file(folder, path, data):
    import io

    _call("writing %s" % path, folder.put_file, path, io.BytesIO(data))


# ---- configuration audit -------------------------------------------------------------------
def general_settings(client):
    """The general settings (config/general-settings.json) as DSS serves them."""
    return _call("reading the general settings", lambda: client.get_general_settings().get_raw())


def update_general_settings(client, values):
    """Set top-level keys of the general settings; returns the values before."""
    settings = _call("reading the general settings", client.get_general_settings)
    raw = settings.get_raw()
    before = {k: raw.get(k) for k in values}
    raw.update(values)
    _call("saving the general settings", settings.save)
    return before


def admin_groups(client):
    """Names of the groups with the administrator flag."""
    out = set()
    for g in _call("listing groups", client.list_groups):
        name = g.get("name")
        if g.get("admin") is None:
            g = _call("reading group %s" % name, client.get_group(name).get_definition)
        if g.get("admin"):
            out.add(name)
    return out


def admin_logins(client, groups):
    """Logins of the users in one of ``groups`` (the administrator groups)."""
    return {u.get("login") for u in _call("listing users", client.list_users) if set(u.get("groups") or []) & groups}


def project_setup(client, project_key):
    """{"permissions", "owner", "scenarios": [scenario settings]} of a project; None when it does not exist."""
    if project_key not in project_keys(client):
        return None
    project = client.get_project(project_key)
    raw = _call("reading the settings of project %s" % project_key, lambda: project.get_settings().get_raw())
    scenarios = []
    for item in _call("listing the scenarios of project %s" % project_key, project.list_scenarios):
        sid = item["id"]
        scenarios.append(_call("reading scenario %s.%s" % (project_key, sid),
                               lambda: project.get_scenario(sid).get_settings().get_raw()))
    return {"permissions": raw.get("permissions") or [], "owner": raw.get("owner"), "scenarios": scenarios}


def sanity_check(client):
    """DSS's instance sanity check messages as dicts; None when this client or DSS does not offer it."""
    if not hasattr(client, "perform_instance_sanity_check"):
        return None
    try:
        result = client.perform_instance_sanity_check()
    except requests.exceptions.RequestException as e:
        raise Unavailable(_unreachable("instance sanity check", e)) from e
    except DataikuException as e:
        if "UnknownObject" in str(e) or "No API endpoint" in str(e):
            return None
        raise Unavailable("the DSS API refused the instance sanity check: %s" % e) from e
    return [{"severity": m.severity, "code": m.code, "title": m.title, "details": m.details, "message": m.message}
            for m in result.messages]


# ---- the administration project -------------------------------------------------------------
class AdminSetup:
    """Every API call the setup-admin-project macro makes, on one project."""

    def __init__(self, client, project_key):
        self.client, self.key = client, project_key
        self.project = client.get_project(project_key)

    def exists(self):
        return self.key in project_keys(self.client)

    def admin_groups(self):
        return admin_groups(self.client)

    def create_project(self, name, owner, description):
        _call("creating project %s" % self.key, self.client.create_project, self.key, name, owner,
              description=description)

    def _variables(self):
        return _call("reading the variables of %s" % self.key, self.project.get_variables)

    def state(self):
        from .adminproject import STATE_VARIABLE

        return (self._variables().get("standard") or {}).get(STATE_VARIABLE) or {}

    def save_state(self, state):
        from .adminproject import STATE_VARIABLE

        variables = self._variables()
        variables.setdefault("standard", {})[STATE_VARIABLE] = state
        _call("saving the variables of %s" % self.key, self.project.set_variables, variables)

    def permissions(self):
        return _call("reading the settings of %s" % self.key,
                     lambda: self.project.get_settings().get_raw().get("permissions") or [])

    def set_permissions(self, permissions):
        settings = _call("reading the settings of %s" % self.key, self.project.get_settings)
        settings.get_raw()["permissions"] = permissions
        _call("saving the permissions of %s" % self.key, settings.save)

    def scenario_ids(self):
        return [s["id"] for s in _call("listing the scenarios of %s" % self.key, self.project.list_scenarios)]

    def scenario(self, scenario_id):
        return _call("reading scenario %s.%s" % (self.key, scenario_id),
                     lambda: self.project.get_scenario(scenario_id).get_settings().get_raw())

    def _write_scenario(self, scenario_id, part, active=None):
        settings = _call("reading scenario %s.%s" % (self.key, scenario_id),
                         self.project.get_scenario(scenario_id).get_settings)
        raw = settings.get_raw()
        raw["name"] = part["name"]
        raw["triggers"] = part["triggers"]
        raw["reporters"] = part["reporters"]
        raw.setdefault("params", {})["steps"] = part["steps"]
        if active is not None:
            raw["active"] = active
        _call("saving scenario %s.%s" % (self.key, scenario_id), settings.save)

    def create_scenario(self, stable_id, name, part, active):
        """Create a step-based scenario (asking for ``stable_id``); the id DSS gave it."""
        scenario = _call("creating scenario %s in %s" % (name, self.key), self.project.create_scenario, name,
                         "step_based", definition={"id": stable_id, "params": {"steps": []}})
        self._write_scenario(scenario.id, part, active)
        return scenario.id

    def update_scenario(self, scenario_id, part):
        self._write_scenario(scenario_id, part)

    def dashboard(self, dashboard_id):
        """The dashboard's settings, or None when it no longer exists."""
        try:
            return self.project.get_dashboard(dashboard_id).get_settings().get_raw()
        except requests.exceptions.RequestException as e:
            raise Unavailable(_unreachable("reading dashboard %s" % dashboard_id, e)) from e
        except DataikuException:
            return None

    def create_dashboard(self, name, pages):
        return _call("creating dashboard %s in %s" % (name, self.key), self.project.create_dashboard, name,
                     {"pages": pages}).dashboard_id

    def create_insight(self, prototype):
        return _call("creating insight %s in %s" % (prototype.get("name"), self.key), self.project.create_insight,
                     prototype).insight_id


# ---- monitoring -----------------------------------------------------------------------------------
def active_users(client, since_ms):
    """How many users had a session active since ``since_ms`` (DSS 10+ user activity)."""
    if not hasattr(client, "list_users_activity"):
        raise Unavailable("this client has no user activity call")
    items = _call("reading user activity", client.list_users_activity)
    count = 0
    for item in items:
        data = item.get_raw() if hasattr(item, "get_raw") else item
        if int(data.get("lastSessionActivity") or 0) >= since_ms:
            count += 1
    return count


def running_jobs(client, keys):
    """Raw dicts of the jobs running now: one instance-wide call where DSS offers it,
    else one ``list_jobs`` per project."""
    if hasattr(client, "list_running_jobs"):
        try:
            items = client.list_running_jobs(all_users=True)
            return [dict(j) for j in items]
        except requests.exceptions.RequestException as e:
            raise Unavailable(_unreachable("listing running jobs", e)) from e
        except DataikuException:
            pass  # an older DSS: per project
    out = []
    for key in keys:
        jobs = _call("listing the jobs of project %s" % key, client.get_project(key).list_jobs)
        out += [j for j in jobs if not j.get("stableState", True)]
    return out


def running_scenario_count(client):
    return len(_call("listing running scenarios", client.list_running_scenarios, all_users=True))


def license_expiry_ms(client):
    """When the licence expires (epoch ms), or None when DSS does not say."""
    status = _call("reading the licensing status", client.get_licensing_status)
    base = (status or {}).get("base") or {}
    value = (base.get("licenseContent") or {}).get("expiresOn") or base.get("expiresOn")
    return int(value) if value else None


def failed_scenario_runs(client, since_ms):
    """[(project, scenario, run start)] of the scenario runs that failed since ``since_ms``,
    over the active scenarios of every project."""
    import datetime as _dt

    since = _dt.datetime.fromtimestamp(since_ms / 1000.0)
    until = _dt.datetime.now() + _dt.timedelta(days=1)
    out = []
    for key in sorted(project_keys(client)):
        project = client.get_project(key)
        for item in _call("listing the scenarios of %s" % key, project.list_scenarios):
            if not item.get("active"):
                continue
            runs = _call("reading the runs of %s.%s" % (key, item["id"]),
                         project.get_scenario(item["id"]).get_runs_by_date, since, until)
            for run in runs:
                data = run.run if hasattr(run, "run") else run
                outcome = (data.get("result") or {}).get("outcome")
                if outcome == "FAILED" and int(data.get("start") or 0) >= since_ms:
                    out.append((key, item["id"], data.get("start")))
    return out
