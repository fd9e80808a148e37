"""Exports (``fastetl.export``, ``fastetl export``): Parquet, Arrow IPC, CSV, JSON Lines.

Every case starts from Python values, writes them as CSV with Python's ``csv``,
converts with fastetl and exports; what pyarrow, pandas, polars, ``json`` and
``csv`` read back from the export is compared with the Python values (the
independent reference), never with fastetl's own output.  The CSV round trip also
checks that converting the export again gives the same ``.npy`` bytes, and that
the reference parser of tests/reference.py reads the export to the same records.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import random
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

import fastetl
from fastetl.export import export
from reference import assert_same_records, listing, reference_parse

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
pd = pytest.importorskip("pandas")
pl = pytest.importorskip("polars")

UTC = timezone.utc

# -- a schema with every type ---------------------------------------------------------------
SCHEMA = {
    "columns": [
        {"name": "i8", "type": "int8"},
        {"name": "u64", "type": "uint64"},
        {"name": "i32n", "type": "int32", "nullable": True},
        {"name": "f64", "type": "float64", "nullable": True},
        {"name": "f32", "type": "float32"},
        {"name": "dec", "type": "decimal", "scale": 2, "nullable": True},
        {"name": "d", "type": "date"},
        {"name": "dfmt", "type": "date", "format": "%d/%m/%Y"},
        {"name": "dt", "type": "datetime", "unit": "us"},
        {"name": "dtz", "type": "datetime", "unit": "ms", "tz": "UTC"},
        {"name": "dtf", "type": "datetime", "unit": "ms", "format": "%d/%m/%Y %H:%M:%S.%f"},
        {"name": "s", "type": "str", "width": 24, "nullable": True},
        {"name": "cat", "type": "category", "nullable": True},
        {"name": "fcat", "type": "category", "values": ["x", "y", "=z"]},
        {"name": "b", "type": "bool", "nullable": True},
        {"name": "ignored", "type": "skip"},
    ],
    "flags": [
        {"name": "flags", "type": "uint8", "bits": [
            {"name": "is_vip", "column": "vip"},
            {"name": "is_x", "column": "fcat", "equals": "x"},
        ]},
    ],
}  # fmt: skip
COLUMNS = [c["name"] for c in SCHEMA["columns"] if c["type"] != "skip"]
TEXTS = ["plain", "with, comma", 'with "quotes"', "line\nbreak", "=1+1", "@SUM(A1)", "-cmd",
         "-12.5", "+3", "\tlead tab", "\rlead cr", "", "ação ünï €", "back\\slash", "ctl\x01"]  # fmt: skip


def _rows(n: int, seed: int) -> list[dict]:
    """``n`` rows of Python values (None for nulls); every text case appears."""
    rnd = random.Random(seed)
    rows = []
    for r in range(n):
        base = datetime(1969, 12, 31, 23, 59, 58) + timedelta(
            days=rnd.randint(-20000, 20000), microseconds=rnd.randint(0, 10**11)
        )
        ms = base.replace(microsecond=base.microsecond // 1000 * 1000)
        row = {
            "i8": rnd.randint(-128, 127),
            "u64": rnd.choice([0, 2**64 - 1, rnd.randint(0, 2**64 - 1)]),
            "i32n": None if r % 5 == 0 else rnd.randint(-(2**31), 2**31 - 1),
            "f64": None if r % 7 == 0 else rnd.choice(
                [-12.5, 0.1, 1e300, -0.0, 5e-324, rnd.uniform(-1e6, 1e6), math.inf]
            ),
            "f32": float(np.float32(rnd.uniform(-1e3, 1e3))),
            "dec": None if r % 6 == 0 else Decimal(rnd.randint(-10**12, 10**12)).scaleb(-2),
            "d": date(1, 1, 1) + timedelta(days=rnd.randint(0, 3652058)),
            "dfmt": date(1900, 1, 1) + timedelta(days=rnd.randint(0, 70000)),
            "dt": base,
            "dtz": ms.replace(tzinfo=UTC),
            "dtf": ms,
            "s": None if r % 4 == 3 else TEXTS[r % len(TEXTS)],
            "cat": None if r % 9 == 0 else rnd.choice(["north", "south", "-east", "@west"]),
            "fcat": rnd.choice(["x", "y", "=z"]),
            "b": None if r % 8 == 0 else rnd.random() < 0.5,
            "vip": rnd.random() < 0.3,
        }
        rows.append(row)
    return rows


def _text(col: str, v) -> str:
    """The CSV text of value ``v`` of column ``col`` as a user's file spells it."""
    if v is None:
        return ""
    if col == "dfmt":
        return v.strftime("%d/%m/%Y")
    if col == "dtz":  # an offset: stored as the UTC instant
        local = v.astimezone(timezone(timedelta(hours=-3)))
        return local.isoformat(timespec="milliseconds")
    if col == "dtf":
        return v.strftime("%d/%m/%Y %H:%M:%S.") + f"{v.microsecond // 1000:03d}"
    if col in ("dt", "d"):
        return v.isoformat()
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    return str(v)


