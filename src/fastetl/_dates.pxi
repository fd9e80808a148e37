# Converters for dates and datetimes.
#
# Included by _core.pyx.  Dates become days since 1970-01-01 (numpy datetime64[D]);
# datetimes become units since 1970-01-01T00:00Z (datetime64[s|ms|us|ns]).
# Invalid calendar dates are errors, never rolled over.

cdef inline int days_in_month(int64_t y, int m) noexcept nogil:
    if m == 2:
        return 29 if (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)) else 28
    if m == 4 or m == 6 or m == 9 or m == 11:
        return 30
    return 31


cdef inline int64_t days_from_civil(int64_t y, int64_t m, int64_t d) noexcept nogil:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    cdef int64_t era, yoe, doy, doe
    if m <= 2:
        y -= 1
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


cdef inline int digits(const char *s, Py_ssize_t n, Py_ssize_t *i, int lo, int hi,
                       int64_t *out) noexcept nogil:
    """Read lo..hi ASCII digits at s[i]; 0 when fewer than lo are there."""
    cdef int k = 0
    cdef int64_t v = 0
    while k < hi and i[0] < n and is_digit(s[i[0]]):
        v = v * 10 + (s[i[0]] - c'0')
        i[0] += 1
        k += 1
    if k < lo:
        return 0
    out[0] = v
    return k


cdef extern from * nogil:
    """
    /* Dates and times at fixed positions, checked and read in whole words (the bytes in
       fastetl_load8's order, byte k of the text at bits 8k..8k+7). */

    /* The bytes of w outside `sep` (a mask of whole bytes) are ASCII digits and those
       inside equal `want`'s. */
    FASTETL_INLINE int fastetl_digits_and(uint64_t w, uint64_t sep, uint64_t want) {
        return ((w & sep) == want)
               & fastetl_all8digits((w & ~sep) | (0x3030303030303030ULL & sep));
    }
    /* The digit at byte k of w (a word checked by fastetl_digits_and). */
    #define FASTETL_DIGIT_AT(w, k) ((int)(((w) >> (8 * (k))) & 0xFF) - 48)

    /* "YYYY-MM-DD" at p (10 readable bytes): 1 with its numbers, or 0 for any other text
       (then read byte by byte, for the error it is).  Two overlapping words: "YYYY-MM-"
       and "YY-MM-DD". */
    FASTETL_INLINE int fastetl_fixed_ymd(const char *p, int *y, int *m, int *d) {
        uint64_t a = fastetl_load8(p), c = fastetl_load8(p + 2);
        if (!(fastetl_digits_and(a, 0xFF0000FF00000000ULL, 0x2D00002D00000000ULL)
              & fastetl_digits_and(c, 0x0000FF0000FF0000ULL, 0x00002D00002D0000ULL)))
            return 0;
        *y = FASTETL_DIGIT_AT(a, 0) * 1000 + FASTETL_DIGIT_AT(a, 1) * 100
             + FASTETL_DIGIT_AT(a, 2) * 10 + FASTETL_DIGIT_AT(a, 3);
        *m = FASTETL_DIGIT_AT(c, 3) * 10 + FASTETL_DIGIT_AT(c, 4);
        *d = FASTETL_DIGIT_AT(c, 6) * 10 + FASTETL_DIGIT_AT(c, 7);
        return 1;
    }
    /* "HH:MM:SS" at p (8 readable bytes): 1 with its numbers (not range-checked), or 0. */
    FASTETL_INLINE int fastetl_fixed_hms(const char *p, int *h, int *mi, int *sec) {
        uint64_t w = fastetl_load8(p);
        if (!fastetl_digits_and(w, 0x0000FF0000FF0000ULL, 0x00003A00003A0000ULL))
            return 0;
        *h = FASTETL_DIGIT_AT(w, 0) * 10 + FASTETL_DIGIT_AT(w, 1);
        *mi = FASTETL_DIGIT_AT(w, 3) * 10 + FASTETL_DIGIT_AT(w, 4);
        *sec = FASTETL_DIGIT_AT(w, 6) * 10 + FASTETL_DIGIT_AT(w, 7);
        return 1;
    }

    /* Days since 1970-01-01 of y-m-d into *days: 1, or 0 for no such date (check_ymd's
       ST_BAD_DATE).  For the words above: no branch on the month or the year's leap
       (days_in_month's and days_from_civil's were taken at random on real dates: a third
       of months have 30 days, a sixth come before March). */
    static const unsigned char fastetl_month_days[13] = {
        0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    static const unsigned short fastetl_days_before_month[13] = {
        0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
    FASTETL_INLINE int fastetl_ymd_days(int y, int m, int d, int64_t *days) {
        unsigned yy, leap;
        if (y < 1 || y > 9999 || m < 1 || m > 12 || d < 1)
            return 0;
        leap = ((y & 3) == 0) & (((unsigned)y % 100u != 0) | ((unsigned)y % 400u == 0));
        if (d > (int)fastetl_month_days[m] + (int)(leap & (m == 2)))
            return 0;
        yy = (unsigned)y - 1;                   /* whole years since 0001-01-01 */
        *days = (int64_t)(365u * yy + yy / 4 - yy / 100 + yy / 400 + fastetl_days_before_month[m]
                          + (leap & (m > 2)) + (unsigned)d - 1) - 719162;
        return 1;
    }

    /* "YYYY-MM-DD HH:MM:SS" (or T) at s, a valid date and time: 1 with its units since
       1970 (unit_mul per second, at most 10**6: no overflow) in *out; 0 for any other
       text (convert_iso_datetime reads it then, and says what is wrong).  A call of its
       own, not inlined into the parser's loop (inlined, it slowed the other columns'). */
    #if defined(_MSC_VER)
    #define FASTETL_NOINLINE static __declspec(noinline)
    #elif defined(__GNUC__) || defined(__clang__)
    #define FASTETL_NOINLINE static __attribute__((noinline))
    #else
    #define FASTETL_NOINLINE static
    #endif
    FASTETL_NOINLINE int fastetl_fixed_datetime(const char *s, int64_t unit_mul, int64_t *out) {
        int y, m, d, h, mi, sec;
        int64_t days;
        if (!(fastetl_fixed_ymd(s, &y, &m, &d) & (s[10] == ' ' || s[10] == 'T')
              & fastetl_fixed_hms(s + 11, &h, &mi, &sec)))
            return 0;
        if (h > 23 || mi > 59 || sec > 59 || unit_mul > 1000000
                || !fastetl_ymd_days(y, m, d, &days))
            return 0;
        *out = (days * 86400 + h * 3600 + mi * 60 + sec) * unit_mul;
        return 1;
    }
    """
    bint fastetl_fixed_datetime(const char *s, int64_t unit_mul, int64_t *out)
    bint fastetl_ymd_days(int y, int m, int d, int64_t *days)
    bint fastetl_fixed_ymd(const char *p, int *y, int *m, int *d)
    bint fastetl_fixed_hms(const char *p, int *h, int *mi, int *sec)


