"""Jobs (list, status, log, abort, the 15.2 running-jobs calls) and futures (running scenarios).

Reference: dss-rest-api-and-datadir.md section B, "Jobs" and "Futures and running
scenarios". Aborts run on their own instance; the futures test aborts what it starts.
"""

import pytest
from dataikuapi import DSSClient
from dataikuapi.dss.project import DSSProject
from dataikuapi.utils import DataikuException

KEY = "SALES_ANALYTICS"
STATES = {"DONE", "FAILED", "ABORTED", "RUNNING", "NOT_STARTED"}
JOB_DEF = {"id": str, "name": str, "type": str, "projectKey": str, "initiator": str, "initiationTimestamp": int,
           "triggeredFrom": str, "outputs": list}
JOB_ITEM = {"def": dict, "state": str, "stableState": bool, "startTime": int, "endTime": int, "warningsCount": int}


def running_ids(model, key=None):
    keys = [key] if key else list(model["jobs"])
    return {j["def"]["id"] for k in keys for j in model["jobs"][k] if j["state"] == "RUNNING"}


def job_folder(sim, key, job_id):
    return sim.state.dip_home / "jobs" / key / job_id


def test_list_jobs_items_and_running_jobs(admin_client, sim, shape):
    jobs = admin_client.get_project(KEY).list_jobs()
    assert {j["def"]["id"] for j in jobs} == {j["def"]["id"] for j in sim.state.model["jobs"][KEY]}
    for j in jobs:
        assert isinstance(j, dict)  # a plain dict before 15.2, a DSSJobListItem (dict subclass) in 15.2
        shape(j, JOB_ITEM, "list_jobs item")
        shape(j["def"], JOB_DEF, "list_jobs item def")
        assert j["state"] in STATES and j["def"]["projectKey"] == KEY
        assert j["startTime"] == j["def"]["initiationTimestamp"] > 0
        assert j["stableState"] == (j["state"] != "RUNNING")
        if hasattr(j, "job_id"):
            assert j.job_id == j["def"]["id"] and j.project_key == KEY
    running = [j for j in jobs if j["state"] == "RUNNING"]
    assert running and all(j["stableState"] is False and j["endTime"] == 0 for j in running)
    # What a pre-15.2 caller does instead of list_running_jobs():
    assert {j["def"]["id"] for j in jobs if not j["stableState"]} == running_ids(sim.state.model, KEY)


def test_job_status_and_log(admin_client, sim, shape):
    project = admin_client.get_project(KEY)
    run_id = sorted(running_ids(sim.state.model, KEY))[0]
    status = project.get_job(run_id).get_status()
    shape(status, {"baseStatus": dict}, "job status")
    assert status["baseStatus"]["state"] == "RUNNING" and status["baseStatus"]["def"]["id"] == run_id
    done = next(j for j in sim.state.model["jobs"][KEY]
                if j["state"] == "DONE" and job_folder(sim, KEY, j["def"]["id"]).is_dir())
    job = project.get_job(done["def"]["id"])
    assert job.get_status()["baseStatus"]["state"] == "DONE"
    log = job.get_log()
    assert isinstance(log, str) and log
    assert log == (job_folder(sim, KEY, job.id) / "output.log").read_text()
    activity = sorted(p.name for p in (job_folder(sim, KEY, job.id) / "activities").iterdir())[0]
    assert job.get_log(activity) == (job_folder(sim, KEY, job.id) / "activities" / activity / "log.log").read_text()


def test_unknown_job_is_an_unknown_object(admin_client):
    with pytest.raises(DataikuException, match="UnknownObjectException"):
        admin_client.get_project(KEY).get_job("Build_nothing_2020-01-01T00-00-00.000").get_status()


def test_abort_makes_a_running_job_aborted(fresh_sim, connect):
    sim = fresh_sim()
    project = connect(sim).get_project(KEY)
    job_id = sorted(running_ids(sim.state.model, KEY))[0]
    job = project.get_job(job_id)
    assert isinstance(job.abort(), dict)
    assert job.get_status()["baseStatus"]["state"] == "ABORTED"
    item = next(j for j in project.list_jobs() if j["def"]["id"] == job_id)
    assert item["state"] == "ABORTED" and item["stableState"] is True and item["endTime"] > 0
    assert not [j for j in project.list_jobs() if not j["stableState"]]


