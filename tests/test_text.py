"""The ``text`` type: variable-length values stored out of line (``OUT.text.npy``).

Every value is checked against Python's ``csv`` module reading the same bytes
(``csv.reader`` is the reference: quotes undone, line breaks and NULs kept);
nulls are the dialect's null markers.  Plain ``numpy.load`` of the two files gives
the same values through ``text[offset:offset + length]``.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastetl
from fastetl import outset
from reference import HOLD, held, listing

NA = "NA"
SCHEMA = {
    "dialect": {"null_values": [NA]},
    "columns": [
        {"name": "id", "type": "int64"},
        {"name": "note", "type": "text", "nullable": True},
        {"name": "tag", "type": "str", "width": 4},
        {"name": "body", "type": "text"},
    ],
}
PIECES = ["a", "b c", ",", '"', "\n", "\r\n", "é", "日本", "\x00", "🙂", "  ", "x" * 300, ""]


def _value(rng: random.Random) -> str:
    return "".join(rng.choice(PIECES) for _ in range(rng.choice([0, 1, 2, 5, 40])))


def _write(path: Path, rows: int, seed: int, start: int = 0) -> Path:
    rng = random.Random(seed)
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["id", "note", "tag", "body"])
    for i in range(start, start + rows):
        note = NA if i % 11 == 3 else _value(rng)
        w.writerow([i, note, "t", _value(rng)])
    path.write_bytes(buf.getvalue().encode("utf-8"))
    return path


def _expected(*paths: Path) -> dict[str, list]:
    """Column values as Python's csv module reads the files (None for the null marker)."""
    out: dict[str, list] = {"id": [], "note": [], "body": []}
    for p in paths:
        with open(p, newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))[1:]
        for r in rows:
            out["id"].append(int(r[0]))
            out["note"].append(None if r[1] == NA else r[1])
            out["body"].append(r[3])
    return out


def _plain_numpy(out: Path, name: str) -> list:
    """A column's values from the two files with numpy alone (no fastetl)."""
    recs = np.load(out)
    text = np.load(out.with_name(out.name[: -len(".npy")] + ".text.npy"))
    return [
        bytes(text[o : o + n]).decode("utf-8")
        for o, n in zip(recs[name]["offset"].tolist(), recs[name]["length"].tolist())
    ]


def _files(folder: Path) -> dict[str, bytes]:
    out = {}
    for p in sorted(folder.iterdir()):
        if p.name.startswith("."):
            continue
        data = p.read_bytes()
        if p.name.endswith(".npy.json"):
            meta = json.loads(data)
            meta.pop("created")
            meta.pop("lineage", None)  # (the run's times and id)
            meta["source"].pop("path", None)
            data = json.dumps(meta, sort_keys=True).encode()
        out[p.name] = data
    return out


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("text")
    return _write(d / "a.csv", 3000, seed=7)


def test_values_match_the_csv_module_on_disk_and_in_memory(tmp_path, data):
    want = _expected(data)
    out = tmp_path / "o.npy"
    fastetl.convert(data, out, SCHEMA)
    t = fastetl.open(out)
    mem = fastetl.read_csv(data, SCHEMA)
    for table in (t, mem):
        assert table["id"].tolist() == want["id"]
        assert table["note"].tolist() == want["note"]
        assert table["body"].tolist() == want["body"]
    # plain numpy sees (offset, length) references into OUT.text.npy
    notes = _plain_numpy(out, "note")
    nulls = t.null_mask("note")
    assert [None if z else v for v, z in zip(notes, nulls.tolist())] == want["note"]
    assert _plain_numpy(out, "body") == want["body"]
    # a null is not an empty string: both occur, and stay apart
    assert None in want["note"] and "" in want["note"]
    assert any("\x00" in v for v in want["body"])
    meta = json.loads((tmp_path / "o.npy.json").read_text())
    assert meta["text"]["path"] == "o.text.npy"
    assert meta["text"]["bytes"] == len(np.load(tmp_path / "o.text.npy"))


