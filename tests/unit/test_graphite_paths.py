"""Graphite paths: two different metrics never share one, whatever their label values."""

import itertools

from nodeops.monitoring import Metric, graphite_paths

MOUNTS = ["/var/lib", "/var_lib", "/var.lib", "/", "/root", "dip_home", "/dip_home", "/srv", "/data/été", "/data/_t_"]


def disk(mount, name="host.disk_used_bytes"):
    return Metric(name, 1, "bytes", {"mount": mount})


def test_clashing_mounts_get_distinct_stable_paths_and_the_others_keep_theirs():
    metrics = [disk(m) for m in MOUNTS] + [disk(m, "host.disk_free_bytes") for m in MOUNTS] + [Metric("dss.projects", 3)]
    paths = graphite_paths(metrics)
    assert len(set(paths)) == len(metrics)
    assert paths[MOUNTS.index("/srv")] == "host.disk_used_bytes.srv" and paths[-1] == "dss.projects"
    assert all(p.startswith("host.disk_used_bytes.var_lib_") for p in paths[:3])
    # stable: the same metric gets the same path whatever the order of the others
    by_metric = dict(zip((m.name + m.labels.get("mount", "") for m in metrics), paths))
    for order in itertools.islice(itertools.permutations(range(len(metrics))), 0, 200, 37):
        shuffled = [metrics[i] for i in order]
        again = dict(zip((m.name + m.labels.get("mount", "") for m in shuffled), graphite_paths(shuffled)))
        assert again == by_metric


def test_a_hashed_path_that_clashes_with_a_real_name_grows():
    first = graphite_paths([disk("/a.b"), disk("/a_b")])
    planted = first[0].rsplit(".", 1)[1]  # a mount literally named like the hashed path
    paths = graphite_paths([disk("/a.b"), disk("/a_b"), disk("/" + planted)])
    assert len(set(paths)) == 3
