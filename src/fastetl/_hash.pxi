# Content hashing (lineage): XXH64 over fixed-size chunks of an input, in nogil C.
# XXH64 is Yann Collet's 64-bit xxHash (BSD-2; the algorithm as its spec,
# doc/xxhash_spec.md, defines it); written out here in portable C (explicit little-
# endian loads, so the digest is the same on every platform).

cdef extern from * nogil:
    """
    #define FASTETL_P1 0x9E3779B185EBCA87ULL
    #define FASTETL_P2 0xC2B2AE3D27D4EB4FULL
    #define FASTETL_P3 0x165667B19E3779F9ULL
    #define FASTETL_P4 0x85EBCA77C2B2AE63ULL
    #define FASTETL_P5 0x27D4EB2F165667C5ULL
    #define FASTETL_ROTL64(x, r) (((x) << (r)) | ((x) >> (64 - (r))))

    static inline unsigned long long fastetl_le64(const unsigned char *p) {
        return (unsigned long long)p[0] | ((unsigned long long)p[1] << 8)
            | ((unsigned long long)p[2] << 16) | ((unsigned long long)p[3] << 24)
            | ((unsigned long long)p[4] << 32) | ((unsigned long long)p[5] << 40)
            | ((unsigned long long)p[6] << 48) | ((unsigned long long)p[7] << 56);
    }
    static inline unsigned long long fastetl_le32(const unsigned char *p) {
        return (unsigned long long)p[0] | ((unsigned long long)p[1] << 8)
            | ((unsigned long long)p[2] << 16) | ((unsigned long long)p[3] << 24);
    }
    static inline unsigned long long fastetl_xxround(unsigned long long acc,
                                                     unsigned long long in) {
        acc += in * FASTETL_P2;
        acc = FASTETL_ROTL64(acc, 31);
        return acc * FASTETL_P1;
    }
    static inline unsigned long long fastetl_xxmerge(unsigned long long acc,
                                                     unsigned long long v) {
        acc ^= fastetl_xxround(0, v);
        return acc * FASTETL_P1 + FASTETL_P4;
    }
    static unsigned long long fastetl_xxh64(const unsigned char *p, size_t len,
                                            unsigned long long seed) {
        const unsigned char *end = p + len;
        unsigned long long h;
        if (len >= 32) {
            const unsigned char *limit = end - 32;
            unsigned long long v1 = seed + FASTETL_P1 + FASTETL_P2;
            unsigned long long v2 = seed + FASTETL_P2;
            unsigned long long v3 = seed;
            unsigned long long v4 = seed - FASTETL_P1;
            do {
                v1 = fastetl_xxround(v1, fastetl_le64(p));
                v2 = fastetl_xxround(v2, fastetl_le64(p + 8));
                v3 = fastetl_xxround(v3, fastetl_le64(p + 16));
                v4 = fastetl_xxround(v4, fastetl_le64(p + 24));
                p += 32;
            } while (p <= limit);
            h = FASTETL_ROTL64(v1, 1) + FASTETL_ROTL64(v2, 7)
                + FASTETL_ROTL64(v3, 12) + FASTETL_ROTL64(v4, 18);
            h = fastetl_xxmerge(h, v1);
            h = fastetl_xxmerge(h, v2);
            h = fastetl_xxmerge(h, v3);
            h = fastetl_xxmerge(h, v4);
        } else {
            h = seed + FASTETL_P5;
        }
        h += (unsigned long long)len;
        while (p + 8 <= end) {
            h ^= fastetl_xxround(0, fastetl_le64(p));
            h = FASTETL_ROTL64(h, 27) * FASTETL_P1 + FASTETL_P4;
            p += 8;
        }
        if (p + 4 <= end) {
            h ^= fastetl_le32(p) * FASTETL_P1;
            h = FASTETL_ROTL64(h, 23) * FASTETL_P2 + FASTETL_P3;
            p += 4;
        }
        while (p < end) {
            h ^= (unsigned long long)(*p) * FASTETL_P5;
            h = FASTETL_ROTL64(h, 11) * FASTETL_P1;
            p++;
        }
        h ^= h >> 33;
        h *= FASTETL_P2;
        h ^= h >> 29;
        h *= FASTETL_P3;
        h ^= h >> 32;
        return h;
    }
    """
    unsigned long long fastetl_xxh64(const unsigned char *p, size_t len,
                                     unsigned long long seed)


def xxh64_chunks(data, Py_ssize_t chunk, unsigned long long seed=0):
    """XXH64 (with ``seed``) of each ``chunk`` bytes of ``data`` (the last piece may be
    shorter; none for empty data), as one bytes object of 8-byte little-endian digests.
    The GIL is released while hashing."""
    cdef Py_buffer src
    cdef Py_ssize_t k, i, n, pieces
    cdef unsigned long long h
    cdef unsigned char *out
    if chunk < 1:
        raise ValueError("chunk must be at least 1 byte")
    PyObject_GetBuffer(data, &src, PyBUF_SIMPLE)
    try:
        n = src.len
        pieces = (n + chunk - 1) // chunk
        digests = bytearray(8 * pieces)
        out = <unsigned char *>(<char *>digests)
        with nogil:
            for k in range(pieces):
                i = k * chunk
                h = fastetl_xxh64(<const unsigned char *>src.buf + i,
                                  <size_t>(chunk if n - i > chunk else n - i), seed)
                for i in range(8):
                    out[8 * k + i] = <unsigned char>((h >> (8 * i)) & 0xFF)
    finally:
        PyBuffer_Release(&src)
    return bytes(digests)
