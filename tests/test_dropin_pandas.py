"""fastetl.pandas.read_csv against the installed pandas.read_csv (its C engine).

Every test reads the same file through both and compares the frames with
``assert_frame_equal(check_exact=True)`` -- or, where pandas refuses, checks that
fastetl refuses with the same exception class.  The differential tests draw random
files (numbers, bools, words, free text with quotes and delimiters, null markers,
mixed columns) and random keyword combinations.
"""

from __future__ import annotations

import csv
import io
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastetl
import fastetl.pandas as fpd
from fastetl.dropin import pandas as dropin
from fastetl.dropin.fallback import FallbackError, FallbackWarning


@pytest.fixture(autouse=True)
def _policy():
    fastetl.set_fallback(None)
    yield
    fastetl.set_fallback(None)


def _call(fn, *args, **kwargs):
    """(frame or exception class, warning classes other than FallbackWarning)."""
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        try:
            out = fn(*args, **kwargs)
        except Exception as e:  # noqa: BLE001 - the class is what is compared
            out = type(e)
    kinds = sorted({w.category.__name__ for w in seen if w.category is not FallbackWarning})
    return out, kinds


def same(path, **kwargs):
    """fastetl.pandas.read_csv gives what pandas.read_csv gives (frame, error, warnings).
    ``path`` may be a function that makes the input (a new buffer for each reader)."""
    make = path if callable(path) else (lambda: path)
    want, want_w = _call(pandas.read_csv, make(), **kwargs)
    got, got_w = _call(fpd.read_csv, make(), **kwargs)
    if isinstance(want, type):
        assert got is want, f"pandas raised {want.__name__}, fastetl gave {got!r}"
    else:
        assert not isinstance(got, type), f"fastetl raised {got.__name__}"
        pandas.testing.assert_frame_equal(got, want, check_exact=True)
    assert got_w == want_w
    return got


def own(path, **kwargs):
    """Like :func:`same`, on fastetl's own path (a fallback is an error)."""
    fastetl.set_fallback("error")
    try:
        return same(path, **kwargs)
    finally:
        fastetl.set_fallback(None)


def write(tmp_path: Path, text: str, name: str = "data.csv") -> Path:
    p = tmp_path / name
    p.write_bytes(text.encode("utf-8"))
    return p


# -- the own path on common files ------------------------------------------------------

MIXED = (
    "id,qty,price,flag,word,note,empty\n"
    '1,10,1.5,True,alpha,"a, b",\n'
    '2,,2.25,False,beta,"say ""hi""",\n'
    "3,30,NA,True,alpha,plain,\n"
    "4,40,-1e3,False,,x y,\n"
)


def test_common_file_on_own_path(tmp_path):
    p = write(tmp_path, MIXED)
    df = own(p)
    assert list(df.dtypes.astype(str)) == [
        "int64", "float64", "float64", "bool", "str", "str", "float64"
    ]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"usecols": ["price", "word"]},
        {"usecols": [0, 4]},
        {"header": None},
        {"names": list("abcdefg"), "header": 0},
        {"dtype": {"id": "Int64", "word": "category", "qty": "float64"}},
        {"dtype": str},
        {"dtype": {"note": object, "word": "string"}},
        {"na_values": ["alpha"]},
        {"na_values": "x y", "keep_default_na": False},
        {"keep_default_na": False},
        {"na_filter": False},
        {"sep": ","},
        {"low_memory": False},
        {"encoding": "utf-8"},
    ],
)
def test_keywords(tmp_path, kwargs):
    p = write(tmp_path, MIXED)
    if kwargs.get("names") is not None:  # names with header=0: a fallback, but equal
        same(p, **kwargs)
    else:
        own(p, **kwargs)


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_separators(tmp_path, sep):
    p = write(tmp_path, MIXED.replace(",", sep))
    own(p, sep=sep)


def test_types_come_from_the_whole_file(tmp_path):
    """A column whose first 1000 rows are ints and whose last value is a float or a word
    is float or text in pandas: fastetl reads it again with the wider type."""
    rows = "\n".join(f"{i},{i},{i},{i % 2 == 0}" for i in range(3000))
    p = write(tmp_path, "a,b,c,d\n" + rows + "\n1,2.5,word,maybe\n")
    df = own(p)
    assert list(df.dtypes.astype(str)) == ["int64", "float64", "str", "str"]


@pytest.mark.parametrize("backend", ["numpy_nullable", "pyarrow"])
def test_dtype_backend(tmp_path, backend):
    p = write(tmp_path, MIXED + "5,,,True,gamma,z,\n")
    df = own(p, dtype_backend=backend)
    assert df["qty"].dtype == ("Int64" if backend == "numpy_nullable" else "int64[pyarrow]")


@pytest.mark.parametrize("backend", ["numpy_nullable", "pyarrow"])
@pytest.mark.parametrize("dtype", ["float64", "float32", str, "object", "string", "category",
                                   "Float64"])
