"""The bridges (``Table.to_arrow``, ``to_polars``, ``to_pandas``, ``iter_batches`` and
``fastetl.bridges.arrow_strings`` / ``utf8_objects``) against independent readings of
the same CSV file: ``pyarrow.csv``, ``polars.read_csv``, ``pandas.read_csv`` and
Python's ``csv`` with ``int()`` / ``float()`` / ``Decimal`` / ``datetime``."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import random
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fastetl
from fastetl import bridges

pa = pytest.importorskip("pyarrow")
pacsv = pytest.importorskip("pyarrow.csv")
pd = pytest.importorskip("pandas")
pl = pytest.importorskip("polars")

SEED = 20261206
TZ_FORMAT = "%Y-%m-%dT%H:%M:%S%z"
SCHEMA = {
    "columns": [
        {"name": "i8", "type": "int8", "nullable": True},
        {"name": "i64", "type": "int64"},
        {"name": "u16", "type": "uint16"},
        {"name": "u64", "type": "uint64", "nullable": True},
        {"name": "f32", "type": "float32"},
        {"name": "f64", "type": "float64", "nullable": True},
        {"name": "ok", "type": "bool", "nullable": True},
        {"name": "day", "type": "date", "nullable": True},
        {"name": "at", "type": "datetime", "nullable": True},
        {"name": "at_ns", "type": "datetime", "unit": "ns"},
        {"name": "at_tz", "type": "datetime", "format": TZ_FORMAT, "nullable": True},
        {"name": "price", "type": "decimal", "scale": 3, "nullable": True},
        {"name": "text", "type": "str", "width": 40, "nullable": True},
        {"name": "code", "type": "str", "width": 3},
        {"name": "city", "type": "category", "nullable": True},
        {"name": "pay", "type": "skip"},
        {"name": "prime", "type": "skip"},
    ],
    "flags": [
        {
            "name": "flags",
            "bits": [
                {"name": "is_prime", "column": "prime"},
                {"name": "pix", "column": "pay", "equals": "pix"},
            ],
        }
    ],
}
NAMES = [c["name"] for c in SCHEMA["columns"]]
STORED = [c["name"] for c in SCHEMA["columns"] if c["type"] != "skip"]
TEXTS = ["Ana", " leading", "trailing  ", "in  side", "Zé, o Bom", "naïve – ç", "😀 emoji",
         "a\x00b", "東京都", "x" * 40, "ação " * 5]  # fmt: skip
CITIES = ["Lisboa", "São Paulo", "Zürich", "東京", " spaced "]


def make_rows(n: int, seed: int = SEED) -> list[list[str]]:
    rnd = random.Random(seed)

    def maybe(v: str) -> str:
        return "" if rnd.random() < 0.2 else v

    def stamp(fraction_digits: int) -> str:
        t = dt.datetime(1970, 1, 1) + dt.timedelta(seconds=rnd.randint(-(10**9), 2 * 10**9))
        s = t.isoformat(sep="T")
        if fraction_digits:
            s += "." + "".join(rnd.choice("0123456789") for _ in range(fraction_digits))
        return s

    def offset() -> str:
        minutes = rnd.randint(-14 * 60, 14 * 60)
        sign = "-" if minutes < 0 else "+"
        return rnd.choice(["Z", f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"])

    rows = []
    for i in range(n):
        rows.append(
            [
                maybe(str(rnd.randint(-128, 127))),
                str(rnd.randint(-(2**63), 2**63 - 1)),
                str(rnd.randint(0, 2**16 - 1)),
                maybe(str(rnd.randint(0, 2**64 - 1))),
                repr(float(np.float32(rnd.uniform(-1e6, 1e6)))),
                maybe(repr(rnd.uniform(-1e300, 1e300) if i % 3 else rnd.random())),
                maybe(rnd.choice(["true", "false"])),
                maybe(str(dt.date(1, 1, 1) + dt.timedelta(days=rnd.randint(0, 3_652_058)))),
                maybe(stamp(rnd.choice([0, 3, 6]))),
                stamp(9),
                maybe(stamp(0) + offset()),
                maybe(f"{rnd.randint(-(10**15), 10**15) / 1000:.3f}"),
                maybe(rnd.choice(TEXTS)),
                rnd.choice(["", "a", "ab", "abc", "é", "€"]),
                maybe(rnd.choice(CITIES)),
                rnd.choice(["pix", "card", "boleto"]),
                rnd.choice(["true", "false"]),
            ]
        )
    return rows


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(NAMES)
        w.writerows(rows)
    return path


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    print(f"random rows with seed {SEED}")
    d = tmp_path_factory.mktemp("bridges")
    rows = make_rows(500)
    src = write_csv(d / "all.csv", rows)
    out = d / "all.npy"
    fastetl.convert(src, out, SCHEMA)
    return src, rows, fastetl.open(out)


def columns(rows: list[list[str]]) -> dict[str, list[str]]:
    return {name: [r[i] for r in rows] for i, name in enumerate(NAMES)}


# -- the reference readings --------------------------------------------------------
def pyarrow_reading(src: Path) -> pa.Table:
    """pyarrow.csv with the types the schema asks for (empty cells are nulls)."""
    types = {
        "i8": pa.int8(), "i64": pa.int64(), "u16": pa.uint16(), "u64": pa.uint64(),
        "f32": pa.float32(), "f64": pa.float64(), "ok": pa.bool_(), "day": pa.date32(),
        "at": pa.timestamp("us"), "at_ns": pa.timestamp("ns"),
        "at_tz": pa.timestamp("us", tz="UTC"), "price": pa.decimal128(19, 3),
        "text": pa.string(), "code": pa.string(), "city": pa.string(),
    }  # fmt: skip
    opts = pacsv.ConvertOptions(
        column_types=types,
        null_values=[""],
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
        include_columns=STORED,
    )
    return pacsv.read_csv(src, convert_options=opts)


def test_to_arrow_equals_pyarrow_csv_for_every_column_kind(converted):
    src, rows, t = converted
    got = t.to_arrow()
    want = pyarrow_reading(src)
    assert got.num_rows == len(rows) == want.num_rows
    assert got.column_names == STORED[:] + ["is_prime", "pix"]
    for name in STORED:
        g = got[name]
        if name == "city":
            assert pa.types.is_dictionary(g.type)
            g = g.cast(pa.string())
        if name in ("text", "code"):
            # empty cells: null where the column is nullable, "" where it is not
            w = want[name] if name == "text" else want[name].fill_null("")
        else:
            w = want[name]
        assert g.type == w.type, name
        assert g.equals(w), name


def test_arrow_types(converted):
    _, _, t = converted
    s = t.to_arrow().schema
    assert s.field("price").type == pa.decimal128(19, 3)
    assert s.field("day").type == pa.date32()
    assert s.field("at").type == pa.timestamp("us")  # naive: the text had no offsets
    assert s.field("at_ns").type == pa.timestamp("ns")
    assert s.field("at_tz").type == pa.timestamp("us", tz="UTC")  # it read offsets
    assert s.field("city").type == pa.dictionary(pa.int32(), pa.string())
    assert s.field("text").type == pa.string()
    assert s.field("is_prime").type == pa.bool_()
    assert not s.field("i64").nullable and s.field("i8").nullable


def test_categories_are_the_sidecar_dictionary_and_the_codes(converted):
    _, rows, t = converted
    city = t.to_arrow()["city"].combine_chunks()
    assert city.dictionary.to_pylist() == t.meta["categories"]["city"]
    codes = np.asarray(t.raw("city"))
    nulls = [v == "" for v in columns(rows)["city"]]
    assert city.indices.to_pylist() == [None if n else int(c) for c, n in zip(codes, nulls)]


def test_values_against_python(converted):
    """The same columns against Python's own parsers, value by value."""
    _, rows, t = converted
    cols = columns(rows)
    got = t.to_arrow()

    def nullable(parse, texts):
        return [parse(v) if v else None for v in texts]

    assert got["i64"].to_pylist() == [int(v) for v in cols["i64"]]
    assert got["u64"].to_pylist() == nullable(int, cols["u64"])
    assert got["price"].to_pylist() == nullable(Decimal, cols["price"])
    assert got["f64"].to_pylist() == nullable(float, cols["f64"])
    assert got["day"].to_pylist() == nullable(dt.date.fromisoformat, cols["day"])
    assert got["at"].to_pylist() == nullable(dt.datetime.fromisoformat, cols["at"])
    utc = [
        dt.datetime.fromisoformat(v.replace("Z", "+00:00")).astimezone(dt.timezone.utc)
        if v
        else None
        for v in cols["at_tz"]
    ]
    assert got["at_tz"].to_pylist() == utc
    assert got["text"].to_pylist() == nullable(str, cols["text"])
    assert got["code"].to_pylist() == cols["code"]
    assert got["city"].to_pylist() == nullable(str, cols["city"])
    assert got["is_prime"].to_pylist() == [v == "true" for v in cols["prime"]]
    assert got["pix"].to_pylist() == [v == "pix" for v in cols["pay"]]
    assert got["ok"].to_pylist() == nullable(lambda v: v == "true", cols["ok"])


