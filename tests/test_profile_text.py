"""A CSV profile of a ``text`` column (values of any length, out of line): the same
statistics as a ``str`` column, against references computed in Python/pandas from the
generated values; equal to the profile of the same data as ``str(width)``, to the
profile of the converted ``.npy`` (its ``.text.npy``), whatever the threads, the block
size and where chunks are cut; a value of 1 MB; PII masked; the CLI.
"""

from __future__ import annotations

import csv
import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_profile import text_reference_checks

import fastetl
from fastetl.profiling import Limits
from fastetl.profiling import fold as _fold
from fastetl.profiling import run as _run

WORDS = ["Ana", "João", "Zoë Ünal", "李雷", "a,b", 'say "hi"', "two\nlines", "nul\x00inside",
         "crlf\r\nend", "  padded  ", "Ørjan"]  # fmt: skip


def _values(seed: int, n: int) -> list[str]:
    """Generated text values: non-ASCII, empty (null), NUL bytes inside, embedded line
    breaks, quotes and delimiters, short and long (up to 5,000 characters).  (No value
    ends in a NUL byte: fixed-width ``S`` values, as ``str`` columns are, drop it.)"""
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        r = rnd.random()
        if r < 0.08:
            out.append("")
        elif r < 0.12:
            out.append(rnd.choice("ßé字x") * rnd.randint(1, 5000))
        else:
            out.append(rnd.choice(WORDS) + str(rnd.randint(0, 60)))
    return out


