"""The parallel pipeline: same bytes out for every thread count, block size and input path.

Every case is converted by one thread with one big block (the reference run) and
then by 2, 4 and 7 threads at block sizes from a few bytes to large; the records,
the sidecar dictionaries and any error must be identical.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import random
import subprocess
import sys
import threading

import numpy as np
import pytest

import fastetl
from reference import listing

WORKERS = (1, 2, 4, 7)
BLOCKS = (1, 2, 3, 5, 16, 97, 1000, 1 << 20)

SCHEMA = {
    "columns": [
        {"name": "id", "type": "int32"},
        {"name": "name", "type": "str", "width": 24, "nullable": True},
        {"name": "kind", "type": "category"},
        {"name": "city", "type": "category", "nullable": True},
        {"name": "price", "type": "decimal", "scale": 2},
        {"name": "day", "type": "date"},
        {"name": "ok", "type": "skip"},
    ],
    "flags": [
        {
            "name": "f",
            "bits": [{"column": "ok"}, {"name": "cheap", "column": "kind", "equals": "b"}],
        }
    ],
}


def make_csv(rows: int, seed: int, *, crlf: bool = False, bom: bool = False, final_newline=True):
    """Rows full of the things that make splitting hard: quoted line breaks and quotes."""
    rng = random.Random(seed)
    nl = "\r\n" if crlf else "\n"
    out = ["id,name,kind,city,price,day,ok"]
    for i in range(rows):
        name = rng.choice(['"multi\nline"', '"a ""q"" b"', "plain", '"x,y"', "", '"\r\n"', "é€"])
        kind = rng.choice("abcdefghij") * rng.randint(1, 3)
        city = rng.choice(["", "SP", "RJ", '"Belo\nHorizonte"', "Recife"])
        price = f"{rng.randint(-9999, 99999) / 100:.2f}"
        day = f"20{rng.randint(10, 29)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        ok = rng.choice(["true", "false", "1", "0"])
        out.append(f"{i},{name},{kind},{city},{price},{day},{ok}")
        if rng.random() < 0.05:
            out.append("")  # a blank line
    text = nl.join(out) + (nl if final_newline else "")
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8")


def convert_all(path, tmp_path, **kw):
    out = tmp_path / f"out-{kw.get('workers')}-{kw.get('block_size')}.npy"
    fastetl.convert(path, out, SCHEMA, **kw)
    meta = json.loads((tmp_path / (out.name + ".json")).read_text())
    return out.read_bytes(), meta["categories"], meta["rows"]


@pytest.mark.parametrize(
    "variant",
    [
        {},
        {"crlf": True},
        {"bom": True},
        {"final_newline": False},
        {"crlf": True, "bom": True, "final_newline": False},
    ],
    ids=["lf", "crlf", "bom", "no-final-newline", "all"],
)
def test_same_bytes_for_every_thread_count_and_block_size(tmp_path, variant):
    path = tmp_path / "in.csv"
    path.write_bytes(make_csv(300, seed=7, **variant))
    ref = convert_all(path, tmp_path, workers=1, block_size=1 << 30)
    assert ref[2] == 300
    for w in WORKERS:
        for bs in BLOCKS:
            got = convert_all(path, tmp_path, workers=w, block_size=bs)
            assert got == ref, f"workers={w} block_size={bs}"



def _plain_then_quoted(rows: int) -> bytes:
    """Rows with no quoted line break, then (in the second half) rows with them."""
    text = make_csv(rows, seed=5).decode()
    head, *lines = text.split("\n")
    plain = [ln for ln in make_csv(rows, seed=6).decode().split("\n")[1:] if ln]
    plain = [ln for ln in plain if ln.count('"') == 0][: rows // 2]
    return ("\n".join([head, *plain, *lines]) + "\n").encode()


@pytest.mark.parametrize("shape", ["plain-then-quoted", "lone-cr", "quoted"])
def test_files_cut_by_guess_give_the_same_bytes(tmp_path, shape):
    """A file's windows are cut at their last line break (a guess); a guess found wrong
    (a quoted line break) makes the rest be cut exactly, from the rows committed."""
    if shape == "plain-then-quoted":
        data = _plain_then_quoted(2000)
    elif shape == "lone-cr":
        data = make_csv(2000, seed=8, crlf=True).replace(b"\r\n", b"\r")
    else:
        data = make_csv(2000, seed=8)
    path = tmp_path / "in.csv"
    path.write_bytes(data)
    ref = convert_all(path, tmp_path, workers=1, block_size=1 << 30)
    ref_array = fastetl.read_csv(data, SCHEMA, workers=1, block_size=1 << 30).array
    for w in (2, 3):
        for bs in (50, 999, 8000):
            assert convert_all(path, tmp_path, workers=w, block_size=bs) == ref, (w, bs)
            got = fastetl.read_csv(path, SCHEMA, workers=w, block_size=bs).array
            assert got.tobytes() == ref_array.tobytes(), (w, bs)

def test_read_csv_equals_convert_for_threads(tmp_path):
    data = make_csv(500, seed=11)
    ref = fastetl.read_csv(data, SCHEMA, workers=1).array
    for w in (2, 3, 7):
        for bs in (7, 64, 4096):
            got = fastetl.read_csv(data, SCHEMA, workers=w, block_size=bs).array
            assert got.tobytes() == ref.tobytes(), (w, bs)


def test_learned_categories_are_in_first_appearance_order(tmp_path):
    # 'kind' values appear in a known order; every thread count must give the same codes
    rows = ["id,name,kind,city,price,day,ok"]
    order = [f"k{i}" for i in range(40)]
    for i, k in enumerate(order):
        rows.append(f"{i},n,{k},SP,1.00,2020-01-01,0")
    for i, k in enumerate(reversed(order)):
        rows.append(f"{i + 40},n,{k},,1.00,2020-01-01,1")
    data = ("\n".join(rows) + "\n").encode()
    path = tmp_path / "cats.csv"
    path.write_bytes(data)
    for w in WORKERS:
        out = tmp_path / f"c{w}.npy"
        fastetl.convert(path, out, SCHEMA, workers=w, block_size=50)
        t = fastetl.open(out)
        assert t.meta["categories"]["kind"] == order
        assert list(t["kind"]) == order + order[::-1]
        assert t.meta["categories"]["city"] == ["SP"]
        assert list(t["city"]) == ["SP"] * 40 + [None] * 40
        assert t.array["city"].tolist() == [0] * 80  # null rows keep code 0


@pytest.mark.parametrize(
    "opener", [gzip.compress, bz2.compress, lzma.compress], ids=["gz", "bz2", "xz"]
)
def test_compressed_input_equals_plain(tmp_path, opener):
    data = make_csv(400, seed=3, crlf=True)
    plain = tmp_path / "in.csv"
    plain.write_bytes(data)
    packed = tmp_path / "in.csv.z"
    packed.write_bytes(opener(data))
    ref = convert_all(plain, tmp_path, workers=1)
    for w in (1, 2, 4):
        for bs in (5, 333, 1 << 20):
            assert convert_all(packed, tmp_path, workers=w, block_size=bs) == ref, (w, bs)


def test_file_object_and_stdin_equal_plain(tmp_path):
    data = make_csv(250, seed=5)
    plain = tmp_path / "in.csv"
    plain.write_bytes(data)
    ref = fastetl.read_csv(plain, SCHEMA, workers=1).array
    for w in (1, 2, 7):
        got = fastetl.read_csv(
            io.BufferedReader(io.BytesIO(data)), SCHEMA, workers=w, block_size=41
        ).array
        assert got.tobytes() == ref.tobytes(), w
    schema = tmp_path / "s.json"
    schema.write_text(json.dumps(SCHEMA))
    out = tmp_path / "stdin.npy"
    cmd = [sys.executable, "-m", "fastetl", "convert", "-", str(out), "--schema", str(schema)]
    for w in ("1", "2"):
        proc = subprocess.run(
            cmd + ["--workers", w, "--block-size", "100"], input=data, capture_output=True
        )
        assert proc.returncode == 0, proc.stderr
        assert np.load(out).tobytes() == ref.tobytes()


def bad_inputs():
    good = make_csv(200, seed=9).decode()
    lines = good.split("\n")
    # a bad value deep in the file, after quoted line breaks
    bad_value = "\n".join(
        lines[:150] + ['150,"multi\nline",a,SP,12.345,2020-01-01,1'] + lines[150:]
    )
    bad_count = "\n".join(lines[:120] + ["120,x,a,SP,1.00,2020-01-01"] + lines[120:])
    bad_quote = "\n".join(lines[:90] + ['90,"ab"c,a,SP,1.00,2020-01-01,1'] + lines[90:])
    unterminated = good + '999,"never closed,a,SP,1.00,2020-01-01,1\n'
    return {
        "value": bad_value.encode(),
        "field count": bad_count.encode(),
        "after quote": bad_quote.encode(),
        "unterminated": unterminated.encode(),
    }


@pytest.mark.parametrize("kind", list(bad_inputs()))
def test_worker_errors_are_the_same_parse_error(tmp_path, kind):
    data = bad_inputs()[kind]
    path = tmp_path / "bad.csv"
    path.write_bytes(data)
    out = tmp_path / "out.npy"
    out.write_bytes(b"previous output")
    before = threading.active_count()
    with pytest.raises(fastetl.ParseError) as ref:
        fastetl.convert(path, out, SCHEMA, workers=1, block_size=1 << 30)
    for w in (2, 4, 7):
        for bs in (3, 64, 999):
            with pytest.raises(fastetl.ParseError) as got:
                fastetl.convert(path, out, SCHEMA, workers=w, block_size=bs)
            e, r = got.value, ref.value
            assert (str(e), e.line, e.column, e.offset, e.row) == (
                str(r),
                r.line,
                r.column,
                r.offset,
                r.row,
            ), (w, bs)
    assert out.read_bytes() == b"previous output"
    assert listing(tmp_path) == ["bad.csv", "out.npy"]
    assert threading.active_count() == before  # no worker thread left behind



@pytest.mark.parametrize("crlf", [False, True], ids=["lf", "crlf"])
@pytest.mark.parametrize("kind", list(bad_inputs()))
def test_read_csv_errors_from_a_file_are_the_same_parse_error(tmp_path, kind, crlf):
    """read_csv of a file (no checkpoints, policy raise): its lines are counted only for
    the error, from the file, past windows already let go of."""
    data = bad_inputs()[kind]
    if crlf:
        data = data.replace(b"\n", b"\r\n")
    path = tmp_path / "bad.csv"
    path.write_bytes(data)
    with pytest.raises(fastetl.ParseError) as ref:
        fastetl.read_csv(data, SCHEMA, workers=1, block_size=1 << 30)
    for w in (2, 3):
        for bs in (3, 64, 999, 1 << 20):
            with pytest.raises(fastetl.ParseError) as got:
                fastetl.read_csv(path, SCHEMA, workers=w, block_size=bs)
            e, r = got.value, ref.value
            assert (str(e), e.line, e.column, e.offset, e.row) == (
                str(r),
                r.line,
                r.column,
                r.offset,
                r.row,
            ), (w, bs)

def test_category_limit_error_is_exact_in_parallel(tmp_path):
    schema = {"columns": [{"name": "k", "type": "category", "max_values": 5}]}
    values = ["a", "b", "a", "c", "d", "b", "e", "a", "f", "a"]  # 'f' (line 10) is the 6th
    data = ("k\n" + "\n".join(values) + "\n").encode()
    with pytest.raises(fastetl.ParseError) as ref:
        fastetl.read_csv(data, schema, workers=1)
    assert ref.value.line == 10 and ref.value.value == "f"
    for w in (2, 3):
        for bs in (1, 2, 5, 9):
            with pytest.raises(fastetl.ParseError) as got:
                fastetl.read_csv(data, schema, workers=w, block_size=bs)
            assert str(got.value) == str(ref.value), (w, bs)
            assert got.value.row == ref.value.row == 8


def test_workers_option_is_validated():
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="workers"):
            fastetl.read_csv(b"a\n1\n", {"columns": [{"name": "a", "type": "int8"}]}, workers=bad)


@pytest.mark.parametrize("workers", [1, 3])
def test_progress_reports_bytes_up_to_the_total(tmp_path, workers):
    path = tmp_path / "in.csv"
    path.write_bytes(make_csv(400, seed=13))
    seen: list[tuple[int, int | None]] = []
    fastetl.convert(
        path,
        tmp_path / "o.npy",
        SCHEMA,
        workers=workers,
        block_size=500,
        progress=lambda done, total: seen.append((done, total)),
    )
    size = path.stat().st_size
    assert len(seen) > 3
    assert all(total == size for _, total in seen)
    dones = [d for d, _ in seen]
    assert dones == sorted(dones) and dones[-1] == size


def test_cli_progress_bar_only_when_asked_or_on_a_terminal(tmp_path):
    path = tmp_path / "in.csv"
    path.write_bytes(make_csv(300, seed=17))
    schema = tmp_path / "s.json"
    schema.write_text(json.dumps(SCHEMA))
    base = [
        sys.executable,
        "-m",
        "fastetl",
        "convert",
        str(path),
        str(tmp_path / "o.npy"),
        "--schema",
        str(schema),
        "--block-size",
        "300",
    ]
    quiet = subprocess.run(base, capture_output=True)  # stderr is a pipe: no bar
    assert quiet.returncode == 0 and quiet.stderr == b""
    shown = subprocess.run(base + ["--progress"], capture_output=True)
    assert shown.returncode == 0
    assert b"\r" in shown.stderr and b"100%" in shown.stderr and b"MB/s" in shown.stderr
    off = subprocess.run(base + ["--no-progress"], capture_output=True)
    assert off.returncode == 0 and off.stderr == b""
