# The tokenizer: splits rows into fields in a byte range.  split_row_bits takes a row
# with regular quoting in one pass over its delimiter/line-break/quote bits (64 bytes at
# a time); scan_field finds one field at a time and handles every other row.
#
# Included by _core.pyx.  Everything here is C-level and nogil; it reads bytes
# and returns a status, it never allocates and never raises.

cdef extern from * nogil:
    """
    #include <string.h>
    #include <stdint.h>

    /* For the few small helpers of the hot path that the compiler must inline even where
       its size estimate says no (every use is a handful of instructions once inlined). */
    #if defined(_MSC_VER)
    #define FASTETL_INLINE static __forceinline
    #elif defined(__GNUC__) || defined(__clang__)
    #define FASTETL_INLINE static inline __attribute__((always_inline))
    #else
    #define FASTETL_INLINE static inline
    #endif

    /* A little-endian target known at compile time: a word's bytes are already in the
       order the loads below and the record layout want, so one memcpy does.  Elsewhere,
       and under FASTETL_PORTABLE, bytes are assembled one by one. */
    #if !defined(FASTETL_PORTABLE) && ((defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__) \
            || (defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86) || defined(_M_ARM64))))
    #define FASTETL_LE_MEMCPY 1
    #else
    #define FASTETL_LE_MEMCPY 0
    #endif

    /* Eight bytes at p as a number whose lowest byte is p[0], whatever the byte order
       (used by the word-at-a-time loops here and in _numbers.pxi / _text.pxi). */
    static inline uint64_t fastetl_load8(const char *p) {
        uint64_t v;
    #if FASTETL_LE_MEMCPY
        memcpy(&v, p, 8);
    #else
        const unsigned char *u = (const unsigned char *)p;
        v = (uint64_t)u[0] | (uint64_t)u[1] << 8 | (uint64_t)u[2] << 16 | (uint64_t)u[3] << 24
            | (uint64_t)u[4] << 32 | (uint64_t)u[5] << 40 | (uint64_t)u[6] << 48
            | (uint64_t)u[7] << 56;
    #endif
        return v;
    }

    /* Four bytes at p, p[0] lowest (the 4-byte companion of fastetl_load8). */
    FASTETL_INLINE uint32_t fastetl_load4(const char *p) {
        uint32_t v;
    #if FASTETL_LE_MEMCPY
        memcpy(&v, p, 4);
    #else
        const unsigned char *u = (const unsigned char *)p;
        v = (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 | (uint32_t)u[3] << 24;
    #endif
        return v;
    }

    /* Trailing zero bits of x != 0. */
    static inline int fastetl_ctz64(uint64_t x) {
    #if !defined(FASTETL_PORTABLE) && (defined(__GNUC__) || defined(__clang__))
        return __builtin_ctzll(x);
    #elif !defined(FASTETL_PORTABLE) && defined(_MSC_VER) && (defined(_M_X64) || defined(_M_ARM64))
        unsigned long idx;
        _BitScanForward64(&idx, x);
        return (int)idx;
    #else
        int n = 0;
        if (!(x & 0xFFFFFFFFULL)) { n += 32; x >>= 32; }
        if (!(x & 0xFFFFULL)) { n += 16; x >>= 16; }
        if (!(x & 0xFFULL)) { n += 8; x >>= 8; }
        if (!(x & 0xFULL)) { n += 4; x >>= 4; }
        if (!(x & 0x3ULL)) { n += 2; x >>= 2; }
        if (!(x & 0x1ULL)) { n += 1; }
        return n;
    #endif
    }

    /* v's low `size` bytes (1, 2, 4 or 8) at p, least significant first, as the
       little-endian record layout wants them: one plain store each, not a call. */
    static inline void fastetl_store_le(char *p, uint64_t v, int size) {
    #if FASTETL_LE_MEMCPY
        uint8_t b; uint16_t h; uint32_t w;
        switch (size) {
        case 1: b = (uint8_t)v; memcpy(p, &b, 1); return;
        case 2: h = (uint16_t)v; memcpy(p, &h, 2); return;
        case 4: w = (uint32_t)v; memcpy(p, &w, 4); return;
        default: memcpy(p, &v, 8); return;
        }
    #else
        int i;
        for (i = 0; i < size; i++)
            p[i] = (char)(unsigned char)(v >> (8 * i));
    #endif
    }

    /* a[:n] == b[:n], reading whole words (no library call for the short values of
       categories, flags and null markers). */
    static inline int fastetl_same(const char *a, const char *b, Py_ssize_t n) {
        uint64_t x, y;
        uint32_t p, q, r, s;
        while (n >= 8) {
            memcpy(&x, a, 8);
            memcpy(&y, b, 8);
            if (x != y)
                return 0;
            a += 8; b += 8; n -= 8;
        }
        if (n >= 4) {   /* 4..7 bytes: two overlapping halves */
            memcpy(&p, a, 4); memcpy(&q, b, 4);
            memcpy(&r, a + n - 4, 4); memcpy(&s, b + n - 4, 4);
            return p == q && r == s;
        }
        while (n > 0) {
            if (*a != *b)
                return 0;
            a++; b++; n--;
        }
        return 1;
    }

    /* memcpy for the short texts of string fields: up to 32 bytes as two overlapping
       loads and stores inside [s, s + n) and [d, d + n), longer ones by the library. */
    static inline void fastetl_copy(char *d, const char *s, Py_ssize_t n) {
        uint64_t a, b, c, e;
        uint32_t x, y;
        if (n > 32) {
            memcpy(d, s, (size_t)n);
        } else if (n >= 16) {
            memcpy(&a, s, 8); memcpy(&b, s + 8, 8);
            memcpy(&c, s + n - 16, 8); memcpy(&e, s + n - 8, 8);
            memcpy(d, &a, 8); memcpy(d + 8, &b, 8);
            memcpy(d + n - 16, &c, 8); memcpy(d + n - 8, &e, 8);
        } else if (n >= 8) {
            memcpy(&a, s, 8); memcpy(&b, s + n - 8, 8);
            memcpy(d, &a, 8); memcpy(d + n - 8, &b, 8);
        } else if (n >= 4) {
            memcpy(&x, s, 4); memcpy(&y, s + n - 4, 4);
            memcpy(d, &x, 4); memcpy(d + n - 4, &y, 4);
        } else {
            while (n > 0) {
                n--;
                d[n] = s[n];
            }
        }
    }

    #define FASTETL_ONES 0x0101010101010101ULL

    /* The high bit of every byte of v that equals b, exactly (no borrow between bytes). */
    static inline uint64_t fastetl_bytes_eq_exact(uint64_t v, uint64_t b) {
        const uint64_t lows = 0x7F7F7F7F7F7F7F7FULL;
        uint64_t x = v ^ (FASTETL_ONES * b);
        uint64_t t = (x & lows) + lows;          /* high bit: some low bit of x is set */
        return ~(t | x | lows);                  /* high bit: the byte of x is zero */
    }

    /* -- which bytes are special, 64 at a time, on the vector unit the CPU has ---------
       One function per level, chosen once at run time (the wheel is built for baseline
       x86-64): portable C (word-at-a-time compares, any compiler and CPU); SSE2 (every
       x86-64); AVX2 where the CPU and the OS have it; NEON (every arm64).  Every level
       gives the same bits; set_scan_path forces one (the tests run them all), and
       FASTETL_PORTABLE compiles every level but the portable one out. */

    #if !defined(FASTETL_PORTABLE) && (defined(__SSE2__) || defined(_M_X64) \
            || (defined(_M_IX86_FP) && _M_IX86_FP >= 2))
    #define FASTETL_HAVE_SSE2 1
    #include <emmintrin.h>
    #endif
    #if !defined(FASTETL_PORTABLE) && (defined(__x86_64__) || defined(_M_X64)) \
            && (defined(__GNUC__) || defined(__clang__) || defined(_MSC_VER))
    #define FASTETL_HAVE_AVX2 1     /* compiled for its own target, run after a CPU check */
    #include <immintrin.h>
    #if defined(_MSC_VER) && defined(__clang__) && !defined(__AVX2__)
    /* clang-cl before clang 16: immintrin.h declares the AVX2 intrinsics only when the
       whole file is compiled for AVX2 (/arch:AVX2); its parts, included after it, do. */
    #include <avxintrin.h>
    #include <avx2intrin.h>
    #endif
    #if defined(_MSC_VER)
    #include <intrin.h>              /* __cpuid, __cpuidex, _xgetbv (clang-cl too) */
    #endif
    #if defined(_MSC_VER) && !defined(__clang__)
    #define FASTETL_TARGET(t)        /* MSVC compiles any intrinsic without a flag */
    #else
    #define FASTETL_TARGET(t) __attribute__((target(t)))
    #endif
    #endif
    #if !defined(FASTETL_PORTABLE) && (defined(__aarch64__) || defined(_M_ARM64))
    #define FASTETL_HAVE_NEON 1
    #include <arm_neon.h>
    #endif

    /* Bit k set when p[k] is a, b, c or d, for 64 readable bytes at p: the portable level. */
    static uint64_t fastetl_mask4_portable(const char *p, unsigned char a, unsigned char b,
                                           unsigned char c, unsigned char d) {
        uint64_t m = 0, v, e;
        int k;
        for (k = 0; k < 8; k++) {
            v = fastetl_load8(p + 8 * k);
            e = fastetl_bytes_eq_exact(v, a) | fastetl_bytes_eq_exact(v, b)
                | fastetl_bytes_eq_exact(v, c) | fastetl_bytes_eq_exact(v, d);
            /* the 8 high bits, byte j's to bit j */
            m |= (((e >> 7) * 0x0102040810204080ULL) >> 56) << (8 * k);
        }
        return m;
    }

    #ifdef FASTETL_HAVE_SSE2
    static uint64_t fastetl_mask4_sse2(const char *p, unsigned char a, unsigned char b,
                                       unsigned char c, unsigned char d) {
        const __m128i va = _mm_set1_epi8((char)a), vb = _mm_set1_epi8((char)b);
        const __m128i vc = _mm_set1_epi8((char)c), vd = _mm_set1_epi8((char)d);
        uint64_t m = 0;
        int k;
        for (k = 0; k < 4; k++) {
            __m128i v = _mm_loadu_si128((const __m128i *)(p + 16 * k));
            __m128i e = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, va), _mm_cmpeq_epi8(v, vb)),
                                     _mm_or_si128(_mm_cmpeq_epi8(v, vc), _mm_cmpeq_epi8(v, vd)));
            m |= (uint64_t)(uint32_t)_mm_movemask_epi8(e) << (16 * k);
        }
        return m;
    }
    #endif

    #ifdef FASTETL_HAVE_AVX2
    FASTETL_TARGET("avx2")
    static uint64_t fastetl_mask4_avx2(const char *p, unsigned char a, unsigned char b,
                                       unsigned char c, unsigned char d) {
        const __m256i va = _mm256_set1_epi8((char)a), vb = _mm256_set1_epi8((char)b);
        const __m256i vc = _mm256_set1_epi8((char)c), vd = _mm256_set1_epi8((char)d);
        __m256i v0 = _mm256_loadu_si256((const __m256i *)p);
        __m256i v1 = _mm256_loadu_si256((const __m256i *)(p + 32));
        __m256i e0 = _mm256_or_si256(
            _mm256_or_si256(_mm256_cmpeq_epi8(v0, va), _mm256_cmpeq_epi8(v0, vb)),
            _mm256_or_si256(_mm256_cmpeq_epi8(v0, vc), _mm256_cmpeq_epi8(v0, vd)));
        __m256i e1 = _mm256_or_si256(
            _mm256_or_si256(_mm256_cmpeq_epi8(v1, va), _mm256_cmpeq_epi8(v1, vb)),
            _mm256_or_si256(_mm256_cmpeq_epi8(v1, vc), _mm256_cmpeq_epi8(v1, vd)));
        return (uint64_t)(uint32_t)_mm256_movemask_epi8(e0)
               | (uint64_t)(uint32_t)_mm256_movemask_epi8(e1) << 32;
    }
    #endif

    #ifdef FASTETL_HAVE_NEON
    static uint64_t fastetl_mask4_neon(const char *p, unsigned char a, unsigned char b,
                                       unsigned char c, unsigned char d) {
        /* each byte's compare (0 or 0xFF) as one bit, byte k of the 64 to bit k */
        static const uint8_t weights[16] = {1, 2, 4, 8, 16, 32, 64, 128,
                                            1, 2, 4, 8, 16, 32, 64, 128};
        const uint8x16_t bit = vld1q_u8(weights);
        const uint8x16_t va = vdupq_n_u8(a), vb = vdupq_n_u8(b);
        const uint8x16_t vc = vdupq_n_u8(c), vd = vdupq_n_u8(d);
        uint8x16_t e[4], s0, s1;
        int k;
        for (k = 0; k < 4; k++) {
            uint8x16_t v = vld1q_u8((const uint8_t *)p + 16 * k);
            e[k] = vandq_u8(vorrq_u8(vorrq_u8(vceqq_u8(v, va), vceqq_u8(v, vb)),
                                     vorrq_u8(vceqq_u8(v, vc), vceqq_u8(v, vd))), bit);
        }
        s0 = vpaddq_u8(e[0], e[1]);
        s1 = vpaddq_u8(e[2], e[3]);
        s0 = vpaddq_u8(s0, s1);
        s0 = vpaddq_u8(s0, s0);
        return vgetq_lane_u64(vreinterpretq_u64_u8(s0), 0);
    }
    #endif

    /* The levels, slowest first; `avx2`: needs the CPU check. */
    typedef struct {
        const char *name;
        int avx2;
        uint64_t (*mask4)(const char *, unsigned char, unsigned char, unsigned char,
                          unsigned char);
    } fastetl_scan_path;

    static const fastetl_scan_path fastetl_scan_paths[] = {
        {"portable", 0, fastetl_mask4_portable},
    #ifdef FASTETL_HAVE_SSE2
        {"sse2", 0, fastetl_mask4_sse2},
    #endif
    #ifdef FASTETL_HAVE_AVX2
        {"avx2", 1, fastetl_mask4_avx2},
    #endif
    #ifdef FASTETL_HAVE_NEON
        {"neon", 0, fastetl_mask4_neon},
    #endif
    };
    #define FASTETL_NPATHS ((int)(sizeof fastetl_scan_paths / sizeof fastetl_scan_paths[0]))

    /* The level in use: set_scan_path; the best usable one from the module's start. */
    static const fastetl_scan_path *fastetl_scan = &fastetl_scan_paths[0];

    /* Whether the CPU has AVX2 and the OS saves its registers.  Under _MSC_VER by cpuid
       and xgetbv, clang-cl included (it defines _MSC_VER and __clang__): its
       __builtin_cpu_supports calls compiler-rt's __cpu_model / __cpu_indicator_init,
       which the MSVC linker does not link, so the module would not load. */
    static int fastetl_cpu_avx2(void) {
    #if defined(FASTETL_HAVE_AVX2) && defined(_MSC_VER)
        int info[4];
        int top;
        __cpuid(info, 0);
        top = info[0];
        __cpuid(info, 1);
        if (!(info[2] & (1 << 27)) || !(info[2] & (1 << 28)))    /* OSXSAVE, AVX */
            return 0;
        if ((_xgetbv(0) & 6) != 6 || top < 7)                   /* XMM and YMM state saved */
            return 0;
        __cpuidex(info, 7, 0);
        return (info[1] & (1 << 5)) != 0;
    #elif defined(FASTETL_HAVE_AVX2)
        __builtin_cpu_init();       /* (it checks the OS's support of the AVX state too) */
        return __builtin_cpu_supports("avx2") != 0;
    #else
        return 0;
    #endif
    }

    static int fastetl_scan_usable(int i) {
        static int avx2 = -1;
        if (avx2 < 0)
            avx2 = fastetl_cpu_avx2();
        return i >= 0 && i < FASTETL_NPATHS && (!fastetl_scan_paths[i].avx2 || avx2);
    }
    static int fastetl_scan_count(void) { return FASTETL_NPATHS; }
    static const char *fastetl_scan_name(int i) { return fastetl_scan_paths[i].name; }
    static int fastetl_scan_current(void) { return (int)(fastetl_scan - fastetl_scan_paths); }
    static void fastetl_scan_set(int i) { fastetl_scan = &fastetl_scan_paths[i]; }

    /* Bit k set when p[k] is a, b, c or d, for the k < n (at most 64) bytes that are
       read; bits from n up are clear.  Fewer than 64 bytes go through a zeroed copy. */
    static inline uint64_t fastetl_mask64(const char *p, Py_ssize_t n, unsigned char a,
                                          unsigned char b, unsigned char c, unsigned char d) {
        char tmp[64];
        if (n >= 64)
            return fastetl_scan->mask4(p, a, b, c, d);
        if (n <= 0)
            return 0;
        memset(tmp, 0, sizeof tmp);
        memcpy(tmp, p, (size_t)n);
        return fastetl_scan->mask4(tmp, a, b, c, d) & (((uint64_t)1 << n) - 1);
    }
    """
    uint64_t fastetl_load8(const char *p)
    uint32_t fastetl_load4(const char *p)
    void fastetl_store_le(char *p, uint64_t v, int size)
    bint fastetl_same(const char *a, const char *b, Py_ssize_t n)
    void fastetl_copy(char *d, const char *s, Py_ssize_t n)
    uint64_t fastetl_mask64(const char *p, Py_ssize_t n, unsigned char a, unsigned char b,
                            unsigned char c, unsigned char d)
    int fastetl_ctz64(uint64_t x)
    int fastetl_scan_usable(int i)
    int fastetl_scan_count()
    const char *fastetl_scan_name(int i)
    int fastetl_scan_current()
    void fastetl_scan_set(int i)


