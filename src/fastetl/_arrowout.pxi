# Records -> Arrow buffers: every column of a slice of records decoded in ONE nogil pass
# over the rows (each record is read once, while it is in cache), straight into the
# buffers ``pyarrow.Array.from_buffers`` takes: contiguous values, validity bitmaps
# (from the null mask, NaN or NaT), bool and flag bits packed, decimal128 words, date32
# days, category indices, string offsets + data.
#
# Included by _core.pyx.  Used by bridges.py (record_batch: exports, to_arrow).  The
# plan (which column is which kind, at which byte of the record) is built and checked
# by bridges.py; this loop trusts it.  ``text`` columns are not decoded here (their
# values lie outside the records: _bridges.pxi's text_arrow).

from libc.math cimport isnan

# column kinds (bridges.py's _ARROW_KINDS mirrors these)
cdef enum:
    AK_FIXED = 0      # copy ``width`` bytes (1, 2, 4 or 8): integers, floats, datetimes
    AK_DATE32 = 1     # int64 days -> int32 days
    AK_DECIMAL = 2    # scaled int64 -> decimal128 (low word, then the sign as the high word)
    AK_BOOL = 3       # a byte, 0 or not -> one bit
    AK_CATEGORY = 4   # an unsigned code of ``width`` bytes -> int32 index, < ``extra``
    AK_STR = 5        # ``width`` bytes, NUL-padded UTF-8 -> int32 offsets + data
    AK_BIT = 6        # byte ``off`` & ``extra`` -> one bit (a flag bit)

# where a column's nulls come from
cdef enum:
    AN_NONE = 0
    AN_MASK = 1       # byte ``null_off`` & ``null_mask`` set: null
    AN_NAN32 = 2
    AN_NAN64 = 3
    AN_NAT = 4        # int64 == INT64_MIN (numpy's NaT)

ctypedef struct ArrowCol:
    int kind
    int nulls_from
    Py_ssize_t off
    Py_ssize_t width
    Py_ssize_t null_off
    uint8_t null_mask
    int64_t extra
    char *values
    uint8_t *validity
    int32_t *offsets
    int64_t null_count
    int64_t total


cdef inline int arrow_row(ArrowCol *c, const char *rec, Py_ssize_t i) noexcept nogil:
    """Decodes one value of one column; 1 when it is not valid (a bad UTF-8 string or a
    category code past the dictionary), else 0."""
    cdef bint valid = True
    cdef int64_t v
    cdef uint64_t code
    cdef double d
    cdef float f
    cdef Py_ssize_t ln
    cdef const char *p = rec + c.off
    if c.nulls_from == AN_MASK:
        valid = ((<const uint8_t *>rec)[c.null_off] & c.null_mask) == 0
    if c.kind == AK_FIXED:
        if c.width == 8:
            memcpy(c.values + i * 8, p, 8)
            if c.nulls_from == AN_NAN64:
                memcpy(&d, p, 8)
                valid = not isnan(d)
            elif c.nulls_from == AN_NAT:
                memcpy(&v, p, 8)
                valid = v != INT64_MIN
        elif c.width == 4:
            memcpy(c.values + i * 4, p, 4)
            if c.nulls_from == AN_NAN32:
                memcpy(&f, p, 4)
                valid = not isnan(f)
        elif c.width == 2:
            memcpy(c.values + i * 2, p, 2)
        else:
            c.values[i] = p[0]
    elif c.kind == AK_STR:
        ln = unpadded_length(p, c.width)
        # the whole field fits: the values before this one took at most width bytes each
        memcpy(c.values + c.total, p, c.width)
        if not utf8_valid(c.values + c.total, ln):
            return 1
        c.total += ln
        c.offsets[i + 1] = <int32_t>c.total
    elif c.kind == AK_CATEGORY:
        code = 0
        for ln in range(c.width):           # little-endian, as the .npy says ("<u2")
            code |= <uint64_t>(<const uint8_t *>p)[ln] << (8 * ln)
        if not valid:
            code = 0                        # a null's slot holds a valid index
        elif code >= <uint64_t>c.extra:
            return 1
        (<int32_t *>c.values)[i] = <int32_t>code
    elif c.kind == AK_DECIMAL:
        memcpy(&v, p, 8)
        (<int64_t *>c.values)[2 * i] = v
        (<int64_t *>c.values)[2 * i + 1] = -1 if v < 0 else 0
    elif c.kind == AK_DATE32:
        memcpy(&v, p, 8)
        if v == INT64_MIN:
            valid = False
            v = 0
        (<int32_t *>c.values)[i] = <int32_t>v
    elif c.kind == AK_BOOL:
        if p[0]:
            (<uint8_t *>c.values)[i >> 3] |= <uint8_t>(1 << (i & 7))
    elif c.kind == AK_BIT:
        if (<const uint8_t *>p)[0] & <uint8_t>c.extra:
            (<uint8_t *>c.values)[i >> 3] |= <uint8_t>(1 << (i & 7))
    if valid:
        if c.validity != NULL:
            c.validity[i >> 3] |= <uint8_t>(1 << (i & 7))
    else:
        c.null_count += 1
    return 0


