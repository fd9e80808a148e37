"""fastetl.pandas.read_csv on inputs read by several threads (bigger than SMALL_INPUT):
the checks the workers make on each block while they parse it (lines of blanks, 19-digit
integers among free text) against pandas' own reading of the same file -- wherever in
the file, and wherever the blocks are cut, the thing checked stands."""

from __future__ import annotations

import numpy as np
import pandas
import pytest

import fastetl
import fastetl.pandas as fpd
from fastetl import _core
from fastetl.dropin import pandas as dropin
from fastetl.dropin import pandas_columns
from fastetl.pipeline import DEFAULT_BLOCK_SIZE
from test_dropin_pandas import _falls_back, _policy, own, same  # noqa: F401 - _policy: autouse

ROWS = 120_000  # ~6.5 MB: three blocks, two threads


def _lines(rows: int = ROWS) -> list[bytes]:
    return [
        b"%d,%d.25,item %d of %d,w%d\n" % (i, i % 977, i, i * 7919 % 100003, i % 5)
        for i in range(rows)
    ]


def _write(path, lines: list[bytes]) -> None:
    data = b"id,price,note,word\n" + b"".join(lines)
    assert len(data) > dropin.SMALL_INPUT  # (read by the threads)
    path.write_bytes(data)


def _cut_rows(lines: list[bytes]) -> list[int]:
    """The rows the pipeline's blocks start at (its cut: the line start after each
    DEFAULT_BLOCK_SIZE bytes), found the way the pipeline finds them."""
    data = b"id,price,note,word\n" + b"".join(lines)
    starts, at = {}, len(b"id,price,note,word\n")
    for k, line in enumerate(lines):
        starts[at] = k
        at += len(line)
    out, start = [], len(b"id,price,note,word\n")
    while True:
        cut = _core.line_start_after(data, min(len(data), start + DEFAULT_BLOCK_SIZE))
        if cut >= len(data):
            return out
        out.append(starts[cut])
        start = cut


def test_the_benchmark_shape_is_prepared_on_the_workers(tmp_path, monkeypatch):
    # the frame equals pandas', and the blocks went through the writer's prepare
    seen = []
    prepare = pandas_columns.ColumnWriter.prepare

    def spy(self, *args):
        seen.append(args[3])
        return prepare(self, *args)

    monkeypatch.setattr(pandas_columns.ColumnWriter, "prepare", spy)
    p = tmp_path / "big.csv"
    _write(p, _lines())
    own(p)
    assert len(seen) >= 3


@pytest.mark.parametrize("where", ["first", "cut-1", "cut", "cut+1", "last", "last-no-eol"])
def test_a_line_of_blanks_anywhere_falls_back(tmp_path, where):
    lines = _lines()
    cut = _cut_rows(lines)[0]
    at = {"first": 0, "cut-1": cut - 1, "cut": cut, "cut+1": cut + 1,
          "last": len(lines), "last-no-eol": len(lines)}[where]
    lines.insert(at, b" \t \n")
    if where == "last-no-eol":
        lines[-1] = b"  "
    p = tmp_path / "blank.csv"
    _write(p, lines)
    _falls_back(p, "a line of blanks, which pandas skips")


@pytest.mark.parametrize("where", ["cut-1", "cut", "last"])
def test_blanks_beside_line_ends_that_are_not_blank_lines_stay_on_own_path(tmp_path, where):
    # a blank before a line break (a text's last byte) passes the first stage of the
    # check: the second finds no line of blanks, and fastetl answers
    lines = _lines()
    cut = _cut_rows(lines)[0]
    at = {"cut-1": cut - 1, "cut": cut, "last": len(lines) - 1}[where]
    lines[at] = lines[at][:-1] + b" \n"
    p = tmp_path / "spaced.csv"
    _write(p, lines)
    got = own(p)
    assert got["word"][at].endswith(" ")


@pytest.mark.parametrize("where", ["cut", "last"])
def test_a_19_digit_integer_in_free_text_of_a_later_block_falls_back(tmp_path, where):
    lines = _lines()
    at = {"cut": _cut_rows(lines)[-1], "last": len(lines) - 1}[where]
    lines[at] = b"%d,1.25,12345678901234567890,w1\n" % at
    p = tmp_path / "bigint.csv"
    _write(p, lines)
    _falls_back(p, "integers beyond int64")


