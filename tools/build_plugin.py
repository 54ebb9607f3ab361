"""Build dist/dss-plugin-<id>-<version>.zip: plugin.json at the zip root, no tests.

Takes the files git knows (tracked, plus untracked ones that are not ignored)
under the plugin's own folders, so a build from a working tree matches what
a commit would ship.
"""

import argparse
import json
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# What DSS needs, and what an administrator reading the zip wants.
INCLUDED = ("plugin.json", "code-env/", "python-lib/", "python-runnables/", "python-steps/", "resource/",
            "README.md", "LICENSE", "CHANGELOG.md")


def plugin_files(root=ROOT):
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=root,
                         capture_output=True, text=True, check=True).stdout.split("\n")
    files = []
    for name in out:
        if not name or not (root / name).is_file():
            continue
        if any(name == inc or (inc.endswith("/") and name.startswith(inc)) for inc in INCLUDED):
            if "__pycache__" in name or name.endswith(".pyc"):
                continue
            files.append(name)
    return sorted(files)


def build(out, root=ROOT):
    out = Path(out)
    if not out.is_absolute():
        out = root / out
    out.parent.mkdir(parents=True, exist_ok=True)
    for name in plugin_files(root):
        if name.endswith(".json"):
            json.loads((root / name).read_text(encoding="utf-8"))  # fail early on a broken file
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name in plugin_files(root):
            z.write(root / name, name)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    meta = json.loads((ROOT / "plugin.json").read_text())
    parser.add_argument("--out", default="dist/dss-plugin-%s-%s.zip" % (meta["id"], meta["version"]))
    args = parser.parse_args(argv)
    path = build(args.out)
    print("built %s" % path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
