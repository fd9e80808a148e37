"""Values, not encodings (issue 16): every read path returns what the data means.

``fastetl.open(out)[name]``, ``fastetl.read_csv(src)[name]`` and ``to_pandas()``
give floats, ``str``, bools, ``datetime64`` and masks for nulls; ``numpy.load``
users see float64 for numbers with a fraction unless a schema asked for exact
decimals.  Every expected value comes from Python's ``csv`` module with
``float()`` / ``Decimal()`` / plain strings, or from ``pandas.read_csv``.
"""

from __future__ import annotations

import csv
import io
import random
import struct
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from numpy.lib import recfunctions

import fastetl

WEATHER_KINDS = ["drizzle", "rain", "sun", "snow", "fog"]


def weather_csv(n: int = 600, seed: int = 16) -> bytes:
    """A seattle-weather.csv look-alike: one-decimal numbers, a category, dates."""
    rnd = random.Random(seed)
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["date", "precipitation", "temp_max", "temp_min", "wind", "weather"])
    for i in range(n):
        w.writerow(
            [
                f"2012-{i % 12 + 1:02d}-{i % 28 + 1:02d}",
                f"{rnd.randint(0, 559) / 10:.1f}",
                f"{rnd.randint(-16, 356) / 10:.1f}",  # negatives and -0.x included
                f"{rnd.randint(-71, 183) / 10:.1f}",
                f"{rnd.randint(4, 95) / 10:.1f}",
                rnd.choice(WEATHER_KINDS),
            ]
        )
    return out.getvalue().encode()


def csv_columns(data: bytes) -> dict[str, list[str]]:
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    return {name: [r[j] for r in rows[1:]] for j, name in enumerate(rows[0])}


def bits(values) -> list[bytes]:
    return [struct.pack("<d", v) for v in values]


@pytest.fixture(scope="module")
def weather(tmp_path_factory) -> tuple[Path, Path, bytes]:
    d = tmp_path_factory.mktemp("weather")
    src = d / "seattle-weather.csv"
    data = weather_csv()
    src.write_bytes(data)
    out = d / "seattle-weather.npy"
    fastetl.convert(src, out)  # no schema: inferred
    return src, out, data


NUMERIC = ("precipitation", "temp_max", "temp_min", "wind")


def test_one_decimal_columns_are_float64_on_disk_and_in_every_read_path(weather):
    src, out, data = weather
    want = csv_columns(data)
    stored = np.load(out, mmap_mode="r")
    t = fastetl.open(out)
    r = fastetl.read_csv(src)
    for name in NUMERIC:
        expect = [float(x) for x in want[name]]
        assert stored.dtype[name] == np.dtype("float64"), name
        assert bits(stored[name]) == bits(expect), name  # bit-identical to float(text)
        assert bits(t[name]) == bits(expect), name
        assert bits(r[name]) == bits(expect), name
    # the report that started issue 16: the mean is the data's, not 10x it
    assert t["temp_max"].mean() == pytest.approx(np.mean([float(x) for x in want["temp_max"]]))


def test_numpy_loadtxt_script_switched_to_fastetl_gets_the_same_numbers(weather):
    src, out, data = weather
    body = "\n".join(",".join(r[1:5]) for r in csv.reader(io.StringIO(data.decode()))) + "\n"
    numbers = src.with_name("numbers.csv")
    numbers.write_text(body)
    expect = np.loadtxt(numbers, delimiter=",", skiprows=1)
    got = recfunctions.structured_to_unstructured(fastetl.read_csv(numbers).array)
    assert got.dtype == np.float64 and np.array_equal(got, expect)
    npy = numbers.with_suffix(".npy")
    fastetl.convert(numbers, npy)
    assert np.array_equal(recfunctions.structured_to_unstructured(np.load(npy)), expect)


def test_inferred_floats_equal_pandas(weather):
    pd = pytest.importorskip("pandas")
    src, out, _ = weather
    df = pd.read_csv(src)
    t = fastetl.open(out)
    for name in NUMERIC:
        assert bits(t[name]) == bits(df[name].to_numpy()), name
    assert fastetl.read_csv(src)["weather"].tolist() == df["weather"].tolist()
    back = t.to_pandas()
    for name in NUMERIC:
        assert bits(back[name].to_numpy()) == bits(df[name].to_numpy()), name


