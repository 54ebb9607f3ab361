"""``clear-caches`` (command line only): empty ``tmp/`` and ``caches/`` of a stopped DSS.

DSS's disk-usage guidance allows clearing ``tmp/*`` and ``caches/*`` only while DSS
is stopped. So the operation:

- refuses (exit code 2, nothing done) unless no process of this DSS runs: the
  processes of the host are recognised as the capacity report recognises them
  (:func:`nodeops.processes.group_processes`: a command line naming DIP_HOME, or a
  parent that does, grouped by role), for DIP_HOME as given (made absolute) and as
  its real path; and a process the recognition calls DSS (``-Ddku.<role>``, a main
  class, nginx or supervisord of an ``install-support`` file...) whose command line
  names a path that resolves inside DIP_HOME (a DSS started through another link to
  the same folder). Every role blocks, not only the backend: a JEK, a kernel or a
  recipe process left behind may still write in ``tmp/``. The process running
  node-ops and its parents (a shell, sudo, cron) are left out unless one of them is
  a DSS process itself. The check is made again after clearing, and DSS found then
  is an error (exit code 1);
- refuses when DIP_HOME is not a DSS data directory, or when ``tmp`` or ``caches``
  is a symbolic link or not a folder (never followed), or when another run holds
  the folder's lock (an ``flock`` on the folder itself, :class:`nodeops.safedelete.Trash`);
- removes the *contents* only: the folders themselves stay, with their mode and
  owner. Each entry is removed with :func:`nodeops.safedelete.remove_at`
  (descriptor-relative, ``O_NOFOLLOW``: a symbolic link is removed as a link, its
  target untouched). An entry that is another filesystem mounted there is left
  alone (an error). Entries are not parked in a trash folder first: the trash is
  there so that a running DSS never sees a half-deleted entry, and here DSS is
  stopped; so nothing (no ``.node-ops-trash``) is ever created in ``tmp/`` or
  ``caches/``;
- measures what it frees as the purges do: allocated blocks, a file counted when
  its last link goes (a dry run tallies the links it sees, across both folders);
- is a dry run by default (``--dry-run false`` removes).

``--tmp`` and ``--caches`` choose the folders; neither chooses both (what the
command's name and DSS's guidance, which names the two together, lead an admin to
expect).
"""

import heapq
import itertools
import os
import re
import stat
import threading
from concurrent.futures import ThreadPoolExecutor

from . import processes, safedelete
from .errors import NodeOpsError
from .params import Param
from .report import Column, Figure, Report, Table

OPERATION_ID = "clear-caches"
TITLE = "Clear tmp/ and caches/ (DSS stopped)"
FOLDERS = ("tmp", "caches")
#: Entries listed in the report's table (the largest); the others are counted.
MAX_LISTED = 500
#: Entries handed to the removal threads at once (memory stays flat in the number of entries).
_BATCH = 256
#: Characters of a command line quoted in a message.
_CMDLINE_SHOWN = 160

PARAMS = (
    Param("tmp", "BOOLEAN", "Clear tmp/", default=False,
          description="Clear the contents of DIP_HOME/tmp. Neither --tmp nor --caches: both."),
    Param("caches", "BOOLEAN", "Clear caches/", default=False,
          description="Clear the contents of DIP_HOME/caches. Neither --tmp nor --caches: both."),
    Param("dry_run", "BOOLEAN", "Dry run", default=True,
          description="List and measure what would be removed; remove nothing."),
)


class Refused(NodeOpsError):
    """Nothing was done; the message says why."""


# ---- is DSS stopped? ----------------------------------------------------------------------------
def _spellings(dip_home):
    """DIP_HOME as given (made absolute) and its real path: DSS's processes name the one
    DSS was started with, which may be either."""
    given = os.path.abspath(str(dip_home))
    return [given] + ([os.path.realpath(given)] if os.path.realpath(given) != given else [])


def _own_chain():
    """This process and its parents up to the first DSS process (a shell, sudo, cron: they
    may name DIP_HOME on their command line without being DSS)."""
    import psutil

    me = psutil.Process()
    chain = {me.pid}
    try:
        parents = me.parents()
    except psutil.Error:
        return chain
    for p in parents:
        try:
            if processes.classify(p.cmdline()):
                break  # a DSS process above node-ops: it counts
        except psutil.Error:
            break
        chain.add(p.pid)
    return chain


