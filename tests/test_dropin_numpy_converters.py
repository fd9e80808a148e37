"""fastetl.loadtxt's converters= and datetime dtypes against numpy.loadtxt itself;
genfromtxt's rows of the wrong length (invalid_raise, skip_footer, max_rows) and its
narrow integer fields against numpy.genfromtxt.

The core splits the rows; each converted field's text goes to the user's function,
row by row, and its result is stored by numpy's own assignment, as numpy's reader
does.  Random files and keywords go through numpy (the reference) and through
fastetl, compared exactly (dtype, shape, bytes or objects) or by exception class and
message (``_compare`` of test_dropin_numpy); the fixed cases must run on the own path.
"""

from __future__ import annotations

import io
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_dropin_numpy import EXAMPLES, _compare

import fastetl
from fastetl.dropin.numpy import ORIGINAL_GENFROMTXT, ORIGINAL_LOADTXT


def _hex_or_nan(s):
    return np.nan if s.strip() == "x" else float.fromhex(s)


# converters as scripts write them: to a number, to text, refusing some values
FUNCTIONS = {
    "float": float,
    "int-or-missing": lambda s: int(s or -999),
    "upper": lambda s: s.upper(),
    "strip": lambda s: s.strip(),
    "len": len,
    "hex-or-nan": _hex_or_nan,
    "bytes-upper": lambda b: b.upper() if isinstance(b, bytes) else b.encode().upper(),
}
WORDS = st.sampled_from(["1", "-2", "3.5", "", " 4 ", "x", "0x1p-2", "ab", "\u00e9t\u00e9", "7e1"])


@st.composite
def files(draw):
    ncols = draw(st.integers(1, 4))
    rows = draw(st.lists(st.lists(WORDS, min_size=ncols, max_size=ncols), min_size=1,
                         max_size=6))
    return "".join(",".join(r) + "\n" for r in rows), ncols


@settings(max_examples=EXAMPLES, deadline=None)
@given(files(), st.data(), st.sampled_from([float, int, "U4", "S3", object, "U", "f4"]),
       st.sampled_from([None, "utf-8", "bytes"]), st.booleans())
def test_converters_match_numpy(f, data, dtype, encoding, use_cols):
    text, ncols = f
    names = sorted(FUNCTIONS)
    if data.draw(st.booleans(), label="one callable"):
        converters = FUNCTIONS[data.draw(st.sampled_from(names))]
    else:
        keys = data.draw(st.lists(st.integers(-ncols - 1, ncols), max_size=3))
        converters = {k: FUNCTIONS[data.draw(st.sampled_from(names))] for k in keys}
    kw = {"dtype": dtype, "delimiter": ",", "converters": converters, "encoding": encoding}
    if use_cols:
        kw["usecols"] = data.draw(st.lists(st.integers(-ncols, ncols - 1), min_size=1,
                                           max_size=3))
    _compare(fastetl.loadtxt, ORIGINAL_LOADTXT, lambda: io.StringIO(text), kw)


