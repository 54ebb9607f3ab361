"""Stand-in for ``dataiku.insights``: static insights shown on dashboards.

DSS's ``save_data`` posts ``insights/save-static-file-insight`` to the backend's
internal API (``/dip/api/tintercom/``, authenticated by the process's API ticket;
KIT ``insights/__init__.py`` and ``core/intercom.py``), which creates or replaces
the static_file insight with that id. The stand-in does the same against the
simulator; inside a scenario step run by the harness it records the insight for
the harness instead (``DSSBENCH_RECORD_DIR``), as it always did.
"""

import base64
import os

from . import _record


def save_data(id, payload, content_type, label=None, project_key=None, encoding=None):
    if encoding is None:
        if isinstance(payload, str):
            payload = payload.encode("utf-8")
        payload = base64.b64encode(payload).decode("ascii")
    elif encoding != "base64":
        raise Exception('Invalid encoding: expected None or "base64"')
    elif isinstance(payload, bytes):
        payload = payload.decode("ascii")
    if os.environ.get("DSSBENCH_RECORD_DIR"):
        _record.append("static-insights", {"id": id, "contentType": content_type, "label": label,
                                            "encoding": encoding, "projectKey": project_key, "payload": payload})
        return
    _backend_void_call("insights/save-static-file-insight", {
        "projectKey": project_key or os.environ.get("DKU_CURRENT_PROJECT_KEY"), "id": id, "payload": payload,
        "contentType": content_type, "label": label})


def _backend_void_call(path, data):
    import requests

    port, ticket = os.environ.get("DKU_BACKEND_PORT"), os.environ.get("DKU_API_TICKET")
    if not port or not ticket:
        raise Exception("Cannot reach the DSS backend: not running inside DSS (no DKU_BACKEND_PORT/DKU_API_TICKET)")
    resp = requests.post("http://%s:%s/dip/api/tintercom/%s" % (os.environ.get("DKU_BACKEND_HOST", "127.0.0.1"),
                                                                 port, path),
                         data={k: v for k, v in data.items() if v is not None},
                         headers={"X-DKU-APITicket": ticket}, timeout=60)
    if resp.status_code != 200:
        raise Exception("Call to %s failed: %s %s" % (path, resp.status_code, resp.text[:500]))
