"""What the simulated DSS does to every object it accepts, in one place.

DSS normalises what it stores: it fills the fields nobody set (a saved step gains
``runConditionExpression``, ``resetScenarioStatus``, ``params.proceedOnFailure``;
reporters, steps and triggers gain ids; a project permission carries all its
flags), drops the fields it does not know, and refuses what it cannot use. Each
route that accepts a write (scenarios, project permissions and settings,
dashboards, insights, general settings) passes the body through one function
here and stores what it returns; a refusal is an ``HTTPError(400)``.

Sources (``../shared/reference/dss-facts-confirmed.md``): the DSS 8 exports of
dataiku/dss-plugin-ml-assisted-labeling (scenarios, dashboards, insights,
params.json), the DSS 9.0.5 frontend (scenarios.js, dashboards/edit.js, the
insight handlers), the mail reporter Dataiku Pulse captured from DSS 14.7, and
the 36-column grid of dataiku-headless. What none of them settles is in
:mod:`.guesses`.
"""

import copy
import json
import re
import secrets
import string

from . import guesses
from .routing import HTTPError

# ---- scenarios (MAL project_config/scenarios/*.json) -------------------------------------------
SCENARIO_FIELDS = ("projectKey", "id", "type", "name", "active", "versionTag", "checklists",
                   "delayedTriggersBehavior", "tags", "triggers", "reporters", "params", "automationLocal",
                   "customFields") + guesses.SCENARIO_EXTRA_FIELDS
#: Present on every scenario of the export, with these values when nobody set them.
SCENARIO_DEFAULTS = {"active": False, "tags": [], "triggers": [], "reporters": [], "checklists": {"checklists": []},
                     "delayedTriggersBehavior": {"delayWhileRunning": True, "squashDelayedTriggers": True,
                                                 "suppressTriggersWhileRunning": True},
                     "automationLocal": False, "customFields": {}}
SCENARIO_TYPES = ("step_based", "custom_python")
#: The ten fields of every step of the export.
STEP_FIELDS = ("id", "type", "name", "runConditionType", "runConditionStatuses", "runConditionExpression",
               "resetScenarioStatus", "delayBetweenRetries", "maxRetriesOnFail", "params")
#: Defaults DSS writes into a saved step (the export; the issue's "steps gain ...").
STEP_DEFAULTS = {"runConditionExpression": "", "resetScenarioStatus": False}
STEP_PARAMS_DEFAULTS = {"proceedOnFailure": False}
#: KIT scenarios.js (the run-condition variants of the step editor).
RUN_CONDITION_TYPES = ("RUN_IF_STATUS_MATCH", "RUN_ALWAYS", "RUN_CONDITIONALLY", "DISABLED")
STEP_OUTCOMES = ("SUCCESS", "WARNING", "FAILED", "ABORTED")
#: KIT scenarios.js addTrigger and the dataiku-headless trigger commands.
TRIGGER_FIELDS = ("id", "type", "name", "active", "delay", "params", "graceDelaySettings")
TEMPORAL_FREQUENCIES = ("Minutely", "Hourly", "Daily", "Weekly", "Monthly")
#: PULSE's reporter, plus ``variablesCode`` (KIT ReporterController).
REPORTER_FIELDS = ("id", "name", "active", "phase", "runConditionEnabled", "runCondition", "messaging",
                   "variablesCode")
REPORTER_PHASES = ("START", "END")
MESSAGING_FIELDS = ("type", "configuration")  # a top-level messaging.channelId is dropped (PULSE)
MAIL_REPORTER_TYPE = "mail-scenario"
#: Channel types that send mail (PULSE's mail kinds), when a channel has no family.
MAIL_CHANNEL_TYPES = ("smtp", "aws-ses-mail", "microsoft-graph-mail")

# ---- project permissions (MAL params.json: 13 keys per entry, the group and 12 flags) ----------
PERMISSION_FLAGS = ("admin", "readProjectContent", "writeProjectContent", "exportDatasetsData", "readDashboards",
                    "writeDashboards", "moderateDashboards", "runScenarios", "manageDashboardAuthorizations",
                    "manageExposedElements", "manageAdditionalDashboardUsers", "executeApp")

