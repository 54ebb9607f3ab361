"""Backups end to end: round trip (archive, verify, restore, byte-identical), corruption
detected, retention on a synthetic calendar, out-of-space and inside-DIP_HOME refusals,
the live-node warning, and the configuration audit reading the archives."""

import datetime as dt
import fcntl
import hashlib
import json
import multiprocessing
import os
import random
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time

import pytest

from dssbench import cli as nodeops_cli
from dssbench import smallfs
from dssbench.archives import craft, member
from dssbench.harness import Harness
from nodeops import archives, backup
from nodeops.context import Context
from nodeops.errors import ParameterError
from nodeops.operations import get



def cli(*args):
    return nodeops_cli.run(*args, "--format", "json")


def tree(root, excluded=()):
    """{relative path: (kind, sha256 or link target)} of a folder, links not followed."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        if rel_dir == ".":
            dirnames[:] = [d for d in dirnames if d not in excluded]
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            rel = os.path.normpath(os.path.join(rel_dir, name))
            if os.path.islink(full):
                out[rel] = ("link", os.readlink(full))
            elif os.path.isdir(full):
                out[rel] = ("dir", None)
            else:
                out[rel] = ("file", hashlib.sha256(open(full, "rb").read()).hexdigest())
        dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))]
    return out


@pytest.fixture
def inst(new_instance):
    dip_home, model = new_instance()
    hard = dip_home / "config" / "projects" / "SALES_ANALYTICS" / "params-hardlink.json"
    os.link(dip_home / "config" / "projects" / "SALES_ANALYTICS" / "params.json", hard)
    return dip_home


def ctx_for(dip_home):
    return Context(dip_home=dip_home, user="admin", is_admin=True)


@pytest.mark.parametrize("scope,compression", [("DATA_DIR", "gzip"), ("CONFIG", "zstd")])
def test_round_trip_is_byte_identical(inst, tmp_path, scope, compression):
    if compression == "zstd" and not shutil.which("zstd"):
        pytest.skip("no zstd here")
    target = tmp_path / "backups"
    out = cli("backup", "--dip-home", str(inst), "--target-dir", str(target), "--scope", scope,
              "--compression", compression)
    assert out.returncode == 0, out.stderr
    (archive,) = [p for p in target.iterdir()]
    assert archives.NAME_RE.match(archive.name) and not archive.name.startswith(".")
    checked = json.loads(cli("backup-verify", "--archive", str(archive)).stdout)
    assert checked["errors"] == [] and {f["key"]: f["value"] for f in checked["summary"]}["problems"] == 0
    plan = json.loads(cli("backup-restore", "--archive", str(archive), "--into", str(tmp_path / "r")).stdout)
    assert plan["dry_run"] and not (tmp_path / "r").exists()  # the default lists only
    done = cli("backup-restore", "--archive", str(archive), "--into", str(tmp_path / "r"), "--dry-run", "false")
    assert done.returncode == 0, done.stderr
    root = "dss_data" if scope == "DATA_DIR" else "config"
    source = inst if scope == "DATA_DIR" else inst / "config"
    excluded = backup.DEFAULT_EXCLUDE if scope == "DATA_DIR" else ()
    assert tree(tmp_path / "r" / root) == tree(source, excluded)
    restored = tmp_path / "r" / root / ("config/" if scope == "DATA_DIR" else "") / "projects" / "SALES_ANALYTICS"
    assert os.stat(restored / "params.json").st_ino == os.stat(restored / "params-hardlink.json").st_ino


def test_non_utf8_names_round_trip(tmp_path):
    dip = _config_home(tmp_path, 1, 10)
    odd = os.fsencode(dip / "config" / "projects") + b"/caf\xe9-\xff.json"
    with open(odd, "wb") as f:
        f.write(b"latin-1 name")
    report = _run(dip, tmp_path / "b")
    assert report.failure is None
    (archive,) = (tmp_path / "b").iterdir()
    assert archives.verify(archive).problems == []
    archives.restore(archive, tmp_path / "r", dry_run=False)
    restored = os.fsencode(tmp_path / "r" / "config" / "projects") + b"/caf\xe9-\xff.json"
    assert open(restored, "rb").read() == b"latin-1 name"


def test_one_corrupt_byte_is_detected(inst, tmp_path):
    target = tmp_path / "backups"
    assert cli("backup", "--dip-home", str(inst), "--target-dir", str(target)).returncode == 0
    (archive,) = list(target.iterdir())
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0x01
    archive.write_bytes(bytes(data))
    out = cli("backup-verify", "--archive", str(archive))
    assert out.returncode == 1 and json.loads(out.stdout)["errors"]


def test_retention_on_a_synthetic_calendar():
    start = dt.datetime(2026, 1, 1, 1, 0)
    times = [start + dt.timedelta(days=d) for d in range(330)] + [start + dt.timedelta(days=329, hours=5)]
    kept = backup.keep(times, 7, 4, 6)
    newest = max(times)
    days = {t.date() for t in kept if (newest - t).days < 7}
    assert len(days) == 7 and newest in kept and start + dt.timedelta(days=329) not in kept  # newest of its day
    assert len({t.isocalendar()[:2] for t in kept}) >= 4 and len({(t.year, t.month) for t in kept}) == 6
    assert len(kept) <= 7 + 4 + 6
    assert backup.keep(times, 0, 0, 0) == set()


def _name(when, scope="CONFIG", ext="gz"):
    return "dss-backup-%s-%s-%03d.tar.%s" % (scope, when.strftime("%Y%m%d-%H%M%S"), when.microsecond // 1000, ext)


@pytest.fixture(scope="module")
def real_archive(tmp_path_factory):
    """The bytes of a real (small) node-ops CONFIG archive."""
    base = tmp_path_factory.mktemp("real")
    (base / "dip" / "config").mkdir(parents=True)
    (base / "dip" / "dss-version.json").write_text("{}")
    (base / "dip" / "config" / "settings.json").write_text("{}")
    op = get("backup")
    report = op.run(ctx_for(base / "dip"), op.parse({"target_dir": str(base / "b")}))
    assert report.failure is None
    (archive,) = (base / "b").iterdir()
    return archive.read_bytes()


def _copies(target, data, days, scope="CONFIG"):
    """Copies of a real archive named as written ``days`` ago (negative: in the future)."""
    target.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now()
    names = []
    for d in days:
        name = _name(now - dt.timedelta(days=d), scope)
        (target / name).write_bytes(data)
        names.append(name)
    return names


def _run(dip_home, target, clock=None, **params):
    op = get("backup")
    ctx = ctx_for(dip_home)
    if clock:
        ctx.clock = clock
    return op.run(ctx, op.parse(dict({"target_dir": str(target)}, **params)))


def _new_archive(report):
    (note,) = [n for n in report.notes if n.startswith("Archive: ")]
    return os.path.basename(note[len("Archive: "):])


def test_retention_deletes_only_node_ops_archives_after_the_new_one_verifies(inst, tmp_path, real_archive):
    target = tmp_path / "backups"
    old = _copies(target, real_archive, range(1, 40))
    _copies(target, real_archive, [1, 2], scope="DATA_DIR")  # another scope: not ranked with these
    junk = {"folder": _name(dt.datetime.now() - dt.timedelta(days=50)),
            "garbage": _name(dt.datetime.now() - dt.timedelta(days=51)),
            "no-ms": "dss-backup-CONFIG-%s.tar.gz" % (dt.datetime.now() - dt.timedelta(days=52)).strftime("%Y%m%d-%H%M%S"),
            "symlink": _name(dt.datetime.now() - dt.timedelta(days=53))}
    (target / junk["folder"]).mkdir()
    (target / junk["folder"] / "inside").write_text("kept")
    (target / junk["garbage"]).write_bytes(b"not really an archive")
    (target / junk["no-ms"]).write_bytes(real_archive)
    (tmp_path / "elsewhere.tar.gz").write_bytes(real_archive)
    os.symlink(tmp_path / "elsewhere.tar.gz", target / junk["symlink"])
    before = sorted(os.listdir(target))
    listed = _run(inst, target, keep_daily=3, keep_weekly=0, keep_monthly=0)
    assert listed.failure is None and sorted(os.listdir(target)) == sorted(before + [_new_archive(listed)])
    real = _run(inst, target, keep_daily=3, keep_weekly=0, keep_monthly=0, dry_run=False)
    assert real.failure is None, real.errors
    left = set(os.listdir(target))
    # the newest of each of the last 3 days: the new one (today), yesterday's and the day before's
    assert left - set(junk.values()) - set(before) == {_new_archive(real)} and _new_archive(listed) not in left
    assert old[0] in left and old[1] in left and not set(old[2:]) & left
    assert set(junk.values()) <= left and (target / junk["folder"] / "inside").exists()
    assert (tmp_path / "elsewhere.tar.gz").exists() and len([n for n in left if "DATA_DIR" in n]) == 2
    decisions = {r["archive"]: r["decision"] for r in real.tables[-1].rows}
    assert all(decisions[n].startswith("skipped, never deleted") for n in junk.values())
    assert "a folder named like an archive" in decisions[junk["folder"]]


def test_the_archive_just_written_is_never_deleted_even_keeping_nothing(inst, tmp_path, real_archive):
    target = tmp_path / "backups"
    _copies(target, real_archive, [1, 8, 40])
    report = _run(inst, target, keep_daily=0, keep_weekly=0, keep_monthly=0, dry_run=False)
    assert report.failure is None and os.listdir(target) == [_new_archive(report)]
    assert archives.verify(target / _new_archive(report)).problems == []


def test_future_dated_archives_are_reported_and_never_ranked_above_the_new_one(inst, tmp_path, real_archive):
    target = tmp_path / "backups"
    old = _copies(target, real_archive, [1, 2, 3])
    future = _copies(target, real_archive, [-1])
    corrupt = bytearray(real_archive)
    corrupt[len(corrupt) * 2 // 3] ^= 0xFF
    (target / _name(dt.datetime.now() + dt.timedelta(days=2))).write_bytes(bytes(corrupt))
    report = _run(inst, target, keep_daily=1, keep_weekly=0, keep_monthly=0, dry_run=False)
    assert report.failure is None, report.errors
    left = set(os.listdir(target))
    assert _new_archive(report) in left and set(future) <= left and not set(old) & left
    assert any("dated after the one just written" in n for n in report.notes)


def test_nothing_is_deleted_when_the_archive_just_written_does_not_verify(inst, tmp_path, real_archive, monkeypatch):
    target = tmp_path / "backups"
    _copies(target, real_archive, range(1, 10))
    real_verify = archives.verify

    def corrupt_then_verify(path):  # the disk flips a byte of the new archive before the gate reads it
        data = bytearray(open(path, "rb").read())
        data[len(data) // 2] ^= 0xFF
        open(path, "wb").write(bytes(data))
        return real_verify(path)

    monkeypatch.setattr(archives, "verify", corrupt_then_verify)
    report = _run(inst, target, keep_daily=2, keep_weekly=0, keep_monthly=0, dry_run=False)
    assert report.failure and "the archive just written" in report.failure and "does not verify" in report.failure
    assert len(os.listdir(target)) == 10


@pytest.fixture
def small_fs(tmp_path):
    """A 512 KiB tmpfs, unmounted after the test."""
    with smallfs.tmpfs(tmp_path / "small", size="512k", inodes=64) as mnt:
        yield mnt


def _config_home(base, files, size):
    dip = base / "dip"
    (dip / "config" / "projects").mkdir(parents=True)
    (dip / "dss-version.json").write_text("{}")
    for i in range(files):
        (dip / "config" / "projects" / ("p%04d.json" % i)).write_bytes(os.urandom(size))
    return dip


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_a_full_target_says_so_and_leaves_nothing_behind(tmp_path, small_fs, compression):
    if compression == "zstd" and not shutil.which("zstd"):
        pytest.skip("no zstd here")
    dip = _config_home(tmp_path, 500, 1000)  # 500 KB fits the space check; the archive (headers, random data) does not
    report = _run(dip, small_fs / "b", compression=compression)
    assert report.failure and "the target filesystem is full" in report.failure, report.failure
    assert os.listdir(small_fs / "b") == []


def test_not_enough_space_refuses_before_writing(tmp_path, small_fs):
    dip = _config_home(tmp_path, 10, 100_000)
    report = _run(dip, small_fs / "b")
    assert report.failure and "not enough space" in report.failure
    assert os.listdir(small_fs / "b") == []


def test_archive_and_created_folders_are_private_whatever_the_umask(inst, tmp_path):
    target = tmp_path / "new" / "deeper" / "backups"
    out = subprocess.run([sys.executable, "-m", "nodeops", "backup", "--dip-home", str(inst), "--target-dir",
                          str(target)], capture_output=True, text=True, env=nodeops_cli.env(),
                         preexec_fn=lambda: os.umask(0))
    assert out.returncode == 0, out.stderr
    for folder in (tmp_path / "new", tmp_path / "new" / "deeper", target):
        assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700, folder
    (archive,) = target.iterdir()
    assert stat.S_IMODE(os.stat(archive).st_mode) == 0o600


def test_a_symlink_planted_at_the_partial_name_is_not_followed(inst, tmp_path):
    now = dt.datetime(2026, 12, 2, 3, 4, 5, 678000).astimezone()
    target = tmp_path / "backups"
    target.mkdir()
    planted = target / (".%s.partial" % _name(now))
    os.symlink(tmp_path / "outside" / "written-by-root", planted)
    (tmp_path / "outside").mkdir()
    report = _run(inst, target, clock=lambda: now)
    assert report.failure and "not followed" in report.failure
    assert os.listdir(tmp_path / "outside") == [] and os.path.islink(planted)
    assert any("not a regular file" in n for n in report.notes)


def test_a_partial_left_by_a_killed_run_is_removed_by_the_next_run(tmp_path):
    dip = _config_home(tmp_path, 24, 4_000_000)  # about 100 MB of random data: a run takes seconds
    target = tmp_path / "b"
    proc = subprocess.Popen([sys.executable, "-m", "nodeops", "backup", "--dip-home", str(dip), "--target-dir",
                             str(target)], env=nodeops_cli.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 30
    partials = []
    while time.time() < deadline and not partials:
        partials = [n for n in (os.listdir(target) if target.exists() else []) if n.endswith(".partial")
                    and os.path.getsize(target / n) > 0]
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert partials and os.listdir(target) == partials  # killed mid-way: the partial stays behind
    for p in (dip / "config" / "projects").iterdir():
        if p.name != "p0000.json":
            p.unlink()
    report = _run(dip, target)
    assert report.failure is None
    assert any(n.startswith("removed %s" % partials[0]) for n in report.notes), report.notes
    assert [n for n in os.listdir(target) if n.endswith(".partial")] == []


def test_a_partial_being_written_by_another_run_is_left_alone(inst, tmp_path):
    target = tmp_path / "b"
    target.mkdir()
    busy = target / (".%s.partial" % _name(dt.datetime(2026, 1, 1)))
    with open(busy, "wb") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        report = _run(inst, target)
    assert report.failure is None and busy.exists()
    assert any("being written by another backup run" in n for n in report.notes)


def test_sockets_fifos_and_devices_are_skipped_and_listed(tmp_path):
    dip = _config_home(tmp_path, 2, 100)
    config = dip / "config"
    os.mkfifo(config / "a-fifo")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(config / "a-socket"))
    os.mknod(config / "a-device", stat.S_IFCHR | 0o600, os.makedev(1, 3))
    try:
        report = _run(dip, tmp_path / "b")
    finally:
        sock.close()
    assert report.failure is None, report.failure
    skipped = {r["path"]: r["why"] for r in [t for t in report.tables if t.key == "skipped"][0].rows}
    assert skipped == {"config/a-fifo": "FIFO: not archived", "config/a-socket": "socket: not archived",
                       "config/a-device": "device file: not archived"}
    (archive,) = (tmp_path / "b").iterdir()
    assert not archive.name.endswith(".partial") and archives.verify(archive).problems == []


def _churn(config, stop_at, started):
    """DSS saving its configuration: files replaced by rename (changing size), files and folders
    vanishing and coming back."""
    rng = random.Random(os.getpid())
    started.set()
    while time.time() < stop_at:
        for i in range(40):
            f = config / "churn" / ("f%02d.json" % i)
            tmp = config / "churn" / (".f%02d.json.tmp" % i)
            tmp.write_bytes(b"x" * rng.randrange(1, 60000))
            os.replace(tmp, f)
            g = config / "churn" / ("g%02d.json" % i)
            if g.exists():
                g.unlink()
            else:
                g.write_bytes(b"y" * rng.randrange(1, 5000))
            d = config / "churn" / ("d%02d" % i)
            if d.exists():
                shutil.rmtree(d, ignore_errors=True)
            else:
                d.mkdir()
                (d / "params.json").write_text("{}")


def test_a_config_backup_while_dss_saves_configuration_succeeds(tmp_path):
    dip = _config_home(tmp_path, 5, 100)
    (dip / "config" / "churn").mkdir()
    started = multiprocessing.Event()
    churner = multiprocessing.Process(target=_churn, args=(dip / "config", time.time() + 2.5, started))
    churner.start()
    try:
        started.wait(10)
        reports = []
        while churner.is_alive() and len(reports) < 60:
            reports.append(_run(dip, tmp_path / "b"))
    finally:
        churner.join(10)
    assert len(reports) >= 3 and all(r.failure is None for r in reports), [r.failure for r in reports]
    skipped = [row["why"] for r in reports for t in r.tables if t.key == "skipped" for row in t.rows]
    assert any("vanished" in why for why in skipped), skipped
    written = sorted((tmp_path / "b").iterdir())
    assert len(written) == len(reports) and all(archives.verify(a).problems == [] for a in written[:10])


def test_target_inside_dip_home_is_refused(inst, tmp_path):
    link = tmp_path / "sneaky"
    os.symlink(inst / "tmp", link)
    for target in (inst / "backups", link):
        out = cli("backup", "--dip-home", str(inst), "--target-dir", str(target))
        assert out.returncode == 2 and "is inside DIP_HOME" in out.stderr
    assert not (inst / "backups").exists()


def test_live_data_dir_backup_warns_and_the_audit_reads_the_archives(new_instance, start_sim, tmp_path):
    dip_home, model = new_instance()
    sim = start_sim(dip_home, model, dss_processes=True, start_kernels=False)
    h = Harness(sim)
    target = tmp_path / "b"
    step = h.run_step("backup", {"target_dir": str(target), "scope": "DATA_DIR"}, project_key="ADMINPROJECT")
    assert step.ok, step.stdout
    out = h.run_macro("backup", {"target_dir": str(target), "scope": "DATA_DIR"})
    assert "DSS is running" in out.result and "may be inconsistent" in out.result
    audit = json.loads(cli("config-audit", "--dip-home", str(dip_home), "--url", sim.url, "--api-key",
                           sim.api_key("admin"), "--backup-dir", str(target)).stdout)
    found = {f["id"]: f["severity"] for f in audit["findings"] if f["id"].startswith("backups.")}
    assert found == {"backups.age": "PASS", "backups.copies": "PASS"}


def test_bad_parameters(inst, tmp_path):
    op = get("backup")
    for config, message in (({}, "'target_dir' is mandatory"),
                            ({"target_dir": "relative"}, "'target_dir' must be an absolute path"),
                            ({"target_dir": str(tmp_path), "exclude": "a/b"}, "'exclude' holds top-level folder names"),
                            ({"target_dir": str(tmp_path), "scope": "ALL"}, "'scope' must be one of CONFIG, DATA_DIR")):
        with pytest.raises(ParameterError) as e:
            op.run(ctx_for(inst), op.parse(config))
        assert message in str(e.value)


def test_previous_format_archives_are_deleted_only_with_a_readable_manifest(inst, tmp_path):
    target = tmp_path / "backups"
    target.mkdir()
    now = dt.datetime.now()
    good, bad = _name(now - dt.timedelta(days=3)), _name(now - dt.timedelta(days=4))
    craft(target / good, [member("dir", "config"), member("file", "config/a", b"x")], manifest="legacy")
    craft(target / bad, [member("dir", "config"), member("file", "config/a", b"x")], manifest=None)
    listed, skipped = archives.list_archives(target)
    assert [a.name for a in listed] == [good] and [n for n, _ in skipped] == [bad]
    report = _run(inst, target, keep_daily=1, keep_weekly=0, keep_monthly=0, dry_run=False)
    assert report.failure is None and sorted(os.listdir(target)) == sorted([bad, _new_archive(report)])
    assert any(n.startswith(bad + " kept, never deleted") for n in report.notes)


def test_a_target_or_into_that_cannot_be_created_is_refused_with_a_message(inst, tmp_path):
    (tmp_path / "a-file").write_text("x")
    out = cli("backup", "--dip-home", str(inst), "--target-dir", str(tmp_path / "a-file" / "backups"))
    assert out.returncode == 2 and "'target_dir'" in out.stderr and "cannot be created" in out.stderr
    assert "Traceback" not in out.stderr
    archive = craft(tmp_path / "a.tar.gz", [member("dir", "config"), member("file", "config/a", b"x")])
    out = cli("backup-restore", "--archive", str(archive), "--into", str(tmp_path / "a-file" / "r"), "--dry-run",
              "false")
    assert out.returncode == 2 and "cannot" in out.stderr and "Traceback" not in out.stderr, out.stderr


def test_an_archive_with_the_identity_but_no_readable_manifest_is_never_deleted(inst, tmp_path):
    """Retention reads the manifest of every archive it is about to delete, just before: one
    that starts with node-ops' identity but has no manifest (truncated) or a broken one is kept."""
    target = tmp_path / "backups"
    target.mkdir()
    now = dt.datetime.now()
    none, broken, good = (_name(now - dt.timedelta(days=d)) for d in (3, 4, 5))
    craft(target / none, [member("dir", "config"), member("file", "config/a", b"x")], manifest=None, identity=True)
    craft(target / broken, [member("dir", "config")], manifest=b'{"format": "node-ops-manifest", "version": 2}\n{',
          identity=True)
    craft(target / good, [member("dir", "config"), member("file", "config/a", b"x")])
    listed, skipped = archives.list_archives(target)  # deep: the manifest read whole
    assert [a.name for a in listed] == [good] and sorted(n for n, _ in skipped) == sorted([none, broken])
    assert sorted(a.name for a in archives.list_archives(target, deep=False)[0]) == sorted([none, broken, good])
    report = _run(inst, target, keep_daily=1, keep_weekly=0, keep_monthly=0, dry_run=False)
    assert report.failure is None and sorted(os.listdir(target)) == sorted([none, broken, _new_archive(report)])
    assert any(n.startswith(none + " kept, never deleted: manifest unreadable") for n in report.notes), report.notes
    assert any(n.startswith(broken + " kept, never deleted: manifest unreadable") for n in report.notes)


