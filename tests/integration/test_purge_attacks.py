"""The purges under attack and faults (issue 13, "Purges"): a DIP_HOME whose folders
are swapped for symlinks while a purge runs, planted links where the trash and its
lock live, a full disk, an undeletable leftover, names of NAME_MAX bytes, hard
links, names that are not UTF-8. Real files, real symlinks, a real second process
flipping folders, real small filesystems mounted by the test.

The purges run in this process (the operation's one entry, ``runner.run_operation``)
against a small DIP_HOME of the test's own; the DSS simulator of the module only
answers the API calls (its projects are not those of the test's DIP_HOME, so the
test's project folders are orphans: nothing protects them, everything old goes).
"""

import contextlib
import errno
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from dssbench import cli as nodeops_cli
from dssbench import smallfs
from dssbench.dataiku_stub.dataiku.runnables import ResultTable
from nodeops import render, runner, safedelete
from nodeops.context import Context

OLD = "2020-01-01"


def old_job(i):
    return "Build_job%d_%sT00-00-%02d.000" % (i, OLD, i)


def old_run(i):
    return "%s-00-00-%02d-000" % (OLD, i)


def make_home(path):
    home = Path(path)
    home.mkdir(parents=True, exist_ok=True)
    (home / "dss-version.json").write_text('{"product_version": "14.2.1"}')
    return home


def fill(folder, files=2, size=1000):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        (folder / ("log%d.txt" % i)).write_bytes(b"x" * size)


def purge(home, client, operation="purge-job-logs", **config):
    cfg = {"retention_days": 0, "dry_run": False, "fail_on_error": False}
    if operation != "purge-exports":
        cfg["keep_last"] = 0
    cfg.update(config)
    ctx = Context(dip_home=home, client=client, user="admin", is_admin=True)
    return runner.run_operation(operation, ctx, cfg)


def figure(report, key):
    return next(f.value for f in report.summary if f.key == key)


@pytest.fixture(scope="module")
def client(sim):
    from dataikuapi import DSSClient

    return DSSClient(sim.url, sim.api_key("admin"))


def snapshot(root):
    """{relative path: content} of every file below ``root``."""
    return {str(p.relative_to(root)): p.read_bytes() for p in Path(root).rglob("*") if p.is_file()}


# ---- a real race: a second process flips a folder and a symlink ------------------
FLIPPER = textwrap.dedent("""
    import os, sys, time
    target, parked, outside, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    deadline = time.monotonic() + seconds
    flips = 0
    while time.monotonic() < deadline:
        os.rename(target, parked)
        os.symlink(outside, target)
        time.sleep(0.0005)
        os.unlink(target)
        os.rename(parked, target)
        time.sleep(0.0005)
        flips += 1
    print(flips)
""")


@pytest.mark.parametrize("level", ["family", "project", "scenario"])
def test_swapping_a_folder_for_a_symlink_mid_purge_never_leads_outside(tmp_path, client, level):
    """``scenarios``, ``scenarios/<KEY>`` or ``scenarios/<KEY>/<SCENARIO>`` flips between the
    real folder and a symlink to a look-alike outside DIP_HOME full of eligible runs,
    while purges run one after the other: the outside runs all survive."""
    home = make_home(tmp_path / "dss_data")
    inside = home / "scenarios" / "ZZ_RACE" / "SCN"
    outside = tmp_path / "outside" / "scenarios"
    for i in range(40):
        fill(inside / old_run(i), files=1)
        fill(outside / "ZZ_RACE" / "SCN" / old_run(i), files=1)
    before = snapshot(tmp_path / "outside")
    target = {"family": home / "scenarios", "project": home / "scenarios" / "ZZ_RACE",
              "scenario": inside}[level]
    decoy = outside / target.relative_to(home / "scenarios")
    flipper = subprocess.Popen([sys.executable, "-c", FLIPPER, str(target), str(target.parent / ".flipping"),
                                str(decoy), "2.0"], stdout=subprocess.PIPE, text=True)
    runs, deleted = 0, 0
    try:
        while flipper.poll() is None:
            report = purge(home, client, "purge-scenario-logs")
            runs += 1
            deleted += figure(report, "deleted")
    finally:
        flipper.wait(timeout=10)
    assert int(flipper.stdout.read()) > 100 and runs > 10
    assert snapshot(tmp_path / "outside") == before, "a purge deleted outside DIP_HOME"
    assert target.is_dir() and not target.is_symlink()
    assert deleted == 40 and not os.listdir(inside)  # what was inside went, in spite of the race


