"""Alert reporters for the messaging channels of any family DSS offers for scenario reporters: mail,
Slack, Microsoft Teams and webhook channels (issue 17).

A reporter's ``messaging.type`` follows the channel's type: the KIT's 9.0.5 migration maps smtp and
aws channels to ``mail-scenario``, slack to ``slack-scenario``, webhook to ``webhook-scenario``, and
the scenario editor adds ``msft-teams-scenario`` reporters; the editor gives every new reporter the
configuration lists ``variables``, ``parameters``, ``headers``, ``form`` and, for Slack, webhook
and Teams, ``useProxy: true``; the migration puts ``channelId`` in the configuration. Which field
carries the text of a Slack, Teams or webhook message is not confirmed: ``GUESS_MESSAGE_FIELD``.

Templates use only the variables PULSE confirmed (``${scenarioName}``, ``${scenarioProjectKey}``,
``${outcome}``): another one (``${scenarioRunURL}``) makes a whole mail fail.
"""

import json

from . import dssapi

MAIL_REPORTER_TYPE = "mail-scenario"
#: Channel type -> reporter type, for the channels that are not mail channels.
CHAT_REPORTER_TYPES = {"slack": "slack-scenario", "msft-teams": "msft-teams-scenario",
                       "webhook": "webhook-scenario"}

#: UNVERIFIED: the configuration field holding the message of each non-mail reporter type. The Teams
#: channel's ad-hoc send takes ``message``; Slack's is taken to be the same; a webhook reporter's
#: body is taken to be ``payload``.
GUESS_MESSAGE_FIELD = {"slack-scenario": "message", "msft-teams-scenario": "message",
                       "webhook-scenario": "payload"}
#: UNVERIFIED: the HTTP method field of a webhook reporter and the value sent.
GUESS_WEBHOOK_METHOD = ("method", "POST")

_TEXT = ("DSS ${scenarioProjectKey}: the scenario ${scenarioName} (%s) ended with ${outcome}. "
         "Its last runs are on the \"%s\" dashboard of the project.")


def reporter_type(channel):
    """The reporter type for ``channel`` (``{"id", "type", "family"}``), or None when node-ops does
    not build reporters for that type (Google Chat, Twilio, shell channels)."""
    if dssapi.is_mail_channel(channel):
        return MAIL_REPORTER_TYPE
    return CHAT_REPORTER_TYPES.get(channel.get("type"))


def supported(channels):
    return [c for c in channels if reporter_type(c)]


def chat_reporter(channel, scenario_name, dashboard_name):
    """A reporter on failure through a Slack, Teams or webhook channel, in the shape the scenario
    editor creates (see the module's docstring)."""
    rtype = CHAT_REPORTER_TYPES[channel["type"]]
    text = _TEXT % (scenario_name, dashboard_name)
    configuration = {"channelId": channel["id"], "variables": [], "parameters": [], "headers": [], "form": [],
                     "useProxy": True}
    if rtype == "webhook-scenario":
        configuration[GUESS_MESSAGE_FIELD[rtype]] = json.dumps(
            {"project": "${scenarioProjectKey}", "scenario": "${scenarioName}", "outcome": "${outcome}",
             "text": text}, sort_keys=True)
        configuration[GUESS_WEBHOOK_METHOD[0]] = GUESS_WEBHOOK_METHOD[1]
    else:
        configuration[GUESS_MESSAGE_FIELD[rtype]] = text
    return {"name": "node-ops: %s on failure" % channel["type"], "active": True, "phase": "END",
            "runConditionEnabled": True, "runCondition": "outcome == 'FAILED'",
            "messaging": {"type": rtype, "configuration": configuration}}