def test_to_polars_equals_polars_read_csv(converted):
    src, _, t = converted
    got = t.to_polars()
    overrides = {
        "i8": pl.Int8, "i64": pl.Int64, "u16": pl.UInt16, "u64": pl.UInt64,
        "f32": pl.Float32, "f64": pl.Float64, "ok": pl.Boolean, "price": pl.Decimal(19, 3),
        "text": pl.String, "code": pl.String, "city": pl.String, "day": pl.Date,
    }  # fmt: skip
    want = pl.read_csv(src, schema_overrides=overrides, columns=list(overrides))
    assert got.schema["city"] == pl.Categorical
    for name in overrides:
        g = got[name]
        if name == "city":
            g = g.cast(pl.String)
        w = want[name].fill_null("") if name == "code" else want[name]
        assert g.dtype == w.dtype, name
        assert g.equals(w), name


def test_to_pandas_equals_pandas_read_csv(converted):
    src, rows, t = converted
    got = t.to_pandas()
    dtypes = {"i8": "Int8", "i64": "int64", "u16": "uint16", "u64": "UInt64",
              "f32": "float32", "f64": "float64", "ok": "boolean"}  # fmt: skip
    want = pd.read_csv(src, dtype=dtypes, keep_default_na=False, na_values=[""])
    for name in dtypes:
        pd.testing.assert_series_equal(got[name], want[name], check_exact=True)
    # text: pandas' default string dtype (pandas 3: "str", missing as NaN)
    pd.testing.assert_series_equal(got["text"], want["text"], check_exact=True)
    assert got["text"].dtype == pd.Series(["a"]).dtype
    # a non-nullable str column keeps "" where pandas reads the empty cell as missing
    assert got["code"].tolist() == columns(rows)["code"]
    assert isinstance(got["city"].dtype, pd.CategoricalDtype)
    assert got["city"].astype(object).where(got["city"].notna(), None).tolist() == [
        v or None for v in columns(rows)["city"]
    ]
    price = want["price"].map(lambda v: float(v) if isinstance(v, str) else v, na_action="ignore")
    assert got["price"].dtype == np.float64
    pd.testing.assert_series_equal(got["price"], price.astype("float64"), check_exact=True)
    assert str(got["at_tz"].dtype) == "datetime64[us, UTC]"
    at_tz = pd.to_datetime(want["at_tz"], utc=True, format="ISO8601")
    assert (got["at_tz"].isna() == at_tz.isna()).all()
    assert (got["at_tz"].dropna() == at_tz.dropna()).all()
    assert got["is_prime"].tolist() == [v == "true" for v in columns(rows)["prime"]]


