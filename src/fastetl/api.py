"""The public entry points: :func:`convert` and :func:`read_csv`.

They check options, open the input, choose a writer and hand the rest to
:mod:`fastetl.pipeline`.
"""

from __future__ import annotations

import datetime as _dt
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ._version import __version__
from .errors import OutputError
from .pipeline import DEFAULT_BLOCK_SIZE, RunResult, estimate_rows, run
from .schema import Schema, as_schema
from .sources import Source, open_source
from .store import SIDECAR_FORMAT, ArrayWriter, NpyWriter, sidecar_path

Src = Any  # str | os.PathLike | "-" | binary file object | bytes-like


@dataclass(frozen=True)
class ConvertReport:
    """What :func:`convert` did."""

    rows: int
    bytes_in: int
    bytes_out: int
    seconds: float
    output: str
    sidecar: str

    @property
    def mb_per_s(self) -> float:
        """Input megabytes (10**6 bytes) per second."""
        return self.bytes_in / 1e6 / self.seconds if self.seconds > 0 else float("inf")

    def __str__(self) -> str:
        return (
            f"{self.rows:,} rows, {self.bytes_in / 1e6:,.1f} MB in, "
            f"{self.bytes_out / 1e6:,.1f} MB out, {self.seconds:.2f} s, "
            f"{self.mb_per_s:,.0f} MB/s"
        )


def _positive(name: str, value: Any) -> None:
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
        raise ValueError(f"{name} must be a positive whole number, got {value!r}")


def _check_options(block_size: int | None, workers: int | None) -> None:
    _positive("block_size", block_size)
    _positive("workers", workers)


def cpu_count() -> int:
    """Cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


def _workers(workers: int | None, source: Source, block_size: int | None) -> int:
    """Threads worth starting: no more than there are blocks to parse."""
    want = workers if workers is not None else cpu_count()
    if source.size is not None and source.is_buffer:
        blocks = -(-source.size // (block_size or DEFAULT_BLOCK_SIZE))
        want = min(want, max(1, blocks))
    return want


def _seekable(src: Src) -> Src:
    """Inference reads the input twice: spool stdin and pipes to a temporary file first."""
    stream = sys.stdin.buffer if src == "-" else src
    if not hasattr(stream, "read"):
        return src
    try:
        if stream.seekable():
            return src
    except (AttributeError, OSError, ValueError):
        pass
    spool = tempfile.TemporaryFile()
    shutil.copyfileobj(stream, spool, 1 << 20)
    spool.seek(0)
    return spool


def _resolve(src: Src, schema: Any, infer_rows: int | str | None) -> tuple[Src, Schema]:
    """The input (spooled if it must be read twice) and the schema (given or inferred)."""
    if schema is not None:
        if infer_rows is not None:
            raise ValueError("infer_rows applies only when no schema is given")
        return src, as_schema(schema)
    from .infer import infer_schema  # inference is only loaded when it is used

    src = _seekable(src)
    return src, infer_schema(src, infer_rows=10_000 if infer_rows is None else infer_rows)


def _sidecar(schema: Schema, source: Source, result: RunResult) -> dict[str, Any]:
    masked = [c.name for c in schema.masked_columns]
    return {
        "format": SIDECAR_FORMAT,
        "fastetl_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "schema": schema.to_dict(),
        "rows": result.rows,
        "rows_read": result.rows,
        "rows_rejected": 0,
        "source": source.facts(),
        "header": result.header,
        "categories": {
            c.name: list(c.values) if c.values is not None else result.categories.get(c.name, [])
            for c in schema.columns
            if c.type == "category"
        },
        "flags": {f.name: [b.name for b in f.bits] for f in schema.flags},
        "nulls": {
            "float": "NaN",
            "date": "NaT",
            "datetime": "NaT",
            "mask_fields": [name for name, _ in schema.null_fields()],
            "null_bits": masked,
        },
    }


def _same_file(source: Source, dst: Path) -> bool:
    if source.path is None or not dst.exists():
        return False
    try:
        return os.path.samefile(source.path, dst)
    except OSError:
        return False


def convert(
    src: Src,
    dst: str | os.PathLike[str],
    schema: Schema | dict | str | os.PathLike[str] | None = None,
    *,
    block_size: int | None = None,
    workers: int | None = None,
    infer_rows: int | str | None = None,
    progress: Callable[[int, int | None], None] | None = None,
) -> ConvertReport:
    """Convert the CSV ``src`` into the ``.npy`` file ``dst`` (plus ``dst + ".json"``).

    ``dst`` is replaced atomically when the whole input has converted; on any
    error an existing ``dst`` and its sidecar are left exactly as they were.
    Without a ``schema`` one is inferred (see :func:`fastetl.infer_schema`;
    ``infer_rows`` is its sample size, or ``"all"`` for a guaranteed full pass).
    ``workers`` threads parse in parallel (default: every core); the output is
    the same bytes whatever ``workers`` and ``block_size`` are. ``progress``, if
    given, is called now and then with (input bytes done, input bytes in all or None).
    """
    _check_options(block_size, workers)
    src, sch = _resolve(src, schema, infer_rows)
    dst_path = Path(dst)
    if dst_path.is_dir():
        raise OutputError(f"{dst} is a directory; give the path of the .npy file to write")
    t0 = time.perf_counter()
    with open_source(src, sch.dialect.encoding) as source:
        if _same_file(source, dst_path) or _same_file(source, sidecar_path(dst_path)):
            raise OutputError(f"refusing to write the output over the input {source.name}")
        writer = NpyWriter(dst_path, sch.dtype())
        try:
            total = source.size if source.compression is None and source.encoding is None else None
            tick = (lambda done: progress(done, total)) if progress else None
            nworkers = _workers(workers, source, block_size)
            result = run(source, sch, writer, block_size, nworkers, tick)
            size = writer.commit(_sidecar(sch, source, result))
        except BaseException:
            writer.abort()
            raise
    return ConvertReport(
        rows=result.rows,
        bytes_in=result.bytes_in,
        bytes_out=size,
        seconds=time.perf_counter() - t0,
        output=str(dst_path),
        sidecar=str(sidecar_path(dst_path)),
    )


def read_csv(
    src: Src,
    schema: Schema | dict | str | os.PathLike[str] | None = None,
    *,
    block_size: int | None = None,
    workers: int | None = None,
    infer_rows: int | str | None = None,
) -> np.ndarray:
    """Read the CSV ``src`` into an in-memory numpy structured array.

    Without a ``schema`` one is inferred, as in :func:`convert`.
    """
    _check_options(block_size, workers)
    src, sch = _resolve(src, schema, infer_rows)
    dtype = sch.dtype()
    with open_source(src, sch.dialect.encoding) as source:
        writer = ArrayWriter(dtype, capacity=estimate_rows(source))
        run(source, sch, writer, block_size, _workers(workers, source, block_size))
    return writer.result()
