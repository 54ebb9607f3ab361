"""Every fact about DSS the simulator uses that is NOT verified against a real DSS.

One place, so that the README's "verified against a real DSS / not yet" table
can point here and a real instance can settle each line. Everything else the
simulator does follows ../shared/reference/ (paths, query flags, shapes) or the
dataikuapi 15.2.0 source.
"""

#: errorType of the JSON error body, by HTTP status. Only UnknownObjectException
#: (404) is in the reference; the others are guesses.
ERROR_TYPES = {
    400: "com.dataiku.dip.exceptions.DKUIllegalArgumentException",
    401: "com.dataiku.dip.exceptions.UnauthorizedException",
    403: "com.dataiku.dip.exceptions.UnauthorizedException",
    404: "com.dataiku.dip.exceptions.UnknownObjectException",
    409: "com.dataiku.dip.exceptions.AlreadyExistsException",
    500: "java.lang.IllegalStateException",
}

#: DSS version in which an endpoint appeared on the server side. Requests to a
#: simulated older DSS answer 404, as an older backend would. The client
#: versions are in the reference (section C); that the server gained the
#: endpoint in the same release is an assumption.
ENDPOINT_SINCE = {
    "jobs.running": (15, 2),
    "users.activity": (10, 0),
    "instance.info": (10, 0),
    "jupyter.new_api": (9, 0),
    "dashboards": (12, 0),
    "sanity_check": (11, 4),
    "messaging_channels": (12, 0),
}

#: Order of GET /projects/{key}/jobs/ : newest first (unverified).
JOBS_NEWEST_FIRST = True

#: Response body of a session unload (DELETE .../sessions/{id} and the old
#: DELETE /projects/{key}/notebooks/): JSON is required by the client, the
#: content is unknown.
UNLOAD_RESPONSE = {}

#: The shape of config/users.json (users and groups), read for /admin/users/,
#: /admin/groups/ and /auth/info.
USERS_FILE = "config/users.json"

#: Group flag that lets a non-administrator create projects (unverified name).
GROUP_MAY_CREATE_PROJECTS = "mayCreateProjects"

#: The licensing status shape beyond base.{hasLicense,valid,expired}.
LICENSE_EXPIRY_FIELD = "expiresOn"

#: What GET .../runnables/{type}/state/{runId} returns (beyond "running").
MACRO_STATE_FIELDS = ("running", "runId", "hasResult", "exception")

#: Plugin step type string inside a scenario: pystep_<pluginId>_<stepId>.
PLUGIN_STEP_TYPE = "pystep_%s_%s"

#: Type of a managed folder created without one (the client sends ``"type": null``).
MANAGED_FOLDER_DEFAULT_TYPE = "Filesystem"

#: Where DSS keeps the connection files of running kernels, and that a kernel's
#: command line names its own (``... -f <dir>/kernel-<kernelId>.json``, as
#: Jupyter's ipykernel_launcher is started). node-ops uses the kernel ID on the
#: command line to tell a kernel from an unrelated process with the same PID.
KERNEL_RUNTIME_DIR = "jupyter-run/jupyter/runtime"
KERNEL_CMDLINE = "-f <KERNEL_RUNTIME_DIR>/kernel-<kernelId>.json"

#: A kernel running in a container is a local forwarder process,
#: ``python -m dataiku.notebook.remote_kernel_forwarder --remote-type <type> ...
#: --connection-file <runtime>/kernel-<kernelId>.json`` (KIT remote_kernel.py
#: builds that argv; verified), whose PID the session reports. The value of
#: ``--remote-type`` for a containerized kernel is not in the KIT (guess).
FORWARDER_MODULE = "dataiku.notebook.remote_kernel_forwarder"
CONTAINER_REMOTE_TYPE = "container"

