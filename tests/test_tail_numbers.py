"""Numbers read from their end in whole words (issue 15 item 4) against float() and int().

A float or integer field that starts 8 bytes or more into the parser's buffer is read
backwards in up to three eight-byte words, the bytes before it (the previous field, a
delimiter) masked to '0' (``fastetl_tail_double`` / ``fastetl_tail_digits`` in
_numbers.pxi); a field nearer the start, and any text that is not the usual shape, is read
digit by digit.  Every test here puts the number after a neighbour of every length made of
digit-like bytes (so a mask one byte off would read them), with random signs, and compares
each value with Python's own ``float()`` (bit for bit) or ``int()``, the fast paths on and
off (``_core.set_fast_paths``).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastetl
from fastetl import ParseError, _core
from test_fast_split_float import halfway_texts

FIXTURE = HealthCheck.function_scoped_fixture
INT_TYPES = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]
NEIGHBOURS = st.text(alphabet="0123456789.eE+-", max_size=26)


@pytest.fixture(params=[True, False], ids=["fast", "portable"])
def fast(request):
    was = _core.set_fast_paths(request.param)
    yield request.param
    _core.set_fast_paths(was)


def read(rows: list[tuple[str, str]], kind: str) -> np.ndarray:
    """Rows of (neighbour, number) as a str column and a ``kind`` column: the numbers."""
    schema = fastetl.Schema.from_dict(
        {"dialect": {"header": False, "null_values": []},
         "columns": [{"name": "p", "type": "str", "width": 32}, {"name": "x", "type": kind}]}
    )
    data = "".join(f"{p},{x}\n" for p, x in rows).encode()
    return fastetl.read_csv(data, schema, workers=1).array["x"]


def float_or_none(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def assert_floats(rows: list[tuple[str, str]]) -> None:
    """Each number alone (so a refused one names itself), then all of them in one read."""
    want = [float_or_none(x) for _, x in rows]
    for (p, x), w in zip(rows, want):
        if w is None:
            with pytest.raises(ParseError):
                read([("1", "2"), (p, x)], "float64")
    good = [(p, x) for (p, x), w in zip(rows, want) if w is not None]
    if not good:
        return
    got = read(good, "float64").view(np.uint64)
    ref = np.array([float(x) for _, x in good], dtype=np.float64).view(np.uint64)
    for (p, x), g, r in zip(good, got, ref):
        assert g == r, f"{p!r},{x!r}: bits {int(g):#018x}, float() gives {int(r):#018x}"


# the shapes the word reader takes and the ones next to them: 0-21 digits, a point
# anywhere or none, an exponent of 0-4 digits with or without a sign, or none
digits = st.text(alphabet="0123456789", max_size=21)
exponents = st.one_of(
    st.just(""),
    st.tuples(st.sampled_from("eE"), st.sampled_from(["", "+", "-"]),
              st.text(alphabet="0123456789", max_size=4)).map("".join),
)
float_texts = st.tuples(st.sampled_from(["", "-", "+"]), digits, st.sampled_from(["", "."]),
                        digits, exponents).map("".join)


@settings(max_examples=200, deadline=None, suppress_health_check=[FIXTURE])
@given(rows=st.lists(st.tuples(NEIGHBOURS, float_texts), min_size=1, max_size=30))
def test_float_shapes_after_any_neighbour_are_float(fast, rows):
    assert_floats(rows)


def doubles_texts(fmt: str):
    return st.tuples(
        st.one_of(
            st.floats(allow_nan=False, allow_infinity=False),
            st.integers(1, (1 << 52) - 1).map(lambda b: float(np.uint64(b).view(np.float64))),
        ),
        st.booleans(),
    ).map(lambda t: fmt.format(-t[0] if t[1] else t[0]))


@settings(max_examples=150, deadline=None, suppress_health_check=[FIXTURE])
@given(rows=st.lists(st.tuples(
    NEIGHBOURS,
    st.one_of(doubles_texts("{:.16e}"), doubles_texts("{:.17e}"), doubles_texts("{:.18e}"),
              doubles_texts("{:.18E}"), doubles_texts("{:.17g}"), doubles_texts("{:.3f}"),
              doubles_texts("{:.2f}"), doubles_texts("{!r}"))),
    min_size=1, max_size=30))
def test_17_to_19_digits_exponents_and_subnormals_are_float(fast, rows):
    assert_floats(rows)


@settings(max_examples=100, deadline=None, suppress_health_check=[FIXTURE])
@given(xs=st.lists(st.tuples(st.floats(min_value=1e-307, max_value=1e307), NEIGHBOURS),
                   min_size=1, max_size=10))
def test_near_halfway_texts_round_as_float(fast, xs):
    # the midpoint between two doubles, and its first 17-20 digits cut both ways
    assert_floats([(p, t) for x, p in xs for t in halfway_texts(x)])


def test_the_first_fields_of_the_buffer_and_the_edges(fast):
    # at offsets 0-9 of the data (no whole word before them), and texts at the limits of
    # the word reader: 19 and 20 digits, 20 and 21 bytes, 3 and 4 exponent digits
    texts = ["5", "-5", ".5", "5.", "-0.0", "+0", "9007199254740993", "12345678901234567890",
             "1234567890123456789", "1.234567890123456789", "12345678901234567.89",
             "123456789012345678.9", "1e308", "1e309", "-1e-324", "1e-400", "1.5e0001",
             "4.9406564584124654e-324", "2.2250738585072011e-308", ".", "-", "e5", "1e",
             "1.2.3", "1e+", "+-1", "1ee5", "1e5.", "--1"]
    for lead in range(10):
        p = "9" * lead
        assert_floats([(p, t) for t in texts])


def test_one_word_texts_with_any_points_are_float(fast):
    # 1 to 8 bytes (the one-word reader): digits with no, one or two points in every
    # place, signed or not, after a neighbour of digits and points
    texts = []
    for length in range(1, 9):
        body = "73159264"[:length]
        for i in range(length):
            one = body[:i] + "." + body[i + 1:]
            texts.append(one)
            for j in range(i + 1, length):
                texts.append(one[:j] + "." + one[j + 1:])
        texts.append(body)
    for sign in ("", "-", "+"):
        assert_floats([("12.45678.", sign + t) for t in texts])


def test_scientific_texts_with_1_to_20_fraction_digits_are_float(fast):
    # d.ddd...e+dd (printf's %e, numpy.savetxt): its fraction read alone, for 1 to 18
    # digits; 0 and 19+ digits and near-misses go the general way
    frac = "14159265358979323846"
    texts = []
    for k in range(0, 21):
        for lead in "0379":
            for exp in ("e+00", "e-05", "E+308", "e-324", "e7", "e-0017", "e+123"):
                texts.append(f"{lead}.{frac[:k]}{exp}")
    texts += ["1.2x4e5", "x.123e5", "1..2e5", "1.2.3e5", ".12e5", "12.3e5", "1.e5", "1.-5e3",
              "1.5e", "1.5e+", "-.5e1", "1. 5e3"]
    for sign in ("", "-", "+"):
        assert_floats([("9.99e9", sign + t) for t in texts])


def int_reference(text: str, kind: str) -> int | None:
    info = np.iinfo(kind)
    try:
        v = int(text)
    except ValueError:
        return None
    if text.strip() != text or "_" in text:
        return None
    return v if info.min <= v <= info.max else None


int_texts = st.one_of(
    st.tuples(st.sampled_from(["", "-", "+"]),
              st.text(alphabet="0123456789", min_size=0, max_size=21)).map("".join),
    st.sampled_from(INT_TYPES).flatmap(lambda k: st.sampled_from([
        str(v + d) for v in (int(np.iinfo(k).min), int(np.iinfo(k).max)) for d in (-1, 0, 1)])),
    st.tuples(st.sampled_from(["", "-", "+"]), st.text(alphabet="0123456789.ex", min_size=1,
                                                       max_size=9)).map("".join),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[FIXTURE])
@given(kind=st.sampled_from(INT_TYPES),
       rows=st.lists(st.tuples(NEIGHBOURS, int_texts), min_size=1, max_size=30))
def test_integers_after_any_neighbour_are_int(fast, kind, rows):
    want = [int_reference(x, kind) for _, x in rows]
    for (p, x), w in zip(rows, want):
        if w is None:
            with pytest.raises(ParseError):
                read([("1", "2"), (p, x)], kind)
    good = [(p, x) for (p, x), w in zip(rows, want) if w is not None]
    if good:
        got = read(good, kind)
        assert [int(v) for v in got] == [int(x) for _, x in good]
