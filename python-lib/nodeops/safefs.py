"""Writing files where someone else may have planted links: the one place that does it.

node-ops often runs as root or as the DSS service account in folders that other
accounts can write to (DIP_HOME, a textfile-collector folder, a history folder).
Everything here works relative to a directory descriptor, so a folder swapped
for a symlink halfway through cannot redirect a write, and:

- a temporary file is always a new file: a random name in the target's own
  folder, created with ``O_CREAT | O_EXCL | O_NOFOLLOW`` (what ``mkstemp`` does,
  but relative to the folder's descriptor). A symlink planted at any name is
  never followed, never truncated, never written through;
- a target that is a symlink (or anything but a regular file) is refused with
  :class:`UnsafeFile`, never replaced by a plain file; so is one with several hard
  links (a rename would silently leave the other names with the old content);
- a replaced file keeps its permission bits and its owner and group (set on the
  temporary file before the rename); when the owner cannot be kept the file is
  not replaced;
- the whole content is written (short ``os.write`` calls are continued), the
  file is ``fsync``-ed, renamed over the target, then the folder is
  ``fsync``-ed: after a crash the target is either the old or the new content.

The API: :func:`open_folder`, :func:`read_file`, :func:`atomic_replace`,
:func:`create_exclusive`, and the error :class:`UnsafeFile`; the descriptor
primitives the purges and the archives share: :func:`open_dir_at`,
:func:`same_file`, :func:`is_full`. Paths may be given
relative to ``dir_fd`` (a plain file name then) or as ordinary paths.
"""

import errno
import os
import secrets
import stat
from contextlib import contextmanager

from .errors import NodeOpsError

#: Opening a folder without ever following a symlink in its place.
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
#: errno values that mean "the filesystem (or the quota) is full".
FULL = (errno.ENOSPC, errno.EDQUOT)

#: Part of every temporary file name (``.<name>.node-ops-tmp-<random>``).
TMP_MARK = ".node-ops-tmp-"
_TMP_ATTEMPTS = 100
_NAME_KEEP = 160  # bytes of the target's name kept in a temporary name (NAME_MAX is 255)


class UnsafeFile(NodeOpsError, OSError):
    """A file operation was refused: the target is a symlink or not a regular file,
    or its owner could not be kept. Nothing was changed. The message names the path."""


def open_dir_at(parent_fd, name) -> int:
    """A descriptor of folder ``name`` of the folder open as ``parent_fd`` (``None``: ``name``
    is a path); never follows a symlink in its place (``OSError`` ENOTDIR or ELOOP)."""
    return os.open(name, DIR_FLAGS, dir_fd=parent_fd)


def same_file(a, b) -> bool:
    """Whether two ``stat`` results are of the same file (device and inode)."""
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def is_full(e) -> bool:
    """Whether ``e`` says the filesystem (or the quota) is full."""
    return isinstance(e, OSError) and e.errno in FULL


def open_folder(path, *names, create=False, mode=0o755, dir_fd=None) -> int:
    """A descriptor (``O_DIRECTORY``) of folder ``path``, then of each of ``names`` below
    it, each opened relative to the previous one with ``O_NOFOLLOW``: a symlink in
    place of any of ``names`` is refused (:class:`UnsafeFile`). ``path`` itself is
    followed (it is the root the caller chose). With ``create``, missing ``names`` are
    created (``mode``, less the umask). Close the descriptor with ``os.close``."""
    fd = os.open(str(path), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=dir_fd)
    where = str(path)
    try:
        for name in names:
            where = os.path.join(where, name)
            _check_name(name, where)
            if create:
                try:
                    os.mkdir(name, mode, dir_fd=fd)
                except FileExistsError:
                    pass
            try:
                sub = open_dir_at(fd, name)
            except OSError as e:
                if e.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise UnsafeFile("%s is not a real folder (a symbolic link or a file): refused" % where) from None
                raise
            os.close(fd)
            fd = sub
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_file(path, *, dir_fd=None, follow_symlinks=False):
    """``(content bytes, os.stat_result)`` of regular file ``path``, or ``(None, None)``
    when it does not exist. Opened with ``O_NOFOLLOW``: a symlink, a FIFO or any
    other special file is refused (:class:`UnsafeFile`) and never opened for
    reading through. With ``follow_symlinks`` (reading settings an administrator
    may have linked), a link is followed, but what it leads to must still be a
    regular file: opening never blocks on a FIFO and never reads a device."""
    try:
        st = os.stat(path, dir_fd=dir_fd, follow_symlinks=follow_symlinks)
    except FileNotFoundError:
        return None, None
    _check_regular(path, st)
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow_symlinks else os.O_NOFOLLOW)
    fd = os.open(path, flags, dir_fd=dir_fd)
    try:
        st = os.fstat(fd)
        _check_regular(path, st)
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return b"".join(chunks), st
            chunks.append(chunk)
    finally:
        os.close(fd)


