# Profile folding kernels (fastetl.profiling): one pass over a block's values in
# nogil C, so the folding threads of a profile run on every core.  Each kernel is
# the compiled form of a numpy expression the profiling tests compare it with.

cdef extern from * nogil:
    """
    /* splitmix64's finalizer, as fastetl.profiling.stats._mix */
    static inline unsigned long long fastetl_fold_mix(unsigned long long h) {
        h ^= h >> 30;
        h *= 0xBF58476D1CE4E5B9ULL;
        h ^= h >> 27;
        h *= 0x94D049BB133111EBULL;
        return h ^ (h >> 31);
    }
    /* a hint to load the cache line at p ahead of its use (no effect where the compiler
       has none): fields of records read in place are far apart, and the hardware does
       not always see the stride */
    #if defined(__GNUC__) || defined(__clang__)
    #define fastetl_fold_prefetch(p) __builtin_prefetch((const void *)(p))
    #elif defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
    #include <xmmintrin.h>
    #define fastetl_fold_prefetch(p) _mm_prefetch((const char *)(p), _MM_HINT_T0)
    #else
    #define fastetl_fold_prefetch(p) ((void)0)
    #endif
    """
    unsigned long long fastetl_fold_mix(unsigned long long h)
    void fastetl_fold_prefetch(const void *p)


cdef inline uint64_t load_u64(const void *p, Py_ssize_t i) noexcept nogil:
    """The ``i``-th 64-bit word at ``p``, which need not be aligned (a bytes slice or a
    memoryview of any offset; memcpy is one load at -O2)."""
    return ref_u64(<const char *>p, i, 8)  # (_bridges.pxi: one definition of the load)


cdef inline int _fold_buffers(object a, Py_buffer *pa, object b, Py_buffer *pb) except -1:
    """A read-only buffer of ``a`` and a writable one of ``b`` (both C-contiguous)."""
    PyObject_GetBuffer(a, pa, PyBUF_SIMPLE)
    try:
        PyObject_GetBuffer(b, pb, PyBUF_WRITABLE)
    except BaseException:
        PyBuffer_Release(pa)
        raise
    return 0


cdef inline uint64_t _lane_step(uint64_t h, uint64_t w) noexcept nogil:
    h ^= w
    h *= 0x9FB21C651E98DF25ULL
    return h ^ (h >> 29)


cdef inline uint64_t _rotl(uint64_t x, int r) noexcept nogil:
    return (x << r) | (x >> (64 - r))


cdef inline uint64_t _hash_words(
    const uint8_t *row, Py_ssize_t full, Py_ssize_t rem
) noexcept nogil:
    """The hash of :func:`fold_hash_records` of one value: ``full`` 8-byte words at
    ``row``, then ``rem`` bytes zero-padded to a last word."""
    cdef uint64_t h0 = 0x243F6A8885A308D3ULL
    cdef uint64_t h1 = 0x13198A2E03707344ULL
    cdef uint64_t h2 = 0xA4093822299F31D0ULL
    cdef uint64_t h3 = 0x082EFA98EC4E6C89ULL
    cdef uint64_t w, last = 0
    cdef Py_ssize_t j = 0
    while j + 4 <= full:
        h0 = _lane_step(h0, load_u64(row, j))
        h1 = _lane_step(h1, load_u64(row, j + 1))
        h2 = _lane_step(h2, load_u64(row, j + 2))
        h3 = _lane_step(h3, load_u64(row, j + 3))
        j += 4
    if rem:  # the last word, zero-padded, is word ``full``
        memcpy(&last, row + 8 * full, rem)
    while j < full or (j == full and rem):
        w = load_u64(row, j) if j < full else last
        if j % 4 == 0:
            h0 = _lane_step(h0, w)
        elif j % 4 == 1:
            h1 = _lane_step(h1, w)
        elif j % 4 == 2:
            h2 = _lane_step(h2, w)
        else:
            h3 = _lane_step(h3, w)
        j += 1
    return fastetl_fold_mix(h0 ^ _rotl(h1, 16) ^ _rotl(h2, 32) ^ _rotl(h3, 48))


def fold_hash_records(data, Py_ssize_t size, out, Py_ssize_t stride=0, bint trim=False):
    """The 64-bit hash of each ``size``-byte record of ``data`` into ``out`` (8 bytes
    a record, native order): its 8-byte words (native order, the last one zero-padded)
    dealt to four lanes in turn (word ``j`` to lane ``j % 4``), each folding its words by
    ``h = f(h ^ word)`` (an odd multiply and a xor-shift: a bijection); the lanes joined
    as ``h0 ^ rotl(h1, 16) ^ rotl(h2, 32) ^ rotl(h3, 48)``, then splitmix64's finalizer
    -- :func:`fastetl.profiling.stats.hash_values` of fixed-size values.  Four lanes
    are four independent multiply chains (a record's words are hashed about four times
    as fast as by one chain); records that differ in one word still always hash apart.
    With ``stride`` > 0 the records start ``stride`` bytes apart (a field of larger
    records: ``data`` runs from the first one's start to the last one's end; each value
    is asked into the cache eight values ahead, ~2x faster on a 40-byte field of 273-byte
    records, where the hardware prefetcher missed the stride).  With ``trim`` (numpy
    ``S`` values, whose trailing NULs are padding) a value's trailing all-zero words are
    left out: a value hashes the same at any width (a ``text`` column folded at each
    chunk's own width).  The GIL is released while hashing."""
    cdef Py_buffer src, dst
    cdef Py_ssize_t n, i, full, rem, full0, rem0
    cdef const uint8_t *row
    cdef uint64_t *o
    cdef uint64_t last
    cdef bint far
    if size < 1 or stride < 0 or (stride and stride < size):
        raise ValueError("size must be at least 1 byte, stride 0 or at least size")
    _fold_buffers(data, &src, out, &dst)
    try:
        if stride == 0:
            stride = size
        n = (src.len - size) // stride + 1 if src.len >= size else 0
        if src.len != (n - 1) * stride + size if n else src.len != 0:
            raise ValueError("data is not whole records")
        if dst.len < n * 8:
            raise ValueError("out is too small")
        full0 = size // 8
        rem0 = size - 8 * full0
        full, rem = full0, rem0
        far = stride > size  # a field of larger records: its values apart
        o = <uint64_t *>dst.buf
        with nogil:
            for i in range(n):
                row = <const uint8_t *>src.buf + i * stride
                if far and i + 8 < n:  # eight values ahead (both ends of its bytes)
                    fastetl_fold_prefetch(row + 8 * stride)
                    fastetl_fold_prefetch(row + 8 * stride + size - 1)
                if trim:  # the words up to the last one holding a non-zero byte
                    full, rem = full0, rem0
                    if rem:
                        last = 0
                        memcpy(&last, row + 8 * full0, rem)
                        if last == 0:
                            rem = 0
                    if rem == 0:
                        while full > 0 and load_u64(row, full - 1) == 0:
                            full -= 1
                    o[i] = _hash_words(row, full, rem)
                else:  # (its own call: the sizes the same for every value)
                    o[i] = _hash_words(row, full0, rem0)
    finally:
        PyBuffer_Release(&dst)
        PyBuffer_Release(&src)