def _through_another_path(real, known):
    """{pid: role} of the DSS processes (:func:`nodeops.processes.classify`) not in ``known``
    whose command line names a path that resolves inside ``real`` (DIP_HOME's real path,
    with its final slash): a DSS started through another link to the same folder."""
    import psutil

    found = {}
    for p in psutil.process_iter(["pid", "cmdline"]):
        pid, cmdline = p.info["pid"], p.info.get("cmdline")
        if not cmdline or pid in known:
            continue
        role = processes.classify(cmdline)
        if not role:
            continue
        pieces = (piece for arg in cmdline for piece in re.split(r"[:=,]", arg) if piece.startswith("/"))
        if any((os.path.realpath(piece).rstrip("/") + "/").startswith(real) for piece in pieces):
            found[pid] = role
    return found


def _cmdline(pid):
    import psutil

    try:
        text = " ".join(psutil.Process(pid).cmdline())
    except psutil.Error:
        return "(ended)"
    return text if len(text) <= _CMDLINE_SHOWN else text[:_CMDLINE_SHOWN] + "..."


class ProcessCheck:
    """What was looked at and what was found: ``found`` [(pid, role, command line)]."""

    def __init__(self, dip_home):
        import psutil

        self.markers = [s.rstrip("/") + "/" for s in _spellings(dip_home)]
        self.host_processes = len(psutil.pids())
        own = _own_chain()
        roles, self.unreadable = {}, 0
        for spelling in _spellings(dip_home):
            groups, unreadable = processes.group_processes(spelling)
            self.unreadable = max(self.unreadable, unreadable)
            for role, group in groups.items():
                for pid in group.pids:
                    if pid not in own:
                        roles.setdefault(pid, role)
        real = os.path.realpath(str(dip_home)).rstrip("/") + "/"
        for pid, role in _through_another_path(real, set(roles) | own).items():
            roles[pid] = role
        order = [r for r, _ in processes.ROLES]
        self.found = sorted(((pid, role, _cmdline(pid)) for pid, role in roles.items()),
                            key=lambda f: (order.index(f[1]) if f[1] in order else len(order), f[0]))

    def looked_at(self):
        return ("the %d processes of this host, by command line (naming %s) and by parent, with the capacity "
                "report's recognition (backend, JEK, FEK, hproxy, nginx, supervisord, Jupyter, kernels, recipes, "
                "webapps, other DSS processes); node-ops itself and its parent shells left out"
                % (self.host_processes, " or ".join(self.markers)))

    def summary(self, limit=10):
        shown = ["%s pid %d (%s)" % (processes.ROLE_LABELS.get(role, role), pid, cmd)
                 for pid, role, cmd in self.found[:limit]]
        more = len(self.found) - limit
        return "; ".join(shown) + ("; and %d more" % more if more > 0 else "")


# ---- the folders --------------------------------------------------------------------------------
def selected(params):
    """The folders chosen: those set, or both when neither is."""
    chosen = [name for name in FOLDERS if params.get(name)]
    return chosen or list(FOLDERS)


def _describe_mode(st):
    try:
        import pwd
        import grp

        owner = "%s:%s" % (pwd.getpwuid(st.st_uid).pw_name, grp.getgrgid(st.st_gid).gr_name)
    except (KeyError, ImportError):
        owner = "%d:%d" % (st.st_uid, st.st_gid)
    return "%04o" % stat.S_IMODE(st.st_mode), owner


class _Folder:
    """One of tmp/ and caches/, open (O_NOFOLLOW) and locked, or absent."""

    def __init__(self, dip_home, name, dry_run):
        self.name = name
        self.path = os.path.join(str(dip_home), name)
        self.trash = safedelete.Trash(dip_home, name)  # the open and the lock only: nothing is parked
        self.fd = None
        self.st = None
        try:
            self.fd = self.trash.acquire(shared=dry_run).root_fd
        except FileNotFoundError:
            self.trash.release()
            return
        except safedelete.UnsafePath:
            self.trash.release()
            try:
                target = os.readlink(self.path)
            except OSError:
                raise Refused("%s is not a folder: nothing was done" % self.path) from None
            raise Refused("%s is a symbolic link (to %s), never followed: nothing was done; clear the folder it "
                          "points to yourself if that is really meant" % (self.path, target)) from None
        except safedelete.LockHeld:
            raise Refused("another node-ops run is clearing %s: nothing was done" % self.path) from None
        except OSError as e:
            self.trash.release()
            raise Refused("%s cannot be opened (%s): nothing was done" % (self.path, e.strerror or e)) from None
        self.st = os.fstat(self.fd)

    def release(self):
        self.trash.release()
        self.fd = None


def _kind(st):
    if stat.S_ISDIR(st.st_mode):
        return "folder"
    if stat.S_ISLNK(st.st_mode):
        return "symbolic link"
    if stat.S_ISREG(st.st_mode):
        return "file"
    return "special file"