def test_a_line_of_blanks_among_integers_gets_pandas_answer(tmp_path):
    # a line of blanks in a file of int columns: pandas skips the line (its answer, not
    # an error, nor a row of NA)
    lines = [b"%d,%d\n" % (i, i * 3) for i in range(600_000)]
    lines.insert(400_000, b"   \n")
    p = tmp_path / "ints.csv"
    p.write_bytes(b"a,b\n" + b"".join(lines))
    assert p.stat().st_size > dropin.SMALL_INPUT
    fastetl.set_fallback("silent")
    got = fpd.read_csv(p)
    pandas.testing.assert_frame_equal(got, pandas.read_csv(p), check_exact=True)


def test_columns_grow_past_the_first_blocks_guess(tmp_path):
    # the columns are sized from the first block's rows per byte: long rows first, then
    # short ones, so the rows outgrow that guess and the columns grow (three times, here)
    long = [b"%d,%d.5,%s,w\n" % (i, i, b"x" * 400) for i in range(6_000)]
    short = [b"%d,%d.5,y,v\n" % (i, i) for i in range(400_000)]
    p = tmp_path / "grow.csv"
    _write(p, long + short)
    got = own(p)
    assert len(got) == len(long) + len(short)


def _narrow_then_wide(tmp_path):
    # short rows first, then rows 300 times as long: the first block's rows per byte
    # over-guess the rows of the whole input about 4 times
    short = [b"%d,%d.5,y,v\n" % (i, i % 1000) for i in range(300_000)]
    wide = [b"%d,%d.5,%s,w\n" % (i, i, b"x" * 5_000) for i in range(1_500)]
    p = tmp_path / "narrow-wide.csv"
    _write(p, short + wide)
    return p, len(short) + len(wide)


def _owner_bytes(column) -> int:
    """The bytes of the array that owns a frame column's numbers."""
    arr = column.to_numpy()
    while isinstance(arr.base, np.ndarray):
        arr = arr.base
    return arr.nbytes


def test_a_first_blocks_guess_far_over_is_given_back(tmp_path):
    p, rows = _narrow_then_wide(tmp_path)
    got = own(p)  # (equal to pandas')
    assert len(got) == rows
    for name in ("id", "price"):
        assert _owner_bytes(got[name]) <= 8 * rows * 1.25 + 8 * 1024, name


def test_a_guess_that_cannot_be_allocated_grows_as_the_rows_come(tmp_path, monkeypatch):
    # (the guess of 4 times the rows refused as a strict-overcommit system refuses it)
    p, rows = _narrow_then_wide(tmp_path)
    arrays = pandas_columns.ColumnWriter._arrays
    refused = []

    def strict(self, cap):
        if cap > 2 * rows:
            refused.append(cap)
            raise MemoryError(f"Unable to allocate {cap} rows")
        return arrays(self, cap)

    monkeypatch.setattr(pandas_columns.ColumnWriter, "_arrays", strict)
    got = own(p)
    assert refused and len(got) == rows


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("with_nulls", [False, True])
def test_dictionary_columns_decoded_in_pieces(monkeypatch, threads, with_nulls):
    # the values of codes, however the rows are cut among threads, against pyarrow's own
    # decoding of the same dictionary array
    import numpy as np
    import pyarrow as pa

    monkeypatch.setattr(pandas_columns, "DECODE_PIECE_ROWS", 7)
    rng = np.random.default_rng(threads)
    words = ["", "north", "é", "a much longer value", "x"]
    codes = rng.integers(0, len(words), 50).astype(np.uint16)
    nulls = rng.random(50) < 0.3 if with_nulls else None
    if nulls is not None:
        codes[nulls] = 0
    d = pa.array(words, type=pa.large_string())
    _, off, data = d.buffers()
    got = pandas_columns.codes_strings(
        np.frombuffer(off, np.int64), np.frombuffer(data, np.uint8), codes, nulls, threads
    )
    mask = nulls
    want = pa.DictionaryArray.from_arrays(
        pa.array(codes.astype(np.int32), mask=mask), d
    ).cast(pa.large_string())
    assert len(getattr(got, "chunks", [got])) == threads
    assert got.to_pylist() == want.to_pylist()


