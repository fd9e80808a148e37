"""The output: ``.npy`` header, windowed writer, sidecar, atomic commit.

An :class:`NpyWriter` writes records into a temporary file beside the target
with ``pwrite``: the blocks that worker threads parsed, in order, while they
parse the next ones (``pipelined``, the default where there is more than one
CPU, even with one worker); else one thread fills one small reused window (a
private buffer that stays in the CPU cache) and writes it.  So memory stays
bounded whatever the output size, and a full disk is an ordinary ``OSError``.
(Writing through a memory map of the file was measured 1.5x slower end to end:
every fresh page of a shared file mapping costs a fault, see
benchmarks/RESULTS.md.)  Every ``SYNC_AHEAD_BYTES`` a background thread fsyncs
what was written so far, so the disk works while the parser does and the final
fsync has little left, and then drops the synced records from the page cache (so
the output does not fill the cache).  Readers memory-map the finished ``.npy``.
:meth:`NpyWriter.commit` fixes the header's row count, syncs, and renames the
file (and its JSON sidecar) into place; until then an existing output is
untouched, and :meth:`NpyWriter.abort` removes every temporary file.  :class:`ArrayWriter` offers the same interface in memory.
"""

from __future__ import annotations

import ast
import contextlib
import errno
import hashlib
import json
import mmap
import os
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib import format as npy_format

from . import memory as _memory
from . import sidecar as _sidecar
from .errors import OutputError, ParseError
from .outset import (
    checkpoint_path,
    commit_set,
    create_temp,
    fsync_dir,
    new_run_id,
    try_recover,
    write_json_atomic,
)
from .schema import Schema, text_fields

__all__ = ["checkpoint_path", "write_json_atomic"]  # re-exported for the callers of store

NPY_MAGIC = b"\x93NUMPY"
NPY_ALIGN = 64
SIDECAR_SUFFIX = ".json"
TEXT_SUFFIX = ".text.npy"
TEXT_DTYPE = np.dtype(np.uint8)
SIDECAR_FORMAT = 1
CHECKPOINT_FORMAT = 1
REJECTS_FORMAT = 1
DEFAULT_WINDOW_BYTES = 32 << 20  # in memory: records parsed per call
SMALL_RESULT_BYTES = 32 << 20  # in memory: a result this small is copied out of its reservation
# On disk: the reused window.  Small enough to stay in the CPU cache between the
# parse that fills it and the write that copies it out (512 KiB measured best of
# 256 KiB .. 32 MiB on the demo orders), large enough that a write call is rare.
DEFAULT_STAGE_BYTES = 512 << 10
# Every this many bytes written, a background thread syncs the file: the disk writes the
# records while the parser makes the next ones, and the fsync at commit finds little left.
SYNC_AHEAD_BYTES = 32 << 20
# Once synced, those records are dropped from the page cache (where the OS has
# posix_fadvise): the output then holds a few dozen MiB of it, not all of it, and each
# write fills pages the kernel just freed, not fresh ones.  On the 2-vCPU VM of
# benchmarks/RESULTS.md (run 9) fresh pages made the copy into the cache up to ~10x dearer.
_DONTNEED = getattr(os, "POSIX_FADV_DONTNEED", None) if hasattr(os, "posix_fadvise") else None
_PAGE = mmap.PAGESIZE
_MAX_ROWS_DIGITS = 20  # room in the header for any row count
# After the records: 32 bytes that tie the .npy to its sidecar (numpy reads the records
# it is told of and ignores what follows them): a magic, the pair id (:func:`pair_id`)
# and the row count.  The sidecar's "pair" holds the same id.
PAIR_MAGIC = b"\x93FETLPR\x01"
PAIR_BYTES = len(PAIR_MAGIC) + 16 + 8
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def sidecar_path(path: str | os.PathLike[str]) -> Path:
    """``orders.npy`` -> ``orders.npy.json``."""
    p = Path(path)
    return p.with_name(p.name + SIDECAR_SUFFIX)


def text_path(path: str | os.PathLike[str]) -> Path:
    """``orders.npy`` -> ``orders.text.npy``: the bytes of its text columns."""
    p = Path(path)
    return p.with_name((p.name[:-4] if p.name.endswith(".npy") else p.name) + TEXT_SUFFIX)


def shift_text(records: np.ndarray, names: tuple[str, ...], base: int) -> None:
    """Move the text offsets of ``records`` (counted from the start of their block's
    text) by ``base``, where that text goes."""
    if base:
        for name in names:
            records[name]["offset"] += np.uint64(base)


def npy_header(dtype: np.dtype, rows: int, total: int | None = None) -> bytes:
    """A .npy header for a 1-d array; padded with spaces to ``total`` bytes if given.

    Format 1.0 while the header fits its 2-byte length, else 2.0 (4 bytes); 3.0 (UTF-8)
    when field names are not Latin-1.  The version does not depend on ``rows``, so the
    header rewritten at commit (any row count) is the one reserved at the start."""
    descr = npy_format.dtype_to_descr(dtype)
    body = f"{{'descr': {descr!r}, 'fortran_order': False, 'shape': ({rows},), }}"
    try:
        encoded = body.encode("latin1")
        version = 1
    except UnicodeEncodeError:  # non-Latin-1 field names need format 3.0 (UTF-8)
        encoded = body.encode("utf-8")
        version = 3
    # the longest this header gets (any row count, any padding) must fit 2 bytes
    longest = len(encoded) - len(str(rows)) + _MAX_ROWS_DIGITS + NPY_ALIGN + 1
    if version == 1 and longest > 0xFFFF:
        version = 2
    prefix_len = len(NPY_MAGIC) + 2 + (2 if version == 1 else 4)
    if total is None:
        pad = -(prefix_len + len(encoded) + 1 + _MAX_ROWS_DIGITS) % NPY_ALIGN + _MAX_ROWS_DIGITS
    else:
        pad = total - prefix_len - len(encoded) - 1
        if pad < 0:  # pragma: no cover - the reserved room always fits
            raise OutputError("internal error: .npy header does not fit its reserved space")
    header = encoded + b" " * pad + b"\n"
    size = len(header).to_bytes(2 if version == 1 else 4, "little")
    return NPY_MAGIC + bytes([version, 0]) + size + header


