"""The compiled sample classifier (_infer.pxi) against independent references.

Inference asks the core what a column's sampled texts are (numbers, the integer range,
ISO dates, the column's counts and typed view); infer.py keeps the decisions.  Each
question is checked here on random texts against Python itself (``float()``, ``int()``,
``datetime``, ``collections.Counter``), and the decisions end to end against numpy's
integer ranges.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections import Counter

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fastetl
from fastetl import _core
from fastetl.infer import infer_columns, infer_schema, normalize_number
from fastetl.layout import syntax_bits

WORDS = ("inf", "infinity", "nan")
NUMBERISH = "0123456789+-.eE"


def ref_kind(v: str) -> str | None:
    """What a text is, by Python's own readers: "word" (inf, nan), "int", "float" or
    None.  The syntax is float()'s, without its extras (spaces, underscores, non-ASCII
    digits)."""
    core = v[1:] if v[:1] in "+-" else v
    if core.lower() in WORDS:
        return "word"
    if not v or any(c not in NUMBERISH for c in v):
        return None
    try:
        float(v)
    except ValueError:
        return None
    try:
        int(v)
    except ValueError:
        return "float"
    return "int"


def ref_column_kind(vals: list[str]) -> int:
    """1: every text an integer; 2: numbers, at least one not a word; 0: otherwise."""
    kinds = [ref_kind(v) for v in vals]
    if not kinds or None in kinds or all(k == "word" for k in kinds):
        return 0
    return 1 if all(k == "int" for k in kinds) else 2


number_texts = st.text(alphabet=NUMBERISH + "naifINFty ,_\u0661", max_size=10)
numberish_texts = st.one_of(
    number_texts,
    st.from_regex(
        r"[+-]?([0-9]{1,22}(\.[0-9]{0,4})?|\.[0-9]{1,4})([eE][+-]?[0-9]{1,3})?", fullmatch=True
    ),
    st.sampled_from(["inf", "-Infinity", "+NaN", "nan", "1.", ".5", "-0", "1e", "e5", ".", "+"]),
)


@given(st.lists(numberish_texts, min_size=1, max_size=6))
def test_numeric_kind_is_what_float_and_int_read(vals):
    assert _core.numeric_kind(vals) == ref_column_kind(vals)


@given(numberish_texts)
def test_one_text_kind(v):
    assert _core.numeric_kind([v]) == ref_column_kind([v])


SPELLINGS = [(",", None), (".", ","), (",", "."), (".", " "), (",", "'"), (".", "_")]


@pytest.mark.parametrize("spelling", SPELLINGS)
@given(vals=st.lists(st.text(alphabet="0123456789.,' _-eE", max_size=12), min_size=1, max_size=4))
def test_numeric_kind_under_a_spelling(spelling, vals):
    # the reference: the documented normalisation (separators out, the mark a point),
    # then Python's readers
    normal = [normalize_number(v, spelling) for v in vals]
    expected = 0 if None in normal else ref_column_kind(normal)  # type: ignore[arg-type]
    dec, thou = spelling
    assert _core.numeric_kind(vals, ord(dec), ord(thou) if thou else 0) == expected


def test_numeric_kind_refuses_non_ascii_digits_and_extras():
    for v in ["\u0661", "1\u00a0", "1_000", " 1", "1 ", "0x10", "1e5.0", "--1", "1..2"]:
        assert _core.numeric_kind([v]) == 0, v
        assert ref_column_kind([v]) == 0, v


int_texts = st.one_of(
    st.integers(min_value=-(2**64) - 5, max_value=2**64 + 5).map(str),
    st.integers(min_value=0, max_value=10**25).map(lambda n: f"+{n}"),
    st.from_regex(r"[+-]?0[0-9]{1,4}", fullmatch=True),
    st.from_regex(r"[0-9]{19,23}", fullmatch=True),
)


@given(st.lists(int_texts, min_size=1, max_size=6))
def test_int_range_is_int_min_max(vals):
    digits = [v.lstrip("+-") for v in vals]
    ints = [int(v) for v in vals]
    if any(len(d) > 1 and d[0] == "0" for d in digits) or any(abs(n) >= 2**64 for n in ints):
        assert _core.int_range(vals) is None
    else:
        assert _core.int_range(vals) == (min(ints), max(ints))


def ref_iso_date(v: str) -> bool:
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", v, flags=re.ASCII):
        return False
    try:
        dt.datetime.strptime(v, "%Y-%m-%d")
    except ValueError:
        return False
    return True


iso_like = st.one_of(
    st.dates().map(lambda d: d.isoformat()),
    st.from_regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", fullmatch=True),
    st.text(alphabet="0123456789-/ T:", min_size=8, max_size=12),
)


@given(st.lists(iso_like, max_size=5))
def test_iso_dates_are_real_dates(vals):
    assert _core.iso_dates(vals) == all(ref_iso_date(v) for v in vals)


field_bytes = st.one_of(
    st.text(alphabet="ab 1\t\u00e9", max_size=5).map(lambda t: t.encode()),
    st.binary(max_size=4),  # bytes that are not UTF-8 too: replaced when decoded
)


@given(st.lists(field_bytes, max_size=30))
def test_column_stats_are_counter_and_strip(fields):
    raw = Counter(fields)
    counts: Counter = Counter()
    longest, blank, typed = _core.column_stats(raw, counts)
    expected: Counter = Counter()
    for f in fields:
        expected[f.decode("utf-8", errors="replace")] += 1
    assert counts == expected
    assert list(counts) == list(dict.fromkeys(f.decode("utf-8", "replace") for f in fields))
    assert longest == max(map(len, fields), default=0)
    trimmed = [t.strip(" \t") for t in expected]
    assert blank == ("" in trimmed)
    assert typed == list(dict.fromkeys(t for t in trimmed if t))


@given(
    st.lists(st.lists(field_bytes, max_size=6), min_size=1, max_size=12),
    st.integers(1, 6),
    st.sets(st.sampled_from(["", "a", "NA", "1", "\ufffd"])),
)
def test_body_texts_are_each_columns_distinct_trimmed_texts(rows, width, nulls):
    # header detection's view of the rows under the first, against str.strip and dict
    # order: rows shorter than width pass their missing columns over, longer ones are cut
    named, every = _core.body_texts(rows, width, frozenset(nulls))
    for j in range(width):
        texts = (r[j].decode("utf-8", "replace").strip(" \t") for r in rows[1:] if j < len(r))
        want = list(dict.fromkeys(t for t in texts if t))
        assert every[j] == want
        assert named[j] == [t for t in want if t not in nulls]
    assert len(named) == len(every) == width


@given(
    st.lists(
        st.lists(
            st.one_of(
                st.sampled_from([b"", b" x ", b"x", b"\xff\xfe", b"\xfe", b"NA", b"same long text"]),
                st.integers(0, 10**12).map(lambda n: str(n).encode()),
                field_bytes,
            ),
            min_size=3,
            max_size=40,
        ),
        min_size=60,
        max_size=260,
    ),
    st.integers(1, 40),
)
def test_body_texts_of_many_rows_and_columns(rows, width):
    # long columns (a table of many distinct fields, equal ones far apart, fields longer
    # than a word, bytes that are not UTF-8 and decode alike) against the same reference
    named, every = _core.body_texts(rows, width, frozenset({"NA", "\ufffd"}))
    for j in range(width):
        texts = (r[j].decode("utf-8", "replace").strip(" \t") for r in rows[1:] if j < len(r))
        want = list(dict.fromkeys(t for t in texts if t))
        assert every[j] == want
        assert named[j] == [t for t in want if t not in ("NA", "\ufffd")]


def test_body_texts_refuses_rows_that_are_not_lists_of_bytes():
    with pytest.raises(TypeError):
        _core.body_texts([[b"a"], (b"b",)], 1, frozenset())
    with pytest.raises(TypeError):
        _core.body_texts([[b"a"], ["b"]], 1, frozenset())


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "int64", "uint64"])
@given(data=st.data())
def test_integer_columns_get_the_narrowest_numpy_type(dtype, data):
    info = np.iinfo(dtype)
    nums = data.draw(
        st.lists(st.integers(int(info.min), int(info.max)), min_size=1, max_size=20)
    )
    texts = [str(n) for n in nums]
    cols, _ = infer_columns([[t] for t in texts])
    lo, hi = min(nums), max(nums)
    if set(texts) <= {"0", "1"}:
        want = "int8"
    else:
        want = next(
            t
            for t in ("int8", "int16", "int32", "int64", "uint64")
            if np.iinfo(t).min <= lo and hi <= np.iinfo(t).max
        )
    assert cols[0].type == want


@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=20))
def test_float_columns_are_float64_and_read_back_exactly(nums):
    texts = [repr(x) for x in nums]
    data = ("x\n" + "\n".join(texts) + "\n").encode()
    assert infer_schema(data).columns[0].type == "float64"
    got = fastetl.read_csv(data)
    assert [float(v).hex() for v in got["x"]] == [float(t).hex() for t in texts]


# -- the rows of the sample: counted and split in batches -----------------------------------
cell = st.text(alphabet='ab ,;"\n\t|1', max_size=6)


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
@given(table=st.lists(st.lists(cell, min_size=1, max_size=4), min_size=1, max_size=8))
def test_rows_are_what_the_csv_module_reads(delimiter, table):
    text = io.StringIO()
    csv.writer(text, delimiter=delimiter, lineterminator="\n").writerows(table)
    data = text.getvalue().encode()
    # the reference: Python's csv module (blank lines are skipped by both)
    want = [r for r in csv.reader(io.StringIO(text.getvalue()), delimiter=delimiter) if r]
    word, quote = ord(delimiter), ord('"')
    shapes = _core.row_shapes(data, 0, True, word, quote, 1000)
    assert [n for _, _, n, _ in shapes] == [len(r) for r in want]
    rows, status, nxt = _core.split_spans(data, 0, True, word, quote, 1000)
    assert [(n, last) for _, _, n, last in rows] == [(len(r), r[-1] == "") for r in want]
    assert (status, nxt) == (0, len(data))
    assert [(s, e) for s, e, _, _ in rows] == [(s, e) for s, e, _, _ in shapes]


def split_one_by_one(data: bytes, final: bool, word: int, quote: int) -> list:
    """The rows as split_row gives them called row after row, broken ones read over to the
    end of their line (as on_error="skip" reads them)."""
    out = []
    pos, n = 0, len(data)
    while True:
        p = pos
        while p < n and data[p] in (10, 13):
            p += 1
        if p >= n:
            return out
        status, fields, nxt = _core.split_row(data, p, n, final, word, quote)
        if status > 0:
            ends = [i + 1 for i in range(nxt, n) if data[i] in (10, 13)]
            if not ends:
                if not final:
                    return out
                end = n
            else:
                end = ends[0]
                if data[end - 1] == 13:  # CR: CRLF counts as one, a CR at the end waits
                    if end < n and data[end] == 10:
                        end += 1
                    elif end == n and not final:
                        return out
            out.append((p, end, -1))
            pos = end
            continue
        if status == -1 or not fields:
            return out
        out.append((p, nxt, len(fields)))
        pos = nxt


@given(
    data=st.binary(max_size=40).map(lambda b: b.replace(b"\x00", b"")),
    chunk=st.lists(
        st.sampled_from([b'"', b",", b"\n", b"\r", b"x", b'""', b"\r\n"]), max_size=20
    ),
    final=st.booleans(),
)
def test_row_shapes_are_split_row_row_after_row(data, chunk, final):
    data = data + b"".join(chunk)
    want = split_one_by_one(data, final, ord(","), ord('"'))
    shapes = _core.row_shapes(data, 0, final, ord(","), ord('"'), 1000)
    assert [s[:3] for s in shapes] == want
    for lenient in (False, True):
        got = []
        pos = 0
        while True:  # in small batches, as sampling asks for them
            rows, status, nxt = _core.split_spans(data, pos, final, ord(","), ord('"'), 2,
                                                  lenient)
            got += [(s, e, n) for s, e, n, _ in rows]
            if status != 0 or len(rows) < 2:
                break
            pos = rows[-1][1]
        if lenient:  # every row, broken ones read over to the end of their line
            assert got == want and status <= 0
            continue
        assert got == want[: len(got)]
        if status > 0:  # it stops at the first row whose quoting breaks (whose line end,
            # when the data is cut before it, is not known yet: no row there)
            assert len(want) == len(got) or want[len(got)][2] == -1
        else:
            assert all(n >= 0 for _, _, n in want)


def ref_fit(data, final, ncols, trailing, fill, lenient, cap, peek):
    """infer.py's sampling loop by the parser's split_row, row after row: the rows of
    ``ncols`` fields (fitted: a trailing empty field dropped, a short row filled) up to
    ``cap``, the starts of the malformed rows left out (lenient), and why it stopped."""
    comma, quote = ord(","), ord('"')
    starts, ends, left = [], [], []
    rows = split_one_by_one(data, final, comma, quote)
    for s, e, nf in rows:
        if nf >= 0:
            fields = _core.split_row(data, s, len(data), final, comma, quote)[1]
            if trailing and nf > 1 and fields[-1] == b"":
                nf -= 1
            if fill and 0 < nf < ncols:
                nf = ncols
        if nf < 0 and not lenient:
            return starts, ends, left, 3
        if nf != ncols and not lenient:
            return starts, ends, left, 2
        if len(starts) >= cap:
            return starts, ends, left, 1
        if nf != ncols:
            left.append(s)
            continue
        starts.append(s)
        ends.append(e)
        if len(starts) >= cap and not peek:
            return starts, ends, left, 1
    pos = rows[-1][1] if rows else 0
    while pos < len(data) and data[pos] in (10, 13):
        pos += 1
    if not lenient and pos < len(data):  # a broken row whose line end is not known yet
        if _core.split_row(data, pos, len(data), final, comma, quote)[0] > 0:
            return starts, ends, left, 3
    return starts, ends, left, 0


@given(
    data=st.lists(
        st.sampled_from([b'"', b",", b"\n", b"\r", b"x", b'""', b"\r\n", b"a,b\n", b",\n"]),
        max_size=30,
    ).map(b"".join),
    final=st.booleans(),
    ncols=st.integers(1, 3),
    trailing=st.booleans(),
    fill=st.booleans(),
    lenient=st.booleans(),
    cap=st.integers(0, 6),
    peek=st.booleans(),
)
def test_fit_spans_is_the_sampling_loop(data, final, ncols, trailing, fill, lenient, cap, peek):
    got = _core.fit_spans(data, 0, final, ord(","), ord('"'), ncols, trailing, fill, lenient,
                          cap, peek)
    assert got[:4] == ref_fit(data, final, ncols, trailing, fill, lenient, cap, peek)


ISO_DT = re.compile(  # docs/INFERENCE.md: ISO datetimes (a date alone too)
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})"
    r"(?:[T ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,9}))?)?"
    r"(Z|[+-][0-9]{2}(?::?[0-9]{2})?)?)?",
    flags=re.ASCII,
)


def ref_iso_datetime(v: str) -> int:
    m = ISO_DT.fullmatch(v)
    if m is None:
        return -1
    y, mo, d, hh, mi, ss, frac, tz = m.groups()
    try:
        dt.date(int(y), int(mo), int(d))
    except ValueError:
        return -1
    if hh is not None and (int(hh) > 23 or int(mi) > 59 or (ss is not None and int(ss) > 59)):
        return -1
    ns = 1 if frac and frac[6:].strip("0") else 0
    return ns | (2 if tz else 0)


iso_dt_texts = st.one_of(
    st.datetimes().map(lambda x: x.isoformat(sep=" ")),
    st.datetimes(timezones=st.just(dt.timezone.utc)).map(lambda x: x.isoformat()),
    st.from_regex(
        r"[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{0,11})?)?"
        r"(Z|[+-][0-9]{1,2}(:?[0-9]{0,3})?)?)?",
        fullmatch=True,
    ),
    st.text(alphabet="0123456789-T :.Z+", min_size=10, max_size=30),
)


@given(st.lists(iso_dt_texts, max_size=4))
def test_iso_datetimes_match_the_documented_syntax(vals):
    kinds = [ref_iso_datetime(v) for v in vals]
    if -1 in kinds:
        want = -1
    else:
        ns = 1 if any(k & 1 for k in kinds) else 0
        want = ns | (2 if vals and all(k & 2 for k in kinds) else 0)
    assert _core.iso_datetimes(vals) == want


def ref_stray(cell: bytes, quote: str | None) -> bool:
    """A quote character left in a cell by a reading that did not use it as its quote:
    a ``"`` at either end, or a ``'`` at both (docs/INFERENCE.md, section 2)."""
    t = cell.strip(b" \t")
    if not t:
        return False
    if quote != '"' and (t.startswith(b'"') or t.endswith(b'"')):
        return True
    return quote != "'" and len(t) >= 2 and t.startswith(b"'") and t.endswith(b"'")


