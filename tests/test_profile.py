"""``fastetl.profile`` and ``fastetl profile`` against pandas / numpy computations on
generated CSV files: every statistic, exact or within its sketch's stated error;
results independent of threads and block size; the .npy path; PII redaction; bad
rows; stdin and a compressed file through the real CLI.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import ipaddress
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import fastetl
from fastetl.profiling import Limits

QS = {"p1": 0.01, "p5": 0.05, "p25": 0.25, "p50": 0.5, "p75": 0.75, "p95": 0.95, "p99": 0.99}

SCHEMA = {
    "dialect": {"delimiter": ",", "quote": '"', "header": True, "encoding": "utf-8",
                "null_values": [""]},
    "columns": [
        {"name": "id", "type": "int64"},
        {"name": "grp", "type": "category", "nullable": True},
        {"name": "x", "type": "float64", "nullable": True},
        {"name": "n", "type": "int32", "nullable": True},
        {"name": "price", "type": "decimal", "scale": 2},
        {"name": "day", "type": "date"},
        {"name": "name", "type": "str", "width": 40, "nullable": True},
        {"name": "email", "type": "str", "width": 40},
        {"name": "ok", "type": "bool"},
    ],
}  # fmt: skip

NAMES = ["Ana", "João", "Zoë Ünal", "Ícaro", "李雷", "Bob", "Maria José", "Ørjan"]
GROUPS = ["a", "b", "c", "d", "e"]


def _rows(seed: int, n: int) -> list[list[str]]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        x = "" if rnd.random() < 0.1 else repr(rnd.gauss(5.0, 3.0))
        k = "" if rnd.random() < 0.2 else str(rnd.randint(-50, 50))
        price = f"{rnd.randint(0, 100000) / 100:.2f}"
        day = (dt.date(2020, 1, 1) + dt.timedelta(days=rnd.randint(0, 1500))).isoformat()
        name = "" if rnd.random() < 0.05 else rnd.choice(NAMES) + str(rnd.randint(0, 30))
        grp = "" if rnd.random() < 0.03 else rnd.choices(GROUPS, weights=[50, 20, 15, 10, 5])[0]
        email = f"user{rnd.randint(0, 10**6)}@mail{rnd.randint(0, 5)}.com"
        ok = rnd.choice(["true", "false"])
        out.append([str(i), grp, x, k, price, day, name, email, ok])
    return out


def _write(path: Path, rows: list[list[str]], header=None) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header or [c["name"] for c in SCHEMA["columns"]])
        w.writerows(rows)
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("profile")
    path = _write(d / "t.csv", _rows(1, 6000))
    df = pd.read_csv(path, keep_default_na=False, na_values=[""], dtype=str)
    return path, df


def _num(df: pd.DataFrame, name: str) -> pd.Series:
    return df[name].dropna().map(float)


def _strip(p: dict) -> dict:
    p = dict(p)
    for k in ("seconds", "source", "bytes", "compression", "format"):
        p.pop(k, None)
    return p


def test_every_statistic_against_pandas(data):
    path, df = data
    prof = fastetl.profile(path, SCHEMA, top=5)
    d = prof.to_dict()
    assert d["rows"] == len(df) and d["bad_rows"]["count"] == 0
    cols = {c["name"]: c for c in d["columns"]}
    for name in ("x", "n", "price"):
        c, s = cols[name], _num(df, name)
        assert c["count"] == len(s) and c["nulls"] == df[name].isna().sum()
        assert c["distinct"] == s.nunique() and c["distinct_exact"]
        assert c["min"] == s.min() and c["max"] == s.max()
        assert c["mean"] == pytest.approx(s.mean(), rel=1e-12)
        assert c["std"] == pytest.approx(s.std(ddof=1), rel=1e-9)
        assert c["quantiles_exact"]
        want = np.quantile(s.to_numpy(), list(QS.values()))
        assert [c["quantiles"][k] for k in QS] == pytest.approx(want.tolist(), rel=1e-12)
        vc = s.value_counts()
        ranked = sorted(vc.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
        assert [tuple(t) for t in c["top"]] == [(float(v), int(n)) for v, n in ranked]
        h = c["histogram"]
        assert h["counts"] == np.histogram(s.to_numpy(), bins=h["edges"])[0].tolist()
    # dates
    c, s = cols["day"], pd.to_datetime(df["day"])
    assert c["min"] == str(s.min().date()) and c["max"] == str(s.max().date())
    assert c["distinct"] == s.nunique()
    mean_days = (s - pd.Timestamp("1970-01-01")).dt.days.mean()
    assert c["mean"] == str(np.datetime64(int(round(mean_days)), "D"))
    # text: lengths in characters, top values, distinct, min/max
    c, s = cols["name"], df["name"].dropna()
    assert c["nulls"] == df["name"].isna().sum() and c["count"] == len(s)
    assert c["distinct"] == s.nunique()
    lens = s.str.len()
    assert c["lengths"]["min"] == lens.min() and c["lengths"]["max"] == lens.max()
    assert c["lengths"]["mean"] == pytest.approx(lens.mean(), rel=1e-12)
    assert c["min"] == min(s, key=lambda v: v.encode()) and c["max"] == max(
        s, key=lambda v: v.encode()
    )
    ranked = sorted(s.value_counts().items(), key=lambda kv: (-kv[1], kv[0].encode()))[:5]
    assert [tuple(t) for t in c["top"]] == [(v, int(n)) for v, n in ranked]
    # category: decoded top values
    c, s = cols["grp"], df["grp"].dropna()
    assert c["distinct"] == s.nunique() and c["nulls"] == df["grp"].isna().sum()
    assert [tuple(t) for t in c["top"]] == [(v, int(n)) for v, n in s.value_counts().items()][:5]
    # bool
    c, s = cols["ok"], df["ok"] == "true"
    assert c["mean"] == pytest.approx(s.mean(), rel=1e-12) and c["distinct"] == 2
    # correlations of numeric columns, pairwise complete rows, as pandas
    ref = pd.DataFrame({k: df[k].map(float, na_action="ignore") for k in ("id", "x", "n", "price")})
    corr = ref.corr()
    for a in ("id", "x", "n", "price"):
        for b in ("id", "x", "n", "price"):
            assert d["correlations"][a][b] == pytest.approx(corr.loc[a, b], abs=1e-9)
    assert d["duplicate_rows"] == {"count": 0, "exact": True}


def test_duplicate_rows_counted_as_pandas(tmp_path):
    rows = _rows(2, 500)
    rnd = random.Random(3)
    rows += [list(rnd.choice(rows)) for _ in range(77)]  # exact copies
    path = _write(tmp_path / "dup.csv", rows)
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    d = fastetl.profile(path, SCHEMA).to_dict()
    assert d["duplicate_rows"]["count"] == int(df.duplicated().sum()) > 0


def test_threads_and_block_size_do_not_change_the_profile(data):
    path, _ = data
    runs = [
        fastetl.profile(path, SCHEMA, workers=w, block_size=b).to_dict()
        for w, b in ((1, None), (2, 4096), (2, 77_777))
    ]
    small = Limits(exact=300, quantile_exact=500, rows_exact=1000, top_capacity=16)
    runs_small = [
        fastetl.profile(path, SCHEMA, workers=w, block_size=b, limits=small).to_dict()
        for w, b in ((1, 10_000), (2, 3000))
    ]
    assert _strip(runs[0]) == _strip(runs[1]) == _strip(runs[2])
    assert _strip(runs_small[0]) == _strip(runs_small[1])


def test_sketches_within_their_stated_error(tmp_path):
    rows = _rows(4, 40_000)
    path = _write(tmp_path / "big.csv", rows)
    df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    lim = Limits(exact=2000, quantile_exact=5000, rows_exact=5000, top_capacity=64)
    d = fastetl.profile(path, SCHEMA, limits=lim, top=10).to_dict()
    cols = {c["name"]: c for c in d["columns"]}
    c = cols["id"]
    assert not c["distinct_exact"]
    assert abs(c["distinct"] / len(df) - 1) <= 4 * c["distinct_error"]
    for name in ("x", "price"):
        c = cols[name]
        s = np.sort(_num(df, name).to_numpy())
        assert not c["quantiles_exact"]
        for k, q in QS.items():
            v = c["quantiles"][k]
            lo = np.searchsorted(s, v, "left") / len(s)
            hi = np.searchsorted(s, v, "right") / len(s)
            assert lo - c["quantiles_rank_error"] <= q <= hi + c["quantiles_rank_error"], (name, k)
        assert sum(c["histogram"]["counts"]) == len(s)
    c = cols["price"]
    truth = _num(df, "price").value_counts()
    assert not c["top_exact"]
    for v, n in c["top"]:
        assert truth[v] - c["top_error"] <= n <= truth[v]
    assert not d["duplicate_rows"]["exact"]
    assert d["duplicate_rows"]["count"] <= 4 * d["duplicate_rows"]["distinct_rows_error"] * len(df)


def test_npy_profile_matches_the_csv_profile_with_exact_histograms(data, tmp_path):
    path, df = data
    out = tmp_path / "t.npy"
    fastetl.convert(path, out, schema=SCHEMA)
    a = fastetl.profile(out).to_dict()
    b = fastetl.profile(path, SCHEMA).to_dict()
    assert a["format"] == "npy" and a["rows"] == b["rows"]
    for ca, cb in zip(a["columns"], b["columns"], strict=True):
        for k in ("count", "nulls", "distinct", "min", "max", "top", "lengths", "pii"):
            assert ca.get(k) == cb.get(k), (ca["name"], k)
        if "mean" in cb and cb["mean"] is not None and ca["type"] not in ("date", "bool"):
            assert ca["mean"] == pytest.approx(cb["mean"], rel=1e-12)
        if ca.get("histogram"):  # exact: from the value counts, else by a second pass
            want = "exact" if ca["quantiles_exact"] else "exact (second pass)"
            assert ca["histogram"]["counts_from"] == want
    c = {c["name"]: c for c in a["columns"]}["x"]
    s = _num(df, "x").to_numpy()
    assert c["histogram"]["counts"] == np.histogram(s, bins=c["histogram"]["edges"])[0].tolist()


def test_npy_histograms_count_values_on_the_edges_as_numpy(tmp_path):
    # 0..1000 in 20 bins puts values on every edge; 3..12 gets a bin per integer
    rng = np.random.default_rng(3)
    a = rng.integers(0, 1001, size=5000)
    a[:2] = (0, 1000)
    b = rng.integers(3, 13, size=5000)
    c = rng.integers(0, 1001, size=5000) / 8  # float edges at multiples of 6.25
    c[:2] = (0, 125)
    path = tmp_path / "h.csv"
    rows = zip(a.tolist(), b.tolist(), c.tolist(), strict=True)
    path.write_text("a,b,c\n" + "".join(f"{x},{y},{z!r}\n" for x, y, z in rows))
    out = tmp_path / "h.npy"
    schema = {"columns": [{"name": "a", "type": "int32"}, {"name": "b", "type": "int8"},
                          {"name": "c", "type": "float64"}]}  # fmt: skip
    fastetl.convert(path, out, schema=schema)
    counted = fastetl.profile(out).to_dict()["columns"]  # few distinct values: the counts
    sketched = fastetl.profile(out, limits=Limits(exact=100)).to_dict()["columns"]
    cols = {c["name"]: c for c in sketched}
    for name, values in (("a", a), ("b", b), ("c", c)):
        h = cols[name]["histogram"]
        assert h["counts_from"] == ("exact (second pass)" if name != "b" else "exact")
        hc = {c["name"]: c for c in counted}[name]["histogram"]
        assert (hc["counts_from"], hc["edges"], hc["counts"]) == ("exact", h["edges"], h["counts"])
        assert h["counts"] == np.histogram(values, bins=h["edges"])[0].tolist()
    assert len(cols["b"]["histogram"]["counts"]) == 10


def test_pii_column_detected_and_its_values_appear_nowhere(tmp_path):
    rnd = random.Random(7)

    def cpf() -> str:
        d = [rnd.randint(0, 9) for _ in range(9)]
        for n in (9, 10):
            r = sum(v * w for v, w in zip(d, range(n + 1, 1, -1), strict=False)) % 11
            d.append(0 if r < 2 else 11 - r)
        s = "".join(map(str, d))
        return f"{s[:3]}.{s[3:6]}.{s[6:9]}-{s[9:]}"

    rows, raw = [], []
    for i in range(2000):
        c = cpf() if i % 10 else "123.456.789-00"  # 10% fail the check digits
        e = f"pessoa{i}@exemplo.com.br"
        rows.append([str(i), c, e, f"{rnd.randint(1, 99)}"])
        raw += [c, e]
    path = tmp_path / "pii.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["id", "documento", "contato", "idade"])
        w.writerows(rows)
    # every distinct value is validated (in compiled code), whatever Limits.pii_cap
    prof = fastetl.profile(path, limits=Limits(pii_cap=4))
    d = prof.to_dict()
    cols = {c["name"]: c for c in d["columns"]}
    doc = cols["documento"]
    assert doc["pii_kind"] == "cpf"
    assert doc["pii"]["cpf"]["count"] == 1800 and doc["pii"]["cpf"]["count_exact"]
    assert doc["pii"]["cpf"]["share"] == pytest.approx(0.9)
    assert cols["contato"]["pii_kind"] == "email"
    assert cols["contato"]["pii"]["email"]["examples"][0].endswith("@e***.br")
    assert cols["idade"]["pii_kind"] is None
    for c in (doc, cols["contato"]):
        assert c["top"] == [] and c["min"] is None and c["max"] is None and c["redacted"]
    text = prof.to_json() + prof.to_html() + str(prof)
    leaked = [v for v in raw if v in text]
    assert leaked == [], leaked[:3]


def test_pii_left_to_python_is_capped_and_said_estimated(tmp_path):
    # IPv6 addresses are validated in Python: past Limits.pii_cap distinct candidates a
    # block, the share is estimated from a spread subset of them, and said so
    rnd = random.Random(11)
    vals = []
    for i in range(3000):
        a = ipaddress.IPv6Address(rnd.getrandbits(128)).compressed
        vals.append(a if i % 4 else a.replace(":", ":g", 1))  # a quarter invalid
    path = tmp_path / "ip.csv"
    path.write_text("ip\n" + "\n".join(vals) + "\n")
    def valid(v: str) -> bool:
        try:
            ipaddress.IPv6Address(v)
        except ValueError:
            return False
        return True

    truth = sum(map(valid, vals)) / len(vals)
    schema = {"columns": [{"name": "ip", "type": "str", "width": 48}]}
    est = fastetl.profile(path, schema, limits=Limits(pii_cap=256)).to_dict()["columns"][0]
    assert not est["pii"]["ipv6"]["count_exact"]
    assert abs(est["pii"]["ipv6"]["share"] - truth) < 0.05
    exact = fastetl.profile(path, schema, limits=Limits(pii_cap=4096)).to_dict()["columns"][0]
    assert exact["pii"]["ipv6"]["count_exact"]
    assert exact["pii"]["ipv6"]["count"] == round(truth * len(vals))


def test_correlations_of_chunks_with_and_without_nulls(tmp_path):
    # 150,000 rows: the first chunks have no null (their sums taken column by column),
    # the last has some (pairwise complete rows): together, pandas' correlations
    rng = np.random.default_rng(5)
    n = 150_000
    a = rng.normal(size=n) + np.linspace(0, 5, n)  # drifting: chunks' means differ
    b = 0.5 * a + rng.normal(size=n)
    c = rng.integers(-1000, 1000, size=n) + np.arange(n) // 1000
    cells = [[repr(float(a[i])), repr(float(b[i])), str(c[i])] for i in range(n)]
    for i in rng.choice(np.arange(140_000, n), size=2000, replace=False):
        cells[i][int(i % 3)] = ""
    path = tmp_path / "corr.csv"
    path.write_text("a,b,c\n" + "\n".join(",".join(r) for r in cells) + "\n")
    schema = {"columns": [{"name": "a", "type": "float64", "nullable": True},
                          {"name": "b", "type": "float64", "nullable": True},
                          {"name": "c", "type": "int32", "nullable": True}]}  # fmt: skip
    got = fastetl.profile(path, schema).to_dict()["correlations"]
    ref = pd.read_csv(path).corr()
    for x in "abc":
        for y in "abc":
            assert got[x][y] == pytest.approx(ref.loc[x, y], abs=1e-9)


def test_bad_rows_counted_by_reason_and_column(tmp_path):
    rows = [[str(i), "5", "x"] for i in range(100)]
    rows[10][1] = "abc"
    rows[20][1] = "1.5"
    rows[30] = ["30", "7"]  # a field short
    path = tmp_path / "bad.csv"
    path.write_text("a,b,c\n" + "\n".join(",".join(r) for r in rows) + "\n")
    schema = {"columns": [{"name": "a", "type": "int32"}, {"name": "b", "type": "int8"},
                          {"name": "c", "type": "str", "width": 4}]}  # fmt: skip
    d = fastetl.profile(path, schema).to_dict()
    assert d["rows"] == 97 and d["rows_read"] == 100
    assert d["bad_rows"]["count"] == 3
    assert d["bad_rows"]["by_column"] == {"b": 2}
    assert sum(d["bad_rows"]["by_reason"].values()) == 3
    b = {c["name"]: c for c in d["columns"]}["b"]
    assert b["invalid"] == {"count": 2, "share": 0.02}


def test_text_columns_say_what_their_values_look_like(tmp_path):
    path = tmp_path / "mixed.csv"
    vals = ["12", "-3", "4.5", "2024-01-02", "hello", "2024-01-02 10:00:00", "7", "x1"]
    path.write_text("v\n" + "\n".join(vals) + "\n")
    d = fastetl.profile(path, {"columns": [{"name": "v", "type": "str", "width": 20}]}).to_dict()
    looks = d["columns"][0]["looks_like"]
    assert looks["integer"] == pytest.approx(3 / 8)
    assert looks["decimal"] == pytest.approx(1 / 8)
    assert looks["date"] == pytest.approx(1 / 8)
    assert looks["datetime"] == pytest.approx(1 / 8)


def _cli(*args, stdin=None):
    return subprocess.run(
        [sys.executable, "-m", "fastetl", *map(str, args)],
        input=stdin,
        capture_output=True,
        env={**os.environ},
        timeout=300,
    )


def test_cli_profile_of_stdin_and_of_a_gzip_file(data, tmp_path):
    path, _ = data
    sch = tmp_path / "s.json"
    sch.write_text(json.dumps(SCHEMA))
    want = _strip(fastetl.profile(path, SCHEMA).to_dict())
    r = _cli("profile", "-", "--schema", sch, "--json", "-", stdin=path.read_bytes())
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert got["source"] == "<stdin>"
    assert _strip(got) == want
    gz = tmp_path / "t.csv.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    out = tmp_path / "p.json"
    r = _cli("profile", gz, "--schema", sch, "--json", out, "--html", tmp_path / "p.html")
    assert r.returncode == 0, r.stderr
    got = json.loads(out.read_text())
    assert got["compression"] == "gzip"
    assert _strip(got) == want
    assert (tmp_path / "p.html").read_text().startswith("<!DOCTYPE html>")
    # inferred schema, summary on stdout
    r = _cli("profile", path)
    assert r.returncode == 0 and "6,000 rows" in r.stdout.decode()


def test_cli_profile_usage_errors(tmp_path):
    r = _cli("profile", tmp_path / "missing.csv")
    assert r.returncode == 1 and r.stderr.decode().count("\n") == 1
    r = _cli("profile", "x.csv", "--top", "-1")
    assert r.returncode == 2 and r.stderr.decode().startswith("fastetl:")


def test_csv_profile_with_a_text_schema_agrees_with_str_inferred_and_npy(tmp_path):
    """A given ``text`` column is profiled from the CSV (CLI too): the same column as
    with ``str`` of its longest value's bytes, with no schema, and from the .npy."""
    path = tmp_path / "t.csv"
    notes = ["hi", "a longer, quoted note", "x" * 300]
    path.write_text("id,note\n" + "".join(f'{i},"{v}"\n' for i, v in enumerate(notes)))
    sch = {"columns": [{"name": "id", "type": "int64"}, {"name": "note", "type": "text"}]}
    (tmp_path / "s.json").write_text(json.dumps(sch))
    r = _cli("profile", path, "--schema", tmp_path / "s.json")
    assert r.returncode == 0 and "3 rows" in r.stdout.decode()
    longest = max(len(v.encode()) for v in notes)
    as_str = {"columns": [sch["columns"][0], {"name": "note", "type": "str", "width": longest}]}
    fastetl.convert(path, tmp_path / "t.npy", schema=sch)
    got = []
    for d in (
        fastetl.profile(path, sch).to_dict(),
        fastetl.profile(path, as_str).to_dict(),
        fastetl.profile(path).to_dict(),
        fastetl.profile(tmp_path / "t.npy").to_dict(),
    ):
        c = {c["name"]: c for c in d["columns"]}["note"]
        assert c["count"] == len(notes) and c["distinct"] == len(set(notes))
        assert c["lengths"]["max"] == max(len(v) for v in notes)
        got.append({k: v for k, v in c.items() if k not in ("type", "width")})
    assert all(g == got[0] for g in got)


