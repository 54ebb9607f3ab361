"""Run node-ops macros and steps the way DSS does.

- A macro: a new Python process loads ``python-runnables/<id>/runnable.py``,
  instantiates ``MyRunnable(project_key, config, plugin_config)`` and calls
  ``run(progress_callback)`` (see run_runnable.py). DSS itself refuses a
  ``requiresGlobalAdmin`` macro to a non-administrator before any code runs;
  :meth:`Harness.run_macro` does the same unless told not to (to prove the
  check in code).
- A step: ``python-steps/<id>/step.py`` runs as a script in its own process with
  DSS's environment variables; it fails when it raises.
- A form field declared ``"getChoicesFromPython": true``: the descriptor's
  ``paramsPythonSetup`` script of ``resource/`` is run in its own process and its
  ``do(payload, config, plugin_config, inputs)`` answers (run_runnable.params_setup).

Both get the stand-in ``dataiku`` package and the plugin's ``python-lib`` on
PYTHONPATH, DIP_HOME, and an API ticket for the user they run as.

User Isolation mode (:class:`UserIsolation`, tests run as root): DIP_HOME
belongs to a "service account" uid with mode 0700 (:func:`private_dip_home`);
macros declared ``"impersonate": false`` run as that uid, steps and
impersonated macros as another uid, the "end user". Those processes cannot
read the repository, the virtualenv or pytest's folders, so they run from a
world-readable :class:`Runtime` built once per test process: the base
interpreter and its standard library, the site-packages the plugin imports,
the stand-in ``dataiku`` and the plugin (hard links where possible, else
copies, in a 0755 folder under /tmp).
"""

import atexit
import json
import os
import pwd
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, List, Optional

from .smallfs import TEST_TMP_ENV

HERE = Path(__file__).resolve().parent
STUB_DIR = HERE / "dataiku_stub"
PLUGIN_DIR = HERE.parent.parent  # the repository root is the plugin root


class DSSRefused(Exception):
    """DSS would not start this macro for this user."""


@dataclass
class MacroOutcome:
    result: Any
    result_kind: Optional[str]
    error: Optional[str]
    error_type: Optional[str] = None
    traceback: Optional[str] = None
    progress: List[Any] = field(default_factory=list)
    progress_target: Any = None
    stderr: str = ""

    @property
    def ok(self):
        return self.error is None

    def progress_problems(self, unit):
        """What is wrong with the progress the macro reported, as DSS would draw it ([] when nothing):
        a target ``[n, unit]`` from get_progress_target(), then values that never go back, never
        pass the target and end on it."""
        if not self.progress_target:
            return ["no progress target (get_progress_target() returned %r)" % (self.progress_target,)]
        target, got_unit = self.progress_target
        problems = [] if got_unit == unit else ["progress unit %s, not %s" % (got_unit, unit)]
        values = self.progress
        if not values:
            return problems + ["no progress reported against the target %s" % target]
        if any(b < a for a, b in zip(values, values[1:])):
            problems.append("progress went back: %s" % values)
        if any(v > target for v in values):
            problems.append("progress beyond the target %s: %s" % (target, values))
        if values[-1] != target:
            problems.append("progress ended at %s, not at the target %s" % (values[-1], target))
        return problems

    @property
    def error_class(self):
        """The qualified class of the exception the macro raised (``nodeops.errors.Unavailable``),
        from its traceback's last line; its bare name when the traceback does not say."""
        if not self.error:
            return None
        lines = [l for l in (self.traceback or "").strip().splitlines() if l.strip()]
        last = lines[-1] if lines else ""
        name = last.split(":", 1)[0].strip() if ":" in last else ""
        return name if name.endswith(self.error_type or "") and name else self.error_type


@dataclass
class StepOutcome:
    returncode: int
    stdout: str
    stderr: str
    variables: dict
    report_items: list
    insights: list

    @property
    def ok(self):
        return self.returncode == 0

    @property
    def error_message(self):
        """The last line of the traceback: what DSS shows as the step's failure."""
        lines = [l for l in self.stderr.strip().splitlines() if l.strip()]
        return lines[-1] if lines else ""


