"""CSV export in the schema's own dialect (issue 19 review, item 6): delimiter, quote
(or none), escape, comment, decimal mark, header, skip_rows, trailing delimiter, null
words and encoding, so that converting the export again with the same schema gives
the same ``.npy`` and ``.text.npy`` bytes.

Inputs are written from Python values; the export is read back with Python's ``csv``
in the same dialect and compared with those values, and the round trip compares the
bytes of two fastetl conversions of different files.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path

import pytest

import fastetl
from fastetl.export import export

pytest.importorskip("pyarrow")

COLUMNS = [
    {"name": "i", "type": "int64"},
    {"name": "f", "type": "float64", "nullable": True},
    {"name": "dec", "type": "decimal", "scale": 2, "nullable": True},
    {"name": "d", "type": "date"},
    {"name": "s", "type": "str", "width": 20, "nullable": True},
    {"name": "t", "type": "text", "nullable": True},
    {"name": "c", "type": "category"},
    {"name": "b", "type": "bool"},
]
NAMES = [c["name"] for c in COLUMNS]
ROWS = [
    [1, 1.5, Decimal("-2.25"), "2020-01-02", "a", "x", "k", True],
    [-7, -0.125, Decimal("1000.10"), "1999-12-31", "ção", "ünï", "k2", False],
    [3, None, None, "2021-03-04", None, None, "k", True],
    [4, 1e300, Decimal("0.05"), "2000-02-29", "it's", "wo rd", "é", False],
]


def _cell(v, mark: str) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (float, Decimal)):
        return (repr(v) if isinstance(v, float) else str(v)).replace(".", mark)
    return str(v)


def _fmt(d: dict) -> dict:
    """Python csv's options for a fastetl dialect."""
    q = d.get("quote", '"')
    out = {"delimiter": d.get("delimiter", ","), "lineterminator": "\r\n",
           "escapechar": d.get("escape")}  # fmt: skip
    if q is None:
        out["quoting"] = csv.QUOTE_NONE
    else:
        out["quotechar"] = q
        out["doublequote"] = True
    return out


def _input(path: Path, d: dict, rows: list[list], extra: list[list] = ()) -> None:
    buf = io.StringIO()
    buf.write("junk line\r\n" * d.get("skip_rows", 0))
    w = csv.writer(buf, **_fmt(d))
    null = (d.get("null_values") or [""])[0]
    mark = d.get("decimal", ".")
    lines = ([NAMES] if d.get("header", True) else []) + [
        [null if v is None else _cell(v, mark) for v in r] for r in list(rows) + list(extra)
    ]
    for line in lines:
        w.writerow(line + ([""] if d.get("trailing_delimiter") else []))
    path.write_bytes(buf.getvalue().encode(d.get("encoding", "utf-8")))


DIALECTS = [
    {"delimiter": ";", "decimal": ","},
    {"delimiter": ",", "decimal": ","},  # decimals must be quoted
    {"delimiter": "\t", "quote": None},
    {"delimiter": "|", "quote": None, "escape": "\\"},
    {"header": False},
    {"encoding": "latin-1"},
    {"encoding": "utf-16"},
    {"skip_rows": 2},
    {"null_values": ["NA"]},
    {"quote": "'", "escape": "\\"},
    {"comment": "#", "trailing_delimiter": True},
]
# values holding the dialect's own marks, for the dialects that can say them
HARD = [[9, 2.5, Decimal("3.00"), "2022-05-06", 'q"u;o,t|e', "#x\\y\nz", "a,b;c|d", True]]


def _id(d: dict) -> str:
    return "-".join(f"{k}={v!r}" for k, v in d.items())


