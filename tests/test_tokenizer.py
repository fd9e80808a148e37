"""CSV structure (docs/SEMANTICS.md "CSV structure"): RFC 4180 and the additions.

Every case states its expected records (or error line) by hand, runs through
the core at every block size, and is also checked against the reference
(Python's csv module, strict=True) so the two stay honest with each other.
"""

from __future__ import annotations

import numpy as np
import pytest
from reference import (
    BOM,
    RefBindError,
    RefError,
    compare_with_reference,
    core_error_all,
    core_parse_all,
    reference_outcome,
    reference_parse,
)

import fastetl
from fastetl import Schema


def schema(*cols, **dialect) -> Schema:
    """Columns as "name:type" ("s" = str width 20)."""
    out = []
    for c in cols:
        name, _, t = c.partition(":")
        t = t or "s"
        if t == "s":
            out.append({"name": name, "type": "str", "width": 20})
        else:
            out.append({"name": name, "type": t})
    return Schema.from_dict({"columns": out, "dialect": dialect})


S2 = schema("a", "b")  # two str columns
SI = schema("a:int32", "b:int32")


def rows_of(arr: np.ndarray) -> list[tuple]:
    out = []
    for rec in arr.tolist():
        out.append(tuple(v.decode("utf-8") if isinstance(v, bytes) else v for v in rec))
    return out


def parse(data: bytes, s: Schema = S2) -> list[tuple]:
    arr = core_parse_all(data, s)
    compare_with_reference(data, s)
    return rows_of(arr)


def error(data: bytes, s: Schema = S2) -> fastetl.ParseError:
    e = core_error_all(data, s)
    ref = reference_outcome(data, s)
    assert isinstance(ref.error, RefError), f"the reference accepts {data!r}"
    assert ref.error.line == e.line, f"reference says line {ref.error.line}: {ref.error}; core: {e}"
    return e


# -- quoting ------------------------------------------------------------------------------------


def test_quoted_delimiter():
    assert parse(b'a,b\n"x,y",z\n') == [("x,y", "z")]


@pytest.mark.parametrize("nl", [b"\n", b"\r\n", b"\r", b"\n\n", b"\r\r\n\n"])
def test_quoted_line_breaks_are_kept_verbatim(nl):
    data = b'a,b\n"l1' + nl + b'l2",z\n'
    assert parse(data) == [("l1" + nl.decode() + "l2", "z")]


def test_doubled_quote_is_one_quote():
    assert parse(b'a,b\n"say ""hi""",""""\n') == [('say "hi"', '"')]


def test_quoted_empty_and_only_specials():
    assert parse(b'a,b\n"",","\n"\r\n",""""""\n') == [("", ","), ("\r\n", '""')]


def test_quote_in_the_middle_of_an_unquoted_field_is_ordinary():
    assert parse(b'a,b\n5" tv,x"y""z\n') == [('5" tv', 'x"y""z')]


def test_spaces_around_quoted_field_belong_to_an_unquoted_field():
    # a quote opens quoting only as the very first character of a field
    assert parse(b'a,b\n "q",x\n') == [(' "q"', "x")]


@pytest.mark.parametrize(
    ("data", "line"),
    [
        (b'a,b\n"ab"c,x\n', 2),
        (b'a,b\n"ab" ,x\n', 2),
        (b'a,b\nx,"ab"c\n', 2),
        (b'a,b\n1,2\n"a\nb"c,x\n', 3),
        (b'a,b\n1,2\nx,"a\nb"\t\n', 3),
        (b'a,b\n1,2\n3,4\n""x,y\n', 4),
    ],
)
def test_text_after_closing_quote_is_an_error(data, line):
    e = error(data)
    assert e.line == line


@pytest.mark.parametrize(
    ("data", "line"),
    [
        (b'a,b\n1,"abc\n', 2),
        (b'a,b\n1,"abc', 2),
        (b'a,b\n1,2\n"', 3),
        (b'a,b\n1,2\n3,"x\n\n\n\n', 3),
        (b'a,b\n1,2\n3,"x""\n', 3),
        (b'a,b\r\n1,2\r\n3,"x\r\n', 3),
    ],
)
def test_unterminated_quote_at_end_of_file_is_an_error(data, line):
    e = error(data)
    assert e.line == line
    assert e.column in (None, "a", "b")


# -- line ends, BOM, blank lines, last line ------------------------------------------------


@pytest.mark.parametrize("eol", [b"\n", b"\r\n", b"\r"])
@pytest.mark.parametrize("final", [True, False])
def test_line_ends(eol, final):
    data = eol.join([b"a,b", b"1,2", b"3,4"]) + (eol if final else b"")
    assert parse(data, SI) == [(1, 2), (3, 4)]


def test_mixed_line_ends():
    data = b"a,b\r\n1,2\n3,4\r5,6\r\n7,8"
    assert parse(data, SI) == [(1, 2), (3, 4), (5, 6), (7, 8)]


