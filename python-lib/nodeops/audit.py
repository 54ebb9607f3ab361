"""Configuration audit: the production guidance for a DSS node, checked one
setting at a time, each with its evidence, the fix and the documentation page.

Facts are gathered once (:func:`gather`): files of DIP_HOME, the DSS API, the
host. Each check is one small function of the facts returning findings
(severity PASS, INFO, WARN or FAIL). With ``apply_fixes``, the fixes that are
safe on a live node are applied (:mod:`nodeops.fixes`) and listed; a second
run has nothing left to change.
"""

import datetime as _dt
import os
import re
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from . import archives, datadir, dssapi, fixes, heaps, render, resources, retention, safefs
from .errors import Unavailable
from .params import MAX_HOURS, Param
from .report import Column, Figure, Finding, Report, Table

OPERATION_ID = "config-audit"
TITLE = "Configuration audit"
INSIGHT_ID = "node-ops-config-audit"
ORDER = ("PASS", "INFO", "WARN", "FAIL")

PARAMS = (
    Param("fail_severity", "SELECT", "Fail the step at", default="FAIL", choices=(("WARN", "WARN"), ("FAIL", "FAIL")),
          mandatory=True, step_only=True,
          description="The step fails the scenario when a check at or above this severity is found, "
                      "so the scenario's reporters send the alert."),
    Param("backup_dir", "STRING", "Backup folder", default="", setting="backup_dir",
          description="Where backups of DIP_HOME land (a local or mounted folder); no folder: backups are not "
                      "checked."),
    Param("backup_max_age_hours", "INT", "Maximum backup age (hours)", default=26, min=1, max=MAX_HOURS, mandatory=True,
          description="The newest backup must be younger than this."),
    Param("admin_project_key", "STRING", "Administration project key", default="ADMIN", setting="admin_project_key",
          description="The project that schedules the maintenance scenarios."),
    Param("apply_fixes", "BOOLEAN", "Apply safe fixes", default=False,
          description="Apply the fixes that are safe on a live node (activity limits; the timelines cache "
                      "line in dip.properties, effective after a restart) and list every change."),
)

DOC = "https://doc.dataiku.com/dss/latest/"
LINKS = {
    "memory": DOC + "operations/memory.html",
    "cgroups": DOC + "operations/cgroups.html",
    "limits": DOC + "flow/limits.html",
    "disk": DOC + "operations/disk-usage.html",
    "backups": DOC + "operations/backups.html",
    "monitoring": DOC + "operations/monitoring.html",
    "macros": DOC + "operations/macros.html",
    "datadir": DOC + "operations/datadir.html",
    "sanity": DOC + "troubleshooting/errors/index.html",
    "timelines": DOC + "operations/datadir.html",
}
GIB = 1024 ** 3
GB = 1000 ** 3
DAY_MS = 24 * 3600 * 1000
MAX_JOB_LOGS = 1000
MAX_LOG_AGE_DAYS = 60
#: The production guidance's smallest data-directory filesystem, in GB (10^9 bytes) as DSS states it.
MIN_DISK_GB = 500
TIMELINES_PROJECTS = fixes.TIMELINES_PROJECTS
TIMELINES_LINE = fixes.TIMELINES_LINE
#: Scenario steps that do the maintenance, by purpose: node-ops steps, and node-ops
#: macros run through a "run macro" step.
MAINTENANCE = {
    "purge": ("purge-job-logs", "purge-scenario-logs"),
    "cull": ("cull-kernels",),
    "metrics": ("collect-metrics",),
}
CGROUP_PLACEMENTS = (("jupyterKernels", "Jupyter kernels"), ("pythonRRecipes", "Python/R recipes"),
                     ("mlKernels", "ML kernels"))


