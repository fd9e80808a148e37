# Converters for integers, floats, decimals and booleans.
#
# Included by _core.pyx.  Each takes the (trimmed) field text and returns a
# status; the value goes to *out.  Nothing here allocates or raises, except the
# very rare hard float (more than 19 significant digits that decide the rounding, or
# a product the Eisel-Lemire step cannot decide), which takes the GIL for CPython's
# correctly rounded strtod.

cdef extern from "Python.h":
    double PyOS_string_to_double(const char *s, char **endptr, PyObject *overflow_exception)
    PyObject *PyErr_Occurred()
    void PyErr_Clear()

cdef extern from "_pow5.h" nogil:
    pass    # the table of truncated powers of five (scripts/gen_pow5.py); used by the C below

cdef extern from * nogil:
    """
    #include <math.h>
    #include <float.h>
    #include <string.h>
    #if defined(_MSC_VER) && !defined(FASTETL_PORTABLE)
    #include <intrin.h>
    #endif

    /* Clinger's fast path divides or multiplies two exact doubles and needs that one
       operation to round once, to double: not so where intermediates are wider (x87). */
    #if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD != 0
    #define FASTETL_CLINGER_OK 0
    #else
    #define FASTETL_CLINGER_OK 1
    #endif

    #if defined(__GNUC__) || defined(__clang__)
    #define FASTETL_LIKELY(x) __builtin_expect(!!(x), 1)
    #define FASTETL_UNLIKELY(x) __builtin_expect(!!(x), 0)
    #else
    #define FASTETL_LIKELY(x) (x)
    #define FASTETL_UNLIKELY(x) (x)
    #endif

    typedef struct { uint64_t hi, lo; } fastetl_u128;

    /* The full 128-bit product a * b from four 32x32->64 partial products: what any C
       compiler has.  Always compiled, so the tests run it against Python's integers
       (fastetl_mul64 below uses it where no 128-bit product is known, and everywhere in a
       FASTETL_PORTABLE build). */
    static inline fastetl_u128 fastetl_mul64_portable(uint64_t a, uint64_t b) {
        fastetl_u128 r;
        uint64_t a0 = (uint32_t)a, a1 = a >> 32, b0 = (uint32_t)b, b1 = b >> 32;
        uint64_t p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
        uint64_t mid = (p00 >> 32) + (uint32_t)p01 + (uint32_t)p10;   /* < 3 * 2**32 */
        r.hi = p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
        r.lo = (mid << 32) | (uint32_t)p00;
        return r;
    }

    /* The full 128-bit product a * b: __int128 (gcc, clang), _umul128 / __umulh (MSVC),
       else the portable one. */
    static inline fastetl_u128 fastetl_mul64(uint64_t a, uint64_t b) {
    #if !defined(FASTETL_PORTABLE) && defined(__SIZEOF_INT128__)
        fastetl_u128 r;
        unsigned __int128 p = (unsigned __int128)a * b;
        r.hi = (uint64_t)(p >> 64);
        r.lo = (uint64_t)p;
        return r;
    #elif !defined(FASTETL_PORTABLE) && defined(_MSC_VER) && defined(_M_X64)
        fastetl_u128 r;
        r.lo = _umul128(a, b, &r.hi);
        return r;
    #elif !defined(FASTETL_PORTABLE) && defined(_MSC_VER) && defined(_M_ARM64)
        fastetl_u128 r;
        r.hi = __umulh(a, b);
        r.lo = a * b;
        return r;
    #else
        return fastetl_mul64_portable(a, b);
    #endif
    }

    /* Leading zero bits of x != 0. */
    static inline int fastetl_clz64(uint64_t x) {
    #if !defined(FASTETL_PORTABLE) && (defined(__GNUC__) || defined(__clang__))
        return __builtin_clzll(x);
    #elif !defined(FASTETL_PORTABLE) && defined(_MSC_VER) && (defined(_M_X64) || defined(_M_ARM64))
        unsigned long idx;
        _BitScanReverse64(&idx, x);
        return 63 - (int)idx;
    #else
        int n = 0;
        if (!(x >> 32)) { n += 32; x <<= 32; }
        if (!(x >> 48)) { n += 16; x <<= 16; }
        if (!(x >> 56)) { n += 8; x <<= 8; }
        if (!(x >> 60)) { n += 4; x <<= 4; }
        if (!(x >> 62)) { n += 2; x <<= 2; }
        if (!(x >> 63)) { n += 1; }
        return n;
    #endif
    }

    /* a * b by the portable product when `portable` (a constant where it is used) */
    #define FASTETL_MUL(a, b, portable) \
        ((portable) ? fastetl_mul64_portable((a), (b)) : fastetl_mul64((a), (b)))

    /* For -27 <= q < 0 (so d = 5**-q < 2**63): compare N = W * 2**sh, sh = -e5(q) - 64,
       with (Z + 1) * d, where Z = (zhi, zlo) < 2**128 - 1.  X / 2**64 = N / d exactly,
       so the sign says whether floor(X / 2**64) is Z (-1) or Z + 1 (0: X / 2**64 is that
       integer exactly; 1: it is more). */
    static int fastetl_exact_cmp(uint64_t W, int64_t q, uint64_t zhi, uint64_t zlo, int portable) {
        uint64_t d = fastetl_pow5_u64[-q];
        int sh = -(int)fastetl_pow5_e5[q - FASTETL_POW5_MIN] - 64;   /* in [66, 126] */
        int r = sh - 64;
        uint64_t n2 = W >> (64 - r), n1 = W << r, n0 = 0;
        uint64_t z0 = zlo + 1, z1 = zhi + (z0 == 0);                 /* Z + 1 < 2**128 */
        fastetl_u128 p0 = FASTETL_MUL(z0, d, portable), p1 = FASTETL_MUL(z1, d, portable);
        uint64_t w0 = p0.lo, w1 = p0.hi + p1.lo, w2 = p1.hi + (w1 < p0.hi);
        if (n2 != w2) return n2 < w2 ? -1 : 1;
        if (n1 != w1) return n1 < w1 ? -1 : 1;
        if (n0 != w0) return n0 < w0 ? -1 : 1;
        return 0;
    }

    /* w * 10**q correctly rounded (to nearest, ties to even) to a binary64, for
       1 <= w < 2**64: the IEEE bits of the positive result into *bits, returning 0; or
       -1 when two 64x128-bit products cannot decide (the caller falls back).

       With T = T(q), e5 = e5(q) from _pow5.h (5**q = (T + f) * 2**e5, 0 <= f < 1, f == 0
       iff 0 <= q <= FASTETL_POW5_EXACT_MAX) and W = w << lz normalized to [2**63, 2**64):
           w * 10**q = X * 2**(e5 + q - lz),  X = W * (T + f)  in [2**190, 2**192).
       P = W * T is X truncated, X - P = W * f < 2**64.  Z = floor(P / 2**64) is the
       first product W * T.hi plus the high word of the second W * T.lo; X / 2**64 lies
       in [Z, Z + 2), and in [Z, Z + 1) when T is exact.  The 53 bits of the result and
       the rounding bit below them are the top 54 bits of Z (bit 127 or 126 down), so
       they are X's unless the low c = 73 or 74 bits of Z are all ones (a carry could
       reach them).  Whether anything of X is left below the rounding bit ("sticky") is
       known exactly: yes when Z's low c bits are not all zero; when they are, yes when
       f > 0 (X > P), else it is the low word of P.  A possible carry is settled by exact
       arithmetic for -27 <= q < 0 (the only exponents where w * 10**q can be an exact
       binary fraction and T is inexact) and left to the caller's fallback otherwise.
       `portable` (a constant at each use) picks the product: fastetl_mul64 or
       fastetl_mul64_portable. */
    FASTETL_INLINE int fastetl_eisel_lemire_as(uint64_t w, int64_t q, uint64_t *bits,
                                               const int portable) {
        const uint64_t *t;
        fastetl_u128 a, b;
        uint64_t hi, lo, kmask, low, m54, m, sub;
        int lz, ub, sticky, rb;
        int64_t e, s;
        if (q < FASTETL_POW5_MIN) { *bits = 0; return 0; }      /* < 2**-1075: rounds to 0 */
        if (q > FASTETL_POW5_MAX) { *bits = 0x7FF0000000000000ULL; return 0; }     /* inf */
        lz = fastetl_clz64(w);
        w <<= lz;
        t = fastetl_pow5_128[q - FASTETL_POW5_MIN];
        /* Both products, always: the first alone decides most inputs, but not those
           written with more digits than a double needs (`%.18e`): their bits below the
           rounding bit are a run of zeros or ones, and a branch on "is the second product
           needed" was taken for a third of them at random -- slower than the product. */
        a = FASTETL_MUL(w, t[0], portable);
        b = FASTETL_MUL(w, t[1], portable);
        lo = a.lo + b.hi;
        hi = a.hi + (lo < a.lo);                              /* Z = (hi, lo) */
        ub = (int)(hi >> 63);
        kmask = 0x1FFULL | ((uint64_t)ub << 9);                /* 0x1FF or 0x3FF */
        low = hi & kmask;
        sticky = 1;
        if (FASTETL_UNLIKELY((low == 0 && lo == 0) || (low == kmask && lo == UINT64_MAX))) {
            if (low == 0) {
                sticky = (q >= 0 && q <= FASTETL_POW5_EXACT_MAX) ? (b.lo != 0) : 1;
            } else if (!(q >= 0 && q <= FASTETL_POW5_EXACT_MAX)) {
                /* X / 2**64 in (Z, Z + 2): a carry may reach the mantissa.  This happens
                   to exact binary fractions written with a few decimals (1234567890123456.5)
                   and then q >= -27 -- decide exactly; elsewhere it is one in 2**73. */
                if (q < -FASTETL_POW5_SMALL_MAX || q > 0)
                    return -1;
                rb = fastetl_exact_cmp(w, q, hi, lo, portable);
                if (rb >= 0) {
                    hi += 1;                                    /* Z + 1: low c bits 0 */
                    ub = (int)(hi >> 63);
                    sticky = rb > 0;
                }
            }   /* (T exact: X / 2**64 in [Z, Z + 1), no carry; the low bits are not 0) */
        }
        m54 = hi >> (ub + 9);                                 /* in [2**53, 2**54) */
        e = 138 + ub + fastetl_pow5_e5[q - FASTETL_POW5_MIN] + q - lz;   /* of m54 / 2 */
        if (FASTETL_LIKELY(e >= -1074)) {
            m = m54 >> 1;
            /* round half to even, without a branch (the rounding bit is a coin toss:
               a branch on it is mispredicted half the time) */
            m += (m54 & 1) & ((uint64_t)sticky | (m & 1));
            if (FASTETL_UNLIKELY(m == (1ULL << 53))) { m >>= 1; e += 1; }
            if (FASTETL_UNLIKELY(e > 1023 - 52)) { *bits = 0x7FF0000000000000ULL; return 0; }
            *bits = ((uint64_t)(e + 1075) << 52) | (m & ((1ULL << 52) - 1));
            return 0;
        }
        s = -1074 - e;                              /* subnormal: s more bits go */
        if (s > 60) { *bits = 0; return 0; }
        m = m54 >> (s + 1);
        rb = (int)((m54 >> s) & 1);
        sub = m54 & ((1ULL << s) - 1);
        if (rb && (sticky || sub != 0 || (m & 1)))
            m += 1;
        *bits = m;              /* m == 2**52 is the smallest normal: the same bits */
        return 0;
    }

    /* The one the converters call; the portable product's twin, for the tests. */
    static inline int fastetl_eisel_lemire(uint64_t w, int64_t q, uint64_t *bits) {
        return fastetl_eisel_lemire_as(w, q, bits, 0);
    }
    static int fastetl_eisel_lemire_portable(uint64_t w, int64_t q, uint64_t *bits) {
        return fastetl_eisel_lemire_as(w, q, bits, 1);
    }

    /* All eight bytes of v (from fastetl_load8) are ASCII digits: each byte's high nibble
       is 3, and adding 6 to it does not carry into that nibble (low nibble <= 9). */
    FASTETL_INLINE int fastetl_all8digits(uint64_t v) {
        return ((v & 0xF0F0F0F0F0F0F0F0ULL)
                | (((v + 0x0606060606060606ULL) & 0xF0F0F0F0F0F0F0F0ULL) >> 4))
               == 0x3333333333333333ULL;
    }

    /* The value of eight ASCII digits (p[0] most significant), v from fastetl_load8. */
    FASTETL_INLINE uint64_t fastetl_parse8(uint64_t v) {
        v -= 0x3030303030303030ULL;                 /* digit values, one per byte */
        v = v * 10 + (v >> 8);                      /* even bytes: pairs 10*d[i] + d[i+1] */
        /* bytes 0, 2, 4, 6 hold pairs p0..p3: p0*10**6 + p1*10**4 + p2*100 + p3, the
           products placing each term at bit 32 and above */
        return (((v & 0x000000FF000000FFULL) * (100 + (1000000ULL << 32)))
                + (((v >> 16) & 0x000000FF000000FFULL) * (1 + (10000ULL << 32)))) >> 32;
    }

    /* The k (4 to 8) bytes at p as the end of an eight-byte word (as fastetl_load8 orders
       it) whose first 8 - k bytes are '0': a short run of digits, padded with leading
       zeros for fastetl_all8digits / fastetl_parse8.  Reads p[0:k] only, as two
       overlapping 4-byte loads. */
    FASTETL_INLINE uint64_t fastetl_load_digits(const char *p, int k) {
        int pad = 8 * (8 - k);                  /* bits of '0' in front, 0 to 32 */
        return (uint64_t)fastetl_load4(p + k - 4) << 32 | (uint64_t)fastetl_load4(p) << pad
               | (0x3030303030303030ULL & ((1ULL << pad) - 1));
    }

    /* A decimal text of 4 to 8 bytes, digits with one point and `scale` (1 to 6) digits
       after it, as the eight-byte word of its digits alone, zero-padded in front (the
       point is squeezed out by moving the integer digits up one byte). */
    FASTETL_INLINE uint64_t fastetl_load_decimal(const char *p, int k, int scale) {
        uint64_t v = fastetl_load_digits(p, k);
        int cut = 8 * (7 - scale);              /* bits below the point's byte: 8 to 48 */
        uint64_t low = v & ((1ULL << cut) - 1);  /* '0' padding and integer digits */
        return (low << 8) | (v & ~((1ULL << (cut + 8)) - 1)) | 0x30ULL;
    }

    static inline double fastetl_from_bits(uint64_t b) {
        double d;
        memcpy(&d, &b, sizeof d);
        return d;
    }
    /* -v when neg (1), else v (0), without a branch: signs in data are coin tosses, and
       a branch on them is mispredicted half the time. */
    FASTETL_INLINE double fastetl_signed(double v, int neg) {
        uint64_t b;
        memcpy(&b, &v, sizeof b);
        b ^= (uint64_t)(neg != 0) << 63;
        memcpy(&v, &b, sizeof v);
        return v;
    }
    static const double fastetl_pow10[23] = {
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
    };
    /* Reading a number from its end.  A field that starts at least 8 bytes into the
       parser's buffer ("room") can be read in whole words ending at any point of it: the
       bytes before it in the word belong to the buffer (the previous field, a delimiter)
       and are replaced by '0', so no length needs a loop or a branch per digit. */
    #define FASTETL_ZEROS 0x3030303030303030ULL

    /* The k (1 or more; 8 when more) text bytes before p + 8 as the end of an eight-byte
       word (fastetl_load8's order), '0' in place of the 8 - k bytes before them. */
    FASTETL_INLINE uint64_t fastetl_digit_word(const char *p, int k) {
        int pad = k >= 8 ? 0 : 8 * (8 - k);                 /* 0 to 56 */
        uint64_t mask = (1ULL << pad) - 1;
        return (fastetl_load8(p) & ~mask) | (FASTETL_ZEROS & mask);
    }

    /* s[0:L] (1 <= L <= 19), ASCII digits only, into *out: 1, or 0 for any other text.
       Reads the 8 * ceil(L / 8) bytes before s + L (room). */
    FASTETL_INLINE int fastetl_tail_digits(const char *s, int L, uint64_t *out) {
        const char *e = s + L;
        uint64_t w0 = fastetl_digit_word(e - 8, L), w1, w2;
        if (L <= 8) {
            if (!fastetl_all8digits(w0)) return 0;
            *out = fastetl_parse8(w0);
            return 1;
        }
        w1 = fastetl_digit_word(e - 16, L - 8);
        w2 = L > 16 ? fastetl_digit_word(e - 24, L - 16) : FASTETL_ZEROS;
        if (!(fastetl_all8digits(w0) & fastetl_all8digits(w1) & fastetl_all8digits(w2)))
            return 0;
        *out = (fastetl_parse8(w2) * 100000000ULL + fastetl_parse8(w1)) * 100000000ULL
               + fastetl_parse8(w0);
        return 1;
    }

    /* The bytes of w (fastetl_load8's order) equal to '.', as their high bits: exact for
       the lowest one (a borrow of the zero-byte test only marks bytes above a true one). */
    FASTETL_INLINE uint64_t fastetl_dots(uint64_t w) {
        uint64_t x = w ^ 0x2E2E2E2E2E2E2E2EULL;
        return (x - 0x0101010101010101ULL) & ~x & 0x8080808080808080ULL;
    }

    /* w with its byte d (a '.') taken out: the bytes before it move up one, and `fill`
       (the last byte of the word before, or '0') comes in first. */
    FASTETL_INLINE uint64_t fastetl_squeeze(uint64_t w, int d, uint64_t fill) {
        uint64_t low = w & ((1ULL << (8 * d)) - 1);
        uint64_t high = w & ~((2ULL << (8 * d + 7)) - 1);      /* 0 for d == 7 */
        return (low << 8) | high | fill;
    }

    /* s[0:L] (1 <= L <= 20), ASCII digits with at most one '.' and 1 to 19 digits, into
       *mant (the digits, leading zeros included) and *nfrac (how many follow the point): 1,
       or 0 for any other text.  Reads the 8 * ceil(L / 8) bytes before s + L (room). */
    FASTETL_INLINE int fastetl_tail_mantissa(const char *s, int L, uint64_t *mant, int *nfrac) {
        const char *e = s + L;
        uint64_t w0 = fastetl_digit_word(e - 8, L), w1 = FASTETL_ZEROS, w2 = FASTETL_ZEROS, z;
        int nd = L, d;
        *nfrac = 0;
        if (L <= 8) {           /* one word: most numbers (a search of three cost more) */
            if ((z = fastetl_dots(w0)) != 0) {
                d = fastetl_ctz64(z) >> 3;
                w0 = fastetl_squeeze(w0, d, 0x30);
                *nfrac = 7 - d;
                nd -= 1;
            }
            if (nd < 1 || !fastetl_all8digits(w0))
                return 0;
            *mant = fastetl_parse8(w0);
            return 1;
        }
        w1 = fastetl_digit_word(e - 16, L - 8);
        if (L > 16) w2 = fastetl_digit_word(e - 24, L - 16);
        if ((z = fastetl_dots(w0)) != 0) {
            d = fastetl_ctz64(z) >> 3;
            w0 = fastetl_squeeze(w0, d, w1 >> 56);
            w1 = (w1 << 8) | (w2 >> 56);
            w2 = (w2 << 8) | 0x30;
            *nfrac = 7 - d;
            nd -= 1;
        } else if ((z = fastetl_dots(w1)) != 0) {
            d = fastetl_ctz64(z) >> 3;
            w1 = fastetl_squeeze(w1, d, w2 >> 56);
            w2 = (w2 << 8) | 0x30;
            *nfrac = 15 - d;
            nd -= 1;
        } else if ((z = fastetl_dots(w2)) != 0) {
            d = fastetl_ctz64(z) >> 3;
            w2 = fastetl_squeeze(w2, d, 0x30);
            *nfrac = 23 - d;
            nd -= 1;
        }
        if (nd < 1 || nd > 19
                || !(fastetl_all8digits(w0) & fastetl_all8digits(w1) & fastetl_all8digits(w2)))
            return 0;
        *mant = (fastetl_parse8(w2) * 100000000ULL + fastetl_parse8(w1)) * 100000000ULL
                + fastetl_parse8(w0);
        return 1;
    }

    static const unsigned long long fastetl_pow10_u64[20] = {
        1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL,
        100000000ULL, 1000000000ULL, 10000000000ULL, 100000000000ULL, 1000000000000ULL,
        10000000000000ULL, 100000000000000ULL, 1000000000000000ULL, 10000000000000000ULL,
        100000000000000000ULL, 1000000000000000000ULL, 10000000000000000000ULL
    };
    static inline int fastetl_isinf_f(float x) { return isinf(x); }

    /* float(text) for the usual text, read from its end (room): [+-]?, then 1 to 19
       digits with at most one point in at most 20 bytes, then an exponent ([eE][+-]?, 1 to
       3 digits) or none.  1 with the value in *out; 0 for any other text (the caller reads
       it digit by digit) and for the rare value that needs more than one 64-bit product. */
    FASTETL_INLINE int fastetl_tail_double(const char *s, Py_ssize_t n, double *out) {
        int neg, nfrac;
        Py_ssize_t i, j;
        int64_t e = 0, mul = 1, q;
        uint64_t mant, bits;
        double v;
        if (n <= 0) return 0;
        neg = s[0] == '-';
        i = neg | (s[0] == '+');
        if (n - i >= 1 && n - i <= 20 && fastetl_tail_mantissa(s + i, (int)(n - i), &mant, &nfrac)) {
            q = -nfrac;
        } else {
            /* an exponent at the end, read backwards, and the mantissa before it */
            j = n - 1;
            if (n - i >= 5 && (unsigned char)(s[n - 1] - '0') < 10
                    && (unsigned char)(s[n - 2] - '0') < 10
                    && (s[n - 3] == '-' || s[n - 3] == '+')) {
                /* e+dd, e-dd: printf's exponent, in one step */
                e = (s[n - 2] - '0') * 10 + (s[n - 1] - '0');
                e = s[n - 3] == '-' ? -e : e;
                j = n - 4;
            } else {
                while (j > i && n - j <= 3 && (unsigned char)(s[j] - '0') < 10) {
                    e += (s[j] - '0') * mul;
                    mul *= 10;
                    j -= 1;
                }
                if (j == n - 1 || j <= i) return 0;
                if (s[j] == '-' || s[j] == '+') {
                    if (s[j] == '-') e = -e;
                    j -= 1;
                }
            }
            if (j <= i || (s[j] | 0x20) != 'e' || j - i > 20)
                return 0;
            if (j - i >= 3 && s[i + 1] == '.' && (unsigned char)(s[i] - '0') < 10) {
                /* d.ddd...e: what printf's %e and numpy.savetxt write -- the fraction's
                   digits alone, no point to look for */
                nfrac = (int)(j - i - 2);
                if (!fastetl_tail_digits(s + i + 2, nfrac, &mant))
                    return 0;
                mant += (uint64_t)(s[i] - '0') * fastetl_pow10_u64[nfrac];
            } else if (!fastetl_tail_mantissa(s + i, (int)(j - i), &mant, &nfrac)) {
                return 0;
            }
            q = e - nfrac;
        }
        if (mant == 0) {
            v = 0.0;
        } else if (FASTETL_CLINGER_OK && mant <= (1ULL << 53) && q >= -22 && q <= 22) {
            v = (double)mant;       /* Clinger: two exact doubles, one rounding */
            v = q < 0 ? v / fastetl_pow10[-q] : v * fastetl_pow10[q];
        } else if (fastetl_eisel_lemire(mant, q, &bits) == 0) {
            v = fastetl_from_bits(bits);
        } else {
            return 0;
        }
        *out = fastetl_signed(v, neg);
        return 1;
    }
    """
    int FASTETL_CLINGER_OK
    ctypedef struct fastetl_u128:
        uint64_t hi
        uint64_t lo
    fastetl_u128 fastetl_mul64(uint64_t a, uint64_t b)
    fastetl_u128 fastetl_mul64_portable(uint64_t a, uint64_t b)
    int fastetl_eisel_lemire(uint64_t w, int64_t q, uint64_t *bits)
    int fastetl_eisel_lemire_portable(uint64_t w, int64_t q, uint64_t *bits)
    double fastetl_from_bits(uint64_t b)
    bint fastetl_all8digits(uint64_t v)
    uint64_t fastetl_parse8(uint64_t v)
    uint64_t fastetl_load_digits(const char *p, int k)
    uint64_t fastetl_load_decimal(const char *p, int k, int scale)
    bint fastetl_tail_digits(const char *s, int L, uint64_t *out)
    bint fastetl_tail_mantissa(const char *s, int L, uint64_t *mant, int *nfrac)
    bint fastetl_tail_double(const char *s, Py_ssize_t n, double *out)
    double fastetl_signed(double v, int neg)
    const double *fastetl_pow10
    const uint64_t *fastetl_pow10_u64
    int fastetl_isinf_f(float x)
    double HUGE_VAL
    double NAN
    double copysign(double, double)
    int isinf(double)

