"""The one context every operation receives.

Built once: by :mod:`nodeops.dss` inside DSS, by :mod:`nodeops.cli` on the
command line, by fixtures in tests. Operations read DIP_HOME, the API client,
the identity, the clock and the dry-run flag from here and nowhere else.
"""

import datetime as _dt
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from .errors import PermissionRefused, Unavailable


def system_clock() -> _dt.datetime:
    """Now, as an aware datetime in the server's local timezone (for display; IDs are read as UTC)."""
    return _dt.datetime.now().astimezone()


@dataclass
class Context:
    dip_home: Optional[Path] = None
    client: Any = None  # a dataikuapi.DSSClient, or None when working on DIP_HOME only
    user: Optional[str] = None
    is_admin: bool = False
    clock: Callable[[], _dt.datetime] = system_clock
    dry_run: bool = True
    project_key: Optional[str] = None
    #: Which entry point runs the operation: "macro", "step" or "cli".
    component: str = "cli"
    #: A local folder for the capacity history (command line); inside DSS it is a managed folder.
    history_dir: Optional[Path] = None
    #: Why the DSS API could not say who the user is (then ``client`` is None): set only for
    #: operations that report an unreachable API (health-check) instead of refusing to run.
    api_error: Optional[str] = None
    #: ``dataiku.insights.save_data(id, payload, content_type, label=, project_key=)`` inside DSS: saves
    #: a static insight; None where there is none (the command line).
    save_insight: Optional[Callable] = None
    #: The plugin-level settings (:mod:`nodeops.settings`): a macro's plugin_config, a step's
    #: pluginConfig, the NODEOPS_* environment variables on the command line.
    settings: dict = field(default_factory=dict)
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("nodeops"))

    def __post_init__(self):
        if self.dip_home is not None:
            self.dip_home = Path(self.dip_home)

    def now(self) -> _dt.datetime:
        now = self.clock()
        return now if now.tzinfo else now.astimezone()

    def require_admin(self):
        """Refuse unless the current user is a DSS administrator."""
        if self.api_error is not None:
            raise Unavailable("cannot check that the current user is a DSS administrator: %s" % self.api_error)
        if not self.is_admin:
            who = "user '%s' is not one" % self.user if self.user else "the current user could not be identified as one"
            raise PermissionRefused("permission denied: node-ops macros require a DSS administrator (%s)" % who)

    def require_dip_home(self) -> Path:
        """DIP_HOME, checked to be a readable DSS data directory."""
        if self.dip_home is None:
            raise Unavailable("the DSS data directory (DIP_HOME) is not known: run inside DSS or pass --dip-home")
        marker = self.dip_home / "dss-version.json"
        try:
            if not self.dip_home.is_dir():
                raise Unavailable("DIP_HOME %s is not a readable directory" % self.dip_home)
            if not marker.is_file():
                raise Unavailable("%s does not look like a DSS data directory (no dss-version.json)" % self.dip_home)
        except PermissionError:
            raise Unavailable("DIP_HOME %s cannot be read by this process (permission denied): only the DSS service "
                              "account can read it (User Isolation)" % self.dip_home) from None
        return self.dip_home

    def require_client(self):
        if self.client is None:
            raise Unavailable("no DSS API client: run inside DSS or pass --url and --api-key")
        return self.client
