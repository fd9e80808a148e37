"""Helpers of ``fastetl.pandas.read_csv``'s quick guess on small inputs (``_quick_columns``
in :mod:`.pandas`): what it looks at in the input's bytes, at a cost that is small beside
pandas' own read of a 100 KB file (about a millisecond): one pass in C over the bytes,
then Python only where a candidate was found."""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from .. import _core
from .fallback import Unsupported

# digit -> '1'; the point and exponent marks kept ('.', 'e'); any other byte -> '0'
_DIGIT_CLASSES = bytes(
    49 if 48 <= i <= 57 else i if i in b".e" else 101 if i == 69 else 48 for i in range(256)
)
_RUN = b"1" * 19
_NOT_DIGIT = re.compile(rb"[^1]")
_POINT_OR_EXPONENT = (46, 101)  # '.', 'e' after the translation


def integer_run(data: bytes) -> bool:
    """Whether ``data`` holds a run of 19 digits or more that is not the fraction or the
    exponent of a number, nor followed by a point or an exponent: what may be an integer
    pandas types its own way (a false alarm costs only the quick guess).

    One translation and ``bytes.find`` in C; each run of 19 digits found (a float's long
    fraction, most often) is looked at on its two edges only."""
    cls = data.translate(_DIGIT_CLASSES)
    n = len(cls)
    at = cls.find(_RUN)
    while at >= 0:
        # ``at`` starts a run of digits: the search starts at 0 or just after a byte that
        # is not a digit, and finds the first 19 digits in a row past it
        end = _NOT_DIGIT.search(cls, at + 19)
        stop = end.start() if end is not None else n
        if (at == 0 or cls[at - 1] not in _POINT_OR_EXPONENT) and (
            stop == n or cls[stop] not in _POINT_OR_EXPONENT
        ):
            return True
        at = cls.find(_RUN, stop)
    return False


def head_columns(
    head: bytes, pos: int, final: bool, delimiter: int, quote: int, width: int, limit: int
) -> tuple[list[list[str]], int]:
    """The first ``limit`` rows of ``head`` from ``pos`` (up to the first blank line),
    split as the core splits them (``_core.split_row``): the values of each of the
    ``width`` columns (a short row's missing fields left out; ``[""]`` for a column no
    row reaches) and how many rows.  Unsupported where a row does not split or is
    longer than ``width``, or a field is not UTF-8."""
    # one compiled call splits the rows; with fewer than ``limit`` of them (the end of the
    # head, a blank end, a row read over for its quoting), row by row, to tell which
    rows = _core.split_rows(memoryview(head)[pos:], final, delimiter, quote, limit, limit)
    if len(rows) < limit:  # (``limit`` rows: none was read over, every one split)
        rows = _rows_one_by_one(head, pos, final, delimiter, quote, width, limit)
    elif any(len(r) > width for r in rows):
        raise Unsupported("rows the quick guess cannot split (or longer than the header)")
    if all(len(r) == width for r in rows):
        by_column: list[Any] = list(zip(*rows)) if rows else [() for _ in range(width)]
    else:
        by_column = [[r[i] for r in rows if i < len(r)] for i in range(width)]
    out = []
    for fields in by_column:
        # one decode per column (UTF-8 fails in the joined bytes where it fails in a
        # field: NUL is no part of a sequence); a NUL in a field: one per field
        try:
            values = b"\0".join(fields).decode("utf-8").split("\0")
            if len(values) != len(fields):
                values = [f.decode("utf-8") for f in fields]
        except UnicodeDecodeError:
            raise Unsupported("text that is not UTF-8 in the first rows") from None
        out.append(values or [""])
    return out, len(rows)


def _rows_one_by_one(
    head: bytes, pos: int, final: bool, delimiter: int, quote: int, width: int, limit: int
) -> list[list[bytes]]:
    """:func:`head_columns`' rows, one ``_core.split_row`` call each."""
    rows: list[list[bytes]] = []
    end = len(head)
    while len(rows) < limit and pos < end:
        status, got, nxt = _core.split_row(head, pos, end, final, delimiter, quote)
        if status == -1 and not final:
            break  # (the row goes on past the head: the rows before it are enough)
        if status != 0 or len(got) > width:
            raise Unsupported("rows the quick guess cannot split (or longer than the header)")
        if len(got) <= 1 and not any(got) and not head[pos:nxt].strip(b"\r\n"):
            break  # (the end of the input: blank lines only; split_row skips the others)
        rows.append(got)
        pos = nxt
    return rows


BIG_FLOAT = 1e18  # an integer of 19 digits (no leading zero) is at least this


def check_float_columns(data: bytes, floats: list[Any]) -> None:
    """After the read: Unsupported where a column read as float64 may hold an integer of
    19 digits or more (a value of magnitude 1e18 or more) and ``data`` holds one
    (:func:`integer_run`): pandas types such a column its own way (uint64, Python ints,
    text), which the first rows' guess does not see.  An int column is checked by the
    read itself (out of int64's range: pandas is asked, ``_widen``), a text column by
    ``_text``; so the bytes are searched only where a float column's values are large.

    The largest and smallest value by fmax/fmin (NaN left out), not a comparison of
    every value: numpy's element-wise comparison, met first here on a small file, maps
    1 MB of its code into the process (the peak RSS pandas is measured against)."""
    for values in floats:
        if not len(values):
            continue
        big = float(np.fmax.reduce(values)) >= BIG_FLOAT or (
            float(np.fmin.reduce(values)) <= -BIG_FLOAT
        )
        if big and integer_run(data):
            raise Unsupported("an integer of 19 digits or more in a column of floats")


_ISO_DATES = re.compile(r"(?:[0-9]{4}-[0-9]{2}-[0-9]{2}\n)+")


def iso_dates(values: list[str]) -> bool:
    """Whether ``values`` (a parse_dates column's first values, less NA) are all dates
    written YYYY-MM-DD, and there is one: pandas then infers that format from the first
    and reads the column as datetime64[us]; the core's date type reads only such
    dates, so the read checks every later value (a value it refuses: Unsupported)."""
    return bool(values) and _ISO_DATES.fullmatch("\n".join(values) + "\n") is not None
