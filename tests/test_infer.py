"""Schema inference (fastetl.infer, docs/INFERENCE.md): dialect sniffing, type rules,
sampling, the guaranteed mode, hints, and the hand-written files in tests/data/realworld/.

Every test writes real files (tmp_path) and runs the real converter; nothing is mocked.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import os
import random
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastetl
from fastetl import FastETLError, ParseError, SchemaError
from fastetl import infer as inf
from fastetl.infer import hint_for, infer_columns, infer_schema, sniff, sniff_dialect, unique_names

REALWORLD = Path(__file__).parent / "data" / "realworld"
EXPECTED = json.loads((REALWORLD / "expected.json").read_text(encoding="utf-8"))


# -- helpers --------------------------------------------------------------------
def write(path: Path, text: str | bytes, encoding: str = "utf-8") -> Path:
    path.write_bytes(text if isinstance(text, bytes) else text.encode(encoding))
    return path


def types(schema: fastetl.Schema) -> dict[str, str]:
    return {c.name: c.type for c in schema.columns}


def col(schema: fastetl.Schema, name: str) -> fastetl.Column:
    return next(c for c in schema.columns if c.name == name)


def decoded(path: Path, schema: fastetl.Schema, tmp_path: Path) -> fastetl.Table:
    out = tmp_path / (path.name + ".npy")
    fastetl.convert(path, out, schema)
    return fastetl.open(out)


def plain(table: fastetl.Table, name: str) -> list:
    """A column as plain Python values (None for nulls, str for dates, Decimal)."""
    c = table._column(name)
    if c.type == "decimal":
        return [None if v is None else v for v in table.decimal(name).tolist()]
    values = table[name]
    out = []
    for i in range(len(values)):
        v = values[i]
        if v is np.ma.masked or v is None:
            out.append(None)
        elif isinstance(v, np.datetime64):
            out.append(None if np.isnat(v) else str(v))
        elif isinstance(v, (float, np.floating)) and math.isnan(v):
            out.append(None)
        elif isinstance(v, np.generic):
            out.append(v.item())
        else:
            out.append(v)
    return out


def infer_and_read(data: str | bytes, **kw) -> tuple[fastetl.Schema, fastetl.Table]:
    raw = data.encode() if isinstance(data, str) else data
    schema = infer_schema(raw, **kw)
    return schema, fastetl.read_csv(raw, schema)


# == dialects =====================================================================
@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
@pytest.mark.parametrize("quote", ['"', "'"])
@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_every_delimiter_quote_and_line_end(tmp_path, delimiter, quote, newline):
    rows = [["id", "name", "price", "day"]]
    for i in range(30):
        name = f"{quote}n{i}{delimiter} x{quote}" if i % 3 == 0 else f"n{i}"
        rows.append([str(i * 7), name, f"{i}.{i % 10}5", f"2024-01-{i % 28 + 1:02d}"])
    text = newline.join(delimiter.join(r) for r in rows) + newline
    path = write(tmp_path / "d.csv", text)
    schema = infer_schema(path)
    d = schema.dialect
    assert (d.delimiter, d.quote, d.header) == (delimiter, quote, True)
    assert types(schema) == {"id": "int16", "name": "str", "price": "float64", "day": "date"}
    arr = fastetl.read_csv(path, schema)
    assert len(arr) == 30
    assert arr["name"][0] == f"n0{delimiter} x"
    assert arr["price"].tolist() == [float(r[2]) for r in rows[1:]]
    assert sniff(path.read_bytes()).line_terminator == newline


def test_no_quoting_when_quotes_would_break_rows(tmp_path):
    text = 'id,size\n1,"big" box\n2,5" tv\n3,"small" one\n'
    schema, arr = infer_and_read(text)
    assert schema.dialect.quote is None
    assert arr["size"].tolist() == ['"big" box', '5" tv', '"small" one']


def test_quoted_delimiters_and_newlines(tmp_path):
    text = 'id,text\n1,"a,b"\n2,"line one\nline two"\n3,"say ""hi"""\n'
    schema, arr = infer_and_read(text)
    assert schema.dialect.quote == '"'
    assert arr["text"].tolist() == ["a,b", "line one\nline two", 'say "hi"']


@pytest.mark.parametrize(
    "encoding,expected",
    [
        ("utf-8", "utf-8"),
        ("utf-8-sig", "utf-8-sig"),
        ("utf-16", "utf-16"),  # BOM in the machine's order (little-endian)
        ("utf-16-be-bom", "utf-16"),
        ("cp1252", "cp1252"),
        ("latin-1", "latin-1"),
    ],
)
def test_encodings(tmp_path, encoding, expected):
    euro = "€" if encoding != "latin-1" else "¤"  # latin-1 has no euro sign
    text = f"produit;prix;note\ncafé;2,50 {euro};très bon\nthé;3,10 {euro};« doux »\nnaïve;1;ok\n"
    if encoding == "utf-16-be-bom":
        data = b"\xfe\xff" + text.encode("utf-16-be")
    else:
        data = text.encode(encoding)
    path = write(tmp_path / "e.csv", data)
    schema = infer_schema(path)
    assert schema.dialect.encoding == expected
    assert schema.dialect.delimiter == ";"
    arr = fastetl.read_csv(path, schema)
    assert arr["produit"].tolist() == ["café", "thé", "naïve"]
    assert arr["prix"][0] == f"2,50 {euro}"


def test_utf16_le_and_be_without_bom_are_recognised(tmp_path):
    text = "a,b\n1,x\n2,y\n"
    assert inf.detect_encoding(text.encode("utf-16-le")) == ("utf-16-le", 0)
    assert inf.detect_encoding(text.encode("utf-16-be")) == ("utf-16-be", 0)


def test_cp1252_preferred_only_with_its_c1_bytes():
    # 0x80 (euro) is defined in cp1252; 0xE9 alone reads the same in both: latin-1
    assert inf.detect_encoding("€ é".encode("cp1252"), head_is_all=True)[0] == "cp1252"
    assert inf.detect_encoding("é".encode("latin-1"), head_is_all=True)[0] == "latin-1"
    # 0x81 is undefined in cp1252: latin-1 decodes every byte
    assert inf.detect_encoding(b"a\x81b\x80", head_is_all=True)[0] == "latin-1"
    # a UTF-8 character cut by the end of the sample is still UTF-8
    assert inf.detect_encoding("aé".encode()[:-1], head_is_all=False)[0] == "utf-8"


