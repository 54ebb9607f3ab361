"""Every file node-ops replaces (the dip.properties fix, the capacity and metrics history
files, the Prometheus textfile) against a hostile folder: real symlinks planted at the
temporary and backup names the code used to predict, a target that is itself a symlink,
real modes and owners (root chowns to other uids), a real full filesystem that makes
write() return short, and a real kill -9 halfway through a replace."""

import datetime as dt
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from dssbench import smallfs
from nodeops import audit, fixes, history, monitoring, safefs
from nodeops.report import Report

UID, GID = 12345, 23456  # owners nobody on this machine uses
NOW_MS = 1764590400000  # 2025-12-01T12:00:00Z
LIB = str(Path(__file__).resolve().parents[2] / "python-lib")


def as_root():
    if os.geteuid() != 0:
        pytest.skip("needs root to give files to other owners")


@pytest.fixture
def outside(tmp_path):
    """A file outside the folder being written: it must never change."""
    target = tmp_path / "outside" / "secret"
    target.parent.mkdir()
    target.write_text("untouched\n")
    return target


# ---- the three writers, driven through their public functions ------------------------------
def facts_for(dip_home):
    return audit.Facts(dip_home=dip_home, now_ms=NOW_MS, heaps={}, users=None, ram=0, settings=None,
                       settings_source="", dip_properties=audit._read_lines(dip_home / "config" / "dip.properties"),
                       project_keys=["P%03d" % i for i in range(audit.TIMELINES_PROJECTS)], fs=None)


def dip_fix(dip_home):
    """The audit's dip.properties fix as the audit applies it; the report."""
    report = Report(operation="config-audit", title="t", generated_at_ms=NOW_MS)
    fixes.apply(None, facts_for(dip_home), report)
    return report


class DipProperties:
    name = "dip.properties fix"

    def __init__(self, root):
        self.dip_home = root / "dss_data"
        (self.dip_home / "config").mkdir(parents=True)
        self.target = self.dip_home / "config" / "dip.properties"
        self.target.write_text("logging.level=INFO\n")

    def predictable_names(self):
        stamps = {time.strftime("%Y%m%d-%H%M%S", time.localtime(time.time() + d)) for d in range(0, 4)}
        return (["dip.properties.node-ops-tmp-%d" % os.getpid()]
                + ["dip.properties%s%s" % (fixes.BACKUP_SUFFIX, s) for s in stamps])

    def write(self):
        report = dip_fix(self.dip_home)
        if report.errors:
            raise safefs.UnsafeFile("; ".join(report.errors))

    def written(self):
        return audit.TIMELINES_LINE in self.target.read_text()


class CapacityHistory:
    name = "capacity history"

    def __init__(self, root):
        self.store = history.LocalStore(root / "history")
        self.store.directory.mkdir()
        self.target = self.store.directory / history.file_name(history.month_of(NOW_MS))
        history.append(self.store, history.Snapshot(NOW_MS - 1000, fs_size=10, fs_used=1, fs_free=9))

    def predictable_names(self):
        return [self.target.name + ".tmp"]

    def write(self):
        history.append(self.store, history.Snapshot(NOW_MS, fs_size=10, fs_used=2, fs_free=8))

    def written(self):
        return len(history.parse(self.target.read_text())) == 2


class MetricsHistory(CapacityHistory):
    name = "metrics history"

    def __init__(self, root):
        self.store = history.LocalStore(root / "metrics")
        self.store.directory.mkdir()
        day = dt.datetime.fromtimestamp(NOW_MS / 1000.0, dt.timezone.utc).strftime("%Y-%m-%d")
        self.target = self.store.directory / ("metrics-%s.csv" % day)
        monitoring.write_history([monitoring.Metric("host.cpu_percent", 1.0)], self.store, NOW_MS - 1000)

    def write(self):
        monitoring.write_history([monitoring.Metric("host.cpu_percent", 2.0)], self.store, NOW_MS)

    def written(self):
        return len(self.target.read_text().splitlines()) == 3


class PrometheusFile:
    name = "prometheus textfile"

    def __init__(self, root):
        (root / "textfile").mkdir()
        self.target = root / "textfile" / "node.prom"
        self.value = 1.0
        self.write()

    def predictable_names(self):
        return ["node.prom.%d.%d" % (os.getpid(), threading.current_thread().ident)]

    def write(self):
        self.value += 1
        monitoring.write_prometheus([monitoring.Metric("dss.projects", self.value)], str(self.target))

    def written(self):
        return "nodeops_dss_projects %s" % self.value in self.target.read_text()


WRITERS = [DipProperties, CapacityHistory, MetricsHistory, PrometheusFile]


@pytest.fixture(params=WRITERS, ids=lambda w: w.name)
def writer(request, tmp_path):
    return request.param(tmp_path)


def leftovers(folder):
    """Temporary files left behind (symlinks are the ones a test planted)."""
    return [p.name for p in folder.iterdir() if safefs.TMP_MARK in p.name and not p.is_symlink()]


