"""fastetl.pandas.read_csv against the installed pandas.read_csv: the options moved
onto fastetl's own path for pandas' own parser tests (float_precision with number
marks, chunksize/iterator, ...).  Same rules as tests/test_dropin_pandas.py: every
frame is compared with assert_frame_equal(check_exact=True), or the same exception
class where pandas refuses."""

from __future__ import annotations

import io
import warnings

import pandas
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastetl
import fastetl.pandas as fpd
from fastetl.dropin import pandas_floats
from fastetl.dropin.fallback import FallbackError

from test_dropin_pandas import _falls_back, _policy, own, same, write  # noqa: F401 - _policy: autouse

_PRECISIONS = [None, "high", "round_trip", "legacy"]


@st.composite
def _marked_numbers(draw):
    """A column of short numbers spelled with decimal="," (and maybe thousands="_")."""
    thousands = draw(st.sampled_from([None, "_"]))
    values = []
    for _ in range(draw(st.integers(1, 12))):
        whole = draw(st.integers(0, 10**6))
        text = f"{whole:_}" if thousands and draw(st.booleans()) else str(whole)
        if draw(st.booleans()):
            text += "," + draw(st.text("0123456789", min_size=0, max_size=6))
        if draw(st.booleans()):
            text += "e" + draw(st.sampled_from(["", "-", "+"])) + draw(st.sampled_from("0124"))
        values.append(draw(st.sampled_from(["", "-"])) + text)
    return thousands, values


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(case=_marked_numbers(), precision=st.sampled_from(_PRECISIONS))
def test_short_floats_with_marks_differential(tmp_path_factory, case, precision):
    """Short numbers with decimal/thousands marks, every float_precision: pandas' frame
    and warnings (its float_precision deprecation); on fastetl's own path where the
    check proves pandas' rounding exact, else after a fallback."""
    thousands, values = case
    p = write(tmp_path_factory.mktemp("m"), "a|b\n" + "".join(f"{v}|1\n" for v in values))
    fastetl.set_fallback("silent")
    same(p, sep="|", decimal=",", thousands=thousands, float_precision=precision)


@pytest.mark.parametrize("precision", _PRECISIONS)
def test_short_floats_with_marks_on_own_path(tmp_path, precision):
    p = write(tmp_path, "a|b\n1_234,5|2\n-0,25|3\n7,|4\n,5e1|5\n12,25e-0|6\n")
    df = own(p, sep="|", decimal=",", thousands="_", float_precision=precision)
    assert df["a"].dtype == "float64"


def test_legacy_scaling_twice(tmp_path):
    """An old pandas' legacy divides 1,234 by 10 and then by 100 (two roundings): pandas
    answers; pandas 3 reads plain numbers correctly rounded under every precision: the
    own path answers."""
    p = write(tmp_path, "a\n1.234\n0.3\n")
    fastetl.set_fallback("silent")
    same(p, float_precision="legacy")  # (pandas' answer, with its deprecation warning)
    fastetl.set_fallback("error")
    if pandas_floats.rounding("legacy") == "nearest":
        own(p, float_precision="legacy")
    else:
        with pytest.raises(FallbackError, match="legacy"):
            fpd.read_csv(p, float_precision="legacy")


@st.composite
def _long_numbers(draw):
    """Numbers of up to 30 digits (leading zeros, exponents up to +-330, signs) spelled
    with a decimal mark and maybe thousands groups: pandas rounds them its own way."""
    decimal, thousands = draw(st.sampled_from([(",", None), (",", "."), (".", ","),
                                               (",", "_"), (".", None)]))
    values = []
    for _ in range(draw(st.integers(1, 8))):
        whole = draw(st.text("0123456789", max_size=15))
        frac = draw(st.text("0123456789", max_size=30))
        if thousands and whole and draw(st.booleans()):
            whole = f"{int(whole):,}".replace(",", thousands)
        text = draw(st.sampled_from(["", "-", "+"])) + whole + decimal + frac
        if not (whole or frac):
            text += "0"
        if draw(st.booleans()):
            text += "e" + str(draw(st.integers(-330, 330)))
        values.append(text)
    return decimal, thousands, values


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(case=_long_numbers(), precision=st.sampled_from(_PRECISIONS))
def test_long_floats_with_marks_differential(tmp_path_factory, case, precision):
    """Long numbers with number marks, every float_precision: pandas' own rounding on
    fastetl's own path (pandas' frame, bit for bit)."""
    decimal, thousands, values = case
    p = write(tmp_path_factory.mktemp("l"), "a|b\n" + "".join(f"{v}|1\n" for v in values))
    kw = dict(sep="|", decimal=decimal, thousands=thousands, float_precision=precision)
    want = pandas.read_csv(p, **kw) if precision is None else None
    if want is not None and want["a"].dtype != "float64":
        fastetl.set_fallback("silent")  # (not a float column to pandas: not this test's)
        same(p, **kw)
    else:
        own(p, **kw)