def test_the_windows_are_judged_from_their_first_line_break():
    """The middle and tail windows start at an arbitrary byte: what comes before their
    first line break (here half of a UTF-8 character, or cp1252 bytes) is not judged;
    cp1252 bytes after it are, in either window (the check reads views of the windows;
    the copies the other encodings decode are made only then)."""
    head = "id,name\n1,ana\n".encode()
    cut = "é".encode()[1:]  # the second byte of a UTF-8 character: not UTF-8 alone
    clean = cut + b"\n2,bob\n"
    accented = "3,josé €\n".encode("cp1252")
    assert clean[1:].decode("utf-8") and not inf._decodes(clean, "utf-8", True)
    assert not inf._decodes(accented, "utf-8", True) and accented.decode("cp1252")
    for middle, tail, want in [
        (clean, clean, "utf-8"),
        (clean + accented, clean, "cp1252"),
        (clean, clean + accented, "cp1252"),
        (b"no line break, cut \xc3", clean, "utf-8"),  # nothing of it judged
    ]:
        assert inf.detect_encoding(head, middle, tail)[0] == want, (middle, tail)
        # bytes-like windows as they come (bytearray) are judged the same
        assert inf.detect_encoding(head, bytearray(middle), bytearray(tail))[0] == want


def test_the_sample_check_reads_every_row_past_its_first_window():
    """The sample's check parses into a window of _CHECK_WINDOW_BYTES, again and again:
    a value that does not fit, in a row past the first window, is still found, at its
    line; and the schema inferred from that sample takes it."""
    ncols = 100
    names = [f"c{j}" for j in range(ncols)]
    dtype_rows = inf._CHECK_WINDOW_BYTES // ncols  # rows of one window of int8 records
    nrows = 3 * dtype_rows + 7
    bad_row = 2 * dtype_rows + 5  # in the third window
    lines = [",".join(names)]
    for i in range(nrows):
        values = ["300" if (i == bad_row and j == 41) else str(j % 100) for j in range(ncols)]
        lines.append(",".join(values))
    data = ("\n".join(lines) + "\n").encode()
    schema = fastetl.Schema(
        columns=tuple(fastetl.Column(n, "int8") for n in names),
        dialect=fastetl.Dialect(header=True),
    )
    with pytest.raises(fastetl.ParseError) as e:
        inf._check_sample(data, True, nrows)(schema)
    assert (e.value.line, e.value.column, e.value.value) == (bad_row + 2, "c41", "300")
    inferred = fastetl.infer_schema(data, infer_rows=nrows)
    assert inferred.columns[41].type == "int16"
    assert list(fastetl.read_csv(data, inferred)["c41"]) == [
        int(row[41]) for row in list(csv.reader(io.StringIO(data.decode())))[1:]
    ]


def test_bom_file_and_sniff_dialect():
    data = "x,y\r\n1,2\r\n".encode("utf-8-sig")
    s = sniff(data)
    assert (s.encoding, s.bom, s.line_terminator) == ("utf-8-sig", True, "\r\n")
    d = sniff_dialect(data)
    assert isinstance(d, fastetl.Dialect) and d.delimiter == "," and d.header is True


# -- ambiguity: predictable, documented choices -------------------------------------
def test_single_column_file_uses_the_comma():
    schema, arr = infer_and_read("value\n1\n2\n3\n")
    assert schema.dialect.delimiter == "," and types(schema) == {"value": "int8"}


def test_delimiter_tie_prefers_typed_fields_then_comma_tab_semicolon_pipe():
    # both ',' and ';' split every row in two: the one leaving numbers wins
    assert sniff(b"name;score\nSmith, J;5\nDoe, A;7\n").delimiter == ";"
    # nothing to tell them apart: the preference order decides
    assert sniff(b"a,b;c\nd,e;f\n").delimiter == ","
    assert sniff(b"a|b;c\nd|e;f\n").delimiter == ";"


def test_quote_choice_without_evidence_is_double_quote():
    assert sniff(b"a,b\n1,2\n").quote == '"'
    assert sniff(b"a,b\n'x',2\n'y',3\n").quote == "'"


def test_header_detection():
    assert sniff(b"id,price\n1,2.5\n2,3.5\n").header is True
    assert sniff(b"1,2.5\n2,3.5\n").header is False
    assert sniff(b"name,city\nAnn,Rome\nBob,Oslo\n").header is True  # all text: a header
    assert sniff(b"2019,2020\n1.5,2.5\n3.5,4.5\n").header is False  # numbers over numbers
    assert sniff(b"a,b,c\n").header is True  # one row of names: a header-only file
    assert sniff(b"1,2,3\n").header is False  # one row of numbers: data


def test_a_quoted_one_column_reading_beats_a_split_that_leaves_quotes():
    # issue 17: split on the delimiter, every value keeps a quote ('"Dec 8', ' 2022"');
    # read with quotes, every row is one field
    for text, want in (
        # and the month-name dates are dates (strptime is the reference)
        (
            'day\n"Dec 8, 2022"\n"Nov 1, 2021"\n"Jan 3, 2020"\n',
            np.datetime64(dt.datetime.strptime("Dec 8, 2022", "%b %d, %Y").date()),
        ),
        ('tags\n"value1;value2;value3"\n"a;b"\n"c;d;e"\n', "value1;value2;value3"),
    ):
        s = sniff(text.encode())
        assert (s.delimiter, s.quote, s.header) == (",", '"', True), text
        schema, arr = infer_and_read(text)
        assert len(schema.columns) == 1 and arr[schema.columns[0].name][0] == want
    # more columns still win when they split consistently without leaving quotes
    assert sniff(b'a;b\n"x";1\n"y";2\n').delimiter == ";"


def test_a_quote_must_open_and_close_fields_on_each_row():
    # with ' as the quote, 'Til ... Rockin' reads two rows as one field: ' reads fewer rows
    text = "id,title,year\n1,'Til I Die,1991\n2,Keep On Rockin',1985\n3,Blue,1990\n"
    assert sniff(text.encode()).quote == '"'
    schema, arr = infer_and_read(text)
    assert arr["title"].tolist() == ["'Til I Die", "Keep On Rockin'", "Blue"]


def test_one_broken_row_does_not_turn_quoting_off():
    # 60 rows quoted with '"' and one whose quoting is broken: still '"' (the broken row
    # is then an error, or a bad row for skip/reject), not a split of every quoted name
    rows = ["id,name,score"] + [f'{i},"Name {i}, Jr.",{i}.5' for i in range(60)]
    rows[31] = '30,"Bad" name,30.5'
    data = ("\n".join(rows) + "\n").encode()
    assert sniff(data).quote == '"'
    with pytest.raises(ParseError, match="line 32: unexpected text after a closing quote"):
        infer_schema(data)
    # broken in more than 2% of the rows: that quote is not the file's
    assert sniff(b'id,size\n1,"big" box\n2,5" tv\n3,"small" one\n').quote is None


