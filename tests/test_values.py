"""Every type's value rules (docs/SEMANTICS.md "Values"), table-driven.

Each case is one cell in a file ``x,pad`` (``pad`` is a skip column, so an empty
cell is a real empty field, not a blank line).  The expected value comes from
Python itself (``int()``, ``float()``, ``Decimal``, ``datetime``); every case is
parsed by the core at every block size and by the reference (tests/reference.py),
and both must match the table.
"""

# ruff: noqa: E501  (value tables read best one case per line)

from __future__ import annotations

import math
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

import numpy as np
import pytest
from reference import (
    INT_RANGES,
    RefError,
    core_all,
    core_error_all,
    core_parse_all,
    csv_bytes,
    reference_outcome,
)

import fastetl
from fastetl import Schema

HEADER_LEN = len(b"x,pad\n")


class Err:
    """An expected ParseError at line 2, column "x"; ``reason`` checked when given."""

    def __init__(self, reason: str | None = None):
        self.reason = reason

    def __repr__(self) -> str:
        return f"Err({self.reason!r})" if self.reason else "Err()"


NAN = object()  # any NaN
NAT = object()


def _schema(col: dict, null_values=None) -> Schema:
    d: dict = {"columns": [{"name": "x", **col}, {"name": "pad", "type": "skip"}]}
    if null_values is not None:
        d["dialect"] = {"null_values": list(null_values)}
    return Schema.from_dict(d)


def _data(text: str | bytes) -> bytes:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "surrogateescape")
    return csv_bytes([["x", "pad"], [text, "0"]])


def _same(got, expected) -> bool:
    if expected is NAN:
        return bool(np.isnan(got))
    if expected is NAT:
        return bool(np.isnat(got))
    if isinstance(expected, (float, np.floating)):
        e = np.asarray(expected)
        g = np.asarray(got, dtype=e.dtype)
        return g.tobytes() == e.tobytes()  # bit-identical: -0.0 is not 0.0
    if isinstance(expected, np.datetime64):
        return got.dtype == expected.dtype and got == expected
    if isinstance(expected, bytes):
        return bytes(got) == expected
    return got == expected and type(expected)(got) == expected


def check(col: dict, text, expected, null_values=None):
    """Parse one cell with the reference and the core (all block sizes); compare with the table."""
    schema = _schema(col, null_values)
    data = _data(text)
    ref = reference_outcome(data, schema)
    core = core_all(data, schema)
    if isinstance(expected, Err):
        assert not ref.ok and isinstance(ref.error, RefError), (
            f"reference accepts {text!r}: {ref.describe()}"
        )
        assert not core.ok, f"core accepts {text!r} as {core.array['x'][0]!r}; expected an error"
        e = core.error
        assert isinstance(e, fastetl.ParseError), f"{type(e).__name__}: {e}"
        assert (e.line, e.column) == (2, "x"), f"{text!r}: line {e.line}, column {e.column!r}: {e}"
        assert e.row in (0, None) and e.offset == HEADER_LEN, (e.row, e.offset, str(e))
        if expected.reason is not None:
            assert e.reason == expected.reason, f"{text!r}: {e}"
            assert str(e) == f'line 2, column "x": {text!r} {expected.reason}'
        return e
    assert ref.ok, f"reference rejects {text!r}: {ref.error}"
    assert _same(ref.array["x"][0], expected), (
        f"reference: {text!r} -> {ref.array['x'][0]!r}, expected {expected!r}"
    )
    assert core.ok, f"core rejects {text!r}: {core.describe()}; expected {expected!r}"
    got = core.array["x"][0]
    assert _same(got, expected), f"core: {text!r} -> {got!r}, expected {expected!r}"
    return core.array


# -- integers ------------------------------------------------------------------------------


def _int_cases():
    for t, (lo, hi) in INT_RANGES.items():
        yield t, str(lo), lo
        yield t, str(hi), hi
        yield t, str(lo - 1), Err()
        yield t, str(hi + 1), Err()
        yield t, str(hi * 10), Err()
        yield t, "+5", 5
        yield t, "-0", 0
        yield t, "+0", 0
        yield t, "007", 7
        yield t, "0" * 40 + "1", 1
        yield t, " 42 ", 42
        yield t, "\t42\t", 42
        yield t, " \t+0042\t ", 42
        yield t, "1" + "0" * 30, Err()
        yield t, "-1" + "0" * 30, Err()
        for bad in ["", " ", "+", "-", "--1", "+-1", "4 2", "4_2", "1.0", "1.", "1e2", "0x1A",
                    "12a", "inf", "nan", "١٢", "１", "²", "1,0", "'1'", "abc"]:  # fmt: skip
            yield t, bad, Err(f"is not a valid {t}" if bad.strip() else None)
        if lo < 0:
            yield t, "-5", -5
            yield t, "-" + "0" * 30 + "7", -7
        else:
            yield t, "-1", Err()


INT_CASES = list(_int_cases())


@pytest.mark.parametrize(("t", "text", "expected"), INT_CASES)
def test_int(t, text, expected):
    check({"type": t}, text, expected)


def test_int_exact_at_int64_uint64_edges():
    # no float on the way: neighbours of 2**53 and of the limits stay distinct
    for t, texts in {
        "int64": [
            "9007199254740993",
            "-9007199254740993",
            "9223372036854775806",
            "-9223372036854775807",
        ],
        "uint64": ["9007199254740993", "18446744073709551614", "18446744073709551615"],
    }.items():
        for text in texts:
            check({"type": t}, text, int(text))


# -- floats ----------------------------------------------------------------------------------

