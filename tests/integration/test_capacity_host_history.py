"""capacity-report: host, DSS processes, Java heaps, history and forecast, end to end
(the real client over HTTP against the simulator; processes are real, with the
command lines of a running DSS)."""

import base64
import json
import os
import time

import psutil
import pytest

from dssbench import cli as nodeops_cli
from dssbench.datadir import small_spec
from dssbench.harness import Harness
from dssbench.simulator import dssprocs
from nodeops import history

GIB = 1024 ** 3
DAY = history.DAY_MS


def cli(*args):
    out = nodeops_cli.run("capacity-report", "--format", "json", *args)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def table(report, key):
    return next(t for t in report["tables"] if t["key"] == key)["rows"]


def figure(report, key):
    return next(f["value"] for f in report["summary"] if f["key"] == key)


def findings(report):
    return {f["id"] for f in report["findings"]}


@pytest.fixture
def live(new_instance, start_sim):
    spec = small_spec()
    spec["java"] = {"backend.xmx": "4g", "fek.xmx": "6g"}
    spec["general_settings"] = {"maxRunningActivities": 7}
    dip_home, model = new_instance(spec)
    return start_sim(dip_home, model, dss_processes=True)


def tree_rss(pid):
    p = psutil.Process(pid)
    return sum(q.memory_info().rss for q in [p] + p.children(recursive=True))


def test_dss_processes_are_grouped_by_role_from_their_command_lines(live, tmp_path):
    report = cli("--dip-home", str(live.state.dip_home), "--url", live.url, "--api-key", live.api_key("admin"),
                 "--history-dir", str(tmp_path / "h"))
    rows = {r["role"]: r for r in table(report, "processes")}
    expected = {"Backend": 1, "Job execution kernels (JEK)": 2, "Future execution kernels (FEK)": 1,
                "Hive proxy (hproxy)": 1, "nginx": 2, "Jupyter server": 1, "Python / R recipe processes": 1,
                "Other DSS processes": 1, "Jupyter kernels": len(live.state.kernels)}
    assert {k: r["count"] for k, r in rows.items()} == expected
    # Resident memory: the sum psutil gives for the same processes, measured independently.
    procs = {spec["role"]: [] for spec, _ in live.dss_processes.procs}
    for spec, p in live.dss_processes.procs:
        procs[spec["role"]].append(p.pid)
    jek_and_recipe = sum(tree_rss(pid) for pid in procs["jek"])
    reported = rows["Job execution kernels (JEK)"]["rss_bytes"] + rows["Python / R recipe processes"]["rss_bytes"]
    assert reported == pytest.approx(jek_and_recipe, rel=0.1)
    kernels = sum(k.process and tree_rss(k.pid) for k in live.state.kernels.values())
    assert rows["Jupyter kernels"]["rss_bytes"] == pytest.approx(kernels, rel=0.1)
    assert rows["Backend"]["rss_bytes"] > 60 * 1024 * 1024  # the fake backend holds 60 MiB
    assert figure(report, "ram_bytes") == psutil.virtual_memory().total
    assert figure(report, "cpus") == psutil.cpu_count()


