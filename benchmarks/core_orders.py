"""One thread's end-to-end throughput on the demo orders held in memory.

    PYTHONPATH=src python benchmarks/core_orders.py [/tmp/perf_orders.csv] [repeats]

Generates the file (2M rows, ~400 MB) on first use, reads it into memory once, then times
``fastetl.read_csv(data, demo_schema(), workers=1)`` and prints best-of-N MB/s.  Also times
the tokenizer alone (every column skipped but one int8) the same way.  Indicative only on a
shared machine.
"""

from __future__ import annotations

import os
import sys
import time

import fastetl
from fastetl import demo


def best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    path = sys.argv[1] if len(sys.argv) > 1 else "/tmp/perf_orders.csv"
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    if not os.path.exists(path):
        demo.generate_orders(path, 2_000_000)
    with open(path, "rb") as f:
        data = f.read()
    mb = len(data) / 1e6
    full = demo.demo_schema()
    skip = fastetl.Schema.from_dict(
        {
            "columns": [
                {"name": n, "type": "skip"}
                if n != "avaliacao"
                else {"name": n, "type": "int8", "nullable": True}
                for n in demo.COLUMNS
            ]
        }
    )
    for name, schema in (("orders[demo_schema]", full), ("tokenizer[orders]", skip)):
        t = best(lambda s=schema: fastetl.read_csv(data, s, workers=1), repeats)
        print(f"{name:24s} {mb:8.1f} MB  best {t:7.3f} s  {mb / t:7.1f} MB/s")


if __name__ == "__main__":
    main()