FLOAT_TEXTS = [
    "0", "-0", "-0.0", "+0.0", "0e0", "1", "+1.5", "-2.25", "0.1", "0.2", "0.3", "1.", ".5", "-.5e-3",
    "00000.5", "1E5", "1e+5", "1e-5", "1e308", "1.7976931348623157e308", "1.7976931348623158e308",
    "1.7976931348623159e308", "1e309", "1e400", "-1e400", "4.9e-324", "5e-324", "2.4703282292062328e-324",
    "2.4703282292062327e-324", "1e-400", "2.2250738585072011e-308", "2.2250738585072012e-308",
    "2.2250738585072014e-308", "0.1000000000000000055511151231257827021181583404541015625",
    "123456789012345678901234567890", "1234567890.12345678901234567890123", "9007199254740993",
    "9007199254740993.0000000000000000001", "9007199254740995", "1" + "0" * 400, "0." + "0" * 400 + "1",
    "3.14159265358979323846264338327950288419716939937510", "1e-7", "123e-2", "6.02214076e23",
    " 1.5 ", "\t2\t", "inf", "-inf", "+inf", "Infinity", "-INFINITY", "iNf",
]  # fmt: skip
FLOAT_NANS = ["nan", "NaN", "-nan", "+NAN"]
FLOAT_BAD = [
    "", " ", "1_0", "1_000.5", ".", "-.", "e5", "1e", "1e+", "1.2.3", "inf5", "infinit", "infinityy",
    "0x1p3", "0x10", "１", "١", "nan(1)", "1d5", "- 1", "+-1", "1,5", "1 5", "--1", "1e5.0", "abc", "in f",
]  # fmt: skip


@pytest.mark.parametrize("text", FLOAT_TEXTS)
def test_float64_bit_identical_to_python(text):
    check({"type": "float64"}, text, float(text))


@pytest.mark.parametrize("text", FLOAT_NANS)
def test_float64_nan(text):
    check({"type": "float64"}, text, NAN)


@pytest.mark.parametrize("text", FLOAT_BAD)
def test_float64_invalid(text):
    check({"type": "float64"}, text, Err("is not a valid float64" if text.strip() else None))


F32_MAX_HALFWAY = "3.4028235677973366e38"  # exactly halfway between float32 max and 2**128


@pytest.mark.parametrize(
    "text",
    [t for t in FLOAT_TEXTS if not math.isinf(float(t)) and abs(float(t)) < 3.4e38]
    + ["3.4028235e38", "-3.4028235e38", "3.4028234663852886e38", "1e-46", "1.4e-45", "16777217",
       "1.0000000596046448", "1.00000005960464477539062500001", "inf", "-Infinity"],
)  # fmt: skip
def test_float32_is_float32_of_python_float(text):
    # double rounding on purpose: SEMANTICS says numpy.float32(float(text))
    check({"type": "float32"}, text, np.float32(float(text)))


@pytest.mark.parametrize(
    "text", ["3.5e38", "-3.5e38", "1e39", "3.4028236e38", F32_MAX_HALFWAY, "1e300"]
)
def test_float32_overflow_is_an_error(text):
    check({"type": "float32"}, text, Err())


@pytest.mark.parametrize("text", FLOAT_BAD)
def test_float32_invalid(text):
    check({"type": "float32"}, text, Err("is not a valid float32" if text.strip() else None))


def test_float32_nan():
    check({"type": "float32"}, "nan", NAN)


# -- decimals --------------------------------------------------------------------------------

DECIMAL_CASES = [
    # scale, round, text, expected (scaled int64) or Err
    (0, False, "0", 0), (0, False, "-0", 0), (0, False, "123", 123), (0, False, "+5", 5),
    (0, False, "1.", 1), (0, False, "1.0", 1), (0, False, "1.000", 1), (0, False, "1.5", Err()),
    (0, True, "1.5", 2), (0, True, "2.5", 2), (0, True, "-2.5", -2), (0, True, "3.5", 4),
    (0, True, "0.5", 0), (0, True, "-0.5", 0), (0, True, "2.5000000000000000000000001", 3),
    (0, False, "9223372036854775807", 2**63 - 1), (0, False, "9223372036854775808", Err()),
    (0, False, "-9223372036854775808", -(2**63)), (0, False, "-9223372036854775809", Err()),
    (0, True, "9223372036854775807.4", 2**63 - 1), (0, True, "9223372036854775807.5", Err()),
    (0, False, "1" + "0" * 30, Err()), (0, False, "0" * 40 + "42", 42),
    (2, False, "1.23", 123), (2, False, ".5", 50), (2, False, "1.", 100), (2, False, "-0.01", -1),
    (2, False, "-0.00", 0), (2, False, "1.2300", 123), (2, False, "1.2300000000000000000000", 123),
    (2, False, "1.235", Err()), (2, True, "1.235", 124), (2, True, "1.225", 122),
    (2, True, "1.2251", 123), (2, True, "-1.225", -122), (2, True, "-1.2251", -123),
    (2, True, "1.234999999999999999999999999999", 123), (2, False, "0001.10", 110),
    (2, False, "92233720368547758.07", 2**63 - 1), (2, False, "92233720368547758.08", Err()),
    (2, False, "-92233720368547758.08", -(2**63)), (2, False, "-92233720368547758.09", Err()),
    (2, True, "92233720368547758.074", 2**63 - 1), (2, True, "92233720368547758.075", Err()),
    (2, False, " 1.5 ", 150), (2, False, "\t-1.5", -150),
    (2, False, "1e2", Err()), (2, False, "1E-2", Err()), (2, False, "1,5", Err()), (2, False, ".", Err()),
    (2, False, "-", Err()), (2, False, "1.2.3", Err()), (2, False, "abc", Err()), (2, False, "inf", Err()),
    (2, False, "nan", Err()), (2, False, "1_0", Err()), (2, False, "１", Err()), (2, False, "+.5", 50),
    (2, False, "- 1", Err()), (2, False, "0x10", Err()),
    (18, False, "1", 10**18), (18, False, "9.223372036854775807", 2**63 - 1),
    (18, False, "9.223372036854775808", Err()), (18, False, "-9.223372036854775808", -(2**63)),
    (18, False, "10", Err()), (18, False, "0.000000000000000001", 1),
    (18, False, "0.0000000000000000005", Err()), (18, True, "0.0000000000000000005", 0),
    (18, True, "0.0000000000000000015", 2), (18, True, "0.0000000000000000025", 2),
    (18, False, "0.1000000000000000000000", 10**17),
]  # fmt: skip


