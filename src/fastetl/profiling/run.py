"""Driving a profile: a CSV through fastetl's pipeline, or a converted ``.npy``.

A CSV is parsed by :func:`fastetl.pipeline.run` exactly as :func:`fastetl.read_csv`
would parse it (all cores, bounded queues), into a writer that keeps no records:
:class:`FoldingWriter` cuts the records, in input order, into chunks of a fixed
number of rows (with ``text`` columns: fewer, where a chunk's text passes
``STAGE_TEXT`` bytes) and folds each chunk into a state of its own on a thread pool;
the chunk states are merged in input order.  So the profile depends on the input
and the schema only -- not on the number of threads or the block size -- and
memory is bounded by the pipeline's blocks plus ``workers + 3`` chunks and their text
(folding or waiting, one merging, one filling) plus the per-column bounds of
:class:`~fastetl.profiling.fold.Limits`.

Bad rows are counted by reason and column instead of stopping the run.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from .. import api as _api
from ..bridges import TextPastEnd, _text_refs
from ..errors import OutputError, ParseError, SchemaError
from ..pipeline import run as _run_pipeline
from ..schema import Schema
from ..sources import open_source
from ..store import _copy_records
from ..table import Table
from .fold import Limits, TableState
from .report import Profile

CHUNK_BYTES = 4 << 20  # records folded per task
# an .npy's chunks are views of its mapped records (no copies held): larger, for fewer
# chunks -- each has a fixed cost holding the GIL (~1.2 ms of Python and numpy calls
# over ~40 column states, then a merge), which the threads queue for
NPY_CHUNK_BYTES = 16 << 20
# a CSV's blocks when none is asked for: half the pipeline's default (2 MiB), ~20 MiB less
# peak RSS on the demo orders for ~2 % more CPU
BLOCK_SIZE = 1 << 20
STAGE_TEXT = 16 << 20  # a chunk's text bytes (with text columns): more ends the chunk
MAX_REASONS = 50  # distinct bad-row reasons kept (the rest counted as "other")


def _chunk_rows(itemsize: int, budget: int = CHUNK_BYTES) -> int:
    return max(1024, min(1 << 16, budget // max(itemsize, 1)))


class _Folder:
    """Folds chunks of records on a pool; a merging thread folds their states into
    ``state`` in input order (so the caller -- the pipeline's committer -- never
    waits for a merge, only for room: at most ``workers + 1`` chunks in flight, each
    folding or waiting for a thread: the folds are the slow stage, more would wait)."""

    def __init__(self, state: TableState, workers: int) -> None:
        self.state = state
        self.workers = max(1, workers)
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="fastetl-profile")
        self._queue: queue.Queue[Future[TableState] | None] = queue.Queue(self.workers + 1)
        self._error: BaseException | None = None
        self._stop = False
        # chunks folded, handed back to the writer to fill again: warm pages, not fresh
        self.free: list[np.ndarray] = []
        self._merger = threading.Thread(
            target=self._merge_all, name="fastetl-profile-merge", daemon=True
        )
        self._merger.start()

    def _fold(self, records: np.ndarray, reuse: bool, text: np.ndarray | None) -> TableState:
        part = self.state.fork()
        part.add(records, text)
        if reuse:
            self.free.append(records)
        return part

    def _merge_all(self) -> None:
        while True:
            f = self._queue.get()
            if f is None:
                return
            if self._error is not None or self._stop:
                f.cancel()
                continue
            try:
                self.state.merge(f.result())
            except BaseException as e:  # handed to the caller by submit() or finish()
                self._error = e

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def submit(
        self, records: np.ndarray, reuse: bool = False, text: np.ndarray | None = None
    ) -> None:
        """Fold ``records`` (owned by the folder from now on; ``reuse``: put in
        ``free`` once folded; ``text``: the bytes of its text columns)."""
        self._raise()
        self._queue.put(self._pool.submit(self._fold, records, reuse, text))

    def finish(self) -> TableState:
        try:
            self._queue.put(None)
            self._merger.join()
            self._raise()
        finally:
            self.close()
        # every chunk folded: let the free ones go before the result is made (its last
        # merge of the row hashes was the peak memory with them still held)
        self.free.clear()
        return self.state

    def close(self) -> None:
        if self._merger.is_alive():
            self._stop = True
            self._queue.put(None)
            self._merger.join()
        self._pool.shutdown(wait=True, cancel_futures=True)


class FoldingWriter:
    """A pipeline writer that folds records into a profile instead of keeping them.
    With ``text`` columns each chunk carries its own text bytes (the records' offsets
    moved to count from its start), copied out of the parser's as the records are
    staged; a chunk ends at ``window_rows`` rows or at the row whose text takes its
    text past ``STAGE_TEXT`` bytes, whichever comes first -- a place that depends on
    the rows alone (not on the blocks they came in), and memory bounded whatever the
    values' lengths (one value of any length is one row's text)."""

    pipelined = True  # records come through append(), parsed on worker threads

    def __init__(
        self, dtype: np.dtype, folder: _Folder, text_names: list[str] | None = None
    ) -> None:
        self.dtype = dtype
        self.itemsize = dtype.itemsize
        self.rows = 0
        self.window_rows = _chunk_rows(self.itemsize)
        self._folder = folder
        self._stage = np.empty(self.window_rows, dtype=dtype)
        self._fill = 0
        self._scratch: np.ndarray | None = None
        self._text_names = list(text_names or [])
        self._text_in = np.zeros(0, np.uint8)  # the parser's text of the records to come
        self._text_parts: list[np.ndarray] = []  # the stage's text, in pieces
        self._text_fill = 0

    def window(self, nrows: int, exact: bool = True) -> memoryview:
        if self._scratch is None or len(self._scratch) < nrows:
            self._scratch = np.zeros(max(nrows, 1), dtype=self.dtype)
        return self._scratch.view(np.uint8).data[: nrows * self.itemsize]

    def advance(self, nrows: int) -> None:
        assert self._scratch is not None
        self._take(self._scratch[:nrows])

    def append(self, records: np.ndarray) -> None:
        self._take(records)

    def add_text(self, records: np.ndarray, text: Any) -> None:
        # valid until the records are taken (append or advance): copied out there
        self._text_in = np.frombuffer(text, np.uint8) if len(text) else np.zeros(0, np.uint8)

    def _take(self, records: np.ndarray) -> None:
        self.rows += len(records)
        at, n = 0, len(records)
        lens = self._text_lengths(records) if self._text_names else None
        while at < n:
            room = len(self._stage) - self._fill
            k = min(room, n - at)
            if lens is not None:  # up to the row whose text crosses STAGE_TEXT
                cum = np.cumsum(lens[at : at + k]) + self._text_fill
                k = min(k, int(np.searchsorted(cum, STAGE_TEXT)) + 1)
            # as bytes: numpy's field-by-field copy of a structured array was ~10 % of
            # a CSV profile's CPU (46 of ~450 CPU-ms for 200,000 demo orders)
            _copy_records(self._stage[self._fill : self._fill + k], records[at : at + k])
            if lens is not None:
                self._stage_text(self._stage[self._fill : self._fill + k])
            self._fill += k
            at += k
            full = lens is not None and self._text_fill >= STAGE_TEXT
            if self._fill == len(self._stage) or full:
                self._submit_stage()
        self._text_in = np.zeros(0, np.uint8)

    def _text_lengths(self, records: np.ndarray) -> np.ndarray:
        """Each record's text bytes (all its text columns)."""
        lens = np.zeros(len(records), np.int64)
        for name in self._text_names:
            lens += records[name]["length"]
        return lens

    def _stage_text(self, staged: np.ndarray) -> None:
        """Copy the text of records just staged (their text is one run of the parser's:
        the rows' values in order) after the stage's text, and move their offsets."""
        lo, hi = None, 0
        for name in self._text_names:
            refs = staged[name]
            has = refs["length"] > 0
            if has.any():
                off = refs["offset"][has].astype(np.int64)
                lo = int(off.min()) if lo is None else min(lo, int(off.min()))
                hi = max(hi, int((off + refs["length"][has]).max()))
        if lo is None:
            return
        if hi > len(self._text_in):
            raise AssertionError("text offsets past the parser's text")
        delta = self._text_fill - lo
        for name in self._text_names:
            refs = staged[name]
            off = refs["offset"].astype(np.int64)
            refs["offset"] = np.where(refs["length"] > 0, off + delta, 0)
        self._text_parts.append(self._text_in[lo:hi].copy())
        self._text_fill += hi - lo

    def _submit_stage(self) -> None:
        free = getattr(self._folder, "free", None)  # (a _Calls' function may keep its chunk)
        text = self._chunk_text()
        if free is None:
            self._folder.submit(self._stage[: self._fill])
        elif text is None:
            self._folder.submit(self._stage[: self._fill], True)
        else:  # (not reused: a chunk cut short by its text would shrink the next ones)
            self._folder.submit(self._stage[: self._fill], False, text)
            free = None
        self._stage = free.pop() if free else np.empty(self.window_rows, dtype=self.dtype)
        self._fill = 0

    def _chunk_text(self) -> np.ndarray | None:
        if not self._text_names:
            return None
        text = np.concatenate(self._text_parts) if self._text_parts else np.zeros(0, np.uint8)
        self._text_parts, self._text_fill = [], 0
        return text

    def flush(self) -> None:
        if self._fill:
            text = self._chunk_text()
            if text is None:
                self._folder.submit(self._stage[: self._fill])
            else:
                self._folder.submit(self._stage[: self._fill], False, text)
        self._stage = np.empty(0, dtype=self.dtype)  # (a chunk left empty: let go)
        self._fill = 0
        self._scratch = None


