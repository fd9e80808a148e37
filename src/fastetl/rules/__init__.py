"""Data-quality rules: per-column keys (``min``, ``max``, ``pattern``, ``allowed``,
``max_length``, ``unique``) and row rules (``"rules": [{"name", "expr", "tolerance"}]``)
in a schema, checked during a conversion (:mod:`.evaluate`, driven by the pipeline)
or over an existing output (:func:`check`).

``spec`` validates the keys when a schema is loaded, ``expr`` parses and evaluates row
expressions (no ``eval``), ``evaluate`` checks blocks of records, ``check`` checks a
converted output.
"""

from __future__ import annotations

from ..schema import has_rules
from .check import CheckReport, check
from .evaluate import Checker
from .spec import ColumnRules, RowRule

__all__ = ["CheckReport", "Checker", "ColumnRules", "RowRule", "check", "has_rules"]
