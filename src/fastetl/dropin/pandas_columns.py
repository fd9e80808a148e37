"""The pandas drop-in's writer: fastetl's records, block by block, straight into the
columns a DataFrame is made of.

:func:`fastetl.pipeline.read_into` hands each parsed block's records to
:class:`ColumnWriter` in input order (the pipeline's ``Writer`` protocol).  The writer
keeps no records: it copies each number column out of the records into one array
per column (sized from the first block's rows per byte: the row count is not known
before the end, and pages reserved past the last row are never touched), takes the
null bits, and turns each ``text`` column's values into an Arrow string chunk (one
compiled pass, the gather of :func:`fastetl.bridges.text_arrow`; on the threaded path
the worker that parsed the block does that, see :meth:`ColumnWriter.prepare`).  The
text chunks stay an Arrow ``ChunkedArray``, which pandas' Arrow-backed ``str`` dtype
holds as it is.  So a read never holds all the records and all the columns
at once, and nothing is gathered from strided records afterwards.

:meth:`ColumnWriter.columns` gives the table the frame is built from (``array``,
``null_mask``, ``meta``, ``strings``: what :mod:`fastetl.dropin.pandas` reads of it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .. import _core
from ..bridges import TextPastEnd, _validity
from ..schema import Schema

SCRATCH_BYTES = 1 << 20  # records parsed per call on one thread (then turned into columns)


class ColumnWriter:
    """A ``pipeline.Writer`` that turns records into column chunks as they come.

    On the threaded path most of that work is done by the worker that parsed the block
    (:meth:`prepare`): the committing thread only places what it made, in input order.
    ``scan(data, lo, hi)``, when given, is also called there on the bytes of each
    block's rows (one byte of either neighbour included, where there is one); what it
    returns is kept in :attr:`scans` as ``(input offset of lo + 1 or 0, of hi - 1 or
    the end, result)`` -- ranges the read did not show it are the caller's to scan.
    ``text_check(chunk)`` is called on each Arrow text chunk (with ``text_check_when=(k,
    lead)``: only on a chunk holding a value of ``k`` bytes or more that starts with a
    byte of ``lead``, counted in the compiled gather); :attr:`text_flags` keeps the
    names of the text columns for which it returned True once.  ``checked``, a set the
    caller keeps from one read of the same input to the next (a read parsed again with
    a column widened), holds ``(column, first byte, end)`` of the threaded path's blocks
    whose text the check found nothing in: those are not checked again; ``text_flags``
    may start with what an earlier read found."""

    pipelined = False  # (one thread parses into the scratch window, then converts it)

    def __init__(
        self,
        schema: Schema,
        scan: Callable[[Any, int, int], Any] | None = None,
        text_check: Callable[[Any], bool] | None = None,
        size: int = 0,
        text_check_when: tuple[int, bytes] = (0, b""),
        checked: set[tuple[str, int, int]] | None = None,
        text_flags: set[str] | None = None,
    ) -> None:
        self.text_check_when = text_check_when
        self.checked = set() if checked is None else checked
        self.size = size  # the input's bytes (to size the columns from the first block)
        self.scan = scan
        self.text_check = text_check
        self.scans: list[tuple[int, int, Any]] = []
        self.text_flags: set[str] = set(text_flags or ())
        self.dtype = schema.dtype()
        self.itemsize = self.dtype.itemsize
        self.rows = 0
        self.window_rows = max(64, SCRATCH_BYTES // self.itemsize)
        self._scratch = np.empty(0, self.dtype)
        self._text = b""
        bits = {c.name: k for k, c in enumerate(schema.masked_columns)}
        # (name, type, null field or None, null bit) of each stored column
        self._cols = []
        for c in schema.columns:
            if not c.stored:
                continue
            k = bits.get(c.name)
            field = None if k is None else ("_nulls" if k < 64 else f"_nulls{k // 64}")
            self._cols.append((c.name, c.type, field, np.uint64(k % 64) if k is not None else 0))
        # text columns: Arrow chunks; the others: one array each, rows placed as they come
        self._chunks: dict[str, list[Any]] = {c[0]: [] for c in self._cols if c[1] == "text"}
        self._out: dict[str, np.ndarray] = {}
        self._cap = 0  # rows the arrays of _out hold
        self._masks: dict[str, list[Any]] = {c[0]: [] for c in self._cols}
        self._lengths: list[int] = []  # the rows of each block taken (for the masks)

    # -- the pipeline's Writer protocol ----------------------------------------------
    def window(self, nrows: int, exact: bool = True) -> memoryview:
        if nrows > len(self._scratch):
            self._scratch = np.empty(nrows, self.dtype)
        return self._scratch.view(np.uint8).data[: nrows * self.itemsize]

    def advance(self, nrows: int) -> None:
        self._take(self._scratch[:nrows])

    def append(self, records: np.ndarray) -> None:
        self._take(records)

    def add_text(self, records: np.ndarray, text: bytes) -> None:
        # (the offsets of ``records`` count from the start of ``text``: kept for _take,
        # which comes next with the same records)
        self._text = text

    # -- the threaded path: the chunks made on the worker -----------------------------
    def prepare(
        self, recs: np.ndarray, text: Any, data: Any, start: int, end: int, base: int
    ) -> Any:
        """(On a worker thread.)  The chunks of a parsed block but its category codes
        (the committer makes those global), and the scan of its bytes."""
        if self.scan is not None and end > start:
            lo, hi = max(0, start - 1), min(len(data), end + 1)
            # (the bytes both of whose neighbours the scan saw: all, at the input's ends)
            first = base + lo + 1 if lo or base else 0
            last = base + hi - 1 if hi < len(data) else base + hi
            self.scans.append((first, last, self.scan(data, lo, hi)))
        if not len(recs):
            return None
        return (*self._chunks_of(recs, text, (base + start, base + end)), end - start)

    def append_prepared(self, recs: np.ndarray, prepared: Any) -> None:
        masks, chunks, nbytes = prepared  # (what prepare made of these same records)
        self._place(recs, masks, chunks, len(recs) / max(1, nbytes))

    # -- records -> columns ----------------------------------------------------------
    def _take(self, recs: np.ndarray) -> None:
        if len(recs):
            self._place(recs, *self._chunks_of(recs, self._text), None)
        self._text = b""

    def _place(
        self, recs: np.ndarray, masks: dict[str, Any], chunks: dict[str, Any],
        per_byte: float | None,
    ) -> None:
        """Put the rows ``recs`` after those before: their text chunks and null masks
        (made by _chunks_of), their other columns copied into the arrays of _out."""
        n = len(recs)
        lo = self.rows
        if lo + n > self._cap:
            self._grow(lo + n, per_byte)
        for name, typ, _, _ in self._cols:
            self._masks[name].append(masks[name])
            if typ == "text":
                self._chunks[name].append(chunks[name])
            else:
                self._out[name][lo : lo + n] = recs[name]
        self._lengths.append(n)
        self.rows += n

    def _grow(self, need: int, per_byte: float | None) -> None:
        """Room for ``need`` rows at least: at first as many as the input holds by the
        first block's rows per byte (and a tenth more: the pages past the last row are
        never touched, so never resident), then twice as many each time."""
        cap = max(need, 2 * self._cap)
        guess = cap
        if not self._cap and per_byte is not None and self.size:
            guess = max(cap, int(self.size * per_byte * 1.1) + 1024)
        try:
            new_out = self._arrays(guess)
        except MemoryError:  # (a narrow first block over-guesses: rows that grow
            if guess == cap:  # wider later; columns() gives the room back)
                raise
            guess, new_out = cap, self._arrays(cap)
        self._out.update(new_out)
        self._cap = guess

    def _arrays(self, cap: int) -> dict[str, np.ndarray]:
        """Room for ``cap`` rows of each number column, holding the rows placed so far."""
        out = {}
        for name, typ, _, _ in self._cols:
            if typ != "text":
                new = np.empty(cap, self.dtype[name])
                if self.rows:
                    new[: self.rows] = self._out[name][: self.rows]
                out[name] = new
        return out

    def _chunks_of(
        self, recs: np.ndarray, text: Any, where: tuple[int, int] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """(null mask or None) of each column of ``recs``, and the Arrow chunk of each
        text column (``where``: the input's bytes of these rows, where known: a text
        check found clean there is kept in :attr:`checked`)."""
        words: dict[str, np.ndarray | None] = {}
        masks: dict[str, np.ndarray | None] = {}
        chunks: dict[str, Any] = {}
        for name, typ, field, bit in self._cols:
            nulls = None
            if field is not None:
                if field not in words:
                    w = recs[field]
                    words[field] = w if w.any() else None
                w = words[field]
                if w is not None:
                    nulls = ((w >> bit) & 1).astype(bool)
            masks[name] = nulls
            if typ == "text":
                chunk, longs = _text_chunk(text, recs[name], nulls, *self.text_check_when)
                check = self.text_check
                if check is not None and name not in self.text_flags:
                    key = None if where is None else (name, *where)
                    if key not in self.checked:
                        if (longs or not self.text_check_when[1]) and check(chunk):
                            self.text_flags.add(name)
                        elif key is not None:
                            self.checked.add(key)
                chunks[name] = chunk
        return masks, chunks

    def columns(self, meta: dict[str, Any]) -> Columns:
        """The columns read (the chunks joined), with ``meta`` from ``read_into``."""
        arrays: dict[str, Any] = {}
        masks: dict[str, np.ndarray | None] = {}
        for name, typ, field, _ in self._cols:
            if typ == "text":
                import pyarrow as pa

                chunks, self._chunks[name] = self._chunks[name], []
                arrays[name] = pa.chunked_array(chunks, type=pa.large_string())
            elif name in self._out:
                whole = self._out.pop(name)
                arrays[name] = whole[: self.rows]
                if len(whole) > self.rows + (self.rows >> 2) + 1024:
                    # (the first block's guess was far over: rows grew wider after it;
                    # the frame must not keep the unused room alive)
                    arrays[name] = arrays[name].copy()
            else:
                arrays[name] = np.empty(0, self.dtype[name])
            parts, self._masks[name] = self._masks[name], []
            if field is None or all(p is None for p in parts):
                masks[name] = None
            else:
                masks[name] = np.concatenate(
                    [np.zeros(m, bool) if p is None else p for p, m in zip(parts, self._lengths)]
                )
        self._cap = 0
        self._scratch = np.empty(0, self.dtype)
        out = Columns(self.rows, arrays, masks, meta)
        out.text_flags = set(self.text_flags) if self.text_check is not None else None
        return out


def _text_chunk(
    text: bytes, refs: np.ndarray, nulls: np.ndarray | None, long_len: int = 0,
    lead: bytes = b"",
) -> tuple[Any, int]:
    """One block's values of a text column as an Arrow large_string array, and how many
    of them are ``long_len`` bytes or more and start with a byte of ``lead``: one
    compiled gather (:func:`fastetl._core.text_arrow`, the one of
    :func:`fastetl.bridges.text_arrow`; the references are the parser's own, into this
    block's ``text``, checked in its first pass, as the copy has no bound: a block whose
    text was not added is an error, not a read past the buffer; their UTF-8 is not
    checked again: the parser checked each value as it stored it)."""
    import pyarrow as pa

    if refs.dtype.names != ("offset", "length"):
        raise TypeError(f"expected text references (offset, length), got {refs.dtype}")
    raw = np.frombuffer(text, np.uint8)
    offsets = np.empty(len(refs) + 1, np.int64)
    data, _, past, longs = _core.text_arrow(
        raw, refs["offset"], refs["length"], offsets, long_len, lead, False
    )
    if past >= 0:
        raise TextPastEnd(past)
    validity, count = _validity(pa, nulls)
    chunk = pa.Array.from_buffers(
        pa.large_string(), len(refs), [validity, pa.py_buffer(offsets), pa.py_buffer(data)],
        null_count=count,
    )
    return chunk, longs


def utf8_buffers(values: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, data) of ``values`` as an Arrow large_string array holds them (int64
    offsets from 0, the UTF-8 bytes), made without ``pyarrow.array``: Arrow's conversion
    of Python objects loads its pandas shim (``pyarrow.pandas_compat``: about 4 ms and
    3 MB on a first call), which a small file's read need not pay."""
    encoded = [v.encode("utf-8") for v in values]
    offsets = np.zeros(len(encoded) + 1, np.int64)
    np.cumsum(np.fromiter(map(len, encoded), np.int64, len(encoded)), out=offsets[1:])
    return offsets, np.frombuffer(b"".join(encoded), np.uint8)


