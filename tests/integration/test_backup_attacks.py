"""Restore and verify against crafted archives and bad input: nothing is ever written
outside --into, a refused archive leaves --into empty, dangerous mode bits are dropped,
device files and FIFOs are skipped, and bad input gets a node-ops message (exit code 2),
never a traceback."""

import json
import os
import stat

import pytest

from dssbench import cli as nodeops_cli
from dssbench.archives import craft, member
from nodeops import archives, backup
from nodeops.context import Context
from nodeops.errors import NodeOpsError
from nodeops.operations import get


@pytest.fixture
def place(tmp_path):
    """(archive path, into, outside folder with a victim file)."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim").write_bytes(b"precious")
    return tmp_path / "a.tar.gz", tmp_path / "into", outside


def _untouched(outside):
    assert sorted(os.listdir(outside)) == ["victim"]
    assert (outside / "victim").read_bytes() == b"precious" and os.stat(outside / "victim").st_nlink == 1


def _refused(archive, into, outside, members, why):
    craft(archive, members)
    into.mkdir()
    with pytest.raises(NodeOpsError) as e:
        archives.restore(archive, into, dry_run=False)
    assert why in str(e.value) and "nothing was written" in str(e.value)
    assert os.listdir(into) == []
    _untouched(outside)


def test_a_symlink_then_a_regular_member_of_the_same_name(place):
    archive, into, outside = place
    _refused(archive, into, outside, [member("sym", "lnk", str(outside / "victim")), member("file", "lnk", b"evil")],
             "appears twice")


@pytest.mark.parametrize("name", ["./lnk", "a//lnk", "lnk/", "./a/./lnk//"])
def test_unnormalised_symlink_names_then_members_below_them(place, name):
    archive, into, outside = place
    below = "a/lnk/x" if "a/" in name else "lnk/x"
    members = ([member("dir", "a")] if "a/" in name else []) + [member("sym", name, str(outside)),
                                                                 member("file", below, b"evil")]
    _refused(archive, into, outside, members, "which is a symbolic link in the archive")


def test_a_hard_link_through_an_archive_symlink_then_a_regular_member_of_its_name(place):
    archive, into, outside = place
    _refused(archive, into, outside, [member("sym", "lnk", str(outside)), member("link", "hl", "lnk/victim"),
                                      member("file", "hl", b"evil")], "not a regular file earlier in the archive")


def test_a_hard_link_to_a_path_outside(place):
    archive, into, outside = place
    _refused(archive, into, outside, [member("file", "f", b"x"), member("link", "hl", str(outside / "victim"))],
             "not a regular file earlier in the archive")


def test_every_member_is_checked_before_anything_is_written(place):
    archive, into, outside = place
    good = [member("dir", "config"), member("file", "config/a.json", b"{}"), member("file", "config/b.json", b"[]")]
    _refused(archive, into, outside, good + [member("file", "../outside/escape", b"evil")], "unsafe path")
    assert not (outside.parent / "escape").exists()


def test_restore_drops_setuid_setgid_sticky_and_world_writable_bits_and_says_so(tmp_path):
    archive = craft(tmp_path / "a.tar.gz", [
        member("dir", "config", mode=0o1777), member("file", "config/suid", b"#!/bin/sh\n", mode=0o4755),
        member("file", "config/sgid", b"x", mode=0o2775), member("file", "config/open", b"x", mode=0o666),
        member("file", "config/plain", b"x", mode=0o640)])
    op = get(backup.RESTORE_ID)
    report = op.run(Context(user="admin", is_admin=True),
                    op.parse({"archive": str(archive), "into": str(tmp_path / "r"), "dry_run": False}))
    assert report.failure is None
    modes = {n: stat.S_IMODE(os.lstat(tmp_path / "r" / "config" / n).st_mode) for n in os.listdir(tmp_path / "r" / "config")}
    assert modes == {"suid": 0o755, "sgid": 0o775, "open": 0o664, "plain": 0o640}
    assert stat.S_IMODE(os.lstat(tmp_path / "r" / "config").st_mode) == 0o775
    (note,) = [n for n in report.notes if "bits dropped" in n]
    assert "on 4 entries" in note and "config/suid (4755 -> 0755)" in note


def test_device_files_and_fifos_are_skipped_with_a_message(tmp_path):
    archive = craft(tmp_path / "a.tar.gz", [member("dir", "d"), member("fifo", "d/fifo"), member("chr", "d/null"),
                                            member("file", "d/f", b"x")])
    op = get(backup.RESTORE_ID)
    report = op.run(Context(user="admin", is_admin=True),
                    op.parse({"archive": str(archive), "into": str(tmp_path / "r"), "dry_run": False}))
    assert report.failure is None and sorted(os.listdir(tmp_path / "r" / "d")) == ["f"]
    (note,) = [n for n in report.notes if "not restored" in n]
    assert "d/fifo (FIFO)" in note and "d/null (device file)" in note


def test_symlinks_are_restored_as_links_and_nothing_is_written_through_them(place):
    archive, into, outside = place
    craft(archive, [member("dir", "dss_data"), member("sym", "dss_data/managed", str(outside)),
                    member("file", "dss_data/f", b"x")])
    archives.restore(archive, into, dry_run=False)
    assert os.readlink(into / "dss_data" / "managed") == str(outside)
    _untouched(outside)


def test_the_previous_format_still_verifies_and_restores(tmp_path):
    archive = craft(tmp_path / "old.tar.gz", [member("dir", "config"), member("file", "config/a", b"hello")],
                    manifest="legacy")
    check = archives.verify(archive)
    assert check.problems == [] and check.files == 1 and check.bytes == 5
    archives.restore(archive, tmp_path / "r", dry_run=False)
    assert (tmp_path / "r" / "config" / "a").read_bytes() == b"hello"


def _cli(*args):
    return nodeops_cli.run(*args, "--format", "json")


def test_bad_input_gets_a_node_ops_message_and_exit_code_2(tmp_path):
    good = craft(tmp_path / "good.tar.gz", [member("dir", "config"), member("file", "config/a", b"x")])
    text = tmp_path / "notes.txt"
    text.write_text("not an archive\n")
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    not_json = craft(tmp_path / "nj.tar.gz", [member("file", "config/a", b"x")], manifest=b"{not json\n")
    no_keys = craft(tmp_path / "nk.tar.gz", [member("file", "config/a", b"x")],
                    manifest=b'{"format": "node-ops-manifest", "version": 2}\n{"path": "config/a"}\n')
    cases = [
        (("backup-verify", "--archive", tmp_path / "missing.tar.gz"), "does not exist"),
        (("backup-verify", "--archive", text), "is not a node-ops archive"),
        (("backup-verify", "--archive", tmp_path), "is not a regular file"),
        (("backup-verify", "--archive", not_json), "manifest unreadable"),
        (("backup-verify", "--archive", no_keys), "manifest unreadable"),
        (("backup-restore", "--archive", tmp_path / "missing.tar.gz", "--into", tmp_path / "r1"), "does not exist"),
        (("backup-restore", "--archive", text, "--into", tmp_path / "r2"), "is not a node-ops archive"),
        (("backup-restore", "--archive", good, "--into", a_file, "--dry-run", "false"), "is not a folder"),
        (("backup-restore", "--archive", not_json, "--into", tmp_path / "r3", "--dry-run", "false"),
         "manifest unreadable"),
        (("backup-restore", "--archive", no_keys, "--into", tmp_path / "r4", "--dry-run", "false"),
         "manifest unreadable"),
    ]
    for args, message in cases:
        out = _cli(*args)
        assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr, (args, out.stderr)
    assert not any((tmp_path / r).exists() for r in ("r1", "r2", "r3", "r4"))
    ok = _cli("backup-verify", "--archive", good)
    assert ok.returncode == 0 and json.loads(ok.stdout)["errors"] == []


def test_a_truncated_archive_does_not_verify_and_is_not_restored(tmp_path):
    archive = craft(tmp_path / "a.tar.gz", [member("dir", "config")] +
                    [member("file", "config/f%d" % i, os.urandom(20000)) for i in range(5)])
    data = archive.read_bytes()
    archive.write_bytes(data[:len(data) // 2])
    out = _cli("backup-verify", "--archive", archive)
    assert out.returncode == 1 and "cannot be read to the end" in json.loads(out.stdout)["failure"]
    out = _cli("backup-restore", "--archive", archive, "--into", tmp_path / "r", "--dry-run", "false")
    assert out.returncode == 2 and "does not verify" in out.stderr and not (tmp_path / "r").exists()
