"""Lineage: the input's content hash, the sidecar's lineage chain, `fastetl lineage`,
and the OpenLineage RunEvent of a conversion.

References: XXH64 is checked against a pure-Python implementation written here from
the xxHash specification (doc/xxhash_spec.md of the xxHash repository), which itself
reproduces the digests the spec's authors publish; the combination (BLAKE2b-128 of
the chunk digests and the length) is recomputed here with hashlib; times with
datetime; UUIDs with uuid; the records with numpy.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
import json
import os
import random
import socket
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fastetl
from fastetl import _core, lineage

M64 = (1 << 64) - 1
P1, P2, P3, P4, P5 = (
    0x9E3779B185EBCA87,
    0xC2B2AE3D27D4EB4F,
    0x165667B19E3779F9,
    0x85EBCA77C2B2AE63,
    0x27D4EB2F165667C5,
)
CHUNK = 1 << 20
SCHEMA = {
    "columns": [
        {"name": "id", "type": "int64"},
        {"name": "name", "type": "str", "width": 16},
        {"name": "price", "type": "float64"},
        {"name": "kind", "type": "category"},
    ]
}


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (64 - r))) & M64


def _round(acc: int, lane: int) -> int:
    return (_rotl((acc + lane * P2) & M64, 31) * P1) & M64


def xxh64_reference(data: bytes, seed: int = 0) -> int:
    """XXH64 as the xxHash spec defines it (slow; small inputs only)."""
    n, p = len(data), 0
    if n >= 32:
        v = [(seed + P1 + P2) & M64, (seed + P2) & M64, seed, (seed - P1) & M64]
        while p + 32 <= n:
            for i in range(4):
                v[i] = _round(v[i], int.from_bytes(data[p + 8 * i : p + 8 * i + 8], "little"))
            p += 32
        h = (_rotl(v[0], 1) + _rotl(v[1], 7) + _rotl(v[2], 12) + _rotl(v[3], 18)) & M64
        for x in v:
            h = ((h ^ _round(0, x)) * P1 + P4) & M64
    else:
        h = (seed + P5) & M64
    h = (h + n) & M64
    while p + 8 <= n:
        h ^= _round(0, int.from_bytes(data[p : p + 8], "little"))
        h = (_rotl(h, 27) * P1 + P4) & M64
        p += 8
    if p + 4 <= n:
        h ^= (int.from_bytes(data[p : p + 4], "little") * P1) & M64
        h = (_rotl(h, 23) * P2 + P3) & M64
        p += 4
    while p < n:
        h ^= (data[p] * P5) & M64
        h = (_rotl(h, 11) * P1) & M64
        p += 1
    h ^= h >> 33
    h = (h * P2) & M64
    h ^= h >> 29
    h = (h * P3) & M64
    h ^= h >> 32
    return h


def content_hash_reference(data: bytes) -> str:
    """The documented content hash (lineage module docstring, README "Lineage"),
    recomputed: the chunk digests from the core (checked against the reference above),
    the combination with hashlib."""
    h = hashlib.blake2b(digest_size=16)
    for i in range(0, len(data), CHUNK):
        d = _core.xxh64_chunks(data[i : i + CHUNK], CHUNK)
        assert len(d) == 8
        h.update(d)
    h.update(len(data).to_bytes(8, "little"))
    return h.hexdigest()


def _csv(rows: int, seed: int = 0) -> bytes:
    rnd = random.Random(seed)
    lines = ["id,name,price,kind"]
    for i in range(rows):
        name = f'"n,{i % 97}"' if i % 11 == 0 else f"name{rnd.randrange(10**6)}"
        lines.append(f"{i},{name},{rnd.random() * 1000:.3f},k{i % 7}")
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> Path:
    """A CSV of about 2.6 MiB: three chunks, the last partial."""
    p = tmp_path_factory.mktemp("lineage") / "orders.csv"
    p.write_bytes(_csv(100_000))
    assert 2 * CHUNK < p.stat().st_size < 3 * CHUNK
    return p


def _meta(out: Path) -> dict:
    return json.loads(Path(str(out) + ".json").read_text())


# -- the hash itself -------------------------------------------------------------


def test_xxh64_matches_the_spec_reference():
    # the spec's published digest of "abc" (seed 0) pins the reference itself
    assert xxh64_reference(b"abc") == 0x44BC2CF5AD770999
    rnd = random.Random(19)
    for n in [*range(0, 70), 100, 127, 128, 129, 1000, 4099]:
        data = rnd.randbytes(n)
        for seed in (0, 1, M64):
            want = xxh64_reference(data, seed).to_bytes(8, "little") if n else b""
            assert _core.xxh64_chunks(data, max(1, n), seed) == want, (n, seed)


def test_chunks_are_hashed_each_on_their_own():
    data = random.Random(3).randbytes(1000)
    got = _core.xxh64_chunks(data, 300)
    want = b"".join(
        xxh64_reference(data[i : i + 300]).to_bytes(8, "little") for i in range(0, 1000, 300)
    )
    assert got == want
    with pytest.raises(ValueError):
        _core.xxh64_chunks(data, 0)


@given(st.binary(max_size=3 * CHUNK // 64), st.lists(st.integers(0, 4000), max_size=20))
def test_the_value_does_not_depend_on_how_the_bytes_come(data, cuts):
    data = data * 64  # up to 3 MiB: several chunks
    h = lineage.ContentHash()
    at = 0
    for c in sorted(cuts):
        c = c * len(data) // 4000
        h.feed(data[at:c] if c > at else b"")
        at = max(at, c)
    h.feed(data[at:])
    assert h.digest() == {
        "algorithm": lineage.ALGORITHM,
        "value": content_hash_reference(data),
        "bytes": len(data),
    }


def test_any_one_byte_changed_changes_the_value():
    rnd = random.Random(2024)
    data = bytearray(rnd.randbytes(2 * CHUNK + 12345))
    base = content_hash_reference(bytes(data))
    h = lineage.ContentHash()
    h.feed(data)
    assert h.digest()["value"] == base
    seen = {base}
    for _ in range(300):
        i = rnd.randrange(len(data))
        old = data[i]
        data[i] = (old + rnd.randrange(1, 256)) % 256
        h = lineage.ContentHash()
        h.feed(data)
        v = h.digest()["value"]
        assert v not in seen, f"flipping byte {i} gave a value seen before"
        seen.add(v)
        data[i] = old
    # the length is in the value: a trailing zero byte is not the same input
    h = lineage.ContentHash()
    h.feed(bytes(data) + b"\0")
    assert h.digest()["value"] != base


def test_feed_at_leaves_out_bytes_read_again_and_reads_a_gap():
    data = random.Random(5).randbytes(3 * CHUNK)
    h = lineage.ContentHash()
    h.feed_at(0, data[:1000])
    h.feed_at(500, data[500:1500])  # read again from 500
    h.feed_at(4000, data[4000:5000], lambda a, b: [data[a:b]])  # 1500..4000 read for it
    h.feed_at(5000, data[5000:])
    assert h.digest()["value"] == content_hash_reference(data)
    with pytest.raises(ValueError):
        lineage.ContentHash().feed_at(10, b"x")


# -- the hash of a conversion ----------------------------------------------------


@pytest.mark.parametrize("workers", [1, 2, 3])
@pytest.mark.parametrize("block_size", [4096, 100_000, None])
def test_a_conversion_records_the_hash_of_the_file(tmp_path, big, workers, block_size):
    out = tmp_path / "o.npy"
    fastetl.convert(big, out, SCHEMA, workers=workers, block_size=block_size)
    meta = _meta(out)
    want = {
        "algorithm": lineage.ALGORITHM,
        "value": content_hash_reference(big.read_bytes()),
        "bytes": big.stat().st_size,
    }
    assert meta["content_hash"] == want
    assert meta["lineage"][0]["content_hash"] == want
    assert lineage.file_hash(big) == want


def test_every_kind_of_input_hashes_its_bytes_as_read(tmp_path, big):
    raw = big.read_bytes()
    gz = tmp_path / "orders.csv.gz"
    gz.write_bytes(gzip.compress(raw, compresslevel=1))
    latin = tmp_path / "latin.csv"
    latin.write_bytes(raw.replace(b"name1", "nãme".encode("latin-1")))
    packed = gzip.compress(raw)
    cases = [
        (gz, gz.read_bytes(), {}),  # compressed: the file's bytes
        (raw, raw, {}),  # bytes in memory
        (io.BytesIO(raw), raw, {}),  # a seekable file object
        (packed, packed, {}),  # compressed bytes
        (latin, latin.read_bytes(), {"encoding": "latin-1"}),  # transcoded: the file's
    ]
    for k, (src, want, dialect) in enumerate(cases):
        schema = {**SCHEMA, "dialect": dialect} if dialect else SCHEMA
        out = tmp_path / f"o{k}.npy"
        fastetl.convert(src, out, schema)
        ch = _meta(out)["content_hash"]
        assert ch["value"] == content_hash_reference(want), k
        assert ch["bytes"] == len(want), k


@pytest.mark.parametrize("compressed", [False, True])
@pytest.mark.parametrize("with_schema", [False, True])
def test_stdin_is_hashed_as_read(tmp_path, big, compressed, with_schema):
    data = big.read_bytes()
    if compressed:
        data = gzip.compress(data, compresslevel=1)
    out = tmp_path / "o.npy"
    args = [sys.executable, "-m", "fastetl", "convert", "-", str(out), "-q"]
    if with_schema:
        (tmp_path / "s.json").write_text(json.dumps(SCHEMA))
        args += ["--schema", str(tmp_path / "s.json")]
    proc = subprocess.run(args, input=data, capture_output=True, timeout=300)
    assert proc.returncode == 0, proc.stderr.decode()
    ch = _meta(out)["content_hash"]
    assert ch == {
        "algorithm": lineage.ALGORITHM,
        "value": content_hash_reference(data),
        "bytes": len(data),
    }


def test_no_hash_and_no_host(tmp_path, big):
    out = tmp_path / "o.npy"
    fastetl.convert(big, out, SCHEMA, hash=False, host=False)
    meta = _meta(out)
    assert "content_hash" not in meta
    assert meta["lineage"][0]["content_hash"] is None
    assert "host" not in meta["lineage"][0]
    proc = subprocess.run(
        [sys.executable, "-m", "fastetl", "convert", str(big), str(out), "-q", "--no-hash",
         "--no-host"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    meta = _meta(out)
    assert "content_hash" not in meta and "host" not in meta["lineage"][0]
    fastetl.convert(big, out, SCHEMA)
    import socket

    assert _meta(out)["lineage"][0]["host"] == socket.gethostname()


# -- the lineage entry and the chain ---------------------------------------------


def _utc(text: str) -> dt.datetime:
    t = dt.datetime.fromisoformat(text)
    assert t.utcoffset() == dt.timedelta(0), text
    return t


def test_an_entry_has_the_facts_of_its_run(tmp_path, big):
    out = tmp_path / "o.npy"
    before = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    r = fastetl.convert(big, out, SCHEMA, on_error="skip", workers=2)
    after = dt.datetime.now(dt.timezone.utc)
    (e,) = _meta(out)["lineage"]
    assert before <= _utc(e["started"]) <= _utc(e["ended"]) <= after
    assert uuid.UUID(e["run_id"]).version == 7
    assert e["fastetl_version"] == fastetl.__version__
    canonical = json.dumps(
        {k: v for k, v in _meta(out)["schema"].items() if k != "inferred"},
        sort_keys=True, separators=(",", ":"), ensure_ascii=False,
    )  # fmt: skip
    assert e["schema_hash"] == "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
    assert e["options"]["on_error"] == "skip" and e["options"]["workers"] == 2
    assert e["options"]["schema"] == "given"
    n = len(np.load(out))
    assert (e["rows_read"], e["rows_written"], e["rows_skipped"]) == (r.rows_read, n, 0)
    assert e["source"]["path"] == str(big.resolve())
    assert e["output"] == str(out.resolve())


def test_appends_keep_one_entry_per_input_in_order(tmp_path):
    out = tmp_path / "o.npy"
    files = []
    for k in range(3):
        p = tmp_path / f"part{k}.csv"
        p.write_bytes(_csv(50 + k, seed=k))
        files.append(p)
        fastetl.convert(p, out, SCHEMA, append=k > 0)
    meta = _meta(out)
    chain = meta["lineage"]
    assert [e["source"]["path"] for e in chain] == [str(p.resolve()) for p in files]
    assert [e["content_hash"]["value"] for e in chain] == [
        content_hash_reference(p.read_bytes()) for p in files
    ]
    assert [e["rows_written"] for e in chain] == [50, 51, 52]
    assert len({e["run_id"] for e in chain}) == 3
    assert meta["content_hash"]["value"] == content_hash_reference(files[0].read_bytes())
    assert [a["content_hash"] for a in meta["appended"]] == [e["content_hash"] for e in chain[1:]]

    proc = subprocess.run(
        [sys.executable, "-m", "fastetl", "lineage", str(out)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    blocks = [b for b in proc.stdout.split("\n\n") if b.strip()]
    assert len(blocks) == 3
    for k, (b, p) in enumerate(zip(blocks, files, strict=True)):
        assert b.startswith(f"[{k + 1}] {p.resolve()}")
        assert content_hash_reference(p.read_bytes()) in b
        assert f"{50 + k:,} written" in b
    proc = subprocess.run(
        [sys.executable, "-m", "fastetl", "lineage", str(out), "--json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == chain


def test_lineage_of_a_missing_output_is_one_line(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "fastetl", "lineage", str(tmp_path / "nope.npy")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 1
    assert proc.stderr.startswith("fastetl: ") and proc.stderr.count("\n") == 1


@pytest.mark.parametrize(
    "key, value",
    [("content_hash", {"algorithm": "x", "value": "y", "bytes": "12"}), ("lineage", {"a": 1})],
)
def test_a_broken_lineage_key_is_refused_in_one_line(tmp_path, big, key, value):
    out = tmp_path / "o.npy"
    fastetl.convert(big, out, SCHEMA)
    side = Path(str(out) + ".json")
    meta = json.loads(side.read_text())
    meta[key] = value
    side.write_text(json.dumps(meta))
    with pytest.raises(fastetl.OutputError) as e:
        fastetl.open(out)
    assert key in str(e.value) and "\n" not in str(e.value)


# -- OpenLineage -----------------------------------------------------------------
# Required fields, from the OpenLineage spec 2-0-2 (spec/OpenLineage.json in the
# OpenLineage repository, https://openlineage.io/spec/2-0-2/OpenLineage.json):
# BaseEvent requires eventTime (date-time), producer (uri), schemaURL (uri);
# RunEvent adds run (Run: runId, format uuid) and job (Job: namespace, name), with
# eventType one of START RUNNING COMPLETE ABORT FAIL OTHER; each Dataset of inputs
# and outputs requires namespace and name; every facet (BaseFacet) requires
# _producer and _schemaURL; SchemaDatasetFacet has fields [{name, type}];
# OutputStatisticsOutputDatasetFacet has rowCount and size.


def _check_facet(facet: dict) -> None:
    assert isinstance(facet["_producer"], str) and facet["_producer"].startswith("https://")
    assert isinstance(facet["_schemaURL"], str) and facet["_schemaURL"].startswith("https://")
    assert "#/$defs/" in facet["_schemaURL"]


def _check_event(ev: dict, event_type: str) -> None:
    for key in ("eventTime", "producer", "schemaURL", "run", "job", "eventType"):
        assert key in ev, key
    assert ev["eventType"] == event_type
    _utc(ev["eventTime"])
    assert ev["producer"].startswith("https://")
    assert ev["schemaURL"].startswith("https://openlineage.io/spec/")
    assert ev["schemaURL"].endswith("#/$defs/RunEvent")
    uuid.UUID(ev["run"]["runId"])
    assert ev["job"]["namespace"] and ev["job"]["name"]
    for ds in ev["inputs"] + ev["outputs"]:
        assert isinstance(ds["namespace"], str) and ds["namespace"]
        assert isinstance(ds["name"], str) and ds["name"]
        for facet in {**ds.get("facets", {}), **ds.get("outputFacets", {})}.values():
            _check_facet(facet)
    for facet in ev["run"].get("facets", {}).values():
        _check_facet(facet)


def _events(path) -> list[dict]:
    """The events file: JSON Lines, as the OpenLineage client's file transport (append)
    writes it -- one event per line."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def _start_then(path, terminal: str) -> dict:
    """The file holds START then ``terminal`` of one run (same runId, job, inputs)."""
    start, end = _events(path)
    _check_event(start, "START")
    _check_event(end, terminal)
    assert start["run"]["runId"] == end["run"]["runId"]
    assert start["job"] == end["job"] and start["inputs"] == end["inputs"]
    assert _utc(start["eventTime"]) <= _utc(end["eventTime"])
    return end


