"""Monitoring: metrics of the host, of the DSS processes and of DSS itself, sent to
Graphite, a Prometheus textfile and the history; and a health check that fails
its scenario step when a threshold is breached (so the scenario's reporters
alert).

A metric is a dotted name, labels and a value (:class:`Metric`). Graphite gets
``<prefix>.<name>[.<label values>] <value> <time>`` lines over TCP; Prometheus
gets ``nodeops_<name with _>{labels} value`` through prometheus_client's own
text format. A sink that fails is reported and never stops the others; every
network call has a timeout.
"""

import csv
import datetime as _dt
import hashlib
import io
import os
import re
import socket
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from . import datadir, dssapi, history, processes, safefs
from .errors import Unavailable
from .params import MAX_COUNT, MAX_DAYS, MAX_HOURS, Param, separator
from .report import Column, Figure, Finding, Report, Table

COLLECT_ID = "collect-metrics"
HEALTH_ID = "health-check"
METRICS_FOLDER = "node_ops_metrics_history"
NETWORK_TIMEOUT_S = 5.0
#: Timeout of each DSS API call made by the monitoring steps (a stuck backend is a breach, not a hang).
API_TIMEOUT_S = 10.0
HOUR_MS = 3600 * 1000

COLLECT_PARAMS = (
    separator("Graphite"),
    Param("graphite_host", "STRING", "Graphite host", default="", setting="graphite_host",
          description="Carbon host receiving the plaintext protocol (no host: no Graphite)."),
    # not hidden while graphite_host is empty (visible_if): an empty host takes the plugin setting
    Param("graphite_port", "INT", "Graphite port", default=2003, min=1, max=65535, setting="graphite_port",
          description="Port of Carbon's plaintext listener."),
    Param("prefix", "STRING", "Metric prefix", default="", setting="graphite_prefix",
          description="Graphite prefix (none: by the prefix convention)."),
    Param("prefix_convention", "SELECT", "Prefix convention", default="node-ops",
          choices=(("node-ops", "dss.<host>.node-ops"), ("dss", "DSS's own: <DSS prefix>.node-ops")),
          description="Without a prefix: dss.<host>.node-ops, or beside DSS's own backend metrics "
                      "(install.ini [collectd] prefix, else dss.<reversed fqdn>.<DSS port>) with .node-ops."),
    separator("Prometheus"),
    Param("prometheus_file", "STRING", "Prometheus textfile", default="", setting="prometheus_file",
          description="Absolute path of a .prom file for node_exporter's textfile collector (none: no file)."),
    separator("History"),
    Param("history", "BOOLEAN", "Keep a history", default=True,
          description="Add the values to daily CSV files (in DSS: the managed folder node_ops_metrics_history of "
                      "this project; the step creates it, the macro adds to it once it exists)."),
    Param("history_days", "INT", "History kept (days)", default=35, min=1, max=MAX_DAYS, mandatory=True,
          description="Daily history files older than this are removed by the run that writes the history."),
    separator("Run"),
    Param("fail_on_error", "BOOLEAN", "Fail the scenario on errors", default=True, step_only=True,
          description="Fail the step when a sink could not be written (the other sinks are written anyway)."),
)

HEALTH_PARAMS = (
    Param("max_disk_used_percent", "INT", "Disk used (%)", default=85, min=1, max=100, mandatory=True,
          description="Breach when the DIP_HOME filesystem is fuller than this."),
    Param("max_inodes_used_percent", "INT", "Inodes used (%)", default=85, min=1, max=100, mandatory=True,
          description="Breach when more of the DIP_HOME filesystem's inodes than this (%) are used."),
    Param("min_memory_available_percent", "INT", "Memory available (%)", default=10, min=0, max=100, mandatory=True,
          description="Breach when less of the host's memory is available."),
    Param("max_alive_kernels", "INT", "Notebook kernels alive", default=200, min=0, max=MAX_COUNT, mandatory=True,
          description="Breach when more Jupyter kernels than this are alive."),
    Param("max_job_hours", "DOUBLE", "Job running time (hours)", default=24, min=0, max=MAX_HOURS, mandatory=True,
          description="Breach when a job has been running longer than this; 0 = off."),
    Param("max_failed_scenarios", "INT", "Failed scenario runs (24 h)", default=0, min=0, max=MAX_COUNT, mandatory=True,
          description="Breach when more scenario runs than this failed in the last 24 hours."),
    Param("check_api", "BOOLEAN", "Backend API reachable", default=True,
          description="Breach when the DSS backend API does not answer."),
)


