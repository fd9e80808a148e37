"""Learned category codes made global over many blocks and threads.

Each worker's parser learns its own codes; the committer (or, once a parser's table is
known, the worker itself) rewrites them as the global codes, in the order values first
appear in the input.  Checked against Python's ``csv`` on the values, and the bytes
against the same input read by one thread.
"""

from __future__ import annotations

import csv
import io
import json
import random

import numpy as np
import pytest

import fastetl
from fastetl import _core

BLOCKS = (64, 333, 4096, 1 << 20)


def _first_appearance(values: list[str | None]) -> list[str]:
    seen: dict[str, None] = {}
    for v in values:
        if v is not None and v not in seen:
            seen[v] = None
    return list(seen)


def _late_codes_csv(rows: int, seed: int) -> bytes:
    """Three category columns: ``few`` (8 values, all early), ``late`` (values that only
    start to appear past the middle, and a last one in the final rows), ``wide`` (300
    values: a two-byte code) with empty fields (nulls) among them."""
    rng = random.Random(seed)
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["id", "few", "late", "wide"])
    for i in range(rows):
        few = f"f{rng.randrange(8)}"
        if i < rows // 2:
            late = rng.choice(["a", "b"])
        elif i < rows - 5:
            late = rng.choice(["a", "b", "c,d", 'q"uote', f"n{rng.randrange(40)}"])
        else:
            late = "last one"
        # the wide column's values come in a different order in every part of the file
        wide = "" if rng.random() < 0.1 else f"w{rng.randrange(min(300, 10 + i // 3))}"
        w.writerow([i, few, late, wide])
    return out.getvalue().encode()


SCHEMA = {
    "columns": [
        {"name": "id", "type": "int32"},
        {"name": "few", "type": "category"},
        {"name": "late", "type": "category"},
        {"name": "wide", "type": "category", "nullable": True},
    ]
}


def _reference(data: bytes) -> dict[str, list[str | None]]:
    rows = list(csv.reader(io.StringIO(data.decode())))[1:]
    return {
        "few": [r[1] for r in rows],
        "late": [r[2] for r in rows],
        "wide": [r[3] if r[3] != "" else None for r in rows],
    }


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_codes_over_many_blocks_equal_the_values_read_by_csv(tmp_path, workers):
    data = _late_codes_csv(3000, seed=1)
    path = tmp_path / "in.csv"
    path.write_bytes(data)
    ref = _reference(data)
    one = fastetl.read_csv(path, SCHEMA, workers=1, block_size=1 << 30)
    assert one.array["wide"].dtype == np.uint16  # (300 values: two-byte codes)
    for bs in BLOCKS:
        t = fastetl.read_csv(path, SCHEMA, workers=workers, block_size=bs)
        for name, values in ref.items():
            assert t.meta["categories"][name] == _first_appearance(values), (name, bs)
            assert list(t[name]) == values, (name, bs)
        assert t.array.tobytes() == one.array.tobytes(), bs
        # null rows keep code 0, as one thread writes them
        nulls = np.array([v is None for v in ref["wide"]])
        assert not t.array["wide"][nulls].any()


def test_convert_gives_the_same_bytes_and_sidecar_for_1_2_3_workers(tmp_path):
    data = _late_codes_csv(2000, seed=2)
    path = tmp_path / "in.csv"
    path.write_bytes(data)
    ref = _reference(data)
    seen = set()
    for w in (1, 2, 3):
        for bs in (100, 2048):
            out = tmp_path / f"o{w}-{bs}.npy"
            fastetl.convert(path, out, SCHEMA, workers=w, block_size=bs)
            meta = json.loads((tmp_path / (out.name + ".json")).read_text())
            assert meta["categories"]["late"] == _first_appearance(ref["late"])
            assert list(fastetl.open(out)["wide"]) == ref["wide"]
            seen.add((out.read_bytes(), json.dumps(meta["categories"])))
    assert len(seen) == 1


