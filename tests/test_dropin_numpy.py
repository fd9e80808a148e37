"""fastetl.loadtxt / fastetl.genfromtxt against the installed numpy's own functions.

Every case runs the same file and keywords through numpy (the reference) and
through fastetl, and compares the answers exactly: the same dtype, shape and
bytes (floats bit for bit, NaN signs included), or the same exception class.
Each case also says whether fastetl answered it on its own path (it is run under
``set_fallback("error")`` first); a few fixed cases require the own path.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import re
import tempfile
import warnings

import numpy as np
import pytest
from hypothesis import example, given, note, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

import fastetl
from fastetl.dropin.numpy import ORIGINAL_GENFROMTXT, ORIGINAL_LOADTXT

EXAMPLES = 150 * int(os.environ.get("FASTETL_FUZZ", "1"))


@pytest.fixture(autouse=True)
def _policy():
    yield
    fastetl.set_fallback(None)


def _same(a, b) -> None:
    """Exactly the same answer: type, dtype, shape, bytes (lists of arrays too)."""
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, list):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
        return
    assert a.dtype == b.dtype, (a.dtype, b.dtype)
    assert a.shape == b.shape, (a.shape, b.shape)
    if isinstance(a, np.ma.MaskedArray):  # the masks, then the values beneath
        _same(np.ma.getmaskarray(a), np.ma.getmaskarray(b))
        a, b = a.data, b.data
    if _long_double(a.dtype):  # its padding bytes are garbage: compare the values
        if a.dtype.names is not None:
            for name in a.dtype.names:
                _same(a[name], b[name])
            return
        for x, y in ((a.real, b.real), (a.imag, b.imag)):
            assert np.array_equal(x, y, equal_nan=True), (a, b)
            assert (np.signbit(x) == np.signbit(y)).all(), (a, b)
        return
    if a.dtype.names is not None and a.dtype.hasobject:  # field by field (below)
        for name in a.dtype.names:
            _same(a[name], b[name])
        return
    if a.dtype == object:  # the bytes are pointers: compare the objects
        flat = list(zip(a.ravel().tolist(), b.ravel().tolist()))
        assert all(type(x) is type(y) and (x == y or (x != x and y != y))  # (NaN)
                   for x, y in flat), (a, b)
        return
    assert np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes(), (a, b)


def _long_double(dt) -> bool:
    """Whether ``dt`` holds a long double (or long complex) field anywhere."""
    if dt.names is not None:
        return any(_long_double(dt.fields[n][0]) for n in dt.names)
    base = dt.subdtype[0] if dt.subdtype else dt
    return base.kind in "fc" and base.itemsize > (8 if base.kind == "f" else 16)


def _answer(fn, make_input, kw):
    """(result, exception, warning texts) of fn(input, **kw)."""
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        try:
            result, error = fn(make_input(), **kw), None
        except Exception as e:  # the class is compared
            result, error = None, e
    said = [  # (a file object's address differs from call to call)
        re.sub(r"0x[0-9a-f]+", "0x?", str(w.message))
        for w in seen if not issubclass(w.category, fastetl.FallbackWarning)
    ]
    return result, error, said


def _note(text: str) -> None:
    try:
        note(text)
    except InvalidArgument:  # outside a hypothesis test: pytest shows the locals
        pass


def _compare(ours, reference, make_input, kw) -> bool:
    """Compare fastetl with numpy on one case; True when fastetl's own path answered."""
    want, want_err, want_said = _answer(reference, make_input, kw)
    fastetl.set_fallback("error")
    got, got_err, got_said = _answer(ours, make_input, kw)
    own = not isinstance(got_err, fastetl.FallbackError)
    if not own:
        fastetl.set_fallback("silent")
        got, got_err, got_said = _answer(ours, make_input, kw)
    else:  # numpy's warnings too (no data, an empty line max_rows does not count);
        # as a set: numpy's casts warn of an overflow once per value, a column's cast once
        assert set(got_said) == set(want_said)
    _note(f"own path: {own}; numpy: {want_err!r}; fastetl: {got_err!r}")
    if want_err is not None:
        assert got_err is not None, f"numpy refused ({want_err!r}), fastetl returned {got!r}"
        assert type(got_err) is type(want_err), (got_err, want_err)
        if own:  # numpy's own message, too
            assert str(got_err) == str(want_err)
    else:
        assert got_err is None, f"numpy returned {want!r}, fastetl raised {got_err!r}"
        _same(want, got)
    return own


