"""The core's fast paths against Python's own conversions, on many generated hard cases.

Floats take Clinger's fast path, then an Eisel-Lemire step for up to 19 significant
digits (and for longer texts when the 19-digit truncation decides the rounding), and
only then CPython's strtod; integers are read eight digits at a time (a 4-7 digit tail,
and a short decimal, as one zero-padded word); booleans are one case-folded word; the
tokenizer and UTF-8 check skip ordinary bytes several at a time; categories use a
word-wise hash.
Every test here compares the parsed column with float()/int()/csv/bytes.decode on the
same texts, so any path that rounds, wraps, splits or hashes differently shows up.
Deterministic: every generator is seeded.
"""

from __future__ import annotations

import csv
import io
import math
import random
import struct
import sys
from decimal import Decimal, localcontext
from fractions import Fraction

import numpy as np
import pytest

import fastetl
from fastetl import Schema

# -- helpers -------------------------------------------------------------------------------


def read_table(texts: list[str], typ: str, **extra) -> fastetl.Table:
    """Parse one column ``x`` of ``texts`` (one per row) with fastetl."""
    schema = Schema.from_dict({"columns": [{"name": "x", "type": typ, **extra}]})
    data = ("x\n" + "\n".join(texts) + "\n").encode()
    return fastetl.read_csv(data, schema, workers=1)


def read_column(texts: list[str], typ: str, **extra) -> np.ndarray:
    """Parse one column of ``texts`` (one per row) with fastetl; the values as an array."""
    return read_table(texts, typ, **extra)["x"]


def f64_bits(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float64).view(np.uint64)


def assert_float64_identical(texts: list[str]) -> None:
    got = f64_bits(read_column(texts, "float64"))
    want = f64_bits([float(t) for t in texts])
    bad = np.nonzero(got != want)[0]
    if len(bad):
        i = int(bad[0])
        got_f = struct.unpack("<d", struct.pack("<Q", int(got[i])))[0]
        raise AssertionError(
            f"{len(bad)} of {len(texts)} differ; first: {texts[i]!r} -> {got_f!r} "
            f"(bits {int(got[i]):#018x}), float() gives {float(texts[i])!r} "
            f"(bits {int(want[i]):#018x})"
        )


def exact_decimal(x: float) -> str:
    """The exact decimal expansion of a finite double (no exponent rounding)."""
    with localcontext() as ctx:
        ctx.prec = 2000
        return format(Decimal(x), "f")


def digits_of(fr: Fraction, ndig: int, mode: str) -> str:
    """fr > 0 as a ``ndig``-significant-digit text ``D.DDDe±X``, truncated or rounded up."""
    e = math.floor(math.log10(fr.numerator) - math.log10(fr.denominator))
    # make 10**(ndig-1) <= scaled < 10**ndig exactly
    while True:
        scaled = fr * Fraction(10) ** (ndig - 1 - e)
        if scaled < 10 ** (ndig - 1):
            e -= 1
        elif scaled >= 10**ndig:
            e += 1
        else:
            break
    m = scaled.numerator // scaled.denominator
    if mode == "up" and m * scaled.denominator != scaled.numerator:
        m += 1
    s = str(m)
    return f"{s[0]}.{s[1:]}e{e - (len(s) - ndig)}" if len(s) > 1 else f"{s}e{e}"


def midpoint(x: float) -> Fraction:
    """The exact value halfway between the finite positive double x and the next one up."""
    return (Fraction(x) + Fraction(math.nextafter(x, math.inf))) / 2


def random_double(rng: random.Random, subnormal: bool = False) -> float:
    if subnormal:
        bits = rng.randrange(1, 1 << 52)
    else:
        bits = (rng.randrange(1, 2047) << 52) | rng.randrange(0, 1 << 52)
    return struct.unpack("<d", struct.pack("<Q", bits))[0]


# -- floats ------------------------------------------------------------------------------------


def _long_mantissas(rng: random.Random, n: int) -> list[str]:
    """17-19 digit mantissas, decimal exponents over the whole range and past it."""
    out = []
    for _ in range(n):
        nd = rng.choice((17, 18, 19))
        m = rng.randrange(10 ** (nd - 1), 10**nd)
        q = rng.randint(-360, 330)
        form = rng.randrange(4)
        sign = rng.choice(("", "", "-", "+"))
        if form == 0:
            out.append(f"{sign}{m}e{q}")
        elif form == 1:
            s = str(m)
            out.append(f"{sign}{s[0]}.{s[1:]}e{q - nd + 1}")
        elif form == 2:  # point inside the digits, no exponent when it is small
            s = str(m)
            k = rng.randrange(1, nd)
            out.append(f"{sign}{s[:k]}.{s[k:]}")
        else:  # leading zeros, both before and after the point
            s = str(m)
            out.append(f"{sign}000{s}E{q:+d}" if rng.random() < 0.5 else f"{sign}0.000{s}e{q}")
    return out


