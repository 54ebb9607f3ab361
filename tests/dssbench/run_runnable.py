"""Child process of the harness: runs one macro the way DSS does (or, with a spec of kind
``params_setup``, answers one form field's choices: :func:`params_setup`).

As DSS 9.0.5's ``dataiku/runnables/server.py`` and ``dataiku/base/utils.py``
(``get_clazz_in_code``) do it:

- the code of runnable.py is written to a temporary ``dku_code.py`` and loaded
  as the module ``dku_nomatter_module_name`` (so ``__file__`` is not the
  plugin's folder and ``if __name__ == "__main__"`` does not run);
- the macro class is the single subclass of ``dataiku.runnables.Runnable``
  among the module's names, whatever its name (an imported subclass counts:
  DSS walks ``dir(module)``); a second one fails the run with DSS's message
  "Multiple classes inheriting ..."; none fails it too (DSS then calls
  ``None``);
- ``__init__`` takes 1 to 4 arguments (``self``, ``project_key``, ``config``,
  ``plugin_config``), counted from its signature; another count fails with
  "Wrong signature of the Runnable subclass: N args";
- ``get_progress_target()`` is called before ``run``: None, or a sequence
  ``(target, unit)`` (a missing target is -1, a missing unit NONE, as
  ``progress_utils.get_progress_callback`` fills them) with unit one of SIZE,
  FILES, RECORDS, NONE (the units ``runnable.py`` documents); anything else
  fails the run (see guesses.PROGRESS_TARGET_CHECK);
- the result: an object with ``to_json`` is sent as its JSON, a dict as
  ``json.dumps``, a str as is. DSS then reads that string as the ``resultType``
  runnable.json declares (guesses.RESULT_TYPE_IS_STATIC): for RESULT_TABLE it must
  be a result table's JSON (:func:`read_result_table`), else the run fails
  (guesses.RESULT_TABLE_CHECK); whatever the macro returned, a ResultTable or a str.

Writes the outcome as JSON. Started with the stand-in ``dataiku`` and the
plugin's python-lib on PYTHONPATH, as DSS would.
"""

import importlib.util
import inspect
import json
import numbers
import os
import sys
import tempfile
import traceback

#: The progress units of DSS's Runnable.get_progress_target docstring (KIT runnables/runnable.py).
PROGRESS_UNITS = ("SIZE", "FILES", "RECORDS", "NONE")
MODULE_NAME = "dku_nomatter_module_name"


