"""The sample's columns classified over their bytes (``_core.sample_columns``) against
the rules they replace.

Inference used to make a ``str`` per distinct field and ask its questions of lists of
texts (``_core.numeric_kind``, ``int_range``, ``iso_dates``, ``iso_datetimes``, set
membership); ``SampleColumns.ask`` answers the same questions from the split sample
without the texts.  Each answer is checked here against the list rule on the texts
Python itself decodes and strips (and, for numbers, against ``float()``/``int()``), and
the column decisions of ``infer._infer`` from both kinds of statistics are compared.
"""

from __future__ import annotations

from collections import Counter
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastetl import _core
from fastetl import infer as inf

from test_infer_core import csv_of, ref_column_kind

NULLS = sorted(inf._NULL_SET)
SPELLINGS = inf._SPELLINGS

# fields that look like what inference meets: numbers in every spelling, dates and
# datetimes, null words, words, blanks and spaces around, non-ASCII text, and bytes that
# are not UTF-8
field_text = st.one_of(
    st.from_regex(r"[+-]?[0-9]{1,21}", fullmatch=True),
    st.from_regex(r"-?[0-9]{1,3}([.,][0-9]{3}){0,2}([.,][0-9]{1,3})?", fullmatch=True),
    st.from_regex(r"[+-]?[0-9]{0,4}\.[0-9]{0,4}([eE][+-]?[0-9]{1,3})?", fullmatch=True),
    st.from_regex(r"(19|20)[0-9]{2}-[01][0-9]-[0-3][0-9]", fullmatch=True),
    st.from_regex(
        r"20[0-9]{2}-[01][0-9]-[0-3][0-9][T ][0-2][0-9]:[0-5][0-9](:[0-6][0-9](\.[0-9]{1,9})?)?"
        r"(Z|[+-][0-9]{2}(:?[0-9]{2})?)?",
        fullmatch=True,
    ),
    st.sampled_from(NULLS + ["", " ", "\t", "inf", "-NaN", "true", "no", "0", "1", "007",
                             "é", "1,5", "Dec 8, 2022", "01/02/2024"]),
    st.text(alphabet="ab1 .-,\t\u00e9", max_size=6),
)
field_bytes = st.one_of(
    st.tuples(field_text, st.sampled_from(["", " ", "\t"]), st.sampled_from(["", " "])).map(
        lambda t: (t[1] + t[0] + t[2]).encode()
    ),
    st.binary(max_size=3),  # not UTF-8 too
)


def columns_of(rows: list[list[bytes]], ncols: int, cut: int = 0):
    """The rows' SampleColumns; with ``cut``, the rows before it and from it on are two
    pieces of the sample (each field is then found through its row's piece)."""
    segments = []
    for part in (rows[:cut], rows[cut:]) if 0 < cut < len(rows) else (rows,):
        data = csv_of(part, None, False)
        spans, status, nxt = _core.split_spans(data, 0, True, ord(","), ord('"'), 10**6)
        assert (status, nxt) == (0, len(data))
        segments.append((data, True, [s for s, _, _, _ in spans]))
    return _core.sample_columns(segments, ncols, ord(","), ord('"'))


def typed_of(column: list[bytes]) -> list[str]:
    """The distinct trimmed non-empty texts, in the order first seen (Python alone)."""
    counts = Counter(f.decode("utf-8", errors="replace") for f in column)
    return list(dict.fromkeys(t for t in (v.strip(" \t") for v in counts) if t))


def list_answer(what: str, vals: list[str], spelling) -> object:
    """The list rule each compiled question replaces."""
    dec, thou = spelling
    if what == "numeric":
        return _core.numeric_kind(vals, ord(dec), ord(thou) if thou else 0)
    if what == "int_range":
        got = _core.int_range(inf._spelled(vals, spelling) or [])
        return got if got is not None else False
    if what == "iso_dates":
        return _core.iso_dates(vals)
    if what == "iso_datetimes":
        return _core.iso_datetimes(vals)
    if what == "any":
        return bool(vals)
    return vals[0] if vals else None  # first


@settings(max_examples=300)
@given(
    st.integers(1, 3).flatmap(
        lambda k: st.lists(st.lists(field_bytes, min_size=k, max_size=k), min_size=1,
                           max_size=25)
    ),
    st.sampled_from(SPELLINGS),
    st.data(),
)
def test_every_question_is_answered_as_the_texts_answer_it(rows, spelling, data):
    ncols = len(rows[0])
    cols = columns_of(rows, ncols, data.draw(st.integers(0, len(rows))))
    for j in range(ncols):
        column = [r[j] for r in rows]
        texts = [f.decode("utf-8", errors="replace") for f in column]
        # left out: null words, numbers, and values of the column itself
        exclude = data.draw(
            st.lists(st.sampled_from(NULLS + ["", "-999", "é", "0", *typed_of(column)]),
                     max_size=4)
        )
        vals = [v for v in typed_of(column) if v not in set(exclude)]
        utf8 = all(f.decode("utf-8", errors="replace").encode() == f for f in column)
        rows_n, empty, longest, blank, ascii_, distinct, nbytes = cols.facts(j)
        assert rows_n == len(column)
        assert empty == column.count(b"")
        assert longest == max(map(len, column))
        assert blank == any(not t.strip(" \t") for t in texts)
        assert ascii_ == all(f.isascii() for f in column)
        assert distinct == len(set(column))
        assert nbytes == sum(map(len, column))
        for what in ("numeric", "int_range", "iso_dates", "iso_datetimes", "any", "first"):
            if what == "int_range" and list_answer("numeric", vals, spelling) != 1:
                continue  # (asked of integer columns only)
            got = cols.ask(j, what, exclude, ord(spelling[0]),
                           ord(spelling[1]) if spelling[1] else 0)
            if not utf8:
                assert got is None
                continue
            assert got == list_answer(what, vals, spelling), (what, vals)
        if utf8 and spelling == inf.PLAIN:
            assert cols.ask(j, "numeric", exclude) == (ref_column_kind(vals) if vals else 0)
            # (numbers and float words among them: a field is compared with the words of
            # its own kind only)
            words = sorted(set(NULLS + ["-999", "0", "007", "1.5", "-inf"]) - set(exclude))
            assert sorted(cols.ask(j, "in", words)) == sorted(set(vals) & set(words))
            assert cols.verbatim(j, NULLS) == any(t in set(NULLS) for t in texts)


