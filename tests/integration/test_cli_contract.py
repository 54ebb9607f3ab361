"""The command line's contract, through the real ``python -m nodeops`` in its own
process: exit codes (0 success, 1 ran with errors, 2 refused before doing
anything), ``--help`` for every operation, ``--out`` checked before anything
happens, and no call to a DSS API that never answers waits for ever."""

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from dssbench import cli as nodeops_cli
from dssbench import smallfs
from dssbench.harness import run_macro_process, run_step_process
from nodeops import operations

OPS = sorted(operations.OPERATIONS)
TIMEOUT_S = 1.0  # the API timeout the tests give node-ops (NODEOPS_API_TIMEOUT)


def cli(*args, env=None):
    return nodeops_cli.run(*args, extra_env=env)


def _required(op_id, tmp):
    """Values for the mandatory parameters of an operation."""
    return {"backup": ["--target-dir", str(tmp / "backups")],
            "backup-verify": ["--archive", str(tmp / "a.tar.gz")],
            "backup-restore": ["--archive", str(tmp / "a.tar.gz"), "--into", str(tmp / "into")]}.get(op_id, [])


# ---- --help -------------------------------------------------------------------------------------
def test_help_works_for_every_operation():
    procs = {op: subprocess.Popen([sys.executable, "-m", "nodeops", op, "--help"], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, env=nodeops_cli.env()) for op in OPS}
    for op, proc in procs.items():
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, (op, err)
        assert "usage: python -m nodeops %s" % op in out and "Traceback" not in err
        for p in operations.get(op).params:
            assert "--" + p.name.replace("_", "-") in out, (op, p.name)
    health = subprocess.run([sys.executable, "-m", "nodeops", "health-check", "--help"], capture_output=True,
                            text=True, env=nodeops_cli.env()).stdout
    assert "inodes than this (%) are used" in " ".join(health.split())  # a '%' survives argparse


# ---- exit codes ---------------------------------------------------------------------------------
def test_exit_0_on_success_and_1_when_the_operation_ran_and_reported_errors(sim):
    dip_home = str(sim.state.dip_home)
    ok = cli("capacity-report", "--dip-home", dip_home, "--history", "false")
    assert ok.returncode == 0, ok.stderr
    breach = cli("health-check", "--dip-home", dip_home, "--check-api", "false",
                 "--min-memory-available-percent", "100")
    assert breach.returncode == 1, breach.stderr
    assert "node-ops: Health check: 1 breach(es): memory available (%)" in breach.stderr


@pytest.mark.parametrize("case", ["bad parameter", "huge integer", "not an administrator", "not a data directory",
                                  "API unreachable", "no client where one is needed", "--url without --api-key"])
def test_exit_2_when_refused_before_doing_anything(sim, tmp_path, case):
    dip_home = str(sim.state.dip_home)
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    dead_url = "http://127.0.0.1:%d" % closed.getsockname()[1]  # bound, not listening: connection refused
    args, message = {
        "bad parameter": (["capacity-report", "--dip-home", dip_home, "--top-n=--5"], "'top_n' must be an integer"),
        "huge integer": (["purge-job-logs", "--dip-home", dip_home, "--retention-days", "9" * 5000],
                         "'retention_days' must be an integer from 0 to 36500, got '99999"),
        "not an administrator": (["capacity-report", "--dip-home", dip_home, "--url", sim.url, "--api-key",
                                  sim.api_key("alice")], "permission denied"),
        "not a data directory": (["capacity-report", "--dip-home", str(tmp_path)],
                                 "does not look like a DSS data directory"),
        "API unreachable": (["capacity-report", "--dip-home", dip_home, "--url", dead_url, "--api-key", "k"],
                            "could not be reached"),
        "no client where one is needed": (["cull-kernels", "--dip-home", dip_home], "no DSS API client"),
        "--url without --api-key": (["cull-kernels", "--url", sim.url], "'--api-key' (or $DKU_API_KEY) is required"),
    }[case]
    try:
        out = cli(*args, env={"DKU_API_KEY": ""})
    finally:
        closed.close()
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert message in out.stderr and "Traceback" not in out.stderr and out.stdout == ""