def test_kernels_in_containers_are_counted_as_forwarders_not_kernels(new_instance, start_sim, tmp_path):
    """A containerized kernel's local process is its forwarder (python -m
    dataiku.notebook.remote_kernel_forwarder ... --connection-file .../kernel-<id>.json): the
    capacity report and the metrics count it apart from the Jupyter kernels."""
    spec = small_spec()
    spec["projects"][0]["notebooks"] = [
        {"name": "local", "sessions": [{"memory_mb": 20, "state": "idle", "idle_hours": 1, "age_hours": 1}]},
        {"name": "remote", "sessions": [{"memory_mb": 20, "container": True, "state": "idle", "idle_hours": 1,
                                         "age_hours": 1}]}]
    for p in spec["projects"][1:]:
        p["notebooks"] = []
    dip_home, model = new_instance(spec)
    sim = start_sim(dip_home, model)
    report = cli("--dip-home", str(dip_home), "--history-dir", str(tmp_path / "h"))
    rows = {r["role"]: r for r in table(report, "processes")}
    forwarder = next(k for k in sim.state.kernels.values() if k.container)
    kernel = next(k for k in sim.state.kernels.values() if not k.container)
    assert rows["Jupyter kernels"]["count"] == 1
    assert rows["Jupyter kernels"]["rss_bytes"] == pytest.approx(tree_rss(kernel.pid), rel=0.1)
    assert rows["Kernels in containers (local forwarders)"]["count"] == 1
    assert rows["Kernels in containers (local forwarders)"]["rss_bytes"] == pytest.approx(tree_rss(forwarder.pid),
                                                                                          rel=0.1)
    metrics = nodeops_cli.run("collect-metrics", "--format", "json", "--dip-home", str(dip_home), "--url", sim.url,
                              "--api-key", sim.api_key("admin"))
    assert metrics.returncode == 0, metrics.stderr
    counted = {r["role"]: r["count"] for r in table(json.loads(metrics.stdout), "processes")}
    assert counted["Jupyter kernels"] == 1 and counted["Kernels in containers (local forwarders)"] == 1


def test_role_flags_with_a_value_are_recognised(new_instance, tmp_path):
    """-Ddku.backend=true (any -Ddku.<role>=<value>) names the role as the bare flag does; the main
    classes here are unknown, so only the flag can tell."""
    dip_home, _ = new_instance()
    cp = "%s/bin:/opt/dataiku-dss/dist" % dip_home
    java = "/usr/lib/jvm/java-17/bin/java"
    layout = [{"role": role, "mb": 5, "argv": [java, "-Ddku.%s=%s" % (role, value), "-Xmx2g", "-cp", cp, "Main"]}
              for role, value in (("backend", "true"), ("jek", "1"), ("fek", "true"), ("hproxy", "yes"))]
    layout.append({"role": "other", "mb": 5, "argv": [java, "-Ddku.cak=true", "-cp", cp, "Main"]})
    procs = dssprocs.DSSProcesses(dip_home, str(tmp_path), layout).start()
    try:
        report = cli("--dip-home", str(dip_home), "--history-dir", str(tmp_path / "h"))
    finally:
        procs.stop()
    counts = {r["role"]: r["count"] for r in table(report, "processes")}
    assert counts == {"Backend": 1, "Job execution kernels (JEK)": 1, "Future execution kernels (FEK)": 1,
                      "Hive proxy (hproxy)": 1, "Other DSS processes": 1}


def test_processes_of_another_dss_on_the_same_host_are_left_out(live, new_instance, tmp_path):
    other_home, _ = new_instance()
    report = cli("--dip-home", str(other_home), "--history-dir", str(tmp_path / "h"))
    assert table(report, "processes") == []


def test_heaps_against_the_guidance_and_the_worst_case(live, tmp_path):
    report = cli("--dip-home", str(live.state.dip_home), "--url", live.url, "--api-key", live.api_key("admin"),
                 "--history-dir", str(tmp_path / "h"))
    heaps = {r["process"]: r for r in table(report, "heaps")}
    assert heaps["backend"]["xmx_bytes"] == 4 * GIB and heaps["backend"]["recommended_bytes"] == 8 * GIB  # < 10 users
    assert heaps["fek"]["xmx_bytes"] == 6 * GIB and heaps["jek"]["xmx_bytes"] == 2 * GIB
    # backend + maxRunningActivities x JEK + running FEKs x FEK + hproxy (running)
    assert figure(report, "heap_worst_case_bytes") == (4 + 7 * 2 + 1 * 6 + 2) * GIB
    assert {"heap.backend", "heap.fek"} <= findings(report)
    assert "heap.jek" not in findings(report)


