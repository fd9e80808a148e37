"""fastetl: CSV to typed, fixed-layout binary records (.npy) at memory speed.

>>> import fastetl
>>> report = fastetl.convert("orders.csv", "orders.npy", schema="orders.schema.json")
>>> table = fastetl.open("orders.npy")          # memory-mapped, decoded on demand
>>> table = fastetl.read_csv("orders.csv", schema="orders.schema.json")   # in memory, same Table
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

# ``fastetl.export`` is a function and a subpackage: bound here, at import, so that no
# later import of the subpackage (``fastetl.export.onepass``) rebinds the name to it
from .export import ExportReport, export

# Every other name is imported at its first use (PEP 562): ``import fastetl.pandas``
# loads what read_csv needs, not the profiler, the rules or the numpy drop-ins.
_LAZY = {
    "ConvertReport": "api",
    "convert": "api",
    "read_csv": "api",
    "install": "dropin.accelerate",
    "uninstall": "dropin.accelerate",
    "FallbackError": "dropin.fallback",
    "FallbackWarning": "dropin.fallback",
    "get_fallback": "dropin.fallback",
    "set_fallback": "dropin.fallback",
    "genfromtxt": "dropin.numpy",
    "loadtxt": "dropin.numpy",
    "EncodingGuessWarning": "errors",
    "FastETLError": "errors",
    "Interrupted": "errors",
    "OutputError": "errors",
    "ParseError": "errors",
    "SchemaError": "errors",
    "hint_for": "infer",
    "infer_schema": "infer",
    "Profile": "profiling",
    "profile": "profiling",
    "CheckReport": "rules",
    "check": "rules",
    "Column": "schema",
    "Dialect": "schema",
    "FlagBit": "schema",
    "Flags": "schema",
    "Schema": "schema",
    "InputError": "sources",
    "Table": "table",
    "open": "table",
}

if TYPE_CHECKING:
    from .api import ConvertReport, convert, read_csv
    from .dropin.accelerate import install, uninstall
    from .dropin.fallback import FallbackError, FallbackWarning, get_fallback, set_fallback
    from .dropin.numpy import genfromtxt, loadtxt
    from .errors import (
        EncodingGuessWarning,
        FastETLError,
        Interrupted,
        OutputError,
        ParseError,
        SchemaError,
    )
    from .infer import hint_for, infer_schema
    from .profiling import Profile, profile
    from .rules import CheckReport, check
    from .schema import Column, Dialect, FlagBit, Flags, Schema
    from .sources import InputError
    from .table import Table, open


# The submodules an attribute may load, as the eager imports once did: not ``__main__``
# (the CLI: importing it runs it), nor ``pandas``/``dask`` (their optional packages), which
# are imported by name (``import fastetl.pandas``)
_SUBMODULES = frozenset({
    "_core", "_version", "_zstdframes", "api", "bridges", "cli", "dataset", "demo", "dropin",
    "errors", "infer", "layout", "lineage", "memory", "openlineage", "outset", "pipeline",
    "profiling", "resume", "rules", "schema", "sidecar", "signals", "sources", "store", "table",
    "widening",
})


def __getattr__(name: str) -> Any:
    where = _LAZY.get(name)
    if where is None:
        if name not in _SUBMODULES:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        return importlib.import_module(f".{name}", __name__)
    value = getattr(importlib.import_module(f".{where}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "CheckReport",
    "Column",
    "ConvertReport",
    "Dialect",
    "EncodingGuessWarning",
    "ExportReport",
    "FallbackError",
    "FallbackWarning",
    "FastETLError",
    "FlagBit",
    "Flags",
    "InputError",
    "Interrupted",
    "OutputError",
    "ParseError",
    "Profile",
    "Schema",
    "SchemaError",
    "Table",
    "__version__",
    "check",
    "convert",
    "export",
    "genfromtxt",
    "get_fallback",
    "hint_for",
    "infer_schema",
    "install",
    "loadtxt",
    "open",
    "profile",
    "read_csv",
    "set_fallback",
    "uninstall",
]
