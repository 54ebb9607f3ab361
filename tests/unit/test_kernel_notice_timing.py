"""When a kernel notice says the kernel goes: the first moment the rules cull the session."""

import datetime as dt
from types import SimpleNamespace

from nodeops import culling, kernelnotices


def params(**kw):
    base = dict(max_idle_hours=24, max_age_hours=0, max_memory_mb=0, protect_busy=True, max_busy_hours=0,
                protect_connected=True, exempt_users=(), exempt_projects=())
    return SimpleNamespace(**dict(base, **kw))


def session(state="idle", idle=None, age=None, busy=None, owner="alice", connections=0):
    return culling.Session(project="P", notebook="nb", session_id="s1", kernel_id="k1", owner=owner, state=state,
                           connections=connections, idle_hours=idle, age_hours=age, busy_hours=busy, pid=None,
                           raw={})


def test_the_first_rule_that_applies_gives_the_time():
    found = kernelnotices.eligible_in(session(idle=20, age=90), params(max_age_hours=100), culling.decide, 6)
    assert found[0] == 4 and "idle" in found[1]
    found = kernelnotices.eligible_in(session(idle=10, age=97), params(max_age_hours=100), culling.decide, 6)
    assert found[0] == 3 and "age" in found[1]


def test_no_notice_outside_the_window_when_eligible_already_or_never_culled():
    assert kernelnotices.eligible_in(session(idle=10, age=20), params(), culling.decide, 6) is None
    assert kernelnotices.eligible_in(session(idle=30, age=40), params(), culling.decide, 6) is None
    assert kernelnotices.eligible_in(session(idle=20, age=40), params(), culling.decide, 0) is None
    exempt = params(exempt_users=("alice",))
    assert kernelnotices.eligible_in(session(idle=20, age=40), exempt, culling.decide, 6) is None
    assert kernelnotices.eligible_in(session(idle=20, age=40, connections=1), params(), culling.decide, 6) is None
    # busy and protected with no busy limit: never culled, never told
    assert kernelnotices.eligible_in(session("busy", busy=20, age=40), params(), culling.decide, 6) is None


def test_a_busy_kernel_is_told_when_its_protection_lapses():
    p = params(max_age_hours=30, max_busy_hours=22)  # old already, busy-protected for 2 more hours
    found = kernelnotices.eligible_in(session("busy", busy=20, age=40), p, culling.decide, 6)
    assert found[0] == 2 and "busy" in found[1]


def test_the_message_says_where_when_why_and_how_to_keep_it():
    now = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.timezone.utc)
    subject, body = kernelnotices.message(session(idle=20), 4, "idle 24.0 h > 24 h", now, "ADMIN")
    assert "nb" in subject and "P" in subject
    for words in ("2026-12-03 16:00 UTC", "in 4.0 hours", "idle 24.0 h > 24 h", "use the notebook", "exemption"):
        assert words in body