# scan_field results
cdef enum:
    FIELD_DELIM = 0       # field ended at a delimiter; more fields follow in this row
    FIELD_EOL = 1         # field ended at a line end (LF, CRLF or CR); the row is complete
    FIELD_EOF = 2         # field ended at the end of the final block; the row is complete
    FIELD_NEED_MORE = 3   # the field (or its line end) continues past the block: need more bytes
    FIELD_UNTERMINATED = 4  # the final block ends inside a quoted field
    FIELD_AFTER_QUOTE = 5   # a closing quote is followed by something else than delimiter/line end


cdef struct Field:
    Span span             # where its content lies, and how it is quoted (see _core.pxd)
    Py_ssize_t next       # where the next field (or row) starts
    Py_ssize_t bad        # with FIELD_AFTER_QUOTE: the offending byte


cdef struct Scan:
    # Which bytes of buf[base:base + 64] are a delimiter, LF or CR (bit k: buf[base + k]),
    # computed once for the few fields that lie there.  Valid for one buffer and one end:
    # each scanning loop starts its own with base = -64.
    Py_ssize_t base
    uint64_t bits


cdef inline Py_ssize_t find_special(const char *buf, Py_ssize_t pos, Py_ssize_t end, char delim,
                                    Scan *sc) noexcept nogil:
    """The first i >= pos where buf[i] is the delimiter, LF or CR; ``end`` if none."""
    cdef Py_ssize_t off
    cdef uint64_t m
    while True:
        off = pos - sc.base
        if off < 0 or off >= 64:
            sc.base = pos
            sc.bits = fastetl_mask64(buf + pos, end - pos, <unsigned char>delim, c'\n', c'\r',
                                     <unsigned char>delim)
            off = 0
        m = sc.bits >> off
        if m:
            return pos + fastetl_ctz64(m)
        pos = sc.base + 64
        if pos >= end:
            return end