def test_a_symlink_at_a_predictable_temporary_name_is_never_followed(writer, outside):
    planted = [writer.target.parent / n for n in writer.predictable_names()]
    for link in planted:
        link.symlink_to(outside)
    writer.write()
    assert outside.read_text() == "untouched\n"
    assert writer.written() and not writer.target.is_symlink() and writer.target.is_file()
    assert all(link.is_symlink() and os.readlink(link) == str(outside) for link in planted)  # left alone
    assert not leftovers(writer.target.parent)


def test_a_target_that_is_a_symlink_is_refused_not_replaced(writer, outside):
    writer.target.unlink()
    writer.target.symlink_to(outside)
    with pytest.raises(safefs.UnsafeFile, match="symbolic link"):
        writer.write()
    assert writer.target.is_symlink() and os.readlink(writer.target) == str(outside)
    assert outside.read_text() == "untouched\n"
    assert not leftovers(writer.target.parent)


def test_a_target_with_another_hard_link_is_refused_not_silently_split(writer, tmp_path):
    other = tmp_path / "other-name"
    os.link(writer.target, other)
    before = other.read_bytes()
    with pytest.raises(safefs.UnsafeFile, match="hard links"):
        writer.write()
    assert os.path.samefile(writer.target, other) and other.read_bytes() == before
    assert not leftovers(writer.target.parent)
    assert not list(writer.target.parent.glob("*" + fixes.BACKUP_SUFFIX + "*"))  # no backup copy left either


