"""CSV export (RFC 4180, in the schema's own dialect): the columns the schema reads, so
that converting the export again with the same schema gives the same records.

The dialect: its delimiter; its quote (the escape, when there is one, doubled inside
quotes), or with no quote its escape before each delimiter, line break, comment mark
and escape in a value (no escape either: such a value is refused, ``CSV_BAD_CELL``);
its decimal mark; a header or none; ``skip_rows`` empty lines before it; a trailing
delimiter; the first null word when ``""`` is not a null; its encoding (the UTF-8
text transcoded, a character it cannot hold refused).  A cell not quoted by its kind
(a number, a date) that holds a byte the dialect reads otherwise is quoted.

What is written, in this order: every column of the schema (a ``skip`` column as an
empty column, so that the header still binds), then each column that only flag bits
read (not stored) and that only bool bits read, as ``true``/``false`` from its bit.
A bit defined by ``equals`` is derived from its column, not written; a column that
only ``equals`` bits read is written as the ``equals`` value of its bit that is set
(empty when none is): the same bits when read again.

Values: integers, floats (shortest text that reads back to the same float), decimals
(exact, the dialect's mark), bools (``true``/``false``), dates and datetimes in the
column's format (ISO 8601 without one; UTC datetimes with ``Z``), ``str`` and ``text``
values and categories as their value; a null as an empty cell (the dialect's first
null word when ``""`` is not a null; two quotes when the export has one column, where
an empty cell would be a blank line).  Text cells (``str``, ``text``, ``category``, the
header) are always quoted (with a quote); numbers, dates and bools only as said above;
``\\r\\n`` line ends.

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
that only ``equals`` bits read.  Nothing loops in Python per value.  JSON Lines
(export/jsonl.py) are made by the same loop and machinery (``json=True`` specs).
"""

from __future__ import annotations

import codecs
import json as _json
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


def text_cell(value: str, escape: bool, dialect: Any = None) -> str:
    """A text cell as the compiled loop writes one: quoted, quotes doubled, and with
    ``escape`` a leading ``'`` where the value would start a formula.  In ``dialect``
    (a :class:`~fastetl.schema.Dialect`; default RFC 4180): its quote (escape marks
    doubled too), or with no quote the escape before each byte the dialect reads
    otherwise; ``None`` when the dialect cannot spell the value."""
    if escape and _FORMULA_RE.match(value) and not _NUMBER_RE.match(value):
        value = "'" + value
    q = '"' if dialect is None else dialect.quote
    e = None if dialect is None else dialect.escape
    if q is not None:
        if e is not None:
            value = value.replace(e, e + e)
        return q + value.replace(q, q + q) + q
    special = _specials(dialect)
    if e is None:
        return None if any(ch in special for ch in value) else value  # type: ignore[return-value]
    return "".join(e + ch if ch in special else ch for ch in value)


def _specials(d: Any) -> str:
    """The characters a dialect reads as other than text in an unquoted cell."""
    return "".join(c for c in (d.delimiter, d.quote, d.escape, d.comment, "\r", "\n") if c)


def _dialect_args(d: Any) -> tuple[bytes, bytes, bytes, bytes, bytes, bool]:
    """The dialect as ``_core.csv_rows`` takes it."""
    def b(c: str | None) -> bytes:
        return c.encode("ascii") if c else b""

    return (b(d.delimiter), b(d.quote), b(d.escape), b(d.comment), b(d.decimal),
            bool(d.trailing_delimiter))  # fmt: skip


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
    special = _specials(d)
    words = [w for w in d.null_values if not any(ch in special for ch in w)]
    null = "" if "" in d.null_values or not words else words[0]
    if len(chosen) == 1 and null == "":
        if d.quote is None:
            if any(c.nullable for c in t.schema.columns if c.name in chosen):
                raise OutputError(
                    "a one-column CSV with no quote character cannot hold a null (an empty "
                    "line is skipped): export it with another column, or to another format"
                )
        else:
            null = d.quote * 2  # a lone empty cell would be a blank line, which readers skip
    specs = column_specs(t, chosen, formula_escape, sources, d)
    header = ""
    if d.header:
        cells = [text_cell(n, formula_escape, d) for n in chosen]
        bad = [n for n, c in zip(chosen, cells) if c is None]
        if bad:
            raise OutputError(
                f"column name {bad[0]!r} cannot be written in the schema's dialect (it holds "
                "a delimiter or line break, and there is no quote or escape)"
            )
        end = d.delimiter if d.trailing_delimiter else ""
        header = d.delimiter.join(cells) + end + "\r\n"
    # lines the reader skips before the header (or the first row): empty lines
    header = "\r\n" * d.skip_rows + header
    return {"names": chosen, "specs": specs, "null": null, "header": header,
            "dialect": _dialect_args(d), "encoding": d.encoding}  # fmt: skip


