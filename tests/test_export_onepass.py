"""One pass (issue 19 item 4): ``fastetl.convert(IN, "OUT.parquet")`` and
``fastetl convert IN OUT.arrow`` write the format straight from the CSV.

The values read back by pyarrow are compared with the Python values the CSV was
written from (the helpers of test_export.py); no ``.npy`` is written on the way.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import fastetl
from fastetl.export import onepass
from reference import listing
from test_export import SCHEMA, _check_rows, _expected, _rows, _write_csv

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
pl = pytest.importorskip("polars")


def _read(path):
    if path.suffix == ".parquet":
        return pq.read_table(path)
    return pa.ipc.open_file(path).read_all()


@pytest.mark.parametrize("suffix", [".parquet", ".arrow"])
@pytest.mark.parametrize("workers", [1, 2])
def test_one_pass_values(tmp_path, monkeypatch, suffix, workers):
    # small batches: several row groups while the learned dictionary still grows
    monkeypatch.setattr(onepass, "BATCH_BYTES", 4096)
    rows = _rows(400, seed=4)
    src = tmp_path / "in.csv"
    _write_csv(src, rows)
    dest = tmp_path / f"out{suffix}"
    report = fastetl.convert(src, dest, schema=SCHEMA, workers=workers, block_size=2048)
    assert report.rows == report.rows_read == 400
    assert listing(tmp_path) == ["in.csv", f"out{suffix}"]  # no .npy, no sidecar
    want = [_expected(r) for r in rows]
    _check_rows(_read(dest).to_pylist(), want, suffix)
    if suffix == ".parquet":
        assert pq.ParquetFile(dest).metadata.num_row_groups > 2
        _check_rows(pl.read_parquet(dest).to_dicts(), want, "polars")
    else:
        _check_rows(pl.read_ipc(dest).to_dicts(), want, "polars")


def test_one_pass_with_an_inferred_schema_and_learned_categories(tmp_path, monkeypatch):
    monkeypatch.setattr(onepass, "BATCH_BYTES", 256)
    lines = ["k,city,v"] + [f"{i},{'city' + str(i % 37 if i > 100 else i % 3)},{i / 4}"
                            for i in range(1000)]  # fmt: skip
    src = tmp_path / "in.csv"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    for suffix in (".parquet", ".arrow"):
        dest = tmp_path / f"out{suffix}"
        fastetl.convert(src, dest, types={"city": "category"}, workers=2, block_size=1024)
        got = _read(dest)
        assert pa.types.is_dictionary(got.schema.field("city").type)
        want = [ln.split(",") for ln in lines[1:]]
        assert got.column("k").to_pylist() == [int(w[0]) for w in want]
        assert got.column("city").to_pylist() == [w[1] for w in want]
        assert got.column("v").to_pylist() == [float(w[2]) for w in want]


def test_one_pass_bad_row_leaves_the_output_as_it_was(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("a,b\n1,x\n2,y\noops,z\n4,w\n", encoding="utf-8")
    schema = {"columns": [{"name": "a", "type": "int32"}, {"name": "b", "type": "str", "width": 4}]}
    dest = tmp_path / "out.parquet"
    dest.write_bytes(b"old")
    before = listing(tmp_path)
    with pytest.raises(fastetl.ParseError, match="line 4"):
        fastetl.convert(src, dest, schema=schema, workers=1)
    assert dest.read_bytes() == b"old" and listing(tmp_path) == before
    report = fastetl.convert(src, dest, schema=schema, workers=1, on_error="skip")
    assert (report.rows, report.rows_skipped) == (3, 1)
    assert pq.read_table(dest).to_pylist() == [
        {"a": int(a), "b": b} for a, b in (("1", "x"), ("2", "y"), ("4", "w"))
    ]


def test_one_pass_refuses_what_only_a_npy_does(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("a\n1\n", encoding="utf-8")
    for kw in ({"append": True}, {"resume": True}, {"on_error": "reject"}):
        with pytest.raises(ValueError, match="convert to .npy, then fastetl.export"):
            fastetl.convert(src, tmp_path / "out.parquet", **kw)
    assert not (tmp_path / "out.parquet").exists()


def test_cli_convert_to_parquet_and_arrow(tmp_path):
    rows = _rows(50, seed=8)
    _write_csv(tmp_path / "in.csv", rows)
    (tmp_path / "s.json").write_text(fastetl.Schema.from_dict(SCHEMA).to_json(), "utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    for out in ("out.parquet", "out.arrow"):
        p = subprocess.run(
            [sys.executable, "-m", "fastetl", "convert", "in.csv", out, "--schema", "s.json",
             "--no-progress"],
            capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120,
        )  # fmt: skip
        assert p.returncode == 0, p.stderr
        _check_rows(_read(tmp_path / out).to_pylist(), [_expected(r) for r in rows], out)
    p = subprocess.run(
        [sys.executable, "-m", "fastetl", "convert", "in.csv", "out.parquet", "--schema",
         "s.json", "--append"],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120,
    )  # fmt: skip
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "--append" in p.stderr


@pytest.mark.parametrize("suffix", [".parquet", ".arrow"])
def test_one_pass_stores_schema_and_lineage_in_the_file(tmp_path, monkeypatch, suffix):
    import json

    from fastetl.lineage import file_hash

    monkeypatch.setattr(onepass, "BATCH_BYTES", 4096)  # several batches
    src = tmp_path / "in.csv"
    src.write_text("a,b\n" + "".join(f"{i if i % 7 else 'x'},v{i}\n" for i in range(600)))
    schema = {"columns": [{"name": "a", "type": "int32"}, {"name": "b", "type": "str", "width": 5}]}
    dest = tmp_path / f"out{suffix}"
    fastetl.convert(src, dest, schema=schema, on_error="skip", workers=2, block_size=1024)
    # read with pyarrow only: the footer / the file's schema and its last batch
    if suffix == ".parquet":
        kv = pq.read_metadata(dest).metadata
        rows = pq.read_metadata(dest).num_rows
    else:
        reader = pa.ipc.open_file(dest)
        last = reader.get_batch_with_custom_metadata(reader.num_record_batches - 1)[1]
        kv = {**reader.schema.metadata, **dict(last)}
        rows = reader.read_all().num_rows
    # the schema, as the .npy's sidecar of the same conversion holds it
    npy = tmp_path / "same.npy"
    fastetl.convert(src, npy, schema=schema, on_error="skip")
    sidecar = json.loads((tmp_path / "same.npy.json").read_text())
    assert json.loads(kv[b"fastetl.schema"]) == sidecar["schema"]
    (entry,) = json.loads(kv[b"fastetl.lineage"])
    assert entry["content_hash"] == file_hash(src)
    bad = sum(1 for i in range(600) if i % 7 == 0)
    counts = (entry["rows_read"], entry["rows_written"], entry["rows_skipped"])
    assert counts == (600, 600 - bad, bad)
    assert rows == 600 - bad
    assert entry["schema_hash"] == sidecar["lineage"][0]["schema_hash"]
    # and the CLI prints the chain from the file itself
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    p = subprocess.run([sys.executable, "-m", "fastetl", "lineage", str(dest)],
                       capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert entry["content_hash"]["value"] in p.stdout and f"{600 - bad:,} written" in p.stdout
    p = subprocess.run([sys.executable, "-m", "fastetl", "lineage", str(dest), "--json"],
                       capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
    assert json.loads(p.stdout) == [entry]
    # --no-hash: the entry says so
    fastetl.convert(src, dest, schema=schema, on_error="skip", hash=False)
    assert onepass.stored_meta(dest)["lineage"][0]["content_hash"] is None


@pytest.mark.parametrize("suffix", [".parquet", ".arrow"])
def test_an_interrupt_of_a_one_pass_conversion_says_what_became_of_the_output(
    tmp_path, suffix
):
    """Ctrl-C during a one-pass conversion raises fastetl's ``Interrupted`` with its
    one-line message, as a conversion into .npy does (it was a plain KeyboardInterrupt):
    during inference the output is as it was ("not changed"); after the file was
    renamed into place the output holds the whole conversion ("complete")."""
    from fastetl import api
    from fastetl.export import _files
    from reference import interrupt_at

    rows = _rows(50, seed=7)
    src = tmp_path / "in.csv"
    _write_csv(src, rows)
    (tmp_path / "run").mkdir()
    dest = tmp_path / "run" / f"out{suffix}"
    dest.write_bytes(b"an earlier output")
    with interrupt_at(api._resolve, None) as raised:  # as the schema is inferred
        with pytest.raises(KeyboardInterrupt) as e:
            fastetl.convert(src, dest)
    assert raised and type(e.value) is fastetl.Interrupted
    assert not e.value.committed and e.value.resume_rows is None
    assert str(e.value) == "interrupted; the output was not changed"
    assert listing(tmp_path / "run") == [f"out{suffix}"]
    assert dest.read_bytes() == b"an earlier output"

    # just after the rename, as its folder is synced: the file is the conversion's
    with interrupt_at(_files.atomic_output.__wrapped__, "outset.fsync_dir(folder)") as raised:
        with pytest.raises(KeyboardInterrupt) as e:
            fastetl.convert(src, dest, schema=SCHEMA)
    assert raised and type(e.value) is fastetl.Interrupted and e.value.committed
    assert str(e.value) == "interrupted after the conversion was complete: the output holds all of it"
    assert listing(tmp_path / "run") == [f"out{suffix}"]
    _check_rows(_read(dest).to_pylist(), [_expected(r) for r in rows], suffix)


@pytest.mark.parametrize("sig, code, what", [("SIGINT", 130, "interrupted"),
                                             ("SIGTERM", 143, "terminated")])  # fmt: skip
def test_the_cli_interrupted_mid_one_pass_conversion_says_so_in_one_line(
    tmp_path, sig, code, what
):
    """Ctrl-C or SIGTERM mid-way through ``fastetl convert IN OUT.parquet`` (the real CLI
    in a child process, held mid-run): one line saying the output was not changed, the
    exit code of the signal, and no file left but the input's."""
    import json
    import signal

    from reference import SLOW_CLI, held

    rows = _rows(2000, seed=9)
    src = tmp_path / "in.csv"
    _write_csv(src, rows)
    schema = tmp_path / "s.json"
    schema.write_text(json.dumps(SCHEMA))
    p = subprocess.Popen(
        [sys.executable, "-c", SLOW_CLI, "convert", str(src), str(tmp_path / "o.parquet"),
         "--schema", str(schema), "--block-size", "4096", "--workers", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "HOLD_AT": '"start"'},
    )  # fmt: skip
    held(p)
    p.send_signal(getattr(signal, sig))
    _, err = p.communicate(timeout=60)
    assert p.returncode == code, err
    assert err == f"fastetl: {what}; the output was not changed\n"
    assert listing(tmp_path) == ["in.csv", "s.json"]