def test_cr_then_lf_is_one_line_end():
    # CR LF is one line end, never a line end plus a blank line
    e = error(b"a,b\r\n1,2\r\n3,x\r\n", SI)
    assert e.line == 3


def test_bom_is_skipped():
    data = BOM + b"a,b\n1,2\n"
    assert parse(data, SI) == [(1, 2)]
    s = schema("a", "b", header=False)
    assert parse(BOM + b"x,y\n", s) == [("x", "y")]


def test_bom_only_at_start():
    # a BOM further on is data
    assert parse(b"a,b\n\xef\xbb\xbfx,y\n") == [("\ufeffx", "y")]


def test_blank_lines_are_skipped():
    data = b"\n\r\na,b\n\n1,2\r\n\r\n\r3,4\n\n\r\n"
    assert parse(data, SI) == [(1, 2), (3, 4)]


def test_whitespace_line_is_not_blank():
    e = error(b"a,b\n1,2\n \n3,4\n", SI)
    assert e.line == 3
    assert str(e) == "line 3: expected 2 fields, found 1"


def test_single_column_blank_lines_and_empty_fields():
    s = schema("a")
    # an unquoted empty field alone on its line is a blank line; a quoted one is a row
    assert parse(b'a\nx\n\n""\ny\n', s) == [("x",), ("",), ("y",)]


def test_no_final_newline_in_quoted_field():
    assert parse(b'a,b\n1,"x\ny"') == [("1", "x\ny")]


def test_file_ending_in_cr():
    assert parse(b"a,b\r1,2\r", SI) == [(1, 2)]


def test_last_field_empty_without_newline():
    assert parse(b"a,b\nx,") == [("x", "")]


@pytest.mark.parametrize(
    "data",
    [b"", b"\n", b"\r\n\r\n", BOM, BOM + b"\n", b"a,b", b"a,b\n", b"a,b\r\n\r\n", BOM + b"a,b\r"],
)
def test_no_data_rows(data):
    arr = core_parse_all(data, SI)
    assert len(arr) == 0
    assert arr.dtype == SI.dtype()


def test_header_false_empty_file():
    s = schema("a:int8", header=False)
    assert len(core_parse_all(b"", s)) == 0


# -- dialects ------------------------------------------------------------------------------


def test_quote_none():
    s = schema("a", "b", quote=None)
    assert parse(b'a,b\n"x",1\n"",""""\n', s) == [('"x"', "1"), ('""', '""""')]
    e = error(b'a,b\n"x,y",1\n', s)  # the quote does not protect the delimiter: 3 fields
    assert e.line == 2


@pytest.mark.parametrize(
    ("delim", "data", "expected"),
    [
        ("\t", b"a\tb\nx y\t1,5\n", [("x y", "1,5")]),
        (";", b'a;b\n1,5;"x;y"\n', [("1,5", "x;y")]),
        ("|", b'a|b\n"|"|,\n', [("|", ",")]),
        (";", b"a;b\n;\n", [("", "")]),
    ],
)
def test_other_delimiters(delim, data, expected):
    assert parse(data, schema("a", "b", delimiter=delim)) == expected


def test_tab_delimiter_keeps_spaces_in_str_and_trims_numbers():
    s = Schema.from_dict(
        {
            "dialect": {"delimiter": "\t"},
            "columns": [{"name": "a", "type": "int8"}, {"name": "b", "type": "str", "width": 5}],
        }
    )
    data = b'a\tb\n 7 \t x \n"\t8\t"\t"\ty"\n'
    assert parse(data, s) == [(7, " x "), (8, "\ty")]


def test_single_quote_as_quote_char():
    s = schema("a", "b", quote="'")
    assert parse(b"a,b\n'x,y','it''s'\n\"q\",1\n", s) == [("x,y", "it's"), ('"q"', "1")]


# -- field counts --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "msg"),
    [
        (b"a,b\n1,2\n3\n", "line 3: expected 2 fields, found 1"),
        (b"a,b\n1,2\n3,4,5\n", "line 3: expected 2 fields, found 3"),
        (b"a,b\n1,2,\n", "line 2: expected 2 fields, found 3"),
        (b'a,b\n1,2\n"x\ny",3,4\n', "line 3: expected 2 fields, found 3"),
        (b"a,b\r\n1,2\r\n\r\n\r\n3\r\n", "line 5: expected 2 fields, found 1"),
        (b"a,b\n1,2\n3", "line 3: expected 2 fields, found 1"),
    ],
)
def test_wrong_field_count(data, msg):
    e = error(data, SI)
    assert str(e) == msg
    assert e.column is None and e.value is None


def test_wrong_field_count_without_header():
    s = schema("a:int8", "b:int8", "c:int8", header=False)
    e = error(b"1,2,3\n4,5\n", s)
    assert str(e) == "line 2: expected 3 fields, found 2"
    assert e.row == 1