def fold_count_keys(keys, out_keys, out_first, out_counts, values=None,
                    Py_ssize_t size=0, Py_ssize_t stride=0, out_stray=None):
    """Count equal 64-bit ``keys`` (well-mixed hashes) in an open-addressing table:
    writes the distinct keys in order of first appearance to ``out_keys``, the index
    of that first appearance to ``out_first`` and how often each occurs to
    ``out_counts`` (int64 each, room for ``len(keys)``); returns how many are
    distinct.  With ``values`` (the bytes the keys hash: value i is ``size`` bytes
    at ``i * stride``), each key met again has its value compared byte for byte with
    its first appearance's: ``out_stray[i]`` (int64) is the index of the distinct key
    whose first value row i's differs from (a hash collision; still counted under
    that key), -1 where they are the same or i is the first.  The GIL is released
    while counting."""
    cdef Py_buffer src, dk
    cdef Py_buffer df, dc, dv, ds
    cdef Py_ssize_t n, i, m = 0, cap = 16
    cdef const char *vb = NULL
    cdef int64_t *st = NULL
    cdef uint64_t mask, s, k
    cdef const uint64_t *key
    cdef uint64_t *uk
    cdef int64_t *fi
    cdef int64_t *co
    cdef int64_t *table = NULL
    cdef int64_t t
    _fold_buffers(keys, &src, out_keys, &dk)
    try:
        PyObject_GetBuffer(out_first, &df, PyBUF_WRITABLE)
        try:
            PyObject_GetBuffer(out_counts, &dc, PyBUF_WRITABLE)
            try:
                n = src.len // 8
                if dk.len < n * 8 or df.len < n * 8 or dc.len < n * 8:
                    raise ValueError("an output is too small")
                if values is not None:
                    PyObject_GetBuffer(values, &dv, PyBUF_SIMPLE)
                    try:
                        PyObject_GetBuffer(out_stray, &ds, PyBUF_WRITABLE)
                    except BaseException:
                        PyBuffer_Release(&dv)
                        raise
                    vb = <const char *>dv.buf
                    st = <int64_t *>ds.buf
                try:
                    if vb != NULL and (size < 0 or stride < size or ds.len < n * 8 or (
                            n and dv.len < (n - 1) * stride + size)):
                        raise ValueError("the values or out_stray do not fit the keys")
                    while cap < 2 * n:
                        cap *= 2
                    table = <int64_t *>calloc(<size_t>cap, sizeof(int64_t))  # slot: index + 1
                    if table == NULL:
                        raise MemoryError()
                    mask = <uint64_t>(cap - 1)
                    key = <const uint64_t *>src.buf
                    uk = <uint64_t *>dk.buf
                    fi = <int64_t *>df.buf
                    co = <int64_t *>dc.buf
                    with nogil:
                        for i in range(n):
                            k = key[i]
                            s = (k ^ (k >> 32)) & mask
                            if st != NULL:
                                st[i] = -1
                            while True:
                                t = table[s]
                                if t == 0:
                                    table[s] = m + 1
                                    uk[m] = k
                                    fi[m] = i
                                    co[m] = 1
                                    m += 1
                                    break
                                if uk[t - 1] == k:
                                    co[t - 1] += 1
                                    if vb != NULL and memcmp(vb + i * stride,
                                                             vb + fi[t - 1] * stride,
                                                             <size_t>size) != 0:
                                        st[i] = t - 1
                                    break
                                s = (s + 1) & mask
                    free(table)
                    return m
                finally:
                    if vb != NULL:
                        PyBuffer_Release(&ds)
                        PyBuffer_Release(&dv)
            finally:
                PyBuffer_Release(&dc)
        finally:
            PyBuffer_Release(&df)
    finally:
        PyBuffer_Release(&dk)
        PyBuffer_Release(&src)


def fold_known_keys(slots, known, keys, out, Py_ssize_t size):
    """Look 64-bit ``keys`` (distinct, well-mixed hashes) up in an open-addressing set
    kept across calls: ``slots`` (int32, a power of two of them, 0 empty, else the
    index + 1 of a key in ``known``) and ``known`` (uint64, its first ``size`` keys in
    the set, room for the rest up to its length).  Writes each key's index in
    ``known`` to ``out`` (int64), or -1 where it was not there -- those are added, in
    order, while there is room (and a quarter of ``slots`` stays empty).  Returns the
    new size.  The GIL is released while looking."""
    cdef Py_buffer bs, bk, bq, bo
    cdef Py_ssize_t n, i, cap, limit
    cdef uint64_t mask, s, k
    cdef int32_t t
    cdef int32_t *sl
    cdef uint64_t *kn
    cdef const uint64_t *q
    cdef int64_t *o
    _fold_buffers(keys, &bq, slots, &bs)
    try:
        PyObject_GetBuffer(known, &bk, PyBUF_WRITABLE)
        try:
            PyObject_GetBuffer(out, &bo, PyBUF_WRITABLE)
            try:
                n = bq.len // 8
                cap = bs.len // 4
                limit = bk.len // 8
                if limit > cap - cap // 4:
                    limit = cap - cap // 4
                if (cap < 1 or cap & (cap - 1) or cap > (1 << 30) or bo.len < n * 8
                        or size < 0 or size > limit):
                    raise ValueError("slots are not a power of two, or out is too small")
                mask = <uint64_t>(cap - 1)
                sl = <int32_t *>bs.buf
                kn = <uint64_t *>bk.buf
                q = <const uint64_t *>bq.buf
                o = <int64_t *>bo.buf
                with nogil:
                    for i in range(n):
                        k = q[i]
                        s = (k ^ (k >> 32)) & mask
                        while True:
                            t = sl[s]
                            if t == 0:
                                o[i] = -1
                                if size < limit:
                                    sl[s] = <int32_t>(size + 1)
                                    kn[size] = k
                                    size += 1
                                break
                            if kn[t - 1] == k:
                                o[i] = t - 1
                                break
                            s = (s + 1) & mask
                return size
            finally:
                PyBuffer_Release(&bo)
        finally:
            PyBuffer_Release(&bk)
    finally:
        PyBuffer_Release(&bs)
        PyBuffer_Release(&bq)


cdef inline bint _fold_same_padded(const uint8_t* a, Py_ssize_t wa, const uint8_t* b,
                                   Py_ssize_t wb) noexcept nogil:
    """Are ``a`` (``wa`` bytes) and ``b`` (``wb``) the same ``S`` value (the longer one's
    bytes past the shorter's width all NUL)?"""
    cdef Py_ssize_t w = wa if wa < wb else wb, j
    if memcmp(a, b, <size_t>w) != 0:
        return False
    for j in range(w, wa):
        if a[j]:
            return False
    for j in range(w, wb):
        if b[j]:
            return False
    return True


@cython.boundscheck(False)
@cython.wraparound(False)
def fold_count_into(int32_t[::1] slots, uint64_t[::1] known, Py_ssize_t size,
                    Py_ssize_t limit, const uint64_t[::1] keys, const int64_t[::1] counts,
                    int64_t[::1] kept_counts, const uint8_t[::1] values,
                    uint8_t[::1] kept_values, Py_ssize_t width, int64_t[::1] out_rest,
                    bint compare=False, Py_ssize_t in_width=0):
    """Count distinct ``keys`` (well-mixed hashes), each ``counts`` times, into the set
    kept across calls (``slots``, ``known``, ``size``: as :func:`fold_known_keys`): a
    known key's count is added to ``kept_counts`` at its index; a new key joins while
    ``size < limit``, its count and its value (the ``width`` bytes of ``values`` at its
    place) kept at index ``size`` of ``kept_counts`` and ``kept_values``; the places of
    the new keys that found no room are written to ``out_rest``.  ``compare`` (keys
    that are hashes of the values): a known key's value is checked byte for byte
    against the one kept for it; one that differs (a hash collision) is counted under
    the key all the same, and counted in ``collisions``.  Returns ``(size, rests,
    collisions)``.  ``in_width`` (``width`` if 0): the width of ``values``, numpy ``S``
    values (trailing NUL bytes not part of a value): a narrower one is kept padded with
    NUL bytes and compared as if it were (so a run of short values is never widened to
    the kept width); a wider one may only be compared (``limit == size``: none joins).
    The GIL is released while counting."""
    cdef Py_ssize_t n = keys.shape[0], cap = slots.shape[0], i, rests = 0, collisions = 0
    cdef Py_ssize_t w_in = in_width if in_width > 0 else width
    cdef Py_ssize_t w_min = w_in if w_in < width else width
    cdef uint64_t mask, s, k
    cdef int32_t t
    if (width < 1 or values.shape[0] != n * w_in or counts.shape[0] < n
            or out_rest.shape[0] < n or (w_in > width and limit > size)):
        raise ValueError("keys, counts, values and out_rest do not hold the same keys")
    if (cap < 1 or cap & (cap - 1) or cap > (1 << 30) or size < 0 or size > limit
            or limit > cap - cap // 4 or limit > known.shape[0]
            or limit > kept_counts.shape[0] or limit * width > kept_values.shape[0]):
        raise ValueError("slots are not a power of two, or the kept arrays have no room")
    mask = <uint64_t>(cap - 1)
    with nogil:
        for i in range(n):
            if i + 16 < n:  # a key's slot asked for 16 keys ahead, its key and count 8
                k = keys[i + 16]
                fastetl_fold_prefetch(&slots[0] + ((k ^ (k >> 32)) & mask))
            if i + 8 < n:
                k = keys[i + 8]
                t = slots[(k ^ (k >> 32)) & mask]
                if t:
                    fastetl_fold_prefetch(&known[0] + t - 1)
                    fastetl_fold_prefetch(&kept_counts[0] + t - 1)
                    if compare:  # (the kept value it is compared with: both its ends)
                        fastetl_fold_prefetch(&kept_values[0] + (t - 1) * width)
                        fastetl_fold_prefetch(&kept_values[0] + (t - 1) * width + w_min - 1)
            k = keys[i]
            s = (k ^ (k >> 32)) & mask
            while True:
                t = slots[s]
                if t == 0 or known[t - 1] == k:
                    break
                s = (s + 1) & mask
            if t:
                kept_counts[t - 1] += counts[i]
                if compare and not _fold_same_padded(&kept_values[0] + (t - 1) * width,
                                                     width, &values[0] + i * w_in, w_in):
                    collisions += 1
            elif size < limit:
                slots[s] = <int32_t>(size + 1)
                known[size] = k
                kept_counts[size] = counts[i]
                memcpy(&kept_values[0] + size * width, &values[0] + i * w_in, <size_t>w_min)
                if w_min < width:
                    memset(&kept_values[0] + size * width + w_min, 0, <size_t>(width - w_min))
                size += 1
            else:
                out_rest[rests] = i
                rests += 1
    return size, rests, collisions