def test_disk_grows_with_the_data_not_with_the_widest_value(tmp_path, data):
    want = _expected(data)
    out = tmp_path / "o.npy"
    fastetl.convert(data, out, SCHEMA)
    used = sum(len(v.encode()) for v in want["body"]) + sum(
        len(v.encode()) for v in want["note"] if v is not None
    )
    assert len(np.load(tmp_path / "o.text.npy")) == used  # each value once, no padding
    assert np.load(out).dtype["body"].itemsize == 12


@pytest.mark.parametrize("block_size", [1 << 10, 1 << 16])
def test_the_same_bytes_whatever_the_thread_count(tmp_path, data, block_size):
    got = []
    for workers in (1, 2, 4):
        folder = tmp_path / f"w{workers}"
        folder.mkdir()
        fastetl.convert(data, folder / "o.npy", SCHEMA, workers=workers, block_size=block_size)
        got.append(_files(folder))
    assert got[0] == got[1] == got[2]
    mem = [
        fastetl.read_csv(data, SCHEMA, workers=w, block_size=block_size) for w in (1, 2, 4)
    ]
    for t in mem[1:]:
        assert t.array.tobytes() == mem[0].array.tobytes()
        assert t.text.tobytes() == mem[0].text.tobytes()
    assert mem[0].array.tobytes() == np.load(tmp_path / "w1" / "o.npy").tobytes()


def test_append_puts_the_new_text_after_the_old(tmp_path, data):
    b = _write(tmp_path / "b.csv", 500, seed=8, start=3000)
    out = tmp_path / "o.npy"
    fastetl.convert(data, out, SCHEMA)
    fastetl.convert(b, out, SCHEMA, append=True, workers=2, block_size=1 << 10)
    want = _expected(data, b)
    t = fastetl.open(out)
    assert t["note"].tolist() == want["note"]
    assert t["body"].tolist() == want["body"]
    assert _plain_numpy(out, "body") == want["body"]


def test_rejected_rows_keep_no_text_and_the_rejects_file_is_the_csv(tmp_path):
    src = tmp_path / "bad.csv"
    lines = ['id,note,tag,body', '1,"one, two",t,"x\ny"', 'zz,"gone ""q""",t,"lost"',
             '3,NA,t,', '4,"é\x00",toolong,"lost too"', '5,five,t,"z"']  # fmt: skip
    raw = ("\n".join(lines) + "\n").encode()
    src.write_bytes(raw)
    rej = tmp_path / "rej.csv"
    for workers in (1, 2):
        out = tmp_path / f"o{workers}.npy"
        rep = fastetl.convert(
            src, out, SCHEMA, on_error="reject", rejects=rej, workers=workers, block_size=64
        )
        assert rep.rows == 3
        kept = [r for r in csv.reader(io.StringIO(raw.decode(), newline="")) if r][1:]
        kept = [r for r in kept if r[0] in ("1", "3", "5")]
        t = fastetl.open(out)
        assert t["note"].tolist() == [None if r[1] == NA else r[1] for r in kept]
        assert t["body"].tolist() == [r[3] for r in kept]
        used = sum(len(r[3].encode()) + (0 if r[1] == NA else len(r[1].encode())) for r in kept)
        assert len(np.load(tmp_path / f"o{workers}.text.npy")) == used
        bad_rows = rej.read_bytes().split(b"\n")
        assert bad_rows[0] == b"id,note,tag,body"
        assert b'zz,"gone ""q""",t,"lost"' in bad_rows
        assert '4,"é\x00",toolong,"lost too"'.encode() in bad_rows


