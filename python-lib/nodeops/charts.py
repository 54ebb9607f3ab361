"""Charts of a report, drawn with matplotlib as inline SVG.

SVG keeps a report one self-contained HTML fragment (macro result, static
insight on a dashboard, a file on disk) with text that stays text. Only the
HTML face draws charts; JSON and tables carry their data.
"""

import datetime as _dt
import io

from .report import Chart

_BINARY = (("TiB", 1024 ** 4), ("GiB", 1024 ** 3), ("MiB", 1024 ** 2), ("KiB", 1024), ("B", 1))
_COLOR, _FORECAST, _LIMIT = "#2f6f9f", "#d9822b", "#c23030"


def _scale(max_value):
    for name, factor in _BINARY:
        if max_value >= factor:
            return name, factor
    return "B", 1


def literal(text) -> str:
    """``text`` as matplotlib must draw it: every ``$`` escaped, so that no label (a folder
    or project name) is ever read as mathtext (``$...$``). A text without unescaped
    ``$`` is not math, and matplotlib turns each ``\\$`` back into ``$`` (all versions)."""
    return str(text).replace("$", r"\$")


def to_svg(chart: Chart) -> str:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    rc = {"svg.fonttype": "none",  # text stays text: smaller, searchable
          "text.usetex": False}
    if "text.parse_math" in matplotlib.rcParams:  # matplotlib 3.5+: \$ is unescaped only when math is parsed
        rc["text.parse_math"] = True
    with matplotlib.rc_context(rc):  # never the global settings of the process
        if chart.kind == "bars":
            fig = _bars(Figure, chart)
        else:
            fig = _timeline(Figure, chart)
        buf = io.StringIO()
        fig.savefig(buf, format="svg", bbox_inches="tight")
    svg = buf.getvalue()
    return svg[svg.index("<svg"):]  # drop the XML prolog and doctype: it is inlined in HTML


def _bars(Figure, chart):
    labels, values = list(chart.labels), list(chart.values)
    unit, factor = _scale(max(values) if values else 0)
    fig = Figure(figsize=(5.0, 0.25 * max(3, len(labels)) + 0.9))
    ax = fig.add_subplot()
    ax.barh(range(len(labels)), [v / factor for v in values], color=_COLOR)
    ax.set_yticks(range(len(labels)))
    ax.set_yticklabels([literal(t) for t in labels], fontsize=8)
    ax.invert_yaxis()  # largest first, at the top
    ax.set_xlabel(unit, fontsize=8)
    ax.set_title(literal(chart.title), fontsize=10, loc="left")
    ax.tick_params(axis="x", labelsize=8)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig


def _timeline(Figure, chart):
    points = [v for s in chart.series.values() for _, v in s] + [v for _, v in chart.forecast]
    if chart.threshold is not None:
        points.append(chart.threshold)
    unit, factor = _scale(max(points) if points else 0)
    fig = Figure(figsize=(5.6, 3.0))
    ax = fig.add_subplot()

    def when(ms):
        return _dt.datetime.fromtimestamp(ms / 1000.0)

    for name, series in chart.series.items():
        ax.plot([when(t) for t, _ in series], [v / factor for _, v in series], marker="o", markersize=3,
                color=_COLOR, label=literal(name))
    if chart.forecast:
        ax.plot([when(t) for t, _ in chart.forecast], [v / factor for _, v in chart.forecast], linestyle="--",
                color=_FORECAST, label="trend")
    if chart.threshold is not None:
        ax.axhline(chart.threshold / factor, color=_LIMIT, linewidth=1, linestyle=":",
                   label=literal(chart.threshold_label))
    ax.set_ylabel(unit, fontsize=8)
    ax.set_title(literal(chart.title), fontsize=10, loc="left")
    ax.tick_params(labelsize=8)
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    fig.autofmt_xdate()
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig
