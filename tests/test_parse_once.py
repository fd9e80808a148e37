"""read_csv without a schema parses an input once when inference's sample is all of it.

The sample check converts the sample's rows with the real converter; when those rows
are every row of the input (a small UTF-8 file), read_csv keeps that run's records
instead of parsing the input again.  The reference is the two-parse path it replaces:
``infer_schema`` then ``read_csv`` with that schema (what ``read_csv(path)`` did before),
compared value by value, with the same schema, meta and errors; and Python's ``csv``
module and ``int``/``float`` for what the rows hold.  No timing is asserted.
"""

from __future__ import annotations

import csv
import io
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastetl
from fastetl.errors import ParseError
from fastetl.infer import DEFAULT_INFER_ROWS, infer_schema


def _two_parses(src):
    """What read_csv(src) gave before: inference, then a read with its schema."""
    return fastetl.read_csv(src, infer_schema(src, infer_rows=DEFAULT_INFER_ROWS))


def _same(got, want) -> None:
    assert got.meta == want.meta
    assert got.schema == want.schema == fastetl.Schema.from_dict(want.meta["schema"])
    assert got.array.dtype == want.array.dtype
    assert len(got.array) == len(want.array)
    for name in want.meta["schema"]["columns"]:
        n = name["name"]
        if name["type"] == "skip":
            continue
        a, b = got[n], want[n]
        if isinstance(b, np.ndarray) and b.dtype.kind in "fmM":
            np.testing.assert_array_equal(a, b)  # (NaN equals NaN here, NaT NaT)
            assert a.dtype == b.dtype
        else:
            assert list(a) == list(b)


def _kept(src) -> bool:
    """Whether inference keeps its records of ``src`` (the one-parse path applies)."""
    keep: list = []
    infer_schema(src, infer_rows=DEFAULT_INFER_ROWS, _keep=keep)
    return bool(keep)


_words = st.text(alphabet='ab,"\n xé', min_size=0, max_size=6)
_cells = st.one_of(
    st.integers(-(2**63), 2**64 - 1).map(str),
    st.integers(-300, 300).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.dates().map(lambda d: d.isoformat()),
    st.sampled_from(["", "true", "false", "NA", "2023-02-30", "1e5", "0x10", "-0"]),
    _words,
)


@st.composite
def _tables(draw):
    ncols = draw(st.integers(1, 5))
    # a column's cells from one or two kinds: inference and its check widen
    kinds = [draw(st.lists(_cells, min_size=1, max_size=2)) for _ in range(ncols)]
    nrows = draw(st.integers(0, 30))
    rows = [[draw(st.sampled_from(kinds[j])) for j in range(ncols)] for _ in range(nrows)]
    names = [f"c{j}" for j in range(ncols)]
    return names, rows, draw(st.sampled_from(["\n", "\r\n"])), draw(st.booleans())