def test_float64_long_mantissas_whole_exponent_range():
    rng = random.Random(20240601)
    assert_float64_identical(_long_mantissas(rng, 200_000))


def test_float64_random_doubles_printed_every_way():
    rng = random.Random(7)
    texts = []
    for _ in range(30_000):
        x = random_double(rng, subnormal=rng.random() < 0.1)
        texts += [repr(x), f"{x:.16e}", f"{x:.17e}", f"{x:.18e}", f"{x:.19g}", f"{-x:.15e}"]
    assert_float64_identical(texts)


def test_float64_near_halfway_between_doubles():
    """The exact midpoint, and 17/18/19-digit texts just below and just above it."""
    rng = random.Random(99)
    texts = []
    for _ in range(6_000):
        x = random_double(rng, subnormal=rng.random() < 0.15)
        if math.isinf(math.nextafter(x, math.inf)):
            continue
        mid = midpoint(x)
        for nd in (17, 18, 19):
            texts.append(digits_of(mid, nd, "down"))  # just below (or exact)
            texts.append(digits_of(mid, nd, "up"))  # just above (or exact)
        texts.append(digits_of(mid, 25, "down"))  # 20+ digits: the truncated path
        texts.append(digits_of(mid, 25, "up"))
    for _ in range(300):  # a few with the full exact expansion (hundreds of digits)
        x = random_double(rng)
        if not math.isinf(math.nextafter(x, math.inf)):
            mid = midpoint(x)
            texts.append(str(mid.numerator / mid.denominator))
            with localcontext() as ctx:
                ctx.prec = 1200
                texts.append(format(Decimal(mid.numerator) / Decimal(mid.denominator), "f"))
    assert_float64_identical(texts)


def test_float64_exact_integer_ties_round_to_even():
    """Integers between 2**53 and 2**64 that sit exactly halfway (19 digits at most)."""
    rng = random.Random(3)
    texts = []
    for k in range(53, 64):
        for _ in range(2_000):
            # a multiple of 2**(k-52) is a double; add half of that spacing for a tie
            base = rng.randrange(1 << 52, 1 << 53) << (k - 52)
            half = 1 << (k - 53)
            for v in (base + half, base + half - 1, base + half + 1, base, base - half):
                texts.append(str(v))
                texts.append(f"{v}.000")
    texts += [str(2**53 + 1), str(2**53 + 3), str(2**64 - 1), str(2**63 + 2**10)]
    assert_float64_identical(texts)


def test_float64_ties_scaled_by_powers_of_ten():
    """Exact ties and their neighbours written with negative exponents (q in [-4, -1])."""
    rng = random.Random(5)
    texts = []
    for _ in range(20_000):
        k = rng.randint(1, 4)
        e = rng.randint(-60, 60)
        # value = odd * 2**(e-1), an exact halfway between two doubles at scale 2**e
        odd = rng.randrange(1 << 53, 1 << 54) | 1
        val = Fraction(odd) * Fraction(2) ** (e - 1)
        scaled = val * 10**k
        if scaled.denominator == 1 and scaled.numerator < 10**19:
            n = scaled.numerator
            texts += [f"{n}e-{k}", f"{n + 1}e-{k}", f"{n - 1}e-{k}"]
    assert len(texts) > 1000
    assert_float64_identical(texts)


def test_float64_subnormals_and_underflow():
    rng = random.Random(11)
    texts = [
        "4.9406564584124654e-324", "2.4703282292062327e-324", "2.4703282292062328e-324",
        "2.470328229206232720e-324", "2.470328229206232721e-324", "1e-324", "3e-324", "5e-324",
        "7.4109846876186982e-324", "2.2250738585072011e-308", "2.2250738585072012e-308",
        "2.2250738585072013e-308", "2.225073858507201136e-308", "2.2250738585072014e-308",
        "1e-400", "9999999999999999999e-343", "9999999999999999999e-342", "1e-342",
        "2.4703282292062327208828439643411068618252990130716238221279284125033775e-324",
    ]  # fmt: skip
    for _ in range(20_000):
        x = random_double(rng, subnormal=True)
        texts += [repr(x), f"{x:.18e}", digits_of(Fraction(x), 19, "down")]
        texts.append(digits_of(midpoint(x), 19, rng.choice(("down", "up"))))
    # the smallest normal's neighbourhood, 19 digits each side
    tiny = 2.2250738585072014e-308
    for d in range(-50, 51):
        texts.append(digits_of(Fraction(tiny) + d * Fraction(1, 10**330), 19, "down"))
    assert_float64_identical(texts)


