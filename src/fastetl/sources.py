"""Opening inputs: files, stdin, file objects, bytes, compressed files.

A :class:`Source` hands the pipeline either one buffer holding the whole input
(``buffer``: bytes, or a file's snapshot read by position) or a stream of byte
chunks (``read``/``readinto``).  It also records what the sidecar says about the
input (path, size, mtime).

A regular file is read as a snapshot: its first ``size`` bytes, the size seen at
open, read with ``readinto`` rather than memory-mapped (a map of a file that
shrinks kills the process with SIGBUS).  A file that shrinks while it is read is
an :class:`InputError`; one that grows is read to its size at open (see
:meth:`Source.grown`).
"""

from __future__ import annotations

import bz2
import codecs
import gzip
import hashlib
import lzma
import os
import stat
import sys
import threading
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


FINGERPRINT_BYTES = 64 << 10  # bytes hashed to recognise an input when resuming


class InputError(FastETLError, OSError):
    """The input cannot be opened or read."""


class Snapshot:
    """A regular file as it was when opened: its first ``size`` bytes, read by position.

    Sliced like bytes (``snap[a:b]``, within the snapshot).  A read that comes
    short (the file shrank) raises :class:`InputError`, never a signal.
    """

    def __init__(self, raw: Any, name: str, size: int) -> None:
        self._raw = raw  # an unbuffered binary file (io.FileIO)
        self.name = name
        self.size = size
        self._lock = threading.Lock()  # one file position for all readers

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, key: slice) -> bytes:
        if not isinstance(key, slice):
            raise TypeError("a Snapshot is read by slices")
        start, stop, step = key.indices(self.size)
        if step != 1:
            raise ValueError("a Snapshot is read by contiguous slices")
        buf = bytearray(max(0, stop - start))
        self.readinto(start, memoryview(buf))
        return bytes(buf)

    def readinto(self, offset: int, buf: Any) -> None:
        """Fill ``buf`` (a writable buffer, within the snapshot) with the bytes at ``offset``."""
        view = memoryview(buf).cast("B")
        got = 0
        try:
            with self._lock:
                self._raw.seek(offset)
                while got < len(view):
                    n = self._raw.readinto(view[got:])
                    if not n:
                        break
                    got += n
        except OSError as e:
            raise InputError(f"cannot read {self.name}: {e.strerror or e}") from None
        if got < len(view):
            raise self._shrank()

    def grown(self) -> bool:
        """Whether the file is now longer than the snapshot (InputError: shorter)."""
        now = self._size_now()
        if now < self.size:
            raise self._shrank(now)
        return now > self.size

    def _size_now(self) -> int:
        try:
            return os.fstat(self._raw.fileno()).st_size
        except OSError as e:
            raise InputError(f"cannot read {self.name}: {e.strerror or e}") from None

    def _shrank(self, now: int | None = None) -> InputError:
        now = self._size_now() if now is None else now
        return InputError(
            f"{self.name} shrank while it was read: {self.size:,} bytes when opened, {now:,} now"
        )


@dataclass
class Source:
    """One input, opened."""

    name: str  # what messages call it
    path: str | None = None  # absolute path for files
    size: int | None = None  # bytes on disk (compressed size for compressed files)
    mtime: float | None = None
    compression: str | None = None
    encoding: str | None = None  # set when transcoded to UTF-8
    buffer: Any = None  # the whole input, when it is one buffer (bytes or a Snapshot)
    snapshot: Snapshot | None = None  # a regular file's bytes as opened (read by position)
    stream: Any = None  # else read from this (a binary file-like object)
    # bytes of an unterminated last line left out: the file grew while it was read,
    # so that line was being written, not a row of the snapshot (set by the pipeline)
    tail_left_out: int = 0
    _pos: int = 0  # where read/readinto go on in the snapshot
    _over: bytes = b""  # read from the stream, not yet handed out
    _closers: list[Any] = field(default_factory=list)

    @property
    def is_buffer(self) -> bool:
        return self.buffer is not None

    def read(self, n: int) -> bytes:
        if self.stream is None and self.snapshot is not None:
            left = self.snapshot.size - self._pos
            buf = bytearray(left if n < 0 else max(0, min(n, left)))
            return bytes(buf[: self.readinto(buf)])
        if self._over:
            chunk, self._over = self._over, b""
            return chunk
        assert self.stream is not None
        try:
            return self.stream.read(n)
        except InputError:
            raise
        except (OSError, EOFError, lzma.LZMAError) as e:
            raise InputError(f"cannot read {self.name}: {e}") from None

    def readinto(self, buf: Any) -> int:
        """Read the next bytes of the input into ``buf``; 0 at its end (a snapshot's end)."""
        snap = self.snapshot
        if self.stream is None and snap is not None:
            view = memoryview(buf).cast("B")
            n = min(len(view), snap.size - self._pos)
            snap.readinto(self._pos, view[:n])
            self._pos += n
            return n
        view = memoryview(buf).cast("B")
        chunk = self.read(len(view))  # (a transcoder may give more than asked)
        n = min(len(view), len(chunk))
        view[:n] = chunk[:n]
        self._over = chunk[n:]
        return n

    def left(self) -> int | None:
        """Bytes of a snapshot still to read (None: not known)."""
        if self.stream is None and self.snapshot is not None:
            return self.snapshot.size - self._pos
        return None

    def seek(self, offset: int) -> bool:
        """Go on reading at ``offset``, when the input can (False: it cannot)."""
        if self.stream is None and self.snapshot is not None and offset <= self.snapshot.size:
            self._pos = offset
            return True
        return False

    def grown(self) -> bool:
        """Called once the input is read to its end: whether it is a file that has grown
        since it was opened.  A file that has shrunk raises :class:`InputError`."""
        return self.snapshot is not None and self.snapshot.grown()

    def release(self, upto: int) -> None:
        """The input before ``upto`` will not be needed again.  Nothing to do: files are
        read into buffers the pipeline lets go of, not mapped into this process."""

    def fingerprint(self) -> dict[str, Any] | None:
        """What identifies this input's bytes, to resume a conversion of it; None when
        the input cannot be read again (stdin, pipes, file objects)."""
        if self.path is None:
            return None
        try:
            st = os.stat(self.path)
            if not stat.S_ISREG(st.st_mode):  # a FIFO or a device: read once only
                return None
            with open(self.path, "rb") as fh:
                head = fh.read(FINGERPRINT_BYTES)
        except OSError as e:
            raise InputError(f"cannot read {self.name}: {e.strerror or e}") from None
        return {
            "path": self.path,
            "size": st.st_size,
            "mtime_ns": st.st_mtime_ns,
            "head": hashlib.blake2b(head, digest_size=16).hexdigest(),
        }

    def digest_before(self, offset: int) -> str | None:
        """A hash of the input's bytes just before ``offset``, when they are at hand."""
        if self.buffer is None:
            return None
        lo = max(0, offset - FINGERPRINT_BYTES)
        return hashlib.blake2b(self.buffer[lo:offset], digest_size=16).hexdigest()

    def facts(self) -> dict[str, Any]:
        d: dict[str, Any] = {"path": self.path or self.name}
        if self.size is not None:
            d["size"] = self.size
        if self.mtime is not None:
            d["mtime"] = self.mtime
        if self.compression:
            d["compression"] = self.compression
        if self.encoding:
            d["encoding"] = self.encoding
        if self.tail_left_out:
            d["tail_left_out"] = self.tail_left_out
        return d

    def close(self) -> None:
        self.buffer = self.snapshot = None
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


