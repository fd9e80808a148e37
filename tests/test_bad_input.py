"""Bad input at every layer, and what a failed, interrupted or killed conversion leaves behind.

Every case runs ``fastetl.convert`` into a real folder that already holds a good
``OUT`` and ``OUT.json``: after a failure both must be byte-for-byte as before and
no temporary ``.OUT.*.part`` file may remain.  Inputs come memory-mapped (a file),
streamed (a real pipe) and decompressed (.gz), each with one and two workers.  A
representative subset also runs the ``fastetl`` command as a real subprocess:
exit code 1 and one ``fastetl: ...`` line on stderr.

The decisions these tests pin down are listed in docs/SEMANTICS.md ("Bad input").
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from test_cli import run as run_cli

import fastetl
from reference import SLOW_CLI, held, listing
from fastetl import Schema
from fastetl.errors import OutputError
from fastetl.sources import InputError

S = Schema.from_dict(
    {
        "columns": [
            {"name": "s", "type": "str", "width": 8},
            {"name": "c", "type": "category"},
            {"name": "x", "type": "int64"},
        ]
    }
)
GOOD = b"s,c,x\nold,k,1\nolder,k,2\n"
HOWS = ["file", "gz", "pipe"]
WORKERS = [1, 2]


# -- helpers -------------------------------------------------------------------------------


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file in ``folder`` (hidden temp files included) with its bytes."""
    return {n: (folder / n).read_bytes() if (folder / n).is_file() else b"<dir>" for n in listing(folder)}


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """``tmp_path/out/OUT.npy``: a good earlier conversion, with its sidecar."""
    folder = tmp_path / "out"
    folder.mkdir()
    (tmp_path / "good.csv").write_bytes(GOOD)
    dst = folder / "OUT.npy"
    fastetl.convert(tmp_path / "good.csv", dst, S)
    assert listing(folder) == ["OUT.npy", "OUT.npy.json"]
    return dst


@contextmanager
def piped(data: bytes) -> Iterator[object]:
    """A real OS pipe with ``data`` written into it by a thread (a non-seekable stream)."""
    r, w = os.pipe()

    def feed() -> None:
        try:
            with os.fdopen(w, "wb") as fh:
                fh.write(data)
        except BrokenPipeError:  # the reader stopped early (an error): fine
            pass

    t = threading.Thread(target=feed, daemon=True)
    t.start()
    fh = os.fdopen(r, "rb")
    try:
        yield fh
    finally:
        fh.close()
        t.join(timeout=60)
        assert not t.is_alive()


@contextmanager
def source(how: str, data: bytes, folder: Path) -> Iterator[object]:
    if how == "file":
        p = folder / "in.csv"
        p.write_bytes(data)
        yield p
    elif how == "gz":
        p = folder / "in.csv.gz"
        p.write_bytes(gzip.compress(data))
        yield p
    else:
        with piped(data) as fh:
            yield fh


def convert_fails(how, data, out: Path, workers: int, schema=S, **kw) -> BaseException:
    """Convert ``data`` over the good ``out``; expect a FastETLError; check nothing changed."""
    before = snapshot(out.parent)
    indir = out.parent.parent / "in"
    indir.mkdir(exist_ok=True)
    with source(how, data, indir) as src, pytest.raises(fastetl.FastETLError) as ei:
        fastetl.convert(src, out, schema, workers=workers, **kw)
    assert snapshot(out.parent) == before, "OUT, its sidecar or the folder changed"
    return ei.value


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {err!r}"
    assert lines[0].startswith("fastetl: "), lines[0]
    return lines[0][len("fastetl: ") :]


def write_schema(folder: Path, schema: Schema = S) -> Path:
    p = folder / "schema.json"
    p.write_text(schema.to_json(), encoding="utf-8")
    return p


# -- bad bytes, bad structure, bad headers ------------------------------------------------------

