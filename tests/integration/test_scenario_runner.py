"""The simulator's scenario runner: a run started through the API executes the scenario's steps as
DSS does (plugin steps, "Run a macro" steps, run conditions, retries, outcome, step results,
scenario variables given to later steps), and fails what DSS could not run."""

import json
from pathlib import Path

import pytest

from dssbench.harness import run_scenario_and_wait

ROOT = Path(__file__).resolve().parents[2]

ECHO = '''import json
from dataiku.scenario import Scenario
seen = Scenario().get_all_variables()
print("VARIABLES " + json.dumps(seen, sort_keys=True))
Scenario().set_scenario_variables(probe_echoes=seen.get("probe_echoes", 0) + 1)
'''
FAIL = 'raise Exception("the probe step fails")\n'


@pytest.fixture
def probe_plugin(tmp_path):
    """A plugin 'probe' with a step that logs the variables it is given, and one that fails."""
    root = tmp_path / "probe-plugin"
    (root / "python-steps").mkdir(parents=True)
    (root / "plugin.json").write_text(json.dumps({"id": "probe", "version": "0.0.1", "meta": {"label": "probe"}}))
    for step_id, code in (("echo", ECHO), ("fail", FAIL)):
        (root / "python-steps" / step_id).mkdir()
        (root / "python-steps" / step_id / "step.json").write_text(json.dumps({"meta": {"label": step_id},
                                                                               "params": []}))
        (root / "python-steps" / step_id / "step.py").write_text(code)
    return root


@pytest.fixture
def env(new_instance, start_sim, probe_plugin):
    from dataikuapi import DSSClient

    dip_home, model = new_instance()
    sim = start_sim(dip_home, model, start_kernels=False, plugins={"node-ops": ROOT, "probe": probe_plugin})
    return sim, DSSClient(sim.url, sim.api_key("admin"))


def step(step_id, stype, condition="RUN_IF_STATUS_MATCH", statuses=("SUCCESS", "WARNING"), params=None, **kw):
    out = {"id": step_id, "name": step_id, "type": stype, "runConditionType": condition,
           "runConditionStatuses": list(statuses), "maxRetriesOnFail": 0, "params": params or {}}
    out.update(kw)
    return out


def scenario_with(client, key, name, steps, run_as=None):
    scenario = client.get_project(key).create_scenario(name, "step_based")
    settings = scenario.get_settings()
    settings.get_raw()["params"]["steps"] = steps
    if run_as:
        settings.get_raw()["runAsUser"] = run_as
    settings.save()
    return scenario


def test_steps_run_in_order_with_their_conditions_and_the_run_records_it(env):
    sim, client = env
    steps = [
        step("purge", "pystep_node-ops_purge-exports", params={"config": {"dry_run": True}}),
        step("echo1", "pystep_probe_echo"),
        step("fails", "pystep_probe_fail", maxRetriesOnFail=1),
        step("skipped_after_failure", "pystep_probe_echo"),
        step("disabled", "pystep_probe_echo", condition="DISABLED"),
        step("macro", "runnable", condition="RUN_ALWAYS",
             params={"runnableType": "pyrunnable_node-ops_cull-kernels", "config": {"dry_run": True},
                     "adminConfig": {}}),
        step("on_failure", "pystep_probe_echo", statuses=("FAILED",)),
        step("unknown", "pystep_not-installed_step", condition="RUN_ALWAYS"),
        step("no_such_macro", "runnable", condition="RUN_ALWAYS",
             params={"runnableType": "pyrunnable_node-ops_no-such-macro", "config": {}}),
    ]
    scenario = scenario_with(client, "ADMINPROJECT", "Probe run", steps)
    run = run_scenario_and_wait(scenario)
    assert run.outcome == "FAILED"
    details = run.get_details()
    got = [(s["step"]["id"], s["result"]["outcome"]) for s in details.steps]
    assert got == [("purge", "SUCCESS"), ("echo1", "SUCCESS"), ("fails", "FAILED"), ("macro", "SUCCESS"),
                   ("on_failure", "SUCCESS"), ("unknown", "FAILED"), ("no_such_macro", "FAILED")]
    thrown = {s["step"]["id"]: s["result"]["thrown"]["message"] for s in details.steps if "thrown" in s["result"]}
    assert thrown == {"fails": "the probe step fails", "unknown": "Unknown step type: pystep_not-installed_step",
                      "no_such_macro": "Macro pyrunnable_node-ops_no-such-macro does not exist"}
    assert details.first_error_details["message"] == "the probe step fails"
    assert all(s["end"] >= s["start"] > 0 for s in details.steps)
    # retried once; the disabled and the skipped ones never ran (the purge step handed its work to its macro)
    ran = [(e["kind"], e["id"]) for e in sim.executions]
    assert ran == [("macro", "purge-exports"), ("step", "purge-exports"), ("step", "echo"), ("step", "fail"),
                   ("step", "fail"), ("macro", "cull-kernels"), ("step", "echo")]
    # the variables a step sets are given to the later steps
    echoes = [e["outcome"].stdout for e in sim.executions if e["id"] == "echo"]
    first = json.loads(echoes[0].split("VARIABLES ", 1)[1])
    assert first["nodeops_purge_exports_seen"] == 8 and "probe_echoes" not in first
    assert json.loads(echoes[1].split("VARIABLES ", 1)[1])["probe_echoes"] == 1
    assert sim.state.scenario_variables[("ADMINPROJECT", scenario.id, run.id)]["probe_echoes"] == 2
    # the run is the last one, its log has the steps' output
    assert scenario.get_last_runs(limit=1)[0].id == run.id
    log = run.get_log() if hasattr(run, "get_log") else None
    if log is not None:
        assert "the probe step fails" in log and "outcome=FAILED" in log


def test_reset_scenario_status_and_the_run_as_user(env):
    sim, client = env
    steps = [step("fails", "pystep_probe_fail"),
             step("reset", "pystep_probe_echo", condition="RUN_ALWAYS", resetScenarioStatus=True),
             step("admin_macro", "runnable", params={"runnableType": "pyrunnable_node-ops_purge-exports",
                                                      "config": {"dry_run": True}})]
    run = run_scenario_and_wait(scenario_with(client, "ADMINPROJECT", "Reset", steps))
    assert [s["result"]["outcome"] for s in run.get_details().steps] == ["FAILED", "SUCCESS", "SUCCESS"]
    assert run.outcome == "SUCCESS"
    # run as a non-administrator: DSS refuses the admin-only macro of a "Run a macro" step
    as_alice = scenario_with(client, "SALES_ANALYTICS", "As alice", [steps[2]], run_as="alice")
    run = run_scenario_and_wait(as_alice)
    assert run.outcome == "FAILED"
    assert run.get_info()["runAsUser"]["realUserLogin"] == "alice"
    [failed] = run.get_details().steps
    assert failed["result"]["thrown"]["message"] == "Macro purge-exports requires a DSS administrator"


def test_a_node_without_the_plugin_fails_its_steps(new_instance, start_sim):
    from dataikuapi import DSSClient

    dip_home, model = new_instance()
    sim = start_sim(dip_home, model, start_kernels=False, plugins={})
    client = DSSClient(sim.url, sim.api_key("admin"))
    run = run_scenario_and_wait(scenario_with(client, "ADMINPROJECT", "No plugin",
                                     [step("purge", "pystep_node-ops_purge-exports", params={"config": {}})]))
    assert run.outcome == "FAILED"
    assert run.get_details().steps[0]["result"]["thrown"]["message"] == \
        "Unknown step type: pystep_node-ops_purge-exports"
    assert sim.executions == []
