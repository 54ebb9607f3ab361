"""capacity-report end to end: macro and step run as DSS runs them, the CLI, through the real client."""

import html as _html
import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from dssbench import cli as nodeops_cli
from dssbench.harness import DSSRefused

ROOT = Path(__file__).resolve().parents[2]


def du_bytes(path):
    """Bytes on disk by GNU du (allocated blocks, hard links once, symlinks not followed)."""
    out = subprocess.run(["du", "-s", "-B1", str(path)], capture_output=True, text=True, check=True).stdout
    return int(out.split()[0])


def test_macro_reports_data_dir_by_folder_and_filesystem(harness, sim):
    outcome = harness.run_macro("capacity-report", {"top_n": 5})
    assert outcome.ok, outcome.traceback
    assert outcome.result_kind == "str"
    html = outcome.result
    assert 'class="nodeops-report"' in html and "Capacity report" in html
    for folder in ("jobs", "scenarios", "config", "managed_datasets"):
        assert "<td>%s</td>" % folder in html
    # The top-5 table lists exactly five second-level folders.
    largest = html.split('data-table="largest"')[1].split("</table>")[0]
    assert largest.count("<tr>") == 1 + 5


def test_step_sets_scenario_variables_matching_du(harness, sim):
    outcome = harness.run_step("capacity-report", {"top_n": 3, "min_disk_gb": 0})
    assert outcome.ok, outcome.stderr
    v = outcome.variables
    dip_home = sim.state.dip_home
    measured = v["nodeops_capacity_report_dip_home_disk_bytes"]
    # Our walker and du agree on bytes on disk (du also counts the top directory itself).
    assert abs(measured - du_bytes(dip_home)) <= 8192, (measured, du_bytes(dip_home))
    st = os.statvfs(dip_home)
    assert v["nodeops_capacity_report_fs_size_bytes"] == st.f_blocks * st.f_frsize
    assert v["nodeops_capacity_report_symlinks_not_followed"] >= 1
    assert "Capacity report" in outcome.stdout


def test_symlink_out_of_dip_home_is_not_followed(harness, sim):
    dip_home = sim.state.dip_home
    links = [p for p in dip_home.rglob("*") if p.is_symlink()]
    assert links, "the sample DIP_HOME has a symlink pointing outside"
    outside = [l for l in links if not l.resolve().is_relative_to(dip_home.resolve())]
    assert outside
    outcome = harness.run_step("capacity-report", {})
    behind = sum(du_bytes(l.resolve()) for l in outside)
    assert behind > 0
    assert outcome.variables["nodeops_capacity_report_dip_home_disk_bytes"] <= du_bytes(dip_home) + 8192


def test_small_filesystem_is_a_finding(harness):
    html = harness.run_macro("capacity-report", {"min_disk_gb": 10 ** 9}).result
    assert "smaller than 1,000,000,000 GB (931,322,575 GiB)" in html
    html = harness.run_macro("capacity-report", {"min_disk_gb": 0}).result
    assert "smaller than" not in html


def test_dss_refuses_non_admin_and_so_does_the_code(harness):
    with pytest.raises(DSSRefused):
        harness.run_macro("capacity-report", {}, user="alice")
    # Even if DSS let it through, the code checks again.
    outcome = harness.run_macro("capacity-report", {}, user="alice", enforce_dss_permissions=False)
    assert not outcome.ok
    assert outcome.error.startswith("permission denied: node-ops macros require a DSS administrator")
    step = harness.run_step("capacity-report", {}, user="alice")
    assert not step.ok
    assert "permission denied" in step.error_message and step.variables == {}


def test_bad_parameter_is_refused_before_anything_happens(harness, sim):
    before = len(sim.hits)
    outcome = harness.run_macro("capacity-report", {"top_n": 0, "min_disk_gb": "lots"})
    assert not outcome.ok
    assert "'top_n' must be an integer from 1 to 1000, got 0" in outcome.error
    assert "'min_disk_gb' must be an integer from 0 to 1000000000, got 'lots'" in outcome.error
    # identification only: no other API call
    assert all(h.path.endswith(("/auth/info", "/admin/groups/administrators")) for h in sim.hits[before:])


