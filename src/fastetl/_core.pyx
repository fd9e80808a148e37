# The compiled core of fastetl: CSV bytes in, fixed-layout record bytes out.
#
# Private module.  Python code (layout.py) validates the schema and hands the
# core a ready table of per-field specs; the core trusts it.  The hot loop
# (Parser.parse_block) runs without the GIL, never raises and never allocates
# per row; it returns a status and the position of the problem, and the Python
# side turns that into a ParseError.
#
# Parts: _scan.pxi (tokenizer), _numbers.pxi (ints, floats, decimals, bools),
# _dates.pxi (dates, datetimes), _text.pxi (UTF-8, str, categories), _infer.pxi (the
# sample classifier inference asks).

cimport cython
from cpython.buffer cimport PyBUF_SIMPLE, PyBUF_WRITABLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.pyport cimport PY_SSIZE_T_MAX
from cpython.ref cimport PyObject
from libc.stdint cimport INT64_MAX, INT64_MIN, UINT64_MAX, int64_t, uint8_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free, malloc, realloc
from libc.string cimport memchr, memcpy, memset

# -- status codes (also exported to Python in STATUS) -------------------------
cdef enum:
    ST_OK = 0
    ST_INVALID = 10          # not a valid <type>
    ST_RANGE = 11            # out of range for <type>
    ST_EMPTY = 12            # empty in a column that is not nullable
    ST_TOO_LONG = 13         # str longer than its width
    ST_BAD_UTF8 = 14
    ST_NOT_IN_CATEGORY = 15
    ST_CATEGORY_FULL = 16
    ST_EXTRA_DIGITS = 17     # decimal with more digits than its scale
    ST_TOO_PRECISE = 18      # datetime fraction finer than the unit
    ST_BAD_DATE = 19         # no such calendar date / time of day
    ST_FLAG_BOOL = 20        # a flag's source is not a bool
    ST_TRAILING_NUL = 21     # str whose stored text ends with NUL (numpy S would drop it)
    ST_CATEGORY_VALUE_TOO_LONG = 22  # a learned category value over MAX_CATEGORY_VALUE bytes
    ST_MISSING = 23          # (ragged_fill) a field a short row lacks, in a column without nulls
    ST_TRAILING_TEXT = 34    # (trailing delimiter) text after the row's last delimiter
    ST_TOO_MANY_FIELDS = 30
    ST_TOO_FEW_FIELDS = 31
    ST_UNTERMINATED = 32     # the input ends inside a quoted field
    ST_AFTER_QUOTE = 33      # a closing quote is followed by other text
    ST_NO_MEMORY = 40
    ST_STORE = -1            # internal (Parser.prepare): the value is still to be stored

# -- column kinds (exported to Python in KINDS) --------------------------------
cdef enum:
    K_IGNORE = 0             # field not looked at
    K_FLAGONLY = 1           # read only to compute flag bits
    K_INT = 2
    K_UINT = 3
    K_FLOAT32 = 4
    K_FLOAT64 = 5
    K_BOOL = 6
    K_DATE = 7
    K_DATETIME = 8
    K_DECIMAL = 9
    K_STR = 10
    K_CATEGORY = 11
    K_TEXT = 12              # variable length: bytes to Parser.tbuf, (offset, length) stored

# -- how a field's value is stored (Op.code): the kind, with the integer width and
#    the date format fixed, so that the one switch in store_op does all the choosing
cdef enum:
    OP_NONE = 0              # nothing to store (a field read for its flags only)
    OP_I8 = 1
    OP_I16 = 2
    OP_I32 = 3
    OP_I64 = 4
    OP_U8 = 5
    OP_U16 = 6
    OP_U32 = 7
    OP_U64 = 8
    OP_DECIMAL = 9
    OP_STR = 10
    OP_CATEGORY = 11
    OP_FLOAT64 = 12
    OP_FLOAT32 = 13
    OP_BOOL = 14
    OP_ISO_DATE = 15
    OP_ISO_DATETIME = 16
    OP_DATE = 17             # with a format
    OP_DATETIME = 18         # with a format
    OP_TEXT = 19

STATUS = {
    "OK": ST_OK, "INVALID": ST_INVALID, "RANGE": ST_RANGE, "EMPTY": ST_EMPTY,
    "TOO_LONG": ST_TOO_LONG, "BAD_UTF8": ST_BAD_UTF8, "NOT_IN_CATEGORY": ST_NOT_IN_CATEGORY,
    "CATEGORY_FULL": ST_CATEGORY_FULL, "EXTRA_DIGITS": ST_EXTRA_DIGITS,
    "TOO_PRECISE": ST_TOO_PRECISE, "BAD_DATE": ST_BAD_DATE, "FLAG_BOOL": ST_FLAG_BOOL,
    "TRAILING_NUL": ST_TRAILING_NUL, "MISSING": ST_MISSING,
    "TRAILING_TEXT": ST_TRAILING_TEXT, "CATEGORY_VALUE_TOO_LONG": ST_CATEGORY_VALUE_TOO_LONG,
    "TOO_MANY_FIELDS": ST_TOO_MANY_FIELDS, "TOO_FEW_FIELDS": ST_TOO_FEW_FIELDS,
    "UNTERMINATED": ST_UNTERMINATED, "AFTER_QUOTE": ST_AFTER_QUOTE, "NO_MEMORY": ST_NO_MEMORY,
}
KINDS = {
    "ignore": K_IGNORE, "flagonly": K_FLAGONLY, "int": K_INT, "uint": K_UINT,
    "float32": K_FLOAT32, "float64": K_FLOAT64, "bool": K_BOOL, "date": K_DATE,
    "datetime": K_DATETIME, "decimal": K_DECIMAL, "str": K_STR, "category": K_CATEGORY,
    "text": K_TEXT,
}
FORMAT_MAX = 63
cdef enum:
    MAX_CATEGORY_VALUE_BYTES = 65536   # bounds a learned dictionary: max_values x this
MAX_CATEGORY_VALUE = MAX_CATEGORY_VALUE_BYTES
cdef enum:
    BAD_WIDTH = 9
# what each bad row recorded by Parser.parse(..., bad=...) holds, in order
BAD_ROW_WIDTH = BAD_WIDTH
BAD_FIELDS = ("row_start", "row_end", "status", "field", "field_start", "field_len",
              "quoted", "nfound", "rows_before")

include "_scan.pxi"
include "_numbers.pxi"
include "_dates.pxi"
include "_text.pxi"
include "_infer.pxi"

# the flag bits of a syntax word above the delimiter, escape and comment bytes (_scan.pxi)
SYNTAX = {"skip_space": SYN_SKIP_SPACE, "lenient": SYN_LENIENT}

cdef extern from * nogil:
    """
    static const union { unsigned long long u; double d; } fastetl_nan_bits = {0x7ff8000000000000ULL};
    #define FASTETL_NAN (fastetl_nan_bits.d)
    """
    double FASTETL_NAN

