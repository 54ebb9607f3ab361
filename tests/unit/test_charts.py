"""Chart labels are drawn as they are: never mathtext, never TeX, whatever the process's
matplotlib settings, in both kinds of chart."""

import html
import re

import matplotlib
import pytest

from nodeops import charts
from nodeops.report import Chart

NAMES = (r"$\undefinedmacro$", "$x^2$ and $y$", "cost $5", r"back\slash \$", "50% $")


def texts(svg):
    return [html.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg, re.S)]


@pytest.mark.parametrize("rc", [{}, {"text.parse_math": False}, {"text.usetex": True}],
                         ids=["defaults", "parse_math off", "usetex on"])
def test_labels_are_drawn_literally(rc):
    rc = {k: v for k, v in rc.items() if k in matplotlib.rcParams}
    with matplotlib.rc_context(rc):  # settings a DSS code env or a matplotlibrc may have
        bars = charts.to_svg(Chart("b", "$title$", "bars", labels=list(NAMES), values=[1, 2, 3, 4, 5]))
        line = charts.to_svg(Chart("t", "$title$", "timeline", series={name: [(0, 1), (86400000, 2)]
                                                                       for name in NAMES[:2]},
                                   threshold=3, threshold_label=NAMES[2]))
    for name in NAMES:
        assert name in texts(bars), name
    for name in NAMES[:3]:
        assert name in texts(line), name
    assert "$title$" in texts(bars) and "$title$" in texts(line)
