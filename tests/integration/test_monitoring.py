"""collect-metrics and health-check end to end: Graphite lines received on a real TCP
listener, the Prometheus file parsed back with prometheus_client's own parser, each
health threshold breached and not, sink failures."""

import datetime as dt
import os
import socketserver
import threading
import time

import psutil
import pytest
from prometheus_client.parser import text_string_to_metric_families

from dssbench.datadir import small_spec
from dssbench.harness import DSSRefused, Harness


class _Collect(socketserver.StreamRequestHandler):
    def handle(self):
        self.server.received.append(self.rfile.read().decode("ascii"))


@pytest.fixture
def graphite():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Collect)
    server.received = []
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def live(new_instance, start_sim):
    dip_home, model = new_instance(small_spec())
    sim = start_sim(dip_home, model, dss_processes=True)
    return sim, model, Harness(sim)


def running_jobs(model):
    return [j for jobs in model["jobs"].values() for j in jobs if not j["stableState"]]


def failed_runs_24h(model):
    since = (time.time() - 24 * 3600) * 1000
    out = 0
    for key, per in model["scenario_runs"].items():
        for sid, runs in per.items():
            active = next(s for s in model["scenarios"][key] if s["id"] == sid).get("active", True)
            out += sum(1 for r in runs if active and r.get("result", {}).get("outcome") == "FAILED" and r["start"] >= since)
    return out


def test_graphite_and_prometheus_receive_every_metric(live, graphite, tmp_path):
    sim, model, h = live
    prom = tmp_path / "node.prom"
    before = time.time()
    step = h.run_step("collect-metrics", {"graphite_host": "127.0.0.1", "graphite_port": graphite.server_address[1],
                                          "prefix": "dss.test.node-ops", "prometheus_file": str(prom)},
                      project_key="ADMINPROJECT")
    assert step.ok, step.stdout + step.stderr
    deadline = time.time() + 5
    while not graphite.received and time.time() < deadline:
        time.sleep(0.05)
    lines = "".join(graphite.received).splitlines()
    values = {}
    for line in lines:
        path, value, ts = line.split(" ")
        assert path.startswith("dss.test.node-ops.") and before - 5 <= int(ts) <= time.time() + 5
        values[path[len("dss.test.node-ops."):]] = float(value)
    assert values["dss.processes.jek"] == 2 and values["dss.processes.backend"] == 1
    assert values["dss.projects"] == len(model["projects"])
    assert values["dss.jobs_running"] == len(running_jobs(model))
    assert values["dss.notebook_sessions"] == len(sim.state.kernels)
    assert values["host.memory_total_bytes"] == psutil.virtual_memory().total
    assert 0 <= values["host.disk_used_percent.dip_home"] <= 100
    families = {f.name: f for f in text_string_to_metric_families(prom.read_text())}
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families.values() for s in f.samples}
    assert samples[("nodeops_dss_processes", (("role", "jek"),))] == 2
    assert samples[("nodeops_dss_projects", ())] == len(model["projects"])
    assert len(samples) == len(lines)  # the same metrics in both sinks


def test_a_failing_sink_does_not_stop_the_others(live, tmp_path, graphite):
    sim, model, h = live
    closed = graphite.server_address[1]
    graphite.shutdown()
    graphite.server_close()  # nothing listens there any more
    prom = tmp_path / "node.prom"
    step = h.run_step("collect-metrics", {"graphite_host": "127.0.0.1", "graphite_port": closed,
                                          "prometheus_file": str(prom)}, project_key="ADMINPROJECT")
    assert not step.ok and "Graphite 127.0.0.1:%d" % closed in step.stdout
    assert prom.is_file() and "nodeops_dss_projects" in prom.read_text()
    bad_dir = h.run_step("collect-metrics", {"prometheus_file": str(tmp_path / "missing" / "node.prom"),
                                             "fail_on_error": False}, project_key="ADMINPROJECT")
    assert bad_dir.ok and "Prometheus file" in bad_dir.stdout and "could not be written" in bad_dir.stdout


