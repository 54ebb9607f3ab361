"""Real small filesystems for the tests that need a full disk or a mount point of their
own: a size- and inode-limited tmpfs, or an ext4 image on a loop device. Each is
mounted for the duration of a ``with`` block and unmounted after it; where mounting
is not allowed (not root, no loop device, a container without the capability) the
test is skipped with the reason."""

import contextlib
import subprocess

import pytest


def _mount(cmd):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True)
    except OSError as e:
        pytest.skip("mounting not allowed: %s" % e)
    if out.returncode != 0:
        pytest.skip("mounting not allowed: %s" % out.stderr.strip())


def _umount(mnt):
    subprocess.run(["umount", "-l", str(mnt)], check=False, capture_output=True)


@contextlib.contextmanager
def tmpfs(mnt, size="512k", inodes=64, mode=None):
    """A tmpfs of ``size`` bytes (mount syntax: ``512k``, ``1m``) and ``inodes`` inodes at ``mnt``."""
    mnt.mkdir(parents=True, exist_ok=True)
    options = "size=%s" % size + (",nr_inodes=%d" % inodes if inodes else "") + (",mode=%s" % mode if mode else "")
    _mount(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mnt)])
    try:
        yield mnt
    finally:
        _umount(mnt)


@contextlib.contextmanager
def ext4(mnt, image, size_mib=4, inodes=None, journal=True):
    """An ext4 filesystem of ``size_mib`` MiB (``inodes`` inodes when given) in the file
    ``image``, loop-mounted at ``mnt``."""
    with open(image, "wb") as f:
        f.truncate(size_mib << 20)
    cmd = ["mkfs.ext4", "-q", "-F", "-m", "0"] + (["-N", str(inodes)] if inodes else []) + \
        ([] if journal else ["-O", "^has_journal"]) + [str(image)]
    try:
        made = subprocess.run(cmd, capture_output=True, text=True)
    except OSError as e:
        pytest.skip("mkfs.ext4 is not available: %s" % e)
    if made.returncode != 0:
        pytest.skip("mkfs.ext4 is not usable: %s" % made.stderr.strip())
    mnt.mkdir(parents=True, exist_ok=True)
    _mount(["mount", "-o", "loop", str(image), str(mnt)])
    try:
        yield mnt
    finally:
        _umount(mnt)
