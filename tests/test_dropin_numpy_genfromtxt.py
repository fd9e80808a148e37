"""fastetl.genfromtxt against numpy.genfromtxt with ``dtype=None`` (genfromtxt's own type
inference): random files of mixed columns -- booleans, integers (some past int64),
floats, complex numbers, text, blanks -- through numpy (the reference) and through
fastetl, compared exactly (dtype, shape, bytes) or by exception class, with numpy's
warnings (``_compare`` of test_dropin_numpy)."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_dropin_numpy import EXAMPLES, _compare

import fastetl
from fastetl.dropin.numpy import ORIGINAL_GENFROMTXT

COLUMN_KINDS = {
    "bool": st.sampled_from(["True", "False", "TRUE", "false", "tRuE"]),
    "int": st.one_of(st.integers(-(2**70), 2**70).map(str),
                     st.sampled_from(["+7", "1_000", "007", "-0"])),
    "float": st.one_of(st.floats(allow_nan=True).map(repr),
                       st.sampled_from(["1e5", ".5", "inf", "-nan", "Infinity", "1_0.5"])),
    "complex": st.sampled_from(["3+4j", "-1j", "(1+2j)", "nan+nanj", "2", "1e3-2.5j"]),
    "text": st.text(alphabet="abcXYZ_.-\u00e9", min_size=1, max_size=6),
    "blank": st.sampled_from(["", " "]),
}


@st.composite
def mixed_files(draw):
    delim = draw(st.sampled_from([",", ";", "\t", None]))
    kinds = draw(st.lists(st.sampled_from(sorted(COLUMN_KINDS)), min_size=1, max_size=4))
    rows = []
    for _ in range(draw(st.integers(1, 6))):
        row = []
        for k in kinds:  # mostly the column's kind; now and then another, or a blank
            kind = k if draw(st.integers(0, 5)) else draw(st.sampled_from(sorted(COLUMN_KINDS)))
            cell = draw(COLUMN_KINDS[kind])
            if delim is None:  # (a blank is no field when whitespace splits)
                cell = cell.replace(" ", "") or "x"
            row.append(cell)
        rows.append(row)
    sep = delim or draw(st.sampled_from([" ", "  ", "\t"]))
    header = sep.join(f"c{i}" for i in range(len(kinds)))
    text = "\n".join(sep.join(r) for r in rows)
    return delim, header, text


@settings(max_examples=EXAMPLES, deadline=None)
@given(mixed_files(), st.booleans(), st.sampled_from([None, "utf-8", "bytes"]),
       st.sampled_from([0, 1, 2]), st.booleans(), st.sampled_from([0, 1]),
       st.sampled_from([None, 0, [0], [-1, 0]]))
def test_dtype_none_matches_numpy(f, names, encoding, ndmin, unpack, skip_footer, usecols):
    delim, header, text = f
    body = (header + "\n" + text) if names else text
    kw = {"dtype": None, "delimiter": delim, "names": True if names else None,
          "encoding": encoding, "ndmin": ndmin, "unpack": unpack,
          "skip_footer": skip_footer, "usecols": usecols}
    _compare(fastetl.genfromtxt, ORIGINAL_GENFROMTXT, lambda: io.StringIO(body), kw)


@pytest.mark.parametrize(("text", "kw"), [
    ("A 64 75.0 3+4j True\nBCD 25 60.0 5+6j False", {"encoding": "bytes"}),
    ("1 2 3 4\n5 6 7 8\n", {}),
    ("73786976294838206464 17179869184 1024", {}),
    ("gender age weight\nM 64.0 75.0\nF 25.0 60.0", {"names": True, "encoding": "bytes"}),
    ("M 21 72.\nF 35 58.", {"unpack": True, "encoding": "utf-8"}),
    ("1,,3\n4,5,\n", {"delimiter": ","}),
])
def test_dtype_none_own_path(text, kw):
    """These run on fastetl's own path (no fallback), with numpy's answer."""
    own = _compare(fastetl.genfromtxt, ORIGINAL_GENFROMTXT, lambda: io.StringIO(text),
                   {"dtype": None, **kw})
    assert own


TYPED = st.sampled_from([
    "U5", "S3", str, "U", "i8", "f8",
    (int, float, str), (float, float, float), [("a", "S2"), ("b", "f8"), ("c", "U4")],
])


@settings(max_examples=EXAMPLES, deadline=None)
@given(mixed_files(), TYPED, st.sampled_from([None, "a", "a, b, c", ["x", "y", "z"], ("p",)]),
       st.booleans(), st.sampled_from([None, [0], [0, -1], "a, c", ("a", "b")]),
       st.sampled_from([None, "utf-8"]))
def test_typed_names_strings_match_numpy(f, dtype, names, autostrip, usecols, encoding):
    delim, _header, text = f
    kw = {"dtype": dtype, "delimiter": delim, "names": names, "autostrip": autostrip,
          "usecols": usecols, "encoding": encoding}
    _compare(fastetl.genfromtxt, ORIGINAL_GENFROMTXT, lambda: io.StringIO(text), kw)


@pytest.mark.parametrize(("text", "kw"), [
    ("1 2 3\n 4 5 6", {"dtype": (int, float, int), "names": "a"}),
    ("0, 1, 2.3\n4, 5, 6.7", {"delimiter": ",", "dtype": (int, float, float),
                              "defaultfmt": "f_%02i"}),
    ("0, 1, 2.3\n4, 5, 6.7", {"delimiter": ",", "dtype": float, "names": "a, b, c"}),
    ("1 2 3\n4 5 6", {"names": "a, b, c", "usecols": "a, c"}),
    ("1 2 3\n4 5 6", {"names": ["a", "b", "c"], "usecols": (0, -1)}),
    ("ab, cd\nx,  y ", {"dtype": str, "delimiter": ",", "autostrip": True}),
    ("M 64 75.0\nF 25 60.0", {"dtype": {"names": ("g", "a", "w"), "formats": ("S1", "i4", "f4")},
                              "names": ("gender", "age", "weight")}),
])
def test_typed_own_path(text, kw):
    """These run on fastetl's own path (no fallback), with numpy's answer."""
    own = _compare(fastetl.genfromtxt, ORIGINAL_GENFROMTXT, lambda: io.StringIO(text), kw)
    assert own


MISSING = st.sampled_from([None, "N/A", "2,5", "-999.0", ["x", "N/A"], {0: "x"}, {None: "?"},
                           b"N/A", -99, "True"])
FILLING = st.sampled_from([None, -999, 0.5, [1, 2], {0: 7}, "zz", True])


@st.composite
def files_with_missing(draw):
    delim, header, text = draw(mixed_files())
    marks = ["N/A", "2", "5", "-999.00", "x", "?", "-99", "True", ""]
    sep = delim or " "
    lines = []
    for line in text.split("\n"):
        cells = line.split(sep) if delim else line.split()
        cells = [draw(st.sampled_from(marks)) if draw(st.integers(0, 3)) == 0 else c
                 for c in cells]
        if delim is None:
            cells = [c or "x" for c in cells]
        lines.append(sep.join(cells))
    return delim, header, "\n".join(lines)


@settings(max_examples=EXAMPLES, deadline=None)
@given(files_with_missing(), MISSING, FILLING, st.booleans(), st.booleans(),
       st.sampled_from([None, "utf-8", "bytes"]),
       st.sampled_from([None, None, float, "f4", "i8", [("a", "f8"), ("b", "i8")]]))
def test_missing_filling_usemask_match_numpy(f, missing, filling, usemask, names, encoding,
                                             dtype):
    delim, header, text = f
    body = (header + "\n" + text) if names else text
    kw = {"dtype": dtype, "delimiter": delim, "missing_values": missing,
          "filling_values": filling, "usemask": usemask, "names": True if names else None,
          "encoding": encoding}
    _compare(fastetl.genfromtxt, ORIGINAL_GENFROMTXT, lambda: io.StringIO(body), kw)


@pytest.mark.parametrize(("text", "kw"), [
    ("1, 2, 3\n1, , 5\n0, 6, \n", {"delimiter": ",", "filling_values": -999}),
    ("A,B\n0,1\n2,N/A", {"delimiter": ",", "missing_values": "N/A", "names": True,
                         "usemask": True}),
    ("1 2 3\n4 5 6\n", {"missing_values": "2,5", "usemask": True}),
    ("True 2 3\nFalse 5 6\n", {"missing_values": "2,5", "usemask": True}),
    ("1\t2\t3\n\t2\t\n1\t\t3", {"dtype": float, "delimiter": "\t", "usemask": True}),
    ("1,2,*,4\n5,*,7,8\n", {"dtype": "i8", "delimiter": ",", "missing_values": "*",
                            "filling_values": 0}),
])
def test_missing_own_path(text, kw):
    """These run on fastetl's own path (no fallback), with numpy's answer."""
    own = _compare(fastetl.genfromtxt, ORIGINAL_GENFROMTXT, lambda: io.StringIO(text),
                   {"dtype": None, **kw})
    assert own


@pytest.mark.parametrize(("text", "kw"), [
    # (found by test_missing_filling_usemask_match_numpy: numpy gives a structured dtype of
    # one field one converter that ignores the missing values, and refuses them)
    ("c0\n\n\n?\n\n", {"dtype": float, "names": True, "missing_values": {None: "?"}}),
    ("c0\n1\n?\n", {"dtype": "i8", "names": True, "missing_values": "?", "usemask": True}),
    ("1\n?\n", {"dtype": [("c0", "f8")], "missing_values": "?", "filling_values": 5}),
    ("a,b\n1,?\n2,3\n", {"dtype": "f8", "names": True, "usecols": [1], "missing_values": "?"}),
    ("1\n?\n", {"dtype": float, "missing_values": "?"}),  # (not structured: numpy fills)
    # (that converter's missing value is its bytes, equal to no number: nothing masked)
    ("c0\n\n-999.00\n\n\n", {"dtype": float, "names": True, "missing_values": "-999",
                             "filling_values": -999, "usemask": True}),
    ("-999.00\n", {"dtype": [("c0", "f8")], "missing_values": "-999", "filling_values": -999,
                   "usemask": True}),
    ("c0\n7.0\n1e0\n", {"dtype": "f4", "names": True, "missing_values": "1,7",
                         "usemask": True}),
])
def test_missing_values_in_one_structured_field(text, kw):
    """numpy's answer, on the own path: its error where it refuses, its array else."""
    own = _compare(fastetl.genfromtxt, ORIGINAL_GENFROMTXT, lambda: io.StringIO(text),
                   {"delimiter": ",", **kw})
    assert own