# ------------------------------------------------------------------ random files
NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(width=32).map(lambda f: f"{f:.9g}"),
    st.integers(-(2**70), 2**70).map(str),
    st.integers(-300, 300).map(str),
)
FIELDS = st.one_of(
    NUMBERS,
    st.sampled_from(
        ["nan", "-nan", "NaN", "inf", "-Infinity", "+1", "-0", ".5", "5.", "1e5", "1E-5",
         " 1.5", "2.5 ", "1_0", "0x10", "abc", "", " ", "1.0", "1e400", "4.9e-324", "1,5",
         "\u00a01", "1d3", "\u0661", "infinity", "nan(1)", "+-1", "1e", "e1", "--1", "١",
         'a"b', '"1.5"', '""', '"a,b"', '"x""y"', ' "1"', '"1"2']
    ),
)


@st.composite
def files(draw):
    """A small text file: rows of fields, with the delimiter, comments, blank lines."""
    delim = draw(st.sampled_from([",", ";", "\t", " ", None]))
    ncols = draw(st.integers(1, 5))
    ragged = draw(st.booleans()) and draw(st.booleans())
    fields = NUMBERS if draw(st.booleans()) else FIELDS  # half the files all numbers
    rows = []
    for _ in range(draw(st.integers(0, 8))):
        n = draw(st.integers(1, 6)) if ragged else ncols
        rows.append([draw(fields) for _ in range(n)])
    if draw(st.booleans()):  # some fields quoted whole, as a CSV writer quotes
        rows = [[f'"{c}"' if draw(st.booleans()) else c for c in r] for r in rows]
    sep = draw(st.sampled_from(["  ", "\t", " \t "])) if delim is None else delim
    lines = [sep.join(r) for r in rows]
    if delim is None and draw(st.booleans()):
        lines = [" " + ln + " " for ln in lines]
    if draw(st.booleans()):
        at = draw(st.integers(0, len(lines)))
        lines.insert(at, draw(st.sampled_from(["", "# a comment", "  ", "% other"])))
    if lines and draw(st.booleans()):
        k = draw(st.integers(0, len(lines) - 1))
        lines[k] += draw(st.sampled_from([" # tail", "#x", " % t"]))
    end = draw(st.sampled_from(["\n", "\r\n"]))
    text = end.join(lines) + (end if draw(st.booleans()) else "")
    return text, delim, ncols


def _inputs(text: str, kind: str, folder: str):
    """A zero-argument function giving ``text`` as numpy would be handed it."""
    if kind in ("path", "gz", "bz2", "xz"):
        opener = {"path": open, "gz": gzip.open, "bz2": bz2.open, "xz": lzma.open}[kind]
        path = os.path.join(folder, f"data.{kind}")
        with opener(path, "wb") as fh:
            fh.write(text.encode("utf-8"))
        return lambda: path
    if kind == "stringio":
        return lambda: io.StringIO(text, newline="")
    if kind == "bytesio":
        return lambda: io.BytesIO(text.encode("utf-8"))
    return lambda: text.splitlines(keepends=True)


DTYPES = ["f8", "f4", "f2", "i8", "i4", "i1", "u1", "u8", "i4,f8", "f8,f8,f8", ">f8", "U8", "U2",
          str, "S3", "S", "U3,f8", "?", "c16", object, "?,i2"]


@settings(max_examples=EXAMPLES)
@given(
    f=files(),
    kind=st.sampled_from(["path", "gz", "bz2", "xz", "stringio", "bytesio", "list"]),
    dtype=st.sampled_from(DTYPES),
    encoding=st.sampled_from([None, "utf-8", "latin1", "bytes"]),
    comments=st.sampled_from(["#", None, ["#", "%"], "%"]),
    skiprows=st.integers(0, 3),
    usecols=st.sampled_from([None, 0, -1, [0], [1, 0], [0, 0], [-1, 0], [5]]),
    unpack=st.booleans(),
    ndmin=st.sampled_from([0, 1, 2]),
    max_rows=st.sampled_from([None, None, 0, 1, 3]),
    quotechar=st.sampled_from([None, '"']),
)
# a last line without a line end that is only a comment, or blank: under several comment
# strings numpy counts it as an empty line under max_rows, and warns (fastetl did not);
# under one comment character it does not (its reader's way)
@example(f=("# a comment", ",", 1), kind="path", dtype="f8", encoding=None, comments=["#", "%"],
         skiprows=0, usecols=None, unpack=False, ndmin=0, max_rows=1, quotechar=None)
