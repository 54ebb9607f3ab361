"""Capacity report: where the disk and the memory of a DSS node go, how fast
the disk fills, and when it will be full.

- Disk: one pass over DIP_HOME (:func:`nodeops.datadir.scan`) per top-level
  folder, per project and the largest folders; the filesystem holding it.
- Host: RAM, swap, CPUs, load, and the DSS processes by role
  (:mod:`nodeops.processes`).
- Java heaps from install.ini against the guidance and the worst-case
  commitment against RAM (:mod:`nodeops.heaps`).
- History and forecast (:mod:`nodeops.history`): every run adds a snapshot;
  with a few of them, the growth per week and the date the filesystem
  reaches 90 %.
"""

import os

from . import datadir, dssapi, heaps, history, processes, reclaim, render
from .errors import Unavailable
from .params import MAX_GB, Param
from .report import Chart, Column, Figure, Finding, Report, Table

OPERATION_ID = "capacity-report"
TITLE = "Capacity report"
#: The static insight the step writes (shown on the administration dashboard).
INSIGHT_ID = "node-ops-capacity-report"

PARAMS = (
    Param("top_n", "INT", "Largest entries shown", default=20, min=1, max=1000, mandatory=True,
          description="How many of the largest folders one level below the top-level folders (e.g. jobs/SALES) "
                      "and of the largest projects to list."),
    Param("min_disk_gb", "INT", "Minimum data-directory disk (GB)", default=500, min=0, max=MAX_GB, mandatory=True,
          description="A finding is raised when the filesystem holding DIP_HOME is smaller than this (GB = 10^9 bytes)."),
    Param("history", "BOOLEAN", "Keep a history", default=True,
          description="Add a snapshot to the capacity history and show the growth and the forecast "
                      "(in DSS: the managed folder node_ops_capacity_history of this project)."),
    Param("forecast_days", "INT", "Forecast horizon (days)", default=30, min=1, max=3650, mandatory=True,
          visible_if="model.history",
          description="How far ahead the usage trend is drawn; a finding is raised when the filesystem "
                      "reaches 90% within this many days at the current pace."),
)

GB = 1000 ** 3
DAY_MS = 24 * 3600 * 1000


def progress_target(ctx, params):
    """(inodes in use on DIP_HOME's filesystem, FILES): statvfs, instant. The scan reports the
    entries it has seen: the two agree when DIP_HOME has its filesystem to itself (as DSS
    recommends); on a shared filesystem the target is larger and the bar ends with a jump."""
    fs = datadir.filesystem(ctx.require_dip_home())
    used = fs.inodes_total - fs.inodes_free
    return (used, "FILES") if used > 0 else None  # some filesystems report no inodes


