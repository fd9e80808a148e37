# Converters for integers, floats, decimals and booleans.
#
# Included by _core.pyx.  Each takes the (trimmed) field text and returns a
# status; the value goes to *out.  Nothing here allocates or raises, except the
# rare hard float, which takes the GIL for CPython's correctly rounded strtod.

cdef extern from "Python.h":
    double PyOS_string_to_double(const char *s, char **endptr, PyObject *overflow_exception)
    PyObject *PyErr_Occurred()
    void PyErr_Clear()

cdef extern from * nogil:
    """
    #include <math.h>
    #include <float.h>
    static const double fastetl_pow10[23] = {
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
    };
    static const unsigned long long fastetl_pow10_u64[20] = {
        1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL,
        100000000ULL, 1000000000ULL, 10000000000ULL, 100000000000ULL, 1000000000000ULL,
        10000000000000ULL, 100000000000000ULL, 1000000000000000ULL, 10000000000000000ULL,
        100000000000000000ULL, 1000000000000000000ULL, 10000000000000000000ULL
    };
    static inline int fastetl_isinf_f(float x) { return isinf(x); }
    """
    const double *fastetl_pow10
    const uint64_t *fastetl_pow10_u64
    int fastetl_isinf_f(float x)
    double HUGE_VAL
    double NAN
    double copysign(double, double)
    int isinf(double)

DEF MAX_SIG_DIGITS = 19


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
    cdef uint64_t acc = 0
    cdef uint64_t d
    neg[0] = False
    if n > 0 and (s[0] == c'+' or s[0] == c'-'):
        neg[0] = s[0] == c'-'
        i = 1
    if i >= n:
        return ST_INVALID
    while i < n:
        if not is_digit(s[i]):
            return ST_INVALID
        d = <uint64_t>(s[i] - c'0')
        if acc > (UINT64_MAX - d) // 10:
            # keep checking the syntax so 'abc'-style text reports as invalid, not out of range
            i += 1
            while i < n:
                if not is_digit(s[i]):
                    return ST_INVALID
                i += 1
            return ST_RANGE
        acc = acc * 10 + d
        i += 1
    out[0] = acc
    return ST_OK


cdef inline int convert_int(const char *s, Py_ssize_t n, int size, bint is_signed,
                            char *dst) noexcept nogil:
    cdef bint neg
    cdef uint64_t mag
    cdef int64_t v
    cdef uint64_t u
    cdef int st = parse_uint_magnitude(s, n, &neg, &mag)
    cdef int bits = size * 8
    if st != ST_OK:
        return st
    if is_signed:
        if neg:
            if mag > (<uint64_t>1 << (bits - 1)):
                return ST_RANGE
            v = <int64_t>(0 - mag)          # two's complement; exact for -2**63
        else:
            if mag > (<uint64_t>1 << (bits - 1)) - 1:
                return ST_RANGE
            v = <int64_t>mag
        memcpy(dst, &v, size)               # little-endian: the low bytes come first
    else:
        if neg and mag != 0:
            return ST_RANGE
        if bits < 64 and mag > ((<uint64_t>1 << bits) - 1):
            return ST_RANGE
        u = mag
        memcpy(dst, &u, size)
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


cdef inline int parse_double(Parser p, const char *s, Py_ssize_t n, double *out) noexcept nogil:
    """float(text) for [+-]?(digits[.digits]|.digits)([eE][+-]?digits)?|inf|infinity|nan."""
    cdef Py_ssize_t i = 0
    cdef bint neg = False
    cdef uint64_t mant = 0
    cdef int nd = 0              # significant digits held in mant
    cdef bint truncated = False  # a non-zero digit did not fit in mant
    cdef bint any_digit = False
    cdef int64_t exp10 = 0
    cdef int64_t e = 0
    cdef bint eneg = False
    cdef bint seen_e_digit = False
    cdef double v
    cdef int st
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
            return ST_INVALID
        exp10 += -e if eneg else e
    if i != n:
        return ST_INVALID
    if mant == 0:
        v = 0.0
    elif not truncated and mant <= (<uint64_t>1 << 53) and -22 <= exp10 <= 22:
        # Clinger's fast path: both operands are exact doubles, so one rounding.
        v = <double>mant
        if exp10 < 0:
            v = v / fastetl_pow10[-exp10]
        else:
            v = v * fastetl_pow10[exp10]
    elif (not truncated and mant <= (<uint64_t>1 << 53) and 22 < exp10 <= 22 + 15
          and mant <= ((<uint64_t>1 << 53) // fastetl_pow10_u64[exp10 - 22])):
        # mant * 10**(exp10-22) is still an exact integer below 2**53
        v = <double>(mant * fastetl_pow10_u64[exp10 - 22]) * 1e22
    else:
        st = ST_OK
        v = slow_float(p, s, n, &st)
        if st != ST_OK:
            return st
        out[0] = v              # the text carried its own sign
        return ST_OK
    out[0] = -v if neg else v
    return ST_OK


cdef inline int convert_decimal(const char *s, Py_ssize_t n, int scale, bint round_half_even,
                                int64_t *out) noexcept nogil:
    """[+-]?(digits[.digits]|digits.|.digits) scaled by 10**scale, exactly."""
    cdef Py_ssize_t i = 0
    cdef bint neg = False
    cdef uint64_t acc = 0
    cdef uint64_t limit
    cdef uint64_t d
    cdef bint any_digit = False
    cdef int frac = 0
    cdef int first_extra = -1     # the first digit past the scale
    cdef bint sticky = False      # any non-zero digit after that one
    if n > 0 and (s[0] == c'+' or s[0] == c'-'):
        neg = s[0] == c'-'
        i = 1
    limit = (<uint64_t>1 << 63) if neg else (<uint64_t>1 << 63) - 1
    while i < n and is_digit(s[i]):
        any_digit = True
        d = <uint64_t>(s[i] - c'0')
        if acc > (limit - d) // 10:
            return ST_RANGE if _all_decimal_syntax(s, i, n) else ST_INVALID
        acc = acc * 10 + d
        i += 1
    if i < n and s[i] == c'.':
        i += 1
        while i < n and is_digit(s[i]):
            any_digit = True
            d = <uint64_t>(s[i] - c'0')
            if frac < scale:
                if acc > (limit - d) // 10:
                    return ST_RANGE if _all_decimal_syntax(s, i, n) else ST_INVALID
                acc = acc * 10 + d
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


cdef inline int parse_bool(const char *s, Py_ssize_t n, uint8_t *out) noexcept nogil:
    """true/false, t/f, yes/no, 1/0 -- letters in any case."""
    if n == 1:
        if s[0] == c'1' or ascii_lower(s[0]) == c't':
            out[0] = 1
            return ST_OK
        if s[0] == c'0' or ascii_lower(s[0]) == c'f':
            out[0] = 0
            return ST_OK
        return ST_INVALID
    if eq_nocase(s, n, b"true", 4) or eq_nocase(s, n, b"yes", 3):
        out[0] = 1
        return ST_OK
    if eq_nocase(s, n, b"false", 5) or eq_nocase(s, n, b"no", 2):
        out[0] = 0
        return ST_OK
    return ST_INVALID
