"""JSON Lines export: one JSON object per row, keys in column order.

Values: integers and floats as JSON numbers (a float's shortest text that reads back
to the same float; NaN, fastetl's float null, as ``null``; infinities as the strings
``"Infinity"`` and ``"-Infinity"``, which JSON numbers cannot say); decimals as
exact strings (``"12.50"``: a JSON number would be read back as a binary float by
most parsers); bools as ``true``/``false``; dates as ``"YYYY-MM-DD"``; datetimes as
ISO 8601 ``"YYYY-MM-DDTHH:MM:SS[.fff...]"`` with ``Z`` where the column holds UTC
instants; text and categories as strings; flag bits as booleans; nulls as ``null``.

Each column is made into JSON text by Arrow's compiled kernels and the rows are
joined column-wise (``binary_join_element_wise``); nothing loops in Python per value
except strings holding control characters other than tab, CR and LF (rare), which
``json.dumps`` escapes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .. import bridges
from ..table import Table
from . import need_pyarrow, pick, read_ahead

_ESCAPES = (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t"))
_NEEDS_ESCAPE = '[\\\\"\\x00-\\x1f]'
_OTHER_CONTROL = "[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f]"


def plan(t: Table, columns: list[str] | None, fmt: str, formula_escape: bool) -> dict[str, Any]:
    need_pyarrow("export to jsonl")
    schema = bridges.arrow_schema(t)
    names = pick(schema.names, columns)
    return {"schema": schema, "names": names}


def json_strings(pa: Any, pc: Any, values: Any) -> Any:
    """A string array as JSON string literals (quoted, escaped); nulls stay null."""
    out = values
    if not pc.any(pc.match_substring_regex(values, _NEEDS_ESCAPE)).as_py():
        return pc.binary_join_element_wise('"', out, '"', "")
    for a, b in _ESCAPES:
        out = pc.replace_substring(out, pattern=a, replacement=b)
    if pc.any(pc.match_substring_regex(out, _OTHER_CONTROL)).as_py():
        # json.dumps escapes them all (from the values, not from the escaped text)
        fixed = [None if v is None else json.dumps(v)[1:-1] for v in values.to_pylist()]
        out = pa.array(fixed, type=pa.string())
    return pc.binary_join_element_wise('"', out, '"', "")


def _fragment(pa: Any, pc: Any, values: Any) -> Any:
    """One column of a batch as JSON text (null where the value is null)."""
    t = values.type
    if pa.types.is_dictionary(t):
        return pc.take(json_strings(pa, pc, values.dictionary), values.indices)
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return json_strings(pa, pc, values)
    if pa.types.is_decimal(t) or pa.types.is_date(t):
        return pc.binary_join_element_wise('"', values.cast(pa.string()), '"', "")
    if pa.types.is_timestamp(t):
        text = pc.strftime(values, format="%Y-%m-%dT%H:%M:%S", locale="C")
        end = 'Z"' if t.tz is not None else '"'
        return pc.binary_join_element_wise('"', text, end, "")
    if pa.types.is_floating(t):
        text = values.cast(pa.string())
        text = pc.replace_substring(text, pattern="-inf", replacement='"-Infinity"')
        text = pc.replace_substring_regex(text, pattern="^inf$", replacement='"Infinity"')
        nan = pc.is_nan(values)
        return pc.if_else(nan, pa.scalar(None, pa.string()), text)
    return values.cast(pa.string())  # integers, bools (true/false)


def write(t: Table, plan: dict[str, Any], path: Path, rows: int) -> None:
    import pyarrow as pa
    import pyarrow.compute as pc

    names = plan["names"]
    keys = [json.dumps(n, ensure_ascii=False) + ":" for n in names]

    def text(batch: Any) -> Any:
        parts: list[Any] = []
        for k, name in enumerate(names):
            frag = pc.fill_null(_fragment(pa, pc, batch.column(name)), "null")
            parts += [("{" if k == 0 else ",") + keys[k], frag]
        if not names:
            parts = ["{"]
        return pc.binary_join_element_wise(*parts, "}\n", "")

    with open(path, "wb") as fh:
        batches = (b for b in t.iter_batches(rows) if b.num_rows)
        for lines in read_ahead(text(b) for b in batches):
            # the lines are back to back in the data buffer: one write per batch
            first, last = _span(lines, lines.buffers()[1])
            fh.write(memoryview(lines.buffers()[2])[first:last])


def _span(lines: Any, offsets: Any) -> tuple[int, int]:
    import numpy as np

    off = np.frombuffer(offsets, dtype=np.int32, count=len(lines) + 1 + lines.offset)
    return int(off[lines.offset]), int(off[lines.offset + len(lines)])