def test_dtype_backend_under_a_dtype_asked_for(tmp_path, backend, dtype):
    """pandas' C parser reads a column of a dtype asked for as without dtype_backend
    (categories of numbers stay numpy's); the other columns take the backend."""
    p = write(tmp_path, "a,b,c\n1,2.5,x\n,,\n3,True,y\n")
    own(p, dtype={"a": dtype}, dtype_backend=backend)
    if dtype not in ("float64", "float32", "Float64"):
        own(p, dtype=dtype, dtype_backend=backend)


def test_parse_dates_iso(tmp_path):
    p = write(tmp_path, "a,d,e\n1,2020-01-01,x\n2,,y\n3,9999-12-31,z\n")
    df = own(p, parse_dates=["d"])
    assert df["d"].dtype == "datetime64[us]"
    own(p, parse_dates=[0], usecols=["d", "e"])
    same(p, parse_dates=[1], usecols=["d", "e"])  # (pandas tries e: a warning, a fallback)
    same(write(tmp_path, "a,d\n1,2020-1-1\n2,2020-01-02\n"), parse_dates=["d"])
    same(write(tmp_path, "a,d\n1,2020-01-01\n2,nope\n"), parse_dates=["d"])


def test_dtype_by_place_and_for_columns_not_read(tmp_path):
    """pandas looks a column's dtype up by name, else by its place in the file (with a
    header row too), and passes over keys of columns it does not read."""
    p = write(tmp_path, "a,a,b\n1,2,3\n3,4,5\n")
    own(p, dtype={1: str})
    own(p, dtype={"a.1": str, 1: float})
    q = write(tmp_path, "a,c,b\n1,2,3\n3,4,5\n", "q.csv")
    own(q, dtype={2: str}, usecols=["b"])
    own(q, dtype={1: str, "c": "Int64"}, usecols=[0, 2])
    own(p, dtype={"zz": "string", 7: "Int64"})
    own(p, dtype={0: str, "b": float}, index_col=0)
    own(p, dtype={1: str}, names=[1, 0, 2], header=0)
    for obj in ("object", "O", object, np.object_):  # (by place: pandas' str dtype)
        same(p, dtype={0: obj})
        same(p, dtype={1: obj, "b": obj})
    same(p, dtype={"zz": "no such dtype"})  # (pandas' own error)


def test_index_named_by_names_over_an_empty_header_field(tmp_path):
    """names= name the index column even where the header row they replace is empty
    there (found by the header=k differential test)."""
    own(write(tmp_path, ",9\n1,2\n"), names=["p", "q"], header=0, index_col=0)
    own(write(tmp_path, ",9\n1,2\n"), header=0, index_col=0)  # (no name: None)
    own(write(tmp_path, "\nz,1\n,9\n"), names=["p", "q"], header=2, index_col=0,
        skip_blank_lines=False)


@pytest.mark.parametrize("suffix", [".gz", ".bz2", ".xz", ".zip"])
def test_compressed(tmp_path, suffix):
    plain = write(tmp_path, MIXED)
    p = tmp_path / f"data.csv{suffix}"
    pandas.read_csv(plain).to_csv(p, index=False)  # pandas writes each format itself
    own(p)
    own(p, compression={".gz": "gzip", ".bz2": "bz2", ".xz": "xz", ".zip": "zip"}[suffix])


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252", "utf-16", "utf-8-sig"])
def test_encodings(tmp_path, encoding):
    p = tmp_path / "enc.csv"
    p.write_bytes("name,n\nJosé,1\nçà,2\n".encode(encoding))
    own(p, encoding=encoding)
    same(lambda: io.BytesIO(p.read_bytes()), encoding=encoding)


def test_skiprows(tmp_path):
    p = write(tmp_path, "junk line\n" + MIXED)
    own(p, skiprows=1)
    own(p, skiprows=[0, 2])
    own(p, skiprows=[0, 3], nrows=2)
    # a blank line is a row to skip, a row of several lines (in quotes) one row
    own(write(tmp_path, "x\n\n" + MIXED), skiprows=2)
    own(write(tmp_path, 'x,"a\nb"\n\n' + MIXED), skiprows=[0, 1])
    own(write(tmp_path, "a,b\n\n1,2\n\n3,4\n"), skiprows=[1, 2])
    # a function: asked of every row number, as pandas asks it (its exception, pandas')
    own(p, skiprows=lambda row: row % 2 == 1)
    own(write(tmp_path, 'a,b\n\n1,"x\ny"\n\n3,4\n'), skiprows=lambda row: row in (1, 3))
    own(p, skiprows=lambda row: True)  # (pandas' EmptyDataError)
    own(p, skiprows=lambda row: 1 / 0)


