"""User Isolation: every scheduled node-ops job works when only the DSS service account can read DIP_HOME.

The bench's User Isolation mode (tests run as root): DIP_HOME belongs to a "service account" uid,
mode 0700; macros declared ``"impersonate": false`` run as that uid, steps and impersonated macros
as another uid (the "end user"). The administration project is set up with setup-admin-project,
then every scenario it generates is run through the API and its effect checked. A step whose
operation reads DIP_HOME hands that work to the plugin's macro of the same id; without that (the
code path before), the same scenario fails. The delegation is also checked with User Isolation off:
scenario variables, static insight, failure message identical to the local run, refusals, timeouts.
"""

import datetime as dt
import os
import re
import shutil
import stat
import subprocess
import time
from pathlib import Path

import pytest

from dssbench import harness
from dssbench.harness import Harness, UserIsolation, run_scenario_and_wait
from dssbench.simulator import DSSSimulator

ROOT = Path(__file__).resolve().parents[2]
WHY_NOT = harness.isolation_unavailable()
needs_isolation = pytest.mark.skipif(WHY_NOT is not None, reason=str(WHY_NOT))
MODES = [pytest.param(True, id="isolation-on", marks=needs_isolation), pytest.param(False, id="isolation-off")]
DAY_MS = 24 * 3600 * 1000


def spec():
    """A small instance: old and new job logs, scenario runs and exports, saved models with old
    versions, two notebook sessions (one idle for 50 h), nothing that fails the audit or the
    health check."""
    return {
        "seed": 11, "dss_version": "14.2.1",
        "projects": [{"key": "SALES", "name": "Sales", "owner": "alice", "managed_datasets": 1, "saved_models": 8,
                      "jobs": {"count": 40, "max_age_days": 90, "running": 1, "log_bytes": [500, 2000]},
                      # inactive: its failed runs do not count for the health check
                      "scenarios": [{"id": "NIGHTLY", "runs": 40, "every_hours": 24, "active": False}],
                      "notebooks": [{"name": "explore", "sessions": [
                          {"owner": "alice", "memory_mb": 20, "state": "idle", "idle_hours": 50, "age_hours": 60,
                           "connections": 0},
                          {"owner": "bob", "memory_mb": 20, "state": "idle", "idle_hours": 1, "age_hours": 2,
                           "connections": 0}]}]},
                     {"key": "OPS", "name": "Operations", "owner": "admin", "managed_datasets": 0}],
        "exports": {"count": 6, "max_age_days": 90},
    }


@pytest.fixture(scope="module")
def iso():
    if WHY_NOT is not None:
        pytest.skip(WHY_NOT)
    return UserIsolation()


@pytest.fixture
def instance(tmp_path, request):
    """instance(isolated, spec=None) -> (sim, harness, client) over a fresh instance; with ``isolated``
    the DIP_HOME only the service account reads and the simulator in User Isolation mode."""
    from dataikuapi import DSSClient

    started, private = [], []

    def make(isolated, the_spec=None, plugins=None):
        if isolated:
            ui = request.getfixturevalue("iso")
            dip_home, model = harness.private_dip_home(the_spec or spec(), ui.service)
            private.append(dip_home)
        else:
            ui = None
            from dssbench.datadir import build_datadir

            dip_home = tmp_path / ("dss_data_%d" % len(started))
            model = build_datadir(the_spec or spec(), dip_home)
        sim = DSSSimulator(dip_home, model, plugins=plugins or {"node-ops": ROOT}, user_isolation=ui).start()
        started.append(sim)
        return sim, Harness(sim), DSSClient(sim.url, sim.api_key("admin"))

    yield make
    for sim in started:
        sim.stop()
    for d in private:
        harness.remove_private_dip_home(d)


def step_errors(run):
    return [(s["step"]["name"], s["result"]["outcome"], (s["result"].get("thrown") or {}).get("message"))
            for s in run.get_details().steps]


def setup_admin_project(h, backup_dir=None):
    config = {"dry_run": False, "activate": True}
    if backup_dir:
        config["backup_dir"] = str(backup_dir)
    out = h.run_macro("setup-admin-project", config)
    assert out.ok, out.traceback
    return out