@pytest.mark.parametrize("quote", ['"', "'", None])
@given(data=st.lists(st.sampled_from([b'"', b"'", b",", b"\n", b" ", b"x", b'""', b"\t"]),
                     max_size=24).map(b"".join))
def test_row_shapes_see_leftover_quotes(quote, data):
    q = ord(quote) if quote else -1
    for start, _nxt, nfields, stray in _core.row_shapes(data, 0, True, ord(","), q, 1000):
        if nfields < 0:
            continue
        fields = _core.split_row(data, start, len(data), True, ord(","), q)[1]
        want = any(ref_stray(f, quote) for f in fields)
        assert stray == int(want) or stray == 2


def ref_summary(column: list[bytes]) -> tuple[Counter, int, bool, list[str]]:
    """A column's summary by Python alone: Counter of the decoded texts, the longest
    field in bytes, whether a field is blank, the distinct trimmed non-empty texts."""
    counts = Counter(f.decode("utf-8", errors="replace") for f in column)
    trimmed = [t.strip(" \t") for t in counts]
    typed = list(dict.fromkeys(t for t in trimmed if t))
    return counts, max(map(len, column), default=0), "" in trimmed, typed


def csv_of(rows: list[list[bytes]], escape: bytes | None, trailing: bool) -> bytes:
    """The rows written as CSV, every field quoted (with ``escape``: quotes inside
    escaped by it, else doubled), a delimiter after the last field with ``trailing``."""
    out = []
    for r in rows:
        if escape:
            cells = [b'"' + f.replace(escape, escape + escape).replace(b'"', escape + b'"')
                     + b'"' for f in r]
        else:
            cells = [b'"' + f.replace(b'"', b'""') + b'"' for f in r]
        out.append(b",".join(cells) + (b"," if trailing else b"") + b"\n")
    return b"".join(out)


