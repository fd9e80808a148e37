"""Opening inputs: files (memory-mapped), stdin, file objects, bytes, compressed files.

A :class:`Source` hands the pipeline either one buffer holding the whole input
(``buffer``: a memory map or bytes) or a stream of byte chunks (``read``).  It
also records what the sidecar says about the input (path, size, mtime).
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import mmap
import os
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from .errors import FastETLError

BOM_UTF8 = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")

# magic bytes -> opener
_COMPRESSED = (
    (b"\x1f\x8b", "gzip", gzip.open),
    (b"BZh", "bzip2", bz2.open),
    (b"\xfd7zXZ\x00", "xz", lzma.open),
)
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class InputError(FastETLError, OSError):
    """The input cannot be opened or read."""


@dataclass
class Source:
    """One input, opened."""

    name: str  # what messages call it
    path: str | None = None  # absolute path for files
    size: int | None = None  # bytes on disk (compressed size for compressed files)
    mtime: float | None = None
    compression: str | None = None
    buffer: Any = None  # the whole input, when it is one buffer (mmap or bytes)
    stream: IO[bytes] | None = None  # else read from this
    _closers: list[Any] = field(default_factory=list)

    @property
    def is_buffer(self) -> bool:
        return self.buffer is not None

    def read(self, n: int) -> bytes:
        assert self.stream is not None
        try:
            return self.stream.read(n)
        except (OSError, EOFError, lzma.LZMAError) as e:
            raise InputError(f"cannot read {self.name}: {e}") from None

    def facts(self) -> dict[str, Any]:
        d: dict[str, Any] = {"path": self.path or self.name}
        if self.size is not None:
            d["size"] = self.size
        if self.mtime is not None:
            d["mtime"] = self.mtime
        if self.compression:
            d["compression"] = self.compression
        return d

    def close(self) -> None:
        self.buffer = None
        for c in reversed(self._closers):
            try:
                c.close()
            except (OSError, BufferError, ValueError):
                pass
        self._closers.clear()

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _open_compressed(raw: IO[bytes], head: bytes, name: str, src: Source) -> bool:
    for magic, kind, opener in _COMPRESSED:
        if head.startswith(magic):
            src.stream = opener(raw, "rb")
            src.compression = kind
            src._closers.append(src.stream)
            return True
    if head.startswith(_ZSTD_MAGIC):
        try:
            import zstandard  # type: ignore[import-not-found]
        except ImportError:
            raise InputError(
                f"{name} is zstd-compressed; install the 'zstandard' package to read it"
            ) from None
        src.stream = zstandard.ZstdDecompressor().stream_reader(raw)
        src.compression = "zstd"
        src._closers.append(src.stream)
        return True
    return False


def open_source(src: Any) -> Source:
    """Open a path, ``"-"`` (stdin), a binary file object or a bytes-like object."""
    if isinstance(src, (bytes, bytearray, memoryview)):
        return Source(name="<bytes>", buffer=src, size=len(src))
    if src == "-":
        return Source(name="<stdin>", stream=sys.stdin.buffer)
    if hasattr(src, "read"):
        name = getattr(src, "name", "<stream>")
        if isinstance(name, int):
            name = f"<fd {name}>"
        return Source(name=str(name), stream=src)
    if not isinstance(src, (str, os.PathLike)):
        raise TypeError(f"src must be a path, '-', a binary file or bytes, not {type(src).__name__}")
    path = Path(src)
    name = str(src)
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed by Source.close
    except FileNotFoundError:
        raise InputError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{name}: is a directory, not a CSV file") from None
    except OSError as e:
        raise InputError(f"{name}: cannot open ({e.strerror or e})") from None
    out = Source(name=name, path=str(path.resolve()))
    out._closers.append(fh)
    try:
        st = os.fstat(fh.fileno())
        out.size = st.st_size
        out.mtime = st.st_mtime
        regular = stat.S_ISREG(st.st_mode)
        if regular:
            head = fh.read(8)
            fh.seek(0)
            if _open_compressed(fh, head, name, out):
                return out
        if regular and st.st_size > 0:
            mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
            out._closers.append(mm)
            if hasattr(mm, "madvise") and hasattr(mmap, "MADV_SEQUENTIAL"):
                mm.madvise(mmap.MADV_SEQUENTIAL)
            out.buffer = mm
        elif regular:
            out.buffer = b""
        else:  # a pipe, a FIFO, a character device: stream it
            out.stream = fh
    except OSError as e:
        out.close()
        raise InputError(f"{name}: cannot read ({e.strerror or e})") from None
    return out


def check_encoding_prefix(head: bytes, name: str) -> int:
    """Bytes to skip at the start (a UTF-8 BOM); refuse UTF-16 clearly."""
    if head.startswith(BOM_UTF8):
        return len(BOM_UTF8)
    if head[:2] in _UTF16_BOMS:
        raise InputError(
            f"{name} is UTF-16 encoded; convert it to UTF-8 first "
            "(e.g. iconv -f UTF-16 -t UTF-8 in.csv > out.csv)"
        )
    return 0
