"""Scenarios through dataikuapi: list, settings round trip, create, status, run/abort, run history, logs.

Reference: dss-rest-api-and-datadir.md section B, "Scenarios". Runs are aborted by
the test that starts them, so the module's shared instance ends as it began
(apart from the extra runs and scenarios the tests create).
"""

import datetime as dt
import json
import re

import pytest
from dataikuapi.dss.scenario import DSSScenario, DSSScenarioRun, StepBasedScenarioSettings
from dataikuapi.utils import DataikuException

KEY = "SALES_ANALYTICS"
RUN_ID_RE = re.compile(r"^\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d-\d{3}$")
OUTCOMES = {"SUCCESS", "WARNING", "FAILED", "ABORTED"}
RUN_FIELDS = {"runId": str, "start": int, "end": int, "scenario": dict, "trigger": dict}


def scenario_file(sim, key, sid):
    return sim.state.dip_home / "config" / "projects" / key / "scenarios" / ("%s.json" % sid)


def test_list_scenarios_items(admin_client, sim, shape):
    items = admin_client.get_project(KEY).list_scenarios()
    ids = set()
    for item in items:
        raw = dict(item)
        shape(raw, {"id": str, "name": str, "projectKey": str, "running": bool, "start": int, "tags": list,
                    "active": bool, "type": str}, "list_scenarios item")
        # Known client bug (scenario.py:1156): DSSScenarioListItem.id returns the *name*.
        assert item.id == raw["name"]
        ids.add(raw["id"])
    assert {"NIGHTLY_BUILD", "HOURLY_REFRESH"} <= ids
    assert ids == set(sim.state.scenario_ids(KEY))
    by_id = {dict(i)["id"]: i for i in items}
    assert by_id["HOURLY_REFRESH"].running is True and dict(by_id["HOURLY_REFRESH"])["start"] > 0
    assert dict(by_id["NIGHTLY_BUILD"])["running"] is False
    objects = admin_client.get_project(KEY).list_scenarios(as_type="objects")
    assert all(isinstance(o, DSSScenario) for o in objects)
    assert {o.id for o in objects} == ids


def test_get_settings_shape(admin_client, shape):
    settings = admin_client.get_project(KEY).get_scenario("NIGHTLY_BUILD").get_settings()
    assert isinstance(settings, StepBasedScenarioSettings)
    raw = settings.get_raw()
    shape(raw, {"projectKey": str, "id": str, "name": str, "type": str, "active": bool, "triggers": list,
                "reporters": list, "params": dict}, "scenario settings")
    assert (raw["projectKey"], raw["id"], raw["type"]) == (KEY, "NIGHTLY_BUILD", "step_based")
    assert isinstance(settings.raw_steps, list) and isinstance(settings.raw_triggers, list)
    # runAsUser if set, else versionTag.lastModifiedBy.login: someone the scenario runs as
    assert settings.effective_run_as in {"admin", "alice", "bob"}


def test_settings_round_trip_persists_steps_and_triggers(admin_client, sim, connect):
    """What was saved comes back, with what DSS adds (normalisation: tests/contract/test_normalisation.py)."""
    project = admin_client.get_project(KEY)
    scenario = project.create_scenario("Contract round trip", "step_based")
    settings = scenario.get_settings()
    assert settings.raw_steps == [] and settings.raw_triggers == []
    step = {"id": "build_1", "type": "build_flowitem", "name": "Build",
            "runConditionType": "RUN_IF_STATUS_MATCH", "runConditionStatuses": ["SUCCESS", "WARNING"],
            "runConditionExpression": "", "resetScenarioStatus": False, "delayBetweenRetries": 10,
            "maxRetriesOnFail": 0, "params": {"builds": [{"type": "DATASET", "itemId": "sales_raw"}],
                                              "proceedOnFailure": False}}
    settings.raw_steps.append(step)
    settings.add_periodic_trigger(7)
    settings.save()

    reread = connect(sim).get_project(KEY).get_scenario(scenario.id).get_settings()
    (trigger,) = reread.raw_triggers
    assert {k: trigger[k] for k in ("active", "type", "params")} == {
        "active": True, "type": "temporal", "params": {"frequency": "Minutely", "repeatFrequency": 7}}
    assert reread.raw_steps == [step]
    assert reread.get_raw()["versionTag"]["lastModifiedBy"]["login"] == "admin"
    on_disk = json.loads(scenario_file(sim, KEY, scenario.id).read_text())
    assert on_disk["triggers"] == [trigger] and on_disk["params"]["steps"] == [step]


