"""read_csv's result in memory: the same records as convert, whatever the input kind.

The records go into one reservation of address space (fastetl.memory), or, where the
OS has none (forced here with ``fastetl.memory.ENABLED = False``), into an ordinary
array that grows.  Compressed input is decompressed on a thread of its own.  Checked:
the records against the reference parser (tests/reference.py) and against ``convert``
then ``numpy.load`` of every input kind; that the memory goes back when the result is
dropped; that a compressed input's memory stays bounded (child processes report their
own peak RSS).  No timing is asserted.
"""

from __future__ import annotations

import gzip
import json
import mmap
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import fastetl
from fastetl import memory
from fastetl.schema import as_schema
from fastetl.store import ArrayWriter
from reference import assert_same_records, reference_parse
from test_inputs import COMPRESS  # gzip, bzip2, xz, zstd, zip

SCHEMA = {
    "dialect": {"delimiter": ",", "quote": '"', "header": True},
    "columns": [
        {"name": "id", "type": "int64"},
        {"name": "x", "type": "float64"},
        {"name": "s", "type": "str", "width": 12},
        {"name": "d", "type": "date", "nullable": True},
        {"name": "k", "type": "category"},
    ],
}


def _csv(rows: int, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    xs = rng.normal(size=rows) * 10.0 ** rng.integers(-5, 8, size=rows)
    days = rng.integers(1, 29, size=rows)
    cats = ["red", "green", "blue", "cyan"]
    out = ["id,x,s,d,k"]
    for i in range(rows):
        d = "" if i % 13 == 0 else f"2024-02-{days[i]:02d}"
        s = f'"a,{i % 977}"' if i % 5 == 0 else f"v{i % 10_000}"
        out.append(f"{i * 7 - 3},{float(xs[i])!r},{s},{d},{cats[i % 4]}")
    return ("\n".join(out) + "\n").encode()


@pytest.fixture(scope="module")
def data() -> bytes:
    return _csv(30_000)


@pytest.fixture(scope="module")
def expected(data: bytes) -> np.ndarray:
    return reference_parse(data, as_schema(SCHEMA))


# the same columns, records of 226 bytes: 200,000 rows make 45 MB
WIDE = {
    **SCHEMA,
    "columns": [{**c, "width": 200} if c["name"] == "s" else c for c in SCHEMA["columns"]],
}


def _through_convert(src, tmp: Path, schema: dict = SCHEMA) -> np.ndarray:
    out = tmp / "out.npy"
    fastetl.convert(src, out, schema)
    return np.load(out)


@pytest.mark.parametrize("kind", ["file", "bytes", "file object", *COMPRESS])
def test_read_csv_equals_reference_and_convert(tmp_path: Path, data, expected, kind: str):
    raw = COMPRESS[kind](data) if kind in COMPRESS else data
    path = tmp_path / "in.csv"
    path.write_bytes(raw)
    if kind == "bytes":
        got = fastetl.read_csv(raw, SCHEMA).array
    elif kind == "file object":
        with path.open("rb") as fh:
            got = fastetl.read_csv(fh, SCHEMA).array
    else:
        got = fastetl.read_csv(path, SCHEMA).array
    assert_same_records(got, expected, kind)
    assert_same_records(_through_convert(path, tmp_path), expected, f"{kind} converted")
    # the decompressing thread is gone once the read is over
    assert not [t for t in threading.enumerate() if t.name == "fastetl-decompress"]


@pytest.mark.parametrize("workers,block_size", [(1, 4096), (4, 4096), (3, 777), (8, 1 << 16)])
@pytest.mark.parametrize("kind", ["file", "gzip"])
def test_threads_and_tiny_blocks(tmp_path: Path, data, expected, workers, block_size, kind):
    path = tmp_path / "in.csv"
    path.write_bytes(gzip.compress(data) if kind == "gzip" else data)
    got = fastetl.read_csv(path, SCHEMA, workers=workers, block_size=block_size).array
    assert_same_records(got, expected, f"{kind} workers={workers} block={block_size}")


CHILD = textwrap.dedent(
    """
    import json, sys, numpy as np, fastetl, fastetl.memory
    spec = json.loads(sys.argv[1])
    if spec.get("no_reserve"):
        fastetl.memory.ENABLED = False
    src = "-" if spec["src"] == "-" else spec["src"]
    def rss():
        for line in open("/proc/self/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) << 10
    before = rss()
    t = fastetl.read_csv(src, spec["schema"], workers=spec.get("workers"))
    np.save(spec["out"], t.array)
    held = rss()
    del t
    after = rss()
    peak = [int(l.split()[1]) << 10 for l in open("/proc/self/status") if l.startswith("VmHWM:")]
    print(json.dumps({"before": before, "held": held, "after": after, "peak": peak[0]}))
    """
)


def _child(tmp: Path, src: str, stdin=None, **spec) -> tuple[dict, np.ndarray]:
    out = tmp / "child.npy"
    spec = {"src": src, "schema": WIDE, "out": str(out), **spec}
    p = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(spec)],
        stdin=stdin if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        timeout=600,
        cwd=tmp,
    )
    assert p.returncode == 0, p.stderr.decode()[-2000:]
    return json.loads(p.stdout), np.load(out)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
