"""read_csv's text columns, put in place by the workers (pipeline._TextPlaces).

Each worker takes its block's text straight to its final place in the result, after
the text of the blocks before it; the committer falls back to writing the text itself
(after copying out what was placed) when a block is parsed again, dropped, filtered or
does not fit.  Whatever the path, the values are what Python's ``csv`` module reads,
and the records and text bytes are those of a read on one thread.  A spy (the real
methods, counted) says which path each read took, so each case is known to test it.
No timing is asserted.
"""

from __future__ import annotations

import csv
import io
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import fastetl
from fastetl import pipeline, store

SCHEMA = {
    "columns": [
        {"name": "id", "type": "int64"},
        {"name": "n", "type": "int64", "nullable": True},
        {"name": "body", "type": "text", "nullable": True},
        {"name": "note", "type": "text"},
    ]
}
WORDS = ["fox", "café", "naïve", "a,b", 'say "hi"', "ünïcödé ✓", "x" * 90, "", "end\x00"]


def _rows(count: int, seed: int, newlines: bool = False) -> list[list[str]]:
    rng = random.Random(seed)
    out = []
    for i in range(count):
        body = " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 12)))
        if newlines and i % 3 == 1:
            body += "\nsecond line, \"quoted\"\n"
        n = "" if i % 13 == 0 else str(rng.randint(-1000, 1000))
        out.append([str(i), n, body, rng.choice(WORDS)])
    return out


def _write(path: Path, rows: list[list[str]]) -> Path:
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["id", "n", "body", "note"])
    w.writerows(rows)
    path.write_bytes(buf.getvalue().encode("utf-8"))
    return path


def _expected(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))[1:]


def _check(t: fastetl.Table, want: list[list[str]]) -> None:
    assert len(t) == len(want)
    assert t["id"].tolist() == [int(r[0]) for r in want]
    notes = list(t["note"])
    assert notes == [r[3] for r in want]
    bodies = list(t["body"])
    # (an empty body is a null: the column is nullable)
    assert [b if b is not None else "" for b in bodies] == [r[2] for r in want]


def _same_as_one_thread(t: fastetl.Table, src: Any, schema: dict, **kw: Any) -> None:
    one = fastetl.read_csv(src, schema, workers=1, **kw)
    assert t.array.tobytes() == one.array.tobytes()
    assert t.text.tobytes() == one.text.tobytes()


def _spy(monkeypatch) -> dict[str, int]:
    """Counts of blocks placed by a worker, not placed, and placings stopped."""
    seen = {"placed": 0, "not placed": 0, "stopped": 0}
    place, stop = pipeline._TextPlaces.place, pipeline._TextPlaces.stop

    def spy_place(self, ticket, parser):
        out = place(self, ticket, parser)
        seen["placed" if out is not None else "not placed"] += 1
        return out

    def spy_stop(self):
        seen["stopped"] += self.spill is None
        stop(self)

    monkeypatch.setattr(pipeline._TextPlaces, "place", spy_place)
    monkeypatch.setattr(pipeline._TextPlaces, "stop", spy_stop)
    return seen


@pytest.mark.parametrize("block_size", [32 << 10, 100_000])
@pytest.mark.parametrize("workers", [2, 3, 4])
def test_text_placed_by_the_workers_is_what_python_reads(tmp_path, monkeypatch, workers,
                                                         block_size):
    src = _write(tmp_path / "in.csv", _rows(12_000, seed=workers))
    seen = _spy(monkeypatch)
    t = fastetl.read_csv(src, SCHEMA, workers=workers, block_size=block_size)
    assert seen["placed"] > 3 and seen["stopped"] == 0 and seen["not placed"] == 0
    _check(t, _expected(src))
    _same_as_one_thread(t, src, SCHEMA)


def test_a_small_buffer_is_not_placed_by_the_workers(tmp_path, monkeypatch):
    """A buffer of at most 1 MiB is read into an ordinary array that grows (no reserved
    text): the committer writes its text, the workers place none."""
    src = _write(tmp_path / "in.csv", _rows(3_000, seed=9))
    data = src.read_bytes()
    assert len(data) <= 1 << 20
    seen = _spy(monkeypatch)
    t = fastetl.read_csv(data, SCHEMA, workers=2, block_size=16 << 10)
    assert seen == {"placed": 0, "not placed": 0, "stopped": 0}
    _check(t, _expected(src))
    _same_as_one_thread(t, data, SCHEMA)