@pytest.mark.parametrize(("text", "kw"), [
    ("1.5,2.5\n3.0,XXX\n5.5,6.0",
     {"delimiter": ",", "converters": {-1: lambda s: np.nan if s == "XXX" else float(s)}}),
    ("1,2,3,,5\n6,7,8,9,10\n",
     {"dtype": int, "delimiter": ",", "usecols": (1, 3),
      "converters": {3: lambda s: int(s or -999)}}),
    ("1 21\n3 42\n", {"usecols": (1,), "converters": {0: lambda s: int(s, 16)}}),
    ("1 21\n3 42\n", {"usecols": (1,), "converters": {1: lambda s: int(s, 16)}}),
    ("cat,dog\n\u03b1\u03b2\u03b3,\u03b4\u03b5\u03b6\n",
     {"dtype": "U12", "delimiter": ",", "converters": {0: str.upper}}),
    ("1.5,2.5,Abc\n3.0,4.0,dEf\n",
     {"dtype": [("m", "i4"), ("r", "f4"), ("code", "U8")], "delimiter": ",",
      "converters": {0: lambda s: int(10 * float(s)), -1: str.upper}}),
    ("abc,def\nrst,xyz", {"dtype": "U3", "delimiter": ",", "converters": bytes.upper,
                          "encoding": "bytes"}),
    (" 1; 2001-01-01\n 2; 2002-01-31 ",
     {"dtype": [("idx", int), ("code", object)], "delimiter": ";",
      "converters": {1: lambda s: s.strip()}}),
    ("0x1.8p1\n-0x1p-3\n", {"dtype": "f4", "converters": float.fromhex}),
    ("spam\nXXXtis_but_a_scratch\n", {"dtype": "U", "converters": lambda s: s.lstrip("X")}),
    ("1 2\n3 4", {"converters": {3: int}}),  # numpy's ValueError: column out of range
    ("1,a\n2,b\n", {"delimiter": ",", "converters": {1: float}}),  # the function refuses
    ("2012-03\n2013-01-15\n", {"dtype": "M8"}),
    ("2012-03-01,5\n2013-01-15,6\n", {"dtype": [("d", "M8[D]"), ("n", "i4")], "delimiter": ","}),
    ("1 day\n", {"dtype": "m8"}),  # numpy refuses the text: its own error
])
def test_own_path(text, kw):
    """These run on fastetl's own path (no fallback), with numpy's answer."""
    assert _compare(fastetl.loadtxt, ORIGINAL_LOADTXT, lambda: io.StringIO(text), kw)


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.lists(st.sampled_from(["2012-03", "2013-01-15", "2013-01-15T10:20", "NaT", "2012",
                                 "1970-01-01T00:00:00.5", "x"]), min_size=1, max_size=8),
       st.sampled_from(["M8", "M8[D]", "M8[s]", "m8"]), st.integers(1, 3))
def test_datetimes_match_numpy(values, dtype, chunk):
    """Unitless datetimes are read as numpy reads them: text cast in chunks of rows, the
    unit found in each chunk (the chunk size made small to cross it)."""
    from numpy.lib import _npyio_impl

    text = "\n".join(values) + "\n"
    saved = _npyio_impl._loadtxt_chunksize
    _npyio_impl._loadtxt_chunksize = chunk
    try:
        _compare(fastetl.loadtxt, ORIGINAL_LOADTXT, lambda: io.StringIO(text), {"dtype": dtype})
    finally:
        _npyio_impl._loadtxt_chunksize = saved


@pytest.mark.skipif(not hasattr(sys, "getrefcount"), reason="needs reference counts")
def test_converter_error_is_numpys_and_frees_the_objects():
    """A converter failing half-way: numpy's message (row and column) with the cause
    chained, the function not called again by numpy, the objects stored so far freed."""
    sentinel = object()
    calls = []

    def conv(text):
        if len(calls) >= 3:
            raise KeyError("stop")
        calls.append(text)
        return sentinel

    fastetl.set_fallback("error")
    with pytest.raises(ValueError, match=r"^could not convert string 'x' to object at row 3, "
                                         r"column 1\.$") as info:
        fastetl.loadtxt(io.StringIO("x\n" * 10), dtype=object, converters={0: conv})
    assert isinstance(info.value.__cause__, KeyError)
    assert len(calls) == 3
    del info
    assert sys.getrefcount(sentinel) == 2


@pytest.mark.parametrize(("text", "kw"), [
    ("0,0,XXX\n0,XXX,0,XXX\n\n0,XXX,XXX,0,XXX\n", {"dtype": [], "usecols": []}),
    ("0,0,XXX\n0,XXX,0,XXX\n", {"usecols": [], "dtype": int}),
    ("# only a comment\n", {"dtype": bytes}),
    ("", {"dtype": "U2", "ndmin": 2}),
    ("\n", {"dtype": object}),
])
def test_no_rows_or_no_columns_own_path(text, kw):
    """usecols=[] and inputs without rows, for string dtypes too: numpy's shape."""
    assert _compare(fastetl.loadtxt, ORIGINAL_LOADTXT, lambda: io.StringIO(text),
                    {"delimiter": ",", **kw})


