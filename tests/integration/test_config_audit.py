"""config-audit end to end: every check with a passing and a failing case on generated
DATA_DIRs and simulator states (the real client over HTTP), the fixes (atomic,
idempotent), the step's failure threshold, refusals."""

import json
import os
import re
import subprocess
import sys
import time

import psutil
import pytest

from dssbench import cli as nodeops_cli
from dssbench.archives import craft, member
from dssbench.datadir import small_spec
from dssbench.harness import DSSRefused, Harness

GIB = 1024 ** 3
RAM_GIB = psutil.virtual_memory().total / GIB


def audit(sim, *args, expect_failure=None, extra_env=None):
    out = nodeops_cli.run("config-audit", "--format", "json", "--dip-home", sim.state.dip_home, "--url", sim.url,
                          "--api-key", sim.api_key("admin"), *args, extra_env=extra_env)
    assert out.returncode in (0, 1), out.stderr
    if expect_failure is not None:
        assert (out.returncode == 1) == expect_failure, out.stdout[-3000:]
    return json.loads(out.stdout)


def checks(report, prefix=""):
    """{check id: severity} (several findings of one id: the worst)."""
    order = ["PASS", "INFO", "WARN", "FAIL"]
    out = {}
    for f in report["findings"]:
        if f["id"].startswith(prefix):
            out[f["id"]] = max(out.get(f["id"], "PASS"), f["severity"], key=order.index)
    return out


@pytest.fixture
def instance(new_instance, start_sim):
    def make(**changes):
        spec = small_spec()
        sanity = changes.pop("sanity_messages", None)
        spec.update(changes)
        dip_home, model = new_instance(spec)
        if sanity is not None:
            model["sanity_messages"] = sanity
        return start_sim(dip_home, model, start_kernels="notebooks" not in changes)
    return make


@pytest.fixture
def default(instance):
    return instance()


def admin_project(sim, key="ADMIN", groups=(), scenarios=(), owner="admin"):
    """Create an administration project through the API: permissions for ``groups``,
    scenarios given as (id, steps, active, scheduled); a step is a type (``runnable:<runnableType>``
    for a "run macro" step) or a step dict (its id is set here)."""
    from dataikuapi import DSSClient

    client = DSSClient(sim.url, sim.api_key("admin"))
    project = client.create_project(key, "Administration tasks", owner)
    perms = project.get_permissions()  # the permissions API: project settings do not carry them
    perms["permissions"] = [{"group": g, "admin": False, "readProjectContent": True} for g in groups]
    project.set_permissions(perms)
    for sid, steps, active, scheduled in scenarios:
        scenario = project.create_scenario(sid, "step_based")
        s = scenario.get_settings()
        raw = s.get_raw()
        raw["active"] = active
        raw["triggers"] = [{"id": "t1", "type": "temporal", "active": True,
                            "params": {"frequency": "Daily", "hour": 2, "minute": 0}}] if scheduled else []
        raw.setdefault("params", {})["steps"] = [
            dict(t, id="s%d" % i) if isinstance(t, dict) else
            {"id": "s%d" % i, "type": "runnable", "enabled": True,
             "params": {"runnableType": t[len("runnable:"):], "config": {}, "adminConfig": {}}}
            if t.startswith("runnable:") else {"id": "s%d" % i, "type": t, "enabled": True, "params": {}}
            for i, t in enumerate(steps)]
        s.save()
    return project


# ---- memory ----------------------------------------------------------------------------
def test_memory_passes_with_the_recommended_heaps(default):
    assert checks(audit(default), "memory.") == {"memory.backend": "PASS", "memory.jek": "PASS", "memory.fek": "PASS"}


def test_memory_flags_small_backend_red_zone_big_kernels_and_heap_over_ram(instance):
    sim = instance(java={"backend.xmx": "4g", "jek.xmx": "3g", "fek.xmx": "6g"})
    assert checks(audit(sim), "memory.") == {"memory.backend": "WARN", "memory.jek": "INFO", "memory.fek": "WARN"}
    red = instance(java={"backend.xmx": "40g"})
    c = checks(audit(red), "memory.")
    assert c["memory.red_zone"] == "WARN"
    assert c.get("memory.backend_ram") == ("FAIL" if 40 > 0.8 * RAM_GIB else None)
    huge = instance(java={"backend.xmx": "%dg" % int(RAM_GIB * 0.9 + 1)})
    assert checks(audit(huge), "memory.")["memory.backend_ram"] == "FAIL"


