"""Export review fixes (issue 19 review, items 4, 6, 11, 18) and the ``text`` type in
every export.

The values read back (pyarrow, pandas, polars, Python's ``csv``) are compared with
the Python values the input CSV was written from with Python's ``csv``; round trips
compare the bytes of two conversions by fastetl of different inputs.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

import fastetl
from fastetl.export import export
from reference import listing

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
pd = pytest.importorskip("pandas")
pl = pytest.importorskip("polars")

TEXTS = ["plain", "with, comma", 'with "quotes"', "line\nbreak", "=1+1", "@SUM(A1)", "-cmd",
         "-12.5", "", "ação ünï €", "x" * 300, "back\\slash", None]  # fmt: skip
TEXT_SCHEMA = {
    "columns": [
        {"name": "id", "type": "int64"},
        {"name": "t", "type": "text", "nullable": True},
        {"name": "c", "type": "category"},
    ]
}


def _text_rows(n: int) -> list[dict]:
    return [{"id": i, "t": TEXTS[i % len(TEXTS)], "c": f"k{i % 5}"} for i in range(n)]


def _write(path: Path, rows: list[dict], names: list[str], **fmt) -> None:
    with open(path, "w", newline="", encoding=fmt.pop("encoding", "utf-8")) as fh:
        w = csv.writer(fh, **fmt)
        w.writerow(names)
        for r in rows:
            # a null is an empty cell; an empty string is quoted (csv.QUOTE_ALL would
            # quote numbers too: quote the text cells by hand)
            w.writerow(["" if r[k] is None else r[k] for k in names])


def _text_csv(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        fh.write("id,t,c\r\n")
        for r in rows:
            t = "" if r["t"] is None else '"' + r["t"].replace('"', '""') + '"'
            fh.write(f"{r['id']},{t},{r['c']}\r\n")


@pytest.fixture(scope="module")
def text_out(tmp_path_factory):
    folder = tmp_path_factory.mktemp("text")
    rows = _text_rows(200)
    src = folder / "in.csv"
    _text_csv(src, rows)
    out = folder / "out.npy"
    fastetl.convert(src, out, schema=TEXT_SCHEMA, workers=1)
    return out, rows


# -- item 11: an export never writes over a file of its input ------------------------------
def test_export_refuses_every_file_of_its_input(tmp_path):
    src = tmp_path / "in.csv"
    _text_csv(src, [{"id": 1, "t": "a", "c": "x"}])
    with open(src, "a", encoding="utf-8") as fh:
        fh.write("bad,b,y\r\n")  # a rejected row: the rejects file and its reasons exist
    out = tmp_path / "o.npy"
    fastetl.convert(src, out, schema=TEXT_SCHEMA, on_error="reject", workers=1)
    files = [out, tmp_path / "o.npy.json", tmp_path / "o.text.npy",
             tmp_path / "o.npy.rejects.csv", tmp_path / "o.npy.rejects.csv.json"]  # fmt: skip
    before = {f: f.read_bytes() for f in files}
    for f in files:
        with pytest.raises(ValueError, match="a file of its input"):
            export(out, f, format="jsonl")
        proc = subprocess.run(
            [sys.executable, "-m", "fastetl", "export", str(out), str(f), "--format", "csv"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert proc.returncode != 0
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert {f: f.read_bytes() for f in files} == before
    assert fastetl.open(out)["t"].tolist() == ["a"]


# -- the text type ------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".parquet", ".arrow"])
def test_text_read_back_by_pyarrow_pandas_polars(text_out, tmp_path, suffix):
    out, rows = text_out
    dest = tmp_path / f"x{suffix}"
    export(out, dest, rows_per_batch=17)
    want = [r["t"] or None for r in rows]  # an empty cell of a nullable column is a null
    if suffix == ".parquet":
        table = pq.read_table(dest)
        frame = pd.read_parquet(dest)
        pframe = pl.read_parquet(dest)
    else:
        table = pa.ipc.open_file(dest).read_all()
        frame = pd.read_feather(dest)
        pframe = pl.read_ipc(dest)
    assert table.column("t").to_pylist() == want
    assert [None if v is None or v is pd.NA or v != v else v for v in frame["t"]] == want
    assert pframe["t"].to_list() == want
    assert pframe["c"].cast(pl.String).to_list() == [r["c"] for r in rows]


def test_text_csv_values_and_round_trip(text_out, tmp_path):
    out, rows = text_out
    dest = tmp_path / "x.csv"
    export(out, dest, formula_escape=False, rows_per_batch=17)
    with open(dest, newline="", encoding="utf-8") as fh:
        got = list(csv.reader(fh))
    assert got[0] == ["id", "t", "c"]
    assert [r[1] for r in got[1:]] == ["" if r["t"] is None else r["t"] for r in rows]
    # converting the export again gives the same bytes: records and text
    again = tmp_path / "again"
    again.mkdir()
    fastetl.convert(dest, again / "out.npy", schema=TEXT_SCHEMA, workers=2, block_size=512)
    assert (again / "out.npy").read_bytes() == out.read_bytes()
    assert (again / "out.text.npy").read_bytes() == out.with_name("out.text.npy").read_bytes()


def test_text_csv_formula_escape(text_out, tmp_path):
    out, rows = text_out
    dest = tmp_path / "x.csv"
    export(out, dest)
    with open(dest, newline="", encoding="utf-8") as fh:
        got = [r[1] for r in list(csv.reader(fh))[1:]]
    for cell, r in zip(got, rows, strict=True):
        t = "" if r["t"] is None else r["t"]
        risky = t[:1] in ("=", "+", "-", "@", "\t", "\r") and t != "-12.5"
        assert cell == ("'" + t if risky else t)


# -- item 18: a conversion into a name of an export format it does not write -----------------
@pytest.mark.parametrize("name", ["o.jsonl", "o.NDJSON", "o.csv"])
def test_convert_refuses_csv_and_jsonl_names(tmp_path, name):
    src = tmp_path / "in.csv"
    src.write_text("a\n1\n2\n", encoding="utf-8")
    before = listing(tmp_path)
    with pytest.raises(ValueError, match="convert to .npy, then export"):
        fastetl.convert(src, tmp_path / name)
    cmd = [sys.executable, "-m", "fastetl", "convert", str(src), str(tmp_path / name)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "then export" in proc.stderr
    assert listing(tmp_path) == before


def test_convert_writes_npy_under_any_other_name(tmp_path):
    import numpy as np

    src = tmp_path / "in.csv"
    src.write_text("a\n1\n2\n", encoding="utf-8")
    for name in ("o.dat", "o"):
        fastetl.convert(src, tmp_path / name)
        with open(src, newline="") as fh:
            want = [int(r[0]) for r in list(csv.reader(fh))[1:]]
        assert np.load(tmp_path / name)["a"].tolist() == want


# -- item 4: one pass into an Arrow file whose learned dictionary grows ----------------------
def _growing_csv(path: Path, n: int) -> list[dict]:
    # the category gains new values in every part of the file; the text column too
    rows = [{"id": i, "t": TEXTS[i % len(TEXTS)], "c": f"city{i // 40}" if i % 3 else "first"}
            for i in range(n)]  # fmt: skip
    _text_csv(path, rows)
    return rows


@pytest.mark.parametrize("workers", [1, 2])
def test_one_pass_arrow_with_a_growing_dictionary(tmp_path, monkeypatch, workers):
    from fastetl.export import onepass

    monkeypatch.setattr(onepass, "BATCH_BYTES", 1024)  # many batches
    src = tmp_path / "in.csv"
    rows = _growing_csv(src, 3000)
    dest = tmp_path / "out.arrow"
    fastetl.convert(src, dest, schema=TEXT_SCHEMA, workers=workers, block_size=4096)
    assert listing(tmp_path) == ["in.csv", "out.arrow"]  # no spool left
    want_c = [r["c"] for r in rows]
    want_t = [r["t"] or None for r in rows]
    reader = pa.ipc.open_file(dest)
    assert reader.num_record_batches > 5
    dictionaries = {tuple(reader.get_batch(k).column("c").dictionary.to_pylist())
                    for k in range(reader.num_record_batches)}  # fmt: skip
    assert dictionaries == {tuple(dict.fromkeys(want_c))}  # one, whole dictionary
    pframe = pl.read_ipc(dest)  # failed on dictionary deltas
    assert pframe["c"].cast(pl.String).to_list() == want_c
    assert pframe["t"].to_list() == want_t
    assert pframe["id"].to_list() == [r["id"] for r in rows]
    frame = pd.read_feather(dest)
    assert frame["c"].astype(str).tolist() == want_c
    table = reader.read_all()
    assert table.column("c").to_pylist() == want_c and table.column("t").to_pylist() == want_t


def test_one_pass_parquet_with_text(tmp_path, monkeypatch):
    from fastetl.export import onepass

    monkeypatch.setattr(onepass, "BATCH_BYTES", 1024)
    src = tmp_path / "in.csv"
    rows = _growing_csv(src, 1000)
    dest = tmp_path / "out.parquet"
    fastetl.convert(src, dest, schema=TEXT_SCHEMA, workers=2, block_size=4096)
    assert pq.ParquetFile(dest).metadata.num_row_groups > 2
    assert pl.read_parquet(dest)["t"].to_list() == [r["t"] or None for r in rows]
    assert pq.read_table(dest).column("c").to_pylist() == [r["c"] for r in rows]


def test_one_pass_arrow_spool_removed_on_error(tmp_path, monkeypatch):
    from fastetl.export import onepass

    monkeypatch.setattr(onepass, "BATCH_BYTES", 1024)
    src = tmp_path / "in.csv"
    _growing_csv(src, 2000)
    with open(src, "a", encoding="utf-8") as fh:
        fh.write("oops,x,y\r\n")  # a bad id at the end: after batches were spooled
    dest = tmp_path / "out.arrow"
    with pytest.raises(fastetl.ParseError):
        fastetl.convert(src, dest, schema=TEXT_SCHEMA, workers=1, block_size=4096)
    assert listing(tmp_path) == ["in.csv"]


def test_text_to_json_lines_read_back_by_json_and_pyarrow(text_out, tmp_path):
    import json

    import pyarrow.json as pj

    out, rows = text_out
    dest = tmp_path / "x.jsonl"
    export(out, dest, rows_per_batch=17)
    got = [json.loads(line) for line in dest.read_text(encoding="utf-8").splitlines()]
    want = [r["t"] or None for r in rows]  # an empty cell of a nullable column is a null
    assert [g["t"] for g in got] == want
    assert [g["id"] for g in got] == [r["id"] for r in rows]
    assert [g["c"] for g in got] == [r["c"] for r in rows]
    assert pj.read_json(dest).column("t").to_pylist() == want


def test_one_pass_arrow_spooled_keeps_schema_and_lineage(tmp_path, monkeypatch):
    from fastetl.export import onepass

    monkeypatch.setattr(onepass, "BATCH_BYTES", 1024)  # many batches, through the spool
    src = tmp_path / "in.csv"
    rows = _growing_csv(src, 2000)
    dest = tmp_path / "out.arrow"
    fastetl.convert(src, dest, schema=TEXT_SCHEMA, workers=2, block_size=4096)
    meta = onepass.stored_meta(dest)
    assert [c["name"] for c in meta["schema"]["columns"]] == ["id", "t", "c"]
    (entry,) = meta["lineage"]
    assert entry["rows_written"] == meta["rows"] == len(rows)
    assert entry["content_hash"]["bytes"] == src.stat().st_size
    assert entry["content_hash"]["value"] == fastetl.lineage.file_hash(src)["value"]
