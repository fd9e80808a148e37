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

from dataclasses import dataclass, field
from typing import Any, Protocol

from . import _core
from .errors import ParseError, SchemaError
from .layout import make_parser
from .schema import Binding, Schema
from .sources import Source, check_encoding_prefix

DEFAULT_BLOCK_SIZE = 4 << 20
MAX_ROW_BYTES = 256 << 20  # a streamed row longer than this is refused, not buffered forever
_S = _core.STATUS
_NEED_MORE = -1
_VALUE_DISPLAY = 200


class Writer(Protocol):
    rows: int

    @property
    def window_rows(self) -> int: ...

    def window(self, nrows: int) -> Any: ...

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
    status, _rows, _consumed, row_start, fld, fstart, flen, quoted, nfound = res
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
    wrows = writer.window_rows
    while True:
        win = writer.window(wrows)
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


def _bind(schema: Schema, header_fields: list[bytes] | None) -> tuple[list[str] | None, Binding]:
    if header_fields is None:
        return None, schema.bind(None)
    try:
        names = [f.decode("utf-8") for f in header_fields]
    except UnicodeDecodeError:
        raise ParseError("the header is not valid UTF-8", line=1) from None
    return names, schema.bind(names)


def run(source: Source, schema: Schema, writer: Writer, block_size: int | None = None) -> RunResult:
    """Convert the whole input into records in ``writer``."""
    block = int(block_size or DEFAULT_BLOCK_SIZE)
    if block < 1:
        raise SchemaError("block_size must be at least 1 byte")
    if source.is_buffer:
        return _run_buffer(source, schema, writer, block)
    return _run_stream(source, schema, writer, block)


def _dictionaries(parser: _core.Parser, binding: Binding) -> dict[str, list[str]]:
    out = {}
    for i, bound in enumerate(binding.fields):
        if bound is not None and bound.column is not None and bound.column.type == "category":
            out[bound.column.name] = [v.decode("utf-8") for v in parser.categories(i)]
    return out


def _run_buffer(source: Source, schema: Schema, writer: Writer, block: int) -> RunResult:
    data = source.buffer
    n = len(data)
    d = schema.dialect
    delim, quote = ord(d.delimiter), ord(d.quote) if d.quote else -1
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
    result.header, binding = _bind(schema, header_fields)
    result.binding = binding
    parser = make_parser(binding)
    end = min(n, start + block)
    while True:
        final = end >= n
        new = _parse_range(parser, pos, start, end, final, writer, binding)
        if final:
            break
        if new == start:  # one row is longer than the block: look further
            end = min(n, end + max(block, end - start))
        else:
            start = new
            end = min(n, start + block)
    result.rows = writer.rows
    result.categories = _dictionaries(parser, binding)
    return result


def _run_stream(source: Source, schema: Schema, writer: Writer, block: int) -> RunResult:
    d = schema.dialect
    delim, quote = ord(d.delimiter), ord(d.quote) if d.quote else -1
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
    result.header, binding = _bind(schema, header_fields)
    result.binding = binding
    parser = make_parser(binding)
    while True:
        start = _parse_range(
            parser, _Position(data, lines_before, base), start, len(data), eof, writer, binding
        )
        if eof:
            break
        more(start)
        start = 0
    result.rows = writer.rows
    result.categories = _dictionaries(parser, binding)
    return result
