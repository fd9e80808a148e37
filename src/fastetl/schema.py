"""Column types, the :class:`Schema` object, its JSON form and its numpy dtype.

A schema says three things:

* the **dialect** of the CSV text (delimiter, quote, header, encoding, null tokens);
* the **columns**, in file order: a type for each, plus what each type needs
  (``width`` for ``str``, ``scale`` for ``decimal``, ``values`` for ``category`` ...);
* the **flags**: integer fields whose bits are computed from source columns.

From it follow the fixed record layout (:meth:`Schema.dtype`) and, once the
header of a file is known, which field of the file feeds which part of the
record (:meth:`Schema.bind`).  This module knows nothing of files or of the
compiled core.

Null convention (lossless):

* ``float32``/``float64``: NaN; ``date``/``datetime``: NaT (numpy's own nulls).
* every other nullable column: its value bytes are zero and a bit is set in the
  null mask -- trailing little-endian unsigned fields named ``_nulls``,
  ``_nulls1``, ... (64 bits each).  Bit ``k`` (counting nullable masked columns
  in schema order) lives in field ``k // 64`` at bit ``k % 64``.  The order is
  recorded in the sidecar (``null_bits``).
"""

from __future__ import annotations

import codecs
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from .errors import SchemaError, shown

INT_TYPES: dict[str, tuple[str, int, int]] = {
    "int8": ("<i1", -(2**7), 2**7 - 1),
    "int16": ("<i2", -(2**15), 2**15 - 1),
    "int32": ("<i4", -(2**31), 2**31 - 1),
    "int64": ("<i8", -(2**63), 2**63 - 1),
    "uint8": ("<u1", 0, 2**8 - 1),
    "uint16": ("<u2", 0, 2**16 - 1),
    "uint32": ("<u4", 0, 2**32 - 1),
    "uint64": ("<u8", 0, 2**64 - 1),
}
FLOAT_TYPES = {"float32": "<f4", "float64": "<f8"}
DATETIME_UNITS = ("s", "ms", "us", "ns")
TYPES = (
    *INT_TYPES,
    *FLOAT_TYPES,
    "bool",
    "date",
    "datetime",
    "decimal",
    "str",
    "text",
    "category",
    "skip",
)
UNSIGNED_FOR_BITS = {8: "uint8", 16: "uint16", 32: "uint32", 64: "uint64"}
DEFAULT_DATE_FORMAT = "%Y-%m-%d"
ISO = "iso"
MAX_DECIMAL_SCALE = 18
MAX_STR_WIDTH = 1 << 20
# Header names longer than this (bytes of UTF-8) are cut by unique_names: every name is
# written into the .npy header, which numpy reads only up to 10,000 bytes by default.
MAX_NAME_BYTES = 1024
DEFAULT_MAX_CATEGORY_VALUES = 65535
NULLS_FIELD = "_nulls"
# A text column's field: where its UTF-8 bytes start in the output's text file
# (OUT.text.npy, or the in-memory text buffer of read_csv) and how many there are.
TEXT_REF = [("offset", "<u8"), ("length", "<u4")]


def text_fields(dtype: np.dtype) -> tuple[str, ...]:
    """The fields of a record dtype that are text references (TEXT_REF)."""
    ref = np.dtype(TEXT_REF)
    return tuple(n for n, (dt, *_) in (dtype.fields or {}).items() if dt == ref)
DECIMAL_MARKS = (".", ",")
THOUSANDS_SEPARATORS = (",", ".", " ", "'", "_")
# The boolean words the core always reads (any case), and what each means.
BOOL_WORDS = {"true": True, "t": True, "yes": True, "1": True,
              "false": False, "f": False, "no": False, "0": False}  # fmt: skip

# Keys each type accepts on top of name/type/nullable.
_TYPE_KEYS: dict[str, frozenset[str]] = {
    **{t: frozenset() for t in INT_TYPES},
    **{t: frozenset() for t in FLOAT_TYPES},
    "bool": frozenset(),
    "date": frozenset({"format"}),
    "datetime": frozenset({"format", "unit", "tz"}),
    "decimal": frozenset({"scale", "round"}),
    "str": frozenset({"width", "truncate"}),
    "text": frozenset(),
    "category": frozenset({"values", "max_values"}),
    "skip": frozenset(),
}
_COMMON_KEYS = frozenset({"name", "type", "nullable"})
# a column's data-quality rules (fastetl.rules), for any type the rule applies to
_RULE_KEYS = frozenset({"min", "max", "pattern", "allowed", "max_length", "unique"})
_DATE_DIRECTIVES = frozenset("YymbBdjaA")
_DATETIME_DIRECTIVES = _DATE_DIRECTIVES | frozenset("HIpMSfz")


def cut_name(name: str, limit: int = MAX_NAME_BYTES) -> str:
    """``name`` cut to at most ``limit`` bytes of UTF-8, at a character boundary."""
    raw = name.encode("utf-8", errors="surrogatepass")
    if len(raw) <= limit:
        return name
    return raw[:limit].decode("utf-8", errors="ignore")


def _suffixed(name: str, k: int) -> str:
    """``name_k``, ``name`` cut so that the whole stays within :data:`MAX_NAME_BYTES`."""
    return cut_name(name, MAX_NAME_BYTES - len(f"_{k}")) + f"_{k}"


