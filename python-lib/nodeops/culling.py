"""Jupyter kernel culling: which notebook sessions to unload, and doing it.

Every session of the instance comes from the DSS API in as few calls as it
allows (:func:`nodeops.dssapi.notebook_sessions`). For each one, :func:`decide`
says kill or keep and why: exemptions first, then the rules (idle, age,
memory), then the protections (busy, connected). A kernel is killed only by
unloading its session through the DSS API; node-ops never signals a process
itself. After the unloads it waits for the kernel processes to be gone and
reports the memory that freed.

Memory is the resident size (RSS) of the kernel process and its children, read
with psutil when the session's PID is a kernel on this host: a process whose
command line names the session's kernel ID (Jupyter starts kernels with
``-f .../kernel-<kernelId>.json``). Anything else has unknown memory and is
never killed on the memory rule: a kernel in a container (its local PID is the
forwarder, ``python -m dataiku.notebook.remote_kernel_forwarder ...
--connection-file .../kernel-<kernelId>.json``, whose memory is not the
kernel's), a PID of another host or of an unrelated process.
"""

from dataclasses import dataclass, field
from typing import List, Optional

from . import dssapi, kernelnotices, processes
from .errors import Unavailable
from .params import MAX_HOURS, MAX_MIB, Param, separator
from .report import Column, Figure, Report, Table

OPERATION_ID = "cull-kernels"
TITLE = "Cull Jupyter kernels"

MIB = 1024 * 1024
HOUR_MS = 3600 * 1000
#: How long to wait, after the unloads, for the kernel processes to be gone.
CONFIRM_TIMEOUT_S = 15.0
#: Sessions listed one by one (kills and would-kills first, then by memory); the rest are counted.
MAX_LISTED = 200
#: Decisions listed first: what was (or would be, or was tried to be) killed.
_KILL_DECISIONS = ("killed", "would kill", "kill failed", "unloaded, still running")

PARAMS = (
    separator("Rules", "A kernel is killed when any rule with a value above 0 applies to it."),
    Param("max_idle_hours", "DOUBLE", "Maximum idle time (hours)", default=24, min=0, max=MAX_HOURS, mandatory=True,
          description="Kill kernels idle for longer than this. 0 = off."),
    Param("max_age_hours", "DOUBLE", "Maximum session age (hours)", default=0, min=0, max=MAX_HOURS, mandatory=True,
          description="Kill sessions started longer ago than this, idle or not. 0 = off."),
    Param("max_memory_mb", "INT", "Maximum memory (MiB)", default=0, min=0, max=MAX_MIB, mandatory=True,
          description="Kill kernels whose resident memory (kernel and its child processes) exceeds this many MiB, "
                      "when the kernel runs on this host. 0 = off."),
    separator("Protections", "Kernels the rules above never kill."),
    Param("protect_busy", "BOOLEAN", "Protect busy kernels", default=True,
          description="Never kill a kernel that is computing, unless it has been busy for longer than the maximum below."),
    Param("max_busy_hours", "DOUBLE", "Maximum busy time (hours)", default=0, min=0, max=MAX_HOURS, mandatory=True,
          visible_if="model.protect_busy",
          description="With busy kernels protected, a kernel busy without interruption for longer than this loses "
                      "the protection. 0 = busy kernels are never killed."),
    Param("protect_connected", "BOOLEAN", "Protect connected kernels", default=True,
          description="Never kill a kernel that has an open browser connection."),
    separator("Exemptions"),
    Param("exempt_users", "MULTISELECT", "Exempt users", default=(), choices_from="users",
          description="Users whose sessions are never touched."),
    Param("exempt_projects", "MULTISELECT", "Exempt projects", default=(), choices_from="projects",
          description="Projects whose sessions are never touched."),
    separator("Notices", "Owners told by mail before their kernels go."),
    Param("warn_hours", "DOUBLE", "Warn owners ahead (hours)", default=0, min=0, max=MAX_HOURS, mandatory=True,
          description="Mail the owner of a session the rules will cull within this many hours, once per "
                      "session (never for exempt users or projects). 0 = off."),
    Param("notify_channel", "SELECT", "Notice mail channel", default="", choices_from="mail_channels",
          visible_if="model.warn_hours > 0",
          description="The mail channel the notices are sent through; empty: the first mail channel of the "
                      "instance."),
    separator("Run"),
    Param("dry_run", "BOOLEAN", "Dry run", default=True,
          description="Report exactly what would be killed; kill nothing."),
    Param("fail_on_error", "BOOLEAN", "Fail the scenario on errors", default=True, step_only=True,
          description="Fail the step when sessions could not be listed or a kill failed."),
)