def read_npy_header(path: str | os.PathLike[str], fh: Any = None) -> tuple[np.dtype, int, int]:
    """(dtype, rows, data offset) of a 1-d .npy file written by anyone (read from the
    open binary file ``fh`` when given, else from ``path``), whatever the size of its
    header: ``numpy.load`` stops at 10,000 bytes unless given ``max_header_size``; this
    reads the header the file says it has.  Anything else is one :class:`OutputError`."""
    if fh is None:
        try:
            with open(path, "rb") as own:
                return read_npy_header(path, own)
        except OutputError:
            raise
        except OSError as e:
            raise OutputError(f"cannot read {path}: {e.strerror or e}") from None
    fh.seek(0)
    size = os.fstat(fh.fileno()).st_size
    prefix = fh.read(len(NPY_MAGIC) + 2)
    if len(prefix) < len(NPY_MAGIC) + 2 or prefix[: len(NPY_MAGIC)] != NPY_MAGIC:
        raise OutputError(f"{path} is not a .npy file")
    version = (prefix[-2], prefix[-1])
    if version not in ((1, 0), (2, 0), (3, 0)):
        raise OutputError(f"{path} is a .npy file of unknown format {version[0]}.{version[1]}")
    nlen = 2 if version == (1, 0) else 4
    length = int.from_bytes(fh.read(nlen), "little")
    offset = len(prefix) + nlen + length
    if offset > size:
        raise OutputError(f"{path} is truncated: its .npy header ends past the file")
    text = fh.read(length)
    try:
        d = ast.literal_eval(text.decode("utf-8" if version == (3, 0) else "latin1"))
        shape = d["shape"]
        dtype = npy_format.descr_to_dtype(d["descr"])
        fortran = d["fortran_order"]
    except (SyntaxError, ValueError, TypeError, KeyError, IndexError, MemoryError, RecursionError):
        raise OutputError(f"{path} has a damaged .npy header") from None
    if (
        not isinstance(shape, tuple)
        or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape)
        or not isinstance(fortran, bool)
    ):
        raise OutputError(f"{path} has a damaged .npy header")
    if len(shape) != 1:
        raise OutputError(f"{path} holds a {len(shape)}-d array; fastetl writes 1-d record arrays")
    return dtype, shape[0], offset