cdef enum:
    MAX_SIG_DIGITS = 19


def mul64(uint64_t a, uint64_t b, bint portable=False):
    """Test hook: the 128-bit product a * b as (high, low) words, by the compiler's product
    (``__int128``, ``_umul128``, ``__umulh``) or by the portable one every compiler has."""
    cdef fastetl_u128 r = fastetl_mul64_portable(a, b) if portable else fastetl_mul64(a, b)
    return r.hi, r.lo


def eisel_lemire(uint64_t mant, int64_t exp10, bint portable=False):
    """Test hook: mant * 10**exp10 (mant >= 1) correctly rounded to a float by the
    Eisel-Lemire step the converters use, with either 128-bit product (see mul64); None
    when the step cannot decide (the converters then ask CPython's strtod)."""
    cdef uint64_t bits = 0
    cdef int st
    if mant == 0:
        raise ValueError("the mantissa must be at least 1")
    st = (fastetl_eisel_lemire_portable(mant, exp10, &bits) if portable
          else fastetl_eisel_lemire(mant, exp10, &bits))
    return None if st != 0 else fastetl_from_bits(bits)


cdef inline int is_digit(char c) noexcept nogil:
    return <unsigned char>(c - c'0') < 10


cdef inline char ascii_lower(char c) noexcept nogil:
    if c'A' <= c <= c'Z':
        return c + 32
    return c