def test_create_scenario_is_listed_and_written_to_config(admin_client, sim, shape):
    project = admin_client.get_project(KEY)
    scenario = project.create_scenario("Contract created", "step_based")
    assert isinstance(scenario, DSSScenario) and isinstance(scenario.id, str) and scenario.id
    raw = scenario.get_settings().get_raw()
    assert raw["name"] == "Contract created" and raw["params"]["steps"] == []
    assert scenario_file(sim, KEY, scenario.id).is_file()
    assert scenario.id in {dict(i)["id"] for i in project.list_scenarios()}


def test_custom_python_scenario_has_a_script_payload(admin_client, sim):
    scenario = admin_client.get_project(KEY).create_scenario("Contract python", "custom_python")
    settings = scenario.get_settings()  # also GETs .../payload
    assert settings.code == ""
    settings.code = "print('hello')\n"
    settings.save()
    assert scenario.get_settings().code == "print('hello')\n"
    script = sim.state.dip_home / "config" / "projects" / KEY / "scenarios" / ("%s.py" % scenario.id)
    assert script.read_text() == "print('hello')\n"


def test_get_status(admin_client, shape):
    project = admin_client.get_project(KEY)
    status = project.get_scenario("HOURLY_REFRESH").get_status()
    shape(status.get_raw(), {"running": bool, "active": bool, "nextRun": int, "start": int}, "scenario light")
    assert status.running is True
    idle = project.get_scenario("NIGHTLY_BUILD").get_status()
    assert idle.running is False
    assert idle.next_run is None  # nextRun 0 means none


def test_run_shows_a_running_run_then_abort_makes_it_aborted(admin_client, sim, shape):
    scenario = admin_client.get_project(KEY).get_scenario("NIGHTLY_BUILD")
    fire = scenario.run({"reason": "contract"})
    try:
        raw_fire = fire.trigger_fire  # get_raw() returns None in 12.6.4 (no return statement)
        assert raw_fire["cancelled"] is False and isinstance(raw_fire["runId"], str)
        assert fire.trigger_id == raw_fire["trigger"]["id"]
        run = fire.wait_for_scenario_run()  # GET .../get-run-for-trigger?triggerId=&triggerRunId=
        assert isinstance(run, DSSScenarioRun)
        assert RUN_ID_RE.match(run.id)
        assert run.running and "result" not in run.get_info()
        hit = [h for h in sim.hits if h.path.endswith("/scenarios/NIGHTLY_BUILD/get-run-for-trigger")][-1]
        assert "triggerRunId=" in hit.query and "triggerId=" in hit.query

        last = scenario.get_last_runs(limit=3)
        assert len(last) == 3
        assert last[0].id == run.id and last[0].running and "result" not in last[0].run
        shape(last[0].run, RUN_FIELDS, "running run")
        assert all(not r.running for r in last[1:])
        assert run.id not in {r.id for r in scenario.get_last_runs(only_finished_runs=True)}
        assert scenario.get_current_run().id == run.id
        assert scenario.get_status().running is True
    finally:
        assert isinstance(scenario.abort(), dict)
    run.refresh()
    assert not run.running and run.outcome == "ABORTED"
    assert run.end_time is not None
    assert scenario.get_last_runs(limit=1)[0].outcome == "ABORTED"
    assert scenario.get_current_run() is None
    assert scenario.get_status().running is False


def test_run_of_an_unknown_scenario_fails(admin_client):
    with pytest.raises(DataikuException, match="UnknownObjectException"):
        admin_client.get_project(KEY).get_scenario("NO_SUCH_SCENARIO").run()


