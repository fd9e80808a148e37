"""ParseError: its place in the hierarchy, its attributes, and the exact message
``line N, column "name": 'value' is not a valid int64`` with N the physical line
where the offending field starts, whatever the line ends, BOM, blank lines,
quoted line breaks or block size.
"""

from __future__ import annotations

import gc
import pickle
import sys

import pytest
from reference import BLOCK_SIZES, BOM, compare_with_reference, core_error_all, core_parse_all

import fastetl
from fastetl import Schema

S = Schema.from_dict(
    {"columns": [{"name": "id", "type": "str", "width": 8}, {"name": "x", "type": "int64"}]}
)
S_NOHEADER = S.replace(dialect=S.dialect.__class__(header=False))

MSG = 'line {line}, column "x": {value!r} is not a valid int64'

# (name, data, line, row, offset, value)
CASES = [
    ("lf", b"id,x\n1,1\n2,abc\n", 3, 1, 11, "abc"),
    ("crlf", b"id,x\r\n1,1\r\n2,abc\r\n", 3, 1, 13, "abc"),
    ("cr", b"id,x\r1,1\r2,abc\r", 3, 1, 11, "abc"),
    ("bom", BOM + b"id,x\n1,1\n2,abc\n", 3, 1, 14, "abc"),
    ("blank lines", b"id,x\n\n1,1\n\n\n2,abc\n", 6, 1, 14, "abc"),
    ("blank crlf lines", b"\r\nid,x\r\n\r\n1,1\r\n\r\n2,abc", 6, 1, 19, "abc"),
    ("after quoted lf", b'id,x\n"a\nb\nc",1\n"d",abc\n', 5, 1, 19, "abc"),
    ("after quoted crlf", b'id,x\r\n"a\r\nb",1\r\n"d",abc\r\n', 4, 1, 20, "abc"),
    ("after quoted cr", b'id,x\r"a\rb",1\r"d",abc\r', 4, 1, 17, "abc"),
    ("same row after quoted break", b'id,x\n1,1\n"a\r\nb",abc\n', 4, 1, 16, "abc"),
    ("quoted value", b'id,x\n1,1\n2,"abc"\n', 3, 1, 11, "abc"),
    ("value with a line break", b'id,x\n1,1\n2,"12\n34"\n', 3, 1, 11, "12\n34"),
    ("mixed line ends", b'id,x\r\n\r\n1,1\r\r\n2,"abc"\n', 5, 1, 16, "abc"),
    ("no final newline", b"id,x\n1,1\n2,abc", 3, 1, 11, "abc"),
    ("first row", b"id,x\n1,abc\n2,2\n", 2, 0, 7, "abc"),
    ("utf-8 before", "id,x\nçãé,1\nçã,1.5\n".encode(), 3, 1, 19, "1.5"),
]


@pytest.mark.parametrize(
    ("name", "data", "line", "row", "offset", "value"), CASES, ids=[c[0] for c in CASES]
)
def test_error_location_and_message(name, data, line, row, offset, value):
    e = core_error_all(data, S)
    assert str(e) == MSG.format(line=line, value=value)
    assert e.line == line
    assert e.column == "x"
    assert e.value == value
    assert e.reason == "is not a valid int64"
    assert e.row == row
    assert e.offset == offset
    assert e.args == (str(e),)
    compare_with_reference(data, S)  # the reference agrees on every number


def test_error_without_header():
    e = core_error_all(b"1,1\n2,abc\n", S_NOHEADER)
    assert str(e) == MSG.format(line=2, value="abc")
    assert (e.row, e.offset) == (1, 6)


def test_error_deep_in_a_big_file():
    n = 20_000
    lines = [b"id,x"] + [b"r%d,%d" % (i, i) for i in range(n)]
    lines[15_001] = b"bad,12x"  # data row 15000
    data = b"\r\n".join(lines) + b"\r\n"
    offset = sum(len(ln) + 2 for ln in lines[:15_001]) + 4
    e = core_error_all(data, S, block_sizes=(None, 3, 64, 4096, 65536))
    assert str(e) == MSG.format(line=15_002, value="12x")
    assert (e.row, e.offset) == (15_000, offset)