def test_float64_near_overflow():
    dmax = sys.float_info.max
    mid = midpoint(math.nextafter(dmax, 0.0))
    top = Fraction(dmax) + (Fraction(2) ** 1024 - Fraction(dmax)) / 2  # halfway to 2**1024
    texts = [
        repr(dmax), "1.7976931348623157e308", "1.7976931348623158e308", "1.7976931348623159e308",
        "1.797693134862315807e308", "1.797693134862315808e308", "1.79769313486231580793e308",
        "1.8e308", "1e308", "9999999999999999999e289", "9999999999999999999e290", "1e309",
        str(int(dmax)), str(int(top)), str(int(top) - 1), str(int(top) + 1),
    ]  # fmt: skip
    for nd in (17, 18, 19, 25):
        for f in (mid, top):
            texts += [digits_of(f, nd, "down"), digits_of(f, nd, "up")]
    assert_float64_identical(texts + ["-" + t for t in texts])


def test_float64_around_powers_of_two():
    texts = []
    for k in range(-1074, 1024):
        p = Fraction(2) ** k
        x = float(p)
        texts.append(repr(x))
        for nd in (17, 18, 19):
            texts += [digits_of(p, nd, "down"), digits_of(p, nd, "up")]
        # halfway to the neighbours on both sides
        if k < 1023:
            texts.append(digits_of(midpoint(x), 19, "down"))
            texts.append(digits_of(midpoint(x), 19, "up"))
        if k > -1074:
            below = midpoint(math.nextafter(x, 0.0))
            texts.append(digits_of(below, 19, "down"))
            texts.append(digits_of(below, 19, "up"))
    assert_float64_identical(texts)


def test_float64_every_power_of_ten_and_short_mantissas():
    texts = [f"1e{q}" for q in range(-400, 400)]
    texts += [f"{m}e{q}" for m in (1, 2, 3, 7, 9, 17, 123456789, 9007199254740991, 9007199254740993)
              for q in range(-350, 320, 3)]  # fmt: skip
    rng = random.Random(13)
    texts += [f"{rng.randrange(1, 10**rng.randint(1, 16))}e{rng.randint(-330, 310)}"
              for _ in range(50_000)]  # fmt: skip
    assert_float64_identical(texts)


def test_float64_more_than_19_digits():
    rng = random.Random(17)
    texts = []
    for _ in range(30_000):
        nd = rng.randint(20, 40)
        m = rng.randrange(10 ** (nd - 1), 10**nd)
        q = rng.randint(-340, 300)
        texts.append(f"{m}e{q}")
        texts.append(f"{str(m)[:19]}{'0' * (nd - 19)}e{q}")  # trailing zeros: exact 19 digits
    assert_float64_identical(texts)


def test_float32_is_numpy_float32_of_python_float():
    rng = random.Random(23)
    texts = []
    for _ in range(40_000):
        nd = rng.choice((9, 17, 18, 19))
        m = rng.randrange(10 ** (nd - 1), 10**nd)
        texts.append(f"{m}e{rng.randint(-60 - nd, 38 - nd)}")
    # float32 halfway points written out: double rounding through float() is the contract
    for _ in range(5_000):
        b = rng.randrange(1, 0x7F7FFFFF)
        x = float(np.frombuffer(struct.pack("<I", b), dtype=np.float32)[0])
        x2 = float(np.frombuffer(struct.pack("<I", b + 1), dtype=np.float32)[0])
        mid = (Fraction(x) + Fraction(x2)) / 2
        texts += [digits_of(mid, 19, "down"), digits_of(mid, 19, "up"), repr(x)]
    got = read_column(texts, "float32")
    want = np.array([np.float32(float(t)) for t in texts], dtype=np.float32)
    assert np.array_equal(got.view(np.uint32), want.view(np.uint32))


def test_float64_exact_expansions_of_random_doubles():
    rng = random.Random(29)
    texts = [exact_decimal(random_double(rng, subnormal=rng.random() < 0.2)) for _ in range(300)]
    assert_float64_identical(texts)


@pytest.mark.parametrize("workers", [2])
def test_float64_hard_cases_in_parallel(workers):
    """Many threads on long floats at once: same bits as float() (no shared state)."""
    rng = random.Random(31)
    texts = _long_mantissas(rng, 100_000)
    schema = Schema.from_dict({"columns": [{"name": "x", "type": "float64"}]})
    data = ("x\n" + "\n".join(texts) + "\n").encode()
    got = fastetl.read_csv(data, schema, workers=workers, block_size=1 << 16)["x"]
    assert np.array_equal(f64_bits(got), f64_bits([float(t) for t in texts]))


