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
            op = operations.get(comp_id)  # the folder name is the operation id
            for p in data.get("params", []):
                assert p["type"] in DSS_PARAM_TYPES, "%s: %s has type %s" % (comp_id, p["name"], p["type"])
            component = "macro" if kind == "python-runnables" else "step"
            assert data["params"] == [to_dss_json(p) for p in op.declared_params(component)], \
                "%s/%s/%s: params differ from the declaration in python-lib; run tools/sync_params.py" % (kind, comp_id, descriptor)
            if kind == "python-runnables":
                assert data["resultType"] in RESULT_TYPES
                assert data["resultType"] == op.result_type
                assert data["requiresGlobalAdmin"] is True
                assert data["permissions"] == ["ADMIN"]  # beside requiresGlobalAdmin, as Dataiku's own admin macros


def test_impersonate_follows_the_registry(plugin_zip):
    """runnable.json "impersonate": false (the DSS service account) exactly for the macros whose operation
    reads DIP_HOME (the registry says so, in one place); the others run impersonated, said explicitly
    (DSS documents no default). Every step that reads DIP_HOME has that macro to hand its work to."""
    macros = components(plugin_zip, "python-runnables", "runnable.json", "runnable.py")
    flags = {m: json.loads(plugin_zip["python-runnables/%s/runnable.json" % m])["impersonate"] for m in macros}
    assert flags == {m: not operations.get(m).reads_dip_home for m in macros}, \
        "runnable.json impersonate differs from nodeops.operations reads_dip_home; run tools/sync_params.py"
    assert {m for m, f in flags.items() if f is False} == {
        "backup", "capacity-report", "config-audit", "purge-exports", "purge-job-logs", "purge-scenario-logs"}
    assert {m for m, f in flags.items() if f is True} == {"collect-metrics", "cull-kernels", "setup-admin-project"}
    for step in components(plugin_zip, "python-steps", "step.json", "step.py"):
        if operations.get(step).reads_dip_home:
            assert flags.get(step) is False, "step %s reads DIP_HOME but has no impersonate:false macro" % step


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