def test_to_pandas_decimals_exact_and_scaled(converted):
    _, rows, t = converted
    texts = columns(rows)["price"]
    exact = t.to_pandas(decimals="decimal")["price"]
    assert exact.tolist() == [Decimal(v) if v else None for v in texts]
    scaled = t.to_pandas(decimals="int")["price"]
    assert str(scaled.dtype) == "Int64"
    assert [None if v is pd.NA else int(v) for v in scaled] == [
        int(Decimal(v) * 1000) if v else None for v in texts
    ]
    with pytest.raises(ValueError, match="decimals must be"):
        t.to_pandas(decimals="money")


@pytest.mark.parametrize("rows", [1, 7, 64, 499, 500, 501, 10_000])
def test_iter_batches_concatenated_equals_to_arrow(converted, rows):
    _, _, t = converted
    batches = list(t.iter_batches(rows))
    assert [b.num_rows for b in batches[:-1]] == [rows] * (len(batches) - 1)
    assert 0 < batches[-1].num_rows <= rows
    whole = t.to_arrow()
    assert all(b.schema == whole.schema for b in batches)
    assert pa.Table.from_batches(batches).equals(whole)


@pytest.mark.parametrize("rows", [1, 64, 500])
def test_iter_batches_pandas_concatenated_equals_to_pandas(converted, rows):
    _, _, t = converted
    parts = list(t.iter_batches(rows, format="pandas"))
    pd.testing.assert_frame_equal(pd.concat(parts), t.to_pandas(), check_exact=True)


