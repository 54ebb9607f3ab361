"""Fixes the configuration audit may apply on a live node, each idempotent:
nothing changes when the setting is already right.

- Activity limits (``maxRunningActivitiesPerJob``, ``maxRunningActivities``)
  through the general-settings API: DSS applies them at once.
- The timelines cache line in ``config/dip.properties``: a backup copy of the
  file first, then the new content written to a temporary file, flushed to
  disk and renamed over the original (atomic: a crash leaves either the old or
  the new file, never half of one). DSS reads it at startup: restart needed.
"""

import os
import time

from . import dssapi

BACKUP_SUFFIX = ".node-ops-backup-"


def apply(client, facts, report):
    """Apply what is safe; the list of changes ({setting, before, after, note})."""
    from . import audit

    changes = []
    if facts.settings is not None:
        wanted = {}
        per_job = facts.settings.get("maxRunningActivitiesPerJob", 5)
        if not isinstance(per_job, int) or not 5 <= per_job <= 10:
            wanted["maxRunningActivitiesPerJob"] = 5
        total = facts.settings.get("maxRunningActivities", 5)
        if not isinstance(total, int) or not 5 <= total <= 50:
            wanted["maxRunningActivities"] = audit.recommended_activities(facts.users)
        if wanted:
            before = dssapi.update_general_settings(client, wanted)
            for k, v in wanted.items():
                changes.append({"setting": k, "before": str(before.get(k)), "after": str(v),
                                "note": "general settings, effective now"})
    if len(facts.project_keys) >= audit.TIMELINES_PROJECTS and audit.timelines_line(facts.dip_properties) is None:
        path = facts.dip_home / "config" / "dip.properties"
        backup = add_line(path, audit.TIMELINES_LINE)
        changes.append({"setting": "config/dip.properties", "before": "(no timelines cache line)",
                        "after": audit.TIMELINES_LINE,
                        "note": "restart needed; original saved as %s" % os.path.basename(backup)})
    return changes


def add_line(path, line):
    """Append ``line`` to the properties file at ``path`` atomically; the backup's path."""
    path = str(path)
    try:
        with open(path, "rb") as f:
            original = f.read()
    except FileNotFoundError:
        original = b""
    backup = "%s%s%s" % (path, BACKUP_SUFFIX, time.strftime("%Y%m%d-%H%M%S"))
    _write_atomically(backup, original)
    text = original
    if text and not text.endswith(b"\n"):
        text += b"\n"
    _write_atomically(path, text + line.encode("utf-8") + b"\n")
    return backup


def _write_atomically(path, data):
    tmp = "%s.node-ops-tmp-%d" % (path, os.getpid())
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
