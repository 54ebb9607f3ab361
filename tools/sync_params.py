"""Rewrite the "params" and "paramsPythonSetup" of every runnable.json / step.json,
and the "impersonate" flag of every runnable.json, from the declarations in
python-lib (nodeops.operations: the parameters and the form's sections, and
whether the operation reads DIP_HOME), and the "params" of plugin.json (the
plugin-level settings, nodeops.settings). The test suite fails when they differ."""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "python-lib"))

from nodeops import operations, settings  # noqa: E402
from nodeops.params import to_dss_json  # noqa: E402


def main():
    for kind, descriptor, component in (("python-runnables", "runnable.json", "macro"),
                                        ("python-steps", "step.json", "step")):
        for path in sorted((ROOT / kind).glob("*/" + descriptor)):
            # a macro folder is an operation or its table face (operations.TABLE_MACROS)
            op = operations.macro(path.parent.name).operation if component == "macro" else operations.get(path.parent.name)
            data = json.loads(path.read_text(encoding="utf-8"))
            wanted = op.descriptor(component, data)
            if data != wanted:
                path.write_text(json.dumps(wanted, indent=4) + "\n", encoding="utf-8")
                print("updated %s" % path.relative_to(ROOT))
    path = ROOT / "plugin.json"
    text = path.read_text(encoding="utf-8")
    data = json.loads(text)
    params = [to_dss_json(p) for p in settings.SETTINGS]
    if data.get("params") != params:
        path.write_text(_with_params(text, data, params), encoding="utf-8")
        print("updated plugin.json")
    return 0


def _with_params(text, data, params):
    """plugin.json with ``params`` replaced: only that block rewritten when it is the last key (the
    rest keeps its layout), else the whole file."""
    head, sep, _ = text.rpartition('    "params":')
    if sep and list(data)[-1] == "params":
        block = json.dumps(params, indent=4).replace("\n", "\n    ")
        return head + sep + " " + block + "\n}\n"
    return json.dumps(dict(data, params=params), indent=4) + "\n"


if __name__ == "__main__":
    sys.exit(main())
