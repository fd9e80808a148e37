"""A/B of file conversions between source trees, runs alternated (before, after, before...).

    python benchmarks/ab_files.py before=/work/wt-perf-before/src,after=/work/wt-perf/src \
        --repeat 5 [--dir /tmp/perf] [--only orders,quoted]

Generates, once, in --dir: the demo orders (1,000,000 rows, ~200 MB, with
fastetl.demo.demo_schema()), a numeric numpy.savetxt matrix (1,000,000 x 4, ~100 MB)
and a quoted free-text file (1,500,000 rows, ~105 MB: commas and doubled quotes inside
quoted fields, no quoted line break).  Each run is a fresh process
(``PYTHONPATH=<tree>``); CPU = user+sys of that process during the call only
(``getrusage(RUSAGE_SELF)`` around it: imports and schema loading excluded), wall =
the call's.  Prints, per case and tree, the minimum CPU and the best wall.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys

CHILD = r"""
import json, os, resource, sys, time
src, op, workers, schema, dst = sys.argv[1:6]
import fastetl
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
c0, t0 = cpu(), time.perf_counter()
if op == "convert":
    fastetl.convert(src, dst, None if schema == "-" else schema, workers=int(workers))
else:
    fastetl.read_csv(src, None if schema == "-" else schema, workers=int(workers))
t1, c1 = time.perf_counter(), cpu()
for p in (dst, dst + ".json"):
    if os.path.exists(p):
        os.unlink(p)
print(json.dumps({"cpu": c1 - c0, "wall": t1 - t0, "file": fastetl.__file__}))
"""

NUMERIC_SCHEMA = {
    "dialect": {"delimiter": ",", "quote": '"', "header": True, "encoding": "utf-8"},
    "columns": [{"name": c, "type": "float64"} for c in "abcd"],
}


def make_inputs(d: str) -> None:
    os.makedirs(d, exist_ok=True)
    import numpy as np

    import fastetl.demo as demo

    p = os.path.join(d, "orders.csv")
    if not os.path.exists(p):
        demo.generate_orders(p, 1_000_000)
    p = os.path.join(d, "orders.schema.json")
    if not os.path.exists(p):
        with open(p, "w") as f:
            f.write(demo.demo_schema().to_json())
    p = os.path.join(d, "numeric.csv")
    if not os.path.exists(p):
        a = np.random.default_rng(0).standard_normal((1_000_000, 4)) * 1000
        np.savetxt(p, a, delimiter=",", header="a,b,c,d", comments="")
    p = os.path.join(d, "numeric.schema.json")
    if not os.path.exists(p):
        with open(p, "w") as f:
            json.dump(NUMERIC_SCHEMA, f)
    p = os.path.join(d, "quoted.csv")
    if not os.path.exists(p):
        words = ["alpha", "beta", "gamma, delta", 'say ""hi""', "lorem ipsum", "x,y,z",
                 'quote ""q"" end', "plain"]
        r = random.Random(0)
        with open(p, "w") as f:
            f.write("id,name,text,amount\n")
            for i in range(1_500_000):
                t = " ".join(r.choice(words) for _ in range(r.randint(2, 8)))
                f.write(f'{i},"n{i % 977}","{t}",{r.randint(0, 99999) / 100}\n')


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("trees", help="name=src_dir,name=src_dir,...")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--dir", default="/tmp/perf")
    ap.add_argument("--only", default="", help="comma-separated substrings of case names")
    a = ap.parse_args()
    trees = dict(t.split("=", 1) for t in a.trees.split(","))
    make_inputs(a.dir)
    P = a.dir + "/"
    cases = [
        ("orders+schema convert w2", "orders.csv", "convert", 2, "orders.schema.json"),
        ("orders+schema convert w1", "orders.csv", "convert", 1, "orders.schema.json"),
        ("orders+schema read_csv w2", "orders.csv", "read_csv", 2, "orders.schema.json"),
        ("numeric+schema convert w2", "numeric.csv", "convert", 2, "numeric.schema.json"),
        ("numeric inferred convert w2", "numeric.csv", "convert", 2, "-"),
        ("numeric+schema read_csv w2", "numeric.csv", "read_csv", 2, "numeric.schema.json"),
        ("quoted inferred convert w2", "quoted.csv", "convert", 2, "-"),
        ("quoted inferred read_csv w2", "quoted.csv", "read_csv", 2, "-"),
    ]
    if a.only:
        cases = [c for c in cases if any(k in c[0] for k in a.only.split(","))]
    best: dict = {}
    for _ in range(a.repeat):
        for name, src, op, w, schema in cases:
            for tree, path in trees.items():
                env = dict(os.environ, PYTHONPATH=path)
                sch = "-" if schema == "-" else P + schema
                dst = f"{P}ab-out-{os.getpid()}.npy"
                out = subprocess.run(
                    [sys.executable, "-c", CHILD, P + src, op, str(w), sch, dst],
                    env=env, capture_output=True, text=True, check=True,
                )
                r = json.loads(out.stdout)
                assert r["file"].startswith(os.path.abspath(path)), r
                c, t = best.get((name, tree), (1e9, 1e9))
                best[(name, tree)] = (min(c, r["cpu"]), min(t, r["wall"]))
    print("| case | " + " | ".join(f"{t} CPU s | {t} wall s" for t in trees) + " |")
    print("|---|" + "---:|" * (2 * len(trees)))
    for name, *_ in cases:
        cells = " | ".join(f"{best[(name, t)][0]:.3f} | {best[(name, t)][1]:.3f}" for t in trees)
        print(f"| {name} | {cells} |")


if __name__ == "__main__":
    main()
