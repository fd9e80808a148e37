"""The output: ``.npy`` header, windowed memory-mapped writer, sidecar, atomic commit.

An :class:`NpyWriter` writes records into a temporary file beside the target,
through a memory map of only the window being filled, so memory stays bounded
whatever the output size.  :meth:`NpyWriter.commit` fixes the header's row
count, syncs, and renames the file (and its JSON sidecar) into place; until
then an existing output is untouched, and :meth:`NpyWriter.abort` removes every
temporary file.  :class:`ArrayWriter` offers the same interface in memory.
"""

from __future__ import annotations

import errno
import json
import mmap
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib import format as npy_format

from .errors import OutputError
from .schema import Schema

NPY_MAGIC = b"\x93NUMPY"
NPY_ALIGN = 64
SIDECAR_SUFFIX = ".json"
SIDECAR_FORMAT = 1
DEFAULT_WINDOW_BYTES = 32 << 20
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

    def result(self) -> np.ndarray:
        out = self._array[: self.rows]
        if len(self._array) > 2 * self.rows + 1024:  # give back what we over-allocated
            out = out.copy()
        return out


class NpyWriter:
    """Records into ``target`` (.npy) through windowed memory maps, committed atomically."""

    def __init__(
        self,
        target: str | os.PathLike[str],
        dtype: np.dtype,
        window_bytes: int = DEFAULT_WINDOW_BYTES,
    ) -> None:
        self.target = Path(target)
        self.dtype = dtype
        self.itemsize = dtype.itemsize
        self.rows = 0
        self._header = npy_header(dtype, 0)
        self.data_offset = len(self._header)
        self._window_rows = max(1, window_bytes // self.itemsize)
        self._mm: mmap.mmap | None = None
        self._view: memoryview | None = None
        self._size = self.data_offset
        folder = self.target.parent if str(self.target.parent) else Path(".")
        if not folder.is_dir():
            raise OutputError(f"cannot write {self.target}: folder {folder} does not exist")
        if sidecar_path(self.target).is_dir():  # found now, not after the .npy is replaced
            raise OutputError(f"cannot write {sidecar_path(self.target)}: it is a directory")
        try:
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{self.target.name}.", suffix=".part")
        except OSError as e:
            raise OutputError(f"cannot write in {folder}: {e.strerror or e}") from None
        self.tmp_path = Path(tmp)
        self._fd: int | None = fd
        self._sidecar_tmp: Path | None = None
        try:
            os.write(fd, self._header)
        except OSError as e:
            self.abort()
            raise OutputError(f"cannot write {self.tmp_path}: {e.strerror or e}") from None

    # -- writing ---------------------------------------------------------------
    @property
    def window_rows(self) -> int:
        return self._window_rows

    def window(self, nrows: int, exact: bool = True) -> memoryview:
        """Writable bytes for ``nrows`` records after the last committed one."""
        self._unmap()
        assert self._fd is not None
        start = self.data_offset + self.rows * self.itemsize
        end = start + nrows * self.itemsize
        try:
            if end > self._size:
                _reserve(self._fd, self._size, end)
                self._size = end
            base = start - start % mmap.ALLOCATIONGRANULARITY
            self._mm = mmap.mmap(self._fd, end - base, access=mmap.ACCESS_WRITE, offset=base)
        except OSError as e:
            raise OutputError(f"cannot write {self.target}: {e.strerror or e}") from None
        self._view = memoryview(self._mm)[start - base : end - base]
        return self._view

    def advance(self, nrows: int) -> None:
        self.rows += nrows

    def _unmap(self) -> None:
        if self._view is not None:
            self._view.release()
            self._view = None
        if self._mm is not None:
            if sys.platform == "win32":
                self._mm.flush()
            self._mm.close()
            self._mm = None

    # -- ending ----------------------------------------------------------------
    def commit(self, sidecar: dict[str, Any]) -> int:
        """Finish the file and move it (and its sidecar) into place.  Returns bytes written."""
        self._unmap()
        assert self._fd is not None
        size = self.data_offset + self.rows * self.itemsize
        side = sidecar_path(self.target)
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
        try:
            self._unmap()
        except (OSError, BufferError):  # pragma: no cover - best effort on the error path
            pass
        if self._fd is not None:
            try:
                os.close(self._fd)
            except OSError:  # pragma: no cover
                pass
            self._fd = None
        for p in (self.tmp_path, self._sidecar_tmp):
            if p is not None:
                try:
                    p.unlink()
                except FileNotFoundError:
                    pass
                except OSError:  # pragma: no cover - nothing better to do on the error path
                    pass


_ZEROS = bytes(1 << 20)


def _reserve(fd: int, size: int, end: int) -> None:
    """Grow the file from ``size`` to ``end`` bytes with its blocks allocated.

    The records are written through a memory map, and a store into a page of a
    sparse file that the filesystem cannot back (full disk, quota) is not an
    error the program can catch: the process dies of SIGBUS.  So the space is
    claimed here, where a full disk is an ordinary ``OSError`` (ENOSPC, EDQUOT,
    EFBIG).  Linux and the BSDs: ``posix_fallocate`` (cheap: the filesystem marks
    extents, nothing is written).  Where it is missing (macOS) or the filesystem
    refuses it, zeros are written instead.  Windows: ``SetEndOfFile`` (what
    ``ftruncate`` does there) already allocates a non-sparse file's clusters.
    """
    if sys.platform == "win32":
        os.ftruncate(fd, end)
        return
    fallocate = getattr(os, "posix_fallocate", None)
    if fallocate is not None:
        try:
            fallocate(fd, size, end - size)
            return
        except OSError as e:
            # No support on this filesystem (some musl/ZFS/NFS setups): write zeros.
            if e.errno not in (errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
                raise
    pos = size
    while pos < end:
        pos += os.pwrite(fd, _ZEROS[: min(len(_ZEROS), end - pos)], pos)


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


def sidecar_schema(meta: dict[str, Any]) -> Schema:
    return Schema.from_dict(meta["schema"])
