"""Every report of `make demo`, opened in a real browser (headless Chromium, tests/dssbench/browser.py)
at the size of a DSS dashboard tile (560x420) and as a full page:

- the severity colours are the ones computed by the browser, not the classes in the HTML: each
  finding's left border and each severity badge in the contract's colour (FAIL red, WARN orange,
  INFO blue, PASS green; badge text white and spelling the severity, for the colour-blind);
  the config audit shows at least two severities;
- nothing is wider than the tile: the page does not scroll sideways at 560 px and no element of
  the report sticks out of the viewport (a wide table may scroll inside its own box that fits);
- no console error and no uncaught page error;
- the headline (the title and the first block of figures) is on the tile without scrolling.

Screenshots of each page (tile and full) go to $NODEOPS_SCREENSHOTS (default: this test's temporary
folder); `make screenshots` writes the README's into docs/screenshots/.

Without Chromium the test is skipped, except in CI or with NODEOPS_REQUIRE_BROWSER set, where it fails
(.ci/run installs Chromium and sets it). The demo (about 15 s) and one browser serve every page,
in one test, so that pytest-xdist cannot split the work over two processes and do it twice.
"""

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from dssbench import browser as chromium

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.browser

#: The colour contract (README: shared contracts), as the browser computes it.
SEVERITY_RGB = {"fail": "rgb(198, 40, 40)", "warn": "rgb(230, 81, 0)", "info": "rgb(21, 101, 192)",
                "pass": "rgb(46, 125, 50)"}
WHITE = "rgb(255, 255, 255)"

#: Reports whose tile view the README shows.
README_TILES = ("capacity-report", "config-audit", "purge-job-logs")

# What the browser measures on a page (one round trip per page).
MEASURE = r"""
var SEV = /(?:^|\s)nodeops-(sev|badge)-(fail|warn|info|pass)(?:\s|$)/;
var root = document.querySelector('.nodeops-report');
var doc = document.documentElement;
var vw = doc.clientWidth, vh = window.innerHeight;
var out = {root: !!root, scrollWidth: doc.scrollWidth, clientWidth: vw, viewportHeight: vh,
           findings: [], badges: [], wide: [], wideCount: 0, title: null, figures: null};
if (!root) return out;
function name(el) {
  var parts = [];
  for (var e = el; e && e !== root.parentElement && parts.length < 4; e = e.parentElement) {
    var c = (e.getAttribute('class') || '').trim().split(/\s+/).filter(Boolean).join('.');
    parts.unshift(e.tagName.toLowerCase() + (c ? '.' + c : ''));
  }
  return parts.join(' > ');
}
function box(el) {
  if (!el) return null;
  var r = el.getBoundingClientRect(), cs = getComputedStyle(el);
  return {name: name(el), top: r.top, bottom: r.bottom, left: r.left, right: r.right, width: r.width,
          shown: r.width > 0 && r.height > 0 && cs.visibility !== 'hidden' && cs.display !== 'none'};
}
root.querySelectorAll('li').forEach(function (li) {
  var m = (li.getAttribute('class') || '').match(SEV);
  if (!m || m[1] !== 'sev') return;
  var cs = getComputedStyle(li), badge = li.querySelector('.nodeops-badge');
  out.findings.push({sev: m[2], name: name(li), cls: li.getAttribute('class'), border: cs.borderLeftColor,
                     borderWidth: parseFloat(cs.borderLeftWidth), borderStyle: cs.borderLeftStyle,
                     badge: badge ? badge.getAttribute('class') : null,
                     badgeText: badge ? badge.textContent.trim() : null});
});
root.querySelectorAll('[class*="nodeops-badge-"]').forEach(function (b) {
  var m = b.getAttribute('class').match(SEV);
  if (!m || m[1] !== 'badge') return;
  var cs = getComputedStyle(b);
  out.badges.push({sev: m[2], name: name(b), background: cs.backgroundColor, color: cs.color,
                   text: b.textContent.trim()});
});
function scroller(el) {  // the nearest ancestor inside the report that clips or scrolls sideways
  for (var a = el.parentElement; a && root.contains(a); a = a.parentElement)
    if (getComputedStyle(a).overflowX !== 'visible') return a;
  return null;
}
function outside(r) { return r.right > vw + 0.5 || r.left < -0.5; }
var wide = new Set();
root.querySelectorAll('*').forEach(function (el) {
  var r = el.getBoundingClientRect();
  if ((r.width === 0 && r.height === 0) || !outside(r)) return;
  var s = scroller(el);
  if (s && !outside(s.getBoundingClientRect())) return;  // scrolls inside a box that fits
  if (el.parentElement && wide.has(el.parentElement)) { wide.add(el); return; }  // its parent is named
  wide.add(el);
  out.wideCount += 1;
  if (out.wide.length < 5) out.wide.push(box(el));
});
out.title = box(root.querySelector('h2'));
out.figures = box(root.querySelector('.nodeops-figures'));
return out;
"""


