"""Real filesystems of known size for the tests.

Small ones for the tests that need a full disk or a mount point of their own: a size- and
inode-limited tmpfs, or an ext4 image on a loop device. Each is mounted for the duration of a
``with`` block and unmounted after it; where mounting is not allowed (not root, no loop device,
a container without the capability) the test is skipped with the reason.

A roomy one for everything else (:func:`mount_roomy`): the suite's temporary folders, so
that the audit's and health check's disk findings about the test DIP_HOMEs say what the
tests built, never how full the machine's own disk happens to be."""

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


#: Where the test DIP_HOMEs outside pytest's folders (the User Isolation ones) are made: the
#: roomy filesystem's mount point when the suite mounted it, else unset (then /tmp).
TEST_TMP_ENV = "NODEOPS_TEST_TMP"

#: The roomy filesystem: 1 TiB (above the audit's 500 GB advice) and 16 Mi inodes. A tmpfs
#: reserves nothing: only what the tests write uses memory.
ROOMY_SIZE, ROOMY_INODES = "1t", 16 << 20


def mount_roomy(mnt):
    """Mount the roomy tmpfs at ``mnt`` (0755: the end user of the User Isolation tests crosses
    it). Returns None, or why it could not be mounted (the caller then stays on the host disk)."""
    options = "size=%s,nr_inodes=%d,mode=0755" % (ROOMY_SIZE, ROOMY_INODES)
    try:
        out = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mnt)], capture_output=True,
                             text=True)
    except OSError as e:
        return str(e)
    if out.returncode != 0:
        return out.stderr.strip() or "mount exited %d" % out.returncode
    return None


def umount_roomy(mnt):
    _umount(mnt)
