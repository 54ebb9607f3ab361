"""Backups end to end: round trip (archive, verify, restore, byte-identical), corruption
detected, retention on a synthetic calendar, out-of-space and inside-DIP_HOME refusals,
the live-node warning, and the configuration audit reading the archives."""

import dataclasses
import datetime as dt
import errno
import hashlib
import json
import os

import pytest

from dssbench import cli as nodeops_cli
from dssbench.harness import Harness
from nodeops import backup, datadir
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
    if compression == "zstd" and not backup.shutil.which("zstd"):
        pytest.skip("no zstd here")
    target = tmp_path / "backups"
    out = cli("backup", "--dip-home", str(inst), "--target-dir", str(target), "--scope", scope,
              "--compression", compression)
    assert out.returncode == 0, out.stderr
    (archive,) = [p for p in target.iterdir()]
    assert backup.NAME_RE.match(archive.name) and not archive.name.startswith(".")
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


def _fake_archives(target, days, scope="CONFIG"):
    target.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now()
    names = []
    for d in days:
        t = now - dt.timedelta(days=d)
        name = "dss-backup-%s-%s.tar.gz" % (scope, t.strftime("%Y%m%d-%H%M%S"))
        (target / name).write_bytes(b"not really an archive")
        names.append(name)
    return names


def test_retention_deletes_only_after_the_newest_archive_verifies(inst, tmp_path):
    target = tmp_path / "backups"
    old = _fake_archives(target, range(1, 40))
    listed = cli("backup", "--dip-home", str(inst), "--target-dir", str(target), "--keep-daily", "3",
                 "--keep-weekly", "0", "--keep-monthly", "0")
    assert listed.returncode == 0 and len(list(target.iterdir())) == 40  # dry run: nothing deleted
    real = cli("backup", "--dip-home", str(inst), "--target-dir", str(target), "--keep-daily", "3",
               "--keep-weekly", "0", "--keep-monthly", "0", "--dry-run", "false")
    assert real.returncode == 0, real.stdout
    left = sorted(p.name for p in target.iterdir())
    assert len(left) == 3 and old[0] in left and old[-1] not in left  # today's two archives and yesterday's


def test_nothing_is_deleted_when_the_newest_archive_does_not_verify(inst, tmp_path):
    target = tmp_path / "backups"
    _fake_archives(target, range(1, 10))
    future = dt.datetime.now() + dt.timedelta(days=1)  # newer than the one this run writes, and corrupt
    (target / ("dss-backup-CONFIG-%s.tar.gz" % future.strftime("%Y%m%d-%H%M%S"))).write_bytes(b"garbage")
    out = cli("backup", "--dip-home", str(inst), "--target-dir", str(target), "--keep-daily", "2",
              "--keep-weekly", "0", "--keep-monthly", "0", "--dry-run", "false")
    assert out.returncode == 1 and "does not verify" in out.stdout
    assert len(list(target.iterdir())) == 11


def test_target_inside_dip_home_is_refused(inst, tmp_path):
    link = tmp_path / "sneaky"
    os.symlink(inst / "tmp", link)
    for target in (inst / "backups", link):
        out = cli("backup", "--dip-home", str(inst), "--target-dir", str(target))
        assert out.returncode == 2 and "is inside DIP_HOME" in out.stderr
    assert not (inst / "backups").exists()


def test_not_enough_space_refuses_before_writing(inst, tmp_path, monkeypatch):
    real = datadir.filesystem
    monkeypatch.setattr(datadir, "filesystem", lambda p: dataclasses.replace(real(p), free_bytes=10))
    op = get("backup")
    report = op.run(ctx_for(inst), op.parse({"target_dir": str(tmp_path / "b")}))
    assert report.failure and "not enough space" in report.failure
    assert list((tmp_path / "b").iterdir()) == []


def test_space_running_out_mid_way_leaves_nothing_behind(inst, tmp_path, monkeypatch):
    real_open = backup._open_tar_writer

    def full_disk(path, compression):
        tf, close = real_open(path, compression)
        written = [0]
        real_write = tf.fileobj.write

        def write(data):
            written[0] += len(data)
            if written[0] > 20000:
                raise OSError(errno.ENOSPC, "No space left on device")
            return real_write(data)

        tf.fileobj.write = write
        return tf, close

    monkeypatch.setattr(backup, "_open_tar_writer", full_disk)
    op = get("backup")
    report = op.run(ctx_for(inst), op.parse({"target_dir": str(tmp_path / "b"), "scope": "DATA_DIR"}))
    assert report.failure and "the target filesystem is full" in report.failure
    assert list((tmp_path / "b").iterdir()) == []


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
