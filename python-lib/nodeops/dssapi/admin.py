"""Instance administration: users and groups, general settings, licence, sanity check, activity."""

from ..errors import Unavailable
from .connection import call, call_if_offered


def enabled_user_count(client):
    """How many DSS users are enabled (an administrator sees them all)."""
    users = call("listing users", client.list_users)
    return sum(1 for u in users if u.get("enabled", True))


def user_names(client):
    """``{login: display name}`` of every DSS user (administrators only)."""
    return {u["login"]: u.get("displayName") or u["login"] for u in call("listing users", client.list_users)}


def general_settings(client):
    """The general settings (config/general-settings.json) as DSS serves them."""
    return call("reading the general settings", lambda: client.get_general_settings().get_raw())


def update_general_settings(client, values):
    """Set top-level keys of the general settings; returns the values before."""
    settings = call("reading the general settings", client.get_general_settings)
    raw = settings.get_raw()
    before = {k: raw.get(k) for k in values}
    raw.update(values)
    call("saving the general settings", settings.save)
    return before


def admin_groups(client):
    """Names of the groups with the administrator flag."""
    out = set()
    for g in call("listing groups", client.list_groups):
        name = g.get("name")
        if g.get("admin") is None:
            g = call("reading group %s" % name, client.get_group(name).get_definition)
        if g.get("admin"):
            out.add(name)
    return out


def admin_logins(client, groups):
    """Logins of the users in one of ``groups`` (the administrator groups)."""
    return {u.get("login") for u in call("listing users", client.list_users) if set(u.get("groups") or []) & groups}


def sanity_check(client):
    """DSS's instance sanity check messages as dicts; None when this client or DSS does not offer it."""
    if not hasattr(client, "perform_instance_sanity_check"):
        return None
    result = call_if_offered("the instance sanity check", client.perform_instance_sanity_check)
    if result is None:
        return None
    return [{"severity": m.severity, "code": m.code, "title": m.title, "details": m.details, "message": m.message}
            for m in result.messages]


def active_users(client, since_ms):
    """How many users had a session active since ``since_ms`` (DSS 10+ user activity)."""
    if not hasattr(client, "list_users_activity"):
        raise Unavailable("this client has no user activity call")
    items = call("reading user activity", client.list_users_activity)
    count = 0
    for item in items:
        data = item.get_raw() if hasattr(item, "get_raw") else item
        if int(data.get("lastSessionActivity") or 0) >= since_ms:
            count += 1
    return count


def license_expiry_ms(client):
    """When the licence expires (epoch ms), or None when DSS does not say."""
    status = call("reading the licensing status", client.get_licensing_status)
    base = (status or {}).get("base") or {}
    value = (base.get("licenseContent") or {}).get("expiresOn") or base.get("expiresOn")
    return int(value) if value else None
