"""Reading converted data back: ``fastetl.open(path)`` -> :class:`Table`.

The records stay in the memory-mapped ``.npy`` file (or, for ``fastetl.read_csv``,
in memory); a Table decodes what the bytes alone cannot say (category codes, flag
bits, null masks, decimal scales) from the JSON sidecar, column by column, on
demand.  ``t[name]`` is always values -- floats, ``str``, bools, ``datetime64``,
masks for nulls -- never an encoding; the stored encoding stays reachable with
``t.raw(name)`` and ``t.array``.  Every decoder here is a numpy operation over the
whole column, with no Python loop per value (only exact ``Decimal`` objects, and
scaled decimals beyond 2**53, are made one by one).
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
        self._index()

    @classmethod
    def from_array(cls, array: np.ndarray, meta: dict[str, Any]) -> Table:
        """A Table over records in memory; ``meta`` is shaped like a sidecar (at least
        ``"schema"`` and ``"categories"``).  :func:`fastetl.read_csv` returns one."""
        self = cls.__new__(cls)
        self.path = None
        self.meta = meta
        self.schema = Schema.from_dict(meta["schema"])
        if array.dtype != self.schema.dtype():
            raise ValueError(
                f"records of {array.dtype} do not match the schema's {self.schema.dtype()}"
            )
        self.array = array
        self._index()
        return self

    def _index(self) -> None:
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
        if col.type == "category":
            out = np.asarray(self.meta["categories"][name] or [None], dtype=object).take(raw)
        elif col.type == "str":
            out = _utf8(raw)
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
        out = np.array(
            [decimal.Decimal(v).scaleb(-scale) for v in self.array[name].tolist()], dtype=object
        )
        if col.masked:
            out[self.null_mask(name)] = None
        return out

    def rows(self, start: int = 0, stop: int | None = None) -> list[dict[str, Any]]:
        """Rows as dicts of Python values (for display)."""
        stop = len(self) if stop is None else min(stop, len(self))
        sub = type(self).__new__(type(self))
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
            elif col.type == "decimal" and decimals != "float":
                data[name] = (
                    self.decimal(name) if decimals == "decimal" else _nullable(pd, raw, nulls)
                )
            elif col.type == "decimal":
                data[name] = np.ma.filled(self[name], np.nan)
            elif nulls is not None:
                data[name] = _nullable(pd, raw, nulls)
            else:
                data[name] = raw
        for bit in self._bits:
            data[bit] = self[bit]
        return pd.DataFrame(data)


# 10**s is exact in float64 for every scale a schema allows (at most 18 < 22)
_EXACT_INT = 2**53  # integers up to this magnitude are exact in float64


def _decimal_floats(ints: np.ndarray, scale: int) -> np.ndarray:
    """Scaled integers as the floats ``float(text)`` gives: ``n / 10**scale`` is one
    correctly rounded division of two exact doubles while ``|n| <= 2**53``; the few
    larger integers are rounded once through ``decimal`` instead of twice."""
    out = ints / 10.0**scale
    big = (ints > _EXACT_INT) | (ints < -_EXACT_INT)
    if big.any():
        out[big] = [float(decimal.Decimal(v).scaleb(-scale)) for v in ints[big].tolist()]
    return out


try:  # numpy >= 2: one C loop decodes UTF-8 bytes (numpy S) into variable-width strings
    _STRINGS: Any = np.dtypes.StringDType()
except AttributeError:  # numpy 1.x
    _STRINGS = None


def _utf8(raw: np.ndarray) -> np.ndarray:
    """UTF-8 bytes (numpy S, trailing NULs are padding) as an object array of ``str``.

    ``raw.astype(StringDType()).astype(object)`` (numpy decodes UTF-8 in C) measured
    the fastest exact way, on par with a ``bytes.decode`` loop and 3-5 times faster than
    ``numpy.char.decode`` / ``numpy.strings.decode``, which build fixed-width UCS-4
    first; ``astype("U")`` is ASCII-only.  ``benchmarks/decoding.py`` re-measures.
    """
    if _STRINGS is not None:
        return raw.astype(_STRINGS).astype(object)
    out = np.empty(len(raw), dtype=object)
    out[:] = list(map(bytes.decode, raw.tolist()))
    return out


def _nullable(pd: Any, values: np.ndarray, nulls: np.ndarray | None) -> Any:
    if nulls is None:
        return values
    if values.dtype == np.bool_:
        return pd.arrays.BooleanArray(values, nulls)
    return pd.arrays.IntegerArray(values, nulls)


def open(path: str | os.PathLike[str]) -> Table:  # noqa: A001 - mirrors the builtin on purpose
    """Open a converted ``.npy`` file (and its sidecar) as a :class:`Table`."""
    return Table(path)
