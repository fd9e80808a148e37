"""What schema inference costs: per 4 MiB sample of every shape, and a small file end to end.

    python benchmarks/infer.py [--repeat 5] [--share-mb 200] [--phases] [--dir DIR]

Three tables (four with ``--phases``), CPU time of this process (``time.process_time``: on a
shared machine the wall time says more about the neighbours than about fastetl):

1. ``fastetl.infer_schema(path)`` on a 4 MiB file of each shape of ``shapes.py`` (seed 1) and
   of the demo orders (20,000 rows): what the issue-15 budget of 20 ms per 4 MiB sample is
   about. Best of ``--repeat`` after one warm-up call.
2. A 357 KB file like the Seattle weather set (a date, four one-decimal floats, a five-word
   category; 10,400 rows): ``fastetl.read_csv(path)`` end to end against
   ``pandas.read_csv(path)``, best of 3 × ``--repeat``.
3. With ``--share-mb N``: inference as a share of reading an N MB file of the savetxt and the
   200-column shapes with the schema given (``read_csv(path, schema, workers=2)``, best of 2).
4. With ``--phases``: where each 4 MiB sample's inference goes, CPU ms per step: steady
   state (the call of table 1 with the least CPU) and the first call of a fresh process
   (what one ``read_csv(path)`` pays in a new process: first pages and caches; ``import``
   is ``import fastetl.infer`` after ``import fastetl``, bytecode compiled).  The steps
   are infer.py's functions, timed by wrapping them (the wrapping adds ~0.1 ms).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import shapes  # noqa: E402
from phase_timers import wrap  # noqa: E402

import fastetl  # noqa: E402
from fastetl.demo import generate_orders  # noqa: E402

SAMPLE = 4 << 20


def best_cpu(fn, repeat: int) -> float:
    fn()  # warm-up: imports, first-call caches
    best = float("inf")
    for _ in range(repeat):
        t = time.process_time()
        fn()
        best = min(best, time.process_time() - t)
    return best


# the steps of table 4: (label, function of fastetl.infer timed, or of its _core)
STEPS = (
    ("read the sample", "_read_raw"),
    ("sniff (all)", "sniff"),
    ("header detection", "_detect_header"),
    ("sample rows (with sniff)", "_sample"),
    ("sample_columns", "_core.sample_columns"),
    ("type rules", "_infer"),
    ("number spelling", "sniff_spelling"),
    ("sample text for the check", "_sample_bytes"),
    ("sample check", "_fit"),
)


_SPENT: dict[str, float] = {}
_WRAPPED: list[bool] = []


def phases(path: Path, calls: int) -> dict[str, float]:
    """CPU ms per step of ``infer_schema(path)``: of its first call when ``calls`` is 1,
    else of the call with the least CPU of ``calls`` (after one warm-up)."""
    import fastetl.infer as inf

    spent = _SPENT

    if not _WRAPPED:  # (once per process)
        _WRAPPED.append(True)
        for label, name in STEPS:
            owner = inf._core if name.startswith("_core.") else inf
            wrap(owner, name.removeprefix("_core."), label, spent, time.process_time)
    if calls > 1:
        inf.infer_schema(path)
    best: dict[str, float] = {}
    for _ in range(calls):
        spent.clear()
        t = time.process_time()
        inf.infer_schema(path)
        spent["total"] = time.process_time() - t
        if not best or spent["total"] < best["total"]:
            best = dict(spent)
    return {k: v * 1e3 for k, v in best.items()}


def phases_child(path: str) -> None:
    """A fresh process: ``import fastetl.infer`` and the first call's steps, as JSON."""
    import json

    t = time.process_time()
    import fastetl.infer  # noqa: F401

    first = {"import": (time.process_time() - t) * 1e3} | phases(Path(path), 1)
    print(json.dumps(first))


