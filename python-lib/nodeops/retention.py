"""Log retention: where it is decided what job logs, scenario run logs and
user exports may go.

Selection is a stream of groups (a project's jobs, a scenario's runs, the
exports), each sorted newest first; :func:`decide` says, for one entry, keep or
delete and why. Protections win over rules: a running entry is always kept;
otherwise an entry is deleted only when it is BOTH older than
``retention_days`` AND not among the ``keep_last`` newest of its group.

The same code path serves dry runs and real runs: the plan is computed the
same way, and only the last step (measure vs. delete through
:mod:`nodeops.safedelete`) differs. Memory holds one group at a time.
"""

import datetime as _dt
import errno
import heapq
import itertools
import json
import os
import re
from dataclasses import dataclass
from typing import Optional

from . import dssapi, safedelete, safefs
from .errors import ParameterError, Unavailable
from .params import MAX_COUNT, MAX_DAYS, Param
from .report import Column, Figure, Report, Table

JOB_ID_RE = re.compile(r"_(\d{4})-(\d\d)-(\d\d)T(\d\d)-(\d\d)-(\d\d)\.(\d{3})$")
RUN_ID_RE = re.compile(r"^(\d{4})-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d{3})$")

PROJECTS_MODES = (("ALL", "All projects"), ("CURRENT", "Current project"), ("INCLUDED", "Only the listed projects"),
                  ("ALL_BUT_EXCLUDED", "All but the listed projects"))

#: Entries listed one by one in a report, the largest first; beyond that they are counted
#: only (keeps memory flat and the HTML readable on 100k-entry purges).
MAX_LISTED = 500

#: UNVERIFIED (README, "verified / not yet"): what DSS records about a user export. DSS's own
#: "Remove old exports" macro (KIT builtin-macros) reads nothing but each folder's mtime; the
#: bench's DATA_DIR builder writes ``exports/<id>/export-params.json`` with ``requestedBy``
#: (and ``format``, ``createdOn``). node-ops shows that owner when the file is there and
#: says nothing otherwise: the one place to correct once a real DSS is looked at.
GUESS_EXPORT_METADATA_FILE = "export-params.json"
GUESS_EXPORT_OWNER_KEYS = ("requestedBy",)
#: A metadata file larger than this is not read (it is not DSS's small JSON).
_EXPORT_METADATA_MAX_BYTES = 64 * 1024

RETENTION_DAYS = Param("retention_days", "INT", "Retention (days)", default=30, min=0, max=MAX_DAYS, mandatory=True,
                       description="Entries older than this may be deleted.")
DRY_RUN = Param("dry_run", "BOOLEAN", "Dry run", default=True,
                description="Report exactly what would be deleted; delete nothing.")
FAIL_ON_ERROR = Param("fail_on_error", "BOOLEAN", "Fail the scenario on errors", default=True, step_only=True,
                      description="Fail the step when an entry could not be read or deleted, or the purge could not run.")

#: The project scope of an operation that works project by project (the purges, reclaim-disk):
#: the same two fields, checked by :func:`check_scope` and read by :func:`project_filter`.
PROJECTS_MODE = Param("projects_mode", "SELECT", "Projects", default="ALL", choices=PROJECTS_MODES, mandatory=True,
                      description="Which projects' folders are purged (orphans: see below).")
PROJECTS = Param("projects", "MULTISELECT", "Project keys", default=(), choices_from="projects",
                 visible_if="['INCLUDED','ALL_BUT_EXCLUDED'].indexOf(model.projects_mode) >= 0",
                 description="The projects purged ('Only the listed projects') or spared ('All but the listed projects').")

LOG_PARAMS = (
    RETENTION_DAYS,
    Param("keep_last", "INT", "Always keep the newest", default=20, min=0, max=MAX_COUNT, mandatory=True,
          description="Always keep this many newest entries per project (job logs) or per scenario (scenario runs), whatever their age."),
    PROJECTS_MODE,
    PROJECTS,
    Param("include_orphans", "BOOLEAN", "Include orphans", default=True,
          description="Also purge folders of projects that no longer exist in DSS."),
    DRY_RUN,
    FAIL_ON_ERROR,
)

