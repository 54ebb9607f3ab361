"""The Administration project: one macro creates it, complete, and brings it up
to date; a second run changes nothing and says so.

The desired state (:func:`desired_scenarios`, the dashboard) is plain data, in
the shapes DSS itself saves: the project, its administrators-only permissions,
one scenario per maintenance task made of this plugin's steps, mail reporters,
and the "Node health" dashboard. The plan (:func:`plan`) compares it with what
DSS has; applying it goes object by object.

DSS normalises what it stores (a saved step gains fields, reporters gain ids,
permissions carry every flag), so node-ops never compares what it sends with
what DSS gives back. It remembers, in the project variable ``node_ops_setup``,
each scenario's id, the fingerprint of what it wanted to write (``wanted``) and
the fingerprint of node-ops's part of the scenario as DSS stored it, read back
after saving (``stored``). A scenario whose part no longer matches ``stored`` was
changed by hand: it is left alone unless ``overwrite`` is set. One whose ``wanted``
changed (new parameters or plugin version) is updated. Activating a scenario is
not an edit (``active`` is not in node-ops's part). Shapes that no public source
confirms are the ``GUESS_*`` helpers below (README, "verified / not yet").
"""

import hashlib
import json
import re
from dataclasses import dataclass
from typing import List, Optional

from . import adminsetup, alerts, dssapi, resources, settings
from .errors import ParameterError
from .params import MAX_COUNT, MAX_DAYS, MAX_HOURS, Param, separator, timezone_problem
from .report import Column, Figure, Report, Table

OPERATION_ID = "setup-admin-project"
TITLE = "Set up the administration project"
STATE_VARIABLE = "node_ops_setup"
DASHBOARD_NAME = "Node health"
_KEY_RE = re.compile(r"^[A-Z][A-Z0-9_]*$")
_EMAIL_RE = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")

PARAMS = (
    separator("Project"),
    Param("project_key", "STRING", "Project key", default="ADMIN", setting="admin_project_key",
          description="Key of the administration project (capital letters, digits, _)."),
    Param("project_name", "STRING", "Project name", default="Administration tasks", mandatory=True,
          description="Name given to the project when it is created."),
    separator("Alerts", "Where the scenarios report a failure."),
    Param("alert_email", "STRING", "Alert e-mail", default="",
          description="With a mail channel (or no channel): every scenario mails this address when it fails."),
    Param("alert_channel", "SELECT", "Alert channel", default="", choices_from="alert_channels",
          setting="alert_channel",
          description="The messaging channel the alerts are sent through: a mail, Slack, Microsoft Teams or "
                      "webhook channel (Administration > Settings > Notifications & Integrations); no channel: "
                      "the first mail channel of the instance, to the alert e-mail."),
    separator("Schedules and maintenance", "The scenarios' schedules and what their steps are given."),
    Param("timezone", "SELECT", "Time zone", default="", choices_from="timezones",
          description="Time zone of the schedules, e.g. Europe/Paris; empty: the DSS server's."),
    Param("retention_days", "INT", "Log retention (days)", default=30, min=0, max=MAX_DAYS, mandatory=True,
          description="Passed to the purge steps."),
    Param("keep_last", "INT", "Always keep the newest", default=20, min=0, max=MAX_COUNT, mandatory=True,
          description="Passed to the log purge steps."),
    Param("max_idle_hours", "DOUBLE", "Kernel idle limit (hours)", default=24, min=0, max=MAX_HOURS, mandatory=True,
          description="Passed to the kernel culling step."),
    Param("backup_dir", "STRING", "Backup folder", default="", setting="backup_dir",
          description="When set (an absolute path outside DIP_HOME), a BACKUP scenario archives config/ there "
                      "every night at 01:00."),
    separator("Run"),
    Param("activate", "BOOLEAN", "Activate the scenarios", default=False,
          description="Activate the scenarios node-ops created (new ones are created inactive until an "
                      "administrator has reviewed them). Never deactivates."),
    Param("overwrite", "BOOLEAN", "Overwrite hand edits", default=False,
          description="Also bring back scenarios an administrator changed by hand."),
    Param("dry_run", "BOOLEAN", "Dry run", default=True,
          description="Report what would be created or changed; change nothing."),
)