# (id, data, exception type, exact message)
ERRORS = [
    ("nul-in-int", b"s,c,x\na,c,1\x002\n", fastetl.ParseError,
     "line 2, column \"x\": '1\\x002' is not a valid int64"),
    ("nul-in-int-crlf", b"s,c,x\r\na,c,1\r\nb,c,\x00\r\n", fastetl.ParseError,
     "line 3, column \"x\": '\\x00' is not a valid int64"),
    ("nul-in-header", b"s\x00,c,x\na,c,1\n", fastetl.SchemaError,
     "schema column(s) ['s'] are not in the file's header ['s\\x00', 'c', 'x']"),
    ("utf8-str", b"s,c,x\na\xffb,c,1\n", fastetl.ParseError,
     "line 2, column \"s\": 'a\\\\xffb' is not valid UTF-8"),
    ("utf8-str-crlf", b"s,c,x\r\na,c,1\r\nb\xe9,c,2\r\n", fastetl.ParseError,
     "line 3, column \"s\": 'b\\\\xe9' is not valid UTF-8"),
    ("utf8-str-cr", b"s,c,x\ra,c,1\rb\xe9,c,2\r", fastetl.ParseError,
     "line 3, column \"s\": 'b\\\\xe9' is not valid UTF-8"),
    ("utf8-str-quoted", b's,c,x\na,c,1\n"b\n\xe9",c,2\n', fastetl.ParseError,
     "line 3, column \"s\": 'b\\n\\\\xe9' is not valid UTF-8"),
    ("utf8-str-overlong", b"s,c,x\n\xc0\xaf,c,1\n", fastetl.ParseError,
     "line 2, column \"s\": '\\\\xc0\\\\xaf' is not valid UTF-8"),
    ("utf8-str-surrogate", b"s,c,x\n\xed\xa0\x80,c,1\n", fastetl.ParseError,
     "line 2, column \"s\": '\\\\xed\\\\xa0\\\\x80' is not valid UTF-8"),
    ("utf8-category", b"s,c,x\na,c\xc3,1\n", fastetl.ParseError,
     "line 2, column \"c\": 'c\\\\xc3' is not valid UTF-8"),
    ("utf8-category-cr", b"s,c,x\ra,ok,1\r\ra,\xe9t\xe9,1\r", fastetl.ParseError,
     "line 4, column \"c\": '\\\\xe9t\\\\xe9' is not valid UTF-8"),
    ("utf8-header", b"s\xff,c,x\na,c,1\n", fastetl.ParseError,
     "line 1: 's\\\\xff' is not valid UTF-8 (header field 1)"),
    ("utf8-header-crlf", b"s,c,x\xe9\r\na,c,1\r\n", fastetl.ParseError,
     "line 1: 'x\\\\xe9' is not valid UTF-8 (header field 3)"),
    ("quote-open-at-eof", b's,c,x\na,c,1\n"b,c,2\n', fastetl.ParseError,
     "line 3: a quoted field starts here and is never closed"),
    ("quote-open-at-eof-no-newline", b's,c,x\r\na,c,1\r\nb,"c,2', fastetl.ParseError,
     "line 3: a quoted field starts here and is never closed"),
    ("quote-open-at-eof-cr", b's,c,x\ra,c,1\rb,c,"2\r\r', fastetl.ParseError,
     "line 3: a quoted field starts here and is never closed"),
    ("quote-open-in-header", b's,"c,x\na,c,1\n', fastetl.ParseError,
     "line 1: a quoted field in the header is never closed"),
    ("text-after-quote-in-header", b'\r\ns,"c"x,x\r\na,c,1\r\n', fastetl.ParseError,
     "line 2: unexpected text after a closing quote in the header"),
    ("duplicate-header", b"s,c,s\na,c,1\n", fastetl.SchemaError,
     "the header repeats the name(s) ['s']; rename them in the file or read it with "
     "header=false and list the columns in order"),
    ("header-lacks-a-column", b"s,c,y\na,c,1\n", fastetl.SchemaError,
     "schema column(s) ['x'] are not in the file's header ['s', 'c', 'y']"),
    ("header-has-fewer-fields", b"s,c\na,c\n", fastetl.SchemaError,
     "schema column(s) ['x'] are not in the file's header ['s', 'c']"),
    ("header-only-mismatch", b"s,c,y\n", fastetl.SchemaError,
     "schema column(s) ['x'] are not in the file's header ['s', 'c', 'y']"),
    ("short-row", b"s,c,x\na,c,1\nb,c\n", fastetl.ParseError,
     "line 3: expected 3 fields, found 2"),
]  # fmt: skip


@pytest.mark.parametrize("workers", WORKERS)
@pytest.mark.parametrize("how", HOWS)
@pytest.mark.parametrize(("name", "data", "exc", "message"), ERRORS, ids=[e[0] for e in ERRORS])
def test_bad_input_is_a_clear_error_and_out_is_untouched(
    out, how, workers, name, data, exc, message
):
    e = convert_fails(how, data, out, workers)
    assert type(e) is exc
    assert str(e) == message


def test_header_error_names_the_extra_column_when_schema_has_fewer(out):
    e = convert_fails("file", b"s,c,x,extra\na,b,1,2\n", out, 1)
    assert isinstance(e, fastetl.SchemaError)
    assert "extra" in str(e) and "skip" in str(e)


