"""Build a realistic, seeded DSS data directory (DIP_HOME) for tests and benchmarks.

``build_datadir(spec, dip_home)`` writes the tree described by ``spec`` under
``dip_home`` and returns the *runtime model*: the live state (jobs, scenario runs,
notebook sessions, user activity, API keys...) that a fake DSS REST server serves
next to the files.  Everything random comes from ``random.Random(spec["seed"])``:
the same spec (with the same ``now``) gives a byte-identical tree (same names,
contents, symlink targets and mtimes) and an identical model.  The tree never
contains the absolute path of ``dip_home`` (the one symlink is relative), so two
builds at different places differ only in the model fields that hold a path
(``instance.dataDirPath`` and ``fixtures.*_abs``).

Stdlib only, Python 3.9 syntax.  All content is generated in one thread, in order;
only the mkdir/write/utime of job folders runs in a pool of ``_WRITERS`` threads
(0 = everything inline), which keeps 100k-folder builds fast.  Layout follows the
reference (``dss-rest-api-and-datadir.md`` section A); where the reference says a
name is unverified, the module says so next to the code that writes it.

Guessed (not verified on a real instance): the shapes of ``config/users.json``,
``config/personal-apikeys.json`` and ``config/projects/<KEY>/saved_models/<id>.json``;
file names inside job folders other than ``output.log``
(``activities/<activityId>/log.log``), inside scenario run folders (``log.log``),
in ``timelines/`` (``<KEY>.mv.db``) and the ``exports/<id>`` ids; the contents of
saved-model versions (``train_info.json`` with the training times) and analysis sessions
(``session.json`` naming the ``splitId`` it was trained on; split files
``splits/<splitId>_{train,test}.csv`` and ``<splitId>.json``); the layout under ``managed_datasets/``
(``<KEY>/<dataset>/``) and ``managed_folders/`` (``<KEY>/<FOLDER_ID>/``).

Presets: ``small_spec(seed=1, now=None)`` (varied demo instance, ~45 MB, builds in
about a second) and ``scale_spec(job_folders=100_000, seed=1, now=None)``
(~20 projects, tiny logs, for performance tests).

Spec keys
=========
Unknown keys (at any level) raise ``ValueError`` naming the key.

``seed`` (int, default 0)
    Seed of the single ``random.Random`` used for everything.
``now`` (str, default: the current local time, to the second)
    ISO local wall time, e.g. ``"2026-11-25T12:00:00"`` (an offset such as
    ``+01:00`` is also accepted).  Every time is generated relative to it.  Job
    and run IDs embed UTC wall time, whatever the zone of the building process
    (the one public job ID matches its ``initiationTimestamp`` in UTC exactly);
    mtimes are the matching epoch values; log lines carry local time.
    Leave ``now`` out to get a tree relative to the real clock (what age-based
    tools see in real life); set it for reproducible trees.
``dss_version`` (str, default ``"14.2.1"``)
``node_type`` (``"design"`` | ``"automation"``, default ``"design"``)
    Automation nodes get ``acode-envs/`` instead of ``code-envs/``.
``node_id`` (str, default ``"dss-design"`` / ``"dss-automation"``)
``java`` (dict)
    ``install.ini`` ``[javaopts]`` entries merged over ``DEFAULT_JAVA``
    (``backend.xmx=8g, jek.xmx=2g, fek.xmx=2g, hproxy.xmx=2g``); a value of
    ``None`` removes a default key.  ``<proc>.xmx`` and ``<proc>.additional.opts``
    also feed ``bin/env-default.sh`` (``DKU_<PROC>_JAVA_OPTS``).
``general_settings`` (dict)
    Deep-merged (dicts recursively; lists and scalars replaced) over
    ``DEFAULT_GENERAL_SETTINGS`` and written to ``config/general-settings.json``.
``dip_properties`` (dict)
    ``key=value`` lines of ``config/dip.properties``; the file exists only if
    this is non-empty.
``groups`` (list, default administrators(admin) + data_team)
    ``{"name", "admin": bool, "description"?}``.
``users`` (list, default ``admin`` in administrators, ``alice`` and ``bob`` in data_team)
    ``{"login", "displayName"?, "email"?, "groups": [...], "enabled"?: true,
    "last_activity_minutes_ago"?: number | None}``.  ``None`` means "never
    logged in" (activity 0); absent means a seeded random recent-ish value.
    Groups must exist.
``user_count`` (int, default 0)
    Adds generated users ``user001``, ``user002``... in ``data_team`` (created
    if missing).
``projects`` (list, default ``[]``) - each:
    ``key`` (mandatory, ``[A-Z0-9_]+``), ``name``, ``owner`` (a login; default a
    seeded pick), ``managed_datasets`` (int, default 2: datasets with data under
    ``managed_datasets/``; every project also gets SQL datasets so it has at least
    3 datasets to build), ``managed_folders`` (int, default 0), ``saved_models``
    (int, default 0), ``analyses`` (int, default 0),
    ``jobs``: ``{"count": int (jobs with a folder AND an API entry, running ones
    included; default 0), "max_age_days": number (default 30), "running": int
    (the newest ``running`` of them are RUNNING, started < 45 min ago; default
    0), "log_bytes": [min, max] (output.log size; default [1000, 20000]),
    "api_only": int (extra finished jobs the API lists but whose folder is gone),
    "folder_only": int (extra finished job folders the API no longer lists)}``,
    ``scenarios``: ``[{"id" (``[A-Za-z0-9_]+``), "name"?, "runs": int (run
    folders, default 0), "every_hours": number (default 24; runs sit on that
    grid counted back from now), "running": bool (the newest run is still
    going: no end, no ``result``; default false), "active": bool (default
    true)}]``,
    ``notebooks``: ``[{"name", "language"?: "python"|"R", "sessions": [{"owner":
    login (default project owner), "memory_mb": int (default 500), "state":
    "idle"|"busy", "idle_hours": number (since last kernel activity), "age_hours":
    number (since session start, >= idle_hours), "connections": int, "children_mb":
    [int] (child processes of the kernel, default none), "container": bool (the kernel
    runs in a container: the session reports the PID of its local forwarder, ``python
    -m dataiku.notebook.remote_kernel_forwarder ... --connection-file .../kernel-<id>.json``,
    which holds ``memory_mb`` of its own; default false)}]}]``.
``orphan_projects`` (list, default ``[]``)
    ``{"key", "jobs": int, "scenario_runs": int, "saved_models": int, "analyses": int,
    "managed_datasets": int, "managed_folders": int, "jupyter_notebooks": int}`` (all optional,
    default 0): folders under ``jobs/<KEY>`` and ``scenarios/<KEY>/DAILY_REFRESH/``, and data
    under ``saved_models/<KEY>``, ``analysis-data/<KEY>``, ``managed_datasets/<KEY>``,
    ``managed_folders/<KEY>`` and ``jupyter-run/dku-workdirs/<KEY>`` (notebook working
    directories ``<name><8 hex>/``: public notebook code shows that layout, the reference does
    not) for a project that has no ``config/projects/<KEY>``; they are in no model list
    (``fixtures.orphan_data`` says what was written).
``pre_migration_backups`` (list, default ``[]``)
    ``{"date"?: "YYYYMMDD" (default: the day of ``now - age_days``), "age_days": number
    (default 0), "files": int (default 3)}``: ``_pre_migration_backup_<date>-<HHMMSS>/`` at
    the root of DIP_HOME (the reference gives ``_pre_migration_backup_YYYYMMDD*``; the
    ``-HHMMSS`` tail is guessed) holding copies of config-like files (``dss-version.json``,
    ``install.ini``, ``config/*.json``...), every mtime ``age_days`` old.
``diagnosis`` (dict, default none)
    ``{"files": int, "max_age_days": number (default 60)}``: ``diagnosis/dss-diagnosis-
    <YYYYMMDD-HHMMSS>-<n>.zip`` files (names guessed), mtimes spread evenly back to
    ``max_age_days``.
``exports`` (dict, default none)
    ``{"count": int, "max_age_days": number (default 90)}``: ``exports/<id>/``
    folders, mtimes spread over the age range.
``messaging_channels`` (list, default ``[]``: an instance without any)
    ``{"id", "type" (e.g. ``smtp``, ``slack``), "family"? (``mail`` for the channels that send
    mail), "sender"?}``: the instance's messaging channels (model only: DSS's file for them is
    not known), listed by ``/messaging-channels/``.
``bulk_bytes`` (dict)
    top-level folder (e.g. ``tmp``, ``caches``, ``code-envs``,
    ``managed_datasets``, ``saved_models``...) -> approximate bytes of extra
    filler files (real bytes, no sparse files) written in a plausible place of
    that folder.  ``code-envs`` means ``acode-envs`` on automation nodes.

Runtime model (returned; JSON-serialisable)
===========================================
``now_ms``: epoch ms of ``now``.
``instance``: ``{"nodeId", "nodeName", "nodeType": "DESIGN"|"AUTOMATION",
"dataDirPath": str(dip_home), "dssStartupTimestamp": ms, "installId",
"dipInstanceId", "dssVersion"}``.
``activity``: ``{login: {"lastSuccessfulLogin": ms|0, "lastFailedLogin": 0,
"lastSessionActivity": ms|0}}``.
``jobs``: ``{KEY: [job, ...]}`` newest first, each ``{"def": {"id", "name",
"type": "NON_RECURSIVE_FORCED_BUILD", "projectKey", "initiator",
"initiationTimestamp": ms, "triggeredFrom": "USER"|"SCENARIO", "outputs":
[{"targetDatasetProjectKey", "targetDataset", "type": "DATASET"}]}, "state":
"DONE"|"FAILED"|"ABORTED"|"RUNNING", "stableState": bool, "startTime": ms,
"endTime": ms|0, "warningsCount": int}``.  Includes api_only jobs, excludes
folder_only and orphan ones.  ``startTime == def.initiationTimestamp`` == the
time in the job ID; the job folder's mtime is ``endTime`` (``startTime`` while
running).
``scenario_runs``: ``{KEY: {SCENARIO_ID: [run, ...]}}`` newest first, each
``{"runId", "start": ms, "end": ms|0, "scenario": {"projectKey", "id", "name"},
"trigger": {"trigger": {"id", "type": "temporal", "name"}}, "result":
{"outcome": "SUCCESS"|"WARNING"|"FAILED"|"ABORTED", "type": "SCENARIO_DONE"}}``
(no ``result`` while running).  ``start`` == the time in ``runId``; the run
folder's mtime is ``end`` (``start`` while running).
``notebooks``: ``{KEY: [{"name", "language", "kernelSpec": {"name",
"display_name", "language"}, "sessions": [{"sessionId", "kernelId",
"memory_mb", "children_mb", "container", "kernelExecutionState", "kernelConnections",
"kernelLastActivityTime": ms, "sessionStartTime": ms, "sessionCreator",
"sessionCreatorDisplayName", "sessionUnixOwner"}]}]}`` (no ``kernelPid``: a
fake pid could name a real process on the test machine).
``api_keys``: ``[{"key": 32 hex chars, "user": login}]``, one personal key per
user, also in ``config/personal-apikeys.json``.
``messaging_channels``: the spec's channels.
Extras, beyond the brief, for the simulator and for tests:
``projects`` (the ``list_projects`` items), ``users`` (``list_users`` items),
``groups``, ``scenarios`` (``{KEY: [scenario settings as written to
config/projects/KEY/scenarios/ID.json]}``), ``saved_models`` (``{KEY:
[{"id", "name", "activeVersion", "versions": [ids], "trainInfo": {version id: {"startTime",
"endTime"}}}]}``: version ids are epoch ms, the end of training; the times are also in each
version's ``train_info.json``), ``fixtures``
(``{"symlink": rel path, "symlink_target": link text, "outside_dir_abs",
"hardlinks": [rel, rel], "folder_only_jobs": {KEY: [ids]}, "api_only_jobs":
{KEY: [ids]}, "orphan_projects": [keys], "ml_tasks": {KEY: [{"analysisId", "mlTaskId",
"splits_used": [split ids a session names; the current one first], "splits_unused": [older
split ids no session names], "split_files": {split id: [rel paths]}}]}, "orphan_data": {KEY:
{area ("saved_models", "analysis-data", "managed_datasets", "managed_folders",
"jupyter-run/dku-workdirs"): {"path": rel folder of the project, "files", "bytes"}}},
"pre_migration_backups": [{"path": rel folder, "mtime_ms", "files": [rel paths]}],
"diagnosis": [{"path", "mtime_ms", "bytes"}]}``) and ``disk`` (``{"files", "bytes",
"by_top": {top: {"files", "bytes"}}}``: regular files written under dip_home,
apparent sizes, hard links counted once, the symlink and what it points to not
counted; ``"."`` is the files at the root).
"""

import collections
import concurrent.futures
import copy
import datetime
import gzip
import json
import os
import random
import re
import string

__all__ = [
    "build_datadir", "small_spec", "scale_spec",
    "DEFAULT_JAVA", "DEFAULT_GENERAL_SETTINGS", "DEFAULT_USERS", "DEFAULT_GROUPS",
]

DEFAULT_JAVA = {"backend.xmx": "8g", "jek.xmx": "2g", "fek.xmx": "2g", "hproxy.xmx": "2g"}

