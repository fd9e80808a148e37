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
blank line).  Text cells are quoted (pyarrow's ``"needed"`` style quotes every
string), numbers, dates and bools are not; ``\\r\\n`` line ends; a header.

Formula neutralising (``formula_escape``, on by default), after OWASP's "CSV
Injection": a cell of a text column (``str``, ``category``, the header) that starts
with ``=``, ``+``, ``-``, ``@``, TAB or CR gets a leading ``'`` -- unless the whole
cell is a plain decimal number (``-12.5``, ``+3``, ``-1e5``: a spreadsheet reads it as
a number, never a formula).  Cells of number, date, datetime and bool columns are
never changed: fastetl writes them, and they are numbers or dates.

Every value is formatted by Arrow's compiled kernels and written by pyarrow's CSV
writer; nothing loops in Python per value.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .. import bridges
from ..errors import OutputError
from ..table import Table
from . import need_pyarrow, pick, read_ahead

# a cell a spreadsheet may run: it starts with one of these (OWASP, "CSV Injection")
FORMULA_START = r"^[=+\-@\t\r]"
# ... unless it is a plain decimal number, which a spreadsheet reads as a number
PLAIN_NUMBER = r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"
_ISO = (None, "iso")


def neutralise(arr: Any) -> Any:
    """A string array with each cell that could run as a formula prefixed by ``'``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    risky = pc.match_substring_regex(arr, FORMULA_START)
    if not pc.any(risky).as_py():
        return arr
    risky = pc.and_(risky, pc.invert(pc.match_substring_regex(arr, PLAIN_NUMBER)))
    return pc.if_else(risky, pc.binary_join_element_wise("'", arr, ""), arr)


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
    if '"' in null:
        null = ""
    return {
        "schema": bridges.arrow_schema(t),
        "names": chosen,
        "columns": {c.name: c for c in t.schema.columns},
        "sources": sources,
        "escape": formula_escape,
        "null": null,
    }


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


def _column(pa: Any, pc: Any, batch: Any, name: str, plan: dict[str, Any]) -> Any:
    col = plan["columns"].get(name)
    n = batch.num_rows
    if col is None:  # a column only flag bits read
        bits = plan["sources"][name]
        if bits[0][1] is None:  # bool bits: the column's value is the bit
            return batch.column(bits[0][0])
        out = pa.nulls(n, pa.string())
        for bit, equals in bits:
            out = pc.if_else(batch.column(bit), pa.scalar(equals), out)
        return out
    if col.type == "skip":
        return pa.nulls(n, pa.string())
    values = batch.column(name)
    if col.type == "category":
        dictionary = values.dictionary
        if plan["escape"]:
            dictionary = neutralise(dictionary)
        return pc.take(dictionary, values.indices)
    if col.type == "str":
        return neutralise(values) if plan["escape"] else values
    if col.type == "date" and col.format not in _ISO:
        ts = values.cast(pa.timestamp("s"))
        return pc.strftime(ts, format=col.format, locale="C")
    if col.type == "datetime" and col.format not in _ISO:
        return _strftime(pa, pc, values, col.format, col.datetime_unit, values.type.tz)
    return values


def write(t: Table, plan: dict[str, Any], path: Path, rows: int) -> None:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv

    names = plan["names"]
    header = [str(neutralise(pa.array([n]))[0]) if plan["escape"] else n for n in names]
    options = pcsv.WriteOptions(
        include_header=True, eol="\r\n", null_string=plan["null"], quoting_style="needed"
    )

    def text(batch: Any) -> Any:
        arrays = [_column(pa, pc, batch, name, plan) for name in names]
        if len(arrays) == 1 and plan["null"] == "":
            # a lone empty cell is a blank line, which readers skip: write "" instead
            arrays = [pc.fill_null(arrays[0].cast(pa.string()), "")]
        return pa.RecordBatch.from_arrays(arrays, names=header)

    writer = None
    try:
        for out in read_ahead(text(b) for b in t.iter_batches(rows)):
            if writer is None:
                writer = pcsv.CSVWriter(str(path), out.schema, write_options=options)
            writer.write_batch(out)
    finally:
        if writer is not None:
            writer.close()
