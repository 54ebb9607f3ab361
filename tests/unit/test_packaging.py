"""Packaging: every Python the code env accepts is proven, requirements are bounded and satisfied by the
bench, plugin.json's meta, the LICENSE it names, the macros' permissions."""

import ast
import importlib.metadata
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import sysconfig
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLUGIN_CODE = ("python-lib", "python-runnables", "python-steps", "resource")

_spec = importlib.util.spec_from_file_location("nodeops_tools_pythons", ROOT / "tools" / "pythons.py")
pythons = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pythons)

ACCEPTED = pythons.accepted_versions()
NEWEST_TESTED = (3, 13)  # the newest Python the bench's machine has an interpreter for (tools/pythons.py list)


def _ids(versions):
    return ["%d.%d" % v for v in versions]


def plugin_code_files():
    files = sorted(p for d in PLUGIN_CODE for p in (ROOT / d).rglob("*.py") if "__pycache__" not in p.parts)
    assert len(files) > 20, files  # the plugin's code, not an empty glob
    return files


# --- Python versions ----------------------------------------------------------------------------------

def test_the_code_env_accepts_every_python_from_3_9_to_the_newest_tested():
    assert ACCEPTED[0] == (3, 9)
    assert ACCEPTED == [(3, m) for m in range(9, 9 + len(ACCEPTED))], "a gap in %s" % ACCEPTED
    assert ACCEPTED[-1] == NEWEST_TESTED
    desc = json.loads((ROOT / "code-env" / "python" / "desc.json").read_text())
    assert desc["installCorePackages"] is True and desc["corePackagesSet"] == "AUTO"  # pandas comes from DSS


@pytest.mark.parametrize("version", ACCEPTED, ids=_ids(ACCEPTED))
def test_every_plugin_file_parses_with_the_grammar_of(version):
    """ast.parse with feature_version: the grammar of that version as this interpreter knows it (exact for
    versions up to the running one; a newer one is proven by its own interpreter, below)."""
    for path in plugin_code_files():
        ast.parse(path.read_text(encoding="utf-8"), filename=str(path), feature_version=version)


def test_the_grammar_check_rejects_newer_syntax():
    """feature_version is best effort and its coverage differs between interpreters (hence the real
    interpreters below); each one rejects at least this construct of a version above the one asked."""
    if sys.version_info >= (3, 10):
        source, since = "match x:\n    case 1:\n        pass\n", (3, 10)
    else:  # a 3.9 parser cannot read a match statement at all
        source, since = "f'{x=}'\n", (3, 8)
    ast.parse(source, feature_version=since)
    with pytest.raises(SyntaxError):
        ast.parse(source, feature_version=(since[0], since[1] - 1))


# Run by the interpreter under test: compile every file with warnings as errors (an invalid escape is a
# DeprecationWarning up to 3.11 and a SyntaxWarning from 3.12), and find every standard-library module
# the plugin imports (catches a module a newer Python removed: distutils, imp, cgi, pipes...).
_CHECK = r"""
import importlib.util, json, sys, warnings
files, modules = json.load(sys.stdin)
warnings.simplefilter("error")
bad = []
for f in files:
    try:
        with open(f, encoding="utf-8") as fh:
            compile(fh.read(), f, "exec", dont_inherit=True)
    except (SyntaxError, Warning) as e:
        bad.append("%s: %s: %s" % (f, type(e).__name__, e))
for m in modules:
    if importlib.util.find_spec(m) is None:
        bad.append("standard-library module %s is missing" % m)
print(json.dumps(bad))
"""


def _stdlib_imports(files):
    names = set()
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names.add(node.module.split(".")[0])
    return sorted(n for n in names if _in_stdlib(n))


def _in_stdlib(name):
    if hasattr(sys, "stdlib_module_names"):  # 3.10+
        return name in sys.stdlib_module_names
    spec = importlib.util.find_spec(name)  # 3.9: where the module comes from
    if spec is None or spec.origin is None:
        return False
    stdlib = sysconfig.get_paths()["stdlib"]
    return spec.origin in ("built-in", "frozen") or (
        spec.origin.startswith(stdlib) and "site-packages" not in spec.origin)