# -- chunksize / iterator --------------------------------------------------------------


def _chunks(fn, make, **kwargs):
    """The frames of a chunked read (or the exception class) and its warnings."""
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        try:
            with fn(make(), **kwargs) as reader:
                out = list(reader)
        except Exception as e:  # noqa: BLE001 - the class is what is compared
            out = type(e)
    return out, sorted({w.category.__name__ for w in seen if w.category.__name__ != "FallbackWarning"})


def same_chunks(make, **kwargs):
    want, want_w = _chunks(pandas.read_csv, make, **kwargs)
    got, got_w = _chunks(fpd.read_csv, make, **kwargs)
    if isinstance(want, type):
        assert got is want
    else:
        assert not isinstance(got, type), f"fastetl raised {got.__name__}"
        assert len(got) == len(want)
        for g, w in zip(got, want):
            pandas.testing.assert_frame_equal(g, w, check_exact=True)
    assert got_w == want_w
    return got


_CELLS = st.sampled_from(["1", "-7", "2.5", "", "NA", "x", "y z", '"q,1"', "True", "1e3"])


@st.composite
def _chunk_case(draw):
    ncols = draw(st.integers(1, 4))
    rows = draw(st.lists(st.lists(_CELLS, min_size=ncols, max_size=ncols), min_size=1,
                         max_size=30))
    header = ",".join(f"c{i}" for i in range(ncols))
    text = header + "\n" + "".join(",".join(r) + "\n" for r in rows)
    kwargs = {"chunksize": draw(st.integers(1, 12))}
    if draw(st.booleans()):
        kwargs["nrows"] = draw(st.integers(1, 35))
    if draw(st.booleans()):
        kwargs["index_col"] = 0
    if ncols > 1 and draw(st.booleans()):
        kwargs["usecols"] = ["c0", f"c{ncols - 1}"]
    if draw(st.booleans()):
        kwargs["header"] = None
        kwargs.pop("usecols", None)
    return text, kwargs


@pytest.mark.parametrize("text, kwargs", [
    ("c0\n1\n", dict(chunksize=1, index_col=0, header=None)),  # 1st chunk falls back
    ("a,b,c\n1,2\n3\n4,5,6\n", dict(chunksize=1, header=None)),  # shorter rows filled
])
def test_chunks_after_a_first_chunk_of_any_kind(tmp_path, text, kwargs):
    """The table's width comes from the first chunk however it was answered (one that
    fell back to pandas left it unset: the next chunk raised AttributeError)."""
    fastetl.set_fallback("silent")
    p = write(tmp_path, text)
    same_chunks(lambda: p, **kwargs)


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(case=_chunk_case(), quoted_source=st.booleans())
def test_chunks_differential(tmp_path_factory, case, quoted_source):
    """Random files x chunksize/nrows/index_col/usecols/header: every chunk equals
    pandas' chunk (a chunk fastetl cannot answer is pandas' own, silently)."""
    text, kwargs = case
    fastetl.set_fallback("silent")
    if quoted_source:
        same_chunks(lambda: io.StringIO(text), **kwargs)
    else:
        p = write(tmp_path_factory.mktemp("c"), text)
        same_chunks(lambda: p, **kwargs)


def test_chunks_on_own_path(tmp_path):
    text = "a,b,c\n" + "".join(
        f"{i},{'w' if i % 7 else ''},{i / 4 if i % 5 else 'NA'}\n" for i in range(50)
    ) + "\n\n9,\"q\nr\",1"
    p = write(tmp_path, text)
    fastetl.set_fallback("error")
    for size in (1, 3, 7, 50, 100):
        same_chunks(lambda: p, chunksize=size)
        same_chunks(lambda: io.StringIO(text), chunksize=size, index_col=0)
    got = fpd.read_csv(p, iterator=True)
    want = pandas.read_csv(p, iterator=True)
    with got, want:
        for n in (4, 1, 10):
            pandas.testing.assert_frame_equal(got.get_chunk(n), want.get_chunk(n), check_exact=True)
        pandas.testing.assert_frame_equal(got.read(), want.read(), check_exact=True)