@pytest.mark.parametrize("skip", [[2], lambda row: row == 2, 3])
@pytest.mark.parametrize("data", [
    b"c0,c1\r1,2\r,4\r5,6\r", b"c0,c1\r1,2\r,\r5,6\r", b"c0,c1\n1,2\n,\r5,6\n",
    b'c0,c1,c2\r\nnan,60,\r\n,"q\rz",6.241', b'c0,c1\r\n1,"a\rb"\r\n3,4\r\n5,6\r\n',
])
def test_skiprows_with_a_lone_cr(data, skip):
    """pandas runs a skipped row ended by a lone \\r (or holding one in quotes) on into
    the next line: where rows are skipped and the text holds a \\r not followed by \\n,
    pandas answers."""
    same(lambda: io.BytesIO(data), skiprows=skip)
    same(lambda: io.BytesIO(data), skiprows=skip, nrows=1)


def _asking(log):
    def skip(row):
        log.append(row)
        if row == 5:
            raise KeyError(row)
        return row in (2, 3)
    return skip


@pytest.mark.parametrize("kwargs", [
    {"nrows": 2}, {"nrows": 1, "header": None}, {"nrows": 2, "skip_blank_lines": False},
    {}, {"dtype": {0: "object"}}, {"nrows": 2, "dtype": {0: "object"}},
])
def test_skiprows_function_asked_as_pandas_asks_it(tmp_path, kwargs):
    """A skiprows function is asked of the rows pandas asks it of, each once: none past
    the nrows cut, none again where the own path gives up after asking it (its exception,
    or a fallback found later)."""
    p = write(tmp_path, "a,b\n1,2\n\n3,4\n5,6\n7,8\n9,10\n")
    same(p, skiprows=_asking([]), **kwargs)
    want, got = [], []
    _call(pandas.read_csv, p, skiprows=_asking(want), **kwargs)
    _call(fpd.read_csv, p, skiprows=_asking(got), **kwargs)
    assert got == want


def test_skiprows_function_over_a_large_input_falls_back(tmp_path, monkeypatch):
    """A skiprows function is asked of every row in Python: over SKIP_FUNC_BYTES of input
    (without nrows) pandas answers; with nrows only the rows above the cut are asked."""
    p = write(tmp_path, "a,b\n" + "".join(f"{i},{i}\n" for i in range(500)))
    monkeypatch.setattr(dropin, "SKIP_FUNC_BYTES", 100)
    fastetl.set_fallback("error")
    with pytest.raises(FallbackError):
        fpd.read_csv(p, skiprows=lambda row: row % 3 == 1)
    fastetl.set_fallback(None)
    same(p, skiprows=lambda row: row % 3 == 1)
    own(p, skiprows=lambda row: row % 3 == 1, nrows=5)


def test_bools_in_any_case(tmp_path):
    """pandas' C parser reads true/false in any case as bools; with NA, object bools."""
    own(write(tmp_path, "a,b\ntRuE,x\nfAlSe,y\nTRUE,z\n"))
    own(write(tmp_path, "a,b\ntrue,x\n,y\nFalse,z\n"))


def test_integers_beyond_int64(tmp_path):
    """Beyond int64 pandas gives uint64 or Python ints (object): handed to pandas."""
    for v in (2**63, 2**64, -(2**63) - 1, 92233720368547758070):
        same(write(tmp_path, f"a,b\n1,x\n{v},y\n"))
        same(lambda v=v: io.StringIO(str(v)), header=None)
    # with an empty field pandas keeps '' in the text it makes of such a column
    same(lambda: io.StringIO(f"{2**63},1\n,2"), header=None)


def test_int_with_nulls_is_float(tmp_path):
    p = write(tmp_path, "a,b\n1,x\n,y\n9007199254740993,z\n")
    same(p)  # beyond 2**53 with a null: a fallback, equal all the same
    p = write(tmp_path, "a,b\n1,x\n,y\n-42,z\n")
    own(p)


def test_wide_text_reaches_arrow_without_objects(tmp_path):
    texts = [f"free text number {i} with {'x' * (i % 50)}" for i in range(5000)]
    p = write(tmp_path, "n,t\n" + "\n".join(f"{i},{t}" for i, t in enumerate(texts)) + "\n")
    df = own(p)
    assert df["t"].array._pa_array.type == __import__("pyarrow").large_string()


# -- pandas' low_memory chunks ---------------------------------------------------------


def test_chunks_that_would_mix_types_fall_back(tmp_path):
    """pandas reads big files in chunks and types each: a column that is text in its
    first chunk and numbers in the next becomes object with a DtypeWarning.  fastetl
    gives that same frame (by falling back)."""
    ncols = 8
    nrows = dropin._buffer_lines(ncols) + 1000
    first = ",".join(["w"] + ["1"] * (ncols - 1))
    rest = ",".join(["5"] * ncols)
    text = ",".join(f"c{i}" for i in range(ncols)) + "\n" + first + "\n"
    text += (rest + "\n") * (nrows - 1)
    p = write(tmp_path, text)
    df = same(p)
    assert df["c0"].dtype == object
    fastetl.set_fallback("error")
    with pytest.raises(FallbackError, match="chunks"):
        fpd.read_csv(p)