def test_single_letters_are_names_not_booleans():
    assert sniff(b"a,b,c,d,e,f\nfoo,bar,baz,qux,quux,corge\nx,y,z,w,v,u\n").header is True
    assert sniff(b"A,B,C,D,E,F,G,H\nY,N,x,y,z,T,N,1\nN,Y,w,v,u,F,Y,2\n").header is True
    # a letter over boolean words is a name; over boolean letters, one of the values
    assert sniff(b"F\ntrue\nfalse\ntrue\n").header is True
    assert sniff(b"F\nT\nF\nT\n").header is False
    assert sniff(b"T,1\nF,2\nT,3\n").header is False
    assert sniff(b"t,f\n").header is True  # one row of letters: a header-only file


def test_options_override_sniffing():
    data = b"a;b\n1;2\n3;4\n"
    schema = infer_schema(data, delimiter=",", header=False)
    assert schema.dialect.delimiter == "," and schema.dialect.header is False
    assert types(schema) == {"column_1": "str"}
    assert infer_schema(data, quote=None).dialect.quote is None
    assert infer_schema(data, quote="'").dialect.quote == "'"
    assert infer_schema(data, encoding="latin-1").dialect.encoding == "latin-1"
    structure = ["escape", "comment", "skip_rows", "trailing_delimiter", "skip_initial_space",
                 "ragged", "lenient_quotes"]
    assert schema.inferred["sniffed"] == [
        "encoding", "quote", "null_values", *structure, "decimal", "thousands",
    ]  # fmt: skip
    assert "comment" not in infer_schema(data, comment="#").inferred["sniffed"]
    assert infer_schema(data).inferred["sniffed"] == [
        "encoding", "delimiter", "quote", "header", "null_values", *structure,
        "decimal", "thousands",
    ]  # fmt: skip
    with_nulls = infer_schema(b"a,b\n1,-\n2,3\n", null_values=["", "-"])
    assert with_nulls.dialect.null_values == ("", "-")
    assert col(with_nulls, "b").nullable and col(with_nulls, "b").type == "int8"


# == types ========================================================================
def one_column(values: list[str], name: str = "x") -> fastetl.Column:
    text = name + "\n" + "\n".join(values) + "\n"
    schema, _ = infer_and_read(text)
    return schema.columns[0]


@pytest.mark.parametrize(
    "values,expected",
    [
        (["0", "127", "-128"], "int8"),
        (["128", "1"], "int16"),
        (["-32769", "1"], "int32"),
        (["2147483648"], "int64"),
        (["9223372036854775807", "-9223372036854775808"], "int64"),
        (["9223372036854775808", "0"], "uint64"),
        (["18446744073709551616"], "str"),  # beyond 64 bits: text, exact
        (["-9223372036854775809"], "str"),
        (["007", "123"], "str"),  # leading zeros: an identifier
        (["1", "0", "1"], "int8"),  # 0/1 alone: numbers
        (["true", "false"], "bool"),
        (["Yes", "no", "1"], "bool"),
        (["T", "f"], "bool"),
        (["1.5", "2.25"], "float64"),  # different fraction lengths
        # a fraction makes a float, however it is written (issue 16: exact decimals
        # are asked for by a schema; numpy.load users must see values, not scaled ints)
        (["1.50", "2.25", "-0.10"], "float64"),
        (["1.5", "2.0"], "float64"),
        (["1.2345", "2.0000"], "float64"),
        (["1.23456", "2.00000"], "float64"),
        (["10", "12.50"], "float64"),  # not every value fixed-point
        (["1e3", "2.50"], "float64"),
        (["nan", "1.5", "inf"], "float64"),
        (["nan", "inf"], "str"),  # words alone are not numbers
        (["2024-01-31", "2023-12-01"], "date"),
        (["2024-1-5", "2023-12-01"], "date"),
        (["2024/01/31"], "date"),
        (["31.12.2023", "01.01.2024"], "date"),
        (["2024-02-30"], "str"),  # not a calendar date
        (["2024-01-31T10:00:00", "2024-01-31 11:00"], "datetime"),
        (["2024-01-31T10:00:00Z", "2024-01-31T10:00:00+02:00"], "datetime"),
        (["2024-01-31", "2024-01-31T10:00"], "datetime"),
        (["31/01/2024 10:05", "1/2/2024 9:00"], "datetime"),
        (["hello", "world"], "str"),
    ],
)
def test_type_rules(values, expected):
    assert one_column(values).type == expected


def test_fixed_point_is_float_and_integers_stay_integers():
    for values in (["1.50", "2.25"], ["1.2345"], ["16.4", "-0.1"], ["1.0"], ["5."], [".5"]):
        c = one_column(values)
        assert (c.type, c.scale) == ("float64", None), values
    assert one_column(["1", "-20", "300"]).type == "int16"
    assert one_column(["9223372036854775807"]).type == "int64"


def test_dates_day_first_month_first_and_ambiguous():
    assert one_column(["13/01/2024", "01/02/2024"]).format == "%d/%m/%Y"
    assert one_column(["01/13/2024", "02/01/2024"]).format == "%m/%d/%Y"
    assert one_column(["01/02/2024", "03/04/2024"]).format == "%d/%m/%Y"  # ambiguous: day-first
    assert one_column(["13-01-2024", "1-2-2024"]).format == "%d-%m-%Y"
    assert one_column(["31.12.2023"]).format == "%d.%m.%Y"
    assert one_column(["13/01/2024", "01/13/2024"]).type == "str"  # both orders: text
    assert one_column(["2024-01-31"]).format is None  # ISO: the default format


def test_datetime_units_and_formats():
    c = one_column(["2024-01-31T10:00:00.123456789"])
    assert (c.type, c.unit) == ("datetime", "ns")
    c = one_column(["2024-01-31T10:00:00.123456000"])
    assert (c.type, c.unit) == ("datetime", None)  # zeros past microseconds: us is exact
    c = one_column(["31/01/2024 10:05:01", "01/02/2024 00:00:00"])
    assert c.format == "%d/%m/%Y %H:%M:%S"
    c = one_column(["01/31/2024 10:05", "02/01/2024 00:00"])
    assert c.format == "%m/%d/%Y %H:%M"


def test_category_rule_and_str_width():
    rnd = random.Random(1)
    cats = [rnd.choice(["red", "green", "blue"]) for _ in range(100)]
    c = one_column(cats)
    assert (c.type, c.max_values) == ("category", 255)
    # 3 distinct in 40 values is 7.5% > 5%: str
    assert one_column(cats[:40]).type == "str"
    many = [f"v{i % 200}" for i in range(4100)]  # 200 distinct, 4.9%
    c = one_column(many)
    assert (c.type, c.max_values) == ("category", 65535)
    c = one_column(["ab", "çççç"])  # 8 UTF-8 bytes * 1.5 = 12 -> 16
    assert (c.type, c.width) == ("str", 16)
    assert one_column(["a"]).width == 8  # at least 8