LENGTHS = st.lists(st.integers(0, 4), min_size=1, max_size=9)


@settings(max_examples=EXAMPLES, deadline=None)
@given(LENGTHS, st.sampled_from([",", None]), st.booleans(), st.integers(0, 3),
       st.sampled_from([None, 1, 3]), st.sampled_from([None, (0,), (0, -1), (1, 2)]),
       st.booleans(), st.sampled_from([None, float, "i4"]), st.booleans())
def test_rows_of_the_wrong_length_match_numpy(lengths, delim, names, foot, max_rows, usecols,
                                              invalid_raise, dtype, file_object):
    """genfromtxt leaves rows of the wrong length out (a ConversionWarning naming their
    lines) or raises, unless they fall in skip_footer; max_rows counts the rows kept."""
    sep = delim or " "
    lines = [sep.join(str(k + j) for j in range(n)) for k, n in enumerate(lengths)]
    text = ("a" + sep + "b" + sep + "c\n" if names else "") + "\n".join(lines) + "\n"
    if max_rows is not None and foot:
        foot = 0  # (numpy refuses the two together)
    kw = {"delimiter": delim, "names": True if names else None, "skip_footer": foot,
          "max_rows": max_rows, "usecols": usecols, "invalid_raise": invalid_raise,
          "dtype": dtype}
    make = (lambda: io.StringIO(text)) if file_object else (lambda: text.splitlines())
    _compare(fastetl.genfromtxt, ORIGINAL_GENFROMTXT, make, kw)


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.lists(st.sampled_from(["64.0", "-2.9", "1e3", "7", " 8 ", "3e9", "nan", "x", "-0.5",
                                 "255.5", "1_0"]), min_size=1, max_size=5),
       st.sampled_from(["i1", "i2", "i4", "u1", "u2", "u4", [("a", "i4"), ("b", "u2")]]))
def test_narrow_integers_match_numpy(values, dtype):
    """genfromtxt reads integers narrower than 64 bits with int(float(text))."""
    text = "".join(f"{v},{v}\n" for v in values)
    _compare(fastetl.genfromtxt, ORIGINAL_GENFROMTXT, lambda: io.StringIO(text),
             {"dtype": dtype, "delimiter": ","})


@pytest.mark.parametrize(("text", "kw"), [
    ("1 1\n2  \n3 3\n4 4\n5  \n6 6\n7 7\n", {"skip_footer": 1, "invalid_raise": False}),
    ("1 1\n2 2\n3 3\n4 4\n5  \n6  \n7  \n", {"skip_footer": 3}),
    ("a, b, c\n1, 1, 1\n2, 2 2\n3, 3, 3\n",
     {"delimiter": ",", "names": True, "dtype": None, "invalid_raise": False}),
    ("1 1\n2 2\n0 \n3 3\n4 4\n5  \n", {"max_rows": 4, "invalid_raise": False}),
    ("a b\n#c d\n1 1\n2 2\n#0 \n3 3\n4 4\n", {"skip_header": 1, "max_rows": 3,
                                                "names": True}),
    ("1,64.0\n2,-3.5\n", {"delimiter": ",", "dtype": [("a", "i2"), ("b", "i4")]}),
    # a missing value that reads as a bool is that bool, and the column stays "checked"
    ("True,\n", {"delimiter": ",", "dtype": None, "missing_values": "True"}),
])
def test_genfromtxt_own_path(text, kw):
    """These run on fastetl's own path (no fallback), with numpy's answer and warnings."""
    assert _compare(fastetl.genfromtxt, ORIGINAL_GENFROMTXT, lambda: io.StringIO(text), kw)