def test_null_marker_with_blanks(tmp_path):
    """pandas does not trim before looking for NA: ' NA' in a number column is text."""
    p = write(tmp_path, "a,b\n1.5,1\n NA,2\n")
    same(p)
    p = write(tmp_path, "a,b\n1.5,1\nNAN,2\n")
    same(p)
    p = write(tmp_path, "a,b\n1.5,1\n ,2\n")
    same(p)


# -- fallback policy -------------------------------------------------------------------


def test_fallback_warns_and_answers(tmp_path):
    p = write(tmp_path, MIXED)
    with pytest.warns(FallbackWarning, match="converters"):
        got = fpd.read_csv(p, converters={"id": lambda v: v + "!"})
    want = pandas.read_csv(p, converters={"id": lambda v: v + "!"})
    pandas.testing.assert_frame_equal(got, want, check_exact=True)


def test_fallback_error_and_silent(tmp_path):
    p = write(tmp_path, MIXED)
    fastetl.set_fallback("error")
    with pytest.raises(FallbackError, match="skipfooter"):
        fpd.read_csv(p, skipfooter=1)
    fastetl.set_fallback("silent")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = fpd.read_csv(p, skipfooter=1, engine="python")
    want = pandas.read_csv(p, skipfooter=1, engine="python")
    pandas.testing.assert_frame_equal(got, want, check_exact=True)


def test_nrows_types_from_those_rows_only(tmp_path):
    """With nrows, pandas types the columns from those rows only."""
    p = write(tmp_path, "a,b\n1,x\n2,y\nword,3.5\n")
    df = own(p, nrows=2)
    assert df["a"].dtype == "int64"
    own(lambda: io.StringIO("a,b\n1,x\n2,y\nword,3.5\n"), nrows=3)


def test_nrows_over_blank_lines(tmp_path):
    """nrows counts records as pandas does: an empty line is none (skip_blank_lines)."""
    own(write(tmp_path, "a,b\n\n1,2\n\n\n3,4\nx,y\n"), nrows=2)
    own(write(tmp_path, "\r\na,b\r\n1,2\r\n\r\n3.5,4\r\n"), nrows=1)
    own(write(tmp_path, "x\na,b\n\n1,2\n3,4\n"), nrows=1, header=1)
    same(write(tmp_path, "a,b\r\r1,2\r3,4\r"), nrows=1)  # (a \r-ended one: pandas')


