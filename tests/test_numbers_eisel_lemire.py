"""The Eisel-Lemire step of the float converter, and its 128-bit product, against Python.

``_core.eisel_lemire(mant, exp10, portable)`` is the step every float with up to 19
significant digits goes through when Clinger's exact path does not apply (``%.18e`` texts,
large and small exponents): ``mant * 10**exp10`` correctly rounded, or None when two
64x128-bit products cannot decide.  It runs here with the compiler's 128-bit product
(``__int128``; ``_umul128``/``__umulh`` on MSVC) and with the portable four-product one that
MSVC on other CPUs and FASTETL_PORTABLE builds use (``_core.mul64``), so both are checked on
every platform.  The reference is Python's ``float()`` of the same decimal text, bit for bit.
"""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastetl import _core

U64 = (1 << 64) - 1
PRODUCTS = pytest.mark.parametrize("portable", [False, True], ids=["native", "portable"])


def bits(x: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def assert_step(mant: int, exp10: int, portable: bool, must_decide: bool = False) -> None:
    """The step's answer is float()'s, bit for bit, and both products give the same answer."""
    got = _core.eisel_lemire(mant, exp10, portable)
    other = _core.eisel_lemire(mant, exp10, not portable)
    assert (got is None) == (other is None), (mant, exp10)
    if got is None:
        assert not must_decide, f"{mant}e{exp10} left undecided"
        return
    want = float(f"{mant}e{exp10}")
    assert bits(got) == bits(want), f"{mant}e{exp10}: {got!r}, float() gives {want!r}"
    assert bits(other) == bits(want)


# -- the 128-bit product -----------------------------------------------------------------

EDGES = [0, 1, 2, 3, (1 << 32) - 1, 1 << 32, (1 << 32) + 1, (1 << 63) - 1, 1 << 63, U64 - 1,
         U64, 0xFFFFFFFF00000000, 0x00000000FFFFFFFF, 0x8000000080000000, 10**19]


@PRODUCTS
def test_mul64_edges_are_the_integer_product(portable):
    for a in EDGES:
        for b in EDGES:
            hi, lo = _core.mul64(a, b, portable)
            assert (hi << 64) | lo == a * b, (a, b)


@PRODUCTS
@settings(max_examples=400, deadline=None)
@given(a=st.integers(0, U64), b=st.integers(0, U64))
def test_mul64_is_the_integer_product(portable, a, b):
    hi, lo = _core.mul64(a, b, portable)
    assert (hi << 64) | lo == a * b


# -- the step ------------------------------------------------------------------------------


@PRODUCTS
@settings(max_examples=600, deadline=None)
@given(mant=st.one_of(st.integers(1, U64), st.integers(10**16, 10**19 - 1),
                      st.integers(1, 1 << 53)),
       exp10=st.integers(-360, 330))
def test_any_mantissa_and_exponent_round_as_float(portable, mant, exp10):
    assert_step(mant, exp10, portable)


def doubles():
    return st.one_of(
        st.floats(min_value=0.0, exclude_min=True, allow_infinity=False),
        st.integers(1, (1 << 52) - 1).map(lambda b: struct.unpack("<d", struct.pack("<Q", b))[0]),
    )


@PRODUCTS
@settings(max_examples=400, deadline=None)
@given(x=doubles(), digits=st.integers(17, 19))
def test_every_17_to_19_digit_text_of_a_double_is_decided_and_exact(portable, x, digits):
    # what numpy.savetxt's %.18e and repr-like formats write: the bits just below the
    # rounding bit are a run of zeros or ones, the case the step must still decide alone
    text = f"{x:.{digits - 1}e}"
    body, exp = text.split("e")
    mant = int(body.replace(".", ""))
    assert_step(mant, int(exp) - (digits - 1), portable, must_decide=True)


@PRODUCTS
@settings(max_examples=300, deadline=None)
@given(x=st.floats(min_value=1e-300, max_value=1e300), cut=st.sampled_from([17, 18, 19]))
def test_near_halfway_points_round_as_float(portable, x, cut):
    # the midpoint between x and the next double, cut to 17-19 digits both ways
    from decimal import ROUND_DOWN, ROUND_UP, Decimal, localcontext

    with localcontext() as ctx:
        ctx.prec = 1200
        mid = (Decimal(x) + Decimal(math.nextafter(x, math.inf))) / 2
        for rounding in (ROUND_DOWN, ROUND_UP):
            ctx.prec = cut
            ctx.rounding = rounding
            sign, digs, exp = (+mid).as_tuple()
            assert_step(int("".join(map(str, digs))), exp, portable)


@PRODUCTS
@settings(max_examples=300, deadline=None)
@given(k=st.integers(1, 10), m=st.integers(1 << 52, (1 << 53) - 1))
def test_exact_halfway_integers_round_to_even(portable, k, m):
    # (2m + 1) * 2**(k-1): exactly halfway between two doubles, at most 19 digits; and the
    # integers either side
    v = (2 * m + 1) << (k - 1)
    for w in (v - 1, v, v + 1):
        if w < 10**19:
            assert_step(w, 0, portable, must_decide=True)


@PRODUCTS
@settings(max_examples=300, deadline=None)
@given(m=st.integers(1, (1 << 53) - 1), k=st.integers(1, 27), scale=st.integers(0, 8))
def test_exact_binary_fractions_with_few_decimals(portable, m, k, scale):
    # m / 2**k written exactly in decimals (the exact comparison for -27 <= q < 0), then
    # the same digits with trailing zeros
    digits = m * 5**k
    if digits * 10**scale <= U64:
        assert_step(digits * 10**scale, -k - scale, portable, must_decide=True)


HARD = [
    (9007199254740993, 0), (9007199254740992, 0), (9007199254740991, 0),      # 2**53 +- 1
    (9007199254740995, 0), (18014398509481985, 0), (18014398509481987, 0),
    (49406564584124654, -340), (24703282292062327, -340), (24703282292062328, -340),
    (24703282292062326, -340), (49406564584124654, -341), (1, -324), (3, -324), (2, -324),
    (22250738585072011, -324), (22250738585072014, -324), (22250738585072009, -324),
    (17976931348623157, 292), (17976931348623158, 292), (17976931348623159, 292),
    (9999999999999999999, 288), (9999999999999999999, -343), (1, -343), (1, 309), (1, 308),
    (12345678901234565, -1), (12345678901234567, -1), (15, -1), (5, -1), (25, -2),
    (9999999999999999999, 0), (10000000000000000000, -19), (U64, -19), (U64, 0), (U64, -27),
    (1000000000000000000, -18), (1500000000000000000, -18), (7450580596923828125, -27),
    (4503599627370497, 0), (4503599627370496, -1), (1, 0), (1, 22), (1, 23), (1, -22),
]


@PRODUCTS
def test_hard_cases_round_as_float(portable):
    for mant, exp10 in HARD:
        assert_step(mant, exp10, portable)


def test_a_zero_mantissa_is_refused():
    with pytest.raises(ValueError, match="at least 1"):
        _core.eisel_lemire(0, 0)


def test_savetxt_columns_read_bit_identical_to_float():
    # the shape the step was made for, end to end through a parse: %.18e of numbers that
    # span 10**-3..10**5 with random signs (numpy.savetxt's default)
    import io

    import fastetl

    rng = np.random.default_rng(12)
    values = rng.standard_normal((3000, 4)) * 10.0 ** rng.integers(-3, 6, size=(3000, 4))
    buf = io.StringIO()
    np.savetxt(buf, values, fmt="%.18e", delimiter=",")
    text = buf.getvalue()
    arr = fastetl.loadtxt(io.StringIO(text), delimiter=",")
    want = np.array([[float(t) for t in line.split(",")] for line in text.splitlines()])
    assert arr.shape == want.shape
    assert (arr.view(np.uint64) == want.view(np.uint64)).all()
