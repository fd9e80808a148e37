# Text: UTF-8 validation, fixed-width strings and category dictionaries.
#
# Included by _core.pyx.

cdef extern from * nogil:
    """
    /* Strict UTF-8 (no overlongs, no surrogates, nothing past U+10FFFF).  Eight bytes at a
       time: a word with no high bit is skipped whole; otherwise the step goes straight to
       its first non-ASCII byte and checks that one character.  The last 1 to 7 bytes are
       read as the final (overlapping) word with the bytes already checked shifted out.
       The portable level, and the one for short values on every level. */
    FASTETL_INLINE int fastetl_utf8_valid_portable(const char *s, Py_ssize_t n) {
        const unsigned char *u = (const unsigned char *)s;
        const uint64_t highs = 0x8080808080808080ULL;
        Py_ssize_t i = 0;
        uint64_t w;
        unsigned char c, c1;
        for (;;) {
            if (i + 8 <= n) {
                w = fastetl_load8(s + i) & highs;
                if (w == 0) { i += 8; continue; }
            } else if (n >= 8) {
                if (i >= n) return 1;
                w = (fastetl_load8(s + n - 8) & highs) >> (8 * (i - (n - 8)));
                if (w == 0) return 1;
            } else {
                while (i < n && u[i] < 0x80) i++;
                if (i >= n) return 1;
                w = 0x80;
            }
            i += fastetl_ctz64(w) >> 3;          /* the first byte with its high bit set */
            c = u[i];
            if (c < 0xC2) return 0;              /* continuation byte or overlong lead */
            if (c < 0xE0) {
                if (i + 1 >= n || (u[i + 1] & 0xC0) != 0x80) return 0;
                i += 2;
            } else if (c < 0xF0) {
                if (i + 2 >= n) return 0;
                c1 = u[i + 1];
                if ((c1 & 0xC0) != 0x80 || (u[i + 2] & 0xC0) != 0x80) return 0;
                if (c == 0xE0 && c1 < 0xA0) return 0;     /* overlong */
                if (c == 0xED && c1 >= 0xA0) return 0;    /* UTF-16 surrogate */
                i += 3;
            } else if (c < 0xF5) {
                if (i + 3 >= n) return 0;
                c1 = u[i + 1];
                if ((c1 & 0xC0) != 0x80 || (u[i + 2] & 0xC0) != 0x80
                        || (u[i + 3] & 0xC0) != 0x80) return 0;
                if (c == 0xF0 && c1 < 0x90) return 0;     /* overlong */
                if (c == 0xF4 && c1 >= 0x90) return 0;    /* past U+10FFFF */
                i += 4;
            } else {
                return 0;
            }
        }
    }

    #ifdef FASTETL_HAVE_AVX2
    /* The same answer 32 bytes at a time, branch-free, for n >= 32 (Keiser and Lemire,
       "Validating UTF-8 in less than one instruction per byte", 2021: the lookup
       algorithm of simdjson).  Three 16-entry tables, indexed by the high and low nibble
       of each byte's predecessor and the high nibble of the byte, give a bit per kind of
       error that pair can make; AND-ed, a bit left is an error.  Whether a byte must be
       the 2nd or 3rd continuation of a 3- or 4-byte lead (two and three bytes back) is
       checked apart, and the last three bytes must not start a character the value cuts.
       The predecessors are loaded from the value (zeros before its start, in the first
       chunk); the last chunk is the value's last 32 bytes, overlapping the one before
       (a byte checked twice gives the same answer): no read outside [s, s + n). */
    FASTETL_TARGET("avx2")
    static int fastetl_utf8_valid_avx2(const char *s, Py_ssize_t n) {
        /* error bits: 1 too short, 2 too long, 4 overlong 3, 8 too large, 16 surrogate,
           32 overlong 2, 64 too large 1000 / overlong 4, 128 two continuations */
        const __m256i byte1_high = _mm256_setr_epi8(
            2, 2, 2, 2, 2, 2, 2, 2, (char)0x80, (char)0x80, (char)0x80, (char)0x80,
            0x21, 0x01, 0x15, 0x49,
            2, 2, 2, 2, 2, 2, 2, 2, (char)0x80, (char)0x80, (char)0x80, (char)0x80,
            0x21, 0x01, 0x15, 0x49);
        const __m256i byte1_low = _mm256_setr_epi8(
            (char)0xE7, (char)0xA3, (char)0x83, (char)0x83, (char)0x8B, (char)0xCB,
            (char)0xCB, (char)0xCB, (char)0xCB, (char)0xCB, (char)0xCB, (char)0xCB,
            (char)0xCB, (char)0xDB, (char)0xCB, (char)0xCB,
            (char)0xE7, (char)0xA3, (char)0x83, (char)0x83, (char)0x8B, (char)0xCB,
            (char)0xCB, (char)0xCB, (char)0xCB, (char)0xCB, (char)0xCB, (char)0xCB,
            (char)0xCB, (char)0xDB, (char)0xCB, (char)0xCB);
        const __m256i byte2_high = _mm256_setr_epi8(
            1, 1, 1, 1, 1, 1, 1, 1, (char)0xE6, (char)0xAE, (char)0xBA, (char)0xBA,
            1, 1, 1, 1,
            1, 1, 1, 1, 1, 1, 1, 1, (char)0xE6, (char)0xAE, (char)0xBA, (char)0xBA,
            1, 1, 1, 1);
        /* above these, one of the last three bytes starts a character cut by the end */
        const __m256i last_max = _mm256_setr_epi8(
            -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
            -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
            (char)(0xF0 - 1), (char)(0xE0 - 1), (char)(0xC0 - 1));
        const __m256i nibble = _mm256_set1_epi8(0x0F);
        const __m256i third = _mm256_set1_epi8(0xE0 - 0x80);   /* >= 0x80 from 0xE0 up */
        const __m256i fourth = _mm256_set1_epi8(0xF0 - 0x80);  /* >= 0x80 from 0xF0 up */
        const __m256i high = _mm256_set1_epi8((char)0x80);
        __m256i in = _mm256_loadu_si256((const __m256i *)s), err;
        /* the first chunk's predecessors: [0, in[0:31]] shifted in lane by lane */
        __m256i before = _mm256_permute2x128_si256(in, in, 0x08);   /* [0, in.lo] */
        __m256i p1 = _mm256_alignr_epi8(in, before, 15);
        __m256i p2 = _mm256_alignr_epi8(in, before, 14);
        __m256i p3 = _mm256_alignr_epi8(in, before, 13);
        Py_ssize_t i = 0;
        err = _mm256_setzero_si256();
        for (;;) {
            __m256i sc = _mm256_and_si256(_mm256_and_si256(
                _mm256_shuffle_epi8(byte1_high,
                    _mm256_and_si256(_mm256_srli_epi16(p1, 4), nibble)),
                _mm256_shuffle_epi8(byte1_low, _mm256_and_si256(p1, nibble))),
                _mm256_shuffle_epi8(byte2_high,
                    _mm256_and_si256(_mm256_srli_epi16(in, 4), nibble)));
            __m256i must23 = _mm256_and_si256(_mm256_or_si256(
                _mm256_subs_epu8(p2, third), _mm256_subs_epu8(p3, fourth)), high);
            err = _mm256_or_si256(err, _mm256_xor_si256(must23, sc));
            if (i + 32 >= n)
                break;
            i = (i + 64 <= n) ? i + 32 : n - 32;   /* the last chunk ends where s does */
            in = _mm256_loadu_si256((const __m256i *)(s + i));
            p1 = _mm256_loadu_si256((const __m256i *)(s + i - 1));
            p2 = _mm256_loadu_si256((const __m256i *)(s + i - 2));
            p3 = _mm256_loadu_si256((const __m256i *)(s + i - 3));
        }
        err = _mm256_or_si256(err, _mm256_subs_epu8(in, last_max));
        return _mm256_testz_si256(err, err);
    }
    #endif

    /* Values of FASTETL_UTF8_SIMD_MIN bytes and more on the vector level the scan uses
       (set_scan_path; the tests force each), shorter ones word by word. */
    #define FASTETL_UTF8_SIMD_MIN 40
    FASTETL_INLINE int fastetl_utf8_valid(const char *s, Py_ssize_t n) {
    #ifdef FASTETL_HAVE_AVX2
        if (n >= FASTETL_UTF8_SIMD_MIN && fastetl_scan->avx2)
            return fastetl_utf8_valid_avx2(s, n);
    #endif
        return fastetl_utf8_valid_portable(s, n);
    }
    """
    bint utf8_valid "fastetl_utf8_valid"(const char *s, Py_ssize_t n)
    bint utf8_valid_portable "fastetl_utf8_valid_portable"(const char *s, Py_ssize_t n)