#: The switches of the weekly reclaim-disk step (issue 16): saved-model versions and ML splits on,
#: deleted projects' data and pre-migration backups off until an administrator turns them on.
RECLAIM_STEP = {"retention_days": 30, "keep_versions": 3, "saved_model_versions": True, "ml_unused_splits": True,
                "deleted_projects_data": False, "pre_migration_backups": False, "diagnosis": True}

#: The flags of a project permission as DSS stores them (a DSS 8 export's params.json).
PERMISSION_FLAGS = ("admin", "readProjectContent", "writeProjectContent", "exportDatasetsData", "readDashboards",
                    "writeDashboards", "moderateDashboards", "runScenarios", "manageDashboardAuthorizations",
                    "manageExposedElements", "manageAdditionalDashboardUsers", "executeApp")
#: DSS 14 dashboards have 36 columns (dataiku-headless).
GRID_COLUMNS = 36
#: The static insights the steps save (capacity.INSIGHT_ID, audit.INSIGHT_ID), the scenario that does.
STATIC_INSIGHTS = (("node-ops-capacity-report", "Capacity report", "CAPACITY_REPORT"),
                   ("node-ops-config-audit", "Configuration audit", "CONFIG_AUDIT"))


# ---- shapes as DSS saves them (../shared/reference/dss-facts-confirmed.md) ----------------------
def plugin_step(step_id, name, config, retries):
    """A step running this plugin's step ``step_id``, with every field of a step DSS saved (a DSS 8
    export's plugin step: MAL ``Retrain_model.json``)."""
    return {"id": "nodeops_%s" % step_id.replace("-", "_"), "type": resources.step_type(step_id),
            "name": name, "runConditionType": "RUN_IF_STATUS_MATCH", "runConditionStatuses": ["SUCCESS", "WARNING"],
            "runConditionExpression": "", "resetScenarioStatus": False, "delayBetweenRetries": 60,
            "maxRetriesOnFail": retries, "params": {"config": config, "proceedOnFailure": False}}


def mail_reporter(email, channel_id, scenario_name):
    """A mail reporter on failure as DSS 14.7 saves it (PULSE); DSS gives it its id. Its templates use
    only ${scenarioName}, ${scenarioProjectKey} and ${outcome}: PULSE found that another variable
    (``${scenarioRunURL}``) makes the whole mail fail."""
    return {"name": "node-ops: mail on failure", "active": True, "phase": "END", "runConditionEnabled": True,
            "runCondition": "outcome == 'FAILED'",
            "messaging": {"type": "mail-scenario", "configuration": {
                "channelId": channel_id, "recipient": email,
                "subject": "DSS ${scenarioProjectKey}: ${scenarioName} ended with ${outcome}",
                "message": "The scenario ${scenarioName} (%s) of project ${scenarioProjectKey} ended with "
                           "${outcome}.\n\nIts last runs are on the \"%s\" dashboard of the project."
                           % (scenario_name, DASHBOARD_NAME),
                "sendAsHTML": False, "attachments": [], "messageSource": "INLINE",
                "templateFormat": "FREEMARKER"}}}


def button_insight(macro_id, label):
    """A "Macro" insight (KIT insights/runnable-button.js: ``params.runnableType``)."""
    return {"type": "runnable-button", "name": label,
            "params": {"runnableType": resources.macro_type(macro_id)}}


def last_runs_insight(scenario_id, name):
    """A "Scenario last runs" insight (KIT insights/scenario.js: ``params.scenarioSmartId``)."""
    return {"type": "scenario_last_runs", "name": "Last runs: %s" % name, "params": {"scenarioSmartId": scenario_id}}


#: tileParams, clickAction and showTitle of a new tile by insight type (KIT dashboards/edit.js
#: ``newInsightTile`` and each insight type's handler).
TILE_PARAMS = {"scenario_last_runs": {"displayMode": "SIMPLE", "range": "CURRENT_MONTH"},
               "static_file": {"numDisplayedComments": 5}, "runnable-button": {"showName": True}}
CLICK_ACTIONS = {"scenario_last_runs": "OPEN_INSIGHT"}
SHOW_TITLE = {"scenario_last_runs": "MOUSEOVER"}