def test_list_running_jobs_on_dss_15_2(requires, new_instance, start_sim, connect):
    requires(DSSClient, "list_running_jobs")
    requires(DSSProject, "list_running_jobs")
    from dssbench.datadir import small_spec

    dip_home, model = new_instance({**small_spec(), "dss_version": "15.2.0"})
    sim = start_sim(dip_home, model)
    admin = connect(sim)
    expected = running_ids(model, KEY)
    items = admin.get_project(KEY).list_running_jobs()
    assert {i.job_id for i in items} == expected
    assert all(i["stableState"] is False and i.project_key == KEY for i in items)
    assert items[0].to_job().get_status()["baseStatus"]["state"] == "RUNNING"

    everywhere = admin.list_running_jobs()  # all_users=True
    assert {i.job_id for i in everywhere} == running_ids(model)
    hit = [h for h in sim.hits if h.path == "/dip/publicapi/jobs/running/"][-1]
    assert hit.query == "allUsers=True" and hit.status == 200
    # Without all_users, only the jobs the caller started.
    sales_job = next(j for j in model["jobs"][KEY] if j["state"] == "RUNNING")
    initiator = sales_job["def"]["initiator"]
    mine = connect(sim, initiator).list_running_jobs(all_users=False)
    assert sales_job["def"]["id"] in {i.job_id for i in mine}
    assert all(i["def"]["initiator"] == initiator for i in mine)


def test_list_running_jobs_fails_on_dss_older_than_15_2(admin_client, sim, requires):
    requires(DSSClient, "list_running_jobs")
    assert sim.state.model["instance"]["dssVersion"] == "14.2.1"
    with pytest.raises(DataikuException):
        admin_client.list_running_jobs()
    with pytest.raises(DataikuException):
        admin_client.get_project(KEY).list_running_jobs()
    assert sim.hits[-1].status == 404


def test_running_scenario_future_then_abort(sim, connect, shape):
    alice = connect(sim, "alice")
    scenario = alice.get_project(KEY).get_scenario("NIGHTLY_BUILD")
    fire = scenario.run()
    run = fire.get_scenario_run()
    try:
        futures = alice.list_running_scenarios()
        mine = [f for f in futures if f["payload"]["targets"][0]["objectId"] == "NIGHTLY_BUILD"]
        assert len(mine) == 1, futures
        f = mine[0]
        shape(f, {"jobId": str, "alive": bool, "runningTime": int, "startTime": int, "hasResult": bool,
                  "owner": str, "payload": dict}, "future")
        assert f["payload"]["targets"][0] == {"projectKey": KEY, "objectId": "NIGHTLY_BUILD"}
        assert f["alive"] is True and f["hasResult"] is False and f["owner"] == "alice"
        assert f["startTime"] == run.run["start"]
        hit = [h for h in sim.hits if h.path == "/dip/publicapi/futures/"][-1]
        assert hit.query == "withScenarios=True&withNotScenarios=False&allUsers=False"

        # An admin sees everybody's with all_users=True, including the run seeded as running.
        admin = connect(sim)
        targets = {(x["payload"]["targets"][0]["projectKey"], x["payload"]["targets"][0]["objectId"])
                   for x in admin.list_running_scenarios(all_users=True)}
        assert {(KEY, "NIGHTLY_BUILD"), (KEY, "HOURLY_REFRESH")} <= targets
        # Someone else's own list does not show alice's run.
        assert f["jobId"] not in {x["jobId"] for x in connect(sim, "bob").list_running_scenarios()}

        future = alice.get_future(f["jobId"])
        state = future.get_state()  # GET /futures/{id}?peek=False
        assert state["hasResult"] is False
        future.abort()  # DELETE /futures/{id}
    finally:
        scenario.abort()
    run.refresh()
    assert run.outcome == "ABORTED"
    assert f["jobId"] not in {x["jobId"] for x in alice.list_running_scenarios()}


def test_list_futures_asks_for_the_other_long_tasks(admin_client, sim):
    futures = admin_client.list_futures(all_users=True)
    assert isinstance(futures, list)
    assert not [f for f in futures if f.get("payload", {}).get("type") == "scenario"]
    hit = [h for h in sim.hits if h.path == "/dip/publicapi/futures/"][-1]
    assert hit.query == "withScenarios=False&withNotScenarios=True&allUsers=True"
