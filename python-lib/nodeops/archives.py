"""The node-ops archive format: writing, reading, checking, verifying, restoring.

An archive is a tar stream (gzip, or zstd through the ``zstd`` command) whose first
member, ``node-ops-archive.json``, identifies it and whose last member,
``node-ops-manifest.jsonl``, lists every regular file with its size and sha256.

- :func:`write_archive` walks the source relative to directory descriptors, never
  following a link, and archives each file from the descriptor it opened (a file
  replaced by rename is archived whole, one that vanishes is skipped and listed;
  sockets, FIFOs and devices are skipped). The manifest is spooled to an anonymous
  temporary file: memory does not grow with the number of files.
- :func:`verify` re-reads an archive and checks every file against the manifest.
- :func:`restore` checks every member (and verifies the archive) before writing
  anything, then extracts relative to directory descriptors with O_NOFOLLOW and
  O_EXCL into an empty folder, checking every member again against the first pass;
  setuid/setgid/sticky and world-writable bits are dropped (and reported).
- :func:`list_archives` is the one validator of "an archive node-ops wrote" (exact
  name, regular file, identity member; :func:`manifest_problem` reads the manifest),
  used by retention (:mod:`nodeops.backup`) and the audit.

Archives of the previous format (``node-ops-manifest.json``, ``{"files": [...]}``)
still verify and restore.
"""


import datetime as _dt
import errno
import grp
import gzip
import hashlib
import io
import json
import os
import pwd
import re
import shutil
import sqlite3
import stat
import subprocess
import tarfile
import tempfile
import zlib
from dataclasses import dataclass, field
from typing import List, Optional

from . import safedelete
from .safefs import open_dir_at, same_file
from .errors import NodeOpsError

IDENTITY = "node-ops-archive.json"
MANIFEST = "node-ops-manifest.jsonl"
LEGACY_MANIFEST = "node-ops-manifest.json"
FORMAT = "node-ops-backup"
NAME_RE = re.compile(r"^dss-backup-(CONFIG|DATA_DIR)-(\d{8})-(\d{6})-(\d{3})\.tar\.(gz|zst)$")
PARTIAL_RE = re.compile(r"^\.dss-backup-(CONFIG|DATA_DIR)-\d{8}-\d{6}-\d{3}\.tar\.(gz|zst)\.partial$")
CHUNK = 1024 * 1024
#: How many items of a long list (skipped files, problems) a report shows; the count is always exact.
SHOWN = 500
#: Mode bits a restore never keeps: setuid, setgid, sticky, world-writable.
DROPPED_BITS = stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX | stat.S_IWOTH
_GZIP_MAGIC, _ZSTD_MAGIC = b"\x1f\x8b", b"\x28\xb5\x2f\xfd"
_READ_ERRORS = (tarfile.TarError, OSError, EOFError, zlib.error, ValueError)
#: Bounds a restore checks before writing anything: a name component (bytes), a symbolic link
#: target (bytes, PATH_MAX - 1), a manifest line (a path is at most a few KB), a tar header
#: block (PAX or GNU long name) that tarfile would read whole into memory.
NAME_MAX, TARGET_MAX, LINE_MAX, HEADER_MAX = 255, 4095, 64 * 1024, 1024 * 1024
#: What ``os.utime`` and ``os.fchown`` accept: whole seconds, ids.
_MTIME_RANGE, _ID_MAX = (-2 ** 62, 2 ** 62), 2 ** 32 - 2


def _short(value, limit=100):
    """``value`` (anything) as text for a message, at most ``limit`` characters and "..."."""
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _q(name):
    """A member name quoted for a message, shortened."""
    return _short(repr(name))



class _Capped:
    """The first SHOWN items of a list that may be long, and the exact count."""

    def __init__(self, limit=SHOWN):
        self.items, self.count, self.limit = [], 0, limit

    def add(self, item):
        self.count += 1
        if len(self.items) < self.limit:
            self.items.append(item)

    def __bool__(self):
        return self.count > 0

    def more(self):
        return " (and %d more)" % (self.count - len(self.items)) if self.count > len(self.items) else ""


# ---- private folders ---------------------------------------------------------------------------
def make_private_dirs(path):
    """Create ``path`` and its missing parents with mode 0700 (whatever the umask); True if created."""
    path = os.path.abspath(str(path))
    missing = []
    p = path
    while not os.path.lexists(p):
        missing.append(p)
        p = os.path.dirname(p)
    for p in reversed(missing):
        try:
            os.mkdir(p, 0o700)
        except FileExistsError:
            continue
        fd = open_dir_at(None, p)
        try:
            os.fchmod(fd, 0o700)  # a umask such as 0777 removes bits mkdir asked for
        finally:
            os.close(fd)
    return bool(missing)


# ---- walking the source -------------------------------------------------------------------------
def _walk(root_fd, excluded, skipped):
    """(relative path, name, parent descriptor, lstat) of every entry below the folder open
    as ``root_fd``, folders before their content, sorted, never following a link; entries that
    vanish or are swapped mid-way are added to ``skipped`` as (path, why)."""
    try:
        stack = [(root_fd, "", iter(sorted(os.listdir(root_fd))))]
    except OSError as e:
        skipped.add((".", "unreadable: %s" % (e.strerror or e)))
        return
    try:
        while stack:
            fd, rel, names = stack[-1]
            name = next(names, None)
            if name is None:
                stack.pop()
                if fd != root_fd:
                    os.close(fd)
                continue
            if not rel and name in excluded:
                continue
            child = "%s/%s" % (rel, name) if rel else name
            try:
                st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                skipped.add((child, "vanished before it was read"))
                continue
            yield child, name, fd, st
            if not stat.S_ISDIR(st.st_mode):
                continue
            try:
                sub = open_dir_at(fd, name)
            except OSError as e:
                skipped.add((child + "/", "folder vanished or replaced while read (%s)" % (e.strerror or e)))
                continue
            try:
                if not same_file(os.fstat(sub), st):
                    raise OSError(errno.ESTALE, "replaced while read")
                names = iter(sorted(os.listdir(sub)))
            except OSError as e:
                os.close(sub)
                skipped.add((child + "/", "folder content not read (%s)" % (e.strerror or e)))
                continue
            stack.append((sub, child, names))
    finally:
        for fd, _, _ in stack:
            if fd != root_fd:
                os.close(fd)