def fold_count_int64(values, Py_ssize_t limit, out_keys, out_counts):
    """Count equal int64 ``values`` in an open-addressing table of at most ``limit``
    distinct ones: writes them in order of first appearance to ``out_keys`` and how
    often each occurs to ``out_counts`` (int64 each, room for ``limit``); returns how
    many are distinct, or -1 as soon as there are more than ``limit`` (a column to
    sort instead).  The GIL is released while counting."""
    cdef Py_buffer src, dk, dc
    cdef Py_ssize_t n, i, m = 0, cap = 16
    cdef uint64_t mask, s
    cdef int64_t k, t
    cdef const int64_t *val
    cdef int64_t *uk
    cdef int64_t *co
    cdef int64_t *table = NULL
    _fold_buffers(values, &src, out_keys, &dk)
    try:
        PyObject_GetBuffer(out_counts, &dc, PyBUF_WRITABLE)
        try:
            n = src.len // 8
            if limit < 0 or dk.len < limit * 8 or dc.len < limit * 8:
                raise ValueError("an output is too small")
            while cap < 2 * limit:
                cap *= 2
            table = <int64_t *>calloc(<size_t>cap, sizeof(int64_t))  # slot: index + 1
            if table == NULL:
                raise MemoryError()
            mask = <uint64_t>(cap - 1)
            val = <const int64_t *>src.buf
            uk = <int64_t *>dk.buf
            co = <int64_t *>dc.buf
            with nogil:
                for i in range(n):
                    k = val[i]
                    s = fastetl_fold_mix(<uint64_t>k) & mask
                    while True:
                        t = table[s]
                        if t == 0:
                            if m == limit:
                                m = -1
                                break
                            table[s] = m + 1
                            uk[m] = k
                            co[m] = 1
                            m += 1
                            break
                        if uk[t - 1] == k:
                            co[t - 1] += 1
                            break
                        s = (s + 1) & mask
                    if m < 0:
                        break
            free(table)
            return m
        finally:
            PyBuffer_Release(&dc)
    finally:
        PyBuffer_Release(&dk)
        PyBuffer_Release(&src)


# each byte's class for _text_counts: the index of the count it adds to (0: none of
# them; 12: a NUL, in no count but the bytes and characters)
cdef uint8_t _BYTE_CLASS[256]


cdef void _byte_classes() noexcept:
    cdef int b
    for b in range(256):
        if b == 0:
            _BYTE_CLASS[b] = 12
        elif b >= 0x80:
            _BYTE_CLASS[b] = 1 if (b & 0xC0) == 0x80 else 0  # UTF-8 continuation bytes
        elif 48 <= b <= 57:
            _BYTE_CLASS[b] = 2
        elif 97 <= (b | 0x20) <= 122:
            _BYTE_CLASS[b] = 3
        elif b == 64:
            _BYTE_CLASS[b] = 4
        elif b == 46:
            _BYTE_CLASS[b] = 5
        elif b == 45:
            _BYTE_CLASS[b] = 6
        elif b == 58:
            _BYTE_CLASS[b] = 7
        elif b == 47:
            _BYTE_CLASS[b] = 8
        elif b == 43:
            _BYTE_CLASS[b] = 9
        elif b == 32:
            _BYTE_CLASS[b] = 10
        elif b == 40:
            _BYTE_CLASS[b] = 11
        else:
            _BYTE_CLASS[b] = 0


_byte_classes()


cdef inline void _text_counts(const uint8_t *row, Py_ssize_t size, int64_t *o) noexcept nogil:
    """The 12 counts of fold_text_classes of one ``size``-byte value into ``o``: its
    trailing NULs (padding) skipped first, then one table look-up a byte (the chain of
    comparisons it replaces mispredicted on mixed letters, digits and separators)."""
    cdef Py_ssize_t j = 0
    cdef int64_t c[13]
    cdef int64_t d[13]  # (every other byte's: a run of one class is two chains, not one)
    cdef int k
    while size and row[size - 1] == 0:
        size -= 1
    for k in range(13):
        c[k] = 0
        d[k] = 0
    while j + 2 <= size:
        c[_BYTE_CLASS[row[j]]] += 1
        d[_BYTE_CLASS[row[j + 1]]] += 1
        j += 2
    if j < size:
        c[_BYTE_CLASS[row[j]]] += 1
    o[0] = size  # the bytes to the last non-NUL one
    o[1] = size - c[1] - d[1]  # its characters: the bytes less the continuation bytes
    for k in range(2, 12):
        o[k] = c[k] + d[k]


def fold_text_classes(data, Py_ssize_t size, out):
    """Per ``size``-byte value of ``data`` (numpy ``S``: trailing NULs are padding),
    12 int64 counts into ``out``: its bytes (to the last non-NUL one), its UTF-8
    characters (those bytes less the continuation bytes), digits, ASCII letters, and
    the bytes ``@ . - : / +``, space and ``(``.  The GIL is released while counting."""
    cdef Py_buffer src, dst
    cdef Py_ssize_t n, i
    cdef int64_t *o
    if size < 1:
        raise ValueError("size must be at least 1 byte")
    _fold_buffers(data, &src, out, &dst)
    try:
        n = src.len // size
        if src.len != n * size or dst.len < n * 12 * 8:
            raise ValueError("data is not whole values, or out is too small")
        o = <int64_t *>dst.buf
        with nogil:
            for i in range(n):
                _text_counts(<const uint8_t *>src.buf + i * size, size, o + 12 * i)
    finally:
        PyBuffer_Release(&dst)
        PyBuffer_Release(&src)


cdef inline uint8_t _value_facts(const uint8_t *row, Py_ssize_t size,
                                 int64_t *chars) noexcept nogil:
    """One ``size``-byte value's UTF-8 characters (into ``chars``) and flags (returned),
    as fold_text_facts gives them."""
    cdef int64_t c[12]
    cdef int64_t ln, d, a, other, sign, seps
    cdef int integer, two_seps
    cdef uint8_t f
    _text_counts(row, size, c)
    chars[0] = c[1]
    ln, d, a = c[0], c[2], c[3]
    other = ln - d
    sign = c[6] + c[9]
    seps = c[5]
    two_seps = c[6] == 2 or c[8] == 2
    integer = d > 0 and other <= 1 and other == sign
    f = 1 if integer else 0
    if d > 0 and seps == 1 and other - seps <= 1 and not integer:
        f |= 2
    if d == 8 and ln == 10 and two_seps:
        f |= 4
    if d >= 12 and c[7] >= 1 and two_seps:
        f |= 8
    if ((c[4] == 1 and c[10] == 0 and ln >= 6)  # email
            or (c[7] >= 2 and c[10] == 0)  # ipv6
            or (8 <= d <= 19 and a == 0 and not (d == 8 and two_seps))
            or (c[5] == 3 and 4 <= d <= 12 and ln == d + 3)  # ipv4
            or (a >= 2 and d >= 8 and 15 <= ln <= 42)):  # iban
        f |= 16
    return f


def fold_text_facts(data, Py_ssize_t size, out_chars, out_flags):
    """Per ``size``-byte value of ``data`` (numpy ``S``), its UTF-8 characters into
    ``out_chars`` (int64) and flags into ``out_flags`` (uint8): 1, 2, 4, 8 when it
    looks like an integer, a decimal, a date, a datetime, 16 when it is a PII
    candidate -- :func:`fastetl.profiling.pii.looks_like` and
    :func:`~fastetl.profiling.pii.candidates` of its :func:`fold_text_classes`
    counts.  The GIL is released while counting."""
    cdef Py_buffer src, dc, df
    cdef Py_ssize_t n, i
    cdef int64_t *oc
    cdef uint8_t *of
    if size < 1:
        raise ValueError("size must be at least 1 byte")
    _fold_buffers(data, &src, out_chars, &dc)
    try:
        PyObject_GetBuffer(out_flags, &df, PyBUF_WRITABLE)
        try:
            n = src.len // size
            if src.len != n * size or dc.len < n * 8 or df.len < n:
                raise ValueError("data is not whole values, or an output is too small")
            oc = <int64_t *>dc.buf
            of = <uint8_t *>df.buf
            with nogil:
                for i in range(n):
                    of[i] = _value_facts(<const uint8_t *>src.buf + i * size, size, oc + i)
        finally:
            PyBuffer_Release(&df)
    finally:
        PyBuffer_Release(&dc)
        PyBuffer_Release(&src)


# PII validators over the bytes (fastetl.profiling.pii's, in C): one code per value,
# 0 for none, 1 + the index of its kind in pii.KINDS, or FOLD_PII_ASK where Python's
# validators decide (a ':' -- IPv6 -- or a byte past ASCII: Unicode digits).

