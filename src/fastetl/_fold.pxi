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
    """
    unsigned long long fastetl_fold_mix(unsigned long long h)


cdef inline int _fold_buffers(object a, Py_buffer *pa, object b, Py_buffer *pb) except -1:
    """A read-only buffer of ``a`` and a writable one of ``b`` (both C-contiguous)."""
    PyObject_GetBuffer(a, pa, PyBUF_SIMPLE)
    try:
        PyObject_GetBuffer(b, pb, PyBUF_WRITABLE)
    except BaseException:
        PyBuffer_Release(pa)
        raise
    return 0


def fold_hash_records(data, Py_ssize_t size, out):
    """The 64-bit hash of each ``size``-byte record of ``data`` into ``out`` (8 bytes
    a record, native order): 8-byte words (native order, the last one zero-padded)
    folded by ``h = f(h ^ word)`` (an odd multiply and a xor-shift), then splitmix64's
    finalizer -- :func:`fastetl.profiling.stats.hash_values` of fixed-size values.
    The GIL is released while hashing."""
    cdef Py_buffer src, dst
    cdef Py_ssize_t n, i, j, full, rem
    cdef const uint8_t *row
    cdef uint64_t *o
    cdef uint64_t h, w
    if size < 1:
        raise ValueError("size must be at least 1 byte")
    _fold_buffers(data, &src, out, &dst)
    try:
        n = src.len // size
        if src.len != n * size or dst.len < n * 8:
            raise ValueError("data is not whole records, or out is too small")
        full = size // 8
        rem = size - 8 * full
        o = <uint64_t *>dst.buf
        with nogil:
            for i in range(n):
                row = <const uint8_t *>src.buf + i * size
                h = 0x243F6A8885A308D3ULL
                for j in range(full):
                    memcpy(&w, row + 8 * j, 8)
                    h ^= w
                    h *= 0x9FB21C651E98DF25ULL
                    h ^= h >> 29
                if rem:
                    w = 0
                    memcpy(&w, row + 8 * full, rem)
                    h ^= w
                    h *= 0x9FB21C651E98DF25ULL
                    h ^= h >> 29
                o[i] = fastetl_fold_mix(h)
    finally:
        PyBuffer_Release(&dst)
        PyBuffer_Release(&src)


def fold_count_keys(keys, out_keys, out_first, out_counts):
    """Count equal 64-bit ``keys`` (well-mixed hashes) in an open-addressing table:
    writes the distinct keys in order of first appearance to ``out_keys``, the index
    of that first appearance to ``out_first`` and how often each occurs to
    ``out_counts`` (int64 each, room for ``len(keys)``); returns how many are
    distinct.  The GIL is released while counting."""
    cdef Py_buffer src, dk
    cdef Py_buffer df, dc
    cdef Py_ssize_t n, i, m = 0, cap = 16
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
                                break
                            s = (s + 1) & mask
                free(table)
                return m
            finally:
                PyBuffer_Release(&dc)
        finally:
            PyBuffer_Release(&df)
    finally:
        PyBuffer_Release(&dk)
        PyBuffer_Release(&src)


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


def fold_text_classes(data, Py_ssize_t size, out):
    """Per ``size``-byte value of ``data`` (numpy ``S``: trailing NULs are padding),
    12 int64 counts into ``out``: its bytes (to the last non-NUL one), its UTF-8
    characters (those bytes less the continuation bytes), digits, ASCII letters, and
    the bytes ``@ . - : / +``, space and ``(``.  The GIL is released while counting."""
    cdef Py_buffer src, dst
    cdef Py_ssize_t n, i, j, last
    cdef const uint8_t *row
    cdef int64_t *o
    cdef int64_t cont, digit, alpha, at, dot, dash, colon, slash, plus, space, paren
    cdef uint8_t b
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
                row = <const uint8_t *>src.buf + i * size
                last = 0
                cont = digit = alpha = at = dot = dash = colon = slash = plus = space = paren = 0
                for j in range(size):
                    b = row[j]
                    if b == 0:
                        continue
                    last = j + 1
                    if b >= 0x80:
                        cont += (b & 0xC0) == 0x80
                    elif 48 <= b <= 57:
                        digit += 1
                    elif 97 <= (b | 0x20) <= 122:
                        alpha += 1
                    elif b == 64:
                        at += 1
                    elif b == 46:
                        dot += 1
                    elif b == 45:
                        dash += 1
                    elif b == 58:
                        colon += 1
                    elif b == 47:
                        slash += 1
                    elif b == 43:
                        plus += 1
                    elif b == 32:
                        space += 1
                    elif b == 40:
                        paren += 1
                o[0] = last
                o[1] = last - cont
                o[2] = digit
                o[3] = alpha
                o[4] = at
                o[5] = dot
                o[6] = dash
                o[7] = colon
                o[8] = slash
                o[9] = plus
                o[10] = space
                o[11] = paren
                o += 12
    finally:
        PyBuffer_Release(&dst)
        PyBuffer_Release(&src)