# ---- dashboards and insights (MAL dashboards/ and insights/; KIT dashboards/edit.js) -----------
DASHBOARD_FIELDS = ("id", "projectKey", "name", "owner", "listed", "pages", "showGrid", "versionTag",
                    "creationTag", "tags", "customFields", "checklists") + guesses.DASHBOARD_EXTRA_FIELDS
DASHBOARD_DEFAULTS = {"listed": False, "pages": [], "showGrid": True, "tags": [], "customFields": {},
                      "checklists": {"checklists": []}}
TILE_FIELDS = ("tileType", "insightId", "insightType", "box", "displayMode", "tileParams", "autoLoad",
               "clickAction", "titleOptions", "resizeImageMode") + guesses.TILE_EXTRA_FIELDS
BOX_FIELDS = ("left", "top", "width", "height")
#: DSS 14's dashboards have 36 columns (HEADLESS).
GRID_COLUMNS = 36
#: KIT insights/scenario.js ``resolveRange`` (any other value throws "Unexpected range").
SCENARIO_RUNS_RANGES = ("CURRENT_DAY", "LAST_NIGHT", "PREVIOUS_DAY", "CURRENT_WEEK", "PREVIOUS_WEEK",
                        "CURRENT_MONTH", "PREVIOUS_MONTH")
INSIGHT_FIELDS = ("id", "projectKey", "type", "name", "owner", "listed", "params", "dashboardCreationId",
                  "versionTag", "creationTag", "tags", "customFields", "checklists") + guesses.DASHBOARD_EXTRA_FIELDS
INSIGHT_DEFAULTS = {"listed": False, "params": {}, "tags": [], "customFields": {}, "checklists": {"checklists": []}}

# ---- general settings (KIT templates/admin/general/*.html) ------------------------------------
GENERAL_SETTINGS_FIELDS = ("maxRunningActivities", "maxRunningActivitiesPerJob", "maxRunningActivitiesPerKey",
                           "cgroupSettings")

_ID_ALPHABET = string.ascii_letters + string.digits


def refuse(message):
    raise HTTPError(400, message)


def _known(obj, fields, where):
    if not isinstance(obj, dict):
        refuse("%s must be a JSON object, not %r" % (where, obj))
    return {k: copy.deepcopy(obj[k]) for k in fields if k in obj}


def _defaults(obj, defaults):
    for k, v in defaults.items():
        obj.setdefault(k, copy.deepcopy(v))
    return obj


def _new_id(kind):
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(guesses.GENERATED_ID_LENGTH[kind]))


def _text(obj, field, where):
    value = obj.get(field)
    if not isinstance(value, str) or not value:
        refuse("%s needs a %s (a non-empty string), got %r" % (where, field, value))
    return value


def _bool(obj, field, where):
    if field in obj and not isinstance(obj[field], bool):
        refuse("%s: %s must be true or false, not %r" % (where, field, obj[field]))


# ---- scenarios ----------------------------------------------------------------------------------
def scenario(body, state):
    """A scenario as DSS stores it (PUT .../scenarios/{id}, POST .../scenarios/)."""
    out = _defaults(_known(body, SCENARIO_FIELDS, "Scenario settings"), SCENARIO_DEFAULTS)
    if out.get("type", "step_based") not in SCENARIO_TYPES:
        refuse("Unknown scenario type %s" % out.get("type"))
    _bool(out, "active", "Scenario")
    for field in ("triggers", "reporters"):
        if not isinstance(out[field], list):
            refuse("Scenario %s must be a list" % field)
    out["triggers"] = [trigger(t, i) for i, t in enumerate(out["triggers"])]
    out["reporters"] = [reporter(r, i, state) for i, r in enumerate(out["reporters"])]
    params = out.get("params")
    if params is None:
        params = {}
    if not isinstance(params, dict):
        refuse("Scenario params must be a JSON object")
    if out.get("type", "step_based") == "step_based":
        steps = params.get("steps") or []
        if not isinstance(steps, list):
            refuse("Scenario params.steps must be a list")
        params["steps"] = [step(s, i) for i, s in enumerate(steps)]
    out["params"] = params
    return out