#: DSS reads a macro's result as the ``resultType`` its runnable.json declares, whatever the
#: macro returned: the Python side sends only a string (KIT runnables/server.py: a ResultTable's
#: to_json(), a dict's json.dumps, a str as is), the page draws it by the type the backend gives
#: back (KIT runnables.js ``data.result.type``, runnable-result.html), and no public code lets
#: a run choose its type; the backend's reading (jars absent) is the guess. So no form field
#: can switch a macro between HTML and a table: node-ops has a second macro for the table.
RESULT_TYPE_IS_STATIC = True

#: A RESULT_TABLE macro whose string is not a result table's JSON fails the run (the KIT's
#: page JSON.parse-s a kept result and reads columns and records; what the backend does with
#: an inline one is not public). The bench fails it (run_runnable.read_result_table), with its
#: own message.
RESULT_TABLE_CHECK = "the run fails"

#: How a macro run fails when get_progress_target() returns a unit outside
#: SIZE, FILES, RECORDS, NONE or a target that is not a number: the Python side
#: sends it as is (KIT progress_utils.py), the backend's reading of it is not
#: public. The bench fails the run (tests/dssbench/run_runnable.py), with its own message.
PROGRESS_TARGET_CHECK = "the run fails"


def dss_process_layout(dip_home, install_dir="/opt/dataiku-dss-14.2.1"):
    """The processes of a running DSS as ``ps`` shows them (for the capacity report's tests).

    From a public copy of the DSS 9.0.5 start scripts (``bin/dss``, ``bin/jek``,
    ``bin/fek``, ``bin/hproxy``: ``-Ddku.<role>`` then the JVM options, ``-cp
    <DIP_HOME>/bin:<install>/dist...``, the main class), Dataiku's dkumonitor and
    telegraf patterns (``-Ddku.jek``, ``-cp <datadir>``) and the DSS page on
    processes. Not verified on DSS 12+: the main class names, the nginx title,
    the recipe process's command line (a Python interpreter under its JEK).
    """
    cp = "%s/bin:%s/dist:%s/lib/ivy/backend-run/*" % (dip_home, install_dir, install_dir)

    def java(role, main, xmx):
        return ["/usr/lib/jvm/java-17/bin/java", "-Ddku.%s" % role, "-Xmx%s" % xmx, "-XX:+UseG1GC", "-cp", cp, main]

    recipe = {"argv": ["%s/code-envs/python/py311/bin/python" % dip_home, "-u",
                       "%s/jobs/SALES_ANALYTICS/Build_sales_2026-11-25T06-00-00.000/activities/compute_sales_NP/"
                       "python-exec-wrapper.py" % dip_home], "mb": 25}
    return [
        {"role": "backend", "mb": 60, "argv": java("backend", "com.dataiku.dip.DSSBackendMain", "8g")},
        {"role": "jek", "mb": 30, "children": [recipe],
         "argv": java("jek", "com.dataiku.dip.dataflow.kernel.slave.DSSJobKernelMain", "2g")},
        {"role": "jek", "mb": 30, "argv": java("jek", "com.dataiku.dip.dataflow.kernel.slave.DSSJobKernelMain", "2g")},
        {"role": "fek", "mb": 20, "argv": java("fek", "com.dataiku.dip.futures.DSSFutureKernelMain", "2g")},
        {"role": "hproxy", "mb": 15, "argv": java("hproxy", "com.dataiku.hproxy.server.HProxyRunner", "2g")},
        {"role": "nginx", "mb": 5, "children": [{"argv": ["nginx: worker process"], "mb": 5}],
         "argv": ["nginx: master process /usr/sbin/nginx", "-c", "%s/install-support/nginx.conf" % dip_home]},
        {"role": "other", "mb": 10, "argv": ["%s/bin/python" % dip_home, "-m", "supervisor.supervisord", "-c",
                                             "%s/install-support/supervisord.conf" % dip_home]},
        {"role": "jupyter", "mb": 15, "argv": ["%s/bin/python" % dip_home, "%s/dku-jupyter/dkulauncher.py" % install_dir,
                                               "--notebook-dir=%s/config/ipython_notebooks" % dip_home,
                                               "--ip=127.0.0.1", "--no-browser"]},
    ]


