"""Checking an existing output against rules: ``fastetl check OUT.npy --rules RULES.json``
and :func:`fastetl.check`."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SchemaError, shown
from ..schema import _COMMON_KEYS, _TYPE_KEYS, Column, Schema
from ..store import load_pair, sidecar_schema
from .evaluate import Checker, unique_keys

_ROWS_AT_ONCE = 1 << 20
_RULE_KEYS = ("min", "max", "pattern", "allowed", "max_length", "unique")


class RulesError(SchemaError):
    """The rules given to :func:`check` cannot be read or do not fit the output."""


@dataclass
class CheckReport:
    """What :func:`check` found: per rule, how many rows break it (a row breaking
    several rules counts under each) and the first of them (0-based rows of the output:
    a ``.npy`` does not know its input's line numbers)."""

    path: str
    rows: int
    violations: dict[str, int] = field(default_factory=dict)
    first_rows: dict[str, list[int]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not any(self.violations.values())

    def table(self) -> str:
        """The report as a plain text table."""
        head = ("rule", "violations", "first output rows (0-based)")
        lines = [
            (name, f"{n:,}", ", ".join(str(r) for r in self.first_rows.get(name, [])) or "-")
            for name, n in self.violations.items()
        ]
        widths = [max(len(x[i]) for x in [head, *lines]) for i in range(3)]
        out = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)).rstrip()]
        for line in lines:
            out.append("  ".join(x.ljust(w) for x, w in zip(line, widths, strict=True)).rstrip())
        total = sum(self.violations.values())
        out.append(f"{self.rows:,} output rows checked, {total:,} violations")
        return "\n".join(out)


def _load_rules(rules: Any) -> dict[str, Any]:
    if isinstance(rules, Schema):
        return rules.to_dict()
    if isinstance(rules, dict):
        return rules
    text = str(rules)
    if isinstance(rules, (str, os.PathLike)) and not text.lstrip().startswith("{"):
        try:
            text = Path(rules).read_text(encoding="utf-8")
        except OSError as e:
            raise RulesError(f"cannot read rules {text!r}: {e.strerror or e}") from None
        except UnicodeDecodeError as e:
            raise RulesError(
                f"rules file {text!r} is not UTF-8 (byte {e.start:,}: "
                f"{e.object[e.start : e.start + 1]!r})"
            ) from None
    try:
        d = json.loads(text)
    except json.JSONDecodeError as e:
        raise RulesError(f"rules are not valid JSON: {e}") from None
    if not isinstance(d, dict):
        raise RulesError("rules must be a JSON object with columns and/or rules")
    return d


def with_rules(schema: Schema, rules: Any) -> Schema:
    """The output's ``schema`` with the rules of ``rules`` (a schema, or an object of just
    ``columns`` (name and rule keys) and ``rules``) instead of its own.  ``RulesError``
    when they cannot apply."""
    try:
        return _with_rules(schema, rules)
    except RulesError:
        raise
    except SchemaError as e:
        raise RulesError(str(e)) from None


def _with_rules(schema: Schema, rules: Any) -> Schema:
    d = _load_rules(rules)
    unknown = set(d) - {"columns", "rules", "dialect", "flags", "inferred"}
    if unknown:
        raise SchemaError(f"rules: unknown key(s) {sorted(unknown)} (known: columns, rules)")
    cols = d.get("columns", [])
    if not isinstance(cols, list):
        raise SchemaError("rules: columns must be a list of objects with a name")
    by_name = {c.name: c for c in schema.columns}
    given: dict[str, dict[str, Any]] = {}
    for c in cols:
        if not isinstance(c, dict) or not isinstance(c.get("name"), str):
            raise SchemaError(f"rules: a column must be an object with a name, got {shown(c)}")
        have = by_name.get(c["name"])
        if have is None:
            raise SchemaError(f"rules: the output has no column {shown(c['name'])}")
        if "type" in c and c["type"] != have.type:
            raise SchemaError(
                f"rules: column {shown(c['name'])} is {have.type} in the output, "
                f"not {shown(c['type'])}"
            )
        # a key a schema would refuse (a misspelt rule) is refused, not silently dropped
        unknown = set(c) - (_COMMON_KEYS | _TYPE_KEYS[have.type] | set(_RULE_KEYS))
        if unknown:
            raise SchemaError(
                f"rules: column {shown(c['name'])}: unknown key(s) {sorted(unknown)} "
                f"(rule keys: {', '.join(_RULE_KEYS)})"
            )
        given[c["name"]] = {k: v for k, v in c.items() if k in _RULE_KEYS}
    columns = []
    for col in schema.columns:
        base = col.to_dict()
        for k in _RULE_KEYS:
            base.pop(k, None)
        base.update(given.get(col.name, {}))
        columns.append(Column.from_dict(base))
    return schema.replace(columns=tuple(columns), rules=d.get("rules", []))


def check(path: str | os.PathLike[str], rules: Any = None) -> CheckReport:
    """Check the converted output ``path`` against ``rules`` (a schema or just its rule
    keys: a dict, JSON text or a path), or against the rules of the schema it was
    converted with.  Every rule counts every row that breaks it (a row can count under
    several); ``unique`` counts each repeat after a value's first row, whatever other
    rules that row breaks.  (A conversion's sidecar counts a row once, for the first
    rule it breaks: see :class:`Checker`.)"""
    meta, records, _text = load_pair(path)  # (rules read no text column yet)
    schema = sidecar_schema(meta)
    if rules is not None:
        schema = with_rules(schema, rules)
    cats = meta.get("categories", {})
    checker = Checker(schema, lambda name: cats.get(name, []))
    counts = {r.name: 0 for r in checker.rules}
    first: dict[str, list[int]] = {r.name: [] for r in checker.rules}
    try:
        for at in range(0, len(records), _ROWS_AT_ONCE):
            recs = records[at : at + _ROWS_AT_ONCE]
            for r in checker.rules:
                rows = _breaking(checker, r, recs)
                counts[r.name] += len(rows)
                noted = first[r.name]
                if len(noted) < 5:
                    noted += (rows[: 5 - len(noted)] + at).tolist()
    finally:
        checker.close()
    return CheckReport(str(path), len(records), counts, first)


def _breaking(checker: Checker, r: Any, recs: np.ndarray) -> np.ndarray:
    """The indices of ``recs`` that break rule ``r``, judged alone."""
    if r.key != "unique":
        broken = checker._broken(r, recs, len(recs))
        return np.zeros(0, np.int64) if broken is None else np.flatnonzero(broken)
    col = r.column
    v = np.asarray(recs[col.name])
    valued = checker._valued(recs, v, col)
    idx = np.arange(len(v)) if valued is None else np.flatnonzero(valued)
    dup = checker.unique[r.name].check_add(unique_keys(col, v[idx]))
    return idx[dup]
