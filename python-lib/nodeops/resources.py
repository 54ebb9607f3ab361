"""Where the plugin's ``resource/`` folder is.

The plugin zip has ``python-lib/`` and ``resource/`` side by side and DSS
installs it as is (plugins/installed/<id>/), so the folder is found relative to
this package. DSS also sets DKU_CUSTOM_RESOURCE_FOLDER for steps (for macros
this is unverified), which is only used if the relative path is missing.
"""

import os
from pathlib import Path

_HERE = Path(__file__).resolve().parent


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