class ArrayWriter:
    """Records into an in-memory numpy array, allocated once.

    With ``reserve_bytes`` (how much the records might take, at most, as far as
    anyone knows) the array is a reservation of address space
    (:mod:`fastetl.memory`) whose pages a helper thread makes ready just ahead of
    the rows written: no growth by copying, no page fault on the thread that
    writes.  Without one, or where the OS has no such reservation, it is an
    ordinary array that doubles when full."""

    pipelined = False  # one thread parses straight into the array

    def __init__(
        self,
        dtype: np.dtype,
        capacity: int = 1024,
        *,
        reserve_bytes: int | None = None,
        reserve_text: int | None = None,
    ) -> None:
        self.dtype = dtype
        self.itemsize = dtype.itemsize
        self.rows = 0
        self._mem = _memory.reserve(reserve_bytes, dtype) if reserve_bytes else None
        if self._mem is not None:
            self._array = self._mem.array
        else:
            self._array = np.zeros(max(capacity, 16), dtype=dtype)
        self.window_rows = max(1, min(DEFAULT_WINDOW_BYTES // self.itemsize, max(1024, capacity)))
        self.text_names = text_fields(dtype)
        self.text_len = 0
        # the text columns' bytes: a reservation too (``reserve_text``: as many bytes as
        # the text might take) where the records have one, else an array that doubles
        self._tmem = None
        if self.text_names and reserve_text and self._mem is not None:
            self._tmem = _memory.reserve(reserve_text, TEXT_DTYPE)
        self._text = self._tmem.array if self._tmem is not None else np.zeros(0, np.uint8)

    @property
    def reserved(self) -> bool:
        """Whether the records go into a reservation (else an ordinary growing array)."""
        return self._mem is not None

    def window(self, nrows: int, exact: bool = True) -> memoryview:
        """Writable bytes for ``nrows`` records after the last committed one (fewer, but at
        least one, when not ``exact`` and the array is nearly full: no regrowth for a guess)."""
        free = len(self._array) - self.rows
        if not exact and free > 0:
            nrows = min(nrows, free)
        need = self.rows + nrows
        if need > len(self._array):
            self._grow(max(need, (4 if self._mem is not None else 2) * len(self._array)))
        start = self.rows * self.itemsize
        if self._mem is not None:  # (from where the rows go now, not from the window's end:
            # a window of 32 MiB made ready 32 MiB too many at the end of the result)
            self._mem.used(start)
        return self._array.view(np.uint8).data[start : start + nrows * self.itemsize]

    def _grow(self, rows: int) -> None:
        """Move the records into room for ``rows`` (the reservation was too small)."""
        mem = _memory.reserve(rows * self.itemsize, self.dtype) if self._mem else None
        new = mem.array if mem is not None else np.zeros(rows, dtype=self.dtype)
        _copy_records(new, self._array[: self.rows])
        if self._mem is not None:
            self._mem.stop()
        self._mem, self._array = mem, new

    def advance(self, nrows: int) -> None:
        self.rows += nrows

    def append(self, records: np.ndarray) -> None:
        """Copy finished records in after the last one."""
        n = len(records)
        _copy_records(np.frombuffer(self.window(n), dtype=self.dtype), records)
        self.rows += n

    def add_text(self, records: np.ndarray, text: bytes) -> None:
        """The text of ``records`` after the text before it (see pipeline.Writer)."""
        at = self.text_len
        self.text_into(len(text))[:] = np.frombuffer(text, np.uint8)
        self.text_placed(records, at, len(text))

    # -- text written in place (pipeline: one copy from the parser, on its thread) ----
    @property
    def text_reserved(self) -> bool:
        """Whether the text is reserved address space, sized for all of it (it moves
        only when that guess was short, after the workers stopped placing): worth
        placing each block's text from the workers (see pipeline)."""
        return self._tmem is not None

    @property
    def text_room(self) -> int:
        """Bytes the text buffer holds without growing (text_view's bound)."""
        return len(self._text)

    def text_view(self, at: int, n: int) -> np.ndarray:
        """The text buffer's bytes ``[at, at + n)``, within :attr:`text_room`: where a
        worker puts a block's text while the committer commits others (never grows)."""
        if at + n > len(self._text):
            raise ValueError(f"text bytes [{at}, {at + n}) past the buffer's {len(self._text)}")
        return self._text[at : at + n]

    def text_into(self, n: int) -> np.ndarray:
        """Room for ``n`` text bytes after the text before it (the buffer grows as
        needed): fill it, then :meth:`text_placed`."""
        end = self.text_len + n
        if end > len(self._text):
            size = max(end, (4 if self._tmem is not None else 2) * len(self._text), 1 << 16)
            mem = _memory.reserve(size, TEXT_DTYPE) if self._tmem is not None else None
            new = mem.array if mem is not None else np.empty(size, np.uint8)
            new[: self.text_len] = self._text[: self.text_len]
            if self._tmem is not None:
                self._tmem.stop()
            self._tmem, self._text = mem, new
        if self._tmem is not None:
            self._tmem.used(self.text_len)
        return self._text[self.text_len : end]

    def text_placed(self, records: np.ndarray, at: int, n: int) -> None:
        """The text of ``records`` is in place at ``[at, at + n)``, right after the text
        before it: their offsets (counted from the start of that text) move to match."""
        if at != self.text_len:
            raise ValueError(f"text placed at {at}, after {self.text_len} bytes of text")
        shift_text(records, self.text_names, at)
        self.text_len = at + n
        if self._tmem is not None:
            self._tmem.used(self.text_len)

    def input_read(self, done: int, total: int) -> None:
        """``done`` of the input's ``total`` bytes are committed: the records and text
        are expected to grow in proportion (and a 16th more), so that no pages are made
        ready past their end (see memory.Reserved.expect).  Guesses from the first 1/64
        of the input are not made."""
        if done <= 0 or done * 64 < total:
            return
        for mem, used in ((self._mem, self.rows * self.itemsize), (self._tmem, self.text_len)):
            if mem is not None:
                end = used * total // done
                mem.expect(end + (end >> 4))

    def close(self) -> None:
        """Stop making pages ready (the writer is not used any more)."""
        if self._mem is not None:
            self._mem.stop()
        if self._tmem is not None:
            self._tmem.stop()

    def result(self) -> np.ndarray:
        array = self._array if self._mem is None else None
        self._array = np.empty(0, self.dtype)  # (the reservation's view, dropped: see _kept)
        self._mem, self._array = _handed(self._mem, array, self.rows)
        return self._array

    def text(self) -> np.ndarray:
        """The bytes of the text columns (what their offsets point into)."""
        text = self._text if self._tmem is None else None
        self._text = np.empty(0, TEXT_DTYPE)  # (as in result)
        self._tmem, self._text = _handed(self._tmem, text, self.text_len)
        return self._text


def _handed(
    mem: _memory.Reserved | None, array: np.ndarray | None, n: int
) -> tuple[_memory.Reserved | None, np.ndarray]:
    """(reservation still behind it, result): the first ``n`` items to hand out, of
    ``mem`` (``array`` None, no view of it held: see :func:`_kept`) or of ``array``.
    A result copied out of the reservation lets it go (None)."""
    out = _kept(mem, array, n)
    return (None if out.base is None else mem), out


def _kept(mem: _memory.Reserved | None, array: np.ndarray | None, n: int) -> np.ndarray:
    """The first ``n`` items of reservation ``mem`` (``array`` None: the caller holds no
    view of it, so that it can be cut), or of ``array``, an ordinary array that grew,
    to hand out: a small result of a large reservation is cut to it
    (:meth:`~fastetl.memory.Reserved.cut`), else copied, as is a small result of a large
    array (no gigabytes of address space, or an over-allocation, kept for as long as the
    result lives); else the pages after the items go back to the OS."""
    if mem is not None:
        used = n * mem.array.dtype.itemsize
        if used <= SMALL_RESULT_BYTES and 4 * used < mem.nbytes:
            out = mem.cut(used)
            return out if out is not None else _copy_records(np.empty(n, mem.array.dtype),
                                                             mem.array[:n])
        mem.trim(used)
        return mem.array[:n]
    assert array is not None
    if len(array) > 2 * n + 1024:
        return _copy_records(np.empty(n, array.dtype), array[:n])
    return array[:n]


def _copy_records(dst: np.ndarray, src: np.ndarray) -> np.ndarray:
    """``src`` into the start of ``dst`` (same dtype), as bytes: numpy copies a structured
    array field by field, ~10x slower than the memcpy this is (measured on the demo
    orders, 273-byte records: 170 ms against 15 ms for 115 MB).  Returns ``dst``."""
    n = len(src) * src.dtype.itemsize
    dst.view(np.uint8)[:n] = np.ascontiguousarray(src).view(np.uint8)
    return dst


class _SyncedAhead:
    """A temporary output file that a background :class:`_Syncer` fsyncs every
    SYNC_AHEAD_BYTES written (its pages then leave the page cache), so the fsync at commit
    finds little left and the file never fills the cache: the records' file, and the
    text columns' file beside it (whose final fsync of every byte was the serial end of
    a free-text conversion, longer than the parse on 2 threads; run 44)."""

    _fd: int | None
    tmp_path: Path | None
    _syncer: _Syncer | None = None
    _unsynced = 0

    def _wrote(self, end: int, nbytes: int, name: Path) -> None:
        """``nbytes`` were written, the file holds all it will ever hold below ``end``."""
        self._unsynced += nbytes
        if self._unsynced < SYNC_AHEAD_BYTES:
            return
        self._unsynced = 0
        if self._syncer is None:
            assert self._fd is not None
            try:
                self._syncer = _Syncer(self._fd)
            except OSError as e:  # no descriptor left to duplicate
                raise OutputError(f"cannot write {name}: {e.strerror or e}") from None
        self._syncer.request(end)
        self._check_synced()

    def _sync_all(self) -> None:
        """fsync what is written so far.  Never at the same time as a background fsync:
        an I/O error is reported to one fsync only, and must not be taken by one whose
        caller does not look."""
        if self._syncer is None:
            self._fsync_now()
            return
        with self._syncer.lock:
            self._check_synced()
            self._fsync_now()

    def _fsync_now(self) -> None:
        assert self._fd is not None
        _fsync(self._fd, self.tmp_path)

    def _check_synced(self) -> None:
        """Raise the error of a background sync: the bytes it covered may be lost."""
        if self._syncer is not None and self._syncer.error is not None:
            e = self._syncer.error
            raise OutputError(f"cannot write {self.tmp_path}: {e.strerror or e}")

    def _stop_syncer(self) -> None:
        """Wait for the background sync to end (before the file is closed)."""
        if self._syncer is not None:
            self._syncer.stop()

    def _close_file(self) -> None:
        """Stop the background sync and close the file; it is closed even when Ctrl-C
        interrupts the wait for a background fsync."""
        try:
            self._stop_syncer()
        finally:
            if self._fd is not None:
                fd, self._fd = self._fd, None
                os.close(fd)


class NpyWriter(_SyncedAhead):
    """Records into ``target`` (.npy) with ``pwrite`` (of parsed blocks, or of a reused
    window), committed atomically."""

    def __init__(
        self,
        target: str | os.PathLike[str],
        dtype: np.dtype,
        window_bytes: int = DEFAULT_STAGE_BYTES,
        *,
        run: str | None = None,
        partial: str | os.PathLike[str] | None = None,
        resume_rows: int | None = None,
        append: bool = False,
        pipelined: bool = True,
        text_partial: str | os.PathLike[str] | None = None,
        text_bytes: int | None = None,
    ) -> None:
        """The records go to a temporary file named for ``target`` and the run ``run``
        (:func:`fastetl.outset.temp_path`), created exclusively; ``partial`` and
        ``resume_rows`` take up instead the temporary file of an interrupted run,
        keeping that many records; ``append`` starts from a copy of the existing
        target's records.  ``pipelined``: records are parsed on a worker thread, even
        with one worker, while the calling thread writes the blocks parsed before (on
        one CPU, better not: then one thread parses into the reused window and writes it).
        Records with ``text`` columns put their bytes in ``OUT.text.npy`` (:func:`text_path`),
        a temporary file of the run too (resumed from ``text_partial``, ``text_bytes`` of it
        kept), committed with the records."""
        self.target = Path(target)
        self.run = run or new_run_id()
        self.pipelined = pipelined
        self.dtype = dtype
        self.itemsize = dtype.itemsize
        self.rows = 0
        self._header = npy_header(dtype, 0)
        self.data_offset = len(self._header)
        self._window_rows = max(1, window_bytes // self.itemsize)
        self._stage: np.ndarray | None = None  # the window, allocated on first use
        self._sidecar_tmp: Path | None = None
        self._fd: int | None = None
        self._syncer: _Syncer | None = None  # started by the first SYNC_AHEAD_BYTES
        self._unsynced = 0
        self.text_names = text_fields(dtype)
        self.textfile: _TextFile | None = None
        folder = self.target.parent if str(self.target.parent) else Path(".")
        if not folder.is_dir():
            raise OutputError(f"cannot write {self.target}: folder {folder} does not exist")
        if sidecar_path(self.target).is_dir():  # found now, not after the .npy is replaced
            raise OutputError(f"cannot write {sidecar_path(self.target)}: it is a directory")
        self.tmp_path: Path | None = None
        try:
            if resume_rows is not None:
                if partial is None:
                    raise ValueError("resume_rows needs the partial file to take up")
                self.tmp_path = Path(partial)
                flags = os.O_RDWR | _O_NOFOLLOW | getattr(os, "O_BINARY", 0)
                self._fd = os.open(self.tmp_path, flags)
            else:
                self.tmp_path, self._fd = create_temp(self.target, self.run)
        except OSError as e:
            raise OutputError(f"cannot write in {folder}: {e.strerror or e}") from None
        try:
            if resume_rows is not None:
                self._take_up(resume_rows)
            elif append:
                self._copy_target()
            else:
                os.write(self._fd, self._header)
            if self.text_names:
                self.textfile = _TextFile(self.target, self.run, append, text_partial, text_bytes)
        except OSError as e:
            self.abort()
            raise OutputError(f"cannot write {self.tmp_path}: {e.strerror or e}") from None
        except KeyboardInterrupt:
            # while taking up an interrupted run's files: they stay, its checkpoint names
            # them (a resume interrupted as it starts may be resumed again)
            if resume_rows is not None:
                self.detach()
            else:
                self.abort()
            raise
        except BaseException:
            self.abort()
            raise

    def _take_up(self, rows: int) -> None:
        """Continue a partial file: check its header, keep its first ``rows`` records."""
        assert self._fd is not None
        os.lseek(self._fd, 0, os.SEEK_SET)
        head = os.read(self._fd, self.data_offset)
        size = os.fstat(self._fd).st_size
        if (
            head[: self.data_offset] != self._header
            or size < self.data_offset + rows * self.itemsize
        ):
            raise OutputError(
                f"the partial output {self.tmp_path} does not match the checkpoint; "
                "convert again without resuming"
            )
        self.rows = rows
        os.ftruncate(self._fd, self.data_offset + rows * self.itemsize)

    def _copy_target(self) -> None:
        """Start from the records of the existing target (to append to them)."""
        assert self._fd is not None
        try:
            dtype, rows, offset = read_npy_header(self.target)
        except (OSError, ValueError) as e:
            raise OutputError(f"cannot append to {self.target}: {e}") from None
        if dtype != self.dtype:
            raise OutputError(
                f"cannot append to {self.target}: its records are {dtype}, "
                f"the schema makes {self.dtype}"
            )
        # the header is rewritten in place at commit: it must have room for the new count
        if len(npy_header(self.dtype, rows)) > offset:  # pragma: no cover - ours always do
            raise OutputError(f"cannot append to {self.target}: its header has no room")
        self.data_offset = offset
        size = offset + rows * self.itemsize
        with open(self.target, "rb") as src:
            if os.fstat(src.fileno()).st_size < size:
                raise OutputError(f"cannot append to {self.target}: the file is truncated")
            done = 0
            while done < size:
                chunk = src.read(min(8 << 20, size - done))
                if not chunk:  # pragma: no cover - checked above
                    raise OutputError(f"cannot append to {self.target}: the file is truncated")
                done += os.write(self._fd, chunk)
        self.rows = rows

    # -- writing ---------------------------------------------------------------
    @property
    def window_rows(self) -> int:
        return self._window_rows

    def window(self, nrows: int, exact: bool = True) -> memoryview:
        """Writable bytes for ``nrows`` records (fewer, but at least one, when not
        ``exact``): the reused window; :meth:`advance` writes what was filled."""
        if not exact:
            nrows = max(1, min(nrows, self._window_rows))
        if self._stage is None or len(self._stage) < nrows:
            self._stage = np.zeros(max(nrows, self._window_rows), dtype=self.dtype)
        return self._stage.view(np.uint8).data[: nrows * self.itemsize]

    def advance(self, nrows: int) -> None:
        """Write the first ``nrows`` records of the window after the last one."""
        if nrows:
            assert self._stage is not None
            self.append(self._stage[:nrows])

    def append(self, records: np.ndarray) -> None:
        """Write finished records after the last one.  (A plain write: the copy runs
        without the GIL, so parsing threads go on meanwhile.)"""
        assert self._fd is not None
        start = self.data_offset + self.rows * self.itemsize
        data = np.ascontiguousarray(records).view(np.uint8).data
        try:
            _write_at(self._fd, data, start)
        except OSError as e:
            raise OutputError(f"cannot write {self.target}: {e.strerror or e}") from None
        self.rows += len(records)
        self._wrote(start + len(data), len(data), self.target)

    def add_text(self, records: np.ndarray, text: bytes) -> None:
        """The text of ``records`` after the text before it (see pipeline.Writer)."""
        assert self.textfile is not None
        shift_text(records, self.text_names, self.textfile.length)
        self.textfile.write(text)

    @property
    def text_len(self) -> int:
        """Bytes of text written so far (0 without text columns)."""
        return self.textfile.length if self.textfile is not None else 0

    def sync(self) -> None:
        """Make the records written so far durable (for a checkpoint).  Never at the
        same time as a background fsync: an I/O error is reported to one fsync only,
        and must not be taken by one whose caller does not look."""
        assert self._fd is not None
        if self.textfile is not None:
            self.textfile.sync()
        self._sync_all()

    def detach(self) -> None:
        """Stop writing but keep the partial file (a later run resumes it)."""
        self._stage = None
        try:
            self._close_file()
        finally:
            if self.textfile is not None:
                self.textfile.close()

    # -- ending ----------------------------------------------------------------
    def finish(self, sidecar: dict[str, Any]) -> tuple[int, list[tuple[Path, Path]]]:
        """Complete the file (its row count, the pair trailer; synced and closed) and
        its sidecar's temporary file.  Returns the file's size (with its text file's)
        and the renames that put the set in place (see :meth:`commit`)."""
        self._stage = None
        assert self._fd is not None and self.tmp_path is not None
        size = self.data_offset + self.rows * self.itemsize
        side = sidecar_path(self.target)
        self._stop_syncer()
        try:
            self._check_synced()
        except OutputError:
            self.abort()
            raise
        sidecar = {
            **sidecar,
            "output": {
                "path": self.target.name,
                "bytes": size + PAIR_BYTES,
                "data_offset": self.data_offset,
            },
        }
        load = _sidecar.numpy_load_options(self.data_offset)
        if load:  # what a plain numpy.load needs for these (very wide) records
            sidecar["numpy_load"] = load
        text = self.textfile
        if text is not None:
            sidecar["text"] = {
                "path": text.target.name,
                "bytes": text.length,
                "data_offset": text.data_offset,
            }
        pair = pair_id(sidecar)
        sidecar["pair"] = {"id": pair.hex()}
        renames = []
        try:
            if text is not None:  # (its trailer ties it to this commit, as the records')
                renames.append(text.finish(pair))
            os.ftruncate(self._fd, size)
            _write_at(self._fd, memoryview(_pair_trailer(pair, self.rows)), size)
            os.lseek(self._fd, 0, os.SEEK_SET)
            os.write(self._fd, npy_header(self.dtype, self.rows, self.data_offset))
            os.fsync(self._fd)
            fd, self._fd = self._fd, None  # (first: an interrupt after the close must not
            os.close(fd)  # close the number again, maybe another thread's file by then)
            self._sidecar_tmp, fd = create_temp(side, self.run)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(sidecar, fh, indent=2, ensure_ascii=False)
                fh.write("\n")
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as e:
            self.abort()
            raise OutputError(f"cannot write {self.target}: {e.strerror or e}") from None
        except BaseException:
            self.abort()
            raise
        renames += [(self.tmp_path, self.target), (self._sidecar_tmp, side)]
        if text is not None:  # (the size of the output: the text file's too)
            size += text.data_offset + text.length + PAIR_BYTES
        return size + PAIR_BYTES, renames

    def commit(self, sidecar: dict[str, Any]) -> int:
        """Finish the file and move it and its sidecar into place together.  Returns
        the file's size."""
        size, renames = self.finish(sidecar)
        try:
            commit_set(self.target, renames)
        finally:
            self.tmp_path = self._sidecar_tmp = None  # committed, or left to the journal
        return size

    def abort(self) -> None:
        """Drop the temporary files; the target is left as it was."""
        self._stage = None
        try:
            self._close_file()
        except OSError:  # pragma: no cover
            pass
        finally:  # (even when Ctrl-C interrupts the wait for a background fsync)
            _remove_quietly(self.tmp_path, self._sidecar_tmp)
            if self.textfile is not None:
                self.textfile.abort()


class _TextFile(_SyncedAhead):
    """The bytes of an output's text columns: ``OUT.text.npy``, a 1-d uint8 ``.npy``
    (``numpy.load`` reads it), written in a temporary file of the run and committed with
    the records; after its bytes, the records' pair trailer (:func:`_pair_trailer`) ties
    it to their commit."""

    def __init__(
        self,
        target: Path,
        run: str,
        append: bool,
        partial: str | os.PathLike[str] | None,
        keep: int | None,
    ) -> None:
        self.target = text_path(target)
        header = npy_header(TEXT_DTYPE, 0)
        self.data_offset = len(header)
        self.length = 0
        self.tmp_path: Path | None = None
        self._fd: int | None = None
        if partial is not None and keep is not None:  # resume: keep the checkpoint's bytes
            self.tmp_path = Path(partial)
            self._fd = os.open(self.tmp_path, os.O_RDWR | _O_NOFOLLOW | getattr(os, "O_BINARY", 0))
            try:
                if os.read(self._fd, self.data_offset) != header or (
                    os.fstat(self._fd).st_size < self.data_offset + keep
                ):
                    raise OutputError(
                        f"the partial output {self.tmp_path} does not match the checkpoint; "
                        "convert again without resuming"
                    )
                self.length = keep
                os.ftruncate(self._fd, self.data_offset + keep)
            except BaseException:  # (the writer has no hold on it yet: closed here; the
                self.close()  # file stays, its checkpoint names it)
                raise
            return
        self.tmp_path, self._fd = create_temp(self.target, run)
        try:
            self._start(target, header, append)
        except BaseException:  # (the writer has no hold on this file yet)
            self.abort()
            raise

    def _start(self, target: Path, header: bytes, append: bool) -> None:
        """A new file's header, or (append) a copy of the existing text file."""
        assert self._fd is not None
        if not append:
            os.write(self._fd, header)
            return
        try:
            dtype, n, offset = read_npy_header(self.target)
        except (OSError, ValueError) as e:
            raise OutputError(f"cannot append to {target}: {e}") from None
        if dtype != TEXT_DTYPE or offset != self.data_offset:
            raise OutputError(f"cannot append to {target}: {self.target} is not its text file")
        with open(self.target, "rb") as src:
            done, size = 0, offset + n
            while done < size:
                chunk = src.read(min(8 << 20, size - done))
                if not chunk:
                    raise OutputError(f"cannot append to {target}: {self.target} is truncated")
                done += os.write(self._fd, chunk)
        self.length = n

    def write(self, data: bytes) -> None:
        assert self._fd is not None
        try:
            _write_at(self._fd, memoryview(data), self.data_offset + self.length)
        except OSError as e:
            raise OutputError(f"cannot write {self.target}: {e.strerror or e}") from None
        self.length += len(data)
        self._wrote(self.data_offset + self.length, len(data), self.target)

    def sync(self) -> None:
        assert self._fd is not None
        self._sync_all()

    def finish(self, pair: bytes) -> tuple[Path, Path]:
        """Its length in the header, the pair trailer, synced and closed: the rename to do."""
        assert self._fd is not None and self.tmp_path is not None
        end = self.data_offset + self.length
        self._stop_syncer()
        self._check_synced()
        os.ftruncate(self._fd, end)
        _write_at(self._fd, memoryview(_pair_trailer(pair, self.length)), end)
        _write_at(self._fd, memoryview(npy_header(TEXT_DTYPE, self.length, self.data_offset)), 0)
        os.fsync(self._fd)
        self.close()
        return self.tmp_path, self.target

    def close(self) -> None:
        self._close_file()

    def abort(self) -> None:
        try:
            self.close()
        except OSError:  # pragma: no cover
            pass
        finally:
            _remove_quietly(self.tmp_path)


class _Syncer:
    """A thread that fsyncs one file each time it is asked (requests while it syncs
    make one more sync, not many), through a duplicate descriptor of its own, which it
    closes when it ends: the writer may close its descriptor at any time.  It keeps
    the first error, since the pages that sync was writing may be lost and a later
    fsync need not report it again.  ``lock`` is held during each of its fsyncs.

    After each sync it drops the synced whole pages from the page cache (see
    ``_DONTNEED``): the bytes below the offset given with the request were written
    before it, so that sync wrote them to disk, and the kernel only drops clean pages.
    ``dropped`` is the offset dropped up to."""

    def __init__(self, fd: int) -> None:
        self.fd = os.dup(fd)
        self.error: OSError | None = None
        self.dropped = 0
        self._upto = 0
        self.lock = threading.Lock()
        self._wanted = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="fastetl-sync", daemon=True)
        try:
            self._thread.start()
        except BaseException:
            os.close(self.fd)
            raise

    def request(self, upto: int) -> None:
        """Sync the file, which holds all it will ever hold below ``upto``."""
        self._upto = upto
        self._wanted.set()

    def stop(self) -> None:
        """End the thread; returns once no fsync of the file is under way (an
        interrupted wait leaves the thread to end, and close its descriptor, alone)."""
        self._stopping = True
        self._wanted.set()
        self._thread.join()

    def _run(self) -> None:
        try:
            while True:
                self._wanted.wait()
                self._wanted.clear()
                if self._stopping:
                    return
                upto = self._upto  # taken before the sync, so it covers these bytes
                with self.lock:
                    try:
                        os.fsync(self.fd)
                    except OSError as e:
                        self.error = e
                        return
                self._drop(upto - upto % _PAGE)
        finally:
            os.close(self.fd)

    def _drop(self, end: int) -> None:
        if _DONTNEED is None or end <= self.dropped:
            return
        try:
            os.posix_fadvise(self.fd, self.dropped, end - self.dropped, _DONTNEED)
        except OSError:  # advice only: a file system that does not take it keeps its pages
            return
        self.dropped = end


def _fsync(fd: int, path: Path | None) -> None:
    """fsync ``fd`` (the temporary file ``path``); a failure is the output's one-line error."""
    try:
        os.fsync(fd)
    except OSError as e:
        raise OutputError(f"cannot write {path}: {e.strerror or e}") from None


def _write_at(fd: int, data: memoryview, offset: int) -> None:
    """All of ``data`` at ``offset`` of the file (short writes continued)."""
    done = 0
    while done < len(data):
        if hasattr(os, "pwrite"):
            n = os.pwrite(fd, data[done:], offset + done)
        else:  # Windows: no pwrite; only the calling thread writes or seeks (fsync does not)
            os.lseek(fd, offset + done, os.SEEK_SET)
            n = os.write(fd, data[done:])
        if n <= 0:  # pragma: no cover - write() returns at least 1 or raises
            raise OSError(errno.EIO, "write returned nothing")
        done += n


PAIR_KEYS = ("schema", "rows", "categories", "flags", "nulls")  # what decoding depends on


def pair_id(sidecar: dict[str, Any]) -> bytes:
    """The id that ties a .npy to its sidecar: a hash of what decoding its records
    depends on (schema, dictionaries, flag names, null conventions, row count, where
    the records start).  A sidecar thus pairs only with records written with what it
    holds; and equal records with equal dictionaries give equal bytes, whatever the
    run, thread count or input file."""
    doc = {k: sidecar.get(k) for k in PAIR_KEYS}
    doc["data_offset"] = sidecar["output"]["data_offset"]
    if "text" in sidecar:  # (only there: the ids of outputs without text stay as they were)
        doc["text"] = sidecar["text"]
    text = json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


def _pair_trailer(pair: bytes, rows: int) -> bytes:
    return PAIR_MAGIC + pair + rows.to_bytes(8, "little")


def _remove_quietly(*paths: Path | None) -> None:
    """Remove what exists of ``paths``; on the error path, so nothing raises."""
    for p in paths:
        if p is not None:
            try:
                p.unlink()
            except OSError:
                pass


def read_checkpoint(target: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The last checkpoint of a conversion into ``target`` (None when there is none)."""
    path = checkpoint_path(target)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise OutputError(f"cannot read the checkpoint {path}: {e}") from None
    if not isinstance(doc, dict) or doc.get("format") != CHECKPOINT_FORMAT:
        raise OutputError(f"{path} is not a fastetl checkpoint (format {CHECKPOINT_FORMAT})")
    return doc


def remove_checkpoint(target: str | os.PathLike[str]) -> None:
    _remove_quietly(checkpoint_path(target))


class RejectsWriter:
    """The dead-letter file of a conversion: bad rows, byte for byte, and why.

    ``path`` gets the input's header line, then each rejected row exactly as it
    was in the input (a line break is added after a last row that had none), so
    the file is itself an input for the same schema: fix it, and convert it again
    (``--append``).  ``path + ".json"`` lists, in the same order, where each row
    was (physical line, data row index, byte offset) and what was wrong (column,
    value, reason).  Both are written to temporary files named for the run ``run``
    (created exclusively; ``resume`` takes up those of an interrupted run, named in
    its checkpoint state) and put in place with the output (:meth:`finish`, then
    :func:`fastetl.outset.commit_set`), or alone by :meth:`commit`.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        source: str,
        *,
        run: str | None = None,
        resume: dict[str, Any] | None = None,
    ) -> None:
        self.path = Path(path)
        self.meta_path = sidecar_path(self.path)
        self.source = source
        self.count = 0
        folder = self.path.parent if str(self.path.parent) else Path(".")
        if not folder.is_dir():
            raise OutputError(f"cannot write {self.path}: folder {folder} does not exist")
        for p in (self.path, self.meta_path):
            if p.is_dir():
                raise OutputError(f"cannot write {p}: it is a directory")
        run = run or new_run_id()
        self._tmp: list[Path] = []
        self._files: list[Any] = []
        try:
            if resume is not None:
                self._tmp = [Path(resume["rows_path"]), Path(resume["meta_path"])]
                for tmp, size in zip(
                    self._tmp, (resume["rows_bytes"], resume["meta_bytes"]), strict=True
                ):
                    fd = os.open(tmp, os.O_RDWR | _O_NOFOLLOW | getattr(os, "O_BINARY", 0))
                    fh = os.fdopen(fd, "r+b")  # closed in commit/abort/detach
                    self._files.append(fh)
                    if os.fstat(fh.fileno()).st_size < size:
                        raise OutputError(
                            f"the partial rejects file {tmp} is shorter than "
                            "its checkpoint; convert again without resuming"
                        )
                    fh.truncate(size)
                    fh.seek(size)
                self.count = resume["count"]
            else:
                for final in (self.path, self.meta_path):
                    tmp, fd = create_temp(final, run)
                    self._tmp.append(tmp)
                    self._files.append(os.fdopen(fd, "wb"))
        except OSError as e:
            self.abort()
            raise OutputError(f"cannot write {self.path}: {e.strerror or e}") from None
        except KeyboardInterrupt:
            if resume is None:
                self.abort()
            else:  # an interrupted run's files, which its checkpoint names: they stay
                with contextlib.suppress(OSError):
                    self._close()
            raise
        except BaseException:
            self.abort()
            raise
        self._started = resume is not None

    def start(self, header: bytes | None) -> None:
        """Begin both files (the input's header line, or none); once per file."""
        if self._started:
            return
        self._started = True
        rows, meta = self._files
        if header:
            rows.write(header if header.endswith((b"\n", b"\r")) else header + b"\n")
        head = {"format": REJECTS_FORMAT, "source": self.source, "header": bool(header)}
        meta.write(json.dumps(head, ensure_ascii=False)[:-1].encode("utf-8") + b', "rejects": [\n')

    def add(self, raw: bytes, error: ParseError, offset: int) -> None:
        """A bad row: its bytes, what is wrong, and its byte offset in the input."""
        self.add_pieces((raw,), error, offset)

    def add_pieces(self, pieces: Any, error: Any, offset: int) -> None:
        """A bad row too long to hold in memory: its bytes come as ``pieces`` (an iterable
        of bytes-like objects, written as they come, never joined).  ``error`` is the
        :class:`ParseError`, or a function giving it once the pieces are all read (what is
        wrong with such a row may show only at its end)."""
        try:
            rows, meta = self._files
            nbytes, last = 0, b""
            for piece in pieces:
                if len(piece):
                    rows.write(piece)
                    nbytes += len(piece)
                    last = bytes(piece[-1:])
            if last not in (b"\n", b"\r"):
                rows.write(b"\n")
            err = error if isinstance(error, ParseError) else error()
            entry = {
                "line": err.line,
                "row": err.row,
                "offset": err.offset,
                "row_offset": offset,
                "bytes": nbytes,
                "column": err.column,
                "value": err.value,
                "reason": err.reason,
                "message": str(err),
            }
            sep = b",\n" if self.count else b""
            meta.write(sep + json.dumps(entry, ensure_ascii=False).encode("utf-8"))
            self.count += 1
        except OSError as e:  # e.g. a full disk: say which file
            raise OutputError(f"cannot write {self.path}: {e.strerror or e}") from None

    def state(self) -> dict[str, Any]:
        """Where both files stand, durably (for a checkpoint)."""
        try:
            for fh in self._files:
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as e:
            raise OutputError(f"cannot write {self.path}: {e.strerror or e}") from None
        rows, meta = self._files
        return {
            "rows_path": str(self._tmp[0]),
            "meta_path": str(self._tmp[1]),
            "rows_bytes": rows.tell(),
            "meta_bytes": meta.tell(),
            "count": self.count,
        }

    def finish(self) -> list[tuple[Path, Path]]:
        """Complete both files (synced and closed); the renames that put them in place."""
        rows, meta = self._files
        try:
            meta.write(f'\n], "count": {self.count}}}\n'.encode())
            for fh in self._files:
                fh.flush()
                os.fsync(fh.fileno())
            self._close()
        except OSError as e:
            self.abort()
            raise OutputError(f"cannot write {self.path}: {e.strerror or e}") from None
        return [(self._tmp[0], self.path), (self._tmp[1], self.meta_path)]

    def commit(self) -> None:
        """Finish and put both files in place (alone: when there is no output to go with)."""
        renames = self.finish()
        try:
            for tmp, final in renames:
                os.replace(tmp, final)
            fsync_dir(self.path.parent)
        except OSError as e:
            self.abort()
            raise OutputError(f"cannot write {self.path}: {e.strerror or e}") from None

    def _close(self) -> None:
        """Close both files; every one is closed even when one fails (the first error
        is raised after)."""
        error: OSError | None = None
        while self._files:  # (each forgotten once closed: a close restarted after Ctrl-C
            try:  # closes the rest; a file object's second close does nothing)
                self._files[0].close()
            except OSError as e:
                error = error or e
            del self._files[0]
        if error is not None:
            raise error

    def detach(self) -> None:
        """Stop writing but keep the partial files (a later run resumes them)."""
        try:
            self._close()
        except OSError as e:
            raise OutputError(f"cannot write {self.path}: {e.strerror or e}") from None

    def abort(self) -> None:
        """Drop the temporary files, whatever fails on the way (a full disk fails the
        flush of a close)."""
        try:
            self._close()
        except OSError:
            pass
        finally:
            _remove_quietly(*self._tmp)


def read_sidecar(path: str | os.PathLike[str], *, records: bool = False) -> dict[str, Any]:
    """The sidecar of ``path``: JSON of a format this fastetl reads (a newer one is
    refused), every key a reader uses checked (:mod:`fastetl.sidecar`); one
    :class:`OutputError` line naming the file and the key otherwise.  ``records``
    also checks it against the ``.npy``'s header and scans the category columns for
    codes the dictionaries lack (reads those columns: for an append, which would give
    such codes new meanings; a Table checks the codes it decodes instead)."""
    side = sidecar_path(path)
    try:
        text = side.read_bytes()
    except FileNotFoundError:
        raise OutputError(
            f"{side} is missing: it holds the schema and dictionaries of {path}"
        ) from None
    except OSError as e:
        raise OutputError(f"cannot read {side}: {e.strerror or e}") from None
    try:
        meta = json.loads(text.decode("utf-8"))
    except (ValueError, RecursionError) as e:  # (UnicodeDecodeError is a ValueError)
        raise OutputError(f"{side} is not valid JSON ({_sidecar._one_line(e)})") from None
    _sidecar.check_format(meta, side, SIDECAR_FORMAT)
    schema = _sidecar.check_keys(meta, side)
    if records:
        try:
            with open(path, "rb") as fh:
                dtype, rows, offset = read_npy_header(path, fh)
                size = os.fstat(fh.fileno()).st_size
                npy = _sidecar.NpyFacts(dtype=dtype, rows=rows, data_offset=offset, size=size)
                _sidecar.check_records(meta, schema, side, npy, Path(path).name)
                if rows:
                    array = np.memmap(fh, dtype=dtype, mode="r", offset=offset, shape=(rows,))
                    _sidecar.check_codes(array, meta, schema, side, Path(path).name)
        except OSError as e:
            if isinstance(e, OutputError):
                raise
            raise OutputError(f"cannot read {path}: {e.strerror or e}") from None
    return meta


class PairError(OutputError):
    """A ``.npy`` and the sidecar beside it were not written by the same commit
    (``edited``: the sidecar was changed after its commit)."""

    edited = False


def _pair_of(fh: Any, path: str | os.PathLike[str]) -> tuple[np.dtype, int, int, str | None]:
    """(dtype, rows, data offset, pair id or None) of the open .npy ``fh``."""
    dtype, rows, offset = read_npy_header(path, fh)
    fh.seek(offset + rows * dtype.itemsize)
    tail = fh.read(PAIR_BYTES)
    ok = len(tail) == PAIR_BYTES and tail.startswith(PAIR_MAGIC)
    ok = ok and int.from_bytes(tail[-8:], "little") == rows
    return dtype, rows, offset, tail[len(PAIR_MAGIC) : -8].hex() if ok else None


def _check_pair(path: str | os.PathLike[str], meta: dict[str, Any], found: str | None) -> None:
    """The id after the records must be the sidecar's, and the sidecar's must be the
    hash of what it says now (so a hand edit of its rows or dictionaries is found too)."""
    pair = meta.get("pair")
    if pair is None:  # written before pairs existed: nothing to compare
        return
    want = pair.get("id") if isinstance(pair, dict) else None
    output = meta.get("output")
    if isinstance(output, dict) and "data_offset" in output and want == found:
        if pair_id(meta).hex() != want:
            e = PairError(
                f"{sidecar_path(path)} was changed after it was written (its schema, "
                "dictionaries, flags, nulls or row count no longer match its records); "
                "convert again to rebuild it"
            )
            e.edited = True
            raise e
        return
    if found != want:
        raise PairError(
            f"{path} was not written with its sidecar {sidecar_path(path).name} "
            "(another run replaced one of them, or a run stopped while committing); "
            "the next conversion into it completes or replaces the set"
        )


def verify_pair(path: str | os.PathLike[str], meta: dict[str, Any]) -> None:
    """Refuse (:class:`PairError`) a ``.npy`` whose sidecar ``meta`` describes another
    file: the sidecar's ``pair`` id must be the one after the records."""
    try:
        with open(path, "rb") as fh:
            found = _pair_of(fh, path)[3]
    except (OSError, ValueError, EOFError) as e:
        raise OutputError(f"cannot read {path}: {e}") from None
    _check_pair(path, meta, found)
    _load_text(path, meta)  # (its text file: the same commit's, or PairError)


def open_records(
    path: str | os.PathLike[str], meta: dict[str, Any], dtype: np.dtype, offset: int
) -> Any:
    """The ``.npy`` at ``path`` open for reading (unbuffered), when it still holds the
    records of the commit ``meta`` describes (same pair id, dtype and data offset);
    else None (replaced since, a sidecar without a pair id, unreadable).  For readers
    that read the records by offset instead of through a memory map."""
    if not isinstance(meta.get("pair"), dict):
        return None
    try:
        fh = open(path, "rb", buffering=0)  # noqa: SIM115 - returned open
    except OSError:
        return None
    try:
        found_dtype, _, found_offset, found = _pair_of(fh, path)
        _check_pair(path, meta, found)
    except (OSError, ValueError, EOFError, PairError):
        fh.close()
        return None
    if found_dtype != dtype or found_offset != offset:
        fh.close()
        return None
    return fh


PAIR_TRIES = 50  # a reader meets a commit between its two renames: look again, for ~1 s


def load_pair(
    path: str | os.PathLike[str],
) -> tuple[dict[str, Any], np.ndarray, np.ndarray | None]:
    """The sidecar and the records of a converted file, from the same commit.

    The records are memory-mapped from the file whose pair id was checked (not
    opened again by name, which a commit may have replaced meanwhile).  A reader
    that meets a commit between its renames tries again, for about a second."""
    for attempt in range(PAIR_TRIES):
        meta = read_sidecar(path)
        fh, dtype, rows, offset, found = _open_npy(path)
        with fh:
            try:
                _check_pair(path, meta, found)
                text = _load_text(path, meta)  # (its trailer: the same commit's, or PairError)
            except PairError as e:
                if e.edited or attempt + 1 == PAIR_TRIES:
                    raise
                if not try_recover(Path(path)):  # a run that died committing: complete it
                    time.sleep(0.02)  # else a commit under way: look again
                continue
            if rows == 0:
                return meta, np.zeros(0, dtype=dtype), text
            end = offset + rows * dtype.itemsize
            if os.fstat(fh.fileno()).st_size < end:
                raise OutputError(f"cannot read {path}: it is shorter than its header says")
            array = np.memmap(fh, dtype=dtype, mode="r", offset=offset, shape=(rows,))
            return meta, array, text
    raise AssertionError("unreachable")  # pragma: no cover


def _open_npy(path: str | os.PathLike[str]) -> tuple[Any, np.dtype, int, int, str | None]:
    """The .npy at ``path`` open for reading, with its dtype, rows, data offset and pair
    id (:func:`_pair_of`); one OutputError when it cannot be read.  The caller closes it
    (a memory map of it keeps its own)."""
    try:
        fh = open(path, "rb")  # noqa: SIM115 - returned open
    except FileNotFoundError:
        raise OutputError(f"{path}: no such file") from None
    except OSError as e:
        raise OutputError(f"cannot read {path}: {e.strerror or e}") from None
    try:
        return (fh, *_pair_of(fh, path))
    except (OSError, ValueError, EOFError) as e:
        fh.close()
        raise OutputError(f"cannot read {path}: {e}") from None


def _load_text(path: str | os.PathLike[str], meta: dict[str, Any]) -> np.ndarray | None:
    """The text bytes of the commit ``meta`` describes (memory-mapped), None when its
    records have no text columns; PairError when the text file is another commit's."""
    info = meta.get("text")
    if info is None:
        if Schema.from_dict(meta["schema"]).text_names:
            raise OutputError(f"{sidecar_path(path)} does not say where the text columns are")
        return None
    tpath = text_path(path)
    fh, dtype, n, offset, found = _open_npy(tpath)
    with fh:
        want = meta.get("pair", {}).get("id")
        if dtype != TEXT_DTYPE or found != want or n != info["bytes"]:
            raise PairError(
                f"{tpath} was not written with {Path(path).name} and its sidecar "
                "(another run replaced it, or a run stopped while committing)"
            )
        if n == 0:
            return np.zeros(0, np.uint8)
        return np.memmap(fh, dtype=TEXT_DTYPE, mode="r", offset=offset, shape=(n,))


def sidecar_schema(meta: dict[str, Any]) -> Schema:
    """The schema of a sidecar :func:`read_sidecar` returned (so already checked)."""
    return Schema.from_dict(meta["schema"])