@pytest.mark.parametrize("how", ["stdin", "stdin gzip", "file", "file, no reservation"])
def test_result_in_a_child_and_memory_given_back(tmp_path: Path, how: str):
    """stdin (size unknown: a reservation of address space), a file (sized from the
    file), and the portable path (an array that grows): the same records as convert;
    the result's memory is held while it lives and given back when it is dropped."""
    data = _csv(200_000, seed=3)  # 45 MB of records
    raw = gzip.compress(data, 1) if "gzip" in how else data
    path = tmp_path / "in.csv"
    path.write_bytes(raw)
    spec = {"no_reserve": "no reservation" in how, "workers": 2}
    if how.startswith("stdin"):
        with path.open("rb") as fh:
            facts, got = _child(tmp_path, "-", stdin=fh, **spec)
    else:
        facts, got = _child(tmp_path, str(path), **spec)
    want = _through_convert(path, tmp_path, WIDE)
    assert_same_records(got, want, how)
    size = got.nbytes
    assert size > 30 << 20
    assert facts["held"] - facts["before"] > size * 0.9  # (held: the records are there)
    assert facts["held"] - facts["after"] > size * 0.9  # ... and given back when dropped


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_compressed_input_in_bounded_memory(tmp_path: Path):
    """Converting 120 MB of gzip-compressed CSV holds a few blocks, not the input: the
    decompressing thread runs at most a few chunks ahead."""
    one = _csv(20_000, seed=5)
    head, body = one.split(b"\n", 1)
    raw = head + b"\n" + body * 30  # ~120 MB once decompressed
    path = tmp_path / "big.csv.gz"
    path.write_bytes(gzip.compress(raw, 1))
    code = textwrap.dedent(
        f"""
        import fastetl, json
        r = fastetl.convert({str(path)!r}, {str(tmp_path / "big.npy")!r}, {SCHEMA!r}, workers=2)
        peak = [int(l.split()[1]) << 10 for l in open("/proc/self/status")
                if l.startswith("VmHWM:")][0]
        print(json.dumps({{"rows": r.rows, "peak": peak, "mb_in": r.bytes_in,
                          "report": str(r)}}))
        """
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=600)
    assert p.returncode == 0, p.stderr.decode()[-2000:]
    facts = json.loads(p.stdout)
    assert facts["rows"] == raw.count(b"\n") - 1
    assert facts["mb_in"] == len(raw)  # the report counts the decompressed bytes
    assert "decompressed from" in facts["report"] and "gzip" in facts["report"]
    assert facts["peak"] < 150 << 20, facts


def test_an_error_in_compressed_input_stops_the_thread(tmp_path: Path, data):
    bad = data + b"12,notanumber,x,2024-01-01,red\n" + data.split(b"\n", 1)[1]
    path = tmp_path / "bad.csv.gz"
    path.write_bytes(gzip.compress(bad))
    with pytest.raises(fastetl.ParseError) as e:
        fastetl.read_csv(path, SCHEMA)
    assert "notanumber" in str(e.value) and "\n" not in str(e.value)
    assert not [t for t in threading.enumerate() if t.name == "fastetl-decompress"]
    with pytest.raises(fastetl.InputError) as e:  # a corrupt stream: one clear line
        fastetl.read_csv(gzip.compress(data)[:-4000], SCHEMA)
    assert "\n" not in str(e.value)
    assert not [t for t in threading.enumerate() if t.name == "fastetl-decompress"]


