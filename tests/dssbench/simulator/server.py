"""The HTTP server: authentication, errors, fault injection, lifecycle.

Serves ``/dip/publicapi/...`` on 127.0.0.1 (ephemeral port) exactly as the
pinned dataikuapi calls it: paths match to the trailing slash (a near miss is a
404, never a redirect), Basic auth with the API key as user name or the
X-DKU-APITicket header of plugin code, 401 for an unknown key, 403 on admin
endpoints for a non-admin, errors as ``{"errorType", "message"}``, JSON
responses never gzipped.
"""

import contextlib
import json
import logging
import re
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from werkzeug.exceptions import MethodNotAllowed, NotFound as RouteNotFound
from werkzeug.routing import RequestRedirect
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from . import dssprocs, guesses, kernels
from . import routes_admin, routes_folders, routes_macros, routes_models, routes_notebooks, routes_projects  # noqa: F401  (register routes)
from .routing import Call, HTTPError, Raw, router
from .state import NotFound, State

PREFIX = "/dip/publicapi"
INTERCOM = "/dip/api/tintercom"  # what the dataiku package of plugin code posts to (routes under /tintercom)

logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log on the test output


@dataclass
class Fault:
    pattern: "re.Pattern"
    method: Optional[str]
    status: Optional[int]
    delay: float
    remaining: Optional[int]

    def matches(self, method, path):
        return (self.method is None or self.method == method) and self.pattern.search(path) is not None


@dataclass
class Hit:
    method: str
    path: str
    query: str
    login: Optional[str]
    status: int


def _version_tuple(text):
    parts = []
    for p in str(text).split(".")[:2]:
        parts.append(int(re.sub(r"\D.*", "", p) or 0))
    return tuple(parts)


