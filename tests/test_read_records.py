"""api.read_records / pipeline.read_plain_file: a plain file parsed by all threads
straight into one array, piece by piece.

The values are checked against Python's own reading of the same text (``float()``
and ``int()`` of each field, lines split as the dialect says), at many piece sizes
and thread counts, so rows cut at every place by the pieces, CRLF and lone CR line
ends, blank and comment lines (rows fewer than lines: the gaps closed), skipped rows
and a last line without a line break all meet a piece boundary somewhere.  Bad rows
report the line they are on (known from how the file was made), the first in input
order whatever thread met it; ``inspect`` sees every byte once.  The drop-in
(``fastetl.loadtxt``) is compared with numpy.loadtxt on files big enough to be read
in several pieces, with what its checks must send elsewhere in a late piece.
"""

from __future__ import annotations

import gzip
import os

import numpy as np
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

import fastetl
from fastetl import pipeline
from fastetl.api import read_records
from fastetl.dropin.numpy import ORIGINAL_LOADTXT
from fastetl.errors import ParseError
from fastetl.schema import Column, Dialect, Schema

EXAMPLES = 60 * int(os.environ.get("FASTETL_FUZZ", "1"))


def _schema(ncols: int, delim: str = ",", comment: str | None = None, skip: int = 0,
            kind: str = "float64", **more) -> Schema:
    dialect = Dialect(delimiter=delim, quote=None, header=False, null_values=(),
                      comment=comment, skip_rows=skip, **more)
    return Schema(columns=[Column(name=f"f{i}", type=kind) for i in range(ncols)],
                  dialect=dialect)


