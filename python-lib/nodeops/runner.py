"""Run one operation: parse its parameters, run it, return its report.

Shared by the DSS entry points (:mod:`nodeops.dss`) and the command line
(:mod:`nodeops.cli`), so both go through the same validation and checks.
"""

from . import operations


def run_operation(operation_id, ctx, config, progress=None):
    op = operations.get(operation_id)
    params = op.parse(config, ctx)  # raises ParameterError (every bad parameter) before anything happens
    if "dry_run" in params:
        ctx.dry_run = params["dry_run"]
    return op.run(ctx, params, progress)


def scenario_variables(report) -> dict:
    """The summary figures as scenario variables: nodeops_<operation>_<figure>."""
    prefix = "nodeops_" + report.operation.replace("-", "_") + "_"
    return {prefix + f.key: f.value for f in report.summary}