def test_chunk_errors_as_pandas(tmp_path):
    """A bad chunksize, a too-long row opening a later chunk: pandas' exception class."""
    p = write(tmp_path, "1,2,3\n4,5,6\n7,8,9,10\n11,12,13\n")
    fastetl.set_fallback("error")
    for size in (0, 1.5, "x"):
        same_chunks(lambda: p, chunksize=size)
    for size in (1, 2):
        same_chunks(lambda: p, chunksize=size, header=None)


def test_chunks_bounded_memory(tmp_path):
    """A file many times bigger than one chunk: the memory traced while reading it
    chunk by chunk stays a small multiple of one chunk's frame, not the file."""
    import tracemalloc

    rows = 800_000
    p = tmp_path / "big.csv"
    with open(p, "w") as f:
        f.write("a,b,c\n")
        block = "".join(f"{i},{i * 3},word{i % 13}\n" for i in range(10_000))
        for _ in range(rows // 10_000):
            f.write(block)
    size = p.stat().st_size
    fastetl.set_fallback("error")
    tracemalloc.start()
    try:
        total = 0
        with fpd.read_csv(p, chunksize=5_000) as reader:
            for chunk in reader:
                total += len(chunk)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert total == rows
    assert peak < size / 4, (peak, size)  # (one chunk: about 1.7 MB of 13 MB)


@pytest.mark.parametrize("kwargs", [{}, {"index_col": 0}, {"index_col": ["b", "a"]},
                                    {"usecols": ["a", "c"]}, {"dtype": {"a": "int64"}}])
def test_header_only_on_own_path(tmp_path, kwargs):
    """No data rows: the frame of the header alone (labels, dtypes, an empty index)."""
    p = write(tmp_path, "a,b,c\n")
    own(p, **kwargs)


# -- numeric dtypes ----------------------------------------------------------------------

_NUMERIC_DTYPES = ["int8", "int16", "int32", "uint8", "uint16", "uint32", "uint64", "Int8",
                   "Int16", "Int32", "UInt8", "UInt16", "UInt32", "UInt64", "float32",
                   "Float32", "Float64"]
_NUMBERS = st.sampled_from(["0", "1", "-1", "127", "128", "-129", "255", "256", "65536",
                            "-40000", "4294967296", "2.5", "-0.0", "1e39", "", "NA", "x"])


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(cells=st.lists(st.tuples(_NUMBERS, _NUMBERS), min_size=1, max_size=8),
       dtype=st.sampled_from(_NUMERIC_DTYPES), per_column=st.booleans())
def test_numeric_dtypes_differential(tmp_path_factory, cells, dtype, per_column):
    """dtype= a numpy or nullable integer / float dtype: pandas' frame, or its exception
    class (NA in an int8 column, 300 as uint8, text as a number ...)."""
    p = write(tmp_path_factory.mktemp("d"), "a,b\n" + "".join(f"{x},{y}\n" for x, y in cells))
    fastetl.set_fallback("silent")
    same(p, dtype={"a": dtype} if per_column else dtype)


@pytest.mark.parametrize("dtype", _NUMERIC_DTYPES)
def test_numeric_dtypes_on_own_path(tmp_path, dtype):
    p = write(tmp_path, "a,b\n1,2\n0,17\n")
    df = own(p, dtype=dtype)
    assert str(df["a"].dtype) == dtype


def test_thousands_equal_to_the_delimiter(tmp_path):
    """thousands="," with sep=",": digits grouped inside quotes only, for both readers."""
    p = write(tmp_path, 'a,b,c\n"1,234",5,"2,500.5"\n"-7",0,1.5\n')
    df = own(p, thousands=",")
    assert df["a"].tolist() == [1234, -7]


# -- dialect ---------------------------------------------------------------------------


@pytest.fixture
def weird_dialect():
    import csv

    csv.register_dialect("fastetl-weird", delimiter=":", quotechar="`", escapechar="~",
                         doublequote=False, skipinitialspace=False, quoting=csv.QUOTE_NONE)
    yield "fastetl-weird"
    csv.unregister_dialect("fastetl-weird")


@pytest.mark.parametrize("kwargs", [{}, {"sep": ","}, {"delimiter": ":"}, {"quotechar": "'"},
                                    {"escapechar": "!"}, {"skipinitialspace": True},
                                    {"doublequote": True}])
def test_dialect_on_own_path(tmp_path, weird_dialect, kwargs):
    """dialect=: its options win, with pandas' ParserWarning for each conflicting value."""
    p = write(tmp_path, "a:b:c\n1:2~:x:`q`\n3:4.5:y\n")
    own(p, dialect=weird_dialect, **kwargs)


def test_invalid_dialect_is_pandas_error(tmp_path):
    class NotADialect:
        pass

    p = write(tmp_path, "a\n1\n")
    fastetl.set_fallback("error")
    same(p, dialect=NotADialect)


# -- dtype="category" ------------------------------------------------------------------

_CATEGORY_WORDS = st.sampled_from(["1", "2", "1.0", "-3", "1e3", "a", "b", "True", "false",
                                   "TRUE", "tRuE", "", "NA", "nan", " 1", "01", "inf", "yes",
                                   "2020-01-01"])
_CATEGORY_DTYPES = st.sampled_from(["category", "cat-ordered", "cat-str", "cat-int", "cat-bool"])


def _category_dtype(name):
    from pandas.api.types import CategoricalDtype

    return {"category": "category", "cat-ordered": CategoricalDtype(ordered=True),
            "cat-str": CategoricalDtype(["1", "2", "a"]), "cat-int": CategoricalDtype([1, 2, 3]),
            "cat-bool": CategoricalDtype([True, False])}[name]


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(words=st.lists(_CATEGORY_WORDS, min_size=1, max_size=8), dtype=_CATEGORY_DTYPES,
       true_words=st.booleans(), keep_default_na=st.booleans())
def test_category_differential(tmp_path_factory, words, dtype, true_words, keep_default_na):
    """dtype="category" or a CategoricalDtype: pandas 3.1 makes numbers or bools of the
    categories when all of them are; given categories recode the values."""
    p = write(tmp_path_factory.mktemp("k"), "a,b\n" + "".join(f"{w},{i}\n" for i, w in enumerate(words)))
    kwargs = {"dtype": {"a": _category_dtype(dtype)}, "keep_default_na": keep_default_na}
    if true_words:
        kwargs["true_values"] = ["yes"]
    fastetl.set_fallback("silent")
    same(p, **kwargs)


@pytest.mark.parametrize("dtype", ["category", "cat-ordered", "cat-str", "cat-int", "cat-bool"])
def test_category_on_own_path(tmp_path, dtype):
    p = write(tmp_path, "a,b\n1,x\n2,y\nTrue,x\n,z\n3,x\n")
    own(p, dtype=_category_dtype(dtype))
    own(p, dtype={"b": _category_dtype(dtype)})


# -- sep=r"\s+" --------------------------------------------------------------------------

_BLANKS = st.sampled_from([" ", "  ", "\t", " \t "])


@st.composite
def _spaced_text(draw):
    ncols = draw(st.integers(1, 4))
    lines = [" ".join("abcd"[:ncols])]
    for _ in range(draw(st.integers(1, 8))):
        row = [draw(st.sampled_from(["1", "2.5", "x", "NA", "-3", "True", "ab"]))
               for _ in range(ncols)]
        text = row[0] + "".join(draw(_BLANKS) + c for c in row[1:])
        lines.append(draw(st.sampled_from(["", " ", "\t"])) + text
                     + draw(st.sampled_from(["", " ", "\t "])))
    if draw(st.booleans()):
        lines.insert(draw(st.integers(1, len(lines))), draw(st.sampled_from(["", "   "])))
    return "\n".join(lines) + draw(st.sampled_from(["", "\n", "\r\n"]))


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(text=_spaced_text(), header=st.booleans(), chunked=st.booleans())
def test_whitespace_sep_differential(tmp_path_factory, text, header, chunked):
    """sep=r"\\s+": runs of spaces and tabs, blanks at the ends of lines, blank lines."""
    p = write(tmp_path_factory.mktemp("w"), text)
    kwargs = {"sep": r"\s+"} if header else {"sep": r"\s+", "header": None}
    fastetl.set_fallback("silent")
    if chunked:
        same_chunks(lambda: p, chunksize=3, **kwargs)
    else:
        same(p, **kwargs)


def test_whitespace_sep_on_own_path(tmp_path):
    p = write(tmp_path, "a b  c\n 1\t2.5  x \n\n3 4 y\t\n")
    own(p, sep=r"\s+")
    own(p, sep=r"\s+", usecols=["a", "c"])


# -- numeric na_values ------------------------------------------------------------------

_NA_CELLS = st.sampled_from(["-999", "-999.0", "-999.000", "1.2", "2", "x", "NA", "", "1e3",
                             "1000", "5.5", "+1000", "01000", "nan"])
_NA_VALUES = st.sampled_from([["-999"], [-999], [-999.0], ["-999.0", "-999"], "x", ["1e3"],
                              [5.5], [1000], ["5.5", "x"], 7, [], ["nan"]])


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(rows=st.lists(st.tuples(_NA_CELLS, _NA_CELLS), min_size=1, max_size=6),
       na_values=_NA_VALUES, keep_default_na=st.booleans())
def test_numeric_na_values_differential(tmp_path_factory, rows, na_values, keep_default_na):
    """na_values with numbers (or numeric strings): pandas' spellings of them as NA text,
    and in a column of fractions the values equal to them (-999.000 for -999)."""
    p = write(tmp_path_factory.mktemp("n"), "A,B\n" + "".join(f"{a},{b}\n" for a, b in rows))
    fastetl.set_fallback("silent")
    same(p, na_values=na_values, keep_default_na=keep_default_na)


@pytest.mark.parametrize("na_values", [["-999.0", "-999"], [-999, -999.0], [-999.0], [-999]])
def test_numeric_na_values_on_own_path(tmp_path, na_values):
    p = write(tmp_path, "A,B\n-999,1.200\n2,-999.000\n3,4.500\n")
    df = own(p, na_values=na_values)
    assert df.isna().sum().tolist() == [1, 1]


# -- encoding_errors -----------------------------------------------------------------

_BYTES = st.sampled_from([b"a", b"1", b"\xff", b"\xe2\x82", b"\xc3\xa9", b",", b'"', b"\n",
                          b"x\xfe", b""])


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(parts=st.lists(_BYTES, min_size=1, max_size=12), errors=st.sampled_from(["replace", "ignore"]),
       dtype=st.sampled_from([None, "category", object]))
def test_encoding_errors_differential(tmp_path_factory, parts, errors, dtype):
    """Invalid UTF-8 with encoding_errors replace/ignore: pandas decodes field by field,
    fastetl the whole text first ('ignore' dropping bytes goes to pandas)."""
    p = tmp_path_factory.mktemp("e") / "data.csv"
    p.write_bytes(b"a,b\n" + b"".join(parts) + b"\n")
    fastetl.set_fallback("silent")
    same(p, encoding_errors=errors, dtype=dtype, keep_default_na=False)


def test_encoding_errors_on_own_path(tmp_path):
    p = tmp_path / "data.csv"
    p.write_bytes(b'a,b\n"q\xff",1\n,2\n"q\xfe",3\n"z",4\n')
    own(p, encoding_errors="replace")
    own(p, encoding_errors="replace", dtype={"a": "category"})



# -- lineterminator, bool arguments ------------------------------------------------------

_LT_CELLS = st.sampled_from(["1", "x", "", "2.5", '"q\nr"', '"a\rb"'])


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(rows=st.lists(st.tuples(_LT_CELLS, _LT_CELLS), min_size=1, max_size=5),
       ends=st.sampled_from(["\n", "\r", "\r\n"]),
       terminator=st.sampled_from(["\n", "\r", b"\n", b"\r"]), chunked=st.booleans())
def test_lineterminator_differential(tmp_path_factory, rows, ends, terminator, chunked):
    """lineterminator "\\n" or "\\r": the default reading where the text has no other
    line end; pandas' own where it has (there the other byte is data)."""
    text = ends.join(["a,b"] + [f"{a},{b}" for a, b in rows]) + ends
    p = tmp_path_factory.mktemp("t") / "data.csv"
    p.write_bytes(text.encode())
    fastetl.set_fallback("silent")
    if chunked:
        same_chunks(lambda: p, chunksize=2, lineterminator=terminator)
    else:
        same(p, lineterminator=terminator)


def test_lineterminator_on_own_path(tmp_path):
    p = tmp_path / "data.csv"
    p.write_bytes(b'a,b\n1,"x"\n2,y\n')
    own(p, lineterminator="\n")
    own(p, lineterminator=b"\n")


@pytest.mark.parametrize("kwarg", ["dayfirst", "doublequote", "keep_default_na", "memory_map",
                                   "na_filter", "skip_blank_lines", "skipinitialspace"])
@pytest.mark.parametrize("value", ["False", None, 1.5])
def test_bool_arguments_checked_as_pandas(tmp_path, kwarg, value):
    """A bool argument that is not a bool: pandas' ValueError, not its truthiness."""
    p = write(tmp_path, "a\n1\n")
    fastetl.set_fallback("error")
    same(p, **{kwarg: value})


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(cells=st.lists(st.tuples(_NUMBERS, _NUMBERS), min_size=1, max_size=6),
       dtype=st.sampled_from(_NUMERIC_DTYPES + ["int64", "float64", "Int64"]),
       backend=st.sampled_from(["numpy_nullable", "pyarrow"]))
def test_numeric_dtype_with_backend_differential(tmp_path_factory, cells, dtype, backend):
    """dtype for one column with dtype_backend: that column as asked, the others in
    the backend's types (or pandas' exception class)."""
    p = write(tmp_path_factory.mktemp("b"), "a,b\n" + "".join(f"{x},{y}\n" for x, y in cells))
    fastetl.set_fallback("silent")
    same(p, dtype={"a": dtype}, dtype_backend=backend)


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(lines=st.lists(st.sampled_from(["1,2", "x,", "", "", "  ", "\t", "3, 4", '"q",5', "1.5,",
                                       "-9223372036854775808,1"]), min_size=1, max_size=6),
       ends=st.sampled_from(["\n", "\r", "\r\n"]), last=st.sampled_from(["", "\n", "\n\n", " "]),
       header=st.sampled_from(["a,b", "a"]),
       kw=st.sampled_from([{}, {"keep_default_na": False}, {"na_filter": False},
                           {"header": None}, {"index_col": 0}, {"nrows": 2}, {"usecols": [0]}]))
def test_skip_blank_lines_false_differential(tmp_path_factory, lines, ends, last, header, kw):
    """skip_blank_lines=False: each blank line a row of empty fields (NA), as pandas
    reads it (its own reading where a quote, a line of blanks or a lone \\r is there)."""
    p = tmp_path_factory.mktemp("s") / "data.csv"
    p.write_bytes((ends.join([header] + lines) + last).encode())
    fastetl.set_fallback("silent")
    same(p, skip_blank_lines=False, **kw)


def test_skip_blank_lines_false_on_own_path(tmp_path):
    p = write(tmp_path, "a,b\n1,2\nx,\n")
    own(p, skip_blank_lines=False)
    # a blank line is a row of empty fields: NA, or "" where they are no NA
    p = write(tmp_path, "a,b\n1,2\n\nx,\n\n")
    own(p, skip_blank_lines=False)
    own(p, skip_blank_lines=False, keep_default_na=False)
    own(p, skip_blank_lines=False, nrows=2)
    own(write(tmp_path, "a\r\n\r\n-9223372036854775808\r\n"), skip_blank_lines=False)


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(lines=st.lists(st.sampled_from(["a,b", "1,2", "x,", "", " ", "\t", "c,d", "3,4,5",
                                       '"q",5', '"m\nn",1']), min_size=1, max_size=7),
       header=st.integers(1, 3), names=st.booleans(), index_col=st.booleans(),
       blank=st.booleans(), ends=st.sampled_from(["\n", "\r\n", "\r"]))
def test_header_below_the_first_row_differential(tmp_path_factory, lines, header, names,
                                                  index_col, blank, ends):
    """header=k: the rows above the header row are left out, counted as pandas counts
    records (a blank line is one under skip_blank_lines=False only)."""
    p = write(tmp_path_factory.mktemp("h"), ends.join(lines) + ends)
    kwargs = {"header": header, "skip_blank_lines": blank}
    if names:
        kwargs["names"] = ["p", "q"]
    if index_col:
        kwargs["index_col"] = 0
    fastetl.set_fallback("silent")
    same(p, **kwargs)


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(lines=st.lists(st.sampled_from(["a,b", "1,2", "x,", "", " ", "c,d", "3,4,5", '"q",5',
                                       '"m\nn",1', '"r\r\ns",2', '"t""\n",3']),
                      min_size=1, max_size=7),
       ends=st.sampled_from(["\n", "\r\n", "\r"]),
       skiprows=st.integers(0, 4) | st.lists(st.integers(0, 7), max_size=4),
       blank=st.booleans())
def test_skiprows_over_blank_and_multiline_rows_differential(tmp_path_factory, lines, ends,
                                                              skiprows, blank):
    """skiprows numbers rows as pandas does: a blank line is a row, a quoted row of
    several lines one row (answered on the own path now; pandas' own reading where not)."""
    p = tmp_path_factory.mktemp("k") / "data.csv"
    p.write_bytes((ends.join(["a,b"] + lines) + ends).encode())
    fastetl.set_fallback("silent")
    same(p, skiprows=skiprows, skip_blank_lines=blank)


def test_header_below_the_first_row_on_own_path(tmp_path):
    p = write(tmp_path, "junk\nmore,junk\na,b\n1,x\n2,y\n")
    own(p, header=2)
    own(p, header=2, names=["p", "q"])


def test_numpy_str_dtype_as_pandas(tmp_path):
    """np.str_ is object to pandas, not its str dtype (numpy's U is no numeric dtype)."""
    import numpy as np

    p = write(tmp_path, "a,b\nx,a\ny,a\n")
    fastetl.set_fallback("silent")
    same(p, dtype=np.str_)
    same(p, dtype={"a": np.str_})


def test_skip_blank_lines_false_blank_line_after_a_bom(tmp_path):
    p = tmp_path / "data.csv"
    p.write_bytes(b"\xef\xbb\xbf\n1\n")
    fastetl.set_fallback("silent")
    same(p, names=["a"], skip_blank_lines=False)


# -- rows longer than the header: pandas' implicit index --------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "A,B,C\nfoo,1,2,3\nbar,4,5,6\nbaz,7,8,9\n",  # a str index
        "A,B\nx,1,2,3\ny,4,5,6\n",  # two levels
        "A,B,C\n1.5,1,2,3\n2,4,5,6\n",  # a float index
        "A,B,C\n1,a,2,3\n2,4,5\n",  # an int index (a range to pandas), a short row
    ],
)
def test_implicit_index_on_own_path(tmp_path, text):
    df = own(write(tmp_path, text))
    assert df.index.name is None and df.index.nlevels == text.split("\n")[1].count(",") - text.split("\n")[0].count(",")


