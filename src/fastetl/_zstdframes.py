"""zstd input that says when it is cut short.

The ``zstandard`` package's stream reader ends quietly when its input ends inside a frame
(a truncated download, a copy cut short): the reader would get the rows decompressed so
far as if they were the whole file.  gzip, bzip2 and xz readers raise ``EOFError`` there.
:class:`ZstdInput` gives zstd input the same: it follows the frames' structure (RFC 8878:
frame headers, block headers, checksums, skippable frames) as the compressed bytes pass
to the decompressor, which costs a few operations per block and no decompression, and at
the end of the input tells whether it ended between two frames.
"""

from __future__ import annotations

from typing import Any

_FRAME = 0xFD2FB528  # a zstd frame's magic number (little-endian in the data)
_SKIPPABLE = 0x184D2A50  # skippable frames: 0x184D2A50..0x184D2A5F

# what the walker reads next: a field of known size (kept in a small buffer), or a run of
# bytes it skips (a block's content, a skippable frame's)
_MAGIC, _DESCRIPTOR, _HEADER_REST, _BLOCK, _CONTENT, _CHECKSUM, _SKIP_SIZE, _LOST = range(8)


class FrameWalker:
    """Where zstd data is in its frame structure, fed its bytes in order (:meth:`feed`).
    :attr:`between_frames` is True when the bytes so far end where a frame ends (or where
    none began: no bytes).  Data it cannot follow (a reserved bit, a reserved block type,
    an unknown magic number) leaves it with no opinion (:attr:`lost`): the decompressor
    refuses such data itself."""

    __slots__ = ("_state", "_need", "_field", "_skip", "_checksum", "_last")

    def __init__(self) -> None:
        self._state = _MAGIC
        self._need = 4  # bytes of the field being read
        self._field = bytearray()
        self._skip = 0  # bytes still to skip in _CONTENT (a block's, a skippable frame's)
        self._checksum = False  # the frame ends with a 4-byte content checksum
        self._last = False  # the block being skipped is the frame's last

    @property
    def lost(self) -> bool:
        return self._state == _LOST

    @property
    def between_frames(self) -> bool:
        return self._state == _MAGIC and not self._field

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data).cast("B")
        at, end = 0, len(view)
        while at < end and self._state != _LOST:
            if self._state == _CONTENT:
                step = min(self._skip, end - at)
                at += step
                self._skip -= step
                if not self._skip:
                    self._content_done()
                continue
            take = min(self._need - len(self._field), end - at)
            self._field += view[at : at + take]
            at += take
            if len(self._field) == self._need:
                field = bytes(self._field)
                self._field.clear()
                self._field_done(field)

    def _field_done(self, field: bytes) -> None:
        value = int.from_bytes(field, "little")
        if self._state == _MAGIC:
            if value == _FRAME:
                self._expect(_DESCRIPTOR, 1)
            elif value & 0xFFFFFFF0 == _SKIPPABLE:
                self._expect(_SKIP_SIZE, 4)
            else:
                self._state = _LOST
        elif self._state == _DESCRIPTOR:
            if value & 0x08:  # the reserved bit
                self._state = _LOST
                return
            single_segment = bool(value & 0x20)
            self._checksum = bool(value & 0x04)
            size_flag = value >> 6
            content_size = (1 if single_segment else 0, 2, 4, 8)[size_flag]
            rest = (0 if single_segment else 1) + (0, 1, 2, 4)[value & 0x03] + content_size
            if rest:
                self._expect(_HEADER_REST, rest)
            else:
                self._expect(_BLOCK, 3)
        elif self._state == _HEADER_REST:
            self._expect(_BLOCK, 3)
        elif self._state == _BLOCK:
            self._last = bool(value & 1)
            kind, size = (value >> 1) & 0x03, value >> 3
            if kind == 3:  # reserved
                self._state = _LOST
                return
            self._state, self._skip = _CONTENT, 1 if kind == 1 else size  # (RLE: one byte)
            if not self._skip:
                self._content_done()
        elif self._state == _CHECKSUM:
            self._expect(_MAGIC, 4)
        elif self._state == _SKIP_SIZE:
            self._last, self._checksum = True, False  # (its content ends the frame)
            self._state, self._skip = _CONTENT, value
            if not self._skip:
                self._content_done()

    def _content_done(self) -> None:
        if not self._last:
            self._expect(_BLOCK, 3)
        elif self._checksum:
            self._expect(_CHECKSUM, 4)
        else:
            self._expect(_MAGIC, 4)

    def _expect(self, state: int, need: int) -> None:
        self._state, self._need = state, need


class _Watched:
    """The compressed input, each chunk the decompressor reads shown to a walker."""

    def __init__(self, raw: Any, walker: FrameWalker) -> None:
        self._raw, self._walker = raw, walker

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self._walker.feed(data)
        return data


class ZstdInput:
    """The decompressed bytes of the zstd data ``raw`` yields (every frame, one after
    the other), read with :meth:`read`; ``EOFError`` where the data ends inside a frame,
    as Python's gzip, bz2 and lzma readers say of a stream cut short."""

    def __init__(self, raw: Any) -> None:
        import zstandard  # type: ignore[import-not-found]

        self._walker = FrameWalker()
        self._stream = zstandard.ZstdDecompressor().stream_reader(
            _Watched(raw, self._walker), read_across_frames=True, closefd=False
        )
        self.name = getattr(raw, "name", None)

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        if not data and size != 0 and not (self._walker.between_frames or self._walker.lost):
            raise EOFError("Compressed file ended before the end of its last zstd frame")
        return data

    def close(self) -> None:
        self._stream.close()