def test_nul_bytes_are_data_in_str_and_category(tmp_path: Path):
    """NUL is a valid UTF-8 character: inside a str value and anywhere in a category value
    it is stored as it is (numpy ``S`` keeps inner NULs; the sidecar's JSON keeps them)."""
    src = tmp_path / "in.csv"
    src.write_bytes(b"s,c,x\na\x00b,c\x00,1\n\x00z,\x00,2\n")
    dst = tmp_path / "o.npy"
    assert fastetl.convert(src, dst, S).rows == 2
    assert np.load(dst)["s"].tolist() == [b"a\x00b", b"\x00z"]
    t = fastetl.open(dst)
    assert t["s"].tolist() == ["a\x00b", "\x00z"]
    assert t["c"].tolist() == ["c\x00", "\x00"]
    assert json.loads((tmp_path / "o.npy.json").read_text("utf-8"))["categories"]["c"] == [
        "c\x00",
        "\x00",
    ]


@pytest.mark.parametrize("workers", WORKERS)
@pytest.mark.parametrize("how", HOWS)
def test_quote_open_in_the_middle_of_a_big_file(out, how, workers):
    n = 80_000
    rows = [b"r%d,k%d,%d" % (i, i % 7, i) for i in range(n)]
    rows[40_000] = b'"r40000,k,1'  # opens a quote that nothing closes
    data = b"s,c,x\r\n" + b"\r\n".join(rows) + b"\r\n"
    assert len(data) > 1_000_000
    for bs in (None, 1 << 16):
        e = convert_fails(how, data, out, workers, block_size=bs)
        assert str(e) == "line 40002: a quoted field starts here and is never closed"
        assert isinstance(e, fastetl.ParseError) and e.line == 40_002 and e.column is None


# -- empty inputs ------------------------------------------------------------------------------

EMPTY = [
    ("empty", b"", None),
    ("bom-only", b"\xef\xbb\xbf", None),
    ("blank-lf", b"\n\n\n", None),
    ("blank-crlf", b"\r\n\r\n", None),
    ("blank-cr", b"\r\r", None),
    ("header-only", b"s,c,x", ["s", "c", "x"]),
    ("header-only-lf", b"s,c,x\n", ["s", "c", "x"]),
    ("header-only-crlf-blanks", b"\r\ns,c,x\r\n\r\n", ["s", "c", "x"]),
    ("header-only-cr", b"s,c,x\r", ["s", "c", "x"]),
]


@pytest.mark.parametrize("workers", WORKERS)
@pytest.mark.parametrize("how", HOWS)
@pytest.mark.parametrize(("name", "data", "header"), EMPTY, ids=[e[0] for e in EMPTY])
def test_empty_input_gives_an_empty_output(out, how, workers, name, data, header):
    """No rows in, a valid zero-row output out (replacing the old one): the schema says
    the layout, so the output is well defined.  A header, when present, is still checked
    (see header-only-mismatch above); an input with no header at all has nothing to check."""
    indir = out.parent.parent / "in"
    indir.mkdir()
    with source(how, data, indir) as src:
        report = fastetl.convert(src, out, S, workers=workers)
    assert report.rows == 0
    arr = np.load(out)
    assert arr.shape == (0,) and arr.dtype == S.dtype()
    meta = json.loads((out.parent / "OUT.npy.json").read_text("utf-8"))
    assert meta["rows"] == 0 and meta["header"] == header
    assert meta["categories"] == {"c": []}
    assert listing(out.parent) == ["OUT.npy", "OUT.npy.json"]


# -- unreadable inputs and unwritable outputs ------------------------------------------------------


def test_unreadable_inputs(out, tmp_path: Path):
    folder = out.parent
    before = snapshot(folder)
    (tmp_path / "a_dir").mkdir()
    (tmp_path / "a_file").write_bytes(GOOD)
    os.symlink(tmp_path / "nowhere", tmp_path / "dangling")
    cases = {
        tmp_path / "missing.csv": "no such file",
        tmp_path / "a_dir": "is a directory, not a CSV file",
        tmp_path / "a_file" / "x.csv": "cannot open (Not a directory)",
        tmp_path / "dangling": "no such file",
    }
    for path, what in cases.items():
        with pytest.raises(InputError) as ei:
            fastetl.convert(path, out, S)
        assert str(ei.value) == f"{path}: {what}"
        assert isinstance(ei.value, fastetl.FastETLError) and isinstance(ei.value, OSError)
        assert snapshot(folder) == before


