# The sample classifier: what kind of values a column's sampled texts are, for inference.
#
# Included by _core.pyx.  infer.py keeps the decisions (docs/INFERENCE.md); these
# functions answer its questions over a whole column in one compiled pass: the
# texts' pointers are gathered with the GIL, then read without it.  Each mirrors the
# exact syntax infer.py documents (the converter's syntax): tests/test_infer_core.py
# checks them against independent references (re, int(), float(), datetime).

cdef extern from "Python.h":
    bint PyUnicode_IS_ASCII(object o)
    void *PyUnicode_DATA(object o)
    Py_ssize_t PyUnicode_GET_LENGTH(object o)

cdef enum:
    VK_NOT = 0      # not a number
    VK_INT = 1      # [+-]?[0-9]+
    VK_FLOAT = 2    # a number with a fraction or an exponent
    VK_WORD = 3     # inf, infinity, nan (any case, an optional sign)


cdef struct Texts:
    Py_ssize_t count
    const char **ptr
    Py_ssize_t *len
    Py_ssize_t longest
    bint ascii          # every text is ASCII


cdef int texts_gather(list vals, Texts *t) except -1:
    """The pointers and lengths of the str ``vals`` (borrowed: ``vals`` must stay alive);
    stops early (``ascii`` false) at the first text that is not ASCII."""
    cdef Py_ssize_t i, n = len(vals)
    cdef object v
    t.count = 0
    t.longest = 0
    t.ascii = True
    t.ptr = <const char **>malloc((n + 1) * sizeof(char *))
    t.len = <Py_ssize_t *>malloc((n + 1) * sizeof(Py_ssize_t))
    if t.ptr == NULL or t.len == NULL:
        free(t.ptr)
        free(t.len)
        raise MemoryError()
    for i in range(n):
        v = vals[i]
        if not isinstance(v, str) or not PyUnicode_IS_ASCII(v):
            t.ascii = False
            return 0
        t.ptr[i] = <const char *>PyUnicode_DATA(v)
        t.len[i] = PyUnicode_GET_LENGTH(v)
        if t.len[i] > t.longest:
            t.longest = t.len[i]
        t.count = i + 1
    return 0


cdef void texts_free(Texts *t) noexcept:
    free(t.ptr)
    free(t.len)


cdef int value_kind(const char *s, Py_ssize_t n) noexcept nogil:
    """The kind of the text ``s[:n]``: a number,
    ``[+-]?(?:[0-9]+(?:\\.[0-9]*)?|\\.[0-9]+)(?:[eE][+-]?[0-9]+)?``, or a float word."""
    cdef Py_ssize_t i = 0
    cdef Py_ssize_t j, k, whole, frac
    cdef bint point = False
    if n > 0 and (s[0] == c'+' or s[0] == c'-'):
        i = 1
    j = i
    while i < n and is_digit(s[i]):
        i += 1
    whole = i - j
    if i < n and s[i] == c'.':
        point = True
        i += 1
        k = i
        while i < n and is_digit(s[i]):
            i += 1
        frac = i - k
        if whole == 0 and frac == 0:
            return VK_NOT
    elif whole == 0:
        j = 1 if n > 0 and (s[0] == c'+' or s[0] == c'-') else 0
        if (eq_nocase(s + j, n - j, b"inf", 3) or eq_nocase(s + j, n - j, b"infinity", 8)
                or eq_nocase(s + j, n - j, b"nan", 3)):
            return VK_WORD
        return VK_NOT
    if i < n and (s[i] == c'e' or s[i] == c'E'):
        j = i + 1
        if j < n and (s[j] == c'+' or s[j] == c'-'):
            j += 1
        k = j
        while j < n and is_digit(s[j]):
            j += 1
        if j == k:
            return VK_NOT
        i = j
        point = True
    if i != n:
        return VK_NOT
    return VK_FLOAT if point else VK_INT


cdef int texts_numeric(Texts *t, char dec, char thou, char *buf) noexcept nogil:
    """infer.py's ``_numeric`` of the texts read under the spelling (dec, thou): 1 every
    one an integer, 2 numbers (some with a fraction, an exponent or a word; at least one
    not a word), 0 otherwise (or a separator misplaced).  ``buf``: room for the longest."""
    cdef Py_ssize_t i, n
    cdef bint plain = dec == c'.' and thou == 0
    cdef bint only_ints = True
    cdef bint numbers = False
    cdef const char *s
    cdef int k
    for i in range(t.count):
        s = t.ptr[i]
        n = t.len[i]
        if not plain:
            n = normalize_number(s, n, dec, thou, buf)
            if n < 0:
                return 0
            s = buf
        k = value_kind(s, n)
        if k == VK_NOT:
            return 0
        if k == VK_WORD:
            only_ints = False
            continue
        numbers = True
        if k == VK_FLOAT:
            only_ints = False
    if not numbers:
        return 0
    return 1 if only_ints else 2