def test_read_csv_categories_are_strings_and_keep_the_dictionary(weather):
    src, out, data = weather
    want = csv_columns(data)["weather"]
    r = fastetl.read_csv(src)
    assert r.schema.columns[-1].type == "category"
    got = r["weather"]
    assert got.dtype == object and got.tolist() == want
    assert all(type(v) is str for v in got)
    # the dictionary is kept, as in the sidecar of a conversion, and open() agrees
    assert r.meta["categories"]["weather"] == list(dict.fromkeys(want))
    assert r.meta["categories"] == fastetl.open(out).meta["categories"]
    assert fastetl.open(out)["weather"].tolist() == want
    # the codes are still there for whoever wants them
    codes = r.raw("weather")
    assert codes.dtype == np.uint8
    assert [r.meta["categories"]["weather"][c] for c in codes] == want
    assert r.array.dtype == np.load(out).dtype


MIXED_SCHEMA = {
    "columns": [
        {"name": "id", "type": "int32"},
        {"name": "nome", "type": "str", "width": 24, "nullable": True},
        {"name": "cidade", "type": "category", "nullable": True},
        {"name": "nota", "type": "int8", "nullable": True},
        {"name": "preco", "type": "decimal", "scale": 2, "nullable": True},
        {"name": "peso", "type": "float64", "nullable": True},
        {"name": "dia", "type": "date", "nullable": True},
        {"name": "ok", "type": "bool", "nullable": True},
    ],
    "flags": [
        {
            "name": "flags",
            "type": "uint8",
            "bits": [
                {"name": "is_prime", "column": "prime"},
                {"name": "pago_pix", "column": "pagamento", "equals": "pix"},
            ],
        }
    ],
}
TEXTS = ["Ana", "Zé, o Bom", "naïve – ç", "😀 emoji", "a\x00b", "plain", "São Paulo"]
CITIES = ["Lisboa", "São Paulo", "Zürich", "東京"]
PRICES = ["0.10", "-0.05", "19.99", "1234.00", "92233720368547758.07", "-92233720368547758.08"]


def mixed_csv(n: int = 300, seed: int = 7) -> bytes:
    rnd = random.Random(seed)
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["id", "nome", "cidade", "nota", "preco", "peso", "dia", "ok", "prime", "pagamento"])

    def maybe(v: str) -> str:
        return "" if rnd.random() < 0.2 else v

    for i in range(n):
        w.writerow(
            [
                i,
                maybe(rnd.choice(TEXTS)),
                maybe(rnd.choice(CITIES)),
                maybe(str(rnd.randint(-128, 127))),
                maybe(rnd.choice(PRICES)),
                maybe(repr(rnd.uniform(-1e6, 1e6))),
                maybe(f"2024-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}"),
                maybe(rnd.choice(["true", "false"])),
                rnd.choice(["true", "false"]),
                rnd.choice(["pix", "cartao", "boleto"]),
            ]
        )
    return out.getvalue().encode()


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    d = tmp_path_factory.mktemp("mixed")
    data = mixed_csv()
    src = d / "mixed.csv"
    src.write_bytes(data)
    out = d / "mixed.npy"
    fastetl.convert(src, out, MIXED_SCHEMA)
    return data, fastetl.read_csv(src, MIXED_SCHEMA), fastetl.open(out)


def _both(mixed):
    data, r, t = mixed
    return csv_columns(data), (("read_csv", r), ("open", t))


def test_str_and_category_columns_are_python_str_with_none_for_nulls(mixed):
    want, tables = _both(mixed)
    for how, t in tables:
        for name in ("nome", "cidade"):
            got = t[name]
            assert got.dtype == object, (how, name)
            assert got.tolist() == [v if v else None for v in want[name]], (how, name)
        # a NUL inside a value is kept (numpy S only drops NULs at the end, which
        # the converter refuses with a ParseError rather than lose)
        assert "a\x00b" in t["nome"].tolist()
        assert all(type(v) is str for v in t["nome"] if v is not None)


def test_a_str_value_ending_in_nul_is_refused_not_truncated():
    with pytest.raises(fastetl.ParseError, match="NUL"):
        fastetl.read_csv(b"s\nab\x00\n", {"columns": [{"name": "s", "type": "str", "width": 8}]})


