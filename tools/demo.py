"""make demo: build a sample DSS data directory, start the DSS simulator, run every
node-ops macro as DSS would, and write each HTML report to demo-out/."""

import argparse
import html
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "python-lib")]

from dssbench.datadir import build_datadir, small_spec  # noqa: E402
from dssbench.harness import Harness  # noqa: E402
from dssbench.simulator import DSSSimulator  # noqa: E402
from nodeops import history  # noqa: E402

#: The project the macros run from: the administration project of the sample instance.
ADMIN_PROJECT = "ADMINPROJECT"

PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>node-ops demo: %s</title></head>
<body style="margin:20px">%s</body></html>
"""


def macro_ids():
    return sorted(p.name for p in (ROOT / "python-runnables").iterdir() if (p / "runnable.json").is_file())


def result_table_html(table):
    """A RESULT_TABLE macro's result as DSS's page draws it: the column names, then the records
    (KIT runnable-result.html; its "Download (HTML)" writes the same table)."""
    head = "".join("<th>%s</th>" % html.escape(c["displayName"]) for c in table["columns"])
    rows = "".join("<tr>%s</tr>" % "".join("<td>%s</td>" % html.escape("" if v is None else str(v)) for v in r)
                   for r in table["records"])
    return "<h3>%s</h3><table><tr>%s</tr>%s</table>" % (html.escape(table.get("name") or ""), head, rows)


def demo_config(macro_id, out):
    """Every macro runs with its defaults, except what has no default."""
    if macro_id == "backup":
        return {"target_dir": str(out / "backups")}  # a backup of config/, outside the sample DIP_HOME
    return {}


def seed_capacity_history(sim, harness):
    """Run the capacity step once (it creates the history folder), then add six weeks of
    SYNTHETIC earlier snapshots (the same figures, growing linearly) so that the
    report shows a trend; real history builds up one run at a time."""
    from dataikuapi import DSSClient

    step = harness.run_step("capacity-report", {}, project_key=ADMIN_PROJECT)
    if not step.ok:
        raise SystemExit("capacity step failed: %s" % step.stdout[-2000:])
    store = history.FolderStore(DSSClient(sim.url, sim.api_key("admin")), ADMIN_PROJECT, create=False)
    now = int(time.time() * 1000)
    last = history.load(store, now)[-1]
    week, grow = 7 * history.DAY_MS, 0.03
    for n in range(6, 0, -1):
        f = 1.0 / (1.0 + grow * n)
        past = history.Snapshot(last.epoch_ms - n * week, fs_size=last.fs_size, fs_used=int(last.fs_used * f),
                                fs_free=last.fs_size - int(last.fs_used * f), dip_home=int(last.dip_home * f),
                                folders={k: int(v * f) for k, v in last.folders.items()},
                                projects={k: int(v * f) for k, v in last.projects.items()})
        history.append(store, past)
    print("capacity history: 1 real snapshot and 6 synthetic weekly ones in %s" % store.where)


def setup_admin_project(harness):
    """Set the administration project up for real (its report above is the dry run), twice in a row
    against the simulator, which normalises what it stores as DSS does: print the first run's
    summary, then what the second says (nothing to change)."""
    import re

    config = {"dry_run": False, "alert_email": "ops@example.com"}
    runs = []
    for _ in range(2):
        outcome = harness.run_macro("setup-admin-project", config, user="admin", project_key=ADMIN_PROJECT)
        if not outcome.ok:
            print("  setup-admin-project FAILED: %s" % outcome.error)
            return 1
        runs.append(re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td></tr>", outcome.result))
    print("administration project set up:")
    for target, action, reason in runs[0]:
        print("  %-42s %-12s %s" % (html.unescape(target), html.unescape(action), html.unescape(reason)))
    changed = [html.unescape(t) for t, a, _ in runs[1] if a in ("create", "update", "activate")]
    note = re.search(r"Nothing to change[^<]*", outcome.result)
    if changed or note is None:
        print("  setup-admin-project run again FAILED to find the project up to date: it changed %s"
              % ", ".join(changed))
        return 1
    print("administration project set up again: %s" % html.unescape(note.group(0)))
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="demo-out")
    args = parser.parse_args(argv)
    out = Path(args.out)
    if not out.is_absolute():
        out = ROOT / out
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    dip_home = out / "dss_data"
    started = time.time()
    model = build_datadir(small_spec(), dip_home)
    print("sample DSS data directory: %s (%d projects)" % (dip_home, len(list((dip_home / "config" / "projects").iterdir()))))
    failures = 0
    with DSSSimulator(dip_home, model, plugins={"node-ops": ROOT}, dss_processes=True) as sim:
        print("DSS simulator listening on %s" % sim.url)
        harness = Harness(sim, ROOT)
        seed_capacity_history(sim, harness)
        for macro_id in macro_ids():  # every macro with its defaults (the destructive ones dry-run)
            outcome = harness.run_macro(macro_id, demo_config(macro_id, out), user="admin", project_key=ADMIN_PROJECT)
            if not outcome.ok:
                failures += 1
                print("  %-24s FAILED: %s" % (macro_id, outcome.error))
                continue
            target = out / ("%s.html" % macro_id)
            body = (outcome.result if outcome.result_kind == "str" else result_table_html(outcome.result)
                    if outcome.result_kind == "result_table" else "<pre>%s</pre>" % html.escape(str(outcome.result)))
            target.write_text(PAGE % (macro_id, body), encoding="utf-8")
            print("  %-24s -> %s" % (macro_id, target.relative_to(ROOT) if target.is_relative_to(ROOT) else target))
        failures += setup_admin_project(harness)
        health = harness.run_step("health-check", {}, project_key=ADMIN_PROJECT)
        print("health-check step: %s" % ("passed" if health.ok else "FAILED (the scenario would alert): "
                                            + str(health.error_message)))
    print("done in %.1f s; open the files above in a browser." % (time.time() - started))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
