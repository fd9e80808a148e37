"""read_csv with more than one thread, on files with a header and no quote after it.

Such a file is parsed by all the threads straight into the result (pipeline.
read_plain_file, as the numpy drop-ins read their files); a quote anywhere after the
header, a bad row or anything else that file path does not take goes the usual way.
Either way the result is what Python reads: every value is checked against the
``csv`` module with ``int()`` / ``float()``, and against ``read_csv`` on one thread
(records, meta and error messages the same).  No timing is asserted.
"""

from __future__ import annotations

import csv
import io
import math
import os
import random
from pathlib import Path

import numpy as np
import pytest

import fastetl

SCHEMA = {
    "columns": [
        {"name": "id", "type": "int64"},
        {"name": "x", "type": "float64"},
        {"name": "n", "type": "int32", "nullable": True},
        {"name": "tag", "type": "str", "width": 6},
    ]
}


def _rows(count: int, seed: int) -> list[list[str]]:
    rng = random.Random(seed)
    out = []
    for i in range(count):
        x = rng.choice([repr(rng.uniform(-1e6, 1e6)), f"{rng.gauss(0, 1):.18e}", "0", "-2.5"])
        n = "" if i % 17 == 0 else str(rng.randint(-(2**31), 2**31 - 1))
        out.append([str(i * 3 - 7), x, n, rng.choice(["a", "bb", "ccc", "dddddd", ""])])
    return out


def _write(path: Path, header: list[str], rows: list[list[str]], eol: str = "\n",
           bom: bool = False, last_eol: bool = True) -> Path:
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator=eol, quoting=csv.QUOTE_MINIMAL)
    w.writerow(header)
    w.writerows(rows)
    text = buf.getvalue()
    if not last_eol:
        text = text[: -len(eol)]
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def _expected(path: Path) -> dict[str, list]:
    """The columns as Python's csv module, int() and float() read them (None: empty)."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        rows = [r for r in csv.reader(fh)][1:]
    rows = [r for r in rows if r]  # (blank lines are no rows)
    return {
        "id": [int(r[0]) for r in rows],
        "x": [float(r[1]) for r in rows],
        "n": [int(r[2]) if r[2] else None for r in rows],
        "tag": [r[3] for r in rows],
    }


def _check(table: fastetl.Table, want: dict[str, list]) -> None:
    assert len(table) == len(want["id"])
    assert table["id"].tolist() == want["id"]
    got_x = table["x"].tolist()
    assert all(g == w or (math.isnan(g) and math.isnan(w)) for g, w in zip(got_x, want["x"]))
    n = table["n"]  # (a masked array: nulls masked)
    assert [None if m else int(v) for v, m in zip(n.data, np.ma.getmaskarray(n))] == want["n"]
    assert [v if isinstance(v, str) else v.decode() for v in table["tag"]] == want["tag"]


def _spy_on_the_threads_path(monkeypatch) -> list[bool]:
    """A list that gets, for each read_csv that tries the threads' path, whether it took it."""
    from fastetl import api, pipeline

    seen: list[bool] = []

    def spy(*args, **kwargs):
        out = pipeline.read_plain_file(*args, **kwargs)
        seen.append(out is not None)
        return out

    monkeypatch.setattr(api, "read_plain_file", spy)
    return seen


def test_a_file_with_a_bom_read_with_no_schema_is_read_by_every_thread(tmp_path, monkeypatch):
    # inference says utf-8-sig for it: the threads still read it straight into the result
    rows = [r[:3] for r in _rows(20_000, seed=3)]  # (no tag: it would be a category)
    src = _write(tmp_path / "in.csv", ["id", "x", "n"], rows, bom=True)
    seen = _spy_on_the_threads_path(monkeypatch)
    many = fastetl.read_csv(src, workers=2, block_size=64 << 10)
    assert many.schema.dialect.encoding == "utf-8-sig"
    assert seen == [True]
    with open(src, newline="", encoding="utf-8-sig") as fh:
        want = list(csv.reader(fh))[1:]
    assert many["id"].tolist() == [int(r[0]) for r in want]
    assert many["x"].tolist() == [float(r[1]) for r in want]
    monkeypatch.undo()
    assert many.array.tobytes() == fastetl.read_csv(src, workers=1).array.tobytes()


