"""Deleting inside DIP_HOME without ever leaving it.

- Everything works relative to directory descriptors. The family folder
  (``jobs``, ``scenarios``, ``exports``) is opened once, relative to a descriptor
  of DIP_HOME, with ``O_NOFOLLOW|O_DIRECTORY``; every folder below it (project,
  scenario, entry, anything inside an entry) is opened relative to its parent's
  descriptor the same way, listed with ``os.scandir(fd)``, measured and removed
  relative to that descriptor. No path string is ever resolved again after
  listing, so a folder swapped for a symlink at any moment (between listing and
  deletion included) is never entered: the swap either happens before the open
  (the open refuses the link) or after it (the descriptor still names the real
  folder, inside DIP_HOME).
- A target is first renamed atomically into ``<family>/.node-ops-trash/`` (same
  folder tree, so same filesystem), then removed there. DSS never sees a
  half-deleted job; a crash leaves only trash, which the next run empties, each
  leftover tried and each failure reported.
- Nothing has to be created before something can be deleted, so a purge frees
  space on a full disk (no byte or no inode left): the lock is an ``flock`` on
  the family folder's own descriptor (no lock file), and the trash folder is
  created on first use; when it cannot be (``ENOSPC``, ``EDQUOT``), entries are
  removed in place, with the same descriptor-relative remover, until it can.
- The bytes freed are allocated blocks really given back: a file counts when
  its last link goes (``st_nlink`` is 1 just before the unlink), so a file with
  another hard link outside the entry frees nothing; a dry run counts the same
  way by tallying the links it has seen (:func:`tree_bytes_at`).
- Removal of what is parked runs on a few threads (:data:`REMOVAL_THREADS`):
  unlinking is bound by the filesystem's latency, not by the CPU, and a handful
  of concurrent removals finish much sooner than one. The rename, the step that
  makes an entry disappear for DSS, stays in the caller's thread and in order.
"""

import errno
import fcntl
import itertools
import os
import stat
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .safefs import FULL, UnsafeFile, open_dir_at, open_folder

#: Threads removing parked entries at once (I/O bound; 4 was the best of 1, 2, 4
#: and 8 on the benchmark's tree, see tests/bench/bench_purge.py).
REMOVAL_THREADS = 4

TRASH = ".node-ops-trash"

#: Longest file name, in bytes (Linux filesystems).
NAME_MAX = 255



class UnsafePath(ValueError):
    pass


class LockHeld(Exception):
    pass


class Incomplete(OSError):
    """A removal that tried everything and left something behind: the first
    failure's errno and message, how many failed, and the bytes freed anyway."""

    def __init__(self, first, failures, freed):
        super().__init__(first.errno, first.strerror or str(first))
        self.failures = failures
        self.freed = freed


def check_name(name, what="name"):
    if not isinstance(name, str) or name in ("", ".", "..") or "/" in name or "\x00" in name:
        raise UnsafePath("invalid %s %r" % (what, name))
    return name


def is_link_at(parent_fd, name) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=parent_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def _blocks(st):
    return st.st_blocks * 512


def _counted(st, links):
    """Blocks of a non-folder that a removal frees. ``links`` None (real removal,
    ``st`` taken just before the unlink): only the last link frees the blocks.
    Otherwise (dry run) ``links`` tallies the links of each multiply-linked
    inode seen so far; the blocks count when all of them have been seen."""
    if st.st_nlink <= 1:
        return _blocks(st)
    if links is None:
        return 0
    key = (st.st_dev, st.st_ino)
    seen = links.get(key, 0) + 1
    if seen < st.st_nlink:
        links[key] = seen
        return 0
    links.pop(key, None)
    return _blocks(st)


#: Serialises the removal of multiply-linked files across the removal threads: the link
#: count is read again and the link removed under it, so exactly one removal sees the
#: last link go (two threads each seeing "2 links" and then unlinking would both count
#: nothing although the blocks are freed).
_LAST_LINK = threading.Lock()


def _unlink_last_link(dir_fd, name) -> int:
    """Unlink ``name``, seen as one of several hard links of a file; its blocks if it
    was the last link when removed."""
    with _LAST_LINK:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        os.unlink(name, dir_fd=dir_fd)
    return _blocks(st) if st.st_nlink <= 1 else 0


def _leaf(dir_fd, name, entry, remove, links) -> int:
    """Measure or remove one non-folder (a link is removed as a link)."""
    st = entry.stat(follow_symlinks=False) if entry is not None else os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    if not remove:
        return _counted(st, links)
    if st.st_nlink > 1 and not stat.S_ISDIR(st.st_mode):
        return _unlink_last_link(dir_fd, name)
    os.unlink(name, dir_fd=dir_fd)
    return _counted(st, None)