def _full_reference(values: list[str], limit: int) -> tuple[list[str], int]:
    """The rows kept under on_error='skip' when the dictionary holds ``limit`` values:
    a row whose value would be one too many is bad; the values of the others."""
    kept, seen = [], {}
    for v in values:
        if v not in seen:
            if len(seen) == limit:
                continue
            seen[v] = None
        kept.append(v)
    return kept, len(values) - len(kept)


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_a_dictionary_filling_up_skips_the_same_rows_whatever_the_threads(workers):
    rng = random.Random(3)
    # ten values, then more and more new ones past the limit, the old ones between them
    values = [f"v{rng.randrange(10)}" for _ in range(400)]
    values += [rng.choice([f"v{rng.randrange(10)}", f"new{i}"]) for i in range(600)]
    data = ("k,n\n" + "".join(f"{v},{i}\n" for i, v in enumerate(values))).encode()
    schema = {
        "columns": [
            {"name": "k", "type": "category", "max_values": 12},
            {"name": "n", "type": "int32"},
        ]
    }
    kept, bad = _full_reference(values, 12)
    assert bad > 100  # (the case is the one meant)
    one = fastetl.read_csv(data, schema, workers=1, on_error="skip", block_size=1 << 30)
    for bs in (40, 500, 1 << 20):
        t = fastetl.read_csv(data, schema, workers=workers, on_error="skip", block_size=bs)
        assert list(t["k"]) == kept, bs
        assert t.meta["categories"]["k"] == _first_appearance(kept)
        assert t.array.tobytes() == one.array.tobytes(), bs
    # under raise: the first value one too many stops the read, wherever the blocks are cut
    distinct: list[str] = []
    for first_bad, v in enumerate(values):
        if v not in distinct:
            if len(distinct) == 12:
                break
            distinct.append(v)
    with pytest.raises(fastetl.ParseError) as e:
        fastetl.read_csv(data, schema, workers=workers, block_size=40)
    assert e.value.line == first_bad + 2 and e.value.value == values[first_bad]


# -- the compiled remap, against numpy -------------------------------------------------


@pytest.mark.parametrize("code", ["u1", "u2", "u4", "u8"])
@pytest.mark.parametrize("nulls", [None, "u1", "u2", "u8"])
def test_remap_codes_equals_a_numpy_gather(code, nulls):
    rng = np.random.default_rng(5)
    fields = [("pad", "S3"), ("c", code)] + ([("_nulls", nulls)] if nulls else [])
    dt = np.dtype(fields)
    n, m = 1001, 250
    recs = np.zeros(n, dt)
    recs["pad"] = b"xyz"
    recs["c"] = rng.integers(0, m, n)
    table = rng.permutation(m).astype(np.int64)
    expected = recs.copy()
    null_offset, null_size, mask = -1, 8, 0
    if nulls:
        bit = 5
        recs["_nulls"] = rng.integers(0, 2, n) << bit | rng.integers(0, 2, n) << 2
        expected = recs.copy()
        valued = (recs["_nulls"] >> bit & 1) == 0
        expected["c"][valued] = table[recs["c"][valued]]
        null_offset, null_size, mask = dt.fields["_nulls"][1], dt["_nulls"].itemsize, 1 << bit
    else:
        expected["c"] = table[recs["c"]]
    off = dt.fields["c"][1]
    ok = _core.remap_codes(
        recs.view(np.uint8), n, dt.itemsize, off, dt["c"].itemsize, table,
        null_offset, null_size, mask,
    )
    assert ok is True
    assert recs.tobytes() == expected.tobytes()


def test_remap_codes_with_a_hole_writes_nothing_and_says_so():
    dt = np.dtype([("c", "u1")])
    recs = np.array([0, 1, 2, 1], dt)
    table = np.array([2, -1, 0], np.int64)  # code 1 has no global code (yet)
    before = recs.tobytes()
    assert _core.remap_codes(recs.view(np.uint8), 4, 1, 0, 1, table) is False
    assert recs.tobytes() == before
    recs = np.array([0, 2, 2, 0], dt)  # not using code 1: remapped
    assert _core.remap_codes(recs.view(np.uint8), 4, 1, 0, 1, table) is True
    assert recs["c"].tolist() == [2, 0, 0, 2]


def test_identity_codes():
    t = np.arange(6, dtype=np.int64)
    assert _core.identity_codes(t, 6) and _core.identity_codes(t, 0)
    assert not _core.identity_codes(t, 7)  # (a code past the table)
    t[4] = 5
    assert _core.identity_codes(t, 4) and not _core.identity_codes(t, 5)