# -- integers ----------------------------------------------------------------------------------

INT_TYPES = {
    "int8": (-(2**7), 2**7 - 1), "int16": (-(2**15), 2**15 - 1),
    "int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1),
    "uint8": (0, 2**8 - 1), "uint16": (0, 2**16 - 1),
    "uint32": (0, 2**32 - 1), "uint64": (0, 2**64 - 1),
}  # fmt: skip


def _int_text(rng: random.Random, v: int) -> str:
    """v written as the core must accept it: sign forms, leading zeros, blanks around."""
    s = str(abs(v))
    if rng.random() < 0.3:
        s = "0" * rng.randint(1, 12) + s
    if v < 0:
        s = "-" + s
    elif rng.random() < 0.2:
        s = "+" + s
    elif v == 0 and rng.random() < 0.2:
        s = "-" + s
    if rng.random() < 0.05:
        s = " " + s + "\t"
    return s


def _parse_error(texts: list[str], typ: str, **extra) -> str | None:
    try:
        read_column(texts, typ, **extra)
    except fastetl.ParseError as e:
        return str(e)
    return None


@pytest.mark.parametrize("typ", list(INT_TYPES))
def test_int_random_and_boundaries_equal_int(typ):
    lo, hi = INT_TYPES[typ]
    rng = random.Random(list(INT_TYPES).index(typ))
    values = [lo, hi, lo + 1, hi - 1, 0, 1]
    values += [v for k in range(0, 21) for v in (10**k - 1, 10**k, 10**k + 1, -(10**k))]
    values += [v for k in range(0, 65) for v in (2**k - 1, 2**k, -(2**k))]
    values = [v for v in values if lo <= v <= hi]
    bits = hi.bit_length()
    for _ in range(60_000):  # magnitudes spread evenly over every digit count
        v = rng.randrange(0, 1 << rng.randint(0, bits))
        if lo < 0 and rng.random() < 0.5:
            v = -v
        if lo <= v <= hi:
            values.append(v)
    texts = [_int_text(rng, v) for v in values]
    got = read_column(texts, typ)
    assert got.dtype == np.dtype(typ)
    want = np.array([int(t) for t in texts], dtype=object)
    assert [int(x) for x in got.tolist()] == want.tolist()


@pytest.mark.parametrize("typ", list(INT_TYPES))
def test_int_out_of_range_is_an_error_never_a_wrap(typ):
    lo, hi = INT_TYPES[typ]
    rng = random.Random(7)
    texts = [str(hi + 1), str(lo - 1), str(hi + 10**6), str(lo - 2**64), "1" + "0" * 19,
             "18446744073709551616", "18446744073709551615" + "0", "99999999999999999999",
             "0000000000000000000018446744073709551616", "1" * 40, "-" + "9" * 25]  # fmt: skip
    texts += [str(rng.randrange(hi + 1, 2 ** (bits + 10))) for bits in (hi.bit_length(),)
              for _ in range(20)]  # fmt: skip
    for t in texts:
        if lo <= int(t) <= hi:
            continue
        msg = _parse_error(["1", t], typ)
        assert msg is not None and f"is out of range for {typ}" in msg, (t, msg)


def test_int_eight_digit_chunks_reject_every_non_digit():
    """A non-digit at every position of 1..24-digit runs, including bytes next to '0'-'9'
    (4-7 digit runs and tails are read as one padded word, 8-digit chunks as words)."""
    rng = random.Random(41)
    bad_bytes = ["/", ":", "a", " ", ".", "e", "\x10", "\x7f", "é", "٣", "\x00", "_"]
    cases = []
    for n in (1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 15, 16, 17, 19, 20, 24):
        digits = "".join(rng.choice("0123456789") for _ in range(n))
        for pos in range(n):
            for b in rng.sample(bad_bytes, 3):
                cases.append(digits[:pos] + b + digits[pos + 1 :])
    for t in cases:
        if t.strip() != t:  # a blank at either end is trimmed: that text is valid
            continue
        msg = _parse_error(["1", t], "uint64")
        assert msg is not None and "is not a valid uint64" in msg, (t, msg)


def test_int_long_runs_with_leading_zeros():
    rng = random.Random(43)
    texts = []
    for _ in range(20_000):
        v = rng.randrange(0, 2**63)
        texts.append("0" * rng.randint(0, 30) + str(v))
        texts.append("-" + "0" * rng.randint(0, 30) + str(v))
    got = read_column(texts, "int64")
    assert got.tolist() == [int(t) for t in texts]