def tile(insight_id, insight_type, box):
    """A tile as DSS's dashboard editor creates it (KIT ``newInsightTile``; MAL dashboards)."""
    show_title = SHOW_TITLE.get(insight_type, "YES")
    return {"tileType": "INSIGHT", "insightId": insight_id, "insightType": insight_type,
            "tileParams": dict(TILE_PARAMS.get(insight_type, {})), "displayMode": "INSIGHT", "box": box,
            "clickAction": CLICK_ACTIONS.get(insight_type, "DO_NOTHING"), "showTitle": show_title,
            "titleOptions": GUESS_title_options(show_title), "resizeImageMode": "FIT_SIZE", "autoLoad": True}


# ---- shapes not confirmed by a public source (README, "verified / not yet") ------------------
def GUESS_title_options(show_title):
    """DSS 12+ tiles carry ``titleOptions``; only its name is known, not what is inside."""
    return {"showTitle": show_title}


def GUESS_tile_size(insight_type):
    """(width, height) on the 36-column grid: DSS 9's default sizes on its 12 columns (KIT: button
    2x2, static insight 5x3, last runs 12x1) times three; the row height of DSS 14 is not known."""
    return {"runnable-button": (6, 6), "static_file": (18, 12), "scenario_last_runs": (36, 3)}[insight_type]


def placeholder_html(label, scenario_key):
    return ("<p>No %s yet: the %s scenario of this project saves it here when it runs.</p>"
            % (label.lower(), scenario_key))


# ---- the desired state ------------------------------------------------------------------------
@dataclass
class ScenarioSpec:
    key: str  # the stable id
    name: str
    trigger: dict
    steps: List[dict]


def _trigger(frequency, timezone, **params):
    """A time trigger as the dataikuapi 15.2 ``add_*_trigger`` helpers build it."""
    if frequency == "Minutely":  # add_periodic_trigger
        p = {"frequency": frequency, "repeatFrequency": params["repeatFrequency"]}
    else:
        p = {"frequency": frequency, "startingFrom": "2024-01-01", "repeatFrequency": 1, "timezone": timezone}
        p.update(params)
    return {"id": "nodeops_schedule", "name": "node-ops schedule", "type": "temporal", "active": True, "delay": 5,
            "params": p}


def _own(params, inherit, **fields):
    """A step's values of the fields fed by plugin-level settings (step field -> this form's field):
    only those this form typed; a value the settings give is left out, so the step reads the setting
    when it runs and follows it when an administrator changes it (Plugins > node-ops > Settings)."""
    return {step_field: params[name] for step_field, name in fields.items() if name not in inherit}


def desired_scenarios(params, inherit=frozenset()) -> List[ScenarioSpec]:
    """The scenarios, their steps configured from ``params``; ``inherit``: the fields whose value is
    what the plugin-level settings give (:func:`nodeops.settings.inherited`), left out of the steps."""
    tz = params.timezone or "SERVER"
    retention = {"retention_days": params.retention_days, "keep_last": params.keep_last, "projects_mode": "ALL",
                 "include_orphans": True, "dry_run": False, "fail_on_error": True}
    return [
        ScenarioSpec("NIGHTLY_CLEANUP", "Nightly cleanup", _trigger("Daily", tz, hour=2, minute=0), [
            plugin_step("purge-job-logs", "Purge job logs", dict(retention), 1),
            plugin_step("purge-scenario-logs", "Purge scenario run logs", dict(retention), 1),
            plugin_step("purge-exports", "Purge user exports",
                        {"retention_days": params.retention_days, "dry_run": False, "fail_on_error": True}, 1)]),
        ScenarioSpec("KERNEL_CULLING", "Kernel culling", _trigger("Hourly", tz, hour=0, minute=10), [
            plugin_step("cull-kernels", "Cull forgotten kernels",
                        {"max_idle_hours": params.max_idle_hours, "dry_run": False, "fail_on_error": True}, 0)]),
        ScenarioSpec("CAPACITY_REPORT", "Capacity report", _trigger("Daily", tz, hour=6, minute=0), [
            plugin_step("capacity-report", "Capacity report", {"history": True}, 1)]),
        ScenarioSpec("CONFIG_AUDIT", "Config audit",
                     _trigger("Weekly", tz, hour=7, minute=0, daysOfWeek=["Monday"]), [
            plugin_step("config-audit", "Configuration audit",
                        dict({"fail_severity": "FAIL"}, **_own(params, inherit, admin_project_key="project_key",
                                                                backup_dir="backup_dir")), 0)]),
        # Sunday 03:00: what DSS never cleans itself. The families that delete whole folders of data
        # (deleted projects' data, pre-migration backups) stay off until an administrator turns them on
        # in the step.
        ScenarioSpec("RECLAIM_DISK", "Reclaim disk",
                     _trigger("Weekly", tz, hour=3, minute=0, daysOfWeek=["Sunday"]), [
            plugin_step("reclaim-disk", "Reclaim disk", dict(RECLAIM_STEP, projects_mode="ALL", dry_run=False,
                                                             fail_on_error=True), 1)]),
        ScenarioSpec("MONITORING", "Monitoring", _trigger("Minutely", tz, repeatFrequency=5), [
            plugin_step("collect-metrics", "Collect metrics", {"history": True}, 0),
            dict(plugin_step("health-check", "Health check", {}, 0),
                 runConditionType="RUN_ALWAYS")]),  # check health even when a sink failed
    ] + ([ScenarioSpec("BACKUP", "Backup", _trigger("Daily", tz, hour=1, minute=0), [
        plugin_step("backup", "Back up config/", dict(_own(params, inherit, target_dir="backup_dir"),
                                                       scope="CONFIG", dry_run=False), 1)])] if params.backup_dir else [])