cdef Py_ssize_t line_end_after(const char *buf, Py_ssize_t p, Py_ssize_t end,
                               bint final) noexcept nogil:
    """Where parsing resumes after a row whose quoting is broken at ``p``: just after the
    first line break at or after ``p`` (CRLF counts as one), ``end`` when the data ends
    first (final), or -1 when more data is needed to know."""
    cdef const char *hit
    cdef Py_ssize_t i = p
    while i < end:
        if buf[i] == c'\n':
            return i + 1
        if buf[i] == c'\r':
            if i + 1 < end:
                return i + 2 if buf[i + 1] == c'\n' else i + 1
            return end if final else -1
        i += 1
    return end if final else -1


cdef inline bint is_space(char c) noexcept nogil:
    return c == c' ' or c == c'\t'


cdef int op_code(const Col *c) noexcept nogil:
    """How a column's values are stored (OP_*)."""
    cdef int kind = c.kind
    cdef bint signed = kind == K_INT
    if kind == K_INT or kind == K_UINT:
        if c.size == 1:
            return OP_I8 if signed else OP_U8
        if c.size == 2:
            return OP_I16 if signed else OP_U16
        if c.size == 4:
            return OP_I32 if signed else OP_U32
        return OP_I64 if signed else OP_U64
    if kind == K_DECIMAL:
        return OP_DECIMAL
    if kind == K_STR:
        return OP_STR
    if kind == K_CATEGORY:
        return OP_CATEGORY
    if kind == K_TEXT:
        return OP_TEXT
    if kind == K_FLOAT64:
        return OP_FLOAT64
    if kind == K_FLOAT32:
        return OP_FLOAT32
    if kind == K_BOOL:
        return OP_BOOL
    if kind == K_DATE:
        return OP_ISO_DATE if c.fmt_len == 0 else OP_DATE
    if kind == K_DATETIME:
        return OP_ISO_DATETIME if c.fmt_len == 0 else OP_DATETIME
    return OP_NONE


cdef bint op_as_is(const Col *c, bint nulls_never_values) noexcept nogil:
    """Whether a column's plain fields (not quoted with escapes) can be stored as they stand,
    with Parser.prepare run only for a field that fails that way.

    That gives prepare's answer whenever storing as is succeeds, when: no flag reads the
    field; a str or category is not nullable (the empty text would be stored, not taken
    as a null); a number, bool or ISO date has a converter that rejects blanks at either
    end and the empty text, and no null marker is a valid value (``nulls_never_values``:
    the only marker is the empty text), so a null, a null where none is allowed, or
    blanks to trim all fail first."""
    cdef int kind = c.kind
    if kind == K_IGNORE or kind == K_FLAGONLY or c.flag_count != 0 or c.numfmt:
        return False
    if kind == K_STR or kind == K_CATEGORY or kind == K_TEXT:
        return not c.nullable
    if not nulls_never_values:
        return False
    return (kind == K_INT or kind == K_UINT or kind == K_DECIMAL or kind == K_FLOAT64
            or kind == K_FLOAT32 or kind == K_BOOL
            or ((kind == K_DATE or kind == K_DATETIME) and c.fmt_len == 0))


# -- storing one value -----------------------------------------------------------
# One helper per kind that needs more than a conversion, for store_op below.

cdef inline int store_decimal(Col *c, const char *t, Py_ssize_t tn, char *dst) noexcept nogil:
    cdef int64_t v64
    cdef int st = convert_decimal(t, tn, c.scale, c.round_half_even, &v64)
    if st == ST_OK:
        memcpy(dst, &v64, 8)
    return st


cdef inline int store_str(Col *c, const char *s, Py_ssize_t n, char *dst) noexcept nogil:
    cdef Py_ssize_t i
    cdef int st = convert_str(s, n, c.size, c.truncate, dst)
    if st == ST_OK and n > 0:
        i = n                             # the stored length (as convert_str cut it)
        if i > c.size:
            i = c.size
            while i > 0 and (<unsigned char>s[i] & 0xC0) == 0x80:
                i -= 1
        if i > 0 and s[i - 1] == 0:
            st = ST_TRAILING_NUL
    return st


cdef inline void text_ref(Parser p, Py_ssize_t n, char *dst) noexcept nogil:
    """A text field's reference: where its bytes start in the parser's text buffer (the
    committer adds where that buffer goes in the text file) and how many there are."""
    cdef uint64_t off = <uint64_t>p.tbuf_len
    cdef uint32_t ln = <uint32_t>n
    memcpy(dst, &off, 8)
    memcpy(dst + 8, &ln, 4)


cdef inline int store_text(Parser p, const char *s, Py_ssize_t n, char *dst) noexcept nogil:
    """Copy a text value (quotes undone, NULs and all) to the parser's text buffer."""
    cdef Py_ssize_t cap
    cdef void *q
    if not utf8_valid(s, n):
        return ST_BAD_UTF8
    if n > <Py_ssize_t>0xFFFFFFFF:
        return ST_TOO_LONG
    if p.tbuf_len + n > p.tbuf_cap:
        cap = max(p.tbuf_len + n, 2 * p.tbuf_cap, 4096)
        q = realloc(p.tbuf, <size_t>cap)
        if q == NULL:
            return ST_NO_MEMORY
        p.tbuf = <char *>q
        p.tbuf_cap = cap
    text_ref(p, n, dst)
    if n > 0:
        memcpy(p.tbuf + p.tbuf_len, s, <size_t>n)
        p.tbuf_len += n
    return ST_OK


cdef inline int store_category(Parser p, Py_ssize_t field, Col *c, const char *s, Py_ssize_t n,
                               char *dst) noexcept nogil:
    cdef bint added = False
    cdef int st
    if n > MAX_CATEGORY_VALUE_BYTES and not c.dict.frozen:
        return ST_CATEGORY_VALUE_TOO_LONG
    st = convert_category(c.dict, s, n, c.size, dst, &added)
    if added:                             # undone by Parser.rollback if the row fails
        p.journal[p.journal_len] = field
        p.journal_len += 1
    return st


cdef inline int store_float64(Parser p, const char *t, Py_ssize_t tn, bint room,
                                char *dst) noexcept nogil:
    cdef double d
    cdef int st = tail_double(p, t, tn, room, &d)
    if st == ST_OK:
        memcpy(dst, &d, 8)
    return st


cdef inline int store_float32(Parser p, const char *t, Py_ssize_t tn, bint room,
                                char *dst) noexcept nogil:
    cdef double d
    cdef float f32
    cdef int st = tail_double(p, t, tn, room, &d)
    if st == ST_OK:
        f32 = <float>d
        if fastetl_isinf_f(f32) and not isinf(d):
            return ST_RANGE
        memcpy(dst, &f32, 4)
    return st


cdef inline int store_bool(Parser p, const char *t, Py_ssize_t tn, char *dst) noexcept nogil:
    cdef uint8_t b
    cdef int st = parse_bool(t, tn, &b)
    if st != ST_OK and p.n_words:
        st = p.read_bool(t, tn, &b)
    if st == ST_OK:
        dst[0] = <char>b
    return st


cdef inline int store_iso_date(const char *t, Py_ssize_t tn, char *dst) noexcept nogil:
    cdef Py_ssize_t i = 0
    cdef int64_t v64
    cdef int st = parse_iso_date(t, tn, &i, &v64)
    if st == ST_OK and i != tn:
        st = ST_INVALID
    if st == ST_OK:
        memcpy(dst, &v64, 8)
    return st


