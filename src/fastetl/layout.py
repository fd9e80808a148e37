"""Turn a schema bound to a file's header into the compiled core's field table.

This is the one place that knows both the :class:`~fastetl.schema.Binding` and
the core's spec format; everything here runs once per conversion.
"""

from __future__ import annotations

from typing import Any

from . import _core
from .schema import FLOAT_TYPES, INT_TYPES, Binding, Column, Dialect

K = _core.KINDS
_UNITS = {"s": (1, 0), "ms": (1_000, 3), "us": (1_000_000, 6), "ns": (1_000_000_000, 9)}


_NUMBERS = frozenset((*INT_TYPES, *FLOAT_TYPES, "decimal"))


def _column_spec(
    col: Column, offset: int, null_byte: int, null_mask: int, dialect: Dialect | None = None
) -> dict[str, Any]:
    t = col.type
    spec: dict[str, Any] = {
        "offset": offset,
        "nullable": col.nullable,
        "null_byte": null_byte,
        "null_mask": null_mask,
    }
    if t in INT_TYPES:
        fmt = INT_TYPES[t][0]
        spec["kind"] = K["uint"] if fmt[1] == "u" else K["int"]
        spec["size"] = int(fmt[2:])
    elif t in FLOAT_TYPES:
        spec["kind"] = K[t]
    elif t == "bool":
        spec["kind"] = K["bool"]
    elif t == "date":
        spec["kind"] = K["date"]
        spec["format"] = _format_bytes(col)
    elif t == "datetime":
        spec["kind"] = K["datetime"]
        spec["format"] = _format_bytes(col)
        spec["unit_mul"], spec["frac_digits"] = _UNITS[col.datetime_unit]
    elif t == "decimal":
        spec["kind"] = K["decimal"]
        spec["scale"] = col.scale
        spec["round"] = col.round
    elif t == "str":
        spec["kind"] = K["str"]
        spec["size"] = col.width
        spec["truncate"] = col.truncate
    elif t == "text":
        spec["kind"] = K["text"]
    elif t == "category":
        spec["kind"] = K["category"]
        spec["size"] = int(col.numpy_format[2:])
        spec["limit"] = col.category_limit
        if col.values is not None:
            spec["values"] = [v.encode("utf-8") for v in col.values]
    else:  # pragma: no cover - skip columns never reach here
        raise AssertionError(t)
    if t in _NUMBERS and dialect is not None:  # 1.234,56: the dialect's number spelling
        if dialect.decimal != ".":
            spec["decimal"] = ord(dialect.decimal)
        if dialect.thousands is not None:
            spec["thousands"] = ord(dialect.thousands)
    return spec


def _format_bytes(col: Column) -> bytes:
    if col.format is None or col.format == "iso":
        return b""
    return col.format.encode("ascii")


def learned_categories(binding: Binding) -> list[tuple[int, Column]]:
    """(field index, column) of each category column whose dictionary is learned."""
    return [
        (i, b.column)
        for i, b in enumerate(binding.fields)
        if b is not None
        and b.column is not None
        and b.column.type == "category"
        and b.column.values is None
    ]


def field_specs(binding: Binding) -> tuple[list[dict[str, Any] | None], list[dict[str, Any]]]:
    """The per-field spec list and the flag-bit list the core's Parser takes (fresh
    lists and dicts: the caller may change them).  Worked out once per schema and header:
    kept in the binding's ``worked_out``, which the schema keeps for that header and
    gives to each binding it makes for it (not the binding itself: see :meth:`Schema.bind`)."""
    kept = binding.worked_out.get("specs")
    if kept is None:
        kept = _field_specs(binding)
        binding.worked_out["specs"] = kept
    fields, flags = kept
    return [None if f is None else dict(f) for f in fields], [dict(f) for f in flags]


def _field_specs(
    binding: Binding,
) -> tuple[list[dict[str, Any] | None], list[dict[str, Any]]]:
    schema = binding.schema
    dtype = schema.dtype()
    assert dtype.fields is not None
    offsets = {name: spec[1] for name, spec in dtype.fields.items()}
    null_base = offsets.get("_nulls", 0)
    fields: list[dict[str, Any] | None] = []
    flags: list[dict[str, Any]] = []
    for bound in binding.fields:
        if bound is None:
            fields.append(None)
            continue
        col = bound.column
        if col is None:
            spec: dict[str, Any] = {"kind": K["flagonly"]}
        else:
            nb = bound.null_bit
            spec = _column_spec(
                col,
                offsets[col.name],
                null_base + nb // 8 if nb >= 0 else 0,
                1 << (nb % 8) if nb >= 0 else 0,
                schema.dialect,
            )
        spec["flag_first"] = len(flags)
        spec["flag_count"] = len(bound.flag_bits)
        for fi, bit, fb in bound.flag_bits:
            field_name = schema.flags[fi].name
            flags.append(
                {
                    "byte": offsets[field_name] + bit // 8,
                    "mask": 1 << (bit % 8),
                    "equals": fb.equals.encode("utf-8") if fb.equals is not None else None,
                    "source_nullable": bool(col is not None and col.nullable),
                }
            )
        fields.append(spec)
    return fields, flags


SYN_SKIP_SPACE = _core.SYNTAX["skip_space"]  # bits of a core syntax word (_scan.pxi)
SYN_LENIENT = _core.SYNTAX["lenient"]


def syntax_word(d: Any) -> int:
    """The core's syntax word for a Dialect: the delimiter byte, with the escape, the
    comment mark, skip_initial_space and lenient_quotes above it (under 256 when none
    is set: the core's fast paths)."""
    return ord(d.delimiter) | syntax_bits(
        d.escape, d.comment, d.skip_initial_space, d.lenient_quotes
    )


def syntax_bits(escape: str | None, comment: str | None, skip_space: bool, lenient: bool) -> int:
    """A syntax word's bits above the delimiter byte."""
    word = 0
    if escape is not None:
        word |= (ord(escape) + 1) << 8
    if comment is not None:
        word |= (ord(comment) + 1) << 16
    if skip_space:
        word |= SYN_SKIP_SPACE
    if lenient:
        word |= SYN_LENIENT
    return word


def make_parser(binding: Binding, seed: dict[str, list[str]] | None = None) -> _core.Parser:
    """A fresh core parser for one conversion (or one worker of it).

    ``seed`` starts learned category dictionaries with these values (in code order);
    fixed categories keep their own values.
    """
    fields, flags = field_specs(binding)
    for bound, spec in zip(binding.fields, fields, strict=True):
        col = bound.column if bound is not None else None
        if (
            spec is not None
            and col is not None
            and col.type == "category"
            and col.values is None
            and seed
            and col.name in seed
        ):
            spec["values"] = [v.encode("utf-8") for v in seed[col.name]]
            spec["frozen"] = False
    d = binding.schema.dialect
    if d.trailing_delimiter:
        fields.append(None)  # the empty field after the trailing delimiter (checked empty)
    return _core.Parser(
        fields,
        flags,
        binding.schema.dtype().itemsize,
        syntax_word(d),
        ord(d.quote) if d.quote is not None else -1,
        [v.encode("utf-8") for v in d.null_values],
        [v.encode("utf-8") for v in d.true_values],
        [v.encode("utf-8") for v in d.false_values],
        d.ragged == "fill",
        d.trailing_delimiter,
    )