DEFAULT_GENERAL_SETTINGS = {
    "studioExternalUrl": "",
    "maxRunningActivities": 5,
    "maxRunningActivitiesPerJob": 5,
    # Value shape of maxRunningActivitiesPerKey is unverified (reference B/A).
    "maxRunningActivitiesPerKey": [],
    "jekSettings": {"maxRunningJobs": 0},
    "limits": {
        "memSampleBytes": {"soft": 536870912, "hard": 1073741824},
        "shakerMemTableBytes": {"soft": 536870912, "hard": 1073741824},
        "attachmentBytes": {"soft": -1, "hard": 52428800},
        "filteringAndFacetingMemBytes": {"soft": 524288000, "hard": 1048576000},
    },
    "cgroupSettings": {
        "enabled": False,
        "cgroupsVersion": "CGROUPS_V2",
        "hierarchiesMountPoint": "/sys/fs/cgroup",
        "jupyterKernels": {"targets": []},
        "pythonRRecipes": {"targets": []},
        "mlKernels": {"targets": []},
        "cgroups": [],
    },
    "security": {
        "sessionsMaxIdleTimeMinutes": 0,
        "hideVersionStringsWhenNotLogged": False,
        "secureCookies": False,
        "allowedIframeDomains": [],
    },
    "impersonation": {"enabled": False, "userRules": [], "groupRules": []},
    "containerSettings": {"executionConfigs": [], "defaultExecutionConfig": None},
    "sparkSettings": {"executionConfigs": []},
    "internalDatabase": {"externalConnection": None},
    "codeEnvs": {"defaultPythonEnv": None, "defaultREnv": None},
    "ldapSettings": {"enabled": False},
    "ssoSettings": {"enabled": False},
    "auditTrailSettings": {"targets": [{"type": "LOG", "topics": "ALL"}]},
}

DEFAULT_GROUPS = [
    {"name": "administrators", "admin": True, "description": "DSS administrators"},
    {"name": "data_team", "admin": False, "description": "Data scientists and analysts"},
]

DEFAULT_USERS = [
    {"login": "admin", "displayName": "Administrator", "email": "admin@example.com",
     "groups": ["administrators"]},
    {"login": "alice", "displayName": "Alice Martin", "email": "alice@example.com",
     "groups": ["data_team"]},
    {"login": "bob", "displayName": "Bob Chen", "email": "bob@example.com",
     "groups": ["data_team"]},
]

_TOP_KEYS = ("seed", "now", "dss_version", "node_type", "node_id", "java",
             "general_settings", "dip_properties", "users", "groups", "user_count",
             "projects", "orphan_projects", "exports", "bulk_bytes", "messaging_channels",
             "pre_migration_backups", "diagnosis")
_USER_KEYS = ("login", "displayName", "email", "groups", "enabled", "last_activity_minutes_ago")
_GROUP_KEYS = ("name", "admin", "description")
_PROJECT_KEYS = ("key", "name", "owner", "jobs", "scenarios", "notebooks", "saved_models",
                 "analyses", "managed_datasets", "managed_folders")
_JOBS_KEYS = ("count", "max_age_days", "running", "log_bytes", "api_only", "folder_only")
_SCENARIO_KEYS = ("id", "name", "runs", "every_hours", "running", "active")
_NOTEBOOK_KEYS = ("name", "language", "sessions")
_SESSION_KEYS = ("owner", "memory_mb", "children_mb", "container", "state", "idle_hours", "age_hours", "connections")
_ORPHAN_KEYS = ("key", "jobs", "scenario_runs", "saved_models", "analyses", "managed_datasets",
                "managed_folders", "jupyter_notebooks")
_BACKUP_KEYS = ("date", "age_days", "files")
_DIAGNOSIS_KEYS = ("files", "max_age_days")
_EXPORT_KEYS = ("count", "max_age_days")
_CHANNEL_KEYS = ("id", "type", "family", "sender")

_ALNUM = string.ascii_letters + string.digits
_LOWER_ALNUM = string.ascii_lowercase + string.digits
_HOUR_MS = 3600 * 1000
_DAY_MS = 24 * _HOUR_MS
_MB = 1024 * 1024
_WRITERS = 2   # threads doing the mkdir/open/utime of job folders (syscalls drop the GIL)
# Width-23 placeholder in pre-generated log lines, replaced by a real timestamp.
_TS_PH = b"0000/00/00-00:00:00.000"

_DATASET_WORDS = ["sales", "orders", "customers", "products", "web_logs", "events", "invoices",
                  "stores", "churn", "payments", "sessions", "campaigns", "leads", "stock",
                  "returns", "suppliers"]
_DATASET_SUFFIXES = ["raw", "clean", "prepared", "joined", "by_day", "scored", "agg", "filtered"]


# ----------------------------------------------------------------------------------------
# Spec validation
# ----------------------------------------------------------------------------------------

def _check_keys(obj, allowed, where):
    if not isinstance(obj, dict):
        raise ValueError("%s: expected a dict, got %r" % (where, type(obj).__name__))
    for k in obj:
        if k not in allowed:
            raise ValueError("unknown spec key %r in %s (allowed: %s)"
                             % (k, where, ", ".join(allowed)))


def _num(value, where, minimum=0):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("%s must be a number, got %r" % (where, value))
    if value < minimum:
        raise ValueError("%s must be >= %s, got %r" % (where, minimum, value))
    return value


def _int(value, where, minimum=0):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("%s must be an int, got %r" % (where, value))
    if value < minimum:
        raise ValueError("%s must be >= %s, got %r" % (where, minimum, value))
    return value


def _validate(spec):
    _check_keys(spec, _TOP_KEYS, "spec")
    for i, u in enumerate(spec.get("users") or []):
        _check_keys(u, _USER_KEYS, "users[%d]" % i)
        if "login" not in u:
            raise ValueError("users[%d]: 'login' is mandatory" % i)
    for i, g in enumerate(spec.get("groups") or []):
        _check_keys(g, _GROUP_KEYS, "groups[%d]" % i)
        if "name" not in g:
            raise ValueError("groups[%d]: 'name' is mandatory" % i)
    seen = set()
    for i, p in enumerate(spec.get("projects") or []):
        where = "projects[%d]" % i
        _check_keys(p, _PROJECT_KEYS, where)
        key = p.get("key")
        if not isinstance(key, str) or not re.match(r"^[A-Z0-9_]+$", key):
            raise ValueError("%s: 'key' is mandatory and must match [A-Z0-9_]+, got %r" % (where, key))
        if key in seen:
            raise ValueError("%s: duplicate project key %r" % (where, key))
        seen.add(key)
        if "jobs" in p:
            _check_keys(p["jobs"], _JOBS_KEYS, where + ".jobs")
        for j, s in enumerate(p.get("scenarios") or []):
            _check_keys(s, _SCENARIO_KEYS, "%s.scenarios[%d]" % (where, j))
            if not re.match(r"^[A-Za-z0-9_]+$", str(s.get("id", ""))):
                raise ValueError("%s.scenarios[%d]: 'id' is mandatory, [A-Za-z0-9_]+" % (where, j))
        for j, nb in enumerate(p.get("notebooks") or []):
            w = "%s.notebooks[%d]" % (where, j)
            _check_keys(nb, _NOTEBOOK_KEYS, w)
            if not isinstance(nb.get("name"), str) or not nb["name"] or "/" in nb["name"]:
                raise ValueError("%s: 'name' is mandatory and may not contain '/'" % w)
            for k, sess in enumerate(nb.get("sessions") or []):
                _check_keys(sess, _SESSION_KEYS, "%s.sessions[%d]" % (w, k))
    for i, o in enumerate(spec.get("orphan_projects") or []):
        _check_keys(o, _ORPHAN_KEYS, "orphan_projects[%d]" % i)
        if not re.match(r"^[A-Z0-9_]+$", str(o.get("key", ""))):
            raise ValueError("orphan_projects[%d]: 'key' is mandatory, [A-Z0-9_]+" % i)
        if o["key"] in seen:
            raise ValueError("orphan_projects[%d]: %r is also a real project" % (i, o["key"]))
        for k in _ORPHAN_KEYS[1:]:
            _int(o.get(k, 0), "orphan_projects[%d].%s" % (i, k))
    backups = spec.get("pre_migration_backups") or []
    if not isinstance(backups, list):
        raise ValueError("pre_migration_backups must be a list")
    dates = set()
    for i, b in enumerate(backups):
        _check_keys(b, _BACKUP_KEYS, "pre_migration_backups[%d]" % i)
        _num(b.get("age_days", 0), "pre_migration_backups[%d].age_days" % i)
        _int(b.get("files", 3), "pre_migration_backups[%d].files" % i)
        if "date" in b:
            if not re.match(r"^\d{8}$", str(b["date"])):
                raise ValueError("pre_migration_backups[%d].date must be YYYYMMDD, got %r" % (i, b["date"]))
            if b["date"] in dates:
                raise ValueError("pre_migration_backups[%d]: duplicate date %r" % (i, b["date"]))
            dates.add(b["date"])
    if spec.get("diagnosis") is not None:
        _check_keys(spec["diagnosis"], _DIAGNOSIS_KEYS, "diagnosis")
        _int(spec["diagnosis"].get("files", 0), "diagnosis.files")
        _num(spec["diagnosis"].get("max_age_days", 60), "diagnosis.max_age_days")
    if spec.get("exports") is not None:
        _check_keys(spec["exports"], _EXPORT_KEYS, "exports")
    channel_ids = set()
    for i, c in enumerate(spec.get("messaging_channels") or []):
        _check_keys(c, _CHANNEL_KEYS, "messaging_channels[%d]" % i)
        if not isinstance(c.get("id"), str) or not c["id"] or not isinstance(c.get("type"), str):
            raise ValueError("messaging_channels[%d]: 'id' and 'type' are mandatory strings" % i)
        if c["id"] in channel_ids:
            raise ValueError("messaging_channels[%d]: duplicate id %r" % (i, c["id"]))
        channel_ids.add(c["id"])
    if spec.get("node_type", "design") not in ("design", "automation"):
        raise ValueError("node_type must be 'design' or 'automation', got %r" % spec.get("node_type"))
    for k in ("java", "general_settings", "dip_properties", "bulk_bytes"):
        if spec.get(k) is not None and not isinstance(spec[k], dict):
            raise ValueError("%s must be a dict" % k)
    for top, n in (spec.get("bulk_bytes") or {}).items():
        if not isinstance(top, str) or not top or "/" in top or top in (".", ".."):
            raise ValueError("bulk_bytes: bad top-level folder name %r" % (top,))
        _int(n, "bulk_bytes[%r]" % top)


def _deep_merge(base, override):
    out = copy.deepcopy(base)
    for k, v in override.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


# ----------------------------------------------------------------------------------------
# Time helpers
# ----------------------------------------------------------------------------------------

def _parse_now(value):
    if value is None:
        dt = datetime.datetime.now().replace(microsecond=0)
    elif isinstance(value, str):
        try:
            dt = datetime.datetime.fromisoformat(value)
        except ValueError:
            raise ValueError("now: not an ISO date-time: %r" % (value,))
    else:
        raise ValueError("now must be an ISO string, got %r" % (value,))
    return int(round(dt.timestamp() * 1000))


