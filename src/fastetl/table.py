"""Reading converted data back: ``fastetl.open(path)`` -> :class:`Table`.

The records stay in the memory-mapped ``.npy`` file; a Table decodes what the
bytes alone cannot say (category codes, flag bits, null masks, decimal scales)
from the JSON sidecar, column by column, on demand.
"""

from __future__ import annotations

import decimal
import os
from pathlib import Path
from typing import Any

import numpy as np

from .errors import OutputError
from .schema import Column, Schema
from .sidecar import NpyFacts, check_records, unknown_code
from .store import PairError, load_pair, read_sidecar, sidecar_path, sidecar_schema


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
            meta, array = load_pair(self.path)
        except PairError:
            read_sidecar(self.path, records=True)  # a sidecar edited by hand: say which key
            raise
        self.meta: dict[str, Any] = meta
        self.schema: Schema = sidecar_schema(meta)
        offset = array.offset if isinstance(array, np.memmap) else None
        facts = NpyFacts(dtype=array.dtype, rows=len(array), data_offset=offset, size=None)
        check_records(meta, self.schema, sidecar_path(self.path), facts, self.path.name)
        self.array: np.ndarray = array
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
        return f"<fastetl.Table {self.path.name}: {len(self):,} rows, columns {self.columns}>"

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
        """A decoded column, or a flag bit as a bool array."""
        if name in self._bits:
            field, bit = self._bits[name]
            return ((self.array[field] >> bit) & 1).astype(bool)
        col = self._column(name)
        raw = self.array[name]
        if col.type == "category":
            values = np.array(self.meta["categories"][name] + [None], dtype=object)
            codes = self._codes(name)
            codes[codes < 0] = len(values) - 1
            return values[codes]
        if col.type == "str":
            out = np.array([b.decode("utf-8") for b in raw.tolist()], dtype=object)
            if col.masked:
                out[self.null_mask(name)] = None
            return out
        if col.masked:
            return np.ma.MaskedArray(np.asarray(raw), mask=self.null_mask(name))
        return raw

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
            raise unknown_code(
                sidecar_path(self.path), name, n, self.path.name, self._start + i, int(codes[i])
            )
        if nulls is not None:
            codes[nulls] = -1
        return codes

    def decimal(self, name: str) -> np.ndarray:
        """A decimal column as ``decimal.Decimal`` objects (``None`` for nulls)."""
        col = self._column(name)
        if col.type != "decimal":
            raise TypeError(f"column {name!r} is {col.type}, not decimal")
        scale = col.scale or 0
        out = np.array(
            [decimal.Decimal(v).scaleb(-scale) for v in self.array[name].tolist()], dtype=object
        )
        if col.masked:
            out[self.null_mask(name)] = None
        return out

    def rows(self, start: int = 0, stop: int | None = None) -> list[dict[str, Any]]:
        """Rows as dicts of Python values (for display)."""
        stop = len(self) if stop is None else min(stop, len(self))
        sub = Table.__new__(Table)
        sub.__dict__.update(self.__dict__)
        sub.array = self.array[start:stop]
        sub._start = start
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
        """A pandas DataFrame; ``decimals`` is ``"float"``, ``"decimal"`` or ``"int"`` (scaled)."""
        try:
            import pandas as pd  # type: ignore[import-untyped,unused-ignore]
        except ImportError:
            raise ImportError("to_pandas() needs pandas: pip install 'fastetl[pandas]'") from None
        if decimals not in ("float", "decimal", "int"):
            raise ValueError(f"decimals must be 'float', 'decimal' or 'int', not {decimals!r}")
        data: dict[str, Any] = {}
        for name, col in self._columns.items():
            raw = np.asarray(self.array[name])
            nulls = self.null_mask(name) if col.masked else None
            if col.type == "category":
                data[name] = pd.Categorical.from_codes(
                    self._codes(name), self.meta["categories"][name]
                )
            elif col.type == "str":
                data[name] = self[name]
            elif col.type == "decimal":
                if decimals == "decimal":
                    data[name] = self.decimal(name)
                elif decimals == "int":
                    data[name] = _nullable(pd, raw, nulls)
                else:
                    f = raw / 10.0 ** (col.scale or 0)
                    if nulls is not None:
                        f[nulls] = np.nan
                    data[name] = f
            elif nulls is not None:
                data[name] = _nullable(pd, raw, nulls)
            else:
                data[name] = raw
        for bit in self._bits:
            data[bit] = self[bit]
        return pd.DataFrame(data)


def _nullable(pd: Any, values: np.ndarray, nulls: np.ndarray | None) -> Any:
    if nulls is None:
        return values
    if values.dtype == np.bool_:
        return pd.arrays.BooleanArray(values, nulls)
    return pd.arrays.IntegerArray(values, nulls)


def open(path: str | os.PathLike[str]) -> Table:  # noqa: A001 - mirrors the builtin on purpose
    """Open a converted ``.npy`` file (and its sidecar) as a :class:`Table`."""
    return Table(path)