def test_unset_heaps_are_2g_by_default(instance):
    """DSS gives a process whose <proc>.xmx install.ini leaves out -Xmx2g (KIT dkuinstall/java.py)."""
    sim = instance(java={"backend.xmx": None, "jek.xmx": None, "fek.xmx": None})
    report = audit(sim)
    assert checks(report, "memory.") == {"memory.backend": "WARN", "memory.jek": "PASS", "memory.fek": "PASS"}
    found = {f["id"]: f for f in report["findings"]}
    assert found["memory.backend"]["title"].startswith("Backend heap for ")
    assert found["memory.backend"]["evidence"].startswith("2g (default); ")
    assert found["memory.jek"]["evidence"] == found["memory.fek"]["evidence"] == "2g (default)"
    bad = audit(instance(java={"backend.xmx": "lots"}))
    assert [f["evidence"] for f in bad["findings"] if f["id"] == "memory.backend"] == [
        "install.ini backend.xmx = 'lots' is not a size"]


# ---- cgroups ---------------------------------------------------------------------------
def cgroup_settings(limit_share, ml=False):
    limit = "%dg" % max(1, int(RAM_GIB * limit_share))
    target = {"targets": [{"cgroupPathTemplate": "memory/DSS/${user}"}]}
    return {"cgroupSettings": {"enabled": True, "cgroupsVersion": "CGROUPS_V2", "jupyterKernels": target,
                               "pythonRRecipes": target, "mlKernels": target if ml else {"targets": []},
                               "cgroups": [{"cgroupPathTemplate": "memory/DSS",
                                            "limits": [{"key": "memory.max", "value": limit}]}]}}


def test_cgroups_disabled_is_a_warning(default):
    assert checks(audit(default), "cgroups.") == {"cgroups.enabled": "WARN"}


def test_cgroups_enabled_with_placements_and_a_sane_limit_pass(instance):
    sim = instance(general_settings=cgroup_settings(0.5, ml=True))
    assert set(checks(audit(sim), "cgroups.").values()) == {"PASS"}


def test_cgroups_missing_placement_and_insane_limit_are_flagged(instance):
    sim = instance(general_settings=cgroup_settings(0.95, ml=False))
    c = checks(audit(sim), "cgroups.")
    assert c["cgroups.mlKernels"] == "WARN" and c["cgroups.jupyterKernels"] == "PASS"
    assert c["cgroups.limit"] == "WARN"


# ---- timelines, parallelism and their fixes --------------------------------------------
def many_projects(n):
    return [{"key": "P%03d" % i, "owner": "alice", "managed_datasets": 0, "jobs": {"count": 0}} for i in range(n)]


def test_timelines_cache_needed_from_100_projects_and_the_fix_is_idempotent(instance):
    small = instance(dip_properties={})
    assert checks(audit(small), "timelines.") == {"timelines.cache": "PASS"}  # 4 projects
    sim = instance(projects=many_projects(100), dip_properties={"logging.level": "INFO"})
    props = sim.state.dip_home / "config" / "dip.properties"
    original = props.read_text()
    assert checks(audit(sim), "timelines.") == {"timelines.cache": "WARN"}
    fixed = audit(sim, "--apply-fixes", "true")
    assert checks(fixed, "timelines.") == {"timelines.cache": "PASS"}
    assert [c["setting"] for c in next(t for t in fixed["tables"] if t["key"] == "changes")["rows"]] == \
        ["config/dip.properties"]
    text = props.read_text()
    assert text.startswith(original) and "dku.internalDatabases.timeline=CACHE_SIZE=1024" in text
    backups = list(props.parent.glob("dip.properties.node-ops-backup-*"))
    assert len(backups) == 1 and backups[0].read_text() == original
    again = audit(sim, "--apply-fixes", "true")
    assert next(t for t in again["tables"] if t["key"] == "changes")["rows"] == []
    assert props.read_text() == text and len(list(props.parent.glob("dip.properties.node-ops-backup-*"))) == 1


