"""Kernel culling end to end: the cull-kernels macro and step as DSS runs them,
against the simulator, whose sessions are real kernel processes. Each rule and
each protection has a test that fails without it."""

import json

import pytest

from dssbench import cli as nodeops_cli
from dssbench.datadir import small_spec
from dssbench.harness import DSSRefused, Harness

MIB = 1024 * 1024

#: notebook name -> (project, session spec). One session per notebook, so a
#: notebook name names a session in the assertions below.
SESSIONS = {
    "idle_old": ("SALES_ANALYTICS", {"owner": "alice", "memory_mb": 30, "state": "idle", "idle_hours": 50,
                                     "age_hours": 60}),
    "idle_recent_old_session": ("SALES_ANALYTICS", {"owner": "alice", "memory_mb": 10, "state": "idle",
                                                    "idle_hours": 2, "age_hours": 300}),
    "busy_long": ("SALES_ANALYTICS", {"owner": "bob", "memory_mb": 10, "state": "busy", "idle_hours": 30,
                                      "age_hours": 400}),
    "busy_short": ("SALES_ANALYTICS", {"owner": "bob", "memory_mb": 10, "state": "busy", "idle_hours": 1,
                                       "age_hours": 400}),
    "connected": ("SALES_ANALYTICS", {"owner": "bob", "memory_mb": 10, "state": "idle", "idle_hours": 40,
                                      "age_hours": 41, "connections": 1}),
    "big": ("CHURN_MODEL", {"owner": "carol", "memory_mb": 60, "children_mb": [40], "state": "idle",
                            "idle_hours": 1, "age_hours": 2}),
    "in_container": ("CHURN_MODEL", {"owner": "carol", "memory_mb": 120, "container": True, "state": "idle",
                                     "idle_hours": 1, "age_hours": 2}),
    "exempt_user": ("CHURN_MODEL", {"owner": "user001", "memory_mb": 10, "state": "idle", "idle_hours": 100,
                                    "age_hours": 100}),
    "exempt_project": ("MARKETING_DASH", {"owner": "alice", "memory_mb": 10, "state": "idle", "idle_hours": 100,
                                          "age_hours": 100}),
}


def cull_spec(dss_version=None):
    spec = small_spec()
    if dss_version:
        spec["dss_version"] = dss_version
    for p in spec["projects"]:
        p["notebooks"] = [{"name": name, "sessions": [sess]} for name, (key, sess) in SESSIONS.items()
                          if key == p["key"]]
    return spec


class Instance:
    def __init__(self, dip_home, model, sim):
        self.dip_home, self.model, self.sim = dip_home, model, sim
        self.h = Harness(sim)
        self.kernels = {}  # notebook name -> simulator Kernel (kept: the simulator forgets unloaded ones)
        for key, nbs in model["notebooks"].items():
            for nb in nbs:
                for s in nb["sessions"]:
                    self.kernels[nb["name"]] = sim.state.kernels[s["sessionId"]]

    def alive(self):
        return {name for name, k in self.kernels.items() if k.alive()}


@pytest.fixture
def make(new_instance, start_sim):
    def build(dss_version=None):
        dip_home, model = new_instance(cull_spec(dss_version))
        return Instance(dip_home, model, start_sim(dip_home, model))
    return build


@pytest.fixture
def inst(make):
    return make()


def killed(inst):
    """Notebook names whose kernel process is gone."""
    return set(SESSIONS) - inst.alive()


def run(inst, config):
    """A real (not dry) run of the step."""
    return inst.h.run_step("cull-kernels", dict(config, dry_run=False))


def test_dry_run_is_the_default_and_kills_nothing(inst):
    out = inst.h.run_macro("cull-kernels", {})
    assert out.ok, out.traceback
    assert inst.alive() == set(SESSIONS)
    assert "dry run: nothing was changed" in out.result
    assert "would kill" in out.result
    # Default rules (idle > 24 h, busy and connected protected): the idle ones without exemption.
    assert out.result.count(">would kill<") == 3  # idle_old, exempt_user, exempt_project
    assert not [h for h in inst.sim.hits if h.method == "DELETE"]
    for name in SESSIONS:  # one row per session
        assert out.result.count(">%s<" % name) == 1