def source_bytes(root_fd, excluded):
    return sum(st.st_size for _, _, _, st in _walk(root_fd, set(excluded), _Capped(0)) if stat.S_ISREG(st.st_mode))


# ---- archive writing ------------------------------------------------------------------------------
_names = {}


def _owner_name(kind, ident):
    key = (kind, ident)
    if key not in _names:
        try:
            _names[key] = (pwd.getpwuid(ident).pw_name if kind == "u" else grp.getgrgid(ident).gr_name)
        except (KeyError, OverflowError):
            _names[key] = ""
    return _names[key]


def _info(name, st, kind, linkname=""):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = stat.S_IMODE(st.st_mode)
    info.uid, info.gid = st.st_uid, st.st_gid
    info.uname, info.gname = _owner_name("u", st.st_uid), _owner_name("g", st.st_gid)
    info.mtime = int(st.st_mtime)  # whole seconds, as tar does: no PAX header per member
    info.size = st.st_size if kind == tarfile.REGTYPE else 0
    info.linkname = linkname
    return info


class _TarOut:
    """A tar stream (PAX) written through gzip or a zstd process to a descriptor. Written by
    hand rather than with tarfile.TarFile, which keeps every member in a list."""

    def __init__(self, fd, compression):
        self.fd, self.pos, self.proc = fd, 0, None
        if compression == "gzip":
            self.raw = io.BufferedWriter(io.FileIO(fd, "wb", closefd=False), CHUNK)
            self.stream = gzip.GzipFile(filename="", mode="wb", compresslevel=6, fileobj=self.raw, mtime=0)
        else:
            self.err = tempfile.TemporaryFile()
            self.proc = subprocess.Popen(["zstd", "-q", "-3", "-T0", "-c"], stdin=subprocess.PIPE, stdout=fd,
                                         stderr=self.err)
            self.stream = self.proc.stdin

    def write(self, data):
        try:
            self.stream.write(data)
        except BrokenPipeError:
            self._zstd_failed()
        self.pos += len(data)

    def pad(self):
        if self.pos % tarfile.BLOCKSIZE:
            self.write(b"\0" * (tarfile.BLOCKSIZE - self.pos % tarfile.BLOCKSIZE))

    def header(self, info):
        self.write(info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape"))

    def add_bytes(self, name, data):
        info = tarfile.TarInfo(name)
        info.size, info.mode = len(data), 0o600
        self.header(info)
        self.write(data)
        self.pad()

    def close(self):
        self.write(b"\0" * (2 * tarfile.BLOCKSIZE))
        if self.pos % tarfile.RECORDSIZE:
            self.write(b"\0" * (tarfile.RECORDSIZE - self.pos % tarfile.RECORDSIZE))
        if self.proc is None:
            self.stream.close()  # does not close self.raw, which it did not open
            self.raw.flush()
        else:
            try:
                self.stream.close()
            except BrokenPipeError:
                self._zstd_failed()
            if self.proc.wait() != 0:
                self._zstd_failed()
        os.fsync(self.fd)

    def abort(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def _zstd_failed(self):
        code = self.proc.wait()
        self.err.seek(0)
        message = self.err.read().decode("utf-8", "replace").strip()
        if "No space left" in message or "quota" in message.lower():
            raise OSError(errno.ENOSPC, "No space left on device (zstd: %s)" % message[-300:])
        raise OSError(errno.EIO, "zstd failed with exit code %s: %s" % (code, message[-300:]))


def _archive_file(out, manifest, arcname, name, parent_fd, st, links, skipped):
    """Archive one regular file from the descriptor it is opened with; its size, or None when it
    was skipped or archived as a hard link to a file already archived."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=parent_fd)
    except FileNotFoundError:
        skipped.add((arcname, "vanished before it was read"))
        return None
    except OSError as e:
        skipped.add((arcname, "not read (%s)" % (e.strerror or e)))
        return None
    try:
        fst = os.fstat(fd)
        if not stat.S_ISREG(fst.st_mode):
            skipped.add((arcname, "replaced by a non-regular file while read"))
            return None
        key = (fst.st_dev, fst.st_ino)
        if fst.st_nlink > 1 and key in links:  # a second hard link to a file already archived
            out.header(_info(arcname, fst, tarfile.LNKTYPE, links[key]))
            return None
        out.header(_info(arcname, fst, tarfile.REGTYPE))
        sha, remaining, short = hashlib.sha256(), fst.st_size, False
        while remaining:
            chunk = os.read(fd, min(CHUNK, remaining))
            if not chunk:  # shrank in place while read: the header already promised st_size bytes
                short, chunk = True, b"\0" * min(CHUNK, remaining)
            sha.update(chunk)
            out.write(chunk)
            remaining -= len(chunk)
        out.pad()
        if short:
            skipped.add((arcname, "shrank while being read: archived padded with zeros, restore it from another "
                                  "copy"))
        if fst.st_nlink > 1:
            links[key] = arcname
        manifest.write(json.dumps({"path": arcname, "size": fst.st_size, "sha256": sha.hexdigest()}).encode() + b"\n")
        return fst.st_size
    finally:
        os.close(fd)


@dataclass
class Written:
    files: int = 0
    bytes: int = 0
    skipped: _Capped = field(default_factory=_Capped)


def write_archive(source_fd, arc_root, out_fd, compression, excluded=(), scope="CONFIG", spool_dir=None,
                  created="", progress=None) -> Written:
    """Archive the folder open as ``source_fd`` (its entries named under ``arc_root``) to
    the descriptor ``out_fd``: identity first, manifest last. ``progress``, if given, is called
    with the bytes of files archived so far, after each file."""
    result = Written()
    out = _TarOut(out_fd, compression)
    try:
        out.add_bytes(IDENTITY, json.dumps({"format": FORMAT, "version": 2, "scope": scope, "root": arc_root,
                                            "manifest": MANIFEST, "created": created}).encode())
        out.header(_info(arc_root, os.fstat(source_fd), tarfile.DIRTYPE))
        links = {}
        with tempfile.TemporaryFile(dir=spool_dir) as manifest:
            manifest.write(json.dumps({"format": "node-ops-manifest", "version": 2}).encode() + b"\n")
            for rel, name, parent_fd, st in _walk(source_fd, set(excluded), result.skipped):
                arcname = "%s/%s" % (arc_root, rel)
                mode = st.st_mode
                if stat.S_ISREG(mode):
                    size = _archive_file(out, manifest, arcname, name, parent_fd, st, links, result.skipped)
                    if size is not None:
                        result.files += 1
                        result.bytes += size
                        if progress is not None:
                            progress(result.bytes)
                elif stat.S_ISDIR(mode):
                    out.header(_info(arcname, st, tarfile.DIRTYPE))
                elif stat.S_ISLNK(mode):
                    try:
                        target = os.readlink(name, dir_fd=parent_fd)
                    except OSError:
                        result.skipped.add((arcname, "vanished before it was read"))
                        continue
                    out.header(_info(arcname, st, tarfile.SYMTYPE, target))
                else:
                    kind = ("socket" if stat.S_ISSOCK(mode) else "FIFO" if stat.S_ISFIFO(mode)
                            else "device file" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "special file")
                    result.skipped.add((arcname, "%s: not archived" % kind))
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mode = manifest.tell(), 0o600
            manifest.seek(0)
            out.header(info)
            for chunk in iter(lambda: manifest.read(CHUNK), b""):
                out.write(chunk)
            out.pad()
        out.close()
    except BaseException:
        out.abort()
        raise
    return result


# ---- reading archives --------------------------------------------------------------------------
_SPARSE = "a sparse member (GNU sparse format): node-ops never writes sparse members; refused"


class _BoundedInfo(tarfile.TarInfo):
    """tarfile's member header, refusing what would make reading cost more than the archive's
    real size: a PAX or GNU long-name header block over HEADER_MAX (tarfile reads it whole into
    memory) and sparse members (their claimed size is not stored, and node-ops never writes them)."""

    def _proc_member(self, tarfile_):
        if self.type == tarfile.GNUTYPE_SPARSE:
            raise tarfile.ReadError("%s is %s" % (_short(self.name), _SPARSE))
        if self.type in (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE, tarfile.GNUTYPE_LONGNAME,
                         tarfile.GNUTYPE_LONGLINK) and self.size > HEADER_MAX:
            raise tarfile.ReadError("a tar header block of %d bytes (over %d): not written by node-ops"
                                    % (self.size, HEADER_MAX))
        return super()._proc_member(tarfile_)

    def _refuse_sparse(self, *args):
        raise tarfile.ReadError("a member is %s" % _SPARSE)

    _proc_gnusparse_00 = _proc_gnusparse_01 = _proc_gnusparse_10 = _refuse_sparse

    def _apply_pax_info(self, pax_headers, encoding, errors):
        if any(key.startswith("GNU.sparse.") for key in pax_headers):
            raise tarfile.ReadError("%s is %s" % (_short(pax_headers.get("path", self.name)), _SPARSE))
        super()._apply_pax_info(pax_headers, encoding, errors)


class _Reader:
    """Members of a gzip or zstd tar stream read from a descriptor (the archive is opened
    once; :meth:`rewind` reads it again from the start). tarfile's member list is emptied
    as it goes, so memory does not grow with the number of members."""

    def __init__(self, fd, label):
        self.fd, self.label, self.tf, self.proc, self.err, self.gz = fd, label, None, None, None, None
        magic = os.pread(fd, 4, 0)
        if magic[:2] == _GZIP_MAGIC:
            self.kind = "gzip"
        elif magic == _ZSTD_MAGIC:
            if shutil.which("zstd") is None:
                raise NodeOpsError("%s is a zstd archive and this host has no zstd command" % label)
            self.kind = "zstd"
        else:
            raise NodeOpsError("%s is not a node-ops archive (neither gzip nor zstd data)" % label)
        self.rewind()

    def rewind(self):
        self.close()
        os.lseek(self.fd, 0, os.SEEK_SET)
        try:
            if self.kind == "gzip":  # GzipFile, not tarfile's "r|gz", which copies its buffer on every read
                self.gz = gzip.GzipFile(fileobj=io.BufferedReader(io.FileIO(self.fd, "rb", closefd=False), CHUNK))
                self.tf = tarfile.open(fileobj=self.gz, mode="r|", tarinfo=_BoundedInfo)
            else:
                self.err = tempfile.TemporaryFile()
                self.proc = subprocess.Popen(["zstd", "-q", "-d", "-c"], stdin=self.fd, stdout=subprocess.PIPE,
                                             stderr=self.err)
                self.tf = tarfile.open(fileobj=self.proc.stdout, mode="r|", tarinfo=_BoundedInfo)
        except _READ_ERRORS as e:
            self.close()
            raise NodeOpsError("%s is not a node-ops archive (not a readable tar archive: %s)" % (self.label, e))

    def members(self):
        while True:
            member = self.tf.next()
            del self.tf.members[:]
            if member is None:
                return
            yield member

    def data(self, member):
        return self.tf.extractfile(member)

    def close(self):
        if self.tf is not None:
            self.tf.close()
            self.tf = None
        if self.gz is not None:
            self.gz.close()
            self.gz = None
        if self.proc is not None:
            self.proc.stdout.close()
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            self.proc = None
        if self.err is not None:
            self.err.close()
            self.err = None


def _open_archive(path):
    """A read-only descriptor of the archive at ``path``, or a node-ops message."""
    try:
        fd = os.open(str(path), os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise NodeOpsError("archive %s does not exist" % path)
    except OSError as e:
        raise NodeOpsError("archive %s cannot be opened: %s" % (path, e.strerror or e))
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise NodeOpsError("archive %s is not a regular file" % path)
    return fd


def _normalise(name):
    """``name`` without ``.``, empty components and trailing slashes; None if absolute or with ``..``."""
    if name.startswith("/"):
        return None
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        return None
    return "/".join(parts)


def _kind(member):
    if member.isreg():
        return "f"
    if member.isdir():
        return "d"
    if member.issym():
        return "s"
    if member.islnk():
        return "l"
    if member.ischr() or member.isblk() or member.isfifo():
        return "x"
    return None


_KIND_WORDS = {"f": "a file", "d": "a folder", "i": "a folder", "s": "a symbolic link", "l": "a hard link",
               "x": "a device or FIFO"}


def _key(name):
    """A member name as SQLite stores it: bytes (names need not be UTF-8)."""
    return name.encode("utf-8", "surrogateescape")


def _unwritable(member):
    """Why extracting ``member`` would fail whatever the restore folder (a name component over
    NAME_MAX bytes, a link target over TARGET_MAX bytes, a NUL byte, an mtime or owner out of
    range, a sparse member), or None: so that it is refused before anything is written."""
    label = _q(member.name)
    if getattr(member, "sparse", None) is not None:
        return "%s is %s" % (label, _SPARSE)
    if "\0" in member.name or "\0" in member.linkname:
        return "%s has a NUL byte in its name or link target" % label
    for part in member.name.split("/"):
        if len(os.fsencode(part)) > NAME_MAX:
            return "%s has a name component of %d bytes (at most %d on Linux filesystems)" % (
                label, len(os.fsencode(part)), NAME_MAX)
    if member.issym() or member.islnk():
        target = os.fsencode(member.linkname)
        if not target:
            return "%s is a link with an empty target" % label
        if len(target) > TARGET_MAX:
            return "%s is a link whose target has %d bytes (at most %d)" % (label, len(target), TARGET_MAX)
        if member.islnk() and any(len(os.fsencode(p)) > NAME_MAX for p in member.linkname.split("/")):
            return "%s is a hard link to a name with a component over %d bytes" % (label, NAME_MAX)
    mtime = member.mtime
    if not isinstance(mtime, (int, float)) or mtime != mtime or not _MTIME_RANGE[0] < mtime < _MTIME_RANGE[1]:
        return "%s has an out-of-range modification time %s" % (label, _short(mtime))
    for what, ident in (("owner", member.uid), ("group", member.gid)):
        if not isinstance(ident, int) or not 0 <= ident <= _ID_MAX:
            return "%s has an out-of-range %s id %s" % (label, what, _short(ident))
    return None


class _Members:
    """The members of an archive seen so far, by normalised name, in a private temporary
    on-disk SQLite database (memory stays flat in the number of members). Checks each new
    member against them: restore's path checks and verify's content comparison."""

    def __init__(self):
        self.db = sqlite3.connect("")  # a private temporary database, deleted on close
        self.db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-4096;"
                              "CREATE TABLE m(name BLOB PRIMARY KEY, kind TEXT, size INT, sha TEXT, seen INT, hdr BLOB)"
                              " WITHOUT ROWID;")
        self.last_parent = []

    def close(self):
        self.db.close()

    def get(self, name):
        return self.db.execute("SELECT kind, size, sha, seen FROM m WHERE name=?", (_key(name),)).fetchone()

    def unseen_files(self):
        for (key,) in self.db.execute("SELECT name FROM m WHERE kind='f' AND seen=0"):
            yield key.decode("utf-8", "surrogateescape")

    def see(self, name):
        self.db.execute("UPDATE m SET seen=1 WHERE name=?", (_key(name),))

    def _ancestors(self, parts):
        common = 0
        for a, b in zip(parts, self.last_parent):
            if a != b:
                break
            common += 1
        for i in range(common + 1, len(parts) + 1):
            prefix = "/".join(parts[:i])
            row = self.get(prefix)
            if row is None:
                self.db.execute("INSERT INTO m(name, kind) VALUES (?, 'i')", (_key(prefix),))
            elif row[0] not in ("d", "i"):
                self.last_parent = []
                return "%s is below %s, which is %s in the archive" % (_q("/".join(parts)), _q(prefix),
                                                                      _KIND_WORDS[row[0]])
        self.last_parent = parts
        return None

    def add(self, member):
        """(normalised name, None) or (None, why the member is refused)."""
        why = _unwritable(member)
        if why:
            return None, why
        name = _normalise(member.name)
        if name is None:
            return None, "unsafe path %s (absolute or with '..')" % _q(member.name)
        kind = _kind(member)
        if kind is None:
            return None, "%s has an unsupported member type %r" % (_q(member.name), member.type)
        if name == "":
            return (None, None) if kind == "d" else (None, "%s names the restore folder itself" % _q(member.name))
        parts = name.split("/")
        why = self._ancestors(parts[:-1])
        if why:
            return None, why
        if kind == "l":
            target = _normalise(member.linkname)
            row = self.get(target) if target else None
            if row is None or row[0] not in ("f", "l"):
                return None, ("hard link %s points to %s, which is not a regular file earlier in the archive"
                              % (_q(member.name), _q(member.linkname)))
        row = self.get(name)
        if row is not None:
            if row[0] == "i" and kind == "d":
                self.db.execute("UPDATE m SET kind='d' WHERE name=?", (_key(name),))
                return name, None
            return None, "%s appears twice in the archive (%s, then %s)" % (_q(member.name), _KIND_WORDS[row[0]],
                                                                           _KIND_WORDS[kind])
        self.db.execute("INSERT INTO m(name, kind, seen) VALUES (?, ?, 0)", (_key(name), kind))
        return name, None

    def hashed(self, name, size, sha):
        self.db.execute("UPDATE m SET size=?, sha=? WHERE name=?", (size, sha, _key(name)))

    def record(self, name, digest):
        self.db.execute("UPDATE m SET hdr=? WHERE name=?", (digest, _key(name)))

    def recorded(self, name):
        """(header digest, size, sha256) the check pass recorded for ``name``, or None."""
        return self.db.execute("SELECT hdr, size, sha FROM m WHERE name=?", (_key(name),)).fetchone()


def _digest(index, member):
    """A digest of a member's place in the archive and of every header field a restore uses:
    the extraction pass compares it with what the check pass recorded."""
    fields = (index, member.name, member.type, member.size, member.mode, member.mtime, member.uid, member.gid,
              member.uname, member.gname, member.linkname, member.devmajor, member.devminor,
              getattr(member, "sparse", None) is not None)
    return hashlib.sha256(repr(fields).encode("utf-8", "backslashreplace")).digest()


def _skipped(index, member):
    """Whether a member is node-ops' own (identity, manifest) rather than restored content."""
    return member.isreg() and ((index == 1 and member.name == IDENTITY) or member.name in (MANIFEST, LEGACY_MANIFEST))


def _manifest_entries(spool, legacy):
    """(path, size, sha256) of each manifest entry; ValueError when it is unreadable."""
    spool.seek(0)
    if legacy:
        try:
            files = json.loads(spool.read().decode("utf-8"))["files"]
        except (KeyError, TypeError, UnicodeDecodeError) as e:
            raise ValueError("no 'files' list (%s)" % e)
        if not isinstance(files, list):
            raise ValueError("'files' is not a list")
        lines = iter(files)
    else:
        def _lines():
            number = 0
            while True:
                line = spool.readline(LINE_MAX + 1)  # never more than LINE_MAX + 1 bytes in memory
                if not line:
                    return
                number += 1
                if len(line) > LINE_MAX:
                    raise ValueError("line %d is longer than %d bytes (a node-ops manifest line is a path, a "
                                     "size and a sha256)" % (number, LINE_MAX))
                try:
                    yield json.loads(line.decode("utf-8"))
                except ValueError as e:
                    raise ValueError("line %d is not JSON (%s)" % (number, _short(str(e))))
        lines = _lines()
        header = next(lines, None)
        if not isinstance(header, dict) or header.get("format") != "node-ops-manifest":
            raise ValueError("no node-ops-manifest header line")
    for entry in lines:
        if not isinstance(entry, dict):
            raise ValueError("an entry is not an object: %s" % _short(entry))
        path, size, sha = entry.get("path"), entry.get("size"), entry.get("sha256")
        if not isinstance(path, str) or not isinstance(size, int) or isinstance(size, bool) or size < 0 \
                or not isinstance(sha, str) or not re.match(r"^[0-9a-f]{64}$", sha):
            raise ValueError("an entry lacks a path, size or sha256: %s" % _short(entry))
        yield path, size, sha


@dataclass
class Verification:
    files: int
    bytes: int
    problems: List[str]
    fatal: Optional[str] = None  # the archive could not be checked at all (not an archive, manifest unreadable)
    entries: int = 0
    refusals: List[str] = field(default_factory=list)  # members a restore refuses
    refused: int = 0
    special: List[str] = field(default_factory=list)  # devices and FIFOs a restore skips
    dropped: List[str] = field(default_factory=list)  # members whose dangerous mode bits a restore drops
    dropped_count: int = 0
    listed: List[tuple] = field(default_factory=list)  # the first SHOWN (member, normalised name)
    record: Optional["_Members"] = None  # the members as checked (restore's extraction pass compares with them)
    count: int = 0  # members read, node-ops' own included
    chain: bytes = b""  # digest of all their header digests, in order


def _scan(reader, keep=False):
    """Read the whole archive once: every member checked as restore would, every file hashed
    and compared with the manifest. ``keep``: the checked members are kept in ``record``
    (the caller closes it)."""
    members = _Members()
    try:
        result = _scan_into(reader, members)
    except BaseException:
        members.close()
        raise
    if keep:
        result.record = members
    else:
        members.close()
    return result


def _scan_into(reader, members):
    problems, refusals, special, dropped = _Capped(50), _Capped(50), _Capped(), _Capped()
    listed, chain = [], hashlib.sha256()
    total = entries = 0
    spool, legacy, index, ours = None, False, 0, False
    try:
        for member in reader.members():
            index += 1
            chain.update(_digest(index, member))
            if index == 1:  # node-ops' identity member, or the root folder of the previous format
                ours = (member.name == IDENTITY and member.isreg()) or (
                    member.isdir() and member.name in ("config", "dss_data"))
                if member.name == IDENTITY and member.isreg():
                    continue
            if member.name in (MANIFEST, LEGACY_MANIFEST) and member.isreg():
                if spool is not None:
                    problems.add("two manifests in the archive")
                    continue
                spool, legacy = tempfile.TemporaryFile(), member.name == LEGACY_MANIFEST
                shutil.copyfileobj(reader.data(member), spool, CHUNK)
                continue
            entries += 1
            name, why = members.add(member)
            if why:
                refusals.add(why)
                continue
            if name is None:
                continue
            members.record(name, _digest(index, member))
            if len(listed) < SHOWN:
                listed.append((member.name, name))
            kind = _kind(member)
            if kind == "x":
                special.add("%s (%s)" % (member.name, "FIFO" if member.isfifo() else "device file"))
            if kind in ("f", "d") and member.mode & DROPPED_BITS:
                dropped.add("%s (%04o -> %04o)" % (member.name, member.mode, member.mode & 0o777 & ~DROPPED_BITS))
            if kind == "f":
                sha, size, f = hashlib.sha256(), 0, reader.data(member)
                for chunk in iter(lambda: f.read(CHUNK), b""):
                    sha.update(chunk)
                    size += len(chunk)
                members.hashed(name, size, sha.hexdigest())
                total += size
    except _READ_ERRORS as e:
        if index <= 1:
            raise NodeOpsError("%s is not a node-ops archive (not a readable tar archive: %s)" % (reader.label, e))
        problems.add("the archive cannot be read to the end: %s" % e)
    result = Verification(0, total, [], entries=entries, refusals=refusals.items, refused=refusals.count,
                          special=special.items, dropped=dropped.items, dropped_count=dropped.count, listed=listed,
                          count=index, chain=chain.digest())
    if spool is None:
        if not ours:
            result.fatal = "%s has no node-ops manifest (%s): not a node-ops archive" % (reader.label, MANIFEST)
        else:
            problems.add("the archive ends before its manifest (%s): truncated or corrupt" % MANIFEST)
    else:
        try:
            for path, size, sha in _manifest_entries(spool, legacy):
                result.files += 1
                name = _normalise(path)
                row = members.get(name) if name else None
                label = _short(path)
                if row is None or row[0] != "f":
                    problems.add("%s: in the manifest, missing from the archive" % label)
                elif row[3]:
                    problems.add("%s: listed twice in the manifest" % label)
                elif row[1] != size:
                    problems.add("%s: content differs from the manifest (size %s, expected %d)"
                                 % (label, row[1], size))
                elif row[2] != sha:
                    problems.add("%s: content differs from the manifest (sha256 %s, expected %s; same size %d)"
                                 % (label, row[2], sha, size))
                else:
                    members.see(name)
        except ValueError as e:
            result.fatal = "%s: manifest unreadable: %s" % (reader.label, e)
        if result.fatal is None:
            for name in members.unseen_files():
                problems.add("%s: in the archive, not in the manifest" % _short(name))
        spool.close()
    for why in refusals.items:
        problems.add("a restore would refuse it: %s" % why)
    if result.fatal:
        problems.add(result.fatal)
    result.problems = problems.items + (["... %d problems in all" % problems.count] if problems.more() else [])
    return result


def verify(path) -> Verification:
    """Re-read every file of an archive and compare it with its manifest. ``fatal`` is set
    when the archive cannot be checked at all (missing, not an archive, manifest unreadable)."""
    try:
        fd = _open_archive(path)
    except NodeOpsError as e:
        return Verification(0, 0, [str(e)], fatal=str(e))
    try:
        reader = _Reader(fd, str(path))
        try:
            return _scan(reader)
        finally:
            reader.close()
    except NodeOpsError as e:
        return Verification(0, 0, [str(e)], fatal=str(e))
    finally:
        os.close(fd)


# ---- restore ---------------------------------------------------------------------------------------
class _Dirs:
    """Descriptors of the folders on the way to the member being restored, opened from the
    restore folder one component at a time with O_NOFOLLOW (missing ones created 0700)."""

    def __init__(self, root_fd):
        self.root_fd, self.chain = root_fd, []  # [(component, fd)]

    def parent(self, parts):
        keep = 0
        for (name, _), part in zip(self.chain, parts):
            if name != part:
                break
            keep += 1
        for _, fd in self.chain[keep:]:
            os.close(fd)
        del self.chain[keep:]
        for part in parts[keep:]:
            fd = self.chain[-1][1] if self.chain else self.root_fd
            try:
                os.mkdir(part, 0o700, dir_fd=fd)
            except FileExistsError:
                pass
            self.chain.append((part, open_dir_at(fd, part)))
        return self.chain[-1][1] if self.chain else self.root_fd

    def close(self):
        self.parent([])


_ids = {}


def _owner(member):
    """(uid, gid) of a member: by user and group name where this host knows them (cached)."""
    key = (member.uname, member.uid, member.gname, member.gid)
    if key not in _ids:
        uid, gid = member.uid, member.gid
        try:
            uid = pwd.getpwnam(member.uname).pw_uid if member.uname else uid
        except KeyError:
            pass
        try:
            gid = grp.getgrnam(member.gname).gr_gid if member.gname else gid
        except KeyError:
            pass
        _ids[key] = (uid, gid)
    return _ids[key]


class _Changed(Exception):
    """The extraction pass read something other than what the check pass checked."""


#: Errors of the extraction pass's reading: after a check pass that read the archive whole, the archive changed.
_REREAD_ERRORS = (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile, ValueError)


def _extract(reader, root_fd, checked, tops):
    """Second pass: write every member relative to ``root_fd``; the number of entries written.
    Every member is checked again exactly as the check pass checks it (a fresh index) and
    compared with what the check pass recorded in ``checked`` (its header digest, a file's size and
    sha256, the count and order of all members); on any difference :class:`_Changed` is
    raised. The top-level names it creates are added to ``tops`` (for removing them)."""
    dirs, links_dirs, check = _Dirs(root_fd), _Dirs(root_fd), _Members()
    as_root = os.geteuid() == 0
    # folders' modes, applied once everything is written, deepest first: a folder whose mode
    # the archive gives without r-x for its owner still lets a non-root restore reach below it
    check.db.execute("CREATE TABLE p(depth INT, name BLOB, mode INT, mtime REAL, uid INT, gid INT)")
    written, index, chain = 0, 0, hashlib.sha256()
    try:
        for member in reader.members():
            index += 1
            digest = _digest(index, member)
            chain.update(digest)
            if _skipped(index, member):
                continue
            name, why = check.add(member)
            if why:
                raise _Changed("a member the check pass did not see: %s" % why)
            if not name:
                continue
            row = checked.record.recorded(name)
            if row is None or row[0] != digest:
                raise _Changed("member %d (%s) is not the one checked" % (index, _q(member.name)))
            kind = _kind(member)
            if kind == "x":
                continue
            parts = name.split("/")
            tops.add(parts[0])
            pfd, base = dirs.parent(parts[:-1]), parts[-1]
            mode = member.mode & 0o777 & ~DROPPED_BITS
            if kind == "d":
                try:
                    os.mkdir(base, 0o700, dir_fd=pfd)
                except FileExistsError:
                    pass
                check.db.execute("INSERT INTO p VALUES (?, ?, ?, ?, ?, ?)",
                                 (len(parts), _key(name), mode, member.mtime) + tuple(_owner(member)))
            elif kind == "f":
                fd = os.open(base, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                             dir_fd=pfd)
                try:
                    src, sha, size = reader.data(member), hashlib.sha256(), 0
                    for chunk in iter(lambda: src.read(CHUNK), b""):
                        sha.update(chunk)
                        size += len(chunk)
                        view = memoryview(chunk)
                        while view:
                            view = view[os.write(fd, view):]
                    if (size, sha.hexdigest()) != (row[1], row[2]):
                        raise _Changed("%s has other content than the one checked" % _q(member.name))
                    if as_root:
                        os.fchown(fd, *_owner(member))
                    os.fchmod(fd, mode)
                    os.utime(fd, (member.mtime, member.mtime))
                finally:
                    os.close(fd)
            elif kind == "s":
                os.symlink(member.linkname, base, dir_fd=pfd)
                if as_root:
                    os.chown(base, *_owner(member), dir_fd=pfd, follow_symlinks=False)
            elif kind == "l":
                target = _normalise(member.linkname).split("/")
                src_fd = links_dirs.parent(target[:-1])
                os.link(target[-1], base, src_dir_fd=src_fd, dst_dir_fd=pfd, follow_symlinks=False)
            written += 1
        if (index, chain.digest()) != (checked.count, checked.chain):
            raise _Changed("%d members read, %d checked" % (index, checked.count) if index != checked.count
                           else "its members are not the ones checked")
        dirs.close()
        links_dirs.close()
        for key, mode, mtime, uid, gid in check.db.execute(
                "SELECT name, mode, mtime, uid, gid FROM p ORDER BY depth DESC, name"):
            parts = key.decode("utf-8", "surrogateescape").split("/")
            fd = open_dir_at(dirs.parent(parts[:-1]), parts[-1])
            try:
                if as_root:
                    os.fchown(fd, uid, gid)
                os.fchmod(fd, mode)
                os.utime(fd, (mtime, mtime))
            finally:
                os.close(fd)
    except _REREAD_ERRORS as e:
        raise _Changed("it cannot be read again: %s" % _short(str(e), 300))
    finally:
        dirs.close()
        links_dirs.close()
        check.close()
    return written


def _remove_written(root_fd, tops):
    """Remove the top-level entries this restore created under ``root_fd`` (descriptor-relative,
    never following a link); a message on what could not be removed, or None."""
    failed = []
    for top in sorted(tops):
        try:
            safedelete.remove_at(root_fd, top)
        except FileNotFoundError:
            pass
        except OSError as e:
            failed.append("%s (%s)" % (_q(top), e.strerror or e))
    return ", ".join(failed[:10]) or None


@dataclass
class Restored:
    entries: int
    listed: List[tuple]  # the first SHOWN (member, destination)
    special: List[str]
    dropped: List[str]
    dropped_count: int
    written: int = 0
    failure: Optional[str] = None


def _check_into(into):
    try:
        st = os.stat(into)
    except FileNotFoundError:
        return False
    except OSError as e:
        raise NodeOpsError("--into %s cannot be used: %s" % (into, e.strerror or e))
    if not stat.S_ISDIR(st.st_mode):
        raise NodeOpsError("--into %s is not a folder: restore into an empty (or new) folder" % into)
    try:
        if os.listdir(into):
            raise NodeOpsError("restore target %s is not empty" % into)
    except OSError as e:
        raise NodeOpsError("--into %s cannot be read: %s" % (into, e.strerror or e))
    return True


def restore(path, into, dry_run=True) -> Restored:
    """Check every member of the archive (and verify it) before writing anything; then,
    unless ``dry_run``, extract it into the empty (or new) folder ``into``."""
    into = os.path.abspath(str(into))
    _check_into(into)
    fd = _open_archive(path)
    try:
        reader, check = _Reader(fd, str(path)), None
        try:
            check = _scan(reader, keep=True)
            if check.fatal:
                raise NodeOpsError(check.fatal)
            if check.refusals:
                raise NodeOpsError("refusing to restore %s, nothing was written: %s%s" % (
                    path, check.refusals[0], " (%d members refused in all)" % check.refused if check.refused > 1
                    else ""))
            if check.problems:
                raise NodeOpsError("refusing to restore %s, nothing was written: it does not verify: %s"
                                   % (path, check.problems[0]))
            result = Restored(check.entries, [(m, os.path.join(into, n)) for m, n in check.listed], check.special,
                              check.dropped, check.dropped_count)
            if dry_run:
                return result
            _check_into(into)
            try:
                make_private_dirs(into)
                root_fd = os.open(into, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            except OSError as e:
                raise NodeOpsError("--into %s cannot be created or opened: %s" % (into, e.strerror or e))
            tops = set()
            try:
                reader.rewind()
                result.written = _extract(reader, root_fd, check, tops)
            except _Changed as e:
                left = _remove_written(root_fd, tops)
                result.failure = ("the archive changed during the restore (%s): nothing restored" % e if left is None
                                  else "the archive changed during the restore (%s): what it wrote was removed "
                                       "except %s in %s" % (e, left, into))
            except _READ_ERRORS as e:
                result.failure = "restore stopped: %s; what was written so far is in %s" % (_short(str(e), 300),
                                                                                           into)
            finally:
                os.close(root_fd)
            return result
        finally:
            if check is not None:
                check.record.close()
            reader.close()
    finally:
        os.close(fd)


# ---- which archives node-ops wrote ---------------------------------------------------------------
def archive_time(name) -> Optional[_dt.datetime]:
    m = NAME_RE.match(name)
    if not m:
        return None
    try:
        return _dt.datetime.strptime(m.group(2) + m.group(3), "%Y%m%d%H%M%S") + \
            _dt.timedelta(milliseconds=int(m.group(4)))
    except ValueError:
        return None


@dataclass
class Archive:
    name: str
    scope: str
    time: _dt.datetime
    st: os.stat_result
    legacy: bool  # written before the identity member existed


def _open_listed(dir_fd, name, st):
    """A read-only descriptor of the file ``name`` of the folder ``dir_fd``, still the one
    listed as ``st`` (never following a link), or OSError."""
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    if not same_file(os.fstat(fd), st):
        os.close(fd)
        raise OSError(errno.ESTALE, "replaced since it was listed")
    return fd


def _identify(dir_fd, name, st, deep):
    """(None if the file is a node-ops archive else why not, whether it has the previous format).
    Node-ops archives start with the identity member, those of the previous format with their
    root folder; if ``deep``, the archive is read to its manifest, which must parse whole
    (every entry a path, a size and a sha256; nothing hashed)."""
    try:
        fd = _open_listed(dir_fd, name, st)
    except OSError as e:
        return "cannot be opened: %s" % (e.strerror or e), False
    legacy = False
    try:
        reader = _Reader(fd, name)
        try:
            first = next(reader.members(), None)
            if first is not None and first.name == IDENTITY and first.isreg() and first.size < 65536:
                doc = json.loads(reader.data(first).read().decode("utf-8"))
                if not isinstance(doc, dict) or doc.get("format") != FORMAT:
                    return "its identity member is not node-ops'", False
            elif first is None or not first.isdir() or first.name not in ("config", "dss_data"):
                return "not a node-ops archive (unexpected first member)", False
            else:
                legacy = True
            if not deep:
                return None, legacy
            wanted = LEGACY_MANIFEST if legacy else MANIFEST
            for member in reader.members():
                if member.name == wanted and member.isreg():
                    with tempfile.TemporaryFile() as spool:
                        shutil.copyfileobj(reader.data(member), spool, CHUNK)
                        try:
                            for _ in _manifest_entries(spool, legacy):
                                pass
                        except ValueError as e:
                            return "manifest unreadable (%s)" % e, legacy
                    return None, legacy
            return "manifest unreadable (the archive has no %s: truncated?)" % wanted, legacy
        finally:
            reader.close()
    except (NodeOpsError, ValueError) + _READ_ERRORS as e:
        return "not a node-ops archive, or its manifest is unreadable (%s)" % _short(str(e), 300), legacy
    finally:
        os.close(fd)


def manifest_problem(dir_fd, archive):
    """None if the manifest of ``archive`` (listed in the folder open as ``dir_fd``) reads whole,
    else why not: the deep check (the whole archive is decompressed, nothing is hashed)."""
    return _identify(dir_fd, archive.name, archive.st, deep=True)[0]


def list_archives(folder, deep=True, dir_fd=None):
    """([Archive], [(name, why skipped)]) in ``folder``: the archives node-ops wrote, by exact
    name (milliseconds included), regular file (not followed), identity (or, previous format, root
    folder) and, when ``deep``, a manifest that reads whole (:func:`manifest_problem`; this reads
    every archive to its end). Anything else named like an archive is skipped with why."""
    own = dir_fd is None
    if own:
        dir_fd = os.open(str(folder), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    archives, skipped = [], []
    try:
        for name in sorted(os.listdir(dir_fd)):
            if not name.startswith("dss-backup-"):
                continue
            t = archive_time(name)
            if t is None:
                skipped.append((name, "not named as node-ops names archives "
                                      "(dss-backup-SCOPE-YYYYmmdd-HHMMSS-mmm.tar.gz or .tar.zst)"))
                continue
            try:
                st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            except FileNotFoundError:
                continue
            if not stat.S_ISREG(st.st_mode):
                what = ("a folder" if stat.S_ISDIR(st.st_mode) else "a symbolic link" if stat.S_ISLNK(st.st_mode)
                        else "not a regular file")
                skipped.append((name, "%s named like an archive" % what))
                continue
            why, legacy = _identify(dir_fd, name, st, deep)
            if why:
                skipped.append((name, why))
                continue
            archives.append(Archive(name, NAME_RE.match(name).group(1), t, st, legacy))
    finally:
        if own:
            os.close(dir_fd)
    return archives, skipped