def step(body, index):
    where = "Step %d" % (index + 1)
    out = _known(body, STEP_FIELDS + guesses.STEP_EXTRA_FIELDS, where)
    step_type = _text(out, "type", where)
    out.setdefault("id", "%s_%s" % (step_type, _new_id("step")))
    _defaults(out, STEP_DEFAULTS)
    _defaults(out, guesses.STEP_UI_DEFAULTS)
    if out["runConditionType"] not in RUN_CONDITION_TYPES:
        refuse("%s: runConditionType must be one of %s, not %r" % (where, ", ".join(RUN_CONDITION_TYPES),
                                                                    out["runConditionType"]))
    statuses = out["runConditionStatuses"]
    if not isinstance(statuses, list) or any(s not in STEP_OUTCOMES for s in statuses):
        refuse("%s: runConditionStatuses must be a list of %s, not %r" % (where, ", ".join(STEP_OUTCOMES), statuses))
    for field in ("maxRetriesOnFail", "delayBetweenRetries"):
        if not isinstance(out[field], int) or isinstance(out[field], bool) or out[field] < 0:
            refuse("%s: %s must be an integer >= 0, not %r" % (where, field, out[field]))
    for field in ("resetScenarioStatus",) + guesses.STEP_EXTRA_FIELDS:
        _bool(out, field, where)
    params = out.get("params")
    if params is None:
        params = {}
    if not isinstance(params, dict):
        refuse("%s: params must be a JSON object" % where)
    out["params"] = _defaults(params, STEP_PARAMS_DEFAULTS)
    _bool(params, "proceedOnFailure", where)
    return out


def trigger(body, index):
    where = "Trigger %d" % (index + 1)
    out = _known(body, TRIGGER_FIELDS, where)
    trigger_type = _text(out, "type", where)
    out.setdefault("id", _new_id("trigger"))
    out.setdefault("active", guesses.TRIGGER_ACTIVE_DEFAULT)
    out.setdefault("delay", 0)  # KIT: "don't leave empty delays because they'll become 0"
    _bool(out, "active", where)
    params = out.setdefault("params", {})
    if not isinstance(params, dict):
        refuse("%s: params must be a JSON object" % where)
    if trigger_type == "temporal" and params.get("frequency") not in TEMPORAL_FREQUENCIES:
        refuse("%s: a temporal trigger's params.frequency must be one of %s, not %r"
               % (where, ", ".join(TEMPORAL_FREQUENCIES), params.get("frequency")))
    return out


def reporter(body, index, state):
    where = "Reporter %d" % (index + 1)
    out = _known(body, REPORTER_FIELDS, where)
    out.setdefault("id", _new_id("reporter"))
    for field in ("active", "runConditionEnabled"):
        _bool(out, field, where)
    if "phase" in out and out["phase"] not in REPORTER_PHASES:
        refuse("%s: phase must be START or END, not %r" % (where, out["phase"]))
    messaging = _known(out.get("messaging") or {}, MESSAGING_FIELDS, where + " messaging")
    configuration = messaging.get("configuration") or {}
    if messaging.get("type") == MAIL_REPORTER_TYPE:
        configuration = _known(configuration, guesses.MAIL_CONFIGURATION_FIELDS, where + " configuration")
        _check_mail(configuration, where, state)
    elif messaging.get("type") in guesses.CHAT_REPORTER_CHANNEL_TYPES:
        configuration = _known(configuration, guesses.CHAT_CONFIGURATION_FIELDS[messaging["type"]],
                               where + " configuration")
        _check_chat(messaging["type"], configuration, where, state)
    messaging["configuration"] = configuration
    out["messaging"] = messaging
    return out


def mail_channel_ids(state):
    """Ids of the messaging channels of the instance that send mail."""
    return [c["id"] for c in state.model.get("messaging_channels", [])
            if c.get("family") == "mail" or c.get("type") in MAIL_CHANNEL_TYPES]


