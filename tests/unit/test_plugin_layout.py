"""The plugin as DSS sees it: the zip, the JSON descriptors, the code rules."""

import ast
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from nodeops import operations
from nodeops.params import to_dss_json

ROOT = Path(__file__).resolve().parents[2]

# Parameter types DSS documents (plugins/reference/params.rst).
DSS_PARAM_TYPES = {
    "BOOLEAN", "DATE", "DOUBLE", "DOUBLES", "INT", "INTS", "PASSWORD", "STRING", "STRINGS", "TEXTAREA",
    "ARRAY", "KEY_VALUE_LIST", "MAP", "MULTISELECT", "OBJECT_LIST", "SELECT",
    "API_SERVICE", "API_SERVICE_VERSION", "BUNDLE", "CLUSTER", "CODE_ENV", "COLUMN", "COLUMNS", "CONNECTION",
    "CONNECTIONS", "DATASET", "DATASETS", "DATASET_COLUMN", "DATASET_COLUMNS", "LLM", "KNOWLEDGE_BANK",
    "MANAGED_FOLDER", "ML_TASK", "PLUGIN", "PROJECT", "SAVED_MODEL", "SCENARIO", "VISUAL_ANALYSIS",
    "CREDENTIAL_REQUEST", "PRESET", "PRESETS", "SEPARATOR",
}
RESULT_TYPES = {"NONE", "HTML", "URL", "FILE", "FOLDER_FILE", "RESULT_TABLE", "JSON_OBJECT"}