cdef inline bint eq_nocase(const char *s, Py_ssize_t n, const char *word, Py_ssize_t wn) noexcept nogil:
    """s[:n] equals the lower-case ASCII word, ignoring the case of letters only."""
    cdef Py_ssize_t i
    if n != wn:
        return False
    for i in range(n):
        if ascii_lower(s[i]) != word[i]:
            return False
    return True


cdef inline int parse_uint_magnitude(const char *s, Py_ssize_t n, bint *neg,
                                     uint64_t *out) noexcept nogil:
    """[+-]?[0-9]+ into a sign and a 64-bit magnitude."""
    cdef Py_ssize_t i = 0
    cdef Py_ssize_t nd = 0          # digits read into acc (leading zeros included)
    cdef uint64_t acc = 0
    cdef uint64_t d, v
    neg[0] = False
    if n > 0 and (s[0] == c'+' or s[0] == c'-'):
        neg[0] = s[0] == c'-'
        i = 1
    if i >= n:
        return ST_INVALID
    # eight digits at a time while acc stays below 10**19 (no overflow possible)
    while nd <= 11 and n - i >= 8:
        v = fastetl_load8(s + i)
        if not fastetl_all8digits(v):
            break
        acc = acc * 100000000 + fastetl_parse8(v)
        i += 8
        nd += 8
    # the last 4 to 7 digits in one step (acc < 10**nd: no overflow); shorter tails are as
    # quick digit by digit
    if 4 <= n - i < 8 and nd + (n - i) <= 19:
        v = fastetl_load_digits(s + i, <int>(n - i))
        if fastetl_all8digits(v):
            out[0] = acc * fastetl_pow10_u64[n - i] + fastetl_parse8(v)
            return ST_OK
    while i < n:
        if not is_digit(s[i]):
            return ST_INVALID
        d = <uint64_t>(s[i] - c'0')
        if nd >= 19 and acc > (UINT64_MAX - d) // 10:
            # keep checking the syntax so 'abc'-style text reports as invalid, not out of range
            i += 1
            while i < n:
                if not is_digit(s[i]):
                    return ST_INVALID
                i += 1
            return ST_RANGE
        acc = acc * 10 + d
        nd += 1
        i += 1
    out[0] = acc
    return ST_OK