cdef inline int _line_end(const char *buf, Py_ssize_t i, Py_ssize_t end, bint final,
                          Field *f) noexcept nogil:
    """buf[i] is CR or LF: set f.next past the line end."""
    if buf[i] == c'\n':
        f.next = i + 1
        return FIELD_EOL
    # CR: either CRLF or a lone CR (old Mac files)
    if i + 1 < end:
        f.next = i + 2 if buf[i + 1] == c'\n' else i + 1
        return FIELD_EOL
    if final:
        f.next = i + 1
        return FIELD_EOL
    return FIELD_NEED_MORE    # cannot tell CR from CRLF yet


cdef inline int scan_field(const char *buf, Py_ssize_t pos, Py_ssize_t end, bint final,
                           char delim, int quote, Field *f, Scan *sc) noexcept nogil:
    """Find the field that starts at ``pos`` (``sc``: the caller's scan state for buf/end)."""
    cdef Py_ssize_t i
    cdef char c
    cdef const char *hit
    if quote >= 0 and pos < end and buf[pos] == <char>quote:
        f.span.quoted = True
        f.span.escaped = False
        i = pos + 1
        while True:
            hit = <const char *>memchr(buf + i, quote, <size_t>(end - i))
            if hit == NULL:
                return FIELD_UNTERMINATED if final else FIELD_NEED_MORE
            i = hit - buf
            if i + 1 < end:
                if buf[i + 1] == <char>quote:      # "" is one literal quote
                    f.span.escaped = True
                    i += 2
                    continue
                break
            if not final:
                return FIELD_NEED_MORE             # could be the first half of ""
            break
        f.span.start = pos + 1
        f.span.length = i - pos - 1
        i += 1                                     # past the closing quote
        if i >= end:
            f.next = end
            return FIELD_EOF
        c = buf[i]
        if c == delim:
            f.next = i + 1
            return FIELD_DELIM
        if c == c'\n' or c == c'\r':
            return _line_end(buf, i, end, final, f)
        f.bad = i
        return FIELD_AFTER_QUOTE

    f.span.quoted = False
    f.span.escaped = False
    i = find_special(buf, pos, end, delim, sc)
    f.span.start = pos
    f.span.length = i - pos
    if i >= end:
        if final:
            f.next = end
            return FIELD_EOF
        return FIELD_NEED_MORE
    c = buf[i]
    if c == delim:
        f.next = i + 1
        return FIELD_DELIM
    return _line_end(buf, i, end, final, f)


cdef inline uint64_t row_bits_from(const char *buf, Py_ssize_t p, Py_ssize_t end, char delim,
                                   unsigned char q, Scan *sq) noexcept nogil:
    """split_row_bits's bits for the bytes from ``p`` on in sq's window (the window moved
    to ``p`` when ``p`` is outside it)."""
    cdef Py_ssize_t off = p - sq.base
    if off < 0 or off >= 64:
        sq.base = p
        sq.bits = fastetl_mask64(buf + p, end - p, <unsigned char>delim, c'\n', c'\r', q)
        off = 0
    return sq.bits & (~(<uint64_t>0) << off)


