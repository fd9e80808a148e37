"""Best-of-N MB/s of each converter kind, one thread, same data as test_micro.py.

    PYTHONPATH=src python benchmarks/converters.py [repeats] [kind ...]

A quieter companion of the pytest-benchmark run for before/after comparisons on a
shared machine: many repeats, only the best time kept.  Indicative only.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_micro import KINDS, NCOLS, _sized, _table  # noqa: E402

import fastetl  # noqa: E402


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    kinds = sys.argv[2:] or list(KINDS)
    for kind in kinds:
        gen, spec = KINDS[kind]
        data = _sized(lambda rows, rng, g=gen: _table([g(rows, rng) for _ in range(NCOLS)]))
        schema = fastetl.Schema.from_dict(
            {"columns": [{"name": f"c{i}", **spec} for i in range(NCOLS)]}
        )
        best = np.inf
        for _ in range(repeats):
            t = time.perf_counter()
            fastetl.read_csv(data, schema, workers=1)
            best = min(best, time.perf_counter() - t)
        print(f"{kind:16s} {len(data) / 1e6 / best:7.1f} MB/s")


if __name__ == "__main__":
    main()
