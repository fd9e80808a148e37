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
from .store import read_sidecar, sidecar_path


class Table:
    """A converted file: the structured array plus its sidecar."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise OutputError(f"{path}: no such file")
        self.meta: dict[str, Any] = read_sidecar(self.path)
        self.schema: Schema = Schema.from_dict(self.meta["schema"])
        rows = int(self.meta.get("rows", -1))
        try:
            # numpy cannot memory-map zero bytes of data; an empty table is read plainly
            self.array: np.ndarray = np.load(self.path, mmap_mode="r" if rows else None)
        except (OSError, ValueError) as e:
            raise OutputError(f"cannot read {self.path}: {e}") from None
        if self.array.dtype != self.schema.dtype() or len(self.array) != rows:
            raise OutputError(
                f"{self.path} does not match its sidecar {sidecar_path(self.path).name} "
                f"({len(self.array)} rows of {self.array.dtype} vs {rows} rows of the schema); "
                "was one of them replaced by hand?"
            )
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
            codes = raw.astype(np.int64)
            if col.masked:
                codes[self.null_mask(name)] = len(values) - 1
            return values[codes]
        if col.type == "str":
            out = np.array([b.decode("utf-8") for b in raw.tolist()], dtype=object)
            if col.masked:
                out[self.null_mask(name)] = None
            return out
        if col.masked:
            return np.ma.MaskedArray(np.asarray(raw), mask=self.null_mask(name))
        return raw

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
                codes = raw.astype(np.int64)
                if nulls is not None:
                    codes[nulls] = -1
                data[name] = pd.Categorical.from_codes(codes, self.meta["categories"][name])
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