def _write_csv(path: Path, rows: list[dict]) -> None:
    names = [c["name"] for c in SCHEMA["columns"]] + ["vip"]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(names)
        for row in rows:
            w.writerow([_text(n, row.get(n)) if n != "ignored" else "zzz" for n in names])


def _expected(row: dict) -> dict:
    out = {n: row[n] for n in COLUMNS}
    if out["s"] == "":  # an empty cell of a nullable column is a null
        out["s"] = None
    out["is_vip"] = row["vip"]
    out["is_x"] = row["fcat"] == "x"
    return out


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("export")
    rows = _rows(300, seed=19)
    src = folder / "all.csv"
    _write_csv(src, rows)
    out = folder / "all.npy"
    fastetl.convert(src, out, schema=SCHEMA, workers=1)
    return out, [_expected(r) for r in rows]


def _same(got, want, where: str) -> None:
    if isinstance(want, float) and math.isnan(want):
        assert isinstance(got, float) and math.isnan(got), where
    elif isinstance(want, float):
        assert got == want and math.copysign(1, got) == math.copysign(1, want), where
    else:
        assert got == want and type(got) is type(want), (where, got, want)


def _check_rows(got: list[dict], want: list[dict], what: str) -> None:
    assert len(got) == len(want), what
    for r, (g, w) in enumerate(zip(got, want, strict=True)):
        assert list(g) == list(w), f"{what}: columns {list(g)}"
        for k in w:
            _same(g[k], w[k], f"{what}: row {r}, column {k}")


# -- Parquet and Arrow --------------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".parquet", ".arrow"])
def test_parquet_and_arrow_read_back_by_pyarrow(converted, tmp_path, suffix):
    out, want = converted
    dest = tmp_path / f"x{suffix}"
    report = export(out, dest, rows_per_batch=64)  # several row groups / batches
    assert report.rows == len(want)
    if suffix == ".parquet":
        table = pq.read_table(dest)
        assert pq.ParquetFile(dest).metadata.num_row_groups == 5
    else:
        table = pa.ipc.open_file(dest).read_all()
    types = {f.name: f.type for f in table.schema}
    assert pa.types.is_dictionary(types["cat"]) and pa.types.is_dictionary(types["fcat"])
    assert types["dec"] == pa.decimal128(19, 2)
    assert types["d"] == pa.date32()
    assert types["dtz"] == pa.timestamp("ms", tz="UTC") and types["dt"] == pa.timestamp("us")
    _check_rows(table.to_pylist(), want, suffix)


def test_parquet_read_back_by_pandas_and_polars(converted, tmp_path):
    out, want = converted
    dest = tmp_path / "x.parquet"
    export(out, dest)
    df = pd.read_parquet(dest, dtype_backend="pyarrow")
    got = [
        {k: (None if v is pd.NA or v is None else v) for k, v in row.items()}
        for row in df.to_dict("records")
    ]
    # pandas gives its own Timestamp (a datetime subclass); compare as datetimes
    for row in got:
        for k in ("dt", "dtz", "dtf"):
            row[k] = row[k].to_pydatetime()
    _check_rows(got, want, "pandas")
    _check_rows(pl.read_parquet(dest).to_dicts(), want, "polars")
    _check_rows(pl.read_ipc(export(out, tmp_path / "x.arrow").dest).to_dicts(), want, "polars ipc")


def test_columns_pick_and_order(converted, tmp_path):
    out, want = converted
    dest = tmp_path / "x.parquet"
    export(out, dest, columns=["is_x", "s", "i8"])
    got = pq.read_table(dest).to_pylist()
    _check_rows(got, [{k: w[k] for k in ("is_x", "s", "i8")} for w in want], "columns")
    with pytest.raises(ValueError, match="no column 'nope'"):
        export(out, dest, columns=["nope"])


