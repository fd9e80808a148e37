"""A value past the inference sample widens its column instead of stopping the run.

An inferred schema is a guess from a sample.  When a later value does not fit it
(300 in an int8 column, a longer string, a fraction in an integer column), the
column is widened by the rules of :func:`fastetl.infer.widen_for` (int8 -> ... ->
int64 -> uint64 -> text; integers -> float64; str width grows; category -> text; a
new null token is adopted) and the conversion starts again from the beginning of
the input with the wider schema.  A pass goes on to the end of the input after
such a value, so that every column to widen is found in one pass (each column is
widened once per pass; the next pass checks it again); nothing of a pass that
widened is kept.  The result is what converting with the widened schema from the
start gives -- the same bytes whatever the thread count, because bad rows are seen
in input order.

Under ``on_error="raise"`` the first pass is the plain one, unwatched: an input that
fits its schema (the usual case) converts on the fast path (a watched pass is a
lenient one: its bad rows go through the watcher, in input order, on worker threads).
A value to widen stops that pass where it stands, and the watched passes start over
with its column widened (the first watched pass would widen it first).  The cost:
nothing when nothing widens; else that part of a pass, then one more pass over the
input per round of widenings, but for the value that stopped the plain pass (so one
pass when that was the only one; at most :data:`MAX_ATTEMPTS` passes in all).  In a
watched pass, the bad values of a column it has widened are counted, not described
(the next pass checks the widened column): a column widened early in a long input
costs the parse, not a Python object per row.  Inputs that cannot be read twice
(stdin, pipes) are spooled to an unnamed temporary file first, as inference
already does.  A schema the user gave is not widened: its errors are errors.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

from .errors import ParseError, SchemaError
from .schema import Column, Schema

T = TypeVar("T")

MAX_ATTEMPTS = 32


class Widen(Exception):
    """Raised through the pipeline to stop a run whose inferred schema needs widening."""

    def __init__(self, schema: Schema, changes: list[dict[str, Any]]) -> None:
        super().__init__(f"{len(changes)} column(s) to widen")
        self.schema = schema
        self.changes = changes


_INTS = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")


def _inexact_int(text: str | None) -> bool:
    """An integer that float64 cannot hold exactly (a magnitude past 2**53)."""
    t = (text or "").strip(" \t")
    digits = t[1:] if t[:1] in "+-" else t
    return digits.isdigit() and digits.isascii() and int(digits) > 2**53


def _col(schema: Schema, name: str) -> Column | None:
    return next((c for c in schema.columns if c.name == name), None)


def _type_of(col: Column) -> str:
    if col.type == "str":
        return f"str({col.width})"
    if col.type == "decimal":
        return f"decimal({col.scale})"
    return col.type + ("" if not col.nullable else ", nullable")


def _changes(old: Schema, new: Schema, error: ParseError) -> list[dict[str, Any]]:
    """What one widening changed, for the schema's ``inferred`` facts."""
    out: list[dict[str, Any]] = []
    at = {"line": error.line, "value": error.value}
    for a, b in zip(old.columns, new.columns, strict=True):
        if a != b:
            out.append({"column": a.name, "from": _type_of(a), "to": _type_of(b), **at})
    if old.dialect.null_values != new.dialect.null_values:
        added = [v for v in new.dialect.null_values if v not in old.dialect.null_values]
        out.append({"null_values_added": added, **at})
    if old.dialect.encoding != new.dialect.encoding:
        out.append({"encoding": [old.dialect.encoding, new.dialect.encoding], **at})
    return out