@dataclass
class Facts:
    dip_home: object
    now_ms: int
    heaps: dict
    users: Optional[int]
    ram: int
    settings: Optional[dict]
    settings_source: str
    dip_properties: List[str]
    project_keys: List[str]
    fs: object
    job_backlog: Dict[str, tuple] = field(default_factory=dict)  # project -> (count, oldest ms)
    run_backlog: Dict[str, tuple] = field(default_factory=dict)
    sessions: Optional[list] = None
    sessions_error: str = ""
    admin_project: Optional[dict] = None  # {"permissions", "scenarios": [settings]} or None when missing
    admin_error: str = ""
    admin_groups: set = field(default_factory=set)
    admin_logins: set = field(default_factory=set)
    sanity: Optional[list] = None
    sanity_note: str = ""
    install_ini_text: str = ""


# ---- facts -----------------------------------------------------------------------------
def _read_lines(path):
    """The lines of a settings file; none when it is missing, unreadable or not a regular
    file (a FIFO planted there must not block the audit)."""
    try:
        data, _ = safefs.read_file(str(path), follow_symlinks=True)
    except OSError:
        return []
    return data.decode("utf-8", "surrogateescape").splitlines() if data is not None else []


def _backlog(family, root):
    """{project: (entries, oldest epoch ms)} from folder names (IDs carry their time)."""
    out = {}
    errors = []
    for key, _, folder, entries in retention.groups(family, root, errors):
        if not entries:
            continue
        count, oldest = out.get(key, (0, None))
        first = min(e.timestamp_ms for e in entries)
        out[key] = (count + len(entries), first if oldest is None else min(oldest, first))
    return out


def gather(ctx, params) -> Facts:
    import psutil

    dip_home = ctx.require_dip_home()
    client = ctx.require_client()
    now_ms = int(ctx.now().timestamp() * 1000)
    try:
        users = dssapi.enabled_user_count(client)
    except Unavailable:
        users = None
    try:
        settings, source = dssapi.general_settings(client), "the DSS API (Administration > Settings)"
    except Unavailable as e:
        settings, source = None, "unavailable: %s" % e
    facts = Facts(dip_home=dip_home, now_ms=now_ms, heaps=heaps.configured(dip_home), users=users,
                  ram=psutil.virtual_memory().total, settings=settings, settings_source=source,
                  dip_properties=_read_lines(dip_home / "config" / "dip.properties"),
                  project_keys=sorted(dssapi.project_keys(client)), fs=datadir.filesystem(dip_home))
    facts.install_ini_text = "\n".join(_read_lines(dip_home / "install.ini"))
    if (dip_home / "jobs").is_dir():
        facts.job_backlog = _backlog(retention.JOBS, dip_home / "jobs")
    if (dip_home / "scenarios").is_dir():
        facts.run_backlog = _backlog(retention.SCENARIOS, dip_home / "scenarios")
    try:
        facts.sessions = dssapi.notebook_sessions(client)[1]
    except Unavailable as e:
        facts.sessions_error = str(e)
    try:
        facts.admin_groups = dssapi.admin_groups(client)
        facts.admin_logins = dssapi.admin_logins(client, facts.admin_groups)
        facts.admin_project = dssapi.project_setup(client, params.admin_project_key)
    except Unavailable as e:
        facts.admin_error = str(e)
    try:
        facts.sanity = dssapi.sanity_check(client)
        if facts.sanity is None:
            facts.sanity_note = "this DSS or client does not offer the instance sanity check"
    except Unavailable as e:
        facts.sanity_note = str(e)
    return facts


# ---- checks ------------------------------------------------------------------------------
def _gib(n):
    return "%gg" % round(n / GIB, 1) if n is not None else "not set"


