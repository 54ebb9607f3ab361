"""Messaging channels (client 12+: ``list_messaging_channels``): where scenario reporters send."""

from ..errors import Unavailable
from .connection import call, call_if_offered

#: Channel types that send mail, for a channel that does not say its family.
MAIL_TYPES = ("smtp", "aws-ses-mail", "microsoft-graph-mail")


def messaging_channels(client):
    """The instance's channels as ``[{"id", "type", "family"}]``; None when this client or this DSS
    cannot list them."""
    if not hasattr(client, "list_messaging_channels"):
        return None
    items = call_if_offered("listing the messaging channels", client.list_messaging_channels)
    if items is None:
        return None
    return [{"id": c.id, "type": c.type, "family": c.family} for c in items]


def is_mail_channel(channel):
    return channel.get("family") == "mail" or (not channel.get("family") and channel.get("type") in MAIL_TYPES)


def send_mail(client, channel_id, project_key, to, subject, body):
    """Send one plain-text mail through the mail channel ``channel_id`` (``DSSMailMessagingChannel.send``,
    clients 12+), on behalf of ``project_key`` (DSS wants write access to it). Unavailable when this
    client cannot send, the channel is not a mail channel or DSS refuses."""
    if not hasattr(client, "get_messaging_channel"):
        raise Unavailable("this client cannot send through a messaging channel (dataikuapi 12 and later can)")
    channel = call("reading the messaging channel %s" % channel_id, client.get_messaging_channel, channel_id)
    if not hasattr(channel, "send"):
        raise Unavailable("the messaging channel %s is not a mail channel" % channel_id)
    call("sending a mail through %s" % channel_id, channel.send, project_key, list(to), subject, body,
         plain_text=True)


def user_emails(client):
    """``{login: e-mail}`` of every DSS user, from the user records (administrators only); "" for a
    user without one."""
    return {u["login"]: (u.get("email") or "").strip() for u in call("listing users", client.list_users)}
