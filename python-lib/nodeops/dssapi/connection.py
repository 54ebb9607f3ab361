"""Connection to DSS: timeouts and retries on every call, who the client acts for, and
the one wrapper (:func:`call`) that turns a failure into Unavailable naming what was asked."""

import itertools
import math
import os
import socket
import threading
import time
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from ..errors import Unavailable
from ..params import Param, parse_setting

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
    return parse_setting(TIMEOUT, value, source)


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

    The timeout bounds each wait for bytes and also the reading of the whole body once the
    answer's headers are in: an answer that trickles (a byte now and then, each within the
    timeout) is cut when that time is up. Once a call has timed out, the next ones fail at
    once: a DSS that did not answer in time is not waited on again by the same run, so a run
    that makes many calls still ends within about one timeout."""

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
        streamed = kwargs.get("stream", False)
        kwargs["stream"] = True  # the body is read here, against the deadline
        try:
            response = super().send(request, **kwargs)  # (retries of a 502/503/504 included)
            if streamed:  # the caller reads it (a download): each wait is bounded
                return response
            return self._read_by(response, time.monotonic() + self.timeout, request)
        except requests.exceptions.Timeout:
            self.timed_out = "%s %s" % (request.method, urlsplit(request.url).path)
            raise

    def _read_by(self, response, deadline, request):
        """Read the body before ``deadline``: past it, the watchdog shuts the connection's socket
        down (a blocked read then returns), and the call is a ReadTimeout."""
        cut = threading.Event()

        def shut():
            cut.set()
            sock = _socket_of(response.raw)
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

        token = _WATCHDOG.arm(deadline, shut)
        try:
            content = response.content
        except Exception:
            response.close()
            if not cut.is_set():
                raise
            content = None
        finally:
            _WATCHDOG.disarm(token)
        if cut.is_set():
            response.close()
            raise requests.exceptions.ReadTimeout("the answer was still coming after %g s (a byte now and then): "
                                                  "given up" % self.timeout, request=request)
        response._content = content
        return response


class _Watchdog:
    """One thread per process that calls what was armed once its deadline has passed. Arming and
    disarming wake nobody (a thread per call would: it slowed every run down), except arming a
    deadline earlier than the one the thread sleeps until."""

    def __init__(self):
        self._pid = None

    def _ready(self):
        if self._pid != os.getpid():  # first use, or a forked child: its own lock and thread
            self._pid = os.getpid()
            self._cond = threading.Condition()
            self._armed = {}
            self._tokens = itertools.count()
            self._until = math.inf
            threading.Thread(target=self._run, name="node-ops-api-deadlines", daemon=True).start()

    def arm(self, deadline, fn):
        self._ready()
        with self._cond:
            token = next(self._tokens)
            self._armed[token] = (deadline, fn)
            if deadline < self._until:
                self._cond.notify()
            return token

    def disarm(self, token):
        with self._cond:
            self._armed.pop(token, None)

    def _run(self):
        with self._cond:
            while True:
                now = time.monotonic()
                for token in [t for t, (d, _) in self._armed.items() if d <= now]:
                    self._armed.pop(token)[1]()
                self._until = min((d for d, _ in self._armed.values()), default=math.inf)
                self._cond.wait(None if self._until == math.inf else self._until - now)


_WATCHDOG = _Watchdog()


def _socket_of(raw):
    """The socket a urllib3 response reads from: its connection's, or (an answer that ends when
    the connection closes, whose connection urllib3 already let go) the one under its file."""
    sock = getattr(getattr(raw, "_connection", None), "sock", None)
    if sock is None:
        sock = getattr(getattr(getattr(getattr(raw, "_fp", None), "fp", None), "raw", None), "_sock", None)
    return sock if isinstance(sock, socket.socket) else None


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


def unreachable(what, e):
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
                                      unreachable("asked who the current user is", e))) from e
    except DataikuException as e:
        raise Unavailable("the DSS API refused to say who the current user is: %s" % e) from e


def call(what, fn, *args, **kwargs):
    """Run one API call; a connection failure or a refusal becomes Unavailable naming ``what``."""
    try:
        return fn(*args, **kwargs)
    except requests.exceptions.RequestException as e:
        raise Unavailable(unreachable(what, e)) from e
    except DataikuException as e:
        raise Unavailable("the DSS API refused %s: %s" % (what, e)) from e


def call_if_offered(what, fn, *args, **kwargs):
    """:func:`call`, but None when this DSS has no such endpoint (an older DSS answers
    UnknownObject or "No API endpoint")."""
    try:
        return fn(*args, **kwargs)
    except requests.exceptions.RequestException as e:
        raise Unavailable(unreachable(what, e)) from e
    except DataikuException as e:
        if "UnknownObject" in str(e) or "No API endpoint" in str(e):
            return None
        raise Unavailable("the DSS API refused %s: %s" % (what, e)) from e
