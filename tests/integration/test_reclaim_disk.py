"""reclaim-disk end to end: the macro, the step and the command line as DSS and an administrator
run them, against the simulator (the real client over HTTP) and a real DIP_HOME. For each family:
what it deletes, and what it must never delete."""

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from dssbench import cli as nodeops_cli
from dssbench import smallfs
from dssbench.datadir import build_datadir, small_spec
from dssbench.harness import Harness
from nodeops import dssapi, reclaim, safedelete

DAY_MS = 86400 * 1000
OLD = time.time() - 400 * 86400
FAMILY_FOLDERS = ("saved_models", "analysis-data", "managed_datasets", "managed_folders", "jupyter-run", "jobs",
                  "scenarios", "diagnosis")


def spec():
    s = small_spec()
    for p in s["projects"]:
        p["saved_models"], p["analyses"] = 3, 2
    return s


@pytest.fixture
def instance(new_instance, start_sim):
    dip_home, model = new_instance(spec())
    sim = start_sim(dip_home, model)
    return dip_home, model, sim, Harness(sim)


def run_cli(sim, dip_home, **params):
    """(exit code, report dict or None, stderr) of ``python -m nodeops reclaim-disk``."""
    args = ["reclaim-disk", "--format", "json", "--dip-home", dip_home, "--url", sim.url,
            "--api-key", sim.api_key("admin")]
    for k, v in params.items():
        value = ("true" if v else "false") if isinstance(v, bool) else ",".join(v) if isinstance(v, list) else v
        args += ["--" + k.replace("_", "-"), value]
    out = nodeops_cli.run(*args)
    try:
        report = json.loads(out.stdout)
    except ValueError:
        report = None
    return out.returncode, report, out.stderr


def figure(report, key):
    return next(f["value"] for f in report["summary"] if f["key"] == key)


def items(report, family=None):
    rows = next(t for t in report["tables"] if t["key"] == "items")["rows"]
    return {(r["family"], r["project"], r["item"]) for r in rows if family is None or r["family"] == family}


def tree(dip_home):
    """Every path under the folders reclaim-disk may touch, and the root's entries."""
    out = set(p.name for p in Path(dip_home).iterdir())
    for top in FAMILY_FOLDERS:
        for dirpath, dirnames, filenames in os.walk(str(Path(dip_home) / top)):
            out.update(os.path.relpath(os.path.join(dirpath, n), str(dip_home)) for n in dirnames + filenames)
    return out


def version_dirs(dip_home):
    return {(k.name, sm.name, v.name) for k in (dip_home / "saved_models").iterdir() if not k.name.startswith(".")
            for sm in k.iterdir() for v in (sm / "versions").iterdir()}


def expected_versions_deleted(model, retention_days, keep):
    """Independent oracle, from what the builder wrote: not active, trained before the cutoff,
    not among the ``keep`` newest of its model."""
    cutoff = time.time() * 1000 - retention_days * DAY_MS
    out = set()
    for key, sms in model["saved_models"].items():
        for sm in sms:
            ranked = sorted(sm["versions"], key=lambda v: sm["trainInfo"][v]["endTime"], reverse=True)
            for rank, v in enumerate(ranked):
                if v != sm["activeVersion"] and rank >= keep and sm["trainInfo"][v]["endTime"] < cutoff:
                    out.add((key, sm["id"], v))
    return out


def old_tree(path, files=2, size=30000):
    path.mkdir(parents=True)
    for i in range(files):
        (path / ("f%d.bin" % i)).write_bytes(os.urandom(size))
    for p in [path] + list(path.iterdir()):
        os.utime(p, (OLD, OLD))


