"""The errors node-ops raises on purpose. Each message is meant for an administrator."""


class NodeOpsError(Exception):
    """Base class: something was refused or could not be done; the message says why."""


class ParameterError(NodeOpsError, ValueError):
    """One or more parameters are invalid. Raised before anything is done."""

    def __init__(self, operation, problems):
        self.operation = operation
        self.problems = list(problems)
        lines = "; ".join(self.problems)
        super().__init__("%s: invalid parameters: %s" % (operation, lines))


class PermissionRefused(NodeOpsError, PermissionError):
    """The current user may not run this operation."""


class Unavailable(NodeOpsError):
    """A precondition could not be established (DSS API down, DIP_HOME unreadable...)."""