def _check_mail(configuration, where, state):
    channel = configuration.get("channelId")
    mail = mail_channel_ids(state)
    if not channel or channel not in mail:
        refuse("%s: a mail reporter needs messaging.configuration.channelId, a mail channel of this instance "
               "(%s), not %r" % (where, ", ".join(mail) or "there is none", channel))
    if not guesses.REFUSE_BAD_REPORTER_ON_SAVE:
        return
    if configuration.get("messageSource", "INLINE") == "INLINE" \
            and configuration.get("templateFormat", "FREEMARKER") == "FREEMARKER":
        sample = {name: "<%s>" % name for name in guesses.REPORTER_TEMPLATE_VARIABLES}
        for field in ("subject", "message"):
            try:
                render_template(configuration.get(field) or "", sample)
            except TemplateError as e:
                refuse("%s: the mail %s cannot be rendered: %s" % (where, field, e))


def _check_chat(reporter_type, configuration, where, state):
    """A Slack, Teams or webhook reporter: its channelId a channel of the matching type, its lists
    lists, its message rendered with the variables DSS provides."""
    channel_type = guesses.CHAT_REPORTER_CHANNEL_TYPES[reporter_type]
    ids = [c["id"] for c in state.model.get("messaging_channels", []) if c.get("type") == channel_type]
    channel = configuration.get("channelId")
    if not channel or channel not in ids:
        refuse("%s: a %s reporter needs messaging.configuration.channelId, a %s channel of this instance "
               "(%s), not %r" % (where, reporter_type, channel_type, ", ".join(ids) or "there is none", channel))
    for field in ("variables", "parameters", "headers", "form"):
        if not isinstance(configuration.get(field, []), list):
            refuse("%s: messaging.configuration.%s must be a list" % (where, field))
    if "useProxy" in configuration and not isinstance(configuration["useProxy"], bool):
        refuse("%s: messaging.configuration.useProxy must be a boolean" % where)
    if not guesses.REFUSE_BAD_REPORTER_ON_SAVE:
        return
    sample = {name: "<%s>" % name for name in guesses.REPORTER_TEMPLATE_VARIABLES}
    for field in guesses.CHAT_TEMPLATE_FIELDS:
        if field in configuration:
            try:
                render_template(configuration.get(field) or "", sample)
            except TemplateError as e:
                refuse("%s: the %s %s cannot be rendered: %s" % (where, reporter_type, field, e))


def send_payload(raw):
    """The JSON part of a mail channel's send: a JSON object of the fields dataikuapi sends, ``to``
    a non-empty list of addresses, ``subject`` and ``body`` strings, ``plainText`` a boolean."""
    try:
        payload = json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
    except (ValueError, UnicodeDecodeError):
        refuse("The message part is not valid JSON")
    if not isinstance(payload, dict):
        refuse("The message part must be a JSON object")
    unknown = sorted(set(payload) - set(guesses.SEND_PAYLOAD_FIELDS))
    if unknown and guesses.REFUSE_UNKNOWN_SEND_FIELDS:
        refuse("Unrecognized field(s) in the message: %s" % ", ".join(unknown))
    to = payload.get("to")
    if not isinstance(to, list) or not to or not all(isinstance(a, str) and "@" in a for a in to):
        refuse("The message needs 'to', a non-empty list of e-mail addresses, not %r" % (to,))
    for field in ("cc", "bcc"):
        if payload.get(field) is not None and not (isinstance(payload[field], list)
                                                   and all(isinstance(a, str) for a in payload[field])):
            refuse("'%s' must be a list of e-mail addresses or null" % field)
    if payload.get("from") is not None and not isinstance(payload["from"], str):
        refuse("'from' must be an e-mail address or null")
    for field in ("subject", "body"):
        if not isinstance(payload.get(field), str):
            refuse("The message needs '%s', a string" % field)
    if not isinstance(payload.get("plainText", False), bool):
        refuse("'plainText' must be a boolean")
    return payload


class TemplateError(Exception):
    pass


_INTERPOLATION = re.compile(r"\$\{([^}]*)\}")


