"""The word-at-a-time paths of issue 15 item 4 against their references.

Floats of up to 19 digits are read eight digits at a time (``parse_double``) and rows
of a dialect with a comment mark or ``skip_initial_space`` are split in one pass over
their special bytes (``split_row_ex_bits``).  ``_core.set_fast_paths(False)`` turns
both off (digit-by-digit floats, field-by-field splitting): every test here reads the
same bytes both ways and compares each with an independent reference -- Python's
``float()``, ``re``/``csv`` splitting, numpy.loadtxt -- so a fast path that rounds or
splits differently, or a slow one that drifted, fails.
"""

from __future__ import annotations

import csv
import io
import math
import re
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import fastetl
from fastetl import ParseError, _core

RUNS = [(1, None), (2, 7), (3, 64)]  # (workers, block_size): results may not depend on them
FIXTURE = HealthCheck.function_scoped_fixture


@pytest.fixture(params=[True, False], ids=["fast", "portable"])
def fast(request):
    was = _core.set_fast_paths(request.param)
    yield request.param
    _core.set_fast_paths(was)


def test_set_fast_paths_returns_the_previous_setting():
    was = _core.set_fast_paths(False)
    try:
        assert _core.set_fast_paths(False) is False
        assert _core.set_fast_paths(True) is False
        assert _core.set_fast_paths(True) is True
    finally:
        _core.set_fast_paths(was)


# -- floats ---------------------------------------------------------------------------------


def read_floats(texts: list[str], **dialect) -> np.ndarray:
    schema = fastetl.Schema.from_dict(
        {"dialect": {"header": False, "null_values": [], **dialect},
         "columns": [{"name": "x", "type": "float64"}]}
    )
    return fastetl.read_csv(("\n".join(texts) + "\n").encode(), schema, workers=1).array["x"]


def assert_bits_of_float(texts: list[str]) -> None:
    got = read_floats(texts).view(np.uint64)
    want = np.array([float(t) for t in texts], dtype=np.float64).view(np.uint64)
    for t, g, w in zip(texts, got, want):
        if g != w and not (math.isnan(float(t))):
            raise AssertionError(f"{t!r}: bits {int(g):#018x}, float() gives {int(w):#018x}")
    nan = np.isnan(np.array([float(t) for t in texts]))
    # a NaN keeps float()'s sign (numpy has no other NaN payload to compare)
    assert (np.signbit(read_floats(texts)[nan]) == np.signbit(
        np.array([float(t) for t in texts])[nan])).all()


def double_of_bits(bits: int) -> float:
    return struct.unpack("<d", struct.pack("<Q", bits))[0]


finite_doubles = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(1, (1 << 52) - 1).map(double_of_bits),  # subnormals
    st.integers(0x7FE0000000000000, 0x7FEFFFFFFFFFFFFF).map(double_of_bits),  # huge
    st.integers(0x0010000000000000, 0x0020000000000000).map(double_of_bits),  # smallest normals
)
FORMATS = ["{!r}", "{:.17g}", "{:.18e}", "{:.19e}", "{:.3f}", "{:.15e}", "{:.16E}", "{:+.18e}",
           "{:.20e}", "{:.19g}"]


@settings(max_examples=150, deadline=None, suppress_health_check=[FIXTURE])
@given(xs=st.lists(st.tuples(finite_doubles, st.sampled_from(FORMATS), st.booleans()),
                   min_size=1, max_size=60))
def test_random_doubles_in_every_format_are_bit_identical_to_float(fast, xs):
    texts = [fmt.format(-x if neg else x) for x, fmt, neg in xs]
    assert_bits_of_float(texts)