def test_api_down_means_a_clear_refusal(harness, sim):
    with sim.refusing_connections():
        outcome = harness.run_macro("capacity-report", {})
    assert not outcome.ok
    assert "could not be reached" in outcome.error


def _cli(*args, env=None):
    return nodeops_cli.run(*args, extra_env=env)


def test_cli_on_dip_home_writes_json_and_html(sim, tmp_path):
    out = _cli("capacity-report", "--dip-home", str(sim.state.dip_home), "--format", "json", "--top-n", "2")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["operation"] == "capacity-report"
    assert len(report["tables"][1]["rows"]) == 2
    html = tmp_path / "r.html"
    out = _cli("capacity-report", "--dip-home", str(sim.state.dip_home), "--format", "html", "--out", str(html))
    assert out.returncode == 0 and html.read_text().startswith("<!DOCTYPE html>")


def test_cli_against_url_checks_the_key_owner(sim):
    ok = _cli("capacity-report", "--dip-home", str(sim.state.dip_home), "--url", sim.url, "--api-key", sim.api_key("admin"))
    assert ok.returncode == 0, ok.stderr
    refused = _cli("capacity-report", "--dip-home", str(sim.state.dip_home), "--url", sim.url,
                   "--api-key", sim.api_key("alice"))
    assert refused.returncode == 2
    assert "permission denied" in refused.stderr and "alice" in refused.stderr
    bad = _cli("capacity-report", "--dip-home", str(sim.state.dip_home), "--top-n", "x")
    assert bad.returncode == 2 and "'top_n' must be an integer" in bad.stderr


def test_cli_refuses_a_folder_that_is_not_a_data_dir(tmp_path):
    out = _cli("capacity-report", "--dip-home", str(tmp_path))
    assert out.returncode == 2 and "does not look like a DSS data directory" in out.stderr


MATH_NAMES = (r"$\undefinedmacro$", "$x^2$ and $y$", "cost $5", r"back\slash \$")


def test_dollar_signs_in_folder_names_are_drawn_literally(new_instance, start_sim):
    """Chart labels never go through matplotlib's mathtext: a folder named like TeX math
    neither breaks the report (macro and step) nor is drawn as math."""
    from dssbench.harness import Harness

    dip_home, model = new_instance()
    for i, name in enumerate(MATH_NAMES):  # orphan project folders: labels of the "by project" chart
        (dip_home / "managed_datasets" / name).mkdir(parents=True)
        (dip_home / "managed_datasets" / name / "data").write_bytes(b"x" * (1 << (16 + i)))
    h = Harness(start_sim(dip_home, model))
    macro = h.run_macro("capacity-report", {"top_n": 1000})
    assert macro.ok, macro.traceback
    svg = macro.result[macro.result.index("<svg"):]
    texts = [_html.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg, re.S)]
    for name in MATH_NAMES:
        assert "%s (orphan)" % name in texts, (name, texts)  # the very characters, not a rendering of them
    step = h.run_step("capacity-report", {})
    assert step.ok, step.stdout + step.stderr


def test_the_default_history_never_follows_a_symlinked_folder_out_of_dip_home(new_instance, tmp_path):
    dip_home, _ = new_instance()
    outside = tmp_path / "outside"
    outside.mkdir()
    (dip_home / "local").mkdir(exist_ok=True)
    (dip_home / "local" / "node-ops").symlink_to(outside)  # planted by whoever can write DIP_HOME
    out = _cli("capacity-report", "--dip-home", str(dip_home), "--format", "json")
    assert out.returncode in (0, 1), out.stderr
    report = json.loads(out.stdout)
    assert list(outside.iterdir()) == []
    assert any("history" in e and "not a real folder" in e for e in report["errors"]), report["errors"]
    (dip_home / "local" / "node-ops").unlink()
    out = _cli("capacity-report", "--dip-home", str(dip_home), "--format", "json")
    assert out.returncode == 0 and list((dip_home / "local" / "node-ops" / "history").glob("capacity-*.csv"))


def _figures(report):
    return {f.key: f for f in report.summary}


