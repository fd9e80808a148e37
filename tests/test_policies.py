"""Error policies: on_error="raise" | "skip" | "reject", the rejects file, and the counts.

The property tests run the core in skip/reject mode against the reference
(``reference_parse_full(..., skip_bad=True)``): the same records, and the same
bad rows (line, column, row, byte offset), whatever the block size, the source
kind and the number of threads.  Rows whose quoting is broken have no reference
(Python's csv cannot say where they end); they are pinned down by hand below.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, note, settings
from reference import (
    listing,
    RefBindError,
    RefError,
    Stream,
    assert_same_records,
    reference_parse_full,
)
from test_differential import SETTINGS, N, files

import fastetl

RUNS = (("bytes", None, 1), ("bytes", 1, 1), ("bytes", 7, 3), ("stream", 5, 1), ("stream", 64, 2))


def _src(kind: str, data: bytes):
    return data if kind == "bytes" else Stream(data, step=11)


def _rejects(path: Path) -> tuple[bytes, dict]:
    return path.read_bytes(), json.loads(Path(str(path) + ".json").read_text(encoding="utf-8"))


def _read_rejecting(data: bytes, schema, tmp: Path, kind="bytes", bs=None, workers=1):
    out = tmp / f"rej-{kind}-{bs}-{workers}.csv"
    arr = fastetl.read_csv(
        _src(kind, data), schema, block_size=bs, workers=workers, on_error="reject", rejects=out
    ).array  # the records as stored
    raw, meta = _rejects(out)
    return arr, raw, meta


def _where(meta: dict) -> list[tuple]:
    return [(r["line"], r["column"], r["row"], r["offset"]) for r in meta["rejects"]]


# -- against the reference ---------------------------------------------------------------


@settings(max_examples=N(150), **SETTINGS)
@given(files())
def test_skip_and_reject_match_reference(tmp_path_factory, cf):
    case, data = cf
    note(f"schema = {case.schema.to_json(indent=None)}")
    note(f"data = {data!r}")
    tmp = tmp_path_factory.mktemp("rej")
    try:
        ref = reference_parse_full(data, case.schema, skip_bad=True)
    except RefBindError:
        with pytest.raises(fastetl.SchemaError):
            fastetl.read_csv(data, case.schema, on_error="skip")
        return
    except RefError:  # broken quoting: no reference, but every run must agree
        ref = None
    first = None
    for kind, bs, w in RUNS:
        arr, raw, meta = _read_rejecting(data, case.schema, tmp, kind, bs, w)
        skipped = fastetl.read_csv(
            _src(kind, data), case.schema, block_size=bs, workers=w, on_error="skip"
        ).array
        what = f"{kind} block_size={bs} workers={w}"
        assert_same_records(skipped, arr, f"skip vs reject, {what}")
        assert meta["count"] == len(meta["rejects"])
        if first is None:
            first = (arr, raw, meta)
            if ref is not None:
                assert_same_records(arr, ref.array, f"core vs reference, {what}")
                assert _where(meta) == [(e.line, e.column, e.row, e.offset) for e in ref.bad]
        else:
            assert_same_records(arr, first[0], what)
            assert raw == first[1], what
            assert meta["rejects"] == first[2]["rejects"], what
    # the rejects file is the header line, then each bad row byte for byte
    arr, raw, meta = first
    head = b""
    if case.schema.dialect.header:  # the header line as it is in the input, if there is one
        head = data[_bom(data) : _header_end(data, case.schema)]
        if not head.endswith((b"\n", b"\r")):
            head += b"\n"
    rows = [data[r["row_offset"] : r["row_offset"] + r["bytes"]] for r in meta["rejects"]]
    assert raw == head + b"".join(r if r.endswith((b"\n", b"\r")) else r + b"\n" for r in rows)
    if ref is not None:
        assert len(arr) + meta["count"] == len(ref.array) + len(ref.bad)


def _bom(data: bytes) -> int:
    return 3 if data.startswith(b"\xef\xbb\xbf") else 0


def _header_end(data: bytes, schema) -> int:
    from fastetl import _core

    d = schema.dialect
    status, fields, nxt = _core.split_row(
        data, _bom(data), len(data), True, ord(d.delimiter), ord(d.quote) if d.quote else -1
    )
    assert status == 0
    return nxt if fields else _bom(data)


# -- rows with broken quoting ----------------------------------------------------------------

SCHEMA_ABC = {
    "columns": [
        {"name": "a", "type": "int64"},
        {"name": "b", "type": "category"},
        {"name": "c", "type": "float64"},
    ]
}


@pytest.mark.parametrize("kind,bs,workers", RUNS)
def test_broken_quoting_row_ends_at_its_line_end(tmp_path, kind, bs, workers):
    """A row with text after a closing quote, or a quote never closed, is one bad row
    that ends at the first line break after the break; the next line is a row again."""
    data = (
        b'a,b,c\n1,x,1.5\n2,"y"z,2.5\n3,"multi\nline",3.5\n'
        b'4,x,bad\n5\n6,y,6.5\n7,"open,7.5\n8,x,8.5'
    )
    arr, raw, meta = _read_rejecting(data, SCHEMA_ABC, tmp_path, kind, bs, workers)
    assert arr["a"].tolist() == [1, 3, 6, 8]
    assert arr["c"].tolist() == [1.5, 3.5, 6.5, 8.5]
    assert raw == b'a,b,c\n2,"y"z,2.5\n4,x,bad\n5\n7,"open,7.5\n'
    got = [(r["line"], r["column"], r["row"], r["reason"].split(" (")[0]) for r in meta["rejects"]]
    assert got == [
        (3, None, 1, "unexpected 'z' after a closing quote"),
        (6, "c", 3, "is not a valid float64"),
        (7, None, 4, "expected 3 fields, found 1"),
        (9, None, 6, "a quoted field starts here and is never closed"),
    ]
    assert meta["count"] == 4
    assert [r["row_offset"] for r in meta["rejects"]] == [
        data.index(b'2,"y"'),
        data.index(b"4,x"),
        data.index(b"\n5\n") + 1,
        data.index(b'7,"'),
    ]


def test_crlf_rows_are_rejected_with_their_line_ending(tmp_path):
    data = b'a,b,c\r\n1,x,1\r\n2,x,oops\r\n3,"q"!,3\r\n4,y,4'
    arr, raw, meta = _read_rejecting(data, SCHEMA_ABC, tmp_path)
    assert arr["a"].tolist() == [1, 4]
    assert raw == b'a,b,c\r\n2,x,oops\r\n3,"q"!,3\r\n'
    assert [r["line"] for r in meta["rejects"]] == [3, 4]


# -- dictionaries that fill up, across threads ------------------------------------------------


@pytest.mark.parametrize("on_error", ["skip", "reject"])
def test_full_category_rows_are_the_same_bad_rows_on_every_thread_count(tmp_path, on_error):
    """max_values=5: the sixth distinct value is a bad row, and which rows those are must
    not depend on how blocks were shared out (workers learn values the global
    dictionary has no room for, and see values again in later blocks)."""
    schema = {
        "columns": [
            {"name": "id", "type": "int32"},
            {"name": "k", "type": "category", "max_values": 5, "nullable": True},
        ]
    }
    rng = np.random.default_rng(7)
    keys = [f"v{int(x)}" if x < 12 else "" for x in rng.integers(0, 14, 3000)]
    data = ("id,k\n" + "".join(f"{i},{k}\n" for i, k in enumerate(keys))).encode()
    outs = []
    for bs, w in ((None, 1), (40, 1), (40, 2), (97, 4), (3, 7)):
        rej = tmp_path / f"r{bs}-{w}.csv"
        arr = fastetl.read_csv(
            data, schema, block_size=bs, workers=w, on_error=on_error,
            rejects=rej if on_error == "reject" else None,
        ).array  # fmt: skip
        outs.append((arr, rej.read_bytes() if on_error == "reject" else None))
    first, first_rej = outs[0]
    # the reference: the first five distinct values are in, every other value is out
    seen: list[str] = []
    good = []
    for i, k in enumerate(keys):
        if k and k not in seen:
            if len(seen) == 5:
                continue
            seen.append(k)
        good.append(i)
    assert first["id"].tolist() == good
    for arr, rej in outs[1:]:
        assert_same_records(arr, first, "threads/block sizes")
        assert rej == first_rej


# -- counts, options, the CLI ------------------------------------------------------------------

BAD_CSV = b"a,b,c\n1,x,1.5\n2,y,nope\n3,z\n4,x,4.5\n"


def test_report_and_sidecar_account_for_every_row(tmp_path):
    src = tmp_path / "in.csv"
    src.write_bytes(BAD_CSV)
    for on_error in ("skip", "reject"):
        out = tmp_path / f"{on_error}.npy"
        r = fastetl.convert(src, out, SCHEMA_ABC, on_error=on_error)
        meta = json.loads(Path(r.sidecar).read_text())
        assert (r.rows_read, r.rows, r.rows_rejected, r.rows_skipped) == (
            (4, 2, 2, 0) if on_error == "reject" else (4, 2, 0, 2)
        )
        assert (
            meta["rows_read"] == meta["rows_written"] + meta["rows_rejected"] + meta["rows_skipped"]
        )
        assert (meta["rows"], meta["rows_read"], meta["on_error"]) == (2, 4, on_error)
        assert (r.rejects is not None) == (on_error == "reject")
        assert (tmp_path / f"{on_error}.npy.rejects.csv").exists() == (on_error == "reject")


def test_cli_prints_the_counts_and_writes_the_rejects(tmp_path):
    src = tmp_path / "in.csv"
    src.write_bytes(BAD_CSV)
    schema = tmp_path / "s.json"
    schema.write_text(json.dumps(SCHEMA_ABC))
    rej = tmp_path / "bad rows.csv"
    p = subprocess.run(
        [sys.executable, "-m", "fastetl", "convert", str(src), str(tmp_path / "o.npy"),
         "--schema", str(schema), "--on-error", "reject", "--rejects", str(rej)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert "4 rows read, 2 written, 2 rejected" in p.stdout
    assert rej.read_bytes() == b"a,b,c\n2,y,nope\n3,z\n"
    p = subprocess.run(
        [sys.executable, "-m", "fastetl", "convert", str(src), str(tmp_path / "o2.npy"),
         "--schema", str(schema), "--on-error", "skip"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert p.returncode == 0 and "4 rows read, 2 written, 2 skipped" in p.stdout
    p = subprocess.run(
        [sys.executable, "-m", "fastetl", "convert", str(src), str(tmp_path / "o3.npy"),
         "--schema", str(schema)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert p.returncode == 1
    assert p.stderr.strip() == "fastetl: line 3, column \"c\": 'nope' is not a valid float64"
    assert not (tmp_path / "o3.npy").exists()


RAGGED_CSV = b"a,b,c\n1,2,3\n4,5\n6,7,8\n"


@pytest.mark.parametrize("on_error", ["skip", "reject"])
def test_without_a_schema_a_ragged_row_is_left_out_of_the_sample(tmp_path, on_error):
    """Issue 17: under skip or reject, inference leaves a ragged row of its sample out
    (and counts it); the conversion then skips or rejects it as any bad row, for
    convert, read_csv and the CLI.  With "raise" the error is the one it always was."""
    src = tmp_path / "in.csv"
    src.write_bytes(RAGGED_CSV)
    out = tmp_path / "o.npy"
    rejects = tmp_path / "r.csv" if on_error == "reject" else None
    r = fastetl.convert(src, out, on_error=on_error, rejects=rejects)
    assert (r.rows, r.rows_read, r.rows_rejected + r.rows_skipped) == (2, 3, 1)
    assert fastetl.open(out).array.tolist() == [(1, 2, 3), (6, 7, 8)]
    inferred = json.loads((tmp_path / "o.npy.json").read_text())["schema"]["inferred"]
    assert (inferred["rows_left_out"], inferred["left_out_lines"]) == (1, [3])
    arr = fastetl.read_csv(RAGGED_CSV, on_error=on_error, rejects=rejects).array
    assert arr.tolist() == [(1, 2, 3), (6, 7, 8)]
    p = subprocess.run(
        [sys.executable, "-m", "fastetl", "convert", str(src), str(tmp_path / "c.npy"),
         "--on-error", on_error],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert "3 rows read, 2 written" in p.stdout and "1 malformed sample row(s) left out" in p.stdout
    # with the policy "raise" the message is the plain one, as before
    with pytest.raises(fastetl.ParseError) as e:
        fastetl.read_csv(RAGGED_CSV)
    assert str(e.value) == "line 3: expected 3 fields, found 2"
    p = subprocess.run(
        [sys.executable, "-m", "fastetl", "convert", str(src), str(tmp_path / "d.npy")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert p.returncode == 1 and p.stderr.strip() == "fastetl: line 3: expected 3 fields, found 2"


def _lenient_csv() -> bytes:
    """60 rows, most quoted with '"'; line 3 has a field too few, line 9 a broken quote,
    both inside the inference sample (and the sniffed head).  The quoted rows come after
    line 3, so "raise" gives today's message whichever quote a sniffer picks."""
    rows = ["id,name,score"]
    for i in range(1, 61):
        rows.append(f'{i},"Name {i}, Jr.",{i * 7}' if i > 3 and i % 4 else f"{i},Plain {i},{i * 7}")
    rows[2] = "2,Short"
    rows[8] = '8,"Bad" name,56'
    return ("\n".join(rows) + "\n").encode()


