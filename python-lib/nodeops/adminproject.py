"""The Administration project: one macro creates it, complete, and brings it up
to date; a second run changes nothing and says so.

The desired state (:func:`desired`) is plain data: the project, its
administrators-only permissions, one scenario per maintenance task made of this
plugin's steps, mail reporters, and the "Node health" dashboard. The plan
(:func:`plan`) compares it with what DSS has; applying it goes object by
object. What node-ops wrote is remembered in the project variable
``node_ops_setup`` (scenario ids and a fingerprint of their managed part), so a
scenario an administrator changed by hand is recognised and left alone unless
``overwrite`` is set. Shapes that no public source confirms are the
``GUESS_*`` helpers below (README, "verified / not yet").
"""

import hashlib
import json
import re
from dataclasses import dataclass
from typing import List, Optional

from . import adminsetup
from .params import MAX_COUNT, MAX_DAYS, MAX_HOURS, Param, timezone_problem
from .report import Column, Figure, Report, Table

OPERATION_ID = "setup-admin-project"
TITLE = "Set up the administration project"
PLUGIN_ID = "node-ops"
STATE_VARIABLE = "node_ops_setup"
DASHBOARD_NAME = "Node health"
_KEY_RE = re.compile(r"^[A-Z][A-Z0-9_]*$")
_EMAIL_RE = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")

PARAMS = (
    Param("project_key", "STRING", "Project key", default="ADMIN",
          description="Key of the administration project (capital letters, digits, _)."),
    Param("project_name", "STRING", "Project name", default="Administration tasks"),
    Param("alert_email", "STRING", "Alert e-mail", default="",
          description="When set, every scenario mails this address when it fails."),
    Param("timezone", "STRING", "Time zone", default="",
          description="Time zone of the schedules, e.g. Europe/Paris; empty: the DSS server's."),
    Param("retention_days", "INT", "Log retention (days)", default=30, min=0, max=MAX_DAYS,
          description="Passed to the purge steps."),
    Param("keep_last", "INT", "Always keep the newest", default=20, min=0, max=MAX_COUNT,
          description="Passed to the log purge steps."),
    Param("max_idle_hours", "DOUBLE", "Kernel idle limit (hours)", default=24, min=0, max=MAX_HOURS,
          description="Passed to the kernel culling step."),
    Param("backup_dir", "STRING", "Backup folder", default="",
          description="When set (an absolute path outside DIP_HOME), a BACKUP scenario archives config/ there "
                      "every night at 01:00."),
    Param("activate", "BOOLEAN", "Activate the scenarios", default=False,
          description="New scenarios are created inactive until an administrator has reviewed them."),
    Param("overwrite", "BOOLEAN", "Overwrite hand edits", default=False,
          description="Also bring back scenarios an administrator changed by hand."),
    Param("dry_run", "BOOLEAN", "Dry run", default=True,
          description="Report what would be created or changed; change nothing."),
)


# ---- shapes not confirmed by a public source (README, "verified / not yet") ------------------
def GUESS_plugin_step(step_id, name, config, retries):
    """A scenario step running this plugin's step ``step_id`` (type from dataiku-headless,
    params shape unverified: the step's config under ``config``)."""
    return {"id": "nodeops_%s" % step_id.replace("-", "_"), "type": "pystep_%s_%s" % (PLUGIN_ID, step_id),
            "name": name, "enabled": True, "runConditionType": "RUN_IF_STATUS_MATCH",
            "runConditionStatuses": ["SUCCESS", "WARNING"], "maxRetriesOnFail": retries,
            "delayBetweenRetries": 60, "params": {"config": config}}


def GUESS_mail_reporter(email, scenario_name):
    return {"id": "nodeops_mail_on_failure", "name": "Mail on failure", "active": True,
            "runConditionEnabled": True, "runCondition": "outcome == 'FAILED'",
            "messaging": {"type": "mail-scenario", "configuration": {
                "recipient": email, "subject": "DSS %s failed" % scenario_name,
                "message": "${scenarioName} ended with ${outcome}: ${scenarioRunURL}"}}}


