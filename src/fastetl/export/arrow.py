"""Parquet and Arrow IPC (Feather v2) exports, through pyarrow's own writers.

The batches are ``bridges.record_batch``'s: dictionary-encoded categories,
``decimal128(19, scale)``, ``date32``, ``timestamp`` (UTC where the column read
offsets), strings, nulls from the masks, flag bits as bool columns.  Each batch is
one Parquet row group (:mod:`.parquet` writes Parquet exports; ``onepass`` uses
:func:`open_writer`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import bridges
from ..table import Table
from . import SliceReader, in_order, need_pyarrow, pick, workers


def plan(t: Table, columns: list[str] | None, fmt: str, formula_escape: bool) -> dict[str, Any]:
    need_pyarrow(f"export to {fmt}")
    schema = bridges.arrow_schema(t)
    names = pick(schema.names, columns)
    return {"fmt": fmt, "schema": schema, "names": names, "out": schema_of(schema, names)}


def schema_of(schema: Any, names: list[str]) -> Any:
    import pyarrow as pa

    return pa.schema([schema.field(n) for n in names])


def open_writer(fmt: str, path: Path, schema: Any, **options: Any) -> Any:
    """pyarrow's writer of ``fmt`` into ``path`` (call ``write_batch``, then ``close``);
    ``options``: more ``ParquetWriter`` keywords (``parquet.properties``).

    An Arrow file never holds dictionary deltas (polars and others cannot read them):
    every batch must carry the same dictionary, the whole one (a batch with another is an
    error, not a file readers refuse).  ``"arrow-stream"``: an IPC stream with deltas, the
    spool of a one-pass conversion whose dictionaries still grow (:mod:`.onepass`)."""
    import pyarrow as pa

    if fmt == "parquet":
        import pyarrow.parquet as pq

        return pq.ParquetWriter(str(path), schema, **{"compression": "snappy", **options})
    if fmt == "arrow-stream":
        options = pa.ipc.IpcWriteOptions(emit_dictionary_deltas=True)
        return pa.ipc.new_stream(str(path), schema, options=options)
    options = pa.ipc.IpcWriteOptions(emit_dictionary_deltas=False)
    return pa.ipc.new_file(str(path), schema, options=options)


def write(t: Table, plan: dict[str, Any], path: Path, rows: int) -> None:
    writer = open_writer(plan["fmt"], path, plan["out"])
    schema, names = plan["schema"], plan["names"]
    reader = SliceReader(t)

    def batch(span: tuple[int, int]) -> Any:
        out = bridges.record_batch(reader.read(*span), schema, tight=False).select(names)
        reader.release(*span)
        return out

    batches = in_order(batch, reader.ranges(rows), workers())
    try:
        for b in batches:
            writer.write_batch(b)
    finally:
        batches.close()  # (its threads stop before the reader's files close)
        reader.close()
        writer.close()