# ---- what DSS does to the objects it stores (normalise.py) -----------------------------------
# Confirmed (../shared/reference/dss-facts-confirmed.md) and so NOT here: the full saved step
# shape and runConditionExpression / resetScenarioStatus / params.proceedOnFailure defaults (MAL
# export), the 12 permission flags of a project permission (MAL params.json), reporters gaining an
# id (PULSE), a top-level messaging.channelId dropped (PULSE), a trigger without delay stored with
# 0 (KIT scenarios.js: "don't leave empty delays because they'll become 0"), the tile fields and
# the insight types' tileParams (KIT dashboards/edit.js, insights/*.js; MAL dashboards), the
# 36-column grid (HEADLESS).

#: Step fields beyond the ten of a DSS 8 export: ``enabled`` (the facts list it; DSS 8/9 steps
#: have none, a step is disabled with runConditionType DISABLED).
STEP_EXTRA_FIELDS = ("enabled",)

#: What a step saved without these fields gets: the values the DSS 9 UI gives a new step
#: (KIT ``setDefaultRunConditions``); what the backend does with a missing one is unverified.
STEP_UI_DEFAULTS = {"runConditionType": "RUN_IF_STATUS_MATCH", "runConditionStatuses": ["SUCCESS", "WARNING"],
                    "maxRetriesOnFail": 0, "delayBetweenRetries": 10}

#: Top-level fields of saved scenarios beyond the DSS 8 export's (dataikuapi reads runAsUser,
#: creationTag; dataiku-headless edits description and shortDesc).
SCENARIO_EXTRA_FIELDS = ("runAsUser", "creationTag", "description", "shortDesc")

#: A trigger saved without ``active`` is inactive (a Java boolean's default).
TRIGGER_ACTIVE_DEFAULT = False

#: The ids DSS gives steps, triggers and reporters saved without one (DSS gives them ids: the
#: UI creates them without and then reads ``trigger.id``, ``step.id``; the formats are guessed from
#: the MAL export, e.g. ``custom_python_vE/oRWWO26b7NVtfbyM2Xg``). A given id is kept (unverified).
GENERATED_ID_LENGTH = {"step": 22, "trigger": 8, "reporter": 8, "page": 7}

#: A mail reporter whose channelId is not a mail channel of the instance, or whose subject or
#: message uses a variable DSS does not provide, is refused when the scenario is saved (400).
#: DSS itself may accept the save and fail when it sends (PULSE: "${scenarioRunURL} ... makes the
#: whole email fail with an InvalidReferenceException"); the bench fails earlier, with the same cause.
REFUSE_BAD_REPORTER_ON_SAVE = True

#: The variables a FREEMARKER mail template of an END reporter may use. PULSE confirms these three
#: work and that ``scenarioRunURL`` does not; DSS 9's UI lists more (triggerName, triggerType,
#: allEventsSummary, ..., dssURL, scenarioRunURL) for its older template format, unverified under
#: FREEMARKER, so the bench allows only the confirmed three.
REPORTER_TEMPLATE_VARIABLES = ("scenarioName", "scenarioProjectKey", "outcome")

#: Mail reporter configuration fields (PULSE's server-normalised capture, and templateName with
#: messageSource TEMPLATE_FILE in PULSE's older version); others are dropped (unverified).
MAIL_CONFIGURATION_FIELDS = ("channelId", "recipient", "subject", "message", "sendAsHTML", "attachments",
                             "messageSource", "templateFormat", "templateName")

#: Reporter types for Slack, Microsoft Teams and webhook channels -> the type of channel their
#: channelId must name (KIT 9.0.5 migration: slack -> slack-scenario, webhook -> webhook-scenario;
#: the scenario editor's msft-teams-scenario; dataikuapi's channel type msft-teams).
CHAT_REPORTER_CHANNEL_TYPES = {"slack-scenario": "slack", "msft-teams-scenario": "msft-teams",
                               "webhook-scenario": "webhook"}
