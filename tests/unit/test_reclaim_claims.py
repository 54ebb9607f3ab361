"""Where existing projects keep data (nodeops.reclaim.claimed_names), as properties: whatever a
dataset's "path in connection" says, with variables DSS fills in, the folder its data lands in
is claimed (never taken for a deleted project's), and a name no path can produce is not."""

import json
import os
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from nodeops.reclaim import claimed_names

KEY = "SALES"
LITERAL = st.text("ABCXYZabc019_-.", min_size=1, max_size=6)
VARIABLE = st.sampled_from(["${projectKey}", "${datasetName}", "${odbId}", "${env:ZONE}"])


def claims_for(root, path):
    """claimed_names of a DIP_HOME whose project SALES has one dataset (connection ``c``, root
    ``root``, path in connection ``path``)."""
    with tempfile.TemporaryDirectory() as d:
        home = Path(d)
        (home / "config" / "projects" / KEY / "datasets").mkdir(parents=True)
        (home / "config" / "connections.json").write_text(json.dumps(
            {"connections": {"c": {"type": "Filesystem", "params": {"root": root}}}}))
        (home / "config" / "projects" / KEY / "datasets" / "d.json").write_text(json.dumps(
            {"params": {"connection": "c", "path": path}}))
        fd = os.open(str(home / "config" / "projects"), os.O_RDONLY | os.O_DIRECTORY)
        try:
            claims, why = claimed_names(home, fd)
        finally:
            os.close(fd)
        assert why is None
        return claims


@settings(max_examples=150, deadline=None)
@given(parts=st.lists(st.one_of(LITERAL, VARIABLE), min_size=1, max_size=4),
       fills=st.lists(st.text("abcDEF0123_", min_size=0, max_size=8), min_size=4, max_size=4),
       rest=st.lists(LITERAL, max_size=2))
def test_the_folder_a_dataset_s_path_lands_in_is_claimed(parts, fills, rest):
    first = "".join(parts)
    claims = claims_for("${dip.home}/managed_datasets", "/".join([first] + rest))
    fill = iter(fills)
    name = "".join(KEY if p == "${projectKey}" else next(fill) if p.startswith("${") else p for p in parts)
    if name in ("", ".", "..") or "/" in name:
        return
    assert any(c.fullmatch(name) for c, _ in claims.get(("managed_datasets",), ())), (first, name)
    assert ("jobs",) not in claims  # a placed connection claims its own folder only


@settings(max_examples=80, deadline=None)
@given(literal=LITERAL.filter(lambda x: x not in (".", "..")), other=LITERAL)
def test_a_literal_path_claims_that_name_only(literal, other):
    claims = claims_for("${dip.home}/managed_datasets", literal + "/data")
    patterns = claims[("managed_datasets",)]
    assert any(c.fullmatch(literal) for c, _ in patterns)
    if other != literal:
        assert not any(c.fullmatch(other) for c, _ in patterns)


def test_a_connection_outside_dip_home_claims_nothing_and_an_unplaceable_one_claims_everywhere():
    assert claims_for("/data/elsewhere", "ARCHIVE/x") == {}
    everywhere = claims_for("${env:DATA_ROOT}/managed", "ARCHIVE/x")
    assert {k[-1] for k in everywhere} == {"managed_datasets", "managed_folders", "saved_models", "analysis-data",
                                           "dku-workdirs", "jobs", "scenarios"}
    inside = claims_for("${dip.home}/managed_folders/SHARED", "${projectKey}/x")
    assert [c.pattern for c, _ in inside[("managed_folders",)]] == ["SHARED"]
    at_home = claims_for("${dip.home}", "managed_datasets/LEGACY/x")
    assert [c.pattern for c, _ in at_home[("managed_datasets",)]] == ["LEGACY"]
