"""Stand-in for ``dataiku.customstep`` (same environment variables as DSS's module).

As in DSS, an unset variable makes ``json.loads(None)`` raise TypeError.
"""

import json
import os


def get_step_config():
    return json.loads(os.getenv("DKU_PLUGIN_STEP_CONFIG"))


def get_plugin_config():
    return json.loads(os.getenv("DKU_PLUGIN_CONFIG"))


def get_step_resource():
    return os.getenv("DKU_CUSTOM_RESOURCE_FOLDER")
