"""Reader -> splitter -> parser -> writer: drives the core over a whole input.

The input arrives as one buffer (bytes) or as a stream of chunks (files, read
window by window as a snapshot of their size at open; stdin, pipes, compressed
files).  Either way the core is handed ranges
of bytes and reports how many whole rows it turned into records; the rest of a
range (a row cut by the block end) is handed again with the next bytes.  Rows
are written in input order into the writer's windows.

Errors from the core come back as a status and a byte position; this module
turns them into :class:`~fastetl.errors.ParseError` with the physical line
number, the column name and the offending text.
"""

from __future__ import annotations

import mmap
import os
import re
import threading
import weakref
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import chain
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from . import _core, memory
from .errors import ParseError
from .layout import learned_categories, make_parser, syntax_word
from .schema import Binding, Schema, has_rules, is_utf8
from .sources import (
    InputError,
    Source,
    check_encoding_prefix,
    compression_of,
    open_source,
    pread_into,
)

if TYPE_CHECKING:
    from .rules.evaluate import Checker

DEFAULT_BLOCK_SIZE = 2 << 20  # per block: 2 MiB kept 2 workers near 72 MiB peak RSS (4 MiB: ~103)
# A row longer than this is never held whole: under raise it is refused; under skip and
# reject it is one bad row, walked to its end piece by piece (and, to reject it, written out
# piece by piece).  Small enough that the bytes a long row costs (the carried row, its copy
# while more is read, a rejected row's copies: about 4 x this) keep within MEMORY_BOUND.
MAX_ROW_BYTES = 16 << 20
# Most bytes of records one block's buffer holds: a block whose rows need more is parsed
# in pieces (the committer parses the rest).  8 MiB holds a 2 MiB block of 8-byte records
# of 2-byte rows ("1\n"): narrow rows seldom need a second piece.
RECORD_BUFFER_BYTES = 8 << 20
BAD_ROWS_PER_BLOCK = 4096  # bad rows one parse of a block describes before it stops
# Input blocks and their records in flight at once, at most (about): with many workers,
# fewer blocks than 2 per worker are in flight when their records are big.
IN_FLIGHT_BYTES = 80 << 20
MEMORY_BOUND = 200 << 20  # what one conversion holds in all, with the default options
_PIECE = 1 << 20  # a long row is walked (and rejected) this many bytes at a time
_TEXT_ROUND = 1 << 20  # a block's text buffer: a multiple of this many bytes (see _take_text)
ON_ERROR = ("raise", "skip", "reject")
BAD_ROWS_PER_CALL = 256  # bad rows the core may describe before handing back control
_S = _core.STATUS
_W = _core.BAD_ROW_WIDTH
_NEED_MORE = -1
_VALUE_DISPLAY = 200
_NO_BAD = np.zeros((0, _W), np.int64)


class Writer(Protocol):
    rows: int
    itemsize: int
    # appending records is a system call that copies them (a file): worth doing while a
    # worker thread parses the next block, even with one worker
    pipelined: bool

    @property
    def window_rows(self) -> int: ...

    def window(self, nrows: int, exact: bool = True) -> Any: ...

    def advance(self, nrows: int) -> None: ...

    def append(self, records: np.ndarray) -> None: ...

    def add_text(self, records: np.ndarray, text: bytes) -> None:
        """(Only with text columns.)  Put the text the core kept for ``records`` after the
        text before it, and move their text offsets (counted from the start of ``text``)
        to match, before the records are appended or advanced over.  ``text`` stays valid
        until that append or advance returns, and not after: a writer that keeps it longer
        copies it."""

    # Optional, for the threaded path: ``prepare(records, text, data, start, end, base)``
    # is called on the worker thread that parsed ``data[start:end]`` (input offset
    # ``base + start``) into ``records`` (their category codes still the parser's own:
    # the committer may change them) and ``text``; what it returns is handed, in input
    # order, to ``append_prepared(records, prepared)`` in place of add_text and append
    # (the same records, their codes global) -- unless the block's rows were parsed
    # again or filtered: then add_text and append, as for a writer without prepare.


class BadRowSink(Protocol):
    """Where rejected rows go (see :class:`fastetl.store.RejectsWriter`)."""

    def start(self, header: bytes | None) -> None: ...

    def add(self, raw: bytes, error: ParseError, offset: int) -> None: ...

    def add_pieces(self, pieces: Any, error: Callable[[], ParseError], offset: int) -> None:
        """A row too long to hold: its bytes as an iterable of pieces, written as they come;
        ``error()`` says what is wrong once they have all come."""


@dataclass
class Mark:
    """A point of a run where everything before ``offset`` is accounted for.

    Rows before ``offset`` are written (``rows``) or were bad (``bad``), and the
    learned category dictionaries are ``categories``.  A run can resume from it.
    """

    offset: int  # input offset (of the decoded input) where the next row starts
    lines: int  # line breaks in the input before offset
    rows: int  # records written
    bad: int  # bad rows skipped or rejected
    categories: dict[str, list[str]]
    rule_counts: dict[str, int] = field(default_factory=dict)  # rows per rule broken


class Checkpointer(Protocol):
    """Told about consistent points of a run; saves one now and then."""

    def due(self) -> bool: ...

    def save(self, mark: Mark) -> None: ...


@dataclass
class RunResult:
    """What a run produced, besides the records."""

    rows: int = 0  # records written
    rows_bad: int = 0  # rows skipped or rejected under the error policy
    bytes_in: int = 0
    header: list[str] | None = None
    header_raw: bytes | None = None  # the header line as it is in the input
    binding: Binding | None = None
    categories: dict[str, list[str]] = field(default_factory=dict)
    rule_violations: dict[str, int] = field(default_factory=dict)  # rows per rule broken

    @property
    def rows_read(self) -> int:
        return self.rows + self.rows_bad


class _Position:
    """Where the bytes handed to the core sit in the whole input."""

    def __init__(self, data: Any, lines_before: int = 0, base: int = 0) -> None:
        self.data = data  # the buffer the core reads
        self.lines_before = lines_before  # line breaks in the input before data[0]
        self.base = base  # offset in the input of data[0]
        self._at = 0  # line breaks before data[_at] are known: _lines
        self._lines = lines_before

    def know(self, offset: int, lines: int) -> None:
        """There are ``lines`` line breaks in the input before ``data[offset]``."""
        self._at, self._lines = offset, lines

    def lines_to(self, offset: int) -> int:
        """Line breaks in the input before ``data[offset]`` (counted on from the last ask)."""
        if offset < self._at:
            self._at, self._lines = 0, self.lines_before
        self._lines += _core.count_lines(self.data, self._at, offset)
        self._at = offset
        return self._lines

    def line_of(self, offset: int) -> int:
        return self.lines_to(offset) + 1

    def offset_of(self, offset: int) -> int:
        return self.base + offset


class _BadRows:
    """What the error policy does with bad rows: count them, and hand them to the sink."""

    def __init__(
        self,
        on_error: str,
        sink: BadRowSink | None,
        binding: Binding,
        rows0: int = 0,
        count: int = 0,
        watch: Callable[[ParseError], None] | None = None,
    ) -> None:
        if on_error not in ON_ERROR:
            raise ValueError(f"on_error must be one of {', '.join(ON_ERROR)}, got {on_error!r}")
        self.lenient = on_error != "raise"
        self.sink = sink if on_error == "reject" else None
        self.watch = watch  # sees every bad row's error first; may raise to stop the run
        self.binding = binding
        self.rows0 = rows0  # records in the writer that are not from this input
        self.count = count
        # _settled_rows' per-field arrays, for the settled sets' sizes they were made for
        self._settled_key: tuple[int, int] | None = None
        self._settled_by_field: tuple[np.ndarray, np.ndarray] | None = None

    def buffer(self) -> np.ndarray | None:
        """Room for the core to describe bad rows in (None: stop at the first)."""
        return np.empty(BAD_ROWS_PER_CALL * _W, np.int64) if self.lenient else None

    def take(self, pos: _Position, bad: np.ndarray, rows_read: int) -> None:
        """Bad rows (one per line of ``bad``) found after ``rows_read`` rows were read."""
        settled = getattr(self.watch, "settled", None)
        if settled is None:
            for i, b in enumerate(bad.tolist()):
                self.take_one(pos, b, rows_read + b[8] + i)
            return
        at = 0
        while at < len(bad):  # (again from the row after each widening: more is settled)
            widened, to_float = settled()
            state = (len(widened), len(to_float))
            drop = self._settled_rows(bad[at:], widened, to_float)
            for j in np.flatnonzero(~drop).tolist():
                b = bad[at + j].tolist()
                self.take_one(pos, b, rows_read + b[8] + at + j)
                if (len(widened), len(to_float)) != state:
                    self.count += int(np.count_nonzero(drop[:j]))
                    at += j + 1
                    break
            else:
                self.count += int(np.count_nonzero(drop))  # (bad rows too: not described)
                return

    def _settled_rows(self, bad: np.ndarray, widened: set[str], to_float: set[str]) -> np.ndarray:
        """Which rows of ``bad`` are a bad value of a column the watcher widened in this
        pass (see ``Watcher.settled``): they are counted, not described nor rejected (the
        pass is not kept); but the values of 16 bytes and more of a column made float64."""
        if not widened:
            return np.zeros(len(bad), bool)
        fields = self.binding.fields
        # (the watcher's sets only grow in a pass: their sizes say when to make them again)
        if self._settled_key != (len(widened), len(to_float)):
            names = [f.source_name if f is not None else None for f in fields]
            self._settled_by_field = (
                np.array([n in widened for n in names] + [False]),
                np.array([n not in to_float for n in names] + [False]),
            )
            self._settled_key = (len(widened), len(to_float))
        assert self._settled_by_field is not None
        quiet, any_length = self._settled_by_field
        fld = np.where((bad[:, 3] >= 0) & (bad[:, 3] < len(fields)), bad[:, 3], len(fields))
        return quiet[fld] & (any_length[fld] | (bad[:, 5] < 16)) & _IS_VALUE_STATUS[bad[:, 2]]

    def take_one(self, pos: _Position, b: list[int], row_index: int) -> None:
        """One bad row as the core describes it (a line of the bad-rows array)."""
        res = (b[2], 0, 0, b[0], b[3], b[4], b[5], bool(b[6]), b[7])
        err = _parse_error(res, pos, self.binding, row_index)
        if self.watch is not None:
            self.watch(err)
        if self.sink is not None:
            self.sink.add(bytes(pos.data[b[0] : b[1]]), err, pos.offset_of(b[0]))
        self.count += 1

    def take_rule(self, raw: bytes, err: ParseError, offset: int) -> None:
        """A row that parsed but breaks a rule (see :mod:`fastetl.rules`): left out."""
        if self.sink is not None:
            self.sink.add(raw, err, offset)
        self.count += 1

    def take_pieces(self, pieces: Any, error: Callable[[], ParseError], offset: int) -> None:
        """One bad row too long to hold: ``pieces`` yields its bytes (it is read to its end
        whatever the policy); ``error`` says what is wrong once it has."""
        if self.sink is not None:
            self.sink.add_pieces(pieces, error, offset)
        else:
            for _ in pieces:
                pass
        self.count += 1


# the statuses of a value that does not fit its column (not of a row's shape: too many
# fields, a quote never closed...), indexed by status
_IS_VALUE_STATUS = np.zeros(max(_S.values()) + 1, bool)
_IS_VALUE_STATUS[[v for v in _S.values() if 10 <= v < 30]] = True


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", errors="backslashreplace")


def _describe(col: Any) -> str:
    """How a message names a column's type."""
    if col is None:
        return "bool"
    if col.type == "date" and col.format not in (None, "iso"):
        return f"date in the format {col.format}"
    if col.type == "datetime" and col.format not in (None, "iso"):
        return f"datetime in the format {col.format}"
    if col.type == "decimal":
        return f"decimal({col.scale})"
    return str(col.type)


def _reason(status: int, col: Any, bit_names: list[str]) -> str:
    t = _describe(col)
    if status == _S["INVALID"]:
        return f"is not a valid {t}"
    if status == _S["RANGE"]:
        return f"is out of range for {t}"
    if status == _S["EMPTY"]:
        return "is empty and the column is not nullable"  # (or a null token, shown as value)
    if status == _S["TOO_LONG"]:
        return (
            f"is longer than the column's width of {col.width} bytes "
            '(widen it, or set "truncate": true)'
        )
    if status == _S["BAD_UTF8"]:
        return "is not valid UTF-8"
    if status == _S["NOT_IN_CATEGORY"]:
        return "is not one of the category's values"
    if status == _S["CATEGORY_FULL"]:
        return (
            f"would be value number {col.category_limit + 1} of the category, "
            f"over its max_values of {col.category_limit}"
        )
    if status == _S["EXTRA_DIGITS"]:
        return f'has more than {col.scale} decimal places (set "round": true to round)'
    if status == _S["TOO_PRECISE"]:
        return f"is more precise than the column's unit ({col.datetime_unit})"
    if status == _S["BAD_DATE"]:
        return f"is not a valid {t} (no such date or time)"
    if status == _S["TRAILING_NUL"]:
        return "ends with a NUL byte, which a numpy bytes (S) column cannot keep"
    if status == _S["CATEGORY_VALUE_TOO_LONG"]:
        return (
            f"is longer than {_core.MAX_CATEGORY_VALUE:,} bytes, the most a learned "
            "category value may be (make the column a str)"
        )
    if status == _S["FLAG_BOOL"]:
        return f"is not a valid bool (for flag bit {', '.join(bit_names)})"
    if status == _S["MISSING"]:
        return 'is missing: the row is short, and ragged="fill" fills only nullable columns'
    return f"could not be converted (status {status})"  # pragma: no cover