def column_specs(
    t: Table,
    names: list[str],
    escape: bool,
    sources: dict[str, list[tuple[str, str | None]]],
    d: Any,
    json: bool = False,
) -> list[dict[str, Any]]:
    """What the compiled loop reads for each output column: a stored column (with its
    null bit), a flag bit (JSON: by the bit's name), or a column only flag bits read."""
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
    for name in names:
        col = by_name.get(name)
        spec: dict[str, Any]
        if col is None and name not in sources:  # a flag bit, by its name
            at, mask = bit_at[name]
            specs.append({"kind": K["flagbit"], "offset": at, "bit_mask": mask})
            continue
        if col is None:  # a column only flag bits read
            bits = sources[name]
            if bits[0][1] is None:
                at, mask = bit_at[bits[0][0]]
                spec = {"kind": K["flagbit"], "offset": at, "bit_mask": mask}
            else:
                spec = {"kind": K["cells"], "make": "equals", "bits": bits, "quote": True,
                        "escape": escape}  # fmt: skip
            specs.append(spec)
            continue
        spec = _stored_spec(t, col, fields, escape, d, json)
        k = null_bit.get(name)
        if k is not None:
            spec["null_byte"] = nulls_at + k // 8
            spec["null_mask"] = 1 << (k % 8)
        specs.append(spec)
    return specs


def _stored_spec(
    t: Table, col: Any, fields: Any, escape: bool, d: Any, json: bool
) -> dict[str, Any]:
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
        return {"kind": K["cells"], "make": "text", "column": col, "escape_text": escape,
                "dialect": d, "json": json}  # fmt: skip
    if col.type == "category":
        values = t.meta["categories"][col.name]
        if json:
            made = [_json.dumps(v, ensure_ascii=False) for v in values]
        else:
            made = [text_cell(v, escape, d) for v in values]
        for v, c in zip(values, made):
            if c is None:
                raise OutputError(
                    f"column {col.name!r}: category {v!r} cannot be written in the schema's "
                    "dialect (it holds a delimiter or line break, and there is no quote or escape)"
                )
        cells = [c.encode("utf-8") for c in made]
        offsets = np.zeros(len(cells) + 1, dtype=np.int64)
        np.cumsum([len(c) for c in cells], out=offsets[1:])
        return {"kind": K["category"], "offset": at, "size": size, "cell_off": offsets,
                "cell_data": b"".join(cells), "most": max(map(len, cells), default=0)}  # fmt: skip
    if col.type in ("date", "datetime") and (json or col.format in _ISO):
        if col.type == "date":
            return {"kind": K["date"], "offset": at}
        unit = col.datetime_unit
        return {"kind": K["datetime"], "offset": at, "unit_mul": _UNITS[unit],
                "scale": _DIGITS[unit], "utc": utc(col)}  # fmt: skip
    # floats, and dates and datetimes in a format: cells made by Arrow for each batch
    return {"kind": K["cells"], "make": col.type, "column": col, "quote": not json,
            "json": json, "mark": d.decimal}  # fmt: skip


def _cells(pa: Any, pc: Any, part: Table, spec: dict[str, Any]) -> dict[str, Any]:
    """The batch's cells of a ``cells`` column, as buffers for the compiled loop."""
    make = spec["make"]
    n = len(part)
    if make == "text":
        nulls = part.null_mask(spec["column"].name) if spec["column"].nullable else None
        values = _strings(part, spec["column"].name, text_arrow, nulls)
        if spec["json"]:  # JSON strings (one json.dumps per value: text is rare in JSONL)
            out = pa.array(
                [None if v is None else _json.dumps(v, ensure_ascii=False)
                 for v in values.to_pylist()],
                pa.string(),
            )  # fmt: skip
        else:
            out = _quoted(pa, pc, part, spec, values)
    elif make == "equals":
        out = pa.nulls(n, pa.string())
        for bit, equals in spec["bits"]:
            out = pc.if_else(pa.array(part[bit]), pa.scalar(equals), out)
    else:
        col = spec["column"]
        raw = np.ascontiguousarray(part.array[col.name])
        if make in ("float32", "float64") and spec.get("json"):
            # JSON has no NaN (null) nor infinities (strings, as JSON.stringify's readers
            # of Python's json module take them)
            nulls = np.isnan(raw)
            out = pa.array(raw, mask=nulls if nulls.any() else None).cast(pa.string())
            out = pc.replace_substring_regex(out, pattern="^(-?)inf$", replacement='"\\1Infinity"')
        elif make in ("float32", "float64"):
            nulls = np.isnan(raw) if col.nullable else None
            out = pa.array(raw, mask=nulls if nulls is not None and nulls.any() else None)
            out = out.cast(pa.string())
            if spec["mark"] != ".":
                out = pc.replace_substring(out, pattern=".", replacement=spec["mark"])
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
    return cell_buffers(pa, out, n)


def cell_buffers(pa: Any, out: Any, n: int) -> dict[str, Any]:
    """An Arrow string array of ``n`` cells as the compiled loop's cell buffers."""
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


