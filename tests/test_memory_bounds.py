"""Memory stays bounded whatever the input: long rows, wide records, broken quoting.

Each case converts in a child process (one child per measurement) that reports its own
peak resident set (``VmHWM``: everything the process held, the memory-mapped input
included) and what it converted.  The row limit is lowered in the child (the module
constant ``fastetl.pipeline.MAX_ROW_BYTES``) so that rows of tens of MB run the same code
as the 1 GB rows a user meets.  No timing is asserted.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

# The stated bound is 200 MB (pipeline.MEMORY_BOUND) for any input with the default
# options.  These cases need 55-75 MB on 2 cores (some 50 MB of it the interpreter and
# numpy): they are held well under the bound, and under the 150 MB rows below.
WELL_UNDER = 110 << 20

SCHEMA = {
    "dialect": {"delimiter": ",", "quote": '"', "header": True},
    "columns": [
        {"name": "a", "type": "int64"},
        {"name": "s", "type": "str", "width": 8},
        {"name": "x", "type": "float64"},
    ],
}

CHILD = textwrap.dedent(
    """
    import json, sys
    spec = json.loads(sys.argv[1])
    import fastetl, fastetl.pipeline
    if spec.get("max_row"):
        fastetl.pipeline.MAX_ROW_BYTES = spec["max_row"]
    src = "-" if spec["how"] == "stdin" else spec["path"]
    out = {}
    try:
        r = fastetl.convert(
            src, spec["out"], spec["schema"], on_error=spec["on_error"],
            rejects=spec.get("rejects"), workers=spec.get("workers"),
        )
        out["rows"], out["bad"] = r.rows, r.rows_read - r.rows
    except Exception as e:
        out["error"] = f"{type(e).__name__}: {e}"
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            out["peak"] = int(line.split()[1]) << 10
    print(json.dumps(out))
    """
)


def _convert(tmp: Path, data_path: Path, how: str, schema: dict, on_error: str, **kw) -> dict:
    """Convert in a child; returns its report: rows, bad, peak (bytes) or error."""
    out = tmp / "out.npy"
    spec = {
        "how": how,
        "path": str(data_path),
        "out": str(out),
        "schema": schema,
        "on_error": on_error,
        "rejects": str(tmp / "rejects.csv") if on_error == "reject" else None,
        **kw,
    }
    stdin = data_path.open("rb") if how == "stdin" else subprocess.DEVNULL
    try:
        p = subprocess.run(
            [sys.executable, "-c", CHILD, json.dumps(spec)],
            stdin=stdin,
            capture_output=True,
            timeout=600,
        )
    finally:
        if how == "stdin":
            stdin.close()
    assert p.returncode == 0, p.stderr.decode(errors="replace")[-2000:]
    report = json.loads(p.stdout.decode().strip().splitlines()[-1])
    report["peak_mb"] = report["peak"] / 1e6
    print(how, on_error, kw, report)
    return report


def _write(tmp: Path, how: str, data: bytes) -> Path:
    if how == "gz":
        path = tmp / "in.csv.gz"
        with gzip.open(path, "wb", compresslevel=1) as fh:
            fh.write(data)
    else:
        path = tmp / "in.csv"
        path.write_bytes(data)
    return path


def _good_rows(first: int, n: int) -> bytes:
    return b"".join(b"%d,w%d,%d.5\n" % (i, i % 97, i) for i in range(first, first + n))


def _reference(text: bytes, schema: dict) -> np.ndarray:
    """The records Python's csv module reads from the good rows ``text`` (a header first)."""
    from fastetl import Schema

    dtype = Schema.from_dict(schema).dtype()
    rows = list(csv.reader(io.StringIO(text.decode())))[1:]
    out = np.zeros(len(rows), dtype)
    names = [c["name"] for c in schema["columns"]]
    for k, name in enumerate(names):
        col = [r[k] for r in rows]
        kind = next(c["type"] for c in schema["columns"] if c["name"] == name)
        out[name] = [v.encode() for v in col] if kind == "str" else col
    return out


def _check_output(tmp: Path, reference: np.ndarray) -> None:
    got = np.load(tmp / "out.npy")
    assert len(got) == len(reference)
    for name in reference.dtype.names:
        assert np.array_equal(got[name], reference[name]), name


# -- an overlong row is one bad row, streamed, with bounded memory ----------------------