def unique_names(names: list[str]) -> list[str]:
    """Usable, unique column names: empty -> ``column_N`` (1-based position),
    a reserved ``_nulls...`` name loses its leading underscores, a name longer than
    :data:`MAX_NAME_BYTES` bytes of UTF-8 is cut to that length (at a character
    boundary), and a repeated name gets ``_2``, ``_3`` ... (never clashing with
    another name of the header; a cut name is cut shorter to make room for it)."""
    base = []
    for i, n in enumerate(names):
        if n == "":
            n = f"column_{i + 1}"
        elif n.startswith(NULLS_FIELD):
            n = n.lstrip("_") or f"column_{i + 1}"
        base.append(cut_name(n))
    taken = set(base)
    seen: set[str] = set()
    out: list[str] = []
    for n in base:
        if n in seen:
            k = 2
            while (m := _suffixed(n, k)) in taken or m in seen:
                k += 1
            n = m
        seen.add(n)
        out.append(n)
    return out


def _repeats(items: list[str]) -> set[str]:
    """The items that occur more than once (in linear time: schemas may have 100,000 columns)."""
    seen: set[str] = set()
    twice: set[str] = set()
    for x in items:
        if x in seen:
            twice.add(x)
        seen.add(x)
    return twice


def _listed(items: list[str], most: int = 20) -> str:
    """``items`` as a list in a message; a long one (a wide header) cut after ``most``,
    each item cut and escaped as :func:`fastetl.errors.shown` does."""
    body = ", ".join(shown(x) for x in items[:most])
    if len(items) <= most:
        return f"[{body}]"
    return f"[{body}, ... ({len(items):,} in all)]"


def _first_repeat(items: tuple[str, ...]) -> str | None:
    """The first item that occurs a second time, or None."""
    seen: set[str] = set()
    for x in items:
        if x in seen:
            return x
        seen.add(x)
    return None


def smallest_unsigned(max_value: int) -> str:
    """Name of the smallest unsigned type that holds ``max_value``."""
    for bits, name in UNSIGNED_FOR_BITS.items():
        if max_value < (1 << bits):
            return name
    raise SchemaError(f"{max_value} does not fit in 64 bits")


def _check_format(fmt: str, allowed: frozenset[str], what: str) -> None:
    """Validate a strptime-like format made of %-directives and literal ASCII bytes."""
    if not isinstance(fmt, str) or not fmt:
        raise SchemaError(f"{what}: format must be a non-empty string")
    if not fmt.isascii():
        raise SchemaError(f"{what}: format {fmt!r} must be ASCII")
    seen: list[str] = []
    i = 0
    while i < len(fmt):
        if fmt[i] == "%":
            if i + 1 >= len(fmt) or fmt[i + 1] not in allowed:
                got = fmt[i : i + 2]
                raise SchemaError(
                    f"{what}: unsupported directive {got!r} in format {fmt!r} "
                    f"(supported: {', '.join('%' + d for d in sorted(allowed))})"
                )
            if fmt[i + 1] in seen:
                raise SchemaError(f"{what}: directive %{fmt[i + 1]} repeats in {fmt!r}")
            seen.append(fmt[i + 1])
            i += 2
        else:
            i += 1
    def count(ds: str) -> int:
        return sum(d in seen for d in ds)

    if count("Yy") != 1:
        raise SchemaError(f"{what}: format {fmt!r} needs one year: %Y (2024) or %y (24)")
    if "j" in seen:
        if count("mbBd"):
            raise SchemaError(f"{what}: format {fmt!r} has %j with a month or a day")
    elif count("mbB") != 1 or "d" not in seen:
        raise SchemaError(
            f"{what}: format {fmt!r} needs one month (%m, %b or %B) and a day (%d), or %j"
        )
    if ("I" in seen) != ("p" in seen) or count("HI") > 1:
        raise SchemaError(
            f"{what}: format {fmt!r}: a 12-hour clock is %I with %p (AM/PM); a 24-hour one %H"
        )
    if "f" in seen and "S" not in seen:
        raise SchemaError(f"{what}: format {fmt!r} has %f without %S")
    if ("M" in seen or "S" in seen) and not count("HI"):
        raise SchemaError(f"{what}: format {fmt!r} has minutes or seconds without an hour")


def parse_type(spec: Any, where: str) -> dict[str, Any]:
    """A column's type as a partial schema gives it: ``"int32"``, ``"decimal(2)"`` (scale),
    ``"str(40)"`` (width), ``"date(%d/%m/%Y)"`` / ``"datetime(FORMAT)"``, or an object of
    column keys without the name (``{"type": "category", "values": [...]}``).  The keys
    are checked when the column is made."""
    if isinstance(spec, dict):
        if "name" in spec:
            raise SchemaError(f"{where}: give the type without a name, got {spec!r}")
        if not isinstance(spec.get("type"), str):
            raise SchemaError(f"{where}: an object type needs a \"type\", got {spec!r}")
        return dict(spec)
    if not isinstance(spec, str) or not spec.strip():
        raise SchemaError(f"{where}: a type must be a name such as 'int64' or 'decimal(2)'")
    text = spec.strip()
    name, arg = text, None
    if text.endswith(")") and "(" in text:
        name, arg = text[:-1].split("(", 1)
        name = name.strip()
    if name not in TYPES:
        raise SchemaError(f"{where}: unknown type {spec!r} (known: {', '.join(TYPES)})")
    out: dict[str, Any] = {"type": name}
    if arg is None:
        return out
    key = {"decimal": "scale", "str": "width", "date": "format", "datetime": "format"}.get(name)
    if key is None:
        raise SchemaError(f"{where}: type {name} takes no argument, got {spec!r}")
    if key == "format":
        out[key] = arg
    else:
        try:
            out[key] = int(arg)
        except ValueError:
            raise SchemaError(
                f"{where}: {key} of {name} must be a whole number, got {arg!r}"
            ) from None
    return out