def GUESS_button_insight(macro_id, label):
    return {"type": "runnable-button", "name": label,
            "params": {"runnableType": "pyrunnable_%s_%s" % (PLUGIN_ID, macro_id)}}


def GUESS_last_runs_insight(scenario_id, name):
    return {"type": "scenario_last_runs", "name": "Last runs: %s" % name, "params": {"scenarioSmartId": scenario_id}}


def GUESS_tile(insight_id, insight_type, left, top, width, height):
    return {"tileType": "INSIGHT", "insightId": insight_id, "insightType": insight_type,
            "box": {"left": left, "top": top, "width": width, "height": height}, "displayMode": "INSIGHT"}


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


def desired_scenarios(params) -> List[ScenarioSpec]:
    tz = params.timezone or "SERVER"
    retention = {"retention_days": params.retention_days, "keep_last": params.keep_last, "projects_mode": "ALL",
                 "include_orphans": True, "dry_run": False, "fail_on_error": True}
    return [
        ScenarioSpec("NIGHTLY_CLEANUP", "Nightly cleanup", _trigger("Daily", tz, hour=2, minute=0), [
            GUESS_plugin_step("purge-job-logs", "Purge job logs", dict(retention), 1),
            GUESS_plugin_step("purge-scenario-logs", "Purge scenario run logs", dict(retention), 1),
            GUESS_plugin_step("purge-exports", "Purge user exports",
                              {"retention_days": params.retention_days, "dry_run": False, "fail_on_error": True}, 1)]),
        ScenarioSpec("KERNEL_CULLING", "Kernel culling", _trigger("Hourly", tz, hour=0, minute=10), [
            GUESS_plugin_step("cull-kernels", "Cull forgotten kernels",
                              {"max_idle_hours": params.max_idle_hours, "dry_run": False, "fail_on_error": True}, 0)]),
        ScenarioSpec("CAPACITY_REPORT", "Capacity report", _trigger("Daily", tz, hour=6, minute=0), [
            GUESS_plugin_step("capacity-report", "Capacity report", {"history": True}, 1)]),
        ScenarioSpec("CONFIG_AUDIT", "Config audit",
                     _trigger("Weekly", tz, hour=7, minute=0, daysOfWeek=["Monday"]), [
            GUESS_plugin_step("config-audit", "Configuration audit",
                              {"fail_severity": "FAIL", "admin_project_key": params.project_key}, 0)]),
        ScenarioSpec("MONITORING", "Monitoring", _trigger("Minutely", tz, repeatFrequency=5), [
            GUESS_plugin_step("collect-metrics", "Collect metrics", {"history": True}, 0),
            dict(GUESS_plugin_step("health-check", "Health check", {}, 0),
                 runConditionType="RUN_ALWAYS")]),  # check health even when a sink failed
    ] + ([ScenarioSpec("BACKUP", "Backup", _trigger("Daily", tz, hour=1, minute=0), [
        GUESS_plugin_step("backup", "Back up config/", {"target_dir": params.backup_dir, "scope": "CONFIG",
                                                         "dry_run": False}, 1)])] if params.backup_dir else [])




MACROS = (("capacity-report", "Capacity report"), ("config-audit", "Configuration audit"),
          ("collect-metrics", "Collect metrics"),
          ("cull-kernels", "Cull Jupyter kernels"), ("purge-job-logs", "Purge job logs"),
          ("purge-scenario-logs", "Purge scenario run logs"), ("purge-exports", "Purge user exports"))
STATIC_INSIGHTS = (("node-ops-capacity-report", "Capacity report"), ("node-ops-config-audit", "Configuration audit"))


def managed_part(raw, with_reporters):
    """The part of a scenario's settings node-ops owns (what the fingerprint covers)."""
    part = {"name": raw.get("name"), "triggers": raw.get("triggers") or [],
            "steps": (raw.get("params") or {}).get("steps") or []}
    if with_reporters:
        part["reporters"] = raw.get("reporters") or []
    return part