def _check_with(exe, files):
    out = subprocess.run([exe, "-c", _CHECK], input=json.dumps([[str(f) for f in files], _stdlib_imports(files)]),
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.mark.parametrize("version", ACCEPTED, ids=_ids(ACCEPTED))
def test_every_plugin_file_compiles_and_finds_its_stdlib_with_a_real_interpreter_of(version):
    exe = pythons.find_interpreter(version)
    if exe is None:
        pytest.skip("no Python %d.%d interpreter on this machine (tools/pythons.py list)" % version)
    assert _check_with(exe, plugin_code_files()) == []


def test_the_interpreter_check_catches_invalid_escapes_and_missing_modules(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text('import os\nPATTERN = "\\d+"\n')
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # this process parses it too, for its imports
        problems = _check_with(sys.executable, [bad])
    assert len(problems) == 1 and "bad.py" in problems[0] and "invalid escape sequence" in problems[0], problems
    out = subprocess.run([sys.executable, "-c", _CHECK], input=json.dumps([[], ["no_such_module_xyz"]]),
                         capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == ["standard-library module no_such_module_xyz is missing"]
    assert "distutils" not in _stdlib_imports(plugin_code_files())  # removed in 3.12


# --- Requirements -------------------------------------------------------------------------------------

BOUNDED = re.compile(r"(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]*)>=(?P<low>\d+(?:\.\d+)*),<(?P<high>\d+)")


def _release(version):
    return tuple(int(x) for x in re.match(r"\d+(?:\.\d+)*", version).group(0).split("."))


def _requirement_lines(path):
    return [line.split("#")[0].strip() for line in path.read_text().splitlines() if line.split("#")[0].strip()]


def test_every_requirement_has_bounds_the_next_major_excluded_and_the_bench_satisfies_them():
    lines = _requirement_lines(ROOT / "code-env" / "python" / "spec" / "requirements.txt")
    assert {BOUNDED.fullmatch(x).group("name").lower() for x in lines if BOUNDED.fullmatch(x)} >= {
        "psutil", "jinja2", "matplotlib", "prometheus_client"}
    for line in lines:
        m = BOUNDED.fullmatch(line)
        assert m, "%r: a requirement is name>=lower,<next-major" % line
        low, high = _release(m.group("low")), int(m.group("high"))
        installed = _release(importlib.metadata.version(m.group("name")))
        assert low <= installed, "%s: the bench has %s, below the lower bound" % (line, installed)
        assert installed[0] + 1 == high, \
            "%s: the bench tests major %d, so the upper bound is <%d" % (line, installed[0], installed[0] + 1)


def test_pandas_1_3_stays_allowed():
    """pandas comes from DSS's core packages (not pinned by the plugin); the bench admits 1.3 and newer."""
    assert not any(x.lower().startswith("pandas") for x in
                   _requirement_lines(ROOT / "code-env" / "python" / "spec" / "requirements.txt"))
    spec = [x for x in _requirement_lines(ROOT / "tests" / "requirements.txt") if re.match(r"pandas\b", x)]
    assert len(spec) == 1
    low = re.search(r">=\s*([\d.]+)", spec[0])
    assert low and _release(low.group(1)) <= (1, 3), spec
    assert "<" not in spec[0] or _release(re.search(r"<\s*([\d.]+)", spec[0]).group(1)) > (1, 3)


# --- plugin.json, LICENSE, macros ----------------------------------------------------------------------

LICENSES = {  # plugin.json licenseInfo -> how the LICENSE text begins
    "Apache Software License": re.compile(r"\s*Apache License\s+Version 2\.0, January 2004\s"),
}


def test_plugin_json_meta_is_complete():
    meta = json.loads((ROOT / "plugin.json").read_text())["meta"]
    for key in ("label", "description", "author", "icon", "category", "tags", "licenseInfo", "url", "supportLevel"):
        assert meta.get(key), key
    assert "Admin" in meta["tags"]
    assert re.match(r"https://\S+$", meta["url"]) or meta["url"].startswith("TODO"), meta["url"]


def test_the_license_file_is_the_one_plugin_json_names():
    meta = json.loads((ROOT / "plugin.json").read_text())["meta"]
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert LICENSES[meta["licenseInfo"]].match(text), "LICENSE is not the %s text" % meta["licenseInfo"]
    for n, title in enumerate(("Definitions", "Grant of Copyright License", "Grant of Patent License",
                               "Redistribution", "Submission of Contributions", "Trademarks",
                               "Disclaimer of Warranty", "Limitation of Liability",
                               "Accepting Warranty or Additional Liability"), 1):
        assert re.search(r"^\s*%d\. %s\." % (n, title), text, re.M), title  # whole, not an excerpt
    assert "END OF TERMS AND CONDITIONS" in text and "APPENDIX: How to apply the Apache License" in text


def test_every_macro_requires_a_global_admin_and_project_admin_permission():
    for path in sorted((ROOT / "python-runnables").glob("*/runnable.json")):
        data = json.loads(path.read_text())
        assert data["requiresGlobalAdmin"] is True, path
        assert data["permissions"] == ["ADMIN"], path


def test_sync_params_keeps_every_other_key_of_the_descriptors(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("nodeops_tools_sync_params", ROOT / "tools" / "sync_params.py")
    sync = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sync)
    for kind in ("python-runnables", "python-steps"):
        shutil.copytree(ROOT / kind, tmp_path / kind)
    plugin = json.loads((ROOT / "plugin.json").read_text())
    (tmp_path / "plugin.json").write_text(json.dumps(dict(plugin, params=[])))  # its settings: rewritten too
    target = tmp_path / "python-runnables" / "purge-job-logs" / "runnable.json"
    data = json.loads(target.read_text())
    data["params"] = []  # out of date: sync_params rewrites it
    target.write_text(json.dumps(data))
    monkeypatch.setattr(sync, "ROOT", tmp_path)
    sync.main()
    after = json.loads(target.read_text())
    assert after["params"] and after["permissions"] == ["ADMIN"] and after["requiresGlobalAdmin"] is True
    assert {k: v for k, v in after.items() if k != "params"} == {k: v for k, v in data.items() if k != "params"}
    after = json.loads((tmp_path / "plugin.json").read_text())
    assert after == plugin  # the settings back, the meta and permissions untouched
