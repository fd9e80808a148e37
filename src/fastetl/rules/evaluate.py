"""Checking blocks of records against a schema's rules, vectorised with numpy.

:class:`Checker` is fed the records of a conversion block by block, in input order
(the pipeline's committer does it), or the records of an existing output
(:func:`fastetl.rules.check`).  For each block it says which records break a rule,
and which rule each breaks first (column rules in schema order, then row rules; a
``unique`` check last, over the records no other rule left out).

``unique`` is exact: the values seen so far are kept as sorted arrays, in memory up
to :data:`UNIQUE_MEMORY` bytes per column (``FASTETL_UNIQUE_MEMORY`` changes it),
then written to sorted runs in a temporary folder that are searched (binary search,
memory-mapped) for every block.  The first occurrence is kept; each later one breaks
the rule.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np

from .. import _core
from ..errors import FastETLError, shown
from ..schema import FLOAT_TYPES, INT_TYPES, Column, Schema
from .expr import Context, evaluate
from .spec import ColumnRules, RowRule

UNIQUE_MEMORY = 64 << 20  # bytes of seen values one unique column keeps in memory
UNIQUE_RUNS = 8  # sorted runs on disk per unique column before some are merged
_MEM_PARTS = 8  # sorted arrays in memory before they are merged into one
_UNIQUE_ROUNDS = 4  # rounds deciding a block's rows before the rest go one by one
_PATTERN_CACHE = 1 << 16  # distinct str values whose pattern/length result is remembered


class SettingError(FastETLError, ValueError):
    """An environment setting fastetl reads is invalid (one line, as any error)."""


def unique_memory() -> int:
    return _env_int("FASTETL_UNIQUE_MEMORY", UNIQUE_MEMORY, 1, "a number of bytes")


def unique_runs() -> int:
    return _env_int("FASTETL_UNIQUE_RUNS", UNIQUE_RUNS, 2, "a number of runs")


def _env_int(name: str, default: int, least: int, what: str) -> int:
    text = os.environ.get(name)
    if text:
        try:
            return max(least, int(text))
        except ValueError:
            raise SettingError(f"{name} must be {what}, got {shown(text)}") from None
    return default


@dataclass(frozen=True)
class Rule:
    """One rule as the checker runs it."""

    name: str  # "column.key" for a column rule, the rule's name for a row rule
    column: Column | None  # the column of a column rule
    key: str  # min max pattern allowed max_length unique, or "expr"
    arg: Any  # the rule's value (stored form), or the RowRule
    tolerance: float | None = None

    def describe(self) -> str:
        if self.column is None:
            r: RowRule = self.arg
            return f'breaks rule "{self.name}" ({r.expr})'
        given = dict(self.column.rules.given)  # type: ignore[union-attr]
        v = given[self.key]
        what = {
            "min": f"is less than the min of {v}",
            "max": f"is greater than the max of {v}",
            "pattern": "does not match the pattern " + shown(v, quote='"'),
            "allowed": "is not one of the allowed values",
            "max_length": f"is longer than the max_length of {v} characters",
            "unique": "repeats a value of an earlier row (unique)",
        }[self.key]
        return f"{what} (rule {self.name})"


def rules_of(schema: Schema) -> list[Rule]:
    out: list[Rule] = []
    uniques: list[Rule] = []
    for col in schema.columns:
        cr: ColumnRules | None = getattr(col, "rules", None)
        if cr is None:
            continue
        for key in ("min", "max", "pattern", "allowed", "max_length"):
            if getattr(cr, key) is not None:
                out.append(Rule(f"{col.name}.{key}", col, key, getattr(cr, key)))
        if cr.unique:
            uniques.append(Rule(f"{col.name}.unique", col, "unique", True))
    for r in getattr(schema, "rules", ()):
        out.append(Rule(r.name, None, "expr", r, r.tolerance))
    return out + uniques


class UniqueSet:
    """The distinct values seen so far of one column, exactly, in bounded memory.

    Past ``limit`` bytes the values in memory go to a sorted run on disk; past
    ``max_runs`` runs the newest are merged (streamed, ``limit`` bytes at a time) while
    the next older run is no bigger than what is merged so far, so a run is rewritten
    about log2(runs) times and a block is searched in at most ``max_runs`` runs."""

    def __init__(self, limit: int, max_runs: int | None = None) -> None:
        self.limit = limit
        self.max_runs = max_runs if max_runs is not None else unique_runs()
        self.mem: list[np.ndarray] = []
        self.runs: list[np.ndarray] = []
        self.paths: list[str] = []  # of the runs
        self.nbytes = 0
        self._made = 0  # run files made (their names)
        self._dir: str | None = None
        self._cleanup: Any = None

    def seen(self, q: np.ndarray) -> np.ndarray:
        """Which of the sorted distinct keys ``q`` were seen before."""
        found = np.zeros(len(q), bool)
        for arr in (*self.mem, *self.runs):
            if not len(arr):
                continue
            idx = np.searchsorted(arr, q)
            ok = idx < len(arr)
            hit = np.zeros(len(q), bool)
            hit[ok] = arr[idx[ok]] == q[ok]
            found |= hit
        return found

    def add(self, new: np.ndarray) -> None:
        """Add sorted distinct keys not seen before."""
        if not len(new):
            return
        self.mem.append(new)
        self.nbytes += new.nbytes
        if len(self.mem) > _MEM_PARTS:
            self.mem = [np.sort(np.concatenate(self.mem))]
        if self.nbytes > self.limit:
            self._spill()

    def _path(self) -> str:
        if self._dir is None:
            self._dir = tempfile.mkdtemp(prefix="fastetl-unique-")
            self._cleanup = weakref.finalize(self, shutil.rmtree, self._dir, True)
        self._made += 1
        return os.path.join(self._dir, f"run{self._made}.npy")

    def _spill(self) -> None:
        merged = np.sort(np.concatenate(self.mem)) if len(self.mem) > 1 else self.mem[0]
        path = self._path()
        np.save(path, merged)
        self.runs.append(np.load(path, mmap_mode="r"))
        self.paths.append(path)
        self.mem, self.nbytes = [], 0
        if len(self.runs) > self.max_runs:
            self._merge()

    def _merge(self) -> None:
        """Merge the newest runs into one: at least two, and each older run no bigger
        than the runs merged after it (sizes then halve from old to new)."""
        k = len(self.runs) - 2
        total = len(self.runs[-1]) + len(self.runs[-2])
        while k > 0 and len(self.runs[k - 1]) <= total:
            k -= 1
            total += len(self.runs[k])
        runs = self.runs[k:]
        path = self._path()
        out = np.lib.format.open_memmap(path, "w+", runs[0].dtype, (total,))
        step = max(256, self.limit // (runs[0].dtype.itemsize * len(runs)))
        at = [0] * len(runs)
        w = 0
        while w < total:
            live = [i for i, r in enumerate(runs) if at[i] < len(r)]
            # every value up to the smallest of the next pieces' last values
            cut = min(runs[i][min(at[i] + step, len(runs[i])) - 1] for i in live)
            parts = []
            for i in live:
                piece = runs[i][at[i] : at[i] + step]
                stop = int(np.searchsorted(piece, cut, side="right"))
                parts.append(piece[:stop])
                at[i] += stop
            chunk = np.sort(np.concatenate(parts))
            out[w : w + len(chunk)] = chunk
            w += len(chunk)
        out.flush()
        del out, runs, parts, piece
        old = self.paths[k:]
        self.runs[k:] = [np.load(path, mmap_mode="r")]
        self.paths[k:] = [path]
        for p in old:
            try:
                os.remove(p)
            except OSError:  # pragma: no cover - still mapped (Windows): removed at the end
                pass

    def close(self) -> None:
        self.runs = []
        self.paths = []
        self.mem = []
        if self._cleanup is not None:
            self._cleanup()

    def check_add(self, keys: np.ndarray) -> np.ndarray:
        """``keys`` in row order: True where the value was seen before (in an earlier
        block, or earlier in this one); the rest are added."""
        if not len(keys):
            return np.zeros(0, bool)
        uniq, first, inv = np.unique(keys, return_index=True, return_inverse=True)
        inv = inv.reshape(-1)
        dup = first[inv] != np.arange(len(keys))
        before = self.seen(uniq)
        self.add(uniq[~before])
        return dup | before[inv]


def unique_keys(col: Column, values: np.ndarray) -> np.ndarray:
    """Keys that are equal exactly when the values are: floats by their bits with -0.0
    as 0.0 and one NaN; dates and datetimes as integers; the rest as stored."""
    v = np.asarray(values)
    if col.type in FLOAT_TYPES:
        f = v.astype(np.float64) + 0.0  # -0.0 + 0.0 is 0.0
        f[np.isnan(f)] = np.nan
        return f.view(np.int64)
    if col.type in ("date", "datetime"):
        return v.view(np.int64)
    return v


class Checker:
    """Checks blocks of records against a schema's rules, in input order."""

    def __init__(
        self,
        schema: Schema,
        dictionary: Callable[[str], list[str]],
        null_bits: dict[str, int] | None = None,
    ) -> None:
        self.schema = schema
        self.rules = rules_of(schema)
        self.dictionary = dictionary  # a category column's values, by code
        self.null_bits = null_bits if null_bits is not None else {
            c.name: i for i, c in enumerate(schema.masked_columns)
        }
        self.counts = {r.name: 0 for r in self.rules}
        self.first_rows: dict[str, list[int]] = {r.name: [] for r in self.rules}
        limit = unique_memory()
        self.unique = {r.name: UniqueSet(limit) for r in self.rules if r.key == "unique"}
        self._cat_cache: dict[str, list[bool]] = {}  # rule name -> verdict per code
        self._str_cache: dict[str, dict[bytes, bool]] = {}

    @property
    def tolerant(self) -> list[Rule]:
        return [r for r in self.rules if r.tolerance is not None]

    def close(self) -> None:
        for u in self.unique.values():
            u.close()

    # -- values -----------------------------------------------------------
    def nulls(self, recs: np.ndarray, col: Column) -> np.ndarray | None:
        bit = self.null_bits.get(col.name)
        if bit is None:
            return None
        field = "_nulls" if bit < 64 else f"_nulls{bit // 64}"
        return ((np.asarray(recs[field]) >> np.uint64(bit % 64)) & np.uint64(1)).astype(bool)

    def null_in_value(self, v: np.ndarray, col: Column) -> np.ndarray | None:
        if col.type in FLOAT_TYPES:
            return np.isnan(v)
        if col.type in ("date", "datetime"):
            return np.isnat(v)
        return None

    def seed(self, recs: np.ndarray) -> None:
        """Values already in the output (appending): they count for ``unique``."""
        for r in self.rules:
            if r.key != "unique":
                continue
            col = r.column
            assert col is not None
            for at in range(0, len(recs), 1 << 20):
                part = recs[at : at + (1 << 20)]
                v = np.asarray(part[col.name])
                valued = self._valued(part, v, col)
                keys = unique_keys(col, v if valued is None else v[valued])
                u = self.unique[r.name]
                uniq = np.unique(keys)
                u.add(uniq[~u.seen(uniq)])

    def _valued(self, recs: np.ndarray, v: np.ndarray, col: Column) -> np.ndarray | None:
        nulls = self.nulls(recs, col)
        inval = self.null_in_value(v, col)
        if nulls is None and inval is None:
            return None
        m = np.zeros(len(v), bool)
        if nulls is not None:
            m |= nulls
        if inval is not None:
            m |= inval
        return ~m

    # -- one block --------------------------------------------------------
    def check(self, recs: np.ndarray, start_row: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """(indices of the records that break a rule, in order; the index into
        ``self.rules`` of the first rule each breaks).  Counts them; ``start_row`` is
        the 0-based row of recs[0] (for the first rows noted per rule)."""
        n = len(recs)
        which = np.full(n, -1, np.int32)
        for k, r in enumerate(self.rules):
            if r.key == "unique":
                continue
            broken = self._broken(r, recs, n)
            if broken is not None:
                which[(which < 0) & broken] = k
        if self.unique:
            self._check_unique(recs, which)
        bad = np.flatnonzero(which >= 0)
        rules = which[bad]
        if len(bad):
            for k in np.unique(rules).tolist():
                name = self.rules[k].name
                rows = bad[rules == k]
                self.counts[name] += len(rows)
                noted = self.first_rows[name]
                if len(noted) < 5:
                    noted += (rows[: 5 - len(noted)] + start_row).tolist()
        return bad, rules

    def _check_unique(self, recs: np.ndarray, which: np.ndarray) -> None:
        """Mark in ``which`` the rows, among those no other rule left out, that repeat a
        value of a row KEPT before them in a ``unique`` column; add the kept rows' values.

        A row left out (for any rule) claims no value: with several ``unique`` columns,
        whether a row is kept depends on which earlier rows were.  A row whose values
        come first (among the rows still in play) in every ``unique`` column is kept
        whatever happens before it, and a row repeating a kept row's value is left out;
        rounds of that decide every row (one round for one ``unique`` column), and rows
        still open after a few rounds are decided one by one in order."""
        n = len(recs)
        cols = []  # (rule index, keys of every row, which rows have a value)
        for k, r in enumerate(self.rules):
            if r.key != "unique":
                continue
            col = r.column
            assert col is not None
            v = np.asarray(recs[col.name])
            valued = self._valued(recs, v, col)
            cols.append((k, unique_keys(col, v), np.ones(n, bool) if valued is None else valued))
        play = which < 0
        judged = play.copy()
        before = []  # per unique column: the row repeats a value of an earlier block
        for k, keys, has in cols:
            idx = np.flatnonzero(play & has)
            seen = np.zeros(n, bool)
            if len(idx):
                uniq, inv = np.unique(keys[idx], return_inverse=True)
                seen[idx] = self.unique[self.rules[k].name].seen(uniq)[inv.reshape(-1)]
            before.append(seen)
            play &= ~seen
        kept = np.zeros(n, bool)
        for _ in range(_UNIQUE_ROUNDS):
            idx = np.flatnonzero(play)
            if not len(idx):
                break
            first_all = np.ones(len(idx), bool)
            clash = np.zeros(len(idx), bool)  # repeats a kept row's value
            for _k, keys, has in cols:
                sub = np.flatnonzero(has[idx])
                if not len(sub):
                    continue
                rows = idx[sub]
                _, first, inv = np.unique(keys[rows], return_index=True, return_inverse=True)
                owner = rows[first[inv.reshape(-1)]]
                later = owner != rows
                first_all[sub[later]] = False
                clash[sub[later & kept[owner]]] = True
            kept[idx[first_all]] = True
            play[idx[clash]] = False
            if not (play & ~kept).any():
                break
        else:
            self._unique_in_order(cols, play, kept)
        for j, (k, keys, has) in enumerate(cols):
            name = self.rules[k].name
            take = kept & has
            # the first unique column (in schema order) whose value a kept row (of an
            # earlier block, or earlier in this one) has is the rule a left-out row breaks
            clash = before[j].copy()
            idx = np.flatnonzero(take)
            out = np.flatnonzero((which < 0) & ~kept & has & ~clash)
            if len(idx) and len(out):
                order = np.argsort(keys[idx], kind="stable")
                sk, sr = keys[idx][order], idx[order]
                at = np.searchsorted(sk, keys[out])
                ok = at < len(sk)
                ok[ok] = (sk[at[ok]] == keys[out][ok]) & (sr[at[ok]] < out[ok])
                clash[out[ok]] = True
            which[(which < 0) & ~kept & clash] = k
            if len(idx):
                self.unique[name].add(np.unique(keys[idx]))
        assert (kept | (which >= 0) | ~judged).all()  # each row judged is kept or left out

    def _unique_in_order(self, cols: list, play: np.ndarray, kept: np.ndarray) -> None:
        """Decide the rows still open, one by one in input order (their values clash
        with no kept row's: a kept row comes first among the rows in play)."""
        taken = [set(keys[kept & has].tolist()) for _k, keys, has in cols]
        lists = [(keys.tolist(), has.tolist()) for _k, keys, has in cols]
        for i in np.flatnonzero(play & ~kept).tolist():
            if any(h[i] and ks[i] in t for (ks, h), t in zip(lists, taken, strict=True)):
                play[i] = False
                continue
            kept[i] = True
            for (ks, h), t in zip(lists, taken, strict=True):
                if h[i]:
                    t.add(ks[i])

    def _broken(self, r: Rule, recs: np.ndarray, n: int) -> np.ndarray | None:
        if r.column is None:
            return self._row_rule(r.arg, recs, n)
        col = r.column
        v = np.asarray(recs[col.name])
        valued = self._valued(recs, v, col)
        t = col.type
        if r.key in ("min", "max"):
            x = _comparable(col, v)
            broken = x < r.arg if r.key == "min" else x > r.arg
        elif r.key == "allowed":
            broken = ~_isin(col, v, r.arg, self.dictionary)
        elif t == "category":
            broken = self._by_code(r, v)
        else:  # pattern, max_length of a str column
            broken = self._by_text(r, v)
        if valued is not None:
            broken &= valued
        return broken

    def _by_code(self, r: Rule, codes: np.ndarray) -> np.ndarray:
        assert r.column is not None
        values = self.dictionary(r.column.name)
        have = self._cat_cache.setdefault(r.name, [])
        for text in values[len(have) :]:
            have.append(_text_breaks(r, text))
        verdict = np.array(have + [False], bool)  # (null rows hold code 0; masked later)
        return verdict[np.minimum(codes.astype(np.int64), len(have))]

    def _by_text(self, r: Rule, v: np.ndarray) -> np.ndarray:
        if r.key == "max_length" and v.dtype.kind == "S":
            return _utf8_lengths(v) > r.arg
        uniq, inv = np.unique(v, return_inverse=True)
        cache = self._str_cache.setdefault(r.name, {})
        if len(cache) > _PATTERN_CACHE:
            cache.clear()
        verdict = np.empty(len(uniq), bool)
        for i, b in enumerate(uniq.tolist()):
            got = cache.get(b)
            if got is None:
                got = cache[b] = _text_breaks(r, b.decode("utf-8", "replace"))
            verdict[i] = got
        return verdict[inv.reshape(-1)]

    def _row_rule(self, rule: RowRule, recs: np.ndarray, n: int) -> np.ndarray:
        cols = {c.name: c for c in self.schema.columns}
        values = {name: recs[name] for name in rule.compiled.columns}
        nulls = {name: self.nulls(recs, cols[name]) for name in rule.compiled.columns}

        def codes(cat: str, text: str) -> int | None:
            try:
                return self.dictionary(cat).index(text)
            except ValueError:
                return None

        ok, unknown = evaluate(rule.compiled.tree, Context(values, nulls, codes), n)
        broken = ~np.asarray(ok, bool)
        if unknown is not None:
            broken &= ~unknown
        return broken

    # -- messages ---------------------------------------------------------
    def reason(self, k: int, rec: Any) -> tuple[str | None, str | None, str]:
        """(column, value shown, reason) of record ``rec`` breaking rule ``k``."""
        r = self.rules[k]
        if r.column is not None:
            return r.column.name, self.show(r.column, rec[r.column.name]), r.describe()
        cols = {c.name: c for c in self.schema.columns}
        shown_values = ", ".join(
            f"{name}={self.show(cols[name], rec[name])}" for name in r.arg.compiled.columns
        )
        return None, None, f"{r.describe()}: {shown_values}"

    def show(self, col: Column, v: Any) -> str:
        t = col.type
        if t == "decimal":
            return str(Decimal(int(v)).scaleb(-(col.scale or 0)))
        if t == "category":
            vals = self.dictionary(col.name)
            return vals[int(v)] if int(v) < len(vals) else f"code {int(v)}"
        if t in ("str", "text"):
            return bytes(v).decode("utf-8", "replace")
        if t in INT_TYPES or t == "bool":
            return str(v.item() if hasattr(v, "item") else v)
        return str(v)


def _comparable(col: Column, v: np.ndarray) -> np.ndarray:
    if col.type in ("date", "datetime"):
        return v.view(np.int64)
    if col.type in FLOAT_TYPES:
        return v.astype(np.float64)
    return v


def _isin(col: Column, v: np.ndarray, allowed: tuple, dictionary: Callable) -> np.ndarray:
    t = col.type
    if t == "category":
        values = dictionary(col.name)
        wanted = set(allowed)
        ok = np.array([x in wanted for x in values] + [True], bool)
        return ok[np.minimum(v.astype(np.int64), len(values))]
    if t in ("str", "text"):
        # a value longer than the column's width is never stored: cutting it to the
        # width would let its first bytes pass
        fit = [b for b in (a.encode("utf-8") for a in allowed) if len(b) <= v.dtype.itemsize]
        return np.isin(v, np.array(fit, dtype=v.dtype)) if fit else np.zeros(len(v), bool)
    if t in ("date", "datetime"):
        return np.isin(v.view(np.int64), np.array(allowed, np.int64))
    if t in INT_TYPES or t == "decimal":
        ints = [a for a in allowed if INT_TYPES.get(t, ("", -(2**63), 2**63 - 1))[1] <= a
                <= INT_TYPES.get(t, ("", -(2**63), 2**63 - 1))[2]]
        return np.isin(v, np.array(ints, v.dtype)) if ints else np.zeros(len(v), bool)
    if t in FLOAT_TYPES:
        return np.isin(v.astype(np.float64), np.array(allowed, np.float64))
    return np.isin(v, np.array(allowed, v.dtype))


def _text_breaks(r: Rule, text: str) -> bool:
    if r.key == "pattern":
        return r.arg.fullmatch(text) is None
    if r.key == "max_length":
        return len(text) > r.arg
    raise AssertionError(r.key)  # pragma: no cover


def _utf8_lengths(v: np.ndarray) -> np.ndarray:
    """Characters in each UTF-8 value of an S array, as the profile counts them
    (``_core.fold_text_facts``, from ``fold_text_classes``' counts: the bytes up to the
    last non-NUL one, a NUL inside the value included, less the bytes that continue a
    character).  Its flags are not used: the 1-byte-a-value output costs less than the
    12 counts would (96 bytes a value)."""
    c = np.ascontiguousarray(v)
    chars, flags = np.empty(len(c), np.int64), np.empty(len(c), np.uint8)
    if len(c):
        _core.fold_text_facts(c.view(np.uint8).reshape(-1), c.dtype.itemsize, chars, flags)
    return chars