def run(ctx, params, progress=None) -> Report:
    ctx.require_admin()
    dip_home = ctx.require_dip_home()
    now_ms = int(ctx.now().timestamp() * 1000)
    report = Report(operation=OPERATION_ID, title="%s: %s" % (TITLE, dip_home), generated_at_ms=now_ms,
                    params=dict(params))
    scan = datadir.scan(dip_home, progress=progress)
    fs = datadir.filesystem(dip_home)
    folders = _folder_usage(scan)
    projects = _project_usage(dip_home, scan)

    usable = fs.used_bytes + fs.free_bytes  # what df's Use% and the 90% line are computed on
    report.summary += [
        Figure("fs_used_percent", "Filesystem used (of usable)", round(fs.used_percent, 1), "percent", headline=True),
        Figure("fs_free_bytes", "Filesystem available", fs.free_bytes, "bytes", headline=True),
        Figure("dip_home_disk_bytes", "Data directory on disk", scan.total.disk_bytes, "bytes", headline=True),
        Figure("dip_home_apparent_bytes", "Data directory, apparent size", scan.total.apparent_bytes, "bytes"),
        Figure("dip_home_files", "Files", scan.total.files, "count"),
        Figure("fs_size_bytes", "Filesystem size", fs.size_bytes, "bytes"),
        Figure("fs_usable_bytes", "Filesystem usable (used + available)", usable, "bytes"),
        Figure("fs_used_bytes", "Filesystem used", fs.used_bytes, "bytes"),
        Figure("fs_inodes_used_percent", "Inodes used", round(fs.inodes_used_percent, 1), "percent"),
        Figure("fs_inodes_free", "Inodes free", fs.inodes_free, "count"),
    ]
    if fs.size_bytes > usable:
        report.notes.append("Of the filesystem's %s, %s are reserved (blocks only root may use): the usable %s (used %s + available "
                            "%s) is what the share used and the %d%% line are computed on, as df does."
                            % (render.format_bytes(fs.size_bytes), render.format_bytes(fs.size_bytes - usable),
                               render.format_bytes(usable), render.format_bytes(fs.used_bytes),
                               render.format_bytes(fs.free_bytes), history.FULL_PERCENT))
    if fs.size_bytes < params.min_disk_gb * GB:
        report.findings.append(Finding(
            "WARN", "The data-directory filesystem is smaller than %s" % render.format_gb(params.min_disk_gb),
            evidence="%s is on a filesystem of %s in all" % (dip_home, render.format_bytes(fs.size_bytes)),
            recommendation="The DSS production guidance asks for at least %s for the data directory."
                           % render.format_gb(500),
            id="disk.size"))

    _disk_tables(report, scan, folders, projects, params.top_n)
    _reclaimable_section(report, dip_home, scan)
    host = processes.inspect_host(dip_home)
    _host_section(report, host)
    _heap_section(report, ctx, dip_home, host)
    if params.history:
        _history_section(report, ctx, dip_home, now_ms, fs, scan, folders, projects, params.forecast_days)

    if scan.total.errors:
        report.errors.append("%d path(s) could not be read (they are left out of the sizes); first: %s"
                             % (scan.total.errors, "; ".join(scan.error_paths[:5])))
    if scan.total.symlinks:
        report.summary.append(Figure("symlinks_not_followed", "Symlinks not followed", scan.total.symlinks, "count"))
    return report


# ---- disk -------------------------------------------------------------------------------
def _folder_usage(scan):
    """{top-level folder or 'others': Usage}."""
    grouped = {}
    for name, usage in scan.top.items():
        key = name if name in datadir.TOP_LEVEL_FOLDERS else "others"
        grouped.setdefault(key, datadir.Usage()).add(usage)
    return grouped


def _known_projects(dip_home):
    """The project keys config/projects holds, or None when it cannot be listed."""
    try:
        return set(os.listdir(str(dip_home / "config" / "projects")))
    except OSError:
        return None


def _project_of(name, known):
    """The project a second-level folder name belongs to: ``managed_datasets/KEY.dataset``
    (the older naming) counts for KEY."""
    if name not in known and "." in name and name.split(".", 1)[0] in known:
        return name.split(".", 1)[0]
    return name


def _project_usage(dip_home, scan):
    """{project label: {folder: disk bytes}} over the project-keyed folders.

    ``managed_datasets/KEY.dataset`` (the older naming) counts for KEY; a key
    that is not a project of this DSS is labelled as an orphan, unless a dataset or managed
    folder of a project keeps its data there (:func:`_claims`).
    """
    known = _known_projects(dip_home) or set()
    claims = (_claims(dip_home)[0] or {}) if known else {}
    out = {}
    for key, usage in scan.second.items():
        folder, name = key.split("/", 1)
        if folder not in datadir.PROJECT_KEYED_FOLDERS:
            continue
        project = _project_of(name, known)
        if project in known:
            label = project
        elif reclaim.claimed_by(claims, folder, name):
            label = "%s (a project's data at a custom path)" % project
        else:
            label = "%s (orphan)" % project
        row = out.setdefault(label, {})
        row[folder] = row.get(folder, 0) + usage.disk_bytes
    return out


