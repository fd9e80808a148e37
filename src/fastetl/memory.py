"""Room for an in-memory result: address space reserved once, pages made ready ahead.

``read_csv`` does not know how many records it will make (stdin, compressed input) or
knows it only roughly (a file: its size).  Growing a numpy array by copying costs a copy
of everything so far and a fresh page fault for every 4 KiB of the new array, on the
thread that commits the rows.  Instead :class:`Reserved` maps anonymous memory once,
larger than the result will be (``MAP_NORESERVE``: address space, no memory is taken
until a page is written), asks for huge pages where the kernel has them
(``MADV_HUGEPAGE``), and a helper thread makes the pages just ahead of the rows written
so far present (``MADV_POPULATE_WRITE``: the kernel faults them in without touching
their content, so it is safe while the rows are written), so the copy into them runs at
memory speed.  The result is a view of the mapping; the mapping is unmapped when the
last view of it is dropped.  Where the OS cannot reserve (Windows, or a reservation
refused), :func:`reserve` returns None and the caller grows an ordinary array.
"""

from __future__ import annotations

import ctypes
import mmap
import platform
import sys
import threading
import weakref
from typing import Any

import numpy as np

# Address space reserved where the size of the result is unknown (stdin, compressed
# input); a result that outgrows it moves once into a reservation 4x larger.
RESERVE_UNKNOWN_BYTES = 16 << 30
# Pages made present ahead of the rows written so far, in steps of PREFAULT_STEP.
PREFAULT_AHEAD_BYTES = 16 << 20
PREFAULT_STEP = 2 << 20
_MADV_POPULATE_WRITE = 23  # Linux >= 5.14; older kernels say EINVAL: no prefaulting
_LINUX = sys.platform.startswith("linux")
# MAP_NORESERVE (not in Python's mmap module before 3.13): 0x4000 on the common Linux ABIs
_NORESERVE = getattr(mmap, "MAP_NORESERVE", 0)
if not _NORESERVE and _LINUX and platform.machine() in ("x86_64", "aarch64", "i686", "i386"):
    _NORESERVE = 0x4000
_PAGE = mmap.PAGESIZE

# Set False to always use the portable path (a growing ordinary array).
ENABLED = sys.platform != "win32" and hasattr(mmap, "MAP_ANONYMOUS")


def _madvise() -> Any:
    """libc's madvise through ctypes (which lets go of the GIL while it runs), or None."""
    if not _LINUX:
        return None
    try:
        # the process's own symbols, libc's among them (glibc, musl): no library search
        # (ctypes.util costs ~4 ms to import and find_library runs ldconfig)
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.madvise
    except (OSError, AttributeError):  # pragma: no cover - every Linux libc has it
        return None
    fn.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
    fn.restype = ctypes.c_int
    return fn


_MADVISE = _madvise()