def test_last_runs_are_newest_first_with_results(admin_client, shape):
    runs = admin_client.get_project(KEY).get_scenario("NIGHTLY_BUILD").get_last_runs(limit=10,
                                                                                       only_finished_runs=True)
    assert len(runs) == 10
    for r in runs:
        shape(r.run, dict(RUN_FIELDS, result=dict), "finished run")
        assert RUN_ID_RE.match(r.id) and r.outcome in OUTCOMES
        assert r.run["result"]["type"] == "SCENARIO_DONE"
        assert r.run["scenario"] == {"projectKey": KEY, "id": "NIGHTLY_BUILD", "name": "Nightly build"}
        assert r.run["end"] >= r.run["start"] > 0
    starts = [r.run["start"] for r in runs]
    assert starts == sorted(starts, reverse=True)


def test_get_runs_by_date(admin_client, sim):
    scenario = admin_client.get_project(KEY).get_scenario("NIGHTLY_BUILD")
    today = dt.date.today()
    from_day = today - dt.timedelta(days=5)
    to_day = today + dt.timedelta(days=1)  # toDate exclusive or inclusive: no run is dated tomorrow
    runs = scenario.get_runs_by_date(dt.datetime.combine(from_day, dt.time()), to_day.isoformat())
    hit = [h for h in sim.hits if h.path.endswith("/get-runs-by-date")][-1]
    assert "fromDate=%s" % from_day.isoformat() in hit.query and "toDate=%s" % to_day.isoformat() in hit.query
    lo = dt.datetime.combine(from_day, dt.time()).timestamp() * 1000
    expected = {r["runId"] for r in sim.state.runs(KEY, "NIGHTLY_BUILD") if r["start"] >= lo}
    assert expected  # a daily scenario has runs in the last 5 days
    assert {r.id for r in runs} == expected
    older = scenario.get_runs_by_date((today - dt.timedelta(days=400)).isoformat(),
                                      (today - dt.timedelta(days=300)).isoformat())
    assert older == []


def test_get_run_and_details(admin_client, shape):
    scenario = admin_client.get_project(KEY).get_scenario("NIGHTLY_BUILD")
    finished = scenario.get_last_runs(limit=1, only_finished_runs=True)[0]
    run = scenario.get_run(finished.id)  # GET .../{runId}/ (trailing slash)
    assert isinstance(run, DSSScenarioRun) and run.id == finished.id and run.outcome == finished.outcome
    details = run.get_details()
    shape(details, {"scenarioRun": dict, "stepRuns": list}, "run details")
    assert details["scenarioRun"]["runId"] == finished.id
    assert details.steps
    for step in details.steps:
        assert step.outcome in OUTCOMES
        assert isinstance(step.job_ids, list)
    assert details.last_step.outcome == details.steps[-1]["result"]["outcome"]


def test_get_run_of_an_unknown_run_id_fails(admin_client):
    with pytest.raises(DataikuException, match="UnknownObjectException"):
        admin_client.get_project(KEY).get_scenario("NIGHTLY_BUILD").get_run("1999-01-01-00-00-00-000")


def test_run_log_is_the_text_of_the_run_folder(admin_client, sim, requires):
    requires(DSSScenarioRun, "get_log")
    run = admin_client.get_project(KEY).get_scenario("NIGHTLY_BUILD").get_last_runs(
        limit=1, only_finished_runs=True)[0]
    log = run.get_log()
    assert isinstance(log, str) and log
    folder = sim.state.dip_home / "scenarios" / KEY / "NIGHTLY_BUILD" / run.id
    assert log == "".join(p.read_text(errors="replace") for p in sorted(folder.rglob("*.log")))


def test_a_reader_can_list_but_an_unknown_project_is_404(user_client):
    assert user_client.get_project(KEY).list_scenarios()
    with pytest.raises(DataikuException, match="UnknownObjectException"):
        user_client.get_project("NO_SUCH_PROJECT").list_scenarios()