cdef char *writable_buffer(object obj, list keep, Py_ssize_t need, Py_ssize_t col,
                          str what) except NULL:
    """The address of ``obj``'s writable bytes (a C-contiguous uint8 numpy array) of
    at least ``need`` bytes (else ValueError naming column ``col``'s ``what`` buffer);
    the memoryview that holds it is appended to ``keep``."""
    cdef uint8_t[::1] view = obj
    if view.shape[0] < need:
        raise ValueError(f"column {col}: {what} buffer of {view.shape[0]} bytes, "
                         f"{need} needed")
    keep.append(view)
    if view.shape[0] == 0:
        return <char *>1                    # never written: the plan gives it no rows
    return <char *>&view[0]


def arrow_decode(const uint8_t[::1] records, Py_ssize_t itemsize, const int64_t[:, ::1] plan,
                 list outs, int64_t[:, ::1] result):
    """Decodes ``len(records) // itemsize`` records into Arrow buffers.

    ``plan``: one row per column, ``(kind, nulls_from, off, width, null_off, null_mask,
    extra)`` (see the AK_/AN_ constants).  ``outs``: per column ``(values, validity,
    offsets)``, C-contiguous uint8 arrays (``validity`` and ``offsets`` may be None),
    zeroed where bits are set.  Fills ``result`` (one row per column: null count, bytes
    of string data) and returns ``(-1, -1)``, or ``(column, row)`` of the first value
    that is not valid (UTF-8, or a category code past its dictionary), where it stops.
    ValueError, before any row is read, for a plan that does not fit the records (kind,
    width, offsets) or a buffer too small for its ``n`` rows."""
    cdef Py_ssize_t n = records.shape[0] // itemsize if itemsize > 0 else 0
    cdef Py_ssize_t ncols = plan.shape[0]
    cdef Py_ssize_t i, j, bad_col = -1, bad_row = -1
    cdef const char *base
    cdef ArrowCol *cols
    cdef ArrowCol *c
    cdef Py_ssize_t bits, need
    cdef list keep = []
    if len(outs) != ncols or result.shape[0] != ncols or plan.shape[1] != 7:
        raise ValueError("plan, outs and result must have one row per column")
    if n == 0:
        result[:, :] = 0
        return -1, -1
    base = <const char *>&records[0]
    cols = <ArrowCol *>calloc(ncols, sizeof(ArrowCol))
    if cols == NULL:
        raise MemoryError()
    try:
        for j in range(ncols):
            values, validity, offsets = outs[j]
            cols[j].kind = <int>plan[j, 0]
            cols[j].nulls_from = <int>plan[j, 1]
            cols[j].off = plan[j, 2]
            cols[j].width = plan[j, 3]
            cols[j].null_off = plan[j, 4]
            cols[j].null_mask = <uint8_t>plan[j, 5]
            cols[j].extra = plan[j, 6]
            c = &cols[j]
            if c.off < 0 or c.width < 0 or c.off + max(c.width, 1) > itemsize:
                raise ValueError(f"column {j} lies outside the record")
            if c.nulls_from < AN_NONE or c.nulls_from > AN_NAT:
                raise ValueError(f"column {j}: unknown nulls source {c.nulls_from}")
            if c.nulls_from == AN_MASK and not 0 <= c.null_off < itemsize:
                raise ValueError(f"column {j}: null mask byte {c.null_off} outside the record")
            # the nogil loop trusts these: checked here, O(ncols), with the GIL
            bits = (n + 7) // 8
            if c.kind == AK_FIXED and c.width in (1, 2, 4, 8):
                need = n * c.width
            elif (c.kind == AK_DATE32 or c.kind == AK_DECIMAL) and c.width == 8:
                need = n * (4 if c.kind == AK_DATE32 else 16)
            elif c.kind == AK_CATEGORY and 1 <= c.width <= 8:
                need = n * 4
            elif c.kind == AK_STR:
                need = n * c.width
            elif c.kind == AK_BOOL or c.kind == AK_BIT:
                need = bits
            else:
                raise ValueError(f"column {j}: kind {c.kind} with width {c.width}")
            c.values = writable_buffer(values, keep, need, j, "values")
            if validity is not None:
                c.validity = <uint8_t *>writable_buffer(validity, keep, bits, j, "validity")
            if c.kind == AK_STR:
                if offsets is None:
                    raise ValueError(f"column {j}: a string column needs offsets")
                c.offsets = <int32_t *>writable_buffer(offsets, keep, 4 * (n + 1), j, "offsets")
                c.offsets[0] = 0
        with nogil:
            for i in range(n):
                for j in range(ncols):
                    if arrow_row(&cols[j], base + i * itemsize, i):
                        bad_col = j
                        bad_row = i
                        break
                if bad_col >= 0:
                    break
        for j in range(ncols):
            result[j, 0] = cols[j].null_count
            result[j, 1] = cols[j].total
        return bad_col, bad_row
    finally:
        free(cols)