cdef inline int store_iso_datetime(Col *c, const char *t, Py_ssize_t tn, char *dst) noexcept nogil:
    cdef int64_t v64
    cdef int st = convert_iso_datetime(t, tn, c.unit_mul, c.frac_digits, &v64)
    if st == ST_OK:
        memcpy(dst, &v64, 8)
    return st


cdef inline int store_formatted(Col *c, const char *t, Py_ssize_t tn, bint with_time,
                                char *dst) noexcept nogil:
    cdef int64_t v64
    cdef int st = convert_formatted(t, tn, c.fmt, c.fmt_len, with_time,
                                    c.unit_mul if with_time else 1,
                                    c.frac_digits if with_time else 0, &v64)
    if st == ST_OK:
        memcpy(dst, &v64, 8)
    return st


cdef inline int store_op(Parser p, const Op *o, const char *s, Py_ssize_t n,
                         const char *t, Py_ssize_t tn, bint room, char *rec) noexcept nogil:
    """Convert a field's text into the record, flags and nulls already dealt with: ``s``/``n``
    as in the row with quotes undone (str, category), ``t``/``tn`` trimmed (the rest);
    ``room``: the 8 bytes before ``t`` are readable (numbers are read from their end in
    whole words).
    One switch on ``o.code``; Parser.parse_block is its only caller, so all of it is
    inlined there, each integer width with its own constant."""
    cdef int code = o.code
    cdef char *dst = rec + o.offset
    cdef Col *c = o.col
    if code == OP_I64:
        return convert_int(t, tn, 8, True, room, dst)
    elif code == OP_I32:
        return convert_int(t, tn, 4, True, room, dst)
    elif code == OP_I16:
        return convert_int(t, tn, 2, True, room, dst)
    elif code == OP_I8:
        return convert_int(t, tn, 1, True, room, dst)
    elif code == OP_U64:
        return convert_int(t, tn, 8, False, room, dst)
    elif code == OP_U32:
        return convert_int(t, tn, 4, False, room, dst)
    elif code == OP_U16:
        return convert_int(t, tn, 2, False, room, dst)
    elif code == OP_U8:
        return convert_int(t, tn, 1, False, room, dst)
    elif code == OP_DECIMAL:
        return store_decimal(c, t, tn, dst)
    elif code == OP_STR:
        return store_str(c, s, n, dst)
    elif code == OP_CATEGORY:
        return store_category(p, o.field, c, s, n, dst)
    elif code == OP_TEXT:
        return store_text(p, s, n, dst)
    elif code == OP_FLOAT64:
        return store_float64(p, t, tn, room, dst)
    elif code == OP_FLOAT32:
        return store_float32(p, t, tn, room, dst)
    elif code == OP_BOOL:
        return store_bool(p, t, tn, dst)
    elif code == OP_ISO_DATE:
        return store_iso_date(t, tn, dst)
    elif code == OP_ISO_DATETIME:
        return store_iso_datetime(c, t, tn, dst)
    elif code == OP_DATE:
        return store_formatted(c, t, tn, False, dst)
    elif code == OP_DATETIME:
        return store_formatted(c, t, tn, True, dst)
    return ST_OK