def test_in_memory_table_bridges_equal_the_file_ones(converted):
    src, _, t = converted
    r = fastetl.read_csv(src, SCHEMA)
    assert r.to_arrow().equals(t.to_arrow())
    assert pa.Table.from_batches(list(r.iter_batches(33))).equals(t.to_arrow())
    pd.testing.assert_frame_equal(r.to_pandas(), t.to_pandas(), check_exact=True)


def test_iter_batches_of_a_table_whose_file_was_replaced_since_it_was_opened(tmp_path):
    """The batches are read from the file only while it holds the records the table
    opened; after another conversion into the same path they come from the map."""
    out = tmp_path / "t.npy"
    fastetl.convert(write_csv(tmp_path / "a.csv", make_rows(300, seed=1)), out, SCHEMA)
    t = fastetl.open(out)
    before = t.to_arrow()
    fastetl.convert(write_csv(tmp_path / "b.csv", make_rows(200, seed=2)), out, SCHEMA)
    assert pa.Table.from_batches(list(t.iter_batches(64))).equals(before)
    now = fastetl.open(out)
    assert len(now) == 200
    assert pa.Table.from_batches(list(now.iter_batches(64))).equals(now.to_arrow())


def test_empty_table(tmp_path):
    src = write_csv(tmp_path / "empty.csv", [])
    out = tmp_path / "empty.npy"
    fastetl.convert(src, out, SCHEMA)
    t = fastetl.open(out)
    got = t.to_arrow()
    assert got.num_rows == 0
    want = pyarrow_reading(src)
    for name in STORED:
        typ = got.schema.field(name).type
        assert (typ.value_type if pa.types.is_dictionary(typ) else typ) == want[name].type, name
    batches = list(t.iter_batches(10))
    assert len(batches) == 1 and batches[0].num_rows == 0 and batches[0].schema == got.schema
    assert pa.Table.from_batches(batches).equals(got)
    df = t.to_pandas()
    assert len(df) == 0 and list(df.columns) == t.columns
    assert str(df["i8"].dtype) == "Int8" and isinstance(df["city"].dtype, pd.CategoricalDtype)
    frames = list(t.iter_batches(10, format="pandas"))
    assert len(frames) == 1 and len(frames[0]) == 0
    assert t.to_polars().shape == (0, len(t.columns))


def test_iter_batches_arguments_are_checked_at_the_call(converted):
    _, _, t = converted
    for bad in (0, -1, 1.5, True, "10"):
        with pytest.raises(ValueError, match="rows must be a positive integer"):
            t.iter_batches(bad)
    with pytest.raises(ValueError, match="format must be"):
        t.iter_batches(10, format="csv")


