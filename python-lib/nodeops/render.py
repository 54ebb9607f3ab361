"""Renderers: one report model, many faces.

- :func:`to_html`: self-contained HTML (inline, scoped CSS) for a macro result
  or a dashboard tile, from the Jinja2 template in ``resource/templates``. It
  carries the report itself as JSON in a ``<script type="application/json">``
  block (never executed, invisible), which :func:`report_from_html` reads back:
  how a step gets the report of the macro it handed its DIP_HOME work to.
- :func:`to_result_table`: a DSS ``ResultTable`` (the class is passed in, so this
  module does not import ``dataiku``).
- :func:`to_dataframe`: a pandas DataFrame of one table, exact values.
- :func:`to_json` and :func:`to_text`: for the command line and logs.

Every face renders :func:`nodeops.report.printable` of the report: a name that
is not UTF-8 (a byte ``\\xe9`` that ``os.fsdecode`` turned into a surrogate) is
shown escaped (``\\xe9``) and never makes an output fail to encode.
"""

import datetime as _dt
import json
import re
from pathlib import Path

from . import resources
from .report import Report, printable

_BINARY_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
GIB = 1024 ** 3
GB = 1000 ** 3
HOUR_MS = 3600 * 1000
DAY_MS = 24 * HOUR_MS
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def format_bytes(n) -> str:
    """Binary units with the unit spelled out, one decimal: 1536 -> '1.5 KiB', 0 -> '0 B'.

    Never more than four digits before the decimal point (1023.96 KiB is '1.0 MiB'); the exact
    count stays in the JSON, the result table (``*_exact``) and the HTML cell's title."""
    if n is None:
        return ""
    n = float(n)
    sign = "-" if n < 0 else ""
    n = abs(n)
    i = 0
    while i < len(_BINARY_UNITS) - 1 and (n >= 1024 or (i > 0 and round(n, 1) >= 1024)):
        n /= 1024.0
        i += 1
    if i == 0:
        return "%s%d B" % (sign, round(n))
    return "%s%s %s" % (sign, "{:,.1f}".format(n), _BINARY_UNITS[i])


def format_count(n) -> str:
    """Thousands separators: 16356805 -> '16,356,805'; a float that is whole is shown whole."""
    if n is None:
        return ""
    if isinstance(n, bool) or not isinstance(n, (int, float)):
        return str(n)
    if isinstance(n, float) and not n.is_integer():
        return "{:,.1f}".format(n)
    return "{:,}".format(int(n))


def format_hours(h) -> str:
    """A duration given in hours, in the unit its size calls for: '45 min', '5.2 h', '3.5 days'."""
    if h is None:
        return ""
    h = float(h)
    if h < 0:
        return "-" + format_hours(-h)
    if round(h * 60) < 60:
        return "%d min" % round(h * 60)
    if round(h, 1) < 48:
        return "%.1f h" % h
    return _days_text(h / 24.0)


def format_days(d) -> str:
    """A duration given in days: under two days in hours, then '30.4 days', '862 days'."""
    if d is None:
        return ""
    d = float(d)
    if d < 0:
        return "-" + format_days(-d)
    if round(d * 24, 1) < 48:
        return format_hours(d * 24)
    return _days_text(d)


def _days_text(d):
    return "%.1f days" % d if round(d, 1) < 100 else "{:,.0f} days".format(d)


def _local(ms):
    return _dt.datetime.fromtimestamp(ms / 1000.0).astimezone()


def format_forecast(at_ms, now_ms=None) -> str:
    """A date that is an estimate, at the precision it deserves: 'about Tue 8 Dec, in 6 days',
    'about 15 Jan 2027, in 44 days', 'about Jan 2029, in 25 months', 'after 2036, in more than
    10 years'. Without ``now_ms`` only the date part."""
    if at_ms is None:
        return ""
    at = _local(at_ms)
    if now_ms is None:
        return "about %s %d" % (_MONTHS[at.month - 1], at.year)
    days = (at_ms - now_ms) / float(DAY_MS)
    if days <= 0:
        return "now"
    if days < 1:
        return "within a day (in %s)" % format_hours(days * 24)
    if days < 14:
        return "about %s %d %s, in %d day%s" % (at.strftime("%a"), at.day, _MONTHS[at.month - 1], round(days),
                                               "" if round(days) == 1 else "s")
    if days < 91:
        return "about %d %s %d, in %d days" % (at.day, _MONTHS[at.month - 1], at.year, round(days))
    if days < 3653:
        return "about %s %d, in %d months" % (_MONTHS[at.month - 1], at.year, round(days / 30.44))
    return "after %d, in more than 10 years" % (_local(now_ms).year + 10)


def format_gb(gb) -> str:
    """A size stated in decimal gigabytes (as DSS's guidance states it), with its binary value:
    500 -> '500 GB (466 GiB)'."""
    return "%s GB (%s GiB)" % (format_count(gb), "{:,.0f}".format(gb * GB / float(GIB)))


