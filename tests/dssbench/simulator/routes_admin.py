"""Instance-level endpoints: general settings, users and groups, activity,
auth info, instance info, licensing, messaging channels."""

from . import guesses, normalise
from .routing import HTTPError, route
from .state import NotFound


@route("GET", "/admin/general-settings", admin=True)
def get_general_settings(call):
    return call.state.general_settings()


@route("PUT", "/admin/general-settings", admin=True)
def save_general_settings(call):
    body = call.json
    if not isinstance(body, dict):
        raise HTTPError(400, "General settings must be a JSON object")
    call.state.save_general_settings(normalise.general_settings(body, call.state.general_settings()))
    return {}


def _user_item(u, include_settings):
    item = {"login": u["login"], "displayName": u.get("displayName", u["login"]), "email": u.get("email", ""),
            "groups": list(u.get("groups", [])), "userProfile": u.get("userProfile", "DESIGNER"),
            "sourceType": u.get("sourceType", "LOCAL"), "enabled": u.get("enabled", True)}
    if include_settings:
        item["settings"] = u.get("settings", {})
    return item


@route("GET", "/admin/users/", admin=True)
def list_users(call):
    include = call.arg_bool("includeSettings")
    return [_user_item(u, include) for u in call.state.users_file()["users"]]


@route("GET", "/admin/users/<login>", admin=True)
def get_user(call, login):
    u = call.state.user(login)
    if u is None:
        raise NotFound("User %s does not exist" % login)
    return _user_item(u, True)


def _activity(call, login):
    a = call.state.model["activity"].get(login, {})
    return {"login": login, "lastSuccessfulLogin": a.get("lastSuccessfulLogin", 0),
            "lastFailedLogin": a.get("lastFailedLogin", 0), "lastSessionActivity": a.get("lastSessionActivity", 0)}


@route("GET", "/admin/users-activity", admin=True, since="users.activity")
def users_activity(call):
    enabled_only = call.arg_bool("enabledUsersOnly")
    return [_activity(call, u["login"]) for u in call.state.users_file()["users"]
            if not enabled_only or u.get("enabled", True)]


@route("GET", "/admin/users/<login>/activity", admin=True, since="users.activity")
def user_activity(call, login):
    if call.state.user(login) is None:
        raise NotFound("User %s does not exist" % login)
    return _activity(call, login)


@route("GET", "/admin/groups/", admin=True)
def list_groups(call):
    return call.state.users_file()["groups"]


@route("GET", "/admin/groups/<name>", admin=True)
def get_group(call, name):
    g = call.state.group(name)
    if g is None:
        raise NotFound("Group %s does not exist" % name)
    return g


@route("GET", "/auth/info")
def auth_info(call):
    u = call.state.user(call.login) or {}
    info = {"authIdentifier": call.login, "groups": list(u.get("groups", [])),
            "userProfile": u.get("userProfile", "DESIGNER")}
    if call.arg_bool("withSecrets"):
        info["secrets"] = []
    return info


@route("GET", "/current-user")
def current_user(call):
    u = call.state.user(call.login) or {"login": call.login}
    return _user_item(u, True)


@route("GET", "/users")
def users_info(call):
    # DSSUserInfo (dataikuapi admin.py) reads login, displayName, email, groups and enabled.
    return [{"login": u["login"], "displayName": u.get("displayName", u["login"]), "email": u.get("email", ""),
             "groups": list(u.get("groups", [])), "enabled": u.get("enabled", True)}
            for u in call.state.users_file()["users"]]


@route("GET", "/instance-info", since="instance.info")
def instance_info(call):
    return dict(call.state.model.get("instance", {}))


@route("GET", "/admin/licensing/status", admin=True)
def licensing_status(call):
    lic = call.state.model.get("license") or {}
    expires = lic.get(guesses.LICENSE_EXPIRY_FIELD, call.state.model.get("now_ms", 0) + 180 * 86400000)
    expired = expires < call.state.clock()
    return {"base": {"hasLicense": True, "valid": not expired, "expired": expired,
                     "licenseContent": {"licensee": {"company": "node-ops test bench"},
                                        guesses.LICENSE_EXPIRY_FIELD: expires},
                     "sublicense": {"profileLimits": {}}}}


# ---- instance sanity check (client 11.4+) -------------------------------------------------
@route("GET", "/admin/sanity-check/codes", admin=True, since="sanity_check")
def sanity_check_codes(call):
    return sorted({m["code"] for m in call.state.model.get("sanity_messages", [])})