# -- JSON Lines ---------------------------------------------------------------------------
def _json_value(v):
    """What the JSON Lines export promises for Python value ``v``."""
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, float) and math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    if isinstance(v, datetime) and v.tzinfo is not None:
        return v.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"
    if isinstance(v, (date, datetime)):
        return v.isoformat()
    return v


def test_jsonl_read_back_by_json_and_polars(converted, tmp_path):
    out, want = converted
    dest = tmp_path / "x.jsonl"
    export(out, dest, rows_per_batch=50)
    lines = dest.read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) == len(want) + 1
    got = [json.loads(line) for line in lines[:-1]]
    expected = [{k: _json_value(v) for k, v in w.items()} for w in want]
    for g, e in zip(got, expected, strict=True):
        # float32: the shortest text that reads back to the same float32
        assert np.float32(g["f32"]) == np.float32(e["f32"])
        g["f32"] = e["f32"]
        # datetimes: as many fraction digits as the column's unit (ms: 3)
        for k in ("dt", "dtz", "dtf"):
            z = "Z" if e[k].endswith("Z") else ""
            assert g[k].endswith(z) and datetime.fromisoformat(g[k].rstrip("Z")) == (
                datetime.fromisoformat(e[k].rstrip("Z"))
            )
            g[k] = e[k]
    for r, (g, e) in enumerate(zip(got, expected, strict=True)):
        assert g == e, f"row {r}"
        for k, v in e.items():  # 1 == 1.0 == True in Python: the types too
            assert type(g[k]) is type(v) or (isinstance(v, float) and isinstance(g[k], int)), k
    frame = pl.read_ndjson(dest, infer_schema_length=None)
    assert frame["s"].to_list() == [e["s"] for e in expected]
    assert frame["i8"].to_list() == [e["i8"] for e in expected]
    assert frame["dec"].to_list() == [e["dec"] for e in expected]