def fingerprint(part):
    return hashlib.sha256(json.dumps(part, sort_keys=True, separators=(",", ":")).encode("utf-8")).hexdigest()[:16]


def _wanted_part(spec, params):
    part = {"name": spec.name, "triggers": [spec.trigger], "steps": spec.steps}
    part["reporters"] = [GUESS_mail_reporter(params.alert_email, spec.name)] if params.alert_email else []
    return part


# ---- plan and apply -----------------------------------------------------------------------------
@dataclass
class Action:
    target: str
    action: str  # create, update, keep, left alone, not created
    reason: str
    apply: Optional[object] = None  # a callable, for create/update


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
    if params.backup_dir and not params.backup_dir.startswith("/"):
        problems.append("'backup_dir' must be an absolute path, not %r" % params.backup_dir)
    if params.timezone and params.timezone != "SERVER" and timezone_problem("timezone", params.timezone):
        problems.append(timezone_problem("timezone", params.timezone) + " (or SERVER: the server's)")
    return problems


def run(ctx, params, progress=None) -> Report:
    ctx.require_admin()
    client = ctx.require_client()
    now_ms = int(ctx.now().timestamp() * 1000)
    report = Report(operation=OPERATION_ID, title="%s: %s" % (TITLE, params.project_key), generated_at_ms=now_ms,
                    dry_run=params.dry_run, params=dict(params))
    setup = adminsetup.AdminSetup(client, params.project_key, STATE_VARIABLE)
    actions = plan(setup, params, ctx.user)
    table = Table("actions", "Would do" if params.dry_run else "Done", [
        Column("target", "Object"), Column("action", "Action"), Column("reason", "Why")])
    for a in actions:
        if not params.dry_run and a.apply is not None:
            a.apply()
        table.add(target=a.target, action=a.action, reason=a.reason)
    report.tables.append(table)
    changed = [a for a in actions if a.action in ("create", "update")]
    report.summary += [
        Figure("changes", "Would change" if params.dry_run else "Changed", len(changed), "count"),
        Figure("unchanged", "Already right", sum(1 for a in actions if a.action == "keep"), "count"),
        Figure("left_alone", "Left alone (changed by hand)", sum(1 for a in actions if a.action == "left alone"),
               "count"),
    ]
    if not changed:
        report.notes.append("Nothing to change: the administration project is up to date.")
    return report


