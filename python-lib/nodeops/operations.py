"""The registry of operations: one entry per macro / step / command.

An operation is its id (the folder name under python-runnables/ and
python-steps/, and the command-line sub-command), its parameters, the checks
across its parameters, one function ``run(ctx, params, progress) -> Report``,
and whether it reads the data directory (``reads_dip_home``).

``reads_dip_home`` is the one place that decides who runs what under User
Isolation: a macro that reads DIP_HOME declares ``"impersonate": false`` in
runnable.json (tools/sync_params.py writes it from here; a test checks it), so
DSS runs it as the service account; every other macro runs impersonated. A
step has no such flag and may run as the scenario's user, who cannot read
DIP_HOME: the step of an operation that reads DIP_HOME hands that work to the
macro of the same id through the API (:mod:`nodeops.delegation`).
"""

import re
from dataclasses import dataclass, field
from typing import Callable, Optional, Tuple

from . import (adminproject, audit, backup, caches, capacity, culling, dssapi, history, monitoring, reclaim, retention,
               settings)
from .errors import ParameterError, Unavailable
from .params import CHOICES_SCRIPT, Param, parse_params, to_dss_json, values_of


@dataclass(frozen=True)
class Operation:
    id: str
    title: str
    #: Given: the declaration, in the order of the form, separators included. After construction:
    #: the parameters that hold values (what parsing, the checks and the command line see); the
    #: whole declaration is ``form``.
    params: Tuple[Param, ...]
    run: Callable
    #: ``check(params, ctx) -> [problem]``: the operation's checks across parameters (paths, keys,
    #: hosts), run after each value is parsed; a problem starts with the quoted name of its parameter.
    check: Optional[Callable] = None
    #: DSS "resultType" of the macro.
    result_type: str = "HTML"
    #: When set, the step also saves its HTML report as this static insight.
    insight_id: str = ""
    #: The operation runs (and reports it) when the DSS API cannot even say who the user is.
    reports_unreachable_api: bool = False
    #: It reads files of the data directory (a walk, config files, logs), which under User
    #: Isolation only the DSS service account may do. Looking at the filesystem's size
    #: (statvfs) or at processes (/proc) is not reading DIP_HOME. Set for every operation.
    reads_dip_home: Optional[bool] = None
    #: ``prepare(ctx, params)``: what the step does itself, with its own rights, before it hands
    #: the DIP_HOME work to the macro (e.g. create the managed folder only the step creates).
    step_prepare: Optional[Callable] = None
    #: ``step_apply(report, params) -> report``: what the step's own parameters decide on the report
    #: the macro made (e.g. the audit's fail_severity), after ``fail_on_error``.
    step_apply: Optional[Callable] = None
    #: ``progress_target(ctx, params) -> (target, unit)``: what DSS's progress bar counts, known
    #: cheaply before the run (DSS asks once, before run); unit SIZE, FILES, RECORDS or NONE.
    progress_target: Optional[Callable] = None
    #: The whole declaration (separators included), in the order of the form.
    form: Tuple[Param, ...] = field(init=False, repr=False)

    def __post_init__(self):
        if self.reads_dip_home is None:
            raise ValueError("operation %s: say whether it reads DIP_HOME (reads_dip_home)" % self.id)
        object.__setattr__(self, "form", tuple(self.params))
        object.__setattr__(self, "params", values_of(self.form))
        names = [p.name for p in self.form]
        if len(set(names)) != len(names):
            raise ValueError("operation %s: a name is declared twice in %s" % (self.id, names))
        fed = settings.fed(self.params)
        for p in self.form:
            hiders = set(re.findall(r"model\.(\w+)", p.visible_if)) & set(fed)
            if hiders:  # empty there means "the plugin setting", not "does not apply"
                raise ValueError("operation %s: %s is hidden by %s, which a plugin setting can fill while it is "
                                 "empty" % (self.id, p.name, ", ".join(sorted(hiders))))

    def parse(self, config, ctx=None):
        """The typed, checked parameters; one ParameterError naming every bad one.

        An empty field fed by a plugin-level setting takes the setting (``ctx.settings``,
        :func:`effective_config`). Without ``ctx`` there are no settings, and the checks that
        need the context (DIP_HOME, the current project) are left out."""
        config, origins = self.effective_config(config, ctx)
        check = None if self.check is None else (lambda values: self.check(values, ctx))
        try:
            return parse_params(self.id, self.params, config, check)
        except ParameterError as e:
            component = ctx.component if ctx is not None else "macro"
            raise ParameterError(self.id, [self._explain(p, origins, component) for p in e.problems]) from None

    def effective_config(self, config, ctx=None):
        """``(config, origins)``: the config with its empty setting-fed fields filled from the
        settings of ``ctx`` (see :func:`nodeops.settings.apply`)."""
        component = ctx.component if ctx is not None else "macro"
        return settings.apply(self.params, config, ctx.settings if ctx is not None else {}, component)

    def _explain(self, problem, origins, component):
        """A problem about a value that came from a setting says so; 'mandatory' says where else to set it."""
        for name, where in origins.items():
            quoted = "'%s'" % name
            if problem.startswith(quoted):
                return "%s (from %s)%s" % (quoted, where, problem[len(quoted):])
        for name, setting in settings.fed(self.params).items():
            if problem.startswith("'%s' is mandatory" % name):
                return "%s, or set %s" % (problem, settings.origin(setting, component))
        return problem

    def declared_params(self, component):
        """What runnable.json ("macro") or step.json ("step") declares, in form order: the parameters
        shown in that component and the separators of the sections that still hold one."""
        shown = [p for p in self.form if p.shown_in(component)]
        return tuple(p for i, p in enumerate(shown)
                     if p.is_value or (i + 1 < len(shown) and shown[i + 1].is_value))

    def descriptor(self, component, data):
        """``data`` (the content of runnable.json or step.json) as the declaration makes it: its
        ``params``, its ``paramsPythonSetup`` (the choices script, when a field picks from a list
        DSS offers), and for a macro ``impersonate`` (False only when it reads DIP_HOME)."""
        declared = self.declared_params(component)
        out = {k: v for k, v in data.items() if k != "paramsPythonSetup"}
        if any(p.choices_from for p in declared):
            out["paramsPythonSetup"] = CHOICES_SCRIPT
        out["params"] = [to_dss_json(p) for p in declared]
        if component == "macro":
            out["impersonate"] = self.impersonate
        return out

    @property
    def impersonate(self):
        """runnable.json's ``impersonate``: False (the DSS service account) only for a macro that
        reads DIP_HOME."""
        return not self.reads_dip_home

    def apply_step_params(self, report, params):
        """Apply, on a report the macro made, what only the step's parameters decide: with
        ``fail_on_error`` false, errors do not fail the step (the macro ran with its default)."""
        if "fail_on_error" in params and not params["fail_on_error"] and report.failure_from_errors:
            report.failure = None
            report.failure_from_errors = False
        if self.step_apply is not None:
            report = self.step_apply(report, params)
        return report


