"""The lists DSS offers in node-ops's forms instead of free text (``getChoicesFromPython``).

A parameter declared with ``choices_from`` (:mod:`nodeops.params`) is a SELECT or MULTISELECT
whose choices DSS asks for: it runs ``do(payload, config, plugin_config, inputs)`` of the script
that the descriptor's ``paramsPythonSetup`` names (``resource/choices.py``), with the field's name
in ``payload["parameterName"]``, and shows the ``{"choices": [{"value", "label"}]}`` it returns.
The script hands over to :func:`nodeops.dss.param_choices`, which calls :func:`choices` with the
API client of the user who opened the form.

A parameter name picks from the same list in every form (``projects``, ``exempt_projects``:
projects; ``exempt_users``: users; ``timezone``; ``alert_channel``: mail, Slack, Teams and webhook channels; ``notify_channel``: mail channels). When a list
cannot be had (DSS refuses, does not answer, is too old), the answer is one choice without a
value whose label says why, as a Dataiku plugin does (README, "not yet verified").
"""

from . import alerts, dssapi, operations
from .errors import Unavailable
from .params import CHOICE_LISTS, timezone_names

#: The choice DSS offers first for a time zone: the schedules follow the DSS server's.
SERVER_ZONE = ("SERVER", "The DSS server's time zone")


def list_of(name):
    """The key of CHOICE_LISTS the parameter ``name`` picks from, the same in every form; None when
    no form offers it a list. Raises ValueError when two declarations disagree (a test runs it)."""
    found = {p.choices_from for op in operations.OPERATIONS.values() for p in op.params if p.name == name
             and p.choices_from}
    if len(found) > 1:
        raise ValueError("parameter %s picks from %s: one parameter, one meaning" % (name, sorted(found)))
    return found.pop() if found else None


def _projects(client):
    names = dssapi.project_names(client)
    return [(k, "%s (%s)" % (names[k], k) if names[k] != k else k) for k in sorted(names)]


def _users(client):
    names = dssapi.user_names(client)
    return [(login, "%s (%s)" % (names[login], login) if names[login] != login else login) for login in sorted(names)]


def _timezones(client):
    zones = timezone_names()
    if not zones:
        raise Unavailable("this host has no time zone database (install the tzdata package)")
    return [SERVER_ZONE] + [(z, z) for z in zones]


def _channels(client, keep, what):
    """The instance's channels that ``keep`` accepts, as choices; ``what`` names them in the refusal."""
    channels = dssapi.messaging_channels(client)
    if channels is None:
        raise Unavailable("this DSS cannot list its messaging channels (DSS 12 and later can); type the "
                          "channel id on the command line or in the plugin's settings")
    usable = [c for c in channels if keep(c)]
    if not usable:
        raise Unavailable("this DSS has no %s (Administration > Settings > Notifications & Integrations)" % what)
    return [(c["id"], "%s (%s)" % (c["id"], c["type"])) for c in sorted(usable, key=lambda c: c["id"])]


def _mail_channels(client):
    return _channels(client, dssapi.is_mail_channel, "mail channel")


def _alert_channels(client):
    return _channels(client, alerts.reporter_type, "mail, Slack, Microsoft Teams or webhook channel")


_LISTS = {"projects": _projects, "users": _users, "timezones": _timezones, "mail_channels": _mail_channels,
          "alert_channels": _alert_channels}
assert set(_LISTS) == set(CHOICE_LISTS)


def message(text):
    """A choice that only says something (no value)."""
    return {"label": text}


def choices(client, payload):
    """The answer to DSS for the field ``payload["parameterName"]``: ``{"choices": [...]}``."""
    name = (payload or {}).get("parameterName") if isinstance(payload, dict) else None
    which = list_of(name) if isinstance(name, str) else None
    if which is None:
        return {"choices": [message("node-ops offers no list for the field %r" % (name,))]}
    try:
        if client is None:
            raise Unavailable("no DSS API client here")
        items = _LISTS[which](client)
    except Unavailable as e:
        return {"choices": [message("node-ops could not list the %s: %s" % (CHOICE_LISTS[which], e))]}
    except (KeyError, TypeError, ValueError, AttributeError) as e:  # an answer of an unexpected shape
        return {"choices": [message("node-ops could not read the %s DSS listed (%s: %s)"
                                    % (CHOICE_LISTS[which], type(e).__name__, e))]}
    return {"choices": [{"value": v, "label": label} for v, label in items]}