cdef inline void set_span(Span *sp, Py_ssize_t start, Py_ssize_t length, bint quoted,
                          bint escaped) noexcept nogil:
    sp.start = start
    sp.length = length
    sp.quoted = quoted
    sp.escaped = escaped


cdef inline Py_ssize_t split_row_bits(const char *buf, Py_ssize_t pos, Py_ssize_t end,
                                      char delim, int quote, Scan *sq, Span *spans,
                                      Py_ssize_t cap, Py_ssize_t *next) noexcept nogil:
    """Split the row at ``pos`` in one pass over the bits of its delimiters, line breaks
    and quotes, when it ends before ``end`` and its quoting is regular (quotes only
    around whole fields, a closing quote followed by a delimiter or line break).
    Fills ``spans[:min(fields, cap)]``, sets ``*next`` past the line break and returns
    the number of fields; -1 for any other row (then scan_field splits it, and finds
    what is wrong).  ``sq``: this loop's own scan state for buf/end.
    """
    cdef Py_ssize_t k = 0
    cdef Py_ssize_t fstart = pos
    cdef Py_ssize_t i, j
    cdef uint64_t m
    cdef char ch
    cdef bint escaped
    cdef const char *hit
    cdef unsigned char q = <unsigned char>quote if quote >= 0 else <unsigned char>delim
    m = row_bits_from(buf, pos, end, delim, q, sq)
    while True:
        while m == 0:
            i = sq.base + 64
            if i >= end:
                return -1                          # the row runs to the end of the data
            sq.base = i
            sq.bits = fastetl_mask64(buf + i, end - i, <unsigned char>delim, c'\n', c'\r', q)
            m = sq.bits
        i = sq.base + fastetl_ctz64(m)
        m &= m - 1
        ch = buf[i]
        if ch == delim:
            if k < cap:
                set_span(&spans[k], fstart, i - fstart, False, False)
            k += 1
            fstart = i + 1
            continue
        if ch == c'\n':
            next[0] = i + 1
        elif ch == c'\r':
            if i + 1 >= end:
                return -1                          # CR or CRLF: not known yet
            next[0] = i + 2 if buf[i + 1] == c'\n' else i + 1
        elif i != fstart:
            return -1                              # a quote inside an unquoted field
        else:                                      # a quoted field: find its closing quote
            escaped = False
            j = i + 1
            while True:
                hit = <const char *>memchr(buf + j, quote, <size_t>(end - j))
                if hit == NULL:
                    return -1
                j = hit - buf
                if j + 1 >= end:
                    return -1                      # what follows is not known yet
                if buf[j + 1] != <char>quote:
                    break
                escaped = True                     # "" is one literal quote
                j += 2
            if k < cap:
                set_span(&spans[k], i + 1, j - i - 1, True, escaped)
            k += 1
            ch = buf[j + 1]
            if ch == delim:
                fstart = j + 2
                m = row_bits_from(buf, fstart, end, delim, q, sq)
                continue
            if ch == c'\n':
                next[0] = j + 2
            elif ch == c'\r' and j + 2 < end:
                next[0] = j + 3 if buf[j + 2] == c'\n' else j + 2
            else:
                return -1                          # text after the closing quote, or more to come
            return k
        if k < cap:
            set_span(&spans[k], fstart, i - fstart, False, False)
        return k + 1


cdef bint fast_paths = True     # set_fast_paths(False): the portable byte loops only
# Parser.parse calls running now, in any thread: the scan path and the fast paths are
# process-wide settings that each parse reads as it goes, so they are not changed under a
# running one (set_scan_path, set_fast_paths refuse).  Counted atomically: on a
# free-threaded Python parses start and end in many threads at once, with no GIL.
cdef extern from *:
    """
    #if defined(_MSC_VER) && !defined(__clang__)
    #include <intrin.h>
    static volatile long fastetl_parses = 0;
    static void fastetl_parses_add(long d) { _InterlockedExchangeAdd(&fastetl_parses, d); }
    static long fastetl_parses_now(void) {
        return _InterlockedCompareExchange(&fastetl_parses, 0, 0);
    }
    #else
    static long fastetl_parses = 0;
    static void fastetl_parses_add(long d) {
        __atomic_fetch_add(&fastetl_parses, d, __ATOMIC_SEQ_CST);
    }
    static long fastetl_parses_now(void) {
        return __atomic_load_n(&fastetl_parses, __ATOMIC_SEQ_CST);
    }
    #endif
    """
    void fastetl_parses_add(long d) noexcept nogil
    long fastetl_parses_now() noexcept nogil


cdef int _refuse_while_parsing(str what) except -1:
    if fastetl_parses_now():
        raise RuntimeError(f"{what} while a parse is running (in another thread): it is a "
                           f"setting for the whole process, not thread-safe; set it before "
                           f"conversions start")
    return 0


def set_fast_paths(bint on):
    """Turn the core's word-at-a-time row splitters and digit readers on (the default) or
    off, for every Parser of the process; returns the previous setting.  Off, every row
    is split one field at a time and every float read digit by digit: the reference the
    tests compare the fast paths with.  Not thread-safe: set it before a conversion
    starts (RuntimeError while a Parser.parse runs in another thread)."""
    global fast_paths
    _refuse_while_parsing("set_fast_paths")
    cdef bint was = fast_paths
    fast_paths = on
    return was


def scan_paths():
    """The structural scan's paths (which bytes are special, 64 at a time) that this
    build has and this CPU can run, slowest first: ``portable`` (plain C), ``sse2``
    and ``avx2`` (x86-64), ``neon`` (arm64).  The last is the default."""
    return tuple(fastetl_scan_name(i).decode() for i in range(fastetl_scan_count())
                 if fastetl_scan_usable(i))


def scan_path():
    """The structural scan's path in use (see scan_paths)."""
    return fastetl_scan_name(fastetl_scan_current()).decode()


def set_scan_path(str name not None):
    """Force the structural scan to ``name``, one of scan_paths(), for every Parser of
    the process; returns the previous one.  Every path gives the same results (the tests
    compare them).  Not thread-safe: set it before a conversion starts (RuntimeError while
    a Parser.parse runs in another thread, which keeps the path it started with).  The
    environment variable FASTETL_SIMD does the same once, when fastetl is imported."""
    cdef int i
    _refuse_while_parsing("set_scan_path")
    cdef str was = scan_path()
    for i in range(fastetl_scan_count()):
        if fastetl_scan_usable(i) and fastetl_scan_name(i).decode() == name:
            fastetl_scan_set(i)
            return was
    raise ValueError(f"scan path {name!r} is not one this build and CPU offer: "
                     f"{', '.join(scan_paths())}")


def _scan_path_from_env():
    """Start on the best path this CPU runs, or on the one FASTETL_SIMD names (a name
    it cannot run is a warning, and the best path stays)."""
    import os
    import warnings
    cdef int i
    for i in range(fastetl_scan_count()):
        if fastetl_scan_usable(i):
            fastetl_scan_set(i)                    # the last usable one wins
    paths = scan_paths()
    want = os.environ.get("FASTETL_SIMD", "").strip().lower()
    if want and want in paths:
        set_scan_path(want)
    elif want:
        warnings.warn(f"FASTETL_SIMD={want!r} is not a scan path this build and CPU "
                      f"offer ({', '.join(paths)}); using {scan_path()!r}",
                      RuntimeWarning, stacklevel=2)


_scan_path_from_env()