@dataclass
class Session:
    project: str
    notebook: str
    session_id: str
    kernel_id: str
    owner: str
    state: str
    connections: int
    idle_hours: float
    age_hours: float
    busy_hours: Optional[float]
    pid: Optional[int]
    raw: dict
    rss: Optional[int] = None  # bytes: kernel + children; None = unknown
    memory_note: str = ""
    processes: List = field(default_factory=list)


def _hours(now_ms, then_ms):
    if not then_ms:
        return None
    return max(0.0, (now_ms - int(then_ms)) / float(HOUR_MS))


def to_session(raw, now_ms) -> Session:
    state = str(raw.get("kernelExecutionState") or "unknown").lower()
    last = raw.get("kernelLastActivityTime")
    idle = _hours(now_ms, last)
    pid = raw.get("kernelPid")
    return Session(
        project=raw.get("projectKey") or "", notebook=raw.get("notebookName") or "",
        session_id=raw.get("sessionId") or "", kernel_id=raw.get("kernelId") or "",
        owner=raw.get("sessionCreator") or "", state=state, connections=int(raw.get("kernelConnections") or 0),
        idle_hours=idle if state != "busy" else None,
        age_hours=_hours(now_ms, raw.get("sessionStartTime")),
        # Busy since it was last seen idle: the kernel's last activity is when it
        # last changed state or printed, so this is a lower bound.
        busy_hours=idle if state == "busy" else None,
        pid=int(pid) if isinstance(pid, (int, float)) and pid > 0 else None,
        raw=raw)


# ---- processes ------------------------------------------------------------------------
def measure(session):
    """Fill ``rss`` and ``processes`` when the session's PID is a kernel on this host."""
    import psutil

    if session.pid is None:
        session.memory_note = "no kernel PID from DSS"
        return
    try:
        proc = psutil.Process(session.pid)
        cmdline = proc.cmdline()
    except psutil.NoSuchProcess:
        session.memory_note = "PID %d is not on this host (kernel in a container?)" % session.pid
        return
    except psutil.AccessDenied:
        session.memory_note = "PID %d cannot be inspected" % session.pid
        return
    if processes.is_kernel_forwarder(cmdline):
        session.memory_note = "kernel in a container (PID %d is its local forwarder)" % session.pid
        return
    if not session.kernel_id or not any(session.kernel_id in arg for arg in cmdline):
        session.memory_note = "PID %d is not this session's kernel (kernel in a container?)" % session.pid
        return
    procs = [proc]
    try:
        procs += proc.children(recursive=True)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        pass
    rss = 0
    counted = []
    for p in procs:
        try:
            rss += p.memory_info().rss
            counted.append(p)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    if proc not in counted:
        session.memory_note = "PID %d cannot be inspected" % session.pid
        return
    session.rss, session.processes = rss, counted


def wait_gone(sessions, timeout):
    """Wait until the processes of every session are gone; {session_id: [alive processes]}."""
    import psutil

    procs = [p for s in sessions for p in s.processes]
    if not procs:
        return {}
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    alive_pids = {p.pid for p in alive if _running(p)}
    return {s.session_id: [p for p in s.processes if p.pid in alive_pids] for s in sessions}


def _running(p):
    import psutil

    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


