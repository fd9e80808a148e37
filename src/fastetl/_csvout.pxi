# CSV out: records (one batch of a converted file) as RFC 4180 text, one C loop per batch;
# the same loop writes JSON Lines (``json``: each cell after its key, strings escaped as
# RFC 8259 says, decimals, dates and datetimes as strings, ``{...}\n`` lines).
#
# Included by _core.pyx.  Used by export/csv.py and export/jsonl.py, which build the
# column specs once per export (what each output column reads from a record, and how it
# is spelled) and the
# few columns no loop here spells (floats, dates in a custom format: Arrow formats them;
# categories: their cells are made once per export) as ready cells.  The loop never
# raises: it returns how far it got and, for a value it refuses, the row and column.

from libc.stdint cimport int8_t, int16_t, int32_t, uint16_t
from libc.string cimport memmove

CSV_KINDS = {
    "empty": 0, "int": 1, "uint": 2, "decimal": 3, "date": 4, "datetime": 5, "bool": 6,
    "str": 7, "category": 8, "cells": 9, "flagbit": 10,
}  # fmt: skip
cdef enum:
    BAD_UTF8 = 1  # a str value that is not UTF-8
    BAD_CODE = 2  # a category code past the dictionary
    BAD_CELL = 3  # a cell the dialect cannot spell (e.g. a delimiter with no quote or escape)
CSV_BAD_UTF8 = BAD_UTF8
CSV_BAD_CODE = BAD_CODE
CSV_BAD_CELL = BAD_CELL

cdef struct OutDialect:
    char delim
    char quote      # 0: none
    char esc        # 0: none
    char comment    # 0: none
    char mark       # decimal mark
    bint trailing   # every line ends with a delimiter

cdef struct OutCol:
    int kind
    Py_ssize_t offset       # of the field in the record
    int size                # bytes of an int/uint/code field; width of a str field
    int scale               # decimal: digits after the point; datetime: fraction digits
    int64_t unit_mul        # datetime: units per second
    bint utc                # datetime: write Z
    Py_ssize_t null_byte    # byte of the record holding the null bit (-1: none)
    uint8_t null_mask
    uint8_t bit_mask        # flagbit: the bit in the byte at offset
    bint escape             # text: neutralise cells that start a formula
    bint quote              # cells: quote where needed (else written as they are)
    const int64_t *cell_off # cells / category: where cell k starts (ncells + 1 items)
    const char *cell_data
    Py_ssize_t ncells
    const uint8_t *cell_valid   # cells: 1 where the row's cell is not null (NULL: all)
    const char *key         # json: what comes before the value ('{"name":' or ',"name":')
    Py_ssize_t key_len


cdef inline Py_ssize_t put_u64(char *p, uint64_t v) noexcept nogil:
    cdef char tmp[20]
    cdef int n = 0, k
    while True:
        tmp[n] = <char>(c'0' + v % 10)
        n += 1
        v //= 10
        if v == 0:
            break
    for k in range(n):
        p[k] = tmp[n - 1 - k]
    return n


cdef inline Py_ssize_t put_i64(char *p, int64_t v) noexcept nogil:
    if v < 0:
        p[0] = c'-'
        return 1 + put_u64(p + 1, <uint64_t>0 - <uint64_t>v)
    return put_u64(p, <uint64_t>v)


cdef inline void put_digits(char *p, uint64_t v, int n) noexcept nogil:
    """``v`` as exactly ``n`` digits, zero-padded."""
    cdef int k
    for k in range(n - 1, -1, -1):
        p[k] = <char>(c'0' + v % 10)
        v //= 10


cdef inline int64_t floor_div(int64_t a, int64_t b) noexcept nogil:
    cdef int64_t q = a / b   # (cdivision: truncates)
    if (a % b != 0) and ((a < 0) != (b < 0)):
        q -= 1
    return q