# ---- User Isolation mode --------------------------------------------------------------------
@dataclass(frozen=True)
class Account:
    """A Unix identity a child process runs as."""

    uid: int
    gid: int
    role: str  # "service account" or "end user", for messages


def isolation_unavailable() -> Optional[str]:
    """Why the User Isolation mode cannot run here (None when it can)."""
    if os.geteuid() != 0:
        return "User Isolation mode needs root (it runs processes under other uids); running as uid %d" % os.geteuid()
    return None


def _free_ids(count, start=23000):
    """``count`` uids (= gids) that no account of this host uses."""
    out, uid = [], start
    while len(out) < count:
        try:
            pwd.getpwuid(uid)
        except KeyError:
            out.append(uid)
        uid += 1
    return out


class UserIsolation:
    """The bench's User Isolation mode: who runs what (give it to the simulator)."""

    def __init__(self, service=None, user=None, runtime=None):
        ids = _free_ids(2)
        self.service = service or Account(ids[0], ids[0], "service account")
        self.user = user or Account(ids[1], ids[1], "end user")
        self.runtime = runtime or Runtime.shared()

    def macro_account(self, definition) -> Account:
        """A macro runs as the service account when runnable.json says ``"impersonate": false``,
        else as the end user (guesses.MACRO_IMPERSONATES_BY_DEFAULT when the flag is absent)."""
        from .simulator import guesses

        impersonate = definition.get("impersonate", guesses.MACRO_IMPERSONATES_BY_DEFAULT)
        return self.user if impersonate else self.service

    def step_account(self) -> Account:
        """A plugin step has no such flag: its process runs as the scenario's user (the worst case,
        dss-facts-confirmed.md, "Still unverified")."""
        return self.user

    def run_python(self, account, code, env=None, timeout=60):
        """Run ``code`` with the runtime's interpreter as ``account`` (to prove who can read what)."""
        with tempfile.TemporaryDirectory(prefix="dss-uif-") as tmp:
            os.chown(tmp, account.uid, account.gid)
            return _spawn(["-c", code], dict(os.environ, **(env or {})), tmp, timeout, self, account)


def private_dip_home(spec, service, prefix="nodeops-uif-"):
    """Build a DIP_HOME for ``spec`` that only ``service`` can read: ``<tmp>/<random>/dss_data``
    (``<tmp>``: $NODEOPS_TEST_TMP, the suite's roomy filesystem, else /tmp; the parent 0711, so other uids reach it without listing it), owned by the service account,
    mode 0700. Returns ``(dip_home, model)``; remove it with :func:`remove_private_dip_home`."""
    from .datadir import build_datadir

    base = Path(tempfile.mkdtemp(prefix=prefix, dir=os.environ.get(TEST_TMP_ENV, "/tmp")))
    os.chmod(str(base), 0o711)
    dip_home = base / "dss_data"
    model = build_datadir(spec, dip_home)
    for root, dirs, files in os.walk(str(dip_home)):
        for name in dirs + files:
            os.lchown(os.path.join(root, name), service.uid, service.gid)
    os.lchown(str(dip_home), service.uid, service.gid)
    os.chmod(str(dip_home), 0o700)
    return dip_home, model


def remove_private_dip_home(dip_home):
    shutil.rmtree(str(Path(dip_home).parent), ignore_errors=True)