def test_jsonl_escapes_every_control_and_matches_json_dumps(tmp_path):
    """Each line is, byte for byte, ``json.dumps`` of the row (RFC 8259 escapes, UTF-8
    as it is), for text holding every control character, quotes, backslashes and
    non-ASCII, in str and category columns and in the keys."""
    texts = ["".join(chr(c) for c in range(1, 32)), 'q"uo\\te', "\x7f é € 😀 \u2028",
             "a\\nb", "\t\r\n", "", "-12.50"]  # fmt: skip
    rows = [(i, texts[i % len(texts)], texts[(i * 3) % len(texts)],
             f"{(-1) ** i * i * 1.25:.2f}", "" if i % 4 == 0 else str(i))
            for i in range(60)]  # fmt: skip
    src = tmp_path / "t.csv"
    with open(src, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", 'we"ird\\key', "cat", "dec", "n"])
        w.writerows(rows)
    schema = {"columns": [{"name": "id", "type": "int32"},
                          {"name": 'we"ird\\key', "type": "str", "width": 64, "nullable": True},
                          {"name": "cat", "type": "category", "nullable": True},
                          {"name": "dec", "type": "decimal", "scale": 2},
                          {"name": "n", "type": "int64", "nullable": True}]}  # fmt: skip
    out = tmp_path / "t.npy"
    fastetl.convert(src, out, schema=schema)
    dest = tmp_path / "t.jsonl"
    export(out, dest, rows_per_batch=7)
    lines = dest.read_bytes().decode("utf-8").split("\n")
    assert lines[-1] == ""
    for line, (i, text, cat, dec, n) in zip(lines[:-1], rows, strict=True):
        want = {"id": i, 'we"ird\\key': text or None, "cat": cat or None,
                "dec": str(Decimal(dec)), "n": int(n) if n else None}  # fmt: skip
        assert json.loads(line) == want
        assert line == json.dumps(want, ensure_ascii=False, separators=(",", ":"))


# -- CSV ----------------------------------------------------------------------------------
def _read_csv(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def _npy_equal(a: Path, b: Path) -> None:
    assert a.read_bytes() == b.read_bytes(), f"{a} and {b} differ"


def test_csv_round_trip_gives_the_same_records(converted, tmp_path):
    out, want = converted
    dest = tmp_path / "x.csv"
    export(out, dest, formula_escape=False, rows_per_batch=37)
    again = tmp_path / "again.npy"
    fastetl.convert(dest, again, schema=SCHEMA, workers=1)
    _npy_equal(out, again)
    # the reference parser reads the export to the same records too
    assert_same_records(reference_parse(dest.read_bytes(), fastetl.Schema.from_dict(SCHEMA)),
                        np.load(out), "reference")  # fmt: skip
    rows = _read_csv(dest)
    header = rows[0]
    assert header == [c["name"] for c in SCHEMA["columns"]] + ["vip"]
    assert dest.read_bytes().count(b"\r\n") >= len(want) + 1  # RFC 4180 line ends
    body = [dict(zip(header, r, strict=True)) for r in rows[1:]]
    for r, (row, w) in enumerate(zip(body, want, strict=True)):
        assert row["ignored"] == ""
        assert row["vip"] == ("true" if w["is_vip"] else "false")
        assert row["s"] == ("" if w["s"] is None else w["s"]), r
        assert row["i8"] == str(w["i8"]) and row["u64"] == str(w["u64"])
        assert row["dfmt"] == w["dfmt"].strftime("%d/%m/%Y")
        assert (Decimal(row["dec"]) if row["dec"] else None) == w["dec"]
        f = w["f64"]
        assert (float(row["f64"]) if row["f64"] else None) == (None if f is None else f)


def test_csv_formula_cases(tmp_path):
    texts = ["=1+1", "@SUM(A1)", "-cmd", "-12.5", "+3", "1e5", "-1e5", "\tx", "\rx", "+", "-",
             "a=b", "", "'quoted"]  # fmt: skip
    numbers = [-12.5, 3.0, -1e5, 0.25]
    src = tmp_path / "f.csv"
    with open(src, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "cat", "num", "dec"])
        for k, t in enumerate(texts):
            x = numbers[k % len(numbers)]
            w.writerow([t, t or "-", repr(x), f"{x:.2f}"])
    schema = {"columns": [{"name": "text", "type": "str", "width": 16},
                          {"name": "cat", "type": "category"},
                          {"name": "num", "type": "float64"},
                          {"name": "dec", "type": "decimal", "scale": 2}]}  # fmt: skip
    out = tmp_path / "f.npy"
    fastetl.convert(src, out, schema=schema, workers=1)

    def escaped(t: str) -> str:  # the documented rule, written out by hand
        starts = t[:1] in ("=", "+", "-", "@", "\t", "\r")
        number = t in ("-12.5", "+3", "-1e5")
        return "'" + t if starts and not number else t

    export(out, tmp_path / "safe.csv")
    rows = _read_csv(tmp_path / "safe.csv")[1:]
    assert [r[0] for r in rows] == [escaped(t) for t in texts]
    assert [r[1] for r in rows] == [escaped(t or "-") for t in texts]
    assert rows[0][0] == "'=1+1" and rows[1][0] == "'@SUM(A1)" and rows[2][0] == "'-cmd"
    assert rows[3][0] == "-12.5" and rows[7][0] == "'\tx" and rows[8][0] == "'\rx"
    # numbers of number columns are never touched: -12.5 stays -12.5
    assert [float(r[2]) for r in rows] == [numbers[k % 4] for k in range(len(texts))]
    assert rows[0][2] == "-12.5" and rows[0][3] == "-12.50"
    export(out, tmp_path / "raw.csv", formula_escape=False)
    raw = _read_csv(tmp_path / "raw.csv")[1:]
    assert [r[0] for r in raw] == texts
    again = tmp_path / "again.npy"
    fastetl.convert(tmp_path / "raw.csv", again, schema=schema, workers=1)
    _npy_equal(out, again)


def test_csv_header_names_are_neutralised_too(tmp_path):
    src = tmp_path / "h.csv"
    src.write_text("=HYPERLINK(1),b\n1,2\n", encoding="utf-8")
    out = tmp_path / "h.npy"
    fastetl.convert(src, out, workers=1)
    export(out, tmp_path / "h2.csv")
    assert _read_csv(tmp_path / "h2.csv")[0] == ["'=HYPERLINK(1)", "b"]
    export(out, tmp_path / "h3.csv", formula_escape=False)
    assert _read_csv(tmp_path / "h3.csv")[0] == ["=HYPERLINK(1)", "b"]


def test_csv_round_trip_of_the_demo(tmp_path):
    from fastetl.demo import demo_schema, generate_orders_bytes

    src = tmp_path / "orders.csv"
    src.write_bytes(generate_orders_bytes(3000, seed=7))
    out = tmp_path / "orders.npy"
    fastetl.convert(src, out, schema=demo_schema(), workers=1)
    for escape in (True, False):
        dest = tmp_path / f"orders-{escape}.csv"
        export(out, dest, formula_escape=escape, rows_per_batch=1000)
        again = tmp_path / f"again-{escape}.npy"
        fastetl.convert(dest, again, schema=demo_schema(), workers=2)
        _npy_equal(out, again)
    # the export holds the bool columns the flags read (not stored) and the stored ones
    header = _read_csv(tmp_path / "orders-True.csv")[0]
    assert header[-2:] == ["is_prime", "is_presente"] and "pago_pix" not in header


_RANDOM_TYPES = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                 "float32", "float64", "bool", "date", "datetime", "decimal", "str",
                 "category"]  # fmt: skip


