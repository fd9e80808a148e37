"""Schema: JSON round trip, record layout (numpy dtype), binding to a header, and
a SchemaError for every kind of bad schema.

These tests need only ``fastetl.schema`` (pure Python), not the compiled core.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from fastetl.errors import FastETLError, SchemaError
from fastetl.schema import Column, Dialect, Flags, Schema, as_schema, smallest_unsigned

# -- JSON round trip -------------------------------------------------------------------

#: Every type and every key, written in the normalized form ``to_dict`` produces.
FULL = {
    "dialect": {
        "delimiter": ";",
        "quote": "'",
        "header": True,
        "encoding": "utf-8",
        "null_values": ["", "NA", "null"],
    },
    "columns": [
        {"name": "i8", "type": "int8"},
        {"name": "i16", "type": "int16", "nullable": True},
        {"name": "i32", "type": "int32"},
        {"name": "i64", "type": "int64"},
        {"name": "u8", "type": "uint8"},
        {"name": "u16", "type": "uint16"},
        {"name": "u32", "type": "uint32", "nullable": True},
        {"name": "u64", "type": "uint64"},
        {"name": "f32", "type": "float32", "nullable": True},
        {"name": "f64", "type": "float64"},
        {"name": "ok", "type": "bool", "nullable": True},
        {"name": "d_iso", "type": "date"},
        {"name": "d_br", "type": "date", "format": "%d/%m/%Y", "nullable": True},
        {"name": "ts", "type": "datetime"},
        {"name": "ts_ns", "type": "datetime", "unit": "ns", "format": "%Y-%m-%d %H:%M:%S.%f%z"},
        {"name": "ts_s", "type": "datetime", "unit": "s"},
        {"name": "ts_ms", "type": "datetime", "unit": "ms", "nullable": True},
        {"name": "price", "type": "decimal", "scale": 2},
        {"name": "rate", "type": "decimal", "scale": 18, "round": True, "nullable": True},
        {"name": "whole", "type": "decimal", "scale": 0},
        {"name": "nome", "type": "str", "width": 40},
        {"name": "note", "type": "str", "width": 3, "truncate": True, "nullable": True},
        {"name": "cat", "type": "category"},
        {"name": "cat_max", "type": "category", "max_values": 300, "nullable": True},
        {"name": "cat_fixed", "type": "category", "values": ["pix", "boleto", "cartão"]},
        {"name": "ignored", "type": "skip"},
    ],
    "flags": [
        {
            "name": "flags",
            "type": "uint8",
            "bits": [
                {"name": "is_prime", "column": "is_prime"},
                {"name": "pago_pix", "column": "cat_fixed", "equals": "pix"},
            ],
        },
        {"name": "more", "type": "uint16", "bits": [{"name": "x", "column": "ok"}]},
    ],
}


def test_round_trip_every_type_and_key():
    s = Schema.from_dict(FULL)
    assert s.to_dict() == FULL
    assert json.loads(s.to_json()) == FULL
    assert Schema.from_json(s.to_json()) == s
    assert Schema.from_json(s.to_json(indent=None)) == s
    assert Schema.from_json(s.to_json().encode("utf-8")) == s
    # every column type is represented
    assert {c["type"] for c in FULL["columns"]} == {
        "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
        "float32", "float64", "bool", "date", "datetime", "decimal", "str", "category", "skip",
    }  # fmt: skip


def test_round_trip_keeps_non_ascii_text():
    s = Schema.from_dict(FULL)
    text = s.to_json()
    assert "cartão" in text  # not escaped: the file stays readable
    assert Schema.from_json(text).columns[-2].values == ("pix", "boleto", "cartão")


def test_save_load_and_as_schema_accept_every_form(tmp_path: Path):
    s = Schema.from_dict(FULL)
    p = tmp_path / "schema.json"
    s.save(p)
    assert json.loads(p.read_text(encoding="utf-8")) == FULL
    assert Schema.load(p) == s
    assert Schema.load(str(p)) == s
    assert as_schema(s) is s
    assert as_schema(FULL) == s
    assert as_schema(s.to_json()) == s
    assert as_schema("  " + s.to_json()) == s
    assert as_schema(p) == s
    assert as_schema(str(p)) == s


def test_defaults_are_omitted_from_json():
    s = Schema.from_dict({"columns": [{"name": "a", "type": "int32"}]})
    assert s.to_dict() == {
        "dialect": {
            "delimiter": ",",
            "quote": '"',
            "header": True,
            "encoding": "utf-8",
            "null_values": [""],
        },
        "columns": [{"name": "a", "type": "int32"}],
    }
    assert s.dialect == Dialect()
    c = s.columns[0]
    assert c.nullable is False and c.width is None and c.scale is None


@pytest.mark.parametrize("quote", [None, ""])
def test_no_quote_round_trips_as_null(quote):
    s = Schema.from_dict({"dialect": {"quote": quote}, "columns": [{"name": "a", "type": "int8"}]})
    assert s.dialect.quote is None
    d = s.to_dict()
    assert d["dialect"]["quote"] is None
    assert Schema.from_json(s.to_json()) == s


def test_null_values_are_deduplicated_in_order():
    d = Dialect(null_values=("NA", "", "NA", "null"))
    assert d.null_values == ("NA", "", "null")


def test_flag_bit_name_defaults_to_column():
    s = Schema.from_dict(
        {
            "columns": [{"name": "a", "type": "int8"}],
            "flags": [{"name": "fl", "bits": [{"column": "vip"}]}],
        }
    )
    assert s.flags[0].bits[0].name == "vip"
    assert s.flags[0].type == "uint8"
    assert Schema.from_json(s.to_json()) == s


# -- dtype --------------------------------------------------------------------------------

EXPECTED_FULL_DTYPE = np.dtype(
    [
        ("i8", "<i1"),
        ("i16", "<i2"),
        ("i32", "<i4"),
        ("i64", "<i8"),
        ("u8", "<u1"),
        ("u16", "<u2"),
        ("u32", "<u4"),
        ("u64", "<u8"),
        ("f32", "<f4"),
        ("f64", "<f8"),
        ("ok", "?"),
        ("d_iso", "<M8[D]"),
        ("d_br", "<M8[D]"),
        ("ts", "<M8[us]"),
        ("ts_ns", "<M8[ns]"),
        ("ts_s", "<M8[s]"),
        ("ts_ms", "<M8[ms]"),
        ("price", "<i8"),
        ("rate", "<i8"),
        ("whole", "<i8"),
        ("nome", "S40"),
        ("note", "S3"),
        ("cat", "<u2"),
        ("cat_max", "<u2"),
        ("cat_fixed", "<u1"),
        ("flags", "<u1"),
        ("more", "<u2"),
        ("_nulls", "<u1"),  # i16, u32, ok, rate, note, cat_max: 6 masked columns
    ]
)


def test_full_dtype_is_exact():
    s = Schema.from_dict(FULL)
    dt = s.dtype()
    assert dt == EXPECTED_FULL_DTYPE
    assert dt.names == EXPECTED_FULL_DTYPE.names  # order: columns, flags, null mask
    assert [c.name for c in s.masked_columns] == ["i16", "u32", "ok", "rate", "note", "cat_max"]


def _assert_packed_little_endian(dt: np.dtype) -> None:
    offset = 0
    for name in dt.names:
        fdt, foff = dt.fields[name][:2]
        assert foff == offset, f"field {name} at {foff}, expected {offset} (not packed)"
        offset += fdt.itemsize
        assert fdt.str[0] in "<|", f"field {name} has byte order {fdt.str!r}"
    assert dt.itemsize == offset
    assert not dt.isalignedstruct


def test_full_dtype_is_packed_and_little_endian():
    _assert_packed_little_endian(Schema.from_dict(FULL).dtype())


@pytest.mark.parametrize(
    ("col", "fmt", "size"),
    [
        ({"type": "int8"}, "<i1", 1),
        ({"type": "int16"}, "<i2", 2),
        ({"type": "int32"}, "<i4", 4),
        ({"type": "int64"}, "<i8", 8),
        ({"type": "uint8"}, "<u1", 1),
        ({"type": "uint16"}, "<u2", 2),
        ({"type": "uint32"}, "<u4", 4),
        ({"type": "uint64"}, "<u8", 8),
        ({"type": "float32"}, "<f4", 4),
        ({"type": "float64"}, "<f8", 8),
        ({"type": "bool"}, "?", 1),
        ({"type": "date"}, "<M8[D]", 8),
        ({"type": "datetime"}, "<M8[us]", 8),
        ({"type": "datetime", "unit": "s"}, "<M8[s]", 8),
        ({"type": "datetime", "unit": "ms"}, "<M8[ms]", 8),
        ({"type": "datetime", "unit": "us"}, "<M8[us]", 8),
        ({"type": "datetime", "unit": "ns"}, "<M8[ns]", 8),
        ({"type": "decimal", "scale": 0}, "<i8", 8),
        ({"type": "decimal", "scale": 18}, "<i8", 8),
        ({"type": "str", "width": 1}, "S1", 1),
        ({"type": "str", "width": 1000}, "S1000", 1000),
        ({"type": "category"}, "<u2", 2),
    ],
)
def test_one_column_dtype(col, fmt, size):
    s = Schema.from_dict({"columns": [{"name": "x", **col}]})
    dt = s.dtype()
    assert dt == np.dtype([("x", fmt)])
    assert dt.itemsize == size
    _assert_packed_little_endian(dt)


@pytest.mark.parametrize(
    ("spec", "code"),
    [
        ({"values": ["a"]}, "<u1"),
        ({"values": [f"v{i}" for i in range(255)]}, "<u1"),
        ({"values": [f"v{i}" for i in range(256)]}, "<u1"),  # codes 0..255
        ({"values": [f"v{i}" for i in range(257)]}, "<u2"),
        ({"values": [f"v{i}" for i in range(65536)]}, "<u2"),
        ({"values": [f"v{i}" for i in range(65537)]}, "<u4"),
        ({"max_values": 1}, "<u1"),
        ({"max_values": 256}, "<u1"),
        ({"max_values": 257}, "<u2"),
        ({}, "<u2"),  # default limit 65535
        ({"max_values": 65536}, "<u2"),
        ({"max_values": 65537}, "<u4"),
        ({"max_values": 2**32 - 1}, "<u4"),
    ],
)
def test_category_code_width_follows_the_limit(spec, code):
    s = Schema.from_dict({"columns": [{"name": "c", "type": "category", **spec}]})
    assert s.dtype() == np.dtype([("c", code)])


@pytest.mark.parametrize(
    ("n", "fields"),
    [
        (0, []),
        (1, [("_nulls", "<u1")]),
        (8, [("_nulls", "<u1")]),
        (9, [("_nulls", "<u2")]),
        (16, [("_nulls", "<u2")]),
        (17, [("_nulls", "<u4")]),
        (32, [("_nulls", "<u4")]),
        (33, [("_nulls", "<u8")]),
        (64, [("_nulls", "<u8")]),
        (65, [("_nulls", "<u8"), ("_nulls1", "<u1")]),
        (130, [("_nulls", "<u8"), ("_nulls1", "<u8"), ("_nulls2", "<u1")]),
    ],
)
def test_null_mask_fields(n, fields):
    cols = [{"name": f"c{i}", "type": "int8", "nullable": True} for i in range(n)]
    # columns that carry their own null (NaN / NaT) or are not stored take no bit
    cols += [
        {"name": "f", "type": "float64", "nullable": True},
        {"name": "g", "type": "float32", "nullable": True},
        {"name": "d", "type": "date", "nullable": True},
        {"name": "t", "type": "datetime", "nullable": True},
        {"name": "plain", "type": "int8"},
        {"name": "sk", "type": "skip"},
    ]
    s = Schema.from_dict({"columns": cols})
    dt = s.dtype()
    assert [(name, dt.fields[name][0].str) for name in dt.names if name.startswith("_nulls")] == [
        (name, np.dtype(f).str) for name, f in fields
    ]
    assert s.null_fields() == fields
    assert [c.name for c in s.masked_columns] == [f"c{i}" for i in range(n)]
    _assert_packed_little_endian(dt)


@pytest.mark.parametrize("t", ["int8", "uint64", "bool", "decimal", "str", "category"])
def test_masked_types_take_a_null_bit(t):
    extra = {"decimal": {"scale": 2}, "str": {"width": 3}}.get(t, {})
    s = Schema.from_dict({"columns": [{"name": "x", "type": t, "nullable": True, **extra}]})
    assert s.columns[0].masked
    assert s.dtype().names == ("x", "_nulls")


@pytest.mark.parametrize("t", ["float32", "float64", "date", "datetime"])
def test_nan_and_nat_types_take_no_null_bit(t):
    s = Schema.from_dict({"columns": [{"name": "x", "type": t, "nullable": True}]})
    assert not s.columns[0].masked
    assert s.dtype().names == ("x",)


@pytest.mark.parametrize(
    ("nbits", "ftype"),
    [
        (1, "<u1"),
        (8, "<u1"),
        (9, "<u2"),
        (16, "<u2"),
        (17, "<u4"),
        (32, "<u4"),
        (33, "<u8"),
        (64, "<u8"),
    ],
)
def test_flags_default_type_fits_the_bits(nbits, ftype):
    s = Schema.from_dict(
        {
            "columns": [{"name": "a", "type": "int8"}],
            "flags": [{"name": "fl", "bits": [{"column": f"b{i}"} for i in range(nbits)]}],
        }
    )
    assert s.dtype() == np.dtype([("a", "<i1"), ("fl", ftype)])


def test_skip_columns_are_not_stored():
    s = Schema.from_dict(
        {
            "columns": [
                {"name": "a", "type": "skip"},
                {"name": "b", "type": "int8"},
                {"name": "c", "type": "skip"},
            ]
        }
    )
    assert s.dtype().names == ("b",)


def test_flags_only_schema_is_valid():
    s = Schema.from_dict(
        {
            "columns": [{"name": "a", "type": "skip"}],
            "flags": [{"name": "f", "bits": [{"column": "a"}]}],
        }
    )
    assert s.dtype() == np.dtype([("f", "<u1")])


@pytest.mark.parametrize(
    ("value", "name"),
    [(0, "uint8"), (255, "uint8"), (256, "uint16"), (65535, "uint16"), (65536, "uint32"),
     (2**32 - 1, "uint32"), (2**32, "uint64"), (2**64 - 1, "uint64")],
)  # fmt: skip
def test_smallest_unsigned(value, name):
    assert smallest_unsigned(value) == name


def test_smallest_unsigned_too_big():
    with pytest.raises(SchemaError):
        smallest_unsigned(2**64)


# -- binding to a header ------------------------------------------------------------------

BIND = {
    "columns": [
        {"name": "a", "type": "int8"},
        {"name": "b", "type": "str", "width": 4, "nullable": True},
        {"name": "c", "type": "skip"},
        {"name": "d", "type": "bool", "nullable": True},
    ],
    "flags": [
        {"name": "fl", "bits": [{"column": "vip"}, {"name": "pix", "column": "c", "equals": "pix"}]}
    ],
}


def test_bind_by_name_in_header_order():
    s = Schema.from_dict(BIND)
    b = s.bind(["d", "vip", "c", "a", "b"])
    assert b.nfields == 5
    names = [f.source_name if f is not None else None for f in b.fields]
    assert names == ["d", "vip", "c", "a", "b"]
    d, vip, c, a, bb = b.fields
    assert d.column.name == "d" and d.null_bit == 1
    assert bb.column.name == "b" and bb.null_bit == 0
    assert a.column.name == "a" and a.null_bit == -1
    assert vip.column is None and [(fi, bi) for fi, bi, _ in vip.flag_bits] == [(0, 0)]
    assert c.column is None and [(fi, bi) for fi, bi, _ in c.flag_bits] == [(0, 1)]
    assert [f.index for f in b.fields] == [0, 1, 2, 3, 4]


def test_bind_without_header_uses_schema_order():
    s = Schema.from_dict({**BIND, "dialect": {"header": False}, "flags": []})
    b = s.bind(None)
    assert b.nfields == 4
    assert b.fields[2] is None  # skip column without flags is ignored
    assert [f.source_name for f in b.fields if f is not None] == ["a", "b", "d"]


def test_one_schema_binds_each_header_it_meets():
    """A schema keeps the bindings it made: binding one header, then another, then the
    first again gives each header's own field order (the names the header lists, in its
    order), and a header it cannot bind raises each time it is asked."""
    s = Schema.from_dict(BIND)
    first, second = ["d", "vip", "c", "a", "b"], ["a", "b", "c", "d", "vip"]
    for header in (first, second, first, second):
        b = s.bind(list(header))
        assert [f.source_name for f in b.fields if f is not None] == header
        assert [f.index for f in b.fields] == list(range(len(header)))
    for _ in range(2):
        with pytest.raises(SchemaError, match="'b'"):
            s.bind(["a", "c", "d", "vip"])


def test_dtype_follows_each_schema_object():
    """A schema works out its dtype once; a schema made from it with other columns has
    its own (numpy's dtype of those fields), and a pickled one the same as before."""
    import copy
    import dataclasses
    import pickle

    s = Schema(columns=(Column("a", "int32"), Column("b", "float64", nullable=True)))
    assert s.dtype() == np.dtype([("a", "<i4"), ("b", "<f8")])
    t = dataclasses.replace(s, columns=(Column("a", "int8", nullable=True), Column("b", "bool")))
    assert t.dtype() == np.dtype([("a", "i1"), ("b", "?"), ("_nulls", "u1")])
    assert [c.name for c in t.masked_columns] == ["a"] and s.masked_columns == ()
    assert s.dtype() == np.dtype([("a", "<i4"), ("b", "<f8")])
    u = pickle.loads(pickle.dumps(t))
    assert u == t and u.dtype() == t.dtype()
    # what a schema worked out is neither pickled nor shared by a copy
    fresh = dataclasses.replace(t)
    t.bind(["a", "b"])
    assert pickle.dumps(t) == pickle.dumps(fresh)
    c = copy.copy(t)
    c.bind(["b", "a"])
    assert c.bind(["b", "a"]).worked_out is c.bind(["b", "a"]).worked_out
    assert len(t._bindings) == 1


def test_bind_missing_column():
    s = Schema.from_dict(BIND)
    with pytest.raises(SchemaError, match="'b'"):
        s.bind(["a", "c", "d", "vip"])


def test_bind_missing_flag_source():
    s = Schema.from_dict(BIND)
    with pytest.raises(SchemaError, match="vip"):
        s.bind(["a", "b", "c", "d"])


def test_bind_extra_column_suggests_skip():
    s = Schema.from_dict(BIND)
    with pytest.raises(SchemaError) as ei:
        s.bind(["a", "b", "c", "d", "vip", "extra"])
    msg = str(ei.value)
    assert "extra" in msg and "skip" in msg


def test_bind_extra_column_suggestion_is_valid_json():
    """The suggested snippet is meant to be pasted into the schema JSON file."""
    s = Schema.from_dict(BIND)
    with pytest.raises(SchemaError) as ei:
        s.bind(["a", "b", "c", "d", "vip", "extra"])
    snippet = re.search(r"\{.*\}", str(ei.value))
    assert snippet, str(ei.value)
    assert json.loads(snippet.group(0)) == {"name": "extra", "type": "skip"}


def test_bind_duplicate_header_names():
    s = Schema.from_dict(BIND)
    with pytest.raises(SchemaError, match="repeats"):
        s.bind(["a", "b", "c", "d", "vip", "a"])


# -- bad schemas ----------------------------------------------------------------------------


def _cols(*cols, **extra):
    return {"columns": list(cols), **extra}


BAD_SCHEMAS = {
    "not an object": ["a"],
    "unknown top-level key": _cols({"name": "a", "type": "int8"}, colums=[]),
    "columns missing": {},
    "columns not a list": {"columns": {"name": "a", "type": "int8"}},
    "no columns": {"columns": []},
    "column not an object": _cols("a"),
    "column without type": _cols({"name": "a"}),
    "column without name": _cols({"type": "int8"}),
    "empty name": _cols({"name": "", "type": "int8"}),
    "name not a string": _cols({"name": 5, "type": "int8"}),
    "unknown type": _cols({"name": "a", "type": "varchar"}),
    "unknown type with a foreign key": _cols({"name": "a", "type": "varchar", "length": 5}),
    "type not a string": _cols({"name": "a", "type": ["int8"]}),
    "type in wrong case": _cols({"name": "a", "type": "Int8"}),
    "unknown key": _cols({"name": "a", "type": "int8", "colour": "red"}),
    "nullable not bool": _cols({"name": "a", "type": "int8", "nullable": "yes"}),
    "str without width": _cols({"name": "a", "type": "str"}),
    "str width 0": _cols({"name": "a", "type": "str", "width": 0}),
    "str width negative": _cols({"name": "a", "type": "str", "width": -3}),
    "str width float": _cols({"name": "a", "type": "str", "width": 4.0}),
    "str width bool": _cols({"name": "a", "type": "str", "width": True}),
    "str width string": _cols({"name": "a", "type": "str", "width": "4"}),
    "str width too big": _cols({"name": "a", "type": "str", "width": 2**20 + 1}),
    "truncate not bool": _cols({"name": "a", "type": "str", "width": 4, "truncate": "yes"}),
    "decimal without scale": _cols({"name": "a", "type": "decimal"}),
    "decimal scale negative": _cols({"name": "a", "type": "decimal", "scale": -1}),
    "decimal scale 19": _cols({"name": "a", "type": "decimal", "scale": 19}),
    "decimal scale float": _cols({"name": "a", "type": "decimal", "scale": 2.0}),
    "decimal scale string": _cols({"name": "a", "type": "decimal", "scale": "2"}),
    "round not bool": _cols({"name": "a", "type": "decimal", "scale": 2, "round": 1}),
    "width on int": _cols({"name": "a", "type": "int8", "width": 4}),
    "scale on float": _cols({"name": "a", "type": "float64", "scale": 2}),
    "format on int": _cols({"name": "a", "type": "int32", "format": "%Y"}),
    "unit on date": _cols({"name": "a", "type": "date", "unit": "s"}),
    "values on str": _cols({"name": "a", "type": "str", "width": 3, "values": ["x"]}),
    "truncate on category": _cols({"name": "a", "type": "category", "truncate": True}),
    "round on int": _cols({"name": "a", "type": "int64", "round": True}),
    "width on skip": _cols(
        {"name": "a", "type": "skip", "width": 3}, {"name": "b", "type": "int8"}
    ),
    "nullable skip": _cols(
        {"name": "a", "type": "skip", "nullable": True}, {"name": "b", "type": "int8"}
    ),
    "duplicate column names": _cols({"name": "a", "type": "int8"}, {"name": "a", "type": "int16"}),
    "duplicate skip names": _cols(
        {"name": "a", "type": "skip"}, {"name": "a", "type": "skip"}, {"name": "b", "type": "int8"}
    ),
    "reserved name _nulls": _cols({"name": "_nulls", "type": "int8"}),
    "reserved name _nulls1": _cols({"name": "_nulls1", "type": "int8"}),
    "reserved prefix": _cols({"name": "_nulls_extra", "type": "int8"}),
    "everything skipped": _cols({"name": "a", "type": "skip"}),
    "category empty values": _cols({"name": "a", "type": "category", "values": []}),
    "category values not a list": _cols({"name": "a", "type": "category", "values": "abc"}),
    "category values not strings": _cols({"name": "a", "type": "category", "values": ["a", 1]}),
    "category duplicate values": _cols(
        {"name": "a", "type": "category", "values": ["a", "b", "a"]}
    ),
    "category values and max_values": _cols(
        {"name": "a", "type": "category", "values": ["a"], "max_values": 3}
    ),
    "category max_values 0": _cols({"name": "a", "type": "category", "max_values": 0}),
    "category max_values 2**32": _cols({"name": "a", "type": "category", "max_values": 2**32}),
    "category max_values string": _cols({"name": "a", "type": "category", "max_values": "9"}),
    "date format with time": _cols({"name": "a", "type": "date", "format": "%Y-%m-%d %H"}),
    "date format unknown directive": _cols({"name": "a", "type": "date", "format": "%Y-%m-%q"}),
    "date format two years": _cols({"name": "a", "type": "date", "format": "%d/%m/%y %Y"}),
    "date format %j with a day": _cols({"name": "a", "type": "date", "format": "%Y %j %d"}),
    "datetime %I without %p": _cols({"name": "a", "type": "datetime", "format": "%Y-%m-%d %I"}),
    "datetime %p without %I": _cols({"name": "a", "type": "datetime", "format": "%Y-%m-%d %H%p"}),
    "date format lacks day": _cols({"name": "a", "type": "date", "format": "%Y-%m"}),
    "date format lacks year": _cols({"name": "a", "type": "date", "format": "%d/%m"}),
    "date format repeats": _cols({"name": "a", "type": "date", "format": "%Y-%m-%d %d"}),
    "date format trailing %": _cols({"name": "a", "type": "date", "format": "%Y-%m-%d%"}),
    "date format %%": _cols({"name": "a", "type": "date", "format": "%Y-%m-%d%%"}),
    "date format empty": _cols({"name": "a", "type": "date", "format": ""}),
    "date format not ASCII": _cols({"name": "a", "type": "date", "format": "%Y年%m月%d"}),
    "date format not string": _cols({"name": "a", "type": "date", "format": 5}),
    "datetime format minutes without hours": _cols(
        {"name": "a", "type": "datetime", "format": "%Y-%m-%d %M"}
    ),
    "datetime format %f without %S": _cols(
        {"name": "a", "type": "datetime", "format": "%Y-%m-%d %H:%M.%f"}
    ),
    "datetime format %p": _cols({"name": "a", "type": "datetime", "format": "%Y-%m-%d %H %p"}),
    "datetime unit h": _cols({"name": "a", "type": "datetime", "unit": "h"}),
    "datetime unit D": _cols({"name": "a", "type": "datetime", "unit": "D"}),
    "datetime tz not UTC": _cols({"name": "a", "type": "datetime", "tz": "Europe/Lisbon"}),
    "tz on date": _cols({"name": "a", "type": "date", "tz": "UTC"}),
    "dialect not an object": _cols({"name": "a", "type": "int8"}, dialect=","),
    "dialect unknown key": _cols({"name": "a", "type": "int8"}, dialect={"sep": ","}),
    "delimiter two chars": _cols({"name": "a", "type": "int8"}, dialect={"delimiter": ",,"}),
    "delimiter empty": _cols({"name": "a", "type": "int8"}, dialect={"delimiter": ""}),
    "delimiter non-ASCII": _cols({"name": "a", "type": "int8"}, dialect={"delimiter": "§"}),
    "delimiter newline": _cols({"name": "a", "type": "int8"}, dialect={"delimiter": "\n"}),
    "delimiter CR": _cols({"name": "a", "type": "int8"}, dialect={"delimiter": "\r"}),
    "delimiter not a string": _cols({"name": "a", "type": "int8"}, dialect={"delimiter": 44}),
    "quote newline": _cols({"name": "a", "type": "int8"}, dialect={"quote": "\n"}),
    "quote two chars": _cols({"name": "a", "type": "int8"}, dialect={"quote": "''"}),
    "quote equals delimiter": _cols(
        {"name": "a", "type": "int8"}, dialect={"delimiter": "'", "quote": "'"}
    ),
    "header not bool": _cols({"name": "a", "type": "int8"}, dialect={"header": "yes"}),
    "unknown encoding": _cols({"name": "a", "type": "int8"}, dialect={"encoding": "no-such-codec"}),
    "encoding not a string": _cols({"name": "a", "type": "int8"}, dialect={"encoding": 8}),
    "null_values a string": _cols({"name": "a", "type": "int8"}, dialect={"null_values": "NA"}),
    "null_values not strings": _cols(
        {"name": "a", "type": "int8"}, dialect={"null_values": ["", None]}
    ),
    "null value too long": _cols(
        {"name": "a", "type": "int8"}, dialect={"null_values": ["x" * 65]}
    ),
    "flags not a list": _cols({"name": "a", "type": "int8"}, flags={"name": "f"}),
    "flags without bits": _cols({"name": "a", "type": "int8"}, flags=[{"name": "f"}]),
    "flags empty bits": _cols({"name": "a", "type": "int8"}, flags=[{"name": "f", "bits": []}]),
    "flags bits not a list": _cols(
        {"name": "a", "type": "int8"}, flags=[{"name": "f", "bits": "a"}]
    ),
    "flag bit without column": _cols(
        {"name": "a", "type": "int8"}, flags=[{"name": "f", "bits": [{"name": "x"}]}]
    ),
    "flag bit unknown key": _cols(
        {"name": "a", "type": "int8"},
        flags=[{"name": "f", "bits": [{"column": "a", "value": "x"}]}],
    ),
    "flag equals not a string": _cols(
        {"name": "a", "type": "int8"}, flags=[{"name": "f", "bits": [{"column": "a", "equals": 1}]}]
    ),
    "flags unknown key": _cols(
        {"name": "a", "type": "int8"}, flags=[{"name": "f", "bits": [{"column": "a"}], "width": 8}]
    ),
    "flags signed type": _cols(
        {"name": "a", "type": "int8"},
        flags=[{"name": "f", "type": "int8", "bits": [{"column": "a"}]}],
    ),
    "flags overflow uint8": _cols(
        {"name": "a", "type": "int8"},
        flags=[{"name": "f", "type": "uint8", "bits": [{"column": f"b{i}"} for i in range(9)]}],
    ),
    "flags overflow uint16": _cols(
        {"name": "a", "type": "int8"},
        flags=[{"name": "f", "type": "uint16", "bits": [{"column": f"b{i}"} for i in range(17)]}],
    ),
    "flags overflow 65 bits, no type": _cols(
        {"name": "a", "type": "int8"},
        flags=[{"name": "f", "bits": [{"column": f"b{i}"} for i in range(65)]}],
    ),
    "flags duplicate bit names": _cols(
        {"name": "a", "type": "int8"},
        flags=[{"name": "f", "bits": [{"name": "x", "column": "a"}, {"name": "x", "column": "b"}]}],
    ),
    "flags name clashes with a column": _cols(
        {"name": "a", "type": "int8"}, flags=[{"name": "a", "bits": [{"column": "b"}]}]
    ),
    "two flags with one name": _cols(
        {"name": "a", "type": "int8"},
        flags=[{"name": "f", "bits": [{"column": "b"}]}, {"name": "f", "bits": [{"column": "c"}]}],
    ),
    "flags reserved name": _cols(
        {"name": "a", "type": "int8"}, flags=[{"name": "_nulls", "bits": [{"column": "b"}]}]
    ),
    "flags empty name": _cols(
        {"name": "a", "type": "int8"}, flags=[{"name": "", "bits": [{"column": "b"}]}]
    ),
    "headerless flag reads an unknown column": _cols(
        {"name": "a", "type": "int8"},
        dialect={"header": False},
        flags=[{"name": "f", "bits": [{"column": "b"}]}],
    ),
}


@pytest.mark.parametrize("case", list(BAD_SCHEMAS), ids=list(BAD_SCHEMAS))
def test_bad_schema_raises_schema_error(case):
    d = BAD_SCHEMAS[case]
    with pytest.raises(SchemaError) as ei:
        Schema.from_dict(d)
    assert isinstance(ei.value, ValueError)
    assert isinstance(ei.value, FastETLError)
    assert str(ei.value)  # says something
    # the same through every entry point
    if isinstance(d, dict):
        with pytest.raises(SchemaError):
            Schema.from_json(json.dumps(d))
        with pytest.raises(SchemaError):
            as_schema(d)


def test_bad_json_text():
    with pytest.raises(SchemaError, match="JSON"):
        Schema.from_json('{"columns": [')
    with pytest.raises(SchemaError):
        as_schema("{not json")


def test_missing_schema_file(tmp_path: Path):
    with pytest.raises(SchemaError, match="cannot read"):
        Schema.load(tmp_path / "nope.json")
    with pytest.raises(SchemaError):
        as_schema(str(tmp_path / "nope.json"))


def test_as_schema_rejects_other_objects():
    with pytest.raises(SchemaError):
        as_schema(42)  # type: ignore[arg-type]


def test_column_messages_name_the_column():
    with pytest.raises(SchemaError, match="'preco'"):
        Schema.from_dict(_cols({"name": "preco", "type": "decimal", "scale": 40}))
    with pytest.raises(SchemaError, match="'nome'"):
        Schema.from_dict(_cols({"name": "nome", "type": "str"}))


@pytest.mark.parametrize(
    "fmt",
    ["%d/%m/%Y", "%Y-%m-%d", "%m.%d.%Y", "day %d of %m, %Y", "iso"],
)
def test_good_date_formats(fmt):
    s = Schema.from_dict(_cols({"name": "a", "type": "date", "format": fmt}))
    assert s.columns[0].format == fmt


@pytest.mark.parametrize(
    "fmt",
    ["%Y-%m-%dT%H:%M:%S.%f%z", "%d/%m/%Y %H:%M", "%Y%m%d%H%M%S", "%Y-%m-%d", "iso"],
)
def test_good_datetime_formats(fmt):
    s = Schema.from_dict(_cols({"name": "a", "type": "datetime", "format": fmt}))
    assert s.columns[0].format == fmt


def test_direct_constructors_validate_too():
    with pytest.raises(SchemaError):
        Column(name="a", type="str")
    with pytest.raises(SchemaError):
        Dialect(delimiter=";;")
    with pytest.raises(SchemaError):
        Flags(name="f", type="uint8", bits=())
    with pytest.raises(SchemaError):
        Schema(columns=())


def test_datetime_tz_utc_round_trips_and_is_the_same_record_layout():
    d = {"columns": [{"name": "at", "type": "datetime", "tz": "UTC", "unit": "ms"}]}
    s = Schema.from_dict(d)
    assert s.columns[0].tz == "UTC"
    assert json.loads(s.to_json()) == {**d, "dialect": s.dialect.to_dict()}
    naive = Schema.from_dict({"columns": [{"name": "at", "type": "datetime", "unit": "ms"}]})
    assert s.dtype() == naive.dtype() == np.dtype([("at", "<M8[ms]")])


def test_a_bound_schema_is_freed_by_reference_counting():
    """A schema bound to headers (each binding's parser specs worked out) holds no
    reference cycle: dropping it frees it with the cyclic GC off (a Binding kept on the
    schema referred back to it), and a kept binding keeps its schema alive."""
    import gc
    import weakref

    from fastetl.layout import field_specs

    def bound() -> Schema:
        s = Schema.from_dict(BIND)
        for header in (["a", "b", "c", "d", "vip"], ["d", "vip", "c", "a", "b"]):
            first = s.bind(header)
            assert field_specs(first) == field_specs(s.bind(header))
            assert s.bind(header).worked_out is first.worked_out  # (worked out once)
        s.dtype()
        return s

    was = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        gone = weakref.ref(bound())
        assert gone() is None
        b = bound().bind(["a", "b", "c", "d", "vip"])
        held = weakref.ref(b.schema)
        assert held() is not None and [f and f.index for f in b.fields] == [0, 1, 2, 3, 4]
        del b
        assert held() is None
    finally:
        if was:
            gc.enable()
