# Parquet footers: the row groups of a Parquet file's FileMetaData (Thrift compact
# protocol, https://github.com/apache/thrift/blob/master/doc/specs/thrift-compact-protocol.md)
# copied with their file offsets moved, so that row groups encoded apart can be
# appended to one file under one footer (export/parquet.py).
#
# Included by _core.pyx.  The walk copies every byte as read but the offsets it moves
# and the row groups' ordinals it renumbers; input that is not a compact-protocol
# struct (or nests deeper than 64) is an error, never a read past the end.

cdef enum:
    TH_STOP = 0
    TH_TRUE = 1
    TH_FALSE = 2
    TH_BYTE = 3
    TH_I16 = 4
    TH_I32 = 5
    TH_I64 = 6
    TH_DOUBLE = 7
    TH_BINARY = 8
    TH_LIST = 9
    TH_SET = 10
    TH_MAP = 11
    TH_STRUCT = 12

# which struct a walk is in: its offset fields move
cdef enum:
    PQ_OTHER = 0
    PQ_ROW_GROUP = 1       # file_offset (5); ordinal (7) renumbered; columns (1)
    PQ_COLUMN_CHUNK = 2    # file_offset (2), offset_index_offset (4), column_index_offset (6); meta_data (3)
    PQ_COLUMN_META = 3     # data_page (9), index_page (10), dictionary_page (11), bloom_filter (14)

ctypedef struct ThOut:
    uint8_t *p             # NULL: a walk that only skips
    Py_ssize_t len
    Py_ssize_t cap
    bint nomem             # a realloc failed (the walk stops as for bad input)

ctypedef struct ThIn:
    const uint8_t *s
    Py_ssize_t n
    Py_ssize_t pos
    bint page_index        # a column chunk with a (non-zero) page index offset seen

# th_* statuses below -1 (-1: not a compact-protocol struct)
cdef enum:
    TH_ORDINAL = -2        # a row-group ordinal past Thrift's i16
    TH_OVERFLOW = -3       # an offset moved past int64


cdef int th_put(ThOut *o, const uint8_t *s, Py_ssize_t n) noexcept nogil:
    cdef uint8_t *p
    cdef Py_ssize_t cap
    if o == NULL:
        return 0
    if o.len + n > o.cap:
        cap = max(2 * o.cap, o.len + n + 256)
        p = <uint8_t *>realloc(o.p, cap)
        if p == NULL:
            o.nomem = True
            return -1
        o.p = p
        o.cap = cap
    memcpy(o.p + o.len, s, n)
    o.len += n
    return 0


cdef int th_put_varint(ThOut *o, uint64_t v) noexcept nogil:
    cdef uint8_t buf[10]
    cdef Py_ssize_t k = 0
    while v >= 0x80:
        buf[k] = <uint8_t>(v & 0x7F) | 0x80
        v >>= 7
        k += 1
    buf[k] = <uint8_t>v
    return th_put(o, buf, k + 1)


cdef int th_varint(ThIn *r, uint64_t *v) noexcept nogil:
    cdef uint64_t out = 0
    cdef int shift = 0
    cdef uint8_t b
    while True:
        if r.pos >= r.n or shift > 63:
            return -1
        b = r.s[r.pos]
        r.pos += 1
        out |= <uint64_t>(b & 0x7F) << shift
        if not b & 0x80:
            v[0] = out
            return 0
        shift += 7


cdef inline int64_t th_unzig(uint64_t v) noexcept nogil:
    return <int64_t>(v >> 1) ^ -<int64_t>(v & 1)


cdef inline uint64_t th_zig(int64_t v) noexcept nogil:
    return (<uint64_t>v << 1) ^ <uint64_t>(v >> 63)


cdef int th_copy(ThIn *r, ThOut *o, Py_ssize_t start) noexcept nogil:
    """Copies the input bytes from ``start`` to where the reader is."""
    return th_put(o, r.s + start, r.pos - start)


cdef int th_bool_elem(ThIn *r, ThOut *o) noexcept nogil:
    """A bool that is a list, set or map element: one byte (unlike a bool field)."""
    if r.pos >= r.n or th_put(o, r.s + r.pos, 1) < 0:
        return -1
    r.pos += 1
    return 0


cdef int th_elem(ThIn *r, ThOut *o, int t, int kind, int64_t shift, int depth) noexcept nogil:
    if t == TH_TRUE or t == TH_FALSE:
        return th_bool_elem(r, o)
    return th_value(r, o, t, kind, shift, depth)