def format_value(value, unit="", now_ms=None) -> str:
    """``value`` for people, by ``unit`` (:data:`nodeops.report.UNITS`); ``now_ms`` (the report's
    time) places a ``forecast_ms``."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if unit == "bytes":
        return format_bytes(value)
    if unit == "mb":
        return format_bytes(value * 1024 ** 2)
    if unit == "percent":
        return "%.1f %%" % value
    if unit == "seconds":
        return "%.1f s" % value
    if unit == "hours":
        return format_hours(value)
    if unit == "days":
        return format_days(value)
    if unit == "forecast_ms":
        return format_forecast(value, now_ms)
    if unit == "epoch_ms":
        if not value:
            return ""
        return _local(value).strftime("%Y-%m-%d %H:%M:%S %Z")
    if unit == "count" and isinstance(value, (int, float)):
        return format_count(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return "%.2f" % value
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


def exact_title(value, unit) -> str:
    """The exact value a formatted cell or figure stands for (its HTML title), or ''."""
    if value is None or isinstance(value, (str, bool)):
        return ""
    if unit in ("bytes", "mb"):
        return "{:,} bytes".format(int(value * (1024 ** 2 if unit == "mb" else 1)))
    if unit == "forecast_ms":
        return _local(value).strftime("%Y-%m-%d")
    return ""


# ---- what a report shows first ------------------------------------------------------------
_ORDER = ("PASS", "INFO", "WARN", "FAIL")
#: How many figures lead when an operation marks none as its headline.
HEADLINE_DEFAULT = 4


def headline_figures(report):
    """(figures shown first, the others): those the operation marked ``headline``, else the
    first :data:`HEADLINE_DEFAULT`."""
    marked = [f for f in report.summary if f.headline]
    if not marked:
        marked = report.summary[:HEADLINE_DEFAULT]
    return marked, [f for f in report.summary if f not in marked]


def figure_severity(figure) -> str:
    """'fail' or 'warn' for a figure counting FAIL/WARN findings that is not zero, else ''."""
    if figure.severity and isinstance(figure.value, (int, float)) and figure.value:
        return figure.severity.lower()
    return ""


def status(report) -> dict:
    """The one-line verdict a report leads with: {"severity", "word", "text"}."""
    counts = {s: sum(1 for f in report.findings if f.severity == s) for s in _ORDER}
    parts = []
    for sev, one, many in (("FAIL", "failed", "failed"), ("WARN", "warning", "warnings"),
                           ("INFO", "for information", "for information"), ("PASS", "passed", "passed")):
        if counts[sev]:
            parts.append("%s %s" % (format_count(counts[sev]), one if counts[sev] == 1 else many))
    if report.errors:
        parts.append("%s error%s (listed below)" % (format_count(len(report.errors)),
                                                     "" if len(report.errors) == 1 else "s"))
    worst = max((f.severity for f in report.findings), key=_ORDER.index, default=None)
    if report.failure:
        sev, word = "FAIL", "FAILED"
    elif report.errors:
        sev, word = ("FAIL" if worst == "FAIL" else "WARN"), "ERRORS"
    elif worst is not None:
        sev, word = worst, worst
    else:
        sev, word = "PASS", "OK"
    if not parts:
        parts.append("completed without errors")
    return {"severity": sev.lower(), "word": word, "text": ", ".join(parts)}


def split_findings(report):
    """(findings to read, PASS findings): the PASS ones collapse into one line."""
    return ([f for f in report.findings if f.severity != "PASS"],
            [f for f in report.findings if f.severity == "PASS"])


def passed_line(passed) -> str:
    return "%s check%s passed" % (format_count(len(passed)), "" if len(passed) == 1 else "s")


def _environment():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(resources.templates_dir())),
        autoescape=jinja2.select_autoescape(["html", "j2"], default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["fmt"] = format_value
    env.filters["exact"] = exact_title
    env.filters["figure_severity"] = figure_severity
    return env


#: The id of the block of :func:`to_html` that carries the report as JSON.
REPORT_JSON_ID = "node-ops-report"
_REPORT_JSON_RE = re.compile(r'<script type="application/json" id="%s">(.*?)</script>' % REPORT_JSON_ID, re.S)


def _json_block(report: Report) -> str:
    """The report as JSON inside a script element that browsers never execute; ``<``, ``>`` and
    ``&`` are escaped (``\u003c``...) so no text of the report can close the element."""
    text = json.dumps(report.to_dict(), separators=(",", ":"), default=str)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return '<script type="application/json" id="%s">%s</script>' % (REPORT_JSON_ID, text)


def to_html(report: Report) -> str:
    report = printable(report)
    env = _environment()
    css = (resources.templates_dir() / "report.css").read_text(encoding="utf-8")
    generated = format_value(report.generated_at_ms, "epoch_ms")
    drawn = []
    if report.charts:
        from . import charts

        drawn = [{"key": c.key, "svg": charts.to_svg(c)} for c in report.charts]
    headline, others = headline_figures(report)
    to_read, passed = split_findings(report)
    page = env.get_template("report.html").render(
        report=report, css=css, generated=generated, charts=drawn, status=status(report), headline=headline,
        others=others, to_read=to_read, passed=passed, passed_line=passed_line(passed))
    return page + _json_block(report)


def report_from_html(html: str) -> Report:
    """The report :func:`to_html` rendered, read back from its JSON block; ValueError when the
    HTML carries none (it was not made by this version of node-ops)."""
    found = _REPORT_JSON_RE.findall(html)
    if len(found) != 1:
        raise ValueError("the HTML carries %s node-ops report block(s) (id %s), not one" % (len(found) or "no",
                                                                                          REPORT_JSON_ID))
    return Report.from_dict(json.loads(found[0]))


def _table_header(report: Report) -> str:
    """One line: the title, what the run did (dry run or not) and its figures."""
    mode = report.dry_run_label or ("dry run: nothing was changed" if report.dry_run else
                                    "applied" if report.dry_run is False else "")
    figures = "; ".join("%s: %s" % (f.label, format_value(f.value, f.unit)) for f in report.summary)
    return " - ".join(part for part in (report.title, mode, figures) if part)


def to_result_table(report: Report, result_table_cls, table_key=None, outcome=None):
    """Fill a DSS ``ResultTable`` with one table of the report.

    Every value is a string (the documented ResultTable column type); a column
    in bytes gets a second column with the exact byte count.

    With ``outcome`` (``outcome(report, row) -> str``), a first column "Outcome" says what
    happened to each row (a dry run's "would delete"), and each of the report's errors
    follows as a row whose outcome is "error", its message in the last text column: DSS's
    result-table view shows neither the header nor the name (KIT ``runnable-result.html``),
    so what must be seen is in the rows. The header carries the title, the dry-run state
    and the figures for who reads the result through the API.
    """
    report = printable(report)
    table = report.table(table_key) if table_key else (report.tables[0] if report.tables else None)
    rt = result_table_cls()
    rt.set_name(report.title)
    rt.set_header(_table_header(report))
    if table is None:
        rt.add_column("message", "Message", "STRING")
        for line in report.errors or ["no rows"]:
            rt.add_record([line])
        return rt
    width, texts = 0, []  # the number of columns; the positions of those of plain text
    if outcome is not None:
        rt.add_column("outcome", "Outcome", "STRING")
        width = 1
    for col in table.columns:
        if not col.unit:
            texts.append(width)
        rt.add_column(col.key, col.label, "STRING")
        width += 1
        if col.unit == "bytes":
            rt.add_column(col.key + "_exact", col.label + " (bytes)", "STRING")
            width += 1
        elif col.unit_from:
            rt.add_column(col.key + "_exact", col.label + " (exact)", "STRING")
            width += 1
    for row in table.rows:
        record = [] if outcome is None else [outcome(report, row)]
        for col in table.columns:
            value = row.get(col.key)
            record.append(format_value(value, col.unit_of(row), report.generated_at_ms))
            if col.unit == "bytes":
                record.append("" if value is None else str(int(value)))
            elif col.unit_from:
                record.append("" if value is None else str(value))
        rt.add_record(record)
    if outcome is not None:
        where = texts[-1] if texts else width - 1
        lines = [("error", line) for line in report.errors]
        if table.unlisted:
            lines.append(("not listed", "%s more not listed here (%s)" % (format_count(table.unlisted), table.title)))
        for what, line in lines:
            record = [what] + [""] * (width - 1)
            record[where] = line
            rt.add_record(record)
    return rt


def to_dataframe(report: Report, table_key=None):
    import pandas as pd

    report = printable(report)
    table = report.table(table_key) if table_key else report.tables[0]
    columns = [c.key for c in table.columns]
    return pd.DataFrame([[row.get(c) for c in columns] for row in table.rows], columns=columns)


def to_json(report: Report) -> str:
    return json.dumps(printable(report).to_dict(), indent=2, default=str)


def to_text(report: Report) -> str:
    """A few lines for a scenario log or a terminal."""
    report = printable(report)
    verdict = status(report)
    mode = report.dry_run_label or ("dry run" if report.dry_run else "")
    lines = [report.title + (" (%s)" % mode if mode else ""),
             "  Status: %s: %s" % (verdict["word"], verdict["text"])]
    headline, others = headline_figures(report)
    for f in headline + others:
        lines.append("  %s: %s" % (f.label, format_value(f.value, f.unit, report.generated_at_ms)))
    to_read, passed = split_findings(report)
    for f in to_read:
        lines.append("  [%s] %s%s" % (f.severity, f.title, (": " + f.evidence) if f.evidence else ""))
    if passed:
        lines.append("  [PASS] %s: %s" % (passed_line(passed), "; ".join(f.title for f in passed)))
    for e in report.errors:
        lines.append("  error: %s" % e)
    for n in report.notes:
        lines.append("  note: %s" % n)
    return "\n".join(lines)


def write_html(report: Report, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    page = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>%s</title></head><body>%s</body></html>\n"
    import html as _html

    path.write_text(page % (_html.escape(printable(report).title), to_html(report)), encoding="utf-8")
    return path