def test_an_existing_timelines_line_is_merged_into_not_overridden(instance):
    sim = instance(projects=many_projects(100), dip_properties={"dku.internalDatabases.timeline": "LOCK_TIMEOUT=60000",
                                                                "logging.level": "INFO"})
    props = sim.state.dip_home / "config" / "dip.properties"
    original = props.read_text()
    first = audit(sim)
    assert checks(first, "timelines.") == {"timelines.cache": "WARN"}
    assert "LOCK_TIMEOUT=60000" in next(f["evidence"] for f in first["findings"] if f["id"] == "timelines.cache")
    fixed = audit(sim, "--apply-fixes", "true")
    assert checks(fixed, "timelines.") == {"timelines.cache": "PASS"}
    timeline_lines = [l for l in props.read_text().splitlines() if l.startswith("dku.internalDatabases.timeline")]
    assert timeline_lines == ["dku.internalDatabases.timeline=LOCK_TIMEOUT=60000;CACHE_SIZE=1024"]
    assert props.read_text() == original.replace("LOCK_TIMEOUT=60000", "LOCK_TIMEOUT=60000;CACHE_SIZE=1024")
    (change,) = next(t for t in fixed["tables"] if t["key"] == "changes")["rows"]
    assert change["before"] == "dku.internalDatabases.timeline=LOCK_TIMEOUT=60000" and \
        change["after"] == timeline_lines[0]


def test_a_timelines_line_it_cannot_merge_and_a_symlinked_dip_properties_are_reported(instance, tmp_path):
    sim = instance(projects=many_projects(100), dip_properties={"dku.internalDatabases.timeline": "garbage"})
    props = sim.state.dip_home / "config" / "dip.properties"
    original = props.read_text()
    out = nodeops_cli.run("config-audit", "--format", "json", "--dip-home", sim.state.dip_home, "--url", sim.url,
                          "--api-key", sim.api_key("admin"), "--apply-fixes", "true")
    assert out.returncode == 1, out.stderr  # ran, with an error: the fix was not applied
    report = json.loads(out.stdout)
    assert any("config/dip.properties not changed" in e and "NAME=value" in e for e in report["errors"])
    assert props.read_text() == original and sorted(p.name for p in props.parent.glob("dip.properties*")) == \
        ["dip.properties"]
    real = tmp_path / "elsewhere.properties"
    real.write_text("logging.level=INFO\n")
    props.unlink()
    props.symlink_to(real)
    out = nodeops_cli.run("config-audit", "--format", "json", "--dip-home", sim.state.dip_home, "--url", sim.url,
                          "--api-key", sim.api_key("admin"), "--apply-fixes", "true")
    assert out.returncode == 1, out.stderr
    assert any("symbolic link" in e for e in json.loads(out.stdout)["errors"])
    assert props.is_symlink() and real.read_text() == "logging.level=INFO\n"


def test_activity_limits_pass_warn_fail_and_fix(instance, default):
    assert set(checks(audit(default), "limits.").values()) == {"PASS"}
    sim = instance(general_settings={"maxRunningActivities": 0, "maxRunningActivitiesPerJob": 20})
    assert checks(audit(sim), "limits.") == {"limits.maxRunningActivities": "FAIL",
                                             "limits.maxRunningActivitiesPerJob": "WARN"}
    titles = {f["id"]: f["title"] for f in audit(sim)["findings"]}
    assert titles["limits.maxRunningActivities"] == "maxRunningActivities = 0 (unlimited)"
    fixed = audit(sim, "--apply-fixes", "true")
    assert set(checks(fixed, "limits.").values()) == {"PASS"}
    from dataikuapi import DSSClient

    users = [u for u in DSSClient(sim.url, sim.api_key("admin")).list_users() if u.get("enabled", True)]
    settings = json.loads((sim.state.dip_home / "config" / "general-settings.json").read_text())
    # the total scales with the users, within 5..50
    assert settings["maxRunningActivities"] == max(5, min(50, len(users)))
    assert settings["maxRunningActivitiesPerJob"] == 5
    assert settings["limits"]  # the rest of the settings is kept
    assert next(t for t in audit(sim, "--apply-fixes", "true")["tables"] if t["key"] == "changes")["rows"] == []