cdef inline int tail_uint_magnitude(const char *s, Py_ssize_t n, bint room, bint *neg,
                                    uint64_t *out) noexcept nogil:
    """parse_uint_magnitude, read from the end of the text in whole words when ``room``
    (8 readable bytes before ``s``: fastetl_tail_digits) and it has 1 to 19 digits."""
    cdef bint ng
    cdef Py_ssize_t i
    if room and n > 0 and fast_paths:
        ng = s[0] == c'-'
        i = ng | (s[0] == c'+')
        if 0 < n - i <= 19 and fastetl_tail_digits(s + i, <int>(n - i), out):
            neg[0] = ng
            return ST_OK
    return parse_uint_magnitude(s, n, neg, out)


cdef inline int convert_int(const char *s, Py_ssize_t n, int size, bint is_signed, bint room,
                            char *dst) noexcept nogil:
    cdef bint neg
    cdef uint64_t mag
    cdef int64_t v
    cdef int st = tail_uint_magnitude(s, n, room, &neg, &mag)
    cdef int bits = size * 8
    if st != ST_OK:
        return st
    if is_signed:
        # no branch on the sign (a coin toss in data): a negative value may reach one more
        if mag > (<uint64_t>1 << (bits - 1)) - 1 + <uint64_t>neg:
            return ST_RANGE
        v = <int64_t>((mag ^ (0 - <uint64_t>neg)) + <uint64_t>neg)   # -mag when neg; exact for -2**63
        fastetl_store_le(dst, <uint64_t>v, size)   # the low bytes, first to last
    else:
        if neg and mag != 0:
            return ST_RANGE
        if bits < 64 and mag > ((<uint64_t>1 << bits) - 1):
            return ST_RANGE
        fastetl_store_le(dst, mag, size)
    return ST_OK