def test_usable_size_is_shown_beside_the_filesystem_size_and_the_figures_add_up(harness, sim):
    """Used + available is the usable size, what the share used (as df's Use%) and the 90% line are
    computed on; the HTML shows it beside the filesystem's size, in binary units, exact in the title."""
    from nodeops import render

    html = harness.run_macro("capacity-report", {"history": False}).result
    report = render.report_from_html(html)
    fig = _figures(report)
    usable = fig["fs_usable_bytes"].value
    assert usable == fig["fs_used_bytes"].value + fig["fs_free_bytes"].value <= fig["fs_size_bytes"].value
    assert abs(fig["fs_used_percent"].value - 100.0 * fig["fs_used_bytes"].value / usable) <= 0.05
    df = subprocess.run(["df", "-B1", "--output=size,used,avail", str(sim.state.dip_home)], capture_output=True,
                        text=True, check=True).stdout.split("\n")[1].split()
    assert int(df[0]) == fig["fs_size_bytes"].value
    assert abs(int(df[1]) + int(df[2]) - usable) <= 64 * 1024 ** 2  # df ran a moment later
    body = html.split("</style>", 1)[1]
    shown = re.search(r'<div class="nodeops-figure" data-key="fs_usable_bytes" title="([\d,]+) bytes">\s*'
                      r'<span class="nodeops-figure-value">([^<]+)</span>', body)
    assert shown and int(shown.group(1).replace(",", "")) == usable
    assert shown.group(2) == render.format_bytes(usable) and re.search(r" (KiB|MiB|GiB|TiB)$", shown.group(2))
    assert body.index('data-key="fs_size_bytes"') < body.index('data-key="fs_usable_bytes"')
    # the headline (before the findings and the detail) has the share used, what is available and DIP_HOME
    headline = body.split('class="nodeops-figures nodeops-headline"')[1].split("</section>")[0]
    for key in ("fs_used_percent", "fs_free_bytes", "dip_home_disk_bytes"):
        assert 'data-key="%s"' % key in headline
    assert not re.search(r">\s*\d{6,}\s*<", body)  # no raw byte count shown anywhere


@pytest.mark.parametrize("share, title", [
    (0.7, None),
    (0.9, "The Java heaps can commit more than 80% of the host's RAM"),
    (1.2, "The Java heaps can commit more memory than the host has"),
])
def test_heap_worst_case_above_80_percent_of_ram_is_a_finding(new_instance, start_sim, share, title):
    """heaps.RAM_SHARE_LIMIT: the worst case of the Java heaps (backend + 1 activity's JEK + 1 FEK,
    no hproxy running) above 80% of the RAM is a WARN, above the RAM itself too, with its share."""
    import psutil

    from dssbench.datadir import small_spec
    from dssbench.harness import Harness
    from nodeops import render

    ram = psutil.virtual_memory().total
    backend_mib = int(share * ram / 1024 ** 2) - 2 * 1024
    spec = small_spec()
    spec["java"] = {"backend.xmx": "%dm" % backend_mib, "jek.xmx": "1g", "fek.xmx": "1g"}
    spec["general_settings"] = {"maxRunningActivities": 1}
    dip_home, model = new_instance(spec)
    html = Harness(start_sim(dip_home, model)).run_macro("capacity-report", {"history": False}).result
    report = render.report_from_html(html)
    worst = _figures(report)["heap_worst_case_bytes"].value
    assert worst == (backend_mib + 2 * 1024) * 1024 ** 2
    assert _figures(report)["heap_worst_case_percent"].value == round(100.0 * worst / ram, 1)
    found = [f for f in report.findings if f.id == "heap.commitment"]
    if title is None:
        assert found == [] and 'data-id="heap.commitment"' not in html
        return
    (f,) = found
    assert f.severity == "WARN" and f.title == title
    assert "%.0f%% of the RAM (%s)" % (100.0 * worst / ram, render.format_bytes(ram)) in f.evidence
    assert re.search(r'<li class="nodeops-finding nodeops-sev-warn" data-id="heap.commitment"><span '
                     r'class="nodeops-badge nodeops-badge-warn">WARN</span> <strong>%s</strong>' % re.escape(title),
                     _html.unescape(html))