@settings(max_examples=200)
@given(
    st.integers(1, 3).flatmap(
        lambda k: st.lists(st.lists(field_bytes, min_size=k, max_size=k), min_size=1,
                           max_size=25)
    ),
    st.sampled_from([None, ("",), ("", "NA"), ("-",)]),
    st.sampled_from(SPELLINGS),
)
def test_column_decisions_equal_those_from_the_texts(rows, null_values, spelling):
    # the decisions of inference from the compiled columns equal those from the texts
    # (the statistics the list rules read: _Stats.of with the fields as split)
    ncols = len(rows[0])
    cols = columns_of(rows, ncols)
    names = [f"c{j}" for j in range(ncols)]
    compiled = [inf._Stats.of_columns(cols, j) for j in range(ncols)]
    texts = [inf._Stats.of([r[j] for r in rows]) for j in range(ncols)]
    got = inf._infer(names, compiled, null_values, spelling)
    want = inf._infer(names, texts, null_values, spelling)
    assert got == want
    numbers = [inf._number_texts(s, null_values) for s in compiled]
    assert inf.sniff_spelling(numbers) == inf.sniff_spelling(
        [inf._number_texts(s, null_values) for s in texts]
    )


# columns of numbers only (the case the kinds and integer range kept while counting answer),
# with spaces around some, blanks and null words among them
number_field = st.one_of(
    st.integers(-(2**64), 2**64).map(str),
    st.from_regex(r"[+-]?0[0-9]{0,3}", fullmatch=True),  # leading zeros: not an int range
    st.floats(allow_nan=False, allow_infinity=False, width=32).map(repr),
    st.sampled_from(["", " ", "NA", "-", "nan"]),
).flatmap(lambda t: st.sampled_from([t, f" {t}", f"{t}\t"]))


@settings(max_examples=300)
@given(
    st.lists(st.lists(number_field, min_size=2, max_size=2), min_size=1, max_size=60),
    st.lists(st.sampled_from(NULLS + ["", "0", "-1", "NA", "nan"]), max_size=3),
)
def test_number_columns_answered_from_their_counts_as_from_their_texts(rows, exclude):
    data = [[f.encode() for f in r] for r in rows]
    cols = columns_of(data, 2)
    for j in range(2):
        vals = [v for v in typed_of([r[j] for r in data]) if v not in set(exclude)]
        kind = cols.ask(j, "numeric", exclude)
        assert kind == list_answer("numeric", vals, inf.PLAIN)
        assert kind == (ref_column_kind(vals) if vals else 0)
        if kind == 1:
            want = list_answer("int_range", vals, inf.PLAIN)
            assert cols.ask(j, "int_range", exclude) == want
            if want:  # against int() of the texts
                assert want == (min(int(v) for v in vals), max(int(v) for v in vals))


@pytest.mark.skipif(sys.maxsize < 2**32, reason="a 1 GiB array needs a 64-bit address space")
def test_a_sample_of_1_gib_or_more_is_refused():
    # (a Cell's offsets are 30-bit: the bound is checked on the segments' sizes; the
    # zeros are calloc'ed pages nothing touches)
    big = np.zeros(1 << 30, np.uint8)
    with pytest.raises(MemoryError, match="a sample of 1 GiB or more"):
        _core.sample_columns([(big, True, [0])], 1, ord(","), ord('"'))
    # in two pieces, the bound is on their sum
    half = big[: 1 << 29]
    with pytest.raises(MemoryError, match="a sample of 1 GiB or more"):
        _core.sample_columns([(half, False, [0]), (half, True, [0])], 1, ord(","), ord('"'))


@pytest.mark.skipif(sys.maxsize < 2**32, reason="a 1 GiB arena needs a 64-bit address space")
def test_overlapping_rows_cannot_run_the_arena_past_its_offsets():
    # rows that overlap (only a direct call can give them) unescape the same field again
    # and again: past 2**30 bytes of arena the 30-bit offsets would wrap into the flag
    # bits and give another text back (a 4th copy of a 270 MB field); refused instead
    n = 270 << 20
    buf = np.full(n + 4, ord("a"), np.uint8)
    buf[0] = ord('"')
    buf[-4:] = np.frombuffer(b'"""\n', np.uint8)  # "aa...a""" -> aa...a"
    with pytest.raises(MemoryError):
        _core.sample_columns([(buf, True, [0] * 4)], 1, ord(","), ord('"'))