def _convert_fifo_in_child(
    tmp_path: Path, out: Path
) -> tuple[Path, dict[str, bytes], subprocess.Popen]:
    """A new FIFO, the output folder as it was, and ``fastetl convert FIFO OUT`` started on it."""
    fifo = tmp_path / "in.fifo"
    os.mkfifo(fifo)
    schema = write_schema(tmp_path)
    before = snapshot(out.parent)
    p = subprocess.Popen(
        [sys.executable, "-m", "fastetl", "convert", str(fifo), str(out), "--schema", str(schema)],
        stderr=subprocess.PIPE,
    )
    return fifo, before, p


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_fifo_input_is_streamed(tmp_path: Path, out):
    """A FIFO is read as a stream; bad data in it is the usual clear error."""
    fifo, before, p = _convert_fifo_in_child(tmp_path, out)
    try:
        with open(fifo, "wb") as fh:  # blocks until the converter opens it: no sleeping
            fh.write(b"s,c,x\na,b,1\na,b,zz\n")
        _, err = p.communicate(timeout=60)
    finally:
        p.kill()
    assert p.returncode == 1
    assert one_line(err.decode()) == "line 3, column \"x\": 'zz' is not a valid int64"
    assert snapshot(out.parent) == before


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_fifo_without_a_writer_waits_and_ctrl_c_stops_it(tmp_path: Path, out):
    """Like ``cat``, a FIFO with no writer is waited for; Ctrl-C ends the wait cleanly."""
    fifo, before, p = _convert_fifo_in_child(tmp_path, out)
    try:
        deadline = time.monotonic() + 60
        while not _waiting_on_fifo(p.pid, fifo) and time.monotonic() < deadline:
            assert p.poll() is None
            time.sleep(0.02)
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=60)
    finally:
        p.kill()
    assert p.returncode == 130
    assert one_line(err.decode()) == "interrupted; the output was not changed"
    assert snapshot(out.parent) == before


def _waiting_on_fifo(pid: int, fifo: Path) -> bool:
    """Best effort: the process blocks in open() of the FIFO (Linux: its wchan/syscall)."""
    try:  # where the kernel names the wait: a FIFO's open waits for its other end there
        wchan = Path(f"/proc/{pid}/wchan").read_text()
    except OSError:
        wchan = ""
    if wchan not in ("", "0"):  # (not any openat: one of an import, slow on a busy disk)
        return wchan == "wait_for_partner"
    try:
        syscall = Path(f"/proc/{pid}/syscall").read_text().split()
    except OSError:  # not Linux: give the interpreter time to start and block
        time.sleep(2)
        return True
    # openat(2) is syscall 257 on x86-64 and 56 on arm64; its path argument is not readable
    # here, but a fastetl process blocked in openat is blocked on the FIFO: the
    # converter opens nothing else that can block.
    return bool(syscall) and syscall[0] in ("257", "56")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_permission_denied_input(tmp_path: Path, out):
    """A file the user may not read.  Root reads everything, so as root the command runs
    without the capabilities that let it (``setpriv`` drops them from the bounding set)."""
    src = tmp_path / "secret.csv"
    src.write_bytes(GOOD)
    os.chmod(src, 0)
    schema = write_schema(tmp_path)
    before = snapshot(out.parent)
    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        assert setpriv, "running as root: setpriv (util-linux) is needed to drop privileges"
        prefix = [setpriv, "--bounding-set", "-dac_override,-dac_read_search"]
    p = subprocess.run(
        [*prefix, sys.executable, "-m", "fastetl", "convert", str(src), str(out),
         "--schema", str(schema)],
        capture_output=True,
        timeout=120,
    )  # fmt: skip
    assert p.returncode == 1
    assert one_line(p.stderr.decode()) == f"{src}: cannot open (Permission denied)"
    assert snapshot(out.parent) == before