@st.composite
def _longer_rows(draw):
    """A header of n names and rows of n + k fields (k leading), sometimes a row of
    another length further down."""
    n, k = draw(st.integers(1, 3)), draw(st.integers(1, 2))
    rows = draw(st.lists(st.lists(_CELLS, min_size=n + k, max_size=n + k), min_size=1,
                         max_size=8))
    lines = [",".join(r) for r in rows]
    if draw(st.booleans()):
        extra = draw(st.lists(_CELLS, min_size=1, max_size=n + k + 2))
        lines.insert(draw(st.integers(1, len(lines))), ",".join(extra))
    return ",".join(f"c{i}" for i in range(n)) + "\n" + "\n".join(lines) + "\n"


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(text=_longer_rows())
def test_implicit_index_differential(tmp_path_factory, text):
    """Random files whose rows are longer than the header: pandas' frame (its index from
    the leading fields) or its exception, silently where fastetl falls back."""
    fastetl.set_fallback("silent")
    same(write(tmp_path_factory.mktemp("i"), text))


def test_implicit_index_with_chunks_is_pandas(tmp_path):
    """pandas counts the leading fields on the file's first row, not on each chunk's:
    chunks of such a file are pandas' own (a fallback)."""
    p = write(tmp_path, "A,B\nx,1,2\ny,3,4\nz,5,6\nw,7,8\n")
    fastetl.set_fallback("silent")
    same_chunks(lambda: p, chunksize=2)
    fastetl.set_fallback("error")
    with pytest.raises(FallbackError, match="longer than the header"):
        with fpd.read_csv(p, chunksize=2) as reader:
            list(reader)


