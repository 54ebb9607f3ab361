"""``python -m nodeops``: the same operations outside DSS.

For cron on the DSS host (``--dip-home``) and for remote nodes (``--url`` and
``--api-key``, an administrator's personal API key). Without an API client, the
caller is trusted as an administrator because reading DIP_HOME already requires
the DSS service account.
"""

import argparse
import getpass
import os
import sys
from pathlib import Path

from . import __version__, dssapi, operations, render, runner
from .context import Context
from .errors import NodeOpsError


def _build_parser():
    parser = argparse.ArgumentParser(prog="python -m nodeops", description="node-ops: DSS node operations")
    parser.add_argument("--version", action="version", version="node-ops " + __version__)
    sub = parser.add_subparsers(dest="operation", metavar="OPERATION")
    sub.required = True
    for op in operations.OPERATIONS.values():
        p = sub.add_parser(op.id, help=op.title, description=op.title)
        p.add_argument("--dip-home", default=os.environ.get("DIP_HOME"),
                       help="the DSS data directory (default: $DIP_HOME)")
        p.add_argument("--url", help="DSS base URL, e.g. https://dss.example.com:11200")
        p.add_argument("--api-key", default=os.environ.get("DKU_API_KEY"),
                       help="an administrator's API key (default: $DKU_API_KEY)")
        p.add_argument("--format", choices=("text", "json", "html"), default="text")
        p.add_argument("--out", help="write the report to this file instead of standard output")
        if op.id in ("capacity-report", "collect-metrics"):
            p.add_argument("--history-dir", default=os.environ.get("NODEOPS_HISTORY_DIR"),
                           help="folder of the capacity and metrics history (default: $NODEOPS_HISTORY_DIR, else "
                                "<DIP_HOME>/local/node-ops/history)")
        for param in op.params:
            flag = "--" + param.name.replace("_", "-")
            help_text = "%s (%s; default %s)" % (param.description or param.label, param.describe_allowed(), param.default)
            p.add_argument(flag, dest="param_" + param.name, default=None, help=help_text)
    return parser


def build_context(args) -> Context:
    client = None
    if args.url:
        if not args.api_key:
            raise NodeOpsError("--api-key (or $DKU_API_KEY) is required with --url")
        client = dssapi.connect(args.url, args.api_key)
        user, is_admin = dssapi.identify(client)
    else:
        user, is_admin = getpass.getuser(), True
    dip_home = Path(args.dip_home) if args.dip_home else None
    history_dir = getattr(args, "history_dir", None)
    if history_dir is None and dip_home is not None:
        history_dir = dip_home / "local" / "node-ops" / "history"
    return Context(dip_home=dip_home, client=client, user=user, is_admin=is_admin,
                   history_dir=Path(history_dir) if history_dir else None)


def main(argv=None) -> int:
    args = _build_parser().parse_args(argv)
    op = operations.get(args.operation)
    config = {p.name: getattr(args, "param_" + p.name) for p in op.params
              if getattr(args, "param_" + p.name) is not None}
    try:
        ctx = build_context(args)
        report = runner.run_operation(op.id, ctx, config)
    except NodeOpsError as e:
        print("node-ops: %s" % e, file=sys.stderr)
        return 2
    if args.out and args.format == "html":
        render.write_html(report, args.out)
        print("wrote %s" % args.out)
        return 1 if report.failure else 0
    text = {"text": render.to_text, "json": render.to_json, "html": render.to_html}[args.format](report)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
        print("wrote %s" % args.out)
    else:
        print(text)
    return 1 if report.failure else 0
