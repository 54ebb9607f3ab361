"""Backups of DIP_HOME: the backup, verify and restore operations and the
point-in-time retention. The archive format itself is :mod:`nodeops.archives`.

- An archive is ``dss-backup-<SCOPE>-YYYYmmdd-HHMMSS-mmm.tar.gz`` (or ``.tar.zst``)
  in ``target_dir``, mode 0600 (a folder node-ops creates is 0700). It is written
  as ``.<name>.partial`` (created with O_EXCL|O_NOFOLLOW and locked while being
  written) and renamed when complete, so a half-written archive never looks like
  a backup; a ``.partial`` left by a killed run is removed by the next run.
- Retention is grandfather-father-son over the archive dates (:func:`keep`): the
  newest archive of each of the last ``keep_daily`` days, ``keep_weekly`` weeks
  and ``keep_monthly`` months. Only archives node-ops wrote are candidates
  (:func:`nodeops.archives.list_archives`, also used by the audit), and each is read
  to its manifest just before it is deleted (kept and reported if that fails); the
  archive just written is always kept and always verified (read back whole against its
  manifest, dry run or not; nothing is deleted unless it verifies), and archives dated
  after it (clock skew) are kept and reported. ``dry_run`` (default) applies to the
  retention only: the archive is written either way, old ones are only listed.
- The report says what was written (name, size, sha256, duration, verified) and then
  each retention decision with the archive's date, size and the rules that keep it
  (newest, daily, weekly, monthly); its badge says "archive written; retention: dry run,
  nothing deleted" rather than "dry run: nothing was changed".
"""


import errno
import fcntl
import hashlib
import os
import shutil
import stat
import time
from pathlib import Path

from . import archives, datadir, processes, safefs
from .errors import NodeOpsError
from .params import MAX_COUNT, Param, separator
from .report import Column, Figure, Report, Table

OPERATION_ID = "backup"
VERIFY_ID = "backup-verify"
RESTORE_ID = "backup-restore"
#: Folders the DSS backup guidance says need no backup (and the optional ones).
DEFAULT_EXCLUDE = ("tmp", "caches", "data-catalog", "run", "jobs", "scenarios", "diagnosis")
OPTIONAL_EXCLUDE = ("exports", "prepared_bundles", "apinode-packages")

PARAMS = (
    separator("Archive", "What is archived, and where."),
    Param("target_dir", "STRING", "Backup folder", mandatory=True, setting="backup_dir",
          description="Absolute path of the folder receiving the archives (outside DIP_HOME)."),
    Param("scope", "SELECT", "What to back up", default="CONFIG", mandatory=True,
          choices=(("CONFIG", "config/ only (safe while DSS runs)"),
                   ("DATA_DIR", "the whole data directory, minus the exclusions")),
          description="CONFIG: config/ only, consistent while DSS runs. DATA_DIR: everything but the excluded "
                      "folders; take it while DSS is stopped (command line) or from a snapshot."),
    Param("exclude", "STRINGS", "Excluded top-level folders", default=DEFAULT_EXCLUDE,
          visible_if="model.scope == 'DATA_DIR'",
          description="Top-level folders of DIP_HOME left out. Default from the DSS backup guidance; also consider "
                      "exports, prepared_bundles, apinode-packages."),
    Param("compression", "SELECT", "Compression", default="gzip", choices=(("gzip", "gzip"), ("zstd", "zstd")),
          mandatory=True, description="gzip works everywhere; zstd is faster and needs the zstd command on the host."),
    separator("Retention", "Which older archives of the folder are kept; the others are deleted (dry run: listed)."),
    Param("keep_daily", "INT", "Daily copies kept", default=7, min=0, max=MAX_COUNT, mandatory=True,
          description="The newest archive of each of this many most recent days is kept."),
    Param("keep_weekly", "INT", "Weekly copies kept", default=4, min=0, max=MAX_COUNT, mandatory=True,
          description="The newest archive of each of this many most recent weeks is kept."),
    Param("keep_monthly", "INT", "Monthly copies kept", default=6, min=0, max=MAX_COUNT, mandatory=True,
          description="The newest archive of each of this many most recent months is kept."),
    Param("dry_run", "BOOLEAN", "Dry run (retention)", default=True,
          description="The archive is always written; old archives are only listed, not deleted."),
)
VERIFY_PARAMS = (Param("archive", "STRING", "Archive", mandatory=True, description="Path of the archive to check."),)
RESTORE_PARAMS = (
    Param("archive", "STRING", "Archive", mandatory=True, description="Path of the archive to restore."),
    Param("into", "STRING", "Restore into", mandatory=True, description="An empty (or new) folder."),
    Param("dry_run", "BOOLEAN", "Dry run", default=True, description="List what would be restored where."),
)