cdef double slow_float(Parser p, const char *s, Py_ssize_t n, int *status) noexcept nogil:
    """Correctly rounded conversion of a validated float text, through CPython's dtoa."""
    cdef double v = 0.0
    cdef char *tmp = p.scratch_reserve(1, n + 1)
    if tmp == NULL:
        status[0] = ST_NO_MEMORY
        return 0.0
    memcpy(tmp, s, n)
    tmp[n] = 0
    with gil:
        v = PyOS_string_to_double(tmp, NULL, NULL)
        if v == -1.0 and PyErr_Occurred() != NULL:
            PyErr_Clear()
            status[0] = ST_INVALID
            return 0.0
    status[0] = ST_OK
    return v


cdef inline Py_ssize_t read_digits(const char *s, Py_ssize_t i, Py_ssize_t n,
                                    uint64_t *acc) noexcept nogil:
    """The run of digits at s[i:n] into *acc (acc * 10 + digit each; it wraps past 2**64,
    which callers rule out by counting): eight at a time, then one by one.  Returns
    where the run ends."""
    cdef uint64_t v
    cdef uint64_t a = acc[0]
    while n - i >= 8:
        v = fastetl_load8(s + i)
        if not fastetl_all8digits(v):
            break
        a = a * 100000000 + fastetl_parse8(v)
        i += 8
    while i < n and is_digit(s[i]):
        a = a * 10 + <uint64_t>(s[i] - c'0')
        i += 1
    acc[0] = a
    return i