def _scope_check(family):
    return lambda params, ctx: retention.scope_problems(family, params, ctx)


def _history_folder(folder_name):
    """The step creates its history folder (the macro only adds to an existing one)."""

    def prepare(ctx, params):
        if params.get("history") and ctx.client is not None and ctx.project_key:
            try:
                dssapi.managed_folder(ctx.client, ctx.project_key, folder_name, create=True)
            except Unavailable:
                pass  # the macro's own attempt reports it, as the local run would
    return prepare


OPERATIONS = {
    op.id: op
    for op in (
        # a walk of DIP_HOME, install.ini, config/
        Operation(capacity.OPERATION_ID, capacity.TITLE, capacity.PARAMS, capacity.run,
                  insight_id=capacity.INSIGHT_ID, reads_dip_home=True,
                  step_prepare=_history_folder(history.FOLDER_NAME), progress_target=capacity.progress_target),
        # jobs/, scenarios/, exports/: listed, measured, deleted
        Operation(retention.JOBS.id, retention.JOBS.title, retention.LOG_PARAMS, retention.run_jobs,
                  _scope_check(retention.JOBS), reads_dip_home=True,
                  progress_target=retention.progress_target(retention.JOBS)),
        Operation(retention.SCENARIOS.id, retention.SCENARIOS.title, retention.LOG_PARAMS, retention.run_scenarios,
                  _scope_check(retention.SCENARIOS), reads_dip_home=True,
                  progress_target=retention.progress_target(retention.SCENARIOS)),
        Operation(retention.EXPORTS.id, retention.EXPORTS.title, retention.EXPORT_PARAMS, retention.run_exports,
                  reads_dip_home=True, progress_target=retention.progress_target(retention.EXPORTS)),
        # saved_models/, analysis-data/, the project-keyed folders, DIP_HOME's root, diagnosis/: measured,
        # deleted; saved-model versions and ML splits deleted through the DSS API
        Operation(reclaim.OPERATION_ID, reclaim.TITLE, reclaim.PARAMS, reclaim.run, reclaim.check,
                  reads_dip_home=True, progress_target=reclaim.progress_target),
        # the DSS API, and /proc for the memory of local kernels (readable for other users' processes)
        Operation(culling.OPERATION_ID, culling.TITLE, culling.PARAMS, culling.run, reads_dip_home=False,
                  progress_target=culling.progress_target),
        # install.ini, config/dip.properties, config/general-settings.json, the log folders
        Operation(audit.OPERATION_ID, audit.TITLE, audit.PARAMS, audit.run, audit.check, insight_id=audit.INSIGHT_ID,
                  reads_dip_home=True, step_apply=audit.fail_at),
        # the DSS API only
        Operation(adminproject.OPERATION_ID, adminproject.TITLE, adminproject.PARAMS, adminproject.run,
                  adminproject.check, reads_dip_home=False),
        # statvfs of DIP_HOME's filesystem, /proc, psutil, the DSS API; the history through the API
        Operation(monitoring.COLLECT_ID, "Collect metrics", monitoring.COLLECT_PARAMS, monitoring.collect,
                  monitoring.check_collect, reads_dip_home=False),
        Operation(monitoring.HEALTH_ID, "Health check", monitoring.HEALTH_PARAMS, monitoring.health,
                  reports_unreachable_api=True, reads_dip_home=False),
        # config/ (or all of DIP_HOME) archived
        Operation(backup.OPERATION_ID, "Backup", backup.PARAMS, backup.run, backup.check, reads_dip_home=True,
                  progress_target=backup.progress_target),
        # command line only: an archive outside DIP_HOME, a restore into a new folder
        Operation(backup.VERIFY_ID, "Verify a backup", backup.VERIFY_PARAMS, backup.run_verify,
                  reads_dip_home=False),
        Operation(backup.RESTORE_ID, "Restore a backup", backup.RESTORE_PARAMS, backup.run_restore,
                  reads_dip_home=False),
        # command line only, DSS stopped: tmp/ and caches/ of DIP_HOME emptied (no macro: DSS would be running)
        Operation(caches.OPERATION_ID, caches.TITLE, caches.PARAMS, caches.run, reads_dip_home=True),
    )
}