def test_a_file_converted_without_a_schema(tmp_path):
    """Inferred types: floats, ints, text, dates; to_arrow against pyarrow.csv's own
    inference, to_pandas against pandas.read_csv."""
    rnd = random.Random(SEED)
    rows = [
        [i, f"{rnd.uniform(-100, 100):.2f}", f"{rnd.choice(TEXTS[:7]).strip()} {i}",
         f"2024-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}",
         f"2024-03-{rnd.randint(1, 28):02d}T{rnd.randint(0, 23):02d}:{rnd.randint(0, 59):02d}:07"
         + rnd.choice(["Z", "+02:00", "-05:30", "+0100"]),
         f"2024-03-{rnd.randint(1, 28):02d} {rnd.randint(0, 23):02d}:{rnd.randint(0, 59):02d}:07"]
        for i in range(300)
    ]  # fmt: skip
    src = tmp_path / "plain.csv"
    header = ["n", "x", "word", "day", "at", "naive"]
    with src.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows([header, *rows])
    out = tmp_path / "plain.npy"
    fastetl.convert(src, out)
    t = fastetl.open(out)
    got = t.to_arrow()
    want = pacsv.read_csv(src)
    # offsets in every value: UTC instants, tz-aware as pyarrow infers them; none: naive
    assert t.schema.columns[4].tz == "UTC" and t.schema.columns[5].tz is None
    assert got.schema.field("at").type == pa.timestamp("us", tz="UTC")
    assert want.schema.field("at").type.tz == "UTC"
    assert got.schema.field("naive").type == pa.timestamp("us")
    for name in header:
        g = got[name]
        if pa.types.is_dictionary(g.type):
            g = g.cast(pa.string())
        # (fastetl infers the smallest integer type; pyarrow int64: same values)
        assert g.cast(want[name].type).equals(want[name]), name
    df = pd.read_csv(src)
    back = t.to_pandas()
    for name in ("n", "x", "word"):
        pd.testing.assert_series_equal(
            back[name], df[name], check_exact=True, check_dtype=name != "n"
        )
    at = pd.to_datetime(df["at"], format="ISO8601", utc=True)
    assert str(back["at"].dtype) == "datetime64[us, UTC]"
    assert (back["at"] == at).all()
    assert (back["naive"] == pd.to_datetime(df["naive"])).all()


# -- the string builders -----------------------------------------------------------
texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=12).map(
    lambda s: s.rstrip("\x00")
)


@given(values=st.lists(st.tuples(texts, st.booleans()), max_size=40), width=st.integers(1, 50))
def test_string_builders_equal_numpy_and_bytes_decode(values, width):
    encoded = [s.encode() for s, _ in values]
    width = max([width, *map(len, encoded)])
    # a field of a structured array: strided, read in place
    rec = np.zeros(len(values), dtype=[("a", "u1"), ("s", f"S{width}"), ("b", "u2")])
    rec["s"] = encoded
    nulls = np.array([n for _, n in values], dtype=bool)
    raw = rec["s"]
    want = [b.decode("utf-8") for b in raw.tolist()]  # numpy drops the NUL padding
    assert want == [s for s, _ in values]
    with_nulls = [None if n else w for w, n in zip(want, nulls)]
    for large in (False, True, None):
        arr = bridges.arrow_strings(raw, nulls, large=large)
        arr.validate(full=True)
        assert arr.to_pylist() == with_nulls
        assert arr.type == (pa.large_string() if large else pa.string())
    assert bridges.arrow_strings(raw).to_pylist() == want
    assert bridges.utf8_objects(raw).tolist() == want
    assert bridges.utf8_objects(raw, nulls).tolist() == with_nulls
    assert bridges.utf8_objects(np.ascontiguousarray(raw), nulls, "-").tolist() == [
        "-" if n else w for w, n in zip(want, nulls)
    ]


@given(
    st.lists(st.binary(max_size=6).map(lambda b: b.rstrip(b"\x00")), min_size=1, max_size=20)
)
def test_string_builders_stop_at_the_first_value_that_is_not_utf8(values):
    raw = np.array(values, dtype="S6")

    def ok(b: bytes) -> bool:
        try:
            b.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return True

    first = next((i for i, b in enumerate(values) if not ok(b)), None)
    for build in (bridges.arrow_strings, bridges.utf8_objects):
        if first is None:
            assert list(build(raw)) == [pa.scalar(b.decode()) if build is bridges.arrow_strings
                                        else b.decode() for b in values]  # fmt: skip
        else:
            with pytest.raises(bridges.InvalidUTF8) as e:
                build(raw)
            assert e.value.index == first and e.value.value == values[first]


def test_string_builders_refuse_other_arrays():
    for bad in (np.zeros(3), np.zeros((2, 2), dtype="S3"), np.array(["a"])):
        with pytest.raises(TypeError, match="numpy S"):
            bridges.arrow_strings(bad)
        with pytest.raises(TypeError, match="numpy S"):
            bridges.utf8_objects(bad)