cdef inline Py_ssize_t read_exponent(const char *s, Py_ssize_t i, Py_ssize_t n,
                                     int64_t *exp10) noexcept nogil:
    """An exponent [eE][+-]?digits at s[i] (if any) added to *exp10; where it ends, or
    -1 for an 'e' without digits."""
    cdef int64_t e = 0
    cdef bint eneg = False
    cdef bint seen_e_digit = False
    if i < n and (s[i] == c'e' or s[i] == c'E'):
        i += 1
        if i < n and (s[i] == c'+' or s[i] == c'-'):
            eneg = s[i] == c'-'
            i += 1
        while i < n and is_digit(s[i]):
            seen_e_digit = True
            if e < 100000000:
                e = e * 10 + (s[i] - c'0')
            i += 1
        if not seen_e_digit:
            return -1
        exp10[0] += -e if eneg else e
    return i


cdef inline int tail_double(Parser p, const char *s, Py_ssize_t n, bint room,
                            double *out) noexcept nogil:
    """parse_double, by fastetl_tail_double when ``room`` (8 readable bytes before ``s``)."""
    if room and fast_paths and fastetl_tail_double(s, n, out):
        return ST_OK
    return parse_double(p, s, n, out)


cdef int parse_double(Parser p, const char *s, Py_ssize_t n, double *out) noexcept nogil:
    """float(text) for [+-]?(digits[.digits]|.digits)([eE][+-]?digits)?|inf|infinity|nan.

    The usual text -- at most 19 digits in all, leading zeros included, so they fit a
    uint64 -- is read here, eight digits at a time; any other goes to
    parse_double_digits (more digits, words, invalid text)."""
    cdef Py_ssize_t i = 0
    cdef Py_ssize_t nint, nfrac = 0
    cdef bint neg = False
    cdef uint64_t mant = 0
    cdef int64_t exp10 = 0
    if n > 0:  # (the sign without a branch: signs of data are coin tosses too)
        neg = s[0] == c'-'
        i = neg | (s[0] == c'+')
    nint = read_digits(s, i, n, &mant) - i
    i += nint
    if i < n and s[i] == c'.':
        nfrac = read_digits(s, i + 1, n, &mant) - (i + 1)
        i += 1 + nfrac
    if nint + nfrac == 0 or nint + nfrac > MAX_SIG_DIGITS or not fast_paths:
        return parse_double_digits(p, s, n, out)
    exp10 = -nfrac
    i = read_exponent(s, i, n, &exp10)
    if i != n:
        return ST_INVALID           # (i == -1: an 'e' without digits)
    return double_of(p, s, n, neg, mant, exp10, False, out)


