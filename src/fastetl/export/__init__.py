"""Exports of a converted file: Parquet, Arrow IPC (Feather v2), CSV and JSON Lines.

``fastetl.export(table_or_path, dest, format=None, columns=None, formula_escape=True)``
reads the records slice by slice (a few slices in memory at a time, whatever the size
of the file), turns each slice into Arrow arrays in compiled code (``bridges``) on every
core (:class:`SliceReader`, :func:`in_order`) and hands them to the format's writer.  ``dest`` is
written under a temporary name beside it and renamed over ``dest`` only when the
whole export has been written: an error leaves an existing ``dest`` as it was.

One module per format (``parquet``; ``arrow``: IPC, and the Arrow plan and writers
Parquet shares; ``csv``; ``jsonl``); ``onepass``
writes Parquet or Arrow straight from a conversion (``fastetl convert IN OUT.parquet``).
``table.py`` does not import this package.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from ._files import atomic_output

if TYPE_CHECKING:  # (imported where used: ``import fastetl`` binds export, not the reader)
    from ..table import Table

FORMATS = ("parquet", "arrow", "csv", "jsonl")
SUFFIXES = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".arrow": "arrow",
    ".feather": "arrow",
    ".ipc": "arrow",
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
# records per batch: about this many bytes of records in memory at a time
BATCH_BYTES = 32 << 20
MAX_BATCH_ROWS = 1 << 20


@dataclass
class ExportReport:
    """What an export wrote."""

    rows: int
    format: str
    dest: str
    bytes_in: int  # bytes of records read (rows x record size)
    bytes_out: int
    seconds: float

    @property
    def mb_per_s(self) -> float:
        """Records read per second, in MB (10**6 bytes) of ``.npy``."""
        return self.bytes_in / 1e6 / self.seconds if self.seconds > 0 else float("inf")

    def __str__(self) -> str:
        return (
            f"{self.rows:,} rows -> {self.dest} ({self.format}, {self.bytes_out:,} bytes) "
            f"in {self.seconds:.2f} s ({self.mb_per_s:,.0f} MB/s of records)"
        )


def format_of(dest: str | os.PathLike[str], format: str | None = None) -> str:  # noqa: A002
    """The export format: ``format`` when given, else from ``dest``'s suffix."""
    if format is not None:
        if format not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {format!r}")
        return format
    suffix = Path(dest).suffix.lower()
    if suffix not in SUFFIXES:
        raise ValueError(
            f"cannot tell the format of {os.fspath(dest)!r} from its suffix "
            f"(known: {', '.join(SUFFIXES)}); give the format: {', '.join(FORMATS)}"
        )
    return SUFFIXES[suffix]