def test_int_every_length_and_sign_equals_int():
    """Each digit count from 1 to 18 with and without sign and leading zeros: the 4-7 digit
    tails go through one padded word, the others digit by digit or eight at a time."""
    rng = random.Random(45)
    texts = []
    for nd in range(1, 19):
        for _ in range(300):
            digits = "".join(rng.choice("0123456789") for _ in range(nd))
            texts.append(rng.choice(("", "", "-", "+")) + digits)
    got = read_column(texts, "int64")
    assert got.tolist() == [int(t) for t in texts]


@pytest.mark.parametrize("scale", [1, 2, 3, 6, 7])
def test_decimal_short_texts_equal_decimal_and_reject_every_bad_byte(scale):
    """Texts of up to 8 bytes with exactly ``scale`` decimals are read as one word with the
    point squeezed out: every length, sign and leading zero equals Decimal, and a bad byte
    at any position (a second point included) is still an error, never a value."""
    rng = random.Random(53 + scale)
    texts = []
    for int_digits in range(1, 8):
        for _ in range(200):
            whole = "".join(rng.choice("0123456789") for _ in range(int_digits))
            frac = "".join(rng.choice("0123456789") for _ in range(scale))
            texts.append(rng.choice(("", "", "-", "+")) + whole + "." + frac)
    got = read_table(texts, "decimal", scale=scale)
    # stored: the exact scaled integers; read: the floats Python reads from the texts
    assert got.raw("x").tolist() == [int(Decimal(t).scaleb(scale)) for t in texts]
    assert got["x"].tolist() == [float(t) for t in texts]
    bad_bytes = ["/", ":", ".", "a", "\x00", "é", "-", "e"]
    checked = 0
    for length in range(max(4, scale + 2), 11):  # one-word shapes and longer ones
        base = "".join(rng.choice("123456789") for _ in range(length - scale - 1))
        base += "." + "".join(rng.choice("0123456789") for _ in range(scale))
        for pos in range(length):
            if base[pos] == ".":
                continue
            for b in bad_bytes:
                t = base[:pos] + b + base[pos + 1 :]
                if pos == 0 and b == "-":
                    continue  # a sign in front: valid
                msg = _parse_error(["1", t], "decimal", scale=scale)
                assert msg is not None and "is not a valid decimal" in msg, (t, msg)
                checked += 1
    assert checked > 80


@pytest.mark.parametrize("scale", [0, 2, 6])
def test_decimal_lengths_around_the_int64_limit(scale):
    """Scaled decimals of every length up to the int64 edge equal Decimal; past it, errors."""
    rng = random.Random(47 + scale)
    limit = 2**63
    texts, over = [], []
    for _ in range(20_000):
        nd = rng.randint(1, 19)
        v = rng.randrange(0, 10**nd)
        neg = rng.random() < 0.5
        s = str(v).rjust(scale + 1, "0")
        t = ("-" if neg else "") + (s[: len(s) - scale] + "." + s[len(s) - scale :] if scale else s)
        scaled = int(Decimal(t) * 10**scale)
        (texts if -limit <= scaled <= limit - 1 else over).append(t)
    edge = [limit - 1, limit, limit + 1, limit - 10, limit + 10]
    for e in edge:
        for neg in (False, True):
            q, r = divmod(e, 10**scale)
            t = ("-" if neg else "") + (f"{q}.{str(r).zfill(scale)}" if scale else str(q))
            scaled = int(Decimal(t) * 10**scale)
            (texts if -limit <= scaled <= limit - 1 else over).append(t)
    got = read_table(texts, "decimal", scale=scale)
    assert got.raw("x").tolist() == [int(Decimal(t) * 10**scale) for t in texts]
    # beyond 2**53 the floats are rounded once, through Decimal: still float(text)
    assert got["x"].tolist() == [float(t) for t in texts]
    assert got.decimal("x").tolist() == [Decimal(t) for t in texts]
    assert len(over) >= 4
    for t in over[:50]:
        msg = _parse_error(["1", t], "decimal", scale=scale)
        assert msg is not None and "out of range" in msg, (t, msg)


# -- tokenizer -----------------------------------------------------------------------------------