def _reference(text: str, delim: str, comment: str | None, skip: int, conv=float) -> list:
    """The rows as Python reads them: universal line ends, ``skip`` lines dropped,
    comments cut, blank lines left out, each field through ``conv``."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if text.endswith(("\n", "\r")):
        lines.pop()
    rows = []
    for line in lines[skip:]:
        if comment is not None:
            line = line.split(comment, 1)[0]
        if not line:
            continue
        rows.append([conv(f) for f in line.split(delim)])
    return rows


def _values(rec: np.ndarray, ncols: int) -> list:
    return [[row[f"f{i}"].item() for i in range(ncols)] for row in rec]


def _write(tmp_path, text: str | bytes, name: str = "data.csv") -> str:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return str(path)


_FLOATS = st.floats(allow_nan=False, allow_infinity=False)


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    data=st.data(),
    ncols=st.integers(1, 4),
    rows=st.integers(0, 40),
    piece=st.integers(1, 200),
    workers=st.integers(1, 3),
    skip=st.integers(0, 3),
    end=st.sampled_from(["\n", "\r\n", "\r"]),
    comment=st.sampled_from([None, "#"]),
    last_break=st.booleans(),
)
def test_values_as_python_reads_them(
    tmp_path_factory, data, ncols, rows, piece, workers, skip, end, comment, last_break
):
    spell = data.draw(st.sampled_from(["{!r}", "{:.18e}", "{:g}"]))
    lines = [f"skipped {k}" for k in range(skip)]
    for _ in range(rows):
        extra = data.draw(st.sampled_from(["", "", "", "blank", "comment"]))
        if extra == "blank":
            lines.append("")
        elif extra == "comment" and comment:
            lines.append("# a comment line, 1,2,3")
        values = data.draw(st.lists(_FLOATS, min_size=ncols, max_size=ncols))
        line = ",".join(spell.format(v) for v in values)
        if comment and data.draw(st.booleans()):
            line += "#trailing words"
        lines.append(line)
    text = end.join(lines) + (end if last_break and lines else "")
    note(repr(text))
    path = _write(tmp_path_factory.mktemp("plain"), text)
    sch = _schema(ncols, comment=comment, skip=skip)
    got = pipeline.read_plain_file(path, sch, workers, piece=piece)
    want = _reference(text, ",", comment, skip)
    assert got is not None
    assert got.dtype == sch.dtype()
    assert _values(got, ncols) == want


@pytest.mark.parametrize("piece", [1, 3, 17, 64, 1000, None])
@pytest.mark.parametrize("workers", [1, 2, 4])
def test_integers_and_skipped_columns(tmp_path, piece, workers):
    rng = np.random.default_rng(7)
    vals = rng.integers(-(2**62), 2**62, size=(300, 3))
    text = "".join(f"{a} {b} {c}\n" for a, b, c in vals.tolist())
    path = _write(tmp_path, text)
    cols = [Column(name="f0", type="int64"), Column(name="f1", type="skip"),
            Column(name="f2", type="int64")]
    sch = Schema(columns=cols, dialect=Dialect(delimiter=" ", quote=None, header=False,
                                               null_values=(), skip_initial_space=True))
    got = pipeline.read_plain_file(path, sch, workers, piece=piece)
    want = [[int(r[0]), int(r[2])] for r in (line.split() for line in text.splitlines())]
    assert [[int(x), int(y)] for x, y in zip(got["f0"], got["f2"])] == want


@pytest.mark.parametrize("piece", [5, 40, 333, None])
@pytest.mark.parametrize("workers", [1, 2, 3])
def test_the_first_bad_row_in_input_order(tmp_path, piece, workers):
    lines = [f"{k}.5,{k}e3" for k in range(200)]
    lines[120] = "1.0,abc"  # line 121
    lines[150] = "2.0"  # line 151: a later piece may meet it first
    path = _write(tmp_path, "\n".join(lines) + "\n")
    with pytest.raises(ParseError) as e:
        pipeline.read_plain_file(path, _schema(2), workers, piece=piece)
    assert e.value.line == 121
    assert e.value.value == "abc"
    assert e.value.row == 120  # rows before it (0-based: the 121st)


def test_a_row_longer_than_the_slack(tmp_path, monkeypatch):
    monkeypatch.setattr(pipeline, "_PIECE_SLACK", 4)
    long_row = ",".join(["1.25"] * 400)
    text = "\n".join([long_row, "2.5," * 399 + "3", long_row]) + "\n"
    path = _write(tmp_path, text)
    got = pipeline.read_plain_file(path, _schema(400), 2, piece=10)
    assert _values(got, 400) == _reference(text, ",", None, 0)


def test_inspect_sees_every_byte_once_and_may_stop_the_read(tmp_path):
    text = "".join(f"{k},{k}\n" for k in range(500))
    path = _write(tmp_path, "1 skipped line\n" + text)
    seen = []

    def inspect(data, start, end):
        seen.append(bytes(data[start:end]))

    with open(path, "rb") as fh:
        whole = fh.read()
    for workers in (1, 3):
        seen.clear()
        got = pipeline.read_plain_file(path, _schema(2, skip=1), workers, inspect, piece=50)
        assert len(got) == 500
        pieces = sorted((p for p in seen if p), key=whole.find)  # (each holds unique lines)
        assert b"".join(pieces) == whole

    class Stop(Exception):
        pass

    def refuse(data, start, end):
        if b"250," in bytes(data[start:end]) or b"400," in bytes(data[start:end]):
            raise Stop(bytes(data[start:end]))

    with pytest.raises(Stop) as e:
        pipeline.read_plain_file(path, _schema(2, skip=1), 3, refuse, piece=50)
    assert b"250," in e.value.args[0]  # the earlier of the two pieces


def test_not_for_this_path(tmp_path):
    path = _write(tmp_path, "1,2\n3,4\n")
    assert read_records(path, _schema(2)) is not None
    quoted = Schema(columns=_schema(2).columns, dialect=Dialect(quote='"', header=False))
    assert read_records(path, quoted) is None  # quotes: read_csv
    gz = tmp_path / "data.csv.gz"
    gz.write_bytes(gzip.compress(b"1,2\n3,4\n"))
    assert read_records(str(gz), _schema(2)) is None  # compressed: read_csv


def test_many_blank_lines_go_to_the_usual_path(tmp_path):
    # more lines than the rows the file can hold at one byte per field: not reserved for
    text = "1,2,3,4\n" + "\n" * 5000 + "5,6,7,8\n"
    path = _write(tmp_path, text)
    got = read_records(path, _schema(4))
    assert got is None or _values(got, 4) == _reference(text, ",", None, 0)


@pytest.mark.parametrize("delimiter", [",", None])
@pytest.mark.parametrize(
    "late",
    [
        "",  # nothing odd: fastetl's own path
        "5.0,6.0,7.0\n  # blanks then a comment: numpy reads a row\n",
        "5.0,6.0\t7.0\n",  # a tab (runs of whitespace: numpy splits on it)
        "# caf\xe9 in a comment\n",
        "1.0,2.0,3.0 \n",
    ],
)
def test_dropin_on_a_file_of_many_pieces(tmp_path, delimiter, late):
    rng = np.random.default_rng(3)
    sep = "," if delimiter else " "
    a = rng.standard_normal((12000, 3))
    body = "".join(sep.join(f"{v:.18e}" for v in row) + "\n" for row in a)
    text = body + late.replace(",", sep) + "9.0,8.0,7.0\n".replace(",", sep)
    path = _write(tmp_path, text.encode("latin-1"))
    assert os.path.getsize(path) > 8 * (64 << 10)  # (several pieces)
    try:
        want = ORIGINAL_LOADTXT(path, delimiter=delimiter, encoding="latin-1")
    except ValueError as e:
        with pytest.raises(type(e)):
            fastetl.loadtxt(path, delimiter=delimiter, encoding="latin-1")
        return
    fastetl.set_fallback("error" if not late else "silent")  # (nothing odd: the own path)
    try:
        got = fastetl.loadtxt(path, delimiter=delimiter, encoding="latin-1")
    finally:
        fastetl.set_fallback(None)
    assert got.dtype == want.dtype and got.shape == want.shape
    assert got.tobytes() == want.tobytes()


def test_without_a_reservation_the_dropin_reads_as_before(tmp_path, monkeypatch):
    # where no address space can be reserved (Windows), read_records says None and the
    # drop-in checks the file whole, then reads it with read_csv: the same answer
    from fastetl import memory

    monkeypatch.setattr(memory, "ENABLED", False)
    path = _write(tmp_path, "# head\n1.5,2.5\n\n3.5,4.5 # tail\n")
    assert read_records(path, _schema(2, comment="#")) is None
    fastetl.set_fallback("error")
    try:
        got = fastetl.loadtxt(path, delimiter=",")
    finally:
        fastetl.set_fallback(None)
    want = ORIGINAL_LOADTXT(path, delimiter=",")
    assert got.dtype == want.dtype and got.tobytes() == want.tobytes()
