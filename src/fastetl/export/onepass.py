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

There is no sidecar: the file carries what one holds, as key-value metadata
(:data:`SCHEMA_KEY`: the schema's JSON; :data:`LINEAGE_KEY`: the lineage entries'
JSON) — Parquet in its footer, Arrow IPC the schema in the file's schema and the
lineage (known only at the end) in the last record batch's custom metadata.
:func:`stored_meta` reads them back (``fastetl lineage OUT.parquet``).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .. import bridges, outset
from ..pipeline import Mark
from ..schema import Schema
from ..store import ArrayWriter
from ..table import Table
from . import BATCH_BYTES, MAX_BATCH_ROWS, SUFFIXES, need_pyarrow, parquet
from ._files import atomic_output
from .arrow import open_writer

STREAMED = ("parquet", "arrow")
SCHEMA_KEY = "fastetl.schema"
LINEAGE_KEY = "fastetl.lineage"


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
        # called as the file is renamed into place (its lock still held): the run notes
        # that its commit landed
        self.on_commit: Callable[[], None] | None = None

    # -- the file --------------------------------------------------------------------
    def __enter__(self) -> FormatWriter:
        self._tmp = self._stack.enter_context(atomic_output(self.dst, self._renamed))
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self._writer is not None:
                self._writer.close()
        except BaseException:
            self._stack.__exit__(*sys.exc_info())  # no rename: the file is not whole
            raise
        self._stack.__exit__(*exc)  # renames the file when no error came

    def _renamed(self) -> None:
        if self.on_commit is not None:
            self.on_commit()

    def finish(self, categories: dict[str, list[str]], lineage: list[dict[str, Any]]) -> None:
        """Write what is held, with the final dictionaries, and the lineage entries
        (then leave the ``with``)."""
        entries = {LINEAGE_KEY: json.dumps(lineage, ensure_ascii=False)}
        custom = entries if self.fmt == "arrow" else None  # (on the last batch)
        self._flush(categories, final=True, custom=custom)
        if self.spooled:
            self._rewrite(categories, custom)
        if self.fmt == "parquet":
            self._writer.add_key_value_metadata({**self._schema_meta(), **entries})

    def _rewrite(self, categories: dict[str, list[str]], custom: dict[str, str] | None) -> None:
        """The spooled stream into the Arrow file, batch by batch, each learned category
        column given the final dictionary (codes are global: each batch's dictionary is
        a prefix of it).  Costs writing and reading the batches once more, on disk."""
        import pyarrow as pa

        assert self._spool is not None
        self._writer.close()
        in_file = self._arrow_schema.with_metadata(self._schema_meta())
        self._writer = open_writer("arrow", self._tmp, in_file)
        final = {
            c.name: pa.array(categories.get(c.name, []), type=pa.string())
            for c in self.schema.columns
            if c.type == "category" and c.values is None
        }
        held = None  # (one batch behind: the last one carries the lineage entries)
        with pa.memory_map(str(self._spool)) as source:
            for batch in pa.ipc.open_stream(source):
                if held is not None:
                    self._writer.write_batch(held)
                columns = [
                    pa.DictionaryArray.from_arrays(col.indices, final[name])
                    if name in final
                    else col
                    for name, col in zip(batch.schema.names, batch.columns)
                ]
                held = pa.RecordBatch.from_arrays(columns, schema=self._arrow_schema)
        if held is not None:
            if custom is not None:
                self._writer.write_batch(held, custom_metadata=custom)
            else:
                self._writer.write_batch(held)

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

    def _schema_meta(self) -> dict[str, str]:
        return {SCHEMA_KEY: json.dumps(self.schema.to_dict(), ensure_ascii=False)}

    def _flush(
        self, learned: dict[str, list[str]], final: bool, custom: dict[str, str] | None = None
    ) -> None:
        n = self._pending.rows
        if n == 0 and not (final and (self._writer is None or custom is not None)):
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
        # (a batch is at most BATCH_BYTES of records: its text fits Arrow's int32 offsets)
        batch = bridges.record_batch(table, self._arrow_schema, tight=False)
        if self._writer is None:
            in_file = self._arrow_schema
            if self.fmt == "arrow":  # (Parquet's go in the footer, at the end)
                in_file = in_file.with_metadata(self._schema_meta())
            if self.spooled:
                self._spool, fd = outset.create_temp(self.dst, outset.new_run_id())
                os.close(fd)
                self._stack.callback(_remove, self._spool)
                self._writer = open_writer("arrow-stream", self._spool, self._arrow_schema)
            elif self.fmt == "parquet":  # the export's writer properties, from the first rows
                props = parquet.properties(batch.slice(0, parquet.SAMPLE_ROWS))
                self._writer = open_writer(self.fmt, self._tmp, in_file, **props)
            else:
                self._writer = open_writer(self.fmt, self._tmp, in_file)
        if custom is not None:
            self._writer.write_batch(batch, custom_metadata=custom)
        else:
            self._writer.write_batch(batch)
        self.written += n
        self._pending = ArrayWriter(self.dtype, capacity=min(self.batch_rows, 1 << 16))


def stored_meta(path: str | Path) -> dict[str, Any]:
    """What a one-pass conversion stored in ``path`` (a Parquet or Arrow IPC file):
    ``{"schema", "lineage", "rows"}`` (``schema`` None and ``lineage`` empty for a file
    fastetl did not write)."""
    import pyarrow as pa

    fmt = streamed_format(path)
    need_pyarrow(f"read {fmt} metadata")
    if fmt == "parquet":
        import pyarrow.parquet as pq

        md = pq.read_metadata(str(path))
        kv, rows, last = md.metadata or {}, md.num_rows, {}
    else:
        with pa.memory_map(str(path)) as f:
            reader = pa.ipc.open_file(f)
            kv, rows = reader.schema.metadata or {}, 0
            for i in range(reader.num_record_batches):
                rows += reader.get_batch(i).num_rows
            last = {}
            if reader.num_record_batches:
                custom = reader.get_batch_with_custom_metadata(reader.num_record_batches - 1)[1]
                last = custom or {}
    got = {**{bytes(k).decode(): bytes(v).decode() for k, v in dict(kv).items()},
           **{bytes(k).decode(): bytes(v).decode() for k, v in dict(last).items()}}  # fmt: skip
    schema = json.loads(got[SCHEMA_KEY]) if SCHEMA_KEY in got else None
    lineage = json.loads(got[LINEAGE_KEY]) if LINEAGE_KEY in got else []
    return {"schema": schema, "lineage": lineage, "rows": rows}


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