# ---- reclaimable -----------------------------------------------------------------------------
def _claims(dip_home):
    """reclaim-disk's names that datasets and managed folders of existing projects keep their
    data under (never a deleted project's), or (None, why they cannot be known)."""
    try:
        fd = os.open(str(dip_home / "config" / "projects"), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as e:
        return None, "config/projects could not be listed (%s)" % (e.strerror or e)
    try:
        return reclaim.claimed_names(dip_home, fd)
    finally:
        os.close(fd)


#: What reclaim-disk's switches would free, as far as the scan alone can tell (no extra walk, no
#: API call). The switch names are reclaim-disk's parameters.
PRE_MIGRATION_PREFIX = "_pre_migration_backup_"
RECLAIM_BY_API = ("run reclaim-disk in dry run (macro or step) to see what saved_model_versions and "
                  "ml_unused_splits would free")


def _reclaimable_section(report, dip_home, scan):
    """The "Reclaimable" table and figures: data of deleted projects, pre-migration backups,
    diagnosis files, from the scan's own breakdown; one line for what needs the API."""
    known = _known_projects(dip_home)
    unknown = None if known is not None else "config/projects could not be listed, so no project can be called deleted"
    claims = {}
    if known is not None:
        claims, why = _claims(dip_home)
        if why:
            known, unknown = None, why
    orphans = {}  # project key -> disk bytes, over the project-keyed folders
    if known is not None:
        for key, usage in scan.second.items():
            folder, name = key.split("/", 1)
            if folder in datadir.PROJECT_KEYED_FOLDERS:
                project = _project_of(name, known)
                if project not in known and not reclaim.claimed_by(claims, folder, name):
                    orphans[project] = orphans.get(project, 0) + usage.disk_bytes
    backups = sorted(n for n in scan.top if n.startswith(PRE_MIGRATION_PREFIX))
    backup_bytes = sum(scan.top[n].disk_bytes for n in backups)
    diagnosis_bytes = sum(u.disk_bytes for k, u in scan.second.items() if k.startswith("diagnosis/"))

    table = Table("reclaimable", "Reclaimable (what reclaim-disk's switches would free)", [
        Column("switch", "reclaim-disk switch"), Column("what", "What"), Column("disk_bytes", "On disk", "bytes"),
        Column("how_sure", "How sure")])
    if known is None:
        table.add(switch="deleted_projects_data", what="data of deleted projects", disk_bytes=None,
                  how_sure="unknown: " + unknown)
    else:
        shown = sorted(orphans.items(), key=lambda kv: (-kv[1], kv[0]))
        names = ", ".join(k for k, _ in shown[:10]) + (" and %d more" % (len(shown) - 10) if len(shown) > 10 else "")
        table.add(switch="deleted_projects_data",
                  what="data of %d deleted project(s)%s in %s" % (len(orphans), (": " + names) if names else "",
                                                                  ", ".join(datadir.PROJECT_KEYED_FOLDERS)),
                  disk_bytes=sum(orphans.values()),
                  how_sure="project keys config/projects does not hold; reclaim-disk also asks the DSS API and "
                           "keeps any project it still lists")
    table.add(switch="pre_migration_backups",
              what="%d _pre_migration_backup_* folder(s) at the root of DIP_HOME" % len(backups),
              disk_bytes=backup_bytes,
              how_sure="upper bound: reclaim-disk removes only those older than retention_days, and none while "
                       "a migration is pending (switch off by default)")
    table.add(switch="diagnosis", what="files under diagnosis/", disk_bytes=diagnosis_bytes,
              how_sure="upper bound: reclaim-disk removes only files older than retention_days")
    table.add(switch="saved_model_versions, ml_unused_splits", what="old saved-model versions, unused ML splits",
              disk_bytes=None, how_sure="needs the DSS API: " + RECLAIM_BY_API)
    report.tables.append(table)
    if known is not None:
        report.summary.append(Figure("reclaimable_deleted_projects_data_bytes", "Reclaimable: data of deleted projects",
                                     sum(orphans.values()), "bytes"))
    report.summary += [
        Figure("reclaimable_pre_migration_backups_bytes", "Reclaimable: pre-migration backups (at most)",
               backup_bytes, "bytes"),
        Figure("reclaimable_diagnosis_bytes", "Reclaimable: diagnosis files (at most)", diagnosis_bytes, "bytes"),
    ]
    report.notes.append("Reclaimable: what reclaim-disk's switches deleted_projects_data, pre_migration_backups "
                        "and diagnosis would free, from this scan (hard-linked files count where the scan counted "
                        "them; a file is freed only when its last link goes); %s." % RECLAIM_BY_API)


def _disk_tables(report, scan, folders, projects, top_n):
    total = scan.total.disk_bytes or 1
    by_folder = Table("folders", "Data directory by top-level folder", [
        Column("folder", "Folder"), Column("disk_bytes", "On disk", "bytes"),
        Column("apparent_bytes", "Apparent size", "bytes"), Column("files", "Files", "count"),
        Column("share_percent", "Share", "percent")])
    ranked = sorted(folders.items(), key=lambda kv: (-kv[1].disk_bytes, kv[0]))
    for name, usage in ranked:
        by_folder.add(folder=name, disk_bytes=usage.disk_bytes, apparent_bytes=usage.apparent_bytes,
                      files=usage.files, share_percent=round(100.0 * usage.disk_bytes / total, 1))
    report.tables.append(by_folder)

    cols = [Column("project", "Project"), Column("disk_bytes", "On disk", "bytes")]
    cols += [Column(f.replace("-", "_"), f, "bytes") for f in datadir.PROJECT_KEYED_FOLDERS]
    by_project = Table("projects", "Data directory by project (largest %d)" % top_n, cols)
    ranked_projects = sorted(projects.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))
    for label, row in ranked_projects[:top_n]:
        cells = {f.replace("-", "_"): row.get(f, 0) for f in datadir.PROJECT_KEYED_FOLDERS}
        by_project.add(project=label, disk_bytes=sum(row.values()), **cells)
    report.tables.append(by_project)

    largest = Table("largest", "Largest folders one level down", [
        Column("folder", "Folder"), Column("disk_bytes", "On disk", "bytes"), Column("files", "Files", "count")])
    for name, usage in sorted(scan.second.items(), key=lambda kv: (-kv[1].disk_bytes, kv[0]))[:top_n]:
        largest.add(folder=name, disk_bytes=usage.disk_bytes, files=usage.files)
    report.tables.append(largest)

    report.charts.append(Chart("space_by_folder", "Space by top-level folder", "bars",
                               labels=[n for n, _ in ranked], values=[u.disk_bytes for _, u in ranked]))
    if ranked_projects:
        top = ranked_projects[:top_n]
        report.charts.append(Chart("space_by_project", "Space by project", "bars",
                                   labels=[n for n, _ in top], values=[sum(r.values()) for _, r in top]))


