"""The compiled folding kernels of a profile (src/fastetl/_fold.pxi, through
fastetl.profiling.stats and fold) against the numpy expressions they replace, on
random blocks (hypothesis): each must give exactly the numpy result.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fastetl import _core
from fastetl.profiling.fold import _Known, _sort_counted, _unique_sorted
from fastetl.profiling.pii import (
    CANDIDATE,
    CLASSES,
    KINDS,
    LOOKS,
    candidates,
    classify,
    classify_codes,
    looks_like,
    text_classes,
    text_facts,
)
from fastetl.profiling.stats import (
    HyperLogLog,
    _mix,
    argsort64,
    count_hashes,
    count_values,
    hash_values,
    sorted_unique,
    sum_runs,
)

_U64 = np.uint64


def numpy_record_hash(values: np.ndarray, trim: bool = False) -> np.ndarray:
    """The record hash in numpy: 8-byte words (native order, the last zero-padded) dealt
    to four lanes (word j to lane j % 4), each ``h = f(h ^ word)`` with f an odd multiply
    and a xor-shift, the lanes joined as h0 ^ rotl(h1, 16) ^ rotl(h2, 32) ^ rotl(h3, 48),
    then splitmix64's mix.  ``trim``: numpy ``S`` values (trailing NULs: padding) leave
    out their trailing all-zero words."""
    v = np.ascontiguousarray(values)
    n, size = len(v), v.dtype.itemsize
    if not n:
        return np.zeros(0, dtype=np.uint64)
    raw = v.view(np.uint8).reshape(n, size)
    pad = (-size) % 8
    if pad:
        raw = np.concatenate([raw, np.zeros((n, pad), np.uint8)], axis=1)
    words = raw.view(np.uint64).reshape(n, -1)
    used = np.full(n, words.shape[1])
    if trim:  # up to the last word holding a non-zero byte
        used = np.array([-(-len(bytes(x)) // 8) for x in v])
    seeds = (0x243F6A8885A308D3, 0x13198A2E03707344, 0xA4093822299F31D0, 0x082EFA98EC4E6C89)
    lanes = [np.full(n, s, dtype=np.uint64) for s in seeds]
    with np.errstate(over="ignore"):
        for j in range(words.shape[1]):
            h = lanes[j % 4]
            on = used > j
            g = h[on] ^ words[on, j]
            g *= _U64(0x9FB21C651E98DF25)
            g ^= g >> _U64(29)
            h[on] = g
        h = lanes[0].copy()
        for r, lane in zip((16, 32, 48), lanes[1:], strict=True):
            h ^= (lane << _U64(r)) | (lane >> _U64(64 - r))
        return _mix(h)


@given(
    st.lists(st.binary(max_size=23), max_size=60),
    st.integers(1, 23),
)
def test_hash_of_bytes_values_equals_numpy(values, width):
    a = np.array([v[:width] for v in values], dtype=f"S{width}")
    got = hash_values(a)
    assert got.dtype == np.uint64
    np.testing.assert_array_equal(got, numpy_record_hash(a))
    np.testing.assert_array_equal(hash_values(a, trim=True), numpy_record_hash(a, trim=True))


@given(st.lists(st.binary(max_size=40), max_size=30), st.integers(0, 40))
def test_hash_of_bytes_values_is_the_same_at_any_width(values, extra):
    # a text column's runs are folded each at its own width: a value's hash (trim=True)
    # must not depend on it (numpy S: trailing NULs are padding, not part of the value)
    a = np.array(values, dtype="S41")
    h = hash_values(a, trim=True)
    np.testing.assert_array_equal(h, hash_values(a.astype(f"S{41 + extra}"), trim=True))
    if len(a):
        tight = a.astype(f"S{max(max(map(len, a.tolist())), 1)}")
        np.testing.assert_array_equal(h, hash_values(tight, trim=True))


@given(st.lists(st.tuples(st.integers(-(2**63), 2**63 - 1), st.binary(max_size=5),
                          st.floats(width=32), st.booleans()), max_size=60))  # fmt: skip
def test_hash_of_records_equals_numpy(rows):
    dt = np.dtype([("a", "<i8"), ("b", "S5"), ("c", "<f4"), ("d", "?")])  # 18 bytes
    a = np.array(rows, dtype=dt)
    np.testing.assert_array_equal(hash_values(a), numpy_record_hash(a))
    sliced = a[::2]  # not contiguous: hashed as its values
    np.testing.assert_array_equal(hash_values(sliced), numpy_record_hash(sliced))


@given(st.lists(st.binary(max_size=13), max_size=60), st.integers(1, 4))
def test_hash_of_a_field_read_in_place_equals_numpy(values, step):
    # a text field of records (values 22 bytes apart), every step-th: hashed where it
    # lies, as the numpy hash of its values copied out
    dt = np.dtype([("a", "<i8"), ("s", "S13"), ("b", "u1")])
    a = np.zeros(len(values), dtype=dt)
    a["s"] = values
    field = a["s"][::step]
    np.testing.assert_array_equal(hash_values(field), numpy_record_hash(field.copy()))
    np.testing.assert_array_equal(
        hash_values(field, trim=True), numpy_record_hash(field.copy(), trim=True)
    )


def test_hash_of_a_byte_string_ignores_its_padding_only():
    a = np.array([b"ab", b"ab\0", b"ba", b"abc"], dtype="S3")
    h = hash_values(a)
    assert h[0] == h[1] and len({int(x) for x in h[1:]}) == 3


@given(st.lists(st.integers(0, 2**64 - 1), max_size=300), st.integers(1, 40))
def test_count_hashes_equals_numpy_unique(keys, modulo):
    # few distinct keys (collisions in the table) and many
    h = np.array(keys, dtype=np.uint64)
    h = np.concatenate([h, h[: len(h) // 2] % _U64(modulo)])
    got = count_hashes(h)
    want = np.unique(h, return_index=True, return_counts=True)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)


@given(
    st.lists(st.binary(max_size=5), max_size=200),
    st.integers(1, 6),
    st.booleans(),
)
def test_counted_values_are_checked_byte_for_byte(values, modulo, in_records):
    """count_values' byte check against Python: with the hashes forced to collide
    (hash modulo a small number, given to the kernel), the stray rows are those whose
    value differs from the first value counted under their hash."""
    v = np.array(values, dtype="S5")
    if in_records:  # a field of records, read in place (strided)
        rec = np.zeros(len(v), dtype=[("i", "i4"), ("s", "S5")])
        rec["s"] = v
        v = rec["s"]
    h = np.ascontiguousarray(hash_values(v) % _U64(modulo))
    n = len(h)
    keys, first, counts, stray, stray_under = count_values(v, h)
    m = len(keys)
    under = np.full(n, -1, np.int64)
    under[stray] = stray_under
    firsts: dict[int, int] = {}
    want = []
    for i, k in enumerate(h.tolist()):
        j = firsts.setdefault(k, i)
        want.append(-1 if values[j].rstrip(b"\0") == values[i].rstrip(b"\0") else j)
    order = {k: idx for idx, k in enumerate(dict.fromkeys(h.tolist()))}
    assert m == len(order)
    got = [-1 if u < 0 else int(first[u]) for u in under[:n]]
    assert got == want
    # count_values on real hashes: no stray (no 64-bit collision among these)
    assert len(count_values(v)[3]) == 0
    assert sorted(order, key=order.get) == keys[:m].tolist()


def test_a_forged_hash_collision_is_found_by_count_values():
    """Two values the reviewer solved to share their 64-bit hash (the hash is public):
    counted under one key, the second reported as a stray of the first."""
    pair = np.array([b"529.982.247-25", b"T8Uqe7Vr3vcN88r8", b"529.982.247-25"], dtype="S16")
    h = hash_values(pair)
    assert h[0] == h[1] == h[2]  # the precondition: they do collide
    keys, first, counts, stray, under = count_values(pair)
    assert counts.tolist() == [3] and stray.tolist() == [1] and under.tolist() == [0]


def test_kept_bytes_are_bounded_by_the_packed_values_not_their_width():
    """_Known keeps the values' bytes packed: 30,000 distinct values of 4-7 bytes in an
    S4096 column take about their own bytes, not 4096 each."""
    known = _Known(1 << 16)
    total = 0
    for call in range(3):
        vals = [f"v{call}-{i}".encode() for i in range(10_000)]
        total += sum(len(x) for x in vals)
        uniq = np.array(vals, dtype="S4096")
        known.facts(hash_values(uniq), uniq, "x")
    assert int(known.ends[known.n - 1]) == total
    assert known.text.nbytes <= 2 * total


@given(st.lists(st.integers(0, 2**64 - 1), max_size=300), st.booleans())
def test_sorted_unique_equals_numpy_unique(keys, runs):
    h = np.array(keys, dtype=np.uint64)
    h = np.concatenate([h, h[::3]])
    if runs:
        h = np.concatenate([np.sort(h[: len(h) // 2]), np.sort(h[len(h) // 2 :])])
    np.testing.assert_array_equal(sorted_unique(h, runs=runs), np.unique(h))


@pytest.mark.parametrize("n", [65_535, 65_536, 65_537, 200_001])
@pytest.mark.parametrize("spread", [3, 70_000, 2**62])
@pytest.mark.parametrize("runs", [False, True])
def test_sorted_unique_in_place_over_many_slices_equals_numpy_unique(n, spread, runs):
    # the distinct values are moved to the array's start a slice at a time: duplicates
    # across a slice's edge, slices all alike, all distinct, most of them duplicates
    rng = np.random.default_rng(n + spread)
    h = rng.integers(0, spread, n, dtype=np.uint64)
    expected = np.unique(h)
    if runs:
        h = np.concatenate([np.sort(h[: n // 3]), np.sort(h[n // 3 :])])
    got = sorted_unique(h.copy(), runs=runs, in_place=True)
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(sorted_unique(h, runs=runs), expected)


@given(
    st.lists(st.integers(-(2**63), 2**63 - 1), max_size=400),
    st.sampled_from([np.int64, np.uint64]),
    st.integers(0, 3),
)
def test_radix_sort_equals_numpy_stable_argsort(keys, dtype, narrow):
    # keys of every size, repeated (stability), or sharing all but their low bits (the
    # passes of a digit every key shares are skipped)
    x = np.array(keys, dtype=np.int64)
    if narrow:
        x = x % (1 << (4 * narrow))
    x = np.concatenate([x, x[::2]]).astype(dtype)
    order = np.arange(len(x), dtype=np.int64)
    k = x.copy()
    _core.fold_sort64(k, dtype == np.int64, order)
    np.testing.assert_array_equal(order, np.argsort(x, kind="stable"))
    np.testing.assert_array_equal(k, np.sort(x, kind="stable"))
    got_k, got_o = argsort64(x)
    np.testing.assert_array_equal(got_o, np.argsort(x, kind="stable"))
    np.testing.assert_array_equal(got_k, x[np.argsort(x, kind="stable")])


@given(st.lists(st.booleans(), max_size=50))
def test_bool_counts_equal_numpy_unique(values):
    x = np.array(values, dtype=bool)
    got_v, got_c = _unique_sorted(x)
    want_v, want_c = np.unique(x, return_counts=True)
    np.testing.assert_array_equal(got_v, want_v)
    np.testing.assert_array_equal(got_c, want_c)
    assert got_v.dtype == want_v.dtype


@given(
    st.sampled_from(["i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "M8[D]", "M8[ms]"]),
    st.lists(st.integers(-(2**63), 2**63 - 1), max_size=200),
    st.integers(1, 64),
    st.integers(1, 300),
)
def test_sort_counted_equals_numpy_sort_and_unique(dtype, ints, spread, limit):
    # few distinct values (counted) or more than ``limit`` (sorted); NaT sorts last
    x = np.array([i % spread - spread // 2 for i in ints] + ints[:3], dtype=np.int64)
    raw = x.astype(dtype) if dtype[0] != "M" else x.view(dtype)
    got, counted = _sort_counted(raw, limit)
    want = np.sort(raw)
    assert got.dtype == raw.dtype
    np.testing.assert_array_equal(got.view(np.uint8), want.view(np.uint8))
    if counted is not None:
        assert dtype[0] == "i" or dtype in ("u1", "u2", "u4") or not np.isnat(raw).any()
        uniq, counts = counted
        want_u, want_c = np.unique(want, return_counts=True)
        np.testing.assert_array_equal(uniq.view(np.uint8), want_u.view(np.uint8))
        np.testing.assert_array_equal(counts, want_c)
        assert len(uniq) <= limit
    else:
        assert dtype == "u8" or len(np.unique(raw)) > limit or np.isnat(raw).any()


@given(
    st.sampled_from(["i8", "u8", "i2", "f8", "M8[s]", "?"]),
    st.lists(st.lists(st.integers(-50, 50), max_size=40), max_size=6),
    st.booleans(),
)
def test_sum_runs_equals_numpy_unique_and_bincount(dtype, runs, nans):
    parts = []
    for r in runs:
        x = np.array(r, dtype=np.int64).astype(dtype) if dtype != "M8[s]" else np.array(
            r, dtype=np.int64
        ).view(dtype)
        if nans and dtype in ("f8", "M8[s]") and len(x):
            x[::3] = np.nan if dtype == "f8" else np.datetime64("NaT")
        parts.append(np.unique(x))  # each run sorted and unique, as a block's counts
    keys = np.concatenate(parts) if parts else np.zeros(0, dtype)
    counts = np.arange(1, len(keys) + 1, dtype=np.int64) * 3
    got_k, got_first, got_c = sum_runs(keys, counts)
    want_k, want_first, inv = np.unique(keys, return_index=True, return_inverse=True)
    want_c = np.bincount(inv.ravel(), weights=counts, minlength=len(want_k)).astype(np.int64)
    np.testing.assert_array_equal(got_k, want_k)
    np.testing.assert_array_equal(got_first, want_first)
    np.testing.assert_array_equal(got_c, want_c)


def numpy_text_classes(values: np.ndarray) -> dict[str, np.ndarray]:
    """The counts per value with numpy: np.char.str_len, continuation bytes, classes."""
    n, w = len(values), values.dtype.itemsize
    b = np.ascontiguousarray(values).view(np.uint8).reshape(n, w)
    out = {"len": np.char.str_len(values).astype(np.int64)}
    out["chars"] = out["len"] - ((b & 0xC0) == 0x80).sum(axis=1)
    out["digit"] = ((b >= 48) & (b <= 57)).sum(axis=1)
    low = b | 0x20
    out["alpha"] = ((low >= 97) & (low <= 122)).sum(axis=1)
    for name, ch in (("at", b"@"), ("dot", b"."), ("dash", b"-"), ("colon", b":"),
                     ("slash", b"/"), ("plus", b"+"), ("space", b" "),
                     ("paren", b"(")):  # fmt: skip
        out[name] = (b == ch[0]).sum(axis=1)
    return out


def byte_strings(size: int, *alphabets: str) -> st.SearchStrategy[list[bytes]]:
    """Lists of values of at most ``size`` bytes: UTF-8 text, any bytes, and UTF-8
    text of each of ``alphabets``."""
    texts = [st.text(a, max_size=size) for a in alphabets]
    return st.lists(
        st.one_of(
            st.binary(max_size=size),
            *[t.map(lambda t: t.encode("utf-8")) for t in (st.text(max_size=size), *texts)],
        ),
        max_size=40,
    )


@given(byte_strings(12, "0123456789@.-:/+ (aZé"), st.integers(1, 30))
def test_text_classes_equal_numpy(values, width):
    a = np.array([v[:width] for v in values], dtype=f"S{width}")
    got = text_classes(a)
    want = numpy_text_classes(a)
    assert got.shape == (len(a), len(CLASSES))
    for i, name in enumerate(CLASSES):
        np.testing.assert_array_equal(got[:, i], want[name], err_msg=name)
    chars = [len(v.decode("utf-8")) for v in a.tolist() if _utf8(v)]  # Python's own count
    assert chars == [int(c) for c, v in zip(got[:, 1], a.tolist(), strict=True) if _utf8(v)]


def _utf8(v: bytes) -> bool:
    try:
        v.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@given(
    st.sampled_from(["i1", "i8", "u4", "u8", "f4", "f8", "M8[D]", "?"]),
    st.lists(st.integers(-(2**63), 2**63 - 1), max_size=200),
)
def test_hash_of_numbers_equals_numpy(dtype, ints):
    # the bits of each number as a word (floats: -0.0 as 0.0), xor a constant, mixed
    x = np.array(ints, dtype=np.int64)
    if dtype[0] == "f":
        raw = (x % 2001 - 1000).astype(dtype) / 8
        raw[::7] = -0.0
        words = (raw.astype(np.float64) + 0.0).view(np.uint64)
    else:
        raw = x.view(dtype) if dtype[0] == "M" else x.astype(dtype)
        words = raw.astype(np.int64).view(np.uint64)
    with np.errstate(over="ignore"):
        want = _mix(words ^ _U64(0x9E3779B97F4A7C15))
    np.testing.assert_array_equal(hash_values(raw), want)
    if dtype[0] == "f" and len(raw):
        assert hash_values(np.array([-0.0], dtype))[0] == hash_values(np.array([0.0], dtype))[0]


def numpy_hll_registers(h: np.ndarray, p: int) -> np.ndarray:
    """HyperLogLog registers in numpy: the top p bits pick one, each keeps the largest
    1 + trailing zeros of the other bits (64 - p + 1 when they are all zero)."""
    reg = np.zeros(1 << p, dtype=np.uint8)
    idx = (h >> _U64(64 - p)).astype(np.intp)
    w = h & _U64((1 << (64 - p)) - 1)
    low = w & (~w + _U64(1))  # the lowest set bit: a power of two, exact as a float
    with np.errstate(divide="ignore"):  # log2(0) where w == 0, not taken
        rank = np.where(w == 0, 64 - p + 1, np.log2(low.astype(np.float64)) + 1)
    np.maximum.at(reg, idx, rank.astype(np.uint8))
    return reg


@given(
    st.lists(st.integers(0, 2**64 - 1), max_size=300),
    st.sampled_from([4, 10, 14]),
    st.integers(0, 63),
)
def test_hll_registers_equal_numpy(keys, p, zeros):
    # random words, and words whose low bits are all zero (ranks up to 64 - p + 1)
    h = np.array(keys, dtype=np.uint64)
    h = np.concatenate([h, (h >> _U64(zeros)) << _U64(zeros), h & ~_U64((1 << (64 - p)) - 1)])
    sketch = HyperLogLog(p)
    sketch.add_hashes(h[: len(h) // 2])
    sketch.add_hashes(h[len(h) // 2 :])
    np.testing.assert_array_equal(sketch.registers, numpy_hll_registers(h, p))


@given(byte_strings(24, "0123456789@.-:/+ (aZé", "0123456789-/:. TAB"), st.integers(1, 44))
def test_text_facts_equal_numpy_looks_and_candidates(values, width):
    # the compiled flags are the numpy expressions of looks_like and candidates over
    # the counts numpy makes (numpy_text_classes)
    _facts_as_numpy(np.array([v[:width] for v in values], dtype=f"S{width}"))


FACT_EXAMPLES = [
    "192.168.0.1", "1.2.3.4", "01.2.3.4", "1.2.3", "2024-06-19", "19/06/2024", "2024-06-1",
    "2024-06-19T10:00:00", "19/06/2024 10:00", "-12", "+3", "12", "1-2", "3.14", "-3.5",
    "1.2.3.", "1,5", "joao@ex.com", "j@e.c", "a b@ex.com", "::1", "fe80::1:2", "a: b:c",
    "123.456.789-09", "12345678", "1234567890123456789", "12345678901234567890",
    "DE89370400440532013000", "DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432",
    "AB12345678", "Maria", "",
]  # fmt: skip


def test_text_facts_on_examples_of_every_flag():
    a = np.array([v.encode() for v in FACT_EXAMPLES], dtype="S32")
    _, flags = text_facts(a)
    for bit in (1, 2, 4, 8, CANDIDATE):  # each flag is both set and unset here
        assert 0 < int(np.count_nonzero(flags & bit)) < len(a), bit
    _facts_as_numpy(a)


def _facts_as_numpy(a: np.ndarray) -> None:
    chars, flags = text_facts(a)
    want = numpy_text_classes(a)
    np.testing.assert_array_equal(chars, want["chars"])
    for i, (what, m) in enumerate(looks_like(want).items()):
        assert what == LOOKS[i]
        np.testing.assert_array_equal((flags & (1 << i)) != 0, m, err_msg=what)
    np.testing.assert_array_equal((flags & CANDIDATE) != 0, candidates(a, want), err_msg="pii")


def _unaligned(words: np.ndarray, shift: int) -> np.ndarray:
    """``words``' bytes in a uint8 array whose data starts ``shift`` bytes past an
    8-byte boundary (a bytes slice or memoryview at any offset)."""
    raw = np.zeros(words.nbytes + 16, np.uint8)
    start = (-raw.ctypes.data) % 8 + shift
    out = raw[start : start + words.nbytes]
    out[:] = words.view(np.uint8)
    return out


@given(st.lists(st.integers(0, 2**64 - 1), min_size=1, max_size=50), st.integers(1, 7))
def test_word_kernels_read_unaligned_buffers(keys, shift):
    # loads through memcpy: the words of a view at any byte offset are the words
    from fastetl import _core

    h = np.array(keys, dtype=np.uint64)
    src = _unaligned(h, shift)
    assert src.ctypes.data % 8 == shift
    out = _unaligned(np.zeros(len(h), np.uint64), shift)
    _core.fold_mix_words(src, out)
    np.testing.assert_array_equal(out.view(np.uint64), _mix(h ^ _U64(0x9E3779B97F4A7C15)))
    reg = np.zeros(1 << 10, np.uint8)
    _core.fold_hll_add(src, 10, reg)
    np.testing.assert_array_equal(reg, numpy_hll_registers(h, 10))
    codes = np.empty(len(h), np.uint8)
    _core.fold_pii_codes(src, 0, 1, codes)
    want = np.empty(len(h), np.uint8)
    _core.fold_pii_codes(np.ascontiguousarray(h), 0, 1, want)  # aligned: tested above
    np.testing.assert_array_equal(codes, want)


@given(
    st.integers(0, 300),
    st.integers(1, 6),
    st.floats(0.0, 0.6),
    st.integers(0, 2**32 - 1),
)
def test_corr_sums_equal_numpy_masked_products(rows, k, absent, seed):
    """fold_corr's pairwise sums (absent: NaN or inf) against numpy's masked products."""
    from fastetl import _core

    rng = np.random.default_rng(seed)
    x = rng.normal(3.0, 2.0, size=(rows, k))
    holes = rng.random((rows, k)) < absent
    x[holes] = rng.choice([np.nan, np.inf, -np.inf], size=int(holes.sum()))
    shift = rng.normal(size=k)
    got = [np.full((k, k), 0.5) for _ in range(4)]  # sums are added to what is there
    _core.fold_corr(np.ascontiguousarray(x), k, shift, *got)
    m = np.isfinite(x).astype(np.float64)
    z = np.where(np.isfinite(x), x - shift, 0.0)
    want = [m.T @ m, z.T @ m, (z * z).T @ m, z.T @ z]
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g - 0.5, w, rtol=1e-12, atol=1e-9)


def test_text_gather_equals_numpy_fixed_width_values():
    from fastetl import _core

    rng = np.random.default_rng(2)
    values = [bytes(rng.integers(1, 256, size=int(n)).astype(np.uint8)) for n in
              rng.integers(0, 40, size=500)]  # fmt: skip
    text = np.frombuffer(b"".join(values), dtype=np.uint8)
    lens = np.array([len(v) for v in values], dtype=np.uint32)
    offs = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.uint64)
    width = int(lens.max())
    out = np.empty(len(values), dtype=f"S{width}")
    assert _core.fold_text_gather(text, offs, lens, width, out) == -1
    assert out.tolist() == np.array(values, dtype=f"S{width}").tolist()
    offs[7] = len(text)  # past the end (with a length): refused, nothing copied
    assert _core.fold_text_gather(text, offs, lens, width, out) == (7 if lens[7] else -1)


_FACT_VALUES = [  # plain words, numbers, dates and every PII kind, ASCII or not
    b"abc", b"1234", b"-12.5", b"2024-01-31", b"2024-01-31 10:20:30", b"ana@mail.com",
    b"(11) 98765-4321", b"11987654321", b"529.982.247-25", b"52998224725",
    b"11.222.333/0001-81", b"4111 1111 1111 1111", b"192.168.0.1", b"::1",
    b"fe80::1", b"01310-100", b"DE89370400440532013000", "jos\u00e9".encode(),
    "\u0661\u0662\u0663".encode(), b"",
]  # fmt: skip


@given(
    st.lists(st.lists(st.integers(0, 40), max_size=60), min_size=1, max_size=8),
    st.sampled_from([1, 7, 30, 1000]),
    st.booleans(),
)
def test_known_keys_equal_a_python_dict(blocks, limit, collide):
    """The set of known keys kept across calls: each key's index is its place in first
    appearance order (a dict's), -1 where it was new; new ones join while there is room
    (``limit``).  ``collide``: every key wants slot 0 (multiples of the slot count)."""
    cap = 64
    slots = np.zeros(cap, np.int32)
    known = np.empty(limit, np.uint64)
    ref: dict[int, int] = {}
    size = 0
    room = min(limit, cap - cap // 4)
    for block in blocks:
        keys = np.array(sorted(set(block)), dtype=np.uint64)
        if collide:
            keys = keys * np.uint64(cap)
        out = np.empty(len(keys), np.int64)
        size = _core.fold_known_keys(slots, known, keys, out, size)
        want = []
        for k in keys.tolist():
            want.append(ref.get(k, -1))
            if k not in ref and len(ref) < room:
                ref[k] = len(ref)
        assert out.tolist() == want
        assert size == len(ref)
        assert known[:size].tolist() == list(ref)


@given(
    st.lists(
        st.lists(st.sampled_from(_FACT_VALUES), max_size=40), min_size=1, max_size=8
    ),
    st.sampled_from([1, 5, 1 << 16]),
)
def test_known_facts_equal_the_facts_of_each_block(blocks, limit):
    """The text facts and PII codes a thread keeps per distinct value are those
    pii.text_facts and pii.classify_codes give the block's values, whether looked up
    or computed (small limits: the set full part-way; many blocks: it grows)."""
    known = _Known(limit)
    for block in blocks:
        uniq = np.unique(np.array(block, dtype="S24"))
        keys = hash_values(uniq)
        chars, flags, codes = known.facts(keys, uniq, "telefone")
        want_chars, want_flags = text_facts(uniq)
        want_codes = np.zeros(len(uniq), np.uint8)
        cand = (want_flags & CANDIDATE) != 0
        want_codes[cand] = classify_codes(uniq[cand], "telefone")
        assert chars.tolist() == want_chars.tolist()
        assert flags.tolist() == want_flags.tolist()
        assert codes.tolist() == want_codes.tolist()
    assert known.n == min(limit, len({v for b in blocks for v in b}))


def test_known_facts_grow_past_their_first_slots():
    """More distinct values than the first table holds: the set doubles, keeping every
    value's index (its facts still those of text_facts)."""
    rng = np.random.default_rng(3)
    values = np.array([b"v%dx@mail.com" % i for i in range(20_000)], dtype="S24")
    known = _Known(1 << 16)
    seen: set[bytes] = set()
    for _ in range(4):
        uniq = np.unique(values[rng.integers(0, len(values), 6000)])
        seen |= set(uniq.tolist())
        chars, flags, _codes = known.facts(hash_values(uniq), uniq, "email")
        want_chars, want_flags = text_facts(uniq)
        assert chars.tolist() == want_chars.tolist()
        assert flags.tolist() == want_flags.tolist()
    assert len(known.slots) > 1 << 12
    assert known.n == len(seen)
    want = hash_values(np.array(sorted(seen), dtype="S24"))
    assert set(known.keys[: known.n].tolist()) == set(want.tolist())


def test_fold_corr_lets_go_of_its_buffers_when_one_is_refused():
    # a read-only sum (bytes) is refused after the shift's buffer was taken: the shift
    # (a bytearray, which cannot grow while exported) must be let go again
    k = 2
    x = np.zeros((3, k))
    shift = bytearray(8 * k)
    sums = [np.zeros(k * k) for _ in range(3)]
    with pytest.raises((BufferError, TypeError)):
        _core.fold_corr(x, k, shift, sums[0], sums[1], sums[2], bytes(8 * k * k))
    shift.extend(b"x")  # BufferError here if its export leaked
    assert len(shift) == 8 * k + 1


def test_known_facts_of_a_value_sharing_a_known_hash_are_its_own():
    """Two values under one hash (forced: the hashes are the caller's): the second gets
    its own facts and PII code -- a valid CPF is not taken for the plain word folded
    before it, nor the word for the CPF -- and the first keeps its own."""
    word, cpf = b"banana", b"529.982.247-25"  # (a valid CPF: its check digits hold)
    assert classify("529.982.247-25", "doc") == "cpf"
    pairs = [(word, cpf), (cpf, word), (cpf, cpf[:-1]), (cpf[:-1], cpf), (word, b"banana" * 4)]
    for first, second in pairs:
        known = _Known(1 << 16)
        key = np.array([12345], dtype=np.uint64)
        for value in (first, second, first, second):
            uniq = np.array([value], dtype="S24")
            chars, flags, codes = known.facts(key, uniq, "doc")
            want_chars, want_flags = text_facts(uniq)
            want_code = classify_codes(uniq, "doc") if want_flags[0] & CANDIDATE else [0]
            assert chars.tolist() == want_chars.tolist()
            assert flags.tolist() == want_flags.tolist()
            assert codes.tolist() == list(want_code)
            kind = KINDS[codes[0] - 1] if codes[0] else None
            assert kind == classify(value.decode(), "doc")  # the Python validator's
        assert known.n == 1  # the first value kept, the second checked each time


def test_known_facts_keep_no_more_bytes_than_their_budget():
    """Past its byte budget the set takes no more values (their facts computed each
    time, still right); the values kept are checked byte for byte."""
    known = _Known(1 << 16, budget=100)
    values = np.array([b"value-%03d" % i for i in range(60)], dtype="S12")
    for at in range(0, 60, 10):
        uniq = values[at : at + 10]
        chars, flags, _ = known.facts(hash_values(uniq), uniq, "x")
        assert chars.tolist() == text_facts(uniq)[0].tolist()
    assert known.n == 20  # 10 values of 9 bytes, then 10 more: past 100 bytes
    assert bytes(known.text[: known.ends[known.n - 1]]) == b"".join(values[:20].tolist())


_FLOAT_FIELDS = {  # a numeric column's type -> its stored dtype
    "int8": "i1", "int16": "i2", "int32": "i4", "int64": "i8", "uint8": "u1",
    "uint16": "u2", "uint32": "u4", "uint64": "u8", "float32": "f4", "float64": "f8",
    "decimal": "i8",
}



def _field_values(dt: np.dtype, ints: list[int], floats: list[float]) -> np.ndarray:
    """Values of ``dt`` with its extremes (NaN, inf, -0.0 for floats; for int64, values
    beyond 2**53 that a float64 division would round twice)."""
    if dt.kind == "f":
        with np.errstate(all="ignore"):  # (float64 beyond float32: inf)
            return np.array(floats + [-0.0, np.inf, -np.inf, np.nan]).astype(dt)
    info = np.iinfo(dt)
    edge = [info.min, info.max, 0]
    if dt == np.int64:
        edge += [2**53 + 1, -(2**53 + 3), 9_999_999_999_999_999]
    return np.array(edge + [min(max(v, info.min), info.max) for v in ints], dtype=dt)


@given(
    st.lists(st.sampled_from(sorted(_FLOAT_FIELDS)), min_size=1, max_size=5),
    st.lists(st.integers(-(2**63), 2**64 - 1), max_size=60),
    st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=60),
    st.integers(0, 18),
    st.integers(0, 2**32 - 1),
)
def test_numeric_rows_equal_numpy_astype_and_decimal_floats(types, ints, floats, scale, seed):
    """Numeric fields of a block's records as the correlations' float64 rows (one
    compiled pass over the records, fields unaligned) are bit for bit numpy's
    ``astype(float64)`` of each field (a decimal's ``_decimal_floats``: one rounding,
    through ``decimal`` beyond 2**53), NaN where null."""
    from fastetl.profiling.fold import ColumnState, Limits, numeric_rows
    from fastetl.schema import Column
    from fastetl.table import _decimal_floats

    rng = np.random.default_rng(seed)
    cols = [_field_values(np.dtype(_FLOAT_FIELDS[t]), ints, floats) for t in types]
    n = max(len(c) for c in cols)
    dtype = [("pad", "u1")]
    for j, t in enumerate(types):
        dtype += [(f"c{j}", _FLOAT_FIELDS[t]), (f"gap{j}", "S3")]  # unaligned fields
    records = np.zeros(n, dtype=dtype)
    states, nulls, want = [], [], []
    for j, t in enumerate(types):
        v = np.resize(cols[j], n)
        records[f"c{j}"] = v
        column = Column(f"c{j}", t, nullable=True, scale=scale if t == "decimal" else None)
        states.append(ColumnState(f"c{j}", t, column, Limits()))
        m = rng.random(n) < 0.3 if rng.random() < 0.5 else None
        nulls.append(m)
        w = _decimal_floats(v, scale) if t == "decimal" else v.astype(np.float64)
        if m is not None:
            w[m] = np.nan
        want.append(w)
    x = numeric_rows(records, states, nulls)
    assert x.shape == (n, len(types))
    for j, w in enumerate(want):
        got = x[:, j]
        assert np.array_equal(np.isnan(got), np.isnan(w))
        ok = ~np.isnan(w)
        assert np.array_equal(got[ok].view(np.uint64), w[ok].view(np.uint64))  # -0.0 kept


