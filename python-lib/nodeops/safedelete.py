"""Deleting inside DIP_HOME without ever leaving it.

- Every target is ``<DIP_HOME>/<family>/<name>/.../<name>`` where each name is
  a plain file name (no ``/``, not ``.``/``..``, not empty) and no folder on the
  way is a symlink: checked with ``lstat``, never by following links.
- A target is first renamed atomically into ``<family>/.node-ops-trash/`` (same
  folder tree, so same filesystem), then removed there. DSS never sees a
  half-deleted job; a crash leaves only trash, which the next run empties.
- Removal walks with ``lstat`` and unlinks links as links, so a symlink inside a
  job folder never leads to its target. The bytes freed (allocated blocks) are
  counted on the way.
- One purge at a time per family: an exclusive ``flock`` on the trash's lock file.
"""

import errno
import fcntl
import os
import stat
import uuid
from pathlib import Path

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


def _remove_tree(path) -> int:
    """Remove ``path`` (a folder, file or link), returning the bytes on disk freed."""
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode):
        os.unlink(path)
        return _blocks(st)
    parent_fd = os.open(os.path.dirname(str(path)), os.O_RDONLY | os.O_DIRECTORY)
    try:
        return _remove_dir_at(parent_fd, os.path.basename(str(path)), st)
    finally:
        os.close(parent_fd)


def _remove_dir_at(parent_fd, name, st) -> int:
    """Remove folder ``name`` of ``parent_fd`` and its content, working relative to
    directory descriptors (no path walks; O_NOFOLLOW: a folder swapped for a link
    is never entered)."""
    fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=parent_fd)
    freed = 0
    try:
        with os.scandir(fd) as it:
            entries = list(it)
        for e in entries:
            est = e.stat(follow_symlinks=False)
            if stat.S_ISDIR(est.st_mode):
                freed += _remove_dir_at(fd, e.name, est)
            else:
                os.unlink(e.name, dir_fd=fd)
                freed += _blocks(est)
    finally:
        os.close(fd)
    os.rmdir(name, dir_fd=parent_fd)
    return freed + _blocks(st)


class Trash:
    """The trash folder of one family (jobs, scenarios, exports) and its lock."""

    def __init__(self, dip_home, family):
        self.root = checked_target(dip_home, family)
        self.path = self.root / TRASH
        self._lock_fd = None

    def exists(self):
        return os.path.lexists(self.path)

    def acquire(self, create=True):
        """Take the family's lock; raise LockHeld when another purge holds it.

        With ``create=False`` (dry runs) nothing is created: a missing lock file
        means nobody holds it.
        """
        if create:
            os.makedirs(self.path, exist_ok=True)
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
        return sum(_remove_tree(p) for p in self.leftovers())

    def delete(self, target: Path) -> int:
        """Rename ``target`` into the trash, then remove it; bytes freed."""
        parked = self.path / ("%s-%s" % (uuid.uuid4().hex[:12], target.name))
        os.rename(target, parked)
        return _remove_tree(parked)