HEADER = b"a,s,x\n"
BEFORE = _good_rows(0, 2000)
AFTER = _good_rows(2000, 2000)
LIMIT = 4 << 20  # the row limit in the children
ROW_MB = 150  # an overlong row: bigger than the bound, so memory that follows it shows


def _long_rows() -> tuple[bytes, bytes]:
    """Two overlong rows: one plain, one a quoted field holding line breaks (its end is
    found only by following the quotes)."""
    plain = b"7" * (ROW_MB << 20) + b",w,1.5\n"
    quoted = b'8,"' + b'ab""c\n' * ((ROW_MB << 20) // 6) + b'",2.5\n'
    return plain, quoted


@pytest.mark.parametrize("how", ["file", "stdin", "gz"])
@pytest.mark.parametrize("on_error", ["skip", "reject"])
def test_overlong_rows_are_bad_rows_in_bounded_memory(tmp_path: Path, how: str, on_error: str):
    plain, quoted = _long_rows()
    middle = _good_rows(10**6, 10)
    data = HEADER + BEFORE + plain + middle + quoted + AFTER
    path = _write(tmp_path, how, data)
    r = _convert(tmp_path, path, how, SCHEMA, on_error, max_row=LIMIT)
    assert "error" not in r, r["error"]
    assert r["bad"] == 2
    assert r["peak"] < WELL_UNDER, f"peak {r['peak_mb']:.0f} MB"
    _check_output(tmp_path, _reference(HEADER + BEFORE + middle + AFTER, SCHEMA))
    if on_error == "reject":
        assert (tmp_path / "rejects.csv").read_bytes() == HEADER + plain + quoted
        meta = json.loads((tmp_path / "rejects.csv.json").read_text())
        lines = [e["line"] for e in meta["rejects"]]
        assert lines == [2 + 2000, 2 + 2000 + 1 + 10]
        assert [e["row"] for e in meta["rejects"]] == [2000, 2011]
        assert [e["bytes"] for e in meta["rejects"]] == [len(plain), len(quoted)]
        assert all("longer than 4 MiB" in e["message"] for e in meta["rejects"])


@pytest.mark.parametrize("how", ["file", "stdin", "gz"])
def test_overlong_row_under_raise_is_one_line(tmp_path: Path, how: str):
    plain, _ = _long_rows()
    path = _write(tmp_path, how, HEADER + BEFORE + plain[: 20 << 20] + b",w,1\n" + AFTER)
    r = _convert(tmp_path, path, how, SCHEMA, "raise", max_row=LIMIT)
    assert r["error"] == "ParseError: line 2002: a row is longer than 4 MiB; is a quote left open?"
    assert r["peak"] < WELL_UNDER


# -- wide records, short rows -------------------------------------------------------------


@pytest.mark.parametrize(("width", "rows"), [(4096, 60_000), (1 << 20, 240)])
@pytest.mark.parametrize("how", ["file", "stdin"])
def test_wide_str_column_with_short_rows(tmp_path: Path, width: int, rows: int, how: str):
    """Record buffers are sized in bytes, not rows-per-block x record width."""
    schema = {
        "dialect": {"delimiter": ",", "quote": '"', "header": True},
        "columns": [{"name": "t", "type": "str", "width": width}],
    }
    data = b"t\n" + b"".join(b"v%d\n" % i for i in range(rows))
    path = _write(tmp_path, how, data)
    r = _convert(tmp_path, path, how, schema, "raise")
    assert "error" not in r, r["error"]
    assert r["rows"] == rows
    assert r["peak"] < WELL_UNDER, f"peak {r['peak_mb']:.0f} MB"
    got = np.load(tmp_path / "out.npy", mmap_mode="r")
    step = max(1, rows // 1000)
    assert got["t"][::step].tolist() == [b"v%d" % i for i in range(0, rows, step)]
    (tmp_path / "out.npy").unlink()


# -- a quote never closed -----------------------------------------------------------------


@pytest.mark.parametrize("how", ["file", "stdin"])
@pytest.mark.parametrize("on_error", ["skip", "reject"])
def test_unclosed_quote_at_the_start_of_a_big_file(tmp_path: Path, how: str, on_error: str):
    """The bad row ends at the first line break after the quote; the rest converts."""
    rest = _good_rows(0, 300_000)  # about 6 MB
    assert len(rest) > 4 << 20
    bad = b'"1,w,1.5\n'
    path = _write(tmp_path, how, HEADER + bad + rest)
    r = _convert(tmp_path, path, how, SCHEMA, on_error)
    assert "error" not in r, r["error"]
    assert (r["rows"], r["bad"]) == (300_000, 1)
    assert r["peak"] < WELL_UNDER
    _check_output(tmp_path, _reference(HEADER + rest, SCHEMA))
    if on_error == "reject":
        assert (tmp_path / "rejects.csv").read_bytes() == HEADER + bad
        meta = json.loads((tmp_path / "rejects.csv.json").read_text())
        assert [(e["line"], e["row"]) for e in meta["rejects"]] == [(2, 0)]
        assert meta["rejects"][0]["reason"] == "a quoted field starts here and is never closed"


@pytest.mark.parametrize("how", ["file", "stdin", "gz"])
@pytest.mark.parametrize("on_error", ["skip", "reject"])
def test_unclosed_quote_in_a_row_past_the_limit(tmp_path: Path, how: str, on_error: str):
    """A quote never closed makes its row run to the input's end, past the row limit
    (lowered to 1 MiB here): still one bad row, up to the line break after the quote,
    and the rows after it convert (a stream's are held on disk meanwhile, not in memory)."""
    rest = _good_rows(0, 300_000)
    bad = b'5,"w,1.5\r\n'
    path = _write(tmp_path, how, HEADER + BEFORE + bad + rest)
    r = _convert(tmp_path, path, how, SCHEMA, on_error, max_row=1 << 20)
    assert "error" not in r, r["error"]
    assert (r["rows"], r["bad"]) == (2000 + 300_000, 1)
    assert r["peak"] < WELL_UNDER
    _check_output(tmp_path, _reference(HEADER + BEFORE + rest, SCHEMA))
    if on_error == "reject":
        assert (tmp_path / "rejects.csv").read_bytes() == HEADER + bad
        meta = json.loads((tmp_path / "rejects.csv.json").read_text())
        e = meta["rejects"][0]
        assert (e["line"], e["row"], e["offset"]) == (2002, 2000, len(HEADER + BEFORE) + 2)
        assert e["reason"] == "a quoted field starts here and is never closed"


# -- in process: the same rows whatever the threads, block size and input kind ------------


def _all_ways(data: bytes, schema: dict, on_error: str, tmp: Path, monkeypatch, **limits):
    """read_csv over bytes and a stream, with 1, 2 and 3 threads and several block sizes
    (``limits``: module constants of the pipeline to lower): the results, all equal."""
    from reference import Stream

    import fastetl
    import fastetl.pipeline as pipeline

    for name, value in limits.items():
        monkeypatch.setattr(pipeline, name, value)
    results = []
    for kind in ("bytes", "stream"):
        for workers, block in ((1, None), (2, None), (2, 1 << 12), (3, 1 << 15), (2, 777)):
            src = data if kind == "bytes" else Stream(data, step=4096)
            rej = tmp / f"rej-{kind}-{workers}-{block}.csv"
            arr = fastetl.read_csv(
                src, schema, workers=workers, block_size=block, on_error=on_error,
                rejects=rej if on_error == "reject" else None,
            ).array  # fmt: skip
            rejected = rej.read_bytes() if on_error == "reject" else None
            meta = json.loads(Path(str(rej) + ".json").read_text()) if rejected else None
            results.append((kind, workers, block, arr, rejected, meta))
    first = results[0]
    for other in results[1:]:
        assert other[3].tobytes() == first[3].tobytes(), other[:3]
        assert other[4] == first[4], other[:3]
        if first[5] is not None:
            assert other[5]["rejects"] == first[5]["rejects"], other[:3]
    return first[3], first[4], first[5]


@pytest.mark.parametrize("on_error", ["skip", "reject"])
def test_unclosed_quote_in_bytes_input(tmp_path: Path, monkeypatch, on_error: str):
    """A buffer input (bytes): the parallel path used to stop with "internal error: no
    progress" here."""
    rest = _good_rows(0, 250_000)
    bad = b'"1,w,1.5\n'
    arr, rejected, meta = _all_ways(HEADER + bad + rest, SCHEMA, on_error, tmp_path, monkeypatch)
    ref = _reference(HEADER + rest, SCHEMA)
    assert arr.tobytes() == ref.tobytes()
    if on_error == "reject":
        assert rejected == HEADER + bad
        assert [(e["line"], e["row"]) for e in meta["rejects"]] == [(2, 0)]


@pytest.mark.parametrize("on_error", ["skip", "reject"])
def test_overlong_rows_in_bytes_input(tmp_path: Path, monkeypatch, on_error: str):
    plain = b"7" * (3 << 20) + b",w,1.5\n"
    quoted = b'8,"' + b'ab""c\r\n' * (3 << 18) + b'",2.5\n'
    unclosed = b'9,"w,1.5\n'  # never closed: the input's end is past the limit
    good = [_good_rows(k * 1000, 1000) for k in range(4)]
    data = HEADER + good[0] + plain + good[1] + quoted + good[2] + unclosed + good[3]
    arr, rejected, meta = _all_ways(
        data, SCHEMA, on_error, tmp_path, monkeypatch, MAX_ROW_BYTES=1 << 20
    )
    ref = _reference(HEADER + b"".join(good), SCHEMA)
    assert arr.tobytes() == ref.tobytes()
    if on_error == "reject":
        assert rejected == HEADER + plain + quoted + unclosed
        reasons = [e["reason"] for e in meta["rejects"]]
        assert reasons == ["a row is longer than 1 MiB; is a quote left open?"] * 2 + [
            "a quoted field starts here and is never closed"
        ]
        assert [e["row"] for e in meta["rejects"]] == [1000, 2001, 3002]


def test_wide_records_parsed_in_pieces_are_the_same(tmp_path: Path, monkeypatch):
    """Blocks whose records do not fit RECORD_BUFFER_BYTES (lowered to 4 KiB here) are
    parsed in pieces; learned categories, bad rows and all, the output does not change."""
    schema = {
        "dialect": {"delimiter": ",", "quote": '"', "header": True},
        "columns": [
            {"name": "t", "type": "str", "width": 300},
            {"name": "c", "type": "category"},
            {"name": "n", "type": "int32"},
        ],
    }
    rows = []
    for i in range(20_000):
        n = b"x" if i % 997 == 5 else b"%d" % i  # now and then a bad row
        rows.append(b"t%d,c%d,%s\n" % (i, (i * 7919) % 613, n))
    data = b"t,c,n\n" + b"".join(rows)
    for on_error in ("skip", "reject"):
        arr, _, meta = _all_ways(
            data, schema, on_error, tmp_path, monkeypatch, RECORD_BUFFER_BYTES=4096
        )
        assert len(arr) == 20_000 - 21
        if meta is not None:
            assert [e["row"] for e in meta["rejects"]] == list(range(5, 20_000, 997))


def test_many_bad_rows_in_a_block_are_described_in_pieces(tmp_path: Path, monkeypatch):
    data = HEADER + b"".join(b"%d,w\n" % i if i % 3 else b"%d,w,1\n" % i for i in range(30_000))
    arr, _, meta = _all_ways(data, SCHEMA, "reject", tmp_path, monkeypatch, BAD_ROWS_PER_BLOCK=50)
    assert len(arr) == 10_000
    assert [e["row"] for e in meta["rejects"]] == [i for i in range(30_000) if i % 3]


@pytest.mark.parametrize("window", [1, 2, 5, 64 << 10])
def test_row_walker_agrees_with_the_core(monkeypatch, window: int):
    """Where _RowWalker ends a row, fed in pieces of every size, is where the core does."""
    import random

    import fastetl.pipeline as pipeline
    from fastetl import _core
    from fastetl.pipeline import _RowWalker

    monkeypatch.setattr(pipeline, "_MATCH_WINDOW", window)
    rng = random.Random(14)
    alphabet = [b"a", b",", b'"', b"\n", b"\r", b"b", b'""', b'"\r\n']
    for _ in range(3000):
        text = b"".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 24)))
        start = 0
        while start < len(text) and text[start] in b"\r\n":
            start += 1
        if start == len(text):
            continue
        status, want = _core.next_row_start(
            text, start, start + 1, len(text), True, ord(","), ord('"'), True
        )
        assert status == 0
        for step in (1, 2, 3, 5, 64):
            w = _RowWalker(ord(","), ord('"'))
            end, at = -1, start
            while end < 0:
                stop = min(len(text), at + step)
                piece = memoryview(text[:stop])  # (pieces of one buffer, as a stream's are)
                end = w.feed(piece, at, stop, 0)
                if end < 0 and stop >= len(text):
                    end = w.finish(len(text))
                at = stop
            while end < len(text) and text[end] in b"\r\n":  # the core also skips blank lines
                end += 1
            assert end == want, (text, step)