@route("POST", "/admin/sanity-check/run", admin=True, since="sanity_check")
def sanity_check_run(call):
    """Answers with the result at once (``hasResult``: the client then makes no
    future call). Messages come from ``model["sanity_messages"]``: DSS's own
    checks are not simulated."""
    excluded = set(call.json or [])
    messages = [m for m in call.state.model.get("sanity_messages", []) if m.get("code") not in excluded]
    order = ["INFO", "WARNING", "ERROR"]
    worst = max((m.get("severity", "INFO") for m in messages), key=order.index, default=None)
    return {"hasResult": True, "result": {"messages": messages, "anyMessage": bool(messages),
                                          "warning": worst == "WARNING", "error": worst == "ERROR",
                                          "maxSeverity": worst}}


# ---- messaging channels (client 12+: list_messaging_channels, get_messaging_channel) ----------------
def _channel_item(channel):
    return {k: channel[k] for k in guesses.MESSAGING_CHANNEL_FIELDS if k in channel}


@route("GET", "/messaging-channels/", since="messaging_channels")
def list_messaging_channels(call):
    """The channels of the instance (``model["messaging_channels"]``), filtered by the client's
    ``channelType`` / ``channelFamily`` query arguments."""
    wanted_type, wanted_family = call.args.get("channelType"), call.args.get("channelFamily")
    return [_channel_item(c) for c in call.state.model.get("messaging_channels", [])
            if (wanted_type is None or c.get("type") == wanted_type)
            and (wanted_family is None or c.get("family") == wanted_family)]


@route("GET", "/messaging-channels/<channel_id>", since="messaging_channels")
def get_messaging_channel(call, channel_id):
    for c in call.state.model.get("messaging_channels", []):
        if c["id"] == channel_id:
            return _channel_item(c)
    raise NotFound("Messaging channel %s does not exist" % channel_id)


@route("POST", "/messaging-channels/<channel_id>/actions/send", since="messaging_channels")
def send_through_messaging_channel(call, channel_id):
    """``DSSMailMessagingChannel.send``: a multipart body whose part ``message`` is the JSON payload
    (``send-payload.json``), ``projectKey`` and ``sendAsSingleMessage`` as query arguments. Only mail
    channels send this way; what was sent is recorded in ``state.model["sent_messages"]``."""
    channel = next((c for c in call.state.model.get("messaging_channels", []) if c["id"] == channel_id), None)
    if channel is None:
        raise NotFound("Messaging channel %s does not exist" % channel_id)
    if channel_id not in normalise.mail_channel_ids(call.state):
        raise HTTPError(400, "Messaging channel %s is a %s channel: only mail channels send messages"
                        % (channel_id, channel.get("type")))
    key = call.args.get("projectKey")
    if not key:
        raise HTTPError(400, "Missing parameter projectKey")
    call.state.project(key)  # 404 when missing
    if not call.state.can_write_project(call.login, key):
        raise HTTPError(403, "You may not write project %s" % key)
    part = call.request.files.get("message")
    if part is None:
        raise HTTPError(400, "Missing multipart part 'message'")
    payload = normalise.send_payload(part.read())
    call.state.model.setdefault("sent_messages", []).append(dict(
        payload, channelId=channel_id, projectKey=key, login=call.login,
        sendAsSingleMessage=call.arg_bool("sendAsSingleMessage")))
    return {}


# ---- plugin settings --------------------------------------------------------------------------
def _installed_plugin(call, plugin_id):
    if plugin_id not in call.sim.plugins:
        raise NotFound("Plugin %s is not installed" % plugin_id)


@route("GET", "/plugins/<plugin_id>/settings", admin=True)
def get_plugin_settings(call, plugin_id):
    """dataikuapi ``DSSPlugin.get_settings()`` (admins; the API also lets plugin developers)."""
    _installed_plugin(call, plugin_id)
    if call.args.get("projectKey"):
        raise HTTPError(400, "Project-level plugin settings are not simulated")
    return call.state.plugin_settings(plugin_id)


@route("POST", "/plugins/<plugin_id>/settings", admin=True)
def save_plugin_settings(call, plugin_id):
    """``DSSPluginSettings.save()``: the whole settings object; its ``config`` holds the values of
    plugin.json's params (guesses.PLUGIN_SETTINGS_FIELDS), kept as given."""
    _installed_plugin(call, plugin_id)
    if call.args.get("projectKey"):
        raise HTTPError(400, "Project-level plugin settings are not simulated")
    body = call.json
    if not isinstance(body, dict) or not isinstance(body.get("config", {}), dict):
        raise HTTPError(400, "Plugin settings must be a JSON object whose 'config' is an object")
    call.state.save_plugin_settings(plugin_id, {k: body[k] for k in guesses.PLUGIN_SETTINGS_FIELDS if k in body})
    return {}
