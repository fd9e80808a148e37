#!/usr/bin/env python
"""fastetl.pandas.read_csv against pandas.read_csv on small files: a process's first call
and a warm call, in CPU time, with one or more fastetl trees interleaved.

    python benchmarks/dropin_small.py FILE [--src DIR ...] [--rounds 9] [--warm 30]
                                      [--kw '{"parse_dates": ["day"]}'] [--native]

``--native`` times fastetl's own ``fastetl.read_csv(FILE, **kw)`` (no schema: inference
included) instead of the drop-in, against the same ``pandas.read_csv(FILE)``.

Each round runs, in turn, one fresh interpreter per fastetl tree (``--src``: a folder
holding the ``fastetl`` package, put first on PYTHONPATH; default: the installed one)
and one for pandas.  The child imports its library, then times (process CPU time,
``time.process_time``) its first ``read_csv(FILE, **kw)`` -- what
``benchmarks/dropin_pandas.py`` times, one-off costs included -- and the median of
``--warm`` further calls; it reports its peak resident set (``VmHWM``).  fastetl runs
with ``FASTETL_FALLBACK=error`` (a fallback fails the run).  Prints the minimum and the
median over the rounds.  CPU time, not wall time: on a shared machine wall times are
noise.  No assertion on speed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

CHILD = r"""
import json, os, statistics, sys, time
os.environ["FASTETL_FALLBACK"] = "error"
lib, path, warm, kw = sys.argv[1], sys.argv[2], int(sys.argv[3]), json.loads(sys.argv[4])
if lib == "pandas":
    import pandas as pd
elif lib == "native":
    import fastetl as pd
    pd.read_csv  # (the module behind the name loaded here, not in the first call)
else:
    import fastetl.pandas as pd
c0 = time.process_time()
pd.read_csv(path, **kw)
first = time.process_time() - c0
times = []
for _ in range(warm):
    c0 = time.process_time()
    pd.read_csv(path, **kw)
    times.append(time.process_time() - c0)
peak = 0
for line in open("/proc/self/status"):
    if line.startswith("VmHWM:"):
        peak = int(line.split()[1]) << 10
print(json.dumps({"first": first, "warm": statistics.median(times) if times else 0.0,
                  "peak": peak}))
"""


def _child(lib: str, src: str | None, path: str, warm: int, kw: str) -> dict:
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = src
    out = subprocess.run([sys.executable, "-c", CHILD, lib, path, str(warm), kw], env=env,
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{lib} ({src}): {out.stderr.strip().splitlines()[-1]}")
    return json.loads(out.stdout)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("file")
    ap.add_argument("--src", action="append", default=None,
                    help="a folder holding the fastetl package (repeat to compare trees)")
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--warm", type=int, default=30)
    ap.add_argument("--kw", default="{}", help="read_csv's keywords, as JSON")
    ap.add_argument("--native", action="store_true",
                    help="fastetl.read_csv(FILE, **kw) instead of fastetl.pandas.read_csv")
    args = ap.parse_args()
    json.loads(args.kw)
    lib = "native" if args.native else "fastetl"
    readers = [(lib, s) for s in (args.src or [None])] + [("pandas", None)]
    runs: dict[tuple[str, str | None], list[dict]] = {r: [] for r in readers}
    for _ in range(args.rounds):
        for lib, src in readers:
            runs[(lib, src)].append(_child(lib, src, args.file, args.warm, args.kw))
    print(f"{os.path.basename(args.file)} ({os.path.getsize(args.file):,} bytes), kw={args.kw},"
          f" {args.rounds} rounds\n")
    print("| reader | first call CPU ms (min / median) | warm call CPU ms (min / median) "
          "| peak RSS MB |")
    print("|---|---:|---:|---:|")
    for (lib, src), rs in runs.items():
        first = [1e3 * r["first"] for r in rs]
        warm = [1e3 * r["warm"] for r in rs]
        name = lib if src is None else f"{lib} ({src})"
        print(f"| {name} | {min(first):.2f} / {statistics.median(first):.2f} | "
              f"{min(warm):.3f} / {statistics.median(warm):.3f} | "
              f"{max(r['peak'] for r in rs) / 2**20:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