def check_summaries(rows: list[list[bytes]], ncols: int, escape: bytes | None = None,
                    trailing: bool = False, pieces: int = 1) -> None:
    """span_summaries of the rows written as CSV (cut into ``pieces`` texts) against
    Python's Counter and strip of the fields themselves (missing ones empty)."""
    word = ord(",") | syntax_bits(escape.decode() if escape else None, None, False, False)
    segments = []
    step = max(1, -(-len(rows) // pieces))
    for k in range(0, max(len(rows), 1), step):
        data = csv_of(rows[k : k + step], escape, trailing)
        spans, status, nxt = _core.split_spans(data, 0, True, word, ord('"'), 10**6)
        assert (status, nxt) == (0, len(data))
        assert len(spans) == len(rows[k : k + step])
        segments.append((data, True, [s for s, _, _, _ in spans]))
    got = _core.span_summaries(segments, ncols, word, ord('"'), trailing, Counter)
    assert len(got) == ncols
    for j, (counts, longest, blank, typed) in enumerate(got):
        want = ref_summary([r[j] if j < len(r) else b"" for r in rows])
        assert type(counts) is Counter
        assert (counts, longest, blank, typed) == want
        assert list(counts) == list(want[0])  # first seen first


@pytest.mark.parametrize("escape", [None, b"\\"])
@pytest.mark.parametrize("trailing", [False, True])
@given(st.integers(1, 4).flatmap(
    lambda k: st.lists(st.lists(field_bytes, min_size=k, max_size=k), max_size=30)
), st.integers(1, 3))
def test_span_summaries_are_counter_and_strip(escape, trailing, rows, pieces):
    check_summaries(rows, len(rows[0]) if rows else 2, escape, trailing, pieces)


@given(st.lists(st.lists(field_bytes, min_size=1, max_size=4), min_size=1, max_size=30))
def test_span_summaries_fill_short_rows_with_empty_fields(rows):
    # ragged="fill": a row with fewer fields reads its missing ones as empty
    check_summaries(rows, max(len(r) for r in rows))


@pytest.mark.parametrize("distinct", [3, 200, 250, 10_000])
@given(data=st.data())
def test_span_summaries_of_long_columns(distinct, data):
    # many rows: the hash table holds few distinct values, or nearly all distinct
    nrows = data.draw(st.integers(250, 700))
    pool = data.draw(st.lists(field_bytes, min_size=1, max_size=8))
    rows = [
        [str(i % distinct).encode(), pool[i % len(pool)], b" " + str(i % 7).encode()]
        for i in range(nrows)
    ]
    check_summaries(rows, 3, pieces=data.draw(st.integers(1, 3)))


def test_span_summaries_in_turn_big_small_and_alive_together():
    """The sample's cells and hash table are kept for the next call (warm memory): calls
    of other sizes in turn, and two results alive at once (the second cannot take the
    first's memory), each give Counter and strip of their own fields."""
    big = [[str(i % 97).encode(), b"w" * (i % 5), b" " + str(i).encode()] for i in range(9_000)]
    small = [[b"a", b" b "], [b"", b"c"], [b"a", b"c"]]
    check_summaries(big, 3)
    for rows, ncols in ((small, 2), (big, 3), (big[:40], 3), (small, 2), (big, 3)):
        check_summaries(rows, ncols)
    one = _core.sample_columns([(csv_of(big, None, False), True, _starts(big))], 3, ord(","), ord('"'))
    two = _core.sample_columns([(csv_of(small, None, False), True, _starts(small))], 2, ord(","), ord('"'))
    for got, rows in ((one, big), (two, small), (one, big)):
        for j in range(got.ncols):
            assert got.summary(j, Counter) == ref_summary([r[j] for r in rows])
    del one, two
    check_summaries(big, 3)
    # from threads at once (a free-threaded Python has no GIL around the kept memory)
    from concurrent.futures import ThreadPoolExecutor

    jobs = [(big, 3), (small, 2), (big[:300], 3)] * 4
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda job: check_summaries(*job), jobs))