EXPORT_PARAMS = (RETENTION_DAYS, DRY_RUN, FAIL_ON_ERROR)


@dataclass(frozen=True)
class Family:
    id: str  # operation id
    folder: str  # top-level folder of DIP_HOME
    title: str
    noun: str
    depth: int  # levels below the folder: 2 = KEY/ENTRY, 3 = KEY/SCENARIO/ENTRY, 1 = ENTRY
    id_re: Optional["re.Pattern"]


JOBS = Family("purge-job-logs", "jobs", "Purge job logs", "job", 2, JOB_ID_RE)
SCENARIOS = Family("purge-scenario-logs", "scenarios", "Purge scenario run logs", "scenario run", 3, RUN_ID_RE)
EXPORTS = Family("purge-exports", "exports", "Purge user exports", "export", 1, None)


@dataclass
class Entry:
    name: str
    path: str
    timestamp_ms: int


def id_timestamp_ms(family, name) -> Optional[int]:
    """The time inside a DSS job or run ID, in epoch ms; None if absent.

    Read as UTC, whatever the zone of this process: the one public example (job
    ``build_cat_train_hdfs_NP_2015-09-28T09-17-37.455``, ``initiationTimestamp``
    1443431857455) is exactly 09:17:37.455 UTC. Scenario run IDs are read the same way.
    """
    if family.id_re is None:
        return None
    m = family.id_re.search(name)
    if not m:
        return None
    y, mo, d, h, mi, s, ms = (int(x) for x in m.groups())
    try:
        return int(_dt.datetime(y, mo, d, h, mi, s, tzinfo=_dt.timezone.utc).timestamp() * 1000) + ms
    except ValueError:
        return None


def decide(entry, rank, running, cutoff_ms, keep_last):
    """Keep or delete one entry of a group sorted newest first: (delete?, reason)."""
    if running:
        return False, "running"
    if entry.timestamp_ms >= cutoff_ms:
        return False, "recent"
    if rank < keep_last:
        return False, "keep_last"
    return True, "deleted"


def _days(n):
    return "%g day%s" % (n, "" if n == 1 else "s")


def delete_reason(family, retention_days, keep_last, orphan=False):
    """Why an entry of ``family`` is deleted, in words true for the family: exports have no
    keep_last and no running state; the running state of an orphan project's entries is not
    known (the project is no longer in DSS) and is not claimed."""
    parts = ["older than %s" % _days(retention_days)]
    if family is EXPORTS:
        return parts[0]
    group = "its project" if family is JOBS else "its scenario"
    if keep_last:
        parts.append("not among the %d newest %ss of %s" % (keep_last, family.noun, group))
    parts.append("project no longer in DSS" if orphan else "not running")
    return ", ".join(parts)


def export_owner(entry_fd):
    """The owner DSS recorded for the export folder open as ``entry_fd``, or "" (see
    :data:`GUESS_EXPORT_METADATA_FILE`). Never raises: an unreadable file says nothing."""
    try:
        st = os.stat(GUESS_EXPORT_METADATA_FILE, dir_fd=entry_fd, follow_symlinks=False)
        if st.st_size > _EXPORT_METADATA_MAX_BYTES:
            return ""
        data, _ = safefs.read_file(GUESS_EXPORT_METADATA_FILE, dir_fd=entry_fd)
        meta = json.loads(data.decode("utf-8"))
    except (OSError, ValueError, AttributeError, safefs.UnsafeFile):
        return ""
    if not isinstance(meta, dict):
        return ""
    for key in GUESS_EXPORT_OWNER_KEYS:
        if isinstance(meta.get(key), str):
            return meta[key]
    return ""


