"""Low-level HTTP conventions of the public API, checked with raw requests, and fault injection.

Reference: dss-rest-api-and-datadir.md section B, "How the client sends requests":
exact paths (trailing slash included, no redirect), Basic auth with the API key as
user name, X-DKU-APITicket, JSON error bodies {"errorType", "message"}, bodies sent
without a Content-Type, macro results never gzipped. Then the simulator's fault
injection, seen through dataikuapi.
"""

import base64
import json
import os
import time
from pathlib import Path

import pytest
import requests
from dataikuapi.utils import DataikuException

KEY = "SALES_ANALYTICS"
MACRO = "pyrunnable_node-ops_capacity-report"
UNKNOWN_OBJECT = "com.dataiku.dip.exceptions.UnknownObjectException"
ADMIN_GETS = ["/admin/general-settings", "/admin/users/", "/admin/users-activity", "/admin/users/alice/activity",
              "/admin/groups/", "/admin/groups/data_team", "/admin/notebooks/", "/admin/licensing/status"]


@pytest.fixture(autouse=True)
def no_faults_left(sim):
    yield
    sim.clear_faults()


def api(sim, path):
    return sim.url + "/dip/publicapi" + path


def get(sim, path, login="admin", **kw):
    return requests.get(api(sim, path), auth=(sim.api_key(login), ""), allow_redirects=False, **kw)


def assert_error(resp, status, error_type=None):
    assert resp.status_code == status, (resp.status_code, resp.text)
    assert resp.headers["Content-Type"].startswith("application/json")
    body = resp.json()
    assert isinstance(body.get("errorType"), str) and body["errorType"]
    assert isinstance(body.get("message"), str) and body["message"]
    if error_type:
        assert body["errorType"] == error_type
    return body


def test_the_client_under_test_is_the_expected_one(client_version):
    import dataikuapi

    expected = os.environ.get("NODEOPS_EXPECT_CLIENT")
    if expected:
        assert client_version == expected
        assert Path(dataikuapi.__file__).resolve().parts[-3] == expected  # .venv/clients/<version>/dataikuapi
    else:
        assert client_version == "15.2.0"  # the pin of tests/requirements.txt


# ---- paths ----------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/projects", "/projects/%s/scenarios" % KEY, "/projects/%s/jobs" % KEY,
                                  "/admin/users", "/futures", "/projects/%s/runnables" % KEY])
def test_a_missing_trailing_slash_is_404_not_a_redirect(sim, path):
    assert get(sim, path + "/").status_code == 200
    assert_error(get(sim, path), 404)


@pytest.mark.parametrize("path", ["/instance-info", "/admin/general-settings", "/projects/%s" % KEY,
                                  "/projects/%s/scenarios/NIGHTLY_BUILD/light" % KEY])
def test_an_extra_trailing_slash_is_404(sim, path):
    assert get(sim, path).status_code == 200
    assert_error(get(sim, path + "/"), 404)


def test_only_the_public_api_prefix_is_served(sim):
    assert_error(requests.get(sim.url + "/projects/", auth=(sim.api_key("admin"), "")), 404)


def test_unknown_object_error_type(sim):
    assert_error(get(sim, "/projects/NO_SUCH_PROJECT"), 404, UNKNOWN_OBJECT)
    assert_error(get(sim, "/projects/%s/scenarios/NOPE" % KEY), 404, UNKNOWN_OBJECT)


# ---- authentication -----------------------------------------------------------------
def test_basic_auth_with_the_key_as_user_name(sim):
    key = sim.api_key("alice")
    header = "Basic " + base64.b64encode((key + ":").encode()).decode()
    resp = requests.get(api(sim, "/auth/info"), headers={"Authorization": header})
    assert resp.status_code == 200 and resp.json()["authIdentifier"] == "alice"


def test_api_ticket_header(sim):
    resp = requests.get(api(sim, "/auth/info"), headers={"X-DKU-APITicket": sim.issue_ticket("bob")})
    assert resp.status_code == 200 and resp.json()["authIdentifier"] == "bob"
    assert_error(requests.get(api(sim, "/auth/info"), headers={"X-DKU-APITicket": "forged"}), 401)


def test_unknown_key_or_no_credentials_is_401_json(sim):
    assert_error(requests.get(api(sim, "/projects/"), auth=("0" * 32, "")), 401)
    assert_error(requests.get(api(sim, "/projects/")), 401)
    assert sim.hits[-1].login is None and sim.hits[-1].status == 401