# ---- the decision ----------------------------------------------------------------------
def decide(s, params):
    """Kill or keep one session: (kill?, reason)."""
    if s.owner in params.exempt_users:
        return False, "exempt user"
    if s.project in params.exempt_projects:
        return False, "exempt project"
    rules = []
    if params.max_idle_hours > 0 and s.state != "busy" and s.idle_hours is not None \
            and s.idle_hours > params.max_idle_hours:
        rules.append("idle %.1f h > %g h" % (s.idle_hours, params.max_idle_hours))
    if params.max_age_hours > 0 and s.age_hours is not None and s.age_hours > params.max_age_hours:
        rules.append("age %.1f h > %g h" % (s.age_hours, params.max_age_hours))
    if params.max_memory_mb > 0 and s.rss is not None and s.rss > params.max_memory_mb * MIB:
        rules.append("memory %.0f MiB > %d MiB" % (s.rss / MIB, params.max_memory_mb))
    if not rules:
        if params.max_memory_mb > 0 and s.rss is None:
            return False, "within limits (memory unknown: %s)" % s.memory_note
        return False, "within limits"
    why = "; ".join(rules)
    if params.protect_busy and s.state == "busy":
        if params.max_busy_hours <= 0:
            return False, "busy (protected): %s" % why
        if s.busy_hours is None or s.busy_hours <= params.max_busy_hours:
            return False, "busy for %.1f h, not over %g h (protected): %s" % (s.busy_hours or 0, params.max_busy_hours, why)
        why += "; busy %.1f h > %g h" % (s.busy_hours, params.max_busy_hours)
    if params.protect_connected and s.connections > 0:
        return False, "%d browser connection(s) open (protected): %s" % (s.connections, why)
    return True, why


# ---- the operation ---------------------------------------------------------------------
def progress_target(ctx, params):
    """(sessions, RECORDS): one listing of the notebook sessions through the API; the run lists
    them again and reports each session decided (and unloaded) against it."""
    _, raw_sessions = dssapi.notebook_sessions(ctx.require_client())
    return len(raw_sessions), "RECORDS"


