"""The audit's dip.properties fix: atomic (a crash mid-write leaves the original intact)
and idempotent; and the disk check on filesystems this machine does not have."""

import os

import pytest

from nodeops import audit, datadir, fixes

GB = 1000 ** 3


def test_add_line_keeps_a_backup_and_appends(tmp_path):
    props = tmp_path / "dip.properties"
    props.write_text("a=1\nb=2")  # no final newline
    backup = fixes.add_line(props, "c=3")
    assert props.read_text() == "a=1\nb=2\nc=3\n"
    assert open(backup).read() == "a=1\nb=2"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["dip.properties", os.path.basename(backup)])


@pytest.mark.parametrize("crash_at", ["write", "fsync", "replace"])
def test_a_crash_mid_write_leaves_the_original_intact(tmp_path, monkeypatch, crash_at):
    props = tmp_path / "dip.properties"
    props.write_text("a=1\n")
    real = {"write": os.write, "fsync": os.fsync, "replace": os.replace}
    calls = {"n": 0}

    def crash(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:  # the first call writes the backup; the second one is the real file
            raise OSError(5, "simulated crash during %s" % crash_at)
        return real[crash_at](*args, **kwargs)

    monkeypatch.setattr(os, crash_at, crash)
    with pytest.raises(OSError):
        fixes.add_line(props, "c=3")
    monkeypatch.undo()
    assert props.read_text() == "a=1\n"
    assert not [p for p in tmp_path.iterdir() if ".node-ops-tmp-" in p.name]  # no half-written file left


def fs(size_gb, free_percent, inodes_used_percent):
    size = int(size_gb * GB)
    free = int(size * free_percent / 100)
    return datadir.Filesystem(size_bytes=size, used_bytes=size - free, free_bytes=free, inodes_total=1000,
                              inodes_free=int(1000 - inodes_used_percent * 10))


@pytest.mark.parametrize("filesystem,expected", [
    (fs(800, 40, 10), {"disk.size": "PASS", "disk.free": "PASS", "disk.inodes": "PASS"}),
    (fs(300, 15, 85), {"disk.size": "WARN", "disk.free": "WARN", "disk.inodes": "WARN"}),
    (fs(2000, 5, 95), {"disk.size": "PASS", "disk.free": "FAIL", "disk.inodes": "FAIL"}),
])
def test_disk_check_thresholds(filesystem, expected):
    facts = audit.Facts(dip_home=None, now_ms=0, heaps={}, users=None, ram=0, settings=None, settings_source="",
                        dip_properties=[], project_keys=[], fs=filesystem)
    assert {f.id: f.severity for f in audit.check_disk(facts)} == expected