def numeric_kind(list vals, int decimal=46, int thousands=0):
    """What the distinct trimmed texts ``vals`` are under the number spelling
    (``decimal``, ``thousands``: bytes, 0 for none): 1 integers, 2 numbers, 0 not all
    numbers (infer.py's ``_numeric`` of ``_spelled``)."""
    cdef Texts t
    cdef int out = 0
    cdef char *buf
    texts_gather(vals, &t)
    try:
        if not t.ascii:
            return 0
        buf = <char *>malloc(t.longest + 1)
        if buf == NULL:
            raise MemoryError()
        with nogil:
            out = texts_numeric(&t, <char>decimal, <char>thousands, buf)
        free(buf)
        return out
    finally:
        texts_free(&t)


cdef inline bint mag_less(bint an, uint64_t am, bint bn, uint64_t bm) noexcept nogil:
    """(-1)**an * am < (-1)**bn * bm, zero having no sign."""
    if an != bn:
        return an
    return am > bm if an else am < bm


def int_range(list vals):
    """``(lo, hi)`` of the integer texts ``vals`` (each ``[+-]?[0-9]+``), or None when one
    has a leading zero (``007``: an identifier), more than 20 digits or a magnitude past
    64 bits: inference keeps such a column as text."""
    cdef Texts t
    cdef Py_ssize_t i, j, n
    cdef const char *s
    cdef bint neg, lo_neg = False, hi_neg = False
    cdef uint64_t mag, lo_mag = 0, hi_mag = 0
    cdef bint ok = True
    texts_gather(vals, &t)
    try:
        if not t.ascii or t.count == 0:
            return None
        with nogil:
            for i in range(t.count):
                s = t.ptr[i]
                n = t.len[i]
                j = 1 if n > 0 and (s[0] == c'+' or s[0] == c'-') else 0
                if n - j > 20 or (n - j > 1 and s[j] == c'0'):
                    ok = False
                    break
                if parse_uint_magnitude(s, n, &neg, &mag) != ST_OK:
                    ok = False
                    break
                if mag == 0:
                    neg = False
                if i == 0 or mag_less(neg, mag, lo_neg, lo_mag):
                    lo_neg, lo_mag = neg, mag
                if i == 0 or mag_less(hi_neg, hi_mag, neg, mag):
                    hi_neg, hi_mag = neg, mag
        if not ok:
            return None
        lo = -<object>lo_mag if lo_neg else <object>lo_mag
        hi = -<object>hi_mag if hi_neg else <object>hi_mag
        return (lo, hi)
    finally:
        texts_free(&t)


def iso_dates(list vals):
    """Is every text of ``vals`` a real calendar date written ``YYYY-MM-DD``?"""
    cdef Texts t
    cdef Py_ssize_t i, at
    cdef int64_t days
    cdef bint ok = True
    texts_gather(vals, &t)
    try:
        if not t.ascii:
            return False
        with nogil:
            for i in range(t.count):
                at = 0
                if t.len[i] != 10 or parse_iso_date(t.ptr[i], 10, &at, &days) != ST_OK:
                    ok = False
                    break
        return ok
    finally:
        texts_free(&t)


cdef extern from "Python.h":
    object PyUnicode_DecodeUTF8(const char *s, Py_ssize_t size, const char *errors)


cdef int add_text_at(dict d, list typed, char *flags, Py_ssize_t *longest, const char *s,
                     Py_ssize_t n, object count) except -1:
    """The step of column_stats and span_summaries: the field ``s[:n]`` seen ``count``
    times more (``flags`` bit 1: a blank field, bit 2: a text trimmed)."""
    cdef object t, had
    if n > longest[0]:
        longest[0] = n
    t = PyUnicode_DecodeUTF8(s, n, "replace")
    had = d.get(t)
    if had is not None:
        d[t] = had + count
        return 0
    d[t] = count
    if n and not is_space(s[0]) and not is_space(s[n - 1]):
        typed.append(t)
    else:
        t = t.strip(" \t")
        if not t:
            flags[0] |= 1
        else:
            typed.append(t)
            flags[0] |= 2
    return 0


