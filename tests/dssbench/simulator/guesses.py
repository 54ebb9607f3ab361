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

#: Where DSS keeps the connection files of running kernels, and that a kernel's
#: command line names its own (``... -f <dir>/kernel-<kernelId>.json``, as
#: Jupyter's ipykernel_launcher is started). node-ops uses the kernel ID on the
#: command line to tell a kernel from an unrelated process with the same PID.
KERNEL_RUNTIME_DIR = "jupyter-run/jupyter/runtime"
KERNEL_CMDLINE = "-f <KERNEL_RUNTIME_DIR>/kernel-<kernelId>.json"
