"""What node-ops knows about the DSS data directory (DIP_HOME), and one walker over it.

The walk is a single pass: it never follows symlinks (so it cannot leave
DIP_HOME; a link counts for its own few bytes, as with ``du``), counts
hard-linked files once, counts permission errors instead of failing, and keeps
memory proportional to the folders it reports on, not to the files it sees.
"""

import configparser
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Optional

from . import safefs

#: Top-level folders reported by name; anything else is grouped under "others".
TOP_LEVEL_FOLDERS = (
    "jobs", "scenarios", "saved_models", "analysis-data", "managed_datasets", "managed_folders",
    "jupyter-run", "code-envs", "exports", "tmp", "caches", "databases", "timelines", "config", "run",
)

#: Top-level folders organised by project key (<folder>/<PROJECT_KEY>/...).
PROJECT_KEYED_FOLDERS = ("jobs", "scenarios", "saved_models", "analysis-data", "managed_datasets", "managed_folders")


@dataclass
class Usage:
    """Space used by a subtree. ``disk_bytes`` counts allocated blocks, like ``du``."""

    disk_bytes: int = 0
    apparent_bytes: int = 0
    files: int = 0
    dirs: int = 0
    symlinks: int = 0
    errors: int = 0

    def add(self, other: "Usage"):
        self.disk_bytes += other.disk_bytes
        self.apparent_bytes += other.apparent_bytes
        self.files += other.files
        self.dirs += other.dirs
        self.symlinks += other.symlinks
        self.errors += other.errors


@dataclass
class Scan:
    """Result of :func:`scan`: totals, per top-level folder and per second-level folder."""

    root: Path
    total: Usage = field(default_factory=Usage)
    top: Dict[str, Usage] = field(default_factory=dict)
    second: Dict[str, Usage] = field(default_factory=dict)  # "jobs/PROJ" -> usage
    error_paths: list = field(default_factory=list)  # the first few unreadable paths


_MAX_ERROR_PATHS = 20


#: Worker processes of a scan. Listing and ``lstat`` cost about as much CPU as
#: they wait on the filesystem, and Python holds its lock for that CPU part, so
#: processes (not threads) walk different subtrees at once.
SCAN_PROCESSES = max(1, min(4, os.cpu_count() or 1))


def scan(root, progress=None, processes=None) -> Scan:
    """Walk ``root`` once and aggregate usage per first and second path level.

    The top two levels are listed here; each second-level subtree
    (``jobs/PROJ``, ``config/projects``...) is walked by :func:`_walk_subtree`,
    on ``processes`` worker processes (default :data:`SCAN_PROCESSES`). Results
    are merged in path order, so a hard link is counted once, in the first
    subtree (in path order) that holds it, whatever the number of processes.
    ``progress``, if given, is called with the number of entries seen so far.
    """
    root = Path(root)
    result = Scan(root=root)
    errors = []
    try:
        top_entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError as e:
        result.total.errors += 1
        result.error_paths.append("%s: %s" % (root, e.strerror or e))
        return result
    tasks = []  # (top name, second-level key, path) of the subtrees to walk
    for top in top_entries:
        top_usage = result.top.setdefault(top.name, Usage())
        if not _count_entry(top, top_usage, errors):  # a file, a link or unreadable
            continue
        try:
            children = sorted(os.scandir(top.path), key=lambda e: e.name)
        except OSError as e:
            top_usage.errors += 1
            errors.append("%s: %s" % (top.path, e.strerror or e))
            continue
        for child in children:
            key = "%s/%s" % (top.name, child.name)
            usage = result.second[key] = Usage()
            if _count_entry(child, usage, errors):
                tasks.append((top.name, key, child.path))
    # Files directly under a top-level folder with several links: count once too.
    walked = {}
    for key, fields, hard_links, sub_errors, entries in _run(tasks, processes, progress):
        walked[key] = (fields, hard_links, sub_errors)
    seen = set()
    for top_name, key, _path in tasks:
        fields, hard_links, sub_errors = walked[key]
        usage = result.second[key]
        for name, value in zip(_FIELDS, fields):
            setattr(usage, name, getattr(usage, name) + value)
        for dev, ino, blocks, size in hard_links:
            if (dev, ino) in seen:  # already counted in an earlier subtree
                usage.files -= 1
                usage.disk_bytes -= blocks
                usage.apparent_bytes -= size
            else:
                seen.add((dev, ino))
        errors.extend(sub_errors)
    for key, usage in result.second.items():
        result.top[key.split("/", 1)[0]].add(usage)
    for usage in result.top.values():
        result.total.add(usage)
    result.error_paths = errors[:_MAX_ERROR_PATHS]
    return result


_FIELDS = ("disk_bytes", "apparent_bytes", "files", "dirs", "symlinks", "errors")


