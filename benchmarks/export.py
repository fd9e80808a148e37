"""Best-of-N time of the exports (.npy -> Parquet, CSV, Arrow, JSON Lines) next to pyarrow's
and pandas' own writers on the same data.

    PYTHONPATH=<a checkout>/src python benchmarks/export.py [--rows 500000] [--repeat 3] [--dir DIR]

Generates the demo orders (``fastetl.demo``), converts them once with the demo schema, then
times, interleaved round by round: ``fastetl.export`` to each format (from the ``.npy`` on
disk, in bounded memory), and, from a ``pyarrow.Table`` / ``pandas.DataFrame`` already in
memory (made before the clock starts: their writers get the data for free),
``pyarrow.parquet.write_table``, ``pyarrow.csv.write_csv``, ``pyarrow.feather.write_feather``,
``DataFrame.to_parquet`` and ``DataFrame.to_csv``.  MB/s is of ``.npy`` record bytes, for
every row of the table, so the rows compare.  Also ``fastetl.convert(CSV, X.parquet)`` (one
pass) against convert-to-.npy then export.  No assertion on time: the machines are shared;
quote best-of-N from one run, with the load average.  The CPU seconds (every thread of
the process) say what a run costs when the machine is busy with other work; the last
column is the size of the file each writer wrote (pyarrow's and pandas' with their
defaults: snappy, dictionary on every column).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import fastetl
from fastetl.demo import demo_schema, generate_orders


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=500_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dir", type=Path, default=None)
    ap.add_argument("--no-pandas", action="store_true", help="leave out pandas' writers")
    args = ap.parse_args()
    import pyarrow.csv as pcsv
    import pyarrow.feather as feather
    import pyarrow.parquet as pq

    from fastetl.export import export

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        d = Path(tmp)
        src = d / "orders.csv"
        generate_orders(src, rows=args.rows, seed=0)
        npy = d / "orders.npy"
        fastetl.convert(src, npy, schema=demo_schema())
        nbytes = os.path.getsize(npy)
        t = fastetl.open(npy)
        table = t.to_arrow()
        frame = None if args.no_pandas else t.to_pandas()
        cases = {
            "fastetl export -> parquet": lambda: export(npy, d / "f.parquet"),
            "pyarrow write_table (parquet)": lambda: pq.write_table(table, d / "a.parquet"),
            "fastetl export -> csv": lambda: export(npy, d / "f.csv"),
            "pyarrow write_csv": lambda: pcsv.write_csv(table, d / "a.csv"),
            "fastetl export -> arrow": lambda: export(npy, d / "f.arrow"),
            "pyarrow write_feather": lambda: feather.write_feather(table, d / "a.arrow"),
            "fastetl export -> jsonl": lambda: export(npy, d / "f.jsonl"),
            "fastetl convert csv -> parquet (one pass)": lambda: fastetl.convert(
                src, d / "one.parquet", schema=demo_schema()
            ),
            "fastetl convert csv -> npy": lambda: fastetl.convert(
                src, d / "two.npy", schema=demo_schema()
            ),
        }
        if frame is not None:
            cases["pandas to_parquet"] = lambda: frame.to_parquet(d / "p.parquet")
            cases["pandas to_csv"] = lambda: frame.to_csv(d / "p.csv", index=False)
        outputs = {  # the file each writer leaves, for its size
            "fastetl export -> parquet": d / "f.parquet",
            "pyarrow write_table (parquet)": d / "a.parquet",
            "fastetl export -> csv": d / "f.csv",
            "pyarrow write_csv": d / "a.csv",
            "fastetl export -> arrow": d / "f.arrow",
            "pyarrow write_feather": d / "a.arrow",
            "fastetl export -> jsonl": d / "f.jsonl",
            "fastetl convert csv -> parquet (one pass)": d / "one.parquet",
            "fastetl convert csv -> npy": d / "two.npy",
            "pandas to_parquet": d / "p.parquet",
            "pandas to_csv": d / "p.csv",
        }
        best = {name: (float("inf"), 0.0) for name in cases}
        for _ in range(args.repeat):
            for name, fn in cases.items():
                c0, t0 = time.process_time(), time.perf_counter()
                fn()
                took = (time.perf_counter() - t0, time.process_time() - c0)
                best[name] = min(best[name], took)
        print(f"{args.rows:,} demo orders: {nbytes / 1e6:,.1f} MB of .npy records, "
              f"{os.path.getsize(src) / 1e6:,.1f} MB of CSV; best of {args.repeat}; "
              f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
        print("| writer | best s | MB/s of .npy | CPU s (all threads) | MB/s per CPU s | file MB |")
        print("|---|---:|---:|---:|---:|---:|")
        for name, (wall, cpu) in best.items():
            size = os.path.getsize(outputs[name]) / 1e6 if name in outputs else float("nan")
            print(f"| {name} | {wall:.3f} | {nbytes / 1e6 / wall:,.0f} | {cpu:.3f} | "
                  f"{nbytes / 1e6 / cpu:,.0f} | {size:,.1f} |")  # fmt: skip


if __name__ == "__main__":
    main()