# ---- disk, logs, kernels ----------------------------------------------------------------
def test_no_activity_limit_says_the_heaps_are_unbounded(instance):
    """0 means unlimited for both limits (KIT flow-build.html; the facts page): the audit says so, and
    that the Java heaps' worst case then has no bound."""
    sim = instance(general_settings={"maxRunningActivities": 0, "maxRunningActivitiesPerJob": 0})
    found = {f["id"]: f for f in audit(sim)["findings"]}
    assert found["limits.maxRunningActivities"]["title"] == "maxRunningActivities = 0 (unlimited)"
    assert found["limits.maxRunningActivitiesPerJob"]["title"] == "maxRunningActivitiesPerJob = 0 (unlimited)"
    assert "worst case is unbounded" in found["limits.maxRunningActivities"]["evidence"]
    assert "unbounded" not in found["limits.maxRunningActivitiesPerJob"]["evidence"]


def test_disk_checks_report_the_real_filesystem(default):
    st = os.statvfs(str(default.state.dip_home))
    c = checks(audit(default), "disk.")
    used = st.f_blocks - st.f_bfree
    free_percent = 100.0 - 100.0 * used / (used + st.f_bavail)
    inodes_percent = 100.0 * (st.f_files - st.f_favail) / st.f_files
    assert c["disk.size"] == ("PASS" if st.f_blocks * st.f_frsize >= 500e9 else "WARN")
    assert c["disk.free"] == ("FAIL" if free_percent < 10 else "WARN" if free_percent < 20 else "PASS")
    assert c["disk.inodes"] == ("FAIL" if inodes_percent > 90 else "WARN" if inodes_percent > 80 else "PASS")


def test_log_backlog_old_or_many(instance):
    young = [{"key": "YOUNG", "owner": "alice", "jobs": {"count": 40, "max_age_days": 20},
              "scenarios": [{"id": "S", "runs": 10, "every_hours": 24}]}]
    assert checks(audit(instance(projects=young, orphan_projects=[])), "logs.") == {"logs.jobs": "PASS",
                                                                                  "logs.scenarios": "PASS"}
    many = [{"key": "BUSY", "owner": "alice", "jobs": {"count": 1001, "max_age_days": 20},
             "scenarios": [{"id": "S", "runs": 100, "every_hours": 24}]}]  # runs span 100 days
    report = audit(instance(projects=many, orphan_projects=[]))
    assert checks(report, "logs.") == {"logs.jobs": "WARN", "logs.scenarios": "WARN"}
    assert any("BUSY (1,001" in f["evidence"] for f in report["findings"] if f["id"] == "logs.jobs")


def test_log_backlog_ages_read_ids_as_utc_whatever_the_zone(instance):
    """The oldest job's age comes from its ID, read as UTC: the audit, run in a zone far from UTC,
    gives the age by DSS's own initiationTimestamp. The zone is the one whose offset would change
    the whole number of days of that age if the ID were read as local time."""
    import time as _time

    if not os.path.exists("/usr/share/zoneinfo/Pacific/Kiritimati"):
        pytest.skip("no tz database")
    old = [{"key": "OLD", "owner": "alice", "jobs": {"count": 50, "max_age_days": 90}}]
    sim = instance(projects=old, orphan_projects=[])
    oldest = min(j["def"]["initiationTimestamp"] for j in sim.state.model["jobs"]["OLD"])
    age_days = (_time.time() * 1000 - oldest) / 86400000.0
    fraction = age_days % 1
    # read as local time, +14 h looks 14 h older, -11 h looks 11 h younger: one of them crosses a day
    zone = "Pacific/Pago_Pago" if fraction < 11 / 24.0 else "Pacific/Kiritimati"
    assert 0.01 < fraction < 0.99  # minutes of test time cannot change the whole number of days
    report = audit(sim, extra_env={"TZ": zone})
    (evidence,) = [f["evidence"] for f in report["findings"] if f["id"] == "logs.jobs"]
    assert "OLD (50, oldest %d days)" % int(age_days) in evidence, (zone, age_days, evidence)


