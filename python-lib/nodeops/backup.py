"""Backups of DIP_HOME: archives with a manifest, point-in-time retention,
verification and restore.

- An archive is ``dss-backup-<SCOPE>-YYYYmmdd-HHMMSS-mmm.tar.gz`` (or ``.tar.zst``)
  in ``target_dir``. It is written as ``.<name>.partial`` and renamed when
  complete, so a half-written archive never looks like a backup. Its last
  member, ``node-ops-manifest.json``, lists every file with its size and
  sha256, computed while the file is archived (one read per file).
- Retention is grandfather-father-son over the archive dates (:func:`keep`): the
  newest archive of each of the last ``keep_daily`` days, ``keep_weekly`` weeks
  and ``keep_monthly`` months. An archive is deleted only after the newest
  archive has been verified against its manifest; ``dry_run`` (default) lists.
- :func:`verify` re-reads an archive and checks every file against the
  manifest; :func:`restore` extracts into an empty folder (``dry_run`` lists),
  refusing absolute paths, ``..`` and links that point outside.
"""

import datetime as _dt
import errno
import hashlib
import io
import json
import os
import re
import shutil
import stat
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

from . import datadir, processes
from .errors import NodeOpsError
from .params import MAX_COUNT, Param
from .report import Column, Figure, Report, Table

OPERATION_ID = "backup"
VERIFY_ID = "backup-verify"
RESTORE_ID = "backup-restore"
MANIFEST = "node-ops-manifest.json"
NAME_RE = re.compile(r"^dss-backup-(CONFIG|DATA_DIR)-(\d{8})-(\d{6})(?:-(\d{3}))?\.tar\.(gz|zst)$")
#: Folders the DSS backup guidance says need no backup (and the optional ones).
DEFAULT_EXCLUDE = ("tmp", "caches", "data-catalog", "run", "jobs", "scenarios", "diagnosis")
OPTIONAL_EXCLUDE = ("exports", "prepared_bundles", "apinode-packages")
CHUNK = 1024 * 1024
_TRUSTED = {"filter": "fully_trusted"} if hasattr(tarfile, "fully_trusted_filter") else {}

PARAMS = (
    Param("target_dir", "STRING", "Backup folder", mandatory=True,
          description="Absolute path of the folder receiving the archives (outside DIP_HOME)."),
    Param("scope", "SELECT", "What to back up", default="CONFIG",
          choices=(("CONFIG", "config/ only (safe while DSS runs)"),
                   ("DATA_DIR", "the whole data directory, minus the exclusions")),
          description="CONFIG: config/ only, consistent while DSS runs. DATA_DIR: everything but the excluded "
                      "folders; take it while DSS is stopped (command line) or from a snapshot."),
    Param("exclude", "STRINGS", "Excluded top-level folders", default=DEFAULT_EXCLUDE,
          description="For DATA_DIR. Default from the DSS backup guidance; also consider exports, "
                      "prepared_bundles, apinode-packages."),
    Param("keep_daily", "INT", "Daily copies kept", default=7, min=0, max=MAX_COUNT),
    Param("keep_weekly", "INT", "Weekly copies kept", default=4, min=0, max=MAX_COUNT),
    Param("keep_monthly", "INT", "Monthly copies kept", default=6, min=0, max=MAX_COUNT),
    Param("compression", "SELECT", "Compression", default="gzip", choices=(("gzip", "gzip"), ("zstd", "zstd"))),
    Param("dry_run", "BOOLEAN", "Dry run (retention)", default=True,
          description="The archive is always written; old archives are only listed, not deleted."),
)
VERIFY_PARAMS = (Param("archive", "STRING", "Archive", mandatory=True, description="Path of the archive to check."),)
RESTORE_PARAMS = (
    Param("archive", "STRING", "Archive", mandatory=True),
    Param("into", "STRING", "Restore into", mandatory=True, description="An empty (or new) folder."),
    Param("dry_run", "BOOLEAN", "Dry run", default=True, description="List what would be restored where."),
)


# ---- archive writing --------------------------------------------------------------------------
class _Hashing(io.RawIOBase):
    """A reader that hashes what it reads."""

    def __init__(self, f):
        self.f, self.sha = f, hashlib.sha256()

    def readable(self):
        return True

    def readinto(self, b):
        n = self.f.readinto(b)
        if n:
            self.sha.update(memoryview(b)[:n])
        return n