def render_template(text, values):
    """``text`` with each ``${name}`` replaced by ``values[name]``, as DSS's Freemarker renders a
    mail reporter; any other name or expression fails, as it makes DSS's mail fail."""
    def one(match):
        name = match.group(1).strip()
        if name not in values:
            raise TemplateError("InvalidReferenceException: the following has evaluated to null or missing: "
                                "==> %s (the variables are %s)" % (name, ", ".join(sorted(values))))
        return str(values[name])
    return _INTERPOLATION.sub(one, text)


def render_mail(reporter_settings, scenario_name, project_key, outcome):
    """(subject, message) of a saved mail reporter at the end of a run, as DSS would send it."""
    configuration = reporter_settings["messaging"]["configuration"]
    values = dict(zip(guesses.REPORTER_TEMPLATE_VARIABLES, (scenario_name, project_key, outcome)))
    return (render_template(configuration.get("subject") or "", values),
            render_template(configuration.get("message") or "", values))


# ---- project permissions and settings -------------------------------------------------------------
def permissions(entries):
    """The permissions list as DSS stores it: each entry with its group (or user) and all 12 flags."""
    if not isinstance(entries, list):
        refuse("permissions must be a list, not %r" % (entries,))
    out = []
    for i, entry in enumerate(entries):
        where = "Permission %d" % (i + 1)
        if not isinstance(entry, dict):
            refuse("%s must be a JSON object" % where)
        who = [k for k in ("group", "user") if entry.get(k) is not None]
        if len(who) != 1 or not isinstance(entry[who[0]], str) or not entry[who[0]]:
            refuse("%s needs exactly one of group or user (a name), got %r" % (where, entry))
        item = {who[0]: entry[who[0]]}
        for flag in PERMISSION_FLAGS:
            _bool(entry, flag, where)
            item[flag] = entry.get(flag, False)
        out.append(item)
    return out


def project_settings(body, stored):
    """The project after a PUT of its settings: known fields replaced, unknown ones dropped, the
    permissions untouched (they are not part of the settings)."""
    sent = _known(body, guesses.PROJECT_SETTINGS_FIELDS, "Project settings")
    if "settings" in sent and not isinstance(sent["settings"], dict):
        refuse("Project settings: settings must be a JSON object")
    out = dict(stored)
    sent.pop("projectKey", None)
    out.update(sent)
    if not guesses.SETTINGS_PUT_IGNORES_PERMISSIONS and "permissions" in body:
        out["permissions"] = permissions(body["permissions"])
    return out


def project_settings_view(stored, key):
    """GET .../settings: the project without its permissions."""
    out = {k: copy.deepcopy(v) for k, v in stored.items() if k in guesses.PROJECT_SETTINGS_FIELDS}
    out.setdefault("settings", {})
    out["projectKey"] = key
    return out


# ---- dashboards and insights ------------------------------------------------------------------------
def dashboard(body, state, key):
    out = _defaults(_known(body, DASHBOARD_FIELDS, "Dashboard"), DASHBOARD_DEFAULTS)
    if not isinstance(out["pages"], list):
        refuse("Dashboard pages must be a list")
    insights = {i["id"]: i for i in state.list_objects(key, "insights")}
    out["pages"] = [_page(p, i, insights) for i, p in enumerate(out["pages"])]
    return out


def _page(body, index, insights):
    where = "Page %d" % (index + 1)
    out = _known(body, guesses.PAGE_FIELDS, where)
    out.setdefault("id", _new_id("page"))
    grid = out.get("grid") or {}
    if not isinstance(grid, dict) or not isinstance(grid.get("tiles", []), list):
        refuse("%s: grid must be {\"tiles\": [...]}" % where)
    tiles = [_tile(t, "%s, tile %d" % (where, j + 1), insights) for j, t in enumerate(grid.get("tiles", []))]
    boxes = [t["box"] for t in tiles]
    for a in range(len(boxes)):
        for b in range(a):
            if _overlap(boxes[a], boxes[b]):
                refuse("%s: tile %d overlaps tile %d (%s and %s)" % (where, a + 1, b + 1, boxes[a], boxes[b]))
    out["grid"] = {"tiles": tiles}
    return out


