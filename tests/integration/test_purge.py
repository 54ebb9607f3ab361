"""Log retention end to end: the purge macros and steps as DSS runs them, against the
simulator and a real DIP_HOME. Each protection has a test that fails without it."""

import datetime as dt
import json
import os
import subprocess
import time

import pytest

from dssbench import cli as nodeops_cli
from dssbench.datadir import small_spec
from dssbench.harness import DSSRefused, Harness
from nodeops import retention, safedelete


@pytest.fixture
def instance(new_instance, start_sim):
    dip_home, model = new_instance()
    sim = start_sim(dip_home, model)
    return dip_home, model, sim, Harness(sim)


def job_folders(dip_home):
    return {(p.name, j.name) for p in (dip_home / "jobs").iterdir() if not p.name.startswith(".")
            for j in p.iterdir()}


def running_job_ids(model):
    return {(k, j["def"]["id"]) for k, jobs in model["jobs"].items() for j in jobs if not j["stableState"]}


def expected_job_deletions(dip_home, model, retention_days, keep_last, projects=None):
    """Independent oracle: older than retention AND not among the keep_last newest AND not running."""
    cutoff = (dt.datetime.now() - dt.timedelta(days=retention_days)).timestamp() * 1000
    running = running_job_ids(model)
    out = set()
    for p in (dip_home / "jobs").iterdir():
        if p.name.startswith(".") or (projects is not None and p.name not in projects):
            continue
        entries = sorted(((retention.id_timestamp_ms(retention.JOBS, j.name), j.name) for j in p.iterdir()), reverse=True)
        for rank, (ts, name) in enumerate(entries):
            if ts < cutoff and rank >= keep_last and (p.name, name) not in running:
                out.add((p.name, name))
    return out


def test_dry_run_is_the_default_and_changes_nothing(instance):
    dip_home, model, sim, h = instance
    before = job_folders(dip_home)
    out = h.run_macro("purge-job-logs", {})
    assert out.ok, out.traceback
    assert "dry run: nothing was changed" in out.result
    assert job_folders(dip_home) == before
    assert not (dip_home / "jobs" / safedelete.TRASH).exists()  # a dry run creates nothing either
    expected = expected_job_deletions(dip_home, model, 30, 20)
    assert expected and "%d</span>" % len(expected) in out.result.replace(",", "")


def test_deletes_exactly_old_and_not_newest_and_not_running(instance):
    dip_home, model, sim, h = instance
    before = job_folders(dip_home)
    expected = expected_job_deletions(dip_home, model, 30, 5)
    step = h.run_step("purge-job-logs", {"retention_days": 30, "keep_last": 5, "dry_run": False})
    assert step.ok, step.stderr
    assert before - job_folders(dip_home) == expected
    assert step.variables["nodeops_purge_job_logs_deleted"] == len(expected)
    assert step.variables["nodeops_purge_job_logs_bytes_freed"] > 0
    assert step.variables["nodeops_purge_job_logs_errors"] == 0
    # A second run finds nothing more to do: the purge is idempotent.
    again = h.run_step("purge-job-logs", {"retention_days": 30, "keep_last": 5, "dry_run": False})
    assert again.variables["nodeops_purge_job_logs_deleted"] == 0


def test_keep_last_keeps_the_newest_whatever_their_age(instance):
    dip_home, model, sim, h = instance
    h.run_step("purge-job-logs", {"retention_days": 0, "keep_last": 3, "dry_run": False})
    for p in (dip_home / "jobs").iterdir():
        if p.name.startswith("."):
            continue
        running = {n for k, n in running_job_ids(model) if k == p.name}
        assert len([j for j in p.iterdir() if j.name not in running]) <= 3
        assert len(list(p.iterdir())) >= min(3, 1)


def test_running_jobs_are_never_deleted(instance):
    dip_home, model, sim, h = instance
    running = running_job_ids(model)
    assert running
    step = h.run_step("purge-job-logs", {"retention_days": 0, "keep_last": 0, "dry_run": False})
    assert step.ok, step.stderr
    left = job_folders(dip_home)
    assert running <= left
    assert left == running  # everything else went (orphans included)
    assert step.variables["nodeops_purge_job_logs_kept_running"] == len(running)