@example(f=("1\n  ", None, 1), kind="path", dtype="f8", encoding=None, comments="#",
         skiprows=0, usecols=None, unpack=False, ndmin=0, max_rows=3, quotechar=None)
@example(f=("1\r\n%x", ";", 1), kind="gz", dtype="f8", encoding=None, comments=["#", "%"],
         skiprows=0, usecols=None, unpack=False, ndmin=0, max_rows=3, quotechar=None)
@example(f=("1\n  ", None, 1), kind="path", dtype="f8", encoding=None, comments=["#", "%"],
         skiprows=0, usecols=None, unpack=False, ndmin=0, max_rows=3, quotechar=None)
def test_loadtxt_matches_numpy(f, kind, dtype, encoding, comments, skiprows, usecols, unpack,
                               ndmin, max_rows, quotechar):
    text, delim, _ = f
    note(repr(text))
    kw = dict(dtype=dtype, comments=comments, delimiter=delim, skiprows=skiprows,
              usecols=usecols, unpack=unpack, ndmin=ndmin, max_rows=max_rows,
              quotechar=quotechar, encoding=encoding)
    with tempfile.TemporaryDirectory() as folder:
        _compare(fastetl.loadtxt, ORIGINAL_LOADTXT, _inputs(text, kind, folder), kw)


@settings(max_examples=EXAMPLES)
@example(  # a quoted header name led by a no-break space: numpy keeps '\xa01' (below)
    f=('"\xa01",b\n1,2\n', ",", 2), kind="path", dtype=None, comments="#", skip_header=0,
    skip_footer=0, usecols=None, unpack=None, ndmin=0, max_rows=None, names=True,
    flags={"autostrip": False, "loose": True, "invalid_raise": True}, header="",
)
@example(  # rows shorter than the first, usecols=0 on its empty field: numpy reads it
    f=(",0.0\n0.0\n0.0\n0.0\n0.0\n0.0", ",", 1), kind="path", dtype="f8,i4", comments="#",
    skip_header=0, skip_footer=0, usecols=0, unpack=None, ndmin=0, max_rows=None, names=None,
    flags={"autostrip": False, "loose": False, "invalid_raise": False}, header="",
)
@given(
    f=files(),
    kind=st.sampled_from(["path", "gz", "stringio", "list"]),
    dtype=st.sampled_from([float, "f4", "f8", "i8", None, "f8,i4", "f4,f8,f8", "U3", "f8,f8"]),
    comments=st.sampled_from(["#", None, "%"]),
    skip_header=st.integers(0, 2),
    skip_footer=st.integers(0, 2),
    usecols=st.sampled_from([None, 0, -1, [0], [1, 0], [-1, 0]]),
    unpack=st.sampled_from([None, True]),
    ndmin=st.sampled_from([0, 1, 2]),
    max_rows=st.sampled_from([None, None, 1, 3]),
    names=st.sampled_from([None, True]),
    flags=st.fixed_dictionaries({"autostrip": st.booleans(), "loose": st.booleans(),
                                 "invalid_raise": st.booleans()}),
    header=st.sampled_from(["", "a,b,c,d,e\n", "# a b c d e\n", "x,,y z,x,A\n"]),
)
def test_genfromtxt_matches_numpy(f, kind, dtype, comments, skip_header, skip_footer, usecols,
                                  unpack, ndmin, max_rows, names, flags, header):
    text, delim, ncols = f
    if names:  # a header line as wide as the rows, spelt with their delimiter
        cells = re.split(r"[ ,]", header.rstrip("\n"))[:ncols] if header else []
        text = (delim or " ").join(cells) + "\n" + text if cells else text
    note(repr(text))
    kw = dict(dtype=dtype, comments=comments, delimiter=delim, skip_header=skip_header,
              skip_footer=skip_footer, usecols=usecols, unpack=unpack, ndmin=ndmin,
              max_rows=max_rows, names=names, **flags)
    with tempfile.TemporaryDirectory() as folder:
        _compare(fastetl.genfromtxt, ORIGINAL_GENFROMTXT, _inputs(text, kind, folder), kw)


# ------------------------------------------------- floats: bit for bit, many of them
@settings(max_examples=EXAMPLES)
@given(st.lists(st.floats(allow_nan=False), min_size=1, max_size=200),
       st.sampled_from(["%.18e", "%r", "%.17g", "%.6f", "%.3g", "%a"]))