cdef extern from * nogil:
    """
    #include <string.h>
    #define FPII_EMAIL 1
    #define FPII_PHONE 2
    #define FPII_CPF 3
    #define FPII_CNPJ 4
    #define FPII_CARD 5
    #define FPII_IPV4 6
    #define FPII_CEP 8
    #define FPII_IBAN 9
    #define FPII_ASK 255
    static int fpii_dig(unsigned char c) { return c >= '0' && c <= '9'; }
    static int fpii_alpha(unsigned char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }
    static int fpii_upper(unsigned char c) { return c >= 'A' && c <= 'Z'; }
    /* s fully matches pat: 'd' a digit, any other byte itself */
    static int fpii_pat(const unsigned char *s, size_t n, const char *pat) {
        size_t i;
        for (i = 0; i < n; i++) {
            if (pat[i] == 0) return 0;
            if (pat[i] == 'd') { if (!fpii_dig(s[i])) return 0; }
            else if ((unsigned char)pat[i] != s[i]) return 0;
        }
        return pat[n] == 0;
    }
    static int fpii_all_digits(const unsigned char *s, size_t n) {
        size_t i;
        for (i = 0; i < n; i++) if (!fpii_dig(s[i])) return 0;
        return 1;
    }
    static size_t fpii_digits(const unsigned char *s, size_t n, unsigned char *d) {
        size_t i, k = 0;
        for (i = 0; i < n; i++) if (fpii_dig(s[i])) d[k++] = (unsigned char)(s[i] - '0');
        return k;
    }
    static int fpii_same(const unsigned char *d, size_t n) {
        size_t i;
        for (i = 1; i < n; i++) if (d[i] != d[0]) return 0;
        return 1;
    }
    static int fpii_cpf_check(const unsigned char *d) {  /* 11 digit values */
        int n, i, s;
        if (fpii_same(d, 11)) return 0;
        for (n = 9; n <= 10; n++) {
            s = 0;
            for (i = 0; i < n; i++) s += d[i] * (n + 1 - i);
            if ((s * 10 % 11) % 10 != d[n]) return 0;
        }
        return 1;
    }
    static int fpii_cnpj_check(const unsigned char *d) {  /* 14 digit values */
        static const int w[13] = {6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2};
        int n, i, s, r;
        if (fpii_same(d, 14)) return 0;
        for (n = 12; n <= 13; n++) {
            s = 0;
            for (i = 0; i < n; i++) s += d[i] * w[i + 13 - n];
            r = s % 11;
            if ((r < 2 ? 0 : 11 - r) != d[n]) return 0;
        }
        return 1;
    }
    static int fpii_atext(unsigned char c) {
        return fpii_dig(c) || fpii_alpha(c) || (c && strchr("!#$%&'*+/=?^_`{|}~-", c) != NULL);
    }
    static int fpii_email(const unsigned char *s, size_t n) {
        size_t i, at = n, start, len;
        int parts = 0;
        if (n > 254) return 0;
        for (i = 0; i < n; i++) if (s[i] == '@') { at = i; break; }
        if (at == n || at == 0 || at > 64) return 0;
        start = 0;  /* local part: atoms joined by single dots */
        for (i = 0; i <= at; i++) {
            if (i == at || s[i] == '.') {
                if (i == start) return 0;
                start = i + 1;
            } else if (!fpii_atext(s[i])) return 0;
        }
        start = at + 1;  /* domain: labels, then a letters-only top-level domain */
        for (i = at + 1; i <= n; i++) {
            if (i < n && s[i] != '.') continue;
            len = i - start;
            if (len < 1 || len > 63) return 0;
            parts++;
            if (i == n) {
                size_t j;
                if (parts < 2 || len < 2) return 0;
                for (j = start; j < i; j++) if (!fpii_alpha(s[j])) return 0;
            } else {
                size_t j;
                if (!(fpii_dig(s[start]) || fpii_alpha(s[start]))) return 0;
                if (!(fpii_dig(s[i - 1]) || fpii_alpha(s[i - 1]))) return 0;
                for (j = start; j < i; j++)
                    if (!(fpii_dig(s[j]) || fpii_alpha(s[j]) || s[j] == '-')) return 0;
            }
            start = i + 1;
        }
        return 1;
    }
    static int fpii_ipv4(const unsigned char *s, size_t n) {
        size_t i = 0, len;
        int part, v;
        for (part = 0; part < 4; part++) {
            if (part) { if (i >= n || s[i] != '.') return 0; i++; }
            len = 0; v = 0;
            while (i < n && fpii_dig(s[i]) && len < 4) { v = v * 10 + (s[i] - '0'); i++; len++; }
            if (len == 0 || len > 3 || v > 255) return 0;
            if (len > 1 && s[i - len] == '0') return 0;
        }
        return i == n;
    }
    static int fpii_ddd(const unsigned char *d) {
        static const char *ddd = "11 12 13 14 15 16 17 18 19 21 22 24 27 28 31 32 33 34 35 37 38 "
            "41 42 43 44 45 46 47 48 49 51 53 54 55 61 62 63 64 65 66 67 68 69 71 73 74 75 77 79 "
            "81 82 83 84 85 86 87 88 89 91 92 93 94 95 96 97 98 99";
        const char *p;
        for (p = ddd; *p; p += (p[2] ? 3 : 2))
            if (p[0] - '0' == d[0] && p[1] - '0' == d[1]) return 1;
        return 0;
    }
    static int fpii_phone(const unsigned char *s, size_t n, int named) {
        unsigned char buf[256];
        const unsigned char *d;
        size_t i, nd;
        int formatted;
        if (n >= 9 && n <= 16 && s[0] == '+' && s[1] >= '1' && s[1] <= '9'
                && fpii_all_digits(s + 1, n - 1))
            return 1;  /* E.164 */
        if (n == 0 || n > sizeof buf) return 0;
        for (i = 0; i < n; i++)
            if (!(fpii_dig(s[i]) || (s[i] && strchr("+()- .", s[i]) != NULL))) return 0;
        for (i = 1; i < n; i++) if (s[i] == '+') return 0;
        nd = fpii_digits(s, n, buf);
        d = buf;
        formatted = nd != n;
        if (s[0] == '+') {
            if (nd < 2 || d[0] != 5 || d[1] != 5) return 0;
            d += 2; nd -= 2;
        } else if ((nd == 12 || nd == 13) && d[0] == 5 && d[1] == 5) {
            d += 2; nd -= 2;
        }
        if (nd == 11) { if (d[2] != 9) return 0; }
        else if (nd == 10) { if (d[2] < 2 || d[2] > 5) return 0; }
        else return 0;
        return fpii_ddd(d) && (formatted || named);
    }
    static int fpii_luhn(const unsigned char *d, size_t n) {
        size_t i;
        int total = 0, v;
        for (i = 0; i < n; i++) {
            v = d[n - 1 - i];
            if (i % 2) { v *= 2; if (v > 9) v -= 9; }
            total += v;
        }
        return total % 10 == 0;
    }
    static int fpii_sep(unsigned char c) { return c == ' ' || c == '-'; }
    static int fpii_card(const unsigned char *s, size_t n) {
        unsigned char d[32];
        size_t i, nd;
        int ok = 0;
        if (n >= 13 && n <= 19 && fpii_all_digits(s, n)) ok = 1;
        else if (n >= 16 && n <= 22 && fpii_sep(s[4]) && fpii_sep(s[9]) && fpii_sep(s[14])) {
            ok = 1;
            for (i = 0; i < n; i++)
                if (i != 4 && i != 9 && i != 14 && !fpii_dig(s[i])) { ok = 0; break; }
        }
        if (!ok && n == 17 && fpii_sep(s[4]) && fpii_sep(s[11])) {
            ok = 1;
            for (i = 0; i < n; i++)
                if (i != 4 && i != 11 && !fpii_dig(s[i])) { ok = 0; break; }
        }
        if (!ok) return 0;
        nd = fpii_digits(s, n, d);
        return nd >= 13 && nd <= 19 && d[0] >= 2 && d[0] <= 6 && fpii_luhn(d, nd);
    }
    static int fpii_iban(const unsigned char *s, size_t n) {
        static const char *lens = "AD24AT20BE16BG22BR29CH21CY28CZ24DE22DK18EE20ES24FI18FR27GB22"
            "GR27HR21HU28IE22IS26IT27LI21LT20LU20LV21MC27MT31NL18NO15PL28PT25RO24SE24SI19SK24SM27";
        unsigned char t[64];
        size_t i, k = 0;
        const char *p;
        int r = 0;
        for (i = 0; i < n; i++) {
            if (s[i] == ' ') continue;
            if (k == 34) return 0;
            t[k++] = s[i];
        }
        if (k < 15 || !fpii_upper(t[0]) || !fpii_upper(t[1]) || !fpii_dig(t[2]) || !fpii_dig(t[3]))
            return 0;
        for (i = 4; i < k; i++) if (!(fpii_upper(t[i]) || fpii_dig(t[i]))) return 0;
        for (p = lens; *p; p += 4)
            if (p[0] == t[0] && p[1] == t[1] && (size_t)((p[2] - '0') * 10 + p[3] - '0') != k)
                return 0;
        for (i = 0; i < k; i++) {
            unsigned char c = t[(i + 4) % k];
            if (fpii_dig(c)) r = (r * 10 + (c - '0')) % 97;
            else r = (r * 100 + (c - 'A' + 10)) % 97;
        }
        return r == 1;
    }
    /* pii.classify(s, column) of an ASCII value without ':' (else FPII_ASK) */
    static int fastetl_pii_text(const unsigned char *s, size_t n, int phone_named, int cep_named) {
        unsigned char d[32];
        size_t i;
        int has_at = 0, has_colon = 0, wide = 0;
        for (i = 0; i < n; i++) {
            if (s[i] == '@') has_at = 1;
            else if (s[i] == ':') has_colon = 1;
            else if (s[i] >= 0x80) wide = 1;
        }
        if (has_at) return (!wide && fpii_email(s, n)) ? FPII_EMAIL : 0;
        if (has_colon || wide || n > 240) return FPII_ASK;
        if ((fpii_pat(s, n, "ddd.ddd.ddd-dd") || (n == 11 && fpii_all_digits(s, n)))
                && fpii_digits(s, n, d) == 11 && fpii_cpf_check(d))
            return FPII_CPF;
        if ((fpii_pat(s, n, "dd.ddd.ddd/dddd-dd") || (n == 14 && fpii_all_digits(s, n)))
                && fpii_digits(s, n, d) == 14 && fpii_cnpj_check(d))
            return FPII_CNPJ;
        if (fpii_pat(s, n, "ddddd-ddd")) {
            if (memcmp(s, "00000-000", 9) != 0) return FPII_CEP;
        } else if (cep_named && n == 8 && fpii_all_digits(s, n) && memcmp(s, "00000000", 8) != 0)
            return FPII_CEP;
        if (fpii_ipv4(s, n)) return FPII_IPV4;
        if (fpii_phone(s, n, phone_named)) return FPII_PHONE;
        if (fpii_card(s, n)) return FPII_CARD;
        if (n >= 1 && fpii_alpha(s[0]) && (n == 1 || fpii_alpha(s[1])) && fpii_iban(s, n))
            return FPII_IBAN;
        return 0;
    }
    /* pii.classify_int(v, column) of a positive integer */
    static int fastetl_pii_int(unsigned long long v, int phone_named, int cep_named) {
        unsigned char s[24], d[24];
        size_t n = 0, i;
        unsigned long long x = v;
        do { s[n++] = (unsigned char)('0' + x % 10); x /= 10; } while (x);
        for (i = 0; i < n / 2; i++) {
            unsigned char c = s[i];
            s[i] = s[n - 1 - i];
            s[n - 1 - i] = c;
        }
        if (n <= 11) {
            memset(d, 0, 11 - n);
            for (i = 0; i < n; i++) d[11 - n + i] = (unsigned char)(s[i] - '0');
            if (fpii_cpf_check(d)) return FPII_CPF;
        }
        if (n <= 14) {
            memset(d, 0, 14 - n);
            for (i = 0; i < n; i++) d[14 - n + i] = (unsigned char)(s[i] - '0');
            if (fpii_cnpj_check(d)) return FPII_CNPJ;
        }
        if (cep_named && n <= 8) return v ? FPII_CEP : 0;
        if (phone_named && fpii_phone(s, n, 1)) return FPII_PHONE;
        if (fpii_card(s, n)) return FPII_CARD;
        return 0;
    }
    """
    int fastetl_pii_text(const unsigned char *s, size_t n, int phone_named, int cep_named)
    int fastetl_pii_int(unsigned long long v, int phone_named, int cep_named)