def is_utf8(encoding: str) -> bool:
    """True for the encodings the core reads directly (UTF-8, with or without BOM)."""
    return codecs.lookup(encoding).name in ("utf-8", "utf-8-sig")


@dataclass(frozen=True)
class Dialect:
    """How the CSV text is spelled.

    ``encoding`` is any Python codec name; inputs not in UTF-8 are transcoded to
    UTF-8 on the way in (str columns always hold UTF-8).

    How rows split into fields, beyond delimiter and quote: ``escape`` (a byte that makes
    the next one text, quoted or not), ``comment`` (a mark that ends the row: whole
    comment lines are skipped), ``skip_rows`` (lines before the header, or the first
    row), ``trailing_delimiter`` (every row ends with a delimiter: that empty last field
    is dropped), ``skip_initial_space`` (spaces after a delimiter are not text, so
    ``a, "b, c"`` is two fields), ``ragged`` ("strict": a short row is an error; "fill":
    its missing trailing fields are nulls) and ``lenient_quotes`` (a quote inside a
    quoted field that is neither doubled nor closing is kept as text).
    """

    delimiter: str = ","
    quote: str | None = '"'
    header: bool | str = True  # True, False, or "rename" (make names unique and non-empty)
    encoding: str = "utf-8"
    null_values: tuple[str, ...] = ("",)
    # How values are spelled (numbers, booleans); written to JSON only when not the default.
    decimal: str = "."  # the decimal mark of numbers: "." or ","
    thousands: str | None = None  # a digit-group separator: "," "." " " "'" "_", or None
    true_values: tuple[str, ...] = ()  # words read as true on top of true/t/yes/1
    false_values: tuple[str, ...] = ()  # words read as false on top of false/f/no/0
    # row structure (issue 17); to_dict writes them when they are not these defaults
    escape: str | None = None
    comment: str | None = None
    skip_rows: int = 0
    trailing_delimiter: bool = False
    skip_initial_space: bool = False
    ragged: str = "strict"
    lenient_quotes: bool = False

    def __post_init__(self) -> None:
        for key, val in (("delimiter", self.delimiter), ("quote", self.quote)):
            if key == "quote" and val is None:
                continue
            if not isinstance(val, str) or len(val) != 1 or not val.isascii():
                raise SchemaError(f"dialect: {key} must be one ASCII character, got {val!r}")
            if val in "\r\n":
                raise SchemaError(f"dialect: {key} cannot be a line break")
        if self.quote is not None and self.quote == self.delimiter:
            raise SchemaError("dialect: delimiter and quote must differ")
        if not (isinstance(self.header, bool) or self.header == "rename"):
            raise SchemaError(
                f'dialect: header must be true, false or "rename", got {self.header!r}'
            )
        if not isinstance(self.encoding, str):
            raise SchemaError(f"dialect: encoding must be a string, got {self.encoding!r}")
        try:
            codecs.lookup(self.encoding)
        except LookupError:
            raise SchemaError(f"dialect: unknown encoding {self.encoding!r}") from None
        nulls = self.null_values
        if not _strings(nulls):
            raise SchemaError("dialect: null_values must be a list of strings")
        object.__setattr__(self, "null_values", tuple(dict.fromkeys(nulls)))
        for v in self.null_values:
            if len(v.encode()) > 64:
                raise SchemaError(f"dialect: null value {v!r} is longer than 64 bytes")
        self._check_value_spelling()
        self._check_structure()

    def _check_value_spelling(self) -> None:
        if self.decimal not in DECIMAL_MARKS:
            raise SchemaError(
                f"dialect: decimal must be one of {', '.join(map(repr, DECIMAL_MARKS))}, "
                f"got {self.decimal!r}"
            )
        if self.thousands is not None:
            if self.thousands not in THOUSANDS_SEPARATORS:
                raise SchemaError(
                    f"dialect: thousands must be null or one of "
                    f"{', '.join(map(repr, THOUSANDS_SEPARATORS))}, got {self.thousands!r}"
                )
            if self.thousands == self.decimal:
                raise SchemaError(
                    f"dialect: thousands and decimal are both {self.decimal!r}; they must differ"
                )
        words: dict[str, str] = {}
        for key in ("true_values", "false_values"):
            vals = getattr(self, key)
            if not _strings(vals):
                raise SchemaError(f"dialect: {key} must be a list of strings")
            vals = tuple(dict.fromkeys(vals))
            object.__setattr__(self, key, vals)
            meaning = key == "true_values"
            for v in vals:
                if not v or v != v.strip(" \t") or len(v.encode()) > 64:
                    raise SchemaError(
                        f"dialect: {key} word {v!r} must be 1 to 64 bytes with no blanks "
                        "at either end"
                    )
                if v.lower() in BOOL_WORDS and BOOL_WORDS[v.lower()] != meaning:
                    raise SchemaError(
                        f"dialect: {key} word {v!r} already means {not meaning} "
                        "(true/t/yes/1 and false/f/no/0, any case, are always read)"
                    )
                if v in words and words[v] != key:
                    raise SchemaError(f"dialect: {v!r} is in both true_values and false_values")
                if v in self.null_values:
                    raise SchemaError(f"dialect: {key} word {v!r} is also a null value")
                words[v] = key

    def _check_structure(self) -> None:
        marks = {"delimiter": self.delimiter, "quote": self.quote}
        for key in ("escape", "comment"):
            val = getattr(self, key)
            if val is None:
                continue
            if not isinstance(val, str) or len(val) != 1 or not val.isascii():
                raise SchemaError(f"dialect: {key} must be one ASCII character, got {val!r}")
            if val in "\r\n \t":
                raise SchemaError(f"dialect: {key} cannot be a space or a line break")
            for other, oval in marks.items():
                if val == oval:
                    raise SchemaError(f"dialect: {key} and {other} must differ")
            marks[key] = val
        n = self.skip_rows
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise SchemaError(f"dialect: skip_rows must be a whole number >= 0, got {n!r}")
        for key in ("trailing_delimiter", "skip_initial_space", "lenient_quotes"):
            if not isinstance(getattr(self, key), bool):
                raise SchemaError(f"dialect: {key} must be true or false")
        if self.ragged not in ("strict", "fill"):
            raise SchemaError(f'dialect: ragged must be "strict" or "fill", got {self.ragged!r}')
        if self.lenient_quotes and self.quote is None:
            raise SchemaError("dialect: lenient_quotes needs a quote character")

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "delimiter": self.delimiter,
            "quote": self.quote,
            "header": self.header,
            "encoding": self.encoding,
            "null_values": list(self.null_values),
        } | {k: v for k, v in self._structure().items() if v != STRUCTURE_DEFAULTS[k]}
        if self.decimal != ".":
            d["decimal"] = self.decimal
        if self.thousands is not None:
            d["thousands"] = self.thousands
        if self.true_values:
            d["true_values"] = list(self.true_values)
        if self.false_values:
            d["false_values"] = list(self.false_values)
        return d

    def _structure(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in STRUCTURE_DEFAULTS}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Dialect:
        if not isinstance(d, dict):
            raise SchemaError(f"dialect must be an object, got {type(d).__name__}")
        unknown = set(d) - {
            "delimiter", "quote", "header", "encoding", "null_values",
            "decimal", "thousands", "true_values", "false_values",
        }  # fmt: skip
        unknown -= set(STRUCTURE_DEFAULTS)
        if unknown:
            raise SchemaError(f"dialect: unknown key(s) {sorted(unknown)}")
        kw = dict(d)
        for key in ("null_values", "true_values", "false_values"):
            if key in kw:
                if not isinstance(kw[key], list):
                    raise SchemaError(f"dialect: {key} must be a list of strings")
                kw[key] = tuple(kw[key])
        if kw.get("quote") == "":
            kw["quote"] = None
        return cls(**kw)


