# Bridges: fixed-width UTF-8 fields (numpy ``S``: the value, then NUL padding) as
# Arrow string buffers or as Python ``str`` objects, one C loop per column.
#
# Included by _core.pyx.  Used by bridges.py (to_arrow, to_pandas) and table.py.
# A field is read through the buffer protocol with its stride, so a column of a
# structured array (a strided view of the records) is read in place, no copy.

from cpython.buffer cimport PyBUF_FORMAT, PyBUF_STRIDES
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_FromStringAndSize
from cpython.ref cimport Py_INCREF, Py_XDECREF
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.stdint cimport INT32_MAX, int32_t


cdef inline Py_ssize_t unpadded_length(const char *p, Py_ssize_t w) noexcept nogil:
    """Bytes of one numpy ``S`` value: its width less the trailing NULs (numpy's own
    rule: a NUL inside the value stays).  Eight bytes at a time over the padding."""
    while w >= 8 and fastetl_load8(p + w - 8) == 0:
        w -= 8
    while w > 0 and p[w - 1] == 0:
        w -= 1
    return w


cdef int get_fixed_bytes(object raw, Py_buffer *view) except -1:
    """The buffer of a 1-d numpy ``S`` array (any stride), read-only."""
    PyObject_GetBuffer(raw, view, PyBUF_STRIDES | PyBUF_FORMAT)
    fmt = view.format.decode("ascii") if view.format != NULL else "B"
    if view.ndim != 1 or not fmt.endswith("s"):
        PyBuffer_Release(view)
        raise TypeError(f"expected a 1-d array of fixed-width bytes (numpy S), got format {fmt!r}")
    return 0


def utf8_arrow(object raw, object offsets):
    """Arrow string buffers for the numpy ``S`` array ``raw``: fills ``offsets`` (a
    writable int32 or int64 buffer of ``len(raw) + 1`` items) with where each value
    starts and returns ``(data, bad)``: a bytearray of the values back to back, each
    without its NUL padding, and the index of the first value that is not valid UTF-8
    (-1: none).  OverflowError when int32 offsets cannot reach the end of the data."""
    cdef Py_buffer src, off
    cdef Py_ssize_t n, i, w, stride, total = 0, ln, bad = -1
    cdef const char *base
    cdef char *dst
    cdef int32_t *o32 = NULL
    cdef int64_t *o64 = NULL
    cdef bint wide
    get_fixed_bytes(raw, &src)
    try:
        PyObject_GetBuffer(offsets, &off, PyBUF_WRITABLE)
        try:
            n = src.shape[0]
            w = src.itemsize
            stride = src.strides[0]
            base = <const char *>src.buf
            if off.itemsize not in (4, 8) or off.len != (n + 1) * off.itemsize:
                raise ValueError(f"offsets must be {n + 1} int32 or int64 items")
            wide = off.itemsize == 8
            if wide:
                o64 = <int64_t *>off.buf
            else:
                o32 = <int32_t *>off.buf
            with nogil:
                for i in range(n):
                    if wide:
                        o64[i] = total
                    else:
                        o32[i] = <int32_t>total
                    total += unpadded_length(base + i * stride, w)
                    if not wide and total > INT32_MAX:
                        break
            if not wide and total > INT32_MAX:
                raise OverflowError("the values need more than 2**31-1 bytes: use int64 offsets")
            if wide:
                o64[n] = total
            else:
                o32[n] = <int32_t>total
            data = PyByteArray_FromStringAndSize(NULL, total)
            dst = PyByteArray_AS_STRING(data)
            with nogil:
                for i in range(n):
                    if wide:
                        ln = <Py_ssize_t>(o64[i + 1] - o64[i])
                        memcpy(dst + o64[i], base + i * stride, ln)
                        if bad < 0 and not utf8_valid(dst + o64[i], ln):
                            bad = i
                    else:
                        ln = o32[i + 1] - o32[i]
                        memcpy(dst + o32[i], base + i * stride, ln)
                        if bad < 0 and not utf8_valid(dst + o32[i], ln):
                            bad = i
            return data, bad
        finally:
            PyBuffer_Release(&off)
    finally:
        PyBuffer_Release(&src)


