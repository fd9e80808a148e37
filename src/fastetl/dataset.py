"""Reading a dataset folder (``fastetl.dask.convert``) back as one table.

A dataset is ``part-00000.npy``, ``part-00001.npy``, ... plus ``dataset.json``
(the schema, the global category dictionaries, the parts in input order).  Each
part is a plain ``.npy`` file (``numpy.load(part, mmap_mode="r")``); its category
codes index the dataset's global dictionaries.  With ``text`` columns each part has
its text bytes beside it (``part-00000.text.npy``, uint8), which its (offset, length)
references count from.  :class:`Dataset` memory-maps the parts and decodes them as
:class:`~fastetl.table.Table` does; a column is the parts' columns one after the other.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from .errors import OutputError
from .schema import Schema
from .store import shift_text
from .table import Table

DATASET_FILE = "dataset.json"
DATASET_FORMAT = "fastetl-dataset/1"


def is_dataset(path: str | os.PathLike[str]) -> bool:
    p = Path(path)
    return p.is_dir() and (p / DATASET_FILE).is_file()


class Dataset:
    """A dataset folder: its parts (memory-mapped Tables) read as one table."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        meta_path = self.path / DATASET_FILE
        if not meta_path.is_file():
            raise OutputError(f"{path}: not a fastetl dataset (no {DATASET_FILE})")
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise OutputError(f"{meta_path}: cannot be read: {e}") from None
        if not isinstance(meta, dict) or meta.get("format") != DATASET_FORMAT:
            raise OutputError(f"{meta_path}: not a dataset description of {DATASET_FORMAT}")
        self.meta: dict[str, Any] = meta
        self.schema = Schema.from_dict(meta["schema"])
        self._parts: list[Table | None] = [None] * len(meta["parts"])
        rows = [int(p["rows"]) for p in meta["parts"]]
        if sum(rows) != meta["rows"]:
            raise OutputError(f"{meta_path}: the parts' rows do not add up to 'rows'")
        self._rows = rows

    @property
    def nparts(self) -> int:
        return len(self._parts)

    def part(self, k: int) -> Table:
        """Part ``k`` as a Table over its memory-mapped records."""
        t = self._parts[k]
        if t is None:
            info = self.meta["parts"][k]
            path = self.path / info["file"]
            try:
                array = np.load(path, mmap_mode="r", allow_pickle=False)
            except (OSError, ValueError) as e:
                raise OutputError(f"{path}: cannot be read: {e}") from None
            if len(array) != info["rows"]:
                raise OutputError(
                    f"{path} holds {len(array):,} rows; {DATASET_FILE} says {info['rows']:,}"
                )
            text = None
            if self.schema.text_names:
                tpath = self.path / str(info.get("text", ""))
                try:
                    text = np.load(tpath, mmap_mode="r", allow_pickle=False)
                except (OSError, ValueError) as e:
                    raise OutputError(f"{tpath}: cannot be read: {e}") from None
                if text.dtype != np.uint8 or text.ndim != 1:
                    raise OutputError(f"{tpath}: not the text bytes of a part (1-d uint8)")
            t = Table.from_array(array, {**self.meta, "rows": info["rows"]}, text)
            t.path = path
            self._parts[k] = t
        return t

    def parts(self) -> list[Table]:
        """The parts as Tables (an empty dataset: one empty Table, so columns have a type)."""
        if not self.nparts:
            return [Table.from_array(np.zeros(0, self.schema.dtype()), {**self.meta, "rows": 0},
                                     np.zeros(0, np.uint8))]  # fmt: skip
        return [self.part(k) for k in range(self.nparts)]

    def __len__(self) -> int:
        return sum(self._rows)

    @property
    def columns(self) -> list[str]:
        return self.parts()[0].columns

    def __repr__(self) -> str:
        return f"<fastetl Dataset {self.path}: {len(self):,} rows in {self.nparts} part(s)>"

    def _join(self, parts: list[Any]) -> Any:
        if any(isinstance(p, np.ma.MaskedArray) for p in parts):
            return np.ma.concatenate(parts)
        return np.concatenate(parts)

    def __getitem__(self, name: str) -> np.ndarray:
        """Column ``name`` as values (see :meth:`fastetl.table.Table.__getitem__`)."""
        return self._join([t[name] for t in self.parts()])

    def raw(self, name: str) -> np.ndarray:
        return np.concatenate([t.raw(name) for t in self.parts()])

    def decimal(self, name: str) -> np.ndarray:
        return np.concatenate([t.decimal(name) for t in self.parts()])

    def null_mask(self, name: str) -> np.ndarray:
        return np.concatenate([t.null_mask(name) for t in self.parts()])

    @property
    def array(self) -> np.ndarray:
        """Every part's records in one array (a copy: the parts are separate files);
        text references count from the start of :attr:`text`."""
        parts = self.parts()
        out = np.concatenate([np.asarray(t.array) for t in parts])
        at, base = 0, 0
        for t in parts:
            shift_text(out[at : at + len(t)], self.schema.text_names, base)
            at, base = at + len(t), base + len(t.text)
        return out

    @property
    def text(self) -> np.ndarray:
        """Every part's text bytes in one array (what :attr:`array`'s references count
        from; empty without text columns)."""
        return np.concatenate([np.asarray(t.text) for t in self.parts()])

    def rows(self, start: int = 0, stop: int | None = None) -> list[dict[str, Any]]:
        stop = len(self) if stop is None else min(stop, len(self))
        out: list[dict[str, Any]] = []
        at = 0
        for k, n in enumerate(self._rows):
            lo, hi = max(start - at, 0), min(stop - at, n)
            if lo < hi:
                out += self.part(k).rows(lo, hi)
            at += n
        return out

    def to_pandas(self, decimals: str = "float") -> Any:
        import pandas as pd  # type: ignore[import-untyped,unused-ignore]

        frames = [t.to_pandas(decimals) for t in self.parts()]
        return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
