"""The registry of operations: one entry per macro / step / command.

An operation is its id (the folder name under python-runnables/ and
python-steps/, and the command-line sub-command), its parameters, and one
function ``run(ctx, params, progress) -> Report``.
"""

from dataclasses import dataclass
from typing import Callable, Tuple

from . import capacity
from .params import Param, parse_params


@dataclass(frozen=True)
class Operation:
    id: str
    title: str
    params: Tuple[Param, ...]
    run: Callable
    #: DSS "resultType" of the macro.
    result_type: str = "HTML"

    def parse(self, config):
        return parse_params(self.id, self.params, config)


OPERATIONS = {
    op.id: op
    for op in (
        Operation(capacity.OPERATION_ID, capacity.TITLE, capacity.PARAMS, capacity.run),
    )
}


def get(operation_id) -> Operation:
    try:
        return OPERATIONS[operation_id]
    except KeyError:
        raise KeyError("unknown node-ops operation %r (known: %s)" % (operation_id, ", ".join(sorted(OPERATIONS)))) from None