def _push(stack, fd, name, parent_fd):
    """Open a level of :func:`_tree`: list folder ``fd`` (closed on failure)."""
    try:
        own = _blocks(os.fstat(fd))
        with os.scandir(fd) as it:
            children = list(it)
    except OSError:
        os.close(fd)
        raise
    stack.append((fd, name, parent_fd, iter(children), own))


def _other_filesystem(name):
    return OSError(errno.EXDEV, "another filesystem is mounted here; left alone", name)


def _tree(parent_fd, name, remove, links, folder_only=False) -> int:
    """Measure (``remove`` false) or remove entry ``name`` of ``parent_fd``, whatever
    it is; the bytes freed. Iterative (no recursion limit), one descriptor per level,
    every folder opened with O_NOFOLLOW relative to its parent's descriptor, and never a
    folder of another filesystem (a mount point inside the entry, or the entry itself, is
    left alone and reported as a failure: ``EXDEV``).

    A removal goes on past failures (everything removable is removed), then
    raises :class:`Incomplete`; a measure skips what it cannot read."""
    try:
        fd = open_dir_at(parent_fd, name)
    except OSError as e:
        if folder_only or e.errno not in (errno.ENOTDIR, errno.ELOOP):
            raise
        return _leaf(parent_fd, name, None, remove, links)
    try:
        dev = os.fstat(parent_fd).st_dev if parent_fd is not None else os.stat(os.path.dirname(name) or ".").st_dev
        if os.fstat(fd).st_dev != dev:
            raise _other_filesystem(name)
    except OSError:
        os.close(fd)
        raise
    stack = []  # (fd, name, parent fd, iterator of DirEntry, own blocks) per level
    _push(stack, fd, name, parent_fd)
    freed, failures = 0, []
    try:
        while stack:
            dir_fd, dir_name, dir_parent, children, own = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                os.close(dir_fd)
                try:
                    if remove:
                        os.rmdir(dir_name, dir_fd=dir_parent)
                    freed += own
                except OSError as e:
                    failures.append(e)
                continue
            try:
                if child.is_dir(follow_symlinks=False):
                    try:
                        child_fd = open_dir_at(dir_fd, child.name)
                    except OSError as e:
                        if e.errno not in (errno.ENOTDIR, errno.ELOOP):
                            raise
                        freed += _leaf(dir_fd, child.name, None, remove, links)  # swapped for a link or a file
                    else:
                        if os.fstat(child_fd).st_dev != dev:  # a mount point: never walked into
                            os.close(child_fd)
                            raise _other_filesystem(child.name)
                        _push(stack, child_fd, child.name, dir_fd)
                else:
                    freed += _leaf(dir_fd, child.name, child, remove, links)
            except OSError as e:
                failures.append(e)
    finally:
        for frame in stack:
            os.close(frame[0])
    if failures and remove:
        raise Incomplete(failures[0], len(failures), freed)
    return freed


def tree_bytes_at(parent_fd, name, links=None, folder_only=False) -> int:
    """Bytes a removal of entry ``name`` of ``parent_fd`` would free (dry run); pass
    the same ``links`` dict for a whole run to count files hard-linked between entries.
    ``folder_only``: an entry that is not a real folder (a link, a file) raises the OSError
    of opening it (ELOOP, ENOTDIR) instead of being measured."""
    return _tree(parent_fd, name, False, {} if links is None else links, folder_only)


def remove_at(parent_fd, name) -> int:
    """Remove entry ``name`` of ``parent_fd`` whatever it is (a link as a link); bytes freed.
    Raises :class:`Incomplete` when something could not be removed (after trying the rest)."""
    return _tree(parent_fd, name, True, None)


