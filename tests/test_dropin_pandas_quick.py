"""fastetl.pandas.read_csv on small inputs, where the first guess of the column types
comes from the first rows (``_quick_columns``) instead of pandas' own read of them.

The guess may be wrong where the first rows mislead it (integers for a while, then a
fraction; NA, then text ...): the frames must still be pandas' own, compared with
``assert_frame_equal(check_exact=True)`` against the installed pandas.
"""

from __future__ import annotations

import numpy as np
import pandas
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastetl.dropin import pandas as dropin
from fastetl.dropin import pandas_quick
from fastetl.dropin.fallback import Unsupported
from test_dropin_pandas import _policy, own, same, write  # noqa: F401 - _policy: autouse

PAST = dropin.QUICK_ROWS + 20  # a row the quick guess does not look at


def _file(tmp_path, header, columns, name="q.csv"):
    """A CSV of ``columns`` (lists of cells, as written) under ``header``."""
    rows = [",".join(cells) for cells in zip(*columns, strict=True)]
    return write(tmp_path, ",".join(header) + "\n" + "\n".join(rows) + "\n", name)


@pytest.mark.parametrize(
    "cells, dtype",
    [
        (["7"] * PAST + ["2.5"], "float64"),  # ints, then a fraction
        (["7"] * PAST + ["abc"], "str"),  # ints, then text
        ([""] * PAST + ["3"], "float64"),  # NA, then an int: float64 with NaN
        ([""] * PAST + ["abc"], "str"),  # NA, then text
        (["NA"] * PAST + ["True"], "object"),  # NA, then a bool: pandas' object bools
        (["1.5"] * PAST + ["x y"], "str"),  # floats, then text
        (["True", "false", "TRUE"] * 50, "bool"),  # bool words in any case
        (["inf", "-1e5", "3"] * 50, "float64"),  # pandas' own float words
        ([""] * PAST, "float64"),  # NA only
        (["-3", " 4", "+5"] * 50, "int64"),
    ],
)
def test_a_misleading_head_on_own_path(tmp_path, cells, dtype):
    ids = [str(i) for i in range(len(cells))]
    got = own(_file(tmp_path, ["id", "v"], [ids, cells]))
    assert str(got["v"].dtype) == dtype


def test_labels_as_pandas_spells_them(tmp_path):
    path = write(tmp_path, '\ufeff a ,"b,c",é,"d ""e"""\n1,x,2.5,\n3,y,,z\n')
    got = own(path)
    assert list(got.columns) == [" a ", "b,c", "é", 'd "e"']


@pytest.mark.parametrize(
    "text", ["a,a\n1,2\n3,4\n", "a,,b\n1,2,3\n4,5,6\n", "a,b\n1,2,3\n4,5,6\n"]
)
def test_a_header_pandas_renames_or_a_longer_row(tmp_path, text):
    # renamed labels (a.1, Unnamed: 1) and an implicit index: pandas' sample says
    same(write(tmp_path, text))


def test_rows_longer_than_the_header_past_the_head(tmp_path):
    ids = [str(i) for i in range(PAST)]
    path = _file(tmp_path, ["a", "b"], [ids, ids])
    with open(path, "a", encoding="utf-8") as f:
        f.write("1,2,3\n")
    same(path)  # (pandas' ParserError, by fastetl too)


def test_mostly_distinct_text_and_a_dictionary(tmp_path):
    n = 3 * dropin.QUICK_ROWS
    free = [f"item {i} of {i * 7 % 11}" for i in range(n)]
    few = ["north", "south", "east"] * dropin.QUICK_ROWS
    got = own(_file(tmp_path, ["free", "few"], [free, few]))
    assert got["free"].dtype == "str" and got["few"].dtype == "str"


_CELL = {
    "int": st.integers(-(10**12), 10**12).map(str),
    "float": st.floats(allow_nan=False, allow_infinity=False, width=32).map(repr),
    "na": st.sampled_from(["", "NA", "nan", "NULL", "n/a"]),
    "bool": st.sampled_from(["True", "False", "true", "FALSE"]),
    "word": st.text("abcxyz -", min_size=1, max_size=6).filter(lambda s: s.strip() != ""),
}


