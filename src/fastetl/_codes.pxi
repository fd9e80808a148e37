# Category codes made global: a parser's local codes of one block remapped through
# its local -> global table in one nogil pass per field, in place (the pipeline's
# committer, or the worker that parsed the block when its table is known already).
#
# Included by _core.pyx.
#
# A block's pass takes tens of microseconds: the GIL is let go only for passes far longer
# (taking it back waits for the thread holding it, up to the switch interval: 5 ms).
cdef enum:
    _CODES_NOGIL_FROM = 1 << 17  # (records or table entries)

cdef extern from * nogil:
    """
    #include <stdint.h>
    #include <string.h>
    /* One loop per (code width, null word width): the widths are known before the loop,
       so each loop is a load, a table look-up and a store per record. A code with no
       entry (past the table, or negative) is left as it is, and counted. */
    #define FASTETL_REMAP_LOOP(T, N)                                                    \\
        for (i = 0; i < n; i++) {                                                       \\
            unsigned char *r = p + i * stride;                                          \\
            T c;                                                                        \\
            if (nullable) {                                                             \\
                N w;                                                                    \\
                memcpy(&w, r + noff, sizeof(N));                                        \\
                if ((uint64_t)w & mask) continue;                                       \\
            }                                                                           \\
            memcpy(&c, r + off, sizeof(T));                                             \\
            if ((uint64_t)c < (uint64_t)m && table[c] >= 0) {                           \\
                c = (T)table[c];                                                        \\
                memcpy(r + off, &c, sizeof(T));                                         \\
            } else {                                                                    \\
                left++;                                                                 \\
            }                                                                           \\
        }
    #define FASTETL_REMAP_NULLS(T)                                                      \\
        switch (nsize) {                                                                \\
        case 1: FASTETL_REMAP_LOOP(T, uint8_t) break;                                   \\
        case 2: FASTETL_REMAP_LOOP(T, uint16_t) break;                                  \\
        case 4: FASTETL_REMAP_LOOP(T, uint32_t) break;                                  \\
        default: FASTETL_REMAP_LOOP(T, uint64_t) break;                                 \\
        }
    static Py_ssize_t fastetl_remap(unsigned char *p, Py_ssize_t n, Py_ssize_t stride,
                              Py_ssize_t off, int size, const int64_t *table, Py_ssize_t m,
                              Py_ssize_t noff, int nsize, uint64_t mask) {
        Py_ssize_t i, left = 0;
        int nullable = noff >= 0 && mask != 0;
        switch (size) {
        case 1: FASTETL_REMAP_NULLS(uint8_t) break;
        case 2: FASTETL_REMAP_NULLS(uint16_t) break;
        case 4: FASTETL_REMAP_NULLS(uint32_t) break;
        default: FASTETL_REMAP_NULLS(uint64_t) break;
        }
        return left;
    }
    """
    Py_ssize_t fastetl_remap(unsigned char *p, Py_ssize_t n, Py_ssize_t stride, Py_ssize_t off,
                       int size, const int64_t *table, Py_ssize_t m, Py_ssize_t noff,
                       int nsize, uint64_t mask)


cdef inline uint64_t _code_at(const unsigned char *p, int size) noexcept nogil:
    cdef uint16_t b16
    cdef uint32_t b32
    cdef uint64_t b64
    if size == 1:
        return p[0]
    if size == 2:
        memcpy(&b16, p, 2)
        return b16
    if size == 4:
        memcpy(&b32, p, 4)
        return b32
    memcpy(&b64, p, 8)
    return b64


cdef bint _identity(const int64_t *table, Py_ssize_t count) noexcept nogil:
    cdef Py_ssize_t j
    for j in range(count):
        if table[j] != j:
            return False
    return True


cdef Py_ssize_t _remap(unsigned char *p, Py_ssize_t n, Py_ssize_t itemsize, Py_ssize_t offset,
                       int size, const int64_t *table, Py_ssize_t m, Py_ssize_t null_offset,
                       int null_size, uint64_t null_mask) noexcept nogil:
    """remap_codes's work: -1 (nothing written) where a valued code has a negative entry
    (looked for only where the table has one), else how many codes had no entry."""
    cdef Py_ssize_t i
    cdef uint64_t code
    cdef bint nullable = null_offset >= 0 and null_mask != 0
    for i in range(m):
        if table[i] < 0:  # (only after a dictionary filled up: see the pipeline's _extend_maps)
            for i in range(n):
                if nullable and _code_at(p + i * itemsize + null_offset, null_size) & null_mask:
                    continue
                code = _code_at(p + i * itemsize + offset, size)
                if code >= <uint64_t>m or table[code] < 0:
                    return -1
            break
    return fastetl_remap(p, n, itemsize, offset, size, table, m,
                         null_offset if nullable else -1, null_size, null_mask)


def identity_codes(const int64_t[::1] table, Py_ssize_t count):
    """Whether ``table`` maps every local code below ``count`` to itself (then a block
    whose codes are all below ``count`` needs no remap)."""
    cdef bint same
    if count > table.shape[0]:
        return False
    if count == 0:
        return True
    if count < _CODES_NOGIL_FROM:
        return _identity(&table[0], count)
    with nogil:
        same = _identity(&table[0], count)
    return same


def remap_codes(unsigned char[::1] recs, Py_ssize_t n, Py_ssize_t itemsize,
                Py_ssize_t offset, int size, const int64_t[::1] table,
                Py_ssize_t null_offset=-1, int null_size=8, uint64_t null_mask=0):
    """Rewrite in place the ``size``-byte code at ``offset`` of each of the ``n``
    ``itemsize``-byte records in ``recs`` as ``table[code]``; a record whose null bit
    (``null_mask`` in the ``null_size``-byte word at ``null_offset``) is set keeps its
    code.  False, and nothing written, when a valued record's code has a negative
    entry; True once remapped.  Every code is below ``len(table)`` (a parser's codes are
    below its dictionary's count): one past it is an internal error."""
    cdef Py_ssize_t left, m = table.shape[0]
    cdef const int64_t *t = &table[0] if m else NULL
    cdef bint nullable = null_offset >= 0 and null_mask != 0
    if size not in (1, 2, 4, 8) or (nullable and null_size not in (1, 2, 4, 8)):
        raise ValueError(f"a code of {size} bytes, null word of {null_size}")
    if n < 0 or n * itemsize > recs.shape[0] or offset < 0 or offset + size > itemsize:
        raise ValueError("the records do not hold the field")
    if nullable and null_offset + null_size > itemsize:
        raise ValueError("the records do not hold the null word")
    if n == 0:
        return True
    if n < _CODES_NOGIL_FROM and m < _CODES_NOGIL_FROM:
        left = _remap(&recs[0], n, itemsize, offset, size, t, m, null_offset, null_size,
                      null_mask)
    else:
        with nogil:
            left = _remap(&recs[0], n, itemsize, offset, size, t, m, null_offset, null_size,
                          null_mask)
    if left > 0:
        raise AssertionError(f"internal error: {left} category codes past their table")
    return left == 0