def test_unwritable_outputs(tmp_path: Path, out):
    src = tmp_path / "in.csv"
    src.write_bytes(GOOD)
    (tmp_path / "a_dir").mkdir()
    (tmp_path / "link.csv").symlink_to(src)
    (out.parent / "B.npy.json").mkdir()  # a folder where B.npy's sidecar would go
    before = snapshot(tmp_path)
    cases = {
        tmp_path / "no" / "o.npy": f"cannot write {tmp_path / 'no' / 'o.npy'}: "
        f"folder {tmp_path / 'no'} does not exist",
        tmp_path / "a_dir": f"{tmp_path / 'a_dir'} is a directory; "
        "give the path of the .npy file to write",
        src: f"refusing to write the output over the input {src}",
        tmp_path / "link.csv": f"refusing to write the output over the input {src}",
        out.parent / "B.npy": f"cannot write {out.parent / 'B.npy.json'}: it is a directory",
    }
    for dst, message in cases.items():
        with pytest.raises(OutputError) as ei:
            fastetl.convert(src, dst, S)
        assert str(ei.value) == message
        assert snapshot(tmp_path) == before
    # the sidecar's name taken by the input: refused too
    side_src = out.parent / "C.npy.json"
    side_src.write_bytes(GOOD)
    with pytest.raises(OutputError, match="refusing to write .*C.npy.json over the input"):
        fastetl.convert(side_src, out.parent / "C.npy", S)
    assert side_src.read_bytes() == GOOD and not (out.parent / "C.npy").exists()


# -- the command line ---------------------------------------------------------------------------

CLI_CASES = [e for e in ERRORS if e[0] in {
    "nul-in-int", "nul-in-header", "utf8-str-crlf", "utf8-category", "utf8-header",
    "quote-open-at-eof-no-newline", "duplicate-header", "header-lacks-a-column", "short-row",
}]  # fmt: skip


@pytest.mark.parametrize("how", ["file", "stdin"])
@pytest.mark.parametrize(
    ("name", "data", "exc", "message"), CLI_CASES, ids=[e[0] for e in CLI_CASES]
)
def test_cli_bad_input_exits_1_with_one_line(out, tmp_path, how, name, data, exc, message):
    schema = write_schema(tmp_path)
    src = tmp_path / "in.csv"
    src.write_bytes(data)
    before = snapshot(out.parent)
    if how == "file":
        code, _, err = run_cli("convert", str(src), str(out), "--schema", str(schema))
    else:
        code, _, err = run_cli("convert", "-", str(out), "--schema", str(schema), stdin=data)
    assert code == 1
    prefix = "schema error: " if exc is fastetl.SchemaError else ""
    assert one_line(err) == prefix + message
    assert snapshot(out.parent) == before


def test_cli_unreadable_and_unwritable(out, tmp_path):
    schema = write_schema(tmp_path)
    src = tmp_path / "in.csv"
    src.write_bytes(GOOD)
    before = snapshot(out.parent)
    for args, message in [
        ([str(tmp_path / "missing.csv"), str(out)], f"{tmp_path / 'missing.csv'}: no such file"),
        ([str(tmp_path), str(out)], f"{tmp_path}: is a directory, not a CSV file"),
        ([str(src), str(tmp_path / "nope" / "o.npy")], "does not exist"),
        ([str(src), str(out.parent)], "is a directory; give the path of the .npy file"),
        ([str(src), str(src)], f"refusing to write the output over the input {src}"),
    ]:
        code, _, err = run_cli("convert", *args, "--schema", str(schema))
        assert code == 1, err
        assert message in one_line(err)
        assert snapshot(out.parent) == before
    assert src.read_bytes() == GOOD


@pytest.mark.parametrize("data", [b"", b"\r\n\r\n", b"s,c,x\r\n"])
def test_cli_empty_input_from_stdin(tmp_path: Path, data):
    schema = write_schema(tmp_path)
    code, _, err = run_cli(
        "convert", "-", "o.npy", "--schema", str(schema), stdin=data, cwd=tmp_path
    )
    assert code == 0, err
    assert np.load(tmp_path / "o.npy").shape == (0,)


# -- huge rows and fields --------------------------------------------------------------------


@pytest.mark.parametrize("workers", WORKERS)
def test_streamed_row_over_the_limit_names_it(monkeypatch, out, workers):
    """A streamed row longer than MAX_ROW_BYTES (lowered here to 1 MiB) is refused with an
    error naming the limit and the line where the row starts, not buffered without end."""
    import fastetl.pipeline as pipeline

    monkeypatch.setattr(pipeline, "MAX_ROW_BYTES", 1 << 20)
    data = b"s,c,x\na,b,1\n" + b"a" * (3 << 20) + b",b,2\n"
    # files are read in windows too (a snapshot, not a memory map): the same limit
    for how in ("file", "pipe", "gz"):
        e = convert_fails(how, data, out, workers, block_size=1 << 16)
        assert isinstance(e, fastetl.ParseError)
        assert str(e) == "line 3: a row is longer than 1 MiB; is a quote left open?"


