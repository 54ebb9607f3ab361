"""Capacity history: one snapshot per run, and the trend they show.

Snapshots are rows of monthly CSV files (``capacity-YYYY-MM.csv``, one row per
figure: ``timestamp, epoch_ms, scope, name, bytes, files``), all with the same
columns so that one DSS dataset over the folder reads them all, for charts on
a dashboard. Inside DSS they live in the managed folder
``node_ops_capacity_history`` of the project the step runs in (the
administration project); on the command line, in a local folder.

The trend is a least-squares line over the snapshots of the last
:data:`TREND_DAYS` days: growth per week per top-level folder, and the date
the filesystem reaches :data:`FULL_PERCENT` at that pace.
"""

import csv
import datetime as _dt
import io
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

from . import dssapi, safefs
from .errors import Unavailable
from .report import printable_text

FOLDER_NAME = "node_ops_capacity_history"
COLUMNS = ("timestamp", "epoch_ms", "scope", "name", "bytes", "files")
TREND_DAYS = 56
MIN_SNAPSHOTS = 3
MIN_SPAN_MS = 24 * 3600 * 1000
FULL_PERCENT = 90.0
DAY_MS = 24 * 3600 * 1000
#: A date further than this is no forecast: growth that slow never fills the disk in the node's
#: life (and a year past 9999 is no date Python can print).
MAX_FORECAST_DAYS = 100 * 365


@dataclass
class Snapshot:
    epoch_ms: int
    fs_size: int = 0
    fs_used: int = 0
    fs_free: int = 0
    dip_home: int = 0
    folders: Dict[str, int] = field(default_factory=dict)
    projects: Dict[str, int] = field(default_factory=dict)

    def rows(self):
        ts = _dt.datetime.fromtimestamp(self.epoch_ms / 1000.0, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        out = [(ts, self.epoch_ms, "filesystem", "size", self.fs_size, ""),
               (ts, self.epoch_ms, "filesystem", "used", self.fs_used, ""),
               (ts, self.epoch_ms, "filesystem", "free", self.fs_free, ""),
               (ts, self.epoch_ms, "dip_home", "total", self.dip_home, "")]
        out += [(ts, self.epoch_ms, "folder", k, v, "") for k, v in sorted(self.folders.items())]
        out += [(ts, self.epoch_ms, "project", k, v, "") for k, v in sorted(self.projects.items())]
        return out


def month_of(epoch_ms):
    return _dt.datetime.fromtimestamp(epoch_ms / 1000.0, _dt.timezone.utc).strftime("%Y-%m")


def file_name(month):
    return "capacity-%s.csv" % month


def to_csv(snapshots) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for s in snapshots:  # a folder name that is not UTF-8 is kept escaped (\xNN), as reports show it
        w.writerows(tuple(printable_text(v) if isinstance(v, str) else v for v in row) for row in s.rows())
    return buf.getvalue()


def parse(text) -> List[Snapshot]:
    """Snapshots in a history file, oldest first (rows it does not understand are skipped)."""
    by_time = {}
    for row in csv.DictReader(io.StringIO(text or "")):
        try:
            t, scope, name, value = int(row["epoch_ms"]), row["scope"], row["name"], int(row["bytes"])
        except (KeyError, TypeError, ValueError):
            continue
        s = by_time.setdefault(t, Snapshot(t))
        if scope == "filesystem" and name in ("size", "used", "free"):
            setattr(s, "fs_" + name, value)
        elif scope == "dip_home":
            s.dip_home = value
        elif scope == "folder":
            s.folders[name] = value
        elif scope == "project":
            s.projects[name] = value
    return [by_time[t] for t in sorted(by_time)]


# ---- where the files live ----------------------------------------------------------------
class LocalStore:
    """History files in a local folder (command line). With ``root`` (DIP_HOME) and a
    folder below it, every folder from ``root`` down is opened without following
    symlinks (a planted link never leads a root run outside DIP_HOME); the files are
    read and replaced through :mod:`nodeops.safefs` (a symlinked file is refused)."""

    def __init__(self, directory, root=None):
        self.directory = Path(directory)
        self.where = str(self.directory)
        self._root, self._names = self.directory, ()
        if root is not None:
            try:
                self._root, self._names = Path(root), self.directory.relative_to(root).parts
            except ValueError:  # not below root: the folder the administrator chose, as it is
                pass

    def _folder(self, create):
        if create and not self._names:
            self.directory.mkdir(parents=True, exist_ok=True)
        return safefs.open_folder(self._root, *self._names, create=create)

    def read(self, name) -> str:
        try:
            fd = self._folder(create=False)
        except FileNotFoundError:
            return ""
        try:
            data, _ = safefs.read_file(name, dir_fd=fd)
        finally:
            os.close(fd)
        return data.decode("utf-8") if data is not None else ""

    def names(self):
        """The names in the folder (none when it does not exist yet)."""
        try:
            fd = self._folder(create=False)
        except FileNotFoundError:
            return []
        try:
            return [n for n in os.listdir(fd) if isinstance(n, str)]
        finally:
            os.close(fd)

    def remove(self, name):
        """Unlink ``name`` relative to the folder's descriptor: a regular file, or a symlink itself
        (never what it points to); anything else (a folder) is left and False returned."""
        fd = self._folder(create=False)
        try:
            st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            if not (stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode)):
                return False
            os.unlink(name, dir_fd=fd)
            return True
        finally:
            os.close(fd)

    def write(self, name, text):
        """Replace (or create, mode 0644 less the umask) ``name`` atomically: a new random
        temporary file (O_EXCL, O_NOFOLLOW), renamed over it; a symlink is refused."""
        fd = self._folder(create=True)
        try:
            safefs.atomic_replace(name, text.encode("utf-8"), mode=0o644, dir_fd=fd)
        finally:
            os.close(fd)