@cython.final
cdef class Parser:
    """Parses whole rows of CSV bytes into fixed-size records.

    One Parser per thread: it holds per-conversion state (category dictionaries,
    scratch buffers).  ``fields`` has one entry per field of a row: ``None`` for a
    field that is not looked at, else a dict built by fastetl.layout.
    """

    def __cinit__(self, list fields, list flags, Py_ssize_t itemsize, int delimiter, int quote,
                  list null_values, list true_values=None, list false_values=None,
                  bint ragged_fill=False, bint trailing=False):
        cdef Py_ssize_t i
        cdef Col *c
        cdef FlagSpec *f
        cdef bytes fmt, eq, v
        cdef bint nulls_never_values
        self.nfields = len(fields)
        self.nflags = len(flags)
        self.itemsize = itemsize
        syntax_of(delimiter, quote, &self.syn)   # delimiter: a syntax word (_scan.pxi)
        self.delim = self.syn.delim
        self.quote = quote
        self.ragged_fill = ragged_fill
        self.trailing = trailing
        if self.nfields < 1 or itemsize < 1:
            raise ValueError("a parser needs at least one field and a record size")
        self.cols = <Col *>calloc(<size_t>self.nfields, sizeof(Col))
        self.flags = <FlagSpec *>calloc(<size_t>max(self.nflags, 1), sizeof(FlagSpec))
        self.journal = <Py_ssize_t *>calloc(<size_t>self.nfields, sizeof(Py_ssize_t))
        self.spans = <Span *>calloc(<size_t>self.nfields, sizeof(Span))
        self.ops = <Op *>calloc(<size_t>self.nfields, sizeof(Op))
        self.n_nulls = len(null_values)
        self.null_ptrs = <char **>calloc(<size_t>max(self.n_nulls, 1), sizeof(char *))
        self.null_lens = <Py_ssize_t *>calloc(<size_t>max(self.n_nulls, 1), sizeof(Py_ssize_t))
        if (self.cols == NULL or self.flags == NULL or self.journal == NULL
                or self.spans == NULL or self.ops == NULL
                or self.null_ptrs == NULL or self.null_lens == NULL):
            raise MemoryError()
        # the pre-filter is only ever OR-ed into: start it empty (an __init__ run again)
        self.null_len_mask = 0
        self.null_long = False
        memset(self.null_first, 0, sizeof(self.null_first))
        memset(self.null_last, 0, sizeof(self.null_last))
        for i, v in enumerate(null_values):
            self.null_lens[i] = len(v)
            self.null_ptrs[i] = <char *>malloc(<size_t>len(v) + 1)
            if self.null_ptrs[i] == NULL:
                raise MemoryError()
            memcpy(self.null_ptrs[i], <const char *>v, <size_t>len(v))
            if len(v) < 64:
                self.null_len_mask |= (<uint64_t>1) << len(v)
            else:
                self.null_long = True
            if len(v):
                self.null_first[<uint8_t>self.null_ptrs[i][0]] = 1
                self.null_last[<uint8_t>self.null_ptrs[i][len(v) - 1]] = 1
        self.nulls_only_empty = self.n_nulls == 1 and self.null_lens[0] == 0
        words = list(true_values or ()) + list(false_values or ())
        self.n_true = len(true_values or ())
        self.word_ptrs = <char **>calloc(<size_t>max(len(words), 1), sizeof(char *))
        self.word_lens = <Py_ssize_t *>calloc(<size_t>max(len(words), 1), sizeof(Py_ssize_t))
        if self.word_ptrs == NULL or self.word_lens == NULL:
            raise MemoryError()
        for v in words:
            self.word_ptrs[self.n_words] = <char *>malloc(<size_t>len(v) + 1)
            if self.word_ptrs[self.n_words] == NULL:
                raise MemoryError()
            memcpy(self.word_ptrs[self.n_words], <const char *>v, <size_t>len(v))
            self.word_lens[self.n_words] = len(v)
            self.n_words += 1

        for i, spec in enumerate(fields):
            c = &self.cols[i]
            if spec is None:
                c.kind = K_IGNORE
                continue
            c.kind = spec["kind"]
            c.size = spec.get("size", 0)
            c.offset = spec.get("offset", 0)
            c.nullable = spec.get("nullable", False)
            c.null_byte = spec.get("null_byte", 0)
            c.null_mask = spec.get("null_mask", 0)
            c.scale = spec.get("scale", 0)
            c.round_half_even = spec.get("round", False)
            c.truncate = spec.get("truncate", False)
            c.unit_mul = spec.get("unit_mul", 1)
            c.frac_digits = spec.get("frac_digits", 0)
            c.flag_first = spec.get("flag_first", 0)
            c.flag_count = spec.get("flag_count", 0)
            fmt = spec.get("format", b"")
            if len(fmt) > FORMAT_MAX:
                raise ValueError("date format too long")
            c.fmt_len = len(fmt)
            memcpy(c.fmt, <const char *>fmt, <size_t>len(fmt))
            c.text = c.kind == K_STR or c.kind == K_CATEGORY or c.kind == K_TEXT
            c.dec = <char>spec.get("decimal", 46)
            c.thou = <char>spec.get("thousands", 0)
            c.numfmt = c.dec != c'.' or c.thou != 0
            if c.kind == K_CATEGORY:
                values = spec.get("values")      # a fixed dictionary, or the seed of a learned one
                c.dict = catdict_new(spec["limit"], spec.get("frozen", values is not None))
                if c.dict == NULL:
                    raise MemoryError()
                if values is not None:
                    for v in values:
                        if catdict_add(c.dict, <const char *>v, len(v),
                                       hash_bytes(<const char *>v, len(v))) < 0:
                            raise MemoryError()
        nulls_never_values = self.n_nulls == 0 or self.nulls_only_empty
        for i in range(self.nfields):
            c = &self.cols[i]
            if c.kind != K_IGNORE:
                self.ops[self.nops].code = op_code(c)
                self.ops[self.nops].as_is = op_as_is(c, nulls_never_values)
                self.ops[self.nops].field = i
                self.ops[self.nops].offset = c.offset
                self.ops[self.nops].col = c
                self.nops += 1
        self.uniform_i64 = self.nops > 0
        for i in range(self.nops):
            if self.ops[i].code != OP_I64 or not self.ops[i].as_is:
                self.uniform_i64 = False
        for i, spec in enumerate(flags):
            f = &self.flags[i]
            f.byte = spec["byte"]
            f.mask = spec["mask"]
            f.source_nullable = spec.get("source_nullable", False)
            eq = spec.get("equals")
            f.has_equals = eq is not None
            if eq is not None:
                f.equals = <char *>malloc(<size_t>len(eq) + 1)
                if f.equals == NULL:
                    raise MemoryError()
                memcpy(f.equals, <const char *>eq, <size_t>len(eq))
                f.equals_len = len(eq)

    def __dealloc__(self):
        cdef Py_ssize_t i
        if self.cols != NULL:
            for i in range(self.nfields):
                catdict_free(self.cols[i].dict)
            free(self.cols)
        if self.flags != NULL:
            for i in range(self.nflags):
                free(self.flags[i].equals)
            free(self.flags)
        if self.null_ptrs != NULL:
            for i in range(self.n_nulls):
                free(self.null_ptrs[i])
            free(self.null_ptrs)
        free(self.null_lens)
        if self.word_ptrs != NULL:
            for i in range(self.n_words):
                free(self.word_ptrs[i])
            free(self.word_ptrs)
        free(self.word_lens)
        free(self.journal)
        free(self.spans)
        free(self.ops)
        free(self.scratch[0])
        free(self.scratch[1])
        free(self.scratch[2])
        free(self.tbuf)

    # -- helpers of the hot loop ---------------------------------------------
    cdef char *scratch_reserve(self, int slot, Py_ssize_t n) noexcept nogil:
        cdef Py_ssize_t cap
        cdef void *p
        if n > self.scratch_cap[slot]:
            cap = max(n, 2 * self.scratch_cap[slot], 256)
            p = realloc(self.scratch[slot], <size_t>cap)
            if p == NULL:
                return NULL
            self.scratch[slot] = <char *>p
            self.scratch_cap[slot] = cap
        return self.scratch[slot]

    cdef inline bint is_null(self, const char *s, Py_ssize_t n) noexcept nogil:
        cdef Py_ssize_t i
        if self.nulls_only_empty:
            return n == 0
        # most fields are rejected by their length, first or last byte before any compare (a
        # long list such as pandas' 19 NA spellings otherwise costs a third of a parse)
        if n < 64:
            if not (self.null_len_mask >> n) & 1:
                return False
        elif not self.null_long:
            return False
        if n > 0 and not (self.null_first[<uint8_t>s[0]] and self.null_last[<uint8_t>s[n - 1]]):
            return False
        for i in range(self.n_nulls):
            if self.null_lens[i] == n and fastetl_same(self.null_ptrs[i], s, n):
                return True
        return False

    cdef int read_bool(self, const char *s, Py_ssize_t n, uint8_t *out) noexcept nogil:
        """parse_bool, then the dialect's own true and false words (exact, case included)."""
        cdef Py_ssize_t i
        if parse_bool(s, n, out) == ST_OK:
            return ST_OK
        for i in range(self.n_words):
            if self.word_lens[i] == n and fastetl_same(self.word_ptrs[i], s, n):
                out[0] = i < self.n_true
                return ST_OK
        return ST_INVALID

    cdef void rollback(self) noexcept nogil:
        """Take back the category values (newest first) and the text the current row added."""
        self.tbuf_len = self.tbuf_row
        while self.journal_len > 0:
            self.journal_len -= 1
            catdict_pop(self.cols[self.journal[self.journal_len]].dict)

    cdef inline int set_flags(self, Col *c, const char *raw, Py_ssize_t rawn,
                       const char *t, Py_ssize_t tn, char *rec) noexcept nogil:
        """A flag with ``equals`` compares the text as it stands (``raw``); one without
        reads it as a bool column would, whatever the type of the source column: trimmed
        (``t``), a null marker first (0 from a nullable source, else an error)."""
        cdef Py_ssize_t k
        cdef FlagSpec *f
        cdef uint8_t b
        for k in range(c.flag_first, c.flag_first + c.flag_count):
            f = &self.flags[k]
            if f.has_equals:
                if f.equals_len == rawn and fastetl_same(f.equals, raw, rawn):
                    rec[f.byte] |= <char>f.mask
                continue
            if self.is_null(t, tn):
                if f.source_nullable:
                    continue
                return ST_EMPTY
            if self.read_bool(t, tn, &b) != ST_OK:
                return ST_FLAG_BOOL
            if b:
                rec[f.byte] |= <char>f.mask
        return ST_OK

    cdef int unescape(self, const char **sp, Py_ssize_t *np, bint quoted) noexcept nogil:
        """Undo doubled quotes (and escapes): *sp/*np become the text in scratch slot 0.
        -1 when out of memory.  Out of line: few fields have them."""
        cdef const char *s = sp[0]
        cdef Py_ssize_t n = np[0]
        cdef Py_ssize_t i = 0
        cdef Py_ssize_t j = 0
        cdef Py_ssize_t k
        cdef const char *q
        cdef char *tmp = self.scratch_reserve(0, n)
        if tmp == NULL:
            return -1
        if not self.syn.plain:
            np[0] = unescape_into(s, n, quoted, self.quote, self.syn.escape, tmp)
            sp[0] = tmp
            return 0
        # each run up to and with a quote is copied whole, the doubled quote after it
        # skipped (memchr finds the quotes: a byte-at-a-time loop was a tenth of a parse
        # of quoted free text)
        while i < n:
            q = <const char *>memchr(s + i, self.quote, <size_t>(n - i))
            k = n - i if q == NULL else q - (s + i) + 1
            fastetl_copy(tmp + j, s + i, k)
            j += k
            i += k + 1 if q != NULL else k
        sp[0] = tmp
        np[0] = j
        return 0

    cdef inline int prepare(self, Col *c, const char **sp, Py_ssize_t *np, const char **tp,
                     Py_ssize_t *tnp, bint escaped, bint quoted, char *rec) noexcept nogil:
        """Everything before store_op for a field that is not plain: undo doubled quotes,
        trim, set flags, take nulls.  ST_STORE when the value is still to be stored, with
        *sp/*np the text and *tp/*tnp the trimmed text; else the field's status."""
        cdef const char *s = sp[0]
        cdef Py_ssize_t n = np[0]
        cdef int kind = c.kind
        cdef const char *t
        cdef Py_ssize_t tn
        cdef int st
        cdef int64_t v64
        cdef double d
        cdef float f32
        cdef bint text = c.text
        cdef char *tmp
        if escaped and self.unescape(&s, &n, quoted) != 0:
            return ST_NO_MEMORY
        t = s
        tn = n
        if not text or c.flag_count:      # what a number, or a bool flag, reads: trimmed
            while tn > 0 and is_space(t[0]):
                t += 1
                tn -= 1
            while tn > 0 and is_space(t[tn - 1]):
                tn -= 1
        if c.flag_count:
            st = self.set_flags(c, s, n, t, tn, rec)
            if st != ST_OK:
                return st
            if text:                      # a str or category itself keeps its text as it stands
                t = s
                tn = n
        if kind == K_FLAGONLY:
            return ST_OK
        if c.nullable and (self.is_null(s, n) if text else self.is_null(t, tn)):
            if kind == K_FLOAT64:
                d = FASTETL_NAN
                memcpy(rec + c.offset, &d, 8)
            elif kind == K_FLOAT32:
                f32 = <float>FASTETL_NAN
                memcpy(rec + c.offset, &f32, 4)
            elif kind == K_DATE or kind == K_DATETIME:
                v64 = INT64_MIN           # NaT
                memcpy(rec + c.offset, &v64, 8)
            else:
                if kind == K_TEXT:        # offset: where the next value goes (thread-free)
                    text_ref(self, 0, rec + c.offset)
                rec[c.null_byte] |= <char>c.null_mask
            return ST_OK
        if not text and (tn == 0 or self.is_null(t, tn)):
            return ST_EMPTY               # a null where the column is not nullable
        if c.numfmt:                      # 1.234,56 -> 1234.56 (numbers only: see layout)
            tmp = self.scratch_reserve(2, tn)
            if tmp == NULL:
                return ST_NO_MEMORY
            tn = normalize_number(t, tn, c.dec, c.thou, tmp)
            if tn < 0:
                return ST_INVALID
            t = tmp
        sp[0] = s
        np[0] = n
        tp[0] = t
        tnp[0] = tn
        return ST_STORE

    cdef int fill_missing(self, Col *c, char *rec) noexcept nogil:
        """A field a short row lacks (ragged_fill): a null, or ST_MISSING where the column,
        or a bool flag read from it, takes no nulls."""
        cdef Py_ssize_t k
        cdef double d
        cdef float f32
        cdef int64_t v64
        cdef int kind = c.kind
        for k in range(c.flag_first, c.flag_first + c.flag_count):
            if not self.flags[k].has_equals and not self.flags[k].source_nullable:
                return ST_MISSING
        if kind == K_FLAGONLY:
            return ST_OK
        if not c.nullable:
            return ST_MISSING
        if kind == K_FLOAT64:
            d = FASTETL_NAN
            memcpy(rec + c.offset, &d, 8)
        elif kind == K_FLOAT32:
            f32 = <float>FASTETL_NAN
            memcpy(rec + c.offset, &f32, 4)
        elif kind == K_DATE or kind == K_DATETIME:
            v64 = INT64_MIN
            memcpy(rec + c.offset, &v64, 8)
        else:
            if kind == K_TEXT:
                text_ref(self, 0, rec + c.offset)
            rec[c.null_byte] |= <char>c.null_mask
        return ST_OK

    cdef int parse_block(self, const char *buf, Py_ssize_t pos, Py_ssize_t end, bint final,
                         char *out, Py_ssize_t max_rows, int64_t *bad, Py_ssize_t bad_cap,
                         Result *r) noexcept nogil:
        """Parse whole rows of buf[pos:end] into out, at most max_rows of them.

        Stops at the end of the data, before a row that continues past ``end``
        (unless ``final``), or after ``max_rows`` rows.  A bad row is not written.
        Without room for bad rows (``bad_cap == 0``) the first bad row stops the
        parse (status != ST_OK; r says where).  With room, each bad row is recorded
        in ``bad`` (BAD_WIDTH int64s each, see BAD_FIELDS) and parsing goes on
        after it; when ``bad`` is full the parse stops before the next bad row.
        A row whose quoting is broken ends at the first line break after the break.

        Each row is first split into ``self.spans`` (in one pass over its delimiter
        bits by split_row_bits, else field by field by scan_field), then its looked-at fields
        (``self.ops``) are converted: a row with a wrong field count converts nothing.  A
        plain field of an ``as_is`` op is stored as it stands; the others, and one that
        failed that way, go through prepare first.
        """
        cdef Py_ssize_t rows = 0
        cdef Py_ssize_t nbad = 0
        cdef Py_ssize_t row_start, nf, j
        cdef Py_ssize_t row_end = -1
        cdef Span *spans = self.spans
        cdef Span *sp
        cdef const Op *ops = self.ops
        cdef const Op *o
        cdef Py_ssize_t nops = self.nops
        cdef Py_ssize_t nfields = self.nfields
        cdef const char *s
        cdef const char *t
        cdef Py_ssize_t n, tn
        cdef bint prepared, room
        cdef Py_ssize_t itemsize = self.itemsize
        cdef char delim = self.delim
        cdef int quote = self.quote
        cdef char *rec
        cdef int64_t *b
        cdef Field f
        cdef Scan sc                       # scan_field's delimiter bits
        cdef Scan sq                       # split_row_bits's, quotes included
        cdef int fs, st
        cdef Py_ssize_t nreal              # fields the row has (< nfields: ragged_fill)
        cdef const Syntax *syn = &self.syn
        cdef bint plain = syn.plain and fast_paths
        cdef bint uniform_i64 = self.uniform_i64 and fast_paths
        cdef bint ex_bits = (not syn.plain and fast_paths and syn.escape < 0
                             and not syn.lenient)   # split_row_ex_bits applies
        r.status = ST_OK
        r.nbad = 0
        self.journal_len = 0
        sc.base = -64
        sq.base = -64
        while rows < max_rows:
            row_start = skip_blank_any(buf, pos, end, final, syn)
            if row_start < 0:
                break                      # a lone CR at the block end: wait for more
            pos = row_start
            if pos >= end:
                break
            st = ST_OK
            self.tbuf_row = self.tbuf_len
            # -- split the row into spans ------------------------------------
            if plain:
                nf = split_row_bits(buf, pos, end, delim, quote, &sq, spans, nfields, &pos)
            elif ex_bits:
                nf = split_row_ex_bits(buf, pos, end, syn, &sq, spans, nfields, &pos)
            else:
                nf = -1
            if nf < 0:                      # irregular quoting, or the row reaches the data's end
                fs = split_row_fields(buf, pos, end, final, syn, &sc, spans, nfields,
                                      &nf, &pos, &f)
                if fs == FIELD_NEED_MORE:
                    r.rows = rows
                    r.consumed = row_start
                    r.nbad = nbad
                    return ST_OK
                if fs == FIELD_UNTERMINATED or fs == FIELD_AFTER_QUOTE:
                    st = ST_UNTERMINATED if fs == FIELD_UNTERMINATED else ST_AFTER_QUOTE
                    r.field = nf
                    r.field_start = pos + 1           # the content, after the opening quote
                    r.field_len = f.bad - pos - 1 if fs == FIELD_AFTER_QUOTE else 0
                    r.field_quoted = True
                    r.nfound = nf + 1
                    row_end = line_end_after(buf, f.bad if fs == FIELD_AFTER_QUOTE else pos,
                                             end, final)
            # -- convert its fields ----------------------------------------
            nreal = nf
            if st == ST_OK and self.trailing and nf == nfields and (
                    spans[nf - 1].length != 0 or spans[nf - 1].quoted):
                st = ST_TRAILING_TEXT      # text after the trailing delimiter
                r.field = nf - 1
                r.field_start = spans[nf - 1].start
                r.field_len = spans[nf - 1].length
                r.field_quoted = spans[nf - 1].quoted
                r.nfound = nf
                row_end = pos
            if st != ST_OK:
                pass                       # broken quoting, or text after a trailing delimiter
            elif nf != nfields and not (nf < nfields and self.ragged_fill):
                st = ST_TOO_MANY_FIELDS if nf > nfields else ST_TOO_FEW_FIELDS
                r.field = -1
                r.field_start = row_start
                r.field_len = 0
                r.field_quoted = False
                r.nfound = nf
                row_end = pos
            else:
                for j in range(nf, nfields):    # (ragged_fill) the fields the row lacks
                    set_span(&spans[j], row_start, 0, False, False)
                rec = out + rows * itemsize
                memset(rec, 0, <size_t>itemsize)
                if uniform_i64 and nf == nfields:
                    # a row of int64s: each plain field read as it stands, no dispatch;
                    # any other field (quoted with escapes, a null, a bad value): the
                    # loop below does the row again, and says what is wrong
                    for j in range(nops):
                        o = &ops[j]
                        sp = &spans[o.field]
                        if sp.escaped:
                            st = ST_INVALID
                            break
                        st = convert_int(buf + sp.start, sp.length, 8, True, sp.start >= 8,
                                         rec + o.offset)
                        if st != ST_OK:
                            break
                    if st == ST_OK:
                        self.journal_len = 0
                        rows += 1
                        continue
                    st = ST_OK
                for j in range(nops):
                    o = &ops[j]
                    sp = &spans[o.field]
                    if o.field >= nreal:   # (ragged_fill) a field the row lacks
                        st = self.fill_missing(o.col, rec)
                        if st != ST_OK:
                            break
                        continue
                    prepared = sp.escaped or not o.as_is
                    while True:    # once; twice for a field that failed to store as it stands
                        s = buf + sp.start
                        n = sp.length
                        t = s
                        tn = n
                        if prepared:
                            st = self.prepare(o.col, &s, &n, &t, &tn, sp.escaped, sp.quoted,
                                              rec)
                            if st != ST_STORE:
                                break
                        # room: the text lies in buf, 8 bytes or more into it (not in a
                        # scratch buffer: unescaped, or a number with its own decimal mark)
                        room = sp.start >= 8 and not (prepared and (sp.escaped
                                                                     or o.col.numfmt))
                        st = store_op(self, o, s, n, t, tn, room, rec)   # its one call site
                        if st == ST_OK or prepared:
                            break
                        prepared = True   # prepare tells a null, blanks to trim, or a bad value
                    if st != ST_OK:
                        break
                if st == ST_OK:
                    self.journal_len = 0
                    rows += 1
                    continue
                nf = o.field
                r.field = nf
                r.field_start = sp.start
                r.field_len = sp.length
                r.field_quoted = sp.quoted
                r.nfound = nreal
                row_end = pos
            # -- a bad row ---------------------------------------------------
            self.rollback()
            r.rows = rows
            r.consumed = row_start
            r.nbad = nbad
            if bad_cap == 0:
                r.status = st
                r.row_start = row_start
                return st
            if nbad == bad_cap or row_end < 0:
                return ST_OK           # no room to record it, or its end not in sight yet
            b = bad + nbad * BAD_WIDTH
            b[0] = row_start
            b[1] = row_end
            b[2] = st
            b[3] = r.field
            b[4] = r.field_start
            b[5] = r.field_len
            b[6] = r.field_quoted
            b[7] = r.nfound
            b[8] = rows
            nbad += 1
            pos = row_end
        r.rows = rows
        r.consumed = pos
        r.nbad = nbad
        return ST_OK

    # -- Python entry points -------------------------------------------------
    def parse(self, data, Py_ssize_t start, Py_ssize_t end, bint final, out,
              Py_ssize_t out_row, Py_ssize_t max_rows, bad=None):
        """Parse rows of ``data[start:end]`` into ``out`` from record ``out_row`` on.

        Returns ``(status, rows, consumed, row_start, field, field_start, field_len,
        field_quoted, nfound, nbad)``; see :data:`STATUS`.  ``consumed`` is where the
        next call should start.  ``out`` is any writable buffer of records.

        Without ``bad`` the first bad row stops the parse and is described by the
        tuple.  ``bad``, a writable C-contiguous int64 buffer of ``k * BAD_WIDTH``
        items, makes bad rows skippable: up to ``k`` are described there (columns
        :data:`BAD_FIELDS`), ``nbad`` says how many, and parsing goes on after each.
        """
        cdef Py_buffer src
        cdef Py_buffer dst
        cdef Py_buffer badbuf
        cdef Result r
        cdef int st
        cdef Py_ssize_t bad_cap = 0
        cdef int64_t *badp = NULL
        cdef bint have_bad = False
        memset(&r, 0, sizeof(Result))
        PyObject_GetBuffer(data, &src, PyBUF_SIMPLE)
        try:
            PyObject_GetBuffer(out, &dst, PyBUF_WRITABLE)
            try:
                if bad is not None:
                    PyObject_GetBuffer(bad, &badbuf, PyBUF_WRITABLE)
                    have_bad = True
                    bad_cap = badbuf.len // (BAD_WIDTH * sizeof(int64_t))
                    badp = <int64_t *>badbuf.buf
                    if bad_cap == 0:
                        raise ValueError("the bad-row buffer holds no row")
                if not (0 <= start <= end <= src.len):
                    raise ValueError(f"bad input range [{start}, {end}) of {src.len} bytes")
                if out_row < 0 or max_rows < 0 or (out_row + max_rows) * self.itemsize > dst.len:
                    raise ValueError("the output buffer is too small for max_rows records")
                fastetl_parses_add(1)      # (set_scan_path, set_fast_paths: not now)
                try:
                    with nogil:
                        st = self.parse_block(<const char *>src.buf, start, end, final,
                                              <char *>dst.buf + out_row * self.itemsize,
                                              max_rows, badp, bad_cap, &r)
                finally:
                    fastetl_parses_add(-1)
            finally:
                PyBuffer_Release(&dst)
                if have_bad:
                    PyBuffer_Release(&badbuf)
        finally:
            PyBuffer_Release(&src)
        if st == ST_NO_MEMORY:
            raise MemoryError("out of memory while parsing")
        return (st, r.rows, r.consumed, r.row_start, r.field, r.field_start, r.field_len,
                r.field_quoted, r.nfound, r.nbad)

    def take_text(self):
        """The bytes of the text values parsed since the last call (the offsets stored in
        their records count from its start), as bytes; the buffer starts again empty."""
        cdef bytes out = self.tbuf[:self.tbuf_len] if self.tbuf_len else b""
        self.tbuf_len = 0
        self.tbuf_row = 0
        return out

    def take_text_into(self, unsigned char[::1] out):
        """As :meth:`take_text`, into ``out`` (a buffer the caller keeps and uses again:
        no fresh memory per block): the number of bytes taken; or, when ``out`` is too
        small, minus the number of bytes there are (nothing is taken)."""
        cdef Py_ssize_t n = self.tbuf_len
        if n > out.shape[0]:
            return -n
        if n:  # (a block's text, megabytes: the other threads go on meanwhile)
            with nogil:
                memcpy(&out[0], self.tbuf, <size_t>n)
        self.tbuf_len = 0
        self.tbuf_row = 0
        return n

    def categories(self, Py_ssize_t field, Py_ssize_t first=0):
        """The dictionary of a category field from code ``first`` on, as bytes, by code."""
        if not 0 <= field < self.nfields or self.cols[field].kind != K_CATEGORY:
            raise ValueError(f"field {field} is not a category")
        cdef CatDict *d = self.cols[field].dict
        # (the arena is still NULL while every value is empty: no pointer arithmetic on it)
        return [d.arena[d.offsets[e]:d.offsets[e] + d.lengths[e]] if d.lengths[e] else b""
                for e in range(max(first, 0), d.count)]

    def category_count(self, Py_ssize_t field):
        """How many values the dictionary of a category field holds."""
        if not 0 <= field < self.nfields or self.cols[field].kind != K_CATEGORY:
            raise ValueError(f"field {field} is not a category")
        return self.cols[field].dict.count