cdef int th_value(ThIn *r, ThOut *o, int t, int kind, int64_t shift, int depth) noexcept nogil:
    cdef Py_ssize_t start = r.pos
    cdef uint64_t v, size, k
    cdef uint8_t head
    cdef int elem, kt = 0, vt = 0, status
    if depth > 64:
        return -1
    if t == TH_TRUE or t == TH_FALSE:
        return 0
    if t == TH_BYTE or t == TH_DOUBLE:
        k = 1 if t == TH_BYTE else 8
        if r.pos + <Py_ssize_t>k > r.n:
            return -1
        r.pos += k
        return th_copy(r, o, start)
    if t == TH_I16 or t == TH_I32 or t == TH_I64:
        if th_varint(r, &v) < 0:
            return -1
        return th_copy(r, o, start)
    if t == TH_BINARY:
        if th_varint(r, &v) < 0 or v > <uint64_t>(r.n - r.pos):
            return -1
        r.pos += v
        return th_copy(r, o, start)
    if t == TH_LIST or t == TH_SET:
        if r.pos >= r.n:
            return -1
        head = r.s[r.pos]
        r.pos += 1
        size = head >> 4
        elem = head & 0x0F
        if size == 15 and th_varint(r, &size) < 0:
            return -1
        # every element is at least one byte: bounds the loop by the input
        if size > <uint64_t>(r.n - r.pos) or th_copy(r, o, start) < 0:
            return -1
        for k in range(size):
            status = th_elem(r, o, elem, kind, shift, depth + 1)
            if status < 0:
                return status
        return 0
    if t == TH_MAP:
        if th_varint(r, &size) < 0 or size > <uint64_t>(r.n - r.pos):
            return -1
        if size:
            if r.pos >= r.n:
                return -1
            kt = r.s[r.pos] >> 4
            vt = r.s[r.pos] & 0x0F
            r.pos += 1
        if th_copy(r, o, start) < 0:
            return -1
        for k in range(size):
            if th_elem(r, o, kt, PQ_OTHER, 0, depth + 1) < 0:
                return -1
            if th_elem(r, o, vt, PQ_OTHER, 0, depth + 1) < 0:
                return -1
        return 0
    if t == TH_STRUCT:
        return th_struct(r, o, kind, shift, -1, depth + 1)
    return -1


cdef inline bint th_moves(int kind, int64_t fid) noexcept nogil:
    if kind == PQ_ROW_GROUP:
        return fid == 5
    if kind == PQ_COLUMN_CHUNK:
        return fid == 2 or fid == 4 or fid == 6
    if kind == PQ_COLUMN_META:
        return fid == 9 or fid == 10 or fid == 11 or fid == 14
    return False


cdef int th_struct(ThIn *r, ThOut *o, int kind, int64_t shift, int64_t ordinal,
                   int depth) noexcept nogil:
    """Copies one struct; in a row group, column chunk or column metadata the offset
    fields move by ``shift`` (a 0, "not set", stays) and a row group's ordinal becomes
    ``ordinal``."""
    cdef int64_t fid, last = 0, x
    cdef Py_ssize_t start
    cdef uint64_t v
    cdef uint8_t head
    cdef int t, child, status
    if depth > 64:
        return -1
    while True:
        start = r.pos
        if r.pos >= r.n:
            return -1
        head = r.s[r.pos]
        r.pos += 1
        t = head & 0x0F
        if t == TH_STOP:
            return th_copy(r, o, start)
        if head >> 4:
            fid = last + (head >> 4)
        else:
            if th_varint(r, &v) < 0:
                return -1
            fid = th_unzig(v)
        last = fid
        if th_copy(r, o, start) < 0:   # the field header as it was
            return -1
        if t == TH_I64 and th_moves(kind, fid):
            if th_varint(r, &v) < 0:
                return -1
            x = th_unzig(v)
            if x != 0 and kind == PQ_COLUMN_CHUNK and fid != 2:
                r.page_index = True      # its offsets inside the body would not move
            if x != 0:
                if (shift > 0 and x > INT64_MAX - shift) or (shift < 0 and x < INT64_MIN - shift):
                    return TH_OVERFLOW
                v = th_zig(x + shift)
            if th_put_varint(o, v) < 0:
                return -1
            continue
        if t == TH_I16 and kind == PQ_ROW_GROUP and fid == 7 and ordinal >= 0:
            if ordinal > 32767:
                return TH_ORDINAL
            if th_varint(r, &v) < 0 or th_put_varint(o, th_zig(ordinal)) < 0:
                return -1
            continue
        child = PQ_OTHER
        if kind == PQ_ROW_GROUP and fid == 1:
            child = PQ_COLUMN_CHUNK
        elif kind == PQ_COLUMN_CHUNK and fid == 3:
            child = PQ_COLUMN_META
        status = th_value(r, o, t, child, shift, depth + 1)
        if status < 0:
            return status


