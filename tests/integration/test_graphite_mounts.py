"""collect-metrics on a host with two real mount points whose names sanitise alike
(``a.b`` and ``a_b``: loop-mounted ext4 images of different sizes): Graphite receives
two distinct paths per disk metric, each with its own filesystem's figures."""

import contextlib
import os
import socket
import threading

import pytest

from dssbench import smallfs
from dssbench.datadir import small_spec
from dssbench.harness import Harness


@pytest.fixture
def clashing_mounts(tmp_path):
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(smallfs.ext4(tmp_path / "mnt" / name, tmp_path / (name + ".img"), size_mib))
               for name, size_mib in (("a.b", 2), ("a_b", 3))]


def _listen():
    """A one-shot plaintext-protocol receiver: (port, thread, received lines)."""
    server = socket.create_server(("127.0.0.1", 0))
    received = []

    def accept():
        conn, _ = server.accept()
        with conn, conn.makefile("rb") as f:
            received.extend(line.decode("ascii").rstrip("\n") for line in f)
        server.close()

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    return server.getsockname()[1], t, received


def test_two_mounts_that_sanitise_alike_get_two_graphite_paths(new_instance, start_sim, clashing_mounts):
    dip_home, model = new_instance(small_spec())
    h = Harness(start_sim(dip_home, model))
    port, thread, lines = _listen()
    step = h.run_step("collect-metrics", {"graphite_host": "127.0.0.1", "graphite_port": port, "prefix": "t",
                                          "history": False}, project_key="ADMINPROJECT")
    assert step.ok, step.stdout + step.stderr
    thread.join(10)
    paths = [line.split(" ")[0] for line in lines]
    assert len(paths) == len(set(paths)), "a Graphite path received twice"
    free = {p: float(line.split(" ")[1]) for p, line in zip(paths, lines)
            if p.startswith("t.host.disk_free_bytes.") and "_mnt_a_b" in p}
    expected = set()
    for mnt in clashing_mounts:
        st = os.statvfs(str(mnt))
        expected.add(st.f_bavail * st.f_frsize)
    assert len(free) == 2 and set(free.values()) == expected, (free, expected)