cdef int parse_double_digits(Parser p, const char *s, Py_ssize_t n, double *out) noexcept nogil:
    """parse_double for any text, digit by digit: the first 19 significant digits are
    kept, the rest only noted (``truncated``)."""
    cdef Py_ssize_t i = 0
    cdef bint neg = False
    cdef uint64_t mant = 0
    cdef int nd = 0              # significant digits held in mant
    cdef bint truncated = False  # a non-zero digit did not fit in mant
    cdef bint any_digit = False
    cdef int64_t exp10 = 0
    cdef int d
    if n > 0 and (s[0] == c'+' or s[0] == c'-'):
        neg = s[0] == c'-'
        i = 1
    if i < n and not is_digit(s[i]) and s[i] != c'.':
        if eq_nocase(s + i, n - i, b"inf", 3) or eq_nocase(s + i, n - i, b"infinity", 8):
            out[0] = -HUGE_VAL if neg else HUGE_VAL
            return ST_OK
        if eq_nocase(s + i, n - i, b"nan", 3):
            out[0] = copysign(NAN, -1.0 if neg else 1.0)
            return ST_OK
        return ST_INVALID
    while i < n and is_digit(s[i]):
        any_digit = True
        d = s[i] - c'0'
        if nd < MAX_SIG_DIGITS:
            if mant != 0 or d != 0:
                mant = mant * 10 + d
                nd += 1
        else:
            exp10 += 1
            if d != 0:
                truncated = True
        i += 1
    if i < n and s[i] == c'.':
        i += 1
        while i < n and is_digit(s[i]):
            any_digit = True
            d = s[i] - c'0'
            if nd < MAX_SIG_DIGITS:
                if mant != 0 or d != 0:
                    mant = mant * 10 + d
                    nd += 1
                exp10 -= 1
            elif d != 0:
                truncated = True
            i += 1
    if not any_digit:
        return ST_INVALID
    i = read_exponent(s, i, n, &exp10)
    if i != n:
        return ST_INVALID
    return double_of(p, s, n, neg, mant, exp10, truncated, out)


