"""The lists node-ops's forms offer (projects, users, time zones, mail channels).

DSS runs ``do()`` for each field declared with ``"getChoicesFromPython": true`` in a descriptor
whose ``"paramsPythonSetup"`` is this file; the work is in nodeops.choices."""

from nodeops.dss import param_choices


def do(payload, config, plugin_config, inputs):
    return param_choices(payload, config, plugin_config)