@pytest.mark.parametrize("encoding", ["UTF8", "utf_8", "U8", "UTF_8_SIG", "cp65001"])
def test_every_spelling_of_utf8_is_read_by_every_thread(tmp_path, monkeypatch, encoding):
    # a schema's encoding spelled another way (any name Python's codecs calls UTF-8)
    rows = [r[:2] for r in _rows(20_000, seed=4)]
    src = _write(tmp_path / "in.csv", ["id", "x"], rows, bom=encoding == "UTF_8_SIG")
    seen = _spy_on_the_threads_path(monkeypatch)
    schema = {
        "dialect": {"encoding": encoding},
        "columns": [{"name": "id", "type": "int64"}, {"name": "x", "type": "float64"}],
    }
    got = fastetl.read_csv(src, schema, workers=2, block_size=64 << 10)
    assert seen == [True]
    with open(src, newline="", encoding="utf-8-sig") as fh:
        want = list(csv.reader(fh))[1:]
    assert got["id"].tolist() == [int(r[0]) for r in want]
    assert got["x"].tolist() == [float(r[1]) for r in want]


@pytest.mark.parametrize("block_size", [64 << 10, 100_000, 300_000])  # (2+ blocks: 2+ threads)
@pytest.mark.parametrize("workers", [2, 3])
@pytest.mark.parametrize(
    "shape",
    ["plain", "crlf", "bom", "no last line break", "quoted header", "blank lines", "skip_rows"],
)
def test_many_threads_read_what_python_reads(tmp_path, shape, workers, block_size):
    rows = _rows(20_000, seed=len(shape))
    header = ["id", "x", "n", "tag"]
    schema = dict(SCHEMA)
    kw: dict = {}
    if shape == "quoted header":
        src = tmp_path / "in.csv"
        _write(src, header, rows)
        data = src.read_bytes().replace(b"id,x,n,tag", b'"id","x","n","tag"', 1)
        src.write_bytes(data)
    elif shape == "blank lines":
        src = _write(tmp_path / "in.csv", header, rows)
        lines = src.read_bytes().split(b"\n")
        blank = [ln + (b"\n" if i % 500 == 7 else b"") for i, ln in enumerate(lines)]
        src.write_bytes(b"\n".join(blank))
    elif shape == "skip_rows":
        src = _write(tmp_path / "in.csv", header, rows)
        src.write_bytes(b"# made by a test\n# two lines before the header\n" + src.read_bytes())
        kw["skip_rows"] = 2
    else:
        src = _write(
            tmp_path / "in.csv", header, rows,
            eol="\r\n" if shape == "crlf" else "\n",
            bom=shape == "bom",
            last_eol=shape != "no last line break",
        )  # fmt: skip
    if kw:
        schema = {**schema, "dialect": {"skip_rows": kw["skip_rows"]}}
        with open(src, newline="", encoding="utf-8") as fh:
            body = fh.read().split("\n", 2)[2]
        ref = tmp_path / "ref.csv"
        ref.write_text(body, encoding="utf-8", newline="")
        want = _expected(ref)
    else:
        want = _expected(src)
    many = fastetl.read_csv(src, schema, workers=workers, block_size=block_size)
    one = fastetl.read_csv(src, schema, workers=1)
    _check(many, want)
    assert many.array.tobytes() == one.array.tobytes()
    assert many.array.dtype == one.array.dtype
    assert many.meta == one.meta
    inferred = fastetl.read_csv(src, workers=workers, block_size=block_size, **kw)  # (inferred)
    assert inferred.array.tobytes() == fastetl.read_csv(src, workers=1, **kw).array.tobytes()
    assert inferred["id"].tolist() == want["id"]


def test_a_quote_after_the_header_is_read_as_quoted(tmp_path):
    """A field in quotes (a delimiter and a line break inside) far into the file: the
    file goes the usual way, and the quoted value is one value."""
    rows = _rows(30_000, seed=3)
    rows[25_000][3] = "x,\ny"
    tag8 = {"name": "tag", "type": "str", "width": 8}
    schema = {**SCHEMA, "columns": [*SCHEMA["columns"][:3], tag8]}
    src = _write(tmp_path / "in.csv", ["id", "x", "n", "tag"], rows)
    want = _expected(src)
    many = fastetl.read_csv(src, schema, workers=2, block_size=64 << 10)
    _check(many, want)
    assert many.array.tobytes() == fastetl.read_csv(src, schema, workers=1).array.tobytes()


@pytest.mark.parametrize("at", [5, 19_000])
def test_a_bad_value_is_the_same_one_line_error(tmp_path, at):
    rows = _rows(20_000, seed=4)
    rows[at][2] = "12x"
    src = _write(tmp_path / "in.csv", ["id", "x", "n", "tag"], rows)
    with pytest.raises(fastetl.ParseError) as one:
        fastetl.read_csv(src, SCHEMA, workers=1)
    with pytest.raises(fastetl.ParseError) as many:
        fastetl.read_csv(src, SCHEMA, workers=2, block_size=64 << 10)
    assert str(many.value) == str(one.value)
    assert f"line {at + 2}" in str(many.value) and "'12x'" in str(many.value)
    assert "\n" not in str(many.value)