def phases_table(files: list[Path], repeat: int) -> None:
    import json
    import subprocess

    cols = [("total", "total"), *STEPS]
    print("\n| 4 MiB sample, CPU ms | import | " + " | ".join(c[0] for c in cols) + " |")
    print("|---|---:|" + "---:|" * len(cols))
    for p in files:
        steady = phases(p, repeat)
        out = subprocess.run(
            [sys.executable, __file__, "--phases-child", str(p)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        first = json.loads(out.stdout.strip().splitlines()[-1])
        for kind, got in (("steady", steady), ("first call", first)):
            cells = " | ".join(f"{got.get(c[0], 0.0):.1f}" for c in cols)
            imp = f"{got['import']:.1f}" if "import" in got else "-"
            print(f"| {p.stem.removeprefix('infer-')}, {kind} | {imp} | {cells} |")


def weather(path: Path, rows: int = 10_400, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    kinds = np.array(["drizzle", "rain", "sun", "snow", "fog"])
    day = np.datetime64("2012-01-01")
    with open(path, "w", newline="") as f:
        f.write("date,precipitation,temp_max,temp_min,wind,weather\n")
        for i in range(rows):
            p, tx, tn, w = rng.normal([3, 16, 8, 3], [5, 7, 5, 1.5])
            f.write(
                f"{day + i},{max(p, 0):.1f},{tx:.1f},{tn:.1f},{abs(w):.1f},"
                f"{kinds[rng.integers(5)]}\n"
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--share-mb", type=int, default=0)
    ap.add_argument("--dir", type=Path, default=None)
    ap.add_argument("--phases", action="store_true", help="table 4: CPU ms per step")
    ap.add_argument("--phases-child", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.phases_child:
        return phases_child(a.phases_child)
    work = a.dir or Path(tempfile.mkdtemp(prefix="fastetl-infer-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"# benchmarks/infer.py --repeat {a.repeat} --share-mb {a.share_mb}")
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {platform.platform()}; "
          f"{os.cpu_count()} CPUs; load {os.getloadavg()[0]:.2f}; fastetl from "
          f"{Path(fastetl.__file__).parent}")
    print("\n| 4 MiB sample | infer_schema CPU ms |\n|---|---:|")
    files = []
    for name in (*shapes.SHAPE_ORDER,):
        p = work / f"infer-{name}.csv"
        if not p.exists():
            if name == "orders":
                generate_orders(p, 20_000, seed=1)
            else:
                shapes.write_shape(name, p, SAMPLE, 1)
        ms = best_cpu(lambda p=p: fastetl.infer_schema(p), a.repeat) * 1e3
        print(f"| {name} ({p.stat().st_size / 1e6:.1f} MB) | {ms:.1f} |")
        files.append(p)

    import pandas

    w = work / "weather.csv"
    weather(w)
    fe = best_cpu(lambda: fastetl.read_csv(w), 3 * a.repeat) * 1e3
    pd = best_cpu(lambda: pandas.read_csv(w), 3 * a.repeat) * 1e3
    print(f"\n| {w.stat().st_size / 1e3:.0f} KB weather-like file | CPU ms |\n|---|---:|")
    print(f"| fastetl.read_csv(path) | {fe:.1f} |\n| pandas.read_csv(path) | {pd:.1f} |")
    print(f"| fastetl ÷ pandas | {fe / pd:.2f} |")

    if a.share_mb:
        print(f"\n| {a.share_mb} MB file | infer_schema ms | read_csv(schema) ms | share |")
        print("|---|---:|---:|---:|")
        for name in ("savetxt", "wide"):
            p = work / f"share-{name}-{a.share_mb}.csv"
            if not p.exists():
                shapes.write_shape(name, p, a.share_mb << 20, 1)
            schema = fastetl.infer_schema(p)
            inf = best_cpu(lambda p=p: fastetl.infer_schema(p), 3) * 1e3
            rd = best_cpu(lambda p=p, s=schema: fastetl.read_csv(p, schema=s, workers=2), 2) * 1e3
            print(f"| {name} | {inf:.1f} | {rd:.0f} | {inf / rd:.1%} |")

    if a.phases:
        phases_table(files, a.repeat)


if __name__ == "__main__":
    main()