@dataclass
class Metric:
    name: str
    value: float
    unit: str = ""
    labels: Dict[str, str] = field(default_factory=dict)
    source: str = ""

    def graphite_path(self):
        parts = [self.name] + [_sanitize(v) for _, v in sorted(self.labels.items())]
        return ".".join(parts)

    def prometheus_name(self):
        return "nodeops_" + self.name.replace(".", "_")


def _sanitize(text):
    return re.sub(r"[^A-Za-z0-9_-]+", "_", str(text)).strip("_") or "root"


def graphite_paths(metrics) -> List[str]:
    """The Graphite path of each metric, in order. Sanitising label values can give two
    different metrics one path (mounts ``/var/lib`` and ``/var_lib`` both give ``var_lib``;
    ``/`` and ``/root`` both give ``root``): each metric of such a clash, and only those,
    gets a short hash of its name and raw labels appended (``var_lib_1a2b3c4d``), the same
    from run to run. A path nobody else takes is left as it always was."""
    base = [mt.graphite_path() for mt in metrics]
    ids = [_identity(mt) for mt in metrics]
    width = [0] * len(metrics)
    for _ in range(4):  # 8, 16, then 64 hex digits: a hashed path that still clashes grows
        paths = [b if w == 0 else "%s_%s" % (b, _digest(i)[:w]) for b, i, w in zip(base, ids, width)]
        owners = {}
        for path, ident in zip(paths, ids):
            owners.setdefault(path, set()).add(ident)
        clashing = [k for k, path in enumerate(paths) if len(owners[path]) > 1]
        if not clashing:
            break
        for k in clashing:
            width[k] = {0: 8, 8: 16}.get(width[k], 64)
    return paths


def _identity(mt):
    return "\x00".join([mt.name] + ["%s=%s" % kv for kv in sorted(mt.labels.items())])


def _digest(identity):
    return hashlib.sha256(identity.encode("utf-8", "surrogateescape")).hexdigest()


# ---- collection ---------------------------------------------------------------------------
def host_metrics(dip_home) -> List[Metric]:
    import psutil

    out = [Metric("host.cpu_percent", psutil.cpu_percent(interval=0.2), "percent", source="psutil")]
    try:
        for i, v in zip((1, 5, 15), os.getloadavg()):
            out.append(Metric("host.load_%dm" % i, round(v, 2), "", source="os.getloadavg"))
    except OSError:
        pass
    vm, sw = psutil.virtual_memory(), psutil.swap_memory()
    out += [Metric("host.memory_total_bytes", vm.total, "bytes", source="psutil"),
            Metric("host.memory_available_bytes", vm.available, "bytes", source="psutil"),
            Metric("host.memory_available_percent", round(100.0 * vm.available / vm.total, 2), "percent",
                   source="psutil"),
            Metric("host.swap_total_bytes", sw.total, "bytes", source="psutil"),
            Metric("host.swap_used_bytes", sw.used, "bytes", source="psutil")]
    mounts = {"dip_home": str(dip_home)} if dip_home else {}
    for part in psutil.disk_partitions(all=False):
        mounts.setdefault(part.mountpoint, part.mountpoint)
    for label, path in mounts.items():
        try:
            fs = datadir.filesystem(path)
        except OSError:
            continue
        labels = {"mount": label}
        out += [Metric("host.disk_used_bytes", fs.used_bytes, "bytes", dict(labels), "statvfs"),
                Metric("host.disk_free_bytes", fs.free_bytes, "bytes", dict(labels), "statvfs"),
                Metric("host.disk_used_percent", round(fs.used_percent, 2), "percent", dict(labels), "statvfs"),
                Metric("host.inodes_used_percent", round(fs.inodes_used_percent, 2), "percent", dict(labels),
                       "statvfs")]
    io_ = psutil.disk_io_counters()
    if io_ is not None:
        out += [Metric("host.disk_read_bytes_total", io_.read_bytes, "bytes", source="psutil (counter)"),
                Metric("host.disk_write_bytes_total", io_.write_bytes, "bytes", source="psutil (counter)")]
    net = psutil.net_io_counters()
    if net is not None:
        out += [Metric("host.net_sent_bytes_total", net.bytes_sent, "bytes", source="psutil (counter)"),
                Metric("host.net_recv_bytes_total", net.bytes_recv, "bytes", source="psutil (counter)")]
    return out