cdef int split_into(const char *buf, Py_ssize_t start, Py_ssize_t end, bint final,
                    const Syntax *sx, int quote, list fields, Py_ssize_t *nxt) except -2:
    """Append the fields of the row at ``buf[start:]`` to ``fields`` (see split_row);
    returns split_row's status, with its ``next`` in ``*nxt``."""
    cdef Field f
    cdef Scan sc
    cdef int fs
    cdef Py_ssize_t pos
    cdef bytes content
    cdef bytearray text
    sc.base = -64
    nxt[0] = start
    pos = skip_blank_any(buf, start, end, final, sx)
    if pos < 0:
        return -1
    if pos >= end:                      # only blank lines so far
        if not final:
            return -1
        nxt[0] = pos
        return 0
    while True:
        fs = scan_any(buf, pos, end, final, sx, &f, &sc)
        if fs == FIELD_NEED_MORE:
            del fields[:]
            return -1
        if fs == FIELD_UNTERMINATED:
            nxt[0] = pos
            return ST_UNTERMINATED
        if fs == FIELD_AFTER_QUOTE:
            nxt[0] = f.bad
            return ST_AFTER_QUOTE
        content = buf[f.span.start:f.span.start + f.span.length]
        if f.span.escaped and not sx.plain:
            text = bytearray(len(content))
            content = bytes(text[:unescape_into(buf + f.span.start,
                                                f.span.length, f.span.quoted, quote,
                                                sx.escape, <char *>text)])
        elif f.span.escaped:
            q = bytes([quote])
            content = content.replace(q + q, q)
        fields.append(content)
        pos = f.next
        if fs != FIELD_DELIM:
            nxt[0] = pos
            return 0