def test_kernels_idle_for_a_day(default, instance):
    report = audit(default)  # small_spec: kernels idle for 50 h and 400 h
    assert checks(report, "kernels.") == {"kernels.alive": "INFO", "kernels.idle": "WARN"}
    projects = small_spec()["projects"]
    for p in projects:
        p.pop("notebooks", None)
    quiet = instance(projects=projects)
    assert checks(audit(quiet), "kernels.")["kernels.idle"] == "PASS"


# ---- backups ------------------------------------------------------------------------------
def test_backups(default, tmp_path):
    assert checks(audit(default), "backups.") == {"backups.age": "INFO"}
    d = tmp_path / "backups"
    d.mkdir()
    assert checks(audit(default, "--backup-dir", str(d)), "backups.") == {"backups.age": "FAIL"}
    # only archives node-ops wrote count: exact name, regular file, readable identity/manifest
    (d / "dss-backup-CONFIG-20260101-010101-001.tar.gz").write_bytes(b"x")
    (d / "dss-backup-CONFIG-20260101-010101-002.tar.gz").mkdir()
    craft(d / "dss-backup-CONFIG-20260101-010101.tar.gz", [member("dir", "config")])
    os.symlink(craft(tmp_path / "elsewhere.tar.gz", [member("dir", "config")]),
               d / "dss-backup-CONFIG-20260101-010101-003.tar.gz")
    found = audit(default, "--backup-dir", str(d))
    assert checks(found, "backups.") == {"backups.age": "FAIL"}
    assert "4 other entries named like archives not counted" in [
        f for f in found["findings"] if f["id"] == "backups.age"][0]["evidence"]
    old = craft(d / "dss-backup-CONFIG-20260101-010101-004.tar.gz", [member("dir", "config")])
    os.utime(old, (time.time() - 30 * 3600,) * 2)
    assert checks(audit(default, "--backup-dir", str(d)), "backups.") == {"backups.age": "FAIL",
                                                                          "backups.copies": "WARN"}
    craft(d / "dss-backup-DATA_DIR-20260101-010101-005.tar.gz", [member("dir", "dss_data")])
    assert checks(audit(default, "--backup-dir", str(d)), "backups.") == {"backups.age": "PASS",
                                                                          "backups.copies": "PASS"}
    assert checks(audit(default, "--backup-dir", str(tmp_path / "missing")), "backups.") == {"backups.age": "FAIL"}


def test_backups_count_only_archives_whose_manifest_reads(default, tmp_path):
    """The newest archive starts with node-ops' identity but has no manifest: the age is the one of
    the newest whose manifest reads, the unreadable one is named and not counted."""
    d = tmp_path / "backups"
    d.mkdir()
    good = craft(d / "dss-backup-CONFIG-20260101-010101-001.tar.gz", [member("dir", "config")])
    os.utime(good, (time.time() - 30 * 3600,) * 2)
    bad = craft(d / "dss-backup-CONFIG-20260102-010101-001.tar.gz", [member("dir", "config")], manifest=None,
                identity=True)
    found = audit(default, "--backup-dir", str(d), "--backup-max-age-hours", "24")
    assert checks(found, "backups.") == {"backups.age": "FAIL", "backups.copies": "WARN"}
    (age,) = [f for f in found["findings"] if f["id"] == "backups.age"]
    assert "Newest backup is 30.0 h old" == age["title"] and bad.name in age["evidence"], age
    assert "manifest is unreadable" in age["evidence"]


# ---- administration project and monitoring ---------------------------------------------------
def test_admin_project_missing(default):
    c = checks(audit(default), "admin.")
    assert c == {"admin.exists": "WARN"}