cdef extern from * nogil:
    """
    /* The first k < n where p[k] is one of the m (at most 8) bytes of set, or (high) is
       0x80 or more; n when there is none.  By a 256-byte table here, 16 bytes at a time
       with SSE2 below. */
    static Py_ssize_t fastetl_find_bytes_portable(const unsigned char *p, Py_ssize_t n,
                                                  const unsigned char *set, int m, int high) {
        unsigned char table[256];
        Py_ssize_t k;
        int i;
        memset(table, 0, sizeof table);
        if (high)
            memset(table + 128, 1, 128);
        for (i = 0; i < m; i++)
            table[set[i]] = 1;
        for (k = 0; k < n; k++)
            if (table[p[k]])
                return k;
        return n;
    }
    #if !defined(FASTETL_PORTABLE) && (defined(__SSE2__) || defined(_M_X64) \
            || (defined(_M_IX86_FP) && _M_IX86_FP >= 2))
    static Py_ssize_t fastetl_find_bytes(const unsigned char *p, Py_ssize_t n,
                                         const unsigned char *set, int m, int high, int fast) {
        __m128i v[8];
        Py_ssize_t k = 0;
        int i;
        if (fast) {
            for (i = 0; i < m; i++)
                v[i] = _mm_set1_epi8((char)set[i]);
            for (; k + 16 <= n; k += 16) {
                __m128i x = _mm_loadu_si128((const __m128i *)(p + k));
                __m128i e = _mm_setzero_si128();
                int hit = high ? _mm_movemask_epi8(x) : 0;
                for (i = 0; i < m; i++)
                    e = _mm_or_si128(e, _mm_cmpeq_epi8(x, v[i]));
                hit |= _mm_movemask_epi8(e);
                if (hit)
                    return k + fastetl_ctz64((uint64_t)(unsigned)hit);
            }
        }
        return k + fastetl_find_bytes_portable(p + k, n - k, set, m, high);
    }
    #else
    static Py_ssize_t fastetl_find_bytes(const unsigned char *p, Py_ssize_t n,
                                         const unsigned char *set, int m, int high, int fast) {
        (void)fast;
        return fastetl_find_bytes_portable(p, n, set, m, high);
    }
    #endif
    /* fastetl_find_bytes, with C's memchr for one byte (the quote a plain file must not
       hold: the C library's is vectorized to the CPU's widest registers, 2-4x this
       16-byte loop on the pieces of a read). */
    static Py_ssize_t fastetl_find_bytes_any(const unsigned char *p, Py_ssize_t n,
                                             const unsigned char *set, int m, int high,
                                             int fast) {
        const void *hit;
        if (fast && m == 1 && !high) {
            hit = n > 0 ? memchr(p, set[0], (size_t)n) : NULL;
            return hit == NULL ? n : (Py_ssize_t)((const unsigned char *)hit - p);
        }
        return fastetl_find_bytes(p, n, set, m, high, fast);
    }

    /* The first k < n where p[k] is a control byte -- below 0x20 and neither LF nor CR:
       tab, vertical tab, form feed, the file/group/record/unit separators ... -- or (high)
       0x80 or more; n when there is none.  One signed compare finds both ranges: 7 vector
       operations per 16 bytes where fastetl_find_bytes takes 2 per byte of its set (the
       7 whitespace bytes of loadtxt's delimiter=None check: 3x the time, in cache). */
    static Py_ssize_t fastetl_find_control(const unsigned char *p, Py_ssize_t n, int high,
                                           int fast) {
        Py_ssize_t k = 0;
    #if defined(FASTETL_HAVE_SSE2)
        if (fast) {
            /* signed bytes: x < 0x20 holds for 0x00-0x1F and (as negatives) 0x80-0xFF;
               without high, both sides flipped by 0x80 make it an unsigned compare */
            const __m128i flip = _mm_set1_epi8(high ? 0 : (char)0x80);
            const __m128i below = _mm_xor_si128(_mm_set1_epi8(0x20), flip);
            const __m128i lf = _mm_set1_epi8(0x0A), cr = _mm_set1_epi8(0x0D);
            for (; k + 16 <= n; k += 16) {
                __m128i x = _mm_loadu_si128((const __m128i *)(p + k));
                __m128i c = _mm_cmplt_epi8(_mm_xor_si128(x, flip), below);
                int hit = _mm_movemask_epi8(_mm_andnot_si128(
                    _mm_or_si128(_mm_cmpeq_epi8(x, lf), _mm_cmpeq_epi8(x, cr)), c));
                if (hit)
                    return k + fastetl_ctz64((uint64_t)(unsigned)hit);
            }
        }
    #else
        (void)fast;
    #endif
        for (; k < n; k++)
            if ((p[k] < 0x20 && p[k] != 0x0A && p[k] != 0x0D) || (high && p[k] >= 0x80))
                return k;
        return n;
    }

    /* Line breaks in p[0:n] -- every LF (0x0A) and every CR (0x0D) not followed by LF --
       as LF + CR - CRLF, the three counted in one pass.  `how`: 0 byte by byte (the
       reference), 1 eight bytes a word (any CPU), 2 sixteen bytes a vector (SSE2, NEON),
       else the best this build has.  Was: a memchr call per line (+ one for CR), a call
       per 40-byte line of integers. */
    static Py_ssize_t fastetl_count_breaks_bytes(const unsigned char *p, Py_ssize_t n) {
        Py_ssize_t k, c = 0;
        for (k = 0; k < n; k++)
            c += p[k] == 0x0A || (p[k] == 0x0D && !(k + 1 < n && p[k + 1] == 0x0A));
        return c;
    }
    /* The sum of the eight bytes of v (each at most 255). */
    static inline uint64_t fastetl_byte_sum(uint64_t v) {
        v = (v & 0x00FF00FF00FF00FFULL) + ((v >> 8) & 0x00FF00FF00FF00FFULL);
        return (v * 0x0001000100010001ULL) >> 48;
    }
    static Py_ssize_t fastetl_count_breaks_words(const unsigned char *p, Py_ssize_t n) {
        Py_ssize_t k = 0, c = 0;
        int j;
        while (k + 9 <= n) {          /* the word at k and the one at k + 1 (CRLF's LF) */
            uint64_t lf = 0, cr = 0, crlf = 0;
            for (j = 0; j < 255 && k + 9 <= n; j++, k += 8) {
                uint64_t v = fastetl_load8((const char *)p + k);
                uint64_t w = fastetl_load8((const char *)p + k + 1);
                uint64_t r = fastetl_bytes_eq_exact(v, 0x0D) >> 7;
                lf += fastetl_bytes_eq_exact(v, 0x0A) >> 7;
                cr += r;
                crlf += r & (fastetl_bytes_eq_exact(w, 0x0A) >> 7);
            }
            c += (Py_ssize_t)(fastetl_byte_sum(lf) + fastetl_byte_sum(cr)
                              - fastetl_byte_sum(crlf));
        }
        return c + fastetl_count_breaks_bytes(p + k, n - k);
    }
    #if defined(FASTETL_HAVE_SSE2)
    static Py_ssize_t fastetl_count_breaks_vec(const unsigned char *p, Py_ssize_t n) {
        const __m128i vlf = _mm_set1_epi8(0x0A), vcr = _mm_set1_epi8(0x0D);
        const __m128i zero = _mm_setzero_si128();
        Py_ssize_t k = 0, c = 0;
        int j;
        while (k + 17 <= n) {
            __m128i acc = zero, sub = zero;   /* LF + CR and CRLF, per byte (<= 255 each) */
            __m128i s;
            for (j = 0; j < 255 && k + 17 <= n; j++, k += 16) {
                __m128i v = _mm_loadu_si128((const __m128i *)(p + k));
                __m128i w = _mm_loadu_si128((const __m128i *)(p + k + 1));
                __m128i r = _mm_cmpeq_epi8(v, vcr);
                acc = _mm_sub_epi8(acc, _mm_or_si128(_mm_cmpeq_epi8(v, vlf), r));
                sub = _mm_sub_epi8(sub, _mm_and_si128(r, _mm_cmpeq_epi8(w, vlf)));
            }
            s = _mm_sub_epi64(_mm_sad_epu8(acc, zero), _mm_sad_epu8(sub, zero));
            /* each 64-bit half is at most 8 * 255: its low 32 bits are all of it (and
               _mm_cvtsi128_si64 is x86-64 only: this builds on 32-bit x86 too) */
            c += (Py_ssize_t)_mm_cvtsi128_si32(s) + (Py_ssize_t)_mm_cvtsi128_si32(_mm_unpackhi_epi64(s, s));
        }
        return c + fastetl_count_breaks_bytes(p + k, n - k);
    }
    #elif defined(FASTETL_HAVE_NEON)
    static Py_ssize_t fastetl_count_breaks_vec(const unsigned char *p, Py_ssize_t n) {
        const uint8x16_t vlf = vdupq_n_u8(0x0A), vcr = vdupq_n_u8(0x0D);
        Py_ssize_t k = 0, c = 0;
        int j;
        while (k + 17 <= n) {
            uint8x16_t acc = vdupq_n_u8(0), sub = vdupq_n_u8(0);
            for (j = 0; j < 255 && k + 17 <= n; j++, k += 16) {
                uint8x16_t v = vld1q_u8(p + k), w = vld1q_u8(p + k + 1);
                uint8x16_t r = vceqq_u8(v, vcr);
                acc = vsubq_u8(acc, vorrq_u8(vceqq_u8(v, vlf), r));
                sub = vsubq_u8(sub, vandq_u8(r, vceqq_u8(w, vlf)));
            }
            c += (Py_ssize_t)vaddlvq_u8(acc) - (Py_ssize_t)vaddlvq_u8(sub);
        }
        return c + fastetl_count_breaks_bytes(p + k, n - k);
    }
    #else
    #define fastetl_count_breaks_vec fastetl_count_breaks_words
    #endif
    static Py_ssize_t fastetl_count_breaks(const unsigned char *p, Py_ssize_t n, int how) {
        if (how == 0)
            return fastetl_count_breaks_bytes(p, n);
        if (how == 1)
            return fastetl_count_breaks_words(p, n);
        return fastetl_count_breaks_vec(p, n);
    }

    /* fastetl_count_breaks of p[0:n], or -1 when the byte q is among them: the plain-file
       read's two checks of a piece (its line breaks, and no quote byte in it), in one pass
       where the level in use is AVX2 (a memchr, then the count, elsewhere).  `how` as
       fastetl_count_breaks: 3 and more, the best there is. */
    #ifdef FASTETL_HAVE_AVX2
    FASTETL_TARGET("avx2")
    static Py_ssize_t fastetl_count_breaks_unless_avx2(const unsigned char *p, Py_ssize_t n,
                                                       unsigned char q) {
        const __m256i vlf = _mm256_set1_epi8(0x0A), vcr = _mm256_set1_epi8(0x0D);
        const __m256i vq = _mm256_set1_epi8((char)q), zero = _mm256_setzero_si256();
        Py_ssize_t k = 0, c = 0;
        int j;
        while (k + 33 <= n) {
            /* per byte lane (<= 255 each): LF + CR, CRLF, and any q seen */
            __m256i acc = zero, sub = zero, seen = zero, s;
            __m128i h;
            for (j = 0; j < 255 && k + 33 <= n; j++, k += 32) {
                __m256i v = _mm256_loadu_si256((const __m256i *)(p + k));
                __m256i w = _mm256_loadu_si256((const __m256i *)(p + k + 1));
                __m256i r = _mm256_cmpeq_epi8(v, vcr);
                acc = _mm256_sub_epi8(acc, _mm256_or_si256(_mm256_cmpeq_epi8(v, vlf), r));
                sub = _mm256_sub_epi8(sub, _mm256_and_si256(r, _mm256_cmpeq_epi8(w, vlf)));
                seen = _mm256_or_si256(seen, _mm256_cmpeq_epi8(v, vq));
            }
            if (!_mm256_testz_si256(seen, seen))
                return -1;
            s = _mm256_sub_epi64(_mm256_sad_epu8(acc, zero), _mm256_sad_epu8(sub, zero));
            /* four 64-bit lanes of at most 8 * 255 each: their low 32 bits are all of it */
            h = _mm_add_epi64(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
            c += (Py_ssize_t)_mm_cvtsi128_si32(h)
                 + (Py_ssize_t)_mm_cvtsi128_si32(_mm_unpackhi_epi64(h, h));
        }
        if (k < n && memchr(p + k, q, (size_t)(n - k)) != NULL)
            return -1;
        return c + fastetl_count_breaks_bytes(p + k, n - k);
    }
    #endif
    static Py_ssize_t fastetl_count_breaks_unless(const unsigned char *p, Py_ssize_t n,
                                                  unsigned char q, int how) {
    #ifdef FASTETL_HAVE_AVX2
        if (how >= 3 && fastetl_scan->avx2)
            return fastetl_count_breaks_unless_avx2(p, n, q);
    #endif
        if (n > 0 && memchr(p, q, (size_t)n) != NULL)
            return -1;
        return fastetl_count_breaks(p, n, how);
    }
    """
    Py_ssize_t fastetl_find_bytes(const unsigned char *p, Py_ssize_t n, const unsigned char *set,
                                  int m, int high, int fast)
    Py_ssize_t fastetl_find_bytes_any(const unsigned char *p, Py_ssize_t n,
                                      const unsigned char *set, int m, int high, int fast)
    Py_ssize_t fastetl_count_breaks(const unsigned char *p, Py_ssize_t n, int how)
    Py_ssize_t fastetl_find_control(const unsigned char *p, Py_ssize_t n, int high, int fast)
    Py_ssize_t fastetl_count_breaks_unless(const unsigned char *p, Py_ssize_t n,
                                           unsigned char q, int how)