def _local(ms):
    return datetime.datetime.fromtimestamp(ms // 1000)


def _utc(ms):
    return datetime.datetime.fromtimestamp(ms // 1000, datetime.timezone.utc)


def job_id_time(ms):
    """The time part of a job ID started at ``ms``: UTC, whatever the server's zone (the one
    public example, ``..._2015-09-28T09-17-37.455`` with initiationTimestamp 1443431857455,
    is exactly UTC)."""
    d = _utc(ms)
    return "%04d-%02d-%02dT%02d-%02d-%02d.%03d" % (d.year, d.month, d.day, d.hour, d.minute,
                                                    d.second, ms % 1000)


def run_id(ms):
    """The ID of a scenario run started at ``ms`` (UTC, like job IDs)."""
    d = _utc(ms)
    return "%04d-%02d-%02d-%02d-%02d-%02d-%03d" % (d.year, d.month, d.day, d.hour, d.minute,
                                                    d.second, ms % 1000)


def _log_ts(ms):
    d = _local(ms)
    return "%04d/%02d/%02d-%02d:%02d:%02d.%03d" % (d.year, d.month, d.day, d.hour, d.minute,
                                                    d.second, ms % 1000)


def _utc_iso_ts(ms):
    d = datetime.datetime.fromtimestamp(ms // 1000, datetime.timezone.utc)
    return "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (d.year, d.month, d.day, d.hour, d.minute,
                                                     d.second, ms % 1000)


def _nginx_ts(ms):
    d = datetime.datetime.fromtimestamp(ms // 1000).astimezone()
    return d.strftime("%d/%b/%Y:%H:%M:%S %z")


def _write_job_folders(ops):
    """Filesystem side of job folders (run in the writer pool): mkdir, write, set mtimes."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    mkdir, utime, osopen, osclose = os.mkdir, os.utime, os.open, os.close
    for jd, ad, acts, data, t in ops:
        mkdir(jd)
        mkdir(ad)
        for add, adata, a_ns in acts:
            mkdir(add)
            p = add + "/log.log"
            fd = osopen(p, flags, 0o644)
            _write_all(fd, adata)
            osclose(fd)
            utime(p, ns=(a_ns, a_ns))
            utime(add, ns=(a_ns, a_ns))
        p = jd + "/output.log"
        fd = osopen(p, flags, 0o644)
        _write_all(fd, data)
        osclose(fd)
        utime(p, ns=(t, t))
        utime(ad, ns=(t, t))
        utime(jd, ns=(t, t))


def _write_all(fd, data):
    n = os.write(fd, data)
    if n != len(data):
        view = memoryview(data)[n:]
        while view:
            view = view[os.write(fd, view):]


# ----------------------------------------------------------------------------------------
# The builder
# ----------------------------------------------------------------------------------------

class _Builder(object):
    def __init__(self, spec, dip_home):
        _validate(spec)
        self.spec = spec
        self.root = os.path.abspath(os.fspath(dip_home))
        self.outside = self.root.rstrip(os.sep) + ".outside"
        for p in (self.root, self.outside):
            if os.path.lexists(p) and (not os.path.isdir(p) or os.listdir(p)):
                raise ValueError("%s exists and is not an empty directory" % p)
        self.rng = random.Random(spec.get("seed", 0))
        self.now_ms = _parse_now(spec.get("now"))
        self.node_type = spec.get("node_type", "design")
        self.version = str(spec.get("dss_version", "14.2.1"))
        self.node_id = spec.get("node_id") or ("dss-" + self.node_type)
        self.code_envs_dir = "acode-envs" if self.node_type == "automation" else "code-envs"
        self._pool = None
        self._pending = collections.deque()
        self.dirs = {}        # rel dir -> mtime ms, applied at the end
        self.stats = {}       # top -> [files, bytes]
        self.model = {}
        self.fixtures = {"folder_only_jobs": {}, "api_only_jobs": {}, "orphan_projects": [], "ml_tasks": {},
                         "orphan_data": {}, "pre_migration_backups": [], "diagnosis": []}
        # Shared blocks, built once per build (fast big trees: reuse, don't regenerate).
        self.blob = self.rng.getrandbits(8 * _MB).to_bytes(_MB, "little")
        self.job_body = self._make_log_body(256 * 1024)

    # -- low-level writers -------------------------------------------------------------

    def _acc(self, rel, nbytes, nfiles=1):
        top = rel.split("/", 1)[0] if "/" in rel else "."
        st = self.stats.get(top)
        if st is None:
            st = self.stats[top] = [0, 0]
        st[0] += nfiles
        st[1] += nbytes

    def d(self, rel, mtime_ms=None):
        """Create dir rel (and parents); its mtime is set at the end of the build."""
        if rel not in self.dirs:
            os.makedirs(os.path.join(self.root, rel), exist_ok=True)
            parts = rel.split("/")
            for i in range(1, len(parts)):
                self.dirs.setdefault("/".join(parts[:i]), self.now_ms)
            self.dirs[rel] = self.now_ms
        if mtime_ms is not None:
            self.dirs[rel] = mtime_ms
        return os.path.join(self.root, rel)

    def f(self, rel, data, mtime_ms=None, mode=None):
        """Write a file (str or bytes), set its mtime (default now)."""
        parent = rel.rsplit("/", 1)[0] if "/" in rel else ""
        if parent and parent not in self.dirs:
            self.d(parent)
        if isinstance(data, str):
            data = data.encode("utf-8")
        path = os.path.join(self.root, rel)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644 if mode is None else mode)
        try:
            _write_all(fd, data)
        finally:
            os.close(fd)
        if mode is not None:
            os.chmod(path, mode)
        t = (self.now_ms if mtime_ms is None else mtime_ms) * 1000000
        os.utime(path, ns=(t, t))
        self._acc(rel, len(data))
        return path

    def j(self, rel, obj, mtime_ms=None):
        return self.f(rel, json.dumps(obj, indent=2) + "\n", mtime_ms)

    def filler(self, rel, nbytes, mtime_ms=None):
        """A file of nbytes real (non-sparse) pseudo-random bytes from the shared blob."""
        if nbytes <= len(self.blob):
            off = self.rng.randrange(0, len(self.blob) - nbytes + 1)
            data = self.blob[off:off + nbytes]
        else:
            reps, rest = divmod(nbytes, len(self.blob))
            data = self.blob * reps + self.blob[:rest]
        return self.f(rel, data, mtime_ms)

    def submit(self, fn, *args):
        """Run filesystem-only work in the writer pool (content was generated already, in
        order, so the pool does not affect determinism).  Bounded backlog."""
        if _WRITERS <= 0:
            fn(*args)
            return
        if self._pool is None:
            self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=_WRITERS)
        self._pending.append(self._pool.submit(fn, *args))
        while len(self._pending) > 6:
            self._pending.popleft().result()

    def drain(self):
        try:
            while self._pending:
                self._pending.popleft().result()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None

    def ident(self, n=8, alphabet=_ALNUM):
        rng = self.rng
        return "".join(rng.choice(alphabet) for _ in range(n))

    def hexid(self, nbytes=16):
        return "%0*x" % (nbytes * 2, self.rng.getrandbits(8 * nbytes))

    def uuid4(self):
        v = self.rng.getrandbits(128)
        v &= ~(0xc000 << 48)
        v |= 0x8000 << 48
        v &= ~(0xf000 << 64)
        v |= 4 << 76
        h = "%032x" % v
        return "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])

    def _make_log_body(self, size):
        """Generic JEK log lines with a timestamp placeholder, ~size bytes."""
        rng = self.rng
        tpl = [
            "[%s] [ActivityExecutor-%d] [INFO] [dku.flow.activity] act.compute_%s_NP - Processed %d rows\n",
            "[%s] [FRT-%d-FlowRunnable] [INFO] [dku.flow.shaker] - Step %d done, %d records in output\n",
            "[%s] [FRT-%d-FlowRunnable] [DEBUG] [dku.datasets.file] - Writing split out-s%d.csv.gz (%d bytes)\n",
            "[%s] [ActivityExecutor-%d] [INFO] [dip.exec.resultHandler] - Activity state report: %s (%d ms)\n",
            "[%s] [qtp%d-77] [INFO] [dku.flow.jobrunner] - Updating job status, %d activities pending\n",
        ]
        out = []
        n = 0
        ph = _TS_PH.decode()
        while n < size:
            k = rng.randrange(len(tpl))
            if k == 0:
                line = tpl[0] % (ph, rng.randrange(1, 64), rng.choice(_DATASET_WORDS), rng.randrange(10 ** 6))
            elif k == 1:
                line = tpl[1] % (ph, rng.randrange(1, 64), rng.randrange(1, 40), rng.randrange(10 ** 7))
            elif k == 2:
                line = tpl[2] % (ph, rng.randrange(1, 64), rng.randrange(0, 16), rng.randrange(10 ** 8))
            elif k == 3:
                line = tpl[3] % (ph, rng.randrange(1, 64), rng.choice(["RUNNING", "DONE"]), rng.randrange(10 ** 5))
            else:
                line = tpl[4] % (ph, rng.randrange(100000, 999999), rng.randrange(0, 9))
            out.append(line)
            n += len(line)
        return "".join(out).encode("ascii")

    def timed_lines(self, start_ms, end_ms, size, make_line):
        """Log text of ~size bytes with ascending timestamps between start and end."""
        rng = self.rng
        lines = []
        n = 0
        # Estimate the number of lines from one sample to spread timestamps evenly.
        sample = make_line(start_ms)
        count = max(1, size // max(1, len(sample)))
        step = max(1, (end_ms - start_ms) // count)
        t = start_ms
        while n < size:
            line = make_line(t)
            lines.append(line)
            n += len(line)
            t = min(end_ms, t + rng.randrange(1, 2 * step + 1))
        return "".join(lines)

    # -- people ------------------------------------------------------------------------

    def build_people(self):
        spec, rng, now = self.spec, self.rng, self.now_ms
        groups = [dict(g) for g in (spec["groups"] if spec.get("groups") is not None else DEFAULT_GROUPS)]
        users = [dict(u) for u in (spec["users"] if spec.get("users") is not None else DEFAULT_USERS)]
        ucount = _int(spec.get("user_count", 0), "user_count")
        if ucount and not any(g["name"] == "data_team" for g in groups):
            groups.append({"name": "data_team", "admin": False, "description": "Data team"})
        for i in range(1, ucount + 1):
            users.append({"login": "user%03d" % i, "displayName": "User %03d" % i,
                          "email": "user%03d@example.com" % i, "groups": ["data_team"]})
        gnames = set(g["name"] for g in groups)
        logins = set()
        for u in users:
            if u["login"] in logins:
                raise ValueError("users: duplicate login %r" % u["login"])
            logins.add(u["login"])
            for g in u.get("groups", []):
                if g not in gnames:
                    raise ValueError("users: %r is in unknown group %r" % (u["login"], g))
        self.users = users
        self.groups = groups
        self.user_by_login = dict((u["login"], u) for u in users)

        activity = {}
        for u in users:
            if "last_activity_minutes_ago" in u:
                mins = u["last_activity_minutes_ago"]
                if mins is not None:
                    _num(mins, "users[%s].last_activity_minutes_ago" % u["login"])
            else:
                r = rng.random()
                if r < 0.5:
                    mins = rng.uniform(0.5, 30)
                elif r < 0.85:
                    mins = rng.uniform(60, 14 * 24 * 60)
                else:
                    mins = None
            if mins is None:
                activity[u["login"]] = {"lastSuccessfulLogin": 0, "lastFailedLogin": 0,
                                        "lastSessionActivity": 0}
            else:
                last = now - int(mins * 60000)
                login = last - rng.randrange(0, 8 * _HOUR_MS)
                activity[u["login"]] = {"lastSuccessfulLogin": login, "lastFailedLogin": 0,
                                        "lastSessionActivity": last}
        self.model["activity"] = activity

        # config/users.json: this shape is a GUESS (not verified on a real instance).
        self.j("config/users.json", {
            "users": [{"login": u["login"], "displayName": u.get("displayName", u["login"]),
                       "email": u.get("email", "%s@example.com" % u["login"]),
                       "groups": list(u.get("groups", [])), "sourceType": "LOCAL",
                       "enabled": bool(u.get("enabled", True)), "userProfile": "DESIGNER"}
                      for u in users],
            "groups": [{"name": g["name"], "admin": bool(g.get("admin", False)),
                        "description": g.get("description", ""), "sourceType": "LOCAL"}
                       for g in groups],
        }, now - 30 * _DAY_MS)
        self.model["users"] = [{"login": u["login"], "displayName": u.get("displayName", u["login"]),
                                "email": u.get("email", "%s@example.com" % u["login"]),
                                "groups": list(u.get("groups", [])), "userProfile": "DESIGNER",
                                "sourceType": "LOCAL", "enabled": bool(u.get("enabled", True))}
                               for u in users]
        self.model["groups"] = [{"name": g["name"], "admin": bool(g.get("admin", False)),
                                 "description": g.get("description", ""), "sourceType": "LOCAL"}
                                for g in groups]

        keys = []
        records = []
        for u in users:
            k = self.hexid(16)
            keys.append({"key": k, "user": u["login"]})
            created = now - rng.randrange(1, 400) * _DAY_MS
            records.append({"id": self.ident(12), "key": k, "user": u["login"],
                            "label": "personal key of %s" % u["login"],
                            "createdOn": created, "createdBy": u["login"]})
        self.model["api_keys"] = keys
        # config/personal-apikeys.json: shape GUESSED (real DSS may store hashed keys).
        self.j("config/personal-apikeys.json", {"apiKeys": records}, now - 2 * _DAY_MS)
        self.j("config/public-apikeys.json", {"keys": []}, now - 200 * _DAY_MS)

    def display_name(self, login):
        u = self.user_by_login.get(login)
        return u.get("displayName", login) if u else login

    # -- instance-level files ------------------------------------------------------------

    def build_install(self):
        spec, now = self.spec, self.now_ms
        install_ms = now - 400 * _DAY_MS
        self.install_id = self.ident(20, _LOWER_ALNUM)
        java = dict(DEFAULT_JAVA)
        for k, v in (spec.get("java") or {}).items():
            if v is None:
                java.pop(k, None)
            else:
                java[k] = str(v)
        lines = ["[general]", "nodetype = %s" % self.node_type, "installid = %s" % self.install_id,
                 "nodeid = %s" % self.node_id, "", "[server]", "port = 11200", "", "[javaopts]"]
        lines += ["%s = %s" % (k, v) for k, v in java.items()]
        lines += ["", "[logs]", "logfiles_maxbytes = 100MB", "logfiles_backups = 10",
                  "", "[git]", "mode = project", ""]
        self.f("install.ini", "\n".join(lines), install_ms + _DAY_MS)

        major, minor, patch = (self.version.split(".") + ["0", "0"])[:3]
        try:
            conf = "%d" % (int(major) * 1000 + int(minor) * 100 + int(re.sub(r"\D.*", "", patch) or 0) * 10)
        except ValueError:
            conf = "0"
        self.j("dss-version.json", {"product_version": self.version, "conf_version": conf,
                                    "product_commitid": self.hexid(20)}, install_ms)

        install_dir = "/opt/dataiku/dataiku-dss-%s" % self.version
        env = ["# Generated by dssadmin regenerate-config from install.ini - do not edit,",
               "# put local overrides in bin/env-site.sh",
               'export DKUINSTALLDIR="%s"' % install_dir,
               'export DKUJAVABIN="/usr/lib/jvm/java-17-openjdk-amd64/bin/java"',
               'export DKUPYTHONBIN="$DIP_HOME/pyenv/bin/python"',
               'export DKU_NODE_TYPE="%s"' % self.node_type]
        procs = []
        for k in java:
            p = k.split(".", 1)[0]
            if p not in procs:
                procs.append(p)
        for p in procs:
            opts = []
            if p + ".xmx" in java:
                opts.append("-Xmx" + java[p + ".xmx"])
            opts += ["-XX:+UseG1GC", "-Djava.awt.headless=true"]
            if java.get(p + ".additional.opts"):
                opts.append(java[p + ".additional.opts"])
            env.append('export DKU_%s_JAVA_OPTS="%s"' % (p.upper(), " ".join(opts)))
        env.append('export DKU_BACKEND_PORT="11200"')
        self.f("bin/env-default.sh", "\n".join(env) + "\n", install_ms + _DAY_MS, 0o755)
        self.f("bin/env-site.sh", "# Site-specific overrides\n", install_ms, 0o755)
        for name in ("dss", "dssadmin", "dsscli", "dku", "jek", "fek", "python", "pip"):
            body = ('#!/bin/bash -e\n# DSS %s wrapper\nDIP_HOME="$(cd "$(dirname "$0")"/.. && pwd -P)"\n'
                    'export DIP_HOME\nsource "$DIP_HOME/bin/env-default.sh"\n'
                    'exec "$DKUINSTALLDIR/scripts/%s" "$@"\n' % (name, name))
            self.f("bin/" + name, body, install_ms, 0o755)
        self.java = java

    def build_config(self):
        spec, now = self.spec, self.now_ms
        gs = _deep_merge(DEFAULT_GENERAL_SETTINGS, spec.get("general_settings") or {})
        self.j("config/general-settings.json", gs, now - 20 * _DAY_MS)
        props = spec.get("dip_properties") or {}
        if props:
            self.f("config/dip.properties",
                   "".join("%s=%s\n" % (k, v) for k, v in props.items()), now - 20 * _DAY_MS)
        conns = {
            "filesystem_managed": {"type": "Filesystem", "params": {"root": "${dip.home}/managed_datasets"},
                                   "allowedGroups": [], "usableBy": "ALL", "allowWrite": True,
                                   "allowManagedDatasets": True, "allowManagedFolders": False,
                                   "detailsReadability": {"readableBy": "NONE", "allowedGroups": []}},
            "filesystem_folders": {"type": "Filesystem", "params": {"root": "${dip.home}/managed_folders"},
                                   "allowedGroups": [], "usableBy": "ALL", "allowWrite": True,
                                   "allowManagedDatasets": False, "allowManagedFolders": True,
                                   "detailsReadability": {"readableBy": "NONE", "allowedGroups": []}},
            "filesystem_root": {"type": "Filesystem", "params": {"root": "/"},
                                "allowedGroups": ["administrators"], "usableBy": "ALLOWED",
                                "allowWrite": False, "allowManagedDatasets": False,
                                "allowManagedFolders": False,
                                "detailsReadability": {"readableBy": "NONE", "allowedGroups": []}},
            "dwh_postgres": {"type": "PostgreSQL",
                             "params": {"host": "pg.internal.example.com", "port": "5432", "db": "dwh",
                                        "user": "dss", "password": "", "namingRule": {
                                            "tableNameDatasetNamePrefix": "${projectKey}_"}},
                             "allowedGroups": ["data_team"], "usableBy": "ALLOWED", "allowWrite": True,
                             "allowManagedDatasets": True, "allowManagedFolders": False,
                             "detailsReadability": {"readableBy": "NONE", "allowedGroups": []}},
        }
        self.j("config/connections.json", {"connections": conns}, now - 60 * _DAY_MS)
        self.j("config/variables.json", {}, now - 300 * _DAY_MS)
        self.j("config/license.json", {"content": {"licensee": {"company": "Example Corp"},
                                                   "expiresOn": "20991231", "instanceId": self.install_id}},
               now - 300 * _DAY_MS)
        for pid in ("googlesheets", "timeseries-preparation"):
            self.j("config/plugins/%s/settings.json" % pid, {"config": {}, "presets": []}, now - 90 * _DAY_MS)
        self.d("config/project_folders")
        self.j("config/project_folders/ROOT.json", {"id": "ROOT", "name": "", "children": []},
               now - 90 * _DAY_MS)

    # -- projects ------------------------------------------------------------------------

    def _dataset_names(self, n):
        rng = self.rng
        names = []
        while len(names) < n:
            nm = "%s_%s" % (rng.choice(_DATASET_WORDS), rng.choice(_DATASET_SUFFIXES))
            if nm in names:
                nm = "%s_%d" % (nm, len(names))
            names.append(nm)
        return names

    def build_projects(self):
        rng, now = self.rng, self.now_ms
        enabled = [u["login"] for u in self.users if u.get("enabled", True)] or [self.users[0]["login"]]
        self.model["projects"] = []
        self.model["jobs"] = {}
        self.model["scenario_runs"] = {}
        self.model["scenarios"] = {}
        self.model["notebooks"] = {}
        self.model["saved_models"] = {}
        self.project_info = []
        for p in self.spec.get("projects") or []:
            key = p["key"]
            owner = p.get("owner") or rng.choice(enabled)
            if owner not in self.user_by_login:
                raise ValueError("project %s: unknown owner %r" % (key, owner))
            name = p.get("name") or key.replace("_", " ").title()
            n_managed = _int(p.get("managed_datasets", 2), key + ".managed_datasets")
            n_ds = max(3, n_managed + rng.randrange(1, 3))
            datasets = self._dataset_names(n_ds)
            jobs_spec = p.get("jobs") or {}
            max_age = _num(jobs_spec.get("max_age_days", 30), key + ".jobs.max_age_days")
            created = now - int((max_age + rng.uniform(10, 200)) * _DAY_MS)
            info = {"key": key, "owner": owner, "name": name, "datasets": datasets,
                    "managed": datasets[:n_managed], "created": created}
            self.project_info.append(info)
            base = "config/projects/" + key
            self.j(base + "/params.json", {
                "projectKey": key, "name": name, "owner": owner,
                "shortDesc": "%s project" % name, "tags": [],
                "creationTag": {"versionNumber": 0, "lastModifiedBy": {"login": owner},
                                "lastModifiedOn": created},
                "versionTag": {"versionNumber": rng.randrange(5, 400), "lastModifiedBy": {"login": owner},
                               "lastModifiedOn": now - rng.randrange(1, 20 * 24) * _HOUR_MS},
                # As DSS stores a permission: the group and all 12 flags (a DSS 8 export's params.json).
                "permissions": [{"group": "data_team", "admin": False, "readProjectContent": True,
                                 "writeProjectContent": True, "exportDatasetsData": True,
                                 "readDashboards": True, "writeDashboards": True, "moderateDashboards": False,
                                 "runScenarios": True, "manageDashboardAuthorizations": False,
                                 "manageExposedElements": False, "manageAdditionalDashboardUsers": False,
                                 "executeApp": False}],
                "projectStatus": "In Progress",
            }, now - rng.randrange(1, 30) * _DAY_MS)
            self.j(base + "/tags.json", {"tags": {}}, created)
            self.j(base + "/variables.json", {"standard": {}, "local": {}}, created)
            for i, ds in enumerate(datasets):
                if ds in info["managed"]:
                    dsdef = {"projectKey": key, "name": ds, "type": "Filesystem", "managed": True,
                             "formatType": "csv",
                             "formatParams": {"style": "unix", "separator": "\t", "compress": "gz"},
                             "params": {"connection": "filesystem_managed", "path": "${projectKey}/" + ds}}
                else:
                    dsdef = {"projectKey": key, "name": ds, "type": "PostgreSQL", "managed": True,
                             "params": {"connection": "dwh_postgres", "mode": "table",
                                        "table": "${projectKey}_" + ds}}
                dsdef["schema"] = {"columns": [{"name": "id", "type": "bigint"},
                                               {"name": "label", "type": "string"},
                                               {"name": "amount", "type": "double"},
                                               {"name": "day", "type": "date"}]}
                self.j("%s/datasets/%s.json" % (base, ds), dsdef, created + i * _HOUR_MS)
            self.model["projects"].append({"projectKey": key, "name": name, "ownerLogin": owner,
                                           "ownerDisplayName": self.display_name(owner),
                                           "shortDesc": "%s project" % name, "tags": []})
            scen_defs = self.build_scenarios(info, p.get("scenarios") or [])
            info["scenarios"] = scen_defs
            self.build_jobs(info, jobs_spec)
            self.build_notebooks(info, p.get("notebooks") or [])
            self.build_saved_models(info, _int(p.get("saved_models", 0), key + ".saved_models"))
            self.build_analyses(info, _int(p.get("analyses", 0), key + ".analyses"))
            self.build_managed_datasets(info)
            self.build_managed_folders(info, _int(p.get("managed_folders", 0), key + ".managed_folders"))
            self.d(base + "/recipes")
            for ds in datasets[1:]:
                self.j("%s/recipes/compute_%s.json" % (base, ds),
                       {"type": "shaker", "inputs": {"main": {"items": [{"ref": datasets[0]}]}},
                        "outputs": {"main": {"items": [{"ref": ds, "appendMode": False}]}}}, created)

    # -- jobs ------------------------------------------------------------------------------

    def _gen_finished_start(self, max_age_ms, taken, name):
        """(start_ms, end_ms, job_id) of a finished job somewhere in the age range."""
        rng, now = self.rng, self.now_ms
        r = rng.random
        lo = 20 * 60 * 1000
        span = max(1, max_age_ms - lo)
        dur = int(1000 * (2 + min(7200.0, rng.expovariate(1 / 90.0)))) + int(r() * 1000)
        start = now - lo - int(r() * span)
        end = start + dur
        if end >= now - 1000:
            end = now - 1000 - int(r() * 60000)
            start = end - dur
        end = max(end, start + 1000)
        jid = "%s_%s" % (name, job_id_time(start))
        while jid in taken:
            start -= 1
            jid = "%s_%s" % (name, job_id_time(start))
        taken.add(jid)
        return start, end, jid

    def _job_name(self, ds):
        return ("Build_%s_NP" if self.rng.random() < 0.35 else "Build_%s") % ds

    def build_jobs(self, info, js):
        rng, now = self.rng, self.now_ms
        key = info["key"]
        where = key + ".jobs"
        count = _int(js.get("count", 0), where + ".count")
        running = min(_int(js.get("running", 0), where + ".running"), count)
        api_only = _int(js.get("api_only", 0), where + ".api_only")
        folder_only = _int(js.get("folder_only", 0), where + ".folder_only")
        max_age_ms = int(_num(js.get("max_age_days", 30), where + ".max_age_days") * _DAY_MS)
        lb = js.get("log_bytes", [1000, 20000])
        if not (isinstance(lb, (list, tuple)) and len(lb) == 2 and 0 <= lb[0] <= lb[1]):
            raise ValueError("%s.log_bytes must be [min, max]" % where)
        datasets = info["datasets"]
        scen_users = [s["runAs"] for s in info["scenarios"]]
        people = [info["owner"]] + [u["login"] for u in self.users[:6] if u.get("enabled", True)]
        taken = set()
        records = []   # (start, end, state, jid, name, ds, initiator, trig, warnings, kind)
        for i in range(running):
            ds = rng.choice(datasets[1:])
            name = self._job_name(ds)
            start = now - rng.randrange(30 * 1000, 45 * 60 * 1000)
            jid = "%s_%s" % (name, job_id_time(start))
            while jid in taken:
                start -= 1
                jid = "%s_%s" % (name, job_id_time(start))
            taken.add(jid)
            records.append([start, 0, "RUNNING", jid, name, ds, "folder+api"])
        n_fin = count - running
        total = n_fin + api_only + folder_only
        kinds = ["folder+api"] * total
        picks = rng.sample(range(total), api_only + folder_only)
        for i in picks[:api_only]:
            kinds[i] = "api"
        for i in picks[api_only:]:
            kinds[i] = "folder"
        targets = datasets[1:]
        n_t = len(targets)
        for i in range(total):
            ds = targets[int(rng.random() * n_t)]
            name = self._job_name(ds)
            start, end, jid = self._gen_finished_start(max_age_ms, taken, name)
            r = rng.random()
            state = "FAILED" if r < 0.10 else ("ABORTED" if r < 0.13 else "DONE")
            records.append([start, end, state, jid, name, ds, kinds[i]])
        records.sort(key=lambda r: r[0], reverse=True)

        lo, hi = int(lb[0]), int(lb[1])
        body = self.job_body
        base_rel = "jobs/" + key
        if records:
            self.d(base_rel, records[0][0])
        base = os.path.join(self.root, "jobs", key)
        nfiles = nbytes = 0
        ops = []
        act_ops = []
        model_jobs = []
        f_only, a_only = [], []
        r = rng.random
        n_scen, n_people, n_ds = len(scen_users), len(people), len(datasets)
        for start, end, state, jid, name, ds, kind in records:
            is_run = state == "RUNNING"
            if n_scen and r() < 0.3:
                trig, initiator = "SCENARIO", scen_users[int(r() * n_scen)]
            else:
                trig, initiator = "USER", people[int(r() * n_people)]
            warnings = 1 + int(r() * 3) if (state == "DONE" and r() < 0.1) else 0
            if kind != "folder":
                model_jobs.append({
                    "def": {"id": jid, "name": name, "type": "NON_RECURSIVE_FORCED_BUILD",
                            "projectKey": key, "initiator": initiator, "initiationTimestamp": start,
                            "triggeredFrom": trig,
                            "outputs": [{"targetDatasetProjectKey": key, "targetDataset": ds,
                                         "type": "DATASET"}]},
                    "state": state, "stableState": not is_run, "startTime": start,
                    "endTime": end, "warningsCount": warnings})
            if kind == "api":
                a_only.append(jid)
                continue
            if kind == "folder":
                f_only.append(jid)
            # --- the folder: output.log + activities/<act>/log.log
            mt = start if is_run else end
            s_s = _log_ts(start)
            s_e = s_s if is_run else _log_ts(end)
            ts_s = s_s.encode()
            ts_e = s_e.encode()
            head = ("[%s] [main] [INFO] [dku.job.slave] - Starting job %s (project %s)\n"
                    "[%s] [main] [INFO] [dku.job.slave] - Initiated by %s, triggered from %s\n"
                    % (s_s, jid, key, s_s, initiator, trig)).encode()
            tail = b"" if is_run else ("[%s] [main] [INFO] [dku.job.slave] - Job %s done, state=%s\n"
                                       % (s_e, jid, state)).encode()
            size = lo + int(r() * (hi - lo + 1))
            if is_run:
                size //= 2
            room = size - len(head) - len(tail)
            if room > 0:
                if room > len(body):
                    mid = body * (room // len(body)) + body[:room % len(body)]
                else:
                    mid = body[:room]
                cut = mid.rfind(b"\n") + 1
                mid = mid[:cut]
                h = mid.find(b"\n", len(mid) // 2) + 1
                mid = mid[:h].replace(_TS_PH, ts_s) + mid[h:].replace(_TS_PH, ts_e)
                data = head + mid + tail
            else:
                data = head + tail
            jd = base + "/" + jid
            ad = jd + "/activities"
            n_act = 1 if r() < 0.7 else 2 + int(r() * 2)
            acts = ["compute_%s_NP" % ds]
            for extra in range(1, n_act):
                acts.append("compute_%s_NP" % datasets[(datasets.index(ds) + extra) % n_ds])
            mt_ns = mt * 1000000
            for ai, act in enumerate(acts):
                a_end = mt if is_run else start + (end - start) * (ai + 1) // n_act
                adata = ("[%s] [ActivityExecutor-%d] [INFO] [dku.flow.activity] act.%s - Run activity\n"
                         "[%s] [ActivityExecutor-%d] [INFO] [dku.flow.activity] act.%s - %s\n"
                         % (s_s, ai + 1, act, s_e if a_end == mt else _log_ts(a_end), ai + 1, act,
                            "Running" if is_run else "Activity finished, state=%s"
                            % ("DONE" if ai < len(acts) - 1 else state))).encode()
                act_ops.append((ad + "/" + act, adata, a_end * 1000000))
                nfiles += 1
                nbytes += len(adata)
            ops.append((jd, ad, act_ops, data, mt_ns))
            act_ops = []
            nfiles += 1
            nbytes += len(data)
            if len(ops) >= 2000:
                self.submit(_write_job_folders, ops)
                ops = []
        if ops:
            self.submit(_write_job_folders, ops)
        self._acc("jobs/x", nbytes, nfiles)
        self.model["jobs"][key] = model_jobs
        if f_only:
            self.fixtures["folder_only_jobs"][key] = f_only
        if a_only:
            self.fixtures["api_only_jobs"][key] = a_only
        info["n_jobs"] = len(records)

    # -- scenarios -------------------------------------------------------------------------

    def build_scenarios(self, info, scen_specs):
        rng, now = self.rng, self.now_ms
        key = info["key"]
        defs = []
        self.model["scenario_runs"][key] = {}
        self.model["scenarios"][key] = []
        for s in scen_specs:
            sid = s["id"]
            where = "%s.scenarios[%s]" % (key, sid)
            name = s.get("name") or sid.replace("_", " ").title()
            every = _num(s.get("every_hours", 24), where + ".every_hours")
            if every <= 0:
                raise ValueError(where + ".every_hours must be > 0")
            n_runs = _int(s.get("runs", 0), where + ".runs")
            running = bool(s.get("running", False))
            active = bool(s.get("active", True))
            run_as = info["owner"]
            trig_id = self.ident(8)
            if every >= 24 and float(every / 24).is_integer():
                freq = {"frequency": "Daily", "repeatFrequency": int(every // 24)}
                tname = "Every day" if every == 24 else "Every %d days" % (every // 24)
            elif float(every).is_integer():
                freq = {"frequency": "Hourly", "repeatFrequency": int(every)}
                tname = "Every hour" if every == 1 else "Every %d hours" % every
            else:
                freq = {"frequency": "Minutely", "repeatFrequency": max(1, int(round(every * 60)))}
                tname = "Every %d minutes" % freq["repeatFrequency"]
            trig_params = dict(freq)
            trig_params.update({"startingFrom": "2024-01-01", "timezone": "SERVER", "minute": 0, "hour": 2})
            build_ds = info["datasets"][-1]
            settings = {
                "projectKey": key, "id": sid, "name": name, "type": "step_based", "active": active,
                "runAsUser": run_as,
                "triggers": [{"id": trig_id, "type": "temporal", "name": tname, "active": True,
                              "delay": 5, "params": trig_params}],
                "reporters": [],
                "params": {"steps": [{
                    "id": "build_0_true_d_" + build_ds, "type": "build_flowitem", "name": "Build",
                    "enabled": True, "runConditionType": "RUN_IF_STATUS_MATCH",
                    "runConditionStatuses": ["SUCCESS", "WARNING"], "maxRetriesOnFail": 0,
                    "params": {"builds": [{"type": "DATASET", "projectKey": key, "itemId": build_ds,
                                           "partitionsSpec": ""}],
                               "jobType": "RECURSIVE_FORCED_BUILD", "refreshHiveMetastore": True,
                               "proceedOnFailure": False}}]},
                "versionTag": {"versionNumber": rng.randrange(1, 30), "lastModifiedBy": {"login": run_as},
                               "lastModifiedOn": now - rng.randrange(3, 90) * _DAY_MS},
            }
            self.j("config/projects/%s/scenarios/%s.json" % (key, sid), settings,
                   settings["versionTag"]["lastModifiedOn"])
            self.model["scenarios"][key].append(settings)
            defs.append({"id": sid, "runAs": run_as})
            runs = self._write_scenario_runs(key, sid, name, n_runs, every, running,
                                             {"id": trig_id, "type": "temporal", "name": tname})
            self.model["scenario_runs"][key][sid] = runs
        return defs

    def _write_scenario_runs(self, key, sid, name, n_runs, every_hours, running, trigger,
                             in_model=True):
        rng, now = self.rng, self.now_ms
        every_ms = max(60000, int(every_hours * _HOUR_MS))
        slot = now - (now % every_ms)     # newest grid slot <= now (epoch grid)
        sdir_rel = "scenarios/%s/%s" % (key, sid)
        if n_runs:
            self.d(sdir_rel)
        base = os.path.join(self.root, "scenarios", key, sid)
        runs = []
        taken = set()
        k = 0
        nfiles = nbytes = 0
        newest = None
        while len(runs) < n_runs:
            start = slot - k * every_ms + 5000 + rng.randrange(0, 1500)
            k += 1
            first = not runs
            is_run = running and first
            if is_run:
                if start >= now:
                    start = now - rng.randrange(5000, 60000)
                end = 0
            else:
                dur = rng.randrange(20 * 1000, min(every_ms, 25 * 60 * 1000))
                end = start + dur
                if end >= now:
                    continue   # this slot's run would not be finished yet: skip it
            rid = run_id(start)
            if rid in taken:
                continue
            taken.add(rid)
            r = rng.random()
            outcome = "FAILED" if r < 0.08 else ("ABORTED" if r < 0.10 else
                                                   ("WARNING" if r < 0.18 else "SUCCESS"))
            run = {"runId": rid, "start": start, "end": end,
                   "scenario": {"projectKey": key, "id": sid, "name": name},
                   "trigger": {"trigger": dict(trigger)}}
            if not is_run:
                run["result"] = {"outcome": outcome, "type": "SCENARIO_DONE"}
            runs.append(run)
            mt = start if is_run else end
            if newest is None:
                newest = start
            lines = ["[%s] [scenario-%s] [INFO] [dku.scenario] - Starting scenario %s.%s, run %s\n"
                     % (_log_ts(start), sid, key, sid, rid),
                     "[%s] [scenario-%s] [INFO] [dku.scenario] - Triggered by %s\n"
                     % (_log_ts(start), sid, trigger["name"]),
                     "[%s] [scenario-%s] [INFO] [dku.scenario.step] - Running step Build\n"
                     % (_log_ts(start + 200), sid)]
            if not is_run:
                lines.append("[%s] [scenario-%s] [INFO] [dku.scenario] - Scenario run finished, outcome=%s\n"
                             % (_log_ts(end), sid, outcome))
            data = "".join(lines).encode()
            rd = base + "/" + rid
            os.mkdir(rd)
            # File names inside a run folder are UNVERIFIED (reference A): one log.log here.
            p = rd + "/log.log"
            fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            _write_all(fd, data)
            os.close(fd)
            t = mt * 1000000
            os.utime(p, ns=(t, t))
            os.utime(rd, ns=(t, t))
            nfiles += 1
            nbytes += len(data)
        if newest is not None:
            self.dirs[sdir_rel] = newest
        self._acc("scenarios/x", nbytes, nfiles)
        return runs

    # -- notebooks -------------------------------------------------------------------------

    def build_notebooks(self, info, nb_specs):
        rng, now = self.rng, self.now_ms
        key = info["key"]
        out = []
        for nb in nb_specs:
            lang = nb.get("language", "python")
            if lang == "python":
                ks = {"name": "python3", "display_name": "Python 3", "language": "python"}
            elif lang == "R":
                ks = {"name": "ir", "display_name": "R", "language": "R"}
            else:
                raise ValueError("%s notebook %s: language must be python or R" % (key, nb["name"]))
            ipynb = {"cells": [
                {"cell_type": "markdown", "metadata": {}, "source": ["# %s" % nb["name"]]},
                {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                 "source": ["import dataiku\n", "df = dataiku.Dataset(\"%s\").get_dataframe()"
                            % info["datasets"][0]] if lang == "python" else
                           ["library(dataiku)\n", "df <- dkuReadDataset(\"%s\")" % info["datasets"][0]]}],
                "metadata": {"kernelspec": ks, "language_info": {"name": lang},
                             "createdOn": info["created"], "creator": info["owner"],
                             "customFields": {}, "tags": []},
                "nbformat": 4, "nbformat_minor": 4}
            self.j("config/projects/%s/ipython_notebooks/%s.ipynb" % (key, nb["name"]), ipynb,
                   now - rng.randrange(1, 60) * _DAY_MS)
            sessions = []
            for k, s in enumerate(nb.get("sessions") or []):
                w = "%s notebook %s session %d" % (key, nb["name"], k)
                owner = s.get("owner") or info["owner"]
                if owner not in self.user_by_login:
                    raise ValueError("%s: unknown owner %r" % (w, owner))
                state = s.get("state", "idle")
                if state not in ("idle", "busy"):
                    raise ValueError("%s: state must be idle or busy" % w)
                idle_h = _num(s.get("idle_hours", 1), w + ".idle_hours")
                age_h = _num(s.get("age_hours", max(2, idle_h)), w + ".age_hours")
                if idle_h > age_h:
                    raise ValueError("%s: idle_hours (%s) > age_hours (%s)" % (w, idle_h, age_h))
                start = now - int(age_h * _HOUR_MS) - rng.randrange(0, 1000)
                last = max(start, now - int(idle_h * _HOUR_MS) - rng.randrange(0, 1000))
                kid = self.uuid4()
                sess = {"sessionId": self.uuid4(), "kernelId": kid,
                        "memory_mb": _int(s.get("memory_mb", 500), w + ".memory_mb"),
                        "children_mb": [_int(c, w + ".children_mb") for c in s.get("children_mb") or []],
                        "container": bool(s.get("container", False)),
                        "kernelExecutionState": state,
                        "kernelConnections": _int(s.get("connections", 0), w + ".connections"),
                        "kernelLastActivityTime": last, "sessionStartTime": start,
                        "sessionCreator": owner,
                        "sessionCreatorDisplayName": self.display_name(owner),
                        "sessionUnixOwner": "dataiku"}
                sessions.append(sess)
                # Jupyter connection file of the running kernel.
                self.j("jupyter-run/jupyter/runtime/kernel-%s.json" % kid, {
                    "shell_port": 40000 + rng.randrange(20000), "iopub_port": 40000 + rng.randrange(20000),
                    "stdin_port": 40000 + rng.randrange(20000), "control_port": 40000 + rng.randrange(20000),
                    "hb_port": 40000 + rng.randrange(20000), "ip": "127.0.0.1", "key": self.uuid4(),
                    "transport": "tcp", "signature_scheme": "hmac-sha256", "kernel_name": ks["name"]}, start)
            out.append({"name": nb["name"], "language": lang, "kernelSpec": ks, "sessions": sessions})
        self.model["notebooks"][key] = out

    # -- ML ----------------------------------------------------------------------------------

    def _csv_gz(self, n_rows):
        rng = self.rng
        rows = ["id\tlabel\tamount\tday\n"]
        for i in range(n_rows):
            rows.append("%d\t%s\t%.4f\t2026-%02d-%02d\n" % (
                i, rng.choice(_DATASET_WORDS), rng.random() * 1000, rng.randint(1, 12), rng.randint(1, 28)))
        return gzip.compress("".join(rows).encode(), compresslevel=1, mtime=0)

    def _csv_blobs(self):
        if not hasattr(self, "_csvgz"):
            self._csvgz = [self._csv_gz(n) for n in (3000, 12000, 30000)]
        return self._csvgz

    def build_saved_models(self, info, n):
        rng, now = self.rng, self.now_ms
        key = info["key"]
        sms = []
        blobs = self._csv_blobs()
        for i in range(n):
            smid = self.ident(8)
            n_ver = rng.randint(2, 4)
            t0 = now - rng.randrange(20, 200) * _DAY_MS
            versions = []
            for v in range(n_ver):
                t = t0 + v * rng.randrange(2, 15) * _DAY_MS + rng.randrange(_DAY_MS)
                t = min(t, now - _HOUR_MS)
                versions.append(str(t))
            versions = sorted(set(versions), key=int)
            train_info = {}
            for vid in versions:
                t = int(vid)
                vb = "saved_models/%s/%s/versions/%s" % (key, smid, vid)
                self.j(vb + "/core_params.json", {"taskType": "PREDICTION", "target_variable": "label",
                                                  "prediction_type": "MULTICLASS"}, t)
                self.j(vb + "/user_meta.json", {"name": "Model %s" % vid, "labels": []}, t)
                self.filler(vb + "/clf.pkl", rng.randrange(50000, 400000), t)
                self.f(vb + "/predicted.csv.gz", blobs[0], t)
                self.j(vb + "/split/split.json", {"format": "csv", "splitType": "RANDOM",
                                                  "ratio": 0.8}, t)
                self.f(vb + "/split/train.csv.gz", blobs[rng.randrange(1, 3)], t)
                self.f(vb + "/split/test.csv.gz", blobs[0], t)
                self.d(vb + "/split", t)
                # Training times (file name GUESSED: simulator guesses.SAVED_MODEL_TRAIN_INFO_FILE), no
                # draw from the seeded stream: training ends when the version is saved (its id).
                train = {"startTime": t - (5 * 60000 + t % (2 * _HOUR_MS)), "endTime": t}
                self.j(vb + "/train_info.json", train, t)
                train_info[vid] = train
                self.d(vb, t)
            active = versions[-1]
            # config/projects/<KEY>/saved_models/<id>.json: shape GUESSED (activeVersion is the key fact).
            self.j("config/projects/%s/saved_models/%s.json" % (key, smid), {
                "id": smid, "projectKey": key, "name": "%s model %d" % (info["datasets"][-1], i + 1),
                "type": "PREDICTION", "activeVersion": active}, int(active))
            sms.append({"id": smid, "name": "%s model %d" % (info["datasets"][-1], i + 1),
                        "activeVersion": active, "versions": versions, "trainInfo": train_info})
        self.model["saved_models"][key] = sms

    def build_analyses(self, info, n):
        rng, now = self.rng, self.now_ms
        key = info["key"]
        tasks = self.fixtures["ml_tasks"].setdefault(key, [])
        for i in range(n):
            aid = self.ident(8)
            t0 = now - rng.randrange(5, 150) * _DAY_MS
            self.j("config/projects/%s/analysis/%s/core_params.json" % (key, aid), {
                "id": aid, "projectKey": key, "name": "Analyze %s" % info["datasets"][-1],
                "inputDatasetSmartName": info["datasets"][-1]}, t0)
            for m in range(rng.randint(1, 2)):
                mid = self.ident(8)
                self.j("config/projects/%s/analysis/%s/ml/%s/params.json" % (key, aid, mid), {
                    "taskType": "PREDICTION", "targetVariable": "label", "name": "Predict label"}, t0)
                base = "analysis-data/%s/%s/%s" % (key, aid, mid)
                sessions = []
                for s in range(1, rng.randint(2, 4)):
                    ts = t0 + s * rng.randrange(1, 3) * _DAY_MS
                    sb = "%s/sessions/s%d" % (base, s)
                    sessions.append((sb, s, ts))
                    for mm in range(1, rng.randint(2, 4)):
                        self.filler("%s/pp1/m%d/clf.pkl" % (sb, mm), rng.randrange(20000, 200000), ts)
                        self.j("%s/pp1/m%d/results.json" % (sb, mm), {"metrics": {"auc": rng.random()}}, ts)
                    self.d(sb, ts)
                # Split CSVs are plain text so a "truncate to N lines" tool can work on them.
                split_id = self.hexid(6)
                n_rows = rng.randrange(2000, 8000)
                rows = "".join("%d,%s,%.3f\n" % (r, rng.choice(_DATASET_WORDS), rng.random() * 100)
                               for r in range(n_rows))
                files = {split_id: self._write_split(base, split_id, rows, t0)}
                # Older splits from an own stream (the seeded one, and so the rest of the tree, is
                # unchanged): 1-2 no session uses, and one the first session still uses when the
                # task has two sessions or more.
                sub = random.Random("%s/%s/%s/%s" % (self.spec.get("seed", 0), key, aid, mid))
                unused = [sub.getrandbits(48) for _ in range(sub.randint(1, 2))]
                unused = ["%012x" % v for v in unused]
                used = [split_id]
                if len(sessions) >= 2:
                    old_used = "%012x" % sub.getrandbits(48)
                    used.append(old_used)
                    unused = [u for u in unused if u != old_used]
                for k, sid in enumerate(unused + used[1:]):
                    t_old = t0 - (k + 1) * sub.randrange(3, 30) * _DAY_MS
                    old_rows = "".join("%d,%s,%.3f\n" % (r, sub.choice(_DATASET_WORDS), sub.random() * 100)
                                       for r in range(sub.randrange(500, 3000)))
                    files[sid] = self._write_split(base, sid, old_rows, t_old)
                for sb, s, ts in sessions:
                    # The split a session was trained on (field GUESSED: simulator guesses.SPLIT_IN_USE_FIELD).
                    sess_split = used[1] if (s == 1 and len(used) > 1) else split_id
                    self.j(sb + "/session.json", {"sessionId": "s%d" % s, "createdOn": ts, "splitId": sess_split}, ts)
                self.d(base + "/splits", t0)
                tasks.append({"analysisId": aid, "mlTaskId": mid, "splits_used": used, "splits_unused": unused,
                              "split_files": files})

    def _write_split(self, base, split_id, rows, t):
        """The three files of one split (train, test, descriptor); their rel paths."""
        out = ["%s/splits/%s_train.csv" % (base, split_id), "%s/splits/%s_test.csv" % (base, split_id),
               "%s/splits/%s.json" % (base, split_id)]
        self.f(out[0], "id,label,amount\n" + rows, t)
        self.f(out[1], "id,label,amount\n" + rows[: len(rows) // 4], t)
        self.j(out[2], {"id": split_id, "type": "RANDOM"}, t)
        return out

    # -- managed datasets / folders ---------------------------------------------------------

    def build_managed_datasets(self, info):
        rng, now = self.rng, self.now_ms
        blobs = self._csv_blobs()
        for ds in info["managed"]:
            t = now - rng.randrange(1, 30 * 24) * _HOUR_MS
            base = "managed_datasets/%s/%s" % (info["key"], ds)
            for part in range(rng.randint(1, 3)):
                self.f("%s/out-s%d.csv.gz" % (base, part), blobs[rng.randrange(3)], t)
            self.d(base, t)

    def build_managed_folders(self, info, n):
        rng, now = self.rng, self.now_ms
        key = info["key"]
        for i in range(n):
            fid = self.ident(8)
            t = now - rng.randrange(1, 60) * _DAY_MS
            self.j("config/projects/%s/managed_folders/%s.json" % (key, fid), {
                "id": fid, "projectKey": key, "name": "reports_%d" % (i + 1), "type": "Filesystem",
                "params": {"connection": "filesystem_folders", "path": "${projectKey}/${odbId}"}}, t)
            base = "managed_folders/%s/%s" % (key, fid)
            for k in range(rng.randint(2, 5)):
                self.filler("%s/report_%02d.pdf" % (base, k), rng.randrange(20000, 300000),
                            t + k * _HOUR_MS)
            self.d(base, t + 5 * _HOUR_MS)

    # -- orphans, exports, runtime folders ------------------------------------------------

    def build_orphans(self):
        rng = self.rng
        for o in self.spec.get("orphan_projects") or []:
            key = o["key"]
            self.fixtures["orphan_projects"].append(key)
            n_jobs = _int(o.get("jobs", 0), "orphan %s jobs" % key)
            taken = set()
            base = os.path.join(self.root, "jobs", key)
            if n_jobs:
                self.d("jobs/" + key)
            newest = None
            nbytes = 0
            for i in range(n_jobs):
                ds = "%s_%s" % (rng.choice(_DATASET_WORDS), rng.choice(_DATASET_SUFFIXES))
                start, end, jid = self._gen_finished_start(200 * _DAY_MS, taken, self._job_name(ds))
                newest = max(newest or start, start)
                jd = base + "/" + jid
                os.makedirs(jd + "/activities/compute_%s_NP" % ds)
                data = ("[%s] [main] [INFO] [dku.job.slave] - Starting job %s (project %s)\n"
                        "[%s] [main] [INFO] [dku.job.slave] - Job %s done, state=DONE\n"
                        % (_log_ts(start), jid, key, _log_ts(end), jid)).encode()
                adata = data[: data.index(b"\n") + 1]
                for p, payload in ((jd + "/output.log", data),
                                   (jd + "/activities/compute_%s_NP/log.log" % ds, adata)):
                    with open(p, "wb") as fh:
                        fh.write(payload)
                    nbytes += len(payload)
                t = end * 1000000
                for p in (jd + "/activities/compute_%s_NP/log.log" % ds, jd + "/output.log",
                          jd + "/activities/compute_%s_NP" % ds, jd + "/activities", jd):
                    os.utime(p, ns=(t, t))
            self._acc("jobs/x", nbytes, 2 * n_jobs)
            if newest:
                self.dirs["jobs/" + key] = newest
            n_runs = _int(o.get("scenario_runs", 0), "orphan %s scenario_runs" % key)
            self._write_scenario_runs(key, "DAILY_REFRESH", "Daily refresh", n_runs, 24, False,
                                      {"id": self.ident(8), "type": "temporal", "name": "Every day"})
            self._orphan_data(o)

    def _orphan_data(self, o):
        """Data of a deleted project under the project-keyed folders (no config/projects/KEY), from an
        own stream (the seeded one, and so the rest of the tree, is unchanged)."""
        key = o["key"]
        sub = random.Random("orphan/%s/%s" % (self.spec.get("seed", 0), key))
        now = self.now_ms
        out = {}

        def area(top, rel_dir, n, write):
            if not n:
                return
            files0, bytes0 = self.stats.get(top, [0, 0])
            root = "%s/%s" % (rel_dir, key)
            newest = 0
            for i in range(n):
                t = now - sub.randrange(30, 400) * _DAY_MS
                write(root, i, t)
                newest = max(newest, t)
            self.d(root, newest)
            files1, bytes1 = self.stats[top]
            out[rel_dir] = {"path": root, "files": files1 - files0, "bytes": bytes1 - bytes0}

        def saved_model(root, i, t):
            smid = "".join(sub.choice(_ALNUM) for _ in range(8))
            for v in range(sub.randint(1, 3)):
                vt = t + v * _DAY_MS
                vb = "%s/%s/versions/%d" % (root, smid, vt)
                self._sub_filler(sub, vb + "/clf.pkl", sub.randrange(20000, 200000), vt)
                self.j(vb + "/core_params.json", {"taskType": "PREDICTION"}, vt)
                self.d(vb, vt)

        def analysis(root, i, t):
            base = "%s/%s/%s" % (root, "".join(sub.choice(_ALNUM) for _ in range(8)),
                                 "".join(sub.choice(_ALNUM) for _ in range(8)))
            split_id = "%012x" % sub.getrandbits(48)
            self.j(base + "/sessions/s1/session.json", {"sessionId": "s1", "createdOn": t, "splitId": split_id}, t)
            self._sub_filler(sub, base + "/sessions/s1/pp1/m1/clf.pkl", sub.randrange(20000, 100000), t)
            self._sub_filler(sub, "%s/splits/%s_train.csv" % (base, split_id), sub.randrange(20000, 100000), t)
            self.d(base + "/sessions/s1", t)
            self.d(base + "/splits", t)

        def dataset(root, i, t):
            ds = "%s_%s" % (sub.choice(_DATASET_WORDS), i)
            self.f("%s/%s/out-s0.csv.gz" % (root, ds), self._csv_blobs()[0], t)
            self.d("%s/%s" % (root, ds), t)

        def folder(root, i, t):
            fid = "".join(sub.choice(_ALNUM) for _ in range(8))
            self._sub_filler(sub, "%s/%s/report.pdf" % (root, fid), sub.randrange(20000, 200000), t)
            self.d("%s/%s" % (root, fid), t)

        def notebook(root, i, t):
            # jupyter-run/dku-workdirs/<KEY>/<notebook><8 hex>[-<unix user>]/: the per-project working
            # directories of notebooks (seen in public notebook code; not in the reference).
            wd = "%s/%s%08x" % (root, sub.choice(["explore", "draft", "analysis"]) + "_%d" % i, sub.getrandbits(32))
            self._sub_filler(sub, wd + "/scratch.csv", sub.randrange(5000, 50000), t)
            self.d(wd, t)

        area("saved_models", "saved_models", _int(o.get("saved_models", 0), "orphan saved_models"), saved_model)
        area("analysis-data", "analysis-data", _int(o.get("analyses", 0), "orphan analyses"), analysis)
        area("managed_datasets", "managed_datasets", _int(o.get("managed_datasets", 0), "orphan managed_datasets"),
             dataset)
        area("managed_folders", "managed_folders", _int(o.get("managed_folders", 0), "orphan managed_folders"), folder)
        area("jupyter-run", "jupyter-run/dku-workdirs", _int(o.get("jupyter_notebooks", 0), "orphan jupyter_notebooks"),
             notebook)
        if out:
            self.fixtures["orphan_data"][key] = out

    def _sub_filler(self, sub, rel, nbytes, mtime_ms):
        """filler() drawing its offset from ``sub`` (not the seeded stream)."""
        nbytes = min(nbytes, len(self.blob))
        off = sub.randrange(0, len(self.blob) - nbytes + 1)
        return self.f(rel, self.blob[off:off + nbytes], mtime_ms)

    def build_pre_migration_backups(self):
        """``_pre_migration_backup_<YYYYMMDD>-<HHMMSS>/`` at the root (the reference gives
        ``_pre_migration_backup_YYYYMMDD*``; the ``-HHMMSS`` tail is GUESSED), holding a copy of
        config-like files, every mtime ``age_days`` old."""
        for i, b in enumerate(self.spec.get("pre_migration_backups") or []):
            t = self.now_ms - int(b.get("age_days", 0) * _DAY_MS)
            date = b.get("date") or _local(t).strftime("%Y%m%d")
            name = "_pre_migration_backup_%s-%s" % (date, _local(t).strftime("%H%M%S"))
            n = _int(b.get("files", 3), "pre_migration_backups[%d].files" % i)
            pool = ["dss-version.json", "install.ini", "config/general-settings.json", "config/users.json",
                    "config/connections.json", "config/license.json"]
            files = []
            for k in range(n):
                rel = pool[k] if k < len(pool) else "config/projects/P%03d/params.json" % k
                src = os.path.join(self.root, rel)
                if k < len(pool) and os.path.isfile(src):
                    with open(src, "rb") as fh:
                        data = fh.read()
                else:
                    data = json.dumps({"projectKey": "P%03d" % k, "backup": True}) + "\n"
                path = name + "/" + rel
                self.f(path, data, t)
                files.append(path)
                parent = path.rsplit("/", 1)[0]
                while parent and parent != name:
                    self.d(parent, t)
                    parent = parent.rsplit("/", 1)[0]
            self.d(name, t)
            self.fixtures["pre_migration_backups"].append({"path": name, "mtime_ms": t, "files": files})

    def build_diagnosis(self):
        """``diagnosis/dss-diagnosis-<YYYYMMDD-HHMMSS>.zip`` (names GUESSED), mtimes spread evenly over
        [now - max_age_days, now]; from an own stream."""
        spec = self.spec.get("diagnosis")
        if not spec:
            return
        n = _int(spec.get("files", 0), "diagnosis.files")
        max_age = _num(spec.get("max_age_days", 60), "diagnosis.max_age_days")
        sub = random.Random("diagnosis/%s" % self.spec.get("seed", 0))
        newest = 0
        for i in range(n):
            t = self.now_ms - int(max_age * _DAY_MS * (i + 1) / n)
            rel = "diagnosis/dss-diagnosis-%s-%03d.zip" % (_local(t).strftime("%Y%m%d-%H%M%S"), i)
            size = sub.randrange(2000, 40000)
            self._sub_filler(sub, rel, size, t)
            newest = max(newest, t)
            self.fixtures["diagnosis"].append({"path": rel, "mtime_ms": t, "bytes": size})
        if n:
            self.d("diagnosis", newest)

    def build_exports(self):
        rng, now = self.rng, self.now_ms
        ex = self.spec.get("exports") or {}
        count = _int(ex.get("count", 0), "exports.count")
        max_age = _num(ex.get("max_age_days", 90), "exports.max_age_days")
        self.d("exports")
        for i in range(count):
            # Export folder ids are UNVERIFIED: random 16-char lowercase alnum here.
            eid = self.ident(16, _LOWER_ALNUM)
            t = now - rng.randrange(60000, max(60001, int(max_age * _DAY_MS)))
            base = "exports/" + eid
            ext = rng.choice(["csv", "xlsx", "csv.gz"])
            self.filler("%s/export.%s" % (base, ext), rng.randrange(10000, 800000), t)
            self.j(base + "/export-params.json", {"format": ext, "requestedBy": rng.choice(self.users)["login"],
                                                  "createdOn": t}, t)
            self.d(base, t)

    def build_runtime(self):
        rng, now = self.rng, self.now_ms
        user_logins = [u["login"] for u in self.users]
        # run/ logs
        def backend_line(t):
            return "[%s] [qtp%d-%d] [INFO] [dku.tracing]  - [ct: %d] Done call to %s\n" % (
                _log_ts(t), 1000000 + rng.randrange(900000), rng.randrange(20, 400), rng.randrange(1, 900),
                rng.choice(["/dip/api/projects/list-summary", "/dip/api/futures/list",
                            "/dip/api/datasets/get-full-info", "/dip/api/flow/jobs/list-last",
                            "/dip/publicapi/projects/", "/dip/api/notebooks/get-ipython-state"]))
        self.f("run/backend.log", self.timed_lines(now - 6 * _HOUR_MS, now - 1000, 400000, backend_line),
               now - 1000)
        self.f("run/backend.log.1", self.timed_lines(now - 3 * _DAY_MS, now - 6 * _HOUR_MS, 900000,
                                                     backend_line), now - 6 * _HOUR_MS)
        self.f("run/ipython.log", self.timed_lines(now - 2 * _DAY_MS, now - 60000, 60000, lambda t:
               "[%s] [I %s NotebookApp] Kernel started: %s\n" % (_log_ts(t), _log_ts(t)[11:19], self.uuid4())),
               now - 60000)
        self.f("run/nginx.log", self.timed_lines(now - 20 * _DAY_MS, now - _DAY_MS, 8000, lambda t:
               "%s [notice] 1234#1234: signal process started\n" % _log_ts(t)[:19].replace("-", " ")),
               now - _DAY_MS)
        self.f("run/nginx/access.log", self.timed_lines(now - _DAY_MS, now - 2000, 200000, lambda t:
               '10.0.%d.%d - - [%s] "GET /dip/api/futures/list HTTP/1.1" 200 %d "-" "Mozilla/5.0"\n'
               % (rng.randrange(256), rng.randrange(256), _nginx_ts(t), rng.randrange(100, 5000))), now - 2000)
        self.f("run/supervisord.log", self.timed_lines(now - 30 * _DAY_MS, now - 3 * _DAY_MS, 6000, lambda t:
               "%s INFO success: %s entered RUNNING state\n"
               % (_log_ts(t)[:19], rng.choice(["backend", "ipython", "nginx", "eventserver"]))),
               self.startup_ms)
        self.f("run/frontend.log", "", self.startup_ms)
        self.f("run/hproxy.log", self.timed_lines(now - 2 * _DAY_MS, now - _HOUR_MS, 5000, lambda t:
               "[%s] [main] [INFO] [dku.hproxy] - hproxy ready\n" % _log_ts(t)), now - _HOUR_MS)
        audit = []
        for u in user_logins:
            act = self.model["activity"][u]
            if act["lastSuccessfulLogin"]:
                t = act["lastSuccessfulLogin"]
                audit.append((t, json.dumps({
                    "severity": "INFO", "logger": "dku.audit.generic",
                    "message": "[ct: 0] login-success", "timestamp": _utc_iso_ts(t),
                    "mdc": {"apiCall": "/api/login", "authUser": u, "authSource": "USER_FROM_UI",
                            "callTime": "12", "msgType": "login-success"}}) + "\n"))
        audit.sort()
        self.f("run/audit/audit.log", "".join(a for _, a in audit), now - 1000)
        self.j("run/sanity-check.json", {"messages": [], "lastRun": now - 3 * _HOUR_MS}, now - 3 * _HOUR_MS)

        # databases/ : embedded H2 files, header + binary-ish content.
        n_jobs = sum(p.get("n_jobs", 0) for p in self.project_info)
        db_sizes = {"jobs.mv.db": 48 * 1024 + 250 * n_jobs, "flow_state.mv.db": 96 * 1024,
                    "discussions.mv.db": 24 * 1024, "dss_usage.mv.db": 256 * 1024,
                    "persistent_notifications.mv.db": 32 * 1024, "user_interests.mv.db": 24 * 1024,
                    "trust_db.mv.db": 16 * 1024, "user_offline_queues.mv.db": 16 * 1024,
                    "hive-catalog.mv.db": 16 * 1024, "labelings.mv.db": 16 * 1024,
                    "experiments.mv.db": 24 * 1024}
        for name, size in db_sizes.items():
            self._h2("databases/" + name, size)
        # timelines/: one H2 file per project.  File names are UNVERIFIED (reference A).
        for info in self.project_info:
            self._h2("timelines/%s.mv.db" % info["key"], 32 * 1024 + 60 * info.get("n_jobs", 0))

        # caches/
        self.j("caches/reports.json", {"lastComputed": now - _HOUR_MS, "reports": []}, now - _HOUR_MS)
        for i in range(3):
            self.j("caches/reflected-events-%d.json" % i, {"events": [], "since": now - (i + 1) * _DAY_MS},
                   now - (i + 1) * _DAY_MS)
        # tmp/
        for i in range(6):
            t = now - rng.randrange(60000, 20 * _DAY_MS)
            self.filler("tmp/dku-upload-%s.tmp" % self.hexid(6), rng.randrange(2000, 300000), t)
        self.d("privtmp")
        self.f("privtmp/.keep", "", now - 100 * _DAY_MS)
        # jupyter-run/
        self.j("jupyter-run/jupyter/config/nbconfig/notebook.json",
               {"load_extensions": {"collapsible_headings/main": True}}, now - 200 * _DAY_MS)
        self.j("jupyter-run/jupyter/runtime/nbserver-1.json", {"port": 11201, "base_url": "/jupyter/",
                                                               "notebook_dir": "."}, self.startup_ms)
        self.f("jupyter-run/jupyter/runtime/jupyter_cookie_secret", self.hexid(32) + "\n", self.startup_ms)
        # plugins/
        for pid, ver in (("googlesheets", "1.2.0"), ("timeseries-preparation", "2.0.3")):
            t = now - rng.randrange(30, 300) * _DAY_MS
            self.j("plugins/installed/%s/plugin.json" % pid, {"id": pid, "version": ver,
                                                             "meta": {"label": pid}}, t)
            self.f("plugins/installed/%s/python-lib/%s/__init__.py" % (pid, pid.replace("-", "_")),
                   "# %s\n" % pid, t)
        self.d("plugins/dev")
        # code envs, with the hard-linked pair
        ce = self.code_envs_dir
        env_names = ["py39_ml", "py311_default"]
        for env in env_names:
            t = now - rng.randrange(30, 200) * _DAY_MS
            eb = "%s/python/%s" % (ce, env)
            self.j(eb + "/desc.json", {"deploymentMode": "DESIGN_MANAGED",
                                       "pythonInterpreter": "PYTHON39" if "39" in env else "PYTHON311",
                                       "installCorePackages": True}, t)
            self.f(eb + "/spec/requirements.txt", "pandas\nscikit-learn\n", t)
            self.f(eb + "/bin/python", "#!/bin/sh\n# interpreter stub\n", t, 0o755)
            pyv = "python3.9" if "39" in env else "python3.11"
            for pkg in ("pandas", "numpy", "sklearn"):
                self.f("%s/lib/%s/site-packages/%s/__init__.py" % (eb, pyv, pkg), "# %s\n" % pkg, t)
                self.filler("%s/lib/%s/site-packages/%s/_core.so" % (eb, pyv, pkg),
                            rng.randrange(50000, 250000), t)
        link_a = "%s/python/%s/lib/libopenblas.so" % (ce, env_names[0])
        link_b = "%s/python/%s/lib/libopenblas.so" % (ce, env_names[1])
        self.filler(link_a, 1 * _MB, now - 150 * _DAY_MS)
        self.d(link_b.rsplit("/", 1)[0])
        os.link(os.path.join(self.root, link_a), os.path.join(self.root, link_b))
        self.fixtures["hardlinks"] = [link_a, link_b]
        # Small runtime folders
        t = now - 250 * _DAY_MS
        self.f("R.lib/dataiku/DESCRIPTION", "Package: dataiku\nVersion: %s\n" % self.version, t)
        self.f("lib/python/helpers.py", "def util():\n    return 42\n", t)
        self.f("lib/R/.keep", "", t)
        self.f("local/static/README.txt", "Static files served under /local/static/\n", t)
        self.f("data-catalog/index/segments.gen", self.blob[:4096], now - _DAY_MS)
        self.f("install-support/README", "Install support files\n", t)
        self.f("pyenv/bin/python", "#!/bin/sh\n# DSS builtin python stub\n", t, 0o755)
        self.f("pyenv/pyvenv.cfg", "home = /usr/bin\nversion = 3.9.18\n", t)
        for info in self.project_info[:2]:
            self.filler("uploads/%s/datasets/upload_%s/data.csv" % (info["key"], info["datasets"][0]),
                        rng.randrange(20000, 200000), info["created"] + _DAY_MS)
            self.f("notebook_results/%s/%s.html" % (info["key"], self.hexid(4)),
                   "<html><body>notebook export</body></html>\n", now - rng.randrange(1, 40) * _DAY_MS)
        if not self.project_info:
            self.d("uploads")
            self.d("notebook_results")
        for top in ("managed_datasets", "managed_folders", "saved_models", "analysis-data", "scenarios",
                    "jobs", "exports", "tmp", "caches"):
            self.d(top)

    def _h2(self, rel, size):
        header = ("H:2,block:2,blockSize:1000,chunk:%x,created:%x,format:1,version:%x,fletcher:%08x\n"
                  % (self.rng.randrange(1, 4096), self.now_ms - 300 * _DAY_MS,
                     self.rng.randrange(1, 65536), self.rng.getrandbits(32))).encode()
        header = header + b" " * (4096 - len(header))
        body = self.blob[: max(0, size - len(header))]
        if size - len(header) > len(self.blob):
            reps, rest = divmod(size - len(header), len(self.blob))
            body = self.blob * reps + self.blob[:rest]
        self.f(rel, header + body, self.now_ms - self.rng.randrange(1000, 600000))

    def build_outside_and_symlink(self):
        now = self.now_ms
        os.makedirs(self.outside, exist_ok=True)
        os.makedirs(os.path.join(self.outside, "shared_exports"), exist_ok=True)
        for i in range(3):
            p = os.path.join(self.outside, "shared_exports", "archive_%d.bin" % i)
            with open(p, "wb") as fh:
                fh.write(self.blob)
            t = (now - (i + 1) * _DAY_MS) * 1000000
            os.utime(p, ns=(t, t))
        key = self.project_info[0]["key"] if self.project_info else "SHARED"
        link_rel = "managed_folders/%s/linked" % key
        self.d("managed_folders/" + key)
        link_abs = os.path.join(self.root, link_rel)
        target = os.path.relpath(os.path.join(self.outside, "shared_exports"), os.path.dirname(link_abs))
        os.symlink(target, link_abs)
        t = (now - 10 * _DAY_MS) * 1000000
        os.utime(link_abs, ns=(t, t), follow_symlinks=False)
        for p in (os.path.join(self.outside, "shared_exports"), self.outside):
            os.utime(p, ns=(t, t))
        self.fixtures["symlink"] = link_rel
        self.fixtures["symlink_target"] = target
        self.fixtures["outside_dir_abs"] = self.outside

    def build_bulk(self):
        rng, now = self.rng, self.now_ms
        first = self.project_info[0] if self.project_info else None
        for top, nbytes in (self.spec.get("bulk_bytes") or {}).items():
            if top == "code-envs":
                top = self.code_envs_dir
            if top in ("code-envs", "acode-envs"):
                base = "%s/python/py39_ml/lib/python3.9/site-packages/torch/lib" % top
                pat = "libtorch_part%03d.so"
            elif top == "tmp":
                base, pat = "tmp/spill-%s" % self.hexid(4), "spill-%03d.bin"
            elif top == "caches":
                base, pat = "caches/dataset-samples/%s" % (first["key"] if first else "ALL"), "sample-%03d.dat"
            elif top == "managed_datasets" and first and first["managed"]:
                base, pat = "managed_datasets/%s/%s" % (first["key"], first["managed"][0]), "out-s%d.bin"
            elif top == "exports":
                base, pat = "exports/%s" % self.ident(16, _LOWER_ALNUM), "export-part-%03d.csv"
            else:
                base, pat = "%s/bulk" % top, "blob-%03d.bin"
            left = nbytes
            i = 0
            while left > 0:
                n = min(left, rng.randrange(256 * 1024, 4 * _MB))
                t = now - rng.randrange(60000, 60 * _DAY_MS)
                self.filler("%s/%s" % (base, pat % i), n, t)
                left -= n
                i += 1

    # -- main -------------------------------------------------------------------------------

    def run(self):
        try:
            return self._run()
        finally:
            self.drain()

    def _run(self):
        rng, now = self.rng, self.now_ms
        os.makedirs(self.root, exist_ok=True)
        self.dirs[""] = now

        self.build_install()
        self.build_people()
        self.build_config()
        self.build_projects()
        # DSS started before anything that is running now (jobs, scenario runs, kernels).
        earliest = now
        for jobs in self.model["jobs"].values():
            for j in jobs:
                if j["state"] == "RUNNING":
                    earliest = min(earliest, j["startTime"])
        for per_scen in self.model["scenario_runs"].values():
            for runs in per_scen.values():
                if runs and "result" not in runs[0]:
                    earliest = min(earliest, runs[0]["start"])
        for nbs in self.model["notebooks"].values():
            for nb in nbs:
                for s in nb["sessions"]:
                    earliest = min(earliest, s["sessionStartTime"])
        self.startup_ms = min(now - rng.randrange(2 * _DAY_MS, 9 * _DAY_MS),
                              earliest - rng.randrange(_HOUR_MS, 3 * _HOUR_MS))
        self.build_orphans()
        self.build_pre_migration_backups()
        self.build_diagnosis()
        self.build_exports()
        self.build_runtime()
        self.build_outside_and_symlink()
        self.build_bulk()

        self.model["now_ms"] = now
        self.model["instance"] = {
            "nodeId": self.node_id, "nodeName": self.node_id,
            "nodeType": self.node_type.upper(), "dataDirPath": self.root,
            "dssStartupTimestamp": self.startup_ms, "installId": self.install_id,
            "dipInstanceId": self.ident(12, _LOWER_ALNUM), "dssVersion": self.version}
        self.model["fixtures"] = self.fixtures
        self.model["messaging_channels"] = [dict(c) for c in self.spec.get("messaging_channels") or []]
        total_f = sum(v[0] for v in self.stats.values())
        total_b = sum(v[1] for v in self.stats.values())
        # The hard-linked pair was counted once (os.link does not go through self.f).
        self.model["disk"] = {"files": total_f, "bytes": total_b,
                              "by_top": dict((k, {"files": v[0], "bytes": v[1]})
                                             for k, v in sorted(self.stats.items()))}
        # Directory mtimes last (creating entries changes a directory's mtime).
        self.drain()
        for rel, ms in self.dirs.items():
            t = ms * 1000000
            os.utime(os.path.join(self.root, rel) if rel else self.root, ns=(t, t))
        order = ["now_ms", "instance", "activity", "jobs", "scenario_runs", "notebooks", "api_keys",
                 "messaging_channels", "projects", "users", "groups", "scenarios", "saved_models", "fixtures", "disk"]
        return dict((k, self.model[k]) for k in order)


def build_datadir(spec, dip_home):
    """Write a DSS DIP_HOME for ``spec`` under ``dip_home``; return the runtime model.

    ``dip_home`` (str or path) must not exist or be an empty directory; the same holds
    for ``<dip_home>.outside``, created beside it as the target of the one symlink.
    See the module docstring for the spec keys and the model.
    """
    return _Builder(spec or {}, dip_home).run()


# ----------------------------------------------------------------------------------------
# Presets
# ----------------------------------------------------------------------------------------

def small_spec(seed=1, now=None):
    """A varied demo instance: 4 projects, ~330 job folders over ~120 days, 2 RUNNING jobs,
    scenarios with runs (one running), 6 notebook sessions, an orphan project, exports,
    ~20 MB of bulk files.  ~45 MB of files (~55 MB by du); builds in about a second.
    ``now`` None = relative to the real clock."""
    spec = {
        "seed": seed,
        "dss_version": "14.2.1",
        "node_type": "design",
        "node_id": "dss-design-demo",
        "dip_properties": {"dku.internalDatabases.timeline": "CACHE_SIZE=1024"},
        "user_count": 4,
        "users": [
            {"login": "admin", "displayName": "Administrator", "email": "admin@example.com",
             "groups": ["administrators"], "last_activity_minutes_ago": 2},
            {"login": "alice", "displayName": "Alice Martin", "email": "alice@example.com",
             "groups": ["data_team"], "last_activity_minutes_ago": 7},
            {"login": "bob", "displayName": "Bob Chen", "email": "bob@example.com",
             "groups": ["data_team"], "last_activity_minutes_ago": 60 * 26},
            {"login": "carol", "displayName": "Carol Diaz", "email": "carol@example.com",
             "groups": ["data_team"], "last_activity_minutes_ago": None},
            {"login": "dave", "displayName": "Dave Old", "email": "dave@example.com",
             "groups": ["data_team"], "enabled": False, "last_activity_minutes_ago": 60 * 24 * 90},
        ],
        "projects": [
            {"key": "SALES_ANALYTICS", "name": "Sales analytics", "owner": "alice",
             "managed_datasets": 4, "managed_folders": 1, "saved_models": 1, "analyses": 1,
             "jobs": {"count": 150, "max_age_days": 120, "running": 1, "log_bytes": [2000, 60000],
                      "api_only": 3, "folder_only": 5},
             "scenarios": [
                 {"id": "NIGHTLY_BUILD", "name": "Nightly build", "runs": 60, "every_hours": 24},
                 {"id": "HOURLY_REFRESH", "name": "Hourly refresh", "runs": 48, "every_hours": 1,
                  "running": True}],
             "notebooks": [
                 {"name": "explore_sales", "sessions": [
                     {"owner": "alice", "memory_mb": 240, "state": "idle", "idle_hours": 50,
                      "age_hours": 120, "connections": 0},
                     {"owner": "bob", "memory_mb": 80, "state": "busy", "idle_hours": 0.1,
                      "age_hours": 3, "connections": 1}]},
                 {"name": "forecast_draft", "sessions": [
                     {"owner": "alice", "memory_mb": 35, "state": "idle", "idle_hours": 0.5,
                      "age_hours": 6, "connections": 1}]}]},
            {"key": "CHURN_MODEL", "name": "Churn model", "owner": "bob",
             "managed_datasets": 3, "saved_models": 1, "analyses": 2,
             "jobs": {"count": 100, "max_age_days": 90, "running": 1, "log_bytes": [1000, 30000],
                      "api_only": 2, "folder_only": 2},
             "scenarios": [{"id": "WEEKLY_RETRAIN", "name": "Weekly retrain", "runs": 12,
                            "every_hours": 168}],
             "notebooks": [
                 {"name": "feature_study", "sessions": [
                     {"owner": "bob", "memory_mb": 160, "state": "idle", "idle_hours": 400,
                      "age_hours": 410, "connections": 0},
                     {"owner": "user001", "memory_mb": 60, "state": "busy", "idle_hours": 30,
                      "age_hours": 31, "connections": 0}]},
                 {"name": "r_checks", "language": "R", "sessions": [
                     {"owner": "alice", "memory_mb": 30, "state": "idle", "idle_hours": 12,
                      "age_hours": 12, "connections": 0}]}]},
            {"key": "MARKETING_DASH", "name": "Marketing dashboards", "owner": "alice",
             "managed_datasets": 2,
             "jobs": {"count": 60, "max_age_days": 120, "log_bytes": [1000, 10000]},
             "scenarios": [{"id": "DAILY_KPIS", "name": "Daily KPIs", "runs": 25, "every_hours": 24,
                            "active": False}]},
            {"key": "ADMINPROJECT", "name": "Administration", "owner": "admin",
             "managed_datasets": 0,
             "jobs": {"count": 10, "max_age_days": 30, "log_bytes": [500, 3000]},
             "scenarios": [{"id": "CLEAR_LOGS", "name": "Clear job logs", "runs": 30, "every_hours": 24}]},
        ],
        "orphan_projects": [{"key": "OLD_POC", "jobs": 25, "scenario_runs": 10, "saved_models": 1, "analyses": 1,
                             "managed_datasets": 1, "managed_folders": 1, "jupyter_notebooks": 1}],
        "pre_migration_backups": [{"age_days": 200, "files": 4}],
        "diagnosis": {"files": 3, "max_age_days": 60},
        "exports": {"count": 8, "max_age_days": 200},
        "messaging_channels": [{"id": "mail-smtp", "type": "smtp", "family": "mail", "sender": "dss@example.com"},
                               {"id": "ops-slack", "type": "slack"}, {"id": "ops-teams", "type": "msft-teams"},
                               {"id": "ops-webhook", "type": "webhook"}],
        "bulk_bytes": {"tmp": 3 * _MB, "caches": 3 * _MB, "code-envs": 8 * _MB,
                       "managed_datasets": 5 * _MB},
    }
    if now is not None:
        spec["now"] = now
    return spec


def scale_spec(job_folders=100000, seed=1, now=None):
    """~20 projects holding ``job_folders`` job folders in all (1% in an orphan project,
    2% of each project's folders "folder_only"), tiny logs (200-600 bytes), a
    scenario with ~100 runs per project, a few notebook sessions."""
    job_folders = int(job_folders)
    n_projects = 20
    r = random.Random(seed)
    orphan = job_folders // 100
    rest = job_folders - orphan
    weights = [r.uniform(0.3, 3.0) for _ in range(n_projects)]
    tw = sum(weights)
    per = [int(rest * w / tw) for w in weights]
    per[0] += rest - sum(per)
    projects = []
    for i, n in enumerate(per):
        folder_only = n // 50
        projects.append({
            "key": "PROJ_%02d" % (i + 1),
            "managed_datasets": 1,
            "jobs": {"count": n - folder_only, "max_age_days": 365, "running": 1 if i % 5 == 0 else 0,
                     "log_bytes": [200, 600], "api_only": 5, "folder_only": folder_only},
            "scenarios": [{"id": "REFRESH", "runs": 100, "every_hours": 6, "running": i == 0}],
            "notebooks": [{"name": "nb", "sessions": [
                {"owner": "admin", "state": "idle", "idle_hours": 30 + i, "age_hours": 40 + i}]}]
            if i < 3 else [],
        })
    spec = {
        "seed": seed,
        "user_count": 50,
        "projects": projects,
        "orphan_projects": [{"key": "ORPHAN_SCALE", "jobs": orphan, "scenario_runs": 50}],
        "exports": {"count": 20, "max_age_days": 365},
    }
    if now is not None:
        spec["now"] = now
    return spec
