#!/usr/bin/env python
"""fastetl.pandas.read_csv against pandas.read_csv (C and pyarrow engines).

    python benchmarks/dropin_pandas.py [--rows 2000000] [--repeat 3] [--keep DIR] [--no-check]

Generates a mixed CSV (``--rows`` rows, seed 0): an int id, an int quantity, a float
price with 2 decimals, a float with 17 significant digits, an ISO date, a
low-cardinality word and free text with commas and quotes.  Each reader runs
``--repeat`` times, interleaved, each run in a fresh interpreter that imports its
library first and times only the ``read_csv`` call; the child reports its peak
resident set (``VmHWM``).  The call is the plain one, ``read_csv(path)`` (dates stay
text, as pandas reads them without ``parse_dates``).  Unless ``--no-check``, the
frames of fastetl and pandas' C engine are compared with
``assert_frame_equal(check_exact=True)`` in a child of its own, and fastetl's run
must not fall back (``FASTETL_FALLBACK=error``).  Prints a Markdown table: best
seconds, MB/s (10**6 bytes of CSV per second), speed relative to the fastest
pandas engine, best CPU seconds (user + system, all threads) and that ratio, highest
peak RSS.  No assertion on speed: the machines are shared.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

READERS = {
    "fastetl": "import fastetl.pandas as pd\nkw = {}",
    "pandas-c": "import pandas as pd\nkw = {}",
    "pandas-pyarrow": "import pandas as pd\nkw = {'engine': 'pyarrow'}",
}

CHILD = """
import os, sys, time, json
os.environ['FASTETL_FALLBACK'] = 'error'
{setup}
path = sys.argv[1]
import resource
r0 = resource.getrusage(resource.RUSAGE_SELF)
t0 = time.perf_counter()
df = pd.read_csv(path, **kw)
seconds = time.perf_counter() - t0
r1 = resource.getrusage(resource.RUSAGE_SELF)
cpu = (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)
peak = 0
for line in open('/proc/self/status'):
    if line.startswith('VmHWM:'):
        peak = int(line.split()[1]) << 10
print(json.dumps({{'seconds': seconds, 'cpu': cpu, 'peak': peak, 'rows': len(df)}}))
"""

CHECK = """
import sys, warnings
import pandas, fastetl.pandas as fpd
import fastetl
fastetl.set_fallback('error')
got = fpd.read_csv(sys.argv[1])
want = pandas.read_csv(sys.argv[1])
pandas.testing.assert_frame_equal(got, want, check_exact=True)
print('equal', list(got.dtypes.astype(str)))
"""


def generate(path: Path, rows: int, seed: int = 0) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    words = np.array(["north", "south", "east", "west", "center", "online", "store"])
    start = np.datetime64("2020-01-01")
    chunk = 250_000
    with open(path, "w", encoding="utf-8", newline="") as f:
        for lo in range(0, rows, chunk):
            n = min(chunk, rows - lo)
            ids = np.arange(lo, lo + n)
            df = pd.DataFrame(
                {
                    "id": ids,
                    "qty": rng.integers(-500, 5000, n),
                    "price": np.round(rng.random(n) * 1000, 2),
                    "score": rng.standard_normal(n),
                    "day": (start + rng.integers(0, 2000, n)).astype(str),
                    "region": words[rng.integers(0, len(words), n)],
                    "note": [f'item {i}, lot "{i % 977}" of {i * 7919 % 100003}' for i in ids],
                }
            )
            df.to_csv(f, index=False, header=lo == 0, lineterminator="\n")


def run(reader: str, path: Path) -> dict:
    code = CHILD.format(setup=READERS[reader])
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr else "failed"}
    return json.loads(out.stdout)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", type=Path, default=None, help="folder to keep the CSV in")
    ap.add_argument("--no-check", action="store_true")
    args = ap.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="fastetl-dropin-"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"mixed-{args.rows}.csv"
    if not path.exists():
        generate(path, args.rows)
    size = path.stat().st_size
    print(f"{path.name}: {args.rows:,} rows, {size / 1e6:,.1f} MB", flush=True)
    if not args.no_check:
        out = subprocess.run([sys.executable, "-c", CHECK, str(path)], capture_output=True,
                             text=True, check=False)
        print("check:", out.stdout.strip() or out.stderr.strip().splitlines()[-1], flush=True)
    path.read_bytes()  # warm the page cache
    best: dict[str, list] = {r: [] for r in READERS}
    for _ in range(args.repeat):
        for reader in READERS:
            best[reader].append(run(reader, path))
    rows = []
    for reader, runs in best.items():
        ok = [r for r in runs if "error" in r] == [] and runs
        if not ok:
            rows.append((reader, None, None, next(r["error"] for r in runs if "error" in r)))
            continue
        rows.append((reader, min(r["seconds"] for r in runs), max(r["peak"] for r in runs),
                     min(r["cpu"] for r in runs)))
    pandas_best = min((s for r, s, _, _ in rows if r.startswith("pandas") and s), default=None)
    pandas_cpu = min((c for r, s, _, c in rows if r.startswith("pandas") and s), default=None)
    print("\n| reader | best s | MB/s | vs fastest pandas | best CPU s | vs (CPU) | peak RSS MB |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for reader, secs, peak, cpu in rows:
        if secs is None:
            print(f"| {reader} | - | - | - | - | - | {cpu} |")
            continue
        ratio = pandas_best / secs if pandas_best else float("nan")
        cratio = pandas_cpu / cpu if pandas_cpu and cpu else float("nan")
        print(f"| {reader} | {secs:.3f} | {size / 1e6 / secs:,.0f} | {ratio:.2f}x | "
              f"{cpu:.3f} | {cratio:.2f}x | {peak / 2**20:,.0f} |")
    if args.keep is None:
        path.unlink()
        folder.rmdir()
    return 0


if __name__ == "__main__":
    sys.exit(main())