@pytest.mark.parametrize("dialect", DIALECTS, ids=_id)
def test_csv_export_round_trip_in_the_schema_dialect(tmp_path, dialect):
    hard = HARD if dialect.get("quote", '"') is not None or dialect.get("escape") else []
    if dialect.get("encoding") == "latin-1":
        hard = []  # (the HARD row is in latin-1 too, but keep this case about encoding)
    schema = {"dialect": dialect, "columns": COLUMNS}
    src = tmp_path / "in.csv"
    _input(src, dialect, ROWS, hard)
    out = tmp_path / "o.npy"
    fastetl.convert(src, out, schema=schema, workers=1)
    dest = tmp_path / "x.csv"
    export(out, dest, formula_escape=False, rows_per_batch=2)
    # Python's csv reads the export, in the dialect, to the values written
    text = dest.read_bytes().decode(dialect.get("encoding", "utf-8"))
    lines = text.split("\r\n", dialect.get("skip_rows", 0))[-1]
    got = list(csv.reader(io.StringIO(lines, newline=""), **{k: v for k, v in _fmt(dialect).items()
                                                           if k != "lineterminator"}))  # fmt: skip
    if dialect.get("header", True):
        assert got[0][: len(NAMES)] == NAMES
        got = got[1:]
    if dialect.get("trailing_delimiter"):
        assert all(r[-1] == "" for r in got)
        got = [r[:-1] for r in got]
    mark = dialect.get("decimal", ".")
    null = (dialect.get("null_values") or [""])[0]
    want = [[null if v is None else _cell(v, mark) for v in r] for r in ROWS + hard]
    for g, w in zip(got, want, strict=True):
        assert g[0] == w[0] and g[4:] == w[4:]  # ints and text exactly
        if w[1] == null:
            assert g[1] == null
        else:
            assert float(g[1].replace(mark, ".")) == float(w[1].replace(mark, "."))
        assert g[2] == w[2]  # decimals at their scale
    # ... and converting it again with the same schema gives the same bytes
    again = tmp_path / "again"
    again.mkdir()
    fastetl.convert(dest, again / "o.npy", schema=schema, workers=2, block_size=64)
    assert (again / "o.npy").read_bytes() == out.read_bytes()
    assert (again / "o.text.npy").read_bytes() == (tmp_path / "o.text.npy").read_bytes()


def _read_in(tmp_path: Path, text: str, kind: str, dialect: dict) -> fastetl.Table:
    """``text`` (a default-dialect CSV of columns i, s) converted, then opened with the
    schema's dialect changed to ``dialect`` (as if converted from another file)."""
    src = tmp_path / "in.csv"
    src.write_text(text, encoding="utf-8")
    out = tmp_path / "o.npy"
    s = {"name": "s", "type": kind, **({"width": 8} if kind == "str" else {})}
    fastetl.convert(src, out, schema={"columns": [{"name": "i", "type": "int64"}, s]})
    t = fastetl.open(out)
    t.schema = fastetl.Schema.from_dict({**t.schema.to_dict(), "dialect": dialect})
    return t


@pytest.mark.parametrize("kind", ["str", "text"])
def test_a_value_the_dialect_cannot_spell_is_a_one_line_error(tmp_path, kind):
    # no quote, no escape: a delimiter inside a value cannot be written (it could not
    # have been read from such a file: the records came from a file in another dialect)
    t = _read_in(tmp_path, 'i,s\n1,ok\n2,"a\tb"\n', kind, {"delimiter": "\t", "quote": None})
    dest = tmp_path / "x.csv"
    with pytest.raises(fastetl.OutputError, match=r"column 's', row 1: 'a\\tb' cannot be") as e:
        export(t, dest)
    assert "\n" not in str(e.value)
    assert not dest.exists()


def test_a_character_the_encoding_cannot_hold_is_a_one_line_error(tmp_path):
    t = _read_in(tmp_path, "i,s\n1,ok\n2,€uro\n", "str", {"encoding": "latin-1"})
    dest = tmp_path / "x.csv"
    want = r"line 3 of the CSV: '€' cannot be written in the schema's encoding latin-1"
    with pytest.raises(fastetl.OutputError, match=want):
        export(t, dest)
    assert not dest.exists()


@pytest.mark.parametrize("dialect", [{"quote": "'"}, {"quote": None, "delimiter": "'",
                                                      "escape": "\\"}])  # fmt: skip
def test_formula_mark_is_text_in_a_dialect_that_reads_it(tmp_path, dialect):
    # the neutralising ' is the quote (or the delimiter) of these dialects
    values = ["=1+1", "@x", "-cmd", "-12.5", "plain"]
    schema = {"dialect": dialect, "columns": [{"name": "s", "type": "str", "width": 9},
                                              {"name": "t", "type": "text"}]}  # fmt: skip
    src = tmp_path / "in.csv"
    buf = io.StringIO()
    w = csv.writer(buf, **_fmt(dialect))
    w.writerows([["s", "t"]] + [[v, v] for v in values])
    src.write_text(buf.getvalue(), encoding="utf-8")
    out = tmp_path / "o.npy"
    fastetl.convert(src, out, schema=schema, workers=1)
    dest = tmp_path / "x.csv"
    export(out, dest)  # formula_escape on
    opts = {k: v for k, v in _fmt(dialect).items() if k != "lineterminator"}
    got = list(csv.reader(io.StringIO(dest.read_text(encoding="utf-8"), newline=""), **opts))
    want = [v if v in ("-12.5", "plain") else "'" + v for v in values]
    assert got[1:] == [[v, v] for v in want]