# the row-structure options of a Dialect, and what each is when not given nor detected
STRUCTURE_DEFAULTS: dict[str, Any] = {
    "escape": None,
    "comment": None,
    "skip_rows": 0,
    "trailing_delimiter": False,
    "skip_initial_space": False,
    "ragged": "strict",
    "lenient_quotes": False,
}


@dataclass(frozen=True)
class Column:
    """One column of the file and, unless it is ``skip``, one field of the record."""

    name: str
    type: str
    nullable: bool = False
    width: int | None = None  # str
    truncate: bool = False  # str
    scale: int | None = None  # decimal
    round: bool = False  # decimal: round half-even instead of refusing extra digits
    values: tuple[str, ...] | None = None  # category: fixed dictionary
    max_values: int | None = None  # category: learned dictionary limit
    format: str | None = None  # date / datetime
    unit: str | None = None  # datetime
    tz: str | None = None  # datetime: "UTC" = the values are UTC instants (read with offsets)
    # data-quality rules (min, max, pattern, allowed, max_length, unique): given as a dict
    # of those keys, kept as fastetl.rules.ColumnRules; not part of the layout
    rules: Any = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        where = f"column {shown(self.name)}"
        if not isinstance(self.name, str) or not self.name:
            raise SchemaError(f"column name must be a non-empty string, got {shown(self.name)}")
        if self.type not in TYPES:
            raise SchemaError(
                f"{where}: unknown type {shown(self.type)} (known: {', '.join(TYPES)})"
            )
        if not isinstance(self.nullable, bool):
            raise SchemaError(f"{where}: nullable must be true or false")
        t = self.type
        if t == "str":
            w = self.width
            if not isinstance(w, int) or isinstance(w, bool) or not 1 <= w <= MAX_STR_WIDTH:
                raise SchemaError(
                    f"{where}: type str needs an integer width from 1 to {MAX_STR_WIDTH}, got {w!r}"
                )
            if not isinstance(self.truncate, bool):
                raise SchemaError(f"{where}: truncate must be true or false")
        if t == "decimal":
            s = self.scale
            if not isinstance(s, int) or isinstance(s, bool) or not 0 <= s <= MAX_DECIMAL_SCALE:
                raise SchemaError(
                    f"{where}: type decimal needs an integer scale from 0 to "
                    f"{MAX_DECIMAL_SCALE}, got {s!r}"
                )
            if not isinstance(self.round, bool):
                raise SchemaError(f"{where}: round must be true or false")
        if t == "category":
            if self.values is not None:
                vals = self.values
                if not _strings(vals):
                    raise SchemaError(f"{where}: values must be a list of strings")
                vals = tuple(vals)
                object.__setattr__(self, "values", vals)
                if not vals:
                    raise SchemaError(f"{where}: values must not be empty")
                dup = _first_repeat(vals)
                if dup is not None:
                    raise SchemaError(f"{where}: value {shown(dup)} is listed twice")
                if self.max_values is not None:
                    raise SchemaError(f"{where}: give either values or max_values, not both")
            else:
                m = self.max_values
                if m is not None and (
                    not isinstance(m, int) or isinstance(m, bool) or not 1 <= m < 2**32
                ):
                    raise SchemaError(f"{where}: max_values must be an integer from 1 to 2**32-1")
        if t == "date":
            if self.format is not None and self.format != ISO:
                _check_format(self.format, _DATE_DIRECTIVES, where)
        if t == "datetime":
            if self.format is not None and self.format != ISO:
                _check_format(self.format, _DATETIME_DIRECTIVES, where)
            if self.unit is not None and self.unit not in DATETIME_UNITS:
                raise SchemaError(
                    f"{where}: unit must be one of {', '.join(DATETIME_UNITS)}, got {self.unit!r}"
                )
            if self.tz is not None and self.tz != "UTC":
                raise SchemaError(f'{where}: tz must be "UTC" (or left out), got {self.tz!r}')
        if t == "skip" and self.nullable:
            raise SchemaError(f"{where}: a skip column cannot be nullable")
        if isinstance(self.rules, dict):
            from .rules.spec import column_rules  # (late: the rules package imports schema)

            object.__setattr__(self, "rules", column_rules(self, self.rules))
        # Keys that belong to another type are mistakes worth reporting.
        given = {
            k
            for k in ("width", "scale", "values", "max_values", "format", "unit", "tz")
            if getattr(self, k) is not None
        }
        given |= {k for k in ("truncate", "round") if getattr(self, k)}
        wrong = given - _TYPE_KEYS[t]
        if wrong:
            raise SchemaError(f"{where}: key(s) {sorted(wrong)} do not apply to type {t}")

    # -- derived facts -------------------------------------------------------
    @property
    def stored(self) -> bool:
        return self.type != "skip"

    @property
    def null_in_value(self) -> bool:
        """True when nulls are stored in the value itself (NaN / NaT)."""
        return self.type in FLOAT_TYPES or self.type in ("date", "datetime")

    @property
    def masked(self) -> bool:
        """True when nulls of this column need a bit in the null mask."""
        return self.nullable and not self.null_in_value

    @property
    def category_limit(self) -> int:
        if self.values is not None:
            return len(self.values)
        return self.max_values if self.max_values is not None else DEFAULT_MAX_CATEGORY_VALUES

    @property
    def datetime_unit(self) -> str:
        return self.unit or "us"

    @property
    def numpy_format(self) -> str:
        t = self.type
        if t in INT_TYPES:
            return INT_TYPES[t][0]
        if t in FLOAT_TYPES:
            return FLOAT_TYPES[t]
        if t == "bool":
            return "?"
        if t == "date":
            return "<M8[D]"
        if t == "datetime":
            return f"<M8[{self.datetime_unit}]"
        if t == "decimal":
            return "<i8"
        if t == "str":
            return f"S{self.width}"
        if t == "text":
            return TEXT_REF  # type: ignore[return-value]
        if t == "category":
            # code 0 .. limit-1 must fit
            return INT_TYPES[smallest_unsigned(max(self.category_limit - 1, 0))][0]
        raise SchemaError(f"column {shown(self.name)}: a skip column has no field")

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "type": self.type}
        if self.nullable:
            d["nullable"] = True
        for key in ("width", "scale", "max_values", "format", "unit", "tz"):
            val = getattr(self, key)
            if val is not None:
                d[key] = val
        if self.values is not None:
            d["values"] = list(self.values)
        for key in ("truncate", "round"):
            if getattr(self, key):
                d[key] = True
        if self.rules is not None:
            d.update(self.rules.to_dict())
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Column:
        if not isinstance(d, dict):
            raise SchemaError(f"a column must be an object, got {shown(d)}")
        if "name" not in d or "type" not in d:
            raise SchemaError(f"a column needs a name and a type, got {shown(d)}")
        if not isinstance(d["type"], str) or d["type"] not in _TYPE_KEYS:
            raise SchemaError(
                f"column {shown(d['name'])}: unknown type {shown(d['type'])} "
                f"(known: {', '.join(TYPES)})"
            )
        unknown = set(d) - (_COMMON_KEYS | _TYPE_KEYS[d["type"]] | _RULE_KEYS)
        if unknown:
            raise SchemaError(
                f"column {shown(d['name'])}: key(s) {sorted(unknown)} do not apply to "
                f"type {d['type']}"
            )
        kw = {k: v for k, v in d.items() if k not in _RULE_KEYS}
        if isinstance(kw.get("values"), list):
            kw["values"] = tuple(kw["values"])
        rules = {k: v for k, v in d.items() if k in _RULE_KEYS}
        return cls(**kw, rules=rules or None)


