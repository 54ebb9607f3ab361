"""The audit's dip.properties fix: the timelines line added, or merged into an existing one
(never a second line that overrides it), idempotent; the audit reading the line Java keeps;
and the disk check on filesystems this machine does not have. How the file is written
(symlinks, modes, owners, full disks, kill -9): tests/unit/test_safe_writes.py."""

import pytest

from nodeops import audit, datadir, fixes

GB = 1000 ** 3


KEY = "dku.internalDatabases.timeline"


@pytest.mark.parametrize("before,after", [
    ("", KEY + "=CACHE_SIZE=1024\n"),
    ("a=1\nb=2", "a=1\nb=2\n" + KEY + "=CACHE_SIZE=1024\n"),  # no final newline
    ("a=1\r\n", "a=1\r\n" + KEY + "=CACHE_SIZE=1024\r\n"),
    ("#" + KEY + "=LOCK_TIMEOUT=1\n", "#" + KEY + "=LOCK_TIMEOUT=1\n" + KEY + "=CACHE_SIZE=1024\n"),  # a comment
    # an existing line without CACHE_SIZE is completed in place, never overridden by a second line
    (KEY + "=LOCK_TIMEOUT=60000\nb=2\n", KEY + "=LOCK_TIMEOUT=60000;CACHE_SIZE=1024\nb=2\n"),
    ("  " + KEY + " : A=1 ;B=2;  \r\n", "  " + KEY + " : A=1 ;B=2;CACHE_SIZE=1024\r\n"),
    (KEY + "=\n", KEY + "=CACHE_SIZE=1024\n"),
    # the last line of a key is the one Java keeps: that is the one completed
    (KEY + "=CACHE_SIZE=64\n" + KEY + "=A=1\n", KEY + "=CACHE_SIZE=64\n" + KEY + "=A=1;CACHE_SIZE=1024\n"),
    (KEY + "=A=1;cache_size=64\n", None),  # already set (H2 setting names ignore case)
])
def test_the_timelines_line_is_added_or_merged_into(before, after):
    assert fixes.merged(before) == after
    if after is not None:
        effective = fixes.timelines(fixes.split_lines(after))
        assert effective.cache_set and fixes.merged(after) is None  # idempotent


@pytest.mark.parametrize("text,why", [
    (KEY + "=A=1;\\\n  B=2\n", "several lines"),
    (KEY + "=A=\\u0031\n", "escapes"),
    (KEY + "=garbage\n", "not a list of NAME=value"),
])
def test_a_timelines_line_that_cannot_be_merged_safely_is_reported(text, why):
    with pytest.raises(fixes.FixRefused, match=why):
        fixes.merged(text)


def test_the_audit_reads_the_line_java_keeps():
    later = [KEY + "=CACHE_SIZE=1024", KEY + "=LOCK_TIMEOUT=1"]
    facts = audit.Facts(dip_home=None, now_ms=0, heaps={}, users=None, ram=0, settings=None, settings_source="",
                        dip_properties=later, project_keys=["P%d" % i for i in range(100)], fs=None)
    (finding,) = audit.check_timelines(facts)
    assert finding.severity == "WARN" and "LOCK_TIMEOUT=1" in finding.evidence
    facts.dip_properties = list(reversed(later))
    assert audit.check_timelines(facts)[0].severity == "PASS"
    facts.dip_properties = ["#" + KEY + "=CACHE_SIZE=1024", KEY + "=FOO_CACHE_SIZE=1"]
    assert audit.check_timelines(facts)[0].severity == "WARN"


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