def split_row(data, Py_ssize_t start, Py_ssize_t end, bint final, int delimiter, int quote):
    """Tokenize the row at ``data[start:]`` with the same rules as the parser.

    Returns ``(status, fields, next)``: ``status`` is 0, or ``STATUS['UNTERMINATED']``
    / ``STATUS['AFTER_QUOTE']``, or -1 when the row continues past ``end`` (not final);
    ``fields`` is a list of bytes with quotes undone.  Blank lines before the row are skipped.
    """
    cdef Py_buffer src
    cdef list fields = []
    cdef Py_ssize_t nxt
    cdef int status
    cdef Syntax sx
    syntax_of(delimiter, quote, &sx)
    PyObject_GetBuffer(data, &src, PyBUF_SIMPLE)
    try:
        if not (0 <= start <= end <= src.len):
            raise ValueError("bad input range")
        status = split_into(<const char *>src.buf, start, end, final, &sx, quote, fields, &nxt)
        return (status, fields, nxt)
    finally:
        PyBuffer_Release(&src)


def find_row_end(data, Py_ssize_t start, Py_ssize_t end, bint final, int delimiter, int quote):
    """Where the row starting at ``start`` ends: ``(status, next, nfields)`` (see split_row)."""
    cdef Py_buffer src
    cdef Field f
    cdef Scan sc
    cdef int fs
    cdef Py_ssize_t pos = start
    cdef Py_ssize_t nf = 0
    cdef Syntax sx
    syntax_of(delimiter, quote, &sx)
    PyObject_GetBuffer(data, &src, PyBUF_SIMPLE)
    try:
        if not (0 <= start <= end <= src.len):
            raise ValueError("bad input range")
        sc.base = -64
        with nogil:
            while True:
                fs = scan_any(<const char *>src.buf, pos, end, final, &sx, &f, &sc)
                if fs == FIELD_NEED_MORE or fs == FIELD_UNTERMINATED or fs == FIELD_AFTER_QUOTE:
                    break
                nf += 1
                pos = f.next
                if fs != FIELD_DELIM:
                    break
    finally:
        PyBuffer_Release(&src)
    if fs == FIELD_NEED_MORE:
        return (-1, start, nf)
    if fs == FIELD_UNTERMINATED:
        return (ST_UNTERMINATED, end, nf)
    if fs == FIELD_AFTER_QUOTE:
        return (ST_AFTER_QUOTE, f.bad, nf)
    return (0, pos, nf)


