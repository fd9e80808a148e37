"""The row-structure options of the dialect (issue 17): escape, comment, skip_rows,
trailing_delimiter, skip_initial_space, ragged="fill" and lenient_quotes.

Each is read against an independent reference where one reads the same bytes: Python's
``csv`` module (escapechar, skipinitialspace) and pandas (comment), on random inputs,
through every thread count and tiny block sizes (the output must not depend on where
blocks are cut).  The CLI flags run through a real subprocess.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import fastetl
from fastetl import ParseError, SchemaError

RUNS = [(1, None), (1, 7), (3, 5), (4, 64)]  # (workers, block_size)
FIXTURE = HealthCheck.function_scoped_fixture  # (tmp_path is only a place for files)


def str_schema(ncols: int, dialect: dict, width: int = 64) -> fastetl.Schema:
    cols = [{"name": f"c{i}", "type": "str", "width": width} for i in range(ncols)]
    return fastetl.Schema.from_dict(
        {"dialect": {"header": False, "null_values": [], **dialect}, "columns": cols}
    )


def convert_all_ways(tmp_path, data: bytes, schema: fastetl.Schema) -> list[np.ndarray]:
    """The records of ``data`` from every (workers, block_size) in RUNS, from a file."""
    src = tmp_path / "in.csv"
    src.write_bytes(data)
    out = []
    for k, (workers, block) in enumerate(RUNS):
        dst = tmp_path / f"out{k}.npy"
        fastetl.convert(src, dst, schema, workers=workers, block_size=block)
        out.append(np.load(dst))
    return out


def as_rows(arr: np.ndarray) -> list[list[str]]:
    return [[v.decode("utf-8") for v in rec] for rec in arr.tolist()]


# -- escape and skip_initial_space against Python's csv ------------------------------------
PIECES = ["a", "b", " ", ",", '"', "\\", "\n", "\r\n", "x y", '""', "\\,", '\\"', "é"]


def csv_rows(text: str, **kw) -> list[list[str]] | None:
    """csv's reading of ``text`` (blank lines dropped, as fastetl skips them), or None when
    csv refuses it or its rows differ in length (fastetl's strict policy refuses those)."""
    try:
        rows = [r for r in csv.reader(io.StringIO(text, newline=""), strict=True, **kw) if r]
    except csv.Error:
        return None
    if not rows or len({len(r) for r in rows}) != 1:
        return None
    return rows


@settings(max_examples=60, deadline=None, suppress_health_check=[FIXTURE])
@given(pieces=st.lists(st.sampled_from(PIECES), min_size=1, max_size=30), space=st.booleans())
def test_escape_and_initial_space_read_as_csv_does(tmp_path, pieces, space):
    text = "".join(pieces)
    if not text.endswith("\n"):
        text += "\n"
    kw = {"escapechar": "\\", "skipinitialspace": space}
    want = csv_rows(text, **kw)
    assume(want is not None)
    # a lone CR in an unquoted field, or an escape as the last byte: readers differ there
    assume(all(len(v.encode()) <= 64 for r in want for v in r))
    schema = str_schema(len(want[0]), {"escape": "\\", "skip_initial_space": space})
    try:
        results = convert_all_ways(tmp_path, text.encode(), schema)
    except ParseError as e:  # pragma: no cover - a disagreement, shown with its input
        raise AssertionError(f"csv reads {text!r} as {want!r}; fastetl refused: {e}") from None
    for arr in results:
        assert as_rows(arr) == want, text


def test_escape_cases_by_hand(tmp_path):
    text = 'a\\,b,"q\\"uote",c\\\\d\n"line\\\nbreak",\\"x,"dq "" ok"\n'
    want = csv_rows(text, escapechar="\\")
    assert want == [["a,b", 'q"uote', "c\\d"], ["line\nbreak", '"x', 'dq " ok']]
    for arr in convert_all_ways(tmp_path, text.encode(), str_schema(3, {"escape": "\\"})):
        assert as_rows(arr) == want


def test_initial_space_by_hand(tmp_path):
    text = 'a, "b, c",  d\n"e",f, "g"\n'
    want = csv_rows(text, skipinitialspace=True)
    assert want == [["a", "b, c", "d"], ["e", "f", "g"]]
    schema = str_schema(3, {"skip_initial_space": True})
    for arr in convert_all_ways(tmp_path, text.encode(), schema):
        assert as_rows(arr) == want


# -- comments against pandas ----------------------------------------------------------------
@settings(max_examples=40, deadline=None, suppress_health_check=[FIXTURE])
@given(
    rows=st.lists(
        st.tuples(
            st.lists(st.integers(-999, 999), min_size=3, max_size=3),
            st.sampled_from(["", " # note", "# x, y", "  #", None]),
        ),
        min_size=1,
        max_size=25,
    )
)
def test_comments_read_as_pandas_does(tmp_path, rows):
    lines = []
    for values, tail in rows:
        if tail is None:
            lines.append("# a whole comment line, with, commas")
        else:
            lines.append(",".join(map(str, values)) + tail)
    text = "a,b,c\n" + "\n".join(lines) + "\n"
    want = pd.read_csv(io.StringIO(text), comment="#", dtype="int64")
    assume(len(want))
    cols = [{"name": n, "type": "int64"} for n in "abc"]
    schema = fastetl.Schema.from_dict({"dialect": {"comment": "#"}, "columns": cols})
    src = tmp_path / "c.csv"
    src.write_text(text)
    for k, (workers, block) in enumerate(RUNS):
        dst = tmp_path / f"c{k}.npy"
        fastetl.convert(src, dst, schema, workers=workers, block_size=block)
        got = np.load(dst)
        for n in "abc":
            assert got[n].tolist() == want[n].tolist(), (text, workers, block)


def test_comment_mark_inside_quotes_is_text(tmp_path):
    # (pandas appends text after a closing quote, so the comment ends an unquoted field)
    text = 'id,t\n1,"x # y"\n# skipped\n2,z# gone\n'
    want = pd.read_csv(io.StringIO(text), comment="#", dtype=str)
    assert want["t"].tolist() == ["x # y", "z"]
    schema = fastetl.Schema.from_dict(
        {
            "dialect": {"comment": "#"},
            "columns": [{"name": "id", "type": "int8"}, {"name": "t", "type": "str", "width": 8}],
        }
    )
    src = tmp_path / "q.csv"
    src.write_text(text)
    table = fastetl.read_csv(src, schema, workers=2, block_size=3)
    assert list(table["t"]) == want["t"].tolist()


def test_blanks_before_a_comment_are_not_part_of_an_unquoted_field(tmp_path):
    # the decision documented in the README: "v  # note" reads "v", as a person means it
    src = tmp_path / "b.csv"
    src.write_text("k,v\n1,abc  # note\n2,d\t# tab\n")
    t = fastetl.read_csv(src, comment="#")
    assert list(t["v"]) == ["abc", "d"]


# -- skip_rows, trailing delimiter, ragged, lenient quotes ----------------------------------
def test_skip_rows_keeps_line_numbers_of_the_file(tmp_path):
    src = tmp_path / "s.csv"
    src.write_text("title\nsubtitle, with a comma\nid,v\n1,2\nx,3\n")
    schema = {"columns": [{"name": "id", "type": "int8"}, {"name": "v", "type": "int8"}]}
    for workers, block in RUNS:
        with pytest.raises(ParseError, match=r"line 5, column \"id\": 'x' is not a valid int8"):
            fastetl.read_csv(src, schema, skip_rows=2, workers=workers, block_size=block)


def test_skip_rows_given_is_never_sniffed_over(tmp_path):
    src = tmp_path / "p.csv"
    src.write_text("Report\nid,v\n1,2\n3,4\n")
    assert fastetl.infer_schema(src).dialect.skip_rows == 1  # detected
    with pytest.raises(ParseError, match="line 2: expected 1 fields, found 2"):
        fastetl.infer_schema(src, skip_rows=0)  # given: the title is the header
    schema = fastetl.infer_schema(src, skip_rows=2, header=False)
    assert schema.dialect.skip_rows == 2 and len(schema.columns) == 2
    assert "skip_rows" not in schema.inferred["sniffed"]


def test_trailing_delimiter_text_after_it_is_an_error(tmp_path):
    src = tmp_path / "t.csv"
    src.write_text("a,b\n1,2,\n3,4,x\n")
    schema = {
        "dialect": {"trailing_delimiter": True},
        "columns": [{"name": "a", "type": "int8"}, {"name": "b", "type": "int8"}],
    }
    with pytest.raises(ParseError, match=r"line 3: unexpected text 'x' after the trailing delim"):
        fastetl.read_csv(src, schema)
    t = fastetl.read_csv(src, schema, on_error="skip")
    assert list(t["a"]) == [1] and list(t["b"]) == [2]


def test_ragged_fill_nulls_and_the_error_where_a_column_takes_none(tmp_path):
    src = tmp_path / "r.csv"
    src.write_text("a,b,c\n1,2,3\n4\n5,6\n")
    schema = {
        "dialect": {"ragged": "fill"},
        "columns": [
            {"name": "a", "type": "int8"},
            {"name": "b", "type": "int8", "nullable": True},
            {"name": "c", "type": "float64", "nullable": True},
        ],
    }
    for workers, block in RUNS:
        t = fastetl.read_csv(src, schema, workers=workers, block_size=block)
        want = pd.read_csv(src)  # pandas fills short rows with NaN
        assert np.asarray(t["a"]).tolist() == want["a"].tolist()
        assert np.ma.filled(t["b"].astype(float), np.nan).tolist() == pytest.approx(
            want["b"].tolist(), nan_ok=True
        )
        assert np.asarray(t["c"]).tolist() == pytest.approx(want["c"].tolist(), nan_ok=True)
    strict = dict(schema, columns=[dict(c, nullable=False) for c in schema["columns"]])
    with pytest.raises(ParseError, match=r'line 3, column "b": .*is missing: the row is short'):
        fastetl.read_csv(src, strict)
    with pytest.raises(ParseError, match="line 3: expected 3 fields, found 1"):
        fastetl.read_csv(src, dict(schema, dialect={}))


def test_lenient_quotes_keep_the_text_as_written(tmp_path):
    src = tmp_path / "l.csv"
    src.write_text('id,t\n1,"a "b" c"\n2,"d ""e"" f"\n3,"g",\n')
    schema = {
        "dialect": {"lenient_quotes": True, "ragged": "fill"},
        "columns": [{"name": "id", "type": "int8"}, {"name": "t", "type": "str", "width": 12}],
    }
    with pytest.raises(ParseError, match="after a closing quote"):
        fastetl.read_csv(src, dict(schema, dialect={}))
    with pytest.raises(ParseError, match="line 4: expected 2 fields, found 3"):
        fastetl.read_csv(src, schema)
    src.write_text('id,t\n1,"a "b" c"\n2,"d ""e"" f"\n')
    for workers, block in RUNS:
        t = fastetl.read_csv(src, schema, workers=workers, block_size=block)
        assert list(t["t"]) == ['a "b" c', 'd "e" f']


# -- the options object -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "bad, message",
    [
        ({"escape": ","}, "escape and delimiter must differ"),
        ({"comment": '"'}, "comment and quote must differ"),
        ({"comment": "#", "escape": "#"}, "comment and escape must differ"),
        ({"escape": "ab"}, "escape must be one ASCII character"),
        ({"comment": " "}, "cannot be a space"),
        ({"skip_rows": -1}, "skip_rows must be a whole number"),
        ({"skip_rows": True}, "skip_rows must be a whole number"),
        ({"ragged": "pad"}, 'ragged must be "strict" or "fill"'),
        ({"lenient_quotes": 1}, "lenient_quotes must be true or false"),
        ({"quote": None, "lenient_quotes": True}, "lenient_quotes needs a quote"),
    ],
)
def test_dialect_refuses_bad_options(bad, message):
    with pytest.raises(SchemaError, match=message):
        fastetl.Dialect(**bad)
    with pytest.raises(SchemaError, match=message):
        fastetl.Dialect.from_dict(bad)