def test_fallback_environment_in_a_subprocess(tmp_path):
    p = write(tmp_path, MIXED)
    code = (
        "import fastetl.pandas as pd, sys\n"
        "try:\n"
        f"    pd.read_csv({str(p)!r}, skipfooter=1, engine='python')\n"
        "except Exception as e:\n"
        "    print(type(e).__name__); sys.exit(0)\n"
        "print('no error')\n"
    )
    env = {**__import__("os").environ, "FASTETL_FALLBACK": "error"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "FallbackError", out.stderr


@pytest.mark.parametrize(
    "kwargs",
    [{"decimal": ";"}, {"thousands": ";"}, {"decimal": ",", "thousands": ","}],
)
def test_number_marks_pandas_reads_its_own_way_fall_back(tmp_path, kwargs):
    """Marks the core does not take, or that pandas refuses: pandas answers."""
    p = write(tmp_path, "a|b\n1,5|yes # c\n2.000,25|no\n")
    same(p, sep="|", **kwargs)


@pytest.mark.parametrize(
    "decimal,thousands",
    [(",", None), (",", "."), (".", ","), (".", " "), (".", "_"), (",", "'"), (",", " ")],
)
def test_number_marks_on_own_path(tmp_path, decimal, thousands):
    """Integers in groups, and fractions in text columns (pandas' floats with these marks
    are not correctly rounded: see the next test)."""
    t = thousands or ""
    text = (f"a|b|c\n1{t}000|7|1{decimal}5\n-2{t}500|12{t}345{t}678|x\n"
            f"3|-4|2{t}000\n")
    df = own(write(tmp_path, text), sep="|", decimal=decimal, thousands=thousands)
    assert df["a"].dtype == np.int64


def _falls_back(path, reason: str, **kw) -> None:
    """Under "error" the call refuses, naming ``reason``; under "silent" pandas answers it."""
    fastetl.set_fallback("error")
    with pytest.raises(FallbackError, match=reason):
        fpd.read_csv(path, **kw)
    fastetl.set_fallback("silent")
    same(path, **kw)


def test_number_marks_no_widening(tmp_path):
    """A value the core refuses under decimal/thousands: pandas answers (its verdict on the
    value alone differs from its reading of the column)."""
    big = "10" + ".00" * 7 + (".07.51.74.48.69.16.51.82.08.62.74.71.42.90.64.35.24.08.21.34.82"
                              ".90.91.02.35.77.65.92.52.42.41.52.04.66.45.41.10.10.97.75.80.35"
                              ".42.82.65.95.50.38.85.25.26.32.66.77.50.40,00")
    p = write(tmp_path, f"c0\nNA\n0,0\ninf\n{big}\n")
    same(p, sep=";", decimal=",", thousands=".")
    fastetl.set_fallback("error")
    with pytest.raises(FallbackError, match="with decimal or thousands"):
        fpd.read_csv(p, sep=";", decimal=",", thousands=".")


@pytest.mark.parametrize("decimal,thousands", [(",", None), (".", ",")])
def test_long_floats_with_number_marks_on_own_path(tmp_path, decimal, thousands):
    """pandas' parser with a thousands mark rounds 16+ digits its own way (not to the
    nearest double): the own path gives its values, not float()'s; without one, float()'s."""
    p = write(tmp_path, f"a|b\n8{decimal}094464919385088e+44|1\n1{decimal}5|2\n")
    df = own(p, sep="|", decimal=decimal, thousands=thousands)
    nearest = df["a"][0] == float("8.094464919385088e+44")
    assert nearest == (thousands is None)


def test_comment_on_own_path(tmp_path):
    """comment: whole comment lines (before the header too) are skipped, a mark ends
    the row (the row short: NA), a mark inside quotes is text."""
    p = write(tmp_path, '#top\na,b,c\n1,x,2.5#note\n#whole\n2,"y#z",3#"odd\n3#cut\n')
    df = own(p, comment="#")
    assert df["b"].tolist()[1] == "y#z"


def test_blanks_before_a_comment_fall_back(tmp_path):
    """pandas keeps the blanks before a mark as text; fastetl drops them: pandas answers."""
    p = write(tmp_path, "a,b\n1,x #note\n  #only\n2,y\n")
    _falls_back(p, "comment", comment="#")


def test_short_rows_are_filled_on_own_path(tmp_path):
    p = write(tmp_path, "a,b,c\n1,x,1.5\n2\n3,z\n4,w,2.5\n")
    df = own(p)
    assert df["a"].tolist() == [1, 2, 3, 4]


def test_line_of_blanks_falls_back(tmp_path):
    """pandas skips a line of blanks; fastetl would read a short row: pandas answers."""
    p = write(tmp_path, "a,b\n1,x\n   \n3,z\n")
    _falls_back(p, "blanks")


def test_escapechar_on_own_path(tmp_path):
    p = write(tmp_path, 'a,b,c\n1,x\\,y,"say \\"hi\\""\n2,\\\\,"q""r"\n')
    df = own(p, escapechar="\\")
    assert df["b"].tolist() == ["x,y", "\\"]


def test_escape_before_other_bytes_falls_back(tmp_path):
    """An escape before a letter: the checks on the raw bytes could miss a nan it
    hides, so pandas answers."""
    p = write(tmp_path, "a,b\n1,2.5\n2,N\\An\n")
    _falls_back(p, "escape", escapechar="\\")


def test_true_false_values_in_a_category(tmp_path):
    """pandas makes bool categories of the words: pandas answers."""
    same(write(tmp_path, "a\nyes\nno\nyes\n"), dtype="category", true_values=["yes"],
         false_values=["no"])


def test_tar_gz_is_a_tar_archive(tmp_path):
    """pandas reads .tar.gz as a tar archive (not as gzip text, which short rows filled
    with NA would read without an error)."""
    path = tmp_path / "t.tar.gz"
    pandas.DataFrame({"a": ["x", "y"], "b": ["Hugo Chávez", "R."]}).to_csv(path, index=False)
    same(path)


def test_skipinitialspace_on_own_path(tmp_path):
    p = write(tmp_path, 'a,b,c\n1, x, "q, r"\n 2,\ty,s\n3,, t\n')
    own(p, skipinitialspace=True)


@pytest.mark.parametrize(
    "text",
    ["a,b\nyes,1\nno,2\nTrue,3\n", "a,b\nyes,1\nNA,2\n", "a,b\nyes,1\nmaybe,2\n",
     "a,b\nYES,1\nno,2\n"],
)
def test_true_false_values_on_own_path(tmp_path, text):
    own(write(tmp_path, text), true_values=["yes"], false_values=["no"])


@pytest.mark.parametrize("kwargs", [{"true_values": ["1"]}, {"false_values": ["NA"]},
                                    {"true_values": ["x"], "false_values": ["x"]}])
def test_true_false_values_pandas_reads_its_own_way_fall_back(tmp_path, kwargs):
    p = write(tmp_path, "a,b\nx,1\n0,2\n")
    fastetl.set_fallback("error")
    with pytest.raises(FallbackError):
        fpd.read_csv(p, **kwargs)
    fastetl.set_fallback("silent")
    same(p, **kwargs)


def test_signature_and_namespace():
    import inspect

    assert inspect.signature(fpd.read_csv) == inspect.signature(pandas.read_csv)
    assert fpd.DataFrame is pandas.DataFrame
    assert fpd.testing is pandas.testing


def test_errors_are_pandas_errors(tmp_path):
    """Malformed input: pandas' own exception (fastetl hands the call over)."""
    fastetl.set_fallback("silent")
    p = write(tmp_path, "a,b\n1,2\n1,2,3\n")
    same(p)
    same(tmp_path / "missing.csv")
    same(write(tmp_path, "", "empty.csv"))
    with pytest.raises(TypeError):
        fpd.read_csv(p, no_such_keyword=1)


# -- differential ----------------------------------------------------------------------

_WORDS = ["alpha", "beta", "x y", "a,b", 'q"uote', "True", "false", "NA", "nan", "NAN",
          "", " ", " 1", "1 ", "-", "null", "n/a", "é", "line\nbreak", "+5", "1e5", ".5",
          "inf", "-Infinity", "0x10", "1_000", "007", "TRUE", "None", "#N/A", "<NA>"]


@st.composite
def _column(draw, nrows):
    kind = draw(st.sampled_from(["int", "float", "bool", "word", "text", "mixed", "empty",
                                 "date", "yesno"]))
    ints = st.integers(-(2**63), 2**63 - 1) | st.integers(-1000, 1000)
    floats = st.floats(allow_nan=False, allow_infinity=True)
    out = []
    for _ in range(nrows):
        if kind == "int":
            v = str(draw(ints))
        elif kind == "float":
            f = draw(floats)
            v = draw(st.sampled_from([repr(f), f"{f:.2f}", f"{f:.6e}", f"{f:g}"]))
        elif kind == "bool":
            v = draw(st.sampled_from(["True", "False", "TRUE", "false", "tRuE", "FALSE"]))
        elif kind == "yesno":  # bools to pandas under true_values/false_values
            v = draw(st.sampled_from(["yes", "no", "Yes", "ja", "nein", "True", "red"]))
        elif kind == "date":
            d = draw(st.dates(min_value=__import__("datetime").date(1, 1, 1)))
            v = draw(st.sampled_from([d.isoformat(), d.isoformat(), f"{d.year}-{d.month}-{d.day}"]))
        elif kind == "word":
            v = draw(st.sampled_from(["red", "green", "blue"]))
        elif kind == "text":
            chars = st.characters(codec="utf-8", exclude_characters="\x00\r")
            v = draw(st.text(chars, max_size=12))
        elif kind == "mixed":
            v = draw(st.sampled_from(_WORDS) | st.integers(-5, 5).map(str))
        else:
            v = ""
        if draw(st.integers(0, 9)) == 0:
            v = draw(st.sampled_from(["", "NA", "nan", "N/A", "NULL"]))
        out.append(v)
    return out


@st.composite
def _case(draw):
    ncols = draw(st.integers(1, 5))
    nrows = draw(st.integers(1, 30))
    sep = draw(st.sampled_from([",", ";", "\t", "|"]))
    names = [f"c{i}" for i in range(ncols)]
    cols = [draw(_column(nrows)) for _ in range(ncols)]
    kwargs = {}
    # the dialect options: comments (lines, notes after a row), blanks after delimiters,
    # short rows (pandas fills them with NA), true/false words
    comment = draw(st.integers(0, 3)) == 0
    if comment:
        kwargs["comment"] = "#"
    if draw(st.integers(0, 3)) == 0:
        kwargs["skipinitialspace"] = True
    if draw(st.integers(0, 3)) == 0:
        kwargs["true_values"] = draw(st.lists(st.sampled_from(["yes", "Yes", "ja"]), max_size=2))
        kwargs["false_values"] = draw(st.lists(st.sampled_from(["no", "nein"]), max_size=2))
    marks = draw(st.sampled_from([(".", None)] * 4 + [(",", None), (",", "."), (".", ","),
                                                      (".", " "), (".", "_"), (",", "'")]))
    if marks[0] != "." or draw(st.integers(0, 5)) == 0:
        kwargs["decimal"] = marks[0]
    if marks[1] is not None and marks[1] != sep:
        kwargs["thousands"] = marks[1]

    def spell(v):  # numbers with the marks (some in groups, some not)
        m = re.fullmatch(r"([+-]?)(\d+)(?:\.(\d*))?((?:[eE][+-]?\d+)?)", v)
        if m is None or (marks == (".", None)) or draw(st.integers(0, 5)) == 0:
            return v
        sign, whole, frac, exp = m.groups()
        if "thousands" in kwargs and draw(st.booleans()):
            n = draw(st.sampled_from([3, 3, 3, 2, 4]))
            groups = [whole[max(0, i - n) : i] for i in range(len(whole), 0, -n)][::-1]
            whole = kwargs["thousands"].join(groups)
        frac = "" if frac is None else kwargs.get("decimal", ".") + frac
        return sign + whole + frac + exp

    short = draw(st.integers(0, 3)) == 0
    end = draw(st.sampled_from(["\n", "\r\n"]))
    buf = io.StringIO()
    dialect = {}
    if draw(st.integers(0, 3)) == 0:
        kwargs["escapechar"] = dialect["escapechar"] = "\\"
        dialect["doublequote"] = draw(st.booleans())
    w = csv.writer(buf, delimiter=sep, lineterminator=end, **dialect)
    if comment and draw(st.booleans()):
        buf.write("#a comment line" + sep + '"' + end)
    w.writerow(names)
    for r in range(nrows):
        row = [spell(c[r]) for c in cols]
        if draw(st.integers(0, 3)) == 0:
            row = [" " + v if draw(st.booleans()) else v for v in row]
        if short and ncols > 1 and draw(st.integers(0, 3)) == 0:
            row = row[: draw(st.integers(1, ncols - 1))]
        w.writerow(row)
        if comment and draw(st.integers(0, 4)) == 0:
            buf.seek(buf.tell() - len(end))
            note = ["#note", "#", '#"odd', "#note", "#", '#"odd', " #spaced"]
            buf.write(draw(st.sampled_from(note)) + end)
        if comment and draw(st.integers(0, 6)) == 0:
            whole = ["#whole" + sep + "line", '#"', "#whole" + sep + "line", '#"', "  #indented"]
            buf.write(draw(st.sampled_from(whole)) + end)
    if sep != "," or draw(st.booleans()):
        kwargs["sep"] = sep
    if draw(st.integers(0, 4)) == 0:
        kwargs["header"] = None
    if draw(st.integers(0, 4)) == 0 and "header" not in kwargs:
        kwargs["usecols"] = draw(st.lists(st.sampled_from(names), min_size=1, unique=True))
    if draw(st.integers(0, 4)) == 0:
        kwargs["keep_default_na"] = False
    if draw(st.integers(0, 5)) == 0:
        kwargs["na_filter"] = False
    if draw(st.integers(0, 4)) == 0:
        words = st.sampled_from(["red", "-", "0", "alpha"])
        kwargs["na_values"] = draw(st.lists(words, max_size=2))
    if draw(st.integers(0, 5)) == 0:
        kwargs["names"] = [f"n{i}" for i in range(ncols)]
        if draw(st.booleans()):
            kwargs["header"] = 0
    if draw(st.integers(0, 4)) == 0:
        which = draw(st.sampled_from(["int", "label", "list"]))
        used = kwargs.get("usecols", names)
        if which == "int":
            kwargs["index_col"] = draw(st.integers(0, max(0, len(used) - 1)))
        elif which == "label" and "header" not in kwargs and "names" not in kwargs:
            kwargs["index_col"] = draw(st.sampled_from(used))
        elif len(used) > 2:
            kwargs["index_col"] = [0, 1]
    if draw(st.integers(0, 4)) == 0 and "header" not in kwargs:
        pick = draw(st.sampled_from(names))
        kwargs["dtype"] = {pick: draw(st.sampled_from(["str", "object", "string", "category",
                                                        "float64", "Int64", "int64"]))}
    if draw(st.integers(0, 3)) == 0:
        kwargs["parse_dates"] = draw(st.lists(st.integers(0, ncols - 1), max_size=2, unique=True))
    rare = 12 if comment else 4  # (comment with these falls back: mostly without them)
    if draw(st.integers(0, rare)) == 0:
        kwargs["skiprows"] = draw(st.integers(0, 3) | st.lists(st.integers(0, nrows), max_size=3))
    if draw(st.integers(0, rare)) == 0:
        kwargs["nrows"] = draw(st.integers(1, nrows + 2))
    if draw(st.integers(0, 4)) == 0 and "dtype" not in kwargs:
        kwargs["dtype_backend"] = draw(st.sampled_from(["numpy_nullable", "pyarrow"]))
    return buf.getvalue(), kwargs, draw(st.sampled_from(["path", "text", "bytes"]))


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                    HealthCheck.too_slow])
@given(case=_case())
def test_differential(tmp_path, case):
    text, kwargs, how = case
    fastetl.set_fallback("silent")
    if how == "path":
        src = write(tmp_path, text, "diff.csv")
    elif how == "text":
        src = lambda: io.StringIO(text)  # noqa: E731
    else:
        src = lambda: io.BytesIO(text.encode("utf-8"))  # noqa: E731
    same(src, **kwargs)