FOLD_PII_ASK = 255


def fold_pii_codes(data, Py_ssize_t size, int flags, out):
    """The PII kind of each value as a code into ``out`` (uint8, one a value): 0 none,
    ``1 + i`` for ``pii.KINDS[i]``, :data:`FOLD_PII_ASK` where Python decides.  With
    ``size`` > 0, ``data`` holds ``size``-byte values (numpy ``S``: trailing NULs are
    padding), checked as :func:`fastetl.profiling.pii.classify` checks text; with
    ``size`` == 0, ``data`` holds positive uint64 integers, checked as
    :func:`~fastetl.profiling.pii.classify_int` checks them.  ``flags``: 1 the column's
    name says phone, 2 it says CEP.  The GIL is released while checking."""
    cdef Py_buffer src, dst
    cdef Py_ssize_t n, i, last
    cdef const uint8_t *row
    cdef uint8_t *o
    cdef int phone = flags & 1, cep = (flags >> 1) & 1
    if size < 0:
        raise ValueError("size must be >= 0")
    _fold_buffers(data, &src, out, &dst)
    try:
        n = src.len // (size if size else 8)
        if src.len != n * (size if size else 8) or dst.len < n:
            raise ValueError("data is not whole values, or out is too small")
        o = <uint8_t *>dst.buf
        with nogil:
            if size == 0:
                for i in range(n):
                    o[i] = <uint8_t>fastetl_pii_int(load_u64(src.buf, i), phone, cep)
            else:
                for i in range(n):
                    row = <const uint8_t *>src.buf + i * size
                    last = size
                    while last > 0 and row[last - 1] == 0:
                        last -= 1
                    o[i] = <uint8_t>fastetl_pii_text(
                        <const unsigned char *>row, <size_t>last, phone, cep)
    finally:
        PyBuffer_Release(&dst)
        PyBuffer_Release(&src)


def fold_mix_words(values, out):
    """splitmix64's finalizer of each 64-bit word of ``values`` xor 0x9E3779B97F4A7C15
    into ``out`` (uint64 each): :func:`fastetl.profiling.stats.hash_values` of
    numbers, after their bits are made a word.  The GIL is released while mixing."""
    cdef Py_buffer src, dst
    cdef Py_ssize_t n, i
    cdef uint64_t w
    _fold_buffers(values, &src, out, &dst)
    try:
        n = src.len // 8
        if src.len != n * 8 or dst.len < n * 8:
            raise ValueError("values are not whole words, or out is too small")
        with nogil:
            for i in range(n):
                w = fastetl_fold_mix(load_u64(src.buf, i) ^ 0x9E3779B97F4A7C15ULL)
                memcpy(<char *>dst.buf + 8 * i, &w, 8)
    finally:
        PyBuffer_Release(&dst)
        PyBuffer_Release(&src)


def fold_hll_add(hashes, int p, registers):
    """Fold 64-bit ``hashes`` into the ``2**p`` one-byte HyperLogLog ``registers``: the
    top ``p`` bits pick a register, which keeps the largest rank (1 + the number of
    trailing zeros of the other ``64 - p`` bits; ``65 - p`` when they are all zero).
    The GIL is released while folding."""
    cdef Py_buffer src, dst
    cdef Py_ssize_t n, i
    cdef uint8_t *r
    cdef uint64_t w, hv, low_mask
    cdef int rank, q
    if p < 4 or p > 18:
        raise ValueError("p must be 4 to 18")
    _fold_buffers(hashes, &src, registers, &dst)
    try:
        n = src.len // 8
        if src.len != n * 8 or dst.len != (<Py_ssize_t>1 << p):
            raise ValueError("hashes are not whole words, or registers are not 2**p bytes")
        r = <uint8_t *>dst.buf
        q = 64 - p
        low_mask = ((<uint64_t>1) << q) - 1
        with nogil:
            for i in range(n):
                hv = load_u64(src.buf, i)
                w = hv & low_mask
                if w == 0:
                    rank = q + 1
                else:
                    rank = 1
                    while not (w & 1):
                        w >>= 1
                        rank += 1
                if rank > r[hv >> q]:
                    r[hv >> q] = <uint8_t>rank
    finally:
        PyBuffer_Release(&dst)
        PyBuffer_Release(&src)


