"""Fixes the configuration audit may apply on a live node, each idempotent:
nothing changes when the setting is already right.

- Activity limits (``maxRunningActivitiesPerJob``, ``maxRunningActivities``)
  through the general-settings API: DSS applies them at once.
- The timelines cache in ``config/dip.properties`` (DSS reads it at startup:
  restart needed). The file is a Java properties file: when a key appears more
  than once, the last line wins. So the fix looks at the last
  ``dku.internalDatabases.timeline`` line: none, it appends
  :data:`TIMELINES_LINE`; one without ``CACHE_SIZE``, it adds ``CACHE_SIZE=1024``
  to that line's H2 settings (``;``-separated, as in an H2 URL) instead of
  appending a second line that would silently override them; one it cannot read
  safely (continued over several lines, escapes, not ``NAME=value`` settings) is
  reported and left alone. Everything else in the file is kept byte for byte.
- The write goes through :mod:`nodeops.safefs`: ``config`` and ``dip.properties``
  opened without following symlinks (a symlink is reported, never replaced), a
  dated backup copy created with ``O_EXCL`` keeping the file's mode and owner,
  then the new content written to a new random temporary file (O_EXCL,
  O_NOFOLLOW) with the same mode and owner, fsync-ed and renamed over the
  original, and the folder fsync-ed.
"""

import os
import re
import time
from dataclasses import dataclass, field
from typing import List, Optional

from . import dssapi, safefs

BACKUP_SUFFIX = ".node-ops-backup-"
PROPERTIES = "dip.properties"
TIMELINES_PROJECTS = 100
TIMELINES_KEY = "dku.internalDatabases.timeline"
CACHE_SETTING = ("CACHE_SIZE", "1024")
TIMELINES_LINE = "%s=%s=%s" % ((TIMELINES_KEY,) + CACHE_SETTING)


def recommended_activities(users):
    return max(5, min(50, users if users else 5))


def apply(client, facts, report):
    """Apply what is safe; the list of changes ({setting, before, after, note}).
    A fix that cannot be applied safely is an error in ``report``."""
    changes = []
    if facts.settings is not None:
        wanted = {}
        per_job = facts.settings.get("maxRunningActivitiesPerJob", 5)
        if not isinstance(per_job, int) or not 5 <= per_job <= 10:
            wanted["maxRunningActivitiesPerJob"] = 5
        total = facts.settings.get("maxRunningActivities", 5)
        if not isinstance(total, int) or not 5 <= total <= 50:
            wanted["maxRunningActivities"] = recommended_activities(facts.users)
        if wanted:
            before = dssapi.update_general_settings(client, wanted)
            for k, v in wanted.items():
                changes.append({"setting": k, "before": str(before.get(k)), "after": str(v),
                                "note": "general settings, effective now"})
    if len(facts.project_keys) >= TIMELINES_PROJECTS and not timelines(facts.dip_properties).cache_set:
        try:
            change = fix_timelines(facts.dip_home)
        except (OSError, FixRefused) as e:
            report.errors.append("config/dip.properties not changed: %s" % e)
        else:
            if change is not None:
                changes.append(change)
    return changes


# ---- reading dip.properties ---------------------------------------------------------------
_SEPARATORS = "=: \t\f"


@dataclass
class Timelines:
    """The effective (last) timelines line of a properties file."""
    index: Optional[int] = None  # of its first line in the file's lines; None: no such line
    line: str = ""
    prefix: str = ""  # what precedes the value on that line (key and separator)
    value: str = ""
    settings: Optional[List[str]] = field(default=None)  # setting names; None: not readable as H2 settings
    problem: str = ""  # why the line cannot be merged into

    @property
    def cache_set(self):
        return bool(self.settings) and any(s.upper() == CACHE_SETTING[0] for s in self.settings)