def test_null_tokens_only_where_a_typed_value_is_expected():
    text = "id,score,when,code,note\n1,NA,2024-01-01,NA,x\n2,5,NULL,NP,\n3,,2024-01-03,NO,y\n"
    schema, arr = infer_and_read(text)
    assert schema.dialect.null_values == ("", "NA", "NULL")
    assert types(schema) == {
        "id": "int8",
        "score": "int8",
        "when": "date",
        "code": "str",
        "note": "str",
    }
    assert col(schema, "score").nullable and col(schema, "when").nullable
    assert not col(schema, "code").nullable  # "NA" stays text
    assert arr["code"].tolist() == ["NA", "NP", "NO"]
    assert col(schema, "note").nullable  # empty fields, no token in it: nullable text
    assert np.isnat(arr["when"][1])


def test_text_column_with_a_token_and_empties_stays_verbatim():
    # "NA" is a null token (column n); column code holds it as text and has an empty field
    schema, arr = infer_and_read("n,code\n1,NA\nNA,\n3,US\n")
    assert schema.dialect.null_values == ("", "NA")
    assert not col(schema, "code").nullable
    assert arr["code"].tolist() == ["NA", "", "US"]
    # with no typed column using it, "NA" is no null token: empty fields are nulls
    schema, arr = infer_and_read("n,code\n1,NA\n2,\n3,US\n")
    assert schema.dialect.null_values == ("",) and col(schema, "code").nullable
    assert arr["code"].tolist() == ["NA", None, "US"]


def test_decimal_comma_is_sniffed_when_unambiguous():
    # issue 17: a column of 1,5 in a ; file is a decimal comma (it was text before)
    schema, arr = infer_and_read("a;b\n1,5;x\n2,25;y\n")
    assert schema.dialect.delimiter == ";" and col(schema, "a").type == "float64"
    assert schema.dialect.decimal == "," and schema.dialect.thousands is None
    assert list(arr["a"]) == [float("1.5"), float("2.25")]


def test_ambiguous_or_contradicted_number_spelling_stays_text():
    # 1,234 alone is 1.234 or 1234: text, and said in the facts
    schema, arr = infer_and_read('a,b\n"1,234",x\n"5,678",y\n')
    assert col(schema, "a").type == "str" and schema.inferred["numbers_unread"] == ["a"]
    assert schema.dialect.decimal == "." and schema.dialect.thousands is None
    # 1,5 beside 3.5: a decimal comma would make 3.5 unreadable, so nothing changes
    schema, arr = infer_and_read("a;b\n1,5;3.5\n2,25;4.5\n")
    assert col(schema, "a").type == "str" and list(arr["b"]) == [3.5, 4.5]
    assert schema.inferred["numbers_unread"] == ["a"]


def test_nan_in_a_float_column_is_a_value_not_a_token():
    schema, arr = infer_and_read("x,y\n1.5,1\nnan,2\n2.5,NA\n")
    assert col(schema, "x").type == "float64" and not col(schema, "x").nullable
    assert schema.dialect.null_values == ("", "NA")
    assert math.isnan(arr["x"][1])


def test_float_column_holding_an_adopted_token_becomes_nullable():
    # "NaN" is adopted for the date column; the float column that holds it must be nullable
    schema, arr = infer_and_read("d,f\n2024-01-01,1.5\nNaN,NaN\n2024-01-03,2.5\n")
    assert "NaN" in schema.dialect.null_values
    assert types(schema) == {"d": "date", "f": "float64"}
    assert col(schema, "d").nullable and col(schema, "f").nullable
    assert math.isnan(arr["f"][1])


def test_empty_and_header_only_columns():
    schema, arr = infer_and_read("a,b\n1,\n2,\n")
    assert col(schema, "b").type == "str" and col(schema, "b").nullable
    schema, arr = infer_and_read("a,b\n")
    assert types(schema) == {"a": "str", "b": "str"} and len(arr) == 0


def test_infer_columns_from_rows():
    cols, nulls = infer_columns([["1", "x", "NA"], ["2", "y", "3"]], ["a", "b", "c"])
    assert [(c.name, c.type, c.nullable) for c in cols] == [
        ("a", "int8", False),
        ("b", "str", False),
        ("c", "int8", True),
    ]
    assert nulls == ("", "NA")
    cols, _ = infer_columns([["1"]])
    assert cols[0].name == "column_1"


# == header names ===================================================================
def test_unique_names():
    assert unique_names(["a", "a", "", "b", "a_2", "_nulls"]) == [
        "a",
        "a_3",
        "column_3",
        "b",
        "a_2",
        "nulls",
    ]
    assert unique_names(["x", "x", "x"]) == ["x", "x_2", "x_3"]


def test_bad_header_names_are_renamed(tmp_path):
    path = write(tmp_path / "dup.csv", "id,v,v,\n1,2,3,x\n")
    schema = infer_schema(path)
    assert schema.dialect.header == "rename"
    assert [c.name for c in schema.columns] == ["id", "v", "v_2", "column_4"]
    assert fastetl.read_csv(path, schema).array.tolist() == [(1, 2, 3, b"x")]
    # reading the header row as data works too
    schema = infer_schema(path, header=False)
    assert len(fastetl.read_csv(path, schema)) == 2


def test_long_header_names_are_cut_and_kept_unique(tmp_path):
    long = "é" * 600  # 1,200 bytes of UTF-8
    names = unique_names([long + "a", long + "b", "x" * 2000, "id"])
    assert names == ["é" * 512, "é" * 511 + "_2", "x" * 1024, "id"]  # cut at a character
    path = write(tmp_path / "long.csv", f"{long}a,{long}b,id\n1,2,3\n")
    schema = infer_schema(path)
    assert schema.dialect.header == "rename"
    assert [c.name for c in schema.columns] == ["é" * 512, "é" * 511 + "_2", "id"]
    assert schema.inferred["names_cut"] == {"é" * 512: long + "a", "é" * 511 + "_2": long + "b"}
    assert fastetl.Schema.from_json(schema.to_json()).inferred == schema.inferred
    out = tmp_path / "long.npy"
    fastetl.convert(path, out)
    assert np.load(out).tolist() == [(1, 2, 3)]  # numpy's own header limit holds
    meta = json.loads((tmp_path / "long.npy.json").read_text(encoding="utf-8"))
    assert meta["schema"]["inferred"]["names_cut"]["é" * 511 + "_2"] == long + "b"


# == structure errors ================================================================
def test_ragged_row_in_the_head_is_reported_with_its_line():
    with pytest.raises(ParseError, match="line 4: expected 2 fields, found 3"):
        infer_schema(b"a,b\n1,2\n\n3,4,5\n")