def test_profile_argument_checks(data):
    path, _ = data
    with pytest.raises(ValueError, match="top"):
        fastetl.profile(path, top=-1)
    with pytest.raises(ValueError, match="workers"):
        fastetl.profile(path, workers=0)


def test_pii_in_a_number_column_is_found_and_redacted(tmp_path):
    """Bare CPFs read as integers (losing their leading zeros) are still PII.  (Inference
    keeps numbers with leading zeros as text; a schema may still say int64.)"""
    rnd = random.Random(9)
    rows = []
    for i in range(300):
        d = [rnd.randint(0, 9) for _ in range(9)]
        for n in (9, 10):
            r = sum(v * w for v, w in zip(d, range(n + 1, 1, -1), strict=False)) % 11
            d.append(0 if r < 2 else 11 - r)
        rows.append(f"{i},{''.join(map(str, d))}")
    path = tmp_path / "cpf.csv"
    path.write_text("id,cpf\n" + "\n".join(rows) + "\n")
    schema = {"columns": [{"name": "id", "type": "int32"}, {"name": "cpf", "type": "int64"}]}
    prof = fastetl.profile(path, schema)
    c = prof.column("cpf")
    assert c["pii_kind"] == "cpf"
    assert c["pii"]["cpf"]["count"] == 300 and c["redacted"]
    assert c["min"] is None and c["top"] == [] and c["histogram"] is None
    assert all(v is None for v in c["quantiles"].values())
    text = prof.to_json() + prof.to_html()
    for row in rows:
        digits = row.split(",")[1]
        assert str(int(digits)) not in text and digits not in text
    assert prof.column("id")["pii_kind"] is None


