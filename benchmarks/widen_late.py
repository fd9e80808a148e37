"""A late widening on a long compressed input: read_csv with no schema.

The file: ``id,x,name`` rows, ids counting up from 0, compressed (zstd with the
``zstandard`` package, else gzip): inference samples the head of a compressed input, so
the ids look like int16, and from row 32,768 on every id widens the column.  Each run
is a fresh process that times ``fastetl.read_csv(path)`` alone; runs of the trees given
alternate.  Nothing is asserted (see DESIGN.md, "Performance: how it is measured").

    python benchmarks/widen_late.py --rows 4000000 --repeat 3
    python benchmarks/widen_late.py --src /work/main/src --src src   # two trees, alternated
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = """
import json, resource, sys, time, fastetl
t0 = time.perf_counter()
t = fastetl.read_csv(sys.argv[1])
seconds = time.perf_counter() - t0
ru = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"seconds": seconds, "cpu": ru.ru_utime + ru.ru_stime, "rows": len(t),
                  "widened": [(w.get("column"), w.get("from"), w.get("to"))
                              for w in t.schema.inferred.get("widened", [])]}))
"""


def make(folder: Path, rows: int) -> Path:
    csv = b"id,x,name\n" + b"".join(b"%d,%d.5,name %d\n" % (i, i, i % 977) for i in range(rows))
    try:
        import zstandard

        path = folder / f"late-{rows}.csv.zst"
        path.write_bytes(zstandard.ZstdCompressor(level=3).compress(csv))
    except ImportError:
        path = folder / f"late-{rows}.csv.gz"
        path.write_bytes(gzip.compress(csv, 1))
    print(f"{path.name}: {rows:,} rows, {len(csv) / 1e6:.1f} MB of CSV, "
          f"{path.stat().st_size / 1e6:.1f} MB compressed")
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=4_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--src", action="append", help="a tree's src folder (default: as imported)")
    args = ap.parse_args()
    trees = args.src or [None]
    with tempfile.TemporaryDirectory() as tmp:
        path = make(Path(tmp), args.rows)
        print("| tree | run | seconds | CPU s (process) | rows | widened |")
        print("|---|---:|---:|---:|---:|---|")
        for k in range(args.repeat):
            for tree in trees:
                env = dict(os.environ)
                if tree is not None:
                    env["PYTHONPATH"] = str(Path(tree).resolve())
                out = subprocess.run([sys.executable, "-c", CHILD, str(path)], env=env,
                                     capture_output=True, text=True, check=True)  # fmt: skip
                r = json.loads(out.stdout.strip().splitlines()[-1])
                print(f"| {tree or 'imported'} | {k + 1} | {r['seconds']:.2f} | {r['cpu']:.2f} "
                      f"| {r['rows']:,} | {r['widened']} |")


if __name__ == "__main__":
    main()