def _quoted(pa: Any, pc: Any, part: Table, spec: dict[str, Any], values: Any) -> Any:
    """Text values as cells the compiled loop writes as they are: quoted, quotes
    doubled, and with ``escape`` a leading ``'`` where a value would start a formula
    (as :func:`text_cell`, in the column's dialect); nulls stay null."""
    d = spec["dialect"]
    escape = spec["escape_text"]

    def lit(text: str) -> Any:
        return pa.scalar(text, values.type)

    if escape:
        formula = pc.and_not(
            pc.match_substring_regex(values, FORMULA_START),
            pc.match_substring_regex(values, PLAIN_NUMBER),
        )
        values = pc.if_else(formula, pc.binary_join_element_wise(lit("'"), values, lit("")), values)
    q, e = d.quote, d.escape
    if q is None:
        special = "[" + "".join(f"\\x{ord(c):02x}" for c in _specials(d)) + "]"
        if e is None:
            hit = pc.fill_null(pc.match_substring_regex(values, special), False)
            if pc.any(hit).as_py():
                row = int(np.flatnonzero(np.asarray(hit))[0])
                _refuse(part, spec["column"].name, row, _core.CSV_BAD_CELL)
            return values
        return pc.replace_substring_regex(values, pattern="(" + special + ")",
                                          replacement=e.replace("\\", "\\\\") + "\\1")  # fmt: skip
    if e is not None:
        values = pc.replace_substring(values, pattern=e, replacement=e + e)
    values = pc.replace_substring(values, pattern=q, replacement=q + q)
    return pc.binary_join_element_wise(lit(q), values, lit(q), lit(""))


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



def _row_most(specs: list[dict[str, Any]], null: bytes, json: bool = False) -> int:
    """Bytes one line takes at most."""
    total = 2 + len(specs)
    for spec in specs:
        kind = spec["kind"]
        total += len(spec.get("key", b""))
        if kind == K["str"]:
            most = (6 if json else 2) * spec["size"] + 3  # (JSON: \u00XX for a byte)
        elif kind in (K["category"], K["cells"]):
            most = 2 * spec["most"] + 3
        else:
            most = _MOST[kind] + 2 * json  # (JSON: decimals and dates quoted)
        total += max(most, len(null)) + 2  # (+2: quotes a dialect may need)
    return total + 1  # (a trailing delimiter)


def _lines(t: Table, plan: dict[str, Any], rows: int) -> Any:
    """The CSV text of the records, in pieces of about OUT_BYTES: each batch's rows are
    cut into pieces formatted by two threads at a time (the compiled loop runs without
    the GIL), handed out in order; at most three pieces exist at a time."""
    import pyarrow as pa
    import pyarrow.compute as pc

    null = plan["null"].encode("utf-8")
    json = plan.get("json", False)
    if plan["header"]:
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
                most = _row_most(specs, null, json)
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
    got, used, status, j = _core.csv_rows(
        records, at, stop, specs, null, buf, most, plan.get("dialect"), plan.get("json", False)
    )
    if status:
        _refuse(part, plan["names"][j], got, status)
    assert got == stop
    return memoryview(buf)[:used]


def _refuse(part: Table, name: str, row: int, status: int) -> None:
    """The error of a value the compiled loop refused."""
    if status == _core.CSV_BAD_CODE:
        part._codes(name)  # raises, naming the row, the code and the sidecar
    where = f"{part.path}: " if part.path is not None else ""
    if status == _core.CSV_BAD_CELL:
        stored = {c.name for c in part.schema.columns if c.type != "skip"}
        value = part[name][row] if name in stored else "?"
        raise OutputError(
            f"{where}column {name!r}, row {part._start + row:,}: {str(value)[:200]!r} cannot be "
            "written in the schema's CSV dialect (it holds a byte the dialect reads as a "
            "delimiter, quote, comment or line break, and the dialect has no quote or escape "
            "to keep it text)"
        )
    value = bytes(part.array[name][row])
    raise OutputError(
        f"{where}column {name!r}, row {part._start + row:,}: {value!r} is not valid UTF-8"
    )


def write(t: Table, plan: dict[str, Any], path: Path, rows: int) -> None:
    enc = plan.get("encoding", "utf-8")  # (JSON Lines: UTF-8)
    if codecs.lookup(enc).name == "utf-8":
        with open(path, "wb") as fh:
            for piece in _lines(t, plan, rows):
                fh.write(piece)
        return
    # the schema's encoding: the UTF-8 lines transcoded (one encoder: a BOM once)
    encoder = codecs.getincrementalencoder(enc)()
    lines = 0
    with open(path, "wb") as fh:
        for piece in _lines(t, plan, rows):
            text = bytes(piece).decode("utf-8")
            try:
                fh.write(encoder.encode(text))
            except UnicodeEncodeError as e:
                line = lines + text.count("\n", 0, e.start) + 1
                raise OutputError(
                    f"line {line:,} of the CSV: {e.object[e.start:e.end]!r} cannot be written in "
                    f"the schema's encoding {enc} (export to another format, or convert with a "
                    "schema in UTF-8)"
                ) from None
            lines += text.count("\n")
        fh.write(encoder.encode("", final=True))
