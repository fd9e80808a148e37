"""fastetl.dask on a real LocalCluster (2 worker processes): the dataset's records are the
bytes a single-machine run writes, and the values are what Python's csv module reads."""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("distributed")
import dask.dataframe  # noqa: E402,F401  (the dataframe extra is part of fastetl[dask])
from distributed import Client, LocalCluster, WorkerPlugin  # noqa: E402

import fastetl  # noqa: E402
import fastetl.dask as fdask  # noqa: E402
from fastetl import outset  # noqa: E402

SCHEMA = {
    "columns": [
        {"name": "id", "type": "int64"},
        {"name": "note", "type": "str", "width": 40},
        {"name": "cat", "type": "category"},
        {"name": "x", "type": "float64"},
    ]
}


@pytest.fixture(scope="module")
def client():
    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    c = Client(cluster)
    yield c
    c.close()
    cluster.close()


def _rows(n: int, seed: int, start: int = 0, cats: int = 12) -> list[list[str]]:
    rnd = random.Random(seed)
    out = []
    for i in range(start, start + n):
        note = f"note {i}"
        if i % 3 == 0:  # quoted line breaks (and a quote) all over the file
            note = f'multi\nline, "q" {i}\n'
        out.append([str(i), note, f"c{rnd.randrange(cats)}", repr(rnd.uniform(-1e6, 1e6))])
    return out


def _csv(rows: list[list[str]], header=("id", "note", "cat", "x"), crlf: bool = False) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n" if crlf else "\n")
    if header:
        w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode()


def _local(src, tmp_path: Path, schema=SCHEMA, **kw) -> np.ndarray:
    out = tmp_path / "local.npy"
    fastetl.convert(src, out, schema, **kw)
    return np.load(out)


def _dataset_records(out: Path) -> np.ndarray:
    meta = json.loads((out / "dataset.json").read_text())
    # plain numpy, part by part: the dataset's parts need nothing of fastetl to read
    return np.concatenate([np.load(out / p["file"]) for p in meta["parts"]])


def _naive_cuts(data: bytes, start: int, size: int) -> set[int]:
    """Where cutting just after the next line break would have cut."""
    return {data.find(b"\n", p) + 1 for p in range(start + size, len(data), size)}


def test_quoted_line_breaks_at_range_edges_give_identical_bytes(client, tmp_path):
    data = _csv(_rows(600, 1))
    src = tmp_path / "in.csv"
    src.write_bytes(data)
    size = 701  # many ranges, most cut in the middle of a quoted note
    fdask.convert(src, tmp_path / "ds", SCHEMA, client=client, partition_size=size)
    got = _dataset_records(tmp_path / "ds")
    assert got.tobytes() == _local(src, tmp_path, workers=1).tobytes()
    meta = json.loads((tmp_path / "ds" / "dataset.json").read_text())
    starts = {p["start"] for p in meta["parts"]}
    header_end = data.index(b"\n") + 1
    # some line-break guesses were inside quotes: the exact cuts differ from them
    assert _naive_cuts(data, header_end, size) - starts
    assert len(meta["parts"]) > 20
    # the values are what Python's csv module reads
    ref = list(csv.reader(io.StringIO(data.decode(), newline="")))[1:]
    t = fastetl.open(tmp_path / "ds")
    assert list(t["note"]) == [r[1] for r in ref]
    assert list(t["cat"]) == [r[2] for r in ref]
    assert t["x"].tolist() == [float(r[3]) for r in ref]
    # the parts' ranges tile the input after the header, and each says its first line
    assert meta["parts"][0]["start"] == header_end
    assert meta["parts"][-1]["end"] == len(data)
    for a, b in zip(meta["parts"], meta["parts"][1:]):
        assert a["end"] == b["start"]
    for p in meta["parts"]:
        assert p["first_line"] == data[: p["start"]].count(b"\n") + 1
    # category codes are global: the dictionary is in order of first appearance
    first_seen = list(dict.fromkeys(r[2] for r in ref))
    assert meta["categories"]["cat"] == first_seen


def test_crlf_and_inferred_schema(client, tmp_path):
    src = tmp_path / "crlf.csv"
    src.write_bytes(_csv(_rows(300, 2), crlf=True))
    fdask.convert(src, tmp_path / "ds", client=client, partition_size=900)
    meta = json.loads((tmp_path / "ds" / "dataset.json").read_text())
    assert _dataset_records(tmp_path / "ds").tobytes() == _local(src, tmp_path, None).tobytes()
    assert meta["schema"]["columns"] == json.loads(
        (tmp_path / "local.npy.json").read_text()
    )["schema"]["columns"]


def test_files_glob_and_compressed_equal_their_concatenation(client, tmp_path):
    parts = [_rows(80, 10 + k, start=80 * k, cats=4 + 3 * k) for k in range(5)]
    (tmp_path / "in").mkdir()
    for k, rows in enumerate(parts):
        (tmp_path / "in" / f"f{k}.csv").write_bytes(_csv(rows))
    whole = tmp_path / "whole.csv"
    whole.write_bytes(_csv([r for rows in parts for r in rows]))
    expect = _local(whole, tmp_path)
    fdask.convert(str(tmp_path / "in" / "f*.csv"), tmp_path / "ds", SCHEMA, client=client,
                  partition_size=1000)
    assert _dataset_records(tmp_path / "ds").tobytes() == expect.tobytes()
    # compressed files are one task each, in the same order
    files = []
    for k, rows in enumerate(parts):
        raw = _csv(rows)
        if k % 2:
            p = tmp_path / f"g{k}.csv.gz"
            p.write_bytes(gzip.compress(raw))
        elif k == 2:
            p = tmp_path / f"g{k}.csv.bz2"
            p.write_bytes(bz2.compress(raw))
        else:
            p = tmp_path / f"g{k}.csv"
            p.write_bytes(raw)
        files.append(p)
    fdask.convert(files, tmp_path / "ds2", SCHEMA, client=client, partition_size=1000)
    assert _dataset_records(tmp_path / "ds2").tobytes() == expect.tobytes()


