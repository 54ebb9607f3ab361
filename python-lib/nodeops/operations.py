"""The registry of operations: one entry per macro / step / command.

An operation is its id (the folder name under python-runnables/ and
python-steps/, and the command-line sub-command), its parameters, the checks
across its parameters, and one function ``run(ctx, params, progress) -> Report``.
"""

from dataclasses import dataclass
from typing import Callable, Optional, Tuple

from . import adminproject, audit, backup, capacity, culling, monitoring, retention
from .params import Param, parse_params


@dataclass(frozen=True)
class Operation:
    id: str
    title: str
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

    def parse(self, config, ctx=None):
        """The typed, checked parameters; one ParameterError naming every bad one.

        Without ``ctx`` the checks that need the context (DIP_HOME, the current
        project) are left out."""
        check = None if self.check is None else (lambda values: self.check(values, ctx))
        return parse_params(self.id, self.params, config, check)

    def declared_params(self, component):
        """The parameters declared in runnable.json ("macro") or step.json ("step")."""
        return tuple(p for p in self.params if component == "step" or not p.step_only)


def _scope_check(family):
    return lambda params, ctx: retention.scope_problems(family, params, ctx)


OPERATIONS = {
    op.id: op
    for op in (
        Operation(capacity.OPERATION_ID, capacity.TITLE, capacity.PARAMS, capacity.run,
                  insight_id=capacity.INSIGHT_ID),
        Operation(retention.JOBS.id, retention.JOBS.title, retention.LOG_PARAMS, retention.run_jobs,
                  _scope_check(retention.JOBS)),
        Operation(retention.SCENARIOS.id, retention.SCENARIOS.title, retention.LOG_PARAMS, retention.run_scenarios,
                  _scope_check(retention.SCENARIOS)),
        Operation(retention.EXPORTS.id, retention.EXPORTS.title, retention.EXPORT_PARAMS, retention.run_exports),
        Operation(culling.OPERATION_ID, culling.TITLE, culling.PARAMS, culling.run),
        Operation(audit.OPERATION_ID, audit.TITLE, audit.PARAMS, audit.run, audit.check, insight_id=audit.INSIGHT_ID),
        Operation(adminproject.OPERATION_ID, adminproject.TITLE, adminproject.PARAMS, adminproject.run,
                  adminproject.check),
        Operation(monitoring.COLLECT_ID, "Collect metrics", monitoring.COLLECT_PARAMS, monitoring.collect,
                  monitoring.check_collect),
        Operation(monitoring.HEALTH_ID, "Health check", monitoring.HEALTH_PARAMS, monitoring.health,
                  reports_unreachable_api=True),
        Operation(backup.OPERATION_ID, "Backup", backup.PARAMS, backup.run, backup.check),
        Operation(backup.VERIFY_ID, "Verify a backup", backup.VERIFY_PARAMS, backup.run_verify),
        Operation(backup.RESTORE_ID, "Restore a backup", backup.RESTORE_PARAMS, backup.run_restore),
    )
}


def get(operation_id) -> Operation:
    try:
        return OPERATIONS[operation_id]
    except KeyError:
        raise KeyError("unknown node-ops operation %r (known: %s)" % (operation_id, ", ".join(sorted(OPERATIONS)))) from None