cdef inline Py_ssize_t put_date(char *p, int64_t z) noexcept nogil:
    """Days since 1970-01-01 as YYYY-MM-DD (H. Hinnant's civil_from_days)."""
    cdef int64_t era, doe, yoe, y, doy, mp, d, m
    z += 719468
    era = floor_div(z, 146097)
    doe = z - era * 146097
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
    mp = (5 * doy + 2) / 153
    d = doy - (153 * mp + 2) / 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    if m <= 2:
        y += 1
    put_digits(p, <uint64_t>y, 4)   # years 1..9999: what the core reads
    p[4] = c'-'
    put_digits(p + 5, <uint64_t>m, 2)
    p[7] = c'-'
    put_digits(p + 8, <uint64_t>d, 2)
    return 10


cdef inline bint plain_number(const char *s, Py_ssize_t n) noexcept nogil:
    """[+-]?(D+(.D*)?|.D+)([eE][+-]?D+)? -- a cell a spreadsheet reads as a number."""
    cdef Py_ssize_t i = 0, k
    if i < n and (s[i] == c'+' or s[i] == c'-'):
        i += 1
    k = i
    while i < n and c'0' <= s[i] <= c'9':
        i += 1
    if i < n and s[i] == c'.':
        i += 1
        if i - k == 1 and not (i < n and c'0' <= s[i] <= c'9'):
            return False  # "." alone
        while i < n and c'0' <= s[i] <= c'9':
            i += 1
    elif i == k:
        return False
    if i < n and (s[i] == c'e' or s[i] == c'E'):
        i += 1
        if i < n and (s[i] == c'+' or s[i] == c'-'):
            i += 1
        k = i
        while i < n and c'0' <= s[i] <= c'9':
            i += 1
        if i == k:
            return False
    return i == n


cdef inline bint starts_formula(const char *s, Py_ssize_t n) noexcept nogil:
    """OWASP's CSV injection: a cell starting with = + - @ TAB or CR, unless a plain number."""
    if n == 0:
        return False
    if s[0] != c'=' and s[0] != c'+' and s[0] != c'-' and s[0] != c'@' and s[0] != c'\t' \
            and s[0] != c'\r':
        return False
    return not plain_number(s, n)


cdef inline Py_ssize_t put_text(char *p, const char *s, Py_ssize_t n, bint escape) noexcept nogil:
    """A text cell: quoted, quotes doubled, a leading ' where it would start a formula."""
    cdef Py_ssize_t i, j = 1
    cdef const char *q
    p[0] = c'"'
    if escape and starts_formula(s, n):
        p[1] = c"'"
        j = 2
    i = 0
    while i < n:
        q = <const char *>memchr(s + i, c'"', n - i)
        if q == NULL:
            memcpy(p + j, s + i, n - i)
            j += n - i
            break
        memcpy(p + j, s + i, q - (s + i) + 1)
        j += q - (s + i) + 1
        p[j] = c'"'
        j += 1
        i = q - s + 1
    p[j] = c'"'
    return j + 1


cdef inline Py_ssize_t put_json_text(char *p, const char *s, Py_ssize_t n) noexcept nogil:
    """A JSON string (RFC 8259): quoted; quote, backslash and the controls U+0000 to
    U+001F escaped (``\\n \\r \\t \\b \\f``, else ``\\u00XX``); UTF-8 as it is."""
    cdef Py_ssize_t i, j = 1, run = 0
    cdef uint8_t b
    cdef const char *hexd = b"0123456789abcdef"
    p[0] = c'"'
    for i in range(n):
        b = <uint8_t>s[i]
        if b >= 0x20 and b != 0x22 and b != 0x5C:
            continue
        if i > run:
            memcpy(p + j, s + run, i - run)
            j += i - run
        run = i + 1
        p[j] = c'\\'
        if b == 0x22 or b == 0x5C:
            p[j + 1] = <char>b
        elif b == 0x0A:
            p[j + 1] = c'n'
        elif b == 0x0D:
            p[j + 1] = c'r'
        elif b == 0x09:
            p[j + 1] = c't'
        elif b == 0x08:
            p[j + 1] = c'b'
        elif b == 0x0C:
            p[j + 1] = c'f'
        else:
            memcpy(p + j + 1, b"u00", 3)
            p[j + 4] = hexd[b >> 4]
            p[j + 5] = hexd[b & 15]
            j += 4
        j += 2
    if n > run:
        memcpy(p + j, s + run, n - run)
        j += n - run
    p[j] = c'"'
    return j + 1