def test_history_in_the_admin_project(live):
    sim, model, h = live
    from dataikuapi import DSSClient

    for _ in range(2):
        assert h.run_step("collect-metrics", {}, project_key="ADMINPROJECT").ok
    client = DSSClient(sim.url, sim.api_key("admin"))
    (folder,) = [f for f in client.get_project("ADMINPROJECT").list_managed_folders()
                 if f["name"] == "node_ops_metrics_history"]
    handle = client.get_project("ADMINPROJECT").get_managed_folder(folder["id"])
    day = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d")
    text = handle.get_file("/metrics-%s.csv" % day).content.decode()
    assert text.startswith("timestamp,epoch_ms,metric,labels,value")
    assert len({line.split(",")[1] for line in text.splitlines()[1:]}) == 2  # two collections


def _health(h, **config):
    return h.run_step("health-check", config, project_key="ADMINPROJECT")


def test_each_threshold_breached_and_not(live):
    sim, model, h = live
    st = os.statvfs(str(sim.state.dip_home))
    disk = 100.0 * (st.f_blocks - st.f_bfree) / (st.f_blocks - st.f_bfree + st.f_bavail)
    inodes = 100.0 * (st.f_files - st.f_ffree) / st.f_files
    kernels = len(sim.state.kernels)
    oldest_job_h = max((time.time() * 1000 - j["startTime"]) / 3600000.0 for j in running_jobs(model))
    failed = failed_runs_24h(model)
    calm = dict(max_disk_used_percent=100, max_inodes_used_percent=100, min_memory_available_percent=0,
                max_alive_kernels=kernels, max_job_hours=oldest_job_h + 1, max_failed_scenarios=failed)
    ok = _health(h, **calm)
    assert ok.ok, ok.stdout + ok.stderr
    assert ok.variables["nodeops_health_check_breaches"] == 0
    breach = {"max_disk_used_percent": int(disk) - 1 if disk >= 2 else None,
              "max_inodes_used_percent": int(inodes) - 1 if inodes >= 2 else None,
              "min_memory_available_percent": 100, "max_alive_kernels": kernels - 1,
              "max_job_hours": max(0.001, oldest_job_h - 0.5)}
    if failed:
        breach["max_failed_scenarios"] = failed - 1
    names = {"max_disk_used_percent": "disk used", "max_inodes_used_percent": "inodes used",
             "min_memory_available_percent": "memory available", "max_alive_kernels": "notebook kernels alive",
             "max_job_hours": "jobs running >", "max_failed_scenarios": "scenario runs failed"}
    for param, value in breach.items():
        if value is None:
            continue
        one = _health(h, **dict(calm, **{param: value}))
        assert not one.ok and names[param] in one.error_message and "1 breach(es)" in one.error_message, param
    everything = _health(h, **dict(calm, **{k: v for k, v in breach.items() if v is not None}))
    assert not everything.ok
    for param, value in breach.items():  # one message listing every breach
        if value is not None:
            assert names[param] in everything.error_message


def test_backend_api_unreachable_is_a_breach(live):
    sim, model, h = live
    calm = dict(max_disk_used_percent=100, max_inodes_used_percent=100, min_memory_available_percent=0,
                max_alive_kernels=1000, max_job_hours=0, max_failed_scenarios=1000)
    assert _health(h, **calm).ok
    sim.inject(r"/projects/$", status=500, method="GET")
    down = _health(h, **calm)
    assert not down.ok and "backend API reachable: no" in down.error_message
    off = _health(h, **dict(calm, check_api=False))  # without the check: no API breach
    assert "backend API reachable" not in (off.error_message or "")