@pytest.mark.parametrize("reserve", [None, 1, 1 << 30])
def test_array_writer_ways_agree(expected, reserve):
    """The portable array, a reservation too small (moved to a larger one, twice or
    more) and a roomy one: the same records, and a result the caller can keep."""
    dtype = expected.dtype
    w = ArrayWriter(dtype, capacity=16, reserve_bytes=reserve)
    assert w.reserved == (reserve is not None and memory.ENABLED)
    step = 997
    for i in range(0, len(expected), step):
        w.append(expected[i : i + step])
    out = w.result()
    assert_same_records(out, expected, f"reserve={reserve}")
    out["id"][0] = 42  # writable, the caller's to keep
    assert out["id"][0] == 42


def _mapping_of(a: np.ndarray) -> object:
    """What ``a``'s memory belongs to, down its chain of bases (a view's base's base...)."""
    while isinstance(a, np.ndarray) and a.base is not None:
        a = a.base
    return a


def _can_cut() -> bool:
    """Whether this OS cuts an anonymous mapping in place (mremap: Linux)."""
    import mmap

    m = mmap.mmap(-1, 4 * mmap.PAGESIZE)
    try:
        m.resize(mmap.PAGESIZE)
        return True
    except (OSError, ValueError, SystemError, AttributeError):  # (no resize: 3.15 on macOS)
        return False
    finally:
        m.close()