def test_first_error_wins():
    data = b"id,x\n1,1\n2,bad1\n3,bad2\n4,5,6\n"
    e = core_error_all(data, S)
    assert str(e) == MSG.format(line=3, value="bad1")
    # and the first error in a row is its leftmost one
    s2 = Schema.from_dict(
        {"columns": [{"name": "a", "type": "int8"}, {"name": "x", "type": "int64"}]}
    )
    e = core_error_all(b"a,x\n1,2\nq,r\n", s2)
    assert (e.line, e.column, e.value) == (3, "a", "q")


def test_empty_in_non_nullable_column():
    e = core_error_all(b"id,x\n1,\n", S)
    assert (e.line, e.column, e.row) == (2, "x", 0)
    assert e.reason == "is empty and the column is not nullable"
    assert str(e).startswith('line 2, column "x": ')
    assert str(e).endswith("is empty and the column is not nullable")


def test_structural_error_attributes():
    e = core_error_all(b"id,x\n1,1\n2\n", S)
    assert str(e) == "line 3: expected 2 fields, found 1"
    assert (e.line, e.column, e.value, e.row) == (3, None, None, 1)
    assert e.reason == "expected 2 fields, found 1"


def test_parse_error_hierarchy():
    e = core_error_all(b"id,x\n1,abc\n", S)
    assert type(e) is fastetl.ParseError
    assert isinstance(e, ValueError)
    assert isinstance(e, fastetl.FastETLError)
    assert issubclass(fastetl.ParseError, ValueError)
    assert issubclass(fastetl.SchemaError, ValueError)
    assert issubclass(fastetl.SchemaError, fastetl.FastETLError)
    with pytest.raises(ValueError):  # existing `except ValueError` blocks keep working
        fastetl.read_csv(b"id,x\n1,abc\n", S)


def test_parse_error_pickles_with_its_attributes():
    e = core_error_all(b"id,x\n1,1\n2,abc\n", S)
    e2 = pickle.loads(pickle.dumps(e))
    assert type(e2) is fastetl.ParseError
    assert str(e2) == str(e)
    for k in ("line", "column", "value", "reason", "offset", "row"):
        assert getattr(e2, k) == getattr(e, k), k


def test_errors_leak_no_references_and_release_buffers():
    data = b"id,x\n" + b"".join(b"%d,%d\n" % (i, i) for i in range(500)) + b"z,abc\n"
    buf = bytearray(data)
    gc.collect()
    before = (sys.getrefcount(data), sys.getrefcount(S), sys.getrefcount(buf))
    for bs in (None, 7, 4096):
        for _ in range(20):
            with pytest.raises(fastetl.ParseError):
                fastetl.read_csv(data, S, block_size=bs)
            with pytest.raises(fastetl.ParseError):
                fastetl.read_csv(buf, S, block_size=bs)
    gc.collect()
    after = (sys.getrefcount(data), sys.getrefcount(S), sys.getrefcount(buf))
    assert after == before
    buf.extend(b"1,1\n")  # would raise BufferError if a buffer export were still held


def test_parser_state_is_clean_after_an_error():
    cat = Schema.from_dict(
        {"columns": [{"name": "c", "type": "category"}, {"name": "x", "type": "int8"}]}
    )
    with pytest.raises(fastetl.ParseError):
        fastetl.read_csv(b"c,x\nzz,1\nyy,bad\n", cat)
    arr = core_parse_all(b"c,x\nb,1\na,2\n", cat)
    assert arr["c"].tolist() == [0, 1]  # no dictionary entries left over from the failed parse


@pytest.mark.parametrize("bs", [0, -1])
def test_bad_block_size(bs):
    with pytest.raises(ValueError):
        fastetl.read_csv(b"id,x\n1,1\n", S, block_size=bs)


def test_block_sizes_cover_tiny_and_default():
    assert None in BLOCK_SIZES and 1 in BLOCK_SIZES and max(b for b in BLOCK_SIZES if b) >= 4096