@pytest.mark.parametrize("block_size", [None, 61])
@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_tokenizer_matches_csv_module_at_every_word_offset(delimiter, block_size):
    """Fields of every length 0-40, and some of 41-200 (so delimiters and line ends fall at
    every position of an 8-byte word and of the 64-byte windows the scanner classifies at
    once, and plain runs cross whole windows), bytes next to the special ones, quoting where
    needed, LF and CRLF rows.  Tiny blocks put a block end (the scanner's short window) at
    every offset too."""
    rng = random.Random(ord(delimiter))
    near = [chr(ord(delimiter) + 1), chr(ord(delimiter) - 1)]
    alphabet = ["a", "Z", "0", " ", "é", "ß", "\x7f", "+", "-", *near, "\x0b", "\x0c", "\x0e"]
    alphabet += ['"', delimiter, "\n", "\r"]
    rows = []
    for _ in range(4_000):
        row = []
        for _ in range(5):
            n = rng.randint(0, 40) if rng.random() < 0.9 else rng.randint(41, 200)
            plain = rng.random() < 0.8
            chars = alphabet[:14] if plain else alphabet
            row.append("".join(rng.choice(chars) for _ in range(n)))
        rows.append(row)

    def field(v: str) -> str:  # quoted when it holds anything special (csv.writer
        # leaves a lone CR unquoted under lineterminator="\n")
        if any(c in v for c in (delimiter, '"', "\r", "\n")):
            return '"' + v.replace('"', '""') + '"'
        return v

    header = delimiter.join(f"c{i}" for i in range(5))
    lines = [header] + [delimiter.join(field(v) for v in row) for row in rows]
    texts = ("\n".join(lines) + "\n", "\r\n".join(lines))  # LF; CRLF with no final break
    for data in texts:
        want = list(csv.reader(io.StringIO(data, newline=""), delimiter=delimiter))[1:]
        schema = Schema.from_dict(
            {
                "dialect": {"delimiter": delimiter},
                "columns": [{"name": f"c{i}", "type": "str", "width": 400} for i in range(5)],
            }
        )
        got = fastetl.read_csv(data.encode(), schema, workers=1, block_size=block_size)
        assert len(got) == len(want)
        columns = [got[f"c{k}"] for k in range(5)]  # each decoded once
        for i, row in enumerate(want):
            assert [c[i] for c in columns] == row, (i, row)


# -- categories --------------------------------------------------------------------------------


def test_utf8_check_equals_strict_decode_at_every_offset():
    """Valid and invalid sequences (truncated, overlong, surrogate, past U+10FFFF, stray
    continuation bytes) at every offset of ASCII runs 0-20 bytes long: the str column
    keeps a row exactly when ``bytes.decode("utf-8")`` accepts its text (the check skips
    whole ASCII words and reads the last 1-7 bytes as an overlapping word)."""
    seqs = [b"\xc3\xa9", b"\xe2\x82\xac", b"\xf0\x9f\x98\x80", b"\xf4\x8f\xbf\xbf",  # valid
            b"\xed\x9f\xbf", b"\xee\x80\x80", b"\xe0\xa0\x80",                    # valid edges
            b"\xc3", b"\xe2\x82", b"\xf0\x9f\x98", b"\x80", b"\xbf", b"\xc0\xaf",  # invalid
            b"\xc1\xbf", b"\xe0\x9f\xbf", b"\xed\xa0\x80", b"\xf0\x8f\xbf\xbf",
            b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80", b"\xff", b"\xc3\x28",
            b"\xe2\x28\xa1", b"\xf0\x28\x8c\xbc", b"\xc3\xa9\xa9"]  # fmt: skip
    rng = random.Random(59)
    texts = []
    for seq in seqs:
        for total in range(0, 21):
            for pos in range(total + 1):
                ascii_run = bytes(rng.choice(b"abcxyz019 ") for _ in range(total))
                texts.append(ascii_run[:pos] + seq + ascii_run[pos:])
    for _ in range(3000):  # dense mixes of multi-byte characters and junk
        texts.append(b"".join(rng.choice(seqs + [b"a", b"zz"]) for _ in range(rng.randint(1, 9))))
    texts = [t for t in texts if t.strip(b" ") == t and t]  # blanks at the ends are kept anyway
    body = b"".join(b"%d,%s\n" % (i, t) for i, t in enumerate(texts))
    columns = [{"name": "i", "type": "int64"}, {"name": "s", "type": "str", "width": 48}]
    schema = {"columns": columns}
    got = fastetl.read_csv(b"i,s\n" + body, schema, workers=1, on_error="skip")

    def valid(t: bytes) -> bool:
        try:
            t.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return True

    want = [i for i, t in enumerate(texts) if valid(t)]
    assert 0 < len(want) < len(texts)
    assert got["i"].tolist() == want
    assert got["s"].tolist() == [texts[i].decode() for i in want]
    assert got.raw("s").tolist() == [texts[i] for i in want]