def test_empty_inputs():
    for data in (b"", b"\n\n", b"\xef\xbb\xbf"):
        with pytest.raises(SchemaError, match="empty"):
            infer_schema(data)


def test_stdin_and_unseekable_streams_are_refused(tmp_path):
    with pytest.raises(fastetl.InputError, match="standard input"):
        infer_schema("-")

    class Pipe(io.RawIOBase):
        def readable(self):
            return True

        def readinto(self, b):
            return 0

    with pytest.raises(fastetl.InputError, match="cannot seek"):
        infer_schema(Pipe())


def test_file_object_position_is_restored(tmp_path):
    path = write(tmp_path / "f.csv", "a,b\n1,2\n3,4\n")
    with open(path, "rb") as fh:
        fh.read(0)
        schema = infer_schema(fh)
        assert fh.tell() == 0
        assert len(fastetl.read_csv(fh, schema)) == 2


def test_gzip_input_is_sampled_from_its_head(tmp_path):
    import gzip

    path = tmp_path / "g.csv.gz"
    with gzip.open(path, "wb") as fh:
        fh.write(b"a,b\n" + b"".join(b"%d,x%d\n" % (i, i % 3) for i in range(1000)))
    schema = infer_schema(path)
    assert types(schema) == {"a": "int16", "b": "category"}
    assert len(fastetl.read_csv(path, schema)) == 1000


def test_bad_options():
    with pytest.raises(ValueError, match="infer_rows"):
        infer_schema(b"a\n1\n", infer_rows=0)
    with pytest.raises(ValueError, match="infer_rows"):
        infer_schema(b"a\n1\n", infer_rows="some")
    with pytest.raises(SchemaError, match="delimiter"):
        infer_schema(b"a\n1\n", delimiter=",,")
    with pytest.raises(SchemaError, match="unknown encoding"):
        infer_schema(b"a\n1\n", encoding="no-such-codec")


# == sampling ========================================================================
class CountingReader(io.RawIOBase):
    """A real file, read through a wrapper that counts the bytes handed out."""

    def __init__(self, path: Path) -> None:
        self._fh = open(path, "rb")  # noqa: SIM115
        self.bytes_read = 0

    def readable(self):
        return True

    def seekable(self):
        return True

    def seek(self, pos, whence=0):
        return self._fh.seek(pos, whence)

    def tell(self):
        return self._fh.tell()

    def readinto(self, b):
        n = self._fh.readinto(b)
        self.bytes_read += n or 0
        return n

    def close(self):
        self._fh.close()
        super().close()


def big_file(path: Path, rows: int, special: dict[int, list[str]] | None = None) -> Path:
    """A CSV with quoted multi-line text; ``special`` replaces whole rows by index."""
    rnd = random.Random(5)
    special = special or {}
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["id", "qty", "price", "note", "tag"])
        for i in range(rows):
            if i in special:
                w.writerow(special[i])
                continue
            note = rnd.choice(["plain", "two\nlines, here", 'a "quoted"\nword', "x"])
            w.writerow(
                [
                    i,
                    rnd.randint(0, 100),
                    f"{rnd.randint(0, 99999) / 100:.2f}",
                    note,
                    rnd.choice(["a", "b", "c"]),
                ]
            )
    return path


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """~9 MB: more than SAMPLE_BYTES, with a wider value in each sampled region and one
    in a region no sample reaches."""
    d = tmp_path_factory.mktemp("big")
    n = 260_000
    special = {
        5: ["5", "100", "1.00", "early", "a"],
        n // 2 + 3000: [str(n // 2 + 3000), "-5", "2.00", "middle", "b"],  # negative: int8
        n - 2: [str(n - 2), "120", "3.00", "late", "c"],
        n // 4: [str(n // 4), "40000", "4.00", "unsampled", "a"],  # int32, never sampled
    }
    return big_file(d / "big.csv", n, special), n


def test_sample_reads_a_bounded_number_of_bytes(big):
    path, n = big
    assert path.stat().st_size > inf.SAMPLE_BYTES
    reader = CountingReader(path)
    try:
        schema = infer_schema(reader)
    finally:
        reader.close()
    assert reader.bytes_read <= inf.SAMPLE_BYTES + 64
    assert types(schema)["id"] == "int32"  # the end of the file was sampled (ids > 65535)


def test_sample_covers_middle_and_end_and_resyncs_inside_quotes(big):
    path, n = big
    schema = infer_schema(path)
    # quoted newlines everywhere: a bad resync would turn these columns into text
    assert types(schema) == {
        "id": "int32",
        "qty": "int8",
        "price": "float64",
        "note": "category",
        "tag": "category",
    }


