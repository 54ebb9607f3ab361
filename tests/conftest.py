"""Fixtures of the DSS test bench: a built DATA_DIR, a running simulator, clients, the harness."""

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from dssbench import smallfs
from dssbench.datadir import build_datadir, small_spec
from dssbench.harness import Harness
from dssbench.simulator import DSSSimulator

ROOT = Path(__file__).resolve().parent.parent


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    """Put every temporary folder of the run on the roomy filesystem (before pytest's own
    configure reads ``basetemp``), so that no result depends on how full the machine's disk is.
    Only the controlling process mounts (the xdist workers inherit its basetemp and
    $NODEOPS_TEST_TMP); where it cannot, the run stays on the host disk and a warning says how
    full that is."""
    if hasattr(config, "workerinput") or config.option.basetemp:
        return
    mnt = Path(tempfile.mkdtemp(prefix="nodeops-tests-"))
    why_not = smallfs.mount_roomy(mnt)
    if why_not:
        mnt.rmdir()
        config._nodeops_tmp = (None, why_not)
        st = os.statvfs(tempfile.gettempdir())
        config.issue_config_time_warning(pytest.PytestWarning(
            "test data on the host disk (%.0f%% free): the disk findings of some tests follow it; the roomy tmpfs "
            "could not be mounted: %s" % (100.0 * st.f_bavail / st.f_blocks, why_not)), stacklevel=2)
        return
    config.option.basetemp = str(mnt / "pytest")
    os.environ[smallfs.TEST_TMP_ENV] = str(mnt)
    config._nodeops_tmp = (mnt, None)


def pytest_unconfigure(config):
    mnt = getattr(config, "_nodeops_tmp", (None, None))[0]
    if mnt is not None:
        smallfs.umount_roomy(mnt)
        try:
            os.rmdir(str(mnt))
        except OSError:
            pass


def pytest_report_header(config):
    import dataikuapi  # noqa: F401
    from importlib.metadata import version

    lines = ["dataiku-api-client %s (from %s)" % (version("dataiku-api-client"), Path(dataikuapi.__file__).parent)]
    mnt = getattr(config, "_nodeops_tmp", (None, None))[0]
    if mnt is not None:
        lines.append("test data on a %s tmpfs at %s" % (smallfs.ROOMY_SIZE, mnt))
    return lines


@pytest.fixture(scope="session")
def client_version():
    from importlib.metadata import version

    return version("dataiku-api-client")


@pytest.fixture(scope="session")
def small_instance(tmp_path_factory):
    """A read-only sample DIP_HOME and its runtime model (do not modify; use new_instance for that)."""
    dip_home = tmp_path_factory.mktemp("small") / "dss_data"
    model = build_datadir(small_spec(), dip_home)
    return dip_home, model


@pytest.fixture
def new_instance(tmp_path):
    """Build a fresh DIP_HOME from a spec: new_instance(spec) -> (dip_home, model)."""
    counter = [0]

    def make(spec=None):
        counter[0] += 1
        dip_home = tmp_path / ("dss_data_%d" % counter[0])
        return dip_home, build_datadir(spec or small_spec(), dip_home)

    return make


@pytest.fixture
def start_sim():
    """Start a simulator on an instance: start_sim(dip_home, model, **kw); stopped after the test."""
    started = []

    def start(dip_home, model, **kw):
        kw.setdefault("plugins", {"node-ops": ROOT})
        sim = DSSSimulator(dip_home, model, **kw).start()
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    """A simulator over a fresh small instance, shared by a test module."""
    dip_home = tmp_path_factory.mktemp("sim") / "dss_data"
    model = build_datadir(small_spec(), dip_home)
    s = DSSSimulator(dip_home, model, plugins={"node-ops": ROOT}).start()
    yield s
    s.stop()
    shutil.rmtree(str(dip_home.parent), ignore_errors=True)  # 50 MB a module, kept in memory on the tmpfs


@pytest.fixture
def admin_client(sim):
    from dataikuapi import DSSClient

    return DSSClient(sim.url, sim.api_key("admin"))


@pytest.fixture
def user_client(sim):
    """A client for 'alice', who is not an administrator."""
    from dataikuapi import DSSClient

    return DSSClient(sim.url, sim.api_key("alice"))


@pytest.fixture
def harness(sim):
    return Harness(sim, ROOT)