cdef inline int check_ymd(int64_t y, int64_t m, int64_t d) noexcept nogil:
    if y < 1 or y > 9999 or m < 1 or m > 12 or d < 1:
        return ST_BAD_DATE
    if d > days_in_month(y, <int>m):
        return ST_BAD_DATE
    return ST_OK


cdef inline int parse_iso_date(const char *s, Py_ssize_t n, Py_ssize_t *i, int64_t *days) noexcept nogil:
    """YYYY-MM-DD at s[i], exactly 4-2-2 digits (read at fixed positions)."""
    cdef const char *p = s + i[0]
    cdef unsigned int y0, y1, y2, y3, m0, m1, d0, d1
    cdef int64_t y, m, d
    cdef int st, yy, mm, dd
    if n - i[0] < 10:
        return ST_INVALID
    if fast_paths and fastetl_fixed_ymd(p, &yy, &mm, &dd):    # two word checks
        i[0] += 10
        return ST_OK if fastetl_ymd_days(yy, mm, dd, days) else ST_BAD_DATE
    if p[4] != c'-' or p[7] != c'-':
        return ST_INVALID
    y0 = <unsigned char>p[0] - 48u
    y1 = <unsigned char>p[1] - 48u
    y2 = <unsigned char>p[2] - 48u
    y3 = <unsigned char>p[3] - 48u
    m0 = <unsigned char>p[5] - 48u
    m1 = <unsigned char>p[6] - 48u
    d0 = <unsigned char>p[8] - 48u
    d1 = <unsigned char>p[9] - 48u
    # unsigned: a byte below '0' wraps to a large number, so one test per digit covers both sides
    if (y0 > 9) | (y1 > 9) | (y2 > 9) | (y3 > 9) | (m0 > 9) | (m1 > 9) | (d0 > 9) | (d1 > 9):
        return ST_INVALID
    y = y0 * 1000 + y1 * 100 + y2 * 10 + y3
    m = m0 * 10 + m1
    d = d0 * 10 + d1
    i[0] += 10
    st = check_ymd(y, m, d)
    if st != ST_OK:
        return st
    days[0] = days_from_civil(y, m, d)
    return ST_OK