#: Their configuration fields: the lists and useProxy the scenario editor gives a new reporter,
#: channelId (migration), and the message fields, unverified: message (Teams' ad-hoc send takes
#: one; Slack taken alike), a webhook's payload and method. Others are dropped.
_CHAT_COMMON = ("channelId", "variables", "parameters", "headers", "form", "useProxy")
CHAT_CONFIGURATION_FIELDS = {"slack-scenario": _CHAT_COMMON + ("message",),
                             "msft-teams-scenario": _CHAT_COMMON + ("message",),
                             "webhook-scenario": _CHAT_COMMON + ("payload", "method")}
#: The fields rendered as FREEMARKER templates, with REPORTER_TEMPLATE_VARIABLES only (unverified
#: for these types: taken as strict as a mail's).
CHAT_TEMPLATE_FIELDS = ("message", "payload")

#: The JSON part ``message`` of a mail channel's send (dataikuapi 15.2 and 12.6.4 send these); a
#: field beyond them is refused (Jackson's strictness for this payload is not known: worst case).
SEND_PAYLOAD_FIELDS = ("from", "to", "cc", "bcc", "subject", "body", "plainText")
REFUSE_UNKNOWN_SEND_FIELDS = True
#: Sending through a channel needs write access to the ``projectKey`` project (dataikuapi: "The user
#: must have 'Write content' permission on the specified project"); administrators have it.

#: Values a tile saved without them gets (Java defaults; unverified). Without ``autoLoad`` a
#: tile does not load (KIT: tiles load when ``tile.autoLoad``).
TILE_DEFAULTS = {"autoLoad": False, "clickAction": "DO_NOTHING", "resizeImageMode": "FIT_SIZE",
                 "displayMode": "INSIGHT"}

#: Tile fields beyond those the facts list: ``showTitle`` (DSS 8/9, MAL and KIT) and ``imageId``
#: (image tiles, KIT). The shape inside ``titleOptions`` (DSS 12+) is unknown and kept as given.
TILE_EXTRA_FIELDS = ("showTitle", "imageId")

#: A tile whose insight does not exist (yet) is refused: what DSS does with it is not known
#: (facts, "Still unverified"), so the bench takes the worst case.
TILE_REQUIRES_EXISTING_INSIGHT = True

#: Dashboard page fields (dataiku-headless's default page, the DSS 8 export's pages).
PAGE_FIELDS = ("id", "title", "displayedTitle", "show", "showTitle", "titleAlign", "titleFontColor",
               "titleFontSize", "enableCrossFilters", "backgroundColor", "showFilterPanel", "filtersParams", "grid")

#: Extra top-level fields of dashboards and insights beyond the DSS 8 export's.
DASHBOARD_EXTRA_FIELDS = ("description", "shortDesc")

#: A PUT of project settings that carries "permissions" leaves the permissions as they are
#: (dataikuapi 15.2: the settings "do not contain permissions"; DSS may also refuse it).
SETTINGS_PUT_IGNORES_PERMISSIONS = True

#: Top-level fields of project settings (the DSS 8 export's params.json, and the bench's
#: projectStatus, description); others are dropped.
PROJECT_SETTINGS_FIELDS = ("projectKey", "name", "owner", "shortDesc", "description", "tags", "settings",
                           "dashboardAuthorizations", "exposedObjects", "projectType", "projectAppType",
                           "bundleContainerSettings", "additionalDashboardUsers", "tutorialProject", "metrics",
                           "metricsChecks", "versionTag", "creationTag", "customFields", "checklists",
                           "projectStatus")

#: GET /projects/{key}/permissions answers {"owner", "permissions"} (dataikuapi: "a dict containing
#: the owner and the permissions"); other fields DSS may add are not known.
PERMISSIONS_RESPONSE_FIELDS = ("owner", "permissions")

#: Where messaging channels live: the runtime model (``model["messaging_channels"]``), not a file
#: under config/ (the file DSS keeps them in is not known). The list answers from DSS 12.0.
MESSAGING_CHANNEL_FIELDS = ("id", "type", "family", "sender", "useCurrentUserAsSender")