def test_bridges_give_strings(tmp_path, data):
    pa = pytest.importorskip("pyarrow")
    pd = pytest.importorskip("pandas")
    want = _expected(data)
    out = tmp_path / "o.npy"
    fastetl.convert(data, out, SCHEMA)
    t = fastetl.open(out)
    at = t.to_arrow()
    assert at.schema.field("body").type == pa.large_string()
    assert at.column("note").to_pylist() == want["note"]
    assert at.column("body").to_pylist() == want["body"]
    df = t.to_pandas()
    assert [None if pd.isna(v) else v for v in df["note"]] == want["note"]
    assert df["body"].tolist() == want["body"]
    notes = []
    for batch in t.iter_batches(rows=700):
        notes += batch.column("note").to_pylist()
    assert notes == want["note"]
    frames = list(t.iter_batches(rows=1000, format="pandas"))
    assert sum((f["body"].tolist() for f in frames), []) == want["body"]
    sub = t.rows(5, 8)
    assert [r["body"] for r in sub] == want["body"][5:8]


def test_stdin_and_compressed_inputs(tmp_path, data):
    want = _expected(data)
    schema = tmp_path / "s.json"
    schema.write_text(json.dumps(SCHEMA))
    out = tmp_path / "o.npy"
    p = subprocess.run(
        [sys.executable, "-m", "fastetl", "convert", "-", str(out), "--schema", str(schema),
         "--workers", "2"],
        input=data.read_bytes(), capture_output=True, timeout=300,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert fastetl.open(out)["body"].tolist() == want["body"]
    gz = tmp_path / "a.csv.gz"
    gz.write_bytes(gzip.compress(data.read_bytes()))
    fastetl.convert(gz, tmp_path / "g.npy", SCHEMA)
    assert fastetl.open(tmp_path / "g.npy")["note"].tolist() == want["note"]
    assert fastetl.read_csv(gz, SCHEMA)["body"].tolist() == want["body"]


def test_bad_utf8_in_a_text_column_is_one_clear_error(tmp_path):
    src = tmp_path / "b.csv"
    src.write_bytes(b"id,note,tag,body\n1,ok,t,fine\n2,ok,t,bad\xff here\n")
    with pytest.raises(fastetl.ParseError) as e:
        fastetl.convert(src, tmp_path / "o.npy", SCHEMA)
    msg = str(e.value)
    assert "line 3" in msg and '"body"' in msg and "\n" not in msg
    assert not (tmp_path / "o.npy").exists() and not (tmp_path / "o.text.npy").exists()


def test_schema_checks_and_round_trip():
    col = {"name": "t", "type": "text", "nullable": True}
    s = fastetl.Schema.from_dict({"columns": [col]})
    assert s.to_dict()["columns"] == [col]
    with pytest.raises(fastetl.SchemaError, match="do not apply to type text"):
        fastetl.Schema.from_dict({"columns": [{"name": "t", "type": "text", "width": 4}]})


KILL_BETWEEN_RENAMES = r"""
import os, sys, json, fastetl
src, out, which, schema = sys.argv[1], sys.argv[2], int(sys.argv[3]), json.loads(sys.argv[4])
real = os.replace
done = []
def dying_replace(a, b):
    real(a, b)
    if str(b).endswith(("o.npy", "o.npy.json", "o.text.npy")):
        done.append(b)
        if len(done) == which:
            os.kill(os.getpid(), 9)  # a crash in the middle of the set's renames
os.replace = dying_replace
fastetl.convert(src, out, schema)
"""


@pytest.mark.parametrize("which", [1, 2, 3])
def test_a_crash_between_the_renames_never_pairs_text_of_another_commit(tmp_path, which, data):
    b = _write(tmp_path / "b.csv", 400, seed=9)
    out = tmp_path / "o.npy"
    fastetl.convert(data, out, SCHEMA)
    p = subprocess.run(
        [sys.executable, "-c", KILL_BETWEEN_RENAMES, str(b), str(out), str(which),
         json.dumps(SCHEMA)], timeout=300,
    )  # fmt: skip
    assert p.returncode == -signal.SIGKILL
    assert outset.journal_path(out).exists()
    if which < 3:  # part of the new set is in place: no reader mixes the two commits
        with outset.OutputLock(out).acquire():
            with pytest.raises(fastetl.OutputError):  # (the message names what differs)
                fastetl.open(out)
    t = fastetl.open(out)  # takes the lock and completes the commit first
    want = _expected(b)
    assert t["body"].tolist() == want["body"] and t["note"].tolist() == want["note"]
    if which == 3:  # the whole set was in place: the next writer clears the journal
        rep = fastetl.convert(data, out, SCHEMA)
        assert rep.recovered and fastetl.open(out)["body"].tolist() == _expected(data)["body"]
    assert not outset.journal_path(out).exists()
    assert listing(tmp_path) == ["b.csv", "o.npy", "o.npy.json", "o.text.npy"]


RUNNER = HOLD + r"""
import json, sys
import fastetl
src, dst, resume, schema = sys.argv[1], sys.argv[2], sys.argv[3] == "1", json.loads(sys.argv[4])
fastetl.convert(src, dst, schema, workers=2, block_size=1 << 14, resume=resume,
                checkpoint_every=0.0, progress=holding(dst, ["checkpoint", "rows", 4000]))
"""


def test_kill_9_then_resume_is_byte_identical(tmp_path):
    src = _write(tmp_path / "big.csv", 40_000, seed=11)
    ref = tmp_path / "ref"
    ref.mkdir()
    fastetl.convert(src, ref / "o.npy", SCHEMA, workers=1)
    run = tmp_path / "run"
    run.mkdir()
    dst = run / "o.npy"
    proc = subprocess.Popen(
        [sys.executable, "-c", RUNNER, str(src), str(dst), "0", json.dumps(SCHEMA)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    held(proc)  # (a checkpoint of 4,000 rows or more is there, and the run waits)
    doc = json.loads(outset.checkpoint_path(dst).read_text())
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert Path(doc["text_partial"]).exists()
    rep = fastetl.convert(src, dst, SCHEMA, workers=2, resume=True)
    assert rep.resumed_at is not None and 0 < rep.resumed_at < rep.rows
    assert _files(run) == _files(ref)
    assert [n for n in os.listdir(run) if n.startswith(".") and "lock" not in n] == []


def _saving_rule(values: list[str]) -> bool:
    """docs/INFERENCE.md's rule, computed here from the csv module's values: text when the
    longest value is over 64 bytes and str's width (1.5x it, rounded up to 8) is over twice
    what text takes per row (12 bytes and the mean length)."""
    sizes = [len(v.encode()) for v in values]
    width = 8 * -(-(max(sizes) * 1.5) // 8)
    return max(sizes) > 64 and width > 2 * (12 + sum(sizes) / len(sizes))


def test_inference_picks_text_where_lengths_vary_widely(tmp_path):
    rng = random.Random(3)
    src = tmp_path / "free.csv"
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["id", "comment", "code", "short"])
    for i in range(2000):
        words = rng.choice([1, 2, 3, 60])
        comment = " ".join(f"w{rng.randint(0, 9999)}," for _ in range(words))
        w.writerow([i, comment, f"{i:080d}", f"s{i}"])
    src.write_text(buf.getvalue(), encoding="utf-8")
    with open(src, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))[1:]
    cols = {c.name: c for c in fastetl.infer_schema(src).columns}
    assert _saving_rule([r[1] for r in rows]) and cols["comment"].type == "text"
    assert not _saving_rule([r[2] for r in rows]) and cols["code"].type == "str"
    assert cols["short"].type == "str"
    t = fastetl.read_csv(src)
    assert t["comment"].tolist() == [r[1] for r in rows]
    assert t["code"].tolist() == [r[2] for r in rows]


def test_a_long_value_past_the_sample_widens_str_to_text(tmp_path):
    src = tmp_path / "w.csv"
    long = 'long, "quoted"\nvalue ' * 20
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["id", "name"])
    for i in range(300_000):
        w.writerow([i, long if i == 150_001 else f"n{i}"])
    src.write_text(buf.getvalue(), encoding="utf-8")
    with open(src, newline="", encoding="utf-8") as fh:
        want = [r[1] for r in list(csv.reader(fh))[1:]]
    got = []
    for workers in (1, 2):
        folder = tmp_path / f"w{workers}"
        folder.mkdir()
        rep = fastetl.convert(src, folder / "o.npy", workers=workers)
        assert [(w["column"], w["to"]) for w in rep.widened] == [("name", "text")]
        t = fastetl.open(folder / "o.npy")
        assert t["name"].tolist() == want
        got.append(_files(folder))
    assert got[0] == got[1]
    # the same bytes as a conversion with the widened schema from the start
    schema = fastetl.open(tmp_path / "w1" / "o.npy").schema
    fastetl.convert(src, tmp_path / "direct.npy", schema.to_dict())
    direct = np.load(tmp_path / "direct.npy")
    assert direct.tobytes() == np.load(tmp_path / "w1" / "o.npy").tobytes()
    direct = np.load(tmp_path / "direct.text.npy")
    assert direct.tobytes() == np.load(tmp_path / "w1" / "o.text.npy").tobytes()


def test_profile_reads_an_inferred_text_column_as_str(tmp_path):
    src = tmp_path / "p.csv"
    rows = "".join(f"{i},{'x' * (1 if i % 4 else 200)}{i}\n" for i in range(400))
    src.write_text("id,comment\n" + rows)
    assert fastetl.infer_schema(src).columns[1].type == "text"
    p = subprocess.run([sys.executable, "-m", "fastetl", "profile", str(src)], capture_output=True,
                       text=True, timeout=300)  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert "400 rows" in p.stdout and "0 bad rows" in p.stdout


def test_a_text_file_of_another_commit_is_refused(tmp_path, data):
    b = _write(tmp_path / "b.csv", 300, seed=12)
    fastetl.convert(data, tmp_path / "o.npy", SCHEMA)
    fastetl.convert(b, tmp_path / "p.npy", SCHEMA)
    os.replace(tmp_path / "p.text.npy", tmp_path / "o.text.npy")  # a stray copy, by hand
    with outset.OutputLock(tmp_path / "o.npy").acquire():  # (no run to complete)
        with pytest.raises(fastetl.OutputError, match="o.text.npy was not written with"):
            fastetl.open(tmp_path / "o.npy")
    with pytest.raises(fastetl.OutputError, match="o.text.npy was not written with"):
        fastetl.convert(b, tmp_path / "o.npy", SCHEMA, append=True)
    assert listing(tmp_path) == ["b.csv", "o.npy", "o.npy.json", "o.text.npy", "p.npy",
                                 "p.npy.json"]  # fmt: skip


def test_a_reference_past_the_text_is_one_clear_error(data):
    t = fastetl.read_csv(data, SCHEMA)
    cut = fastetl.Table.from_array(t.array, t.meta, t.text[: len(t.text) // 2])
    with pytest.raises(fastetl.OutputError) as e:
        cut["body"]
    assert "column 'body', row " in str(e.value) and "past the end" in str(e.value)
    assert "\n" not in str(e.value)


def test_text_arrow_refuses_references_past_the_text():
    # the compiled gather checks the references in its first pass (the copy has no
    # bound): one TextPastEnd naming the value, nothing copied
    pytest.importorskip("pyarrow")
    from fastetl.schema import TEXT_REF

    refs = np.array([(0, 2), (2, 3)], TEXT_REF)
    text = np.frombuffer(b"abcde", np.uint8)
    assert fastetl.bridges.text_arrow(text, refs).to_pylist() == ["ab", "cde"]
    for short in (b"", b"abcd"):
        with pytest.raises(fastetl.bridges.TextPastEnd) as e:
            fastetl.bridges.text_arrow(np.frombuffer(short, np.uint8), refs)
        assert e.value.index == (0 if not short else 1)
    with pytest.raises(fastetl.bridges.TextPastEnd):
        fastetl.bridges.text_arrow(text, np.array([(2**64 - 1, 2)], TEXT_REF))


@pytest.mark.parametrize("lead", [1, 3, 4, 5])
def test_references_at_any_byte_offset_are_read_as_numpy_reads_them(lead):
    # A text reference is 12 bytes inside a packed record, so its words sit at any
    # alignment; the reference is numpy's own reading of the same fields and bytes
    # (scripts/sanitize.sh runs this file: UBSan refuses a misaligned load there).
    pytest.importorskip("pyarrow")
    rng = random.Random(lead)
    values = ["".join(rng.choice(PIECES) for _ in range(rng.randrange(4))) for _ in range(64)]
    blob = "".join(values).encode("utf-8")
    dtype = np.dtype([("pad", f"S{lead}"), ("t", [("offset", "<u8"), ("length", "<u4")])])
    recs = np.zeros(len(values), dtype)
    at = 0
    for i, v in enumerate(values):
        n = len(v.encode("utf-8"))
        recs[i]["t"] = (at, n)
        at += n
    text = np.frombuffer(blob, np.uint8)
    refs = recs["t"]
    assert refs["offset"].ctypes.data % 8 or refs.strides[0] % 8  # really unaligned
    want = [bytes(text[o : o + n]).decode("utf-8")
            for o, n in zip(refs["offset"].tolist(), refs["length"].tolist())]  # fmt: skip
    assert want == values
    assert fastetl.bridges.text_arrow(text, refs).to_pylist() == want
    assert fastetl.bridges.text_objects(text, refs).tolist() == want


@pytest.mark.parametrize("reserve_text", [None, 1, 1 << 30])
def test_text_in_memory_every_way(tmp_path, data, reserve_text):
    """read_csv's text bytes in a reservation (moved to a larger one when too small, more
    than once here), or in an array that grows: the same bytes as convert writes."""
    from fastetl.api import read_into
    from fastetl.schema import as_schema
    from fastetl.store import ArrayWriter

    fastetl.convert(data, tmp_path / "o.npy", SCHEMA, workers=1)
    sch = as_schema(SCHEMA)
    w = ArrayWriter(sch.dtype(), reserve_bytes=1 << 30, reserve_text=reserve_text)
    read_into(data, sch, w, workers=2)
    text = w.text()
    assert len(text) > 64 << 10  # (past the first reservation of 1 byte, and its next)
    assert w.result().tobytes() == np.load(tmp_path / "o.npy").tobytes()
    assert text.tobytes() == np.load(tmp_path / "o.text.npy").tobytes()


def test_values_longer_than_a_block_on_two_threads(tmp_path):
    """Blocks whose text is bigger than the buffers the workers keep (values of 1-3 MiB
    among short ones, past the 1 MiB rounding): every value as the csv module reads it."""
    rng = random.Random(11)
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["id", "note", "tag", "body"])
    for i in range(400):
        body = _value(rng)
        if i % 97 == 5:
            body = "".join(rng.choice('ab,"é\n ') for _ in range(rng.randint(1 << 20, 3 << 20)))
        w.writerow([i, _value(rng), "t", body])
    path = tmp_path / "long.csv"
    path.write_bytes(buf.getvalue().encode("utf-8"))
    want = _expected(path)
    out = tmp_path / "o.npy"
    fastetl.convert(path, out, SCHEMA, workers=2, block_size=1 << 16)
    assert _plain_numpy(out, "body") == want["body"]
    t = fastetl.read_csv(path, SCHEMA, workers=2, block_size=1 << 16)
    assert t["body"].tolist() == want["body"]