def test_floats_rows_refuses_what_it_cannot_read():
    """The kernel says so (one line) for a code it does not convert, a field outside the
    records, too few bytes or nulls: never a read past its buffers."""
    x = np.zeros((3, 1))
    data = np.arange(3, dtype=np.int64).view(np.uint8)
    off, code, div, big = np.zeros(1, np.int64), np.array([8], np.int32), np.zeros(1), np.zeros(1, np.int64)
    with pytest.raises(ValueError, match="no float64 conversion"):
        _core.fold_floats_rows(data, 8, off, np.array([3], np.int32), div, [None], x, big)
    with pytest.raises(ValueError, match="outside the records"):
        _core.fold_floats_rows(data, 8, np.array([4], np.int64), code, div, [None], x, big)
    with pytest.raises(ValueError, match="too short"):
        _core.fold_floats_rows(data[:16], 8, off, code, div, [None], x, big)
    with pytest.raises(ValueError, match="shorter"):
        _core.fold_floats_rows(data, 8, off, code, div, [np.zeros(2, bool)], x, big)
    with pytest.raises(ValueError, match="k of each"):
        _core.fold_floats_rows(data, 8, off, code, div, [None, None], x, big)
    _core.fold_floats_rows(data, 8, off, code, div, [np.array([0, 1, 0], bool)], x, big)
    assert np.array_equal(np.isnan(x[:, 0]), [False, True, False]) and x[2, 0] == 2.0


