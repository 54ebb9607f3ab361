"""The saved-model version rule of reclaim-disk (nodeops.reclaim.plan_versions), as properties:
the active version is never deleted, nor any of the keep_versions newest, nor a recent one, nor
one whose time is unknown; every other version is deleted; a listing that does not say which
version is active deletes nothing."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nodeops import dssapi
from nodeops.reclaim import Unsure, plan_versions

NOW = 1_750_000_000_000
DAY = 86_400_000


@st.composite
def models(draw):
    n = draw(st.integers(min_value=1, max_value=12))
    ids = draw(st.lists(st.text("abcdef0123456789", min_size=1, max_size=6), min_size=n, max_size=n, unique=True))
    active = draw(st.integers(min_value=0, max_value=n - 1))
    versions = []
    for i, vid in enumerate(ids):
        age = draw(st.one_of(st.none(), st.integers(min_value=0, max_value=400)))
        v = {"id": vid, "active": i == active}
        if age is not None:
            v["snippet"] = {"trainInfo": {"endTime": NOW - age * DAY - i}}  # distinct times
        versions.append(v)
    return versions


@settings(max_examples=400, deadline=None)
@given(models(), st.integers(min_value=0, max_value=400), st.integers(min_value=0, max_value=15))
def test_the_rule(versions, retention_days, keep_versions):
    cutoff = NOW - retention_days * DAY
    plan = plan_versions(versions, cutoff, keep_versions)
    doomed = {vid for vid, _ in plan.doomed}
    times = {v["id"]: dssapi.version_time_ms(v) for v in versions}
    active = next(v["id"] for v in versions if v["active"])
    newest = sorted((t, vid) for vid, t in times.items() if t is not None)[::-1][:keep_versions]
    assert active not in doomed and plan.active == active
    assert not doomed & {vid for _, vid in newest}
    assert all(times[vid] is not None and times[vid] < cutoff for vid in doomed)
    # and nothing else is kept: each version is doomed or kept, with a reason that holds
    assert doomed.isdisjoint(plan.kept) and doomed | set(plan.kept) == {v["id"] for v in versions}
    for vid, why in plan.kept.items():
        assert (why == "active" and vid == active) or (why == "unknown_time" and times[vid] is None) or \
            (why == "newest" and vid in {v for _, v in newest}) or (why == "recent" and times[vid] >= cutoff), (vid, why)
    assert [t for _, t in plan.doomed] == sorted((t for _, t in plan.doomed), reverse=True)


@pytest.mark.parametrize("versions", [
    [{"id": "1", "active": False}, {"id": "2", "active": False}],  # none active
    [{"id": "1", "active": True}, {"id": "2", "active": True}],  # two active
    [{"id": "1", "active": True}, {"id": "2"}],  # one does not say
    [{"id": "1", "active": "true"}, {"id": "2", "active": False}],  # not a boolean
    [],
])
def test_a_listing_that_does_not_say_which_is_active_is_unsure(versions):
    with pytest.raises(Unsure):
        plan_versions(versions, NOW, 0)


def test_an_old_version_beyond_the_newest_goes_and_an_unknown_time_stays():
    versions = [{"id": str(NOW - d * DAY), "active": d == 0} for d in (0, 10, 40, 50, 60)] + [{"id": "v1", "active": False}]
    plan = plan_versions(versions, NOW - 30 * DAY, 2)
    assert [vid for vid, _ in plan.doomed] == [str(NOW - 40 * DAY), str(NOW - 50 * DAY), str(NOW - 60 * DAY)]
    assert plan.kept == {str(NOW): "active", str(NOW - 10 * DAY): "newest", "v1": "unknown_time"}
