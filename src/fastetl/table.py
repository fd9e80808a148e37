"""Reading converted data back: ``fastetl.open(path)`` -> :class:`Table`.

The records stay in the memory-mapped ``.npy`` file (or, for ``fastetl.read_csv``,
in memory); a Table decodes what the bytes alone cannot say (category codes, flag
bits, null masks, decimal scales) from the JSON sidecar, column by column, on
demand.  ``t[name]`` is always values -- floats, ``str``, bools, ``datetime64``,
masks for nulls -- never an encoding; the stored encoding stays reachable with
``t.raw(name)`` and ``t.array``.  Every decoder here is a numpy operation over the
whole column, with no Python loop per value (only exact ``Decimal`` objects, and
scaled decimals beyond 2**53, are made one by one).  The conversions to pandas, Arrow
and Polars (``to_pandas``, ``to_arrow``, ``to_polars``, ``iter_batches``) live in
``bridges.py``.
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from . import bridges
from .errors import OutputError
from .schema import Column, Schema
from .sidecar import NpyFacts, check_records, unknown_code
from .store import (
    PairError,
    load_pair,
    open_records,
    read_sidecar,
    sidecar_path,
    sidecar_schema,
)


class Table:
    """A converted file: the structured array plus its sidecar."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise OutputError(f"{path}: no such file")
        # The sidecar (every key checked), paired with the records of the same commit,
        # which are memory-mapped (none: no map): nothing is read here.  The category
        # codes are checked as they are decoded, not by a scan of the file.
        try:
            meta, array, text = load_pair(self.path)
        except PairError:
            read_sidecar(self.path, records=True)  # a sidecar edited by hand: say which key
            raise
        self.meta: dict[str, Any] = meta
        self.schema: Schema = sidecar_schema(meta)
        offset = array.offset if isinstance(array, np.memmap) else None
        facts = NpyFacts(dtype=array.dtype, rows=len(array), data_offset=offset, size=None)
        check_records(meta, self.schema, sidecar_path(self.path), facts, self.path.name)
        self.array: np.ndarray = array
        self.text: np.ndarray = text if text is not None else np.zeros(0, np.uint8)
        self._data_offset = offset  # where array[0] is in the file (None: not mapped)
        self._index()

    @classmethod
    def from_array(
        cls,
        array: np.ndarray,
        meta: dict[str, Any],
        text: np.ndarray | None = None,
        schema: Schema | None = None,
    ) -> Table:
        """A Table over records in memory; ``meta`` is shaped like a sidecar (at least
        ``"schema"`` and ``"categories"``); ``text`` holds the bytes of the ``text``
        columns (uint8); ``schema``: the Schema ``meta["schema"]`` was made from, if the
        caller has it (rebuilding it from the dict costs ~20 us a column).
        :func:`fastetl.read_csv` returns one."""
        self = cls.__new__(cls)
        self.path = None
        self.meta = meta
        self.schema = schema if schema is not None else Schema.from_dict(meta["schema"])
        if array.dtype != self.schema.dtype():
            raise ValueError(
                f"records of {array.dtype} do not match the schema's {self.schema.dtype()}"
            )
        if self.schema.text_names and text is None:
            raise ValueError("records with text columns need their text bytes")
        self.text = np.zeros(0, np.uint8) if text is None else np.asarray(text, np.uint8)
        self.array = array
        self._data_offset = None
        self._index()
        return self

    def _index(self) -> None:
        self._start = 0  # row number of array[0] (a slice made by rows())
        self._columns = {c.name: c for c in self.schema.columns if c.stored}
        self._bits = {b.name: (f.name, i) for f in self.schema.flags for i, b in enumerate(f.bits)}
        self._null_bit = {c.name: k for k, c in enumerate(self.schema.masked_columns)}

    # -- shape -------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.array)

    @property
    def columns(self) -> list[str]:
        """Names :meth:`__getitem__` accepts: stored columns, then flag bits."""
        return list(self._columns) + list(self._bits)

    def __repr__(self) -> str:
        where = self.path.name if self.path is not None else "(in memory)"
        return f"<fastetl.Table {where}: {len(self):,} rows, columns {self.columns}>"

    # -- decoding ----------------------------------------------------------------
    def null_mask(self, name: str) -> np.ndarray:
        """True where column ``name`` is null (any nullable column)."""
        col = self._column(name)
        raw = self.array[name]
        if col.type in ("float32", "float64"):
            return np.isnan(raw)
        if col.type in ("date", "datetime"):
            return np.isnat(raw)
        k = self._null_bit.get(name)
        if k is None:
            return np.zeros(len(self), dtype=bool)
        field = "_nulls" if k < 64 else f"_nulls{k // 64}"
        return ((self.array[field] >> np.uint64(k % 64)) & 1).astype(bool)

    def _column(self, name: str) -> Column:
        try:
            return self._columns[name]
        except KeyError:
            raise KeyError(f"no column {name!r}; columns: {self.columns}") from None

    def __getitem__(self, name: str) -> np.ndarray:
        """Column ``name`` as values, or a flag bit as a bool array.

        ``category`` and ``str`` -> object arrays of ``str`` (``None`` for nulls);
        ``decimal`` -> float64 (``float(text)``, exact below 2**53 scaled; the exact
        ``Decimal``s are :meth:`decimal`); ``float``/``date``/``datetime`` as stored,
        with NaN/NaT for nulls; other nullable columns -> ``numpy.ma.MaskedArray``.
        The stored encoding is :meth:`raw`.
        """
        if name in self._bits:
            field, bit = self._bits[name]
            return ((self.array[field] >> bit) & 1).astype(bool)
        col = self._column(name)
        raw = np.asarray(self.array[name])
        nulls = self.null_mask(name) if col.masked else None
        if col.type == "category":  # (code -1, a null, takes the None at the end)
            out = np.asarray([*self.meta["categories"][name], None], dtype=object)
            out = out.take(self._codes(name))
        elif col.type == "str":
            out = _utf8(self, name)
        elif col.type == "text":
            out = bridges._strings(self, name, bridges.text_objects)
        elif col.type == "decimal":
            floats = _decimal_floats(raw, col.scale or 0)
            if nulls is None:
                return floats
            floats[nulls] = np.nan
            return np.ma.MaskedArray(floats, mask=nulls)
        elif nulls is not None:
            return np.ma.MaskedArray(raw, mask=nulls)
        else:
            return self.array[name]
        if nulls is not None:
            out[nulls] = None
        return out

    def _codes(self, name: str) -> np.ndarray:
        """The codes of a category column as int64, -1 for nulls; a code the sidecar's
        dictionary lacks is an OutputError (a sidecar edited by hand)."""
        col = self._column(name)
        codes = np.asarray(self.array[name]).astype(np.int64)
        nulls = self.null_mask(name) if col.masked else None
        n = len(self.meta["categories"][name])
        bad = codes >= n
        if nulls is not None:
            bad &= ~nulls
        if bad.any():
            i = int(np.argmax(bad))
            if self.path is None:  # pragma: no cover - read_csv makes its codes itself
                raise OutputError(f"column {name!r}: code {int(codes[i])} has no value")
            raise unknown_code(
                sidecar_path(self.path), name, n, self.path.name, self._start + i, int(codes[i])
            )
        if nulls is not None:
            codes[nulls] = -1
        return codes

    def raw(self, name: str) -> np.ndarray:
        """Field ``name`` of the records as stored (what ``numpy.load`` shows): category
        codes, scaled decimal integers, UTF-8 bytes, flag bytes, null-mask words."""
        names = self.array.dtype.names or ()
        if name not in names:
            raise KeyError(f"no stored field {name!r}; fields: {list(names)}")
        return self.array[name]

    def decimal(self, name: str) -> np.ndarray:
        """A decimal column as ``decimal.Decimal`` objects (``None`` for nulls)."""
        col = self._column(name)
        if col.type != "decimal":
            raise TypeError(f"column {name!r} is {col.type}, not decimal")
        scale = col.scale or 0
        from decimal import Decimal  # (here: a read without decimals does not import it)

        out = np.array(
            [Decimal(v).scaleb(-scale) for v in self.array[name].tolist()], dtype=object
        )
        if col.masked:
            out[self.null_mask(name)] = None
        return out

    def _sub(self, start: int, stop: int) -> Table:
        """Rows [start, stop) as a Table over the same records (a view, no copy)."""
        sub = type(self).__new__(type(self))
        sub.__dict__.update(self.__dict__)
        sub.array = self.array[start:stop]
        sub._start = self._start + start
        return sub

    def _slices(self, rows: int) -> Iterator[tuple[int, int, Table]]:
        """``(start, stop, sub-table)`` for consecutive slices of ``rows`` rows (one empty
        slice for an empty table).  Over a converted file each slice's records are read
        from the file into memory, not through the map: a pass over a file bigger than
        memory holds one slice at a time (the pages it read stay in the OS cache, not in
        this process).  When the file is no longer this commit's, the map is sliced and
        each slice's pages are released after it."""
        n = len(self)
        fh = None
        if self._data_offset is not None and self.path is not None and n:
            fh = open_records(self.path, self.meta, self.array.dtype, self._data_offset)
        try:
            for start in range(0, max(n, 1), rows):
                stop = min(start + rows, n)
                sub = self._sub(start, stop)
                if fh is not None:
                    sub.array = self._read(fh, self._start + start, stop - start)
                yield start, stop, sub
                if fh is None:
                    _release(self.array, start, stop)
        finally:
            if fh is not None:
                fh.close()

    def _read(self, fh: Any, row: int, count: int, out: np.ndarray | None = None) -> np.ndarray:
        """``count`` records from row ``row`` of the open file, into memory (into ``out``,
        ``count`` records of the table's dtype, when given)."""
        if out is None:
            out = np.empty(count, dtype=self.array.dtype)
        view = memoryview(out.view(np.uint8))
        fh.seek(self._data_offset + row * self.array.dtype.itemsize)
        done = 0
        while done < len(view):
            got = fh.readinto(view[done:])
            if not got:
                raise OutputError(f"cannot read {self.path}: it is shorter than its header says")
            done += got
        return out

    def rows(self, start: int = 0, stop: int | None = None) -> list[dict[str, Any]]:
        """Rows as dicts of Python values (for display)."""
        stop = len(self) if stop is None else min(stop, len(self))
        sub = self._sub(start, stop)
        cols = {}
        for name in self.columns:
            col = self._columns.get(name)
            cols[name] = (
                sub.decimal(name) if col is not None and col.type == "decimal" else sub[name]
            )
        out = []
        for i in range(stop - start):
            row = {}
            for name, values in cols.items():
                v = values[i]
                if v is np.ma.masked:
                    v = None
                elif isinstance(v, np.generic):
                    v = v.item()
                row[name] = v
            out.append(row)
        return out

    def to_pandas(self, decimals: str = "float") -> Any:
        """A pandas DataFrame: text in pandas' default string dtype (built from Arrow
        buffers when pyarrow is installed), categories as ``Categorical``, nullable
        ``Int*``/``boolean`` for nullable integer and bool columns, flag bits as bool;
        ``decimals`` is ``"float"``, ``"decimal"`` (exact) or ``"int"`` (scaled)."""
        return bridges.to_pandas(self, decimals)

    def to_arrow(self) -> Any:
        """A ``pyarrow.Table``: dictionary-encoded categories, ``decimal128(19, scale)``,
        ``date32``, ``timestamp`` (UTC for a column that read offsets), Arrow strings,
        nulls from the masks, flag bits as bool columns.  Needs ``fastetl[arrow]``."""
        return bridges.to_arrow(self)

    def to_polars(self) -> Any:
        """A ``polars.DataFrame`` (through :meth:`to_arrow`).  Needs ``fastetl[polars]``."""
        return bridges.to_polars(self)

    def iter_batches(self, rows: int = 65536, format: str = "arrow") -> Any:  # noqa: A002
        """Slices of ``rows`` rows as ``pyarrow.RecordBatch`` (or ``pandas.DataFrame``
        with ``format="pandas"``), for tables bigger than memory: each batch's records
        are read from the file, so about one batch is held at a time."""
        return bridges.iter_batches(self, rows, format)


