"""What node-ops knows about the DSS data directory (DIP_HOME), and one walker over it.

The walk is a single pass with ``os.scandir``: it never follows symlinks (so it
cannot leave DIP_HOME), counts hard-linked files once, counts permission errors
instead of failing, and keeps memory proportional to the folders it reports on,
not to the files it sees.
"""

import configparser
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Optional

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


def _blocks(st) -> int:
    return getattr(st, "st_blocks", 0) * 512 if hasattr(st, "st_blocks") else st.st_size


def scan(root, progress=None) -> Scan:
    """Walk ``root`` once and aggregate usage per first and second path level.

    ``progress``, if given, is called with the number of entries seen so far
    every few thousand entries.
    """
    root = Path(root)
    result = Scan(root=root)
    seen_inodes = set()  # (dev, ino) of files with more than one link
    entries = 0

    def account(usage_list, st, is_dir):
        for u in usage_list:
            if is_dir:
                u.dirs += 1
            else:
                u.files += 1
            u.disk_bytes += _blocks(st)
            u.apparent_bytes += st.st_size

    try:
        top_entries = list(os.scandir(root))
    except OSError as e:
        result.total.errors += 1
        result.error_paths.append("%s: %s" % (root, e.strerror))
        return result
    for top in top_entries:
        name = top.name
        top_usage = result.top.setdefault(name, Usage())
        # Iterative walk; the stack holds (DirEntry, second-level key or None).
        stack = [(top, None)]
        while stack:
            entry, second_key = stack.pop()
            entries += 1
            if progress is not None and entries % 5000 == 0:
                progress(entries)
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError as e:
                _error(result, top_usage, second_key, entry.path, e)
                continue
            targets = [result.total, top_usage]
            if second_key is not None:
                targets.append(result.second.setdefault(second_key, Usage()))
            if stat.S_ISLNK(st.st_mode):
                for u in targets:
                    u.symlinks += 1
                continue
            if stat.S_ISDIR(st.st_mode):
                account(targets, st, True)
                try:
                    children = list(os.scandir(entry.path))
                except OSError as e:
                    _error(result, top_usage, second_key, entry.path, e)
                    continue
                for child in children:
                    key = second_key if second_key is not None else ("%s/%s" % (name, child.name) if entry is top else None)
                    stack.append((child, key))
                continue
            if st.st_nlink > 1:
                ident = (st.st_dev, st.st_ino)
                if ident in seen_inodes:
                    continue
                seen_inodes.add(ident)
            account(targets, st, False)
    return result


def _error(result, top_usage, second_key, path, exc):
    result.total.errors += 1
    top_usage.errors += 1
    if second_key is not None:
        result.second.setdefault(second_key, Usage()).errors += 1
    if len(result.error_paths) < _MAX_ERROR_PATHS:
        result.error_paths.append("%s: %s" % (path, exc.strerror or exc))


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
    path = Path(dip_home) / "install.ini"
    if not path.is_file():
        return None
    parser = configparser.RawConfigParser()
    parser.read(str(path))
    return parser