def fold_text_gather(text, offsets, lengths, Py_ssize_t width, out):
    """Copy the text values at ``offsets`` (uint64) of ``lengths`` (uint32) bytes in
    ``text`` into ``out`` as ``width``-byte values, NUL-padded (numpy ``S{width}``):
    the out-of-line values of a ``text`` column as the fixed-width values the profile
    folds.  Returns -1, or the index of the first value that lies past the end of
    ``text`` or is longer than ``width`` (nothing is copied then).  The GIL is
    released while copying."""
    cdef Py_buffer src, dst, po, pl
    cdef Py_ssize_t n, i, bad = -1
    cdef const uint64_t *off
    cdef const uint32_t *ln
    cdef uint64_t size
    cdef char *o
    if width < 1:
        raise ValueError("width must be at least 1 byte")
    _fold_buffers(text, &src, out, &dst)
    try:
        PyObject_GetBuffer(offsets, &po, PyBUF_SIMPLE)
        try:
            PyObject_GetBuffer(lengths, &pl, PyBUF_SIMPLE)
            try:
                n = po.len // 8
                if po.len != n * 8 or pl.len != n * 4 or dst.len < n * width:
                    raise ValueError("offsets, lengths and out do not hold the same values")
                off = <const uint64_t *>po.buf
                ln = <const uint32_t *>pl.buf
                o = <char *>dst.buf
                size = <uint64_t>src.len
                with nogil:
                    for i in range(n):
                        if (off[i] > size or ln[i] > size - off[i]
                                or <Py_ssize_t>ln[i] > width):
                            bad = i
                            break
                    if bad < 0:
                        for i in range(n):
                            memcpy(o + i * width, <const char *>src.buf + off[i], ln[i])
                            memset(o + i * width + ln[i], 0, <size_t>(width - ln[i]))
                return bad
            finally:
                PyBuffer_Release(&pl)
        finally:
            PyBuffer_Release(&po)
    finally:
        PyBuffer_Release(&dst)
        PyBuffer_Release(&src)


@cython.boundscheck(False)
@cython.wraparound(False)
def fold_corr_shift(const double[::1] x, Py_ssize_t k, double[::1] out):
    """The mean of each of the ``k`` columns of ``x`` (float64 rows of ``k`` values, C
    order) over its finite values into ``out``, 0 where it has none (or the mean is not
    finite): ``s = np.where(fin, x, 0).sum(0) / np.maximum(fin.sum(0), 1)``, then
    ``np.where(np.isfinite(s), s, 0.0)`` -- the sums in row order from 0.0, as numpy
    sums a C-order array over its rows when ``k > 1`` (one column numpy sums
    pairwise).  Without the GIL."""
    cdef Py_ssize_t rows, r, j
    cdef double v
    cdef int64_t *c
    if k < 1 or x.shape[0] % k or out.shape[0] != k:
        raise ValueError("x is not whole rows of k values, or out is not k values")
    rows = x.shape[0] // k
    c = <int64_t *>calloc(<size_t>k, sizeof(int64_t))
    if c == NULL:
        raise MemoryError()
    with nogil:
        for j in range(k):
            out[j] = 0.0
        for r in range(rows):
            for j in range(k):
                v = x[r * k + j]
                if v - v == 0.0:  # finite: not NaN, not inf
                    out[j] += v
                    c[j] += 1
        for j in range(k):
            v = out[j] / <double>(c[j] if c[j] > 0 else 1)
            out[j] = v if v - v == 0.0 else 0.0
    free(c)


def fold_corr(x, Py_ssize_t k, shift, out_n, out_sx, out_sxx, out_sxy):
    """Add the sums of Pearson correlations of the ``k`` columns of ``x`` (float64 rows
    of ``k`` values, C order; a value that is not finite is absent) less ``shift`` (``k``
    float64) into the ``k * k`` float64 matrices: for each pair ``(i, j)`` over the rows
    where both are present, their count ``out_n``, the sum of ``x_i`` ``out_sx``, of
    ``x_i ** 2`` ``out_sxx`` and of ``x_i * x_j`` ``out_sxy``.  Rows with every value
    present take a quicker path (one product per pair).  In compiled code without the
    GIL and without BLAS (whose threads each hold a large buffer)."""
    cdef Py_buffer bx, bs, bn, bsx, bsxx, bsxy
    cdef Py_ssize_t rows, r, i, j
    cdef const double *row
    cdef const double *sh
    cdef double *n_
    cdef double *sx
    cdef double *sxx
    cdef double *sxy
    cdef double *z = NULL
    cdef double *full = NULL  # k sums, k sums of squares, k * k products
    cdef double full_n = 0.0, zi
    cdef int *present = NULL
    cdef bint all_present
    cdef int taken = 0  # the buffers taken so far (only those are let go)
    if k < 1:
        raise ValueError("k must be at least 1")
    _fold_buffers(x, &bx, out_n, &bn)
    try:
        try:
            PyObject_GetBuffer(shift, &bs, PyBUF_SIMPLE)
            taken = 1
            PyObject_GetBuffer(out_sx, &bsx, PyBUF_WRITABLE)
            taken = 2
            PyObject_GetBuffer(out_sxx, &bsxx, PyBUF_WRITABLE)
            taken = 3
            PyObject_GetBuffer(out_sxy, &bsxy, PyBUF_WRITABLE)
            taken = 4
            rows = bx.len // (8 * k)
            if (bx.len != rows * 8 * k or bs.len != 8 * k or bn.len != 8 * k * k
                    or bsx.len != 8 * k * k or bsxx.len != 8 * k * k or bsxy.len != 8 * k * k):
                raise ValueError("x is not whole rows of k values, or a sum is not k * k")
            z = <double *>malloc(<size_t>k * sizeof(double))
            present = <int *>malloc(<size_t>k * sizeof(int))
            full = <double *>calloc(<size_t>(2 * k + k * k), sizeof(double))
            if z == NULL or present == NULL or full == NULL:
                raise MemoryError()
            sh = <const double *>bs.buf
            n_ = <double *>bn.buf
            sx = <double *>bsx.buf
            sxx = <double *>bsxx.buf
            sxy = <double *>bsxy.buf
            with nogil:
                for r in range(rows):
                    row = <const double *>bx.buf + r * k
                    all_present = True
                    for i in range(k):
                        present[i] = row[i] - row[i] == 0.0  # finite: not NaN, not inf
                        if not present[i]:
                            all_present = False
                        z[i] = row[i] - sh[i]
                    if all_present:
                        full_n += 1.0
                        for i in range(k):
                            zi = z[i]
                            full[i] += zi
                            full[k + i] += zi * zi
                            for j in range(i + 1, k):
                                full[2 * k + i * k + j] += zi * z[j]
                        continue
                    for i in range(k):
                        if not present[i]:
                            continue
                        zi = z[i]
                        for j in range(k):
                            if present[j]:
                                n_[i * k + j] += 1.0
                                sx[i * k + j] += zi
                                sxx[i * k + j] += zi * zi
                                if j > i:
                                    sxy[i * k + j] += zi * z[j]
                                    sxy[j * k + i] += zi * z[j]
                                elif j == i:
                                    sxy[i * k + i] += zi * zi
                for i in range(k):
                    for j in range(k):
                        n_[i * k + j] += full_n
                        sx[i * k + j] += full[i]
                        sxx[i * k + j] += full[k + i]
                        if j > i:
                            sxy[i * k + j] += full[2 * k + i * k + j]
                            sxy[j * k + i] += full[2 * k + i * k + j]
                        elif j == i:
                            sxy[i * k + i] += full[k + i]
        finally:
            free(full)
            free(present)
            free(z)
            if taken > 3:
                PyBuffer_Release(&bsxy)
            if taken > 2:
                PyBuffer_Release(&bsxx)
            if taken > 1:
                PyBuffer_Release(&bsx)
            if taken > 0:
                PyBuffer_Release(&bs)
    finally:
        PyBuffer_Release(&bn)
        PyBuffer_Release(&bx)


from libc.string cimport memcmp


cdef int _radix_sort64(uint64_t *key, int64_t *idx, Py_ssize_t n, uint64_t flip) noexcept nogil:
    """Sort ``n`` 64-bit ``key`` in place (each compared as ``key ^ flip``: ``flip`` the
    sign bit for int64), ``idx`` (or NULL) permuted along: a least-significant-digit
    radix sort of 8-bit digits, so stable; a digit every key shares is not a pass.
    Returns -1 when out of memory (nothing sorted), else 0."""
    cdef uint32_t *hist
    cdef uint64_t *kbuf
    cdef int64_t *ibuf = NULL
    cdef uint64_t *ks
    cdef uint64_t *kd
    cdef uint64_t *kt
    cdef int64_t *is_
    cdef int64_t *id_
    cdef int64_t *it
    cdef uint64_t v
    cdef uint32_t *h
    cdef uint32_t total, c
    cdef Py_ssize_t r
    cdef int d, b, shift
    if n < 2:
        return 0
    hist = <uint32_t *>calloc(8 * 256, sizeof(uint32_t))
    kbuf = <uint64_t *>malloc(<size_t>n * sizeof(uint64_t))
    if idx != NULL:
        ibuf = <int64_t *>malloc(<size_t>n * sizeof(int64_t))
    if hist == NULL or kbuf == NULL or (idx != NULL and ibuf == NULL):
        free(hist)
        free(kbuf)
        free(ibuf)
        return -1
    for r in range(n):  # the eight digits' counts in one pass
        v = key[r] ^ flip
        for d in range(8):
            hist[d * 256 + <int>((v >> (8 * d)) & 0xFF)] += 1
    ks, kd, is_, id_ = key, kbuf, idx, ibuf
    for d in range(8):
        h = hist + d * 256
        shift = 8 * d
        if h[<int>(((ks[0] ^ flip) >> shift) & 0xFF)] == <uint32_t>n:
            continue  # every key has this digit
        total = 0
        for b in range(256):  # counts -> first position of each digit
            c = h[b]
            h[b] = total
            total += c
        if is_ != NULL:
            for r in range(n):
                v = ks[r]
                b = <int>(((v ^ flip) >> shift) & 0xFF)
                kd[h[b]] = v
                id_[h[b]] = is_[r]
                h[b] += 1
        else:
            for r in range(n):
                v = ks[r]
                b = <int>(((v ^ flip) >> shift) & 0xFF)
                kd[h[b]] = v
                h[b] += 1
        kt = ks
        ks = kd
        kd = kt
        it = is_
        is_ = id_
        id_ = it
    if ks != key:  # an odd number of passes: the result is in the scratch buffers
        memcpy(key, ks, <size_t>n * sizeof(uint64_t))
        if idx != NULL:
            memcpy(idx, is_, <size_t>n * sizeof(int64_t))
    free(hist)
    free(kbuf)
    free(ibuf)
    return 0