# ---- what the report says (issue 15) ----------------------------------------------------------
def test_a_first_backup_through_the_macro_says_what_was_written_and_that_it_verified(new_instance, start_sim,
                                                                                      tmp_path):
    dip_home, model = new_instance()
    h = Harness(start_sim(dip_home, model))
    target = tmp_path / "backups"
    out = h.run_macro("backup", {"target_dir": str(target)})
    assert out.ok, out.traceback
    (archive,) = target.iterdir()
    html = out.result
    # the archive exists: the badge must not say nothing was changed; "dry run" is the retention's
    assert "dry run: nothing was changed" not in html
    assert ">archive written; retention: dry run, nothing deleted</span>" in html
    assert hashlib.sha256(archive.read_bytes()).hexdigest() in html  # the sha256 of the file on disk
    from nodeops.render import report_from_html

    report = report_from_html(html)
    (row,) = report.table("archive").rows
    assert row["archive"] == archive.name and row["bytes"] == archive.stat().st_size
    assert row["verified"] == "yes" and row["duration_seconds"] >= 0  # verified with nothing to delete
    assert {f.key: f.value for f in report.summary}["verified"] == "yes"
    (kept,) = report.table("retention").rows
    assert kept["rule"] == "newest, daily, weekly, monthly" and kept["bytes"] == archive.stat().st_size
    assert abs(kept["date"] - report.generated_at_ms) < 1000


