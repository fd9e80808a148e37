"""A slow, pure-Python reference implementation of docs/SEMANTICS.md, and the
harness that runs the compiled core at many block sizes and compares.

The reference is built on Python's own parsers: ``csv.reader`` (strict=True) over
``io.TextIOWrapper(newline="")`` for the structure, ``int()``, ``float()``,
``decimal.Decimal``, ``datetime`` for the values, numpy for the records.  Where
Python differs from the contract, the difference is handled here, in the open:

* ``csv`` yields ``[]`` for a blank line; the contract skips blank lines -> skipped.
* ``csv`` keeps a BOM as part of the first field; the contract skips a UTF-8 BOM
  at the start -> removed before parsing (offsets still count it).
* ``csv`` does not say where a field starts.  The contract reports the physical
  line (and byte offset) where the offending field starts, so the physical lines
  of each record are kept and scanned for field starts (``_scan_fields``); the
  scan is cross-checked against ``csv``'s own field count on every record.
* ``int()``/``float()`` accept ``_``, Unicode digits and any Unicode white space;
  the contract accepts ASCII digits only and trims only spaces and tabs -> the
  text is matched against the contract's syntax first.
* ``date.fromisoformat`` accepts ``20240229`` and week dates in 3.11; the contract
  wants exactly ``YYYY-MM-DD`` -> regular expression first, then ``date(y, m, d)``.
* invalid UTF-8 is kept through ``errors="surrogateescape"`` so that only the
  columns that must reject it (``str``) do.

Errors raise :class:`RefError` with the same location facts as
``fastetl.ParseError`` (line, column, row, offset) and a ``kind``: ``"value"``
or ``"structure"``.  A header that does not match the schema raises
:class:`RefBindError`.
"""

from __future__ import annotations

import contextlib
import os

import csv
import io
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from typing import Any

import numpy as np

csv.field_size_limit(2**31 - 1)

BOM = b"\xef\xbb\xbf"
INT_RANGES = {
    "int8": (-(2**7), 2**7 - 1),
    "int16": (-(2**15), 2**15 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint8": (0, 2**8 - 1),
    "uint16": (0, 2**16 - 1),
    "uint32": (0, 2**32 - 1),
    "uint64": (0, 2**64 - 1),
}
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_UNIT_NS = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}
_EPOCH = datetime(1970, 1, 1)
_LINEBREAK = re.compile(r"\r\n|\r|\n")


class RefError(Exception):
    """The reference rejects the input (mirrors fastetl.ParseError)."""

    def __init__(self, kind, reason, *, line, column=None, value=None, row=None, offset=None):
        self.kind = kind  # "value" | "structure"
        self.reason = reason
        self.line = line
        self.column = column
        self.value = value
        self.row = row
        self.offset = offset
        where = f"line {line}" + (f', column "{column}"' if column is not None else "")
        what = f"{value!r} {reason}" if value is not None else reason
        super().__init__(f"{where}: {what}")


class RefBindError(Exception):
    """The header does not match the schema (fastetl raises SchemaError)."""


class _Bad(Exception):
    """A value is invalid; carries the reason only."""


# ---------------------------------------------------------------------------------------
# Structure: records, with the physical line and byte offset of every field
# ---------------------------------------------------------------------------------------


@dataclass
class Record:
    fields: list[str]
    line: int  # physical line where the record starts
    offset: int  # byte offset of the record in the input (BOM included)
    field_lines: list[int]
    field_offsets: list[int]


def _scan_fields(raw: str, delim: str, quote: str | None) -> tuple[list[int], int | None]:
    """Field start positions in one record's raw text (its physical lines joined).

    Returns ``(starts, bad)``: ``bad`` is the index of the field that breaks the
    quoting rules (text after a closing quote, or the input ends inside it), else None.
    """
    starts: list[int] = []
    i, n = 0, len(raw)
    while True:
        starts.append(i)
        if quote is not None and i < n and raw[i] == quote:
            i += 1
            while True:
                j = raw.find(quote, i)
                if j < 0:
                    return starts, len(starts) - 1  # ends inside the quoted field
                if raw[j + 1 : j + 2] == quote:
                    i = j + 2
                    continue
                i = j + 1
                break
            if i >= n or raw[i] in "\r\n":
                return starts, None
            if raw[i] == delim:
                i += 1
                continue
            return starts, len(starts) - 1  # text after the closing quote
        while i < n and raw[i] != delim and raw[i] not in "\r\n":
            i += 1
        if i < n and raw[i] == delim:
            i += 1
            continue
        return starts, None