@pytest.mark.parametrize(("scale", "rnd", "text", "expected"), DECIMAL_CASES)
def test_decimal(scale, rnd, text, expected):
    col = {"type": "decimal", "scale": scale, **({"round": True} if rnd else {})}
    if not isinstance(expected, Err):  # the table itself agrees with decimal.Decimal
        with localcontext() as ctx:
            ctx.prec = 200
            q = Decimal(text.strip()).scaleb(scale)
            if rnd:
                assert expected == int(q.to_integral_value(rounding=ROUND_HALF_EVEN))
            else:
                assert int(q) == q == expected
    check(col, text, expected)


# -- bool ---------------------------------------------------------------------------------------

BOOL_TRUE = ["true", "TRUE", "True", "tRuE", "t", "T", "yes", "YES", "Yes", "1", " true ", "\tyes"]
BOOL_FALSE = ["false", "FALSE", "False", "f", "F", "no", "NO", "No", "0", " 0 ", "\tno\t"]
BOOL_BAD = ["", " ", "2", "-1", "00", "01", "1.0", "y", "n", "tru", "truee", "on", "off", "yes!",
            "nope", "ｔｒｕｅ", "verdadeiro", "t r u e"]  # fmt: skip


@pytest.mark.parametrize("text", BOOL_TRUE)
def test_bool_true(text):
    check({"type": "bool"}, text, True)


@pytest.mark.parametrize("text", BOOL_FALSE)
def test_bool_false(text):
    check({"type": "bool"}, text, False)


@pytest.mark.parametrize("text", BOOL_BAD)
def test_bool_invalid(text):
    check({"type": "bool"}, text, Err())


# -- dates ----------------------------------------------------------------------------------------


def D(s: str) -> np.datetime64:
    return np.datetime64(s, "D")


DATE_CASES = [
    ("2024-02-29", D("2024-02-29")), ("2023-02-29", Err()), ("1900-02-29", Err()),
    ("2000-02-29", D("2000-02-29")), ("2100-02-29", Err()), ("2023-02-28", D("2023-02-28")),
    ("2023-02-30", Err()), ("2024-04-31", Err()), ("2024-04-30", D("2024-04-30")),
    ("1970-01-01", D("1970-01-01")), ("1969-12-31", D("1969-12-31")), ("0001-01-01", D("0001-01-01")),
    ("9999-12-31", D("9999-12-31")), ("0000-01-01", Err()), ("2024-13-01", Err()), ("2024-00-10", Err()),
    ("2024-01-00", Err()), ("2024-01-32", Err()), ("2024-1-01", Err()), ("2024-01-1", Err()),
    ("24-01-01", Err()), ("20240101", Err()), ("2024/01/01", Err()), ("2024-01-01T00:00", Err()),
    ("2024-01-01 00:00", Err()), ("+2024-01-01", Err()), ("12024-01-01", Err()), ("２０２４-01-01", Err()),
    (" 2024-01-01 ", D("2024-01-01")), ("\t2024-01-01", D("2024-01-01")), ("2024-W01-1", Err()),
    ("abc", Err()), ("2024-01-01x", Err()),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), DATE_CASES)
def test_date_iso(text, expected):
    check({"type": "date"}, text, expected)


DATE_FORMAT_CASES = [
    ("%d/%m/%Y", "29/02/2024", D("2024-02-29")), ("%d/%m/%Y", "1/2/2024", D("2024-02-01")),
    ("%d/%m/%Y", "01/02/2024", D("2024-02-01")), ("%d/%m/%Y", "31/12/1999", D("1999-12-31")),
    ("%d/%m/%Y", "31/04/2024", Err()), ("%d/%m/%Y", "29/02/2023", Err()), ("%d/%m/%Y", "29/02/1900", Err()),
    ("%d/%m/%Y", "2024-02-01", Err()), ("%d/%m/%Y", "1/2/24", Err()), ("%d/%m/%Y", "001/02/2024", Err()),
    ("%d/%m/%Y", "1/13/2024", Err()), ("%d/%m/%Y", "1-2-2024", Err()), ("%d/%m/%Y", " 1/2/2024 ", D("2024-02-01")),
    ("%d/%m/%Y", "1//2/2024", Err()), ("%m.%d.%Y", "12.31.2024", D("2024-12-31")),
    ("%m.%d.%Y", "31.12.2024", Err()), ("%Y-%m-%d", "2024-2-3", D("2024-02-03")),
    ("dia %d de %m de %Y", "dia 5 de 6 de 2024", D("2024-06-05")), ("dia %d de %m de %Y", "5 de 6 de 2024", Err()),
    ("iso", "2024-02-29", D("2024-02-29")),
]  # fmt: skip


@pytest.mark.parametrize(("fmt", "text", "expected"), DATE_FORMAT_CASES)
def test_date_format(fmt, text, expected):
    check({"type": "date", "format": fmt}, text, expected)


# -- datetimes -----------------------------------------------------------------------------


