"""Every kind of input, compressed or not: a path (whatever its suffix), stdin, a FIFO, a
binary or text file object, bytes.  Compressed data (gzip, bzip2, xz, zstd, a zip of one
CSV) is recognised by its first bytes and must convert to exactly the records the
uncompressed file gives, through the real ``fastetl convert`` and through the API."""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import json
import lzma
import os
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
from test_cli import run as run_cli

import fastetl

ROWS = 3000
TEXT = "id,nome,preco,quando\n" + "".join(
    f'{i},"Cliente {i}, São Paulo ç",{i}.{i % 100:02d},2024-01-{1 + i % 28:02d}\n'
    for i in range(ROWS)
)
DATA = TEXT.encode("utf-8")


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def _zstd(data: bytes) -> bytes:
    zstandard = pytest.importorskip("zstandard")  # the optional extra fastetl[zstd]
    return zstandard.ZstdCompressor().compress(data)


COMPRESS = {
    "gzip": gzip.compress,
    "bzip2": bz2.compress,
    "xz": lzma.compress,
    "zstd": _zstd,
    "zip": lambda d: _zip({"folder/orders.csv": d}),
}


@pytest.fixture(scope="module")
def plain(tmp_path_factory) -> tuple[Path, np.ndarray, Path]:
    """The uncompressed file, its conversion (the reference records) and its schema."""
    d = tmp_path_factory.mktemp("plain")
    src = d / "orders.csv"
    src.write_bytes(DATA)
    out = d / "orders.npy"
    code, _, err = run_cli("convert", str(src), str(out))
    assert code == 0, err
    schema = d / "schema.json"
    schema.write_text(json.dumps(json.load(open(str(out) + ".json"))["schema"]))
    ref = np.load(out)
    # the reference itself reads the text as Python's csv module does
    rows = list(csv.reader(io.StringIO(TEXT)))[1:]
    assert len(ref) == ROWS
    assert [r[0] for r in rows[:50]] == [str(x) for x in ref["id"][:50]]
    assert [r[1] for r in rows[:50]] == [x.decode() for x in ref["nome"][:50]]
    return schema, ref, out


def same_records(out: Path, ref: np.ndarray) -> None:
    got = np.load(out)
    assert got.dtype == ref.dtype
    assert got.tobytes() == ref.tobytes()


def fifo_convert(fifo: Path, payload: bytes, args: list[str]) -> tuple[int, str]:
    """Run the CLI reading ``fifo`` while a thread writes ``payload`` into it."""

    def writer() -> None:
        with open(fifo, "wb") as fh:  # blocks until the CLI opens it
            try:
                fh.write(payload)
            except BrokenPipeError:
                pass

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    p = subprocess.run([sys.executable, "-m", "fastetl", *args], capture_output=True, timeout=120)
    t.join(30)
    err = p.stderr.decode("utf-8", "replace")
    assert "Traceback" not in err, err
    return p.returncode, err


@pytest.mark.parametrize("with_schema", [False, True], ids=["inferred", "schema"])
@pytest.mark.parametrize("how", ["path", "stdin", "fifo"])
@pytest.mark.parametrize("kind", list(COMPRESS))
def test_compressed_input_converts_like_the_plain_file(plain, tmp_path, kind, how, with_schema):
    schema, ref, _ = plain
    payload = COMPRESS[kind](DATA)
    out = tmp_path / "out.npy"
    extra = ["--schema", str(schema)] if with_schema else []
    if how == "path":  # a misleading suffix: the content decides
        src = tmp_path / "orders.csv"
        src.write_bytes(payload)
        code, _, err = run_cli("convert", str(src), str(out), *extra)
        where = str(src.resolve())
    elif how == "stdin":
        code, _, err = run_cli("convert", "-", str(out), *extra, stdin=payload)
        where = "<stdin>"
    else:
        if not hasattr(os, "mkfifo"):
            pytest.skip("no FIFOs on this system")
        fifo = tmp_path / "in.fifo"
        os.mkfifo(fifo)
        code, err = fifo_convert(fifo, payload, ["convert", str(fifo), str(out), *extra])
        where = str(fifo.resolve()) if with_schema else str(fifo)
    assert code == 0, err
    same_records(out, ref)
    facts = json.load(open(str(out) + ".json"))["source"]
    assert facts["path"] == where
    assert facts["compression"] == kind
    if kind == "zip":
        assert facts["member"] == "folder/orders.csv"


