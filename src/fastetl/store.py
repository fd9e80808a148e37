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

import errno
import json
import mmap
import os
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib import format as npy_format

from .errors import OutputError, ParseError
from .schema import Schema

NPY_MAGIC = b"\x93NUMPY"
NPY_ALIGN = 64
SIDECAR_SUFFIX = ".json"
SIDECAR_FORMAT = 1
CHECKPOINT_FORMAT = 1
REJECTS_FORMAT = 1
DEFAULT_WINDOW_BYTES = 32 << 20  # in memory: records parsed per call
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


def sidecar_path(path: str | os.PathLike[str]) -> Path:
    """``orders.npy`` -> ``orders.npy.json``."""
    p = Path(path)
    return p.with_name(p.name + SIDECAR_SUFFIX)


def npy_header(dtype: np.dtype, rows: int, total: int | None = None) -> bytes:
    """A .npy header for a 1-d array; padded with spaces to ``total`` bytes if given."""
    descr = npy_format.dtype_to_descr(dtype)
    body = f"{{'descr': {descr!r}, 'fortran_order': False, 'shape': ({rows},), }}"
    try:
        encoded = body.encode("latin1")
        version = 1
    except UnicodeEncodeError:  # non-Latin-1 field names need format 3.0 (UTF-8)
        encoded = body.encode("utf-8")
        version = 3
    if version == 1 and len(encoded) + 200 > 0xFFFF:
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


def read_npy_header(path: str | os.PathLike[str]) -> tuple[np.dtype, int, int]:
    """(dtype, rows, data offset) of a 1-d .npy file written by anyone."""
    with open(path, "rb") as fh:
        version = npy_format.read_magic(fh)
        if version == (1, 0):
            shape, _, dtype = npy_format.read_array_header_1_0(fh)
        else:
            shape, _, dtype = npy_format.read_array_header_2_0(fh)
        offset = fh.tell()
    if len(shape) != 1:
        raise OutputError(f"{path} holds a {len(shape)}-d array; fastetl writes 1-d record arrays")
    return dtype, shape[0], offset


