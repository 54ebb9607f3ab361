"""clear-caches (command line only): tmp/ and caches/ of a stopped DSS emptied, through the real
``python -m nodeops`` on a DATA_DIR from the bench builder, with real processes carrying the
command lines of a running DSS (tests/dssbench/simulator/dssprocs.py)."""

import json
import os
import stat

import pytest

from dssbench import cli as nodeops_cli
from dssbench import smallfs
from dssbench.simulator import dssprocs, guesses

FOLDERS = ("tmp", "caches")


def clear(dip_home, *args):
    return nodeops_cli.run("clear-caches", "--dip-home", dip_home, "--format", "json", *args)


def report_of(out):
    assert "Traceback" not in out.stderr, out.stderr
    return json.loads(out.stdout)


def figure(report, key):
    return next(f["value"] for f in report["summary"] if f["key"] == key)


def rows(report, key):
    return next(t for t in report["tables"] if t["key"] == key)["rows"]


def snapshot(root):
    """Every path under ``root`` (links not followed) with its type, size and inode."""
    out = {}
    for top, dirs, files in os.walk(str(root)):
        for name in dirs + files:
            path = os.path.join(top, name)
            st = os.lstat(path)
            out[os.path.relpath(path, str(root))] = (stat.S_IFMT(st.st_mode), st.st_size, st.st_ino)
    return out


def allocated(dip_home, folders=FOLDERS):
    """What removing the contents of ``folders`` gives back, measured independently: the allocated
    blocks of every entry below them (folders included), a multiply-linked file only when all its
    links are below them, once."""
    total, links = 0, {}
    for folder in folders:
        for top, dirs, files in os.walk(str(dip_home / folder)):
            for name in dirs + files:
                st = os.lstat(os.path.join(top, name))
                if stat.S_ISDIR(st.st_mode) or st.st_nlink == 1:
                    total += st.st_blocks * 512
                else:
                    seen = links.get((st.st_dev, st.st_ino), 0) + 1
                    links[(st.st_dev, st.st_ino)] = seen
                    if seen == st.st_nlink:
                        total += st.st_blocks * 512
    return total


def add_content(dip_home, outside):
    """Content of the kinds tmp/ and caches/ hold, and traps: links out, hard links."""
    tmp, caches = dip_home / "tmp", dip_home / "caches"
    deep = tmp / "upload-1" / "a" / "b"
    deep.mkdir(parents=True)
    (deep / "part-0.csv").write_bytes(os.urandom(70000))
    (tmp / "upload-1" / "meta.json").write_text("{}")
    (tmp / "caf\xe9.tmp").write_bytes(b"x" * 5000)  # a name that is valid UTF-8
    os.mkdir(bytes(tmp) + b"/bad-\xff-name")  # and one that is not
    (caches / "dataset-previews" / "P1").mkdir(parents=True)
    (caches / "dataset-previews" / "P1" / "sample.bin").write_bytes(os.urandom(130000))
    # a symbolic link in tmp/ to a folder outside DIP_HOME, one to a file of DIP_HOME, a dangling one
    outside.mkdir()
    (outside / "precious.txt").write_text("keep me")
    os.symlink(str(outside), str(tmp / "link-out"))
    os.symlink(str(dip_home / "dss-version.json"), str(caches / "link-version"))
    os.symlink("/nonexistent/target", str(tmp / "dangling"))
    # hard links: between tmp/ and caches/ (freed once), and to a file kept outside them (frees nothing)
    (tmp / "shared.bin").write_bytes(os.urandom(40000))
    os.link(str(tmp / "shared.bin"), str(caches / "shared-too.bin"))
    kept = dip_home / "managed_folders" / "kept.bin"
    kept.parent.mkdir(parents=True, exist_ok=True)
    kept.write_bytes(os.urandom(50000))
    os.link(str(kept), str(tmp / "linked-to-kept.bin"))
    os.chmod(str(tmp), 0o750)
    os.chmod(str(caches), 0o710)
    return kept


def backend_layout(dip_home, role="backend"):
    spec = next(s for s in guesses.dss_process_layout(str(dip_home)) if s["role"] == role)
    return [dict(spec, mb=1, children=[])]


@pytest.fixture
def home(new_instance, tmp_path):
    dip_home, _ = new_instance()
    for folder in FOLDERS:  # the builder made both, with content
        assert os.listdir(str(dip_home / folder)), folder
    kept = add_content(dip_home, tmp_path / "outside")
    return dip_home, kept, tmp_path / "outside"