@pytest.mark.parametrize("key", ["sep", "delimiter"])
@pytest.mark.parametrize("sep,terminator", [("\n", None), ("\r", "\r"), ("\n", "\n")])
def test_line_break_as_separator_is_pandas_error(tmp_path, key, sep, terminator):
    """A line break as the separator: pandas' own ValueError, not a fallback."""
    p = write(tmp_path, "a,b,c\n1,2,3\n")
    fastetl.set_fallback("error")
    with pytest.raises(ValueError, match="cannot be used as a separator") as err:
        fpd.read_csv(p, lineterminator=terminator, **{key: sep})
    assert not isinstance(err.value, FallbackError)
    same(p, lineterminator=terminator, **{key: sep})


def test_line_break_as_separator_with_another_terminator_falls_back(tmp_path):
    p = write(tmp_path, "a\nb\nc~1\n2\n3~")
    _falls_back(p, "lineterminator", sep="\n", lineterminator="~")


# -- header rows: MultiIndex columns ---------------------------------------------------


@pytest.mark.parametrize(
    "text,kwargs",
    [
        ("a,b,c\nq,r,s\n1,2,3\n4,5,6\n", {}),
        ("a,b,c\nq,r,s\n1,2,3\n4,5,6\n", {"index_col": 0}),
        ("i,b,c\nj,r,s\nidx,,\n1,2,3\n4,5,6\n", {"index_col": 0}),  # a row of index names
        ("i,b,c\nj,r,s\nidx,,\n1,2,3\n4,5,6\n", {}),  # (without index_col: a data row)
        ("a,b,c\nq,r,s\n", {}),  # no data rows
        ("a,b,c\nq,r,s\nx,y,z\n1,2.5,w\n", {"header": [0, 2]}),  # a row between is cut
        ("a,a,b\nq,r,s\nu,v,w\nx,1,2\ny,3,4\n", {"header": [0, 1, 2], "index_col": 0}),
        ("a,b\n1,2\n", {"header": [0]}),  # one row: plain labels
    ],
)
def test_header_rows_on_own_path(tmp_path, text, kwargs):
    kwargs.setdefault("header", [0, 1])
    own(write(tmp_path, text), **kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [{"header": -1}, {"header": True}, {"header": "x"}, {"header": [0, -1]},
     {"header": [0, 1], "names": ["p", "q", "r"]}, {"header": [0, 1], "usecols": [0]}],
)
def test_header_pandas_refuses_is_pandas_error(tmp_path, kwargs):
    p = write(tmp_path, "a,b,c\nq,r,s\n1,2,3\n")
    fastetl.set_fallback("error")
    with pytest.raises((ValueError, TypeError)) as err:
        fpd.read_csv(p, **kwargs)
    assert not isinstance(err.value, FallbackError)
    same(p, **kwargs)