def check_memory(f):
    out = []
    backend = f.heaps["backend"]
    if backend.xmx is None:
        out.append(Finding("WARN", "Backend heap unknown", evidence=backend.source,
                           recommendation="Set backend.xmx in [javaopts] of install.ini to a size such as 8g (see the "
                                          "tiers below), then ./bin/dssadmin regenerate-config and restart.",
                           id="memory.backend", link=LINKS["memory"]))
    elif f.users is None:
        out.append(Finding("INFO", "Backend heap not compared with the number of users (unknown)",
                           evidence=backend.source, id="memory.backend", link=LINKS["memory"]))
    else:
        want = heaps.recommended_backend(f.users)
        sev = "PASS" if backend.xmx >= want else "WARN"
        out.append(Finding(sev, "Backend heap for %d users" % f.users,
                           evidence="%s; %d enabled users: %s recommended (under 10 users 8g, 10 to 50 12g, over 50 "
                                    "16g)" % (backend.source, f.users, _gib(want)),
                           recommendation="" if sev == "PASS" else "Set backend.xmx = %s in [javaopts] of install.ini, "
                           "run ./bin/dssadmin regenerate-config, restart DSS." % _gib(want),
                           id="memory.backend", link=LINKS["memory"]))
    if heaps.over_ram_share(backend.xmx, f.ram):
        out.append(Finding("FAIL", "Backend heap larger than %d%% of the host's RAM" % (100 * heaps.RAM_SHARE_LIMIT),
                           evidence="backend.xmx %s; RAM %s" % (_gib(backend.xmx), _gib(f.ram)),
                           recommendation="Lower backend.xmx: JEKs, FEKs, Python and R processes need memory too.",
                           id="memory.backend_ram", link=LINKS["memory"]))
    if backend.xmx is not None and 32 * GIB <= backend.xmx <= 48 * GIB:
        out.append(Finding("WARN", "Backend heap in the 32-48g zone", evidence=backend.source,
                           recommendation="Between 32g and 48g the JVM loses compressed pointers: use 31g or "
                                          "more than 48g.", id="memory.red_zone", link=LINKS["memory"]))
    for name in ("jek", "fek"):
        h = f.heaps[name]
        if h.xmx is not None and h.xmx > 4 * GIB:
            sev, fix = "WARN", "Every %s gets this heap: keep %s.xmx at 2g unless a job needs more." % (name.upper(), name)
        elif h.xmx is not None and h.xmx != 2 * GIB:
            sev, fix = "INFO", "2g is recommended."
        else:
            sev, fix = "PASS", ""
        out.append(Finding(sev, "%s heap" % name.upper(), evidence=h.source, recommendation=fix,
                           id="memory." + name, link=LINKS["memory"]))
    return out


def _limit_bytes(value):
    return heaps.parse_size(value) if value not in (None, "", "max", -1, "-1") else None


def check_cgroups(f):
    if f.settings is None:
        return [Finding("WARN", "cgroups not checked", evidence="general settings %s" % f.settings_source,
                        id="cgroups.enabled", link=LINKS["cgroups"])]
    cg = f.settings.get("cgroupSettings") or {}
    if not cg.get("enabled"):
        return [Finding("WARN", "cgroups are not enabled",
                        evidence="cgroupSettings.enabled is false: one notebook or recipe can take all the memory",
                        recommendation="Administration > Settings > Resources control: enable cgroups, place Jupyter "
                                       "kernels, Python/R recipes and ML kernels in a memory-limited cgroup.",
                        id="cgroups.enabled", link=LINKS["cgroups"])]
    out = [Finding("PASS", "cgroups are enabled", evidence="cgroupSettings.enabled = true (%s)"
                   % cg.get("cgroupsVersion", "version not set"), id="cgroups.enabled", link=LINKS["cgroups"])]
    limited = {}
    for c in cg.get("cgroups") or []:
        for lim in c.get("limits") or []:
            if lim.get("key") in ("memory.limit_in_bytes", "memory.max"):
                b = _limit_bytes(lim.get("value"))
                if b:
                    limited[str(c.get("cgroupPathTemplate", "")).rstrip("/")] = b
    for key, label in CGROUP_PLACEMENTS:
        targets = [str(t.get("cgroupPathTemplate", "")) for t in (cg.get(key) or {}).get("targets") or []]
        under = [p for p in limited for t in targets if t == p or t.startswith(p + "/")]
        if not targets:
            out.append(Finding("WARN", "%s are not placed in a cgroup" % label, evidence="cgroupSettings.%s has no "
                               "target" % key, recommendation="Add a target such as memory/DSS/${user} under a "
                               "memory-limited cgroup.", id="cgroups." + key, link=LINKS["cgroups"]))
        elif not under:
            out.append(Finding("WARN", "%s are in a cgroup without a memory limit" % label,
                               evidence="targets %s; memory limits on %s" % (", ".join(targets),
                                                                             ", ".join(sorted(limited)) or "none"),
                               recommendation="Set memory.limit_in_bytes (v1) or memory.max (v2) on a parent "
                                              "cgroup of these targets.", id="cgroups." + key, link=LINKS["cgroups"]))
        else:
            out.append(Finding("PASS", "%s are in a memory-limited cgroup" % label,
                               evidence="%s under %s" % (", ".join(targets), under[0]), id="cgroups." + key,
                               link=LINKS["cgroups"]))
    for path, b in sorted(limited.items()):
        share = b / float(f.ram) if f.ram else 0
        if share > 0.8 or share < 0.25:
            out.append(Finding("WARN", "cgroup memory limit %s is %.0f%% of the host's RAM" % (path, 100 * share),
                               evidence="limit %s; RAM %s" % (_gib(b), _gib(f.ram)),
                               recommendation="The guidance: 32 GB RAM -> 10g, 64 -> 38g, 96 -> 60g, 128 and more "
                                              "-> 75%; leave room for the backend and the JEKs.",
                               id="cgroups.limit", link=LINKS["cgroups"]))
    return out


