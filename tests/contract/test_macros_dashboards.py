"""Macros (node-ops's capacity report run as DSS runs plugin macros), dashboards and insights.

Reference: dss-rest-api-and-datadir.md section B, "Macros (DSSMacro)" and
"Dashboards and insights (12.0+)".
"""

import json
import time
from pathlib import Path

import pytest
from dataikuapi.dss.dashboard import DSSDashboard, DSSDashboardSettings
from dataikuapi.dss.insight import DSSInsight
from dataikuapi.dss.macro import DSSMacro
from dataikuapi.utils import DataikuException

KEY = "SALES_ANALYTICS"
MACRO = "pyrunnable_node-ops_capacity-report"
RUNNABLE_JSON = Path(__file__).resolve().parents[2] / "python-runnables" / "capacity-report" / "runnable.json"


def text(result):
    return result.decode("utf-8") if isinstance(result, bytes) else result


# ---- macros -----------------------------------------------------------------------
def test_list_macros_includes_the_capacity_report(admin_client, shape):
    macros = admin_client.get_project(KEY).list_macros()
    item = next((m for m in macros if m["runnableType"] == MACRO), None)
    assert item is not None, [m["runnableType"] for m in macros]
    shape(item, {"runnableType": str, "ownerPluginId": str, "meta": dict}, "macro list item")
    assert item["ownerPluginId"] == "node-ops" and item["meta"]["label"] == "Capacity report"
    objects = admin_client.get_project(KEY).list_macros(as_objects=True)
    assert any(isinstance(m, DSSMacro) and m.runnable_type == MACRO for m in objects)


def test_macro_definition_is_the_runnable_json(admin_client):
    definition = admin_client.get_project(KEY).get_macro(MACRO).get_definition()
    expected = json.loads(RUNNABLE_JSON.read_text())
    assert definition["resultType"] == "HTML"
    for field in ("meta", "params", "requiresGlobalAdmin", "impersonate", "resultType"):
        assert definition[field] == expected[field], field


def test_run_wait_then_status_then_html_result_then_gone(admin_client, sim):
    macro = admin_client.get_project(KEY).get_macro(MACRO)
    run_id = macro.run(params={"top_n": 3}, wait=True)
    assert isinstance(run_id, str) and run_id
    hit = [h for h in sim.hits if h.method == "POST" and h.path.endswith("/runnables/" + MACRO)][-1]
    assert hit.query == "wait=True" and hit.status == 200
    status = macro.get_status(run_id)
    assert status["running"] is False
    html = text(macro.get_result(run_id, as_type="string"))
    assert "nodeops-report" in html and "<" in html
    # Once the result has been fetched, the run no longer exists.
    with pytest.raises(DataikuException):
        macro.get_status(run_id)
    with pytest.raises(DataikuException):
        macro.get_result(run_id, as_type="string")


def test_run_without_wait_then_poll_then_raw_result(admin_client):
    macro = admin_client.get_project(KEY).get_macro(MACRO)
    run_id = macro.run(wait=False)
    deadline = time.time() + 30
    while macro.get_status(run_id)["running"]:
        assert time.time() < deadline, "macro run %s still running after 30 s" % run_id
        time.sleep(0.1)
    stream = macro.get_result(run_id)  # a file-like (resp.raw): must not be gzipped
    assert b"nodeops-report" in stream.read()


def test_a_non_admin_neither_sees_nor_runs_the_admin_macro(user_client, sim):
    types = [m["runnableType"] for m in user_client.get_project(KEY).list_macros()]
    assert MACRO not in types
    with pytest.raises(DataikuException):
        user_client.get_project(KEY).get_macro(MACRO).run(wait=True)
    assert sim.hits[-1].status == 403


def test_unknown_macro_is_an_unknown_object(admin_client):
    with pytest.raises(DataikuException, match="UnknownObjectException"):
        admin_client.get_project(KEY).get_macro("pyrunnable_node-ops_nothing").get_definition()


# ---- dashboards -------------------------------------------------------------------
def test_create_list_and_save_a_dashboard(admin_client, sim, connect):
    project = admin_client.get_project(KEY)
    dashboard = project.create_dashboard("Ops board")
    assert isinstance(dashboard, DSSDashboard) and dashboard.dashboard_id
    items = {d.id: d for d in project.list_dashboards()}
    item = items[dashboard.dashboard_id]
    assert (item.name, item.owner, item.num_pages, item.num_tiles) == ("Ops board", "admin", 0, 0)
    assert isinstance(item.listed, bool) and isinstance(dict(item)["tags"], list)
    assert item.to_dashboard().dashboard_id == dashboard.dashboard_id

    settings = dashboard.get_settings()
    assert isinstance(settings, DSSDashboardSettings)
    assert settings.id == dashboard.dashboard_id and settings.name == "Ops board"
    raw = settings.get_raw()
    assert raw["pages"] == []
    insight = project.create_insight({"type": "static_file", "name": "capacity", "params": {}})
    # A tile as DSS's dashboard editor creates it (KIT dashboards/edit.js newInsightTile).
    page = {"id": "p1", "title": "Capacity", "grid": {"tiles": [
        {"tileType": "INSIGHT", "insightType": "static_file", "insightId": insight.insight_id,
         "box": {"left": 0, "top": 0, "width": 15, "height": 9}, "displayMode": "INSIGHT",
         "tileParams": {"numDisplayedComments": 5}, "autoLoad": True, "clickAction": "DO_NOTHING",
         "showTitle": "YES", "resizeImageMode": "FIT_SIZE"}]}}
    raw["pages"].append(page)
    settings.save()  # PUT /projects/{key}/dashboards/{id}/

    again = connect(sim).get_project(KEY).get_dashboard(dashboard.dashboard_id).get_settings().get_raw()
    assert again["pages"] == [page]
    path = sim.state.dip_home / "config" / "projects" / KEY / "dashboards" / ("%s.json" % dashboard.dashboard_id)
    assert json.loads(path.read_text())["pages"] == [page]
    item = {d.id: d for d in project.list_dashboards()}[dashboard.dashboard_id]
    assert (item.num_pages, item.num_tiles) == (1, 1)


def test_unknown_dashboard_is_an_unknown_object(admin_client):
    with pytest.raises(DataikuException, match="UnknownObjectException"):
        admin_client.get_project(KEY).get_dashboard("nope").get_settings()


# ---- insights ---------------------------------------------------------------------
def test_create_and_list_insights(admin_client, sim):
    project = admin_client.get_project(KEY)
    insight = project.create_insight({"type": "static_file", "name": "x", "params": {}})
    assert isinstance(insight, DSSInsight) and insight.insight_id
    hit = [h for h in sim.hits if h.method == "POST" and h.path.endswith("/insights/")][-1]
    assert hit.status == 200
    items = {i.id: i for i in project.list_insights()}
    item = items[insight.insight_id]
    assert (item.name, item.type, item.owner) == ("x", "static_file", "admin")
    assert isinstance(item.listed, bool)
    path = sim.state.dip_home / "config" / "projects" / KEY / "insights" / ("%s.json" % insight.insight_id)
    assert json.loads(path.read_text())["type"] == "static_file"