# ---- host and heaps -----------------------------------------------------------------------
def _host_section(report, host):
    dss_rss = sum(g.rss_bytes for g in host.groups.values())
    report.summary += [
        Figure("ram_bytes", "RAM", host.ram_bytes, "bytes"),
        Figure("ram_available_bytes", "RAM available", host.ram_available_bytes, "bytes"),
        Figure("swap_bytes", "Swap", host.swap_bytes, "bytes"),
        Figure("swap_used_bytes", "Swap used", host.swap_used_bytes, "bytes"),
        Figure("cpus", "CPUs", host.cpus, "count"),
        Figure("load_1m", "Load (1 min)", host.load[0]),
        Figure("dss_processes_rss_bytes", "Memory of DSS processes", dss_rss, "bytes"),
    ]
    table = Table("processes", "DSS processes by role", [
        Column("role", "Role"), Column("count", "Processes", "count"), Column("rss_bytes", "Resident memory", "bytes"),
        Column("share_percent", "Share of RAM", "percent")])
    for role, label in processes.ROLES:
        g = host.groups.get(role)
        if g is not None:
            table.add(role=label, count=g.count, rss_bytes=g.rss_bytes,
                      share_percent=round(100.0 * g.rss_bytes / host.ram_bytes, 1) if host.ram_bytes else None)
    report.tables.append(table)
    if host.unreadable:
        report.notes.append("%d process(es) could not be inspected (other users' processes) and are left out."
                            % host.unreadable)