def halfway_texts(x: float) -> list[str]:
    """Decimal texts at, just below and just above the midpoint between x > 0 and the next
    double: the exact midpoint, and its first 17-20 significant digits (truncated)."""
    from decimal import Decimal, localcontext

    with localcontext() as ctx:
        ctx.prec = 1200
        mid = (Decimal(x) + Decimal(math.nextafter(x, math.inf))) / 2
        out = [format(mid, "e")]
        for nd in (17, 18, 19, 20):
            ctx.prec = nd
            for rounding in ("ROUND_DOWN", "ROUND_UP"):
                ctx.rounding = rounding
                out.append(format(+mid, "e"))
    return out


@settings(max_examples=120, deadline=None, suppress_health_check=[FIXTURE])
@given(xs=st.lists(st.one_of(st.floats(min_value=1e-300, max_value=1e300),
                             st.integers(1, 1 << 53).map(float)), min_size=1, max_size=10))
def test_halfway_cases_round_as_float_does(fast, xs):
    assert_bits_of_float([t for x in xs for t in halfway_texts(x)])


@settings(max_examples=150, deadline=None, suppress_health_check=[FIXTURE])
@given(items=st.lists(st.tuples(
    st.integers(0, 10**20 - 1), st.integers(0, 20), st.integers(0, 6), st.integers(-400, 400),
    st.sampled_from(["", "+", "-"]), st.sampled_from(["e", "E", None])), min_size=1, max_size=40))
def test_mantissas_of_up_to_20_digits_leading_zeros_and_exponents(fast, items):
    texts = []
    for mant, point, zeros, exp, sign, e in items:
        digits = "0" * zeros + str(mant)
        k = min(point, len(digits))
        body = digits[:k] + "." + digits[k:] if point else digits
        texts.append(sign + body + (f"{e}{exp:+d}" if e else ""))
    assert_bits_of_float(texts)


WORDS = ["inf", "-inf", "+inf", "Infinity", "-INFINITY", "nan", "-nan", "NaN", "+NAN",
         "0", "-0", "+0.0", "-0.000e-5", ".5", "5.", "-.5e1", "1e400", "-1e400", "1e-400",
         "4.9406564584124654e-324", "2.4703282292062327e-324", "2.4703282292062328e-324",
         "1.7976931348623157e308", "1.7976931348623158e308", "1.7976931348623159e308",
         "9007199254740993", "9007199254740992.5", "1234567890123456789", "12345678901234567890",
         "0.1000000000000000055511151231257827", "00000000000000000000000000001.5"]


def test_words_and_edges_equal_float(fast):
    assert_bits_of_float(WORDS)


@pytest.mark.parametrize("bad", ["e5", "1e", "1e+", "1.2.3", "1..2", "--1", "+-1", "1e5x",
                                 "0x10", "in", "nanx", ".", "-", "1.5e5.5", "1.5e-",
                                 "12345678901234567890e", "123456789012345678.9z"])
def test_texts_float_refuses_are_refused(fast, bad):
    with pytest.raises(ValueError):
        float(bad)
    with pytest.raises(ParseError):
        read_floats(["1.0", bad, "2.0"])


# -- splitting with a comment mark and skip_initial_space -----------------------------------

PIECES = ["a", "1", "-2.5e3", " ", "  ", ",", ";", "#", '"', "x y", "\t", "\n", "\r\n", " \n"]


def str_schema(ncols: int, dialect: dict) -> fastetl.Schema:
    cols = [{"name": f"c{i}", "type": "str", "width": 64} for i in range(ncols)]
    return fastetl.Schema.from_dict(
        {"dialect": {"header": False, "null_values": [], **dialect}, "columns": cols}
    )


def read_all_ways(tmp_path, data: bytes, schema: fastetl.Schema) -> list:
    """Each run's rows (as lists of str), or its error message."""
    src = tmp_path / "in.txt"
    src.write_bytes(data)
    out = []
    for workers, block in RUNS:
        try:
            arr = fastetl.read_csv(src, schema, workers=workers, block_size=block).array
            out.append([[v.decode() for v in rec] for rec in arr.tolist()])
        except ParseError as e:
            out.append(str(e))
    return out


