"""Real processes standing in for Jupyter kernels.

Each kernel is a Python child process that touches ``memory_mb`` MiB of
memory (so its resident size is real, as psutil sees it), optionally starts
children that do the same, and then waits. It exits on its own when the
process that started it goes away, so a crashed test leaves nothing behind.

Its command line ends like a Jupyter kernel's, ``-f <runtime>/kernel-<kernelId>.json``
(how DSS starts kernels is in guesses.KERNEL_CMDLINE). A session whose kernel
runs in a container has, on this host, the kernel's forwarder, whose PID the
session reports: a real ``python -m dataiku.notebook.remote_kernel_forwarder
--remote-type <type> --connection-file <runtime>/kernel-<kernelId>.json``
(the argv DSS's ``dataiku/notebook/remote_kernel.py`` writes in the kernel
spec), run from a stand-in module of that name, holding ``memory_mb`` of its own.
A stand-in made without a connection file is a local process that is not a kernel.
"""

import os
import select
import signal
import subprocess
import sys
import time

from . import guesses

_KERNEL_SCRIPT = r"""
import os, sys, time, subprocess
args = sys.argv[1:]
if "-f" in args:  # the connection file, as ipykernel_launcher takes it
    i = args.index("-f"); del args[i:i + 2]
mb = int(args[0]); parent = int(args[1]); children = [int(x) for x in args[2:]]
buf = b"\x01" * (mb * 1024 * 1024)  # filled, so every page is resident
procs = []
for c in children:
    procs.append(subprocess.Popen([sys.executable, os.environ["NODEOPS_KERNEL_SCRIPT"], str(c), str(os.getpid())]))
sys.stdout.write("ready\n"); sys.stdout.flush()
while os.getppid() == parent:
    time.sleep(0.5)
for p in procs:
    p.terminate()
"""


#: The stand-in forwarder module: the real one's options, then the kernel script's work.
_FORWARDER_MODULE = r"""
import argparse, os, sys
parser = argparse.ArgumentParser(prog="remote-kernel")
for option in ("--connection-file", "--remote-type", "--env-lang", "--env-name", "--project-key", "--bundle-id",
               "--container-conf"):
    parser.add_argument(option)
parser.parse_args(sys.argv[1:])
script = os.environ["NODEOPS_KERNEL_SCRIPT"]
sys.argv = [script] + os.environ["NODEOPS_FORWARDER_ARGS"].split()
exec(compile(open(script).read(), script, "exec"))
"""


class Kernel:
    def __init__(self, memory_mb, children_mb=(), connection_file=None, container=False):
        """``connection_file`` None: not a kernel. ``container``: the local forwarder of a
        kernel that runs in a container (its command line names ``connection_file``)."""
        self.memory_mb = int(memory_mb)
        self.children_mb = tuple(int(x) for x in children_mb)
        self.connection_file = connection_file
        self.container = bool(container) and connection_file is not None
        self.process = None

    def start(self, script_path):
        env = dict(os.environ, NODEOPS_KERNEL_SCRIPT=script_path)
        args = [str(self.memory_mb), str(os.getpid())] + [str(c) for c in self.children_mb]
        if self.container:
            lib = _forwarder_lib(os.path.dirname(script_path))
            env["PYTHONPATH"] = os.pathsep.join([lib] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
            env["NODEOPS_FORWARDER_ARGS"] = " ".join(args)
            argv = [sys.executable, "-m", guesses.FORWARDER_MODULE, "--remote-type", guesses.CONTAINER_REMOTE_TYPE,
                    "--connection-file", str(self.connection_file)]
        else:
            argv = [sys.executable, script_path] + args
            if self.connection_file:
                argv += ["-f", str(self.connection_file)]
        self.process = subprocess.Popen(argv, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env)
        return self

    def wait_ready(self, timeout=30):
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        line = self.process.stdout.readline() if ready else b""
        if line.strip() != b"ready":
            self.stop()
            raise RuntimeError("kernel process %s did not start within %.0f s" % (self.process.pid, timeout))

    @property
    def pid(self):
        return self.process.pid

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout=5.0):
        """End the kernel as a session unload does: SIGTERM, then SIGKILL."""
        if not self.alive():
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout)
        if self.process.stdout:
            self.process.stdout.close()


def _forwarder_lib(directory):
    """A folder holding the stand-in ``dataiku.notebook.remote_kernel_forwarder`` module."""
    lib = os.path.join(directory, "forwarder-lib")
    package = os.path.join(lib, *guesses.FORWARDER_MODULE.split(".")[:-1])
    if not os.path.isdir(package):
        os.makedirs(package)
        for level in range(1, len(guesses.FORWARDER_MODULE.split("."))):
            open(os.path.join(lib, *guesses.FORWARDER_MODULE.split(".")[:level], "__init__.py"), "w").close()
        with open(os.path.join(package, guesses.FORWARDER_MODULE.split(".")[-1] + ".py"), "w") as f:
            f.write(_FORWARDER_MODULE)
    return lib


def write_script(directory):
    path = os.path.join(directory, "fake_kernel.py")
    with open(path, "w") as f:
        f.write(_KERNEL_SCRIPT)
    return path


def start_all(kernels, directory):
    """Start every kernel, then wait for all of them (they allocate in parallel)."""
    script = write_script(directory)
    for k in kernels:
        k.start(script)
    deadline = time.time() + 60
    for k in kernels:
        k.wait_ready(max(1, deadline - time.time()))
    return kernels
