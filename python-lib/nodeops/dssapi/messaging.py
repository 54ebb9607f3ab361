"""Messaging channels (client 12+: ``list_messaging_channels``): where scenario reporters send."""

from .connection import call_if_offered

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
