"""Generate the two Grafana dashboards of resource/grafana/ from one panel list.

    .venv/bin/python tools/grafana.py          # writes resource/grafana/*.json
    .venv/bin/python tools/grafana.py --check  # exit 1 when the committed files differ

Adding a metric to the dashboards is one line in PANELS (or in PENDING_METRICS' panels).
Graphite targets read ``$root.$node.$tail.<name>[.<label values>]`` (the node-ops prefix
convention ``dss.<host>.node-ops`` by default; the README says how to set the three parts for
DSS's own convention); Prometheus targets read ``nodeops_<name with _>{instance=~"$instance"}``
(node_exporter's textfile collector adds the ``instance`` and ``job`` labels of its scrape).
"""

import json
import sys
from collections import namedtuple
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "resource" / "grafana"
GRAPHITE_FILE = "node-ops-graphite.json"
PROMETHEUS_FILE = "node-ops-prometheus.json"

#: row, title, metrics (node-ops names), Grafana unit, labelled (label key or ""), kind:
#: "gauge" (plotted as is) or "counter" (plotted per second).
Panel = namedtuple("Panel", "row title metrics unit label kind")

PANELS = (
    Panel("Host", "CPU busy", ("host.cpu_percent",), "percent", "", "gauge"),
    Panel("Host", "Load average", ("host.load_1m", "host.load_5m", "host.load_15m"), "short", "", "gauge"),
    Panel("Host", "Memory", ("host.memory_total_bytes", "host.memory_available_bytes"), "bytes", "", "gauge"),
    Panel("Host", "Memory available (share)", ("host.memory_available_percent",), "percent", "", "gauge"),
    Panel("Host", "Swap", ("host.swap_total_bytes", "host.swap_used_bytes"), "bytes", "", "gauge"),
    Panel("Host", "Disk I/O", ("host.disk_read_bytes_total", "host.disk_write_bytes_total"), "Bps", "", "counter"),
    Panel("Host", "Network", ("host.net_sent_bytes_total", "host.net_recv_bytes_total"), "Bps", "", "counter"),
    Panel("Disk per mount", "Disk used (share)", ("host.disk_used_percent",), "percent", "mount", "gauge"),
    Panel("Disk per mount", "Disk used", ("host.disk_used_bytes",), "bytes", "mount", "gauge"),
    Panel("Disk per mount", "Disk available", ("host.disk_free_bytes",), "bytes", "mount", "gauge"),
    Panel("Disk per mount", "Inodes used (share)", ("host.inodes_used_percent",), "percent", "mount", "gauge"),
    Panel("DSS processes by role", "Processes", ("dss.processes",), "short", "role", "gauge"),
    Panel("DSS processes by role", "Resident memory", ("dss.processes_rss_bytes",), "bytes", "role", "gauge"),
    Panel("DSS application", "Projects", ("dss.projects",), "short", "", "gauge"),
    Panel("DSS application", "Users active (last 15 min)", ("dss.users_active_15m",), "short", "", "gauge"),
    Panel("DSS application", "Jobs running", ("dss.jobs_running",), "short", "", "gauge"),
    Panel("DSS application", "Scenarios running", ("dss.scenarios_running",), "short", "", "gauge"),
    Panel("DSS application", "Notebook sessions", ("dss.notebook_sessions",), "short", "", "gauge"),
    Panel("DSS application", "Licence: days left", ("dss.license_days_left",), "d", "", "gauge"),
    Panel("DSS backend", "Backend restarts (24 h)", ("dss.backend_restarts",), "short", "", "gauge"),
    Panel("DSS backend", "Backend out of memory (24 h)", ("dss.backend_oom",), "short", "", "gauge"),
    Panel("DSS backend", "Backend answer time", ("dss.api_latency_ms",), "ms", "", "gauge"),
)

#: Metrics another change of issue 17 adds to collect-metrics (backend log and liveness probe).
#: Their panels are in PANELS already; the dashboard test lets them refer to no emitted metric
#: only while collect-metrics does not emit them yet (remove this exclusion once it does).
PENDING_METRICS = ("dss.backend_restarts", "dss.backend_oom", "dss.api_latency_ms")

WIDTH, HEIGHT, PER_ROW = 24, 8, 3


def graphite_target(metric, label, kind):
    path = "$root.$node.$tail.%s%s" % (metric, ".*" if label else "")
    if kind == "counter":
        path = "perSecond(%s)" % path
    # legend: "<node> <metric>[.<label value>]", whatever the depth of $root
    return r"aliasSub(%s, '^(?:\w+\()?$root\.([^.]+)\.$tail\.([^)]+)\)?$', '\1 \2')" % path


