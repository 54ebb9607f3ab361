"""The Grafana dashboards of resource/grafana/: the committed files are what tools/grafana.py
generates, and each is a Grafana 9+ import (schemaVersion, gridPos, a data source asked at import)."""

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_tool():
    spec = importlib.util.spec_from_file_location("grafana_tool", str(ROOT / "tools" / "grafana.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_committed_dashboards_are_the_generated_ones():
    tool = load_tool()
    for name, text in tool.outputs().items():
        committed = (ROOT / "resource" / "grafana" / name).read_text(encoding="utf-8")
        assert committed == text, "%s is stale: run .venv/bin/python tools/grafana.py" % name
    assert tool.main(["--check"]) == 0


@pytest.mark.parametrize("name,flavour", [("node-ops-graphite.json", "graphite"),
                                          ("node-ops-prometheus.json", "prometheus")])
def test_importable_in_grafana_9(name, flavour):
    board = json.loads((ROOT / "resource" / "grafana" / name).read_text(encoding="utf-8"))
    assert board["schemaVersion"] >= 36
    (ds_input,) = board["__inputs"]
    assert ds_input["type"] == "datasource" and ds_input["pluginId"] == flavour
    ref = {"type": flavour, "uid": "${%s}" % ds_input["name"]}
    panels = [p for p in board["panels"] if p["type"] != "row"]
    rows = [p["title"] for p in board["panels"] if p["type"] == "row"]
    assert rows[:4] == ["Host", "Disk per mount", "DSS processes by role", "DSS application"]
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    for p in panels:
        g = p["gridPos"]
        assert g["w"] > 0 and g["h"] > 0 and 0 <= g["x"] and g["x"] + g["w"] <= 24
        assert p["datasource"] == ref and p["targets"] and all(t["datasource"] == ref for t in p["targets"])
    cells = [(p["gridPos"]["x"], p["gridPos"]["y"]) for p in board["panels"]]
    assert len(cells) == len(set(cells)), "two panels at one place"
    variables = {v["name"]: v for v in board["templating"]["list"]}
    node = variables["node" if flavour == "graphite" else "instance"]
    assert node["type"] == "query" and node["datasource"] == ref and node["multi"]


def test_the_plugin_zip_ships_both_dashboards(tmp_path):
    import subprocess
    import sys
    import zipfile

    out = tmp_path / "plugin.zip"
    subprocess.run([sys.executable, str(ROOT / "tools" / "build_plugin.py"), "--out", str(out)], check=True,
                   capture_output=True)
    with zipfile.ZipFile(out) as z:
        for name in ("node-ops-graphite.json", "node-ops-prometheus.json"):
            shipped = z.read("resource/grafana/" + name)
            assert shipped == (ROOT / "resource" / "grafana" / name).read_bytes()
