"""Best-of-N wall time of one fastetl conversion, for quick before/after comparisons.

    PYTHONPATH=<a checkout>/src python benchmarks/best_of.py CSV [--workers N] [--repeat R]

Converts CSV (the demo orders: ``fastetl demo`` or ``benchmarks/compare.py --keep DIR``
make one) with the demo schema to a temporary .npy ``repeat`` times and prints the best
time, MB/s and this process's user/system CPU.  Run it alternately with two checkouts on
PYTHONPATH to compare them on a shared machine; compare.py remains the side-by-side run.
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
    args = ap.parse_args()
    size = os.path.getsize(args.csv)
    best = float("inf")
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "out.npy")
        for _ in range(args.repeat):
            t = time.perf_counter()
            fastetl.convert(args.csv, out, demo_schema(), workers=args.workers)
            best = min(best, time.perf_counter() - t)
    ru = resource.getrusage(resource.RUSAGE_SELF)
    print(
        f"fastetl {os.path.dirname(fastetl.__file__)} workers={args.workers}: best of "
        f"{args.repeat} {best:.2f} s, {size / 1e6 / best:,.0f} MB/s; "
        f"CPU user {ru.ru_utime:.1f} s, system {ru.ru_stime:.1f} s"
    )


if __name__ == "__main__":
    main()