class Runtime:
    """A world-readable copy of what a macro or step process needs, for processes under other uids.

    Under ``root`` (0755, in /tmp): ``python/`` (the base interpreter, ``bin/``, its standard
    library and ``libpython``; run with PYTHONHOME and LD_LIBRARY_PATH pointing there),
    ``path/<n>/`` (each PYTHONPATH entry the children get, the 12.6.4 client of the compatibility
    run included, then the virtualenv's site-packages, reduced to the top-level packages the
    plugin's code imports, as a probe run of that code lists them), ``dssbench/`` (the stand-in
    ``dataiku`` and run_runnable.py), ``plugins/<n>/`` (each plugin folder asked for), ``home/<uid>``
    (HOME and MPLCONFIGDIR of each account). Files are hard links when they are readable by
    all and on the same filesystem, else copies made readable by all.
    """

    _shared = None
    _lock = threading.Lock()

    @classmethod
    def shared(cls):
        """The runtime of this test process, built on first use (once per session and worker)."""
        with cls._lock:
            if cls._shared is None:
                cls._shared = cls(tempfile.mkdtemp(prefix="nodeops-runtime-", dir="/tmp"))
                atexit.register(shutil.rmtree, str(cls._shared.root), True)
            return cls._shared

    def __init__(self, root):
        self.root = Path(root)
        os.chmod(str(self.root), 0o755)
        self._plugins = {}
        self._homes = {}
        self._build_python()
        self._build_paths()

    # -- building ------------------------------------------------------------------------------
    def _build_python(self):
        exe = Path(os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable))
        home = self.root / "python"
        stdlib = Path(sysconfig.get_path("stdlib", vars={"installed_base": sys.base_prefix,
                                                         "base": sys.base_prefix}))
        platstdlib = Path(sysconfig.get_path("platstdlib", vars={"platbase": sys.base_exec_prefix,
                                                                 "base": sys.base_exec_prefix}))
        libname = stdlib.name  # pythonX.Y
        _mirror(exe, home / "bin" / exe.name)
        skip = {"site-packages", "dist-packages", "test", "idlelib", "tkinter", "turtledemo", "ensurepip"}
        _mirror(stdlib, home / "lib" / libname, skip)
        dynload = platstdlib / "lib-dynload"
        if dynload.is_dir() and not (home / "lib" / libname / "lib-dynload").is_dir():
            _mirror(dynload, home / "lib" / libname / "lib-dynload")
        libdir = Path(sysconfig.get_config_var("LIBDIR") or (Path(sys.base_prefix) / "lib"))
        for lib in sorted(libdir.glob("libpython%s*.so*" % sysconfig.get_python_version())):
            _mirror(lib, home / "lib" / lib.name)
        self.home = home
        self.python = str(home / "bin" / exe.name)

    def _child_path(self, plugin_dir=PLUGIN_DIR):
        """The PYTHONPATH a child gets outside this mode (stand-in, python-lib, $PYTHONPATH, site-packages)."""
        parts = [str(STUB_DIR), str(Path(plugin_dir) / "python-lib")]
        parts += [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
        parts += [p for p in sys.path if p.endswith("site-packages") and os.path.isdir(p)]
        return parts

    def _build_paths(self):
        _mirror(STUB_DIR, self.root / "dssbench" / "dataiku_stub")
        _mirror(HERE / "run_runnable.py", self.root / "dssbench" / "run_runnable.py")
        self.run_runnable = str(self.root / "dssbench" / "run_runnable.py")
        self.stub = str(self.root / "dssbench" / "dataiku_stub")
        entries = self._child_path()[2:]
        used = self._probe(self._child_path())
        self.paths = []
        for n, entry in enumerate(entries):
            tops = used.get(entry)
            if not tops:
                continue
            dest = self.root / "path" / str(n)
            for name in sorted(tops) + sorted(p.name for p in Path(entry).glob("*.libs")) \
                    + sorted(p.name for p in Path(entry).glob("*.dist-info")):
                if not (dest / name).exists():
                    _mirror(Path(entry) / name, dest / name)
            self.paths.append(str(dest))

    def _probe(self, path):
        """{sys.path entry: {top-level names}} of what the plugin's code imports (a probe run of it)."""
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(path), PYTHONDONTWRITEBYTECODE="1")
        out = subprocess.run([self.python, "-S", "-c", _PROBE], env=_python_env(self, env), capture_output=True,
                             text=True, timeout=300)
        if out.returncode != 0:
            raise RuntimeError("the runtime probe failed: %s" % out.stderr[-3000:])
        entries = sorted(path[2:], key=len, reverse=True)
        used = {}
        for f in json.loads(out.stdout.strip().splitlines()[-1]):
            for entry in entries:
                prefix = entry.rstrip("/") + "/"
                if f.startswith(prefix):
                    used.setdefault(entry, set()).add(f[len(prefix):].split("/")[0])
                    break
        return used

    # -- using -----------------------------------------------------------------------------------
    def plugin(self, plugin_dir) -> Path:
        """The runtime's copy of ``plugin_dir`` (the parts DSS uses), made on first use."""
        plugin_dir = Path(plugin_dir).resolve()
        with self._lock:
            if plugin_dir not in self._plugins:
                dest = self.root / "plugins" / str(len(self._plugins))
                for part in ("plugin.json", "python-lib", "python-runnables", "python-steps", "resource"):
                    if (plugin_dir / part).exists():
                        _mirror(plugin_dir / part, dest / part, copy=True)
                self._plugins[plugin_dir] = dest
            return self._plugins[plugin_dir]

    def home_of(self, account) -> Path:
        """HOME (and MPLCONFIGDIR, so matplotlib builds its font cache once) of ``account``."""
        with self._lock:
            if account.uid not in self._homes:
                home = self.root / "home" / str(account.uid)
                home.mkdir(parents=True)
                os.chmod(str(home.parent), 0o755)
                os.chown(str(home), account.uid, account.gid)
                os.chmod(str(home), 0o700)
                self._homes[account.uid] = home
            return self._homes[account.uid]

    def pythonpath(self, plugin_dir):
        return os.pathsep.join([self.stub, str(self.plugin(plugin_dir) / "python-lib")] + self.paths)