# ---- saved-model versions ---------------------------------------------------------------
def test_dry_run_is_the_default_changes_nothing_and_plans_what_the_real_run_does(instance):
    dip_home, model, sim, h = instance
    old_tree(dip_home / "diagnosis" / "sub")
    before = tree(dip_home)
    out = h.run_macro("reclaim-disk", {})
    assert out.ok, out.traceback
    assert "dry run: nothing was changed" in out.result
    code, dry, err = run_cli(sim, dip_home, keep_versions=1)
    assert code == 0, err
    assert tree(dip_home) == before
    assert not any((dip_home / top / safedelete.TRASH).exists() for top in FAMILY_FOLDERS)
    code, real, err = run_cli(sim, dip_home, keep_versions=1, dry_run=False)
    assert code == 0, err
    assert items(dry) == items(real) and len(items(real)) > 10
    for family in ("saved_model_versions", "deleted_projects_data", "diagnosis"):
        assert figure(dry, family + "_bytes") == figure(real, family + "_bytes") > 0, family
    assert 0 < figure(real, "ml_unused_splits_bytes") < figure(dry, "ml_unused_splits_bytes")  # "up to"
    assert any("at most what a real run frees" in n for n in dry["notes"])


def test_deletes_exactly_the_old_versions_through_the_api(instance):
    dip_home, model, sim, h = instance
    before = version_dirs(dip_home)
    expected = expected_versions_deleted(model, 30, 1)
    assert expected
    step = h.run_step("reclaim-disk", {"keep_versions": 1, "dry_run": False, "ml_unused_splits": False,
                                       "deleted_projects_data": False, "diagnosis": False})
    assert step.ok, step.stderr
    assert before - version_dirs(dip_home) == expected
    assert step.variables["nodeops_reclaim_disk_saved_model_versions_items"] == len(expected)
    assert step.variables["nodeops_reclaim_disk_errors"] == 0
    again = h.run_step("reclaim-disk", {"keep_versions": 1, "dry_run": False})
    assert again.variables["nodeops_reclaim_disk_saved_model_versions_items"] == 0


def test_the_active_version_is_never_deleted(instance):
    dip_home, model, sim, h = instance
    code, report, err = run_cli(sim, dip_home, retention_days=0, keep_versions=0, dry_run=False)
    assert code == 0, err
    active = {(k, sm["id"], sm["activeVersion"]) for k, sms in model["saved_models"].items() for sm in sms}
    assert version_dirs(dip_home) == active


def test_a_model_whose_active_version_is_not_said_is_skipped(instance):
    dip_home, model, sim, h = instance
    key, sm = "CHURN_MODEL", model["saved_models"]["CHURN_MODEL"][0]
    config = dip_home / "config" / "projects" / key / "saved_models" / ("%s.json" % sm["id"])
    data = json.loads(config.read_text())
    data["activeVersion"] = "not-a-version"  # DSS lists every version with active: false
    config.write_text(json.dumps(data))
    sim.inject(r"/savedmodels/%s/versions$" % model["saved_models"]["SALES_ANALYTICS"][0]["id"], status=500)
    code, report, err = run_cli(sim, dip_home, retention_days=0, keep_versions=0, dry_run=False,
                                ml_unused_splits=False, deleted_projects_data=False, diagnosis=False)
    assert code == 1, err  # ran, with errors
    left = version_dirs(dip_home)
    assert {v for k, s, v in left if s == sm["id"]} == set(sm["versions"])  # untouched
    other = model["saved_models"]["SALES_ANALYTICS"][0]
    assert {v for k, s, v in left if s == other["id"]} == set(other["versions"])
    assert any("CHURN_MODEL.%s skipped: DSS does not say which version is active" % sm["id"] in e
               for e in report["errors"])
    assert any("SALES_ANALYTICS.%s skipped: its versions could not be listed" % other["id"] in e
               for e in report["errors"])
    assert figure(report, "saved_model_versions_items") > 0  # the other models were cleaned
    assert next(r for r in next(t for t in report["tables"] if t["key"] == "families")["rows"]
                if r["family"] == "Saved-model versions")["skipped"] == 2