def executions(sim, kind, component_id):
    return [e for e in sim.executions if e["kind"] == kind and e["id"] == component_id]


_ID_TIME = re.compile(r"(\d{4})-(\d{2})-(\d{2})[T-](\d{2})-(\d{2})-(\d{2})[.-](\d{3})$")


def id_ms(name):
    """The time inside a job or run ID, read as UTC (a day of margin is kept for any zone)."""
    m = _ID_TIME.search(name)
    y, mo, d, h, mi, s, ms = (int(x) for x in m.groups())
    return int(dt.datetime(y, mo, d, h, mi, s, ms * 1000, tzinfo=dt.timezone.utc).timestamp() * 1000)


def check_retention(before, after, now_ms, retention_days=30, keep_last=20, running=()):
    """Entries gone are old and beyond the newest kept; the newest and the running are kept;
    entries old by more than a day of margin and beyond the newest kept are gone."""
    newest_first = sorted(before, key=id_ms, reverse=True)
    gone = set(before) - set(after)
    assert gone, "nothing was purged"
    assert not set(after) - set(before)
    assert set(newest_first[:keep_last]) <= set(after)
    assert set(running) <= set(after)
    for name in newest_first[keep_last:]:
        age_days = (now_ms - id_ms(name)) / DAY_MS
        if age_days > retention_days + 1 and name not in running:
            assert name in gone, "%s is %.1f days old and was kept" % (name, age_days)
        if age_days < retention_days - 1:
            assert name not in gone, "%s is %.1f days old and was deleted" % (name, age_days)


def findings(text):
    """The "[SEVERITY] title" of each finding a step logged."""
    return sorted(line.split(":")[0].strip() for line in text.splitlines() if line.strip().startswith("["))


def listing(path):
    return sorted(p.name for p in Path(path).iterdir() if not p.name.startswith("."))


def folder_files(client, folder_name):
    project = client.get_project("ADMIN")
    folders = {f["name"]: f["id"] for f in project.list_managed_folders()}
    assert folder_name in folders, folders
    return [i["path"] for i in project.get_managed_folder(folders[folder_name]).list_contents()["items"]]


# ---- the mode is real --------------------------------------------------------------------------
@needs_isolation
def test_the_mode_is_real_only_the_service_account_reads_dip_home(instance, iso, client_version):
    sim, h, client = instance(True)
    # its processes run the plugin from the runtime, with the client this run tests (12.6.4 in the compat run)
    version = iso.run_python(iso.user, "from importlib.metadata import version; print(version('dataiku-api-client'))",
                             env={"PYTHONPATH": iso.runtime.pythonpath(ROOT)})
    assert version.stdout.strip() == client_version, version.stderr
    dip_home = sim.state.dip_home
    st = dip_home.stat()
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (iso.service.uid, 0o700)
    code = "import os\ntry:\n    print(len(os.listdir(%r)))\nexcept PermissionError:\n    print('denied')\n" % str(dip_home)
    assert iso.run_python(iso.user, code).stdout.strip() == "denied"
    assert int(iso.run_python(iso.service, code).stdout.strip()) > 5
    # a step runs as the end user, a macro declared impersonate: false as the service account
    assert iso.step_account() == iso.user
    assert iso.macro_account(h.runnable_json("capacity-report")) == iso.service
    assert iso.macro_account(h.runnable_json("cull-kernels")) == iso.user
    assert iso.macro_account(h.runnable_json("setup-admin-project")) == iso.user
    # what the simulated backend writes into DIP_HOME belongs to the service account
    client.get_project("OPS").create_managed_folder("probe")
    config = next((dip_home / "config" / "projects" / "OPS" / "managed_folders").glob("*.json"))
    assert config.stat().st_uid == iso.service.uid
    assert config.parent.stat().st_uid == iso.service.uid