def test_header_sets_the_field_count():
    # the header names 3 fields (one skipped): every row needs 3
    s = Schema.from_dict(
        {
            "columns": [
                {"name": "a", "type": "int8"},
                {"name": "z", "type": "skip"},
                {"name": "b", "type": "int8"},
            ]
        }
    )
    assert parse(b"a,z,b\n1,,2\n", s) == [(1, 2)]
    e = error(b"a,z,b\n1,2\n", s)
    assert str(e) == "line 2: expected 3 fields, found 2"


# -- header binding ------------------------------------------------------------------------


def test_header_binds_by_name():
    s = Schema.from_dict(
        {"columns": [{"name": "a", "type": "int8"}, {"name": "b", "type": "str", "width": 3}]}
    )
    assert parse(b"b,a\nx,1\ny,2\n", s) == [(1, "x"), (2, "y")]
    assert core_parse_all(b"b,a\nx,1\n", s).dtype.names == ("a", "b")


def test_header_names_are_utf8_and_may_be_quoted():
    s = Schema.from_dict(
        {"columns": [{"name": "preço", "type": "int8"}, {"name": "a,b", "type": "int8"}]}
    )
    assert parse('"a,b",preço\n1,2\n'.encode(), s) == [(2, 1)]
    assert parse(BOM + 'preço,"a,b"\n1,2\n'.encode(), s) == [(1, 2)]


def _schema_error(data: bytes, s: Schema) -> fastetl.SchemaError:
    e = core_error_all(data, s, kind=fastetl.SchemaError)
    assert isinstance(reference_outcome(data, s).error, RefBindError)
    return e


def test_header_extra_column_suggests_skip():
    e = _schema_error(b"a,b,extra\n1,2,3\n", SI)
    assert "extra" in str(e) and "skip" in str(e)


def test_header_missing_column():
    e = _schema_error(b"a\n1\n", SI)
    assert "'b'" in str(e)


def test_header_duplicate_names():
    e = _schema_error(b"a,b,a\n1,2,3\n", SI)
    assert "'a'" in str(e)


def test_header_is_case_sensitive_and_not_trimmed():
    _schema_error(b"A,b\n1,2\n", SI)
    _schema_error(b"a ,b\n1,2\n", SI)


def test_header_false_is_positional():
    s = schema("a:int32", "b:int32", header=False)
    assert parse(b"b,a\n", schema("a", "b", header=False)) == [("b", "a")]
    assert parse(b"1,2\n3,4", s) == [(1, 2), (3, 4)]
    e = error(b"1,2\nb,a\n", s)
    assert (e.line, e.column) == (2, "a")


# -- big fields across blocks --------------------------------------------------------------


def test_big_quoted_field_with_line_breaks():
    big = ("x" * 997 + "\r\n" + '""' + "é" * 300 + "\n") * 5
    s = Schema.from_dict(
        {"columns": [{"name": "a", "type": "str", "width": 9000}, {"name": "b", "type": "int32"}]}
    )
    data = f'a,b\n"{big}",1\r\n"{big}",2\r"x",3\n'.encode()
    arr = core_parse_all(data, s)
    expected = big.replace('""', '"').encode()
    assert arr["a"].tolist() == [expected, expected, b"x"]
    assert arr["b"].tolist() == [1, 2, 3]
    compare_with_reference(data, s)
    bad = data + b'"' + big.encode() + b'",zz\n'
    e = core_error_all(bad, s)
    assert (e.line, e.column) == (5 + 3 * big.count("\n"), "b")
    compare_with_reference(bad, s)


# -- other encodings ------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["cp1252", "latin-1", "utf-16", "utf-8-sig"])
def test_other_encodings_are_transcoded(encoding):
    text = 'nome,preço\r\n"São Paulo, SP",12.50\r\n"Café\r\nda manhã",3\r\nÀçúcar,-0.5\r\n'
    s_utf8 = Schema.from_dict(
        {
            "columns": [
                {"name": "nome", "type": "str", "width": 20},
                {"name": "preço", "type": "decimal", "scale": 2},
            ]
        }
    )
    s_enc = Schema.from_dict({**s_utf8.to_dict(), "dialect": {"encoding": encoding}})
    expected = reference_parse(text.encode("utf-8"), s_utf8)
    assert rows_of(expected) == [
        ("São Paulo, SP", 1250),
        ("Café\r\nda manhã", 300),
        ("Àçúcar", -50),
    ]
    arr = core_parse_all(text.encode(encoding), s_enc)
    assert rows_of(arr) == rows_of(expected)
    bad = text + "Ñoño,abc\r\n"
    e = core_error_all(bad.encode(encoding), s_enc)
    assert (e.line, e.column, e.value, e.row) == (6, "preço", "abc", 3)