def _tile(body, where, insights):
    out = _known(body, TILE_FIELDS, where)
    tile_type = _text(out, "tileType", where)
    out.setdefault("tileParams", {})
    if not isinstance(out["tileParams"], dict):
        refuse("%s: tileParams must be a JSON object" % where)
    _defaults(out, guesses.TILE_DEFAULTS)
    _bool(out, "autoLoad", where)
    if tile_type == "INSIGHT":
        insight_id = _text(out, "insightId", where)
        insight_type = _text(out, "insightType", where)
        if guesses.TILE_REQUIRES_EXISTING_INSIGHT:
            if insight_id not in insights:
                refuse("%s: insight %s does not exist in this project" % (where, insight_id))
            if insights[insight_id].get("type") != insight_type:
                refuse("%s: insight %s is a %s, not a %s" % (where, insight_id, insights[insight_id].get("type"),
                                                              insight_type))
        if insight_type == "scenario_last_runs" and out["tileParams"].get("range") not in SCENARIO_RUNS_RANGES:
            refuse("%s: a scenario_last_runs tile needs tileParams.range (one of %s) to load, not %r"
                   % (where, ", ".join(SCENARIO_RUNS_RANGES), out["tileParams"].get("range")))
    out["box"] = _box(out.get("box"), where)
    return out


def _box(box, where):
    box = _known(box if box is not None else {}, BOX_FIELDS, where + " box")
    for field in BOX_FIELDS:
        value = box.get(field)
        if not isinstance(value, int) or isinstance(value, bool):
            refuse("%s: box.%s must be an integer, not %r" % (where, field, value))
    if not 0 <= box["left"] < GRID_COLUMNS or box["width"] < 1 or box["left"] + box["width"] > GRID_COLUMNS:
        refuse("%s: box %s is off the %d-column grid (left 0 to %d, left + width at most %d)"
               % (where, box, GRID_COLUMNS, GRID_COLUMNS - 1, GRID_COLUMNS))
    if box["top"] < 0 or box["height"] < 1:
        refuse("%s: box %s needs top >= 0 and height >= 1" % (where, box))
    return box


def _overlap(a, b):
    return (a["left"] < b["left"] + b["width"] and b["left"] < a["left"] + a["width"]
            and a["top"] < b["top"] + b["height"] and b["top"] < a["top"] + a["height"])


def insight(body):
    out = _defaults(_known(body, INSIGHT_FIELDS, "Insight"), INSIGHT_DEFAULTS)
    _text(out, "type", "Insight")
    if not isinstance(out["params"], dict):
        refuse("Insight params must be a JSON object")
    _bool(out, "listed", "Insight")
    return out


# ---- general settings -------------------------------------------------------------------------------
def general_settings(body, stored):
    """The general settings as DSS stores them: the fields it knows (those it has, and the activity
    limits and cgroups of the facts), unknown ones dropped, limits checked."""
    known = tuple(stored) + tuple(k for k in GENERAL_SETTINGS_FIELDS if k not in stored)
    out = _known(body, known, "General settings")
    for field in ("maxRunningActivities", "maxRunningActivitiesPerJob"):
        if field in out and (not isinstance(out[field], int) or isinstance(out[field], bool) or out[field] < 0):
            refuse("General settings: %s must be an integer >= 0 (0: unlimited), not %r" % (field, out[field]))
    if "maxRunningActivitiesPerKey" in out:
        items = out["maxRunningActivitiesPerKey"]
        if not isinstance(items, list):
            refuse("General settings: maxRunningActivitiesPerKey must be a list of {key, value}")
        cleaned = []
        for item in items:
            item = _known(item, ("key", "value"), "maxRunningActivitiesPerKey item")
            if not isinstance(item.get("key"), str) or not isinstance(item.get("value"), int):
                refuse("General settings: each maxRunningActivitiesPerKey item is {key: string, value: integer}")
            cleaned.append(item)
        out["maxRunningActivitiesPerKey"] = cleaned
    return out