@dataclass(frozen=True)
class FlagBit:
    """One bit: a boolean source column, or ``column == equals``."""

    name: str
    column: str
    equals: str | None = None

    def __post_init__(self) -> None:
        for key in ("name", "column"):
            val = getattr(self, key)
            if not isinstance(val, str) or not val:
                raise SchemaError(f"flag bit {key} must be a non-empty string, got {val!r}")
        if self.equals is not None and not isinstance(self.equals, str):
            raise SchemaError(f"flag bit {shown(self.name)}: equals must be a string")

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "column": self.column}
        if self.equals is not None:
            d["equals"] = self.equals
        return d


@dataclass(frozen=True)
class Flags:
    """An unsigned integer field whose bit ``i`` is ``bits[i]``."""

    name: str
    type: str
    bits: tuple[FlagBit, ...]

    def __post_init__(self) -> None:
        where = f"flags {shown(self.name)}"
        if not isinstance(self.name, str) or not self.name:
            raise SchemaError(f"a flags field needs a non-empty name, got {shown(self.name)}")
        if self.type not in UNSIGNED_FOR_BITS.values():
            raise SchemaError(
                f"{where}: type must be one of {', '.join(UNSIGNED_FOR_BITS.values())}, "
                f"got {shown(self.type)}"
            )
        if not self.bits:
            raise SchemaError(f"{where}: needs at least one bit")
        nbits = 8 * np.dtype(INT_TYPES[self.type][0]).itemsize
        if len(self.bits) > nbits:
            raise SchemaError(f"{where}: {len(self.bits)} bits do not fit in {self.type}")
        names = [b.name for b in self.bits]
        if len(set(names)) != len(names):
            raise SchemaError(f"{where}: bit names must be unique")

    @property
    def numpy_format(self) -> str:
        return INT_TYPES[self.type][0]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "bits": [b.to_dict() for b in self.bits]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Flags:
        if not isinstance(d, dict) or "name" not in d or "bits" not in d:
            raise SchemaError(f"a flags field needs a name and bits, got {shown(d)}")
        unknown = set(d) - {"name", "type", "bits"}
        if unknown:
            raise SchemaError(f"flags {shown(d['name'])}: unknown key(s) {sorted(unknown)}")
        if not isinstance(d["bits"], list):
            raise SchemaError(f"flags {shown(d['name'])}: bits must be a list")
        bits = []
        for b in d["bits"]:
            if not isinstance(b, dict) or "column" not in b:
                raise SchemaError(
                    f"flags {shown(d['name'])}: each bit needs a column, got {shown(b)}"
                )
            unknown = set(b) - {"name", "column", "equals"}
            if unknown:
                raise SchemaError(
                    f"flags {shown(d['name'])}: unknown bit key(s) {sorted(unknown)}"
                )
            eq = b.get("equals")
            if eq is not None and not isinstance(eq, str):
                raise SchemaError(
                    f"flags {shown(d['name'])}: equals must be a string, got {shown(eq)}"
                )
            bits.append(FlagBit(name=b.get("name") or b["column"], column=b["column"], equals=eq))
        ftype = d.get("type")
        if ftype is None:  # the smallest type that holds the bits
            ftype = next((t for n, t in UNSIGNED_FOR_BITS.items() if len(bits) <= n), None)
            if ftype is None:
                raise SchemaError(
                    f"flags {shown(d['name'])}: {len(bits)} bits do not fit in uint64"
                )
        return cls(name=d["name"], type=ftype, bits=tuple(bits))


