"""Run one operation: parse its parameters, run it, return its report.

Shared by the DSS entry points (:mod:`nodeops.dss`) and the command line
(:mod:`nodeops.cli`), so both go through the same validation and checks.
"""

from . import dssapi, operations
from .errors import Unavailable

#: The units DSS accepts from get_progress_target() (DSS's Runnable docstring; KIT runnables/runnable.py).
PROGRESS_UNITS = ("SIZE", "FILES", "RECORDS", "NONE")


def run_operation(operation_id, ctx, config, progress=None, target=None):
    """The report of ``operation_id``. ``progress``: DSS's callback, reported against ``target``
    (what :func:`progress_target` gave DSS, or None) through a :class:`Progress`."""
    op = operations.get(operation_id)
    params = op.parse(config, ctx)  # raises ParameterError (every bad parameter) before anything happens
    if "dry_run" in params:
        ctx.dry_run = params["dry_run"]
    tracker = None if progress is None else Progress(progress, target[0] if target else None)
    report = op.run(ctx, params, tracker)
    if tracker is not None:
        tracker.done()
    return report


def progress_target(operation_id, ctx, config):
    """``(target, unit)`` for DSS's progress bar, or None: what the operation can count cheaply
    before it runs (Operation.progress_target). Never raises: DSS fails the run when
    get_progress_target() does, and the run itself reports a bad parameter or a missing folder."""
    op = operations.get(operation_id)
    if op.progress_target is None:
        return None
    try:
        target = op.progress_target(ctx, op.parse(config, ctx))
    except Exception as e:  # noqa: BLE001 -- see above
        ctx.log.info("no progress target for %s: %s", operation_id, e)
        return None
    if target is None or target[1] not in PROGRESS_UNITS or target[0] <= 0:
        return None  # nothing to count: no bar
    return int(target[0]), target[1]


class Progress:
    """DSS's progress callback, fed by an operation's own counter: never above the target, never
    back, each value once; :meth:`done` reports the target itself (what was counted up front may
    differ a little from what the run met: entries appear and vanish meanwhile)."""

    def __init__(self, callback, target=None):
        self.callback, self.target, self.last = callback, target, None

    def __call__(self, value):
        if self.target is not None:
            value = min(value, self.target)
        if self.last is None or value > self.last:
            self.last = value
            self.callback(value)

    def done(self):
        if self.target is not None:
            self(self.target)


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
