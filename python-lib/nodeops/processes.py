"""The host and the DSS processes on it, grouped by role from their command lines.

How DSS starts each process (the evidence is in the README's "verified / not
yet" table): every DSS JVM carries ``-Ddku.<role>`` (also recognised with a
value, ``-Ddku.backend=true``) and its main class
(backend ``DSSBackendMain``, JEK ``DSSJobKernelMain``, FEK
``DSSFutureKernelMain``, hproxy ``HProxyRunner``) with ``-cp <DIP_HOME>/bin:...``;
nginx and supervisord run with ``-c <DIP_HOME>/install-support/<x>.conf``; the
Jupyter server is ``dku-jupyter/dkulauncher.py --notebook-dir=<DIP_HOME>/...``;
kernels are started with ``-f <DIP_HOME>/jupyter-run/jupyter/runtime/kernel-<id>.json``;
a kernel in a container is a local ``python -m dataiku.notebook.remote_kernel_forwarder
... --connection-file <that file>``, counted apart (its memory is not the kernel's).
A process belongs to this DSS when its command line names DIP_HOME, or when it
descends from one that does (nginx workers, recipe processes under a JEK,
children of kernels).
"""

import os
from dataclasses import dataclass, field
from typing import Dict, List

ROLES = (
    ("backend", "Backend"),
    ("jek", "Job execution kernels (JEK)"),
    ("fek", "Future execution kernels (FEK)"),
    ("hproxy", "Hive proxy (hproxy)"),
    ("nginx", "nginx"),
    ("jupyter", "Jupyter server"),
    ("kernel", "Jupyter kernels"),
    ("forwarder", "Kernels in containers (local forwarders)"),
    ("recipe", "Python / R recipe processes"),
    ("webapp", "Webapp backends"),
    ("ml", "In-memory ML (doctor)"),
    ("other", "Other DSS processes"),
)
ROLE_LABELS = dict(ROLES)

_JAVA_ROLES = {"-Ddku.backend": "backend", "-Ddku.jek": "jek", "-Ddku.fek": "fek", "-Ddku.hproxy": "hproxy"}
_MAIN_CLASSES = {"com.dataiku.dip.DSSBackendMain": "backend",
                 "com.dataiku.dip.dataflow.kernel.slave.DSSJobKernelMain": "jek",
                 "com.dataiku.dip.futures.DSSFutureKernelMain": "fek",
                 "com.dataiku.hproxy.server.HProxyRunner": "hproxy"}
#: Roles a child process takes from its parent when its own command line says nothing.
_INHERITED = ("nginx", "kernel", "forwarder", "recipe", "webapp", "ml")
#: The module a kernel running in a container is forwarded by: the local process is
#: ``python -m dataiku.notebook.remote_kernel_forwarder ... --connection-file <file>``
#: (DSS 9.0.5 ``dataiku/notebook/remote_kernel.py``); its memory is the forwarder's,
#: the kernel's is in the container.
FORWARDER_MODULE = "dataiku.notebook.remote_kernel_forwarder"


def is_kernel_forwarder(cmdline) -> bool:
    """The local forwarder of a kernel that runs in a container (or on a remote cluster)."""
    return FORWARDER_MODULE in (cmdline or ())


def classify(cmdline) -> str:
    """The role of one process from its command line alone ('' when none applies)."""
    args = [a for a in cmdline if a]
    joined = " ".join(args)
    for a in args:
        flag = a.split("=", 1)[0]  # -Ddku.backend and -Ddku.backend=true alike
        if flag in _JAVA_ROLES:
            return _JAVA_ROLES[flag]
        if a in _MAIN_CLASSES:
            return _MAIN_CLASSES[a]
    if "install-support/nginx.conf" in joined or (args and args[0].startswith("nginx:")):
        return "nginx"
    if is_kernel_forwarder(args):  # before "kernel": its command line names the kernel's connection file
        return "forwarder"
    if "dku-jupyter/dkulauncher.py" in joined:
        return "jupyter"
    if "dataiku.webapps." in joined:
        return "webapp"
    if "dataiku.doctor.server" in joined:
        return "ml"
    if "ipykernel" in joined or "IRkernel::main" in joined or "/jupyter-run/jupyter/runtime/kernel-" in joined \
            or "jupyter/kernels/toree" in joined:
        return "kernel"
    if any(a.startswith("-Ddku.") for a in args) or "supervisor.supervisord" in joined:
        return "other"
    return ""


def _is_interpreter(cmdline):
    """A Python or R interpreter (python, python3.11, R, Rscript...)."""
    name = os.path.basename(cmdline[0]) if cmdline else ""
    return name.startswith("python") or name in ("R", "Rscript")


@dataclass
class Group:
    role: str
    count: int = 0
    rss_bytes: int = 0
    pids: List[int] = field(default_factory=list)


@dataclass
class Host:
    ram_bytes: int
    ram_available_bytes: int
    swap_bytes: int
    swap_used_bytes: int
    cpus: int
    load: tuple
    groups: Dict[str, Group]
    unreadable: int = 0


def inspect_host(dip_home) -> Host:
    """RAM, swap, CPUs, load, and the DSS processes of ``dip_home`` grouped by role."""
    import psutil

    vm, sw = psutil.virtual_memory(), psutil.swap_memory()
    try:
        load = os.getloadavg()
    except OSError:
        load = (0.0, 0.0, 0.0)
    groups, unreadable = group_processes(dip_home)
    return Host(ram_bytes=vm.total, ram_available_bytes=vm.available, swap_bytes=sw.total, swap_used_bytes=sw.used,
                cpus=psutil.cpu_count() or 0, load=tuple(round(x, 2) for x in load), groups=groups,
                unreadable=unreadable)


def group_processes(dip_home):
    """({role: Group}, processes that could not be read) for the processes of this DSS."""
    import psutil

    marker = str(dip_home).rstrip("/") + "/"
    procs = {}
    unreadable = 0
    for p in psutil.process_iter(["pid", "ppid", "cmdline", "memory_info"]):
        info = p.info
        if info.get("cmdline") is None or info.get("memory_info") is None:
            unreadable += 1  # another user's process we may not read, or one that just ended
            continue
        procs[info["pid"]] = info
    role_of = {}

    def role(pid, depth=0):
        """Role of a process of this DSS ('' when it is not one), looking up its ancestors."""
        if pid in role_of:
            return role_of[pid]
        info = procs.get(pid)
        if info is None or depth > 50:
            return ""
        cmdline = info["cmdline"]
        own = classify(cmdline)
        mine = any(marker in a for a in cmdline)
        parent = role(info["ppid"], depth + 1) if info["ppid"] != pid else ""
        if mine or parent:
            if parent == "jek" and _is_interpreter(cmdline) and own in ("", "other"):
                result = "recipe"
            elif own:
                result = own
            elif parent in _INHERITED:
                result = parent  # nginx workers, children of kernels, recipes, webapps
            else:
                result = "other"  # e.g. a macro's Python process started by the backend
        else:
            result = ""
        role_of[pid] = result
        return result

    groups = {}
    for pid, info in sorted(procs.items()):
        r = role(pid)
        if not r:
            continue
        g = groups.setdefault(r, Group(r))
        g.count += 1
        g.rss_bytes += info["memory_info"].rss
        g.pids.append(pid)
    return groups, unreadable
