"""``python -m nodeops``: the same operations outside DSS.

For cron on the DSS host (``--dip-home``) and for remote nodes (``--url`` and
``--api-key``, an administrator's personal API key). Without an API client, the
caller is trusted as an administrator because reading DIP_HOME already requires
the DSS service account.

The plugin-level settings (:mod:`nodeops.settings`) come from the environment:
``NODEOPS_BACKUP_DIR`` and the others, the defaults of the same fields as in DSS;
a flag (``--target-dir``) wins.

Exit codes: 0 success; 1 the operation ran and reported errors (or its report
could not be written to ``--out``: then it goes to standard output); 2 refused
before doing anything (bad parameter or ``--out``, not an administrator, not a
data directory, DSS API unreachable or missing where needed). argparse's own
usage errors also exit with 2.
"""

import argparse
import getpass
import os
import sys
import tempfile
from pathlib import Path

from . import __version__, dssapi, operations, render, runner, settings
from .context import Context
from .errors import NodeOpsError, ParameterError

EXIT_OK, EXIT_ERRORS, EXIT_REFUSED = 0, 1, 2


def _help(text):
    return text.replace("%", "%%")  # argparse %-formats help strings


def _shown_default(param):
    if isinstance(param.default, (tuple, list)):
        return ",".join(param.default) or "none"
    shown = "none" if param.default in (None, "") else param.default
    if param.setting:  # the plugin-level setting, from the environment on the command line
        return "$%s, else %s" % (settings.env_name(param.setting), shown)
    return shown


def _build_parser():
    parser = argparse.ArgumentParser(prog="python -m nodeops", description="node-ops: DSS node operations")
    parser.add_argument("--version", action="version", version="node-ops " + __version__)
    sub = parser.add_subparsers(dest="operation", metavar="OPERATION")
    sub.required = True
    for op in operations.OPERATIONS.values():
        p = sub.add_parser(op.id, help=_help(op.title), description=_help(op.title))
        p.add_argument("--dip-home", default=os.environ.get("DIP_HOME"),
                       help="the DSS data directory (default: $DIP_HOME)")
        p.add_argument("--url", help="DSS base URL, e.g. https://dss.example.com:11200")
        p.add_argument("--api-key", default=os.environ.get("DKU_API_KEY"),
                       help="an administrator's API key (default: $DKU_API_KEY)")
        p.add_argument("--api-timeout", default=os.environ.get(dssapi.TIMEOUT_ENV),
                       help=_help("seconds each DSS API call may wait for an answer (%s; default: $%s, else %g)"
                                  % (dssapi.TIMEOUT.describe_allowed(), dssapi.TIMEOUT_ENV, dssapi.TIMEOUT.default)))
        p.add_argument("--format", choices=("text", "json", "html"), default="text")
        p.add_argument("--out", help="write the report to this file instead of standard output")
        if op.id in ("capacity-report", "collect-metrics"):
            p.add_argument("--history-dir", default=os.environ.get("NODEOPS_HISTORY_DIR"),
                           help="folder of the capacity and metrics history (default: $NODEOPS_HISTORY_DIR, else "
                                "<DIP_HOME>/local/node-ops/history)")
        for param in op.params:
            flag = "--" + param.name.replace("_", "-")
            help_text = "%s (%s; default %s)" % (param.description or param.label, param.describe_allowed(),
                                                 _shown_default(param))
            # a BOOLEAN given alone means true (--tmp); with a value as before (--dry-run false)
            bare = dict(nargs="?", const="true", metavar="true|false") if param.type == "BOOLEAN" else {}
            p.add_argument(flag, dest="param_" + param.name, default=None, help=_help(help_text), **bare)
    return parser


def _local_context(args) -> Context:
    """The context without the DSS API: enough to check every parameter."""
    dip_home = Path(args.dip_home) if args.dip_home else None
    history_dir = getattr(args, "history_dir", None)
    if history_dir is None and dip_home is not None:
        history_dir = dip_home / "local" / "node-ops" / "history"
    return Context(dip_home=dip_home, user=getpass.getuser(), is_admin=True,
                   history_dir=Path(history_dir) if history_dir else None,
                   settings=settings.from_environment(os.environ))


