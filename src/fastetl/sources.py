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

import codecs
import hashlib
import importlib
import io
import os
import queue
import stat
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import FastETLError, shown

if TYPE_CHECKING:
    import zipfile

BOM_UTF8 = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")

# magic bytes -> compression, and the module whose open() reads it.  The decompressors
# (and tempfile, shutil) are imported where they are used: a plain file's first read does
# not pay the ~3 ms of importing them.
_COMPRESSED = (
    (b"\x1f\x8b", "gzip", "gzip"),
    (b"BZh", "bzip2", "bz2"),
    (b"\xfd7zXZ\x00", "xz", "lzma"),
)
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # a local file header; an empty archive
_MAGIC_BYTES = 8  # bytes of the head that tell compressed data from text
# what a decompressor raises on corrupt data (the decompressors' own errors are added
# when one is first used: _add_read_errors)
_READ_ERRORS: tuple[type[BaseException], ...] = (OSError, EOFError)
_READ_ERRORS_LOCK = threading.Lock()  # (two first opens on two threads: neither add is lost)


def _add_read_errors(*errors: type[BaseException]) -> None:
    global _READ_ERRORS
    with _READ_ERRORS_LOCK:
        _READ_ERRORS = (*_READ_ERRORS, *(e for e in errors if e not in _READ_ERRORS))


FINGERPRINT_BYTES = 64 << 10  # bytes hashed to recognise an input when resuming
# Compressed input is decompressed on a thread of its own, this many bytes at a time,
# at most DECOMPRESS_AHEAD chunks ahead of the parser (so a few MiB in memory).
DECOMPRESS_CHUNK = 1 << 20
DECOMPRESS_AHEAD = 4
# Bytes read ahead of the content hash (a zip archive's directory, read first) kept to
# be hashed in order at the end rather than read again; past this they are read again.
HASH_AHEAD_KEEP = 1 << 20


class InputError(FastETLError, OSError):
    """The input cannot be opened or read."""


# positional reads (no shared file position: threads read at once); None where the OS has
# none (Windows), and in the tests that check the fallback
_PREADV = getattr(os, "preadv", None)
# bytes asked of one positional read at most (macOS: EINVAL past INT_MAX)
_PREAD_MAX = 1 << 30


