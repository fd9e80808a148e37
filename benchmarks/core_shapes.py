"""CPU seconds of the core alone (``Parser.parse``, one thread) and of ``convert``, per shape.

    python benchmarks/core_shapes.py [--mb 50] [--shape savetxt,short-floats,ints,wide]
                                     [--repeat 7] [--src /work/main/src --src src]

Writes each shape of ``shapes.py`` once (seed 0) to a work folder, then, for each shape and
each ``--src`` tree in turn (interleaved: old and new on the same machine moment), runs a
fresh interpreter that imports fastetl from that tree and prints the best process CPU time of
``--repeat`` parses of the whole file into a preallocated array (the tokenizer and the
converters, nothing else), and the best wall and CPU (user + sys, all threads) of
``convert(csv, npy, schema, workers=1 and 2)``.  CPU seconds are what to compare on a shared
machine; wall times are printed for the record.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

CHILD = r"""
import json, os, resource, sys, time
root, csv, schema_json, reps = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
sys.path.insert(0, root)
import numpy as np
import fastetl
from fastetl import layout
assert fastetl.__file__.startswith(os.path.abspath(root)), fastetl.__file__
schema = fastetl.Schema.from_json(schema_json)
data = open(csv, "rb").read()
nl = data.index(b"\n") + 1
binding = schema.bind(data[: nl - 1].decode().split(","))
out = np.zeros(data.count(b"\n") + 1, schema.dtype())
core = None
for _ in range(reps):
    parser = layout.make_parser(binding)
    t0 = time.process_time()
    st = parser.parse(data, nl, len(data), True, out, 0, len(out))
    t = time.process_time() - t0
    assert st[0] == 0, st
    core = t if core is None else min(core, t)
res = {"core_cpu": core}
dst = csv + ".npy"
for w in (1, 2):
    best = None
    for _ in range(max(2, reps // 2)):
        r0 = resource.getrusage(resource.RUSAGE_SELF); t0 = time.perf_counter()
        fastetl.convert(csv, dst, schema, workers=w)
        t = time.perf_counter() - t0; r1 = resource.getrusage(resource.RUSAGE_SELF)
        c = r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime
        if best is None or t < best[0]:
            best = (t, c)
    res[f"w{w}"] = best
print(json.dumps(res))
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=50)
    ap.add_argument("--shape", default="savetxt,short-floats,ints,wide")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--src", action="append", help="a source tree to import fastetl from")
    args = ap.parse_args()
    srcs = args.src or [str(HERE.parent / "src")]
    sys.path.insert(0, str(HERE))
    import json

    from shapes import fastetl_schema, write_shape

    work = Path(tempfile.mkdtemp(prefix="fastetl-core-shapes-"))
    print("| shape | tree | core CPU s (1 thread) | core MB/s | convert w=1 wall / CPU s "
          "| convert w=2 wall / CPU s |")
    print("|---|---|---:|---:|---:|---:|")
    for shape in args.shape.split(","):
        csv = work / f"{shape}.csv"
        write_shape(shape, csv, int(args.mb * 1e6), 0)
        size = csv.stat().st_size
        schema = json.dumps(fastetl_schema(shape))
        for src in srcs:
            r = subprocess.run([sys.executable, "-c", CHILD, src, str(csv), schema,
                                str(args.repeat)], capture_output=True, text=True, check=True)
            res = json.loads(r.stdout)
            print(f"| {shape} | `{src}` | {res['core_cpu']:.4f} | {size / res['core_cpu'] / 1e6:.0f}"
                  f" | {res['w1'][0]:.3f} / {res['w1'][1]:.3f} | {res['w2'][0]:.3f} / "
                  f"{res['w2'][1]:.3f} |", flush=True)
    shutil.rmtree(work)  # the CSVs, outputs, sidecars and lock files
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
