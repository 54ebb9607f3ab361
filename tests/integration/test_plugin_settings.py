"""Plugin-level settings (plugin.json "params", Plugins > node-ops > Settings): set once through
the API as an administrator would, they are the defaults of every macro and step; a value in the
form wins; on the command line the same defaults come from NODEOPS_* environment variables."""

import json
import os
from pathlib import Path

import pytest
from dataikuapi.utils import DataikuException

from dssbench import cli as nodeops_cli
from dssbench.harness import Harness, run_scenario_and_wait
from nodeops import operations, settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(new_instance, start_sim):
    from dataikuapi import DSSClient

    dip_home, model = new_instance()
    sim = start_sim(dip_home, model, start_kernels=False)
    return sim, Harness(sim), DSSClient(sim.url, sim.api_key("admin"))


def set_plugin_settings(client, **values):
    """As an administrator in Plugins > node-ops > Settings: the values under the settings' config."""
    plugin_settings = client.get_plugin("node-ops").get_settings()
    plugin_settings.get_raw()["config"].update(values)
    plugin_settings.save()


def archives(folder):
    return sorted(n for n in os.listdir(folder) if n.startswith("dss-backup-")) if os.path.isdir(folder) else []


def test_plugin_json_declares_the_settings_and_the_forms_leave_their_fields_empty():
    declared = json.loads((ROOT / "plugin.json").read_text())["params"]
    assert [p["name"] for p in declared] == ["admin_project_key", "backup_dir", "graphite_host", "graphite_port",
                                             "graphite_prefix", "prometheus_file", "alert_channel"]
    fed = {}
    for op in operations.OPERATIONS.values():
        for p in op.params:
            if p.setting:
                fed.setdefault(op.id, {})[p.name] = p.setting
                # the field's own default is the setting's (one fallback, whichever way the value comes)
                assert settings.BY_NAME[p.setting].default in (None, "", p.default), (op.id, p.name)
    assert fed == {"backup": {"target_dir": "backup_dir"},
                   "config-audit": {"backup_dir": "backup_dir", "admin_project_key": "admin_project_key"},
                   "setup-admin-project": {"project_key": "admin_project_key", "backup_dir": "backup_dir",
                                           "alert_channel": "alert_channel"},
                   "collect-metrics": {"graphite_host": "graphite_host", "graphite_port": "graphite_port",
                                       "prefix": "graphite_prefix", "prometheus_file": "prometheus_file"}}
    for kind, descriptor in (("python-runnables", "runnable.json"), ("python-steps", "step.json")):
        for op_id, fields in fed.items():
            path = ROOT / kind / op_id / descriptor
            if not path.is_file():
                continue
            for p in json.loads(path.read_text())["params"]:
                if p["name"] in fields:  # a pre-filled or mandatory field would never let the setting apply
                    assert "defaultValue" not in p and not p.get("mandatory"), (path, p)
                    assert "plugin setting %s" % fields[p["name"]] in p["description"]


def test_settings_are_saved_by_administrators_only(env):
    sim, h, client = env
    from dataikuapi import DSSClient

    assert client.get_plugin("node-ops").get_settings().get_raw()["config"] == {}
    set_plugin_settings(client, backup_dir="/srv/backups")
    assert h.plugin_config() == {"backup_dir": "/srv/backups"}
    with pytest.raises(DataikuException):
        DSSClient(sim.url, sim.api_key("alice")).get_plugin("node-ops").get_settings()


def test_the_backup_folder_setting_is_the_default_of_the_macro_and_the_step(env, tmp_path):
    sim, h, client = env
    shared, typed = tmp_path / "shared-backups", tmp_path / "typed-backups"
    out = h.run_macro("backup", {})
    assert not out.ok and "'target_dir' is mandatory" in out.error and "plugin setting 'backup_dir'" in out.error
    set_plugin_settings(client, backup_dir=str(shared))
    out = h.run_macro("backup", {})  # an empty form: the setting
    assert out.ok, out.traceback
    assert len(archives(shared)) == 1
    step = h.run_step("backup", {"target_dir": ""})  # the step hands its work to the macro, through the API
    assert step.ok, step.stderr
    assert len(archives(shared)) == 2
    out = h.run_macro("backup", {"target_dir": str(typed)})  # a value in the form wins
    assert out.ok, out.traceback
    assert len(archives(typed)) == 1 and len(archives(shared)) == 2
    step = h.run_step("backup", {"target_dir": str(typed)})
    assert step.ok, step.stderr
    assert len(archives(typed)) == 2 and len(archives(shared)) == 2
    # the step carried the value it resolved to the macro it ran
    macro_runs = [e for e in sim.executions if e["kind"] == "macro" and e["id"] == "backup"]
    assert macro_runs[-1]["config"]["target_dir"] == str(typed)


def test_the_audit_checks_the_backup_folder_of_the_settings(env, tmp_path):
    sim, h, client = env
    folder = tmp_path / "backups"
    out = h.run_macro("config-audit", {})
    assert "no backup_dir given" in out.result
    set_plugin_settings(client, backup_dir=str(folder))
    assert h.run_macro("backup", {}).ok
    out = h.run_macro("config-audit", {})
    assert out.ok, out.traceback
    assert "no backup_dir given" not in out.result and str(folder) in out.result


