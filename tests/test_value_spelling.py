"""How values are spelled (issue 17 item 3): decimal commas and thousands separators,
boolean words given by option, partial schemas (types=, columns=), through the API and
the CLI (a real subprocess).

Numbers are checked against Python's ``float()`` / ``Decimal`` / ``int()`` of the text
rebuilt by the test from its digits (not by fastetl's normaliser); misplaced separators
against a regular expression of the grouping rule.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastetl
from fastetl import Column, Dialect, ParseError, Schema, SchemaError

SPELLINGS = [(",", None), (",", "."), (".", ","), (",", " "), (".", "'"), (".", "_"), (",", "_")]


def grouped(digits: str, sep: str | None) -> str:
    """``digits`` split in threes from the right with ``sep`` (None: as is)."""
    if sep is None:
        return digits
    head = len(digits) % 3 or 3
    parts = [digits[:head]] + [digits[i : i + 3] for i in range(head, len(digits), 3)]
    return sep.join(parts)


def schema_for(spelling, *cols: Column) -> Schema:
    dec, thou = spelling
    return Schema(
        columns=cols, dialect=Dialect(delimiter=";", decimal=dec, thousands=thou, header=True)
    )


def read(data: bytes, schema: Schema, **kw):
    return fastetl.read_csv(data, schema, **kw).array


@settings(max_examples=300)
@given(
    spelling=st.sampled_from(SPELLINGS),
    sign=st.sampled_from(["", "-", "+"]),
    whole=st.text("0123456789", min_size=1, max_size=16),
    frac=st.text("0123456789", min_size=0, max_size=12),
    exp=st.one_of(st.none(), st.integers(-30, 30)),
)
def test_floats_equal_float_of_the_plain_text(spelling, sign, whole, frac, exp):
    dec, thou = spelling
    whole = whole.lstrip("0") or "0"
    text = sign + grouped(whole, thou) + (dec + frac if frac else "")
    plain = sign + whole + ("." + frac if frac else "")
    if exp is not None:
        text += f"e{exp}"
        plain += f"e{exp}"
    data = f"x;pad\n{text};z\n".encode()
    sch = schema_for(spelling, Column("x", "float64"), Column("pad", "skip"))
    got = read(data, sch)["x"][0]
    assert got.tobytes() == np.float64(float(plain)).tobytes(), (text, plain)


@settings(max_examples=200)
@given(
    spelling=st.sampled_from(SPELLINGS),
    neg=st.booleans(),
    whole=st.text("0123456789", min_size=1, max_size=15),
    frac=st.text("0123456789", min_size=0, max_size=4),
    scale=st.integers(0, 3),
)
def test_decimals_and_ints_are_exact(spelling, neg, whole, frac, scale):
    dec, thou = spelling
    whole = whole.lstrip("0") or "0"
    sign = "-" if neg else ""
    text = sign + grouped(whole, thou) + (dec + frac if frac else "")
    plain = Decimal(sign + whole + ("." + frac if frac else ""))
    sch = schema_for(spelling, Column("x", "decimal", scale=scale), Column("i", "int64"))
    data = f"x;i\n{text};{sign + grouped(whole, thou)}\n".encode()
    if len(frac.rstrip("0")) > scale:
        with pytest.raises(ParseError, match="decimal places"):
            read(data, sch)
        return
    row = read(data, sch)[0]
    assert int(row["x"]) == int(plain.scaleb(scale))
    assert int(row["i"]) == int(sign + whole)


GROUPS = re.compile(r"[+-]?(?:[0-9]{1,3}(?:X[0-9]{3})+|[0-9]*)(?:D[0-9]*)?\Z")


def expected_number(text: str, dec: str, thou: str) -> float | None:
    """What the text must read as: the grouping rule as a regular expression (X: the
    separator, D: the decimal mark), then Python's float() of the plain text; None: an
    error."""
    if "X" in text or "D" in text or not GROUPS.match(text.replace(thou, "X").replace(dec, "D")):
        return None
    try:
        return float(text.replace(thou, "").replace(dec, "."))
    except ValueError:
        return None


@settings(max_examples=300)
@given(
    spelling=st.sampled_from([s for s in SPELLINGS if s[1] is not None]),
    text=st.text("0123456789.,' _", min_size=1, max_size=12),
)
def test_misplaced_separators_are_errors_never_other_numbers(spelling, text):
    dec, thou = spelling
    if text != text.strip(" ") or not any(ch.isdigit() for ch in text):
        return  # blanks at the ends are trimmed; no digit is no number at all
    sch = schema_for(spelling, Column("x", "float64"), Column("pad", "skip"))
    data = f'x;pad\n"{text}";z\n'.encode()
    want = expected_number(text, dec, thou)
    if want is not None:
        assert read(data, sch)["x"][0] == want
    else:
        with pytest.raises(ParseError) as info:
            read(data, sch)
        assert 'column "x"' in str(info.value) and "\n" not in str(info.value)


def test_a_point_where_the_mark_is_a_comma_is_an_error():
    sch = schema_for((",", None), Column("x", "float64"), Column("pad", "skip"))
    with pytest.raises(ParseError, match=r"line 2, column \"x\": '1.5' is not a valid float64"):
        read(b"x;pad\n1.5;z\n", sch)
    # the default spelling is untouched: 1,5 is no number there
    plain = Schema(columns=(Column("x", "float64"), Column("pad", "skip")))
    with pytest.raises(ParseError):
        read(b'x,pad\n"1,5",z\n', plain)


def test_nulls_and_blanks_with_a_spelling():
    sch = Schema(
        columns=(Column("x", "float64", nullable=True), Column("n", "int32", nullable=True)),
        dialect=Dialect(delimiter=";", decimal=",", thousands=".", null_values=("", "NA")),
    )
    arr = read(b"x;n\n 1.234,5 ;NA\nNA; 2.000\n;\n", sch)
    assert arr["x"][0] == float("1234.5") and np.isnan(arr["x"][1]) and np.isnan(arr["x"][2])
    table = fastetl.read_csv(b"x;n\n 1.234,5 ;NA\nNA; 2.000\n;\n", sch)
    assert table["n"].tolist() == [None, 2000, None]


# -- boolean words --------------------------------------------------------------------------
def test_boolean_words_by_option_only():
    data = "nome;ativo\nAna;sim\nBruno;não\nCarla;Sim\n".encode()
    # not detected: without the option the column is text
    assert fastetl.infer_schema(data).columns[1].type != "bool"
    table = fastetl.read_csv(data, true_values=["sim", "Sim"], false_values=["não"])
    assert table.meta["schema"]["columns"][1]["type"] == "bool"
    assert table["ativo"].tolist() == [True, False, True]
    # the words are exact: "SIM" is no boolean
    sch = Schema.from_dict(table.meta["schema"])
    with pytest.raises(ParseError, match="'SIM' is not a valid bool"):
        fastetl.read_csv("nome;ativo\nAna;SIM\n".encode(), sch)
    # a flag bit reads the same words
    flagged = Schema.from_dict(
        table.meta["schema"]
        | {"flags": [{"name": "f", "bits": [{"name": "ativo_bit", "column": "ativo"}]}]}
    )
    t2 = fastetl.read_csv(data, flagged)
    assert t2["ativo_bit"].tolist() == [True, False, True]


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"true_values": ["no"]}, "already means False"),
        ({"true_values": ["S"], "false_values": ["S"]}, "both true_values and false_values"),
        ({"true_values": [""]}, "1 to 64 bytes"),
        ({"true_values": "sim"}, "list of strings"),
        ({"decimal": ";"}, "decimal must be one of"),
        ({"thousands": "x"}, "thousands must be null or one of"),
        ({"decimal": ",", "thousands": ","}, "must differ"),
    ],
)
def test_bad_spelling_options_are_one_line_schema_errors(kw, message):
    with pytest.raises(SchemaError, match=message) as info:
        fastetl.read_csv(b"a;b\n1;2\n", **kw)
    assert "\n" not in str(info.value)


def test_spelling_round_trips_through_json_and_defaults_stay_out():
    d = Dialect(delimiter=";", decimal=",", thousands=".", true_values=("S",), false_values=("N",))
    assert Dialect.from_dict(json.loads(json.dumps(d.to_dict()))) == d
    assert set(Dialect().to_dict()) == {"delimiter", "quote", "header", "encoding", "null_values"}


# -- a given schema, a given value ----------------------------------------------------------
def test_keywords_put_into_a_given_schema_and_given_values_win():
    sch = Schema(columns=(Column("a", "float64"), Column("b", "int16")), dialect=Dialect(";"))
    arr = read(b"a;b\n1,5;1.000\n", sch, decimal=",", thousands=".")
    assert arr["a"][0] == 1.5 and arr["b"][0] == 1000
    # given decimal="." is kept even where the sample says otherwise: the column is text
    inferred = fastetl.infer_schema(b"a;b\n1,5;x\n2,5;y\n", decimal=".")
    assert inferred.dialect.decimal == "." and inferred.columns[0].type == "str"
    with pytest.raises(ValueError, match="only when no schema is given"):
        read(b"a;b\n1;2\n", sch, columns=["a"])


# -- partial schemas ------------------------------------------------------------------------
def test_types_and_columns_adjust_the_inferred_schema():
    data = b"id;preco;cep;estoque\n1;12,50;20040002;3\n2;4,99;30130010;10\n"
    types = {"preco": "decimal(2)", "cep": "str"}
    t = fastetl.read_csv(data, types=types, columns=["preco", "cep"])
    assert list(t.array.dtype.names) == ["preco", "cep"]
    assert t.decimal("preco").tolist() == [Decimal("12.50"), Decimal("4.99")]
    assert t["cep"].tolist() == ["20040002", "30130010"]


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"types": {"nope": "int8"}}, "types: no column named ['nope']"),
        ({"columns": ["a", "zz"]}, "columns: no column named ['zz']"),
        ({"types": {"a": "money"}}, "unknown type 'money'"),
        ({"types": {"a": "decimal(x)"}}, "scale of decimal must be a whole number"),
        ({"types": {"a": "int8(3)"}}, "takes no argument"),
    ],
)
def test_partial_schema_mistakes_are_one_line_errors(kw, message):
    with pytest.raises(SchemaError) as info:
        fastetl.infer_schema(b"a;b\n1;2\n", **kw)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_a_given_type_is_checked_never_widened():
    with pytest.raises(ParseError, match=r"line 3, column \"a\": '300' is out of range for int8"):
        fastetl.infer_schema(b"a;b\n1;x\n300;y\n", types={"a": "int8"})


# -- the command line -----------------------------------------------------------------------
def cli(*args: str, cwd: Path):
    p = subprocess.run(
        [sys.executable, "-m", "fastetl", *args], capture_output=True, cwd=cwd, timeout=120
    )
    out, err = p.stdout.decode(), p.stderr.decode()
    assert "Traceback" not in err
    return p.returncode, out, err


def test_cli_flags(tmp_path):
    src = tmp_path / "vendas.csv"
    src.write_text(
        "id;preco;pago;cep\n1;1.234,56;S;20040002\n2;45,90;N;30130010\n", encoding="utf-8"
    )
    code, out, err = cli(
        "infer", str(src), "--decimal", ",", "--thousands", "dot",
        "--true-values", "S", "--false-values", "N",
        "--type", "preco=decimal(2)", "--type", "cep=str", "--columns", "preco,pago,cep",
        cwd=tmp_path,
    )  # fmt: skip
    assert code == 0, err
    schema = Schema.from_json(out)
    assert schema.dialect.decimal == "," and schema.dialect.thousands == "."
    assert schema.dialect.true_values == ("S",) and schema.dialect.false_values == ("N",)
    assert [c.type for c in schema.columns] == ["skip", "decimal", "bool", "str"]
    (tmp_path / "s.json").write_text(out, encoding="utf-8")
    code, out, err = cli("convert", str(src), "out.npy", "--schema", "s.json", cwd=tmp_path)
    assert code == 0, err
    t = fastetl.open(tmp_path / "out.npy")
    assert t.decimal("preco").tolist() == [Decimal("1234.56"), Decimal("45.90")]
    assert t["pago"].tolist() == [True, False]
    # sniffed with no flags, and recorded in the sidecar
    code, out, err = cli("convert", str(src), "o2.npy", "--true-values", "S",
                         "--false-values", "N", cwd=tmp_path)  # fmt: skip
    assert code == 0, err
    side = json.loads((tmp_path / "o2.npy.json").read_text(encoding="utf-8"))
    assert side["schema"]["dialect"]["decimal"] == ","
    assert side["schema"]["dialect"]["thousands"] == "."
    assert fastetl.open(tmp_path / "o2.npy")["preco"].tolist() == [1234.56, 45.9]


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["--decimal", ";"], 2, "the decimal mark is '.' or ','"),
        (["--thousands", "x"], 2, "the thousands separator is one of"),
        (["--type", "preco"], 2, "is not NAME=TYPE"),
        (["--type", "nope=str"], 1, "types: no column named ['nope']"),
        (["--columns", "a,,b"], 2, "has an empty item"),
        (["--true-values", "no"], 1, "already means False"),
    ],
)
def test_cli_flag_mistakes_are_one_line(tmp_path, args, code, message):
    src = tmp_path / "v.csv"
    src.write_text("id;preco\n1;1,5\n", encoding="utf-8")
    got, out, err = cli("convert", str(src), "o.npy", *args, cwd=tmp_path)
    assert got == code and message in err and len(err.strip().splitlines()) == 1, err


# -- dates with month names, 12-hour clocks, days of the year -------------------------------
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]  # fmt: skip
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
FORMATS = [
    ("date", "%b %d %Y"), ("date", "%b %d, %Y"), ("date", "%d %B %Y"), ("date", "%d-%b-%y"),
    ("date", "%a, %d %b %Y"), ("date", "%A %d %B %Y"), ("date", "%Y-%j"), ("date", "%d/%m/%y"),
    ("datetime", "%m/%d/%Y %I:%M %p"), ("datetime", "%b %d, %Y %I:%M:%S%p"),
    ("datetime", "%d %B %Y %H:%M"), ("datetime", "%Y-%j %I:%M:%S.%f %p"),
]  # fmt: skip


def write(when: datetime, fmt: str, case: str) -> str:
    """``when`` in ``fmt`` as a file would have it, names in English whatever the locale."""
    out = fmt
    for code, text in (("%B", MONTHS[when.month - 1]), ("%b", MONTHS[when.month - 1][:3]),
                       ("%A", DAYS[when.weekday()]), ("%a", DAYS[when.weekday()][:3]),
                       ("%p", "AM" if when.hour < 12 else "PM")):  # fmt: skip
        out = out.replace(code, getattr(text, case)())
    return when.strftime(out)


@settings(max_examples=300)
@given(
    spec=st.sampled_from(FORMATS),
    when=st.datetimes(min_value=datetime(1901, 1, 1), max_value=datetime(2099, 12, 31)),
    case=st.sampled_from(["title", "upper", "lower"]),
)
def test_formatted_dates_equal_strptime(spec, when, case):
    kind, fmt = spec
    text = write(when, fmt, case)
    want = datetime.strptime(text, fmt)  # the reference
    sch = Schema(
        columns=(Column("x", kind, format=fmt), Column("pad", "skip")), dialect=Dialect(";")
    )
    got = read(f"x;pad\n{text};z\n".encode(), sch)["x"][0]
    if kind == "date":
        assert got == np.datetime64(want.date()), text
    else:
        assert got == np.datetime64(want, "us"), text


@pytest.mark.parametrize(
    "fmt, text",
    [
        ("%b %d %Y", "Sept 1 2020"),  # strptime's %b is the three letters only
        ("%b %d %Y", "Feb 30 2020"),
        ("%B %d %Y", "Jan 1 2020"),
        ("%m/%d/%Y %I:%M %p", "3/15/2024 13:05 PM"),
        ("%m/%d/%Y %I:%M %p", "3/15/2024 0:05 AM"),
        ("%m/%d/%Y %I:%M %p", "3/15/2024 2:05 XM"),
        ("%Y-%j", "2023-366"),  # strptime rolls into the next year; a date that is not there
        ("%Y-%j", "2024-000"),
    ],
)
def test_bad_formatted_dates_are_errors(fmt, text):
    kind = "datetime" if "%I" in fmt else "date"
    sch = Schema(
        columns=(Column("x", kind, format=fmt), Column("pad", "skip")), dialect=Dialect(";")
    )
    with pytest.raises(ParseError, match=f"line 2, column \"x\": '{re.escape(text)}'"):
        read(f"x;pad\n{text};z\n".encode(), sch)


def test_day_or_month_first_is_chosen_said_and_settable(tmp_path):
    data = b"id;data\n1;01/02/2024\n2;03/04/2024\n"
    s = fastetl.infer_schema(data)
    assert s.columns[1].format == "%d/%m/%Y"
    assert s.inferred["date_order"] == {"order": "day-first", "given": False, "columns": ["data"]}
    t = fastetl.read_csv(data, dayfirst=False)
    assert t["data"].tolist() == [datetime.strptime(v, "%m/%d/%Y").date()
                                  for v in ("01/02/2024", "03/04/2024")]  # fmt: skip
    # a date that fits one order only decides, whatever the preference
    s = fastetl.infer_schema(b"id;data\n1;01/02/2024\n2;25/04/2024\n", dayfirst=False)
    assert s.columns[1].format == "%d/%m/%Y" and "date_order" not in s.inferred
    # the CLI says it on stderr, once, and --monthfirst decides
    src = tmp_path / "d.csv"
    src.write_bytes(data)
    code, out, err = cli("convert", str(src), "o.npy", cwd=tmp_path)
    assert code == 0 and err.count("fits both day-first and month-first; read day-first") == 1
    code, out, err = cli("convert", str(src), "o.npy", "--monthfirst", cwd=tmp_path)
    assert code == 0 and "fits both" not in err
    assert fastetl.open(tmp_path / "o.npy")["data"].tolist()[0] == datetime(2024, 1, 2).date()
    code, out, err = cli("convert", str(src), "o.npy", "--dayfirst", "--monthfirst", cwd=tmp_path)
    assert code == 2 and "not allowed with" in err


def test_a_full_pass_takes_up_a_thousands_separator_only_when_unambiguous():
    def file(values):
        rows = ["a;b"] + [f"{v};x" for v in values]
        return ("\n".join(rows) + "\n").encode()

    # the sample (10,000 rows of 20,000) sees 1,5-style numbers; row 7001 has 1.234,5:
    # a "." can only be the thousands separator where the decimal mark is ","
    values = [f"{i},5" for i in range(20000)]
    values[7000] = "1.234,5"
    s = fastetl.infer_schema(file(values), infer_rows="all")
    assert (s.dialect.decimal, s.dialect.thousands) == (",", ".")
    assert fastetl.read_csv(file(values), s)["a"][7000] == float("1234.5")
    # plain integers, then 1,234: a decimal comma or a thousands comma? not taken up
    values = [str(i) for i in range(20000)]
    values[7000] = "1,234"
    s = fastetl.infer_schema(file(values), infer_rows="all")
    assert s.dialect.thousands is None and s.columns[0].type == "str"
    # ... but 1,234.5 can only be a thousands comma
    values[7000] = "1,234.5"
    s = fastetl.infer_schema(file(values), infer_rows="all")
    assert (s.dialect.decimal, s.dialect.thousands) == (".", ",")
    assert fastetl.read_csv(file(values), s)["a"][7000] == float("1234.5")


def test_the_hint_names_the_thousands_separator_a_later_row_needs():
    rows = ["a;b"] + [f"{i},5;x" for i in range(20000)]
    rows[7001] = "1.234,5;y"  # outside the sample of 10,000 rows
    data = ("\n".join(rows) + "\n").encode()
    s = fastetl.infer_schema(data)
    with pytest.raises(ParseError, match=r"line 7002, column \"a\": '1.234,5'") as info:
        fastetl.read_csv(data, s)
    assert 'set the dialect\'s "thousands" to "."' in fastetl.hint_for(info.value, s)


def test_header_detection_reads_numbers_in_the_spelling_of_the_rows_below():
    # a file with no header: 1,5 over 3,5 is data, as 1.5 over 3.5 is (the delimiter is
    # given: with none, "," splits these rows as consistently as ";" and wins)
    data = b"1,5;2,5\n3,5;4,25\n5,5;6,5\n"
    s = fastetl.infer_schema(data, delimiter=";")
    assert s.dialect.header is False and s.dialect.decimal == ","
    assert fastetl.read_csv(data, s)["column_1"].tolist() == [1.5, 3.5, 5.5]
    assert fastetl.infer_schema(b"preco;frete\n3,5;4,25\n5,5;6,5\n").dialect.header is True


def test_cli_says_when_numbers_were_left_as_text(tmp_path):
    src = tmp_path / "a.csv"
    src.write_text('code,label\n"1,234",a\n"5,678",b\n', encoding="utf-8")
    code, out, err = cli("convert", str(src), "o.npy", cwd=tmp_path)
    assert code == 0 and "'code' could be numbers in more than one spelling" in err
    code, out, err = cli("convert", str(src), "o.npy", "--thousands", ",", cwd=tmp_path)
    assert code == 0 and "could be numbers" not in err
    assert fastetl.open(tmp_path / "o.npy")["code"].tolist() == [1234, 5678]


def test_a_headerless_semicolon_file_of_decimal_commas_is_split_on_the_semicolon():
    """1,5;2,5 is two numbers with decimal commas (the reading a person gives it), not the
    three fields 1 / 5;2 / 5 that a comma split makes: the numbers make the `;` reading the
    more typed one.  Values against float() of the text with a point."""
    rows = [("1,5", "2,25"), ("3,0", "-4,75"), ("10,125", "0,5")]
    data = "".join(f"{a};{b}\n" for a, b in rows).encode()
    t = fastetl.read_csv(data)
    assert t.meta["schema"]["dialect"]["delimiter"] == ";"
    assert t.meta["schema"]["dialect"]["decimal"] == ","
    for j, name in enumerate(t.columns):
        assert t[name].tolist() == [float(r[j].replace(",", ".")) for r in rows]
