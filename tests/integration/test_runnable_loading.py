"""The harness loads a macro's runnable.py as DSS does (KIT dataiku/runnables/server.py and
dataiku/base/utils.py get_clazz_in_code): small fake plugins in a temporary folder, run
through the harness against the simulator."""

import json
import textwrap

import pytest

from dssbench.harness import Harness

HEADER = "from dataiku.runnables import Runnable\n\n"


def plugin(tmp_path, code, macro_id="m", result_type="HTML"):
    folder = tmp_path / "fake-plugin" / "python-runnables" / macro_id
    folder.mkdir(parents=True)
    (folder / "runnable.json").write_text(json.dumps({"meta": {"label": "fake"}, "params": [],
                                                      "resultType": result_type, "requiresGlobalAdmin": False}))
    (folder / "runnable.py").write_text(HEADER + textwrap.dedent(code))
    return tmp_path / "fake-plugin"


def run(sim, tmp_path, code, result_type="HTML", **kw):
    return Harness(sim, plugin(tmp_path, code, result_type=result_type)).run_macro(
        "m", {"x": 1}, project_key="PK", plugin_config={"p": 2}, **kw)


def test_the_single_subclass_is_loaded_whatever_its_name(sim, tmp_path):
    out = run(sim, tmp_path, """
        class PurgeEverything(Runnable):
            def run(self, progress_callback):
                return "%s %s %s" % (self.project_key, self.config, self.plugin_config)
        """)
    assert out.ok, out.traceback
    assert out.result == "PK {'x': 1} {'p': 2}"


@pytest.mark.parametrize("signature, expected", [
    ("self", "()"), ("self, project_key", "('PK',)"), ("self, project_key, config", "('PK', {'x': 1})"),
    ("self, a, b, c", "('PK', {'x': 1}, {'p': 2})")])
def test_init_takes_one_to_four_arguments(sim, tmp_path, signature, expected):
    args = [a.strip() for a in signature.split(",")[1:]]
    out = run(sim, tmp_path, """
        class Macro(Runnable):
            def __init__(%s):
                self.got = (%s)
            def run(self, progress_callback):
                return repr(self.got)
        """ % (signature, "".join(a + ", " for a in args)))
    assert out.ok, out.traceback
    assert out.result == expected


def test_five_arguments_fail_like_dss(sim, tmp_path):
    out = run(sim, tmp_path, """
        class Macro(Runnable):
            def __init__(self, a, b, c, d):
                pass
            def run(self, progress_callback):
                return "ran"
        """)
    assert not out.ok and out.error == "Wrong signature of the Runnable subclass: 5 args"


def test_two_subclasses_fail_like_dss(sim, tmp_path):
    out = run(sim, tmp_path, """
        class MyRunnable(Runnable):
            def run(self, progress_callback):
                return "ran"

        class Helper(Runnable):
            pass
        """)
    assert not out.ok
    assert out.error.startswith("Multiple classes inheriting <class 'dataiku.runnables.Runnable'> defined, "
                                "already had ")
    assert "Helper" in out.error and "MyRunnable" in out.error


def test_a_base_class_of_the_macro_counts_as_a_second_subclass(sim, tmp_path):
    """DSS walks dir(module): an intermediate base class (or an imported subclass) is a second one."""
    out = run(sim, tmp_path, """
        class Base(Runnable):
            pass

        class MyRunnable(Base):
            def run(self, progress_callback):
                return "ran"
        """)
    assert not out.ok and out.error.startswith("Multiple classes inheriting")


def test_no_subclass_fails(sim, tmp_path):
    out = run(sim, tmp_path, """
        class MyRunnable(object):
            def run(self, progress_callback):
                return "ran"
        """)
    assert not out.ok and out.result is None


def test_the_code_is_loaded_as_dss_loads_it_not_as_main_from_the_plugin_folder(sim, tmp_path):
    out = run(sim, tmp_path, """
        import os
        WHERE = os.path.basename(__file__), __name__

        class MyRunnable(Runnable):
            def run(self, progress_callback):
                return repr(WHERE)

        if __name__ == "__main__":
            raise SystemExit("not run as a script")
        """)
    assert out.ok, out.traceback
    assert out.result == repr(("dku_code.py", "dku_nomatter_module_name"))


@pytest.mark.parametrize("target, expected", [
    ("None", None), ("(10, 'FILES')", [10, "FILES"]), ("(5,)", [5, "NONE"]), ("()", [-1, "NONE"]),
    ("[2.5, 'SIZE']", [2.5, "SIZE"]), ("(3, 'RECORDS')", [3, "RECORDS"])])
def test_valid_progress_targets(sim, tmp_path, target, expected):
    out = run(sim, tmp_path, """
        class MyRunnable(Runnable):
            def get_progress_target(self):
                return %s
            def run(self, progress_callback):
                progress_callback(1)
                return "ran"
        """ % target)
    assert out.ok, out.traceback
    assert out.progress_target == expected and out.result == "ran"


@pytest.mark.parametrize("target", ["(10, 'PERCENT')", "(10, 'files')", "('10', 'FILES')", "10", "'FILES'"])
def test_a_bad_progress_target_fails_the_run_before_it_starts(sim, tmp_path, target):
    marker = tmp_path / "ran"
    out = run(sim, tmp_path, """
        class MyRunnable(Runnable):
            def get_progress_target(self):
                return %s
            def run(self, progress_callback):
                open(%r, "w").close()
                return "ran"
        """ % (target, str(marker)))
    assert not out.ok, out.result
    assert not marker.exists()


def test_a_dict_result_is_sent_as_json(sim, tmp_path):
    out = run(sim, tmp_path, """
        class MyRunnable(Runnable):
            def run(self, progress_callback):
                return {"deleted": 3}
        """)
    assert out.ok and out.result_kind == "json" and out.result == {"deleted": 3}


# ---- the result is read as runnable.json's resultType says (guesses.RESULT_TYPE_IS_STATIC) ----------
TABLE = """
    from dataiku.runnables import ResultTable

    class Macro(Runnable):
        def run(self, progress_callback):
            rt = ResultTable()
            rt.set_name("t")
            rt.add_column("a", "A", "STRING")
            rt.add_record(["1"])
            return %s
    """


def test_a_result_table_macro_returns_the_table_dss_shows(sim, tmp_path):
    out = run(sim, tmp_path, TABLE % "rt", result_type="RESULT_TABLE")
    assert out.ok, out.traceback
    assert out.result_kind == "result_table"
    assert out.result["columns"] == [{"name": "a", "displayName": "A", "type": "STRING"}]
    assert out.result["records"] == [["1"]]


def test_a_result_table_macro_that_returns_html_fails(sim, tmp_path):
    out = run(sim, tmp_path, TABLE % "'<div>report</div>'", result_type="RESULT_TABLE")
    assert not out.ok and "a RESULT_TABLE macro must return a result table" in out.error


def test_a_result_table_whose_records_do_not_match_its_columns_fails(sim, tmp_path):
    out = run(sim, tmp_path, TABLE % "dict(columns=[{'name': 'a', 'displayName': 'A', 'type': 'STRING'}], "
                                     "records=[['1', '2']], name='t')", result_type="RESULT_TABLE")
    assert not out.ok and "one value per column" in out.error


def test_an_html_macro_that_returns_a_table_gets_its_json_shown_as_text(sim, tmp_path):
    """DSS does not fail it: the page shows the JSON as HTML text; the harness tells a test it is not HTML."""
    out = run(sim, tmp_path, TABLE % "rt")
    assert out.ok and out.result_kind == "result_table" and isinstance(out.result, dict)