def test_the_backup_scenario_relies_on_the_setting(env, tmp_path):
    """setup-admin-project with the backup folder set once in the settings: the BACKUP scenario is
    created without a folder of its own and writes where the setting says, the audit step of the
    project gets none either; a folder typed in the setup form is written into the step."""
    sim, h, client = env
    folder = tmp_path / "backups"
    set_plugin_settings(client, backup_dir=str(folder))
    out = h.run_macro("setup-admin-project", {"dry_run": False})
    assert out.ok, out.traceback
    project = client.get_project("ADMIN")
    (step,) = project.get_scenario("BACKUP").get_settings().get_raw()["params"]["steps"]
    assert "target_dir" not in step["params"]["config"]
    (audit,) = project.get_scenario("CONFIG_AUDIT").get_settings().get_raw()["params"]["steps"]
    assert "backup_dir" not in audit["params"]["config"] and "admin_project_key" not in audit["params"]["config"]
    run = run_scenario_and_wait(project.get_scenario("BACKUP"))
    assert run.outcome == "SUCCESS", run.get_details().get_raw()
    assert len(archives(folder)) == 1
    typed = tmp_path / "typed"
    assert h.run_macro("setup-admin-project", {"dry_run": False, "backup_dir": str(typed)}).ok
    (step,) = project.get_scenario("BACKUP").get_settings().get_raw()["params"]["steps"]
    assert step["params"]["config"]["target_dir"] == str(typed)


def test_monitoring_sinks_come_from_the_settings(env, tmp_path):
    sim, h, client = env
    prom = tmp_path / "node.prom"
    set_plugin_settings(client, prometheus_file=str(prom))
    out = h.run_macro("collect-metrics", {"history": False})
    assert out.ok, out.traceback
    assert "nodeops_" in prom.read_text()
    other = tmp_path / "other.prom"
    assert h.run_macro("collect-metrics", {"history": False, "prometheus_file": str(other)}).ok
    assert other.is_file()


def test_a_bad_setting_is_refused_naming_the_setting(env):
    sim, h, client = env
    set_plugin_settings(client, graphite_host="carbon.example.com", graphite_port="port")
    out = h.run_macro("collect-metrics", {"history": False})
    assert not out.ok
    assert "'graphite_port' (from the plugin setting 'graphite_port'" in out.error and "'port'" in out.error
    out = h.run_macro("collect-metrics", {"history": False, "graphite_host": "", "graphite_port": 2004,
                                          "prometheus_file": ""})
    assert "graphite_port" not in (out.error or "")  # the form's value wins over the bad setting


def test_the_command_line_takes_the_settings_from_the_environment(new_instance, tmp_path):
    dip_home, _ = new_instance()
    folder, typed = tmp_path / "env-backups", tmp_path / "flag-backups"
    out = nodeops_cli.run("backup", "--dip-home", dip_home)
    assert out.returncode == 2 and "$NODEOPS_BACKUP_DIR" in out.stderr
    out = nodeops_cli.run("backup", "--dip-home", dip_home, extra_env={"NODEOPS_BACKUP_DIR": str(folder)})
    assert out.returncode == 0, out.stderr
    assert len(archives(folder)) == 1
    out = nodeops_cli.run("backup", "--dip-home", dip_home, "--target-dir", typed,
                          extra_env={"NODEOPS_BACKUP_DIR": str(folder)})
    assert out.returncode == 0, out.stderr
    assert len(archives(typed)) == 1 and len(archives(folder)) == 1
    out = nodeops_cli.run("collect-metrics", "--dip-home", dip_home, "--history", "false",
                          extra_env={"NODEOPS_GRAPHITE_PORT": "x", "NODEOPS_GRAPHITE_HOST": "h"})
    assert out.returncode == 2 and "'graphite_port' (from $NODEOPS_GRAPHITE_PORT)" in out.stderr
    help_text = nodeops_cli.run("backup", "--help").stdout
    assert "$NODEOPS_BACKUP_DIR" in help_text


def test_a_step_given_no_plugin_settings_says_so_and_uses_none(env, tmp_path):
    """Where a DSS would not give steps their plugin's settings (the key is observed, not documented),
    the step says so in its log and the settings are not used: the backup step refuses, as it would
    with no setting, instead of writing somewhere unexpected."""
    sim, h, client = env
    set_plugin_settings(client, backup_dir=str(tmp_path / "backups"))
    step = h.run_step("backup", {}, plugin_config={"config": {}})
    assert not step.ok and "'target_dir' is mandatory" in step.error_message
    assert "gives steps no 'pluginConfig'" in step.stdout
    assert archives(tmp_path / "backups") == []
    step = h.run_step("backup", {})  # the shape the bench gives (guesses.STEP_PLUGIN_CONFIG_KEY)
    assert step.ok and "gives steps no" not in step.stdout