def test_dry_run_plans_and_the_real_run_empties_the_contents_keeping_the_folders(home):
    dip_home, kept, outside = home
    before = snapshot(dip_home)
    modes = {f: os.lstat(str(dip_home / f)) for f in FOLDERS}
    expected = allocated(dip_home)
    expected_entries = sum(len(os.listdir(str(dip_home / f))) for f in FOLDERS)
    kept_bytes = kept.read_bytes()

    dry = clear(dip_home)  # --dry-run defaults to true
    assert dry.returncode == 0, dry.stderr
    plan = report_of(dry)
    assert plan["dry_run"] is True and snapshot(dip_home) == before  # nothing deleted
    assert figure(plan, "entries") == expected_entries and figure(plan, "bytes_freed") == expected
    listed = {(r["folder"], r["entry"]): r for r in rows(plan, "entries")}
    assert listed[("tmp", "link-out")]["kind"] == "symbolic link" and listed[("tmp", "upload-1")]["kind"] == "folder"
    assert ("tmp", "bad-\\xff-name") in listed  # a name that is not UTF-8 is shown escaped
    checks = {r["check"]: r["result"] for r in rows(plan, "checks")}
    assert checks["DSS processes of this DIP_HOME (before)"].startswith("none found among the ")
    assert "%s/" % dip_home in checks["DSS processes of this DIP_HOME (before)"]
    assert "mode 0750" in checks["tmp/"] and "mode 0710" in checks["caches/"]
    assert "neither --tmp nor --caches given: both folders" in plan["notes"]

    real = clear(dip_home, "--dry-run", "false")
    assert real.returncode == 0, real.stderr
    done = report_of(real)
    assert done["dry_run"] is False and done["errors"] == []
    for folder in FOLDERS:  # contents gone, the folders kept with their mode and owner
        assert os.listdir(str(dip_home / folder)) == [], folder
        st = os.lstat(str(dip_home / folder))
        assert stat.S_ISDIR(st.st_mode)
        assert (st.st_mode, st.st_uid, st.st_gid, st.st_ino) == (modes[folder].st_mode, modes[folder].st_uid,
                                                                 modes[folder].st_gid, modes[folder].st_ino)
    assert figure(done, "bytes_freed") == expected == figure(plan, "bytes_freed")
    assert figure(done, "entries") == expected_entries
    assert {r["folder"]: r["state"] for r in rows(done, "folders")} == {"tmp": "cleared", "caches": "cleared"}
    # links were removed as links: what they pointed to is untouched; the hard-linked file outside stays
    assert (outside / "precious.txt").read_text() == "keep me"
    assert (dip_home / "dss-version.json").is_file() and kept.read_bytes() == kept_bytes
    # nothing else of DIP_HOME changed
    others = lambda snap: {p: v for p, v in snap.items() if p.split(os.sep)[0] not in FOLDERS}  # noqa: E731
    assert others(snapshot(dip_home)) == others(before)


def test_tmp_alone_leaves_caches_untouched(home):
    dip_home, _, _ = home
    caches = snapshot(dip_home / "caches")
    out = clear(dip_home, "--tmp", "--dry-run", "false")  # a bare --tmp means true
    assert out.returncode == 0, out.stderr
    report = report_of(out)
    assert os.listdir(str(dip_home / "tmp")) == [] and snapshot(dip_home / "caches") == caches
    assert [r["folder"] for r in rows(report, "folders")] == ["tmp"]
    assert {r["folder"] for r in rows(report, "entries")} == {"tmp"}


@pytest.mark.parametrize("role", ["backend", "jek"])
def test_a_running_dss_of_this_dip_home_refuses_and_nothing_is_deleted(home, tmp_path, role):
    """The backend, or a JEK left behind without it: any process of this DSS blocks, dry run too."""
    dip_home, _, _ = home
    before = snapshot(dip_home)
    procs = dssprocs.DSSProcesses(dip_home, str(tmp_path), backend_layout(dip_home, role)).start()
    try:
        pid = procs.procs[0][1].pid
        for args in (("--dry-run", "false"), ()):
            out = clear(dip_home, *args)
            assert out.returncode == 2, (out.stdout, out.stderr)
            assert out.stdout == "" and "Traceback" not in out.stderr
            label = {"backend": "Backend", "jek": "Job execution kernels (JEK)"}[role]
            assert "DSS is running for %s" % dip_home in out.stderr and "nothing was done" in out.stderr
            assert "%s pid %d (" % (label, pid) in out.stderr, out.stderr
            assert snapshot(dip_home) == before
    finally:
        procs.stop()
    # stopped: the same command goes through
    out = clear(dip_home, "--dry-run", "false")
    assert out.returncode == 0, out.stderr
    assert all(os.listdir(str(dip_home / f)) == [] for f in FOLDERS)