def prometheus_target(metric, label, kind):
    expr = 'nodeops_%s{instance=~"$instance"}' % metric.replace(".", "_")
    if kind == "counter":
        expr = "rate(%s[5m])" % expr
    legend = "{{instance}} %s" % ("{{%s}}" % label if label else metric.split(".")[-1])
    return expr, legend


def _layout(flavour):
    panels, y, pid, row = [], 0, 1, None
    col = 0
    for p in PANELS:
        if p.row != row:
            if col:
                y += HEIGHT
            row, col = p.row, 0
            panels.append({"type": "row", "id": pid, "title": row, "collapsed": False, "panels": [],
                           "gridPos": {"h": 1, "w": WIDTH, "x": 0, "y": y}})
            pid += 1
            y += 1
        targets = []
        for i, metric in enumerate(p.metrics):
            ref = chr(ord("A") + i)
            if flavour == "graphite":
                targets.append({"refId": ref, "datasource": _ds(flavour),
                                "target": graphite_target(metric, p.label, p.kind)})
            else:
                expr, legend = prometheus_target(metric, p.label, p.kind)
                targets.append({"refId": ref, "datasource": _ds(flavour), "expr": expr, "legendFormat": legend})
        w = WIDTH // PER_ROW
        panels.append({
            "type": "timeseries", "id": pid, "title": p.title, "datasource": _ds(flavour),
            "gridPos": {"h": HEIGHT, "w": w, "x": col * w, "y": y},
            "fieldConfig": {"defaults": {"unit": p.unit, "min": 0}, "overrides": []},
            "options": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                        "tooltip": {"mode": "multi", "sort": "none"}},
            "targets": targets,
        })
        pid += 1
        col += 1
        if col == PER_ROW:
            col, y = 0, y + HEIGHT
    return panels


def _ds(flavour):
    return {"type": flavour, "uid": "${DS_%s}" % flavour.upper()}


def _templating(flavour):
    if flavour == "graphite":
        return [
            {"type": "textbox", "name": "root", "label": "Prefix before the node", "query": "dss",
             "current": {"text": "dss", "value": "dss"}, "hide": 0},
            {"type": "query", "name": "node", "label": "Node", "datasource": _ds(flavour),
             "query": "$root.*", "definition": "$root.*", "refresh": 1, "multi": True, "includeAll": True,
             "current": {}, "options": [], "regex": "", "sort": 1, "hide": 0},
            {"type": "textbox", "name": "tail", "label": "Prefix after the node", "query": "node-ops",
             "current": {"text": "node-ops", "value": "node-ops"}, "hide": 0},
        ]
    query = "label_values(nodeops_host_cpu_percent, instance)"
    return [{"type": "query", "name": "instance", "label": "Node", "datasource": _ds(flavour),
             "query": {"query": query, "refId": "instance"}, "definition": query, "refresh": 1,
             "multi": True, "includeAll": True, "allValue": ".*", "current": {}, "options": [], "regex": "",
             "sort": 1, "hide": 0}]


def dashboard(flavour):
    name = {"graphite": "Graphite", "prometheus": "Prometheus"}[flavour]
    return {
        "__inputs": [{"name": "DS_%s" % flavour.upper(), "label": name, "description": "",
                      "type": "datasource", "pluginId": flavour, "pluginName": name}],
        "__requires": [{"type": "grafana", "id": "grafana", "name": "Grafana", "version": "9.0.0"},
                       {"type": "datasource", "id": flavour, "name": name, "version": "1.0.0"},
                       {"type": "panel", "id": "timeseries", "name": "Time series", "version": ""}],
        "title": "node-ops: DSS node (%s)" % name,
        "uid": "node-ops-%s" % flavour,
        "description": "Metrics of the node-ops collect-metrics step (generated by tools/grafana.py).",
        "tags": ["dataiku", "dss", "node-ops"],
        "editable": True, "graphTooltip": 1, "timezone": "", "refresh": "5m",
        "schemaVersion": 36, "version": 1, "links": [],
        "time": {"from": "now-24h", "to": "now"},
        "annotations": {"list": []},
        "templating": {"list": _templating(flavour)},
        "panels": _layout(flavour),
    }


def render(flavour):
    return json.dumps(dashboard(flavour), indent=2, sort_keys=True) + "\n"


def outputs():
    return {GRAPHITE_FILE: render("graphite"), PROMETHEUS_FILE: render("prometheus")}


def main(argv):
    check = "--check" in argv
    stale = []
    for name, text in outputs().items():
        path = OUT / name
        if check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            OUT.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print("wrote %s" % path.relative_to(ROOT))
    if stale:
        print("out of date (run tools/grafana.py): %s" % ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
