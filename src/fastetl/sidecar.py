"""The JSON sidecar of a converted file: its format policy and its validation.

A sidecar is read back by :func:`fastetl.open`, ``fastetl inspect`` and
``convert --append``; people edit sidecars by hand, tools rewrite them, disks
truncate them.  So every key a reader uses is checked here, as strictly as a
schema (types, ranges, lengths, agreement with the schema and with the ``.npy``
header), before any reader trusts it; a failure is one :class:`OutputError`
line naming the sidecar file and the key.  Keys this module does not know are
allowed: later versions add keys (``pair``, for one, is checked by
:func:`fastetl.store.verify_pair`).

* :func:`check_format` and :func:`check_keys` need the sidecar alone
  (:func:`fastetl.store.read_sidecar` always runs them);
* :func:`check_records` compares it with the ``.npy`` header (run by a Table once
  the pair is known to be of one commit, and by ``read_sidecar(records=True)``);
* :func:`check_codes` scans the category codes (an append; a Table checks the
  codes it decodes).

Format policy: the writer writes the current format (``store.SIDECAR_FORMAT``);
a reader reads every format from 1 up to it, and refuses a newer one ("written
by a newer fastetl"), since a newer format may change what a key means.

This module knows the schema, not files: :mod:`fastetl.store` reads the JSON and
the ``.npy`` header and hands both here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ._version import __version__
from .errors import FastETLError, OutputError, shown
from .schema import Schema

# numpy.load refuses a .npy header longer than this unless given ``max_header_size``
# (numpy >= 1.24; older numpy has no limit).
NUMPY_MAX_HEADER_SIZE = 10000
# What datetime.fromtimestamp accepts (years 1 .. 9999): a source mtime outside is not one.
_MIN_TIME, _MAX_TIME = -62135596800, 253402300799
_ON_ERROR = ("raise", "skip", "reject")
_COUNTS = ("rows_read", "rows_written", "rows_rejected", "rows_skipped")
_LINEAGE_TEXT = ("run_id", "output", "schema_hash", "fastetl_version", "started", "ended", "host")


@dataclass(frozen=True)
class NpyFacts:
    """What the ``.npy`` file itself says: its header and its size."""

    dtype: np.dtype
    rows: int
    data_offset: int | None  # None: not known (and not checked)
    size: int | None


def numpy_load_options(data_offset: int) -> dict[str, int]:
    """The keyword arguments a plain ``numpy.load`` needs for a file whose records
    start at ``data_offset`` (empty for all but very wide records)."""
    if data_offset <= NUMPY_MAX_HEADER_SIZE:
        return {}
    return {"max_header_size": data_offset}


def _show(value: Any) -> str:
    """A value for a one-line message (long ones cut)."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class _Check:
    """Raises one-line errors that name the sidecar file and the key."""

    def __init__(self, side: Path) -> None:
        self.side = side

    def fail(self, key: str, problem: str) -> OutputError:
        return OutputError(
            f'{self.side}: "{key}" {problem}; was it edited by hand? convert again to rebuild it'
        )

    def is_int(self, value: Any, key: str, lo: int = 0) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or value < lo:
            raise self.fail(key, f"must be an integer >= {lo}, not {_show(value)}")
        return value

    def is_str(self, value: Any, key: str, *, none: bool = False) -> None:
        if not (isinstance(value, str) or (none and value is None)):
            raise self.fail(
                key, f"must be a string{' or null' if none else ''}, not {_show(value)}"
            )

    def is_dict(self, value: Any, key: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key, f"must be an object, not {_show(value)}")
        return value

    def is_str_list(self, value: Any, key: str) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(key, f"must be a list of strings, not {_show(value)}")
        return value

    def equals(self, value: Any, want: Any, key: str, source: str) -> None:
        if value != want:
            raise self.fail(key, f"is {_show(value)}, but {source} says {_show(want)}")


def check_format(meta: Any, side: Path, current: int) -> None:
    """The sidecar is an object of a format this fastetl reads (1 .. ``current``)."""
    c = _Check(side)
    if not isinstance(meta, dict):
        raise OutputError(f"{side} is not a fastetl sidecar: it holds {_show(meta)}, not an object")
    if "format" not in meta:
        raise OutputError(f'{side} is not a fastetl sidecar: it has no "format" key')
    fmt = meta["format"]
    if not isinstance(fmt, int) or isinstance(fmt, bool) or fmt < 1:
        raise c.fail("format", f"must be an integer >= 1, not {_show(fmt)}")
    if fmt > current:
        raise OutputError(
            f"{side} was written by a newer fastetl (sidecar format {fmt}; fastetl "
            f"{__version__} reads formats 1 to {current}): upgrade fastetl to read it"
        )