def find_bytes(data, bytes chars not None, bint non_ascii):
    """The first offset in ``data`` (any buffer: bytes, an mmap) of a byte in ``chars`` (at
    most 8) or, with ``non_ascii``, of a byte 0x80 or above; -1 when there is none."""
    cdef Py_buffer src
    cdef Py_ssize_t k, n
    cdef const unsigned char *cs = <const unsigned char *>chars
    cdef int m = <int>len(chars)
    if m > 8:
        raise ValueError("at most 8 bytes to find")
    PyObject_GetBuffer(data, &src, PyBUF_SIMPLE)
    n = src.len
    try:
        with nogil:
            k = fastetl_find_bytes_any(<const unsigned char *>src.buf, n, cs, m, non_ascii,
                                       fast_paths)
    finally:
        PyBuffer_Release(&src)
    return -1 if k == n else k


def find_control(data, bint non_ascii):
    """The first offset in ``data`` (any buffer) of a control byte -- below 0x20 and
    neither LF nor CR -- or, with ``non_ascii``, of a byte 0x80 or above; -1 when there is
    none."""
    cdef Py_buffer src
    cdef Py_ssize_t k, n
    PyObject_GetBuffer(data, &src, PyBUF_SIMPLE)
    n = src.len
    try:
        with nogil:
            k = fastetl_find_control(<const unsigned char *>src.buf, n, non_ascii, fast_paths)
    finally:
        PyBuffer_Release(&src)
    return -1 if k == n else k