def test_an_openlineage_event_of_a_conversion(tmp_path, big):
    out, ev_path = tmp_path / "o.npy", tmp_path / "event.json"
    (tmp_path / "s.json").write_text(json.dumps(SCHEMA))
    proc = subprocess.run(
        [sys.executable, "-m", "fastetl", "convert", str(big), str(out), "-q",
         "--openlineage", str(ev_path), "--schema", str(tmp_path / "s.json")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    ev = _start_then(ev_path, "COMPLETE")
    assert ev["job"]["name"] == str(out.resolve())  # the output's full path: one job per output
    assert ev["job"]["namespace"] == os.environ.get("OPENLINEAGE_NAMESPACE", socket.gethostname())
    records = np.load(out)
    entry = _meta(out)["lineage"][0]
    assert ev["run"]["runId"] == entry["run_id"]
    assert ev["eventTime"] == entry["ended"]
    assert ev["inputs"] == [{"namespace": "file", "name": str(big.resolve())}]
    (o,) = ev["outputs"]
    assert (o["namespace"], o["name"]) == ("file", str(out.resolve()))
    stored = [n for n in records.dtype.names if not n.startswith("_nulls")]
    assert [f["name"] for f in o["facets"]["schema"]["fields"]] == stored
    stats = o["outputFacets"]["outputStatistics"]
    assert stats["rowCount"] == len(records)
    assert stats["size"] == records.nbytes


def test_a_failed_conversion_writes_a_fail_event(tmp_path):
    src = tmp_path / "bad.csv"
    src.write_text("id,name,price,kind\n1,a,2.5,k\n2,b,oops,k\n")
    ev_path = tmp_path / "event.json"
    with pytest.raises(fastetl.ParseError):
        fastetl.convert(src, tmp_path / "o.npy", SCHEMA, openlineage=ev_path)
    ev = _start_then(ev_path, "FAIL")
    assert ev["inputs"] == [{"namespace": "file", "name": str(src.resolve())}]
    msg = ev["run"]["facets"]["errorMessage"]["message"]
    assert "oops" in msg and "line 3" in msg
    assert not (tmp_path / "o.npy").exists()


def test_openlineage_events_of_a_one_pass_parquet_conversion(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    from fastetl.export.onepass import stored_meta

    src = tmp_path / "in.csv"
    src.write_text("id,name,price,kind\n1,a,2.5,k\n2,b,3,k\n")
    out, ev_path = tmp_path / "o.parquet", tmp_path / "event.json"
    fastetl.convert(src, out, SCHEMA, openlineage=ev_path)
    ev = _start_then(ev_path, "COMPLETE")
    (entry,) = stored_meta(out)["lineage"]
    assert ev["run"]["runId"] == entry["run_id"] and ev["eventTime"] == entry["ended"]
    assert ev["inputs"] == [{"namespace": "file", "name": str(src.resolve())}]
    (o,) = ev["outputs"]
    assert (o["namespace"], o["name"]) == ("file", str(out.resolve()))
    stats = o["outputFacets"]["outputStatistics"]
    assert stats["rowCount"] == pq.read_metadata(out).num_rows == 2
    assert stats["size"] == out.stat().st_size
    src.write_text("id,name,price,kind\n1,a,2.5,k\n2,b,oops,k\n")
    with pytest.raises(fastetl.ParseError):
        fastetl.convert(src, tmp_path / "p.parquet", SCHEMA, openlineage=ev_path)
    ev = _start_then(ev_path, "FAIL")
    assert "line 3" in ev["run"]["facets"]["errorMessage"]["message"]


def test_the_cli_writes_a_fail_event_when_the_input_is_missing(tmp_path):
    ev_path = tmp_path / "event.json"
    proc = subprocess.run(
        [sys.executable, "-m", "fastetl", "convert", str(tmp_path / "nope.csv"),
         str(tmp_path / "o.npy"), "--openlineage", str(ev_path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 1 and "no such file" in proc.stderr
    ev = _start_then(ev_path, "FAIL")
    assert ev["inputs"] == [{"namespace": "file", "name": str(tmp_path / "nope.csv")}]
    assert "no such file" in ev["run"]["facets"]["errorMessage"]["message"]


def test_same_named_outputs_are_two_jobs_and_stdin_runs_two_datasets(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("id,name,price,kind\n1,a,2.5,k\n")
    jobs, inputs = [], []
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        ev_path = tmp_path / folder / "ev.jsonl"
        proc = subprocess.run(
            [sys.executable, "-m", "fastetl", "convert", "-", str(tmp_path / folder / "o.npy"),
             "-q", "--no-host", "--openlineage", str(ev_path)],
            input=src.read_text(), capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        ev = _start_then(ev_path, "COMPLETE")
        assert ev["job"]["namespace"] == os.environ.get("OPENLINEAGE_NAMESPACE", "fastetl")
        jobs.append(ev["job"]["name"])
        inputs.append(ev["inputs"][0]["name"])
    assert jobs == [str((tmp_path / f / "o.npy").resolve()) for f in ("a", "b")]
    assert inputs[0] != inputs[1] and all(n.startswith("stdin:") for n in inputs)


@pytest.mark.parametrize("where", ["missing-folder", "a-directory"])
def test_a_bad_openlineage_path_fails_before_converting(tmp_path, where):
    src = tmp_path / "in.csv"
    src.write_text("id,name,price,kind\n1,a,2.5,k\n")
    dest = tmp_path / "nope" / "ev.jsonl" if where == "missing-folder" else tmp_path
    before = sorted(p.name for p in tmp_path.iterdir())
    proc = subprocess.run(
        [sys.executable, "-m", "fastetl", "convert", str(src), str(tmp_path / "o.npy"),
         "--openlineage", str(dest)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1, proc.stderr
    assert "--openlineage" in proc.stderr and "Traceback" not in proc.stderr
    # nothing converted, nothing written beside it (no .tmp, no output, no lock)
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert not tmp_path.with_name(tmp_path.name + ".tmp").exists()
    with pytest.raises(fastetl.OutputError, match="--openlineage"):
        fastetl.convert(src, tmp_path / "o.npy", openlineage=dest)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_a_file_read_with_a_jump_and_a_step_back_is_hashed_whole(big):
    """What a resumed run does (it seeks past the rows a checkpoint holds) and a run
    that reads again from a row start: every byte is hashed once, in order."""
    from fastetl.sources import open_source

    raw = big.read_bytes()
    with open_source(big, hasher=lineage.ContentHash()) as source:
        buf = bytearray(300_000)
        assert source.readinto(buf) == len(buf)
        assert source.seek(1_500_000)  # a jump: the bytes between are read for the hash
        source.readinto(buf)
        assert source.seek(1_000_000)  # a step back: bytes hashed already are left out
        while source.readinto(buf):
            pass
        assert source.content_hash()["value"] == content_hash_reference(raw)


# -- every input is read once: the hash is made below decompressors and transcoders ----


def _zip_one(data: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("orders.csv", data)
    return buf.getvalue()


def _packers() -> dict:
    import bz2
    import lzma

    import zstandard  # (in the test extra)

    return {
        "gzip": lambda d: gzip.compress(d, compresslevel=1),
        "bzip2": bz2.compress,
        "xz": lambda d: lzma.compress(d, preset=0),
        "zstd": lambda d: zstandard.ZstdCompressor().compress(d),
        "zip": _zip_one,
        "latin-1": lambda d: d.replace(b"name1", "nãme".encode("latin-1")),
        "plain": lambda d: d,
    }


PACKED = ["gzip", "bzip2", "xz", "zstd", "zip", "latin-1", "plain"]


class CountingReader(io.BytesIO):
    """A real seekable file object that counts the bytes it hands out."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.handed = 0

    def read(self, n=-1):
        out = super().read(n)
        self.handed += len(out)
        return out

    def read1(self, n=-1):
        out = super().read1(n)
        self.handed += len(out)
        return out

    def readinto(self, b):
        got = super().readinto(b)
        self.handed += got
        return got


def _dialect_for(kind: str) -> dict:
    return {**SCHEMA, "dialect": {"encoding": "latin-1"}} if kind == "latin-1" else SCHEMA


@pytest.mark.parametrize("kind", PACKED)
def test_a_seekable_file_object_is_read_once_and_hashed(tmp_path, big, kind):
    data = _packers()[kind](big.read_bytes())
    src = CountingReader(data)
    out = tmp_path / "o.npy"
    fastetl.convert(src, out, _dialect_for(kind))
    ch = _meta(out)["content_hash"]
    assert ch == {
        "algorithm": lineage.ALGORITHM,
        "value": content_hash_reference(data),
        "bytes": len(data),
    }
    # once: the 8 bytes that tell compressed data from text are looked at first; a zip
    # archive is read as zipfile alone reads it (its directory, at the end, first, then
    # again the bytes just before it, to look for a zip64 record): the directory is not
    # read again for the hash, which takes it in order after the member's bytes
    alone = len(data)
    if kind == "zip":
        ref = CountingReader(data)
        with zipfile.ZipFile(ref) as z, z.open(z.infolist()[0]) as member:
            while member.read(1 << 16):
                pass
        alone = ref.handed
    assert len(data) <= src.handed <= alone + 8, (src.handed, alone, len(data))


@pytest.mark.parametrize("kind", PACKED)
def test_bytes_in_memory_are_hashed_as_read(tmp_path, big, kind):
    data = _packers()[kind](big.read_bytes())
    out = tmp_path / "o.npy"
    fastetl.convert(data, out, _dialect_for(kind))
    assert _meta(out)["content_hash"]["value"] == content_hash_reference(data)


def _rchar() -> int:
    with open("/proc/self/io") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("rchar:"))


@pytest.mark.skipif(not os.path.exists("/proc/self/io"), reason="counts reads in /proc/self/io")
@pytest.mark.parametrize("kind", PACKED)
def test_a_compressed_or_transcoded_file_is_read_once(tmp_path, big, kind):
    """The bytes this process read (the kernel's count) while converting a file: the
    file once (no second pass to hash it), and little else."""
    raw = bytes(random.Random(5).randrange(256) for _ in range(1 << 16))
    text = big.read_bytes()  # with a column of random bytes: about as big compressed
    rows = text.splitlines()
    junk = [raw[i % 4096 : i % 4096 + 24].hex() for i in range(len(rows))]
    text = b"\n".join(r + (b",j" if i == 0 else b"," + j.encode()) for i, (r, j) in
                      enumerate(zip(rows, junk, strict=True))) + b"\n"  # fmt: skip
    data = _packers()[kind](text)
    src = tmp_path / "in.csv"
    src.write_bytes(data)
    schema = _dialect_for(kind)
    schema = {**schema, "columns": [*schema["columns"], {"name": "j", "type": "skip"}]}
    fastetl.convert(src, tmp_path / "warm.npy", schema)  # (imports, first-use reads)
    before = _rchar()
    fastetl.convert(src, tmp_path / "o.npy", schema)
    read = _rchar() - before
    assert _meta(tmp_path / "o.npy")["content_hash"]["value"] == content_hash_reference(data)
    assert len(data) <= read < len(data) * 1.25 + (64 << 10), (read, len(data))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
@pytest.mark.parametrize("kind", ["gzip", "zip", "latin-1"])
@pytest.mark.parametrize("with_schema", [True, False])
def test_a_fifo_that_can_be_read_once_gets_its_hash(tmp_path, big, kind, with_schema):
    import threading

    data = _packers()[kind](big.read_bytes())
    fifo = tmp_path / "in.fifo"
    os.mkfifo(fifo)

    def writer() -> None:
        with open(fifo, "wb") as fh:  # blocks until the conversion opens it
            fh.write(data)

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    out = tmp_path / "o.npy"
    args = [sys.executable, "-m", "fastetl", "convert", str(fifo), str(out), "-q"]
    if with_schema:
        (tmp_path / "s.json").write_text(json.dumps(_dialect_for(kind)))
        args += ["--schema", str(tmp_path / "s.json")]
    elif kind == "latin-1":
        args += ["--encoding", "latin-1"]
    proc = subprocess.run(args, capture_output=True, timeout=300)
    t.join(10)
    assert proc.returncode == 0, proc.stderr.decode()
    assert _meta(out)["content_hash"] == {
        "algorithm": lineage.ALGORITHM,
        "value": content_hash_reference(data),
        "bytes": len(data),
    }


@pytest.mark.parametrize(
    "suffix, where, marker, nth",
    [(".npy", "api:_convert_locked", "committed = True", 2),  # just after the renames
     (".npy", "api:_convert_locked", "_completed_event(", 1),  # as the event is written
     (".parquet", "export._files:atomic_output.__wrapped__", "outset.fsync_dir(folder)", 1),
     (".parquet", "api:_convert_streamed", "_completed_event(", 1),
     (".npy", "api:_resolve", None, 1),  # before the commit: inferring
     (".parquet", "api:_resolve", None, 1)],  # fmt: skip
)
def test_an_interrupted_run_ends_its_events_by_whether_its_commit_landed(
    tmp_path, suffix, where, marker, nth
):
    """Ctrl-C after the commit point: the output holds the run, and its events end with
    COMPLETE (the run's rows and size, as an uninterrupted run says them), not ABORT;
    Ctrl-C before it: ABORT, saying the output was not changed."""
    import importlib
    import operator

    from reference import interrupt_at

    if suffix == ".parquet":
        pytest.importorskip("pyarrow")
    module, name = where.split(":")
    func = operator.attrgetter(name)(importlib.import_module(f"fastetl.{module}"))
    src = tmp_path / "in.csv"
    src.write_text("id,name,price,kind\n1,a,2.5,k\n2,b,3,j\n3,c,4.25,k\n")
    out, ev_path = tmp_path / f"o{suffix}", tmp_path / "events.jsonl"
    after = marker is not None
    with interrupt_at(func, marker, nth) as raised:
        with pytest.raises(fastetl.Interrupted) as e:
            fastetl.convert(src, out, SCHEMA if after else None, openlineage=ev_path)
    assert raised and e.value.committed is after
    if not after:
        ev = _start_then(ev_path, "ABORT")
        assert ev["run"]["facets"]["errorMessage"]["message"] == str(e.value)
        assert str(e.value) == "interrupted; the output was not changed" and not out.exists()
        return
    ev = _start_then(ev_path, "COMPLETE")
    if suffix == ".npy":
        entry, size, rows = _meta(out)["lineage"][-1], np.load(out).nbytes, len(np.load(out))
    else:
        import pyarrow.parquet as pq

        from fastetl.export.onepass import stored_meta

        entry, size = stored_meta(out)["lineage"][-1], out.stat().st_size
        rows = pq.read_metadata(out).num_rows
    assert ev["run"]["runId"] == entry["run_id"] and ev["eventTime"] == entry["ended"]
    (o,) = ev["outputs"]
    assert (o["namespace"], o["name"]) == ("file", str(out.resolve()))
    assert [f["name"] for f in o["facets"]["schema"]["fields"]] == [
        c["name"] for c in SCHEMA["columns"]
    ]
    stats = o["outputFacets"]["outputStatistics"]
    assert (stats["rowCount"], stats["size"]) == (rows, size) and rows == 3


@pytest.mark.parametrize(
    "suffix, where, marker, nth, noted",  # noted=False: as if interrupted before the note
    [(".npy", "api:_convert_locked", "committed = True", 2, True),  # just after the renames
     (".npy", "api:_convert_locked", "committed = True", 2, False),
     (".npy", "api:_convert_locked", None, 1, True),  # as it returns, the lock still held
     (".npy", "api:_convert_locked", None, 1, False),
     # (a one-pass file the other writer replaced keeps no trace of the run: the note decides)
     (".parquet", "export._files:atomic_output.__wrapped__", "outset.fsync_dir(folder)", 1,
      True)],
)  # fmt: skip
def test_a_run_interrupted_after_its_commit_completes_though_another_commits_after_it(
    tmp_path, monkeypatch, suffix, where, marker, nth, noted
):
    """Ctrl-C after the commit, and another writer (waiting for the lock) commits as the
    lock is let go, before the interrupt is handled: the run's events still end with
    COMPLETE, saying the run's own rows (it ended START, ABORT "not changed", the
    output's last lineage entry being the other run's).  ``noted=False``: the run did
    not note its commit (an interrupt just before the note), the files decide: its
    entry anywhere in the output's lineage chain (an .npy's; a one-pass file replaced
    by the other writer holds no trace of it, so only the note can tell there)."""
    import importlib
    import operator

    from reference import interrupt_at

    from fastetl import api, outset

    if suffix == ".parquet":
        pytest.importorskip("pyarrow")
    module, name = where.split(":")
    func = operator.attrgetter(name)(importlib.import_module(f"fastetl.{module}"))
    src, other = tmp_path / "in.csv", tmp_path / "other.csv"
    src.write_text("id,name,price,kind\n1,a,2.5,k\n2,b,3,j\n3,c,4.25,k\n")
    other.write_text("id,name,price,kind\n7,g,1.5,k\n")
    out, ev_path = tmp_path / f"o{suffix}", tmp_path / "events.jsonl"
    npy = suffix == ".npy"
    if npy:
        fastetl.convert(other, out, SCHEMA)  # an earlier output: this run appends to it
    release = outset.OutputLock.release
    seconds: list[bool] = []

    def release_then_another_writer(self, *args):
        release(self, *args)
        if not seconds and raised:  # (once, after the interrupted run's commit)
            seconds.append(True)
            fastetl.convert(other, out, SCHEMA, append=npy)

    monkeypatch.setattr(outset.OutputLock, "release", release_then_another_writer)
    if not noted:
        monkeypatch.setattr(api._RunFacts, "land", lambda self, *a: None)
        monkeypatch.setattr(api, "_committed_by", _committed_by_checked(api))
    with interrupt_at(func, marker, nth) as raised:
        with pytest.raises(fastetl.Interrupted) as e:
            fastetl.convert(src, out, SCHEMA, append=npy, openlineage=ev_path)
    assert raised and seconds and e.value.committed
    assert str(e.value) == "interrupted after the conversion was complete: the output holds all of it"
    ev = _start_then(ev_path, "COMPLETE")
    run_id = ev["run"]["runId"]
    stats = ev["outputs"][0]["outputFacets"]["outputStatistics"]
    assert stats["rowCount"] == 3
    if npy:  # the chain: the earlier output, this run, the other writer's
        chain = _meta(out)["lineage"]
        assert [e["run_id"] for e in chain][1] == run_id and len(chain) == 3
        assert ev["eventTime"] == chain[1]["ended"]
        assert stats["size"] == 3 * np.load(out).dtype.itemsize
        assert np.load(out)["id"].tolist() == [7, 1, 2, 3, 7]
    else:
        from fastetl.export.onepass import stored_meta

        assert [e["run_id"] for e in stored_meta(out)["lineage"]] != [run_id]


def _committed_by_checked(api):
    """``api._committed_by`` asserting that the files (the note being off) say the run
    committed: its entry is found in the output's lineage chain."""
    real = api._committed_by

    def committed_by(dst, run_id):
        found = real(dst, run_id)
        assert found, "the run's entry is in the output's lineage chain"
        return found

    return committed_by


def _converted_once(tmp_path, suffix: str, text: str = "id,name,price,kind\n1,a,2.5,k\n"):
    """``text`` (a CSV of SCHEMA) converted into ``o{suffix}`` in ``tmp_path``, for a test
    that interrupts the next conversion into it: (the CSV, the output, the path for the
    next run's events, the output's bytes)."""
    src = tmp_path / "in.csv"
    src.write_text(text)
    out, ev_path = tmp_path / f"o{suffix}", tmp_path / "events.jsonl"
    fastetl.convert(src, out, SCHEMA)
    return src, out, ev_path, out.read_bytes()


def _said_not_changed(raised: bool, e, out, before: bytes, ev_path) -> None:
    """The interrupt was raised and said "not changed" (``Interrupted``, not committed),
    the output holds its bytes from before, and its events end with ABORT (the message's)."""
    assert raised and type(e.value) is fastetl.Interrupted and not e.value.committed
    assert str(e.value) == "interrupted; the output was not changed"
    assert out.read_bytes() == before
    ev = _start_then(ev_path, "ABORT")
    assert ev["run"]["facets"]["errorMessage"]["message"] == str(e.value)


@pytest.mark.parametrize("suffix", [".npy", ".parquet"])
@pytest.mark.parametrize("marker", ["_ol.write_events(", None])  # before / after it is written
def test_an_interrupt_as_the_start_event_is_written_is_interrupted(tmp_path, suffix, marker):
    """Ctrl-C as the START event is written (before the conversion began): ``Interrupted``
    with its one-line message ("not changed": it was a plain KeyboardInterrupt), the
    output as it was, and the events file holds START then ABORT (it had START only,
    or nothing)."""
    from reference import interrupt_at

    from fastetl import api

    if suffix == ".parquet":
        pytest.importorskip("pyarrow")
    src, out, ev_path, before = _converted_once(tmp_path, suffix)
    with interrupt_at(api._start_event, marker) as raised:
        with pytest.raises(KeyboardInterrupt) as e:
            fastetl.convert(src, out, SCHEMA, openlineage=ev_path)
    _said_not_changed(raised, e, out, before, ev_path)  # (the START: written or about to be)


@pytest.mark.parametrize("error", ["ArrowMemoryError", "ArrowCancelled", "ArrowException"])
def test_a_pyarrow_error_reading_the_output_back_leaves_the_interrupt_said(
    tmp_path, monkeypatch, error
):
    """An interrupt handled while the output (a Parquet file) cannot be read back,
    pyarrow refusing it with any of its errors (those that are not also ValueError or
    OSError too): ``Interrupted`` is raised ("not changed"), not pyarrow's error; and an
    error of ours (a bug) while reading back is not hidden."""
    pa = pytest.importorskip("pyarrow")
    from reference import interrupt_at

    from fastetl import api
    from fastetl.export import onepass

    src, out, ev_path, before = _converted_once(tmp_path, ".parquet")

    def refuse(path):
        raise getattr(pa, error)("refused")

    monkeypatch.setattr(onepass, "stored_meta", refuse)
    with interrupt_at(api._resolve, None) as raised:  # before the commit
        with pytest.raises(KeyboardInterrupt) as e:
            fastetl.convert(src, out, SCHEMA, openlineage=ev_path)
    _said_not_changed(raised, e, out, before, ev_path)
    assert not api._committed_by(out, "any") and not api.committed_since(out, "")

    def bug(path):
        raise AttributeError("a bug of ours")

    monkeypatch.setattr(onepass, "stored_meta", bug)
    with pytest.raises(AttributeError, match="a bug of ours"):
        api._committed_by(out, "any")


@pytest.mark.parametrize("suffix", [".arrow", ".parquet"])
def test_an_interrupt_as_a_one_pass_file_is_closed_leaves_the_output(tmp_path, suffix):
    """Ctrl-C as the one-pass writer writes its footer (``close()``): the unfinished file
    is not renamed over the output (it was, and the run was said committed), the output
    reads as before, and the events end with ABORT."""
    pytest.importorskip("pyarrow")
    from reference import interrupt_at

    from fastetl.export.onepass import FormatWriter, stored_meta

    src, out, ev_path, before = _converted_once(
        tmp_path, suffix, "id,name,price,kind\n1,a,2.5,k\n2,b,3,j\n"
    )
    src.write_text("id,name,price,kind\n7,z,9.5,k\n")
    with interrupt_at(FormatWriter.__exit__, "self._writer.close()") as raised:
        with pytest.raises(fastetl.Interrupted) as e:
            fastetl.convert(src, out, SCHEMA, openlineage=ev_path)
    _said_not_changed(raised, e, out, before, ev_path)
    assert stored_meta(out)["lineage"]
    assert sorted(p.name for p in tmp_path.iterdir() if "lock" not in p.name) == sorted(
        ["in.csv", out.name, "events.jsonl"]
    )


def test_an_interrupt_as_the_one_pass_file_descriptor_is_closed_is_said(tmp_path):
    """Ctrl-C as ``atomic_output`` closes its descriptor: Interrupted, not an OSError of
    the same descriptor closed a second time (which could also close another thread's)."""
    pytest.importorskip("pyarrow")
    from reference import interrupt_after_call

    from fastetl.export import _files

    src = tmp_path / "in.csv"
    src.write_text("id,name,price,kind\n1,a,2.5,k\n")
    out = tmp_path / "o.parquet"
    with interrupt_after_call(_files.atomic_output.__wrapped__, os.close) as raised:
        with pytest.raises(fastetl.Interrupted) as e:
            fastetl.convert(src, out, SCHEMA)
    assert raised and not e.value.committed and not out.exists()