def test_api_down_deletes_nothing(instance):
    dip_home, model, sim, h = instance
    before = job_folders(dip_home)
    sim.inject(r"/dip/publicapi/projects/$", status=500)
    step = h.run_step("purge-job-logs", {"retention_days": 0, "keep_last": 0, "dry_run": False})
    assert not step.ok
    assert "nothing was deleted" in step.error_message
    assert job_folders(dip_home) == before


def test_project_whose_running_jobs_are_unknown_is_left_alone(instance):
    dip_home, model, sim, h = instance
    sim.inject(r"/projects/CHURN_MODEL/jobs/$", status=500)
    before = {j for p, j in job_folders(dip_home) if p == "CHURN_MODEL"}
    step = h.run_step("purge-job-logs", {"retention_days": 0, "keep_last": 0, "dry_run": False})
    assert not step.ok and "project CHURN_MODEL: nothing deleted" in step.stdout
    after = job_folders(dip_home)
    assert {j for p, j in after if p == "CHURN_MODEL"} == before
    assert not {(p, j) for p, j in after if p == "SALES_ANALYTICS"} - running_job_ids(model)
    # fail_on_error false: the same errors, but the step passes
    ok = h.run_step("purge-job-logs", {"retention_days": 0, "keep_last": 0, "dry_run": False, "fail_on_error": False})
    assert ok.ok and ok.variables["nodeops_purge_job_logs_errors"] == 1


def test_symlinks_never_lead_outside(instance, tmp_path):
    dip_home, model, sim, h = instance
    outside = tmp_path / "precious"
    outside.mkdir()
    (outside / "data.csv").write_text("keep me")
    project = dip_home / "jobs" / "SALES_ANALYTICS"
    old_job = sorted(project.iterdir())[0]
    os.symlink(outside, old_job / "link-to-outside")
    link_job = project / "Build_linked_2020-01-01T00-00-00.000"
    os.symlink(outside, link_job)  # a job "folder" that is a symlink
    linked_project = dip_home / "jobs" / "LINKED"
    os.symlink(outside, linked_project)  # a project folder that is a symlink
    step = h.run_step("purge-job-logs", {"retention_days": 30, "keep_last": 0, "dry_run": False,
                                         "fail_on_error": False})
    assert step.ok, step.stderr
    assert not old_job.exists() and not os.path.lexists(link_job)  # removed, the link as a link
    assert (outside / "data.csv").read_text() == "keep me"
    assert os.path.islink(linked_project)  # not followed, reported
    assert "LINKED: symlink, not followed" in step.stdout


def test_concurrent_run_does_nothing(instance):
    dip_home, model, sim, h = instance
    before = job_folders(dip_home)
    with safedelete.Trash(dip_home, "jobs").acquire():
        step = h.run_step("purge-job-logs", {"retention_days": 0, "keep_last": 0, "dry_run": False})
        dry = h.run_macro("purge-job-logs", {"retention_days": 0})
    assert not step.ok and "another node-ops purge of jobs is running" in step.error_message
    assert "another node-ops purge of jobs is running" in dry.result
    assert job_folders(dip_home) == before


def test_crash_between_rename_and_delete_is_finished_by_the_next_run(instance):
    dip_home, model, sim, h = instance
    trash = safedelete.Trash(dip_home, "jobs")
    os.makedirs(trash.path)
    victim = sorted((dip_home / "jobs" / "CHURN_MODEL").iterdir())[0]
    os.rename(victim, trash.path / ("deadbeef-" + victim.name))  # what a crash after the rename leaves
    assert trash.leftovers()
    step = h.run_step("purge-job-logs", {"retention_days": 3650, "dry_run": False})
    assert step.ok, step.stderr
    assert trash.leftovers() == []
    assert step.variables["nodeops_purge_job_logs_bytes_freed"] > 0
    assert step.variables["nodeops_purge_job_logs_deleted"] == 0


