"""setup-admin-project end to end, against a simulator that normalises what it stores as
DSS does: what the first run creates (checked object by object through dataikuapi), that a
second run changes nothing, that hand edits are detected (and only those), that activating
is not an edit, permissions through the permissions API, mail reporters DSS can send,
dashboards that load; dry run, refusals; and that the configuration audit is satisfied."""

import base64
import json
import re
from pathlib import Path

import pytest
import requests

from dssbench import cli as nodeops_cli
from dssbench.datadir import small_spec
from dssbench.harness import DSSRefused, Harness
from dssbench.simulator import normalise
from nodeops import operations

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = {"NIGHTLY_CLEANUP": ("Daily", 2, 0, None, ["purge-job-logs", "purge-scenario-logs", "purge-exports"]),
             "KERNEL_CULLING": ("Hourly", 0, 10, None, ["cull-kernels"]),
             "CAPACITY_REPORT": ("Daily", 6, 0, None, ["capacity-report"]),
             "CONFIG_AUDIT": ("Weekly", 7, 0, ["Monday"], ["config-audit"]),
             "RECLAIM_DISK": ("Weekly", 3, 0, ["Sunday"], ["reclaim-disk"]),
             "MONITORING": ("Minutely", None, None, None, ["collect-metrics", "health-check"])}
#: Every macro of the plugin (the folders DSS loads), but setup-admin-project itself.
MACROS = {p.name for p in (ROOT / "python-runnables").iterdir() if (p / "runnable.json").is_file()} - {
    "setup-admin-project"}
STATIC_INSIGHTS = {op.insight_id for op in operations.OPERATIONS.values() if op.insight_id}
TILE_PARAMS = {"scenario_last_runs": {"displayMode": "SIMPLE", "range": "CURRENT_MONTH"},
               "static_file": {"numDisplayedComments": 5}, "runnable-button": {"showName": True}}
CHANNELS = [{"id": "team-slack", "type": "slack"},
            {"id": "ops-mail", "type": "smtp", "family": "mail", "sender": "dss@example.com"},
            {"id": "backup-mail", "type": "aws-ses-mail", "family": "mail"},
            {"id": "ops-teams", "type": "msft-teams"},
            {"id": "ops-webhook", "type": "webhook"},
            {"id": "team-chat", "type": "google-chat"}]


def spec_with(**overrides):
    return dict(small_spec(), **overrides)


@pytest.fixture
def env(new_instance, start_sim):
    return make_env(new_instance, start_sim)


def make_env(new_instance, start_sim, spec=None):
    from dataikuapi import DSSClient

    dip_home, model = new_instance(spec)
    sim = start_sim(dip_home, model, start_kernels=False)
    return sim, Harness(sim), DSSClient(sim.url, sim.api_key("admin"))


def setup(h, **config):
    out = h.run_macro("setup-admin-project", config)
    assert out.ok, out.traceback
    return out.result