def keep_rules(times, daily, weekly, monthly):
    """{time: [rule]} of the archive times to keep, each with the rules that keep it
    ("daily", "weekly", "monthly"): the newest of each of the last ``daily`` days,
    ``weekly`` ISO weeks and ``monthly`` months that have an archive (GFS)."""
    kept = {}
    for rule, count, period in (("daily", daily, lambda t: t.date()),
                                ("weekly", weekly, lambda t: tuple(t.isocalendar()[:2])),
                                ("monthly", monthly, lambda t: (t.year, t.month))):
        seen = []
        for t in sorted(times, reverse=True):
            p = period(t)
            if p not in seen:
                if len(seen) >= count:
                    break
                seen.append(p)
                kept.setdefault(t, []).append(rule)
    return kept


def keep(times, daily, weekly, monthly):
    """The archive times to keep (:func:`keep_rules`)."""
    return set(keep_rules(times, daily, weekly, monthly))


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
        elif os.path.lexists(target) and not os.path.isdir(target):
            problems.append("'target_dir' %s exists and is not a folder" % target)
    for name in params.exclude:
        if "/" in name or name in (".", ".."):
            problems.append("'exclude' holds top-level folder names, not %r" % name)
    if params.compression == "zstd" and shutil.which("zstd") is None:
        problems.append("'compression' zstd needs the zstd command, which this host lacks; use gzip")
    return problems


def _fail(report, message):
    report.errors.append(message)
    report.failure = message
    return report


def _clean_partials(dir_fd, report):
    """Remove the ``.partial`` files interrupted runs left (a run still writing holds a lock on its own)."""
    for name in sorted(os.listdir(dir_fd)):
        if not archives.PARTIAL_RE.match(name):
            continue
        try:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            if not stat.S_ISREG(st.st_mode):
                report.notes.append("left alone: %s is named like a partial archive but is not a regular file" % name)
                continue
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
        except OSError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                report.notes.append("left alone: %s is being written by another backup run" % name)
                continue
            if safefs.same_file(os.fstat(fd), os.stat(name, dir_fd=dir_fd, follow_symlinks=False)):
                os.unlink(name, dir_fd=dir_fd)
                report.notes.append("removed %s, left by an interrupted backup run" % name)
        except OSError as e:
            report.notes.append("could not remove %s, left by an interrupted backup run: %s" % (name, e.strerror or e))
        finally:
            os.close(fd)