def process_metrics(dip_home) -> List[Metric]:
    groups, _ = processes.group_processes(dip_home)
    out = []
    for role, _label in processes.ROLES:
        g = groups.get(role)
        out += [Metric("dss.processes", g.count if g else 0, "count", {"role": role}, "psutil, by command line"),
                Metric("dss.processes_rss_bytes", g.rss_bytes if g else 0, "bytes", {"role": role},
                       "psutil, by command line")]
    return out


@dataclass
class AppState:
    metrics: List[Metric]
    errors: List[str]
    running_jobs: Optional[list] = None  # raw job dicts, for the health check
    sessions: Optional[list] = None


def app_metrics(client, now_ms) -> AppState:
    state = AppState([], [])
    m = state.metrics

    def attempt(what, fn):
        try:
            return fn()
        except Unavailable as e:
            state.errors.append("%s: %s" % (what, e))
            return None

    keys = attempt("projects", lambda: dssapi.project_keys(client))
    if keys is not None:
        m.append(Metric("dss.projects", len(keys), "count", source="list_project_keys"))
    active = attempt("user activity", lambda: dssapi.active_users(client, now_ms - 15 * 60 * 1000))
    if active is not None:
        m.append(Metric("dss.users_active_15m", active, "count", source="list_users_activity"))
    jobs = attempt("running jobs", lambda: dssapi.running_jobs(client, keys or []))
    if jobs is not None:
        state.running_jobs = jobs
        m.append(Metric("dss.jobs_running", len(jobs), "count", source="list_running_jobs / list_jobs"))
    scenarios = attempt("running scenarios", lambda: dssapi.running_scenario_count(client))
    if scenarios is not None:
        m.append(Metric("dss.scenarios_running", scenarios, "count", source="list_running_scenarios"))
    sessions = attempt("notebook sessions", lambda: dssapi.notebook_sessions(client)[1])
    if sessions is not None:
        state.sessions = sessions
        m.append(Metric("dss.notebook_sessions", len(sessions), "count", source="notebook sessions"))
    expiry = attempt("licence", lambda: dssapi.license_expiry_ms(client))
    if expiry:
        m.append(Metric("dss.license_days_left", round((expiry - now_ms) / 86400000.0, 1), "days",
                        source="get_licensing_status"))
    return state


# ---- sinks -------------------------------------------------------------------------------------
def default_prefix():
    return "dss.%s.node-ops" % _sanitize(socket.gethostname().split(".")[0])


#: GUESS (DSS monitoring doc: "dss.<reversed fqdn>.<port>", the exact form not seen on a live DSS):
#: the fqdn's labels are reversed and kept as separate Graphite nodes (joined with '.'), each
#: label's other characters made '_'.
GUESS_DSS_PREFIX_JOIN = "."
#: GUESS: the port DSS uses in its prefix when install.ini [server] port and DKU_BASE_PORT are absent
#: (the installer's default base port).
GUESS_DSS_DEFAULT_PORT = 11200