def test_idle_rule_kills_only_idle_kernels_past_the_limit_and_frees_their_memory(inst):
    step = run(inst, {"exempt_users": ["user001"], "exempt_projects": ["MARKETING_DASH"]})
    assert step.ok, step.stdout
    assert killed(inst) == {"idle_old"}
    v = step.variables
    assert v["nodeops_cull_kernels_killed"] == 1
    # RSS of a 30 MiB kernel: its buffer plus the interpreter, as psutil measured it before the kill.
    assert 30 * MIB < v["nodeops_cull_kernels_memory_freed_bytes"] < 60 * MIB


def test_age_rule(inst):
    step = run(inst, {"max_idle_hours": 0, "max_age_hours": 200})
    assert step.ok, step.stdout
    # idle_recent_old_session is old; busy_long and busy_short are old but busy (protected).
    assert killed(inst) == {"idle_recent_old_session"}


def test_memory_rule_counts_children_and_ignores_what_is_not_a_local_kernel(inst):
    step = run(inst, {"max_idle_hours": 0, "max_memory_mb": 80})
    assert step.ok, step.stdout
    # big: 60 MiB + a 40 MiB child. in_container reports the PID of a 120 MiB process that
    # is not its kernel: unknown memory, never killed on the memory rule.
    assert killed(inst) == {"big"}
    assert step.variables["nodeops_cull_kernels_memory_freed_bytes"] > 100 * MIB
    assert step.variables["nodeops_cull_kernels_unknown_memory"] == 1


def test_a_containerized_kernel_has_unknown_memory_not_its_forwarders(inst):
    """The session's local PID is the kernel's forwarder, a real process whose command line is the
    one DSS gives it (KIT remote_kernel.py) and names the kernel's connection file: its 120 MiB are
    the forwarder's, never the kernel's memory."""
    import psutil

    (session,) = [s for nb in inst.model["notebooks"]["CHURN_MODEL"] if nb["name"] == "in_container"
                  for s in nb["sessions"]]
    cmdline = psutil.Process(inst.kernels["in_container"].pid).cmdline()
    assert cmdline[1:4] == ["-m", "dataiku.notebook.remote_kernel_forwarder", "--remote-type"]
    assert cmdline[-2] == "--connection-file"
    assert cmdline[-1].endswith("/jupyter-run/jupyter/runtime/kernel-%s.json" % session["kernelId"])
    out = nodeops_cli.run("cull-kernels", "--format", "json", "--url", inst.sim.url, "--api-key",
                          inst.sim.api_key("admin"), "--max-idle-hours", "0", "--max-memory-mb", "50")
    assert out.returncode == 0, out.stderr
    (sessions,) = [t for t in json.loads(out.stdout)["tables"] if t["key"] == "sessions"]
    rows = {r["notebook"]: r for r in sessions["rows"]}
    forwarder = inst.kernels["in_container"].pid
    assert rows["in_container"]["rss"] is None and rows["in_container"]["decision"] == "keep"
    assert rows["in_container"]["memory_note"] == "kernel in a container (PID %d is its local forwarder)" % forwarder
    assert rows["big"]["decision"] == "would kill" and rows["big"]["memory_note"] == ""
    step = inst.h.run_step("cull-kernels", {"max_idle_hours": 0, "max_memory_mb": 50})
    assert step.ok, step.stdout
    assert step.variables["nodeops_cull_kernels_unknown_memory"] == 1
    html = inst.h.run_macro("cull-kernels", {"max_idle_hours": 0, "max_memory_mb": 50}).result
    assert "kernel in a container" in html


def test_busy_kernels_are_protected_until_max_busy_hours(inst, make):
    step = run(inst, {"max_idle_hours": 0, "max_age_hours": 200, "max_busy_hours": 24})
    assert step.ok, step.stdout
    # busy_long has been busy 30 h (> 24 h): no longer protected; busy_short 1 h: protected.
    assert killed(inst) == {"idle_recent_old_session", "busy_long"}
    other = make()
    step = run(other, {"max_idle_hours": 0, "max_age_hours": 200, "protect_busy": False})
    assert step.ok, step.stdout
    assert killed(other) == {"idle_recent_old_session", "busy_long", "busy_short"}