def _mapped_kib(addr: int) -> int:
    """Resident kB of the mapping holding ``addr`` (Linux's /proc/self/smaps)."""
    inside = False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        m = re.match(r"([0-9a-f]+)-([0-9a-f]+) ", line)
        if m:
            inside = int(m[1], 16) <= addr < int(m[2], 16)
        elif inside and line.startswith("Rss:"):
            return int(line.split()[1])
    raise AssertionError("mapping not found")


@pytest.mark.skipif(not Path("/proc/self/smaps").exists(), reason="needs Linux's smaps")
def test_letting_go_of_a_read_starts_where_the_last_let_go_stopped(tmp_path, monkeypatch):
    # each progress step advises its own pages away, not [0, end) again (quadratic):
    # a page before the last step, touched again, stays resident
    import ctypes
    import mmap
    import types

    from fastetl.dropin import pandas as dropin

    monkeypatch.setattr(dropin, "RELEASE_BYTES", 2 << 20)
    path = tmp_path / "f.bin"
    path.write_bytes(b"x" * (8 << 20))
    with open(path, "r+b") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_WRITE) as raw:
        addr = ctypes.addressof(ctypes.c_char.from_buffer(raw))  # (the export ends here)
        plan = types.SimpleNamespace(guards={"raw": raw})
        assert raw[:] == path.read_bytes()  # every page touched
        dropin._let_go(plan, 4 << 20)
        assert _mapped_kib(addr) < 8192
        assert raw[: 1 << 20] == b"x" * (1 << 20)  # the first MiB touched again
        dropin._let_go(plan, 8 << 20)  # was [0, 8 MiB): the first MiB let go again
        assert _mapped_kib(addr) >= 1024  # (more when the kernel maps around faults)
        dropin._let_go(plan)  # the end of a read: every page
        assert _mapped_kib(addr) == 0