def column_stats(raw, counts):
    """From ``raw`` (a column's fields as split, bytes -> occurrences, in the order first
    seen) fill ``counts`` (text -> occurrences: the bytes decoded as UTF-8, bad bytes
    replaced) and return ``(max_bytes, blank, typed)``: the longest field in bytes,
    whether some field is empty or only spaces and tabs, and the distinct texts with
    the spaces and tabs around them trimmed, empty ones left out, in the order first seen
    (the column's typed view)."""
    cdef Py_ssize_t longest = 0
    cdef char flags = 0                             # bit 1: blank, bit 2: trimmed
    cdef list typed = []
    cdef object k, v
    if not isinstance(raw, dict) or not isinstance(counts, dict):
        raise TypeError("column_stats takes two dicts")
    for k, v in (<dict>raw).items():
        k = <bytes?>k
        add_text_at(<dict>counts, typed, &flags, &longest, <const char *>k, len(k), v)
    if flags & 2:                                   # a trimmed text may repeat another
        typed = list(dict.fromkeys(typed))
    return longest, bool(flags & 1), typed


cdef int field_stray(const char *s, Py_ssize_t n, bint escaped, int quote) noexcept nogil:
    """infer.py's ``_stray`` of a field's content: 1 when, spaces and tabs trimmed, it
    starts or ends with a ``"`` that is not ``quote``, or starts and ends with a ``'``
    that is not; 0 when not; 2 when escapes in it keep its content from being read here."""
    cdef Py_ssize_t i = 0
    if memchr(s, c'"', n) == NULL and memchr(s, c"'", n) == NULL:
        return 0
    if escaped:
        return 2
    while i < n and is_space(s[i]):
        i += 1
    while n > i and is_space(s[n - 1]):
        n -= 1
    if i >= n:
        return 0
    if quote != c'"' and (s[i] == c'"' or s[n - 1] == c'"'):
        return 1
    if quote != c"'" and n - i >= 2 and s[i] == c"'" and s[n - 1] == c"'":
        return 1
    return 0


def row_shapes(data, Py_ssize_t start, bint final, int delimiter, int quote,
               Py_ssize_t max_rows):
    """The rows of ``data[start:]`` as the lenient policies read them, without their
    fields: a list of ``(row_start, next, nfields, stray)``, ``nfields`` -1 for a row whose
    quoting breaks (reading goes on after the line it breaks on).  Up to ``max_rows``
    rows; stops at the end of the data or at a row cut by it (when not ``final``).
    The same rows as ``split_row`` called row after row (infer.py's ``_rows_lenient``),
    for sniffing the delimiter and quote.  ``stray``: 1 when a field holds a quote
    character this reading did not use as its quote (infer.py's ``_stray``), 0 when none
    does, 2 when a field with escapes would have to be unescaped to tell."""
    cdef Py_buffer src
    cdef Field f
    cdef Scan sc
    cdef Syntax sx
    cdef int fs
    cdef const char *buf
    cdef Py_ssize_t n, p, pos, at, nxt, nf, count = 0
    cdef Py_ssize_t cap = max_rows if max_rows > 0 else 0
    cdef int stray
    cdef Py_ssize_t *out = <Py_ssize_t *>malloc((4 * cap + 1) * sizeof(Py_ssize_t))
    if out == NULL:
        raise MemoryError()
    syntax_of(delimiter, quote, &sx)
    PyObject_GetBuffer(data, &src, PyBUF_SIMPLE)
    try:
        if not 0 <= start <= src.len:
            raise ValueError("bad input range")
        buf = <const char *>src.buf
        n = src.len
        pos = start
        with nogil:
            while count < cap:
                p = pos
                while p < n and (buf[p] == c'\n' or buf[p] == c'\r'):
                    p += 1                              # blank lines, as the core skips them
                if p >= n:
                    break
                at = skip_blank_any(buf, p, n, final, &sx)
                if at < 0 or at >= n:
                    break                               # only blank lines (or comments) left
                sc.base = -64
                nf = 0
                stray = 0
                fs = FIELD_EOL
                while True:
                    fs = scan_any(buf, at, n, final, &sx, &f, &sc)
                    if fs == FIELD_NEED_MORE or fs == FIELD_UNTERMINATED:
                        break
                    if fs == FIELD_AFTER_QUOTE:
                        at = f.bad
                        break
                    if stray == 0:
                        stray = field_stray(buf + f.span.start, f.span.length, f.span.escaped,
                                            quote)
                    nf += 1
                    at = f.next
                    if fs != FIELD_DELIM:
                        break
                if fs == FIELD_NEED_MORE:
                    break
                if fs == FIELD_UNTERMINATED or fs == FIELD_AFTER_QUOTE:
                    nxt = line_end_after(buf, at, n, final)
                    if nxt < 0:
                        break
                    nf = -1
                else:
                    nxt = at
                out[4 * count] = p
                out[4 * count + 1] = nxt
                out[4 * count + 2] = nf
                out[4 * count + 3] = stray if nf >= 0 else 0
                count += 1
                pos = nxt
        return [(out[4 * i], out[4 * i + 1], out[4 * i + 2], out[4 * i + 3])
                for i in range(count)]
    finally:
        PyBuffer_Release(&src)
        free(out)