def test_a_running_dss_of_another_dip_home_does_not_block(home, new_instance, tmp_path):
    dip_home, _, _ = home
    other_home, _ = new_instance()
    other = snapshot(other_home)
    procs = dssprocs.DSSProcesses(other_home, str(tmp_path), backend_layout(other_home)).start()
    try:
        assert clear(other_home).returncode == 2  # it is recognised for its own DIP_HOME
        out = clear(dip_home, "--dry-run", "false")
    finally:
        procs.stop()
    assert out.returncode == 0, out.stderr
    checks = {r["check"]: r["result"] for r in rows(report_of(out), "checks")}
    assert checks["DSS processes of this DIP_HOME (after)"] == "none found"
    assert all(os.listdir(str(dip_home / f)) == [] for f in FOLDERS)
    assert snapshot(other_home) == other


def test_dip_home_given_through_a_link_still_sees_the_running_dss(home, tmp_path):
    """DSS started with the real path, node-ops given a symlink to it (or the other way round)."""
    dip_home, _, _ = home
    alias = tmp_path / "alias"
    os.symlink(str(dip_home), str(alias))
    procs = dssprocs.DSSProcesses(dip_home, str(tmp_path), backend_layout(dip_home)).start()
    try:
        out = clear(alias, "--dry-run", "false")
        assert out.returncode == 2 and "DSS is running" in out.stderr, out.stderr
    finally:
        procs.stop()
    procs = dssprocs.DSSProcesses(alias, str(tmp_path), backend_layout(alias)).start()
    try:
        out = clear(dip_home, "--dry-run", "false")
        assert out.returncode == 2 and "Backend pid %d (" % procs.procs[0][1].pid in out.stderr, out.stderr
    finally:
        procs.stop()
    assert os.listdir(str(dip_home / "tmp"))  # nothing was cleared


@pytest.mark.parametrize("folder", FOLDERS)
def test_a_folder_that_is_a_symbolic_link_is_refused_and_never_followed(home, tmp_path, folder):
    dip_home, _, _ = home
    target = tmp_path / ("real-" + folder)
    os.rename(str(dip_home / folder), str(target))
    os.symlink(str(target), str(dip_home / folder))
    before, inside = snapshot(dip_home), snapshot(target)
    out = clear(dip_home, "--dry-run", "false")
    assert out.returncode == 2 and out.stdout == "" and "Traceback" not in out.stderr
    assert "%s is a symbolic link (to %s), never followed: nothing was done" % (dip_home / folder, target) \
        in out.stderr
    assert snapshot(dip_home) == before and snapshot(target) == inside  # neither folder touched
    # the other folder alone is not concerned by the link
    other = [f for f in FOLDERS if f != folder][0]
    out = clear(dip_home, "--" + other, "--dry-run", "false")
    assert out.returncode == 0, out.stderr
    assert os.listdir(str(dip_home / other)) == [] and snapshot(target) == inside


def test_not_a_data_directory_is_refused(tmp_path):
    (tmp_path / "tmp").mkdir()
    (tmp_path / "tmp" / "x").write_text("x")
    out = clear(tmp_path, "--dry-run", "false")
    assert out.returncode == 2 and "does not look like a DSS data directory" in out.stderr
    assert (tmp_path / "tmp" / "x").exists()


def test_a_missing_folder_is_nothing_to_clear(home):
    dip_home, _, _ = home
    os.rename(str(dip_home / "caches"), str(dip_home.parent / "caches-elsewhere"))
    out = clear(dip_home, "--dry-run", "false")
    assert out.returncode == 0, out.stderr
    states = {r["folder"]: r["state"] for r in rows(report_of(out), "folders")}
    assert states == {"tmp": "cleared", "caches": "absent: nothing to clear"}
    assert not (dip_home / "caches").exists()  # not created either