def atomic_replace(path, data, *, mode=0o600, owner=None, dir_fd=None):
    """Replace the regular file ``path`` with ``data`` (bytes), or create it, atomically.

    An existing file keeps its permission bits, owner and group. A new file gets
    ``mode`` (less the umask) and ``owner`` (``(uid, gid)``; None: the process's).
    A target that is a symlink, not a regular file or hard-linked elsewhere is refused
    with :class:`UnsafeFile`, as is one whose owner cannot be kept; then nothing changes.
    The content goes to a new temporary file in the same folder (see the module),
    is fsync-ed, renamed over ``path``, and the folder is fsync-ed."""
    with _folder_of(path, dir_fd) as (folder_fd, name):
        try:
            st = os.lstat(name, dir_fd=folder_fd)
        except FileNotFoundError:
            st = None
        if st is not None:
            _check_regular(path, st)
            if st.st_nlink > 1:  # a rename would leave the other names with the old content
                raise UnsafeFile("%s has %d hard links: replacing it would break them (the other names would "
                                 "keep the old content); refused, not written" % (path, st.st_nlink))
            keep_mode, keep_owner = stat.S_IMODE(st.st_mode), (st.st_uid, st.st_gid)
            tmp, fd = _new_temp(folder_fd, name, 0o600)
        else:  # the kernel applies the umask to ``mode``
            keep_mode, keep_owner = None, owner
            tmp, fd = _new_temp(folder_fd, name, mode)
        try:
            try:
                _set_owner_and_mode(fd, keep_owner, keep_mode, path)
                _write_all(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, name, src_dir_fd=folder_fd, dst_dir_fd=folder_fd)
        except BaseException:
            _unlink_quietly(tmp, folder_fd)
            raise
        os.fsync(folder_fd)


def create_exclusive(path, data, *, mode=0o600, owner=None, dir_fd=None):
    """Write ``data`` to a NEW file ``path`` (``O_CREAT | O_EXCL | O_NOFOLLOW``) with
    permission bits ``mode`` exactly (the umask does not apply) and ``owner``
    (``(uid, gid)``; None: the process's); fsync it and its folder. Anything already
    at ``path``, a symlink included, raises ``FileExistsError`` and is left alone;
    a half-written file is removed when writing fails."""
    with _folder_of(path, dir_fd) as (folder_fd, name):
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                     dir_fd=folder_fd)
        try:
            try:
                _set_owner_and_mode(fd, owner, stat.S_IMODE(mode), path)
                _write_all(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
        except BaseException:
            _unlink_quietly(name, folder_fd)
            raise
        os.fsync(folder_fd)


# ---- the pieces ---------------------------------------------------------------------------
@contextmanager
def _folder_of(path, dir_fd):
    """(descriptor of the folder holding ``path``, the file's name in it)."""
    path = os.fspath(path)
    head, name = os.path.split(path)
    _check_name(name, path)
    if not head and dir_fd is not None:
        yield dir_fd, name
        return
    fd = os.open(head or ".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        yield fd, name
    finally:
        os.close(fd)


def _check_name(name, where):
    if name in ("", ".", "..") or "/" in name or "\x00" in name:
        raise UnsafeFile("%s: not a plain file name" % where)


def _check_regular(path, st):
    if stat.S_ISLNK(st.st_mode):
        raise UnsafeFile("%s is a symbolic link: refused (node-ops neither writes through a link nor "
                         "replaces one with a plain file)" % path)
    if not stat.S_ISREG(st.st_mode):
        raise UnsafeFile("%s is not a regular file: refused" % path)


def _new_temp(folder_fd, name, mode):
    """(name, descriptor) of a new temporary file next to ``name``: random name, O_EXCL, O_NOFOLLOW."""
    base = name if len(os.fsencode(name)) <= _NAME_KEEP else "file"
    for _ in range(_TMP_ATTEMPTS):
        tmp = ".%s%s%s" % (base, TMP_MARK, secrets.token_hex(8))
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode,
                         dir_fd=folder_fd)
        except FileExistsError:
            continue
        return tmp, fd
    raise FileExistsError(errno.EEXIST, "no free temporary name next to %s after %d attempts" % (name, _TMP_ATTEMPTS))


def _set_owner_and_mode(fd, owner, mode, path):
    """Owner first (chown may clear setuid/setgid bits), then the permission bits (None: as created)."""
    if owner is not None:
        st = os.fstat(fd)
        uid, gid = owner
        if (st.st_uid, st.st_gid) != (uid, gid):
            try:
                os.fchown(fd, uid, gid)
            except PermissionError:
                raise UnsafeFile("%s: its owner %d:%d cannot be kept by this account (uid %d): not written"
                                 % (path, uid, gid, os.geteuid())) from None
    if mode is not None:
        os.fchmod(fd, mode)


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _unlink_quietly(name, folder_fd):
    try:
        os.unlink(name, dir_fd=folder_fd)
    except FileNotFoundError:
        pass