@pytest.mark.parametrize("kind", [None, *COMPRESS])
def test_binary_file_objects_and_bytes(plain, tmp_path, kind):
    _, ref, _ = plain
    payload = DATA if kind is None else COMPRESS[kind](DATA)
    p = tmp_path / "in.bin"
    p.write_bytes(payload)
    with open(p, "rb") as fh:
        same_records_of(fastetl.read_csv(fh).array, ref)
    same_records_of(fastetl.read_csv(payload).array, ref)
    with open(p, "rb") as fh:
        fastetl.convert(fh, tmp_path / "o.npy")
    same_records(tmp_path / "o.npy", ref)


def same_records_of(arr: np.ndarray, ref: np.ndarray) -> None:
    assert arr.dtype == ref.dtype and arr.tobytes() == ref.tobytes()


class _Pipe:
    """A binary stream that cannot seek and gives short reads, like a pipe."""

    def __init__(self, data: bytes) -> None:
        self._b = io.BytesIO(data)

    def read(self, n: int = -1) -> bytes:
        return self._b.read(7 if n is None or n < 0 else min(n, 7))


@pytest.mark.parametrize("kind", list(COMPRESS))
def test_a_stream_that_cannot_seek(plain, kind):
    schema, ref, _ = plain
    payload = COMPRESS[kind](DATA)
    same_records_of(fastetl.read_csv(_Pipe(payload), fastetl.Schema.load(schema)).array, ref)
    same_records_of(fastetl.read_csv(_Pipe(payload)).array, ref)


def test_text_file_objects_are_read_as_their_characters(plain, tmp_path):
    """io.StringIO and open(p, "r"): the characters are encoded to UTF-8, never decoded
    again (an encoding given for bytes does not apply to them)."""
    schema, ref, _ = plain
    same_records_of(fastetl.read_csv(io.StringIO(TEXT)).array, ref)
    p = tmp_path / "latin.csv"
    p.write_bytes(TEXT.encode("cp1252"))
    with open(p, encoding="cp1252") as fh:
        same_records_of(fastetl.read_csv(fh).array, ref)
    with open(p, encoding="cp1252") as fh:
        got = fastetl.read_csv(fh, fastetl.Schema.load(schema)).array
    same_records_of(got, ref)
    # a schema that says cp1252 does not decode the characters a second time
    s = fastetl.Schema.load(schema)
    s = s.replace(dialect=fastetl.Dialect.from_dict(s.dialect.to_dict() | {"encoding": "cp1252"}))
    same_records_of(fastetl.read_csv(io.StringIO(TEXT), s).array, ref)
    fastetl.convert(io.StringIO(TEXT), tmp_path / "o.npy")
    same_records(tmp_path / "o.npy", ref)


def test_a_lone_surrogate_in_a_text_object_is_a_clear_error():
    with pytest.raises(fastetl.InputError) as info:
        fastetl.read_csv(
            io.StringIO("a\n\udcff\n"),
            fastetl.Schema.from_dict({"columns": [{"name": "a", "type": "str", "width": 8}]}),
        )
    assert "surrogate" in str(info.value)