class FolderStore:
    """History files in a DSS managed folder, through the API."""

    def __init__(self, client, project_key, create, folder_name=FOLDER_NAME):
        self.folder = dssapi.managed_folder(client, project_key, folder_name, create)
        self.where = "managed folder %s in project %s" % (folder_name, project_key)
        self.exists = self.folder is not None

    def read(self, name) -> str:
        return dssapi.read_folder_file(self.folder, "/" + name) or ""

    def write(self, name, text):
        dssapi.write_folder_file(self.folder, "/" + name, text.encode("utf-8"))

    def names(self):
        """The names of the files at the folder's top level."""
        return [p[1:] for p in dssapi.list_folder_files(self.folder) if p.startswith("/") and "/" not in p[1:]]

    def remove(self, name):
        dssapi.delete_folder_file(self.folder, "/" + name)
        return True


def open_store(ctx, report, folder_name, step_id):
    """Where a history lives, or None with a note (or an error) in ``report`` saying why:
    a local folder on the command line; in DSS, the managed folder ``folder_name`` of
    the current project, which only the step (``step_id``) creates."""
    if ctx.history_dir is not None:
        return LocalStore(ctx.history_dir, root=ctx.dip_home)
    if ctx.client is None or not ctx.project_key:
        report.notes.append("No history kept: no DSS project and no local history folder.")
        return None
    try:
        store = FolderStore(ctx.client, ctx.project_key, create=ctx.component == "step", folder_name=folder_name)
    except Unavailable as e:
        report.errors.append("the history (%s) could not be opened: %s" % (folder_name, e))
        return None
    if not store.exists:
        report.notes.append("No history in project %s: the %s step creates the managed folder %s there "
                            "(the macro only adds to an existing one)." % (ctx.project_key, step_id, folder_name))
        return None
    return store


def _months(start_ms, end_ms):
    """'YYYY-MM' of every month from ``start_ms`` to ``end_ms`` (UTC)."""
    day = _dt.datetime.fromtimestamp(start_ms / 1000.0, _dt.timezone.utc).date().replace(day=1)
    last = month_of(end_ms)
    while True:
        m = day.strftime("%Y-%m")
        yield m
        if m >= last:
            return
        day = (day + _dt.timedelta(days=32)).replace(day=1)


def load(store, now_ms, days=TREND_DAYS) -> List[Snapshot]:
    """Snapshots of the last ``days`` days, oldest first."""
    since = now_ms - days * DAY_MS
    out = []
    for m in _months(since, now_ms):
        out += [s for s in parse(store.read(file_name(m))) if since <= s.epoch_ms <= now_ms]
    return sorted(out, key=lambda s: s.epoch_ms)


def append(store, snapshot):
    """Add ``snapshot`` to its month's file (read, add, write back)."""
    name = file_name(month_of(snapshot.epoch_ms))
    existing = [s for s in parse(store.read(name)) if s.epoch_ms != snapshot.epoch_ms]
    store.write(name, to_csv(existing + [snapshot]))


# ---- the trend --------------------------------------------------------------------------
def slope(points):
    """Least-squares (slope per ms, intercept) of [(t_ms, value)]; None with fewer than 2 distinct times."""
    n = len(points)
    if n < 2:
        return None
    mt = sum(t for t, _ in points) / float(n)
    mv = sum(v for _, v in points) / float(n)
    var = sum((t - mt) ** 2 for t, _ in points)
    if var == 0:
        return None
    b = sum((t - mt) * (v - mv) for t, v in points) / var
    return b, mv - b * mt


@dataclass
class Forecast:
    snapshots: int
    span_days: float
    fs_growth_per_week: Optional[float] = None  # bytes
    full_at_ms: Optional[int] = None  # when used reaches FULL_PERCENT at the current pace; None = not growing
    # (or not within MAX_FORECAST_DAYS)
    folder_growth_per_week: Dict[str, float] = field(default_factory=dict)
    line: Optional[tuple] = None  # (slope per ms, intercept) of filesystem used bytes

    @property
    def enough(self):
        return self.line is not None


def forecast(snapshots, now_ms) -> Forecast:
    """The trend of ``snapshots`` (oldest first); ``enough`` is False below
    :data:`MIN_SNAPSHOTS` snapshots or a span shorter than a day."""
    f = Forecast(len(snapshots), (snapshots[-1].epoch_ms - snapshots[0].epoch_ms) / DAY_MS if snapshots else 0.0)
    if len(snapshots) < MIN_SNAPSHOTS or snapshots[-1].epoch_ms - snapshots[0].epoch_ms < MIN_SPAN_MS:
        return f
    week = 7 * DAY_MS
    line = slope([(s.epoch_ms, s.fs_used) for s in snapshots])
    if line is None:
        return f
    f.line = line
    f.fs_growth_per_week = line[0] * week
    names = sorted({k for s in snapshots for k in s.folders})
    for name in names:
        fit = slope([(s.epoch_ms, s.folders.get(name, 0)) for s in snapshots])
        if fit is not None:
            f.folder_growth_per_week[name] = fit[0] * week
    last = snapshots[-1]
    usable = last.fs_used + last.fs_free
    if line[0] > 0 and usable > 0:
        target = usable * FULL_PERCENT / 100.0
        t = (target - line[1]) / line[0]
        if last.fs_used >= target:
            f.full_at_ms = int(now_ms)
        elif t - now_ms <= MAX_FORECAST_DAYS * DAY_MS:
            f.full_at_ms = int(max(t, now_ms))
    return f
