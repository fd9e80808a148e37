"""``chunksize=`` / ``iterator=True`` of ``fastetl.pandas.read_csv``: a reader like
pandas' ``TextFileReader`` (iteration, ``get_chunk(n)``, ``read(n)``, ``close()``, a
context manager) whose chunks come from fastetl's own path.

pandas types every chunk on its own (a column is int64 in a chunk without NA, float64
in one with), so every chunk here is one own-path read of its rows: the header row's
bytes, then the chunk's rows, answered by :func:`fastetl.dropin.pandas._answer`.  The
input is a memory map of the file (a file object's content is taken as it is), cut
row by row: numpy finds the line ends where no quote or carriage return can make a
line end other than a row end; a row-by-row walk through the core's
``find_row_end`` elsewhere.  Memory in use is one chunk and its frame, whatever the
size of the input.  A chunk the own path cannot answer is read by pandas from the
same bytes, under the fallback policy (with ``"error"``, ``FallbackError``).
"""

from __future__ import annotations

import io
import mmap
import os
import re
import warnings
from typing import Any

import numpy as np
import pandas

from .. import _core
from .fallback import Unsupported, fall_back

# rows of blanks only: pandas skips them, and they would be counted as rows here
_BLANK_LINE = re.compile(rb"(?:^|[\r\n])[ \t]+(?:[\r\n]|$)")


def _check_options(opts: dict[str, Any], chunksize: Any) -> None:
    """Unsupported for what this reader does not cut rows for (pandas answers)."""
    from .pandas import _ONLY_DEFAULT, _PandasSays, _dialect_extra, _is_default

    if chunksize is not None and (
        not isinstance(chunksize, int) or isinstance(chunksize, bool) or chunksize < 1
    ):
        raise _PandasSays()  # (pandas says what is wrong with it)

    if not isinstance(opts["iterator"], bool):
        raise _PandasSays()  # (pandas says what is wrong with it)
    for key, allowed in _ONLY_DEFAULT.items():
        if key not in ("iterator", "chunksize") and not _is_default(opts[key], allowed):
            raise Unsupported(f"{key}={opts[key]!r}")
    _dialect_extra(opts)
    for key in ("skiprows", "comment", "escapechar"):
        if opts[key] is not None:
            raise Unsupported(f"{key} with chunksize or iterator")
    if opts["skipfooter"] or not opts["skip_blank_lines"]:
        raise Unsupported("skipfooter or skip_blank_lines=False with chunksize or iterator")
    nrows = opts["nrows"]
    if nrows is not None and (not isinstance(nrows, int) or isinstance(nrows, bool) or nrows < 0):
        raise Unsupported(f"nrows={nrows!r}")


class _Handles:
    def __init__(self, handle: Any) -> None:
        self.handle = handle


