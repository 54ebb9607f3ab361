"""The scenario runner: what DSS does with a step-based scenario once a run starts.

``POST .../scenarios/{id}/run`` creates the run (running) and hands it to
:func:`start`, which executes the steps one after the other in a thread, as
DSS's scenario engine does, and then records the run's result:

- ``pystep_<plugin>_<step>`` of an installed plugin: ``python-steps/<step>/step.py``
  through the harness (its own process, ``params.config`` as the step config),
  as the run's user; under User Isolation as the end user;
- ``runnable`` (a "Run a macro" step): ``params.runnableType``
  ``pyrunnable_<plugin>_<macro>`` through the macro process, with
  ``params.config`` and ``params.adminConfig``, refused like DSS when the macro
  requires an administrator the run's user is not; under User Isolation as the
  uid the macro's ``impersonate`` gives;
- DSS's own step types (a build, SQL...): the simulator has no engine for them,
  the step stays running until the run is aborted
  (guesses.BUILTIN_STEP_TYPES_NOT_SIMULATED), as the runs tests start and abort;
- anything else, a plugin step of a plugin not installed included: the step
  fails, "Unknown step type" (guesses.UNKNOWN_STEP_TYPE).

Run conditions: ``RUN_IF_STATUS_MATCH`` (the scenario's status so far, the worst
outcome of the steps run, among ``runConditionStatuses``), ``RUN_ALWAYS``,
``DISABLED`` (and ``enabled: false``, guesses.ENABLED_FALSE_SKIPS) never; a
failed step is retried ``maxRetriesOnFail`` times; ``resetScenarioStatus`` makes
the step's outcome the scenario's status. The scenario variables a step sets
are kept with the run and given to the later steps; its static insights are
saved in the project (``State.insight_data``); its output goes to the run's log.
"""

import json
import os
import threading
import time
from pathlib import Path

from . import guesses

OUTCOMES = ("SUCCESS", "WARNING", "FAILED")


def _worse(a, b):
    return a if OUTCOMES.index(a) >= OUTCOMES.index(b) else b


def run_as(settings, caller):
    """Who the run runs as (guesses.SCENARIO_RUN_AS)."""
    return settings.get("runAsUser") or caller


def start(sim, key, sid, settings, run):
    """Execute the steps of ``run`` (already recorded, running) in a thread."""
    sim.state.step_runs[(key, sid, run["runId"])] = []
    sim.state.scenario_variables[(key, sid, run["runId"])] = {}
    thread = threading.Thread(target=_Run(sim, key, sid, settings, run).execute, name="scenario-%s" % sid,
                              daemon=True)
    thread.start()
    return thread


def abort(state, key, sid, run, now):
    """What an abort does to the steps of ``run``: the one running ends ABORTED (under the state lock)."""
    for record in state.step_runs.get((key, sid, run["runId"]), []):
        if "result" not in record:
            record["end"] = now
            record["result"] = {"outcome": "ABORTED", "type": "STEP_DONE"}