def _random_value(rnd: random.Random, col: dict):
    t = col["type"]
    if t.startswith(("int", "uint")):
        bits = int(t.lstrip("uint"))
        lo, hi = (0, 2**bits - 1) if t.startswith("u") else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
        return str(rnd.choice([lo, hi, 0, rnd.randint(lo, hi)]))
    if t == "float32":
        return repr(float(np.float32(rnd.uniform(-1e30, 1e30)) * rnd.choice([1, 1e-30])))
    if t == "float64":
        return repr(rnd.choice([rnd.uniform(-1, 1) * 10 ** rnd.randint(-300, 300), 0.0, -0.0]))
    if t == "bool":
        return rnd.choice(["true", "false", "T", "no", "1"])
    if t == "date":
        return (date(1, 1, 1) + timedelta(days=rnd.randint(0, 3652058))).isoformat()
    if t == "datetime":
        d = datetime(1, 1, 1) + timedelta(seconds=rnd.randint(0, 315537897599))
        return d.isoformat() + rnd.choice(["", ".5", ".123456"])
    if t == "decimal":
        v = Decimal(rnd.randint(-(10**15), 10**15)).scaleb(-col["scale"])
        return str(v)
    chars = 'ab ,"\n\r=+-@\t\'é€'
    return "".join(rnd.choice(chars) for _ in range(rnd.randint(0, 8)))