def test_dialect_round_trips_through_json():
    d = fastetl.Dialect(
        escape="\\", comment="#", skip_rows=3, trailing_delimiter=True,
        skip_initial_space=True, ragged="fill", lenient_quotes=True,
    )  # fmt: skip
    back = fastetl.Dialect.from_dict(json.loads(json.dumps(d.to_dict())))
    assert back == d
    assert "escape" not in fastetl.Dialect().to_dict()  # defaults stay out of old files


# -- the command line -------------------------------------------------------------------------
def fastetl_cli(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "fastetl", *args], cwd=cwd, capture_output=True, text=True
    )


def test_cli_flags_reach_the_dialect(tmp_path):
    (tmp_path / "in.csv").write_text(
        "junk line\nid;t;x\n1;a\\;b;2.5;\n2;'q;r';;\n# note\n3;c\n"
    )
    flags = [
        "--delimiter", ";", "--quote", "'", "--escape", "\\", "--comment", "#",
        "--skip-rows", "1", "--ragged", "fill", "--trailing-delimiter", "--null-values", ",NA",
    ]  # fmt: skip
    r = fastetl_cli("infer", "in.csv", *flags, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)["dialect"]
    assert d == {
        "delimiter": ";", "quote": "'", "header": True, "encoding": "utf-8",
        "null_values": ["", "NA"], "escape": "\\", "comment": "#", "skip_rows": 1,
        "trailing_delimiter": True, "ragged": "fill",
    }  # fmt: skip
    r = fastetl_cli("convert", "in.csv", "out.npy", *flags, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    table = fastetl.open(tmp_path / "out.npy")
    assert list(table["t"]) == ["a;b", "q;r", "c"]
    x = np.ma.filled(table["x"], np.nan).tolist()
    assert x == pytest.approx([2.5, np.nan, np.nan], nan_ok=True)
    side = json.loads((tmp_path / "out.npy.json").read_text())
    assert side["schema"]["dialect"]["escape"] == "\\"


def test_cli_flags_refuse_bad_values(tmp_path):
    (tmp_path / "in.csv").write_text("a\n1\n")
    r = fastetl_cli("infer", "in.csv", "--skip-rows", "-2", cwd=tmp_path)
    assert r.returncode == 2 and "not a whole number" in r.stderr
    r = fastetl_cli("infer", "in.csv", "--ragged", "pad", cwd=tmp_path)
    assert r.returncode == 2
    r = fastetl_cli("infer", "in.csv", "--escape", ",", cwd=tmp_path)
    assert r.returncode != 0 and "escape and delimiter must differ" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_cli_skip_initial_space_and_lenient_quotes(tmp_path):
    (tmp_path / "in.csv").write_text('a, b\n1, "x "y" z"\n')
    r = fastetl_cli(
        "convert", "in.csv", "o.npy", "--skip-initial-space", "--lenient-quotes", cwd=tmp_path
    )
    assert r.returncode == 0, r.stderr
    t = fastetl.open(tmp_path / "o.npy")
    assert list(t["b"]) == ['x "y" z']  # (the header's " b" is "b": the space skipped)


# -- detection: only on strong evidence ---------------------------------------------------
def test_detection_combines_preamble_comments_and_escapes(tmp_path):
    src = tmp_path / "all.csv"
    src.write_bytes(b'Report title\n# c\nid,t\n1,"a\\"b" # x\n# mid "quote\n2,c\\\nd\n3,e\n')
    schema = fastetl.infer_schema(src)
    d = schema.dialect
    assert (d.skip_rows, d.comment, d.escape) == (1, "#", "\\")
    assert sorted(schema.inferred["detected"]) == ["comment", "escape", "skip_rows"]
    for workers, block in RUNS:
        t = fastetl.read_csv(src, schema, workers=workers, block_size=block)
        assert list(t["id"]) == [1, 2, 3]
        assert list(t["t"]) == ['a"b', "c\nd", "e"]


@pytest.mark.parametrize(
    "text",
    [
        "lang,year\nC#,2000\nF#,2005\n",  # a mark after text is a value, not a comment
        "# not a comment: the rows are consistent\nid\n1\n",
        "path,n\nC:\\temp\\x,1\nD:\\y,2\n",  # backslashes in a consistent file are text
        'a, b\n1, "x"\n',  # a quote after a space, consistent without skipping it
        "id,v\n1,2\n3,4,\n",  # one trailing delimiter is a ragged row, not a dialect
    ],
)
def test_no_detection_without_evidence(tmp_path, text):
    src = tmp_path / "n.csv"
    src.write_text(text)
    try:
        schema = fastetl.infer_schema(src)
    except ParseError:
        return  # refused, as a careful reader would ask: nothing changed silently
    assert "detected" not in schema.inferred
    want = list(csv.reader(io.StringIO(text)))
    t = fastetl.read_csv(src, schema)
    names = [c.name for c in schema.columns]
    rows = want[1:] if schema.dialect.header else want
    got = [[str(t[n][i]) for n in names] for i in range(len(t))]
    assert got == rows


# -- the same output, or the same error, whatever the threads and blocks ----------------------
MIXED = ["a", " ", ",", '"', "\\", "#", "\n", "\r\n", "\r", "b c", '""', "\\\n", "# n\n"]


@settings(max_examples=60, deadline=None, suppress_health_check=[FIXTURE])
@given(
    pieces=st.lists(st.sampled_from(MIXED), min_size=1, max_size=40),
    options=st.fixed_dictionaries(
        {
            "escape": st.sampled_from([None, "\\"]),
            "comment": st.sampled_from([None, "#"]),
            "skip_initial_space": st.booleans(),
            "lenient_quotes": st.booleans(),
            "ragged": st.sampled_from(["strict", "fill"]),
        }
    ),
)
def test_every_dialect_cuts_exactly(tmp_path, pieces, options):
    """Escapes and comments move row ends: the one-thread, one-block reading is the
    reference every other thread count and block size must give, byte for byte, or
    the same error."""
    text = "x,y\n" + "".join(pieces) + "\n"
    cols = [{"name": n, "type": "str", "width": 64, "nullable": True} for n in "xy"]
    schema = fastetl.Schema.from_dict({"dialect": options, "columns": cols})
    src = tmp_path / "m.csv"
    src.write_text(text, newline="")
    outcomes = []
    for k, (workers, block) in enumerate(RUNS):
        dst = tmp_path / f"m{k}.npy"
        try:
            fastetl.convert(src, dst, schema, workers=workers, block_size=block)
            outcomes.append(np.load(dst).tobytes())
        except ParseError as e:
            outcomes.append((e.line, e.column, e.reason))
    assert all(o == outcomes[0] for o in outcomes), (text, options, outcomes)


def test_errors_show_the_value_not_its_escapes(tmp_path):
    src = tmp_path / "e.csv"
    src.write_bytes(b'a,b\n1,"x\\"y"\nz\\,w,2\n')
    schema = {
        "dialect": {"escape": "\\"},
        "columns": [{"name": "a", "type": "int8"}, {"name": "b", "type": "str", "width": 4}],
    }
    want = next(r for i, r in enumerate(csv.reader(src.open(), escapechar="\\")) if i == 2)
    with pytest.raises(ParseError, match=r"""line 3, column "a": 'z,w' is not a valid int8"""):
        fastetl.read_csv(src, schema)
    assert want[0] == "z,w"


def test_inference_checks_names_holding_the_marks(tmp_path):
    # the sample is checked by converting it with a header rebuilt from the names: a name
    # holding the comment mark or the escape must be quoted (and escaped) there
    src = tmp_path / "h.csv"
    src.write_bytes(b'"x #1","p\\\\q",z\n1,2,3 # c\n# l\n4,5,6\n')
    schema = fastetl.infer_schema(src, escape="\\")
    assert schema.dialect.comment == "#"
    header = next(csv.reader(src.open(), escapechar="\\"))
    assert [c.name for c in schema.columns] == header == ["x #1", "p\\q", "z"]
    assert fastetl.read_csv(src, schema).array.tolist() == [(1, 2, 3), (4, 5, 6)]


@pytest.mark.parametrize(
    "row, message",
    [
        ("1,2", "expected 3 fields and a trailing delimiter, found 2"),
        ("1,2,3", "expected 3 fields and a trailing delimiter, found 3 and no trailing delim"),
        ("1,2,3,4,", "expected 3 fields and a trailing delimiter, found 4 and a trailing delim"),
    ],
)
def test_trailing_delimiter_field_count_errors(tmp_path, row, message):
    src = tmp_path / "t.csv"
    src.write_text(f"a,b,c\n1,2,3,\n{row}\n")
    schema = {"columns": [{"name": n, "type": "int8"} for n in "abc"]}
    with pytest.raises(ParseError, match=f"line 3: {message}"):
        fastetl.read_csv(src, schema, trailing_delimiter=True)