cdef inline bint two_digits(const char *s, Py_ssize_t n, Py_ssize_t at,
                            int64_t *out) noexcept nogil:
    if at + 2 > n or not is_digit(s[at]) or not is_digit(s[at + 1]):
        return False
    out[0] = (s[at] - c'0') * 10 + (s[at + 1] - c'0')
    return True


cdef int iso_datetime_kind(const char *s, Py_ssize_t n) noexcept nogil:
    """-1 unless ``s[:n]`` is infer.py's ISO datetime (a real date, then optionally
    ``[T ]HH:MM[:SS[.f{1,9}]][Z|+HH[[:]MM]]`` with hours <= 23, minutes and seconds <= 59);
    else 1 for digits past the microsecond that are not all zero, | 2 for an offset."""
    cdef Py_ssize_t at = 0, k
    cdef int64_t days, hh, mi, ss
    cdef int out = 0
    if parse_iso_date(s, n, &at, &days) != ST_OK:
        return -1
    if at == n:
        return 0
    if (s[at] != c'T' and s[at] != c' ') or not two_digits(s, n, at + 1, &hh):
        return -1
    at += 3
    if at >= n or s[at] != c':' or not two_digits(s, n, at + 1, &mi):
        return -1
    at += 3
    if hh > 23 or mi > 59:
        return -1
    if at < n and s[at] == c':':
        if not two_digits(s, n, at + 1, &ss) or ss > 59:
            return -1
        at += 3
        if at < n and s[at] == c'.':
            at += 1
            k = 0
            while at < n and is_digit(s[at]):
                if k >= 6 and s[at] != c'0':
                    out = 1
                k += 1
                at += 1
            if k == 0 or k > 9:
                return -1
    if at == n:
        return out
    if s[at] == c'Z':
        return out | 2 if at + 1 == n else -1
    if (s[at] != c'+' and s[at] != c'-') or not two_digits(s, n, at + 1, &hh):
        return -1
    at += 3
    if at < n and s[at] == c':':
        at += 1
    if at == n and s[at - 1] != c':':
        return out | 2
    if at + 2 == n and two_digits(s, n, at, &mi):
        return out | 2
    return -1


def iso_datetimes(list vals):
    """infer.py's ``_iso_datetime`` test of every text of ``vals``: -1 when one is not an
    ISO datetime (or date), else 1 when some value has non-zero digits past the
    microsecond, | 2 when every value has an offset (and there is one)."""
    cdef Texts t
    cdef Py_ssize_t i
    cdef int k, ns = 0
    cdef bint offsets = True
    texts_gather(vals, &t)
    try:
        if not t.ascii:
            return -1
        with nogil:
            for i in range(t.count):
                k = iso_datetime_kind(t.ptr[i], t.len[i])
                if k < 0:
                    ns = -1
                    break
                ns |= k & 1
                offsets = offsets and (k & 2) != 0
        if ns < 0:
            return -1
        return ns | (2 if offsets and t.count else 0)
    finally:
        texts_free(&t)


cdef bint utf8_prefix_valid(const unsigned char *u, Py_ssize_t n, bint final) noexcept nogil:
    """utf8_ok on ``n`` bytes."""
    cdef Py_ssize_t p, need
    cdef unsigned char c
    if utf8_valid(<const char *>u, n):
        return True
    if final:
        return False
    # the last lead byte among the final three: the character it starts may be cut
    p = n - 1
    while p >= 0 and p > n - 4 and (u[p] & 0xC0) == 0x80:
        p -= 1
    if p < 0:
        return False
    c = u[p]
    need = 2 if 0xC2 <= c < 0xE0 else 3 if 0xE0 <= c < 0xF0 else 4 if 0xF0 <= c < 0xF5 else 0
    if need == 0 or n - p >= need:
        return False                            # not a cut character: the bytes are bad
    if n - p >= 2:          # the second byte's range for this lead (Python's decoder lets
        # a cut surrogate, ED A0-BF, wait for its last byte: so does this)
        if ((c == 0xE0 and u[p + 1] < 0xA0) or (c == 0xF0 and u[p + 1] < 0x90)
                or (c == 0xF4 and u[p + 1] >= 0x90)):
            return False
    return utf8_valid(<const char *>u, p)


