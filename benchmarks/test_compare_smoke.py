"""compare.py runs end to end on tiny files, and its correctness check can say no.

Not part of the default test run (the root ``testpaths`` are ``tests`` and ``fuzz``), and
skipped by ``pytest benchmarks/ --benchmark-only``; run it with

    python -m pytest benchmarks/test_compare_smoke.py

It asserts what the report says about correctness (every fastetl row checked ✓, no reader
failing), never anything about speed.  One to two minutes on 2 shared CPUs: every
shape × mode × reader is a fresh interpreter.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import compare
import shapes


def test_every_shape_and_mode_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "report.md"
    keep = tmp_path / "work"
    argv = ["--mb", "0.03", "--repeat", "1", "--keep", str(keep), "--output", str(out),
            "--memory-sizes", "0.1M", "--timeout", "300"]  # fmt: skip
    assert compare.main(argv) == 0
    report = out.read_text(encoding="utf-8")

    for shape in shapes.SHAPE_ORDER:
        for mode in ("with schema", "inferred"):
            assert f"### {shape}, {mode}" in report
    summary = report.split("### Summary", 1)[1].split("### Memory against input size", 1)[0]
    rows = [ln for ln in summary.splitlines() if ln.startswith("| ") and "---" not in ln][1:]
    assert len(rows) == 2 * len(shapes.SHAPE_ORDER)
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[5] == "✓", row  # fastetl agrees with pandas
        assert cells[3] != "–", row  # fastetl has a best run
    assert "**failed**" not in report
    assert "✗" not in report
    assert "expected" not in report  # no reader read a wrong number of rows
    # numpy.loadtxt does not run where it cannot (text, taxi; orders without a schema)
    assert report.count("n/a: numpy.loadtxt") == 5
    # the memory table still works
    assert re.search(r"\| fastetl-1 \| 0\.1M \| [\d,]+ \|", report)
    # generated files are cached in --keep with their row counts
    assert len(list(keep.glob("*.csv.rows"))) == len(shapes.SHAPE_ORDER) - 1


def test_check_catches_a_wrong_value(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pandas as pd

    src = tmp_path / "ints.csv"
    shapes.write_shape("ints", src, 20_000, 0)
    good = compare.check_shape("ints", str(src), str(tmp_path), ["schema", "infer"])
    assert good["schema"]["ok"] and good["infer"]["ok"], good

    real = pd.read_csv

    def off_by_one(*a, **kw):
        df = real(*a, **kw)
        df.loc[len(df) // 2, "i3"] += 1  # pandas now disagrees with fastetl on one value
        return df

    monkeypatch.setattr(pd, "read_csv", off_by_one)
    bad = compare.check_shape("ints", str(src), str(tmp_path), ["schema"])
    assert bad["schema"]["ok"] is False
    assert "i3" in bad["schema"]["detail"]

    def one_row_less(*a, **kw):
        return real(*a, **kw).iloc[:-1]

    monkeypatch.setattr(pd, "read_csv", one_row_less)
    bad = compare.check_shape("ints", str(src), str(tmp_path), ["infer"])
    assert bad["infer"]["ok"] is False
    assert "rows" in bad["infer"]["detail"]


@pytest.mark.parametrize("shape", [s for s in shapes.SHAPE_ORDER if s != "orders"])
def test_shapes_are_deterministic_and_sized(tmp_path: Path, shape: str) -> None:
    a, b, c = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.csv"
    rows = shapes.write_shape(shape, a, 50_000, 7)
    assert shapes.write_shape(shape, b, 50_000, 7) == rows
    assert a.read_bytes() == b.read_bytes()
    shapes.write_shape(shape, c, 50_000, 8)
    assert a.read_bytes() != c.read_bytes()
    data = a.read_bytes()
    assert 50_000 <= len(data) < 50_000 + 4_000  # stops at the row that reaches the target
    assert data.endswith(b"\n")
    header = data.split(b"\n", 1)[0].decode()
    assert header.split(",") == [col.name for col in shapes.SHAPES[shape].columns]
    assert data.count(b"\n") == rows + 1  # no newline inside a field: one line a row