@pytest.mark.parametrize("on_error", ["skip", "reject"])
def test_lenient_inference_with_a_ragged_and_a_broken_quote_row(tmp_path, on_error):
    data = _lenient_csv()
    src = tmp_path / "in.csv"
    src.write_bytes(data)
    # raise: stops at the first malformed row, with the message it always had
    with pytest.raises(fastetl.ParseError) as e:
        fastetl.infer_schema(src)
    assert str(e.value) == "line 3: expected 3 fields, found 2"
    p = subprocess.run(
        [sys.executable, "-m", "fastetl", "convert", str(src), str(tmp_path / "x.npy")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert p.returncode == 1 and p.stderr.strip() == "fastetl: line 3: expected 3 fields, found 2"
    # skip / reject: both rows left out of the sample, and counted
    schema = fastetl.infer_schema(src, on_error=on_error)
    assert schema.dialect.quote == '"'
    assert [(c.name, c.type) for c in schema.columns] == [
        ("id", "int8"), ("name", "str"), ("score", "int16"),
    ]  # fmt: skip
    facts = schema.inferred
    assert (facts["on_error"], facts["rows_left_out"], facts["left_out_lines"]) == (
        on_error, 2, [3, 9],
    )  # fmt: skip
    assert facts["sample_rows"] == 58
    out = tmp_path / "o.npy"
    rejects = tmp_path / "r.csv" if on_error == "reject" else None
    r = fastetl.convert(src, out, on_error=on_error, rejects=rejects)
    assert (r.rows_read, r.rows, r.rows_rejected + r.rows_skipped) == (60, 58, 2)
    t = fastetl.open(out)
    good = [i for i in range(1, 61) if i not in (2, 8)]
    assert t["id"].tolist() == good  # the rows after the bad ones are converted
    assert list(t["name"])[:4] == ["Plain 1", "Plain 3", "Plain 4", "Name 5, Jr."]
    meta = json.loads((tmp_path / "o.npy.json").read_text())
    assert meta["schema"]["inferred"]["rows_left_out"] == 2
    if on_error == "reject":
        raw, rmeta = _rejects(rejects)
        assert raw == b'id,name,score\n2,Short\n8,"Bad" name,56\n'  # byte for byte
        assert [x["line"] for x in rmeta["rejects"]] == [3, 9]
        assert rmeta["count"] == 2
    # the CLI: infer shows the facts, convert says what was left out
    p = subprocess.run(
        [sys.executable, "-m", "fastetl", "infer", str(src), "--on-error", on_error],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["inferred"]["left_out_lines"] == [3, 9]
    p = subprocess.run(
        [sys.executable, "-m", "fastetl", "convert", str(src), str(tmp_path / "c.npy"),
         "--on-error", on_error],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert "60 rows read, 58 written" in p.stdout
    assert "2 malformed sample row(s) left out" in p.stdout


@pytest.mark.parametrize(
    "args",
    [["--rejects", "x.csv"], ["--on-error", "ignore"], ["--append", "--resume"]],
)
def test_cli_refuses_option_mixups(tmp_path, args):
    src = tmp_path / "in.csv"
    src.write_bytes(BAD_CSV)
    p = subprocess.run(
        [sys.executable, "-m", "fastetl", "convert", str(src), str(tmp_path / "o.npy"), *args],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert p.returncode == 2, p.stderr
    assert not (tmp_path / "o.npy").exists()


def test_api_refuses_option_mixups(tmp_path):
    with pytest.raises(ValueError, match="on_error must be one of"):
        fastetl.read_csv(BAD_CSV, SCHEMA_ABC, on_error="ignore")
    with pytest.raises(ValueError, match="needs rejects="):
        fastetl.read_csv(BAD_CSV, SCHEMA_ABC, on_error="reject")
    with pytest.raises(ValueError, match="rejects= is the file"):
        fastetl.convert(BAD_CSV, tmp_path / "o.npy", SCHEMA_ABC, rejects=tmp_path / "r.csv")
    with pytest.raises(fastetl.OutputError, match="would overwrite the output"):
        fastetl.convert(
            BAD_CSV, tmp_path / "o.npy", SCHEMA_ABC, on_error="reject", rejects=tmp_path / "o.npy"
        )
    src = tmp_path / "in.csv"
    src.write_bytes(BAD_CSV)
    with pytest.raises(fastetl.OutputError, match="over the input"):
        fastetl.convert(src, tmp_path / "o.npy", SCHEMA_ABC, on_error="reject", rejects=src)
    assert src.read_bytes() == BAD_CSV
    assert listing(tmp_path) == ["in.csv"]


def test_rejects_are_written_with_the_output_or_not_at_all(tmp_path):
    """A run that fails after rows were rejected leaves no rejects file, and an old one
    (and the old output) exactly as they were."""
    out = tmp_path / "o.npy"
    fastetl.convert(BAD_CSV, out, SCHEMA_ABC, on_error="reject")
    before = {n: (tmp_path / n).read_bytes() for n in listing(tmp_path)}

    class Breaks(Stream):  # the input fails after its rows (a row too long is a bad row now)
        def read(self, n: int = -1) -> bytes:
            chunk = super().read(n)
            if not chunk:
                raise OSError(5, "Input/output error")
            return chunk

    with pytest.raises(fastetl.FastETLError, match="Input/output error"):
        fastetl.convert(Breaks(BAD_CSV, step=16), out, SCHEMA_ABC, on_error="reject", block_size=16)
    assert {n: (tmp_path / n).read_bytes() for n in listing(tmp_path)} == before


def test_a_fixed_rejects_file_appends_the_missing_rows(tmp_path):
    """The dead-letter loop: fix the rejected rows by hand and append them."""
    src = tmp_path / "in.csv"
    src.write_bytes(BAD_CSV)
    out = tmp_path / "o.npy"
    r = fastetl.convert(src, out, SCHEMA_ABC, on_error="reject")
    rej = Path(r.rejects)
    rej.write_bytes(rej.read_bytes().replace(b"nope", b"2.5").replace(b"3,z\n", b"3,z,3.5\n"))
    r2 = fastetl.convert(rej, out, append=True)
    assert (r2.rows_read, r2.rows) == (2, 2)
    t = fastetl.open(out)
    assert sorted(t["a"].tolist()) == [1, 2, 3, 4]
    meta = json.loads(Path(r2.sidecar).read_text())
    assert (meta["rows"], meta["rows_read"], meta["rows_written"], meta["rows_rejected"]) == (
        4, 6, 4, 2,
    )  # fmt: skip
    assert meta["categories"]["b"] == ["x", "y", "z"]  # y and z came with the fixed rows
