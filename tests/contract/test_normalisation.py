"""The simulator stores what it accepts as DSS does (tests/dssbench/simulator/normalise.py):
fields filled, unknown ones dropped, unusable objects refused. One group per object type,
each through the real dataikuapi client: scenarios (steps, triggers, reporters), project
permissions and settings, messaging channels and mail reporters, dashboards, insights,
general settings, and the static insights plugin code saves.

Shapes: the DSS 8 exports of dss-plugin-ml-assisted-labeling (MAL), the DSS 9.0.5
frontend (KIT), Dataiku Pulse's mail reporter captured from DSS 14.7 (PULSE); see
../shared/reference/dss-facts-confirmed.md.
"""

import base64
import json

import pytest
import requests
from dataikuapi.utils import DataikuException

KEY = "SALES_ANALYTICS"
#: Every step of the MAL export has exactly these fields.
STEP_FIELDS = {"id", "type", "name", "runConditionType", "runConditionStatuses", "runConditionExpression",
               "resetScenarioStatus", "delayBetweenRetries", "maxRetriesOnFail", "params"}
#: The 12 flags of a permission in the MAL export's params.json (13 keys with "group").
PERMISSION_FLAGS = {"admin", "readProjectContent", "writeProjectContent", "exportDatasetsData", "readDashboards",
                    "writeDashboards", "moderateDashboards", "runScenarios", "manageDashboardAuthorizations",
                    "manageExposedElements", "manageAdditionalDashboardUsers", "executeApp"}


def mail_reporter(channel="mail-smtp", subject="DSS ${scenarioName}: ${outcome}",
                  message="${scenarioName} of ${scenarioProjectKey} ended with ${outcome}", **extra):
    """A mail reporter with the shape PULSE captured from DSS 14.7."""
    return dict({"name": "mail", "active": True, "phase": "END", "runConditionEnabled": True,
                 "runCondition": "outcome == 'FAILED'",
                 "messaging": {"type": "mail-scenario", "configuration": {
                     "channelId": channel, "recipient": "ops@example.com", "subject": subject, "message": message,
                     "sendAsHTML": False, "attachments": [], "messageSource": "INLINE",
                     "templateFormat": "FREEMARKER"}}}, **extra)


@pytest.fixture
def project(fresh_sim, connect):
    sim = fresh_sim()
    return sim, connect(sim).get_project(KEY)


def new_scenario(project, name="Normalised"):
    scenario = project.create_scenario(name, "step_based")
    return scenario, scenario.get_settings()


# ---- scenarios --------------------------------------------------------------------------------
def test_a_saved_step_gains_what_dss_writes_and_loses_what_it_does_not_know(project):
    sim, p = project
    scenario, settings = new_scenario(p)
    settings.raw_steps.append({"id": "s1", "type": "pystep_node-ops_capacity-report", "name": "Capacity",
                               "runConditionType": "RUN_IF_STATUS_MATCH", "runConditionStatuses": ["SUCCESS"],
                               "maxRetriesOnFail": 1, "delayBetweenRetries": 60, "$expanded": True,
                               "colour": "blue", "params": {"config": {"top_n": 3}}})
    settings.raw_steps.append({"type": "custom_python", "params": {"script": "pass"}})
    settings.get_raw()["somethingElse"] = 1
    settings.save()
    raw = scenario.get_settings().get_raw()
    first, second = raw["params"]["steps"]
    assert set(first) == STEP_FIELDS
    assert (first["runConditionExpression"], first["resetScenarioStatus"]) == ("", False)
    assert first["params"] == {"config": {"top_n": 3}, "proceedOnFailure": False}
    assert (first["id"], first["maxRetriesOnFail"], first["delayBetweenRetries"]) == ("s1", 1, 60)
    assert second["id"].startswith("custom_python_") and len(second["id"]) > len("custom_python_")
    assert second["params"]["proceedOnFailure"] is False
    assert "somethingElse" not in raw
    for field, value in (("checklists", {"checklists": []}), ("automationLocal", False), ("customFields", {}),
                         ("tags", [])):
        assert raw[field] == value, field
    on_disk = json.loads((sim.state.dip_home / "config" / "projects" / KEY / "scenarios"
                          / ("%s.json" % scenario.id)).read_text())
    assert on_disk["params"]["steps"] == raw["params"]["steps"]