def test_cli_streamed_row_over_the_limit(tmp_path: Path, out):
    """A real pipe into a real process: an endless quoted field is refused once it passes
    the limit.  The limit is lowered to 8 MiB in the child (below the default 16 MiB, so it
    is passed well before the 64 MiB sent); the process must stop early, not read it all."""
    schema = write_schema(tmp_path)
    child = textwrap.dedent(
        """
        import sys
        import fastetl.pipeline
        fastetl.pipeline.MAX_ROW_BYTES = 8 << 20
        from fastetl.cli import main
        sys.exit(main(sys.argv[1:]))
        """
    )
    before = snapshot(out.parent)
    p = subprocess.Popen(
        [sys.executable, "-c", child, "convert", "-", str(out), "--schema", str(schema)],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    sent = 0
    try:
        assert p.stdin is not None
        p.stdin.write(b's,c,x\r\na,b,1\r\n"')
        chunk = b"x" * (1 << 20)
        try:
            for _ in range(64):
                p.stdin.write(chunk)
                sent += len(chunk)
            p.stdin.close()
        except BrokenPipeError:  # the converter gave up and closed its end: good
            pass
        _, err = p.communicate(timeout=120)
    finally:
        p.kill()
    assert p.returncode == 1
    assert one_line(err.decode()) == "line 3: a row is longer than 8 MiB; is a quote left open?"
    assert snapshot(out.parent) == before


@pytest.mark.parametrize("workers", WORKERS)
@pytest.mark.parametrize("column", ["s", "x"])
def test_huge_field_in_a_mapped_file_gives_a_short_message(out, workers, column):
    """A 12 MiB field (rows up to MAX_ROW_BYTES, 16 MiB, are read whole): the error names
    line and column and shows at most 200 characters."""
    big = b"9" * (12 << 20)
    row = {"s": b"%s,k,1" % big, "x": b"a,k,%s" % big}[column]
    data = b"s,c,x\na,k,1\n" + row + b"\n"
    e = convert_fails("file", data, out, workers)
    assert isinstance(e, fastetl.ParseError)
    assert (e.line, e.column) == (3, column)
    assert e.value == "9" * 200 and e.value_bytes == len(big)
    assert len(str(e)) < 400


# -- a full disk --------------------------------------------------------------------------------

FULL_DISK_CHILD = r"""
import hashlib, json, os, resource, signal, sys
mode, folder = sys.argv[1], sys.argv[2]
import fastetl
from fastetl.demo import demo_schema, generate_orders_bytes

out = os.path.join(folder, "OUT.npy")
fastetl.convert(generate_orders_bytes(200), out, demo_schema())  # a good earlier output

def snap():
    return {n: hashlib.sha256(open(os.path.join(folder, n), "rb").read()).hexdigest()
            for n in sorted(os.listdir(folder)) if not n.endswith(".fastetl-lock")}

before = snap()
if mode == "fsize":  # the file may not grow past 1 MiB; EFBIG instead of SIGXFSZ
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))
err = None
try:
    fastetl.convert(generate_orders_bytes(40_000), out, demo_schema())  # about 11 MB out
except fastetl.FastETLError as e:
    err = [type(e).__name__, str(e)]
print(json.dumps({"error": err, "same": snap() == before, "files": sorted(n for n in os.listdir(folder) if not n.endswith(".fastetl-lock"))}))
"""


def _full_disk_runner(tmp_path: Path) -> tuple[str, list[str]]:
    """The strongest way this machine offers to give the child a small full filesystem:
    a 4 MiB tmpfs in a private mount namespace (``unshare``: as root, or unprivileged
    where user namespaces are allowed), else a file-size limit (RLIMIT_FSIZE)."""
    unshare = shutil.which("unshare")
    if unshare and sys.platform.startswith("linux"):
        probe = tmp_path / "probe"
        probe.mkdir()
        cmd = [unshare, "-rm", "sh", "-c", f'mount -t tmpfs -o size=4m tmpfs "{probe}"']
        if subprocess.run(cmd, capture_output=True, timeout=60).returncode == 0:
            script = 'mount -t tmpfs -o size=4m tmpfs "$1" && shift && exec "$@"'
            return "tmpfs", [unshare, "-rm", "sh", "-c", script, "sh"]
    if hasattr(os, "fork"):  # POSIX: resource limits
        return "fsize", []
    pytest.fail("no way to fill a filesystem on this platform")  # pragma: no cover


def test_full_disk_is_an_output_error_and_out_is_untouched(tmp_path: Path):
    """A conversion whose output does not fit: an OutputError naming the output (not a
    crash, not a truncated file), no temp file left, the earlier
    OUT and sidecar byte-identical.  Uses a real 4 MiB tmpfs in a private mount namespace
    when ``unshare`` works (ENOSPC); else RLIMIT_FSIZE in the child (EFBIG, SIGXFSZ
    ignored), which takes the same "the file cannot grow" path."""
    mode, prefix = _full_disk_runner(tmp_path)
    folder = tmp_path / "disk"
    folder.mkdir()
    if mode == "tmpfs":
        cmd = [*prefix, str(folder), sys.executable, "-c", FULL_DISK_CHILD, mode, str(folder)]
    else:
        cmd = [sys.executable, "-c", FULL_DISK_CHILD, mode, str(folder)]
    p = subprocess.run(cmd, capture_output=True, timeout=300)
    assert p.returncode == 0, (p.returncode, p.stderr.decode())
    got = json.loads(p.stdout)
    reason = "No space left on device" if mode == "tmpfs" else "File too large"
    assert got["error"] == ["OutputError", f"cannot write {folder / 'OUT.npy'}: {reason}"]
    assert got["same"] is True
    assert got["files"] == ["OUT.npy", "OUT.npy.json"]


# -- Ctrl-C and kill -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def big_input(tmp_path_factory) -> tuple[Path, Path]:
    """About 300 MB of orders and the demo schema, generated once per session."""
    from fastetl.demo import demo_schema, generate_orders

    d = tmp_path_factory.mktemp("big")
    src = d / "orders.csv"
    generate_orders(src, rows=1_500_000, seed=7)  # outlasts the wait for the first MiB
    schema = d / "schema.json"
    schema.write_text(demo_schema().to_json(), encoding="utf-8")
    return src, schema


def _interrupt(big_input, tmp_path: Path, workers: int, sig: int) -> tuple[Path, dict, dict, int]:
    from fastetl.demo import demo_schema, generate_orders_bytes

    src, schema = big_input
    folder = tmp_path / "out"
    folder.mkdir()
    out = folder / "OUT.npy"
    fastetl.convert(generate_orders_bytes(1000), out, demo_schema())
    before = snapshot(folder)
    # the CLI, held once its first blocks are written (reference.SLOW_CLI): the signal
    # lands mid-run however busy the machine (a run of ~0.5 s could end before it)
    p = subprocess.Popen(
        [sys.executable, "-c", SLOW_CLI, "convert", str(src), str(out),
         "--schema", str(schema), "--workers", str(workers), "--no-progress",
         "--checkpoint-every", "3600"],  # no checkpoint: test_resume.py covers those
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "HOLD_AT": json.dumps("start")},
    )  # fmt: skip
    try:
        held(p)
        assert [q for q in folder.iterdir() if q.name.endswith(".part")]  # records written
        p.send_signal(sig)
        _, err = p.communicate(timeout=120)
    finally:
        p.kill()
    return out, before, {"err": err}, p.returncode


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("workers", WORKERS)
def test_ctrl_c_leaves_out_untouched_and_no_temp_files(big_input, tmp_path, workers):
    out, before, got, code = _interrupt(big_input, tmp_path, workers, signal.SIGINT)
    assert code == 130, got["err"]
    assert one_line(got["err"]) == "interrupted; the output was not changed"
    assert snapshot(out.parent) == before  # no .part left either
    assert len(np.load(out, mmap_mode="r")) == 1000


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("workers", WORKERS)
def test_kill_leaves_out_untouched(big_input, tmp_path, workers):
    out, before, _, code = _interrupt(big_input, tmp_path, workers, signal.SIGKILL)
    assert code == -signal.SIGKILL
    after = snapshot(out.parent)
    assert {k: after[k] for k in before} == before
    # a killed process cannot clean up: only its hidden temp file may remain
    left = set(after) - set(before)
    assert all(n.startswith(".OUT.npy.") for n in left), left
    assert len(np.load(out, mmap_mode="r")) == 1000