def _write(path: Path, rows: list[list[str]], header: list[str]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
    return path


def _schema(kind: dict) -> dict:
    return {
        "dialect": {"null_values": [""]},
        "columns": [{"name": "id", "type": "int64"}, {"name": "note", "nullable": True, **kind}],
    }


def _col(d: dict, name: str = "note") -> dict:
    return {c["name"]: c for c in d["columns"]}[name]


def _same(c: dict) -> dict:
    """A column's profile without what names its type."""
    return {k: v for k, v in c.items() if k not in ("type", "width")}


def _strip(p: dict) -> dict:
    p = dict(p)
    for k in ("seconds", "source", "bytes", "compression", "format", "schema"):
        p.pop(k, None)
    p["columns"] = [_same(c) for c in p["columns"]]
    return p


@pytest.mark.parametrize("seed", [1, 2])
def test_csv_text_profile_against_references_str_and_npy(tmp_path, monkeypatch, seed):
    values = _values(seed, 3000)
    rnd = random.Random(seed)
    ids = [str(rnd.randint(0, 2)) for _ in values]
    path = _write(tmp_path / "t.csv", [list(r) for r in zip(ids, values, strict=True)],
                  ["id", "note"])  # fmt: skip
    text = _schema({"type": "text"})
    runs = [fastetl.profile(path, text, top=6, workers=w, block_size=bs).to_dict()
            for w, bs in ((1, None), (2, 4096), (2, 1 << 16))]  # fmt: skip
    for r in runs[1:]:
        assert _strip(r) == _strip(runs[0])
    d = runs[0]
    # chunks cut by their text bytes, values copied out a few at a time: the same text
    # column and duplicates (the int column's mean: summed in other chunks, to rounding)
    monkeypatch.setattr(_run, "STAGE_TEXT", 20_000)
    monkeypatch.setattr(_fold, "TEXT_BYTES", 9_000)
    cut = fastetl.profile(path, text, top=6, workers=2, block_size=8192).to_dict()
    monkeypatch.undo()
    assert _col(cut) == _col(d) and cut["duplicate_rows"] == d["duplicate_rows"]
    assert _col(cut, "id")["mean"] == pytest.approx(_col(d, "id")["mean"], rel=1e-12)
    assert _col(d)["type"] == "text" and d["rows"] == len(values)
    text_reference_checks(_col(d), values, 6)
    df = pd.DataFrame({"id": ids, "note": values})
    assert d["duplicate_rows"]["count"] == int(df.duplicated().sum())
    # the same data as str of its longest value's bytes: the same profile
    width = max(len(v.encode()) for v in values)
    as_str = fastetl.profile(path, _schema({"type": "str", "width": width}), top=6).to_dict()
    assert _strip(as_str) == _strip(d)
    # the converted .npy (read through its .text.npy): the same column and duplicates
    out = tmp_path / "t.npy"
    fastetl.convert(path, out, schema=text)
    npy = fastetl.profile(out, top=6).to_dict()
    assert _same(_col(npy)) == _same(_col(d))
    assert npy["duplicate_rows"] == d["duplicate_rows"]


def test_a_one_megabyte_value(tmp_path, monkeypatch):
    big = "é" + "x" * (1 << 20) + "ü"
    # short values first: kept in a table, which a 1 MB value then joins (the table
    # widened to it: only the values kept, not its room for 2**16 of them)
    values = [f"w{i}" for i in range(300)] + ["a", big, "", "b", big, "a" * 70_000, "a"]
    path = _write(tmp_path / "big.csv", [[str(i), v] for i, v in enumerate(values)],
                  ["id", "note"])  # fmt: skip
    text = _schema({"type": "text"})
    runs = [fastetl.profile(path, text, top=3, workers=w, block_size=bs).to_dict()
            for w, bs in ((1, None), (2, 1 << 16))]  # fmt: skip
    # a chunk for each long value
    monkeypatch.setattr(_run, "STAGE_TEXT", 1 << 16)
    cut = fastetl.profile(path, text, top=3, workers=2).to_dict()
    monkeypatch.undo()
    assert _col(cut) == _col(runs[0])
    assert _strip(runs[0]) == _strip(runs[1])
    text_reference_checks(_col(runs[0]), values, 3)
    assert _col(runs[0])["top_cut"] == [1, 2]  # the 1 MB and 70 kB values: their start
    assert "top values are cut" in fastetl.profile(path, text, top=3).to_html()
    out = tmp_path / "big.npy"
    fastetl.convert(path, out, schema=text)
    assert _same(_col(fastetl.profile(out, top=3).to_dict())) == _same(_col(runs[0]))


def test_pii_in_a_text_column_is_masked_and_appears_nowhere(tmp_path):
    emails = [f"pessoa{i}@exemplo.com.br" for i in range(500)]
    path = _write(tmp_path / "pii.csv", [[str(i), e] for i, e in enumerate(emails)],
                  ["id", "note"])  # fmt: skip
    prof = fastetl.profile(path, _schema({"type": "text"}))
    c = _col(prof.to_dict())
    assert c["type"] == "text" and c["pii_kind"] == "email"
    assert c["pii"]["email"]["count"] == len(emails) and c["pii"]["email"]["count_exact"]
    assert c["top"] == [] and c["min"] is None and c["max"] is None and c["redacted"]
    assert all(e.endswith("@e***.br") for e in c["pii"]["email"]["examples"])
    shown = prof.to_json() + prof.to_html() + str(prof)
    assert [e for e in emails if e in shown] == []


def test_inferred_text_is_profiled_as_text(tmp_path):
    """Where inference picks ``text`` (lengths that vary widely), the profile keeps it:
    the same profile as with the inferred schema given."""
    rnd = random.Random(5)
    values = ["z" * rnd.choice([1, 2, 3, 5000, 20_000]) + str(i) for i in range(400)]
    path = _write(tmp_path / "inf.csv", [[str(i), v] for i, v in enumerate(values)],
                  ["id", "note"])  # fmt: skip
    inferred = fastetl.infer_schema(path)
    d = fastetl.profile(path).to_dict()
    assert d["schema_inferred"]
    assert _col(d)["type"] == {c.name: c.type for c in inferred.columns}["note"] == "text"
    given = fastetl.profile(path, inferred).to_dict()
    assert not given.pop("schema_inferred") and d.pop("schema_inferred")
    assert _strip(given) == _strip(d)
    c = _col(d)
    assert c["count"] == len(values) and c["distinct"] == len(set(values))
    assert c["lengths"]["max"] == max(map(len, values))


def test_cli_profile_with_a_text_schema(tmp_path):
    values = _values(9, 300)
    path = _write(tmp_path / "t.csv", [[str(i), v] for i, v in enumerate(values)],
                  ["id", "note"])  # fmt: skip
    (tmp_path / "s.json").write_text(json.dumps(_schema({"type": "text"})))
    r = subprocess.run([sys.executable, "-m", "fastetl", "profile", str(path), "--schema",
                        str(tmp_path / "s.json"), "--json", "-"],
                       capture_output=True)  # fmt: skip
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    text_reference_checks(_col(d), values, 10)


_PEAK = """
import json, resource, sys
import fastetl
scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB elsewhere
schema = json.loads(sys.argv[2])
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale
d = fastetl.profile(sys.argv[1], schema, workers=2, top=3).to_dict()
over = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale - base
print(json.dumps({"over": over, "rows": d["rows"], "bad": d["bad_rows"]["count"],
                  "note": {c["name"]: c for c in d["columns"]}["note"]}))
"""


def _peak(path: Path) -> dict:
    """The profile of ``path`` (its ``note`` column as text) in a fresh interpreter, with
    how far its peak RSS rose over the interpreter's with fastetl imported."""
    schema = json.dumps(_schema({"type": "text"}))
    r = subprocess.run([sys.executable, "-c", _PEAK, str(path), schema],
                       capture_output=True, text=True)  # fmt: skip
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_memory_is_bounded_with_many_short_values_and_a_long_one(tmp_path):
    # 400 distinct short values and a 1 MB value (three times): the kept values were all
    # held at the 1 MB width (a 1.2 GiB peak); now at most Limits.value_prefix + 1 bytes
    big = "é" + "x" * (1 << 20)
    values = [f"short{i}" for i in range(400)] + [big] * 3 + [f"short{i}" for i in range(400)]
    path = _write(tmp_path / "mixed.csv", [[str(i), v] for i, v in enumerate(values)],
                  ["id", "note"])  # fmt: skip
    got = _peak(path)
    assert got["over"] < 96 << 20, got["over"]
    c = got["note"]
    text_reference_checks(c, values, 3)  # the 1 MB value first, cut (top_cut == [0])
    assert c["top_cut"] == [0] and c["distinct_exact"] and c["top_exact"]


def test_memory_is_bounded_with_a_huge_value_among_many_distinct_short_ones(tmp_path):
    # a 12 MB value (a row the parser takes) and a 100 MB one (longer than a row may
    # be: a bad row, counted) among 150,000 distinct short values
    path = tmp_path / "huge.csv"
    with open(path, "w", newline="") as f:
        f.write("id,note\n")
        for i in range(100_000):
            f.write(f"{i},v{i}\n")
        f.write("100000," + "y" * (12 << 20) + "\n")
        f.write("100001," + "z" * (100 << 20) + "\n")
        for i in range(50_000):
            f.write(f"{100002 + i},w{i}\n")
    got = _peak(path)
    assert got["over"] < 192 << 20, got["over"]
    assert got["rows"] == 150_001 and got["bad"] == 1
    c = got["note"]
    assert c["count"] == 150_001 and c["lengths"]["max"] == 12 << 20
    assert not c["distinct_exact"]  # (past Limits.exact distinct values: the summary)
    assert abs(c["distinct"] - 150_001) <= 4 * c["distinct_error"] * 150_001


def test_past_value_bytes_the_kept_values_become_the_summary(tmp_path):
    """Past ``Limits.value_bytes`` bytes of kept values the exact set becomes the summary
    (as past ``Limits.exact`` values): at a point fixed by the input, so the same
    profile whatever the threads and block size; the top counts within their bound."""
    values = _values(3, 4000)
    path = _write(tmp_path / "t.csv", [[str(i % 3), v] for i, v in enumerate(values)],
                  ["id", "note"])  # fmt: skip
    lim = Limits(value_bytes=200_000, top_capacity=16)
    runs = [fastetl.profile(path, _schema({"type": "text"}), top=8, workers=w,
                            block_size=bs, limits=lim).to_dict()
            for w, bs in ((1, None), (2, 4096), (2, 1 << 16))]  # fmt: skip
    for r in runs[1:]:
        assert _strip(r) == _strip(runs[0])
    c = _col(runs[0])
    assert not c["distinct_exact"] and not c["top_exact"]
    s = pd.Series([v for v in values if v != ""], dtype=object)
    assert abs(c["distinct"] - s.nunique()) <= 4 * c["distinct_error"] * s.nunique()
    true = s.value_counts()
    prefix = Limits().value_prefix
    assert c["top"]
    for v, n in c["top"]:  # (the heaviest: short words, not cut)
        assert len(v.encode()) <= prefix
        assert true[v] - c["top_error"] <= n <= true[v]
    # within the bytes (and Limits.exact): exact, as the references say
    text_reference_checks(_col(fastetl.profile(path, _schema({"type": "text"}), top=8).to_dict()),
                          values, 8)  # fmt: skip


def _bound_peak(path: Path, columns: int, workers: int, lim: Limits) -> tuple[int, int, dict]:
    """How far the peak RSS of a profile of ``path`` (``columns`` text columns) rose
    over the interpreter's, and the bound of its kept text values from ``lim``: per
    text column ``value_bytes`` in the profile's state and ``value_bytes / CHUNK_SHARE``
    in each chunk state alive (``workers + 3``), and a table's old values while it grows
    (at most ``value_bytes`` in each thread: ``workers`` folding, one merging)."""
    schema = {"dialect": {"null_values": [""]},
              "columns": [{"name": "id", "type": "int64"}]
              + [{"name": f"t{i}", "type": "text", "nullable": True} for i in range(columns)]}
    code = _PEAK.replace("top=3)", "top=3, limits=Limits(value_bytes=%d))" % lim.value_bytes)
    code = code.replace("workers=2", f"workers={workers}").replace('["note"]', '["t0"]')
    code = code.replace("import fastetl", "import fastetl\nfrom fastetl.profiling import Limits")
    r = subprocess.run([sys.executable, "-c", code, str(path), json.dumps(schema)],
                       capture_output=True, text=True)  # fmt: skip
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    vb = lim.value_bytes
    kept = vb * (1 + (workers + 3) / _fold.CHUNK_SHARE) * columns + vb * (workers + 1)
    # and what is not kept values: the pipeline's blocks, a chunk's text and its runs
    # copied out (run.STAGE_TEXT, fold.TEXT_BYTES) and their hashes, numpy's temporaries
    return got["over"], int(kept) + (48 << 20), got


def test_a_long_value_does_not_widen_the_short_ones_that_follow(tmp_path):
    # one 5 kB value, then 65,535 distinct short ones (one chunk): each run of short
    # values was copied at the kept width (4097 bytes each: 268 MB at once, 346 MiB
    # peak) before the budget took effect; now compared and kept at their own width
    path = tmp_path / "lf.csv"
    with open(path, "w") as f:
        f.write("id,t0\n0," + "L" * 5000 + "\n")
        f.writelines(f"{i},v{i}\n" for i in range(1, 1 << 16))
    lim = Limits(value_bytes=4 << 20)
    over, bound, got = _bound_peak(path, 1, 1, lim)
    assert over < bound, (over, bound)
    c = got["note"]
    assert c["count"] == 1 << 16 and c["max"] == "v9999" and c["min"] == "L" * 4096
    assert c["min_cut"] and not c.get("max_cut")
    assert abs(c["distinct"] - (1 << 16)) <= 4 * c["distinct_error"] * (1 << 16)


def test_many_text_columns_and_threads_stay_within_the_stated_bound(tmp_path):
    # 4 text columns, each chunk 8,100 distinct short values, a 5 kB one, then repeats:
    # each chunk state kept value_bytes per column (workers + 4 of them: 921 MiB; the
    # bound now 4 x 3.5 x 32 MiB + 3 x 32 MiB + 48 MiB)
    path = tmp_path / "multi.csv"
    with open(path, "w") as f:
        f.write("id,t0,t1,t2,t3\n")
        for ch in range(6):
            for i in range(1 << 16):
                if i < 8100:
                    vals = [f"c{ch}v{i}k{j}" for j in range(4)]
                elif i == 8100:
                    vals = [f"L{ch}_{j}" + "x" * 5000 for j in range(4)]
                else:
                    vals = ["same"] * 4
                f.write(f"{ch << 16 | i}," + ",".join(vals) + "\n")
    over, bound, got = _bound_peak(path, 4, 2, Limits())
    assert over < bound, (over, bound)
    assert got["rows"] == 6 << 16 and got["note"]["count"] == 6 << 16


def test_a_widened_table_is_grown_within_value_bytes():
    # 8,100 short values, then two 4,097-byte ones: the table was widened (one copy),
    # then grown by half again past the budget (49.8 MB kept for 32 MiB)
    from fastetl.profiling.stats import ValueCounts, hash_values

    vc = ValueCounts(value_bytes=32 << 20)
    for vals in ([b"s%d" % i for i in range(8100)], [b"x" * 4097], [b"y" * 4097]):
        v = np.array(vals)
        vc.add_counts(hash_values(v, trim=True), np.ones(len(v), np.int64), v, ordered=False)
    assert vc._tv is not None and vc._tv.nbytes <= vc.value_bytes
    assert vc.exact and vc.distinct() == 8102


def test_long_min_max_and_top_values_are_cut_and_said_so(tmp_path):
    # a 3 MB value as max made the JSON 3 MB; a value whose byte value_prefix is NUL was
    # shown cut but not listed in top_cut (numpy drops trailing NUL bytes)
    p = Limits().value_prefix
    nul = "a" * p + "\x00tail"
    values = [nul] * 3 + ["b" * p] * 2 + ["é" * (3 << 20)] + ["A" + "é" * p]
    path = _write(tmp_path / "cut.csv", [[str(i), v] for i, v in enumerate(values)],
                  ["id", "note"])  # fmt: skip
    prof = fastetl.profile(path, _schema({"type": "text"}), top=3)
    c = _col(prof.to_dict())
    text_reference_checks(c, values, 3)
    assert c["top_cut"] == [0, 2] and c["min_cut"] and c["max_cut"]
    assert len(prof.to_json()) < 4 * p * 4
    assert "max (cut: its start)" in prof.to_html() and "min (cut: its start)" in prof.to_html()


def test_fold_count_into_compares_and_keeps_values_at_their_own_width():
    # the kernel against numpy's S semantics: a narrower run's values are kept padded
    # with NUL bytes and compared as if padded (equal: no clash; another value under a
    # known hash: a clash); a wider run may only be compared (no room given)
    from fastetl import _core
    from fastetl.profiling.stats import KeyTable, hash_values

    kept = np.array([b"abc", b"x" * 9, b"zz"], dtype="S9")
    t = KeyTable(16)
    limit = t.room(8)
    tc, tv = np.zeros(limit, np.int64), np.full(limit, b"\xff" * 9, dtype="S9")
    h0 = hash_values(kept, trim=True)

    def fold(v, h, size, lim):
        out = np.empty(len(v), np.int64)
        flat, into = v.view(np.uint8).reshape(-1), tv.view(np.uint8).reshape(-1)
        return _core.fold_count_into(t.slots, t.keys, size, lim, h, np.ones(len(v), np.int64),
                                     tc, flat, into, 9, out, True, v.dtype.itemsize)  # fmt: skip

    t.n, rests, clashes = fold(kept, h0, 0, limit)
    assert (t.n, rests, clashes) == (3, 0, 0)
    run = np.array([b"abc", b"zz", b"new"], dtype="S3")  # narrower: 2 known, 1 new
    h = hash_values(run, trim=True)
    h[1] = h0[0]  # "zz" under "abc"'s hash: a clash, counted under it
    t.n, rests, clashes = fold(run, h, t.n, limit)
    assert (t.n, rests, clashes) == (4, 0, 1)
    assert tv[: t.n].tolist() == [b"abc", b"x" * 9, b"zz", b"new"]  # (padded: no 0xff left)
    assert tc[: t.n].tolist() == [3, 1, 1, 1]
    wide = np.array([b"x" * 9 + b"\0\0", b"zz" + b"\0" * 8 + b"q"], dtype="S11")
    hw = np.array([h0[1], h0[2]], np.uint64)
    with pytest.raises(ValueError):
        fold(wide, hw, t.n, limit)  # (room for a value wider than the kept)
    assert fold(wide, hw, t.n, t.n) == (4, 0, 1)  # "zz...q" is not "zz": a clash
