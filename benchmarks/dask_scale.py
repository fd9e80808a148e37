#!/usr/bin/env python
"""fastetl on a Dask LocalCluster vs fastetl.convert vs dask.dataframe -> Parquet.

    python benchmarks/dask_scale.py [--mb 50] [--workers 2] [--partition-size 16MB] [--keep DIR]

Generates the demo e-commerce orders (``fastetl.demo.generate_orders``) of about ``--mb``
megabytes, then times, each once, in this process, with the page cache warm:

1. ``fastetl.convert(csv, out.npy, schema)`` on this machine (every core);
2. ``fastetl.dask.convert(csv, out_dir, schema)`` on a LocalCluster of ``--workers`` worker
   processes (one thread each), the cluster started before the clock starts;
3. ``dask.dataframe.read_csv(csv).to_parquet(dir)`` on the same cluster.

It checks that (1) and (2) hold the same record bytes and prints MB/s (10**6 bytes of CSV
per second).  The cluster's start-up and the schema inference are outside the timings; a
LocalCluster on one machine shows the overhead of the task machinery more than a gain: the
point of the Dask path is many machines (see the README, "Scaling out").
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=50.0, help="size of the CSV (default 50)")
    ap.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes")
    ap.add_argument("--partition-size", default="16MB", help="fastetl.dask partition_size")
    ap.add_argument("--keep", metavar="DIR", help="work in DIR and keep it")
    args = ap.parse_args()

    import dask.dataframe as dd
    from distributed import Client, LocalCluster

    import fastetl
    import fastetl.dask as fdask
    from fastetl.demo import generate_orders

    work = Path(args.keep or tempfile.mkdtemp(prefix="fastetl-dask-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    csv = work / f"orders-{args.mb:g}mb.csv"
    if not csv.exists():
        rows = int(args.mb * 1e6 / 200)  # about 200 bytes per order row
        generate_orders(csv, rows)
    size = csv.stat().st_size
    csv.read_bytes()  # warm the page cache
    schema = fastetl.infer_schema(csv)
    print(f"input: {csv} ({size / 1e6:,.1f} MB); {args.workers} Dask worker process(es)")

    def timed(name: str, fn) -> None:
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        print(f"{name:<46} {dt:8.2f} s {size / 1e6 / dt:8.1f} MB/s")

    npy = work / "out.npy"
    ds = work / "out.dataset"
    pq = work / "out.parquet"
    timed("fastetl.convert (this machine)", lambda: fastetl.convert(csv, npy, schema))
    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        timed(
            f"fastetl.dask.convert ({args.partition_size} parts)",
            lambda: fdask.convert(csv, ds, schema, client=client,
                                  partition_size=args.partition_size),
        )
        shutil.rmtree(pq, ignore_errors=True)
        timed(
            "dask.dataframe.read_csv().to_parquet()",
            lambda: dd.read_csv(csv, blocksize=args.partition_size).to_parquet(pq),
        )
    meta = json.loads((ds / "dataset.json").read_text())
    parts = np.concatenate([np.load(ds / p["file"]) for p in meta["parts"]])
    same = parts.tobytes() == np.load(npy).tobytes()
    print(f"dataset: {len(meta['parts'])} parts; records identical to fastetl.convert: {same}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
