"""Java heaps: what install.ini sets, what the production guidance recommends,
and the worst-case memory they commit.

- install.ini ``[javaopts] <process>.xmx`` for backend, jek, fek and hproxy.
  An unset xmx is 2g for every one of them: DSS's installer passes
  ``-Xmx<xmx>`` with ``xmxDefault="2g"`` for backend, jek, fek, hproxy, cak and
  eventserver (DSS 9.0.5 ``dkuinstall/java.py``, ``envfiles.py``); it writes
  backend.xmx itself at install time (2g, 4g or 8g by RAM,
  ``install_config.py``). cak and eventserver are not reported.
- Recommended backend heap by number of enabled users: fewer than 10: 8g;
  10 to 50: 12g; more than 50: 16g. JEK and FEK: 2g.
- Worst case: the backend, one JEK per concurrently running activity
  (``maxRunningActivities`` in config/general-settings.json, default 5; 0 means
  unlimited, and then the worst case is unbounded), every FEK (as many as are
  running now, at least one) and hproxy when it runs.
  ``maxRunningActivitiesPerJob`` does not bound the number of JEKs (one per job).
"""

import json
import re
from dataclasses import dataclass
from typing import Optional

from . import datadir, safefs

GIB = 1024 ** 3
PROCESSES = ("backend", "jek", "fek", "hproxy")
#: The xmx DSS passes when install.ini sets none (java.py ``xmxDefault``).
DEFAULT_XMX = dict.fromkeys(PROCESSES, "2g")
KERNEL_XMX = 2 * GIB
DEFAULT_MAX_RUNNING_ACTIVITIES = 5
#: The worst case when nothing limits the number of JEKs.
UNBOUNDED = "unbounded"
#: The share of the host's RAM Java heaps may take, the backend's alone (the config audit) or the
#: worst case of all of them (the capacity report): above it, the JVMs' other memory, Python, R,
#: notebook kernels and the OS are short of memory. The one place this rule lives.
RAM_SHARE_LIMIT = 0.8
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)b?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3, "t": 1024 ** 4}


def parse_size(text) -> Optional[int]:
    """Bytes of a Java size ('8g', '12288m', '2G'); None when it is not one."""
    m = _SIZE.match(str(text or ""))
    if not m:
        return None
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


def over_ram_share(heap_bytes, ram_bytes) -> bool:
    """Whether ``heap_bytes`` exceeds :data:`RAM_SHARE_LIMIT` of ``ram_bytes`` (False when either is unknown)."""
    return bool(ram_bytes) and heap_bytes is not None and heap_bytes > ram_bytes * RAM_SHARE_LIMIT


def recommended_backend(users) -> int:
    if users < 10:
        return 8 * GIB
    if users <= 50:
        return 12 * GIB
    return 16 * GIB


@dataclass
class Heap:
    process: str
    xmx: Optional[int]  # bytes; None when install.ini cannot be read or its value is not a size
    source: str
    recommended: Optional[int]


def configured(dip_home):
    """{process: Heap} from install.ini (recommendations filled by :func:`assess`)."""
    ini = datadir.read_install_ini(dip_home)
    out = {}
    for proc in PROCESSES:
        raw = ini.get("javaopts", proc + ".xmx", fallback=None) if ini is not None else None
        if ini is None:  # DSS itself does not start without a readable install.ini
            out[proc] = Heap(proc, None, "install.ini missing or unreadable", None)
        elif raw is not None and parse_size(raw) is not None:
            out[proc] = Heap(proc, parse_size(raw), "install.ini %s.xmx = %s" % (proc, raw.strip()), None)
        elif raw is None:
            out[proc] = Heap(proc, parse_size(DEFAULT_XMX[proc]), "%s (default)" % DEFAULT_XMX[proc], None)
        else:  # DSS passes it as is: -Xmx<raw>, which the JVM refuses
            out[proc] = Heap(proc, None, "install.ini %s.xmx = %r is not a size" % (proc, raw.strip()), None)
    return out


def max_running_activities(dip_home) -> Optional[int]:
    """``maxRunningActivities`` of config/general-settings.json: the most activities
    (so JEKs) running at once; None when it is 0, which DSS reads as unlimited
    (KIT admin/general/flow-build.html: "zero for unlimited"). Missing or not a
    number: the default, 5."""
    try:
        data, _ = safefs.read_file(str(dip_home / "config" / "general-settings.json"), follow_symlinks=True)
        value = json.loads(data.decode("utf-8")).get("maxRunningActivities", DEFAULT_MAX_RUNNING_ACTIVITIES)
    except (OSError, ValueError, TypeError, AttributeError):
        return DEFAULT_MAX_RUNNING_ACTIVITIES
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return DEFAULT_MAX_RUNNING_ACTIVITIES
    return int(value) if value > 0 else None


def assess(dip_home, users, fek_count, hproxy_running):
    """(heaps, worst-case bytes, max activities): recommendations filled in. With no
    limit on the activities (``maxRunningActivities`` 0), the worst case and the
    activities are None: unbounded."""
    heaps = configured(dip_home)
    if users is not None:
        heaps["backend"].recommended = recommended_backend(users)
    heaps["jek"].recommended = KERNEL_XMX
    heaps["fek"].recommended = KERNEL_XMX
    activities = max_running_activities(dip_home)
    if activities is None:
        return heaps, None, None
    worst = (heaps["backend"].xmx or 0) + activities * (heaps["jek"].xmx or 0) \
        + max(1, fek_count) * (heaps["fek"].xmx or 0) + ((heaps["hproxy"].xmx or 0) if hproxy_running else 0)
    return heaps, worst, activities