def test_mode_and_owner_are_kept(writer):
    as_root()
    os.chown(writer.target, UID, GID)
    os.chmod(writer.target, 0o640)
    writer.write()
    st = os.lstat(writer.target)
    assert writer.written() and (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (UID, GID, 0o640)


# ---- dip.properties specifics ---------------------------------------------------------------
def test_the_dated_backup_keeps_mode_and_owner_and_content(tmp_path):
    as_root()
    d = DipProperties(tmp_path)
    os.chown(d.target, UID, GID)
    os.chmod(d.target, 0o600)
    d.write()
    (backup,) = d.target.parent.glob("dip.properties" + fixes.BACKUP_SUFFIX + "*")
    st = os.lstat(backup)
    assert backup.read_text() == "logging.level=INFO\n"
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (UID, GID, 0o600)


def test_a_missing_dip_properties_is_created_for_the_owner_of_config(tmp_path):
    as_root()
    d = DipProperties(tmp_path)
    d.target.unlink()
    os.chown(d.target.parent, UID, GID)
    d.write()
    st = os.lstat(d.target)
    assert d.target.read_text() == audit.TIMELINES_LINE + "\n"
    assert (st.st_uid, st.st_gid) == (UID, GID) and stat.S_IMODE(st.st_mode) & 0o077 == 0


def test_a_symlinked_config_folder_is_refused(tmp_path, outside):
    d = DipProperties(tmp_path)
    real = tmp_path / "elsewhere"
    (d.dip_home / "config").rename(real)
    (d.dip_home / "config").symlink_to(real)
    report = dip_fix(d.dip_home)
    assert report.errors and "config" in report.errors[0] and "not a real folder" in report.errors[0]
    assert (real / "dip.properties").read_text() == "logging.level=INFO\n"
    assert [p.name for p in real.iterdir()] == ["dip.properties"]


@pytest.fixture
def tiny_fs(tmp_path):
    """A real 512 KiB tmpfs, unmounted after the test."""
    with smallfs.tmpfs(tmp_path / "tiny", size="512k", inodes=64) as mnt:
        yield mnt


def test_a_short_write_on_a_full_filesystem_never_truncates_dip_properties(tiny_fs):
    """Original and backup (2 x 200 KiB) leave about 110 KiB: write() of the new 200 KiB
    returns short, then ENOSPC. The file must stay whole, never cut at the short count."""
    (tiny_fs / "config").mkdir()
    props = tiny_fs / "config" / "dip.properties"
    original = "".join("some.setting.%06d=%s\n" % (i, "x" * 40) for i in range(200 * 1024 // 60))
    props.write_text(original)
    report = dip_fix(tiny_fs)
    assert props.read_text() == original
    assert report.errors and "No space left" in report.errors[0]
    assert not leftovers(props.parent)


# ---- the primitive itself -------------------------------------------------------------------
def test_atomic_replace_writes_everything_and_creates_with_the_given_mode(tmp_path):
    target = tmp_path / "f"
    data = os.urandom(3 * 1024 * 1024 + 17)
    old = os.umask(0o022)
    try:
        safefs.atomic_replace(str(target), data, mode=0o640)
    finally:
        os.umask(old)
    assert target.read_bytes() == data and stat.S_IMODE(os.lstat(target).st_mode) == 0o640


def test_a_special_file_is_refused(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(safefs.UnsafeFile, match="not a regular file"):
        safefs.atomic_replace(str(fifo), b"x")
    with pytest.raises(safefs.UnsafeFile, match="not a regular file"):
        safefs.read_file(str(fifo))
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_create_exclusive_never_touches_what_is_there(tmp_path, outside):
    link = tmp_path / "new"
    link.symlink_to(outside)
    with pytest.raises(FileExistsError):
        safefs.create_exclusive(str(link), b"x")
    assert outside.read_text() == "untouched\n" and link.is_symlink()


_REPLACER = """
import sys
sys.path.insert(0, %r)
from nodeops import safefs
target, a, b = sys.argv[1], b"A" * (4 << 20), b"B" * (4 << 20)
print("ready", flush=True)
while True:
    safefs.atomic_replace(target, a)
    safefs.atomic_replace(target, b)
""" % LIB


def test_kill_9_in_the_middle_of_a_replace_leaves_old_or_new_content(tmp_path):
    target = tmp_path / "f"
    target.write_bytes(b"A" * (4 << 20))
    for delay in (0.15, 0.3, 0.45):
        proc = subprocess.Popen([sys.executable, "-c", _REPLACER, str(target)], stdout=subprocess.PIPE)
        assert proc.stdout.readline().strip() == b"ready"
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        data = target.read_bytes()
        assert data in (b"A" * (4 << 20), b"B" * (4 << 20))
        for name in leftovers(tmp_path):  # a killed run may leave its temporary file, never a half target
            os.unlink(tmp_path / name)


# ---- a real race: a second process flips a folder and a symlink out of DIP_HOME ---------
_FLIPPER = """
import itertools, os, sys, time
real, target, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
aside = real + ".aside"
junk = itertools.count()


def put(make):  # whatever the other process created at ``real`` in a gap goes aside (still inside)
    while True:
        if os.path.lexists(real):
            os.rename(real, "%s.junk%d" % (real, next(junk)))
        try:
            return make()
        except OSError:
            continue


end = time.time() + seconds
flips = 0
print("flipping", flush=True)
while time.time() < end:
    os.rename(real, aside)
    put(lambda: os.symlink(target, real))
    time.sleep(0.0005)
    os.unlink(real)
    put(lambda: os.rename(aside, real))
    flips += 1
    time.sleep(0.0002)
print(flips, flush=True)
"""
RACE_SECONDS = 1.2


def _race(folder, outside, attempt):
    """Run ``attempt()`` in a loop while ``folder`` flips between itself and a symlink to ``outside``."""
    flipper = subprocess.Popen([sys.executable, "-c", _FLIPPER, str(folder), str(outside), str(RACE_SECONDS)],
                               stdout=subprocess.PIPE)
    try:
        assert flipper.stdout.readline().strip() == b"flipping"
        attempts = refused = 0
        while flipper.poll() is None:
            attempts += 1
            try:
                attempt()
            except OSError:  # the flip caught mid-way: refused (symlink) or not found, never followed
                refused += 1
        flips = int(flipper.stdout.readline() or 0)
    finally:
        flipper.wait()
        flipper.stdout.close()
    assert flipper.returncode == 0 and flips > 100, "the flipper stopped early"
    return attempts, refused


def test_config_flipped_to_a_symlink_never_makes_the_fix_write_outside(tmp_path):
    d = DipProperties(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "dip.properties").write_text("bait=1\n")
    config = d.dip_home / "config"
    real_fd = os.open(str(config), os.O_RDONLY | os.O_DIRECTORY)  # the real folder, wherever it is renamed

    def attempt():
        fd = os.open("dip.properties", os.O_WRONLY | os.O_TRUNC | os.O_NOFOLLOW, dir_fd=real_fd)
        os.write(fd, b"logging.level=INFO\n")  # undo the fix: every attempt has something to write
        os.close(fd)
        dip_fix(d.dip_home)

    try:
        attempts, _ = _race(config, outside, attempt)
    finally:
        os.close(real_fd)
    assert attempts > 20
    assert [p.name for p in outside.iterdir()] == ["dip.properties"]
    assert (outside / "dip.properties").read_text() == "bait=1\n"


def test_the_history_folder_flipped_to_a_symlink_never_leads_outside(tmp_path):
    from nodeops.context import Context

    dip_home = tmp_path / "dss_data"
    (dip_home / "local" / "node-ops" / "history").mkdir(parents=True)
    outside = tmp_path / "outside"
    (outside / "history").mkdir(parents=True)
    ctx = Context(dip_home=dip_home, history_dir=dip_home / "local" / "node-ops" / "history")
    report = Report(operation="capacity-report", title="t", generated_at_ms=NOW_MS)
    snapshots = iter(range(10 ** 6))

    def attempt():
        store = history.open_store(ctx, report, history.FOLDER_NAME, "capacity-report")
        history.append(store, history.Snapshot(NOW_MS + next(snapshots), fs_size=10, fs_used=1, fs_free=9))

    attempts, _ = _race(dip_home / "local" / "node-ops", outside, attempt)
    assert attempts > 20
    assert list((outside / "history").iterdir()) == []