_PROBE = r"""
import json, os, sys
import nodeops.dss  # the stand-in dataiku, dataikuapi, requests and every operation
from nodeops import operations, render
from nodeops.report import Chart, Report
from dataikuapi.dss import macro, scenario  # noqa: F401
r = Report("probe", "probe", 1764072000000)
r.charts += [Chart("b", "b", "bars", labels=["a"], values=[1.0]),
             Chart("t", "t", "timeline", series={"x": [(0, 1.0), (86400000, 2.0)]}, forecast=[(0, 1.0)], threshold=3.0)]
render.to_html(r)
import prometheus_client, psutil, zoneinfo
prometheus_client.generate_latest(prometheus_client.CollectorRegistry())
list(psutil.process_iter(["pid", "cmdline", "memory_info"])); psutil.virtual_memory(); psutil.disk_partitions()
psutil.disk_io_counters(); psutil.net_io_counters(); psutil.cpu_percent(interval=0.01)
zoneinfo.available_timezones()
try:
    import tzdata  # noqa: F401
except ImportError:
    pass
print(json.dumps(sorted({getattr(m, "__file__", None) or "" for m in list(sys.modules.values())} - {""})))
"""


def _mirror(src, dest, skip=(), copy=False):
    """``dest`` with the content of ``src`` (a file or a folder tree, symlinks kept), readable by
    every uid: folders 0755, files hard-linked when already readable by all and on the same
    filesystem (and not ``copy``), else copied and made readable by all."""
    src, dest = Path(src), Path(dest)
    if not dest.parent.is_dir():
        dest.parent.mkdir(parents=True)
        for d in [dest.parent] + list(dest.parent.parents):
            if d == d.parent or (d.stat().st_mode & 0o755) == 0o755:
                break
            os.chmod(str(d), 0o755)
    if src.is_symlink():
        os.symlink(os.readlink(str(src)), str(dest))
        return
    if src.is_dir():
        dest.mkdir(exist_ok=True)
        os.chmod(str(dest), 0o755)
        for child in src.iterdir():
            if child.name in skip or child.name == "__pycache__" and copy:
                continue
            _mirror(child, dest / child.name, (), copy)
        return
    st = src.stat()
    if not copy and st.st_mode & stat.S_IROTH:
        try:
            os.link(str(src), str(dest))
            return
        except OSError:
            pass  # another filesystem, or links refused: copy
    shutil.copyfile(str(src), str(dest))
    os.chmod(str(dest), 0o755 if st.st_mode & stat.S_IXUSR else 0o644)


def _python_env(runtime, env):
    """``env`` for the runtime's interpreter: its own home and shared libraries."""
    env = dict(env)
    env["PYTHONHOME"] = str(runtime.home)
    env["LD_LIBRARY_PATH"] = os.pathsep.join([str(runtime.home / "lib")] + (
        [env["LD_LIBRARY_PATH"]] if env.get("LD_LIBRARY_PATH") else []))
    env.pop("VIRTUAL_ENV", None)
    env.pop("PYTHONSTARTUP", None)
    return env


