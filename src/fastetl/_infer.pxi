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


cdef inline int value_kind(const char *s, Py_ssize_t n) noexcept nogil:
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


def body_texts(list rows not None, Py_ssize_t width, nulls not None):
    """Header detection's view of the rows under the first of ``rows`` (lists of fields
    as split, bytes): for each column ``j < width``, the distinct texts of field ``j``
    of ``rows[1:]`` (rows without it passed over), decoded as UTF-8 (bad bytes
    replaced), spaces and tabs around them trimmed, empty ones left out, in the order
    first seen -- ``column_stats``' typed view -- as ``(named, all)`` lists: ``named``
    without the texts in ``nulls`` (a set), ``all`` with them.

    A column at a time, its fields' bytes (trimmed) counted in a C hash table: only the
    distinct ones are decoded (no dict of texts a column: a 200-column head took 4.7 ms
    that way).  Equal bytes are equal texts; distinct bytes are distinct texts unless
    they are not UTF-8 ('replace' may make two alike), so a column with a byte past
    ASCII has its texts made distinct again, in the same order."""
    cdef list named_of = [], all_of = [], row, named, every
    cdef Py_ssize_t i, j, n, m, nd, nrows = len(rows), cap = 16, slot, k
    cdef bytes b
    cdef const char *s
    cdef const char **dptr = NULL
    cdef Py_ssize_t *dlen = NULL
    cdef Py_ssize_t *table = NULL
    cdef uint64_t *th = NULL
    cdef uint64_t h, high
    cdef object t
    # (a text longer than every null word is none of them: no hash of it made to ask)
    cdef Py_ssize_t null_len = max([len(w) for w in nulls if isinstance(w, str)], default=-1)
    while cap < 2 * nrows:
        cap *= 2
    try:
        dptr = <const char **>malloc((nrows + 1) * sizeof(char *))
        dlen = <Py_ssize_t *>malloc((nrows + 1) * sizeof(Py_ssize_t))
        table = <Py_ssize_t *>malloc(cap * (sizeof(Py_ssize_t) + sizeof(uint64_t)))
        if dptr == NULL or dlen == NULL or table == NULL:
            raise MemoryError()
        th = <uint64_t *>(table + cap)
        for j in range(width):
            named = []
            every = []
            memset(table, 0, cap * sizeof(Py_ssize_t))
            nd = 0
            high = 0
            for i in range(1, nrows):
                row = <list?>rows[i]
                if j >= len(row):
                    continue
                b = <bytes?>row[j]
                n = len(b)
                if not n:
                    continue
                s = <const char *>b
                if is_space(s[0]) or is_space(s[n - 1]):
                    s = trimmed(s, &n)
                    if not n:
                        continue
                h = bytes_hash(s, n, &high)
                slot = <Py_ssize_t>(h & <uint64_t>(cap - 1))
                while True:
                    k = table[slot]
                    if k == 0 or (th[slot] == h and dlen[k - 1] == n
                                  and memcmp(dptr[k - 1], s, n) == 0):
                        break
                    slot = (slot + 1) & (cap - 1)
                if k:
                    continue
                table[slot] = nd + 1
                th[slot] = h
                dptr[nd] = s
                dlen[nd] = n
                nd += 1
                t = PyUnicode_DecodeUTF8(s, n, "replace")
                every.append(t)
                if len(<str>t) > null_len or t not in nulls:
                    named.append(t)
            if high & 0x8080808080808080ULL:
                every = list(dict.fromkeys(every))
                named = list(dict.fromkeys(named))
            named_of.append(named)
            all_of.append(every)
        return named_of, all_of
    finally:
        free(dptr)
        free(dlen)
        free(table)