class BadRowCounter:
    """A rejects sink that keeps counts (by reason, by column), not the rows."""

    def __init__(self) -> None:
        self.total = 0
        self.by_reason: dict[str, int] = {}
        self.by_column: dict[str, int] = {}

    def start(self, header: bytes | None) -> None:
        pass

    def add(self, raw: bytes, error: ParseError, offset: int) -> None:
        self._count(error)

    def add_pieces(self, pieces: Any, error: Any, offset: int) -> None:
        for _ in pieces:
            pass
        self._count(error())

    def _count(self, error: ParseError) -> None:
        self.total += 1
        reason = error.reason
        if reason not in self.by_reason and len(self.by_reason) >= MAX_REASONS:
            reason = "other"
        self.by_reason[reason] = self.by_reason.get(reason, 0) + 1
        if error.column is not None:
            self.by_column[error.column] = self.by_column.get(error.column, 0) + 1

    def result(self) -> dict[str, Any]:
        return {
            "count": self.total,
            "by_reason": dict(sorted(self.by_reason.items(), key=lambda kv: -kv[1])),
            "by_column": dict(sorted(self.by_column.items(), key=lambda kv: -kv[1])),
        }


def _fixed_width(src: Any, schema: Any, infer_rows: int | str | None) -> tuple[Any, Schema]:
    """The input and schema of :func:`csv_passes` (a sample's passes), whose folds read
    fixed-width values: where inference picks ``text`` it infers again with ``str`` (the
    sample's width) there; a given ``text`` column is refused."""
    src, sch = _api._resolve(src, schema, infer_rows, "skip")
    if not sch.text_names:
        return src, sch
    if schema is not None:
        raise _no_text(sch)
    if hasattr(src, "seek"):
        src.seek(0)
    return _api._resolve(
        src, None, infer_rows, "skip", {"types": {name: "str" for name in sch.text_names}}
    )


