"""Numbers for people: every unit of the report model formatted by render.py, and the parts of a
report the HTML shows first (status, headline figures, PASS checks collapsed, severity classes)."""

import datetime as _dt
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nodeops import render
from nodeops.report import Column, Figure, Finding, Report, Table

UNIT = {"B": 1, "KiB": 1024, "MiB": 1024 ** 2, "GiB": 1024 ** 3, "TiB": 1024 ** 4, "PiB": 1024 ** 5, "EiB": 1024 ** 6}
SIZE = re.compile(r"^(-?)([0-9,]+(?:\.[0-9])?) (B|KiB|MiB|GiB|TiB|PiB|EiB)$")


@given(st.integers(min_value=-(2 ** 72), max_value=2 ** 72))
def test_any_byte_count_has_a_binary_unit_and_reads_back_within_its_precision(n):
    text = render.format_bytes(n)
    m = SIZE.match(text)
    assert m, text
    sign, number, unit = m.groups()
    value = float(number.replace(",", ""))
    if unit == "B":
        assert "." not in number and value == abs(n)
    else:
        assert 1 <= value, text  # never "0.9 MiB": the smaller unit then
        if unit != "EiB":
            assert value < 1024, text  # never "1024.0 KiB": the larger unit then
        assert abs(value * UNIT[unit] - abs(n)) <= 0.05 * UNIT[unit] + 1, text
    assert (sign == "-") == (n < 0 and text != "0 B")
    assert not re.search(r"\d{5}", text.replace(",", "")) or unit == "EiB"  # no raw 11-digit integers


def test_byte_examples():
    assert render.format_bytes(0) == "0 B"
    assert render.format_bytes(1023) == "1023 B"
    assert render.format_bytes(1536) == "1.5 KiB"
    assert render.format_bytes(1024 ** 2 - 1) == "1.0 MiB"
    assert render.format_bytes(3 * 1024 ** 3) == "3.0 GiB"
    assert render.format_bytes(-5 * 1024 ** 2) == "-5.0 MiB"
    assert render.format_bytes(None) == ""
    assert render.format_value(2048, "mb") == "2.0 GiB"  # one unit family: mb values are MiB


def test_the_guidance_in_decimal_gigabytes_states_its_binary_size():
    assert render.format_gb(500) == "500 GB (466 GiB)"
    assert render.format_gb(1000) == "1,000 GB (931 GiB)"


@given(st.floats(min_value=0, max_value=1e6, allow_nan=False))
def test_durations_grow_from_minutes_to_hours_to_days(hours):
    text = render.format_hours(hours)
    m = re.match(r"^([0-9,]+(?:\.[0-9])?) (min|h|days)$", text)
    assert m, text
    value, unit = float(m.group(1).replace(",", "")), m.group(2)
    factor = {"min": 1 / 60.0, "h": 1.0, "days": 24.0}[unit]
    assert abs(value * factor - hours) <= 0.5 * factor + 1e-9 * hours, text
    assert unit == ("min" if hours * 60 < 59.5 else "h" if hours < 47.95 else "days"), text
    assert render.format_days(hours / 24.0).split(" ")[-1] in ("min", "h", "days")


def test_duration_examples():
    assert render.format_hours(0.75) == "45 min"
    assert render.format_hours(30) == "30.0 h"
    assert render.format_hours(24 * 30.4) == "30.4 days"
    assert render.format_days(0.5) == "12.0 h"
    assert render.format_days(862.2) == "862 days"
    assert render.format_days(1234.4) == "1,234 days"
    assert render.format_value(3.5, "days") == "3.5 days"


def test_counts_have_thousands_separators():
    assert render.format_value(16356805, "count") == "16,356,805"
    assert render.format_value(3.0, "count") == "3"
    assert render.format_count(0) == "0"


def _ms(*args):
    return int(_dt.datetime(*args).astimezone().timestamp() * 1000)


def test_forecasts_at_the_precision_they_deserve():
    now = _ms(2026, 12, 2, 12)
    day = render.DAY_MS
    assert render.format_forecast(_ms(2029, 1, 15, 12), now) == "about Jan 2029, in 25 months"
    assert render.format_forecast(now + 44 * day, now) == "about 15 Jan 2027, in 44 days"
    assert render.format_forecast(now + 6 * day, now) == "about Tue 8 Dec, in 6 days"
    assert render.format_forecast(now + 5 * render.HOUR_MS, now) == "within a day (in 5.0 h)"
    assert render.format_forecast(now + 20 * 366 * day, now) == "after 2036, in more than 10 years"
    assert render.format_forecast(now, now) == "now"
    assert render.format_value(_ms(2029, 1, 15, 12), "forecast_ms", now) == "about Jan 2029, in 25 months"


