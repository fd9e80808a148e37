"""JSON Lines export: one JSON object per row, keys in column order.

Values: integers and floats as JSON numbers (a float's shortest text that reads back
to the same float; NaN, fastetl's float null, as ``null``; infinities as the strings
``"Infinity"`` and ``"-Infinity"``, which JSON numbers cannot say); decimals as
exact strings (``"12.50"``: a JSON number would be read back as a binary float by
most parsers); bools as ``true``/``false``; dates as ``"YYYY-MM-DD"``; datetimes as
ISO 8601 ``"YYYY-MM-DDTHH:MM:SS[.fff...]"`` (as many fraction digits as the column's
unit) with ``Z`` where the column holds UTC instants; text and categories as strings
(RFC 8259 escapes: ``\\"``, ``\\\\``, ``\\n \\r \\t \\b \\f``, ``\\u00XX`` for the other
controls; other characters as UTF-8); flag bits as booleans; nulls as ``null``.

The lines are made by the CSV export's compiled loop (``_core.csv_rows`` with
``json=True``, without the GIL, two threads; see export/csv.py): each column's key
is written before its value.  Only floats are spelled by Arrow's kernels, as cells.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .. import bridges
from ..table import Table
from . import csv as _csv
from . import need_pyarrow, pick


def plan(t: Table, columns: list[str] | None, fmt: str, formula_escape: bool) -> dict[str, Any]:
    need_pyarrow("export to jsonl")
    names = pick(bridges.arrow_schema(t).names, columns)
    specs = _csv.column_specs(t, names, False, {}, t.schema.dialect, json=True)
    for k, (name, spec) in enumerate(zip(names, specs, strict=True)):
        key = ("{" if k == 0 else ",") + json.dumps(name, ensure_ascii=False) + ":"
        spec["key"] = key.encode("utf-8")
    return {"names": names, "specs": specs, "null": "null", "header": "", "json": True}


def write(t: Table, plan: dict[str, Any], path: Path, rows: int) -> None:
    _csv.write(t, plan, path, rows)
