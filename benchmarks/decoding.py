"""Best-of-N time of ``Table[name]`` decoding on 1M rows, and of the ways it could be done.

    PYTHONPATH=<a checkout>/src python benchmarks/decoding.py [--rows 1000000] [--repeat 5]

Builds an in-memory Table (``fastetl.read_csv`` of a generated CSV: a ``str`` column of
ASCII text with 1% non-ASCII values, a ``category``, a ``decimal(2)``, a nullable
``str``) and times ``t[name]`` for each, next to the alternatives measured for issue 16
(each checked to give the same values as ``bytes.decode`` per value).  No assertion on
time: the machines are shared; quote best-of-N.
"""

from __future__ import annotations

import argparse
import random
import time

import numpy as np

import fastetl

SCHEMA = {
    "columns": [
        {"name": "s", "type": "str", "width": 32},
        {"name": "c", "type": "category"},
        {"name": "d", "type": "decimal", "scale": 2},
        {"name": "n", "type": "str", "width": 16, "nullable": True},
    ]
}


def make_csv(rows: int) -> bytes:
    rnd = random.Random(16)
    words = ["alpha", "beta", "gamma", "delta", "epsilon-long-value", "x"]
    cats = ["rain", "sun", "drizzle", "snow", "fog"]
    out = ["s,c,d,n"]
    for i in range(rows):
        s = "naïve – ç" if i % 100 == 0 else f"{rnd.choice(words)}{i}"
        out.append(f"{s},{rnd.choice(cats)},{rnd.randint(-99999, 99999) / 100:.2f},"
                   f"{'' if i % 5 == 0 else 'v' + str(i % 1000)}")  # fmt: skip
    return ("\n".join(out) + "\n").encode()


def best(f, repeat: int) -> tuple[float, object]:
    t_best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = f()
        t_best = min(t_best, time.perf_counter() - t0)
    return t_best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    t = fastetl.read_csv(make_csv(args.rows), SCHEMA)
    raw_s = np.asarray(t.raw("s"))
    codes = np.asarray(t.raw("c"))
    values = t.meta["categories"]["c"]
    reference = [b.decode("utf-8") for b in raw_s.tolist()]

    def loop():
        return np.array([b.decode("utf-8") for b in raw_s.tolist()], dtype=object)

    def char_decode():
        return np.char.decode(raw_s, "utf-8").astype(object)

    def map_decode():
        out = np.empty(len(raw_s), dtype=object)
        out[:] = list(map(bytes.decode, raw_s.tolist()))
        return out

    cases = [
        ("str: t[name] (one C loop: bridges.utf8_objects)", lambda: t["s"], reference),
        ("str: per-value bytes.decode loop (before)", loop, reference),
        ("str: numpy.char.decode -> object", char_decode, reference),
        ("str: map(bytes.decode)", map_decode, reference),
        ("str nullable (20% null): t[name]", lambda: t["n"], None),
        ("category: t[name] (take)", lambda: t["c"], None),
        ("category: codes.astype(int64) + fancy index (before)",
         lambda: np.array(values + [None], dtype=object)[codes.astype(np.int64)], None),
        ("decimal(2): t[name] (floats)", lambda: t["d"], None),
        ("decimal(2): t.decimal(name) (Decimal objects)", lambda: t.decimal("d"), None),
    ]  # fmt: skip
    if hasattr(np.dtypes, "StringDType"):
        cases.insert(1, ("str: astype(StringDType).astype(object) (replaced)",
                         lambda: raw_s.astype(np.dtypes.StringDType()).astype(object),
                         reference))  # fmt: skip
    if hasattr(np, "strings"):
        cases.insert(3, ("str: numpy.strings.decode -> object",
                         lambda: np.strings.decode(raw_s, "utf-8").astype(object),
                         reference))  # fmt: skip
    print(f"{args.rows:,} rows, best of {args.repeat}, numpy {np.__version__}")
    for label, f, ref in cases:
        secs, out = best(f, args.repeat)
        ok = "" if ref is None else ("  exact" if list(out) == ref else "  DIFFERENT")
        print(f"  {label:55s} {secs * 1e3:8.1f} ms{ok}")


if __name__ == "__main__":
    main()