def test_a_stuck_backend_is_a_breach_not_a_hang(live):
    sim, model, h = live
    from nodeops import monitoring

    sim.inject(r"/projects/$", status=None, delay=monitoring.API_TIMEOUT_S + 5, method="GET", times=1)
    started = time.time()
    stuck = _health(h, max_disk_used_percent=100, max_inodes_used_percent=100, min_memory_available_percent=0,
                    max_alive_kernels=1000, max_job_hours=0, max_failed_scenarios=1000)
    assert not stuck.ok and "backend API reachable: no" in stuck.error_message
    assert time.time() - started < monitoring.API_TIMEOUT_S + 4


def test_refusals_and_bad_parameters(live):
    sim, model, h = live
    with pytest.raises(DSSRefused):
        h.run_macro("collect-metrics", {}, user="alice")
    out = h.run_macro("collect-metrics", {}, user="alice", enforce_dss_permissions=False)
    assert not out.ok and "permission denied" in out.error
    for config, message in (({"prometheus_file": "node.prom"}, "'prometheus_file' must be an absolute path"),
                            ({"prefix": "dss host"}, "'prefix' may hold letters"),
                            ({"graphite_port": 70000}, "'graphite_port' must be an integer from 1 to 65535")):
        bad = h.run_macro("collect-metrics", config)
        assert not bad.ok and message in bad.error, bad.error


def _cells(html, key):
    """[[cell text]] of the table ``key`` of a report's HTML."""
    import html as _html
    import re

    table = html.split('data-table="%s"' % key, 1)[1].split("</table>", 1)[0]
    return [[_html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", table.split("<tbody>", 1)[1], re.S)]


def test_the_metrics_report_is_one_table_per_group_with_values_for_people(live, tmp_path):
    """Host, disk per filesystem (DIP_HOME's filesystem once, whatever else mounts it), DSS processes
    by role, DSS application: formatted values (binary sizes, shares, counts), never a raw byte
    count; no sink configured is said in words, and a sink written is listed instead."""
    import re

    from nodeops import render

    sim, model, h = live
    out = h.run_macro("collect-metrics", {"history": False})
    assert out.ok, out.traceback
    html = out.result
    report = render.report_from_html(html)
    assert [t.key for t in report.tables] == ["host", "disks", "processes", "application"]
    host = {r[0]: r[1] for r in _cells(html, "host")}
    assert host["Memory"] == render.format_bytes(psutil.virtual_memory().total)
    assert re.match(r"^\d+\.\d %$", host["CPU busy"])
    disks = _cells(html, "disks")
    devices = [os.stat(r["mount"].split(", ")[0][len("DIP_HOME ("):-1] if r["mount"].startswith("DIP_HOME")
                       else r["mount"].split(", ")[0]).st_dev for r in report.table("disks").rows]
    assert len(devices) == len(set(devices)), "a filesystem listed twice"
    assert disks[0][0].startswith("DIP_HOME (%s)" % sim.state.dip_home)
    assert all(re.search(r" (B|KiB|MiB|GiB|TiB)$", r[1]) and r[3].endswith(" %") for r in disks)
    roles = {r[0]: r[1] for r in _cells(html, "processes")}
    assert roles["Job execution kernels (JEK)"] == "2" and roles["Backend"] == "1"
    app = {r[0]: r[1] for r in _cells(html, "application")}
    assert app["Projects"] == str(len(model["projects"]))
    body = html.split("</style>", 1)[1].split('<script type="application/json"', 1)[0]
    assert not re.search(r">\s*-?\d{6,}(\.\d+)?\s*<", body), "a raw number in the report"
    (none,) = [f for f in report.findings if f.id == "metrics.sinks"]
    assert none.severity == "INFO" and none.title.startswith("No sink configured")
    assert 'data-table="sinks"' not in html
    prom = tmp_path / "node.prom"
    written = h.run_macro("collect-metrics", {"history": False, "prometheus_file": str(prom)})
    report = render.report_from_html(written.result)
    assert "metrics.sinks" not in {f.id for f in report.findings}
    assert report.table("sinks").rows[0]["status"] == "ok"
    assert {f.key: f.value for f in report.summary}["sinks"] == 1