def _csv_kwargs(dialect) -> dict[str, Any]:
    kw: dict[str, Any] = {"delimiter": dialect.delimiter, "strict": True}
    if dialect.quote is None:
        kw["quoting"] = csv.QUOTE_NONE
    else:
        kw.update(quotechar=dialect.quote, doublequote=True, quoting=csv.QUOTE_MINIMAL)
    return kw


def reference_records(data: bytes, dialect, header: bool = False) -> Iterator[Record]:
    """Non-blank records of ``data`` as Python's csv module reads them, located.

    Raises RefError(kind="structure") where csv (strict=True) rejects the text.
    ``header`` only affects the ``row`` reported in errors.
    """
    data = bytes(data)
    base = len(BOM) if data.startswith(BOM) else 0
    stream = io.TextIOWrapper(
        io.BytesIO(data[base:]), encoding="utf-8", errors="surrogateescape", newline=""
    )
    lines: list[str] = []
    line_offsets: list[int] = []
    pos = base

    def feed() -> Iterator[str]:
        nonlocal pos
        for ln in stream:
            lines.append(ln)
            line_offsets.append(pos)
            pos += len(ln.encode("utf-8", "surrogateescape"))
            yield ln

    reader = csv.reader(feed(), **_csv_kwargs(dialect))
    consumed = 0  # physical lines consumed by complete records
    nrec = 0
    while True:
        first = consumed
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            raw = "".join(lines[first:])
            starts, bad = _scan_fields(raw, dialect.delimiter, dialect.quote)
            assert bad is not None, f"csv says {e} but the field scan finds no error in {raw!r}"
            s = starts[bad]
            raise RefError(
                "structure",
                str(e),
                line=first + 1 + len(_LINEBREAK.findall(raw[:s])),
                row=(nrec - 1 if header else nrec) if not (header and nrec == 0) else None,
                offset=line_offsets[first] + len(raw[:s].encode("utf-8", "surrogateescape")),
            ) from None
        consumed = len(lines)
        assert reader.line_num == consumed
        if row == []:
            continue  # a blank line
        raw = "".join(lines[first:consumed])
        starts, bad = _scan_fields(raw, dialect.delimiter, dialect.quote)
        assert bad is None and len(starts) == len(row), (raw, row, starts)
        nrec += 1
        yield Record(
            fields=row,
            line=first + 1,
            offset=line_offsets[first],
            field_lines=[first + 1 + len(_LINEBREAK.findall(raw[:s])) for s in starts],
            field_offsets=[
                line_offsets[first] + len(raw[:s].encode("utf-8", "surrogateescape"))
                for s in starts
            ],
        )


# ---------------------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------------------

_INT_RE = re.compile(r"[+-]?[0-9]+")
_FLOAT_RE = re.compile(
    r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|(?i:inf|infinity|nan))"
)
_DECIMAL_RE = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)")
_BOOL = {
    "true": True, "t": True, "yes": True, "1": True,
    "false": False, "f": False, "no": False, "0": False,
}  # fmt: skip
_ISO_DATE_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_ISO_DATETIME_RE = re.compile(
    r"(?P<Y>[0-9]{4})-(?P<m>[0-9]{2})-(?P<d>[0-9]{2})"
    r"(?:[T ](?P<H>[0-9]{2}):(?P<M>[0-9]{2})(?::(?P<S>[0-9]{2})(?:\.(?P<f>[0-9]{1,9}))?)?)?"
    r"(?P<z>Z|[+-][0-9]{2}(?::?[0-9]{2})?)?"
)
_DIRECTIVE_RE = {
    "Y": "[0-9]{4}",
    "m": "[0-9]{1,2}",
    "d": "[0-9]{1,2}",
    "H": "[0-9]{1,2}",
    "M": "[0-9]{1,2}",
    "S": "[0-9]{1,2}",
    "f": "[0-9]{1,9}",
    "z": "Z|[+-][0-9]{2}(?::?[0-9]{2})?",
}
_format_cache: dict[str, re.Pattern] = {}


def _format_regex(fmt: str) -> re.Pattern:
    if fmt not in _format_cache:
        parts, i = [], 0
        while i < len(fmt):
            if fmt[i] == "%":
                d = fmt[i + 1]
                parts.append(f"(?P<{d}>{_DIRECTIVE_RE[d]})")
                i += 2
            else:
                parts.append(re.escape(fmt[i]))
                i += 1
        _format_cache[fmt] = re.compile("".join(parts))
    return _format_cache[fmt]


