"""Every fact about DSS the simulator uses that is NOT verified against a real DSS.

One place, so that the README's "verified against a real DSS / not yet" table
can point here and a real instance can settle each line. Everything else the
simulator does follows ../shared/reference/ (paths, query flags, shapes) or the
dataikuapi 15.2.0 source.
"""

#: errorType of the JSON error body, by HTTP status. Only UnknownObjectException
#: (404) is in the reference; the others are guesses.
ERROR_TYPES = {
    400: "com.dataiku.dip.exceptions.DKUIllegalArgumentException",
    401: "com.dataiku.dip.exceptions.UnauthorizedException",
    403: "com.dataiku.dip.exceptions.UnauthorizedException",
    404: "com.dataiku.dip.exceptions.UnknownObjectException",
    409: "com.dataiku.dip.exceptions.AlreadyExistsException",
    500: "java.lang.IllegalStateException",
}

#: DSS version in which an endpoint appeared on the server side. Requests to a
#: simulated older DSS answer 404, as an older backend would. The client
#: versions are in the reference (section C); that the server gained the
#: endpoint in the same release is an assumption.
ENDPOINT_SINCE = {
    "jobs.running": (15, 2),
    "users.activity": (10, 0),
    "instance.info": (10, 0),
    "jupyter.new_api": (9, 0),
    "dashboards": (12, 0),
    "sanity_check": (11, 4),
}

#: Order of GET /projects/{key}/jobs/ : newest first (unverified).
JOBS_NEWEST_FIRST = True

#: Response body of a session unload (DELETE .../sessions/{id} and the old
#: DELETE /projects/{key}/notebooks/): JSON is required by the client, the
#: content is unknown.
UNLOAD_RESPONSE = {}

#: The shape of config/users.json (users and groups), read for /admin/users/,
#: /admin/groups/ and /auth/info.
USERS_FILE = "config/users.json"

#: Group flag that lets a non-administrator create projects (unverified name).
GROUP_MAY_CREATE_PROJECTS = "mayCreateProjects"

#: The licensing status shape beyond base.{hasLicense,valid,expired}.
LICENSE_EXPIRY_FIELD = "expiresOn"

#: What GET .../runnables/{type}/state/{runId} returns (beyond "running").
MACRO_STATE_FIELDS = ("running", "runId", "hasResult", "exception")

#: Plugin step type string inside a scenario: pystep_<pluginId>_<stepId>.
PLUGIN_STEP_TYPE = "pystep_%s_%s"

#: Type of a managed folder created without one (the client sends ``"type": null``).
MANAGED_FOLDER_DEFAULT_TYPE = "Filesystem"

#: Where DSS keeps the connection files of running kernels, and that a kernel's
#: command line names its own (``... -f <dir>/kernel-<kernelId>.json``, as
#: Jupyter's ipykernel_launcher is started). node-ops uses the kernel ID on the
#: command line to tell a kernel from an unrelated process with the same PID.
KERNEL_RUNTIME_DIR = "jupyter-run/jupyter/runtime"
KERNEL_CMDLINE = "-f <KERNEL_RUNTIME_DIR>/kernel-<kernelId>.json"

#: A kernel running in a container is a local forwarder process,
#: ``python -m dataiku.notebook.remote_kernel_forwarder --remote-type <type> ...
#: --connection-file <runtime>/kernel-<kernelId>.json`` (KIT remote_kernel.py
#: builds that argv; verified), whose PID the session reports. The value of
#: ``--remote-type`` for a containerized kernel is not in the KIT (guess).
FORWARDER_MODULE = "dataiku.notebook.remote_kernel_forwarder"
CONTAINER_REMOTE_TYPE = "container"

#: How a macro run fails when get_progress_target() returns a unit outside
#: SIZE, FILES, RECORDS, NONE or a target that is not a number: the Python side
#: sends it as is (KIT progress_utils.py), the backend's reading of it is not
#: public. The bench fails the run (tests/dssbench/run_runnable.py), with its own message.
PROGRESS_TARGET_CHECK = "the run fails"


def dss_process_layout(dip_home, install_dir="/opt/dataiku-dss-14.2.1"):
    """The processes of a running DSS as ``ps`` shows them (for the capacity report's tests).

    From a public copy of the DSS 9.0.5 start scripts (``bin/dss``, ``bin/jek``,
    ``bin/fek``, ``bin/hproxy``: ``-Ddku.<role>`` then the JVM options, ``-cp
    <DIP_HOME>/bin:<install>/dist...``, the main class), Dataiku's dkumonitor and
    telegraf patterns (``-Ddku.jek``, ``-cp <datadir>``) and the DSS page on
    processes. Not verified on DSS 12+: the main class names, the nginx title,
    the recipe process's command line (a Python interpreter under its JEK).
    """
    cp = "%s/bin:%s/dist:%s/lib/ivy/backend-run/*" % (dip_home, install_dir, install_dir)

    def java(role, main, xmx):
        return ["/usr/lib/jvm/java-17/bin/java", "-Ddku.%s" % role, "-Xmx%s" % xmx, "-XX:+UseG1GC", "-cp", cp, main]

    recipe = {"argv": ["%s/code-envs/python/py311/bin/python" % dip_home, "-u",
                       "%s/jobs/SALES_ANALYTICS/Build_sales_2026-11-25T06-00-00.000/activities/compute_sales_NP/"
                       "python-exec-wrapper.py" % dip_home], "mb": 25}
    return [
        {"role": "backend", "mb": 60, "argv": java("backend", "com.dataiku.dip.DSSBackendMain", "8g")},
        {"role": "jek", "mb": 30, "children": [recipe],
         "argv": java("jek", "com.dataiku.dip.dataflow.kernel.slave.DSSJobKernelMain", "2g")},
        {"role": "jek", "mb": 30, "argv": java("jek", "com.dataiku.dip.dataflow.kernel.slave.DSSJobKernelMain", "2g")},
        {"role": "fek", "mb": 20, "argv": java("fek", "com.dataiku.dip.futures.DSSFutureKernelMain", "2g")},
        {"role": "hproxy", "mb": 15, "argv": java("hproxy", "com.dataiku.hproxy.server.HProxyRunner", "2g")},
        {"role": "nginx", "mb": 5, "children": [{"argv": ["nginx: worker process"], "mb": 5}],
         "argv": ["nginx: master process /usr/sbin/nginx", "-c", "%s/install-support/nginx.conf" % dip_home]},
        {"role": "other", "mb": 10, "argv": ["%s/bin/python" % dip_home, "-m", "supervisor.supervisord", "-c",
                                             "%s/install-support/supervisord.conf" % dip_home]},
        {"role": "jupyter", "mb": 15, "argv": ["%s/bin/python" % dip_home, "%s/dku-jupyter/dkulauncher.py" % install_dir,
                                               "--notebook-dir=%s/config/ipython_notebooks" % dip_home,
                                               "--ip=127.0.0.1", "--no-browser"]},
    ]