@st.composite
def _switching_columns(draw):
    """Columns whose cells are of one kind up to a row near QUICK_ROWS, then of another."""
    rows = draw(st.integers(1, dropin.QUICK_ROWS + 40))
    columns = []
    for _ in range(draw(st.integers(1, 4))):
        first, then = draw(st.sampled_from(sorted(_CELL))), draw(st.sampled_from(sorted(_CELL)))
        at = draw(st.integers(0, rows))
        columns.append([draw(_CELL[first] if i < at else _CELL[then]) for i in range(rows)])
    return columns


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(columns=_switching_columns())
def test_switching_columns_differential(tmp_path_factory, columns):
    header = [f"c{i}" for i in range(len(columns))]
    path = _file(tmp_path_factory.mktemp("quick"), header, columns)
    got = same(path)
    assert isinstance(got, pandas.DataFrame)


@pytest.mark.parametrize("big", ["12345678901234567890", " -9223372036854775809", "+" + "9" * 25])
def test_a_big_integer_among_free_text(tmp_path, big):
    # a column of mostly distinct texts (read out of line) holding an integer of 19+
    # digits: pandas reads such a column its own way (handed to pandas), as a column of
    # texts beside it that only start like numbers is not
    n = 3 * dropin.QUICK_ROWS
    free = [f"item {i} of {i * 7 % 11}" for i in range(n)]
    near = [f"{10**18 + i} x" for i in range(n)]
    same(_file(tmp_path, ["free", "near"], [free[:-1] + [big], near]))
    own(_file(tmp_path, ["free", "near"], [free, near], name="own.csv"))


@pytest.mark.parametrize("head", [["1.5", "2", "-0.0", "1e5"], [""], ["NA", "nan", ""], ["7", "-3"]])
@pytest.mark.parametrize(
    "big", ["99999999999999999999", "18446744073709551615", "-9223372036854775809",
            "1234567890123456789"],
)
@pytest.mark.parametrize("at", [0, 50, PAST])
def test_an_integer_of_19_digits_or_more_anywhere(tmp_path, head, big, at):
    # pandas types a column holding one its own way (uint64, Python ints, text); the
    # first rows' guess (float, int) must not read it as a number it is not
    cells = [head[i % len(head)] for i in range(PAST + 30)]
    cells[at] = big
    same(_file(tmp_path, ["v", "id"], [cells, [str(i) for i in range(len(cells))]]))


_INTEGER_RUN = __import__("re").compile(rb"(?<![.eE0-9])[0-9]{19,}(?![.eE0-9])")


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from([b"1", b"0", b"9", b".", b"e", b"E", b"-", b",", b"\n", b"x",
                                 b"1234567890", b"123456789"]), max_size=40))
def test_integer_run_as_a_regular_expression_says(pieces):
    # the quick guess's look for a 19-digit integer against the same rule written as a
    # regular expression (digits not beside a point, an exponent mark or more digits)
    data = b"".join(pieces)
    assert pandas_quick.integer_run(data) == bool(_INTEGER_RUN.search(data))


def test_full_precision_floats_keep_the_quick_guess(tmp_path, monkeypatch):
    # 19 digits after a point are a fraction, not an integer pandas types its own way
    seen = []
    real = dropin._quick_columns
    monkeypatch.setattr(dropin, "_quick_columns", lambda plan: seen.append(real(plan)))
    cells = ["0.0018517311427626063", "-1.2739393889900783", "6.18"] * 50
    own(_file(tmp_path, ["v", "id"], [cells, [str(i) for i in range(len(cells))]]))
    assert seen  # the quick guess answered (it raises Unsupported for a pandas' sample)


@pytest.mark.parametrize(
    "cells, quick",
    [
        (["1e19", "-2.5E20", "1.5", ""], True),  # large, but no 19-digit integer
        (["12345678901234567890.5", "1.5"], True),  # 20 digits before a fraction
        (["1.5", "", "12345678901234567890"], False),  # an integer of 20 digits
        (["", "NA", "2.5", "-1000000000000000000"], False),  # 19 digits among floats
    ],
)
def test_large_numbers_in_a_float_column(tmp_path, monkeypatch, cells, quick):
    # the check after the read (pandas_quick.check_float_columns): the bytes are
    # searched for a 19-digit integer only where a float column holds a value of 1e18
    # or more; the frame is pandas' own either way
    answered = []
    real = dropin._quick_check
    monkeypatch.setattr(dropin, "_quick_check", lambda *a: answered.append(real(*a)))
    cells = [cells[i % len(cells)] for i in range(PAST)]
    got = same(_file(tmp_path, ["v", "id"], [cells, [str(i) for i in range(len(cells))]]))
    assert isinstance(got, pandas.DataFrame)
    assert bool(answered) == quick