def test_a_text_block_gather_refuses_references_past_its_text():
    # the compiled gather has no bound: a block whose text was not added is one error
    from fastetl import bridges
    from fastetl.dropin.pandas_columns import _text_chunk
    from fastetl.schema import TEXT_REF

    refs = np.array([(0, 2), (2, 3)], TEXT_REF)
    assert _text_chunk(b"abcde", refs, None)[0].to_pylist() == ["ab", "cde"]
    for text in (b"", b"abcd"):
        with pytest.raises(bridges.TextPastEnd):
            _text_chunk(text, refs, None)
    with pytest.raises(bridges.TextPastEnd):
        _text_chunk(b"abcde", np.array([(2**64 - 1, 2)], TEXT_REF), None)


@pytest.mark.parametrize("at", [0, 31, 32, 255, 256, "last", None])
def test_free_text_proven_text_in_every_chunk_wherever_its_first_text_stands(tmp_path, at):
    # a mostly distinct text column whose values are numbers at the start of each of
    # pandas' low_memory chunks but the first: the own path answers (pandas' frame) when
    # every chunk fastetl checks holds a value that is surely text, at any row of it;
    # with a chunk of numbers only (None), pandas mixes types and fastetl falls back
    step = dropin._buffer_lines(2) // 2
    n = 3 * step + 10
    first = {"last": step - 1, None: 2 * step}.get(at, at)
    rows = ["id,t"]
    for i in range(n):
        text = i < step or i >= 3 * step or (i - step) % step >= first
        rows.append(f"{i},{'t' if text else ''}{i}")
    p = write(tmp_path, "\n".join(rows) + "\n")
    if at is None:
        _falls_back(p, "chunks")
    else:
        got = own(p)
        assert got["t"].dtype == "str"


