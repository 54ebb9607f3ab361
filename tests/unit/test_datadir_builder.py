"""Tests of the DATA_DIR builder (tests/dssbench/datadir.py), on real files in tmp_path."""

import configparser
import datetime
import hashlib
import json
import os
import re
import time

import pytest

from dssbench.datadir import build_datadir, scale_spec, small_spec

NOW = "2026-11-25T12:00:00"
JOB_RE = re.compile(r"(\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3})$")
RUN_RE = re.compile(r"^\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d-\d{3}$")


UTC = datetime.timezone.utc


def _job_id_ms(job_id):
    """The time in a job ID, read as UTC (as DSS writes it)."""
    m = JOB_RE.search(job_id)
    assert m, job_id
    return round(datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H-%M-%S.%f").replace(tzinfo=UTC).timestamp()
                 * 1000)


def _run_id_ms(run_id):
    assert RUN_RE.match(run_id), run_id
    d = datetime.datetime.strptime(run_id[:19], "%Y-%m-%d-%H-%M-%S").replace(tzinfo=UTC)
    return round(d.timestamp() * 1000) + int(run_id[20:])


def _mtime_ms(path):
    return os.lstat(path).st_mtime_ns // 1000000


def _snapshot(root):
    """Every entry under root: relative path -> (kind, size, mtime_ns, content hash / link)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            rel = os.path.relpath(p, root)
            st = os.lstat(p)
            if os.path.islink(p):
                out[rel] = ("link", os.readlink(p), st.st_mtime_ns)
            elif os.path.isdir(p):
                out[rel] = ("dir", st.st_mtime_ns)
            else:
                with open(p, "rb") as fh:
                    h = hashlib.md5(fh.read()).hexdigest()
                out[rel] = ("file", st.st_size, st.st_mtime_ns, h, st.st_mode & 0o777)
    out["."] = ("dir", os.lstat(root).st_mtime_ns)
    return out


def _mini(**over):
    spec = {
        "seed": 7, "now": NOW,
        "projects": [{
            "key": "P1", "owner": "alice", "managed_datasets": 2, "managed_folders": 1,
            "jobs": {"count": 40, "max_age_days": 60, "running": 2, "log_bytes": [300, 3000],
                     "api_only": 3, "folder_only": 4},
            "scenarios": [{"id": "NIGHTLY", "runs": 10, "every_hours": 24},
                          {"id": "HOURLY", "runs": 5, "every_hours": 1, "running": True}],
            "notebooks": [{"name": "nb1", "sessions": [
                {"owner": "bob", "memory_mb": 900, "state": "busy", "idle_hours": 0.2,
                 "age_hours": 5, "connections": 2},
                {"owner": "alice", "state": "idle", "idle_hours": 30, "age_hours": 48}]}],
        }],
        "orphan_projects": [{"key": "GONE", "jobs": 6, "scenario_runs": 4}],
    }
    spec.update(over)
    return spec


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("small") / "dss_data")
    model = build_datadir(small_spec(seed=1, now=NOW), root)
    return root, model


# ---------------------------------------------------------------------------------------

def test_determinism_same_seed_same_tree_and_model(tmp_path, small):
    root_a, model_a = small
    root_b = str(tmp_path / "elsewhere" / "dss_data")
    os.makedirs(os.path.dirname(root_b))
    model_b = build_datadir(small_spec(seed=1, now=NOW), root_b)
    assert _snapshot(root_a) == _snapshot(root_b)
    norm_a = json.dumps(model_a, sort_keys=True).replace(os.path.dirname(root_a), "<P>")
    norm_b = json.dumps(model_b, sort_keys=True).replace(os.path.dirname(root_b), "<P>")
    assert norm_a == norm_b
    # and another seed gives another instance
    model_c = build_datadir(small_spec(seed=2, now=NOW), str(tmp_path / "c" / "dss_data"))
    assert json.dumps(model_c["jobs"]) != json.dumps(model_a["jobs"])


def test_model_is_json_and_has_the_documented_keys(small):
    root, model = small
    json.dumps(model)
    for k in ("now_ms", "instance", "activity", "jobs", "scenario_runs", "notebooks", "api_keys"):
        assert k in model
    assert model["now_ms"] == round(datetime.datetime.fromisoformat(NOW).timestamp() * 1000)
    inst = model["instance"]
    assert inst["nodeType"] == "DESIGN" and inst["dataDirPath"] == root
    assert inst["dssVersion"] == "14.2.1"
    assert inst["dssStartupTimestamp"] < model["now_ms"]
    assert set(model["activity"]["admin"]) == {"lastSuccessfulLogin", "lastFailedLogin",
                                               "lastSessionActivity"}
    assert model["activity"]["carol"]["lastSessionActivity"] == 0
    assert model["activity"]["admin"]["lastSessionActivity"] == model["now_ms"] - 2 * 60000
    users = {k["user"] for k in model["api_keys"]}
    assert {"admin", "alice"} <= users
    assert all(re.match(r"^[0-9a-f]{32}$", k["key"]) for k in model["api_keys"])
    stored = json.load(open(os.path.join(root, "config", "personal-apikeys.json")))
    assert {r["key"] for r in stored["apiKeys"]} == {k["key"] for k in model["api_keys"]}


def test_small_spec_shape(small):
    root, model = small
    n_folders = sum(len(os.listdir(os.path.join(root, "jobs", k))) for k in os.listdir(os.path.join(root, "jobs")))
    assert 200 <= n_folders <= 600
    states = [j["state"] for jobs in model["jobs"].values() for j in jobs]
    assert 1 <= states.count("RUNNING") <= 2
    assert states.count("FAILED") > 0 and states.count("ABORTED") > 0
    ages = [(model["now_ms"] - j["startTime"]) / 86400000.0 for jobs in model["jobs"].values() for j in jobs]
    assert max(ages) > 90
    running_runs = [r for per in model["scenario_runs"].values() for runs in per.values() for r in runs
                    if "result" not in r]
    assert len(running_runs) == 1
    sessions = [s for nbs in model["notebooks"].values() for nb in nbs for s in nb["sessions"]]
    assert 3 <= len(sessions) <= 6
    assert {s["kernelExecutionState"] for s in sessions} == {"idle", "busy"}
    assert any(s["kernelConnections"] > 0 for s in sessions)
    assert model["disk"]["bytes"] < 60 * 1024 * 1024
    for top in ("install.ini", "dss-version.json", "bin/env-default.sh", "bin/dss", "bin/dssadmin",
                "config/general-settings.json", "config/dip.properties", "config/users.json",
                "config/connections.json", "run/backend.log", "run/backend.log.1", "run/ipython.log",
                "run/nginx.log", "run/nginx/access.log", "run/supervisord.log", "run/audit/audit.log",
                "databases/jobs.mv.db", "databases/flow_state.mv.db", "caches/reports.json",
                "jupyter-run/jupyter/config/nbconfig/notebook.json", "timelines/SALES_ANALYTICS.mv.db",
                "config/projects/SALES_ANALYTICS/params.json",
                "config/projects/SALES_ANALYTICS/scenarios/NIGHTLY_BUILD.json",
                "config/projects/SALES_ANALYTICS/ipython_notebooks/explore_sales.ipynb"):
        assert os.path.isfile(os.path.join(root, top)), top
    for d in ("code-envs/python", "plugins/installed", "data-catalog", "R.lib", "lib", "local",
              "notebook_results", "uploads", "privtmp", "pyenv", "tmp", "exports", "saved_models",
              "analysis-data", "managed_datasets", "managed_folders"):
        assert os.path.isdir(os.path.join(root, d)), d
    nb = json.load(open(os.path.join(root, "config/projects/SALES_ANALYTICS/ipython_notebooks/explore_sales.ipynb")))
    assert nb["nbformat"] == 4 and nb["metadata"]["kernelspec"]["name"] == "python3"
    sc = json.load(open(os.path.join(root, "config/projects/SALES_ANALYTICS/scenarios/NIGHTLY_BUILD.json")))
    assert sc["type"] == "step_based" and sc["triggers"][0]["type"] == "temporal"
    assert sc["params"]["steps"] and "lastModifiedOn" in sc["versionTag"]
    with open(os.path.join(root, "databases", "jobs.mv.db"), "rb") as fh:
        assert fh.read(4) == b"H:2,"
    # saved model versions with splits; active version recorded in config
    sm = model["saved_models"]["SALES_ANALYTICS"][0]
    smcfg = json.load(open(os.path.join(root, "config/projects/SALES_ANALYTICS/saved_models/%s.json" % sm["id"])))
    assert smcfg["activeVersion"] == sm["activeVersion"] in sm["versions"]
    for v in sm["versions"]:
        assert os.path.isfile(os.path.join(root, "saved_models/SALES_ANALYTICS", sm["id"], "versions", v,
                                           "split", "train.csv.gz"))
    exports = os.listdir(os.path.join(root, "exports"))
    assert len(exports) >= 8
    mt = sorted(_mtime_ms(os.path.join(root, "exports", e)) for e in exports)
    assert mt[-1] - mt[0] > 30 * 86400000


def test_job_ids_and_mtimes(small):
    root, model = small
    checked = 0
    for key, jobs in model["jobs"].items():
        api_only = set(model["fixtures"]["api_only_jobs"].get(key, []))
        for j in jobs:
            jid = j["def"]["id"]
            assert JOB_RE.search(jid) and jid.startswith(j["def"]["name"] + "_")
            id_ms = _job_id_ms(jid)
            assert id_ms == j["def"]["initiationTimestamp"] == j["startTime"]
            folder = os.path.join(root, "jobs", key, jid)
            if jid in api_only:
                assert not os.path.exists(folder)
                continue
            assert os.path.isfile(os.path.join(folder, "output.log"))
            assert os.listdir(os.path.join(folder, "activities"))
            if j["state"] == "RUNNING":
                assert j["endTime"] == 0 and j["stableState"] is False
                assert _mtime_ms(folder) == id_ms
            else:
                assert j["stableState"] is True and j["endTime"] > j["startTime"]
                # folder mtime = job end (the ID, read as UTC, gives the start)
                assert _mtime_ms(folder) == j["endTime"]
                assert _mtime_ms(os.path.join(folder, "output.log")) == j["endTime"]
                assert 0 < _mtime_ms(folder) - id_ms <= 3 * 3600 * 1000
            checked += 1
    assert checked > 200
    # newest first
    for jobs in model["jobs"].values():
        starts = [j["startTime"] for j in jobs]
        assert starts == sorted(starts, reverse=True)


def test_scenario_run_ids_and_mtimes(small):
    root, model = small
    n = 0
    for key, per in model["scenario_runs"].items():
        for sid, runs in per.items():
            starts = [r["start"] for r in runs]
            assert starts == sorted(starts, reverse=True)
            for r in runs:
                assert _run_id_ms(r["runId"]) == r["start"]
                assert r["scenario"] == {"projectKey": key, "id": sid, "name": r["scenario"]["name"]}
                assert r["trigger"]["trigger"]["type"] == "temporal"
                folder = os.path.join(root, "scenarios", key, sid, r["runId"])
                assert os.path.isdir(folder)
                if "result" in r:
                    assert r["end"] > r["start"] and _mtime_ms(folder) == r["end"]
                    assert r["result"]["type"] == "SCENARIO_DONE"
                else:
                    assert r["end"] == 0 and _mtime_ms(folder) == r["start"]
                n += 1
            assert len(os.listdir(os.path.join(root, "scenarios", key, sid))) == len(runs)
    assert n > 100


def test_running_api_only_folder_only_orphans(tmp_path):
    root = str(tmp_path / "dss_data")
    m = build_datadir(_mini(), root)
    jobs = m["jobs"]["P1"]
    assert len(jobs) == 40 + 3
    running = [j for j in jobs if j["state"] == "RUNNING"]
    assert len(running) == 2 and jobs[:2] == running
    for j in running:
        assert j["stableState"] is False and j["endTime"] == 0
        assert os.path.isdir(os.path.join(root, "jobs", "P1", j["def"]["id"]))
        assert m["now_ms"] - j["startTime"] < 3600 * 1000
    folders = set(os.listdir(os.path.join(root, "jobs", "P1")))
    assert len(folders) == 40 + 4
    api_ids = set(j["def"]["id"] for j in jobs)
    assert api_ids - folders == set(m["fixtures"]["api_only_jobs"]["P1"])
    assert folders - api_ids == set(m["fixtures"]["folder_only_jobs"]["P1"])
    for jid in m["fixtures"]["folder_only_jobs"]["P1"]:
        assert JOB_RE.search(jid)
    # orphans: folders, no config, not in the model
    assert len(os.listdir(os.path.join(root, "jobs", "GONE"))) == 6
    runs = os.listdir(os.path.join(root, "scenarios", "GONE", "DAILY_REFRESH"))
    assert len(runs) == 4 and all(RUN_RE.match(r) for r in runs)
    assert not os.path.exists(os.path.join(root, "config", "projects", "GONE"))
    assert "GONE" not in m["jobs"] and "GONE" not in m["scenario_runs"]
    assert m["fixtures"]["orphan_projects"] == ["GONE"]
    # running scenario run
    hourly = m["scenario_runs"]["P1"]["HOURLY"]
    assert "result" not in hourly[0] and all("result" in r for r in hourly[1:])
    # notebooks
    nb = m["notebooks"]["P1"][0]
    assert nb["kernelSpec"] == {"name": "python3", "display_name": "Python 3", "language": "python"}
    s0, s1 = nb["sessions"]
    assert (s0["sessionCreator"], s0["kernelExecutionState"], s0["kernelConnections"], s0["memory_mb"]) == \
        ("bob", "busy", 2, 900)
    assert s0["sessionCreatorDisplayName"] == "Bob Chen"
    assert abs(m["now_ms"] - s1["kernelLastActivityTime"] - 30 * 3600000) < 2000
    assert abs(m["now_ms"] - s1["sessionStartTime"] - 48 * 3600000) < 2000
    assert os.path.isfile(os.path.join(root, "jupyter-run/jupyter/runtime/kernel-%s.json" % s0["kernelId"]))
    assert m["instance"]["dssStartupTimestamp"] < s1["sessionStartTime"]
    # no dip.properties when not asked for
    assert not os.path.exists(os.path.join(root, "config", "dip.properties"))


def test_install_ini_env_and_java(tmp_path):
    root = str(tmp_path / "dss_data")
    build_datadir(_mini(java={"backend.xmx": "40g", "hproxy.xmx": None,
                              "backend.additional.opts": "-Dfoo=bar"},
                        node_id="prod-design", dss_version="13.4.2"), root)
    cp = configparser.RawConfigParser()
    assert cp.read(os.path.join(root, "install.ini"))
    assert cp.get("general", "nodetype") == "design"
    assert cp.get("general", "nodeid") == "prod-design"
    assert cp.get("general", "installid")
    assert cp.get("server", "port") == "11200"
    assert cp.get("javaopts", "backend.xmx") == "40g"
    assert cp.get("javaopts", "jek.xmx") == "2g" and cp.get("javaopts", "fek.xmx") == "2g"
    assert not cp.has_option("javaopts", "hproxy.xmx")
    assert cp.has_section("logs")
    env = open(os.path.join(root, "bin", "env-default.sh")).read()
    assert 'export DKU_BACKEND_JAVA_OPTS="-Xmx40g' in env and "-Dfoo=bar" in env
    assert 'DKU_JEK_JAVA_OPTS="-Xmx2g' in env and "DKUINSTALLDIR=" in env and "DKUJAVABIN=" in env
    ver = json.load(open(os.path.join(root, "dss-version.json")))
    assert ver["product_version"] == "13.4.2" and ver["conf_version"] == "13420"

    root2 = str(tmp_path / "default" / "dss_data")
    build_datadir({"seed": 1, "now": NOW}, root2)
    cp2 = configparser.RawConfigParser()
    cp2.read(os.path.join(root2, "install.ini"))
    assert dict(cp2.items("javaopts")) == {"backend.xmx": "8g", "jek.xmx": "2g", "fek.xmx": "2g",
                                           "hproxy.xmx": "2g"}


def test_general_settings_deep_merge_and_dip_properties(tmp_path):
    root = str(tmp_path / "dss_data")
    build_datadir(_mini(general_settings={"maxRunningActivities": 40,
                                          "cgroupSettings": {"enabled": True,
                                                             "cgroups": [{"cgroupPathTemplate": "memory/DSS"}]},
                                          "jekSettings": {"maxRunningJobs": 10},
                                          "newKey": {"a": 1}},
                        dip_properties={"dku.sanitycheck.diskusage.threshold": "85"}), root)
    gs = json.load(open(os.path.join(root, "config", "general-settings.json")))
    assert gs["maxRunningActivities"] == 40 and gs["maxRunningActivitiesPerJob"] == 5
    cg = gs["cgroupSettings"]
    assert cg["enabled"] is True and cg["cgroups"] == [{"cgroupPathTemplate": "memory/DSS"}]
    assert cg["cgroupsVersion"] == "CGROUPS_V2" and cg["jupyterKernels"] == {"targets": []}
    assert gs["jekSettings"] == {"maxRunningJobs": 10}
    assert gs["newKey"] == {"a": 1} and gs["impersonation"]["enabled"] is False
    assert "memSampleBytes" in gs["limits"] and "security" in gs
    props = open(os.path.join(root, "config", "dip.properties")).read()
    assert props == "dku.sanitycheck.diskusage.threshold=85\n"


def test_symlink_outside_and_hard_link(small):
    root, model = small
    fx = model["fixtures"]
    link = os.path.join(root, fx["symlink"])
    assert os.path.islink(link) and os.readlink(link) == fx["symlink_target"]
    target = os.path.realpath(link)
    real_root = os.path.realpath(root)
    assert not target.startswith(real_root + os.sep)
    assert target.startswith(os.path.realpath(fx["outside_dir_abs"]) + os.sep)
    outside_bytes = sum(os.path.getsize(os.path.join(target, f)) for f in os.listdir(target))
    assert outside_bytes >= 2 * 1024 * 1024
    a, b = (os.path.join(root, p) for p in fx["hardlinks"])
    sa, sb = os.lstat(a), os.lstat(b)
    assert (sa.st_ino, sa.st_dev) == (sb.st_ino, sb.st_dev) and sa.st_nlink == 2
    # disk totals: hard links once, symlink target not counted
    seen = set()
    total = 0
    n = 0
    for dirpath, dirnames, filenames in os.walk(root):
        for f in filenames:
            st = os.lstat(os.path.join(dirpath, f))
            if os.path.islink(os.path.join(dirpath, f)) or (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            total += st.st_size
            n += 1
    assert (n, total) == (model["disk"]["files"], model["disk"]["bytes"])
    # only one symlink in the tree
    links = [os.path.join(dp, x) for dp, dn, fn in os.walk(root) for x in dn + fn
             if os.path.islink(os.path.join(dp, x))]
    assert links == [link]


@pytest.mark.parametrize("spec, name", [
    ({"seed": 1, "colour": "red"}, "colour"),
    ({"projects": [{"key": "A", "jobz": {}}]}, "jobz"),
    ({"projects": [{"key": "A", "jobs": {"count": 1, "maxage": 3}}]}, "maxage"),
    ({"projects": [{"key": "A", "scenarios": [{"id": "S", "every": 3}]}]}, "every"),
    ({"projects": [{"key": "A", "notebooks": [{"name": "n", "sessions": [{"idle": 1}]}]}]}, "idle"),
    ({"users": [{"login": "x", "groups": [], "role": "a"}]}, "role"),
    ({"exports": {"count": 1, "age": 3}}, "age"),
    ({"orphan_projects": [{"key": "O", "runs": 1}]}, "runs"),
])
def test_unknown_keys_raise(tmp_path, spec, name):
    with pytest.raises(ValueError, match=name):
        build_datadir(spec, str(tmp_path / "dss_data"))
    assert not os.path.exists(str(tmp_path / "dss_data"))


def test_bad_values_raise(tmp_path):
    with pytest.raises(ValueError):
        build_datadir({"projects": [{"key": "lower"}]}, str(tmp_path / "a"))
    with pytest.raises(ValueError):
        build_datadir({"node_type": "govern"}, str(tmp_path / "b"))
    with pytest.raises(ValueError):
        build_datadir({"now": NOW, "projects": [{"key": "A", "notebooks": [{"name": "n", "sessions": [
            {"idle_hours": 5, "age_hours": 1}]}]}]}, str(tmp_path / "c"))
    os.makedirs(str(tmp_path / "d"))
    open(str(tmp_path / "d" / "x"), "w").close()
    with pytest.raises(ValueError):
        build_datadir({}, str(tmp_path / "d"))


def test_automation_node_and_users(tmp_path):
    root = str(tmp_path / "dss_data")
    m = build_datadir({"seed": 3, "now": NOW, "node_type": "automation", "user_count": 3,
                       "bulk_bytes": {"code-envs": 300000, "tmp": 100000}}, root)
    assert m["instance"]["nodeType"] == "AUTOMATION" and m["instance"]["nodeId"] == "dss-automation"
    assert os.path.isdir(os.path.join(root, "acode-envs")) and not os.path.exists(os.path.join(root, "code-envs"))
    assert m["disk"]["by_top"]["tmp"]["bytes"] >= 100000
    users = json.load(open(os.path.join(root, "config", "users.json")))
    logins = [u["login"] for u in users["users"]]
    assert logins == ["admin", "alice", "bob", "user001", "user002", "user003"]
    assert users["users"][3]["groups"] == ["data_team"] and users["users"][0]["sourceType"] == "LOCAL"
    assert {g["name"]: g["admin"] for g in users["groups"]} == {"administrators": True, "data_team": False}
    assert set(m["activity"]) == set(logins) and len(m["api_keys"]) == 6
    assert m["jobs"] == {} and m["scenario_runs"] == {}


def test_scale_spec_counts(tmp_path):
    spec = scale_spec(job_folders=1500, seed=4, now=NOW)
    root = str(tmp_path / "dss_data")
    t0 = time.time()
    m = build_datadir(spec, root)
    assert time.time() - t0 < 15
    jobs_dir = os.path.join(root, "jobs")
    total = sum(len(os.listdir(os.path.join(jobs_dir, k))) for k in os.listdir(jobs_dir))
    assert total == 1500
    assert len(spec["projects"]) == 20
    assert sum(1 for jobs in m["jobs"].values() for j in jobs if j["state"] == "RUNNING") >= 1


@pytest.mark.parametrize("zone", ["America/New_York", "Pacific/Kiritimati", "Pacific/Pago_Pago"])
def test_ids_are_utc_whatever_the_zone_of_the_builder(tmp_path, monkeypatch, zone):
    """DSS writes the time in a job ID in UTC (the one public example matches its
    initiationTimestamp in UTC exactly): the builder does, in any zone, across a DST change."""
    if not hasattr(time, "tzset"):
        pytest.skip("no time.tzset")
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        if time.localtime(1793000000).tm_gmtoff == 0:
            pytest.skip("no tz database")
        # DST ended on 2026-11-01 in New York: ages span both offsets, and the fold hour.
        spec = {"seed": 5, "now": "2026-11-03T09:30:00", "projects": [{
            "key": "DST", "jobs": {"count": 400, "max_age_days": 6, "log_bytes": [100, 200]},
            "scenarios": [{"id": "S", "runs": 150, "every_hours": 0.5}]}]}
        root = str(tmp_path / "dss_data")
        m = build_datadir(spec, root)
        assert m["now_ms"] == round(datetime.datetime(2026, 11, 3, 9, 30).timestamp() * 1000)
        for j in m["jobs"]["DST"]:
            assert _job_id_ms(j["def"]["id"]) == j["startTime"] == j["def"]["initiationTimestamp"]
            assert _mtime_ms(os.path.join(root, "jobs", "DST", j["def"]["id"])) == j["endTime"]
        for r in m["scenario_runs"]["DST"]["S"]:
            assert _run_id_ms(r["runId"]) == r["start"]
            assert os.path.isdir(os.path.join(root, "scenarios", "DST", "S", r["runId"]))
        if zone == "America/New_York":
            offsets = {time.localtime(j["startTime"] // 1000).tm_gmtoff for j in m["jobs"]["DST"]}
            assert len(offsets) == 2
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


# ---- saved models, ML splits, deleted projects' data, pre-migration backups, diagnosis --------

def _reclaim_spec(**over):
    spec = _mini(**over)
    spec["projects"][0].update({"saved_models": 2, "analyses": 2})
    spec["orphan_projects"][0].update({"saved_models": 2, "analyses": 1, "managed_datasets": 2,
                                      "managed_folders": 1, "jupyter_notebooks": 2})
    spec.setdefault("pre_migration_backups", [{"date": "20260301", "age_days": 270, "files": 8},
                                              {"age_days": 3, "files": 2}])
    spec.setdefault("diagnosis", {"files": 5, "max_age_days": 50})
    return spec


def _files_under(root, rel):
    out = []
    for dirpath, _, files in os.walk(os.path.join(root, rel)):
        out += [os.path.join(dirpath, f) for f in files]
    return out


def test_saved_model_versions_carry_their_training_times(tmp_path):
    root = str(tmp_path / "dss_data")
    m = build_datadir(_reclaim_spec(), root)
    sms = m["saved_models"]["P1"]
    assert len(sms) == 2
    for sm in sms:
        assert sm["activeVersion"] == sm["versions"][-1] and len(sm["versions"]) >= 2
        assert set(sm["trainInfo"]) == set(sm["versions"])
        for vid in sm["versions"]:
            vdir = os.path.join(root, "saved_models", "P1", sm["id"], "versions", vid)
            with open(os.path.join(vdir, "train_info.json")) as f:
                info = json.load(f)
            assert info == sm["trainInfo"][vid]
            assert info["startTime"] < info["endTime"] == int(vid) == _mtime_ms(vdir)


def test_sessions_name_their_split_and_older_unused_splits_exist(tmp_path):
    root = str(tmp_path / "dss_data")
    m = build_datadir(_reclaim_spec(), root)
    tasks = m["fixtures"]["ml_tasks"]["P1"]
    assert tasks and any(len(t["splits_used"]) > 1 for t in tasks)
    for t in tasks:
        base = os.path.join(root, "analysis-data", "P1", t["analysisId"], t["mlTaskId"])
        named = set()
        for s in os.listdir(os.path.join(base, "sessions")):
            with open(os.path.join(base, "sessions", s, "session.json")) as f:
                named.add(json.load(f)["splitId"])
        assert named == set(t["splits_used"])
        assert t["splits_unused"] and not named & set(t["splits_unused"])
        on_disk = sorted(os.listdir(os.path.join(base, "splits")))
        assert on_disk == sorted(os.path.basename(p) for ps in t["split_files"].values() for p in ps)
        current = _mtime_ms(os.path.join(root, t["split_files"][t["splits_used"][0]][0]))
        for sid in t["splits_unused"]:
            assert all(_mtime_ms(os.path.join(root, p)) < current for p in t["split_files"][sid])


def test_deleted_projects_data_backups_and_diagnosis(tmp_path):
    root = str(tmp_path / "dss_data")
    m = build_datadir(_reclaim_spec(), root)
    assert not os.path.exists(os.path.join(root, "config", "projects", "GONE"))
    data = m["fixtures"]["orphan_data"]["GONE"]
    assert set(data) == {"saved_models", "analysis-data", "managed_datasets", "managed_folders",
                         "jupyter-run/dku-workdirs"}
    for area, d in data.items():
        assert d["path"] == area + "/GONE"
        files = _files_under(root, d["path"])
        assert len(files) == d["files"] > 0
        assert sum(os.path.getsize(f) for f in files) == d["bytes"]
    assert len(os.listdir(os.path.join(root, "jupyter-run", "dku-workdirs", "GONE"))) == 2
    now_ms = m["now_ms"]
    backups = m["fixtures"]["pre_migration_backups"]
    assert [b["path"][:30] for b in backups] == ["_pre_migration_backup_20260301",
                                                 "_pre_migration_backup_" + datetime.datetime.fromtimestamp(
                                                     (now_ms - 3 * 86400000) / 1000).strftime("%Y%m%d")]
    assert all(re.match(r"^_pre_migration_backup_\d{8}-\d{6}$", b["path"]) for b in backups)
    for b, (age, n) in zip(backups, [(270, 8), (3, 2)]):
        assert b["mtime_ms"] == now_ms - age * 86400000 == _mtime_ms(os.path.join(root, b["path"]))
        files = _files_under(root, b["path"])
        assert sorted(files) == sorted(os.path.join(root, p) for p in b["files"]) and len(files) == n
        assert all(_mtime_ms(f) == b["mtime_ms"] for f in files)
    with open(os.path.join(root, backups[0]["path"], "dss-version.json")) as f1, \
            open(os.path.join(root, "dss-version.json")) as f2:
        assert f1.read() == f2.read()
    diag = m["fixtures"]["diagnosis"]
    assert len(diag) == 5 and len(os.listdir(os.path.join(root, "diagnosis"))) == 5
    ages = sorted((now_ms - d["mtime_ms"]) / 86400000 for d in diag)
    assert ages == [10, 20, 30, 40, 50]
    for d in diag:
        p = os.path.join(root, d["path"])
        assert _mtime_ms(p) == d["mtime_ms"] and os.path.getsize(p) == d["bytes"]
    total = sum(v["bytes"] for v in m["disk"]["by_top"].values())
    assert total == m["disk"]["bytes"]


def test_new_keys_leave_the_rest_of_the_tree_unchanged(tmp_path):
    """The extras draw from their own streams: the tree without them is the same."""
    a = build_datadir(_mini(), str(tmp_path / "a" / "dss_data"))
    spec = _mini()
    spec["orphan_projects"][0].update({"saved_models": 1, "jupyter_notebooks": 1})
    spec.update({"pre_migration_backups": [{"age_days": 9}], "diagnosis": {"files": 2}})
    b = build_datadir(spec, str(tmp_path / "b" / "dss_data"))
    assert a["jobs"] == b["jobs"] and a["scenario_runs"] == b["scenario_runs"] and a["api_keys"] == b["api_keys"]
    snap_a = _snapshot(str(tmp_path / "a" / "dss_data"))
    snap_b = _snapshot(str(tmp_path / "b" / "dss_data"))
    extra = ("saved_models/GONE", "jupyter-run/dku-workdirs", "_pre_migration_backup_", "diagnosis")
    only_b = {k: v for k, v in snap_b.items() if not any(k.startswith(e) for e in extra)}
    assert {k: v for k, v in snap_a.items() if k in only_b} == {k: v for k, v in only_b.items() if k in snap_a}
    assert set(only_b) - set(snap_a) <= {"jupyter-run", "saved_models", "."}


@pytest.mark.parametrize("over, name", [
    ({"pre_migration_backups": [{"date": "2026-03-01"}]}, "date"),
    ({"pre_migration_backups": [{"age": 3}]}, "age"),
    ({"pre_migration_backups": [{"date": "20260301"}, {"date": "20260301"}]}, "duplicate"),
    ({"diagnosis": {"files": 2, "age_days": 3}}, "age_days"),
    ({"diagnosis": {"files": -1}}, "diagnosis.files"),
    ({"orphan_projects": [{"key": "O", "saved_models": "2"}]}, "saved_models"),
    ({"orphan_projects": [{"key": "O", "notebooks": 1}]}, "notebooks"),
])
def test_new_keys_are_validated(tmp_path, over, name):
    with pytest.raises(ValueError, match=name):
        build_datadir(dict({"seed": 1, "now": NOW}, **over), str(tmp_path / "dss_data"))
    assert not os.path.exists(str(tmp_path / "dss_data"))