def plan(setup, params, user) -> List[Action]:
    key = params.project_key
    actions = []
    exists = setup.exists()
    state = setup.state() if exists else {}
    admin_groups = sorted(setup.admin_groups())
    wanted_perms = [{"group": g, "admin": True, "readProjectContent": True, "writeProjectContent": True,
                     "runScenarios": True, "readDashboards": True, "writeDashboards": True} for g in admin_groups]
    if not exists:
        actions.append(Action("project %s" % key, "create", "does not exist",
                              lambda: setup.create_project(params.project_name, user,
                                                           "DSS administration tasks scheduled by the node-ops "
                                                           "plugin: purges, kernel culling, capacity report, "
                                                           "configuration audit. Administrators only.")))
    else:
        actions.append(Action("project %s" % key, "keep", "exists"))
    perms = setup.permissions() if exists else None
    if perms != wanted_perms:
        others = sorted({p.get("group") for p in perms or []} - set(admin_groups))
        actions.append(Action("permissions of %s" % key, "create" if not exists else "update",
                              "administrators only (%s)%s" % (", ".join(admin_groups),
                                                              "; removes %s" % ", ".join(others) if others else ""),
                              lambda: setup.set_permissions(wanted_perms)))
    else:
        actions.append(Action("permissions of %s" % key, "keep", "administrators only"))

    scenarios_state = dict(state.get("scenarios") or {})
    new_state = {"scenarios": scenarios_state}
    existing_ids = set(setup.scenario_ids()) if exists else set()
    for spec in desired_scenarios(params):
        wanted = _wanted_part(spec, params)
        recorded = scenarios_state.get(spec.key)
        sid = recorded["id"] if recorded else spec.key
        if sid not in existing_ids:
            def create(spec=spec, wanted=wanted):
                real_id = setup.create_scenario(spec.key, spec.name, wanted, params.activate)
                scenarios_state[spec.key] = {"id": real_id, "fingerprint": fingerprint(wanted)}
                setup.save_state(new_state)
            actions.append(Action("scenario %s" % spec.key, "create",
                                  "%s, %s" % (_describe(spec.trigger), "active" if params.activate else
                                              "inactive until reviewed"), create))
            continue
        raw = setup.scenario(sid)
        current = managed_part(raw, True)
        if current == wanted:
            actions.append(Action("scenario %s" % spec.key, "keep", "up to date"))
            continue
        hand_edited = recorded is None or fingerprint(current) != recorded.get("fingerprint")
        if hand_edited and not params.overwrite:
            actions.append(Action("scenario %s" % spec.key, "left alone",
                                  "changed by hand since node-ops wrote it (overwrite=true replaces it)"))
            continue

        def update(spec=spec, sid=sid, wanted=wanted):
            setup.update_scenario(sid, wanted)
            scenarios_state[spec.key] = {"id": sid, "fingerprint": fingerprint(wanted)}
            setup.save_state(new_state)
        actions.append(Action("scenario %s" % spec.key, "update",
                              "changed by hand, overwrite=true" if hand_edited else "new plugin version or parameters",
                              update))
    if not params.backup_dir:
        actions.append(Action("scenario BACKUP", "not created", "no backup_dir given (daily 01:00 backup of config/)"))
    actions += _dashboard_actions(setup, exists, state, new_state, params)
    return actions


def _describe(trigger):
    p = trigger["params"]
    if p["frequency"] == "Minutely":
        return "every %d minutes" % p["repeatFrequency"]
    if p["frequency"] == "Hourly":
        return "hourly at :%02d" % p["minute"]
    days = ("on " + ", ".join(p["daysOfWeek"]) + " ") if p.get("daysOfWeek") else ""
    return "%s %sat %02d:%02d (%s)" % (p["frequency"].lower(), days, p["hour"], p["minute"], p["timezone"])


def _dashboard_actions(setup, exists, state, new_state, params):
    """The 'Node health' dashboard: a button per macro, the static insights of the
    capacity and audit steps, the last runs of each scenario."""
    recorded = state.get("dashboard") or {}
    have = setup.dashboard(recorded.get("id")) if exists and recorded.get("id") else None
    if have is not None:
        new_state["dashboard"] = recorded
        return [Action("dashboard %s" % DASHBOARD_NAME, "keep", "exists (tiles are not rewritten)")]

    def create():
        insights = []
        for macro_id, label in MACROS:
            proto = GUESS_button_insight(macro_id, label)
            insights.append((setup.create_insight(proto), proto["type"]))
        for insight_id, label in STATIC_INSIGHTS:
            insights.append((insight_id, "static_file"))
        for spec in desired_scenarios(params):
            sid = (new_state["scenarios"].get(spec.key) or {}).get("id", spec.key)
            proto = GUESS_last_runs_insight(sid, spec.name)
            insights.append((setup.create_insight(proto), proto["type"]))
        tiles = []
        for i, (insight_id, itype) in enumerate(insights):
            width, height = (6, 8) if itype == "static_file" else (3, 2)
            tiles.append(GUESS_tile(insight_id, itype, (i % 4) * 3, (i // 4) * 2, width, height))
        dashboard_id = setup.create_dashboard(DASHBOARD_NAME, [{"id": "nodeops", "title": DASHBOARD_NAME,
                                                                "grid": {"tiles": tiles}}])
        new_state["dashboard"] = {"id": dashboard_id}
        setup.save_state(new_state)
    return [Action("dashboard %s" % DASHBOARD_NAME, "create",
                   "%d macro buttons, the capacity and audit reports, the last runs of %d scenarios"
                   % (len(MACROS), len(desired_scenarios(params))), create)]