def test_symlinks_at_saved_models_key_and_at_a_version_are_not_followed(instance, tmp_path):
    dip_home, model, sim, h = instance
    outside = tmp_path / "outside"
    outside.mkdir()
    (dip_home / "saved_models" / "CHURN_MODEL").rename(outside / "CHURN_MODEL")
    os.symlink(outside / "CHURN_MODEL", dip_home / "saved_models" / "CHURN_MODEL")
    sm = model["saved_models"]["SALES_ANALYTICS"][0]
    target = outside / "precious"
    old_tree(target)
    planted = dip_home / "saved_models" / "SALES_ANALYTICS" / sm["id"] / "versions" / "1000000000000"
    os.symlink(target, planted)
    before_outside = sorted(str(p) for p in outside.rglob("*"))
    code, report, err = run_cli(sim, dip_home, retention_days=0, keep_versions=0, dry_run=False)
    assert code == 1, err
    assert sorted(str(p) for p in outside.rglob("*")) == before_outside  # nothing deleted through a link
    assert os.path.islink(planted) and len(list(target.iterdir())) == 2
    assert any("saved_models/CHURN_MODEL" in e and "symlink" in e for e in report["errors"])
    # the linked project's models were listed by the API but skipped; the other projects were cleaned
    assert not [i for i in items(report, "Saved-model versions") if i[1] == "CHURN_MODEL"]
    assert [i for i in items(report, "Saved-model versions") if i[1] == "SALES_ANALYTICS"]


# ---- ML split data ------------------------------------------------------------------------
def test_unused_splits_go_and_the_bytes_are_what_left_the_disk(instance):
    dip_home, model, sim, h = instance
    tasks = [(k, t) for k, ts in model["fixtures"]["ml_tasks"].items() for t in ts]
    unused = [dip_home / f for _, t in tasks for s in t["splits_unused"] for f in t["split_files"][s]]
    used = [dip_home / f for _, t in tasks for s in t["splits_used"] for f in t["split_files"][s]]
    blocks = sum(os.lstat(p).st_blocks * 512 for p in unused)
    code, dry, err = run_cli(sim, dip_home, saved_model_versions=False, deleted_projects_data=False,
                             diagnosis=False)
    assert code == 0, err
    assert figure(dry, "ml_unused_splits_items") == len(tasks)
    assert figure(dry, "ml_unused_splits_bytes") == blocks + sum(os.lstat(p).st_blocks * 512 for p in used)
    code, real, err = run_cli(sim, dip_home, saved_model_versions=False, deleted_projects_data=False,
                              diagnosis=False, dry_run=False)
    assert code == 0, err
    assert not [p for p in unused if p.exists()] and all(p.exists() for p in used)
    assert figure(real, "ml_unused_splits_bytes") == blocks
    assert items(real) == items(dry)


def test_only_the_selected_projects_are_cleaned(instance):
    dip_home, model, sim, h = instance
    code, report, err = run_cli(sim, dip_home, retention_days=0, keep_versions=0, projects_mode="INCLUDED",
                                projects=["CHURN_MODEL"], dry_run=False, diagnosis=False)
    assert code == 0, err
    assert {i[1] for i in items(report)} == {"CHURN_MODEL"}
    left = version_dirs(dip_home)
    for key, sms in model["saved_models"].items():
        if key != "CHURN_MODEL":
            assert {(key, sm["id"], v) for sm in sms for v in sm["versions"]} <= left
    assert (dip_home / "jobs" / "OLD_POC").is_dir()  # an orphan not listed is not selected


# ---- data of deleted projects ------------------------------------------------------------
def plant_orphans(dip_home):
    """Folders of the deleted project OLD_POC everywhere, and look-alikes that must stay."""
    gone = []
    for rel in ("managed_datasets/OLD_POC/customers", "managed_folders/OLD_POC/F1", "saved_models/OLD_POC/SM1/versions/1",
                "analysis-data/OLD_POC/A1/M1/splits", "jupyter-run/dku-workdirs/OLD_POC/nb1",
                "managed_datasets/OLD_POC.legacy_ds"):
        old_tree(dip_home / rel)
        gone.append(rel.split("/")[0] + ("/dku-workdirs/" if rel.startswith("jupyter") else "/") +
                    (rel.split("/")[2] if rel.startswith("jupyter") else rel.split("/")[1]))
    kept = []
    (dip_home / "config" / "projects" / "HALF_LOADED").mkdir()  # DSS does not list it, its config is there
    for rel in ("managed_datasets/HALF_LOADED/x", "jupyter-run/dku-workdirs/SALES_ANALYTICS/nb",
                "managed_datasets/uploads/stuff", "managed_folders/SHARED_BUCKET/CHURN_MODEL"):
        old_tree(dip_home / rel)
        kept.append(rel)
    return sorted(set(gone)) + ["jobs/OLD_POC", "scenarios/OLD_POC"], kept