def test_saving_what_dss_gave_back_changes_nothing(project):
    _, p = project
    scenario, settings = new_scenario(p)
    settings.raw_steps.append({"type": "build_flowitem", "name": "Build", "params": {}})
    settings.add_daily_trigger(hour=3)
    settings.raw_reporters.append(mail_reporter())
    settings.save()
    first = scenario.get_settings()
    before = first.get_raw()
    assert before["reporters"][0]["id"] and before["params"]["steps"][0]["id"] and before["triggers"][0]["id"]
    first.save()  # ids are kept, nothing is added twice
    after = scenario.get_settings().get_raw()
    assert {k: v for k, v in after.items() if k != "versionTag"} == {k: v for k, v in before.items()
                                                                    if k != "versionTag"}


def test_triggers_and_reporters_gain_ids_and_lose_unknown_fields(project):
    _, p = project
    scenario, settings = new_scenario(p)
    settings.add_periodic_trigger(5)
    settings.raw_triggers.append({"id": "mine", "type": "temporal", "active": True, "delay": 5, "bogus": 1,
                                  "params": {"frequency": "Daily", "hour": 2, "minute": 0}})
    reporter = mail_reporter()
    reporter["messaging"]["channelId"] = "mail-smtp"  # PULSE: a top-level messaging.channelId is dropped
    reporter["$expanded"] = True
    settings.raw_reporters.append(reporter)
    settings.save()
    raw = scenario.get_settings().get_raw()
    periodic, mine = raw["triggers"]
    assert isinstance(periodic["id"], str) and periodic["id"] and periodic["delay"] == 0
    assert mine["id"] == "mine" and "bogus" not in mine
    (saved,) = raw["reporters"]
    assert isinstance(saved["id"], str) and saved["id"] and "$expanded" not in saved
    assert saved["messaging"] == {"type": "mail-scenario",
                                  "configuration": mail_reporter()["messaging"]["configuration"]}


@pytest.mark.parametrize("bad, message", [
    ({"type": "build_flowitem", "runConditionType": "SOMETIMES"}, "runConditionType"),
    ({"name": "no type"}, "needs a type"),
    ({"type": "build_flowitem", "maxRetriesOnFail": "1"}, "maxRetriesOnFail"),
])
def test_a_step_dss_cannot_read_is_refused(project, bad, message):
    assert_refused(project, "steps", bad, message)


def assert_refused(project, kind, item, message):
    """Saving a scenario with ``item`` in its steps or reporters is refused (400), nothing saved."""
    sim, p = project
    scenario, settings = new_scenario(p)
    (settings.raw_steps if kind == "steps" else settings.raw_reporters).append(item)
    with pytest.raises(DataikuException, match=message):
        settings.save()
    assert sim.hits[-1].status == 400
    raw = scenario.get_settings().get_raw()
    assert (raw["params"]["steps"] if kind == "steps" else raw["reporters"]) == []


# ---- messaging channels and mail reporters ------------------------------------------------------
def test_messaging_channels_are_listed_and_filtered(project, fresh_sim, connect, requires):
    sim, _ = project
    client = connect(sim)
    requires(client, "list_messaging_channels")
    item = client.list_messaging_channels()[0]
    assert (item.id, item.type, item.family) == ("mail-smtp", "smtp", "mail")
    assert [c.id for c in client.list_messaging_channels(channel_family="mail")] == ["mail-smtp"]
    assert [c.id for c in client.list_messaging_channels(channel_type="slack")] == ["ops-slack"]
    assert client.list_messaging_channels(channel_type="google-chat") == []
    assert client.get_messaging_channel("mail-smtp").id == "mail-smtp"
    bare = fresh_sim({"seed": 1, "projects": [{"key": KEY}]})
    assert connect(bare).list_messaging_channels() == []


@pytest.mark.parametrize("reporter, message", [
    (mail_reporter(channel=None), "channelId"),
    (mail_reporter(channel="no-such-channel"), "channelId"),
    (mail_reporter(message="Run: ${scenarioRunURL}"), "scenarioRunURL"),
    (mail_reporter(subject="${triggerName} failed"), "triggerName"),
    (mail_reporter(message="${if(outcome == 'FAILED', 'x', '')}"), "InvalidReferenceException"),
])
def test_a_mail_reporter_dss_cannot_send_is_refused(project, reporter, message):
    assert_refused(project, "reporters", reporter, message)


