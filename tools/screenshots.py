"""make screenshots: run the demo (tools/demo.py) and photograph every report in headless
Chromium, as a 560x420 dashboard tile (<macro-id>-tile.png) and as the whole page at the same
width (<macro-id>-full.png), into docs/screenshots/ (the README shows them).

Needs Debian's chromium and chromium-driver (apt-get install -y chromium chromium-driver) and
Selenium (tests/requirements.txt). --from DIR photographs reports already written by `make demo`.
"""

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests")]

from dssbench import browser as chromium  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    parser.add_argument("--from", dest="source", help="a folder of reports written by make demo (default: run it)")
    parser.add_argument("--max-height", type=int, default=4000, help="cut full pages there (CSS pixels)")
    parser.add_argument("macros", nargs="*", help="only these macro ids (default: every report)")
    args = parser.parse_args(argv)
    why = chromium.missing()
    if why:
        print("cannot take screenshots: %s" % why, file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="nodeops-screenshots-") as tmp:
        source = Path(args.source) if args.source else Path(tmp) / "demo"
        if not args.source:
            run = subprocess.run([sys.executable, str(ROOT / "tools" / "demo.py"), "--out", str(source)])
            if run.returncode:
                print("the demo failed (above); photographing the reports it wrote", file=sys.stderr)
        pages = sorted(source.glob("*.html"))
        if args.macros:
            pages = [p for p in pages if p.stem in args.macros]
        if not pages:
            print("no report to photograph in %s" % source, file=sys.stderr)
            return 1
        out = Path(args.out)
        problems = 0
        with chromium.Browser() as b:
            for page in pages:
                errors = b.open(page, *chromium.TILE)
                tile = b.screenshot(out / ("%s-tile.png" % page.stem))
                full = b.screenshot(out / ("%s-full.png" % page.stem), full=True, max_height=args.max_height)
                errors += b.errors()
                problems += len(errors)
                print("%-24s %s, %s%s" % (page.stem, tile.relative_to(ROOT) if tile.is_relative_to(ROOT) else tile,
                                          full.name, "".join("\n  error in the page: %s" % e for e in errors)))
            print("Chromium %s, tile %dx%d" % (b.version, chromium.TILE[0], chromium.TILE[1]))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