def _heap_section(report, ctx, dip_home, host):
    users = None
    if ctx.client is not None:
        try:
            users = dssapi.enabled_user_count(ctx.client)
        except Unavailable as e:
            report.notes.append("The number of users is unknown (%s): no backend heap recommendation." % e)
    else:
        report.notes.append("No DSS API: the number of users is unknown, so there is no backend heap recommendation.")
    fek = host.groups.get("fek")
    found, worst, activities = heaps.assess(dip_home, users, fek.count if fek else 0, "hproxy" in host.groups)
    table = Table("heaps", "Java heaps (install.ini)", [
        Column("process", "Process"), Column("xmx_bytes", "Xmx", "bytes"),
        Column("recommended_bytes", "Recommended", "bytes"), Column("source", "Set by")])
    for name in heaps.PROCESSES:
        h = found[name]
        table.add(process=name, xmx_bytes=h.xmx, recommended_bytes=h.recommended, source=h.source)
    report.tables.append(table)
    if worst is None:  # maxRunningActivities 0: any number of JEKs may run at once
        report.summary.append(Figure("heap_worst_case_bytes", "Java heaps, worst case", heaps.UNBOUNDED))
    else:
        report.summary.append(Figure("heap_worst_case_bytes", "Java heaps, worst case", worst, "bytes"))
    if host.ram_bytes and worst is not None:
        report.summary.append(Figure("heap_worst_case_percent", "Java heaps, worst case (of RAM)",
                                     round(100.0 * worst / host.ram_bytes, 1), "percent"))
    backend = found["backend"]
    if users is not None and backend.xmx is not None and backend.xmx < backend.recommended:
        report.findings.append(Finding(
            "WARN", "The backend heap is smaller than recommended for %d users" % users,
            evidence="%s; %d enabled users" % (backend.source, users),
            recommendation="Set backend.xmx = %dg in [javaopts] of install.ini, then run ./bin/dssadmin "
                           "regenerate-config and restart DSS." % (backend.recommended // heaps.GIB),
            id="heap.backend"))
    for name in ("jek", "fek"):
        h = found[name]
        if h.xmx is not None and h.xmx > 2 * heaps.KERNEL_XMX:
            report.findings.append(Finding(
                "WARN", "The %s heap is above 4g" % name.upper(), evidence=h.source,
                recommendation="Every %s gets this heap; keep %s.xmx at 2g unless a job needs more." % (name.upper(), name),
                id="heap." + name))
    if worst is None:
        report.findings.append(Finding(
            "WARN", "The Java heaps have no upper bound: maxRunningActivities is 0 (unlimited)",
            evidence="config/general-settings.json maxRunningActivities = 0: any number of activities, so of JEKs "
                     "(heap: %s), may run next to the backend (heap: %s) and the FEKs; worst case: %s"
                     % (found["jek"].source, found["backend"].source, heaps.UNBOUNDED),
            recommendation="Set a global limit of concurrent activities (Administration > Settings > Flow build; "
                           "the config audit's apply_fixes sets one from the number of users).",
            id="heap.commitment"))
    elif heaps.over_ram_share(worst, host.ram_bytes):
        over = worst > host.ram_bytes
        report.findings.append(Finding(
            "WARN", "The Java heaps can commit more memory than the host has" if over else
            "The Java heaps can commit more than %d%% of the host's RAM" % (100 * heaps.RAM_SHARE_LIMIT),
            evidence="backend + %d concurrent activities x JEK + %d FEK(s)%s = %s, %.0f%% of the RAM (%s); "
                     "the guidance keeps Java heaps under %d%% of it"
                     % (activities, max(1, fek.count if fek else 0), " + hproxy" if "hproxy" in host.groups else "",
                        render.format_bytes(worst), 100.0 * worst / host.ram_bytes, render.format_bytes(host.ram_bytes),
                        100 * heaps.RAM_SHARE_LIMIT),
            recommendation="Lower the heaps or maxRunningActivities, or add memory; Python, R and notebook "
                           "processes need memory on top of this.",
            id="heap.commitment"))


# ---- history and forecast -----------------------------------------------------------------
def _history_section(report, ctx, dip_home, now_ms, fs, scan, folders, projects, forecast_days):
    store = history.open_store(ctx, report, history.FOLDER_NAME, OPERATION_ID)
    if store is None:
        return
    snapshot = history.Snapshot(now_ms, fs_size=fs.size_bytes, fs_used=fs.used_bytes, fs_free=fs.free_bytes,
                                dip_home=scan.total.disk_bytes,
                                folders={k: u.disk_bytes for k, u in folders.items()},
                                projects={k: sum(v.values()) for k, v in projects.items()})
    try:
        past = [s for s in history.load(store, now_ms) if s.epoch_ms < now_ms]
        history.append(store, snapshot)
    except (Unavailable, OSError) as e:
        report.errors.append("the capacity history (%s) could not be updated: %s" % (store.where, e))
        return
    snaps = past + [snapshot]
    f = history.forecast(snaps, now_ms)
    report.notes.append("History: %s snapshot(s) over %s in %s." % (render.format_count(len(snaps)),
                                                                    render.format_days(f.span_days), store.where))
    usable = fs.used_bytes + fs.free_bytes
    limit = usable * history.FULL_PERCENT / 100.0
    chart = Chart("usage_over_time", "Filesystem used over time", "timeline",
                  series={"used": [(s.epoch_ms, s.fs_used) for s in snaps]},
                  threshold=limit, threshold_label="%d%% of the usable %s" % (history.FULL_PERCENT,
                                                                               render.format_bytes(usable)))
    if not f.enough:
        report.notes.append("No forecast yet: it needs %d snapshots over at least a day." % history.MIN_SNAPSHOTS)
        report.charts.insert(0, chart)
        return
    end_ms = now_ms + forecast_days * DAY_MS
    b, a = f.line
    chart.forecast = [(snaps[0].epoch_ms, a + b * snaps[0].epoch_ms), (end_ms, a + b * end_ms)]
    report.charts.insert(0, chart)  # the trend first: it is what a dashboard tile should show
    report.summary.append(Figure("fs_growth_per_week_bytes", "Growth per week", int(f.fs_growth_per_week), "bytes"))
    if f.full_at_ms is not None:
        days = (f.full_at_ms - now_ms) / float(DAY_MS)
        report.summary.append(Figure("fs_days_to_full", "Days until %d%% full" % history.FULL_PERCENT,
                                     round(days, 1), "days", headline=True))
        report.summary.append(Figure("fs_full_at_ms", "Filesystem %d%% full" % history.FULL_PERCENT, f.full_at_ms,
                                     "forecast_ms", headline=True))
        if days <= forecast_days:
            report.findings.append(Finding(
                "WARN", "The data-directory filesystem reaches %d%% within %d days" % (history.FULL_PERCENT, forecast_days),
                evidence="used grows by %s per week; %d%% of the usable %s is reached %s"
                         % (render.format_bytes(f.fs_growth_per_week), history.FULL_PERCENT,
                            render.format_bytes(usable), render.format_forecast(f.full_at_ms, now_ms)),
                recommendation="Purge job and scenario logs (node-ops purges), check the largest folders below, "
                               "or grow the filesystem.",
                id="disk.forecast"))
    else:
        report.notes.append("No %d%% date: the filesystem's use is not growing (%s per week)."
                            % (history.FULL_PERCENT, render.format_bytes(f.fs_growth_per_week)))
    growth = Table("growth", "Growth per week by top-level folder (last %d days)" % history.TREND_DAYS, [
        Column("folder", "Folder"), Column("growth_bytes", "Per week", "bytes")])
    for name, g in sorted(f.folder_growth_per_week.items(), key=lambda kv: -kv[1]):
        growth.add(folder=name, growth_bytes=int(g))
    report.tables.append(growth)