@dataclass(frozen=True)
class Macro:
    """A folder under python-runnables/: an operation and the face of its result.

    DSS reads a macro's result as the ``resultType`` its runnable.json declares: the Python
    side only sends a string (KIT ``runnables/server.py``: a ResultTable's ``to_json()``, a
    dict's ``json.dumps``, a str as is) and the page shows it by the type DSS gives back
    (KIT ``runnables.js``, ``runnable-result.html``). So a form field cannot switch one macro
    between HTML and a table (see guesses.RESULT_TYPE_IS_STATIC in the bench): the table face
    of an operation is a second macro, ``<id>-table``, declared RESULT_TABLE, that DSS shows
    with its Export button (CSV, Excel, a dataset)."""

    id: str
    operation: Operation
    result_type: str
    #: RESULT_TABLE: the key of the report's table returned, and what each row's "Outcome"
    #: column says (``outcome(report, row) -> str``).
    table: str = ""
    outcome: Optional[Callable] = None


def _deleted(report, row):
    return "would delete" if report.dry_run else "deleted"


def _decision(report, row):
    return row["decision"]


#: The table faces: what was (or would be) deleted, the sessions and what was done to each.
TABLE_MACROS = {
    m.id: m for m in (
        Macro(retention.JOBS.id + "-table", OPERATIONS[retention.JOBS.id], "RESULT_TABLE", "entries", _deleted),
        Macro(retention.SCENARIOS.id + "-table", OPERATIONS[retention.SCENARIOS.id], "RESULT_TABLE", "entries",
              _deleted),
        Macro(retention.EXPORTS.id + "-table", OPERATIONS[retention.EXPORTS.id], "RESULT_TABLE", "entries",
              _deleted),
        Macro(culling.OPERATION_ID + "-table", OPERATIONS[culling.OPERATION_ID], "RESULT_TABLE", "sessions",
              _decision),
    )
}


def macro(macro_id) -> Macro:
    """The macro of the folder ``python-runnables/<macro_id>``: an operation's own (its report
    as HTML, or what its registry entry says), or a table face (:data:`TABLE_MACROS`)."""
    if macro_id in TABLE_MACROS:
        return TABLE_MACROS[macro_id]
    op = get(macro_id)
    return Macro(op.id, op, op.result_type)


def get(operation_id) -> Operation:
    try:
        return OPERATIONS[operation_id]
    except KeyError:
        raise KeyError("unknown node-ops operation %r (known: %s)" % (operation_id, ", ".join(sorted(OPERATIONS)))) from None