def test_a_value_past_the_inferred_sample_widens_the_column(tmp_path):
    """An inferred int column meets a float far past the sample: widened to float64,
    as on one thread."""
    rows = [[str(i), f"{i}.5", str(i % 100), "t"] for i in range(200_000)]
    rows[-3][2] = "2.5"
    src = _write(tmp_path / "in.csv", ["id", "x", "n", "tag"], rows)
    many = fastetl.read_csv(src, workers=2, block_size=256 << 10)
    one = fastetl.read_csv(src, workers=1)
    assert many.array.dtype == one.array.dtype
    assert many.array.tobytes() == one.array.tobytes()
    assert many["n"].tolist() == [float(r[2]) for r in rows]


@pytest.mark.parametrize("body", [b"", b"\n"])
def test_a_header_and_no_rows(tmp_path, body):
    src = tmp_path / "in.csv"
    src.write_bytes(b"id,x,n,tag\n" + body)
    t = fastetl.read_csv(src, SCHEMA, workers=2, block_size=1)
    assert len(t) == 0
    assert t.meta["header"] == ["id", "x", "n", "tag"]
    assert t.array.dtype == fastetl.read_csv(src, SCHEMA, workers=1).array.dtype


def test_columns_chosen_by_header_name(tmp_path):
    """The header binds the schema's columns by name, in any order, and the ones the
    schema skips are read past."""
    rows = _rows(5_000, seed=5)
    src = _write(tmp_path / "in.csv", ["tag", "n", "x", "id"], [r[::-1] for r in rows])
    schema = {"columns": [{"name": "id", "type": "int64"}, {"name": "x", "type": "float64"},
                          {"name": "n", "type": "skip"}, {"name": "tag", "type": "skip"}]}
    many = fastetl.read_csv(src, schema, workers=2, block_size=64 << 10)
    one = fastetl.read_csv(src, schema, workers=1)
    assert many.array.tobytes() == one.array.tobytes()
    assert many["id"].tolist() == [int(r[0]) for r in rows]
    assert np.array_equal(many["x"], np.array([float(r[1]) for r in rows]))


@pytest.mark.parametrize("how", ["file replaced", "symlink pointed elsewhere"])
def test_a_file_changed_before_the_threads_open_it_is_read_as_opened(tmp_path, monkeypatch, how):
    # the threads open the file by path again: one replaced in between, or a symbolic link
    # pointed at another file (same size, other values), must not be read in place of the
    # one the source opened and describes
    from fastetl import api, pipeline

    if how.startswith("symlink") and (not hasattr(os, "symlink") or os.name == "nt"):
        pytest.skip("needs symbolic links")
    rows = [r[:2] for r in _rows(20_000, seed=5)]
    first = _write(tmp_path / "a.csv", ["id", "x"], rows)
    old = first.read_bytes()
    second = tmp_path / "b.csv"
    second.write_bytes(old.replace(b"\n1", b"\n2"))  # (as many bytes: other values)
    assert second.read_bytes() != old and second.stat().st_size == len(old)
    src = first
    if how.startswith("symlink"):
        src = tmp_path / "in.csv"
        src.symlink_to(first)

    def changed_first(path, *args, **kwargs):
        if how.startswith("symlink"):
            (tmp_path / "tmp-link").symlink_to(second)
            os.replace(tmp_path / "tmp-link", src)
        else:
            os.replace(second, src)
        return pipeline.read_plain_file(path, *args, **kwargs)

    monkeypatch.setattr(api, "read_plain_file", changed_first)
    schema = {"columns": [{"name": "id", "type": "int64"}, {"name": "x", "type": "float64"}]}
    got = fastetl.read_csv(src, schema, workers=2, block_size=64 << 10)
    want = list(csv.reader(io.StringIO(old.decode())))[1:]
    assert got["id"].tolist() == [int(r[0]) for r in want]
    assert got["x"].tolist() == [float(r[1]) for r in want]


def test_a_value_to_widen_is_not_met_by_the_threads_path_twice(tmp_path, monkeypatch):
    # an inferred read whose column widens late: the threads' path runs on the first
    # schema only (it stops at the value), not again in the widening's watched passes
    from fastetl import api, pipeline

    rows = [[str(i), f"{i}.5"] for i in range(30_000)]
    rows[25_000][0] = str(2**40)  # (past the sample: int32 inferred, then int64)
    src = _write(tmp_path / "in.csv", ["id", "x"], rows)
    calls = []

    def counted(*args, **kwargs):
        calls.append(args[1])
        return pipeline.read_plain_file(*args, **kwargs)

    monkeypatch.setattr(api, "read_plain_file", counted)
    got = fastetl.read_csv(src, workers=2, block_size=64 << 10)
    assert len(calls) == 1, [s.columns[0].type for s in calls]
    assert got["id"].tolist() == [int(r[0]) for r in rows]
    assert got["x"].tolist() == [float(r[1]) for r in rows]
