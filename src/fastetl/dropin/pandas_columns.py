"""The pandas drop-in's writer: fastetl's records, block by block, straight into the
columns a DataFrame is made of.

:func:`fastetl.api.read_into` hands each parsed block's records to
:class:`ColumnWriter` in input order (the pipeline's ``Writer`` protocol).  The writer
keeps no records: while the block is hot in the cache it copies each number column
out of the records (one contiguous chunk per block), takes the null bits, and turns
each ``text`` column's values into an Arrow string chunk (one compiled pass, the
gather of :func:`fastetl.bridges.text_arrow`).  At the end the number chunks are joined once and
the text chunks stay an Arrow ``ChunkedArray``, which pandas' Arrow-backed ``str``
dtype holds as it is.  So a read never holds all the records and all the columns
at once, and nothing is gathered from strided records afterwards.

:meth:`ColumnWriter.columns` gives the table the frame is built from (``array``,
``null_mask``, ``meta``, ``strings``: what :mod:`fastetl.dropin.pandas` reads of it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .. import _core
from ..bridges import _text_refs, _validity
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
    ``text_check(chunk)`` is called on each Arrow text chunk; :attr:`text_flags` keeps
    the names of the text columns for which it returned True once."""

    pipelined = False  # (one thread parses into the scratch window, then converts it)

    def __init__(
        self,
        schema: Schema,
        scan: Callable[[Any, int, int], Any] | None = None,
        text_check: Callable[[Any], bool] | None = None,
    ) -> None:
        self.scan = scan
        self.text_check = text_check
        self.scans: list[tuple[int, int, Any]] = []
        self.text_flags: set[str] = set()
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
        self._chunks: dict[str, list[Any]] = {c[0]: [] for c in self._cols}
        self._masks: dict[str, list[Any]] = {c[0]: [] for c in self._cols}

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
        return self._chunks_of(recs, text, lambda typ: typ != "category")

    def append_prepared(self, recs: np.ndarray, prepared: Any) -> None:
        if prepared is None:
            self._take(recs)
            return
        masks, chunks = prepared
        for name, typ, _, _ in self._cols:
            nulls = masks[name]
            self._masks[name].append(nulls)
            chunk = chunks.get(name)
            self._chunks[name].append(np.array(recs[name]) if chunk is None else chunk)
        self.rows += len(recs)

    # -- records -> chunks -----------------------------------------------------------
    def _take(self, recs: np.ndarray) -> None:
        n = len(recs)
        if not n:
            return
        masks, chunks = self._chunks_of(recs, self._text, lambda typ: True)
        for name, _, _, _ in self._cols:
            self._masks[name].append(masks[name])
            self._chunks[name].append(chunks[name])
        self._text = b""
        self.rows += n

    def _chunks_of(
        self, recs: np.ndarray, text: Any, which: Callable[[str], bool]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """(null mask or None, chunk) of each column of ``recs``, the chunks of the
        columns whose type ``which`` takes: a contiguous copy, or an Arrow text chunk."""
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
            if not which(typ):
                continue
            if typ == "text":
                chunk = _text_chunk(text, recs[name], nulls)
                if self.text_check is not None and name not in self.text_flags:
                    if self.text_check(chunk):
                        self.text_flags.add(name)
                chunks[name] = chunk
            else:
                chunks[name] = np.array(recs[name])  # contiguous copy
        return masks, chunks

    def columns(self, meta: dict[str, Any]) -> Columns:
        """The columns read (the chunks joined), with ``meta`` from ``read_into``."""
        arrays: dict[str, Any] = {}
        masks: dict[str, np.ndarray | None] = {}
        for name, typ, field, _ in self._cols:
            chunks, self._chunks[name] = self._chunks[name], []
            if typ == "text":
                import pyarrow as pa

                arrays[name] = pa.chunked_array(chunks, type=pa.large_string())
            elif len(chunks) == 1:
                arrays[name] = chunks[0]
            elif chunks:
                arrays[name] = np.concatenate(chunks)
            else:
                arrays[name] = np.empty(0, self.dtype[name])
            parts, self._masks[name] = self._masks[name], []
            if field is None or all(p is None for p in parts):
                masks[name] = None
            else:
                lengths = [len(c) for c in chunks]
                masks[name] = np.concatenate(
                    [np.zeros(m, bool) if p is None else p for p, m in zip(parts, lengths)]
                )
        self._scratch = np.empty(0, self.dtype)
        out = Columns(self.rows, arrays, masks, meta)
        out.text_flags = set(self.text_flags) if self.text_check is not None else None
        return out


def _text_chunk(text: bytes, refs: np.ndarray, nulls: np.ndarray | None) -> Any:
    """One block's values of a text column as an Arrow large_string array: the compiled
    gather of :func:`fastetl.bridges.text_arrow` (the references are the parser's own,
    into this block's ``text``; checked once, vectorised, as the gather has no bound:
    a block whose text was not added is an error, not a read past the buffer)."""
    import pyarrow as pa

    raw = np.frombuffer(text, np.uint8)
    off, ln = _text_refs(raw, refs)
    offsets = np.empty(len(refs) + 1, np.int64)
    data, bad = _core.text_arrow(raw, off, ln, offsets)
    if bad >= 0:  # pragma: no cover - the core stores valid UTF-8 only
        raise ValueError(f"row {bad} of a block: a text value that is not UTF-8")
    validity, count = _validity(pa, nulls)
    return pa.Array.from_buffers(
        pa.large_string(), len(refs), [validity, pa.py_buffer(offsets), pa.py_buffer(data)],
        null_count=count,
    )


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

    def strings(self, name: str) -> Any:
        """A text column as an Arrow ``large_string`` ChunkedArray (nulls included)."""
        return self.array[name]