class Watcher:
    """Watches one attempt's bad rows: a value that a wider column would take is
    noted (its row is left to the next attempt), once per column and attempt --
    the next attempt checks the widened column again.  Every other bad row is the
    policy's: raised under ``"raise"``, skipped or rejected otherwise."""

    def __init__(self, schema: Schema, on_error: str) -> None:
        from .infer import as_text, widen_for  # late: inference is loaded when used

        self._widen_for = widen_for
        self._as_text = as_text
        self._to_float: set[str] = set()  # integer columns made float64 in this pass
        self.start = schema
        self.schema = schema
        self.raising = on_error == "raise"
        # a raising run goes on past a value to widen, to find every column to widen
        # in one pass; the watcher raises every other bad row for it
        self.on_error = "skip" if self.raising else on_error
        self.first: ParseError | None = None
        self.changes: list[dict[str, Any]] = []
        self._widened: set[str] = set()

    def watch(self, error: ParseError) -> None:
        name = error.column
        if name is not None:
            if name in self._to_float and _inexact_int(error.value):
                # an integer column became float64 in this pass; every integer it holds
                # past 2**53 was refused by its integer type in this pass: seen here
                self._widen(self._as_text(self.schema, name, error.value or ""), error)
                return
            if name in self._widened:
                return  # widened in this pass already: the next one checks it again
            if self._adopted_null(name, error):
                return  # a null token adopted in this pass: the next pass reads it as null
            fixed = self._widen_for(self.schema, error)
            if fixed is not None:
                before, after = _col(self.schema, name), _col(fixed, name)
                self._widen(fixed, error)
                self._widened.add(name)
                if before is not None and after is not None:
                    if before.type in _INTS and after.type == "float64":
                        self._to_float.add(name)
                return
        if self.raising:
            raise error

    __call__ = watch  # (the pipeline is given the watcher: it also asks it what is settled)

    def unchanged(self) -> bool:
        """Whether this pass has widened nothing yet (its output so far may be kept)."""
        return self.schema is self.start

    def settled(self) -> tuple[set[str], set[str]]:
        """Columns whose bad values the rest of this pass need not show the watcher --
        those widened in it (the next pass checks them again; a pass that widened is not
        kept) -- and those of them whose values of 16 characters and more it must still
        see (integer columns made float64 in the pass: an integer past 2**53 makes them
        text).  The pipeline drops the others' bad rows before it describes them: every
        row of a column widened early in a long input was described, ~5 us each."""
        return self._widened, self._to_float

    def _adopted_null(self, name: str, error: ParseError) -> bool:
        """Whether ``error``'s value is a null token this pass adopted (after another
        column's value): this pass's parser read it as a value, the next one reads it as
        a null.  Its column is made nullable; the value says nothing of its type (judged
        as a value, it made the column text)."""
        token = (error.value or "").strip(" \t")
        if token not in self.schema.dialect.null_values or token in self.start.dialect.null_values:
            return False
        col = _col(self.schema, name)
        if col is None or col.type in ("str", "category"):
            return False
        if not col.nullable:
            cols = tuple(dataclasses.replace(c, nullable=True) if c is col else c
                         for c in self.schema.columns)
            self._widen(self.schema.replace(columns=cols), error)
            self._widened.add(name)
        return True

    def _widen(self, fixed: Schema, error: ParseError) -> None:
        self.changes += _changes(self.schema, fixed, error)
        self.schema = fixed

    def check(self) -> None:
        """Before the attempt's output is kept: stop it when a column must widen."""
        if self.schema is not self.start:
            facts = dict(self.start.inferred or {})
            facts["widened"] = list(facts.get("widened", [])) + self.changes
            raise Widen(self.schema.replace(inferred=facts), self.changes)


def _first_widened(schema: Schema, fixed: Schema, error: ParseError) -> Schema:
    """The schema the watched passes start from, once the plain pass stopped at
    ``error`` (the input's first bad row) and ``fixed`` is ``schema`` widened for it:
    ``fixed``, its change listed, as the first watched pass would have widened it first
    -- but an integer column that a fraction makes float64, which that pass must watch
    from the start for integers float64 cannot hold (see :meth:`Watcher.watch`), and a
    change of the dialect (a null token adopted...), which changes how every column
    reads: the schema would then depend on the policy (skip and reject have no plain
    pass to start from)."""
    if fixed.dialect != schema.dialect:  # (a null token, thousands, the encoding)
        return schema
    for a, b in zip(schema.columns, fixed.columns, strict=True):
        if a != b and a.type in _INTS and b.type == "float64":
            return schema
    facts = dict(schema.inferred or {})
    facts["widened"] = list(facts.get("widened", [])) + _changes(schema, fixed, error)
    return fixed.replace(inferred=facts)


def converting(schema: Schema, on_error: str, widen: bool, attempt: Callable[..., T]) -> T:
    """Run ``attempt(schema, watcher)`` and, when ``widen``, widen the schema and run
    it again until the input converts.  ``watcher`` is None when not widening, and
    for the first (plain) pass under ``"raise"``; else the attempt runs the pipeline
    with ``watch=watcher`` under ``watcher.on_error`` and calls
    ``watcher.check()`` before it keeps anything.  Each widening is listed in the
    next attempt's schema's ``inferred`` facts, under ``"widened"``."""
    if not widen:
        return attempt(schema, None)
    passes = MAX_ATTEMPTS
    if on_error == "raise":
        passes -= 1
        # first the plain run: a file that fits the schema (the usual case) converts on
        # the fast path, with no watcher; a value to widen stops it, and the watched
        # passes below start over with its column widened (see the module's "The cost")
        try:
            return attempt(schema, None)
        except ParseError as e:
            from .infer import widen_for

            fixed = widen_for(schema, e) if e.column is not None else None
            if fixed is None:
                raise
            schema = _first_widened(schema, fixed, e)
    for _ in range(passes):
        try:
            return attempt(schema, Watcher(schema, on_error))
        except Widen as w:
            schema = w.schema
    raise SchemaError(
        f"the inferred schema still does not fit the input after {MAX_ATTEMPTS} passes; "
        "write the schema by hand (start from `fastetl infer --infer-rows all`)"
    )
