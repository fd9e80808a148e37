#!/usr/bin/env python
"""What the content hash costs a Dask conversion: ``fastetl.dask.convert`` of the demo
orders on a LocalCluster, with and without ``hash``.

    python benchmarks/dask_hash.py [--mb 50] [--repeat 3] [--partition-size 16MB]

Prints, per run, wall seconds and CPU seconds (this process plus every worker process,
from getrusage), so the cost shows on a loaded machine too.  Each input's hash is made by
the tasks that parse it, from the same memory map; before, separate tasks read the file
again (run this script against an older tree to compare: without ``hash=``, it always
hashes).
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=50.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--partition-size", default="16MB")
    args = ap.parse_args()

    from distributed import Client, LocalCluster

    import fastetl
    import fastetl.dask as fdask
    from fastetl.demo import generate_orders

    work = Path(tempfile.mkdtemp(prefix="fastetl-dask-hash-"))
    try:
        csv = work / "orders.csv"
        generate_orders(csv, int(args.mb * 1e6 / 200))
        csv.read_bytes()  # warm the page cache
        schema = fastetl.infer_schema(csv)
        if schema.text_names:  # (a dataset holds fixed-width str, not text, yet)
            schema = fastetl.infer_schema(csv, types={n: "str" for n in schema.text_names})
        cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
        try:
            print(f"input {csv.stat().st_size / 1e6:,.1f} MB, {args.workers} workers, "
                  f"partition_size {args.partition_size}")
            for k in range(args.repeat):
                for hashed in (True, False):
                    kw = {} if hashed else {"hash": False}
                    cpu0 = _cpu() + sum(client.run(_cpu).values())
                    t0 = time.perf_counter()
                    try:
                        fdask.convert(csv, work / "ds", schema, client=client,
                                      partition_size=args.partition_size, **kw)
                    except TypeError:  # an older fastetl: always hashes
                        continue
                    wall = time.perf_counter() - t0
                    cpu = _cpu() + sum(client.run(_cpu).values()) - cpu0
                    print(f"run {k + 1} hash={hashed!s:5}  wall {wall:6.2f} s  cpu {cpu:6.2f} s")
        finally:
            client.close()
            cluster.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