def test_the_retention_table_names_the_rule_that_keeps_each_archive(inst, tmp_path, real_archive):
    target = tmp_path / "backups"
    target.mkdir()
    now = dt.datetime(2026, 12, 16, 12, 0).astimezone()  # a Wednesday
    old = []
    for when in (dt.datetime(2026, 12, 15, 12), dt.datetime(2026, 12, 8, 12), dt.datetime(2026, 11, 10, 12),
                 dt.datetime(2026, 11, 5, 12)):
        old.append(_name(when))
        (target / old[-1]).write_bytes(real_archive)
    report = _run(inst, target, clock=lambda: now, keep_daily=2, keep_weekly=2, keep_monthly=2)
    rows = {r["archive"]: r for r in report.table("retention").rows}
    assert rows[_new_archive(report)]["rule"] == "newest, daily, weekly, monthly"
    assert rows[old[0]]["rule"] == "daily" and rows[old[0]]["decision"] == "keep"  # the day before
    assert rows[old[1]]["rule"] == "weekly"  # the week before
    assert rows[old[2]]["rule"] == "monthly"  # the newest of the month before
    assert rows[old[3]]["decision"] == "would delete" and rows[old[3]]["rule"] == ""
    assert rows[old[3]]["bytes"] == len(real_archive)
    assert rows[old[2]]["date"] == int(dt.datetime(2026, 11, 10, 12).astimezone().timestamp() * 1000)
    dates = [r["date"] for r in report.table("retention").rows]
    assert dates == sorted(dates, reverse=True)  # newest first, as the rules rank them
    assert report.dry_run_label == "archive written; retention: dry run, nothing deleted"
    applied = _run(inst, target, clock=lambda: now + dt.timedelta(seconds=1), keep_daily=2, keep_weekly=2,
                   keep_monthly=2, dry_run=False)
    assert applied.dry_run_label == "archive written; retention applied"
    assert "Deleted" in [f.label for f in applied.summary]


def test_a_new_archive_that_does_not_verify_fails_even_in_a_dry_run(inst, tmp_path, monkeypatch):
    target = tmp_path / "backups"
    real_verify = archives.verify

    def corrupt_then_verify(path):
        data = bytearray(open(path, "rb").read())
        data[len(data) // 2] ^= 0xFF
        open(path, "wb").write(bytes(data))
        return real_verify(path)

    monkeypatch.setattr(archives, "verify", corrupt_then_verify)
    report = _run(inst, target)  # a dry run: before issue 15 nothing was verified here
    assert report.failure and "does not verify" in report.failure
    (row,) = report.table("archive").rows
    assert row["verified"].startswith("no: ")


def test_a_backup_that_writes_nothing_does_not_claim_an_archive(tmp_path, small_fs):
    dip = _config_home(tmp_path, 10, 100_000)
    report = _run(dip, small_fs / "b")
    assert report.failure and report.dry_run_label == "no archive written; retention not run"