def dashboard_macros():
    """The macros the dashboard has a button for: every macro of the plugin but this one."""
    return [(macro_id, label) for macro_id, label in resources.plugin_macros() if macro_id != OPERATION_ID]


def managed_part(raw, with_reporters=True):
    """The part of a scenario's settings node-ops owns (what the fingerprints cover)."""
    part = {"name": raw.get("name"), "triggers": raw.get("triggers") or [],
            "steps": (raw.get("params") or {}).get("steps") or []}
    if with_reporters:
        part["reporters"] = raw.get("reporters") or []
    return part


def fingerprint(part):
    return hashlib.sha256(json.dumps(part, sort_keys=True, separators=(",", ":")).encode("utf-8")).hexdigest()[:16]


def _wanted_part(spec, reporters):
    return {"name": spec.name, "triggers": [spec.trigger], "steps": spec.steps, "reporters": reporters}


# ---- plan and apply -----------------------------------------------------------------------------
@dataclass
class Action:
    target: str
    action: str  # create, update, activate, keep, left alone, not created
    reason: str
    apply: Optional[object] = None  # a callable, for create/update/activate


CHANGES = ("create", "update", "activate")


def check(params, ctx):
    """The problems of the parameters (the runner checks them before anything happens)."""
    problems = []
    if not _KEY_RE.match(params.project_key or ""):
        problems.append("'project_key' must be capital letters, digits and _, starting with a letter, not %r"
                        % params.project_key)
    if not (params.project_name or "").strip():
        problems.append("'project_name' must not be empty")
    if params.alert_email and not _EMAIL_RE.match(params.alert_email):
        problems.append("'alert_email' must be one e-mail address, not %r" % params.alert_email)
    if params.alert_channel and params.alert_channel != params.alert_channel.strip():
        problems.append("'alert_channel' must be a channel id, without spaces around it, not %r"
                        % params.alert_channel)
    if params.backup_dir and not params.backup_dir.startswith("/"):
        problems.append("'backup_dir' must be an absolute path, not %r" % params.backup_dir)
    if params.timezone and params.timezone != "SERVER" and timezone_problem("timezone", params.timezone):
        problems.append(timezone_problem("timezone", params.timezone) + " (or SERVER: the server's)")
    return problems


