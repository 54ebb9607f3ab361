"""collect-metrics' history_days: the daily files older than that go, in a local folder (real files,
descriptor-relative) and in the managed folder (the real client over HTTP); nothing else goes."""

import datetime as dt
import io
import os

from dssbench.datadir import small_spec
from dssbench.harness import Harness
from nodeops import history, monitoring

NOW = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.timezone.utc)
NOW_MS = int(NOW.timestamp() * 1000)


def day_file(days_ago):
    return "metrics-%s.csv" % (NOW.date() - dt.timedelta(days=days_ago)).isoformat()


def test_local_history_keeps_the_last_days_and_nothing_but_daily_files_goes(tmp_path):
    folder = tmp_path / "history"
    folder.mkdir()
    for ago in (0, 1, 35, 36, 40, 400):
        (folder / day_file(ago)).write_text("timestamp,epoch_ms,metric,labels,value\n")
    keep = ["metrics-notes.csv", "metrics-2020-02-30.csv", "capacity-2020-01.csv", "README.txt"]
    for name in keep:
        (folder / name).write_text("mine\n")
    (folder / "metrics-2001-01-01.csv").mkdir()  # a folder with a daily name: left alone
    outside = tmp_path / "precious.csv"
    outside.write_text("not the history's\n")
    os.symlink(str(outside), str(folder / "metrics-2002-01-01.csv"))  # the link goes, never its target

    removed = monitoring.prune_history(history.LocalStore(folder), NOW_MS, 35)

    assert sorted(removed) == sorted([day_file(36), day_file(40), day_file(400), "metrics-2002-01-01.csv"])
    left = set(os.listdir(str(folder)))
    assert left == {day_file(0), day_file(1), day_file(35), "metrics-2001-01-01.csv"} | set(keep)
    assert outside.read_text() == "not the history's\n"


def test_a_missing_local_folder_is_no_error(tmp_path):
    assert monitoring.prune_history(history.LocalStore(tmp_path / "none"), NOW_MS, 35) == []


def test_the_step_prunes_its_managed_folder_through_the_api(new_instance, start_sim):
    from dataikuapi import DSSClient

    dip_home, model = new_instance(small_spec())
    sim = start_sim(dip_home, model)
    h = Harness(sim)
    assert h.run_step("collect-metrics", {}, project_key="ADMINPROJECT").ok  # creates the folder
    project = DSSClient(sim.url, sim.api_key("admin")).get_project("ADMINPROJECT")
    (info,) = [f for f in project.list_managed_folders() if f["name"] == "node_ops_metrics_history"]
    folder = project.get_managed_folder(info["id"])
    today = dt.datetime.now(dt.timezone.utc).date()
    old = ["metrics-%s.csv" % (today - dt.timedelta(days=d)).isoformat() for d in (11, 30)]
    recent = "metrics-%s.csv" % (today - dt.timedelta(days=10)).isoformat()
    for name in old + [recent, "notes.txt"]:
        folder.put_file("/" + name, io.BytesIO(b"timestamp,epoch_ms,metric,labels,value\n"))

    out = h.run_step("collect-metrics", {"history_days": 10}, project_key="ADMINPROJECT")

    assert out.ok
    names = {item["path"] for item in folder.list_contents()["items"]}
    assert names == {"/" + recent, "/notes.txt", "/metrics-%s.csv" % today.isoformat()}
