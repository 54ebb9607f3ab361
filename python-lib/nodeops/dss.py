"""The only module that imports ``dataiku``: node-ops inside DSS.

``runnable.py`` and ``step.py`` files import from here and stay a few lines
long: read the config DSS gives, build the context, run one operation, render.
"""

import os

import dataiku
from dataiku.customstep import get_plugin_config, get_step_config
from dataiku.insights import save_data as save_insight
from dataiku.runnables import ResultTable, Runnable
from dataiku.scenario import Scenario

from . import choices, delegation, dssapi, operations, render, runner, settings
from .context import Context
from .errors import NodeOpsError

__all__ = ["MacroRunnable", "ResultTable", "build_context", "param_choices", "progress_target",
           "run_macro", "run_step"]


def param_choices(payload, config=None, plugin_config=None):
    """Body of ``do()`` in resource/choices.py: the choices of one field of a form
    (:mod:`nodeops.choices`), listed with the rights of the user who opened it."""
    try:
        client = _client()
    except NodeOpsError:  # e.g. a bad $NODEOPS_API_TIMEOUT: the form says so instead of a traceback
        client = None
    return choices.choices(client, payload)


def _client():
    """``dataiku.api_client()``: the rights of the user running the code; every call it makes
    times out (``$NODEOPS_API_TIMEOUT`` seconds, default 30), the first one included."""
    return dssapi.set_timeout(dataiku.api_client(), dssapi.timeout_seconds(os.environ.get(dssapi.TIMEOUT_ENV)))


def build_context(operation_id, project_key=None, component="macro", plugin_settings=None) -> Context:
    """The context of the user running the macro or the scenario.

    DIP_HOME is set by DSS for plugin code (readable when the component declares
    ``impersonate: false``). ``plugin_settings``: the plugin-level settings (:mod:`nodeops.settings`).
    """
    client = _client()
    login, is_admin, api_error = runner.identify(operation_id, client)
    return Context(dip_home=os.environ.get("DIP_HOME"), client=None if api_error else client, user=login,
                   is_admin=is_admin, project_key=project_key, component=component, api_error=api_error,
                   save_insight=save_insight, settings=dict(plugin_settings or {}))


def progress_target(macro_id, project_key, config, plugin_config):
    """Body of ``MyRunnable.get_progress_target``: ``(target, unit)`` or None. DSS asks for it once,
    before ``run``, and fails the whole run when it raises: this never raises (the run then reports
    what went wrong in its own words). It asks the API nothing to know who the user is: DSS runs
    these macros for administrators only (requiresGlobalAdmin). A table face (``<operation>-table``)
    counts what its operation counts."""
    try:
        operation_id = operations.macro(macro_id).operation.id
    except KeyError:
        return None
    try:
        client = _client()
    except Exception:  # noqa: BLE001 -- no API here: the targets that need none still work
        client = None
    ctx = Context(dip_home=os.environ.get("DIP_HOME"), client=client, project_key=project_key, component="macro",
                  settings=settings.from_macro(plugin_config))
    return runner.progress_target(operation_id, ctx, config)


class MacroRunnable(Runnable):
    """The body of every node-ops macro. ``runnable.py`` subclasses it and names its macro:

        from nodeops import dss

        class MyRunnable(dss.MacroRunnable):
            macro_id = "purge-job-logs"

    DSS takes the single subclass of ``Runnable`` among the module's names: import the module
    ``dss``, never this class by name, or the module would hold two."""

    macro_id = None  # the folder name under python-runnables/

    def __init__(self, project_key, config, plugin_config):
        self.project_key = project_key
        self.config = config
        self.plugin_config = plugin_config
        self.target = None

    def get_progress_target(self):
        self.target = progress_target(self.macro_id, self.project_key, self.config, self.plugin_config)
        return self.target

    def run(self, progress_callback):
        return run_macro(self.macro_id, self.project_key, self.config, self.plugin_config, progress_callback,
                         target=self.target)


def run_macro(macro_id, project_key, config, plugin_config, progress_callback=None, target=None):
    """Body of ``MyRunnable.run``: the report as HTML, or, for a macro declared RESULT_TABLE
    (``<operation>-table``, :data:`nodeops.operations.TABLE_MACROS`), one of its tables as a
    ResultTable. ``target``: what :func:`progress_target` returned, the progress is reported against it."""
    macro = operations.macro(macro_id)
    operation_id = macro.operation.id
    ctx = build_context(operation_id, project_key, plugin_settings=settings.from_macro(plugin_config))
    report = runner.run_operation(operation_id, ctx, config, progress_callback, target)
    if macro.result_type == "RESULT_TABLE":
        return render.to_result_table(report, ResultTable, macro.table, outcome=macro.outcome)
    return render.to_html(report)


class StepFailed(NodeOpsError):
    """Raised by a step to fail its scenario (DSS shows this message)."""


def run_step(operation_id, delegate=None):
    """Body of ``step.py``: run, log the report, set scenario variables, fail if asked.

    An operation that reads DIP_HOME is run by its macro (``impersonate: false``: the DSS
    service account) through the API, whatever the node's isolation (:mod:`nodeops.delegation`);
    the rest runs here. ``delegate`` False runs everything in this process, as node-ops did
    before (which fails under User Isolation when the step runs as the scenario's user)."""
    config = get_step_config()
    plugin_config = get_plugin_config()
    if not (isinstance(plugin_config, dict) and settings.STEP_KEY in plugin_config):  # settings.DSS_FACTS
        print("node-ops: this DSS gives steps no %r in get_plugin_config(): the plugin settings are not "
              "used as defaults here; type the values in the step" % settings.STEP_KEY)
    ctx = build_context(operation_id, dataiku.default_project_key(), component="step",
                        plugin_settings=settings.from_step(plugin_config))
    if operations.get(operation_id).reads_dip_home if delegate is None else delegate:
        report = delegation.run_operation(operation_id, ctx, config)
    else:
        report = runner.run_operation(operation_id, ctx, config)
    print(render.to_text(report))
    if ctx.api_error is None:  # else the backend does not answer: the failure below says so, without waiting on it
        insight = operations.get(operation_id).insight_id
        if insight:  # the report on the project's dashboards
            save_insight(insight, payload=render.to_html(report), content_type="text/html", label=report.title)
        Scenario().set_scenario_variables(**runner.scenario_variables(report))
    if report.failure:
        raise StepFailed(report.failure)
    return report
