"""Parquet export: row groups encoded on every core, stitched into one file.

pyarrow's Parquet writer encodes one row group at a time on one thread.  A Parquet
file is a run of independent row groups followed by a footer (``FileMetaData``) that
says where each column chunk starts, as absolute file offsets.  So each slice of
records is decoded (``bridges.record_batch``) and encoded as a small, complete
Parquet file in memory by pyarrow's own writer, on a pool of threads (both steps run
outside the GIL); in slice order, each one's row-group bytes are appended to the
destination and its footer's row groups are kept with their offsets moved by where
the bytes landed (the compiled ``_core.parquet_row_groups`` walks the footer's Thrift).
The footer written at the end is the first part's, with every row group and the total
row count: the same schema, ``ARROW:schema`` and key-value metadata pyarrow writes.
A few slices are in memory at a time (:func:`~fastetl.export.in_order`); the parts
written go to disk while the next are encoded (``EarlySync``).

Writer properties: snappy compression and statistics (pyarrow's defaults);
dictionary encoding for categories, strings, and the other columns whose values
repeat in the row group's first rows (at most one distinct value in
:data:`DICTIONARY_RATIO`): trying a dictionary on a column of unique numbers costs CPU
and makes the file bigger.  Parquet decides encodings per column chunk, so each row
group decides on its own rows, on its own thread.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from .. import _core, bridges
from ..table import Table
from . import SliceReader, in_order, workers
from ._files import EarlySync
from .arrow import plan

MAGIC = b"PAR1"
SAMPLE_ROWS = 16384
DICTIONARY_RATIO = 4  # dictionary-encode a number column with <= 1 distinct value in 4
MIN_PARALLEL_BYTES = 8 << 20  # records below this stay in the row groups asked for
COMPRESSION = "snappy"

_STRUCT = 12  # Thrift compact protocol: a list's element type


def group_rows(n: int, itemsize: int, rows: int, w: int) -> int:
    """Rows per row group: at most ``rows``, and, for a table worth encoding in
    parallel, a multiple of ``w`` groups of equal size (3 groups on 2 threads take as
    long as 4)."""
    if n * itemsize < MIN_PARALLEL_BYTES or w == 1:
        return rows
    groups = w * -(-n // (w * rows))
    return -(-n // groups)


def dictionary_columns(sample: Any) -> list[str]:
    """The columns of ``sample`` (a ``pyarrow.RecordBatch``) to dictionary-encode."""
    import pyarrow as pa
    import pyarrow.compute as pc

    out = []
    for field, column in zip(sample.schema, sample.columns):
        t = field.type
        if pa.types.is_dictionary(t) or pa.types.is_string(t) or pa.types.is_large_string(t):
            out.append(field.name)  # (Parquet falls back to plain past 1 MB of dictionary)
        elif not pa.types.is_boolean(t) and len(column):
            if pc.count_distinct(column).as_py() * DICTIONARY_RATIO <= len(column):
                out.append(field.name)
    return out


def properties(sample: Any) -> dict[str, Any]:
    """pyarrow ``ParquetWriter`` keywords for a batch whose first rows are ``sample``."""
    # no page index: its page offsets live in the body, where the Stitcher cannot move them
    return {
        "compression": COMPRESSION,
        "use_dictionary": dictionary_columns(sample),
        "write_page_index": False,
    }


def encode(batch: Any, props: dict[str, Any]) -> Any:
    """``batch`` as a complete Parquet file in memory (a ``pyarrow.Buffer``)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    with pq.ParquetWriter(sink, batch.schema, **props) as writer:
        writer.write_batch(batch, row_group_size=max(1, len(batch)))
    return sink.getvalue()