def test_a_zip_of_several_files_is_refused_naming_them(tmp_path):
    names = [f"part{i}.csv" for i in range(12)]
    src = tmp_path / "many.zip"
    src.write_bytes(_zip({n: DATA[:100] for n in names}))
    for args, stdin in (((str(src),), None), (("-",), src.read_bytes())):
        code, _, err = run_cli("convert", *args, str(tmp_path / "o.npy"), "-q", stdin=stdin)
        assert code == 1
        assert err.count("\n") == 1
        assert "12 files" in err and "'part0.csv'" in err and "'part9.csv'" in err
        assert "'part10.csv'" not in err  # listed up to ten
        assert not (tmp_path / "o.npy").exists()


@pytest.mark.parametrize("kind", ["gzip", "bzip2", "xz", "zstd", "zip"])
def test_corrupt_compressed_data_is_one_line(tmp_path, kind):
    """Compressed data cut in half: one line, no output (zstd's reader ended quietly
    there, and the rows before the cut were converted as if they were the file)."""
    payload = COMPRESS[kind](DATA)
    cut = payload[: len(payload) // 2]
    code, _, err = run_cli("convert", "-", str(tmp_path / "o.npy"), "-q", stdin=cut)
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("fastetl: ")
    assert not (tmp_path / "o.npy").exists()


def test_stdin_without_a_schema_is_named_stdin(plain, tmp_path):
    _, ref, _ = plain
    out = tmp_path / "o.npy"
    code, _, err = run_cli("convert", "-", str(out), stdin=DATA)
    assert code == 0, err
    same_records(out, ref)
    assert json.load(open(str(out) + ".json"))["source"]["path"] == "<stdin>"
    code, stdout, err = run_cli("infer", "-", stdin=gzip.compress(DATA))
    assert code == 0, err
    assert [c["name"] for c in json.loads(stdout)["columns"]] == ["id", "nome", "preco", "quando"]


# -- memory stays bounded: compressed stdin is decompressed as it is read -------------------

WELL_UNDER = 110 << 20  # as tests/test_memory_bounds.py: the process, interpreter included
MEM_CHILD = r"""
import json, sys
spec = json.loads(sys.argv[1])
import fastetl
r = fastetl.convert("-", spec["out"], spec["schema"])
for line in open("/proc/self/status"):
    if line.startswith("VmHWM:"):
        peak = int(line.split()[1]) << 10
print(json.dumps({"rows": r.rows, "peak": peak}))
"""
MEM_SCHEMA = {
    "dialect": {"delimiter": ",", "quote": '"', "header": True},
    "columns": [
        {"name": "a", "type": "int64"},
        {"name": "note", "type": "skip"},
        {"name": "x", "type": "float64"},
    ],
}


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="peak memory read from /proc")
@pytest.mark.parametrize("kind", ["gzip", "zstd", "zip"])
@pytest.mark.parametrize("with_schema", [True, False], ids=["schema", "inferred"])
def test_compressed_stdin_in_bounded_memory(tmp_path, kind, with_schema):
    """160 MB of CSV, compressed, on stdin: the child's peak stays under 110 MB (a
    whole decompressed copy would not fit), and every record is right."""
    block_rows = 1000
    note = "n" * 140
    block = b"".join(b"%d,%s,%d.25\n" % (i, note.encode(), i) for i in range(block_rows))
    reps = (160 << 20) // len(block)
    payload = COMPRESS[kind](b"a,note,x\n" + block * reps)
    out = tmp_path / "o.npy"
    spec = {"out": str(out), "schema": MEM_SCHEMA if with_schema else None}
    p = subprocess.run(
        [sys.executable, "-c", MEM_CHILD, json.dumps(spec)],
        input=payload,
        capture_output=True,
        timeout=600,
    )
    assert p.returncode == 0, p.stderr.decode(errors="replace")[-2000:]
    report = json.loads(p.stdout.decode().splitlines()[-1])
    assert report["rows"] == block_rows * reps
    assert report["peak"] < WELL_UNDER, f"peak {report['peak'] / 1e6:.0f} MB"
    got = np.load(out, mmap_mode="r")
    ids = np.tile(np.arange(block_rows), reps)
    assert np.array_equal(got["a"], ids)
    assert np.array_equal(got["x"], ids + 0.25)