def _report(findings=(), summary=(), **kw):
    r = Report("config-audit", "Audit", _ms(2026, 12, 2, 12), **kw)
    r.findings += list(findings)
    r.summary += list(summary)
    return r


def test_status_leads_with_the_worst_and_counts_each_severity():
    r = _report([Finding("PASS", "a"), Finding("WARN", "b"), Finding("WARN", "c"), Finding("INFO", "d")])
    assert render.status(r) == {"severity": "warn", "word": "WARN",
                                "text": "2 warnings, 1 for information, 1 passed"}
    r.errors.append("x")
    assert render.status(r)["word"] == "ERRORS" and "1 error (listed below)" in render.status(r)["text"]
    r.failure = "it failed"
    assert render.status(r)["severity"] == "fail" and render.status(r)["word"] == "FAILED"
    assert render.status(_report()) == {"severity": "pass", "word": "OK", "text": "completed without errors"}


def test_html_colours_each_finding_and_collapses_the_passed_ones():
    passed = [Finding("PASS", "check %d" % i) for i in range(14)]
    r = _report([Finding("FAIL", "f"), Finding("WARN", "w"), Finding("INFO", "i")] + passed,
                [Figure("fail", "FAIL", 1, "count", headline=True, severity="FAIL"),
                 Figure("warn", "WARN", 0, "count", headline=True, severity="WARN"),
                 Figure("other", "Other", 5, "count")])
    html = render.to_html(r)
    for sev in ("fail", "warn", "info"):
        assert re.search(r'<li class="nodeops-finding nodeops-sev-%s"[^>]*><span class="nodeops-badge '
                         r'nodeops-badge-%s">%s</span>' % (sev, sev, sev.upper()), html)
    details = re.search(r'<details class="nodeops-passed">\s*<summary>(.*?)</summary>(.*?)</details>', html, re.S)
    assert details and "14 checks passed" in details.group(1)
    assert details.group(2).count('class="nodeops-finding nodeops-sev-pass"') == 14
    assert html.count('nodeops-sev-pass"') == 14  # every PASS in the collapsed list, none outside
    # the non-zero FAIL figure is coloured, the zero WARN one is not; headline before findings, the rest after
    assert '<div class="nodeops-figure nodeops-sev-fail" data-key="fail"' in html
    assert '<div class="nodeops-figure" data-key="warn"' in html
    body = html.split("</style>", 1)[1]
    order = [body.index(s) for s in ('nodeops-headline', 'data-key="fail"', '"nodeops-findings"', 'data-key="other"')]
    assert order == sorted(order)
    assert '<p class="nodeops-status" data-status="FAIL">' in html


def test_css_gives_the_contract_colours_and_outranks_the_plain_finding_rule():
    css = (render.resources.templates_dir() / "report.css").read_text()
    colours = {"fail": "#c62828", "warn": "#e65100", "info": "#1565c0", "pass": "#2e7d32"}
    for sev, colour in colours.items():
        assert (".nodeops-report .nodeops-finding.nodeops-sev-%s { border-left-color: %s; }" % (sev, colour)) in css
        assert (".nodeops-report .nodeops-badge.nodeops-badge-%s { background-color: %s; color: #fff; }"
                % (sev, colour)) in css
    # the plain rule is less specific (two classes) than the severity rules (three)
    assert ".nodeops-report .nodeops-finding { border-left: 4px solid #ccc;" in css
    assert ".nodeops-findings li" not in css


def test_a_column_of_mixed_units_formats_each_row_by_its_own_unit():
    r = _report()
    t = Table("host", "Host", [Column("measure", "Measure"), Column("value", "Value", unit_from="unit")])
    t.add(measure="Memory", value=25 * 1024 ** 3, unit="bytes")
    t.add(measure="CPU", value=12.345, unit="percent")
    r.tables.append(t)
    html = render.to_html(r)
    assert '<td class="nodeops-num" title="26,843,545,600 bytes">25.0 GiB</td>' in html
    assert ">12.3 %</td>" in html
    with pytest.raises(ValueError):
        t.add(measure="x", value=1, unit="bytes", extra=1)


def test_text_leads_with_the_status_and_collapses_the_passed_checks():
    r = _report([Finding("WARN", "w", evidence="e")] + [Finding("PASS", "p%d" % i) for i in range(3)],
                [Figure("a", "A", 10 ** 10, "bytes"), Figure("b", "B", 3, "count", headline=True)])
    lines = render.to_text(r).splitlines()
    assert lines == ["Audit", "  Status: WARN: 1 warning, 3 passed", "  B: 3", "  A: 9.3 GiB", "  [WARN] w: e",
                     "  [PASS] 3 checks passed: p0; p1; p2"]