def _utf8_valid(const unsigned char[::1] data not None, bint portable=False):
    """Whether ``data`` is strict UTF-8, as the core checks str and text values (on the
    scan path in use; ``portable``: word by word): what the tests compare with
    ``bytes.decode``."""
    cdef Py_ssize_t n = data.shape[0]
    cdef const char *p = <const char *>&data[0] if n else <const char *>""
    return bool(utf8_valid_portable(p, n) if portable else utf8_valid(p, n))


cdef inline int convert_str(const char *s, Py_ssize_t n, Py_ssize_t width, bint truncate,
                            char *dst) noexcept nogil:
    if not utf8_valid(s, n):
        return ST_BAD_UTF8
    if n > width:
        if not truncate:
            return ST_TOO_LONG
        n = width
        while n > 0 and (<unsigned char>s[n] & 0xC0) == 0x80:
            n -= 1                            # never cut a character in half
    fastetl_copy(dst, s, n)                   # the record was zeroed: the rest is padding
    return ST_OK


# -- category dictionaries ----------------------------------------------------
# Open addressing with linear probing.  Entries are numbered in order of first
# appearance; their bytes live in one arena.  Because probing is linear, removing
# the most recent entries in reverse order restores the exact earlier table, which
# is how a row that fails (or is cut by the block end) takes its new values back.