def pread_into(fd: int, buf: Any, offset: int) -> int:
    """Fill ``buf`` with the bytes of file ``fd`` at ``offset``, by position (where the OS
    has ``os.preadv``): the bytes read, fewer only at the file's end.  OSError as the OS says."""
    view = memoryview(buf).cast("B")
    got = 0
    while got < len(view):
        n = os.preadv(fd, [view[got : got + _PREAD_MAX]], offset + got)
        if not n:
            break
        got += n
    return got


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
        """Fill ``buf`` (a writable buffer, within the snapshot) with the bytes at ``offset``.
        Threads may read at once (the pipeline's workers read their own pieces): by
        position where the OS has it, else one at a time."""
        view = memoryview(buf).cast("B")
        got = 0
        try:
            if _PREADV is not None:
                got = pread_into(self._raw.fileno(), view, offset)
            else:  # (Windows): one file position, shared
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
    inode: tuple[int, int] | None = None  # (device, inode) of a file opened by path
    compression: str | None = None
    member: str | None = None  # the file read from a zip archive
    encoding: str | None = None  # set when transcoded to UTF-8
    text: bool = False  # a text file object: its characters are encoded to UTF-8 here
    buffer: Any = None  # the whole input, when it is one buffer (bytes or a Snapshot)
    snapshot: Snapshot | None = None  # a regular file's bytes as opened (read by position)
    stream: Any = None  # else read from this (a binary file-like object)
    # bytes of an unterminated last line left out: the file grew while it was read,
    # so that line was being written, not a row of the snapshot (set by the pipeline)
    tail_left_out: int = 0
    # told the input's bytes as they are read, in order (``feed``/``feed_at``/``digest``:
    # a lineage.ContentHash), when its content hash is wanted
    hasher: Any = None
    # feeds the hasher, at the end, the bytes of a seekable input after the last one it
    # was fed: bytes a decompressor never read, or read out of order (a zip archive's
    # directory, read first); None when the input is read once, in order
    _hash_rest: Any = None
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
        except _READ_ERRORS as e:
            raise InputError(f"cannot read {self.name}: {e}") from None

    def readinto(self, buf: Any) -> int:
        """Read the next bytes of the input into ``buf``; 0 at its end (a snapshot's end)."""
        snap = self.snapshot
        if self.stream is None and snap is not None:
            view = memoryview(buf).cast("B")
            n = min(len(view), snap.size - self._pos)
            snap.readinto(self._pos, view[:n])
            if self.hasher is not None:  # (bytes read again, after a seek back, are not)
                self.hasher.feed_at(self._pos, view[:n], self._hash_gap)
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

    def unchanged(self) -> bool:
        """Whether the path this input was opened by still names the file it opened, as
        it was then (size, mtime, device and inode): a reader that opens it by path again
        (read_csv's threads) must not give values the source's facts do not describe
        (a file replaced or rewritten in between).  False for an input with no path."""
        if self.path is None:
            return False
        try:
            st = os.stat(self.path)
        except OSError:
            return False
        return (
            st.st_size == self.size
            and st.st_mtime == self.mtime
            and (self.inode is None or (st.st_dev, st.st_ino) == self.inode)
        )

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

    def _hash_gap(self, start: int, end: int) -> Any:
        """The bytes between ``start`` and ``end`` the hasher has not seen (a run
        resumed past them), read from the snapshot."""
        snap = self.snapshot
        assert snap is not None
        return _pieces(lambda at, n: snap[at : at + n], start, end)

    def content_hash(self) -> dict[str, Any] | None:
        """The hash of the input's bytes (once it is read to its end): the file's bytes
        for a file (compressed or not), what was read for a stream (compressed bytes
        before they are decompressed).  Every byte is hashed as it is first read, below
        any decompressor or transcoder; only bytes never read in order (after the end
        of a compressed stream, a zip archive's directory) are read here.  None when no
        hasher was given."""
        h = self.hasher
        if h is None:
            return None
        if self._hash_rest is not None:
            self._hash_rest()
        elif self.snapshot is not None:
            for piece in self._hash_gap(h.nbytes, self.snapshot.size):
                h.feed(piece)
        elif self.stream is None and self.buffer is not None and h.nbytes == 0:
            h.feed(self.buffer)  # bytes in memory
        return h.digest()

    def facts(self) -> dict[str, Any]:
        d: dict[str, Any] = {"path": self.path or self.name}
        if self.size is not None:
            d["size"] = self.size
        if self.mtime is not None:
            d["mtime"] = self.mtime
        if self.compression:
            d["compression"] = self.compression
        if self.member is not None:
            d["member"] = self.member
        if self.text:
            d["text"] = True  # read from a text file object, as UTF-8
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


def compression_of(head: bytes) -> str | None:
    """The compression whose magic bytes ``head`` starts with (gzip, bzip2, xz, zstd,
    zip), or None."""
    for magic, kind, _ in _COMPRESSED:
        if head.startswith(magic):
            return kind
    if head.startswith(_ZSTD_MAGIC):
        return "zstd"
    if head.startswith(_ZIP_MAGICS):
        return "zip"
    return None


def _zip_member(archive: zipfile.ZipFile, name: str) -> zipfile.ZipInfo:
    """The one file of a zip archive (folders and macOS metadata left out)."""
    files = [
        i
        for i in archive.infolist()
        if not i.is_dir()
        and not i.filename.startswith("__MACOSX/")
        and not os.path.basename(i.filename).startswith("._")
        and os.path.basename(i.filename) != ".DS_Store"
    ]
    if len(files) == 1:
        return files[0]
    if not files:
        raise InputError(f"{name} is a zip archive with no file in it")
    listed = ", ".join(shown(i.filename) for i in files[:10])
    more = f", ... ({len(files):,} in all)" if len(files) > 10 else ""
    raise InputError(
        f"{name} is a zip archive of {len(files):,} files ({listed}{more}); fastetl reads "
        "one CSV at a time: extract the one to convert, or zip it alone"
    )


def _errors_of(*where: tuple[str, str]) -> list[type[BaseException]]:
    """The exception classes ``module.name`` of the modules that import (a Python may be
    built without ``_lzma`` or ``_bz2``: their errors cannot be raised there either)."""
    found = []
    for module, attr in where:
        try:
            found.append(getattr(importlib.import_module(module), attr))
        except ImportError:
            continue
    return found