def run(ctx, params, progress=None) -> Report:
    ctx.require_admin()
    client = ctx.require_client()
    now = ctx.now()
    now_ms = int(now.timestamp() * 1000)
    dry_run = params.dry_run
    report = Report(operation=OPERATION_ID, title=TITLE, generated_at_ms=now_ms, dry_run=dry_run, params=dict(params))
    users = Table("users", "By user", [
        Column("owner", "User"), Column("sessions", "Sessions", "count"), Column("memory", "Memory", "bytes"),
        Column("kills", "Would kill" if dry_run else "Killed", "count")])
    table = Table("sessions", "Sessions", [
        Column("project", "Project"), Column("notebook", "Notebook"), Column("owner", "Owner"),
        Column("state", "State"), Column("idle_hours", "Idle", "hours"), Column("busy_hours", "Busy for", "hours"),
        Column("age_hours", "Age", "hours"),
        Column("rss", "RSS", "bytes"), Column("memory_note", "Memory unknown"), Column("decision", "Decision"),
        Column("reason", "Reason")])
    notices = Table("notices", "Owners who would be told" if dry_run else "Owners told", [
        Column("owner", "User"), Column("email", "E-mail"), Column("project", "Project"),
        Column("notebook", "Notebook"), Column("eligible_in_hours", "Culled in", "hours"),
        Column("reason", "Why"), Column("outcome", "Notice")])
    report.tables += [users, table]
    totals = dict(seen=0, killed=0, freed=0, kept=0, memory=0, unknown_memory=0, told=0)

    def finish():
        report.summary += [
            Figure("sessions", "Sessions", totals["seen"], "count"),
            Figure("killed", "Would kill" if dry_run else "Killed", totals["killed"], "count"),
            Figure("memory_freed_bytes", "Would free" if dry_run else "Memory freed", totals["freed"], "bytes"),
            Figure("kept", "Kept", totals["kept"], "count"),
            Figure("memory_bytes", "Memory of all kernels on this host", totals["memory"], "bytes"),
            Figure("unknown_memory", "Sessions with unknown memory", totals["unknown_memory"], "count"),
            Figure("errors", "Errors", len(report.errors), "count"),
        ]
        if params.warn_hours > 0:
            report.summary.append(Figure("owners_told", "Owners who would be told" if dry_run else "Owners told",
                                         totals["told"], "count"))
        report.fail_on_errors(TITLE, params.get("fail_on_error", True))
        return report

    try:
        api, raw_sessions = dssapi.notebook_sessions(client)
    except Unavailable as e:
        report.errors.append("nothing was killed: the notebook sessions could not be listed: %s" % e)
        return finish()
    report.notes.append("Sessions listed through the %s." % api)
    sessions = sorted((to_session(r, now_ms) for r in raw_sessions), key=lambda s: (s.project, s.notebook, s.owner))
    decisions = []
    for s in sessions:
        measure(s)
        kill, reason = decide(s, params)
        decisions.append((s, kill, reason))
        totals["seen"] += 1
        if s.rss is None:
            totals["unknown_memory"] += 1
        else:
            totals["memory"] += s.rss

    unloaded = []
    outcome = {}
    for s, kill, reason in decisions:
        if not kill:
            outcome[s.session_id] = ("keep", reason)
        elif dry_run:
            outcome[s.session_id] = ("would kill", reason)
        else:
            try:
                dssapi.unload_session(client, api, s.raw)
            except Unavailable as e:
                report.errors.append("%s.%s (%s): not killed, the unload failed: %s" % (s.project, s.notebook, s.owner, e))
                outcome[s.session_id] = ("kill failed", "%s; unload failed" % reason)
                continue
            unloaded.append(s)
            outcome[s.session_id] = ("killed", reason)
        if progress is not None:
            progress(len(outcome))
    still_alive = wait_gone(unloaded, CONFIRM_TIMEOUT_S) if unloaded else {}
    if params.warn_hours > 0:  # after the cull: a notice never delays nor blocks it
        totals["told"] = kernelnotices.notify(ctx, client, params, decisions, decide, now, report, notices)
        report.tables.append(notices)

    rows, by_user = [], {}
    for s, kill, reason in decisions:
        decision, why = outcome[s.session_id]
        freed = None
        if decision == "would kill":
            freed = s.rss
        elif decision == "killed":
            alive = still_alive.get(s.session_id) or []
            if alive:
                report.errors.append("%s.%s (%s): unloaded, but process(es) %s still running after %.0f s"
                                     % (s.project, s.notebook, s.owner, ", ".join(str(p.pid) for p in alive),
                                        CONFIRM_TIMEOUT_S))
                decision, why = "unloaded, still running", why
            elif s.rss is None:
                why += " (process not on this host: not confirmed)"
            else:
                freed = s.rss
        killed = decision in ("killed", "would kill")
        if killed:
            totals["killed"] += 1
            totals["freed"] += freed or 0
        else:
            totals["kept"] += 1
        user = by_user.setdefault(s.owner, dict(owner=s.owner, sessions=0, memory=0, kills=0))
        user["sessions"] += 1
        user["memory"] += s.rss or 0
        user["kills"] += killed
        rows.append(dict(project=s.project, notebook=s.notebook, owner=s.owner, state=s.state,
                         idle_hours=round(s.idle_hours, 1) if s.idle_hours is not None else None,
                         busy_hours=round(s.busy_hours, 1) if s.busy_hours is not None else None,
                         age_hours=round(s.age_hours, 1) if s.age_hours is not None else None,
                         rss=s.rss, memory_note=s.memory_note if s.rss is None else "", decision=decision,
                         reason=why))
    # what was (or would be) killed first, then the largest: the rows an administrator looks for
    rows.sort(key=lambda r: (r["decision"] not in _KILL_DECISIONS, -(r["rss"] or 0), r["rss"] is None))
    for row in rows[:MAX_LISTED]:
        table.add(**row)
    if len(rows) > MAX_LISTED:
        table.title += " (the first %d of %d)" % (MAX_LISTED, len(rows))
        table.unlisted = len(rows) - MAX_LISTED
        report.notes.append("%d more session(s) not listed, %d of them %s: see the per-user table"
                            % (len(rows) - MAX_LISTED,
                               sum(r["decision"] in _KILL_DECISIONS for r in rows[MAX_LISTED:]),
                               "would be killed" if dry_run else "killed"))
    for user in sorted(by_user.values(), key=lambda u: (-u["kills"], -u["memory"], u["owner"])):
        users.add(**user)
    return finish()