def _varint(v: int) -> bytes:
    out = bytearray()
    while v >= 0x80:
        out.append(v & 0x7F | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def _shared(footer: Any, spans: tuple[int, int, int, int]) -> bytes:
    """A footer's bytes but the values of ``num_rows`` and ``row_groups`` (``spans``, as
    ``_core.parquet_row_groups`` gives them), which the stitch replaces: what every part
    must have as the first part has it."""
    rows_start, rows_end, groups_start, groups_end = spans
    if not 0 <= rows_start < rows_end <= groups_start < groups_end <= len(footer):
        raise ValueError("Parquet footer with row_groups before num_rows: cannot splice")
    return b"".join([footer[:rows_start], footer[rows_end:groups_start], footer[groups_end:]])


class Stitcher:
    """Appends in-memory Parquet files' row groups to ``out`` (positioned at 0), then
    writes one footer for them all (:meth:`close`): the first file's, with every row
    group (offsets moved by the compiled ``_core.parquet_row_groups``) and the sum of
    the row counts.  A part whose footer differs from the first's anywhere else (its
    schema, key-value metadata, created_by) is refused."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        out.write(MAGIC)
        self.pos = len(MAGIC)
        self.first: tuple[bytes, tuple[int, int, int, int]] | None = None
        self.rest = b""  # the first footer but num_rows and row_groups
        self.groups: list[bytes] = []
        self.count = 0
        self.rows = 0

    def append(self, part: Any) -> None:
        data = memoryview(part).cast("B")
        size = int.from_bytes(data[-8:-4], "little")
        if bytes(data[:4]) != MAGIC or bytes(data[-4:]) != MAGIC or size + 12 > len(data):
            raise ValueError("not a Parquet file")
        footer = data[len(data) - 8 - size : len(data) - 8]
        groups, count, rows, spans = _core.parquet_row_groups(
            footer, self.pos - len(MAGIC), self.count
        )
        rest = _shared(footer, spans)
        if self.first is None:
            self.first, self.rest = (bytes(footer), spans), rest
        elif rest != self.rest:
            raise ValueError(
                f"Parquet part {len(self.groups) + 1} differs from the first outside its row "
                f"groups (schema, key-value metadata or created_by): they cannot share a footer"
            )
        body = data[len(MAGIC) : len(data) - 8 - size]
        self.out.write(body)
        self.pos += len(body)
        self.groups.append(groups)
        self.count += count
        self.rows += rows

    def close(self) -> None:
        assert self.first is not None, "no part appended"
        footer, (rows_start, rows_end, groups_start, groups_end) = self.first
        head = (
            bytes([self.count << 4 | _STRUCT])
            if self.count < 15
            else bytes([0xF0 | _STRUCT]) + _varint(self.count)
        )
        footer = b"".join(
            [
                footer[:rows_start],
                _varint(self.rows << 1),  # (zigzag: the count is not negative)
                footer[rows_end:groups_start],
                head,
                *self.groups,
                footer[groups_end:],
            ]
        )
        self.out.write(footer)
        self.out.write(len(footer).to_bytes(4, "little"))
        self.out.write(MAGIC)


def write(t: Table, plan: dict[str, Any], path: Path, rows: int) -> None:
    """Writes the export ``plan`` (``arrow.plan``'s) of ``t`` to ``path`` as Parquet."""
    schema, names = plan["schema"], plan["names"]
    w = workers()

    reader = SliceReader(t)

    def part_file(span: tuple[int, int]) -> Any:
        batch = bridges.record_batch(reader.read(*span), schema, tight=False).select(names)
        reader.release(*span)
        return encode(batch, properties(batch.slice(0, SAMPLE_ROWS)))

    ranges = reader.ranges(group_rows(len(t), t.array.dtype.itemsize, rows, w))
    parts = in_order(part_file, ranges, w)
    try:
        with open(path, "wb") as out:
            stitch, sync = Stitcher(out), EarlySync(out)
            try:
                for data in parts:
                    stitch.append(data)
                    sync.kick()
                stitch.close()
            finally:
                sync.close()
    finally:
        parts.close()  # (its threads stop before the reader's files close)
        reader.close()


__all__ = ["plan", "write"]