def _reclaimable(report):
    return {row["switch"]: row for row in next(t for t in report["tables"] if t["key"] == "reclaimable")["rows"]}


def test_reclaimable_figures_name_the_reclaim_disk_switches_from_the_scan_alone(new_instance):
    """Data of deleted projects (every project-keyed folder of an orphan key), pre-migration
    backups at the root and diagnosis files, in bytes on disk as du counts them; upper bounds
    said where reclaim-disk's rule also has an age; the API-only families named with the way to
    see them. The scan is the only source: the CLI runs without an API."""
    from dssbench.datadir import small_spec

    spec = small_spec()
    spec["orphan_projects"] = spec["orphan_projects"] + [{"key": "GONE_PROJ", "jobs": 4, "scenario_runs": 3}]
    dip_home, model = new_instance(spec)
    assert sorted(model["fixtures"]["orphan_projects"]) == ["GONE_PROJ", "OLD_POC"]
    backup = dip_home / "_pre_migration_backup_20240105-101500"
    (backup / "config").mkdir(parents=True)
    (backup / "config" / "general-settings.json").write_bytes(b"{}" * 30000)
    (dip_home / "diagnosis" / "diag-1").mkdir(parents=True)
    (dip_home / "diagnosis" / "diag-1" / "bundle.zip").write_bytes(b"z" * 70000)
    (dip_home / "diagnosis" / "loose.txt").write_bytes(b"t" * 5000)

    out = _cli("capacity-report", "--dip-home", str(dip_home), "--format", "json", "--history", "false")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    rows = _reclaimable(report)
    assert set(rows) == {"deleted_projects_data", "pre_migration_backups", "diagnosis",
                         "saved_model_versions, ml_unused_splits"}

    orphan_folders = [dip_home / top / key for key in ("GONE_PROJ", "OLD_POC") for top in ("jobs", "scenarios")]
    # the builder's data of OLD_POC in the other project-keyed folders (jupyter-run's per-project
    # working directories sit one level deeper than the scan's breakdown: reclaim-disk finds those)
    written = model["fixtures"]["orphan_data"]
    assert "GONE_PROJ" not in written
    orphan_folders += [dip_home / w["path"] for w in written["OLD_POC"].values() if w["path"].count("/") == 1]
    assert {p.parent.name for p in orphan_folders} >= {"saved_models", "analysis-data", "managed_datasets",
                                                       "managed_folders"}
    assert all(p.is_dir() for p in orphan_folders)
    # nothing else of these keys in the project-keyed folders: their du is the whole of it
    assert not [p for top in ("saved_models", "analysis-data", "managed_datasets", "managed_folders")
                for p in (dip_home / top).glob("*")
                if p.name.split(".")[0] in ("GONE_PROJ", "OLD_POC") and p not in orphan_folders]
    deleted = rows["deleted_projects_data"]
    assert deleted["disk_bytes"] == sum(du_bytes(p) for p in orphan_folders) > 0
    assert "2 deleted project(s): " in deleted["what"] and "GONE_PROJ" in deleted["what"] and "OLD_POC" in deleted["what"]
    for project in spec["projects"]:
        assert project["key"] not in deleted["what"]

    backups = [backup] + [dip_home / b["path"] for b in model["fixtures"]["pre_migration_backups"]]
    assert len(backups) == len(spec["pre_migration_backups"]) + 1 and all(b.is_dir() for b in backups)
    assert model["fixtures"]["diagnosis"], "the builder's diagnosis files count too"
    assert rows["pre_migration_backups"]["disk_bytes"] == sum(du_bytes(b) for b in backups)
    assert "%d _pre_migration_backup_*" % len(backups) in rows["pre_migration_backups"]["what"]
    diagnosis = rows["diagnosis"]["disk_bytes"]
    assert diagnosis == du_bytes(dip_home / "diagnosis") - os.lstat(dip_home / "diagnosis").st_blocks * 512
    for switch in ("pre_migration_backups", "diagnosis"):
        assert rows[switch]["how_sure"].startswith("upper bound") and "retention_days" in rows[switch]["how_sure"]
    assert rows["saved_model_versions, ml_unused_splits"]["disk_bytes"] is None
    line = ("run reclaim-disk in dry run (macro or step) to see what saved_model_versions and ml_unused_splits "
            "would free")
    assert line in rows["saved_model_versions, ml_unused_splits"]["how_sure"]
    assert any(line in n for n in report["notes"])
    figures = {f["key"]: f["value"] for f in report["summary"]}
    assert figures["reclaimable_deleted_projects_data_bytes"] == deleted["disk_bytes"]
    assert figures["reclaimable_pre_migration_backups_bytes"] == sum(du_bytes(b) for b in backups)
    assert figures["reclaimable_diagnosis_bytes"] == diagnosis

    # what is gone is no longer counted; with config/projects unreadable, no project is called deleted
    import shutil

    shutil.rmtree(dip_home / "jobs" / "GONE_PROJ")
    shutil.rmtree(dip_home / "scenarios" / "GONE_PROJ")
    out = _cli("capacity-report", "--dip-home", str(dip_home), "--format", "json", "--history", "false")
    rows = _reclaimable(json.loads(out.stdout))
    assert rows["deleted_projects_data"]["disk_bytes"] == sum(du_bytes(p) for p in orphan_folders if p.exists())
    assert "GONE_PROJ" not in rows["deleted_projects_data"]["what"]
    projects = dip_home / "config" / "projects"
    projects.rename(dip_home / "config" / "projects.away")
    projects.write_text("not a folder")
    out = _cli("capacity-report", "--dip-home", str(dip_home), "--format", "json", "--history", "false")
    report = json.loads(out.stdout)
    rows = _reclaimable(report)
    assert rows["deleted_projects_data"]["disk_bytes"] is None
    assert rows["deleted_projects_data"]["how_sure"].startswith("unknown: config/projects could not be listed")
    assert "reclaimable_deleted_projects_data_bytes" not in {f["key"] for f in report["summary"]}


