"""A DSS backend simulator that the real dataikuapi client talks to over HTTP."""

from .server import DSSSimulator  # noqa: F401
