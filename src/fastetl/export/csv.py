"""CSV export (RFC 4180): the columns the schema reads, so that converting the export
again with the same schema gives the same records.

What is written, in this order: every column of the schema (a ``skip`` column as an
empty column, so that the header still binds), then each column that only flag bits
read (not stored) and that only bool bits read, as ``true``/``false`` from its bit.
A bit defined by ``equals`` is derived from its column, not written; a column that
only ``equals`` bits read is written as the ``equals`` value of its bit that is set
(empty when none is): the same bits when read again.

Values: integers, floats (shortest text that reads back to the same float), decimals
(exact, ``.`` mark), bools (``true``/``false``), dates and datetimes in the column's
format (ISO 8601 without one; UTC datetimes with ``Z``), text as UTF-8, categories
as their value; a null as an empty cell (the dialect's first null word when ``""`` is
not a null; ``""`` when the export has one column, where an empty cell would be a
blank line).  Text cells (``str``, ``category``, the header) are always quoted;
numbers, dates and bools never are; ``\\r\\n`` line ends; a header.

Formula neutralising (``formula_escape``, on by default), after OWASP's "CSV
Injection": a cell of a text column (``str``, ``category``, the header) that starts
with ``=``, ``+``, ``-``, ``@``, TAB or CR gets a leading ``'`` -- unless the whole
cell is a plain decimal number (``-12.5``, ``+3``, ``-1e5``: a spreadsheet reads it as
a number, never a formula).  Cells of number, date, datetime and bool columns are
never changed: fastetl writes them, and they are numbers or dates.

The lines are made by a compiled loop (``_core.csv_rows``, without the GIL, on two
threads at once, pieces of a batch handed out in order); the few spellings it
does not make are ready cells made by Arrow's kernels: floats (the shortest text that
reads back to the same float), dates and datetimes in a custom format, and columns
that only ``equals`` bits read.  Nothing loops in Python per value.
"""

from __future__ import annotations

import re
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from .. import _core
from ..bridges import _strings, text_arrow, utc
from ..errors import OutputError
from ..table import Table
from . import need_pyarrow, pick

# a cell a spreadsheet may run: it starts with one of these (OWASP, "CSV Injection")
FORMULA_START = r"^[=+\-@\t\r]"
# ... unless it is a plain decimal number, which a spreadsheet reads as a number
PLAIN_NUMBER = r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"
_ISO = (None, "iso")
_FORMULA_RE = re.compile(FORMULA_START)
_NUMBER_RE = re.compile(PLAIN_NUMBER)
K = _core.CSV_KINDS
_UNITS = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}
_DIGITS = {"s": 0, "ms": 3, "us": 6, "ns": 9}
# bytes a value of each kind takes at most (text: from its width or its cells)
_MOST = {K["empty"]: 0, K["int"]: 20, K["uint"]: 20, K["decimal"]: 22, K["date"]: 10,
         K["datetime"]: 30, K["bool"]: 5, K["flagbit"]: 5}  # fmt: skip
OUT_BYTES = 8 << 20  # bytes of CSV text per piece (at least one line)


def text_cell(value: str, escape: bool) -> str:
    """A text cell as the compiled loop writes one: quoted, quotes doubled, and with
    ``escape`` a leading ``'`` where the value would start a formula."""
    if escape and _FORMULA_RE.match(value) and not _NUMBER_RE.match(value):
        value = "'" + value
    return '"' + value.replace('"', '""') + '"'


def _sources(t: Table) -> dict[str, list[tuple[str, str | None]]]:
    """Columns only flag bits read (not in the schema's columns): name -> [(bit, equals)]."""
    named = {c.name for c in t.schema.columns}
    out: dict[str, list[tuple[str, str | None]]] = {}
    for f in t.schema.flags:
        for b in f.bits:
            if b.column not in named:
                out.setdefault(b.column, []).append((b.name, b.equals))
    for name, bits in out.items():
        kinds = {eq is None for _, eq in bits}
        if len(kinds) > 1:
            raise OutputError(
                f"column {name!r} is read by flag bits both as a bool and with equals, and "
                "is not stored: it cannot be written back as CSV"
            )
    return out



