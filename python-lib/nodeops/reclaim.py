"""Reclaim disk space beyond logs and exports (issue 16): old saved-model versions, unused ML
split data, the data of deleted projects, pre-migration backups and old diagnosis files.

Each family is a switch with its own rule, all in one report (bytes per family and per project).
The same plan-then-apply engine as the purges (:mod:`nodeops.retention`): the plan is computed
the same way in a dry run and a real run; only the last step (measure, or delete and measure
what is really gone) differs.

- ``saved_model_versions``: through the DSS API only (list the versions, then
  ``delete_versions`` of the doomed ones, so DSS's records stay consistent). :func:`plan_versions`
  is the rule. The bytes are measured on disk (``saved_models/KEY/SM/versions/V``, descriptors,
  never through a link) before, and after a real run what is really gone is measured again: a
  version folder DSS did not remove frees nothing.
- ``ml_unused_splits``: ``remove_unused_splits`` on every ML task of the selected projects (DSS's
  own "no longer in use" rule, which node-ops cannot compute): the bytes are the allocated blocks
  of ``analysis-data/KEY/A/M/splits`` before minus after. A dry run cannot know DSS's rule: it
  reports the ML tasks that would be asked and their current split bytes as "up to".
- ``deleted_projects_data``: folders ``<top>/KEY`` of the project-keyed folders whose project
  the API does not list AND that ``config/projects/KEY`` does not hold, moved to the trash of
  their top folder (descriptor-relative, under its lock). Refused when the project list or
  ``config/projects`` cannot be read.
- ``pre_migration_backups``: ``_pre_migration_backup_*`` at the root of DIP_HOME older than the
  retention, never while a migration may be pending (:func:`migration_state`).
- ``diagnosis``: files (only files) under ``diagnosis/`` older than the retention.

Bytes are allocated blocks, a hard-linked file counted once and only when its last link goes
(:func:`nodeops.safedelete.tree_bytes_at`, one ``links`` tally per run).
"""

import dataclasses
import datetime as _dt
import errno
import fcntl
import heapq
import itertools
import json
import os
import re
import stat
from dataclasses import dataclass

from . import dssapi, safedelete, safefs
from .errors import Unavailable
from .params import MAX_COUNT, Param, separator
from .report import Column, Figure, Report, Table
from .retention import (DRY_RUN, FAIL_ON_ERROR, MAX_LISTED, PROJECTS, PROJECTS_MODE, RETENTION_DAYS, check_scope,
                        delete_entries, project_filter)

OPERATION_ID = "reclaim-disk"
TITLE = "Reclaim disk space"

DAY_MS = 24 * 3600 * 1000

#: The families, in the order of the form and of the report: (switch, label).
FAMILIES = (
    ("saved_model_versions", "Saved-model versions"),
    ("ml_unused_splits", "ML split data"),
    ("deleted_projects_data", "Data of deleted projects"),
    ("pre_migration_backups", "Pre-migration backups"),
    ("diagnosis", "Diagnosis files"),
)
LABELS = dict(FAMILIES)
#: Families whose items belong to a project (the others are of the data directory itself).
PROJECT_FAMILIES = ("saved_model_versions", "ml_unused_splits", "deleted_projects_data")
NO_PROJECT = "(data directory)"

PARAMS = (
    separator("Rules"),
    dataclasses.replace(RETENTION_DAYS, description="Saved-model versions, pre-migration backups and diagnosis files "
                                                    "older than this may be deleted."),
    Param("keep_versions", "INT", "Always keep the newest versions", default=3, min=0, max=MAX_COUNT, mandatory=True,
          description="Always keep this many newest versions of each saved model (the active one counts), whatever "
                      "their age."),
    separator("Projects"),
    dataclasses.replace(PROJECTS_MODE, description="Which projects' saved models and ML tasks are cleaned, and which "
                                                   "deleted projects' data goes ('Only the listed projects': list the "
                                                   "keys of deleted projects to remove their data)."),
    dataclasses.replace(PROJECTS, description="The projects cleaned ('Only the listed projects') or spared ('All but "
                                              "the listed projects'); keys of deleted projects may be typed in."),
    separator("What to reclaim"),
    Param("saved_model_versions", "BOOLEAN", "Old saved-model versions", default=True,
          description="Delete, through the DSS API, saved-model versions that are not active, older than the retention "
                      "and not among the newest kept."),
    Param("ml_unused_splits", "BOOLEAN", "Unused ML split data", default=True,
          description="Ask DSS to remove the split data its ML tasks no longer use (exact model comparison on old "
                      "splits is lost)."),
    Param("deleted_projects_data", "BOOLEAN", "Data of deleted projects", default=True,
          description="Delete folders of projects DSS no longer has (managed datasets and folders, saved models, "
                      "analysis data, notebook work folders, jobs, scenarios)."),
    Param("pre_migration_backups", "BOOLEAN", "Pre-migration backups", default=False,
          description="Delete _pre_migration_backup_* folders of DIP_HOME older than the retention, never while a "
                      "migration may be pending."),
    Param("diagnosis", "BOOLEAN", "Old diagnosis files", default=True,
          description="Delete files under diagnosis/ older than the retention."),
    separator("Run"),
    dataclasses.replace(DRY_RUN, description="Report exactly what would be deleted; delete nothing."),
    dataclasses.replace(FAIL_ON_ERROR, description="Fail the step when an item could not be read or deleted, a model "
                                                   "was skipped or a family refused."),
)