def _no_text(sch: Schema) -> SchemaError:
    """A CSV profile folds fixed-width values, one width a column from the first block on
    (a value hashes the same in every block), so a ``text`` column of a given schema
    (values of any length, the longest not known before the end) is refused up front,
    with the ways to a profile -- not read at a guessed width, its longer values then
    bad rows for no fault of theirs."""
    name = sch.text_names[0]
    return SchemaError(
        f"column {name!r} is text (values of any length), and a CSV profile folds "
        f'fixed-width values only: give it as {{"name": "{name}", "type": "str", "width": N}} '
        "(N: its longest value's bytes), leave the schema out (text is then profiled as str "
        "at the sample's width), or convert the CSV and profile the .npy"
    )


class _Calls:
    """A folder that hands each chunk to a function, on the calling thread."""

    def __init__(self, fn: Any) -> None:
        self.submit = fn


def csv_passes(src: Any, schema: Any, passes: list[Any]) -> dict[str, Any]:
    """Run the CSV ``src`` through the pipeline once per item of ``passes``: each is
    called with the schema and returns the function that takes each chunk of records
    (in input order).  Bad rows are skipped.  Returns the sidecar-like ``meta``
    (schema, categories, source facts, row counts) of the last pass."""
    src, sch = _fixed_width(src, schema, None)
    if len(passes) > 1:
        src = _api._seekable(src)  # stdin and pipes: spooled, to be read again
    meta: dict[str, Any] = {}
    for i, make in enumerate(passes):
        if i and hasattr(src, "seek"):
            src.seek(0)
        fn = make(sch)
        with open_source(src, sch.dialect.encoding) as source:
            writer = FoldingWriter(sch.dtype(), _Calls(fn))  # type: ignore[arg-type]
            result = _run_pipeline(
                source, sch, writer, None, _api._workers(None, source, None), on_error="skip"
            )
            writer.flush()
            meta = {
                "schema": sch.to_dict(),
                "source": source.facts(),
                "header": result.header,
                "rows_read": result.rows_read,
                "rows_skipped": result.rows_bad,
                **_api._decoding(sch, result),
            }
    return meta


def is_npy(src: Any) -> bool:
    """Is ``src`` the path of a converted ``.npy`` (by its suffix or its magic bytes)?"""
    if not isinstance(src, (str, os.PathLike)) or src == "-":
        return False
    p = Path(src)
    if p.suffix.lower() == ".npy":
        return True
    try:
        with open(p, "rb") as f:
            return f.read(6) == b"\x93NUMPY"
    except OSError:
        return False


