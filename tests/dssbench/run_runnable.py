"""Child process of the harness: runs one macro the way DSS does.

Loads runnable.py, instantiates ``MyRunnable(project_key, config,
plugin_config)``, calls ``get_progress_target()`` then
``run(progress_callback)``, and writes the outcome as JSON. Started with the
stand-in ``dataiku`` and the plugin's python-lib on PYTHONPATH, as DSS would.
"""

import json
import runpy
import sys
import traceback


def main(spec_path, out_path):
    with open(spec_path, encoding="utf-8") as f:
        spec = json.load(f)
    progress = []
    outcome = {"progress": progress, "error": None, "traceback": None, "result_kind": None, "result": None}
    try:
        namespace = runpy.run_path(spec["runnable_py"], run_name="__dss_runnable__")
        cls = namespace["MyRunnable"]
        runnable = cls(spec["project_key"], spec["config"], spec["plugin_config"])
        outcome["progress_target"] = runnable.get_progress_target()
        result = runnable.run(lambda value: progress.append(value))
        if result is None or isinstance(result, str):
            outcome["result_kind"] = "none" if result is None else "str"
            outcome["result"] = result
        elif hasattr(result, "to_json"):
            outcome["result_kind"] = "result_table"
            outcome["result"] = json.loads(result.to_json())
        else:
            outcome["result_kind"] = type(result).__name__
            outcome["result"] = repr(result)
    except Exception as e:  # the run fails, as in DSS
        outcome["error"] = "%s" % e
        outcome["error_type"] = type(e).__name__
        outcome["traceback"] = traceback.format_exc()
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(outcome, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
