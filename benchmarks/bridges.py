"""Best-of-N time of the bridges on a string-heavy file, next to the readers of the same CSV.

    PYTHONPATH=<a checkout>/src python benchmarks/bridges.py [--mb 20] [--repeat 5] [--dir DIR]

Writes a CSV of about ``--mb`` MB (an int, three free-text columns, a four-value city, a
float), converts it once without a schema, then times, interleaved round by round:
``t.to_pandas()``, ``t.to_arrow()``, ``t.to_polars()``, ``t[name]`` of the longest ``str``
column, and ``pandas.read_csv`` / ``pyarrow.csv.read_csv`` / ``polars.read_csv`` of the CSV
(what a user would otherwise call).  No assertion on time: the machines are shared; quote
best-of-N from one run.
"""

from __future__ import annotations

import argparse
import csv
import random
import tempfile
import time
from pathlib import Path

import fastetl

WORDS = "lorem ipsum dolor sit amet consectetur adipiscing elit são paulo zürich".split()


def make_csv(path: Path, mb: float) -> None:
    rnd = random.Random(16)
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["id", "name", "email", "city", "comment", "amount"])
        i = 0
        while f.tell() < mb * 2**20:
            w.writerow(
                [
                    i,
                    " ".join(rnd.choices(WORDS, k=3)),
                    f"user{i}@example{i % 97}.com",
                    rnd.choice(["Lisboa", "Porto", "Faro", "Braga"]),
                    " ".join(rnd.choices(WORDS, k=rnd.randint(3, 10))),
                    f"{rnd.uniform(0, 1000):.2f}",
                ]
            )
            i += 1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=float, default=20)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--dir", type=Path, default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        src = Path(tmp) / "strings.csv"
        out = Path(tmp) / "strings.npy"
        make_csv(src, args.mb)
        fastetl.convert(src, out)
        t = fastetl.open(out)
        widest = max((c for c in t.schema.columns if c.type == "str"), key=lambda c: c.width)
        cases = {
            f"t.{m}()": getattr(t, m)
            for m in ("to_pandas", "to_arrow", "to_polars")
            if hasattr(t, m)  # (an older fastetl, for a before/after run, lacks some)
        }
        cases[f"t[{widest.name!r}] (object array of str)"] = lambda: t[widest.name]
        try:
            import pandas as pd

            cases["pandas.read_csv(csv)"] = lambda: pd.read_csv(src)
        except ImportError:
            pass
        try:
            import pyarrow.csv as pacsv

            cases["pyarrow.csv.read_csv(csv)"] = lambda: pacsv.read_csv(src)
        except ImportError:
            pass
        try:
            import polars as pl

            cases["polars.read_csv(csv)"] = lambda: pl.read_csv(src)
        except ImportError:
            pass
        best = dict.fromkeys(cases, float("inf"))
        for _ in range(args.repeat):
            for label, f in cases.items():
                t0 = time.perf_counter()
                f()
                best[label] = min(best[label], time.perf_counter() - t0)
        size = src.stat().st_size / 2**20
        print(f"{size:.1f} MB CSV, {len(t):,} rows, best of {args.repeat}, {fastetl.__file__}")
        print("  columns: " + ", ".join(f"{c.name} {c.type}" for c in t.schema.columns))
        for label, secs in best.items():
            print(f"  {label:45s} {secs * 1e3:8.1f} ms")


if __name__ == "__main__":
    main()