def utf8_ok(data, bint final):
    """Does ``data`` decode as strict UTF-8, as Python's incremental UTF-8 decoder reads
    it (``final`` false: a character cut by the end of the data is fine, as long as the
    bytes of it that are there could start one)?  Without making the text."""
    cdef Py_buffer src
    cdef bint ok
    PyObject_GetBuffer(data, &src, PyBUF_SIMPLE)
    try:
        with nogil:
            ok = utf8_prefix_valid(<const unsigned char *>src.buf, src.len, final)
        return ok
    finally:
        PyBuffer_Release(&src)


from libc.string cimport memcmp

# -----------------------------------------------------------------------------
# The sample walked without a Python object per field: row spans, then per column
# counts of distinct fields hashed in C (infer.py's _sample and its summaries).
# -----------------------------------------------------------------------------

cdef struct RowSpan:
    Py_ssize_t start        # where the row starts (after the line breaks before it)
    Py_ssize_t next         # where the next row starts (or, status > 0, the error's place)
    Py_ssize_t nfields      # -1: a broken row read over (lenient)
    bint last_empty         # its last field is empty (for a trailing delimiter)


cdef int next_span(const char *buf, Py_ssize_t pos, Py_ssize_t n, bint final,
                   const Syntax *sx, bint lenient, RowSpan *r) noexcept nogil:
    """The row at ``buf[pos:]``, as split_row splits it after skipping the line breaks
    before it, into ``r``: 0 a row; 1 no more rows (``r.next``: where reading stopped);
    -1 a row cut by the end of the data (not ``final``); ST_UNTERMINATED or
    ST_AFTER_QUOTE for broken quoting (``r.next``: where), unless ``lenient``: then the
    row is read over to the end of its line (``nfields`` -1)."""
    cdef Field f
    cdef Scan sc
    cdef int fs = FIELD_EOL
    cdef Py_ssize_t p = pos, at
    sc.base = -64
    sc.bits = 0
    while p < n and (buf[p] == c'\n' or buf[p] == c'\r'):
        p += 1                                      # blank lines, as the core skips them
    r.start = p
    r.next = p
    if p >= n:
        r.next = n
        return 1
    at = skip_blank_any(buf, p, n, final, sx)
    if at < 0:
        return -1
    if at >= n:                                     # only blank lines (or comments) left
        if not final:
            return -1
        r.next = at
        return 1
    r.nfields = 0
    r.last_empty = False
    while True:
        fs = scan_any(buf, at, n, final, sx, &f, &sc)
        if fs == FIELD_NEED_MORE or fs == FIELD_UNTERMINATED:
            break
        if fs == FIELD_AFTER_QUOTE:
            at = f.bad
            break
        r.nfields += 1
        r.last_empty = f.span.length == 0
        at = f.next
        if fs != FIELD_DELIM:
            break
    if fs == FIELD_NEED_MORE:
        return -1
    if fs == FIELD_UNTERMINATED or fs == FIELD_AFTER_QUOTE:
        if not lenient:
            r.next = at
            return ST_UNTERMINATED if fs == FIELD_UNTERMINATED else ST_AFTER_QUOTE
        r.next = line_end_after(buf, at, n, final)
        if r.next < 0:
            return -1
        r.nfields = -1
        r.last_empty = False
        return 0
    r.next = at
    return 0


def split_spans(data, Py_ssize_t start, bint final, int delimiter, int quote,
                Py_ssize_t max_rows, bint lenient=False):
    """Up to ``max_rows`` rows of ``data[start:]``, as split_row splits them one by one
    after skipping the line breaks before each (infer.py's sampling), without their
    fields: ``(rows, status, next)`` with ``rows`` a list of ``(row_start, next,
    nfields, last_empty)`` (``last_empty``: the row's last field is empty, for a
    trailing delimiter), and the status and ``next`` of the row that stopped it
    (status > 0: broken quoting there; -1: a row cut by the end of the data; 0 with
    ``next`` the end: nothing more).  With ``lenient`` a row whose quoting breaks is
    ``(row_start, resume, -1, 0)`` and reading goes on after the line it breaks on (as
    the lenient policies read it)."""
    cdef Py_buffer src
    cdef Syntax sx
    cdef RowSpan r
    cdef int status = 0
    cdef Py_ssize_t count = 0, pos = start, stop = start
    cdef Py_ssize_t cap = max_rows if max_rows > 0 else 0
    cdef RowSpan *out = NULL
    syntax_of(delimiter, quote, &sx)
    PyObject_GetBuffer(data, &src, PyBUF_SIMPLE)
    try:
        if not 0 <= start <= src.len:
            raise ValueError("bad input range")
        # every row takes at least a byte: no more than the bytes left (+1) are needed
        cap = min(cap, src.len - start + 1)
        if <size_t>cap >= PY_SSIZE_T_MAX // sizeof(RowSpan):
            raise MemoryError()
        out = <RowSpan *>malloc((cap + 1) * sizeof(RowSpan))
        if out == NULL:
            raise MemoryError()
        with nogil:
            while count < cap:
                status = next_span(<const char *>src.buf, pos, src.len, final, &sx, lenient, &r)
                if status != 0:
                    stop = r.next if status != -1 else r.start
                    if status == 1:
                        status = 0
                    break
                out[count] = r
                count += 1
                pos = stop = r.next
        rows = [(out[i].start, out[i].next, out[i].nfields, out[i].last_empty)
                for i in range(count)]
        return (rows, status, stop)
    finally:
        PyBuffer_Release(&src)
        free(out)