@pytest.mark.parametrize("path", ADMIN_GETS)
def test_admin_endpoints_are_403_for_a_non_admin(sim, path):
    assert get(sim, path, "admin").status_code == 200
    assert_error(get(sim, path, "alice"), 403)


def test_saving_general_settings_is_403_for_a_non_admin(sim):
    before = (sim.state.dip_home / "config" / "general-settings.json").read_text()
    resp = requests.put(api(sim, "/admin/general-settings"), auth=(sim.api_key("alice"), ""), data="{}")
    assert_error(resp, 403)
    assert (sim.state.dip_home / "config" / "general-settings.json").read_text() == before


def test_errors_reach_the_client_as_dataiku_exception_with_error_type(user_client):
    with pytest.raises(DataikuException) as e:
        user_client.get_general_settings()
    assert str(e.value).startswith("com.dataiku.")  # "<errorType>: <message>"


# ---- bodies and encodings -------------------------------------------------------------
def test_a_json_body_without_content_type_is_parsed(sim):
    request = requests.Request("POST", api(sim, "/projects/%s/scenarios/" % KEY), auth=(sim.api_key("admin"), ""),
                               data=json.dumps({"name": "No content type", "type": "step_based", "params": {}}))
    prepared = request.prepare()
    assert "Content-Type" not in prepared.headers  # what dataikuapi sends
    with requests.Session() as s:
        resp = s.send(prepared)
    assert resp.status_code == 200
    sid = resp.json()["id"]
    assert get(sim, "/projects/%s/scenarios/%s" % (KEY, sid)).json()["name"] == "No content type"


def test_query_booleans_are_python_spelled(sim):
    assert [p["projectKey"] for p in get(sim, "/projects/?includeLocation=False").json()]
    assert all("projectLocation" in p for p in get(sim, "/projects/?includeLocation=True").json())


def test_macro_results_are_never_gzipped(sim):
    auth = (sim.api_key("admin"), "")
    base = api(sim, "/projects/%s/runnables/%s" % (KEY, MACRO))
    run = requests.post(base, params={"wait": True}, data=json.dumps({"params": {}, "adminParams": {}}), auth=auth)
    assert run.status_code == 200
    resp = requests.get(base + "/result/" + run.json()["runId"], auth=auth, stream=True,
                        headers={"Accept-Encoding": "gzip, deflate"})
    assert resp.status_code == 200
    assert "Content-Encoding" not in resp.headers
    assert b"nodeops-report" in resp.raw.read()  # the client reads resp.raw, which is not decoded
    listing = get(sim, "/projects/", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in listing.headers


# ---- faults ---------------------------------------------------------------------------
def test_injected_500_raises_dataiku_exception(sim, admin_client):
    sim.inject(r"^/dip/publicapi/projects/$", status=500)
    with pytest.raises(DataikuException):
        admin_client.list_projects()
    assert sim.hits[-1].status == 500
    assert admin_client.get_project(KEY).get_summary()["projectKey"] == KEY  # other paths unaffected
    sim.clear_faults()
    assert admin_client.list_projects()


def test_injected_fault_for_a_number_of_times_and_a_method(sim, admin_client):
    sim.inject(r"/scenarios/$", status=503, times=1)
    project = admin_client.get_project(KEY)
    with pytest.raises(DataikuException):
        project.list_scenarios()
    assert project.list_scenarios()  # the fault is used up
    sim.inject(r"/scenarios/$", status=500, method="POST")
    assert project.list_scenarios()  # GET unaffected
    with pytest.raises(DataikuException):
        project.create_scenario("Never created", "step_based")


def test_injected_delay_is_applied_and_bounded(sim, admin_client):
    started = time.monotonic()
    admin_client.list_projects()
    baseline = time.monotonic() - started
    sim.inject(r"^/dip/publicapi/projects/$", status=None, delay=0.5)
    started = time.monotonic()
    projects = admin_client.list_projects()  # dataikuapi has no timeout: the call just takes longer
    elapsed = time.monotonic() - started
    assert projects and sim.hits[-1].status == 200
    assert 0.5 <= elapsed < 0.5 + baseline + 2.0
    started = time.monotonic()
    admin_client.get_auth_info()
    assert time.monotonic() - started < 0.5  # other paths are not delayed


def test_refused_connections_then_recovery(sim, admin_client):
    with sim.refusing_connections():
        with pytest.raises(requests.exceptions.ConnectionError):
            admin_client.list_projects()
    assert admin_client.list_projects()