class Reserved:
    """``nbytes`` of anonymous memory mapped at once; ``array`` views all of it."""

    def __init__(self, mapping: mmap.mmap, dtype: np.dtype) -> None:
        self._map = mapping
        self.nbytes = len(mapping)
        self.array = np.frombuffer(mapping, dtype=dtype, count=self.nbytes // dtype.itemsize)
        self._base = self.array.ctypes.data
        self._used = 0  # bytes written so far (told by the writer)
        self._ready = 0  # bytes from the start made present
        self._end: int | None = None  # where the result is expected to end (see expect)
        self._wake = threading.Condition()
        self._stopped = False
        self._thread: threading.Thread | None = None
        self.prefaulting = _MADVISE is not None

    def used(self, nbytes: int) -> None:
        """The first ``nbytes`` are written, the next ones are being written: keep the
        pages after them ready (PREFAULT_AHEAD_BYTES of them, more or less a step)."""
        self._used = nbytes
        if not self.prefaulting or self._ready - nbytes >= PREFAULT_AHEAD_BYTES // 2:
            return
        if self._thread is None:
            self._thread = threading.Thread(
                target=_prefault, args=(weakref.ref(self),), name="fastetl-prefault", daemon=True
            )
            self._thread.start()
        with self._wake:
            self._wake.notify()

    def expect(self, nbytes: int) -> None:
        """The result is expected to end near ``nbytes``: pages past it are not made
        ready ahead (a step past what is written at most).  Pages made ready and never
        written are zeroed by the kernel for nothing: up to PREFAULT_AHEAD_BYTES of CPU
        time per result, a quarter of the zeroing of a 30 MB one.  A result that
        outgrows the guess still gets its pages, the writer faulting them in itself."""
        self._end = nbytes

    def _next_step(self) -> tuple[int, int] | None:
        """(address, length) of the next pages to make present ((0, 0): none yet, ask
        again); None: stop."""
        with self._wake:
            if self._stopped:
                return None
            # (page boundaries: madvise refuses a range that starts inside a page, and a
            # refusal stopped the prefaulting for good, a third of the way into a 147 MB
            # result: the writer then faulted the rest itself)
            start = max(self._ready, self._used - self._used % _PAGE)
            end = min(self.nbytes, _page_up(self._used + PREFAULT_AHEAD_BYTES))
            if self._end is not None:
                end = min(end, max(_page_up(self._end), _page_up(self._used + PREFAULT_STEP)))
            if start < end:
                end = min(end, start + PREFAULT_STEP)
                self._ready = end
                return self._base + start, end - start
            # (a bounded wait: the thread lets go of the reservation between waits, so
            # a writer dropped without stop(), after an error, is still freed)
            self._wake.wait(0.25)
            return (0, 0)

    def stop(self) -> None:
        """No more pages made ready (waits for the step in progress)."""
        with self._wake:
            self._stopped = True
            self._wake.notify()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def trim(self, nbytes: int) -> None:
        """Give back the pages after the first ``nbytes`` (made ready, never written)."""
        self.stop()
        start = -(-nbytes // _PAGE) * _PAGE
        if start < min(self._ready, self.nbytes) and hasattr(mmap, "MADV_DONTNEED"):
            try:
                self._map.madvise(mmap.MADV_DONTNEED, start, self.nbytes - start)
            except (OSError, ValueError):  # pragma: no cover - a page-aligned range of ours
                pass

    def cut(self, nbytes: int) -> np.ndarray | None:
        """The first ``nbytes`` (whole items) as an array, the mapping cut to them in
        place (``mremap``: the address space after them goes back to the OS; nothing is
        copied, and the pages written are not faulted in again, as a copy's would be:
        ~1 ms per MB on a VM whose freed memory goes back to the host).  None where the
        mapping cannot be cut -- a view of it is still held (the caller drops its own
        first), or no mremap (macOS) --: the caller copies the items out of ``array``."""
        self.stop()
        dtype = self.array.dtype
        keep = _page_up(max(nbytes, 1))
        if keep < self.nbytes:
            resize = getattr(self._map, "resize", None)  # (none without mremap: 3.15+ on macOS)
            if resize is None:
                return None
            self.array = np.empty(0, dtype)  # (the mapping's view, dropped: none may be held)
            try:
                resize(keep)
            except (BufferError, OSError, ValueError, SystemError):  # (SystemError: no mremap)
                self.array = np.frombuffer(self._map, dtype=dtype,
                                           count=self.nbytes // dtype.itemsize)
                return None
            self.nbytes = keep
            self.array = np.frombuffer(self._map, dtype=dtype, count=keep // dtype.itemsize)
            self._base = self.array.ctypes.data
            self._ready = min(self._ready, keep)
        return self.array[: nbytes // dtype.itemsize]


def _page_up(nbytes: int) -> int:
    return -(-nbytes // _PAGE) * _PAGE


def _prefault(ref: weakref.ref[Reserved]) -> None:
    """The helper thread: make pages present just ahead of the rows written."""
    while True:
        mem = ref()
        if mem is None:
            return
        step = mem._next_step()
        if step is None:
            return
        assert _MADVISE is not None
        if step[1] and _MADVISE(step[0], step[1], _MADV_POPULATE_WRITE) != 0:
            mem.prefaulting = False  # an older kernel: the writes fault the pages in
            return
        del mem


def reserve(nbytes: int, dtype: np.dtype) -> Reserved | None:
    """A reservation of ``nbytes`` (rounded up to pages), or None where there is none."""
    if not ENABLED or nbytes <= 0:
        return None
    nbytes = -(-nbytes // _PAGE) * _PAGE
    flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | _NORESERVE
    try:
        mapping = mmap.mmap(-1, nbytes, flags=flags)
    except (OSError, ValueError, OverflowError):  # too big for this address space or policy
        return None
    if hasattr(mmap, "MADV_HUGEPAGE"):
        try:
            mapping.madvise(mmap.MADV_HUGEPAGE)
        except OSError:  # pragma: no cover - a kernel without transparent huge pages
            pass
    return Reserved(mapping, dtype)
