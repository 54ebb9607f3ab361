"""The report model every operation returns.

A :class:`Report` holds a title, summary figures, findings, tables and errors,
all with exact values (bytes as integers, times as epoch milliseconds). The
renderers in :mod:`nodeops.render` turn it into HTML, a DSS ResultTable, a pandas
DataFrame or JSON; no operation formats anything itself.
"""

from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional

SEVERITIES = ("PASS", "INFO", "WARN", "FAIL")

# Units a figure or a column may carry; renderers format values by unit.
UNITS = ("", "bytes", "count", "percent", "hours", "days", "epoch_ms", "mb")


@dataclass
class Figure:
    key: str
    label: str
    value: Any
    unit: str = ""

    def __post_init__(self):
        if self.unit not in UNITS:
            raise ValueError("unknown unit %r for figure %s" % (self.unit, self.key))


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

    def __post_init__(self):
        if self.unit not in UNITS:
            raise ValueError("unknown unit %r for column %s" % (self.unit, self.key))


@dataclass
class Table:
    key: str
    title: str
    columns: List[Column]
    rows: List[Dict[str, Any]] = field(default_factory=list)

    def add(self, **row):
        unknown = set(row) - {c.key for c in self.columns}
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
    params: Dict[str, Any] = field(default_factory=dict)
    #: When set, a scenario step running this operation fails with this message.
    failure: Optional[str] = None

    def fail_on_errors(self, what, enabled=True):
        """When ``enabled`` and there are errors, make the step fail, naming the first one."""
        if self.errors and enabled:
            self.failure = "%s: %d error(s); first: %s" % (what, len(self.errors), self.errors[0])

    def table(self, key):
        for t in self.tables:
            if t.key == key:
                return t
        raise KeyError(key)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["params"] = {k: list(v) if isinstance(v, tuple) else v for k, v in self.params.items()}
        return d