def test_bool_words_every_case_and_every_one_byte_change():
    """Booleans of 2-5 letters are compared as one word with 0x20 set in every byte: every
    upper/lower mix is accepted, and every change of one byte (to each ASCII byte that can
    sit in an unquoted field, e.g. '\x14' | 0x20 == '4', 'O' ^ 0x20 == 'o') is judged as
    the plain rules say."""
    words = {"true": 1, "yes": 1, "false": 0, "no": 0, "t": 1, "f": 0, "1": 1, "0": 0}

    def reference(t: str):
        low = t.strip(" \t")
        return words.get(low.lower()) if low.isascii() else None

    texts = set()
    for w in words:
        for mask in range(1 << len(w)):
            texts.add("".join(ch.upper() if mask >> k & 1 else ch for k, ch in enumerate(w)))
        for pos in range(len(w)):
            for b in range(1, 128):
                if chr(b) in ',\n\r"':
                    continue
                texts.add(w[:pos] + chr(b) + w[pos + 1 :])
                texts.add(w[:pos] + chr(b) + w[pos:])  # one byte more
    texts = sorted(t for t in texts if t.strip(" \t"))
    cells = [t if t.strip(" \t") == t else f'"{t}"' for t in texts]
    body = "".join(f"{i},{c}\n" for i, c in enumerate(cells))
    columns = [{"name": "i", "type": "int64"}, {"name": "b", "type": "bool"}]
    got = fastetl.read_csv(("i,b\n" + body).encode(), {"columns": columns}, workers=1,
                           on_error="skip")  # fmt: skip
    want = [(i, v) for i, t in enumerate(texts) if (v := reference(t)) is not None]
    assert len(want) > 60
    assert list(zip(got["i"].tolist(), got["b"].astype(int).tolist(), strict=True)) == want


def test_category_codes_follow_first_appearance_for_many_similar_values(tmp_path):
    """Thousands of values of every length 0-40 that differ in one byte, share prefixes and
    suffixes, or are prefixes of each other: codes in first-appearance order, values intact."""
    rng = random.Random(53)
    base = "".join(rng.choice("abcdefghij") for _ in range(40))
    pool = set()
    for n in range(0, 41):
        stem = base[:n]
        pool.add(stem)
        for pos in range(n):
            for c in "xyé":
                pool.add(stem[:pos] + c + stem[pos + 1 :])
    pool.discard("")  # an empty field is a null token, not a value
    values = sorted(pool)
    rng.shuffle(values)
    cells = [rng.choice(values) for _ in range(60_000)] + values
    src = tmp_path / "cats.csv"
    src.write_text("x\n" + "\n".join(cells) + "\n", encoding="utf-8")
    schema = {"columns": [{"name": "x", "type": "category", "max_values": 100_000}]}
    out = tmp_path / "cats.npy"
    fastetl.convert(src, out, schema, workers=1)
    t = fastetl.open(out)
    order = list(dict.fromkeys(cells))
    assert t.meta["categories"]["x"] == order
    codes = np.load(out)["x"]
    index = {v: i for i, v in enumerate(order)}
    assert codes.tolist() == [index[c] for c in cells]


# -- dates -------------------------------------------------------------------------------------


def test_iso_dates_equal_datetime_date():
    from datetime import date

    rng = random.Random(59)
    ordinals = [1, 2, date(9999, 12, 31).toordinal(), date(1970, 1, 1).toordinal()]
    ordinals += [rng.randint(1, date(9999, 12, 31).toordinal()) for _ in range(50_000)]
    texts = [date.fromordinal(o).isoformat() for o in ordinals]
    texts += [f"{y:04d}-02-29" for y in range(1, 10000) if y % 4 == 0 and (y % 100 or y % 400 == 0)]
    got = read_column(texts, "date")
    epoch = date(1970, 1, 1).toordinal()
    want = [date.fromisoformat(t).toordinal() - epoch for t in texts]
    assert got.astype("int64").tolist() == want


def test_iso_dates_reject_every_bad_byte_position():
    from datetime import date

    rng = random.Random(61)
    bad = []
    for _ in range(40):
        t = date.fromordinal(rng.randint(1, 3_000_000)).isoformat()
        for pos in range(10):
            for c in "/:-a \x00" if pos not in (4, 7) else "/0_ ":
                if c != t[pos]:
                    bad.append(t[:pos] + c + t[pos + 1 :])
    bad += [
        "2023-02-29",
        "2023-13-01",
        "2023-00-10",
        "2023-04-31",
        "0000-01-01",
        "2023-1-01",
        "2023-01-1",
        "20230101",
        "2023-01-011",
        "+2023-01-01",
        "2023-01-01T",
        "2023-01",
    ]
    for t in bad:
        if t.strip() != t:
            continue  # blanks at either end are trimmed
        msg = _parse_error(["2000-01-01", t], "date")
        assert msg is not None and "is not a valid date" in msg, (t, msg)