def _open_compressed(raw: Any, head: bytes, name: str, src: Source) -> bool:
    """Make ``src`` read the decompressed bytes of ``raw`` (whose first bytes are
    ``head``), when they are compressed; ``raw`` must be seekable for a zip archive."""
    kind = compression_of(head)
    if kind is None:
        return False
    # what the decompressor raises on corrupt data, of the modules this Python has (a zip
    # member may be deflated, or lzma-compressed: zipfile says so when it cannot)
    _add_read_errors(*_errors_of(("zlib", "error"), ("lzma", "LZMAError"),
                                 ("zipfile", "BadZipFile")))  # fmt: skip
    if kind == "zstd":
        try:
            import zstandard  # type: ignore[import-not-found]
        except ImportError:
            raise InputError(
                f"{name} is zstd-compressed; install the 'zstandard' package to read it "
                "(pip install 'fastetl[zstd]')"
            ) from None
        from ._zstdframes import ZstdInput  # (zstandard's reader ends quietly if cut short)

        _add_read_errors(zstandard.ZstdError)
        stream: Any = ZstdInput(raw)
    elif kind == "zip":
        import zipfile

        try:
            archive = zipfile.ZipFile(raw)
            member = _zip_member(archive, name)
            stream = archive.open(member)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError) as e:
            raise InputError(f"{name}: cannot read the zip archive ({e})") from None
        except RuntimeError as e:  # an encrypted member
            raise InputError(f"{name}: {e}") from None
        src._closers.append(archive)
        src.member = member.filename
    else:
        module = next(m for _, k, m in _COMPRESSED if k == kind)
        try:
            opener = importlib.import_module(module).open
        except ImportError:  # (a Python built without it: _lzma, _bz2 are optional)
            raise InputError(
                f"{name} is {kind}-compressed, and this Python has no {module} module to "
                "decompress it: decompress it first, or use a Python built with it"
            ) from None
        stream = opener(raw, "rb")
    stream = _ReadAhead(stream)  # (which closes the decompressing stream)
    src._closers.append(stream)
    src.stream = stream
    src.compression = kind
    return True