# ---- listing -------------------------------------------------------------------
# Every folder is listed through a descriptor opened relative to its parent's
# (O_NOFOLLOW): once listed, a folder is never reached through a path again.
def _children(fd, path, errors):
    """Sorted (name, DirEntry) of the folder open as ``fd``, hidden names skipped; errors recorded, never raised."""
    try:
        with os.scandir(fd) as it:
            return sorted(((e.name, e) for e in it if not e.name.startswith(".")), key=lambda x: x[0])
    except OSError as e:
        errors.append("%s: cannot read (%s)" % (path, e.strerror or e))
        return []


def _subfolders(fd, path, errors):
    """Yield (name, descriptor, path) of the real folders in folder ``fd``; a symlink is
    reported, never followed, whether it was one when listed or became one since.
    Each descriptor is closed when the next one is asked for."""
    for name, e in _children(fd, path, errors):
        sub = os.path.join(path, name)
        try:
            if e.is_symlink():
                errors.append("%s: symlink, not followed" % sub)
                continue
            if not e.is_dir(follow_symlinks=False):
                continue
            sub_fd = safefs.open_dir_at(fd, name)
        except OSError as ex:
            if ex.errno in (errno.ENOTDIR, errno.ELOOP) and safedelete.is_link_at(fd, name):
                errors.append("%s: symlink, not followed" % sub)
            elif ex.errno not in (errno.ENOENT, errno.ENOTDIR):  # vanished or became a file: not a folder
                errors.append("%s: cannot read (%s)" % (sub, ex.strerror or ex))
            continue
        try:
            yield name, sub_fd, sub
        finally:
            os.close(sub_fd)


def _entries(family, fd, path, errors):
    out = []
    for name, e in _children(fd, path, errors):
        ts = id_timestamp_ms(family, name)
        if ts is None:
            try:
                ts = int(e.stat(follow_symlinks=False).st_mtime * 1000)
            except OSError as ex:
                errors.append("%s: cannot read (%s)" % (os.path.join(path, name), ex.strerror or ex))
                continue
        out.append(Entry(name, os.path.join(path, name), ts))
    out.sort(key=lambda x: (x.timestamp_ms, x.name), reverse=True)
    return out


def folders(family, root_fd, root, errors):
    """Yield (project_key, scenario_id or None, folder descriptor, folder path, entries
    newest first), one group at a time, from the family folder open as ``root_fd``.
    A group's descriptor is valid until the next group is asked for."""
    root = str(root)
    if family.depth == 1:
        yield None, None, root_fd, root, _entries(family, root_fd, root, errors)
        return
    for key, key_fd, key_path in _subfolders(root_fd, root, errors):
        if family.depth == 2:
            yield key, None, key_fd, key_path, _entries(family, key_fd, key_path, errors)
        else:
            for scenario_id, fd, path in _subfolders(key_fd, key_path, errors):
                yield key, scenario_id, fd, path, _entries(family, fd, path, errors)


def groups(family, root, errors):
    """Yield (project_key, scenario_id or None, folder path, entries newest first) of the
    family folder ``root`` (a path; see :func:`folders`)."""
    try:
        fd = safefs.open_dir_at(None, str(root))
    except OSError as e:
        errors.append("%s: cannot read (%s)" % (root, e.strerror or e))
        return
    try:
        for key, scenario_id, _, path, entries in folders(family, fd, root, errors):
            yield key, scenario_id, path, entries
    finally:
        os.close(fd)


def count_entries(family, root, selected=lambda key: True) -> int:
    """The entries of the selected groups of the family folder ``root``, counted by name (no
    ``stat``, no API call): the progress target of a purge. Orphans and projects whose running
    state is unknown are counted too (the purge then skips them: its bar ends with a jump)."""
    errors, total = [], 0
    try:
        fd = safefs.open_dir_at(None, str(root))
    except OSError:
        return 0
    try:
        if family.depth == 1:
            return len(_children(fd, str(root), errors))
        for key, key_fd, key_path in _subfolders(fd, str(root), errors):
            if not selected(key):
                continue
            if family.depth == 2:
                total += len(_children(key_fd, key_path, errors))
            else:
                for _, sub_fd, sub_path in _subfolders(key_fd, key_path, errors):
                    total += len(_children(sub_fd, sub_path, errors))
    finally:
        os.close(fd)
    return total