# ---- what node-ops assumes about DSS (README, "verified / not yet") -------------------------------
#: A project key as DSS shapes it; only such names under a project-keyed folder can be a project's
#: folder. Observed on real instances (DSS classifies its data-directory footprint the same way);
#: not in DSS's documentation.
GUESS_PROJECT_KEY_RE = re.compile(r"[A-Za-z0-9_]+\Z")
#: Names at the project-key place of a project-keyed folder that are not a project's (a shared
#: upload bucket seen on a real instance under managed_datasets/, DSS's own upload box, tmp).
#: Secondary: a folder holding folders named after existing projects is never taken for an orphan.
GUESS_NOT_PROJECT_NAMES = frozenset(("uploads", "tmp_upload_box", "initial", "tmp"))
#: The per-project notebook work folders: ``jupyter-run/dku-workdirs/<KEY>/`` (seen in paths of
#: notebooks of real instances; not in DSS's documentation).
GUESS_JUPYTER_WORKDIRS = ("jupyter-run", "dku-workdirs")
#: The marker DSS's migration writes at the root of DIP_HOME while a migration runs and leaves
#: when it is interrupted (the next installer run rolls back from the backup): DSS 9.0.5 kit,
#: scripts/dkuinstall/migration_backup.py. Not checked on newer kits.
GUESS_MIGRATION_MARKER = "DSS-MIGRATION-IN-PROGRESS.json"
#: Where DIP_HOME names the installation directory it runs (``export DKUINSTALLDIR="..."``), which
#: the migration rewrites last (9.0.5 kit, scripts/dkuinstall/envfiles.py and migrate_dss.py).
GUESS_INSTALL_DIR_FILE = ("bin", "env-default.sh")
GUESS_INSTALL_DIR_RE = re.compile(r'^\s*export\s+DKUINSTALLDIR=(?:"([^"\n]*)"|\'([^\'\n]*)\'|(\S+))\s*$', re.M)
#: The prefix of the backups DSS's migration makes (9.0.5 kit migration_backup.py; docs disk-usage).
BACKUP_PREFIX = "_pre_migration_backup_"
#: The time a backup was made, in its name: ``_pre_migration_backup_<YYYYmmdd-HHMMSS>`` (9.0.5 kit
#: migration_backup.py; read as UTC, the host's local time in fact: hours on a retention in days).
GUESS_BACKUP_NAME_RE = re.compile(r"_pre_migration_backup_(\d{8})(?:-(\d{6}))?")
#: The reason of an item only partly removed (what stayed is under errors); its bytes count.
PARTLY = "partly deleted: what could not be removed is listed under errors"
_SMALL_FILE = 1 << 20

#: Where a project's datasets and managed folders say their data is: ``params.connection`` and
#: ``params.path`` (the "path in connection", by default ``${projectKey}/...``) of
#: config/projects/KEY/{datasets,managed_folders}/*.json, and the connection's ``params.root`` in
#: config/connections.json (``${dip.home}/managed_datasets`` for filesystem_managed). The builder
#: writes these shapes; DSS's own files not checked.
GUESS_DATA_CONFIGS = ("datasets", "managed_folders")
GUESS_VARIABLE_RE = re.compile(r"\$\{[^}]*\}")

#: The project-keyed folders whose ``<folder>/KEY`` is a project's: (parents, folder).
ORPHAN_FOLDERS = (((), "managed_datasets"), ((), "managed_folders"), ((), "saved_models"), ((), "analysis-data"),
                  (GUESS_JUPYTER_WORKDIRS[:1], GUESS_JUPYTER_WORKDIRS[1]), ((), "jobs"), ((), "scenarios"))


def check(params, ctx):
    problems = check_scope(params, ctx)
    if not any(params[f] for f, _ in FAMILIES):
        problems.append("'%s' (or another switch: %s) must be on: nothing to reclaim"
                        % (FAMILIES[0][0], ", ".join(f for f, _ in FAMILIES[1:])))
    return problems


# ---- the saved-model version rule ----------------------------------------------------------------
class Unsure(Exception):
    """DSS's listing does not say which version is active: the model is left alone."""


@dataclass
class VersionPlan:
    active: str
    doomed: list  # [(version id, time ms)], newest first
    kept: dict  # {version id: "active" | "newest" | "recent" | "unknown_time"}


def plan_versions(versions, cutoff_ms, keep_versions, time_of=None) -> VersionPlan:
    """Which versions of one saved model go: not active, older than ``cutoff_ms`` and not among
    the ``keep_versions`` newest (by training time; the active one counts). A version whose time
    is unknown is kept. Raises :class:`Unsure` unless exactly one version says ``active: true`` and
    every other says ``active: false``."""
    time_of = time_of or dssapi.version_time_ms
    flags = [v.get("active") for v in versions]
    if any(not isinstance(f, bool) for f in flags):
        raise Unsure("a version does not say whether it is active")
    active = [str(v["id"]) for v in versions if v["active"]]
    if len(active) != 1:
        raise Unsure("no version is active" if not active else "%d versions say they are active" % len(active))
    kept, timed = {}, []
    for v in versions:
        vid, ms = str(v["id"]), time_of(v)
        if ms is None:
            kept[vid] = "unknown_time"
        else:
            timed.append((ms, vid))
    timed.sort(reverse=True)  # newest first
    doomed = []
    for rank, (ms, vid) in enumerate(timed):
        if vid == active[0]:
            kept[vid] = "active"
        elif rank < keep_versions:
            kept[vid] = "newest"
        elif ms >= cutoff_ms:
            kept[vid] = "recent"
        else:
            doomed.append((vid, ms))
    kept[active[0]] = "active"
    return VersionPlan(active[0], doomed, kept)


# ---- what a pending migration is -----------------------------------------------------------------
def migration_state(dip_home):
    """``(why not, checked)``: why the pre-migration backups may not go (None when they may),
    and what was checked, in words. Any doubt is a reason."""
    checked = []
    try:
        home_fd = os.open(str(dip_home), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as e:
        return "DIP_HOME cannot be read (%s)" % (e.strerror or e), checked
    try:
        try:
            os.stat(GUESS_MIGRATION_MARKER, dir_fd=home_fd, follow_symlinks=False)
            return ("%s is in DIP_HOME: a DSS migration is running or was interrupted (its backup is what the next "
                    "installer run restores from)" % GUESS_MIGRATION_MARKER), checked
        except FileNotFoundError:
            checked.append("no %s in DIP_HOME (the marker DSS's migration leaves while it runs or after a failure)"
                           % GUESS_MIGRATION_MARKER)
        except OSError as e:
            return "cannot tell whether %s exists (%s)" % (GUESS_MIGRATION_MARKER, e.strerror or e), checked
        data_version, why = _version_file(home_fd, "dss-version.json", "DIP_HOME/dss-version.json", True)
        if why:
            return why, checked
        checked.append("DIP_HOME/dss-version.json: product_version %s, conf_version %s"
                       % (data_version["product_version"], data_version["conf_version"]))
        install_dir, why = _install_dir(home_fd)
        if why:
            return why, checked
        try:
            kit_fd = os.open(install_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as e:
            return ("the installation directory %s (DKUINSTALLDIR of bin/env-default.sh) cannot be read (%s): cannot "
                    "tell whether the installed DSS is newer than the data directory" % (install_dir, e.strerror or e)
                    ), checked
        try:
            kit_version, why = _version_file(kit_fd, "dss-version.json", "%s/dss-version.json" % install_dir, False,
                                             follow=True)
        finally:
            os.close(kit_fd)
        if why:
            return why, checked
        if kit_version["product_version"] != data_version["product_version"]:
            return ("the installed DSS (%s/dss-version.json) is %s but the data directory is at %s: a migration "
                    "(installer.sh -u) is pending or did not finish"
                    % (install_dir, kit_version["product_version"], data_version["product_version"])), checked
        checked.append("the installed DSS (DKUINSTALLDIR %s of bin/env-default.sh) is the same version, %s"
                       % (install_dir, kit_version["product_version"]))
        return None, checked
    finally:
        os.close(home_fd)


def _version_file(dir_fd, name, shown, conf_version, follow=False):
    """(the parsed dss-version.json, None) or (None, why it cannot be trusted)."""
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=follow)
        if st.st_size > _SMALL_FILE:
            return None, "%s is too large to be DSS's version file" % shown
        data, _ = safefs.read_file(name, dir_fd=dir_fd, follow_symlinks=follow)
    except FileNotFoundError:
        return None, "%s does not exist: cannot tell which version it is at" % shown
    except (OSError, safefs.UnsafeFile) as e:
        return None, "%s cannot be read (%s)" % (shown, getattr(e, "strerror", None) or e)
    if data is None:
        return None, "%s does not exist: cannot tell which version it is at" % shown
    try:
        value = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError):
        return None, "%s is not JSON (or nested too deep to read)" % shown
    if not isinstance(value, dict) or not isinstance(value.get("product_version"), str) \
            or not value["product_version"].strip():
        return None, "%s has no product_version" % shown
    if conf_version:
        try:
            int(str(value.get("conf_version")))
        except ValueError:
            return None, "%s has no conf_version (the configuration version a migration starts from)" % shown
    return value, None


