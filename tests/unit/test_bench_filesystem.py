"""The suite's temporary folders are on the roomy filesystem when it could be mounted: the disk
findings about the test DIP_HOMEs must follow what the tests built, not the machine's disk."""

import os

import pytest

from dssbench import smallfs


def test_temporary_folders_are_on_the_roomy_filesystem(tmp_path):
    mnt = os.environ.get(smallfs.TEST_TMP_ENV)
    if not mnt:
        pytest.skip("the roomy tmpfs could not be mounted (see the warning of the run)")
    st = os.statvfs(str(tmp_path))
    assert os.stat(str(tmp_path)).st_dev == os.stat(mnt).st_dev
    assert st.f_blocks * st.f_frsize == 1 << 40
    assert st.f_files == smallfs.ROOMY_INODES
