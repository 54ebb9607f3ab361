"""setup-admin-project end to end: what the first run creates (checked object by object
through dataikuapi), that a second run changes nothing, that hand edits are left
alone, dry run, refusals; and that the configuration audit is satisfied by it."""

import json

import pytest

from dssbench import cli as nodeops_cli
from dssbench.harness import DSSRefused, Harness

SCENARIOS = {"NIGHTLY_CLEANUP": ("Daily", 2, 0, None, ["purge-job-logs", "purge-scenario-logs", "purge-exports"]),
             "KERNEL_CULLING": ("Hourly", 0, 10, None, ["cull-kernels"]),
             "CAPACITY_REPORT": ("Daily", 6, 0, None, ["capacity-report"]),
             "CONFIG_AUDIT": ("Weekly", 7, 0, ["Monday"], ["config-audit"]),
             "MONITORING": ("Minutely", None, None, None, ["collect-metrics", "health-check"])}
MACROS = {"capacity-report", "config-audit", "collect-metrics", "cull-kernels", "purge-job-logs",
          "purge-scenario-logs", "purge-exports"}


@pytest.fixture
def env(new_instance, start_sim):
    from dataikuapi import DSSClient

    dip_home, model = new_instance()
    sim = start_sim(dip_home, model, start_kernels=False)
    return sim, Harness(sim), DSSClient(sim.url, sim.api_key("admin"))


def setup(h, **config):
    out = h.run_macro("setup-admin-project", config)
    assert out.ok, out.traceback
    return out.result


def writes(sim, since=0):
    return [(x.method, x.path) for x in sim.hits[since:] if x.method in ("POST", "PUT", "DELETE")]


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
    settings = project.get_settings().get_raw()
    admin_groups = {g["name"] for g in client.list_groups() if g.get("admin")}
    assert {p["group"] for p in settings["permissions"]} == admin_groups
    assert settings["owner"] == "admin"
    scenarios = {s["id"]: s for s in project.list_scenarios()}
    assert set(scenarios) == set(SCENARIOS)
    for sid, (freq, hour, minute, days, steps) in SCENARIOS.items():
        raw = project.get_scenario(sid).get_settings().get_raw()
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
    nightly = project.get_scenario("NIGHTLY_CLEANUP").get_settings().get_raw()["params"]["steps"]
    assert nightly[0]["params"]["config"]["retention_days"] == 45 and nightly[0]["params"]["config"]["keep_last"] == 7
    assert nightly[0]["params"]["config"]["dry_run"] is False
    culling = project.get_scenario("KERNEL_CULLING").get_settings().get_raw()["params"]["steps"][0]
    assert culling["params"]["config"]["max_idle_hours"] == 12
    audit_step = project.get_scenario("CONFIG_AUDIT").get_settings().get_raw()["params"]["steps"][0]
    assert audit_step["params"]["config"]["admin_project_key"] == "ADMIN"
    (dashboard,) = [d for d in project.list_dashboards() if d["name"] == "Node health"]
    pages = project.get_dashboard(dashboard["id"]).get_settings().get_raw()["pages"]
    tiles = [t for p in pages for t in p["grid"]["tiles"]]
    insights = {t["insightId"]: project.get_insight(t["insightId"]).get_settings().get_raw() for t in tiles
                if t["insightType"] != "static_file"}  # static insights appear when the steps first run
    buttons = {insights[t["insightId"]]["params"]["runnableType"] for t in tiles if t["insightType"] == "runnable-button"}
    assert buttons == {"pyrunnable_node-ops_" + m for m in MACROS}
    assert {t["insightId"] for t in tiles if t["insightType"] == "static_file"} == {
        "node-ops-capacity-report", "node-ops-config-audit"}
    last_runs = {insights[t["insightId"]]["params"]["scenarioSmartId"] for t in tiles
                 if t["insightType"] == "scenario_last_runs"}
    assert last_runs == set(SCENARIOS)


def test_second_run_changes_nothing(env):
    sim, h, client = env
    setup(h, dry_run=False, alert_email="ops@example.com")
    before = len(sim.hits)
    html = setup(h, dry_run=False, alert_email="ops@example.com")
    assert writes(sim, before) == []
    assert "Nothing to change" in html and ">create<" not in html and ">update<" not in html


def test_hand_edits_are_left_alone_unless_overwrite(env):
    sim, h, client = env
    setup(h, dry_run=False)
    scenario = client.get_project("ADMIN").get_scenario("NIGHTLY_CLEANUP")
    s = scenario.get_settings()
    s.get_raw()["triggers"][0]["params"]["hour"] = 3  # the administrator prefers 03:00
    s.save()
    html = setup(h, dry_run=False, retention_days=60)  # new parameters: would change NIGHTLY_CLEANUP
    assert "changed by hand" in html
    raw = scenario.get_settings().get_raw()
    assert raw["triggers"][0]["params"]["hour"] == 3
    assert raw["params"]["steps"][0]["params"]["config"]["retention_days"] == 30
    setup(h, dry_run=False, retention_days=60, overwrite=True)
    raw = scenario.get_settings().get_raw()
    assert raw["triggers"][0]["params"]["hour"] == 2
    assert raw["params"]["steps"][0]["params"]["config"]["retention_days"] == 60


def test_new_parameters_update_scenarios_node_ops_wrote(env):
    sim, h, client = env
    setup(h, dry_run=False)
    html = setup(h, dry_run=False, max_idle_hours=6)
    assert "new plugin version or parameters" in html
    step = client.get_project("ADMIN").get_scenario("KERNEL_CULLING").get_settings().get_raw()["params"]["steps"][0]
    assert step["params"]["config"]["max_idle_hours"] == 6


def test_an_existing_project_open_to_users_is_closed(env):
    sim, h, client = env
    client.create_project("ADMIN", "Admin", "admin")
    settings = client.get_project("ADMIN").get_settings()
    settings.get_raw()["permissions"] = [{"group": "data_team", "readProjectContent": True}]
    settings.save()
    html = setup(h, dry_run=False)
    assert "removes data_team" in html
    groups = {p["group"] for p in client.get_project("ADMIN").get_settings().get_raw()["permissions"]}
    assert "data_team" not in groups


def test_activated_project_satisfies_the_configuration_audit(env):
    sim, h, client = env
    setup(h, dry_run=False, activate=True)
    assert all(client.get_project("ADMIN").get_scenario(sid).get_settings().get_raw()["active"] for sid in SCENARIOS)
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
    raw = client.get_project("ADMIN").get_scenario("BACKUP").get_settings().get_raw()
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
