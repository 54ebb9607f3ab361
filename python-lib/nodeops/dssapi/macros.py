"""Macros: run one of a plugin's macros through the API and read its result.

What a scenario step uses to hand its DIP_HOME work to the macro of the same
id (:mod:`nodeops.delegation`). The calls are dataikuapi's ``DSSMacro`` (the
same in clients 12.6.4 and 15.2.0): ``run(params, admin_params, wait=False)``,
``get_status(run_id)`` until ``running`` is false, then ``get_result(run_id)``.
The macro is not run with ``wait=True``: that call would stay open for the whole
run, and every call node-ops makes gives up after the API timeout, so a purge or
a backup longer than the timeout would fail while it goes on in DSS. Polling
keeps every call short and still bounded by the timeout.
"""

import re
import time

import requests
import urllib3

from ..errors import Unavailable
from .connection import DataikuException, call, unreachable

#: Seconds between two status calls: the first wait, then up to this, growing by half each time.
POLL_FIRST_S, POLL_MAX_S = 0.1, 2.0


class MacroFailed(Unavailable):
    """The macro ran and raised. ``error_type``: the Python class DSS names (or None), ``detail``: its message."""

    def __init__(self, runnable_type, error_type, detail):
        self.runnable_type, self.error_type, self.detail = runnable_type, error_type, detail
        super().__init__("the macro %s failed: %s" % (runnable_type, detail))


def GUESS_macro_failure(status):
    """``(error_type, message)`` when a finished run's status says the macro raised, else None.

    Not documented: the simulator's (and this guess's) shape is the error the Python side of
    a macro sends DSS (KIT ``runnables/server.py``, ``get_json_friendly_error``:
    ``{"errorType": "<class 'module.Name'>", "message": ...}``) under ``exception``."""
    exc = status.get("exception")
    if not exc:
        return None
    if isinstance(exc, dict):
        return exc.get("errorType"), exc.get("message") or exc.get("detailedMessage") or "no message"
    return None, str(exc)


_JAVA_PREFIX = re.compile(r"^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)+: ")


def _dss_message(e):
    """The message of a DataikuException without the ``errorType: `` dataikuapi puts first."""
    return _JAVA_PREFIX.sub("", str(e), count=1)


def run_macro(client, project_key, runnable_type, params, sleep=time.sleep):
    """Run macro ``runnable_type`` from ``project_key`` with ``params``; its result as text.

    Raises :class:`MacroFailed` when the macro raised, Unavailable when DSS refused to start it
    or did not answer (each call within the client's timeout)."""
    macro = client.get_project(project_key).get_macro(runnable_type)
    what = "macro %s" % runnable_type
    run_id = call("starting %s" % what, macro.run, params=params, admin_params={}, wait=False)
    delay = POLL_FIRST_S
    while True:
        status = call("asking whether %s is done" % what, macro.get_status, run_id)
        if not status.get("running"):
            break
        sleep(delay)
        delay = min(delay * 1.5, POLL_MAX_S)
    failure = GUESS_macro_failure(status)
    if failure is not None:
        raise MacroFailed(runnable_type, *failure)
    try:
        raw = macro.get_result(run_id)
        try:
            data = raw.read(decode_content=True)
        finally:
            raw.close()
    except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError) as e:
        raise Unavailable(unreachable("reading the result of %s" % what, e)) from e
    except DataikuException as e:
        raise MacroFailed(runnable_type, None, _dss_message(e)) from e
    return data.decode("utf-8", "replace")