@pytest.mark.parametrize("seed", range(8))
def test_csv_round_trip_random_schemas(tmp_path, seed):
    rnd = random.Random(seed)
    print(f"seed {seed}")
    cols = []
    for k in range(rnd.randint(1, 8)):
        col = {"name": f"c{k}", "type": rnd.choice(_RANDOM_TYPES)}
        if col["type"] == "decimal":
            col["scale"] = rnd.randint(0, 3)
        if col["type"] == "str":
            col["width"] = 40
        if col["type"] == "datetime":
            col["unit"] = "us"
        col["nullable"] = rnd.random() < 0.5
        cols.append(col)
    schema = {"columns": cols}
    if rnd.random() < 0.5:
        schema["flags"] = [{"name": "fl", "type": "uint8",
                            "bits": [{"name": "bit", "column": "src"}]}]  # fmt: skip
    names = [c["name"] for c in cols] + (["src"] if "flags" in schema else [])
    rows = []
    for _ in range(rnd.randint(0, 60)):
        row = [
            "" if c["nullable"] and rnd.random() < 0.2 else _random_value(rnd, c) for c in cols
        ]
        if "flags" in schema:
            row.append(rnd.choice(["true", "false"]))
        rows.append(row)
    src = tmp_path / "r.csv"
    with open(src, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([names, *rows])
    out = tmp_path / "r.npy"
    fastetl.convert(src, out, schema=schema, workers=1)
    dest = tmp_path / "r2.csv"
    export(out, dest, formula_escape=False, rows_per_batch=rnd.choice([1, 7, 1000]))
    again = tmp_path / "again.npy"
    fastetl.convert(dest, again, schema=schema, workers=1)
    _npy_equal(out, again)


# -- every format: edge cases ---------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["parquet", "arrow", "csv", "jsonl"])
def test_empty_table(tmp_path, fmt):
    src = tmp_path / "e.csv"
    src.write_text("a,b\n", encoding="utf-8")
    out = tmp_path / "e.npy"
    fastetl.convert(src, out, schema={"columns": [{"name": "a", "type": "int32"},
                                                  {"name": "b", "type": "str", "width": 3}]},
                    workers=1)  # fmt: skip
    dest = tmp_path / f"e.{fmt}"
    assert export(out, dest).rows == 0
    if fmt == "parquet":
        assert pq.read_table(dest).num_rows == 0
    elif fmt == "arrow":
        assert pa.ipc.open_file(dest).read_all().num_rows == 0
    elif fmt == "csv":
        assert _read_csv(dest) == [["a", "b"]]
    else:
        assert dest.read_bytes() == b""


def test_a_failed_export_leaves_the_destination_as_it_was(converted, tmp_path):
    out, want = converted
    bad = tmp_path / "bad.npy"
    bad.write_bytes(out.read_bytes())
    Path(str(bad) + ".json").write_bytes(Path(str(out) + ".json").read_bytes())
    # invalid UTF-8 in a str field of a late row (not a null), written in by hand
    arr = np.load(bad, mmap_mode="r+")
    field = arr.dtype.fields["s"]
    row = len(arr) - 2
    assert want[row]["s"] is not None
    offset = arr.offset + row * arr.dtype.itemsize + field[1]
    del arr
    with open(bad, "r+b") as fh:
        fh.seek(offset)
        fh.write(b"\xff\xfe")
    for fmt in ("parquet", "arrow", "csv", "jsonl"):
        dest = tmp_path / f"keep.{fmt}"
        dest.write_bytes(b"old")
        before = listing(tmp_path)
        with pytest.raises(fastetl.OutputError, match="not valid UTF-8"):
            export(bad, dest, rows_per_batch=64)
        assert dest.read_bytes() == b"old"
        assert listing(tmp_path) == before  # no temporary file left


def test_bad_arguments(converted, tmp_path):
    out, _ = converted
    with pytest.raises(ValueError, match="cannot tell the format"):
        export(out, tmp_path / "x.txt")
    with pytest.raises(ValueError, match="format must be one of"):
        export(out, tmp_path / "x.csv", format="xlsx")
    with pytest.raises(ValueError, match="a file of its input"):
        export(out, out, format="csv")
    with pytest.raises(fastetl.OutputError, match="no such file"):
        export(tmp_path / "missing.npy", tmp_path / "x.csv")
    assert not (tmp_path / "x.csv").exists()


def test_export_of_a_table_in_memory(tmp_path):
    t = fastetl.read_csv(io.BytesIO(b"a,b\n1,x\n2,y\n"))
    fastetl.export(t, tmp_path / "m.parquet")  # (the public name)
    assert pq.read_table(tmp_path / "m.parquet").to_pylist() == [
        {"a": 1, "b": "x"},
        {"a": 2, "b": "y"},
    ]


# -- the command line ---------------------------------------------------------------------
def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run(
        [sys.executable, "-m", "fastetl", *args], capture_output=True, text=True, cwd=cwd,
        env=env, timeout=120,
    )  # fmt: skip


def test_cli_export(converted, tmp_path):
    out, want = converted
    p = _cli("export", str(out), "x.csv", "--columns", "s,i8", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    rows = _read_csv(tmp_path / "x.csv")
    assert rows[0] == ["s", "i8"]
    assert rows[1 + 4] == ["'=1+1", str(want[4]["i8"])]  # TEXTS[4], escaped by default
    p = _cli("export", str(out), "y.csv", "--no-formula-escape", "--columns", "s", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert _read_csv(tmp_path / "y.csv")[1 + 4] == ["=1+1"]
    p = _cli("export", str(out), "z.dat", "--format", "parquet", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert pq.read_table(tmp_path / "z.dat").num_rows == len(want)


def test_cli_export_errors(converted, tmp_path):
    out, _ = converted
    p = _cli("export", str(out), "x.txt", cwd=tmp_path)
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "cannot tell the format" in p.stderr
    p = _cli("export", str(out), "x.csv", "--columns", "nope", cwd=tmp_path)
    assert p.returncode == 2 and "no column 'nope'" in p.stderr
    p = _cli("export", "missing.npy", "x.csv", cwd=tmp_path)
    assert p.returncode == 1 and p.stderr.count("\n") == 1 and "no such file" in p.stderr
    assert not (tmp_path / "x.csv").exists()


def test_csv_extreme_values(tmp_path):
    ints = [-(2**63), 2**63 - 1, 0, -1]
    cents = [-(2**63), 2**63 - 1, -5, 5, 0, -100]
    days = [date(1, 1, 1), date(9999, 12, 31), date(1969, 12, 31), date(2000, 2, 29)]
    stamps = [datetime(1, 1, 1), datetime(9999, 12, 31, 23, 59, 59, 999999),
              datetime(1969, 12, 31, 23, 59, 59, 1), datetime(1970, 1, 1)]  # fmt: skip
    src = tmp_path / "x.csv"
    with open(src, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["i", "u", "dec", "dec0", "d", "ts"])
        for k in range(6):
            w.writerow([ints[k % 4], (2**64 - 1) if k % 2 else 0,
                        str(Decimal(cents[k]).scaleb(-2)), cents[k], days[k % 4].isoformat(),
                        stamps[k % 4].isoformat()])  # fmt: skip
    schema = {"columns": [{"name": "i", "type": "int64"}, {"name": "u", "type": "uint64"},
                          {"name": "dec", "type": "decimal", "scale": 2},
                          {"name": "dec0", "type": "decimal", "scale": 0},
                          {"name": "d", "type": "date"},
                          {"name": "ts", "type": "datetime", "unit": "us"}]}  # fmt: skip
    out = tmp_path / "x.npy"
    fastetl.convert(src, out, schema=schema, workers=1)
    export(out, tmp_path / "y.csv")
    rows = _read_csv(tmp_path / "y.csv")[1:]
    for k, row in enumerate(rows):
        assert int(row[0]) == ints[k % 4] and int(row[1]) == ((2**64 - 1) if k % 2 else 0)
        assert Decimal(row[2]) == Decimal(cents[k]).scaleb(-2) and row[3] == str(cents[k])
        assert date.fromisoformat(row[4]) == days[k % 4]
        assert datetime.fromisoformat(row[5]) == stamps[k % 4]
    fastetl.convert(tmp_path / "y.csv", tmp_path / "z.npy", schema=schema, workers=1)
    _npy_equal(out, tmp_path / "z.npy")


# -- bounded memory -------------------------------------------------------------------------
EXPORT_CHILD = """
import json, sys
spec = json.loads(sys.argv[1])
import fastetl, pyarrow, pyarrow.compute, pyarrow.csv, pyarrow.parquet
sys.modules["fastetl.export"].BATCH_BYTES = spec["batch"]
from fastetl.export import export

def peak():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) << 10

t = fastetl.open(spec["npy"])
base = peak()  # the interpreter, numpy, pyarrow, the table opened
out = {"rows": export(t, spec["dest"]).rows, "base": base, "peak": peak()}
print(json.dumps(out))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_exports_hold_a_few_batches_not_the_file(tmp_path):
    # 160 MB of records (a wide str field holding short values) from a 3 MB CSV
    rows = 160_000
    src = tmp_path / "wide.csv"
    with open(src, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["k", "s"])
        w.writerows([k, f"v{k % 977}"] for k in range(rows))
    out = tmp_path / "wide.npy"
    schema = {"columns": [{"name": "k", "type": "int64"},
                          {"name": "s", "type": "str", "width": 1000}]}  # fmt: skip
    fastetl.convert(src, out, schema=schema, workers=1)
    assert out.stat().st_size > 160e6
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    for fmt in ("parquet", "arrow", "csv", "jsonl"):
        dest = tmp_path / f"wide.{fmt}"
        spec = {"npy": str(out), "dest": str(dest), "batch": 4 << 20}
        p = subprocess.run([sys.executable, "-c", EXPORT_CHILD, json.dumps(spec)],
                           capture_output=True, text=True, env=env, timeout=600)  # fmt: skip
        assert p.returncode == 0, p.stderr
        got = json.loads(p.stdout)
        assert got["rows"] == rows
        # a few batches of 4 MB (and what the allocators keep of freed ones), not the
        # 160 MB of records
        grew = got["peak"] - got["base"]
        assert grew < 100 << 20, (fmt, grew >> 20)
        dest.unlink()
