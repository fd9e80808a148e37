"""Profiling a CSV: ``fastetl profile`` against what users run today, on the same file.

Each tool runs in its own process (wall time of the work only, imports excluded; CPU
seconds of that work, all threads; peak RSS = the child's ``VmHWM``; page faults = the
minor faults of that work, each a page the process touched for the first time: a fresh
process pays one per page it ever uses), on the demo orders
(``fastetl.demo.generate_orders``):

* ``fastetl-profile-csv``  ``fastetl.profile(csv, demo_schema())``: every default
  statistic and the PII checks, one pass through the conversion pipeline
* ``fastetl-convert``      ``fastetl.convert(csv, npy, demo_schema())``: the conversion
  the CSV profile is measured against (issue 18 asks for >= 80 % of its speed)
* ``fastetl-profile-npy``  ``fastetl.profile(npy)`` of the converted file
* ``pandas``               ``read_csv`` + ``describe(include="all")`` + ``nunique()``
* ``polars``               ``read_csv`` + ``describe()``
* ``duckdb``               ``SUMMARIZE SELECT * FROM read_csv(...)``

ydata-profiling is not run: it does not install next to pandas 3 here.

    python benchmarks/profile.py --rows 200000 --repeat 1      # a quick look (~40 MB)
    python benchmarks/profile.py --rows 2000000 --repeat 3     # the RESULTS.md run
    python benchmarks/profile.py --rows 1000000 --phases       # where the fold's time goes

``--phases``: one thread folds the converted ``.npy`` in the CSV path's chunks and merges
them in order, with a timer (thread CPU) around each column's fold, each statistic's
steps and merges, and every compiled ``fold_*`` kernel (which run without the GIL: the
rest of the fold holds it, and bounds what more threads can gain).  Timers nest (a
column's time holds its kernels'); a few percent of overhead.

Numbers from a shared machine are one run's: compare ratios within a run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

CHILD = textwrap.dedent(
    """
    import json, resource, sys, time
    tool, csv, npy = sys.argv[1], sys.argv[2], sys.argv[3]
    def peak():
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        return 0
    if tool.startswith("fastetl"):
        import fastetl
        from fastetl.demo import demo_schema
        schema = demo_schema()
    elif tool == "pandas":
        import pandas as pd
    elif tool == "polars":
        import polars as pl
    elif tool == "duckdb":
        import duckdb
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    t, c = time.perf_counter(), time.process_time()
    if tool == "fastetl-profile-csv":
        fastetl.profile(csv, schema)
    elif tool == "fastetl-convert":
        fastetl.convert(csv, npy, schema=schema)
    elif tool == "fastetl-profile-npy":
        fastetl.profile(npy)
    elif tool == "pandas":
        df = pd.read_csv(csv)
        df.describe(include="all"); df.nunique()
    elif tool == "polars":
        pl.read_csv(csv).describe()
    elif tool == "duckdb":
        duckdb.sql(f"SUMMARIZE SELECT * FROM read_csv('{csv}')").fetchall()
    secs, cpu = time.perf_counter() - t, time.process_time() - c
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
    print(json.dumps({"seconds": secs, "cpu": cpu, "peak": peak(), "faults": faults}))
    """
)

TOOLS = (
    "fastetl-convert",
    "fastetl-profile-csv",
    "fastetl-profile-npy",
    "pandas",
    "polars",
    "duckdb",
)


PHASES = textwrap.dedent(
    """
    import collections, sys, time
    import numpy as np
    from fastetl import _core
    from fastetl.profiling import fold as F, stats as S
    from fastetl.profiling.run import CHUNK_BYTES, _chunk_rows
    from fastetl.table import Table
    sys.path.insert(0, sys.argv[2])
    from phase_timers import wrap
    T = collections.Counter()
    def timed(owner, name, label, key=None):
        wrap(owner, name, label, T, time.thread_time, key)
    timed(F.ColumnState, "add", "column ", lambda cs, *a: f"{cs.name} ({cs.type})")
    timed(F.ColumnState, "merge", "merge ", lambda cs, *a: cs.name)
    timed(F.ColumnState, "_text", "  text facts, PII, tally")
    timed(F, "count_values", "  text hash + count")
    timed(F, "_sort_counted", "  numbers counted")
    timed(F.TableState, "_row_hashes", "rows: hashes")
    timed(F.Distinct, "add_unique", "rows: exact set")
    timed(F, "numeric_rows", "correlations: rows")
    timed(F._Corr, "add", "correlations: sums")
    for cls, m in ((S.ValueCounts, "add_counts"), (S.ValueCounts, "merge"),
                   (S.Moments, "add_counts"), (S.Quantiles, "add_counts"),
                   (S.Quantiles, "merge"), (S.HyperLogLog, "add_hashes")):
        timed(cls, m, f"  {cls.__name__}.{m}")
    kernels = [n for n in dir(_core) if n.startswith("fold_")]
    for n in kernels:
        timed(_core, n, "kernel " + n)
    t = Table(sys.argv[1])
    a = t.array
    rows = _chunk_rows(a.dtype.itemsize, CHUNK_BYTES)
    state = F.TableState(t.schema, F.Limits(), t if t.schema.text_names else None, {})
    c = time.thread_time()
    for at in range(0, len(a), rows):
        part = state.fork()
        part.add(a[at : at + rows])
        state.merge(part)
    state.result(t.meta.get("categories", {}), 10)
    total = time.thread_time() - c
    k = sum(v for n, v in T.items() if n.startswith("kernel "))
    print(f"fold + merge + result, one thread, chunks of {rows:,} rows: {total:.3f} CPU-s; "
          f"in the kernels (no GIL) {k:.3f} ({100 * k / total:.0f} %)")
    print()
    print("| step | CPU s |")
    print("|---|---:|")
    for n, v in sorted(T.items(), key=lambda kv: -kv[1]):
        if v >= 0.002:
            print(f"| {n} | {v:.3f} |")
    """
)


def _run(tool: str, csv: Path, npy: Path) -> dict:
    r = subprocess.run(
        [sys.executable, "-c", CHILD, tool, str(csv), str(npy)],
        capture_output=True,
        text=True,
        env={**os.environ},
    )
    if r.returncode:
        return {"error": r.stderr.strip().splitlines()[-1] if r.stderr.strip() else "failed"}
    return json.loads(r.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--only", default=",".join(TOOLS))
    ap.add_argument("--dir", default=None, help="work folder (default: a temporary one)")
    ap.add_argument("--phases", action="store_true", help="where the fold's time goes (above)")
    args = ap.parse_args(argv)
    from fastetl.demo import generate_orders

    tools = [t for t in args.only.split(",") if t]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.dir or tmp)
        work.mkdir(parents=True, exist_ok=True)
        csv, npy = work / f"orders-{args.rows}.csv", work / f"orders-{args.rows}.npy"
        if not csv.exists():
            generate_orders(csv, args.rows, seed=0)
        size = csv.stat().st_size
        if "fastetl-profile-npy" in tools and "fastetl-convert" not in tools:
            _run("fastetl-convert", csv, npy)
        best: dict[str, dict] = {}
        for _ in range(args.repeat):
            for tool in tools:  # round-robin: convert first, so the .npy exists
                r = _run(tool, csv, npy)
                b = best.get(tool)
                if "error" in r or b is None or r["seconds"] < b["seconds"]:
                    peak = max(r.get("peak", 0), (b or {}).get("peak", 0))
                    best[tool] = {**r, "peak": peak}
        if args.phases:
            if not npy.exists():
                _run("fastetl-convert", csv, npy)
            r = subprocess.run(
                [sys.executable, "-c", PHASES, str(npy), str(Path(__file__).resolve().parent)],
                env={**os.environ},
            )
            return r.returncode
        npy_size = npy.stat().st_size if npy.exists() else 0
    print(f"{args.rows:,} demo orders, CSV {size / 1e6:,.1f} MB, .npy {npy_size / 1e6:,.1f} MB; "
          f"{platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}")  # fmt: skip
    print()
    print("| tool | seconds (best) | MB/s (of the CSV; .npy size for profile-npy) | CPU s "
          "(that run, all threads) | peak RSS MiB | page faults (that run) |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|")
    for tool in tools:
        r = best[tool]
        if "error" in r:
            print(f"| {tool} | error: {r['error']} | | | | |")
            continue
        mb = (npy_size if tool == "fastetl-profile-npy" else size) / 1e6
        print(
            f"| {tool} | {r['seconds']:.2f} | {mb / r['seconds']:,.0f} | {r['cpu']:.2f} "
            f"| {r['peak'] / 2**20:,.0f} | {r['faults']:,} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
