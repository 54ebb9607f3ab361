"""The pickers of the forms: resource/choices.py run as DSS runs a ``paramsPythonSetup`` script
(the harness: its own process, the stand-in ``dataiku``, an API ticket of the user who opened the
form), answering from the simulator over real HTTP."""

import pytest

from dssbench import harness
from dssbench.datadir import small_spec
from dssbench.harness import Harness, UserIsolation
from dssbench.simulator import DSSSimulator
from nodeops import choices, operations

MACRO, STEP = "python-runnables", "python-steps"
#: Every field that picks from a list, in the form that shows it (the layout test checks the set).
PICKERS = [(MACRO, "purge-job-logs", "projects"), (STEP, "purge-scenario-logs", "projects"),
           (MACRO, "cull-kernels", "exempt_users"), (STEP, "cull-kernels", "exempt_projects"),
           (MACRO, "setup-admin-project", "timezone"), (MACRO, "setup-admin-project", "alert_channel")]


def values(answer):
    assert answer["error"] is None, answer["traceback"]
    items = answer["result"]["choices"]
    assert all(set(c) == {"value", "label"} and c["value"] and c["label"] for c in items), items
    return [c["value"] for c in items]


def message(answer):
    assert answer["error"] is None, answer["traceback"]
    [only] = answer["result"]["choices"]
    assert set(only) == {"label"}, only
    return only["label"]


def test_projects_users_and_mail_channels_come_from_dss(sim, harness):
    projects = sorted(sim.state.project_keys())
    users = sorted(u["login"] for u in sim.state.users_file()["users"])
    assert len(projects) >= 3 and {"admin", "alice", "bob"} <= set(users)
    assert values(harness.field_choices(MACRO, "purge-job-logs", "projects")) == projects
    assert values(harness.field_choices(STEP, "purge-scenario-logs", "projects")) == projects
    assert values(harness.field_choices(MACRO, "cull-kernels", "exempt_projects")) == projects
    assert values(harness.field_choices(STEP, "cull-kernels", "exempt_users")) == users
    assert values(harness.field_choices(MACRO, "setup-admin-project", "alert_channel")) == [
        "mail-smtp", "ops-slack", "ops-teams", "ops-webhook"]
    assert values(harness.field_choices(MACRO, "cull-kernels", "notify_channel")) == ["mail-smtp"]
    labels = {c["value"]: c["label"] for c in
              harness.field_choices(MACRO, "cull-kernels", "exempt_projects")["result"]["choices"]}
    assert labels["ADMINPROJECT"] == "Administration (ADMINPROJECT)"  # the name, then the key


def test_time_zones_are_the_zone_database_after_the_server_zone(harness):
    zones = values(harness.field_choices(MACRO, "setup-admin-project", "timezone"))
    assert zones[0] == "SERVER" and "Europe/Paris" in zones and "UTC" in zones
    assert zones[1:] == sorted(zones[1:]) and len(zones) > 300


def test_what_dss_hands_back_from_a_picker_is_accepted_and_runs(sim, harness):
    """A MULTISELECT gives the list of the chosen values; the macro takes it (and the command line
    the same values comma-separated)."""
    projects = values(harness.field_choices(MACRO, "purge-job-logs", "projects"))
    users = values(harness.field_choices(MACRO, "cull-kernels", "exempt_users"))
    cull = operations.get("cull-kernels").parse({"exempt_users": users[:2], "exempt_projects": projects})
    assert cull.exempt_users == tuple(users[:2]) and cull.exempt_projects == tuple(projects)
    assert operations.get("cull-kernels").parse({"exempt_users": ",".join(users[:2])}).exempt_users == tuple(users[:2])
    out = harness.run_macro("purge-job-logs", {"projects_mode": "INCLUDED", "projects": ["ADMINPROJECT"],
                                               "dry_run": True})
    assert out.ok, out.traceback
    assert "ADMINPROJECT" in out.result


def test_a_list_dss_refuses_or_lacks_is_said_in_the_list(sim, harness, new_instance, start_sim):
    # users: only administrators may list them
    text = message(harness.field_choices(STEP, "cull-kernels", "exempt_users", user="alice"))
    assert text.startswith("node-ops could not list the user logins: the DSS API refused listing users")
    # DSS before 12 cannot list its messaging channels
    old_sim = start_sim(*new_instance(dict(small_spec(), dss_version="11.4.0")), start_kernels=False)
    text = message(Harness(old_sim).field_choices(MACRO, "setup-admin-project", "alert_channel"))
    assert "this DSS cannot list its messaging channels (DSS 12 and later can)" in text


def test_dss_calls_the_script_only_for_declared_pickers(harness):
    with pytest.raises(ValueError, match="declares no field project_key with getChoicesFromPython"):
        harness.field_choices(MACRO, "setup-admin-project", "project_key")
    with pytest.raises(ValueError, match="declares no field fail_severity"):
        harness.field_choices(MACRO, "config-audit", "fail_severity")  # not in the macro's form at all


def test_every_picker_of_every_form_answers(harness):
    declared = sorted((kind, op.id, p.name) for op in operations.OPERATIONS.values()
                      for kind, component in ((MACRO, "macro"), (STEP, "step"))
                      for p in op.declared_params(component) if p.choices_from
                      if (harness.plugin_dir / kind / op.id).is_dir())
    assert set(PICKERS) <= set(declared)
    for kind, op_id, name in declared:
        assert values(harness.field_choices(kind, op_id, name)), (kind, op_id, name)
        assert choices.list_of(name)


@pytest.mark.skipif(harness.isolation_unavailable() is not None, reason=str(harness.isolation_unavailable()))
def test_the_script_answers_under_user_isolation_as_the_end_user():
    iso = UserIsolation()
    dip_home, model = harness.private_dip_home(small_spec(), iso.service)
    sim = DSSSimulator(dip_home, model, plugins={"node-ops": harness.PLUGIN_DIR}, user_isolation=iso).start()
    try:
        h = Harness(sim)
        assert values(h.field_choices(MACRO, "purge-job-logs", "projects")) == sorted(sim.state.project_keys())
        assert values(h.field_choices(STEP, "cull-kernels", "exempt_users"))
    finally:
        sim.stop()
        harness.remove_private_dip_home(dip_home)
