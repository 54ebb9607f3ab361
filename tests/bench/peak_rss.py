"""Run ``python -m nodeops ARGS`` and write its peak RSS to a file.

Usage: peak_rss.py OUT_FILE ARGS...  The peak is the larger of this process's
VmHWM (/proc/self/status, which exec resets; ru_maxrss of a child started by a
big parent is not reset: it keeps the parent's resident size at fork time) and
the largest peak of the worker processes node-ops forked (RUSAGE_CHILDREN).
"""

import resource
import runpy
import sys


def vm_hwm_bytes():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def main():
    out_file = sys.argv[1]
    sys.argv = ["nodeops"] + sys.argv[2:]
    code = 0
    try:
        runpy.run_module("nodeops", run_name="__main__", alter_sys=True)
    except SystemExit as e:
        code = e.code or 0
    finally:
        workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
        with open(out_file, "w") as f:
            f.write(str(max(vm_hwm_bytes(), workers)))
    return code


if __name__ == "__main__":
    sys.exit(main())
