"""Projects and identities through dataikuapi: list/create/summary/settings, API keys and tickets.

Reference: dss-rest-api-and-datadir.md section B, "How the client sends requests" and "Projects".
"""

import json

import pytest
from dataikuapi import DSSClient
from dataikuapi.utils import DataikuException

PROJECT_ITEM = {"projectKey": str, "name": str, "ownerLogin": str, "ownerDisplayName": str, "tags": list,
                "shortDesc": str}


def last_hit(sim, method, path):
    hits = [h for h in sim.hits if h.method == method and h.path == "/dip/publicapi" + path]
    assert hits, "no %s %s was sent" % (method, path)
    return hits[-1]


def test_list_projects_items_have_the_reference_fields(admin_client, sim, shape):
    projects = admin_client.list_projects()
    assert isinstance(projects, list)
    for p in projects:
        shape(p, PROJECT_ITEM, "list_projects item")
    assert {p["projectKey"] for p in projects} == set(sim.state.project_keys())
    sales = next(p for p in projects if p["projectKey"] == "SALES_ANALYTICS")
    assert (sales["name"], sales["ownerLogin"], sales["ownerDisplayName"]) == ("Sales analytics", "alice",
                                                                               "Alice Martin")
    # 15.2 sends includeLocation=False; 12.6 has no such parameter.
    assert last_hit(sim, "GET", "/projects/").query in ("includeLocation=False", "")


def test_list_project_keys(admin_client, sim):
    assert sorted(admin_client.list_project_keys()) == sim.state.project_keys()


def test_a_user_sees_the_projects_her_groups_may_read(user_client, sim):
    keys = {p["projectKey"] for p in user_client.list_projects()}
    expected = {k for k in sim.state.project_keys() if sim.state.can_read_project("alice", k)}
    assert keys == expected and "SALES_ANALYTICS" in keys


def test_create_project_then_get_summary(admin_client, sim, shape):
    project = admin_client.create_project("CONTRACT_NEW", "Contract new", "alice", description="made by a test")
    assert project.project_key == "CONTRACT_NEW"
    summary = project.get_summary()
    shape(summary, PROJECT_ITEM, "get_summary")
    assert summary["projectKey"] == "CONTRACT_NEW"
    assert summary["name"] == "Contract new"
    assert summary["ownerLogin"] == "alice"
    assert summary["shortDesc"] == "made by a test"
    params = json.loads((sim.state.dip_home / "config" / "projects" / "CONTRACT_NEW" / "params.json").read_text())
    assert params["owner"] == "alice"
    assert "CONTRACT_NEW" in admin_client.list_project_keys()
    hit = last_hit(sim, "POST", "/projects/")
    assert hit.status == 200


def test_create_project_with_an_existing_key_fails(admin_client):
    with pytest.raises(DataikuException):
        admin_client.create_project("SALES_ANALYTICS", "Again", "admin")


def test_summary_of_an_unknown_project_is_an_unknown_object_error(admin_client):
    with pytest.raises(DataikuException, match="UnknownObjectException"):
        admin_client.get_project("NO_SUCH_PROJECT").get_summary()


def test_get_project_sends_no_request(admin_client, sim):
    before = len(sim.hits)
    admin_client.get_project("NO_SUCH_PROJECT")
    assert len(sim.hits) == before


def test_project_settings_hold_a_settings_object(admin_client):
    # DSSProjectSettings edits raw["settings"] (code envs...); the docstring says permissions are not in it.
    raw = admin_client.get_project("SALES_ANALYTICS").get_settings().get_raw()
    assert isinstance(raw, dict) and isinstance(raw["settings"], dict)


def test_auth_info_names_the_key_owner(admin_client, user_client, shape):
    admin = admin_client.get_auth_info()
    shape(admin, {"authIdentifier": str, "groups": list}, "auth info")
    assert admin["authIdentifier"] == "admin" and "administrators" in admin["groups"]
    alice = user_client.get_auth_info()
    assert alice["authIdentifier"] == "alice" and alice["groups"] == ["data_team"]


def test_internal_ticket_authenticates_as_its_user(sim):
    client = DSSClient(sim.url, internal_ticket=sim.issue_ticket("bob"))
    assert client.get_auth_info()["authIdentifier"] == "bob"
    assert "CHURN_MODEL" in client.list_project_keys()


def test_unknown_api_key_is_refused(sim):
    with pytest.raises(DataikuException):
        DSSClient(sim.url, "0" * 32).list_projects()
    assert sim.hits[-1].status == 401


def test_unknown_ticket_is_refused(sim):
    with pytest.raises(DataikuException):
        DSSClient(sim.url, internal_ticket="not-a-ticket").get_auth_info()
    assert sim.hits[-1].status == 401