def test_data_of_deleted_projects_goes_and_everything_else_stays(instance):
    dip_home, model, sim, h = instance
    gone, kept = plant_orphans(dip_home)
    live = {p["projectKey"] for p in model["projects"]}
    live_folders = {(top, p.name) for top in FAMILY_FOLDERS if (dip_home / top).is_dir()
                    for p in (dip_home / top).iterdir() if p.name in live}
    assert live_folders
    code, dry, err = run_cli(sim, dip_home, saved_model_versions=False, ml_unused_splits=False, diagnosis=False)
    assert code == 0, err
    assert {i[2] for i in items(dry)} == set(gone)
    assert {a["path"] for a in model["fixtures"]["orphan_data"]["OLD_POC"].values()} <= set(gone)  # the builder's
    assert {i[1] for i in items(dry)} == {"OLD_POC"}
    code, real, err = run_cli(sim, dip_home, saved_model_versions=False, ml_unused_splits=False, diagnosis=False,
                              dry_run=False)
    assert code == 0, err
    assert not [g for g in gone if os.path.lexists(dip_home / g)]
    assert all((dip_home / k).exists() for k in kept)
    assert figure(real, "deleted_projects_data_bytes") == figure(dry, "deleted_projects_data_bytes") > 0
    assert any("config/projects/HALF_LOADED exists" in n for n in real["notes"])
    assert any("SHARED_BUCKET kept: it holds CHURN_MODEL" in n for n in real["notes"])
    assert all((dip_home / top / key).is_dir() for top, key in live_folders)  # every existing project's folders


def test_deleted_projects_scope(instance):
    dip_home, model, sim, h = instance
    plant_orphans(dip_home)
    code, report, err = run_cli(sim, dip_home, projects_mode="ALL_BUT_EXCLUDED", projects=["OLD_POC"],
                                dry_run=False, saved_model_versions=False, ml_unused_splits=False)
    assert code == 0, err
    assert (dip_home / "jobs" / "OLD_POC").is_dir()
    assert not items(report, "Data of deleted projects")
    code, report, err = run_cli(sim, dip_home, projects_mode="INCLUDED", projects=["OLD_POC"], dry_run=False,
                                saved_model_versions=False, ml_unused_splits=False)
    assert code == 0, err
    assert not (dip_home / "jobs" / "OLD_POC").exists() and not (dip_home / "managed_datasets" / "OLD_POC").exists()


def test_api_down_deletes_nothing_at_all(instance):
    dip_home, model, sim, h = instance
    plant_orphans(dip_home)
    old_tree(dip_home / "diagnosis" / "extra")
    before = tree(dip_home)
    sim.inject(r"/dip/publicapi/projects/$", status=500)
    step = h.run_step("reclaim-disk", {"retention_days": 0, "keep_versions": 0, "dry_run": False})
    assert not step.ok
    assert "nothing was done" in step.stdout + step.stderr
    assert tree(dip_home) == before


def test_a_concurrent_purge_holding_jobs_leaves_jobs_alone(instance):
    dip_home, model, sim, h = instance
    with safedelete.Trash(dip_home, "jobs").acquire():
        code, report, err = run_cli(sim, dip_home, dry_run=False, saved_model_versions=False,
                                    ml_unused_splits=False, diagnosis=False)
    assert code == 1 and (dip_home / "jobs" / "OLD_POC").is_dir() and not (dip_home / "scenarios" / "OLD_POC").exists()
    assert any("another node-ops purge of jobs is running" in e for e in report["errors"])


# ---- pre-migration backups -----------------------------------------------------------------
def install_kit(dip_home, tmp_path, version=None):
    """A DSS installation directory that bin/env-default.sh names, at ``version`` (default: the
    data directory's)."""
    data = json.loads((dip_home / "dss-version.json").read_text())
    kit = tmp_path / "dataiku-dss-kit"
    kit.mkdir(exist_ok=True)
    (kit / "dss-version.json").write_text(json.dumps({"product_version": version or data["product_version"],
                                                      "product_commitid": ""}))
    env = dip_home / "bin" / "env-default.sh"
    lines = [l for l in env.read_text().splitlines() if "DKUINSTALLDIR=" not in l]
    env.write_text("\n".join(lines + ['export DKUINSTALLDIR="%s"' % kit]) + "\n")
    return kit


