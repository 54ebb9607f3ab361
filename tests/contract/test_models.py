"""Saved models, their versions and ML tasks through the real dataikuapi and nodeops.dssapi.models.

What the client sends is in dataikuapi's dss/project.py, dss/savedmodel.py and dss/ml.py (12.6.4 and
15.2.0); what the simulator answers beyond it is in simulator/guesses.py (saved models and ML tasks).
Tests that delete run on an instance of their own.
"""

import os

import pytest
from dataikuapi.utils import DataikuException

from nodeops import dssapi
from nodeops.errors import Unavailable


def last_hit(sim, method, path):
    hits = [h for h in sim.hits if h.method == method and h.path == "/dip/publicapi" + path]
    assert hits, "no %s %s was sent" % (method, path)
    return hits[-1]


def a_saved_model(model):
    """(project key, saved model entry of the model) of the first project with a saved model."""
    for key, sms in model["saved_models"].items():
        if sms:
            return key, sms[0]
    raise AssertionError("the instance has no saved model")


def versions_dir(sim, key, sm_id):
    return sim.state.dip_home / "saved_models" / key / sm_id / "versions"


def split_files(sim, key, task):
    d = sim.state.dip_home / "analysis-data" / key / task["analysisId"] / task["mlTaskId"] / "splits"
    return sorted(os.listdir(d))


def all_tasks(model):
    return [(key, t) for key, tasks in model["fixtures"]["ml_tasks"].items() for t in tasks]


def test_saved_model_ids_of_every_project(admin_client, sim, client_version):
    for key in sim.state.project_keys():
        assert sorted(dssapi.saved_model_ids(admin_client, key)) == sorted(
            sm["id"] for sm in sim.state.model["saved_models"].get(key, []))
    key, _ = a_saved_model(sim.state.model)
    dssapi.saved_model_ids(admin_client, key)
    # 15.2 sends foreign=False (include_shared); 12.6 has no such parameter.
    expected = "" if client_version.startswith("12.") else "foreign=False"
    assert last_hit(sim, "GET", "/projects/%s/savedmodels/" % key).query == expected


def test_list_saved_models_items_carry_id_and_name(admin_client, sim, shape):
    key, sm = a_saved_model(sim.state.model)
    items = admin_client.get_project(key).list_saved_models()
    assert isinstance(items, list)
    for item in items:
        shape(item, {"id": str, "name": str}, "list_saved_models item")
    assert sm["name"] in {i["name"] for i in items}


def test_versions_with_exactly_one_active_and_their_training_time(admin_client, sim, shape):
    for key, sms in sim.state.model["saved_models"].items():
        for sm in sms:
            versions = dssapi.saved_model_versions(admin_client, key, sm["id"])
            for v in versions:
                shape(v, {"id": str, "active": bool}, "version")
            assert sorted(v["id"] for v in versions) == sorted(sm["versions"])
            assert [v["id"] for v in versions if v["active"]] == [sm["activeVersion"]]
            # The client's own reading of the same answer agrees.
            active = admin_client.get_project(key).get_saved_model(sm["id"]).get_active_version()
            assert active["id"] == sm["activeVersion"]
            for v in versions:
                assert dssapi.version_time_ms(v) == sm["trainInfo"][v["id"]]["endTime"]


def test_version_time_ms_fields_and_fallbacks():
    snippet = {"trainInfo": {"startTime": 1700000000000, "endTime": 1700000600000}, "trainDate": 1700000000000}
    assert dssapi.version_time_ms({"id": "1600000000000", "active": False, "snippet": snippet}) == 1700000600000
    assert dssapi.version_time_ms({"id": "v3", "snippet": {"trainDate": "1700000000000"}}) == 1700000000000
    assert dssapi.version_time_ms({"id": "v3", "snippet": {"trainInfo": {"startTime": 1700000000000}}}) == 1700000000000
    assert dssapi.version_time_ms({"id": "1600000000000", "active": True}) == 1600000000000
    # Not epoch ms: a small number, seconds, a boolean, a word.
    for vid in ("3", "1600000000", "initial", True, None):
        assert dssapi.version_time_ms({"id": vid, "snippet": {"trainDate": True}}) is None