def _parse_error(res: tuple, pos: _Position, binding: Binding, row_index: int) -> ParseError:
    status, _rows, _consumed, row_start, fld, fstart, flen, quoted, nfound = res[:9]
    data = pos.data
    trailing = binding.schema.dialect.trailing_delimiter
    if status == _S["TRAILING_TEXT"]:
        text = _decode(bytes(data[fstart : fstart + min(flen, _VALUE_DISPLAY)]))
        return ParseError(
            f"unexpected text {text!r} after the trailing delimiter "
            f"(expected {binding.nfields} fields, then an empty one)",
            line=pos.line_of(row_start),
            offset=pos.offset_of(row_start),
            row=row_index,
        )
    if status in (_S["TOO_MANY_FIELDS"], _S["TOO_FEW_FIELDS"]):
        expected, found = f"{binding.nfields} fields", f"{nfound}"
        if trailing:  # (the core counts the empty field after the trailing delimiter)
            expected += " and a trailing delimiter"
            if nfound == binding.nfields:
                found += " and no trailing delimiter"
            elif nfound > binding.nfields:
                found = f"{nfound - 1} and a trailing delimiter"
        return ParseError(
            f"expected {expected}, found {found}",
            line=pos.line_of(row_start),
            offset=pos.offset_of(row_start),
            row=row_index,
        )
    if status == _S["UNTERMINATED"]:
        return ParseError(
            "a quoted field starts here and is never closed",
            line=pos.line_of(fstart - 1),
            offset=pos.offset_of(fstart - 1),
            row=row_index,
        )
    if status == _S["AFTER_QUOTE"]:
        bad = fstart + flen  # the byte after the closing quote
        return ParseError(
            f"unexpected {_decode(bytes(data[bad : bad + 1]))!r} after a closing quote "
            "(a quote inside a quoted field must be doubled)",
            line=pos.line_of(fstart - 1),
            offset=pos.offset_of(fstart - 1),
            row=row_index,
        )
    bound = binding.fields[fld]
    assert bound is not None
    shown = min(flen, 4 * _VALUE_DISPLAY + 8)  # copy what is shown, not a huge field
    raw = bytes(data[fstart : fstart + shown])
    d = binding.schema.dialect
    if d.escape is not None:  # the value, not its spelling: \, is a comma (one pass, as the core)
        pat = re.escape(d.escape.encode()) + b"(.)"
        if quoted and d.quote:
            q = re.escape(d.quote.encode())
            pat += b"|(" + q + b")" + q
        pattern = re.compile(pat, re.S)
        raw = pattern.sub(lambda m: m.group(1) or m.group(2), raw)
    elif quoted and d.quote:
        q = d.quote.encode()
        raw = raw.replace(q + q, q)
    text = _decode(raw)
    whole = None  # the value's length in bytes, when only its start is kept
    if len(text) > _VALUE_DISPLAY or shown < flen:
        text, whole = text[:_VALUE_DISPLAY], (len(raw) if shown == flen else flen)
    bits = [b.name for _, _, b in bound.flag_bits]
    field_at = fstart - 1 if quoted else fstart  # a quoted field starts at its quote
    return ParseError(
        _reason(status, bound.column, bits),
        line=pos.line_of(field_at),
        column=bound.source_name,
        value=text,
        offset=pos.offset_of(field_at),
        row=row_index,
        value_bytes=whole,
    )


def _parse_range(
    parser: _core.Parser,
    pos: _Position,
    start: int,
    end: int,
    final: bool,
    writer: Writer,
    bad: _BadRows,
) -> int:
    """Parse the whole rows of data[start:end] into the writer; returns where to go on."""
    room = bad.buffer()
    text = bool(bad.binding.schema.text_names)
    while True:
        win = writer.window(writer.window_rows, exact=False)
        wrows = len(win) // writer.itemsize
        read = writer.rows - bad.rows0 + bad.count
        res = parser.parse(pos.data, start, end, final, win, 0, wrows, room)
        status, rows, consumed, nbad = res[0], res[1], res[2], res[9]
        if text:
            recs = np.frombuffer(win, bad.binding.schema.dtype(), rows)
            if hasattr(writer, "text_into"):  # straight to its place: one copy
                at, n = writer.text_len, -parser.take_text_into(_EMPTY)
                parser.take_text_into(writer.text_into(n))
                writer.text_placed(recs, at, n)
            else:
                writer.add_text(recs, parser.take_text())
        writer.advance(rows)
        start = consumed
        if status != _S["OK"]:
            raise _parse_error(res, pos, bad.binding, read + rows)
        if nbad:
            assert room is not None
            bad.take(pos, room[: nbad * _W].reshape(nbad, _W), read)
        if rows < wrows and nbad < BAD_ROWS_PER_CALL:
            return start


def _header_error(status: int, pos: _Position, at: int) -> ParseError:
    what = (
        "a quoted field in the header is never closed"
        if status == _S["UNTERMINATED"]
        else "unexpected text after a closing quote in the header"
    )
    return ParseError(what, line=pos.line_of(at), offset=pos.offset_of(at), row=None)


def _bind(
    result: RunResult, schema: Schema, header_fields: list[bytes] | None, line: int = 1
) -> Binding:
    """Bind the schema to the header (or to column order), recording both in ``result``.
    ``line`` is the header's line in the input."""
    names = None
    if schema.dialect.trailing_delimiter and header_fields and len(header_fields) > 1:
        if header_fields[-1] == b"":  # the header ends with the delimiter too
            header_fields = header_fields[:-1]
    if header_fields is not None:
        names = []
        for i, f in enumerate(header_fields):
            try:
                names.append(f.decode("utf-8"))
            except UnicodeDecodeError:
                text = _decode(f[: 4 * _VALUE_DISPLAY])
                cut = len(text) > _VALUE_DISPLAY or len(f) > 4 * _VALUE_DISPLAY
                raise ParseError(
                    f"is not valid UTF-8 (header field {i + 1})",
                    line=line,
                    value=text[:_VALUE_DISPLAY],
                    value_bytes=len(f) if cut else None,
                ) from None
    result.header = names
    result.binding = schema.bind(names)
    return result.binding


def _header_start(data: Any, start: int, end: int, final: bool, delim: int, quote: int) -> int:
    """Where the header itself starts: after the blank (and comment) lines before it."""
    return int(_core.next_row_start(data, start, start, end, final, delim, quote)[1])


def _core_dialect(d: Any) -> tuple[int, int]:
    """(delimiter, quote) as the core takes them: the delimiter as a syntax word (with the
    escape, comment and quoting options, layout.syntax_word); quote -1 means no quoting."""
    return syntax_word(d), ord(d.quote) if d.quote else -1


def _plain(d: Any) -> bool:
    """The dialect splits rows with delimiter and quote only (what _RowWalker knows)."""
    return syntax_word(d) < 256


def _skip_lines(data: Any, start: int, count: int, final: bool) -> int:
    """Just after ``count`` line breaks from ``start`` (skip_rows); -1 when the data
    ends first and is not ``final`` (more is to be read to know)."""
    n = len(data)
    for _ in range(count):
        if start >= n:
            return start if final else -1
        nxt = _core.line_start_after(data, start)
        if nxt >= n and not final and data[n - 1] not in (_LF,):
            return -1  # no line break yet, or a CR that may be the first half of CRLF
        start = nxt
    return start


def _done(
    result: RunResult, writer: Writer, bad: _BadRows, categories: dict[str, list[str]]
) -> RunResult:
    result.rows = writer.rows - bad.rows0
    result.rows_bad = bad.count
    result.categories = categories
    return result


def run(
    source: Source,
    schema: Schema,
    writer: Writer,
    block_size: int | None = None,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
    *,
    on_error: str = "raise",
    rejects: BadRowSink | None = None,
    checkpoint: Checkpointer | None = None,
    resume: Mark | None = None,
    categories: dict[str, list[str]] | None = None,
    watch: Callable[[ParseError], None] | None = None,
    existing: np.ndarray | None = None,
) -> RunResult:
    """Convert the whole input into records in ``writer``, with ``workers`` threads.

    ``progress`` is called now and then with the input bytes handled so far.
    ``on_error`` is the policy for bad rows: ``"raise"`` stops at the first with
    its :class:`ParseError`; ``"skip"`` counts them; ``"reject"`` also hands each,
    as its raw bytes and its error, to ``rejects``.  ``checkpoint`` is offered a
    :class:`Mark` at every consistent point; ``resume`` starts from one (the
    writer must already hold ``resume.rows`` records).  ``categories`` starts the
    learned dictionaries with these values (appending to an output).  ``watch``, under
    a lenient policy, is shown each bad row's error, in input order, before the policy
    takes the row; it may raise to stop the run (a column to widen).
    The schema's rules (:mod:`fastetl.rules`) are checked on every block: a row that
    breaks one is a bad row; ``existing`` (appending) holds the records already in the
    output, whose values count for ``unique``.
    """
    block = int(block_size or DEFAULT_BLOCK_SIZE)
    if block < 1:
        raise ValueError("block_size must be at least 1 byte")
    if workers < 1:
        raise ValueError("workers must be at least 1")
    if on_error == "reject" and rejects is None:
        raise ValueError('on_error="reject" needs somewhere to put the rejected rows')
    if resume is not None and resume.rows != writer.rows:
        raise ValueError("the writer does not hold the rows of the mark to resume from")
    job = _Job(
        schema,
        writer,
        block,
        workers,
        progress or _no_progress,
        on_error,
        rejects,
        checkpoint,
        resume,
        resume.categories if resume is not None else categories,
        watch,
        existing,
    )
    # (a buffer's or a file's snapshot's size is all of the input; a stream's is not known)
    snap = source.snapshot if source.stream is None else None
    total = len(source.buffer) if source.is_buffer else (snap.size if snap is not None else 0)
    if total and hasattr(writer, "input_read"):
        progress_to = job.tick

        def tick_sized(done: int) -> None:
            writer.input_read(done, total)
            progress_to(done)

        job.tick = tick_sized
    try:
        if source.is_buffer:
            report = job.tick

            def tick(done: int) -> None:  # also hand parsed input back to the OS
                source.release(done)
                report(done)

            job.tick = tick
            result = _run_buffer(source, job)
        else:
            result = _run_stream(source, job)
    finally:
        if job.checker is not None:
            job.checker.close()
    if job.checker is not None:
        result.rule_violations = dict(job.checker.counts)
        _check_tolerance(job.checker, result)
    return result


def _check_tolerance(checker: Checker, result: RunResult) -> None:
    """A rule with a tolerance fails the run when more of the rows read break it."""
    for r in checker.tolerant:
        n = checker.counts[r.name]
        assert r.tolerance is not None
        if n > r.tolerance * result.rows_read:
            share = n / max(1, result.rows_read)
            raise ParseError(
                f'rule "{r.name}" is broken by {n:,} of {result.rows_read:,} rows read '
                f"({share:.2%}), more than its tolerance of {r.tolerance:.2%}"
            )


@dataclass
class _Job:
    """The settings of one run."""

    schema: Schema
    writer: Writer
    block: int
    workers: int
    tick: Callable[[int], None]
    on_error: str
    rejects: BadRowSink | None
    checkpoint: Checkpointer | None
    resume: Mark | None
    categories: dict[str, list[str]] | None  # learned dictionaries start with these
    watch: Callable[[ParseError], None] | None = None
    existing: np.ndarray | None = None  # records already in the output (appending)
    checker: Checker | None = None  # the rules' (made by the committer)

    def bad_rows(self, result: RunResult) -> _BadRows:
        assert result.binding is not None
        if self.on_error == "reject" and self.rejects is not None:
            self.rejects.start(result.header_raw)
        if self.resume is not None:
            return _BadRows(
                self.on_error, self.rejects, result.binding, 0, self.resume.bad, self.watch
            )
        # rows already in the writer (appending) are not rows of this input
        return _BadRows(
            self.on_error, self.rejects, result.binding, self.writer.rows, watch=self.watch
        )

    def seed(self) -> dict[str, list[str]] | None:
        return self.categories

    @property
    def threaded(self) -> bool:
        """Parse on worker threads (the calling thread commits and writes), rather than
        straight into the writer's window on the calling thread."""
        return self.workers > 1 or self.writer.pipelined or has_rules(self.schema)

    def mark(
        self, offset: int, lines: Callable[[], int], bad: _BadRows, cats: Callable[[], dict]
    ) -> None:
        """Offer the checkpointer this consistent point, if it wants one now.

        Lines are counted at every point (once over the input in all), while the
        bytes are still in memory: counting them only when a checkpoint is due
        would read again input pages already handed back to the OS."""
        if self.checkpoint is not None:
            n = lines()
            if self.checkpoint.due():
                counts = dict(self.checker.counts) if self.checker is not None else {}
                mark = Mark(offset, n, self.writer.rows, bad.count, cats(), counts)
                self.checkpoint.save(mark)


def _no_progress(done: int) -> None:
    pass


def estimate_rows(source: Source, sample: int = 1 << 20) -> int:
    """About how many rows the input holds (from the line density of its start)."""
    if not source.is_buffer:
        return 1024
    n = len(source.buffer)
    head = min(n, sample)
    data = source.buffer[:head] if source.snapshot is not None else source.buffer
    lines = _core.count_lines(data, 0, head)
    if head == n:
        return lines + 1
    return int(n * (lines + 1) / head * 1.05) + 16


def _dictionaries(parser: _core.Parser, binding: Binding) -> dict[str, list[str]]:
    out = {}
    for i, bound in enumerate(binding.fields):
        if bound is not None and bound.column is not None and bound.column.type == "category":
            out[bound.column.name] = [v.decode("utf-8") for v in parser.categories(i)]
    return out


def _check_resume(mark: Mark | None, start: int) -> None:
    """A mark lies after the header of the input it was made on."""
    if mark is not None and mark.offset < start:
        raise ParseError("the input does not match the checkpoint to resume from")


