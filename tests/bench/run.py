"""make bench: run every benchmark in tests/bench and print each as a ratio
against its baseline measured in the same run (lower is better). A result
with a ``max_ratio`` fails the run (exit code 1) when its ratio is above it."""

import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent), str(HERE.parent.parent / "python-lib")]

from bench_audit import bench_audit  # noqa: E402
from bench_backup import bench_backup, bench_backup_memory  # noqa: E402
from bench_capacity_scan import bench_capacity_scan  # noqa: E402
from bench_cull import bench_cull  # noqa: E402
from bench_datadir import bench_datadir  # noqa: E402
from bench_purge import bench_purge  # noqa: E402
from bench_reclaim import bench_reclaim  # noqa: E402

BENCHMARKS = (bench_datadir, bench_capacity_scan, bench_purge, bench_reclaim, bench_cull, bench_audit, bench_backup,
              bench_backup_memory)


def main(argv=None):
    only = set((argv if argv is not None else sys.argv[1:]))
    results, failed = [], []
    with tempfile.TemporaryDirectory(prefix="nodeops-bench-", dir=str(HERE.parent.parent)) as work:
        for bench in BENCHMARKS:
            if only and bench.__name__ not in only:
                continue
            found = bench(work)
            for r in found if isinstance(found, list) else [found]:
                results.append(r)
                unit = r.get("unit", "s")
                print("%-66s %8.2f %s  baseline %8.2f %s  ratio %.2f%s" % (
                    r["name"], r["seconds"], unit, r["baseline_seconds"], unit, r["ratio"],
                    ("  (target %s)" % r["target"]) if r.get("target") else ""))
                print("    baseline: %s" % r["baseline"])
                if r.get("max_ratio") is not None and r["ratio"] > r["max_ratio"]:
                    failed.append(r["name"])
                    print("    FAILED: ratio %.2f is above %.2f" % (r["ratio"], r["max_ratio"]))
    out = HERE.parent.parent / "dist" / "bench.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print("results: %s" % out)
    if failed:
        print("%d benchmark(s) above their maximum ratio: %s" % (len(failed), "; ".join(failed)))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