ENTRY_FLIPPER = textwrap.dedent("""
    import os, sys, time
    target, parked, outside, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    deadline = time.monotonic() + seconds
    flips = 0
    while time.monotonic() < deadline:
        try:  # the purge removes the entry under our feet: start again whenever it did
            if not os.path.lexists(target):
                os.mkdir(target)
                with open(os.path.join(target, "inside.txt"), "w") as f:
                    f.write("inside")
            os.rename(target, parked)
            os.symlink(outside, target)
            time.sleep(0.0002)
            os.unlink(target)
            os.rename(parked, target)
            time.sleep(0.0002)
            flips += 1
        except OSError:
            pass
    print(flips)
""")


def test_swapping_a_folder_inside_an_entry_mid_removal_never_leads_outside(tmp_path, client):
    """``<entry>/sub`` flips between a real folder and a symlink to a folder outside while
    the entry is removed (a leftover in the trash, as a killed run leaves it, which each
    real run removes), again and again: the outside files survive."""
    home = make_home(tmp_path / "dss_data")
    entry = home / "jobs" / safedelete.TRASH / ("left-" + old_job(1))
    outside = tmp_path / "outside"
    fill(outside, files=5)
    before = snapshot(outside)
    flipper = subprocess.Popen([sys.executable, "-c", ENTRY_FLIPPER, str(entry / "sub"), str(entry / "flipping"),
                                str(outside), "1.5"], stdout=subprocess.PIPE, text=True)
    runs = 0
    try:
        while flipper.poll() is None:
            if not entry.exists():  # never write through "sub": that may be the symlink
                fill(entry, files=100, size=10)  # files to remove between the listing and "sub"
            purge(home, client)  # errors are fine (the attacker swaps what is being removed), going outside is not
            runs += 1
    finally:
        flipper.wait(timeout=10)
    assert int(flipper.stdout.read()) > 50 and runs > 20
    assert snapshot(outside) == before, "a purge deleted outside DIP_HOME"


def test_a_symlinked_family_folder_is_refused(tmp_path, client):
    home = make_home(tmp_path / "dss_data")
    outside = tmp_path / "outside"
    for i in range(3):
        fill(outside / "ZZ" / old_job(i))
    os.symlink(outside, home / "jobs")
    for dry_run in (True, False):
        report = purge(home, client, dry_run=dry_run)
        assert "is not a real folder (symlink or file)" in report.errors[0]
    assert len(list(outside.rglob("*.txt"))) == 6 and not (outside / safedelete.TRASH).exists()


# ---- the trash and its lock --------------------------------------------------------
def test_a_planted_lock_symlink_creates_nothing_outside(tmp_path, client):
    home = make_home(tmp_path / "dss_data")
    fill(home / "jobs" / "ZZ" / old_job(1))
    trash = home / "jobs" / safedelete.TRASH
    trash.mkdir()
    planted = tmp_path / "outside" / "created-by-the-purge"
    planted.parent.mkdir()
    os.symlink(planted, trash / "lock")
    for dry_run in (True, False):
        report = purge(home, client, dry_run=dry_run)
        assert not os.path.lexists(planted)
        assert report.errors == []
    assert figure(report, "deleted") == 1
    assert safedelete.Trash(home, "jobs").leftovers() == []  # the planted link went, as a link