def fit_spans(data, Py_ssize_t start, bint final, int delimiter, int quote,
              Py_ssize_t ncols, bint trailing, bint fill, bint lenient, Py_ssize_t cap,
              bint peek):
    """The sample's rows of ``data[start:]`` (infer.py's ``_sample`` and windows), their
    field counts fitted as the converter binds them (``trailing``: a last empty field
    dropped; ``fill``: a short row counts ``ncols``): up to ``cap`` rows of ``ncols``
    fields, stopping at the first that has another count or broken quoting (with
    ``lenient`` such rows are left out, their starts listed, and reading goes on).
    Returns ``(starts, ends, left_out, kind, at, value)``; ``kind`` says why it stopped:
    0 the data ended (``at``: where); 1 ``cap`` rows read (and, with ``peek``, a next row
    that is whole and fits, or any next row when ``lenient``: ``at`` its start); 2 a row
    of ``value`` fields (``at``: its start); 3 broken quoting (``value`` its status,
    ``at`` where it breaks)."""
    cdef Py_buffer src
    cdef Syntax sx
    cdef RowSpan r
    cdef int status = 0, kind = 0
    cdef Py_ssize_t pos = start, at = start, value = 0, nf
    cdef Py_ssize_t count = 0, room = 1024, nleft = 0, left_room = 16
    cdef Py_ssize_t *rows = <Py_ssize_t *>malloc(2 * room * sizeof(Py_ssize_t))
    cdef Py_ssize_t *left = <Py_ssize_t *>malloc(left_room * sizeof(Py_ssize_t))
    cdef Py_ssize_t *grown
    if rows == NULL or left == NULL:
        free(rows)
        free(left)
        raise MemoryError()
    syntax_of(delimiter, quote, &sx)
    PyObject_GetBuffer(data, &src, PyBUF_SIMPLE)
    try:
        if not 0 <= start <= src.len:
            raise ValueError("bad input range")
        with nogil:
            while True:
                status = next_span(<const char *>src.buf, pos, src.len, final, &sx, lenient, &r)
                if status == 1 or status == -1:
                    kind = 0
                    at = r.next if status == 1 else r.start
                    break
                if status > 0:
                    kind = 3
                    at = r.next
                    value = status
                    break
                nf = r.nfields
                if trailing and nf > 1 and r.last_empty:
                    nf -= 1
                if fill and 0 < nf < ncols:
                    nf = ncols
                if nf != ncols and not lenient:
                    kind = 2
                    at = r.start
                    value = nf
                    break
                if count >= cap:
                    kind = 1
                    at = r.start
                    break
                if nf != ncols:
                    if nleft == left_room:
                        left_room *= 2
                        grown = <Py_ssize_t *>realloc(left, left_room * sizeof(Py_ssize_t))
                        if grown == NULL:
                            kind = -1
                            break
                        left = grown
                    left[nleft] = r.start
                    nleft += 1
                else:
                    if count == room:
                        room *= 2
                        grown = <Py_ssize_t *>realloc(rows, 2 * room * sizeof(Py_ssize_t))
                        if grown == NULL:
                            kind = -1
                            break
                        rows = grown
                    rows[2 * count] = r.start
                    rows[2 * count + 1] = r.next
                    count += 1
                    if count >= cap and not peek:
                        kind = 1
                        at = r.next
                        break
                pos = r.next
        if kind < 0:
            raise MemoryError()
        return ([rows[2 * i] for i in range(count)], [rows[2 * i + 1] for i in range(count)],
                [left[i] for i in range(nleft)], kind, at, value)
    finally:
        PyBuffer_Release(&src)
        free(rows)
        free(left)


cdef struct Cell:
    Py_ssize_t off          # in its segment's buffer, or (seg -1) in the arena
    Py_ssize_t len
    Py_ssize_t seg


