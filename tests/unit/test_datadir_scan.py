import os

from nodeops import datadir


def write(path, size):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)


def test_scan_aggregates_per_level_counts_hardlinks_once_and_never_follows_symlinks(tmp_path):
    root = tmp_path / "dss"
    write(root / "jobs" / "P1" / "job1" / "output.log", 10000)
    write(root / "jobs" / "P2" / "job2" / "output.log", 20000)
    write(root / "config" / "general-settings.json", 100)
    os.link(root / "jobs" / "P2" / "job2" / "output.log", root / "jobs" / "P2" / "job2" / "again.log")
    outside = tmp_path / "outside"
    write(outside / "big.bin", 1_000_000)
    os.symlink(outside, root / "jobs" / "P1" / "link")
    scan = datadir.scan(root)
    assert scan.top["jobs"].apparent_bytes >= 30000
    assert scan.top["jobs"].files == 2  # the hard link is counted once
    assert scan.top["jobs"].symlinks == 1
    assert scan.total.apparent_bytes < 1_000_000  # nothing behind the symlink
    assert scan.second["jobs/P2"].files == 1 and scan.second["jobs/P1"].files == 1
    assert scan.total.files == 3


def test_scan_counts_unreadable_folders_instead_of_failing(tmp_path):
    if os.geteuid() == 0:
        # root reads everything: make the folder vanish mid-walk instead (same error path)
        root = tmp_path / "dss"
        write(root / "jobs" / "P1" / "j" / "output.log", 10)
        real_scandir = os.scandir

        def flaky(path):
            if str(path).endswith("P1"):
                raise PermissionError(13, "Permission denied", str(path))
            return real_scandir(path)

        os.scandir = flaky
        try:
            scan = datadir.scan(root)
        finally:
            os.scandir = real_scandir
    else:
        root = tmp_path / "dss"
        write(root / "jobs" / "P1" / "j" / "output.log", 10)
        (root / "jobs" / "P1").chmod(0)
        try:
            scan = datadir.scan(root)
        finally:
            (root / "jobs" / "P1").chmod(0o755)
    assert scan.total.errors == 1
    assert "Permission denied" in scan.error_paths[0]


def test_filesystem_matches_statvfs(tmp_path):
    fs = datadir.filesystem(tmp_path)
    st = os.statvfs(tmp_path)
    assert fs.size_bytes == st.f_blocks * st.f_frsize
    assert 0 <= fs.used_percent <= 100