class ArrayWriter:
    """Records into a growing in-memory numpy array."""

    pipelined = False  # one thread parses straight into the array

    def __init__(self, dtype: np.dtype, capacity: int = 1024) -> None:
        self.dtype = dtype
        self.itemsize = dtype.itemsize
        self.rows = 0
        self._array = np.zeros(max(capacity, 16), dtype=dtype)
        self.window_rows = max(1, min(DEFAULT_WINDOW_BYTES // self.itemsize, max(1024, capacity)))

    def window(self, nrows: int, exact: bool = True) -> memoryview:
        """Writable bytes for ``nrows`` records after the last committed one (fewer, but at
        least one, when not ``exact`` and the array is nearly full: no regrowth for a guess)."""
        free = len(self._array) - self.rows
        if not exact and free > 0:
            nrows = min(nrows, free)
        need = self.rows + nrows
        if need > len(self._array):
            new = np.zeros(max(need, 2 * len(self._array)), dtype=self.dtype)
            new[: self.rows] = self._array[: self.rows]
            self._array = new
        start = self.rows * self.itemsize
        return self._array.view(np.uint8).data[start : start + nrows * self.itemsize]

    def advance(self, nrows: int) -> None:
        self.rows += nrows

    def append(self, records: np.ndarray) -> None:
        """Copy finished records in after the last one."""
        n = len(records)
        np.frombuffer(self.window(n), dtype=self.dtype)[:] = records
        self.rows += n

    def result(self) -> np.ndarray:
        out = self._array[: self.rows]
        if len(self._array) > 2 * self.rows + 1024:  # give back what we over-allocated
            out = out.copy()
        return out


class NpyWriter:
    """Records into ``target`` (.npy) with ``pwrite`` (of parsed blocks, or of a reused
    window), committed atomically."""

    def __init__(
        self,
        target: str | os.PathLike[str],
        dtype: np.dtype,
        window_bytes: int = DEFAULT_STAGE_BYTES,
        *,
        resumable: bool = False,
        resume_rows: int | None = None,
        append: bool = False,
        pipelined: bool = True,
    ) -> None:
        """``resumable`` writes to a fixed temporary name (:func:`partial_path`) that a
        later run can take up again; ``resume_rows`` takes it up, keeping that many
        records; ``append`` starts from a copy of the existing target's records.
        ``pipelined``: records are parsed on a worker thread, even with one worker,
        while the calling thread writes the blocks parsed before (on one CPU, better
        not: then one thread parses into the reused window and writes it)."""
        self.target = Path(target)
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
        folder = self.target.parent if str(self.target.parent) else Path(".")
        if not folder.is_dir():
            raise OutputError(f"cannot write {self.target}: folder {folder} does not exist")
        if sidecar_path(self.target).is_dir():  # found now, not after the .npy is replaced
            raise OutputError(f"cannot write {sidecar_path(self.target)}: it is a directory")
        try:
            if resumable or resume_rows is not None:
                self.tmp_path = partial_path(self.target)
                flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0)
                if resume_rows is None:
                    flags |= os.O_TRUNC
                self._fd = os.open(self.tmp_path, flags, 0o644)
            else:
                fd, tmp = tempfile.mkstemp(
                    dir=folder, prefix=f".{self.target.name}.", suffix=".part"
                )
                self.tmp_path, self._fd = Path(tmp), fd
        except OSError as e:
            raise OutputError(f"cannot write in {folder}: {e.strerror or e}") from None
        try:
            if resume_rows is not None:
                self._take_up(resume_rows)
            elif append:
                self._copy_target()
            else:
                os.write(self._fd, self._header)
        except OSError as e:
            self.abort()
            raise OutputError(f"cannot write {self.tmp_path}: {e.strerror or e}") from None
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
        self._unsynced += len(data)
        if self._unsynced >= SYNC_AHEAD_BYTES:
            self._unsynced = 0
            if self._syncer is None:
                try:
                    self._syncer = _Syncer(self._fd)
                except OSError as e:  # no descriptor left to duplicate
                    raise OutputError(f"cannot write {self.target}: {e.strerror or e}") from None
            self._syncer.request(start + len(data))
            self._check_synced()

    def sync(self) -> None:
        """Make the records written so far durable (for a checkpoint).  Never at the
        same time as a background fsync: an I/O error is reported to one fsync only,
        and must not be taken by one whose caller does not look."""
        assert self._fd is not None
        if self._syncer is None:
            self._fsync_now()
            return
        with self._syncer.lock:
            self._check_synced()
            self._fsync_now()

    def _fsync_now(self) -> None:
        assert self._fd is not None
        try:
            os.fsync(self._fd)
        except OSError as e:
            raise OutputError(f"cannot write {self.tmp_path}: {e.strerror or e}") from None

    def _check_synced(self) -> None:
        """Raise the error of a background sync: the records it covered may be lost."""
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

    def detach(self) -> None:
        """Stop writing but keep the partial file (a later run resumes it)."""
        self._stage = None
        self._close_file()

    # -- ending ----------------------------------------------------------------
    def commit(self, sidecar: dict[str, Any]) -> int:
        """Finish the file and move it (and its sidecar) into place.  Returns bytes written."""
        self._stage = None
        assert self._fd is not None
        size = self.data_offset + self.rows * self.itemsize
        side = sidecar_path(self.target)
        self._stop_syncer()
        try:
            self._check_synced()
        except OutputError:
            self.abort()
            raise
        try:
            os.ftruncate(self._fd, size)
            os.lseek(self._fd, 0, os.SEEK_SET)
            os.write(self._fd, npy_header(self.dtype, self.rows, self.data_offset))
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = None
            sidecar = {
                **sidecar,
                "output": {
                    "path": self.target.name,
                    "bytes": size,
                    "data_offset": self.data_offset,
                },
            }
            fd, tmp = tempfile.mkstemp(
                dir=self.tmp_path.parent, prefix=f".{side.name}.", suffix=".part"
            )
            self._sidecar_tmp = Path(tmp)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(sidecar, fh, indent=2, ensure_ascii=False)
                fh.write("\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(self.tmp_path, self.target)
            os.replace(self._sidecar_tmp, side)
            self._sidecar_tmp = None
            _fsync_dir(self.target.parent)
        except OSError as e:
            self.abort()
            raise OutputError(f"cannot write {self.target}: {e.strerror or e}") from None
        return size

    def abort(self) -> None:
        """Drop the temporary files; the target is left as it was."""
        self._stage = None
        try:
            self._close_file()
        except OSError:  # pragma: no cover
            pass
        finally:  # (even when Ctrl-C interrupts the wait for a background fsync)
            for p in (self.tmp_path, self._sidecar_tmp):
                if p is not None:
                    try:
                        p.unlink()
                    except FileNotFoundError:
                        pass
                    except OSError:  # pragma: no cover - nothing better to do on the error path
                        pass


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


def partial_path(target: str | os.PathLike[str]) -> Path:
    """Where a resumable conversion into ``target`` keeps its unfinished records."""
    p = Path(target)
    return p.with_name(f".{p.name}.fastetl-partial")


def checkpoint_path(target: str | os.PathLike[str]) -> Path:
    """Where a resumable conversion into ``target`` keeps its last checkpoint."""
    p = Path(target)
    return p.with_name(f".{p.name}.fastetl-checkpoint.json")


def write_json_atomic(path: Path, doc: dict[str, Any]) -> None:
    """Replace ``path`` with ``doc`` so that a crash leaves the old or the new file whole."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, indent=1, ensure_ascii=False)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


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
    for p in (checkpoint_path(target), partial_path(target)):
        try:
            p.unlink()
        except FileNotFoundError:
            pass


class RejectsWriter:
    """The dead-letter file of a conversion: bad rows, byte for byte, and why.

    ``path`` gets the input's header line, then each rejected row exactly as it
    was in the input (a line break is added after a last row that had none), so
    the file is itself an input for the same schema: fix it, and convert it again
    (``--append``).  ``path + ".json"`` lists, in the same order, where each row
    was (physical line, data row index, byte offset) and what was wrong (column,
    value, reason).  Both are written to temporary files and moved into place by
    :meth:`commit`, with the output.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        source: str,
        *,
        resumable: bool = False,
        resume: dict[str, int] | None = None,
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
        self._tmp = [partial_path(p) for p in (self.path, self.meta_path)]
        self._files: list[Any] = []
        try:
            if resume is not None:
                for tmp, size in zip(
                    self._tmp, (resume["rows_bytes"], resume["meta_bytes"]), strict=True
                ):
                    fh = open(tmp, "r+b")  # noqa: SIM115 - closed in commit/abort/detach
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
                if not resumable:
                    self._tmp = [
                        Path(tempfile.mkstemp(dir=folder, prefix=f".{p.name}.", suffix=".part")[1])
                        for p in (self.path, self.meta_path)
                    ]
                for tmp in self._tmp:
                    self._files.append(open(tmp, "wb"))  # noqa: SIM115
        except OSError as e:
            self.abort()
            raise OutputError(f"cannot write {self.path}: {e.strerror or e}") from None
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
        rows, meta = self._files
        rows.write(raw if raw.endswith((b"\n", b"\r")) else raw + b"\n")
        entry = {
            "line": error.line,
            "row": error.row,
            "offset": error.offset,
            "row_offset": offset,
            "bytes": len(raw),
            "column": error.column,
            "value": error.value,
            "reason": error.reason,
            "message": str(error),
        }
        sep = b",\n" if self.count else b""
        meta.write(sep + json.dumps(entry, ensure_ascii=False).encode("utf-8"))
        self.count += 1

    def state(self) -> dict[str, int]:
        """Where both files stand, durably (for a checkpoint)."""
        for fh in self._files:
            fh.flush()
            os.fsync(fh.fileno())
        rows, meta = self._files
        return {"rows_bytes": rows.tell(), "meta_bytes": meta.tell(), "count": self.count}

    def commit(self) -> None:
        rows, meta = self._files
        try:
            meta.write(f'\n], "count": {self.count}}}\n'.encode())
            for fh in self._files:
                fh.flush()
                os.fsync(fh.fileno())
                fh.close()
            self._files = []
            os.replace(self._tmp[0], self.path)
            os.replace(self._tmp[1], self.meta_path)
            _fsync_dir(self.path.parent)
        except OSError as e:
            self.abort()
            raise OutputError(f"cannot write {self.path}: {e.strerror or e}") from None

    def detach(self) -> None:
        """Stop writing but keep the partial files (a later run resumes them)."""
        for fh in self._files:
            fh.close()
        self._files = []

    def abort(self) -> None:
        self.detach()
        for p in self._tmp:
            try:
                p.unlink()
            except OSError:
                pass


def _fsync_dir(folder: Path) -> None:
    """Make the renames durable (POSIX only: Windows cannot open folders)."""
    if sys.platform == "win32":
        return
    try:
        fd = os.open(folder if str(folder) else ".", os.O_RDONLY)
    except OSError:  # pragma: no cover
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some filesystems refuse
        pass
    finally:
        os.close(fd)


def read_sidecar(path: str | os.PathLike[str]) -> dict[str, Any]:
    side = sidecar_path(path)
    try:
        meta = json.loads(side.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise OutputError(
            f"{side} is missing: it holds the schema and dictionaries of {path}"
        ) from None
    except (OSError, ValueError) as e:
        raise OutputError(f"cannot read {side}: {e}") from None
    if not isinstance(meta, dict) or meta.get("format") != SIDECAR_FORMAT:
        raise OutputError(f"{side} is not a fastetl sidecar (format {SIDECAR_FORMAT})")
    return meta


def verify_pair(path: str | os.PathLike[str], meta: dict[str, Any]) -> None:
    """Refuse (OutputError) a ``.npy`` whose sidecar ``meta`` describes another file.

    (Being built for issue 14: until then it accepts every pair.)"""
    return None


def sidecar_schema(meta: dict[str, Any]) -> Schema:
    return Schema.from_dict(meta["schema"])