cdef inline uint64_t bytes_hash(const char *s, Py_ssize_t n) noexcept nogil:
    """FNV-1a over ``s[:n]`` (only to spread a column's distinct fields over a table)."""
    cdef uint64_t h = 1469598103934665603ULL
    cdef Py_ssize_t i
    for i in range(n):
        h = (h ^ <unsigned char>s[i]) * 1099511628211ULL
    return h ^ (h >> 29)


cdef int walk_cells(const char *buf, Py_ssize_t n, bint final, const Syntax *sx, int quote,
                    Py_ssize_t rs, Py_ssize_t ncols, bint trailing, Py_ssize_t seg,
                    Cell *cells, Py_ssize_t stride, char **arena, Py_ssize_t *used,
                    Py_ssize_t *room) noexcept nogil:
    """The fields of the row at ``buf[rs:]`` into ``cells[j * stride]`` (j < ncols; the
    missing ones empty, as ragged="fill" reads them; a trailing delimiter's empty field
    left out); escaped fields unescaped into the arena.  -1 when out of memory."""
    cdef Field f
    cdef Scan sc
    cdef int fs
    cdef Py_ssize_t at, j = 0, k
    cdef char *grown
    sc.base = -64
    sc.bits = 0
    at = skip_blank_any(buf, rs, n, final, sx)
    while 0 <= at < n:
        fs = scan_any(buf, at, n, final, sx, &f, &sc)
        if fs == FIELD_NEED_MORE or fs == FIELD_UNTERMINATED or fs == FIELD_AFTER_QUOTE:
            break
        if j < ncols:
            if f.span.escaped:
                # >=: an escaped empty field allocates too (no NULL arena to memcmp)
                if used[0] + f.span.length >= room[0]:
                    k = 2 * room[0] + f.span.length + 64
                    grown = <char *>realloc(arena[0], k)
                    if grown == NULL:
                        return -1
                    arena[0] = grown
                    room[0] = k
                cells[j * stride].off = used[0]
                cells[j * stride].len = unescape_into(
                    buf + f.span.start, f.span.length, f.span.quoted or sx.plain, quote,
                    sx.escape, arena[0] + used[0])
                cells[j * stride].seg = -1
                used[0] += cells[j * stride].len
            else:
                cells[j * stride].off = f.span.start
                cells[j * stride].len = f.span.length
                cells[j * stride].seg = seg
        j += 1
        at = f.next
        if fs != FIELD_DELIM:
            break
    while j < ncols:
        cells[j * stride].off = 0
        cells[j * stride].len = 0
        cells[j * stride].seg = seg
        j += 1
    return 0


