"""Records -> Arrow, pandas and Polars columns.

Every column is decoded by numpy operations over the whole column or by one loop of
the compiled core (``_bridges.pxi``), never by Python code per value:

* ``str`` (fixed-width UTF-8, NUL-padded): :func:`arrow_strings` builds the Arrow
  offsets and data buffers in one C pass (each value's length is its width less the
  trailing NULs, numpy's own rule); :func:`utf8_objects` makes the ``str`` objects in
  one C loop where Arrow is not wanted.
* ``text`` (each record holds the offset and length of its value in the table's text
  bytes, ``OUT.text.npy``): :func:`text_arrow` gathers the values into Arrow
  ``large_string`` buffers in one C pass; :func:`text_objects` makes ``str`` objects.
* ``category``: the sidecar dictionary as the Arrow dictionary (or the pandas
  categories), the stored codes as the indices.
* ``decimal(scale)``: the scaled int64 *is* the low word of a ``decimal128(19, scale)``;
  the high word is its sign (no float on the way).
* ``date`` -> ``date32``; ``datetime`` -> ``timestamp(unit)``, with ``tz="UTC"``
  where the column holds UTC instants (schema ``"tz": "UTC"``, which inference sets when
  the values carry offsets, or a ``%z`` format: the core stores a value with an offset as
  its UTC instant), naive otherwise.
* nulls: the validity bitmaps come from the null masks (NaN/NaT for float and date
  columns), flag bits become bool columns.

pyarrow, pandas and polars are imported when first needed; a missing one is an
ImportError that names the extra to install.

The functions here take a :class:`fastetl.Table` (this module does not import it:
``table.py`` calls in); :func:`arrow_strings` and :func:`utf8_objects` take plain
numpy arrays and are for any reader that holds fixed-width UTF-8 bytes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from . import _core
from .errors import OutputError
from .schema import Column

_INT32_MAX = 2**31 - 1
_DECIMAL_PRECISION = 19  # every int64 has at most 19 digits
_NAT = np.iinfo(np.int64).min  # NaT's int64 view

_EXTRAS = {"pyarrow": "arrow", "pandas": "pandas", "polars": "polars"}


def _need(module: str, what: str) -> Any:
    """Import an optional dependency, or say which extra installs it."""
    try:
        return __import__(module)
    except ImportError:
        raise ImportError(
            f'{what} needs {module}: pip install "fastetl[{_EXTRAS[module]}]"'
        ) from None


class InvalidUTF8(ValueError):
    """A fixed-width value that is not UTF-8 (a ``.npy`` written by another program
    or edited by hand: the converter only stores valid UTF-8)."""

    def __init__(self, index: int, value: bytes) -> None:
        super().__init__(f"value {index} is not valid UTF-8: {value!r}")
        self.index = index
        self.value = value


# -- fixed-width UTF-8 -----------------------------------------------------------
def _validity(pa: Any, nulls: np.ndarray | None) -> tuple[Any, int]:
    """(Arrow validity bitmap or None, null count) for a bool mask of nulls."""
    if nulls is None:
        return None, 0
    count = int(np.count_nonzero(nulls))
    if count == 0:
        return None, 0
    return pa.py_buffer(np.packbits(~nulls, bitorder="little")), count


def arrow_strings(
    raw: np.ndarray, nulls: np.ndarray | None = None, *, large: bool | None = None
) -> Any:
    """A ``pyarrow`` string array of the numpy ``S`` array ``raw`` (UTF-8, NUL-padded:
    each value is its bytes up to the trailing NULs, as numpy reads it).

    ``raw`` may be strided (a field of a structured array): it is read in place.
    ``nulls`` (bool, True = null) becomes the validity bitmap.  The type is
    ``pa.string()``, or ``pa.large_string()`` when ``large`` is True, or when it is
    None and the values hold more than 2**31-1 bytes.  The offsets and the data are
    built by one C pass each (no Python object per value).  Raises
    :class:`InvalidUTF8` at the first value that is not UTF-8.
    """
    pa = _need("pyarrow", "arrow_strings()")
    if raw.ndim != 1 or raw.dtype.kind != "S":
        raise TypeError(f"expected a 1-d numpy S array, got {raw.dtype} of {raw.ndim} dimensions")
    n = len(raw)
    wide = bool(large) or (large is None and n * raw.itemsize > _INT32_MAX)
    offsets = np.empty(n + 1, dtype=np.int64 if wide else np.int32)
    try:
        data, bad = _core.utf8_arrow(raw, offsets)
    except OverflowError:
        if large is not None:
            raise
        offsets = np.empty(n + 1, dtype=np.int64)
        data, bad = _core.utf8_arrow(raw, offsets)
        wide = True
    if bad >= 0:
        raise InvalidUTF8(bad, bytes(raw[bad]))
    validity, count = _validity(pa, nulls)
    return pa.Array.from_buffers(
        pa.large_string() if wide else pa.string(),
        n,
        [validity, pa.py_buffer(offsets), pa.py_buffer(data)],
        null_count=count,
    )


def utf8_objects(raw: np.ndarray, nulls: np.ndarray | None = None, null: Any = None) -> np.ndarray:
    """The numpy ``S`` array ``raw`` (UTF-8, NUL-padded) as an object array of ``str``,
    made by one C loop; ``null`` where ``nulls`` is True.  Raises :class:`InvalidUTF8`
    at the first value that is not UTF-8."""
    if raw.ndim != 1 or raw.dtype.kind != "S":
        raise TypeError(f"expected a 1-d numpy S array, got {raw.dtype} of {raw.ndim} dimensions")
    out = np.empty(len(raw), dtype=object)
    bad = _core.utf8_objects(raw, out)
    if bad >= 0:
        raise InvalidUTF8(bad, bytes(raw[bad]))
    if nulls is not None:
        out[nulls] = null
    return out


# -- out-of-line text --------------------------------------------------------------
class TextPastEnd(ValueError):
    """A text reference that points past the end of the text bytes (a text file that is
    not the records' own, or damaged)."""

    def __init__(self, index: int) -> None:
        super().__init__(f"value {index} points past the end of the text bytes")
        self.index = index


def _text_refs(text: np.ndarray, refs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, lengths) of text references, checked to lie within ``text``."""
    if refs.dtype.names != ("offset", "length"):
        raise TypeError(f"expected text references (offset, length), got {refs.dtype}")
    off, ln = refs["offset"], refs["length"]
    if len(refs):
        past = off > np.uint64(len(text))
        past |= off + ln.astype(np.uint64) > np.uint64(len(text))
        if past.any():
            raise TextPastEnd(int(np.argmax(past)))
    return off, ln


def text_arrow(text: np.ndarray, refs: np.ndarray, nulls: np.ndarray | None = None) -> Any:
    """A ``pyarrow`` large_string array of the text values ``refs`` (a numpy array of
    (offset, length) records, any stride) point to in ``text`` (uint8); ``nulls``
    becomes the validity bitmap.  One C pass, no Python object per value.  Raises
    :class:`InvalidUTF8` at the first value that is not UTF-8 or lies past ``text``."""
    pa = _need("pyarrow", "text_arrow()")
    if refs.dtype.names != ("offset", "length"):
        raise TypeError(f"expected text references (offset, length), got {refs.dtype}")
    offsets = np.empty(len(refs) + 1, dtype=np.int64)
    # (the references are checked against ``text`` in the compiled gather's first pass)
    data, bad, past, _ = _core.text_arrow(text, refs["offset"], refs["length"], offsets)
    if past >= 0:
        raise TextPastEnd(past)
    if bad >= 0:
        raise InvalidUTF8(bad, bytes(data[offsets[bad] : offsets[bad + 1]]))
    validity, count = _validity(pa, nulls)
    return pa.Array.from_buffers(
        pa.large_string(),
        len(refs),
        [validity, pa.py_buffer(offsets), pa.py_buffer(data)],
        null_count=count,
    )


def text_objects(
    text: np.ndarray, refs: np.ndarray, nulls: np.ndarray | None = None, null: Any = None
) -> np.ndarray:
    """The text values ``refs`` point to in ``text`` as an object array of ``str`` (one C
    loop); ``null`` where ``nulls`` is True.  Raises :class:`InvalidUTF8` as
    :func:`text_arrow` does."""
    off, ln = _text_refs(text, refs)
    out = np.empty(len(refs), dtype=object)
    bad = _core.text_objects(text, off, ln, out)
    if bad >= 0:
        o = int(off[bad])
        raise InvalidUTF8(bad, bytes(text[o : o + int(ln[bad])]))
    if nulls is not None:
        out[nulls] = null
    return out


def _strings(t: Any, name: str, build: Any, *args: Any, **kw: Any) -> Any:
    """``build(t.array[name], ...)`` (``build(t.text, t.array[name], ...)`` for a text
    column), an invalid value reported with its column and row."""
    try:
        if build in (text_arrow, text_objects):
            return build(t.text, np.asarray(t.array[name]), *args, **kw)
        return build(np.asarray(t.array[name]), *args, **kw)
    except TextPastEnd as e:
        where = f"{t.path}: " if t.path is not None else ""
        raise OutputError(
            f"{where}column {name!r}, row {t._start + e.index:,}: the value lies past the end "
            "of the text bytes (a text file not written with these records, or damaged)"
        ) from None
    except InvalidUTF8 as e:
        where = f"{t.path}: " if t.path is not None else ""
        raise OutputError(
            f"{where}column {name!r}, row {t._start + e.index:,}: {e.value!r} is not valid UTF-8"
        ) from None


# -- Arrow ----------------------------------------------------------------------
def utc(col: Column) -> bool:
    """True when a datetime column holds UTC instants: its schema says ``"tz": "UTC"``
    (inference does when every sampled value has an offset) or its format has ``%z``."""
    if col.type != "datetime":
        return False
    return col.tz == "UTC" or (col.format is not None and "%z" in col.format)


def _arrow_type(pa: Any, col: Column, ncategories: int) -> Any:
    t = col.type
    if t == "str":
        return pa.string()
    if t == "text":
        return pa.large_string()
    if t == "category":
        index = pa.int32() if ncategories <= _INT32_MAX else pa.int64()
        return pa.dictionary(index, pa.string())
    if t == "decimal":
        return pa.decimal128(_DECIMAL_PRECISION, col.scale or 0)
    if t == "date":
        return pa.date32()
    if t == "datetime":
        return pa.timestamp(col.datetime_unit, tz="UTC" if utc(col) else None)
    if t == "bool":
        return pa.bool_()
    return pa.from_numpy_dtype(np.dtype(col.numpy_format))


def arrow_schema(t: Any) -> Any:
    """The ``pyarrow.Schema`` of :func:`to_arrow`: stored columns, then flag bits."""
    pa = _need("pyarrow", "to_arrow()")
    cats = t.meta.get("categories", {})
    fields = [
        pa.field(name, _arrow_type(pa, col, len(cats.get(name, ()))), nullable=col.nullable)
        for name, col in t._columns.items()
    ]
    fields += [pa.field(bit, pa.bool_(), nullable=False) for bit in t._bits]
    return pa.schema(fields)


def _arrow_column(pa: Any, t: Any, name: str, col: Column, typ: Any) -> Any:
    nulls = t.null_mask(name) if col.nullable else None
    if col.type == "str":
        return _strings(t, name, arrow_strings, nulls, large=False)
    if col.type == "text":
        return _strings(t, name, text_arrow, nulls)
    if col.type == "category":
        codes = t._codes(name)  # checked against the dictionary; -1 for nulls
        if nulls is not None:  # a null's slot holds a valid index: readers such as
            codes[nulls] = 0  # polars check every slot of an IPC file's indices
        indices = pa.array(codes.astype(typ.index_type.to_pandas_dtype()), mask=nulls)
        dictionary = pa.array(t.meta["categories"][name], type=pa.string())
        return pa.DictionaryArray.from_arrays(indices, dictionary)
    raw = np.asarray(t.array[name])
    if col.type == "decimal":
        words = np.empty((len(raw), 2), dtype="<i8")  # little-endian 128-bit two's complement
        words[:, 0] = raw
        words[:, 1] = raw >> 63
        validity, count = _validity(pa, nulls)
        return pa.Array.from_buffers(typ, len(raw), [validity, pa.py_buffer(words)], count)
    if col.type in ("date", "datetime"):  # NaT is null, nullable or not (numpy's own rule)
        values = raw.view("<i8")
        nat = values == _NAT
        if col.type == "date":
            values = values.astype("<i4")  # years 1..9999: well inside int32 days
        return pa.array(values, type=typ, mask=nat if nat.any() else None)
    return pa.array(np.ascontiguousarray(raw), type=typ, mask=nulls)


# the compiled decode's column kinds and null sources (``_arrowout.pxi``'s AK_/AN_)
_AK_FIXED, _AK_DATE32, _AK_DECIMAL, _AK_BOOL, _AK_CATEGORY, _AK_STR, _AK_BIT = range(7)
_AN_NONE, _AN_MASK, _AN_NAN32, _AN_NAN64, _AN_NAT = range(5)
# the compiled decode writes a str column's values into room for all of them at full
# width; a column needing more (a whole table's at once) takes arrow_strings' two passes
_STR_ROOM = 64 << 20


def _decode_plan(t: Any, schema: Any) -> list[tuple[str, Column | None, Any, list[int] | None]]:
    """Per Arrow column: ``(name, column or None for a flag bit, Arrow type, plan row)``;
    the plan row ``(kind, nulls_from, off, width, null_off, null_mask, extra)`` tells the
    compiled decode where the value and its null live in the record, or is None for a
    column it does not decode (``text``, or what needs 64-bit offsets or indices)."""
    fields = t.array.dtype.fields
    n = len(t.array)
    out: list[tuple[str, Column | None, Any, list[int] | None]] = []
    for name, col in t._columns.items():
        typ = schema.field(name).type
        off, width = fields[name][1], t.array.dtype[name].itemsize
        nulls_from, null_off, null_mask = _AN_NONE, 0, 0
        if col.masked:
            k = t._null_bit[name]
            field = "_nulls" if k < 64 else f"_nulls{k // 64}"
            nulls_from, null_mask = _AN_MASK, 1 << (k % 8)
            null_off = fields[field][1] + (k % 64) // 8
        elif col.type in ("date", "datetime"):
            nulls_from = _AN_NAT  # NaT is null, nullable or not (numpy's own rule)
        elif col.type in ("float32", "float64") and col.nullable:
            nulls_from = _AN_NAN32 if width == 4 else _AN_NAN64
        extra = 0
        if col.type == "text" or (col.type == "str" and n * width > _STR_ROOM):
            out.append((name, col, typ, None))
            continue
        if col.type == "str":
            kind = _AK_STR
        elif col.type == "category":
            if typ.index_type.bit_width != 32:
                out.append((name, col, typ, None))
                continue
            kind, extra = _AK_CATEGORY, len(t.meta["categories"][name])
        elif col.type == "decimal":
            kind = _AK_DECIMAL
        elif col.type == "date":
            kind = _AK_DATE32
        elif col.type == "bool":
            kind = _AK_BOOL
        else:
            kind = _AK_FIXED
        out.append((name, col, typ, [kind, nulls_from, off, width, null_off, null_mask, extra]))
    for bit, (field, i) in t._bits.items():
        row = [_AK_BIT, _AN_NONE, fields[field][1] + i // 8, 1, 0, 0, 1 << (i % 8)]
        out.append((bit, None, schema.field(bit).type, row))
    return out


def _decode_buffers(n: int, row: list[int]) -> tuple[np.ndarray, np.ndarray | None, Any]:
    """The (values, validity, offsets) arrays the compiled decode fills for one column."""
    kind, nulls_from, width = row[0], row[1], row[3]
    bits = (n + 7) // 8
    validity = np.zeros(bits, np.uint8) if nulls_from != _AN_NONE else None
    offsets = None
    if kind in (_AK_BOOL, _AK_BIT):
        values = np.zeros(bits, np.uint8)
    elif kind == _AK_STR:
        values = np.empty(n * width, np.uint8)  # room for every value at its full width
        offsets = np.empty(n + 1, np.int32)
    else:
        size = {_AK_DATE32: 4, _AK_DECIMAL: 16, _AK_CATEGORY: 4}.get(kind, width)
        values = np.empty(n * size, np.uint8)
    return values, validity, offsets


def record_batch(t: Any, schema: Any = None, *, tight: bool = True) -> Any:
    """All rows of ``t`` (usually a slice of a table) as one ``pyarrow.RecordBatch``.

    Every column but ``text`` is decoded by one compiled pass over the records
    (``_core.arrow_decode``: each record read once, nogil) into the buffers Arrow
    takes as they are; ``text`` columns gather their values with :func:`text_arrow`.
    ``tight=False``: a ``str`` column's data may keep the room of every value at full
    width (for a batch written and dropped at once: no copy to a buffer of its size)."""
    pa = _need("pyarrow", "to_arrow()")
    schema = arrow_schema(t) if schema is None else schema
    records = np.ascontiguousarray(t.array)
    n = len(records)
    plan = _decode_plan(t, schema)
    compiled = [p for p in plan if p[3] is not None]
    outs = [_decode_buffers(n, row) for _, _, _, row in compiled if row is not None]
    result = np.zeros((len(compiled), 2), np.int64)
    bad_col, bad_row = _core.arrow_decode(
        records.view(np.uint8).reshape(-1),
        records.dtype.itemsize,
        np.array([row for _, _, _, row in compiled], np.int64).reshape(len(compiled), 7),
        [(v, m, None if o is None else o.view(np.uint8)) for v, m, o in outs],
        result,
    )
    if bad_col >= 0:  # the column's own decode names the value and the row
        name, col, typ, _ = compiled[bad_col]
        assert col is not None  # (a flag bit cannot be bad)
        _arrow_column(pa, t, name, col, typ)
        raise OutputError(f"column {name!r}, row {t._start + bad_row:,}: cannot decode")
    built = {}
    for (name, col, typ, row), (values, validity, offsets), (nulls, total) in zip(
        compiled, outs, result.tolist()
    ):
        vbuf = pa.py_buffer(validity) if nulls else None
        kind = row[0] if row is not None else -1
        if kind == _AK_STR:
            data = values[:total]
            if tight and 2 * total < len(values):  # don't keep the room of short values
                data = data.copy()
            bufs = [vbuf, pa.py_buffer(offsets), pa.py_buffer(data)]
            built[name] = pa.Array.from_buffers(typ, n, bufs, null_count=nulls)
        elif kind == _AK_CATEGORY:
            indices = pa.Array.from_buffers(
                typ.index_type, n, [vbuf, pa.py_buffer(values)], null_count=nulls
            )
            dictionary = pa.array(t.meta["categories"][name], type=pa.string())
            built[name] = pa.DictionaryArray.from_arrays(indices, dictionary, safe=False)
        else:
            built[name] = pa.Array.from_buffers(typ, n, [vbuf, pa.py_buffer(values)], nulls)
    arrays = []
    for name, col, typ, row in plan:
        if row is None:  # (text, or past what the pass decodes; flag bits never are)
            assert col is not None
            arrays.append(_arrow_column(pa, t, name, col, typ))
        else:
            arrays.append(built[name])
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _chunk_rows(t: Any) -> int:
    """Rows per Arrow chunk so that each ``str`` column's values fit int32 offsets."""
    widths = [c.width or 1 for c in t._columns.values() if c.type == "str"]
    return max(1, _INT32_MAX // max(widths)) if widths else max(1, len(t))


def to_arrow(t: Any) -> Any:
    """The whole table as a ``pyarrow.Table`` (types: see the module docstring)."""
    pa = _need("pyarrow", "to_arrow()")
    schema = arrow_schema(t)
    step = _chunk_rows(t)
    batches = [record_batch(t._sub(i, i + step), schema) for i in range(0, len(t), step)]
    return pa.Table.from_batches(batches, schema=schema)


def to_polars(t: Any) -> Any:
    """The whole table as a ``polars.DataFrame`` (through Arrow: categories become
    ``Categorical``, decimals ``Decimal``)."""
    pl = _need("polars", "to_polars()")
    _need("pyarrow", "to_polars()")
    return pl.from_arrow(to_arrow(t))


# -- pandas ---------------------------------------------------------------------
def _str_dtype(pd: Any) -> Any:
    """pandas' default dtype for text: pandas 3's ``str`` (StringDtype, NaN for missing,
    stored in Arrow with pyarrow installed), or None where pandas uses object arrays."""
    dtype = pd.Series(["a"]).dtype
    return None if dtype == object else dtype


def _pandas_strings(pd: Any, t: Any, name: str, nulls: np.ndarray | None, text: bool) -> Any:
    dtype = _str_dtype(pd)
    # "pyarrow_numpy": pandas 2.1-2.2's name for the same storage under infer_string
    if dtype is not None and getattr(dtype, "storage", None) in ("pyarrow", "pyarrow_numpy"):
        # the Arrow array is the pandas array: no Python object per value
        if text:
            return dtype.__from_arrow__(_strings(t, name, text_arrow, nulls))
        return dtype.__from_arrow__(_strings(t, name, arrow_strings, nulls, large=True))
    values = _strings(t, name, text_objects if text else utf8_objects, nulls, np.nan)
    return values if dtype is None else pd.array(values, dtype=dtype)


def _nullable(pd: Any, values: np.ndarray, nulls: np.ndarray | None) -> Any:
    if nulls is None:
        return values
    if values.dtype == np.bool_:
        return pd.arrays.BooleanArray(values, nulls)
    return pd.arrays.IntegerArray(values, nulls)


def to_pandas(t: Any, decimals: str = "float") -> Any:
    """A ``pandas.DataFrame``: text in pandas' default string dtype (from Arrow buffers
    with pyarrow installed), categories as ``Categorical`` from the codes, nullable
    ``Int*``/``boolean`` where a masked column is nullable, NaN/NaT for float and date
    nulls, UTC-aware timestamps where the column read offsets, flag bits as bool.
    ``decimals``: ``"float"`` (float64, as ``float(text)``), ``"decimal"`` (exact
    ``Decimal`` objects) or ``"int"`` (the scaled integers)."""
    pd = _need("pandas", "to_pandas()")
    if decimals not in ("float", "decimal", "int"):
        raise ValueError(f"decimals must be 'float', 'decimal' or 'int', not {decimals!r}")
    data: dict[str, Any] = {}
    for name, col in t._columns.items():
        raw = np.asarray(t.array[name])
        nulls = t.null_mask(name) if col.masked else None
        if col.type == "category":
            data[name] = pd.Categorical.from_codes(t._codes(name), t.meta["categories"][name])
        elif col.type in ("str", "text"):
            data[name] = _pandas_strings(pd, t, name, nulls, col.type == "text")
        elif col.type == "decimal" and decimals == "decimal":
            data[name] = t.decimal(name)
        elif col.type == "decimal" and decimals == "int":
            data[name] = _nullable(pd, raw, nulls)
        elif col.type == "decimal":
            data[name] = np.ma.filled(t[name], np.nan)
        elif utc(col):
            data[name] = pd.Series(raw).dt.tz_localize("UTC")
        elif nulls is not None:
            data[name] = _nullable(pd, raw, nulls)
        else:
            data[name] = raw
    for bit in t._bits:
        data[bit] = t[bit]
    return pd.DataFrame(data)


# -- batches --------------------------------------------------------------------
def iter_batches(t: Any, rows: int = 65536, format: str = "arrow") -> Iterator[Any]:  # noqa: A002
    """The table in slices of ``rows`` rows: ``pyarrow.RecordBatch`` (``format="arrow"``)
    or ``pandas.DataFrame`` (``"pandas"``, index counting from the slice's first row);
    an empty table gives one empty batch.  Memory per batch is bounded: over a
    converted file, each batch's records are read from the file (``Table._slices``)."""
    if isinstance(rows, bool) or not isinstance(rows, (int, np.integer)) or rows < 1:
        raise ValueError(f"rows must be a positive integer, got {rows!r}")
    if format not in ("arrow", "pandas"):
        raise ValueError(f"format must be 'arrow' or 'pandas', not {format!r}")
    if format == "pandas":
        _need("pandas", "iter_batches(format='pandas')")
    schema = arrow_schema(t) if format == "arrow" else None
    return _batches(t, int(rows), schema)


def _batches(t: Any, rows: int, schema: Any) -> Iterator[Any]:
    for start, stop, part in t._slices(rows):
        if schema is not None:
            yield record_batch(part, schema)
        else:
            out = to_pandas(part)
            out.index = range(start, stop)
            yield out