def _run_buffer(source: Source, job: _Job) -> RunResult:
    if source.snapshot is not None:  # a file: read in windows, not held whole
        return _run_stream(source, job)
    data = source.buffer
    n = len(data)
    d = job.schema.dialect
    delim, quote = _core_dialect(d)
    pos = _Position(data)
    start = check_encoding_prefix(bytes(data[:4]), source.name)
    start = _skip_lines(data, start, d.skip_rows, True)
    result = RunResult(bytes_in=n)
    header_fields = None
    if d.header:
        status, fields, nxt = _core.split_row(data, start, n, True, delim, quote)
        if status > 0:
            raise _header_error(status, pos, nxt)
        if not fields:  # empty file (or only blank lines): no header, no rows
            return result
        header_fields, result.header_raw = fields, bytes(data[start:nxt])
        start = _header_start(data, start, n, True, delim, quote)
        line = pos.line_of(start)
        start = nxt
    else:
        line = 1
    binding = _bind(result, job.schema, header_fields, line)
    bad = job.bad_rows(result)
    if job.resume is not None:
        _check_resume(job.resume, start)
        start = job.resume.offset
        pos.know(start, job.resume.lines)
    if job.threaded or bad.lenient:  # (a row too long is a bad row on the parallel path)
        blocks = _buffer_blocks(data, start, n, job.block)
        cats = _run_parallel(blocks, binding, job, bad, pos, start)
        return _done(result, job.writer, bad, cats)
    parser = make_parser(binding, job.seed())
    end = min(n, start + job.block)
    while True:
        final = end >= n
        new = _parse_range(parser, pos, start, end, final, job.writer, bad)
        if not final and new != start:
            job.mark(
                new,
                lambda: pos.lines_to(new),  # noqa: B023 - called at once
                bad,
                lambda: _dictionaries(parser, binding),  # noqa: B023
            )
        job.tick(new)  # (after mark: it hands the parsed input back to the OS)
        if final:
            break
        if new == start:  # one row is longer than the block: look further
            if end - start > MAX_ROW_BYTES:
                raise _row_too_long(pos.line_of(start), start, job.writer.rows - bad.rows0)
            end = min(n, end + max(job.block, end - start))
        else:
            start = new
            end = min(n, start + job.block)
    return _done(result, job.writer, bad, _dictionaries(parser, binding))


class _Input:
    """A streamed input, read window by window; for a file, its bytes as they were at
    open.  A block keeps its window while it is in flight."""

    def __init__(self, source: Source, result: RunResult, block: int) -> None:
        self.source = source
        self.result = result
        self.eof = False
        # at the end: the input's last line has no line break and the file grew while it
        # was read, so that line was being written: it is not a row of the snapshot
        self.torn = False
        self.last = -1  # the last byte read (-1: none yet)
        # a window: a block and a carried row, or a piece read by a worker (_Piece.read:
        # a block, the byte before it and up to min(block / 8, _PIECE_SLACK) after it)
        self._size = block + max(block >> 2, _PIECE_SLACK + 1)
        self._free: deque[mmap.mmap] = deque()  # windows nothing refers to any more

    def fill(self, data: Any, keep_from: int, want: int) -> Any:
        """``data[keep_from:]`` followed by up to ``want`` more input bytes."""
        carried = len(data) - keep_from
        left = self.source.left()
        if left is not None:  # no room for bytes a file does not have
            want = min(want, left)
        buf = self._window(carried + want)
        got = self.source.readinto(buf[carried : carried + want])
        if not got:
            self._end()
            return data[keep_from:]
        buf[:carried] = data[keep_from:]
        self.result.bytes_in += got
        self.last = int(buf[carried + got - 1])
        return buf[: carried + got]

    def _window(self, size: int) -> np.ndarray:
        """Room for ``size`` bytes.  Windows of the usual size are used again once no view
        of them is left (every view of the array keeps it alive): warm memory instead
        of fresh pages that fault one by one."""
        if size > self._size:
            return np.empty(size, np.uint8)
        try:
            mem = self._free.pop()
        except IndexError:
            # anonymous memory, not a bytearray: only the pages the input is read into are
            # touched (a bytearray is zeroed whole: a small file read with a big
            # block_size wrote block_size of zeros).  Not an array: views of ``win`` must
            # keep ``win`` (not the memory under it) alive.
            mem = mmap.mmap(-1, self._size)
        win = np.frombuffer(mem, np.uint8)
        weakref.finalize(win, self._free.append, mem)
        return win

    def _end(self) -> None:
        if self.eof:
            return
        self.eof = True
        grown = self.source.grown()  # (a file that shrank raises here)
        self.torn = grown and self.last not in (-1, 10, 13)

    def leave_out(self, nbytes: int) -> None:
        """The torn last line (``nbytes``) is not converted: the sidecar says so."""
        self.source.tail_left_out = nbytes

    def restart(self, offset: int) -> None:
        """Read on from input offset ``offset`` (a row start) of a file."""
        if not self.source.seek(offset):  # pragma: no cover - only files are cut by guess
            raise AssertionError("internal error: the input cannot be read again")
        self.result.bytes_in = offset
        self.eof = self.torn = False
        self.last = -1  # (a row start: the line before it has ended)


_EMPTY = np.zeros(0, np.uint8)


def _run_stream(source: Source, job: _Job) -> RunResult:
    d = job.schema.dialect
    delim, quote = _core_dialect(d)
    block = job.block
    result = RunResult()
    inp = _Input(source, result, block)
    data: Any = _EMPTY
    lines_before = 0
    base = 0  # input offset of data[0]

    def more(keep_from: int) -> None:
        nonlocal data, lines_before, base
        carried = len(data) - keep_from  # one row that has not ended yet
        lines_before += _core.count_lines(data, 0, keep_from)
        base += keep_from
        if carried > MAX_ROW_BYTES:
            raise _row_too_long(lines_before + 1, base)
        data = inp.fill(data, keep_from, _read_size(block, carried))

    more(0)
    while len(data) < 4 and not inp.eof:
        more(0)
    start = check_encoding_prefix(bytes(data[:4]), source.name)
    while True:
        skipped = _skip_lines(data, start, d.skip_rows, inp.eof and not inp.torn)
        if skipped >= 0 or inp.eof:
            break
        more(0)
    if skipped < 0:  # the input ends within the lines to skip (a torn last line)
        return result
    start = skipped
    header_fields = None
    if d.header:
        while True:
            final = inp.eof and not inp.torn
            status, fields, nxt = _core.split_row(data, start, len(data), final, delim, quote)
            if status != _NEED_MORE or inp.eof:
                break
            more(0)
        if status == _NEED_MORE:  # the header is the torn last line: no rows
            inp.leave_out(len(data) - start)
            return result
        if status > 0:
            raise _header_error(status, _Position(data, lines_before, base), nxt)
        if not fields:
            return result
        header_fields, result.header_raw = fields, bytes(data[start:nxt])
        at = _header_start(data, start, len(data), final, delim, quote)
        line = lines_before + _core.count_lines(data, 0, at) + 1
        start = nxt
    else:
        line = 1
    binding = _bind(result, job.schema, header_fields, line)
    bad = job.bad_rows(result)
    mark = job.resume
    if mark is not None:
        _check_resume(mark, base + start)
        if mark.offset > base + len(data) and source.seek(mark.offset):
            # a file: read on from the mark (its bytes before it were checked by digest)
            result.bytes_in += mark.offset - base - len(data)
            data, start, base, lines_before = _EMPTY, 0, mark.offset, mark.lines
            inp.last = -1  # (a mark is at a row start: the line before it has ended)
        else:  # read on, without parsing, to where the mark was made
            while base + len(data) < mark.offset and not inp.eof:
                more(len(data))
            start = mark.offset - base
            if start > len(data) or lines_before + _core.count_lines(data, 0, start) != mark.lines:
                raise ParseError("the input does not match the checkpoint to resume from")
    if job.threaded or bad.lenient:  # (a row too long is a bad row on the parallel path)
        args = (block, delim, quote, bad.lenient)
        if source.left() is not None:  # a file: cut by a guess, checked by the committer
            lines = lines_before + _core.count_lines(data, 0, start)
            # lines are counted as blocks go when checkpoints or bad rows need them, else
            # only for an error, from the file (see _Sync.lines_before)
            count = job.checkpoint is not None or bad.lenient
            sync = _Sync(base + start, lines, source.snapshot, count)
            blocks = _piece_blocks(inp, data, start, base, sync, *args)
        else:
            sync = None
            blocks = _stream_blocks(inp, data, start, base, lines_before, *args)
        cats = _run_parallel(blocks, binding, job, bad, None, None, sync)
        return _done(result, job.writer, bad, cats)
    parser = make_parser(binding, job.seed())
    while True:
        final = inp.eof and not inp.torn
        start = _parse_range(
            parser, _Position(data, lines_before, base), start, len(data), final, job.writer, bad
        )
        if inp.eof:
            if inp.torn:
                inp.leave_out(len(data) - start)
            break
        job.tick(result.bytes_in)
        job.mark(
            base + start,
            lambda: lines_before + _core.count_lines(data, 0, start),  # noqa: B023
            bad,
            lambda: _dictionaries(parser, binding),  # noqa: B023
        )
        more(start)
        start = 0
    return _done(result, job.writer, bad, _dictionaries(parser, binding))


# -- the parallel path -------------------------------------------------------------
# A splitter (this thread) cuts the input into blocks of whole rows with the
# core's own tokenizer, so quoted line breaks never split a row.  Worker threads,
# each with its own Parser, turn blocks into records in private buffers; the
# committer (this thread again) takes finished blocks strictly in input order,
# maps each worker's category codes to the global dictionary (codes in order of
# first appearance in the input, exactly as one thread would give them) and
# copies the records into the writer.  When a block's values do not fit the
# global dictionary, the committer parses that block again itself, from the
# global dictionary, so the output is exactly what one thread makes.  At most 2
# blocks per worker are in flight (fewer when they are big: IN_FLIGHT_BYTES), so
# memory stays bounded whatever the input size; and whatever its shape: a block's
# record buffer holds at most RECORD_BUFFER_BYTES (the rows past it are parsed by
# the committer, in pieces as big), a block describes at most BAD_ROWS_PER_BLOCK
# bad rows at a time, and a row longer than MAX_ROW_BYTES is never held (see
# _LongRow).  What one run holds, with the
# defaults: the blocks in flight and their records (IN_FLIGHT_BYTES, 80 MiB, whatever
# the number of workers), a few spare record buffers, one row of up to 16 MiB carried
# while more is read (and its copy), and the interpreter with numpy (some 50 MB):
# under MEMORY_BOUND.


@dataclass
class _Block:
    data: Any  # the buffer holding the block
    start: int  # first byte of the block in data
    end: int  # end of the block in data (a row start, or the end of the input)
    base: int  # input offset of data[0]
    lines_before: int  # line breaks in the input before data[0]
    final: bool = True  # the block ends with its last row (no row continues past end)


@dataclass
class _Piece(_Block):
    """A piece of a file that the worker parsing it reads itself (see _piece_blocks): until
    :meth:`read`, ``data`` is empty and ``base`` is the piece's first byte (``lo``)."""

    hi: int = 0  # the piece's end: its rows are those that start in [lo, hi)
    snapshot: Any = None
    window: Callable[[int], np.ndarray] | None = None  # a buffer of at least n bytes

    def read(self) -> None:
        """Read the piece (from the byte before it, to where its last row ends: see
        :func:`_piece_cuts`) and cut it where rows would start were no line break quoted,
        as _last_line_start cuts a window: a guess, checked by the committer (a block
        whose first row does not start where the rows before it ended is dropped, and
        the rest of the input is read again with exact cuts).  No row starts in the
        piece: an empty block, where the next row would start (found wrong, as any guess,
        where no line break was read: a row longer than the piece and what was read past
        it).  Its last row longer than a row may be: the block is given an input offset
        no row ends at (-1), so it is dropped too (exact cuts say what is wrong)."""
        lo, hi, snap = self.base, self.hi, self.snapshot
        assert self.window is not None

        def read(buf: np.ndarray, at: int, offset: int, n: int) -> None:
            snap.readinto(offset, buf[at : at + n])

        first = lo - 1  # data[0]: the byte before the piece, whether a line ends there
        # (read on where the last row is longer: a small slack re-reads little at a
        # small block_size, its bytes read again by the next piece)
        slack = max(1, min(_PIECE_SLACK, (hi - lo) >> 3))
        need = min(snap.size, hi + slack) - first
        cuts = _piece_cuts(read, self.window(need), first, lo, hi, snap.size, slack,
                           hi - lo + MAX_ROW_BYTES)
        if cuts is None:
            self.data, self.start, self.end, self.base = _EMPTY, 0, 0, -1
            return
        buf, have, s, e = cuts
        self.data, self.start, self.end, self.base = buf[:have], s, e, first


@dataclass
class _Done:
    block: _Block
    parser_id: int  # -1: parsed from the global dictionaries (codes already global)
    records: np.ndarray
    error: tuple | None  # the core's result tuple when a row was bad (policy "raise")
    bad: np.ndarray  # bad rows (policy skip/reject), rows_before counted from the block start
    new_values: list[list[bytes]]  # per learned category: values the parser added
    end: int = -1  # where the parse stopped in block.data (a row start)
    buffer: np.ndarray | None = None  # what records is a view of (back to the pool once written)
    # the parse stopped at ``end`` with rows of the block left (its buffer was full, or
    # it had described BAD_ROWS_PER_BLOCK bad rows): the committer parses the rest
    full: bool = False
    lines: int = -1  # line breaks in the block (counted when its lines_before is not known)
    text: Any = b""  # the bytes of its text columns (the records' offsets count from 0)
    text_buffer: np.ndarray | None = None  # what text is a view of (back to the pool once written)
    text_at: int = -1  # where the text was placed in the writer's text (see _TextPlaces)
    prepared: Any = None  # what the writer's prepare made of it on the worker (see _work)
    # per learned category: its codes made global on the worker already (see early_codes)
    remapped: list[bool] | None = None


def _buffer_blocks(data: Any, start: int, n: int, block: int) -> Any:
    """Blocks of about ``block`` bytes, each cut just after a line break.

    The cut is a guess: a line break inside a quoted field is not a row end.
    ``final`` is False but for the last block, so a row that runs past its
    block's end is not parsed by that block's worker; the committer checks
    that each block starts where the rows before it ended, and parses the
    rest itself when it does not (see :meth:`_Committer.commit`).  So finding
    the cuts costs nothing, and the rows are exact whatever the guess.
    """
    while start < n:
        cut = _core.line_start_after(data, min(n, start + block))
        yield _Block(data, start, cut, 0, 0, final=cut >= n)
        start = cut


class _Sync:
    """Between the splitter of a file cut by guess and the committer: where the rows
    committed so far end (an input offset, and the line breaks before it), and whether
    a guess was found wrong across two windows (``lost``: the blocks after it are
    dropped, and the splitter goes on from ``at`` with exact cuts)."""

    def __init__(self, at: int, lines: int, snapshot: Any, count: bool) -> None:
        self.at = at
        self.lines = lines  # line breaks before input offset lines_at (<= at)
        self.lines_at = at
        self.snapshot = snapshot
        self.count = count  # the workers count each block's lines (else: only when asked)
        self.lost = False

    def lines_before(self, offset: int) -> int:
        """Line breaks in the input before ``offset`` (a row start at or after lines_at),
        counted on from lines_at: bytes no block holds any more are read again."""
        if offset > self.lines_at:
            self.lines += _count_lines_in(self.snapshot, self.lines_at, offset)
            self.lines_at = offset
        return self.lines