cdef inline uint64_t ex_mask(const char *buf, Py_ssize_t p, Py_ssize_t end,
                             const Syntax *sx) noexcept nogil:
    """split_row_ex_bits's bits for buf[p:p + 64]: the delimiter, LF, CR, the comment mark,
    the quote and (skip_space) the space."""
    cdef unsigned char d = <unsigned char>sx.delim
    cdef unsigned char x = <unsigned char>sx.comment if sx.comment >= 0 else d
    cdef unsigned char y = <unsigned char>sx.quote if sx.quote >= 0 else d
    cdef unsigned char z = c' ' if sx.skip_space else d
    cdef uint64_t m = fastetl_mask64(buf + p, end - p, d, c'\n', c'\r', x)
    if y != d or z != d:
        m |= fastetl_mask64(buf + p, end - p, y, z, y, z)
    return m


cdef inline Py_ssize_t split_row_ex_bits(const char *buf, Py_ssize_t pos, Py_ssize_t end,
                                         const Syntax *sx, Scan *sq, Span *spans,
                                         Py_ssize_t cap, Py_ssize_t *next) noexcept nogil:
    """split_row_bits for a dialect with a comment mark or skip_space (no escape, not
    lenient: the caller checks): the row at ``pos`` split in one pass over the bits of
    its delimiters, line breaks, spaces, quotes and comment marks, when it ends before
    ``end`` and holds no comment mark and no quote at a field's start (after its skipped
    spaces).  Spaces at a field's start are skipped as scan_field_ex skips them (with
    delimiter ' ', a run of spaces is one delimiter and a row's leading spaces go).
    Returns the number of fields with ``spans`` and ``*next`` as split_row_bits, or -1
    for any other row (scan_field_ex then splits it).  ``sq``: this loop's scan state."""
    cdef Py_ssize_t k = 0
    cdef Py_ssize_t fstart = pos
    cdef Py_ssize_t i
    cdef Py_ssize_t off = pos - sq.base
    cdef uint64_t m
    cdef char ch
    cdef char delim = sx.delim
    cdef bint skip = sx.skip_space
    if off < 0 or off >= 64:
        sq.base = pos
        sq.bits = ex_mask(buf, pos, end, sx)
        off = 0
    m = sq.bits & (~(<uint64_t>0) << off)
    while True:
        while m == 0:
            i = sq.base + 64
            if i >= end:
                return -1                          # the row runs to the end of the data
            sq.base = i
            sq.bits = ex_mask(buf, i, end, sx)
            m = sq.bits
        i = sq.base + fastetl_ctz64(m)
        m &= m - 1
        ch = buf[i]
        if ch == c' ' and skip and i == fstart:
            fstart = i + 1                         # a space before the field's text
            continue
        if ch == delim:
            if k < cap:
                set_span(&spans[k], fstart, i - fstart, False, False)
            k += 1
            fstart = i + 1
            continue
        if ch == c'\n':
            next[0] = i + 1
        elif ch == c'\r':
            if i + 1 >= end:
                return -1                          # CR or CRLF: not known yet
            next[0] = i + 2 if buf[i + 1] == c'\n' else i + 1
        elif sx.comment >= 0 and ch == <char>sx.comment:
            return -1                              # a comment ends the row
        elif sx.quote >= 0 and ch == <char>sx.quote:
            if i == fstart:
                return -1                          # a quoted field
            continue                               # a quote inside an unquoted field is text
        else:
            continue                               # a space inside a field
        if k < cap:
            set_span(&spans[k], fstart, i - fstart, False, False)
        return k + 1


cdef int split_row_fields(const char *buf, Py_ssize_t pos, Py_ssize_t end, bint final,
                         const Syntax *sx, Scan *sc, Span *spans, Py_ssize_t cap,
                         Py_ssize_t *nfound, Py_ssize_t *next, Field *f) noexcept nogil:
    """Split the row at ``pos`` field by field with scan_field (any row: the rare ones
    split_row_bits leaves), into ``spans[:min(fields, cap)]``; ``*nfound``: the fields
    split.  Returns scan_field's last status: FIELD_EOL or FIELD_EOF with ``*next``
    past the row; FIELD_NEED_MORE; FIELD_UNTERMINATED or FIELD_AFTER_QUOTE with
    ``*next`` at the broken field (``f.bad``: the byte after its closing quote).
    Not inline: it keeps the hot loop of Parser.parse_block small."""
    cdef Py_ssize_t nf = 0
    cdef int fs
    while True:
        fs = scan_any(buf, pos, end, final, sx, f, sc)
        if fs == FIELD_NEED_MORE or fs == FIELD_UNTERMINATED or fs == FIELD_AFTER_QUOTE:
            break
        if nf < cap:
            spans[nf] = f.span
        nf += 1
        pos = f.next
        if fs != FIELD_DELIM:
            break
    nfound[0] = nf
    next[0] = pos
    return fs


cdef inline Py_ssize_t skip_blank_lines(const char *buf, Py_ssize_t pos, Py_ssize_t end,
                                        bint final) noexcept nogil:
    """Skip empty lines at a row start; returns -1 when a lone CR ends a non-final block."""
    cdef char c
    while pos < end:
        c = buf[pos]
        if c == c'\n':
            pos += 1
        elif c == c'\r':
            if pos + 1 < end:
                pos += 2 if buf[pos + 1] == c'\n' else 1
            elif final:
                pos += 1
            else:
                return -1
        else:
            break
    return pos


cdef Py_ssize_t count_line_breaks(const char *buf, Py_ssize_t start, Py_ssize_t end) noexcept nogil:
    """Line breaks in buf[start:end]: every LF, and every CR not followed by LF."""
    return fastetl_count_breaks(<const unsigned char *>buf + start, end - start,
                                3 if fast_paths else 0)


def _count_line_breaks_unless_as(data, unsigned char quote, int how):
    """Test hook: count_lines with a ``quote`` of all of ``data`` by one way of counting (as
    _count_line_breaks_as; 3: AVX2's one pass where the scan path in use is AVX2)."""
    cdef Py_buffer src
    cdef Py_ssize_t n
    PyObject_GetBuffer(data, &src, PyBUF_SIMPLE)
    try:
        with nogil:
            n = fastetl_count_breaks_unless(<const unsigned char *>src.buf, src.len, quote, how)
    finally:
        PyBuffer_Release(&src)
    return n


def _count_line_breaks_as(data, int how):
    """Test hook: count_lines of all of ``data`` by one way of counting (0 byte by byte,
    1 a word at a time, 2 the vector unit's; see fastetl_count_breaks)."""
    cdef Py_buffer src
    cdef Py_ssize_t n
    PyObject_GetBuffer(data, &src, PyBUF_SIMPLE)
    try:
        with nogil:
            n = fastetl_count_breaks(<const unsigned char *>src.buf, src.len, how)
    finally:
        PyBuffer_Release(&src)
    return n


# -- the other dialects: escapes, comments, spaces before a quote, lenient quotes ---------
# A core function's ``delimiter`` argument is a syntax word: the delimiter byte, plus
# (escape + 1) << 8, (comment + 1) << 16, SYN_SKIP_SPACE and SYN_LENIENT (see
# pipeline._core_dialect).  A word under 256 is the plain dialect, tokenized by the
# fast paths above; any other goes through scan_field_ex, one byte at a time.

cdef enum:
    SYN_SKIP_SPACE = 1 << 24   # spaces after a delimiter (and at a row start) are not text
    SYN_LENIENT = 1 << 25      # a quote inside a quoted field not followed by a delimiter
                               # or line end is a literal quote