def test_deleting_a_non_active_version_removes_its_folder(fresh_sim, connect):
    sim = fresh_sim()
    client = connect(sim)
    key, sm = a_saved_model(sim.state.model)
    old = [v for v in sm["versions"] if v != sm["activeVersion"]][0]
    assert (versions_dir(sim, key, sm["id"]) / old).is_dir()
    dssapi.delete_saved_model_versions(client, key, sm["id"], [old])
    hit = last_hit(sim, "POST", "/projects/%s/savedmodels/%s/actions/delete-versions" % (key, sm["id"]))
    assert hit.status == 200
    assert not (versions_dir(sim, key, sm["id"]) / old).exists()
    left = sorted(v["id"] for v in dssapi.saved_model_versions(client, key, sm["id"]))
    assert left == sorted(v for v in sm["versions"] if v != old)
    assert (versions_dir(sim, key, sm["id"]) / sm["activeVersion"]).is_dir()


def test_nothing_to_delete_sends_nothing(fresh_sim, connect):
    sim = fresh_sim()
    key, sm = a_saved_model(sim.state.model)
    dssapi.delete_saved_model_versions(connect(sim), key, sm["id"], [])
    assert not [h for h in sim.hits if h.path.endswith("/actions/delete-versions")]


def test_deleting_the_active_version_is_refused_and_deletes_nothing(fresh_sim, connect):
    sim = fresh_sim()
    client = connect(sim)
    key, sm = a_saved_model(sim.state.model)
    before = sorted(os.listdir(versions_dir(sim, key, sm["id"])))
    assert len(before) >= 2
    with pytest.raises(Unavailable, match="active version"):
        dssapi.delete_saved_model_versions(client, key, sm["id"], before)  # all, the active one among them
    assert sorted(os.listdir(versions_dir(sim, key, sm["id"]))) == before
    # The raw client sees DSS's error.
    with pytest.raises(DataikuException):
        client.get_project(key).get_saved_model(sm["id"]).delete_versions([sm["activeVersion"]])
    assert sorted(os.listdir(versions_dir(sim, key, sm["id"]))) == before


def test_deleting_an_unknown_version_is_refused_and_deletes_nothing(fresh_sim, connect):
    sim = fresh_sim()
    key, sm = a_saved_model(sim.state.model)
    before = sorted(os.listdir(versions_dir(sim, key, sm["id"])))
    old = [v for v in sm["versions"] if v != sm["activeVersion"]][0]
    with pytest.raises(Unavailable):
        dssapi.delete_saved_model_versions(connect(sim), key, sm["id"], [old, "1000000000000"])
    assert sorted(os.listdir(versions_dir(sim, key, sm["id"]))) == before


def test_ml_task_ids_of_every_project(admin_client, sim):
    for key in sim.state.project_keys():
        expected = [(t["analysisId"], t["mlTaskId"]) for t in sim.state.model["fixtures"]["ml_tasks"].get(key, [])]
        assert sorted(dssapi.ml_task_ids(admin_client, key)) == sorted(expected)
    key, _ = all_tasks(sim.state.model)[0]
    raw = admin_client.get_project(key).list_ml_tasks()
    assert isinstance(raw, dict) and isinstance(raw["mlTasks"], list) and raw["mlTasks"]