def fold_sort64(keys, bint signed, order=None):
    """Sort the 64-bit integers ``keys`` (uint64, or int64 with ``signed``) in place,
    as ``keys.sort(kind="stable")``; ``order`` (int64, as many, or None) is permuted
    along: given ``arange(n)`` it becomes ``np.argsort(keys, kind="stable")``.  A
    radix sort in compiled code, the GIL released (numpy's sorts of 64-bit keys cost
    ~5x more on blocks of 10,000 keys)."""
    cdef Py_buffer bk, bo
    cdef Py_ssize_t n
    cdef int64_t *o = NULL
    cdef int status
    PyObject_GetBuffer(keys, &bk, PyBUF_WRITABLE)
    try:
        n = bk.len // 8
        if bk.len != n * 8:
            raise ValueError("keys must be 64-bit integers")
        if order is not None:
            PyObject_GetBuffer(order, &bo, PyBUF_WRITABLE)
            if bo.len != n * 8:
                PyBuffer_Release(&bo)
                raise ValueError("order must hold as many int64 as keys")
            o = <int64_t *>bo.buf
        try:
            with nogil:
                status = _radix_sort64(<uint64_t *>bk.buf, o, n,
                                       (<uint64_t>1) << 63 if signed else 0)
            if status < 0:
                raise MemoryError()
        finally:
            if order is not None:
                PyBuffer_Release(&bo)
    finally:
        PyBuffer_Release(&bk)


def fold_bytes_extremes(data, Py_ssize_t size):
    """The index of the first smallest and of the first largest of the ``size``-byte
    values of ``data`` (numpy ``S``, C order, at least one), compared as bytes
    (memcmp: NUL padding sorts first, as numpy and Python compare them)."""
    cdef Py_buffer src
    cdef Py_ssize_t n, i, lo = 0, hi = 0
    cdef const char *p
    cdef uint8_t a, b, c
    if size < 1:
        raise ValueError("size must be at least 1 byte")
    PyObject_GetBuffer(data, &src, PyBUF_SIMPLE)
    try:
        n = src.len // size
        if n < 1 or src.len != n * size:
            raise ValueError("data is not one or more values of size bytes")
        p = <const char *>src.buf
        with nogil:
            for i in range(1, n):
                c = <uint8_t>p[i * size]  # the first bytes decide most comparisons
                a = <uint8_t>p[lo * size]
                b = <uint8_t>p[hi * size]
                if c < a or (c == a and memcmp(p + i * size, p + lo * size, <size_t>size) < 0):
                    lo = i
                elif c > b or (c == b and memcmp(p + i * size, p + hi * size, <size_t>size) > 0):
                    hi = i
        return lo, hi
    finally:
        PyBuffer_Release(&src)


cdef inline bint _same_padded(const char *v, Py_ssize_t width, const char *t,
                              Py_ssize_t ln) noexcept nogil:
    """Are the ``width`` bytes at ``v`` the ``ln`` bytes at ``t`` (``ln <= width``) then
    NULs?  Compared 8 bytes at a time (equality only: no byte order matters)."""
    cdef Py_ssize_t r = 0
    while r + 8 <= ln:
        if load_u64(v + r, 0) != load_u64(t + r, 0):
            return False
        r += 8
    while r < ln:
        if v[r] != t[r]:
            return False
        r += 1
    while r < width and (r & 7):
        if v[r] != 0:
            return False
        r += 1
    while r + 8 <= width:
        if load_u64(v + r, 0) != 0:
            return False
        r += 8
    while r < width:
        if v[r] != 0:
            return False
        r += 1
    return True


@cython.boundscheck(False)
@cython.wraparound(False)
def fold_known_facts(const uint8_t[::1] values, Py_ssize_t width, const uint64_t[::1] keys,
                     Py_ssize_t start, int32_t[::1] slots, uint64_t[::1] known,
                     Py_ssize_t size, Py_ssize_t limit, int64_t[::1] kept,
                     uint8_t[::1] text,
                     int64_t[::1] ends, int pii_flags, int64_t[::1] out_chars,
                     uint8_t[::1] out_flags, uint8_t[::1] out_codes):
    """The text facts of distinct ``width``-byte values (numpy ``S``) hashing to distinct
    ``keys``, from value ``start`` on, in one pass: each key looked up in the set kept
    across calls (``slots``, ``known``, ``size``: as :func:`fold_known_keys`); a known
    key whose kept value (``text`` from ``ends[j - 1]`` to ``ends[j]``, then NUL
    padding) is this value gives its kept characters, flags and PII code (``kept``:
    ``chars | flags << 32 | code << 40``, one word a value: one cache line to fetch);
    any other value's are computed (as
    :func:`fold_text_facts`, and :func:`fold_pii_codes` for a candidate, 0 otherwise;
    ``pii_flags`` as its ``flags``).  A new key joins the set while ``size < limit``,
    its facts and its bytes (without the padding) kept.  Writes each value's facts to
    ``out_chars`` (int64), ``out_flags`` and ``out_codes`` (uint8).  Returns ``(stop,
    size)``: ``stop`` the first value not done, ``len(keys)`` when all are, less when
    ``text`` has no room for its bytes (nothing of it done: call again from there with
    more room).  The GIL is released while looking."""
    cdef Py_ssize_t n = keys.shape[0], cap = slots.shape[0], i, j, ln, stop = keys.shape[0]
    cdef int64_t a, b, at
    cdef uint64_t mask, s, k
    cdef int32_t t
    cdef uint8_t f
    cdef int64_t w
    cdef const uint8_t *row
    cdef uint8_t *tx
    cdef int phone = pii_flags & 1, cep = (pii_flags >> 1) & 1
    if (width < 1 or values.shape[0] != n * width or out_chars.shape[0] < n
            or out_flags.shape[0] < n or out_codes.shape[0] < n or start < 0 or start > n):
        raise ValueError("values, keys and the outputs do not hold the same values")
    if (cap < 1 or cap & (cap - 1) or cap > (1 << 30) or size < 0 or size > limit
            or limit > cap - cap // 4 or limit > known.shape[0] or limit > kept.shape[0]
            or limit > ends.shape[0]):
        raise ValueError("slots are not a power of two, or the kept arrays have no room")
    at = ends[size - 1] if size else 0
    if at < 0 or at > text.shape[0]:
        raise ValueError("the kept values' end lies past their bytes")
    mask = <uint64_t>(cap - 1)
    tx = &text[0] if text.shape[0] else NULL
    with nogil:
        for i in range(start, n):
            # the kept values lie anywhere: a key's slot asked for 16 values ahead, its
            # key and end 8 ahead, its bytes 4 ahead (each from what the last step loaded)
            if i + 16 < n:
                k = keys[i + 16]
                fastetl_fold_prefetch(&slots[0] + ((k ^ (k >> 32)) & mask))
            if i + 8 < n:
                k = keys[i + 8]
                t = slots[(k ^ (k >> 32)) & mask]
                if t:
                    fastetl_fold_prefetch(&known[0] + t - 1)
                    fastetl_fold_prefetch(&kept[0] + t - 1)
                    fastetl_fold_prefetch(&ends[0] + t - 1)
                    if t > 1:
                        fastetl_fold_prefetch(&ends[0] + t - 2)
            if i + 4 < n and tx != NULL:
                k = keys[i + 4]
                t = slots[(k ^ (k >> 32)) & mask]
                if t > 1:
                    fastetl_fold_prefetch(tx + ends[t - 2])
            k = keys[i]
            row = &values[0] + i * width
            s = (k ^ (k >> 32)) & mask
            while True:
                t = slots[s]
                if t == 0 or known[t - 1] == k:
                    break
                s = (s + 1) & mask
            ln = width
            while ln and row[ln - 1] == 0:
                ln -= 1
            if t:
                j = t - 1
                a = ends[j - 1] if j > 0 else 0
                b = ends[j]
                if b - a == ln and _same_padded(<const char *>row, width,
                                               <const char *>tx + a, ln):
                    w = kept[j]
                    out_chars[i] = <uint32_t>w
                    out_flags[i] = <uint8_t>((w >> 32) & 0xFF)
                    out_codes[i] = <uint8_t>((w >> 40) & 0xFF)
                    continue
            elif size < limit and at + ln > text.shape[0]:
                stop = i
                break
            f = _value_facts(row, width, &out_chars[i])
            out_flags[i] = f
            out_codes[i] = <uint8_t>fastetl_pii_text(
                <const unsigned char *>row, <size_t>ln, phone, cep) if f & 16 else 0
            if t == 0 and size < limit:
                slots[s] = <int32_t>(size + 1)
                known[size] = k
                kept[size] = <int64_t><uint32_t>out_chars[i] | (<int64_t>f << 32) | (
                    <int64_t>out_codes[i] << 40)
                if ln:
                    memcpy(tx + at, row, <size_t>ln)
                at += ln
                ends[size] = at
                size += 1
    return stop, size


