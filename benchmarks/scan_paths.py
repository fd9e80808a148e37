"""CPU seconds of the tokenizer and of a whole conversion on each structural-scan path.

    PYTHONPATH=src python benchmarks/scan_paths.py [--shapes text,taxi,savetxt] [--mb 50]
        [--repeat 12] [--tree DIR ...]

For each shape of ``shapes.py`` (generated once into the temp folder) and each scan path
(``_core.scan_paths()``, forced with ``FASTETL_SIMD``), in a fresh process per run:

* **tokenizer**: ``read_csv(bytes, schema, workers=1)`` with every column skipped but the
  first, best CPU time of ``--repeat`` in one process (the rows are split, one field read);
* **convert**: ``convert(csv, .npy, schema, workers=1)``, best CPU time of three processes.

``--tree DIR`` adds another fastetl source tree (e.g. an old build) measured on its default
path, interleaved with this one.  CPU time (user + sys, all threads), not wall time: on a
shared machine the wall time mostly says how busy it is.  Indicative only.
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

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
import fastetl
from fastetl import _core
from shapes import fastetl_schema
mode, shape, csv, reps = sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
schema = fastetl_schema(shape)
if mode == "tokenizer":
    cols = schema["columns"]
    skipped = [{"name": c["name"], "type": "skip"} for c in cols[1:]]
    schema = dict(schema, columns=[cols[0]] + skipped)
    data = open(csv, "rb").read()
    best = min(
        (lambda t: (fastetl.read_csv(data, schema, workers=1), time.process_time() - t)[1])(
            time.process_time())
        for _ in range(reps))
else:
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    fastetl.convert(csv, csv + ".npy", schema=schema, workers=1)
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    best = r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime
path = _core.scan_path() if hasattr(_core, "scan_path") else "built-in"  # an older tree
print(json.dumps({"cpu": best, "path": path}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shapes", default="text,taxi,savetxt")
    ap.add_argument("--mb", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=12)
    ap.add_argument("--tree", action="append", default=[], help="another fastetl src tree")
    args = ap.parse_args()
    sys.path.insert(0, str(HERE))
    from shapes import write_shape

    from fastetl import _core

    here_src = str(Path(_core.__file__).resolve().parent.parent)
    runs = [(here_src, p) for p in _core.scan_paths()] + [(t, None) for t in args.tree]
    tmp = Path(tempfile.gettempdir())
    print(f"load average {os.getloadavg()}; CPU seconds, best of the runs")
    print("| shape | tree | path | tokenizer CPU s | convert CPU s |")
    print("|---|---|---|---:|---:|")
    for shape in args.shapes.split(","):
        csv = tmp / f"fastetl_scan_{shape}_{args.mb}.csv"
        if not csv.exists():
            write_shape(shape, csv, args.mb * 10**6, 0)
        best: dict = {}
        for _ in range(3):  # rounds, interleaved
            for tree, path in runs:
                env = dict(os.environ, PYTHONPATH=tree)
                env.pop("FASTETL_SIMD", None)
                if path:
                    env["FASTETL_SIMD"] = path
                for mode, reps in (("tokenizer", max(1, args.repeat // 3)), ("convert", 1)):
                    out = subprocess.run(
                        [sys.executable, "-c", CHILD, str(HERE), mode, shape, str(csv), str(reps)],
                        env=env, capture_output=True, text=True, check=True,
                    )  # fmt: skip
                    d = json.loads(out.stdout)
                    key = (tree, d["path"], mode)
                    best[key] = min(best.get(key, d["cpu"]), d["cpu"])
        for tree, path in runs:
            name = path or "default"
            tok = [v for (t, p, m), v in best.items() if t == tree and m == "tokenizer"
                   and (path is None or p == path)]  # fmt: skip
            conv = [v for (t, p, m), v in best.items() if t == tree and m == "convert"
                    and (path is None or p == path)]  # fmt: skip
            print(f"| {shape} | {tree} | {name} | {min(tok):.4f} | {min(conv):.3f} |")


if __name__ == "__main__":
    main()