def test_a_mail_reporter_needs_a_mail_channel_of_the_instance(fresh_sim, connect):
    sim = fresh_sim({"seed": 1, "projects": [{"key": KEY}],
                     "messaging_channels": [{"id": "team-slack", "type": "slack"}]})
    scenario, settings = new_scenario(connect(sim).get_project(KEY))
    settings.raw_reporters.append(mail_reporter(channel="team-slack"))
    with pytest.raises(DataikuException, match="a mail channel of this instance"):
        settings.save()


def test_a_chat_reporter_needs_a_channel_of_its_type(fresh_sim, connect):
    sim = fresh_sim({"seed": 1, "projects": [{"key": KEY}],
                     "messaging_channels": [{"id": "team-slack", "type": "slack"}, {"id": "hook", "type": "webhook"}]})
    scenario, settings = new_scenario(connect(sim).get_project(KEY))
    settings.raw_reporters.append({"active": True, "phase": "END", "messaging": {
        "type": "slack-scenario", "configuration": {"channelId": "hook", "message": "${outcome}"}}})
    with pytest.raises(DataikuException, match="a slack channel of this instance"):
        settings.save()
    settings.raw_reporters[0]["messaging"]["configuration"] = {"channelId": "team-slack",
                                                               "message": "${scenarioRunURL}"}
    with pytest.raises(DataikuException, match="scenarioRunURL"):
        settings.save()


def test_a_mail_channel_sends_what_the_client_gives_it_and_records_it(project, connect, requires):
    sim, _ = project
    client = connect(sim)
    requires(client, "get_messaging_channel")
    channel = client.get_messaging_channel("mail-smtp")
    channel.send(KEY, ["alice@example.com"], "Hi", "Body", plain_text=True)
    mail = sim.state.model["sent_messages"][-1]
    assert (mail["to"], mail["subject"], mail["body"], mail["plainText"], mail["projectKey"], mail["channelId"]) == (
        ["alice@example.com"], "Hi", "Body", True, KEY, "mail-smtp")
    with pytest.raises(DataikuException, match="does not exist"):
        client.get_messaging_channel("no-such-channel")
    # a non-mail channel cannot send this way; the client gives it no send(), the API refuses it
    assert not hasattr(client.get_messaging_channel("ops-slack"), "send")
    url = "%s/dip/publicapi/messaging-channels/%%s/actions/send" % sim.url
    files = {"message": ("send-payload.json", json.dumps({"to": ["a@example.com"], "subject": "s", "body": "b",
                                                          "plainText": True}), "application/json")}
    auth = (sim.api_key("admin"), "")
    assert requests.post(url % "ops-slack", params={"projectKey": KEY}, files=files, auth=auth).status_code == 400
    assert requests.post(url % "no-such", params={"projectKey": KEY}, files=files, auth=auth).status_code == 404
    assert requests.post(url % "mail-smtp", files=files, auth=auth).status_code == 400  # projectKey missing
    bad = {"message": ("send-payload.json", json.dumps({"to": [], "subject": "s", "body": "b"}), "application/json")}
    assert requests.post(url % "mail-smtp", params={"projectKey": KEY}, files=bad, auth=auth).status_code == 400
    extra = {"message": ("send-payload.json", json.dumps({"to": ["a@example.com"], "subject": "s", "body": "b",
                                                          "html": True}), "application/json")}
    assert requests.post(url % "mail-smtp", params={"projectKey": KEY}, files=extra, auth=auth).status_code == 400
    assert len(sim.state.model["sent_messages"]) == 1


def test_the_mail_template_renders_with_the_variables_dss_provides(project):
    from dssbench.simulator import normalise

    _, p = project
    scenario, settings = new_scenario(p, "Nightly cleanup")
    settings.raw_reporters.append(mail_reporter())
    settings.save()
    (saved,) = scenario.get_settings().raw_reporters
    assert normalise.render_mail(saved, "Nightly cleanup", KEY, "FAILED") == (
        "DSS Nightly cleanup: FAILED", "Nightly cleanup of %s ended with FAILED" % KEY)


