"""Restore and verify against archives whose extraction would fail or cost out of proportion
to their size: every such member is refused by the check pass (nothing written), a non-root
restore of folders without r-x for their owner completes, messages stay short, and an
archive rewritten between the check pass and the extraction pass is noticed and what the
restore wrote is removed."""

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

import pytest

from dssbench import cli as nodeops_cli
from dssbench.archives import IDENTITY, craft, member
from nodeops import archives, backup
from nodeops.errors import NodeOpsError

LIB = os.path.dirname(os.path.dirname(os.path.abspath(backup.__file__)))


def _refused_before_writing(archive, into, why):
    into.mkdir()
    with pytest.raises(NodeOpsError) as e:
        archives.restore(archive, into, dry_run=False)
    assert why in str(e.value) and "nothing was written" in str(e.value), str(e.value)
    assert os.listdir(into) == []
    return str(e.value)


@pytest.mark.parametrize("members, why", [
    ([member("file", "config/a", b"A"), member("file", "config/" + "x" * 256, b"B")],
     "has a name component of 256 bytes"),
    ([member("file", "config/a", b"A"), member("dir", "config/" + "\u00e9" * 128)],  # 256 bytes in UTF-8
     "has a name component of 256 bytes"),
    ([member("file", "config/a", b"A"), member("sym", "config/l", "t/" * 2048)], "whose target has 4096 bytes"),
    ([member("file", "config/a", b"A"), member("sym", "config/l", "")], "a link with an empty target"),
])
def test_what_extraction_would_fail_on_is_refused_by_the_check_pass(tmp_path, members, why):
    archive = craft(tmp_path / "a.tar.gz", [member("dir", "config")] + members)
    problems = archives.verify(archive).problems
    assert any(why in p for p in problems), problems
    message = _refused_before_writing(archive, tmp_path / "into", why)
    assert len(message) < 400 and "..." in message or len(message) < 250  # a long name is shortened


def test_a_non_root_restore_of_a_folder_of_mode_0000_above_a_sub_folder_completes():
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to restore as an unprivileged account")
    top = tempfile.mkdtemp()  # pytest's folders are 0700 to root: the account could not reach them
    try:
        os.chmod(top, 0o777)
        archive = craft(os.path.join(top, "a.tar.gz"), [
            member("dir", "config", mode=0o000), member("dir", "config/sub"), member("dir", "config/sub/ro", mode=0o500),
            member("file", "config/sub/ro/f", b"X", mode=0o000)])
        os.chmod(archive, 0o644)
        into = os.path.join(top, "into")
        # The account may not read this checkout or the venv (a clone in a 0700 folder): it runs a
        # copy of the package, and the restore needs nothing beyond the standard library.
        lib = os.path.join(top, "lib")
        shutil.copytree(os.path.join(LIB, "nodeops"), os.path.join(lib, "nodeops"),
                        ignore=shutil.ignore_patterns("__pycache__"))
        for d, ds, fs in os.walk(lib):
            os.chmod(d, 0o755)
            for n in fs:
                os.chmod(os.path.join(d, n), 0o644)
        script = ("import sys; sys.path.insert(0, %r); from nodeops import archives; "
                  "archives.restore(%r, %r, dry_run=False)" % (lib, archive, into))
        out = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-S",
                              "-c", script], capture_output=True, text=True,
                             env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))
        if "Permission denied" in out.stderr and not os.path.exists(into):
            pytest.skip("the unprivileged account cannot run this Python: %s" % out.stderr.strip()[-200:])
        assert out.returncode == 0, out.stdout + out.stderr
        config = os.path.join(into, "config")
        assert stat_mode(config) == 0o000 and os.stat(config).st_uid == 65534
        os.chmod(config, 0o700)
        assert stat_mode(os.path.join(config, "sub")) == 0o755 and stat_mode(os.path.join(config, "sub", "ro")) == 0o500
        with open(os.path.join(config, "sub", "ro", "f"), "rb") as f:
            assert f.read() == b"X"
    finally:
        for d, ds, _ in os.walk(top):
            for n in ds:
                os.chmod(os.path.join(d, n), 0o700)
        shutil.rmtree(top)


def stat_mode(path):
    return os.stat(path).st_mode & 0o7777


def test_a_huge_manifest_line_is_refused_without_reading_it_whole_and_not_repeated(tmp_path):
    body = json.dumps({"format": "node-ops-manifest", "version": 2}).encode() + b"\n" + b'"' + b"a" * (4 << 20) + b'"\n'
    archive = craft(tmp_path / "bomb.tar.gz", [member("dir", "config")], manifest=body, identity=True)
    out = nodeops_cli.run("backup-verify", "--archive", str(archive))
    assert out.returncode == 2 and "line 2 is longer than 65536 bytes" in out.stderr, out.stderr[:300]
    assert len(out.stderr) < 1000
    # an entry that is not what a manifest holds is shown shortened
    body = json.dumps({"format": "node-ops-manifest", "version": 2}).encode() + b"\n" + \
        json.dumps({"path": "config/a", "junk": "b" * 30000}).encode() + b"\n"
    craft(archive, [member("dir", "config")], manifest=body, identity=True)
    fatal = archives.verify(archive).fatal
    assert "an entry lacks a path, size or sha256" in fatal and len(fatal) < 400


