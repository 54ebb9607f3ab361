import os

import pytest

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
        real_open = os.open

        def flaky(path, *args, **kwargs):
            if str(path).endswith("P1"):
                raise PermissionError(13, "Permission denied", str(path))
            return real_open(path, *args, **kwargs)

        os.open = flaky
        try:
            scan = datadir.scan(root)
        finally:
            os.open = real_open
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


def _du(path, *flags):
    import subprocess

    out = subprocess.run(["du", "-s"] + list(flags) + [str(path)], capture_output=True, text=True, check=True).stdout
    return int(out.split()[0])


def _tricky_tree(tmp_path):
    """A DSS-shaped tree with hard links (inside a subtree and across two), a symlink
    to a big file outside, a sparse file and a file directly at the top."""
    import random

    rng = random.Random(5)
    root = tmp_path / "dss"
    for top in ("jobs", "scenarios", "managed_datasets", "tmp"):
        for p in ("SALES", "CHURN", "OPS"):
            for j in range(6):
                for k in range(rng.randint(1, 4)):
                    write(root / top / p / ("e%d" % j) / ("f%d.log" % k), rng.randint(0, 20000))
    os.link(root / "jobs" / "SALES" / "e0" / "f0.log", root / "jobs" / "SALES" / "e1" / "same.log")
    os.link(root / "jobs" / "CHURN" / "e0" / "f0.log", root / "scenarios" / "OPS" / "e0" / "across.log")
    outside = tmp_path / "outside"
    write(outside / "big.bin", 3_000_000)
    os.symlink(outside / "big.bin", root / "jobs" / "OPS" / "e0" / "escape.bin")
    os.symlink(outside, root / "tmp" / "escape-dir")
    with open(root / "managed_datasets" / "SALES" / "sparse.bin", "wb") as f:
        f.truncate(50_000_000)  # 50 MB apparent, almost nothing on disk
    write(root / "dss-version.json", 40)
    return root


def _independent_file_count(root):
    """Regular files, hard links once (by inode), via find."""
    import subprocess

    out = subprocess.run(["find", str(root), "-type", "f", "-printf", "%i\\n"], capture_output=True, text=True,
                         check=True).stdout
    return len(set(out.split()))


@pytest.mark.parametrize("processes", [1, 2])
def test_scan_matches_du_and_find_on_a_tricky_tree(tmp_path, processes):
    root = _tricky_tree(tmp_path)
    scan = datadir.scan(root, processes=processes)
    root_dir = os.lstat(root)
    # du counts the top folder itself; the scan counts what is inside it.
    assert scan.total.disk_bytes + root_dir.st_blocks * 512 == _du(root, "-B1")
    assert scan.total.apparent_bytes + root_dir.st_size == _du(root, "-b")  # -b: apparent bytes
    assert scan.total.files == _independent_file_count(root)
    assert scan.total.symlinks == 2
    assert scan.total.apparent_bytes < 60_000_000 + 3_000_000  # nothing behind the links
    for top in ("jobs", "scenarios", "managed_datasets", "tmp"):
        # hard link across jobs/CHURN and scenarios/OPS: du of scenarios alone counts it, the
        # whole-tree scan counts it once, in jobs (first in path order).
        expected = _du(root / top, "-B1")
        if top == "scenarios":
            expected -= os.lstat(root / "jobs" / "CHURN" / "e0" / "f0.log").st_blocks * 512
        assert scan.top[top].disk_bytes == expected, top
    for p in ("SALES", "CHURN", "OPS"):
        assert scan.second["jobs/" + p].disk_bytes == _du(root / "jobs" / p, "-B1"), p
    sparse = os.lstat(root / "managed_datasets" / "SALES" / "sparse.bin")
    assert sparse.st_blocks * 512 < 1_000_000 and scan.top["managed_datasets"].apparent_bytes > 50_000_000


def test_scan_counts_an_unreadable_subtree_once_whatever_the_processes(tmp_path):
    root = _tricky_tree(tmp_path)
    target = root / "jobs" / "CHURN" / "e2"
    real_open = os.open

    def flaky(path, *args, **kwargs):
        if str(path) == str(target):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    results = []
    os.open = flaky  # forked workers inherit it
    try:
        for processes in (1, 2):
            results.append(datadir.scan(root, processes=processes))
    finally:
        os.open = real_open
    for scan in results:
        assert scan.total.errors == 1 and scan.second["jobs/CHURN"].errors == 1
        assert any(str(target) in e and "Permission denied" in e for e in scan.error_paths)
    assert results[0].total == results[1].total


def test_deep_splitting_gives_the_totals_of_a_single_process_walk(tmp_path):
    """A DATA_DIR builder tree with hard links (in one folder, across folders of one project,
    across projects and top-level folders) and symlinks (to a folder outside, dangling, to a
    file inside): walked by one process in one go, and by two workers handing their chunks
    back every few entries, every Usage figure of every level is the same."""
    from dssbench.datadir import build_datadir, small_spec

    root = tmp_path / "dss"
    build_datadir(small_spec(), root)
    files = sorted(p for p in (root / "jobs").rglob("*") if p.is_file() and not p.is_symlink())
    assert len(files) > 50
    os.link(files[0], files[0].parent / "same-folder.link")
    os.link(files[1], files[-1].parent / "same-project.link")  # jobs/<first project> ... jobs/<last>
    (root / "managed_datasets" / "ZZZ_LAST" / "deep" / "er").mkdir(parents=True)
    os.link(files[2], root / "managed_datasets" / "ZZZ_LAST" / "deep" / "er" / "across.link")
    (root / "tmp" / "again").mkdir(parents=True, exist_ok=True)
    os.link(files[2], root / "tmp" / "again" / "across-top.link")
    outside = tmp_path / "outside"
    write(outside / "big.bin", 2_000_000)
    os.symlink(outside, root / "jobs" / "escape-at-second-level")
    os.symlink(outside, files[4].parent / "escape-dir")
    os.symlink(tmp_path / "nothing-there", files[5].parent / "dangling")
    os.symlink(files[6], root / "managed_datasets" / "ZZZ_LAST" / "inside.lnk")

    single = datadir.scan(root, processes=1)
    calls = []
    split = datadir.scan(root, processes=2, budget=7, progress=calls.append)
    walked = [k for k, u in single.second.items() if u.dirs == 1 and k.split("/")[0] in single.top]
    assert len(calls) > 3 * len(walked)  # the subtrees really were cut into many chunks
    assert calls == sorted(calls) and calls[-1] > single.total.files
    assert split.total == single.total
    assert split.top == single.top
    assert split.second == single.second
    assert single.total.symlinks >= 4 and single.total.errors == 0
    # the hard links count once: as find sees independent files
    assert single.total.files == _independent_file_count(root)
    root_dir = os.lstat(root)
    assert single.total.disk_bytes + root_dir.st_blocks * 512 == _du(root, "-B1")