def _write(report, target, dir_fd, name, source, arc_root, excluded, params, now, progress=None):
    """Write the archive ``name``; the Written result, or None when the report says why not."""
    partial = ".%s.partial" % name
    try:
        out_fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                         dir_fd=dir_fd)
    except FileExistsError:
        _fail(report, "%s already exists in %s (not followed, not replaced): nothing was written" % (partial, target))
        return None
    except OSError as e:
        _fail(report, "cannot create %s in %s: %s" % (partial, target, "the target filesystem is full"
                                                     if safefs.is_full(e) else e.strerror or e))
        return None
    done = False
    try:
        fcntl.flock(out_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if not safefs.same_file(os.fstat(out_fd), os.stat(partial, dir_fd=dir_fd, follow_symlinks=False)):
            raise OSError(errno.ESTALE, "%s was removed or replaced by another process" % partial)
        os.fchmod(out_fd, 0o600)
        source_fd = os.open(str(source), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            written = archives.write_archive(source_fd, arc_root, out_fd, params.compression, excluded, params.scope,
                                    spool_dir=str(target), created=now.isoformat(), progress=progress)
        finally:
            os.close(source_fd)
        if os.path.lexists(os.path.join(str(target), name)):
            _fail(report, "%s already exists in %s: nothing was written" % (name, target))
            return None
        os.replace(partial, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        done = True
        os.fsync(dir_fd)
        return written
    except OSError as e:
        why = "the target filesystem is full" if safefs.is_full(e) else str(e)
        _fail(report, "backup failed, nothing was left behind: %s" % why)
        return None
    finally:
        if not done:
            try:
                if safefs.same_file(os.fstat(out_fd), os.stat(partial, dir_fd=dir_fd, follow_symlinks=False)):
                    os.unlink(partial, dir_fd=dir_fd)
            except OSError:
                pass
        os.close(out_fd)


def _source(dip_home, params):
    """(folder, name in the archive, excluded top-level names) of what ``params`` back up."""
    if params.scope == "CONFIG":
        return dip_home / "config", "config", ()
    return dip_home, "dss_data", tuple(params.exclude)


def progress_target(ctx, params):
    """(bytes of the files to archive, SIZE): a walk of the source with lstat only, as the run
    makes to check the free space; the run reports the bytes archived so far."""
    source, _, excluded = _source(ctx.require_dip_home(), params)
    fd = os.open(str(source), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        return archives.source_bytes(fd, excluded), "SIZE"
    finally:
        os.close(fd)


def _badge(written, retention):
    """What the report's dry-run badge says: the archive is written whatever ``dry_run`` says,
    which only decides the retention (``retention``: None when it was not reached)."""
    return "%s; %s" % ("archive written" if written else "no archive written",
                       "retention not run" if retention is None else retention)


def _sha256_at(dir_fd, name):
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        sha = hashlib.sha256()
        for chunk in iter(lambda: os.read(fd, archives.CHUNK), b""):
            sha.update(chunk)
        return sha.hexdigest()
    finally:
        os.close(fd)


def run(ctx, params, progress=None) -> Report:
    ctx.require_admin()
    dip_home = ctx.require_dip_home()
    now = ctx.now()
    report = Report(operation=OPERATION_ID, title="Backup of %s" % dip_home, generated_at_ms=int(now.timestamp() * 1000),
                    dry_run=params.dry_run, params=dict(params), dry_run_label=_badge(False, None))
    source, arc_root, excluded = _source(dip_home, params)
    if params.scope != "CONFIG":
        if _dss_running(dip_home):
            report.notes.append("WARNING: DSS is running: databases/ and timelines/ copied from a running node may "
                                "be inconsistent. Back up the data directory with DSS stopped (command line) or "
                                "from a filesystem snapshot.")
    target = Path(params.target_dir)
    try:
        if archives.make_private_dirs(target):
            report.notes.append("created %s (mode 0700)" % target)
        dir_fd = os.open(str(target), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as e:
        raise NodeOpsError("'target_dir' %s cannot be created or opened: %s" % (target, e.strerror or e))
    try:
        _clean_partials(dir_fd, report)
        try:
            source_fd = os.open(str(source), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as e:
            return _fail(report, "cannot read %s: %s" % (source, e.strerror or e))
        try:
            needed = archives.source_bytes(source_fd, excluded)
        finally:
            os.close(source_fd)
        free = datadir.filesystem(target).free_bytes
        if free < needed:
            return _fail(report, "not enough space in %s: %.1f GiB free, up to %.1f GiB needed; nothing was written"
                         % (target, free / 2 ** 30, needed / 2 ** 30))
        ext = "gz" if params.compression == "gzip" else "zst"
        name = "dss-backup-%s-%s-%03d.tar.%s" % (params.scope, now.strftime("%Y%m%d-%H%M%S"), now.microsecond // 1000,
                                                 ext)
        if os.path.lexists(os.path.join(str(target), name)):
            return _fail(report, "%s already exists in %s: nothing was written" % (name, target))
        started = time.monotonic()
        written = _write(report, target, dir_fd, name, source, arc_root, excluded, params, now, progress)
        if written is None:
            return report
        duration = time.monotonic() - started
        report.dry_run_label = _badge(True, None)
        size = os.stat(name, dir_fd=dir_fd).st_size
        sha256 = _sha256_at(dir_fd, name)
        check = archives.verify(os.path.join(str(target), name))  # always: the new archive is read back whole
        verified = "yes" if not check.problems else "no: %s" % check.problems[0]
        report.summary += [Figure("files", "Files archived", written.files, "count"),
                           Figure("source_bytes", "Source size", written.bytes, "bytes"),
                           Figure("archive_bytes", "Archive size", size, "bytes"),
                           Figure("duration_seconds", "Written in", round(duration, 3), "seconds"),
                           Figure("verified", "Verified", "yes" if not check.problems else "no"),
                           Figure("skipped", "Entries skipped", written.skipped.count, "count")]
        table = Table("archive", "Archive written", [
            Column("archive", "Archive"), Column("bytes", "Size", "bytes"), Column("sha256", "SHA-256"),
            Column("duration_seconds", "Written in", "seconds"), Column("verified", "Verified")])
        table.add(archive=name, bytes=size, sha256=sha256, duration_seconds=round(duration, 3), verified=verified)
        report.tables.append(table)
        report.notes.append("Archive: %s" % (target / name))
        if check.problems:
            _fail(report, "the archive just written %s does not verify: %s; nothing deleted"
                  % (name, check.problems[0]))
        if written.skipped:
            table = Table("skipped", "Skipped (not archived)", [Column("path", "Path"), Column("why", "Why")])
            for path, why in written.skipped.items:
                table.add(path=path, why=why)
            report.tables.append(table)
            report.notes.append("%d entr%s skipped (special files, or changed while read): see the table%s"
                                % (written.skipped.count, "y" if written.skipped.count == 1 else "ies",
                                   written.skipped.more()))
        _retention(report, target, dir_fd, name, params, now, verified=not check.problems)
    finally:
        os.close(dir_fd)
    return report


def _dss_running(dip_home):
    groups, _ = processes.group_processes(dip_home)
    return "backend" in groups


#: The rule that keeps the archive just written, whatever the others say.
NEWEST = "newest"


def _retention(report, target, dir_fd, new_name, params, now, verified):
    new_time = archives.archive_time(new_name)
    found, skipped = archives.list_archives(target, deep=False, dir_fd=dir_fd)
    ours = [a for a in found if a.scope == params.scope]
    future = [a for a in ours if a.time > new_time]
    ranked = [a for a in ours if a.time <= new_time and a.name != new_name]
    rules = keep_rules([a.time for a in ranked] + [new_time], params.keep_daily, params.keep_weekly,
                       params.keep_monthly)
    doomed = [a for a in ranked if a.time not in rules]
    table = Table("retention", "Retention (%s): %s" % (params.scope, "dry run, nothing deleted" if params.dry_run
                                                        else "applied"), [
        Column("archive", "Archive"), Column("date", "Date", "epoch_ms"), Column("bytes", "Size", "bytes"),
        Column("decision", "Decision"), Column("rule", "Kept by")])
    deciding = "would delete" if params.dry_run else "delete"
    for a in sorted(ours, key=lambda a: a.time, reverse=True):  # newest first, as the rules rank them
        if a.name == new_name:
            decision, rule = "keep (just written)", ", ".join([NEWEST] + rules.get(a.time, []))
        elif a in future:
            decision, rule = "keep (dated after the archive just written: check the clock)", ""
        elif a in doomed:
            decision, rule = deciding, ""
        else:
            decision, rule = "keep", ", ".join(rules[a.time])
        # archive names carry the wall-clock time of the run that wrote them, in this run's zone
        date = int(a.time.replace(tzinfo=now.tzinfo).timestamp() * 1000)
        table.add(archive=a.name, date=date, bytes=a.st.st_size, decision=decision, rule=rule)
    for name, why in skipped:
        table.add(archive=name, decision="skipped, never deleted: %s" % why)
    report.tables.append(table)
    if future:
        report.notes.append("%d archive(s) dated after the one just written (clock skew?): kept, not ranked: %s"
                            % (len(future), ", ".join(a.name for a in future[:10])))
    if skipped:
        report.notes.append("%d entr%s named like archives but not node-ops archives: skipped, never deleted"
                            % (len(skipped), "y" if len(skipped) == 1 else "ies"))
    deleted = 0
    if doomed and not params.dry_run and verified:
        for a in doomed:
            why = archives.manifest_problem(dir_fd, a)  # its manifest read whole, just before deleting it
            if why:
                report.notes.append("%s kept, never deleted: %s" % (a.name, why))
                continue
            try:
                if not safefs.same_file(os.stat(a.name, dir_fd=dir_fd, follow_symlinks=False), a.st):
                    report.notes.append("%s kept: replaced since it was checked" % a.name)
                    continue
                os.unlink(a.name, dir_fd=dir_fd)
                deleted += 1
            except OSError as e:
                report.errors.append("%s not deleted: %s" % (a.name, e.strerror or e))
    report.summary.append(Figure("deleted", "Would delete" if params.dry_run else "Deleted",
                                 len(doomed) if params.dry_run else deleted, "count"))
    report.dry_run_label = _badge(True, "retention: dry run, nothing deleted" if params.dry_run else
                                  "retention applied" if verified else "retention stopped, nothing deleted")


def run_verify(ctx, params, progress=None) -> Report:
    ctx.require_admin()
    result = archives.verify(params.archive)
    if result.fatal:
        raise NodeOpsError(result.fatal)
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
    done = archives.restore(params.archive, params.into, params.dry_run)
    table = Table("files", "Would restore" if params.dry_run else "Restored", [
        Column("member", "From the archive"), Column("destination", "To")])
    for member, dest in done.listed:
        table.add(member=member, destination=dest)
    report.tables.append(table)
    report.summary.append(Figure("entries", "Entries", done.entries, "count"))
    if done.entries > len(done.listed):
        report.notes.append("the table shows the first %d of %d entries" % (len(done.listed), done.entries))
    if done.dropped_count:
        report.notes.append("setuid/setgid/sticky or world-writable bits %s on %d entr%s: %s%s" % (
            "would be dropped" if params.dry_run else "dropped", done.dropped_count,
            "y" if done.dropped_count == 1 else "ies", ", ".join(done.dropped[:20]),
            " ..." if done.dropped_count > 20 else ""))
    if done.special:
        report.notes.append("device files and FIFOs are not restored; skipped: %s" % ", ".join(done.special[:20]))
    if done.failure:
        _fail(report, done.failure)
    return report