def rows(html):
    return {(t, a) for t, a, _ in re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td></tr>", html)}


def writes(sim, since=0):
    return [(x.method, x.path) for x in sim.hits[since:] if x.method in ("POST", "PUT", "DELETE")]


def scenario_raw(client, sid):
    return client.get_project("ADMIN").get_scenario(sid).get_settings().get_raw()


def dashboard_tiles(client):
    project = client.get_project("ADMIN")
    (dashboard,) = [d for d in project.list_dashboards() if d["name"] == "Node health"]
    pages = project.get_dashboard(dashboard["id"]).get_settings().get_raw()["pages"]
    return [t for p in pages for t in p["grid"]["tiles"]]


def test_dry_run_is_the_default_and_creates_nothing(env):
    sim, h, client = env
    html = setup(h)
    assert "dry run: nothing was changed" in html and "scenario NIGHTLY_CLEANUP" in html
    assert "ADMIN" not in client.list_project_keys()
    assert writes(sim) == []


def test_first_run_creates_everything(env):
    sim, h, client = env
    setup(h, dry_run=False, alert_email="ops@example.com", timezone="Europe/Paris", retention_days=45, keep_last=7,
          max_idle_hours=12)
    assert "ADMIN" in client.list_project_keys()
    project = client.get_project("ADMIN")
    perms = project.get_permissions()
    admin_groups = {g["name"] for g in client.list_groups() if g.get("admin")}
    assert {p["group"] for p in perms["permissions"]} == admin_groups and all(p["admin"] for p in perms["permissions"])
    assert perms["owner"] == "admin"
    scenarios = {s["id"]: s for s in project.list_scenarios()}
    assert set(scenarios) == set(SCENARIOS)
    for sid, (freq, hour, minute, days, steps) in SCENARIOS.items():
        raw = scenario_raw(client, sid)
        assert raw["active"] is False  # inactive until reviewed
        (trigger,) = raw["triggers"]
        assert trigger["type"] == "temporal" and trigger["params"]["frequency"] == freq
        if freq == "Minutely":
            assert trigger["params"]["repeatFrequency"] == 5
        else:
            assert trigger["params"]["minute"] == minute and trigger["params"]["timezone"] == "Europe/Paris"
            assert trigger["params"].get("hour") == hour and trigger["params"].get("daysOfWeek") == days
        assert [s["type"] for s in raw["params"]["steps"]] == ["pystep_node-ops_" + s for s in steps]
        (reporter,) = raw["reporters"]
        assert reporter["messaging"]["configuration"]["recipient"] == "ops@example.com"
    nightly = scenario_raw(client, "NIGHTLY_CLEANUP")["params"]["steps"]
    assert nightly[0]["params"]["config"]["retention_days"] == 45 and nightly[0]["params"]["config"]["keep_last"] == 7
    assert nightly[0]["params"]["config"]["dry_run"] is False
    culling = scenario_raw(client, "KERNEL_CULLING")["params"]["steps"][0]
    assert culling["params"]["config"]["max_idle_hours"] == 12
    audit_step = scenario_raw(client, "CONFIG_AUDIT")["params"]["steps"][0]
    # ADMIN is what the plugin settings give (none set: their default): the step reads them when it runs
    assert "admin_project_key" not in audit_step["params"]["config"]
    tiles = dashboard_tiles(client)
    insights = {t["insightId"]: project.get_insight(t["insightId"]).get_settings().get_raw() for t in tiles}
    buttons = {insights[t["insightId"]]["params"]["runnableType"] for t in tiles if t["insightType"] == "runnable-button"}
    assert buttons == {"pyrunnable_node-ops_" + m for m in MACROS}
    assert {t["insightId"] for t in tiles if t["insightType"] == "static_file"} == STATIC_INSIGHTS
    last_runs = {insights[t["insightId"]]["params"]["scenarioSmartId"] for t in tiles
                 if t["insightType"] == "scenario_last_runs"}
    assert last_runs == set(SCENARIOS)


# ---- a second run, hand edits, activation ----------------------------------------------------------
def test_second_run_changes_nothing(env):
    sim, h, client = env
    setup(h, dry_run=False, alert_email="ops@example.com", backup_dir="/var/backups/dss")
    before = len(sim.hits)
    html = setup(h, dry_run=False, alert_email="ops@example.com", backup_dir="/var/backups/dss")
    assert writes(sim, before) == []
    assert "Nothing to change" in html and ">create<" not in html and ">update<" not in html
    assert ("permissions of ADMIN", "keep") in rows(html)
    assert {("scenario %s" % sid, "keep") for sid in list(SCENARIOS) + ["BACKUP"]} <= rows(html)


def test_hand_edits_are_left_alone_unless_overwrite(env):
    sim, h, client = env
    setup(h, dry_run=False)
    scenario = client.get_project("ADMIN").get_scenario("NIGHTLY_CLEANUP")
    s = scenario.get_settings()
    s.get_raw()["triggers"][0]["params"]["hour"] = 3  # the administrator prefers 03:00
    s.save()
    html = setup(h, dry_run=False, retention_days=60)  # new parameters: would change NIGHTLY_CLEANUP
    assert ("scenario NIGHTLY_CLEANUP", "left alone") in rows(html) and "changed by hand" in html
    raw = scenario.get_settings().get_raw()
    assert raw["triggers"][0]["params"]["hour"] == 3
    assert raw["params"]["steps"][0]["params"]["config"]["retention_days"] == 30
    setup(h, dry_run=False, retention_days=60, overwrite=True)
    raw = scenario.get_settings().get_raw()
    assert raw["triggers"][0]["params"]["hour"] == 2
    assert raw["params"]["steps"][0]["params"]["config"]["retention_days"] == 60
    assert "Nothing to change" in setup(h, dry_run=False, retention_days=60)


def test_a_hand_edit_is_detected_and_only_then(env):
    sim, h, client = env
    setup(h, dry_run=False, alert_email="ops@example.com")
    for sid in SCENARIOS:  # opened and saved as it is, as the scenario editor does: no edit
        client.get_project("ADMIN").get_scenario(sid).get_settings().save()
    html = setup(h, dry_run=False, alert_email="ops@example.com")
    assert "Nothing to change" in html and not [t for t, a in rows(html) if a == "left alone"]
    s = client.get_project("ADMIN").get_scenario("CAPACITY_REPORT").get_settings()
    s.raw_steps[0]["runConditionExpression"] = "1 == 1"  # a field DSS fills, node-ops never sets
    s.save()
    html = setup(h, dry_run=False, alert_email="ops@example.com")
    assert ("scenario CAPACITY_REPORT", "left alone") in rows(html)
    assert [t for t, a in rows(html) if a == "left alone"] == ["scenario CAPACITY_REPORT"]


def test_activating_a_scenario_by_hand_is_not_an_edit(env):
    sim, h, client = env
    setup(h, dry_run=False)
    s = client.get_project("ADMIN").get_scenario("KERNEL_CULLING").get_settings()
    s.active = True
    s.save()
    before = len(sim.hits)
    html = setup(h, dry_run=False)
    assert "Nothing to change" in html and writes(sim, before) == []
    html = setup(h, dry_run=False, max_idle_hours=6)  # an update never deactivates
    assert ("scenario KERNEL_CULLING", "update") in rows(html)
    raw = scenario_raw(client, "KERNEL_CULLING")
    assert raw["active"] is True and raw["params"]["steps"][0]["params"]["config"]["max_idle_hours"] == 6


def test_activate_activates_the_scenarios_node_ops_created(env):
    sim, h, client = env
    setup(h, dry_run=False)
    mine = client.get_project("ADMIN").create_scenario("Someone else's", "step_based")
    html = setup(h, dry_run=False, activate=True)
    assert {("scenario %s" % sid, "activate") for sid in SCENARIOS} <= rows(html)
    assert "Nothing to change" not in html
    assert all(scenario_raw(client, sid)["active"] for sid in SCENARIOS)
    assert scenario_raw(client, mine.id)["active"] is False  # not node-ops's
    again = setup(h, dry_run=False, activate=True)
    assert "Nothing to change" in again  # activating was not an edit
    assert "Nothing to change" in setup(h, dry_run=False)  # and without activate nothing is deactivated
    assert all(scenario_raw(client, sid)["active"] for sid in SCENARIOS)


def test_activate_reaches_a_scenario_edited_by_hand_and_keeps_the_edit(env):
    sim, h, client = env
    setup(h, dry_run=False)
    s = client.get_project("ADMIN").get_scenario("NIGHTLY_CLEANUP").get_settings()
    s.raw_triggers[0]["params"]["hour"] = 4
    s.save()
    html = setup(h, dry_run=False, activate=True)
    assert {("scenario NIGHTLY_CLEANUP", "left alone"), ("scenario NIGHTLY_CLEANUP", "activate")} <= rows(html)
    raw = scenario_raw(client, "NIGHTLY_CLEANUP")
    assert raw["active"] is True and raw["triggers"][0]["params"]["hour"] == 4


def test_new_parameters_update_scenarios_node_ops_wrote(env):
    sim, h, client = env
    setup(h, dry_run=False)
    html = setup(h, dry_run=False, max_idle_hours=6)
    assert "new plugin version or parameters" in html
    step = scenario_raw(client, "KERNEL_CULLING")["params"]["steps"][0]
    assert step["params"]["config"]["max_idle_hours"] == 6


# ---- permissions --------------------------------------------------------------------------------------
def test_an_existing_project_open_to_users_is_closed(env):
    sim, h, client = env
    client.create_project("ADMIN", "Admin", "admin")
    project = client.get_project("ADMIN")
    perms = project.get_permissions()
    perms["permissions"] = [{"group": "data_team", "readProjectContent": True},
                            {"group": "administrators", "admin": True}]
    project.set_permissions(perms)
    html = setup(h, dry_run=False)
    assert ("permissions of ADMIN", "update") in rows(html) and "removes data_team" in html
    assert {p["group"] for p in project.get_permissions()["permissions"]} == {"administrators"}
    assert project.get_permissions()["owner"] == "admin"
    again = setup(h, dry_run=False)
    assert ("permissions of ADMIN", "keep") in rows(again)


# ---- mail reporters --------------------------------------------------------------------------------------
def test_the_alert_reporter_has_the_shape_dss_saves_and_the_first_mail_channel(new_instance, start_sim):
    sim, h, client = make_env(new_instance, start_sim, spec_with(messaging_channels=CHANNELS))
    setup(h, dry_run=False, alert_email="ops@example.com")
    for sid in SCENARIOS:
        (reporter,) = scenario_raw(client, sid)["reporters"]
        assert (reporter["phase"], reporter["active"], reporter["runCondition"]) == ("END", True, "outcome == 'FAILED'")
        assert reporter["messaging"]["type"] == "mail-scenario"
        configuration = reporter["messaging"]["configuration"]
        assert {k: configuration[k] for k in ("channelId", "recipient", "sendAsHTML", "attachments", "messageSource",
                                              "templateFormat")} == {
            "channelId": "ops-mail", "recipient": "ops@example.com", "sendAsHTML": False, "attachments": [],
            "messageSource": "INLINE", "templateFormat": "FREEMARKER"}
        used = set(re.findall(r"\$\{([^}]*)\}", configuration["subject"] + configuration["message"]))
        assert used <= {"scenarioName", "scenarioProjectKey", "outcome"}
        subject, message = normalise.render_mail(reporter, "Nightly cleanup", "ADMIN", "FAILED")
        assert "FAILED" in subject and "ADMIN" in message and "${" not in subject + message
    html = setup(h, dry_run=False, alert_email="ops@example.com", alert_channel="backup-mail")
    assert ("scenario NIGHTLY_CLEANUP", "update") in rows(html)
    (reporter,) = scenario_raw(client, "NIGHTLY_CLEANUP")["reporters"]
    assert reporter["messaging"]["configuration"]["channelId"] == "backup-mail"
    assert "Nothing to change" in setup(h, dry_run=False, alert_email="ops@example.com", alert_channel="backup-mail")


def test_without_a_mail_channel_no_reporter_is_created_and_the_report_says_so(new_instance, start_sim):
    sim, h, client = make_env(new_instance, start_sim, spec_with(messaging_channels=[CHANNELS[0]]))
    html = setup(h, dry_run=False, alert_email="ops@example.com")
    assert ("alert reporters", "not created") in rows(html)
    assert "no mail channel: no alert reporter created" in html.lower()
    assert all(scenario_raw(client, sid)["reporters"] == [] for sid in SCENARIOS)
    assert "Nothing to change" in setup(h, dry_run=False, alert_email="ops@example.com")


@pytest.mark.parametrize("channel, message", [("no-such-channel", "is not a messaging channel of this instance"),
                                              ("team-chat", "is a google-chat channel, not a mail, Slack")])
def test_a_bad_alert_channel_is_refused_before_anything(new_instance, start_sim, channel, message):
    sim, h, client = make_env(new_instance, start_sim, spec_with(messaging_channels=CHANNELS))
    out = h.run_macro("setup-admin-project", {"dry_run": False, "alert_email": "ops@example.com",
                                              "alert_channel": channel})
    assert not out.ok and "'alert_channel'" in out.error and message in out.error, out.error
    assert "ops-mail" in out.error  # the channels it could be
    assert writes(sim) == [] and "ADMIN" not in client.list_project_keys()


@pytest.mark.parametrize("channel, rtype, field", [("team-slack", "slack-scenario", "message"),
                                                  ("ops-teams", "msft-teams-scenario", "message"),
                                                  ("ops-webhook", "webhook-scenario", "payload")])
def test_an_alert_reporter_for_each_channel_type_the_instance_offers(new_instance, start_sim, channel, rtype, field):
    """No alert_email needed outside mail; the simulator refuses a reporter whose channelId is not a
    channel of its type or whose template uses a variable DSS does not provide."""
    sim, h, client = make_env(new_instance, start_sim, spec_with(messaging_channels=CHANNELS))
    html = setup(h, dry_run=False, alert_channel=channel)
    assert ("scenario NIGHTLY_CLEANUP", "create") in rows(html)
    for sid in SCENARIOS:
        (reporter,) = scenario_raw(client, sid)["reporters"]
        assert (reporter["phase"], reporter["runCondition"]) == ("END", "outcome == 'FAILED'")
        assert reporter["messaging"]["type"] == rtype
        configuration = reporter["messaging"]["configuration"]
        assert configuration["channelId"] == channel and configuration["useProxy"] is True
        assert all(configuration[k] == [] for k in ("variables", "parameters", "headers", "form"))
        text = normalise.render_template(configuration[field], {"scenarioName": "Nightly cleanup",
                                                                "scenarioProjectKey": "ADMIN", "outcome": "FAILED"})
        assert "FAILED" in text and "ADMIN" in text and "${" not in text
        if rtype == "webhook-scenario":
            assert json.loads(text)["outcome"] == "FAILED" and configuration["method"] == "POST"
    assert "Nothing to change" in setup(h, dry_run=False, alert_channel=channel)


def test_a_mail_channel_without_an_alert_email_creates_no_reporter_and_says_so(new_instance, start_sim):
    sim, h, client = make_env(new_instance, start_sim, spec_with(messaging_channels=CHANNELS))
    html = setup(h, dry_run=False, alert_channel="ops-mail")
    assert ("alert reporters", "not created") in rows(html) and "no alert_email" in html
    assert all(scenario_raw(client, sid)["reporters"] == [] for sid in SCENARIOS)


# ---- the dashboard ---------------------------------------------------------------------------------------
def test_the_dashboard_loads(env):
    sim, h, client = env
    setup(h, dry_run=False)
    tiles = dashboard_tiles(client)
    boxes = [t["box"] for t in tiles]
    for t in tiles:
        assert t["tileParams"] == TILE_PARAMS[t["insightType"]] and t["autoLoad"] is True
        assert t["clickAction"] == ("OPEN_INSIGHT" if t["insightType"] == "scenario_last_runs" else "DO_NOTHING")
        assert t["resizeImageMode"] == "FIT_SIZE" and t["displayMode"] == "INSIGHT" and "titleOptions" in t
        b = t["box"]
        assert 0 <= b["left"] <= 35 and b["left"] + b["width"] <= 36 and b["top"] >= 0 and b["height"] >= 1
    for i, a in enumerate(boxes):
        for b in boxes[:i]:
            assert not (a["left"] < b["left"] + b["width"] and b["left"] < a["left"] + a["width"]
                        and a["top"] < b["top"] + b["height"] and b["top"] < a["top"] + a["height"]), (a, b)


def test_the_static_insights_exist_before_the_dashboard_points_at_them(env):
    sim, h, client = env
    setup(h, dry_run=False)
    paths = [x.path for x in sim.hits if x.method == "POST"]
    saved = [i for i, p in enumerate(paths) if p.endswith("/tintercom/insights/save-static-file-insight")]
    (dashboard,) = [i for i, p in enumerate(paths) if p.endswith("/projects/ADMIN/dashboards/")]
    assert len(saved) == len(STATIC_INSIGHTS) and max(saved) < dashboard
    project = client.get_project("ADMIN")
    for insight_id in STATIC_INSIGHTS:
        raw = project.get_insight(insight_id).get_settings().get_raw()
        assert raw["type"] == "static_file"
        assert b"scenario of this project saves it here" in sim.state.insight_data[("ADMIN", insight_id)]


def test_a_report_already_saved_is_not_replaced_by_a_placeholder(env):
    sim, h, client = env
    client.create_project("ADMIN", "Admin", "admin")
    requests.post("%s/dip/api/tintercom/insights/save-static-file-insight" % sim.url,
                  data={"projectKey": "ADMIN", "id": "node-ops-capacity-report", "contentType": "text/html",
                        "payload": base64.b64encode(b"<p>a real report</p>").decode()},
                  headers={"X-DKU-APITicket": sim.issue_ticket("admin")}, timeout=30).raise_for_status()
    html = setup(h, dry_run=False)
    assert ("static insight node-ops-capacity-report", "create") not in rows(html)
    assert ("static insight node-ops-config-audit", "create") in rows(html)
    assert sim.state.insight_data[("ADMIN", "node-ops-capacity-report")] == b"<p>a real report</p>"


def test_from_the_command_line_the_dashboard_leaves_out_the_reports_it_cannot_save(env):
    sim, h, client = env
    out = nodeops_cli.run("setup-admin-project", "--format", "json", "--url", sim.url,
                          "--api-key", sim.api_key("admin"), "--dry-run", "false")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    (table,) = report["tables"]
    actions = {(r["target"], r["action"]) for r in table["rows"]}
    assert {("static insight %s" % i, "not created") for i in STATIC_INSIGHTS} <= actions
    types = {t["insightType"] for t in dashboard_tiles(client)}
    assert types == {"runnable-button", "scenario_last_runs"}


# ---- the audit, backups, refusals -----------------------------------------------------------------------
def test_activated_project_satisfies_the_configuration_audit(env):
    sim, h, client = env
    setup(h, dry_run=False, activate=True)
    assert all(scenario_raw(client, sid)["active"] for sid in SCENARIOS)
    out = nodeops_cli.run("config-audit", "--format", "json", "--dip-home", sim.state.dip_home, "--url", sim.url,
                          "--api-key", sim.api_key("admin"))
    report = json.loads(out.stdout)
    admin = {f["id"]: f["severity"] for f in report["findings"] if f["id"].startswith("admin.")}
    assert admin == {"admin.exists": "PASS", "admin.permissions": "PASS", "admin.purge": "PASS", "admin.cull": "PASS"}


def test_backup_scenario_with_a_backup_dir(env, tmp_path):
    sim, h, client = env
    html = setup(h, dry_run=False)
    assert "no backup_dir given" in html and "BACKUP" not in {s["id"] for s in client.get_project("ADMIN").list_scenarios()}
    setup(h, dry_run=False, backup_dir=str(tmp_path / "backups"))
    raw = scenario_raw(client, "BACKUP")
    (step,) = raw["params"]["steps"]
    assert step["type"] == "pystep_node-ops_backup" and step["params"]["config"]["target_dir"] == str(tmp_path / "backups")
    assert raw["triggers"][0]["params"]["hour"] == 1


def test_refusals_and_bad_parameters(env):
    sim, h, client = env
    with pytest.raises(DSSRefused):
        h.run_macro("setup-admin-project", {"dry_run": False}, user="alice")
    out = h.run_macro("setup-admin-project", {"dry_run": False}, user="alice", enforce_dss_permissions=False)
    assert not out.ok and "permission denied" in out.error
    for config, message in (({"project_key": "admin/x"}, "'project_key' must be capital letters"),
                            ({"alert_email": "ops at example"}, "'alert_email' must be one e-mail address"),
                            ({"timezone": "not a zone!"}, "'timezone' must be a time zone name"),
                            ({"retention_days": -1}, "'retention_days' must be an integer from 0 to 36500")):
        bad = h.run_macro("setup-admin-project", dict(config, dry_run=False))
        assert not bad.ok and message in bad.error, bad.error
    assert "ADMIN" not in client.list_project_keys() and writes(sim) == []
