"""Folding blocks of records into per-column and whole-table profile states.

A :class:`TableState` takes blocks of records (the numpy structured arrays a
conversion makes) and keeps, per column, the accumulators of
:mod:`fastetl.profiling.stats`; :meth:`TableState.merge` combines two states (each
made from consecutive blocks), :meth:`TableState.result` gives the JSON-shaped
profile.  All work is numpy or compiled kernels over whole blocks; the only
Python loop over values is the PII validation of the distinct candidates the
compiled validators leave to Python -- IPv6 and non-ASCII values -- (at most
``pii_cap`` per block and column; the share of a block that has more is
estimated from an evenly spread subset of them, and the count says so).
"""

from __future__ import annotations

import copy
import math
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import _core
from ..bridges import TextPastEnd
from ..schema import FLOAT_TYPES, INT_TYPES, Column, Schema
from ..table import Table, _decimal_floats
from . import pii as _pii
from .stats import (
    Distinct,
    argsort64,
    at_once,
    KeyTable,
    Moments,
    Quantiles,
    ValueCounts,
    count_values,
    counted_quantiles,
    field_bytes,
    grown,
    hash_values,
    sorted_unique,
)

QUANTILES: dict[str, float] = {
    "p1": 0.01, "p5": 0.05, "p25": 0.25, "p50": 0.5, "p75": 0.75, "p95": 0.95, "p99": 0.99,
}  # fmt: skip
HIST_BINS = 20
SORT_LIMIT = 4096  # a block's distinct integers sorted (more: counted by the table as they come)
CORR_LIMIT = 64  # numeric columns in the correlation matrix (the first ones)
# a chunk's state keeps at most Limits.value_bytes / CHUNK_SHARE bytes of a text column's
# values (the profile's own state value_bytes): so a profile's kept text values, per
# text column, take at most value_bytes * (1 + (workers + 3) / CHUNK_SHARE), twice that
# for a moment as a table grows (a str column's chunk never reaches it with the default
# value_bytes: its rows times its width are at most run.NPY_CHUNK_BYTES, 16 MiB)
CHUNK_SHARE = 2
TEXT_BYTES = 4 << 20  # a text column's values copied out at a time, fixed width
TEXT_RUN = 1 << 16  # rows of a text column copied out at a time (at most: TEXT_BYTES)


@dataclass(frozen=True)
class Limits:
    """What bounds the memory of a profile: per column, at most ``exact`` distinct
    values (and their counts: the quantiles and histograms are computed from them) before
    the sketches take over, the quantile sketch then holding up to ``quantile_exact``
    numbers exactly; ``rows_exact`` row hashes for duplicates.  Every distinct value is
    checked for PII in compiled code but those left to the Python validators (IPv6,
    non-ASCII): at most ``pii_cap`` of them per block and column (the shares of the
    rest are estimated from these, evenly spread over the sorted distinct values).
    ``text_cap`` is kept for callers that set it; it bounds nothing any more (the
    characters of every distinct value are counted, in compiled code).  A text column's
    values (``str`` or ``text``) are counted by their hash and kept (for the top values)
    as their first ``value_prefix`` bytes (a longer one is reported cut), at most
    ``value_bytes`` of them (their number times the width of the longest kept) before
    the summary takes over, as past ``exact``."""

    exact: int = 1 << 16
    quantile_exact: int = 1 << 17
    rows_exact: int = 1 << 20
    top_capacity: int = 1024
    pii_cap: int = 512
    text_cap: int = 2048
    pii_cache: int = 1 << 15
    value_bytes: int = 32 << 20
    value_prefix: int = 4096


def _kind(col_type: str) -> str:
    if col_type in INT_TYPES or col_type in FLOAT_TYPES or col_type == "decimal":
        return "number"
    if col_type in ("date", "datetime"):
        return "time"
    if col_type == "bool":
        return "bool"
    if col_type == "category":
        return "category"
    return "text"


def _value_end(v: bytes, prefix: int) -> tuple[bytes, bool]:
    """A value as min and max keep it: its first ``prefix`` bytes and one more, and
    whether it goes on past them (ordered as the whole values are)."""
    return v[: prefix + 1], len(v) > prefix + 1


def _kept_prefix(values: np.ndarray, width: int) -> np.ndarray:
    """``S`` values wider than ``width`` kept as their first ``width`` bytes, the last of
    them made 1 where it is a NUL byte and the value goes on (numpy drops trailing NUL
    bytes: a cut value must stay longer than ``width - 1``)."""
    kept = values.astype(f"S{width}")
    b = kept.view(np.uint8).reshape(-1, width)
    nul = np.flatnonzero(b[:, width - 1] == 0)
    if len(nul):
        longer = np.char.str_len(values[nul]) > width - 1
        b[nul[longer], width - 1] = 1
    return kept


def bytes_extremes(values: np.ndarray) -> tuple[bytes, bytes]:
    """The smallest and largest value of a non-empty numpy ``S`` array, in bytes order
    (``min(values.tolist())``): compared by memcmp in compiled code."""
    v = np.ascontiguousarray(values)
    lo, hi = _core.fold_bytes_extremes(v, v.dtype.itemsize)
    return bytes(v[lo]), bytes(v[hi])