cdef inline int parse_fraction(const char *s, Py_ssize_t n, Py_ssize_t *i, int keep,
                               int64_t *out) noexcept nogil:
    """1-9 fraction digits at s[i], scaled to ``keep`` digits; finer non-zero digits are an error."""
    cdef int k = 0
    cdef int64_t v = 0
    cdef bint lost = False
    while i[0] < n and is_digit(s[i[0]]):
        if k >= 9:
            return ST_INVALID
        if k < keep:
            v = v * 10 + (s[i[0]] - c'0')
        elif s[i[0]] != c'0':
            lost = True
        k += 1
        i[0] += 1
    if k == 0:
        return ST_INVALID
    while k < keep:
        v *= 10
        k += 1
    if lost:
        return ST_TOO_PRECISE
    out[0] = v
    return ST_OK


cdef inline int parse_offset(const char *s, Py_ssize_t n, Py_ssize_t *i, int64_t *seconds) noexcept nogil:
    """Z, +HH, +HH:MM or +HHMM (or -) at s[i]: seconds east of UTC."""
    cdef int64_t hh, mm = 0
    cdef int sign
    if s[i[0]] == c'Z':
        i[0] += 1
        seconds[0] = 0
        return ST_OK
    if s[i[0]] != c'+' and s[i[0]] != c'-':
        return ST_INVALID
    sign = -1 if s[i[0]] == c'-' else 1
    i[0] += 1
    if digits(s, n, i, 2, 2, &hh) == 0:
        return ST_INVALID
    if i[0] < n:
        if s[i[0]] == c':':
            i[0] += 1
        if digits(s, n, i, 2, 2, &mm) == 0:
            return ST_INVALID
    if hh > 23 or mm > 59:
        return ST_INVALID
    seconds[0] = sign * (hh * 3600 + mm * 60)
    return ST_OK