def ws_reference(text: str) -> list[list[str]]:
    """Rows of delimiter ' ' with skip_initial_space: leading spaces go, a run of spaces
    is one delimiter, trailing spaces leave an empty last field; blank lines skipped."""
    rows = []
    for line in text.splitlines():
        if line:
            rows.append(re.split(" +", line.lstrip(" ")))
    return rows


@settings(max_examples=80, deadline=None, suppress_health_check=[FIXTURE])
@given(pieces=st.lists(st.sampled_from([p for p in PIECES if p not in ('"', "#", ",", ";")]),
                       min_size=1, max_size=40))
def test_runs_of_spaces_split_as_the_reference(tmp_path, fast, pieces):
    text = "".join(pieces) + "\n"
    want = ws_reference(text)
    assume(want and len({len(r) for r in want}) == 1)
    schema = str_schema(len(want[0]), {"delimiter": " ", "quote": None,
                                       "skip_initial_space": True})
    for got in read_all_ways(tmp_path, text.encode(), schema):
        assert got == want, text


@settings(max_examples=80, deadline=None, suppress_health_check=[FIXTURE])
@given(pieces=st.lists(st.sampled_from([p for p in PIECES if p != "#"]), min_size=1,
                       max_size=40), quote=st.booleans())
def test_initial_space_after_a_delimiter_split_as_csv(tmp_path, fast, pieces, quote):
    text = "".join(pieces) + "\n"
    kw = {"skipinitialspace": True, "strict": True}
    kw.update({} if quote else {"quoting": csv.QUOTE_NONE})
    try:
        want = [r for r in csv.reader(io.StringIO(text, newline=""), **kw) if r]
    except csv.Error:
        want = None
    # (a lone CR, or a quote inside an unquoted field: csv and the core differ there)
    assume(want and len({len(r) for r in want}) == 1 and "\r" not in text.replace("\r\n", ""))
    assume(all(len(v.encode()) <= 64 for r in want for v in r))
    schema = str_schema(len(want[0]), {"skip_initial_space": True,
                                       "quote": '"' if quote else None})
    got = read_all_ways(tmp_path, text.encode(), schema)
    assume(not any(isinstance(g, str) for g in got))  # the core's stricter quoting refuses
    for g in got:
        assert g == want, text


@settings(max_examples=100, deadline=None, suppress_health_check=[FIXTURE])
@given(pieces=st.lists(st.sampled_from(PIECES), min_size=1, max_size=40),
       delim=st.sampled_from([",", " ", ";"]), space=st.booleans(), quote=st.booleans(),
       comment=st.booleans())
def test_fast_and_portable_splitting_agree_on_any_bytes(tmp_path, pieces, delim, space, quote,
                                                        comment):
    """Whatever the bytes -- good rows, broken quotes, comments anywhere, ragged rows -- the
    fast splitter gives what the portable one gives: the same rows, or the same error."""
    text = "".join(pieces)
    first = [line for line in text.splitlines() if line.strip()]
    ncols = max(1, len(first[0].split(delim))) if first else 1
    dialect = {"delimiter": delim, "skip_initial_space": space,
               "quote": '"' if quote else None, "comment": "#" if comment else None}
    schema = str_schema(ncols, dialect)
    was = _core.set_fast_paths(True)
    try:
        fast_rows = read_all_ways(tmp_path, text.encode(), schema)
        _core.set_fast_paths(False)
        slow_rows = read_all_ways(tmp_path, text.encode(), schema)
    finally:
        _core.set_fast_paths(was)
    assert fast_rows == slow_rows, text


# -- the loadtxt shape: numpy.savetxt matrices ---------------------------------------------


