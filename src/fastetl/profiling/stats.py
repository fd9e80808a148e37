"""Mergeable accumulators and sketches for profiling, all fed whole numpy blocks.

Every state here has ``add`` (a block of values) and ``merge`` (another state of
the same kind).  Exact states (:class:`Moments`, exact sets and counts) merge
exactly: ``a.merge(b)`` equals one pass over both inputs, up to the rounding of
floating-point sums.  Sketches take over beyond a bound and merge in the order
they are merged in, with their own seeded random source, so the same sequence of
blocks gives the same result whatever thread computed each block:

* :class:`Distinct`: the exact set while it holds at most ``exact_limit`` values,
  then a HyperLogLog of ``2**p`` registers (relative standard error
  ``1.04 / sqrt(2**p)``: 0.81 % at the default ``p = 14``).
* :class:`Quantiles`: every value while there are at most ``exact_limit``
  (quantiles then exact, numpy's "linear" method), then a KLL sketch
  (Karnin, Lang, Liberty 2016) whose normalized rank error is stated by
  :data:`KLL_RANK_ERROR` (checked over many seeds by the tests).
* :class:`ValueCounts`: exact counts while there are at most ``exact_limit`` distinct
  values, then a Misra-Gries summary of ``capacity`` counters, merged as in
  Agarwal et al., "Mergeable summaries" (2012): each kept count is a lower bound
  of the true count and at most :attr:`ValueCounts.error` below it, and
  ``error <= n / (capacity + 1)``; its distinct count is then a HyperLogLog's.

Nothing here loops in Python over values: each block costs a few numpy calls.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import _core

_U64 = np.uint64
_MASK64 = (1 << 64) - 1

# ---------------------------------------------------------------------------
# hashing (for HyperLogLog and duplicate rows)


def _mix(h: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer over uint64 arrays (numpy wraps uint64 arithmetic)."""
    h = h ^ (h >> _U64(30))
    h = h * _U64(0xBF58476D1CE4E5B9)
    h = h ^ (h >> _U64(27))
    h = h * _U64(0x94D049BB133111EB)
    return h ^ (h >> _U64(31))


def field_bytes(values: np.ndarray) -> tuple[np.ndarray, int]:
    """The bytes of a non-empty 1-D array's values read in place (a field of records is
    not copied out): from the first value's start to the last one's end, and the
    stride that sets the values apart (at least their size: none overlap)."""
    size, n = values.dtype.itemsize, len(values)
    stride = values.strides[0] if n > 1 else size
    if values.ndim != 1 or not n or stride < size:
        raise ValueError("not a non-empty 1-D array of values set apart")
    first = values[:1].view(np.uint8)
    return np.lib.stride_tricks.as_strided(first, ((n - 1) * stride + size,), (1,)), stride


def hash_values(values: np.ndarray, trim: bool = False) -> np.ndarray:
    """A 64-bit hash of each value: numbers (by their bits, -0.0 as 0.0), datetimes,
    fixed-width bytes (numpy S, trailing NULs are padding) or fixed-size records.
    ``trim`` (numpy S): a value's trailing all-zero words are left out, so it hashes
    the same at any width (a ``text`` column, folded at each run's own width; ~1.4x
    the hashing time of S48 values, so not for ``str`` columns, of one width)."""
    size, n = values.dtype.itemsize, len(values)
    trim = trim and values.dtype.kind == "S"
    if values.dtype.kind in "SV" and values.ndim == 1 and n > 1 and values.strides[0] > size:
        # a field of records, read in place (not copied out first): the bytes from the
        # first value's start to the last one's end, values ``stride`` apart
        data, stride = field_bytes(values)
        out = np.empty(n, dtype=np.uint64)
        _core.fold_hash_records(data, size, out, stride, trim)
        return out
    v = np.ascontiguousarray(values)
    kind = v.dtype.kind
    if kind == "f" or (kind in "iubmM" and v.dtype.itemsize <= 8):
        if kind == "f":
            words = (v.astype(np.float64) + 0.0).view(np.uint64)  # -0.0 + 0.0 == +0.0
        else:
            words = np.ascontiguousarray(v.astype(np.int64, copy=False)).view(np.uint64)
        out = np.empty(len(words), dtype=np.uint64)  # _mix(words ^ 0x9E37...), compiled
        if len(words):
            _core.fold_mix_words(words, out)
        return out
    # h = f(h ^ word) word by word (native order, the last word zero-padded), f a
    # bijection (odd multiply, xor-shift), then the full mix: values that differ in one
    # word always hash apart.  In compiled code, without the GIL.
    out = np.empty(len(v), dtype=np.uint64)
    if len(v):
        _core.fold_hash_records(v.view(np.uint8).reshape(-1), v.dtype.itemsize, out, 0, trim)
    return out


RADIX_MIN = 64  # 64-bit integer keys sorted by fold_sort64 from this many on


def _radix(x: np.ndarray) -> bool:
    """Are ``x`` sorted by :func:`fastetl._core.fold_sort64` (64-bit integers in the
    machine's byte order, enough of them, and fewer than 2**32: its counts are 32-bit)?"""
    return (
        x.ndim == 1
        and x.dtype.kind in "iu"
        and x.dtype.itemsize == 8
        and x.dtype.isnative
        and RADIX_MIN <= len(x) < 1 << 32
    )