def _unique_sorted(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(x, return_counts=True)`` of a sorted ``x`` (any ``x`` for bools)."""
    if x.dtype.kind == "b":  # the values present, False first
        t = int(np.count_nonzero(x))
        counts = np.array([len(x) - t, t], dtype=np.int64)
        return np.array([False, True])[counts > 0], counts[counts > 0]
    if not len(x):
        return x, np.zeros(0, np.int64)
    starts = np.flatnonzero(np.concatenate([[True], x[1:] != x[:-1]]))
    counts = np.diff(np.append(starts, len(x)))
    return x[starts], counts


def _sort_counted(
    raw: np.ndarray, limit: int, repeat: bool = True, sort_limit: int | None = None
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray] | None]:
    """``np.sort(raw)`` and, for integers and times with at most ``limit`` distinct
    values, ``_unique_sorted`` of it: those counted in a hash table in compiled code
    (no GIL), then their sorted values repeated (a sort of the distinct values only;
    ``repeat=False``: ``raw`` itself is returned when counted).  ``sort_limit``: more
    distinct values than that are left in order of first appearance (not sorted)."""
    k, size = raw.dtype.kind, raw.dtype.itemsize
    if k in "iMm" or (k == "u" and size < 8):
        v = np.ascontiguousarray(raw).view(np.int64) if size == 8 else raw.astype(np.int64)
        keys, counts = np.empty(limit, np.int64), np.empty(limit, np.int64)
        m = _core.fold_count_int64(v, limit, keys, counts)
        if m >= 0 and not (k in "Mm" and (keys[:m] == np.iinfo(np.int64).min).any()):  # NaT
            keys, counts = keys[:m], counts[:m]
            if sort_limit is None or m <= sort_limit:
                keys, order = argsort64(keys)
                counts = counts[order]
            uniq = keys.view(raw.dtype) if size == 8 else keys.astype(raw.dtype)
            return (np.repeat(uniq, counts) if repeat else raw), (uniq, counts)
    return np.sort(raw), None


def _subset(weights: np.ndarray, cap: int) -> tuple[np.ndarray | None, np.ndarray]:
    """At most ``cap`` of the distinct values weighing ``weights`` (their counts), to
    stand for all: the ``cap // 4`` heaviest as themselves, and an even spread of the
    rest, each weighing its share of the rest.  (None, weights) when all fit."""
    w = weights.astype(np.float64)
    if len(w) <= cap:
        return None, w
    heavy = cap // 4
    order = np.argsort(-w, kind="stable")
    top, rest = order[:heavy], order[heavy:]
    spread = rest[np.linspace(0, len(rest) - 1, cap - heavy).astype(np.intp)]
    spread = np.unique(spread)
    scale = float(w[rest].sum()) / float(w[spread].sum())
    pick = np.concatenate([top, spread])
    return pick, np.concatenate([w[top], w[spread] * scale])


KNOWN_BYTES = 2 << 20  # the bytes of the values a thread keeps facts of, per text column
KNOWN_TEXT_MIN = 64 << 10  # their first room (then half as much again each time it is short)


class _Known:
    """The text facts and PII codes of the distinct values a thread has folded in one
    column (pure functions of a value and the column's name, so a value's are computed
    once, not once per block it is in): a :class:`~fastetl.profiling.stats.KeyTable`
    of their hashes, at most ``limit`` of them, and their bytes (until they pass
    ``budget``): a value whose hash is known is checked byte for byte against the value
    kept, so one that shares another's hash gets its own facts, never the other's."""

    def __init__(self, limit: int, budget: int = KNOWN_BYTES) -> None:
        self.table = KeyTable(limit)
        self.budget = budget
        self.kept = np.empty(0, np.int64)  # chars | flags << 32 | PII code << 40, a value
        self.text = np.empty(0, np.uint8)  # the kept values' bytes, one after another
        self.ends = np.empty(0, np.int64)  # where each kept value's bytes end in text

    @property
    def n(self) -> int:
        return self.table.n

    @property
    def slots(self) -> np.ndarray:
        return self.table.slots

    @property
    def keys(self) -> np.ndarray:
        return self.table.keys

    def facts(
        self, keys: np.ndarray, uniq: np.ndarray, name: str
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The characters, flags (:func:`pii.text_facts`) and PII codes
        (:func:`pii.classify_codes`, 0 where not a candidate) of the distinct values
        ``uniq`` hashing to ``keys``: looked up, or computed for those not known yet
        (and for any whose hash is known for another value) -- one compiled pass
        (:func:`fastetl._core.fold_known_facts`), which keeps the new ones."""
        t = self.table
        n0 = t.n
        if n0 and int(self.ends[n0 - 1]) >= self.budget:
            t.limit = n0  # the kept bytes are full: no more values join
        m = len(keys)
        limit = t.room(m)
        self.kept = grown(self.kept, n0, limit, at_once(t.limit, 8))
        self.ends = grown(self.ends, n0, limit, at_once(t.limit, 8))
        v = np.ascontiguousarray(uniq)
        flat = v.view(np.uint8).reshape(-1)
        k = np.ascontiguousarray(keys, np.uint64)
        chars, flags = np.empty(m, np.int64), np.empty(m, np.uint8)
        codes = np.empty(m, np.uint8)
        flag = _pii.name_flags(name)
        start, size = 0, n0
        while True:
            start, size = _core.fold_known_facts(
                flat, v.dtype.itemsize, k, start, t.slots, t.keys, size, limit,
                self.kept, self.text, self.ends, flag,
                chars, flags, codes,
            )  # fmt: skip
            if start == m:
                break
            # the kept bytes have no room for value ``start``'s: more room, then on from it
            at = int(self.ends[size - 1]) if size else 0
            self.text = grown(self.text, at, max(at + len(v[start]), KNOWN_TEXT_MIN))
        t.n = size
        return chars, flags, codes


def _finite(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


class ColumnState:
    """The accumulators of one column (or flag bit, profiled as a bool column)."""

    def __init__(self, name: str, col_type: str, column: Column | None, limits: Limits) -> None:
        self.name = name
        self.type = col_type
        self.column = column
        self.kind = _kind(col_type)
        self.limits = limits
        self.count = 0
        self.nulls = 0
        self.moments = Moments() if self.kind in ("number", "time", "bool") else None
        # quantiles: from the exact value counts while they are exact; a KLL sketch from
        # the moment they are not (fed all the counts so far, then every block's)
        self.quantiles: Quantiles | None = None
        self.hist: np.ndarray | None = None  # exact counts from a second pass (an .npy)
        self.hist_edges: np.ndarray | None = None
        self.values = (
            ValueCounts(
                limits.exact,
                limits.top_capacity,
                value_bytes=limits.value_bytes if self.kind == "text" else None,
            )
            if self.kind != "category"
            else None
        )
        if self.values is not None and self.kind in ("number", "time"):
            self.values.sink = self._sketch
        self.codes = np.zeros(0, dtype=np.int64)  # category: count per code
        self.len_n, self.len_sum, self.len_min, self.len_max = 0, 0, None, None
        # text: smallest and largest value (UTF-8 order), as their first value_prefix
        # bytes and one more, and whether they go on past that (in that order)
        self.text_min: tuple[bytes, bool] | None = None
        self.text_max: tuple[bytes, bool] | None = None
        self.looks: dict[str, float] = {}
        self.pii_counts: dict[str, float] = {}
        self.pii_checked = 0.0  # values whose kind was decided (all, unless capped)
        self.pii_estimated = False
        # text: two values of one chunk shared a 64-bit hash (counted as one: distinct
        # and top are then not exact)
        self.collided = False
        self.pii_examples: dict[str, list[str]] = {}
        self._pii_cache: dict[Any, str | None] = {}
        # per thread: the facts of the values folded so far (shared by forked states)
        self.known: threading.local | None = None

    # -- folding -----------------------------------------------------------------
    def add(self, raw: np.ndarray, nulls: np.ndarray | None) -> None:
        """Fold a block: ``raw`` the stored values, ``nulls`` True where null (or None)."""
        if nulls is not None and nulls.any():
            self.nulls += int(nulls.sum())
            raw = raw[~nulls]
        self.count += len(raw)
        if not len(raw):
            return
        if self.kind == "category":
            c = np.bincount(raw.astype(np.intp))
            if len(c) > len(self.codes):
                c[: len(self.codes)] += self.codes
                self.codes = c.astype(np.int64)
            else:
                self.codes[: len(c)] += c
            return
        counted, ordered = None, True
        if self.kind in ("number", "time"):  # once: the counts (a hash table, or a sort)
            raw, counted = _sort_counted(raw, len(raw), repeat=False, sort_limit=SORT_LIMIT)
        assert self.moments is not None or self.kind == "text"
        if counted is not None:  # the moments of the distinct values, weighted
            assert self.moments is not None
            uniq, counts = counted
            ordered = len(uniq) <= SORT_LIMIT
            lo, hi = (uniq[0], uniq[-1]) if ordered else (uniq.min(), uniq.max())
            self.moments.add_counts(self._floats(uniq), counts, lo, hi)
        elif self.moments is not None:
            self.moments.add(self._floats(raw), raw)
        assert self.values is not None
        if self.kind == "text":  # sorting 64-bit hashes beats sorting long byte strings
            # (a text column's values hash the same at any width: folded at each run's)
            keys, first, counts, stray, under = count_values(raw, trim=self.type == "text")
            uniq = raw[first]  # (in order of first appearance: the table needs no sort)
            # kept as their first value_prefix bytes and one more (a longer one: cut)
            width = self.limits.value_prefix + 1
            kept = uniq if uniq.dtype.itemsize <= width else _kept_prefix(uniq, width)
            self.values.add_counts(keys, counts, kept, ordered=False)
            if not len(stray):
                self._text(uniq, counts, keys)
                return
            # values sharing their hash with another value of the block (a collision):
            # counted under it above (distinct and top say they are not exact), but
            # their facts and PII are their own
            self.collided = True
            own = counts.copy()
            np.subtract.at(own, under, 1)
            self._text(uniq, own, keys)
            extra, times = np.unique(raw[stray], return_counts=True)
            self._text(extra, times)
            return
        if raw.dtype.kind == "f":
            raw = raw + raw.dtype.type(0.0)  # -0.0 and 0.0 are one value
        uniq, counts = _unique_sorted(raw) if counted is None else counted
        self.values.add_counts(uniq, counts, ordered=ordered)
        if raw.dtype.kind in "iu" and raw.dtype.itemsize >= 4:
            self._int_pii(uniq, counts)

    def counted(self) -> bool:
        """Are the quantiles and histogram from the exact value counts (no sketch)?"""
        return self.values is not None and self.values.exact and self.quantiles is None

    def _counts(self) -> tuple[np.ndarray, np.ndarray]:
        """The exact value counts (while exact): sorted values as float64, counts."""
        vc = self.values
        assert vc is not None and vc.exact
        if vc.keys is None:
            return np.zeros(0), np.zeros(0, np.int64)
        return self._floats(vc.keys), vc.counts

    def _sketch(self, keys: np.ndarray, counts: np.ndarray) -> None:
        """The value counts' sink: once they are not exact, the quantiles are a KLL
        sketch fed every value (sorted distinct values with their counts)."""
        if self.quantiles is None:
            self.quantiles = Quantiles(self.limits.quantile_exact)
        if len(keys):
            self.quantiles.add_counts(self._floats(keys), counts)

    def _int_pii(self, uniq: np.ndarray, counts: np.ndarray) -> None:
        """Integers can be documents, cards or phones written without punctuation (and
        without their leading zeros): validate those with 8 to 19 digits."""
        plausible = (uniq >= 10_000_000) & (uniq < 10**19 if uniq.dtype.kind == "u" else uniq > 0)
        w = counts.astype(np.float64)
        self.pii_checked += float(w[~plausible].sum())
        cand = uniq[plausible]
        if not len(cand):
            return
        self._pii(cand, w[plausible], ints=True)

    def _floats(self, raw: np.ndarray) -> np.ndarray:
        t = self.type
        if t == "decimal":
            assert self.column is not None
            return _decimal_floats(raw, self.column.scale or 0)
        if t in ("date", "datetime"):
            return raw.view(np.int64).astype(np.float64)
        return raw.astype(np.float64)

    def _text(self, uniq: np.ndarray, counts: np.ndarray, keys: np.ndarray | None = None) -> None:
        lo, hi = (_value_end(v, self.limits.value_prefix) for v in bytes_extremes(uniq))
        self.text_min = lo if self.text_min is None else min(self.text_min, lo)
        self.text_max = hi if self.text_max is None else max(self.text_max, hi)
        # ``keys``: the values' hashes (values longer than the facts' first room are not
        # kept: their facts computed each time)
        if keys is not None and self.known is not None and uniq.dtype.itemsize <= KNOWN_TEXT_MIN:
            per = self.known.__dict__.setdefault("columns", {})
            if self.name not in per:
                per[self.name] = _Known(self.limits.exact)
            chars, flags, codes = per[self.name].facts(keys, uniq, self.name)
        else:
            chars, flags = _pii.text_facts(uniq)  # every distinct value's, in compiled code
            codes = np.zeros(len(uniq), np.uint8)
            cand = (flags & _pii.CANDIDATE) != 0
            codes[cand] = _pii.classify_codes(uniq[cand], self.name)
        # the lengths, look-alikes and PII kinds the values add: one compiled pass
        counts = np.ascontiguousarray(counts, np.int64)
        t = np.empty(_core.TEXT_TALLY, np.int64)
        _core.fold_text_tally(chars, flags, codes, counts, t)
        if len(chars):
            self.len_n += int(t[0])
            self.len_sum += int(t[1])
            lo, hi = int(t[2]), int(t[3])
            self.len_min = lo if self.len_min is None else min(self.len_min, lo)
            self.len_max = hi if self.len_max is None else max(self.len_max, hi)
        for i, what in enumerate(_pii.LOOKS):
            self.looks[what] = self.looks.get(what, 0.0) + float(t[4 + i])
        self.pii_checked += float(t[8])  # not candidates: no kind
        per_code = t[9:]
        if not per_code.any():
            return
        if per_code[_pii.ASK]:  # left to the Python validators (at most pii_cap a block)
            ask = codes == _pii.ASK
            self._pii_python(uniq[ask], counts[ask].astype(np.float64), False)
        self.pii_checked += float(per_code.sum() - per_code[_pii.ASK])
        self._kinds(per_code, uniq, codes, False)

    def _lengths(self, lens: np.ndarray, counts: np.ndarray) -> None:
        if not len(lens):
            return
        self.len_n += int(counts.sum())
        self.len_sum += int((lens * counts).sum())
        lo, hi = int(lens.min()), int(lens.max())
        self.len_min = lo if self.len_min is None else min(self.len_min, lo)
        self.len_max = hi if self.len_max is None else max(self.len_max, hi)

    def _pii(self, values: np.ndarray, weights: np.ndarray, ints: bool = False) -> None:
        """Count the values of each kind among distinct candidates, each standing for
        ``weights`` values: checked in compiled code, but for those it leaves to the
        Python validators (IPv6, non-ASCII: at most ``pii_cap`` of them a block)."""
        if not len(values):
            return
        codes = _pii.classify_codes(values, self.name)
        ask = codes == _pii.ASK
        if ask.any():
            self._pii_python(values[ask], weights[ask], ints)
            keep = ~ask
            values, weights, codes = values[keep], weights[keep], codes[keep]
        self.pii_checked += float(weights.sum())
        per_kind = np.bincount(codes, weights=weights, minlength=len(_pii.KINDS) + 1)
        self._kinds(per_kind, values, codes, ints)

    def _kinds(
        self, per_kind: np.ndarray, values: np.ndarray, codes: np.ndarray, ints: bool
    ) -> None:
        """Count the values of each kind (``per_kind[1 + i]`` of ``pii.KINDS[i]``) and keep
        up to three masked examples of it: the first ``values`` whose ``codes`` say it."""
        for i in np.flatnonzero(per_kind[1 : len(_pii.KINDS) + 1]).tolist():
            kind = _pii.KINDS[i]
            self.pii_counts[kind] = self.pii_counts.get(kind, 0.0) + float(per_kind[i + 1])
            ex = self.pii_examples.setdefault(kind, [])
            if len(ex) < 3:
                for v in values[np.flatnonzero(codes == i + 1)[:3]].tolist():
                    self._example(ex, v, kind, ints)

    def _example(self, ex: list[str], v: Any, kind: str, ints: bool) -> None:
        if len(ex) < 3:
            text = _pii.int_text(v, kind) if ints else v.decode("utf-8", "replace")
            m = _pii.mask(text, kind)
            if m not in ex:
                ex.append(m)

    def _pii_python(self, values: np.ndarray, weights: np.ndarray, ints: bool) -> None:
        """The values the compiled validators leave to Python (at most ``pii_cap``)."""
        pick, w = _subset(weights, self.limits.pii_cap)
        if pick is not None:
            values = values[pick]
            self.pii_estimated = True
        self.pii_checked += float(w.sum())
        cache = self._pii_cache
        name = self.name
        for v, c in zip(values.tolist(), w.tolist(), strict=False):
            if v in cache:
                kind = cache[v]
            else:
                if ints:
                    kind = _pii.classify_int(v, name)
                else:
                    kind = _pii.classify(v.decode("utf-8", "replace"), name)
                if len(cache) < self.limits.pii_cache:
                    cache[v] = kind
            if kind is None:
                continue
            self.pii_counts[kind] = self.pii_counts.get(kind, 0.0) + c
            self._example(self.pii_examples.setdefault(kind, []), v, kind, ints)

    def merge(self, other: ColumnState) -> None:
        """Fold in the state of the blocks that come after this one's."""
        self.count += other.count
        self.nulls += other.nulls
        if self.kind == "category":
            a, b = self.codes, other.codes
            if len(b) > len(a):
                a, b = b.copy(), a
            a[: len(b)] += b
            self.codes = a
            return
        if self.moments is not None:
            self.moments.merge(other.moments)  # type: ignore[arg-type]
        if self.values is not None:
            assert other.values is not None
            if self.values.hll is not None or other.values.hll is not None:
                other.values._flush()  # (its sketch may start: before other's counts are cut)
            if other.quantiles is None:  # other's values are all in its exact counts
                self.values.merge(other.values)  # (fed to this sketch, if there is one)
            else:  # other's values are in its sketch: this one's join it, then other's
                if self.quantiles is None:
                    self.values._flush()  # (which may start this sketch)
                if self.quantiles is None:
                    self._sketch(*self._counts())
                assert self.quantiles is not None
                self.quantiles.merge(other.quantiles)
                self.values.sink = None
                try:
                    self.values.merge(other.values)
                finally:
                    self.values.sink = self._sketch
            # other is merged: its counts' sink (its own bound method) made it a cycle,
            # which only Python's cyclic collector frees -- a CSV profile's merged chunk
            # states waited for it (~40 MiB of them on 1M demo orders at the end of the
            # fold, part of the peak RSS); let go, reference counts free it
            other.values.sink = None
        if other.len_n:
            self.len_n += other.len_n
            self.len_sum += other.len_sum
            self.len_min = (
                other.len_min if self.len_min is None else min(self.len_min, other.len_min)
            )
            self.len_max = (
                other.len_max if self.len_max is None else max(self.len_max, other.len_max)
            )
        if other.text_min is not None:
            self.text_min = (
                other.text_min if self.text_min is None else min(self.text_min, other.text_min)
            )
            self.text_max = (
                other.text_max if self.text_max is None else max(self.text_max, other.text_max)
            )  # type: ignore[type-var]
        for k, v in other.looks.items():
            self.looks[k] = self.looks.get(k, 0) + v
        for k, f in other.pii_counts.items():
            self.pii_counts[k] = self.pii_counts.get(k, 0.0) + f
        self.pii_checked += other.pii_checked
        self.pii_estimated |= other.pii_estimated
        self.collided |= other.collided
        for k, ex in other.pii_examples.items():
            mine_ex = self.pii_examples.setdefault(k, [])
            for e in ex:
                if len(mine_ex) < 3 and e not in mine_ex:
                    mine_ex.append(e)

    # -- the second pass (an .npy) ---------------------------------------------------
    def edges(self) -> np.ndarray | None:
        """Histogram bin edges: ``HIST_BINS`` equal bins from min to max (one per
        integer when an integer-valued column spans fewer)."""
        m = self.moments
        if self.kind not in ("number", "time") or m is None or m.n == 0:
            return None
        lo, hi = (
            float(self._floats(np.asarray([m.min]))[0]),
            float(self._floats(np.asarray([m.max]))[0]),
        )
        if not (math.isfinite(lo) and math.isfinite(hi)):
            return None
        integral = self.type in INT_TYPES or self.type in ("date", "datetime")
        if integral and hi - lo + 1 <= HIST_BINS:
            return np.arange(lo, hi + 2) - 0.5
        if hi == lo:
            return np.array([lo - 0.5, hi + 0.5])
        return np.linspace(lo, hi, HIST_BINS + 1)

    def add_histogram(self, raw: np.ndarray, nulls: np.ndarray | None, edges: np.ndarray) -> None:
        if nulls is not None:
            raw = raw[~nulls]
        x, n = self._floats(raw), len(edges) - 1
        if np.array_equal(np.linspace(edges[0], edges[-1], n + 1), edges):
            # numpy's equal-bins path (no sort), on the very edges it would make
            c, _ = np.histogram(x, bins=n, range=(edges[0], edges[-1]))
        else:
            c, _ = np.histogram(x, bins=edges)
        self.hist = c if self.hist is None else self.hist + c
        self.hist_edges = edges

    # -- the result ----------------------------------------------------------------
    def _value(self, x: Any) -> Any:
        """A stored value as JSON: numbers as numbers, dates as ISO text, text as text."""
        if x is None:
            return None
        t = self.type
        if t == "decimal":
            return float(
                _decimal_floats(np.asarray([x], dtype=np.int64), self.column.scale or 0)[0]
            )  # type: ignore[union-attr]
        if t in ("date", "datetime"):
            return str(np.datetime64(x))
        if isinstance(x, bytes):
            return x.rstrip(b"\0").decode("utf-8", "replace")
        if isinstance(x, np.generic):
            x = x.item()
        return _finite(x)

    def _time_value(self, f: float | None) -> Any:
        """A float of a date/datetime column's unit back to ISO text."""
        if f is None or not math.isfinite(f):
            return None
        unit = np.datetime_data(self.column.numpy_format[1:] if self.column else "M8[D]")[0]  # type: ignore[index]
        return str(np.datetime64(int(round(f)), unit))

    def result(self, categories: list[str] | None, top_k: int) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "type": self.type}
        if self.column is not None and self.type == "str":
            d["width"] = self.column.width
        d["count"] = self.count
        d["nulls"] = self.nulls
        top: list[tuple[Any, int]]
        if self.kind == "category":
            vals = list(categories or [])
            codes = self.codes
            present = np.nonzero(codes)[0]
            d["distinct"] = int(len(present))
            d["distinct_exact"] = True
            order = sorted(present.tolist(), key=lambda i: (-int(codes[i]), i))
            top = [(vals[i] if i < len(vals) else None, int(codes[i])) for i in order]
            words = [vals[i] for i in present.tolist() if i < len(vals)]
            d["min"] = min(words) if words else None
            d["max"] = max(words) if words else None
            if words:
                enc = np.asarray([w.encode("utf-8") for w in words], dtype=object)
                arr = np.asarray(enc.tolist(), dtype=f"S{max(1, max(len(e) for e in enc))}")
                weights = codes[present[: len(words)]]
                chars, flags = _pii.text_facts(arr)
                self._lengths(chars, weights)
                cand = (flags & _pii.CANDIDATE) != 0
                w = weights.astype(np.float64)
                self.pii_checked += float(w[~cand].sum())
                self._pii(arr[cand], w[cand])
        else:
            vc = self.values
            assert vc is not None
            d["distinct"] = vc.distinct()
            collided = self.collided or vc.collided
            d["distinct_exact"] = vc.exact and not collided
            if collided:
                d["hash_collision"] = True
            if not vc.exact:
                d["distinct_error"] = round(vc.relative_error, 6)
            kept = vc.top(max(top_k, 0))
            if self.kind == "text":
                kept, cut = self._cut_top(kept)
                if cut:
                    d["top_cut"] = cut
            top = [(self._value(k), c) for k, c in kept]
            m = self.moments
            if m is not None:
                d["min"], d["max"] = self._value(m.min), self._value(m.max)
            else:
                for key, end in (("min", self.text_min), ("max", self.text_max)):
                    v, cut = (None, False) if end is None else self._cut_value(end[0])
                    d[key] = self._value(v)
                    if cut:  # (its first value_prefix bytes: at a character's start)
                        d[key + "_cut"] = True
        if self.moments is not None:
            m = self.moments
            if self.kind == "time":
                d["mean"] = self._time_value(m.mean if m.n else None)
                d["std"] = _finite(m.std)
                d["std_unit"] = (
                    np.datetime_data(self.column.numpy_format[1:])[0] if self.column else "D"
                )  # type: ignore[index]
            else:
                d["mean"] = _finite(m.mean) if m.n else None
                d["std"] = _finite(m.std)
        if self.kind in ("number", "time"):
            q = self.quantiles
            if q is None:  # the exact counts
                vals = counted_quantiles(*self._counts(), list(QUANTILES.values()))
            else:
                vals = q.quantiles(list(QUANTILES.values()))
            conv = self._time_value if self.kind == "time" else _finite
            d["quantiles"] = (
                {k: conv(v) for k, v in zip(QUANTILES, vals, strict=False)} if vals else {}
            )
            d["quantiles_exact"] = q is None or q.exact
            if q is not None and not q.exact:
                d["quantiles_rank_error"] = q.rank_error
            d["histogram"] = self._histogram()
        d["top"] = [[v, c] for v, c in top[: max(top_k, 0)]]
        d["top_exact"] = self.values is None or self.values.exact
        if self.values is not None and not self.values.exact:
            d["top_error"] = self.values.error_bound()
        if self.len_n:
            d["lengths"] = {
                "min": self.len_min,
                "mean": self.len_sum / self.len_n,
                "max": self.len_max,
                "unit": "characters",
            }
        if self.kind == "text" and self.count:
            d["looks_like"] = {k: min(v / self.count, 1.0) for k, v in self.looks.items() if v}
            d["looks_like_exact"] = True  # every distinct value's characters counted
        d["pii"] = self._pii_result()
        return d

    def _cut_top(self, top: list[tuple[Any, int]]) -> tuple[list[tuple[Any, int]], list[int]]:
        """Top text values (bytes) kept longer than ``value_prefix`` bytes (kept as one
        byte more, never NUL: they were longer, :func:`_kept_prefix`) cut to it; and
        their places."""
        out, cut = [], []
        for i, (v, c) in enumerate(top):
            if isinstance(v, bytes):
                v, was = self._cut_value(v)
                if was:
                    cut.append(i)
            out.append((v, c))
        return out, cut

    def _cut_value(self, v: bytes) -> tuple[bytes, bool]:
        """A value kept as its first ``value_prefix`` bytes and one more: cut to at most
        ``value_prefix`` bytes at a character's start, and whether it was longer."""
        p = self.limits.value_prefix
        if len(v) <= p:
            return v, False
        end = p
        while end > 0 and (v[end] & 0xC0) == 0x80:  # a continuation byte
            end -= 1
        return v[:end], True

    def _histogram(self) -> dict[str, Any] | None:
        edges = self.hist_edges if self.hist is not None else self.edges()
        if edges is None or self.kind not in ("number", "time"):
            return None
        if self.hist is not None:
            counts, how = [int(c) for c in self.hist], "exact (second pass)"
        elif self.quantiles is None:  # the exact counts
            values, weights = self._counts()
            c, _ = np.histogram(values, bins=edges, weights=weights.astype(np.float64))
            counts, how = [int(x) for x in c], "exact"
        else:
            counts = self.quantiles.histogram(edges)
            how = "exact" if self.quantiles.exact else "estimated from the quantile sketch"
        conv = self._time_value if self.kind == "time" else float
        return {"edges": [conv(e) for e in edges.tolist()], "counts": counts, "counts_from": how}

    def pii_kind(self) -> str | None:
        """The kind this column holds (a share :data:`~fastetl.profiling.pii.SHARE` of
        its non-null values validate), else None."""
        if not self.count or not self.pii_counts:
            return None
        kind, n = max(self.pii_counts.items(), key=lambda kv: (kv[1], kv[0]))
        n = min(n, float(self.count))
        return kind if n / self.count >= _pii.SHARE else None

    def _pii_result(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for kind in _pii.KINDS:
            n = self.pii_counts.get(kind)
            if not n:
                continue
            n = min(n, float(self.count))
            out[kind] = {
                "count": int(round(n)),
                "share": n / self.count if self.count else 0.0,
                "examples": list(self.pii_examples.get(kind, [])),
                "count_exact": not self.pii_estimated,
            }
        return out


def _float_code(dt: np.dtype) -> int:
    """fold_floats_rows' code of a field's dtype (0: not one it converts)."""
    if not dt.isnative or dt.kind not in "iuf" or dt.itemsize not in (1, 2, 4, 8):
        return 0
    if dt.kind == "f":
        return 32 + dt.itemsize if dt.itemsize >= 4 else 0
    return dt.itemsize + (16 if dt.kind == "u" else 0)


def numeric_rows(
    records: np.ndarray, columns: list[ColumnState], nulls: list[np.ndarray | None]
) -> np.ndarray:
    """The float64 rows of numeric ``columns`` of ``records``: column ``j`` is
    ``columns[j]._floats(records[name])``, NaN where ``nulls[j]`` (bool, or None).  Read
    in one compiled pass over the records, each record's bytes once (a pass per column
    over records far wider than its field was most of the cost), no temporary per
    column; a decimal's integers beyond 2**53 are converted again through ``decimal``."""
    n, k = len(records), len(columns)
    x = np.empty((n, k))
    if not n or not k:
        return x
    fields = records.dtype.fields or {}
    offsets = np.zeros(k, np.int64)
    codes = np.zeros(k, np.int32)
    divs = np.zeros(k)
    for j, cs in enumerate(columns):
        dt, offsets[j] = fields[cs.name][:2]
        codes[j] = _float_code(dt)
        if cs.type == "decimal":
            assert cs.column is not None
            divs[j] = 10.0 ** (cs.column.scale or 0)
    masks = [None if m is None else np.ascontiguousarray(m, dtype=np.bool_) for m in nulls]
    big = np.zeros(k, np.int64)
    if codes.all():
        data, stride = field_bytes(records)
        _core.fold_floats_rows(data, stride, offsets, codes, divs, masks, x, big)
        again = [j for j in range(k) if big[j] and columns[j].type == "decimal"]
    else:
        again = list(range(k))
    for j in again:
        x[:, j] = columns[j]._floats(np.asarray(records[columns[j].name]))
        if masks[j] is not None:
            x[masks[j], j] = np.nan
    return x


class _Corr:
    """Sums for Pearson correlations over rows where both columns are non-null,
    shifted by the first block's means (fewer cancellations)."""

    def __init__(self, k: int) -> None:
        self.shift: np.ndarray | None = None
        self.n = np.zeros((k, k))
        self.sx = np.zeros((k, k))  # sx[i, j]: sum of x_i where x_i and x_j are present
        self.sxx = np.zeros((k, k))
        self.sxy = np.zeros((k, k))

    def add(self, x: np.ndarray) -> None:
        """Fold a block: ``x`` its rows of numeric values (C order), absent values NaN
        (any value that is not finite is left out of the pairs it is in)."""
        if not len(x):
            return
        x = np.ascontiguousarray(x, dtype=np.float64)
        if self.shift is None:  # (each chunk's state: numpy's five passes cost more than
            self.shift = np.empty(x.shape[1])  # the sums themselves)
            _core.fold_corr_shift(x.reshape(-1), x.shape[1], self.shift)
        _core.fold_corr(x, x.shape[1], self.shift, self.n, self.sx, self.sxx, self.sxy)

    def merge(self, other: _Corr) -> None:
        if other.shift is None:
            return
        if self.shift is None:
            self.__dict__.update(other.__dict__)
            return
        # re-centre other's sums on this shift: x - a = (x - b) + (b - a)
        d = other.shift - self.shift
        n = other.n
        sx = other.sx + d[:, None] * n
        sxx = other.sxx + 2 * d[:, None] * other.sx + (d * d)[:, None] * n
        sxy = other.sxy + d[:, None] * other.sx.T + d[None, :] * other.sx + np.outer(d, d) * n
        self.n += n
        self.sx += sx
        self.sxx += sxx
        self.sxy += sxy

    def matrix(self) -> np.ndarray:
        n, sx, sxx, sxy = self.n, self.sx, self.sxx, self.sxy
        with np.errstate(invalid="ignore", divide="ignore"):
            cov = n * sxy - sx * sx.T
            vx = n * sxx - sx * sx
            r = cov / np.sqrt(vx * vx.T)
        r[n < 2] = np.nan
        return np.clip(r, -1.0, 1.0)


class TableState:
    """The profile state of consecutive blocks of one table."""

    def __init__(
        self,
        schema: Schema,
        limits: Limits | None = None,
        table: Table | None = None,
        text_widths: dict[str, int] | None = None,
    ) -> None:
        self.schema = schema
        self.limits = limits or Limits()
        # a Table over each block gives the null masks and flag bits (its decoding rules)
        if table is None:
            table = Table.from_array(
                np.zeros(0, dtype=schema.dtype()),
                {"schema": schema.to_dict(), "categories": {}},
                np.zeros(0, np.uint8) if schema.text_names else None,
            )
        self._table = copy.copy(table)  # its own: _view() points it at each block
        self.columns: list[ColumnState] = []
        for c in schema.columns:
            if c.stored:
                self.columns.append(ColumnState(c.name, c.type, c, self.limits))
        self.text_names = [c.name for c in schema.columns if c.stored and c.type == "text"]
        self.text_widths = dict(text_widths or {})  # text column -> its longest value's bytes
        self.bits = [b.name for f in schema.flags for b in f.bits]
        for b in self.bits:
            self.columns.append(ColumnState(b, "bool", None, self.limits))
        self.rows = 0
        self.row_hashes = Distinct(self.limits.rows_exact)
        self.numeric = [
            cs.name for cs in self.columns if cs.kind == "number" and cs.type != "bool"
        ][:CORR_LIMIT]
        self.corr = _Corr(len(self.numeric))
        self._known = threading.local()  # each thread's text facts, kept across forks
        for cs in self.columns:
            cs.known = self._known

    def fork(self) -> TableState:
        """An empty state of the same table (for a block folded apart, then merged)."""
        part = TableState(self.schema, self.limits, self._table, self.text_widths)
        part._known = self._known
        for cs, mine in zip(part.columns, self.columns, strict=True):
            cs.known = self._known
            if cs.values is not None and mine.values is not None:
                cs.values.presort = mine.values.hll is not None  # (a hint: no result changes)
                if cs.values.value_bytes is not None:  # (up to workers + 3 alive at once)
                    cs.values.value_bytes //= CHUNK_SHARE
        return part

    def _view(self, records: np.ndarray) -> Table:
        t = self._table
        t.array = records
        return t

    def add(self, records: np.ndarray, text: np.ndarray | None = None) -> None:
        """Fold a block of records (in input order after those folded before);
        ``text``: the bytes its text columns' offsets count in (else the table's)."""
        kept = self._table.text
        if text is not None:
            self._table.text = text
        try:
            with np.errstate(all="ignore"):  # overflow and NaN are results here, not faults
                self._fold(records)
        finally:
            self._table.text = kept
        self._view(records[:0])  # the state keeps no reference to the block

    def _fold(self, records: np.ndarray) -> None:
        n = len(records)
        if not n:
            return
        self.rows += n
        t = self._view(records)
        numeric: dict[str, tuple[ColumnState, np.ndarray | None]] = {}
        text_hashes: list[np.ndarray] = []
        for cs in self.columns:
            if cs.column is None:  # a flag bit
                cs.add(t[cs.name], None)
                continue
            col = cs.column
            raw = np.asarray(records[cs.name])
            nulls = t.null_mask(cs.name) if col.nullable or col.null_in_value else None
            if col.type == "text":
                text_hashes.append(self._fold_text(cs, raw, nulls))
                continue
            cs.add(raw, nulls)
            if cs.name in self.numeric:
                numeric[cs.name] = (cs, nulls)
        self.row_hashes.add_unique(
            sorted_unique(self._row_hashes(records, text_hashes), in_place=True)
        )
        if self.numeric:
            cols, masks = zip(*(numeric[k] for k in self.numeric), strict=True)
            self.corr.add(numeric_rows(records, list(cols), list(masks)))

    def _fold_text(self, cs: ColumnState, refs: np.ndarray, nulls: np.ndarray | None) -> np.ndarray:
        """Fold a ``text`` column (its values out of line, in the table's text bytes):
        its values copied out as ``S`` values, at most ``TEXT_BYTES`` at a time (or one
        value, if longer), at the column's width where one is given (an ``.npy``: its
        longest value's), else at the width of the longest value of each run copied
        (a value hashes the same at any width).  Returns each row's value hash (0 where
        null), for the duplicate rows."""
        fixed = self.text_widths.get(cs.name)
        off = np.ascontiguousarray(refs["offset"])
        lens = np.ascontiguousarray(refs["length"])
        out = np.zeros(len(refs), dtype=np.uint64)
        text = self._table.text
        at, n = 0, len(refs)
        while at < n:
            if fixed:
                width = fixed
                stop = min(n, at + max(1, TEXT_BYTES // width))
            else:  # the longest run whose longest value times its rows fits TEXT_BYTES
                run = np.maximum.accumulate(lens[at : min(n, at + TEXT_RUN)].astype(np.int64))
                over = np.flatnonzero(run * np.arange(1, len(run) + 1) > TEXT_BYTES)
                k = max(int(over[0]), 1) if len(over) else len(run)
                stop = at + k
                width = max(int(run[k - 1]), 1)
            values = np.empty(stop - at, dtype=f"S{width}")
            bad = _core.fold_text_gather(text, off[at:stop], lens[at:stop], width, values)
            if bad >= 0:
                raise TextPastEnd(at + bad)
            part = None if nulls is None else nulls[at:stop]
            cs.add(values, part)
            h = hash_values(values, trim=True)
            if part is not None:
                h[part] = 0
            out[at:stop] = h
            at = stop
        return out

    def _row_hashes(self, records: np.ndarray, text_hashes: list[np.ndarray]) -> np.ndarray:
        """A hash of each row's values: its record's bytes, where a ``text`` column's
        reference (unique to the row) is replaced by its value's hash."""
        if not text_hashes:
            return hash_values(records)
        rec = records.copy()
        for name in self.text_names:
            rec[name] = 0
        h = hash_values(rec)
        for i, th in enumerate(text_hashes):
            h ^= th * np.uint64(2 * i + 0x9E3779B97F4A7C15 | 1)
        out = np.empty(len(h), dtype=np.uint64)
        _core.fold_mix_words(h, out)
        return out

    def add_histograms(self, records: np.ndarray, edges: dict[str, np.ndarray]) -> None:
        """The second pass over an ``.npy``: exact histogram counts on ``edges``."""
        with np.errstate(all="ignore"):  # overflow and NaN are results here, not faults
            self._fold_histograms(records, edges)
        self._view(records[:0])

    def _fold_histograms(self, records: np.ndarray, edges: dict[str, np.ndarray]) -> None:
        t = self._view(records)
        for cs in self.columns:
            e = edges.get(cs.name)
            if e is None or cs.column is None:
                continue
            nulls = t.null_mask(cs.name) if cs.column.nullable or cs.column.null_in_value else None
            cs.add_histogram(np.asarray(records[cs.name]), nulls, e)

    def merge(self, other: TableState) -> None:
        """Fold in the state of the blocks that come right after this one's."""
        with np.errstate(all="ignore"):  # overflow and NaN are results here, not faults
            self._merge(other)

    def _merge(self, other: TableState) -> None:
        self.rows += other.rows
        for a, b in zip(self.columns, other.columns, strict=True):
            a.merge(b)
        self.row_hashes.merge(other.row_hashes)
        self.corr.merge(other.corr)

    def result(self, categories: dict[str, list[str]], top_k: int = 10) -> dict[str, Any]:
        """The profile (JSON-shaped) of the blocks folded so far."""
        with np.errstate(all="ignore"):  # overflow and NaN are results here, not faults
            return self._result(categories, top_k)

    def _result(self, categories: dict[str, list[str]], top_k: int = 10) -> dict[str, Any]:
        cols = [cs.result(categories.get(cs.name), top_k) for cs in self.columns]
        for cs, d in zip(self.columns, cols, strict=True):
            kind = cs.pii_kind()
            d["pii_kind"] = kind
            if kind is not None:  # raw values of a PII column appear nowhere
                d["min"] = d["max"] = None
                d["top"] = []
                d["redacted"] = True
                for key in ("min_cut", "max_cut", "top_cut"):
                    d.pop(key, None)
                if "quantiles" in d:
                    d["quantiles"] = {k: None for k in d["quantiles"]}
                    d["histogram"] = None
        distinct_rows = self.row_hashes.count()
        corr: dict[str, dict[str, float | None]] = {}
        if len(self.numeric) >= 2:
            r = self.corr.matrix()
            for i, a in enumerate(self.numeric):
                corr[a] = {b: _finite(float(r[i, j])) for j, b in enumerate(self.numeric)}
        return {
            "rows": self.rows,
            "duplicate_rows": {
                "count": max(self.rows - distinct_rows, 0),
                "exact": self.row_hashes.exact,
                **(
                    {}
                    if self.row_hashes.exact
                    else {"distinct_rows_error": self.row_hashes.relative_error}
                ),
            },
            "columns": cols,
            "correlations": corr,
        }