cdef inline void syntax_of(int word, int quote, Syntax *sx) noexcept nogil:
    sx.delim = <char>(word & 0xFF)
    sx.quote = quote
    sx.escape = ((word >> 8) & 0xFF) - 1
    sx.comment = ((word >> 16) & 0xFF) - 1
    sx.skip_space = (word & SYN_SKIP_SPACE) != 0
    sx.lenient = (word & SYN_LENIENT) != 0
    sx.plain = word < 256


cdef inline bint is_blank(char c) noexcept nogil:
    return c == c' ' or c == c'\t'


cdef inline Py_ssize_t _after_line(const char *buf, Py_ssize_t i, Py_ssize_t end,
                                   bint final) noexcept nogil:
    """Just past the line end at or after ``i`` (a comment's end); ``end`` at the data's
    end when final; -1 when more data is needed to know."""
    while i < end:
        if buf[i] == c'\n':
            return i + 1
        if buf[i] == c'\r':
            if i + 1 < end:
                return i + 2 if buf[i + 1] == c'\n' else i + 1
            return end if final else -1
        i += 1
    return end if final else -1


cdef inline int _comment_end(const char *buf, Py_ssize_t i, Py_ssize_t end, bint final,
                             Field *f) noexcept nogil:
    """A comment starts at buf[i]: the row ends with its line."""
    cdef Py_ssize_t nxt = _after_line(buf, i, end, final)
    if nxt < 0:
        return FIELD_NEED_MORE
    f.next = nxt
    return FIELD_EOL


cdef int scan_field_ex(const char *buf, Py_ssize_t pos, Py_ssize_t end, bint final,
                       const Syntax *sx, Field *f) noexcept nogil:
    """scan_field for a dialect that is not plain.  The escape byte makes the byte after
    it text (a delimiter, quote, line break, comment mark or the escape itself), in
    quoted and unquoted fields alike: ``escaped`` is set and unescape_into removes it.
    A comment mark outside quotes ends the field and the row (spaces and tabs before it
    are not part of an unquoted field); with skip_space the spaces at a field's start
    are dropped; with lenient a quote inside a quoted field that is not doubled and not
    followed by a delimiter, line end or the data's end is kept as text."""
    cdef Py_ssize_t i = pos
    cdef Py_ssize_t j, k
    cdef char c
    cdef char delim = sx.delim
    cdef int quote = sx.quote
    cdef int esc = sx.escape
    cdef int com = sx.comment
    cdef bint escaped = False
    if sx.skip_space:
        while i < end and buf[i] == c' ':
            i += 1
        if i >= end and not final:
            return FIELD_NEED_MORE
    if quote >= 0 and i < end and buf[i] == <char>quote:
        j = i + 1
        while True:
            if j >= end:
                return FIELD_UNTERMINATED if final else FIELD_NEED_MORE
            c = buf[j]
            if esc >= 0 and c == <char>esc:
                if j + 1 >= end:
                    return FIELD_UNTERMINATED if final else FIELD_NEED_MORE
                escaped = True
                j += 2
                continue
            if c == <char>quote:
                if j + 1 >= end:
                    if not final:
                        return FIELD_NEED_MORE
                    break
                c = buf[j + 1]
                if c == <char>quote:
                    escaped = True             # "" is one literal quote
                    j += 2
                    continue
                if sx.lenient and c != delim and c != c'\n' and c != c'\r':
                    k = j + 1
                    if com >= 0:               # blanks, then a comment: the field closes
                        while k < end and is_blank(buf[k]):
                            k += 1
                        if k >= end and not final:
                            return FIELD_NEED_MORE
                    if not (com >= 0 and k < end and buf[k] == <char>com):
                        j += 1                 # a lone quote in the text, kept
                        continue
                break
            j += 1
        f.span.start = i + 1
        f.span.length = j - i - 1
        f.span.quoted = True
        f.span.escaped = escaped
        k = j + 1                              # past the closing quote
        if k >= end:
            f.next = end
            return FIELD_EOF
        c = buf[k]
        if c == delim:
            f.next = k + 1
            return FIELD_DELIM
        if c == c'\n' or c == c'\r':
            return _line_end(buf, k, end, final, f)
        if com >= 0:
            while k < end and is_blank(buf[k]):
                k += 1
            if k < end and buf[k] == <char>com:
                return _comment_end(buf, k, end, final, f)
            if k >= end and not final:
                return FIELD_NEED_MORE
        f.bad = j + 1
        return FIELD_AFTER_QUOTE

    f.span.start = i
    f.span.quoted = False
    j = i
    while True:
        if j >= end:
            if not final:
                return FIELD_NEED_MORE
            f.span.length = j - i
            f.span.escaped = escaped
            f.next = end
            return FIELD_EOF
        c = buf[j]
        if c == delim:
            f.span.length = j - i
            f.span.escaped = escaped
            f.next = j + 1
            return FIELD_DELIM
        if c == c'\n' or c == c'\r':
            f.span.length = j - i
            f.span.escaped = escaped
            return _line_end(buf, j, end, final, f)
        if esc >= 0 and c == <char>esc:
            if j + 1 >= end and not final:
                return FIELD_NEED_MORE
            escaped = True
            j += 2 if j + 1 < end else 1       # (an escape at the data's end is text)
            continue
        if com >= 0 and c == <char>com:
            k = j
            while k > i and is_blank(buf[k - 1]) and not (esc >= 0 and k - 2 >= i
                                                          and buf[k - 2] == <char>esc):
                k -= 1
            f.span.length = k - i
            f.span.escaped = escaped
            return _comment_end(buf, j, end, final, f)
        j += 1



cdef Py_ssize_t unescape_into(const char *s, Py_ssize_t n, bint quoted, int quote, int esc,
                              char *out) noexcept nogil:
    """The text of a field whose span is ``escaped``, into ``out`` (n bytes of room): an
    escape byte is dropped and the byte after it kept; in a quoted field "" is one quote
    (and, lenient, a lone quote is kept).  Returns the text's length."""
    cdef Py_ssize_t i = 0
    cdef Py_ssize_t j = 0
    while i < n:
        if esc >= 0 and s[i] == <char>esc and i + 1 < n:
            i += 1
        elif quoted and quote >= 0 and s[i] == <char>quote and i + 1 < n \
                and s[i + 1] == <char>quote:
            i += 1
        out[j] = s[i]
        i += 1
        j += 1
    return j


cdef inline Py_ssize_t skip_blank_lines_ex(const char *buf, Py_ssize_t pos, Py_ssize_t end,
                                           bint final, const Syntax *sx) noexcept nogil:
    """skip_blank_lines, and with a comment mark also the lines that hold nothing but a
    comment (spaces and tabs may come before the mark)."""
    cdef Py_ssize_t i, nxt
    while True:
        pos = skip_blank_lines(buf, pos, end, final)
        if pos < 0 or pos >= end or sx.comment < 0:
            return pos
        i = pos
        while i < end and is_blank(buf[i]):
            i += 1
        if i >= end:
            return pos if final else -1
        if buf[i] != <char>sx.comment:
            return pos
        nxt = _after_line(buf, i, end, final)
        if nxt < 0:
            return -1
        pos = nxt


cdef inline int scan_any(const char *buf, Py_ssize_t pos, Py_ssize_t end, bint final,
                         const Syntax *sx, Field *f, Scan *sc) noexcept nogil:
    if sx.plain:
        return scan_field(buf, pos, end, final, sx.delim, sx.quote, f, sc)
    return scan_field_ex(buf, pos, end, final, sx, f)


cdef inline Py_ssize_t skip_blank_any(const char *buf, Py_ssize_t pos, Py_ssize_t end,
                                      bint final, const Syntax *sx) noexcept nogil:
    if sx.comment < 0:
        return skip_blank_lines(buf, pos, end, final)
    return skip_blank_lines_ex(buf, pos, end, final, sx)
