import json
import re

import pytest

from nodeops import render
from nodeops.report import Column, Figure, Finding, Report, Table
from dssbench.dataiku_stub.dataiku.runnables import ResultTable


def sample():
    r = Report("capacity-report", "Capacity <report>", 1764072000000, dry_run=True)
    r.summary.append(Figure("disk", "Disk", 3 * 1024 ** 3, "bytes"))
    r.findings.append(Finding("WARN", "Small disk", evidence="100 GB", recommendation="Grow it", link="https://doc.dataiku.com/x"))
    t = Table("folders", "Folders", [Column("folder", "Folder"), Column("disk_bytes", "On disk", "bytes")])
    t.add(folder="jobs", disk_bytes=1536)
    t.add(folder="<script>", disk_bytes=5)
    r.tables.append(t)
    r.errors.append("1 path could not be read")
    return r


def test_binary_units():
    assert render.format_bytes(0) == "0 B"
    assert render.format_bytes(1536) == "1.5 KiB"
    assert render.format_bytes(3 * 1024 ** 3) == "3.0 GiB"


def test_html_is_escaped_self_contained_and_scoped():
    html = render.to_html(sample())
    assert "&lt;script&gt;" in html and "<script>" not in html
    assert "Capacity &lt;report&gt;" in html
    assert "dry run" in html and "3.0 GiB" in html and 'title="1,536 bytes"' in html
    assert "<link" not in html and "src=" not in html  # nothing loaded from outside
    css = re.search(r"<style>(.*?)</style>", html, re.S).group(1)
    selectors = [s.strip() for block in re.findall(r"([^{}]+)\{", css) for s in block.split(",")]
    assert selectors and all(s.startswith(".nodeops-report") for s in selectors), selectors


def test_result_table_has_exact_bytes():
    rt = render.to_result_table(sample(), ResultTable)
    data = json.loads(rt.to_json())
    assert [c["name"] for c in data["columns"]] == ["folder", "disk_bytes", "disk_bytes_exact"]
    assert data["records"][0] == ["jobs", "1.5 KiB", "1536"]
    assert all(c["type"] == "STRING" for c in data["columns"])


def test_dataframe_and_json_keep_exact_values():
    df = render.to_dataframe(sample())
    assert list(df.columns) == ["folder", "disk_bytes"] and int(df.loc[0, "disk_bytes"]) == 1536
    d = json.loads(render.to_json(sample()))
    assert d["tables"][0]["rows"][0] == {"folder": "jobs", "disk_bytes": 1536}
    assert d["summary"][0]["value"] == 3 * 1024 ** 3 and d["dry_run"] is True


def test_html_carries_the_report_for_the_step_that_handed_over_its_work():
    """The macro's HTML result carries the report (JSON, never executed): the step reads it back whole."""
    from nodeops.report import Chart

    r = sample()
    r.title = "Capacity </script><script>alert(1)</script> & co"
    r.charts.append(Chart("fs", "Filesystem", "timeline", series={"used": [(1, 2.0), (3, 4.0)]}, forecast=[(5, 6.0)]))
    r.fail_on_errors("Capacity report")
    html = render.to_html(r)
    assert html.count("</script>") == 1 and "alert(1)</script>" not in html  # the title cannot close the block
    back = render.report_from_html(html)
    assert back == r.__class__.from_dict(json.loads(json.dumps(r.to_dict())))
    assert back.failure == r.failure and back.failure_from_errors is True
    assert render.to_text(back) == render.to_text(r)
    assert back.tables[0].rows == [{"folder": "jobs", "disk_bytes": 1536}, {"folder": "<script>", "disk_bytes": 5}]
    with pytest.raises(ValueError, match="no node-ops report block"):
        render.report_from_html("<div>an older report</div>")


@pytest.mark.parametrize("payload", [
    '{"operation": "capacity-report"}',  # fields missing
    '[1, 2]',  # not an object
    '{"operation": "x", "title": "t", "generated_at_ms": 1, "summary": [{"key": "k"}]}',  # a figure without label
    '{"operation": "x", "title": "t", "generated_at_ms": 1, "tables": [{"key": "t"}]}',  # a table without columns
    '{"operation": "x", "title": "t", "generated_at_ms": 1, "findings": [{"severity": "BAD", "title": "t"}]}',
    '{"operation": "x", "title": "t", "generated_at_ms": 1, "summary": "abc"}',
    '{"operation": 5, "title": "t", "generated_at_ms": 1}',  # wrong types are not a report either
    '{"operation": "x", "title": "t", "generated_at_ms": 1, "errors": "abc"}',
    '{"operation": "x", "title": "t",',  # cut short (a truncated result)
])
def test_a_block_that_is_not_a_report_is_a_value_error(payload):
    """Whatever the block holds, reading it fails with ValueError (the step's plain "not a node-ops
    report" message), never with a TypeError or KeyError from deep inside."""
    html = '<div></div><script type="application/json" id="node-ops-report">%s</script>' % payload
    with pytest.raises(ValueError):
        render.report_from_html(html)