def test_float_text_bit_identical(values, fmt):
    if fmt == "%a":
        text = "\n".join(v.hex() for v in values)
    elif fmt == "%r":
        text = "\n".join(repr(v) for v in values)
    else:
        text = "\n".join(fmt % v for v in values)
    _compare(fastetl.loadtxt, ORIGINAL_LOADTXT, lambda: text.splitlines(), {})


# ------------------------------------------------ the own path answers these calls
def _savetxt(tmp_path, rows, delimiter, name):
    rng = np.random.default_rng(7)
    a = rng.standard_normal((rows, 8)) * 10.0 ** rng.integers(-5, 5, (rows, 8))
    path = tmp_path / name
    np.savetxt(path, a, delimiter=delimiter)
    return path


@pytest.mark.parametrize("delimiter", [",", " "])
def test_savetxt_matrix_on_own_path(tmp_path, delimiter):
    path = _savetxt(tmp_path, 3000, delimiter, "m.txt")
    kw = {"delimiter": delimiter if delimiter == "," else None}
    fastetl.set_fallback("error")
    got = fastetl.loadtxt(path, **kw)
    _same(ORIGINAL_LOADTXT(path, **kw), got)
    _same(ORIGINAL_GENFROMTXT(path, **kw), fastetl.genfromtxt(path, **kw))


OWN_PATH_CASES = [
    ("1,2\n3,4\n", dict(delimiter=",")),
    ("# h\n1 2 # c\n\n3\t4\n", {}),
    ("a,b\n1,2\n3,4\n5,6\n", dict(delimiter=",", skiprows=1, max_rows=2, unpack=True)),
    ("1,2,3\n4,5,6\n", dict(delimiter=",", usecols=(-1, 0, 0))),
    ("1,2.5\n3,4.5\n", dict(delimiter=",", dtype="i4,f4")),
    ("1;2\n", dict(delimiter=";", dtype=np.int8, ndmin=2)),
    ("1\n2\n", dict(ndmin=1)),
    ('"1",2\n', dict(delimiter=",")),  # no quotechar: numpy refuses '"1"' too
    ("1,2\n3\n", dict(delimiter=",")),  # numpy's column-count error, and its message
    ("1,x\n", dict(delimiter=",")),
    # rows of other lengths, usecols picked row by row after an empty line: numpy's
    # warning of the line max_rows (its chunks of strings) does not count, still said
    ("\n1,2\n1\n", dict(delimiter=",", dtype=str, usecols=0)),
    ("\n  \n1,2\n", dict(delimiter=",", dtype=str, usecols=0)),
]


@pytest.mark.parametrize(("text", "kw"), OWN_PATH_CASES)
def test_loadtxt_own_path(text, kw):
    # (a list of lines: max_rows on a file object falls back, numpy leaves its rest unread)
    assert _compare(fastetl.loadtxt, ORIGINAL_LOADTXT, lambda: text.splitlines(True), kw)


# A file path read by the core itself (its comment and skip_rows), bytes as written
PATH_CASES = [
    (b"1,2\n3,4\n", dict(delimiter=",")),
    (b"1,2\r\n3,4\r\n", dict(delimiter=",")),
    (b"1,2\r3,4\r", dict(delimiter=",")),
    (b"# h\n\n# h2\n1,2 # c\n#\n3,4#,5\n", dict(delimiter=",", skiprows=2)),
    (b"1,2\n  # blanks then a comment: numpy reads a row\n3,4\n", dict(delimiter=",")),
    (b"1,2\n\t#\n3,4\n", dict(delimiter=",")),
    (b"1,2,3\n4,5,6\n", dict(delimiter=",", usecols=(2, 0, 2), dtype="f4")),
    (b"1,2,3\n4,5,6\n", dict(delimiter=",", usecols=-1, ndmin=2, dtype="i2")),
    (b"1;2\n3;4\n", dict(delimiter=";", unpack=True, comments=None)),
    (b"1,2 # \xc3\xa9\n3,4\n", dict(delimiter=",")),
    (b"1,2 # \xff\n3,4\n", dict(delimiter=",")),
    (b"\xef\xbb\xbf1,2\n", dict(delimiter=",")),
    (b"1,2\n3,4,5\n", dict(delimiter=",", usecols=(0, 1))),
    (b"1,2\n3,x\n", dict(delimiter=",")),
    (b"1,2\n3,\n", dict(delimiter=",")),
    (b"1  2\n  # c\n 3 4 \n5 6#\n", {}),
    (b"1 2\n3\t4\n", dict(skiprows=1)),
    (b"1 2\n3 4\n", dict(skiprows=5)),
    (b"1e5 -0 +.5\n-inf nan 5.\n", {}),
]