cdef int field_stray(const char *s, Py_ssize_t n, bint escaped, int quote) noexcept nogil:
    """A quote left in a field's content (docs/INFERENCE.md, section 2): 1 when, spaces
    and tabs trimmed, it starts or ends with a ``"`` that is not ``quote``, or starts and
    ends with a ``'`` that is not; 0 when not; 2 when escapes in it keep its content from
    being read here."""
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
    The same rows as ``split_row`` called row after row, broken ones read over to the end of
    their line (tests/test_infer_core.py's ``split_one_by_one``),
    for sniffing the delimiter and quote.  ``stray``: 1 when a field holds a quote
    character this reading did not use as its quote (``field_stray``), 0 when none
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



# -----------------------------------------------------------------------------
# One candidate reading of the head scored in one pass (infer.py's _read_candidate)
# -----------------------------------------------------------------------------

cdef inline Py_ssize_t digit_run(const char *s, Py_ssize_t n, Py_ssize_t i) noexcept nogil:
    """Where the run of ASCII digits at ``s[i:]`` ends."""
    while i < n and is_digit(s[i]):
        i += 1
    return i


cdef bint iso_dt_shape(const char *s, Py_ssize_t n) noexcept nogil:
    """``YYYY-MM-DD`` then optionally ``[T ]HH:MM[:SS[.f{1,9}]][Z|[+-]HH[[:]MM]]``, the
    shape of infer.py's _ISO_DT_RE (digits only, no range checked)."""
    cdef Py_ssize_t at = 10, k
    if n < 10 or digit_run(s, 4, 0) != 4 or s[4] != c'-' or s[7] != c'-':
        return False
    if not (is_digit(s[5]) and is_digit(s[6]) and is_digit(s[8]) and is_digit(s[9])):
        return False
    if at == n:
        return True
    if (s[at] != c'T' and s[at] != c' ') or at + 6 > n or digit_run(s, at + 3, at + 1) != at + 3:
        return False
    if s[at + 3] != c':' or digit_run(s, at + 6, at + 4) != at + 6:
        return False
    at += 6
    if at < n and s[at] == c':':
        if at + 3 > n or digit_run(s, at + 3, at + 1) != at + 3:
            return False
        at += 3
        if at < n and s[at] == c'.':
            k = digit_run(s, n, at + 1)
            if k == at + 1 or k > at + 10:
                return False
            at = k
    if at == n:
        return True
    if s[at] == c'Z':
        return at + 1 == n
    if (s[at] != c'+' and s[at] != c'-') or at + 3 > n or digit_run(s, at + 3, at + 1) != at + 3:
        return False
    at += 3
    if at == n:
        return True
    if s[at] == c':':
        at += 1
    return at + 2 == n and digit_run(s, n, at) == n


cdef bint date_shape(const char *s, Py_ssize_t n, Py_ssize_t first) noexcept nogil:
    """``first`` digits (4: _YMD_RE; else 1-2: _DMY_RE), a separator of ``-/.``, 1-2
    digits, the same separator, then 1-2 digits (YMD) or 4 (DMY), and the end."""
    cdef Py_ssize_t i = digit_run(s, n, 0), j
    cdef char sep
    if (first == 4 and i != 4) or (first != 4 and not 1 <= i <= 2) or i >= n:
        return False
    sep = s[i]
    if sep != c'-' and sep != c'/' and sep != c'.':
        return False
    j = digit_run(s, n, i + 1)
    if not 1 <= j - i - 1 <= 2 or j >= n or s[j] != sep:
        return False
    i = digit_run(s, n, j + 1)
    if i != n:
        return False
    return 1 <= i - j - 1 <= 2 if first == 4 else i - j - 1 == 4


cdef bint looks_typed_text(const char *s, Py_ssize_t n) noexcept nogil:
    """The sniffing rule for a typed cell: blank (spaces and tabs), a number (infer.py's
    _is_float), a number with a decimal comma (``[+-]?[0-9]+,[0-9]+``), or a date or
    ISO datetime shape.  Every such text is ASCII."""
    cdef Py_ssize_t i = 0, j
    while i < n and is_space(s[i]):
        i += 1
    while n > i and is_space(s[n - 1]):
        n -= 1
    if i >= n:
        return True
    s += i
    n -= i
    if value_kind(s, n) != VK_NOT:
        return True
    i = 1 if s[0] == c'+' or s[0] == c'-' else 0
    j = digit_run(s, n, i)
    if j > i and j < n and s[j] == c',' and j + 1 < n and digit_run(s, n, j + 1) == n:
        return True
    return date_shape(s, n, 4) or date_shape(s, n, 2) or iso_dt_shape(s, n)


def looks_typed(bytes data not None):
    """:func:`looks_typed_text` of ``data`` (for tests)."""
    return looks_typed_text(<const char *>data, len(data))


cdef Py_ssize_t quote_openings(const char *s, Py_ssize_t n, char delim, char quote) noexcept nogil:
    """Matches of ``(?:^|D)[ \t]*Q`` in ``s[:n]`` (infer.py's count of the fields a quote
    opens), non-overlapping, left to right."""
    cdef Py_ssize_t i = 0, j, count = 0
    while i < n:
        if i == 0 or s[i] == delim:
            j = i + 1 if (i > 0 or s[0] == delim) else 0
            while j < n and is_space(s[j]):
                j += 1
            if j < n and s[j] == quote:
                count += 1
                i = j + 1
                continue
        i += 1
    return count


from libc.stdlib cimport qsort
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize


cdef int cmp_ssize(const void *a, const void *b) noexcept nogil:
    cdef Py_ssize_t x = (<const Py_ssize_t *>a)[0], y = (<const Py_ssize_t *>b)[0]
    return (x > y) - (x < y)


def score_reading(data, bint final, int delimiter, int quote, Py_ssize_t max_rows):
    """The facts infer.py's ``_read_candidate`` weighs about one (delimiter, quote)
    reading of ``data`` (its first ``max_rows`` rows as the lenient policies read them),
    counted in one pass without a Python object per row or field.  Returns
    ``(nrows, broken, end, longest, fields, freq, good, typed, cells, evidence,
    trailing)``: rows read and those with broken quoting; where the last row ends; the
    longest row in bytes; the most common number of fields (the larger on a tie) and
    how many well-formed rows have it; of those, the rows without a leftover quote
    character (``field_stray``); the typed cells (``looks_typed_text``) among the
    ``cells`` of well-formed rows 2 to 20; fields the quote opens on one line (``quote``
    >= 0); whether every well-formed row but the first ends with an empty field, as a
    trailing delimiter leaves (infer.py's rule in ``_Reading.trailing``)."""
    cdef Py_buffer src
    cdef Field f
    cdef Scan sc
    cdef Syntax sx
    cdef int fs
    cdef const char *buf
    cdef const char *text
    cdef char *scratch = NULL
    cdef Py_ssize_t *sorted_counts = NULL
    cdef Py_ssize_t n, p, at, nxt, nf, tn, e, i, k
    cdef Py_ssize_t nrows = 0, broken = 0, end = 0, longest = 0, good_rows = 0
    cdef Py_ssize_t typed = 0, cells = 0, evidence = 0, fields = 0, freq = 0, good = 0
    cdef Py_ssize_t first_n = -1, second_n = -1
    cdef bint stray, last_empty, before_empty, first_last_empty = False
    cdef bint first_before_empty = False, trailing = True, looked, quoted
    cdef Py_ssize_t cap = max_rows if max_rows > 0 else 0
    cdef Py_ssize_t *counts = <Py_ssize_t *>malloc((cap + 1) * sizeof(Py_ssize_t))
    cdef char *strays = <char *>malloc(cap + 1)
    if counts == NULL or strays == NULL:
        free(counts)
        free(strays)
        raise MemoryError()
    syntax_of(delimiter, quote, &sx)
    PyObject_GetBuffer(data, &src, PyBUF_SIMPLE)
    try:
        buf = <const char *>src.buf
        n = src.len
        scratch = <char *>malloc(n + 1)
        if scratch == NULL:
            raise MemoryError()
        with nogil:
            while nrows < cap:
                p = end
                while p < n and (buf[p] == c'\n' or buf[p] == c'\r'):
                    p += 1                              # blank lines, as the core skips them
                if p >= n:
                    break
                at = skip_blank_any(buf, p, n, final, &sx)
                if at < 0 or at >= n:
                    break                               # only blank lines (or comments) left
                sc.base = -64
                sc.bits = 0
                nf = 0
                stray = False
                last_empty = before_empty = False
                looked = 0 < good_rows < 20             # well-formed rows 2 to 20
                k = 0                                   # typed cells of this row
                fs = FIELD_EOL
                while True:
                    fs = scan_any(buf, at, n, final, &sx, &f, &sc)
                    if fs == FIELD_NEED_MORE or fs == FIELD_UNTERMINATED:
                        break
                    if fs == FIELD_AFTER_QUOTE:
                        at = f.bad
                        break
                    text = buf + f.span.start
                    tn = f.span.length
                    if f.span.escaped:                  # the field's text, as split_row gives it
                        tn = unescape_into(text, tn, f.span.quoted, quote, sx.escape, scratch)
                        text = scratch
                    if not stray:
                        stray = field_stray(text, tn, False, quote) == 1
                    if looked and looks_typed_text(text, tn):
                        k += 1
                    nf += 1
                    before_empty = last_empty
                    last_empty = f.span.length == 0
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
                nrows += 1
                end = nxt
                if nxt - p > longest:
                    longest = nxt - p
                if nf < 0:
                    broken += 1
                    continue
                counts[good_rows] = nf
                strays[good_rows] = stray
                good_rows += 1
                if looked:
                    cells += nf
                    typed += k
                if good_rows == 1:
                    first_n = nf
                    first_last_empty = last_empty
                    first_before_empty = before_empty
                else:
                    if good_rows == 2:
                        second_n = nf
                    if nf != second_n or not last_empty:
                        trailing = False
                if quote >= 0:                          # fields the quote opens on one line
                    quoted = (memchr(buf + p, c'"', nxt - p) != NULL
                              or memchr(buf + p, c"'", nxt - p) != NULL)
                    e = nxt
                    while e > p and (buf[e - 1] == c'\n' or buf[e - 1] == c'\r'):
                        e -= 1
                    if (quoted and memchr(buf + p, c'\n', e - p) == NULL
                            and memchr(buf + p, c'\r', e - p) == NULL):
                        evidence += quote_openings(buf + p, e - p, <char>sx.delim, <char>quote)
            if good_rows:                   # the most common count, the larger on a tie
                sorted_counts = <Py_ssize_t *>malloc(good_rows * sizeof(Py_ssize_t))
                if sorted_counts != NULL:
                    memcpy(sorted_counts, counts, good_rows * sizeof(Py_ssize_t))
                    qsort(sorted_counts, good_rows, sizeof(Py_ssize_t), cmp_ssize)
                    i = 0
                    while i < good_rows:
                        k = i
                        while k < good_rows and sorted_counts[k] == sorted_counts[i]:
                            k += 1
                        if k - i >= freq:
                            freq = k - i
                            fields = sorted_counts[i]
                        i = k
                    free(sorted_counts)
                    for i in range(good_rows):
                        if counts[i] == fields and not strays[i]:
                            good += 1
        if good_rows and sorted_counts == NULL:
            raise MemoryError()
        trailing = (trailing and good_rows >= 2 and second_n >= 2
                    and (first_n == second_n - 1
                         or (first_n == second_n and first_last_empty
                             and not first_before_empty)))
        return (nrows, broken, end, longest, fields, freq, good, typed, cells, evidence,
                trailing)
    finally:
        PyBuffer_Release(&src)
        free(scratch)
        free(counts)
        free(strays)


def split_rows(data, bint final, int delimiter, int quote, Py_ssize_t max_rows,
               Py_ssize_t keep):
    """The fields of the well-formed rows among the first ``max_rows`` rows of ``data``
    (at most ``keep`` of them), as ``split_row`` called row after row splits them, rows
    with broken quoting read over to the end of their line (as ``row_shapes`` reads them)."""
    cdef Py_buffer src
    cdef Syntax sx
    cdef const char *buf
    cdef Py_ssize_t n, p, pos = 0, nxt, count = 0
    cdef int status
    cdef list rows = [], fields
    syntax_of(delimiter, quote, &sx)
    PyObject_GetBuffer(data, &src, PyBUF_SIMPLE)
    try:
        buf = <const char *>src.buf
        n = src.len
        while count < max_rows and len(rows) < keep:
            p = pos
            while p < n and (buf[p] == c'\n' or buf[p] == c'\r'):
                p += 1
            if p >= n:
                break
            fields = []
            status = split_into(buf, p, n, final, &sx, quote, fields, &nxt)
            if status > 0:                              # read over, as skip reads it
                nxt = line_end_after(buf, nxt, n, final)
                if nxt < 0:
                    break
            elif status == -1 or not fields:
                break
            else:
                rows.append(fields)
            count += 1
            pos = nxt
        return rows
    finally:
        PyBuffer_Release(&src)


cdef Py_ssize_t rows_copy(const char *buf, const Py_ssize_t *pos, Py_ssize_t n,
                          char *dst) noexcept nogil:
    """rows_text's bytes into ``dst`` (NULL: only counted); returns their length."""
    cdef Py_ssize_t i = 0, j, a, b, at = 0
    while i < n:
        j = i
        while j + 1 < n and pos[2 * (j + 1)] == pos[2 * j + 1]:
            j += 1
        a = pos[2 * i]
        b = pos[2 * j + 1]
        if dst != NULL:
            memcpy(dst + at, buf + a, b - a)
        at += b - a
        if b == a or (buf[b - 1] != c'\n' and buf[b - 1] != c'\r'):
            if dst != NULL:
                dst[at] = c'\n'
            at += 1
        i = j + 1
    return at


def rows_text(bytes prefix not None, list segments):
    """``prefix``, then the rows ``data[starts[i]:ends[i]]`` of each ``(data, starts,
    ends)`` of ``segments`` one after the other, each ending with a line break (``\n``
    added where the data has none): the sample's text for the converter's check
    (infer.py's ``_sample_bytes``), made in one buffer.  Rows that follow each other are
    copied as one piece, their own line breaks kept."""
    cdef Py_ssize_t nseg = len(segments), s, n, i, a, b, total = len(prefix), at
    cdef Py_buffer *src = <Py_buffer *>calloc(nseg + 1, sizeof(Py_buffer))
    cdef Py_ssize_t **pos = <Py_ssize_t **>calloc(nseg + 1, sizeof(Py_ssize_t *))
    cdef Py_ssize_t *count = <Py_ssize_t *>calloc(nseg + 1, sizeof(Py_ssize_t))
    cdef Py_ssize_t got = 0
    cdef list starts, ends
    cdef char *dst
    cdef bytes out
    try:
        if src == NULL or pos == NULL or count == NULL:
            raise MemoryError()
        for s in range(nseg):
            seg = <tuple?>segments[s]
            starts = <list?>seg[1]
            ends = <list?>seg[2]
            n = len(starts)
            if len(ends) != n:
                raise ValueError("starts and ends differ in length")
            PyObject_GetBuffer(seg[0], &src[s], PyBUF_SIMPLE)
            got = s + 1
            pos[s] = <Py_ssize_t *>malloc((2 * n + 1) * sizeof(Py_ssize_t))
            if pos[s] == NULL:
                raise MemoryError()
            for i in range(n):
                a = starts[i]
                b = ends[i]
                if not 0 <= a <= b <= src[s].len:
                    raise ValueError("bad row span")
                pos[s][2 * i] = a
                pos[s][2 * i + 1] = b
            count[s] = n
            total += rows_copy(<const char *>src[s].buf, pos[s], n, NULL)
        out = PyBytes_FromStringAndSize(NULL, total)
        dst = PyBytes_AS_STRING(out)
        memcpy(dst, <const char *>prefix, len(prefix))
        at = len(prefix)
        with nogil:
            for s in range(nseg):
                at += rows_copy(<const char *>src[s].buf, pos[s], count[s], dst + at)
        return out
    finally:
        for s in range(got):
            PyBuffer_Release(&src[s])
        if pos != NULL:
            for s in range(nseg):
                free(pos[s])
        free(src)
        free(pos)
        free(count)

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
    # 16 bytes (a 200-column sample has 750,000 of them, written and read back once:
    # memory traffic, and fresh pages that fault one by one); the segment of a field is
    # its row's (SampleColumns.rowseg); what the summaries ask of a field (its kind, the
    # spaces around it) is found for the distinct ones only (SampleColumns.dfact).
    # sample_columns refuses samples of 1 GiB or more (offsets are 30-bit)
    uint32_t off            # in its row's segment's buffer, or (| IN_ARENA) in the arena;
                            # | NOT_ASCII: a byte of the field is past ASCII
    uint32_t len
    uint64_t h              # bytes_hash of the field


cdef extern from *:
    """
    #define FASTETL_IN_ARENA ((uint32_t)0x80000000u)
    #define FASTETL_NOT_ASCII ((uint32_t)0x40000000u)
    #define FASTETL_OFF_MASK ((uint32_t)0x3FFFFFFFu)
    """
    # (not an enum: C enumerators are ints, and 0x80000000 is not one)
    const uint32_t IN_ARENA "FASTETL_IN_ARENA"      # Cell.off: an escaped field, unescaped
                                                    # into the arena
    const uint32_t NOT_ASCII "FASTETL_NOT_ASCII"    # Cell.off: a byte past ASCII (from
                                                    # bytes_hash's high bits)
    const uint32_t OFF_MASK "FASTETL_OFF_MASK"


cdef inline uint64_t bytes_hash(const char *s, Py_ssize_t n, uint64_t *high) noexcept nogil:
    """A hash of ``s[:n]``, eight bytes at a time (only to spread a column's distinct
    fields over a table); the words read are or-ed into ``high`` (a byte past ASCII sets
    a bit of 0x8080808080808080 there)."""
    cdef uint64_t h = 1469598103934665603ULL ^ <uint64_t>n
    cdef uint64_t w, seen = 0
    cdef unsigned int w32
    cdef unsigned short w16
    cdef Py_ssize_t i = 0
    while i + 8 <= n:
        memcpy(&w, s + i, 8)
        seen |= w
        h = (h ^ w) * 0x9E3779B97F4A7C15ULL
        h ^= h >> 32
        i += 8
    w = 0
    if n - i >= 4:
        memcpy(&w32, s + i, 4)
        w = w32
        i += 4
    if n - i >= 2:
        memcpy(&w16, s + i, 2)
        w = (w << 16) | w16
        i += 2
    if n - i >= 1:
        w = (w << 8) | <unsigned char>s[i]
    high[0] |= seen | w     # (each byte's top bit stays a top bit: shifts are whole bytes)
    h = (h ^ w) * 0x9E3779B97F4A7C15ULL
    return h ^ (h >> 29)


cdef inline const char *trimmed(const char *p, Py_ssize_t *n) noexcept nogil:
    """``p[:n]`` without the spaces and tabs around it (``n`` updated)."""
    cdef Py_ssize_t a = 0, b = n[0]
    while a < b and is_space(p[a]):
        a += 1
    while b > a and is_space(p[b - 1]):
        b -= 1
    n[0] = b - a
    return p + a


cdef inline char field_facts(const char *p, Py_ssize_t n, bint ascii) noexcept nogil:
    """What the sample's summaries ask of a (distinct) field: its value_kind trimmed of
    spaces and tabs, | 16 when it is not ASCII, | 32 when it is empty or has spaces or
    tabs around it."""
    cdef char fact = 0 if ascii else 16
    if n == 0 or is_space(p[0]) or is_space(p[n - 1]):
        fact |= 32
        p = trimmed(p, &n)
    return fact | <char>value_kind(p, n)


cdef int walk_cells(const char *buf, Py_ssize_t n, bint final, const Syntax *sx, int quote,
                    Py_ssize_t rs, Py_ssize_t ncols, bint trailing, Cell *cells,
                    Py_ssize_t stride, char **arena, Py_ssize_t *used,
                    Py_ssize_t *room) noexcept nogil:
    """The fields of the row at ``buf[rs:]`` into ``cells[j * stride]`` (j < ncols; the
    missing ones empty, as ragged="fill" reads them; a trailing delimiter's empty field
    left out); escaped fields unescaped into the arena.  -1 when out of memory."""
    cdef Field f
    cdef Scan sc
    cdef int fs
    cdef Py_ssize_t at, j = 0, k
    cdef uint64_t high = 0
    cdef char *grown
    sc.base = -64
    sc.bits = 0
    at = skip_blank_any(buf, rs, n, final, sx)
    while 0 <= at < n:
        fs = scan_any(buf, at, n, final, sx, &f, &sc)
        if fs == FIELD_NEED_MORE or fs == FIELD_UNTERMINATED or fs == FIELD_AFTER_QUOTE:
            break
        if j < ncols:
            high = 0
            if f.span.escaped:
                # >=: an escaped empty field allocates too (no NULL arena to memcmp)
                if used[0] + f.span.length > OFF_MASK:  # (30-bit offsets: only rows that
                    return -1                             # overlap get here; refused)
                if used[0] + f.span.length >= room[0]:
                    k = 2 * room[0] + f.span.length + 64
                    grown = <char *>realloc(arena[0], k)
                    if grown == NULL:
                        return -1
                    arena[0] = grown
                    room[0] = k
                cells[j * stride].off = <uint32_t>used[0] | IN_ARENA
                cells[j * stride].len = unescape_into(
                    buf + f.span.start, f.span.length, f.span.quoted or sx.plain, quote,
                    sx.escape, arena[0] + used[0])
                cells[j * stride].h = bytes_hash(arena[0] + used[0], cells[j * stride].len,
                                                 &high)
                used[0] += cells[j * stride].len
            else:
                cells[j * stride].off = <uint32_t>f.span.start
                cells[j * stride].len = f.span.length
                cells[j * stride].h = bytes_hash(buf + f.span.start, f.span.length, &high)
            if high & 0x8080808080808080ULL:
                cells[j * stride].off |= NOT_ASCII
        j += 1
        at = f.next
        if fs != FIELD_DELIM:
            break
    while j < ncols:
        cells[j * stride].off = 0
        cells[j * stride].len = 0
        cells[j * stride].h = bytes_hash(buf, 0, &high)     # (empty: ASCII)
        j += 1
    return 0


cdef inline const char *cell_at(const Cell *c, const char *arena, const char **base,
                                 uint32_t seg) noexcept nogil:
    """The bytes of ``c``, a field of a row of segment ``seg``."""
    return (arena if c.off & IN_ARENA else base[seg]) + (c.off & OFF_MASK)


cdef struct IntSpan:
    # the smallest and largest of integer texts (sign, magnitude); bad: one is not read
    uint64_t lo_mag
    uint64_t hi_mag
    char lo_neg
    char hi_neg
    char seen
    char bad


cdef inline bint int_fold(const char *s, Py_ssize_t n, IntSpan *r) noexcept nogil:
    """Widen ``r`` to the integer text ``s[:n]`` as int_range reads it; False (``r.bad``
    set) when it is not one (a leading zero, more than 20 digits, not digits)."""
    cdef Py_ssize_t m = 1 if n > 0 and (s[0] == c'+' or s[0] == c'-') else 0
    cdef bint neg
    cdef uint64_t mag
    if (n - m > 20 or (n - m > 1 and s[m] == c'0')
            or parse_uint_magnitude(s, n, &neg, &mag) != ST_OK):
        r.bad = True
        return False
    if mag == 0:
        neg = False
    if not r.seen or mag_less(neg, mag, r.lo_neg, r.lo_mag):
        r.lo_neg, r.lo_mag = neg, mag
    if not r.seen or mag_less(r.hi_neg, r.hi_mag, neg, mag):
        r.hi_neg, r.hi_mag = neg, mag
    r.seen = True
    return True


cdef object int_span(const IntSpan *r):
    """``(lo, hi)`` of ``r``, or False when one text was not an integer or none was seen
    (int_range's None: not a number range)."""
    if r.bad or not r.seen:
        return False
    lo = -<object>r.lo_mag if r.lo_neg else <object>r.lo_mag
    hi = -<object>r.hi_mag if r.hi_neg else <object>r.hi_mag
    return (lo, hi)


# Warm memory for sample_columns: its cells and its hash table are MBs written once per
# call; fresh pages fault one by one (~2 ms of a 350 KB file's inference on this kind of
# VM), so the last block of each kind (up to 4 MiB) is kept for the next call.  Each array
# is a block of its own: bigger ones are malloc'd and freed as before (one block of a wide
# sample's cells, firsts and times, ~28 MB, came from fresh pages every call: glibc's
# dynamic mmap threshold had let the smaller two come from its heap).  A block
# carries its size in front of it; a slot is taken and filled by atomic exchange (a
# free-threaded Python calls this from many threads with no GIL).
cdef extern from *:
    """
    #include <stdlib.h>
    #define FASTETL_WARM_MAX ((size_t)4 << 20)
    #define FASTETL_WARM_HEAD 16
    #if defined(_MSC_VER) && !defined(__clang__)
    #include <intrin.h>
    static void *volatile fastetl_warm[4] = {0, 0, 0, 0};
    static void *fastetl_warm_swap(int slot, void *p) {
        return _InterlockedExchangePointer(&fastetl_warm[slot], p);
    }
    #else
    static void *fastetl_warm[4] = {0, 0, 0, 0};
    static void *fastetl_warm_swap(int slot, void *p) {
        return __atomic_exchange_n(&fastetl_warm[slot], p, __ATOMIC_ACQ_REL);
    }
    #endif
    /* at least need bytes: the kept block of the slot when it is big enough */
    static void *fastetl_warm_take(int slot, size_t need) {
        char *b = (char *)fastetl_warm_swap(slot, NULL);
        if (b != NULL && *(size_t *)b >= need)
            return b + FASTETL_WARM_HEAD;
        free(b);
        if (need > (size_t)-1 - FASTETL_WARM_HEAD)
            return NULL;
        b = (char *)malloc(need + FASTETL_WARM_HEAD);
        if (b == NULL)
            return NULL;
        *(size_t *)b = need;
        return b + FASTETL_WARM_HEAD;
    }
    /* a block of fastetl_warm_take back: kept for the next call (the one kept before let go) */
    static void fastetl_warm_give(int slot, void *p) {
        char *b;
        if (p == NULL)
            return;
        b = (char *)p - FASTETL_WARM_HEAD;
        if (*(size_t *)b > FASTETL_WARM_MAX) {
            free(b);
            return;
        }
        free(fastetl_warm_swap(slot, b));
    }
    """
    void *warm_take "fastetl_warm_take"(int slot, size_t need) noexcept nogil
    void warm_give "fastetl_warm_give"(int slot, void *p) noexcept nogil


cdef struct Slot:
    # sample_columns' hash table: a slot is column gen - 1's (else empty), for its
    # distinct field k of hash h (one cache line a probe; no table cleared a column)
    uint32_t gen
    uint32_t k
    uint64_t h


cdef class SampleColumns:
    """The sample's rows split into columns, each column's distinct fields counted (in C,
    no Python object per field), kept to answer inference's questions about a column
    (what kind of numbers, which dates...) without making a ``str`` per distinct field;
    the texts are made only for the columns that ask for them (:meth:`summary`).
    Made by :func:`sample_columns`."""
    cdef list objs                  # the segments' data (kept alive with their buffers)
    cdef Py_buffer *bufs
    cdef Py_ssize_t nseg, got
    cdef const char **base
    cdef Cell *cells                # column j's cell of row i: cells[j * nrows + i]
    cdef char *arena
    cdef uint32_t *first            # column j's distinct k: first[j * nrows + k] (a row)
    cdef uint32_t *times            # ... its occurrences
    cdef char *dfact                # ... its field_facts: dfact[j * nrows + k]
    cdef uint32_t *rowseg           # row i's segment
    cdef Py_ssize_t *ndist          # per column: distinct fields
    cdef Py_ssize_t *longest        # per column: the longest field in bytes
    cdef Py_ssize_t *empties        # per column: fields that are empty (verbatim)
    cdef char *flags                # per column: 1 blank, 2 trimmed, 4 not ASCII, 8 not UTF-8
    cdef char *kinds                # per column: bit 1 << value_kind of each trimmed non-empty field
    cdef IntSpan *ints              # per column: int_range of its integer fields (plain spelling)
    cdef Py_ssize_t *nbytes         # per column: the fields' bytes, all rows
    cdef readonly Py_ssize_t ncols, nrows

    def __dealloc__(self):
        cdef Py_ssize_t s
        if self.bufs != NULL:
            for s in range(self.got):
                PyBuffer_Release(&self.bufs[s])
        free(self.bufs)
        free(self.base)
        warm_give(0, self.cells)        # (warm_take's blocks)
        warm_give(1, self.first)
        warm_give(2, self.times)
        free(self.dfact)
        free(self.rowseg)
        free(self.arena)
        free(self.ndist)
        free(self.longest)
        free(self.empties)
        free(self.nbytes)
        free(self.flags)
        free(self.kinds)
        free(self.ints)

    cdef inline const char *field(self, Py_ssize_t j, Py_ssize_t k,
                                  Py_ssize_t *n) noexcept nogil:
        """Column ``j``'s distinct field ``k`` (its length in ``n``)."""
        cdef uint32_t i = self.first[j * self.nrows + k]
        cdef const Cell *c = self.cells + j * self.nrows + i
        n[0] = c.len
        return cell_at(c, self.arena, self.base, self.rowseg[i])

    cdef inline int kind(self, Py_ssize_t j, Py_ssize_t k) noexcept nogil:
        """The value_kind of column ``j``'s distinct field ``k``, trimmed."""
        return self.dfact[j * self.nrows + k] & 15

    cdef inline const char *text(self, Py_ssize_t j, Py_ssize_t k,
                                 Py_ssize_t *n) noexcept nogil:
        """Column ``j``'s distinct field ``k`` trimmed of spaces and tabs (its length in
        ``n``)."""
        cdef const char *p = self.field(j, k, n)
        return trimmed(p, n) if self.dfact[j * self.nrows + k] & 32 else p

    cdef int check(self, Py_ssize_t j) except -1:
        if not 0 <= j < self.ncols:
            raise IndexError("no such column")
        return 0

    def summary(self, Py_ssize_t j, make=dict):
        """``(counts, longest, blank, typed)`` of column ``j`` (see span_summaries)."""
        cdef Py_ssize_t k, nd, n, longest = 0
        cdef const char *p
        cdef char fl = 0
        cdef list typed = []
        self.check(j)
        d = make()
        if not isinstance(d, dict):
            raise TypeError("span_summaries: make must make dicts")
        nd = self.ndist[j]
        for k in range(nd):
            p = self.field(j, k, &n)
            add_text_at(<dict>d, typed, &fl, &longest, p, n, self.times[j * self.nrows + k])
        if fl & 2:                                  # a trimmed text may repeat another
            typed = list(dict.fromkeys(typed))
        return (d, longest, bool(fl & 1), typed)

    def facts(self, Py_ssize_t j):
        """``(rows, empty, longest, blank, ascii, distinct, nbytes)`` of column ``j``: its
        fields, the empty ones, the longest in bytes, whether one is empty or only
        spaces and tabs, whether every field is ASCII, the distinct fields, and the
        bytes of all its fields."""
        self.check(j)
        return (self.nrows, self.empties[j], self.longest[j], bool(self.flags[j] & 1),
                not (self.flags[j] & 4), self.ndist[j], self.nbytes[j])

    def verbatim(self, Py_ssize_t j, tokens):
        """Is one of the texts ``tokens`` a field of column ``j``, as it is (not
        trimmed)?  None when the column is not UTF-8 (ask the texts)."""
        cdef Py_ssize_t k, n
        cdef const char *p
        cdef bytes b
        cdef list keep = []
        self.check(j)
        if self.flags[j] & 8:
            return None
        for t in tokens:
            if isinstance(t, str):
                if "\ufffd" in t:
                    return None
                try:
                    keep.append((<str>t).encode("utf-8"))
                except UnicodeEncodeError:
                    return None
        for k in range(self.ndist[j]):
            p = self.field(j, k, &n)
            for b in keep:
                if len(b) == n and memcmp(<const char *>b, p, n) == 0:
                    return True
        return False

    cdef int tokens(self, object exclude, list keep, Texts *t) except -1:
        """The texts of ``exclude`` as UTF-8 into ``t`` (``keep`` holds their bytes); 1
        when one cannot be compared with the fields' bytes (not UTF-8, or U+FFFD)."""
        cdef bytes b
        t.count = 0
        t.longest = 0
        t.ascii = False                 # (here: some text is an integer or a float)
        t.ptr = NULL
        t.len = NULL
        for v in exclude:
            if isinstance(v, str) and v:
                if "\ufffd" in v:
                    return 1
                try:
                    keep.append((<str>v).encode("utf-8"))
                except UnicodeEncodeError:
                    return 1
        t.ptr = <const char **>malloc((len(keep) + 1) * sizeof(char *))
        t.len = <Py_ssize_t *>malloc((len(keep) + 1) * sizeof(Py_ssize_t))
        if t.ptr == NULL or t.len == NULL:
            free(t.ptr)
            free(t.len)
            t.ptr = NULL
            t.len = NULL
            raise MemoryError()
        for b in keep:
            t.ptr[t.count] = <const char *>b
            t.len[t.count] = len(b)
            t.count += 1
            # (longest: here a mask of the texts' lengths, bit 63 for 63 bytes or more)
            t.longest |= <Py_ssize_t>(1ULL << min(len(b), 63))
            if value_kind(<const char *>b, len(b)) in (VK_INT, VK_FLOAT):
                t.ascii = True
        return 0

    cdef Py_ssize_t next_typed(self, Py_ssize_t j, Py_ssize_t k, const Texts *ex,
                               const char **s, Py_ssize_t *n) noexcept nogil:
        """From distinct ``k`` on, the first field of column ``j`` that, trimmed, is not
        empty and not one of ``ex``: its index (its text in ``s``, ``n``), or -1."""
        cdef const char *p
        cdef Py_ssize_t m, i
        cdef int vk
        cdef bint out
        while k < self.ndist[j]:
            p = self.text(j, k, &m)
            vk = self.kind(j, k)
            out = m == 0
            if (not out and (ex.ascii or vk == VK_NOT or vk == VK_WORD)
                    and (<uint64_t>ex.longest >> (m if m < 63 else 63)) & 1):
                i = 0
                while not out and i < ex.count:
                    out = ex.len[i] == m and memcmp(ex.ptr[i], p, m) == 0
                    i += 1
            if not out:
                s[0] = p
                n[0] = m
                return k
            k += 1
        return -1

    cdef list among(self, Py_ssize_t j, list tokens):
        """Which of ``tokens`` (bytes) column ``j``'s trimmed fields are, in their order."""
        cdef const char *p
        cdef Py_ssize_t k, m, i, nt = len(tokens)
        cdef bytes b
        cdef list found = [False] * nt
        cdef uint64_t lens = 0
        cdef unsigned int kinds = 0       # the tokens' value_kinds: a field of another kind
                                          # is none of them (a column of numbers, of nulls)
        for b in tokens:
            lens |= 1ULL << min(len(b), 63)
            kinds |= 1U << value_kind(<const char *>b, len(b))
        if not self.kinds[j] & kinds and not (lens & 1 and self.flags[j] & 1):
            return []   # (the kinds of a column leave its empty fields out: flag 1 says them)
        for k in range(self.ndist[j]):
            if not (kinds >> self.kind(j, k)) & 1:
                continue
            p = self.text(j, k, &m)
            if not (lens >> (m if m < 63 else 63)) & 1:
                continue
            for i in range(nt):
                b = <bytes>tokens[i]
                if len(b) == m and memcmp(<const char *>b, p, m) == 0:
                    found[i] = True
        return [(<bytes>tokens[i]).decode("ascii") for i in range(nt) if found[i]]

    def ask(self, Py_ssize_t j, str what, exclude=(), int decimal=46, int thousands=0):
        """infer.py's questions about column ``j``'s distinct trimmed non-empty texts,
        those in ``exclude`` left out, answered over the fields' bytes: ``"numeric"``
        numeric_kind, ``"int_range"`` int_range of the texts as spelled
        (``decimal``, ``thousands``), ``"iso_dates"``, ``"iso_datetimes"``, ``"any"``
        whether there is one at all, ``"first"`` the first of them (None: none), ``"in"``
        which of the ASCII texts of ``exclude`` (taken as the question's words here) the
        column's trimmed texts hold.
        None for every question when a field of the column is not UTF-8 (ask the texts)."""
        cdef Texts ex
        cdef list keep = []
        cdef Py_ssize_t k = 0, n, m, longest
        cdef const char *s
        cdef char *buf = NULL
        cdef int q, vk, out = 0, dk
        cdef bint plain = decimal == c'.' and thousands == 0
        cdef bint only_ints = True, numbers = False, ok = True, offsets = True, seen = False
        cdef IntSpan span
        cdef int64_t days
        cdef Py_ssize_t at
        self.check(j)
        if self.flags[j] & 8:
            return None
        q = {"numeric": 0, "int_range": 1, "iso_dates": 2, "iso_datetimes": 3, "any": 4,
             "first": 5, "in": 6}[what]
        if self.tokens(exclude, keep, &ex):
            free(ex.ptr)
            free(ex.len)
            return None
        try:
            if q == 6:
                return self.among(j, keep)
            if q == 4 or q == 5:
                k = self.next_typed(j, 0, &ex, &s, &n)
                if q == 4:
                    return k >= 0
                return None if k < 0 else PyUnicode_DecodeUTF8(s, n, "strict")
            if (q == 0 and plain and not ex.ascii
                    and not self.kinds[j] & ((1 << VK_NOT) | (1 << VK_WORD))):
                # no field a token could be (only words and non-numbers are compared with
                # tokens that are not numbers), none a word or a non-number: the kinds seen
                if not self.kinds[j] & ((1 << VK_INT) | (1 << VK_FLOAT)):
                    return 0
                return 2 if self.kinds[j] & (1 << VK_FLOAT) else 1
            if q == 1 and plain and not ex.ascii and self.kinds[j] == (1 << VK_INT):
                # likewise: every field an integer, their range found as they were counted
                return int_span(&self.ints[j])
            span.seen = span.bad = False
            span.lo_mag = span.hi_mag = 0
            span.lo_neg = span.hi_neg = False
            buf = <char *>malloc(self.longest[j] + 1)
            if buf == NULL:
                raise MemoryError()
            with nogil:
                while True:
                    k = self.next_typed(j, k, &ex, &s, &n)
                    if k < 0:
                        break
                    k += 1
                    if q <= 1 and not plain:
                        n = normalize_number(s, n, <char>decimal, <char>thousands, buf)
                        if n < 0:
                            ok = False
                            break
                        s = buf
                    if q == 0:
                        vk = self.kind(j, k - 1) if plain else value_kind(s, n)
                        if vk == VK_NOT:
                            ok = False
                            break
                        if vk == VK_WORD:
                            only_ints = False
                            continue
                        numbers = True
                        if vk == VK_FLOAT:
                            only_ints = False
                    elif q == 1:
                        if not int_fold(s, n, &span):
                            break
                    elif q == 2:
                        at = 0
                        if n != 10 or parse_iso_date(s, 10, &at, &days) != ST_OK:
                            ok = False
                            break
                    else:
                        dk = iso_datetime_kind(s, n)
                        if dk < 0:
                            ok = False
                            break
                        out |= dk & 1
                        offsets = offsets and (dk & 2) != 0
                        seen = True
            if q == 0:
                return 0 if not ok or not numbers else (1 if only_ints else 2)
            if q == 1:
                return int_span(&span)
            if q == 2:
                return ok
            return -1 if not ok else out | (2 if offsets and seen else 0)
        finally:
            free(buf)
            free(ex.ptr)
            free(ex.len)


def sample_columns(list segments, Py_ssize_t ncols, int delimiter, int quote,
                   bint trailing=False):
    """The sample's rows split into columns and each column's distinct fields counted,
    without a Python object per field: a :class:`SampleColumns`.  ``segments``:
    ``(data, final, starts)`` for each piece of the sample, as span_summaries takes them."""
    cdef SampleColumns out = SampleColumns.__new__(SampleColumns)
    cdef Py_ssize_t nseg = len(segments)
    cdef Py_ssize_t nrows = 0, i, j, s, r, k, nd
    cdef Py_ssize_t used = 0, room = 0, total = 0
    cdef Py_ssize_t *rows_at = NULL        # row start offsets, all segments in order
    cdef Py_ssize_t *seg_end = NULL        # rows of segments < s + 1
    cdef char *seg_final = NULL
    cdef Py_ssize_t *lens = NULL
    cdef Slot *table = NULL                # hash slots (see Slot)
    cdef uint32_t gen
    cdef uint32_t *first
    cdef uint32_t *times
    cdef Py_ssize_t cap, mask, slot, m
    cdef uint64_t h
    cdef Syntax sx
    cdef int rc = 0
    cdef const char *p
    cdef const char *q
    cdef Cell *c
    cdef Cell *e
    cdef list starts
    cdef char fl, fact
    syntax_of(delimiter, quote, &sx)
    out.objs = []
    out.ncols = ncols
    try:
        for s in range(nseg):
            nrows += len(<list?>(<tuple?>segments[s])[2])
        if ncols < 0 or (nrows and <size_t>ncols >= PY_SSIZE_T_MAX // sizeof(Cell) // <size_t>nrows):
            raise MemoryError()
        if nrows >= 0xFFFFFFFF or ncols >= 0xFFFFFFFF:     # (a Slot's and a Cell's fields)
            raise MemoryError()
        out.nrows = nrows
        out.bufs = <Py_buffer *>calloc(nseg + 1, sizeof(Py_buffer))
        out.base = <const char **>malloc((nseg + 1) * sizeof(char *))
        out.cells = <Cell *>warm_take(0, (ncols * nrows + 1) * sizeof(Cell))
        out.first = <uint32_t *>warm_take(1, (ncols * nrows + 1) * sizeof(uint32_t))
        out.times = <uint32_t *>warm_take(2, (ncols * nrows + 1) * sizeof(uint32_t))
        out.dfact = <char *>malloc(ncols * nrows + 1)     # (written for distinct fields)
        out.rowseg = <uint32_t *>malloc((nrows + 1) * sizeof(uint32_t))
        out.ndist = <Py_ssize_t *>calloc(ncols + 1, sizeof(Py_ssize_t))
        out.longest = <Py_ssize_t *>calloc(ncols + 1, sizeof(Py_ssize_t))
        out.empties = <Py_ssize_t *>calloc(ncols + 1, sizeof(Py_ssize_t))
        out.nbytes = <Py_ssize_t *>calloc(ncols + 1, sizeof(Py_ssize_t))
        out.flags = <char *>calloc(ncols + 1, 1)
        out.kinds = <char *>calloc(ncols + 1, 1)
        out.ints = <IntSpan *>calloc(ncols + 1, sizeof(IntSpan))
        rows_at = <Py_ssize_t *>malloc((nrows + 1) * sizeof(Py_ssize_t))
        seg_end = <Py_ssize_t *>malloc((nseg + 1) * sizeof(Py_ssize_t))
        seg_final = <char *>malloc(nseg + 1)
        lens = <Py_ssize_t *>malloc((nseg + 1) * sizeof(Py_ssize_t))
        if (out.bufs == NULL or out.base == NULL or out.cells == NULL or out.first == NULL
                or out.times == NULL or out.dfact == NULL or out.rowseg == NULL
                or out.ndist == NULL or out.longest == NULL
                or out.empties == NULL or out.nbytes == NULL or out.flags == NULL or out.kinds == NULL or out.ints == NULL
                or rows_at == NULL
                or seg_end == NULL or seg_final == NULL or lens == NULL):
            raise MemoryError()
        r = 0
        for s in range(nseg):
            seg = <tuple>segments[s]
            PyObject_GetBuffer(seg[0], &out.bufs[s], PyBUF_SIMPLE)
            out.got = s + 1
            out.objs.append(seg[0])
            out.base[s] = <const char *>out.bufs[s].buf
            lens[s] = out.bufs[s].len
            seg_final[s] = bool(seg[1])
            starts = <list>seg[2]
            for k in range(len(starts)):
                rows_at[r] = starts[k]
                out.rowseg[r] = <uint32_t>s
                if not 0 <= rows_at[r] <= lens[s]:
                    raise ValueError("bad row start")
                r += 1
            seg_end[s] = r
            if lens[s] > <Py_ssize_t>OFF_MASK - total:  # (a Cell's offsets are 30-bit; the arena
                raise MemoryError("a sample of 1 GiB or more")  # holds at most the
            total += lens[s]                    # sample; no sum that could overflow)
        cap = 16
        while cap < 2 * nrows:
            cap *= 2
        mask = cap - 1
        table = <Slot *>warm_take(3, cap * sizeof(Slot))
        if table == NULL:
            raise MemoryError()
        memset(table, 0, cap * sizeof(Slot))      # (generation 0: no column's)
        with nogil:
            r = 0
            for s in range(nseg):
                while r < seg_end[s]:
                    if walk_cells(out.base[s], lens[s], seg_final[s], &sx, quote, rows_at[r],
                                  ncols, trailing, out.cells + r, nrows, &out.arena, &used,
                                  &room) < 0:
                        rc = -1
                        break
                    r += 1
                if rc < 0:
                    break
            for j in range(ncols if rc == 0 else 0):
                # the column's distinct fields, in the order first seen, counted (a
                # slot of another column's generation is empty: no table cleared)
                gen = <uint32_t>(j + 1)
                nd = 0
                first = out.first + j * nrows
                times = out.times + j * nrows
                fl = 0
                for i in range(nrows):
                    c = out.cells + j * nrows + i
                    h = c.h
                    slot = <Py_ssize_t>(h & <uint64_t>mask)
                    while True:
                        if table[slot].gen != gen:
                            table[slot].gen = gen
                            table[slot].k = <uint32_t>nd
                            table[slot].h = h
                            first[nd] = <uint32_t>i
                            times[nd] = 1
                            # what the column's fields are, from each distinct one
                            if c.len > out.longest[j]:
                                out.longest[j] = c.len
                            m = c.len
                            p = cell_at(c, out.arena, out.base, out.rowseg[i])
                            fact = field_facts(p, m, not c.off & NOT_ASCII)
                            out.dfact[j * nrows + nd] = fact
                            if fact & 16:
                                fl |= 4 if utf8_valid(p, m) else 12
                            if fact & 32:
                                p = trimmed(p, &m)
                                fl |= 1 if m == 0 else 2
                            if m > 0:
                                out.kinds[j] |= <char>(1 << (fact & 15))
                                if (fact & 15) == VK_INT and not out.ints[j].bad:
                                    int_fold(p, m, &out.ints[j])
                            nd += 1
                            break
                        if table[slot].h == h:
                            k = table[slot].k
                            e = out.cells + j * nrows + first[k]
                            # (up to 8 bytes the hash is one-to-one: equal is equal)
                            if e.len == c.len and (c.len <= 8 or memcmp(
                                    cell_at(c, out.arena, out.base, out.rowseg[i]),
                                    cell_at(e, out.arena, out.base, out.rowseg[first[k]]),
                                    c.len) == 0):
                                times[k] += 1
                                break
                        slot = (slot + 1) & mask
                    if c.len == 0:
                        out.empties[j] += 1
                    out.nbytes[j] += c.len
                out.ndist[j] = nd
                out.flags[j] = fl
        if rc < 0:
            raise MemoryError()
        return out
    finally:
        free(rows_at)
        free(seg_end)
        free(seg_final)
        free(lens)
        warm_give(3, table)


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
    distinct ones are decoded (:func:`sample_columns`, then each column's summary)."""
    cols = sample_columns(segments, ncols, delimiter, quote, trailing)
    if not isinstance(make(), dict):
        raise TypeError("span_summaries: make must make dicts")
    return [cols.summary(j, make) for j in range(ncols)]