def test_nullable_columns_are_masked_where_the_csv_cell_is_empty(mixed):
    want, tables = _both(mixed)
    for how, t in tables:
        for name in ("nota", "preco", "ok"):
            empty = [v == "" for v in want[name]]
            got = t[name]
            assert isinstance(got, np.ma.MaskedArray), (how, name)
            assert np.ma.getmaskarray(got).tolist() == empty, (how, name)
            assert t.null_mask(name).tolist() == empty, (how, name)
        nota = t["nota"]
        assert [None if m else int(v) for v, m in zip(nota.data, nota.mask, strict=True)] == [
            int(v) if v else None for v in want["nota"]
        ]
        ok = t["ok"]
        assert ok.dtype == bool
        assert [None if m else bool(v) for v, m in zip(ok.data, ok.mask, strict=True)] == [
            (v == "true") if v else None for v in want["ok"]
        ]
        # floats and dates keep NaN / NaT
        peso = t["peso"]
        assert [None if np.isnan(v) else v for v in peso] == [
            float(v) if v else None for v in want["peso"]
        ]
        dia = t["dia"]
        assert dia.dtype == np.dtype("datetime64[D]")
        assert [None if np.isnat(v) else str(v) for v in dia] == [v or None for v in want["dia"]]


def test_flag_bits_are_bools(mixed):
    want, tables = _both(mixed)
    for how, t in tables:
        assert t["is_prime"].dtype == bool
        assert t["is_prime"].tolist() == [v == "true" for v in want["prime"]], how
        assert t["pago_pix"].tolist() == [v == "pix" for v in want["pagamento"]], how
        assert t.meta["flags"] == {"flags": ["is_prime", "pago_pix"]}
        assert t.raw("flags").dtype == np.uint8


def test_a_decimal_schema_stores_scaled_int64_and_reads_floats_and_exact_decimals(mixed):
    want, tables = _both(mixed)
    texts = want["preco"]
    for how, t in tables:
        assert t.array.dtype["preco"] == np.dtype("int64")
        raw = t.raw("preco")
        present = [i for i, v in enumerate(texts) if v]
        assert [int(raw[i]) for i in present] == [int(Decimal(texts[i]) * 100) for i in present]
        assert t.decimal("preco").tolist() == [Decimal(v) if v else None for v in texts], how
        values = t["preco"]
        assert values.dtype == np.float64
        # float(text), bit for bit, even past 2**53 where int -> float would round twice
        assert bits(values.data[present]) == bits(float(texts[i]) for i in present), how
        assert np.isnan(values.data[~np.asarray([bool(v) for v in texts])]).all()


def test_decimal_texts_near_the_int64_edge_read_as_float_of_the_text():
    texts = ["92233720368547758.07", "-92233720368547758.08", "90071992547409.93",
             "90071992547409.95", "0.01", "-0.00", "12345678901234567.89"]  # fmt: skip
    data = ("x\n" + "\n".join(texts) + "\n").encode()
    t = fastetl.read_csv(data, {"columns": [{"name": "x", "type": "decimal", "scale": 2}]})
    assert bits(t["x"]) == bits(abs(float(v)) if v == "-0.00" else float(v) for v in texts)
    assert t.decimal("x").tolist() == [Decimal(v) for v in texts]


def test_to_pandas_decodes_through_the_same_code(mixed):
    pd = pytest.importorskip("pandas")
    want, tables = _both(mixed)
    for how, t in tables:
        df = t.to_pandas()
        assert isinstance(df["cidade"].dtype, pd.CategoricalDtype), how
        assert list(df["cidade"].cat.categories) == t.meta["categories"]["cidade"]
        cidade = [None if pd.isna(v) else v for v in df["cidade"]]
        assert cidade == [v or None for v in want["cidade"]]
        # pandas 3 stores these as its "str" dtype, missing as NaN; older pandas: None
        assert [None if pd.isna(v) else v for v in df["nome"]] == [v or None for v in want["nome"]]
        assert df["preco"].dtype == np.float64
        assert [None if np.isnan(v) else v for v in df["preco"]] == [
            float(v) if v else None for v in want["preco"]
        ]
        assert df["is_prime"].tolist() == [v == "true" for v in want["prime"]]


def test_read_csv_returns_a_table_like_open(mixed):
    _, r, t = mixed
    assert isinstance(r, fastetl.Table) and r.path is None
    assert r.array.tobytes() == t.array.tobytes()
    assert r.columns == t.columns and len(r) == len(t)
    assert repr(r.rows(0, 20)) == repr(t.rows(0, 20))  # repr: NaN equals NaN
    for key in ("schema", "categories", "flags", "nulls", "rows"):
        assert r.meta[key] == t.meta[key], key
    assert "in memory" in repr(r)
    with pytest.raises(KeyError):
        r.raw("is_prime")  # a flag bit is no stored field: r["is_prime"] or r.raw("flags")