@pytest.mark.parametrize(("data", "kw"), PATH_CASES)
def test_loadtxt_path(tmp_path, data, kw):
    path = tmp_path / "data.txt"
    path.write_bytes(data)
    _compare(fastetl.loadtxt, ORIGINAL_LOADTXT, lambda: str(path), kw)


@settings(max_examples=EXAMPLES)
@given(
    f=files(),
    dtype=st.sampled_from(["f8", "f4", ">f8", "i8", "i2"]),
    comments=st.sampled_from(["#", None]),
    skiprows=st.integers(0, 3),
    usecols=st.sampled_from([None, 0, -1, [1, 0], [0, 0], [5]]),
    ndmin=st.sampled_from([0, 1, 2]),
    encoding=st.sampled_from([None, "latin1"]),
)
def test_loadtxt_path_matches_numpy(f, dtype, comments, skiprows, usecols, ndmin, encoding):
    # the calls the core answers reading the path itself (PATH_CASES), from random files
    text, delim, _ = f
    note(repr(text))
    kw = dict(dtype=dtype, comments=comments, delimiter=delim, skiprows=skiprows,
              usecols=usecols, ndmin=ndmin, encoding=encoding)
    with tempfile.TemporaryDirectory() as folder:
        _compare(fastetl.loadtxt, ORIGINAL_LOADTXT, _inputs(text, "path", folder), kw)


@pytest.mark.parametrize("byte", [b"\t", b"\x0b", b"\x0c", b"\x1c", b"\x1f", b"\x00", b"\x01",
                                  b"\x1b", b"\x7f", b"\xa0"])
@pytest.mark.parametrize("where", [b"1 2\n3{}4\n", b"1 2\n3 4{}\n", b"{}1 2\n3 4\n"])
def test_loadtxt_path_whitespace_control_bytes(tmp_path, byte, where):
    # delimiter=None: a control byte but LF and CR (numpy's whitespace, or one no
    # number holds) sends the path read to the byte preparation; numpy's answer either way
    path = tmp_path / "data.txt"
    path.write_bytes(where.replace(b"{}", byte))
    _compare(fastetl.loadtxt, ORIGINAL_LOADTXT, lambda: str(path), {})


@pytest.mark.parametrize("byte", [b"\t", b"\x0b", b"\x0c", b"\x1c", b"\x1f", b"\x00", b"\x1b",
                                  b"\xa0"])
@pytest.mark.parametrize("at", [0, 17, 40])
def test_a_whitespace_piece_with_a_control_byte_leaves_the_path_read(byte, at):
    """delimiter=None: the check of each piece the core reads sends a piece holding a
    control byte but LF and CR (or a byte 0x80 and above) anywhere -- past its first 16
    bytes too -- to the byte preparation (_NotPlainText), and lets a clean one through."""
    from fastetl.dropin import numpy as dn

    clean = b"1.5 2.25 3\r\n4 5 6.125\n" * 3  # (66 bytes)
    check = dn._Inspector(spaces=True, comment=False)
    check(clean, 0, len(clean))
    dirty = clean[:at] + byte + clean[at + 1 :]
    with pytest.raises(dn._NotPlainText):
        check(dirty, 0, len(dirty))
    check(dirty, at + 1, len(dirty))  # (the piece after it is clean)


def test_loadtxt_path_views_the_records(tmp_path):
    # N float64 fields are the bytes of a (rows, N) array: the result is a view of them
    path = _savetxt(tmp_path, 500, ",", "m.csv")
    fastetl.set_fallback("error")
    got = fastetl.loadtxt(path, delimiter=",")
    _same(ORIGINAL_LOADTXT(path, delimiter=","), got)
    assert got.base is not None and got.base.dtype.names is not None


# Unicode whitespace: str.strip() and str.split() take it, bytes do not; numpy strips a
# header name before NameValidator deletes its quotes, and easy_dtype validates it again
UNICODE_SPACES = ["\xa0", "\u2000", "\u3000", "\x85", "\x1c", "\x1d", "\x1e", "\x1f", "\x0b"]