@pytest.mark.parametrize(
    "values",
    [[], [np.nan], [np.nan, 1e18], [-1e18, np.nan], [np.inf], [-np.inf, 0.0], [9.99e17, -9.99e17],
     [np.nan, np.nan, 2.5], [1e300, np.nan]],
)
def test_float_check_finds_what_a_comparison_of_every_value_finds(values):
    # check_float_columns takes the largest and smallest value (fmax/fmin, NaN left out)
    # instead of comparing every one: the same verdict as the element-wise rule
    array = np.array(values, dtype=np.float64)
    big = bool((np.abs(array) >= pandas_quick.BIG_FLOAT).any())
    data = b"v\n12345678901234567890\n"  # (an integer run: the verdict is the values')
    if big:
        with pytest.raises(Unsupported):
            pandas_quick.check_float_columns(data, [array])
    else:
        pandas_quick.check_float_columns(data, [array])


_DATE_CELL = {
    "iso": st.dates().map(lambda d: d.isoformat()),
    "na": st.sampled_from(["", "NA", "NaT", "nan"]),
    "other": st.sampled_from(["2020-02-30", "2020/01/02", "2020-01-02 10:00", "20200102",
                              "2020-1-2", " 2020-01-02", "x", "12"]),
}


@st.composite
def _date_columns(draw):
    """A parse_dates column of one kind of cell up to a row near QUICK_ROWS, then of another."""
    rows = draw(st.integers(1, dropin.QUICK_ROWS + 40))
    kinds = st.sampled_from(sorted(_DATE_CELL))
    first, then = draw(kinds), draw(kinds)
    at = draw(st.integers(0, rows))
    return [draw(_DATE_CELL[first] if i < at else _DATE_CELL[then]) for i in range(rows)]


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(cells=_date_columns(), by_position=st.booleans())
def test_parse_dates_differential(tmp_path_factory, cells, by_position):
    # the quick guess reads a parse_dates column as ISO dates when its first values are
    # (the read checks the rest): the frame is pandas' own whatever the cells
    ids = [str(i) for i in range(len(cells))]
    path = _file(tmp_path_factory.mktemp("dates"), ["id", "d"], [ids, cells])
    same(path, parse_dates=[1 if by_position else "d"])


def test_parse_dates_on_the_quick_path(tmp_path, monkeypatch):
    answered = []
    real = dropin._quick_check
    monkeypatch.setattr(dropin, "_quick_check", lambda *a: answered.append(real(*a)))
    cells = ["2020-01-31", "", "1999-12-31", "NA"] * 40
    got = own(_file(tmp_path, ["d", "v"], [cells, [str(i) for i in range(len(cells))]]),
              parse_dates=["d"])
    assert answered and str(got["d"].dtype) == "datetime64[us]"


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(
        st.lists(st.text('ab,"\n\r 1é', max_size=5), min_size=3, max_size=3).filter(
            lambda r: r != ["", "", ""]  # (a row of empty fields is written as a blank line)
        ),
        min_size=1, max_size=12,
    ),
    limit=st.integers(1, 15),
    blank=st.sampled_from(["", "\n", "\r\n\n"]),
)
def test_head_columns_as_python_csv_reads(rows, limit, blank):
    # the quick guess's split of the first rows, by column, against Python's csv module
    # reading what its writer wrote (quotes doubled, line breaks inside quotes)
    import csv
    import io

    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)  # (quotes a field with \r or \n)
    data = (buf.getvalue() + blank).encode()
    want = [r for r in csv.reader(io.StringIO(data.decode(), newline="")) if r][:limit]
    columns, n = pandas_quick.head_columns(data, 0, True, ord(","), ord('"'), 3, limit)
    assert n == len(want)
    assert columns == [[r[i] for r in want] for i in range(3)]


def _head_columns_row_by_row(data, pos, final, width, limit):
    """head_columns as it was before the rows were split by one compiled call: row by
    row with ``_core.split_row`` (the reference for the one-call split)."""
    from fastetl.dropin.fallback import Unsupported

    try:
        rows = pandas_quick._rows_one_by_one(data, pos, final, ord(","), ord('"'), width, limit)
    except Unsupported as e:
        return "unsupported", str(e)
    if all(len(r) == width for r in rows):
        by_column = list(zip(*rows)) if rows else [() for _ in range(width)]
    else:
        by_column = [[r[i] for r in rows if i < len(r)] for i in range(width)]
    try:
        return [[f.decode("utf-8") for f in c] or [""] for c in by_column], len(rows)
    except UnicodeDecodeError:
        return "unsupported", "text that is not UTF-8 in the first rows"