def progress_target(family):
    """``progress_target(ctx, params)`` of a purge: (entries, RECORDS)."""
    def target(ctx, params):
        return count_entries(family, ctx.require_dip_home() / family.folder,
                             _selected_projects(family, params, ctx)), "RECORDS"
    return target


# ---- the operation -----------------------------------------------------------------
def scope_problems(family, params, ctx):
    """The problems of the scope parameters (the runner checks them before anything happens)."""
    if family.depth == 1:
        return []
    return check_scope(params, ctx)


def check_scope(params, ctx):
    """The problems of ``projects_mode`` and ``projects`` (:data:`PROJECTS_MODE`, :data:`PROJECTS`)."""
    mode, keys = params.projects_mode, params.projects
    problems = []
    for k in keys:
        try:
            safedelete.check_name(k, "project key")
        except safedelete.UnsafePath:
            problems.append("'projects' contains %r, which is not a project key" % k)
    if mode == "INCLUDED" and not keys:
        problems.append("'projects' must list at least one project key when 'projects_mode' is INCLUDED")
    if mode == "CURRENT" and ctx is not None and not ctx.project_key:
        problems.append("'projects_mode' CURRENT needs a current project")
    return problems


def _selected_projects(family, params, ctx):
    """A predicate on project keys; refuses bad scope parameters."""
    if family.depth == 1:
        return lambda key: True
    return project_filter(family.id, params, ctx)


def project_filter(operation_id, params, ctx):
    """A predicate on project keys from ``projects_mode`` and ``projects``; refuses bad ones
    (ParameterError naming ``operation_id``)."""
    mode, keys = params.projects_mode, params.projects
    problems = check_scope(params, ctx)
    if problems:
        raise ParameterError(operation_id, problems)
    if mode == "CURRENT":
        return lambda key: key == ctx.project_key
    if mode == "INCLUDED":
        return lambda key: key in keys
    if mode == "ALL_BUT_EXCLUDED":
        return lambda key: key not in keys
    return lambda key: True


class _Running:
    """Running entries per project: for jobs one instance-wide call where DSS
    offers it (15.2+), else one call per project; for scenario runs one call
    per project."""

    def __init__(self, ctx, family):
        self.ctx, self.family, self.cache = ctx, family, {}
        self.instance_wide = None  # {project: job ids} from one call, when DSS offers it

    def for_project(self, key):
        if key not in self.cache:
            client = self.ctx.require_client()
            if self.family is JOBS:
                if self.instance_wide is None:
                    self.instance_wide = dssapi.running_jobs_by_project(client) or False
                if self.instance_wide is not False:
                    self.cache[key] = self.instance_wide.get(key, set())
                else:
                    self.cache[key] = dssapi.running_job_ids(client, key)
            else:
                self.cache[key] = dssapi.running_scenarios(client, key)
        return self.cache[key]

    def protects(self, key, scenario_id, entries):
        """Set of entry names that are running."""
        info = self.for_project(key)
        if self.family is JOBS:
            return {e.name for e in entries if e.name in info}
        if scenario_id not in info:
            return set()
        start = info[scenario_id]
        # The current run's ID is its start time; keep it, anything newer, and the newest folder.
        running = {e.name for e in entries if e.timestamp_ms >= start - 1000}
        if entries:
            running.add(entries[0].name)
        return running


