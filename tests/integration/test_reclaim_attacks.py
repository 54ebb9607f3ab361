"""reclaim-disk under attack (issue 16): what it must never delete, bad input in DIP_HOME, an
API that answers too slowly, an interrupted run, bytes freed and the dry run's plan. Real files,
the simulator over HTTP, the real command line. The tests of the attack (an independent
attacker, the plugin unchanged) each failed when written, and pass since the fixes. Checked and found sound (no test): names of
255 bytes and not UTF-8, a silent API on every call reclaim-disk makes, DSS not reachable, a
folder flipped for a symlink while runs go on (diagnosis, diagnosis/sub, managed_datasets,
an orphan's subfolder, jupyter-run)."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from dssbench import cli as nodeops_cli
import test_reclaim_disk as base
from test_reclaim_disk import figure, install_kit, old_tree, run_cli

instance = base.instance  # the fixture: a small instance and its simulator

OLD = time.time() - 400 * 86400
ONLY = {"saved_model_versions": False, "ml_unused_splits": False, "deleted_projects_data": False,
        "pre_migration_backups": False, "diagnosis": False}


def cli_args(sim, dip_home, **params):
    """The arguments of ``python -m nodeops reclaim-disk`` (for a run this test kills or times)."""
    args = ["reclaim-disk", "--format", "json", "--dip-home", dip_home, "--url", sim.url,
            "--api-key", sim.api_key("admin")]
    for k, v in params.items():
        args += ["--" + k.replace("_", "-"), ("true" if v else "false") if isinstance(v, bool) else v]
    return args


def only(family, **more):
    p = dict(ONLY)
    p[family] = True
    p.update(more)
    return p


# ---- data of a project that still exists -----------------------------------------------------
@pytest.mark.parametrize("kind", ["dataset", "managed_folder"])
def test_data_of_an_existing_project_at_a_custom_path_is_not_deleted(instance, kind):
    """DSS lets the "path in connection" of a managed dataset or folder be changed (its default is
    ``${projectKey}/<name>``). An existing project's dataset whose data sits at
    managed_datasets/ARCHIVE_2023/orders, or its managed folder at managed_folders/SHARED_REPORTS,
    is that project's data, not a deleted project's: reclaim-disk deletes it."""
    dip_home, model, sim, h = instance
    key = model["projects"][0]["projectKey"]
    if kind == "dataset":
        ds_dir = dip_home / "config" / "projects" / key / "datasets"
        conf = next(p for p in sorted(ds_dir.iterdir())
                    if json.loads(p.read_text()).get("params", {}).get("connection") == "filesystem_managed")
        ds = json.loads(conf.read_text())
        ds["params"]["path"] = "ARCHIVE_2023/orders"
        conf.write_text(json.dumps(ds))
        data = dip_home / "managed_datasets" / "ARCHIVE_2023" / "orders"
    else:
        conf = dip_home / "config" / "projects" / key / "managed_folders" / "Xy12Ab34.json"
        conf.parent.mkdir(exist_ok=True)
        conf.write_text(json.dumps({"id": "Xy12Ab34", "projectKey": key, "name": "reports", "type": "Filesystem",
                                    "params": {"connection": "filesystem_folders", "path": "SHARED_REPORTS"}}))
        data = dip_home / "managed_folders" / "SHARED_REPORTS"
    old_tree(data)
    code, report, err = run_cli(sim, dip_home, dry_run=False, **only("deleted_projects_data"))
    assert code in (0, 1), err
    assert data.is_dir() and len(list(data.iterdir())) == 2, \
        "deleted the data of %s %s of the existing project %s" % (kind, conf.stem, key)


def test_a_connection_rooted_inside_a_project_keyed_folder_claims_that_folder(instance):
    """A Filesystem connection whose root is ${dip.home}/managed_datasets/ARCHIVE holds the data of
    the existing projects' datasets on it (under ARCHIVE/<KEY>/...): ARCHIVE is not a deleted
    project, while a true orphan beside it still goes. The same dataset with a name pattern
    (``${projectKey}_${datasetName}``) keeps every name the pattern matches."""
    dip_home, model, sim, h = instance
    key = model["projects"][0]["projectKey"]
    conns = dip_home / "config" / "connections.json"
    data = json.loads(conns.read_text())
    data["connections"]["archive_fs"] = {"type": "Filesystem", "params": {"root": "${dip.home}/managed_datasets/ARCHIVE"}}
    conns.write_text(json.dumps(data))
    ds_dir = dip_home / "config" / "projects" / key / "datasets"
    (ds_dir / "archived.json").write_text(json.dumps(
        {"type": "Filesystem", "name": "archived", "params": {"connection": "archive_fs", "path": "${projectKey}/old"}}))
    (ds_dir / "flat.json").write_text(json.dumps(
        {"type": "Filesystem", "name": "flat",
         "params": {"connection": "filesystem_managed", "path": "/${projectKey}_${datasetName}"}}))
    kept = [dip_home / "managed_datasets" / "ARCHIVE" / key / "old", dip_home / "managed_datasets" / (key + "_flat")]
    gone = dip_home / "managed_datasets" / "GONE_KEY"
    for p in kept + [gone]:
        old_tree(p)
    code, report, err = run_cli(sim, dip_home, dry_run=False, **only("deleted_projects_data"))
    assert code in (0, 1), err
    assert all(p.is_dir() and len(list(p.iterdir())) == 2 for p in kept)
    assert not gone.exists()
    notes = " ".join(report["notes"])
    assert "managed_datasets/ARCHIVE kept: dataset archived of project %s" % key in notes
    assert "managed_datasets/%s_flat kept: dataset flat of project %s" % (key, key) in notes


def test_a_dataset_configuration_that_cannot_be_read_keeps_every_deleted_project_s_data(instance):
    """Where that dataset keeps its data is unknown: nothing of the family is deleted, and it says why."""
    dip_home, model, sim, h = instance
    key = model["projects"][0]["projectKey"]
    (dip_home / "config" / "projects" / key / "datasets" / "broken.json").write_text("{not json")
    gone = dip_home / "managed_datasets" / "GONE_KEY"
    old_tree(gone)
    code, report, err = run_cli(sim, dip_home, dry_run=False, **only("deleted_projects_data"))
    assert code == 1, err
    assert gone.is_dir() and all((dip_home / o).exists() for o in ("jobs/OLD_POC", "managed_folders/OLD_POC"))
    assert any("nothing deleted: config/projects/%s/datasets/broken.json is not JSON" % key in e
               for e in report["errors"]), report["errors"]


# ---- bad input in DIP_HOME -------------------------------------------------------------------
def test_a_dss_version_file_nested_too_deep_is_a_doubt_not_a_traceback(instance, tmp_path):
    dip_home, model, sim, h = instance
    old = dip_home / "_pre_migration_backup_20200101-000000"
    old_tree(old)
    (dip_home / "dss-version.json").write_text("[" * 200000 + "]" * 200000)
    code, report, err = run_cli(sim, dip_home, dry_run=False, **only("pre_migration_backups"))
    assert "Traceback" not in err, err
    assert code == 1 and old.is_dir()


# ---- kill -9 mid-run, then run again ---------------------------------------------------------------
def many_small_files(folder, subs, mtime=None):
    for d in range(subs):
        sub = folder / ("d%03d" % d)
        sub.mkdir(parents=True)
        for i in range(60):
            (sub / ("f%d" % i)).write_bytes(b"x" * 10)
        if mtime:
            os.utime(str(sub), (mtime, mtime))


def kill_9_when(sim, dip_home, family, started):
    """Run reclaim-disk (real run, ``family`` only) and kill -9 it as soon as ``started()``."""
    proc = subprocess.Popen([sys.executable, "-m", "nodeops"] + [str(a) for a in cli_args(
        sim, dip_home, dry_run=False, **only(family))], env=nodeops_cli.env(None),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if started():
                os.kill(proc.pid, signal.SIGKILL)
                break
            time.sleep(0.002)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"


def test_a_pre_migration_backup_half_deleted_by_a_killed_run_is_finished_by_the_next_run(instance, tmp_path):
    dip_home, model, sim, h = instance
    install_kit(dip_home, tmp_path)
    backup = dip_home / "_pre_migration_backup_20200101-000000"
    subs = 150
    many_small_files(backup, subs, OLD)
    os.utime(str(backup), (OLD, OLD))
    kill_9_when(sim, dip_home, "pre_migration_backups", lambda: len(os.listdir(str(backup))) < subs)
    assert backup.is_dir()  # half deleted
    code, report, err = run_cli(sim, dip_home, dry_run=False, **only("pre_migration_backups"))
    assert code == 0, err
    assert not backup.exists(), "a half-deleted backup is left for another %s days: %s" % (
        30, next(r for r in report["tables"] if r["key"] == "families")["rows"])


# ---- bytes freed --------------------------------------------------------------------------------
def blocks(*paths):
    return sum(os.lstat(str(p)).st_blocks * 512 for p in paths)


def test_a_folder_partly_removed_counts_the_bytes_it_freed(instance):
    """An orphan folder with one file that cannot be removed: everything else is gone from the
    disk, and the report says the family freed nothing."""
    dip_home, model, sim, h = instance
    orphan = dip_home / "managed_datasets" / "GONE_P"
    old_tree(orphan / "data", files=3, size=200000)
    stuck = orphan / "data" / "stuck.bin"
    stuck.write_bytes(b"z" * 10)
    freeable = blocks(*(orphan / "data" / ("f%d.bin" % i) for i in range(3)))
    subprocess.run(["chattr", "+i", str(stuck)], check=True)
    try:
        code, report, err = run_cli(sim, dip_home, dry_run=False, **only("deleted_projects_data"))
    finally:
        for dirpath, _, files in os.walk(str(dip_home / "managed_datasets")):
            for f in files:
                subprocess.run(["chattr", "-i", os.path.join(dirpath, f)], check=False)
    assert code == 1, err
    left = [os.path.join(d, f) for d, _, fs in os.walk(str(dip_home / "managed_datasets")) for f in fs
            if "GONE_P" in d]
    assert [os.path.basename(p) for p in left] == ["stuck.bin"]  # the rest left the disk
    rows = next(t for t in report["tables"] if t["key"] == "items")["rows"]
    gone_p = sum(r["bytes"] for r in rows if r["item"] == "managed_datasets/GONE_P")
    assert gone_p >= freeable, (gone_p, freeable, report["errors"])


def test_a_hard_link_between_split_data_and_a_deleted_projects_folder_is_counted_the_same_in_both_runs(instance):
    dip_home, model, sim, h = instance
    task = next(t for ts in model["fixtures"]["ml_tasks"].values() for t in ts if t["splits_unused"])
    split = dip_home / task["split_files"][task["splits_unused"][0]][0]
    orphan = dip_home / "managed_datasets" / "GONE_P"
    orphan.mkdir()
    os.link(str(split), str(orphan / "copy.csv"))
    params = dict(ONLY, ml_unused_splits=True, deleted_projects_data=True)
    code, dry, err = run_cli(sim, dip_home, **params)
    assert code == 0, err
    code, real, err = run_cli(sim, dip_home, dry_run=False, **params)
    assert code == 0, err
    assert not split.exists() and not orphan.exists()
    # the dry run's split tally is its own: the orphan's link looks like one of two and counts nothing
    assert figure(real, "deleted_projects_data_bytes") == figure(dry, "deleted_projects_data_bytes")


# ---- the dry run plans what the real run does --------------------------------------------------------
def test_a_planted_trash_link_is_reported_by_the_dry_run_as_by_the_real_run(instance, tmp_path):
    """managed_datasets/.node-ops-trash is a symlink: the real run refuses the folder (right), the dry
    run says it would delete the orphans there, with no error."""
    dip_home, model, sim, h = instance
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("keep")
    old_tree(dip_home / "managed_datasets" / "GONE_P")
    os.symlink(str(outside), str(dip_home / "managed_datasets" / ".node-ops-trash"))
    code, dry, err = run_cli(sim, dip_home, **only("deleted_projects_data"))
    code_real, real, err_real = run_cli(sim, dip_home, dry_run=False, **only("deleted_projects_data"))
    assert (outside / "keep.txt").read_text() == "keep" and (dip_home / "managed_datasets" / "GONE_P").is_dir()
    assert code_real == 1 and any("managed_datasets" in e for e in real["errors"]), err_real
    listed = {r["item"] for t in dry["tables"] if t["key"] == "items" for r in t["rows"]}
    assert "managed_datasets/GONE_P" not in listed, "the dry run plans a deletion the real run refuses"
    assert code == 1 and any("managed_datasets" in e for e in dry["errors"]), dry["errors"]


def test_kill_9_while_removing_a_deleted_projects_folder_then_dry_run_and_real_run(instance):
    dip_home, model, sim, h = instance
    orphan = dip_home / "managed_datasets" / "GONE_P"
    subs = 150
    many_small_files(orphan, subs)
    trash = dip_home / "managed_datasets" / ".node-ops-trash"

    def started():
        parked = [p for p in trash.iterdir() if "GONE_P" in p.name] if trash.is_dir() else []
        return bool(parked) and len(os.listdir(str(parked[0]))) < subs

    kill_9_when(sim, dip_home, "deleted_projects_data", started)
    assert not orphan.exists() and list(trash.iterdir())
    code, dry, err = run_cli(sim, dip_home, **only("deleted_projects_data"))
    assert code == 0, err
    code, real, err = run_cli(sim, dip_home, dry_run=False, **only("deleted_projects_data"))
    assert code == 0, err
    assert not list(trash.iterdir())
    assert figure(dry, "deleted_projects_data_bytes") == figure(real, "deleted_projects_data_bytes"), \
        "the dry run does not count what an interrupted run left in the trash; the real run frees it"


# ---- a wide diagnosis folder ------------------------------------------------------------------------------
def test_a_diagnosis_folder_with_many_subfolders_under_the_usual_open_file_limit(instance):
    """Every subfolder of a folder is opened before any is walked: 1,500 subfolders under
    ``ulimit -n 1024`` (a login shell's default) leave hundreds of folders unread."""
    dip_home, model, sim, h = instance
    diag = dip_home / "diagnosis" / "by-run"
    for i in range(1500):
        f = diag / ("run-%04d" % i) / "diag.zip"
        f.parent.mkdir(parents=True)
        f.write_bytes(b"x" * 100)
        os.utime(str(f), (OLD, OLD))
    out = subprocess.run(["prlimit", "--nofile=1024"] + [sys.executable, "-m", "nodeops"] + [
        str(a) for a in cli_args(sim, dip_home, dry_run=False, **only("diagnosis"))],
        env=nodeops_cli.env(None), capture_output=True, text=True)
    assert "Traceback" not in out.stderr, out.stderr
    report = json.loads(out.stdout)
    left = [p for p in diag.rglob("diag.zip")]
    assert not left and out.returncode == 0, (len(left), report["errors"][:2])


# ---- a DSS (or a proxy in front of it) that answers one byte at a time ------------------------------------
def trickling_proxy(upstream, pattern):
    """An HTTP proxy to ``upstream`` that answers requests whose path matches ``pattern`` with
    a 200 whose body comes one byte every 0.3 s, for ever (each read is within any timeout)."""
    import http.server
    import re
    import threading
    import requests as _requests

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def _any(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if re.search(pattern, self.path):
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "1000000")
                self.end_headers()
                try:
                    self.wfile.write(b"[")
                    for _ in range(400):
                        time.sleep(0.3)
                        self.wfile.write(b" ")
                        self.wfile.flush()
                except OSError:
                    pass
                return
            r = _requests.request(self.command, upstream + self.path, data=body,
                                  headers={k: v for k, v in self.headers.items() if k.lower() != "host"})
            self.send_response(r.status_code)
            for k, v in r.headers.items():
                if k.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(r.content)))
            self.end_headers()
            self.wfile.write(r.content)

        do_GET = do_POST = do_PUT = do_DELETE = _any

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, "http://127.0.0.1:%d" % server.server_address[1]


def test_an_answer_that_trickles_still_times_out(instance):
    dip_home, model, sim, h = instance
    server, url = trickling_proxy(sim.url, r"/savedmodels/[^/]+/versions")
    args = cli_args(sim, dip_home, **only("saved_model_versions", api_timeout=1))
    args[args.index(sim.url)] = url
    start = time.monotonic()
    try:
        out = subprocess.run([sys.executable, "-m", "nodeops"] + [str(a) for a in args], env=nodeops_cli.env(None),
                             capture_output=True, text=True, timeout=60)
        took = time.monotonic() - start
    except subprocess.TimeoutExpired:
        took = None
    finally:
        server.shutdown()
    assert took is not None and took < 30, "reclaim-disk --api-timeout 1 was still waiting after 60 s"
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