@st.composite
def _header_rows(draw):
    ncols = draw(st.integers(1, 4))
    nhead = draw(st.integers(2, 3))
    cells = st.sampled_from(["a", "b", "", "1", "x y"])
    head = [draw(st.lists(cells, min_size=ncols, max_size=ncols)) for _ in range(nhead)]
    rows = draw(st.lists(st.lists(_CELLS, min_size=ncols, max_size=ncols), max_size=6))
    text = "".join(",".join(r) + "\n" for r in head + rows)
    kwargs = {"header": list(range(nhead))}
    if ncols > 1 and draw(st.booleans()):
        kwargs["index_col"] = draw(st.sampled_from([0, [0], [0, 1][: ncols - 1]]))
    return text, kwargs


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(case=_header_rows())
def test_header_rows_differential(tmp_path_factory, case):
    """Random header rows x index_col: pandas' frame or its exception (pandas' answer,
    silently, where fastetl falls back)."""
    text, kwargs = case
    fastetl.set_fallback("silent")
    same(write(tmp_path_factory.mktemp("h"), text), **kwargs)


@pytest.mark.parametrize("data", [
    b"c0,c1\n1\n3,4\n", b"c0,c1\n1,2\n3\n", b"c0,c1,c2\n1\n\n3,4\n5\n", b"1,2\n\n3\n4,5\n",
    b"c0,c1\n1,2,3\n3\n",
])
@pytest.mark.parametrize("chunksize", [1, 2])
@pytest.mark.filterwarnings("ignore::fastetl.dropin.fallback.FallbackWarning")
def test_chunks_without_header_fill_a_short_first_row(data, chunksize):
    """Without a header row, pandas' table width is set by the first chunk: a later
    chunk whose first row is shorter is filled to it (a longer one: pandas' error)."""
    want, got = [], []
    for fn, out in ((pandas.read_csv, want), (fpd.read_csv, got)):
        try:
            out.extend(fn(io.BytesIO(data), header=None, chunksize=chunksize))
        except Exception as e:  # noqa: BLE001 - compared
            out.append((type(e), str(e)))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        if isinstance(w, tuple):
            assert g == w
        else:
            pandas.testing.assert_frame_equal(g, w, check_exact=True)