@given(
    st.integers(2, 40),
    st.integers(1, 300),
    st.integers(0, 2**32 - 1),
    st.sampled_from([0.0, 0.1, 0.9, 1.0]),
)
def test_corr_shift_equals_numpy_means_of_the_finite_values(k, n, seed, absent):
    """The correlations' shift: numpy's expression, to the last bit (the sums it is the
    mean of are taken in numpy's order); columns with no finite value (or whose sum
    overflows) shift by 0."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, k)) * 10.0 ** rng.integers(-3, 300, size=k)
    x[rng.random((n, k)) < absent] = np.nan
    x[rng.random((n, k)) < absent / 10] = np.inf
    x[rng.random((n, k)) < 0.05] = -0.0
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        fin = np.isfinite(x)
        s = np.where(fin, x, 0).sum(0) / np.maximum(fin.sum(0), 1)
    want = np.where(np.isfinite(s), s, 0.0)
    got = np.empty(k)
    _core.fold_corr_shift(np.ascontiguousarray(x).reshape(-1), k, got)
    assert got.view(np.uint64).tolist() == want.view(np.uint64).tolist()


@given(st.integers(0, 200), st.integers(0, 2**32 - 1))
def test_text_tally_equals_numpy_sums(n, seed):
    """A text column's lengths, look-alikes and PII kinds from its distinct values'
    facts, each counted ``counts`` times: numpy's sums, min, max and bincount."""
    rng = np.random.default_rng(seed)
    chars = rng.integers(0, 300, n).astype(np.int64)
    flags = rng.integers(0, 32, n).astype(np.uint8)
    codes = rng.choice(np.array([0, 1, 2, 5, 9, 255], np.uint8), n)
    counts = rng.integers(1, 1000, n).astype(np.int64)
    out = np.empty(_core.TEXT_TALLY, np.int64)
    _core.fold_text_tally(chars, flags, codes, counts, out)
    cand = (flags & 16) != 0
    lo, hi = (int(chars.min()), int(chars.max())) if n else (0, 0)
    assert out[:4].tolist() == [int(counts.sum()), int((chars * counts).sum()), lo, hi]
    assert out[4:8].tolist() == [int(counts[(flags & (1 << i)) != 0].sum()) for i in range(4)]
    assert out[8] == counts[~cand].sum()
    want = np.bincount(codes[cand], weights=counts[cand], minlength=256).astype(np.int64)
    assert out[9:].tolist() == want.tolist()
