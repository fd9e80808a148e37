#!/usr/bin/env python
"""fastetl.loadtxt / fastetl.genfromtxt against numpy's, on matrices numpy.savetxt writes.

One run writes a ROWS x 8 float matrix with ``numpy.savetxt`` (``%.18e``), comma-
and space-delimited, then times, interleaved (A B A B ...), each reader in a
fresh process per repeat, and checks that fastetl's answer is numpy's, byte for
byte.  It prints seconds (best of the repeats), MB/s, the CPU seconds of that run
(user + system, all threads: steadier than seconds on a shared machine), peak RSS
and the ratio of the seconds.
Nothing is asserted about speed.

    python benchmarks/dropin.py                  # 1,000,000 rows: minutes, on a quiet machine
    python benchmarks/dropin.py --rows 50000     # a quick check that it works
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"

CHILD = r"""
import json, resource, sys, time
import numpy as np
import fastetl
from fastetl.dropin.numpy import ORIGINAL_GENFROMTXT, ORIGINAL_LOADTXT
reader, path, delim, out = sys.argv[1:5]
fn = {"numpy.loadtxt": ORIGINAL_LOADTXT, "fastetl.loadtxt": fastetl.loadtxt,
      "numpy.genfromtxt": ORIGINAL_GENFROMTXT, "fastetl.genfromtxt": fastetl.genfromtxt}[reader]
fastetl.set_fallback("error")   # a fallback would time numpy, not fastetl
def cpu():
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime
c = cpu()
t = time.perf_counter()
a = fn(path, delimiter=None if delim == "ws" else delim)
secs = time.perf_counter() - t
c = cpu() - c
np.save(out, a)
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"secs": secs, "cpu": c, "rss": rss}))
"""


def make(folder: Path, rows: int, delim: str, seed: int) -> Path:
    import numpy as np

    path = folder / f"matrix-{rows}-{'comma' if delim == ',' else 'ws'}.txt"
    if not path.exists():
        rng = np.random.default_rng(seed)
        np.savetxt(path, rng.standard_normal((rows, 8)), delimiter=delim)
    return path


def once(reader: str, path: Path, delim: str, out: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    r = subprocess.run(
        [sys.executable, "-c", CHILD, reader, str(path), delim, str(out)],
        capture_output=True, text=True, env=env,
    )
    if r.returncode:
        raise SystemExit(f"{reader} on {path.name} failed:\n{r.stderr}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--genfromtxt", action="store_true", help="time genfromtxt as well")
    ap.add_argument("--keep", metavar="DIR", help="keep the generated files in DIR")
    args = ap.parse_args()
    import numpy as np

    names = ["loadtxt"] + (["genfromtxt"] if args.genfromtxt else [])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        print(f"| file ({args.rows:,} x 8, savetxt) | reader | best s | MB/s | CPU s "
              "| peak RSS MB | speed-up |")
        print("|---|---|---:|---:|---:|---:|---:|")
        for delim, label in ((",", "comma"), (" ", "whitespace")):
            path = make(folder, args.rows, delim, args.seed)
            mb = path.stat().st_size / 1e6
            key = "," if delim == "," else "ws"
            for name in names:
                pair = [f"numpy.{name}", f"fastetl.{name}"]
                best = {r: {"secs": float("inf"), "cpu": 0.0, "rss": 0} for r in pair}
                outs = {r: Path(tmp) / f"{r}.npy" for r in pair}
                for _ in range(args.repeat):
                    for r in pair:  # interleaved
                        got = once(r, path, key, outs[r])
                        if got["secs"] < best[r]["secs"]:
                            best[r] = got
                a, b = (np.load(outs[r]) for r in pair)
                same = a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
                if not same:
                    raise SystemExit(f"{name} on {label}: fastetl's answer differs from numpy's")
                ratio = best[pair[0]]["secs"] / best[pair[1]]["secs"]
                for r in pair:
                    s = best[r]["secs"]
                    up = f"{ratio:.1f}x" if r.startswith("fastetl") else ""
                    print(f"| {label} ({mb:.0f} MB) | {r} | {s:.3f} | {mb / s:.0f} | "
                          f"{best[r]['cpu']:.3f} | {best[r]['rss'] / 1e6:.0f} | {up} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