def alert_channel(setup, params):
    """``(channel {"id", "type", "family"} or None, why there is no reporter or None)``. A named channel
    that is not a channel of the instance node-ops can report through is a ParameterError, raised
    before anything is done. A mail channel needs ``alert_email``; the others do not."""
    if not params.alert_email and not params.alert_channel:
        return None, None
    channels = setup.messaging_channels()
    if channels is None:
        if params.alert_channel and params.alert_email:  # this DSS cannot list them: trust the administrator
            return {"id": params.alert_channel, "type": None, "family": "mail"}, None
        return None, ("this DSS cannot list its messaging channels: no alert reporter created "
                      "(set alert_channel to the id of a mail channel, and alert_email)")
    mail = [c for c in channels if dssapi.is_mail_channel(c)]
    if params.alert_channel:
        named = [c for c in channels if c["id"] == params.alert_channel]
        known = ", ".join("%s (%s)" % (c["id"], c["type"]) for c in alerts.supported(channels)) or "none"
        if not named:
            raise ParameterError(OPERATION_ID, ["'alert_channel' %r is not a messaging channel of this instance "
                                                "(its channels for alerts: %s)" % (params.alert_channel, known)])
        if not alerts.reporter_type(named[0]):
            raise ParameterError(OPERATION_ID, ["'alert_channel' %r is a %s channel, not a mail, Slack, Microsoft "
                                                "Teams or webhook channel (channels for alerts: %s)"
                                                % (params.alert_channel, named[0]["type"], known)])
        if dssapi.is_mail_channel(named[0]) and not params.alert_email:
            return None, ("%r is a mail channel and no alert_email is given: no alert reporter created"
                          % params.alert_channel)
        return named[0], None
    if not mail:
        return None, ("no mail channel: no alert reporter created (add a mail channel in Administration > "
                      "Settings > Notifications & Integrations, then run this macro again)")
    return mail[0], None


def alert_reporter(channel, email, scenario_name):
    """The reporter of one scenario for ``channel`` (see :func:`alert_channel`)."""
    if dssapi.is_mail_channel(channel):
        return mail_reporter(email, channel["id"], scenario_name)
    return alerts.chat_reporter(channel, scenario_name, DASHBOARD_NAME)


def run(ctx, params, progress=None) -> Report:
    ctx.require_admin()
    client = ctx.require_client()
    now_ms = int(ctx.now().timestamp() * 1000)
    report = Report(operation=OPERATION_ID, title="%s: %s" % (TITLE, params.project_key), generated_at_ms=now_ms,
                    dry_run=params.dry_run, params=dict(params))
    setup = adminsetup.AdminSetup(client, params.project_key, STATE_VARIABLE, ctx.save_insight)
    channel, no_reporter = alert_channel(setup, params)  # a bad alert_channel: refused before anything
    actions = plan(setup, params, ctx.user, channel, no_reporter, settings.inherited(PARAMS, params, ctx.settings))
    table = Table("actions", "Would do" if params.dry_run else "Done", [
        Column("target", "Object"), Column("action", "Action"), Column("reason", "Why")])
    for a in actions:
        if not params.dry_run and a.apply is not None:
            a.apply()
        table.add(target=a.target, action=a.action, reason=a.reason)
    report.tables.append(table)
    changed = [a for a in actions if a.action in CHANGES]
    report.summary += [
        Figure("changes", "Would change" if params.dry_run else "Changed", len(changed), "count"),
        Figure("unchanged", "Already right", sum(1 for a in actions if a.action == "keep"), "count"),
        Figure("left_alone", "Left alone (changed by hand)", sum(1 for a in actions if a.action == "left alone"),
               "count"),
    ]
    if no_reporter:
        report.notes.append(no_reporter[0].upper() + no_reporter[1:] + ".")
    if not changed:
        report.notes.append("Nothing to change: the administration project is up to date.")
    return report


def _permissions_actions(setup, key, exists):
    """Administrators only: one entry per administrator group (all flags), nothing else. Compared on
    what node-ops manages (who is in the list, and that they are administrators), never on the
    raw entries DSS stores."""
    admin_groups = sorted(setup.admin_groups())
    wanted = [dict({"group": g}, **{flag: True for flag in PERMISSION_FLAGS}) for g in admin_groups]
    current = setup.permissions() if exists else []
    who = sorted((("user", e["user"]) if e.get("user") else ("group", e.get("group"))) for e in current)
    if exists and who == [("group", g) for g in admin_groups] and all(e.get("admin") for e in current):
        return Action("permissions of %s" % key, "keep", "administrators only (%s)" % ", ".join(admin_groups))
    others = sorted({"%s %s" % w if w[0] == "user" else w[1] for w in who} - set(admin_groups))
    return Action("permissions of %s" % key, "update" if exists else "create",
                  "administrators only (%s)%s" % (", ".join(admin_groups),
                                                  "; removes %s" % ", ".join(others) if others else ""),
                  lambda: setup.set_permissions(wanted))


