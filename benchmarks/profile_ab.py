"""Interleaved A/B of a profile (or its conversion) between two source trees: fresh
processes alternated A, B, A, B, ...; each times only the call.

    python benchmarks/profile_ab.py csv 5 --a /work/main/src --b src \\
        --csv orders-1000000.csv --npy orders-1000000.npy

``csv``: ``fastetl.profile(CSV, demo_schema())``; ``npy``: ``fastetl.profile(NPY)``;
``convert``: ``fastetl.convert(CSV, OUT, schema=demo_schema())``.  The files are the demo
orders (``fastetl demo`` or ``benchmarks/profile.py --keep``), the ``.npy`` converted from
the CSV.  Prints per tree the median and range of the call's CPU (user+sys), wall time
and the process's peak RSS (MiB, VmHWM: Linux), and the load average seen.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

CHILD = r"""
import json, resource, sys, time
what, csv, npy, out = sys.argv[1:5]
import fastetl
from fastetl.demo import demo_schema
schema = demo_schema()
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF); return r.ru_utime + r.ru_stime
t, c = time.perf_counter(), cpu()
if what == "npy": fastetl.profile(npy)
elif what == "csv": fastetl.profile(csv, schema)
elif what == "convert": fastetl.convert(csv, out, schema=schema)
w, c = time.perf_counter() - t, cpu() - c
peak = 0
for line in open("/proc/self/status"):
    if line.startswith("VmHWM:"): peak = int(line.split()[1]) / 1024
print(json.dumps({"wall": w, "cpu": c, "peak": peak}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("what", choices=["csv", "npy", "convert"])
    ap.add_argument("rounds", type=int)
    ap.add_argument("--a", required=True, help="tree A's src folder (PYTHONPATH)")
    ap.add_argument("--b", required=True, help="tree B's src folder")
    ap.add_argument("--csv", required=True)
    ap.add_argument("--npy", default="")
    args = ap.parse_args()
    res: dict[str, list[dict[str, float]]] = {"A": [], "B": []}
    loads = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.rounds):
            for k, src in (("A", args.a), ("B", args.b)):
                env = {**os.environ, "PYTHONPATH": os.path.abspath(src)}
                out = os.path.join(tmp, f"out-{k}.npy")
                r = subprocess.run([sys.executable, "-c", CHILD, args.what, args.csv, args.npy,
                                    out], env=env, capture_output=True, text=True, check=True)
                res[k].append(json.loads(r.stdout.strip().splitlines()[-1]))
                loads.append(os.getloadavg()[0])
    for k in "AB":
        for m in ("cpu", "wall", "peak"):
            v = [x[m] for x in res[k]]
            print(f"{args.what} {k} {m}: median {statistics.median(v):.3f} "
                  f"[{min(v):.3f}-{max(v):.3f}]")
    print(f"load {min(loads):.1f}-{max(loads):.1f}")


if __name__ == "__main__":
    main()
