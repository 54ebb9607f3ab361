"""Rewrite the "params" and "paramsPythonSetup" of every runnable.json / step.json,
and the "impersonate" flag of every runnable.json, from the declarations in
python-lib (nodeops.operations: the parameters and the form's sections, and
whether the operation reads DIP_HOME). The test suite fails when they differ."""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "python-lib"))

from nodeops import operations  # noqa: E402


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
    return 0


if __name__ == "__main__":
    sys.exit(main())