@dataclass(frozen=True)
class BoundColumn:
    """What to do with one field of each row (see :meth:`Schema.bind`)."""

    index: int  # position in the row
    source_name: str  # the header name, or the schema name without a header
    column: Column | None  # None: read only for flags
    null_bit: int  # bit in the null mask, or -1
    flag_bits: tuple[tuple[int, int, FlagBit], ...]  # (flags index, bit number, bit)


@dataclass(frozen=True)
class Binding:
    """A schema matched to a file's header: one entry per field of a row."""

    schema: Schema
    fields: tuple[BoundColumn | None, ...]  # None: field ignored
    # what readers work out from it (the core's parser specs: layout.field_specs), shared
    # by the Bindings of one schema and header (see Schema.bind)
    worked_out: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def nfields(self) -> int:
        return len(self.fields)


@dataclass(frozen=True)
class Schema:
    """Columns, flags and dialect: everything needed to turn a CSV into records."""

    columns: tuple[Column, ...]
    flags: tuple[Flags, ...] = ()
    dialect: Dialect = field(default_factory=Dialect)
    # What inference found out beside the types (sample size, rows left out, names cut,
    # line ends): information only, the converter does not use it; not compared.
    inferred: dict[str, Any] | None = field(default=None, compare=False)
    # row rules: "rules": [{"name", "expr", "tolerance"}] (fastetl.rules.RowRule)
    rules: tuple[Any, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        if self.inferred is not None and not isinstance(self.inferred, dict):
            raise SchemaError(f"schema: inferred must be an object, got {shown(self.inferred)}")
        object.__setattr__(self, "columns", tuple(self.columns))
        object.__setattr__(self, "flags", tuple(self.flags))
        if not self.columns:
            raise SchemaError("a schema needs at least one column")
        names = [c.name for c in self.columns]
        dup = _repeats(names)
        if dup:
            raise SchemaError(f"column name(s) {_listed(sorted(dup))} appear more than once")
        fields = [c.name for c in self.columns if c.stored] + [f.name for f in self.flags]
        clash = _repeats(fields)
        if clash:
            raise SchemaError(
                f"field name(s) {_listed(sorted(clash))} are used twice (columns and flags)"
            )
        for n in fields:
            if n.startswith(NULLS_FIELD):
                raise SchemaError(
                    f"field name {shown(n)}: names starting with {NULLS_FIELD!r} are reserved"
                )
        if not fields:
            raise SchemaError(
                "the schema stores nothing: every column is skip and there are no flags"
            )
        if not self.dialect.header:
            known = set(names)
            for fl in self.flags:
                for b in fl.bits:
                    if b.column not in known:
                        raise SchemaError(
                            f"flags {shown(fl.name)}: bit {shown(b.name)} reads column "
                            f"{shown(b.column)}, which a "
                            "file without a header cannot locate; list it in columns "
                            "(type skip if it should not be stored)"
                        )
        if isinstance(self.rules, list) or self.rules:
            from .rules.spec import row_rules  # (late: the rules package imports schema)

            object.__setattr__(self, "rules", row_rules(self.rules, self.columns))

    # -- layout --------------------------------------------------------------
    # (the schema is frozen: what follows from it is worked out once per instance; a
    # small read asks for its dtype and null-mask columns about ten times)
    @cached_property
    def masked_columns(self) -> tuple[Column, ...]:
        """Columns with a bit in the null mask, in bit order."""
        return tuple(c for c in self.columns if c.stored and c.masked)

    @property
    def text_names(self) -> tuple[str, ...]:
        """The names of the ``text`` columns (their bytes live out of line)."""
        return tuple(c.name for c in self.columns if c.type == "text")

    def null_fields(self) -> list[tuple[str, str]]:
        n = len(self.masked_columns)
        out = []
        for i in range(0, n, 64):
            bits = min(64, n - i)
            name = NULLS_FIELD if i == 0 else f"{NULLS_FIELD}{i // 64}"
            out.append((name, INT_TYPES[smallest_unsigned((1 << bits) - 1)][0]))
        return out

    def dtype(self) -> np.dtype:
        """The packed little-endian structured dtype of one record."""
        return self._dtype

    @cached_property
    def _dtype(self) -> np.dtype:
        if sys.byteorder != "little":  # pragma: no cover - no such platform is built
            raise SchemaError("fastetl writes little-endian records and needs a little-endian CPU")
        parts = [(c.name, c.numpy_format) for c in self.columns if c.stored]
        parts += [(f.name, f.numpy_format) for f in self.flags]
        parts += self.null_fields()
        return np.dtype(parts)

    # -- binding to a file ---------------------------------------------------
    def bind(self, header: list[str] | None) -> Binding:
        """Match the schema to a file's header (or to the schema order without one).

        With a header, columns are found by name; every header field must be
        named by the schema (``skip`` it to ignore it) or by a flag bit.  (A binding
        made is kept on the schema for the same header: each read of a file binds.)
        """
        key = None if header is None else tuple(header)
        kept = self._bindings.get(key)
        if kept is None:
            made = self._bind(header)
            kept = (made.fields, made.worked_out)
            if len(self._bindings) < 8:
                self._bindings[key] = kept
        # (what a Binding holds but the schema, not the Binding: it refers to the schema,
        # and a schema holding it would be a cycle, freed only by the cyclic GC)
        return Binding(self, *kept)

    @cached_property
    def _bindings(self) -> dict[tuple[str, ...] | None, tuple[Any, dict[str, Any]]]:
        return {}

    _WORKED_OUT = ("masked_columns", "_dtype", "_bindings")  # (the cached_property names)

    def __getstate__(self) -> dict[str, Any]:
        """The fields only: what a schema works out (dtype, bindings) is not pickled,
        nor shared by a copy; each copy works it out again."""
        return {k: v for k, v in self.__dict__.items() if k not in self._WORKED_OUT}

    def _bind(self, header: list[str] | None) -> Binding:
        by_name = {c.name: c for c in self.columns}
        if header is not None and self.dialect.header == "rename":
            header = unique_names(header)
        if header is None:
            order = [c.name for c in self.columns]
        else:
            dups = sorted(_repeats(header))
            if dups:
                raise SchemaError(
                    f"the header repeats the name(s) {_listed(dups)}; rename them in the file or "
                    "read it with header=false and list the columns in order"
                )
            in_header = set(header)
            missing = [c.name for c in self.columns if c.name not in in_header]
            if missing:
                raise SchemaError(
                    f"schema column(s) {_listed(missing)} are not in the file's header "
                    f"{_listed(header)}"
                )
            flag_cols = {b.column for f in self.flags for b in f.bits}
            missing = sorted(flag_cols - in_header)
            if missing:
                raise SchemaError(
                    f"flag source column(s) {_listed(missing)} are not in the file's header"
                )
            extra = [h for h in header if h not in by_name and h not in flag_cols]
            if extra:
                hint = json.dumps({"name": extra[0], "type": "skip"}, ensure_ascii=False)
                raise SchemaError(
                    f"the file has column(s) {_listed(extra)} that the schema does not name; "
                    f"add {hint} to the schema's columns to ignore them"
                )
            order = list(header)
        null_bit = {c.name: i for i, c in enumerate(self.masked_columns)}
        flag_bits: dict[str, list[tuple[int, int, FlagBit]]] = {}
        for fi, fl in enumerate(self.flags):
            for bi, b in enumerate(fl.bits):
                flag_bits.setdefault(b.column, []).append((fi, bi, b))
        fields: list[BoundColumn | None] = []
        for i, name in enumerate(order):
            col = by_name.get(name)
            bits = tuple(flag_bits.get(name, ()))
            if col is not None and col.type == "skip" and not bits:
                fields.append(None)
                continue
            stored = col if (col is not None and col.stored) else None
            fields.append(
                BoundColumn(
                    index=i,
                    source_name=name,
                    column=stored,
                    null_bit=null_bit.get(name, -1),
                    flag_bits=bits,
                )
            )
        return Binding(schema=self, fields=tuple(fields))

    # -- JSON ----------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "dialect": self.dialect.to_dict(),
            "columns": [c.to_dict() for c in self.columns],
        }
        if self.flags:
            d["flags"] = [f.to_dict() for f in self.flags]
        if self.rules:
            d["rules"] = [r.to_dict() for r in self.rules]
        if self.inferred is not None:
            d["inferred"] = self.inferred
        return d

    def to_json(self, indent: int | None = 2) -> str:
        """JSON text; with an indent, one line per column and flags field (easy to edit)."""
        if indent is None:
            return json.dumps(self.to_dict(), ensure_ascii=False)

        def one(x: Any) -> str:
            return json.dumps(x, ensure_ascii=False)

        pad = " " * indent
        d = self.to_dict()
        parts = [f'{pad}"dialect": {one(d["dialect"])}']
        for key in ("columns", "flags", "rules"):
            if key in d:
                items = f",\n{pad}{pad}".join(one(x) for x in d[key])
                parts.append(f'{pad}"{key}": [\n{pad}{pad}{items}\n{pad}]')
        if "inferred" in d:
            parts.append(f'{pad}"inferred": {one(d["inferred"])}')
        return "{\n" + ",\n".join(parts) + "\n}"

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Schema:
        if not isinstance(d, dict):
            raise SchemaError(f"a schema must be a JSON object, got {type(d).__name__}")
        unknown = set(d) - {"dialect", "columns", "flags", "rules", "inferred"}
        if unknown:
            raise SchemaError(f"schema: unknown key(s) {sorted(unknown)}")
        cols = d.get("columns")
        if not isinstance(cols, list):
            raise SchemaError("schema: columns must be a list")
        flags = d.get("flags", [])
        if not isinstance(flags, list):
            raise SchemaError("schema: flags must be a list")
        return cls(
            columns=tuple(Column.from_dict(c) for c in cols),
            flags=tuple(Flags.from_dict(f) for f in flags),
            dialect=Dialect.from_dict(d.get("dialect", {})),
            inferred=d.get("inferred"),
            rules=d.get("rules", ()),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> Schema:
        try:
            d = json.loads(text)
        except json.JSONDecodeError as e:
            raise SchemaError(f"schema is not valid JSON: {e}") from None
        return cls.from_dict(d)

    @classmethod
    def load(cls, path: str | Path) -> Schema:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as e:
            raise SchemaError(f"cannot read schema {str(path)!r}: {e.strerror or e}") from None
        return cls.from_json(text)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json() + "\n", encoding="utf-8")

    def replace(self, **changes: Any) -> Schema:
        """A copy with some of columns/flags/dialect replaced."""
        kw = {
            "columns": self.columns,
            "flags": self.flags,
            "dialect": self.dialect,
            "inferred": self.inferred,
            "rules": self.rules,
            **changes,
        }
        return Schema(**kw)