def _open_tar_writer(path, compression):
    """(tarfile, closer) writing ``path``."""
    if compression == "gzip":
        tf = tarfile.open(str(path), "w:gz", compresslevel=6, format=tarfile.PAX_FORMAT)
        return tf, tf.close
    out = open(str(path), "wb")
    proc = subprocess.Popen(["zstd", "-q", "-3", "-T0", "-c"], stdin=subprocess.PIPE, stdout=out)
    tf = tarfile.open(fileobj=proc.stdin, mode="w|", format=tarfile.PAX_FORMAT)

    def close():
        tf.close()
        proc.stdin.close()
        code = proc.wait()
        out.close()
        if code != 0:
            raise OSError("zstd failed with exit code %d" % code)
    return tf, close


def _open_tar_reader(path):
    if str(path).endswith(".tar.zst"):
        proc = subprocess.Popen(["zstd", "-q", "-d", "-c", str(path)], stdout=subprocess.PIPE)
        return tarfile.open(fileobj=proc.stdout, mode="r|"), proc
    return tarfile.open(str(path), "r|gz"), None


def _walk(root, excluded):
    """(relative path, lstat) of every entry under ``root``, never following links,
    skipping the excluded top-level folders; sorted, folders before their content."""
    stack = [""]
    while stack:
        rel = stack.pop()
        try:
            names = sorted(os.listdir(os.path.join(root, rel) if rel else root), reverse=True)
        except OSError:
            continue
        for name in names:
            child = "%s/%s" % (rel, name) if rel else name
            if not rel and name in excluded:
                continue
            st = os.lstat(os.path.join(root, child))
            yield child, st
            if stat.S_ISDIR(st.st_mode):
                stack.append(child)


def write_archive(source, arc_root, path, compression, excluded=()):
    """Archive ``source`` (its entries named under ``arc_root``) to ``path``; the manifest."""
    tf, close = _open_tar_writer(path, compression)
    manifest = []
    try:
        for rel, st in _walk(source, set(excluded)):
            full = os.path.join(source, rel)
            info = tf.gettarinfo(full, arcname="%s/%s" % (arc_root, rel))
            if info.isreg():  # a second hard link to a file already archived is a link member
                with open(full, "rb") as f:
                    reader = _Hashing(f)
                    tf.addfile(info, io.BufferedReader(reader, CHUNK))
                manifest.append({"path": info.name, "size": info.size, "sha256": reader.sha.hexdigest()})
            else:
                tf.addfile(info)
        data = json.dumps({"files": manifest}, indent=1).encode("utf-8")
        info = tarfile.TarInfo(MANIFEST)
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    finally:
        close()
    return manifest


# ---- verify and restore ---------------------------------------------------------------------
@dataclass
class Verification:
    files: int
    bytes: int
    problems: List[str]


def verify(path) -> Verification:
    """Re-read every file of an archive and compare it with its manifest."""
    try:
        tf, proc = _open_tar_reader(path)
    except (tarfile.TarError, OSError, EOFError) as e:
        return Verification(0, 0, ["the archive cannot be opened: %s" % e])
    seen, problems, total = {}, [], 0
    manifest = None
    try:
        for member in tf:
            if member.name == MANIFEST:
                manifest = json.loads(tf.extractfile(member).read().decode("utf-8"))
                continue
            if member.isfile():
                sha = hashlib.sha256()
                f = tf.extractfile(member)
                size = 0
                for chunk in iter(lambda: f.read(CHUNK), b""):
                    sha.update(chunk)
                    size += len(chunk)
                seen[member.name] = (size, sha.hexdigest())
                total += size
    except (tarfile.TarError, OSError, EOFError) as e:
        problems.append("the archive cannot be read to the end: %s" % e)
    finally:
        tf.close()
        if proc is not None:
            proc.stdout.close()
            proc.wait()
    if manifest is None:
        problems.append("no manifest (%s) in the archive" % MANIFEST)
        return Verification(len(seen), total, problems)
    for entry in manifest["files"]:
        got = seen.pop(entry["path"], None)
        if got is None:
            problems.append("%s: in the manifest, missing from the archive" % entry["path"])
        elif got != (entry["size"], entry["sha256"]):
            problems.append("%s: content differs from the manifest (size %d, expected %d)"
                            % (entry["path"], got[0], entry["size"]))
    for name in sorted(seen):
        problems.append("%s: in the archive, not in the manifest" % name)
    return Verification(len(manifest["files"]), total, problems)