def _spawn(argv, env, cwd, timeout, isolation=None, account=None, plugin_dirs=()):
    """Run a child the harness starts: as the test process, or as ``account`` from the runtime."""
    if account is None:
        return subprocess.run([sys.executable] + argv, env=env, cwd=cwd, capture_output=True, text=True,
                              timeout=timeout)
    runtime = isolation.runtime
    home = runtime.home_of(account)
    env = _python_env(runtime, dict(env, HOME=str(home), MPLCONFIGDIR=str(home / "matplotlib"),
                                    PYTHONDONTWRITEBYTECODE="1"))
    if plugin_dirs:
        env["PYTHONPATH"] = runtime.pythonpath(plugin_dirs[0])
    return subprocess.run([runtime.python, "-S"] + argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          user=account.uid, group=account.gid, extra_groups=[])


def _child_tmp(prefix, account):
    """A temporary folder for a child's spec, outcome and records, writable by the child."""
    tmp = tempfile.TemporaryDirectory(prefix=prefix)
    if account is not None:
        os.chown(tmp.name, account.uid, account.gid)
    return tmp


# ---- macros and steps ---------------------------------------------------------------------
def _env(url, ticket, dip_home, project_key, extra=None, plugin_dir=PLUGIN_DIR):
    env = dict(os.environ)
    parts = [str(STUB_DIR), str(Path(plugin_dir) / "python-lib")]
    if env.get("PYTHONPATH"):
        parts.append(env["PYTHONPATH"])  # e.g. the older dataikuapi of the compatibility run
    env["PYTHONPATH"] = os.pathsep.join(parts)
    env["DIP_HOME"] = str(dip_home)
    env["DKU_BACKEND_PORT"] = str(url.rsplit(":", 1)[1])
    env["DKU_API_TICKET"] = ticket
    env["DKU_CURRENT_PROJECT_KEY"] = project_key
    env.update(extra or {})
    return env


def run_macro_process(plugin_dir, macro_id, project_key, config, plugin_config, url, ticket, dip_home,
                      timeout=600, isolation=None, account=None) -> MacroOutcome:
    """Run a macro in a new process; with ``account`` (User Isolation mode), as that uid."""
    plugin_dir = Path(plugin_dir).resolve()
    code_dir = isolation.runtime.plugin(plugin_dir) if account is not None else plugin_dir
    runnable_py = code_dir / "python-runnables" / macro_id / "runnable.py"
    if not runnable_py.is_file():
        raise FileNotFoundError(runnable_py)
    script = isolation.runtime.run_runnable if account is not None else str(HERE / "run_runnable.py")
    with _child_tmp("dss-macro-", account) as tmp:
        spec = Path(tmp) / "spec.json"
        out = Path(tmp) / "outcome.json"
        result_type = json.loads((runnable_py.parent / "runnable.json").read_text()).get("resultType")
        spec.write_text(json.dumps({"runnable_py": str(runnable_py), "project_key": project_key,
                                    "config": config, "plugin_config": plugin_config, "result_type": result_type}))
        proc = _spawn([script, str(spec), str(out)], _env(url, ticket, dip_home, project_key, plugin_dir=plugin_dir),
                      tmp, timeout, isolation, account, [plugin_dir])
        if not out.is_file():
            return MacroOutcome(None, None, "macro process died (exit %s): %s" % (proc.returncode, proc.stderr[-2000:]),
                                stderr=proc.stderr)
        data = json.loads(out.read_text())
    return MacroOutcome(result=data["result"], result_kind=data["result_kind"], error=data["error"],
                        error_type=data.get("error_type"), traceback=data["traceback"], progress=data["progress"],
                        progress_target=data.get("progress_target"), stderr=proc.stderr)