# (struct CatDict is declared in _core.pxd)


cdef extern from * nogil:
    """
    /* A word-at-a-time hash for category values: 8 bytes per multiply; the last word
       (or, below 8 bytes, two overlapping 4-byte halves, or 3 sampled bytes) read
       inside [s, s + n) only; the length is mixed in so a prefix differs. */
    static inline uint64_t fastetl_hash(const char *s, Py_ssize_t n) {
        const uint64_t k1 = 0x9E3779B97F4A7C15ULL, k2 = 0xC2B2AE3D27D4EB4FULL;
        uint64_t h = (uint64_t)n * k2, v;
        uint32_t a, b;
        Py_ssize_t i = 0;
        const unsigned char *u = (const unsigned char *)s;
        if (n >= 8) {
            for (; n - i > 8; i += 8) {
                h = (h ^ fastetl_load8(s + i)) * k1;
                h ^= h >> 29;
            }
            v = fastetl_load8(s + n - 8);
        } else if (n >= 4) {
            memcpy(&a, s, 4);
            memcpy(&b, s + n - 4, 4);
            v = (uint64_t)a | (uint64_t)b << 32;
        } else if (n > 0) {
            v = (uint64_t)u[0] | (uint64_t)u[n >> 1] << 8 | (uint64_t)u[n - 1] << 16;
        } else {
            v = 0;
        }
        h = (h ^ v) * k1;
        h ^= h >> 32;
        h *= k2;
        h ^= h >> 29;
        return h;
    }
    """
    uint64_t fastetl_hash(const char *s, Py_ssize_t n)


cdef inline uint64_t hash_bytes(const char *s, Py_ssize_t n) noexcept nogil:
    """Slot hash of a category value (codes do not depend on it: they follow first appearance)."""
    return fastetl_hash(s, n)


cdef CatDict *catdict_new(Py_ssize_t limit, bint frozen) noexcept nogil:
    cdef CatDict *d = <CatDict *>calloc(1, sizeof(CatDict))
    if d == NULL:
        return NULL
    d.nslots = 64
    d.slots = <uint32_t *>calloc(<size_t>d.nslots, sizeof(uint32_t))
    d.limit = limit
    d.frozen = frozen
    if d.slots == NULL:
        free(d)
        return NULL
    return d


cdef void catdict_free(CatDict *d) noexcept nogil:
    if d == NULL:
        return
    free(d.slots)
    free(d.offsets)
    free(d.lengths)
    free(d.hashes)
    free(d.arena)
    free(d)


cdef inline Py_ssize_t catdict_find(CatDict *d, const char *s, Py_ssize_t n, uint64_t h,
                                    Py_ssize_t *slot) noexcept nogil:
    """Entry index of s, or -1 with *slot set to the empty slot where it would go."""
    cdef Py_ssize_t mask = d.nslots - 1
    cdef Py_ssize_t i = <Py_ssize_t>(h & <uint64_t>mask)
    cdef uint32_t e
    while True:
        e = d.slots[i]
        if e == 0:
            slot[0] = i
            return -1
        e -= 1
        if (d.hashes[e] == h and d.lengths[e] == <uint32_t>n
                and (n == 0 or fastetl_same(d.arena + d.offsets[e], s, n))):
            return e
        i = (i + 1) & mask


