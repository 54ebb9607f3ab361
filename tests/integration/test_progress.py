"""The progress bar of the long macros, as DSS draws it: get_progress_target() (asked once, before
run) gives a target and a unit DSS knows; run() reports progress that never goes back, never
passes the target and ends on it. Through the harness (the macro process as DSS runs it) and the
simulator."""

import os

import pytest

from dssbench.harness import Harness
from nodeops import render, runner


@pytest.fixture
def inst(new_instance, start_sim):
    dip_home, model = new_instance()
    sim = start_sim(dip_home, model)  # with kernel processes: culling has sessions to count
    return dip_home, sim, Harness(sim)


def figures(out):
    return {f.key: f.value for f in render.report_from_html(out.result).summary}


def test_capacity_scan_counts_files_against_the_inodes_of_the_filesystem(inst):
    dip_home, sim, h = inst
    out = h.run_macro("capacity-report", {"history": False})
    assert out.ok, out.traceback
    assert out.progress_problems("FILES") == []
    st = os.statvfs(str(dip_home))
    target = out.progress_target[0]
    assert figures(out)["dip_home_files"] <= target <= st.f_files  # the inodes in use, up front
    assert len(out.progress) > 2  # it moved during the scan, not only at the end


def test_a_purge_counts_its_entries_up_front(inst):
    dip_home, sim, h = inst
    out = h.run_macro("purge-job-logs", {"retention_days": 0, "keep_last": 0})
    assert out.ok, out.traceback
    assert out.progress_problems("RECORDS") == []
    seen = figures(out)["seen"]
    assert seen > 0 and out.progress_target[0] == seen  # every entry of a quiet instance, counted by name
    out = h.run_macro("purge-job-logs", {"projects_mode": "INCLUDED", "projects": ["NOPE"]})
    assert out.ok and out.progress_target is None  # nothing to count: no bar (DSS would divide by 0)


def test_culling_counts_the_sessions(inst):
    dip_home, sim, h = inst
    out = h.run_macro("cull-kernels", {})
    assert out.ok, out.traceback
    assert out.progress_problems("RECORDS") == []
    assert out.progress_target[0] == figures(out)["sessions"] > 0


def test_the_table_twins_count_as_their_html_macros(inst):
    dip_home, sim, h = inst
    for macro, config, unit in (("purge-job-logs", {"retention_days": 0, "keep_last": 0}, "RECORDS"),
                                ("cull-kernels", {}, "RECORDS")):
        html = h.run_macro(macro, dict(config, dry_run=True))
        table = h.run_macro(macro + "-table", dict(config, dry_run=True))
        assert html.ok and table.ok, (html.traceback, table.traceback)
        assert table.progress_problems(unit) == []
        assert table.progress_target is not None and table.progress_target == html.progress_target, macro


def test_a_backup_counts_the_bytes_to_archive(inst, tmp_path):
    dip_home, sim, h = inst
    out = h.run_macro("backup", {"target_dir": str(tmp_path / "b"), "scope": "DATA_DIR"})
    assert out.ok, out.traceback
    assert out.progress_problems("SIZE") == []
    assert out.progress_target[0] >= figures(out)["source_bytes"] > 0
    assert len(out.progress) > 2


def test_no_target_when_the_target_cannot_be_known_and_the_run_says_why(inst):
    """DSS fails the whole run when get_progress_target() raises: it never does; the run reports."""
    dip_home, sim, h = inst
    out = h.run_macro("backup", {"target_dir": "relative"})
    assert out.progress_target is None and not out.ok and "'target_dir' must be an absolute path" in out.error
    out = h.run_macro("config-audit", {})
    assert out.ok and out.progress_target is None and out.progress == []


def test_progress_never_passes_the_target_never_goes_back_and_ends_on_it():
    got = []
    p = runner.Progress(got.append, 10)
    for v in (0, 3, 3, 2, 12, 7):
        p(v)
    p.done()
    assert got == [0, 3, 10]
    got = []
    p = runner.Progress(got.append, None)  # no target: the operation's own count, rising
    for v in (1, 5, 4):
        p(v)
    p.done()
    assert got == [1, 5]