def test_max_rows_with_a_header_leaves_the_rest_of_the_file():
    """names=True and max_rows on a file object: the header and max_rows rows are taken,
    the rest is left for the next call, as numpy leaves it."""
    text = "a b\n#c d\n1 1\n2 2\n#0 \n3 3\n4 4\n5  5\n"
    fastetl.set_fallback("error")
    ours, theirs = io.StringIO(text), io.StringIO(text)
    kw = {"skip_header": 1, "max_rows": 3, "names": True}
    first = fastetl.genfromtxt(ours, **kw)
    want = ORIGINAL_GENFROMTXT(theirs, **kw)
    assert first.dtype == want.dtype and first.tobytes() == want.tobytes()
    rest = fastetl.genfromtxt(ours, dtype=first.dtype)
    want_rest = ORIGINAL_GENFROMTXT(theirs, dtype=want.dtype)
    assert rest.dtype == want_rest.dtype and rest.tobytes() == want_rest.tobytes()


SPACES = st.sampled_from([" ", "  ", "\t", "\u2003", "\u00a0", "\u3000", "\x0c", " \u2028 ",
                          "\x1f"])


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.lists(st.lists(st.sampled_from(["1", "-2.5", "x", "7e1", ""]), min_size=0, max_size=3),
                min_size=1, max_size=5),
       st.data(), st.sampled_from([float, int, "U3", [("a", "f8"), ("b", "U2")]]),
       st.sampled_from([None, [0], [-1]]))
def test_any_whitespace_splits_as_numpy(rows, data, dtype, usecols):
    """delimiter=None: every run of whitespace numpy takes for space (tabs, form feeds,
    Unicode spaces) separates fields; blank lines and spaces at a line's ends are none."""
    lines = []
    for row in rows:
        lead, tail = data.draw(SPACES), data.draw(SPACES)
        cells = [c for c in row if c]
        body = "".join(c + data.draw(SPACES) for c in cells[:-1]) + (cells[-1] if cells else "")
        lines.append((lead if data.draw(st.booleans()) else "") + body
                     + (tail if data.draw(st.booleans()) else ""))
    text = "\n".join(lines) + "\n"
    kw = {"dtype": dtype, "delimiter": None, "usecols": usecols}
    _compare(fastetl.loadtxt, ORIGINAL_LOADTXT, lambda: io.StringIO(text), kw)
    if dtype in (float, "U3"):
        _compare(fastetl.genfromtxt, ORIGINAL_GENFROMTXT, lambda: io.StringIO(text),
                 {"dtype": dtype, "delimiter": None})


@settings(max_examples=EXAMPLES, deadline=None)
@given(LENGTHS, st.lists(st.integers(-3, 3), min_size=1, max_size=3), st.booleans(),
       st.sampled_from([float, "U4", object]))
def test_usecols_over_rows_of_other_lengths_match_numpy(lengths, usecols, convert, dtype):
    """loadtxt picks usecols row by row (negatives from each row's end); a row too short
    is numpy's ValueError naming it."""
    text = "".join(",".join(str(k * 10 + j) for j in range(n)) + "\n"
                   for k, n in enumerate(lengths))
    kw = {"dtype": dtype, "delimiter": ",", "usecols": usecols}
    if convert:
        kw["converters"] = {usecols[-1]: lambda s: -float(s)}
    _compare(fastetl.loadtxt, ORIGINAL_LOADTXT, lambda: io.StringIO(text), kw)


@pytest.mark.parametrize(("text", "kw"), [
    ("1 2\u200330\n\n\u2003\n4 5 60\u2003\n  \u2003  \n7 8 \u2003 90\n  # c\n3 2 1",
     {"dtype": int}),
    ("1 2 30\n\n \n4 5 60 \n     \n7 8   90\n  # c\n3 2 1", {"dtype": int}),
    ("0,0,XXX\n0,XXX,0,XXX\n0,XXX,XXX,0,XXX\n",
     {"dtype": float, "delimiter": ",", "usecols": [0, -2]}),
    ("0,1,2\n0,1,2,3,4", {"delimiter": ",", "usecols": [0, -1],
                          "converters": {-1: lambda x: -1}}),
])
def test_whitespace_and_ragged_own_path(text, kw):
    assert _compare(fastetl.loadtxt, ORIGINAL_LOADTXT, lambda: io.StringIO(text), kw)