def text_reference_checks(c: dict, values: list[str], top: int) -> None:
    """A text column's profile ``c`` against pandas on its values (``""``: null)."""
    s = pd.Series([v for v in values if v != ""], dtype=object)
    assert c["count"] == len(s) and c["nulls"] == len(values) - len(s)
    assert c["distinct"] == s.nunique() and c["distinct_exact"]
    lens = s.str.len()
    assert (c["lengths"]["min"], c["lengths"]["max"]) == (lens.min(), lens.max())
    assert c["lengths"]["mean"] == pytest.approx(lens.mean(), rel=1e-12)
    # a value longer than Limits.value_prefix bytes: shown as its first characters that
    # fit (min, max and the top values), and said to be cut
    prefix = Limits().value_prefix
    for key, end in (("min", min(s, key=lambda v: v.encode())),
                     ("max", max(s, key=lambda v: v.encode()))):  # fmt: skip
        assert c[key] == cut_to_bytes(end, prefix)
        assert c.get(key + "_cut", False) == (len(end.encode()) > prefix)
    ranked = sorted(s.value_counts().items(), key=lambda kv: (-kv[1], kv[0].encode()))[:top]
    shown = [(cut_to_bytes(v, prefix), int(n)) for v, n in ranked]
    assert [tuple(t) for t in c["top"]] == shown
    long = [i for i, (v, _) in enumerate(ranked) if len(v.encode()) > prefix]
    assert c.get("top_cut", []) == long