@settings(max_examples=300, deadline=None)
@given(
    data=st.lists(st.sampled_from(['a', '1', ',', '"', '\n', '\r\n', ' ', 'é', '""', '\n\n']),
                  max_size=60).map(lambda p: "".join(p).encode()),
    pos=st.integers(0, 5),
    final=st.booleans(),
    width=st.integers(1, 4),
    limit=st.integers(1, 8),
)
def test_head_columns_one_call_as_row_by_row(data, pos, final, width, limit):
    # any bytes (broken quotes, blank lines, rows longer than the header, a head cut in
    # a row): the same columns, count and Unsupported as splitting row by row
    from fastetl.dropin.fallback import Unsupported

    pos = min(pos, len(data))
    want = _head_columns_row_by_row(data, pos, final, width, limit)
    try:
        got = pandas_quick.head_columns(data, pos, final, ord(","), ord('"'), width, limit)
    except Unsupported as e:
        got = "unsupported", str(e)
    assert got == want


def test_the_same_labels_read_again_with_other_columns(tmp_path):
    """A read keeps the schema it made for the next read of the same labels and kinds;
    files with the same header and other column kinds, other NA words or another
    delimiter, read in turn and again, each give pandas' frame (assert_frame_equal
    against the installed pandas), whatever was read before."""
    ids = [str(i) for i in range(PAST)]
    cases = [
        (_file(tmp_path, ["id", "v"], [ids, ["3"] * PAST], "a.csv"), {}),
        (_file(tmp_path, ["id", "v"], [ids, ["2.5"] * PAST], "b.csv"), {}),
        (_file(tmp_path, ["id", "v"], [ids, ["w"] * PAST], "c.csv"), {}),
        (_file(tmp_path, ["id", "v"], [ids, ["7", "x"] * (PAST // 2)], "d.csv"), {}),
        (_file(tmp_path, ["id", "v"], [ids, ["7", "x"] * (PAST // 2)], "d.csv"),
         {"na_values": ["x"], "keep_default_na": False}),
        (_file(tmp_path, ["id", "v"], [ids, ["7", "-1"] * (PAST // 2)], "f.csv"), {}),
        (_file(tmp_path, ["id", "v"], [ids, ["7", "-1"] * (PAST // 2)], "f.csv"),
         {"na_values": ["-1"]}),
        (write(tmp_path, "id;v\n" + "".join(f"{i};{i % 3}\n" for i in range(PAST)), "e.csv"),
         {"sep": ";"}),
    ]
    for _ in range(2):
        for path, kw in cases:
            own(path, **kw)


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.text(max_size=6), max_size=12))
def test_utf8_buffers_as_arrow_converts(values):
    # the offsets and bytes Arrow's own conversion of the same texts holds
    import pyarrow as pa

    from fastetl.dropin import pandas_columns

    want = pa.array(values, type=pa.large_string())
    offsets, data = pandas_columns.utf8_buffers(values)
    assert offsets.dtype == np.int64 and data.dtype == np.uint8
    assert offsets.tolist() == dropin._buffers(want)[0].tolist()
    assert data.tobytes() == dropin._buffers(want)[1].tobytes()
    got = pandas_columns.large_strings(values)
    assert got.type == pa.large_string() and got.equals(want)


@settings(max_examples=100, deadline=None)
@given(labels=st.lists(st.text(min_size=1, max_size=6), min_size=1, max_size=8, unique=True))
def test_str_index_as_pandas_makes_it(labels):
    pandas.testing.assert_index_equal(dropin._str_index(labels), pandas.Index(labels),
                                      exact=True)


def test_a_small_read_leaves_arrow_pandas_shim_unloaded(tmp_path):
    """The labels and a dictionary column's values go to Arrow from their bytes, not by
    Arrow's conversion of Python objects, whose first use loads pyarrow.pandas_compat (a
    first small read's time and memory): a fresh process reads a file of every column
    kind without loading it, and the frame is pandas' own."""
    import subprocess
    import sys

    rows = "".join(f"{i},{i * 0.5},w{i % 3},é {i}\n" for i in range(50))
    path = write(tmp_path, "id,x,word,text\n" + rows + ",,,\n")
    code = (
        "import sys, fastetl, fastetl.pandas as fpd, pandas\n"
        "fastetl.set_fallback('error')\n"
        "got = fpd.read_csv(sys.argv[1])\n"
        "loaded = 'pyarrow.pandas_compat' in sys.modules\n"
        "pandas.testing.assert_frame_equal(got, pandas.read_csv(sys.argv[1]), check_exact=True)\n"
        "print(loaded, dict(got.dtypes.astype(str)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                         text=True, check=True)
    assert out.stdout.split(" ", 1)[0] == "False", out.stdout
    assert "'word': 'str'" in out.stdout and "'text': 'str'" in out.stdout