cdef int _next_row_start(const char *buf, Py_ssize_t start, Py_ssize_t target, Py_ssize_t end,
                         bint final, const Syntax *sx, bint lenient,
                         Py_ssize_t *out) noexcept nogil:
    """Walk whole rows from ``start`` (a row start) to the first row start >= ``target``.

    ``lenient`` walks over rows with broken quoting as Parser.parse does when it
    records bad rows (they end at the first line break after the break)."""
    cdef Py_ssize_t pos = start
    cdef Py_ssize_t row_start, resume
    cdef Field f
    cdef Scan sc
    cdef int fs
    sc.base = -64
    while True:
        row_start = skip_blank_any(buf, pos, end, final, sx)
        if row_start < 0:
            out[0] = pos
            return -1
        if row_start >= target or row_start >= end:
            out[0] = row_start
            return ST_OK
        pos = row_start
        while True:
            fs = scan_any(buf, pos, end, final, sx, &f, &sc)
            if fs == FIELD_NEED_MORE:
                out[0] = row_start
                return -1
            if fs == FIELD_UNTERMINATED or fs == FIELD_AFTER_QUOTE:
                if lenient:
                    resume = line_end_after(buf, f.bad if fs == FIELD_AFTER_QUOTE else pos,
                                            end, final)
                    if resume < 0:
                        out[0] = row_start
                        return -1
                    pos = resume
                    break
                out[0] = row_start
                return ST_UNTERMINATED if fs == FIELD_UNTERMINATED else ST_AFTER_QUOTE
            pos = f.next
            if fs != FIELD_DELIM:
                break