def test_admin_project_complete_passes(default):
    admin_project(default, groups=["administrators"], scenarios=[
        ("NIGHTLY", ["pystep_node-ops_purge-job-logs", "pystep_node-ops_purge-scenario-logs"], True, True),
        ("CULL", ["runnable:pyrunnable_node-ops_cull-kernels"], True, True),  # the macro in a "run macro" step
        ("METRICS", ["pystep_node-ops_collect-metrics"], True, True)])
    report = audit(default)
    assert set(checks(report, "admin.").values()) == {"PASS"}
    assert checks(report, "monitoring") == {"monitoring": "PASS"}


def test_admin_project_open_to_users_or_without_schedules_is_flagged(default):
    admin_project(default, groups=["administrators", "data_team"], scenarios=[
        ("NIGHTLY", ["pystep_node-ops_purge-job-logs"], False, True),  # inactive
        ("CULL", ["pystep_node-ops_cull-kernels"], True, False)])  # no trigger
    report = audit(default)
    assert checks(report, "admin.") == {"admin.exists": "PASS", "admin.permissions": "FAIL",
                                        "admin.purge": "WARN", "admin.cull": "WARN"}
    assert checks(report, "monitoring") == {"monitoring": "WARN"}


def _step(step_type, **over):
    """A step as DSS's scenario editor saves it (KIT scenarios.js; MAL Retrain_model.json)."""
    step = {"type": step_type, "name": step_type, "enabled": True, "runConditionType": "RUN_IF_STATUS_MATCH",
            "runConditionStatuses": ["SUCCESS", "WARNING"], "runConditionExpression": "", "resetScenarioStatus": False,
            "maxRetriesOnFail": 0, "delayBetweenRetries": 10, "params": {"config": {}, "proceedOnFailure": False}}
    if step_type.startswith("pyrunnable_"):
        step.update(type="runnable", params={"runnableType": step_type, "config": {}, "adminConfig": {},
                                             "proceedOnFailure": False})
    step.update(over)
    return step


def test_disabled_steps_do_not_count_as_scheduled_maintenance(default):
    """DSS disables a step with runConditionType DISABLED (its editor), or a step is saved
    with enabled: false: a scenario whose only purge, cull or metrics step is disabled
    schedules nothing."""
    admin_project(default, groups=["administrators"], scenarios=[
        ("NIGHTLY", [_step("pystep_node-ops_purge-job-logs", runConditionType="DISABLED"),
                     _step("pyrunnable_node-ops_purge-scenario-logs", runConditionType="DISABLED")], True, True),
        ("CULL", [_step("pyrunnable_node-ops_cull-kernels", enabled=False)], True, True),
        ("METRICS", [_step("pystep_node-ops_collect-metrics", runConditionType="DISABLED")], True, True)])
    report = audit(default)
    assert checks(report, "admin.") == {"admin.exists": "PASS", "admin.permissions": "PASS",
                                        "admin.purge": "WARN", "admin.cull": "WARN"}
    assert checks(report, "monitoring") == {"monitoring": "WARN"}
    evidence = {f["id"]: f["evidence"] for f in report["findings"]}
    assert "disabled step(s), not counted, in NIGHTLY" in evidence["admin.purge"]
    assert "disabled step(s), not counted, in CULL" in evidence["admin.cull"]
    assert "disabled step(s), not counted, in METRICS" in evidence["monitoring"]


def test_an_enabled_step_next_to_a_disabled_one_counts(default):
    admin_project(default, groups=["administrators"], scenarios=[
        ("NIGHTLY", [_step("pystep_node-ops_purge-job-logs", runConditionType="DISABLED"),
                     _step("pystep_node-ops_purge-job-logs", runConditionType="RUN_ALWAYS")], True, True),
        ("CULL", [_step("pyrunnable_node-ops_cull-kernels")], True, True),
        ("METRICS", [_step("pystep_node-ops_collect-metrics")], True, True)])
    report = audit(default)
    assert set(checks(report, "admin.").values()) == {"PASS"}
    assert checks(report, "monitoring") == {"monitoring": "PASS"}