def test_reclaimable_leaves_out_data_an_existing_project_keeps_at_a_custom_path(new_instance):
    """A dataset whose "path in connection" is ARCHIVE_2023/orders keeps its data in
    managed_datasets/ARCHIVE_2023: not a deleted project's (reclaim-disk keeps it too); a
    dataset configuration that cannot be read makes the figure unknown, not a guess."""
    dip_home, model = new_instance()
    key = model["projects"][0]["projectKey"]
    archive = dip_home / "managed_datasets" / "ARCHIVE_2023" / "orders"
    archive.mkdir(parents=True)
    (archive / "part-0.csv").write_bytes(b"o" * 90000)

    def deleted_row():
        out = _cli("capacity-report", "--dip-home", str(dip_home), "--format", "json", "--history", "false")
        assert out.returncode == 0, out.stderr
        return _reclaimable(json.loads(out.stdout))["deleted_projects_data"]

    counted = deleted_row()
    assert "ARCHIVE_2023" in counted["what"]  # nothing says it is a project's yet
    (dip_home / "config" / "projects" / key / "datasets" / "orders.json").write_text(json.dumps(
        {"type": "Filesystem", "name": "orders", "params": {"connection": "filesystem_managed",
                                                            "path": "ARCHIVE_2023/orders"}}))
    row = deleted_row()
    assert "ARCHIVE_2023" not in row["what"]
    out = _cli("capacity-report", "--dip-home", str(dip_home), "--format", "json", "--history", "false")
    assert "ARCHIVE_2023 (a project's data at a custom path)" in out.stdout
    assert "ARCHIVE_2023 (orphan)" not in out.stdout
    assert row["disk_bytes"] == counted["disk_bytes"] - du_bytes(dip_home / "managed_datasets" / "ARCHIVE_2023")
    (dip_home / "config" / "projects" / key / "datasets" / "broken.json").write_text("{")
    row = deleted_row()
    assert row["disk_bytes"] is None
    assert row["how_sure"] == "unknown: config/projects/%s/datasets/broken.json is not JSON: where the data it " \
                              "describes lives is unknown" % key