# ---- every generated scenario, end to end, under User Isolation ---------------------------------
@needs_isolation
def test_every_generated_scenario_runs_end_to_end_under_user_isolation(instance, iso):
    sim, h, client = instance(True)
    dip_home = sim.state.dip_home
    backup_dir = dip_home.parent / "backups"  # the service account can write there, the end user cannot
    backup_dir.mkdir()
    os.chown(str(backup_dir), iso.service.uid, iso.service.gid)
    os.chmod(str(backup_dir), 0o700)
    setup_admin_project(h, backup_dir)
    project = client.get_project("ADMIN")
    scenarios = {s["id"] for s in project.list_scenarios()}
    assert scenarios == {"NIGHTLY_CLEANUP", "KERNEL_CULLING", "CAPACITY_REPORT", "CONFIG_AUDIT", "MONITORING",
                         "BACKUP", "RECLAIM_DISK"}
    jobs_before = listing(dip_home / "jobs" / "SALES")
    runs_before = listing(dip_home / "scenarios" / "SALES" / "NIGHTLY")
    exports_before = listing(dip_home / "exports")
    running_jobs = [j["def"]["id"] for j in sim.state.model["jobs"]["SALES"] if not j["stableState"]]
    kernels = {s["sessionCreator"]: sim.state.kernels[s["sessionId"]] for nb in sim.state.model["notebooks"]["SALES"]
               for s in nb["sessions"]}
    now_ms = int(time.time() * 1000)
    runs = {}
    # In the order of their schedules: BACKUP (01:00 daily) before CONFIG_AUDIT (Monday 07:00), which
    # checks the backup folder of the setup; MONITORING last: its health check counts failed runs
    versions_before = {p.name for p in dip_home.glob("saved_models/*/*/versions/*")}
    for sid in ("NIGHTLY_CLEANUP", "KERNEL_CULLING", "CAPACITY_REPORT", "BACKUP", "CONFIG_AUDIT", "RECLAIM_DISK",
                "MONITORING"):
        run = runs[sid] = run_scenario_and_wait(project.get_scenario(sid))
        assert run.outcome == "SUCCESS", (sid, step_errors(run))
        assert [o for _, o, _ in step_errors(run)] == ["SUCCESS"] * len(run.get_details().steps)
        assert project.get_scenario(sid).get_last_runs(limit=1)[0].id == run.id

    # logs purged: old job and scenario run folders gone, the newest and the running kept
    check_retention(jobs_before, listing(dip_home / "jobs" / "SALES"), now_ms, running=running_jobs)
    check_retention(runs_before, listing(dip_home / "scenarios" / "SALES" / "NIGHTLY"), now_ms)
    exports_after = listing(dip_home / "exports")
    assert exports_after and len(exports_after) < len(exports_before)
    # the purges read and deleted as the service account; their steps ran as the end user
    for op in ("purge-job-logs", "purge-scenario-logs", "purge-exports"):
        assert [e["uid"] for e in executions(sim, "step", op)] == [iso.user.uid]
        assert [e["uid"] for e in executions(sim, "macro", op)] == [iso.service.uid]
    variables = sim.state.scenario_variables[("ADMIN", "NIGHTLY_CLEANUP", runs["NIGHTLY_CLEANUP"].id)]
    assert variables["nodeops_purge_job_logs_deleted"] == len(jobs_before) - len(listing(dip_home / "jobs" / "SALES"))

    # the weekly reclaim deleted old saved-model versions through the API, as the service account; never an active one
    versions_after = {p.name for p in dip_home.glob("saved_models/*/*/versions/*")}
    assert versions_after < versions_before
    active = {sm["activeVersion"] for sms in sim.state.model["saved_models"].values() for sm in sms}
    assert active <= versions_after
    assert [e["uid"] for e in executions(sim, "step", "reclaim-disk")] == [iso.user.uid]
    assert [e["uid"] for e in executions(sim, "macro", "reclaim-disk")] == [iso.service.uid]

    # kernel culling ran impersonated, through the API only: the forgotten kernel is gone
    assert [e["uid"] for e in executions(sim, "step", "cull-kernels")] == [iso.user.uid]
    assert executions(sim, "macro", "cull-kernels") == []
    assert not kernels["alice"].alive() and kernels["bob"].alive()

    # capacity snapshot written (history folder), report saved as a static insight
    month = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m")
    assert "/capacity-%s.csv" % month in folder_files(client, "node_ops_capacity_history")
    history = next(dip_home.glob("managed_folders/ADMIN/*/capacity-%s.csv" % month))
    assert history.stat().st_uid == iso.service.uid
    assert ("ADMIN", "node-ops-capacity-report") in sim.state.insight_data
    capacity = sim.state.scenario_variables[("ADMIN", "CAPACITY_REPORT", runs["CAPACITY_REPORT"].id)]
    assert capacity["nodeops_capacity_report_dip_home_files"] > 100  # the walk read DIP_HOME

    # audit insight saved
    assert ("ADMIN", "node-ops-config-audit") in sim.state.insight_data
    assert [e["uid"] for e in executions(sim, "macro", "config-audit")] == [iso.service.uid]

    # backup archive made, by the service account
    archives = list(backup_dir.glob("dss-backup-CONFIG-*.tar.gz"))
    assert len(archives) == 1
    st = archives[0].stat()
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (iso.service.uid, 0o600)

    # metrics written (history), health checked, both as the end user
    day = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d")
    assert "/metrics-%s.csv" % day in folder_files(client, "node_ops_metrics_history")
    assert [e["uid"] for e in executions(sim, "step", "health-check")] == [iso.user.uid]