def check_keys(meta: dict[str, Any], side: Path) -> Schema:
    """Validate every key a reader uses, on its own and against the schema (after
    :func:`check_format`; the ``.npy`` is not looked at); returns the schema."""
    c = _Check(side)
    for key in ("schema", "rows"):
        if key not in meta:
            raise OutputError(f'{side}: the "{key}" key is missing; convert again to rebuild it')
    try:
        schema = Schema.from_dict(meta["schema"])
        schema.dtype()
    except (FastETLError, TypeError, ValueError, KeyError) as e:
        raise c.fail("schema", f"is not a valid schema ({_one_line(e)})") from None
    c.is_int(meta["rows"], "rows")
    _check_categories(c, meta, schema)
    if "flags" in meta:
        flags = c.is_dict(meta["flags"], "flags")
        bits = {f.name: [b.name for b in f.bits] for f in schema.flags}
        c.equals(flags, bits, "flags", "the schema")
    if "nulls" in meta:
        nulls = c.is_dict(meta["nulls"], "nulls")
        for key, names in (
            ("mask_fields", [name for name, _ in schema.null_fields()]),
            ("null_bits", [col.name for col in schema.masked_columns]),
        ):
            if key in nulls:
                c.equals(nulls[key], names, f"nulls.{key}", "the schema")
        for key, word in (("float", "NaN"), ("date", "NaT"), ("datetime", "NaT")):
            if key in nulls:
                c.equals(nulls[key], word, f"nulls.{key}", "the null convention")
    if "output" in meta:
        out = c.is_dict(meta["output"], "output")
        if "path" in out:
            c.is_str(out["path"], "output.path")
        for key in ("data_offset", "bytes"):
            if key in out:
                c.is_int(out[key], f"output.{key}")
    if "text" in meta:
        text = c.is_dict(meta["text"], "text")
        c.is_str(text.get("path"), "text.path")
        for key in ("data_offset", "bytes"):
            c.is_int(text.get(key), f"text.{key}")
    if "numpy_load" in meta:
        opts = c.is_dict(meta["numpy_load"], "numpy_load")
        if "max_header_size" in opts:
            c.is_int(opts["max_header_size"], "numpy_load.max_header_size", 1)
    for key in ("fastetl_version", "created"):
        if key in meta:
            c.is_str(meta[key], key)
    _check_run(c, meta, "")
    if "appended" in meta:
        appended = meta["appended"]
        if not isinstance(appended, list):
            raise c.fail("appended", f"must be a list, not {_show(appended)}")
        for i, run in enumerate(appended):
            _check_run(c, c.is_dict(run, f"appended[{i}]"), f"appended[{i}].")
    if "lineage" in meta:
        entries = meta["lineage"]
        if not isinstance(entries, list):
            raise c.fail("lineage", f"must be a list, not {_show(entries)}")
        for i, entry in enumerate(entries):
            key = f"lineage[{i}]"
            _check_run(c, c.is_dict(entry, key), f"{key}.")
            for k in _LINEAGE_TEXT:
                if k in entry:
                    c.is_str(entry[k], f"{key}.{k}")
    return schema


def check_records(
    meta: dict[str, Any], schema: Schema, side: Path, npy: NpyFacts, npy_name: str
) -> None:
    """The sidecar (checked by :func:`check_keys`) describes the records the ``.npy``
    header announces, and the file holds them all."""
    c = _Check(side)
    dtype = schema.dtype()
    if dtype != npy.dtype:
        raise c.fail(
            "schema", f"does not match the records of {npy_name} ({_layout_diff(dtype, npy.dtype)})"
        )
    rows = meta["rows"]
    if rows != npy.rows:
        raise c.fail("rows", f"is {rows:,} but {npy_name} holds {npy.rows:,} rows")
    if npy.data_offset is None:
        return
    need = npy.data_offset + rows * dtype.itemsize
    if npy.size is not None and npy.size < need:
        raise OutputError(
            f"{npy_name} is truncated: {npy.size:,} bytes where its header needs {need:,}"
        )
    out = meta.get("output", {})
    if "data_offset" in out:
        c.equals(out["data_offset"], npy.data_offset, "output.data_offset", f"{npy_name}'s header")
    if "bytes" in out and out["bytes"] < need:
        raise c.fail(
            "output.bytes", f"is {out['bytes']:,}, less than the {need:,} {npy_name} holds"
        )


def _one_line(e: BaseException) -> str:
    lines = str(e).splitlines()
    return lines[0][:300] if lines else type(e).__name__