cdef inline bint is_special(const OutDialect *d, char ch) noexcept nogil:
    return (ch == d.delim or ch == c'\r' or ch == c'\n' or (d.quote != 0 and ch == d.quote)
            or (d.esc != 0 and ch == d.esc) or (d.comment != 0 and ch == d.comment))


cdef Py_ssize_t put_text_d(char *p, const char *s, Py_ssize_t n, bint escape,
                           const OutDialect *d) noexcept nogil:
    """A text cell in dialect ``d``: quoted by its quote (quotes doubled, escapes escaped);
    without a quote, raw with the escape before each special byte.  A leading ' where it
    would start a formula.  -1: the dialect cannot spell it (no quote, no escape)."""
    cdef Py_ssize_t i, j = 0
    cdef char ch
    if d.quote == c'"' and d.esc == 0:
        return put_text(p, s, n, escape)
    if d.quote != 0:
        p[0] = d.quote
        j = 1
    if escape and starts_formula(s, n):
        if d.quote == c"'":  # (the mark is text: doubled as any quote inside quotes)
            p[j] = c"'"
            j += 1
        elif d.quote == 0 and is_special(d, c"'"):
            if d.esc == 0:
                return -1
            p[j] = d.esc
            j += 1
        p[j] = c"'"
        j += 1
    for i in range(n):
        ch = s[i]
        if d.quote != 0:
            if ch == d.quote:
                p[j] = ch
                j += 1
            elif d.esc != 0 and ch == d.esc:
                p[j] = ch
                j += 1
        elif is_special(d, ch):
            if d.esc == 0:
                return -1
            p[j] = d.esc
            j += 1
        p[j] = ch
        j += 1
    if d.quote != 0:
        p[j] = d.quote
        j += 1
    return j


cdef inline Py_ssize_t wrap_cell(char *p, Py_ssize_t n, const OutDialect *d) noexcept nogil:
    """A cell written at p[0:n] with no quoting (a number, a date...): quoted when it holds
    a byte the dialect reads otherwise (a ``,`` decimal mark with a ``,`` delimiter, a
    comment mark).  Returns its new length, or -1 when the dialect cannot spell it."""
    cdef Py_ssize_t i
    cdef bint special = False
    for i in range(n):
        if is_special(d, p[i]):
            if d.quote != 0 and p[i] == d.quote:
                return -1
            special = True
    if not special:
        return n
    if d.quote == 0:
        return -1
    memmove(p + 1, p, n)
    p[0] = d.quote
    p[n + 1] = d.quote
    return n + 2


cdef inline bint needs_quotes(const char *s, Py_ssize_t n, const OutDialect *d) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        if is_special(d, s[i]):
            return True
    return False


cdef inline uint64_t read_uint(const char *p, int size) noexcept nogil:
    if size == 1:
        return (<const uint8_t *>p)[0]
    if size == 2:
        return (<const uint16_t *>p)[0]
    if size == 4:
        return (<const uint32_t *>p)[0]
    return (<const uint64_t *>p)[0]


cdef inline int64_t read_int(const char *p, int size) noexcept nogil:
    if size == 1:
        return (<const int8_t *>p)[0]
    if size == 2:
        return (<const int16_t *>p)[0]
    if size == 4:
        return (<const int32_t *>p)[0]
    return (<const int64_t *>p)[0]