def _count_entry(e, usage, errors) -> bool:
    """Count one listed entry into ``usage``; True when it is a folder to walk into."""
    try:
        st = e.stat(follow_symlinks=False)
    except OSError as exc:
        usage.errors += 1
        errors.append("%s: %s" % (e.path, exc.strerror or exc))
        return False
    if stat.S_ISLNK(st.st_mode):  # the link itself (its own blocks, like du), never its target
        usage.symlinks += 1
    elif stat.S_ISDIR(st.st_mode):
        usage.dirs += 1
    else:
        usage.files += 1  # top-level files: hard links among them are not looked for
    usage.disk_bytes += st.st_blocks * 512
    usage.apparent_bytes += st.st_size
    return stat.S_ISDIR(st.st_mode)


def _run(tasks, processes, progress):
    """Yield the walk of every task, on worker processes when there is more than one."""
    processes = SCAN_PROCESSES if processes is None else processes
    entries = 0
    if processes > 1 and len(tasks) > 1:
        import multiprocessing

        # fork: the workers need nothing but this module, already imported (and a
        # DSS macro's __main__ must not be imported again, as spawn would).
        with multiprocessing.get_context("fork").Pool(min(processes, len(tasks))) as pool:
            for out in pool.imap_unordered(_walk_task, [(key, path) for _, key, path in tasks]):
                entries += out[-1]
                if progress is not None:
                    progress(entries)
                yield out
        return
    for _, key, path in tasks:
        out = _walk_task((key, path))
        entries += out[-1]
        if progress is not None:
            progress(entries)
        yield out


def _walk_task(task):
    key, path = task
    return (key,) + _walk_subtree(path)


def _walk_subtree(path):
    """Everything below folder ``path``, never following links, working relative
    to directory descriptors (one ``lstat`` per entry, no path walks).

    Returns ``(fields, hard_links, errors, entries)``: the counts in
    :data:`_FIELDS` order; ``(dev, ino, blocks_bytes, size)`` of each file with
    several links, counted once here; the first few unreadable paths; the
    number of entries seen.
    """
    disk = apparent = files = dirs = links = errors = entries = 0
    hard_links, seen, error_paths = [], set(), []
    isdir, islnk = stat.S_ISDIR, stat.S_ISLNK
    lstat_at, listdir, open_, close = os.stat, os.listdir, os.open, os.close
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
    stack = [path]
    while stack:
        d = stack.pop()
        try:
            fd = open_(d, flags)
        except OSError as exc:
            errors += 1
            if len(error_paths) < _MAX_ERROR_PATHS:
                error_paths.append("%s: %s" % (d, exc.strerror or exc))
            continue
        try:
            names = listdir(fd)
            for name in names:
                try:
                    st = lstat_at(name, dir_fd=fd, follow_symlinks=False)
                except OSError as exc:
                    errors += 1
                    if len(error_paths) < _MAX_ERROR_PATHS:
                        error_paths.append("%s/%s: %s" % (d, name, exc.strerror or exc))
                    continue
                mode = st.st_mode
                if isdir(mode):
                    dirs += 1
                    stack.append(d + "/" + name)
                elif islnk(mode):  # the link itself (its own blocks, like du), never its target
                    links += 1
                else:
                    if st.st_nlink > 1:
                        ident = (st.st_dev, st.st_ino)
                        if ident in seen:
                            continue
                        seen.add(ident)
                        hard_links.append((st.st_dev, st.st_ino, st.st_blocks * 512, st.st_size))
                    files += 1
                disk += st.st_blocks * 512
                apparent += st.st_size
            entries += len(names)
        except OSError as exc:
            errors += 1
            if len(error_paths) < _MAX_ERROR_PATHS:
                error_paths.append("%s: %s" % (d, exc.strerror or exc))
        finally:
            close(fd)
    return (disk, apparent, files, dirs, links, errors), hard_links, error_paths, entries


@dataclass
class Filesystem:
    size_bytes: int
    used_bytes: int
    free_bytes: int  # available to an unprivileged user, like df's "Avail"
    inodes_total: int
    inodes_free: int

    @property
    def used_percent(self) -> float:
        usable = self.used_bytes + self.free_bytes
        return 100.0 * self.used_bytes / usable if usable else 0.0

    @property
    def inodes_used_percent(self) -> float:
        return 100.0 * (self.inodes_total - self.inodes_free) / self.inodes_total if self.inodes_total else 0.0


def filesystem(path) -> Filesystem:
    """Size, use and inodes of the filesystem holding ``path`` (the numbers ``df`` shows)."""
    st = os.statvfs(str(path))
    size = st.f_blocks * st.f_frsize
    free_root = st.f_bfree * st.f_frsize
    return Filesystem(
        size_bytes=size,
        used_bytes=size - free_root,
        free_bytes=st.f_bavail * st.f_frsize,
        inodes_total=st.f_files,
        inodes_free=st.f_favail,
    )


def read_install_ini(dip_home) -> Optional[configparser.RawConfigParser]:
    """install.ini as DSS reads it (RawConfigParser), or None when absent."""
    try:  # a FIFO or a device planted there must not block or feed the run
        data, _ = safefs.read_file(str(Path(dip_home) / "install.ini"), follow_symlinks=True)
    except OSError:
        return None
    if data is None:
        return None
    parser = configparser.RawConfigParser()
    try:
        parser.read_string(data.decode("utf-8", "replace"))
    except configparser.Error:
        return None
    return parser