def split_lines(text):
    """The natural lines of a properties file, each with its own line terminator (\\n, \\r\\n or \\r)."""
    return re.findall(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$", text)


def _continues(line):
    body = line.rstrip("\r\n")
    return (len(body) - len(body.rstrip("\\"))) % 2 == 1


def _key(body):
    """(key, index where the value starts) of a non-comment line, Java's rules."""
    i, n, key = 0, len(body), []
    while i < n and body[i] in " \t\f":
        i += 1
    while i < n and body[i] not in _SEPARATORS:
        if body[i] == "\\" and i + 1 < n:
            i += 1
        key.append(body[i])
        i += 1
    while i < n and body[i] in " \t\f":
        i += 1
    if i < n and body[i] in "=:":
        i += 1
        while i < n and body[i] in " \t\f":
            i += 1
    return "".join(key), i


def timelines(lines) -> Timelines:
    """The last ``dku.internalDatabases.timeline`` entry of ``lines`` (natural lines,
    with or without terminators) and its H2 settings."""
    found = Timelines()
    i = 0
    while i < len(lines):
        start, body = i, lines[i].rstrip("\r\n")
        while _continues(lines[i]) and i + 1 < len(lines):
            i += 1
        multi = i > start
        i += 1
        stripped = body.lstrip(" \t\f")
        if not stripped or stripped[0] in "#!":
            continue
        key, at = _key(body)
        if key != TIMELINES_KEY:
            continue
        found = Timelines(index=start, line=body, prefix=body[:at], value=body[at:])
        if multi:
            found.problem = "its timelines line is continued over several lines"
        elif "\\" in found.value:
            found.problem = "its timelines line holds escapes"
        else:
            items = [s for s in found.value.strip().rstrip(";").split(";")] if found.value.strip() else []
            names = [re.match(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=", s) for s in items]
            if all(names):
                found.settings = [m.group(1) for m in names]
            else:
                found.problem = "its timelines value is not a list of NAME=value H2 settings"
    return found


class FixRefused(Exception):
    """A fix was not applied; the message says why."""


def merged(text):
    """``text`` (a properties file, as str) with the timelines cache set; None when it already is.
    Raises :class:`FixRefused` when the existing line cannot be merged into safely."""
    lines = split_lines(text)
    t = timelines(lines)
    if t.index is None:
        newline = "\r\n" if "\r\n" in text else "\n"
        if text and not text.endswith(("\n", "\r")):
            text += newline
        return text + TIMELINES_LINE + newline
    if t.cache_set:
        return None
    if t.problem:
        raise FixRefused("%s (%s): add %s=%s to it by hand" % (t.problem, t.line.strip(), *CACHE_SETTING))
    value = t.value.rstrip(" \t\f").rstrip(";")
    setting = "%s=%s" % CACHE_SETTING
    line = t.prefix + (value + ";" + setting if value.strip() else setting)
    ending = lines[t.index][len(lines[t.index].rstrip("\r\n")):]
    lines[t.index] = line + ending
    return "".join(lines)


# ---- writing it -------------------------------------------------------------------------
def fix_timelines(dip_home):
    """Set the timelines cache in DIP_HOME/config/dip.properties; the change made, or None
    when there is nothing to change. Raises OSError (:class:`safefs.UnsafeFile` for a
    symlink) or :class:`FixRefused` when nothing was written."""
    folder = safefs.open_folder(dip_home, "config")
    try:
        original, st = safefs.read_file(PROPERTIES, dir_fd=folder)
        text = (original or b"").decode("latin-1")  # byte for byte; the fix itself is ASCII
        new = merged(text)
        if new is None:
            return None
        before = timelines(split_lines(text))
        if original is None:
            folder_st = os.fstat(folder)  # a new file belongs to the folder's owner (DSS reads it)
            safefs.atomic_replace(PROPERTIES, new.encode("latin-1"), mode=0o600,
                                  owner=(folder_st.st_uid, folder_st.st_gid), dir_fd=folder)
            note = "restart needed; there was no dip.properties before"
        else:
            if st.st_nlink > 1:  # refused before a backup copy is left behind (safefs refuses it too)
                raise safefs.UnsafeFile("config/dip.properties has %d hard links: replacing it would break them; "
                                        "refused, not written (make it a single file, then run the fix)"
                                        % st.st_nlink)
            backup = _backup(folder, original, st)
            safefs.atomic_replace(PROPERTIES, new.encode("latin-1"), dir_fd=folder)
            note = "restart needed; original saved as %s" % backup
    finally:
        os.close(folder)
    after = timelines(split_lines(new))
    return {"setting": "config/dip.properties",
            "before": before.line.strip() if before.index is not None else "(no timelines cache line)",
            "after": after.line.strip(), "note": note}


def _backup(folder, data, st):
    """A new dated copy of dip.properties next to it (O_EXCL, the original's mode and owner); its name."""
    base = "%s%s%s" % (PROPERTIES, BACKUP_SUFFIX, time.strftime("%Y%m%d-%H%M%S"))
    for n in range(100):
        name = base if n == 0 else "%s-%d" % (base, n)
        try:
            safefs.create_exclusive(name, data, mode=st.st_mode, owner=(st.st_uid, st.st_gid), dir_fd=folder)
            return name
        except FileExistsError:
            continue
    raise FixRefused("no free backup name %s-N" % base)
