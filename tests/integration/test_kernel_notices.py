"""Kernel owners told before their kernels go (cull-kernels warn_hours / notify_channel): real
kernel processes, the real client, mails through the simulator's mail channel send."""

import json

import pytest

from dssbench.datadir import small_spec
from dssbench.harness import Harness

PROJECT = "SALES_ANALYTICS"  # the project the macro runs in: it sends the notices and remembers them
#: notebook -> session. Idle limit 24 h, warned 6 h ahead.
SESSIONS = {
    "soon": {"owner": "alice", "memory_mb": 5, "state": "idle", "idle_hours": 20, "age_hours": 30},
    "later": {"owner": "alice", "memory_mb": 5, "state": "idle", "idle_hours": 10, "age_hours": 30},
    "due": {"owner": "bob", "memory_mb": 5, "state": "idle", "idle_hours": 30, "age_hours": 40},
    "exempt": {"owner": "carol", "memory_mb": 5, "state": "idle", "idle_hours": 21, "age_hours": 30},
    "no_mail": {"owner": "dave", "memory_mb": 5, "state": "idle", "idle_hours": 22, "age_hours": 30},
}
CHANNELS = [{"id": "team-slack", "type": "slack"},
            {"id": "ops-mail", "type": "smtp", "family": "mail", "sender": "dss@example.com"}]
CONFIG = {"max_idle_hours": 24, "warn_hours": 6, "notify_channel": "ops-mail", "exempt_users": ["carol"],
          "exempt_projects": ["MARKETING_DASH"]}


@pytest.fixture
def inst(new_instance, start_sim):
    spec = small_spec()
    for u in spec["users"]:
        if u["login"] == "dave":
            u["email"] = ""  # a user record without an e-mail address
    assert {"alice", "bob", "carol", "dave"} <= {u["login"] for u in spec["users"]}
    spec["messaging_channels"] = CHANNELS
    for p in spec["projects"]:
        p["notebooks"] = [{"name": n, "sessions": [s]} for n, s in SESSIONS.items()] if p["key"] == PROJECT else []
    dip_home, model = new_instance(spec)
    sim = start_sim(dip_home, model)
    return sim, Harness(sim)


def cull(h, **config):
    return h.run_macro("cull-kernels", dict(CONFIG, **config), project_key=PROJECT)


def sent(sim):
    return sim.state.model.get("sent_messages", [])


def session_id(sim, notebook):
    (sid,) = [s["sessionId"] for nb in sim.state.model["notebooks"][PROJECT] for s in nb["sessions"]
              if nb["name"] == notebook]
    return sid


def test_dry_run_sends_nothing_and_says_who_would_be_told(inst):
    sim, h = inst
    out = cull(h)
    assert out.ok, out.traceback
    assert sent(sim) == []
    assert "Owners who would be told" in out.result and ">would tell<" in out.result
    assert out.result.count(">would tell<") == 1  # soon (alice); not later, not due, not the exempt carol
    assert "alice@example.com" in out.result and "carol@example.com" not in out.result


def test_one_notice_per_session_never_to_exempt_users_and_the_due_session_is_culled(inst):
    sim, h = inst
    out = cull(h, dry_run=False)
    assert out.ok, out.traceback
    (mail,) = sent(sim)
    assert mail["to"] == ["alice@example.com"] and mail["channelId"] == "ops-mail" and mail["plainText"] is True
    assert mail["projectKey"] == PROJECT
    assert "soon" in mail["subject"] and PROJECT in mail["subject"]
    for words in ("idle 24.0 h > 24 h", "in 4.0 hours", "use the notebook", "exemption", "UTC"):
        assert words in mail["body"], (words, mail["body"])
    assert ">told<" in out.result
    assert "dave" in out.result and "no e-mail address" in out.result  # told it could not be told
    # bob's session was eligible: culled, not warned
    assert "bob@example.com" not in [a for m in sent(sim) for a in m["to"]]
    assert ">killed<" in out.result
    again = cull(h, dry_run=False)
    assert again.ok, again.traceback
    assert len(sent(sim)) == 1  # never twice for the same session
    assert ">told<" not in again.result
    variables = json.loads((sim.state.projects_dir() / PROJECT / "variables.json").read_text())
    # remembered in the project's variables, only sessions still alive (the culled one is gone)
    assert list(variables["standard"]["node_ops_kernel_notices"]["sessions"]) == [session_id(sim, "soon")]


def test_a_send_failure_is_reported_and_the_cull_proceeds(inst):
    sim, h = inst
    due = sim.state.kernels[session_id(sim, "due")]
    sim.inject(r".*/messaging-channels/.*/actions/send", status=500)
    out = cull(h, dry_run=False)
    assert not due.alive()  # culled all the same
    assert sent(sim) == []
    assert "could not be sent" in (out.error or "") + (out.result or ""), out.error
    assert ">send failed<" in (out.result or "") or "could not be sent" in (out.error or "")
    sim.clear_faults()
    # the due session was unloaded despite the failure, and the notice is tried again next time
    again = cull(h, dry_run=False)
    assert again.ok, again.traceback
    assert [m["to"] for m in sent(sim)] == [["alice@example.com"]]
    assert ">killed<" not in again.result  # the due kernel went the first time


def test_a_notify_channel_that_is_not_a_mail_channel_sends_nothing_and_says_so(inst):
    sim, h = inst
    out = cull(h, dry_run=False, notify_channel="team-slack")
    assert "not a mail channel" in (out.error or "") + (out.result or "")
    assert sent(sim) == []
