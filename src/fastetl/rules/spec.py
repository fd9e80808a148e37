"""Rule keys of a schema, checked when the schema is loaded.

Per column (keys of the column's object): ``min``, ``max``, ``pattern``, ``allowed``,
``max_length``, ``unique``.  Per row: ``"rules": [{"name", "expr", "tolerance"}]``.
Each is turned here into the column's own representation (scaled integers for
decimals, days for dates, units for datetimes, UTF-8 bytes for text) so that checking
a block of records is a few numpy operations.  A null passes every rule.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np

from ..errors import SchemaError, shown
from ..schema import FLOAT_TYPES, INT_TYPES, Column
from .backtrack import exponential_risk
from .expr import Compiled, compile_expr, epoch_nanos

COLUMN_RULE_KEYS = ("min", "max", "pattern", "allowed", "max_length", "unique")
ROW_RULE_KEYS = frozenset({"name", "expr", "tolerance"})
_ORDERED = frozenset((*INT_TYPES, *FLOAT_TYPES, "decimal", "date", "datetime"))
_TEXT = frozenset({"str", "category"})
# the types rules know how to read from the records
_CHECKED = frozenset((*INT_TYPES, *FLOAT_TYPES, "bool", "date", "datetime", "decimal", *_TEXT))
_UNITS = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


@dataclass(frozen=True)
class ColumnRules:
    """A column's rules: the JSON values as given (``given``) and their stored form."""

    given: tuple[tuple[str, Any], ...]
    min: Any = None  # in the column's stored representation (see module doc)
    max: Any = None
    pattern: re.Pattern[str] | None = None
    allowed: tuple[Any, ...] | None = None
    max_length: int | None = None
    unique: bool = False

    def to_dict(self) -> dict[str, Any]:
        return dict(self.given)

    def names(self) -> list[str]:
        """The rules as the sidecar and messages name them: ``column.key``."""
        return [k for k, v in self.given if k != "unique" or v]


def _bad(col: Column, key: str, problem: str) -> SchemaError:
    return SchemaError(f"column {shown(col.name)}: {key} {problem}")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def stored_value(col: Column, key: str, v: Any) -> Any:
    """A rule's JSON value as the column stores it (``SchemaError`` when it cannot be)."""
    t = col.type
    if t in INT_TYPES:
        if not _is_int(v):
            raise _bad(col, key, f"must be an integer for type {t}, got {shown(v)}")
        return v
    if t in FLOAT_TYPES:
        if not (_is_int(v) or isinstance(v, float)) or not math.isfinite(v):
            raise _bad(col, key, f"must be a finite number for type {t}, got {shown(v)}")
        if t == "float64":
            return float(v)
        # compared in the column's own precision: the value as a float32 holds it
        # (max 0.1 keeps a stored 0.1; a bound past float32's range is infinite)
        with np.errstate(over="ignore"):
            f = float(np.float32(v))
        if key == "allowed" and not math.isfinite(f):
            raise _bad(col, key, f"{shown(v)} is out of range for type {t}")
        return f
    if t == "decimal":
        if isinstance(v, bool) or not isinstance(v, (int, float, str)):
            raise _bad(col, key, f"must be a number or a decimal string, got {shown(v)}")
        try:
            d = Decimal(str(v).strip())
        except InvalidOperation:
            raise _bad(col, key, f"must be a number, got {shown(v)}") from None
        if not d.is_finite():
            raise _bad(col, key, f"must be a finite number, got {shown(v)}")
        scaled = d.scaleb(col.scale or 0)
        if scaled != scaled.to_integral_value():
            raise _bad(col, key, f"{shown(v)} has more than {col.scale} decimal places")
        return int(scaled)
    if t == "date":
        try:
            if not isinstance(v, str) or len(v) != 10:
                raise ValueError
            return (_dt.date.fromisoformat(v) - _dt.date(1970, 1, 1)).days
        except ValueError:
            raise _bad(col, key, f"must be a date as 'YYYY-MM-DD', got {shown(v)}") from None
    if t == "datetime":
        try:
            if not isinstance(v, str):
                raise ValueError
            ns, _ = epoch_nanos(v)
        except ValueError:
            raise _bad(
                col, key, f"must be a datetime as 'YYYY-MM-DDTHH:MM:SS', got {shown(v)}"
            ) from None
        step = 1_000_000_000 // _UNITS[col.datetime_unit]
        if ns % step:
            raise _bad(col, key, f"{shown(v)} is more precise than the column's unit")
        return ns // step
    if t == "bool":
        if not isinstance(v, bool):
            raise _bad(col, key, f"must be true or false for type bool, got {shown(v)}")
        return v
    if t in _TEXT:
        if not isinstance(v, str):
            raise _bad(col, key, f"must be a string for type {t}, got {shown(v)}")
        return v
    raise _bad(col, key, f"does not apply to type {t}")  # pragma: no cover