def argsort64(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``keys[o], o`` for ``o = np.argsort(keys, kind="stable")``: a radix sort in
    compiled code for 64-bit integers (numpy's costs ~4x more on a block's keys)."""
    if not _radix(keys):
        o = np.argsort(keys, kind="stable")
        return keys[o], o
    k = np.array(keys, order="C")  # (a copy: sorted in place)
    o = np.arange(len(k), dtype=np.int64)
    _core.fold_sort64(k, k.dtype.kind == "i", o)
    return k, o


def sorted_unique(x: np.ndarray, runs: bool = False, in_place: bool = False) -> np.ndarray:
    """``np.unique(x)`` of numbers without NaN, by a sort (``runs``: ``x`` is sorted
    runs, merged by a stable sort; else 64-bit integers by a radix sort) -- numpy's
    own goes through a slower hash set.  ``in_place``: ``x`` is sorted where it is (no
    copy of it)."""
    if len(x) < 2:
        return x.copy()
    if not runs and _radix(x):
        s = x if in_place and x.flags.c_contiguous and x.flags.writeable else x.copy()
        _core.fold_sort64(s, s.dtype.kind == "i")
    elif in_place:
        x.sort(kind="stable" if runs else "quicksort")
        s = x
    else:
        s = np.sort(x, kind="stable" if runs else "quicksort")
    return _unique_in_place(s)


UNIQUE_STEP = 1 << 16


def _unique_in_place(s: np.ndarray) -> np.ndarray:
    """The distinct values of sorted ``s`` (ours to change), moved to its start a slice
    of ``UNIQUE_STEP`` at a time: a slice's scratch, not a copy of all of ``s`` (the
    duplicate rows' last merge, of every row's hash, made the profile's peak memory).
    Returns that start: a view, or a copy when it is less than half of ``s``."""
    w, prev = 0, None
    for at in range(0, len(s), UNIQUE_STEP):
        b = s[at : at + UNIQUE_STEP]
        keep = np.empty(len(b), dtype=bool)
        keep[0] = prev is None or b[0] != prev
        np.not_equal(b[1:], b[:-1], out=keep[1:])
        prev = b[-1]  # (a scalar: a copy, before the slice is written over)
        u = b[keep]
        s[w : w + len(u)] = u
        w += len(u)
    return s[:w] if 2 * w >= len(s) else s[:w].copy()


def sum_runs(keys: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct ``keys`` (sorted runs of unique values, concatenated), the index of
    each one's first appearance and its ``counts`` added up, as ``np.unique(keys,
    return_index=True, return_inverse=True)`` and a bincount would give -- by a stable
    sort, which merges sorted runs in about linear time (NaNs are one value, NaTs too)."""
    if not len(keys):
        return keys, np.zeros(0, np.intp), np.zeros(0, np.int64)
    s, order = argsort64(keys)
    new = np.empty(len(s), dtype=bool)
    new[0] = True
    np.not_equal(s[1:], s[:-1], out=new[1:])
    if s.dtype.kind in "fcmM":
        nan = np.isnan(s)
        new[1:] &= ~(nan[1:] & nan[:-1])
    starts = np.flatnonzero(new)
    total = np.add.reduceat(counts[order].astype(np.int64), starts)
    return s[starts], order[starts], total


def _count_keys(
    h: np.ndarray, values: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """:func:`fastetl._core.fold_count_keys` of 64-bit hashes ``h``: the distinct keys in
    order of first appearance, the index of that appearance, the counts and, with the
    ``values`` hashed (fixed-width bytes), for each row the index of the key whose first
    value its value differs from (-1: the same, or the first)."""
    h = np.ascontiguousarray(h, dtype=np.uint64)
    n = len(h)
    keys, first, counts = np.empty(n, np.uint64), np.empty(n, np.int64), np.empty(n, np.int64)
    under = None if values is None else np.full(n, -1, np.int64)
    m = 0
    if n and values is None:
        m = _core.fold_count_keys(h, keys, first, counts)
    elif n:
        data, stride = field_bytes(values)
        size = values.dtype.itemsize
        m = _core.fold_count_keys(h, keys, first, counts, data, size, stride, under)
    return keys[:m], first[:m], counts[:m], under


def count_hashes(
    h: np.ndarray, ordered: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``np.unique(h, return_index=True, return_counts=True)`` of 64-bit hashes
    (:func:`hash_values`), counted in a hash table in compiled code: its sort is
    over the distinct hashes only (``ordered=False``: none, the distinct hashes in
    order of first appearance)."""
    keys, first, counts, _ = _count_keys(h)
    if not ordered:
        return keys, first, counts
    k, order = argsort64(keys)
    return k, first[order], counts[order]


def count_values(
    values: np.ndarray, h: np.ndarray | None = None, trim: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`count_hashes` of the :func:`hash_values` of fixed-width bytes ``values``
    (or of the hashes ``h`` given for them), in order of first appearance, each value
    checked byte for byte against the first one counted under its hash: ``keys, first,
    counts, stray, under`` where ``stray`` are the rows whose value differs from it (a
    hash collision: counted under that key all the same) and ``under`` the index, in
    ``keys``, of the key each is counted under."""
    if h is None:
        h = hash_values(values, trim)
    keys, first, counts, under = _count_keys(h, values)
    assert under is not None
    stray = np.flatnonzero(under >= 0)
    return keys, first, counts, stray, under[stray]


class KeyTable:
    """An open-addressing set of distinct 64-bit keys (well-mixed: :func:`hash_values`)
    kept across calls, filled by the compiled passes of its owners (:meth:`room` first;
    :func:`fastetl._core.fold_known_keys` places the keys again when the slots grow): each
    key's index is its order of arrival, at most ``limit`` keys; the slots double as
    keys arrive, so memory follows the keys held.  Owners keep arrays parallel to
    :attr:`keys` (facts, counts, values), of at least :attr:`n` items (:func:`grown`)."""

    def __init__(self, limit: int, cap: int = 1 << 12) -> None:
        self.limit = limit
        self.n = 0
        self.keys = np.empty(0, np.uint64)
        self._grow(cap)

    def _grow(self, cap: int) -> None:
        """``cap`` slots (a power of two: room for three quarters of them)."""
        n = self.n
        self.slots = np.zeros(cap, np.int32)
        keys = self.keys  # made once (at_once): the keys placed again where they are
        room = min(self.limit, cap - cap // 4)
        if len(keys) < room:
            keys = np.empty(max(room, at_once(self.limit, 8)), np.uint64)
        if n:  # the known keys again, in their order (their indices do not change)
            _core.fold_known_keys(self.slots, keys, self.keys[:n], np.empty(n, np.int64), 0)
        self.keys = keys

    def room(self, m: int) -> int:
        """Slots for ``m`` keys more (up to ``limit`` in all); returns how many keys the
        set may hold once they are added (the ``limit`` of the kernels that add them:
        :func:`fastetl._core.fold_count_into`, :func:`~fastetl._core.fold_known_facts`)."""
        cap = len(self.slots)
        while self.n + m > cap - cap // 4 and cap - cap // 4 < self.limit:
            cap *= 2
        if cap > len(self.slots):
            self._grow(cap)
        return max(self.n, min(self.limit, len(self.keys), cap - cap // 4, self.n + m))


ONCE_BYTES = 4 << 20
"""A kept table's arrays are made with room for their limit's items (up to this many
bytes) at once: ``np.empty`` of them takes pages as they are filled, so no room unused
costs memory, and no copy as the table grows -- each copy was fresh pages (page
faults) and both arrays at once (peak memory)."""


def at_once(limit: int, itemsize: int) -> int:
    """The items a kept table's array of ``limit`` items is made with (:data:`ONCE_BYTES`)."""
    return min(limit, max(1, ONCE_BYTES // max(itemsize, 1)))


def grown(a: np.ndarray, n: int, need: int, once: int = 0) -> np.ndarray:
    """``a`` (its first ``n`` items kept) with room for at least ``need`` items (half as
    many again as it had, at least: a few copies as it grows, no more room than that;
    ``once``: at least that many, :func:`at_once`)."""
    if len(a) >= need:
        return a
    out = np.empty(max(need, len(a) + len(a) // 2, once), a.dtype)
    out[:n] = a[:n]
    return out


# ---------------------------------------------------------------------------
# exact moments


class Moments:
    """Count, min, max, mean and the sum of squared deviations (Chan et al. merge)."""

    __slots__ = ("n", "mean", "m2", "min", "max")

    def __init__(self) -> None:
        self.n = 0
        self.mean = 0.0
        self.m2 = 0.0
        self.min: Any = None  # in the values' own type (exact for integers, dates)
        self.max: Any = None

    def add(self, floats: np.ndarray, raw: np.ndarray | None = None) -> None:
        """``floats``: the non-null values as float64; ``raw``: the same values in their
        own type (for an exact min and max), default ``floats``."""
        nb = len(floats)
        if nb == 0:
            return
        raw = floats if raw is None else raw
        lo, hi = raw.min(), raw.max()
        mb = float(floats.mean())
        m2b = float(np.square(floats - mb).sum())
        self._fold(nb, mb, m2b, lo, hi)

    def add_counts(self, values: np.ndarray, counts: np.ndarray, lo: Any, hi: Any) -> None:
        """Add distinct ``values`` (float64), each ``counts`` times (no value repeated);
        ``lo`` and ``hi``: the smallest and largest in their own type."""
        w = counts.astype(np.float64)
        nb = int(counts.sum())
        if nb == 0:
            return
        mb = float((values * w).sum()) / nb  # numpy's pairwise sums, not BLAS
        d = values - mb
        self._fold(nb, mb, float((d * d * w).sum()), lo, hi)

    def _fold(self, nb: int, mb: float, m2b: float, lo: Any, hi: Any) -> None:
        if self.n == 0:
            self.n, self.mean, self.m2, self.min, self.max = nb, mb, m2b, lo, hi
            return
        n = self.n + nb
        d = mb - self.mean
        self.mean += d * nb / n
        self.m2 += m2b + d * d * self.n * nb / n
        self.n = n
        self.min = min(self.min, lo)
        self.max = max(self.max, hi)

    def merge(self, other: Moments) -> None:
        if other.n:
            self._fold(other.n, other.mean, other.m2, other.min, other.max)

    @property
    def std(self) -> float | None:
        """The sample standard deviation (ddof=1, as pandas' ``std``)."""
        if self.n < 2:
            return None
        return math.sqrt(max(self.m2, 0.0) / (self.n - 1))


# ---------------------------------------------------------------------------
# distinct values: exact set, then HyperLogLog

HLL_P = 14


class HyperLogLog:
    """HyperLogLog with ``2**p`` one-byte registers; merge is the register-wise max."""

    def __init__(self, p: int = HLL_P) -> None:
        self.p = p
        self.m = 1 << p
        self.registers = np.zeros(self.m, dtype=np.uint8)

    @property
    def relative_error(self) -> float:
        """The relative standard error of :meth:`estimate`."""
        return 1.04 / math.sqrt(self.m)

    def add_hashes(self, h: np.ndarray) -> None:
        if len(h) == 0:
            return
        # the top p bits pick a register, which keeps the largest rank of the rest
        # (1 + its trailing zeros); in compiled code
        _core.fold_hll_add(np.ascontiguousarray(h, dtype=np.uint64), self.p, self.registers)

    def merge(self, other: HyperLogLog) -> None:
        np.maximum(self.registers, other.registers, out=self.registers)

    def estimate(self) -> int:
        """Ertl's improved estimator ("New cardinality estimation algorithms for
        HyperLogLog sketches", 2017): no bias tables, no switch to linear counting."""
        m, q = self.m, 64 - self.p
        c = np.bincount(self.registers, minlength=q + 2).astype(np.float64)
        z = m * _tau(1.0 - c[q + 1] / m)
        for k in range(q, 0, -1):
            z = 0.5 * (z + c[k])
        z += m * _sigma(c[0] / m)
        return int(round(m * m / (2.0 * math.log(2.0)) / z)) if z else 0


def _sigma(x: float) -> float:
    if x == 1.0:
        return math.inf
    y, z = 1.0, x
    while True:
        x *= x
        before = z
        z += x * y
        y += y
        if z == before:
            return z


def _tau(x: float) -> float:
    if x in (0.0, 1.0):
        return 0.0
    y, z = 1.0, 1.0 - x
    while True:
        x = math.sqrt(x)
        before = z
        y *= 0.5
        z -= (1.0 - x) ** 2 * y
        if z == before:
            return z / 3.0


class Distinct:
    """Distinct non-null values: exact while at most ``exact_limit``, then HyperLogLog.

    Blocks' unique values are kept as runs and made one sorted set only when the runs
    outgrow that set (each value is copied O(log n) times, not once per block)."""

    def __init__(self, exact_limit: int = 1 << 16, p: int = HLL_P) -> None:
        self.exact_limit = exact_limit
        self.p = p
        self._values: np.ndarray | None = None  # sorted unique values while exact
        self._runs: list[np.ndarray] = []  # unique values not yet merged into _values
        self._pending = 0
        self.hll: HyperLogLog | None = None

    @property
    def exact(self) -> bool:
        self._flush()
        return self.hll is None

    @property
    def values(self) -> np.ndarray | None:
        self._flush()
        return self._values

    def add_unique(self, uniq: np.ndarray) -> None:
        """Add values already made unique (``np.unique`` of a block)."""
        if self.hll is not None:
            self.hll.add_hashes(hash_values(uniq))
            return
        self._runs.append(uniq)
        self._pending += len(uniq)
        base = 0 if self._values is None else len(self._values)
        if self._pending > max(base, 1 << 14):
            self._flush()

    def _flush(self) -> None:
        if not self._runs:
            return
        parts = self._runs if self._values is None else [self._values, *self._runs]
        # copied one part at a time, each let go once copied (where nothing else holds
        # it): the parts and their copy are not all held at once -- on a profile's row
        # hashes, up to ``exact_limit`` of them and as many waiting (8 + 8 MiB), the
        # largest transient of its fold
        allv = np.empty(sum(len(p) for p in parts), np.result_type(*parts))
        self._values, self._runs, self._pending = None, [], 0
        at = 0
        parts.reverse()
        while parts:
            part = parts.pop()
            allv[at : at + len(part)] = part
            at += len(part)
            del part
        u = sorted_unique(allv, runs=True, in_place=True)
        if u.base is allv and len(u) < len(allv):  # a view of its start: the rest let go
            n = len(u)
            del u
            try:
                allv.resize(n)  # (in place: the memory past the set is given back)
                u = allv
            except ValueError:  # another reference to it (a line tracer's copy of this
                u = allv[:n]  # frame's locals, on Python < 3.13): the view, as it was
        self._values = u
        if len(self._values) > self.exact_limit:
            self._to_sketch()

    def add(self, values: np.ndarray) -> None:
        self.add_unique(np.unique(values))

    def _to_sketch(self) -> None:
        self.hll = HyperLogLog(self.p)
        for part in [self._values, *self._runs]:
            if part is not None:
                self.hll.add_hashes(hash_values(part))
        self._values, self._runs, self._pending = None, [], 0

    def merge(self, other: Distinct) -> None:
        if other.hll is None:
            for part in [other._values, *other._runs]:
                if part is not None:
                    self.add_unique(part)
            return
        if self.hll is None:
            self._to_sketch()
        assert self.hll is not None
        self.hll.merge(other.hll)

    def count(self) -> int:
        self._flush()
        if self.hll is not None:
            return self.hll.estimate()
        return 0 if self._values is None else len(self._values)

    @property
    def relative_error(self) -> float:
        return 0.0 if self.hll is None else self.hll.relative_error


# ---------------------------------------------------------------------------
# quantiles: exact, then KLL

KLL_K = 1024
KLL_RANK_ERROR = 0.005
"""The normalized rank error :class:`Quantiles` states for its KLL sketch at the
default ``k``: a quantile it returns has a rank within ``0.005 * n`` of the asked
one (checked over many seeds by tests/test_profile_stats.py)."""


class Quantiles:
    """Quantiles of a stream of floats: exact while ``exact_limit`` values are held,
    then a KLL sketch with compaction coin flips from a seeded generator."""

    def __init__(self, exact_limit: int = 1 << 17, k: int = KLL_K, seed: int = 0) -> None:
        self.exact_limit = exact_limit
        self.k = k
        self._rng = np.random.default_rng(seed)
        self._held: list[np.ndarray] = []
        self._nheld = 0
        self.levels: list[np.ndarray] | None = None  # KLL levels, level h weighs 2**h
        self.n = 0

    @property
    def exact(self) -> bool:
        return self.levels is None

    @property
    def rank_error(self) -> float:
        return 0.0 if self.levels is None else KLL_RANK_ERROR * (KLL_K / self.k)

    def add(self, values: np.ndarray) -> None:
        values = np.asarray(values, dtype=np.float64)
        if len(values) == 0:
            return
        self.n += len(values)
        if self.levels is None:
            self._held.append(values)
            self._nheld += len(values)
            if self._nheld <= self.exact_limit:
                return
            values = np.concatenate(self._held)
            self._held, self._nheld = [], 0
            self.levels = [np.empty(0)]
        assert self.levels is not None
        self.levels[0] = np.concatenate([self.levels[0], values])
        self._compress()

    def add_counts(self, values: np.ndarray, counts: np.ndarray) -> None:
        """Add sorted ``values``, each ``counts`` times: held (repeated) while exact, else
        into the KLL levels by the bits of its count (bit ``h`` set: one item at level
        ``h``, which weighs ``2**h``) -- no value is repeated."""
        values = np.asarray(values, dtype=np.float64)
        c = np.asarray(counts, dtype=np.int64)
        total = int(c.sum())
        if total == 0:
            return
        if self.levels is None and self._nheld + total <= self.exact_limit:
            self.add(np.repeat(values, c))
            return
        if self.levels is None:
            held = np.concatenate(self._held) if self._held else np.empty(0)
            self._held, self._nheld = [], 0
            self.levels = [held]
        self.n += total
        h = 0
        while True:
            pick = (c & 1) != 0
            if pick.any():
                while len(self.levels) <= h:
                    self.levels.append(np.empty(0))
                self.levels[h] = np.concatenate([self.levels[h], values[pick]])
            c = c >> 1
            if not c.any():
                break
            h += 1
        self._compress()

    def _capacity(self, h: int) -> int:
        assert self.levels is not None
        depth = len(self.levels) - 1 - h
        return max(8, int(math.ceil(self.k * (2.0 / 3.0) ** depth)))

    def _compress(self) -> None:
        levels = self.levels
        assert levels is not None
        h = 0
        while h < len(levels):
            lv = levels[h]
            if len(lv) > self._capacity(h):
                lv = np.sort(lv, kind="stable")  # timsort: runs of sorted blocks merge fast
                keep = lv[len(lv) - (len(lv) % 2) :]  # an odd item out stays here
                pairs = lv[: len(lv) - (len(lv) % 2)]
                up = pairs[int(self._rng.integers(2)) :: 2]
                levels[h] = keep
                if h + 1 == len(levels):
                    levels.append(up)
                else:
                    levels[h + 1] = np.concatenate([levels[h + 1], up])
            h += 1

    def merge(self, other: Quantiles) -> None:
        if other.n == 0:
            return
        if other.levels is None:
            for v in other._held:
                self.add(v)
            return
        if self.levels is None:
            held = np.concatenate(self._held) if self._held else np.empty(0)
            self._held, self._nheld = [], 0
            self.levels = [held]
        while len(self.levels) < len(other.levels):
            self.levels.append(np.empty(0))
        for h, lv in enumerate(other.levels):
            self.levels[h] = np.concatenate([self.levels[h], lv])
        self.n += other.n
        self._compress()

    def _weighted(self) -> tuple[np.ndarray, np.ndarray]:
        """The sketch's items, sorted, and their weights."""
        if self.levels is None:
            items = np.sort(np.concatenate(self._held)) if self._held else np.empty(0)
            return items, np.ones(len(items))
        items = np.concatenate(self.levels)
        weights = np.concatenate(
            [np.full(len(lv), float(1 << h)) for h, lv in enumerate(self.levels)]
        )
        order = np.argsort(items, kind="stable")
        return items[order], weights[order]

    def quantiles(self, qs: list[float]) -> list[float]:
        if self.n == 0:
            return []
        if self.levels is None:
            allv = np.concatenate(self._held)
            return [float(x) for x in np.quantile(allv, qs)]
        items, weights = self._weighted()
        cum = np.cumsum(weights)
        total = cum[-1]
        out = []
        for q in qs:
            i = int(np.searchsorted(cum, q * total, side="left"))
            out.append(float(items[min(i, len(items) - 1)]))
        return out

    def histogram(self, edges: np.ndarray) -> list[int]:
        """Counts between ``edges`` (exact while exact, else estimated from the sketch's
        weighted items, totalling ``n``)."""
        if self.n == 0:
            return [0] * (len(edges) - 1)
        items, weights = self._weighted()
        counts, _ = np.histogram(items, bins=edges, weights=weights)
        if self.levels is None:
            return [int(c) for c in counts]
        # the sketch's weights total n exactly; round, keeping the total
        scaled = counts * (self.n / counts.sum()) if counts.sum() else counts
        out = np.floor(scaled).astype(np.int64)
        short = self.n - int(out.sum())
        if short > 0:
            order = np.argsort(-(scaled - out), kind="stable")[:short]
            out[order] += 1
        return [int(c) for c in out]


def counted_quantiles(values: np.ndarray, counts: np.ndarray, qs: list[float]) -> list[float]:
    """``np.quantile(np.repeat(values, counts), qs)`` (numpy's "linear" method) of sorted
    ``values`` (float64), without repeating them: the two order statistics each ``q``
    falls between are found in the running counts."""
    cum = np.cumsum(counts, dtype=np.int64)
    n = int(cum[-1]) if len(cum) else 0
    if n == 0:
        return []
    if np.isnan(values).any():
        return [math.nan] * len(qs)
    out = []
    for q in qs:
        pos = q * (n - 1)
        lo = math.floor(pos)
        t = pos - lo
        a = float(values[int(np.searchsorted(cum, lo, "right"))])
        b = float(values[int(np.searchsorted(cum, min(lo + 1, n - 1), "right"))])
        d = b - a
        out.append(b - d * (1 - t) if t >= 0.5 else a + d * t)  # numpy's _lerp
    return out


# ---------------------------------------------------------------------------
# value counts: exact, then Misra-Gries top values and HyperLogLog distinct


def merge_sorted(
    a: np.ndarray,
    ca: np.ndarray,
    b: np.ndarray,
    cb: np.ndarray,
    pa: np.ndarray | None = None,
    pb: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The union of sorted unique keys ``a`` and ``b`` with their counts added (and
    their payloads ``pa``, ``pb``: a value per key, kept from ``a`` for a shared key)."""
    if not len(a):
        return b, cb, pb
    if not len(b):
        return a, ca, pa
    idx = np.searchsorted(a, b)
    found = idx < len(a)
    found[found] = a[idx[found]] == b[found]
    ca = ca.copy()
    ca[idx[found]] += cb[found]
    new = ~found
    if not new.any():
        return a, ca, pa
    at = idx[new]
    p = None if pa is None or pb is None else np.insert(pa, at, pb[new])
    return np.insert(a, at, b[new]), np.insert(ca, at, cb[new]), p


def _payload_clash(a: np.ndarray, b: np.ndarray, pa: np.ndarray, pb: np.ndarray) -> bool:
    """Does a key of sorted unique ``b`` found in sorted unique ``a`` stand for another
    value (its payload in ``pb`` differs from the one in ``pa``: a hash collision)?"""
    if not len(a) or not len(b):
        return False
    idx = np.minimum(np.searchsorted(a, b), len(a) - 1)
    found = a[idx] == b
    if not found.any():
        return False
    w = np.promote_types(pa.dtype, pb.dtype)
    return bool((pa[idx[found]].astype(w) != pb[found].astype(w)).any())


class ValueCounts:
    """Counts per value: exact while at most ``exact_limit`` distinct values (then the
    distinct count is exact too), else the ``capacity`` heaviest values, each at most
    :attr:`error` below its true count (Misra-Gries), and a HyperLogLog of every value
    for the distinct count.

    While exact, integers, dates and text (keys given as hashes of a payload) are
    counted in a :class:`KeyTable` kept across blocks and merges: a block's run is
    added to it in compiled code, not merged by a sort; the sorted keys are made when
    asked for (:meth:`_flush`).  The set becomes the summary as soon as a run brings
    it past ``exact_limit`` (or text, its kept values past ``value_bytes`` bytes at
    the width they are kept at): a point fixed by the sequence of runs, whatever the
    threads.  Other values (floats, bools, bytes without hashes) keep sorted runs."""

    def __init__(
        self,
        exact_limit: int = 1 << 16,
        capacity: int = 1024,
        p: int = HLL_P,
        value_bytes: int | None = None,
    ) -> None:
        self.exact_limit = exact_limit
        # text (keys hashes of a payload): at most this many bytes of kept values while
        # exact (their count times the width they are kept at), else the summary
        self.value_bytes = value_bytes
        self.capacity = capacity
        self.p = p
        self.keys: np.ndarray | None = None  # sorted unique
        self.counts = np.zeros(0, dtype=np.int64)
        self.payload: np.ndarray | None = None  # the value of each key, when keys are hashes
        self._runs: list[Any] = []
        self._pending = 0
        self.error = 0  # total subtracted from every kept count (0 while exact)
        self.hll: HyperLogLog | None = None  # once not exact
        self.n = 0
        # called with (keys, counts) of every value added once not exact: first all the
        # values so far (before the heaviest are kept), then each block's or state's
        self.sink: Any = None
        # the table (while exact): its keys (hashes), their counts and values; a first
        # run waits as it is (a block's state needs no table), later ones are added
        self._table: KeyTable | None = None
        self._tc = np.zeros(0, np.int64)
        self._tv: np.ndarray | None = None
        self._hashed = False  # keys are hashes of the payload (text), not values
        # two values of different runs shared a hash (counted as one: distinct and top
        # are then not exact); a run's own values are checked by count_values
        self.collided = False
        self._dirty = False  # keys/counts/payload not yet made from the table
        # sort the runs added (the state they will be merged into is a summary: sorted
        # here, on a folding thread, not on the merging one)
        self.presort = False

    @property
    def exact(self) -> bool:
        self._flush()
        return self.hll is None

    def add_counts(
        self,
        keys: np.ndarray,
        counts: np.ndarray,
        payload: np.ndarray | None = None,
        ordered: bool = True,
    ) -> None:
        """Add values with their counts (``keys`` sorted and unique: ``np.unique``;
        ``ordered=False``: unique, in any order).  With ``payload``, the keys are 64-bit
        hashes (:func:`hash_values`) of the values ``payload`` (cheaper to sort than long
        text; exact but for a hash collision, about ``n**2 / 2**65``)."""
        self.n += int(counts.sum())
        counts = counts.astype(np.int64)
        tabled = self.hll is None and not self.presort and self._tabled(keys, payload)
        if not ordered and not tabled:
            keys, o = argsort64(keys)  # (the summary and the runs merge sorted keys)
            counts = counts[o]
            payload = None if payload is None else payload[o]
            ordered = True
        if self.hll is None and self._tabled(keys, payload):
            self._put(self._run(keys, counts, payload, ordered))
            return
        self._combine(keys, counts, payload)

    def _hashes(self, keys: np.ndarray) -> np.ndarray:
        return keys if keys.dtype == np.uint64 and self.payload is not None else hash_values(keys)

    def add(self, values: np.ndarray) -> None:
        keys, counts = np.unique(values, return_counts=True)
        self.add_counts(keys, counts)

    @staticmethod
    def _tabled(keys: np.ndarray, payload: np.ndarray | None) -> bool:
        """Are these counted in the table (their hashes distinct: text by its hashes,
        integers and times by :func:`hash_values`, one-to-one on 64-bit words)?"""
        return payload is not None or (keys.dtype.kind in "iumM" and keys.dtype.itemsize <= 8)

    def _run(
        self, keys: np.ndarray, counts: np.ndarray, payload: np.ndarray | None, ordered: bool
    ) -> tuple:
        """A run as the table takes it: (hashes, counts, values, sorted)."""
        if payload is not None:
            self._hashed = True
            return (keys, counts, payload, ordered)
        return (hash_values(keys), counts, keys, ordered)

    def _view(self, h: np.ndarray, c: np.ndarray, v: np.ndarray, ordered: bool) -> tuple:
        """(keys, counts, payload, hashes) of table items: text by hash, values by value."""
        if self._hashed:
            if not ordered:
                h, o = argsort64(h)
                c, v = c[o], v[o]
            return h, c, v, h
        if not ordered:
            v, o = argsort64(v)
            h, c = h[o], c[o]
        return v, c, None, h

    def _put(self, run: tuple) -> None:
        """Add a run (:meth:`_run`) while exact: kept as it is if it is the first."""
        if self.hll is not None:  # past the bound part-way through a merge
            self._combine(*self._view(*run))
            return
        self._dirty = True
        if self._table is None and not self._runs and len(run[0]) <= self.exact_limit:
            self._runs.append(run)
            return
        self._to_table()
        self._take(*run)

    def _to_table(self) -> None:
        runs, self._runs = self._runs, []
        for run in runs:
            self._take(*run)

    def _take(self, h: np.ndarray, c: np.ndarray, v: np.ndarray, ordered: bool) -> None:
        """Count distinct hashes ``h`` (values ``v``) in the table."""
        if self.hll is not None:
            self._combine(*self._view(h, c, v, ordered))
            return
        if self._table is None:
            self._table = KeyTable(self.exact_limit)
        t = self._table
        n0 = t.n
        limit = t.room(len(h))
        self._tc = grown(self._tc, n0, limit, at_once(t.limit, 8))
        wide = v.dtype if self._tv is None else np.promote_types(self._tv.dtype, v.dtype)
        if self._hashed:  # text: the run compared and kept at its own width (not widened)
            limit, wide = self._room(n0, limit, wide)
            self._tv = self._kept(t, n0, limit, wide)
            vb = np.ascontiguousarray(v)
        else:
            if self._tv is None:
                self._tv = np.empty(0, v.dtype)
            elif wide != self._tv.dtype:
                self._tv = self._tv[:n0].astype(wide)
            self._tv = grown(self._tv, n0, limit, at_once(t.limit, self._tv.dtype.itemsize))
            vb = np.ascontiguousarray(v, dtype=self._tv.dtype)
        # one compiled pass: known keys' counts added, new ones kept while there is room
        out_rest = np.empty(len(h), np.int64)
        t.n, rests, clashes = _core.fold_count_into(
            t.slots, t.keys, n0, limit, np.ascontiguousarray(h, np.uint64),
            np.ascontiguousarray(c, np.int64), self._tc, vb.view(np.uint8).reshape(-1),
            self._tv.view(np.uint8).reshape(-1), self._tv.dtype.itemsize, out_rest,
            self._hashed, vb.dtype.itemsize,
        )  # fmt: skip
        self.collided |= clashes > 0
        rest = out_rest[:rests]
        self._dirty = True
        if len(rest):  # past the bound: the set becomes the summary
            self._to_summary(h[rest], c[rest], v[rest])

    def _room(self, n0: int, limit: int, wide: np.dtype) -> tuple[int, np.dtype]:
        """Text: how many values the table may hold, and at what width: no more than
        ``value_bytes`` of them at the width they are kept at (the kept ones are not
        widened past it: the run's new values, at their own width, go to the summary)."""
        if self.value_bytes is None:
            return limit, wide
        fit = self.value_bytes // max(wide.itemsize, 1)
        if n0 > fit:
            assert self._tv is not None
            return n0, self._tv.dtype
        return max(n0, min(limit, fit)), wide

    def _kept(self, t: KeyTable, n0: int, limit: int, wide: np.dtype) -> np.ndarray:
        """The kept text values (their first ``n0``) with room for ``limit`` at width
        ``wide``: widened and grown in one allocation (half as many again, at most what
        ``value_bytes`` allows), or as they are if they already have the room."""
        tv = self._tv
        if tv is not None and tv.dtype == wide and len(tv) >= limit:
            return tv
        size = max(limit, at_once(t.limit, wide.itemsize))
        if tv is not None:
            size = max(size, len(tv) + len(tv) // 2)
        if self.value_bytes is not None:
            size = min(size, max(limit, self.value_bytes // max(wide.itemsize, 1)))
        out = np.empty(size, wide)
        if n0:
            assert tv is not None
            out[:n0] = tv[:n0]  # (a narrower S value padded with NUL bytes)
        return out

    def _to_summary(self, h: np.ndarray, c: np.ndarray, v: np.ndarray) -> None:
        """The table's items and new ones (``h`` not in it) become the summary."""
        t = self._table
        assert t is not None and self._tv is not None
        n = t.n
        allh = np.concatenate([t.keys[:n], h])
        allc = np.concatenate([self._tc[:n], c])
        kept, fresh = self._tv[:n], v
        cut = 0
        if self._hashed and self.sink is None and len(allc) > self.capacity:
            # the values of the counts :meth:`_prune` keeps only (not all of them at the
            # widest width), chosen by the same cut
            k = len(allc) - self.capacity - 1
            cut = int(np.partition(allc, k)[k])
            pick = np.flatnonzero(allc > cut)
            self.hll = HyperLogLog(self.p)
            self.hll.add_hashes(allh)
            allh, allc = allh[pick], allc[pick] - cut
            kept, fresh = kept[pick[pick < n]], fresh[pick[pick >= n] - n]
        allv = np.concatenate([kept, fresh])
        self._drop_table()
        self.keys, self.counts, self.payload, _ = self._view(allh, allc, allv, False)
        self.error += cut
        if self.hll is None:
            self.hll = HyperLogLog(self.p)
            self.hll.add_hashes(allh)
            if self.sink is not None:
                self.sink(self.keys, self.counts)
        self._prune()

    def _drop_table(self) -> None:
        self._table, self._tv, self._runs, self._dirty = None, None, [], False
        self._tc = np.zeros(0, np.int64)  # (not a view: the table's counts are let go)

    def _combine(
        self,
        keys: np.ndarray,
        counts: np.ndarray,
        payload: np.ndarray | None = None,
        hashes: np.ndarray | None = None,
    ) -> None:
        """Add sorted unique ``keys`` (``hashes``: theirs, when known)."""
        if self.hll is None and self._tabled(keys, payload):
            self._put(self._run(keys, counts, payload, True))
            return
        if self.hll is None:  # exact: keep the run, merge runs when they outgrow the set
            self._runs.append((keys, counts, payload))
            self._pending += len(keys)
            base = 0 if self.keys is None else len(self.keys)
            if self._pending > max(base, 1 << 12):
                self._flush()
            return
        # not exact: every value into the HyperLogLog (also the runs of a merge that come
        # after the set outgrew its bound part-way), and to the sink
        if hashes is None:
            hashes = keys if payload is not None else hash_values(keys)
        self.hll.add_hashes(hashes)
        if self.sink is not None:
            self.sink(keys, counts)
        if self.keys is not None:
            if payload is not None and self.payload is not None:
                self.collided |= _payload_clash(self.keys, keys, self.payload, payload)
            if payload is not None and self.payload is not None:
                self._merge_pruned(keys, counts, payload)
                return
            keys, counts, payload = merge_sorted(
                self.keys, self.counts, keys, counts, self.payload, payload
            )
        self.keys, self.counts, self.payload = keys, counts, payload
        self._prune()

    def _merge_pruned(self, keys: np.ndarray, counts: np.ndarray, payload: np.ndarray) -> None:
        """Text: :func:`merge_sorted` then :meth:`_prune`, the values (at the wider
        width) made for the kept keys only, not for every key of a run first."""
        a, pa = self.keys, self.payload
        assert a is not None and pa is not None
        self.keys, self.counts, _ = merge_sorted(a, self.counts, keys, counts)
        self.payload = None
        self._prune()
        k = self.keys
        at = np.searchsorted(a, k)
        mine = at < len(a)
        mine[mine] = a[at[mine]] == k[mine]  # (a shared key keeps this one's value)
        out = np.empty(len(k), np.promote_types(pa.dtype, payload.dtype))
        out[mine] = pa[at[mine]]
        out[~mine] = payload[np.searchsorted(keys, k[~mine])]
        self.payload = out

    def _flush(self) -> None:
        """Make the sorted keys (of the table, or merged from the pending runs; then,
        past the exact limit, start the HyperLogLog and keep the heaviest)."""
        if self._table is not None or (self._runs and len(self._runs[0]) == 4):
            if self._dirty:
                self._dirty = False
                if self._table is None:  # one run, sorted: as it is
                    self.keys, self.counts, self.payload, _ = self._view(*self._runs[0])
                    return
                t = self._table
                self.keys, self.counts, self.payload, _ = self._view(
                    t.keys[: t.n], self._tc[: t.n], self._tv[: t.n], False  # type: ignore[index]
                )
            return
        if not self._runs:
            return
        runs = self._runs
        if self.keys is not None:
            runs = [(self.keys, self.counts, self.payload), *runs]
        self._runs, self._pending = [], 0
        if len(runs) == 1 and runs[0][0].dtype.kind in "iub":  # sorted, unique: as it is
            keys, counts, payload = runs[0]  # (not floats and times: NaNs are one value)
        else:
            allk = np.concatenate([k for k, _, _ in runs])
            allc = np.concatenate([c for _, c, _ in runs])
            keys, first, counts = sum_runs(allk, allc)
            payload = None
            if runs[0][2] is not None:
                payload = np.concatenate([p for _, _, p in runs])[first]  # type: ignore[misc]
        self.keys, self.counts, self.payload = keys, counts, payload
        if self.hll is None and len(keys) > self.exact_limit:
            self.hll = HyperLogLog(self.p)
            self.hll.add_hashes(self._hashes(keys))
            if self.sink is not None:
                self.sink(keys, counts)
        if self.hll is not None:
            self._prune()

    def _prune(self) -> None:
        """Keep ``capacity`` counters: subtract the (capacity+1)-th largest count."""
        assert self.keys is not None
        c = self.capacity
        if len(self.keys) <= c:
            return
        cut = int(np.partition(self.counts, len(self.counts) - c - 1)[len(self.counts) - c - 1])
        self.counts = self.counts - cut
        keep = self.counts > 0
        self.keys, self.counts = self.keys[keep], self.counts[keep]
        if self.payload is not None:
            self.payload = self.payload[keep]
        self.error += cut

    def merge(self, other: ValueCounts) -> None:
        self.collided |= other.collided
        if self.hll is None and other.hll is None:  # both exact: other's runs join ours
            self.n += other.n
            if other._table is not None or (other._runs and len(other._runs[0]) == 4):
                self._hashed |= other._hashed
                t = other._table
                if t is not None:
                    self._put((t.keys[: t.n], other._tc[: t.n], other._tv[: t.n], False))
                for run in other._runs:
                    self._put(run)
                return
            if other.keys is not None:
                self._combine(other.keys, other.counts, other.payload)
            for keys, counts, payload in other._runs:
                self._combine(keys, counts, payload)
            return
        self._flush()
        other._flush()
        if other.keys is None:
            return
        self.n += other.n
        self.error += other.error
        if other.hll is not None:
            if self.hll is None:
                self._drop_table()  # (its sorted keys are made: they go on from here)
                self.hll = HyperLogLog(self.p)
                if self.keys is not None:
                    self.hll.add_hashes(self._hashes(self.keys))
            self.hll.merge(other.hll)
        if self.hll is not None:
            self._flush()
        self._combine(other.keys, other.counts, other.payload)

    def distinct(self) -> int:
        self._flush()
        if self.hll is not None:
            return self.hll.estimate()
        return 0 if self.keys is None else len(self.keys)

    @property
    def relative_error(self) -> float:
        """Of :meth:`distinct` (0 while exact)."""
        return 0.0 if self.hll is None else self.hll.relative_error

    def top(self, k: int) -> list[tuple[Any, int]]:
        """The ``k`` most frequent values, most frequent first (ties: smaller value first)."""
        self._flush()
        if self.keys is None or not len(self.keys):
            return []
        values = self.keys if self.payload is None else self.payload
        counts = self.counts
        if 0 < k < len(counts):  # only the values counted at least the k-th largest count
            kth = np.partition(counts, len(counts) - k)[len(counts) - k]
            pick = np.flatnonzero(counts >= kth)
            order = pick[np.lexsort((values[pick], -counts[pick]))[:k]]
        else:
            order = np.lexsort((values, -counts))[:k]
        return [(values[i], int(counts[i])) for i in order]

    def error_bound(self) -> int:
        """How far below its true count a reported count may be (0 when exact)."""
        self._flush()
        return 0 if self.hll is None else self.error