def test_a_small_result_keeps_its_pages_and_gives_back_the_rest(expected):
    """A result much smaller than its reservation is not copied out (a copy faults every
    page in again): the mapping is cut to it, in place, and the address space after it
    goes back.  Where the OS cannot cut (no mremap), it is copied: the same records."""
    w = ArrayWriter(expected.dtype, capacity=16, reserve_bytes=1 << 30)
    if not w.reserved:
        pytest.skip("no reservations on this OS")
    w.append(expected)
    base = w._mem._base
    out = w.result()
    assert_same_records(out, expected, "cut")
    used = len(expected) * expected.dtype.itemsize
    if _can_cut():
        owner = _mapping_of(out)
        assert out.ctypes.data == base  # the same pages: nothing copied
        assert len(owner) == -(-used // memory._PAGE) * memory._PAGE  # the rest given back
    else:
        assert out.ctypes.data != base
    out["id"][0] = 42  # writable, the caller's to keep
    assert out["id"][0] == 42
    assert_same_records(w.result()[1:], expected[1:], "asked again")


def test_a_reservation_still_viewed_is_copied_not_cut(expected):
    """A view of the reservation still held (by anyone) stops the cut: the result is
    copied out, the same records, and the view still reads what it read."""
    mem = memory.reserve(1 << 30, expected.dtype)
    if mem is None:
        pytest.skip("no reservations on this OS")
    mem.array[: len(expected)] = expected
    held = mem.array[:10]
    used = len(expected) * expected.dtype.itemsize
    assert mem.cut(used) is None
    assert len(mem.array) == (1 << 30) // expected.dtype.itemsize  # the whole view back
    assert_same_records(held, expected[:10], "held view")
    from fastetl.store import _kept

    out = _kept(mem, None, len(expected))
    assert out.ctypes.data != mem._base  # copied
    assert_same_records(out, expected, "copied")


class _NoMremap(mmap.mmap):
    """An anonymous mapping as macOS has it: ``resize`` refuses (SystemError), or, from
    Python 3.15, is not there at all."""

    missing = False
    asked = 0

    def __getattribute__(self, name):
        if name == "resize":
            type(self).asked += 1
            if type(self).missing:
                raise AttributeError(name)
            return _refuse_resize
        return super().__getattribute__(name)


def _refuse_resize(size: int) -> None:
    raise SystemError("mmap: resizing not available--no mremap()")


@pytest.mark.parametrize("missing", [False, True], ids=["refused", "missing"])
def test_where_a_mapping_cannot_be_cut_the_result_is_copied(tmp_path, monkeypatch, missing):
    """With no mremap (macOS), a small read_csv result of a reservation is copied out of
    it, on the plain-file path and through a writer with text columns: the same records
    and values as where it is cut (here, Linux)."""
    path = tmp_path / "n.csv"  # (a long column left out: a result small beside the input)
    path.write_text("a,b,t,u\n" + "".join(f"{i},{i * 0.25},w{i % 7}x,{'long' * 20}\n"
                                          for i in range(200_000)))
    want = fastetl.read_csv(path, workers=2)
    monkeypatch.setattr(_NoMremap, "missing", missing)
    monkeypatch.setattr(_NoMremap, "asked", 0)
    monkeypatch.setattr(memory.mmap, "mmap", _NoMremap)
    packed = tmp_path / "n.csv.gz"  # (read through an ArrayWriter, not the plain-file path)
    packed.write_bytes(gzip.compress(path.read_bytes(), 1))
    for src, kw in ((path, {"workers": 2, "columns": ["a", "b"]}),
                    (packed, {"workers": 2, "types": {"t": "text"}})):
        asked = _NoMremap.asked
        got = fastetl.read_csv(src, **kw)
        for name in kw.get("columns", ["a", "b", "t"]):
            assert got[name].tolist() == want[name].tolist(), (src, name)
        if memory.reserve(1 << 20, np.dtype("u1")) is not None:
            assert _NoMremap.asked > asked, src  # (the cut was tried, and the copy taken)


def test_read_csv_of_a_plain_file_gives_back_the_address_space(tmp_path):
    """The plain-file path reserves a row per few bytes of input; its small result keeps
    the pages the workers wrote and no more address space (cut, not copied)."""
    lines = ["a,b"] + [f"{i},{i * 0.25!r}" for i in range(50_000)]
    path = tmp_path / "p.csv"
    path.write_text("\n".join(lines) + "\n")
    schema = {"dialect": {"header": True}, "columns": [
        {"name": "a", "type": "int64"}, {"name": "b", "type": "float64"}]}
    from fastetl import pipeline

    got = pipeline.read_plain_file(str(path), as_schema(schema), 2, piece=64 << 10)
    if got is None:
        pytest.skip("no plain-file path on this OS")
    assert got["a"].tolist() == list(range(50_000))
    assert got["b"].tolist() == [float(repr(i * 0.25)) for i in range(50_000)]
    if _can_cut():
        assert len(_mapping_of(got)) == -(-got.nbytes // memory._PAGE) * memory._PAGE


def test_windows_written_in_place(expected):
    """The one-thread path writes records straight into the reservation's windows."""
    w = ArrayWriter(expected.dtype, capacity=16, reserve_bytes=64 << 20)
    raw = np.ascontiguousarray(expected).view(np.uint8)
    size = expected.dtype.itemsize
    at = 0
    while at < len(expected):
        win = w.window(1000, exact=False)
        n = min(len(win) // size, len(expected) - at)
        np.frombuffer(win, np.uint8)[: n * size] = raw[at * size : (at + n) * size]
        w.advance(n)
        at += n
    assert_same_records(w.result(), expected, "windows")


def _resident(mem: memory.Reserved) -> int:
    """Bytes of the reservation ``mem`` in memory, from /proc/self/smaps."""
    start = f"{mem._base:x}-"
    with open("/proc/self/smaps") as fh:
        lines = iter(fh)
        for line in lines:
            if line.startswith(start):
                for field in lines:
                    if field.startswith("Rss:"):
                        return int(field.split()[1]) << 10
    raise AssertionError("the reservation is not in /proc/self/smaps")


def _populate_works() -> bool:
    """Whether this kernel makes pages present on request (MADV_POPULATE_WRITE, 5.14)."""
    mem = memory.reserve(1 << 20, np.dtype(np.uint8))
    return mem is not None and memory._MADVISE is not None and (
        memory._MADVISE(mem._base, memory._PAGE, memory._MADV_POPULATE_WRITE) == 0
    )


@pytest.mark.skipif(not _populate_works(), reason="no MADV_POPULATE_WRITE (Linux >= 5.14)")
def test_pages_made_ready_ahead_of_records_that_end_inside_a_page():
    """Records end anywhere in a page: the pages ahead of them are made present all the
    same (a range starting inside a page was refused, and that stopped the prefaulting
    for the rest of the run)."""
    mem = memory.reserve(96 << 20, np.dtype(np.uint8))
    assert mem is not None
    try:
        for used in range(24 * 1000 + 7, 60 << 20, (3 << 20) + 4099):  # (as blocks come)
            mem.array[:used] = 1  # (the records the writer wrote)
            mem.used(used)
            want = used + memory.PREFAULT_AHEAD_BYTES // 2
            deadline = time.monotonic() + 60  # (a bound on the wait, not a timing check)
            while mem.prefaulting and _resident(mem) < want and time.monotonic() < deadline:
                time.sleep(0.01)
            assert mem.prefaulting, f"prefaulting stopped after {used} bytes"
            assert _resident(mem) >= want
    finally:
        mem.stop()


@pytest.mark.skipif(not _populate_works(), reason="no MADV_POPULATE_WRITE (Linux >= 5.14)")
def test_no_pages_made_ready_past_the_expected_end():
    """Told where the result should end, the helper makes pages present up to there and
    no further (at most a step past what is written): pages made ready and never written
    are zeroing for nothing.  Written past the guess, the result is still whole.  (How far
    it asked the kernel is its ``_ready``; the resident size is only a lower bound: the
    kernel may merge the mapping with a neighbour in /proc/self/smaps.)"""
    mem = memory.reserve(96 << 20, np.dtype(np.uint8))
    assert mem is not None
    try:
        mem.expect(5 << 20)
        mem.array[: 1 << 20] = 1
        mem.used(1 << 20)
        deadline = time.monotonic() + 60  # (a bound on the wait, not a timing check)
        while mem.prefaulting and mem._ready < (5 << 20) and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)  # (room to go too far, were it to)
        assert mem._ready == 5 << 20
        assert _resident(mem) >= 5 << 20
        # past the guess: a step ahead of the records at most, and they are all there
        mem.array[: 20 << 20] = 2
        mem.used(20 << 20)
        while mem.prefaulting and mem._ready < (21 << 20) and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)
        assert (21 << 20) <= mem._ready <= (20 << 20) + memory.PREFAULT_STEP
        assert _resident(mem) >= 21 << 20
        assert int(mem.array[: 20 << 20].sum()) == 2 * (20 << 20)
    finally:
        mem.stop()


def test_the_writer_expects_records_and_text_in_proportion_to_the_input_read(tmp_path):
    """read_csv tells its writer how much of the input is committed; the writer expects
    its records and text to grow in proportion (a 16th more), not guessing from the
    first 64th of the input, and the result is the same as convert's."""
    schema = {"columns": [{"name": "id", "type": "int64"}, {"name": "t", "type": "text"}]}
    dtype = as_schema(schema).dtype()
    w = ArrayWriter(dtype, capacity=16, reserve_bytes=1 << 30, reserve_text=1 << 30)
    if not w.reserved:
        pytest.skip("no reservations on this OS")
    recs = np.zeros(1000, dtype)
    w.append(recs)
    w.add_text(recs[:0], b"x" * 5000)
    w.input_read(1, 1000)  # under a 64th: no guess
    assert w._mem._end is None and w._tmem._end is None
    w.input_read(100, 1000)
    size = 1000 * dtype.itemsize * 10
    assert w._mem._end == size + size // 16
    assert w._tmem._end == 50000 + 50000 // 16
    w.close()
    lines = ["id,t"] + [f"{i},{'word ' * (i % 50)}{i}" for i in range(40000)]
    path = tmp_path / "t.csv"
    path.write_text("\n".join(lines) + "\n")
    got = fastetl.read_csv(path, schema, workers=2, block_size=1 << 16)
    fastetl.convert(path, tmp_path / "t.npy", schema)
    want = fastetl.open(tmp_path / "t.npy")
    assert [r["t"] for r in got.rows(0, len(got))] == [r["t"] for r in want.rows(0, len(want))]
    assert [r["t"] for r in got.rows(39998, 40000)] == [f"{'word ' * 48}39998",
                                                        f"{'word ' * 49}39999"]  # fmt: skip


def test_records_and_text_copied_out_of_their_reservations_let_them_go(monkeypatch):
    """Where a reservation cannot be cut to a small result (no mremap: macOS), the
    records and the text are copied out, and the writer lets both reservations go (it
    kept the text's before: gigabytes of address space for as long as it lived)."""
    schema = {"columns": [{"name": "id", "type": "int64"}, {"name": "t", "type": "text"}]}
    dtype = as_schema(schema).dtype()
    w = ArrayWriter(dtype, capacity=16, reserve_bytes=1 << 30, reserve_text=1 << 30)
    if not w.reserved or not w.text_reserved:
        pytest.skip("no reservations on this OS")
    monkeypatch.setattr(memory.Reserved, "cut", lambda self, nbytes: None)
    recs = np.zeros(3, dtype)
    recs["id"] = [7, -1, 2**40]
    w.append(recs)
    w.add_text(recs, "héllo, wörld".encode())
    records, text = w.result(), w.text()
    assert records.base is None and text.base is None  # copies, not views of a mapping
    assert w._mem is None and w._tmem is None
    assert records["id"].tolist() == [7, -1, 2**40]
    assert bytes(text) == "héllo, wörld".encode()
