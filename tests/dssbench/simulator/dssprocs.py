"""Real processes with the command lines of a running DSS, for the capacity report.

Each is a Python process whose argv is what ``ps`` shows for that DSS process
(argv[0] set to the program DSS runs, the rest as DSS passes it; the evidence
is in guesses.DSS_PROCESS_COMMAND_LINES' docstring), touching ``memory_mb``
MiB, optionally with children, exiting when the test process goes away.
"""

import json
import os
import select
import subprocess
import sys

from . import guesses

_SCRIPT = r"""
import json, os, subprocess, sys, time
mb, parent, children = int(sys.argv[1]), int(sys.argv[2]), json.loads(sys.argv[3])
buf = b"\x01" * (mb * 1024 * 1024)
procs = [subprocess.Popen([c["argv"][0], __file__, str(c["mb"]), str(os.getpid()), "[]", "--"] + c["argv"][1:],
                          executable=os.environ["NODEOPS_FAKE_PYTHON"], stdout=subprocess.DEVNULL,
                          stdin=subprocess.DEVNULL)
         for c in children]
time.sleep(0.2 if procs else 0)
sys.stdout.write("ready\n"); sys.stdout.flush()
while os.getppid() == parent:
    time.sleep(0.5)
for p in procs:
    p.terminate()
"""


# argv[0] is not the interpreter's path, so tell Python where its own library is.
_ENV = dict(os.environ, PYTHONHOME="%s:%s" % (sys.base_prefix, sys.base_exec_prefix),
            NODEOPS_FAKE_PYTHON=os.path.realpath(sys.executable))
_ENV.pop("PYTHONPATH", None)


class DSSProcesses:
    """Start the process tree of a DSS for ``dip_home``: stop() ends it."""

    def __init__(self, dip_home, directory, layout=None):
        self.dip_home = str(dip_home)
        self.script = os.path.join(directory, "fake_dss_process.py")
        with open(self.script, "w") as f:
            f.write(_SCRIPT)
        self.layout = layout if layout is not None else guesses.dss_process_layout(self.dip_home)
        self.procs = []

    def start(self):
        for spec in self.layout:
            argv = spec["argv"]
            p = subprocess.Popen([argv[0], self.script, str(spec["mb"]), str(os.getpid()),
                                  json.dumps(spec.get("children", [])), "--"] + argv[1:],
                                 executable=sys.executable, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                 env=_ENV)
            self.procs.append((spec, p))
        for spec, p in self.procs:
            ready, _, _ = select.select([p.stdout], [], [], 30)
            if not ready or p.stdout.readline().strip() != b"ready":
                self.stop()
                raise RuntimeError("fake DSS process %s did not start" % spec["role"])
        return self

    def stop(self):
        for _, p in self.procs:
            if p.poll() is None:
                p.terminate()
        for _, p in self.procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
            if p.stdout:
                p.stdout.close()
        self.procs = []
