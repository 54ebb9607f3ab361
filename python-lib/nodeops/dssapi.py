"""How node-ops talks to the DSS API: the one home for every ``dataikuapi`` call.

Functions here take a ``dataikuapi.DSSClient`` and hide what differs between
DSS / client versions (feature detection with ``hasattr``, never version
numbers). Connection failures become :class:`~nodeops.errors.Unavailable` with a
message an administrator can act on.
"""

import requests

from .errors import Unavailable

try:  # dataikuapi is a dependency of the dataiku runtime and of the CLI
    from dataikuapi.utils import DataikuException
except ImportError:  # pragma: no cover - only without dataikuapi installed
    class DataikuException(Exception):
        pass


def connect(url, api_key):
    """A client for a DSS reached by URL with an API key (command line, remote nodes)."""
    from dataikuapi import DSSClient

    return DSSClient(url.rstrip("/"), api_key)


def identify(client):
    """Who the client acts for, and whether that user is a DSS administrator.

    Returns ``(login, is_admin)``. The login comes from ``/auth/info``; a user is
    an administrator when one of their groups has the ``admin`` flag. Reading a
    group's definition is itself admin-only, so a refusal there means "not an
    administrator". A key without groups (a global API key) is an administrator
    when it can list users, which only administrators can.
    """
    try:
        info = client.get_auth_info()
        login = info.get("authIdentifier")
        groups = info.get("groups") or []
        if not groups:
            try:
                client.list_users()
                return login, True
            except DataikuException:
                return login, False
        for name in groups:
            try:
                definition = client.get_group(name).get_definition()
            except DataikuException:
                return login, False
            if definition.get("admin"):
                return login, True
        return login, False
    except requests.exceptions.RequestException as e:
        raise Unavailable("the DSS API at %s could not be reached: %s" % (getattr(client, "host", "?"), e)) from e
    except DataikuException as e:
        raise Unavailable("the DSS API refused to say who the current user is: %s" % e) from e
