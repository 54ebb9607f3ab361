"""``python -m nodeops`` as tests and benchmarks run it: in its own process, with
this checkout's python-lib first on the path (before whatever client the
compatibility run puts there)."""

import os
import subprocess
import sys
from pathlib import Path

PYTHON_LIB = Path(__file__).resolve().parents[2] / "python-lib"


def env(extra=None):
    out = dict(os.environ, PYTHONPATH=os.pathsep.join([str(PYTHON_LIB), os.environ.get("PYTHONPATH", "")]))
    out.update(extra or {})
    return out


def run(*args, extra_env=None):
    """The finished process (text output captured) of ``python -m nodeops ARGS``."""
    return subprocess.run([sys.executable, "-m", "nodeops"] + [str(a) for a in args], capture_output=True, text=True,
                          env=env(extra_env))
