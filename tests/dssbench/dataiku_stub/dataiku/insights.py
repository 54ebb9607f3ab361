"""Stand-in for ``dataiku.insights``: static insights shown on dashboards."""

import base64

from . import _record


def save_data(id, payload, content_type, label=None, encoding=None, project_key=None):
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    _record.append("static-insights", {"id": id, "contentType": content_type, "label": label,
                                        "encoding": encoding, "projectKey": project_key,
                                        "payload": base64.b64encode(payload).decode("ascii")})
