"""Inputs that change while they are read (issue 14, item 4).

A file is converted as a consistent snapshot: the bytes it had when it was opened.
A file that shrinks during the run is a one-line InputError naming it (it used to be
memory-mapped, and the process died of SIGBUS); a file that grows is read to its
size at open, and a last line with no line break is a row only if the file has not
grown since (else it was being written: it is left out, and the sidecar says so).

Truncations run in real child processes: on a memory-mapped input they kill the
process, which must show as a failed test, not as a dead test run.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from reference import SLOW_CLI, assert_same_records, csv_bytes, held, reference_parse

import fastetl
from fastetl import pipeline
from fastetl.schema import Schema
from fastetl.sources import open_source
from fastetl.store import ArrayWriter

AB = {
    "columns": [
        {"name": "a", "type": "str", "width": 16},
        {"name": "b", "type": "str", "width": 16},
    ]
}

ROWS = {
    "columns": [
        {"name": "id", "type": "int64"},
        {"name": "name", "type": "str", "width": 24},
        {"name": "kind", "type": "category"},
        {"name": "price", "type": "decimal", "scale": 2},
    ]
}


def rows_csv(n: int, *, eol: str = "\n", final_eol: bool = True) -> bytes:
    rows = [["id", "name", "kind", "price"]]
    for i in range(n):
        name = ["plain", "x,y", 'a "q" b', "multi\nline", ""][i % 5]
        rows.append([str(i), name, f"k{i % 13}", f"{i % 1000}.{i % 100:02d}"])
    return csv_bytes(rows, eol=eol, final_eol=final_eol)


def names(folder: Path) -> list[str]:
    """The files in ``folder``, hidden temporary files included; not an output's lock
    file, which holds no data and may stay."""
    return sorted(n for n in os.listdir(folder) if not n.endswith(".fastetl-lock"))


def folder_state(folder: Path) -> dict[str, bytes]:
    """Every file of :func:`names` with its bytes."""
    return {n: (folder / n).read_bytes() for n in names(folder)}


def no_signal(p: subprocess.CompletedProcess | subprocess.Popen) -> None:
    rc = p.returncode
    bus = getattr(signal, "SIGBUS", None)  # (none on Windows)
    assert rc >= 0 and (bus is None or rc != 128 + bus), f"the converter died of a signal ({rc})"


# -- a file that shrinks ----------------------------------------------------------------------

# Truncates its input from its first progress call (after the first blocks, with
# many still to read), then reports how the conversion ended.
TRUNCATE_CHILD = textwrap.dedent(
    r"""
    import json, os, sys
    import fastetl
    src, dst, schema, workers, keep = sys.argv[1:6]
    done = []
    def cut(n, total):
        if not done:
            done.append(n)
            os.truncate(src, int(keep))
    try:
        fastetl.convert(src, dst, json.loads(schema), workers=int(workers), block_size=1 << 12,
                        progress=cut)
    except fastetl.InputError as e:
        print(f"{type(e).__name__}: {e}")
        sys.exit(1)
    print("converted")
    """
)


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("keep", [0, 5000])
def test_truncated_from_a_progress_call_is_an_input_error(tmp_path, workers, keep):
    src = tmp_path / "in.csv"
    data = rows_csv(20_000)
    src.write_bytes(data)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    dst = out_dir / "OUT.npy"
    p = subprocess.run(
        [
            sys.executable,
            "-c",
            TRUNCATE_CHILD,
            str(src),
            str(dst),
            json.dumps(ROWS),
            str(workers),
            str(keep),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    no_signal(p)
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
    assert p.stderr == ""
    assert p.stdout == (
        f"InputError: {src} shrank while it was read: {len(data):,} bytes when opened, "
        f"{keep:,} now\n"
    )
    assert folder_state(out_dir) == {}, "an output or a temporary file was left behind"


def test_cli_input_truncated_by_another_process(tmp_path):
    """The `fastetl convert` command, held after its first block (reference.SLOW_CLI)
    while this process truncates its input: exit 1 and one line on stderr, nothing left
    behind."""
    src = tmp_path / "in.csv"
    data = rows_csv(500_000)
    src.write_bytes(data)
    gate = tmp_path / "gate"  # the run holds while it exists
    gate.touch()
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps(ROWS))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    fastetl.convert(io.BytesIO(b"id,name,kind,price\n1,a,k,1.00\n"), out_dir / "OUT.npy", ROWS)
    before = folder_state(out_dir)
    p = subprocess.Popen(
        [
            sys.executable,
            "-c",
            SLOW_CLI,
            "convert",
            str(src),
            str(out_dir / "OUT.npy"),
            "--schema",
            str(schema),
            "--workers",
            "1",
            "--block-size",
            "512",
            "--no-progress",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "HOLD_AT": json.dumps(["while", str(gate)])},
    )
    try:
        held(p)  # the input is open and the first block converted
        os.truncate(src, 100)
        gate.unlink()
        out, err = p.communicate(timeout=120)
    finally:
        p.kill()
    no_signal(p)
    assert p.returncode == 1, (p.returncode, out, err)
    assert err == (
        f"fastetl: {src} shrank while it was read: {len(data):,} bytes when opened, 100 now\n"
    )
    assert out == ""
    assert folder_state(out_dir) == before, "OUT changed, or a temporary file was left behind"


def test_truncated_during_read_csv_on_one_thread(tmp_path):
    """The single-threaded path (read_csv's): the same error from the first short read."""
    src = tmp_path / "in.csv"
    data = rows_csv(20_000)
    src.write_bytes(data)
    child = textwrap.dedent(
        r"""
        import json, os, sys
        import fastetl
        from fastetl import pipeline
        from fastetl.schema import Schema
        from fastetl.sources import open_source
        from fastetl.store import ArrayWriter
        src, schema = sys.argv[1], Schema.from_dict(json.loads(sys.argv[2]))
        def cut(n):
            os.truncate(src, 0)
        with open_source(src) as source:
            try:
                pipeline.run(source, schema, ArrayWriter(schema.dtype()), 1 << 12, 1, cut)
            except fastetl.InputError as e:
                print(e)
                sys.exit(1)
        """
    )
    p = subprocess.run(
        [sys.executable, "-c", child, str(src), json.dumps(ROWS)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    no_signal(p)
    assert (p.returncode, p.stderr) == (1, ""), (p.returncode, p.stderr)
    assert p.stdout == f"{src} shrank while it was read: {len(data):,} bytes when opened, 0 now\n"


# -- a file that grows ------------------------------------------------------------------------


def csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def ab_file(tmp_path: Path, tail: bytes, rows: int = 5000) -> tuple[Path, bytes]:
    """A header, ``rows`` whole rows, and ``tail`` (the last line, maybe unterminated)."""
    body = b"".join(b"r%d,s%d\n" % (i, i % 97) for i in range(rows))
    data = b"a,b\n" + body + tail
    src = tmp_path / "in.csv"
    src.write_bytes(data)
    return src, data


def appender(path: Path, more: bytes):
    """A progress callback that appends ``more`` to ``path`` once, on its first call."""
    done = []

    def grow(*_: object) -> None:
        if not done:
            done.append(True)
            with open(path, "ab") as fh:
                fh.write(more)

    return grow


def converted(dst: Path) -> tuple[list[list[str]], dict]:
    arr = np.load(dst)
    rows = [[v.decode("utf-8") for v in rec] for rec in arr[["a", "b"]].tolist()]
    return rows, json.loads(Path(str(dst) + ".json").read_text())


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("encoding", ["utf-8", "latin-1"])
def test_growing_file_leaves_out_its_torn_last_line(tmp_path, workers, encoding):
    src, data = ab_file(tmp_path, b"ab,c")
    schema = {**AB, "dialect": {"encoding": encoding}}
    dst = tmp_path / "OUT.npy"
    rep = fastetl.convert(
        src, dst, schema, workers=workers, block_size=1 << 10, progress=appender(src, b"de\n")
    )
    assert rep.tail_left_out == len(b"ab,c")
    assert src.read_bytes().endswith(b"ab,cde\n")  # it did grow during the run
    rows, meta = converted(dst)
    complete = data[: data.rindex(b"\n") + 1]
    assert rows == csv_rows(complete)[1:]
    assert ["ab", "c"] not in rows and rows[-1] == ["r4999", "s52"]
    assert meta["source"]["size"] == len(data)
    assert meta["source"]["tail_left_out"] == len(b"ab,c")
    assert meta["rows"] == 5000


def test_growing_file_with_a_torn_quoted_field(tmp_path):
    """The torn last row holds a quoted line break: the whole row is left out, no error."""
    src, data = ab_file(tmp_path, b'ab,"c\nd')
    dst = tmp_path / "OUT.npy"
    fastetl.convert(src, dst, AB, workers=2, block_size=1 << 10, progress=appender(src, b'e"\n'))
    rows, meta = converted(dst)
    assert rows == csv_rows(data[: -len(b'ab,"c\nd')])[1:]
    assert meta["source"]["tail_left_out"] == len(b'ab,"c\nd')


def test_growing_file_on_one_thread(tmp_path):
    """The single-threaded path (read_csv's) leaves out the torn line too."""
    src, data = ab_file(tmp_path, b"ab,c")
    schema = Schema.from_dict(AB)
    writer = ArrayWriter(schema.dtype())
    with open_source(src) as source:
        pipeline.run(source, schema, writer, 1 << 10, 1, appender(src, b"de\n"))
        assert source.tail_left_out == 4
        assert source.facts()["tail_left_out"] == 4
    arr = writer.result()
    got = [[v.decode("utf-8") for v in rec] for rec in arr[["a", "b"]].tolist()]
    assert got == csv_rows(data[:-4])[1:]


def test_growing_file_whose_last_line_ended_keeps_it(tmp_path):
    """A snapshot ending with a line break is whole: its rows, none of the new ones."""
    src, data = ab_file(tmp_path, b"ab,c\n")
    dst = tmp_path / "OUT.npy"
    fastetl.convert(src, dst, AB, workers=2, block_size=1 << 10, progress=appender(src, b"x,y\n"))
    rows, meta = converted(dst)
    assert rows == csv_rows(data)[1:] and rows[-1] == ["ab", "c"]
    assert "tail_left_out" not in meta["source"]


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("tail", [b"ab,c", b"ab,c\r\n", b"ab,c\r", b'ab,"c\nd"'])
def test_file_that_does_not_grow_keeps_its_last_row(tmp_path, workers, tail):
    src, data = ab_file(tmp_path, tail)
    dst = tmp_path / "OUT.npy"
    fastetl.convert(src, dst, AB, workers=workers, block_size=1 << 10)
    rows, meta = converted(dst)
    assert rows == csv_rows(data)[1:]
    assert rows[-1] == csv_rows(tail)[0]
    assert "tail_left_out" not in meta["source"]
    assert (
        fastetl.read_csv(src, AB, workers=1, block_size=1 << 10).array.tolist() == np.load(dst).tolist()
    )


# -- the normal paths: the same bytes at every block size and thread count ---------------------


@pytest.mark.parametrize(
    "variant",
    [{}, {"eol": "\r\n"}, {"final_eol": False}, {"eol": "\r\n", "final_eol": False}],
)
def test_file_output_is_the_same_bytes_for_every_block_size(tmp_path, variant):
    data = rows_csv(30_000, **variant)
    src = tmp_path / "in.csv"
    src.write_bytes(data)
    schema = Schema.from_dict(ROWS)
    expected = reference_parse(data, schema)
    outs = {}
    for block in (1 << 10, 1 << 16, None):
        for workers in (1, 2):
            dst = tmp_path / f"out-{block}-{workers}.npy"
            fastetl.convert(src, dst, ROWS, workers=workers, block_size=block)
            assert_same_records(np.load(dst), expected, f"block {block}, workers {workers}")
            meta = json.loads(Path(str(dst) + ".json").read_text())
            outs[block, workers] = (dst.read_bytes(), meta["categories"], meta["rows"])
            got = fastetl.read_csv(src, ROWS, workers=workers, block_size=block).array
            assert got.tobytes() == np.load(dst).tobytes()
    first = next(iter(outs.values()))
    assert all(o == first for o in outs.values())
    assert first[2] == 30_000


def test_error_line_numbers_in_a_file_are_the_same_for_every_block_size(tmp_path):
    rows = [["id", "name", "kind", "price"]]
    rows += [[str(i), "multi\nline" if i % 3 else "p", "k", "1.00"] for i in range(5000)]
    rows.append(["5000", "bad", "k", "x.y"])
    data = csv_bytes(rows)
    src = tmp_path / "in.csv"
    src.write_bytes(data)
    seen = set()
    for block in (1 << 10, 1 << 16, None):
        for workers in (1, 2):
            with pytest.raises(fastetl.ParseError) as ei:
                fastetl.convert(src, tmp_path / "o.npy", ROWS, workers=workers, block_size=block)
            e = ei.value
            seen.add((str(e), e.line, e.offset, e.row))
    assert len(seen) == 1
    ((msg, line, offset, row),) = seen
    assert line == 1 + 5000 + 5000 * 2 // 3 + 1 and row == 5000
    assert offset == data.rindex(b"x.y")


def test_transcoded_file_is_the_same_for_every_block_size(tmp_path):
    """A latin-1 file is decoded as it is read: UTF-8 is longer than what was read."""
    text = rows_csv(3000).decode("utf-8").replace("plain", "façade àé")
    src = tmp_path / "in.csv"
    src.write_bytes(text.encode("latin-1"))
    expected = reference_parse(text.encode("utf-8"), Schema.from_dict(ROWS))
    schema = {**ROWS, "dialect": {"encoding": "latin-1"}}
    for block in (1, 7, 1 << 10, None):
        for workers in (1, 2):
            got = fastetl.read_csv(src, schema, workers=workers, block_size=block).array
            assert_same_records(got, expected, f"block {block}, workers {workers}")


@pytest.mark.parametrize("workers", [1, 2])
def test_resume_reads_a_file_on_from_the_mark(tmp_path, workers):
    """A resumed conversion of a file starts reading at the checkpoint (not from the top),
    and its output is the same bytes as a run that was never stopped."""
    data = rows_csv(20_000)
    src = tmp_path / "in.csv"
    src.write_bytes(data)
    clean = tmp_path / "clean.npy"
    fastetl.convert(src, clean, ROWS, workers=workers)

    def stop(done: int, total: int | None) -> None:
        if done > len(data) // 2:
            raise KeyboardInterrupt

    dst = tmp_path / "OUT.npy"
    kw = {"workers": workers, "block_size": 1 << 12}
    with pytest.raises(fastetl.Interrupted) as ei:
        fastetl.convert(src, dst, ROWS, checkpoint_every=0, progress=stop, **kw)
    assert ei.value.resume_rows is not None and ei.value.resume_rows > 10_000
    rep = fastetl.convert(src, dst, ROWS, resume=True, **kw)
    assert rep.resumed_at == ei.value.resume_rows
    assert dst.read_bytes() == clean.read_bytes()