def dss_prefix(dip_home, environ=None, fqdn=None):
    """The prefix DSS's own monitoring integration uses for its backend metrics: install.ini
    [collectd] prefix when set and readable, else dss.<reversed fqdn>.<DSS port> (the port from
    install.ini [server] port, else DKU_BASE_PORT)."""
    environ = os.environ if environ is None else environ
    ini = datadir.read_install_ini(dip_home) if dip_home else None
    set_prefix = ini.get("collectd", "prefix", fallback="").strip() if ini is not None else ""
    if set_prefix:
        return ".".join(_sanitize(p) for p in set_prefix.split(".") if p.strip())
    port = (ini.get("server", "port", fallback="").strip() if ini is not None else "") \
        or str(environ.get("DKU_BASE_PORT", "")).strip() or str(GUESS_DSS_DEFAULT_PORT)
    labels = [p for p in (fqdn if fqdn is not None else socket.getfqdn()).split(".") if p] or ["localhost"]
    return "dss.%s.%s" % (GUESS_DSS_PREFIX_JOIN.join(_sanitize(p) for p in reversed(labels)), _sanitize(port))


def send_graphite(metrics, host, port, prefix, now_s):
    lines = "".join("%s.%s %s %d\n" % (prefix, path, _num(mt.value), now_s)
                    for mt, path in zip(metrics, graphite_paths(metrics)))
    with socket.create_connection((host, port), timeout=NETWORK_TIMEOUT_S) as sock:
        sock.settimeout(NETWORK_TIMEOUT_S)
        sock.sendall(lines.encode("ascii"))
    return len(metrics)


def _num(v):
    return int(v) if float(v).is_integer() else round(float(v), 4)


def write_prometheus(metrics, path):
    from prometheus_client import CollectorRegistry, Gauge, generate_latest

    registry = CollectorRegistry()
    gauges = {}
    for mt in metrics:
        name = mt.prometheus_name()
        labels = sorted(mt.labels)
        if name not in gauges:
            gauges[name] = Gauge(name, "%s (%s)" % (mt.name, mt.unit or "value"), labels, registry=registry)
        g = gauges[name]
        (g.labels(**mt.labels) if labels else g).set(mt.value)
    # Not prometheus_client.write_to_textfile: its temporary name (<path>.<pid>.<thread>) is
    # predictable and opened following symlinks. safefs: a random O_EXCL|O_NOFOLLOW temporary
    # file, the file's mode and owner kept (0644 when new: node_exporter reads it), a symlink refused.
    safefs.atomic_replace(path, generate_latest(registry), mode=0o644)
    return len(metrics)