def test_a_different_header_is_refused(client, tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_bytes(_csv(_rows(5, 1)))
    b.write_bytes(_csv(_rows(5, 1), header=("id", "note", "kind", "x")))
    with pytest.raises(fastetl.ParseError, match="header"):
        fdask.convert([a, b], tmp_path / "ds", SCHEMA, client=client)
    assert not (tmp_path / "ds").exists()


class _KillOnce(WorkerPlugin):
    """Kills the worker process shortly after the first part task starts (once: marker)."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def transition(self, key, start, finish, **kwargs):
        name = key if isinstance(key, str) else str(key)
        if finish == "executing" and "fastetl-parse" in name:
            try:
                fd = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                return
            os.close(fd)
            import threading

            threading.Timer(0.01, os._exit, (1,)).start()


def test_a_killed_worker_gives_the_same_result(client, tmp_path):
    src = tmp_path / "in.csv"
    src.write_bytes(_csv(_rows(2000, 3)))
    marker = tmp_path / "killed"
    client.register_plugin(_KillOnce(str(marker)), name="kill-once")
    try:
        fdask.convert(src, tmp_path / "ds", SCHEMA, client=client, partition_size=5000)
    finally:
        client.unregister_worker_plugin("kill-once")
    assert marker.exists()  # a worker was killed
    assert _dataset_records(tmp_path / "ds").tobytes() == _local(src, tmp_path).tobytes()
    leftovers = [p.name for p in (tmp_path / "ds").iterdir() if p.name.startswith(".")]
    assert leftovers == []
    client.wait_for_workers(2, timeout=60)


def test_bad_row_line_and_column_equal_a_local_run(client, tmp_path):
    rows = _rows(900, 4)
    rows[700][3] = "oops"
    data = _csv(rows)
    src = tmp_path / "bad.csv"
    src.write_bytes(data)
    with pytest.raises(fastetl.ParseError) as local:
        fastetl.convert(src, tmp_path / "l.npy", SCHEMA)
    with pytest.raises(fastetl.ParseError) as dist:
        fdask.convert(src, tmp_path / "ds", SCHEMA, client=client, partition_size=1500)
    # independently: the physical line of the bad value (quoted line breaks count)
    line = data[: data.index(b",oops")].count(b"\n") + 1
    assert dist.value.line == local.value.line == line
    assert dist.value.column == local.value.column == "x"
    assert dist.value.row == local.value.row == 700
    assert str(dist.value) == str(local.value)
    assert not (tmp_path / "ds").exists()
    temps = [p.name for p in tmp_path.iterdir() if "fastetl-" in p.name]
    assert [n for n in temps if not n.endswith(".fastetl-lock")] == []
    # skip: the same records and counts as a local run
    rep = fdask.convert(src, tmp_path / "ds", SCHEMA, client=client, partition_size=1500,
                        on_error="skip")
    assert rep.rows_skipped == 1 and rep.rows == 899
    expect = _local(src, tmp_path, on_error="skip")
    assert _dataset_records(tmp_path / "ds").tobytes() == expect.tobytes()
    side = json.loads((tmp_path / "local.npy.json").read_text())
    meta = json.loads((tmp_path / "ds" / "dataset.json").read_text())
    for k in ("rows_read", "rows_written", "rows_skipped", "rows_rejected"):
        assert meta[k] == side[k], k


def test_a_failed_run_keeps_the_existing_dataset_whole(client, tmp_path):
    good = tmp_path / "good.csv"
    good.write_bytes(_csv(_rows(200, 5)))
    out = tmp_path / "ds"
    fdask.convert(good, out, SCHEMA, client=client, partition_size=2000)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    rows = _rows(400, 6)
    rows[350][0] = "x1"
    bad = tmp_path / "bad.csv"
    bad.write_bytes(_csv(rows))
    with pytest.raises(fastetl.ParseError):
        fdask.convert(bad, out, SCHEMA, client=client, partition_size=2000)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [".ds.fastetl-lock", "bad.csv", "ds", "good.csv"]
    # one writer per dataset
    with outset.OutputLock(out).acquire():
        with pytest.raises(fastetl.OutputError):
            fdask.convert(good, out, SCHEMA, client=client)
    # a folder that is not a dataset is never replaced
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    with pytest.raises(fastetl.OutputError, match="not a fastetl dataset"):
        fdask.convert(good, other, SCHEMA, client=client)
    assert (other / "keep.txt").read_text() == "mine"


def test_a_late_value_widens_across_parts(client, tmp_path):
    rows = [[str(i), str(i % 100), f"n{i}"] for i in range(3000)]
    rows[2500][1] = "70000"  # past the sample: int8 -> a wider int
    rows[2900][2] = "x" * 30  # a longer string
    src = tmp_path / "w.csv"
    src.write_bytes(_csv(rows, header=("id", "small", "name")))
    rep = fdask.convert(src, tmp_path / "ds", client=client, partition_size=4000,
                        infer_rows=200)
    local = tmp_path / "local.npy"
    fastetl.convert(src, local, infer_rows=200)
    assert _dataset_records(tmp_path / "ds").tobytes() == np.load(local).tobytes()
    meta = json.loads((tmp_path / "ds" / "dataset.json").read_text())
    side = json.loads((tmp_path / "local.npy.json").read_text())
    assert meta["schema"]["columns"] == side["schema"]["columns"]
    assert {w["column"] for w in rep.widened} == {"small", "name"}
    assert fastetl.open(tmp_path / "ds")["small"].tolist() == [int(r[1]) for r in rows]


def test_a_full_category_errs_at_the_same_row(client, tmp_path):
    rows = [[str(i), "n", f"v{i // 40}", "1.5"] for i in range(800)]  # 20 values
    src = tmp_path / "c.csv"
    src.write_bytes(_csv(rows))
    schema = json.loads(json.dumps(SCHEMA))
    schema["columns"][2]["max_values"] = 12
    with pytest.raises(fastetl.ParseError) as local:
        fastetl.convert(src, tmp_path / "l.npy", schema)
    with pytest.raises(fastetl.ParseError) as dist:
        fdask.convert(src, tmp_path / "ds", schema, client=client, partition_size=1000)
    assert str(dist.value) == str(local.value)
    assert dist.value.line == 12 * 40 + 2  # value number 13 first appears on row 480
    fdask.convert(src, tmp_path / "ds", schema, client=client, partition_size=1000,
                  on_error="skip")
    expect = _local(src, tmp_path, schema, on_error="skip")
    assert len(expect) == 12 * 40
    assert _dataset_records(tmp_path / "ds").tobytes() == expect.tobytes()


def test_dataframes_one_partition_per_part(client, tmp_path):
    import pandas as pd

    src = tmp_path / "in.csv"
    src.write_bytes(_csv(_rows(500, 7)))
    out = tmp_path / "ds"
    fdask.convert(src, out, SCHEMA, client=client, partition_size=3000)
    nparts = len(json.loads((out / "dataset.json").read_text())["parts"])
    ref = pd.read_csv(src, keep_default_na=False)
    df = fdask.read_dataset(out)
    assert df.npartitions == nparts > 1
    got = df.compute().reset_index(drop=True)
    assert got["id"].tolist() == ref["id"].tolist()
    assert got["note"].tolist() == ref["note"].tolist()
    assert got["cat"].astype(str).tolist() == ref["cat"].tolist()
    assert got["x"].tolist() == ref["x"].tolist()
    by_id = fdask.from_table(fastetl.open(out), index="id")
    assert by_id.known_divisions and by_id.npartitions == nparts
    assert by_id.loc[250:251].compute()["note"].tolist() == ref["note"][250:252].tolist()
    _local(src, tmp_path)
    one = fdask.from_table(fastetl.open(tmp_path / "local.npy"))  # a file: one partition
    assert one.npartitions == 1
    assert one.compute()["note"].tolist() == ref["note"].tolist()
    lazy = fdask.read_csv(src, SCHEMA, client=client, partition_size=3000,
                          out_dir=tmp_path / "ds2")
    assert lazy.npartitions == nparts
    assert lazy["x"].sum().compute() == pytest.approx(ref["x"].sum())


def test_cli_dask_to_a_running_scheduler(client, tmp_path):
    src = tmp_path / "in.csv"
    src.write_bytes(_csv(_rows(300, 8)))
    schema = tmp_path / "s.json"
    schema.write_text(json.dumps(SCHEMA))
    out = tmp_path / "ds"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    r = subprocess.run(
        [sys.executable, "-m", "fastetl", "convert", str(src), str(out), "--schema",
         str(schema), "--dask", client.scheduler.address, "--partition-size", "2kB"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert _dataset_records(out).tobytes() == _local(src, tmp_path).tobytes()
    r = subprocess.run([sys.executable, "-m", "fastetl", "inspect", str(out), "-n", "2"],
                       capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    nparts = len(json.loads((out / "dataset.json").read_text())["parts"])
    assert f"{out}: 300 rows" in r.stdout and f"files: {nparts} part(s)" in r.stdout
    r = subprocess.run(
        [sys.executable, "-m", "fastetl", "convert", "-", str(out), "--dask", "local:1"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert r.returncode == 2 and "stdin" in r.stderr


def test_each_cut_task_finds_the_true_row_start_without_a_serial_walk(tmp_path):
    # the row starts, from Python's csv writer row by row
    rows = _rows(400, 9)
    header = _csv([], crlf=True)
    lengths = [len(_csv([r], header=None, crlf=True)) for r in rows]
    starts = list(np.cumsum([len(header), *lengths]))
    data = header + b"".join(_csv([r], header=None, crlf=True) for r in rows)
    assert starts[-1] == len(data)
    src = tmp_path / "in.csv"
    src.write_bytes(data)
    schema = fastetl.Schema.from_dict(SCHEMA).to_dict()
    inside = 0
    for a in range(len(header), len(data), 89):
        true = min(s for s in starts if s >= a)
        # one of the walks a cut task makes (the guess that the line break after the cut
        # ends a row, or that it is inside a quoted field) starts at the true row start
        tries = fdask._walk(str(src), -a - 1, a + 89, schema, False)
        assert true in [t[0] for t in tries], a
        walk = next(t for t in tries if t[0] == true)
        nxt = min([s for s in starts if s >= a + 89] or [len(data)])
        breaks = len(re.findall(rb"\r\n|\r|\n", data[true:nxt]))  # (quoted ones count)
        assert walk[1:] == (0, nxt, breaks)
        inside += data.find(b"\n", a) + 1 != true
    assert inside > 10  # many cuts fell inside quoted fields


def test_rejects_equal_a_local_run(client, tmp_path):
    rows = _rows(900, 11)
    for i in (5, 300, 301, 899):
        rows[i][0] = f"bad{i}"
    rows[450][1] = "x" * 50  # too long for the str(40) column
    data = _csv(rows)
    src = tmp_path / "in.csv"
    src.write_bytes(data)
    rep = fdask.convert(src, tmp_path / "ds", SCHEMA, client=client, partition_size=1200,
                        on_error="reject")
    local = tmp_path / "local.npy"
    lrep = fastetl.convert(src, local, SCHEMA, on_error="reject")
    assert _dataset_records(tmp_path / "ds").tobytes() == np.load(local).tobytes()
    assert rep.rows_rejected == lrep.rows_rejected == 5
    ds_rejects = tmp_path / "ds" / "rejects.csv"
    assert Path(rep.rejects) == ds_rejects
    assert ds_rejects.read_bytes() == Path(lrep.rejects).read_bytes()
    got = json.loads((tmp_path / "ds" / "rejects.csv.json").read_text())
    want = json.loads(Path(lrep.rejects + ".json").read_text())
    assert got == want
    # independently: the rejected rows are these rows of the input, as csv reads them
    back = list(csv.reader(io.StringIO(ds_rejects.read_text(), newline="")))
    assert back[1:] == [rows[i] for i in (5, 300, 301, 450, 899)]
    assert [e["row"] for e in got["rejects"]] == [5, 300, 301, 450, 899]
    meta = json.loads((tmp_path / "ds" / "dataset.json").read_text())
    assert meta["rows_rejected"] == 5 and meta["rejects"] == "rejects.csv"


class _AppendOnce(WorkerPlugin):
    """Another writer: appends a row to the input as the first part task starts."""

    def __init__(self, path: str, marker: str) -> None:
        self.path, self.marker = path, marker

    def transition(self, key, start, finish, **kwargs):
        if finish == "executing" and "fastetl-parse" in str(key):
            try:
                os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            except FileExistsError:
                return
            with open(self.path, "ab") as fh:
                fh.write(b"300,late,c1,1.0\n")


def test_an_input_that_changes_during_the_run_is_refused(client, tmp_path):
    src = tmp_path / "in.csv"
    src.write_bytes(_csv(_rows(300, 12)))
    client.register_plugin(_AppendOnce(str(src), str(tmp_path / "m")), name="append-once")
    try:
        with pytest.raises(fastetl.InputError, match="changed while it was converted"):
            fdask.convert(src, tmp_path / "ds", SCHEMA, client=client, partition_size=2000)
    finally:
        client.unregister_worker_plugin("append-once")
    assert (tmp_path / "m").exists()
    assert not (tmp_path / "ds").exists()


def test_a_run_that_died_between_its_renames_gets_the_old_dataset_back(client, tmp_path):
    src = tmp_path / "in.csv"
    src.write_bytes(_csv(_rows(100, 13)))
    out = tmp_path / "ds"
    fdask.convert(src, out, SCHEMA, client=client)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    out.rename(tmp_path / ".ds.fastetl-0123abcd.old")  # the state such a death leaves
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"id,note,cat,x\nnope,a,b,1\n")
    with pytest.raises(fastetl.ParseError):
        fdask.convert(bad, out, SCHEMA, client=client)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


@pytest.mark.parametrize("seed", [21, 22, 23])
def test_random_files_nullable_categories_and_sizes(client, tmp_path, seed):
    rnd = random.Random(seed)
    schema = {
        "columns": [
            {"name": "k", "type": "category", "nullable": True},
            {"name": "s", "type": "str", "width": 12, "nullable": True},
            {"name": "d", "type": "decimal", "scale": 2, "nullable": True},
            {"name": "c", "type": "category"},
        ]
    }
    rows = []
    for _ in range(rnd.randrange(50, 400)):
        k = rnd.choice(["", "", "alpha", "beta", "gamma", f"k{rnd.randrange(40)}"])
        s = rnd.choice(["", "a\nb", 'q"x', "\r\n", "plain", "a,b"])
        d = rnd.choice(["", "1.25", "-3", "100.5"])
        rows.append([k, s, d, f"c{rnd.randrange(60)}"])
    src = tmp_path / "r.csv"
    src.write_bytes(_csv(rows, header=("k", "s", "d", "c"), crlf=rnd.random() < 0.5))
    size = rnd.randrange(40, 2000)
    fdask.convert(src, tmp_path / "ds", schema, client=client, partition_size=size)
    assert _dataset_records(tmp_path / "ds").tobytes() == _local(src, tmp_path, schema).tobytes()
    t = fastetl.open(tmp_path / "ds")
    assert list(t["k"]) == [r[0] or None for r in rows]
    assert list(t["c"]) == [r[3] for r in rows]
    assert list(t["s"]) == [r[1] or None for r in rows]


def test_options_are_checked_before_any_work(tmp_path):
    src = tmp_path / "in.csv"
    src.write_bytes(_csv(_rows(3, 1)))
    for bad in ("abc", 0, "0MB", True):
        with pytest.raises(ValueError, match="partition_size"):
            fdask.convert(src, tmp_path / "ds", SCHEMA, partition_size=bad)
    with pytest.raises(ValueError, match="on_error"):
        fdask.convert(src, tmp_path / "ds", SCHEMA, on_error="ignore")
    with pytest.raises(fastetl.InputError, match="no file matches"):
        fdask.convert(str(tmp_path / "nothing*.csv"), tmp_path / "ds", SCHEMA)
    assert fdask.parse_size("256MB") == 256 * 10**6 and fdask.parse_size("64MiB") == 64 << 20
    assert not (tmp_path / "ds").exists()


_BROKEN = {
    "unterminated": lambda b: b + b'400,"never closed,c1,1.0\n401,a,c1,2.0\n',
    "after_quote": lambda b: b.replace(b"\n200,", b'\n200,"x"y,c1,1.0\n2000,', 1),
    "too_many": lambda b: b.replace(b"\n250,", b"\n250,a,b,c,d\n2500,", 1),
    "too_few": lambda b: b.replace(b"\n300,", b"\n300\n3000,", 1),
}


@pytest.mark.parametrize("case", sorted(_BROKEN))
def test_broken_rows_equal_a_local_run(client, tmp_path, case):
    data = _BROKEN[case](_csv(_rows(400, 3)))
    src = tmp_path / "in.csv"
    src.write_bytes(data)
    with pytest.raises(fastetl.ParseError) as local:
        fastetl.convert(src, tmp_path / "l.npy", SCHEMA)
    with pytest.raises(fastetl.ParseError) as dist:
        fdask.convert(src, tmp_path / "ds", SCHEMA, client=client, partition_size=900)
    assert (str(dist.value), dist.value.row) == (str(local.value), local.value.row)
    rep = fdask.convert(src, tmp_path / "ds", SCHEMA, client=client, partition_size=900,
                        on_error="reject")
    lrep = fastetl.convert(src, tmp_path / "l.npy", SCHEMA, on_error="reject")
    assert _dataset_records(tmp_path / "ds").tobytes() == np.load(tmp_path / "l.npy").tobytes()
    assert Path(rep.rejects).read_bytes() == Path(lrep.rejects).read_bytes()
    assert rep.rows_rejected == lrep.rows_rejected > 0


def test_blank_lines_at_the_cuts(client, tmp_path):
    # blank lines are not rows: a row start (of a walk, or of a cut task's guess) comes
    # after the blank lines before it; the lines are counted all the same
    rows = _rows(120, 14)
    data = b"id,note,cat,x\n" + b"".join(
        b"\n" * (i % 4) + _csv([r], header=None) for i, r in enumerate(rows)
    )
    src = tmp_path / "blank.csv"
    src.write_bytes(data)
    fdask.convert(src, tmp_path / "ds", SCHEMA, client=client, partition_size=150)
    assert _dataset_records(tmp_path / "ds").tobytes() == _local(src, tmp_path).tobytes()
    assert list(fastetl.open(tmp_path / "ds")["note"]) == [r[1] for r in rows]
    meta = json.loads((tmp_path / "ds" / "dataset.json").read_text())
    for p in meta["parts"]:
        assert p["first_line"] == data[: p["start"]].count(b"\n") + 1


def test_comments_escapes_and_a_preamble_at_the_cuts(client, tmp_path):
    """The row-structure options change where rows end: a comment line, an escaped line
    break or delimiter, a preamble before the header.  The cuts stay exact (the same bytes
    as a local run) and the values are what Python's csv module reads with escapechar."""
    rnd = random.Random(5)
    lines = ["Sales report", "generated 2024-01-01", "id,note,cat,x"]
    ref_rows = []
    for i in range(500):
        if i % 7 == 0:
            lines.append(f"# a comment, with a delimiter and a \"quote\" {i}")
        note = f"a\\,b\\\nline {i}" if i % 3 == 0 else f"n{i}"  # escaped comma and line break
        x = repr(rnd.uniform(-1e3, 1e3))
        cat = f"c{rnd.randrange(5)}"
        lines.append(f"{i},{note},{cat},{x}")
        ref_rows.append([str(i), note, cat, x])
    data = ("\n".join(lines) + "\n").encode()
    src = tmp_path / "in.csv"
    src.write_bytes(data)
    schema = dict(SCHEMA, dialect={"escape": "\\", "comment": "#", "skip_rows": 2})
    fdask.convert(src, tmp_path / "ds", schema, client=client, partition_size=601)
    got = _dataset_records(tmp_path / "ds")
    assert got.tobytes() == _local(src, tmp_path, schema=schema, workers=1).tobytes()
    meta = json.loads((tmp_path / "ds" / "dataset.json").read_text())
    assert len(meta["parts"]) > 10
    body = "\n".join(l for l in lines[3:] if not l.startswith("#")) + "\n"
    ref = list(csv.reader(io.StringIO(body, newline=""), escapechar="\\"))
    t = fastetl.open(tmp_path / "ds")
    assert t["id"].tolist() == [int(r[0]) for r in ref]
    assert list(t["note"]) == [r[1] for r in ref]
    assert t["x"].tolist() == [float(r[3]) for r in ref]


def _long_row_input(tmp_path: Path) -> tuple[Path, bytes]:
    rows = _rows(300, 7)
    head = _csv(rows[:150])
    long = b'999,"' + b"x" * (17 << 20) + b"\n"  # over 16 MiB: the quote is never closed
    src = tmp_path / "in.csv"
    src.write_bytes(head + long + _csv(rows[150:], header=None))
    return src, head


def test_a_row_longer_than_the_limit_is_the_local_error(client, tmp_path):
    """Under raise, a row over 16 MiB (a quote left open) is the local run's error, word
    for word, at the same line."""
    src, _ = _long_row_input(tmp_path)
    with pytest.raises(fastetl.ParseError) as local:
        _local(src, tmp_path)
    with pytest.raises(fastetl.ParseError) as got:
        fdask.convert(src, tmp_path / "ds", SCHEMA, client=client, partition_size=1 << 20)
    assert "longer than 16 MiB" in str(got.value)
    assert str(got.value) == str(local.value)
    assert not (tmp_path / "ds").exists()


def test_a_row_longer_than_the_limit_under_skip_is_refused_in_one_line(client, tmp_path):
    """Under skip the local run takes such a row as one bad row; the Dask path's cuts are
    not made around it, so it refuses the input, in one line naming the row's line,
    rather than give another result than a local run."""
    src, head = _long_row_input(tmp_path)
    with pytest.raises(fastetl.ParseError) as got:
        fdask.convert(src, tmp_path / "ds", SCHEMA, client=client, partition_size=1 << 20,
                      on_error="skip")
    assert "the Dask path cannot cut around it" in str(got.value)
    assert got.value.line == head.count(b"\n") + 1
    assert "\n" not in str(got.value)
    assert not (tmp_path / "ds").exists()


def test_content_hashes_equal_a_local_conversions(client, tmp_path):
    """Each source's content hash, made by tasks over 1 MiB-aligned pieces while the
    parts are cut elsewhere, is the one fastetl.lineage.file_hash (and a local
    conversion's sidecar) gives for the file."""
    from fastetl.lineage import file_hash

    big = tmp_path / "big.csv"
    big.write_bytes(_csv(_rows(60_000, 21)))  # ~3 MB: several 1 MiB chunks, a short last one
    assert big.stat().st_size > 2 << 20
    assert big.stat().st_size % (1 << 20)
    out = tmp_path / "one.dataset"
    fdask.convert(big, out, SCHEMA, client=client, partition_size=1_000_000)  # parts not aligned
    doc = json.loads((out / "dataset.json").read_text())
    assert len(doc["parts"]) > 2
    local = tmp_path / "local.npy"
    fastetl.convert(big, local, SCHEMA)
    sidecar = json.loads((tmp_path / "local.npy.json").read_text())
    assert doc["content_hash"] == file_hash(big) == sidecar["content_hash"]
    assert doc["sources"][0]["content_hash"] == file_hash(big)
    # several files, one compressed (its compressed bytes), one empty of rows
    (tmp_path / "parts").mkdir()
    a, b, c = (tmp_path / "parts" / n for n in ("a.csv", "b.csv.gz", "c.csv"))
    a.write_bytes(_csv(_rows(3000, 22)))
    b.write_bytes(gzip.compress(_csv(_rows(500, 23, start=3000))))
    c.write_bytes(_csv([]))
    out = tmp_path / "many.dataset"
    fdask.convert([str(a), str(b), str(c)], out, SCHEMA, client=client, partition_size="64KB")
    doc = json.loads((out / "dataset.json").read_text())
    assert [s["content_hash"] for s in doc["sources"]] == [file_hash(p) for p in (a, b, c)]
    assert doc["content_hash"] is None


def test_openlineage_events_and_lineage_of_a_dask_run(client, tmp_path):
    """The events a local conversion writes (checked field by field from the spec by
    test_lineage's helpers), with every input file as an input dataset and the dataset
    folder as the output; dataset.json's lineage has one entry per file, whose counts
    are those of a local conversion of that file alone."""
    from test_lineage import _start_then

    from fastetl.lineage import file_hash

    (tmp_path / "in").mkdir()
    a, b = tmp_path / "in" / "a.csv", tmp_path / "in" / "b.csv.gz"
    a.write_bytes(_csv(_rows(4000, 31)))
    b.write_bytes(gzip.compress(_csv(_rows(700, 32, start=4000))))
    out, ev_path = tmp_path / "ds", tmp_path / "ev.jsonl"
    fdask.convert([str(a), str(b)], out, SCHEMA, client=client, partition_size="64KB",
                  openlineage=ev_path)
    doc = json.loads((out / "dataset.json").read_text())
    ev = _start_then(ev_path, "COMPLETE")
    assert ev["inputs"] == [{"namespace": "file", "name": str(p.resolve())} for p in (a, b)]
    (o,) = ev["outputs"]
    assert (o["namespace"], o["name"]) == ("file", str(out.resolve()))
    assert ev["job"]["name"] == str(out.resolve())
    records = _dataset_records(out)
    stored = [n for n in records.dtype.names if not n.startswith("_nulls")]
    assert [f["name"] for f in o["facets"]["schema"]["fields"]] == stored
    stats = o["outputFacets"]["outputStatistics"]
    assert stats["rowCount"] == len(records) == 4700
    assert stats["size"] == records.nbytes
    entries = doc["lineage"]
    assert [e["source"]["path"] for e in entries] == [str(a.resolve()), str(b.resolve())]
    assert {e["run_id"] for e in entries} == {ev["run"]["runId"]}
    assert ev["eventTime"] == entries[0]["ended"]
    for e, p in zip(entries, (a, b), strict=True):
        assert e["content_hash"] == file_hash(p)
        fastetl.convert(p, tmp_path / "one.npy", SCHEMA)
        local = json.loads((tmp_path / "one.npy.json").read_text())["lineage"][0]
        for key in ("rows_read", "rows_written", "rows_rejected", "rows_skipped",
                    "schema_hash", "host", "output"):
            want = str(out.resolve()) if key == "output" else local[key]
            assert e[key] == want, key
    # a failed run: START, then FAIL naming the bad row
    bad = tmp_path / "bad.csv"
    bad.write_bytes(_csv(_rows(3000, 33)) + b"3000,x,c1,oops\n")
    with pytest.raises(fastetl.ParseError):
        fdask.convert(bad, tmp_path / "ds2", SCHEMA, client=client, partition_size="64KB",
                      openlineage=ev_path)
    ev = _start_then(ev_path, "FAIL")
    assert "oops" in ev["run"]["facets"]["errorMessage"]["message"]
    assert ev["inputs"] == [{"namespace": "file", "name": str(bad.resolve())}]


def test_cli_dask_lineage_options(client, tmp_path):
    from test_lineage import _start_then

    src = tmp_path / "in.csv"
    src.write_bytes(_csv(_rows(500, 34)))
    schema = tmp_path / "s.json"
    schema.write_text(json.dumps(SCHEMA))
    out, ev_path = tmp_path / "ds", tmp_path / "ev.jsonl"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    r = subprocess.run(
        [sys.executable, "-m", "fastetl", "convert", str(src), str(out), "--schema",
         str(schema), "--dask", client.scheduler.address, "--partition-size", "8kB",
         "--no-hash", "--no-host", "--openlineage", str(ev_path)],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert r.returncode == 0, r.stderr
    doc = json.loads((out / "dataset.json").read_text())
    assert doc["content_hash"] is None and "content_hash" not in doc["sources"][0]
    (entry,) = doc["lineage"]
    assert entry["content_hash"] is None and "host" not in entry
    ev = _start_then(ev_path, "COMPLETE")
    assert ev["job"]["namespace"] == os.environ.get("OPENLINEAGE_NAMESPACE", "fastetl")
    assert ev["run"]["runId"] == entry["run_id"]
    r = subprocess.run([sys.executable, "-m", "fastetl", "lineage", str(out)],
                       capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    assert str(src.resolve()) in r.stdout and "not hashed" in r.stdout
    # a bad events path: refused before anything runs, in one line
    r = subprocess.run(
        [sys.executable, "-m", "fastetl", "convert", str(src), str(tmp_path / "ds3"),
         "--schema", str(schema), "--dask", client.scheduler.address,
         "--openlineage", str(tmp_path / "nope" / "ev.jsonl")],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "--openlineage" in r.stderr
    assert not (tmp_path / "ds3").exists()


# -- text columns: each part's text bytes beside it ----------------------------------
TEXT_SCHEMA = {
    "dialect": {"null_values": ["NA"]},
    "columns": [
        {"name": "id", "type": "int64"},
        {"name": "body", "type": "text", "nullable": True},
        {"name": "cat", "type": "category"},
    ],
}


def _text_rows(n: int, seed: int) -> list[list[str]]:
    rnd = random.Random(seed)
    pieces = ["a", "b c", ",", '"', "\n", "\r\n", "é", "日本", "\x00", "🙂", "x" * 300, ""]
    return [[str(i), "NA" if i % 9 == 4 else "".join(rnd.choice(pieces) for _ in
             range(rnd.choice([0, 1, 3, 12]))), f"c{i % 5}"] for i in range(n)]  # fmt: skip


def _part_values(out: Path, name: str) -> list[str]:
    """A text column, part by part, with plain numpy: each part's references count from
    the start of its own text file."""
    meta = json.loads((out / "dataset.json").read_text())
    got = []
    for p in meta["parts"]:
        recs, text = np.load(out / p["file"]), np.load(out / p["text"])
        got += [bytes(text[o : o + k]).decode("utf-8")
                for o, k in zip(recs[name]["offset"].tolist(), recs[name]["length"].tolist())]  # fmt: skip
    return got


def _same_as_local(out: Path, local: Path) -> None:
    """The dataset's records (references counted from the parts' text, one after the
    other) and text are the bytes a local conversion writes."""
    ds = fastetl.open(out)
    assert ds.array.tobytes() == np.load(local).tobytes()
    assert ds.text.tobytes() == np.load(local.with_name(local.stem + ".text.npy")).tobytes()


@pytest.mark.parametrize("on_error", ["raise", "reject"])
def test_text_columns_equal_a_local_run_and_the_csv_module(client, tmp_path, on_error):
    rows = _text_rows(700, 31)
    if on_error == "reject":
        rows[100][0], rows[555][0] = "bad", "bad"
    data = _csv(rows, header=("id", "body", "cat"))
    src = tmp_path / "in.csv"
    src.write_bytes(data)
    rep = fdask.convert(src, tmp_path / "ds", TEXT_SCHEMA, client=client, partition_size=2000,
                        on_error=on_error)
    local = tmp_path / "local.npy"
    fastetl.convert(src, local, TEXT_SCHEMA, on_error=on_error)
    _same_as_local(tmp_path / "ds", local)
    assert rep.parts > 10
    ref = [r for r in list(csv.reader(io.StringIO(data.decode(), newline="")))[1:]
           if r[0] != "bad"]  # fmt: skip
    want = [None if r[1] == "NA" else r[1] for r in ref]
    assert _part_values(tmp_path / "ds", "body") == [w or "" for w in want]
    assert list(fastetl.open(tmp_path / "ds")["body"]) == want
    df = fdask.read_dataset(tmp_path / "ds").compute()
    assert [None if v is None or v != v else v for v in df["body"]] == want
    # a compressed file is one task: its text too
    gz = tmp_path / "in.csv.gz"
    gz.write_bytes(gzip.compress(data))
    fdask.convert([gz, src], tmp_path / "ds2", TEXT_SCHEMA, client=client,
                  partition_size=2000, on_error=on_error)
    assert list(fastetl.open(tmp_path / "ds2")["body"]) == want + want


def test_an_inferred_text_column_and_a_late_long_value_equal_a_local_run(client, tmp_path):
    rnd = random.Random(4)
    rows = [[str(i), " ".join(f"w{rnd.randint(0, 9999)}," for _ in
             range(rnd.choice([1, 2, 3, 60]))), f"n{i}"] for i in range(3000)]  # fmt: skip
    rows[2900][2] = 'long, "quoted"\nvalue ' * 20  # past the sample: str -> text
    src = tmp_path / "t.csv"
    src.write_bytes(_csv(rows, header=("id", "comment", "name")))
    rep = fdask.convert(src, tmp_path / "ds", client=client, partition_size=20000,
                        infer_rows=200)
    local = tmp_path / "local.npy"
    lrep = fastetl.convert(src, local, infer_rows=200)
    meta = json.loads((tmp_path / "ds" / "dataset.json").read_text())
    side = json.loads((tmp_path / "local.npy.json").read_text())
    assert meta["schema"]["columns"] == side["schema"]["columns"]
    assert {c["name"]: c["type"] for c in side["schema"]["columns"]} == {
        "id": "int16", "comment": "text", "name": "text"}  # fmt: skip
    assert [(w["column"], w["to"]) for w in rep.widened] == [
        (w["column"], w["to"]) for w in lrep.widened] == [("name", "text")]  # fmt: skip
    _same_as_local(tmp_path / "ds", local)
    assert list(fastetl.open(tmp_path / "ds")["name"]) == [r[2] for r in rows]
    assert _part_values(tmp_path / "ds", "comment") == [r[1] for r in rows]


def test_an_interrupt_after_the_dataset_commit_says_complete(client, tmp_path):
    """Ctrl-C after the dataset was committed (as its COMPLETE event is written): the
    run raises ``Interrupted`` saying the output holds all of it (it raised a plain
    KeyboardInterrupt), and its events end with COMPLETE, as an uninterrupted run's."""
    from reference import interrupt_at
    from test_lineage import _start_then

    src = tmp_path / "in.csv"
    src.write_bytes(_csv(_rows(900, 41)))
    out, ev_path = tmp_path / "ds", tmp_path / "ev.jsonl"
    with interrupt_at(fdask._convert, "_completed_event(") as raised:
        with pytest.raises(KeyboardInterrupt) as e:
            fdask.convert(src, out, SCHEMA, client=client, partition_size="16KB",
                          openlineage=ev_path)  # fmt: skip
    assert raised and type(e.value) is fastetl.Interrupted and e.value.committed
    assert str(e.value) == "interrupted after the conversion was complete: the output holds all of it"
    records = _dataset_records(out)
    assert records.tobytes() == _local(src, tmp_path).tobytes()
    ev = _start_then(ev_path, "COMPLETE")
    stats = ev["outputs"][0]["outputFacets"]["outputStatistics"]
    assert (stats["rowCount"], stats["size"]) == (900, records.nbytes)
    doc = json.loads((out / "dataset.json").read_text())
    assert ev["eventTime"] == doc["lineage"][0]["ended"]
    assert doc["lineage"][0]["run_id"] == ev["run"]["runId"]


@pytest.mark.parametrize(
    "where, marker",
    [("_start_event", None),  # as the START event was written
     ("_commit", "os.replace(tmp, out)")],  # between the two renames of the commit
)  # fmt: skip
def test_an_interrupt_before_the_dataset_commit_leaves_it_as_it_was(
    client, tmp_path, where, marker
):
    """Ctrl-C before the dataset's commit, as START is written or after the old dataset
    was moved aside: ``Interrupted`` ("not changed", it was a plain KeyboardInterrupt),
    the old dataset in place (it was gone until the next run), START then ABORT."""
    from reference import interrupt_at
    from test_lineage import _start_then

    src = tmp_path / "in.csv"
    src.write_bytes(_csv(_rows(300, 42)))
    out, ev_path = tmp_path / "ds", tmp_path / "ev.jsonl"
    fdask.convert(src, out, SCHEMA, client=client)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    src.write_bytes(_csv(_rows(500, 43)))
    func = getattr(fdask, where)
    with interrupt_at(func, marker) as raised:
        with pytest.raises(KeyboardInterrupt) as e:
            fdask.convert(src, out, SCHEMA, client=client, openlineage=ev_path)
    assert raised and type(e.value) is fastetl.Interrupted and not e.value.committed
    assert str(e.value) == "interrupted; the output was not changed"
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    left = sorted(p.name for p in tmp_path.iterdir() if p.name != ".ds.fastetl-lock")
    assert left == ["ds", "ev.jsonl", "in.csv"]  # (nothing of the interrupted run)
    ev = _start_then(ev_path, "ABORT")
    assert ev["run"]["facets"]["errorMessage"]["message"] == str(e.value)


def test_an_interrupt_as_the_old_dataset_is_moved_aside_puts_it_back(client, tmp_path):
    """Ctrl-C as the commit's first rename (the old dataset moved aside) returns: the old
    dataset is back in place at once, "not changed" is true (it was gone, left as a
    hidden .old folder until the next run, while the message said "not changed")."""
    from reference import interrupt_after_call

    src = tmp_path / "in.csv"
    src.write_bytes(_csv(_rows(300, 44)))
    out = tmp_path / "ds"
    fdask.convert(src, out, SCHEMA, client=client)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    src.write_bytes(_csv(_rows(500, 45)))
    with interrupt_after_call(fdask._commit, os.replace) as raised:
        with pytest.raises(KeyboardInterrupt) as e:
            fdask.convert(src, out, SCHEMA, client=client)
    assert raised and type(e.value) is fastetl.Interrupted and not e.value.committed
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    left = sorted(p.name for p in tmp_path.iterdir() if p.name != ".ds.fastetl-lock")
    assert left == ["ds", "in.csv"]


def test_an_interrupt_after_the_commit_leaves_no_copy_of_the_old_dataset(client, tmp_path):
    """Ctrl-C once the new dataset is in place, before the old one (moved aside) is
    removed: ``Interrupted`` says committed, the output is the new run's, and no hidden
    copy of the old dataset is left (it stayed, as big as the dataset, until the next run)."""
    from reference import interrupt_at

    src = tmp_path / "in.csv"
    src.write_bytes(_csv(_rows(300, 47)))
    out = tmp_path / "ds"
    fdask.convert(src, out, SCHEMA, client=client)
    src.write_bytes(_csv(_rows(500, 48)))
    with interrupt_at(fdask._commit, "outset.fsync_dir(out.parent)") as raised:
        with pytest.raises(fastetl.Interrupted) as e:
            fdask.convert(src, out, SCHEMA, client=client)
    assert raised and e.value.committed
    assert len(fastetl.open(out)) == 500
    left = sorted(p.name for p in tmp_path.iterdir() if p.name != ".ds.fastetl-lock")
    assert left == ["ds", "in.csv"]


def test_a_dataset_is_read_back_by_its_run_id(client, tmp_path):
    """Without the note taken at the commit, an interrupted run asks the output whether
    it holds the run: a dataset folder answers from its dataset.json (it answered
    nothing, so a committed dataset would have been said "not changed")."""
    from fastetl import api

    src = tmp_path / "in.csv"
    src.write_bytes(_csv(_rows(200, 46)))
    out = tmp_path / "ds"
    fdask.convert(src, out, SCHEMA, client=client)
    doc = json.loads((out / "dataset.json").read_text())
    assert [e["run_id"] for e in api._runs(out)] == [e["run_id"] for e in doc["lineage"]]
    assert doc["lineage"]


def test_the_cli_interrupted_as_the_cluster_closes_says_committed(client, tmp_path, capsys):
    """`fastetl convert --dask`: Ctrl-C after the dataset's commit, as the client closes
    (which can take seconds), says the output holds the run (it said "not changed")."""
    from reference import interrupt_at

    from fastetl import cli

    src = tmp_path / "in.csv"
    src.write_bytes(_csv(_rows(200, 47)))
    schema = tmp_path / "s.json"
    schema.write_text(json.dumps(SCHEMA))
    out = tmp_path / "ds"
    argv = ["convert", str(src), str(out), "--schema", str(schema),
            "--dask", client.scheduler.address]  # fmt: skip
    with interrupt_at(cli._convert_dask, "if not args.quiet:") as raised:
        code = cli.main(argv)
    err = capsys.readouterr().err
    assert raised and code == cli.EXIT_INTERRUPTED
    assert err.strip().splitlines() == [
        "fastetl: interrupted after the conversion was complete: the output holds all of it"
    ]
    assert _dataset_records(out).tobytes() == _local(src, tmp_path).tobytes()