def large_strings(values: list[str]) -> Any:
    """``values`` (no null) as an Arrow large_string array, by :func:`utf8_buffers`."""
    import pyarrow as pa

    offsets, data = utf8_buffers(values)
    return pa.LargeStringArray.from_buffers(len(values), pa.py_buffer(offsets),
                                            pa.py_buffer(data))


DECODE_PIECE_ROWS = 1 << 18  # rows of a dictionary column decoded by one thread at least


def codes_strings(
    offsets: np.ndarray, data: np.ndarray, codes: np.ndarray, nulls: np.ndarray | None,
    threads: int = 1,
) -> Any:
    """A dictionary column's values as Arrow large_string, from its dictionary's Arrow
    buffers (``offsets``, ``data``) and its ``codes`` (``nulls``: True where null; None:
    none is): the compiled pass of :func:`fastetl._core.codes_arrow`, which lets go of
    the GIL, on up to ``threads`` threads, a piece of the rows each (a ChunkedArray of
    the pieces; the values are the same however the rows are cut)."""
    import pyarrow as pa

    n = len(codes)
    pieces = max(1, min(threads, n // DECODE_PIECE_ROWS))
    bounds = [n * k // pieces for k in range(pieces + 1)]

    def piece(k: int) -> Any:
        a, b = bounds[k], bounds[k + 1]
        part = None if nulls is None else nulls[a:b]
        out = np.empty(b - a + 1, np.int64)
        values = _core.codes_arrow(offsets, data, codes[a:b], part, out)
        validity, count = _validity(pa, part)
        return pa.LargeStringArray.from_buffers(
            b - a, pa.py_buffer(out), pa.py_buffer(values), validity, count
        )

    if pieces == 1:
        return piece(0)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(pieces, thread_name_prefix="fastetl-decode") as pool:
        return pa.chunked_array(list(pool.map(piece, range(pieces))), type=pa.large_string())


class Columns:
    """The columns of one read: numpy arrays (numbers, dates, category codes) and Arrow
    ChunkedArrays (text), with their null masks and the read's ``meta``."""

    def __init__(
        self, rows: int, arrays: dict[str, Any], masks: dict[str, Any], meta: dict[str, Any]
    ) -> None:
        self.rows = rows
        self.array = arrays
        self._masks = masks
        self.meta = meta
        # the text columns the writer's text_check found something in (None: not checked)
        self.text_flags: set[str] | None = None

    def __len__(self) -> int:
        return self.rows

    def null_mask(self, name: str) -> np.ndarray:
        """True where column ``name`` is null (NaN for floats, NaT for dates)."""
        mask = self._masks[name]
        if mask is not None:
            return mask
        values = self.array[name]
        if isinstance(values, np.ndarray) and values.dtype.kind == "f":
            return np.isnan(values)
        if isinstance(values, np.ndarray) and values.dtype.kind == "M":
            return np.isnat(values)
        return np.zeros(self.rows, bool)

    def has_nulls(self, name: str) -> bool:
        """Whether column ``name`` holds a null: ``null_mask(name).any()`` without making
        a mask where the read kept none (a float column: NaN makes its minimum NaN)."""
        mask = self._masks[name]
        if mask is not None:
            return bool(mask.any())
        values = self.array[name]
        if isinstance(values, np.ndarray) and values.dtype.kind == "f":
            return len(values) > 0 and bool(np.isnan(np.minimum.reduce(values)))
        if isinstance(values, np.ndarray) and values.dtype.kind == "M":
            return bool(np.isnat(values).any())
        return False

    def strings(self, name: str) -> Any:
        """A text column as an Arrow ``large_string`` ChunkedArray (nulls included)."""
        return self.array[name]