def _write(names, rows, end: str = "\n", bom: bool = False) -> bytes:
    out = io.StringIO()
    w = csv.writer(out, lineterminator=end)
    w.writerow(names)
    w.writerows(rows)
    return (b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode()


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(table=_tables())
def test_one_parse_equals_two(tmp_path, table):
    names, rows, end, bom = table
    data = _write(names, rows, end, bom)
    path = tmp_path / "t.csv"
    path.write_bytes(data)
    try:
        want = _two_parses(path)
    except (ParseError, fastetl.SchemaError) as e:  # the same error, the same words
        with pytest.raises(type(e)) as got:
            fastetl.read_csv(path)
        assert str(got.value) == str(e)
        return
    got = fastetl.read_csv(path)
    _same(got, want)
    _same(fastetl.read_csv(data), _two_parses(data))
    # the rows are csv's rows, and the path taken was the one-parse one
    text = data.decode("utf-8-sig")
    assert got.meta["rows"] == len(list(csv.reader(io.StringIO(text, newline="")))) - 1
    assert _kept(path)


def test_values_against_python(tmp_path):
    """The kept records hold the values Python reads from the text (not only the same
    as the two-parse path): ints by int(), floats by float(), text by csv."""
    rows = [[str(i * 37 - 500), repr(i / 7), f"w,{i}" if i % 3 else ""] for i in range(2000)]
    path = tmp_path / "v.csv"
    path.write_bytes(_write(["i", "x", "s"], rows))
    assert _kept(path)
    t = fastetl.read_csv(path)
    assert list(t["i"]) == [int(r[0]) for r in rows]
    assert all(float(r[1]) == v for r, v in zip(rows, t["x"], strict=True))
    s = ["" if v is None or (isinstance(v, float) and math.isnan(v)) else v for v in t["s"]]
    assert s == [r[2] for r in rows]


@pytest.mark.parametrize("extra", [0, 1, 2_500])
def test_just_over_the_sample(tmp_path, extra):
    """At the sample's row count the input is parsed once; with more rows, a small input
    is still parsed once when every row converts with the sample's schema (here the
    last row, which the sample's tail window holds, widened it): both right."""
    n = DEFAULT_INFER_ROWS + extra
    rows = [[str(i), str(i % 200 - 100), f"name {i}"] for i in range(n)]
    rows[-1][1] = "70000"  # past the sample's head: widened when the input is read again
    path = tmp_path / "n.csv"
    path.write_bytes(_write(["id", "v", "s"], rows))
    assert _kept(path)
    t = fastetl.read_csv(path)
    assert list(t["id"]) == [int(r[0]) for r in rows]
    assert list(t["v"]) == [int(r[1]) for r in rows]
    assert list(t["s"]) == [r[2] for r in rows]
    _same(t, _two_parses(path))


@pytest.mark.parametrize("bad", ["70000", "x", "1,2"])
def test_a_row_past_the_sample_that_does_not_fit_is_read_again(tmp_path, bad):
    """A small input with more rows than the sample, one of them unsampled (between the
    head and the middle window) and not fitting the sample's schema (a wider integer,
    text, a row with a field more): inference keeps no records, and read_csv reads the
    input again as before: widened, or the row's one-line error, as with two parses."""
    rows = [[str(i), str(i % 200 - 100), f"name {i}"] for i in range(12_500)]
    rows[5_600][1] = bad
    path = tmp_path / "p.csv"
    text = "id,v,s\n" + "".join(",".join(r) + "\n" for r in rows)  # (1,2: a field more)
    path.write_bytes(text.encode())
    if bad == "1,2":  # (inference's sample finds the row: the first 10,000 are split)
        with pytest.raises(ParseError) as e:
            fastetl.read_csv(path)
        assert "line 5602" in str(e.value)
        return
    assert not _kept(path)
    t = fastetl.read_csv(path)
    assert list(t["v"]) == [r[1] if bad == "x" else int(r[1]) for r in rows]
    assert t.meta["schema"]["inferred"]["widened"]


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(table=_tables(), cap=st.integers(1, 12))
def test_more_rows_than_the_sample_parsed_once_equals_two(tmp_path, table, cap):
    """``infer_rows`` below the row count: the input is parsed once when every row
    converts with the sample's schema, and the Table is the two-parse one; else it is
    read again (the reference then says what that read gives)."""
    names, rows, end, bom = table
    data = _write(names, rows, end, bom)
    path = tmp_path / "t.csv"
    path.write_bytes(data)
    try:
        want = fastetl.read_csv(path, infer_schema(path, infer_rows=cap))
    except (ParseError, fastetl.SchemaError):
        return  # (a row past the sample the given schema refuses: read_csv widens it)
    _same(fastetl.read_csv(path, infer_rows=cap), want)


def test_renamed_header_and_other_encodings_read_twice(tmp_path):
    """Inputs whose check differs from the read (renamed duplicate names, a non-UTF-8
    encoding) keep the two-parse path, and read what csv reads."""
    dup = tmp_path / "dup.csv"
    dup.write_bytes(b"a,a,b\n1,2,x\n3,4,y\n")
    assert not _kept(dup)
    t = fastetl.read_csv(dup)
    assert t.meta["header"] == ["a", "a", "b"]
    _same(t, _two_parses(dup))
    latin = tmp_path / "latin.csv"
    text = "nome,n\n" + "".join(f"José {i},{i}\n" for i in range(50))
    latin.write_bytes(text.encode("latin-1"))
    t = fastetl.read_csv(latin)
    assert list(t["nome"]) == [r[0] for r in list(csv.reader(io.StringIO(text)))[1:]]
    _same(t, _two_parses(latin))


def test_errors_and_policies_unchanged(tmp_path):
    """A malformed row: the same one-line error with or without the kept records; under
    skip the row is left out as before (that path parses twice)."""
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"a,b\n1,2\n3,4,5\n6,7\n")
    with pytest.raises(ParseError) as e1:
        fastetl.read_csv(bad)
    with pytest.raises(ParseError) as e2:
        infer_schema(bad, infer_rows=DEFAULT_INFER_ROWS)
    assert str(e1.value) == str(e2.value) and "line 3" in str(e1.value)
    t = fastetl.read_csv(bad, on_error="skip")
    assert list(t["a"]) == [1, 6] and t.meta["rows_skipped"] == 1