def _connect(args, ctx):
    """Add the DSS API to ``ctx`` (with --url): the client, who it acts for, whether an administrator."""
    if not args.url:
        return ctx
    client = dssapi.connect(args.url, args.api_key, dssapi.timeout_seconds(args.api_timeout))
    ctx.user, ctx.is_admin, ctx.api_error = runner.identify(args.operation, client)
    ctx.client = None if ctx.api_error else client
    return ctx


def _out_problem(out):
    """Why the report could not be written to ``out`` (checked before anything happens), or None."""
    path = Path(out)
    if path.is_dir():
        return "'--out' %s is a folder, not a file" % out
    if path.is_symlink() or (path.exists() and not path.is_file()):
        return "'--out' %s is a link or a special file, not a regular file (without --out: standard output)" % out
    if path.exists() and not os.access(str(path), os.W_OK):
        return "'--out' %s cannot be written (permission denied)" % out
    parent = path.parent
    while not parent.exists():  # the first existing ancestor receives the new folders
        parent = parent.parent
    if not parent.is_dir():
        return "'--out' %s: %s is not a folder" % (out, parent)
    if not os.access(str(parent), os.W_OK | os.X_OK):
        return "'--out' %s: folder %s cannot be written (permission denied)" % (out, parent)
    return None


def _check(args, op, config, ctx):
    """Refuse (ParameterError naming every problem) before anything happens."""
    problems = []
    try:
        op.parse(config, ctx)
    except ParameterError as e:
        problems += e.problems
    try:
        dssapi.timeout_seconds(args.api_timeout, "--api-timeout (or $%s)" % dssapi.TIMEOUT_ENV)
    except ParameterError as e:
        problems += e.problems
    if args.url and not args.api_key:
        problems.append("'--api-key' (or $DKU_API_KEY) is required with --url")
    if args.out:
        problem = _out_problem(args.out)
        if problem:
            problems.append(problem)
    if problems:
        raise ParameterError(op.id, problems)


def _write(report, fmt, out):
    """Write the report to ``out``: a temporary file in the same folder (O_EXCL, never following a
    planted link), renamed over ``out``; the file gets the mode the umask allows."""
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=str(path.parent), prefix="." + path.name + ".", suffix=".tmp")
    try:
        os.close(fd)
        if fmt == "html":
            render.write_html(report, tmp)
        else:
            Path(tmp).write_text(_render(report, fmt) + "\n", encoding="utf-8", errors="backslashreplace")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, str(path))
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise


def _render(report, fmt):
    return {"text": render.to_text, "json": render.to_json, "html": render.to_html}[fmt](report)


def main(argv=None) -> int:
    for stream in (sys.stdout, sys.stderr):  # a name that is not UTF-8 never crashes an output
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    args = _build_parser().parse_args(argv)
    op = operations.get(args.operation)
    config = {p.name: getattr(args, "param_" + p.name) for p in op.params
              if getattr(args, "param_" + p.name) is not None}
    try:
        ctx = _local_context(args)
        _check(args, op, config, ctx)  # before connecting: a bad parameter needs no DSS
        report = runner.run_operation(op.id, _connect(args, ctx), config)
    except NodeOpsError as e:
        print("node-ops: %s" % e, file=sys.stderr)
        return EXIT_REFUSED
    code = EXIT_OK
    if report.failure:
        print("node-ops: %s" % report.failure, file=sys.stderr)
        code = EXIT_ERRORS
    if args.out:
        try:
            _write(report, args.format, args.out)
        except (OSError, UnicodeError) as e:
            print("node-ops: the report could not be written to %s (%s); it follows on standard output"
                  % (args.out, e), file=sys.stderr)
            print(_render(report, args.format))
            return EXIT_ERRORS
        print("wrote %s" % args.out)
        return code
    print(_render(report, args.format))
    return code