def plan(setup, params, user, channel=None, no_reporter=None, inherit=frozenset()) -> List[Action]:
    key = params.project_key
    actions = []
    exists = setup.exists()
    state = setup.state() if exists else {}
    if not exists:
        actions.append(Action("project %s" % key, "create", "does not exist",
                              lambda: setup.create_project(params.project_name, user,
                                                           "DSS administration tasks scheduled by the node-ops "
                                                           "plugin: purges, disk reclaim, kernel culling, capacity report, "
                                                           "configuration audit. Administrators only.")))
    else:
        actions.append(Action("project %s" % key, "keep", "exists"))
    actions.append(_permissions_actions(setup, key, exists))
    if no_reporter:
        actions.append(Action("alert reporters", "not created", no_reporter))

    scenarios_state = dict(state.get("scenarios") or {})
    new_state = {"scenarios": scenarios_state}
    if state.get("dashboard"):
        new_state["dashboard"] = state["dashboard"]
    existing_ids = set(setup.scenario_ids()) if exists else set()
    for spec in desired_scenarios(params, inherit):
        reporters = [alert_reporter(channel, params.alert_email, spec.name)] if channel else []
        actions += _scenario_actions(setup, params, spec, _wanted_part(spec, reporters), scenarios_state,
                                     new_state, existing_ids)
    if not params.backup_dir:
        actions.append(Action("scenario BACKUP", "not created", "no backup_dir given, in the form or the plugin settings (daily 01:00 backup of config/)"))
    actions += _dashboard_actions(setup, exists, state, new_state, params)
    return actions


def _record(real_id, wanted, stored_raw):
    return {"id": real_id, "wanted": fingerprint(wanted), "stored": fingerprint(managed_part(stored_raw))}


def _scenario_actions(setup, params, spec, wanted, scenarios_state, new_state, existing_ids):
    target = "scenario %s" % spec.key
    recorded = scenarios_state.get(spec.key)
    sid = recorded["id"] if recorded else spec.key
    if sid not in existing_ids:
        def create():
            real_id, stored = setup.create_scenario(spec.key, spec.name, wanted, params.activate)
            scenarios_state[spec.key] = _record(real_id, wanted, stored)
            setup.save_state(new_state)
        return [Action(target, "create", "%s, %s" % (_describe(spec.trigger), "active" if params.activate else
                                                     "inactive until reviewed"), create)]
    raw = setup.scenario(sid)
    # Older records kept one "fingerprint" (of what node-ops sent) for both.
    stored_fp = recorded.get("stored", recorded.get("fingerprint")) if recorded else None
    wanted_fp = recorded.get("wanted", recorded.get("fingerprint")) if recorded else None
    hand_edited = recorded is None or fingerprint(managed_part(raw)) != stored_fp
    activate = params.activate and recorded is not None and not raw.get("active")
    if not hand_edited and wanted_fp == fingerprint(wanted):
        return [_activate_action(setup, spec, sid, scenarios_state, new_state, keep_record=True) if activate
                else Action(target, "keep", "up to date" + ("" if raw.get("active") else ", inactive"))]
    if hand_edited and not params.overwrite:
        out = [Action(target, "left alone", "changed by hand since node-ops wrote it (overwrite=true replaces it)")]
        if activate:
            out.append(_activate_action(setup, spec, sid, scenarios_state, new_state, keep_record=False))
        return out

    def update():
        stored = setup.write_scenario(sid, wanted, True if activate else None)
        scenarios_state[spec.key] = _record(sid, wanted, stored)
        setup.save_state(new_state)
    reason = "changed by hand, overwrite=true" if hand_edited else "new plugin version or parameters"
    return [Action(target, "update", reason + ("; activated (activate=true)" if activate else ""), update)]


