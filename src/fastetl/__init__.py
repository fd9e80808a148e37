"""fastetl: CSV to typed, fixed-layout binary records (.npy) at memory speed.

>>> import fastetl
>>> report = fastetl.convert("orders.csv", "orders.npy", schema="orders.schema.json")
>>> table = fastetl.open("orders.npy")          # memory-mapped, decoded on demand
>>> table = fastetl.read_csv("orders.csv", schema="orders.schema.json")   # in memory, same Table
"""

from ._version import __version__
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
from .export import ExportReport, export
from .infer import hint_for, infer_schema
from .profiling import Profile, profile
from .rules import CheckReport, check
from .schema import Column, Dialect, FlagBit, Flags, Schema
from .sources import InputError
from .table import Table, open

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