def cut_to_bytes(v: str, size: int) -> str:
    """The longest start of ``v`` of at most ``size`` UTF-8 bytes (whole characters)."""
    return v.encode()[:size].decode("utf-8", "ignore")  # (only a cut character is dropped)


def test_npy_profile_reads_text_columns_through_their_text_file(tmp_path):
    """A ``text`` column (values out of line, in OUT.text.npy) profiled from the .npy:
    counts, lengths, top values, min/max and duplicates against pandas, with values
    long enough that a block is folded in several pieces."""
    rnd = random.Random(5)
    words = ["ana", "bob", "zoë ünal", "李雷", "user7@mail.com"]
    vals = []
    for _ in range(4000):
        r = rnd.random()
        if r < 0.1:
            vals.append("")
        elif r < 0.15:
            vals.append("y" * rnd.randint(1, 3000))
        else:
            vals.append(rnd.choice(words) + str(rnd.randint(0, 40)))
    ids = [rnd.randint(0, 3) for _ in vals]
    path = tmp_path / "t.csv"
    _write(path, [[str(i), v] for i, v in zip(ids, vals, strict=True)], header=["a", "b"])
    schema = {"dialect": {"null_values": [""]},
              "columns": [{"name": "a", "type": "int64"},
                          {"name": "b", "type": "text", "nullable": True}]}  # fmt: skip
    out = tmp_path / "t.npy"
    fastetl.convert(path, out, schema=schema)
    c = {c["name"]: c for c in fastetl.profile(out, top=4).to_dict()["columns"]}["b"]
    df = pd.read_csv(path, keep_default_na=False, na_values=[""], dtype=str)
    assert c["type"] == "text"
    text_reference_checks(c, df["b"].fillna("").tolist(), 4)
    d = fastetl.profile(out).to_dict()
    assert d["duplicate_rows"]["count"] == int(df.duplicated().sum())