class _ReadAhead:
    """A stream read on a thread of its own, into a bounded queue of chunks: the
    decompression of compressed input runs while the parser works on what came before
    (zlib, bz2, lzma and zstandard let go of the GIL while they decompress).  Errors
    reading the stream are raised by :meth:`read`, in order."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.name = getattr(stream, "name", None)
        self._queue: queue.Queue[Any] = queue.Queue(DECOMPRESS_AHEAD)
        self._stop = threading.Event()
        self._closing = threading.Lock()
        self._thread: threading.Thread | None = None
        self._item = b""  # the chunk being handed out, from _at on
        self._chunk = memoryview(b"")
        self._at = 0
        self._ended = False

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                data = self._stream.read(DECOMPRESS_CHUNK)
                self._put(data)
                if not data:
                    return
        except BaseException as e:  # handed to the reader, raised there
            self._put(e)
        finally:
            if self._stop.is_set():  # closed while this thread read: it closes the stream
                self._close_stream()

    def _close_stream(self) -> None:
        with self._closing:
            stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.close()
            except (OSError, ValueError):
                pass

    def _put(self, item: Any) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                pass

    def _next(self) -> bool:
        """The next chunk into ``_chunk``; False at the end."""
        if self._ended:
            return False
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="fastetl-decompress", daemon=True
            )
            self._thread.start()
        item = self._queue.get()
        if isinstance(item, BaseException):
            self._ended = True
            raise item
        if not item:
            self._ended = True
            return False
        self._item, self._chunk, self._at = item, memoryview(item), 0
        return True

    def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes (fewer only where a chunk ends; b"" at the end); all the
        rest when ``n`` is negative."""
        if n is None or n < 0:
            parts = [bytes(self._chunk[self._at :])]
            self._at = len(self._chunk)
            while self._next():
                parts.append(bytes(self._chunk))
                self._at = len(self._chunk)
            return b"".join(parts)
        if self._at >= len(self._chunk) and not self._next():
            return b""
        if self._at == 0 and n >= len(self._item):  # the whole chunk: no copy
            self._at = len(self._item)
            return bytes(self._item)
        out = bytes(self._chunk[self._at : self._at + n])
        self._at += len(out)
        return out

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        """Stop the thread and close the stream.  A thread still waiting for input (a
        pipe whose writer is slow) is not waited for: it closes the stream once its
        read returns."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=0.5)
            if thread.is_alive():
                return
        self._close_stream()


class _Prefixed:
    """A stream whose first bytes were read already (to look at them): ``head``, then
    the rest of ``stream``."""

    def __init__(self, head: Any, stream: Any) -> None:
        self._head = head
        self._stream = stream
        self.name = getattr(stream, "name", None)

    def read(self, n: int = -1) -> Any:
        head, self._head = self._head, self._head[:0]
        if n is None or n < 0:
            return head + self._stream.read()
        if len(head) >= n:
            head, self._head = head[:n], head[n:]
            return head
        return head + (self._stream.read(n - len(head)) or head[:0])

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        pass


class _TextAsUTF8:
    """A binary stream of UTF-8 over a text file object (``io.StringIO``, ``open(p, "r")``):
    its characters are decoded already, so they are only encoded, never decoded again."""

    def __init__(self, stream: Any, name: str) -> None:
        self._stream = stream
        self._name = name
        self._chars = 0

    def read(self, n: int = -1) -> bytes:
        try:
            text = self._stream.read(n if n is None or n < 0 else max(1, n // 4))
        except UnicodeDecodeError as e:  # the text object decodes a file itself
            raise InputError(f"{self._name}: cannot read it as text ({e})") from None
        if not isinstance(text, str):
            raise InputError(f"{self._name}: a file object gave {type(text).__name__}, not text")
        try:
            out = text.encode("utf-8")
        except UnicodeEncodeError as e:
            raise InputError(
                f"{self._name}: character {self._chars + e.start:,} of the text is a lone "
                "surrogate, which is not text UTF-8 can hold"
            ) from None
        self._chars += len(text)
        return out

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        pass


def _read_head(stream: Any, n: int = _MAGIC_BYTES) -> Any:
    """The first ``n`` bytes (or characters) of a stream, fewer only at its end."""
    first = stream.read(n)
    if first is None:
        first = b""
    parts = [first]
    got = len(first)
    while first and got < n:
        more = stream.read(n - got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return parts[0][:0].join(parts)


def _spool_raw(stream: Any, head: bytes) -> Any:
    """``head`` and the rest of ``stream`` in an anonymous temporary file (a zip
    archive from a pipe: it is read from its end)."""
    import shutil
    import tempfile

    out = tempfile.TemporaryFile()
    try:
        out.write(head)
        shutil.copyfileobj(stream, out, 1 << 20)
        out.seek(0)
    except BaseException:
        out.close()
        raise
    return out


def _pieces(read: Any, start: int, end: int | None) -> Any:
    """Buffers of bytes from ``start`` to ``end`` (None: the end), by ``read(offset, size)``."""
    while end is None or start < end:
        piece = read(start, 4 << 20 if end is None else min(4 << 20, end - start))
        if not piece:
            return
        yield piece
        start += len(piece)


class _Hashing:
    """A binary stream whose bytes are told to a hasher as they are first read, in input
    order: below a decompressor (the compressed bytes), a transcoder or the parser.

    The input starts where the stream is when wrapped (``at``: bytes of it the hasher
    was fed already, a stream that cannot seek).  A read that starts at or before the
    hasher's end feeds what is new; bytes read again (after a seek back) are not fed, nor
    are bytes read ahead of it (a zip archive's directory, read first), which are kept
    (up to :data:`HASH_AHEAD_KEEP`): :meth:`rest` feeds them once the input has been read,
    reading only what no read gave (a seekable stream)."""

    def __init__(self, stream: Any, hasher: Any, at: int = 0) -> None:
        self._stream = stream
        self._hasher = hasher
        self.name = getattr(stream, "name", None)
        self._seekable = False
        try:
            self._seekable = bool(stream.seekable())
        except (AttributeError, OSError, ValueError):
            pass
        self._origin = stream.tell() - at if self._seekable else 0
        self._pos = at  # the input offset of the stream's position
        self._ahead: list[tuple[int, bytes]] = []  # (input offset, bytes) read ahead
        self._kept = 0

    def read(self, n: int = -1) -> Any:
        data = self._stream.read(n)
        if data:
            self._take(data)
        return data

    def _take(self, data: Any) -> None:
        h = self._hasher
        start, self._pos = self._pos, self._pos + len(data)
        if start <= h.nbytes < self._pos:
            h.feed(memoryview(data)[h.nbytes - start :])
        elif start > h.nbytes and self._seekable and self._kept + len(data) <= HASH_AHEAD_KEEP:
            self._ahead.append((start, bytes(data)))
            self._kept += len(data)

    def rest(self) -> None:
        """Feed the hasher the bytes after the last one it was fed, to the stream's end:
        those kept from reads ahead as they are, the others read now."""
        if not self._seekable:
            return
        h = self._hasher
        try:
            for start, data in [*sorted(self._ahead, key=lambda a: a[0]), (-1, b"")]:
                self.seek(self._origin + h.nbytes)
                while start < 0 or h.nbytes < start:  # (-1: to the end)
                    if not self.read(4 << 20 if start < 0 else min(4 << 20, start - h.nbytes)):
                        break
                if 0 <= start <= h.nbytes < start + len(data):
                    h.feed(memoryview(data)[h.nbytes - start :])
        except _READ_ERRORS as e:
            raise InputError(f"cannot read {self.name or '<stream>'}: {e}") from None
        self._ahead, self._kept = [], 0

    def seek(self, offset: int, whence: int = 0) -> int:
        at = self._stream.seek(offset, whence)
        self._pos = at - self._origin
        return at

    def tell(self) -> int:
        return self._stream.tell()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._seekable

    def close(self) -> None:
        pass


def _open_stream(out: Source, stream: Any) -> Source:
    """``out`` reading ``stream`` (a binary or a text file object, stdin, a pipe):
    decompressed when it is compressed, encoded to UTF-8 when it is text."""
    if isinstance(stream, io.TextIOBase):
        out.stream, out.text = _TextAsUTF8(stream, out.name), True
        if out.hasher is not None:  # (a text object's bytes are its UTF-8)
            out.stream = _Hashing(out.stream, out.hasher)
        return out
    seekable = False
    try:
        seekable = bool(stream.seekable())
    except (AttributeError, OSError, ValueError):
        pass
    try:
        if seekable:
            pos = stream.tell()
            head = _read_head(stream)
            stream.seek(pos)
        else:
            head = _read_head(stream)
    except _READ_ERRORS as e:
        raise InputError(f"cannot read {out.name}: {e}") from None
    if out.hasher is not None and not isinstance(head, str):
        if seekable:  # hashed as read from ``pos``; the rest of it at the end
            stream = _Hashing(stream, out.hasher)
            out._hash_rest = stream.rest
        else:
            out.hasher.feed(head)
            stream = _Hashing(stream, out.hasher, len(head))
    if isinstance(head, str):  # a text object that is not an io.TextIOBase
        stream = _Prefixed(head, stream) if not seekable else stream
        out.stream, out.text = _TextAsUTF8(stream, out.name), True
        if out.hasher is not None:
            out.stream = _Hashing(out.stream, out.hasher)
        return out
    if not seekable:
        if compression_of(head) == "zip":
            stream = _spool_raw(stream, bytes(head))
            out._closers.append(stream)
        else:
            stream = _Prefixed(bytes(head), stream)
    if not _open_compressed(stream, bytes(head), out.name, out):
        out.stream = stream
    return out


def open_source(src: Any, encoding: str = "utf-8", hasher: Any = None) -> Source:
    """Open a path, ``"-"`` (stdin), a binary or text file object or a bytes-like object.

    Compressed data (gzip, bzip2, xz, zstd, a zip archive of one file) is recognised by
    its first bytes on every kind of input and decompressed as it is read.  Whatever
    the input's ``encoding``, the Source delivers UTF-8 (a text file object's
    characters are only encoded: ``encoding`` does not apply to them).  ``hasher``
    (a :class:`fastetl.lineage.ContentHash`) is told the input's bytes as they are
    read: see :meth:`Source.content_hash`.
    """
    source = _open(src, hasher)
    if source.text:
        return source
    try:
        return transcode(source, encoding)
    except BaseException:
        source.close()
        raise


def stream_name(src: Any) -> str:
    """What messages and the sidecar call a file object."""
    name = getattr(src, "name", None)
    if name is None or name == "":
        return "<stream>"
    if isinstance(name, int):
        return "<stdin>" if name == 0 else f"<fd {name}>"
    return str(name)


def _open(src: Any, hasher: Any = None) -> Source:
    if isinstance(src, memoryview) and (src.ndim != 1 or src.itemsize != 1):
        src = src.cast("B")  # its bytes, counted as bytes (not as items of 4 or 8)
    if isinstance(src, (bytes, bytearray, memoryview)):
        head = bytes(memoryview(src).cast("B")[:_MAGIC_BYTES]) if len(src) else b""
        if compression_of(head) is None:
            return Source(name="<bytes>", buffer=src, size=len(src), hasher=hasher)
        out = Source(name="<bytes>", size=len(src), hasher=hasher)
        raw: Any = io.BytesIO(src)
        if hasher is not None:
            raw = _Hashing(raw, hasher)
            out._hash_rest = raw.rest
        _open_compressed(raw, head, out.name, out)
        return out
    if isinstance(src, str) and src == "-":
        return _open_stream(Source(name="<stdin>", hasher=hasher), sys.stdin.buffer)
    if hasattr(src, "read"):
        return _open_stream(Source(name=stream_name(src), hasher=hasher), src)
    if not isinstance(src, (str, os.PathLike)):
        raise TypeError(
            f"src must be a path, '-', a file object or bytes, not {type(src).__name__}"
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
    out = Source(name=name, path=str(path.resolve()), hasher=hasher)
    out._closers.append(fh)
    try:
        st = os.fstat(fh.fileno())
        out.size = st.st_size
        out.mtime = st.st_mtime
        out.inode = (st.st_dev, st.st_ino)
        regular = stat.S_ISREG(st.st_mode)
        if regular:
            head = fh.read(_MAGIC_BYTES)
            fh.seek(0)
            if compression_of(head) is not None:
                packed: Any = fh
                if hasher is not None:  # hashed as the decompressor reads the file
                    packed = _Hashing(fh, hasher)
                    out._hash_rest = packed.rest
                _open_compressed(packed, head, name, out)
                return out
        if regular and st.st_size > 0:
            out.buffer = out.snapshot = Snapshot(fh.raw, name, st.st_size)
        elif regular:
            out.buffer = b""
        else:  # a pipe, a FIFO, a character device: stream it
            _open_stream(out, fh)
    except InputError:
        out.close()
        raise
    except OSError as e:
        out.close()
        raise InputError(f"{name}: cannot read ({e.strerror or e})") from None
    return out


def spool(stream: Any, name: str | None = None) -> Any:
    """A copy of ``stream`` in an anonymous temporary file (in ``TMPDIR``), to be read
    twice.  The file has no name on disk (it is gone when closed, or when the process
    ends, however it ends); its size is what the spool costs on disk.  ``name`` is what
    messages and the sidecar call it (``<stdin>``, a FIFO's path).  A text stream is
    spooled as UTF-8; compressed bytes are spooled as they are (reading decompresses)."""
    import shutil
    import tempfile

    out = tempfile.TemporaryFile()
    try:
        if isinstance(stream, io.TextIOBase):
            stream = _TextAsUTF8(stream, name or stream_name(stream))
        shutil.copyfileobj(stream, out, 1 << 20)
        out.seek(0)
        if name is not None:
            _set_name(out, name)
    except BaseException:
        out.close()
        raise
    return out


def _set_name(fh: Any, name: str) -> None:
    try:
        fh.raw.name = name  # an io.FileIO's name may be set
    except AttributeError:
        try:
            fh.name = name
        except AttributeError:  # pragma: no cover - messages say <fd N> instead
            pass


def is_stream_path(src: Any) -> bool:
    """Whether ``src`` is the path of something that can be read only once (a FIFO, a
    character device such as /dev/stdin), not a regular file."""
    if not isinstance(src, (str, os.PathLike)) or src == "-":
        return False
    try:
        mode = os.stat(src).st_mode
    except (OSError, ValueError):
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


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


def _hashing_reader(read: Any, hasher: Any) -> Any:
    """``read`` that tells ``hasher`` the bytes it reads (a file or bytes transcoded:
    each byte is read once, in order)."""

    def hashing(n: int) -> bytes:
        chunk = read(n)
        hasher.feed(chunk)
        return chunk

    return hashing


def _raw_reader(src: Source) -> Any:
    raw = src.stream

    def read(n: int) -> bytes:
        try:
            return raw.read(n)
        except _READ_ERRORS as e:
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
    if src.hasher is not None and src.stream is None:  # (a stream is hashed below)
        read = _hashing_reader(read, src.hasher)
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
