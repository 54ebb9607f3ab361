"""Run one operation: parse its parameters, run it, return its report.

Shared by the DSS entry points (:mod:`nodeops.dss`) and the command line
(:mod:`nodeops.cli`), so both go through the same validation and checks.
"""

from . import dssapi, operations
from .errors import Unavailable


def run_operation(operation_id, ctx, config, progress=None):
    op = operations.get(operation_id)
    params = op.parse(config, ctx)  # raises ParameterError (every bad parameter) before anything happens
    if "dry_run" in params:
        ctx.dry_run = params["dry_run"]
    return op.run(ctx, params, progress)


def identify(operation_id, client):
    """``(login, is_admin, api_error)`` of the user ``client`` acts for.

    When the DSS API cannot say, the operation is refused (Unavailable), unless it
    reports an unreachable API itself (health-check: a breach); then ``api_error``
    says why and the context gets no client."""
    try:
        login, is_admin = dssapi.identify(client)
    except Unavailable as e:
        if not operations.get(operation_id).reports_unreachable_api:
            raise
        return None, False, str(e)
    return login, is_admin, None


def scenario_variables(report) -> dict:
    """The summary figures as scenario variables: nodeops_<operation>_<figure>."""
    prefix = "nodeops_" + report.operation.replace("-", "_") + "_"
    return {prefix + f.key: f.value for f in report.summary}