class _Run:
    def __init__(self, sim, key, sid, settings, run):
        self.sim, self.state, self.key, self.sid, self.run = sim, sim.state, key, sid, run
        self.settings = settings
        self.login = run["runAsUser"]["realUserLogin"]
        self.run_key = (key, sid, run["runId"])
        self.log_path = self.state.dip_home / "scenarios" / key / sid / run["runId"] / "log.log"

    # -- the run ---------------------------------------------------------------------------
    def aborted(self):
        with self.state.lock:
            return "result" in self.run

    def log(self, text):
        with self.state.lock:
            self.state.append_text(self.log_path, text if text.endswith("\n") else text + "\n")

    def execute(self):
        status = "SUCCESS"
        try:
            steps = (self.settings.get("params") or {}).get("steps") or []
            for index, step in enumerate(steps):
                if self.aborted():
                    return
                if not self.should_run(step, status):
                    self.log("[%s] Skipping step %s (%s)" % (self.run["runId"], step.get("name") or step.get("id"),
                                                            step.get("runConditionType", "RUN_IF_STATUS_MATCH")))
                    continue
                outcome = self.run_step(index, step)
                if outcome is None:  # aborted while the step was running
                    return
                status = outcome if step.get("resetScenarioStatus") else _worse(status, outcome)
        except Exception as e:  # a bug of the bench: the run fails and says why, it never hangs
            self.log("[%s] simulator error: %r" % (self.run["runId"], e))
            status = "FAILED"
        with self.state.lock:
            if "result" not in self.run:
                self.run["end"] = self.state.clock()
                self.run["result"] = {"outcome": status, "type": "SCENARIO_DONE"}
        self.log("[%s] Scenario run finished, outcome=%s" % (self.run["runId"], status))

    def should_run(self, step, status):
        if guesses.ENABLED_FALSE_SKIPS and step.get("enabled") is False:
            return False
        condition = step.get("runConditionType", "RUN_IF_STATUS_MATCH")
        if condition == "DISABLED":
            return False
        if condition == "RUN_ALWAYS":
            return True
        if condition == "RUN_IF_STATUS_MATCH":
            return status in (step.get("runConditionStatuses") or ["SUCCESS", "WARNING"])
        raise ValueError("run condition %s is not simulated" % condition)

    # -- one step ----------------------------------------------------------------------------
    def run_step(self, index, step):
        record = {"step": {"id": step.get("id", "step_%d" % index), "type": step.get("type"),
                           "name": step.get("name", "Step #%d" % (index + 1))},
                  "runId": "%s_%d" % (self.run["runId"], index), "start": self.state.clock(), "end": 0,
                  "additionalReportItems": []}
        with self.state.lock:
            self.state.step_runs[self.run_key].append(record)
        self.log("[%s] Running step %s (%s)" % (self.run["runId"], record["step"]["name"], step.get("type")))
        attempts = 1 + max(0, int(step.get("maxRetriesOnFail") or 0))
        for attempt in range(attempts):
            outcome, error = self.execute_step(step)
            if outcome is None or outcome != "FAILED" or attempt == attempts - 1 or self.aborted():
                break
            self.log("[%s] Step failed (%s), retry %d of %d" % (self.run["runId"], error[1], attempt + 1,
                                                               attempts - 1))
            time.sleep(float(step.get("delayBetweenRetries") or 0) * self.sim.retry_delay_scale)
        if outcome is None:
            return None
        result = {"outcome": outcome, "type": "STEP_DONE"}
        if error is not None:
            clazz, message = error
            result["thrown"] = {"clazz": clazz, "title": message, "message": message}  # guesses.STEP_THROWN_FIELDS
        with self.state.lock:
            if "result" not in record:  # else the run was aborted meanwhile
                record["end"] = self.state.clock()
                record["result"] = result
        return outcome

    def execute_step(self, step):
        """``(outcome, (error class, message) or None)``; outcome None when the run was aborted meanwhile."""
        stype = step.get("type") or ""
        params = step.get("params") or {}
        if stype.startswith("pystep_"):
            found = self._component(stype[len("pystep_"):], "python-steps", "step.json")
            if found:
                return self.run_plugin_step(found[0], found[1], params)
        elif stype == "runnable":
            rtype = params.get("runnableType") or ""
            found = self._component(rtype[len("pyrunnable_"):], "python-runnables", "runnable.json") \
                if rtype.startswith("pyrunnable_") else None
            if found:
                return self.run_macro_step(found[0], found[1], params)
            return "FAILED", ("", "Macro %s does not exist" % rtype)
        elif stype in guesses.BUILTIN_STEP_TYPES_NOT_SIMULATED:
            while not self.aborted():  # no engine for it: it runs until the run is aborted
                time.sleep(0.05)
            return None, None
        return "FAILED", ("", guesses.UNKNOWN_STEP_TYPE % stype)

    def _component(self, rest, kind, descriptor):
        """(plugin folder, component id) of an installed plugin's ``<plugin>_<component>``, or None."""
        for plugin_id, folder in sorted(self.sim.plugins.items(), key=lambda kv: -len(kv[0])):
            if rest.startswith(plugin_id + "_"):
                component = rest[len(plugin_id) + 1:]
                if (Path(folder) / kind / component / descriptor).is_file():
                    return Path(folder), component
        return None

    def run_plugin_step(self, plugin_dir, step_id, params):
        from dssbench import harness

        from .routes_macros import installed_plugin_config

        iso = self.sim.user_isolation
        account = iso.step_account() if iso else None
        with self.state.lock:
            variables = dict(self.state.scenario_variables[self.run_key])
        config = dict(params.get("config") or {})
        plugin_config = {"config": config, guesses.STEP_PLUGIN_CONFIG_KEY: installed_plugin_config(self.sim, plugin_dir)}
        outcome = harness.run_step_process(plugin_dir, step_id, self.key, config, self.sim.url,
                                           self.sim.issue_ticket(self.login), self.state.dip_home, plugin_config,
                                           isolation=iso, account=account, variables=variables)
        with self.state.lock:
            self.sim.executions.append({"kind": "step", "id": step_id, "login": self.login, "scenario": self.sid,
                                        "uid": account.uid if account else os.geteuid(), "outcome": outcome})
            self.state.scenario_variables[self.run_key].update(outcome.variables)
            for item in outcome.insights:
                self.state.insight_data[(item.get("projectKey") or self.key, item["id"])] = item
        self.log(outcome.stdout + outcome.stderr)
        if outcome.ok:
            return "SUCCESS", None
        clazz, _, message = outcome.error_message.partition(": ")  # the traceback's last line
        return "FAILED", (clazz, message) if message else ("", clazz)

    def run_macro_step(self, plugin_dir, macro_id, params):
        from .routes_macros import execute_macro

        with open(plugin_dir / "python-runnables" / macro_id / "runnable.json", encoding="utf-8") as f:
            definition = json.load(f)
        if definition.get("requiresGlobalAdmin") and not self.state.is_admin(self.login):
            return "FAILED", ("", "Macro %s requires a DSS administrator" % macro_id)
        config = dict(params.get("config") or {})
        config.update(params.get("adminConfig") or {})
        outcome = execute_macro(self.sim, plugin_dir, macro_id, definition, self.key, config, self.login)
        self.log(outcome.stderr)
        return ("SUCCESS", None) if outcome.ok else ("FAILED", (outcome.error_class, outcome.error))