def plan(t: Table, columns: list[str] | None, fmt: str, formula_escape: bool) -> dict[str, Any]:
    need_pyarrow("export to csv")
    sources = _sources(t)
    names = [c.name for c in t.schema.columns] + list(sources)
    chosen = pick(names, columns)
    d = t.schema.dialect
    null = "" if "" in d.null_values or not d.null_values else d.null_values[0]
    if '"' in null or "\r" in null or "\n" in null or "," in null:
        null = ""
    if len(chosen) == 1 and null == "":
        null = '""'  # a lone empty cell would be a blank line, which readers skip
    assert t.array.dtype.fields is not None
    fields = t.array.dtype.fields
    nulls_at = fields["_nulls"][1] if "_nulls" in fields else 0
    null_bit = {c.name: k for k, c in enumerate(t.schema.masked_columns)}
    bit_at = {
        b.name: (fields[f.name][1] + i // 8, 1 << (i % 8))
        for f in t.schema.flags
        for i, b in enumerate(f.bits)
    }
    by_name = {c.name: c for c in t.schema.columns}
    specs: list[dict[str, Any]] = []
    for name in chosen:
        col = by_name.get(name)
        spec: dict[str, Any]
        if col is None:  # a column only flag bits read
            bits = sources[name]
            if bits[0][1] is None:
                at, mask = bit_at[bits[0][0]]
                spec = {"kind": K["flagbit"], "offset": at, "bit_mask": mask}
            else:
                spec = {"kind": K["cells"], "make": "equals", "bits": bits, "quote": True,
                        "escape": formula_escape}  # fmt: skip
            specs.append(spec)
            continue
        spec = _stored_spec(t, col, fields, formula_escape)
        k = null_bit.get(name)
        if k is not None:
            spec["null_byte"] = nulls_at + k // 8
            spec["null_mask"] = 1 << (k % 8)
        specs.append(spec)
    header = ",".join(text_cell(n, formula_escape) for n in chosen) + "\r\n"
    return {"names": chosen, "specs": specs, "null": null, "header": header}


def _stored_spec(t: Table, col: Any, fields: Any, escape: bool) -> dict[str, Any]:
    if col.type == "skip":
        return {"kind": K["empty"]}
    at = fields[col.name][1]
    size = np.dtype(col.numpy_format).itemsize
    if col.type.startswith("int"):
        return {"kind": K["int"], "offset": at, "size": size}
    if col.type.startswith("uint"):
        return {"kind": K["uint"], "offset": at, "size": size}
    if col.type == "bool":
        return {"kind": K["bool"], "offset": at}
    if col.type == "decimal":
        scale = col.scale or 0
        return {"kind": K["decimal"], "offset": at, "scale": scale, "unit_mul": 10**scale}
    if col.type == "str":
        return {"kind": K["str"], "offset": at, "size": col.width, "escape": escape}
    if col.type == "text":  # cells made quoted (and neutralised) for each batch
        return {"kind": K["cells"], "make": "text", "column": col, "escape_text": escape}
    if col.type == "category":
        cells = [text_cell(v, escape).encode("utf-8") for v in t.meta["categories"][col.name]]
        offsets = np.zeros(len(cells) + 1, dtype=np.int64)
        np.cumsum([len(c) for c in cells], out=offsets[1:])
        return {"kind": K["category"], "offset": at, "size": size, "cell_off": offsets,
                "cell_data": b"".join(cells), "most": max(map(len, cells), default=0)}  # fmt: skip
    if col.type in ("date", "datetime") and col.format in _ISO:
        if col.type == "date":
            return {"kind": K["date"], "offset": at}
        unit = col.datetime_unit
        return {"kind": K["datetime"], "offset": at, "unit_mul": _UNITS[unit],
                "scale": _DIGITS[unit], "utc": utc(col)}  # fmt: skip
    # floats, and dates and datetimes in a format: cells made by Arrow for each batch
    return {"kind": K["cells"], "make": col.type, "column": col, "quote": True}


def _cells(pa: Any, pc: Any, part: Table, spec: dict[str, Any]) -> dict[str, Any]:
    """The batch's cells of a ``cells`` column, as buffers for the compiled loop."""
    make = spec["make"]
    n = len(part)
    if make == "text":
        nulls = part.null_mask(spec["column"].name) if spec["column"].nullable else None
        values = _strings(part, spec["column"].name, text_arrow, nulls)
        out = _quoted(pa, pc, values, spec["escape_text"])
    elif make == "equals":
        out = pa.nulls(n, pa.string())
        for bit, equals in spec["bits"]:
            out = pc.if_else(pa.array(part[bit]), pa.scalar(equals), out)
    else:
        col = spec["column"]
        raw = np.ascontiguousarray(part.array[col.name])
        if make in ("float32", "float64"):
            nulls = np.isnan(raw) if col.nullable else None
            out = pa.array(raw, mask=nulls if nulls is not None and nulls.any() else None)
            out = out.cast(pa.string())
        else:
            values = raw.view("<i8")
            nat = values == np.iinfo(np.int64).min
            mask = nat if nat.any() else None
            if make == "date":
                ts = pa.array(values.astype("<i4"), type=pa.date32(), mask=mask)
                out = pc.strftime(ts.cast(pa.timestamp("s")), format=col.format, locale="C")
            else:
                unit = col.datetime_unit
                tz = "UTC" if utc(col) else None
                ts = pa.array(values, type=pa.timestamp(unit, tz=tz), mask=mask)
                out = _strftime(pa, pc, ts, col.format, unit, tz)
    if isinstance(out, pa.ChunkedArray):
        out = out.combine_chunks()
    if out.type not in (pa.string(), pa.large_string()):
        out = out.cast(pa.string())
    width = np.int64 if out.type == pa.large_string() else np.int32
    offsets = np.frombuffer(out.buffers()[1], dtype=width, count=out.offset + n + 1)
    offsets = offsets[out.offset :].astype(np.int64)
    data = out.buffers()[2]
    valid = None
    if out.null_count:
        valid = np.asarray(out.is_valid(), dtype=np.uint8)
    most = int((offsets[1:] - offsets[:-1]).max()) if n else 0
    return {"cell_off": offsets, "cell_data": data if data is not None else b"",
            "cell_valid": valid, "most": most}  # fmt: skip


def _quoted(pa: Any, pc: Any, values: Any, escape: bool) -> Any:
    """Text values as cells the compiled loop writes as they are: quoted, quotes
    doubled, and with ``escape`` a leading ``'`` where a value would start a formula
    (as :func:`text_cell`); nulls stay null."""
    def lit(text: str) -> Any:
        return pa.scalar(text, values.type)

    if escape:
        formula = pc.and_not(
            pc.match_substring_regex(values, FORMULA_START),
            pc.match_substring_regex(values, PLAIN_NUMBER),
        )
        values = pc.if_else(formula, pc.binary_join_element_wise(lit("'"), values, lit("")), values)
    values = pc.replace_substring(values, pattern='"', replacement='""')
    return pc.binary_join_element_wise(lit('"'), values, lit('"'), lit(""))


def _strftime(pa: Any, pc: Any, values: Any, fmt: str, unit: str, tz: str | None) -> Any:
    """Timestamps as text by a strptime-like format, ``%f`` as the fraction digits of
    ``unit`` (Arrow's ``%S`` would print the fraction itself: seconds are formatted
    from whole seconds, the fraction from the remainder)."""
    digits = {"s": 0, "ms": 3, "us": 6, "ns": 9}[unit]
    per = 10**digits
    raw = values.cast(pa.int64())
    ints = raw.to_numpy(zero_copy_only=False)
    valid = np.asarray(values.is_valid())
    ints = np.where(valid, ints, 0)
    secs = pa.array(ints // per, type=pa.timestamp("s", tz=tz), mask=~valid)
    out = []
    for k, piece in enumerate(fmt.split("%f")):
        if k:  # the fraction, zero-padded to the unit's digits (one 0 for seconds)
            frac = pa.array(ints % per).cast(pa.string())
            out.append(pc.utf8_lpad(frac, width=max(digits, 1), padding="0"))
        if piece:
            out.append(pc.strftime(secs, format=piece, locale="C"))
    if not out:  # pragma: no cover - a format is never empty
        return pa.nulls(len(values), pa.string())
    return pc.binary_join_element_wise(*out, "") if len(out) > 1 else out[0]



def _row_most(specs: list[dict[str, Any]], null: bytes) -> int:
    """Bytes one line takes at most."""
    total = 2 + len(specs)
    for spec in specs:
        kind = spec["kind"]
        if kind == K["str"]:
            most = 2 * spec["size"] + 3
        elif kind in (K["category"], K["cells"]):
            most = 2 * spec["most"] + 3
        else:
            most = _MOST[kind]
        total += max(most, len(null))
    return total


def _lines(t: Table, plan: dict[str, Any], rows: int) -> Any:
    """The CSV text of the records, in pieces of about OUT_BYTES: each batch's rows are
    cut into pieces formatted by two threads at a time (the compiled loop runs without
    the GIL), handed out in order; at most three pieces exist at a time."""
    import pyarrow as pa
    import pyarrow.compute as pc

    null = plan["null"].encode("utf-8")
    yield plan["header"].encode("utf-8")
    with ThreadPoolExecutor(2, thread_name_prefix="fastetl-csv") as pool:
        pending: deque[Future] = deque()
        try:
            for _, _, part in t._slices(rows):
                specs = []
                for spec in plan["specs"]:
                    if spec["kind"] == K["cells"]:
                        spec = {**spec, **_cells(pa, pc, part, spec)}
                    specs.append(spec)
                most = _row_most(specs, null)
                records = np.ascontiguousarray(part.array)
                step = max(1, OUT_BYTES // most)
                for at in range(0, len(records), step):
                    stop = min(len(records), at + step)
                    args = (part, plan, records, at, stop, specs, null, most)
                    pending.append(pool.submit(_piece, *args))
                    if len(pending) >= 3:
                        yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for f in pending:
                f.cancel()


def _piece(part: Table, plan: dict[str, Any], records: np.ndarray, at: int, stop: int,
           specs: list[dict[str, Any]], null: bytes, most: int) -> memoryview:  # fmt: skip
    """Rows [at, stop) of a batch as CSV text (one call of the compiled loop)."""
    buf = bytearray((stop - at) * most)
    got, used, status, j = _core.csv_rows(records, at, stop, specs, null, buf, most)
    if status:
        _refuse(part, plan["names"][j], got, status)
    assert got == stop
    return memoryview(buf)[:used]


def _refuse(part: Table, name: str, row: int, status: int) -> None:
    """The error of a value the compiled loop refused."""
    if status == _core.CSV_BAD_CODE:
        part._codes(name)  # raises, naming the row, the code and the sidecar
    where = f"{part.path}: " if part.path is not None else ""
    value = bytes(part.array[name][row])
    raise OutputError(
        f"{where}column {name!r}, row {part._start + row:,}: {value!r} is not valid UTF-8"
    )


def write(t: Table, plan: dict[str, Any], path: Path, rows: int) -> None:
    with open(path, "wb") as fh:
        for piece in _lines(t, plan, rows):
            fh.write(piece)