def next_row_start(data, Py_ssize_t start, Py_ssize_t target, Py_ssize_t end, bint final,
                   int delimiter, int quote, bint lenient=False):
    """The first row start at or after ``target``, walking whole rows from ``start``.

    Returns ``(status, pos)``: status 0 and the row start (``end`` at the end of
    the data); -1 and the start of a row that continues past ``end`` (not final);
    or ``STATUS['UNTERMINATED']``/``['AFTER_QUOTE']`` and the start of the bad row.
    Blocks cut at these positions hold whole rows, quoted line breaks included.
    With ``lenient`` rows with broken quoting are walked over, never reported.
    """
    cdef Py_buffer src
    cdef Py_ssize_t pos = start
    cdef int st
    cdef Syntax sx
    syntax_of(delimiter, quote, &sx)
    PyObject_GetBuffer(data, &src, PyBUF_SIMPLE)
    try:
        if not (0 <= start <= end <= src.len):
            raise ValueError("bad input range")
        with nogil:
            st = _next_row_start(<const char *>src.buf, start, target, end, final,
                                 &sx, lenient, &pos)
    finally:
        PyBuffer_Release(&src)
    return (st, pos)


def row_spans(data, Py_ssize_t start, Py_ssize_t end, bint final, int delimiter, int quote,
              bint lenient, bad, Py_ssize_t count, out):
    """Where the rows of the first ``count`` records of a parsed block are, walked in
    compiled code from ``start`` (the block's first row start) as Parser.parse walked
    them: ``bad`` (the parse's bad rows, BAD_WIDTH int64s each, in order) are stepped
    over.  Writes each row's (start, end) as two int64s into ``out`` (a writable
    buffer of ``2 * count`` int64s); returns how many rows it found (``count`` unless
    the data ended first)."""
    cdef Py_buffer src, bsrc, osrc
    cdef Field f
    cdef Scan sc
    cdef int fs
    cdef Syntax sx
    cdef Py_ssize_t k = 0, j = 0, nbad, r = start, pos, at
    cdef const int64_t *bd
    cdef int64_t *o
    syntax_of(delimiter, quote, &sx)
    PyObject_GetBuffer(data, &src, PyBUF_SIMPLE)
    PyObject_GetBuffer(bad, &bsrc, PyBUF_SIMPLE)
    try:
        PyObject_GetBuffer(out, &osrc, PyBUF_WRITABLE)
        try:
            if not (0 <= start <= end <= src.len):
                raise ValueError("bad input range")
            if count < 0 or osrc.len < count * 2 * <Py_ssize_t>sizeof(int64_t):
                raise ValueError("out is too small")
            nbad = bsrc.len // (BAD_WIDTH * <Py_ssize_t>sizeof(int64_t))
            bd = <const int64_t *>bsrc.buf
            o = <int64_t *>osrc.buf
            with nogil:
                _next_row_start(<const char *>src.buf, start, start, end, final, &sx, lenient, &r)
                while k < count:
                    while j < nbad and bd[j * BAD_WIDTH + 8] == k:  # rows_before: step over it
                        at = <Py_ssize_t>bd[j * BAD_WIDTH + 1]  # its row_end
                        _next_row_start(<const char *>src.buf, at, at, end, final, &sx,
                                        lenient, &r)
                        j += 1
                    pos = r
                    sc.base = -64
                    while True:
                        fs = scan_any(<const char *>src.buf, pos, end, final, &sx, &f, &sc)
                        if (fs == FIELD_NEED_MORE or fs == FIELD_UNTERMINATED
                                or fs == FIELD_AFTER_QUOTE):
                            break
                        pos = f.next
                        if fs != FIELD_DELIM:
                            break
                    if fs == FIELD_NEED_MORE or fs == FIELD_UNTERMINATED or fs == FIELD_AFTER_QUOTE:
                        break
                    o[2 * k] = r
                    o[2 * k + 1] = pos
                    k += 1
                    _next_row_start(<const char *>src.buf, pos, pos, end, final, &sx, lenient, &r)
        finally:
            PyBuffer_Release(&osrc)
    finally:
        PyBuffer_Release(&bsrc)
        PyBuffer_Release(&src)
    return k


def line_start_after(data, Py_ssize_t pos):
    """Just after the first line break at or after ``pos`` (CRLF counts as one), or the
    end of the data: where a row would start if ``pos`` were outside quotes."""
    cdef Py_buffer src
    cdef Py_ssize_t r
    PyObject_GetBuffer(data, &src, PyBUF_SIMPLE)
    try:
        if not 0 <= pos <= src.len:
            raise ValueError("bad input position")
        with nogil:
            r = line_end_after(<const char *>src.buf, pos, src.len, True)
    finally:
        PyBuffer_Release(&src)
    return r


def count_lines(data, Py_ssize_t start, Py_ssize_t end, int quote=-1):
    """Line breaks in ``data[start:end]`` (LF, CRLF and lone CR each count once); with a
    ``quote`` byte (0-255), -1 when it is among them: a plain file's two checks of a
    piece in one pass (AVX2), not two."""
    cdef Py_buffer src
    cdef Py_ssize_t n
    if not -1 <= quote <= 255:  # (-1: no quote; any other negative was a caller's slip)
        raise ValueError(f"count_lines: quote={quote} is not a byte (0-255) nor -1 (none)")
    PyObject_GetBuffer(data, &src, PyBUF_SIMPLE)
    try:
        if not (0 <= start <= end <= src.len):
            raise ValueError("bad input range")
        with nogil:
            if quote < 0:
                n = count_line_breaks(<const char *>src.buf, start, end)
            else:
                n = fastetl_count_breaks_unless(<const unsigned char *>src.buf + start,
                                                end - start, <unsigned char>quote,
                                                3 if fast_paths else 0)
    finally:
        PyBuffer_Release(&src)
    return n

include "_bridges.pxi"
include "_arrowout.pxi"
include "_pqfooter.pxi"
include "_pdframe.pxi"

include "_hash.pxi"
include "_csvout.pxi"
include "_fold.pxi"
include "_codes.pxi"