cdef Py_ssize_t csv_rows_nogil(const char *recs, Py_ssize_t itemsize, Py_ssize_t start,
                               Py_ssize_t stop, OutCol *cols, int ncols, const char *null,
                               Py_ssize_t null_len, char *out, Py_ssize_t cap,
                               Py_ssize_t row_max, Py_ssize_t *used, int *status,
                               int *bad_col, const OutDialect *d, bint json) noexcept nogil:
    """Rows [start, stop) of the records as CSV lines in dialect ``d`` (``json``: JSON Lines)
    into out[0:cap], while a line of at most ``row_max`` bytes still fits.  Returns the row
    it stopped at (``used``: bytes written); on a value it refuses, sets ``status`` and
    ``bad_col`` and returns its row."""
    cdef Py_ssize_t r, pos = 0, n, k, i, cs
    cdef bint plain
    cdef const char *rec
    cdef const char *s
    cdef OutCol *c
    cdef int j
    cdef int64_t v, secs, frac, days, sod
    cdef uint64_t code
    for r in range(start, stop):
        if pos + row_max > cap:
            used[0] = pos
            return r
        rec = recs + r * itemsize
        for j in range(ncols):
            c = &cols[j]
            if json:
                memcpy(out + pos, c.key, c.key_len)
                pos += c.key_len
            elif j:
                out[pos] = d.delim
                pos += 1
            cs = pos
            plain = True  # a cell written unquoted: checked against the dialect below
            if c.null_byte >= 0 and (<const uint8_t *>rec)[c.null_byte] & c.null_mask:
                memcpy(out + pos, null, null_len)
                pos += null_len
                continue
            if c.kind == 1:
                pos += put_i64(out + pos, read_int(rec + c.offset, c.size))
            elif c.kind == 2:
                pos += put_u64(out + pos, read_uint(rec + c.offset, c.size))
            elif c.kind == 3:
                v = (<const int64_t *>(rec + c.offset))[0]
                if json:  # an exact string: most JSON readers make numbers binary floats
                    out[pos] = c'"'
                    pos += 1
                if c.scale == 0:
                    pos += put_i64(out + pos, v)
                else:
                    code = <uint64_t>0 - <uint64_t>v if v < 0 else <uint64_t>v
                    if v < 0:
                        out[pos] = c'-'
                        pos += 1
                    pos += put_u64(out + pos, code / <uint64_t>c.unit_mul)
                    out[pos] = d.mark
                    put_digits(out + pos + 1, code % <uint64_t>c.unit_mul, c.scale)
                    pos += 1 + c.scale
                if json:
                    out[pos] = c'"'
                    pos += 1
            elif c.kind == 4 or c.kind == 5:
                v = (<const int64_t *>(rec + c.offset))[0]
                if v == INT64_MIN:  # NaT: a null
                    memcpy(out + pos, null, null_len)
                    pos += null_len
                    continue
                if json:
                    out[pos] = c'"'
                    pos += 1
                if c.kind == 4:
                    pos += put_date(out + pos, v)
                else:
                    secs = floor_div(v, c.unit_mul)
                    frac = v - secs * c.unit_mul
                    days = floor_div(secs, 86400)
                    sod = secs - days * 86400
                    pos += put_date(out + pos, days)
                    out[pos] = c'T'
                    put_digits(out + pos + 1, <uint64_t>(sod / 3600), 2)
                    out[pos + 3] = c':'
                    put_digits(out + pos + 4, <uint64_t>(sod / 60 % 60), 2)
                    out[pos + 6] = c':'
                    put_digits(out + pos + 7, <uint64_t>(sod % 60), 2)
                    pos += 9
                    if c.scale > 0:
                        out[pos] = c'.'
                        put_digits(out + pos + 1, <uint64_t>frac, c.scale)
                        pos += 1 + c.scale
                    if c.utc:
                        out[pos] = c'Z'
                        pos += 1
                if json:
                    out[pos] = c'"'
                    pos += 1
            elif c.kind == 6 or c.kind == 10:
                if c.kind == 6:
                    k = rec[c.offset] != 0
                else:
                    k = ((<const uint8_t *>rec)[c.offset] & c.bit_mask) != 0
                if k:
                    memcpy(out + pos, b"true", 4)
                    pos += 4
                else:
                    memcpy(out + pos, b"false", 5)
                    pos += 5
            elif c.kind == 7:
                s = rec + c.offset
                n = unpadded_length(s, c.size)
                if not utf8_valid(s, n):
                    status[0] = BAD_UTF8
                    bad_col[0] = j
                    used[0] = pos
                    return r
                if json:
                    pos += put_json_text(out + pos, s, n)
                else:
                    k = put_text_d(out + pos, s, n, c.escape, d)
                    if k < 0:
                        status[0] = BAD_CELL
                        bad_col[0] = j
                        used[0] = pos
                        return r
                    pos += k
                plain = False
            elif c.kind == 8:
                code = read_uint(rec + c.offset, c.size)
                if code >= <uint64_t>c.ncells:
                    status[0] = BAD_CODE
                    bad_col[0] = j
                    used[0] = pos
                    return r
                n = c.cell_off[code + 1] - c.cell_off[code]
                memcpy(out + pos, c.cell_data + c.cell_off[code], n)
                pos += n
                plain = False  # (cells made in the dialect's spelling)
            elif c.kind == 9:
                i = r
                if c.cell_valid != NULL and not c.cell_valid[i]:
                    memcpy(out + pos, null, null_len)
                    pos += null_len
                    continue
                s = c.cell_data + c.cell_off[i]
                n = c.cell_off[i + 1] - c.cell_off[i]
                if c.escape or (c.quote and needs_quotes(s, n, d)):
                    k = put_text_d(out + pos, s, n, c.escape, d)
                    if k < 0:
                        status[0] = BAD_CELL
                        bad_col[0] = j
                        used[0] = pos
                        return r
                    pos += k
                    plain = False
                else:
                    memcpy(out + pos, s, n)
                    pos += n
                    plain = c.quote  # (without quote: cells made in the dialect's spelling)
            # kind 0 (empty): nothing
            if plain and not json and pos > cs:
                k = wrap_cell(out + cs, pos - cs, d)
                if k < 0:
                    status[0] = BAD_CELL
                    bad_col[0] = j
                    used[0] = cs
                    return r
                pos = cs + k
        if json:
            if ncols == 0:
                out[pos] = c'{'
                pos += 1
            out[pos] = c'}'
            out[pos + 1] = c'\n'
        else:
            if d.trailing:
                out[pos] = d.delim
                pos += 1
            out[pos] = c'\r'
            out[pos + 1] = c'\n'
        pos += 2
    used[0] = pos
    return stop