def backups(dip_home):
    old = dip_home / "_pre_migration_backup_20200101-000000"
    old_tree(old / "config")
    os.utime(old, (OLD, OLD))
    recent = dip_home / ("_pre_migration_backup_%s" % time.strftime("%Y%m%d-%H%M%S"))
    (recent / "config").mkdir(parents=True)
    return old, recent


def test_old_pre_migration_backups_go_only_when_asked_and_no_migration_is_pending(instance, tmp_path):
    dip_home, model, sim, h = instance
    install_kit(dip_home, tmp_path)
    old, recent = backups(dip_home)
    code, report, err = run_cli(sim, dip_home, dry_run=False)  # off by default
    assert code == 0, err
    assert old.is_dir()
    code, report, err = run_cli(sim, dip_home, dry_run=False, pre_migration_backups=True)
    assert code == 0, err
    assert not old.exists() and recent.is_dir()
    assert model["fixtures"]["pre_migration_backups"]  # the builder's, 200 days old
    assert not [b for b in model["fixtures"]["pre_migration_backups"] if (dip_home / b["path"]).exists()]
    assert figure(report, "pre_migration_backups_bytes") >= 2 * 30000
    assert any("no migration pending" in n and "DSS-MIGRATION-IN-PROGRESS.json" in n for n in report["notes"])


@pytest.mark.parametrize("doubt", ["marker", "newer_kit", "no_install_dir", "no_conf_version"])
def test_a_pending_or_unknown_migration_state_keeps_every_backup(instance, tmp_path, doubt):
    dip_home, model, sim, h = instance
    install_kit(dip_home, tmp_path, version="99.0.0" if doubt == "newer_kit" else None)
    old, _ = backups(dip_home)
    if doubt == "marker":
        (dip_home / reclaim.GUESS_MIGRATION_MARKER).write_text('{"entries": []}')
    elif doubt == "no_install_dir":
        env = dip_home / "bin" / "env-default.sh"
        env.write_text("\n".join(l for l in env.read_text().splitlines() if "DKUINSTALLDIR" not in l) + "\n")
    elif doubt == "no_conf_version":
        v = json.loads((dip_home / "dss-version.json").read_text())
        v.pop("conf_version", None)
        (dip_home / "dss-version.json").write_text(json.dumps(v))
    code, report, err = run_cli(sim, dip_home, dry_run=False, pre_migration_backups=True, keep_versions=0)
    assert code == 1, err
    assert old.is_dir()
    [why] = [e for e in report["errors"] if e.startswith("Pre-migration backups")]
    assert "nothing deleted" in why
    assert {"marker": "is running or was interrupted", "newer_kit": "99.0.0",
            "no_install_dir": "does not set DKUINSTALLDIR", "no_conf_version": "no conf_version"}[doubt] in why
    assert figure(report, "saved_model_versions_items") > 0  # the other families ran


# ---- diagnosis ----------------------------------------------------------------------------------
def test_old_diagnosis_files_go_folders_and_links_stay(instance, tmp_path):
    dip_home, model, sim, h = instance
    diag = dip_home / "diagnosis"
    old_tree(diag / "2020-01" / "deep")
    (diag / "recent.zip").write_bytes(b"x" * 5000)
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me")
    os.utime(outside, (OLD, OLD))
    os.symlink(outside, diag / "link.txt")
    code, report, err = run_cli(sim, dip_home, dry_run=False, saved_model_versions=False, ml_unused_splits=False,
                                deleted_projects_data=False)
    assert code == 1, err  # the link is reported
    assert (diag / "2020-01" / "deep").is_dir() and not list((diag / "2020-01" / "deep").iterdir())
    assert (diag / "recent.zip").exists() and os.path.islink(diag / "link.txt") and outside.read_text() == "keep me"
    cutoff_ms = (time.time() - 30 * 86400) * 1000
    built = [dip_home / d["path"] for d in model["fixtures"]["diagnosis"] if d["mtime_ms"] < cutoff_ms]
    assert built and not [p for p in built if p.exists()]
    assert len([d for d in model["fixtures"]["diagnosis"] if (dip_home / d["path"]).exists()]) == \
        len(model["fixtures"]["diagnosis"]) - len(built)  # the recent ones stay
    assert figure(report, "diagnosis_items") == 2 + len(built)
    assert any("link.txt: symlink, not followed" in e for e in report["errors"])