def _without_delegation(tmp_path):
    """A copy of the plugin whose steps run everything in their own process (the code path before)."""
    variant = tmp_path / "node-ops-local"
    if variant.is_dir():
        return variant
    variant.mkdir()
    for part in ("plugin.json", "python-lib", "python-runnables", "python-steps", "resource"):
        src = ROOT / part
        (shutil.copytree if src.is_dir() else shutil.copy)(str(src), str(variant / part))
    for step in (variant / "python-steps").iterdir():
        (step / "step.py").write_text("from nodeops.dss import run_step\n\nrun_step(%r, delegate=False)\n" % step.name)
    return variant


@needs_isolation
def test_without_delegation_the_same_scenario_fails_under_user_isolation(instance, iso, tmp_path):
    sim, h, client = instance(True, plugins={"node-ops": _without_delegation(tmp_path)})
    setup_admin_project(h)
    run = run_scenario_and_wait(client.get_project("ADMIN").get_scenario("CAPACITY_REPORT"))
    assert run.outcome == "FAILED"
    [(name, outcome, message)] = step_errors(run)
    assert outcome == "FAILED"
    assert message.startswith("DIP_HOME %s cannot be read by this process (permission denied)" % sim.state.dip_home)
    assert [e["uid"] for e in executions(sim, "step", "capacity-report")] == [iso.user.uid] * 2  # one retry
    assert executions(sim, "macro", "capacity-report") == []


# ---- the delegation, with User Isolation on and off ----------------------------------------------
@pytest.mark.parametrize("isolated", MODES)
def test_delegated_step_keeps_variables_insight_and_log_of_the_local_run(instance, tmp_path, isolated):
    sim, h, _ = instance(isolated)
    step = h.run_step("config-audit", {"fail_severity": "FAIL"}, project_key="OPS")
    assert step.ok, step.stderr
    [macro] = executions(sim, "macro", "config-audit")
    assert macro["config"] == {} and macro["login"] == "admin"  # fail_severity is the step's own: not sent
    assert [i["id"] for i in step.insights] == ["node-ops-config-audit"]
    assert "Configuration audit" in step.stdout and "[PASS]" in step.stdout
    if not isolated:  # the same step run locally, as before: the same variables and findings
        local = Harness(sim, _without_delegation(tmp_path)).run_step("config-audit", {"fail_severity": "FAIL"}, project_key="OPS")
        assert local.ok and local.variables == step.variables
        assert findings(local.stdout) == findings(step.stdout)
        assert len(executions(sim, "macro", "config-audit")) == 1
    assert step.variables["nodeops_config_audit_fail"] == 0 and step.variables["nodeops_config_audit_pass"] > 0