def test_a_same_size_different_content_says_the_sha256_differs(tmp_path):
    lines = [{"format": "node-ops-manifest", "version": 2},
             {"path": "config/a", "size": 3, "sha256": hashlib.sha256(b"abd").hexdigest()}]
    archive = craft(tmp_path / "a.tar.gz", [member("dir", "config"), member("file", "config/a", b"abc")],
                    manifest=b"".join(json.dumps(x).encode() + b"\n" for x in lines), identity=True)
    problems = archives.verify(archive).problems
    assert any("config/a: content differs from the manifest (sha256 %s, expected %s; same size 3)"
               % (hashlib.sha256(b"abc").hexdigest(), hashlib.sha256(b"abd").hexdigest()) in p for p in problems), \
        problems


@pytest.mark.parametrize("fmt", ["pax", "gnu"])
def test_sparse_members_are_refused_without_reading_their_claimed_size(tmp_path, fmt):
    if shutil.which("tar") is None or b"GNU tar" not in subprocess.run(["tar", "--version"],
                                                                      capture_output=True).stdout:
        pytest.skip("needs GNU tar to write a sparse member")
    src = tmp_path / "src"
    (src / "config").mkdir(parents=True)
    (src / IDENTITY).write_text(json.dumps({"format": "node-ops-backup", "version": 2}))
    with open(src / "config" / "big", "wb") as f:
        f.truncate(1 << 40)  # 1 TiB of holes: hashing it would take about 20 minutes
    (src / archives.MANIFEST).write_text('{"format": "node-ops-manifest", "version": 2}\n'
                                       '{"path": "config/big", "size": %d, "sha256": "%s"}\n' % (1 << 40, "0" * 64))
    archive = tmp_path / "a.tar.gz"
    subprocess.run(["tar", "--sparse", "--format=" + fmt, "-czf", str(archive), IDENTITY, "config", "config/big",
                    archives.MANIFEST], cwd=str(src), check=True)
    os.unlink(src / "config" / "big")
    try:  # without the refusal, verify hashes the 1 TiB the member claims
        out = subprocess.run([sys.executable, "-m", "nodeops", "backup-verify", "--archive", str(archive)],
                             capture_output=True, text=True, timeout=15,
                             env=dict(os.environ, PYTHONPATH=LIB, PYTHONDONTWRITEBYTECODE="1"))
    except subprocess.TimeoutExpired:
        pytest.fail("verify of a sparse member claiming 1 TiB still running after 15 s")
    assert out.returncode in (1, 2) and "node-ops never writes sparse members" in out.stdout + out.stderr, out
    _refused_before_writing(archive, tmp_path / "into", "node-ops never writes sparse members")


def test_a_tar_header_block_over_1_mib_is_refused_without_reading_it(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        ident = json.dumps({"format": "node-ops-backup", "version": 2}).encode()
        info = tarfile.TarInfo(IDENTITY)
        info.size = len(ident)
        tf.addfile(info, io.BytesIO(ident))
        info = tarfile.TarInfo("config/" + "y" * (2 << 20))  # a PAX path header of 2 MiB
        info.type = tarfile.DIRTYPE
        tf.addfile(info)
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(gzip.compress(buf.getvalue()))
    problems = archives.verify(archive).problems
    assert any("a tar header block of" in p and "over 1048576" in p for p in problems), [p[:200] for p in problems]


def _fd_offset(pid, path):
    for fd in os.listdir("/proc/%d/fd" % pid):
        if os.readlink("/proc/%d/fd/%s" % (pid, fd)) == path:
            with open("/proc/%d/fdinfo/%s" % (pid, fd)) as f:
                return int(f.readline().split()[1])
    return None


def test_an_archive_rewritten_in_place_between_the_passes_stops_the_restore_and_leaves_nothing(tmp_path):
    """A second process (this one) rewrites the archive in place (same inode) once the restore's
    check pass has read it whole: the extraction pass sees other members, stops, removes what
    it wrote (exit code 1, no traceback)."""
    good = craft(tmp_path / "good.tar.gz", [member("dir", "config")] +
                 [member("file", "config/f%05d" % i, os.urandom(64)) for i in range(6000)]).read_bytes()
    evil = craft(tmp_path / "evil.tar.gz", [member("dir", "config"), member("file", "config/f00000", b"A"),
                                            member("link", "config/hl", "/etc/passwd")]).read_bytes()
    for attempt in range(3):
        archive, into = str(tmp_path / ("a%d.tar.gz" % attempt)), tmp_path / ("into%d" % attempt)
        with open(archive, "wb") as f:
            f.write(good)
        proc = subprocess.Popen([sys.executable, "-m", "nodeops", "backup-restore", "--archive", archive, "--into",
                                 str(into), "--dry-run", "false"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=dict(os.environ, PYTHONPATH=LIB, PYTHONDONTWRITEBYTECODE="1"))
        swapped, deadline = False, time.monotonic() + 10
        while proc.poll() is None and time.monotonic() < deadline and not swapped:
            try:
                if (_fd_offset(proc.pid, archive) or 0) >= len(good):  # the check pass has read it all
                    with open(archive, "r+b") as f:
                        f.write(evil)
                        f.truncate()
                    swapped = True
            except (OSError, ValueError, IndexError):
                pass
        out, err = proc.communicate(timeout=30)
        err = err.decode(errors="replace")
        if not swapped:
            continue
        assert "Traceback" not in err, err
        if proc.returncode == 0:  # the extraction pass had already read the archive: it is the good one
            continue
        assert proc.returncode == 1 and "the archive changed during the restore" in err and \
            "nothing restored" in err, err
        assert os.listdir(into) == []
        return
    pytest.skip("the rewrite never landed between the two passes in 3 tries")