def _new_report(family, params, now, dry_run):
    report = Report(operation=family.id, title=family.title, generated_at_ms=int(now.timestamp() * 1000),
                    dry_run=dry_run, params=dict(params))
    by_group = Table("groups", "By project" if family.depth == 2 else ("By scenario" if family.depth == 3 else "Exports"), [
        Column("project", "Project"), Column("scenario", "Scenario"), Column("seen", "Seen", "count"),
        Column("kept_running", "Kept: running", "count"), Column("kept_recent", "Kept: recent", "count"),
        Column("kept_keep_last", "Kept: newest", "count"),
        Column("deleted", "Would delete" if dry_run else "Deleted", "count"),
        Column("bytes", "Would free" if dry_run else "Freed", "bytes")])
    if family.depth < 3:
        by_group.columns = [c for c in by_group.columns if c.key != "scenario"]
    if family.depth == 1:
        by_group.columns = [c for c in by_group.columns if c.key not in ("project", "kept_running", "kept_keep_last")]
    listed = Table("entries", "Would be deleted" if dry_run else "Deleted", [
        Column("project", "Project"), Column("entry", family.noun.capitalize()), Column("age_days", "Age", "days"),
        Column("bytes", "Size", "bytes"), Column("reason", "Reason")])
    if family is EXPORTS:  # no project; the owner DSS recorded, when it did
        listed.columns = [c for c in listed.columns if c.key != "project"]
        listed.columns.insert(1, Column("owner", "Owner"))
    report.tables += [by_group, listed]
    return report, by_group, listed


_COUNTERS = ("seen", "kept_running", "kept_recent", "kept_keep_last", "deleted", "bytes")