def test_admin_project_owned_by_a_user_is_flagged(default):
    admin_project(default, groups=["administrators"], owner="alice")
    report = audit(default)
    assert checks(report, "admin.")["admin.permissions"] == "FAIL"
    assert any("owner alice" in f["evidence"] for f in report["findings"] if f["id"] == "admin.permissions")


def test_admin_project_key_parameter_and_graphite_in_install_ini(default):
    admin_project(default, key="OPS", groups=["administrators"])
    assert checks(audit(default, "--admin-project-key", "OPS"), "admin.")["admin.exists"] == "PASS"
    ini = default.state.dip_home / "install.ini"
    ini.write_text(ini.read_text() + "\n[collectd]\ngraphite_server = graphite.example.com:2003\n")
    assert checks(audit(default), "monitoring") == {"monitoring": "PASS"}


# ---- DSS sanity check ---------------------------------------------------------------------
def test_sanity_check_messages_are_merged(instance):
    sim = instance(sanity_messages=[{"severity": "WARNING", "code": "WARN_MISC_LARGE_INTERNAL_DB",
                                     "title": "Large internal database", "details": "databases/ holds 7 GB"}])
    report = audit(sim)
    assert checks(report, "dss.") == {"dss.WARN_MISC_LARGE_INTERNAL_DB": "WARN"}
    assert checks(audit(instance(sanity_messages=[])), "dss.") == {"dss.sanity": "PASS"}
    old = instance(dss_version="11.0.0")  # no sanity-check endpoint before 11.4
    assert checks(audit(old), "dss.") == {"dss.sanity": "INFO"}


# ---- the step, the macro, refusals -------------------------------------------------------------
def test_step_fails_at_the_chosen_severity_and_saves_a_static_insight(default):
    h = Harness(default)
    at_fail = h.run_step("config-audit", {"fail_severity": "FAIL"}, project_key="ADMINPROJECT")
    # small_spec: no FAIL (see the tests above), several WARN
    assert at_fail.ok, at_fail.stdout
    assert at_fail.variables["nodeops_config_audit_warn"] > 0
    assert [i["id"] for i in at_fail.insights] == ["node-ops-config-audit"]
    at_warn = h.run_step("config-audit", {"fail_severity": "WARN"}, project_key="ADMINPROJECT")
    assert not at_warn.ok and "check(s) at WARN or above" in at_warn.error_message


def test_macro_report_lists_every_check_with_links(default):
    out = Harness(default).run_macro("config-audit", {})
    assert out.ok, out.traceback
    found = checks(audit(default))
    for check_id in ("memory.backend", "cgroups.enabled", "timelines.cache", "limits.maxRunningActivities",
                     "disk.size", "logs.jobs", "kernels.idle", "backups.age", "admin.exists", "monitoring",
                     "dss.sanity"):
        assert check_id in found
    assert "doc.dataiku.com/dss/latest/operations/memory.html" in out.result


def test_refusals(default):
    h = Harness(default)
    with pytest.raises(DSSRefused):
        h.run_macro("config-audit", {}, user="alice")
    out = h.run_macro("config-audit", {}, user="alice", enforce_dss_permissions=False)
    assert not out.ok and "permission denied" in out.error
    for config, message in (({"admin_project_key": "../x"}, "'admin_project_key' must be a project key"),
                            ({"backup_dir": "relative/dir"}, "'backup_dir' must be an absolute path"),
                            ({"fail_severity": "LOUD"}, "'fail_severity' must be one of WARN, FAIL")):
        bad = h.run_macro("config-audit", config)
        assert not bad.ok and message in bad.error, bad.error