class Trash:
    """A family folder (jobs, scenarios, exports) of DIP_HOME: its descriptor (which
    the purge walks from), its lock (an ``flock`` on that descriptor) and its trash."""

    def __init__(self, dip_home, family, parents=()):
        check_name(family, "family")
        for name in parents:
            check_name(name, "folder")
        self.dip_home = Path(dip_home)
        #: Folders between DIP_HOME and the family folder (``("jupyter-run",)`` for
        #: ``jupyter-run/dku-workdirs``), each opened like the family folder: never through a link.
        self.parents = tuple(parents)
        self.relative = "/".join(self.parents + (family,))
        self.root = self.dip_home.joinpath(*self.parents, family)
        self.path = self.root / TRASH
        self.root_fd = None  # the family folder, opened once (O_NOFOLLOW)
        self._fd = None  # the trash folder, opened once (O_NOFOLLOW)
        self._prefix = os.urandom(4).hex()  # parked names never collide with an earlier run's leftovers
        self._names = itertools.count()
        #: Why the trash folder could not be created (the disk is full), while it cannot.
        self.unavailable = None
        #: Entries removed in place because the trash folder could not be created.
        self.removed_in_place = 0

    def open(self) -> int:
        """The family folder's descriptor: DIP_HOME itself may be a symlink (the
        administrator's choice); the family folder may not."""
        if self.root_fd is None:
            try:
                self.root_fd = open_folder(self.dip_home, *self.parents, self.root.name)
            except UnsafeFile:
                raise UnsafePath("%s is not a real folder (symlink or file)" % self.root) from None
        return self.root_fd

    def acquire(self, shared=False):
        """Take the family's lock (shared for dry runs); raise LockHeld when another
        purge holds it. Creates nothing: the lock is on the family folder itself."""
        fd = self.open()
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except OSError as e:
            self.release()
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise LockHeld("another node-ops purge of %s is running" % self.relative) from None
            raise
        return self

    def release(self):
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self.root_fd is not None:
            os.close(self.root_fd)  # closing the last descriptor releases the flock
            self.root_fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()

    def _open_trash(self) -> bool:
        """Open the trash folder if it exists; UnsafePath when something else has its name."""
        if self._fd is None:
            try:
                self._fd = open_dir_at(self.open(), TRASH)
            except FileNotFoundError:
                return False
            except OSError as e:
                if e.errno in (errno.ENOTDIR, errno.ELOOP):
                    raise UnsafePath("%s is not a real folder (symlink or file)" % self.path) from None
                raise
        return True

    def check(self):
        """Refuse (UnsafePath) a trash that is a symlink or a file; creates nothing."""
        self._open_trash()

    def ready(self) -> bool:
        """The trash folder, open, created on first use. False while it cannot be
        created because the disk is full (:attr:`unavailable` says why): the caller
        then removes in place, which frees the space to create it on a later call."""
        if self._fd is not None:
            return True
        try:
            os.mkdir(TRASH, 0o700, dir_fd=self.open())
        except FileExistsError:
            pass
        except OSError as e:
            if e.errno in FULL:
                self.unavailable = e
                return False
            raise
        self.unavailable = None
        return self._open_trash()

    def leftovers(self):
        """What is in the trash (paths, for reports); empty when there is no trash."""
        close = self.root_fd is None
        try:
            if not self._open_trash():
                return []
            return sorted(self.path / n for n in os.listdir(self._fd))
        except FileNotFoundError:
            return []
        finally:
            if close:
                self.release()

    def leftover_bytes(self, links=None) -> int:
        """What :meth:`empty` would free now (the dry run's figure), measured the same way."""
        return sum(tree_bytes_at(self._fd, path.name, links) for path in self.leftovers())

    def empty(self):
        """Remove what interrupted runs left in the trash, each leftover tried:
        (bytes freed, [(path, OSError)] of what could not be removed)."""
        freed, failures = 0, []
        for path in self.leftovers():
            try:
                freed += self.remove_parked(path.name)
            except OSError as e:
                freed += getattr(e, "freed", 0)
                failures.append((path, e))
        return freed, failures

    def parked_name(self, name) -> str:
        """A unique name in the trash for entry ``name``, at most NAME_MAX bytes long."""
        prefix = "%s-%d-" % (self._prefix, next(self._names))
        return prefix + os.fsdecode(os.fsencode(name)[:NAME_MAX - len(prefix)])

    def park(self, folder_fd, name) -> str:
        """Rename entry ``name`` of the folder open as ``folder_fd`` into the trash
        (see :meth:`ready`): atomic, DSS no longer sees it. Returns the parked name."""
        check_name(name)
        parked = self.parked_name(name)
        os.rename(name, parked, src_dir_fd=folder_fd, dst_dir_fd=self._fd)
        return parked

    def remove_parked(self, parked) -> int:
        """Remove an entry parked by :meth:`park`; bytes freed."""
        self._open_trash()
        return remove_at(self._fd, parked)

    def remove_in_place(self, folder_fd, name) -> int:
        """Remove entry ``name`` of ``folder_fd`` where it is (the trash cannot be created)."""
        check_name(name)
        freed = remove_at(folder_fd, name)
        self.removed_in_place += 1
        return freed

    def remover(self, threads=REMOVAL_THREADS):
        """A thread pool for :meth:`remove_parked` (``submit(parked)`` gives a future of the bytes freed)."""
        return _Remover(self, threads)


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
