"""One pass: a conversion that writes Parquet or Arrow IPC straight from the CSV
(``fastetl convert IN OUT.parquet``), with no ``.npy`` in between.

:class:`FormatWriter` is a pipeline writer (``pipeline.Writer``): the committer hands
it the record blocks in input order, with global category codes.  It holds about
:data:`BATCH_BYTES` of records, then turns them into one Arrow record batch (the
bridges' compiled decoders, as for ``fastetl.export``) and writes it: one Parquet
row group, or one IPC batch (spooled, for an Arrow file whose learned dictionaries
may still grow: see :meth:`FormatWriter._rewrite`).  It is also the run's
checkpointer: a ``Mark`` carries
the learned category dictionaries as they are once a block is written, which cover
every code written so far (they only grow), so a batch is made at a mark.  The file
is written under a temporary name and renamed over ``OUT`` only at :meth:`finish`.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import numpy as np

from .. import bridges, outset
from ..pipeline import Mark
from ..schema import Schema
from ..store import ArrayWriter
from ..table import Table
from . import BATCH_BYTES, MAX_BATCH_ROWS, SUFFIXES, need_pyarrow
from ._files import atomic_output
from .arrow import open_writer

STREAMED = ("parquet", "arrow")


def streamed_format(dst: str | Path) -> str | None:
    """``"parquet"`` or ``"arrow"`` when a conversion into ``dst`` writes that format
    (by its suffix), else None (a ``.npy``)."""
    fmt = SUFFIXES.get(Path(dst).suffix.lower())
    return fmt if fmt in STREAMED else None


def unwritable_reason(dst: str | Path) -> str | None:
    """Why a conversion refuses ``dst``: its suffix names an export format a conversion
    does not write (CSV, JSON Lines), where a ``.npy`` under that name would mislead.
    None for any other name (a ``.npy`` is written, whatever the suffix)."""
    suffix = Path(dst).suffix.lower()
    fmt = SUFFIXES.get(suffix)
    if fmt is None or fmt in STREAMED:
        return None
    return (
        f"a conversion writes .npy, Parquet or Arrow, not {fmt} ({suffix}): convert to "
        f".npy, then export (fastetl export OUT.npy {Path(dst).name})"
    )


class FormatWriter:
    """Records of one conversion into a Parquet or Arrow IPC file (see the module)."""

    pipelined = True  # the committer appends finished blocks (copied: they are reused)

    def __init__(self, dst: Path, fmt: str, schema: Schema) -> None:
        need_pyarrow(f"convert to {fmt}")
        self.dst = dst
        self.fmt = fmt
        self.schema = schema
        self.dtype = schema.dtype()
        self.itemsize = self.dtype.itemsize
        self.rows = 0  # records handed to this writer
        self.written = 0  # ... of which written to the file
        self.batch_rows = max(1, min(MAX_BATCH_ROWS, BATCH_BYTES // self.itemsize))
        self._pending = ArrayWriter(self.dtype, capacity=1024)
        self._stack = contextlib.ExitStack()
        self._writer: Any = None
        self._arrow_schema: Any = None
        self.categories: dict[str, list[str]] = {}
        # an Arrow file holds one dictionary per column, the final one: while learned
        # dictionaries grow, batches go to an IPC stream (with deltas) first
        self.spooled = fmt == "arrow" and any(
            c.type == "category" and c.values is None for c in schema.columns
        )
        self._spool: Path | None = None

    # -- the file --------------------------------------------------------------------
    def __enter__(self) -> FormatWriter:
        self._tmp = self._stack.enter_context(atomic_output(self.dst))
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self._writer is not None:
                self._writer.close()
        finally:
            self._stack.__exit__(*exc)  # renames the file when no error came

    def finish(self, categories: dict[str, list[str]]) -> None:
        """Write what is held, with the final dictionaries (then leave the ``with``)."""
        self._flush(categories, final=True)
        if self.spooled:
            self._rewrite(categories)

    def _rewrite(self, categories: dict[str, list[str]]) -> None:
        """The spooled stream into the Arrow file, batch by batch, each learned category
        column given the final dictionary (codes are global: each batch's dictionary is
        a prefix of it).  Costs writing and reading the batches once more, on disk."""
        import pyarrow as pa

        assert self._spool is not None
        self._writer.close()
        self._writer = open_writer("arrow", self._tmp, self._arrow_schema)
        final = {
            c.name: pa.array(categories.get(c.name, []), type=pa.string())
            for c in self.schema.columns
            if c.type == "category" and c.values is None
        }
        with pa.memory_map(str(self._spool)) as source:
            for batch in pa.ipc.open_stream(source):
                columns = [
                    pa.DictionaryArray.from_arrays(col.indices, final[name])
                    if name in final
                    else col
                    for name, col in zip(batch.schema.names, batch.columns)
                ]
                self._writer.write_batch(
                    pa.RecordBatch.from_arrays(columns, schema=self._arrow_schema)
                )

    # -- pipeline.Writer ---------------------------------------------------------------
    @property
    def window_rows(self) -> int:
        return self._pending.window_rows

    def window(self, nrows: int, exact: bool = True) -> Any:
        return self._pending.window(nrows, exact)

    def advance(self, nrows: int) -> None:
        self._pending.advance(nrows)
        self.rows += nrows

    def append(self, records: np.ndarray) -> None:
        self._pending.append(records)
        self.rows += len(records)

    def add_text(self, records: np.ndarray, text: bytes) -> None:
        self._pending.add_text(records, text)

    # -- pipeline.Checkpointer: a batch is written at a mark -----------------------------
    def due(self) -> bool:
        return self._pending.rows >= self.batch_rows or self._pending.text_len >= BATCH_BYTES

    def save(self, mark: Mark) -> None:
        self._flush(mark.categories, final=False)

    def _flush(self, learned: dict[str, list[str]], final: bool) -> None:
        n = self._pending.rows
        if n == 0 and not (final and self._writer is None):
            return
        records = self._pending.result()[:n]
        meta = {
            "schema": self.schema.to_dict(),
            "categories": {
                c.name: list(c.values) if c.values is not None else list(learned.get(c.name, []))
                for c in self.schema.columns
                if c.type == "category"
            },
        }
        text = self._pending.text() if self.schema.text_names else None
        table = Table.from_array(records, meta, text)
        if self._arrow_schema is None:
            # (dictionary indices are int32 until a dictionary passes 2**31 values: the
            # schema of the first batch holds for the file)
            self._arrow_schema = bridges.arrow_schema(table)
            if self.spooled:
                self._spool, fd = outset.create_temp(self.dst, outset.new_run_id())
                os.close(fd)
                self._stack.callback(_remove, self._spool)
                self._writer = open_writer("arrow-stream", self._spool, self._arrow_schema)
            else:
                self._writer = open_writer(self.fmt, self._tmp, self._arrow_schema)
        # (a batch is at most BATCH_BYTES of records: its text fits Arrow's int32 offsets)
        self._writer.write_batch(bridges.record_batch(table, self._arrow_schema))
        self.written += n
        self._pending = ArrayWriter(self.dtype, capacity=min(self.batch_rows, 1 << 16))


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