#: What ``dataiku.insights.save_data`` creates (insights/save-static-file-insight, KIT): an insight of
#: type static_file with the given id, named by the label (else the id); its params and where DSS
#: keeps the payload are not known (the bench keeps it in memory).
STATIC_INSIGHT_PARAMS = ("contentType",)
# ---- User Isolation and the scenario runner ---------------------------------------------------
#: A macro whose runnable.json has no "impersonate" runs impersonated (as the user who runs it).
#: DSS's plugin reference recommends ``"impersonate": true`` and says ``false`` gives the
#: filesystem; it states no default. node-ops always writes the flag.
MACRO_IMPERSONATES_BY_DEFAULT = True

#: What GET .../runnables/{type}/state/{runId} carries when the macro raised: the error the
#: Python side of a macro sends DSS (KIT runnables/server.py, get_json_friendly_error:
#: errorType "<class 'module.Name'>", message = the exception's first argument), under
#: "exception". That DSS relays it there as is is a guess.
MACRO_STATE_EXCEPTION = ("errorType", "message")

#: Who a scenario run runs as: the scenario's "runAsUser" when set, else the user who
#: triggered it (DSS may use the last author instead).
SCENARIO_RUN_AS = ("runAsUser", "caller")

#: The message of a step whose type no installed component provides.
UNKNOWN_STEP_TYPE = "Unknown step type: %s"

#: DSS's own step types the simulator does not execute (it has no flow, SQL or Hive engine):
#: a step of one of these types stays running until the scenario run is aborted, as a long
#: build would. From the KIT's dataiku/scenario/scenario.py (the step helpers) and
#: dataiku-headless's step list.
BUILTIN_STEP_TYPES_NOT_SIMULATED = frozenset((
    "build_flowitem", "invalidate_cache", "clear_items", "check_dataset", "compute_metrics", "sync_hive",
    "update_from_hive", "exec_sql", "set_project_vars", "set_global_vars", "custom_python", "run_scenario",
    "create_dashboard_export", "prepare_lambda_package", "propagate_schema", "send_report", "kill_scenario"))

#: A step run's error, as dataikuapi's DSSStepRunDetails.first_error_details documents it
#: (``result.thrown``: clazz, title, message, ...); which fields DSS fills for a Python step
#: is a guess.
STEP_THROWN_FIELDS = ("clazz", "title", "message")

#: A "runnable" (run a macro) step fails when the macro raises, and succeeds otherwise,
#: whatever the macro returns; its result is not kept.
RUNNABLE_STEP_FAILS_ON = "exception"

#: Steps with ``enabled: false`` do not run (the UI disables with runConditionType DISABLED;
#: what DSS does with enabled false is not known).
ENABLED_FALSE_SKIPS = True

#: The ``payload`` DSS hands to ``do()`` of a descriptor's ``paramsPythonSetup`` script for a field
#: declared ``getChoicesFromPython`` (the bench adds ``parameterType``, ``parameterName`` and
#: ``rootModel``, the form's values): the keys a plugin's author logged from a real DSS in a comment
#: (alexbourret/dss-plugin-replicate resource/browse_replicate.py); their full set is unverified.
PARAMS_SETUP_PAYLOAD = {"customChoices": True}

#: Under User Isolation, the choices script runs as the user who opened the form (not as the DSS
#: service account): unverified; node-ops only calls the API with it, which works either way.
PARAMS_SETUP_IMPERSONATES = True

#: A choice without a "value" (only a "label") is shown as a message in the list: Dataiku's own
#: plugins answer so when they cannot list (the OSIsoft PI System plugin's resource scripts, found by code
#: search, repository unnamed); how DSS shows it is unverified.
CHOICE_WITHOUT_VALUE_IS_A_MESSAGE = True