def ref_int(t: str, typ: str) -> int:
    if not _INT_RE.fullmatch(t):
        raise _Bad(f"is not a valid {typ}")
    v = int(t)
    lo, hi = INT_RANGES[typ]
    if not lo <= v <= hi:
        raise _Bad(f"is out of range for {typ}")
    return v


def ref_float(t: str, typ: str) -> float:
    if not _FLOAT_RE.fullmatch(t):
        raise _Bad(f"is not a valid {typ}")
    v = float(t)
    if typ == "float32":
        with np.errstate(over="ignore"):
            v32 = np.float32(v)
        spelled_inf = t.lstrip("+-").lower() in ("inf", "infinity")
        if math.isinf(v32) and not spelled_inf:
            raise _Bad("is out of range for float32")
        return v32
    return v


def ref_decimal(t: str, scale: int, rounding: bool) -> int:
    if not _DECIMAL_RE.fullmatch(t):
        raise _Bad("is not a valid decimal")
    with localcontext() as ctx:
        ctx.prec = len(t) + scale + 50  # exact: no rounding anywhere but the one we ask for
        ctx.Emax = 10**6
        ctx.Emin = -(10**6)
        scaled = Decimal(t).scaleb(scale)
        whole = scaled.to_integral_value(rounding=ROUND_HALF_EVEN)
        if whole != scaled and not rounding:
            raise _Bad(f"has more than {scale} digits after the point")
        v = int(whole)
    if not INT64_MIN <= v <= INT64_MAX:
        raise _Bad("is out of range for decimal")
    return v


def ref_bool(t: str) -> bool:
    if not t.isascii() or t.lower() not in _BOOL:
        raise _Bad("is not a valid bool")
    return _BOOL[t.lower()]


def _mkdate(y: str, m: str, d: str) -> date:
    try:
        return date(int(y), int(m), int(d))
    except ValueError:
        raise _Bad("is not a valid date") from None


def ref_date(t: str, fmt: str | None) -> int:
    """Days since 1970-01-01."""
    if fmt is None or fmt == "iso":
        m = _ISO_DATE_RE.fullmatch(t)
        if not m:
            raise _Bad("is not a valid date")
        day = _mkdate(*m.groups())
    else:
        m = _format_regex(fmt).fullmatch(t)
        if not m:
            raise _Bad("is not a valid date")
        day = _mkdate(m["Y"], m["m"], m["d"])
    return (day - _EPOCH.date()).days


