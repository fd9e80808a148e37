"""The profile's accumulators and sketches (fastetl.profiling.stats) against exact
computations with numpy and collections.Counter, over many seeds.

Exact states must equal one pass over all the data however it is split and merged;
sketches must stay within the error they state.
"""

from __future__ import annotations

import collections
import math
import sys

import numpy as np
import pytest

from fastetl.profiling.stats import (
    KLL_RANK_ERROR,
    Distinct,
    HyperLogLog,
    Moments,
    Quantiles,
    ValueCounts,
    counted_quantiles,
    hash_values,
    merge_sorted,
)

QS = [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99]


def _parts(x: np.ndarray, rng: np.random.Generator, k: int) -> list[np.ndarray]:
    cuts = np.sort(rng.integers(0, len(x) + 1, size=k - 1))
    return np.split(x, cuts)


@pytest.mark.parametrize("seed", range(10))
def test_moments_merge_equals_one_pass(seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(1e6, 10.0, size=5000) if seed % 2 else rng.integers(-1000, 1000, size=5000)
    parts = _parts(x, rng, 7)
    states = []
    for p in parts:
        m = Moments()
        m.add(p.astype(np.float64), p)
        states.append(m)
    total = states[0]
    for m in states[1:]:
        total.merge(m)
    assert total.n == len(x)
    assert total.min == x.min() and total.max == x.max()
    assert math.isclose(total.mean, float(np.mean(x)), rel_tol=1e-12)
    assert math.isclose(total.std, float(np.std(x, ddof=1)), rel_tol=1e-9)


def test_moments_of_one_value_has_no_std():
    m = Moments()
    m.add(np.array([3.0]))
    assert m.n == 1 and m.mean == 3.0 and m.std is None


@pytest.mark.parametrize("seed", range(30))
def test_kll_rank_error_within_stated_bound(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(50_000, 300_000))
    x = [rng.lognormal, rng.standard_normal, rng.random][seed % 3](size=n)
    if seed % 5 == 0:
        x = np.round(x * 3)  # many ties
    q = Quantiles(exact_limit=1000, seed=seed)
    parts = _parts(x, rng, 9)
    if seed % 2:  # fed block by block, or as merged partial states
        for p in parts:
            q.add(p)
    else:
        for p in parts:
            other = Quantiles(exact_limit=1000, seed=seed + 1)
            other.add(p)
            q.merge(other)
    assert not q.exact and q.n == n
    s = np.sort(x)
    for want, got in zip(QS, q.quantiles(QS), strict=False):
        lo = np.searchsorted(s, got, side="left") / n  # the rank range of the returned value
        hi = np.searchsorted(s, got, side="right") / n
        err = 0.0 if lo <= want <= hi else min(abs(lo - want), abs(hi - want))
        assert err <= q.rank_error == KLL_RANK_ERROR, (seed, want, err)


@pytest.mark.parametrize("seed", range(5))
def test_quantiles_exact_when_small(seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=int(rng.integers(1, 3000)))
    q = Quantiles(exact_limit=10_000)
    for p in _parts(x, rng, 4):
        q.add(p)
    assert q.exact
    assert q.quantiles(QS) == [float(v) for v in np.quantile(x, QS)]
    edges = np.linspace(x.min(), x.max(), 11)
    assert q.histogram(edges) == np.histogram(x, bins=edges)[0].tolist()


def test_sketch_histogram_totals_n_and_stays_near_exact():
    rng = np.random.default_rng(3)
    x = rng.normal(size=200_000)
    q = Quantiles(exact_limit=1000)
    q.add(x)
    edges = np.linspace(x.min(), x.max(), 21)
    got = np.array(q.histogram(edges))
    want = np.histogram(x, bins=edges)[0]
    assert got.sum() == len(x)
    # each bin is a difference of two ranks: within twice the rank error
    assert np.all(np.abs(got - want) <= 2 * q.rank_error * len(x) + 1)


@pytest.mark.parametrize("seed", range(24))
def test_hyperloglog_within_four_standard_errors(seed):
    rng = np.random.default_rng(seed)
    n = [1_000, 20_000, 40_000, 70_000, 150_000, 600_000][seed % 6]
    x = rng.integers(0, 1 << 62, size=n)
    truth = len(np.unique(x))
    d = Distinct(exact_limit=100)
    for p in _parts(x, rng, 5):
        d.add(p)
    assert not d.exact
    assert abs(d.count() / truth - 1) <= 4 * d.relative_error, (n, d.count(), truth)


def test_hyperloglog_merge_is_register_max_and_order_free():
    rng = np.random.default_rng(1)
    a, b = HyperLogLog(), HyperLogLog()
    xa, xb = rng.integers(0, 1 << 60, 5000), rng.integers(0, 1 << 60, 5000)
    a.add_hashes(hash_values(xa))
    b.add_hashes(hash_values(xb))
    one = HyperLogLog()
    one.add_hashes(hash_values(np.concatenate([xb, xa])))
    a.merge(b)
    assert np.array_equal(a.registers, one.registers)


def test_distinct_exact_below_the_bound():
    rng = np.random.default_rng(2)
    x = rng.integers(0, 5000, size=30_000)
    d = Distinct(exact_limit=10_000)
    for p in _parts(x, rng, 6):
        d.add(p)
    assert d.exact and d.count() == len(set(x.tolist()))


@pytest.mark.parametrize("seed", range(4))
def test_distinct_values_after_many_flushes_and_a_merge_are_numpys(seed):
    """The exact set made from its runs again and again (each flush copies the set and
    the runs into one array, part by part), then merged: ``np.unique`` of all."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 30_000 + seed, size=120_000).astype([np.uint64, np.int64][seed % 2])
    a, b = Distinct(exact_limit=1 << 20), Distinct(exact_limit=1 << 20)
    for p in _parts(x[:70_000], rng, 40):
        a.add(p)
    for p in _parts(x[70_000:], rng, 25):
        b.add(p)
    a.merge(b)
    assert a.exact and a.values.dtype == x.dtype
    assert np.array_equal(a.values, np.unique(x)) and a.count() == len(np.unique(x))


def test_distinct_values_under_a_line_tracer_are_numpys():
    """Under a Python line tracer (``trace``, coverage's Python tracer, debuggers), which
    on Python < 3.13 holds a copy of a frame's locals, the set made again from its runs
    cannot be shrunk in place: it keeps a view, and the result is ``np.unique``'s (it
    raised "cannot resize an array that references or is referenced"; review RP)."""
    rng = np.random.default_rng(7)
    x = rng.integers(0, 20_000, size=80_000)
    d = Distinct(exact_limit=1 << 20)

    def tracer(frame, event, arg):
        frame.f_locals  # (what a line tracer does: the locals copied into a dict)
        return tracer

    sys.settrace(tracer)
    try:
        for p in _parts(x, rng, 30):
            d.add(p)
        d.values  # (the last flush, traced too)
    finally:
        sys.settrace(None)
    assert d.exact and np.array_equal(d.values, np.unique(x))


def test_hash_values_separates_values_and_equates_zeros():
    h = hash_values(np.array([0.0, -0.0, 1.0]))
    assert h[0] == h[1] != h[2]
    s = hash_values(np.array([b"ab", b"ab\0", b"ba"], dtype="S3"))
    assert s[0] == s[1] != s[2]
    assert len(set(hash_values(np.arange(100_000)).tolist())) == 100_000


@pytest.mark.parametrize("seed", range(10))
def test_merge_sorted_matches_counter(seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 50, size=int(rng.integers(0, 80)))
    b = rng.integers(0, 50, size=int(rng.integers(0, 80)))
    ka, ca = np.unique(a, return_counts=True)
    kb, cb = np.unique(b, return_counts=True)
    k, c, _ = merge_sorted(ka, ca, kb, cb)
    want = collections.Counter(a.tolist()) + collections.Counter(b.tolist())
    assert k.tolist() == sorted(want)
    assert dict(zip(k.tolist(), c.tolist(), strict=False)) == dict(want)


@pytest.mark.parametrize("seed", range(8))
def test_value_counts_exact_when_few(seed):
    rng = np.random.default_rng(seed)
    words = np.array([f"w{i}".encode() for i in range(300)], dtype="S5")
    x = words[rng.zipf(1.5, size=20_000) % 300]
    vc = ValueCounts(exact_limit=1000)
    for p in _parts(x, rng, 6):
        vc.add(p)
    want = collections.Counter(x.tolist())
    assert vc.exact and vc.distinct() == len(want)
    top = vc.top(10)
    ranked = sorted(want.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    assert [(k, c) for k, c in top] == ranked


@pytest.mark.parametrize("seed", range(10))
def test_value_counts_top_breaks_ties_at_the_cut_by_value(seed):
    """Many values share the k-th largest count: the top k are still the first k in
    (count descending, value ascending) order, as Python's sorted gives them."""
    rng = np.random.default_rng(seed)
    words = np.array([f"v{i:03d}".encode() for i in rng.permutation(500)], dtype="S4")
    x = words[rng.integers(0, 500, size=3000)]  # counts of 0-15: ties everywhere
    vc = ValueCounts(exact_limit=1000)
    for p in _parts(x, rng, 5):
        vc.add(p)
    want = sorted(collections.Counter(x.tolist()).items(), key=lambda kv: (-kv[1], kv[0]))
    for k in (0, 1, 7, 10, 64, len(want), len(want) + 5):
        assert [(bytes(v), c) for v, c in vc.top(k)] == want[:k]


@pytest.mark.parametrize("seed", range(12))
def test_value_counts_summary_within_its_error(seed):
    """Misra-Gries: true - error <= reported <= true, error <= n / (capacity + 1)."""
    rng = np.random.default_rng(seed)
    n = 100_000
    x = rng.zipf(1.3 + 0.1 * (seed % 4), size=n) % 200_000
    cap = 64
    parts = _parts(x, rng, 10)
    vc = ValueCounts(exact_limit=500, capacity=cap)
    if seed % 2:
        for p in parts:
            vc.add(p)
    else:
        for p in parts:
            o = ValueCounts(exact_limit=500, capacity=cap)
            o.add(p)
            vc.merge(o)
    assert not vc.exact and vc.n == n
    err = vc.error_bound()
    assert err <= n / (cap + 1)
    want = collections.Counter(x.tolist())
    for k, c in vc.top(cap):
        assert want[k] - err <= c <= want[k]
    # any value heavier than the error bound is kept
    kept = {k for k, _ in vc.top(cap)}
    for k, c in want.items():
        if c > err:
            assert k in kept
    truth = len(want)
    assert abs(vc.distinct() / truth - 1) <= 4 * vc.relative_error


def test_sketch_results_depend_on_the_block_sequence_only():
    rng = np.random.default_rng(9)
    x = rng.normal(size=300_000)
    runs = []
    for _ in range(2):
        q = Quantiles(exact_limit=1000)
        for p in np.array_split(x, 5):
            q.add(p)
        runs.append(q.quantiles(QS))
    assert runs[0] == runs[1]


@pytest.mark.parametrize("seed", range(10))
def test_bytes_extremes_is_min_and_max_of_bytes(seed):
    from fastetl.profiling.fold import bytes_extremes

    rnd = np.random.default_rng(seed)
    width = int(rnd.integers(1, 30))
    alphabet = [b"", b"a", b"b", b"\x01", b"\xc3\xa9", b"z", b"\xff"]
    vals = [
        b"".join(alphabet[int(i)] for i in rnd.integers(0, len(alphabet), rnd.integers(0, 8)))[
            :width
        ].rstrip(b"\0")
        for _ in range(int(rnd.integers(1, 300)))
    ]
    arr = np.array(vals, dtype=f"S{width}")
    assert bytes_extremes(arr) == (min(arr.tolist()), max(arr.tolist()))


@pytest.mark.parametrize("seed", range(20))
def test_counted_quantiles_equal_numpy_of_the_repeated_values(seed):
    rng = np.random.default_rng(seed)
    values = np.unique(rng.normal(size=int(rng.integers(1, 50))) * 10.0**rng.integers(0, 8))
    counts = rng.integers(1, 1000, size=len(values))
    qs = [*QS, 0.0, 1.0, float(rng.random())]
    want = np.quantile(np.repeat(values, counts), qs)
    assert counted_quantiles(values, counts, qs) == [float(v) for v in want]


@pytest.mark.parametrize("seed", range(20))
def test_kll_fed_counts_within_stated_bound(seed):
    """Distinct values with counts (the value counts' sink) go into the KLL levels by the
    bits of each count, merged in any split: the stated rank error holds."""
    rng = np.random.default_rng(seed)
    values = np.unique(rng.lognormal(size=int(rng.integers(20_000, 60_000))))
    counts = rng.zipf(1.5, size=len(values)).clip(1, 5000)
    q = Quantiles(exact_limit=1000, seed=seed)
    for part in np.array_split(np.arange(len(values)), int(rng.integers(1, 8))):
        other = Quantiles(exact_limit=1000, seed=seed + 1)
        other.add_counts(values[part], counts[part])
        q.merge(other) if seed % 2 else q.add_counts(values[part], counts[part])
    x = np.repeat(values, counts)
    assert not q.exact and q.n == len(x)
    s = np.sort(x)
    for want, got in zip(QS, q.quantiles(QS), strict=False):
        lo = np.searchsorted(s, got, side="left") / len(s)
        hi = np.searchsorted(s, got, side="right") / len(s)
        err = 0.0 if lo <= want <= hi else min(abs(lo - want), abs(hi - want))
        assert err <= q.rank_error == KLL_RANK_ERROR, (seed, want, err)


def test_moments_of_counted_values_equal_numpy():
    rng = np.random.default_rng(7)
    values = np.unique(rng.integers(-10**6, 10**6, size=300)).astype(np.float64)
    counts = rng.integers(1, 100, size=len(values))
    m = Moments()
    m.add_counts(values, counts, values[0], values[-1])
    x = np.repeat(values, counts)
    assert m.n == len(x) and (m.min, m.max) == (x.min(), x.max())
    assert math.isclose(m.mean, float(np.mean(x)), rel_tol=1e-12)
    assert math.isclose(m.std, float(np.std(x, ddof=1)), rel_tol=1e-9)


def test_distinct_counts_every_run_of_a_merge_that_outgrows_the_exact_set():
    """A state whose pending runs push the merged set past its bound part-way through a
    merge: the runs after that point are counted by the HyperLogLog too.  (Floats: kept
    as sorted runs; integers are counted in a table, the next test.)"""
    vc, other = ValueCounts(exact_limit=150), ValueCounts(exact_limit=150)
    vc.add_counts(np.arange(1000, dtype=np.float64), np.ones(1000, np.int64))
    for i in range(2, 10):  # 8 runs of 500, pending (fewer than 4,096 values: not merged)
        r = np.arange(i * 500, (i + 1) * 500, dtype=np.float64)
        other.add_counts(r, np.ones(len(r), np.int64))
    assert other.hll is None and vc.hll is None
    vc.merge(other)
    assert not vc.exact
    assert abs(vc.distinct() / 5000 - 1) <= 4 * vc.relative_error


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("kind", ["int64", "uint32", "datetime64[s]", "text"])
def test_value_counts_table_past_its_bound_part_way_through_a_merge(seed, kind):
    """Integers, times and text (hashed) are counted in a table kept across merges: a
    merge that takes it past the bound part-way turns it into the summary with every
    value counted once (each count exact while the counters hold them all)."""
    rng = np.random.default_rng(seed)
    limit = int(rng.integers(50, 300))
    x = rng.integers(0, int(rng.integers(limit + 1, 3 * limit)), size=5000)
    if kind == "text":
        x = np.array([b"w%d" % v for v in x.tolist()], dtype="S8")
    else:
        x = x.astype(kind)
    vc = ValueCounts(exact_limit=limit)
    for part in np.array_split(x, int(rng.integers(2, 9))):
        other = ValueCounts(exact_limit=limit)
        for sub in np.array_split(part, int(rng.integers(1, 4))):
            keys, counts = np.unique(sub, return_counts=True)
            if kind == "text":  # keys: the values' hashes, sorted; payload: the values
                h = hash_values(keys)
                o = np.argsort(h)
                other.add_counts(h[o], counts[o], keys[o])
            else:
                other.add_counts(keys, counts)
        vc.merge(other)
    want = collections.Counter(x.tolist())
    assert vc.n == len(x)
    assert vc.exact == (len(want) <= limit)
    assert abs(vc.distinct() / len(want) - 1) <= 4 * vc.relative_error
    assert vc.error_bound() == 0  # (the default 1,024 counters hold every value)
    ranked = sorted(want.items(), key=lambda kv: (-kv[1], kv[0]))
    assert [(v if kind == "text" else v.item(), c) for v, c in vc.top(len(want))] == ranked