def _macro_ids():
    """The macros whose result is a node-ops report (a RESULT_TABLE twin's table is drawn by DSS,
    not by node-ops: the demo's drawing of it is a stand-in)."""
    from nodeops import operations

    return sorted(p.name for p in (ROOT / "python-runnables").iterdir() if (p / "runnable.json").is_file()
                  and operations.macro(p.name).result_type == "HTML")


def _browser_required():
    return bool(os.environ.get("CI") or os.environ.get("NODEOPS_REQUIRE_BROWSER"))


@pytest.fixture(scope="module")
def browser():
    why = chromium.missing()
    if why:
        if _browser_required():
            pytest.fail("the browser test must run here (CI or NODEOPS_REQUIRE_BROWSER is set) but %s" % why)
        pytest.skip("no headless Chromium: %s (.ci/run installs it)" % why)
    with chromium.Browser() as b:
        yield b


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory):
    where = os.environ.get("NODEOPS_SCREENSHOTS")
    return Path(where) if where else tmp_path_factory.mktemp("screenshots")


@pytest.fixture(scope="module")
def demo_pages(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo-browser") / "demo"
    run = subprocess.run([sys.executable, str(ROOT / "tools" / "demo.py"), "--out", str(out)],
                         capture_output=True, text=True, timeout=600)
    pages = {p.stem: p for p in out.glob("*.html")}
    # a macro that fails in the demo is test_demo's failure too; here each page that exists is looked at
    assert pages, "make demo wrote no report: %s" % (run.stdout[-3000:] + run.stderr[-3000:])
    return pages, run.stdout[-3000:] + run.stderr[-3000:]


def severity_problems(m):
    """What is wrong with the computed colours of one page's findings and badges (each kind of
    problem once, with how many elements have it)."""
    problems = []
    for f in m["findings"]:
        sev, want = f["sev"].upper(), SEVERITY_RGB[f["sev"]]
        if f["border"] != want or f["borderStyle"] in ("none", "hidden") or f["borderWidth"] < 2:
            problems.append("%s finding: left border %s %spx %s, expected %s (the %s colour)"
                            % (sev, f["borderStyle"], f["borderWidth"], f["border"], want, sev))
        if "nodeops-finding" not in f["cls"].split():
            problems.append("%s finding: no class nodeops-finding (class %r)" % (sev, f["cls"]))
        if not f["badge"] or "nodeops-badge-%s" % f["sev"] not in f["badge"].split() or f["badgeText"] != sev:
            problems.append("%s finding: badge %r saying %r, expected class nodeops-badge-%s saying %s"
                            % (sev, f["badge"], f["badgeText"], f["sev"], sev))
    for b in m["badges"]:
        want = SEVERITY_RGB[b["sev"]]
        if b["background"] != want or b["color"] != WHITE:
            problems.append("%s badge: background %s, text %s, expected %s with white text (%s)"
                            % (b["sev"].upper(), b["background"], b["color"], want, WHITE))
    counted = Counter(problems)
    return ["%s%s" % ("%d x " % n if n > 1 else "", p) for p, n in counted.items()]


def layout_problems(m, tile_height):
    problems = []
    if m["scrollWidth"] > m["clientWidth"]:
        problems.append("the page scrolls sideways: %d px wide in a %d px viewport" % (m["scrollWidth"], m["clientWidth"]))
    for w in m["wide"]:
        problems.append("%s is outside the %d px viewport (from %.0f to %.0f px)"
                        % (w["name"], m["clientWidth"], w["left"], w["right"]))
    if m["wideCount"] > len(m["wide"]):
        problems.append("... and %d more elements outside the viewport" % (m["wideCount"] - len(m["wide"])))
    for what, b in (("the title (h2)", m["title"]), ("the first figures block", m["figures"])):
        if what.startswith("the title") and b is None:
            problems.append("no title (h2) in the report")
        elif b is not None and not (b["shown"] and b["top"] >= 0 and b["bottom"] <= tile_height):
            problems.append("%s is not on the %d px high tile without scrolling: %s from %.0f to %.0f px%s"
                            % (what, tile_height, b["name"], b["top"], b["bottom"],
                               "" if b["shown"] else " (not shown)"))
    return problems


def test_reports_in_browser(browser, demo_pages, screenshots):
    width, height = chromium.TILE
    pages, demo_output = demo_pages
    problems = {}
    severities_seen = {}
    for macro_id in _macro_ids():
        page = pages.get(macro_id)
        if page is None:
            said = [line.strip() for line in demo_output.splitlines() if macro_id in line] or [demo_output]
            problems[macro_id] = ["make demo wrote no report; it said: %s" % "\n".join(said)]
            continue
        found = ["console/page error: %s" % e for e in browser.open(page, width, height)]
        m = browser.js(MEASURE)
        browser.screenshot(screenshots / ("%s-tile.png" % macro_id))
        browser.screenshot(screenshots / ("%s-full.png" % macro_id), full=True)
        found += ["console/page error after the screenshots: %s" % e for e in browser.errors()]
        if not m["root"]:
            found.append("no .nodeops-report element")
        else:
            found += severity_problems(m) + layout_problems(m, height)
        severities_seen[macro_id] = sorted({f["sev"] for f in m["findings"]})
        if found:
            problems[macro_id] = found
    audit = severities_seen.get("config-audit", [])
    if len(audit) < 2:
        problems.setdefault("config-audit", []).append(
            "findings of %d severities (%s), expected at least two coloured apart"
            % (len(audit), ", ".join(audit) or "none"))
    for macro_id in README_TILES:
        if not (screenshots / ("%s-tile.png" % macro_id)).is_file():
            problems.setdefault(macro_id, []).append("no tile screenshot for the README")
    report = "\n".join("%s:\n  %s" % (k, "\n  ".join(v)) for k, v in sorted(problems.items()))
    assert not problems, "in Chromium %s at %dx%d (screenshots in %s):\n%s" % (
        browser.version, width, height, screenshots, report)


def test_the_browser_checks_can_fail(browser, tmp_path):
    """The checks above see what they look for: a page made to break each rule breaks each."""
    page = tmp_path / "broken.html"
    page.write_text(
        "<!DOCTYPE html><html><head><meta charset='utf-8'></head><body style='margin:0'>"
        "<div class='nodeops-report'><style>.nodeops-report li { border-left: 4px solid #ccc; }</style>"
        "<div style='height:500px'></div><h2>Late title</h2>"
        "<ul><li class='nodeops-finding nodeops-sev-fail'><span class='nodeops-badge nodeops-badge-fail'>FAIL</span>"
        " x</li></ul><table style='width:900px'><tr><td>wide</td></tr></table></div>"
        "<script>console.error('a console error'); throw new Error('an uncaught error');</script>"
        "</body></html>", encoding="utf-8")
    width, height = chromium.TILE
    errors = browser.open(page, width, height)
    assert any("a console error" in e for e in errors), errors
    assert any("an uncaught error" in e for e in errors), errors
    m = browser.js(MEASURE)
    colours = "\n".join(severity_problems(m))
    assert "FAIL finding" in colours and "rgb(204, 204, 204)" in colours and "FAIL badge" in colours, colours
    layout = "\n".join(layout_problems(m, height))
    assert "scrolls sideways" in layout and "table" in layout and "the title (h2) is not on the" in layout, layout