def _safe_member(member, into, links):
    """Why ``member`` must not be extracted, or None. Symlinks are restored as they
    were (a data directory may hold links to other disks), but nothing is ever
    written through one: a member below a symlink of the archive is refused, and so
    is a hard link to a path outside the target."""
    name = member.name
    parts = Path(name).parts
    if name.startswith("/") or ".." in parts:
        return "unsafe path %r" % name
    if any("/".join(parts[:i]) in links for i in range(1, len(parts))):
        return "%r would be written through a symbolic link" % name
    if member.islnk():
        target = os.path.normpath(os.path.join(into, member.linkname))
        if member.linkname.startswith("/") or not target.startswith(os.path.abspath(into) + os.sep):
            return "hard link %r points outside (%s)" % (name, member.linkname)
    if member.isdev():
        return "device file %r" % name
    return None


def restore(path, into, dry_run=True):
    """[(member, destination)] restored (or, in a dry run, that would be)."""
    into = os.path.abspath(into)
    if os.path.exists(into) and os.listdir(into):
        raise NodeOpsError("restore target %s is not empty" % into)
    tf, proc = _open_tar_reader(path)
    done, links = [], set()
    try:
        for member in tf:
            if member.name == MANIFEST:
                continue
            why = _safe_member(member, into, links)
            if why:
                raise NodeOpsError("refusing to restore %s: %s" % (path, why))
            if member.issym():
                links.add(member.name)
            done.append((member.name, os.path.join(into, member.name)))
            if not dry_run:
                # The checks above replace tarfile's own filters (3.12+), whose "data" filter
                # would also refuse the legitimate links of a data directory.
                tf.extract(member, into, set_attrs=True, **_TRUSTED)
    finally:
        tf.close()
        if proc is not None:
            proc.stdout.close()
            proc.wait()
    return done


# ---- retention ------------------------------------------------------------------------------
def archive_time(name) -> Optional[_dt.datetime]:
    m = NAME_RE.match(name)
    if not m:
        return None
    return _dt.datetime.strptime(m.group(2) + m.group(3), "%Y%m%d%H%M%S") + \
        _dt.timedelta(milliseconds=int(m.group(4) or 0))


def keep(times, daily, weekly, monthly):
    """The archive times to keep: the newest of each of the last ``daily`` days,
    ``weekly`` ISO weeks and ``monthly`` months that have an archive (GFS)."""
    kept = set()
    for count, period in ((daily, lambda t: t.date()), (weekly, lambda t: tuple(t.isocalendar()[:2])),
                          (monthly, lambda t: (t.year, t.month))):
        seen = []
        for t in sorted(times, reverse=True):
            p = period(t)
            if p not in seen:
                if len(seen) >= count:
                    break
                seen.append(p)
                kept.add(t)
    return kept


# ---- operations -------------------------------------------------------------------------------
def check(params, ctx):
    """The problems of the parameters (the runner checks them before anything happens)."""
    problems = []
    dip_home = ctx.dip_home if ctx is not None else None
    target = params.target_dir
    if not target or not os.path.isabs(target):
        problems.append("'target_dir' must be an absolute path, not %r" % target)
    elif dip_home is not None:
        real_target, real_home = os.path.realpath(target), os.path.realpath(str(dip_home))
        if real_target == real_home or real_target.startswith(real_home + os.sep):
            problems.append("'target_dir' %s is inside DIP_HOME %s: backups must live elsewhere" % (target, dip_home))
    for name in params.exclude:
        if "/" in name or name in (".", ".."):
            problems.append("'exclude' holds top-level folder names, not %r" % name)
    if params.compression == "zstd" and shutil.which("zstd") is None:
        problems.append("'compression' zstd needs the zstd command, which this host lacks; use gzip")
    return problems


def _source_bytes(source, excluded):
    return sum(st.st_size for _, st in _walk(source, set(excluded)) if stat.S_ISREG(st.st_mode))