def _read_records(directory, kind):
    path = Path(directory) / (kind + ".jsonl")
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def run_step_process(plugin_dir, step_id, project_key, config, url, ticket, dip_home, plugin_config=None,
                     timeout=600, isolation=None, account=None, variables=None) -> StepOutcome:
    """Run a step in a new process; with ``account`` (User Isolation mode), as that uid.
    ``variables``: what earlier steps of the scenario run set (``Scenario().get_all_variables()``)."""
    plugin_dir = Path(plugin_dir).resolve()
    code_dir = isolation.runtime.plugin(plugin_dir) if account is not None else plugin_dir
    step_py = code_dir / "python-steps" / step_id / "step.py"
    if not step_py.is_file():
        raise FileNotFoundError(step_py)
    with _child_tmp("dss-step-", account) as tmp:
        records = Path(tmp) / "records"
        extra = {
            "DKU_PLUGIN_STEP_CONFIG": json.dumps(config),
            # Observed in Dataiku's own steps: {"config": <the step's params>, "pluginConfig": <the plugin's
            # settings>} (guesses.STEP_PLUGIN_CONFIG_KEY; README, "not yet verified").
            "DKU_PLUGIN_CONFIG": json.dumps(plugin_config if plugin_config is not None else {"config": config}),
            "DKU_CUSTOM_RESOURCE_FOLDER": str(code_dir / "resource"),
            "DSSBENCH_RECORD_DIR": str(records),
            "DSSBENCH_SCENARIO_VARIABLES": json.dumps(variables or {}),
        }
        proc = _spawn([str(step_py)], _env(url, ticket, dip_home, project_key, extra, plugin_dir),
                      tmp, timeout, isolation, account, [plugin_dir])
        variables = {}
        for item in _read_records(records, "scenario-variables"):
            variables.update(item)
        return StepOutcome(proc.returncode, proc.stdout, proc.stderr, variables,
                           _read_records(records, "report-items"), _read_records(records, "static-insights"))


def run_params_setup_process(plugin_dir, kind, component_id, param_name, config, plugin_config, url, ticket,
                             dip_home, project_key, timeout=120, isolation=None, account=None):
    """The choices DSS would show for the field ``param_name`` of the form of ``kind``
    ("python-runnables" or "python-steps") ``component_id``: ``{"result", "error", "traceback"}``.
    Raises ValueError when DSS would not call any script for that field (the descriptor does not
    declare it with getChoicesFromPython, names no paramsPythonSetup, or the file is missing)."""
    plugin_dir = Path(plugin_dir).resolve()
    descriptor = "runnable.json" if kind == "python-runnables" else "step.json"
    data = json.loads((plugin_dir / kind / component_id / descriptor).read_text())
    fields = [p for p in data.get("params", []) if p.get("name") == param_name]
    if len(fields) != 1 or fields[0].get("getChoicesFromPython") is not True:
        raise ValueError("%s/%s declares no field %s with getChoicesFromPython" % (kind, component_id, param_name))
    setup = data.get("paramsPythonSetup")
    code_dir = isolation.runtime.plugin(plugin_dir) if account is not None else plugin_dir
    script = code_dir / "resource" / str(setup)
    if not setup or not script.is_file():
        raise ValueError("%s/%s: paramsPythonSetup %r is not a file of resource/" % (kind, component_id, setup))
    runner = isolation.runtime.run_runnable if account is not None else str(HERE / "run_runnable.py")
    with _child_tmp("dss-choices-", account) as tmp:
        spec, out = Path(tmp) / "spec.json", Path(tmp) / "outcome.json"
        payload = dict(guesses_payload(), parameterType=fields[0]["type"], parameterName=param_name,
                       rootModel=dict(config))
        spec.write_text(json.dumps({"kind": "params_setup", "script": str(script), "payload": payload,
                                    "config": dict(config),
                                    "plugin_config": dict(plugin_config), "inputs": []}))
        proc = _spawn([runner, str(spec), str(out)], _env(url, ticket, dip_home, project_key, plugin_dir=plugin_dir),
                      tmp, timeout, isolation, account, [plugin_dir])
        if not out.is_file():
            return {"result": None, "error": "process died (exit %s): %s" % (proc.returncode, proc.stderr[-2000:]),
                    "traceback": None}
        return json.loads(out.read_text())


def guesses_payload():
    """What DSS puts in every payload besides the field (guesses.PARAMS_SETUP_PAYLOAD)."""
    from .simulator import guesses

    return dict(guesses.PARAMS_SETUP_PAYLOAD)


#: The project a step runs in unless told: the administration project of small_spec().
DEFAULT_STEP_PROJECT = "ADMINPROJECT"