# -- limits and corner cases found by these tests (each failed before its fix) ------------


def test_str_value_ending_in_nul_is_an_error(tmp_path: Path, out):
    """core (_text.pxi): numpy ``S`` drops trailing NULs, so ``ab\\0`` would read back as
    ``ab`` and a lone NUL as the empty string - a silent wrong value.  an error
    naming line 2 and column "s".  Actual: accepted and stored as b"ab"."""
    e = convert_fails("file", b"s,c,x\nab\x00,c,1\n", out, 1)
    assert isinstance(e, fastetl.ParseError)
    assert (e.line, e.column) == (2, "s")


def test_bad_utf8_header_error_names_its_line(out):
    """pipeline.py (_bind): the header's line is hard-coded as 1.  line 3 (two
    blank lines come first)."""
    e = convert_fails("file", b"\n\ns\xff,c,x\na,c,1\n", out, 1)
    assert isinstance(e, fastetl.ParseError)
    assert e.line == 3


@pytest.mark.parametrize("workers", WORKERS)
def test_streamed_row_just_over_the_limit_is_refused(monkeypatch, out, workers):
    """pipeline.py (_run_stream.more, _stream_blocks): the limit is checked on the bytes
    carried over *before* the next read doubles them, so rows up to about twice
    MAX_ROW_BYTES pass.  a 1.5 MiB row with a 1 MiB limit is refused."""
    import fastetl.pipeline as pipeline

    monkeypatch.setattr(pipeline, "MAX_ROW_BYTES", 1 << 20)
    data = b"s,c,x\na,b,1\n" + b"a" * (3 << 19) + b",b,2\n"
    e = convert_fails("pipe", data, out, workers, block_size=1 << 16)
    assert str(e) == "line 3: a row is longer than 1 MiB; is a quote left open?"