@pytest.mark.parametrize("isolated", MODES)
def test_delegated_step_fails_exactly_when_and_as_the_local_run_does(instance, tmp_path, isolated):
    sim, h, _ = instance(isolated)
    stuck = sorted((sim.state.dip_home / "jobs" / "SALES").iterdir(), key=lambda p: id_ms(p.name))[0]
    if subprocess.run(["chattr", "+i", str(stuck)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not supported on this filesystem")
    try:
        config = {"retention_days": 30, "keep_last": 5, "dry_run": False}
        failed = h.run_step("purge-job-logs", config, project_key="OPS")
        # fail_on_error is the step's own: the macro is not given it, the step applies it
        tolerated = h.run_step("purge-job-logs", dict(config, fail_on_error=False), project_key="OPS")
        local = Harness(sim, _without_delegation(tmp_path)).run_step("purge-job-logs", config, project_key="OPS") \
            if not isolated else None
    finally:
        subprocess.run(["chattr", "-i", str(stuck)], check=True)
    assert not failed.ok
    assert failed.error_message.startswith("nodeops.dss.StepFailed: Purge job logs: 1 error(s); first: %s" % stuck)
    assert failed.variables["nodeops_purge_job_logs_errors"] == 1
    assert tolerated.ok, tolerated.stderr
    assert tolerated.variables["nodeops_purge_job_logs_errors"] == 1
    assert [e["config"] for e in executions(sim, "macro", "purge-job-logs")] == [config, config]
    if local is not None:  # the same step run in its own process, as before: the same failure
        assert not local.ok and local.error_message == failed.error_message


@pytest.mark.parametrize("isolated", MODES)
def test_refusals_are_the_local_run_s(instance, isolated):
    sim, h, client = instance(isolated)
    # a non-administrator's scenario: the plain refusal, and DSS is never asked to run the macro
    alice = harness.Harness(sim)
    step = alice.run_step("capacity-report", {}, user="alice", project_key="SALES")
    assert step.error_message == ("nodeops.errors.PermissionRefused: permission denied: node-ops macros require a "
                                  "DSS administrator (user 'alice' is not one)")
    bad = h.run_step("capacity-report", {"top_n": 0}, project_key="OPS")
    assert bad.error_message.startswith("nodeops.errors.ParameterError: capacity-report: invalid parameters: "
                                        "'top_n' must be an integer from 1 to 1000")
    assert executions(sim, "macro", "capacity-report") == []
    # a node-ops error raised in the macro comes back as the same error, same message
    (sim.state.dip_home / "dss-version.json").rename(sim.state.dip_home / "dss-version.json.away")
    gone = h.run_step("capacity-report", {}, project_key="OPS")
    assert gone.error_message == ("nodeops.errors.Unavailable: %s does not look like a DSS data directory "
                                  "(no dss-version.json)" % sim.state.dip_home)


@pytest.mark.parametrize("isolated", MODES)
def test_a_scenario_of_a_non_administrator_is_refused_in_plain_words(instance, isolated):
    from dataikuapi import DSSClient

    sim, h, _ = instance(isolated)
    alice = DSSClient(sim.url, sim.api_key("alice")).get_project("SALES")
    scenario = alice.create_scenario("Alice's purge", "step_based")
    settings = scenario.get_settings()
    settings.get_raw()["params"]["steps"] = [{"id": "p", "type": "pystep_node-ops_purge-exports", "name": "Purge",
                                              "runConditionType": "RUN_IF_STATUS_MATCH",
                                              "runConditionStatuses": ["SUCCESS", "WARNING"],
                                              "params": {"config": {"dry_run": True}}}]
    settings.save()
    run = run_scenario_and_wait(scenario)
    assert run.outcome == "FAILED"
    assert step_errors(run) == [("Purge", "FAILED", "permission denied: node-ops macros require a DSS administrator "
                                                    "(user 'alice' is not one)")]
    assert executions(sim, "macro", "purge-exports") == []


@pytest.mark.parametrize("isolated", MODES)
def test_api_timeouts_still_apply_to_the_handed_over_work(instance, monkeypatch, isolated):
    sim, h, _ = instance(isolated)
    monkeypatch.setenv("NODEOPS_API_TIMEOUT", "1")
    sim.inject(r"/runnables/pyrunnable_node-ops_purge-exports/state/", status=None, delay=3, times=1)
    t0 = time.time()
    slow = h.run_step("purge-exports", {}, project_key="OPS")
    assert time.time() - t0 < 15
    assert not slow.ok
    assert "the DSS API did not answer in time (asking whether macro pyrunnable_node-ops_purge-exports is done)" \
        in slow.error_message
    sim.clear_faults()
    sim.inject(r"/runnables/pyrunnable_node-ops_purge-exports$", status=None, delay=3, method="POST", times=1)
    start = h.run_step("purge-exports", {}, project_key="OPS")
    assert "did not answer in time (starting macro pyrunnable_node-ops_purge-exports)" in start.error_message
    sim.clear_faults()
    # a macro that runs longer than the timeout is fine: each call is bounded, not the macro
    sim.inject(r"/projects/[A-Z]+/jobs/$", status=None, delay=0.7)  # every call stays under the 1 s timeout,
    sim.inject(r"/projects/$", status=None, delay=0.7, method="GET")  # the macro's run does not
    long_one = h.run_step("purge-job-logs", {}, project_key="OPS")
    assert long_one.ok, long_one.stderr
    assert executions(sim, "macro", "purge-job-logs")[-1]["seconds"] > 1.2


@pytest.mark.parametrize("isolated", MODES)
def test_a_macro_that_never_ends_does_not_hold_the_step_forever(instance, monkeypatch, isolated):
    """Every call answers in time, but DSS says "running" for longer than the step may wait: the
    step ends, says so, and asks DSS to abort the macro it gave up on."""
    sim, h, _ = instance(isolated)
    monkeypatch.setenv("NODEOPS_MACRO_MAX_WAIT", "2")
    sim.inject(r"/projects/[A-Z]+/jobs/$", status=None, delay=4)  # the macro's own calls: slow, not failing
    t0 = time.time()
    out = h.run_step("purge-job-logs", {}, project_key="OPS")
    assert time.time() - t0 < 12
    assert not out.ok
    assert ("macro pyrunnable_node-ops_purge-job-logs was still running after 2 s ($NODEOPS_MACRO_MAX_WAIT)"
            in out.error_message), out.stderr
    aborts = [x for x in sim.hits if x.method == "POST" and "/runnables/pyrunnable_node-ops_purge-job-logs/abort/"
              in x.path]
    assert len(aborts) == 1 and aborts[0].status == 200, sim.hits[-5:]


def test_a_bad_macro_wait_limit_is_refused_before_anything_runs(instance, monkeypatch):
    sim, h, _ = instance(False)
    monkeypatch.setenv("NODEOPS_MACRO_MAX_WAIT", "soon")
    out = h.run_step("purge-exports", {}, project_key="OPS")
    assert not out.ok and "$NODEOPS_MACRO_MAX_WAIT" in out.error_message, out.stderr
    assert executions(sim, "macro", "purge-exports") == []


def test_a_macro_result_that_is_not_the_step_s_report_fails_the_step(instance, tmp_path):
    """The macro of the same id answers with a node-ops report of another operation (a plugin
    installed from mixed versions, a runnable edited by hand): the step fails, it does not take
    that report (its figures, its success) as its own."""
    plugin = tmp_path / "node-ops"
    shutil.copytree(ROOT, plugin, ignore=shutil.ignore_patterns(".git", ".venv", "tests", "__pycache__", "*.pyc"))
    runnable = plugin / "python-runnables" / "purge-exports" / "runnable.py"
    edited = runnable.read_text().replace('macro_id = "purge-exports"', 'macro_id = "purge-job-logs"')
    assert edited != runnable.read_text()
    runnable.write_text(edited)
    sim, h, _ = instance(False, plugins={"node-ops": plugin})
    h = Harness(sim, plugin_dir=plugin)
    out = h.run_step("purge-exports", {}, project_key="OPS")
    assert not out.ok, out.stdout
    assert ("the result of macro pyrunnable_node-ops_purge-exports is a report of 'purge-job-logs', not of "
            "purge-exports") in out.error_message, out.stderr
    assert executions(sim, "macro", "purge-exports")[-1]["outcome"].ok