@pytest.fixture(scope="module")
def plugin_zip(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist") / "plugin.zip"
    subprocess.run([sys.executable, str(ROOT / "tools" / "build_plugin.py"), "--out", str(out)], check=True,
                   capture_output=True)
    with zipfile.ZipFile(out) as z:
        yield {name: z.read(name) for name in z.namelist()}


def components(files, kind, descriptor, code):
    found = {}
    for name in files:
        parts = name.split("/")
        if parts[0] == kind and len(parts) == 3:
            found.setdefault(parts[1], set()).add(parts[2])
    for comp_id, names in found.items():
        assert {descriptor, code} <= names, "%s/%s lacks %s or %s" % (kind, comp_id, descriptor, code)
    return sorted(found)


def test_zip_layout(plugin_zip):
    assert "plugin.json" in plugin_zip, "plugin.json must be at the zip root"
    assert not any(n.startswith("tests/") for n in plugin_zip)
    assert {"LICENSE", "README.md", "CHANGELOG.md"} <= set(plugin_zip)  # what an administrator reads in the zip
    for name, data in plugin_zip.items():
        if name.endswith(".json"):
            json.loads(data)
    meta = json.loads(plugin_zip["plugin.json"])
    assert meta["id"] == "node-ops"
    for key in ("label", "description", "icon", "category", "tags"):
        assert meta["meta"].get(key), key
    desc = json.loads(plugin_zip["code-env/python/desc.json"])
    assert {"PYTHON39", "PYTHON310", "PYTHON311"} <= set(desc["acceptedPythonInterpreters"])
    assert desc["installCorePackages"] is True
    reqs = plugin_zip["code-env/python/spec/requirements.txt"].decode()
    assert "psutil" in reqs and "pandas" not in reqs  # pandas comes with DSS's core packages


def test_every_component_is_complete_and_matches_its_operation(plugin_zip):
    macros = components(plugin_zip, "python-runnables", "runnable.json", "runnable.py")
    steps = components(plugin_zip, "python-steps", "step.json", "step.py")
    assert macros, "no macro in the zip"
    for kind, ids, descriptor in (("python-runnables", macros, "runnable.json"), ("python-steps", steps, "step.json")):
        for comp_id in ids:
            data = json.loads(plugin_zip["%s/%s/%s" % (kind, comp_id, descriptor)])
            code = plugin_zip["%s/%s/%s" % (kind, comp_id, descriptor.replace(".json", ".py"))].decode()
            assert '"%s"' % comp_id in code, "%s/%s/%s does not run operation %r" % (kind, comp_id, descriptor, comp_id)
            # the folder name is the operation id, or that of its table face (<id>-table)
            macro = operations.macro(comp_id) if kind == "python-runnables" else None
            op = macro.operation if macro else operations.get(comp_id)
            for p in data.get("params", []):
                assert p["type"] in DSS_PARAM_TYPES, "%s: %s has type %s" % (comp_id, p["name"], p["type"])
            component = "macro" if kind == "python-runnables" else "step"
            assert data["params"] == [to_dss_json(p) for p in op.declared_params(component)], \
                "%s/%s/%s: params differ from the declaration in python-lib; run tools/sync_params.py" % (kind, comp_id, descriptor)
            if kind == "python-runnables":
                assert data["resultType"] in RESULT_TYPES
                assert data["resultType"] == macro.result_type
                assert data["requiresGlobalAdmin"] is True
                assert data["permissions"] == ["ADMIN"]  # beside requiresGlobalAdmin, as Dataiku's own admin macros


def test_impersonate_follows_the_registry(plugin_zip):
    """runnable.json "impersonate": false (the DSS service account) exactly for the macros whose operation
    reads DIP_HOME (the registry says so, in one place); the others run impersonated, said explicitly
    (DSS documents no default). Every step that reads DIP_HOME has that macro to hand its work to."""
    macros = components(plugin_zip, "python-runnables", "runnable.json", "runnable.py")
    flags = {m: json.loads(plugin_zip["python-runnables/%s/runnable.json" % m])["impersonate"] for m in macros}
    assert flags == {m: not operations.macro(m).operation.reads_dip_home for m in macros}, \
        "runnable.json impersonate differs from nodeops.operations reads_dip_home; run tools/sync_params.py"
    assert {m for m, f in flags.items() if f is False} == {
        "backup", "capacity-report", "config-audit", "purge-exports", "purge-job-logs", "purge-scenario-logs", "reclaim-disk",
        "purge-exports-table", "purge-job-logs-table", "purge-scenario-logs-table"}
    assert {m for m, f in flags.items() if f is True} == {"collect-metrics", "cull-kernels", "setup-admin-project",
                                                          "cull-kernels-table"}
    for step in components(plugin_zip, "python-steps", "step.json", "step.py"):
        if operations.get(step).reads_dip_home:
            assert flags.get(step) is False, "step %s reads DIP_HOME but has no impersonate:false macro" % step


def test_table_faces_are_result_tables_of_an_operation_with_a_table(plugin_zip):
    """Each <id>-table macro is declared RESULT_TABLE (DSS reads the result as the descriptor says),
    has the parameters of its operation's own macro and returns one of the tables its reports have."""
    macros = components(plugin_zip, "python-runnables", "runnable.json", "runnable.py")
    faces = [m for m in macros if operations.macro(m).result_type == "RESULT_TABLE"]
    assert sorted(faces) == sorted(operations.TABLE_MACROS) == sorted(m + "-table" for m in (
        "purge-job-logs", "purge-scenario-logs", "purge-exports", "cull-kernels"))
    for face in faces:
        macro = operations.macro(face)
        own = json.loads(plugin_zip["python-runnables/%s/runnable.json" % macro.operation.id])
        data = json.loads(plugin_zip["python-runnables/%s/runnable.json" % face])
        assert own["resultType"] == "HTML" and data["params"] == own["params"]
        assert data["impersonate"] == own["impersonate"] and data["meta"]["category"] == own["meta"]["category"]
        assert macro.table and callable(macro.outcome)


def test_every_operation_says_whether_it_reads_dip_home():
    from nodeops.operations import Operation

    assert all(isinstance(op.reads_dip_home, bool) for op in operations.OPERATIONS.values())
    with pytest.raises(ValueError, match="reads_dip_home"):
        Operation("new-op", "New", (), lambda ctx, params, progress=None: None)


_LOAD_AS_DSS = """
import json, sys
import run_runnable
out = {}
for path in sys.argv[1:]:
    try:
        clazz = run_runnable.runnable_class(run_runnable.load_module(open(path, encoding="utf-8").read()))
        runnable = run_runnable.instantiate(clazz, "PROJECT", {}, {})
        out[path] = [clazz.__name__, run_runnable.progress_target(runnable)]
    except Exception as e:
        out[path] = ["error", str(e)]
print(json.dumps(out))
"""


def test_each_runnable_py_has_the_single_runnable_subclass_dss_loads(plugin_zip, tmp_path):
    """DSS takes the single subclass of Runnable among the module's names (imported ones
    included), whatever its name, calls __init__ with 1 to 4 arguments and reads
    get_progress_target(): each runnable.py of the zip, loaded by the bench's loader."""
    paths = []
    for name, data in sorted(plugin_zip.items()):
        if name.endswith("/runnable.py"):
            path = tmp_path / name.replace("/", "__")
            path.write_bytes(data)
            paths.append(str(path))
    assert paths
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        str(ROOT / p) for p in ("tests/dssbench/dataiku_stub", "python-lib", "tests/dssbench")))
    proc = subprocess.run([sys.executable, "-c", _LOAD_AS_DSS] + paths, capture_output=True, text=True, env=env,
                          cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    loaded = json.loads(proc.stdout)
    for path in paths:
        assert loaded[path] == ["MyRunnable", None], path


def _imports_dataiku(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(a.name == "dataiku" or a.name.startswith("dataiku.") for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and node.module and (node.module == "dataiku" or node.module.startswith("dataiku.")):
            return True
    return False


def test_dataiku_is_imported_in_exactly_one_module():
    code = [p for d in ("python-lib", "python-runnables", "python-steps", "resource") for p in (ROOT / d).rglob("*.py")]
    importers = sorted(str(p.relative_to(ROOT)) for p in code if _imports_dataiku(p))
    assert importers == ["python-lib/nodeops/dss.py"]


def test_library_imports_without_dataiku():
    """Everything but nodeops.dss imports in a fresh interpreter with no dataiku on the path."""
    modules = sorted(p.stem for p in (ROOT / "python-lib" / "nodeops").glob("*.py")
                     if p.stem not in ("dss", "__main__", "__init__"))
    code = ("import sys, importlib\n"
            "for m in %r: importlib.import_module('nodeops.' + m)\n"
            "assert 'dataiku' not in sys.modules\n"
            "try:\n    import dataiku\nexcept ImportError: print('no dataiku')\n") % (modules,)
    out = subprocess.run([sys.executable, "-c", code], env={"PYTHONPATH": str(ROOT / "python-lib"), "PATH": "/usr/bin:/bin"},
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "no dataiku" in out.stdout


def _vermin(*targets):
    vermin = str(Path(sys.executable).parent / "vermin")
    return subprocess.run([vermin, "--no-tips", "--violations", "--target=3.9-", "--eval-annotations"]
                          + [str(t) for t in targets], capture_output=True, text=True)


def test_code_runs_on_python_39(tmp_path):
    """vermin: the minimum Python version needed by the plugin code is at most 3.9."""
    out = _vermin(*(ROOT / d for d in ("python-lib", "python-runnables", "python-steps", "tools")))
    assert out.returncode == 0, out.stdout + out.stderr
    # and the check does catch newer syntax
    newer = tmp_path / "newer.py"
    newer.write_text("import itertools\nprint(list(itertools.pairwise([1, 2, 3])))\n")  # 3.10+
    assert _vermin(newer).returncode != 0


def _nodeops_imports():
    """{module: {modules it imports}} inside nodeops, function-level imports included."""
    base = ROOT / "python-lib"
    graph = {}
    for path in (base / "nodeops").rglob("*.py"):
        parts = list(path.relative_to(base).with_suffix("").parts)
        package = parts if parts[-1] == "__init__" else parts[:-1]
        if parts[-1] == "__init__":
            parts, package = parts[:-1], parts[:-1]
        name = ".".join(parts)
        found = graph.setdefault(name, set())
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                target = package[:len(package) - node.level + 1]
                mod = ".".join(target + (node.module.split(".") if node.module else []))
                names = [mod] if node.module else ["%s.%s" % (mod, a.name) for a in node.names]
                found.update(names)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name.startswith("nodeops"))
    modules = set(graph)
    return {m: {t if t in modules else t.rsplit(".", 1)[0] for t in targets} & modules - {m}
            for m, targets in graph.items()}


def test_no_import_cycles_in_nodeops():
    graph = _nodeops_imports()
    state, cycles = {}, []

    def visit(m, stack):
        state[m] = "open"
        for t in sorted(graph[m]):
            if state.get(t) == "open":
                cycles.append(" -> ".join(stack[stack.index(t):] + [t]))
            elif t not in state:
                visit(t, stack + [t])
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert cycles == []


def test_the_api_layer_imports_nothing_above_it():
    allowed = {"nodeops.errors", "nodeops.params", "nodeops.dssapi"}
    for m, targets in _nodeops_imports().items():
        if m.startswith("nodeops.dssapi"):
            assert {t for t in targets if not t.startswith("nodeops.dssapi.")} <= allowed, m


def test_the_component_types_name_the_plugin_of_plugin_json():
    from nodeops import resources

    plugin_id = json.loads((ROOT / "plugin.json").read_text())["id"]
    assert resources.PLUGIN_ID == plugin_id
    assert resources.macro_type("backup") == "pyrunnable_%s_backup" % plugin_id
    assert resources.step_type("backup") == "pystep_%s_backup" % plugin_id


# ---- the forms: sections, visibility, mandatory fields, descriptions, pickers --------------------------
def _descriptors(plugin_zip):
    """{(kind, id): descriptor} of every macro and step in the zip."""
    out = {}
    for name, data in plugin_zip.items():
        parts = name.split("/")
        if len(parts) == 3 and parts[2] in ("runnable.json", "step.json"):
            out[(parts[0], parts[1])] = json.loads(data)
    return out


def _form_of(kind, comp_id):
    """The operation whose form a component shows: a RESULT_TABLE twin (purge-job-logs-table)
    shows its operation's form."""
    return operations.macro(comp_id).operation.id if kind == "python-runnables" else comp_id


def _sections(descriptor):
    """{separator label: [names of the fields under it]}, in form order; fields before any separator
    under None."""
    out, current = {}, None
    for p in descriptor["params"]:
        if p["type"] == "SEPARATOR":
            current = p["label"]
            assert current not in out, "two sections %r" % current
            out[current] = []
        else:
            out.setdefault(current, []).append(p["name"])
    return out


def _field(descriptor, name):
    [p] = [p for p in descriptor["params"] if p.get("name") == name]
    return p


def test_long_forms_have_sections(plugin_zip):
    d = _descriptors(plugin_zip)
    for kind in ("python-runnables", "python-steps"):
        cull = _sections(d[(kind, "cull-kernels")])
        assert list(cull) == ["Rules", "Protections", "Exemptions", "Notices", "Run"]
        assert cull["Notices"] == ["warn_hours", "notify_channel"]
        assert cull["Rules"] == ["max_idle_hours", "max_age_hours", "max_memory_mb"]
        assert cull["Protections"] == ["protect_busy", "max_busy_hours", "protect_connected"]
        assert cull["Exemptions"] == ["exempt_users", "exempt_projects"]
        assert cull["Run"][0] == "dry_run"
        setup = _sections(d[("python-runnables", "setup-admin-project")])
        assert list(setup) == ["Project", "Alerts", "Schedules and maintenance", "Run"]
        assert setup["Alerts"] == ["alert_email", "alert_channel"] and setup["Run"][-1] == "dry_run"
        backup = _sections(d[(kind, "backup")])
        assert list(backup) == ["Archive", "Retention"]
        assert backup["Archive"][:2] == ["target_dir", "scope"]
        assert backup["Retention"] == ["keep_daily", "keep_weekly", "keep_monthly", "dry_run"]
        metrics = _sections(d[(kind, "collect-metrics")])
        assert metrics["Graphite"] == ["graphite_host", "graphite_port", "prefix", "prefix_convention"]
        assert metrics["Prometheus"] == ["prometheus_file"] and metrics["History"] == ["history", "history_days"]
    assert "fail_on_error" in _sections(d[("python-steps", "cull-kernels")])["Run"]
    # a section left empty in a component is not shown: collect-metrics's Run holds only fail_on_error
    assert list(_sections(d[("python-steps", "collect-metrics")])) == ["Graphite", "Prometheus", "History", "Run"]
    assert list(_sections(d[("python-runnables", "collect-metrics")])) == ["Graphite", "Prometheus", "History"]
    for key, descriptor in d.items():
        params = descriptor["params"]
        for i, p in enumerate(params):
            if p["type"] == "SEPARATOR":  # a heading, as DSS documents it: a label, no value
                assert p["label"] and p["name"].startswith("sep_"), (key, p)
                assert not {"defaultValue", "mandatory", "selectChoices", "getChoicesFromPython"} & set(p), (key, p)
                assert i + 1 < len(params) and params[i + 1]["type"] != "SEPARATOR", (key, "empty section", p)


#: Fields shown only while another field says they apply (DSS visibilityCondition, on ``model``).
#: None depends on a field a plugin setting fills (collect-metrics' graphite_host): empty there means
#: "the setting", so the port and prefix stay shown (nodeops.operations.Operation refuses the others).
VISIBILITY = {
    ("purge-job-logs", "projects"): "['INCLUDED','ALL_BUT_EXCLUDED'].indexOf(model.projects_mode) >= 0",
    ("purge-scenario-logs", "projects"): "['INCLUDED','ALL_BUT_EXCLUDED'].indexOf(model.projects_mode) >= 0",
    ("reclaim-disk", "projects"): "['INCLUDED','ALL_BUT_EXCLUDED'].indexOf(model.projects_mode) >= 0",
    ("backup", "exclude"): "model.scope == 'DATA_DIR'",
    ("cull-kernels", "max_busy_hours"): "model.protect_busy",
    ("cull-kernels", "notify_channel"): "model.warn_hours > 0",
    ("capacity-report", "forecast_days"): "model.history",
}


def test_fields_that_do_not_apply_are_hidden(plugin_zip):
    import re

    found = {}
    for (kind, comp_id), descriptor in _descriptors(plugin_zip).items():
        names = {p["name"] for p in descriptor["params"]}
        form = _form_of(kind, comp_id)
        for p in descriptor["params"]:
            if "visibilityCondition" in p:
                found[(form, p["name"])] = p["visibilityCondition"]
                # the condition reads only fields of the same form
                assert set(re.findall(r"model\.(\w+)", p["visibilityCondition"])) <= names, (kind, comp_id, p)
        for (op_id, name), condition in VISIBILITY.items():
            if op_id == form and name in names:
                assert _field(descriptor, name).get("visibilityCondition") == condition, (kind, comp_id, name)
    assert found == VISIBILITY
    # what a hidden field's condition tests is a value of the form that can make it true
    scope = _field(_descriptors(plugin_zip)[("python-runnables", "backup")], "scope")
    assert "DATA_DIR" in [c["value"] for c in scope["selectChoices"]]
    mode = _field(_descriptors(plugin_zip)[("python-runnables", "purge-job-logs")], "projects_mode")
    assert {"INCLUDED", "ALL_BUT_EXCLUDED"} <= {c["value"] for c in mode["selectChoices"]}


#: Fields an empty value makes no sense for: the form refuses to leave them empty. A field a plugin
#: setting fills when empty (backup's target_dir: backup_dir) is never mandatory in the form: the
#: run refuses it when neither the form nor the setting gives a value.
MANDATORY = {
    "purge-job-logs": {"retention_days", "keep_last", "projects_mode"},
    "purge-scenario-logs": {"retention_days", "keep_last", "projects_mode"},
    "purge-exports": {"retention_days"},
    "reclaim-disk": {"retention_days", "keep_versions", "projects_mode"},
    "cull-kernels": {"max_idle_hours", "max_age_hours", "max_memory_mb", "max_busy_hours", "warn_hours"},
    "backup": {"scope", "compression", "keep_daily", "keep_weekly", "keep_monthly"},
    "capacity-report": {"top_n", "min_disk_gb", "forecast_days"},
    "config-audit": {"fail_severity", "backup_max_age_hours"},
    "setup-admin-project": {"project_name", "retention_days", "keep_last", "max_idle_hours"},
    "health-check": {"max_disk_used_percent", "max_inodes_used_percent", "min_memory_available_percent",
                     "max_alive_kernels", "max_job_hours", "max_failed_scenarios"},
    "collect-metrics": {"history_days"},
}


def test_mandatory_fields(plugin_zip):
    for (kind, comp_id), descriptor in _descriptors(plugin_zip).items():
        mandatory = {p["name"] for p in descriptor["params"] if p.get("mandatory")}
        shown = {p["name"] for p in descriptor["params"]}
        assert mandatory == MANDATORY[_form_of(kind, comp_id)] & shown, (kind, comp_id, mandatory)
        for p in descriptor["params"]:
            if p.get("mandatory"):
                assert p["type"] != "BOOLEAN", (comp_id, p["name"])  # a checkbox is never empty


def test_every_field_has_a_description(plugin_zip):
    for (kind, comp_id), descriptor in _descriptors(plugin_zip).items():
        for p in descriptor["params"]:
            if p["type"] != "SEPARATOR":
                assert len(p.get("description", "").strip()) >= 10, (kind, comp_id, p["name"])


def test_pickers_are_declared_with_their_script(plugin_zip):
    pickers = {}
    for (kind, comp_id), descriptor in _descriptors(plugin_zip).items():
        dynamic = [p for p in descriptor["params"] if p.get("getChoicesFromPython")]
        for p in dynamic:
            assert p["type"] in ("SELECT", "MULTISELECT") and "selectChoices" not in p, (comp_id, p)
            pickers.setdefault(_form_of(kind, comp_id), {})[p["name"]] = p["type"]
        if dynamic:  # DSS runs resource/<paramsPythonSetup>'s do() for them
            assert descriptor["paramsPythonSetup"] == "choices.py", (kind, comp_id)
        else:
            assert "paramsPythonSetup" not in descriptor, (kind, comp_id)
    assert pickers == {
        "purge-job-logs": {"projects": "MULTISELECT"}, "purge-scenario-logs": {"projects": "MULTISELECT"},
        "reclaim-disk": {"projects": "MULTISELECT"},
        "cull-kernels": {"exempt_users": "MULTISELECT", "exempt_projects": "MULTISELECT", "notify_channel": "SELECT"},
        "setup-admin-project": {"timezone": "SELECT", "alert_channel": "SELECT"},
    }
    script = ast.parse(plugin_zip["resource/choices.py"].decode())
    [do] = [n for n in script.body if isinstance(n, ast.FunctionDef) and n.name == "do"]
    assert [a.arg for a in do.args.args] == ["payload", "config", "plugin_config", "inputs"]


def test_fields_that_do_nothing_in_a_component_are_not_shown_there(plugin_zip):
    d = _descriptors(plugin_zip)
    names = {key: [p["name"] for p in desc["params"]] for key, desc in d.items()}
    assert "fail_severity" not in names[("python-runnables", "config-audit")]  # only a step fails a scenario
    assert "fail_severity" in names[("python-steps", "config-audit")]
    assert not [key for key, n in names.items() if key[0] == "python-runnables" and "fail_on_error" in n]
    # the collect-metrics macro keeps the history once the step has created its folder: shown in both
    assert "history" in names[("python-runnables", "collect-metrics")]
    for op in operations.OPERATIONS.values():
        for p in op.params:
            assert not (p.step_only and p.macro_only)
            if p.step_only and (("python-runnables", op.id)) in d:
                assert p.name not in names[("python-runnables", op.id)]
            if p.macro_only and (("python-steps", op.id)) in d:
                assert p.name not in names[("python-steps", op.id)]