def test_undeletable_entry_is_reported_and_the_run_continues(instance):
    dip_home, model, sim, h = instance
    stuck = sorted((dip_home / "jobs" / "SALES_ANALYTICS").iterdir())[0]
    if subprocess.run(["chattr", "+i", str(stuck)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not supported on this filesystem")
    try:
        expected = expected_job_deletions(dip_home, model, 30, 5)
        step = h.run_step("purge-job-logs", {"retention_days": 30, "keep_last": 5, "dry_run": False})
    finally:
        subprocess.run(["chattr", "-i", str(stuck)], check=True)
    assert not step.ok and str(stuck) in step.stdout
    assert stuck.exists()
    assert step.variables["nodeops_purge_job_logs_deleted"] == len(expected) - 1


def test_entry_parked_but_not_removable_is_reported_then_finished_by_a_later_run(instance):
    """The rename into the trash succeeds, the removal (on the trash's threads) fails:
    the job is gone for DSS, not counted as deleted, reported; a later run finishes it."""
    dip_home, model, sim, h = instance
    expected = expected_job_deletions(dip_home, model, 30, 5)
    victim_key, victim_name = sorted(expected)[0]
    stuck_file = next(p for p in (dip_home / "jobs" / victim_key / victim_name).rglob("*") if p.is_file())
    if subprocess.run(["chattr", "+i", str(stuck_file)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not supported on this filesystem")
    trash = safedelete.Trash(dip_home, "jobs")
    try:
        step = h.run_step("purge-job-logs", {"retention_days": 30, "keep_last": 5, "dry_run": False})
        assert not step.ok and "could not be removed" in step.stdout and victim_name in step.stdout
        assert step.variables["nodeops_purge_job_logs_deleted"] == len(expected) - 1
        assert (victim_key, victim_name) not in job_folders(dip_home)
        assert [p.name.endswith(victim_name) for p in trash.leftovers()] == [True]
    finally:
        for p in trash.path.rglob("*"):
            subprocess.run(["chattr", "-i", str(p)], capture_output=True)
    again = h.run_step("purge-job-logs", {"retention_days": 30, "keep_last": 5, "dry_run": False})
    assert again.ok, again.stdout
    assert trash.leftovers() == [] and again.variables["nodeops_purge_job_logs_bytes_freed"] > 0

@pytest.mark.parametrize("config,message", [
    ({"projects_mode": "INCLUDED", "projects": ["../config"]}, "'projects' contains '../config'"),
    ({"projects_mode": "INCLUDED", "projects": "A/B"}, "'projects' contains 'A/B'"),
    ({"projects_mode": "INCLUDED"}, "'projects' must list at least one project key"),
    ({"retention_days": -1}, "'retention_days' must be an integer from 0 to 36500"),
    ({"projects_mode": "SOME"}, "'projects_mode' must be one of ALL, CURRENT, INCLUDED, ALL_BUT_EXCLUDED"),
])
def test_bad_parameters_are_refused_before_anything(instance, config, message):
    dip_home, model, sim, h = instance
    before = job_folders(dip_home)
    out = h.run_macro("purge-job-logs", dict(config, dry_run=False))
    assert not out.ok and message in out.error
    assert job_folders(dip_home) == before


def test_scope_current_included_excluded_and_orphans(instance):
    dip_home, model, sim, h = instance
    cfg = {"retention_days": 0, "keep_last": 0, "dry_run": False}
    h.run_step("purge-job-logs", dict(cfg, projects_mode="CURRENT"), project_key="MARKETING_DASH")
    left = job_folders(dip_home)
    assert {j for p, j in left if p == "MARKETING_DASH"} == set()
    assert {p for p, _ in left} >= {"SALES_ANALYTICS", "CHURN_MODEL", "OLD_POC"}
    h.run_step("purge-job-logs", dict(cfg, projects_mode="ALL_BUT_EXCLUDED", projects=["SALES_ANALYTICS"],
                                      include_orphans=False))
    left = job_folders(dip_home)
    assert {p for p, _ in left} == {"SALES_ANALYTICS", "OLD_POC", "CHURN_MODEL"} & {p for p, _ in left}
    assert any(p == "OLD_POC" for p, _ in left)  # orphans excluded
    assert len([1 for p, _ in left if p == "SALES_ANALYTICS"]) > 10
    h.run_step("purge-job-logs", dict(cfg, projects_mode="INCLUDED", projects="OLD_POC"))
    assert not any(p == "OLD_POC" for p, _ in job_folders(dip_home))


def test_non_admin_is_refused(instance):
    dip_home, model, sim, h = instance
    with pytest.raises(DSSRefused):
        h.run_macro("purge-job-logs", {}, user="alice")
    out = h.run_macro("purge-job-logs", {"dry_run": False}, user="alice", enforce_dss_permissions=False)
    assert not out.ok and out.error.startswith("permission denied")
    step = h.run_step("purge-job-logs", {"dry_run": False}, user="alice")
    assert not step.ok and "permission denied" in step.error_message


DAY_MS = 24 * 3600 * 1000
HOUR_MS = 3600 * 1000
#: Far zones: +14 h (a UTC time read as local looks 14 h older) and -11 h (11 h younger).
FAR_ZONES = {"Pacific/Kiritimati": 14, "Pacific/Pago_Pago": -11}


@pytest.fixture
def dense(new_instance, start_sim):
    """The demo instance plus a project whose jobs and runs are dense over 10 days, none running."""
    if not os.path.exists("/usr/share/zoneinfo/Pacific/Kiritimati"):
        pytest.skip("no tz database")
    spec = small_spec()
    spec["projects"].append({"key": "DENSE", "owner": "alice", "managed_datasets": 2,
                             "jobs": {"count": 300, "max_age_days": 10, "log_bytes": [100, 200]},
                             "scenarios": [{"id": "EVERY_2H", "runs": 120, "every_hours": 2}]})
    dip_home, model = new_instance(spec)
    return dip_home, model, start_sim(dip_home, model)


def _misread_window(starts, offset_hours, retention_days, now_ms):
    """Entries a purge reading the IDs as local time in a zone ``offset_hours`` from UTC would
    decide wrongly (more than 10 minutes from the cutoff, so the test's own duration cannot)."""
    cutoff = now_ms - retention_days * DAY_MS
    shift = offset_hours * HOUR_MS  # local reading: epoch = true start - shift
    margin = 10 * 60 * 1000
    return {n for n, t in starts.items() if (t >= cutoff + margin and t - shift < cutoff - margin)
            or (t < cutoff - margin and t - shift >= cutoff + margin)}


@pytest.mark.parametrize("zone", sorted(FAR_ZONES))
def test_job_ages_come_from_ids_read_as_utc_whatever_the_zone(dense, zone):
    """The time in a job ID is UTC (the one public example matches its initiationTimestamp
    exactly): the command line, run in a zone far from UTC, selects exactly the jobs older than
    the retention by DSS's own initiationTimestamp, and reports their true age."""
    dip_home, model, sim = dense
    now_ms = time.time() * 1000
    jobs = {j["def"]["id"]: j["def"]["initiationTimestamp"] for j in model["jobs"]["DENSE"]}
    days, margin = 5, 10 * 60 * 1000
    assert _misread_window(jobs, FAR_ZONES[zone], days, now_ms)  # entries a local-time reading gets wrong
    out = nodeops_cli.run("purge-job-logs", "--format", "json", "--dip-home", dip_home, "--url", sim.url,
                          "--api-key", sim.api_key("admin"), "--retention-days", days, "--keep-last", 0,
                          "--projects-mode", "INCLUDED", "--projects", "DENSE", extra_env={"TZ": zone})
    assert out.returncode == 0, out.stderr
    rows = {r["entry"]: r for r in next(t for t in json.loads(out.stdout)["tables"] if t["key"] == "entries")["rows"]}
    cutoff = now_ms - days * DAY_MS
    for name, start in jobs.items():
        if abs(start - cutoff) > margin:
            assert (name in rows) == (start < cutoff), (name, (now_ms - start) / DAY_MS)
    for name, row in rows.items():
        assert row["age_days"] == pytest.approx((now_ms - jobs[name]) / DAY_MS, abs=0.1)


@pytest.mark.parametrize("zone", sorted(FAR_ZONES))
def test_run_ages_come_from_ids_read_as_utc_whatever_the_zone(dense, monkeypatch, zone):
    """Scenario run IDs are read as UTC too: the step, run as DSS would start it on a host in a
    far zone, deletes exactly the runs that started before the cutoff (the run's start as DSS
    reports it)."""
    dip_home, model, sim = dense
    now_ms = time.time() * 1000
    runs = {r["runId"]: r["start"] for r in model["scenario_runs"]["DENSE"]["EVERY_2H"]}
    days, margin = 5, 10 * 60 * 1000
    assert _misread_window(runs, FAR_ZONES[zone], days, now_ms)
    monkeypatch.setenv("TZ", zone)  # inherited by the step's process
    step = Harness(sim).run_step("purge-scenario-logs", {"retention_days": days, "keep_last": 0, "dry_run": False,
                                                        "projects_mode": "INCLUDED", "projects": ["DENSE"]})
    assert step.ok, step.stderr
    left = {r.name for r in (dip_home / "scenarios" / "DENSE" / "EVERY_2H").iterdir()}
    cutoff = now_ms - days * DAY_MS
    for name, start in runs.items():
        if abs(start - cutoff) > margin:
            assert (name in left) == (start >= cutoff), (name, (now_ms - start) / DAY_MS)


def run_folders(dip_home):
    root = dip_home / "scenarios"
    return {(p.name, s.name, r.name) for p in root.iterdir() if not p.name.startswith(".")
            for s in p.iterdir() for r in s.iterdir()}


def test_scenario_runs_keep_last_per_scenario_and_running_runs(instance):
    dip_home, model, sim, h = instance
    running = {(k, sid, r["runId"]) for k, by in model["scenario_runs"].items() for sid, runs in by.items()
               for r in runs if "result" not in r}
    assert running
    step = h.run_step("purge-scenario-logs", {"retention_days": 0, "keep_last": 2, "dry_run": False})
    assert step.ok, step.stderr
    left = run_folders(dip_home)
    assert running <= left
    per_scenario = {}
    for p, s, r in left:
        per_scenario.setdefault((p, s), set()).add(r)
    for (p, s), runs in per_scenario.items():
        extra = {r for r in runs if (p, s, r) not in running}
        assert len(extra) <= 2, (p, s, runs)
    step = h.run_step("purge-scenario-logs", {"retention_days": 0, "keep_last": 0, "dry_run": False})
    assert run_folders(dip_home) == running
    assert step.variables["nodeops_purge_scenario_logs_kept_running"] == len(running)


def test_exports_older_than_retention_go(instance):
    dip_home, model, sim, h = instance
    exports = dip_home / "exports"
    now = dt.datetime.now().timestamp()
    ages = {e.name: (now - e.stat().st_mtime) / 86400 for e in exports.iterdir()}
    old = {n for n, a in ages.items() if a > 30.01}
    young = {n for n, a in ages.items() if a < 29.99}
    assert old and young
    step = h.run_step("purge-exports", {"retention_days": 30, "dry_run": False})
    assert step.ok, step.stderr
    left = {e.name for e in exports.iterdir() if not e.name.startswith(".")}
    assert left & old == set() and young <= left
    assert set(step.variables) == {"nodeops_purge_exports_" + k
                                   for k in ("seen", "deleted", "bytes_freed", "kept_recent", "errors")}
    assert step.variables["nodeops_purge_exports_deleted"] == len(old)


def test_demo_spec_has_what_the_tests_rely_on():
    spec = small_spec()
    assert any(p.get("jobs", {}).get("running") for p in spec["projects"])
    assert spec.get("orphan_projects")


def test_one_call_for_running_jobs_where_dss_offers_it(new_instance, start_sim):
    spec = dict(small_spec(), dss_version="15.2.0")
    dip_home, model = new_instance(spec)
    sim = start_sim(dip_home, model)
    running = running_job_ids(model)
    start = len(sim.hits)
    step = Harness(sim).run_step("purge-job-logs", {"retention_days": 0, "keep_last": 0, "dry_run": False})
    assert step.ok, step.stderr
    assert job_folders(dip_home) == running
    paths = [h.path for h in sim.hits[start:]]
    per_project = [p for p in paths if p.endswith("/jobs/")]
    import dataikuapi

    if hasattr(dataikuapi.DSSClient, "list_running_jobs"):
        assert paths.count("/dip/publicapi/jobs/running/") == 1 and per_project == []
    else:  # an older client: one call per project
        assert len(per_project) == len(model["jobs"])


def test_older_dss_falls_back_to_one_call_per_project(instance):
    dip_home, model, sim, h = instance
    start = len(sim.hits)
    step = h.run_step("purge-job-logs", {"retention_days": 0, "keep_last": 0, "dry_run": False})
    assert step.ok, step.stderr
    assert job_folders(dip_home) == running_job_ids(model)
    per_project = [x.path for x in sim.hits[start:] if x.path.endswith("/jobs/")]
    assert len(per_project) == len(set(per_project)) == len(model["jobs"])


# ---- what the purge reports say (issue 15) -----------------------------------------------------
def _report(out):
    from nodeops.render import report_from_html

    assert out.ok, out.traceback
    return report_from_html(out.result)


def test_job_entries_are_listed_largest_first_with_the_rule_that_applied(instance):
    dip_home, model, sim, h = instance
    report = _report(h.run_macro("purge-job-logs", {"retention_days": 30, "keep_last": 5}))
    rows = report.table("entries").rows
    assert len(rows) > 5
    sizes = [r["bytes"] for r in rows]
    assert sizes == sorted(sizes, reverse=True) and sizes[0] > sizes[-1]
    assert report.table("entries").title.endswith("(largest first)")
    reasons = {r["reason"] for r in rows}
    live = "older than 30 days, not among the 5 newest jobs of its project, not running"
    orphan = "older than 30 days, not among the 5 newest jobs of its project, project no longer in DSS"
    assert reasons == {live, orphan}
    assert all((r["reason"] == orphan) == r["project"].endswith(" (orphan)") for r in rows)
    assert all(r["age_days"] > 30 for r in rows)
    # keep_last 0: the rule is not mentioned
    again = _report(h.run_macro("purge-job-logs", {"retention_days": 1, "keep_last": 0}))
    assert {r["reason"] for r in again.table("entries").rows} == {
        "older than 1 day, not running", "older than 1 day, project no longer in DSS"}


def test_scenario_run_reasons_name_the_scenario(instance):
    dip_home, model, sim, h = instance
    report = _report(h.run_macro("purge-scenario-logs", {"retention_days": 0, "keep_last": 2}))
    rows = report.table("entries").rows
    assert rows and {r["reason"] for r in rows} <= {
        "older than 0 days, not among the 2 newest scenario runs of its scenario, not running",
        "older than 0 days, not among the 2 newest scenario runs of its scenario, project no longer in DSS"}


def test_export_rows_show_the_owner_and_no_rule_exports_do_not_have(instance):
    dip_home, model, sim, h = instance
    owners = {}
    for e in (dip_home / "exports").iterdir():
        meta = e / retention.GUESS_EXPORT_METADATA_FILE
        if meta.is_file():
            owners[e.name] = json.loads(meta.read_text())["requestedBy"]
    assert owners
    report = _report(h.run_macro("purge-exports", {"retention_days": 30}))
    table = report.table("entries")
    assert [c.key for c in table.columns] == ["entry", "owner", "age_days", "bytes", "reason"]
    assert table.rows and all(r["owner"] == owners[r["entry"]] for r in table.rows)
    assert {r["reason"] for r in table.rows} == {"older than 30 days"}  # no keep_last, no running state
    html = h.run_macro("purge-exports", {"retention_days": 30}).result
    assert "newest" not in html.split('data-table="entries"')[1] and "running" not in html.split('data-table="entries"')[1]
    # an export whose metadata is missing, or a link, says nothing rather than something wrong
    victim = sorted(table.rows, key=lambda r: r["entry"])[0]["entry"]
    folder = dip_home / "exports" / victim
    st = folder.stat()
    (folder / retention.GUESS_EXPORT_METADATA_FILE).unlink()
    os.symlink(dip_home / "exports" / sorted(owners)[-1] / retention.GUESS_EXPORT_METADATA_FILE,
               folder / retention.GUESS_EXPORT_METADATA_FILE)
    os.utime(folder, ns=(st.st_atime_ns, st.st_mtime_ns))  # still as old (its age is the folder's mtime)
    again = _report(h.run_macro("purge-exports", {"retention_days": 30}))
    assert {r["entry"]: r["owner"] for r in again.table("entries").rows}[victim] == ""


def test_an_age_just_over_the_retention_does_not_look_like_an_off_by_one(instance):
    from nodeops.render import format_value

    dip_home, model, sim, h = instance
    folder = dip_home / "exports" / "justoverthirtyd"
    folder.mkdir()
    (folder / "export.csv").write_text("a,b\n")
    then = time.time() - 30.4 * 86400
    os.utime(folder, (then, then))
    report = _report(h.run_macro("purge-exports", {"retention_days": 30}))
    (row,) = [r for r in report.table("entries").rows if r["entry"] == "justoverthirtyd"]
    assert abs(row["age_days"] - 30.4) < 0.01 and row["reason"] == "older than 30 days"
    assert "30.4" in format_value(row["age_days"], "days")  # not "30 days" beside "older than 30 days"


def test_only_the_largest_entries_are_listed_when_there_are_too_many(instance, monkeypatch):
    from nodeops.context import Context
    from nodeops.operations import get

    dip_home, model, sim, h = instance
    op = get("purge-exports")
    ctx = Context(dip_home=dip_home, user="admin", is_admin=True)
    everything = op.run(ctx, op.parse({"retention_days": 30})).table("entries")
    assert len(everything.rows) > 3
    monkeypatch.setattr(retention, "MAX_LISTED", 3)
    capped = op.run(ctx, op.parse({"retention_days": 30}))
    table = capped.table("entries")
    assert [r["bytes"] for r in table.rows] == [r["bytes"] for r in everything.rows][:3]
    assert table.title.endswith("(the 3 largest of %d)" % len(everything.rows))
    assert {f.key: f.value for f in capped.summary}["deleted"] == len(everything.rows)
    # exported as a result table, the cut is a row: DSS's table view shows no title
    from dssbench.dataiku_stub.dataiku.runnables import ResultTable
    from nodeops import render

    rt = json.loads(render.to_result_table(capped, ResultTable, "entries", lambda report, row: "would delete").to_json())
    assert len(rt["records"]) == 4 and rt["records"][-1][0] == "not listed"
    assert "%d more not listed" % (len(everything.rows) - 3) in " ".join(rt["records"][-1])


# ---- the table face: purge-<family>-table, declared RESULT_TABLE ------------------------------
def test_the_table_macro_returns_what_would_be_deleted_as_a_result_table(instance):
    dip_home, model, sim, h = instance
    config = {"retention_days": 30, "keep_last": 5}
    html = _report(h.run_macro("purge-job-logs", config)).table("entries").rows
    out = h.run_macro("purge-job-logs-table", config)
    assert out.ok, out.traceback
    assert out.result_kind == "result_table"  # read as DSS reads a RESULT_TABLE macro's result
    table = out.result
    names = [c["name"] for c in table["columns"]]
    assert names == ["outcome", "project", "entry", "age_days", "bytes", "bytes_exact", "reason"]
    records = [dict(zip(names, r)) for r in table["records"]]
    assert [r["entry"] for r in records] == [r["entry"] for r in html]  # the same rows, largest first
    assert [int(r["bytes_exact"]) for r in records] == [r["bytes"] for r in html]
    assert {r["outcome"] for r in records} == {"would delete"}
    assert "dry run" in table["header"] and table["name"] == "Purge job logs"
    assert job_folders(dip_home) >= {(r["project"].replace(" (orphan)", ""), r["entry"]) for r in records}


def test_the_table_macro_through_the_dss_api_deletes_and_lists_errors_as_rows(instance):
    from dataikuapi import DSSClient
    from dssbench.harness import DEFAULT_STEP_PROJECT

    dip_home, model, sim, h = instance
    sim.inject(r"/projects/CHURN_MODEL/jobs/$", status=500)
    before = job_folders(dip_home)
    macro = DSSClient(sim.url, sim.api_key("admin")).get_project(DEFAULT_STEP_PROJECT).get_macro(
        "pyrunnable_node-ops_purge-job-logs-table")
    run_id = macro.run(params={"retention_days": 30, "keep_last": 5, "dry_run": False}, wait=True)
    table = macro.get_result(run_id, as_type="json")
    names = [c["name"] for c in table["columns"]]
    records = [dict(zip(names, r)) for r in table["records"]]
    deleted = [r for r in records if r["outcome"] == "deleted"]
    assert deleted and {(r["project"].replace(" (orphan)", ""), r["entry"]) for r in deleted} == \
        before - job_folders(dip_home)
    (error,) = [r for r in records if r["outcome"] == "error"]
    assert error["reason"].startswith("project CHURN_MODEL: nothing deleted") and error["entry"] == ""


def test_the_exports_table_has_the_owner(instance):
    dip_home, model, sim, h = instance
    out = h.run_macro("purge-exports-table", {"retention_days": 30})
    assert out.ok, out.traceback
    names = [c["name"] for c in out.result["columns"]]
    assert names == ["outcome", "entry", "owner", "age_days", "bytes", "bytes_exact", "reason"]
    assert out.result["records"] and all(dict(zip(names, r))["owner"] for r in out.result["records"])