def run(ctx, params, progress=None) -> Report:
    ctx.require_admin()
    dip_home = ctx.require_dip_home()
    now = ctx.now()
    report = Report(operation=OPERATION_ID, title="Backup of %s" % dip_home, generated_at_ms=int(now.timestamp() * 1000),
                    dry_run=params.dry_run, params=dict(params))
    target = Path(params.target_dir)
    target.mkdir(parents=True, exist_ok=True)
    if params.scope == "CONFIG":
        source, arc_root, excluded = dip_home / "config", "config", ()
    else:
        source, arc_root, excluded = dip_home, "dss_data", tuple(params.exclude)
        if _dss_running(dip_home):
            report.notes.append("WARNING: DSS is running: databases/ and timelines/ copied from a running node may "
                                "be inconsistent. Back up the data directory with DSS stopped (command line) or "
                                "from a filesystem snapshot.")
    needed = _source_bytes(source, excluded)
    free = datadir.filesystem(target).free_bytes
    if free < needed:
        report.errors.append("not enough space in %s: %.1f GiB free, up to %.1f GiB needed; nothing was written"
                             % (target, free / 2 ** 30, needed / 2 ** 30))
        report.failure = report.errors[-1]
        return report
    ext = "gz" if params.compression == "gzip" else "zst"
    name = "dss-backup-%s-%s-%03d.tar.%s" % (params.scope, now.strftime("%Y%m%d-%H%M%S"), now.microsecond // 1000, ext)
    if (target / name).exists():
        report.errors.append("%s already exists in %s: nothing was written" % (name, target))
        report.failure = report.errors[-1]
        return report
    partial = target / (".%s.partial" % name)
    try:
        manifest = write_archive(str(source), arc_root, partial, params.compression, excluded)
        os.replace(str(partial), str(target / name))
    except OSError as e:
        if os.path.exists(str(partial)):
            os.unlink(str(partial))
        why = "the target filesystem is full" if e.errno == errno.ENOSPC else str(e)
        report.errors.append("backup failed, nothing was left behind: %s" % why)
        report.failure = report.errors[-1]
        return report
    size = os.path.getsize(str(target / name))
    report.summary += [Figure("files", "Files archived", len(manifest), "count"),
                       Figure("source_bytes", "Source size", sum(f["size"] for f in manifest), "bytes"),
                       Figure("archive_bytes", "Archive size", size, "bytes")]
    report.notes.append("Archive: %s" % (target / name))
    _retention(report, target, params)
    return report


def _dss_running(dip_home):
    groups, _ = processes.group_processes(dip_home)
    return "backend" in groups


def _retention(report, target, params):
    archives = sorted((archive_time(p.name), p) for p in target.iterdir() if archive_time(p.name) is not None
                      and NAME_RE.match(p.name).group(1) == params.scope)
    kept = keep([t for t, _ in archives], params.keep_daily, params.keep_weekly, params.keep_monthly)
    doomed = [(t, p) for t, p in archives if t not in kept]
    table = Table("retention", "Retention (%s)" % params.scope, [
        Column("archive", "Archive"), Column("decision", "Decision")])
    for t, p in archives:
        table.add(archive=p.name, decision="keep" if t in kept else ("would delete" if params.dry_run else "delete"))
    report.tables.append(table)
    if doomed and not params.dry_run:
        newest = archives[-1][1]
        check = verify(newest)
        if check.problems:
            report.errors.append("nothing deleted: the newest archive %s does not verify: %s"
                                 % (newest.name, check.problems[0]))
            report.failure = report.errors[-1]
            return
        for _, p in doomed:
            p.unlink()
    report.summary.append(Figure("deleted", "Would delete" if params.dry_run else "Deleted", len(doomed), "count"))


def run_verify(ctx, params, progress=None) -> Report:
    ctx.require_admin()
    result = verify(params.archive)
    report = Report(operation=VERIFY_ID, title="Verify %s" % params.archive, generated_at_ms=int(ctx.now().timestamp() * 1000),
                    params=dict(params))
    report.summary += [Figure("files", "Files", result.files, "count"), Figure("bytes", "Bytes", result.bytes, "bytes"),
                       Figure("problems", "Problems", len(result.problems), "count")]
    report.errors += result.problems
    if result.problems:
        report.failure = "%s does not match its manifest: %s" % (params.archive, result.problems[0])
    return report


def run_restore(ctx, params, progress=None) -> Report:
    ctx.require_admin()
    report = Report(operation=RESTORE_ID, title="Restore %s into %s" % (params.archive, params.into),
                    generated_at_ms=int(ctx.now().timestamp() * 1000), dry_run=params.dry_run, params=dict(params))
    done = restore(params.archive, params.into, params.dry_run)
    table = Table("files", "Would restore" if params.dry_run else "Restored", [
        Column("member", "From the archive"), Column("destination", "To")])
    for member, dest in done[:500]:
        table.add(member=member, destination=dest)
    report.tables.append(table)
    report.summary.append(Figure("entries", "Entries", len(done), "count"))
    return report