def test_a_huge_retention_is_refused_and_the_purge_deletes_nothing(new_instance, tmp_path):
    dip_home, _ = new_instance()
    before = sorted(os.listdir(dip_home / "exports"))
    assert before
    for huge in (str(10 ** 400), "1e400", "٣٠"):
        refused = cli("purge-exports", "--dip-home", dip_home, "--retention-days", huge, "--dry-run", "false")
        assert refused.returncode == 2 and "'retention_days' must be an integer from 0 to 36500" in refused.stderr
        assert "Traceback" not in refused.stderr  # timedelta(days=10**400) would raise OverflowError
        assert sorted(os.listdir(dip_home / "exports")) == before


# ---- --out ----------------------------------------------------------------------------------------
def test_out_is_checked_before_anything_is_deleted(new_instance, tmp_path):
    dip_home, _ = new_instance()
    before = sorted(os.listdir(dip_home / "exports"))
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    for out, message in ((a_file / "report.json", "is not a folder"), (tmp_path, "is a folder, not a file")):
        refused = cli("purge-exports", "--dip-home", dip_home, "--retention-days", "0", "--dry-run", "false",
                      "--format", "json", "--out", out)
        assert refused.returncode == 2 and "'--out' %s" % out in refused.stderr and message in refused.stderr
        assert sorted(os.listdir(dip_home / "exports")) == before  # nothing deleted
    new = tmp_path / "new" / "sub" / "report.json"  # a missing folder is created
    done = cli("purge-exports", "--dip-home", dip_home, "--retention-days", "0", "--dry-run", "false",
               "--format", "json", "--out", new)
    assert done.returncode == 0, done.stderr
    assert '"operation": "purge-exports"' in new.read_text() and os.listdir(dip_home / "exports") != before


