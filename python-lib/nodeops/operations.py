"""The registry of operations: one entry per macro / step / command.

An operation is its id (the folder name under python-runnables/ and
python-steps/, and the command-line sub-command), its parameters, and one
function ``run(ctx, params, progress) -> Report``.
"""

from dataclasses import dataclass
from typing import Callable, Tuple

from . import adminproject, audit, backup, capacity, culling, monitoring, retention
from .params import Param, parse_params


@dataclass(frozen=True)
class Operation:
    id: str
    title: str
    params: Tuple[Param, ...]
    run: Callable
    #: DSS "resultType" of the macro.
    result_type: str = "HTML"
    #: When set, the step also saves its HTML report as this static insight.
    insight_id: str = ""

    def parse(self, config):
        return parse_params(self.id, self.params, config)

    def declared_params(self, component):
        """The parameters declared in runnable.json ("macro") or step.json ("step")."""
        return tuple(p for p in self.params if component == "step" or not p.step_only)


OPERATIONS = {
    op.id: op
    for op in (
        Operation(capacity.OPERATION_ID, capacity.TITLE, capacity.PARAMS, capacity.run,
                  insight_id=capacity.INSIGHT_ID),
        Operation(retention.JOBS.id, retention.JOBS.title, retention.LOG_PARAMS, retention.run_jobs),
        Operation(retention.SCENARIOS.id, retention.SCENARIOS.title, retention.LOG_PARAMS, retention.run_scenarios),
        Operation(retention.EXPORTS.id, retention.EXPORTS.title, retention.EXPORT_PARAMS, retention.run_exports),
        Operation(culling.OPERATION_ID, culling.TITLE, culling.PARAMS, culling.run),
        Operation(audit.OPERATION_ID, audit.TITLE, audit.PARAMS, audit.run, insight_id=audit.INSIGHT_ID),
        Operation(adminproject.OPERATION_ID, adminproject.TITLE, adminproject.PARAMS, adminproject.run),
        Operation(monitoring.COLLECT_ID, "Collect metrics", monitoring.COLLECT_PARAMS, monitoring.collect),
        Operation(monitoring.HEALTH_ID, "Health check", monitoring.HEALTH_PARAMS, monitoring.health),
        Operation(backup.OPERATION_ID, "Backup", backup.PARAMS, backup.run),
        Operation(backup.VERIFY_ID, "Verify a backup", backup.VERIFY_PARAMS, backup.run_verify),
        Operation(backup.RESTORE_ID, "Restore a backup", backup.RESTORE_PARAMS, backup.run_restore),
    )
}


def get(operation_id) -> Operation:
    try:
        return OPERATIONS[operation_id]
    except KeyError:
        raise KeyError("unknown node-ops operation %r (known: %s)" % (operation_id, ", ".join(sorted(OPERATIONS)))) from None