def ref_datetime(t: str, fmt: str | None, unit: str) -> int:
    """Count of ``unit`` since 1970-01-01T00:00Z."""
    if fmt is None or fmt == "iso":
        m = _ISO_DATETIME_RE.fullmatch(t)
    else:
        m = _format_regex(fmt).fullmatch(t)
    if not m:
        raise _Bad("is not a valid datetime")
    g = m.groupdict()
    try:
        naive = datetime(
            int(g["Y"]), int(g["m"]), int(g["d"]),
            int(g.get("H") or 0), int(g.get("M") or 0), int(g.get("S") or 0),
        )  # fmt: skip
    except ValueError:
        raise _Bad("is not a valid datetime") from None
    z = g.get("z")
    offset = timedelta(0)
    if z and z != "Z":
        sign = -1 if z[0] == "-" else 1
        digits = z[1:].replace(":", "")
        oh, om = int(digits[:2]), int(digits[2:4] or 0)
        if oh > 23 or om > 59:
            raise _Bad("is not a valid datetime")
        offset = sign * timedelta(hours=oh, minutes=om)
    try:
        utc = naive - offset
    except OverflowError:
        raise _Bad("is out of range for datetime") from None
    delta = utc - _EPOCH
    seconds = delta.days * 86400 + delta.seconds
    frac_ns = int((g.get("f") or "").ljust(9, "0"))
    per = _UNIT_NS[unit]
    if frac_ns % per:
        raise _Bad(f"has a fraction finer than {unit}")
    v = seconds * (10**9 // per) + frac_ns // per
    if not INT64_MIN < v <= INT64_MAX:  # INT64_MIN is NaT
        raise _Bad("is out of range for datetime")
    return v


def ref_str(text: str, width: int, truncate: bool) -> bytes:
    try:
        b = text.encode("utf-8")  # surrogates (from invalid UTF-8 input) refuse to encode
    except UnicodeEncodeError:
        raise _Bad("is not valid UTF-8") from None
    if len(b) > width:
        if not truncate:
            raise _Bad(f"is longer than {width} bytes")
        k = width
        while k > 0 and (b[k] & 0xC0) == 0x80:  # b[k] starts the first byte cut off
            k -= 1
        b = b[:k]
    return b


# ---------------------------------------------------------------------------------------
# Rows -> records
# ---------------------------------------------------------------------------------------

_VERBATIM = ("str", "category")


@dataclass
class _Field:
    name: str
    column: Any  # schema Column, or None (read for flags only)
    null_bit: int
    flag_bits: list  # (flags index, bit index, FlagBit)
    source_nullable: bool


@dataclass
class RefResult:
    array: np.ndarray
    categories: dict[str, list[str]] = field(default_factory=dict)
    bad: list[RefError] = field(default_factory=list)  # with skip_bad: the rows left out

    @property
    def rows(self) -> int:
        return len(self.array)


def _plan(schema, names: list[str] | None) -> list[_Field | None]:
    cols = {c.name: c for c in schema.columns}
    flag_sources: dict[str, list] = {}
    for fi, fl in enumerate(schema.flags):
        for bi, bit in enumerate(fl.bits):
            flag_sources.setdefault(bit.column, []).append((fi, bi, bit))
    if names is None:
        names = [c.name for c in schema.columns]
    else:
        if len(set(names)) != len(names):
            raise RefBindError(f"duplicate header names in {names}")
        missing = [n for n in list(cols) + list(flag_sources) if n not in names]
        if missing:
            raise RefBindError(f"missing {missing}")
        extra = [n for n in names if n not in cols and n not in flag_sources]
        if extra:
            raise RefBindError(f"extra {extra}")
    masked = [c.name for c in schema.columns if c.type != "skip" and c.nullable
              and c.type not in ("float32", "float64", "date", "datetime")]  # fmt: skip
    plan: list[_Field | None] = []
    for n in names:
        col = cols.get(n)
        bits = flag_sources.get(n, [])
        stored = col if col is not None and col.type != "skip" else None
        if stored is None and not bits:
            plan.append(None)
            continue
        plan.append(
            _Field(
                name=n,
                column=stored,
                null_bit=masked.index(n) if n in masked else -1,
                flag_bits=bits,
                source_nullable=bool(col is not None and col.nullable),
            )
        )
    return plan


class _Converter:
    def __init__(self, schema):
        self.schema = schema
        self.nulls = schema.dialect.null_values
        self.learned: dict[str, dict[str, int]] = {
            c.name: {} for c in schema.columns if c.type == "category" and c.values is None
        }

    def value(self, col, text: str):
        """(value, is_null) for a stored column, or raise _Bad."""
        typ = col.type
        t = text if typ in _VERBATIM else text.strip(" \t")
        if t in self.nulls:
            if col.nullable:
                return None, True
            if typ not in _VERBATIM:
                raise _Bad("is empty and the column is not nullable")
            # non-nullable str/category keep their text exactly (SEMANTICS.md, Values)
        if typ in INT_RANGES:
            return ref_int(t, typ), False
        if typ in ("float32", "float64"):
            return ref_float(t, typ), False
        if typ == "decimal":
            return ref_decimal(t, col.scale, col.round), False
        if typ == "bool":
            return ref_bool(t), False
        if typ == "date":
            return ref_date(t, col.format), False
        if typ == "datetime":
            return ref_datetime(t, col.format, col.datetime_unit), False
        if typ == "str":
            return ref_str(t, col.width, col.truncate), False
        if typ == "category":
            if any(0xD800 <= ord(ch) <= 0xDFFF for ch in t):
                raise _Bad("is not valid UTF-8")
            if col.values is not None:
                if t not in col.values:
                    raise _Bad("is not one of the category's values")
                return col.values.index(t), False
            d = self.learned[col.name]
            if t not in d:
                if len(d) >= col.category_limit:
                    raise _Bad(f"is one value too many for category (limit {col.category_limit})")
                d[t] = len(d)
            return d[t], False
        raise AssertionError(typ)

    def flag(self, f: _Field, bit, text: str) -> bool:
        if bit.equals is not None:
            return text == bit.equals
        t = text.strip(" \t")
        if t in self.nulls:
            if f.source_nullable:
                return False
            raise _Bad("is empty and the column is not nullable")
        return ref_bool(t)


def reference_parse_full(data: bytes, schema, skip_bad: bool = False) -> RefResult:
    """Parse ``data`` as SEMANTICS.md says; raise RefError / RefBindError.

    ``skip_bad``: rows with a wrong field count or a bad value are left out and listed
    in ``bad`` instead (the category values they brought are taken back); broken
    quoting still raises (csv cannot say where such a row ends)."""
    dialect = schema.dialect
    dtype = schema.dtype()
    conv = _Converter(schema)
    plan = None if dialect.header else _plan(schema, None)
    rows: list[tuple[dict[str, Any], list[int], list[int]]] = []
    masked = [c.name for c in schema.columns if c.type != "skip" and c.nullable
              and c.type not in ("float32", "float64", "date", "datetime")]  # fmt: skip
    bad: list[RefError] = []
    for rec in reference_records(data, dialect, header=dialect.header):
        if plan is None:
            plan = _plan(schema, rec.fields)
            continue
        if skip_bad:
            try:
                rows.append(_reference_row(rec, plan, conv, schema, len(rows) + len(bad)))
            except RefError as e:
                bad.append(e)
            continue
        rows.append(_reference_row(rec, plan, conv, schema, len(rows)))
    return _reference_array(schema, dtype, conv, rows, masked, bad)


def _reference_row(rec: Record, plan, conv: _Converter, schema, r: int):
    """One record's (values, flags, null mask), or RefError; a bad row's new category
    values are taken back."""
    sizes = {n: len(d) for n, d in conv.learned.items()}
    try:
        return _reference_row_values(rec, plan, conv, schema, r)
    except RefError:
        for n, d in conv.learned.items():
            for k in [k for k, code in d.items() if code >= sizes[n]]:
                del d[k]
        raise


def _reference_row_values(rec: Record, plan, conv: _Converter, schema, r: int):
    if len(rec.fields) != len(plan):
        raise RefError(
            "structure",
            f"expected {len(plan)} fields, found {len(rec.fields)}",
            line=rec.line,
            row=r,
            offset=rec.offset,
        )
    values: dict[str, Any] = {}
    nullmask = 0
    flags = [0] * len(schema.flags)
    for i, f in enumerate(plan):
        if f is None:
            continue
        text = rec.fields[i]
        try:
            if f.column is not None:
                v, is_null = conv.value(f.column, text)
                if is_null and f.null_bit >= 0:
                    nullmask |= 1 << f.null_bit
                values[f.name] = (v, is_null)
            for fi, bi, bit in f.flag_bits:
                if conv.flag(f, bit, text):
                    flags[fi] |= 1 << bi
        except _Bad as e:
            raise RefError(
                "value",
                str(e),
                line=rec.field_lines[i],
                column=f.name,
                value=text,
                row=r,
                offset=rec.field_offsets[i],
            ) from None
    return (values, flags, nullmask)


def _reference_array(schema, dtype, conv, rows, masked, bad) -> RefResult:
    arr = np.zeros(len(rows), dtype=dtype)
    colmap = {c.name: c for c in schema.columns}
    for r, (values, flags, nullmask) in enumerate(rows):
        for name, (v, is_null) in values.items():
            col = colmap[name]
            if is_null:
                if col.type in ("float32", "float64"):
                    arr[name][r] = np.nan
                elif col.type in ("date", "datetime"):
                    arr[name][r] = np.datetime64("NaT")
                continue  # masked: value bytes stay zero
            if col.type == "date":
                arr[name][r] = np.datetime64(v, "D")
            elif col.type == "datetime":
                arr[name][r] = np.datetime64(v, col.datetime_unit)
            else:
                arr[name][r] = v
        for fi, fl in enumerate(schema.flags):
            arr[fl.name][r] = flags[fi]
        for k in range(0, len(masked), 64):
            name = "_nulls" if k == 0 else f"_nulls{k // 64}"
            arr[name][r] = (nullmask >> k) & ((1 << 64) - 1)
    cats = {c.name: list(c.values) for c in schema.columns if c.type == "category" and c.values}
    cats.update({n: list(d) for n, d in conv.learned.items()})
    return RefResult(array=arr, categories=cats, bad=bad)


def reference_parse(data: bytes, schema) -> np.ndarray:
    return reference_parse_full(data, schema).array


# ---------------------------------------------------------------------------------------
# Harness: the core at many block sizes, compared with itself and with the reference
# ---------------------------------------------------------------------------------------

#: Every parsing case runs through all of these; the output must not depend on them.
BLOCK_SIZES: tuple[int | None, ...] = (None, 1, 2, 3, 7, 64, 4096)


def _field_bytes(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    return a.view(np.uint8).reshape(len(a), -1) if len(a) else a.view(np.uint8)


def assert_same_records(got: np.ndarray, expected: np.ndarray, what: str = "") -> None:
    """Equal dtypes and field bytes; floats bit-identical, any NaN equal to any NaN."""
    assert isinstance(got, np.ndarray), f"{what}: got {type(got).__name__}, not an ndarray"
    assert got.dtype == expected.dtype, f"{what}: dtype {got.dtype} != {expected.dtype}"
    assert got.dtype.names == expected.dtype.names, what
    assert got.shape == expected.shape, f"{what}: shape {got.shape} != {expected.shape}"
    for name in expected.dtype.names:
        g, e = got[name], expected[name]
        if len(e) == 0:
            continue
        gb, eb = _field_bytes(g), _field_bytes(e)
        diff = (gb != eb).any(axis=1)
        if e.dtype.kind == "f":  # a NaN is expected: any NaN will do
            diff = np.where(np.isnan(e), ~np.isnan(g), diff)
        bad = np.flatnonzero(diff)
        if len(bad):
            i = int(bad[0])
            raise AssertionError(
                f"{what}: field {name!r} row {i}: got {g[i]!r} ({gb[i].tobytes()!r}), "
                f"expected {e[i]!r} ({eb[i].tobytes()!r}); {len(bad)} row(s) differ"
            )


@dataclass
class Outcome:
    array: np.ndarray | None = None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def describe(self) -> str:
        if self.ok:
            return f"{len(self.array)} rows"
        e = self.error
        facts = " ".join(
            f"{k}={getattr(e, k, None)!r}" for k in ("line", "column", "row", "offset")
        )
        return f"{type(e).__name__}({e}) {facts}"


def _error_key(e: BaseException) -> tuple:
    keys = ("line", "column", "value", "reason", "offset", "row")
    return (type(e).__name__, str(e), *(getattr(e, k, None) for k in keys))


class Stream:
    """A read-only binary stream (no buffer, no fileno): drives fastetl's streaming path.

    ``step`` caps how much one ``read`` returns, like a pipe that delivers short reads.
    """

    def __init__(self, data: bytes, step: int | None = None):
        self._b = io.BytesIO(bytes(data))
        self._step = step

    def read(self, n: int = -1) -> bytes:
        if self._step is not None and (n is None or n < 0 or n > self._step):
            n = self._step
        return self._b.read(n)


#: (source kind, block size, worker threads) runs every parsing case goes through.
#: None means the default.  Small blocks with several workers drive the parallel
#: pipeline (rows split across threads, committed in order).
RUNS: tuple[tuple[str, int | None, int | None], ...] = (
    *(("bytes", bs, 1) for bs in BLOCK_SIZES),
    *(("bytes", bs, 4) for bs in (1, 3, 7, 64)),
    ("bytes", None, None),
    *(("stream", bs, None) for bs in BLOCK_SIZES),
    *(("stream", bs, 4) for bs in (1, 64)),
    ("trickle", None, None),
    ("trickle", 7, 3),
)


def _source(kind: str, data):
    if kind == "bytes":
        return data
    if kind == "stream":
        return Stream(data)
    if kind == "trickle":
        return Stream(data, step=3)
    raise AssertionError(kind)


def core_outcome(data, schema, block_size=None, kind: str = "bytes", workers=None) -> Outcome:
    import fastetl

    try:
        arr = fastetl.read_csv(
            _source(kind, data), schema, block_size=block_size, workers=workers
        ).array  # the records as stored, compared with the reference encoder
        return Outcome(array=arr)
    except (fastetl.ParseError, fastetl.SchemaError) as e:
        return Outcome(error=e)


def core_all(data, schema, block_sizes=None, runs=None) -> Outcome:
    """Run read_csv for every (source kind, block size, workers); assert all agree; return it.

    ``block_sizes`` narrows the runs to those block sizes (bytes and stream sources,
    one and four workers).
    """
    if runs is None:
        if block_sizes is None:
            runs = RUNS
        else:
            runs = tuple(
                (k, bs, w) for k in ("bytes", "stream") for bs in block_sizes for w in (1, 4)
            )
    outs = [((k, bs, w), core_outcome(data, schema, bs, k, w)) for k, bs, w in runs]
    (k0, bs0, w0), first = outs[0]
    for (k, bs, w), o in outs[1:]:
        what = f"{k} block_size={bs} workers={w} vs {k0} block_size={bs0} workers={w0}"
        assert o.ok == first.ok, f"{what}: {o.describe()} vs {first.describe()}"
        if o.ok:
            assert_same_records(o.array, first.array, what)
        else:
            assert _error_key(o.error) == _error_key(first.error), (
                f"{what}: {o.describe()} vs {first.describe()}"
            )
    return first


def core_parse_all(data, schema, block_sizes=None) -> np.ndarray:
    out = core_all(data, schema, block_sizes)
    if not out.ok:
        raise out.error
    return out.array


def core_error_all(data, schema, block_sizes=None, kind=None):
    """The error every block size raises (a ParseError unless ``kind`` says otherwise)."""
    import fastetl

    kind = kind or fastetl.ParseError
    out = core_all(data, schema, block_sizes)
    assert not out.ok, f"expected {kind.__name__}, got {out.describe()}"
    assert isinstance(out.error, kind), f"expected {kind.__name__}, got {out.describe()}"
    return out.error


def reference_outcome(data, schema) -> Outcome:
    try:
        return Outcome(array=reference_parse(data, schema))
    except (RefError, RefBindError) as e:
        return Outcome(error=e)


def compare_with_reference(data, schema, block_sizes=None, check_offset=True) -> Outcome:
    """Core (every block size) vs reference: same records, or the same first error."""
    import fastetl

    core = core_all(data, schema, block_sizes)
    ref = reference_outcome(data, schema)
    ctx = f"input={bytes(data)!r}\nschema={schema.to_json(indent=None)}"
    if ref.ok:
        assert core.ok, f"core rejects what the reference accepts: {core.describe()}\n{ctx}"
        assert_same_records(core.array, ref.array, f"core vs reference\n{ctx}")
        return core
    if isinstance(ref.error, RefBindError):
        assert isinstance(core.error, fastetl.SchemaError), (
            f"reference: {ref.error}; core: {core.describe()}\n{ctx}"
        )
        return core
    r = ref.error
    assert not core.ok, f"core accepts what the reference rejects ({r})\n{ctx}"
    e = core.error
    assert isinstance(e, fastetl.ParseError), f"reference: {r}; core: {core.describe()}\n{ctx}"
    assert e.line == r.line, f"line: core {e.line} ({e}) vs reference {r.line} ({r})\n{ctx}"
    if r.kind == "value":
        assert e.column == r.column, (
            f"column: core {e.column!r} ({e}) vs reference {r.column!r} ({r})\n{ctx}"
        )
    # ParseError.row is documented as "when known": None is allowed, a wrong number is not
    assert e.row is None or e.row == r.row, (
        f"row: core {e.row} ({e}) vs reference {r.row} ({r})\n{ctx}"
    )
    if check_offset:
        assert e.offset == r.offset, (
            f"offset: core {e.offset} ({e}) vs reference {r.offset} ({r})\n{ctx}"
        )
    return core


# ---------------------------------------------------------------------------------------
# Writing CSV text
# ---------------------------------------------------------------------------------------


def csv_cell(text: str, delim: str = ",", quote: str | None = '"', force: bool = False) -> str:
    """One field, quoted when it must be (or when ``force``)."""
    if quote is None:
        assert delim not in text and "\r" not in text and "\n" not in text, text
        return text
    if force or delim in text or "\r" in text or "\n" in text or text.startswith(quote):
        return quote + text.replace(quote, quote + quote) + quote
    return text


def csv_bytes(rows, delim=",", quote='"', eol="\n", final_eol=True, bom=False) -> bytes:
    body = eol.join(delim.join(csv_cell(c, delim, quote) for c in row) for row in rows)
    if final_eol and rows:
        body += eol
    out = body.encode("utf-8", "surrogateescape")
    return (BOM + out) if bom else out


# -- files a run leaves ---------------------------------------------------------------------
LOCK_SUFFIX = ".fastetl-lock"  # the lock file beside an output: it holds no data and may stay


def listing(folder) -> list[str]:
    """Names in ``folder`` (sorted), but the lock files of outputs."""
    return sorted(n for n in os.listdir(folder) if not n.endswith(LOCK_SUFFIX))


# A child conversion that stops at a chosen state and says so, for a test that signals or
# kills it there: the test reads the child's "held" line (no polling, no sleep), and the
# child cannot end first, however busy the machine; nor outlive the test process.  ``holding(dst, when)`` is a progress
# callback; ``when``: "start" (the first call), ["checkpoint", KEY, N] (once the checkpoint
# of the conversion into ``dst`` has a mark whose KEY is N or more), ["while", PATH] (waits
# while PATH exists, then goes on; the others wait for the test's signal or kill).
HOLD = r"""
import json as _json, os as _os, sys as _sys, time as _time
from fastetl.outset import checkpoint_path as _checkpoint_path
parent = _os.getppid()  # the test process
def holding(dst, when):
    said = []
    def reached():
        if when is None or said:
            return False
        if when == "start" or when[0] == "while":
            return True
        try:
            return _json.loads(_checkpoint_path(dst).read_text())["mark"][when[1]] >= when[2]
        except (OSError, ValueError, KeyError):
            return False
    def progress(done, total):
        if not reached():
            return
        said.append(True)
        print("held", flush=True)
        gate = when[1] if when != "start" and when[0] == "while" else None
        # until the gate goes (else the test's signal or kill), or the test process is
        # gone (a test that failed first leaves no child waiting for ever)
        while (gate is None or _os.path.exists(gate)) and _os.getppid() == parent:
            _time.sleep(0.01)
        if _os.getppid() != parent:
            _os._exit(70)
    return progress
"""


def held(proc: Any) -> None:
    """Wait until the child ``proc`` (started with :data:`HOLD`, stdout piped, text mode)
    says it holds."""
    line = proc.stdout.readline()
    assert line == "held\n", f"the child did not hold: {line!r} {proc.communicate()}"


def ctrl_c_when_held(script: str, *args: str) -> tuple[int, str]:
    """Run ``script`` (built on :data:`HOLD`) with ``args`` in a child, send it a real
    SIGINT once it holds: (its exit status, its stderr)."""
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    held(proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    return proc.returncode, err


# The CLI's own main() in a child whose conversion holds (see HOLD) once the output's
# checkpoint exists, or where the environment's HOLD_AT (JSON) says: a signal sent then
# lands mid-run.  Its stdout must be piped.
SLOW_CLI = HOLD + r"""
import fastetl, fastetl.cli
convert = fastetl.convert
when = _json.loads(_os.environ.get("HOLD_AT", '["checkpoint", "rows", 0]'))
def slow_convert(src, dst, *args, **kw):
    return convert(src, dst, *args, **{**kw, "progress": holding(dst, when)})
fastetl.convert = slow_convert
_sys.exit(fastetl.cli.main(_sys.argv[1:]))
"""


# -- an interrupt at one chosen line ---------------------------------------------------------
# Ctrl-C and SIGTERM are raised in the main thread between any two bytecodes.  A test of a
# window between a durable step and the note that it happened puts the interrupt on exactly
# that line (a trace function raising KeyboardInterrupt there), never "usually" there.


def line_of(func: Any, marker: str, nth: int = 1) -> int:
    """The line number of the ``nth`` source line of ``func`` that contains ``marker``."""
    import inspect

    lines, first = inspect.getsourcelines(func)
    hits = [first + i for i, s in enumerate(lines) if marker in s]
    assert len(hits) >= nth, f"{marker!r} is not in {func.__qualname__} {nth} time(s)"
    return hits[nth - 1]


@contextlib.contextmanager
def interrupt_at(
    func: Any, marker: str | None, nth: int = 1, exc: type = KeyboardInterrupt,
    caller: Any = None,
):  # fmt: skip
    """While the block runs, raise ``exc`` (once) in this thread just before the line of
    ``func`` (or of a function nested in it) found by :func:`line_of` runs; with no
    ``marker``, as ``func`` returns (its caller has not stored the result yet).  With
    ``caller``, only in a call made by that function itself (a helper called from
    several places: the one call a test means).  Yields a list that holds True once it
    was raised (a test asserts it was)."""
    import sys

    filename = func.__code__.co_filename
    target = line_of(func, marker, nth) if marker is not None else None
    raised: list[bool] = []

    def local(frame: Any, event: str, arg: Any) -> Any:
        if raised:
            return None
        if (event == "line" and frame.f_lineno == target) or (
            target is None and event == "return" and frame.f_code is func.__code__
        ):
            raised.append(True)
            sys.settrace(None)
            raise exc
        return local

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        if frame.f_code.co_filename != filename:
            return None
        back = frame.f_back
        if caller is not None and (back is None or back.f_code is not caller.__code__):
            return None
        return local

    sys.settrace(tracer)
    try:
        yield raised
    finally:
        sys.settrace(None)


@contextlib.contextmanager
def interrupt_after_call(func: Any, callee: Any, before: Any = None):
    """While the block runs, raise KeyboardInterrupt (once) in this thread as the C
    function ``callee`` (``os.close``...; or a name: a C method of that name, such as a
    file object's ``"close"``) returns to ``func``: where Python checks for signals,
    after its effect and before ``func`` notes it.  ``before()`` runs there first.
    Yields a list that holds True once it was raised."""
    import sys

    raised: list[bool] = []

    def profile(frame: Any, event: str, arg: Any) -> None:
        if (
            event == "c_return"
            and (arg is callee or (isinstance(callee, str) and arg.__name__ == callee))
            and frame.f_code is func.__code__
        ):
            raised.append(True)
            sys.setprofile(None)
            if before is not None:
                before()
            raise KeyboardInterrupt

    sys.setprofile(profile)
    try:
        yield raised
    finally:
        sys.setprofile(None)
