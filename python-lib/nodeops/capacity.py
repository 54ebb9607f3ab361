"""Capacity report: where the disk of the DSS data directory goes.

This first version covers the data directory per top-level folder (one pass,
see :func:`nodeops.datadir.scan`), the largest second-level folders, and the
filesystem holding DIP_HOME. Host memory, Java heaps and growth forecasts come
with the capacity issue.
"""

from . import datadir
from .params import Param
from .report import Column, Figure, Finding, Report, Table

OPERATION_ID = "capacity-report"
TITLE = "Capacity report"

PARAMS = (
    Param("top_n", "INT", "Largest entries shown", default=20, min=1, max=1000,
          description="How many of the largest entries one level below the top-level folders (e.g. jobs/SALES) to list."),
    Param("min_disk_gb", "INT", "Minimum data-directory disk (GB)", default=500, min=0,
          description="A finding is raised when the filesystem holding DIP_HOME is smaller than this (GB = 10^9 bytes)."),
)

GB = 1000 ** 3


def run(ctx, params, progress=None) -> Report:
    ctx.require_admin()
    dip_home = ctx.require_dip_home()
    now_ms = int(ctx.now().timestamp() * 1000)
    report = Report(operation=OPERATION_ID, title="%s: %s" % (TITLE, dip_home), generated_at_ms=now_ms,
                    params=dict(params))

    scan = datadir.scan(dip_home, progress=progress)
    fs = datadir.filesystem(dip_home)

    report.summary += [
        Figure("dip_home_disk_bytes", "Data directory on disk", scan.total.disk_bytes, "bytes"),
        Figure("dip_home_apparent_bytes", "Data directory, apparent size", scan.total.apparent_bytes, "bytes"),
        Figure("dip_home_files", "Files", scan.total.files, "count"),
        Figure("fs_size_bytes", "Filesystem size", fs.size_bytes, "bytes"),
        Figure("fs_free_bytes", "Filesystem free", fs.free_bytes, "bytes"),
        Figure("fs_used_percent", "Filesystem used", round(fs.used_percent, 1), "percent"),
        Figure("fs_inodes_used_percent", "Inodes used", round(fs.inodes_used_percent, 1), "percent"),
    ]

    if fs.size_bytes < params.min_disk_gb * GB:
        report.findings.append(Finding(
            "WARN", "The data-directory filesystem is smaller than %d GB" % params.min_disk_gb,
            evidence="%s holds %.0f GB in all" % (dip_home, fs.size_bytes / GB),
            recommendation="The DSS production guidance asks for at least 500 GB for the data directory.",
            id="disk.size"))

    folders = Table("folders", "Data directory by top-level folder", [
        Column("folder", "Folder"), Column("disk_bytes", "On disk", "bytes"),
        Column("apparent_bytes", "Apparent size", "bytes"), Column("files", "Files", "count"),
        Column("share_percent", "Share", "percent")])
    grouped = {}
    for name, usage in scan.top.items():
        key = name if name in datadir.TOP_LEVEL_FOLDERS else "others"
        grouped.setdefault(key, datadir.Usage()).add(usage)
    total = scan.total.disk_bytes or 1
    for name, usage in sorted(grouped.items(), key=lambda kv: (-kv[1].disk_bytes, kv[0])):
        folders.add(folder=name, disk_bytes=usage.disk_bytes, apparent_bytes=usage.apparent_bytes,
                    files=usage.files, share_percent=round(100.0 * usage.disk_bytes / total, 1))
    report.tables.append(folders)

    largest = Table("largest", "Largest folders and files one level down", [
        Column("folder", "Folder"), Column("disk_bytes", "On disk", "bytes"), Column("files", "Files", "count")])
    ranked = sorted(scan.second.items(), key=lambda kv: (-kv[1].disk_bytes, kv[0]))[: params.top_n]
    for name, usage in ranked:
        largest.add(folder=name, disk_bytes=usage.disk_bytes, files=usage.files)
    report.tables.append(largest)

    if scan.total.errors:
        report.errors.append("%d path(s) could not be read (they are left out of the sizes); first: %s"
                             % (scan.total.errors, "; ".join(scan.error_paths[:5])))
    if scan.total.symlinks:
        report.summary.append(Figure("symlinks_not_followed", "Symlinks not followed", scan.total.symlinks, "count"))
    return report
