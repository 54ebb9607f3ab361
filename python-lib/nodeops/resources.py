"""Where the plugin's ``resource/`` folder is.

The plugin zip has ``python-lib/`` and ``resource/`` side by side and DSS
installs it as is (plugins/installed/<id>/), so the folder is found relative to
this package. DSS also sets DKU_CUSTOM_RESOURCE_FOLDER for steps (for macros
this is unverified), which is only used if the relative path is missing.
"""

import os
from pathlib import Path

_HERE = Path(__file__).resolve().parent

#: The plugin's id (plugin.json), and the type strings DSS gives its components.
PLUGIN_ID = "node-ops"
MACRO_PREFIX = "pyrunnable_%s_" % PLUGIN_ID
STEP_PREFIX = "pystep_%s_" % PLUGIN_ID


def macro_type(macro_id):
    """The runnable type of this plugin's macro ``macro_id`` (``pyrunnable_node-ops_<id>``)."""
    return MACRO_PREFIX + macro_id


def step_type(step_id):
    """The scenario step type of this plugin's step ``step_id`` (``pystep_node-ops_<id>``)."""
    return STEP_PREFIX + step_id


def resource_dir() -> Path:
    candidate = _HERE.parent.parent / "resource"
    if candidate.is_dir():
        return candidate
    env = os.environ.get("DKU_CUSTOM_RESOURCE_FOLDER")
    if env and Path(env).is_dir():
        return Path(env)
    raise FileNotFoundError("node-ops resource folder not found beside %s" % _HERE.parent)


def templates_dir() -> Path:
    return resource_dir() / "templates"


def plugin_macros():
    """``[(macro_id, label)]`` of the plugin's macros: the ``python-runnables/<id>/runnable.json``
    beside this package (the plugin as DSS installs it), sorted by id."""
    import json

    base = _HERE.parent.parent / "python-runnables"
    if not base.is_dir():
        raise FileNotFoundError("node-ops macros (python-runnables/) not found beside %s" % _HERE.parent)
    out = []
    for folder in sorted(base.iterdir()):
        descriptor = folder / "runnable.json"
        if descriptor.is_file():
            with open(descriptor, encoding="utf-8") as f:
                meta = json.load(f).get("meta") or {}
            out.append((folder.name, meta.get("label") or folder.name))
    return out