def utf8_objects(object raw, object out):
    """Decodes each value of the numpy ``S`` array ``raw`` (UTF-8, NUL padding dropped)
    into ``out``, an object array of the same length; returns the index of the first
    value that is not valid UTF-8 (its slot and those after it are left as they were),
    or -1."""
    cdef Py_buffer src, dst
    cdef Py_ssize_t n, i, w, stride
    cdef const char *base
    cdef const char *p
    cdef PyObject **slots
    cdef object s
    get_fixed_bytes(raw, &src)
    try:
        PyObject_GetBuffer(out, &dst, PyBUF_WRITABLE | PyBUF_FORMAT)
        try:
            n = src.shape[0]
            w = src.itemsize
            stride = src.strides[0]
            base = <const char *>src.buf
            if dst.format == NULL or dst.format[0] != c'O' or dst.len != n * sizeof(PyObject *):
                raise ValueError(f"out must be an object array of {n} items")
            slots = <PyObject **>dst.buf
            for i in range(n):
                p = base + i * stride
                try:
                    s = PyUnicode_DecodeUTF8(p, unpadded_length(p, w), NULL)
                except UnicodeDecodeError:
                    return i
                Py_INCREF(s)
                Py_XDECREF(slots[i])
                slots[i] = <PyObject *>s
            return -1
        finally:
            PyBuffer_Release(&dst)
    finally:
        PyBuffer_Release(&src)


# -- out-of-line text (schema type ``text``): each record holds the (offset, length) of
#    its value in one byte array; the bounds are checked by the caller (bridges.py).
#    A reference is 12 bytes inside a packed record, so its words are rarely aligned:
#    they are read through memcpy (one load at -O2; UBSan reports a plain load).

cdef inline uint64_t ref_u64(const char *p, Py_ssize_t i, Py_ssize_t stride) noexcept nogil:
    """The ``i``-th of the 64-bit words ``stride`` bytes apart from ``p``, aligned or not."""
    cdef uint64_t w
    memcpy(&w, p + i * stride, 8)
    return w


cdef inline uint32_t ref_u32(const char *p, Py_ssize_t i, Py_ssize_t stride) noexcept nogil:
    """The ``i``-th of the 32-bit words ``stride`` bytes apart from ``p``, aligned or not."""
    cdef uint32_t w
    memcpy(&w, p + i * stride, 4)
    return w


cdef Py_ssize_t text_offsets(const char *src, uint64_t size, const char *ops,
                             Py_ssize_t ostride, const char *lns, Py_ssize_t lstride,
                             Py_ssize_t n, int64_t *o64, Py_ssize_t long_len,
                             const unsigned char *is_lead, Py_ssize_t *longs) noexcept nogil:
    """The first pass of the gather: ``o64[i]`` where value ``i`` starts among the values
    back to back (``o64[n]``: their bytes), each reference checked to lie in ``src[:size]``
    (the copy has no bound of its own), and in ``longs`` how many values are ``long_len``
    bytes or more and start with a byte marked in ``is_lead``.  Returns the first
    reference past the end (``o64`` filled up to it), or -1."""
    cdef Py_ssize_t i, total = 0
    cdef uint64_t o
    cdef uint32_t w
    for i in range(n):
        o64[i] = total
        o = ref_u64(ops, i, ostride)
        w = ref_u32(lns, i, lstride)
        if o > size or w > size - o:
            return i
        if w and <Py_ssize_t>w >= long_len and is_lead[<unsigned char>src[o]]:
            longs[0] += 1
        total += w
    o64[n] = total
    return -1


cdef Py_ssize_t text_copy(char *dst, const char *src, const char *ops, Py_ssize_t ostride,
                          Py_ssize_t n, const int64_t *o64, bint check) noexcept nogil:
    """The second pass: each value copied to ``dst + o64[i]``; returns the first value
    that is not valid UTF-8 (``check``), or -1 (all are copied either way)."""
    cdef Py_ssize_t i, ln, bad = -1
    for i in range(n):
        ln = o64[i + 1] - o64[i]
        if ln:
            fastetl_copy(dst + o64[i], src + ref_u64(ops, i, ostride), ln)
            if check and bad < 0 and not utf8_valid(dst + o64[i], ln):
                bad = i
    return bad