def test_a_trash_that_is_a_symlink_is_refused(tmp_path, client):
    home = make_home(tmp_path / "dss_data")
    fill(home / "jobs" / "ZZ" / old_job(1))
    outside = tmp_path / "outside"
    fill(outside / "keep")
    os.symlink(outside, home / "jobs" / safedelete.TRASH)
    for dry_run in (True, False):  # the dry run refuses as the real run does: its plan is the real run's
        report = purge(home, client, dry_run=dry_run)
        assert "is not a real folder (symlink or file)" in report.errors[0]
        assert figure(report, "deleted") == 0
    assert snapshot(outside) == {"keep/log0.txt": b"x" * 1000, "keep/log1.txt": b"x" * 1000}
    assert (home / "jobs" / "ZZ" / old_job(1)).is_dir()


def test_the_dry_run_counts_what_an_interrupted_run_left_in_the_trash(tmp_path, client):
    """A real run first finishes what a killed one left in the trash: the dry run's plan says so."""
    home = make_home(tmp_path / "dss_data")
    fill(home / "jobs" / "ZZ" / old_job(1), files=3, size=9000)
    fill(home / "jobs" / safedelete.TRASH / "0a1b2c3d-0-Build_left" / "activities", files=5, size=20000)
    dry = purge(home, client, dry_run=True)
    assert os.listdir(home / "jobs" / safedelete.TRASH) == ["0a1b2c3d-0-Build_left"]
    assert any("left in the trash" in n and "would be removed" in n for n in dry.notes), dry.notes
    real = purge(home, client)
    assert real.errors == [] and not os.listdir(home / "jobs" / safedelete.TRASH)
    assert figure(dry, "bytes_freed") == figure(real, "bytes_freed") > 5 * 20000


def test_the_lock_is_held_for_the_whole_family_without_a_lock_file(tmp_path, client):
    home = make_home(tmp_path / "dss_data")
    fill(home / "jobs" / "ZZ" / old_job(1))
    with safedelete.Trash(home, "jobs").acquire():
        assert "another node-ops purge of jobs is running" in purge(home, client).errors[0]
        assert "another node-ops purge of jobs is running" in purge(home, client, dry_run=True).errors[0]
    with safedelete.Trash(home, "jobs").acquire(shared=True):  # dry runs share it
        assert purge(home, client, dry_run=True).errors == []
    assert (home / "jobs" / "ZZ" / old_job(1)).is_dir()
    assert not (home / "jobs" / safedelete.TRASH).exists()


# ---- a full disk ----------------------------------------------------------------
def small_filesystem(tmp_path, kind):
    """A fresh small filesystem (1 MiB tmpfs, or a 4 MiB ext4 image without journal), 64 inodes."""
    if kind == "tmpfs":
        return smallfs.tmpfs(tmp_path / "mnt-tmpfs", size="1m", inodes=64, mode="0755")
    return smallfs.ext4(tmp_path / "mnt-ext4", tmp_path / "fs.img", size_mib=4, inodes=64, journal=False)


def fill_up(mnt, kind, what):
    """Use every free byte (``bytes``) or every free inode (``inodes``) of the filesystem
    (on tmpfs a folder takes no byte: with no byte left one can still be created)."""
    filler = mnt / "filler"
    filler.mkdir()
    if what == "bytes":
        with open(filler / "big", "wb", buffering=0) as f:
            with contextlib.suppress(OSError):
                while True:
                    f.write(b"\0" * 4096)
        for i in range(1000):  # the last fragments (small files, inline data)
            try:
                with open(filler / ("small%d" % i), "wb", buffering=0) as f:
                    f.write(b"\0" * 512)
            except OSError:
                break
    else:
        for i in range(100000):
            try:
                (filler / ("i%d" % i)).touch()
            except OSError as e:
                assert e.errno == errno.ENOSPC
                break
    st = os.statvfs(mnt)
    assert (st.f_bavail if what == "bytes" else st.f_favail) == 0
    if what == "inodes" or kind == "ext4":
        with pytest.raises(OSError) as e:
            os.mkdir(mnt / "one-more")
        assert e.value.errno == errno.ENOSPC
    return st