def DT(
    local: str, unit: str = "us", offset: timedelta = timedelta(0), extra_ns: int = 0
) -> np.datetime64:
    """The UTC instant of ``local`` at ``offset``, by datetime arithmetic, as numpy datetime64[unit]."""
    utc = datetime.fromisoformat(local) - offset
    ns = (utc - datetime(1970, 1, 1)) // timedelta(microseconds=1) * 1000 + extra_ns
    per = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}[unit]
    assert ns % per == 0
    return np.datetime64(ns // per, unit)


H = timedelta(hours=1)
M = timedelta(minutes=1)

DATETIME_CASES = [
    ("2024-01-02", "us", DT("2024-01-02T00:00")),
    ("2024-01-02T03:04", "us", DT("2024-01-02T03:04")),
    ("2024-01-02 03:04", "us", DT("2024-01-02T03:04")),
    ("2024-01-02T03:04:05", "us", DT("2024-01-02T03:04:05")),
    ("2024-01-02T03:04:05.1", "us", DT("2024-01-02T03:04:05.100000")),
    ("2024-01-02T03:04:05.123456", "us", DT("2024-01-02T03:04:05.123456")),
    ("2024-01-02T03:04:05.123456000", "us", DT("2024-01-02T03:04:05.123456")),
    ("2024-01-02T03:04:05.1234567", "us", Err()),
    ("2024-01-02T03:04:05.123456789", "us", Err()),
    ("2024-01-02T03:04:05.1234567890", "us", Err()),
    ("2024-01-02T03:04:05Z", "us", DT("2024-01-02T03:04:05")),
    ("2024-01-02T03:04Z", "us", DT("2024-01-02T03:04")),
    ("2024-01-02T03:04:05+02:00", "us", DT("2024-01-02T03:04:05", offset=2 * H)),
    ("2024-01-02T03:04:05-05:30", "us", DT("2024-01-02T03:04:05", offset=-(5 * H + 30 * M))),
    ("2024-01-02T03:04:05+0530", "us", DT("2024-01-02T03:04:05", offset=5 * H + 30 * M)),
    ("2024-01-02T03:04:05-0800", "us", DT("2024-01-02T03:04:05", offset=-8 * H)),
    ("2024-01-02T03:04:05+05", "us", DT("2024-01-02T03:04:05", offset=5 * H)),
    ("2024-01-02T03:04:05.5-03", "us", DT("2024-01-02T03:04:05.500000", offset=-3 * H)),
    ("2024-01-01T01:00+02:00", "us", DT("2023-12-31T23:00")),
    ("2024-03-01T00:30+01:00", "us", DT("2024-02-29T23:30")),
    ("2023-12-31T23:30-01:00", "us", DT("2024-01-01T00:30")),
    ("1969-12-31T23:59:59.999999", "us", DT("1969-12-31T23:59:59.999999")),
    ("0001-01-01T00:00", "us", DT("0001-01-01T00:00")),
    ("9999-12-31T23:59:59.999999", "us", DT("9999-12-31T23:59:59.999999")),
    (" 2024-01-02T03:04Z\t", "us", DT("2024-01-02T03:04")),
    ("2024-02-30T00:00", "us", Err()),
    ("2023-02-29", "us", Err()),
    ("2024-01-02T3:04", "us", Err()),
    ("2024-01-02T03:4", "us", Err()),
    ("2024-01-02T03", "us", Err()),
    ("2024-01-02T03:60", "us", Err()),
    ("2024-01-02T25:00", "us", Err()),
    ("2024-01-02T03:04:61", "us", Err()),
    ("2024-01-02T03:04:05.", "us", Err()),
    ("2024-01-02  03:04", "us", Err()),
    ("2024-01-02T", "us", Err()),
    ("2024-01-02T03:04:05+2", "us", Err()),
    ("2024-01-02T03:04:05+02:00:00", "us", Err()),
    ("2024-01-02T03:04:05 +02:00", "us", Err()),
    ("2024-01-0203:04", "us", Err()),
    ("abc", "us", Err()),
    ("2024-01-02T03:04:05", "s", DT("2024-01-02T03:04:05", "s")),
    ("2024-01-02T03:04:05.000", "s", DT("2024-01-02T03:04:05", "s")),
    ("2024-01-02T03:04:05.5", "s", Err()),
    ("2024-01-02T03:04:05.123", "ms", DT("2024-01-02T03:04:05.123000", "ms")),
    ("2024-01-02T03:04:05.1230", "ms", DT("2024-01-02T03:04:05.123000", "ms")),
    ("2024-01-02T03:04:05.1234", "ms", Err()),
    ("2024-01-02T03:04:05.123456789", "ns", DT("2024-01-02T03:04:05.123456", "ns", extra_ns=789)),
    ("2024-01-02T03:04:05.000000001+01:00", "ns", DT("2024-01-02T02:04:05", "ns", extra_ns=1)),
    ("1677-09-22T00:00", "ns", DT("1677-09-22T00:00", "ns")),
    ("2262-04-11T00:00", "ns", DT("2262-04-11T00:00", "ns")),
    ("2262-04-12T00:00", "ns", Err()),
    ("1677-09-21T00:00", "ns", Err()),
]


@pytest.mark.parametrize(("text", "unit", "expected"), DATETIME_CASES)
def test_datetime_iso(text, unit, expected):
    check({"type": "datetime", **({"unit": unit} if unit != "us" else {})}, text, expected)


DATETIME_FORMAT_CASES = [
    ("%d/%m/%Y %H:%M", "29/02/2024 13:45", DT("2024-02-29T13:45")),
    ("%d/%m/%Y %H:%M", "29/02/2023 13:45", Err()),
    ("%d/%m/%Y %H:%M", "29/02/2024 24:45", Err()),
    ("%d/%m/%Y %H:%M:%S", "1/2/2024 01:02:03", DT("2024-02-01T01:02:03")),
    ("%d/%m/%Y %H:%M:%S.%f", "1/2/2024 01:02:03.5", DT("2024-02-01T01:02:03.500000")),
    ("%d/%m/%Y %H:%M:%S.%f", "1/2/2024 01:02:03.000123", DT("2024-02-01T01:02:03.000123")),
    ("%d/%m/%Y %H:%M:%S.%f", "1/2/2024 01:02:03", Err()),
    ("%Y-%m-%d %H:%M:%S %z", "2024-02-01 01:02:03 Z", DT("2024-02-01T01:02:03")),
    ("%Y-%m-%d %H:%M:%S %z", "2024-02-01 01:02:03 +01:00", DT("2024-02-01T00:02:03")),
]


@pytest.mark.parametrize(("fmt", "text", "expected"), DATETIME_FORMAT_CASES)
def test_datetime_format(fmt, text, expected):
    check({"type": "datetime", "format": fmt}, text, expected)


# -- str -----------------------------------------------------------------------------------

STR_CASES = [
    # width, truncate, cell (str, or bytes for invalid UTF-8), expected bytes or Err
    (4, False, "abcd", b"abcd"), (4, False, "abc", b"abc"), (4, False, "abcde", Err()),
    (4, True, "abcde", b"abcd"), (4, False, "aé€", Err()), (4, True, "aé€", "aé".encode()),
    (6, False, "aé€", "aé€".encode()), (3, True, "aé€", "aé".encode()), (2, True, "aé€", b"a"),
    (1, True, "é", b""), (1, False, "é", Err()), (4, False, "😀", "😀".encode()), (3, True, "😀", b""),
    (5, True, "a😀b", "a😀".encode()), (4, True, "a😀b", b"a"), (4, False, " x ", b" x "),
    (4, False, "\tx", b"\tx"), (4, False, "a\r\nb", b"a\r\nb"), (4, False, 'a"b', b'a"b'),
    (4, False, "a,b", b"a,b"), (2, False, '""', b'""'), (40, False, "São Paulo ☕", "São Paulo ☕".encode()),
    (4, False, b"\xff", Err()), (4, False, b"a\xc3", Err()), (4, False, b"\xc0\xaf", Err()),
    (4, False, b"\xed\xa0\x80", Err()), (4, False, b"\xf4\x90\x80\x80", Err()),
    (4, False, b"\x80", Err()), (4, True, b"abcd\xff", Err()), (4, True, b"\xffabcd", Err()),
    (8, True, b"\xe2\x82", Err()),
]  # fmt: skip


@pytest.mark.parametrize(("width", "trunc", "text", "expected"), STR_CASES)
def test_str(width, trunc, text, expected):
    col = {"type": "str", "width": width, **({"truncate": True} if trunc else {})}
    arr = check(col, text, expected)
    if not isinstance(expected, Err):
        # stored zero-padded to the width: compare the raw record bytes
        assert arr["x"].tobytes() == expected.ljust(width, b"\0")


# -- empty fields and nulls, every type ----------------------------------------------------

TYPES = {
    "int8": {"type": "int8"},
    "uint64": {"type": "uint64"},
    "float32": {"type": "float32"},
    "float64": {"type": "float64"},
    "bool": {"type": "bool"},
    "date": {"type": "date"},
    "datetime": {"type": "datetime"},
    "decimal": {"type": "decimal", "scale": 2},
    "str": {"type": "str", "width": 3},
    "category": {"type": "category"},
    "category_fixed": {"type": "category", "values": ["a", "b"]},
}


@pytest.mark.parametrize(
    "name", [n for n in TYPES if n not in ("str", "category", "category_fixed")]
)
@pytest.mark.parametrize("text", ["", " ", "\t \t"])
def test_empty_in_non_nullable_column_is_an_error(name, text):
    check(TYPES[name], text, Err("is empty and the column is not nullable"))


def test_empty_in_non_nullable_str_and_category_is_the_empty_string():
    check(TYPES["str"], "", b"")
    arr = check(TYPES["category"], "", 0)
    assert arr.dtype.names == ("x",)  # no null mask for non-nullable columns


@pytest.mark.parametrize(
    ("name", "expected"),
    [("float32", NAN), ("float64", NAN), ("date", NAT), ("datetime", NAT)],
)
@pytest.mark.parametrize("text", ["", "  "])
def test_nullable_nan_and_nat(name, expected, text):
    arr = check({**TYPES[name], "nullable": True}, text, expected)
    assert arr.dtype.names == ("x",)


@pytest.mark.parametrize(
    ("name", "text", "zero"),
    [
        ("int8", "", 0), ("int8", " ", 0), ("uint64", "", 0), ("bool", "", False), ("decimal", "\t", 0),
        ("str", "", b""), ("category", "", 0), ("category_fixed", "", 0),
    ],
)  # fmt: skip
def test_nullable_masked_columns_store_zero_and_set_the_bit(name, text, zero):
    arr = check({**TYPES[name], "nullable": True}, text, zero)
    assert arr.dtype.names == ("x", "_nulls")
    assert arr["_nulls"][0] == 1
    assert not arr["x"].tobytes().strip(b"\0")  # value bytes are all zero


def test_nullable_value_clears_the_bit():
    arr = check({"type": "int8", "nullable": True}, "-7", -7)
    assert arr["_nulls"][0] == 0
    arr = check(
        {"type": "str", "width": 3, "nullable": True}, " ", b" "
    )  # str keeps spaces: not null
    assert arr["_nulls"][0] == 0


NULL_BITS_SCHEMA = {
    "columns": [
        {"name": "a", "type": "int8", "nullable": True},
        {"name": "f", "type": "float64", "nullable": True},
        {"name": "b", "type": "str", "width": 3, "nullable": True},
        {"name": "d", "type": "date", "nullable": True},
        {"name": "plain", "type": "int16"},
        {"name": "c", "type": "bool", "nullable": True},
        {"name": "sk", "type": "skip"},
        {"name": "e", "type": "decimal", "scale": 1, "nullable": True},
        {"name": "t", "type": "datetime", "nullable": True},
        {"name": "g", "type": "category", "nullable": True},
    ]
}


def test_null_bits_follow_schema_order_of_masked_columns():
    s = Schema.from_dict(NULL_BITS_SCHEMA)
    rows = [
        ["a", "f", "b", "d", "plain", "c", "sk", "e", "t", "g"],
        ["1", "1.5", "x", "2024-01-01", "1", "true", "?", "1.5", "2024-01-01T00:00", "k"],
        ["", "1.5", "x", "2024-01-01", "2", "true", "?", "1.5", "2024-01-01T00:00", "k"],
        ["1", "", "", "", "3", "true", "?", "1.5", "", "k"],
        ["1", "1.5", "x", "2024-01-01", "4", "", "?", "1.5", "2024-01-01T00:00", "k"],
        ["1", "1.5", "x", "2024-01-01", "5", "true", "?", "", "2024-01-01T00:00", "k"],
        ["1", "1.5", "x", "2024-01-01", "6", "true", "?", "1.5", "2024-01-01T00:00", ""],
        ["", "", "", "", "7", "", "", "", "", ""],
    ]
    arr = core_parse_all(csv_bytes(rows), s)
    # masked columns in schema order: a=bit0, b=bit1, c=bit2, e=bit3, g=bit4
    assert arr.dtype.names == ("a", "f", "b", "d", "plain", "c", "e", "t", "g", "_nulls")
    assert arr["_nulls"].dtype == np.dtype("<u1")
    assert arr["_nulls"].tolist() == [0, 0b1, 0b10, 0b100, 0b1000, 0b10000, 0b11111]
    assert np.isnan(arr["f"]).tolist() == [False, False, True, False, False, False, True]
    assert np.isnat(arr["d"]).tolist() == [False, False, True, False, False, False, True]
    assert np.isnat(arr["t"]).tolist() == [False, False, True, False, False, False, True]
    assert arr["plain"].tolist() == [1, 2, 3, 4, 5, 6, 7]
    assert arr["g"].tolist() == [0, 0, 0, 0, 0, 0, 0]  # null -> code 0 (with its bit set)


def test_null_bits_beyond_64_columns():
    cols = [{"name": f"c{i}", "type": "uint8", "nullable": True} for i in range(70)]
    s = Schema.from_dict({"columns": cols})
    header = [f"c{i}" for i in range(70)]
    row1 = [str(i) for i in range(70)]
    row2 = [("" if i in (0, 63, 64, 69) else "1") for i in range(70)]
    arr = core_parse_all(csv_bytes([header, row1, row2]), s, block_sizes=(None, 1, 7, 4096))
    assert arr.dtype.names[-2:] == ("_nulls", "_nulls1")
    assert arr["_nulls"].dtype == np.dtype("<u8") and arr["_nulls1"].dtype == np.dtype("<u1")
    assert arr["_nulls"].tolist() == [0, (1 << 0) | (1 << 63)]
    assert arr["_nulls1"].tolist() == [0, (1 << 0) | (1 << 5)]
    assert arr["c69"].tolist() == [69, 0]


# -- null_values tokens --------------------------------------------------------------------

NULLS = ["", "NA", "null"]


@pytest.mark.parametrize(
    ("col", "text", "expected", "is_null"),
    [
        ({"type": "int32", "nullable": True}, "NA", 0, True),
        ({"type": "int32", "nullable": True}, " NA ", 0, True),  # trimmed for non-str types
        ({"type": "int32", "nullable": True}, "null", 0, True),
        ({"type": "int32", "nullable": True}, "", 0, True),
        ({"type": "int32", "nullable": True}, "na", Err(), None),  # tokens are case-sensitive
        ({"type": "int32", "nullable": True}, "NULL", Err(), None),
        ({"type": "int32"}, "NA", Err("is empty and the column is not nullable"), None),
        ({"type": "float64", "nullable": True}, " null", NAN, None),
        ({"type": "date", "nullable": True}, "NA", NAT, None),
        ({"type": "str", "width": 4, "nullable": True}, "NA", b"", True),
        ({"type": "str", "width": 4, "nullable": True}, " NA ", b" NA ", False),  # str is verbatim
        ({"type": "str", "width": 4, "nullable": True}, "nul", b"nul", False),
        ({"type": "str", "width": 4}, "NA", b"NA", None),  # non-nullable str keeps its text
        ({"type": "category"}, "null", 0, None),  # ... and so does a non-nullable category
        ({"type": "category", "nullable": True}, "null", 0, True),
        ({"type": "bool", "nullable": True}, "NA", False, True),
    ],
)
def test_null_values_tokens(col, text, expected, is_null):
    arr = check(col, text, expected, null_values=NULLS)
    if is_null is not None:
        assert arr["_nulls"][0] == int(is_null)


# Null markers that are also valid values: the core stores a plain field as it stands
# only when no marker could convert (Parser op_as_is); these pin the other case.
NOT_NULLABLE = Err("is empty and the column is not nullable")
VALUE_NULLS = ["", "0", "-1", "2.5", "true", "2020-01-02", "2020-01-02T03:04:05"]


@pytest.mark.parametrize(
    ("col", "text", "expected", "is_null"),
    [
        ({"type": "int8", "nullable": True}, "0", 0, True),
        ({"type": "int64", "nullable": True}, "-1", 0, True),
        ({"type": "uint16", "nullable": True}, "0", 0, True),
        ({"type": "int32", "nullable": True}, "1", 1, False),
        ({"type": "int32"}, "0", NOT_NULLABLE, None),
        ({"type": "uint32"}, " 0 ", NOT_NULLABLE, None),
        ({"type": "decimal", "scale": 2, "nullable": True}, "2.5", 0, True),
        ({"type": "decimal", "scale": 2}, "2.5", NOT_NULLABLE, None),
        ({"type": "float64", "nullable": True}, "2.5", NAN, None),
        ({"type": "float32", "nullable": True}, "-1", NAN, None),
        ({"type": "float64"}, "-1", NOT_NULLABLE, None),
        ({"type": "bool", "nullable": True}, "true", False, True),
        ({"type": "bool"}, "true", NOT_NULLABLE, None),
        ({"type": "date", "nullable": True}, "2020-01-02", NAT, None),
        ({"type": "date"}, "2020-01-02", NOT_NULLABLE, None),
        ({"type": "datetime", "nullable": True}, "2020-01-02T03:04:05", NAT, None),
        ({"type": "str", "width": 4, "nullable": True}, "0", b"", True),
        ({"type": "str", "width": 4}, "0", b"0", None),  # a non-nullable str keeps its text
    ],
)
def test_null_markers_that_are_values(col, text, expected, is_null):
    arr = check(col, text, expected, null_values=VALUE_NULLS)
    if is_null is not None and not isinstance(expected, Err):
        assert arr["_nulls"][0] == int(is_null)


@pytest.mark.parametrize(
    ("col", "text", "expected", "is_null"),
    [
        ({"type": "int16", "nullable": True}, " 7 ", 7, False),  # blanks trimmed
        ({"type": "int16", "nullable": True}, "  ", 0, True),  # blank: trimmed to the marker
        ({"type": "int16", "nullable": True}, "", 0, True),
        ({"type": "int16"}, "\t", NOT_NULLABLE, None),
        ({"type": "decimal", "scale": 1, "nullable": True}, " 1.5", 15, False),
        ({"type": "date", "nullable": True}, "2020-01-02 ", np.datetime64("2020-01-02", "D"), None),
        ({"type": "date", "nullable": True}, " ", NAT, None),
        ({"type": "float64", "nullable": True}, "\t2.5", 2.5, None),
        ({"type": "category", "values": ["a", " a"]}, " a", 1, None),  # kept as it stands
    ],
)
def test_plain_fields_that_need_trimming_or_are_null(col, text, expected, is_null):
    """With the empty text the only null marker, a field is first stored as it stands;
    one with blanks or a null must still come out as the general path makes it."""
    arr = check(col, text, expected, null_values=[""])
    if is_null is not None:
        assert arr["_nulls"][0] == int(is_null)


def test_empty_is_not_null_when_not_listed():
    check({"type": "int32", "nullable": True}, "", Err(), null_values=["NA"])
    arr = check({"type": "str", "width": 2, "nullable": True}, "", b"", null_values=["NA"])
    assert arr["_nulls"][0] == 0
    arr = check({"type": "int32", "nullable": True}, "NA", 0, null_values=["NA"])
    assert arr["_nulls"][0] == 1


# -- categories ----------------------------------------------------------------------------


def _one_col(col: dict, cells: list[str], **dialect) -> tuple[Schema, bytes]:
    d: dict = {"columns": [{"name": "x", **col}, {"name": "pad", "type": "skip"}]}
    if dialect:
        d["dialect"] = dialect
    return Schema.from_dict(d), csv_bytes([["x", "pad"]] + [[c, "0"] for c in cells])


def test_category_fixed_codes_are_indexes():
    s, data = _one_col(
        {"type": "category", "values": ["red", "green", "blue"]}, ["blue", "red", "green", "blue"]
    )
    arr = core_parse_all(data, s)
    assert arr["x"].dtype == np.dtype("u1")
    assert arr["x"].tolist() == [2, 0, 1, 2]


@pytest.mark.parametrize("bad", ["Red", " red", "red ", "purple", "r"])
def test_category_fixed_unknown_value_is_an_error(bad):
    s, data = _one_col(
        {"type": "category", "values": ["red", "green"]}, ["red", "green", bad, "red"]
    )
    e = core_error_all(data, s)
    assert (e.line, e.column, e.value) == (4, "x", bad)


def test_category_learned_first_appearance_order():
    cells = ["b", "a", "b", " a", "c", "a", "", "é", "b"]
    s, data = _one_col({"type": "category"}, cells)
    arr = core_parse_all(data, s)
    assert arr["x"].dtype == np.dtype("<u2")
    assert arr["x"].tolist() == [0, 1, 0, 2, 3, 1, 4, 5, 0]


def test_category_learned_limit():
    s, data = _one_col({"type": "category", "max_values": 3}, ["a", "b", "a", "c", "b", "c", "a"])
    assert core_parse_all(data, s)["x"].tolist() == [0, 1, 0, 2, 1, 2, 0]
    s, data = _one_col({"type": "category", "max_values": 3}, ["a", "b", "a", "c", "b", "d", "a"])
    e = core_error_all(data, s)
    assert (e.line, e.column, e.value, e.row) == (7, "x", "d", 5)


def test_category_learned_limit_ignores_nulls():
    s, data = _one_col(
        {"type": "category", "max_values": 2, "nullable": True}, ["a", "", "b", "", "a"]
    )
    arr = core_parse_all(data, s)
    assert arr["x"].tolist() == [0, 0, 1, 0, 0]
    assert arr["_nulls"].tolist() == [0, 1, 0, 1, 0]


def test_category_many_learned_values():
    cells = [f"v{i % 700}" for i in range(2100)]
    s, data = _one_col({"type": "category"}, cells)
    arr = core_parse_all(data, s, block_sizes=(None, 1, 64, 4096))
    assert arr["x"].tolist() == [i % 700 for i in range(2100)]


# -- flags ---------------------------------------------------------------------------------

FLAGS_SCHEMA = {
    "columns": [
        {"name": "id", "type": "int32"},
        {"name": "pay", "type": "category"},
        {"name": "note", "type": "skip"},
    ],
    "flags": [
        {
            "name": "flags",
            "type": "uint8",
            "bits": [
                {"name": "is_prime", "column": "is_prime"},
                {"name": "pix", "column": "pay", "equals": "pix"},
                {"name": "card", "column": "pay", "equals": "cartão"},
                {"name": "gift", "column": "note", "equals": "gift"},
            ],
        }
    ],
}


def test_flags_bool_source_and_equals():
    s = Schema.from_dict(FLAGS_SCHEMA)
    rows = [
        ["id", "is_prime", "pay", "note"],
        ["1", "true", "pix", "gift"],
        ["2", "no", "cartão", ""],
        ["3", "YES", "Pix", "gift "],  # equals is exact: no case folding, no trimming
        ["4", " 1 ", " pix", "x"],
        ["5", "0", "boleto", "gift"],
        ["6", "f", "", ""],
    ]
    arr = core_parse_all(csv_bytes(rows), s)
    assert arr.dtype.names == ("id", "pay", "flags")
    assert arr["flags"].dtype == np.dtype("u1")
    assert arr["flags"].tolist() == [0b1011, 0b0100, 0b0001, 0b0001, 0b1000, 0b0000]
    assert arr["pay"].tolist() == [0, 1, 2, 3, 4, 5]


@pytest.mark.parametrize("bad", ["maybe", "", "2"])
def test_flags_bool_source_invalid(bad):
    s = Schema.from_dict(FLAGS_SCHEMA)
    rows = [["id", "is_prime", "pay", "note"], ["1", "true", "pix", ""], ["2", bad, "pix", ""]]
    e = core_error_all(csv_bytes(rows), s)
    assert (e.line, e.column) == (3, "is_prime")


def test_flags_nullable_bool_source_empty_is_zero():
    s = Schema.from_dict(
        {
            "columns": [
                {"name": "id", "type": "int32"},
                {"name": "vip", "type": "bool", "nullable": True},
            ],
            "flags": [{"name": "fl", "bits": [{"column": "vip"}]}],
        }
    )
    rows = [["id", "vip"], ["1", "true"], ["2", ""], ["3", "false"]]
    arr = core_parse_all(csv_bytes(rows), s)
    assert arr.dtype.names == ("id", "vip", "fl", "_nulls")
    assert arr["fl"].tolist() == [1, 0, 0]
    assert arr["vip"].tolist() == [True, False, False]
    assert arr["_nulls"].tolist() == [0, 1, 0]


def _flag_schema(source: dict, nulls=None) -> Schema:
    d: dict = {
        "columns": [{"name": "x", "type": "int8"}, {"name": "f", **source}],
        "flags": [{"name": "fl", "bits": [{"name": "b", "column": "f"}]}],
    }
    if nulls is not None:
        d["dialect"] = {"null_values": nulls}
    return Schema.from_dict(d)


@pytest.mark.parametrize(
    ("source", "nulls", "text", "expected"),
    [
        # a null marker in a source that is not nullable is an error, whatever the marker
        ({"type": "skip"}, ["0"], "0", Err("is empty and the column is not nullable")),
        ({"type": "skip"}, ["NA", ""], "NA", Err("is empty and the column is not nullable")),
        ({"type": "skip"}, ["NA", ""], " NA ", Err("is empty and the column is not nullable")),
        ({"type": "bool", "nullable": True}, ["NA"], " NA", 0),
        ({"type": "skip"}, ["NA"], "", Err("is not a valid bool (for flag bit b)")),
        # a str source is read as a bool too: trimmed, nulls first
        ({"type": "str", "width": 8}, None, " true", 1),
        ({"type": "str", "width": 8}, None, "", Err("is empty and the column is not nullable")),
        ({"type": "str", "width": 8, "nullable": True}, None, " ", 0),
        ({"type": "category"}, None, "yes\t", 1),
    ],
)
def test_flags_bool_source_reads_like_a_bool_column(source, nulls, text, expected):
    s = _flag_schema(source, nulls)
    data = csv_bytes([["x", "f"], ["1", text]])
    ref = reference_outcome(data, s)
    core = core_all(data, s)
    if isinstance(expected, Err):
        assert not ref.ok and not core.ok
        e = core.error
        assert (e.line, e.column, e.reason) == (2, "f", expected.reason), str(e)
        assert expected.reason.startswith(ref.error.reason), ref.error.reason
        return
    assert ref.ok and core.ok, (ref.describe(), core.describe())
    assert core.array["fl"].tolist() == ref.array["fl"].tolist() == [expected]


def test_flags_sixteen_bits():
    bits = [{"name": f"b{i}", "column": "code", "equals": str(i)} for i in range(12)]
    s = Schema.from_dict(
        {
            "columns": [{"name": "code", "type": "int8"}],
            "flags": [{"name": "fl", "type": "uint16", "bits": bits}],
        }
    )
    rows = [["code"]] + [[str(i)] for i in range(13)]
    arr = core_parse_all(csv_bytes(rows), s)
    assert arr["fl"].dtype == np.dtype("<u2")
    assert arr["fl"].tolist() == [1 << i for i in range(12)] + [0]
    assert arr["code"].tolist() == list(range(13))


def test_flags_headerless_source_by_position():
    s = Schema.from_dict(
        {
            "dialect": {"header": False},
            "columns": [{"name": "a", "type": "int8"}, {"name": "p", "type": "skip"}],
            "flags": [{"name": "fl", "bits": [{"column": "p", "equals": "y"}]}],
        }
    )
    arr = core_parse_all(b"1,y\n2,n\n3,y", s)
    assert arr["a"].tolist() == [1, 2, 3]
    assert arr["fl"].tolist() == [1, 0, 1]