# ---- plugin-level settings ------------------------------------------------------------------------
#: Where DSS keeps an installed plugin's settings (the reference's datadir notes: config/plugins/<id>/settings.json).
PLUGIN_SETTINGS_FILE = "config/plugins/%s/settings.json"
#: The settings object of GET/POST /plugins/<id>/settings (dataikuapi DSSPlugin.get_settings().get_raw()):
#: the plugin.json "params" values under "config" (the Plugins > Settings page edits pluginSettings.config:
#: KIT plugin-details/settings.html), beside the code env and the presets (dataikuapi's own fields). That the
#: public API's object is the page's one is a guess.
PLUGIN_SETTINGS_FIELDS = ("config", "codeEnvName", "presets", "parameterSets", "accessibleParameterSetDescs")
#: A macro gets ``settings["config"]`` as plugin_config, flat (KIT runnables/server.py: command["pluginConfig"]);
#: a step gets ``{"config": <its own params>, "pluginConfig": settings["config"]}`` from get_plugin_config()
#: (observed in Dataiku's project-advisor plugin, not documented).
STEP_PLUGIN_CONFIG_KEY = "pluginConfig"
#: Values an administrator never saved are absent: the plugin.json defaults are not filled in (a guess; the
#: less forgiving choice: the plugin must apply its own defaults).
PLUGIN_SETTINGS_DEFAULTS_FILLED = False

# ---- saved models and ML tasks (routes_models.py) ---------------------------------------------
#: Fields of a GET /projects/{key}/savedmodels/ item: the saved model's config file
#: (config/projects/<KEY>/saved_models/<id>.json, itself a guessed shape) as is. Public code reads
#: "id" and "name"; the rest is unverified.
SAVED_MODEL_ITEM_FIELDS = ("id", "projectKey", "name", "type", "activeVersion")

#: A version of GET .../savedmodels/{id}/versions: ``id`` and ``active`` (the client's docstring and
#: get_active_version), plus a ``snippet`` carrying ``trainDate`` and ``trainInfo`` {startTime,
#: endTime} as the client's trained-model snippets do (dataikuapi ml.py lists both among a
#: snippet's keys; Dataiku's ML-assisted labeling plugin reads ``v["snippet"]["trainDate"]`` from
#: dataiku.Model.list_versions()). That the public API's versions carry that snippet is the guess.
SAVED_MODEL_VERSION_FIELDS = ("id", "active", "snippet")
SAVED_MODEL_SNIPPET_FIELDS = ("trainDate", "trainInfo")
#: Where the simulator reads a version's training times: a file the builder writes in the
#: version folder (what DSS keeps there is not public).
SAVED_MODEL_TRAIN_INFO_FILE = "train_info.json"

#: Deleting the active version is refused as a whole (nothing deleted), as a bad argument:
#: DSS's UI does not offer it; the status and error type are guesses.
DELETE_ACTIVE_VERSION_ERROR = (400, "com.dataiku.dip.exceptions.DKUIllegalArgumentException")
#: A version id the saved model does not have: the whole request is refused (404), nothing deleted.
DELETE_UNKNOWN_VERSION_REFUSED = True

#: Who may delete saved-model versions and remove split data: an administrator, the project's
#: owner, or a user or group with ``writeProjectContent`` or ``admin`` on the project (DSS's
#: permission names; which one these actions need is the guess). Listing needs read access.
PROJECT_WRITE_FLAGS = ("writeProjectContent", "admin")

#: Fields of a GET /projects/{key}/models/lab/ ML task item, inside {"mlTasks": [...]} (the
#: wrapper and analysisId/mlTaskId: the client's own docstring example and public code; the
#: others, from public code reading them, unverified).
ML_TASK_ITEM_FIELDS = ("analysisId", "mlTaskId", "name", "taskType", "inputDataset")

#: DSS's "no longer in use" rule for split data (removeUnusedSplits): the split files of an
#: ML task are ``analysis-data/<KEY>/<A>/<M>/splits/<splitId>_<part>`` and ``<splitId>.json``; a
#: split is in use when a session's ``sessions/<sessionId>/session.json`` names it as ``splitId``.
#: Files of an unused split are deleted; a file whose split id cannot be told is kept.
SPLIT_IN_USE_FIELD = "splitId"
SPLIT_FILE_SEPARATORS = ("_", ".")