def text_arrow(const uint8_t[:] text, const uint64_t[:] offsets, const uint32_t[:] lengths,
               object out, Py_ssize_t long_len=0, bytes lead=b"", bint utf8=True):
    """Arrow large_string buffers of text values: fills ``out`` (a writable int64 buffer
    of ``len(offsets) + 1`` items) with where each value starts and returns ``(data, bad,
    past, longs)``: a bytearray of the values ``text[offsets[i]:offsets[i] + lengths[i]]``
    back to back, the index of the first value that is not valid UTF-8 (-1: none), the
    first reference past the end of ``text`` (-1: none; else ``data`` is None and ``bad``
    -1), and how many values are ``long_len`` bytes or more and start with one of the
    bytes of ``lead`` (the pandas drop-in's count of values that may be long integers;
    0 without ``lead``).  ``utf8=False`` skips the UTF-8 check (``bad`` is -1): for text
    the parser of this very read stored, which it checked.  Two nogil passes
    (:func:`text_offsets`, :func:`text_copy`)."""
    cdef Py_buffer off
    cdef Py_ssize_t n = offsets.shape[0]
    cdef Py_ssize_t i, bad = -1, past = -1, longs = 0
    cdef int64_t *o64
    cdef char *dst
    cdef const char *src = <const char *>&text[0] if text.shape[0] else NULL
    cdef const char *ops
    cdef const char *lns
    cdef Py_ssize_t ostride = offsets.strides[0], lstride = lengths.strides[0]
    cdef const unsigned char *lp = lead
    cdef unsigned char is_lead[256]
    if lengths.shape[0] != n:
        raise ValueError("offsets and lengths differ in length")
    memset(is_lead, 0, 256)
    for i in range(len(lead)):
        is_lead[lp[i]] = 1
    ops = <const char *>&offsets[0] if n else NULL
    lns = <const char *>&lengths[0] if n else NULL
    PyObject_GetBuffer(out, &off, PyBUF_WRITABLE)
    try:
        if off.itemsize != 8 or off.len != (n + 1) * 8:
            raise ValueError(f"out must be {n + 1} int64 items")
        o64 = <int64_t *>off.buf
        with nogil:
            past = text_offsets(src, text.shape[0], ops, ostride, lns, lstride, n, o64,
                                long_len, is_lead, &longs)
        if past >= 0:
            return None, -1, past, longs
        data = PyByteArray_FromStringAndSize(NULL, o64[n])
        dst = PyByteArray_AS_STRING(data)
        with nogil:
            bad = text_copy(dst, src, ops, ostride, n, o64, utf8)
        return data, bad, -1, longs
    finally:
        PyBuffer_Release(&off)


def text_objects(const uint8_t[:] text, const uint64_t[:] offsets, const uint32_t[:] lengths,
                 object out):
    """Decodes each text value ``text[offsets[i]:offsets[i] + lengths[i]]`` into ``out``,
    an object array of the same length; returns the index of the first value that is
    not valid UTF-8 (its slot and those after it are left as they were), or -1."""
    cdef Py_buffer dst
    cdef Py_ssize_t n = offsets.shape[0]
    cdef Py_ssize_t i, ln
    cdef PyObject **slots
    cdef object s
    cdef const char *src = <const char *>&text[0] if text.shape[0] else NULL
    cdef const char *ops
    cdef const char *lns
    cdef Py_ssize_t ostride = offsets.strides[0], lstride = lengths.strides[0]
    if lengths.shape[0] != n:
        raise ValueError("offsets and lengths differ in length")
    ops = <const char *>&offsets[0] if n else NULL
    lns = <const char *>&lengths[0] if n else NULL
    PyObject_GetBuffer(out, &dst, PyBUF_WRITABLE | PyBUF_FORMAT)
    try:
        if dst.format == NULL or dst.format[0] != c'O' or dst.len != n * sizeof(PyObject *):
            raise ValueError(f"out must be an object array of {n} items")
        slots = <PyObject **>dst.buf
        for i in range(n):
            try:
                ln = ref_u32(lns, i, lstride)
                s = PyUnicode_DecodeUTF8(src + ref_u64(ops, i, ostride) if ln else src, ln, NULL)
            except UnicodeDecodeError:
                return i
            Py_INCREF(s)
            Py_XDECREF(slots[i])
            slots[i] = <PyObject *>s
        return -1
    finally:
        PyBuffer_Release(&dst)