# ---- project permissions and settings --------------------------------------------------------------
def test_permissions_are_stored_with_all_their_flags(project):
    sim, p = project
    perms = p.get_permissions()
    assert set(perms) == {"owner", "permissions"} and perms["owner"] == "alice"
    assert all(set(e) == {"group"} | PERMISSION_FLAGS for e in perms["permissions"])
    perms["permissions"] = [{"group": "data_team", "readProjectContent": True, "bogusFlag": True}]
    p.set_permissions(perms)  # PUT /projects/{key}/permissions
    (entry,) = p.get_permissions()["permissions"]
    assert entry == dict({f: False for f in PERMISSION_FLAGS}, group="data_team", readProjectContent=True)
    on_disk = json.loads((sim.state.dip_home / "config" / "projects" / KEY / "params.json").read_text())
    assert on_disk["permissions"] == [entry]


def test_a_permission_dss_cannot_read_is_refused(project):
    sim, p = project
    for bad in ({"readProjectContent": True}, {"group": "data_team", "admin": "yes"}):
        with pytest.raises(DataikuException, match="Permission 1"):
            p.set_permissions({"owner": "alice", "permissions": [bad]})
        assert sim.hits[-1].status == 400


def test_project_settings_carry_no_permissions(project):
    _, p = project
    before = p.get_permissions()["permissions"]
    settings = p.get_settings()
    assert "permissions" not in settings.get_raw() and isinstance(settings.get_raw()["settings"], dict)
    settings.get_raw()["permissions"] = [{"group": "administrators", "admin": True}]
    settings.get_raw()["unknownField"] = 1
    settings.get_raw()["shortDesc"] = "changed"
    settings.save()  # the permissions in it are ignored, the unknown field dropped
    assert p.get_permissions()["permissions"] == before
    raw = p.get_settings().get_raw()
    assert raw["shortDesc"] == "changed" and "unknownField" not in raw and "permissions" not in raw


def test_only_an_administrator_or_the_owner_manages_permissions(sim, connect):
    with pytest.raises(DataikuException):
        connect(sim, "bob").get_project(KEY).get_permissions()  # owner alice; bob is in data_team
    assert sim.hits[-1].status == 403


# ---- dashboards and insights -------------------------------------------------------------------
def tile(insight, box, **extra):
    return dict({"tileType": "INSIGHT", "insightId": insight.insight_id, "insightType": extra.pop("type"),
                 "box": box}, **extra)


def test_tiles_are_stored_as_dss_stores_them(project):
    _, p = project
    insight = p.create_insight({"type": "scenario_last_runs", "name": "Runs",
                                "params": {"scenarioSmartId": "NIGHTLY_BUILD"}})
    dashboard = p.create_dashboard("Board")
    settings = dashboard.get_settings()
    settings.get_raw()["pages"] = [{"title": "One", "grid": {"tiles": [
        tile(insight, {"left": 0, "top": 0, "width": 36, "height": 3, "extra": 1}, type="scenario_last_runs",
             tileParams={"displayMode": "SIMPLE", "range": "CURRENT_MONTH"}, unknownTileField=True)]}}]
    settings.save()
    (page,) = dashboard.get_settings().get_raw()["pages"]
    (saved,) = page["grid"]["tiles"]
    assert isinstance(page["id"], str) and page["id"]
    assert "unknownTileField" not in saved and saved["box"] == {"left": 0, "top": 0, "width": 36, "height": 3}
    assert saved["tileParams"] == {"displayMode": "SIMPLE", "range": "CURRENT_MONTH"}
    assert {k: saved[k] for k in ("autoLoad", "clickAction", "displayMode", "resizeImageMode")} == {
        "autoLoad": False, "clickAction": "DO_NOTHING", "displayMode": "INSIGHT", "resizeImageMode": "FIT_SIZE"}


