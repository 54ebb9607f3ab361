"""Bench plumbing: what DSS's backend would receive, written where the harness reads it."""

import json
import os


def append(kind, item):
    directory = os.environ.get("DSSBENCH_RECORD_DIR")
    if not directory:
        raise Exception("not running inside a scenario (no backend to send %s to)" % kind)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, kind + ".jsonl"), "a", encoding="utf-8") as f:
        f.write(json.dumps(item) + "\n")