def test_an_entry_that_could_not_be_cleared_exits_1_and_the_rest_is_cleared(home, tmp_path):
    """A filesystem mounted inside tmp/ is left alone (an error, exit code 1); the rest goes."""
    dip_home, _, _ = home
    mnt = dip_home / "tmp" / "mounted"
    with smallfs.tmpfs(mnt, size="1m", inodes=64):
        (mnt / "inside.txt").write_text("on another filesystem")
        out = clear(dip_home, "--dry-run", "false")
        assert out.returncode == 1, (out.stdout, out.stderr)
        report = report_of(out)
        assert (mnt / "inside.txt").read_text() == "on another filesystem"
        assert os.listdir(str(dip_home / "tmp")) == ["mounted"] and os.listdir(str(dip_home / "caches")) == []
        assert report["errors"] == ["%s: another filesystem is mounted there: left alone, not cleared" % mnt]
        assert "Clear tmp/ and caches/ (DSS stopped): 1 error(s)" in out.stderr
        assert {r["folder"]: r["state"] for r in rows(report, "folders")} == {"tmp": "errors", "caches": "cleared"}


def test_a_filesystem_mounted_deep_inside_tmp_is_never_walked_into(home):
    """A mount point two levels down (tmp/job/share): the entry holding it is partly removed,
    the mounted filesystem keeps every file, the run says so (exit code 1)."""
    dip_home, _, _ = home
    mnt = dip_home / "tmp" / "job" / "share"
    mnt.mkdir(parents=True)
    (dip_home / "tmp" / "job" / "local.txt").write_text("on DIP_HOME's filesystem")
    with smallfs.tmpfs(mnt, size="1m", inodes=64):
        (mnt / "deep").mkdir()
        (mnt / "deep" / "inside.txt").write_text("on another filesystem")
        out = clear(dip_home, "--dry-run", "false")
        assert out.returncode == 1, (out.stdout, out.stderr)
        assert (mnt / "deep" / "inside.txt").read_text() == "on another filesystem"
        assert not (dip_home / "tmp" / "job" / "local.txt").exists()
        errors = report_of(out)["errors"]
        assert len(errors) == 1 and "another filesystem is mounted here" in errors[0], errors


def test_bytes_freed_match_what_the_filesystems_got_back(home, tmp_path):
    """tmp/ and caches/ each a filesystem of its own (as some nodes mount them), so that statvfs
    tells exactly what the removal gave back."""
    dip_home, _, _ = home
    with smallfs.tmpfs(dip_home / "tmp", size="4m", inodes=200, mode="0750"), \
            smallfs.tmpfs(dip_home / "caches", size="4m", inodes=200, mode="0710"):
        tmp, caches = dip_home / "tmp", dip_home / "caches"
        for i in range(5):
            sub = tmp / ("job-%d" % i) / "x"
            sub.mkdir(parents=True)
            (sub / "data").write_bytes(os.urandom(10000 * (i + 1)))
        (tmp / "a").write_bytes(os.urandom(65536))
        os.link(str(tmp / "a"), str(tmp / "job-0" / "a-again"))  # two links, both removed: freed once
        (caches / "c").write_bytes(os.urandom(200000))
        os.symlink(str(dip_home / "config"), str(caches / "to-config"))
        expected = allocated(dip_home)
        dry = report_of(clear(dip_home))
        before = [os.statvfs(str(d)) for d in (tmp, caches)]
        out = clear(dip_home, "--dry-run", "false")
        assert out.returncode == 0, out.stderr
        after = [os.statvfs(str(d)) for d in (tmp, caches)]
        really = sum((a.f_bfree - b.f_bfree) * a.f_frsize for a, b in zip(after, before))
        report = report_of(out)
        assert figure(report, "bytes_freed") == really == expected == figure(dry, "bytes_freed")
        assert os.listdir(str(tmp)) == [] and os.listdir(str(caches)) == []
        assert stat.S_IMODE(os.lstat(str(tmp)).st_mode) == 0o750  # the mount's root, kept
        assert (dip_home / "config").is_dir() and os.listdir(str(dip_home / "config"))


def test_node_ops_and_the_shell_that_started_it_do_not_count_as_dss(home):
    """Cron's shell and node-ops itself name DIP_HOME on their command lines (here with its final
    slash, as the recognition looks for it): neither is a DSS process."""
    import subprocess
    import sys

    dip_home, _, _ = home
    script = "%s -m nodeops clear-caches --dip-home=%s/ --format json --dry-run false; exit $?" % (
        sys.executable, dip_home)
    out = subprocess.run(["/bin/sh", "-c", script], capture_output=True, text=True, env=nodeops_cli.env())
    assert out.returncode == 0, out.stderr
    assert all(os.listdir(str(dip_home / f)) == [] for f in FOLDERS)