def test_blocks_cut_inside_a_quoted_line_break_are_read_again(tmp_path, monkeypatch):
    """A block cut by guess inside a quoted value is dropped and the file read again
    with exact cuts: the text placed for the dropped blocks is not the result's."""
    src = _write(tmp_path / "in.csv", _rows(12_000, seed=5, newlines=True))
    seen = _spy(monkeypatch)
    t = fastetl.read_csv(src, SCHEMA, workers=3, block_size=32 << 10)
    assert seen["stopped"] == 1
    _check(t, _expected(src))
    _same_as_one_thread(t, src, SCHEMA)


def test_a_text_buffer_too_small_stops_the_placing(tmp_path, monkeypatch):
    """The workers place text only inside the buffer as it is; past it the committer
    writes the text (the buffer may grow there)."""
    src = _write(tmp_path / "in.csv", _rows(12_000, seed=6))
    seen = _spy(monkeypatch)
    monkeypatch.setattr(store.ArrayWriter, "text_room", property(lambda self: 200_000))
    t = fastetl.read_csv(src, SCHEMA, workers=2, block_size=32 << 10)
    assert seen["placed"] > 1 and seen["not placed"] >= 1
    _check(t, _expected(src))
    monkeypatch.undo()
    _same_as_one_thread(t, src, SCHEMA)


def test_blocks_whose_rows_a_rule_drops_whole(tmp_path, monkeypatch):
    """Rows that break a rule are skipped; their text stays in the text bytes, in a
    block with none left as in one that keeps some rows: the bytes do not depend on
    where the blocks are cut (they did, before)."""
    rows = _rows(12_000, seed=7)
    for r in rows[3_000:6_000]:  # (several blocks' worth, all dropped)
        r[1] = "-5000"
    schema = {
        "columns": [
            {"name": "id", "type": "int64"},
            {"name": "n", "type": "int64", "nullable": True, "min": -1000},
            {"name": "body", "type": "text", "nullable": True},
            {"name": "note", "type": "text"},
        ]
    }
    src = _write(tmp_path / "in.csv", rows)
    seen = _spy(monkeypatch)
    t = fastetl.read_csv(src, schema, workers=2, block_size=32 << 10, on_error="skip")
    assert seen["placed"] > 3 and seen["stopped"] == 0
    _check(t, [r for r in _expected(src) if not r[1] or int(r[1]) >= -1000])
    _same_as_one_thread(t, src, schema, on_error="skip")
    # convert too: the same records and text whatever the blocks and threads (the files'
    # trailers differ: a token of each run)
    outs = []
    for k, (w, bs) in enumerate([(1, None), (2, 32 << 10), (3, 50_000)]):
        dst = tmp_path / f"out{k}.npy"
        fastetl.convert(src, dst, schema, workers=w, block_size=bs, on_error="skip")
        outs.append((np.load(dst).tobytes(), np.load(store.text_path(dst)).tobytes()))
    assert outs[0] == outs[1] == outs[2]
    assert outs[0][1] == t.text.tobytes()


def test_bad_rows_skipped_keep_no_text(tmp_path, monkeypatch):
    rows = _rows(12_000, seed=8)
    bad = set(range(7, 12_000, 501))
    for i in bad:
        rows[i][1] = "12x"
    src = _write(tmp_path / "in.csv", rows)
    seen = _spy(monkeypatch)
    t = fastetl.read_csv(src, SCHEMA, workers=3, block_size=32 << 10, on_error="skip")
    assert seen["placed"] > 3 and seen["stopped"] == 0
    _check(t, [r for i, r in enumerate(_expected(src)) if i not in bad])
    _same_as_one_thread(t, src, SCHEMA, on_error="skip")


@pytest.mark.parametrize("workers", [2, 3])
def test_a_bad_value_far_into_text_is_the_same_one_line_error(tmp_path, workers):
    rows = _rows(12_000, seed=9)
    rows[10_000][1] = "12x"
    src = _write(tmp_path / "in.csv", rows)
    with pytest.raises(fastetl.ParseError) as one:
        fastetl.read_csv(src, SCHEMA, workers=1)
    with pytest.raises(fastetl.ParseError) as many:
        fastetl.read_csv(src, SCHEMA, workers=workers, block_size=32 << 10)
    assert str(many.value) == str(one.value)
    assert "line 10002" in str(many.value) and "'12x'" in str(many.value)
    assert "\n" not in str(many.value)


def test_text_from_a_stream_is_placed_too(tmp_path, monkeypatch):
    src = _write(tmp_path / "in.csv", _rows(12_000, seed=10))
    seen = _spy(monkeypatch)
    with open(src, "rb") as fh:
        t = fastetl.read_csv(io.BytesIO(fh.read()), SCHEMA, workers=2, block_size=32 << 10)
    assert seen["placed"] > 3
    _check(t, _expected(src))
    _same_as_one_thread(t, src, SCHEMA)