def test_unset_heaps_are_2g_by_default(new_instance, start_sim, tmp_path):
    """DSS passes -Xmx2g for any process whose <proc>.xmx install.ini leaves out (KIT
    dkuinstall/java.py xmxDefault="2g", envfiles.py): backend and hproxy as well as JEK and FEK."""
    spec = small_spec()
    spec["java"] = {"backend.xmx": None, "jek.xmx": None, "fek.xmx": None, "hproxy.xmx": None}
    spec["general_settings"] = {"maxRunningActivities": 3}
    dip_home, model = new_instance(spec)
    sim = start_sim(dip_home, model, dss_processes=True)
    args = ("--dip-home", str(dip_home), "--url", sim.url, "--api-key", sim.api_key("admin"),
            "--history-dir", str(tmp_path / "h"))
    report = cli(*args)
    heaps = {r["process"]: r for r in table(report, "heaps")}
    assert {n: (h["xmx_bytes"], h["source"]) for n, h in heaps.items()} == {
        n: (2 * GIB, "2g (default)") for n in ("backend", "jek", "fek", "hproxy")}
    # backend + 3 activities x JEK + 1 running FEK + the running hproxy, all 2g
    assert figure(report, "heap_worst_case_bytes") == (2 + 3 * 2 + 2 + 2) * GIB
    assert "heap.backend" in findings(report)  # 2g is below the 8g recommended for < 10 users
    text = nodeops_cli.run("capacity-report", "--format", "text", *args).stdout
    assert "2g (default)" in text


def test_no_activity_limit_makes_the_worst_case_unbounded(new_instance, start_sim, tmp_path):
    """maxRunningActivities 0 is "unlimited" (KIT admin/general/flow-build.html): any number of
    JEKs may start, so no sum of heaps is a worst case."""
    spec = small_spec()
    spec["general_settings"] = {"maxRunningActivities": 0, "maxRunningActivitiesPerJob": 3}
    dip_home, model = new_instance(spec)
    sim = start_sim(dip_home, model)
    args = ("--dip-home", str(dip_home), "--url", sim.url, "--api-key", sim.api_key("admin"),
            "--history-dir", str(tmp_path / "h"))
    report = cli(*args)
    assert figure(report, "heap_worst_case_bytes") == "unbounded"
    (commitment,) = [f for f in report["findings"] if f["id"] == "heap.commitment"]
    assert "no upper bound" in commitment["title"] and "unbounded" in commitment["evidence"]
    assert "unbounded" in nodeops_cli.run("capacity-report", "--format", "text", *args).stdout
    assert "unbounded" in nodeops_cli.run("capacity-report", "--format", "html", *args).stdout


def test_an_unlimited_per_job_limit_leaves_the_worst_case_bounded(new_instance, start_sim, tmp_path):
    """maxRunningActivitiesPerJob 0 (unlimited) does not raise the number of JEKs: the global
    limit still bounds the activities, one JEK per job."""
    spec = small_spec()
    spec["java"] = {"backend.xmx": "4g"}
    spec["general_settings"] = {"maxRunningActivities": 7, "maxRunningActivitiesPerJob": 0}
    dip_home, model = new_instance(spec)
    report = cli("--dip-home", str(dip_home), "--history-dir", str(tmp_path / "h"))
    assert figure(report, "heap_worst_case_bytes") == (4 + 7 * 2 + 2) * GIB  # no FEK or hproxy running: one FEK