def test_arrow_decode_refuses_a_plan_or_buffer_that_does_not_fit_before_reading():
    from fastetl import _core

    recs = np.array([(7, 1, b"ab"), (-3, 0, b"c"), (40000, 1, b"")],
                    [("i", "<i4"), ("m", "u1"), ("s", "S3")])
    raw, n = recs.view(np.uint8).reshape(-1), len(recs)

    def decode(row, values, validity=None, offsets=None):
        return _core.arrow_decode(raw, recs.itemsize, np.array([row], np.int64),
                                  [(values, validity, offsets)], np.zeros((1, 2), np.int64))

    values = np.zeros(4 * n, np.uint8)  # a plan that fits decodes numpy's values
    assert decode([0, 0, 0, 4, 0, 0, 0], values) == (-1, -1)
    assert values.view("<i4").tolist() == recs["i"].tolist()
    bits = np.zeros(1, np.uint8)
    for row, buffers, match in (
        ([0, 1, 0, 4, 8, 1, 0], (values, bits), "null mask byte 8 outside"),  # itemsize 8
        ([0, 0, 0, 3, 0, 0, 0], (values,), "kind 0 with width 3"),
        ([2, 0, 0, 4, 0, 0, 0], (np.zeros(16 * n, np.uint8),), "kind 2 with width 4"),
        ([4, 0, 0, 9, 0, 0, 9], (values,), "outside the record"),
        ([4, 0, 0, 0, 0, 0, 9], (values,), "kind 4 with width 0"),
        ([7, 0, 0, 1, 0, 0, 0], (values,), "kind 7"),
        ([0, 5, 0, 4, 0, 0, 0], (values,), "unknown nulls source 5"),
        ([0, 0, 0, 4, 0, 0, 0], (np.zeros(0, np.uint8),), "values buffer of 0 bytes, 12"),
        ([1, 0, 0, 4, 0, 0, 0], (values,), "kind 1 with width 4"),
        ([0, 1, 0, 4, 4, 1, 0], (values, np.zeros(0, np.uint8)), "validity buffer of 0"),
        ([5, 0, 5, 3, 0, 0, 0], (np.zeros(9, np.uint8),), "needs offsets"),
        ([5, 0, 5, 3, 0, 0, 0], (np.zeros(9, np.uint8), None, np.zeros(15, np.uint8)),
         "offsets buffer of 15 bytes, 16"),
        ([2, 0, 0, 8, 0, 0, 0], (np.zeros(16 * n - 1, np.uint8),), "needed"),
    ):
        with pytest.raises(ValueError, match=match):
            decode(row, *buffers)


def test_bytes_that_are_not_utf8_in_a_npy_are_one_clear_error(tmp_path):
    src = tmp_path / "s.csv"
    src.write_text("id,s\n1,abc\n2,déf\n3,ghi\n", encoding="utf-8")
    out = tmp_path / "s.npy"
    schema = {
        "columns": [{"name": "id", "type": "int32"}, {"name": "s", "type": "str", "width": 8}]
    }
    fastetl.convert(src, out, schema)
    rec = np.load(out, mmap_mode="r+")
    rec["s"][2] = b"g\xffi"  # written by another program
    rec.flush()
    del rec
    t = fastetl.open(out)
    message = r"s\.npy: column 's', row 2: b'g\\xffi' is not valid UTF-8"
    for call in (lambda: t["s"], t.to_arrow, t.to_pandas, lambda: list(t.iter_batches(1))):
        with pytest.raises(fastetl.OutputError, match=message):
            call()