cdef inline int double_of(Parser p, const char *s, Py_ssize_t n, bint neg, uint64_t mant,
                          int64_t exp10, bint truncated, double *out) noexcept nogil:
    """The double of the validated text s[:n] = (-1 if neg) * (mant, plus something below
    1 when ``truncated``) * 10**exp10, correctly rounded."""
    cdef double v
    cdef int st
    cdef uint64_t bits = 0, bits_up = 0
    if mant == 0:
        v = 0.0
    elif (FASTETL_CLINGER_OK and not truncated and mant <= (<uint64_t>1 << 53)
          and -22 <= exp10 <= 22):
        # Clinger's fast path: both operands are exact doubles, so one rounding.
        v = <double>mant
        if exp10 < 0:
            v = v / fastetl_pow10[-exp10]
        else:
            v = v * fastetl_pow10[exp10]
    elif (FASTETL_CLINGER_OK and not truncated and mant <= (<uint64_t>1 << 53)
          and 22 < exp10 <= 22 + 15
          and mant <= ((<uint64_t>1 << 53) // fastetl_pow10_u64[exp10 - 22])):
        # mant * 10**(exp10-22) is still an exact integer below 2**53
        v = <double>(mant * fastetl_pow10_u64[exp10 - 22]) * 1e22
    elif not truncated and fastetl_eisel_lemire(mant, exp10, &bits) == 0:
        v = fastetl_from_bits(bits)         # exact for any 19-digit mantissa, no GIL
    elif (truncated and mant < UINT64_MAX
          and fastetl_eisel_lemire(mant, exp10, &bits) == 0
          and fastetl_eisel_lemire(mant + 1, exp10, &bits_up) == 0 and bits == bits_up):
        # more than 19 digits: the value lies strictly between mant and mant + 1 (times
        # 10**exp10); when both ends round to the same double, so does everything between
        v = fastetl_from_bits(bits)
    else:
        st = ST_OK
        v = slow_float(p, s, n, &st)
        if st != ST_OK:
            return st
        out[0] = v              # the text carried its own sign
        return ST_OK
    out[0] = fastetl_signed(v, neg)
    return ST_OK


cdef inline int convert_decimal(const char *s, Py_ssize_t n, int scale, bint round_half_even,
                                int64_t *out) noexcept nogil:
    """[+-]?(digits[.digits]|digits.|.digits) scaled by 10**scale, exactly.  The usual
    shape in one word, inline: up to 8 bytes, integer digits, a point and exactly
    ``scale`` (1 to 6) digits (at most 7 digits: no overflow); the rest by
    convert_decimal_digits."""
    cdef Py_ssize_t i = 0
    cdef bint neg = False
    cdef Py_ssize_t k
    cdef uint64_t v, acc
    if n > 0 and (s[0] == c'+' or s[0] == c'-'):
        neg = s[0] == c'-'
        i = 1
    k = n - i
    if (4 <= k <= 8 and 0 < scale <= 6 and k > scale + 1 and s[n - scale - 1] == c'.'):
        v = fastetl_load_decimal(s + i, <int>k, scale)
        if fastetl_all8digits(v):
            acc = fastetl_parse8(v)
            out[0] = <int64_t>(0 - acc) if neg else <int64_t>acc
            return ST_OK
    return convert_decimal_digits(s, n, scale, round_half_even, out)


cdef int convert_decimal_digits(const char *s, Py_ssize_t n, int scale, bint round_half_even,
                                int64_t *out) noexcept nogil:
    """convert_decimal digit by digit: any length, any scale, rounding, range checks."""
    cdef Py_ssize_t i = 0
    cdef bint neg = False
    cdef uint64_t acc = 0
    cdef uint64_t limit
    cdef uint64_t d
    cdef bint any_digit = False
    cdef int frac = 0
    cdef Py_ssize_t nd = 0        # digits in acc (leading zeros included)
    cdef int first_extra = -1     # the first digit past the scale
    cdef bint sticky = False      # any non-zero digit after that one
    if n > 0 and (s[0] == c'+' or s[0] == c'-'):
        neg = s[0] == c'-'
        i = 1
    limit = (<uint64_t>1 << 63) if neg else (<uint64_t>1 << 63) - 1
    # acc holds at most nd digits: below 10**18 <= limit while nd < 18, so only
    # longer texts need the overflow check
    while i < n and is_digit(s[i]):
        any_digit = True
        d = <uint64_t>(s[i] - c'0')
        if nd >= 18 and acc > (limit - d) // 10:
            return ST_RANGE if _all_decimal_syntax(s, i, n) else ST_INVALID
        acc = acc * 10 + d
        nd += 1
        i += 1
    if i < n and s[i] == c'.':
        i += 1
        while i < n and is_digit(s[i]):
            any_digit = True
            d = <uint64_t>(s[i] - c'0')
            if frac < scale:
                if nd >= 18 and acc > (limit - d) // 10:
                    return ST_RANGE if _all_decimal_syntax(s, i, n) else ST_INVALID
                acc = acc * 10 + d
                nd += 1
                frac += 1
            elif first_extra < 0:
                first_extra = <int>d
            elif d != 0:
                sticky = True
            i += 1
    if i != n or not any_digit:
        return ST_INVALID
    while frac < scale:
        if acc > limit // 10:
            return ST_RANGE
        acc *= 10
        frac += 1
    if first_extra > 0 or sticky:
        if not round_half_even:
            return ST_EXTRA_DIGITS
        if first_extra > 5 or (first_extra == 5 and (sticky or (acc & 1))):
            if acc >= limit:
                return ST_RANGE
            acc += 1
    out[0] = <int64_t>(0 - acc) if neg else <int64_t>acc
    return ST_OK


cdef inline bint _all_decimal_syntax(const char *s, Py_ssize_t i, Py_ssize_t n) noexcept nogil:
    """True when s[i:] is still digits with at most one point (so an overflow is a range error)."""
    cdef bint dot = False
    while i < n:
        if s[i] == c'.' and not dot:
            dot = True
        elif not is_digit(s[i]):
            return False
        i += 1
    return True


cdef Py_ssize_t normalize_number(const char *s, Py_ssize_t n, char dec, char thou,
                                 char *dst) noexcept nogil:
    """A number spelled with the decimal mark ``dec`` and digit groups split by ``thou``
    (0: none) rewritten into ``dst`` (room for n bytes) the way the converters read it:
    separators out, ``dec`` -> '.'.  Returns the new length, or -1 when a separator is
    misplaced: ``thou`` only between the digits of the integer part, in groups of three
    after a first group of one to three digits; no '.' unless it is ``dec`` or ``thou``.
    Whatever else the text holds is copied for the converter to judge."""
    cdef Py_ssize_t i = 0
    cdef Py_ssize_t j = 0
    cdef Py_ssize_t run = 0           # digits since the start or the last separator
    cdef bint grouped = False
    cdef char ch
    if n > 0 and (s[0] == c'+' or s[0] == c'-'):
        dst[0] = s[0]
        i = j = 1
    while i < n:                      # the integer part
        ch = s[i]
        if is_digit(ch):
            dst[j] = ch
            j += 1
            run += 1
        elif thou != 0 and ch == thou:
            if run == 0 or run > 3 or (grouped and run != 3):
                return -1
            grouped = True
            run = 0
        else:
            break
        i += 1
    if grouped and run != 3:
        return -1
    while i < n:                      # the rest: fraction, exponent, or words (inf, nan)
        ch = s[i]
        if ch == dec:
            dst[j] = c'.'
        elif ch == c'.' or (thou != 0 and ch == thou):
            return -1
        else:
            dst[j] = ch
        i += 1
        j += 1
    return j


cdef extern from * nogil:
    """
    /* The word of a 2 to 5 byte boolean text (p[0] lowest byte, as fastetl_load8) with
       0x20 set in every byte: for a text of letters that is its lower case, and a byte
       b has b | 0x20 equal to a lower-case letter only when b is that letter in either
       case, so comparing with the lower-case words is an exact case-blind compare. */
    FASTETL_INLINE uint64_t fastetl_bool_word(const char *p, Py_ssize_t n) {
        const unsigned char *u = (const unsigned char *)p;
        uint64_t w;
        if (n >= 4)
            w = (uint64_t)fastetl_load4(p) | (n == 5 ? (uint64_t)u[4] << 32 : 0);
        else
            w = (uint64_t)u[0] | (uint64_t)u[1] << 8 | (n == 3 ? (uint64_t)u[2] << 16 : 0);
        return w | (0x2020202020ULL >> (8 * (5 - n)));
    }
    #define FASTETL_WORD_NO    0x6F6EULL            /* "no" */
    #define FASTETL_WORD_YES   0x736579ULL          /* "yes" */
    #define FASTETL_WORD_TRUE  0x65757274ULL        /* "true" */
    #define FASTETL_WORD_FALSE 0x65736C6166ULL      /* "false" */
    """
    uint64_t fastetl_bool_word(const char *p, Py_ssize_t n)
    uint64_t FASTETL_WORD_NO
    uint64_t FASTETL_WORD_YES
    uint64_t FASTETL_WORD_TRUE
    uint64_t FASTETL_WORD_FALSE


cdef inline int parse_bool(const char *s, Py_ssize_t n, uint8_t *out) noexcept nogil:
    """true/false, t/f, yes/no, 1/0 -- letters in any case."""
    cdef uint64_t w
    if n == 1:
        if s[0] == c'1' or ascii_lower(s[0]) == c't':
            out[0] = 1
            return ST_OK
        if s[0] == c'0' or ascii_lower(s[0]) == c'f':
            out[0] = 0
            return ST_OK
        return ST_INVALID
    if n < 2 or n > 5:
        return ST_INVALID
    w = fastetl_bool_word(s, n)
    if (n == 4 and w == FASTETL_WORD_TRUE) or (n == 3 and w == FASTETL_WORD_YES):
        out[0] = 1
        return ST_OK
    if (n == 5 and w == FASTETL_WORD_FALSE) or (n == 2 and w == FASTETL_WORD_NO):
        out[0] = 0
        return ST_OK
    return ST_INVALID