class DSSSimulator:
    """A DSS backend for tests: ``with DSSSimulator(dip_home, model) as sim: DSSClient(sim.url, key)``."""

    def __init__(self, dip_home, model, plugins=None, start_kernels=True, dss_processes=False,
                 user_isolation=None, retry_delay_scale=0.0):
        """``dss_processes``: also start processes with the command lines of a running
        DSS (backend, JEKs, FEK, hproxy, nginx...; see dssprocs.py).

        ``user_isolation`` (a :class:`dssbench.harness.UserIsolation`): macros and steps run
        under the uids it gives, and what the backend writes into DIP_HOME belongs to its
        service account. ``retry_delay_scale``: the scenario runner waits a step's
        ``delayBetweenRetries`` times this before a retry (0: the bench does not wait)."""
        self.user_isolation = user_isolation
        owner = (user_isolation.service.uid, user_isolation.service.gid) if user_isolation else None
        self.state = State(dip_home, model, owner=owner)
        self.retry_delay_scale = retry_delay_scale
        #: Every macro and step process the simulator started: {kind, id, login, uid, outcome}.
        self.executions = []
        self.plugins = {k: Path(v).resolve() for k, v in (plugins or {}).items()}  # plugin id -> folder, for macros
        self.faults = []
        self.hits = []
        self._map = router.build()
        self._server = None
        self._thread = None
        self.port = 0
        self._start_kernels = start_kernels
        self._dss_processes = dss_processes
        self.dss_processes = None
        self._tmp = tempfile.TemporaryDirectory(prefix="dss-sim-")
        self.dss_version = _version_tuple(self.state.model.get("instance", {}).get("dssVersion", "14.2.1"))

    # ---- lifecycle ------------------------------------------------------
    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def start(self):
        if self._start_kernels:
            self._start_all_kernels()
        if self._dss_processes:
            self.dss_processes = dssprocs.DSSProcesses(self.state.dip_home, self._tmp.name).start()
        self._serve()
        return self

    def _serve(self):
        self._server = make_server("127.0.0.1", self.port, self._wsgi, threaded=True)
        self.port = self._server.server_port
        # A short poll: shutdown() waits for it, and the suite stops a simulator after most tests
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        name="dss-simulator", daemon=True)
        self._thread.start()

    def _shutdown_server(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(10)
            self._server = None

    def stop(self):
        self._shutdown_server()
        for k in list(self.state.kernels.values()):
            k.stop()
        if self.dss_processes is not None:
            self.dss_processes.stop()
        self._tmp.cleanup()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _start_all_kernels(self):
        todo = []
        for project_sessions in self.state.model["notebooks"].values():
            for nb in project_sessions:
                for s in nb.get("sessions", []):
                    conn = self.state.dip_home / guesses.KERNEL_RUNTIME_DIR / ("kernel-%s.json" % s["kernelId"])
                    k = kernels.Kernel(s.get("memory_mb", 20), s.get("children_mb", ()), conn,
                                       container=s.get("container", False))
                    self.state.kernels[s["sessionId"]] = k
                    todo.append(k)
        kernels.start_all(todo, self._tmp.name)

    # ---- identities -----------------------------------------------------
    def api_key(self, login):
        """A personal API key of ``login`` (created if the user has none)."""
        for k in self.state.model["api_keys"]:
            if k["user"] == login:
                return k["key"]
        if not self.state.user(login):
            raise KeyError("no such user: %s" % login)
        return self.state.add_api_key(login)

    def issue_ticket(self, login):
        """An internal API ticket, as DSS gives plugin code in DKU_API_TICKET."""
        return self.state.issue_ticket(login)

    # ---- fault injection ------------------------------------------------
    def inject(self, path_pattern=".*", status=500, delay=0.0, method=None, times=None):
        """Make matching requests fail with ``status`` (None: answer normally) after ``delay`` seconds."""
        fault = Fault(re.compile(path_pattern), method, status, delay, times)
        self.faults.append(fault)
        return fault

    def clear_faults(self):
        self.faults.clear()

    @contextlib.contextmanager
    def refusing_connections(self):
        """Nothing listens on the port inside the block (connection refused), then the server comes back."""
        self._shutdown_server()
        try:
            yield
        finally:
            self._serve()

    def _take_fault(self, method, path):
        for f in list(self.faults):
            if f.matches(method, path):
                if f.remaining is not None:
                    f.remaining -= 1
                    if f.remaining <= 0:
                        self.faults.remove(f)
                return f
        return None

    # ---- request handling -----------------------------------------------
    def _wsgi(self, environ, start_response):
        request = Request(environ)
        response = self._handle(request)
        return response(environ, start_response)

    def _error(self, status, message, error_type=None):
        body = {"errorType": error_type or guesses.ERROR_TYPES.get(status, guesses.ERROR_TYPES[500]),
                "message": message}
        return Response(json.dumps(body), status=status, content_type="application/json")

    def _authenticate(self, request):
        ticket = request.headers.get("X-DKU-APITicket")
        if ticket:
            return self.state.tickets.get(ticket)
        auth = request.authorization
        if auth is not None and auth.type == "basic" and auth.username:
            return self.state.login_for_key(auth.username)
        return None

    def _handle(self, request):
        path = request.path
        login = None
        status = 500
        try:
            fault = self._take_fault(request.method, path)
            if fault is not None:
                if fault.delay:
                    time.sleep(fault.delay)
                if fault.status is not None:
                    status = fault.status
                    return self._error(fault.status, "Injected fault")
            if path.startswith(INTERCOM + "/"):
                route_path = "/tintercom" + path[len(INTERCOM):]
            elif path.startswith(PREFIX + "/") and not path.startswith(PREFIX + "/tintercom/"):
                route_path = path[len(PREFIX):]
            else:
                status = 404
                return self._error(404, "Not found: %s" % path)
            login = self._authenticate(request)
            if login is None:
                status = 401
                return self._error(401, "Not authenticated: unknown API key or ticket")
            adapter = self._map.bind("127.0.0.1", path_info=route_path)
            try:
                endpoint, url_args = adapter.match(method=request.method)
            except (RouteNotFound, RequestRedirect):
                status = 404
                return self._error(404, "No API endpoint %s %s" % (request.method, path))
            except MethodNotAllowed:
                status = 405
                return self._error(405, "Method %s not allowed on %s" % (request.method, path))
            fn, admin, since, locked = router.handlers[endpoint]
            if since and self.dss_version < guesses.ENDPOINT_SINCE[since]:
                status = 404
                return self._error(404, "No API endpoint %s %s on DSS %s" % (request.method, path, self.dss_version))
            call = Call(self, request, login)
            if admin:
                call.require_admin()
            if locked:
                with self.state.lock:
                    result = fn(call, **url_args)
            else:
                result = fn(call, **url_args)
            status = 200
            if isinstance(result, Response):
                status = result.status_code
                return result
            if isinstance(result, Raw):
                return Response(result.body, content_type=result.content_type)
            return Response(json.dumps(result), content_type="application/json")
        except HTTPError as e:
            status = e.status
            return self._error(e.status, e.message, e.error_type)
        except NotFound as e:
            status = 404
            return self._error(404, str(e))
        finally:
            self.hits.append(Hit(request.method, path, request.query_string.decode(), login, status))
