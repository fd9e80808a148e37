"""The exception hierarchy.

Every error fastetl raises on purpose derives from :class:`FastETLError`, so a
caller can catch them all at once; each also derives from the builtin a Python
programmer would expect (``ValueError`` for bad data and bad schemas, ``OSError``
for input/output), so existing ``except ValueError`` blocks keep working.
"""

from __future__ import annotations

# Messages quote at most this many characters of a value or a name (what is cut is
# said: an ellipsis and the full length).  One error line was once 6.3 MB.
SHOWN_CHARS = 200
# The CLI's last guard: no line it prints for an error is longer than this.
MAX_LINE_CHARS = 2000


def escape(text: str) -> str:
    """``text`` with every character that is not printable (control characters, line
    and paragraph separators, lone surrogates ...) written as its Python escape
    (``\\n``, ``\\x1b``, ``\\u2028``), so a message stays one line of plain text."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def shown(
    text: object,
    *,
    quote: str | None = "'",
    limit: int = SHOWN_CHARS,
    length: int | None = None,
    unit: str = "characters",
) -> str:
    """``text`` as a message quotes it: at most ``limit`` characters, escaped (with
    ``quote="'"``: as ``repr`` writes a string; with ``quote='"'``, or None for no
    quotes: characters that are not printable escaped).  When it is cut -- ``text``
    is longer than ``limit``, or it is only the start of a value ``length`` ``unit``
    long -- an ellipsis and the whole length follow: ``'abc'… (6,291,456 bytes)``."""
    if not isinstance(text, str):  # a wrong type in a schema: its repr, cut the same way
        r = repr(text)
        return escape(r[:limit]) + (f"… ({len(r):,} characters)" if len(r) > limit else "")
    excerpt = text[:limit]
    cut = length is not None or len(text) > limit
    if length is None:
        length, unit = len(text), "characters"
    if quote == "'":
        body = repr(excerpt)
    else:
        q = quote or ""
        body = f"{q}{escape(excerpt)}{q}"
    return f"{body}… ({length:,} {unit})" if cut else body


def one_line(message: str, limit: int = MAX_LINE_CHARS) -> str:
    """A whole message made one printable line of at most about ``limit`` characters
    (the guard for any message built from data without :func:`shown`)."""
    line = escape(message[: limit + 1])
    if len(line) > limit or len(message) > limit:
        return f"{line[:limit]}… (message of {len(message):,} characters cut)"
    return line


class FastETLError(Exception):
    """Base class of every error raised by fastetl."""


class SchemaError(FastETLError, ValueError):
    """A schema (or an option that shapes it) is invalid."""


class ParseError(FastETLError, ValueError):
    """A value, a row or the CSV structure itself is invalid.

    Attributes locate the problem in the input:

    ``line``    physical line number in the input (1-based; quoted newlines count)
    ``column``  the column's name, or ``None`` for structural errors
    ``value``   the offending text (decoded for display), or ``None``; of a long
                value only its first characters (see ``value_bytes``)
    ``value_bytes`` when ``value`` is only the start of a longer value (messages
                show at most 200 characters, and only that much is read), the
                whole value's length in bytes; else ``None``
    ``reason``  what is wrong, e.g. ``"is not a valid float64"``
    ``offset``  byte offset of the offending field (or row) in the input
    ``row``     0-based index of the data row (header excluded), when known
    """

    def __init__(
        self,
        reason: str,
        *,
        line: int | None = None,
        column: str | None = None,
        value: str | None = None,
        offset: int | None = None,
        row: int | None = None,
        value_bytes: int | None = None,
    ) -> None:
        self.reason = reason
        self.line = line
        self.column = column
        self.value = value
        self.offset = offset
        self.row = row
        self.value_bytes = value_bytes
        super().__init__(self._format())

    def _format(self) -> str:
        parts = []
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.column is not None:
            parts.append("column " + shown(self.column, quote='"'))
        where = ", ".join(parts)
        if self.value is not None:
            what = f"{shown(self.value, length=self.value_bytes, unit='bytes')} {self.reason}"
        else:
            what = self.reason
        return f"{where}: {what}" if where else what

    def __reduce__(self):  # keep the attributes across pickling (e.g. multiprocessing)
        kwargs = {
            "line": self.line,
            "column": self.column,
            "value": self.value,
            "offset": self.offset,
            "row": self.row,
            "value_bytes": self.value_bytes,
        }
        return (_rebuild_parse_error, (self.reason, kwargs))


def _rebuild_parse_error(reason: str, kwargs: dict) -> ParseError:
    return ParseError(reason, **kwargs)


class EncodingGuessWarning(UserWarning):
    """The input is not UTF-8 and its bytes do not look like the encoding inference chose
    (the values may be mojibake): give the encoding."""


class OutputError(FastETLError, OSError):
    """The output could not be written (or an existing output could not be read)."""


class Interrupted(KeyboardInterrupt):
    """A conversion was interrupted (Ctrl-C, or SIGTERM: ``terminated``).  The output
    was not changed -- unless ``committed``: the interrupt came after the commit
    point, the commit was finished first, and the output holds the whole conversion.

    ``resume_rows`` is how many rows a ``resume=True`` run keeps from the last
    checkpoint, or ``None`` when there is none to resume from.  ``earlier``: the
    interrupt came as the run completed an earlier run's unfinished commit into the
    output (which now holds that run's conversion); this conversion had not started.
    """

    def __init__(
        self,
        resume_rows: int | None,
        terminated: bool = False,
        committed: bool = False,
        earlier: bool = False,
    ) -> None:
        self.resume_rows = resume_rows
        self.terminated = terminated
        self.committed = committed
        self.earlier = earlier
        what = "terminated" if terminated else "interrupted"
        if earlier:
            text = (
                f"{what} as an earlier run's unfinished commit into the output was completed "
                "(the output holds that run's conversion); this conversion did not start"
            )
        elif committed:
            text = f"{what} after the conversion was complete: the output holds all of it"
        else:
            text = what + "; the output was not changed"
            if resume_rows is not None:
                text += f"; resume to continue after row {resume_rows:,}"
        super().__init__(text)
