"""zstd input cut short is an error, as gzip's, bzip2's and xz's are (``zstandard``'s own
reader ends quietly there: a truncated file read as its first rows).  The frame walker is
checked against frames made by ``zstandard`` itself, whose boundaries are known."""

from __future__ import annotations

import random

import pytest

from fastetl._zstdframes import FrameWalker, ZstdInput

zstandard = pytest.importorskip("zstandard")  # the optional extra fastetl[zstd]


def _skippable(payload: bytes, nibble: int = 3) -> bytes:
    """A skippable frame (RFC 8878 3.1.2) holding ``payload``."""
    magic = (0x184D2A50 + nibble).to_bytes(4, "little")
    return magic + len(payload).to_bytes(4, "little") + payload


def _frames(seed: int) -> tuple[list[bytes], bytes]:
    """Frames of every kind the walker meets, and what they decompress to: text, random
    bytes (raw blocks), one byte repeated (RLE blocks), empty input, more than one block;
    with and without a checksum and the content size, streamed (no size: not a single
    segment) and one-shot; a skippable frame among them."""
    rnd = random.Random(seed)
    parts: list[tuple[bytes, bytes]] = []
    texts = [
        b"".join(b"%d,name %d,%d.%02d\n" % (i, rnd.randrange(99), i, i % 100) for i in range(3000)),
        rnd.randbytes(rnd.randrange(1, 300_000)),  # incompressible: raw blocks
        b"x" * rnd.randrange(1, 400_000),  # RLE blocks
        b"",
        b"a,b\n1,2\n",
    ]
    for data in texts:
        for checksum in (False, True):
            for size in (False, True):
                c = zstandard.ZstdCompressor(
                    level=rnd.choice([1, 3, 9]), write_checksum=checksum, write_content_size=size
                )
                parts.append((c.compress(data), data))
        streamed = zstandard.ZstdCompressor().compressobj()  # (no content size in its header)
        parts.append((streamed.compress(data) + streamed.flush(), data))
    parts.append((_skippable(rnd.randbytes(37)), b""))
    parts.append((_skippable(b"", 15), b""))
    rnd.shuffle(parts)
    return [f for f, _ in parts], b"".join(d for _, d in parts)


def _fed(walker: FrameWalker, data: bytes, rnd: random.Random) -> FrameWalker:
    """``data`` given to ``walker`` in chunks of random sizes (1 byte to 64 KiB)."""
    at = 0
    while at < len(data):
        step = rnd.choice([1, 2, 3, 5, 64, 4096, 65536])
        walker.feed(data[at : at + step])
        at += step
    return walker


@pytest.mark.parametrize("seed", range(4))
def test_the_walker_is_between_frames_exactly_at_their_ends(seed):
    frames, _ = _frames(seed)
    data = b"".join(frames)
    ends = {0}
    for f in frames:
        ends.add(max(ends) + len(f))
    rnd = random.Random(seed)
    cuts = sorted(ends | {rnd.randrange(len(data)) for _ in range(300)})
    for f_start in sorted(ends)[:-1]:  # every frame's first bytes and last bytes
        cuts += range(f_start, min(f_start + 20, len(data)))
    for cut in sorted(set(cuts)):
        walker = _fed(FrameWalker(), data[:cut], rnd)
        assert not walker.lost, cut
        assert walker.between_frames == (cut in ends), (cut, sorted(ends))


class _Raw:
    """A read-only, non-seekable binary stream (as a pipe is)."""

    def __init__(self, data: bytes) -> None:
        self._data, self._at = data, 0

    def read(self, size: int = -1) -> bytes:
        end = len(self._data) if size < 0 else self._at + size
        out = self._data[self._at : end]
        self._at += len(out)
        return out


def _read_all(data: bytes) -> bytes:
    src, out = ZstdInput(_Raw(data)), []
    while chunk := src.read(1 << 16):
        out.append(chunk)
    src.close()
    return b"".join(out)


@pytest.mark.parametrize("seed", range(2))
def test_zstd_input_reads_every_frame_and_refuses_a_cut(seed):
    frames, whole = _frames(seed)
    data = b"".join(frames)
    assert _read_all(data) == whole
    rnd = random.Random(seed)
    ends = [0]
    for f in frames:
        ends.append(ends[-1] + len(f))
    for _ in range(60):
        cut = rnd.randrange(1, len(data))
        if cut in ends:
            continue
        with pytest.raises((EOFError, zstandard.ZstdError)):
            _read_all(data[:cut])


def test_data_the_walker_cannot_follow_is_left_to_the_decompressor():
    """A reserved block type, a reserved header bit, an unknown magic number: no opinion
    (the decompressor refuses such data itself, with its own error)."""
    good = zstandard.ZstdCompressor().compress(b"a,b\n1,2\n" * 100)
    bad_magic = b"\x00\x01\x02\x03" + good
    reserved_bit = good[:4] + bytes([good[4] | 0x08]) + good[5:]
    for data in (bad_magic, reserved_bit):
        walker = FrameWalker()
        walker.feed(data)
        assert walker.lost
        with pytest.raises(zstandard.ZstdError):
            _read_all(data)


def test_a_zstd_file_cut_short_is_an_input_error_not_its_first_rows(tmp_path):
    """A zstd CSV cut anywhere (here: after whole blocks, so the rows before the cut parse
    well) is refused with one line naming the file, by read_csv, convert and the CLI, and
    leaves no output; read whole, it equals the CSV read plainly."""
    import subprocess
    import sys
    from pathlib import Path

    import numpy as np

    import fastetl

    csv = b"id,x\n" + b"".join(b"%d,%d.5\n" % (i, i) for i in range(200_000))
    packed = zstandard.ZstdCompressor(level=1, write_checksum=True).compress(csv)
    whole = tmp_path / "whole.csv.zst"
    whole.write_bytes(packed)
    plain = tmp_path / "plain.csv"
    plain.write_bytes(csv)
    got, ref = fastetl.read_csv(whole), fastetl.read_csv(plain)
    assert np.array_equal(got.array, ref.array)
    env = {"PYTHONPATH": str(Path(fastetl.__file__).parents[1])}
    for cut in (len(packed) // 3, len(packed) // 2, len(packed) - 4, len(packed) - 1):
        src = tmp_path / f"cut{cut}.csv.zst"
        src.write_bytes(packed[:cut])
        with pytest.raises(fastetl.InputError, match=r"cut\d+\.csv\.zst.*zstd frame"):
            fastetl.read_csv(src)
        out = tmp_path / "o.npy"
        with pytest.raises(fastetl.InputError):
            fastetl.convert(src, out)
        p = subprocess.run(
            [sys.executable, "-m", "fastetl", "convert", "-", str(out), "-q"],
            input=packed[:cut], capture_output=True, env=env, timeout=300,
        )  # fmt: skip
        err = p.stderr.decode()
        assert p.returncode == 1 and err.count("\n") == 1 and "zstd frame" in err, err
        assert not out.exists()