@pytest.mark.parametrize("text", [
    "a,b\n1,2\n\n3,4\n", "a,b\r\n1,2\r\n\r\n\r\n3,4\r\n", "a,b\n1,2\n\n\r\n\n3,4\n\n",
    "a,b\n1,2\r\n\n3,4", "a,b\n 1,2\n\n3,4\n", "a,b,c\n1,2,3\n\n\n",
])
def test_empty_lines_kept_as_rows(tmp_path, text):
    """skip_blank_lines=False: each empty line (found by bytes.find, not a regex over the
    whole text) is the row of empty fields pandas makes of it."""
    own(write(tmp_path, text), skip_blank_lines=False)


def test_lines_of_blanks_kept_fall_back(tmp_path):
    """A line of blanks, first or below (pandas reads it otherwise): pandas answers."""
    for text in ("a,b\n1,2\n\n \n3,4\n", "a,b\n1,2\n\n3,4\n\t", " \na,b\n\n1,2\n"):
        same(write(tmp_path, text), skip_blank_lines=False)


@pytest.mark.parametrize("data", [
    b"\xef\xbb\xbf \nc0\n27\na b\n", b"\xef\xbb\xbf\t\r\nc0,c1\n27,1\n", b"\xef\xbb\xbf\nc0\n27\n",
])
def test_byte_order_mark_before_a_line_of_blanks(data):
    """A byte order mark, then a first line of blanks: pandas skips that line too."""
    same(lambda: io.BytesIO(data))
    same(lambda: io.BytesIO(data), header=None)


@pytest.mark.parametrize("codec", ["utf-16", "UTF_16", "utf-32"])
def test_utf16_and_utf32_want_a_byte_order_mark(codec):
    """pandas' stream reader of utf-16 and utf-32 refuses a text without a byte order
    mark (UnicodeError): with one, fastetl reads it."""
    text = "c0,c1\n1,2\n"
    for data in (text.encode("utf-16-le"), text.encode("utf-16-be"), text.encode("utf-32-le")):
        same(lambda data=data: io.BytesIO(data), encoding=codec)
    own(lambda: io.BytesIO(text.encode(codec)), encoding=codec)
