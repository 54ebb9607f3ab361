"""Java heaps: what install.ini sets, what the production guidance recommends,
and the worst-case memory they commit.

- install.ini ``[javaopts] <process>.xmx`` for backend, jek, fek and hproxy
  (jek and fek default to 2g; the backend's default depends on the installer).
- Recommended backend heap by number of enabled users: fewer than 10: 8g;
  10 to 50: 12g; more than 50: 16g. JEK and FEK: 2g.
- Worst case: the backend, one JEK per concurrently running activity
  (``maxRunningActivities`` in config/general-settings.json, default 5), every
  FEK (as many as are running now, at least one) and hproxy when it runs.
"""

import json
import re
from dataclasses import dataclass
from typing import Optional

from . import datadir, safefs

GIB = 1024 ** 3
PROCESSES = ("backend", "jek", "fek", "hproxy")
DEFAULT_XMX = {"jek": "2g", "fek": "2g"}
KERNEL_XMX = 2 * GIB
DEFAULT_MAX_RUNNING_ACTIVITIES = 5
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)b?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3, "t": 1024 ** 4}


def parse_size(text) -> Optional[int]:
    """Bytes of a Java size ('8g', '12288m', '2G'); None when it is not one."""
    m = _SIZE.match(str(text or ""))
    if not m:
        return None
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


def recommended_backend(users) -> int:
    if users < 10:
        return 8 * GIB
    if users <= 50:
        return 12 * GIB
    return 16 * GIB


@dataclass
class Heap:
    process: str
    xmx: Optional[int]  # bytes; None when install.ini does not say and there is no default
    source: str
    recommended: Optional[int]


def configured(dip_home):
    """{process: Heap} from install.ini (recommendations filled by :func:`assess`)."""
    ini = datadir.read_install_ini(dip_home)
    out = {}
    for proc in PROCESSES:
        raw = ini.get("javaopts", proc + ".xmx", fallback=None) if ini is not None else None
        if raw is not None and parse_size(raw) is not None:
            out[proc] = Heap(proc, parse_size(raw), "install.ini %s.xmx = %s" % (proc, raw.strip()), None)
        elif proc in DEFAULT_XMX:
            out[proc] = Heap(proc, parse_size(DEFAULT_XMX[proc]), "default (%s)" % DEFAULT_XMX[proc], None)
        else:
            out[proc] = Heap(proc, None, "not set in install.ini" + (" (%r is not a size)" % raw if raw else ""), None)
    return out


def max_running_activities(dip_home) -> int:
    try:
        data, _ = safefs.read_file(str(dip_home / "config" / "general-settings.json"), follow_symlinks=True)
        value = json.loads(data.decode("utf-8")).get("maxRunningActivities")
        return int(value) if value else DEFAULT_MAX_RUNNING_ACTIVITIES
    except (OSError, ValueError, TypeError, AttributeError):
        return DEFAULT_MAX_RUNNING_ACTIVITIES


def assess(dip_home, users, fek_count, hproxy_running):
    """(heaps, worst-case bytes, max activities): recommendations filled in."""
    heaps = configured(dip_home)
    if users is not None:
        heaps["backend"].recommended = recommended_backend(users)
    heaps["jek"].recommended = KERNEL_XMX
    heaps["fek"].recommended = KERNEL_XMX
    activities = max_running_activities(dip_home)
    worst = (heaps["backend"].xmx or 0) + activities * (heaps["jek"].xmx or 0) \
        + max(1, fek_count) * (heaps["fek"].xmx or 0) + ((heaps["hproxy"].xmx or 0) if hproxy_running else 0)
    return heaps, worst, activities