def _install_dir(home_fd):
    shown = "DIP_HOME/" + "/".join(GUESS_INSTALL_DIR_FILE)
    try:
        bin_fd = safefs.open_dir_at(home_fd, GUESS_INSTALL_DIR_FILE[0])
    except OSError as e:
        return None, "%s cannot be read (%s): the installed DSS is unknown" % (shown, e.strerror or e)
    try:
        st = os.stat(GUESS_INSTALL_DIR_FILE[1], dir_fd=bin_fd, follow_symlinks=False)
        if st.st_size > _SMALL_FILE:
            return None, "%s is too large" % shown
        data, _ = safefs.read_file(GUESS_INSTALL_DIR_FILE[1], dir_fd=bin_fd)
    except (OSError, safefs.UnsafeFile) as e:
        return None, "%s cannot be read (%s): the installed DSS is unknown" % (shown, getattr(e, "strerror", None) or e)
    finally:
        os.close(bin_fd)
    found = [m for m in GUESS_INSTALL_DIR_RE.finditer((data or b"").decode("utf-8", "replace"))]
    if not found:
        return None, "%s does not set DKUINSTALLDIR: the installed DSS is unknown" % shown
    value = next(v for v in found[-1].groups() if v is not None)
    if not value.startswith("/") or "$" in value:
        return None, "%s sets DKUINSTALLDIR to %r, not a plain absolute path" % (shown, value)
    return value, None


# ---- descriptors ----------------------------------------------------------------------------------
def _open_below(root_fd, names):
    """A descriptor of ``root_fd/names...``, each level opened without following a link
    (``OSError`` ENOENT when absent, ELOOP/ENOTDIR when a level is a link or a file)."""
    fd = root_fd
    try:
        for name in names:
            sub = safefs.open_dir_at(fd, name)
            if fd != root_fd:
                os.close(fd)
            fd = sub
    except BaseException:
        if fd != root_fd:
            os.close(fd)
        raise
    return fd if fd != root_fd else os.dup(root_fd)


def _exists_at(dir_fd, name):
    try:
        os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        return True
    except FileNotFoundError:
        return False


def _is_link_error(e):
    return isinstance(e, OSError) and e.errno in (errno.ELOOP, errno.ENOTDIR)


@dataclass
class _Entry:
    name: str
    path: str


