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

_BINARY_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def format_bytes(n) -> str:
    """Binary units with the unit spelled out: 1536 -> '1.5 KiB'."""
    if n is None:
        return ""
    n = float(n)
    sign = "-" if n < 0 else ""
    n = abs(n)
    i = 0
    while n >= 1024 and i < len(_BINARY_UNITS) - 1:
        n /= 1024.0
        i += 1
    if i == 0:
        return "%s%d B" % (sign, n)
    return "%s%.1f %s" % (sign, n, _BINARY_UNITS[i])


def format_value(value, unit="") -> str:
    if value is None:
        return ""
    if unit == "bytes":
        return format_bytes(value)
    if unit == "mb":
        return "%.0f MiB" % value
    if unit == "percent":
        return "%.1f %%" % value
    if unit == "seconds":
        return "%.1f s" % value
    if unit in ("hours", "days"):
        return "%.1f %s" % (value, "h" if unit == "hours" else "d")
    if unit == "epoch_ms":
        if not value:
            return ""
        return _dt.datetime.fromtimestamp(value / 1000.0).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
    if unit == "count" and isinstance(value, (int, float)):
        return "{:,}".format(value)
    if isinstance(value, float):
        return "%.2f" % value
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


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
    page = env.get_template("report.html").render(report=report, css=css, generated=generated, charts=drawn)
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
    for row in table.rows:
        record = [] if outcome is None else [outcome(report, row)]
        for col in table.columns:
            value = row.get(col.key)
            record.append(format_value(value, col.unit))
            if col.unit == "bytes":
                record.append("" if value is None else str(int(value)))
        rt.add_record(record)
    if outcome is not None:
        where = texts[-1] if texts else width - 1
        for line in report.errors:
            record = ["error"] + [""] * (width - 1)
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
    mode = report.dry_run_label or ("dry run" if report.dry_run else "")
    lines = [report.title + (" (%s)" % mode if mode else "")]
    for f in report.summary:
        lines.append("  %s: %s" % (f.label, format_value(f.value, f.unit)))
    for f in report.findings:
        lines.append("  [%s] %s%s" % (f.severity, f.title, (": " + f.evidence) if f.evidence else ""))
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