def _check_categories(c: _Check, meta: dict[str, Any], schema: Schema) -> None:
    cols = [col for col in schema.columns if col.type == "category"]
    if "categories" not in meta:
        if cols:
            raise c.fail(
                "categories", f"is missing (the schema has category column {shown(cols[0].name)})"
            )
        return
    cats = c.is_dict(meta["categories"], "categories")
    names = {col.name for col in cols}
    extra = [k for k in cats if k not in names]
    if extra:
        raise c.fail(f"categories.{extra[0]}", "is not a category column of the schema")
    for col in cols:
        key = f"categories.{col.name}"
        if col.name not in cats:
            raise c.fail(key, "is missing")
        values = c.is_str_list(cats[col.name], key)
        if col.values is not None:
            c.equals(values, list(col.values), key, "the schema")
        if len(values) > col.category_limit:
            raise c.fail(
                key,
                f"lists {len(values):,} values; the column holds at most {col.category_limit:,}",
            )
        seen: set[str] = set()
        for v in values:
            if v in seen:
                raise c.fail(key, f"lists {_show(v)} twice")
            seen.add(v)


def _check_run(c: _Check, run: dict[str, Any], prefix: str) -> None:
    """The facts of one run: its source, header, error policy, rejects file, counts."""
    if run.get("source") is not None:  # (null: an append to a sidecar that had none)
        src = c.is_dict(run["source"], f"{prefix}source")
        for key in ("path", "compression", "encoding"):
            if key in src:
                c.is_str(src[key], f"{prefix}source.{key}", none=key == "path")
        if "size" in src:
            c.is_int(src["size"], f"{prefix}source.size")
        if "mtime" in src:
            t = src["mtime"]
            if (
                not isinstance(t, (int, float))
                or isinstance(t, bool)
                or not math.isfinite(t)
                or not _MIN_TIME <= t <= _MAX_TIME
            ):
                raise c.fail(f"{prefix}source.mtime", f"must be a time in seconds, not {_show(t)}")
    if "header" in run and run["header"] is not None:
        c.is_str_list(run["header"], f"{prefix}header")
    if run.get("on_error") is not None and run["on_error"] not in _ON_ERROR:
        raise c.fail(
            f"{prefix}on_error",
            f"must be one of {', '.join(_ON_ERROR)}, not {_show(run['on_error'])}",
        )
    if "rejects" in run:
        c.is_str(run["rejects"], f"{prefix}rejects", none=True)
    for key in _COUNTS:
        if key in run:
            c.is_int(run[key], f"{prefix}{key}")
    if run.get("content_hash") is not None:  # (null: not hashed)
        ch = c.is_dict(run["content_hash"], f"{prefix}content_hash")
        for key in ("algorithm", "value"):
            c.is_str(ch.get(key), f"{prefix}content_hash.{key}")
        c.is_int(ch.get("bytes"), f"{prefix}content_hash.bytes")


def _layout_diff(want: np.dtype, have: np.dtype) -> str:
    """Where two record layouts first differ, in a few words (no 100,000-field dump)."""
    a, b = want.names or (), have.names or ()
    for i, (x, y) in enumerate(zip(a, b, strict=False)):  # (lengths compared below)
        if x != y:
            return f"field {i} is {shown(x)} in the schema, {shown(y)} in the file"
        fx, fy = want.fields[x], have.fields[y]  # type: ignore[index]
        if fx != fy:
            return (
                f"field {shown(x)} is {fx[0].str} at byte {fx[1]} in the schema, "
                f"{fy[0].str} at byte {fy[1]} in the file"
            )
    if len(a) != len(b):
        return f"{len(a):,} fields in the schema, {len(b):,} in the file"
    return f"records of {want.itemsize} bytes in the schema, {have.itemsize} in the file"


def check_codes(
    records: np.ndarray, meta: dict[str, Any], schema: Schema, side: Path, npy_name: str
) -> None:
    """Every category code in ``records`` (but those of null rows) has its value in
    the sidecar's dictionary.  Reads the category columns, a million rows at a time."""
    masked = {col.name: k for k, col in enumerate(schema.masked_columns)}
    for col in schema.columns:
        if col.type != "category":
            continue
        n = len(meta["categories"][col.name])
        for start in range(0, len(records), 1 << 20):
            part = records[start : start + (1 << 20)]
            bad = np.asarray(part[col.name]) >= n
            if col.name in masked:
                bad &= ~null_rows(part, masked[col.name])
            if bad.any():
                i = int(np.argmax(bad))
                raise unknown_code(side, col.name, n, npy_name, start + i, int(part[col.name][i]))


def null_rows(records: np.ndarray, bit: int) -> np.ndarray:
    """True where bit ``bit`` of the null mask is set (see :mod:`fastetl.schema`)."""
    field = "_nulls" if bit < 64 else f"_nulls{bit // 64}"
    return ((np.asarray(records[field]) >> np.uint64(bit % 64)) & 1).astype(bool)


def unknown_code(side: Path, name: str, n: int, npy_name: str, row: int, code: int) -> OutputError:
    return OutputError(
        f'{side}: "categories.{name}" lists {n:,} values, but row {row:,} of {npy_name} '
        f"holds code {code:,}; was it edited by hand? convert again to rebuild it"
    )
