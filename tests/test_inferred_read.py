"""An inferred read of a file bigger than the inference sample (read_csv(path) with no
schema) gives what reading the file with that schema gives, whatever the thread count,
and the values Python's ``csv`` module, ``int()``, ``float()`` and ``datetime`` read.

Files of more than 10,000 rows: inference samples them (its records are not the
result) and the read that follows is the big-file one (all threads straight into the
result where the file has no quote and no category column, else the usual path).
No timing is asserted.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import random
from pathlib import Path

import numpy as np
import pytest

import fastetl

ROWS = 30_000


def _numbers(rng: random.Random, i: int) -> list[str]:
    return [
        str(i * 7 - 3_000),
        f"{rng.gauss(0, 1) * 10 ** rng.randint(-3, 5):.18e}",
        f"{rng.uniform(-1000, 1000):.3f}",
        str(rng.randint(0, 99)),
    ]


def _mixed(rng: random.Random, i: int) -> list[str]:
    day = dt.datetime(2024, 1, 1) + dt.timedelta(seconds=rng.randint(0, 10**7))
    words = " ".join(rng.choice(["a", "b,c", 'say "hi"', "x"]) for _ in range(rng.randint(1, 4)))
    return [
        str(i),
        day.strftime("%Y-%m-%d %H:%M:%S"),
        rng.choice(["cash", "card", "pix"]),
        f"{rng.uniform(0, 500):.2f}",
        words,
    ]


SHAPES = {
    "numbers": (["id", "e", "short", "small"], _numbers),
    "mixed": (["id", "at", "pay", "amount", "note"], _mixed),
}


def _write(path: Path, shape: str, seed: int) -> list[list[str]]:
    header, row = SHAPES[shape]
    rng = random.Random(seed)
    rows = [row(rng, i) for i in range(ROWS)]
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    path.write_bytes(buf.getvalue().encode("utf-8"))
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))[1:]  # (Python's reading of the file)


def _values(table: fastetl.Table, name: str) -> list:
    col = table[name]
    if isinstance(col, np.ndarray) and col.dtype.kind == "M":
        return [v.astype("datetime64[s]").item() for v in col]
    return [v.decode() if isinstance(v, bytes) else v for v in col.tolist()]


def _check_values(table: fastetl.Table, shape: str, rows: list[list[str]]) -> None:
    header, _ = SHAPES[shape]
    assert len(table) == len(rows)
    for j, name in enumerate(header):
        got = _values(table, name)
        texts = [r[j] for r in rows]
        kind = table.schema.columns[j].type
        if kind.startswith(("int", "uint")):
            assert got == [int(t) for t in texts], name
        elif kind == "float64":
            want = [float(t) for t in texts]
            assert all(g == w or (math.isnan(g) and math.isnan(w)) for g, w in zip(got, want))
        elif kind == "datetime":
            assert got == [dt.datetime.strptime(t, "%Y-%m-%d %H:%M:%S") for t in texts], name
        else:
            assert [str(g) for g in got] == texts, (name, kind)


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_an_inferred_read_is_the_read_with_its_schema(tmp_path, shape):
    src = tmp_path / f"{shape}.csv"
    rows = _write(src, shape, seed=11)
    schema = fastetl.infer_schema(src)
    given = fastetl.read_csv(src, schema, workers=2)
    for workers, block_size in ((1, None), (2, None), (2, 64 << 10), (3, 100_000)):
        inferred = fastetl.read_csv(src, workers=workers, block_size=block_size)
        assert inferred.schema.to_dict() == schema.to_dict()
        assert inferred.array.dtype == given.array.dtype
        assert inferred.array.tobytes() == given.array.tobytes()
        assert inferred.meta["categories"] == given.meta["categories"]
    _check_values(given, shape, rows)


def test_an_inferred_read_takes_the_threads_path_as_the_schema_read_does(tmp_path, monkeypatch):
    # the numbers file has no quote and no category: both reads go to every thread
    from fastetl import api, pipeline

    src = tmp_path / "numbers.csv"
    rows = _write(src, "numbers", seed=12)
    seen = []

    def spy(*args, **kwargs):
        out = pipeline.read_plain_file(*args, **kwargs)
        seen.append(out is not None)
        return out

    schema = fastetl.infer_schema(src)
    monkeypatch.setattr(api, "read_plain_file", spy)
    # (blocks of 64 KiB: a file this small is otherwise one block, read on one thread)
    inferred = fastetl.read_csv(src, workers=2, block_size=64 << 10)
    given = fastetl.read_csv(src, schema, workers=2, block_size=64 << 10)
    assert seen == [True, True]
    assert inferred.array.tobytes() == given.array.tobytes()
    _check_values(inferred, "numbers", rows)