def _count_lines_in(snapshot: Any, start: int, end: int) -> int:
    """Line breaks in a file's snapshot between two input offsets, read piece by piece."""
    buf = bytearray(min(end - start, _PIECE))
    lines = _Lines()
    while start < end:
        view = memoryview(buf)[: min(len(buf), end - start)]
        snapshot.readinto(start, view)
        lines.add(view)
        start += len(view)
    return lines.n


class _LazyPosition(_Position):
    """A block's position whose lines before it are counted only when asked (an error)."""

    def __init__(self, data: Any, base: int, start: int, sync: _Sync) -> None:
        super().__init__(data, 0, base)
        self._known: tuple[int, _Sync] | None = (start, sync)

    def resolved(self) -> bool:
        return self._known is None

    def lines_to(self, offset: int) -> int:
        if self._known is not None:
            start, sync = self._known
            self._known = None
            n = sync.lines_before(self.base + start)
            self.lines_before = n - _core.count_lines(self.data, 0, start)
            self._at, self._lines = 0, self.lines_before
        return super().lines_to(offset)


class _Resync:
    """Yielded by the splitter: commit every block before this, then go on from the
    committer's ``_Sync.at`` with exact cuts."""


_TAIL = 64 << 10  # the last line break of a window is looked for in this much first


def _last_line_start(data: Any, start: int, end: int) -> int:
    """Just after the last LF in ``data[start:end]`` (``start``: none)."""
    lo = max(start, end - _TAIL)
    while True:
        i = data[lo:end].tobytes().rfind(b"\n")
        if i >= 0:
            return lo + i + 1
        if lo == start:
            return start
        lo, end = max(start, lo - 8 * _TAIL), lo


def _guess_blocks(
    inp: _Input,
    data: Any,
    start: int,
    base: int,
    sync: _Sync,
    block: int,
    delim: int,
    quote: int,
    lenient: bool,
) -> Any:
    """A file's blocks, one per window, each cut just after the window's last line
    break, as :func:`_buffer_blocks` cuts a buffer: the cut is a guess (a line break
    may be inside a quoted field), so finding it costs nothing.  The committer checks
    that each block starts where the rows before it ended; a block cut inside a row
    shows as a block whose parse stops before its end.  When that happens (or the
    file grew and its last line may be torn, or a window holds no line break within
    the row limit), every block before is committed and the input is read again
    from the end of the committed rows with exact cuts (:func:`_stream_blocks`),
    which handle every case: at most once per run, so a file with quoted line breaks
    costs at most one window's work more than exact cuts all along.  Lines are
    counted by the workers (``lines_before`` -1: filled in by the committer), or not at
    all (-2) when nothing but an error asks for them."""
    unknown = -1 if sync.count else -2
    drained = False
    while not sync.lost:
        if inp.eof:
            if inp.torn:
                break
            if start < len(data):
                yield _Block(data, start, len(data), base, unknown)
            yield _Resync()  # (every block is committed when this comes back)
            if not sync.lost and sync.at == base + len(data):
                return
            drained = True  # (the last block's rows ended before the input did)
            break
        cut = _last_line_start(data, start, len(data))
        if cut > start:
            yield _Block(data, start, cut, base, unknown, final=False)
            base += cut
            data, start = inp.fill(data, cut, _read_size(block, len(data) - cut)), 0
            continue
        carried = len(data) - start
        if carried > MAX_ROW_BYTES or data[start:].tobytes().find(b"\r") >= 0:
            break  # no LF in a row's worth, or lines end with a lone CR
        data = inp.fill(data, start, _read_size(block, carried))
        base += start
        start = 0
    if not drained:
        yield _Resync()  # (every block before is committed when this comes back)
    inp.restart(sync.at)
    yield from _stream_blocks(
        inp, _EMPTY, 0, sync.at, sync.lines_before(sync.at), block, delim, quote, lenient
    )


def _piece_blocks(
    inp: _Input, data: Any, start: int, base: int, sync: _Sync, block: int, *dialect: Any
) -> Any:
    """(``dialect``: delim, quote, lenient, as :func:`_guess_blocks` takes them.)  A
    file's blocks, after the window already read (the header's), as pieces of
    ``block`` bytes that the workers read and cut themselves (:class:`_Piece`): the
    calling thread reads nothing; each worker reads its piece, the byte before it and
    up to min(block / 8, 64 KiB) after it (read again by the next piece), and on where
    its last row ends past that.  The cuts
    are guesses, checked as :func:`_guess_blocks`' are: a guess found wrong (a quoted line
    break at a cut; no line break near one), or a file that grew while it was read (its
    last line may be torn): every block before is committed and the rest read again with
    exact cuts (:func:`_stream_blocks`), at most once per run.  Where a piece's bytes
    cannot be read by position without disturbing what else reads the input (its
    content hash is fed in order), or the file is small: :func:`_guess_blocks`."""
    snap = inp.source.snapshot
    size = snap.size
    cut = _last_line_start(data, start, len(data))
    lo = base + cut
    if inp.source.hasher is not None or cut <= start or size - lo < 2 * block:
        yield from _guess_blocks(inp, data, start, base, sync, block, *dialect)
        return
    unknown = -1 if sync.count else -2
    yield _Block(data, start, cut, base, unknown, final=False)
    while not sync.lost and size - lo > block:  # (the last piece: at most a block, in a window)
        yield _Piece(_EMPTY, 0, 0, lo, unknown, False, hi=lo + block, snapshot=snap,
                     window=inp._window)
        lo += block
    if not sync.lost and not inp.source.grown():  # (a file that shrank raises here)
        inp.result.bytes_in = size
        yield _Piece(_EMPTY, 0, 0, lo, unknown, True, hi=size, snapshot=snap,
                     window=inp._window)
    yield _Resync()  # (every block is committed when this comes back)
    if not sync.lost and sync.at == size:
        return
    inp.restart(sync.at)
    yield from _stream_blocks(inp, _EMPTY, 0, sync.at, sync.lines_before(sync.at), block, *dialect)


def _stream_blocks(
    inp: _Input,
    data: Any,
    start: int,
    base: int,
    lines_before: int,
    block: int,
    delim: int,
    quote: int,
    lenient: bool,
) -> Any:
    while True:
        if inp.eof and not inp.torn:
            if start < len(data):
                yield _Block(data, start, len(data), base, lines_before)
            return
        status, cut = _core.next_row_start(
            data, start, len(data), len(data), False, delim, quote, lenient
        )
        if status > 0:  # text after a closing quote: definite, whatever follows
            yield _Block(data, start, len(data), base, lines_before, final=False)
            return
        if inp.eof:  # torn: the rows before the last line, and not that line
            if cut > start:
                yield _Block(data, start, cut, base, lines_before)
            inp.leave_out(len(data) - cut)
            return
        if cut > start:
            yield _Block(data, start, cut, base, lines_before)
            lines_before += _core.count_lines(data, 0, cut)
            base += cut
            data, start = data[cut:], 0
        elif len(data) - start > MAX_ROW_BYTES:
            line = lines_before + _core.count_lines(data, 0, start) + 1
            if not lenient or delim >= 256:  # (_RowWalker knows the plain dialect only)
                raise _row_too_long(line, base + start)
            row = _LongRow(inp, data, start, base, line - 1, delim, quote)
            yield row  # (walked to its end by the committer)
            inp, data, start, base, lines_before = row.rest()
            continue
        data = inp.fill(data, 0, _read_size(block, len(data) - start))


def _read_size(block: int, carried: int) -> int:
    """Bytes to read after ``carried`` bytes of an unfinished row: a block, or as much
    again as is carried (so long rows cost linear time), never past the row limit."""
    return max(1, min(max(block, carried), MAX_ROW_BYTES + 1 - carried))


def _row_too_long(line: int, offset: int, row: int | None = None) -> ParseError:
    return ParseError(
        f"a row is longer than {MAX_ROW_BYTES >> 20} MiB; is a quote left open?",
        line=line,
        offset=offset,
        row=row,
    )


# -- rows too long to hold ---------------------------------------------------------
# Under skip and reject a row longer than MAX_ROW_BYTES is one bad row.  It is not
# held: _RowWalker follows it through its bytes a piece at a time (the core's
# tokenizer rules, in Python: the pieces are big, the steps few) to find where it
# ends, and a rejected row is written out piece by piece.  Only a quote left open
# needs more: such a row ends at the first line break after that quote, which is
# known only at the input's end; a stream's bytes from that line break on are
# held in a temporary file meanwhile (on disk, not in memory), and the input goes
# on from there when the quote is never closed.

_FIELD, _PLAIN, _QUOTED, _QUOTE_END, _BROKEN, _CR = range(6)
_LF, _CRB = 10, 13
_MATCH_WINDOW = 64 << 10  # quoted text is matched this much at a time (the matcher keeps
# some state for each "" it passes: a whole piece at once costs ~30 bytes per "")


def long_row(
    data: Any, start: int, pos: _Position, writer: Writer, bad: _BadRows, dialect: Any
) -> tuple[int, bool]:
    """The row at ``data[start:]`` of a buffer input is longer than MAX_ROW_BYTES:
    under raise, refuse it; else walk it to its end.  Returns where it ends, and
    whether it was taken here as one bad row (else the core is to parse it: a quote
    never closed, and the row up to the line break after it is within the limit)."""
    n = len(data)
    while start < n and data[start] in (_LF, _CRB):  # blank lines are not rows
        start += 1
    read = writer.rows - bad.rows0 + bad.count
    line, offset = pos.line_of(start), pos.offset_of(start)
    if not bad.lenient or not _plain(dialect):
        raise _row_too_long(line, offset, read)
    delim, quote = _core_dialect(dialect)
    walker = _RowWalker(delim, quote)
    view = memoryview(data).cast("B")
    at, end = start, -1
    while end < 0:
        stop = min(n, at + _PIECE)
        end = walker.feed(view, at, stop, 0)
        if end < 0 and stop >= n:
            end = walker.finish(n)
        at = stop
    if walker.unclosed() and end - start <= MAX_ROW_BYTES:
        return end, False
    err = _row_too_long(line, offset, read)
    pieces = (view[i : min(end, i + _PIECE)] for i in range(start, end, _PIECE))
    bad.take_pieces(pieces, lambda: err, offset)
    return end, True


class _RowWalker:
    """Finds where a row ends, fed its bytes piece by piece, by the core's rules: a field
    that starts with the quote is quoted ("" inside it is one quote), text after a
    closing quote breaks the row, which then ends at the first line break after it.
    While a quoted field is open, ``resume`` is where the row would end were that quote
    never closed: just after the first line break after it (as the core resumes)."""

    def __init__(self, delim: int, quote: int) -> None:
        self.delim = delim
        self.quote = quote
        self._special = re.compile(b"[" + re.escape(bytes([delim])) + b"\r\n]")
        self._breaks = re.compile(b"[\r\n]")
        q = re.escape(bytes([max(quote, 0)]))  # (no quoting: never a quoted field)
        # a quoted field's text: anything but a quote, or two quotes (one literal quote)
        self._quoted = re.compile(b"[^" + q + b"]*(?:" + q + q + b"[^" + q + b"]*)*")
        self._quote = quote >= 0
        self.state = _FIELD
        self.open_at = -1  # input offset of the quote of the field still open (-1: none)
        self.resume = -1  # input offset after the first line break after it (-1: none yet)
        self._resume_cr = False  # resume is just after a CR: one more if an LF follows

    def open(self) -> bool:
        """Inside a quoted field whose closing quote has not been seen."""
        return self.state in (_QUOTED, _QUOTE_END)

    def unclosed(self) -> bool:
        """At the input's end: the row's quote was never closed (it ends at ``resume``)."""
        return self.state == _QUOTED and self.resume >= 0

    def finish(self, at: int) -> int:
        """The input ends at offset ``at`` inside the row: where the row ends."""
        return self.resume if self.unclosed() else at

    def feed(self, buf: Any, i: int, end: int, base: int) -> int:
        """Walk ``buf[i:end]`` (a memoryview; ``base``: the input offset of buf[0]).
        Returns where in buf the row ends (the next row's start), or -1 when it goes on."""
        if self._resume_cr and i < end:
            self._resume_cr = False
            if buf[i] == _LF:
                self.resume += 1
        while i < end:
            st = self.state
            if st == _CR:  # the row ended with a CR: an LF right after it belongs to it
                return i + 1 if buf[i] == _LF else i
            if st == _FIELD:
                if self._quote and buf[i] == self.quote:
                    self.state = _QUOTED
                    self.open_at, self.resume = base + i, -1
                    i += 1
                else:
                    self.state = _PLAIN
            elif st == _PLAIN:
                m = self._special.search(buf, i, end)
                if m is None:
                    return -1
                j = m.start()
                c = buf[j]
                if c == _LF:
                    return j + 1
                self.state = _FIELD if c == self.delim else _CR
                i = j + 1
            elif st == _QUOTED:
                stop = min(end, i + _MATCH_WINDOW)
                m = self._quoted.match(buf, i, stop)  # (it matches, if only nothing)
                j = m.end() if m is not None else i
                if self.resume < 0:
                    self._find_resume(buf, i, j, end, base)
                if j >= end:
                    return -1
                if j < stop:  # a closing quote, or (at the end) the first of ""
                    self.state = _QUOTE_END
                    j += 1
                i = j
            elif st == _QUOTE_END:
                c = buf[i]
                if c == self.quote:
                    self.state = _QUOTED
                    i += 1
                    continue
                self.open_at, self.resume, self._resume_cr = -1, -1, False
                if c == _LF:
                    return i + 1
                if c == self.delim:
                    self.state = _FIELD
                    i += 1
                elif c == _CRB:
                    self.state = _CR
                    i += 1
                else:
                    self.state = _BROKEN
            else:  # _BROKEN: text after a closing quote; the row ends at a line break
                m = self._breaks.search(buf, i, end)
                if m is None:
                    return -1
                j = m.start()
                if buf[j] == _LF:
                    return j + 1
                self.state = _CR
                i = j + 1
        return -1

    def _find_resume(self, buf: Any, i: int, j: int, end: int, base: int) -> None:
        m = self._breaks.search(buf, i, j)
        if m is None:
            return
        k = m.start()
        if buf[k] == _LF:
            self.resume = base + k + 1
        elif k + 1 < end:
            self.resume = base + k + (2 if buf[k + 1] == _LF else 1)
        else:
            self.resume, self._resume_cr = base + k + 1, True