@pytest.mark.parametrize("delimiter", [",", None])
@pytest.mark.parametrize("fmt", ["%.18e", "%.17g", "%.3f", "%r"])
def test_savetxt_matrices_read_as_numpy_loadtxt(tmp_path, fast, delimiter, fmt):
    rng = np.random.default_rng(15)
    a = rng.standard_normal((3000, 8)) * 10.0 ** rng.integers(-300, 300, (3000, 8))
    a[::7, 3] = -0.0
    path = tmp_path / "m.txt"
    if fmt == "%r":
        text = "\n".join((delimiter or " ").join(repr(float(v)) for v in row) for row in a)
        path.write_text("# a comment line\n" + text + "\n")
    else:
        np.savetxt(path, a, fmt=fmt, delimiter=delimiter or " ", header="a comment line")
    fastetl.set_fallback("error")
    try:
        got = fastetl.loadtxt(path, delimiter=delimiter)
    finally:
        fastetl.set_fallback(None)
    want = np.loadtxt(path, delimiter=delimiter)
    assert got.dtype == want.dtype and got.shape == want.shape
    assert got.tobytes() == want.tobytes()


# -- the byte search the numpy drop-in checks its files with -------------------------------


def find_reference(data: bytes, chars: bytes, non_ascii: bool) -> int:
    hits = [k for k, b in enumerate(data) if b in chars or (non_ascii and b >= 0x80)]
    return hits[0] if hits else -1


@pytest.mark.parametrize("chars,non_ascii", [(b"\t", True), (b"\t\x0b\x0c\x1c\x1d\x1e\x1f", True),
                                             (b"#", False), (b"", True), (b"", False),
                                             (b"\x80\xff\x00", False)])
def test_find_bytes_equals_a_python_search_at_every_offset(fast, chars, non_ascii):
    rng = np.random.default_rng(16)
    base = bytes(rng.integers(0x20, 0x7F, 200, dtype=np.uint8))
    base = base.translate(bytes.maketrans(b"#", b"a"))
    assert _core.find_bytes(base, chars, non_ascii) == find_reference(base, chars, non_ascii)
    for hit in (b"\t", b"\x0b", b"\x1f", b"#", b"\x80", b"\xe9", b"\xff", b"\x00"):
        for k in range(0, 70):
            data = base[:k] + hit + base[k:]
            for view in (data, data[1:], memoryview(data)[3:]):
                want = find_reference(bytes(view), chars, non_ascii)
                assert _core.find_bytes(view, chars, non_ascii) == want, (hit, k)


def test_find_bytes_takes_at_most_eight_bytes():
    with pytest.raises(ValueError):
        _core.find_bytes(b"abc", b"123456789", False)


@settings(max_examples=150, deadline=None, suppress_health_check=[FIXTURE])
@given(pieces=st.lists(st.sampled_from([b"1.5", b",", b" ", b"  ", b"\t", b"#", b"# c", b"\n",
                                        b"\r\n", b"\r", b"\x0c", b"\xc3\xa9"]), min_size=1,
                       max_size=40),
       chunk=st.integers(1, 9), spaces=st.booleans(), comment=st.booleans())
def test_loadtxt_file_check_is_the_same_whatever_the_chunk_size(tmp_path, monkeypatch, pieces,
                                                                 chunk, spaces, comment):
    """The drop-in's check of a file (ASCII; no tab or other space for delimiter=None; no
    line of blanks before '#') against the same rules applied to the whole text at once."""
    from fastetl.dropin import numpy as dn

    data = b"".join(pieces)
    path = tmp_path / "f.txt"
    path.write_bytes(data)
    want = data.isascii()
    if spaces:
        want = want and not re.search(rb"[\t\x0b\x0c\x1c-\x1f]", data)
    elif comment:
        want = want and not re.search(rb"(?:\A|[\r\n])[ \t]+#", data)
        # (a line starting with more blanks than a chunk holds is refused: numpy answers)
        assume(not re.search(rb"(?:\A|[\r\n])[ \t]{%d}" % (chunk + 1), data))
    monkeypatch.setattr(dn, "_SCAN_BYTES", chunk)
    assert dn._plain_text(str(path), spaces, comment) == want


def test_find_bytes_refuses_none_for_its_bytes():
    with pytest.raises(TypeError):
        _core.find_bytes(b"abc", None, False)  # type: ignore[arg-type]