def parquet_row_groups(const uint8_t[::1] footer, int64_t shift, int64_t first_ordinal):
    """The row groups of a Parquet ``FileMetaData`` (the footer's Thrift bytes), each
    struct copied with its file offsets moved by ``shift`` and its ordinal (when it has
    one) counting from ``first_ordinal``.

    Returns ``(groups, count, num_rows, spans)``: the row-group structs back to back,
    how many, the file's row count, and ``spans`` = ``(rows_start, rows_end,
    groups_start, groups_end)``, where in ``footer`` the values of ``num_rows`` (field
    3) and ``row_groups`` (field 4: the list header and its structs) lie.  ValueError
    when ``footer`` is not such a struct (or repeats ``num_rows`` or ``row_groups``),
    when a column chunk has a page index and ``shift`` is not 0 (the index's page
    offsets, in the file's body, would not move), when a moved offset passes int64, and when an ordinal would pass 32767
    (Thrift's i16; the export then refuses rather than write one readers truncate).
    MemoryError when the copy cannot grow."""
    cdef ThIn r
    cdef ThOut o
    cdef int64_t fid, last = 0, num_rows = -1, count = -1, k
    cdef Py_ssize_t rows_start = -1, rows_end = -1, groups_start = -1, groups_end = -1
    cdef uint64_t v, size
    cdef uint8_t head
    cdef int t, status = 0
    r.s = &footer[0] if footer.shape[0] else NULL
    r.n = footer.shape[0]
    r.pos = 0
    r.page_index = False
    o.p = NULL
    o.len = 0
    o.cap = 0
    o.nomem = False
    try:
        with nogil:
            while True:
                if r.pos >= r.n:
                    status = -1
                    break
                head = r.s[r.pos]
                r.pos += 1
                t = head & 0x0F
                if t == TH_STOP:
                    break
                if head >> 4:
                    fid = last + (head >> 4)
                elif th_varint(&r, &v) < 0:
                    status = -1
                    break
                else:
                    fid = th_unzig(v)
                last = fid
                if (fid == 3 and rows_start >= 0) or (fid == 4 and groups_start >= 0):
                    status = -1      # repeated: the splice would keep only one of them
                    break
                if fid == 3 and t == TH_I64:
                    rows_start = r.pos
                    if th_varint(&r, &v) < 0:
                        status = -1
                        break
                    num_rows = th_unzig(v)
                    rows_end = r.pos
                elif fid == 4 and t == TH_LIST:
                    groups_start = r.pos
                    if r.pos >= r.n or (r.s[r.pos] & 0x0F) != TH_STRUCT:
                        status = -1
                        break
                    size = r.s[r.pos] >> 4
                    r.pos += 1
                    if size == 15 and th_varint(&r, &size) < 0:
                        status = -1
                        break
                    count = <int64_t>size
                    if size > <uint64_t>(r.n - r.pos):
                        status = -1
                        break
                    for k in range(count):
                        status = th_struct(&r, &o, PQ_ROW_GROUP, shift, first_ordinal + k, 1)
                        if status < 0:
                            break
                    if status < 0:
                        break
                    groups_end = r.pos
                elif th_value(&r, NULL, t, PQ_OTHER, 0, 1) < 0:
                    status = -1
                    break
        if o.nomem:
            raise MemoryError(f"copying the row groups of a {r.n}-byte Parquet footer")
        if status == TH_ORDINAL:
            raise ValueError(f"more than 32768 row groups (Parquet's row-group ordinal is "
                             f"an i16): write fewer, larger ones")
        if status == TH_OVERFLOW:
            raise ValueError(f"a file offset moved by {shift} passes int64")
        if status == 0 and r.page_index and shift != 0:
            raise ValueError("a column chunk has a page index, whose offsets in the file's "
                             "body would not move: write the parts with write_page_index=False")
        if status < 0 or num_rows < 0 or count < 0:
            raise ValueError("not a Parquet footer (FileMetaData with num_rows and row_groups)")
        groups = (<char *>o.p)[:o.len] if o.len else b""
        return groups, count, num_rows, (rows_start, rows_end, groups_start, groups_end)
    finally:
        free(o.p)