def check_timelines(f):
    t = fixes.timelines(f.dip_properties)
    n = len(f.project_keys)
    if n < TIMELINES_PROJECTS:
        return [Finding("PASS", "Timelines cache", evidence="%d projects (the cache matters from %d)"
                        % (n, TIMELINES_PROJECTS), id="timelines.cache", link=LINKS["timelines"])]
    if t.cache_set:
        return [Finding("PASS", "Timelines cache set", evidence="%d projects; dip.properties: %s" % (n, t.line.strip()),
                        id="timelines.cache", link=LINKS["timelines"])]
    if t.index is None:
        evidence = "config/dip.properties has no %s=CACHE_SIZE=... line" % fixes.TIMELINES_KEY
        fix = "Add %s to config/dip.properties" % TIMELINES_LINE
    else:  # the last line of the key wins: it is the one to complete
        evidence = "the effective line of config/dip.properties has no CACHE_SIZE: %s" % t.line.strip()
        fix = "Add %s=%s to that line's settings (';'-separated)" % fixes.CACHE_SETTING
    return [Finding("WARN", "Timelines cache not set for %d projects" % n, evidence=evidence,
                    recommendation="%s and restart DSS (apply_fixes %s)."
                                   % (fix, "writes it" if not t.problem else "cannot: " + t.problem),
                    id="timelines.cache", link=LINKS["timelines"])]


recommended_activities = fixes.recommended_activities


def check_parallelism(f):
    if f.settings is None:
        return [Finding("WARN", "Activity limits not checked", evidence="general settings %s" % f.settings_source,
                        id="limits.activities", link=LINKS["limits"])]
    out = []
    per_job = f.settings.get("maxRunningActivitiesPerJob", 5)
    total = f.settings.get("maxRunningActivities", 5)
    for key, value, low, high, fix in (
            ("maxRunningActivitiesPerJob", per_job, 5, 10, 5),
            ("maxRunningActivities", total, 5, 50, recommended_activities(f.users))):
        if not isinstance(value, int) or value <= 0 or value >= 500:
            sev = "FAIL"
        elif value < low or value > high:
            sev = "WARN"
        else:
            sev = "PASS"
        unlimited = isinstance(value, int) and not isinstance(value, bool) and value == 0
        consequence = ""
        if unlimited and key == "maxRunningActivities":
            jek = f.heaps["jek"]
            consequence = ("; with no global limit the Java heaps' worst case is %s: every running activity may "
                           "start a JEK (heap: %s)" % (heaps.UNBOUNDED, jek.source))
        out.append(Finding(sev, "%s = %s%s" % (key, value, " (unlimited)" if unlimited else ""),
                           evidence="recommended %d to %d%s; 0 (no limit) or 500 and more fail%s"
                                    % (low, high, " (%s users: %d)" % (f.users, fix) if key == "maxRunningActivities"
                                       and f.users else "", consequence),
                           recommendation="" if sev == "PASS" else "Set %s to %d (Administration > Settings > Flow "
                           "build; apply_fixes sets it)." % (key, fix),
                           id="limits." + key, link=LINKS["limits"]))
    return out