cdef int catdict_grow_slots(CatDict *d) noexcept nogil:
    cdef Py_ssize_t nslots = d.nslots * 2
    cdef uint32_t *slots = <uint32_t *>calloc(<size_t>nslots, sizeof(uint32_t))
    cdef Py_ssize_t e, i
    if slots == NULL:
        return -1
    for e in range(d.count):
        i = <Py_ssize_t>(d.hashes[e] & <uint64_t>(nslots - 1))
        while slots[i] != 0:
            i = (i + 1) & (nslots - 1)
        slots[i] = <uint32_t>(e + 1)
    free(d.slots)
    d.slots = slots
    d.nslots = nslots
    return 0


cdef int catdict_reserve(CatDict *d, Py_ssize_t n) noexcept nogil:
    """Room for one more entry of n bytes."""
    cdef Py_ssize_t cap
    cdef void *p
    if d.count >= d.capacity:
        cap = d.capacity * 2 if d.capacity else 16
        p = realloc(d.offsets, <size_t>cap * sizeof(Py_ssize_t))
        if p == NULL:
            return -1
        d.offsets = <Py_ssize_t *>p
        p = realloc(d.lengths, <size_t>cap * sizeof(uint32_t))
        if p == NULL:
            return -1
        d.lengths = <uint32_t *>p
        p = realloc(d.hashes, <size_t>cap * sizeof(uint64_t))
        if p == NULL:
            return -1
        d.hashes = <uint64_t *>p
        d.capacity = cap
    if d.arena_len + n > d.arena_cap:
        cap = d.arena_cap * 2 if d.arena_cap else 1024
        while cap < d.arena_len + n:
            cap *= 2
        p = realloc(d.arena, <size_t>cap)
        if p == NULL:
            return -1
        d.arena = <char *>p
        d.arena_cap = cap
    if (d.count + 1) * 2 > d.nslots:
        return catdict_grow_slots(d)
    return 0


cdef Py_ssize_t catdict_add(CatDict *d, const char *s, Py_ssize_t n, uint64_t h) noexcept nogil:
    """Append a value known to be absent (h is its hash); its index, or -1 when out of memory."""
    cdef Py_ssize_t slot = 0
    cdef Py_ssize_t e
    if catdict_reserve(d, n) != 0:
        return -1
    catdict_find(d, s, n, h, &slot)        # the table may have grown: find the slot again
    e = d.count
    d.offsets[e] = d.arena_len
    d.lengths[e] = <uint32_t>n
    d.hashes[e] = h
    if n > 0:                              # the arena is still NULL before the first byte
        memcpy(d.arena + d.arena_len, s, <size_t>n)
    d.arena_len += n
    d.slots[slot] = <uint32_t>(e + 1)
    d.count += 1
    return e


cdef void catdict_pop(CatDict *d) noexcept nogil:
    """Remove the newest entry (only ever in reverse order of insertion)."""
    cdef Py_ssize_t e = d.count - 1
    cdef Py_ssize_t mask = d.nslots - 1
    cdef Py_ssize_t slot = <Py_ssize_t>(d.hashes[e] & <uint64_t>mask)
    while d.slots[slot] != <uint32_t>(e + 1):   # its slot is where a lookup of it stops
        slot = (slot + 1) & mask
    d.slots[slot] = 0
    d.arena_len = d.offsets[e]
    d.count = e


cdef inline int convert_category(CatDict *d, const char *s, Py_ssize_t n, int size,
                                 char *dst, bint *added) noexcept nogil:
    cdef uint64_t h = hash_bytes(s, n)
    cdef Py_ssize_t slot
    cdef Py_ssize_t e = catdict_find(d, s, n, h, &slot)
    cdef uint32_t code
    added[0] = False
    if e < 0:
        if d.frozen:
            return ST_NOT_IN_CATEGORY
        if d.count >= d.limit:
            return ST_CATEGORY_FULL
        if not utf8_valid(s, n):
            return ST_BAD_UTF8
        e = catdict_add(d, s, n, h)
        if e < 0:
            return ST_NO_MEMORY
        added[0] = True
    code = <uint32_t>e
    fastetl_store_le(dst, code, size)
    return ST_OK
