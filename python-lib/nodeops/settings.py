"""Plugin-level settings: values an administrator sets once (Plugins > node-ops > Settings) that
every macro and step takes as its defaults, so the backup folder, the administration project and
the monitoring sinks are typed once and the audit, the backup scenario and the backup macro agree.

A value given in the form (or on the command line) wins; an empty field takes the setting; without
a setting, the field's own default. A field fed by a setting says so in its declaration
(``Param(..., setting="backup_dir")``); in runnable.json / step.json it has no ``defaultValue`` and
is not ``mandatory`` (:func:`nodeops.params.to_dss_json`): a pre-filled form would always win, and
DSS would refuse an empty field the setting fills.

Where the settings come from (the context's ``settings``, built once):

- a macro: the flat dict DSS passes as the third argument of the Runnable, ``plugin_config``;
- a step: ``dataiku.customstep.get_plugin_config()["pluginConfig"]`` (see :func:`from_step`);
- the command line: the environment variables ``NODEOPS_<SETTING>`` (:func:`from_environment`).

The shapes DSS uses are listed, with their sources, in :data:`DSS_FACTS` (README, "verified / not yet").
"""

from typing import Dict, Mapping

from .params import Param

#: plugin.json "params" (tools/sync_params.py writes them from here).
SETTINGS = (
    Param("admin_project_key", "STRING", "Administration project key", default="ADMIN",
          description="The project that schedules the maintenance scenarios (setup-admin-project creates it; "
                      "the configuration audit checks it)."),
    Param("backup_dir", "STRING", "Backup folder",
          description="Absolute path, outside DIP_HOME, of the folder receiving the backups: the backup macro and "
                      "step write there, the BACKUP scenario is created for it, the audit checks its newest archive."),
    Param("graphite_host", "STRING", "Graphite host",
          description="Carbon host receiving the plaintext protocol; empty: no Graphite."),
    Param("graphite_port", "INT", "Graphite port", default=2003, min=1, max=65535),
    Param("graphite_prefix", "STRING", "Graphite prefix", description="Empty: dss.<host>.node-ops."),
    Param("prometheus_file", "STRING", "Prometheus textfile",
          description="Absolute path of a .prom file for node_exporter's textfile collector; empty: none."),
    Param("alert_channel", "STRING", "Alert channel",
          description="Id of the messaging channel (mail, Slack, Microsoft Teams or webhook) the alerts of the "
                      "administration project are sent through; empty: the first mail channel of the instance."),
)
BY_NAME = {p.name: p for p in SETTINGS}

ENV_PREFIX = "NODEOPS_"
#: Where a step finds the settings in get_plugin_config() (see DSS_FACTS).
STEP_KEY = "pluginConfig"
PLUGIN_SETTINGS_PAGE = "Plugins > node-ops > Settings"

#: What node-ops relies on about DSS here, and how sure it is (the README's table lists them).
DSS_FACTS = (
    ("plugin.json \"params\" are the plugin-level settings, set by administrators only",
     "verified: DSS plugin reference (params.rst, plugin-level configuration); sage's plugin.json"),
    ("a macro receives them as a flat dict, the third argument of the Runnable (plugin_config)",
     "verified: DSS 9.0.5 dataiku/runnables/server.py (command['pluginConfig']); sage and neo4j macros"),
    ("a step reads them at get_plugin_config()['pluginConfig'] ('config' holds the step's own params)",
     "observed, not documented: Dataiku's project-advisor plugin (MFE-DSS/dss-plugin-project-advisor, "
     "config_builder.build_from_scenario_step_config); not yet checked on a live DSS"),
    ("the Plugins > Settings page edits the 'config' object of the plugin settings "
     "(GET/POST /plugins/<id>/settings, DSSPlugin.get_settings().get_raw()['config'])",
     "verified for the page (DSS 9.0.5 frontend plugin-details/settings.html: model=pluginSettings.config); "
     "the public API's raw object holding the same 'config' is not yet checked"),
    ("settings an administrator never saved are absent (the plugin.json defaults are not filled in)",
     "not verified: node-ops applies the defaults itself, so either way gives the same values"),
)


def env_name(setting: str) -> str:
    return ENV_PREFIX + setting.upper()


def from_environment(environ: Mapping) -> Dict[str, str]:
    """The settings of the command line: ``$NODEOPS_<SETTING>``, those that are set."""
    return {p.name: environ[env_name(p.name)] for p in SETTINGS if environ.get(env_name(p.name)) is not None}


def from_macro(plugin_config) -> dict:
    """The settings DSS hands a macro: ``plugin_config`` itself, a flat dict."""
    return dict(plugin_config) if isinstance(plugin_config, Mapping) else {}


def from_step(plugin_config) -> dict:
    """The settings in what ``get_plugin_config()`` gives a step: its ``pluginConfig``."""
    inner = plugin_config.get(STEP_KEY) if isinstance(plugin_config, Mapping) else None
    return dict(inner) if isinstance(inner, Mapping) else {}


def _missing(raw):
    return raw is None or (isinstance(raw, str) and raw.strip() == "")


def fed(params) -> Dict[str, str]:
    """{form field: the setting that gives its default} of the parameter declarations ``params``."""
    return {p.name: p.setting for p in params if p.setting}


def apply(params, config, settings, component="macro"):
    """``(config, origins)``: ``config`` with each empty field fed by a setting filled from that
    setting when it is set (else the field keeps its own default when parsed); ``origins`` says,
    per field filled so, where the value came from (for messages)."""
    config = dict(config or {}) if isinstance(config, Mapping) else {}
    settings = settings or {}
    origins = {}
    for name, setting in fed(params).items():
        if _missing(config.get(name)) and not _missing(settings.get(setting)):
            config[name] = settings[setting]
            origins[name] = origin(setting, component)
    return config, origins


def origin(setting, component):
    if component == "cli":
        return "$%s" % env_name(setting)
    return "the plugin setting '%s' (%s)" % (setting, PLUGIN_SETTINGS_PAGE)


def inherited(params, values, settings) -> set:
    """The fields of ``values`` (parsed from the declarations ``params``) whose value is the one an
    empty field would get: a step left empty there gets the same value today, and follows the
    setting when an administrator changes it."""
    out = set()
    for p in params:
        if not p.setting:
            continue
        given = (settings or {}).get(p.setting)
        fallback = p.default if _missing(given) else str(given).strip()
        if fallback not in (None, "") and str(values.get(p.name)) == str(fallback):
            out.add(p.name)
    return out