def test_remove_unused_splits_removes_only_unused_split_files(fresh_sim, connect):
    sim = fresh_sim()
    client = connect(sim)
    tasks = all_tasks(sim.state.model)
    assert any(len(t["splits_used"]) > 1 for _, t in tasks), "no task whose older split is still in use"
    for key, t in tasks:
        files = t["split_files"]
        assert t["splits_unused"]
        before = split_files(sim, key, t)
        assert before == sorted(os.path.basename(p) for sid in files for p in files[sid])
        dssapi.remove_unused_splits(client, key, t["analysisId"], t["mlTaskId"])
        kept = sorted(os.path.basename(p) for sid in t["splits_used"] for p in files[sid])
        assert split_files(sim, key, t) == kept
        # Sessions are untouched.
        sessions = sim.state.dip_home / "analysis-data" / key / t["analysisId"] / t["mlTaskId"] / "sessions"
        assert all((s / "session.json").is_file() for s in sessions.iterdir())
    # A second call has nothing left to remove.
    key, t = tasks[0]
    dssapi.remove_unused_splits(client, key, t["analysisId"], t["mlTaskId"])
    assert split_files(sim, key, t) == sorted(
        os.path.basename(p) for sid in t["splits_used"] for p in t["split_files"][sid])


def test_unknown_ml_task_or_saved_model_is_unavailable(admin_client, sim):
    key, _ = a_saved_model(sim.state.model)
    with pytest.raises(Unavailable):
        dssapi.remove_unused_splits(admin_client, key, "nosuchA", "nosuchM")
    with pytest.raises(Unavailable):
        dssapi.saved_model_versions(admin_client, key, "nosuchSM")


def project_and_other_user(fresh_sim, connect):
    """(sim, admin client, project key, its saved model, a non-admin login who does not own it)."""
    sim = fresh_sim()
    key, sm = a_saved_model(sim.state.model)
    owner = sim.state.project(key)["owner"]
    other = next(u["login"] for u in sim.state.users_file()["users"]
                 if u["login"] != owner and not sim.state.is_admin(u["login"]) and u.get("enabled", True))
    return sim, connect(sim), key, sm, other


def test_a_user_without_rights_on_the_project_is_refused(fresh_sim, connect):
    sim, admin, key, sm, other = project_and_other_user(fresh_sim, connect)
    user = connect(sim, other)
    assert dssapi.saved_model_ids(user, key)  # the project's group may read and write
    project = admin.get_project(key)
    perms = project.get_permissions()
    perms["permissions"] = []
    project.set_permissions(perms)
    before = sorted(os.listdir(versions_dir(sim, key, sm["id"])))
    old = [v for v in sm["versions"] if v != sm["activeVersion"]][0]
    with pytest.raises(Unavailable):
        dssapi.saved_model_ids(user, key)
    with pytest.raises(Unavailable):
        dssapi.saved_model_versions(user, key, sm["id"])
    with pytest.raises(Unavailable):
        dssapi.delete_saved_model_versions(user, key, sm["id"], [old])
    with pytest.raises(Unavailable):
        dssapi.ml_task_ids(user, key)
    assert sorted(os.listdir(versions_dir(sim, key, sm["id"]))) == before
    assert last_hit(sim, "POST", "/projects/%s/savedmodels/%s/actions/delete-versions" % (key, sm["id"])).status == 403


def test_read_only_rights_list_but_do_not_delete(fresh_sim, connect):
    sim, admin, key, sm, other = project_and_other_user(fresh_sim, connect)
    group = sim.state.user(other)["groups"][0]
    project = admin.get_project(key)
    perms = project.get_permissions()
    perms["permissions"] = [{"group": group, "readProjectContent": True}]
    project.set_permissions(perms)
    user = connect(sim, other)
    assert len(dssapi.saved_model_versions(user, key, sm["id"])) == len(sm["versions"])
    before = sorted(os.listdir(versions_dir(sim, key, sm["id"])))
    old = [v for v in sm["versions"] if v != sm["activeVersion"]][0]
    with pytest.raises(Unavailable):
        dssapi.delete_saved_model_versions(user, key, sm["id"], [old])
    assert sorted(os.listdir(versions_dir(sim, key, sm["id"]))) == before
    tasks = [t for k, t in all_tasks(sim.state.model) if k == key]
    assert tasks, "project %s has no ML task" % key
    splits_before = split_files(sim, key, tasks[0])
    with pytest.raises(Unavailable):
        dssapi.remove_unused_splits(user, key, tasks[0]["analysisId"], tasks[0]["mlTaskId"])
    assert split_files(sim, key, tasks[0]) == splits_before
