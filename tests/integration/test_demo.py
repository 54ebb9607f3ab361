"""make demo runs every macro of the plugin successfully (a macro added without a
demo configuration for its mandatory parameters fails here, not in front of a user)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_demo_runs_every_macro(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "tools" / "demo.py"), "--out", str(tmp_path / "demo")],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    macros = sorted(p.name for p in (ROOT / "python-runnables").iterdir() if (p / "runnable.json").is_file())
    assert sorted(p.stem for p in (tmp_path / "demo").glob("*.html")) == macros
    assert "administration project set up" in out.stdout and "health-check step:" in out.stdout
    # set up twice in a row against the simulator that normalises what it stores: the second run changes nothing
    assert "administration project set up again: Nothing to change" in out.stdout
    # numbers for people: neither what make demo prints nor the text of any report (what a step
    # prints in the scenario log) shows a raw byte count (a bare number of 5 digits or more)
    import re

    sys.path.insert(0, str(ROOT / "python-lib"))
    from nodeops import operations, render

    raw = re.compile(r"(?<![\w/.,:-])\d{5,}(?![\w/-])")
    assert not raw.findall(out.stdout), out.stdout
    for page in sorted((tmp_path / "demo").glob("*.html")):
        if operations.macro(page.stem).result_type == "RESULT_TABLE":
            continue  # DSS draws the table itself; its exact byte columns are meant to be raw
        text = render.to_text(render.report_from_html(page.read_text(encoding="utf-8")))
        assert text.splitlines()[1].startswith("  Status: "), text
        assert not raw.findall(text), text