@pytest.mark.parametrize("side", [-1, 1])
def test_with_schema_either_side_of_the_small_input(tmp_path, side):
    """A read with its schema of at most SMALL_INPUT_BYTES goes into an ordinary array of
    its line count, a bigger one into a reservation: both hold what csv and int()/float()
    read, every row, and the result has exactly its rows."""
    from fastetl.api import SMALL_INPUT_BYTES

    rows, size, i = [], len("id,x,s\n"), 0
    while size < SMALL_INPUT_BYTES + side * 200:
        r = [str(i * 13 - 7), repr(i / 3), f'"q,{i}"' if i % 4 == 0 else f"s{i}"]
        line = ",".join(r) + "\n"
        if size + len(line) > SMALL_INPUT_BYTES + side * 200:
            break
        rows.append(r)
        size += len(line)
        i += 1
    data = ("id,x,s\n" + "".join(",".join(r) + "\n" for r in rows)).encode()
    assert (len(data) <= SMALL_INPUT_BYTES) == (side < 0)
    path = tmp_path / "s.csv"
    path.write_bytes(data)
    types = {"id": {"type": "int64"}, "x": {"type": "float64"}, "s": {"type": "str", "width": 12}}
    schema = {"dialect": {"header": True}, "columns": [{"name": n} | t for n, t in types.items()]}
    want = list(csv.reader(io.StringIO(data.decode())))[1:]
    for src in (path, data):
        t = fastetl.read_csv(src, schema)
        assert len(t.array) == len(want) == t.meta["rows"]
        assert list(t["id"]) == [int(r[0]) for r in want]
        assert list(t["x"]) == [float(r[1]) for r in want]
        assert list(t["s"]) == [r[2] for r in want]


def test_source_facts_from_the_read(tmp_path):
    """The one-parse path takes the source facts from the read that took the sample (the
    input is not opened again): they are what os.stat and os.path.realpath say of the
    file, and a buffer's length in bytes, as the two-parse path gives them."""
    import os

    data = _write(["a", "b"], [[str(i), f"x{i}"] for i in range(300)])
    path = tmp_path / "sub" / ".." / "f.csv"
    (tmp_path / "sub").mkdir()
    path.write_bytes(data)
    assert _kept(path)
    st_ = os.stat(path)
    got = fastetl.read_csv(path).meta["source"]
    assert got == {"path": os.path.realpath(path), "size": st_.st_size, "mtime": st_.st_mtime}
    assert got == _two_parses(path).meta["source"]
    for buf in (data, bytearray(data), memoryview(data)):
        assert fastetl.read_csv(buf).meta["source"] == {"path": "<bytes>", "size": len(data)}


@pytest.mark.parametrize("quoted", [False, True])  # True: one parse is not taken
@pytest.mark.parametrize("fmt", ["I", "H", "Q"])
def test_a_memoryview_of_wider_items_is_read_by_its_bytes(fmt, quoted):
    """A memoryview cast to items of 2, 4 or 8 bytes holds the same bytes as the data:
    every row read (review: its size was taken as the item count, and the two-parse
    path read a quarter of the rows with no error)."""
    head = '"a",b\n' if quoted else "a,b\n"
    text = head + "".join(f"{i},{i % 7}\n" for i in range(15_000))
    data = text.encode()
    data += b"\n" * (-len(data) % 8)  # (a whole number of items; blank lines end it)
    want = list(csv.reader(io.StringIO(text)))[1:]
    t = fastetl.read_csv(memoryview(data).cast(fmt))
    assert len(t) == len(want) == 15_000
    assert t.meta["source"]["size"] == len(data)
    assert t["a"].tolist() == [int(r[0]) for r in want]
    assert t["b"].tolist() == [int(r[1]) for r in want]


@pytest.mark.parametrize("end", ["\n", "\r\n"])
def test_more_rows_than_the_sample_header_line_as_written_or_not(tmp_path, end):
    """More rows than ``infer_rows`` (fewer than twice as many): every row is converted
    once with the sample's schema, parsing the input's own bytes where its header line
    is the one the check writes (``\\n``), else a copy under that line (``\\r\\n``): the
    values are Python's int() / float() / csv of the text either way, and the Table is
    the two-parse one."""
    rows = [[str(i * 3 - 900), f"{i / 8}", f"w{i % 7}"] for i in range(1_500)]
    data = _write(["a", "b", "c"], rows, end)
    path = tmp_path / "e.csv"
    path.write_bytes(data)
    keep: list = []
    infer_schema(path, infer_rows=1_000, _keep=keep)
    assert keep  # (the one-parse path)
    t = fastetl.read_csv(path, infer_rows=1_000)
    assert list(t["a"]) == [int(r[0]) for r in rows]
    assert list(t["b"]) == [float(r[1]) for r in rows]
    assert list(t["c"]) == [r[2] for r in list(csv.reader(io.StringIO(data.decode(), newline="")))[1:]]
    _same(t, fastetl.read_csv(path, infer_schema(path, infer_rows=1_000)))