def span_summaries(list segments, Py_ssize_t ncols, int delimiter, int quote,
                   bint trailing=False, make=dict):
    """Per column of the sample's rows, ``(counts, longest, blank, typed)``: ``counts``
    the texts (the fields decoded as UTF-8, bad bytes replaced) -> occurrences in the
    order first seen (made by ``make``: a dict or a dict subclass such as Counter),
    ``longest`` the longest field in bytes, ``blank`` whether some field is empty or
    only spaces and tabs, ``typed`` the distinct texts trimmed of the spaces and tabs
    around them, empty ones left out, in the order first seen.

    ``segments``: ``(data, final, starts)`` for each piece of the sample, ``starts`` the
    rows' starts in ``data`` (rows split_spans read there with ``ncols`` fields; fewer
    are read as ragged="fill" reads them, empty; with ``trailing`` a last empty field
    past ``ncols`` is dropped).  The rows are split here without a Python object per
    field (no GIL); each column's fields are counted in a hash table and only the
    distinct ones are decoded."""
    cdef Py_ssize_t nseg = len(segments)
    cdef Py_ssize_t nrows = 0, i, j, s, r, k, start_row
    cdef Py_buffer *bufs = <Py_buffer *>calloc(nseg + 1, sizeof(Py_buffer))
    cdef int *got = <int *>calloc(nseg + 1, sizeof(int))
    cdef Cell *cells = NULL
    cdef char *arena = NULL
    cdef Py_ssize_t used = 0, room = 0
    cdef Py_ssize_t *rows_at = NULL        # row start offsets, all segments in order
    cdef Py_ssize_t *seg_end = NULL        # rows of segments < s + 1
    cdef char *seg_final = NULL
    cdef const char **base = NULL
    cdef Py_ssize_t *lens = NULL
    cdef Py_ssize_t *table = NULL          # hash slots: distinct index + 1, 0 empty
    cdef Py_ssize_t *first = NULL          # per distinct: its first cell (row)
    cdef Py_ssize_t *times = NULL          # per distinct: occurrences
    cdef Py_ssize_t cap, mask, nd, slot
    cdef uint64_t h
    cdef Syntax sx
    cdef int rc = 0
    cdef const char *p
    cdef const char *q
    cdef Cell *c
    cdef Cell *e
    cdef list outs, typeds, out
    cdef list starts
    cdef char fl
    cdef Py_ssize_t longest
    if bufs == NULL or got == NULL:
        free(bufs)
        free(got)
        raise MemoryError()
    syntax_of(delimiter, quote, &sx)
    try:
        for s in range(nseg):
            nrows += len(<list?>(<tuple?>segments[s])[2])
        outs = [make() for _ in range(ncols)]
        if not all(isinstance(o, dict) for o in outs):
            raise TypeError("span_summaries: make must make dicts")
        typeds = [[] for _ in range(ncols)]
        cells = <Cell *>malloc((ncols * nrows + 1) * sizeof(Cell))
        rows_at = <Py_ssize_t *>malloc((nrows + 1) * sizeof(Py_ssize_t))
        seg_end = <Py_ssize_t *>malloc((nseg + 1) * sizeof(Py_ssize_t))
        seg_final = <char *>malloc(nseg + 1)
        base = <const char **>malloc((nseg + 1) * sizeof(char *))
        lens = <Py_ssize_t *>malloc((nseg + 1) * sizeof(Py_ssize_t))
        if (cells == NULL or rows_at == NULL or seg_end == NULL or seg_final == NULL
                or base == NULL or lens == NULL):
            raise MemoryError()
        r = 0
        for s in range(nseg):
            seg = <tuple>segments[s]
            PyObject_GetBuffer(seg[0], &bufs[s], PyBUF_SIMPLE)
            got[s] = 1
            base[s] = <const char *>bufs[s].buf
            lens[s] = bufs[s].len
            seg_final[s] = bool(seg[1])
            starts = <list>seg[2]
            for k in range(len(starts)):
                rows_at[r] = starts[k]
                if not 0 <= rows_at[r] <= lens[s]:
                    raise ValueError("bad row start")
                r += 1
            seg_end[s] = r
        with nogil:
            r = 0
            for s in range(nseg):
                while r < seg_end[s]:
                    if walk_cells(base[s], lens[s], seg_final[s], &sx, quote, rows_at[r], ncols,
                                  trailing, s, cells + r, nrows, &arena, &used, &room) < 0:
                        rc = -1
                        break
                    r += 1
                if rc < 0:
                    break
        if rc < 0:
            raise MemoryError()
        cap = 16
        while cap < 2 * nrows:
            cap *= 2
        mask = cap - 1
        table = <Py_ssize_t *>malloc(cap * sizeof(Py_ssize_t))
        first = <Py_ssize_t *>malloc((nrows + 1) * sizeof(Py_ssize_t))
        times = <Py_ssize_t *>malloc((nrows + 1) * sizeof(Py_ssize_t))
        if table == NULL or first == NULL or times == NULL:
            raise MemoryError()
        for j in range(ncols):
            # the column's distinct fields, in the order first seen, counted (no GIL)
            with nogil:
                memset(table, 0, cap * sizeof(Py_ssize_t))
                nd = 0
                for i in range(nrows):
                    c = cells + j * nrows + i
                    p = arena + c.off if c.seg < 0 else base[c.seg] + c.off
                    h = bytes_hash(p, c.len)
                    slot = <Py_ssize_t>(h & <uint64_t>mask)
                    while True:
                        k = table[slot]
                        if k == 0:
                            table[slot] = nd + 1
                            first[nd] = i
                            times[nd] = 1
                            nd += 1
                            break
                        e = cells + j * nrows + first[k - 1]
                        q = arena + e.off if e.seg < 0 else base[e.seg] + e.off
                        if e.len == c.len and memcmp(p, q, c.len) == 0:
                            times[k - 1] += 1
                            break
                        slot = (slot + 1) & mask
            fl = 0
            longest = 0
            d = <dict>outs[j]
            typed = <list>typeds[j]
            for k in range(nd):
                c = cells + j * nrows + first[k]
                p = arena + c.off if c.seg < 0 else base[c.seg] + c.off
                add_text_at(d, typed, &fl, &longest, p, c.len, times[k])
            if fl & 2:                              # a trimmed text may repeat another
                typed = list(dict.fromkeys(typed))
            typeds[j] = (outs[j], longest, bool(fl & 1), typed)
        return typeds
    finally:
        for s in range(nseg):
            if got[s]:
                PyBuffer_Release(&bufs[s])
        free(bufs)
        free(got)
        free(cells)
        free(arena)
        free(rows_at)
        free(seg_end)
        free(seg_final)
        free(base)
        free(lens)
        free(table)
        free(first)
        free(times)