def load_module(code):
    """The module of ``code`` (a str), loaded from a temporary dku_code.py as DSS does."""
    with tempfile.TemporaryDirectory(prefix="dku-code-") as folder:
        path = os.path.join(folder, "dku_code.py")
        with open(path, "w", encoding="utf-8") as f:
            f.write(code)
        spec = importlib.util.spec_from_file_location(MODULE_NAME, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[MODULE_NAME] = module
        spec.loader.exec_module(module)
    return module


def runnable_class(module):
    """The single subclass of Runnable among the module's names (None when there is none)."""
    from dataiku.runnables import Runnable

    clazz = None
    for k in dir(module):
        v = getattr(module, k)
        if inspect.isclass(v) and issubclass(v, Runnable) and v is not Runnable:
            if clazz is not None:
                raise Exception("Multiple classes inheriting {} defined, already had {} and found {}"
                                .format(Runnable, clazz, v))
            clazz = v
    return clazz


def instantiate(clazz, project_key, config, plugin_config):
    """``clazz`` called with as many of (project_key, config, plugin_config) as its __init__ takes."""
    arg_count = len(inspect.getfullargspec(clazz.__init__).args)
    if arg_count == 1:
        return clazz()
    if arg_count == 2:
        return clazz(project_key)
    if arg_count == 3:
        return clazz(project_key, config)
    if arg_count == 4:
        return clazz(project_key, config, plugin_config)
    raise Exception("Wrong signature of the Runnable subclass: %i args" % arg_count)


def progress_target(runnable):
    """``None`` or ``[target, unit]`` as DSS reads ``get_progress_target()``; raises when DSS would fail."""
    info = runnable.get_progress_target()
    if info is None:
        return None
    target = info[0] if len(info) >= 1 else -1
    unit = info[1] if len(info) >= 2 else "NONE"
    if isinstance(target, bool) or not isinstance(target, numbers.Real):
        raise ValueError("get_progress_target(): the target must be a number, not %r" % (target,))
    if unit not in PROGRESS_UNITS:
        raise ValueError("get_progress_target(): the unit must be one of %s, not %r" % (", ".join(PROGRESS_UNITS), unit))
    return [target, unit]


def params_setup(spec):
    """The outcome of a form field's ``getChoicesFromPython``: DSS runs the descriptor's
    ``paramsPythonSetup`` script of ``resource/`` (python-lib on the path) and calls its
    ``do(payload, config, plugin_config, inputs)`` (DSS docs, plugins/reference/params, "Dynamic
    select using python"): ``payload`` names the field (``parameterName``; the other keys:
    guesses.PARAMS_SETUP_PAYLOAD), ``config`` is the form's current values, ``plugin_config``
    the plugin's settings, ``inputs`` ``[]`` outside a recipe. The answer must be a dict with a
    list under ``"choices"``, else DSS has nothing to show (the outcome's error)."""
    outcome = {"result": None, "error": None, "traceback": None}
    try:
        with open(spec["script"], encoding="utf-8") as f:
            module = load_module(f.read())
        result = module.do(spec["payload"], spec["config"], spec["plugin_config"], spec["inputs"])
        if not isinstance(result, dict) or not isinstance(result.get("choices"), list):
            raise ValueError("do() must return a dict with a list under 'choices', not %r" % (result,))
        outcome["result"] = json.loads(json.dumps(result))
    except Exception as e:  # DSS shows the field without choices
        outcome["error"] = "%s: %s" % (type(e).__name__, e)
        outcome["traceback"] = traceback.format_exc()
    return outcome


#: Column types of a result table (DSS docs: STRING, STRING_LIST; the KIT's page also draws
#: LOCAL_DATASET_WITH_TYPE and FQ_DATASET_WITH_TYPE).
RESULT_TABLE_COLUMN_TYPES = ("STRING", "STRING_LIST", "LOCAL_DATASET_WITH_TYPE", "FQ_DATASET_WITH_TYPE")


def sent_string(result):
    """The string the Python side of a macro sends DSS (KIT runnables/server.py), or None."""
    if result is None:
        return None
    to_json = getattr(result, "to_json", None)
    if callable(to_json):
        return to_json()
    if isinstance(result, dict):
        return json.dumps(result)
    return result


def read_result_table(text):
    """The table DSS shows for a RESULT_TABLE macro that sent ``text``; ValueError when it is not
    one (what the KIT's page needs: ``columns`` of {name, displayName, type}, ``records`` of one
    value per column, ``name``)."""
    try:
        table = json.loads(text) if isinstance(text, (str, bytes)) else None
    except ValueError:
        table = None
    if not isinstance(table, dict) or not isinstance(table.get("columns"), list) \
            or not isinstance(table.get("records"), list):
        raise ValueError("a RESULT_TABLE macro must return a result table, not %s" % (
            "nothing" if text is None else "%r..." % str(text)[:60]))
    for c in table["columns"]:
        if not (isinstance(c, dict) and isinstance(c.get("name"), str) and isinstance(c.get("displayName"), str)
                and c.get("type") in RESULT_TABLE_COLUMN_TYPES):
            raise ValueError("result table column %r is not {name, displayName, type in %s}"
                             % (c, ", ".join(RESULT_TABLE_COLUMN_TYPES)))
    for r in table["records"]:
        if not isinstance(r, list) or len(r) != len(table["columns"]):
            raise ValueError("result table record %r does not have one value per column (%d)"
                             % (r, len(table["columns"])))
        for c, v in zip(table["columns"], r):
            if c["type"] == "STRING" and not isinstance(v, str) and v is not None:
                raise ValueError("result table column %s is STRING, its value %r is not" % (c["name"], v))
    return table


def main(spec_path, out_path):
    with open(spec_path, encoding="utf-8") as f:
        spec = json.load(f)
    outcome = params_setup(spec) if spec.get("kind") == "params_setup" else run_macro(spec)
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(outcome, f)
    return 0


def run_macro(spec):
    """The outcome of one macro run (the module's description)."""
    progress = []
    outcome = {"progress": progress, "error": None, "traceback": None, "result_kind": None, "result": None,
               "class_name": None}
    try:
        with open(spec["runnable_py"], encoding="utf-8") as f:
            code = f.read()
        clazz = runnable_class(load_module(code))
        outcome["class_name"] = getattr(clazz, "__name__", None)
        runnable = instantiate(clazz, spec["project_key"], spec["config"], spec["plugin_config"])
        outcome["progress_target"] = progress_target(runnable)
        result = runnable.run(lambda value: progress.append(value))
        if spec.get("result_type") == "RESULT_TABLE":
            outcome["result_kind"] = "result_table"
            outcome["result"] = read_result_table(sent_string(result))
        elif result is None or isinstance(result, str):
            outcome["result_kind"] = "none" if result is None else "str"
            outcome["result"] = result
        elif callable(getattr(result, "to_json", None)):
            outcome["result_kind"] = "result_table"
            outcome["result"] = json.loads(result.to_json())
        elif isinstance(result, dict):
            outcome["result_kind"] = "json"
            outcome["result"] = json.loads(json.dumps(result))
        else:
            outcome["result_kind"] = type(result).__name__
            outcome["result"] = repr(result)
    except Exception as e:  # the run fails, as in DSS
        outcome["error"] = "%s" % e
        outcome["error_type"] = type(e).__name__
        outcome["traceback"] = traceback.format_exc()
    return outcome


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