def test_out_of_sample_value_error_hint_and_guaranteed_mode(big):
    path, n = big
    schema = infer_schema(path)
    with pytest.raises(ParseError) as info:
        fastetl.read_csv(path, schema)
    e = info.value
    assert e.column == "qty" and "out of range for int8" in str(e)
    hint = hint_for(e, schema)
    assert '"type": "int32"' in hint and "--infer-rows all" in hint
    sure = infer_schema(path, infer_rows="all")
    assert col(sure, "qty").type == "int32"
    arr = fastetl.read_csv(path, sure)
    assert len(arr) == n and arr["qty"][n // 4] == 40000


def test_infer_rows_limits_the_sample():
    data = b"x\n" + b"".join(b"%d\n" % i for i in range(1000))
    assert infer_schema(data, infer_rows=100).columns[0].type == "int16"  # 999 is in the tail
    head_only = b"x\n" + b"1\n" * 1000 + b"300\n" + b"2\n" * 1000
    assert infer_schema(head_only, infer_rows=40).columns[0].type == "int8"
    assert infer_schema(head_only).columns[0].type == "int16"  # 2001 rows: all sampled
    assert infer_schema(head_only, infer_rows="all").columns[0].type == "int16"


def test_guaranteed_mode_widens_every_kind_of_column(tmp_path):
    rows = 40_000
    rnd = random.Random(3)
    lines = ["i,d,m,dt,b,c,s,n"]
    for k in range(rows):
        lines.append(
            f"{k % 100},{rnd.randint(1, 28):02d}/{rnd.randint(1, 12):02d}/2024,"
            f"{rnd.randint(0, 999)}.{rnd.randint(0, 99):02d},2024-01-01T10:00:00,"
            f"{rnd.choice(['yes', 'no'])},{rnd.choice('ABC')},w{k},{k % 7}"
        )
    # far from the head, the middle and the end of a 40,000-row sample of 400 rows
    lines[10_001] = "1000,01/01/2024,1.234,2024-01-01T10:00:00.5,maybe,D,ok,NA"
    lines[12_001] = "1,13/13/2024,2.5,x,yes,A," + "z" * 40 + ","
    path = write(tmp_path / "g.csv", "\n".join(lines) + "\n")
    sampled = infer_schema(path, infer_rows=400)
    assert types(sampled) == {
        "i": "int8",
        "d": "date",
        "m": "float64",
        "dt": "datetime",
        "b": "bool",
        "c": "category",
        "s": "str",
        "n": "int8",
    }
    sure = infer_schema(path, infer_rows="all")
    assert types(sure) == {
        "i": "int16",
        "d": "str",
        "m": "float64",
        "dt": "str",
        "b": "str",
        "c": "category",
        "s": "str",
        "n": "int8",
    }
    assert col(sure, "n").nullable and "NA" in sure.dialect.null_values
    assert col(sure, "s").width >= 40
    arr = fastetl.read_csv(path, sure)
    assert len(arr) == rows and arr["s"][12_000] == "z" * 40 and arr["b"][10_000] == "maybe"
    assert arr["m"].tolist() == [float(line.split(",")[2]) for line in lines[1:]]


@pytest.mark.parametrize("on_error", ["skip", "reject"])
def test_lenient_policy_in_the_sample_and_in_the_guaranteed_pass(on_error):
    rows = ["id,qty,name"] + [f"{i},{i % 100},n{i}" for i in range(12000)]
    rows[3] = "2,5"  # ragged, in the head sample
    rows[11000] = "10999,5"  # ragged, outside the sample
    rows[11500] = "11499,70000,big"  # a value that widens qty, outside the sample
    data = ("\n".join(rows) + "\n").encode()
    with pytest.raises(ParseError, match="line 4: expected 3 fields, found 2"):
        infer_schema(data, infer_rows="all")
    schema = infer_schema(data, on_error=on_error)
    assert (schema.inferred["rows_left_out"], schema.inferred["left_out_lines"]) == (1, [4])
    assert col(schema, "qty").type == "int8"
    # the full pass widens for values and lets malformed rows go, as the conversion will
    schema = infer_schema(data, infer_rows="all", on_error=on_error)
    assert col(schema, "qty").type == "int32"
    arr = fastetl.read_csv(data, schema, on_error="skip")
    assert len(arr) == 11998 and 70000 in arr["qty"]


def test_guaranteed_mode_flips_an_ambiguous_date_order(tmp_path):
    lines = ["d"] + ["01/02/2024"] * 3000 + ["12/31/2024"] + ["03/04/2024"] * 3000
    path = write(tmp_path / "a.csv", "\n".join(lines) + "\n")
    assert col(infer_schema(path, infer_rows=100), "d").format == "%d/%m/%Y"
    sure = infer_schema(path, infer_rows="all")
    assert col(sure, "d").format == "%m/%d/%Y"
    assert str(fastetl.read_csv(path, sure)["d"][0]) == "2024-01-02"


def test_encoding_is_sniffed_in_the_middle_and_end_samples_too(tmp_path):
    body = b"".join(b"%d,plain text %d\n" % (i, i) for i in range(300_000))
    half = len(body) // 2
    cut = body.index(b"\n", half) + 1
    data = b"n,t\n" + body[:cut] + "9,caf\u00e9 \u20ac\n".encode("cp1252") + body[cut:]
    assert len(data) > inf.SAMPLE_BYTES
    path = write(tmp_path / "m.csv", data)
    schema = infer_schema(path)
    assert schema.dialect.encoding == "cp1252"
    arr = fastetl.read_csv(path, schema)
    assert "café €" in arr["t"].tolist()


def test_guaranteed_mode_switches_to_a_code_page_for_bytes_that_are_not_utf8(tmp_path):
    lines = [b"n,t"] + [b"%d,w%d" % (i, i) for i in range(600_000)]
    # between the head and the middle samples; \x96 is cp1252's en dash
    lines[250_001] = "1,na\u00efve \u2013 x".encode("cp1252")
    path = write(tmp_path / "u.csv", b"\n".join(lines) + b"\n")
    assert path.stat().st_size > inf.SAMPLE_BYTES
    sampled = infer_schema(path)
    assert sampled.dialect.encoding == "utf-8"
    with pytest.raises(ParseError, match="not valid UTF-8") as info:
        fastetl.read_csv(path, sampled)
    assert "encoding" in hint_for(info.value, sampled)
    sure = infer_schema(path, infer_rows="all")
    assert sure.dialect.encoding == "cp1252"
    assert fastetl.read_csv(path, sure)["t"][250_000] == "naïve – x"


def test_guaranteed_mode_falls_back_to_latin1_for_bytes_cp1252_lacks(tmp_path):
    lines = [b"n,t"] + [b"%d,w%d" % (i, i) for i in range(600_000)]
    lines[3] = "1,caf\u00e9 \u20ac".encode("cp1252")
    lines[250_001] = b"2,odd \x81 byte"  # not a cp1252 character, outside the sample
    path = write(tmp_path / "c.csv", b"\n".join(lines) + b"\n")
    sampled = infer_schema(path)
    assert sampled.dialect.encoding == "cp1252"
    with pytest.raises(fastetl.InputError, match="not valid cp1252") as info:
        fastetl.read_csv(path, sampled)
    assert "latin-1" in hint_for(info.value, sampled)
    sure = infer_schema(path, infer_rows="all")
    assert sure.dialect.encoding == "latin-1"
    assert fastetl.read_csv(path, sure)["t"][250_000] == "odd \x81 byte"


# == hints =============================================================================
def hint_of(schema_dict: dict, data: bytes) -> str:
    schema = fastetl.Schema.from_dict(schema_dict)
    with pytest.raises(FastETLError) as info:
        fastetl.read_csv(data, schema)
    return hint_for(info.value, schema)


def test_hints():
    h = hint_of({"columns": [{"name": "s", "type": "str", "width": 8}]}, b"s\n" + b"x" * 30 + b"\n")
    assert '"width": 48' in h
    h = hint_of(
        {"columns": [{"name": "a", "type": "int8"}, {"name": "b", "type": "int8"}]}, b"a,b\n1,\n"
    )
    assert '"nullable": true' in h
    h = hint_of({"columns": [{"name": "a", "type": "int8"}]}, b"a\n1.5\n")
    assert '"type": "float64"' in h
    # decimal is never inferred, but a hand-edited schema asking for it gets the same advice
    dec = {"columns": [{"name": "a", "type": "decimal", "scale": 2}]}
    h = hint_of(dec, b"a\n1.234\n")
    assert '"type": "float64"' in h
    h = hint_of({"columns": [{"name": "a", "type": "category", "max_values": 2}]}, b"a\nx\ny\nz\n")
    assert '"max_values": 65535' in h
    h = hint_of(
        {"columns": [{"name": "a", "type": "int8"}, {"name": "b", "type": "int8"}]}, b"a,b\n1,2,3\n"
    )
    assert "delimiter" in h
    h = hint_of({"columns": [{"name": "a", "type": "str", "width": 8}]}, b'a\n"x\n')
    assert "quote" in h
    h = hint_of({"columns": [{"name": "a", "type": "str", "width": 8}]}, b"a\n\xe9t\xe9\n")
    assert "encoding" in h
    assert hint_for(ValueError("x"), None) == ""


# == agreement with pandas ================================================================
def generated(path: Path, n: int, seed: int) -> Path:
    rnd = random.Random(seed)
    texts = ["plain", "comma, inside", 'quote "inside"', "new\nline", "ünïcödé ✓", "  spaced  "]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\r\n" if seed % 2 else "\n")
        w.writerow(
            [
                "small",
                "big",
                "neg",
                "ratio",
                "money",
                "iso",
                "dmy",
                "mdy",
                "stamp",
                "flag",
                "kind",
                "text",
                "opt",
            ]
        )
        for _ in range(n):
            d = dt.date(2000, 1, 1) + dt.timedelta(days=rnd.randint(0, 9000))
            w.writerow(
                [
                    rnd.randint(0, 120),
                    rnd.randint(-(2**40), 2**40),
                    -rnd.randint(0, 30000),
                    repr(rnd.uniform(-1e6, 1e6)),
                    f"{rnd.randint(0, 10**7) / 100:.2f}",
                    d.isoformat(),
                    d.strftime("%d/%m/%Y"),
                    d.strftime("%m/%d/%Y"),
                    f"{d.isoformat()} {rnd.randint(0, 23):02d}:{rnd.randint(0, 59):02d}:"
                    f"{rnd.randint(0, 59):02d}",
                    rnd.choice(["true", "false"]),
                    rnd.choice(["alpha", "beta", "gamma", "delta"]),
                    rnd.choice(texts) + str(rnd.randint(0, 10**6)),
                    "" if rnd.random() < 0.2 else rnd.randint(-5, 5),
                ]
            )
        # make the day-first and month-first columns unambiguous
        w.writerow(
            [
                1,
                1,
                -1,
                "0.5",
                "1.00",
                "2024-01-13",
                "13/01/2024",
                "01/13/2024",
                "2024-01-13 00:00:00",
                "true",
                "alpha",
                "last",
                1,
            ]
        )
    return path


@pytest.mark.parametrize("seed", [1, 2])
def test_inferred_values_equal_pandas(tmp_path, seed):
    pd = pytest.importorskip("pandas")
    path = generated(tmp_path / f"gen{seed}.csv", 3000, seed)
    schema = infer_schema(path)
    assert types(schema) == {
        "small": "int8",
        "big": "int64",
        "neg": "int16",
        "ratio": "float64",
        "money": "float64",
        "iso": "date",
        "dmy": "date",
        "mdy": "date",
        "stamp": "datetime",
        "flag": "bool",
        "kind": "category",
        "text": "str",
        "opt": "int8",
    }
    assert col(schema, "dmy").format == "%d/%m/%Y" and col(schema, "mdy").format == "%m/%d/%Y"
    table = decoded(path, schema, tmp_path)
    df = pd.read_csv(path, keep_default_na=False, na_values=[""])
    assert len(table) == len(df)
    for name in ("small", "big", "neg", "ratio", "money"):
        assert np.array_equal(np.asarray(table[name]), df[name].to_numpy()), name
    for name, fmt in (("iso", "%Y-%m-%d"), ("dmy", "%d/%m/%Y"), ("mdy", "%m/%d/%Y")):
        expect = pd.to_datetime(df[name], format=fmt).to_numpy().astype("datetime64[D]")
        assert np.array_equal(np.asarray(table[name]), expect), name
    expect = pd.to_datetime(df["stamp"], format="%Y-%m-%d %H:%M:%S").to_numpy()
    assert np.array_equal(np.asarray(table["stamp"]).astype("datetime64[ns]"), expect)
    assert np.asarray(table["flag"]).tolist() == df["flag"].tolist()
    assert list(table["kind"]) == df["kind"].tolist()
    assert list(table["text"]) == df["text"].tolist()
    opt = table["opt"]
    assert opt.mask.tolist() == df["opt"].isna().tolist()
    assert opt.compressed().tolist() == df["opt"].dropna().astype(int).tolist()


# == the real-world files ==================================================================
REALWORLD_FILES = sorted(k for k in EXPECTED if not k.startswith("_"))


def test_realworld_folder_matches_expected_json():
    on_disk = sorted(p.name for p in REALWORLD.iterdir() if p.name != "expected.json")
    assert on_disk == REALWORLD_FILES
    assert len(REALWORLD_FILES) >= 12


def check_column(schema: fastetl.Schema, name: str, want) -> None:
    c = col(schema, name)
    want = {"type": want} if isinstance(want, str) else want
    for key, value in want.items():
        assert getattr(c, key) == value, (name, key, getattr(c, key), value)


def expected_value(v):
    return v


def spelled(t: str, d: fastetl.Dialect) -> str:
    """A number written with the dialect's thousands and decimal marks, as Python writes it
    (independent of fastetl's normaliser: a plain replace)."""
    if d.thousands is not None:
        t = t.replace(d.thousands, "")
    return t.replace(d.decimal, ".") if d.decimal != "." else t


def csv_value(cell: str, c: fastetl.Column, d: fastetl.Dialect):
    """What a cell read by Python's csv module must decode to in column ``c``."""
    nulls = d.null_values
    if c.type in ("str", "category"):
        return None if c.nullable and cell in nulls else cell
    t = cell.strip(" \t")
    if c.nullable and t in nulls:
        return None
    if c.type.startswith(("int", "uint", "float", "decimal")):
        t = spelled(t, d)
    if c.type == "bool" and t in d.true_values + d.false_values:
        return t in d.true_values
    if c.type.startswith(("int", "uint")):
        return int(t)
    if c.type.startswith("float"):
        return float(t)
    if c.type == "bool":
        return t.lower() in ("true", "t", "yes", "1")
    if c.type == "decimal":
        return Decimal(t)
    if c.type == "date" and c.format is None:
        return dt.date.fromisoformat(t).isoformat()
    if c.type == "date":
        return dt.datetime.strptime(t, c.format).date().isoformat()
    if c.type == "datetime" and c.format is not None:
        return str(np.datetime64(dt.datetime.strptime(t, c.format), c.datetime_unit))
    raise AssertionError(f"no reference reading for {c}")


def check_against_csv(path: Path, spec: dict, schema: fastetl.Schema, table) -> None:
    """Every value of ``table`` equals the csv module's reading of ``path``."""
    opts = spec["csv"]
    q = opts.get("quotechar")
    kw = {"quotechar": q} if q else {"quoting": csv.QUOTE_NONE}
    for key in ("escapechar", "skipinitialspace"):
        if key in opts:
            kw[key] = opts[key]
    text = path.read_bytes().decode(schema.dialect.encoding)
    rows = list(csv.reader(io.StringIO(text), delimiter=opts["delimiter"], **kw))
    if schema.dialect.header:
        names, rows = unique_names(rows[0]), rows[1:]
        assert [c.name for c in schema.columns] == names
    assert len(rows) == spec["rows"]
    if table is None:
        return
    for j, c in enumerate(schema.columns):
        want = [csv_value(r[j], c, schema.dialect) for r in rows]
        assert plain(table, c.name) == want, c.name


@pytest.mark.parametrize("name", REALWORLD_FILES)
def test_realworld(name, tmp_path):
    spec = EXPECTED[name]
    path = REALWORLD / name
    if "needs" in spec:  # an optional extra (charset_normalizer: fastetl[encodings]); in .[test]
        pytest.importorskip(spec["needs"])
    options = spec.get("options", {})  # the keywords given
    if spec["outcome"] == "refused":
        with pytest.raises(FastETLError) as info:
            schema = infer_schema(path, **options)
            fastetl.read_csv(path, schema)
        assert type(info.value).__name__ == spec["error_type"]
        assert spec["error"] in str(info.value)
        return
    if spec.get("read") == "widening":  # values past the sample (issue 15, item 2)
        table = fastetl.read_csv(path, **options)
        schema = fastetl.Schema.from_dict(table.meta["schema"])
        widened = schema.inferred["widened"]
        assert [[w["column"], w["line"]] for w in widened if "column" in w] == spec["widened"]
    else:
        schema = infer_schema(path, **options)
    # the schema survives its JSON form
    assert fastetl.Schema.from_json(schema.to_json()) == schema
    for key, value in spec.get("dialect", {}).items():
        got = getattr(schema.dialect, key)
        assert (list(got) if isinstance(got, tuple) else got) == value, key
    for key, value in spec.get("inferred", {}).items():
        assert schema.inferred[key] == value, key
    if "detected" in spec:
        assert schema.inferred.get("detected", []) == spec["detected"]
    if "line_terminator" in spec:
        assert sniff(path.read_bytes()).line_terminator == spec["line_terminator"]
    if "ncols" in spec:
        assert len(schema.columns) == spec["ncols"]
    for cname, want in spec["columns"].items():
        check_column(schema, cname, want)
    if "ncols" not in spec:
        assert [c.name for c in schema.columns] == list(spec["columns"])
    cut = (getattr(schema, "inferred", None) or {}).get("names_cut", {})
    assert len(cut) == spec.get("names_cut", 0)
    for short, original in cut.items():
        assert len(short.encode()) <= fastetl.schema.MAX_NAME_BYTES < len(original.encode())
        assert original.startswith(short)
    if spec.get("read") != "widening":
        table = decoded(path, schema, tmp_path)
    assert len(table) == spec["rows"]
    if "csv" in spec:
        check_against_csv(path, spec, schema, table)
    for cname, values in spec.get("values", {}).items():
        got = plain(table, cname)
        # expected values are the CSV's texts; the reference reads them as Python does
        if col(schema, cname).type == "decimal":
            values = [None if v is None else Decimal(v) for v in values]
        elif col(schema, cname).type in ("float32", "float64"):
            values = [None if v is None else float(v) for v in values]
        assert got == values, cname


# == never a crash ==========================================================================
_PIECES = [
    "a",
    "b",
    "1",
    "-2",
    "3.50",
    "1e3",
    "NA",
    "",
    " ",
    ",",
    ";",
    "\t",
    "|",
    '"',
    "'",
    "\n",
    "\r\n",
    "\r",
    "2024-01-31",
    "31/01/2024",
    "01/31/2024",
    "true",
    "é",
    "€",
    "9" * 25,
    "0" * 3,
    "nan",
    "10:30",
    "T",
    "\x00",
    "\ufeff",
    "id",
    "x,y\n",
    "'a,b'",
    '"q""q"',
    "18446744073709551615",
    "-9223372036854775809",
    "1.5e400",
    "-",
    "yes",
]


@settings(max_examples=150 * int(os.environ.get("FASTETL_FUZZ", "1")))
@given(
    st.lists(st.sampled_from(_PIECES), max_size=60),
    st.sampled_from(["utf-8", "cp1252", "utf-16", "latin-1"]),
)
def test_small_inputs_convert_or_are_refused_clearly(pieces, encoding):
    """A small input is sampled whole, so an inferred schema must convert it."""
    data = "".join(pieces).encode(encoding, errors="replace")
    try:
        schema = infer_schema(data)
    except FastETLError:
        return
    assert fastetl.Schema.from_json(schema.to_json()) == schema
    fastetl.read_csv(data, schema)


_MONTH_WORDS = [m for full in ("January", "February", "March", "April", "May", "June", "July",
                               "August", "September", "October", "November", "December")
                for m in (full, full[:3], full.upper(), full[:3].lower())]  # fmt: skip


@settings(max_examples=400)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(_MONTH_WORDS + ["Foo", "c", "x1"]),
            st.from_regex(r"[0-9]{1,6}", fullmatch=True),
            st.sampled_from(["\u0662\u0660\u0662\u0662", "\u0668"]),  # Arabic-Indic 2022, 8
            st.sampled_from([" ", ", ", "-", "/", ".", "%", "_", "é"]),
        ),
        max_size=6,
    ).map("".join)
)
def test_named_month_dates_are_found_by_their_parts(text):
    # the formats of a date with a month name against the rule they follow, read here from
    # the text's own pieces: one month name, one day of 1-2 digits, one year of 4 digits,
    # only ASCII punctuation or spaces besides (no year: no format, and no work)
    import re

    pieces = re.findall(r"[A-Za-z]+|[0-9]+|[^A-Za-z0-9]+", text)
    months = [p for p in pieces if p.isalpha()]
    days = [p for p in pieces if p.isdigit() and len(p) <= 2]
    years = [p for p in pieces if p.isdigit() and len(p) == 4]
    rest = [p for p in pieces if p not in months + days + years]
    names = {m.lower() for m in _MONTH_WORDS}
    fits = (
        len(months) == len(days) == len(years) == 1
        and months[0].lower() in names
        and all(not p.isalnum() and "%" not in p and p.isascii() for p in rest)
    )
    shapes = inf._named_shapes(text)
    assert (shapes is not None) == fits
    for fmt in shapes or ():
        try:
            got = dt.datetime.strptime(text, fmt)
        except ValueError:  # (a day the month has not: the format is still its shape)
            continue
        assert got.year == int(years[0]) and got.day == int(days[0])
