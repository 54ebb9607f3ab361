"""The report model every operation returns.

A :class:`Report` holds a title, summary figures, findings, tables and errors,
all with exact values (bytes as integers, times as epoch milliseconds). The
renderers in :mod:`nodeops.render` turn it into HTML, a DSS ResultTable, a pandas
DataFrame or JSON; no operation formats anything itself.
"""

import dataclasses
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional

#: Lone surrogates: what ``os.fsdecode`` makes of the bytes of a name that is not UTF-8.
_SURROGATE = re.compile("[\ud800-\udfff]")


def _escape_surrogate(m):
    code = ord(m.group())
    return "\\x%02x" % (code - 0xDC00) if 0xDC80 <= code <= 0xDCFF else "\\u%04x" % code


def printable_text(text: str) -> str:
    """``text`` that any output can encode: a byte of a file name that is not UTF-8
    (a surrogate escape from ``os.fsdecode``) is shown as ``\\xNN``."""
    return _SURROGATE.sub(_escape_surrogate, text) if _SURROGATE.search(text) else text


def printable(value):
    """A copy of ``value`` (a report, or anything in one) with every string made
    printable (:func:`printable_text`); the renderers use it, so no report crashes
    an output on a name that is not UTF-8."""
    if isinstance(value, str):
        return printable_text(value)
    if isinstance(value, list):
        return [printable(v) for v in value]
    if isinstance(value, tuple):
        items = [printable(v) for v in value]
        return type(value)(*items) if hasattr(value, "_fields") else tuple(items)
    if isinstance(value, dict):
        return {printable(k): printable(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.replace(value, **{f.name: printable(getattr(value, f.name))
                                             for f in dataclasses.fields(value) if f.init})
    return value


SEVERITIES = ("PASS", "INFO", "WARN", "FAIL")

# Units a figure or a column may carry; renderers format values by unit.
#: ``forecast_ms`` is an estimated moment (epoch ms), shown at the precision an estimate deserves.
UNITS = ("", "bytes", "count", "percent", "seconds", "hours", "days", "epoch_ms", "mb", "forecast_ms")


@dataclass
class Figure:
    key: str
    label: str
    value: Any
    unit: str = ""
    #: Shown first, in the headline (what a dashboard tile shows without scrolling).
    headline: bool = False
    #: "FAIL" or "WARN" when the figure counts findings (or breaches) of that severity:
    #: the figure is coloured when it is not zero.
    severity: str = ""

    def __post_init__(self):
        if self.unit not in UNITS:
            raise ValueError("unknown unit %r for figure %s" % (self.unit, self.key))
        if self.severity not in ("", "WARN", "FAIL"):
            raise ValueError("a figure counts WARN or FAIL findings, not %r (%s)" % (self.severity, self.key))


@dataclass
class Finding:
    severity: str
    title: str
    evidence: str = ""
    recommendation: str = ""
    id: str = ""
    link: str = ""

    def __post_init__(self):
        if self.severity not in SEVERITIES:
            raise ValueError("unknown severity %r" % self.severity)


@dataclass
class Column:
    key: str
    label: str
    unit: str = ""
    #: The key of another field of each row naming this cell's unit (a column of mixed units,
    #: such as the value of a metric); it wins over ``unit`` when the row has it.
    unit_from: str = ""

    def __post_init__(self):
        if self.unit not in UNITS:
            raise ValueError("unknown unit %r for column %s" % (self.unit, self.key))

    def unit_of(self, row) -> str:
        """This column's unit in ``row``."""
        if self.unit_from and row.get(self.unit_from) in UNITS:
            return row[self.unit_from]
        return self.unit


@dataclass
class Table:
    key: str
    title: str
    columns: List[Column]
    rows: List[Dict[str, Any]] = field(default_factory=list)
    #: Rows counted but not listed (a listing capped to keep memory flat); a result table says so
    #: in a last row, since DSS's table view shows neither its title nor its header.
    unlisted: int = 0

    def add(self, **row):
        unknown = set(row) - {c.key for c in self.columns} - {c.unit_from for c in self.columns if c.unit_from}
        if unknown:
            raise ValueError("table %s has no column(s) %s" % (self.key, ", ".join(sorted(unknown))))
        self.rows.append(row)


@dataclass
class Chart:
    """A chart, as data; :mod:`nodeops.charts` draws it (SVG) for the HTML face.

    ``bars``: ``labels`` and ``values`` (horizontal bars). ``timeline``:
    ``series`` {name: [(epoch_ms, value)]}, an optional ``forecast`` line
    [(epoch_ms, value)] and ``threshold`` (a horizontal line, with its label).
    """

    key: str
    title: str
    kind: str
    unit: str = "bytes"
    labels: List[str] = field(default_factory=list)
    values: List[float] = field(default_factory=list)
    series: Dict[str, list] = field(default_factory=dict)
    forecast: list = field(default_factory=list)
    threshold: Optional[float] = None
    threshold_label: str = ""

    def __post_init__(self):
        if self.kind not in ("bars", "timeline"):
            raise ValueError("unknown chart kind %r" % self.kind)


@dataclass
class Report:
    operation: str
    title: str
    generated_at_ms: int
    summary: List[Figure] = field(default_factory=list)
    findings: List[Finding] = field(default_factory=list)
    tables: List[Table] = field(default_factory=list)
    charts: List[Chart] = field(default_factory=list)
    errors: List[str] = field(default_factory=list)
    #: Plain facts about how the report was made (e.g. which API answered).
    notes: List[str] = field(default_factory=list)
    dry_run: Optional[bool] = None
    #: What the dry-run / applied badge says when "nothing was changed" / "applied" is not the
    #: whole truth: a backup writes its archive whatever ``dry_run`` says, which only decides
    #: whether old archives are deleted ("archive written; retention: dry run, nothing deleted").
    dry_run_label: Optional[str] = None
    params: Dict[str, Any] = field(default_factory=dict)
    #: When set, a scenario step running this operation fails with this message.
    failure: Optional[str] = None
    #: The failure is the one :meth:`fail_on_errors` set (a step's ``fail_on_error`` decides it).
    failure_from_errors: bool = False

    def fail_on_errors(self, what, enabled=True):
        """When ``enabled`` and there are errors, make the step fail, naming the first one."""
        if self.errors and enabled:
            self.failure = "%s: %d error(s); first: %s" % (what, len(self.errors), self.errors[0])
            self.failure_from_errors = True

    def table(self, key):
        for t in self.tables:
            if t.key == key:
                return t
        raise KeyError(key)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["params"] = {k: list(v) if isinstance(v, tuple) else v for k, v in self.params.items()}
        return d

    @classmethod
    def from_dict(cls, d) -> "Report":
        """The report :meth:`to_dict` gave (after a JSON round trip: tuples come back as lists).

        ValueError for anything else (a field missing, unknown or of the wrong type): a step
        reads its macro's report with this and must not mistake another result for one."""
        if not isinstance(d, dict):
            raise ValueError("not a node-ops report: a JSON %s, not an object" % type(d).__name__)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError("not a node-ops report: unknown field(s) %s" % ", ".join(sorted(unknown)))
        for name, types in _REPORT_FIELD_TYPES.items():
            if name in d and not isinstance(d[name], types):
                raise ValueError("not a node-ops report: field %s is a %s" % (name, type(d[name]).__name__))
        if isinstance(d.get("generated_at_ms"), bool):
            raise ValueError("not a node-ops report: field generated_at_ms is a bool")
        d = dict(d)
        try:
            d["summary"] = [Figure(**f) for f in d.get("summary", [])]
            d["findings"] = [Finding(**f) for f in d.get("findings", [])]
            d["tables"] = [Table(t["key"], t["title"], [Column(**c) for c in t["columns"]], list(t["rows"]), t.get("unlisted", 0))
                           for t in d.get("tables", [])]
            d["charts"] = [Chart(**c) for c in d.get("charts", [])]
            return cls(**d)
        except (TypeError, KeyError) as e:  # a part missing, or not what it should be
            raise ValueError("not a node-ops report: %s" % e) from None


#: What each field of a report is after a JSON round trip (required fields: the first three).
_REPORT_FIELD_TYPES = {
    "operation": str, "title": str, "generated_at_ms": int, "summary": list, "findings": list, "tables": list,
    "charts": list, "errors": list, "notes": list, "dry_run": (bool, type(None)),
    "dry_run_label": (str, type(None)), "params": dict,
    "failure": (str, type(None)), "failure_from_errors": bool,
}