@pytest.mark.parametrize("boxes, tile_params, message", [
    ([{"left": 0, "top": 0, "width": 36, "height": 3}], {"displayMode": "SIMPLE"}, "tileParams.range"),
    ([{"left": 30, "top": 0, "width": 7, "height": 3}], None, "36-column grid"),
    ([{"left": 36, "top": 0, "width": 1, "height": 3}], None, "36-column grid"),
    ([{"left": 0, "top": 0, "width": 12}], None, "box.height"),
    ([{"left": 0, "top": 0, "width": 12, "height": 3}, {"left": 11, "top": 2, "width": 5, "height": 3}], None,
     "overlaps"),
])
def test_a_tile_that_would_not_load_or_show_is_refused(project, boxes, tile_params, message):
    sim, p = project
    insight = p.create_insight({"type": "scenario_last_runs", "name": "Runs",
                                "params": {"scenarioSmartId": "NIGHTLY_BUILD"}})
    params = tile_params if tile_params is not None else {"displayMode": "SIMPLE", "range": "CURRENT_MONTH"}
    settings = p.create_dashboard("Board").get_settings()
    settings.get_raw()["pages"] = [{"id": "p", "grid": {"tiles": [
        tile(insight, box, type="scenario_last_runs", tileParams=params) for box in boxes]}}]
    with pytest.raises(DataikuException, match=message):
        settings.save()
    assert sim.hits[-1].status == 400


def test_a_tile_needs_its_insight(project):
    _, p = project
    settings = p.create_dashboard("Board").get_settings()
    settings.get_raw()["pages"] = [{"id": "p", "grid": {"tiles": [
        {"tileType": "INSIGHT", "insightId": "node-ops-capacity-report", "insightType": "static_file",
         "box": {"left": 0, "top": 0, "width": 18, "height": 9}}]}}]
    with pytest.raises(DataikuException, match="does not exist"):
        settings.save()


def test_insights_are_stored_as_dss_stores_them(project):
    _, p = project
    insight = p.create_insight({"type": "runnable-button", "name": "Run", "bogus": 1,
                                "params": {"runnableType": "pyrunnable_node-ops_capacity-report"}})
    raw = insight.get_settings().get_raw()
    assert "bogus" not in raw and raw["listed"] is False and raw["checklists"] == {"checklists": []}
    settings = insight.get_settings()
    settings.get_raw()["alsoBogus"] = 2
    settings.save()
    assert "alsoBogus" not in insight.get_settings().get_raw()
    with pytest.raises(DataikuException):
        p.create_insight({"name": "no type"})


def test_the_static_insight_plugin_code_saves_is_an_insight(project, connect):
    """``dataiku.insights.save_data`` posts insights/save-static-file-insight to the backend's
    internal API with the process's ticket (KIT insights/__init__.py, core/intercom.py)."""
    sim, p = project
    url = "%s/dip/api/tintercom/insights/save-static-file-insight" % sim.url
    form = {"projectKey": KEY, "id": "node-ops-capacity-report", "contentType": "text/html",
            "label": "Capacity report", "payload": base64.b64encode(b"<p>placeholder</p>").decode()}
    resp = requests.post(url, data=form, headers={"X-DKU-APITicket": sim.issue_ticket("admin")}, timeout=30)
    assert resp.status_code == 200, resp.text
    raw = p.get_insight("node-ops-capacity-report").get_settings().get_raw()
    assert (raw["type"], raw["name"]) == ("static_file", "Capacity report")
    assert sim.state.insight_data[(KEY, "node-ops-capacity-report")] == b"<p>placeholder</p>"
    public = requests.post("%s/dip/publicapi/tintercom/insights/save-static-file-insight" % sim.url, data=form,
                           auth=(sim.api_key("admin"), ""), timeout=30)
    assert public.status_code == 404  # internal API only


# ---- general settings ----------------------------------------------------------------------------
def test_general_settings_lose_unknown_fields_and_refuse_bad_limits(fresh_sim, connect):
    sim = fresh_sim()
    settings = connect(sim).get_general_settings()
    settings.get_raw()["noSuchSetting"] = True
    settings.get_raw()["maxRunningActivitiesPerKey"] = [{"key": "jek", "value": 2, "note": "x"}]
    settings.save()
    raw = connect(sim).get_general_settings().get_raw()
    assert "noSuchSetting" not in raw and raw["maxRunningActivitiesPerKey"] == [{"key": "jek", "value": 2}]
    settings = connect(sim).get_general_settings()
    settings.get_raw()["maxRunningActivities"] = "5"
    with pytest.raises(DataikuException, match="maxRunningActivities"):
        settings.save()
