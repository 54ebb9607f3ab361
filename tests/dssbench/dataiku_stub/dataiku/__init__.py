"""Stand-in for DSS's ``dataiku`` package (test bench only; see ../README.md)."""

import os


def api_client():
    """A DSSClient for the backend, with the rights of the user running the code."""
    from dataikuapi import DSSClient

    port = os.environ.get("DKU_BACKEND_PORT")
    ticket = os.environ.get("DKU_API_TICKET")
    if not port or not ticket:
        raise Exception("Cannot create an API client: not running inside DSS (no DKU_BACKEND_PORT/DKU_API_TICKET)")
    return DSSClient("http://127.0.0.1:%s" % port, internal_ticket=ticket)


def default_project_key():
    key = os.environ.get("DKU_CURRENT_PROJECT_KEY")
    if not key:
        raise Exception("Default project key is not specified (no DKU_CURRENT_PROJECT_KEY in env)")
    return key