def profile(
    src: Any,
    schema: Schema | dict | str | os.PathLike[str] | None = None,
    *,
    top: int = 10,
    workers: int | None = None,
    block_size: int | None = None,
    infer_rows: int | str | None = None,
    limits: Limits | None = None,
) -> Profile:
    """Profile ``src``: a CSV (a path, ``"-"`` for stdin, a binary file, bytes; any
    compression :func:`fastetl.convert` reads) or a converted ``.npy``.

    One pass (two over an ``.npy``, for exact histograms), all cores, bounded memory.
    ``schema`` as in :func:`fastetl.read_csv` (inferred when left out; not used for
    an ``.npy``, whose sidecar has it); ``top``: how many top values per column.
    Rows that do not fit the schema are counted (``bad_rows``), not raised.
    """
    if isinstance(top, bool) or not isinstance(top, int) or top < 0:
        raise ValueError(f"top must be a whole number >= 0, got {top!r}")
    _api._check_options(block_size, workers)
    limits = limits or Limits()
    start = time.perf_counter()
    if is_npy(src):
        if schema is not None:
            raise ValueError("a converted .npy carries its schema: give no schema")
        data = _profile_npy(Path(src), top, workers, limits)
    else:
        data = _profile_csv(src, schema, top, workers, block_size, infer_rows, limits)
    data["seconds"] = time.perf_counter() - start
    return Profile(data)


def _header(source: str, fmt: str, size: int | None) -> dict[str, Any]:
    return {"source": source, "format": fmt, "bytes": size}


def _profile_csv(
    src: Any,
    schema: Any,
    top: int,
    workers: int | None,
    block_size: int | None,
    infer_rows: int | str | None,
    limits: Limits,
) -> dict[str, Any]:
    src, sch = _api._resolve(src, schema, infer_rows, "skip")
    state = TableState(sch, limits)
    bad = BadRowCounter()
    block_size = block_size or BLOCK_SIZE
    with open_source(src, sch.dialect.encoding) as source:
        n = _api._workers(workers, source, block_size)
        folder = _Folder(state, workers if workers is not None else _api.cpu_count())
        writer = FoldingWriter(sch.dtype(), folder, sch.text_names)
        try:
            result = _run_pipeline(
                source, sch, writer, block_size, n, on_error="reject", rejects=bad
            )
            writer.flush()
        except BaseException:
            folder.close()
            raise
        state = folder.finish()
        facts = source.facts()
        cats = _api._decoding(sch, result)["categories"]
    data = _header(str(facts.get("path")), "csv", result.bytes_in or facts.get("size"))
    if facts.get("compression"):
        data["compression"] = facts["compression"]
    data["schema"] = sch.to_dict()
    data["schema_inferred"] = schema is None
    data["rows_read"] = result.rows_read
    data.update(state.result(cats, top))
    data["bad_rows"] = bad.result()
    invalid = bad.by_column
    for col in data["columns"]:
        k = invalid.get(col["name"], 0)
        col["invalid"] = {"count": k, "share": k / result.rows_read if result.rows_read else 0.0}
    return data


def _profile_npy(path: Path, top: int, workers: int | None, limits: Limits) -> dict[str, Any]:
    t = Table(path)
    sch = t.schema
    array = t.array
    widths = {}  # a text column's values are folded at one width: its longest value's
    for name in sch.text_names:  # values past the text bytes: refused before folding
        try:
            _, lens = _text_refs(t.text, np.asarray(array[name]))
            widths[name] = max(int(lens.max(initial=0)), 1)
        except TextPastEnd as e:
            raise OutputError(
                f"{path}: column {name!r}, row {e.index:,}: the value lies past the end of "
                "the text bytes (a text file not written with these records, or damaged)"
            ) from None
    state = TableState(sch, limits, t if sch.text_names else None, widths)
    rows = _chunk_rows(array.dtype.itemsize, NPY_CHUNK_BYTES)
    folder = _Folder(state, workers if workers is not None else _api.cpu_count())
    try:
        for at in range(0, len(array), rows):
            folder.submit(array[at : at + rows])
    except BaseException:
        folder.close()
        raise
    state = folder.finish()
    # second pass: exact histogram counts on edges from the first pass's min and max, for
    # the columns whose counts are not exact (the others' histograms come from them)
    edges = {
        cs.name: e
        for cs in state.columns
        if not cs.counted() and (e := cs.edges()) is not None
    }
    if edges:
        for at in range(0, len(array), rows):
            state.add_histograms(array[at : at + rows], edges)
    data = _header(str(path), "npy", path.stat().st_size)
    data["schema"] = sch.to_dict()
    data["schema_inferred"] = False
    data["rows_read"] = len(array)
    data.update(state.result(t.meta.get("categories", {}), top))
    data["bad_rows"] = {"count": 0, "by_reason": {}, "by_column": {}}
    for col in data["columns"]:
        col["invalid"] = {"count": 0, "share": 0.0}
    return data