class _Lines:
    """Line breaks in bytes that come in pieces (a CRLF cut in two counts once)."""

    def __init__(self) -> None:
        self.n = 0
        self._cr = False

    def add(self, piece: Any) -> None:
        if not len(piece):
            return
        self.n += _core.count_lines(piece, 0, len(piece))
        if self._cr and piece[0] == _LF:
            self.n -= 1
        self._cr = piece[-1] == _CRB


def _unclosed(line: int, offset: int, row: int) -> ParseError:
    return ParseError(
        "a quoted field starts here and is never closed", line=line, offset=offset, row=row
    )


class _LongRow:
    """A row longer than MAX_ROW_BYTES at ``data[start:]`` of a stream, met by the
    splitter under skip or reject.  The committer, once every row before it is
    committed, walks it to its end (:meth:`pieces` yields its bytes as they are read);
    then :meth:`rest` tells the splitter where the input goes on."""

    def __init__(
        self, inp: Any, data: Any, start: int, base: int, lines_before: int, delim: int, quote: int
    ) -> None:
        self.inp = inp
        self.data = data
        self.start = start
        self.base = base
        self.lines_before = lines_before  # line breaks in the input before the row
        self.offset = base + start  # the row's offset in the input
        self.walker = _RowWalker(delim, quote)
        self.lines = _Lines()  # line breaks in the row
        self.end = -1  # input offset where the row ends (after the walk)
        self.unclosed = False  # a quote never closed: the row ends at the line break after it
        self._rest: tuple | None = None

    def pieces(self) -> Any:
        """The row's bytes, read and walked piece by piece (memoryviews and bytes)."""
        w = self.walker
        data, i, base = self.data, self.start, self.base
        spill: Any = None  # bytes from w.resume on while the quote of w.open_at is open
        spill_for = -1  # the w.open_at those are held for
        while True:
            buf = memoryview(data).cast("B")
            k = w.feed(buf, i, len(buf), base)
            stop = len(buf) if k < 0 else k
            holding = k < 0 and w.open() and w.resume >= 0
            if spill is not None and spill.tell() and (not holding or w.open_at != spill_for):
                yield from self._flush(spill)  # that quote closed: the held bytes are the row's
            cut = min(stop, max(i, w.resume - base)) if holding else stop
            if cut > i:
                self.lines.add(buf[i:cut])
                yield buf[i:cut]
            if cut < stop:
                if spill is None:
                    import tempfile  # (here: importing it costs every read ~1 ms)

                    # (closed once read back, or with the last reference to it)
                    spill = tempfile.TemporaryFile()  # noqa: SIM115
                spill.write(buf[cut:stop])
                spill_for = w.open_at
            if k >= 0:
                self.end = base + k
                rest = data[k:]
                self._rest = (self.inp, rest, 0, self.end, self.lines_before + self.lines.n)
                return
            base += len(buf)
            data, i = self.inp.fill(_EMPTY, 0, _PIECE), 0
            if len(data) == 0:  # the input ends inside the row
                if w.unclosed():  # it ends at the line break after its quote; on from there
                    self.unclosed, self.end = True, w.resume
                    inp: Any = _Spilled(spill) if spill is not None else self.inp
                    self._rest = (inp, _EMPTY, 0, self.end, self.lines_before + self.lines.n)
                    return
                if spill is not None and spill.tell():
                    yield from self._flush(spill)
                self.end = base
                self._rest = (self.inp, _EMPTY, 0, base, self.lines_before + self.lines.n)
                return

    def _flush(self, spill: Any) -> Any:
        spill.seek(0)
        while chunk := spill.read(_PIECE):
            self.lines.add(chunk)
            yield chunk
        spill.seek(0)
        spill.truncate()

    def error(self, row: int) -> ParseError:
        """What is wrong with the row (after the walk): ``row`` rows were read before it."""
        if self.unclosed and self.end - self.offset <= MAX_ROW_BYTES:
            # as the core says it: the quote's line (one line break from it to the end)
            return _unclosed(self.lines_before + self.lines.n, self.walker.open_at, row)
        return _row_too_long(self.lines_before + 1, self.offset, row)

    def rest(self) -> tuple:
        """(input, data, start, base, lines_before) for the splitter to go on with."""
        if self._rest is None:  # pragma: no cover - the committer walks every long row
            raise AssertionError("internal error: a long row was not walked")
        return self._rest


class _Spilled:
    """The rest of a stream, after a row whose quote was never closed: the bytes held in
    a temporary file while that row was walked (the stream itself has ended)."""

    def __init__(self, spill: Any) -> None:
        spill.seek(0)
        self.file = spill
        self.eof = False
        self.torn = False

    def fill(self, data: Any, keep_from: int, want: int) -> Any:
        carried = len(data) - keep_from
        buf = np.empty(carried + want, np.uint8)
        got = self.file.readinto(buf[carried:])
        if not got:
            self.eof = True
            self.file.close()
            return data[keep_from:]
        buf[:carried] = data[keep_from:]
        return buf[: carried + got]

    def leave_out(self, nbytes: int) -> None:  # pragma: no cover - never torn
        pass