def csv_rows(object records, Py_ssize_t start, Py_ssize_t stop, list specs, bytes null,
             object out, Py_ssize_t row_max, tuple dialect=None, bint json=False):
    """Rows [start, stop) of the 1-d contiguous structured array ``records`` as CSV lines
    (``\\r\\n``) into the writable buffer ``out``, spelled by ``specs`` (one dict per output
    column: see export/csv.py); ``null`` is a null's text.  ``json``: JSON Lines instead
    (each spec's ``key`` bytes before its value; see export/jsonl.py).  Stops early when a line of
    ``row_max`` bytes might not fit.  Returns ``(row stopped at, bytes used, status,
    column)``: status 0, or CSV_BAD_UTF8 / CSV_BAD_CODE / CSV_BAD_CELL at that row and
    column.  Cells of a ``cells`` column are indexed by row, as the records are.
    ``dialect``: ``(delimiter, quote, escape, comment, decimal mark, trailing delimiter)``,
    one-byte ``bytes`` (``b""`` for none) and a bool; default RFC 4180."""
    cdef Py_buffer rb, ob
    cdef OutCol *cols = NULL
    cdef int ncols = len(specs), j, status = 0, bad_col = -1
    cdef Py_ssize_t used = 0, got, itemsize
    cdef const char *nul = null
    cdef Py_ssize_t null_len = len(null)
    cdef list keep = []
    cdef Py_buffer *views = NULL
    cdef int nviews = 0
    cdef OutDialect d
    d.delim, d.quote, d.esc, d.comment, d.mark, d.trailing = c',', c'"', 0, 0, c'.', False
    if dialect is not None:
        for k, b in enumerate(dialect[:5]):
            if len(b) > 1 or (k in (0, 4) and len(b) != 1):
                raise ValueError(f"dialect item {k} must be one byte, got {b!r}")
        d.delim = (<bytes>dialect[0])[0]
        d.quote = (<bytes>dialect[1])[0] if dialect[1] else 0
        d.esc = (<bytes>dialect[2])[0] if dialect[2] else 0
        d.comment = (<bytes>dialect[3])[0] if dialect[3] else 0
        d.mark = (<bytes>dialect[4])[0]
        d.trailing = bool(dialect[5])
    PyObject_GetBuffer(records, &rb, PyBUF_SIMPLE)
    try:
        PyObject_GetBuffer(out, &ob, PyBUF_WRITABLE)
        try:
            itemsize = records.dtype.itemsize
            if stop > rb.len // max(itemsize, 1) or start < 0 or start > stop:
                raise ValueError("rows out of range")
            cols = <OutCol *>calloc(max(ncols, 1), sizeof(OutCol))
            views = <Py_buffer *>calloc(max(3 * ncols, 1), sizeof(Py_buffer))
            if cols == NULL or views == NULL:
                raise MemoryError()
            for j in range(ncols):
                spec = specs[j]
                cols[j].kind = spec["kind"]
                cols[j].offset = spec.get("offset", 0)
                cols[j].size = spec.get("size", 0)
                cols[j].scale = spec.get("scale", 0)
                cols[j].unit_mul = spec.get("unit_mul", 1)
                cols[j].utc = spec.get("utc", False)
                cols[j].null_byte = spec.get("null_byte", -1)
                cols[j].null_mask = spec.get("null_mask", 0)
                cols[j].bit_mask = spec.get("bit_mask", 0)
                cols[j].escape = spec.get("escape", False)
                cols[j].quote = spec.get("quote", False)
                if json:
                    key = spec["key"]
                    keep.append(key)
                    cols[j].key = <const char *>(<bytes>key)
                    cols[j].key_len = len(<bytes>key)
                if "cell_off" in spec:
                    PyObject_GetBuffer(spec["cell_off"], &views[nviews], PyBUF_SIMPLE)
                    cols[j].cell_off = <const int64_t *>views[nviews].buf
                    cols[j].ncells = views[nviews].len // 8 - 1
                    nviews += 1
                    PyObject_GetBuffer(spec["cell_data"], &views[nviews], PyBUF_SIMPLE)
                    cols[j].cell_data = <const char *>views[nviews].buf
                    nviews += 1
                    if spec.get("cell_valid") is not None:
                        PyObject_GetBuffer(spec["cell_valid"], &views[nviews], PyBUF_SIMPLE)
                        cols[j].cell_valid = <const uint8_t *>views[nviews].buf
                        nviews += 1
            with nogil:
                got = csv_rows_nogil(<const char *>rb.buf, itemsize, start, stop, cols, ncols,
                                     nul, null_len, <char *>ob.buf, ob.len, row_max, &used,
                                     &status, &bad_col, &d, json)
            return got, used, status, bad_col
        finally:
            for j in range(nviews):
                PyBuffer_Release(&views[j])
            free(views)
            free(cols)
            PyBuffer_Release(&ob)
    finally:
        PyBuffer_Release(&rb)
