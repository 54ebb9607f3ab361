"""Property-based test of restore's path checks: for generated member sequences of files,
folders, symbolic links and hard links (odd names, '..', absolute paths, links to outside,
links through links), nothing outside --into ever changes, a refusal leaves --into empty,
and the only exception is a node-ops refusal."""

import hashlib
import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dssbench.archives import craft, member
from nodeops import archives
from nodeops.errors import NodeOpsError

# weighted towards names that pass the simple checks, so that links and what follows them get exercised
COMPONENTS = st.sampled_from(["a", "a", "b", "b", "lnk", "lnk", "lnk", "victim", "caf\udce9", ".", "..", ""])
NAMES = st.builds(lambda lead, parts, trail: lead + "/".join(parts) + trail,
                  st.sampled_from(["", "", "", "", "./", "/"]), st.lists(COMPONENTS, min_size=1, max_size=4),
                  st.sampled_from(["", "", "/", "//"]))
#: OUTSIDE is replaced by the absolute path of a folder next to --into.
LINK_TARGETS = st.one_of(NAMES, st.sampled_from(["OUTSIDE", "OUTSIDE/victim", "/", "..", "../outside", "lnk/victim"]))
MEMBERS = st.lists(st.one_of(
    st.tuples(st.just("file"), NAMES, st.binary(max_size=8)),
    st.tuples(st.just("dir"), NAMES, st.just("")),
    st.tuples(st.just("sym"), NAMES, LINK_TARGETS),
    st.tuples(st.just("link"), NAMES, LINK_TARGETS),
), min_size=1, max_size=8)


def snapshot(base, skip):
    """Every entry below ``base`` but ``skip``, links not followed: its kind, content and link count."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = [d for d in dirnames if os.path.join(dirpath, d) != skip]
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            st_ = os.lstat(full)
            if os.path.islink(full):
                what = ("link", os.readlink(full))
            elif os.path.isfile(full):
                what = ("file", hashlib.sha256(Path(full).read_bytes()).hexdigest())
            else:
                what = ("dir", None)
            out[full] = (what, st_.st_mode, st_.st_nlink)
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(MEMBERS)
def test_nothing_ever_appears_outside_into(members):
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        outside = base / "outside"
        outside.mkdir()
        (outside / "victim").write_bytes(b"precious")
        (base / "a").mkdir()  # a sibling of --into named like a member
        into = base / "work" / "into"
        into.mkdir(parents=True)
        spec = [member(kind, name, arg.replace("OUTSIDE", str(outside)) if isinstance(arg, str) else arg)
                for kind, name, arg in members]
        archive = craft(base / "x.tar.gz", spec)
        before = snapshot(base, str(into))
        try:
            archives.restore(archive, into, dry_run=False)
            refused = False
        except NodeOpsError:
            refused = True
        assert snapshot(base, str(into)) == before
        if refused:
            assert os.listdir(into) == []
        for dirpath, dirnames, filenames in os.walk(into):  # every restored file was created by the restore
            for name in filenames:
                full = os.path.join(dirpath, name)
                if not os.path.islink(full):
                    assert os.lstat(full).st_ino != os.lstat(outside / "victim").st_ino
