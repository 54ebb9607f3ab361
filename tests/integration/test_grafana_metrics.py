"""The Grafana dashboards against what collect-metrics really emits: collect runs with a real
Graphite listener and a real Prometheus textfile (simulator over HTTP, real DIP_HOME); every
panel query of the parsed dashboard JSON refers to an emitted metric and every emitted metric
has a panel. Also the two Graphite prefix conventions, end to end."""

import fnmatch
import importlib.util
import json
import re
import socketserver
import threading
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from nodeops import monitoring, runner
from nodeops.context import Context
from test_monitoring import _Collect

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "dss.gtest.node-ops"


def pending_metrics():
    spec = importlib.util.spec_from_file_location("grafana_tool", str(ROOT / "tools" / "grafana.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return set(mod.PENDING_METRICS)


def listen():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Collect)
    server.received = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def graphite():
    server = listen()
    yield server
    server.shutdown()
    server.server_close()


def lines_of(server):
    deadline = time.time() + 5
    while not server.received and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.1)
    return "".join(server.received).splitlines()


def collect(sim, admin_client, config):
    ctx = Context(dip_home=sim.state.dip_home, client=admin_client, user="admin", is_admin=True)
    return runner.run_operation("collect-metrics", ctx, dict(config, history=False))


@pytest.fixture(scope="module")
def emitted(sim, tmp_path_factory):
    """(Graphite paths after the prefix, Prometheus family names) of one real collection."""
    from dataikuapi import DSSClient

    server = listen()
    prom = tmp_path_factory.mktemp("prom") / "node.prom"
    try:
        report = collect(sim, DSSClient(sim.url, sim.api_key("admin")),
                         {"graphite_host": "127.0.0.1", "graphite_port": server.server_address[1],
                          "prefix": PREFIX, "prometheus_file": str(prom)})
        assert not report.errors, report.errors
        lines = lines_of(server)
    finally:
        server.shutdown()
        server.server_close()
    paths = {line.split(" ")[0][len(PREFIX) + 1:] for line in lines}
    families = {f.name for f in text_string_to_metric_families(prom.read_text())}
    assert paths and families
    return paths, families


def board(name):
    return json.loads((ROOT / "resource" / "grafana" / name).read_text(encoding="utf-8"))


def targets(b, key):
    return [t[key] for p in b["panels"] if p["type"] != "row" for t in p["targets"]]


def graphite_patterns():
    """The metric path pattern of each Graphite target ($root.$node.$tail.<pattern>)."""
    out = []
    for target in targets(board("node-ops-graphite.json"), "target"):
        m = re.search(r"\$root\.\$node\.\$tail\.([A-Za-z0-9_.*-]+)", target)
        assert m, target
        out.append(m.group(1))
    return out


def prometheus_names():
    out = []
    for expr in targets(board("node-ops-prometheus.json"), "expr"):
        names = re.findall(r"\b(nodeops_[a-z0-9_]+)\{", expr)
        assert names, expr
        out += names
    return out


def metric_of_pattern(pattern):
    return pattern[:-2] if pattern.endswith(".*") else pattern


def test_every_graphite_query_matches_an_emitted_path_and_every_path_has_a_panel(emitted):
    paths, _ = emitted
    pending = pending_metrics()
    patterns = graphite_patterns()
    for pattern in patterns:
        if metric_of_pattern(pattern) in pending and not any(p.startswith(metric_of_pattern(pattern)) for p in paths):
            continue  # PENDING_METRICS: added by another change of issue 17, not emitted yet
        assert fnmatch.filter(paths, pattern), "panel query %r matches no emitted path" % pattern
    orphans = [p for p in paths if not any(fnmatch.fnmatchcase(p, pat) for pat in patterns)]
    assert not orphans, "emitted without a panel: %s" % orphans
    # the labelled metrics do carry their label values (a mount, a role) under the panel's pattern
    assert "host.disk_used_percent.dip_home" in paths and "dss.processes.backend" in paths


def test_every_prometheus_query_names_an_emitted_metric_and_every_metric_has_a_panel(emitted):
    _, families = emitted
    pending = {"nodeops_" + m.replace(".", "_") for m in pending_metrics()}
    names = set(prometheus_names())
    missing = sorted(n for n in names - families if not (n in pending and n not in families))
    assert not missing, "panel queries naming no emitted metric: %s" % missing
    assert not sorted(families - names), "emitted without a panel: %s" % sorted(families - names)


def test_the_two_dashboards_show_the_same_metrics():
    graphite = {metric_of_pattern(p) for p in graphite_patterns()}
    prometheus = set(prometheus_names())
    assert {"nodeops_" + m.replace(".", "_") for m in graphite} == prometheus


# ---- prefix conventions ---------------------------------------------------------------------
def sent_prefixes(lines):
    return {line.split(" ")[0].rsplit(".node-ops.", 1)[0] + ".node-ops" for line in lines}


def test_prefix_convention_node_ops_is_the_default(sim, admin_client, graphite):
    report = collect(sim, admin_client, {"graphite_host": "127.0.0.1", "graphite_port": graphite.server_address[1]})
    assert not report.errors, report.errors
    assert sent_prefixes(lines_of(graphite)) == {monitoring.default_prefix()}


def test_prefix_convention_dss_follows_install_ini(sim, admin_client, graphite, monkeypatch):
    ini = Path(sim.state.dip_home) / "install.ini"
    original = ini.read_text()
    monkeypatch.setattr("socket.getfqdn", lambda: "dss-01.example.com")
    monkeypatch.delenv("DKU_BASE_PORT", raising=False)
    port = graphite.server_address[1]
    try:
        assert "port = 11200" in original
        ini.write_text(original.replace("port = 11200", "port = 11300"))
        report = collect(sim, admin_client, {"graphite_host": "127.0.0.1", "graphite_port": port,
                                             "prefix_convention": "dss"})
        assert not report.errors, report.errors
        assert sent_prefixes(lines_of(graphite)) == {"dss.com.example.dss-01.11300.node-ops"}
        graphite.received.clear()
        ini.write_text(original + "\n[collectd]\nenabled = true\nprefix = dss.custom.node1\n")
        collect(sim, admin_client, {"graphite_host": "127.0.0.1", "graphite_port": port, "prefix_convention": "dss"})
        assert sent_prefixes(lines_of(graphite)) == {"dss.custom.node1.node-ops"}
        graphite.received.clear()
        collect(sim, admin_client, {"graphite_host": "127.0.0.1", "graphite_port": port, "prefix_convention": "dss",
                                    "prefix": "explicit.wins"})
        assert {line.split(".")[0] + "." + line.split(".")[1] for line in lines_of(graphite)} == {"explicit.wins"}
    finally:
        ini.write_text(original)


def test_dss_prefix_port_from_the_environment_when_install_ini_has_none(tmp_path):
    (tmp_path / "install.ini").write_text("[general]\nnodeid = n1\n")
    assert monitoring.dss_prefix(tmp_path, {"DKU_BASE_PORT": "12000"}, "a.b.c") == "dss.c.b.a.12000"
    # no install.ini readable (a step that may not read DIP_HOME): the environment, else the guess
    assert monitoring.dss_prefix(tmp_path / "missing", {}, "host") == \
        "dss.host.%d" % monitoring.GUESS_DSS_DEFAULT_PORT
    (tmp_path / "install.ini").write_text("[collectd]\nprefix = \n[server]\nport = 11500\n")
    assert monitoring.dss_prefix(tmp_path, {"DKU_BASE_PORT": "12000"}, "x.y") == "dss.y.x.11500"
