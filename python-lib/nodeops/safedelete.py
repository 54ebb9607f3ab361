"""Deleting inside DIP_HOME without ever leaving it.

- Every target is ``<DIP_HOME>/<family>/<name>/.../<name>`` where each name is
  a plain file name (no ``/``, not ``.``/``..``, not empty) and no folder on the
  way is a symlink: checked with ``lstat``, never by following links.
- A target is first renamed atomically into ``<family>/.node-ops-trash/`` (same
  folder tree, so same filesystem), then removed there. DSS never sees a
  half-deleted job; a crash leaves only trash, which the next run empties.
- Removal works relative to directory descriptors opened with ``O_NOFOLLOW``
  and unlinks links as links, so a symlink inside a job folder never leads to
  its target. The bytes freed (allocated blocks) are counted on the way.
- Removal of what is parked runs on a few threads (:data:`REMOVAL_THREADS`):
  unlinking is bound by the filesystem's latency, not by the CPU, and a handful
  of concurrent removals finish much sooner than one. The rename, the step that
  makes an entry disappear for DSS, stays in the caller's thread and in order.
- One purge at a time per family: an exclusive ``flock`` on the trash's lock file.
"""

import errno
import fcntl
import itertools
import os
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

#: Threads removing parked entries at once (I/O bound; 4 was the best of 1, 2, 4
#: and 8 on the benchmark's tree, see tests/bench/bench_purge.py).
REMOVAL_THREADS = 4

TRASH = ".node-ops-trash"


class UnsafePath(ValueError):
    pass


class LockHeld(Exception):
    pass


def check_name(name, what="name"):
    if not isinstance(name, str) or name in ("", ".", "..") or "/" in name or "\x00" in name:
        raise UnsafePath("invalid %s %r" % (what, name))
    return name


def checked_target(dip_home, family, *names) -> Path:
    """The path of ``family/names...`` under DIP_HOME, after checking no part is a symlink but the last."""
    check_name(family, "family")
    path = Path(dip_home)
    for part in (family,) + names[:-1]:
        path = path / check_name(part)
        st = os.lstat(path)
        if not stat.S_ISDIR(st.st_mode):
            raise UnsafePath("%s is not a real folder (symlink or file)" % path)
    return path / check_name(names[-1]) if names else path


def _blocks(st):
    return st.st_blocks * 512


def tree_bytes(path) -> int:
    """Bytes on disk of ``path`` and below, never following symlinks."""
    st = os.lstat(path)
    total = _blocks(st)
    if not stat.S_ISDIR(st.st_mode):
        return total
    stack = [str(path)]
    while stack:
        d = stack.pop()
        try:
            entries = list(os.scandir(d))
        except OSError:
            continue
        for e in entries:
            try:
                est = e.stat(follow_symlinks=False)
            except OSError:
                continue
            total += _blocks(est)
            if stat.S_ISDIR(est.st_mode):
                stack.append(e.path)
    return total


def _open_dir_at(parent_fd, name):
    return os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=parent_fd)


def _remove_at(parent_fd, name) -> int:
    """Remove entry ``name`` of ``parent_fd`` whatever it is (a link is removed as a
    link); the bytes on disk freed."""
    try:
        fd = _open_dir_at(parent_fd, name)
    except OSError as e:
        if e.errno not in (errno.ENOTDIR, errno.ELOOP):
            raise
        st = os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
        os.unlink(name, dir_fd=parent_fd)
        return _blocks(st)
    try:
        own = _blocks(os.fstat(fd))
    except OSError:
        os.close(fd)
        raise
    return own + _remove_open_dir(parent_fd, name, fd)


def _remove_open_dir(parent_fd, name, fd) -> int:
    """Remove the content of folder ``name`` of ``parent_fd``, open as ``fd``, then
    the folder itself (closing ``fd``); the bytes freed below it. Works relative
    to directory descriptors (no path walks) and opens with O_NOFOLLOW, so a
    folder swapped for a link is never entered."""
    freed = 0
    try:
        with os.scandir(fd) as it:
            entries = list(it)
        for e in entries:
            est = e.stat(follow_symlinks=False)
            if stat.S_ISDIR(est.st_mode):
                freed += _blocks(est) + _remove_open_dir(fd, e.name, _open_dir_at(fd, e.name))
            else:
                os.unlink(e.name, dir_fd=fd)
                freed += _blocks(est)
    finally:
        os.close(fd)
    os.rmdir(name, dir_fd=parent_fd)
    return freed


def open_folder(path) -> int:
    """A descriptor of folder ``path``, refusing a symlink in its place (renames and
    removals relative to it cannot be redirected by a folder swapped for a link later)."""
    return os.open(str(path), os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)


class Trash:
    """The trash folder of one family (jobs, scenarios, exports) and its lock."""

    def __init__(self, dip_home, family):
        self.root = checked_target(dip_home, family)
        self.path = self.root / TRASH
        self._lock_fd = None
        self._fd = None  # the trash folder, opened once (O_NOFOLLOW)
        self._names = itertools.count()

    def acquire(self, create=True):
        """Take the family's lock; raise LockHeld when another purge holds it.

        With ``create=False`` (dry runs) nothing is created: a missing lock file
        means nobody holds it.
        """
        if create:
            os.makedirs(self.path, exist_ok=True)
            if not stat.S_ISDIR(os.lstat(self.path).st_mode):
                raise UnsafePath("%s is not a real folder (symlink or file)" % self.path)
        lock = self.path / "lock"
        if not create and not lock.exists():
            return self
        flags = os.O_RDWR | (os.O_CREAT if create else 0)
        fd = os.open(str(lock), flags, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise LockHeld("another node-ops purge of %s is running" % self.root.name) from None
            raise
        self._lock_fd = fd
        return self

    def release(self):
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()

    def leftovers(self):
        if not self.path.is_dir():
            return []
        return sorted(p for p in self.path.iterdir() if p.name != "lock")

    def empty(self) -> int:
        """Finish removing what an interrupted run left in the trash; bytes freed."""
        return sum(self.remove_parked(p.name) for p in self.leftovers())

    def park(self, folder_fd, name) -> str:
        """Rename entry ``name`` of the folder open as ``folder_fd`` (see :func:`open_folder`)
        into the trash: atomic, DSS no longer sees it. Returns the parked name."""
        check_name(name)
        parked = "%d-%d-%s" % (os.getpid(), next(self._names), name)
        os.rename(name, parked, src_dir_fd=folder_fd, dst_dir_fd=self._dir_fd())
        return parked

    def remove_parked(self, parked) -> int:
        """Remove an entry parked by :meth:`park`; bytes freed."""
        return _remove_at(self._dir_fd(), parked)

    def remover(self, threads=REMOVAL_THREADS):
        """A thread pool for :meth:`remove_parked` (``submit(parked)`` gives a future of the bytes freed)."""
        return _Remover(self, threads)

    def _dir_fd(self):
        if self._fd is None:
            self._fd = open_folder(self.path)
        return self._fd


class _Remover:
    def __init__(self, trash, threads):
        self.trash = trash
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="node-ops-remove")

    def submit(self, parked):
        return self.pool.submit(self.trash.remove_parked, parked)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.pool.shutdown(wait=True)