TEXT_TALLY = 9 + 256  # fold_text_tally's out: lengths (4), looks (4), not candidates, codes


@cython.boundscheck(False)
@cython.wraparound(False)
def fold_text_tally(const int64_t[::1] chars, const uint8_t[::1] flags,
                    const uint8_t[::1] codes, const int64_t[::1] counts, int64_t[::1] out):
    """What a text column's distinct values (their ``chars``, ``flags`` and PII ``codes``,
    as :func:`fold_known_facts` gives them) add to its profile, each ``counts`` times, into
    ``out`` (int64, :data:`TEXT_TALLY`): the values, their characters, the fewest and
    most characters of a value (0 and 0 for none), the values with flag bit ``i`` set
    (``4 + i``, ``i < 4``: the look-alikes), those that are not PII candidates (8), and
    the candidates with PII code ``c`` (``9 + c``).  Without the GIL."""
    cdef Py_ssize_t n = chars.shape[0], i
    cdef int64_t c, w, lo = 0, hi = 0
    cdef uint8_t f
    if flags.shape[0] != n or codes.shape[0] != n or counts.shape[0] != n or (
            out.shape[0] != TEXT_TALLY):
        raise ValueError("chars, flags, codes and counts differ, or out is not TEXT_TALLY")
    with nogil:
        for i in range(out.shape[0]):
            out[i] = 0
        for i in range(n):
            c = chars[i]
            w = counts[i]
            f = flags[i]
            if i == 0 or c < lo:
                lo = c
            if i == 0 or c > hi:
                hi = c
            out[0] += w
            out[1] += c * w
            if f & 1:
                out[4] += w
            if f & 2:
                out[5] += w
            if f & 4:
                out[6] += w
            if f & 8:
                out[7] += w
            if f & 16:
                out[9 + codes[i]] += w
            else:
                out[8] += w
        out[2] = lo
        out[3] = hi


def fold_floats_rows(data, Py_ssize_t stride, offsets, codes, divs, nulls, out, big):
    """Write ``k`` numeric fields of ``n`` records as float64 rows of ``out`` (``n * k``
    float64, C order), in one pass over the records (each record's bytes read once):
    record ``i`` is the bytes at ``i * stride`` in ``data``; field ``j`` the value at
    byte ``offsets[j]`` (int64) of it, of ``codes[j]`` (int32: its size in bytes, plus
    16 for an unsigned integer, 32 for a float; native order), divided by ``divs[j]``
    (float64) unless that is 0 (a decimal's scaled integers: ``ints / 10.0**scale``);
    NaN where ``nulls[j]`` (a bool array, or None) is set.  The compiled form of
    ``x[:, j] = raw.astype(np.float64)`` (or ``raw / div``), ``x[nulls, j] = np.nan``:
    the same conversions, rounded once.  ``big[j]`` (int64) counts the integers beyond
    2**53 in magnitude (a division of those is not the correctly rounded quotient: the
    caller converts them through ``decimal``).  The GIL is released while reading."""
    cdef Py_buffer bd, bo, bof, bc, bv, bb
    cdef Py_buffer *bm = NULL
    cdef const char **m = NULL
    cdef Py_ssize_t n, i, j, k, taken = 0, held = 0
    cdef const char *p
    cdef const int64_t *off
    cdef const int32_t *code
    cdef const double *div
    cdef int64_t *nbig
    cdef double *o
    cdef double v
    cdef int64_t s64
    cdef uint64_t u64
    cdef int32_t s32
    cdef uint32_t u32
    cdef int16_t s16
    cdef uint16_t u16
    cdef float f32
    cdef int c
    _fold_buffers(data, &bd, out, &bo)
    try:
        PyObject_GetBuffer(offsets, &bof, PyBUF_SIMPLE)
        taken = 1
        PyObject_GetBuffer(codes, &bc, PyBUF_SIMPLE)
        taken = 2
        PyObject_GetBuffer(divs, &bv, PyBUF_SIMPLE)
        taken = 3
        PyObject_GetBuffer(big, &bb, PyBUF_WRITABLE)
        taken = 4
        k = bof.len // 8
        if k < 1 or bc.len != 4 * k or bv.len != 8 * k or bb.len != 8 * k or len(nulls) != k:
            raise ValueError("offsets, codes, divs, nulls and big are not k of each")
        n = bo.len // (8 * k)
        if bo.len != n * 8 * k:
            raise ValueError("out is not whole rows of k values")
        off = <const int64_t *>bof.buf
        code = <const int32_t *>bc.buf
        div = <const double *>bv.buf
        for j in range(k):
            c = code[j]
            if c not in (1, 2, 4, 8, 17, 18, 20, 24, 36, 40):
                raise ValueError(f"field {j}: no float64 conversion of code {c}")
            if (off[j] < 0 or off[j] + (c & 15) > stride
                    or (n and bd.len < (n - 1) * stride + off[j] + (c & 15))):
                raise ValueError(f"field {j} lies outside the records, or data is too short")
        bm = <Py_buffer *>calloc(<size_t>k, sizeof(Py_buffer))
        m = <const char **>calloc(<size_t>k, sizeof(char *))
        if bm == NULL or m == NULL:
            raise MemoryError()
        for j in range(k):
            if nulls[j] is None:
                continue
            PyObject_GetBuffer(nulls[j], &bm[j], PyBUF_SIMPLE)
            m[j] = <const char *>bm[j].buf
            held = j + 1
            if bm[j].len < n:
                raise ValueError(f"field {j}: nulls is shorter than the records")
        nbig = <int64_t *>bb.buf
        p = <const char *>bd.buf
        o = <double *>bo.buf
        with nogil:
            for i in range(n):
                for j in range(k):
                    c = code[j]
                    if c == 8:
                        memcpy(&s64, p + off[j], 8)
                        v = <double>s64
                        if s64 > 9007199254740992LL or s64 < -9007199254740992LL:
                            nbig[j] += 1
                    elif c == 4:
                        memcpy(&s32, p + off[j], 4)
                        v = <double>s32
                    elif c == 2:
                        memcpy(&s16, p + off[j], 2)
                        v = <double>s16
                    elif c == 1:
                        v = <double>(<const signed char *>(p + off[j]))[0]
                    elif c == 24:
                        memcpy(&u64, p + off[j], 8)
                        v = <double>u64
                        if u64 > 9007199254740992ULL:
                            nbig[j] += 1
                    elif c == 20:
                        memcpy(&u32, p + off[j], 4)
                        v = <double>u32
                    elif c == 18:
                        memcpy(&u16, p + off[j], 2)
                        v = <double>u16
                    elif c == 17:
                        v = <double>(<const unsigned char *>(p + off[j]))[0]
                    elif c == 36:
                        memcpy(&f32, p + off[j], 4)
                        v = <double>f32
                    else:
                        memcpy(&v, p + off[j], 8)
                    if div[j] != 0.0:
                        v = v / div[j]
                    if m[j] != NULL and m[j][i]:
                        v = FASTETL_NAN
                    o[j] = v
                o += k
                p += stride
    finally:
        if bm != NULL:
            for j in range(held):
                if m[j] != NULL:
                    PyBuffer_Release(&bm[j])
        free(bm)
        free(<void *>m)
        if taken >= 4:
            PyBuffer_Release(&bb)
        if taken >= 3:
            PyBuffer_Release(&bv)
        if taken >= 2:
            PyBuffer_Release(&bc)
        if taken >= 1:
            PyBuffer_Release(&bof)
        PyBuffer_Release(&bo)
        PyBuffer_Release(&bd)