class _Buffers:
    """Record buffers the committer hands back, once written, for the workers to parse
    the next blocks into: warm memory, instead of fresh pages that fault one by one
    (which cost more system time than the parse itself).  A buffer holds at most
    ``cap_rows`` records (RECORD_BUFFER_BYTES of them, and at least one); at most
    ``keep`` are kept, and one is let go for each new one made, so about as many exist
    as are in flight."""

    def __init__(self, dtype: np.dtype, keep: int, cap_bytes: int = RECORD_BUFFER_BYTES) -> None:
        self.dtype = dtype
        self.keep = keep
        self.cap_rows = max(1, cap_bytes // max(1, dtype.itemsize))
        self._free: list[np.ndarray] = []
        self._lock = threading.Lock()

    def get(self, rows: int) -> np.ndarray:
        rows = min(max(rows, 1), self.cap_rows)
        with self._lock:
            for i, buf in enumerate(self._free):
                if len(buf) >= rows:
                    return self._free.pop(i)
            if self._free:  # all too small: one goes as the new one comes
                self._free.pop(min(range(len(self._free)), key=lambda i: len(self._free[i])))
        return np.empty(rows, self.dtype)

    def put(self, buf: np.ndarray) -> None:
        with self._lock:
            if len(self._free) >= self.keep:  # keep the biggest
                smallest = min(range(len(self._free)), key=lambda i: len(self._free[i]))
                if len(self._free[smallest]) >= len(buf):
                    return
                self._free.pop(smallest)
            self._free.append(buf)


class _TextPlaces:
    """Where each block's text goes in the writer's text buffer (a writer with
    ``text_view``: read_csv's ArrayWriter), decided in input order (by ticket) on the
    workers: each takes its parser's text straight to its final place, after the text of
    the blocks before it, as soon as their sizes are known (a prefix sum), while the
    committer commits others.  One copy, on the workers: before, the worker copied the
    text into a buffer of its own and the committer, the one thread that places every
    block, copied it again into the result.

    The committer commits a placed block's text where it lies when the block comes
    right after the text committed so far.  Anything else (a block parsed again on the
    committer, or dropped, cut by guess inside a row; a buffer too small) first
    stops the placing (:meth:`stop`): the blocks placed and not yet committed
    are copied out, and from then on the committer writes every block's text itself,
    as before; so the text is laid out alike whatever the threads and blocks."""

    def __init__(self, writer: Any, first: int) -> None:
        self.cond = threading.Condition()
        self.writer = writer
        self.turn = first  # the ticket whose text is placed next
        self.at = writer.text_len  # where it goes
        self.room = writer.text_room  # (the buffer does not grow while workers write)
        self.closed = False  # no more placing (the run ended, or the committer stopped it)
        self.writing = 0  # workers copying text in now
        self.spill: tuple[int, np.ndarray] | None = None  # see stop

    def place(self, ticket: int, parser: _core.Parser) -> tuple[int, np.ndarray] | None:
        """(On the worker that parsed ticket ``ticket``, which holds ``parser``.)  Take the
        parser's text to its place: where, and the bytes there; None: not placed (the
        placing stopped, or the buffer is too small: it stops now), the text is still
        the parser's."""
        n = -parser.take_text_into(_EMPTY)  # (how many bytes: nothing is taken)
        with self.cond:
            self.cond.wait_for(lambda: self.turn == ticket or self.closed)
            if self.closed or self.at + n > self.room:
                self.closed = True
                self.cond.notify_all()
                return None
            at = self.at
            self.at += n
            self.turn += 1
            self.writing += 1
            self.cond.notify_all()
        try:
            view = self.writer.text_view(at, n)
            parser.take_text_into(view)
        finally:
            with self.cond:
                self.writing -= 1
                self.cond.notify_all()
        return at, view

    def close(self) -> None:
        """No more placing; waiters give up (their text stays the parser's)."""
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def stop(self) -> None:
        """(The committer, before it writes text itself.)  No more placing, and the text
        placed past what was committed copied out, to be committed from there (see
        :meth:`text_of`)."""
        if self.spill is not None:
            return
        with self.cond:
            self.closed = True
            self.cond.notify_all()
            self.cond.wait_for(lambda: self.writing == 0)
            lo = self.writer.text_len
            self.spill = (lo, self.writer.text_view(lo, self.at - lo).copy())

    def text_of(self, done: _Done) -> Any:
        """The text of ``done`` to commit (after :meth:`stop`)."""
        if done.text_at < 0:
            return done.text
        assert self.spill is not None
        lo, spilled = self.spill
        return spilled[done.text_at - lo : done.text_at - lo + len(done.text)]


def _take_text(
    parser: _core.Parser,
    texts: _Buffers | None,
    places: _TextPlaces | None = None,
    ticket: int = -1,
) -> tuple[Any, np.ndarray | None, int]:
    """The text the parser kept since the last call, the buffer of ``texts`` that
    holds it, to put back once written (None: ``texts`` is None, the text is fresh
    bytes, or it is in place), and where it was placed by ``places`` (-1: not placed).
    A block's text in fresh bytes cost a page fault per 4 KiB of it, on every
    block: most of the page faults of a free-text conversion on 2 threads."""
    if places is not None:
        placed = places.place(ticket, parser)
        if placed is not None:
            return placed[1], None, placed[0]
    if texts is None:
        return parser.take_text(), None, -1
    n = -parser.take_text_into(_EMPTY)  # (how many bytes: nothing is taken)
    if n == 0:  # (a block without text holds no buffer)
        return parser.take_text(), None, -1
    # rounded up, so that a buffer serves the next blocks too, whose text differs a little
    buf = texts.get(max(_TEXT_ROUND, -(-n // _TEXT_ROUND) * _TEXT_ROUND))
    return buf[: parser.take_text_into(buf)], buf, -1


class _RowsPerByte:
    """A running guess of records per input byte, to size block buffers."""

    def __init__(self) -> None:
        self.rows = 0
        self.nbytes = 0

    def capacity(self, nbytes: int) -> int:
        if self.nbytes == 0:
            return max(64, nbytes // 64)
        return int(nbytes * self.rows / self.nbytes * 1.1) + 64

    def add(self, rows: int, nbytes: int) -> None:
        self.rows += rows
        self.nbytes += nbytes


def _parse_block(
    parser: _core.Parser, b: _Block, recs: np.ndarray, lenient: bool, cap_rows: int
) -> tuple[np.ndarray, tuple | None, np.ndarray, int, np.ndarray, bool]:
    """Parse a block into the private array ``recs`` (a bigger one when it fills, up to
    ``cap_rows`` records): (records, error, bad rows, end, the array the records are a
    view of, full).  ``full``: the parse stopped at ``end`` with rows left, its buffer
    full at ``cap_rows`` or BAD_ROWS_PER_BLOCK bad rows described."""
    end = b.end
    if not b.final and 0 < end < len(b.data) and b.data[end - 1] == 13:
        end += 1  # show the byte after a CR: a lone CR is a line end only when not CRLF
    room = np.empty(BAD_ROWS_PER_CALL * _W, np.int64) if lenient else None
    bads = []
    rows, pos, nbads, full = 0, b.start, 0, False
    while True:
        res = parser.parse(
            b.data, pos, end, b.final, recs.view(np.uint8), rows, len(recs) - rows, room
        )
        nbad = res[9]
        if nbad:
            assert room is not None
            found = room[: nbad * _W].reshape(nbad, _W).copy()
            found[:, 8] += rows  # rows_before, from the block start
            bads.append(found)
            nbads += nbad
        rows += res[1]
        pos = res[2]
        if res[0] != _S["OK"]:
            break
        if rows == len(recs) or nbads >= BAD_ROWS_PER_BLOCK:
            if len(recs) >= cap_rows or nbads >= BAD_ROWS_PER_BLOCK:
                full = True  # memory in bytes, not rows: the rest is parsed after these
                break
            bigger = np.empty(min(2 * len(recs), cap_rows), recs.dtype)
            bigger[:rows] = recs[:rows]
            recs = bigger
        elif nbad < BAD_ROWS_PER_CALL:
            break
    error = res if res[0] != _S["OK"] else None
    return recs[:rows], error, np.concatenate(bads) if bads else _NO_BAD, pos, recs, full


class _Stopped(Exception):
    """A block's turn will not come: the run stopped."""


class _Slot:
    """One parser, handed to blocks strictly in input order (ticket ``i`` waits for
    ticket ``i - workers``): the committer maps each parser's new category values in
    the order the parser learned them, which must be the blocks' order."""

    def __init__(self, pid: int, parser: _core.Parser) -> None:
        self.pid = pid
        self.parser = parser
        self.turn = pid
        self.closed = False
        self.cond = threading.Condition()

    def take(self, ticket: int) -> None:
        with self.cond:
            self.cond.wait_for(lambda: self.turn == ticket or self.closed)
            if self.closed:
                raise _Stopped

    def close(self) -> None:
        """The run is over (an error): blocks still waiting for this parser give up."""
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def give(self, step: int) -> None:
        with self.cond:
            self.turn += step
            self.cond.notify_all()


def _work(
    block: _Block,
    slot: _Slot,
    ticket: int,
    workers: int,
    buffers: _Buffers,
    learned: list[int],
    guess: _RowsPerByte,
    lenient: bool,
    texts: _Buffers | None = None,
    prepare: Callable[..., Any] | None = None,
    codes: Callable[..., list[bool]] | None = None,
    places: _TextPlaces | None = None,
) -> _Done:
    if isinstance(block, _Piece):  # read while an earlier block may still hold the parser
        block.read()
    slot.take(ticket)  # (raises _Stopped when the run is over)
    pid, parser = slot.pid, slot.parser
    placing = places
    try:
        before = [parser.category_count(i) for i in learned]
        buf = buffers.get(guess.capacity(block.end - block.start))
        recs, error, bad, end, buf, full = _parse_block(
            parser, block, buf, lenient, buffers.cap_rows
        )
        guess.add(len(recs), end - block.start)
        new_values = [parser.categories(i, b) for i, b in zip(learned, before, strict=True)]
        lines = -1
        if block.lines_before == -1:  # (here, not on the committer's thread)
            lines = _core.count_lines(block.data, block.start, block.end)
        text, tbuf, at = _take_text(parser, texts, places, ticket)  # (b"" without text columns)
        placing = None  # (its turn to place came)
        done = _Done(block, pid, recs, error, bad, new_values, end, buf, full, lines, text, tbuf)
        done.text_at = at
    finally:
        if placing is not None:  # the blocks after this one must not wait for its text
            placing.close()
        slot.give(workers)
    if codes is not None:  # global codes here, where the parser's table is known already
        done.remapped = codes(pid, recs, before, new_values)
    if prepare is not None:  # (the parser is free: the next block may parse meanwhile)
        done.prepared = prepare(recs, text, block.data, block.start, end, block.base)
    return done


class _Committer:
    """Puts finished blocks into the writer in input order, with global category codes."""

    def __init__(
        self,
        job: _Job,
        binding: Binding,
        bad: _BadRows,
        pos: _Position | None,
        start: int | None,
        buffers: _Buffers,
        sync: _Sync | None = None,
    ) -> None:
        self.job = job
        # a file cut by guess: blocks are checked by input offset (see _guess_blocks)
        self.sync = sync
        self.buffers = buffers
        # buffer input: where the next row truly starts (blocks were cut by a guess)
        self.expect = start
        self.writer = job.writer
        self.binding = binding
        self.bad = bad
        self.pos = pos  # for a buffer input: line numbers are counted on from block to block
        self.learned = learned_categories(binding)
        self.text = bool(binding.schema.text_names)
        # the workers' text buffers, used again (see _take_text)
        self.texts = None
        if self.text:
            self.texts = _Buffers(np.dtype(np.uint8), 2 * job.workers + 2, 1 << 62)
        self.text_places: _TextPlaces | None = None  # (set by _run_parallel)
        seed = job.seed() or {}
        self.values: list[list[bytes]] = [
            [v.encode("utf-8") for v in seed.get(col.name, [])] for _, col in self.learned
        ]
        self.codes: list[dict[bytes, int]] = [
            {v: i for i, v in enumerate(vals)} for vals in self.values
        ]
        # per parser, per learned category: local code -> global code (-1: not in the
        # global dictionary, which was full when the value came)
        self.maps = [[np.zeros(0, np.int64) for _ in self.learned] for _ in range(job.workers)]
        # per parser, per learned category: its values by local code (to fill in -1s)
        self.local: list[list[list[bytes]]] = [
            [[] for _ in self.learned] for _ in range(job.workers)
        ]
        self.unmapped = 0  # how many -1s the maps hold
        # per learned category: where its code is in a record, and its null bit's word
        dtype = binding.schema.dtype()
        fields: Any = dtype.fields
        self.places: list[tuple[int, int, int, int, int]] = []
        for i, col in self.learned:
            offset, size = fields[col.name][1], dtype[col.name].itemsize
            bit = binding.fields[i].null_bit  # type: ignore[union-attr]
            null_offset, null_size, mask = -1, 8, 0
            if bit >= 0:
                name = _null_field(bit)
                null_offset, null_size, mask = fields[name][1], dtype[name].itemsize, 1 << bit % 64
            self.places.append((offset, size, null_offset, null_size, mask))
        self.checker: Checker | None = None
        if has_rules(binding.schema):
            self._decoded: dict[str, list[str]] = {}
            from .rules.evaluate import Checker

            self.checker = job.checker = Checker(binding.schema, self._dictionary)
            if job.existing is not None:
                self.checker.seed(job.existing)
            if job.resume is not None:
                self.checker.counts.update(job.resume.rule_counts)

    def _dictionary(self, name: str) -> list[str]:
        """A category column's values by global code, as text (for the rules)."""
        for k, (_, col) in enumerate(self.learned):
            if col.name == name:
                have = self._decoded.setdefault(name, [])
                have += [v.decode("utf-8") for v in self.values[k][len(have) :]]
                return have
        col = next(c for c in self.binding.schema.columns if c.name == name)
        return list(col.values or ())

    def _position(self, b: _Block) -> _Position:
        if self.pos is not None and self.pos.data is b.data:
            return self.pos
        return _Position(b.data, b.lines_before, b.base)

    def commit(self, done: _Done) -> None:
        b = done.block
        sync = self.sync
        if sync is not None:
            inside = isinstance(b, _Piece) and b.start == b.end and b.hi <= sync.at
            if sync.lost or inside or b.base + b.start != sync.at:
                # the block before ended inside a row that goes on into this one: drop
                # the blocks until the splitter goes on with exact cuts.  (``inside``: a
                # piece with no row start, all within the rows committed: a long row's
                # bytes, as its guess says: nothing to commit, nothing lost.)
                sync.lost = sync.lost or not inside
                self._extend_maps(done)
                if done.buffer is not None:
                    self.buffers.put(done.buffer)
                return
            pos: _Position
            if done.lines >= 0:  # its line breaks were counted by the worker
                lines = sync.lines_before(sync.at)
                at = _core.count_lines(b.data, 0, b.start) if b.start else 0
                pos = _Position(b.data, lines - at, b.base)
                pos.know(b.end, lines + done.lines)
            else:
                pos = _LazyPosition(b.data, b.base, b.start, sync)
            self.pos = pos
            self.expect = b.start
            self._commit(done)
            sync.at = b.base + self.expect
            if not isinstance(pos, _LazyPosition) or pos.resolved():
                sync.lines, sync.lines_at = pos.lines_to(self.expect), sync.at
            return
        self._commit(done)

    def resync(self) -> None:
        """Every block cut by guess is committed: the rest come with exact cuts."""
        self.sync = self.pos = self.expect = None

    def _commit(self, done: _Done) -> None:
        b = done.block
        if self.expect is not None and b.start != self.expect:
            # the block was cut inside a quoted field: its rows are not the input's
            self._extend_maps(done)
            self._rest(b, self.expect)
            return
        recs = self._global_codes(done)
        if recs is None:  # the block does not fit the global dictionaries as parsed
            redone = self._serial(b.data, b.start, b.end, b.final, b)
            self._extend_maps(done)
            done = redone
        self._put(done)
        if done.full:  # the rows that did not fit its buffer
            self._rest(b, done.end)

    def _rest(self, b: _Block, at: int) -> None:
        """Parse and write the rows of block ``b`` from ``at`` on, here, piece by piece."""
        while at < b.end:
            done = self._serial(b.data, at, b.end, b.final, b)
            self._put(done)
            if done.end <= at and self.sync is not None:
                return  # a row goes on past the block cut by guess (see commit)
            if done.end <= at:  # pragma: no cover - every step moves on
                raise AssertionError(f"internal error: no progress at {at}")
            at = done.end

    def long_row(self, row: _LongRow) -> None:
        """A stream's row too long to hold (skip/reject; every row before it committed):
        one bad row, walked to its end, its bytes handed to the rejects as they come."""
        bad = self.bad
        read = self.writer.rows - bad.rows0 + bad.count
        bad.take_pieces(row.pieces(), lambda: row.error(read), row.offset)
        n = row.lines_before + row.lines.n
        self.job.mark(row.end, lambda: n, bad, self.categories)
        self.job.tick(row.end)

    def done_to(self, done: _Done) -> int:
        """The input offset up to which the input has been committed."""
        if self.sync is not None:
            return self.sync.at
        b = done.block
        return b.base + (self.expect if self.expect is not None else b.end)

    def _put(self, done: _Done) -> None:
        """Write a parsed piece whose codes are global; report its bad rows and error."""
        recs = done.records
        n = len(recs)
        b = done.block
        read = self.writer.rows - self.bad.rows0 + self.bad.count
        broken = None
        if self.checker is not None and n:
            broken = self._check_rules(done, read)
            if broken is not None:
                keep = np.ones(n, bool)
                keep[broken[0]] = False
                recs = recs[keep]
        if len(recs) and done.prepared is not None and recs is done.records:
            self.writer.append_prepared(recs, done.prepared)  # type: ignore[attr-defined]
        else:
            # offsets in input order: the same whatever the threads; a block whose rows a
            # rule dropped all keeps its text too, as one that keeps some does: the same
            # whatever the blocks
            if self.text and (len(recs) or len(done.text)):
                self._add_text(done, recs)
            if len(recs):
                self.writer.append(recs)
        # Only now may a worker take these buffers again: a writer may keep the text it was
        # given until its append returns (the pandas drop-in's ColumnWriter gathers from it there).
        if done.text_buffer is not None and self.texts is not None:
            self.texts.put(done.text_buffer)
        if done.buffer is not None:  # written: the next block may parse into it
            self.buffers.put(done.buffer)
        pos = self._position(b)
        if broken is not None:
            self._take_broken(pos, done, read, *broken)
        elif len(done.bad):
            self.bad.take(pos, done.bad, read)
        if done.error is not None:
            raise _parse_error(done.error, pos, self.binding, read + n)
        if self.expect is None:
            if not b.final and not done.full:  # pragma: no cover - the splitter saw an error
                raise AssertionError("internal error: a block cut before a bad row parsed clean")
            end = done.end if done.full else b.end
        else:
            end = self.expect = done.end
        self.job.mark(b.base + end, lambda: pos.lines_to(end), self.bad, self.categories)

    def _add_text(self, done: _Done, recs: np.ndarray) -> None:
        """The text of ``done`` (whose records are ``recs``) after the text before it:
        where it lies, when a worker placed it right there (see _TextPlaces)."""
        places = self.text_places
        if places is None:
            self.writer.add_text(recs, done.text)
        elif places.spill is None and 0 <= done.text_at == self.writer.text_len:
            self.writer.text_placed(recs, done.text_at, len(done.text))
        else:
            places.stop()
            self.writer.add_text(recs, places.text_of(done))

    def _check_rules(self, done: _Done, read: int) -> tuple | None:
        """The block's records that break a rule: None, or (their indices, the rule of
        each, their rows' spans in the block's data).  Under raise the first that breaks
        a rule with no tolerance stops the run, here."""
        checker = self.checker
        assert checker is not None
        idx, which = checker.check(done.records)
        if not len(idx):
            return None
        spans = self._spans(done, int(idx[-1]))
        if not self.bad.lenient:
            strict = [r.tolerance is None for r in checker.rules]
            for i, k in zip(idx.tolist(), which.tolist(), strict=True):
                if strict[k]:
                    pos = self._position(done.block)
                    raise self._rule_error(pos, done, read, i, k, spans)
        return idx, which, spans

    def _rule_error(
        self, pos: _Position, done: _Done, read: int, i: int, k: int, spans: list
    ) -> ParseError:
        assert self.checker is not None
        column, value, reason = self.checker.reason(k, done.records[i])
        before = int(np.count_nonzero(done.bad[:, 8] <= i)) if len(done.bad) else 0
        start = spans[i][0]
        return ParseError(
            reason,
            line=pos.line_of(start),
            column=column,
            value=value,
            offset=pos.offset_of(start),
            row=read + i + before,
        )

    def _take_broken(
        self, pos: _Position, done: _Done, read: int, idx: Any, which: Any, spans: list
    ) -> None:
        """The bad rows of a block and its rows that break rules, in input order."""
        bad = done.bad.tolist()
        j = 0
        for i, k in zip(idx.tolist(), which.tolist(), strict=True):
            while j < len(bad) and bad[j][8] <= i:
                self.bad.take_one(pos, bad[j], read + bad[j][8] + j)
                j += 1
            err = self._rule_error(pos, done, read, i, k, spans)
            start, end = spans[i]
            self.bad.take_rule(bytes(pos.data[start:end]), err, pos.offset_of(start))
        for j in range(j, len(bad)):
            self.bad.take_one(pos, bad[j], read + bad[j][8] + j)

    def _spans(self, done: _Done, last: int) -> list[list[int]]:
        """[start, end] in the block's data of the rows of records 0 to ``last``: its
        rows walked again in compiled code (only for a block with rows that break a
        rule), the bad rows between them stepped over."""
        b = done.block
        data, end, final = b.data, b.end, b.final
        if not final and 0 < end < len(data) and data[end - 1] == 13:
            end += 1  # (as _parse_block: a CR may be the first half of CRLF)
        delim, quote = _core_dialect(self.binding.schema.dialect)
        out = np.empty((last + 1, 2), np.int64)
        bad = np.ascontiguousarray(done.bad, np.int64)
        found = _core.row_spans(
            data, b.start, end, final, delim, quote, self.bad.lenient, bad, last + 1, out
        )
        if found <= last:  # pragma: no cover - the parser found these rows
            raise AssertionError("internal error: a parsed row was not found again")
        return out.tolist()

    def early_codes(
        self, pid: int, recs: np.ndarray, before: list[int], new_values: list[list[bytes]]
    ) -> list[bool]:
        """(On the worker that parsed ``recs`` with parser ``pid``.)  Per learned category,
        whether its codes were made global here: where the block added no value to the
        parser's dictionary and the committer has mapped every code the parser had before
        it.  A mapped code never changes (-1 aside, and -1 is not taken here), so these are
        the codes the committer would write, whatever the threads."""
        done = []
        for k, place in enumerate(self.places):
            table = self.maps[pid][k]  # (the committer replaces it whole: a snapshot)
            if new_values[k] or len(table) < before[k]:
                done.append(False)
            else:
                done.append(self._remap(recs, table, before[k], place))
        return done

    def _remap(
        self, recs: np.ndarray, table: np.ndarray, count: int, place: tuple[int, ...]
    ) -> bool:
        """Local codes (all below ``count``) of one category field of ``recs`` made global
        through ``table``, in place; False (nothing written) where one has no global code."""
        if _core.identity_codes(table, count):
            return True  # (the usual case for a parser whose values came in global order)
        offset, size, null_offset, null_size, mask = place
        return _core.remap_codes(
            recs.view(np.uint8), len(recs), recs.dtype.itemsize, offset, size, table,
            null_offset, null_size, mask,
        )

    def _global_codes(self, done: _Done) -> np.ndarray | None:
        """The block's records with global category codes, the global dictionaries
        extended; None (the dictionaries unchanged; the records' codes may be partly
        remapped: the block is parsed again) when the block must be parsed again."""
        if done.parser_id < 0:
            return done.records
        full = _S["CATEGORY_FULL"]
        if (done.error is not None and done.error[0] == full) or (done.bad[:, 2] == full).any():
            return None
        recs = done.records
        pid = done.parser_id
        bad = done.error is not None or len(done.bad) > 0
        tables = []
        for k, (_, col) in enumerate(self.learned):
            new = done.new_values[k]
            table = self.maps[pid][k]
            nxt = len(self.values[k])
            if new:
                codes = self.codes[k]
                ext = np.empty(len(new), np.int64)
                for j, v in enumerate(new):
                    code = codes.get(v)
                    if code is None:
                        code, nxt = nxt, nxt + 1
                    ext[j] = code
                table = np.concatenate([table, ext])
            if nxt > col.category_limit:
                return None
            if bad and nxt >= col.category_limit:
                # A bad row's values were taken back (new_values does not hold them, so
                # this holds whether or not the block added any): with the global
                # dictionary full, the row may hold a value that is new to it, in a
                # column before the one that failed, and one thread, parsing from the
                # global dictionary, reports that full category first.
                return None
            tables.append(table)
        remapped = done.remapped or [False] * len(self.learned)
        for k, place in enumerate(self.places):
            if not remapped[k] and not self._remap(recs, tables[k], len(tables[k]), place):
                return None
        # the block fits: commit its new values and codes
        added = False
        for k, _ in enumerate(self.learned):
            for v in done.new_values[k]:
                if v not in self.codes[k]:
                    self.codes[k][v] = len(self.values[k])
                    self.values[k].append(v)
                    added = True
            self.maps[pid][k] = tables[k]
            self.local[pid][k] += done.new_values[k]
        if added and self.unmapped:  # another parser's -1s for these values: map them,
            self._fill_unmapped()  # or each of its blocks using one is parsed again
        return recs

    def _extend_maps(self, done: _Done) -> None:
        """After a block went another way: where the worker's new values went (-1 where
        the global dictionary does not have one (yet): a block using it is parsed again)."""
        pid = done.parser_id
        for k in range(len(self.learned)):
            codes = self.codes[k]
            ext = np.array([codes.get(v, -1) for v in done.new_values[k]], np.int64)
            self.unmapped += int((ext < 0).sum())
            self.maps[pid][k] = np.concatenate([self.maps[pid][k], ext])
            self.local[pid][k] += done.new_values[k]

    def _serial(self, data: Any, start: int, end: int, final: bool, b: _Block) -> _Done:
        """Parse ``data[start:end]`` on this thread, from the global dictionaries (so the
        rows that overflow a dictionary are exactly the bad ones), as far as a record
        buffer goes (``full``: the rest is left).  Always moves on: a row that runs past
        ``end`` is parsed whole, wherever it ends, unless it is longer than MAX_ROW_BYTES
        (then refused, or taken as one bad row without being held)."""
        parser = make_parser(self.binding, self.categories())
        piece = _Block(data, start, end, b.base, b.lines_before, final)
        buf = self.buffers.get(max(64, (end - start) // 64))
        lenient = self.bad.lenient
        cap = self.buffers.cap_rows
        recs, error, bad, stop, buf, full = _parse_block(parser, piece, buf, lenient, cap)
        if stop == start and error is None and len(bad) == 0 and not final and self.sync is None:
            # one row longer than the rest of the block: find its end (within the row
            # limit), parse it alone (a block cut by guess: the row goes on in the next
            # window, see commit)
            delim, quote = _core_dialect(self.binding.schema.dialect)
            n = len(data)
            limit = min(n, start + MAX_ROW_BYTES)
            status, nxt = _core.next_row_start(
                data, start, start + 1, limit, limit >= n, delim, quote, lenient
            )
            if status == _NEED_MORE:
                nxt, taken = self._long_row(data, start, b)  # (raise: refused)
                if taken:  # one bad row, written out already
                    none: list[list[bytes]] = [[] for _ in self.learned]
                    return _Done(piece, -1, recs[:0], None, _NO_BAD, none, nxt, buf)
            elif status != _S["OK"]:
                nxt = n  # raise: the parse below meets the error
            # [start, nxt) is one whole row: parse it as the end of the input (a quote
            # never closed is then seen, and ends at its line break)
            piece = _Block(data, start, nxt, b.base, b.lines_before, True)
            recs, error, bad, stop, buf, full = _parse_block(parser, piece, buf, lenient, cap)
        added = False
        for k, (i, _) in enumerate(self.learned):
            for v in parser.categories(i, len(self.values[k])):
                self.codes[k][v] = len(self.values[k])
                self.values[k].append(v)
                added = True
        if added and self.unmapped:
            self._fill_unmapped()
        none = [[] for _ in self.learned]
        return _Done(piece, -1, recs, error, bad, none, stop, buf, full, text=parser.take_text())

    def _long_row(self, data: Any, start: int, b: _Block) -> tuple[int, bool]:
        """The row at ``data[start:]`` of a buffer input is longer than MAX_ROW_BYTES:
        see :func:`long_row`."""
        dialect = self.binding.schema.dialect
        return long_row(data, start, self._position(b), self.writer, self.bad, dialect)

    def _fill_unmapped(self) -> None:
        """Values a worker learned before the global dictionary had them: map them now."""
        left = 0
        for pid, maps in enumerate(self.maps):
            for k, table in enumerate(maps):
                for j in np.flatnonzero(table < 0):
                    code = self.codes[k].get(self.local[pid][k][j])
                    if code is not None:
                        table[j] = code
                    else:
                        left += 1
        self.unmapped = left

    def categories(self) -> dict[str, list[str]]:
        return {
            col.name: [v.decode("utf-8") for v in vals]
            for (_, col), vals in zip(self.learned, self.values, strict=True)
        }


def _null_field(bit: int) -> str:
    return "_nulls" if bit < 64 else f"_nulls{bit // 64}"


def _at_most(blocks: Any, size: int) -> Any:
    """Buffer blocks cut again where longer than ``size``: the cuts are guesses anyway (the
    committer checks that each block starts where the rows before it ended)."""
    for b in blocks:
        at = b.start
        while b.end - at > size:
            yield _Block(b.data, at, at + size // 2, b.base, b.lines_before, final=False)
            at += size // 2
        yield _Block(b.data, at, b.end, b.base, b.lines_before, b.final)


def _run_parallel(
    blocks: Any,
    binding: Binding,
    job: _Job,
    bad: _BadRows,
    pos: _Position | None,
    start: int | None,
    sync: _Sync | None = None,
) -> dict:
    """Parse the blocks on ``job.workers`` threads; returns the learned dictionaries."""
    workers = job.workers
    # local codes: the committer maps them to global ones
    slots = [_Slot(i, make_parser(binding)) for i in range(workers)]
    buffers = _Buffers(binding.schema.dtype(), 2 * workers + 2)
    committer = _Committer(job, binding, bad, pos, start, buffers, sync)
    texts = committer.texts
    learned = [i for i, _ in committer.learned]
    guess = _RowsPerByte()
    lenient = bad.lenient
    pending: deque[Future[_Done]] = deque()
    # (optional) the writer's own work on a block's records, done on the worker thread
    prepare = getattr(job.writer, "prepare", None)
    codes = committer.early_codes if learned else None
    # the text straight to its place in the result, by the workers (see _TextPlaces),
    # where that place is reserved for all of it (else the placing would soon stop)
    places = None
    if texts is not None and prepare is None and getattr(job.writer, "text_reserved", False):
        places = committer.text_places = _TextPlaces(job.writer, 0)

    def commit_oldest() -> None:
        done = pending.popleft().result()
        committer.commit(done)
        job.tick(committer.done_to(done))

    itemsize = binding.schema.dtype().itemsize

    def ahead() -> int:
        """Blocks in flight: 2 per worker, as many as IN_FLIGHT_BYTES holds (each block's
        bytes and, by the running guess, its records), and at least 2."""
        records = min(guess.capacity(job.block), buffers.cap_rows) * itemsize
        return max(2, min(2 * workers, IN_FLIGHT_BYTES // (job.block + records)))

    if pos is not None:  # a buffer: no block much bigger than asked (a long line), nor
        # than a row may be (a row too long then always reaches the committer)
        blocks = _at_most(blocks, max(2, min(2 * job.block, MAX_ROW_BYTES)))
    blocks = iter(blocks)
    first = next(blocks, None)
    ticket = 0
    if isinstance(first, _Block) and (
        first.final if pos is not None  # a buffer: only its last block is final
        else sync is None  # a stream: its size is not known, nor when more comes
        or first.base + first.end >= sync.snapshot.size  # a file read to its end
    ):
        # the whole input is one block (a small file): parsed on this thread, no pool to
        # start and join (about a millisecond, as much as parsing 300 KB); and a stream's
        # first block is parsed and reported before the next one is read, however slowly
        # it comes
        done = _work(
            first, slots[0], 0, workers, buffers, learned, guess, lenient, texts, prepare, codes,
            places,
        )
        committer.commit(done)
        job.tick(committer.done_to(done))
        ticket = 1
        first = next(blocks, None)
    if first is None:
        return committer.categories()
    blocks = chain([first], blocks)
    with ThreadPoolExecutor(workers, thread_name_prefix="fastetl") as pool:
        try:
            for block in blocks:
                if isinstance(block, _LongRow):  # its turn comes after every row before it
                    while pending:
                        commit_oldest()
                    committer.long_row(block)
                    continue
                if isinstance(block, _Resync):  # exact cuts from the end of the rows before
                    while pending:
                        commit_oldest()
                    committer.resync()
                    continue
                slot = slots[ticket % workers]
                pending.append(
                    pool.submit(
                        _work, block, slot, ticket, workers, buffers, learned, guess, lenient,
                        texts, prepare, codes, places,
                    )
                )
                ticket += 1
                while len(pending) > ahead():
                    commit_oldest()
            while pending:
                commit_oldest()
        except BaseException:
            for f in pending:
                f.cancel()
            for slot in slots:  # tickets of cancelled blocks never come: free the waiters
                slot.close()
            if places is not None:
                places.close()
            raise
    return committer.categories()


# -- a plain file parsed straight into its result ------------------------------------
# For read_csv's simplest inputs (a regular file; no quotes, escapes or header; records
# of fixed size with no dictionary learned and no rules): every worker reads its own
# pieces of the file (``os.preadv`` into a buffer it keeps: each byte read once, and the
# copy made on all threads), counts their line breaks (a bound on their rows, so the
# place of each piece's records in the result is known as soon as the pieces before it
# are counted) and parses the rows straight into one reserved array: no record buffer,
# no copy, the result's pages touched first by the threads that fill them.
# The pieces of a file (smaller for small files: all threads busy).  1 MiB, not 4: a
# piece is read, searched for a quote, counted and parsed while it is still in the CPU's
# cache, and each worker's buffer is a quarter of the fresh pages (the savetxt file with
# a schema: 7 % less CPU per read, RESULTS.md run 77).
PLAIN_PIECE_BYTES = 1 << 20
_PIECE_SLACK = 64 << 10  # read past a piece's end, where its last row ends
_MAX_RESERVE_BYTES = 1 << 40  # address space for the records at most (else the usual path)


def plain_file_applies(schema: Schema, header_and_quote: bool = False) -> bool:
    """Whether :func:`read_plain_file` reads inputs of ``schema``.  ``header_and_quote``:
    also with a header and a quote character (read_csv's inputs: a file with no quote
    byte after its header is read so; a quote found sends it back to the usual path)."""
    d = schema.dialect
    if not header_and_quote and (d.quote is not None or d.header):
        return False
    if d.escape is not None or d.ragged != "strict":
        return False
    # (utf-8-sig: what inference says of a file with a BOM, which the read skips)
    if not is_utf8(d.encoding):
        return False
    if schema.text_names or has_rules(schema):
        return False
    return not any(c.type == "category" for c in schema.columns)


class _NotPlain(Exception):
    """The file is not for read_plain_file after all: the caller takes the usual path."""


class _PlainRun:
    """What the workers of one :func:`read_plain_file` share (under ``cond``)."""

    def __init__(self, nchunks: int) -> None:
        self.cond = threading.Condition()
        self.next = 0  # the next piece to take
        self.counts: dict[int, int] = {}  # piece -> line breaks (its rows at most)
        self.offsets = [0]  # offsets[k]: the first record of piece k (known for k < len)
        self.rows: dict[int, int] = {}  # piece -> records written
        self.stop = nchunks  # the first piece that failed (or nchunks)
        self.failed: dict[int, Any] = {}  # piece -> exception, or (result tuple, context)
        self.running = 0  # worker threads started and not done with the file
        # the gaps closed (see _close_gaps): pieces before ``moved`` are in place, holding
        # the first ``placed`` records; ``moving``: a worker is moving one now
        self.moved = 0
        self.placed = 0
        self.moving = False

    def fail(self, k: int, what: Any) -> None:
        with self.cond:
            self.failed[k] = what
            self.stop = min(self.stop, k)
            self.cond.notify_all()


def read_plain_file(
    path: str,
    schema: Schema,
    workers: int,
    inspect: Callable[[Any, int, int], None] | None = None,
    piece: int | None = None,
    result: RunResult | None = None,
) -> np.ndarray | None:
    """The records of the regular file ``path`` under ``schema`` (see
    :func:`plain_file_applies`), parsed by ``workers`` threads (the calling one among
    them) straight into one array; None where no address space can be reserved for it,
    or where a quote byte follows the header (the caller takes the usual path).
    ``result`` is told the header and the input's size.  ``inspect(data, start, end)``
    is shown every byte of the file once, piece by piece, before it is parsed, and may
    raise to stop the run (the exception of the first piece in input order that failed
    is raised).  Under the policy "raise" only: the first bad row raises its
    :class:`ParseError`."""
    if not hasattr(os, "preadv") or not memory.ENABLED:  # (Windows): the usual path
        return None
    dtype = schema.dtype()
    itemsize = dtype.itemsize
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror or e})") from None
    closable = True  # no worker thread may still read from fd
    try:
        size = os.fstat(fd).st_size

        def pread(buf: np.ndarray, at: int, offset: int, n: int) -> None:
            try:
                got = pread_into(fd, memoryview(buf)[at : at + n], offset)
            except OSError as e:
                raise InputError(f"cannot read {path}: {e.strerror or e}") from None
            if got < n:
                raise InputError(f"{path} shrank while it was read")

        result = result if result is not None else RunResult()
        d = schema.dialect
        delim, quote = _core_dialect(d)
        head = np.empty(min(size, 64 << 10), np.uint8)
        pread(head, 0, 0, len(head))
        if compression_of(bytes(head[:8])) is not None:
            return None
        start = check_encoding_prefix(bytes(head[:4]), path)
        while True:  # skip_rows: read on until the lines to skip end
            start0 = _skip_lines(head, start, d.skip_rows, len(head) == size)
            if start0 >= 0:
                break
            if len(head) > MAX_ROW_BYTES:
                return None
            more = np.empty(min(size, 2 * len(head)), np.uint8)
            pread(more, 0, 0, len(more))
            head = more
        header_fields, line = None, 1
        if d.header:  # (split as _run_stream does; anything unusual: the usual path)
            final = len(head) == size
            status, header_fields, nxt = _core.split_row(head, start0, len(head), final,
                                                         delim, quote)
            if status != _S["OK"] or not header_fields:
                return None
            line = _core.count_lines(
                head, 0, _header_start(head, start0, len(head), final, delim, quote)
            ) + 1
            start0 = nxt
        binding = _bind(result, schema, header_fields, line)
        result.bytes_in = size
        if inspect is not None:
            inspect(head, 0, start0)
        lines0 = _core.count_lines(head, 0, start0)
        # every row takes at least one byte per field (delimiters and its line break)
        bound = (size - start0) // max(1, binding.nfields) + 1
        if bound * itemsize > _MAX_RESERVE_BYTES:
            return None
        mem = memory.reserve(bound * itemsize, dtype)
        if mem is None:
            return None
        out = mem.array.view(np.uint8)
        span = size - start0
        chunk = piece or max(64 << 10, min(PLAIN_PIECE_BYTES, span // (4 * workers) + 1))
        nchunks = max(1, -(-span // chunk))
        run = _PlainRun(nchunks)

        def work() -> None:
            parser = make_parser(binding)
            buf = np.empty(chunk + _PIECE_SLACK + 1, np.uint8)
            while True:
                k = -1
                try:  # (a piece taken is always counted or failed: later ones wait for it)
                    with run.cond:
                        k = run.next
                        run.next += 1
                        if k >= nchunks or k > run.stop:
                            return
                    buf = _plain_piece(run, k, buf, parser, out, pread, inspect, size,
                                       start0, chunk, nchunks, bound, itemsize, quote)
                except BaseException as e:  # (the first piece in input order decides)
                    # not for this path (a quote found late): every piece stops now, not
                    # only those after it: the usual path reads the file again anyway
                    run.fail(-1 if isinstance(e, _NotPlain) else k, e)
                    return
                if buf is None:
                    return

        def worker() -> None:
            try:
                work()
            finally:
                with run.cond:
                    run.running -= 1
                    run.cond.notify_all()

        threads = [
            threading.Thread(target=worker, name="fastetl-plain") for _ in range(workers - 1)
        ]
        stopped: BaseException | None = None
        closable = False
        try:
            for t in threads:
                with run.cond:
                    run.running += 1
                try:
                    t.start()
                except BaseException:
                    if t.ident is None:  # (it never ran)
                        with run.cond:
                            run.running -= 1
                    raise
            work()
        except BaseException as e:  # (an interrupt, or no memory for a worker's buffer)
            stopped = e
            raise
        finally:
            try:
                _stop_and_join(run, threads, stopped)
            finally:
                closable = run.running <= 0
    finally:
        if closable:  # (else leaked: no worker reads from a number the process may
            os.close(fd)  # give another file)
    if run.failed:
        k = min(run.failed)
        what = run.failed[k]
        if isinstance(what, _NotPlain):
            return None
        if isinstance(what, BaseException):
            raise what
        res, data, base, lines_in = what
        pos = _Position(data, lines0 + sum(run.counts[j] for j in range(k)) - lines_in, base)
        raise _parse_error(res, pos, binding, sum(run.rows[j] for j in range(k)) + res[1])
    _close_gaps(run, out, itemsize)  # (the workers closed them all, but for a stop)
    if run.moved != nchunks:  # pragma: no cover - every piece is parsed and moved
        raise AssertionError("internal error: a piece of the file was not put in place")
    out = None  # (the workers' view of the reservation, dropped: it may be cut now)
    from .store import _kept  # (late: a read into memory needs no store)

    return _kept(mem, None, run.placed)  # (as ArrayWriter.result)


def _close_gaps(run: _PlainRun, out: np.ndarray, itemsize: int) -> None:
    """Move the records of the pieces parsed so far, in input order, to just after the
    records before them: a piece with fewer rows than line breaks (a blank or comment
    line: numpy.savetxt's header is one) leaves a gap after its records.  Done by
    whichever worker finds the next piece parsed, while the others parse on (this was one
    pass over the whole result on one thread, after the parse); one worker moves at a
    time, in order (a piece's new place may overlap where the piece before it was)."""
    while True:
        with run.cond:
            k = run.moved
            if run.moving or k not in run.rows:
                return
            run.moving = True
        n, at, to = run.rows[k] * itemsize, run.offsets[k] * itemsize, run.placed * itemsize
        try:
            if at != to and n:
                out[to : to + n] = out[at : at + n]  # (numpy copies overlaps safely)
        finally:
            with run.cond:
                run.placed += run.rows[k]
                run.moved = k + 1
                run.moving = False


def _stop_and_join(run: _PlainRun, threads: list[threading.Thread],
                   stopped: BaseException | None) -> None:
    """Wait for every worker of ``run`` to be done; when the calling thread stopped
    (``stopped``) or is interrupted while it waits, the workers are stopped first (those
    waiting for an earlier piece's count wake up), and an interrupt is raised once all
    are done.  Done is counted by the workers themselves: a Thread.join interrupted by
    Ctrl-C may mark a thread still running as stopped (CPython 3.11)."""
    interrupt: BaseException | None = None
    while True:
        try:
            if stopped is not None:
                run.fail(-1, stopped)
            with run.cond:
                run.cond.wait_for(lambda: run.running <= 0)
            for t in threads:  # (about to end: done with the file)
                if t.is_alive():
                    t.join()
            break
        except BaseException as e:  # (a second interrupt: stop them all the same)
            stopped = interrupt = e
    if interrupt is not None:
        raise interrupt


def _piece_cuts(
    read: Callable[[np.ndarray, int, int, int], None], buf: np.ndarray, first: int, lo: int,
    hi: int, size: int, slack: int, limit: int,
) -> tuple[np.ndarray, int, int, int] | None:
    """The piece ``[lo, hi)`` of a file of ``size`` bytes read into ``buf`` (or a bigger
    buffer) by ``read(buf, at, offset, n)``, from ``first`` (``lo``, or ``lo - 1``: whether a
    line ends just before the piece) to ``slack`` bytes past ``hi``, and on (twice as much
    each time) until its last row ends, and cut where rows would start were no line break
    quoted: ``(buf, have, s, e)``, its rows are those in ``buf[s:e]`` (``buf[:have]`` read;
    CRLF: the same cut for the piece that ends there and the one that starts there).  No
    row starts in the piece: ``s == e``, ``have`` where no line break was read after ``lo``
    (not read on: that row is the piece before's).  None: past ``limit`` bytes."""
    have = min(size, hi + slack) - first
    if have > len(buf):
        buf = np.empty(have, np.uint8)
    read(buf, 0, first, have)
    while True:
        s = 0 if first == lo else int(_core.line_start_after(buf[:have], 0))
        if first + s >= hi:  # no row starts in this piece
            return buf, have, min(s, have), min(s, have)
        e = have if hi >= size else int(_core.line_start_after(buf[:have], hi - 1 - first))
        if e < have or first + have >= size:  # (at EOF: the last row ends there)
            return buf, have, s, min(e, have)
        if have > limit:
            return None
        bigger = np.empty(min(size - first, 2 * have), np.uint8)
        bigger[:have] = buf[:have]
        read(bigger, have, first + have, len(bigger) - have)
        buf, have = bigger, len(bigger)


def _plain_piece(
    run: _PlainRun, k: int, buf: np.ndarray, parser: _core.Parser, out: np.ndarray,
    pread: Callable[[np.ndarray, int, int, int], None],
    inspect: Callable[[Any, int, int], None] | None, size: int, start0: int,
    chunk: int, nchunks: int, bound: int, itemsize: int, quote: int = -1,
) -> np.ndarray | None:
    """Read, count and parse piece ``k`` (the rows that start in its bytes) into ``out``,
    in ``buf`` (or a bigger buffer, returned to be kept); None: stop (an earlier piece failed
    or this one holds a bad row).  A ``quote`` byte in the piece: _NotPlain (a quoted line
    break would make the count of its line breaks no bound on its rows)."""
    lo = start0 + k * chunk
    first = lo if k == 0 else lo - 1  # buf[0]: the byte before the piece, whether a line ends there
    cuts = _piece_cuts(pread, buf, first, lo, min(size, lo + chunk), size, _PIECE_SLACK,
                       chunk + MAX_ROW_BYTES)
    if cuts is None:
        raise _NotPlain  # one row longer than a row may be: the usual path says so
    buf, have, s, e = cuts
    data = buf[:have]
    lines = _core.count_lines(data, s, e, quote)  # (and no quote byte: one pass where it can)
    if lines < 0:
        raise _NotPlain
    if inspect is not None:
        inspect(data, s, e)
    cap = lines + (1 if first + e == size else 0)  # (a last line with no line break)
    with run.cond:
        run.counts[k] = lines
        while len(run.offsets) - 1 in run.counts:  # (as far as the pieces are counted)
            j = len(run.offsets) - 1
            run.offsets.append(run.offsets[j] + run.counts[j])
        run.cond.notify_all()
        run.cond.wait_for(lambda: len(run.offsets) > k or run.stop < k)
        if run.stop < k:
            return None
        at = run.offsets[k]
    if at + cap > bound:  # more lines than the rows reserved for (blank or comment lines)
        raise _NotPlain
    res = parser.parse(data, s, e, True, out, at, cap)
    if res[0] != _S["OK"] or res[2] != e:
        if res[0] == _S["OK"]:  # pragma: no cover - rows never exceed line breaks
            raise AssertionError("internal error: a piece was not parsed to its end")
        run.fail(k, (res, data, first, _core.count_lines(data, 0, s)))
        return None
    with run.cond:
        run.rows[k] = res[1]
    _close_gaps(run, out, itemsize)
    return buf


# -- the entry points of the API's readers (``fastetl.api`` takes them from here: a
# drop-in read needs these, not the API's outputs, checkpoints or lineage) -----------


def _positive(name: str, value: Any) -> None:
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
        raise ValueError(f"{name} must be a positive whole number, got {value!r}")


def check_options(block_size: int | None, workers: int | None) -> None:
    _positive("block_size", block_size)
    _positive("workers", workers)


def cpu_count() -> int:
    """Cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


def workers_for(workers: int | None, source: Source, block_size: int | None) -> int:
    """Threads worth starting: no more than there are blocks to parse."""
    want = workers if workers is not None else cpu_count()
    if source.size is not None and source.is_buffer:
        blocks = -(-source.size // (block_size or DEFAULT_BLOCK_SIZE))
        want = min(want, max(1, blocks))
    return want


def decoding(schema: Schema, result: RunResult) -> dict[str, Any]:
    """What a reader needs, besides the schema, to turn the records into values: the
    category dictionaries, the flag bit names, the null conventions (in the sidecar of
    :func:`fastetl.convert` and in the ``meta`` of the Table :func:`fastetl.read_csv`
    returns)."""
    return {
        "categories": {
            c.name: list(c.values) if c.values is not None else result.categories.get(c.name, [])
            for c in schema.columns
            if c.type == "category"
        },
        "flags": {f.name: [b.name for b in f.bits] for f in schema.flags},
        "nulls": {
            "float": "NaN",
            "date": "NaT",
            "datetime": "NaT",
            "mask_fields": [name for name, _ in schema.null_fields()],
            "null_bits": [c.name for c in schema.masked_columns],
        },
    }


def read_into(
    src: Any,
    schema: Schema,
    writer: Any,
    *,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict:
    """Read the CSV ``src`` with ``schema`` into the caller's ``writer`` (the protocol of
    :class:`fastetl.pipeline.Writer`: it gets each block's records in input order, so it
    may keep them in another shape, as the pandas drop-in keeps columns).  Bad rows
    raise (``on_error="raise"``), no widening; ``progress`` is called now and then with
    the input bytes done (those before it are not read again).  Returns what
    :func:`fastetl.read_csv`'s Table keeps in ``meta`` beside the records: the row count and
    the decoding facts."""
    check_options(None, workers)
    with open_source(src, schema.dialect.encoding) as source:
        result = run(source, schema, writer, None, workers_for(workers, source, None), progress)
    return {"rows": result.rows, **decoding(schema, result)}
