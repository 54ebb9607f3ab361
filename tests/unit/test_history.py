"""The capacity history and its forecast, on synthetic histories with a known answer."""

import datetime as dt

import pytest

from nodeops import history

DAY = history.DAY_MS
GIB = 1024 ** 3


def linear(n, start_ms, every_days, used0, per_day, size=1000 * GIB):
    out = []
    for i in range(n):
        t = start_ms + i * every_days * DAY
        used = int(used0 + per_day * i * every_days)
        out.append(history.Snapshot(t, fs_size=size, fs_used=used, fs_free=size - used, dip_home=used // 2,
                                    folders={"jobs": used // 4, "tmp": 5 * GIB}, projects={"A": used // 8}))
    return out


def test_forecast_of_a_linear_history_is_exact():
    now = 1_800_000_000_000
    snaps = linear(8, now - 7 * 7 * DAY, 7, 500 * GIB, 2 * GIB)  # 2 GiB a day, weekly snapshots
    f = history.forecast(snaps, now)
    assert f.enough
    assert f.fs_growth_per_week == pytest.approx(14 * GIB, rel=1e-9)
    assert f.folder_growth_per_week["jobs"] == pytest.approx(3.5 * GIB, rel=1e-6)
    assert f.folder_growth_per_week["tmp"] == pytest.approx(0, abs=1)
    # 90% of 1000 GiB = 900 GiB; the last snapshot (now) holds 500 + 2*49 = 598 GiB: 151 days to go.
    assert (f.full_at_ms - now) / DAY == pytest.approx(151, abs=0.01)


def test_no_forecast_from_too_little_history_or_a_shrinking_disk():
    now = 1_800_000_000_000
    assert not history.forecast(linear(2, now - DAY, 1, 100 * GIB, GIB), now).enough
    assert not history.forecast(linear(5, now - 4 * 3600 * 1000, 0.01, 100 * GIB, GIB), now).enough  # < 1 day
    shrinking = history.forecast(linear(6, now - 5 * DAY, 1, 100 * GIB, -GIB), now)
    assert shrinking.enough and shrinking.full_at_ms is None and shrinking.fs_growth_per_week < 0


def test_growth_too_slow_to_fill_the_disk_in_a_century_is_no_date():
    """A 1 TiB disk almost empty, growing a few KiB a day: 90 % full past the year 9999, which no
    report can print; the forecast has the growth, no date."""
    now = 1_800_000_000_000
    slow = history.forecast(linear(6, now - 5 * DAY, 1, 50 * 2 ** 20, 4096, size=2 ** 40), now)
    assert slow.enough and slow.fs_growth_per_week > 0 and slow.full_at_ms is None
    century = history.forecast(linear(6, now - 5 * DAY, 1, 0, 2 ** 40 * 0.9 / (99 * 365), size=2 ** 40), now)
    assert century.full_at_ms is not None and 98 * 365 < (century.full_at_ms - now) / DAY < 100 * 365


def test_snapshots_round_trip_through_monthly_csv_files(tmp_path):
    store = history.LocalStore(tmp_path / "h")
    now = int(dt.datetime(2026, 11, 25, 6, 0, tzinfo=dt.timezone.utc).timestamp() * 1000)
    snaps = linear(10, now - 63 * DAY, 7, 10 * GIB, GIB)  # from September to November
    for s in snaps:
        history.append(store, s)
    assert sorted(p.name for p in (tmp_path / "h").iterdir()) == [
        "capacity-2026-09.csv", "capacity-2026-10.csv", "capacity-2026-11.csv"]
    loaded = history.load(store, now)
    assert [s.epoch_ms for s in loaded] == [s.epoch_ms for s in snaps if s.epoch_ms >= now - history.TREND_DAYS * DAY]
    assert loaded[-1] == snaps[-1]
    history.append(store, snaps[-1])  # the same run twice: one snapshot
    assert len(history.load(store, now)) == len(loaded)