def open_source(src: Any, encoding: str = "utf-8") -> Source:
    """Open a path, ``"-"`` (stdin), a binary file object or a bytes-like object.

    Whatever the input's ``encoding``, the Source delivers UTF-8.
    """
    return transcode(_open(src), encoding)


def _open(src: Any) -> Source:
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
        raise TypeError(
            f"src must be a path, '-', a binary file or bytes, not {type(src).__name__}"
        )
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
            out.buffer = out.snapshot = Snapshot(fh.raw, name, st.st_size)
        elif regular:
            out.buffer = b""
        else:  # a pipe, a FIFO, a character device: stream it
            out.stream = fh
    except OSError as e:
        out.close()
        raise InputError(f"{name}: cannot read ({e.strerror or e})") from None
    return out


class _Transcoder:
    """A binary stream of UTF-8 bytes decoded from another encoding, chunk by chunk."""

    def __init__(self, read: Any, encoding: str, name: str) -> None:
        self._read = read
        self._decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
        self._encoding = encoding
        self._name = name
        self._consumed = 0
        self._done = False

    def read(self, n: int) -> bytes:
        while not self._done:
            raw = self._read(n)
            final = not raw
            try:
                text = self._decoder.decode(raw, final=final)
            except UnicodeDecodeError as e:
                raise InputError(
                    f"{self._name}: byte {self._consumed + e.start} is not valid "
                    f"{self._encoding} ({e.reason}); check the encoding"
                ) from None
            self._consumed += len(raw)
            self._done = final
            if text:
                return text.encode("utf-8")
        return b""

    def close(self) -> None:
        pass


def _buffer_reader(buffer: Any) -> Any:
    view = memoryview(buffer)
    pos = 0

    def read(n: int) -> bytes:
        nonlocal pos
        chunk = bytes(view[pos : pos + n])
        pos += len(chunk)
        return chunk

    return read


def _snapshot_reader(snap: Snapshot) -> Any:
    pos = 0

    def read(n: int) -> bytes:
        nonlocal pos
        chunk = snap[pos : pos + n]
        pos += len(chunk)
        return chunk

    return read


def _raw_reader(src: Source) -> Any:
    raw = src.stream

    def read(n: int) -> bytes:
        try:
            return raw.read(n)
        except (OSError, EOFError, lzma.LZMAError) as e:
            raise InputError(f"cannot read {src.name}: {e}") from None

    return read


def transcode(src: Source, encoding: str) -> Source:
    """Make ``src`` deliver UTF-8: a no-op for UTF-8 inputs, else a decoding stream."""
    if codecs.lookup(encoding).name in ("utf-8", "utf-8-sig"):
        return src
    # read the raw bytes (not through src.read: that will read the transcoder itself)
    if src.snapshot is not None:
        read = _snapshot_reader(src.snapshot)
    else:
        read = _buffer_reader(src.buffer) if src.is_buffer else _raw_reader(src)
    stream = _Transcoder(read, encoding, src.name)
    src.buffer = None
    src.stream = stream  # type: ignore[assignment]
    src.encoding = encoding
    return src


def check_encoding_prefix(head: bytes, name: str) -> int:
    """Bytes to skip at the start (a UTF-8 BOM); refuse UTF-16 clearly."""
    if head.startswith(BOM_UTF8):
        return len(BOM_UTF8)
    if head[:2] in _UTF16_BOMS:
        raise InputError(
            f"{name} starts with a UTF-16 byte order mark; set the encoding to utf-16 "
            '(--encoding utf-16, or "encoding": "utf-16" in the schema\'s dialect)'
        )
    return 0