def test_connected_kernels_are_protected_unless_told(inst):
    step = run(inst, {"protect_connected": False, "exempt_users": ["user001"], "exempt_projects": ["MARKETING_DASH"]})
    assert step.ok, step.stdout
    assert killed(inst) == {"idle_old", "connected"}


def test_exempt_users_and_projects_are_never_touched(inst):
    step = run(inst, {"max_idle_hours": 0.001, "protect_busy": False, "protect_connected": False,
                      "exempt_users": "user001,carol", "exempt_projects": ["MARKETING_DASH"]})
    assert step.ok, step.stdout
    assert inst.alive() == {"exempt_user", "exempt_project", "big", "in_container", "busy_long", "busy_short"}


def test_api_down_kills_nothing_and_says_why(inst):
    inst.sim.inject(r"/admin/notebooks/$|/jupyter-notebooks/", status=500)
    step = run(inst, {"max_idle_hours": 0.001, "protect_busy": False, "protect_connected": False})
    assert not step.ok
    assert "nothing was killed" in step.stdout
    assert inst.alive() == set(SESSIONS)
    with inst.sim.refusing_connections():
        step = run(inst, {"max_idle_hours": 0.001})
    assert not step.ok and inst.alive() == set(SESSIONS)


def test_failed_unload_is_reported_and_the_process_left_alone(inst):
    inst.sim.inject(r"/projects/SALES_ANALYTICS/notebooks/$", status=500, method="DELETE")
    step = run(inst, {"exempt_users": ["user001"], "exempt_projects": ["MARKETING_DASH"]})
    assert not step.ok
    assert "idle_old" in step.stdout and "unload failed" in step.stdout
    assert inst.alive() == set(SESSIONS)  # node-ops never signals a kernel itself
    assert step.variables["nodeops_cull_kernels_killed"] == 0


def test_instance_wide_list_then_one_call_per_unload(inst):
    step = run(inst, {"exempt_users": ["user001"], "exempt_projects": ["MARKETING_DASH"]})
    assert step.ok, step.stdout
    calls = [h for h in inst.sim.hits if h.login is not None]
    lists = [h for h in calls if h.method == "GET" and h.path.endswith("/admin/notebooks/")]
    unloads = [h for h in calls if h.method == "DELETE"]
    assert len(lists) == 1 and len(unloads) == 1
    assert unloads[0].path.endswith("/projects/SALES_ANALYTICS/notebooks/")
    notebooks = sum(len(nbs) for nbs in inst.model["notebooks"].values())
    assert len(calls) <= notebooks + len(unloads) + 3


def test_per_project_notebook_api_when_the_instance_wide_list_is_refused(inst):
    inst.sim.inject(r"/admin/notebooks/$", status=404, method="GET")
    step = run(inst, {"exempt_users": ["user001"], "exempt_projects": ["MARKETING_DASH"]})
    assert step.ok, step.stdout
    assert killed(inst) == {"idle_old"}
    unloads = [h for h in inst.sim.hits if h.method == "DELETE"]
    assert [u.path.rsplit("/", 3)[-3:-1] for u in unloads] == [["idle_old", "sessions"]]
    assert any("/jupyter-notebooks/" in h.path for h in inst.sim.hits if h.method == "GET")


def test_dss_8_without_the_per_project_api(make):
    inst = make("8.0.5")
    step = run(inst, {"exempt_users": ["user001"], "exempt_projects": ["MARKETING_DASH"]})
    assert step.ok, step.stdout
    assert killed(inst) == {"idle_old"}
    assert not [h for h in inst.sim.hits if "/jupyter-notebooks/" in h.path]


def test_non_admin_is_refused_by_dss_and_by_the_code(inst):
    with pytest.raises(DSSRefused):
        inst.h.run_macro("cull-kernels", {"dry_run": False}, user="alice")
    out = inst.h.run_macro("cull-kernels", {"dry_run": False, "max_idle_hours": 0.001}, user="alice",
                           enforce_dss_permissions=False)
    assert not out.ok and "permission denied: node-ops macros require a DSS administrator" in out.error
    assert inst.alive() == set(SESSIONS)