class _Purge:
    """One run of a purge: the plan (decide per entry) and, for real runs, the
    deletion (rename into the trash here, removal on the trash's threads)."""

    def __init__(self, ctx, params, family, progress):
        ctx.require_admin()
        self.selected = _selected_projects(family, params, ctx)
        self.dip_home = ctx.require_dip_home()
        self.ctx, self.params, self.family, self.progress = ctx, params, family, progress
        now = ctx.now()
        self.cutoff_ms = int((now - _dt.timedelta(days=params.retention_days)).timestamp() * 1000)
        self.keep_last = params.get("keep_last", 0)
        self.dry_run = params.dry_run
        self.report, self.by_group, self.listed = _new_report(family, params, now, self.dry_run)
        self.totals = dict.fromkeys(_COUNTERS, 0)
        self.largest = []  # min-heap of (bytes, n, row): the MAX_LISTED largest entries deleted
        self.order = itertools.count()
        self.links = {}  # dry run: links seen of multiply-linked files (see safedelete.tree_bytes_at)

    def _list(self, size, row):
        """Keep ``row`` when it is among the MAX_LISTED largest so far (memory stays flat)."""
        item = (size, next(self.order), row)
        if len(self.largest) < MAX_LISTED:
            heapq.heappush(self.largest, item)
        elif item > self.largest[0]:
            heapq.heapreplace(self.largest, item)

    def finish(self):
        report, totals, dry_run = self.report, self.totals, self.dry_run
        for _, _, row in sorted(self.largest, key=lambda item: (-item[0], item[1])):  # largest first
            self.listed.add(**row)
        self.largest = []
        if totals["deleted"] > len(self.listed.rows):
            self.listed.title += " (the %d largest of %d)" % (len(self.listed.rows), totals["deleted"])
            self.listed.unlisted = totals["deleted"] - len(self.listed.rows)
        elif self.listed.rows:
            self.listed.title += " (largest first)"
        report.summary += [
            Figure("seen", "Entries seen", totals["seen"], "count"),
            Figure("deleted", "Would delete" if dry_run else "Deleted", totals["deleted"], "count"),
            Figure("bytes_freed", "Would free" if dry_run else "Freed", totals["bytes"], "bytes"),
            Figure("kept_running", "Kept: running", totals["kept_running"], "count"),
            Figure("kept_recent", "Kept: recent", totals["kept_recent"], "count"),
            Figure("kept_keep_last", "Kept: newest", totals["kept_keep_last"], "count"),
            Figure("errors", "Errors", len(report.errors), "count"),
        ]
        if self.family.depth == 1:  # exports: no running state, no keep_last
            report.summary = [f for f in report.summary if f.key not in ("kept_running", "kept_keep_last")]
        report.fail_on_errors(self.family.title, self.params.get("fail_on_error", True))
        return report

    def run(self) -> Report:
        family, report = self.family, self.report
        trash = safedelete.Trash(self.dip_home, family.folder)
        try:
            trash.acquire(shared=self.dry_run)  # creates nothing, even on a full disk
            trash.check()  # the dry run refuses what the real run refuses
        except FileNotFoundError:  # no such folder: nothing to purge
            trash.release()
            return self.finish()
        except safedelete.LockHeld as e:
            report.errors.append("nothing was done: %s" % e)
            return self.finish()
        except (safedelete.UnsafePath, OSError) as e:
            trash.release()
            report.errors.append("nothing was deleted: %s" % e)
            return self.finish()
        with trash:
            existing = None
            if family.depth > 1:
                try:
                    existing = dssapi.project_keys(self.ctx.require_client())
                except Unavailable as e:
                    report.errors.append("nothing was deleted: %s" % e)
                    return self.finish()
            self._empty_trash(trash)
            with trash.remover() as remover:
                self._purge_groups(trash.root_fd, trash.root, existing, trash, remover)
            if trash.removed_in_place:
                report.notes.append("the trash folder %s could not be created (%s): %d %s(s) were removed in place"
                                    % (trash.path, trash.unavailable.strerror if trash.unavailable else "the disk was full",
                                       trash.removed_in_place, family.noun))
        return self.finish()

    def _empty_trash(self, trash):
        """Finish what interrupted runs left in the trash: each leftover tried, each failure reported
        (the dry run counts what that would free: the plan is the real run's)."""
        if self.dry_run:
            try:
                left = trash.leftover_bytes()
            except OSError as e:
                self.report.errors.append("could not measure the trash %s: %s" % (trash.path, e.strerror or e))
                return
            self.totals["bytes"] += left
            if left:
                from .render import format_bytes
                self.report.notes.append("%s left in the trash %s by an interrupted run would be removed"
                                         % (format_bytes(left), trash.path))
            return
        try:
            freed, failures = trash.empty()
        except OSError as e:
            self.report.errors.append("could not empty the trash %s: %s" % (trash.path, e.strerror or e))
            return
        self.totals["bytes"] += freed
        for path, e in failures:
            self.report.errors.append("%s: left in the trash by an earlier run, could not be removed (%s); "
                                      "the next real run retries" % (path, e.strerror or e))

    def _purge_groups(self, root_fd, root, existing, trash, remover):
        family, report = self.family, self.report
        running = _Running(self.ctx, family)
        failed_projects = set()
        for key, scenario_id, folder_fd, _, entries in folders(family, root_fd, root, report.errors):
            if key is not None and not self.selected(key):
                continue
            orphan = existing is not None and key not in existing
            if orphan and not self.params.get("include_orphans", True):
                continue
            protected = set()
            if key is not None and not orphan:
                if key in failed_projects:
                    continue
                try:
                    protected = running.protects(key, scenario_id, entries)
                except Unavailable as e:
                    failed_projects.add(key)
                    report.errors.append("project %s: nothing deleted, its running %ss are unknown: %s"
                                         % (key, family.noun, e))
                    continue
            label = None if key is None else key + (" (orphan)" if orphan else "")
            reason = delete_reason(family, self.params.retention_days, self.keep_last, orphan)
            row = self._purge_group(label, scenario_id, folder_fd, entries, protected, trash, remover, reason)
            if self.progress is not None:
                self.progress(self.totals["seen"] + row["seen"])
            for k in self.totals:
                self.totals[k] += row[k]
            if row["seen"]:
                if family.depth > 1:
                    row["project"] = label
                if family.depth == 3:
                    row["scenario"] = scenario_id
                if family.depth == 1:
                    del row["kept_running"], row["kept_keep_last"]
                self.by_group.add(**row)

    def _purge_group(self, label, scenario_id, folder_fd, entries, protected, trash, remover, reason):
        """Decide for every entry of one group, then measure (dry run) or delete; the group's counters."""
        row = dict.fromkeys(_COUNTERS, 0)
        doomed = []
        for rank, entry in enumerate(entries):
            row["seen"] += 1
            delete, why = decide(entry, rank, entry.name in protected, self.cutoff_ms, self.keep_last)
            if delete:
                doomed.append(entry)
            else:
                row["kept_" + why] += 1
        if not doomed:
            return row
        owners = {}
        if self.family is EXPORTS:  # read before the folder goes
            for entry in doomed:
                owners[entry.name] = self._export_owner(folder_fd, entry.name)
        if self.dry_run:
            done = []
            for entry in doomed:
                try:
                    done.append((entry, safedelete.tree_bytes_at(folder_fd, entry.name, self.links)))
                except OSError as e:
                    self.report.errors.append("%s: could not measure (%s)" % (entry.path, e.strerror or e))
        else:
            partial = []
            done = delete_entries(folder_fd, doomed, trash, remover, self.report.errors, partial)
            row["bytes"] += sum(size for _, size in partial)  # freed, though the entries are not all gone
        for entry, size in done:
            row["deleted"] += 1
            row["bytes"] += size
            listed = dict(entry=entry.name if scenario_id is None else "%s/%s" % (scenario_id, entry.name),
                          age_days=round((self.report.generated_at_ms - entry.timestamp_ms) / 86400000.0, 3),
                          bytes=size, reason=reason)
            if self.family is EXPORTS:
                listed["owner"] = owners.get(entry.name, "")
            else:
                listed["project"] = label or ""
            self._list(size, listed)
        return row

    @staticmethod
    def _export_owner(folder_fd, name):
        try:
            fd = safefs.open_dir_at(folder_fd, name)  # O_NOFOLLOW: a link is not read through
        except OSError:
            return ""
        try:
            return export_owner(fd)
        finally:
            os.close(fd)