def check_disk(f):
    fs = f.fs
    out = [Finding("PASS" if fs.size_bytes >= MIN_DISK_GB * GB else "WARN", "Data-directory filesystem size",
                   evidence="%s (at least %s recommended)" % (render.format_bytes(fs.size_bytes),
                                                               render.format_gb(MIN_DISK_GB)),
                   recommendation="" if fs.size_bytes >= MIN_DISK_GB * GB else "Move DIP_HOME to a filesystem of %s "
                   "or more." % render.format_gb(MIN_DISK_GB),
                   id="disk.size", link=LINKS["disk"])]
    free = 100.0 - fs.used_percent
    sev = "FAIL" if free < 10 else ("WARN" if free < 20 else "PASS")
    out.append(Finding(sev, "Free space: %.1f%%" % free, evidence="%s available of %s usable (used + available)"
                       % (render.format_bytes(fs.free_bytes), render.format_bytes(fs.used_bytes + fs.free_bytes)),
                       recommendation="" if sev == "PASS" else "Purge logs and exports (node-ops purges), see the "
                       "capacity report for the largest folders.", id="disk.free", link=LINKS["disk"]))
    used = fs.inodes_used_percent
    sev = "FAIL" if used > 90 else ("WARN" if used > 80 else "PASS")
    out.append(Finding(sev, "Inodes used: %.1f%%" % used, evidence="%s free of %s" % (render.format_count(fs.inodes_free),
                                                                  render.format_count(fs.inodes_total)),
                       recommendation="" if sev == "PASS" else "Job and scenario logs are many small files: purge them.",
                       id="disk.inodes", link=LINKS["disk"]))
    return out


