"""Error messages stay one short line whatever the data holds: values and names are cut
(an ellipsis and the whole length said) and characters that are not printable escaped,
in the API's exceptions and in the CLI's stderr; the inferred schema's hint sizes a
column from the real value, not from the message's excerpt."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_cli import run as run_cli

import fastetl
from fastetl import Schema
from fastetl.errors import SHOWN_CHARS, ParseError, shown

# characters a hostile file may hold: controls, DEL, C1, separators, quotes, backslashes
HOSTILE = st.text(
    alphabet=st.sampled_from(
        list("ab9 ,;'\"\\") + ["\x00", "\x1b", "\x7f", "\x85", "\u2028", "\u2029", "\t", "é", "日"]
    ),
    min_size=1,
    max_size=600,
)


def printable_line(text: str) -> bool:
    return text.isprintable() and "\n" not in text


def test_shown_is_repr_for_short_values_and_cut_for_long_ones():
    assert shown("abc") == repr("abc")
    assert shown("a\nb\x00") == repr("a\nb\x00")
    long = "x" * 1000
    assert shown(long) == repr("x" * SHOWN_CHARS) + "… (1,000 characters)"
    # an excerpt of a longer value says the whole value's length
    assert shown("x" * 10, length=5 << 20, unit="bytes") == repr("x" * 10) + "… (5,242,880 bytes)"
    assert shown('a"b\x1b', quote='"') == '"a"b\\x1b"'


@settings(max_examples=200, deadline=None)
@given(value=HOSTILE, column=HOSTILE)
def test_parse_error_is_one_short_printable_line(value, column):
    e = ParseError("is not a valid int64", line=7, column=column, value=value)
    text = str(e)
    assert printable_line(text)
    assert len(text) < 2 * (4 * SHOWN_CHARS + 100)  # each piece: 200 characters, escaped
    # what is shown is the start of the value, as repr writes it
    assert repr(value[:SHOWN_CHARS]) in text
    if len(value) > SHOWN_CHARS:
        assert f"… ({len(value):,} characters)" in text


def field(text: str) -> bytes:
    return b'"' + text.encode().replace(b'"', b'""') + b'"'


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=HOSTILE)
def test_a_hostile_value_in_a_file_gives_a_short_line(value):
    data = b"id,x\n1,2\n3," + field(value + "z") + b"\n"
    schema = Schema.from_dict(
        {"columns": [{"name": "id", "type": "int64"}, {"name": "x", "type": "int64"}]}
    )
    with pytest.raises(fastetl.ParseError) as info:
        fastetl.read_csv(data, schema)
    e = info.value
    text = str(e)
    assert printable_line(text) and len(text) < 4 * SHOWN_CHARS + 200
    whole = value + "z"
    if len(whole) <= SHOWN_CHARS:
        assert e.value == whole and e.value_bytes is None
    else:
        assert e.value == whole[:SHOWN_CHARS]
        assert e.value_bytes == len(whole.encode())
        assert f"… ({len(whole.encode()):,} bytes)" in text


def test_a_megabyte_header_name_gives_a_short_cli_line(tmp_path: Path):
    """A schema that does not match a header of 6 MB names: the CLI's line lists the
    names cut, with control characters escaped."""
    name = "h\x1b[31m\n" + "n" * (6 << 20)
    src = tmp_path / "in.csv"
    src.write_bytes(field(name) + b",b\n1,2\n")
    schema = tmp_path / "s.json"
    schema.write_text(json.dumps({"columns": [{"name": "a", "type": "int64"}]}))
    code, out, err = run_cli("convert", str(src), str(tmp_path / "o.npy"), "--schema", str(schema))
    assert code == 1
    lines = err.splitlines()
    assert len(lines) == 1 and len(lines[0]) < 2000, len(err)
    assert "\x1b" not in err and "\\x1b" in err
    assert f"({len(name):,} characters)" in err


def test_a_long_value_in_the_cli_line_says_its_length(tmp_path: Path):
    value = "v\r" * 40_000
    src = tmp_path / "in.csv"
    src.write_bytes(b"a,b\n1,2\n3," + field(value) + b"\n")
    schema = tmp_path / "s.json"
    schema.write_text(
        json.dumps({"columns": [{"name": "a", "type": "int64"}, {"name": "b", "type": "float64"}]})
    )
    code, out, err = run_cli("convert", str(src), str(tmp_path / "o.npy"), "--schema", str(schema))
    assert code == 1
    assert err.count("\n") == 1 and len(err) < 600
    assert repr(value[:SHOWN_CHARS]) in err
    assert f"… ({len(value):,} bytes)" in err


def test_the_hint_comes_from_the_real_value(tmp_path: Path):
    """A value far past the sample, longer than the message shows: the hint is sized by
    the whole value (its length in bytes, counted here by Python), not the excerpt -- here
    6,002 bytes where the column is str(368): text (docs/INFERENCE.md: a str would need
    more than twice its width), where the excerpt (200 characters, 400 bytes) would only
    have asked for a wider str."""
    rows = ["k,t"] + [f"{i},{'y' * 240}{i:05d}" for i in range(3000)]
    big = "é" * 3000 + "ok"  # 6,002 bytes, 3,002 characters
    rows.insert(1000, f"3000,{big}")  # (not among the 100 rows sampled)
    src = tmp_path / "in.csv"
    src.write_text("\n".join(rows) + "\n", encoding="utf-8")
    schema = fastetl.infer_schema(src, infer_rows=100)
    assert next(c for c in schema.columns if c.name == "t").to_dict()["width"] == 368
    with pytest.raises(fastetl.ParseError) as info:
        fastetl.read_csv(src, schema)
    e = info.value
    assert len(e.value.encode("utf-8")) <= 400  # the excerpt: str(600) would hold it
    hint = fastetl.hint_for(e, schema)
    assert e.value_bytes == len(big.encode("utf-8"))
    wide = json.loads(hint.split(" to ", 1)[1].split("}, ", 1)[0] + "}")
    assert wide == {"type": "text"}
    # the widened schema reads the file
    fixed = schema.replace(
        columns=tuple(
            c if c.name != "t" else fastetl.Column.from_dict({"name": "t", **wide})
            for c in schema.columns
        )
    )
    table = fastetl.read_csv(src, fixed)
    assert table["t"][999] == big


@pytest.mark.parametrize(
    "columns",
    [
        [{"name": "n" * 100_000, "type": "nope"}],
        [["\x1b" * 100_000]],
        [{"name": "a", "type": "t\n" * 50_000}],
        [{"name": "a", "type": "int8"}, {"name": "a", "type": "int8"}],
    ],
    ids=["long name", "not an object", "long type", "repeated"],
)
def test_schema_errors_over_hostile_schemas_are_short(columns):
    with pytest.raises(fastetl.SchemaError) as info:
        Schema.from_dict({"columns": columns})
    text = str(info.value)
    assert printable_line(text) and len(text) < 2 * SHOWN_CHARS + 200, len(text)