def _error_text(e):
    return getattr(e, "strerror", None) or str(e)


class _Run:
    def __init__(self, ctx, params):
        self.ctx, self.params, self.dry_run = ctx, params, params.dry_run
        self.dip_home = ctx.require_dip_home()
        now = ctx.now()
        self.report = Report(operation=OPERATION_ID, title="Clear tmp/ and caches/ of %s" % self.dip_home,
                             generated_at_ms=int(now.timestamp() * 1000), dry_run=self.dry_run, params=dict(params))
        self.links = {}  # dry run: links seen of multiply-linked files, across both folders
        self.largest = []  # min-heap (bytes, n, row) of the MAX_LISTED largest entries
        self.order = itertools.count()
        self.listing = threading.Lock()  # the removal threads list what they removed
        self.totals = {"entries": 0, "bytes": 0}
        self.per_folder = []  # a figure per folder cleared: its bytes freed

    def run(self) -> Report:
        report = self.report
        names = selected(self.params)
        if not (self.params.tmp or self.params.caches):
            report.notes.append("neither --tmp nor --caches given: both folders")
        folders = []
        try:
            for name in names:
                folders.append(_Folder(self.dip_home, name, self.dry_run))
            check = ProcessCheck(self.dip_home)
            if check.found:
                raise Refused("DSS is running for %s (%d process(es) of this DIP_HOME: %s): nothing was done; stop "
                              "DSS first (%s stop) and run again"
                              % (self.dip_home, len(check.found), check.summary(),
                                 os.path.join(str(self.dip_home), "bin", "dss")))
            checks = Table("checks", "What was checked", [Column("check", "Check"), Column("result", "Result")])
            checks.add(check="DSS processes of this DIP_HOME (before)",
                       result="none found among %s" % check.looked_at())
            report.notes.append("DSS is stopped: no process of %s found among %s" % (self.dip_home, check.looked_at()))
            if check.unreadable:
                checks.add(check="Processes that could not be read",
                           result="%d (ended while listed, or another user's)" % check.unreadable)
            report.tables.append(checks)
            table = Table("folders", "Folders", [
                Column("folder", "Folder"), Column("path", "Path"), Column("state", "State"),
                Column("entries", "Would remove" if self.dry_run else "Removed", "count"),
                Column("bytes", "Would free" if self.dry_run else "Freed", "bytes"),
                Column("errors", "Errors", "count"), Column("mode", "Mode"), Column("owner", "Owner")])
            report.tables.append(table)
            for folder in folders:
                self._clear(folder, table, checks)
            if not self.dry_run:
                after = ProcessCheck(self.dip_home)
                if after.found:
                    report.errors.append("DSS started while its folders were being cleared: %s" % after.summary())
                else:
                    report.notes.append("checked again after clearing: still no DSS process")
                checks.add(check="DSS processes of this DIP_HOME (after)",
                           result="found: %s" % after.summary() if after.found else "none found")
        finally:
            for folder in folders:
                folder.release()
        return self._finish()

    def _clear(self, folder, table, checks):
        errors_before = len(self.report.errors)
        if folder.fd is None:
            table.add(folder=folder.name, path=folder.path, state="absent: nothing to clear", entries=0, bytes=0,
                      errors=0)
            return
        mode, owner = _describe_mode(folder.st)
        checks.add(check="%s/" % folder.name, result="a real folder (not a link), mode %s, owner %s" % (mode, owner))
        try:
            names = sorted(os.listdir(folder.fd))
        except OSError as e:
            self.report.errors.append("%s: could not be listed (%s)" % (folder.path, _error_text(e)))
            table.add(folder=folder.name, path=folder.path, state="not listed", entries=0, bytes=0, errors=1,
                      mode=mode, owner=owner)
            return
        count, freed = 0, 0
        if self.dry_run:
            results = (self._measure(folder, name) for name in names)
        else:
            pool = ThreadPoolExecutor(max_workers=safedelete.REMOVAL_THREADS, thread_name_prefix="node-ops-clear")
            results = itertools.chain.from_iterable(
                pool.map(lambda n: self._remove(folder, n), names[start:start + _BATCH])
                for start in range(0, len(names), _BATCH))
        try:
            for gone, size in results:
                count, freed = count + gone, freed + size
        finally:
            if not self.dry_run:
                pool.shutdown(wait=True)
        after = os.fstat(folder.fd)
        if (after.st_mode, after.st_uid, after.st_gid) != (folder.st.st_mode, folder.st.st_uid, folder.st.st_gid):
            self.report.errors.append("%s: its mode or owner changed during the run (%s %s, now %s %s)"
                                      % ((folder.path, mode, owner) + _describe_mode(after)))
        errors = len(self.report.errors) - errors_before
        state = ("would clear" if self.dry_run else "cleared") if not errors else "errors"
        table.add(folder=folder.name, path=folder.path, state=state, entries=count, bytes=freed, errors=errors,
                  mode=mode, owner=owner)
        self.per_folder.append(Figure("%s_bytes_freed" % folder.name, "%s/: %s" % (
            folder.name, "would free" if self.dry_run else "freed"), freed, "bytes"))
        self.totals["entries"] += count
        self.totals["bytes"] += freed

    def _entry_kind(self, folder, name):
        try:
            return _kind(os.stat(name, dir_fd=folder.fd, follow_symlinks=False))
        except OSError:
            return ""

    def _mounted(self, folder, name):
        """Whether entry ``name`` is another filesystem mounted there (then it is left alone: an
        error, since it is not cleared). Only the folder's own entries are checked."""
        try:
            st = os.stat(name, dir_fd=folder.fd, follow_symlinks=False)
        except OSError:
            return False
        if st.st_dev == folder.st.st_dev:
            return False
        self.report.errors.append("%s/%s: another filesystem is mounted there: left alone, not cleared"
                                  % (folder.path, name))
        return True

    def _measure(self, folder, name):
        """(1 when it would be removed else 0, bytes a removal would free)."""
        if self._mounted(folder, name):
            return 0, 0
        kind = self._entry_kind(folder, name)
        try:
            size = safedelete.tree_bytes_at(folder.fd, name, self.links)
        except FileNotFoundError:
            return 0, 0  # gone meanwhile
        except OSError as e:
            self.report.errors.append("%s/%s: could not be measured (%s)" % (folder.path, name, _error_text(e)))
            return 0, 0
        self._list(folder.name, name, kind, size)
        return 1, size

    def _remove(self, folder, name):
        """On a removal thread: (1 when the entry is gone whole else 0, bytes freed)."""
        if self._mounted(folder, name):
            return 0, 0
        kind = self._entry_kind(folder, name)
        try:
            size = safedelete.remove_at(folder.fd, name)
        except safedelete.Incomplete as e:
            self.report.errors.append("%s/%s: partly removed, %d item(s) could not be removed (first: %s); %d "
                                      "byte(s) freed" % (folder.path, name, e.failures, e.strerror, e.freed))
            return 0, e.freed
        except FileNotFoundError:
            return 0, 0  # gone meanwhile: nothing to count
        except OSError as e:
            self.report.errors.append("%s/%s: could not be removed (%s)" % (folder.path, name, _error_text(e)))
            return 0, 0
        self._list(folder.name, name, kind, size)
        return 1, size

    def _list(self, folder, name, kind, size):
        with self.listing:
            self._keep((size, next(self.order), dict(folder=folder, entry=name, kind=kind, bytes=size)))

    def _keep(self, item):
        if len(self.largest) < MAX_LISTED:
            heapq.heappush(self.largest, item)
        elif item > self.largest[0]:
            heapq.heapreplace(self.largest, item)

    def _finish(self):
        report, dry_run = self.report, self.dry_run
        listed = Table("entries", "Would be removed" if dry_run else "Removed", [
            Column("folder", "Folder"), Column("entry", "Entry"), Column("kind", "Kind"),
            Column("bytes", "Size", "bytes")])
        for _, _, row in sorted(self.largest, key=lambda item: (-item[0], item[1])):
            listed.add(**row)
        if self.totals["entries"] > len(listed.rows):
            listed.title += " (the %d largest of %d)" % (len(listed.rows), self.totals["entries"])
            listed.unlisted = self.totals["entries"] - len(listed.rows)
        elif listed.rows:
            listed.title += " (largest first)"
        report.tables.append(listed)
        report.summary += [
            Figure("entries", "Would remove" if dry_run else "Removed", self.totals["entries"], "count", headline=True),
            Figure("bytes_freed", "Would free" if dry_run else "Freed", self.totals["bytes"], "bytes", headline=True),
        ] + self.per_folder + [Figure("errors", "Errors", len(report.errors), "count")]
        report.notes.append("DSS's guidance (operations/disk-usage): clear tmp/ and caches/ only while DSS is "
                            "stopped; the folders themselves are kept, with their mode and owner")
        report.fail_on_errors(TITLE)
        return report


def run(ctx, params, progress=None) -> Report:
    ctx.require_admin()
    return _Run(ctx, params).run()