def batch_rows(t: Table) -> int:
    """Rows per batch: about :data:`BATCH_BYTES` of records."""
    return max(1, min(MAX_BATCH_ROWS, BATCH_BYTES // max(1, t.array.dtype.itemsize)))


def export(
    table_or_path: Table | str | os.PathLike[str],
    dest: str | os.PathLike[str],
    format: str | None = None,  # noqa: A002 - the word users know
    columns: list[str] | None = None,
    formula_escape: bool = True,
    *,
    rows_per_batch: int | None = None,
) -> ExportReport:
    """Write a converted file (a path to its ``.npy``, or a :class:`~fastetl.Table`)
    to ``dest`` as Parquet, Arrow IPC (Feather v2), CSV or JSON Lines.

    ``format``: ``"parquet"``, ``"arrow"``, ``"csv"`` or ``"jsonl"``; by default from
    ``dest``'s suffix (``.parquet``/``.pq``, ``.arrow``/``.feather``/``.ipc``, ``.csv``,
    ``.jsonl``/``.ndjson``).  ``columns``: the names to write, in this order (default:
    all).  ``formula_escape`` (CSV only): cells of text columns that a spreadsheet would
    run as a formula get a leading ``'`` (see the README, "Export").  ``dest`` is
    replaced only when the whole export is written.  Parquet and Arrow need
    ``fastetl[arrow]`` (pyarrow); so do CSV and JSON Lines, which are formatted by
    Arrow's compiled kernels.
    """
    fmt = format_of(dest, format)
    if not isinstance(formula_escape, bool):
        raise ValueError(f"formula_escape must be True or False, got {formula_escape!r}")
    if columns is not None and (
        isinstance(columns, str) or not all(isinstance(c, str) for c in columns)
    ):
        raise ValueError("columns must be a list of column names")
    from ..table import Table
    from ..table import open as open_table

    t = table_or_path if isinstance(table_or_path, Table) else None
    if t is None:
        if not isinstance(table_or_path, (str, os.PathLike)):
            raise TypeError(
                f"export takes a fastetl.Table or the path of a converted .npy file, "
                f"not {type(table_or_path).__name__}"
            )
        if os.path.isdir(table_or_path):
            raise ValueError(f"{os.fspath(table_or_path)} is a folder: export one .npy file")
        t = open_table(table_or_path)
    if t.path is not None:
        guard_input_set(t, dest)
    rows = batch_rows(t) if rows_per_batch is None else int(rows_per_batch)
    if rows < 1:
        raise ValueError(f"rows_per_batch must be a positive integer, got {rows_per_batch!r}")
    t0 = time.perf_counter()
    if fmt == "parquet":
        from . import parquet as writer_module
    elif fmt == "arrow":
        from . import arrow as writer_module  # type: ignore[no-redef]
    elif fmt == "csv":
        from . import csv as writer_module  # type: ignore[no-redef]
    else:
        from . import jsonl as writer_module  # type: ignore[no-redef]
    plan = writer_module.plan(t, columns, fmt=fmt, formula_escape=formula_escape)
    with atomic_output(Path(dest)) as tmp:
        writer_module.write(t, plan, tmp, rows)
    return ExportReport(
        rows=len(t),
        format=fmt,
        dest=os.fspath(dest),
        bytes_in=len(t) * t.array.dtype.itemsize,
        bytes_out=os.path.getsize(dest),
        seconds=time.perf_counter() - t0,
    )


def input_set(t: Table) -> list[Path]:
    """The files a converted output is made of: its ``.npy``, sidecar, text bytes,
    rejects file and the rejects' reasons (whether they exist or not)."""
    from ..store import sidecar_path, text_path

    assert t.path is not None
    npy = Path(t.path)
    files = [npy, sidecar_path(npy), text_path(npy)]
    rejects = t.meta.get("rejects") if isinstance(t.meta, dict) else None
    if isinstance(rejects, str) and rejects:
        r = Path(rejects)
        r = r if r.is_absolute() else npy.parent / r
        files += [r, r.with_name(r.name + ".json")]
    return files


def guard_input_set(t: Table, dest: str | os.PathLike[str]) -> None:
    """Refuse a ``dest`` that is one of the files of the export's input (see
    :func:`input_set`): writing it would damage the data being read."""
    target = Path(dest)
    for f in input_set(t):
        same = (
            os.path.samefile(f, target)
            if f.exists() and target.exists()
            else f.resolve() == target.resolve()
        )
        if same:
            raise ValueError(
                f"refusing to write the export over {os.fspath(f)}, a file of its input "
                f"{os.fspath(t.path)}"
            )


def pick(names: list[str], columns: list[str] | None) -> list[str]:
    """``columns`` checked against the ``names`` a format can write (all by default)."""
    if columns is None:
        return list(names)
    known = set(names)
    bad = [c for c in columns if c not in known]
    if bad:
        raise ValueError(f"no column {bad[0]!r} to export; columns: {names}")
    if len(set(columns)) != len(columns):
        raise ValueError("columns names a column twice")
    return list(columns)


T = TypeVar("T")
R = TypeVar("R")


def workers() -> int:
    """Threads an export decodes (and encodes) slices on: the cores, at most 4."""
    return max(1, min(4, os.cpu_count() or 1))


class SliceReader:
    """Rows ``[start, stop)`` of a table as a Table whose records are in memory, for the
    threads of :func:`in_order`: each thread reads its slices from its own handle on
    the file into its own buffer, reused from one slice to the next (no fresh pages to
    fault in and zero for every slice; the reads run in parallel, off the caller's
    thread).  A slice is valid until the same thread reads the next one: decode it, then
    drop it.  Over a table in memory, or a file no longer this commit's, a slice is a
    view of the records (:meth:`release` then drops a mapped slice's pages, as
    ``Table._slices`` does).  :meth:`close` closes the handles."""

    def __init__(self, t: Table) -> None:
        self.t = t
        self.by_file = t._data_offset is not None and t.path is not None and len(t) > 0
        self.local = threading.local()
        self.handles: list[Any] = []
        self.lock = threading.Lock()

    def ranges(self, rows: int) -> Iterator[tuple[int, int]]:
        """Consecutive ``(start, stop)`` of ``rows`` rows (one empty one for no rows)."""
        n = len(self.t)
        return ((a, min(a + rows, n)) for a in range(0, max(n, 1), rows))

    def read(self, start: int, stop: int) -> Table:
        from ..store import open_records

        t, local = self.t, self.local
        part = t._sub(start, stop)
        if self.by_file and not hasattr(local, "fh"):
            assert t.path is not None and t._data_offset is not None
            local.fh = open_records(t.path, t.meta, t.array.dtype, t._data_offset)
            local.buf = np.empty(0, t.array.dtype)
            if local.fh is not None:
                with self.lock:
                    self.handles.append(local.fh)
        if getattr(local, "fh", None) is not None:
            if len(local.buf) < stop - start:
                local.buf = np.empty(stop - start, t.array.dtype)
            part.array = t._read(local.fh, t._start + start, stop - start,
                                 local.buf[: stop - start])  # fmt: skip
        return part

    def release(self, start: int, stop: int) -> None:
        if getattr(self.local, "fh", None) is None:
            from ..table import _release

            _release(self.t.array, start, stop)

    def close(self) -> None:
        for fh in self.handles:
            fh.close()


def in_order(fn: Callable[[T], R], items: Iterator[T], threads: int) -> Iterator[R]:
    """``fn(item)`` for each of ``items``, in their order, made on ``threads`` helper
    threads ahead of the caller: decoding (and encoding) the next slices overlaps
    writing this one, all outside the GIL (the bridges' compiled loops, Arrow's
    writers).  ``items`` are pulled on the caller's thread; at most ``threads + 1``
    results exist at a time; an error on either side stops both."""
    pending: deque[Future[R]] = deque()
    with ThreadPoolExecutor(threads, thread_name_prefix="fastetl-export") as pool:
        try:
            for item in items:
                pending.append(pool.submit(fn, item))
                while len(pending) > threads:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for f in pending:
                f.cancel()
            close = getattr(items, "close", None)
            if close is not None:
                close()


def need_pyarrow(what: str) -> Any:
    try:
        import pyarrow
    except ImportError:
        raise ImportError(
            f"{what} needs pyarrow: pip install 'fastetl[arrow]'"
        ) from None
    return pyarrow


__all__ = ["FORMATS", "ExportReport", "export", "format_of"]
