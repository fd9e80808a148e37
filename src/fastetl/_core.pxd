# Declarations shared by the parts of the compiled core (_core.pyx and its .pxi files).

cimport cython
from libc.stdint cimport int64_t, uint8_t, uint32_t, uint64_t


cdef struct CatDict:
    uint32_t *slots          # 0 = empty, else entry index + 1
    Py_ssize_t nslots        # a power of two
    Py_ssize_t *offsets      # entry -> arena offset
    uint32_t *lengths
    uint64_t *hashes
    Py_ssize_t count
    Py_ssize_t capacity      # entries allocated
    char *arena
    Py_ssize_t arena_len
    Py_ssize_t arena_cap
    Py_ssize_t limit         # most entries allowed
    bint frozen              # fixed values: lookups only


cdef struct Col:
    # What to do with one field of a row.  Built once per conversion from the schema.
    int kind                 # K_* below
    int size                 # bytes of the stored value (int/uint/category code); str width
    Py_ssize_t offset        # of the value in the record
    bint nullable
    Py_ssize_t null_byte     # record offset of the byte holding this column's null bit
    uint8_t null_mask        # that bit; 0 when nulls live in the value (NaN/NaT) or never occur
    int scale                # decimal
    bint round_half_even     # decimal
    bint truncate            # str
    int64_t unit_mul         # datetime: units per second
    int frac_digits          # datetime: fraction digits the unit holds
    int fmt_len              # date/datetime: 0 means ISO 8601
    char fmt[64]
    CatDict *dict            # category
    Py_ssize_t flag_first    # flag bits computed from this field: flags[first:first+count]
    Py_ssize_t flag_count
    bint text                # str or category: the text is kept as is (never trimmed)
    bint numfmt              # a number spelled with dec/thou: normalised before storing
    char dec                 # its decimal mark ('.' or ',')
    char thou                # its digit-group separator, 0 for none


cdef struct Op:
    # One looked-at field (kind != K_IGNORE), in row order: Parser.parse_block walks these.
    int code                 # OP_* (_core.pyx): how its value is stored
    bint as_is               # a plain field is stored as it stands, prepare only if that
                             # fails (op_as_is in _core.pyx)
    Py_ssize_t field         # index of the field in the row
    Py_ssize_t offset        # of the value in the record (= col.offset)
    Col *col


cdef struct Span:
    # Where one field of the row being parsed lies (Parser.parse_block splits a whole
    # row into these before it converts any field).
    Py_ssize_t start         # first byte of the content (after the opening quote, if quoted)
    Py_ssize_t length        # bytes of content, escapes still doubled
    bint quoted
    bint escaped             # the content holds doubled quotes to undo


cdef struct Syntax:
    # How rows split into fields (_scan.pxi: syntax_of reads it from the syntax word).
    char delim
    int quote                # -1: no quoting
    int escape               # -1: none
    int comment              # -1: none
    bint skip_space
    bint lenient
    bint plain               # none of escape/comment/skip_space/lenient: the fast paths apply


cdef struct FlagSpec:
    Py_ssize_t byte          # record offset of the byte holding the bit
    uint8_t mask
    bint has_equals          # set when the text equals `equals`; else parse a bool
    char *equals
    Py_ssize_t equals_len
    bint source_nullable


cdef struct Result:
    int status
    Py_ssize_t rows          # records written
    Py_ssize_t consumed      # input offset after the last complete row handled
    Py_ssize_t row_start     # with an error: where the bad row starts
    Py_ssize_t field         # ... which field of the row (0-based)
    Py_ssize_t field_start   # ... where its content starts
    Py_ssize_t field_len
    bint field_quoted
    Py_ssize_t nfound        # ... how many fields the row has (structural errors)
    Py_ssize_t nbad          # bad rows recorded (when the caller gave room for them)


@cython.final
cdef class Parser:
    cdef Col *cols
    cdef Py_ssize_t nfields
    cdef FlagSpec *flags
    cdef Py_ssize_t nflags
    cdef Py_ssize_t itemsize
    cdef char delim
    cdef int quote
    cdef Syntax syn
    cdef bint ragged_fill        # a short row's missing fields are nulls
    cdef bint trailing           # the last field is the empty one after a trailing delimiter
    cdef char **null_ptrs
    cdef Py_ssize_t *null_lens
    cdef Py_ssize_t n_nulls
    cdef bint nulls_only_empty
    cdef uint64_t null_len_mask      # bit n: a null value of n bytes (n < 64)
    cdef bint null_long              # a null value of 64 bytes or more
    cdef uint8_t null_first[256]     # 1: a non-empty null value starts with this byte
    cdef uint8_t null_last[256]      # 1: a non-empty null value ends with this byte
    cdef char *scratch[3]        # 0: unescaped text, 1: slow_float, 2: a normalised number
    cdef Py_ssize_t scratch_cap[3]
    cdef char **word_ptrs        # the dialect's true_values then false_values
    cdef Py_ssize_t *word_lens
    cdef Py_ssize_t n_true
    cdef Py_ssize_t n_words
    cdef Py_ssize_t *journal
    cdef Py_ssize_t journal_len
    cdef Span *spans             # the fields of the row at hand, nfields of them
    cdef Op *ops                 # the fields that are looked at, in order
    cdef Py_ssize_t nops
    cdef int uniform_i64          # every op an int64 stored as it stands: the short loop
    cdef char *tbuf              # text column bytes since the last take_text (K_TEXT)
    cdef Py_ssize_t tbuf_len
    cdef Py_ssize_t tbuf_cap
    cdef Py_ssize_t tbuf_row     # tbuf_len when the row at hand started (for rollback)

    cdef char *scratch_reserve(self, int slot, Py_ssize_t n) noexcept nogil
    cdef inline bint is_null(self, const char *s, Py_ssize_t n) noexcept nogil
    cdef int read_bool(self, const char *s, Py_ssize_t n, uint8_t *out) noexcept nogil
    cdef void rollback(self) noexcept nogil
    cdef inline int set_flags(self, Col *c, const char *raw, Py_ssize_t rawn,
                       const char *t, Py_ssize_t tn, char *rec) noexcept nogil
    cdef int unescape(self, const char **sp, Py_ssize_t *np, bint quoted) noexcept nogil
    cdef int fill_missing(self, Col *c, char *rec) noexcept nogil
    cdef inline int prepare(self, Col *c, const char **sp, Py_ssize_t *np, const char **tp,
                     Py_ssize_t *tnp, bint escaped, bint quoted, char *rec) noexcept nogil
    cdef int parse_block(self, const char *buf, Py_ssize_t pos, Py_ssize_t end, bint final,
                         char *out, Py_ssize_t max_rows, int64_t *bad, Py_ssize_t bad_cap,
                         Result *r) noexcept nogil