class TextFileReader:
    """Chunks of a CSV input as pandas' ``TextFileReader`` gives them, each read by
    fastetl's own path (see the module's documentation)."""

    def __init__(
        self, opts: dict[str, Any], chunksize: int | None, replay: dict[str, Any]
    ) -> None:
        from . import pandas as dropin

        self._dropin = dropin
        dropin._bool_arguments(opts)
        said = dropin._dialect(opts)
        _check_options(opts, chunksize)
        self.chunksize = chunksize
        self.nrows = opts["nrows"]
        self._opts = opts
        self._currow = 0
        self._first = True
        self._closed = False
        self._exhausted = False
        # what the rows are read from (pandas' reader names its handle so too)
        self.handles = _Handles(opts["filepath_or_buffer"])
        self._map: mmap.mmap | None = None
        src = opts["filepath_or_buffer"]
        if hasattr(src, "read") and not isinstance(src, (str, os.PathLike)):
            data = dropin._take(src, replay)
            if not replay.get("text") and dropin._codec(opts["encoding"]) is not None:
                raise Unsupported("an encoding other than UTF-8 with chunksize or iterator")
            if dropin._compression(opts["compression"], None) is not None:
                raise Unsupported("compressed input with chunksize or iterator")
            self._buf: Any = data
        else:
            path = dropin._path_of(src)
            if dropin._compression(opts["compression"], path) is not None or (
                dropin._codec(opts["encoding"]) is not None
            ):
                raise Unsupported("compressed or non-UTF-8 input with chunksize or iterator")
            if os.path.getsize(path) == 0:
                raise Unsupported("an empty file")
            with open(path, "rb") as f:
                self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            self._buf = self._map
        delim = dropin._separator(opts)
        quote = opts["quotechar"]
        if not isinstance(quote, str) or len(quote) != 1 or not quote.isascii():
            raise Unsupported(f"quotechar={quote!r}")
        if opts["quoting"] == 3:  # csv.QUOTE_NONE
            quote = None
        self._delim = ord(delim)
        self._quote = ord(quote) if quote else -1
        if delim == dropin._WHITESPACE and b'"' in self._buf:
            raise Unsupported("sep='\\s+' with quotes in the text")
        dropin._line_ends(opts["lineterminator"], None, self._buf)
        if _BLANK_LINE.search(self._buf):
            raise Unsupported("a line of blanks, which pandas skips")
        # numpy may cut at line feeds where no quote or lone carriage return is
        self._simple = (quote is None or quote.encode() not in self._buf) and (
            b"\r" not in self._buf
        )
        self._pos = 0
        self._prefix = self._header()
        for w in said:  # (pandas' warnings about the dialect, at read_csv's caller)
            warnings.warn(w.message, w.category, stacklevel=4)

    # -- cutting rows -------------------------------------------------------------------

    def _row_end(self, pos: int) -> int:
        status, nxt, _ = _core.find_row_end(
            self._buf, pos, len(self._buf), True, self._delim, self._quote
        )
        if status != 0:
            raise Unsupported("a row fastetl cannot split")
        return nxt

    def _fields(self, pos: int) -> list[bytes]:
        return _core.split_row(self._buf, pos, len(self._buf), True, self._delim, self._quote)[1]

    def _header(self) -> bytes:
        """The bytes up to the end of the header row (none without one)."""
        opts = self._opts
        header, names = opts["header"], opts["names"]
        named = names is not None and names is not self._dropin._readers.lib.no_default
        if header == 0 or (header == "infer" and not named):
            pos = 0
            while pos < len(self._buf):
                end = self._row_end(pos)
                if self._buf[pos:end].strip(b"\r\n") not in (b"", b"\xef\xbb\xbf"):
                    self._pos = end
                    return bytes(self._buf[:end])
                pos = end
            raise Unsupported("no header row")
        if header in ("infer", None):
            return b""
        raise Unsupported(f"header={header!r} with chunksize or iterator")

    def _take_rows(self, n: int | None) -> tuple[bytes, int]:
        """The bytes of the next ``n`` rows (all the rest for None) and how many."""
        buf, start, size = self._buf, self._pos, len(self._buf)
        self._start = start
        if n is None:
            self._pos = size
            return bytes(buf[start:]), -1
        count, pos = 0, start
        if self._simple:
            window = 1 << 20
            while count < n and pos < size:
                hi = min(size, pos + window)
                arr = np.frombuffer(buf, dtype=np.uint8, count=hi - pos, offset=pos)
                nl = np.flatnonzero(arr == 10)
                if hi == size and (not len(nl) or nl[-1] != hi - pos - 1):
                    nl = np.append(nl, hi - pos)  # the last row, without a line end
                if not len(nl):
                    window *= 2  # (a row longer than the window)
                    continue
                # (pos follows a line feed, or is 0: a line of length 0 is blank)
                rows = nl[np.diff(nl, prepend=-1) > 1]
                if len(rows) >= n - count:
                    pos += int(rows[n - count - 1]) + 1
                    count = n
                else:
                    count += len(rows)
                    pos += int(nl[-1]) + 1
            pos = min(pos, size)
        else:
            while count < n and pos < size:
                end = self._row_end(pos)
                if buf[pos:end].strip(b"\r\n"):
                    count += 1
                pos = end
        self._pos = pos
        return bytes(buf[start:pos]), count

    # -- pandas' reader -----------------------------------------------------------------

    def read(self, nrows: int | None = None) -> pandas.DataFrame:
        if self._exhausted:
            raise StopIteration
        if self._closed:
            raise ValueError("I/O operation on closed file.")
        if nrows is not None and (not isinstance(nrows, int) or nrows < 0):
            raise ValueError("'nrows' must be an integer >=0")
        rows, count = self._take_rows(nrows)
        if not rows.strip(b"\r\n") and not self._first:
            self.close()
            self._exhausted = True
            raise StopIteration
        try:
            df = self._chunk(rows)
        except BaseException:
            self.close()  # (as pandas: a chunk that raised closes the reader)
            raise
        if isinstance(df.index, pandas.RangeIndex) and (
            self._opts["index_col"] is None or self._opts["index_col"] is False
        ):
            df.index = pandas.RangeIndex(self._currow, self._currow + len(df))
        self._currow += len(df)
        self._first = False
        return df

    def _chunk(self, rows: bytes) -> pandas.DataFrame:
        d = self._dropin
        data = self._prefix + rows
        kw = dict(self._opts)
        kw.update(filepath_or_buffer=io.BytesIO(data), chunksize=None, iterator=False,
                  nrows=None, compression=None, encoding=None, memory_map=False)
        if self._first:  # the table's width: the fields of the first row read
            self._width = len(self._fields(0 if self._prefix else self._start))
        elif self._short_first_row(kw):
            # (pandas' table is set by the first chunk: a shorter first row here is filled
            # to its width, as under names= of the table's columns)
            kw["names"] = self._columns
        try:
            df = d._answer(kw, {"chunk": "one chunk of rows"})
        except (d._PandasSays, Unsupported) as e:
            kw["filepath_or_buffer"] = io.BytesIO(data)
            if isinstance(e, Unsupported):
                df = fall_back(d.NAME, str(e), d._original, **kw)
            else:
                df = d._original(**kw)
            self._columns = list(df.columns)
            return df
        if not self._first and list(df.columns) != self._columns:
            # its first row is longer than the first chunk's rows: pandas' table is set
            line = bytes(self._buf[: self._start]).count(b"\n") + 1
            raise pandas.errors.ParserError(
                "Error tokenizing data. C error: Expected "  # (pandas' words)
                f"{self._width} fields in line {line}, saw {len(self._fields(self._start))}\n"
            )
        self._columns = list(df.columns)
        return df

    def _short_first_row(self, kw: dict[str, Any]) -> bool:
        """Whether, without a header row or names, this chunk's first row has fewer fields
        than the table's width."""
        return (
            kw["header"] is None
            and kw["names"] in (None, self._dropin._readers.lib.no_default)
            and (kw["index_col"] is None or kw["index_col"] is False)  # (0 == False)
            and kw["usecols"] is None
            and len(self._fields(self._start)) < self._width
        )

    def get_chunk(self, size: int | None = None) -> pandas.DataFrame:
        if size is None:
            size = self.chunksize
        if self.nrows is not None:
            if self._currow >= self.nrows:
                raise StopIteration
            size = self.nrows - self._currow if size is None else min(size, self.nrows - self._currow)
        return self.read(nrows=size)

    def __iter__(self) -> TextFileReader:
        return self

    def __next__(self) -> pandas.DataFrame:
        try:
            return self.get_chunk()
        except StopIteration:
            self.close()
            raise

    def close(self) -> None:
        self._closed = True
        if self._map is not None:
            self._buf = b""
            try:
                self._map.close()
            except BufferError:  # pragma: no cover - a view outlived its chunk: GC closes it
                pass
            self._map = None

    def __enter__(self) -> TextFileReader:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
