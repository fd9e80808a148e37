# The pandas drop-in's compiled helpers (dropin/pandas.py): scans of the raw input for
# the few byte patterns where pandas and fastetl could read a file apart, one pass of
# 64-byte masks each instead of numpy passes or regular expressions over the file.
#
# Included by _core.pyx.  The loops are C-level and nogil; they read bytes and return
# what they found, they never allocate and never raise.


cdef bint blank_beside_c(const char *p, Py_ssize_t n, const unsigned char *side,
                         Py_ssize_t nside) noexcept nogil:
    """True when a blank (space, tab) is the first or last byte of p[:n] or stands next to
    one of the ``nside`` (at most 8) bytes ``side``."""
    cdef Py_ssize_t base, m
    cdef uint64_t blanks, sides, last_blank = 0, last_side = 0
    cdef unsigned char s[8]
    cdef int k
    if n <= 0:
        return False
    if p[0] == 32 or p[0] == 9 or p[n - 1] == 32 or p[n - 1] == 9:
        return True
    for k in range(8):  # (unused slots repeat the first byte: no byte more is matched)
        s[k] = side[k] if k < nside else side[0]
    base = 0
    while base < n:
        m = n - base
        blanks = fastetl_mask64(p + base, m, 32, 9, 9, 9)
        sides = fastetl_mask64(p + base, m, s[0], s[1], s[2], s[3])
        if nside > 4:
            sides |= fastetl_mask64(p + base, m, s[4], s[5], s[6], s[7])
        # a blank with a side byte just before or after it, in this window or across its
        # first byte (last_*: the last byte of the window before)
        if blanks & ((sides << 1) | (sides >> 1) | last_side):
            return True
        if last_blank & sides & 1:
            return True
        last_blank = blanks >> 63
        last_side = sides >> 63
        base += 64
    return False


def blank_beside(object buf, bytes side):
    """True when a blank (space, tab) starts or ends ``buf`` (any bytes-like object) or
    stands beside one of the bytes of ``side`` (one to eight bytes)."""
    cdef Py_buffer src
    cdef bint found
    cdef const unsigned char *sp = side
    cdef Py_ssize_t ns = len(side)
    if not 1 <= ns <= 8:
        raise ValueError("side must be 1 to 8 bytes")
    PyObject_GetBuffer(buf, &src, PyBUF_SIMPLE)
    try:
        with nogil:
            found = blank_beside_c(<const char *>src.buf, src.len, sp, ns)
    finally:
        PyBuffer_Release(&src)
    return found


from libc.stdint cimport uint16_t


ctypedef fused code_t:
    uint8_t
    uint16_t
    uint32_t
    uint64_t


def codes_arrow(const int64_t[:] dict_offsets, const uint8_t[:] dict_data, const code_t[:] codes,
                object nulls, int64_t[:] out):
    """Arrow large_string buffers of a dictionary-encoded column, without the detour of
    Arrow's take: fills ``out`` (``len(codes) + 1`` int64) with where each value starts
    and returns the bytes of the values back to back (a bytearray).  ``dict_offsets`` and
    ``dict_data`` are the dictionary's own Arrow buffers; ``nulls`` (a bool array, or
    None) marks rows whose code is not read (their value is empty).  ValueError when a
    code of a row that is not null is past the dictionary, and when the dictionary's
    offsets are empty, decrease, or leave ``dict_data``."""
    cdef Py_ssize_t n = codes.shape[0], i, total = 0, bad = -1
    cdef Py_ssize_t ndict = dict_offsets.shape[0] - 1
    cdef const uint8_t[::1] isnull
    cdef const uint8_t *nul = NULL
    cdef const char *src = <const char *>&dict_data[0] if dict_data.shape[0] else NULL
    cdef char *dst
    cdef uint64_t c
    cdef int64_t ln
    if out.shape[0] != n + 1:
        raise ValueError(f"out must be {n + 1} int64 items")
    if ndict < 0:
        raise ValueError("dict_offsets is empty (a dictionary has len + 1 offsets)")
    for i in range(ndict):   # O(ndict): the copies below trust these
        if dict_offsets[i] < 0 or dict_offsets[i + 1] < dict_offsets[i]:
            raise ValueError(f"dict_offsets[{i + 1}] = {dict_offsets[i + 1]} decreases or is negative")
    if dict_offsets[ndict] > dict_data.shape[0]:
        raise ValueError(f"dict_offsets end at {dict_offsets[ndict]}, past dict_data "
                         f"({dict_data.shape[0]} bytes)")
    if nulls is not None:
        isnull = nulls.view("u1")
        if isnull.shape[0] != n:
            raise ValueError("nulls and codes differ in length")
        if n:
            nul = &isnull[0]
    with nogil:
        for i in range(n):
            out[i] = total
            if nul != NULL and nul[i]:
                continue
            c = codes[i]
            if c >= <uint64_t>ndict:
                bad = i
                break
            total += dict_offsets[c + 1] - dict_offsets[c]
        out[n] = total
    if bad >= 0:
        raise ValueError(f"row {bad}: code {codes[bad]} is past the dictionary of {ndict} values")
    data = PyByteArray_FromStringAndSize(NULL, total)
    dst = PyByteArray_AS_STRING(data)
    with nogil:
        for i in range(n):
            ln = out[i + 1] - out[i]
            if ln:
                c = codes[i]
                fastetl_copy(dst + out[i], src + dict_offsets[c], ln)
    return data