@pytest.mark.parametrize("config,message", [
    ({"max_idle_hours": -1}, "'max_idle_hours' must be a number from 0 to 876000"),
    ({"max_memory_mb": "lots"}, "'max_memory_mb' must be an integer from 0 to 1073741824"),
    ({"exempt_projects": 3}, "'exempt_projects' must be a list of project keys"),
])
def test_bad_parameters_are_refused_before_anything_happens(inst, config, message):
    out = inst.h.run_macro("cull-kernels", dict(config, dry_run=False))
    assert not out.ok and message in out.error
    assert not [h for h in inst.sim.hits if "notebooks" in h.path]
    assert inst.alive() == set(SESSIONS)


# ---- what the cull report says (issue 15) ------------------------------------------------------
def _report(out):
    from nodeops.render import report_from_html

    assert out.ok, out.traceback
    return report_from_html(out.result)


def test_kills_come_first_then_the_largest_and_a_per_user_summary(inst):
    report = _report(inst.h.run_macro("cull-kernels", {"max_idle_hours": 0, "max_memory_mb": 50,
                                                        "exempt_users": ["user001"]}))
    rows = report.table("sessions").rows
    assert [r["notebook"] for r in rows][:1] == ["big"]  # the one would-kill: over 50 MiB
    kills = [i for i, r in enumerate(rows) if r["decision"] == "would kill"]
    assert kills == list(range(len(kills)))  # every would-kill before every keep
    kept = [r["rss"] for r in rows[len(kills):]]
    known = [m for m in kept if m is not None]
    assert known == sorted(known, reverse=True) and kept[len(known):] == [None] * (len(kept) - len(known))
    users = {u["owner"]: u for u in report.table("users").rows}
    assert set(users) == {"alice", "bob", "carol", "user001"}
    for owner, u in users.items():
        mine = [r for r in rows if r["owner"] == owner]
        assert u["sessions"] == len(mine)
        assert u["memory"] == sum(r["rss"] or 0 for r in mine)
        assert u["kills"] == len([r for r in mine if r["decision"] == "would kill"])
    assert users["carol"]["kills"] == 1 and [u["owner"] for u in report.table("users").rows][0] == "carol"
    assert [c.label for c in report.table("users").columns][-1] == "Would kill"


def test_more_than_200_sessions_list_the_first_200_and_count_the_rest(new_instance, start_sim):
    spec = small_spec()
    for p in spec["projects"]:
        p["notebooks"] = []
    spec["projects"][0]["notebooks"] = [
        {"name": "nb%03d" % i, "sessions": [{"owner": "alice" if i % 2 else "bob", "memory_mb": 1, "state": "idle",
                                             "idle_hours": 50 if i < 5 else 1, "age_hours": 60}]}
        for i in range(230)]
    dip_home, model = new_instance(spec)
    sim = start_sim(dip_home, model, start_kernels=False)
    report = _report(Harness(sim).run_macro("cull-kernels", {}))
    table = report.table("sessions")
    assert len(table.rows) == 200 and table.title.endswith("(the first 200 of 230)")
    assert [r["decision"] for r in table.rows[:5]] == ["would kill"] * 5
    assert "30 more session(s) not listed, 0 of them would be killed: see the per-user table" in report.notes
    users = {u["owner"]: u for u in report.table("users").rows}
    assert users["alice"]["sessions"] + users["bob"]["sessions"] == 230  # the summary counts them all
    assert users["alice"]["kills"] + users["bob"]["kills"] == 5


def test_the_table_macro_returns_every_session_and_what_was_done(inst):
    out = inst.h.run_macro("cull-kernels-table", {"exempt_users": ["user001"], "exempt_projects": ["MARKETING_DASH"],
                                                   "dry_run": False})
    assert out.ok, out.traceback
    assert out.result_kind == "result_table"
    names = [c["name"] for c in out.result["columns"]]
    assert names[:2] == ["outcome", "project"] and "rss_exact" in names
    records = [dict(zip(names, r)) for r in out.result["records"]]
    assert {r["notebook"] for r in records} == set(SESSIONS)
    assert [r["notebook"] for r in records if r["outcome"] == "killed"] == ["idle_old"]
    assert records[0]["notebook"] == "idle_old" and killed(inst) == {"idle_old"}
    assert all(r["outcome"] == r["decision"] for r in records)
