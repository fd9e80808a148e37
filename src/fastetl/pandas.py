"""``import fastetl.pandas as pd``: ``pd.read_csv`` is fastetl's drop-in
(:mod:`fastetl.dropin.pandas`); every other name is pandas' own, unchanged."""

from __future__ import annotations

from typing import Any

import pandas as _pandas

from .dropin.pandas import read_csv

__all__ = ["read_csv"]


def __getattr__(name: str) -> Any:
    return getattr(_pandas, name)


def __dir__() -> list[str]:
    return sorted(set(dir(_pandas)) | {"read_csv"})
