"""--append: the rows of another CSV added to an existing output, atomically."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastetl
from reference import listing

SCHEMA = {
    "columns": [
        {"name": "id", "type": "int32"},
        {"name": "city", "type": "category", "nullable": True},
        {"name": "size", "type": "category", "values": ["S", "M", "L"]},
        {"name": "amount", "type": "decimal", "scale": 2},
    ]
}
HEAD = "id,city,size,amount\n"


def _rows(lo: int, hi: int, seed: int) -> str:
    rng = np.random.default_rng(seed)
    cities = ["Lisboa", "Porto", "Braga", "Faro", "Évora", ""]
    return "".join(
        f"{i},{cities[rng.integers(0, 6)] if i < 50 else f'c{i % 9}'},"
        f"{'SML'[i % 3]},{i}.{i % 100:02d}\n"
        for i in range(lo, hi)
    )


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {n: (folder / n).read_bytes() for n in listing(folder)}


@pytest.mark.parametrize("workers", [1, 3])
def test_append_gives_the_bytes_of_one_conversion_of_both(tmp_path, workers):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text(HEAD + _rows(0, 40, 1))
    b.write_text(HEAD + _rows(40, 120, 2))
    both = tmp_path / "both.csv"
    both.write_text(HEAD + _rows(0, 40, 1) + _rows(40, 120, 2))
    whole = fastetl.convert(both, tmp_path / "whole.npy", SCHEMA)
    out = tmp_path / "out.npy"
    fastetl.convert(a, out, SCHEMA, workers=workers, block_size=64)
    rep = fastetl.convert(b, out, append=True, workers=workers, block_size=64)
    assert rep.appended and rep.rows == 80 and rep.rows_read == 80
    assert out.read_bytes() == Path(whole.output).read_bytes()
    meta = json.loads(Path(rep.sidecar).read_text())
    ref = json.loads(Path(whole.sidecar).read_text())
    assert meta["categories"] == ref["categories"]
    assert (meta["rows"], meta["rows_read"], meta["rows_written"]) == (120, 120, 120)
    assert [x["rows_read"] for x in meta["appended"]] == [80]
    assert meta["source"]["path"].endswith("a.csv")
    assert meta["appended"][0]["source"]["path"].endswith("b.csv")
    t = fastetl.open(out)
    assert t["id"].tolist() == list(range(120))


def test_a_failed_append_leaves_the_output_as_it_was(tmp_path):
    out = tmp_path / "out.npy"
    fastetl.convert((HEAD + _rows(0, 30, 1)).encode(), out, SCHEMA)
    before = _snapshot(tmp_path)
    bad = (HEAD + _rows(30, 60, 2) + "61,Porto,XL,1.00\n").encode()
    with pytest.raises(fastetl.ParseError, match="line 32, column \"size\": 'XL'"):
        fastetl.convert(bad, out, append=True)
    assert _snapshot(tmp_path) == before


def test_append_refuses_what_does_not_fit(tmp_path):
    out = tmp_path / "out.npy"
    with pytest.raises(fastetl.OutputError, match="does not exist"):
        fastetl.convert(HEAD.encode(), out, SCHEMA, append=True)
    fastetl.convert((HEAD + _rows(0, 5, 1)).encode(), out, SCHEMA)
    before = _snapshot(tmp_path)
    other = {"columns": [*SCHEMA["columns"][:3], {"name": "amount", "type": "float64"}]}
    with pytest.raises(fastetl.SchemaError, match="differs from the one it was written with"):
        fastetl.convert((HEAD + _rows(5, 9, 1)).encode(), out, other, append=True)
    with pytest.raises(ValueError, match="cannot be combined"):
        fastetl.convert((HEAD + _rows(5, 9, 1)).encode(), out, append=True, resume=True)
    # a .npy that is not fastetl's (no sidecar) is not appended to
    plain = tmp_path / "plain.npy"
    np.save(plain, np.zeros(3, np.int32))
    with pytest.raises(fastetl.OutputError, match="sidecar|missing"):
        fastetl.convert((HEAD + _rows(5, 9, 1)).encode(), plain, append=True)
    assert _snapshot(tmp_path) == {**before, "plain.npy": plain.read_bytes()}


def test_append_a_category_past_its_limit_is_a_bad_row(tmp_path):
    schema = {"columns": [{"name": "k", "type": "category", "max_values": 2}]}
    out = tmp_path / "out.npy"
    fastetl.convert(b"k\na\nb\na\n", out, schema)
    rep = fastetl.convert(b"k\nb\nc\na\n", out, append=True, on_error="reject")
    assert (rep.rows, rep.rows_rejected) == (2, 1)
    assert Path(rep.rejects).read_bytes() == b"k\nc\n"
    assert fastetl.open(out)["k"].tolist() == ["a", "b", "a", "b", "a"]


def test_cli_append(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text(HEAD + _rows(0, 10, 1))
    b.write_text(HEAD + _rows(10, 25, 2))
    schema = tmp_path / "s.json"
    schema.write_text(json.dumps(SCHEMA))
    out = tmp_path / "out.npy"
    run = [sys.executable, "-m", "fastetl", "convert"]
    p = subprocess.run([*run, str(a), str(out), "--schema", str(schema)], capture_output=True)
    assert p.returncode == 0, p.stderr
    p = subprocess.run([*run, str(b), str(out), "--append"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert "15 rows read, 15 written" in p.stdout and "(appended)" in p.stdout
    assert len(np.load(out, mmap_mode="r")) == 25