def test_error_for_a_huge_field_does_not_copy_it(tmp_path: Path):
    """pipeline.py (_parse_error): the whole offending field was copied to bytes and decoded
    to str, then cut to 200 characters: a 300 MB field cost about 600 MB more memory
    (measured: peak RSS 891 MB).  Only what is shown may be copied: reporting the error
    costs less than 8 MiB more than reading the same row when the field is not converted
    (the read window that holds the row is the same in both)."""
    import tracemalloc

    src = tmp_path / "in.csv"
    with src.open("wb") as fh:
        fh.write(b"s,c,x\na,k,")
        fh.write(b"9" * (12 << 20))  # (within MAX_ROW_BYTES: a row longer is refused whole)
        fh.write(b"\n")

    def traced_peak(schema: Schema) -> int:
        tracemalloc.start()
        try:
            try:
                fastetl.read_csv(src, schema, workers=1)
            except fastetl.ParseError as e:
                assert (e.line, e.column) == (2, "x")
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    skipped = Schema.from_dict(
        {"columns": [{**c.to_dict(), "type": "skip"} if c.name == "x" else c.to_dict()
                     for c in S.columns]}  # fmt: skip
    )
    reading = traced_peak(skipped)
    with pytest.raises(fastetl.ParseError):
        fastetl.read_csv(src, S, workers=1)
    peak = traced_peak(S)
    assert peak < reading + (8 << 20), (
        f"{peak / 2**20:.0f} MiB traced while reporting the error, "
        f"{reading / 2**20:.0f} MiB to read the row"
    )


def test_huge_category_value_is_refused(tmp_path: Path, out):
    """core (learned dictionaries): max_values bounds how many values a category learns,
    but nothing bounds their length, so one 300 MB field becomes a 300 MB dictionary entry
    (and a 300 MB string in the sidecar JSON); 65535 such values are unbounded memory.
    a value longer than a documented limit (any limit up to 8 MiB passes this
    test) is an error naming line 2 and column "c"."""
    e = convert_fails("file", b"s,c,x\na," + b"v" * (8 << 20) + b",1\n", out, 1)
    assert isinstance(e, fastetl.ParseError)
    assert (e.line, e.column) == (2, "c")


@pytest.mark.parametrize(
    "option, value",
    [
        ("true_values", 5),
        ("false_values", 5.0),
        ("null_values", 5),
        ("null_values", "NA"),  # one string, not a list of them
        ("null_values", iter(["NA"])),  # an iterator would be used up by its own check
        ("true_values", ["sim", 1]),
    ],
)
def test_word_options_of_the_wrong_type_are_one_line_schema_errors(tmp_path, option, value):
    # the words of true_values / false_values / null_values: a list, tuple or set of str;
    # anything else is refused in one line naming the option, not a TypeError from inside
    src = tmp_path / "in.csv"
    src.write_text("a,b\n1,yes\n2,no\n")
    with pytest.raises(fastetl.SchemaError) as err:
        fastetl.infer_schema(src, **{option: value})
    msg = str(err.value)
    assert option in msg and "must be a list of strings" in msg and "\n" not in msg


def test_word_options_as_tuples_and_sets_are_read(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("a,b\nNA,sim\n2,não\n")
    schema = fastetl.infer_schema(
        src, null_values={"NA"}, true_values=("sim",), false_values=("não",)
    )
    got = fastetl.read_csv(src, schema=schema)
    assert list(got["b"]) == [True, False]
    assert got["a"].mask.tolist() == [True, False] and got["a"][1] == 2