def test_out_never_writes_through_a_link_or_into_a_special_file(sim, tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    out = tmp_path / "report.txt"
    out.symlink_to(victim)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for target in (out, fifo):
        refused = cli("capacity-report", "--dip-home", sim.state.dip_home, "--history", "false", "--out", target)
        assert refused.returncode == 2 and "is a link or a special file" in refused.stderr, refused.stderr
    assert victim.read_text() == "precious\n" and out.is_symlink()


def test_out_is_renamed_into_place_so_a_link_planted_after_the_check_is_replaced(sim, tmp_path):
    from nodeops import cli as nodeops_cli_module
    from nodeops.report import Report

    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    out = tmp_path / "report.txt"
    out.symlink_to(victim)  # planted between the check and the write
    nodeops_cli_module._write(Report("op", "A report", 0), "text", str(out))
    assert victim.read_text() == "precious\n"
    assert not out.is_symlink() and out.read_text().startswith("A report")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.txt", "victim"]  # no temporary file left


@contextlib.contextmanager
def _full_filesystem(where):
    with smallfs.tmpfs(where, size="64k", inodes=None):
        fd = os.open(str(where / "filler"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * 4096)
        finally:
            os.close(fd)
        yield where


def test_a_report_that_cannot_be_written_goes_to_stdout_and_the_exit_code_says_so(sim, tmp_path):
    with _full_filesystem(tmp_path / "full") as full:
        out = full / "report.json"
        done = cli("capacity-report", "--dip-home", sim.state.dip_home, "--history", "false", "--format", "json",
                   "--out", out)
        assert done.returncode == 1, done.stderr
        assert "the report could not be written to %s" % out in done.stderr and "Traceback" not in done.stderr
        assert '"operation": "capacity-report"' in done.stdout
        assert sorted(os.listdir(full)) == ["filler"]  # no temporary file left


# ---- never hang ---------------------------------------------------------------------------------------
@contextlib.contextmanager
def silent_backend():
    """A TCP listener on 127.0.0.1 that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held, stop = [], threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                held.append(server.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield "http://127.0.0.1:%d" % server.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        for c in held:
            c.close()
        server.close()


def _finish(procs, deadline):
    """{name: (stdout, stderr, exit code or "hung")}: the processes still running at ``deadline`` are killed."""
    results = {}
    for name, proc in procs.items():
        try:
            results[name] = proc.communicate(timeout=max(0.1, deadline - time.monotonic())) + (proc.returncode,)
        except subprocess.TimeoutExpired:
            proc.kill()
            results[name] = proc.communicate() + ("hung",)
    return results


def test_no_operation_waits_for_ever_on_a_backend_that_never_answers(sim, tmp_path):
    """The very first call (who is the user?) times out: a clear refusal, a breach for health-check."""
    dip_home = str(sim.state.dip_home)
    with silent_backend() as url:
        started = time.monotonic()
        procs = {op: subprocess.Popen([sys.executable, "-m", "nodeops", op, "--dip-home", dip_home, "--url", url,
                                       "--api-key", "k"] + _required(op, tmp_path),
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                      env=nodeops_cli.env({"NODEOPS_API_TIMEOUT": str(TIMEOUT_S)}))
                 for op in OPS}
        results = _finish(procs, started + 30)
        elapsed = time.monotonic() - started
    for op, (stdout, stderr, code) in results.items():
        assert "Traceback" not in stderr, (op, stderr)
        if op == "health-check":
            assert code == 1 and "backend API reachable: no" in stderr and "did not answer in time" in stdout, \
                (stdout, stderr)
        else:
            assert code == 2 and "did not answer in time (asked who the current user is)" in stderr, (op, code, stderr)
    assert elapsed < 30, elapsed  # 12 processes in parallel, each bounded by about one timeout


def test_a_backend_that_stalls_after_answering_who_the_user_is_is_no_hang_either(start_sim, new_instance, tmp_path):
    dip_home, model = new_instance()
    sim = start_sim(dip_home, model)
    sim.inject(r"^(?!.*(/auth/info|/admin/groups/)).*$", status=None, delay=TIMEOUT_S + 2)
    env = {"NODEOPS_API_TIMEOUT": str(TIMEOUT_S)}
    ops = ("purge-job-logs", "cull-kernels", "config-audit", "setup-admin-project", "collect-metrics", "health-check")
    procs = {}
    for op in ops:
        args = ["--dip-home", str(dip_home), "--url", sim.url, "--api-key", sim.api_key("admin"), "--format", "json"]
        args += ["--history", "false"] if op == "collect-metrics" else []
        procs[op] = subprocess.Popen([sys.executable, "-m", "nodeops", op] + args, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=nodeops_cli.env(env))
    started = time.monotonic()
    for op, (stdout, stderr, code) in _finish(procs, started + 30).items():
        assert "Traceback" not in stderr, (op, stderr)
        assert code in (1, 2) and "did not answer in time" in stdout + stderr, (op, code, stdout, stderr)
    assert time.monotonic() - started < 15  # one timeout, then no more waiting on that DSS


def test_inside_dss_the_first_call_times_out_too(sim, tmp_path, monkeypatch):
    """The client from dataiku.api_client() gets the timeout before it identifies the user."""
    monkeypatch.setenv("NODEOPS_API_TIMEOUT", str(TIMEOUT_S))
    with silent_backend() as url:
        started = time.monotonic()
        step = run_step_process(nodeops_cli.PYTHON_LIB.parent, "health-check", "ADMIN", {}, url, "ticket",
                                sim.state.dip_home, timeout=20)  # raises TimeoutExpired on a hang
        macro = run_macro_process(nodeops_cli.PYTHON_LIB.parent, "capacity-report", "ADMIN", {}, {}, url, "ticket",
                                  sim.state.dip_home, timeout=20)
        elapsed = time.monotonic() - started
    assert not step.ok and "backend API reachable: no" in step.error_message, step.stderr[-2000:]
    assert not macro.ok and "did not answer in time" in macro.error, macro.error
    assert elapsed < 30


# ---- the transport adapter: a timeout on every call, retries only for idempotent GETs ---------------------
def test_gets_are_retried_on_502_503_504_and_writes_never(sim):
    from nodeops import dssapi
    from nodeops.errors import Unavailable

    client = dssapi.connect(sim.url, sim.api_key("admin"), timeout=TIMEOUT_S)
    assert dssapi.timeout_of(client) == TIMEOUT_S
    try:
        sim.inject(r"/projects/$", status=503, method="GET", times=1)
        sim.inject(r"/projects/$", status=502, method="GET", times=1)
        before = len(sim.hits)
        assert dssapi.project_keys(client)  # two proxy errors, then the answer
        assert [h.path.endswith("/projects/") for h in sim.hits[before:]] == [True, True, True]
        sim.inject(r"/admin/users/$", status=504, method="POST", times=1)
        before = len(sim.hits)
        with pytest.raises(Unavailable, match="504|Injected fault"):
            dssapi.call("creating a user", client.create_user, "bob", "secret")
        assert len(sim.hits) - before == 1  # a write is never sent twice
    finally:
        sim.clear_faults()
    dssapi.set_timeout(client, 30)  # a lower timeout is never raised by a later, looser one
    assert dssapi.timeout_of(client) == TIMEOUT_S


def test_after_one_timeout_a_run_stops_waiting_on_that_dss():
    from nodeops import dssapi
    from nodeops.errors import Unavailable

    with silent_backend() as url:
        client = dssapi.connect(url, "k", timeout=TIMEOUT_S)
        started = time.monotonic()
        with pytest.raises(Unavailable, match="did not answer in time"):
            dssapi.project_keys(client)
        assert TIMEOUT_S <= time.monotonic() - started < TIMEOUT_S + 2
        started = time.monotonic()
        for _ in range(5):
            with pytest.raises(Unavailable, match=r"not sent: an earlier call \(GET /dip/publicapi/projects/\)"):
                dssapi.enabled_user_count(client)
        assert time.monotonic() - started < 0.5


@contextlib.contextmanager
def backend_answering(body_iter, length=None):
    """A backend whose every answer is a 200 with a JSON body written from ``body_iter()`` (with a
    Content-Length when ``length`` is given, else until the connection closes)."""
    import http.server

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1" if length is not None else "HTTP/1.0"

        def log_message(self, *a):
            pass

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            if length is not None:
                self.send_header("Content-Length", str(length))
            self.end_headers()
            with contextlib.suppress(OSError):
                for chunk in body_iter():
                    self.wfile.write(chunk)
                    self.wfile.flush()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield "http://127.0.0.1:%d" % server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def trickle():
    yield b"["
    for _ in range(200):  # a byte every 0.2 s: each read is well within the timeout, for 40 s
        time.sleep(0.2)
        yield b" "


@pytest.mark.parametrize("length", [None, 10 ** 6], ids=["until-close", "content-length"])
def test_an_answer_that_trickles_times_out_like_a_silent_one(length):
    from nodeops import dssapi
    from nodeops.errors import Unavailable

    with backend_answering(trickle, length) as url:
        client = dssapi.connect(url, "k", timeout=TIMEOUT_S)
        started = time.monotonic()
        with pytest.raises(Unavailable, match=r"did not answer in time .*still coming after 1 s"):
            dssapi.project_keys(client)
        assert TIMEOUT_S <= time.monotonic() - started < TIMEOUT_S + 2


def test_a_large_answer_that_comes_at_once_is_read_whole():
    """The deadline only cuts an answer still coming at the timeout: 20 MB sent at once is read."""
    from nodeops import dssapi

    items = [{"projectKey": "P%06d" % i, "name": "x" * 150} for i in range(100000)]
    body = json.dumps(items).encode()
    assert len(body) > 15 * 10 ** 6
    with backend_answering(lambda: iter([body]), len(body)) as url:
        client = dssapi.connect(url, "k", timeout=TIMEOUT_S * 5)
        assert len(dssapi.project_keys(client)) == 100000