@pytest.mark.parametrize("kind,what", [("ext4", "bytes"), ("ext4", "inodes"), ("tmpfs", "bytes"),
                                       ("tmpfs", "inodes")])
def test_a_purge_frees_space_on_a_full_disk(tmp_path, client, kind, what):
    """First run (no trash folder yet) on a filesystem with no byte or no inode left:
    the purge creates nothing before deleting, and every old job goes."""
    with small_filesystem(tmp_path, kind) as mnt:
        home = make_home(mnt / "dss_data")
        for i in range(4):
            fill(home / "jobs" / "ZZ_FULL" / old_job(i), files=2, size=20000)
        before = fill_up(mnt, kind, what)
        report = purge(home, client)
        assert report.errors == [], report.errors
        assert figure(report, "deleted") == 4 and not list((home / "jobs" / "ZZ_FULL").iterdir())
        assert figure(report, "bytes_freed") >= 4 * 2 * 20000
        after = os.statvfs(mnt)
        assert after.f_bfree > before.f_bfree and after.f_ffree > before.f_ffree
        if kind == "ext4" or what == "inodes":  # the trash could not be created at first
            assert any("removed in place" in n for n in report.notes), report.notes


# ---- leftovers in the trash --------------------------------------------------------
def chattr(flag, *paths):
    done = subprocess.run(["chattr", flag] + [str(p) for p in paths], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip("chattr %s is not supported here: %s" % (flag, done.stderr.strip()))


def test_each_leftover_in_the_trash_is_tried_and_each_failure_reported(tmp_path, client):
    home = make_home(tmp_path / "dss_data")
    trash = home / "jobs" / safedelete.TRASH
    for name in ("a-stuck", "m-fine", "s-stuck", "z-fine"):
        fill(trash / name / "sub", files=3)
    stuck = [trash / "a-stuck" / "sub" / "log1.txt", trash / "s-stuck" / "sub" / "log1.txt"]
    chattr("+i", *stuck)
    try:
        report = purge(home, client)
        assert sorted(os.listdir(trash)) == ["a-stuck", "s-stuck"]
        for name in ("a-stuck", "s-stuck"):  # what could go inside a stuck leftover went too
            assert os.listdir(trash / name / "sub") == ["log1.txt"]
        failures = [e for e in report.errors if "left in the trash by an earlier run" in e]
        assert len(failures) == 2 and "a-stuck" in failures[0] and "s-stuck" in failures[1]
        assert figure(report, "bytes_freed") >= 2 * 3 * 1000 + 2 * 2 * 1000
    finally:
        chattr("-i", *stuck)
    again = purge(home, client)
    assert again.errors == [] and not os.listdir(trash)


# ---- names --------------------------------------------------------------------------
def test_names_of_name_max_bytes_are_purged(tmp_path, client):
    home = make_home(tmp_path / "dss_data")
    key = "K" * 255
    suffix = "_%sT00-00-00.000" % OLD
    ascii_job = "Build_" + "j" * (255 - len("Build_") - len(suffix)) + suffix
    wide_job = "Build_" + "\u00e9" * ((255 - len("Build_") - len(suffix)) // 2) + "x" + suffix  # 2 bytes a letter
    for job in (ascii_job, wide_job):
        assert len(os.fsencode(job)) == 255
        folder = home / "jobs" / key / job
        fill(folder)
        (folder / ("f" * 255)).write_text("long")
    dry = purge(home, client, dry_run=True)
    assert dry.errors == [] and figure(dry, "deleted") == 2
    report = purge(home, client)
    assert report.errors == [], report.errors
    assert figure(report, "deleted") == 2 and not os.listdir(home / "jobs" / key)
    assert figure(report, "bytes_freed") == figure(dry, "bytes_freed") > 0


def test_non_utf8_names_never_crash_a_report_and_are_shown_escaped(tmp_path, client, sim):
    home = make_home(tmp_path / "dss_data")
    jobs = os.fsencode(str(home / "jobs"))
    os.makedirs(jobs + b"/ZZ/Build_caf\xe9_2020-01-01T00-00-00.000/sub")
    os.makedirs(jobs + b"/PR\xff/Build_x_2020-01-01T00-00-00.000")
    (tmp_path / "elsewhere").mkdir()
    os.symlink(str(tmp_path / "elsewhere"), jobs + b"/LINK\xfe")  # an error message naming a non-UTF-8 path
    report = purge(home, client, dry_run=True)
    faces = {
        "text": render.to_text(report),
        "json": render.to_json(report),
        "html": render.to_html(report),
        "html file": render.write_html(report, tmp_path / "out" / "report.html").read_text(encoding="utf-8"),
        "result table": json.dumps(render.to_result_table(report, ResultTable, "entries").records,
                                   ensure_ascii=False),
        "dataframe": render.to_dataframe(report, "entries").to_csv(),
    }
    for face, text in faces.items():
        text.encode("utf-8")  # strict: what a terminal, a file or DSS needs
        if face != "text":  # the text face has no rows, only figures and errors
            assert "caf\\xe9" in text.replace("\\\\", "\\"), face
    for face in ("text", "json", "html"):
        assert "LINK\\xfe" in faces[face].replace("\\\\", "\\"), face
    rows = json.loads(faces["json"])["tables"][1]["rows"]
    assert {r["project"]: r["entry"] for r in rows}["ZZ (orphan)"] == "Build_caf\\xe9_2020-01-01T00-00-00.000"
    # the command line, printing to a strict UTF-8 standard output, in each format
    for fmt in ("text", "json", "html"):
        done = subprocess.run([sys.executable, "-m", "nodeops", "purge-job-logs", "--dip-home", str(home),
                               "--url", sim.url, "--api-key", sim.api_key("admin"), "--retention-days", "0",
                               "--keep-last", "0", "--format", fmt],
                              capture_output=True, env=nodeops_cli.env({"LC_ALL": "C.UTF-8", "PYTHONIOENCODING": "utf-8"}))
        assert done.returncode == 1 and b"Traceback" not in done.stderr, done.stderr.decode(errors="replace")
        shown = done.stdout.replace(b"\\\\", b"\\")
        assert b"LINK\\xfe" in shown and (fmt == "text" or b"caf\\xe9" in shown), fmt
    # and for real: the entries go, the report still renders
    real = purge(home, client)
    assert figure(real, "deleted") == 2
    render.to_text(real).encode("utf-8")


# ---- bytes freed -------------------------------------------------------------------
def test_bytes_freed_count_only_blocks_really_freed(tmp_path):
    """On a filesystem of its own, so that what the purge says it freed can be checked
    against what the filesystem got back: a file with another link outside the entry
    frees nothing; links within an entry, or between two deleted entries, free their
    blocks once; the dry run says the same as the real run."""
    with small_filesystem(tmp_path, "tmpfs") as mnt:
        home = make_home(mnt / "dss_data")
        exports = home / "exports"
        kept = home / "managed_folders" / "keep"
        kept.mkdir(parents=True)
        chunk = b"y" * 65536
        fill(exports / "E1_linked_from_outside", files=1)
        (exports / "E1_linked_from_outside" / "shared").write_bytes(chunk)
        os.link(exports / "E1_linked_from_outside" / "shared", kept / "shared")
        fill(exports / "E2_links_inside", files=0)
        (exports / "E2_links_inside" / "a").write_bytes(chunk)
        os.link(exports / "E2_links_inside" / "a", exports / "E2_links_inside" / "b")
        fill(exports / "E3_across", files=0)
        (exports / "E3_across" / "a").write_bytes(chunk)
        fill(exports / "E4_across", files=0)
        os.link(exports / "E3_across" / "a", exports / "E4_across" / "a")
        old = time.time() - 86400 * 400
        for e in exports.iterdir():
            os.utime(e, (old, old))
        dry = purge(home, None, "purge-exports", dry_run=True)
        before = os.statvfs(mnt)
        real = purge(home, None, "purge-exports")
        after = os.statvfs(mnt)
        assert real.errors == [] and figure(real, "deleted") == 4
        really_freed = (after.f_bfree - before.f_bfree) * after.f_frsize
        assert figure(real, "bytes_freed") == really_freed
        assert figure(dry, "bytes_freed") == really_freed
        assert really_freed == 4096 + 2 * 65536  # E1's log0 (one page), E2's a (= b), E3's a (= E4's)
        assert (kept / "shared").read_bytes() == chunk


def test_two_links_of_one_file_removed_by_two_threads_at_once_are_counted_once(tmp_path):
    """The removal threads run side by side: when two deleted entries hold the two links of
    one file, exactly one of them must see the last link go (each seeing "2 links" before
    unlinking would count nothing although the blocks come back). Many pairs, several
    rounds: the real run must always say what the dry run said."""
    chunk = os.urandom(256 * 1024)
    for round_ in range(6):
        home = make_home(tmp_path / ("r%d" % round_) / "dss_data")
        exports = home / "exports"
        for i in range(0, 120, 2):
            fill(exports / ("E%03d" % i), files=0)
            fill(exports / ("E%03d" % (i + 1)), files=0)
            (exports / ("E%03d" % i) / "data").write_bytes(chunk)
            os.link(exports / ("E%03d" % i) / "data", exports / ("E%03d" % (i + 1)) / "data")
        old = time.time() - 86400 * 400
        for e in exports.iterdir():
            os.utime(e, (old, old))
        dry = purge(home, None, "purge-exports", dry_run=True)
        real = purge(home, None, "purge-exports")
        assert real.errors == [] and figure(real, "deleted") == 120
        assert figure(real, "bytes_freed") == figure(dry, "bytes_freed"), "round %d" % round_


def test_a_filesystem_mounted_inside_an_entry_is_never_walked_into(tmp_path):
    """An old export whose subfolder is the mount point of another filesystem (an NFS share
    someone mounted there, a bind mount): the purge never walks into it. What is on DIP_HOME's
    filesystem goes; the mounted filesystem and everything on it stay (parked with the rest of
    the entry in the trash, where every later run reports it); the dry run does not count the
    mounted files."""
    home = make_home(tmp_path / "dss_data")
    exports = home / "exports"
    fill(exports / "E1_with_a_mount", files=2)
    mnt = exports / "E1_with_a_mount" / "share"
    mnt.mkdir()
    with smallfs.tmpfs(mnt, size="1m", inodes=64, mode="0755"):
        mounted = os.stat(mnt).st_dev
        (mnt / "precious.csv").write_bytes(b"z" * 100000)
        (mnt / "sub").mkdir()
        (mnt / "sub" / "more.csv").write_bytes(b"z" * 100000)
        old = time.time() - 86400 * 400
        os.utime(exports / "E1_with_a_mount", (old, old))
        dry = purge(home, None, "purge-exports", dry_run=True)
        assert 0 < figure(dry, "bytes_freed") < 100000, "the mounted files were counted"
        real = purge(home, None, "purge-exports")
        (moved,) = [Path(p) for p in (home / "exports" / safedelete.TRASH).glob("*/share")]
        try:
            assert os.stat(moved).st_dev == mounted
            assert (moved / "precious.csv").stat().st_size == 100000
            assert (moved / "sub" / "more.csv").stat().st_size == 100000
            assert any("another filesystem is mounted here" in e for e in real.errors), real.errors
            assert not list(moved.parent.glob("log*"))  # the rest went
            again = purge(home, None, "purge-exports")  # the next run tries again, and says why
            assert any("another filesystem is mounted here" in e for e in again.errors), again.errors
            assert (moved / "precious.csv").is_file()
        finally:
            subprocess.run(["umount", "-l", str(moved)], check=False, capture_output=True)