@pytest.mark.parametrize("planted,operations", [
    ("config/dip.properties", ("config-audit", "capacity-report")),
    ("install.ini", ("config-audit", "capacity-report")),
    # read by the simulator itself for the settings API: only the capacity report reads it from disk
    ("config/general-settings.json", ("capacity-report",)),
])
def test_a_fifo_planted_at_a_settings_file_never_blocks_the_audit_or_the_capacity_report(instance, planted,
                                                                                        operations):
    sim = instance()
    path = os.path.join(str(sim.state.dip_home), planted)
    if os.path.lexists(path):
        os.unlink(path)
    os.mkfifo(path)
    extras = {"config-audit": ("--url", sim.url, "--api-key", sim.api_key("admin")),
              "capacity-report": ("--history", "false")}
    for operation, extra in ((op, extras[op]) for op in operations):
        started = time.monotonic()
        out = subprocess.run([sys.executable, "-m", "nodeops", operation, "--format", "json", "--dip-home",
                              str(sim.state.dip_home)] + list(extra), capture_output=True, text=True,
                             env=nodeops_cli.env(), timeout=120)
        assert out.returncode in (0, 1), out.stderr
        assert time.monotonic() - started < 60
        json.loads(out.stdout)


def test_html_shows_each_severity_and_collapses_the_passed_checks(instance):
    """The macro's HTML, as a dashboard tile shows it: every finding carries its severity's class and
    badge (FAIL here from a backend heap above 80% of RAM), the figures counting FAIL and WARN are
    coloured when not zero, the PASS checks are one line in a <details>, the headline comes first."""
    from nodeops import render

    sim = instance(java={"backend.xmx": "%dm" % int(RAM_GIB * 0.9 * 1024)})
    html = Harness(sim).run_macro("config-audit", {}).result
    report = render.report_from_html(html)
    body = html.split("</style>", 1)[1]
    by_sev = {s: [f for f in report.findings if f.severity == s] for s in ("FAIL", "WARN", "INFO", "PASS")}
    assert by_sev["FAIL"] and by_sev["WARN"] and by_sev["PASS"], {s: len(v) for s, v in by_sev.items()}
    assert any(f.id == "memory.backend_ram" and "80%" in f.title for f in by_sev["FAIL"])
    for sev, found in by_sev.items():
        items = re.findall(r'<li class="nodeops-finding nodeops-sev-%s" data-id="[^"]*"><span class="nodeops-badge '
                           r'nodeops-badge-%s">%s</span>' % (sev.lower(), sev.lower(), sev), body)
        assert len(items) == len(found), sev
    passed = re.search(r'<details class="nodeops-passed">\s*<summary>(.*?)</summary>(.*?)</details>', body, re.S)
    assert "%d checks passed" % len(by_sev["PASS"]) in passed.group(1)
    assert passed.group(2).count("nodeops-sev-pass") == len(by_sev["PASS"])
    assert body.count("nodeops-sev-pass") == len(by_sev["PASS"])  # none outside the collapsed line
    assert '<div class="nodeops-figure nodeops-sev-fail" data-key="fail">' in body
    assert '<div class="nodeops-figure nodeops-sev-warn" data-key="warn">' in body
    assert '<div class="nodeops-figure" data-key="info">' in body  # INFO and PASS counts are never coloured
    order = [body.index(s) for s in ('data-status="FAILED"', 'nodeops-headline', 'data-key="fail"',
                                     '"nodeops-findings"', 'nodeops-passed')]
    assert order == sorted(order)
    text = nodeops_cli.run("config-audit", "--format", "text", "--dip-home", sim.state.dip_home, "--url", sim.url,
                           "--api-key", sim.api_key("admin")).stdout
    assert "  Status: FAILED: " in text and "[PASS] %d checks passed: " % len(by_sev["PASS"]) in text


def test_sizes_are_binary_with_the_guidance_in_gb_and_gib(default):
    found = {f["id"]: f for f in audit(default)["findings"]}
    assert "at least 500 GB (466 GiB) recommended" in found["disk.size"]["evidence"]
    assert re.match(r"^\d+\.\d (KiB|MiB|GiB|TiB) available of \d+\.\d (KiB|MiB|GiB|TiB) usable",
                    found["disk.free"]["evidence"]), found["disk.free"]["evidence"]
    assert re.search(r"^[\d,]+ free of [\d,]+$", found["disk.inodes"]["evidence"])
    assert not re.search(r"\d{5}", found["disk.inodes"]["evidence"])  # thousands separators