def column_rules(col: Column, given: dict[str, Any]) -> ColumnRules | None:
    """Check a column's rule keys (``given``: only those keys) and make its rules."""
    if not given:
        return None
    t = col.type
    if t == "skip":
        raise SchemaError(
            f"column {shown(col.name)}: a skip column is not stored, "
            f"so rules {sorted(given)} cannot apply"
        )
    if t not in _CHECKED:
        raise SchemaError(f"column {shown(col.name)}: rules do not apply to type {t} yet")
    kw: dict[str, Any] = {}
    for key in ("min", "max"):
        if key in given:
            if t not in _ORDERED:
                raise _bad(col, key, f"does not apply to type {t} (numbers, dates, datetimes)")
            kw[key] = stored_value(col, key, given[key])
    if "min" in kw and "max" in kw and kw["min"] > kw["max"]:
        raise SchemaError(
            f"column {shown(col.name)}: min {shown(given['min'])} is greater than "
            f"max {shown(given['max'])}"
        )
    if "pattern" in given:
        p = given["pattern"]
        if t not in _TEXT:
            raise _bad(col, "pattern", f"does not apply to type {t} (str, category)")
        if not isinstance(p, str):
            raise _bad(col, "pattern", f"must be a regular expression string, got {shown(p)}")
        shown_p = shown(p, quote='"')  # (as written: no doubled backslashes)
        try:
            kw["pattern"] = re.compile(p)
        except (re.error, RecursionError, OverflowError) as e:
            raise _bad(col, "pattern", f"{shown_p} is not a valid regular expression ({e})") from None
        why = exponential_risk(p)
        if why is not None:
            raise _bad(
                col, "pattern", f"{shown_p} may take exponential time: {why} (rewrite "
                "it, e.g. with a possessive quantifier or an atomic group; docs/SEMANTICS.md, Rules)"
            )
    if "allowed" in given:
        a = given["allowed"]
        if not isinstance(a, list) or not a:
            raise _bad(col, "allowed", f"must be a non-empty list of values, got {shown(a)}")
        kw["allowed"] = tuple(stored_value(col, "allowed", v) for v in a)
    if "max_length" in given:
        m = given["max_length"]
        if t not in _TEXT:
            raise _bad(col, "max_length", f"does not apply to type {t} (str, category)")
        if not _is_int(m) or m < 0:
            raise _bad(col, "max_length", f"must be a whole number of characters, got {shown(m)}")
        kw["max_length"] = m
    if "unique" in given:
        u = given["unique"]
        if not isinstance(u, bool):
            raise _bad(col, "unique", f"must be true or false, got {shown(u)}")
        kw["unique"] = u
    order = {k: i for i, k in enumerate(COLUMN_RULE_KEYS)}
    items = tuple(sorted(given.items(), key=lambda kv: order[kv[0]]))
    return ColumnRules(given=items, **kw)


@dataclass(frozen=True)
class RowRule:
    """One entry of the schema's ``rules`` list."""

    name: str
    expr: str
    tolerance: float | None
    compiled: Compiled

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "expr": self.expr}
        if self.tolerance is not None:
            d["tolerance"] = self.tolerance
        return d


def row_rules(items: Any, columns: tuple[Column, ...]) -> tuple[RowRule, ...]:
    """Check the schema's ``rules`` list against its stored columns."""
    if items is None:
        return ()
    if isinstance(items, tuple) and all(isinstance(r, RowRule) for r in items):
        items = [r.to_dict() for r in items]  # (compiled again: the columns may differ)
    if not isinstance(items, list):
        raise SchemaError(f"schema: rules must be a list, got {shown(items)}")
    stored = {c.name: c for c in columns if c.stored}
    out: list[RowRule] = []
    names: set[str] = set()
    for i, r in enumerate(items):
        where = f"rules[{i}]"
        if not isinstance(r, dict):
            raise SchemaError(f"{where}: a rule must be an object, got {shown(r)}")
        unknown = set(r) - ROW_RULE_KEYS
        if unknown:
            raise SchemaError(f"{where}: unknown key(s) {sorted(unknown)} (known: name, expr, tolerance)")
        name = r.get("name")
        if not isinstance(name, str) or not name:
            raise SchemaError(f"{where}: a rule needs a name (a non-empty string)")
        where = "rule " + shown(name, quote='"')
        if name in names:
            raise SchemaError(f"{where}: the name is used twice")
        names.add(name)
        tol = r.get("tolerance")
        if tol is not None and (
            isinstance(tol, bool) or not isinstance(tol, (int, float)) or not 0 <= tol <= 1
        ):
            raise SchemaError(f"{where}: tolerance must be a share from 0 to 1, got {shown(tol)}")
        compiled = compile_expr(r.get("expr"), stored, where)
        out.append(RowRule(name, r["expr"], float(tol) if tol is not None else None, compiled))
    return tuple(out)


def as_stored_array(col: Column, values: tuple[Any, ...], dtype: np.dtype) -> np.ndarray:
    """``allowed`` values as an array comparable with the column's field."""
    if col.type in ("str", "text"):
        return np.array([v.encode("utf-8") for v in values], dtype=object)
    if col.type in ("date", "datetime") or col.type == "decimal" or col.type in INT_TYPES:
        return np.array(values, dtype=object)
    return np.array(values, dtype=dtype)