def _synthetic_history(directory, now_ms, used_now, free_now, per_day, days=(28, 21, 14, 7)):
    store = history.LocalStore(directory)
    size = used_now + free_now
    for d in days:
        used = int(used_now - per_day * d)
        history.append(store, history.Snapshot(now_ms - d * DAY, fs_size=size, fs_used=used, fs_free=size - used,
                                               folders={"jobs": used // 10}))
    return store


def test_forecast_date_and_finding_from_a_synthetic_history(sim, tmp_path):
    st = os.statvfs(str(sim.state.dip_home))
    used, free = (st.f_blocks - st.f_bfree) * st.f_frsize, st.f_bavail * st.f_frsize
    per_day = (0.9 * (used + free) - used) / 20.0  # 90 % in 20 days at this pace
    _synthetic_history(tmp_path / "h", int(time.time() * 1000), used, free, per_day)
    report = cli("--dip-home", str(sim.state.dip_home), "--history-dir", str(tmp_path / "h"), "--forecast-days", "30")
    assert figure(report, "fs_days_to_full") == pytest.approx(20, abs=0.5)
    assert figure(report, "fs_growth_per_week_bytes") == pytest.approx(7 * per_day, rel=0.02)
    assert "disk.forecast" in findings(report)
    chart = next(c for c in report["charts"] if c["key"] == "usage_over_time")
    assert len(chart["series"]["used"]) == 5 and chart["forecast"]
    growth = {r["folder"]: r["growth_bytes"] for r in table(report, "growth")}
    assert set(growth) >= {"jobs"}
    # The same history, a shorter horizon: the date is the same, no finding.
    again = cli("--dip-home", str(sim.state.dip_home), "--history-dir", str(tmp_path / "h"), "--forecast-days", "10")
    assert "disk.forecast" not in findings(again)
    assert len(history.load(history.LocalStore(tmp_path / "h"), int(time.time() * 1000))) == 6  # 4 + 2 runs


def test_no_forecast_without_enough_history(sim, tmp_path):
    report = cli("--dip-home", str(sim.state.dip_home), "--history-dir", str(tmp_path / "h"))
    assert "fs_days_to_full" not in {f["key"] for f in report["summary"]}
    assert any("No forecast yet" in n for n in report["notes"])
    off = cli("--dip-home", str(sim.state.dip_home), "--history-dir", str(tmp_path / "off"), "--history", "false")
    assert not (tmp_path / "off").exists() and not [c for c in off["charts"] if c["key"] == "usage_over_time"]


def test_step_keeps_history_in_a_managed_folder_and_saves_the_report_as_a_static_insight(sim):
    from dataikuapi import DSSClient

    h = Harness(sim)
    for _ in range(2):
        step = h.run_step("capacity-report", {}, project_key="ADMINPROJECT")
        assert step.ok, step.stdout
    client = DSSClient(sim.url, sim.api_key("admin"))
    folders = [f for f in client.get_project("ADMINPROJECT").list_managed_folders()
               if f["name"] == history.FOLDER_NAME]
    assert len(folders) == 1
    store = history.FolderStore(client, "ADMINPROJECT", create=False)
    assert len(history.load(store, int(time.time() * 1000))) == 2
    insights = [i for i in step.insights if i["id"] == "node-ops-capacity-report"]
    assert insights and insights[-1]["contentType"] == "text/html"
    html = base64.b64decode(insights[-1]["payload"]).decode("utf-8")
    assert 'data-chart="space_by_folder"' in html and "<svg" in html and 'data-chart="usage_over_time"' in html


def test_macro_in_a_project_without_the_history_folder_creates_nothing(sim):
    from dataikuapi import DSSClient

    out = Harness(sim).run_macro("capacity-report", {}, project_key="MARKETING_DASH")
    assert out.ok, out.traceback
    assert "the capacity-report step creates the managed folder" in out.result
    assert not [f for f in DSSClient(sim.url, sim.api_key("admin")).get_project("MARKETING_DASH").list_managed_folders()
                if f["name"] == history.FOLDER_NAME]


def test_a_project_folder_whose_name_is_not_utf8_is_kept_in_the_history_escaped(sim, new_instance, tmp_path):
    dip_home, _ = new_instance()
    bad = os.fsencode(str(dip_home / "managed_datasets")) + b"/CAF\xe9"
    os.makedirs(bad)
    with open(bad + b"/part-0.csv", "wb") as f:
        f.write(b"x" * 10000)
    report = cli("--dip-home", str(dip_home), "--history-dir", str(tmp_path / "h"))
    assert "CAF\\\\xe9" in json.dumps(report)  # shown escaped (JSON doubles the backslash)
    text = (tmp_path / "h" / history.file_name(history.month_of(int(time.time() * 1000)))).read_text("utf-8")
    assert "CAF\\xe9" in text
    # and it reads back: a second run has a history of two snapshots naming the same project
    cli("--dip-home", str(dip_home), "--history-dir", str(tmp_path / "h"))
    snaps = history.load(history.LocalStore(tmp_path / "h"), int(time.time() * 1000))
    assert len(snaps) == 2 and "CAF\\xe9 (orphan)" in snaps[-1].projects
