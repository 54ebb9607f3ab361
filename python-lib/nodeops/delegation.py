"""A scenario step hands its DIP_HOME work to the plugin's macro of the same id.

Under User Isolation a plugin step's Python process may run as the scenario's
user, who cannot read DIP_HOME, while a macro declared ``"impersonate": false``
runs as the DSS service account, which can. So the step of an operation that
reads DIP_HOME (``reads_dip_home`` in :mod:`nodeops.operations`) does this,
whatever the node's isolation (one code path, tested both ways):

1. checks its parameters and that its user is an administrator, exactly as the
   local run does (the same refusals, before anything happens);
2. does with its own rights what only the step does (``step_prepare``: create
   its history folder);
3. runs the macro ``pyrunnable_node-ops_<id>`` from its project through the API
   with the parameters the macro declares, and reads the report from the
   macro's HTML result (:func:`nodeops.render.report_from_html`);
4. applies its step-only parameters on that report (``fail_on_error``).

The caller (:func:`nodeops.dss.run_step`) then does what every step does: log
the report, save the static insight, set the scenario variables, fail on
``report.failure``. When the macro raises a node-ops error, the step raises the
same error with the same message.
"""

import os
import re

from . import dssapi, errors, operations, render, resources
from .report import printable_text
from .dssapi import MacroFailed


def macro_config(op, config, ctx=None):
    """The step's values of the parameters the macro declares in runnable.json, and nothing else;
    an empty field fed by a plugin-level setting carries the value the step resolved from the
    settings it was given (the macro would get the same ones from DSS: this keeps the step's
    checks and the macro's run on one value)."""
    declared = {p.name for p in op.declared_params("macro") if p.is_value}
    config, _ = op.effective_config(config, ctx)
    return {k: v for k, v in config.items() if k in declared}


_CLASS_RE = re.compile(r"^(?:<class ')?nodeops\.errors\.(\w+)(?:'>)?$")


def _same_error(failure):
    """The node-ops error the macro raised, rebuilt with its message; the MacroFailed otherwise."""
    m = _CLASS_RE.match(failure.error_type or "")
    cls = getattr(errors, m.group(1), None) if m else None
    if not (isinstance(cls, type) and issubclass(cls, errors.NodeOpsError)):
        return failure
    error = Exception.__new__(cls)
    Exception.__init__(error, failure.detail)  # ParameterError's own __init__ would rewrite the message
    if isinstance(error, errors.ParameterError):
        error.operation, error.problems = failure.runnable_type, [failure.detail]
    return error


def run_operation(operation_id, ctx, config):
    """The report of ``operation_id`` made by its macro, for the step running in ``ctx``."""
    op = operations.get(operation_id)
    params = op.parse(config, ctx)  # the local run's refusal (ParameterError), before anything happens
    max_wait = dssapi.max_wait_seconds(os.environ.get(dssapi.MAX_WAIT_ENV))
    ctx.require_admin()  # the local run's refusal, not DSS's own for a requiresGlobalAdmin macro
    client = ctx.require_client()
    if op.step_prepare is not None:
        op.step_prepare(ctx, params)
    try:
        html = dssapi.run_macro(client, ctx.project_key, resources.macro_type(op.id), macro_config(op, config, ctx),
                                 max_wait=max_wait)
    except MacroFailed as failure:
        raise _same_error(failure) from None
    try:
        report = render.report_from_html(html)
    except ValueError as e:
        raise errors.Unavailable("the result of macro %s is not a node-ops report (%s): is the plugin's macro of "
                                 "the same version as its step?" % (resources.macro_type(op.id), e)) from None
    if report.operation != op.id:
        raise errors.Unavailable("the result of macro %s is a report of %r, not of %s: is the plugin installed "
                                 "whole?" % (resources.macro_type(op.id), printable_text(str(report.operation))[:80],
                                              op.id))
    return op.apply_step_params(report, params)