# -- splitting rows ---------------------------------------------------------------------------

_TEXTS = [
    "",
    "a",
    "plain words",
    "x" * 70,
    "y" * 130,
    "with,comma",
    ",",
    ",,",
    "line\nbreak",
    "cr\ronly",
    "crlf\r\ninside",
    "\n",
    '"',
    'say "hi"',
    '""',
    'mid"quote',
    "é à ü",
    "trailing space ",
    '=,\n\r\n"',
]


def _split_case(rng: random.Random, rows: int, broken: bool, skippable: int = 0) -> bytes:
    """A header and ``rows`` rows of (id, three texts): every kind of cell, quoted when
    it must be or at random, a random line end per row (LF, CRLF, lone CR), a quote
    inside an unquoted cell (ordinary there).  With ``broken``, one row has text after
    a closing quote, a wrong field count, or an unterminated quote at the end; with
    ``skippable``, that many rows have a bad id or one field too many."""
    out = ["id,a,b,c\r\n"]
    bad_row = rng.randrange(rows) if broken else -1
    damaged = set(rng.sample(range(rows), min(skippable, rows)))
    for r in range(rows):
        cells = [str(rng.randrange(-(10**6), 10**6))]
        for _ in range(3):
            text = rng.choice(_TEXTS)
            plain = not any(ch in text for ch in ",\r\n") and not text.startswith('"')
            cells.append(text if plain and rng.random() < 0.5 else
                         '"' + text.replace('"', '""') + '"')  # fmt: skip
        if r in damaged:
            if rng.random() < 0.5:
                cells[0] = "x" + cells[0]
            else:
                cells.append(rng.choice(["extra", '"ex,tra"']))
        if r == bad_row:
            how = rng.randrange(3)
            if how == 0:
                k = rng.randrange(1, 4)
                cells[k] = '"' + cells[k].strip('"').replace('"', "") + '"x'
            elif how == 1:
                cells.append("extra") if rng.random() < 0.5 else cells.pop()
            else:
                out.append(",".join(cells[:3]) + ',"never closed')
                break
        out.append(",".join(cells) + rng.choice(["\n", "\r\n", "\r"]))
    if rng.random() < 0.3 and not out[-1].endswith("closed"):
        out[-1] = out[-1].rstrip("\r\n")  # no line end after the last row
    return "".join(out).encode()


SPLIT_SCHEMA = Schema.from_dict(
    {
        "columns": [
            {"name": "id", "type": "int32"},
            *({"name": n, "type": "str", "width": 140} for n in "abc"),
        ]
    }  # fmt: skip
)


@pytest.mark.parametrize("seed", range(40))
def test_rows_of_every_shape_split_like_python_csv(seed):
    """Regular rows (split from the bits) and irregular ones (split field by field)
    mixed in one file: the same records as the reference, at every block size."""
    from reference import compare_with_reference

    rng = random.Random(seed)
    data = _split_case(rng, rng.randrange(1, 40), broken=False)
    compare_with_reference(data, SPLIT_SCHEMA, block_sizes=(1, 7, 64, 200, None))


@pytest.mark.parametrize("seed", range(40))
def test_broken_rows_among_regular_ones_fail_where_python_csv_does(seed):
    """One broken row among regular ones: the same first error (line, column, row,
    offset) as the reference, at every block size."""
    from reference import compare_with_reference

    rng = random.Random(1000 + seed)
    data = _split_case(rng, rng.randrange(1, 40), broken=True)
    compare_with_reference(data, SPLIT_SCHEMA, block_sizes=(1, 7, 64, 200, None))


@pytest.mark.parametrize("seed", range(10))
def test_skipped_bad_rows_among_regular_ones_match_the_reference(seed):
    """With on_error="skip", rows with a wrong field count or a bad value among rows
    of every shape: the rows kept and the rows left out are the reference's."""
    from reference import assert_same_records, reference_parse_full

    rng = random.Random(2000 + seed)
    data = _split_case(rng, 60, broken=False, skippable=6)
    ref = reference_parse_full(data, SPLIT_SCHEMA, skip_bad=True)
    assert ref.bad  # some rows were damaged
    for bs in (7, 64, None):
        arr = fastetl.read_csv(data, SPLIT_SCHEMA, block_size=bs, on_error="skip").array
        assert_same_records(arr, ref.array, f"block_size={bs}")
