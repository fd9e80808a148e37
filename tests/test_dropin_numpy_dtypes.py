"""fastetl.loadtxt against numpy.loadtxt for the dtypes the core has no type for.

Complex and long double fields, byte-swapped and unaligned numbers, numbers with
Unicode spaces around them, and structured dtypes with nested fields and sub-arrays:
random files through numpy (the reference) and through fastetl, compared exactly
(dtype, shape, bytes) or by exception class (``_compare`` of test_dropin_numpy).
"""

from __future__ import annotations

import io
import tempfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_dropin_numpy import EXAMPLES, _compare

import fastetl
from fastetl.dropin.numpy import ORIGINAL_LOADTXT

PARTS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(2**40), 2**40).map(str),
    st.sampled_from(["1", "-0", "2.5", "1e3", "-4E-2", "inf", "-nan", ".5", "5."]),
)


@st.composite
def complex_texts(draw):
    """A complex number as people and programs write it, or a near miss."""
    re_, im = draw(PARTS), draw(PARTS)
    form = draw(st.sampled_from(["{r}", "{i}j", "{r}+{i}j", "{r}-{i}j", "{r}+-{i}j"]))
    text = form.format(r=re_, i=im.lstrip("-+") if "+" in form or "-j" in form else im)
    if draw(st.booleans()):
        text = f"({text})"
    if draw(st.booleans()):
        text = draw(st.sampled_from([" ", "\u202f", "\u3000", "\t"])) + text
    if draw(st.booleans()):  # near misses numpy refuses (or reads)
        text = draw(st.sampled_from([
            "j", "-j", "+j", "1+j", "1J", "1+2J", "1_0", "(1", "1)", "1 +2j", "1+ 2j", "()",
            "1e+-5j", "+-1", "( 1+2j )", "(\u202f1+2j\u3000)", "( 1 +2j)", "( )", "7++5j",
            "7-+5j", "7--5j", "7+-j", "(1+2j) x", "\u0661", "1\x00", "",
        ]))
    return text


NUMBER_TEXTS = st.one_of(
    PARTS,
    st.integers(-(2**70), 2**70).map(str),
    st.sampled_from(["300", "-1", "+7", "1_1", "0x10", "1.5", "\u0661", "", "1e400", "00012"]),
)


@st.composite
def spaced(draw, texts):
    """A field with spaces numpy strips (Unicode ones too) around it."""
    text = draw(texts)
    pad = st.sampled_from(["", " ", "\u202f", "\u00a0", "\u2003", "\t"])
    return draw(pad) + text + draw(pad)


def _lines(draw, fields, ncols):
    rows = draw(st.integers(1, 5))
    return "".join(
        ",".join(draw(fields) for _ in range(ncols)) + "\n" for _ in range(rows)
    )


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.data(), st.sampled_from(["D", "F", "G", ">c16", "<c8"]), st.integers(1, 3),
       st.booleans())
def test_complex_matches_numpy(data, dtype, ncols, as_list):
    text = _lines(data.draw, complex_texts(), ncols)
    make = (lambda: text.splitlines(True)) if as_list else (lambda: io.StringIO(text))
    _compare(fastetl.loadtxt, ORIGINAL_LOADTXT, make, {"dtype": dtype, "delimiter": ","})


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.data(), st.sampled_from(["g", ">f8", ">f4", ">i4", "<u2", ">i8", "u1", "?", "i2",
                                   "f8", "q", "e", ">e"]),
       st.integers(1, 3))
def test_spaced_and_swapped_numbers_match_numpy(data, dtype, ncols):
    text = _lines(data.draw, spaced(NUMBER_TEXTS), ncols)
    _compare(fastetl.loadtxt, ORIGINAL_LOADTXT, lambda: io.StringIO(text),
             {"dtype": dtype, "delimiter": ","})


STRUCTURED = [
    np.dtype([("a", "u1", 2), ("b", "u1", 2)]),
    np.dtype([("a", "i4", (2, 2))]),
    np.dtype([("code", int), ("points", [("x", float), ("y", float)], (2,))]),
    np.dtype([("x", int), ("y", [("t", int), ("s", float)]), ("z", "S3")]),
    np.dtype([("s", "S1"), ("b", ">c8"), ("c", "<g")], align=False),
    np.dtype([("n", "U4"), ("block", ">i2", (2, 3))]),
]


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.data(), st.sampled_from(STRUCTURED), st.sampled_from([",", None]),
       st.sampled_from([0, 1, 2]))
def test_nested_and_shaped_fields_match_numpy(data, dtype, delimiter, ndmin):
    width = sum(int(np.prod(d.shape)) if d.shape else 1 for d in _scalars(dtype))
    cell = st.one_of(st.integers(0, 200).map(str), st.sampled_from(["1.5", "x", "-3", "2j"]))
    rows = data.draw(st.integers(0, 4))
    ragged = data.draw(st.booleans()) and data.draw(st.booleans())
    sep = "," if delimiter else " "
    text = "".join(
        sep.join(data.draw(cell) for _ in range(width + (data.draw(st.integers(-1, 1))
                                                          if ragged else 0))) + "\n"
        for _ in range(rows)
    )
    _compare(fastetl.loadtxt, ORIGINAL_LOADTXT, lambda: io.StringIO(text),
             {"dtype": dtype, "delimiter": delimiter, "ndmin": ndmin})