def _starts(rows: list[list[bytes]]) -> list[int]:
    spans, _, _ = _core.split_spans(csv_of(rows, None, False), 0, True, ord(","), ord('"'), 10**6)
    return [s for s, _, _, _ in spans]


def test_split_spans_of_a_huge_max_rows_allocates_by_the_input():
    # (max_rows + 1) * sizeof(RowSpan) overflowed for sys.maxsize: a tiny malloc overrun
    import sys

    text = "a,b\n1,\n\n3,4\n"
    want = [r for r in csv.reader(io.StringIO(text)) if r]
    for max_rows in (sys.maxsize, sys.maxsize // 2, 2**40):
        rows, status, nxt = _core.split_spans(text.encode(), 0, True, ord(","), ord('"'),
                                              max_rows)
        assert [(n, last) for _, _, n, last in rows] == [(len(r), r[-1] == "") for r in want]
        assert (status, nxt) == (0, len(text))


def test_span_summaries_of_escaped_empty_fields_only():
    # an escaped empty field is the first arena use: the arena is allocated (no NULL to
    # memcmp/hash even at length 0)
    check_summaries([[b"", b"x"], [b"", b""], [b"", b"x"]], 2, escape=b"\\")


def test_span_summaries_refuse_what_is_not_a_sample():
    with pytest.raises(ValueError, match="bad row start"):
        _core.span_summaries([(b"a,b\n", True, [5])], 2, ord(","), ord('"'))
    with pytest.raises(TypeError):
        _core.span_summaries([(b"a\n", True, [0])], 1, ord(","), ord('"'), False, list)


@pytest.mark.parametrize("delimiter", [",", "\t", ";", "|"])
@given(
    st.lists(
        st.lists(st.text(alphabet="ab1 .-,;\t|", max_size=4), min_size=1, max_size=4),
        min_size=1,
        max_size=30,
    )
)
def test_a_head_without_quotes_reads_alike_under_every_quote(delimiter, lines):
    # sniffing reads such a head once per delimiter and lends the reading to each quote
    from dataclasses import asdict

    from fastetl import infer

    text = "".join(delimiter.join(cells) + "\n" for cells in lines)
    buf = text.encode()
    split = csv.reader(io.StringIO(text), delimiter=delimiter, quoting=csv.QUOTE_NONE)
    ref = [r for r in split if r]
    readings = {q: infer._read_candidate(buf, True, delimiter, q) for q in infer.QUOTES}
    plain = asdict(readings[None]) | {"quote": None, "source": None, "_rows": None}
    for q, r in readings.items():
        assert asdict(r) | {"quote": None, "source": None, "_rows": None} == plain
        assert [[f.decode() for f in row] for row in r.rows] == ref
    best = infer._choose_structure(buf, True, delimiter, ...)
    assert [[f.decode() for f in row] for row in best.rows] == ref


def ref_utf8_ok(data: bytes, final: bool) -> bool:
    try:
        __import__("codecs").getincrementaldecoder("utf-8")().decode(data, final)
    except UnicodeDecodeError:
        return False
    return True


utf8_pieces = st.lists(
    st.one_of(
        st.text(max_size=3).map(lambda t: t.encode()),
        st.sampled_from([b"\xc3", b"\xe2\x82", b"\xf0\x9f\x98", b"\xe0\x80", b"\xed\xa0",
                         b"\xf4\x90", b"\xf0\x8f", b"\x80", b"\xc0\xaf", b"\xff", b"\xf5"]),
        st.binary(max_size=3),
    ),
    max_size=12,
).map(b"".join)


@pytest.mark.parametrize("final", [True, False])
@given(data=utf8_pieces)
def test_utf8_ok_is_the_incremental_decoder(final, data):
    assert _core.utf8_ok(data, final) == ref_utf8_ok(data, final)
    # and on the data cut anywhere, as the sample's windows cut it
    for cut in range(len(data)):
        assert _core.utf8_ok(data[:cut], False) == ref_utf8_ok(data[:cut], False)