def test_npy_profile_of_a_damaged_text_file_is_one_line(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("b\n" + "\n".join(["abc", "defgh", "ij"] * 10) + "\n")
    out = tmp_path / "t.npy"
    fastetl.convert(path, out, schema={"columns": [{"name": "b", "type": "text"}]})
    text = tmp_path / "t.text.npy"
    arr = np.load(text)
    np.save(text, arr[: len(arr) // 2])  # the text file cut short
    r = subprocess.run([sys.executable, "-m", "fastetl", "profile", str(out)],
                       capture_output=True, text=True)  # fmt: skip
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fastetl: ") and "t.text.npy" in lines[0]


def test_quantiles_exact_from_the_value_counts_past_the_held_values(tmp_path):
    """More values than the quantiles hold, but few distinct ones: the quantiles and the
    histogram come from the exact value counts, equal to numpy's, whatever the threads."""
    rng = np.random.default_rng(11)
    a = rng.integers(-500, 500, size=30_000)
    b = np.round(rng.normal(50, 20, size=30_000), 1)
    path = tmp_path / "q.csv"
    path.write_text("a,b\n" + "".join(f"{x},{y!r}\n" for x, y in zip(a.tolist(), b.tolist())))
    schema = {"columns": [{"name": "a", "type": "int32"}, {"name": "b", "type": "float64"}]}
    lim = Limits(exact=5000, quantile_exact=1000)
    runs = [fastetl.profile(path, schema, workers=w, block_size=bs, limits=lim).to_dict()
            for w, bs in ((1, None), (2, 10_000))]  # fmt: skip
    assert _strip(runs[0]) == _strip(runs[1])
    for c, x in zip(runs[0]["columns"], (a, b), strict=True):
        assert c["quantiles_exact"] and "quantiles_rank_error" not in c
        want = np.quantile(x, list(QS.values()))
        assert [c["quantiles"][k] for k in QS] == pytest.approx(want.tolist(), rel=1e-12)
        h = c["histogram"]
        assert h["counts_from"] == "exact"
        assert h["counts"] == np.histogram(x, bins=h["edges"])[0].tolist()


def test_many_chunks_on_two_workers_equal_one_worker_and_pandas(tmp_path):
    """A CSV of several fold chunks (the chunk buffers filled again once folded) and
    many blocks: 2 workers give the 1-worker profile, and its exact statistics are
    pandas' / numpy's."""
    rng = np.random.default_rng(5)
    n = 300_000  # ~5 chunks of 65,536 records
    k = rng.integers(-1000, 1000, size=n)
    x = np.round(rng.normal(3.0, 2.0, size=n), 3)
    m = rng.integers(0, 7, size=n).astype(str).astype(object)
    m[rng.random(n) < 0.15] = ""
    path = tmp_path / "chunks.csv"
    pd.DataFrame({"k": k, "x": x, "m": m}).to_csv(path, index=False)
    schema = {
        "dialect": {"null_values": [""]},
        "columns": [{"name": "k", "type": "int32"}, {"name": "x", "type": "float64"},
                    {"name": "m", "type": "int8", "nullable": True}],
    }  # fmt: skip
    runs = [fastetl.profile(path, schema, workers=w, block_size=bs).to_dict()
            for w, bs in ((1, None), (2, 64 * 1024))]  # fmt: skip
    assert _strip(runs[0]) == _strip(runs[1])
    df = pd.read_csv(path, keep_default_na=False, na_values=[""])
    d = runs[1]
    assert d["rows"] == n and d["bad_rows"]["count"] == 0
    cols = {c["name"]: c for c in d["columns"]}
    for name in ("k", "x", "m"):
        c, s = cols[name], df[name].dropna().astype(float)
        assert c["count"] == len(s) and c["nulls"] == int(df[name].isna().sum())
        assert c["min"] == s.min() and c["max"] == s.max()
        assert c["mean"] == pytest.approx(s.mean(), rel=1e-12)
        assert c["std"] == pytest.approx(s.std(), rel=1e-9)  # (ddof 1, as pandas)
        assert c["distinct"] == s.nunique() and c["distinct_exact"]
        vc = s.value_counts()
        assert [c2 for _, c2 in c["top"]] == vc.iloc[: len(c["top"])].tolist()
    for name in ("k", "m"):  # few distinct values: quantiles from the exact counts
        want = np.quantile(df[name].dropna().to_numpy(float), list(QS.values()))
        got = [cols[name]["quantiles"][q] for q in QS]
        assert got == pytest.approx(want.tolist(), rel=1e-12)


def test_a_value_sharing_its_hash_with_a_cpf_keeps_its_own_facts(tmp_path):
    """A value solved to share the 64-bit hash of a valid CPF (the hash is public) in
    the same block as it: the CPFs are counted as CPFs, the other value is not one."""
    from fastetl.profiling.stats import hash_values

    def cpf_ok(s: str) -> bool:  # the check digits, written out here as the reference
        d = [int(c) for c in s if c.isdigit()]
        if len(d) != 11 or len(set(d)) == 1 or len(s) not in (11, 14):
            return False
        d1 = sum(x * w for x, w in zip(d[:9], range(10, 1, -1))) * 10 % 11 % 10
        d2 = sum(x * w for x, w in zip(d[:10], range(11, 1, -1))) * 10 % 11 % 10
        return d[9:] == [d1, d2]

    cpf, other = "529.982.247-25", "T8Uqe7Vr3vcN88r8"
    assert len(set(hash_values(np.array([cpf, other], dtype="S16")).tolist())) == 1
    rows = [other] + [cpf] * 3999 + [other] * 5
    path = tmp_path / "c.csv"
    path.write_text("doc\n" + "\n".join(rows) + "\n")
    want = sum(1 for r in rows if cpf_ok(r))
    assert want == 3999
    schema = {"columns": [{"name": "doc", "type": "str", "width": 16}]}
    for w, b in ((1, None), (2, 4096), (2, 77_777)):
        c = fastetl.profile(path, schema, workers=w, block_size=b).to_dict()["columns"]
        col = c[0] if isinstance(c, list) else c["doc"]
        assert col["pii"]["cpf"]["count"] == want
        assert col["pii"]["cpf"]["share"] == want / len(rows)
        # the two values are counted as one distinct value: said not to be exact
        assert col["distinct"] == len(set(rows)) - 1 and not col["distinct_exact"]
        assert col["hash_collision"] is True


def test_a_hash_collision_across_chunks_is_said(tmp_path):
    """The forged pair of the test above, each value in a chunk of its own (the chunks'
    counts meet in the kept table: exact counts; and in the Misra-Gries summary, once
    past a small exact bound): the two values are counted as one, and the profile says
    so -- distinct not exact, ``hash_collision`` -- whatever the thread count."""
    from fastetl.profiling.run import _chunk_rows
    from fastetl.profiling.stats import hash_values

    cpf, other = "529.982.247-25", "T8Uqe7Vr3vcN88r8"
    assert len(set(hash_values(np.array([cpf, other], dtype="S16")).tolist())) == 1
    schema = {"columns": [{"name": "doc", "type": "str", "width": 16}]}
    dtype = fastetl.Schema.from_dict(schema).dtype()
    chunk = _chunk_rows(dtype.itemsize)
    fill = [f"v{i:06d}" for i in range(chunk - 2000)]  # distinct, not PII (top is shown)
    rows = fill + [cpf] * 2000 + [other] * 3 + fill[:10]
    assert rows.index(other) == chunk  # the first row of the second chunk
    path = tmp_path / "c.csv"
    path.write_text("doc\n" + "\n".join(rows) + "\n")
    for limits in (Limits(), Limits(exact=1000, top_capacity=64)):
        for w in (1, 2):
            col = fastetl.profile(path, schema, workers=w, limits=limits).to_dict()["columns"]
            col = col[0] if isinstance(col, list) else col["doc"]
            assert col["hash_collision"] is True and not col["distinct_exact"]
            # counted under the first value met: ``other`` is counted as ``cpf`` (in the
            # summary each kept count is at most n / (capacity + 1) below the true one)
            value, count = col["top"][0]
            slack = 0 if limits.exact > len(rows) else len(rows) // (limits.top_capacity + 1)
            assert value == cpf and 2003 - slack <= count <= 2003
    # without the collision: exact, and no such key
    path.write_text("doc\n" + "\n".join(fill + [cpf] * 2000 + fill[:10]) + "\n")
    col = fastetl.profile(path, schema, workers=2).to_dict()["columns"]
    col = col[0] if isinstance(col, list) else col["doc"]
    assert col["distinct_exact"] and "hash_collision" not in col
    assert col["distinct"] == len(fill) + 1


def _every_kind(path: Path, n: int, seed: int) -> dict:
    """A CSV with a column of every stored type (nulls in each nullable one) and a flag
    bit; its schema."""
    rnd = random.Random(seed)
    ints = {"int8": 7, "int16": 300, "int32": 10**6, "int64": 10**15, "uint8": 200,
            "uint16": 60_000, "uint32": 4 * 10**9, "uint64": 2**63 + 5}  # fmt: skip
    cols = [{"name": t, "type": t, "nullable": True} for t in ints]
    cols += [{"name": "f32", "type": "float32", "nullable": True},
             {"name": "f64", "type": "float64", "nullable": True},
             {"name": "dec", "type": "decimal", "scale": 3, "nullable": True},
             {"name": "day", "type": "date", "nullable": True},
             {"name": "ts", "type": "datetime", "nullable": True},
             {"name": "ok", "type": "bool", "nullable": True},
             {"name": "grp", "type": "category", "nullable": True},
             {"name": "name", "type": "str", "width": 24, "nullable": True},
             {"name": "note", "type": "text", "nullable": True},
             {"name": "vip", "type": "bool"}]  # fmt: skip
    schema = {"dialect": {"null_values": [""]}, "columns": cols,
              "flags": [{"name": "flags", "type": "uint8",
                         "bits": [{"name": "is_vip", "column": "vip"}]}]}  # fmt: skip
    rows = []
    for i in range(n):
        hi = [rnd.choice([0, rnd.randint(0, m), m]) if rnd.random() < 0.9 else rnd.randint(0, 9)
              for m in ints.values()]  # fmt: skip
        r = [str(v if t.startswith("u") or i % 2 else -v) for t, v in zip(ints, hi)]
        r += [repr(rnd.gauss(0, 1e3)), repr(rnd.gauss(5, 2) if i % 7 else -0.0),
              f"{rnd.randint(-10**6, 10**6) / 1000:.3f}",
              (dt.date(1990, 1, 1) + dt.timedelta(days=rnd.randint(0, 20_000))).isoformat(),
              (dt.datetime(2020, 1, 1) + dt.timedelta(seconds=rnd.randint(0, 10**8),
                                                       microseconds=rnd.randint(0, 999_999))
               ).isoformat(),
              rnd.choice(["true", "false"]), rnd.choice(GROUPS), rnd.choice(NAMES) + str(i % 50),
              "x" * rnd.randint(1, 90) + str(rnd.randint(0, 400)), rnd.choice(["true", "false"])]
        rows.append(["" if rnd.random() < 0.05 and c.get("nullable") else v
                     for c, v in zip(cols, r, strict=True)])  # fmt: skip
    _write(path, rows, header=[c["name"] for c in cols])
    return schema


def test_every_column_kind_same_profile_on_1_and_2_threads(tmp_path, monkeypatch):
    """A file with every column kind, folded in many chunks, from the CSV and from its
    .npy: 1 and 2 threads (and block sizes) give one profile; the exact statistics of
    the fixed-width columns are pandas'."""
    from fastetl.profiling import run as R

    path = tmp_path / "kinds.csv"
    schema = _every_kind(path, 9000, 17)
    npy = tmp_path / "kinds.npy"
    fastetl.convert(path, npy, schema=schema)
    monkeypatch.setattr(R, "_chunk_rows", lambda itemsize, budget=0: 1024)  # 9 chunks

    # (a CSV profile folds fixed-width values: the text column read as str there)
    fixed = json.loads(json.dumps(schema))
    fixed["columns"][-2] = {"name": "note", "type": "str", "width": 100, "nullable": True}

    def both() -> list[dict]:
        return [_strip(fastetl.profile(src, fixed if src == path else None, workers=w,
                                       block_size=bs).to_dict())
                for src in (path, npy) for w, bs in ((1, None), (2, 8192))]  # fmt: skip

    got = both()
    assert got[0] == got[1] and got[2] == got[3]
    assert all(r["rows"] == 9000 for r in got)
    df = pd.read_csv(path, keep_default_na=False, na_values=[""], dtype=str)
    cols = {c["name"]: c for c in got[0]["columns"]}
    for name in ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                 "dec", "f64"):  # fmt: skip
        s = df[name].dropna()
        ints = [int(v) for v in s] if name[0] in "iu" else [float(v) for v in s]
        c = cols[name]
        assert (c["count"], c["nulls"]) == (len(s), df[name].isna().sum())
        assert (c["min"], c["max"]) == (min(ints), max(ints))
        assert c["distinct"] == len(set(ints)) and c["distinct_exact"]
    day = pd.to_datetime(df["day"].dropna())
    assert cols["day"]["min"] == day.min().date().isoformat()
    assert cols["day"]["distinct"] == day.nunique()
    ts = pd.to_datetime(df["ts"].dropna())
    assert cols["ts"]["distinct"] == ts.nunique() and cols["ts"]["count"] == len(ts)
    ok = df["ok"].dropna() == "true"
    assert cols["ok"]["mean"] == pytest.approx(ok.mean(), rel=1e-12)
    assert cols["is_vip"]["mean"] == pytest.approx((df["vip"] == "true").mean(), rel=1e-12)


def test_a_merged_chunk_state_is_freed_by_reference_counts():
    """A chunk's state, once merged, is freed as soon as it is let go -- not left to
    Python's cyclic collector (a number column's counts held a bound method of its own
    state: every merged chunk state was a cycle, ~40 MiB of dead states at the end of a
    1M-row CSV profile).  The counts past their exact bound still feed the quantile
    sketch: its quantiles are checked against numpy's."""
    import gc
    import weakref

    from fastetl.profiling.fold import TableState

    schema = fastetl.Schema.from_dict(
        {"columns": [{"name": "x", "type": "float64"}, {"name": "t", "type": "date"}]}
    )
    rng = np.random.default_rng(5)
    records = np.zeros(3000, dtype=schema.dtype())
    records["x"] = rng.normal(size=len(records))
    records["t"] = rng.integers(0, 20_000, size=len(records)).astype("datetime64[D]")
    lim = Limits(exact=200, quantile_exact=300)
    state = TableState(schema, lim)
    gc.disable()
    try:
        for at in range(0, len(records), 500):
            part = state.fork()
            part.add(records[at : at + 500])
            state.merge(part)
            gone = [weakref.ref(cs) for cs in part.columns]
            del part
            assert all(g() is None for g in gone)  # freed by reference counts: no collection
    finally:
        gc.enable()
    col = state.result({}, 5)["columns"][0]
    assert not col["quantiles_exact"]
    s = np.sort(records["x"])
    for k, q in QS.items():
        v = col["quantiles"][k]
        lo, hi = np.searchsorted(s, v, "left") / len(s), np.searchsorted(s, v, "right") / len(s)
        assert lo - col["quantiles_rank_error"] <= q <= hi + col["quantiles_rank_error"], k