def _scalars(dt):
    """The fields of ``dt`` flattened one level at a time (to count its columns)."""
    if dt.names is None:
        base, shape = dt.subdtype if dt.subdtype else (dt, ())
        if base.names is not None:
            n = int(np.prod(shape)) if shape else 1
            return [s for _ in range(n) for s in _scalars(base)]
        return [dt]
    return [s for n in dt.names for s in _scalars(dt.fields[n][0])]


@pytest.mark.parametrize(("text", "kw"), [
    ("(1.0-2.5j),3.75,(7+-5.0j)\n(4),(-19e2j),(0)\n", {"dtype": complex, "delimiter": ","}),
    (" 1 , 2+3j , ( 4+5j ), ( 6+-7j )  , 8j , ( 9j ) \n", {"dtype": "F", "delimiter": ","}),
    ("0" * 1000 + ".123456789\n", {"dtype": "g"}),
    ("x,283686952306183\n", {"dtype": [("a", "S1"), ("b", ">g")], "delimiter": ","}),
    ("100,1,2,3,4\n200,5,6,7,8\n",
     {"dtype": [("code", int), ("points", [("x", float), ("y", float)], (2,))],
      "delimiter": ","}),
    ("aaaa  1.0  8.0  1 2 3 4 5 6\n",
     {"dtype": [("name", "S4"), ("x", float), ("y", float), ("block", int, (2, 3))]}),
    (" 3 ,\u202f2\n", {"dtype": "i8", "delimiter": ","}),
    (' 3 ,"\u202f2\n"', {"dtype": "i2", "delimiter": ",", "quotechar": '"'}),
    ('"a\nb",1\n"c",2\n', {"dtype": "U5,i4", "delimiter": ",", "quotechar": '"'}),
])
def test_own_path(text, kw):
    """These run on fastetl's own path (no fallback), with numpy's answer."""
    own = _compare(fastetl.loadtxt, ORIGINAL_LOADTXT, lambda: io.StringIO(text), kw)
    assert own


@st.composite
def quoted_files(draw):
    """Rows of a string and a number, some fields quoted, some quoted over a line break."""
    word = st.text(alphabet="ab ,\n\u202f'", max_size=5)
    lines = []
    for _ in range(draw(st.integers(1, 4))):
        w = draw(word)
        quoted = draw(st.booleans()) or "," in w or "\n" in w
        first = '"' + w.replace('"', '""') + '"' if quoted else w
        num = draw(spaced(st.sampled_from(["1", "-2", "3.5", "x"])))
        if draw(st.booleans()):
            num = f'"{num}\n"' if draw(st.booleans()) else f'"{num}"'
        lines.append(f"{first},{num}")
    return "\n".join(lines) + draw(st.sampled_from(["", "\n"]))


@settings(max_examples=EXAMPLES, deadline=None)
@given(quoted_files(), st.sampled_from(["U6,f8", "S6,i4", "U4,F", "U3,?"]), st.booleans())
def test_quoted_line_breaks_match_numpy(text, dtype, path):
    if path:  # (a path: the file's text layer turns its line ends into "\n")
        with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False,
                                         encoding="utf-8", newline="") as fh:
            fh.write(text)
        make = lambda: fh.name  # noqa: E731
    else:
        make = lambda: io.StringIO(text)  # noqa: E731
    _compare(fastetl.loadtxt, ORIGINAL_LOADTXT, make,
             {"dtype": dtype, "delimiter": ",", "quotechar": '"', "encoding": "utf-8"})


@pytest.mark.parametrize("converters", [0, [1], "", {"a": int}, {0: 1}, {1.5: float}])
def test_converters_numpy_refuses_get_numpys_error(converters):
    """converters numpy refuses: numpy's own exception, and no fallback (the own path
    checks them as numpy does)."""
    own = _compare(fastetl.loadtxt, ORIGINAL_LOADTXT, lambda: io.StringIO("1 2\n3 4"),
                   {"converters": converters})
    assert own


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.lists(st.lists(st.text(alphabet="ab\u00e9\u00ff\u2013\U00010203 ", min_size=1,
                                 max_size=4).map(str.strip).filter(bool),
                         min_size=2, max_size=2), min_size=1, max_size=4),
       st.sampled_from(["S", "S2", "S5", [("a", "S1"), ("b", "U2")], [("a", "U3"), ("b", "S")]]))
def test_bytes_dtype_non_ascii_matches_numpy(rows, dtype):
    """numpy encodes an S field's text as Latin-1 (ValueError when it cannot)."""
    text = "".join(",".join(r) + "\n" for r in rows)
    _compare(fastetl.loadtxt, ORIGINAL_LOADTXT, lambda: io.StringIO(text),
             {"dtype": dtype, "delimiter": ","})


@pytest.mark.parametrize("delimiter", ["", "\n", "\r"])
def test_delimiters_numpy_refuses_get_numpys_error(delimiter):
    own = _compare(fastetl.loadtxt, ORIGINAL_LOADTXT, lambda: io.StringIO("1 2\n3 4"),
                   {"delimiter": delimiter})
    assert own
