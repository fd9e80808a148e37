"""Reader -> splitter -> parser -> writer: drives the core over a whole input.

The input arrives as one buffer (a memory-mapped file, bytes) or as a stream of
chunks (stdin, pipes, compressed files).  Either way the core is handed ranges
of bytes and reports how many whole rows it turned into records; the rest of a
range (a row cut by the block end) is handed again with the next bytes.  Rows
are written in input order into the writer's windows.

Errors from the core come back as a status and a byte position; this module
turns them into :class:`~fastetl.errors.ParseError` with the physical line
number, the column name and the offending text.
"""

from __future__ import annotations

import queue
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from . import _core
from .errors import ParseError
from .layout import learned_categories, make_parser
from .schema import Binding, Schema
from .sources import Source, check_encoding_prefix

DEFAULT_BLOCK_SIZE = 4 << 20
MAX_ROW_BYTES = 256 << 20  # a streamed row longer than this is refused, not buffered forever
_S = _core.STATUS
_NEED_MORE = -1
_VALUE_DISPLAY = 200


class Writer(Protocol):
    rows: int
    itemsize: int

    @property
    def window_rows(self) -> int: ...

    def window(self, nrows: int, exact: bool = True) -> Any: ...

    def advance(self, nrows: int) -> None: ...


@dataclass
class RunResult:
    """What a run produced, besides the records."""

    rows: int = 0
    bytes_in: int = 0
    header: list[str] | None = None
    binding: Binding | None = None
    categories: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class _Position:
    """Where the bytes handed to the core sit in the whole input."""

    data: Any  # the buffer the core reads
    lines_before: int = 0  # line breaks in the input before data[0]
    base: int = 0  # offset in the input of data[0]

    def line_of(self, offset: int) -> int:
        return self.lines_before + _core.count_lines(self.data, 0, offset) + 1

    def offset_of(self, offset: int) -> int:
        return self.base + offset


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
    if status == _S["FLAG_BOOL"]:
        return f"is not a valid bool (for flag bit {', '.join(bit_names)})"
    return f"could not be converted (status {status})"  # pragma: no cover