def delete_entries(folder_fd, doomed, trash, remover, errors, partial=None):
    """Park every doomed entry (``.name``, ``.path``) of the folder open as ``folder_fd`` in the
    trash (in order, here), have the trash's threads remove them; [(entry, bytes freed)] of those
    fully removed, each failure added to ``errors`` and, for an entry partly removed, (entry,
    bytes its removal freed anyway) to ``partial``. While the trash cannot be created (full
    disk), remove in place, here."""
    pending, done = [], []
    for entry in doomed:
        try:
            if trash.ready():
                try:
                    pending.append((entry, remover.submit(trash.park(folder_fd, entry.name))))
                    continue
                except OSError as e:
                    if e.errno not in safefs.FULL:  # a full trash folder: remove in place
                        raise
            done.append((entry, trash.remove_in_place(folder_fd, entry.name)))
        except safedelete.Incomplete as e:
            errors.append("%s: partly deleted, %d item(s) could not be removed (first: %s)"
                          % (entry.path, e.failures, e.strerror))
            if partial is not None:
                partial.append((entry, e.freed))
        except (OSError, safedelete.UnsafePath) as e:
            errors.append("%s: could not delete (%s)" % (entry.path, getattr(e, "strerror", None) or e))
    for entry, future in pending:
        try:
            done.append((entry, future.result()))
        except safedelete.Incomplete as e:
            errors.append("%s: moved to the trash %s, %d item(s) could not be removed (first: %s); the next "
                          "real run retries" % (entry.path, trash.path, e.failures, e.strerror))
            if partial is not None:
                partial.append((entry, e.freed))
        except OSError as e:
            errors.append("%s: moved to the trash %s but could not be removed (%s); the next real run retries"
                          % (entry.path, trash.path, e.strerror or e))
    return done


def run(ctx, params, progress=None, family=JOBS) -> Report:
    return _Purge(ctx, params, family, progress).run()


def run_jobs(ctx, params, progress=None):
    return run(ctx, params, progress, JOBS)


def run_scenarios(ctx, params, progress=None):
    return run(ctx, params, progress, SCENARIOS)


def run_exports(ctx, params, progress=None):
    return run(ctx, params, progress, EXPORTS)
