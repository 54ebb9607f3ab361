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
from functools import partial
from operator import attrgetter, itemgetter
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


def scan(root, progress=None, processes=None, budget=None) -> Scan:
    """Walk ``root`` once and aggregate usage per first and second path level.

    The top two levels are listed here; the subtrees below them (``jobs/PROJ``,
    ``config/projects``...) are walked by :func:`_walk`, on ``processes`` worker
    processes (default :data:`SCAN_PROCESSES`), in chunks of :data:`TASK_ENTRIES`
    entries (``budget``): a chunk that is not done by then hands the folders it
    has not listed yet back, and they are shared out again, so one large project
    keeps every worker busy. Results are merged in path order, so a hard link is
    counted once, in the first second-level folder (in path order) that holds
    it, whatever the number of processes and however the subtrees were split.
    ``progress``, if given, is called with the number of entries seen so far.
    """
    root = Path(root)
    result = Scan(root=root)
    processes = SCAN_PROCESSES if processes is None else processes
    pool = _pool(processes)  # forked first, while the top levels are listed here
    try:
        errors = []
        try:
            top_entries = sorted(os.scandir(root), key=lambda e: e.name)
        except OSError as e:
            result.total.errors += 1
            result.error_paths.append("%s: %s" % (root, e.strerror or e))
            return result
        base = os.path.abspath(str(root))  # workers change their directory; paths they open are absolute
        items = []  # (second-level key, absolute path) of the subtrees to walk, in path order
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
                    items.append((key, "%s/%s/%s" % (base, top.name, child.name)))
        walked = {}  # key -> [fields, hard links, error paths]
        for key, fields, hard_links, sub_errors in _run(pool, items, processes, progress,
                                                        TASK_ENTRIES if budget is None else budget):
            acc = walked.get(key)
            if acc is None:
                walked[key] = [list(fields), hard_links, sub_errors]
            else:
                acc[0] = [a + b for a, b in zip(acc[0], fields)]
                acc[1].extend(hard_links)
                acc[2].extend(sub_errors[:_MAX_ERROR_PATHS - len(acc[2])])
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
    seen = set()
    for key, _path in items:  # path order: a file linked from several subtrees counts in the first
        if key not in walked:
            continue
        fields, hard_links, sub_errors = walked.pop(key)
        usage = result.second[key]
        for name, value in zip(_FIELDS, fields):
            setattr(usage, name, getattr(usage, name) + value)
        for dev, ino, blocks, size in hard_links:
            if (dev, ino) in seen:  # already counted in an earlier subtree (or another chunk of this one)
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

#: Entries a worker lists before it hands the rest of its chunk back (about a tenth of a second).
TASK_ENTRIES = 50000


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


def _pool(processes):
    """The worker processes of a scan, or None for a walk in this process."""
    if processes <= 1:
        return None
    import multiprocessing

    # fork: the workers need nothing but this module, already imported (and a
    # DSS macro's __main__ must not be imported again, as spawn would).
    return multiprocessing.get_context("fork").Pool(processes)


def _run(pool, items, processes, progress, budget):
    """Yield ``(key, fields, hard_links, errors)`` for the walked parts of every item.

    In this process the items are walked in one go. On the pool they are cut
    into chunks (a few per worker); a chunk that comes back with folders left
    over (its budget spent) has them shared out again as new chunks, at the
    end of the queue."""
    entries = 0
    if pool is None:
        for item in items:
            results, _, seen = _walk([item], None, False)
            entries += seen
            if progress is not None:
                progress(entries)
            yield from results
        return
    import queue

    done = queue.SimpleQueue()
    pending = 0

    def submit(part, pieces):
        nonlocal pending
        size = max(1, -(-len(part) // pieces))
        for i in range(0, len(part), size):
            pool.apply_async(_walk, (part[i:i + size], budget, True), callback=done.put,
                             error_callback=lambda e: done.put(e))
            pending += 1

    submit(items, 4 * processes)
    while pending:
        out = done.get()
        pending -= 1
        if isinstance(out, BaseException):
            raise out
        results, leftover, seen = out
        if leftover:
            submit(leftover, processes)
        entries += seen
        if progress is not None:
            progress(entries)
        yield from results


_MODE, _NLINK, _SIZE, _BLOCKS = itemgetter(0), itemgetter(3), itemgetter(6), attrgetter("st_blocks")
_REG_FIRST, _REG_LAST = stat.S_IFREG, stat.S_IFREG | 0o7777  # st_mode of regular files, whatever the permissions


def _walk(items, budget, chdir):
    """Everything below the folders ``items`` (``(key, path)`` pairs, ``path``
    absolute), never following links, working relative to directory
    descriptors: one ``lstat`` per entry relative to its folder's descriptor,
    no path walks.

    ``chdir`` (worker processes only: it changes the current directory) makes
    that descriptor the current directory, so that each folder's entries are
    ``lstat``-ed in one ``map`` with no per-entry Python code; a folder of
    plain files with one link each, the common case, is then summed at C speed.
    Other folders (subfolders, links, hard links, unreadable entries) are
    counted entry by entry.

    Once ``budget`` entries are seen (None: no limit), the folders not listed
    yet are returned instead of walked. Returns ``(results, leftover,
    entries)``: ``results`` a list of ``(key, fields, hard_links, errors)``,
    with the counts in :data:`_FIELDS` order, ``(dev, ino, blocks_bytes, size)``
    of each file with several links (counted here once), the first few
    unreadable paths; ``leftover`` the ``(key, path)`` pairs not walked; the
    number of entries seen.
    """
    isdir, islnk = stat.S_ISDIR, stat.S_ISLNK
    stat_, lstat, listdir, open_, close, fchdir = os.stat, os.lstat, os.listdir, os.open, os.close, os.fchdir
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
    results, leftover, entries = [], [], 0
    for index, (key, path) in enumerate(items):
        disk = apparent = files = dirs = links = errors = 0
        hard_links, seen, error_paths = [], set(), []
        stack = [path]
        while stack:
            if budget is not None and entries >= budget:
                leftover.extend((key, d) for d in stack)
                break
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
                entries += len(names)
                sts = None
                try:
                    if chdir:
                        fchdir(fd)
                        sts = list(map(lstat, names))
                    else:
                        sts = list(map(partial(stat_, dir_fd=fd, follow_symlinks=False), names))
                except OSError:
                    pass  # an entry vanished or cannot be read: counted one by one below
                if sts is not None and names and _REG_FIRST <= min(map(_MODE, sts)) \
                        and max(map(_MODE, sts)) <= _REG_LAST and max(map(_NLINK, sts)) == 1:
                    files += len(sts)
                    disk += sum(map(_BLOCKS, sts)) * 512
                    apparent += sum(map(_SIZE, sts))
                    continue
                for i, name in enumerate(names):
                    if sts is not None:
                        st = sts[i]
                    else:
                        try:
                            st = stat_(name, dir_fd=fd, follow_symlinks=False)
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
            except OSError as exc:
                errors += 1
                if len(error_paths) < _MAX_ERROR_PATHS:
                    error_paths.append("%s: %s" % (d, exc.strerror or exc))
            finally:
                close(fd)
        results.append((key, (disk, apparent, files, dirs, links, errors), hard_links, error_paths))
        if stack:
            leftover.extend(items[index + 1:])
            break
    return results, leftover, entries


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