# 10**s is exact in float64 for every scale a schema allows (at most 18 < 22)
_EXACT_INT = 2**53  # integers up to this magnitude are exact in float64


def _decimal_floats(ints: np.ndarray, scale: int) -> np.ndarray:
    """Scaled integers as the floats ``float(text)`` gives: ``n / 10**scale`` is one
    correctly rounded division of two exact doubles while ``|n| <= 2**53``; the few
    larger integers are rounded once through ``decimal`` instead of twice."""
    out = ints / 10.0**scale
    big = (ints > _EXACT_INT) | (ints < -_EXACT_INT)
    if big.any():
        from decimal import Decimal

        out[big] = [float(Decimal(v).scaleb(-scale)) for v in ints[big].tolist()]
    return out


def _release(array: np.ndarray, start: int, stop: int) -> None:
    """Drops rows [start, stop) of a memory-mapped array from this process's resident
    pages (read back from the file if touched again).  Advice only: nothing where the
    OS has no madvise (Windows), where the pages stay reclaimable by the OS."""
    mm = getattr(array, "_mmap", None)  # numpy.memmap's own map
    advice = getattr(mmap, "MADV_DONTNEED", None)
    if mm is None or advice is None or not hasattr(mm, "madvise") or stop <= start:
        return
    head = array.ctypes.data - np.frombuffer(mm, dtype=np.uint8).ctypes.data
    first = head + start * array.itemsize
    last = min(head + stop * array.itemsize, len(mm))
    first -= first % mmap.PAGESIZE
    if 0 <= first < last:
        mm.madvise(advice, first, last - first)


def _utf8(table: Table, name: str) -> np.ndarray:
    """A ``str`` column (UTF-8 bytes, NUL padding) as an object array of ``str``, made
    by one C loop (``bridges.utf8_objects``: faster than numpy's StringDType, which
    builds its own strings first); a value that is not UTF-8 is an OutputError."""
    return bridges._strings(table, name, bridges.utf8_objects)


def open(path: str | os.PathLike[str]) -> Table:  # noqa: A001 - mirrors the builtin on purpose
    """Open a converted ``.npy`` file (and its sidecar) as a :class:`Table`, or a dataset
    folder (``fastetl.dask.convert``) as a :class:`fastetl.dataset.Dataset`."""
    if os.path.isdir(path):
        from .dataset import Dataset  # (it reads each part as a Table)

        return Dataset(path)  # type: ignore[return-value]
    return Table(path)