def _check_backlog(f, backlog, what, check_id):
    limit_ms = f.now_ms - MAX_LOG_AGE_DAYS * DAY_MS
    heavy = sorted((k, n, old) for k, (n, old) in backlog.items() if n > MAX_JOB_LOGS or old < limit_ms)
    if not heavy:
        return [Finding("PASS", "%s backlog" % what.capitalize(), evidence="no project over %d %s or with %s older "
                        "than %d days" % (MAX_JOB_LOGS, what, what, MAX_LOG_AGE_DAYS), id=check_id, link=LINKS["disk"])]
    shown = ", ".join("%s (%s, oldest %s days)" % (k, render.format_count(n), render.format_count((f.now_ms - old) // DAY_MS))
                      for k, n, old in heavy[:10])
    return [Finding("WARN", "%d project(s) keep too many or too old %s" % (len(heavy), what),
                    evidence=shown + (" and %d more" % (len(heavy) - 10) if len(heavy) > 10 else ""),
                    recommendation="Schedule the node-ops purge steps in the administration project "
                                   "(retention 60 days or less).", id=check_id, link=LINKS["disk"])]


def check_logs(f):
    return _check_backlog(f, f.job_backlog, "job logs", "logs.jobs") + \
        _check_backlog(f, f.run_backlog, "scenario run logs", "logs.scenarios")


def check_kernels(f):
    if f.sessions is None:
        return [Finding("WARN", "Notebook kernels not checked", evidence=f.sessions_error, id="kernels.idle")]
    idle = [s for s in f.sessions if str(s.get("kernelExecutionState")).lower() != "busy"
            and s.get("kernelLastActivityTime") and f.now_ms - int(s["kernelLastActivityTime"]) > DAY_MS]
    out = [Finding("INFO", "%d notebook kernel(s) alive" % len(f.sessions), id="kernels.alive")]
    out.append(Finding("WARN" if idle else "PASS", "%d kernel(s) idle for more than 24 h" % len(idle),
                       evidence=", ".join(sorted("%s.%s (%s)" % (s.get("projectKey"), s.get("notebookName"),
                                                                 s.get("sessionCreator")) for s in idle)[:10]),
                       recommendation="" if not idle else "Schedule the node-ops cull-kernels step hourly.",
                       id="kernels.idle", link=LINKS["macros"]))
    return out


def check_backups(f, params):
    if not params.backup_dir:
        return [Finding("INFO", "Backups not checked", evidence="no backup_dir given (in the form or the plugin settings)", id="backups.age",
                        link=LINKS["backups"])]
    d = params.backup_dir
    try:
        # only archives node-ops wrote count: the cheap identity check first, then, newest first,
        # the deep check (the manifest read whole) until one passes: normally one full read
        dir_fd = os.open(str(d), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as e:
        return [Finding("FAIL", "Backup folder unreadable", evidence="%s: %s" % (d, e.strerror or e),
                        recommendation="Check that backups land in this folder.", id="backups.age",
                        link=LINKS["backups"])]
    try:
        found, skipped = archives.list_archives(d, deep=False, dir_fd=dir_fd)
        good, unreadable = None, []
        for a in sorted(found, key=lambda a: (a.st.st_mtime, a.name), reverse=True):
            if archives.manifest_problem(dir_fd, a) is None:
                good = a
                break
            unreadable.append(a.name)
    except OSError as e:
        return [Finding("FAIL", "Backup folder unreadable", evidence="%s: %s" % (d, e.strerror or e),
                        recommendation="Check that backups land in this folder.", id="backups.age",
                        link=LINKS["backups"])]
    finally:
        os.close(dir_fd)
    found = [a for a in found if a.name not in unreadable]
    others = ("; %d other entr%s named like archives not counted (not node-ops archives: %s)"
              % (len(skipped), "y" if len(skipped) == 1 else "ies", ", ".join(n for n, _ in skipped[:5]))
              if skipped else "")
    if unreadable:
        others += "; %d archive(s) whose manifest is unreadable, not counted (cannot be restored): %s%s" % (
            len(unreadable), ", ".join(unreadable[:5]), " ..." if len(unreadable) > 5 else "")
    if good is None:
        return [Finding("FAIL", "No backup found", evidence="no node-ops archive with a readable manifest in %s%s"
                        % (d, others), recommendation="Schedule backups of DIP_HOME.", id="backups.age",
                        link=LINKS["backups"])]
    entries = found
    newest = good.st.st_mtime
    age_h = (f.now_ms / 1000.0 - newest) / 3600.0
    out = [Finding("PASS" if age_h <= params.backup_max_age_hours else "FAIL", "Newest backup is %s old" % render.format_hours(age_h),
                   evidence="%s backup(s) in %s; newest %s%s" % (render.format_count(len(entries)), d, _dt.datetime.fromtimestamp(newest)
                                                                 .isoformat(" ", "seconds"), others),
                   recommendation="" if age_h <= params.backup_max_age_hours else "The newest backup is older than "
                   "%d h: check the backup job." % params.backup_max_age_hours, id="backups.age", link=LINKS["backups"])]
    out.append(Finding("PASS" if len(entries) > 1 else "WARN", "%d point-in-time copies" % len(entries),
                       recommendation="" if len(entries) > 1 else "Keep more than one copy: one bad backup must not "
                       "be the only one.", id="backups.copies", link=LINKS["backups"]))
    return out


def step_disabled(step):
    """A step that never runs: disabled in the UI (``runConditionType: "DISABLED"``, how
    DSS's scenario editor disables a step) or saved with ``enabled: false``."""
    return step.get("runConditionType") == "DISABLED" or step.get("enabled") is False


def _steps(scenario, disabled=False):
    """Step ids of the node-ops steps and macros a scenario runs (with ``disabled``: of
    those it has but never runs)."""
    ids = set()
    for step in (scenario.get("params") or {}).get("steps") or []:
        if step_disabled(step) != disabled:
            continue
        t = str(step.get("type", ""))
        if t.startswith(resources.STEP_PREFIX):
            ids.add(t[len(resources.STEP_PREFIX):])
        runnable = str((step.get("params") or {}).get("runnableType", ""))
        if runnable.startswith(resources.MACRO_PREFIX):
            ids.add(runnable[len(resources.MACRO_PREFIX):])
    return ids


def _scheduled(scenario):
    return bool(scenario.get("active")) and any(t.get("active", True) and t.get("type") == "temporal"
                                                 for t in scenario.get("triggers") or [])


def maintenance_scheduled(project, purpose):
    """Names of active, scheduled scenarios running a step for ``purpose`` (a disabled
    step does not count)."""
    return sorted(s.get("id", "?") for s in (project or {}).get("scenarios", [])
                  if _scheduled(s) and _steps(s) & set(MAINTENANCE[purpose]))


def maintenance_disabled(project, purpose):
    """Names of the scenarios that have a step for ``purpose`` only in disabled steps."""
    return sorted(s.get("id", "?") for s in (project or {}).get("scenarios", [])
                  if _steps(s, disabled=True) & set(MAINTENANCE[purpose])
                  and not _steps(s) & set(MAINTENANCE[purpose]))


def _disabled_note(project, purpose):
    off = maintenance_disabled(project, purpose)
    return "; disabled step(s), not counted, in %s" % ", ".join(off) if off else ""


def check_admin_project(f, params):
    key = params.admin_project_key
    if f.admin_error:
        return [Finding("WARN", "Administration project not checked", evidence=f.admin_error, id="admin.exists")]
    if f.admin_project is None:
        return [Finding("WARN", "No administration project %s" % key,
                        evidence="project %s does not exist" % key,
                        recommendation="Run the node-ops setup-admin-project macro, or create an administrators-only "
                                       "project that schedules the maintenance.", id="admin.exists",
                        link=LINKS["macros"])]
    p = f.admin_project
    out = [Finding("PASS", "Administration project %s exists" % key, id="admin.exists")]
    others = sorted(perm.get("group") or perm.get("user") or "?" for perm in p.get("permissions") or []
                    if perm.get("group") not in f.admin_groups and any(v is True for v in perm.values()))
    if p.get("owner") and p["owner"] not in f.admin_logins:
        others.append("owner %s" % p["owner"])
    out.append(Finding("FAIL" if others else "PASS", "Access to %s" % key,
                       evidence=("not administrators, with access: %s" % ", ".join(others)) if others
                       else "only administrators have access (owner %s)" % p.get("owner"),
                       recommendation="" if not others else "Remove them from the project's permissions; make an "
                       "administrator the owner.", id="admin.permissions"))
    for purpose, label in (("purge", "purges logs"), ("cull", "culls notebook kernels")):
        found = maintenance_scheduled(p, purpose)
        out.append(Finding("PASS" if found else "WARN", "A scheduled scenario %s" % label,
                           evidence=("active and scheduled: %s" % ", ".join(found)) if found else
                           "no active scenario with a temporal trigger runs %s%s"
                           % (" or ".join(MAINTENANCE[purpose]), _disabled_note(p, purpose)),
                           recommendation="" if found else "Schedule the node-ops step in %s (an enabled step: run "
                           "condition other than Disabled)." % key,
                           id="admin." + purpose, link=LINKS["macros"]))
    return out


def check_monitoring(f):
    found = maintenance_scheduled(f.admin_project, "metrics")
    graphite = re.search(r"graphite|carbon", f.install_ini_text, re.IGNORECASE)
    if found or graphite:
        evidence = ("scheduled: %s" % ", ".join(found)) if found else "install.ini mentions %s" % graphite.group(0)
        return [Finding("PASS", "Monitoring", evidence=evidence, id="monitoring", link=LINKS["monitoring"])]
    return [Finding("WARN", "No monitoring", evidence="no scheduled collect-metrics step in the administration "
                    "project, and no Graphite integration in install.ini%s" % _disabled_note(f.admin_project, "metrics"),
                    recommendation="Schedule the node-ops collect-metrics step, or run ./bin/dssadmin "
                                   "install-monitoring-integration -graphiteServer HOST:PORT.",
                    id="monitoring", link=LINKS["monitoring"])]


_SANITY = {"ERROR": "FAIL", "FATAL": "FAIL", "WARNING": "WARN", "WARN": "WARN", "INFO": "INFO", "SUCCESS": "PASS"}


def check_sanity(f):
    if f.sanity is None:
        return [Finding("INFO", "DSS instance sanity check not run", evidence=f.sanity_note, id="dss.sanity",
                        link=LINKS["sanity"])]
    if not f.sanity:
        return [Finding("PASS", "DSS instance sanity check: no message", id="dss.sanity", link=LINKS["sanity"])]
    return [Finding(_SANITY.get(str(m.get("severity", "")).upper(), "INFO"), "DSS: %s" % (m.get("title") or m.get("code")),
                    evidence=m.get("details") or m.get("message") or "", id="dss." + str(m.get("code", "sanity")),
                    link=LINKS["sanity"]) for m in f.sanity]


# ---- the operation ---------------------------------------------------------------------
def check(params, ctx):
    """The problems of the parameters (the runner checks them before anything happens)."""
    problems = []
    if not re.match(r"^[A-Za-z0-9_]+$", params.admin_project_key or ""):
        problems.append("'admin_project_key' must be a project key (letters, digits, _), not %r"
                        % params.admin_project_key)
    if params.backup_dir and not os.path.isabs(params.backup_dir):
        problems.append("'backup_dir' must be an absolute path, not %r" % params.backup_dir)
    return problems


def run(ctx, params, progress=None) -> Report:
    ctx.require_admin()
    started = time.process_time()
    facts = gather(ctx, params)
    report = Report(operation=OPERATION_ID, title=TITLE, generated_at_ms=facts.now_ms, params=dict(params))
    changes = []
    if params.apply_fixes:
        changes = fixes.apply(ctx.require_client(), facts, report)
        if changes:  # audit what is now in place
            facts = gather(ctx, params)
    checks = (check_memory(facts) + check_cgroups(facts) + check_timelines(facts) + check_parallelism(facts)
              + check_disk(facts) + check_logs(facts) + check_kernels(facts) + check_backups(facts, params)
              + check_admin_project(facts, params) + check_monitoring(facts) + check_sanity(facts))
    checks.sort(key=lambda c: (-ORDER.index(c.severity), c.id))
    report.findings = checks
    for sev in reversed(ORDER):
        report.summary.append(Figure(sev.lower(), sev, sum(1 for c in checks if c.severity == sev), "count",
                                     headline=True, severity=sev if sev in ("FAIL", "WARN") else ""))
    report.summary.append(Figure("changes", "Fixes applied", len(changes), "count", headline=True))
    if params.apply_fixes:
        t = Table("changes", "Fixes applied", [Column("setting", "Setting"), Column("before", "Before"),
                                               Column("after", "After"), Column("note", "Note")])
        for c in changes:
            t.add(**c)
        report.tables.append(t)
        if not changes:
            report.notes.append("apply_fixes: nothing to change.")
    fail_at(report, params)
    if not report.failure:  # a fix asked for and not applied: the run had errors
        report.fail_on_errors(TITLE)
    report.notes.append("Audit time: %.2f s of CPU." % (time.process_time() - started))
    return report


def fail_at(report, params):
    """Fail ``report`` when a check is at ``fail_severity`` or above. A step-only parameter: the
    macro's report (made at the default) is failed again by the step that delegated to it."""
    threshold = ORDER.index(params.fail_severity)
    failing = [c for c in report.findings if ORDER.index(c.severity) >= threshold]
    if failing:
        report.failure = "%s: %d check(s) at %s or above: %s" % (TITLE, len(failing), params.fail_severity,
                                                                 "; ".join("%s %s" % (c.severity, c.title)
                                                                           for c in failing[:10]))
        report.failure_from_errors = False
    return report
