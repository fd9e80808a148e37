"""The output contract: a standard ``.npy`` that numpy alone can memory-map, a JSON
sidecar beside it, ``fastetl.open`` decoding it, and atomic replacement (a failed
conversion leaves an existing output and its sidecar exactly as they were).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from reference import BLOCK_SIZES, assert_same_records, reference_parse_full, listing

import fastetl
from fastetl import Schema

SCHEMA = Schema.from_dict(
    {
        "columns": [
            {"name": "pedido_id", "type": "int64"},
            {"name": "data", "type": "date"},
            {"name": "cliente", "type": "str", "width": 12, "nullable": True},
            {"name": "preco", "type": "decimal", "scale": 2},
            {"name": "categoria", "type": "category"},
            {"name": "metodo", "type": "category", "values": ["pix", "boleto", "cartao"]},
            {"name": "cupom", "type": "category", "nullable": True},
            {"name": "nota", "type": "int8", "nullable": True},
            {"name": "peso", "type": "float64", "nullable": True},
            {"name": "obs", "type": "skip"},
        ],
        "flags": [
            {
                "name": "flags",
                "type": "uint8",
                "bits": [
                    {"name": "is_prime", "column": "is_prime"},
                    {"name": "pago_pix", "column": "metodo", "equals": "pix"},
                ],
            }
        ],
    }
)
CSV = (
    "pedido_id,data,cliente,preco,categoria,metodo,cupom,nota,peso,obs,is_prime\r\n"
    "1,2024-02-29,Ana,10.50,Eletrônicos,pix,PROMO,5,1.5,x,true\r\n"
    "2,2024-03-01,,0.99,Livros,boleto,,,,y,false\r\n"
    '3,2023-12-31,"Zé, o Bom",1234.00,Eletrônicos,cartao,FRETE,-3,2.25,"a\nb",yes\r\n'
).encode()

NO_FASTETL_LOAD = r"""
import hashlib, json, sys
import numpy
a = numpy.load(sys.argv[1], mmap_mode="r")
b = numpy.load(sys.argv[1])
print(json.dumps({
    "memmap": isinstance(a, numpy.memmap),
    "dtype": str(a.dtype),
    "shape": list(a.shape),
    "sha256": hashlib.sha256(a.tobytes()).hexdigest(),
    "same": a.tobytes() == b.tobytes() and a.dtype == b.dtype,
    "fastetl_imported": any(m == "fastetl" or m.startswith("fastetl.") for m in sys.modules),
}))
"""


def load_without_fastetl(path: Path) -> dict:
    """numpy.load(path, mmap_mode="r") in a fresh isolated interpreter, fastetl never imported."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    p = subprocess.run(
        [sys.executable, "-I", "-c", NO_FASTETL_LOAD, str(path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=path.parent,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["fastetl_imported"] is False
    return out


@pytest.fixture
def converted(tmp_path: Path):
    src = tmp_path / "orders.csv"
    src.write_bytes(CSV)
    out = tmp_path / "orders.npy"
    report = fastetl.convert(src, out, SCHEMA)
    return src, out, report


def test_npy_loads_with_numpy_alone_and_equals_read_csv(converted):
    src, out, _ = converted
    expected = fastetl.read_csv(src, SCHEMA).array
    assert_same_records(expected, reference_parse_full(CSV, SCHEMA).array, "read_csv vs reference")
    got = load_without_fastetl(out)
    assert got["memmap"] is True
    assert got["same"] is True
    assert got["dtype"] == str(SCHEMA.dtype())
    assert got["shape"] == [3]
    assert got["sha256"] == hashlib.sha256(expected.tobytes()).hexdigest()
    assert_same_records(np.load(out, mmap_mode="r"), expected, "np.load vs read_csv")


def test_report(converted):
    src, out, report = converted
    assert report.rows == 3
    assert report.bytes_in == len(CSV) == src.stat().st_size
    assert report.bytes_out == out.stat().st_size
    assert Path(report.output) == out
    assert Path(report.sidecar) == Path(str(out) + ".json")
    assert report.seconds >= 0
    assert report.mb_per_s > 0


def test_sidecar(converted):
    src, out, _ = converted
    side = Path(str(out) + ".json")
    assert side.exists()
    meta = json.loads(side.read_text(encoding="utf-8"))
    assert Schema.from_dict(meta["schema"]) == SCHEMA
    assert meta["rows"] == 3
    assert meta["categories"] == {
        "categoria": ["Eletrônicos", "Livros"],
        "metodo": ["pix", "boleto", "cartao"],
        "cupom": ["PROMO", "FRETE"],
    }
    assert meta["flags"] == {"flags": ["is_prime", "pago_pix"]}
    assert meta["nulls"]["null_bits"] == ["cliente", "cupom", "nota"]
    st = src.stat()
    assert Path(meta["source"]["path"]).resolve() == src.resolve()
    assert meta["source"]["size"] == st.st_size
    assert abs(float(meta["source"]["mtime"]) - st.st_mtime) < 1.0


def test_sidecar_dictionaries_match_the_reference(tmp_path: Path):
    rows = ["c,n"] + [f"v{(i * 7919) % 97},{i}" for i in range(3000)]
    data = ("\n".join(rows) + "\n").encode()
    src = tmp_path / "cats.csv"
    src.write_bytes(data)
    s = Schema.from_dict(
        {"columns": [{"name": "c", "type": "category"}, {"name": "n", "type": "int32"}]}
    )
    ref = reference_parse_full(data, s)
    for bs in (None, 1, 64, 4096):
        out = tmp_path / f"cats{bs}.npy"
        fastetl.convert(src, out, s, block_size=bs)
        meta = json.loads(Path(str(out) + ".json").read_text(encoding="utf-8"))
        assert meta["categories"]["c"] == ref.categories["c"]
        assert_same_records(np.load(out), ref.array, f"block_size={bs}")


def test_open_decodes(converted):
    _, out, _ = converted
    t = fastetl.open(out)
    assert len(t) == 3
    assert isinstance(t.array, np.memmap)
    assert t.array.dtype == SCHEMA.dtype()
    assert t.schema == SCHEMA
    assert t.meta["rows"] == 3
    assert t["pedido_id"].tolist() == [1, 2, 3]
    assert (
        t["data"].tolist() == np.array(["2024-02-29", "2024-03-01", "2023-12-31"], "M8[D]").tolist()
    )
    cat = t["categoria"]
    assert cat.dtype == object and cat.tolist() == ["Eletrônicos", "Livros", "Eletrônicos"]
    assert t["metodo"].tolist() == ["pix", "boleto", "cartao"]
    assert t["cupom"].tolist() == ["PROMO", None, "FRETE"]
    cli = t["cliente"]
    assert cli.dtype == object and cli.tolist() == ["Ana", None, "Zé, o Bom"]
    nota = t["nota"]
    assert isinstance(nota, np.ma.MaskedArray)
    assert nota.mask.tolist() == [False, True, False]
    assert nota.compressed().tolist() == [5, -3]
    peso = np.asarray(t["peso"], dtype=float)
    assert peso[0] == 1.5 and np.isnan(peso[1]) and peso[2] == 2.25
    isp = t["is_prime"]
    assert isp.dtype == bool and isp.tolist() == [True, False, True]
    assert t["pago_pix"].tolist() == [True, False, False]
    # values: floats (as float(text)); stored: the scaled integers; exact: Decimal
    assert t["preco"].dtype == np.dtype("float64") and t["preco"].tolist() == [10.5, 0.99, 1234.0]
    assert t.raw("preco").dtype == np.dtype("int64")
    assert t.raw("preco").tolist() == [1050, 99, 123400]
    decs = t.decimal("preco")
    assert list(decs) == [Decimal("10.50"), Decimal("0.99"), Decimal("1234.00")]
    assert all(isinstance(d, Decimal) for d in decs)


def test_to_pandas(converted):
    import pandas as pd  # a test extra (pyproject: [test])

    _, out, _ = converted
    df = fastetl.open(out).to_pandas()
    assert isinstance(df, pd.DataFrame)
    assert len(df) == 3
    assert df["pedido_id"].tolist() == [1, 2, 3]
    assert df["categoria"].astype(object).tolist() == ["Eletrônicos", "Livros", "Eletrônicos"]
    assert df["cliente"][0] == "Ana" and pd.isna(df["cliente"][1])
    assert df["nota"][0] == 5 and pd.isna(df["nota"][1]) and df["nota"][2] == -3
    assert pd.isna(df["peso"][1])


# -- atomicity -----------------------------------------------------------------------------


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {n: (folder / n).read_bytes() for n in listing(folder) if (folder / n).is_file()}


def test_failed_conversion_leaves_existing_output_untouched(tmp_path: Path):
    s = Schema.from_dict(
        {"columns": [{"name": "id", "type": "int64"}, {"name": "v", "type": "float64"}]}
    )
    good = tmp_path / "good.csv"
    good.write_bytes(b"id,v\n1,1.5\n2,2.5\n")
    out = tmp_path / "out.npy"
    fastetl.convert(good, out, s)
    n = 300_000
    big = tmp_path / "big.csv"
    with big.open("wb") as fh:
        fh.write(b"id,v\n")
        fh.write(b"".join(b"%d,%d.25\n" % (i, i) for i in range(n)))
        fh.write(b"%d,oops\n" % n)
    assert big.stat().st_size > 4_000_000
    before = _snapshot(tmp_path)

    for bs in (None, 4096):
        with pytest.raises(fastetl.ParseError) as ei:
            fastetl.convert(big, out, s, block_size=bs)
        assert (ei.value.line, ei.value.column, ei.value.value) == (n + 2, "v", "oops")
        assert _snapshot(tmp_path) == before  # same files, same bytes: no temp files left

    with pytest.raises(fastetl.SchemaError):  # a bad schema
        fastetl.convert(good, out, {"columns": [{"name": "id", "type": "int65"}]})
    assert _snapshot(tmp_path) == before
    with pytest.raises(fastetl.SchemaError):  # a schema that does not match the header
        fastetl.convert(good, out, {"columns": [{"name": "id", "type": "int64"}]})
    assert _snapshot(tmp_path) == before
    with pytest.raises(OSError):  # a missing input
        fastetl.convert(tmp_path / "missing.csv", out, s)
    assert _snapshot(tmp_path) == before
    assert np.load(out).tolist() == [(1, 1.5), (2, 2.5)]


def test_failed_first_conversion_leaves_nothing(tmp_path: Path):
    s = Schema.from_dict({"columns": [{"name": "id", "type": "int8"}]})
    src = tmp_path / "in.csv"
    src.write_bytes(b"id\n1\n300\n")
    before = _snapshot(tmp_path)
    with pytest.raises(fastetl.ParseError):
        fastetl.convert(src, tmp_path / "out.npy", s)
    assert _snapshot(tmp_path) == before


def test_successful_conversion_replaces_output(tmp_path: Path):
    s = Schema.from_dict({"columns": [{"name": "id", "type": "int32"}]})
    src = tmp_path / "in.csv"
    out = tmp_path / "out.npy"
    src.write_bytes(b"id\n1\n2\n3\n")
    fastetl.convert(src, out, s)
    src.write_bytes(b"id\n7\n")
    fastetl.convert(src, out, s)
    assert np.load(out)["id"].tolist() == [7]
    assert json.loads(Path(str(out) + ".json").read_text())["rows"] == 1
    assert listing(tmp_path) == ["in.csv", "out.npy", "out.npy.json"]


@pytest.mark.parametrize(
    "data", [b"", b"\n\n", b"\xef\xbb\xbf", b"id,name\n", b"id,name", b"id,name\r\n\r\n"]
)
def test_empty_and_header_only_inputs_give_zero_rows(tmp_path: Path, data):
    s = Schema.from_dict(
        {"columns": [{"name": "id", "type": "int64"}, {"name": "name", "type": "category"}]}
    )
    src = tmp_path / "in.csv"
    src.write_bytes(data)
    out = tmp_path / "out.npy"
    report = fastetl.convert(src, out, s)
    assert report.rows == 0
    got = load_without_fastetl(out)
    assert got["shape"] == [0] and got["dtype"] == str(s.dtype())
    meta = json.loads(Path(str(out) + ".json").read_text(encoding="utf-8"))
    assert meta["rows"] == 0
    assert meta["categories"] == {"name": []}
    t = fastetl.open(out)
    assert len(t) == 0 and t["name"].tolist() == []
    arr = fastetl.read_csv(data, s)
    assert arr.array.shape == (0,) and arr.array.dtype == s.dtype()
    assert len(arr) == 0 and arr["name"].tolist() == []


QUOTED_LINES_SCHEMA = Schema.from_dict(
    {
        "columns": [
            {"name": "id", "type": "int32"},
            {"name": "txt", "type": "str", "width": 12},
            {"name": "cat", "type": "category"},
        ]
    }  # fmt: skip
)


def _quoted_lines_csv(path: Path, rows: int) -> Path:
    """``rows`` CRLF rows of (id, a quoted text with a CRLF and a comma inside, a category)."""
    lines = ["id,txt,cat"] + [f'{i},"l{i}\r\nx,{i % 3}",c{i % 5}' for i in range(rows)]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode())
    return path


def test_same_bytes_out_for_every_block_size_and_workers(tmp_path: Path):
    src = _quoted_lines_csv(tmp_path / "in.csv", 400)
    s = QUOTED_LINES_SCHEMA
    digests = {}
    for bs in BLOCK_SIZES:
        for workers in (1, 2, 4):
            out = tmp_path / f"out{bs}-{workers}.npy"
            fastetl.convert(src, out, s, block_size=bs, workers=workers)
            digests[(bs, workers)] = hashlib.sha256(out.read_bytes()).hexdigest()
    assert len(set(digests.values())) == 1, digests


# -- input and schema forms ------------------------------------------------------------------------


def test_read_csv_accepts_every_source_and_schema_form(tmp_path: Path):
    src = tmp_path / "orders.csv"
    src.write_bytes(CSV)
    schema_path = tmp_path / "schema.json"
    SCHEMA.save(schema_path)
    expected = reference_parse_full(CSV, SCHEMA).array
    sources = {
        "str path": lambda: str(src),
        "Path": lambda: src,
        "file object": lambda: io.BytesIO(CSV),
        "open file": lambda: src.open("rb"),
        "bytes": lambda: CSV,
        "bytearray": lambda: bytearray(CSV),
        "memoryview": lambda: memoryview(CSV),
    }
    schemas = {
        "Schema": SCHEMA,
        "dict": SCHEMA.to_dict(),
        "JSON text": SCHEMA.to_json(),
        "path str": str(schema_path),
        "Path": schema_path,
    }
    for sname, make in sources.items():
        for kname, sch in schemas.items():
            obj = make()
            try:
                arr = fastetl.read_csv(obj, sch).array
            finally:
                if hasattr(obj, "close"):
                    obj.close()
            assert_same_records(arr, expected, f"source {sname}, schema {kname}")


def test_convert_accepts_a_file_object(tmp_path: Path):
    out = tmp_path / "o.npy"
    report = fastetl.convert(io.BytesIO(CSV), out, SCHEMA)
    assert report.rows == 3
    assert_same_records(np.load(out), reference_parse_full(CSV, SCHEMA).array, "convert(BytesIO)")


# -- syncing ahead ---------------------------------------------------------------------------------


def _sync_threads() -> list:
    import threading

    return [t for t in threading.enumerate() if t.name == "fastetl-sync"]


@pytest.mark.parametrize("workers", [1, 2])
def test_syncing_ahead_keeps_the_bytes_and_ends_its_thread(tmp_path: Path, monkeypatch, workers):
    """With a sync every 16 KiB, a conversion starts the sync thread, writes the bytes
    a run without it writes, and leaves no thread behind when it returns."""
    from fastetl import store
    from fastetl.demo import demo_schema, generate_orders_bytes

    src = tmp_path / "in.csv"
    src.write_bytes(generate_orders_bytes(3000))  # about 0.8 MB of records
    plain = tmp_path / "plain.npy"
    fastetl.convert(src, plain, demo_schema(), workers=workers)

    started = []

    class CountedSyncer(store._Syncer):
        def __init__(self, fd: int) -> None:
            started.append(fd)
            super().__init__(fd)

    monkeypatch.setattr(store, "SYNC_AHEAD_BYTES", 16 << 10)
    monkeypatch.setattr(store, "_Syncer", CountedSyncer)
    ahead = tmp_path / "ahead.npy"
    fastetl.convert(src, ahead, demo_schema(), workers=workers, block_size=64 << 10)
    assert len(started) == 1
    assert ahead.read_bytes() == plain.read_bytes()
    assert _sync_threads() == []


@pytest.mark.parametrize("workers", [1, 2])
def test_the_text_file_is_synced_ahead_too(tmp_path: Path, monkeypatch, workers):
    """The text columns' file (``OUT.text.npy``) is synced on a thread of its own as it
    is written, not all at commit; both files come out as a run without syncing ahead
    writes them, every value as Python's csv module reads it, and no thread is left."""
    import csv

    from fastetl import store

    rows = [[str(i), "v" * (i % 97), f'say "{i}", then stop'] for i in range(4000)]
    src = tmp_path / "in.csv"
    with open(src, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n").writerows([["id", "a", "b"], *rows])
    schema = {
        "columns": [
            {"name": "id", "type": "int64"},
            {"name": "a", "type": "text"},
            {"name": "b", "type": "text"},
        ]
    }
    plain = tmp_path / "plain.npy"
    fastetl.convert(src, plain, schema, workers=workers)

    # (the files given a sync thread, by inode: a file keeps it when it is renamed into
    # place; whether that thread gets a core before the commit's own fsync is the
    # scheduler's business, so its fsyncs are not counted)
    given: set[int] = set()
    syncer_init = store._Syncer.__init__

    def recording_init(self, fd):
        given.add(os.fstat(fd).st_ino)
        syncer_init(self, fd)

    monkeypatch.setattr(store, "SYNC_AHEAD_BYTES", 16 << 10)
    monkeypatch.setattr(store._Syncer, "__init__", recording_init)
    ahead = tmp_path / "ahead.npy"
    fastetl.convert(src, ahead, schema, workers=workers, block_size=32 << 10)
    assert store.text_path(ahead).stat().st_ino in given
    assert ahead.stat().st_ino in given
    assert ahead.read_bytes()[:-32] == plain.read_bytes()[:-32]  # (the pair trailer differs)
    t_ahead = store.text_path(ahead).read_bytes()
    assert t_ahead[:-32] == store.text_path(plain).read_bytes()[:-32]
    got = fastetl.open(ahead)
    assert list(got["b"]) == [r[2] for r in rows]
    assert list(got["a"]) == [r[1] for r in rows]
    assert _sync_threads() == []


def _until(what, timeout: float = 30.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not what():
        assert time.monotonic() < deadline, "the sync thread did not get there in time"
        time.sleep(0.001)


def _writer_past_sync_ahead(tmp_path: Path, monkeypatch):
    """An NpyWriter into tmp_path/out.npy that has written past SYNC_AHEAD_BYTES."""
    from fastetl import store

    monkeypatch.setattr(store, "SYNC_AHEAD_BYTES", 4096)
    dtype = np.dtype([("a", "<i8"), ("b", "S24")])
    w = store.NpyWriter(tmp_path / "out.npy", dtype)
    recs = np.zeros(1000, dtype)
    recs["a"] = np.arange(1000)
    w.append(recs)  # 32 KB: a sync is asked for
    return w, recs


def test_the_sync_thread_syncs_on_its_own_descriptor(tmp_path: Path, monkeypatch):
    """The thread fsyncs the file while it is being written, through a descriptor of
    its own that it closes when it ends; the file commits whole."""
    import threading

    synced = []
    real_fsync = os.fsync

    def counting_fsync(fd):
        if threading.current_thread().name == "fastetl-sync":
            synced.append(fd)
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", counting_fsync)
    w, recs = _writer_past_sync_ahead(tmp_path, monkeypatch)
    _until(lambda: len(synced) >= 1)
    own = synced[0]
    assert own != w._fd
    w.commit({})
    assert _sync_threads() == []
    with pytest.raises(OSError):
        os.fstat(own)  # closed by the thread
    assert np.load(tmp_path / "out.npy")["a"].tolist() == recs["a"].tolist()


def _resident_pages(path: Path) -> list[bool]:
    """Which pages of the file are in the page cache (mincore on a mapping of it)."""
    import ctypes
    import mmap

    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [
        ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int,
        ctypes.c_long,
    ]  # fmt: skip
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
    size = path.stat().st_size
    vec = (ctypes.c_ubyte * ((size + mmap.PAGESIZE - 1) // mmap.PAGESIZE))()
    fd = os.open(path, os.O_RDONLY)
    try:
        addr = libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
        assert addr not in (None, ctypes.c_void_p(-1).value), os.strerror(ctypes.get_errno())
        try:
            assert libc.mincore(addr, size, vec) == 0, os.strerror(ctypes.get_errno())
        finally:
            libc.munmap(addr, size)
    finally:
        os.close(fd)
    return [bool(v & 1) for v in vec]


def _drops_pages(folder: Path) -> bool:
    """Whether this file system takes pages out of the page cache when told to (tmpfs,
    for one, cannot: its pages are the file)."""
    probe = folder / "probe"
    probe.write_bytes(b"x" * (1 << 16))
    fd = os.open(probe, os.O_RDWR)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
    dropped = not any(_resident_pages(probe))
    probe.unlink()
    return dropped


@pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="posix_fadvise and mincore: Linux only"
)
def test_synced_records_leave_the_page_cache(tmp_path: Path, monkeypatch):
    """After each background sync the synced whole pages are dropped from the page
    cache; the pages written since stay; the committed file is whole."""
    import mmap

    from fastetl import store

    monkeypatch.setattr(store, "SYNC_AHEAD_BYTES", 64 << 10)
    dtype = np.dtype([("a", "<i8"), ("b", "S56")])  # 64-byte records
    w = store.NpyWriter(tmp_path / "out.npy", dtype)
    chunk = np.zeros(4096, dtype)  # 256 KiB a write: a sync asked for each time
    for i in range(6):
        chunk["a"] = np.arange(i * 4096, (i + 1) * 4096)
        w.append(chunk)
        end = w.data_offset + w.rows * dtype.itemsize
        _until(lambda end=end: w._syncer.dropped == end - end % mmap.PAGESIZE)
    dropped = w._syncer.dropped // mmap.PAGESIZE
    tail = np.zeros(300, dtype)  # 19 KB more: below SYNC_AHEAD_BYTES, no sync asked
    tail["a"] = np.arange(6 * 4096, 6 * 4096 + 300)
    w.append(tail)
    pages = _resident_pages(w.tmp_path)
    assert dropped > len(pages) * 0.9
    assert all(pages[dropped:]), "the pages written since the last sync are cached"
    if _drops_pages(tmp_path):
        assert not any(pages[:dropped]), "synced pages stayed in the page cache"
    w.commit({})
    assert np.load(tmp_path / "out.npy")["a"].tolist() == list(range(6 * 4096 + 300))


@pytest.mark.parametrize("then", ["commit", "checkpoint"])
def test_a_failed_background_sync_fails_what_comes_next(tmp_path: Path, monkeypatch, then):
    """An fsync error on the sync thread (an I/O error while the disk writes the
    records back) fails the commit, or the next checkpoint sync, with an OutputError
    naming the file; a failed commit leaves no file behind.  (No test machine has a
    disk that fails on demand: the error is injected into the sync thread's fsync.)"""
    import errno
    import threading

    real_fsync = os.fsync

    def failing_fsync(fd):
        if threading.current_thread().name == "fastetl-sync":
            raise OSError(errno.EIO, "Input/output error")
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", failing_fsync)
    w, _ = _writer_past_sync_ahead(tmp_path, monkeypatch)
    _until(lambda: w._syncer is not None and w._syncer.error is not None)
    with pytest.raises(fastetl.OutputError) as ei:
        if then == "commit":
            w.commit({})
        else:
            w.sync()
    assert str(ei.value).startswith(f"cannot write {tmp_path}")
    assert str(ei.value).endswith("Input/output error")
    if then == "checkpoint":
        w.abort()
    assert listing(tmp_path) == []
    assert _sync_threads() == []


# -- one worker: pipelined, or serial on one CPU ---------------------------------------------------


@pytest.mark.parametrize("cpus", [1, 2])
def test_one_worker_writes_the_same_bytes_pipelined_or_not(tmp_path: Path, monkeypatch, cpus):
    """With more than one CPU, ``workers=1`` parses on a worker thread while the calling
    thread writes (the threaded pipeline); on one CPU, one thread parses into the
    writer's reused window.  Both give the bytes of a 2-worker run, on rows with quoted
    line breaks, CRLF and categories, at block sizes from tiny to default."""
    from fastetl import api, pipeline

    src = _quoted_lines_csv(tmp_path / "in.csv", 3000)
    s = QUOTED_LINES_SCHEMA
    two = tmp_path / "two.npy"
    fastetl.convert(src, two, s, workers=2, block_size=4096)

    threaded = []
    real_run_parallel = pipeline._run_parallel

    def counting_run_parallel(*args, **kwargs):
        threaded.append(True)
        return real_run_parallel(*args, **kwargs)

    monkeypatch.setattr(api, "cpu_count", lambda: cpus)
    monkeypatch.setattr(pipeline, "_run_parallel", counting_run_parallel)
    for bs in (7, 4096, None):
        out = tmp_path / f"one-{bs}.npy"
        fastetl.convert(src, out, s, workers=1, block_size=bs)
        assert out.read_bytes() == two.read_bytes(), bs
    assert len(threaded) == (3 if cpus > 1 else 0)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_while_abort_waits_for_a_sync_still_removes_the_temp_file(
    tmp_path: Path, monkeypatch
):
    """A second Ctrl-C that lands while ``abort`` waits for a slow background fsync
    interrupts the wait, not the clean-up: the temporary file is gone all the same."""
    import signal
    import threading

    from fastetl import store

    real_fsync = os.fsync
    in_sync, aborted = threading.Event(), threading.Event()
    main = threading.main_thread()

    def main_waits_for_the_sync() -> bool:
        frame = sys._current_frames().get(main.ident)
        while frame is not None and frame.f_code is not store._Syncer.stop.__code__:
            frame = frame.f_back
        return frame is not None

    def slow_fsync(fd):
        # the sync thread's first fsync lasts until abort has waited for it and been
        # interrupted (no timer: the Ctrl-C comes when the wait is under way)
        if threading.current_thread().name == "fastetl-sync" and not in_sync.is_set():
            in_sync.set()
            _until(main_waits_for_the_sync)
            signal.pthread_kill(main.ident, signal.SIGINT)
            aborted.wait(30)
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", slow_fsync)
    w, _ = _writer_past_sync_ahead(tmp_path, monkeypatch)
    assert in_sync.wait(30)
    try:
        with pytest.raises(KeyboardInterrupt):
            w.abort()
    finally:
        aborted.set()
    assert listing(tmp_path) == []
    _until(lambda: _sync_threads() == [])  # the thread ends on its own