# -- optional dependencies ---------------------------------------------------------
@pytest.mark.parametrize(
    ("blocked", "call", "extra"),
    [
        ("pyarrow", "t.to_arrow()", "arrow"),
        ("pyarrow", "t.iter_batches(10)", "arrow"),
        ("polars", "t.to_polars()", "polars"),
        ("pandas", "t.to_pandas()", "pandas"),
    ],
)
def test_a_missing_optional_dependency_names_the_extra(tmp_path, blocked, call, extra):
    src = tmp_path / "a.csv"
    src.write_text("a\n1\n", encoding="utf-8")
    code = textwrap.dedent(
        f"""
        import sys
        sys.modules[{blocked!r}] = None  # the import system's own "not installed"
        import fastetl
        t = fastetl.read_csv({str(src)!r})
        try:
            {call}
        except ImportError as e:
            print(e)
        """
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip().endswith(f'pip install "fastetl[{extra}]"'), res.stdout
    assert blocked in res.stdout


def test_to_pandas_without_pyarrow_builds_the_strings_in_c_and_equals_pandas(tmp_path):
    """Without pyarrow, pandas keeps text in object arrays (pandas 3: the "str" dtype
    with Python storage); to_pandas fills them from the C loop, nulls as pandas has them."""
    src = tmp_path / "s.csv"
    with src.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["n", "s"])
        w.writerows([[i, "" if i % 4 == 0 else TEXTS[i % len(TEXTS)]] for i in range(200)])
    schema = {"columns": [{"name": "n", "type": "int64"},
                          {"name": "s", "type": "str", "width": 40, "nullable": True}]}  # fmt: skip
    code = textwrap.dedent(
        f"""
        import sys
        sys.modules["pyarrow"] = None  # the import system's own "not installed"
        import pandas as pd
        import fastetl
        df = fastetl.read_csv({str(src)!r}, {schema!r}).to_pandas()
        want = pd.read_csv({str(src)!r}, keep_default_na=False, na_values=[""])
        assert getattr(df["s"].dtype, "storage", "python") == "python", df["s"].dtype
        pd.testing.assert_frame_equal(df, want, check_exact=True)
        print("ok", df["s"].dtype)
        """
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0 and res.stdout.startswith("ok"), res.stderr


# -- bounded memory ------------------------------------------------------------------
PEAK_SCRIPT = """
import json, resource, sys
import numpy as np
import fastetl

def peak_mb():
    # Linux: VmHWM, the peak of this program's own memory; ru_maxrss would start at
    # the RSS of the parent (pytest) at fork, which execve keeps as a floor.
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # bytes on macOS
    return kb / (1 << 20 if sys.platform == "darwin" else 1 << 10)

t = fastetl.open(sys.argv[1])
mode = sys.argv[2]
it = iter(t.iter_batches(4096)) if mode == "batches" else None
first = next(it) if it else None
base = peak_mb()
rows = 0
if mode == "batches":
    rows = first.num_rows
    for batch in it:
        rows += batch.num_rows
else:  # the control: one pass over the whole memory map keeps every page resident
    rows = int(np.count_nonzero(np.asarray(t.raw("s")) != b""))
print(json.dumps({"base": base, "peak": peak_mb(), "rows": rows}))
"""


@pytest.mark.slow
def test_iter_batches_over_a_memory_mapped_file_bigger_than_its_batches_has_bounded_peak_rss(
    tmp_path,
):
    if not hasattr(__import__("resource"), "getrusage") or sys.platform == "win32":
        pytest.skip("needs resource.getrusage")  # pragma: no cover
    rows = 100_000
    src = tmp_path / "wide.csv"
    with src.open("w") as f:
        f.write("id,s,x\n")
        for i in range(rows):
            f.write(f"{i},v{i % 977},{i * 0.5}\n")
    out = tmp_path / "wide.npy"
    schema = {
        "columns": [
            {"name": "id", "type": "int64"},
            {"name": "s", "type": "str", "width": 2000},
            {"name": "x", "type": "float64"},
        ]
    }
    fastetl.convert(src, out, schema)
    size_mb = out.stat().st_size / 2**20
    assert size_mb > 190

    def run(mode: str) -> dict:
        res = subprocess.run(
            [sys.executable, "-c", PEAK_SCRIPT, str(out), mode],
            capture_output=True,
            text=True,
            check=True,
        )
        return json.loads(res.stdout)

    batches = run("batches")
    assert batches["rows"] == rows
    # each batch holds 4096 rows (8 MB of records): the pass adds far less than the file
    assert batches["peak"] - batches["base"] < size_mb / 4, (batches, size_mb)
    control = run("control")
    assert control["rows"] == rows
    # the measure can tell: a plain pass over the map keeps the whole file resident
    assert control["peak"] - control["base"] > size_mb * 0.75, (control, size_mb)