cdef inline int finish_datetime(int64_t days, int64_t h, int64_t mi, int64_t sec, int64_t frac,
                                int64_t offset, int64_t unit_mul, int64_t *out) noexcept nogil:
    cdef int64_t secs
    if h > 23 or mi > 59 or sec > 59:
        return ST_BAD_DATE
    secs = days * 86400 + h * 3600 + mi * 60 + sec - offset
    # |secs| < 3.2e11 for years 1..9999, so only the unit multiply can overflow, and
    # only in ns (3.2e11 * 1e6 + frac < 2**63 in s, ms, us: no division per value then)
    if unit_mul > 1000000 and (secs > (INT64_MAX - frac) // unit_mul
                               or secs < (INT64_MIN + 1) // unit_mul + 1):
        return ST_RANGE
    out[0] = secs * unit_mul + frac
    return ST_OK


cdef int convert_iso_datetime(const char *s, Py_ssize_t n, int64_t unit_mul, int frac_digits,
                              int64_t *out) noexcept nogil:
    """YYYY-MM-DD[(T| )HH:MM[:SS[.f{1,9}]]][Z|+HH[:MM]|+HHMM]."""
    cdef Py_ssize_t i = 0
    cdef int64_t days, h = 0, mi = 0, sec = 0, frac = 0, offset = 0
    cdef int st
    # YYYY-MM-DD HH:MM:SS (or T), the usual timestamp, in three word checks
    if n == 19 and fast_paths and fastetl_fixed_datetime(s, unit_mul, out):
        return ST_OK
    st = parse_iso_date(s, n, &i, &days)
    if st != ST_OK:
        return st
    if i < n:
        if s[i] != c'T' and s[i] != c' ':
            return ST_INVALID
        i += 1
        if digits(s, n, &i, 2, 2, &h) == 0 or i >= n or s[i] != c':':
            return ST_INVALID
        i += 1
        if digits(s, n, &i, 2, 2, &mi) == 0:
            return ST_INVALID
        if i < n and s[i] == c':':
            i += 1
            if digits(s, n, &i, 2, 2, &sec) == 0:
                return ST_INVALID
            if i < n and s[i] == c'.':
                i += 1
                st = parse_fraction(s, n, &i, frac_digits, &frac)
                if st != ST_OK:
                    return st
        if i < n:
            st = parse_offset(s, n, &i, &offset)
            if st != ST_OK:
                return st
        if i != n:
            return ST_INVALID
    return finish_datetime(days, h, mi, sec, frac, offset, unit_mul, out)


cdef extern from * nogil:
    """
    /* English month and weekday names (strptime's in the C locale), lower case: %B %A
       match a whole name, %b %a its first three letters, in any case. */
    static const char *const fastetl_month_names[12] = {
        "january", "february", "march", "april", "may", "june", "july", "august",
        "september", "october", "november", "december"};
    static const unsigned char fastetl_month_lens[12] = {7, 8, 5, 5, 3, 4, 4, 6, 9, 7, 8, 8};
    static const char *const fastetl_day_names[7] = {
        "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"};
    static const unsigned char fastetl_day_lens[7] = {6, 7, 9, 8, 6, 8, 6};
    """
    const char *const fastetl_month_names[12]
    const unsigned char fastetl_month_lens[12]
    const char *const fastetl_day_names[7]
    const unsigned char fastetl_day_lens[7]


cdef inline int match_name(const char *s, Py_ssize_t n, Py_ssize_t *i, const char *const *names,
                           const unsigned char *lens, int count, bint whole) noexcept nogil:
    """The index of the name (whole, or its first three letters) at s[i], any case; -1."""
    cdef int k
    cdef Py_ssize_t L
    for k in range(count):
        L = lens[k] if whole else 3
        if n - i[0] >= L and eq_nocase(s + i[0], L, names[k], L):
            i[0] += L
            return k
    return -1


cdef int convert_formatted(const char *s, Py_ssize_t n, const char *fmt, int fmt_len,
                           bint want_time, int64_t unit_mul, int frac_digits,
                           int64_t *out) noexcept nogil:
    """Parse by a strptime-like format (%Y %y %m %b %B %d %j %a %A %H %I %p %M %S %f %z and
    literal bytes; the format was checked in Python: schema._check_format)."""
    cdef Py_ssize_t i = 0
    cdef int k = 0
    cdef int64_t y = 0, m = 0, d = 0, h = 0, mi = 0, sec = 0, frac = 0, offset = 0
    cdef int64_t yday = 0            # %j: day of the year, 1-based; 0 when not in the format
    cdef int pm = -1                 # %p: 0 am, 1 pm; -1 when not in the format
    cdef int st
    cdef char c
    while k < fmt_len:
        c = fmt[k]
        if c == c'%' and k + 1 < fmt_len:
            c = fmt[k + 1]
            k += 2
            if c == c'Y':
                if digits(s, n, &i, 4, 4, &y) == 0:
                    return ST_INVALID
            elif c == c'm':
                if digits(s, n, &i, 1, 2, &m) == 0:
                    return ST_INVALID
            elif c == c'd':
                if digits(s, n, &i, 1, 2, &d) == 0:
                    return ST_INVALID
            elif c == c'y':          # as strptime: 69-99 -> 1969-1999, 00-68 -> 2000-2068
                if digits(s, n, &i, 2, 2, &y) == 0:
                    return ST_INVALID
                y += 1900 if y >= 69 else 2000
            elif c == c'b' or c == c'B':
                m = match_name(s, n, &i, fastetl_month_names, fastetl_month_lens, 12,
                               c == c'B') + 1
                if m == 0:
                    return ST_INVALID
            elif c == c'a' or c == c'A':  # read and not used, as strptime does
                if match_name(s, n, &i, fastetl_day_names, fastetl_day_lens, 7, c == c'A') < 0:
                    return ST_INVALID
            elif c == c'j':
                if digits(s, n, &i, 1, 3, &yday) == 0 or yday == 0:
                    return ST_INVALID
            elif c == c'H':
                if digits(s, n, &i, 1, 2, &h) == 0:
                    return ST_INVALID
            elif c == c'I':
                if digits(s, n, &i, 1, 2, &h) == 0 or h < 1 or h > 12:
                    return ST_INVALID
            elif c == c'p':
                if n - i >= 2 and eq_nocase(s + i, 2, b"am", 2):
                    pm = 0
                elif n - i >= 2 and eq_nocase(s + i, 2, b"pm", 2):
                    pm = 1
                else:
                    return ST_INVALID
                i += 2
            elif c == c'M':
                if digits(s, n, &i, 2, 2, &mi) == 0:
                    return ST_INVALID
            elif c == c'S':
                if digits(s, n, &i, 2, 2, &sec) == 0:
                    return ST_INVALID
            elif c == c'f':
                st = parse_fraction(s, n, &i, frac_digits, &frac)
                if st != ST_OK:
                    return st
            elif c == c'z':
                if i >= n:
                    return ST_INVALID
                st = parse_offset(s, n, &i, &offset)
                if st != ST_OK:
                    return st
            else:
                return ST_INVALID
        else:
            if i >= n or s[i] != c:
                return ST_INVALID
            i += 1
            k += 1
    if i != n:
        return ST_INVALID
    if pm >= 0:                      # a 12-hour clock (%I with %p)
        h = (h % 12) + 12 * pm
    if yday:                         # %j: the day of the year (no rolling into the next)
        if y < 1 or y > 9999 or yday > 365 + (days_in_month(y, 2) - 28):
            return ST_BAD_DATE
        if not want_time:
            out[0] = days_from_civil(y, 1, 1) + yday - 1
            return ST_OK
        return finish_datetime(days_from_civil(y, 1, 1) + yday - 1, h, mi, sec, frac, offset,
                               unit_mul, out)
    st = check_ymd(y, m, d)
    if st != ST_OK:
        return st
    if not want_time:
        out[0] = days_from_civil(y, m, d)
        return ST_OK
    return finish_datetime(days_from_civil(y, m, d), h, mi, sec, frac, offset, unit_mul, out)