def test_a_diagnosis_folder_that_is_a_symlink_is_refused(instance, tmp_path):
    dip_home, model, sim, h = instance
    outside = tmp_path / "elsewhere"
    old_tree(outside)
    shutil.rmtree(str(dip_home / "diagnosis"))
    os.symlink(outside, dip_home / "diagnosis")
    code, report, err = run_cli(sim, dip_home, dry_run=False, saved_model_versions=False, ml_unused_splits=False,
                                deleted_projects_data=False)
    assert code == 1, err
    assert len(list(outside.iterdir())) == 2
    assert any("diagnosis is not a real folder" in e for e in report["errors"])


# ---- refusals -------------------------------------------------------------------------------------
def test_a_non_administrator_is_refused(instance):
    dip_home, model, sim, h = instance
    before = version_dirs(dip_home)
    out = h.run_macro("reclaim-disk", {"dry_run": False}, user="alice", enforce_dss_permissions=False)
    assert not out.ok and "permission denied" in out.error
    step = h.run_step("reclaim-disk", {"dry_run": False}, user="alice")
    assert not step.ok and "permission denied" in step.error_message
    assert version_dirs(dip_home) == before


@pytest.mark.parametrize("params,named", [
    ({"keep_versions": -1}, "keep_versions"), ({"retention_days": "soon"}, "retention_days"),
    ({"projects_mode": "INCLUDED"}, "projects"),
    ({f: False for f, _ in reclaim.FAMILIES}, "saved_model_versions"),
])
def test_bad_parameters_are_named_and_refused(instance, params, named):
    dip_home, model, sim, h = instance
    before = tree(dip_home)
    code, report, err = run_cli(sim, dip_home, dry_run=False, **params)
    assert code == 2 and "'%s'" % named in err
    assert tree(dip_home) == before


# ---- bytes freed, as the filesystem counts them ------------------------------------------------
def test_bytes_freed_are_what_statvfs_sees(tmp_path, start_sim):
    """On a small filesystem of its own: the report's bytes freed, family by family, add up to
    what the filesystem got back."""
    with smallfs.tmpfs(tmp_path / "mnt", size="64m", inodes=20000, mode="0755") as mnt:
        dip_home = mnt / "dss_data"
        model = build_datadir({"seed": 3, "projects": [{"key": "SMALLP", "saved_models": 3, "analyses": 2,
                                                        "managed_datasets": 0}],
                               "orphan_projects": [{"key": "GONE", "jobs": 3, "scenario_runs": 2}]}, dip_home)
        old_tree(dip_home / "diagnosis")
        os.link(dip_home / "diagnosis" / "f0.bin", dip_home / "f0-elsewhere")  # its blocks stay
        sim = start_sim(dip_home, model)
        code, dry, err = run_cli(sim, dip_home, retention_days=0, keep_versions=0, ml_unused_splits=False)
        assert code == 0, err
        before = os.statvfs(str(mnt))
        code, real, err = run_cli(sim, dip_home, retention_days=0, keep_versions=0, ml_unused_splits=False,
                                  dry_run=False)
        after = os.statvfs(str(mnt))
        assert code == 0, err
        freed = (after.f_bfree - before.f_bfree) * after.f_frsize
        assert figure(real, "bytes_freed") == freed == figure(dry, "bytes_freed") > 0
        assert figure(real, "diagnosis_items") == 2 and figure(real, "diagnosis_bytes") == 32768  # f1 only


def test_the_api_layer_is_what_reclaim_calls():
    for name in ("saved_model_ids", "saved_model_versions", "version_time_ms", "delete_saved_model_versions",
                 "ml_task_ids", "remove_unused_splits", "project_keys"):
        assert callable(getattr(dssapi, name))
