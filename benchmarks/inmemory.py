"""read_csv (in memory) against convert (to disk), plain and gzip-compressed input.

Each run is a fresh process (``python -c``) that reads one CSV with a schema and reports
its wall time and peak RSS; runs are interleaved round-robin, the best time is shown.
MB/s count the CSV's bytes as decompressed, for compressed input too.  Nothing is
asserted (see DESIGN.md, "Performance: how it is measured").

    python benchmarks/inmemory.py --mb 100 --repeat 3            # the demo orders, 100 MB
    PYTHONPATH=/other/checkout/src python benchmarks/inmemory.py  # another tree, same file
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

CHILD = textwrap.dedent(
    """
    import json, resource, sys, time, fastetl
    from fastetl.demo import demo_schema
    how, src, out, workers = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    schema = demo_schema()
    t0 = time.perf_counter()
    if how == "read_csv":
        rows = len(fastetl.read_csv(src, schema, workers=workers).array)
    else:
        rows = fastetl.convert(src, out, schema, workers=workers).rows
    seconds = time.perf_counter() - t0
    ru = resource.getrusage(resource.RUSAGE_SELF)
    cpu = ru.ru_utime + ru.ru_stime  # (the whole process: imports included)
    peak = ru.ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "cpu": cpu, "rows": rows, "peak_mib": peak}))
    """
)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--mb", type=float, default=100, help="size of the orders CSV, 10^6 bytes")
    p.add_argument("--repeat", type=int, default=3, help="runs of each case; the best is shown")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.add_argument("--keep", metavar="DIR", help="work in DIR and keep the CSVs there")
    a = p.parse_args(argv)
    work = Path(a.keep or tempfile.mkdtemp(prefix="fastetl-inmemory-"))
    work.mkdir(parents=True, exist_ok=True)
    csv = work / f"orders-{a.mb:g}MB.csv"
    if not csv.exists():
        from fastetl.demo import generate_orders

        rows = int(a.mb * 1e6 / 202)  # ~202 bytes a row
        generate_orders(csv, rows)
    gz = csv.with_suffix(".csv.gz")
    if not gz.exists():
        gz.write_bytes(gzip.compress(csv.read_bytes(), 6))
    size = csv.stat().st_size
    cases = [(how, src) for src in (csv, gz) for how in ("convert", "read_csv")]
    best: dict[tuple[str, Path], dict] = {}
    for _ in range(a.repeat):
        for how, src in cases:
            out = work / "out.npy"
            r = subprocess.run(
                [sys.executable, "-c", CHILD, how, str(src), str(out), str(a.workers)],
                capture_output=True,
                check=True,
            )
            got = json.loads(r.stdout)
            old = best.get((how, src))
            if old is not None:  # the best time and CPU, the highest peak
                got = {
                    "seconds": min(got["seconds"], old["seconds"]),
                    "cpu": min(got["cpu"], old["cpu"]),
                    "peak_mib": max(got["peak_mib"], old["peak_mib"]),
                }
            best[(how, src)] = got
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"{size / 1e6:.0f} MB of CSV ({gz.stat().st_size / 1e6:.0f} MB gzipped), "
        f"workers={a.workers}, best of {a.repeat}, load average {load:.1f}\n"
    )
    print("| input | call | seconds | MB/s (decompressed) | CPU s (process) | peak RSS MiB |")
    print("|---|---|---:|---:|---:|---:|")
    for how, src in cases:
        r = best[(how, src)]
        kind = "gzip" if src == gz else "plain"
        print(
            f"| {kind} | {how} | {r['seconds']:.2f} | {size / 1e6 / r['seconds']:.0f} "
            f"| {r['cpu']:.2f} | {r['peak_mib']:.0f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