@pytest.mark.parametrize("space", UNICODE_SPACES)
@pytest.mark.parametrize("delimiter", [",", "\t", " ", None])
@pytest.mark.parametrize("dtype", [None, float, "i8"])
@pytest.mark.parametrize("usecols", [None, -1, [1, 0]])
def test_genfromtxt_unicode_space_in_names(space, delimiter, dtype, usecols, tmp_path):
    d = delimiter or "  "
    text = f'"{space}1"{d}"b{space}"{d}{space}c\n1{d}2{d}3\n4{d}5{d}6\n'
    path = tmp_path / "h.csv"
    path.write_text(text, encoding="utf-8")
    kw = dict(delimiter=delimiter, dtype=dtype, usecols=usecols, names=True)
    assert _compare(fastetl.genfromtxt, ORIGINAL_GENFROMTXT, lambda: str(path), kw)
    # (lines split by str.splitlines, which also ends a line at \x85 and \x1c-\x1e)
    _compare(fastetl.genfromtxt, ORIGINAL_GENFROMTXT, lambda: text.splitlines(keepends=True),
             {**kw, "autostrip": True})


@pytest.mark.parametrize("space", UNICODE_SPACES)
@pytest.mark.parametrize("delimiter", [",", "\t", " ", None])
@pytest.mark.parametrize("dtype", [None, float, "U3"])
def test_genfromtxt_unicode_space_in_values(space, delimiter, dtype):
    d = delimiter or "  "
    text = f'a{d}b\n{space}1{d}2{space}\n"{space}3"{d}{space}\n'
    kw = dict(delimiter=delimiter, dtype=dtype, names=True)
    _compare(fastetl.genfromtxt, ORIGINAL_GENFROMTXT, lambda: io.StringIO(text), kw)


@pytest.mark.parametrize("text", [",0.5\n1.5\n2.5\n", "1\n,2\n3\n", " ,2\n3\n4\n"])
@pytest.mark.parametrize("dtype", [float, "f8,i4", None])
def test_genfromtxt_empty_used_field_of_a_longer_row(text, dtype):
    # invalid_raise=False keeps rows of any length holding the usecols; the one empty
    # field a longer row gives is a value (NaN) for numpy, not a blank line
    kw = dict(delimiter=",", usecols=0, invalid_raise=False, dtype=dtype)
    _compare(fastetl.genfromtxt, ORIGINAL_GENFROMTXT, lambda: io.StringIO(text), kw)


@pytest.mark.parametrize(
    ("text", "kw"),
    [("1,,3\n4,5,6\n", dict(delimiter=",")), (" 1 2\n3 4 \n5 6\n", dict(skip_footer=1)),
     ("x\n1 2\n", dict(skip_header=1, ndmin=2)), ("1,2\n3\n", dict(delimiter=","))],
)
def test_genfromtxt_own_path(text, kw):
    assert _compare(fastetl.genfromtxt, ORIGINAL_GENFROMTXT, lambda: io.StringIO(text), kw)


@pytest.mark.parametrize("delimiter", [",", None])
def test_max_rows_leaves_the_rest_of_a_file_object(delimiter):
    text = "# h\n1,2\n3,4\n\n5,6\n7,8\n".replace(",", delimiter or " ")
    fastetl.set_fallback("error")
    for ours, theirs, kw in (
        (fastetl.loadtxt, ORIGINAL_LOADTXT, {"skiprows": 1}),
        (fastetl.genfromtxt, ORIGINAL_GENFROMTXT, {"skip_header": 1}),
    ):
        mine, ref = io.StringIO(text), io.StringIO(text)
        _same(theirs(ref, delimiter=delimiter, max_rows=2, **kw),
              ours(mine, delimiter=delimiter, max_rows=2, **kw))
        _same(theirs(ref, delimiter=delimiter), ours(mine, delimiter=delimiter))


def test_no_data_warns_as_numpy(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_text("# only a comment\n")
    fastetl.set_fallback("error")
    with pytest.warns(UserWarning, match="input contained no data") as seen:
        got = fastetl.loadtxt(path, usecols=[0, 1])
    assert not any(isinstance(w.message, fastetl.FallbackWarning) for w in seen)
    with pytest.warns(UserWarning, match="input contained no data"):
        _same(ORIGINAL_LOADTXT(path, usecols=[0, 1]), got)


def test_signature_is_numpys():
    import inspect

    for ours, theirs in ((fastetl.loadtxt, ORIGINAL_LOADTXT),
                         (fastetl.genfromtxt, ORIGINAL_GENFROMTXT)):
        a, b = inspect.signature(ours), inspect.signature(theirs)
        assert list(a.parameters) == list(b.parameters)
        for name, p in b.parameters.items():
            assert a.parameters[name].kind == p.kind, name
            assert a.parameters[name].default == p.default, name
