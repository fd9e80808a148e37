"""The exception hierarchy.

Every error fastetl raises on purpose derives from :class:`FastETLError`, so a
caller can catch them all at once; each also derives from the builtin a Python
programmer would expect (``ValueError`` for bad data and bad schemas, ``OSError``
for input/output), so existing ``except ValueError`` blocks keep working.
"""

from __future__ import annotations


class FastETLError(Exception):
    """Base class of every error raised by fastetl."""


class SchemaError(FastETLError, ValueError):
    """A schema (or an option that shapes it) is invalid."""


class ParseError(FastETLError, ValueError):
    """A value, a row or the CSV structure itself is invalid.

    Attributes locate the problem in the input:

    ``line``    physical line number in the input (1-based; quoted newlines count)
    ``column``  the column's name, or ``None`` for structural errors
    ``value``   the offending text (decoded for display), or ``None``
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
    ) -> None:
        self.reason = reason
        self.line = line
        self.column = column
        self.value = value
        self.offset = offset
        self.row = row
        super().__init__(self._format())

    def _format(self) -> str:
        parts = []
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.column is not None:
            parts.append(f'column "{self.column}"')
        where = ", ".join(parts)
        what = f"{self.value!r} {self.reason}" if self.value is not None else self.reason
        return f"{where}: {what}" if where else what

    def __reduce__(self):  # keep the attributes across pickling (e.g. multiprocessing)
        kwargs = {
            "line": self.line,
            "column": self.column,
            "value": self.value,
            "offset": self.offset,
            "row": self.row,
        }
        return (_rebuild_parse_error, (self.reason, kwargs))


def _rebuild_parse_error(reason: str, kwargs: dict) -> ParseError:
    return ParseError(reason, **kwargs)


class OutputError(FastETLError, OSError):
    """The output could not be written (or an existing output could not be read)."""


class Interrupted(KeyboardInterrupt):
    """A conversion was interrupted (Ctrl-C, or SIGTERM: ``terminated``).  The output
    was not changed -- unless ``committed``: the interrupt came after the commit
    point, the commit was finished first, and the output holds the whole conversion.

    ``resume_rows`` is how many rows a ``resume=True`` run keeps from the last
    checkpoint, or ``None`` when there is none to resume from.
    """

    def __init__(
        self, resume_rows: int | None, terminated: bool = False, committed: bool = False
    ) -> None:
        self.resume_rows = resume_rows
        self.terminated = terminated
        self.committed = committed
        what = "terminated" if terminated else "interrupted"
        if committed:
            text = f"{what} after the conversion was complete: the output holds all of it"
        else:
            text = what + "; the output was not changed"
            if resume_rows is not None:
                text += f"; resume to continue after row {resume_rows:,}"
        super().__init__(text)
