"""What data-quality rules that are plain comparisons cost a conversion (issue 19, item 5).

    PYTHONPATH=src python benchmarks/rules.py [ROWS] [REPEATS] [WORKERS]

Generates the demo orders (ROWS rows, 300,000 by default: ~60 MB) in a temporary folder,
then converts them to .npy with the demo schema, alternately without rules and with
plain comparison rules (min/max on decimals, an int and a date; a row rule comparing two
decimal columns), best of REPEATS each, and prints MB/s and the ratio.  No row breaks
a rule (so the cost measured is the checking, not the bad-row path).  Indicative only:
the machines are shared and noisy.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import fastetl
from fastetl import demo


def with_rules(schema: fastetl.Schema) -> fastetl.Schema:
    d = schema.to_dict()
    rules = {
        "preco": {"min": 0},
        "quantidade": {"min": 1, "max": 1000},
        "frete": {"min": 0, "max": "10000"},
        "data_pedido": {"min": "2000-01-01"},
    }
    for c in d["columns"]:
        c.update(rules.get(c["name"], {}))
    d["rules"] = [{"name": "valor_positivo", "expr": "valor_total >= 0"}]
    return fastetl.Schema.from_dict(d)


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 300_000
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    workers = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    plain = demo.demo_schema()
    ruled = with_rules(plain)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "orders.csv"
        demo.generate_orders(src, rows)
        mb = src.stat().st_size / 1e6
        best = {"no rules": float("inf"), "rules": float("inf")}
        for _ in range(repeats):
            for name, schema in (("no rules", plain), ("rules", ruled)):
                t = time.perf_counter()
                rep = fastetl.convert(src, Path(tmp) / "out.npy", schema=schema, workers=workers)
                best[name] = min(best[name], time.perf_counter() - t)
                assert rep.rows == rows, "no row breaks the rules"
    for name, t in best.items():
        print(f"{name:10s} {mb:7.1f} MB  best {t:6.3f} s  {mb / t:7.1f} MB/s")
    print(f"rules / no rules: {best['rules'] / best['no rules']:.3f}")


if __name__ == "__main__":
    main()