def _parse_error(res: tuple, pos: _Position, binding: Binding, row_index: int) -> ParseError:
    status, _rows, _consumed, row_start, fld, fstart, flen, quoted, nfound = res[:9]
    data = pos.data
    if status in (_S["TOO_MANY_FIELDS"], _S["TOO_FEW_FIELDS"]):
        return ParseError(
            f"expected {binding.nfields} fields, found {nfound}",
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
    raw = bytes(data[fstart : fstart + flen])
    if quoted and binding.schema.dialect.quote:
        q = binding.schema.dialect.quote.encode()
        raw = raw.replace(q + q, q)
    text = _decode(raw)
    if len(text) > _VALUE_DISPLAY:
        text = text[:_VALUE_DISPLAY] + "..."
    bits = [b.name for _, _, b in bound.flag_bits]
    field_at = fstart - 1 if quoted else fstart  # a quoted field starts at its quote
    return ParseError(
        _reason(status, bound.column, bits),
        line=pos.line_of(field_at),
        column=bound.source_name,
        value=text,
        offset=pos.offset_of(field_at),
        row=row_index,
    )


def _parse_range(
    parser: _core.Parser,
    pos: _Position,
    start: int,
    end: int,
    final: bool,
    writer: Writer,
    binding: Binding,
) -> int:
    """Parse the whole rows of data[start:end] into the writer; returns where to go on."""
    while True:
        win = writer.window(writer.window_rows, exact=False)
        wrows = len(win) // writer.itemsize
        res = parser.parse(pos.data, start, end, final, win, 0, wrows)
        status, rows, consumed = res[0], res[1], res[2]
        writer.advance(rows)
        start = consumed
        if status != _S["OK"]:
            raise _parse_error(res, pos, binding, writer.rows)
        if rows < wrows:
            return start


def _header_error(status: int, pos: _Position, at: int) -> ParseError:
    what = (
        "a quoted field in the header is never closed"
        if status == _S["UNTERMINATED"]
        else "unexpected text after a closing quote in the header"
    )
    return ParseError(what, line=pos.line_of(at), offset=pos.offset_of(at), row=None)


def _bind(result: RunResult, schema: Schema, header_fields: list[bytes] | None) -> Binding:
    """Bind the schema to the header (or to column order), recording both in ``result``."""
    names = None
    if header_fields is not None:
        try:
            names = [f.decode("utf-8") for f in header_fields]
        except UnicodeDecodeError:
            raise ParseError("the header is not valid UTF-8", line=1) from None
    result.header = names
    result.binding = schema.bind(names)
    return result.binding


def _core_dialect(d: Any) -> tuple[int, int]:
    """(delimiter, quote) as the core takes them; quote -1 means no quoting."""
    return ord(d.delimiter), ord(d.quote) if d.quote else -1


def _done(result: RunResult, writer: Writer, categories: dict[str, list[str]]) -> RunResult:
    result.rows = writer.rows
    result.categories = categories
    return result


def run(
    source: Source,
    schema: Schema,
    writer: Writer,
    block_size: int | None = None,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
) -> RunResult:
    """Convert the whole input into records in ``writer``, with ``workers`` threads.

    ``progress`` is called now and then with the input bytes handled so far.
    """
    block = int(block_size or DEFAULT_BLOCK_SIZE)
    if block < 1:
        raise ValueError("block_size must be at least 1 byte")
    if workers < 1:
        raise ValueError("workers must be at least 1")
    tick = progress or _no_progress
    if source.is_buffer:
        report = tick

        def tick(done: int) -> None:  # also hand parsed input back to the OS
            source.release(done)
            report(done)

        return _run_buffer(source, schema, writer, block, workers, tick)
    return _run_stream(source, schema, writer, block, workers, tick)


def _no_progress(done: int) -> None:
    pass


def estimate_rows(source: Source, sample: int = 1 << 20) -> int:
    """About how many rows the input holds (from the line density of its start)."""
    if not source.is_buffer:
        return 1024
    n = len(source.buffer)
    head = min(n, sample)
    lines = _core.count_lines(source.buffer, 0, head)
    if head == n:
        return lines + 1
    return int(n * (lines + 1) / head * 1.05) + 16


def _dictionaries(parser: _core.Parser, binding: Binding) -> dict[str, list[str]]:
    out = {}
    for i, bound in enumerate(binding.fields):
        if bound is not None and bound.column is not None and bound.column.type == "category":
            out[bound.column.name] = [v.decode("utf-8") for v in parser.categories(i)]
    return out


def _run_buffer(
    source: Source,
    schema: Schema,
    writer: Writer,
    block: int,
    workers: int,
    tick: Callable[[int], None],
) -> RunResult:
    data = source.buffer
    n = len(data)
    d = schema.dialect
    delim, quote = _core_dialect(d)
    pos = _Position(data)
    start = check_encoding_prefix(bytes(data[:4]), source.name)
    result = RunResult(bytes_in=n)
    header_fields = None
    if d.header:
        status, fields, nxt = _core.split_row(data, start, n, True, delim, quote)
        if status > 0:
            raise _header_error(status, pos, nxt)
        if not fields:  # empty file (or only blank lines): no header, no rows
            return result
        header_fields, start = fields, nxt
    binding = _bind(result, schema, header_fields)
    if workers > 1:
        blocks = _buffer_blocks(data, start, n, block, delim, quote)
        return _done(result, writer, _run_parallel(blocks, binding, writer, workers, tick))
    parser = make_parser(binding)
    end = min(n, start + block)
    while True:
        final = end >= n
        new = _parse_range(parser, pos, start, end, final, writer, binding)
        tick(new)
        if final:
            break
        if new == start:  # one row is longer than the block: look further
            end = min(n, end + max(block, end - start))
        else:
            start = new
            end = min(n, start + block)
    return _done(result, writer, _dictionaries(parser, binding))


def _run_stream(
    source: Source,
    schema: Schema,
    writer: Writer,
    block: int,
    workers: int,
    tick: Callable[[int], None],
) -> RunResult:
    d = schema.dialect
    delim, quote = _core_dialect(d)
    result = RunResult()
    data = b""
    eof = False
    lines_before = 0
    base = 0  # input offset of data[0]

    def more(keep_from: int) -> None:
        nonlocal data, eof, lines_before, base
        chunk = source.read(max(block, len(data) - keep_from))
        result.bytes_in += len(chunk)
        lines_before += _core.count_lines(data, 0, keep_from)
        base += keep_from
        data = data[keep_from:] + chunk
        eof = not chunk
        if len(data) - len(chunk) > MAX_ROW_BYTES:
            # what is carried over is one row that has not ended yet
            raise ParseError(
                f"a row is longer than {MAX_ROW_BYTES >> 20} MiB; is a quote left open?",
                line=lines_before + 1,
            )

    more(0)
    while len(data) < 4 and not eof:
        more(0)
    start = check_encoding_prefix(data[:4], source.name)
    header_fields = None
    if d.header:
        while True:
            status, fields, nxt = _core.split_row(data, start, len(data), eof, delim, quote)
            if status != _NEED_MORE:
                break
            more(0)
        if status > 0:
            raise _header_error(status, _Position(data, lines_before, base), nxt)
        if not fields:
            return result
        header_fields, start = fields, nxt
    binding = _bind(result, schema, header_fields)
    if workers > 1:

        def read(n: int) -> bytes:
            chunk = source.read(n)
            result.bytes_in += len(chunk)
            return chunk

        blocks = _stream_blocks(read, data, start, eof, base, lines_before, block, delim, quote)
        return _done(result, writer, _run_parallel(blocks, binding, writer, workers, tick))
    parser = make_parser(binding)
    while True:
        start = _parse_range(
            parser, _Position(data, lines_before, base), start, len(data), eof, writer, binding
        )
        if eof:
            break
        tick(result.bytes_in)
        more(start)
        start = 0
    return _done(result, writer, _dictionaries(parser, binding))


# -- the parallel path -------------------------------------------------------------
# A splitter (this thread) cuts the input into blocks of whole rows with the
# core's own tokenizer, so quoted line breaks never split a row.  Worker threads,
# each with its own Parser, turn blocks into records in private buffers; the
# committer (this thread again) takes finished blocks strictly in input order,
# maps each worker's category codes to the global dictionary (codes in order of
# first appearance in the input, exactly as one thread would give them) and
# copies the records into the writer.  At most 2 blocks per worker are in
# flight, so memory stays bounded whatever the input size.


@dataclass
class _Block:
    data: Any  # the buffer holding the block
    start: int  # first byte of the block in data
    end: int  # end of the block in data (a row start, or the end of the input)
    base: int  # input offset of data[0]
    lines_before: int  # line breaks in the input before data[0]
    final: bool = True  # the block ends with its last row (no row continues past end)


@dataclass
class _Done:
    block: _Block
    parser_id: int
    records: np.ndarray
    error: tuple | None  # the core's result tuple when a row was bad
    new_values: list[list[bytes]]  # per learned category: values the parser added


def _buffer_blocks(data: Any, start: int, n: int, block: int, delim: int, quote: int) -> Any:
    while start < n:
        status, cut = _core.next_row_start(data, start, start + block, n, True, delim, quote)
        if status != _S["OK"]:
            cut = n  # a broken row lies ahead: the worker that meets it reports it
        yield _Block(data, start, cut, 0, 0)
        start = cut


def _stream_blocks(
    read: Any,
    data: bytes,
    start: int,
    eof: bool,
    base: int,
    lines_before: int,
    block: int,
    delim: int,
    quote: int,
) -> Any:
    while True:
        if eof:
            if start < len(data):
                yield _Block(data, start, len(data), base, lines_before)
            return
        status, cut = _core.next_row_start(data, start, len(data), len(data), False, delim, quote)
        if status > 0:  # text after a closing quote: definite, whatever follows
            yield _Block(data, start, len(data), base, lines_before, final=False)
            return
        if cut > start:
            yield _Block(data, start, cut, base, lines_before)
            lines_before += _core.count_lines(data, 0, cut)
            base += cut
            data, start = data[cut:], 0
        elif len(data) - start > MAX_ROW_BYTES:
            raise ParseError(
                f"a row is longer than {MAX_ROW_BYTES >> 20} MiB; is a quote left open?",
                line=lines_before + _core.count_lines(data, 0, start) + 1,
                offset=base + start,
            )
        chunk = read(max(block, len(data) - start))
        eof = not chunk
        data = data + chunk


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


def _work(
    block: _Block,
    parsers: queue.SimpleQueue,
    dtype: np.dtype,
    learned: list[int],
    guess: _RowsPerByte,
) -> _Done:
    pid, parser = parsers.get()
    try:
        before = [parser.category_count(i) for i in learned]
        cap = guess.capacity(block.end - block.start)
        recs = np.empty(cap, dtype)
        rows, pos = 0, block.start
        while True:
            res = parser.parse(
                block.data, pos, block.end, block.final, recs.view(np.uint8), rows, cap - rows
            )
            rows += res[1]
            pos = res[2]
            if res[0] != _S["OK"] or rows < cap:
                break
            cap *= 2
            bigger = np.empty(cap, dtype)
            bigger[:rows] = recs[:rows]
            recs = bigger
        guess.add(rows, pos - block.start)
        new_values = [parser.categories(i, b) for i, b in zip(learned, before, strict=True)]
        return _Done(block, pid, recs[:rows], res if res[0] != _S["OK"] else None, new_values)
    finally:
        parsers.put((pid, parser))


class _Committer:
    """Puts finished blocks into the writer in input order, with global category codes."""

    def __init__(self, writer: Writer, binding: Binding, workers: int) -> None:
        self.writer = writer
        self.binding = binding
        self.dtype = binding.schema.dtype()
        self.learned = learned_categories(binding)
        self.values: list[list[bytes]] = [[] for _ in self.learned]
        self.codes: list[dict[bytes, int]] = [{} for _ in self.learned]
        # per parser, per learned category: local code -> global code
        self.maps = [[np.zeros(0, np.int64) for _ in self.learned] for _ in range(workers)]

    def commit(self, done: _Done) -> None:
        err = done.error
        if err is not None and err[0] == _S["CATEGORY_FULL"]:
            self._exact_error(done)
        for k, (_, col) in enumerate(self.learned):
            new = done.new_values[k]
            if not new:
                continue
            codes, values = self.codes[k], self.values[k]
            ext = np.empty(len(new), np.int64)
            for j, v in enumerate(new):
                code = codes.get(v)
                if code is None:
                    if len(values) >= col.category_limit:
                        self._exact_error(done)
                    code = codes[v] = len(values)
                    values.append(v)
                ext[j] = code
            self.maps[done.parser_id][k] = np.concatenate([self.maps[done.parser_id][k], ext])
        recs = done.records
        n = len(recs)
        if n:
            for k, (i, col) in enumerate(self.learned):
                table = self.maps[done.parser_id][k]
                local = recs[col.name]
                bit = self.binding.fields[i].null_bit  # type: ignore[union-attr]
                if bit < 0:
                    recs[col.name] = table[local]
                    continue
                # null rows keep code 0, as a single thread writes them
                nulls = (recs[_null_field(bit)] >> np.uint64(bit % 64) & np.uint64(1)).astype(bool)
                valued = ~nulls
                local[valued] = table[local[valued]]
            win = self.writer.window(n)
            np.frombuffer(win, dtype=self.dtype)[:] = recs
            self.writer.advance(n)
        if err is not None:
            b = done.block
            pos = _Position(b.data, b.lines_before, b.base)
            raise _parse_error(err, pos, self.binding, self.writer.rows)
        if not done.block.final:  # pragma: no cover - the splitter saw an error here
            raise AssertionError("internal error: a block cut before a bad row parsed clean")

    def _exact_error(self, done: _Done) -> None:
        """Too many distinct values: find the exact row by parsing the block again,
        one thread, starting from the global dictionaries."""
        seed = {
            col.name: [v.decode("utf-8") for v in vals]
            for (_, col), vals in zip(self.learned, self.values, strict=True)
        }
        parser = make_parser(self.binding, seed)
        b = done.block
        scratch = np.empty(1024, self.dtype)
        pos, rows = b.start, 0
        while True:
            res = parser.parse(b.data, pos, b.end, b.final, scratch.view(np.uint8), 0, 1024)
            rows += res[1]
            pos = res[2]
            if res[0] != _S["OK"]:
                where = _Position(b.data, b.lines_before, b.base)
                raise _parse_error(res, where, self.binding, self.writer.rows + rows)
            if res[1] == 0:  # pragma: no cover - the workers saw an error in this block
                raise AssertionError("internal error: category overflow not reproduced")

    def categories(self) -> dict[str, list[str]]:
        return {
            col.name: [v.decode("utf-8") for v in vals]
            for (_, col), vals in zip(self.learned, self.values, strict=True)
        }


def _null_field(bit: int) -> str:
    return "_nulls" if bit < 64 else f"_nulls{bit // 64}"


def _run_parallel(
    blocks: Any,
    binding: Binding,
    writer: Writer,
    workers: int,
    tick: Callable[[int], None],
) -> dict:
    """Parse the blocks on ``workers`` threads; returns the learned dictionaries."""
    parsers: queue.SimpleQueue = queue.SimpleQueue()
    for i in range(workers):
        parsers.put((i, make_parser(binding)))
    committer = _Committer(writer, binding, workers)
    learned = [i for i, _ in committer.learned]
    guess = _RowsPerByte()
    dtype = committer.dtype
    pending: deque[Future[_Done]] = deque()
    with ThreadPoolExecutor(workers, thread_name_prefix="fastetl") as pool:
        try:
            for block in blocks:
                pending.append(pool.submit(_work, block, parsers, dtype, learned, guess))
                while len(pending) > 2 * workers:
                    done = pending.popleft().result()
                    committer.commit(done)
                    tick(done.block.base + done.block.end)
            while pending:
                done = pending.popleft().result()
                committer.commit(done)
                tick(done.block.base + done.block.end)
        except BaseException:
            for f in pending:
                f.cancel()
            raise
    return committer.categories()
