#!/usr/bin/env bash
# Instructions the core executes per row of the demo orders (callgrind), for A/B comparisons
# of core changes that wall time on a shared machine cannot resolve.
#
#   PYTHONPATH=<checkout>/src scripts/core_instructions.sh [ROWS] [KEEP]
#
# ROWS (default 20000) demo rows are generated.  KEEP, if given, is a comma-separated list of
# demo columns to convert, the others skipped ("-": avaliacao alone, i.e. the tokenizer and
# one int8); by default the whole demo schema, flags included.  Counts only what runs inside
# Parser.parse_block (tokenizer + conversions), not Python.  Needs valgrind.
set -euo pipefail
rows=${1:-20000}
keep=${2:-}
py=$(python -c 'import sys; print(sys.executable)')   # the real binary, not a pyenv shim
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/run.py" <<'PY'
import sys

import fastetl
from fastetl import demo

rows, keep = int(sys.argv[1]), sys.argv[2]
data = demo.generate_orders_bytes(rows)
schema = demo.demo_schema()
if keep:
    names = {"avaliacao"} if keep == "-" else set(keep.split(","))
    typed = {c["name"]: c for c in schema.to_dict()["columns"]}
    cols = [
        typed[n] if n in names and n in typed else {"name": n, "type": "skip"}
        for n in demo.COLUMNS
    ]
    schema = fastetl.Schema.from_dict({"columns": cols})
fastetl.read_csv(data, schema, workers=1)
PY
valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" \
    --toggle-collect='*Parser_parse_block*' "$py" "$work/run.py" "$rows" "$keep" \
    >"$work/log" 2>&1 || { cat "$work/log" >&2; exit 1; }
total=$(callgrind_annotate "$work/cg.out" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
echo "core instructions per row: $((total / rows)) (${total} over ${rows} rows${keep:+; columns: $keep})"
