"""The Pythons the plugin's code env accepts, and the interpreters of this machine that can prove them.

    python tools/pythons.py list            each accepted version and the interpreter found for it (or none)
    python tools/pythons.py test [ARGS...]  for each interpreter found: a virtualenv in .venvs/py3.X with the
                                            plugin's and the bench's requirements, then pytest ARGS (default
                                            tests/unit) in it; exits non-zero if any version fails

The accepted versions are code-env/python/desc.json's acceptedPythonInterpreters (PYTHON39 -> 3.9).
An interpreter for 3.X is looked for in $NODEOPS_PYTHON3X, then python3.X on PATH, then pyenv's
versions folder ($PYENV_ROOT, else ~/.pyenv), then /usr/bin and /usr/local/bin; each candidate is run to
check its version (a pyenv shim for a version pyenv has not selected fails, and is skipped).
$NODEOPS_PYTHONS ("3.9 3.13") limits `test` to those versions.
"""

import glob
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DESC = ROOT / "code-env" / "python" / "desc.json"


def accepted_versions(desc=DESC):
    """[(3, 9), (3, 10), ...] from desc.json, in order."""
    found = []
    for name in json.loads(Path(desc).read_text(encoding="utf-8"))["acceptedPythonInterpreters"]:
        m = re.fullmatch(r"PYTHON(\d)(\d+)", name)
        if not m:
            raise ValueError("%s: %r is not a PYTHON<major><minor> name" % (desc, name))
        found.append((int(m.group(1)), int(m.group(2))))
    return found


def _version_of(exe):
    try:
        out = subprocess.run([exe, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                             capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def find_interpreter(version):
    """The path of a working interpreter of `version` (a (major, minor) pair), or None."""
    dotted = "%d.%d" % version
    candidates = [os.environ.get("NODEOPS_PYTHON%d%d" % version), shutil.which("python" + dotted)]
    pyenv = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    candidates += sorted(glob.glob(os.path.join(pyenv, "versions", dotted + ".*", "bin", "python" + dotted)),
                         reverse=True)
    candidates += ["/usr/bin/python" + dotted, "/usr/local/bin/python" + dotted]
    for exe in candidates:
        if exe and os.path.isfile(exe) and _version_of(exe) == dotted:
            return exe
    return None


def _venv(version, exe):
    venv = ROOT / ".venvs" / ("py%d.%d" % version)
    py = venv / "bin" / "python"
    stamp = venv / ".installed"
    reqs = [ROOT / "code-env" / "python" / "spec" / "requirements.txt", ROOT / "tests" / "requirements.txt"]
    if not stamp.exists() or any(r.stat().st_mtime > stamp.stat().st_mtime for r in reqs):
        subprocess.run([exe, "-m", "venv", str(venv)], check=True)
        cmd = [str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        for r in reqs:
            cmd += ["-r", str(r)]
        subprocess.run(cmd, check=True)
        stamp.touch()
    return py


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv.pop(0) if argv else "list"
    versions = accepted_versions()
    if command == "list":
        for v in versions:
            print("PYTHON%d%d  %s" % (v + (find_interpreter(v) or "no interpreter found",)))
        return 0
    if command != "test":
        print(__doc__, file=sys.stderr)
        return 2
    args = argv or ["tests/unit"]
    only = os.environ.get("NODEOPS_PYTHONS")  # e.g. "3.9 3.13": test only these
    if only:
        versions = [v for v in versions if "%d.%d" % v in only.split()]
    results = []
    for v in versions:
        exe = find_interpreter(v)
        if exe is None:
            results.append((v, "not tested: no interpreter found"))
            continue
        py = _venv(v, exe)
        rc = subprocess.run([str(py), "-m", "pytest"] + args, cwd=ROOT).returncode  # pytest.ini: -q
        results.append((v, "passed" if rc == 0 else "FAILED (pytest exit %d)" % rc))
    for v, what in results:
        print("Python %d.%d: %s" % (v + (what,)))
    return 1 if any(what.startswith("FAILED") for _, what in results) else 0


if __name__ == "__main__":
    sys.exit(main())
