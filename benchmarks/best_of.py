"""Best-of-N wall time of one fastetl conversion, for quick before/after comparisons.

    PYTHONPATH=<a checkout>/src python benchmarks/best_of.py CSV [--workers N] [--repeat R]
        [--block-size BYTES]

Converts CSV (the demo orders: ``fastetl demo`` or ``benchmarks/compare.py --keep DIR``
make one) with the demo schema to a temporary .npy ``repeat`` times and prints the best
time, MB/s, this process's user/system CPU and its peak RSS (``VmHWM``, Linux).  Run it
alternately with two checkouts on PYTHONPATH to compare them on a shared machine;
compare.py remains the side-by-side run.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time

import fastetl
from fastetl.demo import demo_schema


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("csv")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--block-size", type=int, default=None, help="bytes (default: fastetl's)")
    args = ap.parse_args()
    size = os.path.getsize(args.csv)
    best = float("inf")
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "out.npy")
        for _ in range(args.repeat):
            t = time.perf_counter()
            fastetl.convert(
                args.csv, out, demo_schema(), workers=args.workers, block_size=args.block_size
            )
            best = min(best, time.perf_counter() - t)
    ru = resource.getrusage(resource.RUSAGE_SELF)
    peak = ""
    if os.path.exists("/proc/self/status"):
        with open("/proc/self/status") as fh:
            hwm = [line.split()[1] for line in fh if line.startswith("VmHWM:")]
        peak = f"; peak RSS {int(hwm[0]) // 1024} MiB" if hwm else ""
    print(
        f"fastetl {os.path.dirname(fastetl.__file__)} workers={args.workers}: best of "
        f"{args.repeat} {best:.2f} s, {size / 1e6 / best:,.0f} MB/s; "
        f"CPU user {ru.ru_utime:.1f} s, system {ru.ru_stime:.1f} s{peak}"
    )


if __name__ == "__main__":
    main()