def _strings(vals: Any) -> bool:
    """Whether ``vals`` is a collection of ``str``: a list, tuple or set of them, not one
    string, not a number (``true_values=5``), and not an iterator, which checking it here
    would use up before it is kept."""
    if isinstance(vals, (str, bytes)) or not isinstance(vals, Iterable) or iter(vals) is vals:
        return False
    return all(isinstance(v, str) for v in vals)


def as_schema(schema: Schema | dict | str | Path) -> Schema:
    """Accept a Schema, a dict, a JSON string or a path to a JSON file."""
    if isinstance(schema, Schema):
        return schema
    if isinstance(schema, dict):
        return Schema.from_dict(schema)
    if isinstance(schema, Path) or (
        isinstance(schema, str) and not schema.lstrip().startswith("{")
    ):
        return Schema.load(schema)
    if isinstance(schema, str):
        return Schema.from_json(schema)
    raise SchemaError(
        f"schema must be a Schema, dict, JSON text or path, got {type(schema).__name__}"
    )


def has_rules(schema: Schema) -> bool:
    """Whether ``schema`` has data-quality rules (:mod:`fastetl.rules`).  Only that package
    makes them (a rule given as a dict is turned into its objects there), so while it is
    not loaded no schema has any: a read without rules does not import it (nor ``ast``)."""
    evaluate = sys.modules.get(f"{__package__}.rules.evaluate")
    return evaluate is not None and bool(evaluate.rules_of(schema))


__all__ = [
    "Binding",
    "BoundColumn",
    "Column",
    "Dialect",
    "FlagBit",
    "Flags",
    "Schema",
    "as_schema",
    "cut_name",
    "has_rules",
    "is_utf8",
    "smallest_unsigned",
    "unique_names",
]