@pytest.mark.parametrize(
    "kw", [{}, {"dtype_backend": "pyarrow"}, {"dtype_backend": "numpy_nullable"},
           {"dtype": {"word": object}}, {"dtype": {"word": "string"}}],
)
def test_a_dictionary_column_of_many_rows_with_nulls(tmp_path, kw):
    # more rows than one thread decodes (pieces on every core), some of them null
    assert 600_000 >= 2 * pandas_columns.DECODE_PIECE_ROWS
    lines = [b"%d,%s\n" % (i, b"" if i % 7 == 3 else b"w%d" % (i % 5)) for i in range(600_000)]
    p = tmp_path / "words.csv"
    p.write_bytes(b"id,word\n" + b"".join(lines))
    own(p, **kw)


def _stamped(rows: int = ROWS) -> list[bytes]:
    # free text of values over 19 bytes that start with a digit: the integer check
    # looks at every block of it
    return [b"%d,%d.25,2024-01-%02d 10:00:00.%06d,w%d\n" % (i, i % 977, i % 28 + 1, i, i % 5)
            for i in range(rows)]  # fmt: skip


def test_a_column_widened_late_checks_each_block_of_text_once(tmp_path, monkeypatch):
    # the last row makes the int column a float column: the file is parsed again, and
    # the text blocks the first pass checked (found clean) are not checked again; the
    # frame is pandas'
    checked = []
    big_ints = dropin._big_ints

    def spy(offsets, data, marks=""):
        checked.append(bytes(data[offsets[0] : offsets[-1]]))
        return big_ints(offsets, data, marks)

    monkeypatch.setattr(dropin, "_big_ints", spy)
    lines = _stamped()
    lines[-1] = b"0.5,1.25,2024-01-01 10:00:00,w1\n"
    p = tmp_path / "late.csv"
    _write(p, lines)
    got = own(p)
    assert got["id"].dtype == np.float64
    assert len(checked) >= 3 and len(set(checked)) == len(checked)


def test_a_19_digit_integer_before_a_late_widening_still_falls_back(tmp_path):
    # what the first pass found among the text (a 19-digit integer in the first block)
    # stays found when the file is parsed again for a column widened near its end
    lines = _stamped()
    lines[1] = b"1,1.25,12345678901234567890,w1\n"
    lines[-1] = b"0.5,1.25,2024-01-01 10:00:00,w1\n"
    p = tmp_path / "bigint-late.csv"
    _write(p, lines)
    _falls_back(p, "integers beyond int64")


def _chunk_rows() -> int:
    """The rows of one of pandas' low_memory chunks of these 4-column files (the step
    the drop-in checks mixed types by)."""
    return max(1, dropin._buffer_lines(4) // 2)


@pytest.mark.parametrize("one_word", [False, True])
def test_a_dictionary_column_empty_over_a_chunk(tmp_path, one_word):
    # every value of the word column is surely text, so the chunks are checked by its
    # nulls alone: a chunk of nothing but NA is a float chunk to pandas (its frame and
    # DtypeWarning are pandas' to give); one word in that chunk makes it text again
    step = _chunk_rows()
    lines = _lines()
    assert len(lines) > step
    for i in range(step, len(lines)):
        lines[i] = lines[i].rsplit(b",", 1)[0] + b",\n"
    if one_word:
        lines[-1] = lines[-1][:-1] + b"w3\n"
    p = tmp_path / "words.csv"
    _write(p, lines)
    if one_word:
        got = own(p)
        assert got["word"].isna().sum() == len(lines) - step - 1
    else:
        _falls_back(p, "chunks would mix types")


def test_has_nulls_is_the_null_masks_any(tmp_path, monkeypatch):
    # Columns.has_nulls (no mask made where the read kept none; NaN found by the
    # minimum of a float column) against null_mask(...).any(), on every column of a
    # threaded read with NA in each kind of column -- and the frame is pandas'
    seen = []
    frame = dropin._frame

    def spy(plan, table, schema):
        seen.append(table)
        return frame(plan, table, schema)

    monkeypatch.setattr(dropin, "_frame", spy)
    lines = _lines()
    lines[7] = b"7,,item 7,\n"  # NA in the float and the word columns
    lines[-1] = b"0.5,1.25,,w1\n"  # the id column widened to float, NA in the note
    p = tmp_path / "nulls.csv"
    _write(p, lines)
    own(p)
    clean = _lines()
    q = tmp_path / "clean.csv"
    _write(q, clean)
    own(q)
    assert len(seen) == 2
    verdicts = []
    for table in seen:
        for name in table.array:
            verdicts.append(table.has_nulls(name))
            assert verdicts[-1] == bool(table.null_mask(name).any()), name
    assert True in verdicts and False in verdicts