class _Reclaim:
    def __init__(self, ctx, params, progress):
        ctx.require_admin()
        self.selected = project_filter(OPERATION_ID, params, ctx)
        self.dip_home = ctx.require_dip_home()
        self.client = ctx.require_client()
        self.ctx, self.params, self.progress = ctx, params, progress
        now = ctx.now()
        self.now_ms = int(now.timestamp() * 1000)
        self.cutoff_ms = int((now - _dt.timedelta(days=params.retention_days)).timestamp() * 1000)
        self.dry_run = params.dry_run
        self.report = Report(operation=OPERATION_ID, title=TITLE, generated_at_ms=self.now_ms, dry_run=self.dry_run,
                             params=dict(params))
        self.totals = {f: dict(seen=0, kept=0, skipped=0, items=0, bytes=0) for f, _ in FAMILIES}
        self.by_project = {}  # {project label: {family: bytes}}
        self.largest = []  # min-heap of (bytes, n, row)
        self.order = itertools.count()
        self.links = {}  # one tally of multiply-linked files for the whole run
        self.done = 0
        self.unknown_time = 0

    # -- bookkeeping
    def _tick(self, n=1):
        self.done += n
        if self.progress is not None:
            self.progress(self.done)

    def _item(self, family, project, item, size, reason, age_ms=None, whole=True):
        """One item deleted (or that would be); ``whole`` False: partly removed, its bytes count."""
        t = self.totals[family]
        t["items"] += 1 if whole else 0
        t["bytes"] += size
        label = project or NO_PROJECT
        row = self.by_project.setdefault(label, {})
        row[family] = row.get(family, 0) + size
        entry = (size, next(self.order), dict(
            family=LABELS[family], project=project or "", item=item, bytes=size, reason=reason,
            age_days=None if age_ms is None else round((self.now_ms - age_ms) / float(DAY_MS), 3)))
        if len(self.largest) < MAX_LISTED:
            heapq.heappush(self.largest, entry)
        elif entry > self.largest[0]:
            heapq.heapreplace(self.largest, entry)

    def _error(self, family, message):
        self.report.errors.append("%s: %s" % (LABELS[family], message))

    def _on(self, family):
        return self.params[family]

    # -- the run
    def run(self):
        try:
            existing = dssapi.project_keys(self.client)
        except Unavailable as e:
            self.report.errors.append("nothing was done: the list of projects could not be read from DSS: %s" % e)
            return self.finish()
        for family, _ in FAMILIES:
            if self._on(family):
                getattr(self, "_" + family)(existing)
        return self.finish()

    def _selected_existing(self, existing):
        return [k for k in sorted(existing) if self.selected(k)]

    def _locked(self, family, top, parents=(), parks=False):
        """``(trash, refused)``: the Trash of a top folder, its lock taken (shared for a dry run),
        or None when the folder is absent (``refused`` False) or cannot be used (``refused`` True,
        the reason recorded). ``parks``: entries will be moved into its trash (checked first)."""
        trash = safedelete.Trash(self.dip_home, top, parents)
        try:
            trash.acquire(shared=self.dry_run)
            if parks:
                trash.check()  # the dry run refuses what the real run refuses
        except FileNotFoundError:
            trash.release()
            return None, False
        except safedelete.LockHeld as e:
            self._error(family, "nothing done in %s: %s" % (trash.relative, e))
            return None, True
        except (safedelete.UnsafePath, OSError) as e:
            trash.release()
            self._error(family, "nothing done in %s: %s" % (trash.relative, getattr(e, "strerror", None) or e))
            return None, True
        return trash, False

    def _empty_trash(self, family, trash):
        """Finish what interrupted runs left in the trash (the dry run counts what that frees)."""
        failures = []
        try:
            freed = trash.leftover_bytes(self.links) if self.dry_run else None
            if freed is None:
                freed, failures = trash.empty()
        except OSError as e:
            what = "measure" if self.dry_run else "empty"
            self._error(family, "could not %s the trash %s: %s" % (what, trash.path, e.strerror or e))
            return
        if freed:
            self.totals[family]["bytes"] += freed
            self.report.notes.append("%s: %s left in the trash %s by an interrupted run %s removed."
                                     % (LABELS[family], _bytes_words(freed), trash.path,
                                        "would be" if self.dry_run else "were"))
        for path, e in failures:
            self._error(family, "%s: left in the trash by an earlier run, could not be removed (%s); the next real "
                                "run retries" % (path, e.strerror or e))

    # -- the families DSS's API deletes: saved-model versions, ML split data
    def _per_project(self, family, top, list_fn, listed, handle, existing):
        """For each selected existing project, ``list_fn(client, key)`` and ``handle(family,
        key_fd, key, item)`` for each item, under the lock of the top folder ``top``; ``key_fd``
        is ``top/KEY`` (None when absent: nothing on disk to measure). A ``top/KEY`` that is a
        link is not followed and the project left alone (DSS would delete through it)."""
        trash, refused = self._locked(family, top)
        if refused:
            return
        try:
            for key in self._selected_existing(existing):
                key_fd = None
                if trash is not None:
                    try:
                        safedelete.check_name(key, "project key")
                        key_fd = safefs.open_dir_at(trash.root_fd, key)
                    except safedelete.UnsafePath as e:
                        self._error(family, "project %s: nothing done: %s" % (key, e))
                        continue
                    except OSError as e:
                        if e.errno != errno.ENOENT:
                            self.totals[family]["skipped"] += 1
                            self._error(family, "project %s: nothing done: %s/%s %s" % (
                                key, top, key, "is a symlink or a file, not followed (DSS would delete through it)"
                                if _is_link_error(e) else "cannot be read (%s)" % (e.strerror or e)))
                            continue
                try:
                    try:
                        items = list_fn(self.client, key)
                    except Unavailable as e:
                        self._error(family, "project %s: nothing done, its %s could not be listed: %s"
                                    % (key, listed, e))
                        continue
                    for item in items:
                        handle(family, key_fd, key, item)
                        self._tick()
                finally:
                    if key_fd is not None:
                        os.close(key_fd)
        finally:
            if trash is not None:
                trash.release()

    def _saved_model_versions(self, existing):
        family = "saved_model_versions"
        self._per_project(family, "saved_models", dssapi.saved_model_ids, "saved models", self._saved_model, existing)
        if self.unknown_time:
            self.report.notes.append("%s: %d version(s) kept because DSS does not say when they were trained."
                                     % (LABELS[family], self.unknown_time))

    def _saved_model(self, family, key_fd, key, sm):
        t = self.totals[family]
        where = "saved model %s.%s" % (key, sm)
        try:
            versions = dssapi.saved_model_versions(self.client, key, sm)
        except Unavailable as e:
            t["skipped"] += 1
            self._error(family, "%s skipped: its versions could not be listed: %s" % (where, e))
            return
        try:
            plan = plan_versions(versions, self.cutoff_ms, self.params.keep_versions)
        except Unsure as e:
            t["skipped"] += 1
            self._error(family, "%s skipped: DSS does not say which version is active (%s)" % (where, e))
            return
        t["seen"] += len(versions)
        t["kept"] += len(plan.kept)
        self.unknown_time += sum(1 for r in plan.kept.values() if r == "unknown_time")
        if not plan.doomed:
            return
        folder = "saved_models/%s/%s/versions" % (key, sm)
        versions_fd = None
        if key_fd is not None:
            try:
                safedelete.check_name(sm, "saved model id")
                versions_fd = _open_below(key_fd, (sm, "versions"))
            except safedelete.UnsafePath as e:
                t["skipped"] += 1
                self._error(family, "%s skipped: %s" % (where, e))
                return
            except OSError as e:
                if _is_link_error(e):
                    t["skipped"] += 1
                    self._error(family, "%s skipped: a folder of %s is a symlink or a file (not followed; DSS "
                                        "would delete through it)" % (where, folder))
                    return
                if e.errno != errno.ENOENT:
                    t["skipped"] += 1
                    self._error(family, "%s skipped: %s cannot be read (%s)" % (where, folder, e.strerror or e))
                    return
        try:
            doomed = self._measure_versions(family, where, folder, versions_fd, plan)
            if not doomed:
                return
            reason = "not active, older than %s, not among the %d newest versions of its saved model" % (
                _days(self.params.retention_days), self.params.keep_versions)
            if self.dry_run:
                for vid, ms, size in doomed:
                    self._item(family, key, "%s/%s" % (sm, vid), size, reason, ms)
                return
            try:
                dssapi.delete_saved_model_versions(self.client, key, sm, [vid for vid, _, _ in doomed])
            except Unavailable as e:
                self._error(family, "%s: versions %s could not be deleted: %s"
                            % (where, ", ".join(v for v, _, _ in doomed), e))
                return
            for vid, ms, before in doomed:
                freed = self._gone(versions_fd, vid, before)
                if freed < before:
                    self.report.notes.append("%s: DSS deleted version %s but %s of its folder is still there "
                                             "(not counted as freed)" % (where, vid, _bytes_words(before - freed)))
                self._item(family, key, "%s/%s" % (sm, vid), freed, reason, ms)
        finally:
            if versions_fd is not None:
                os.close(versions_fd)

    def _measure_versions(self, family, where, folder, versions_fd, plan):
        """[(version id, time, bytes)] of the doomed versions that may go; a version folder that
        is a symlink (or not a folder) is kept and reported."""
        out = []
        for vid, ms in plan.doomed:
            if versions_fd is None:
                out.append((vid, ms, 0))
                continue
            try:
                safedelete.check_name(vid, "version id")
                out.append((vid, ms, safedelete.tree_bytes_at(versions_fd, vid, self.links, folder_only=True)))
            except safedelete.UnsafePath as e:
                self.totals[family]["kept"] += 1
                self._error(family, "%s: version kept: %s" % (where, e))
            except FileNotFoundError:
                out.append((vid, ms, 0))  # DSS keeps nothing on disk for it here
            except OSError as e:
                self.totals[family]["kept"] += 1
                self._error(family, "%s: version %s kept: %s/%s %s" % (
                    where, vid, folder, vid, "is a symlink or a file, not followed" if _is_link_error(e)
                    else "could not be measured (%s)" % (e.strerror or e)))
        return out

    @staticmethod
    def _gone(dir_fd, name, before):
        """What of entry ``name`` (``before`` bytes) is really gone since it was measured."""
        if dir_fd is None or not _exists_at(dir_fd, name):
            return before
        try:
            left = safedelete.tree_bytes_at(dir_fd, name, {})
        except OSError:
            return 0
        return max(0, before - left)

    # -- ML split data
    def _ml_unused_splits(self, existing):
        family = "ml_unused_splits"
        t = self.totals[family]
        self._per_project(family, "analysis-data", dssapi.ml_task_ids, "ML tasks", self._ml_task, existing)
        if self.dry_run and t["items"]:
            self.report.notes.append(
                "%s: DSS alone knows which splits its ML tasks still use: the dry run lists the %d ML task(s) a real "
                "run would ask and all their split data now on disk (%s), which is at most what a real run frees; "
                "a real run measures what really went." % (LABELS[family], t["items"], _bytes_words(t["bytes"])))

    def _splits_bytes(self, key_fd, names, links=None):
        """Bytes of analysis-data/KEY/A/M/splits (0 when absent); OSError when a level is a link.
        ``links``: the run's tally (the dry run: a file linked from elsewhere counts once, where the
        real run would free it), else the folder's own (a real run's before and after)."""
        if key_fd is None:
            return 0
        try:
            fd = _open_below(key_fd, names[:-1])
        except OSError as e:
            if e.errno == errno.ENOENT:
                return 0
            raise
        try:
            return safedelete.tree_bytes_at(fd, names[-1], {} if links is None else links, folder_only=True)
        except FileNotFoundError:
            return 0
        finally:
            os.close(fd)

    def _ml_task(self, family, key_fd, key, task):
        aid, mid = task
        t = self.totals[family]
        t["seen"] += 1
        where = "ML task %s.%s.%s" % (key, aid, mid)
        folder = "analysis-data/%s/%s/%s/splits" % (key, aid, mid)
        names = (aid, mid, "splits")
        try:
            for n in names:
                safedelete.check_name(n, "name")
            before = self._splits_bytes(key_fd, names, self.links if self.dry_run else None)
        except safedelete.UnsafePath as e:
            t["skipped"] += 1
            self._error(family, "%s skipped: %s" % (where, e))
            return
        except OSError as e:
            t["skipped"] += 1
            if _is_link_error(e):
                self._error(family, "%s skipped: a folder of %s is a symlink or a file (not followed; DSS would "
                                    "delete through it)" % (where, folder))
            else:
                self._error(family, "%s skipped: %s cannot be read (%s)" % (where, folder, e.strerror or e))
            return
        if self.dry_run:
            self._item(family, key, "%s/%s" % (aid, mid), before, "up to: DSS removes the splits no longer in use")
            return
        try:
            dssapi.remove_unused_splits(self.client, key, aid, mid)
        except Unavailable as e:
            self._error(family, "%s: %s" % (where, e))
            return
        try:
            after = self._splits_bytes(key_fd, names)
        except OSError:
            after = before  # cannot tell: nothing counted
        self._item(family, key, "%s/%s" % (aid, mid), max(0, before - after), "split data DSS no longer uses")

    # -- data of deleted projects
    def _deleted_projects_data(self, existing):
        family = "deleted_projects_data"
        configured, why = self._configured_projects()
        if why:
            self._error(family, "nothing deleted: %s" % why)
            return
        if self.params.projects_mode == "CURRENT":
            self.report.notes.append("%s: 'projects_mode' CURRENT selects no deleted project (the current project "
                                     "exists)." % LABELS[family])
        try:
            claims, why = claimed_names(self.dip_home, configured)
            if why:
                self._error(family, "nothing deleted: %s" % why)
                return
            for parents, top in ORPHAN_FOLDERS:
                trash, _ = self._locked(family, top, parents, parks=True)
                if trash is None:
                    continue
                with trash:
                    self._empty_trash(family, trash)
                    self._orphans_in(family, trash, existing, configured, claims)
        finally:
            os.close(configured)

    def _configured_projects(self):
        """(descriptor of config/projects, None) or (None, why the projects DSS holds cannot be known)."""
        try:
            return _open_below_path(self.dip_home, ("config", "projects")), None
        except OSError as e:
            return None, ("config/projects cannot be read (%s): which projects DSS still holds is unknown"
                          % (e.strerror or e))

    def _orphans_in(self, family, trash, existing, configured_fd, claims):
        t = self.totals[family]
        root_fd, top = trash.root_fd, trash.relative
        doomed = []
        for name, entry in _listing(root_fd, top, self.report.errors, LABELS[family]):
            self._tick()
            key = self._owner(top, name)
            if key is None or key in existing:
                continue
            t["seen"] += 1
            if _exists_at(configured_fd, key):
                t["kept"] += 1
                self.report.notes.append("%s: %s/%s kept: config/projects/%s exists although DSS does not list the "
                                         "project" % (LABELS[family], top, name, key))
                continue
            if not self.selected(key):
                t["kept"] += 1
                continue
            path = "%s/%s" % (top, name)
            who = claimed_by(claims, trash.relative, name)
            if who:
                t["kept"] += 1
                self.report.notes.append("%s: %s kept: %s keeps its data there" % (LABELS[family], path, who))
                continue
            if name in GUESS_NOT_PROJECT_NAMES:
                t["kept"] += 1
                self.report.notes.append("%s: %s kept: %r is a name DSS uses for something else than a project"
                                         % (LABELS[family], path, name))
                continue
            try:
                if entry.is_symlink():
                    t["skipped"] += 1
                    self._error(family, "%s: symlink, not followed" % path)
                    continue
                if not entry.is_dir(follow_symlinks=False):
                    continue
            except OSError:
                continue
            shared = self._names_live_project(root_fd, name, existing, configured_fd)
            if shared:
                t["kept"] += 1
                self.report.notes.append("%s: %s kept: it holds %s, named after an existing project (a shared folder, "
                                         "not a project's)" % (LABELS[family], path, shared))
                continue
            doomed.append(_Entry(name, str(trash.root / name)))
        if not doomed:
            return
        reason = "project no longer in DSS (not listed, no config/projects/KEY)"
        if self.dry_run:
            for e in doomed:
                try:
                    size = safedelete.tree_bytes_at(root_fd, e.name, self.links)
                except OSError as ex:
                    self._error(family, "%s: could not measure (%s)" % (e.path, ex.strerror or ex))
                    continue
                self._item(family, self._owner(top, e.name), "%s/%s" % (top, e.name), size, reason)
            return
        partial = []
        with trash.remover() as remover:
            done = delete_entries(root_fd, doomed, trash, remover, self.report.errors, partial)
        for (e, size), whole in itertools.chain(((d, True) for d in done), ((p, False) for p in partial)):
            self._item(family, self._owner(top, e.name), "%s/%s" % (top, e.name), size,
                       reason if whole else PARTLY, whole=whole)
        if trash.removed_in_place:
            self.report.notes.append("%s: the trash folder %s could not be created (the disk was full): %d folder(s) "
                                     "were removed in place" % (LABELS[family], trash.path, trash.removed_in_place))

    @staticmethod
    def _owner(top, name):
        """The project key a folder ``top/name`` belongs to, or None (not a project's folder name).
        managed_datasets/KEY.dataset (the older naming) is KEY's, as the capacity report counts it."""
        if name.startswith("."):
            return None
        if GUESS_PROJECT_KEY_RE.match(name):
            return name
        if top == "managed_datasets" and "." in name:
            key = name.split(".", 1)[0]
            if GUESS_PROJECT_KEY_RE.match(key):
                return key
        return None

    @staticmethod
    def _names_live_project(root_fd, name, existing, configured_fd):
        """A child of folder ``name`` named after an existing project, or "" (also "" when unreadable:
        then the removal reports what it cannot do)."""
        try:
            fd = safefs.open_dir_at(root_fd, name)
        except OSError:
            return ""
        try:
            with os.scandir(fd) as it:
                for e in it:
                    if e.name in existing or (GUESS_PROJECT_KEY_RE.match(e.name) and _exists_at(configured_fd, e.name)):
                        return e.name
        except OSError:
            return ""
        finally:
            os.close(fd)
        return ""

    # -- pre-migration backups
    def _pre_migration_backups(self, existing):
        family = "pre_migration_backups"
        t = self.totals[family]
        why, checked = migration_state(self.dip_home)
        if why:
            self._error(family, "nothing deleted: %s" % why)
            return
        self.report.notes.append("%s: no migration pending: %s." % (LABELS[family], "; ".join(checked)))
        try:
            home_fd = os.open(str(self.dip_home), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as e:
            self._error(family, "nothing deleted: DIP_HOME cannot be read (%s)" % (e.strerror or e))
            return
        try:
            try:
                fcntl.flock(home_fd, (fcntl.LOCK_SH if self.dry_run else fcntl.LOCK_EX) | fcntl.LOCK_NB)
            except OSError as e:
                if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                    self._error(family, "nothing done: another node-ops run is deleting pre-migration backups")
                    return
                raise
            for name, entry in _listing(home_fd, str(self.dip_home), self.report.errors, LABELS[family]):
                if not name.startswith(BACKUP_PREFIX):
                    continue
                self._tick()
                t["seen"] += 1
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError as e:
                    self._error(family, "%s: cannot read (%s)" % (name, e.strerror or e))
                    continue
                if stat.S_ISLNK(st.st_mode):
                    t["skipped"] += 1
                    self._error(family, "%s: symlink, not followed" % name)
                    continue
                if not stat.S_ISDIR(st.st_mode):
                    t["kept"] += 1
                    continue
                # the time in the name (when the migration made it) survives an interrupted removal,
                # which leaves the folder's mtime at "now"; the mtime when the name has none
                ms = backup_time_ms(name)
                ms = int(st.st_mtime * 1000) if ms is None else ms
                if ms >= self.cutoff_ms:
                    t["kept"] += 1
                    continue
                reason = "older than %s, no migration pending" % _days(self.params.retention_days)
                if self.dry_run:
                    try:
                        size = safedelete.tree_bytes_at(home_fd, name, self.links)
                    except OSError as e:
                        self._error(family, "%s: could not measure (%s)" % (name, e.strerror or e))
                        continue
                    self._item(family, "", name, size, reason, ms)
                    continue
                try:
                    size = safedelete.remove_at(home_fd, name)
                except safedelete.Incomplete as e:
                    self._item(family, "", name, e.freed, PARTLY, ms, whole=False)
                    self._error(family, "%s: partly deleted, %d item(s) could not be removed (first: %s); the next "
                                        "real run retries" % (name, e.failures, e.strerror))
                    continue
                except OSError as e:
                    self._error(family, "%s: could not delete (%s)" % (name, e.strerror or e))
                    continue
                self._item(family, "", name, size, reason, ms)
        finally:
            os.close(home_fd)  # releases the lock

    # -- diagnosis files
    def _diagnosis(self, existing):
        family = "diagnosis"
        t = self.totals[family]
        trash, _ = self._locked(family, "diagnosis", parks=True)
        if trash is None:
            return
        reason = "older than %s" % _days(self.params.retention_days)
        with trash:
            self._empty_trash(family, trash)
            with trash.remover() as remover:
                # depth first, one descriptor per level (not per folder waiting: a wide folder
                # never runs out of descriptors)
                stack = [(os.dup(trash.root_fd), "diagnosis", None)]  # (fd, path, subfolders left)
                try:
                    while stack:
                        fd, rel, subs = stack[-1]
                        if subs is None:  # a folder just opened: its files, then its subfolders
                            subs = iter(self._diagnosis_folder(family, fd, rel, trash, remover, reason, t))
                            stack[-1] = (fd, rel, subs)
                        sub = next(subs, None)
                        if sub is None:
                            os.close(stack.pop()[0])
                            continue
                        try:
                            stack.append((safefs.open_dir_at(fd, sub), "%s/%s" % (rel, sub), None))
                        except OSError as e:
                            self._error(family, "%s/%s: cannot read (%s)" % (rel, sub, e.strerror or e))
                finally:
                    for open_fd, _, _ in stack:
                        os.close(open_fd)
            if trash.removed_in_place:
                self.report.notes.append("%s: the trash folder %s could not be created (the disk was full): %d "
                                         "file(s) were removed in place" % (LABELS[family], trash.path,
                                                                             trash.removed_in_place))

    def _diagnosis_folder(self, family, fd, rel, trash, remover, reason, t):
        """Decide on the files of one folder of diagnosis/, then measure or delete; its subfolders."""
        subdirs, doomed, ages = [], [], {}
        for name, entry in _listing(fd, rel, self.report.errors, LABELS[family]):
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError as e:
                self._error(family, "%s/%s: cannot read (%s)" % (rel, name, e.strerror or e))
                continue
            if stat.S_ISDIR(st.st_mode):
                subdirs.append(name)
                continue
            if stat.S_ISLNK(st.st_mode):
                t["skipped"] += 1
                self._error(family, "%s/%s: symlink, not followed" % (rel, name))
                continue
            if not stat.S_ISREG(st.st_mode):
                continue
            self._tick()
            t["seen"] += 1
            ms = int(st.st_mtime * 1000)
            if ms >= self.cutoff_ms:
                t["kept"] += 1
                continue
            doomed.append(_Entry(name, "%s/%s" % (rel, name)))
            ages[name] = ms
        if doomed and self.dry_run:
            for e in doomed:
                try:
                    size = safedelete.tree_bytes_at(fd, e.name, self.links)
                except OSError as ex:
                    self._error(family, "%s: could not measure (%s)" % (e.path, ex.strerror or ex))
                    continue
                self._item(family, "", e.path, size, reason, ages[e.name])
        elif doomed:
            partial = []
            for e, size in delete_entries(fd, doomed, trash, remover, self.report.errors, partial):
                self._item(family, "", e.path, size, reason, ages[e.name])
            for e, size in partial:
                self._item(family, "", e.path, size, PARTLY, ages[e.name], whole=False)
        return subdirs

    # -- the report
    def finish(self):
        report, dry = self.report, self.dry_run
        verb, free = ("Would delete", "Would free") if dry else ("Deleted", "Freed")
        families = Table("families", "By family", [
            Column("family", "Family"), Column("switch", "Switch"), Column("seen", "Looked at", "count"),
            Column("kept", "Kept", "count"), Column("skipped", "Skipped", "count"),
            Column("items", verb, "count"), Column("bytes", free, "bytes")])
        for family, label in FAMILIES:
            t = self.totals[family]
            families.add(family=label, switch="on" if self._on(family) else "off", **t)
        projects = Table("projects", "By project", [Column("project", "Project")]
                         + [Column(f, LABELS[f], "bytes") for f, _ in FAMILIES]
                         + [Column("bytes", "All families", "bytes")])
        for label, row in sorted(self.by_project.items(), key=lambda kv: (-sum(kv[1].values()), kv[0])):
            projects.add(project=label, bytes=sum(row.values()), **{f: row.get(f, 0) for f, _ in FAMILIES})
        listed = Table("items", "Would be deleted" if dry else "Deleted", [
            Column("family", "Family"), Column("project", "Project"), Column("item", "Item"),
            Column("age_days", "Age", "days"), Column("bytes", "Size", "bytes"), Column("reason", "Reason")])
        for _, _, row in sorted(self.largest, key=lambda item: (-item[0], item[1])):
            listed.add(**row)
        self.largest = []
        items = sum(t["items"] for t in self.totals.values())
        if items > len(listed.rows):
            listed.title += " (the %d largest of %d)" % (len(listed.rows), items)
            listed.unlisted = items - len(listed.rows)
        elif listed.rows:
            listed.title += " (largest first)"
        report.tables += [families, projects, listed]
        total = sum(t["bytes"] for t in self.totals.values())
        up_to = dry and self._on("ml_unused_splits") and self.totals["ml_unused_splits"]["bytes"] > 0
        report.summary += [
            Figure("bytes_freed", free + (" (at most: ML splits)" if up_to else ""), total, "bytes", headline=True),
            Figure("items", verb, items, "count", headline=True),
            Figure("errors", "Errors", len(report.errors), "count"),
        ]
        for family, label in FAMILIES:
            if self._on(family):
                t = self.totals[family]
                bytes_label = "%s: %s" % (label, "up to" if dry and family == "ml_unused_splits" else free.lower())
                report.summary += [Figure(family + "_items", "%s: %s" % (label, verb.lower()), t["items"], "count"),
                                   Figure(family + "_bytes", bytes_label, t["bytes"], "bytes")]
        report.fail_on_errors(TITLE, self.params.get("fail_on_error", True))
        return report


def claimed_names(dip_home, configured_fd):
    """({folder path tuple: [(regex of a name there, who claims it)]}, None), or (None, why not).

    The names under the project-keyed folders where a dataset or managed folder of a project DSS
    holds keeps its data ("path in connection" changed from ``${projectKey}/...``, or a connection
    whose root is a folder inside one of them): never a deleted project's. A variable other than
    ``${projectKey}`` matches any name; a connection node-ops cannot place claims the name in
    every folder. Any file that cannot be read is a doubt: the caller deletes nothing."""
    home = str(dip_home)
    homes = {home.rstrip("/"), os.path.realpath(home)}
    data, why = _read_json_at(None, os.path.join(home, "config", "connections.json"), "config/connections.json")
    if why:
        return None, why
    connections = data.get("connections") if isinstance(data, dict) else None
    if not isinstance(connections, dict):
        return None, "config/connections.json has no connections: where datasets keep their data is unknown"
    tops = [parents + (top,) for parents, top in ORPHAN_FOLDERS]
    claims = {}

    def root_of(name):
        """The connection's root as names below DIP_HOME (() for DIP_HOME itself), False outside
        DIP_HOME, None when unknown."""
        conn = connections.get(name)
        root = conn.get("params", {}).get("root") if isinstance(conn, dict) and \
            isinstance(conn.get("params"), dict) else None
        if not isinstance(root, str):
            return None
        root = root.replace("${dip.home}", home)
        if GUESS_VARIABLE_RE.search(root) or not root.startswith("/"):
            return None
        root = os.path.normpath(root)
        for h in homes:
            if root == h or root.startswith(h + "/"):
                return tuple(n for n in root[len(h):].split("/") if n)
        return False

    def claim(names, who):
        for top in tops:
            if tuple(names[:len(top)]) == top and len(names) > len(top):
                pattern = ".*".join(re.escape(x) for x in GUESS_VARIABLE_RE.split(names[len(top)]))
                mine = claims.setdefault(top, {})  # one per name: most say "${projectKey}", their own
                if pattern not in mine:
                    mine[pattern] = (re.compile(pattern, re.S), who)

    try:
        projects = sorted(n for n in os.listdir(configured_fd) if not n.startswith("."))
    except OSError as e:
        return None, "config/projects cannot be listed (%s)" % (e.strerror or e)
    for key in projects:
        for kind in GUESS_DATA_CONFIGS:
            rel = "%s/%s" % (key, kind)
            try:
                fd = os.open(rel, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=configured_fd)
                try:
                    files = sorted(n for n in os.listdir(fd) if n.endswith(".json"))
                finally:
                    os.close(fd)
            except (FileNotFoundError, NotADirectoryError):
                continue
            except OSError as e:
                return None, "config/projects/%s cannot be listed (%s)" % (rel, e.strerror or e)
            for f in files:
                shown = "config/projects/%s/%s" % (rel, f)
                conf, why = _read_json_at(configured_fd, "%s/%s" % (rel, f), shown)
                if why:
                    return None, why
                params = conf.get("params") if isinstance(conf, dict) else None
                path = params.get("path") if isinstance(params, dict) else None
                if not isinstance(path, str):
                    continue
                names = [n for n in os.path.normpath("/" + path.replace("${projectKey}", key)).split("/") if n]
                if not names:
                    continue
                who = "%s %s of project %s (%s)" % ("dataset" if kind == "datasets" else "managed folder",
                                                   f[:-5], key, shown)
                root = root_of(params.get("connection"))
                if root is None:
                    for top in tops:
                        claim(list(top) + names, who)
                elif root is not False:
                    claim(list(root) + names, who)
    return {top: list(mine.values()) for top, mine in claims.items()}, None


def claimed_by(claims, folder, name):
    """Who (of :func:`claimed_names`) keeps data at ``folder/name`` ("jupyter-run/dku-workdirs"
    style folder), or None."""
    return next((who for c, who in claims.get(tuple(folder.split("/")), ()) if c.fullmatch(name)), None)


def _read_json_at(dir_fd, path, shown):
    """(the parsed JSON file, None), or (None, why it cannot be read)."""
    try:
        data, _ = safefs.read_file(path, dir_fd=dir_fd, follow_symlinks=True)
    except (OSError, safefs.UnsafeFile) as e:
        return None, "%s cannot be read (%s)" % (shown, getattr(e, "strerror", None) or e)
    if data is None:
        return None, "%s does not exist" % shown
    if len(data) > _SMALL_FILE * 16:
        return None, "%s is too large to be a DSS configuration file" % shown
    try:
        return json.loads(data.decode("utf-8")), None
    except (ValueError, RecursionError):
        return None, "%s is not JSON: where the data it describes lives is unknown" % shown


def backup_time_ms(name):
    """Epoch ms of the time in ``_pre_migration_backup_YYYYMMDD[-HHMMSS]...`` (read as UTC), or None."""
    m = GUESS_BACKUP_NAME_RE.match(name)
    if not m:
        return None
    try:
        t = _dt.datetime.strptime(m.group(1) + (m.group(2) or "000000"), "%Y%m%d%H%M%S")
    except ValueError:
        return None
    return int(t.replace(tzinfo=_dt.timezone.utc).timestamp() * 1000)


def _open_below_path(dip_home, names):
    """A descriptor of DIP_HOME/names..., DIP_HOME followed (the administrator's choice), the rest not."""
    home = os.open(str(dip_home), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        return _open_below(home, names)
    finally:
        os.close(home)


def _listing(fd, path, errors, what):
    """Sorted (name, DirEntry) of folder ``fd``, hidden names (the trash) left out; an error recorded."""
    try:
        with os.scandir(fd) as it:
            return sorted(((e.name, e) for e in it if not e.name.startswith(".")), key=lambda x: x[0])
    except OSError as e:
        errors.append("%s: %s: cannot read (%s)" % (what, path, e.strerror or e))
        return []


def _days(n):
    return "%g day%s" % (n, "" if n == 1 else "s")


def _bytes_words(n):
    from .render import format_bytes
    return format_bytes(n)


def progress_target(ctx, params):
    """(units a run looks at, RECORDS), counted by name on disk: saved-model and ML-task folders of
    the selected projects, the children of the project-keyed folders, the backups, the diagnosis
    files. The run's own count differs a little (the API decides): the bar ends with a jump."""
    dip_home = ctx.require_dip_home()
    selected = project_filter(OPERATION_ID, params, ctx)

    def names(*parts):
        try:
            return [n for n in os.listdir(str(dip_home.joinpath(*parts))) if not n.startswith(".")]
        except OSError:
            return []

    total = 0
    if params.saved_model_versions:
        total += sum(len(names("saved_models", k)) for k in names("saved_models") if selected(k))
    if params.ml_unused_splits:
        total += sum(len(names("analysis-data", k, a)) for k in names("analysis-data") if selected(k)
                     for a in names("analysis-data", k))
    if params.deleted_projects_data:
        total += sum(len(names(*parents, top)) for parents, top in ORPHAN_FOLDERS)
    if params.pre_migration_backups:
        total += sum(1 for n in names() if n.startswith(BACKUP_PREFIX))
    if params.diagnosis and not (dip_home / "diagnosis").is_symlink():
        for _, _, files in os.walk(str(dip_home / "diagnosis")):
            total += sum(1 for f in files if not f.startswith("."))
    return total, "RECORDS"


def run(ctx, params, progress=None) -> Report:
    return _Reclaim(ctx, params, progress).run()

