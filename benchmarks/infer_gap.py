"""Where an inferred read loses to the same read with a schema (issue 15, item 1).

    python benchmarks/infer_gap.py [--mb 40] [--repeat 5] [--shape taxi,orders] [--dir DIR]

For each shape of ``shapes.py`` (and the demo orders), in one process, round-robin over:

- ``a``      ``fastetl.infer_schema(path)``
- ``rb1/2``  ``read_csv(path, <the inferred schema>, workers=1/2)``: the read with it given
- ``rc1``    ``read_csv(path, <the benchmark's hand schema>, workers=1)`` (compare.py's)
- ``rd1/2``  ``read_csv(path, workers=1/2)``: the inferred read
- ``b2/d2``  ``convert`` with the inferred schema given / inferred, ``workers=2``

and prints the best CPU ms (this process, all threads: ``resource.getrusage``) and the best
wall ms of ``--repeat`` runs. On a shared machine quote the CPU; an inferred read should cost
what the read with its schema costs plus ``a``. Files are cached in ``--dir`` by shape, size
and seed 0.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import shapes  # noqa: E402

import fastetl  # noqa: E402
from fastetl.demo import HEADER, demo_schema, generate_orders, generate_orders_bytes  # noqa: E402
from fastetl.schema import Schema  # noqa: E402

MODES = ("a", "rb1", "rc1", "rd1", "rb2", "rd2", "b2", "d2")


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def shape_file(folder: Path, shape: str, mb: float) -> Path:
    path = folder / f"gap-{shape}-{mb:g}MB.csv"
    if not path.exists():
        part = path.with_suffix(".part")
        if shape == "orders":
            sample = generate_orders_bytes(20_000, 0)
            per_row = (len(sample) - len(HEADER)) / 20_000
            generate_orders(part, int(mb * 1e6 / per_row), 0)
        else:
            shapes.write_shape(shape, part, int(mb * 1e6), 0)
        os.replace(part, path)
    return path


def measure(src: Path, shape: str, repeat: int, out: str) -> dict[str, tuple[float, float]]:
    inferred = fastetl.infer_schema(src)
    hand = demo_schema() if shape == "orders" else Schema.from_dict(shapes.fastetl_schema(shape))
    calls = {
        "a": lambda: fastetl.infer_schema(src),
        "rb1": lambda: fastetl.read_csv(src, inferred, workers=1),
        "rc1": lambda: fastetl.read_csv(src, hand, workers=1),
        "rd1": lambda: fastetl.read_csv(src, workers=1),
        "rb2": lambda: fastetl.read_csv(src, inferred, workers=2),
        "rd2": lambda: fastetl.read_csv(src, workers=2),
        "b2": lambda: fastetl.convert(src, out, inferred, workers=2),
        "d2": lambda: fastetl.convert(src, out, workers=2),
    }
    best = {m: (float("inf"), float("inf")) for m in MODES}
    for m in MODES:
        calls[m]()  # warm-up
    for _ in range(repeat):
        for m in MODES:
            c, t = cpu(), time.perf_counter()
            calls[m]()
            w, c = time.perf_counter() - t, cpu() - c
            best[m] = (min(best[m][0], c), min(best[m][1], w))
    return best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mb", type=float, default=40.0)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--shape", default=",".join(shapes.SHAPE_ORDER))
    p.add_argument("--dir", default=os.path.join(tempfile.gettempdir(), "fastetl-bench"))
    args = p.parse_args()
    folder = Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    out = str(folder / f"gap-out-{os.getpid()}.npy")
    print(f"fastetl from {Path(fastetl.__file__).parent}; load {os.getloadavg()[0]:.2f}")
    print("| shape | " + " | ".join(MODES) + " |  (CPU ms / wall ms, best of "
          f"{args.repeat}, {args.mb:g} MB)")  # fmt: skip
    print("|---|" + "---:|" * len(MODES))
    try:
        for shape in args.shape.split(","):
            best = measure(shape_file(folder, shape, args.mb), shape, args.repeat, out)
            cells = " | ".join(f"{c * 1e3:.0f} / {w * 1e3:.0f}" for c, w in best.values())
            print(f"| {shape} | {cells} |", flush=True)
    finally:
        for f in (out, out + ".json"):
            if os.path.exists(f):
                os.remove(f)
    print(f"load {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