def _activate_action(setup, spec, sid, scenarios_state, new_state, keep_record):
    """Activate a scenario node-ops created. Not an edit: ``active`` is outside node-ops's part; should
    DSS rewrite that part when saving, the record follows (unless the scenario was edited by hand)."""
    def activate():
        stored = setup.activate_scenario(sid)
        record = scenarios_state[spec.key]
        if keep_record and record.get("stored") != fingerprint(managed_part(stored)):
            scenarios_state[spec.key] = dict(record, stored=fingerprint(managed_part(stored)))
            setup.save_state(new_state)
    return Action("scenario %s" % spec.key, "activate", "activate=true: node-ops created it, it was inactive",
                  activate)


def _describe(trigger):
    p = trigger["params"]
    if p["frequency"] == "Minutely":
        return "every %d minutes" % p["repeatFrequency"]
    if p["frequency"] == "Hourly":
        return "hourly at :%02d" % p["minute"]
    days = ("on " + ", ".join(p["daysOfWeek"]) + " ") if p.get("daysOfWeek") else ""
    return "%s %sat %02d:%02d (%s)" % (p["frequency"].lower(), days, p["hour"], p["minute"], p["timezone"])


def layout(items, columns=GRID_COLUMNS):
    """Boxes for ``[(insight_type, group)]`` on the grid: left to right, a new row when a tile does not
    fit or a new group starts; no two boxes overlap."""
    boxes, left, top, row_height, group = [], 0, 0, 0, None
    for insight_type, item_group in items:
        width, height = GUESS_tile_size(insight_type)
        if left and (left + width > columns or item_group != group):
            left, top, row_height = 0, top + row_height, 0
        boxes.append({"left": left, "top": top, "width": width, "height": height})
        left, row_height, group = left + width, max(row_height, height), item_group
    return boxes


def _dashboard_actions(setup, exists, state, new_state, params):
    """The 'Node health' dashboard: a button per node-ops macro, the static insights of the
    capacity and audit steps (a placeholder saved first when they do not exist yet), the last
    runs of each scenario."""
    recorded = state.get("dashboard") or {}
    have = setup.dashboard(recorded.get("id")) if exists and recorded.get("id") else None
    if have is not None:
        return [Action("dashboard %s" % DASHBOARD_NAME, "keep", "exists (tiles are not rewritten)")]
    actions, shown = [], []
    existing = setup.insight_ids() if exists else set()
    for insight_id, label, scenario_key in STATIC_INSIGHTS:
        if insight_id in existing:
            shown.append(insight_id)
        elif setup.save_insight is not None:
            actions.append(Action("static insight %s" % insight_id, "create",
                                  "placeholder until the %s scenario saves the report" % scenario_key,
                                  lambda i=insight_id, l=label, s=scenario_key:
                                  setup.save_static_insight(i, placeholder_html(l, s), l)))
            shown.append(insight_id)
        else:
            actions.append(Action("static insight %s" % insight_id, "not created",
                                  "static insights are saved from inside DSS (dataiku.insights), not from the "
                                  "command line: the dashboard is made without this report"))
    macros = dashboard_macros()
    specs = desired_scenarios(params)

    def create():
        insights = [(setup.create_insight(button_insight(m, label)), "runnable-button", "buttons")
                    for m, label in macros]
        insights += [(insight_id, "static_file", "reports") for insight_id in shown]
        for spec in specs:
            sid = (new_state["scenarios"].get(spec.key) or {}).get("id", spec.key)
            insights.append((setup.create_insight(last_runs_insight(sid, spec.name)), "scenario_last_runs", "runs"))
        boxes = layout([(itype, group) for _, itype, group in insights])
        tiles = [tile(insight_id, itype, box) for (insight_id, itype, _), box in zip(insights, boxes)]
        dashboard_id = setup.create_dashboard(DASHBOARD_NAME, [{"id": "nodeops", "title": DASHBOARD_NAME,
                                                                "grid": {"tiles": tiles}}])
        new_state["dashboard"] = {"id": dashboard_id}
        setup.save_state(new_state)
    actions.append(Action("dashboard %s" % DASHBOARD_NAME, "create",
                          "%d macro buttons, %d reports, the last runs of %d scenarios"
                          % (len(macros), len(shown), len(specs)), create))
    return actions
