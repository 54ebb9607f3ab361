"""Run node-ops macros and steps the way DSS does.

- A macro: a new Python process loads ``python-runnables/<id>/runnable.py``,
  instantiates ``MyRunnable(project_key, config, plugin_config)`` and calls
  ``run(progress_callback)`` (see run_runnable.py). DSS itself refuses a
  ``requiresGlobalAdmin`` macro to a non-administrator before any code runs;
  :meth:`Harness.run_macro` does the same unless told not to (to prove the
  check in code).
- A step: ``python-steps/<id>/step.py`` runs as a script in its own process with
  DSS's environment variables; it fails when it raises.

Both get the stand-in ``dataiku`` package and the plugin's ``python-lib`` on
PYTHONPATH, DIP_HOME, and an API ticket for the user they run as.
"""

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, List, Optional

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


def _env(url, ticket, dip_home, project_key, extra=None):
    env = dict(os.environ)
    parts = [str(STUB_DIR), str(PLUGIN_DIR / "python-lib")]
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
                      timeout=600) -> MacroOutcome:
    plugin_dir = Path(plugin_dir).resolve()
    runnable_py = plugin_dir / "python-runnables" / macro_id / "runnable.py"
    if not runnable_py.is_file():
        raise FileNotFoundError(runnable_py)
    with tempfile.TemporaryDirectory(prefix="dss-macro-") as tmp:
        spec = Path(tmp) / "spec.json"
        out = Path(tmp) / "outcome.json"
        spec.write_text(json.dumps({"runnable_py": str(runnable_py), "project_key": project_key,
                                    "config": config, "plugin_config": plugin_config}))
        proc = subprocess.run([sys.executable, str(HERE / "run_runnable.py"), str(spec), str(out)],
                              env=_env(url, ticket, dip_home, project_key), cwd=tmp, capture_output=True,
                              text=True, timeout=timeout)
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
                     timeout=600) -> StepOutcome:
    plugin_dir = Path(plugin_dir).resolve()
    step_py = plugin_dir / "python-steps" / step_id / "step.py"
    if not step_py.is_file():
        raise FileNotFoundError(step_py)
    with tempfile.TemporaryDirectory(prefix="dss-step-") as tmp:
        records = Path(tmp) / "records"
        extra = {
            "DKU_PLUGIN_STEP_CONFIG": json.dumps(config),
            # Observed in Dataiku's own steps: {"config": <the step's params>} (see README, "not yet verified").
            "DKU_PLUGIN_CONFIG": json.dumps(plugin_config if plugin_config is not None else {"config": config}),
            "DKU_CUSTOM_RESOURCE_FOLDER": str(Path(plugin_dir) / "resource"),
            "DSSBENCH_RECORD_DIR": str(records),
        }
        proc = subprocess.run([sys.executable, str(step_py)], env=_env(url, ticket, dip_home, project_key, extra),
                              cwd=tmp, capture_output=True, text=True, timeout=timeout)
        variables = {}
        for item in _read_records(records, "scenario-variables"):
            variables.update(item)
        return StepOutcome(proc.returncode, proc.stdout, proc.stderr, variables,
                           _read_records(records, "report-items"), _read_records(records, "static-insights"))


class Harness:
    """Macros and steps of the plugin at ``plugin_dir``, against a running simulator."""

    def __init__(self, sim, plugin_dir=PLUGIN_DIR):
        self.sim = sim
        self.plugin_dir = Path(plugin_dir)

    def runnable_json(self, macro_id):
        return json.loads((self.plugin_dir / "python-runnables" / macro_id / "runnable.json").read_text())

    def run_macro(self, macro_id, config=None, user="admin", project_key="ADMIN", plugin_config=None,
                  enforce_dss_permissions=True) -> MacroOutcome:
        definition = self.runnable_json(macro_id)
        if enforce_dss_permissions and definition.get("requiresGlobalAdmin") and not self.sim.state.is_admin(user):
            raise DSSRefused("DSS refuses macro %s to %s: it requires a global administrator" % (macro_id, user))
        return run_macro_process(self.plugin_dir, macro_id, project_key, dict(config or {}), dict(plugin_config or {}),
                                 self.sim.url, self.sim.issue_ticket(user), self.sim.state.dip_home)

    def run_step(self, step_id, config=None, user="admin", project_key="ADMIN", plugin_config=None) -> StepOutcome:
        return run_step_process(self.plugin_dir, step_id, project_key, dict(config or {}), self.sim.url,
                                self.sim.issue_ticket(user), self.sim.state.dip_home, plugin_config)