def write_history(metrics, store, now_ms):
    day = _dt.datetime.fromtimestamp(now_ms / 1000.0, _dt.timezone.utc).strftime("%Y-%m-%d")
    name = "metrics-%s.csv" % day
    text = store.read(name)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    if not text:
        w.writerow(("timestamp", "epoch_ms", "metric", "labels", "value"))
    ts = _dt.datetime.fromtimestamp(now_ms / 1000.0, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    for mt in metrics:
        w.writerow((ts, now_ms, mt.name, ",".join("%s=%s" % kv for kv in sorted(mt.labels.items())), mt.value))
    store.write(name, text + buf.getvalue())
    return len(metrics)


#: The daily history files (write_history's names); only these are ever removed.
HISTORY_FILE_RE = re.compile(r"^metrics-([0-9]{4})-([0-9]{2})-([0-9]{2})\.csv$")


def prune_history(store, now_ms, days):
    """Remove the daily files of ``store`` whose day (UTC) is more than ``days`` days before
    today's; returns the names removed. Names other than ``metrics-YYYY-MM-DD.csv`` are never
    touched."""
    today = _dt.datetime.fromtimestamp(now_ms / 1000.0, _dt.timezone.utc).date()
    cutoff = today - _dt.timedelta(days=days)
    removed = []
    for name in sorted(store.names()):
        m = HISTORY_FILE_RE.match(name)
        if not m:
            continue
        try:
            day = _dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            continue
        if day < cutoff and store.remove(name):
            removed.append(name)
    return removed


# ---- operations -----------------------------------------------------------------------------
def check_collect(params, ctx):
    """The problems of the parameters (the runner checks them before anything happens)."""
    problems = []
    if params.prometheus_file and not os.path.isabs(params.prometheus_file):
        problems.append("'prometheus_file' must be an absolute path, not %r" % params.prometheus_file)
    if params.prefix and not re.match(r"^[A-Za-z0-9_.-]+$", params.prefix):
        problems.append("'prefix' may hold letters, digits, '_', '-' and '.', not %r" % params.prefix)
    if params.graphite_host and not re.match(r"^[A-Za-z0-9_.:-]+$", params.graphite_host):
        problems.append("'graphite_host' must be a host name or address, not %r" % params.graphite_host)
    return problems


def collect(ctx, params, progress=None) -> Report:
    ctx.require_admin()
    now_ms = int(ctx.now().timestamp() * 1000)
    dip_home = ctx.dip_home
    report = Report(operation=COLLECT_ID, title="Metrics", generated_at_ms=now_ms, params=dict(params))
    metrics = host_metrics(dip_home) + (process_metrics(dip_home) if dip_home else [])
    if ctx.client is not None:
        app = app_metrics(dssapi.set_timeout(ctx.client, API_TIMEOUT_S), now_ms)
        metrics += app.metrics
        report.errors += ["DSS API, %s" % e for e in app.errors]
    else:
        report.notes.append("No DSS API: application metrics are left out.")
    sinks = Table("sinks", "Sinks", [Column("sink", "Sink"), Column("status", "Status"),
                                     Column("metrics", "Metrics", "count")])
    if params.graphite_host:
        prefix = params.prefix or (dss_prefix(dip_home) + ".node-ops" if params.get("prefix_convention") == "dss"
                                    else default_prefix())
        _sink(report, sinks, "Graphite %s:%d (prefix %s)" % (params.graphite_host, params.graphite_port, prefix),
              lambda: send_graphite(metrics, params.graphite_host, params.graphite_port, prefix, now_ms // 1000))
    if params.prometheus_file:
        _sink(report, sinks, "Prometheus file %s" % params.prometheus_file,
              lambda: write_prometheus(metrics, params.prometheus_file))
    if params.history:
        store = history.open_store(ctx, report, METRICS_FOLDER, COLLECT_ID)
        if store is not None:
            written = _sink(report, sinks, "history (%s)" % store.where,
                            lambda: write_history(metrics, store, now_ms))
            try:  # once today's values are written: never a history emptied by a run that added nothing
                removed = prune_history(store, now_ms, params.history_days) if written else []
                if removed:
                    report.notes.append("History: %d daily file(s) older than %d days removed (%s)."
                                        % (len(removed), params.history_days, ", ".join(removed[:5])
                                           + (" and %d more" % (len(removed) - 5) if len(removed) > 5 else "")))
            except (OSError, Unavailable) as e:
                report.errors.append("the history's old files could not be removed: %s"
                                     % (getattr(e, "strerror", None) or e))
    report.tables += report_tables(metrics, dip_home)
    if sinks.rows:
        report.tables.insert(0, sinks)
    else:
        report.findings.append(Finding(
            "INFO", "No sink configured: the metrics were collected and shown here, and sent nowhere",
            evidence="no Graphite host, no Prometheus textfile%s" % (", no history folder" if params.history
                                                                     else ", history off"),
            recommendation="Set a Graphite host or a Prometheus textfile, or run the collect-metrics step in a "
                           "scenario (it keeps a history).", id="metrics.sinks"))
    failed = sum(1 for r in sinks.rows if r["status"] != "ok")
    report.summary += [
        Figure("metrics", "Metrics", len(metrics), "count", headline=True),
        Figure("sinks", "Sinks written", len(sinks.rows) - failed, "count", headline=True),
        Figure("sink_errors", "Sink errors", failed, "count", headline=True, severity="FAIL"),
    ]
    report.notes.append("Sources: psutil and statvfs for the host, the processes' command lines for their roles, "
                        "the DSS API for the application; the metric names are those sent to Graphite "
                        "(<prefix>.<name>[.<label>]) and, with '.' as '_' and a nodeops_ prefix, to Prometheus.")
    report.fail_on_errors("Metrics", params.get("fail_on_error", True))
    return report


#: What each metric is, for people (the report); the name stays what the sinks receive.
LABELS = {
    "host.cpu_percent": "CPU busy",
    "host.load_1m": "Load, 1 min", "host.load_5m": "Load, 5 min", "host.load_15m": "Load, 15 min",
    "host.memory_total_bytes": "Memory", "host.memory_available_bytes": "Memory available",
    "host.memory_available_percent": "Memory available (share)",
    "host.swap_total_bytes": "Swap", "host.swap_used_bytes": "Swap used",
    "host.disk_read_bytes_total": "Disk read since boot", "host.disk_write_bytes_total": "Disk written since boot",
    "host.net_sent_bytes_total": "Network sent since boot", "host.net_recv_bytes_total": "Network received since boot",
    "dss.projects": "Projects", "dss.users_active_15m": "Users active (last 15 min)",
    "dss.jobs_running": "Jobs running", "dss.scenarios_running": "Scenarios running",
    "dss.notebook_sessions": "Notebook sessions", "dss.license_days_left": "Licence: time left",
}
#: The per-mount metrics: (name, column key, column label, unit).
DISK_COLUMNS = (("host.disk_used_bytes", "used_bytes", "Used", "bytes"),
                ("host.disk_free_bytes", "free_bytes", "Available", "bytes"),
                ("host.disk_used_percent", "used_percent", "Used (share)", "percent"),
                ("host.inodes_used_percent", "inodes_used_percent", "Inodes used", "percent"))


def _device(path):
    try:
        return os.stat(path).st_dev
    except OSError:
        return None


def report_tables(metrics, dip_home) -> List[Table]:
    """The metrics as people read them: one table per group (host, disk per filesystem, DSS
    processes by role, DSS application), values formatted by unit; a filesystem seen under
    several mount points (DIP_HOME's, bind mounts) is one row naming them all."""
    def measures(key, title, prefix):
        t = Table(key, title, [Column("measure", "Measure"), Column("value", "Value", unit_from="unit"),
                               Column("metric", "Metric name")])
        for mt in metrics:
            if mt.name.startswith(prefix) and not mt.labels:
                t.add(measure=LABELS.get(mt.name, mt.name), value=mt.value, unit=mt.unit, metric=mt.name)
        return t

    host = measures("host", "Host", "host.")
    disks = Table("disks", "Disk, per filesystem", [Column("mount", "Mounted on")]
                  + [Column(key, label, unit) for _, key, label, unit in DISK_COLUMNS])
    rows, order = {}, []
    for mt in metrics:
        mount = mt.labels.get("mount")
        if mount is None or not mt.name.startswith("host."):
            continue
        path = str(dip_home) if mount == "dip_home" and dip_home else mount
        device = _device(path)
        ident = ("dev", device) if device is not None else ("mount", mount)
        if ident not in rows:
            rows[ident] = {"mounts": []}
            order.append(ident)
        row = rows[ident]
        name = "DIP_HOME (%s)" % path if mount == "dip_home" else mount
        if name not in row["mounts"]:
            row["mounts"].insert(0 if mount == "dip_home" else len(row["mounts"]), name)
        for metric, key, _, _ in DISK_COLUMNS:
            if mt.name == metric:
                row.setdefault(key, mt.value)
    for ident in order:
        row = rows[ident]
        shown = row.pop("mounts")
        mounts = ", ".join(shown[:3]) + (" and %d more" % (len(shown) - 3) if len(shown) > 3 else "")
        disks.add(mount=mounts, **row)
    procs = Table("processes", "DSS processes by role", [Column("role", "Role"), Column("count", "Processes", "count"),
                                                         Column("rss_bytes", "Resident memory", "bytes")])
    by_role = {}
    for mt in metrics:
        if mt.name in ("dss.processes", "dss.processes_rss_bytes"):
            by_role.setdefault(mt.labels.get("role"), {})[mt.name] = mt.value
    for role, label in processes.ROLES:
        values = by_role.get(role) or {}
        if values.get("dss.processes"):
            procs.add(role=label, count=values["dss.processes"], rss_bytes=values.get("dss.processes_rss_bytes"))
    app = measures("application", "DSS application", "dss.")
    return [t for t in (host, disks, procs, app) if t.rows]


def _sink(report, table, name, fn):
    """Write one sink; a failure is a row and an error of the report. True when it was written."""
    try:
        n = fn()
        table.add(sink=name, status="ok", metrics=n)
        return True
    except (OSError, Unavailable) as e:
        table.add(sink=name, status="failed: %s" % (getattr(e, "strerror", None) or e), metrics=0)
        report.errors.append("%s could not be written: %s" % (name, e))
        return False


def health(ctx, params, progress=None) -> Report:
    """Check thresholds; the report fails (and with it the step) listing every breach."""
    import psutil

    if ctx.api_error is None:  # else the API could not say who the user is: a breach, reported below
        ctx.require_admin()
    now_ms = int(ctx.now().timestamp() * 1000)
    report = Report(operation=HEALTH_ID, title="Health check", generated_at_ms=now_ms, params=dict(params))
    checks = Table("checks", "Checks", [Column("check", "Check"), Column("value", "Value"),
                                        Column("threshold", "Threshold"), Column("status", "Status")])
    breaches = []

    def check(name, value, threshold, breached):
        checks.add(check=name, value=value, threshold=threshold, status="BREACH" if breached else "ok")
        if breached:
            breaches.append("%s: %s (threshold %s)" % (name, value, threshold))

    dip_home = ctx.dip_home
    if dip_home is not None:
        fs = datadir.filesystem(dip_home)
        check("disk used (%)", round(fs.used_percent, 1), "<= %d" % params.max_disk_used_percent,
              fs.used_percent > params.max_disk_used_percent)
        check("inodes used (%)", round(fs.inodes_used_percent, 1), "<= %d" % params.max_inodes_used_percent,
              fs.inodes_used_percent > params.max_inodes_used_percent)
    vm = psutil.virtual_memory()
    available = 100.0 * vm.available / vm.total
    check("memory available (%)", round(available, 1), ">= %d" % params.min_memory_available_percent,
          available < params.min_memory_available_percent)
    client = dssapi.set_timeout(ctx.client, API_TIMEOUT_S) if ctx.client is not None else None
    reachable = False
    if client is not None:
        try:
            dssapi.project_keys(client)
            reachable = True
        except Unavailable as e:
            report.errors.append("backend API: %s" % e)
    elif ctx.api_error is not None:
        report.errors.append("backend API: %s" % ctx.api_error)
    if params.check_api:
        check("backend API reachable", "yes" if reachable else "no", "yes", not reachable)
    if reachable:
        app = app_metrics(client, now_ms)
        report.errors += ["DSS API, %s" % e for e in app.errors]
        if app.sessions is not None:
            check("notebook kernels alive", len(app.sessions), "<= %d" % params.max_alive_kernels,
                  len(app.sessions) > params.max_alive_kernels)
        if params.max_job_hours > 0 and app.running_jobs is not None:
            long_jobs = [j for j in app.running_jobs
                         if j.get("startTime") and now_ms - int(j["startTime"]) > params.max_job_hours * HOUR_MS]
            check("jobs running > %g h" % params.max_job_hours, len(long_jobs), "0", bool(long_jobs))
        try:
            failed = dssapi.failed_scenario_runs(client, now_ms - 24 * HOUR_MS)
            check("scenario runs failed (24 h)", len(failed), "<= %d" % params.max_failed_scenarios,
                  len(failed) > params.max_failed_scenarios)
        except Unavailable as e:
            report.errors.append("scenario runs: %s" % e)
    report.tables.append(checks)
    report.summary += [Figure("breaches", "Breaches", len(breaches), "count"),
                       Figure("checks", "Checks", len(checks.rows), "count")]
    if breaches:
        report.failure = "Health check: %d breach(es): %s" % (len(breaches), "; ".join(breaches))
    return report