class Harness:
    """Macros and steps of the plugin at ``plugin_dir``, against a running simulator."""

    def __init__(self, sim, plugin_dir=PLUGIN_DIR):
        self.sim = sim
        self.plugin_dir = Path(plugin_dir)

    def runnable_json(self, macro_id):
        return json.loads((self.plugin_dir / "python-runnables" / macro_id / "runnable.json").read_text())

    def plugin_config(self):
        """The settings the simulator keeps for this plugin (Plugins > Settings, or the API), flat, as
        DSS hands them to a macro; {} when the simulator does not have the plugin installed."""
        from .simulator.routes_macros import installed_plugin_config

        return installed_plugin_config(self.sim, self.plugin_dir)

    def run_macro(self, macro_id, config=None, user="admin", project_key="ADMIN", plugin_config=None,
                  enforce_dss_permissions=True) -> MacroOutcome:
        """As DSS runs a macro: in User Isolation mode as the uid its ``impersonate`` flag gives.
        ``plugin_config``: by default the plugin's settings saved in the simulator."""
        definition = self.runnable_json(macro_id)
        if enforce_dss_permissions and definition.get("requiresGlobalAdmin") and not self.sim.state.is_admin(user):
            raise DSSRefused("DSS refuses macro %s to %s: it requires a global administrator" % (macro_id, user))
        iso = self.sim.user_isolation
        plugin_config = self.plugin_config() if plugin_config is None else plugin_config
        return run_macro_process(self.plugin_dir, macro_id, project_key, dict(config or {}), dict(plugin_config),
                                 self.sim.url, self.sim.issue_ticket(user), self.sim.state.dip_home, isolation=iso,
                                 account=iso.macro_account(definition) if iso else None)

    def field_choices(self, kind, component_id, param_name, config=None, user="admin", project_key="ADMIN",
                      plugin_config=None):
        """The ``do()`` answer DSS shows as the choices of a form field, for ``user`` who opened the form
        of ``kind`` ("python-runnables" or "python-steps") ``component_id``; in User Isolation mode the
        script runs as the end user (guesses.PARAMS_SETUP_IMPERSONATES)."""
        from .simulator import guesses

        iso = self.sim.user_isolation
        account = None if iso is None else iso.user if guesses.PARAMS_SETUP_IMPERSONATES else iso.service
        return run_params_setup_process(self.plugin_dir, kind, component_id, param_name, dict(config or {}),
                                        dict(plugin_config or {}), self.sim.url, self.sim.issue_ticket(user),
                                        self.sim.state.dip_home, project_key, isolation=iso, account=account)

    def run_step(self, step_id, config=None, user="admin", project_key=DEFAULT_STEP_PROJECT, plugin_config=None
                 ) -> StepOutcome:
        """As DSS runs a plugin step: in User Isolation mode as the end user. A step runs in a scenario,
        so in a project that exists (the macro it hands its DIP_HOME work to is run from there): by
        default the demo instance's administration project. ``plugin_config``: what get_plugin_config()
        returns, by default ``{"config": config, "pluginConfig": <the plugin's saved settings>}``."""
        if plugin_config is None:
            plugin_config = {"config": dict(config or {}), "pluginConfig": self.plugin_config()}
        iso = self.sim.user_isolation
        return run_step_process(self.plugin_dir, step_id, project_key, dict(config or {}), self.sim.url,
                                self.sim.issue_ticket(user), self.sim.state.dip_home, plugin_config, isolation=iso,
                                account=iso.step_account() if iso else None)


def run_scenario_and_wait(scenario, timeout=180):
    """``scenario.run_and_wait(no_fail=True)`` of dataikuapi, polling every 0.2 s (the 12.6.4 client
    sleeps 5 s between its polls): the finished ``DSSScenarioRun``."""
    import time

    fire = scenario.run()
    deadline = time.time() + timeout
    run = None
    while time.time() < deadline:
        run = run or fire.get_scenario_run()
        if run is not None:
            run.refresh()
            if not run.running:
                return run
        time.sleep(0.2)
    raise AssertionError("scenario %s still running after %d s" % (scenario.id, timeout))
