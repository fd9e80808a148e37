"""Data-quality rules while converting, and ``fastetl check`` on an output.

Each rule is run on valid, invalid and edge values under raise, skip and reject; what
breaks it is decided here by Python (csv, int, Decimal, float, datetime, re) and the
conversion must leave out exactly those rows, count them per rule in the sidecar,
reject them with the rule named, or stop at the first under raise."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import random
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

import fastetl
from fastetl.rules.evaluate import UniqueSet


def _int(t):
    return int(t)


def _dec(t):
    return Decimal(t)


def _date(t):
    return dt.date.fromisoformat(t)


def _datetime(t):
    return dt.datetime.fromisoformat(t.replace(" ", "T"))


def _f32(t):
    return np.float32(float(t))


def _ns(t):
    return np.datetime64(t, "ns")


# (column spec with one rule, the rule's name suffix, cells, python value of a cell,
#  predicate: the value breaks the rule)
CASES = [
    ({"type": "int64", "min": 0}, "min", ["0", "-1", "5", "", "-9223372036854775808", "7"],
     _int, lambda v: v < 0),
    ({"type": "int8", "max": 100}, "max", ["100", "101", "-128", "", "127"], _int, lambda v: v > 100),
    ({"type": "decimal", "scale": 2, "max": "10.05"}, "max",
     ["10.05", "10.06", "-3", "", "10.1", "10.04", "10"], _dec, lambda v: v > Decimal("10.05")),
    ({"type": "decimal", "scale": 2, "min": -1}, "min", ["-1.00", "-1.01", "0", ""], _dec,
     lambda v: v < -1),
    ({"type": "float64", "min": 0.5}, "min", ["0.5", "0.49999999999", "1e3", "", "-0.0", "inf"],
     float, lambda v: v < 0.5),
    ({"type": "date", "min": "2024-01-01", "max": "2024-12-31"}, "min|max",
     ["2024-01-01", "2023-12-31", "2024-12-31", "2025-01-01", "", "2024-02-29"], _date,
     lambda v: v < dt.date(2024, 1, 1) or v > dt.date(2024, 12, 31)),
    ({"type": "datetime", "max": "2024-06-01T12:00:00"}, "max",
     ["2024-06-01T12:00:00", "2024-06-01T12:00:00.000001", "2024-06-01 11:59:59", ""],
     _datetime, lambda v: v > dt.datetime(2024, 6, 1, 12)),
    ({"type": "str", "width": 12, "pattern": r"[a-z]+\d?"}, "pattern",
     ["abc", "abc1", "ABC", "", "a1b", "abc12"], str, lambda v: re.fullmatch(r"[a-z]+\d?", v) is None),
    ({"type": "str", "width": 12, "max_length": 3}, "max_length",
     ["abc", "abcd", "ção", "çãoo", "", "ab"], str, lambda v: len(v) > 3),
    # a NUL inside a value is one of its characters (trailing NULs, numpy's padding,
    # are refused in a str column)
    ({"type": "str", "width": 12, "max_length": 3}, "max_length",
     ["a\x00bc", "a\x00b", "\x00\x00x", "ç\x00ão", "", "\x00ab"], str, lambda v: len(v) > 3),
    ({"type": "category", "allowed": ["pix", "boleto"]}, "allowed",
     ["pix", "card", "boleto", "", "Pix", "pix"], str, lambda v: v not in ("pix", "boleto")),
    ({"type": "category", "pattern": "[a-c]"}, "pattern", ["a", "d", "b", "a", "dd", ""], str,
     lambda v: re.fullmatch("[a-c]", v) is None),
    ({"type": "category", "max_length": 2}, "max_length", ["ab", "abc", "ção", "çã", ""], str,
     lambda v: len(v) > 2),
    ({"type": "int32", "allowed": [1, 3, 5]}, "allowed", ["1", "2", "5", "", "3", "-1"], _int,
     lambda v: v not in (1, 3, 5)),
    ({"type": "decimal", "scale": 1, "allowed": ["1.5", 2]}, "allowed", ["1.5", "2.0", "2.5", ""],
     _dec, lambda v: v not in (Decimal("1.5"), Decimal(2))),
    ({"type": "date", "allowed": ["2024-01-01"]}, "allowed", ["2024-01-01", "2024-01-02", ""],
     _date, lambda v: v != dt.date(2024, 1, 1)),
    ({"type": "bool", "allowed": [True]}, "allowed", ["true", "false", "1", "0", ""],
     lambda t: t in ("true", "1"), lambda v: v is not True),
    # float32: a bound is compared in the column's precision (numpy's float32 rounding)
    ({"type": "float32", "max": 0.1}, "max", ["0.1", "0.10000001", "0.1000001", "", "-1"],
     _f32, lambda v: v > np.float32(0.1)),
    ({"type": "float32", "min": 0.1}, "min", ["0.1", "0.09999999", "0.0999999", "", "7"],
     _f32, lambda v: v < np.float32(0.1)),
    ({"type": "float32", "allowed": [0.1, 2.5]}, "allowed", ["0.1", "2.5", "0.2", ""],
     _f32, lambda v: v not in (np.float32(0.1), np.float32(2.5))),
    # an allowed value wider than the column is not cut to the width
    ({"type": "str", "width": 3, "allowed": ["abcdef", "xyz"]}, "allowed",
     ["abc", "xyz", "ab", ""], str, lambda v: v not in ("abcdef", "xyz")),
    # nanoseconds in a bound are kept (numpy parses the reference)
    ({"type": "datetime", "unit": "ns", "min": "2024-01-01T00:00:00.123456789"}, "min",
     ["2024-01-01T00:00:00.123456789", "2024-01-01T00:00:00.123456788",
      "2024-01-01T00:00:00.1234566", "2024-01-01T00:00:00.12345679", ""],
     _ns, lambda v: v < np.datetime64("2024-01-01T00:00:00.123456789", "ns")),
]  # fmt: skip


def _schema(spec: dict, nullable: bool = True) -> dict:
    col = {"name": "v", **spec}
    if nullable:
        col["nullable"] = True
    return {"columns": [{"name": "id", "type": "int64"}, col]}


def _expected_bad(cells, parse, pred) -> list[int]:
    return [i for i, c in enumerate(cells) if c != "" and pred(parse(c))]


def _write(tmp: Path, cells: list[str]) -> Path:
    src = tmp / "in.csv"
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["id", "v"])
    for i, c in enumerate(cells):
        w.writerow([i, c])
    src.write_text(buf.getvalue(), encoding="utf-8")
    return src


def _meta(out: Path) -> dict:
    return json.loads(out.with_name(out.name + ".json").read_text())


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("spec,rule,cells,parse,pred", CASES, ids=[f"{c[0]['type']}-{c[1]}" for c in CASES])
def test_column_rule(tmp_path, spec, rule, cells, parse, pred, workers):
    src = _write(tmp_path, cells)
    bad = _expected_bad(cells, parse, pred)
    assert bad, "each case has a value that breaks its rule"
    schema = _schema(spec)
    # raise: the first row that breaks the rule stops the run, named
    with pytest.raises(fastetl.ParseError) as e:
        fastetl.convert(src, tmp_path / "r.npy", schema=schema, workers=workers, block_size=16)
    assert e.value.line == bad[0] + 2
    assert e.value.column == "v"
    assert re.search(rf"\(rule v\.({rule})\)", str(e.value))
    assert "\n" not in str(e.value)
    assert not (tmp_path / "r.npy").exists()
    # skip: exactly those rows left out, and counted per rule
    out = tmp_path / "s.npy"
    rep = fastetl.convert(src, out, schema=schema, on_error="skip", workers=workers, block_size=16)
    assert rep.rows_skipped == len(bad)
    ids = np.load(out)["id"].tolist()
    assert ids == [i for i in range(len(cells)) if i not in bad]
    counts = _meta(out)["rule_violations"]
    assert sum(counts.values()) == len(bad)
    assert all(re.fullmatch(rf"v\.({rule})", k) for k in counts)
    # reject: the rows, with the rule as the reason
    out = tmp_path / "j.npy"
    fastetl.convert(src, out, schema=schema, on_error="reject", workers=workers, block_size=16)
    rej = json.loads((tmp_path / "j.npy.rejects.csv.json").read_text())["rejects"]
    assert [r["line"] for r in rej] == [i + 2 for i in bad]
    assert all(re.search(rf"rule v\.({rule})", r["reason"]) for r in rej)
    rows = list(csv.reader(io.StringIO((tmp_path / "j.npy.rejects.csv").read_text())))
    assert rows[1:] == [[str(i), cells[i]] for i in bad]


def test_null_passes_every_rule(tmp_path):
    src = _write(tmp_path, ["", "", "1"])
    spec = {"type": "int64", "min": 5, "allowed": [7], "unique": True}
    rep = fastetl.convert(src, tmp_path / "o.npy", schema=_schema(spec), on_error="skip")
    assert rep.rows_skipped == 1  # only "1": the two nulls pass, unique included


@pytest.mark.parametrize(
    "spec,why",
    [
        ({"type": "int64", "min": "3"}, "must be an integer"),
        ({"type": "int64", "min": 5, "max": 4}, "greater than max"),
        ({"type": "decimal", "scale": 2, "min": "1.234"}, "more than 2 decimal places"),
        ({"type": "date", "max": "2024-02-30"}, "must be a date"),
        ({"type": "str", "width": 4, "pattern": "(["}, "not a valid regular expression"),
        ({"type": "str", "width": 4, "min": "a"}, "does not apply to type str"),
        ({"type": "int64", "pattern": "1"}, "does not apply to type int64"),
        ({"type": "category", "allowed": []}, "non-empty list"),
        ({"type": "category", "allowed": [1]}, "must be a string"),
        ({"type": "str", "width": 4, "max_length": -1}, "whole number"),
        ({"type": "int64", "unique": "yes"}, "true or false"),
        ({"type": "skip", "min": 1}, "skip column"),
        ({"type": "float64", "max": float("nan")}, "finite"),
    ],
)
def test_bad_rule_keys_fail_at_load(spec, why):
    with pytest.raises(fastetl.SchemaError, match=why) as e:
        fastetl.Schema.from_dict(_schema(spec, nullable=False))
    assert "\n" not in str(e.value) and str(e.value).startswith("column 'v'")


BACKTRACKING = [r"(a+)+$", r"(\w+\s?)*$", r"(.*,)+x", r"(a|ab)*c", r"(a|a)+$", r"(a*)*b",
                r"^(([a-z])+.)+[A-Z]([a-z])+$", r"(\d+|x)*y", r"(?:x+x+)+y", r"((ab)*|a)*c",
                r"(?i:(x|X\d)+)$", r"(a|)+"]  # fmt: skip
LINEAR = [r"(\w+\.)*\w+", r"[a-z]+\d?", r"(\d{1,3}\.){3}\d{1,3}", r"([a-z0-9]+[-.])*[a-z0-9]+",
          r"(?:a|b)*", r"(a|b\d)*", r"(a++)+", r"(?>a+)+", r"\d+\d+x", r"(ab|cd)+",
          r"[^@\s]+@[^@\s]+\.[a-z]+"]  # fmt: skip


@pytest.mark.parametrize("pattern", BACKTRACKING)
def test_pattern_that_can_backtrack_exponentially_fails_at_load(pattern):
    with pytest.raises(fastetl.SchemaError, match="may take exponential time") as e:
        fastetl.Schema.from_dict(_schema({"type": "str", "width": 40, "pattern": pattern}))
    assert "\n" not in str(e.value) and str(e.value).startswith("column 'v'")


def test_patterns_without_nested_ambiguity_load_and_match(tmp_path):
    cells = ["ab.cd", "a", "10.0.0.1", "x-y.z", "abab", "aaa", "b1a", "123x", "cdab", "u@v.io",
             "", "a b", "a..b", "1.2.3", "aab"]  # fmt: skip
    src = _write(tmp_path, cells)
    for k, pattern in enumerate(LINEAR):
        out = tmp_path / f"p{k}.npy"
        fastetl.convert(src, out, schema=_schema({"type": "str", "width": 40, "pattern": pattern}),
                        on_error="skip")  # fmt: skip
        want = [i for i, c in enumerate(cells) if c == "" or re.fullmatch(pattern, c)]
        assert np.load(out)["id"].tolist() == want, pattern


def test_values_keeps_its_meaning():
    s = fastetl.Schema.from_dict(_schema({"type": "category", "values": ["a", "b"], "allowed": ["a"]}))
    col = s.columns[1]
    assert col.values == ("a", "b") and col.rules.allowed == ("a",)
    assert fastetl.Schema.from_json(s.to_json()).to_dict() == s.to_dict()


def _orders(n: int, seed: int) -> tuple[str, list[list[str]]]:
    rnd = random.Random(seed)
    rows = []
    for _ in range(n):
        rows.append([
            str(rnd.randint(1, n // 2)),
            f"{rnd.randint(-50, 5000) / 100:.2f}",
            f"{rnd.randint(0, 800) / 100:.2f}",
            (dt.date(2024, 1, 1) + dt.timedelta(rnd.randint(0, 400))).isoformat(),
            (dt.date(2024, 1, 1) + dt.timedelta(rnd.randint(0, 420))).isoformat() if rnd.random() > 0.1 else "",
            rnd.choice(["pix", "boleto", "card", "cash"]),
        ])  # fmt: skip
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["pedido", "total", "frete", "data_pedido", "data_entrega", "metodo"])
    w.writerows(rows)
    return buf.getvalue(), rows


ORDERS_SCHEMA = {
    "columns": [
        {"name": "pedido", "type": "int64", "unique": True},
        {"name": "total", "type": "decimal", "scale": 2, "min": 0},
        {"name": "frete", "type": "decimal", "scale": 2},
        {"name": "data_pedido", "type": "date", "max": "2024-12-31"},
        {"name": "data_entrega", "type": "date", "nullable": True},
        {"name": "metodo", "type": "category", "allowed": ["pix", "boleto", "card"]},
    ],
    "rules": [
        {"name": "frete_cabe", "expr": "total >= frete"},
        {"name": "entrega_depois", "expr": "data_entrega >= data_pedido"},
    ],
}


def _orders_reference(rows: list[list[str]], seen: set[int] | None = None) -> tuple[list[int], dict]:
    """Rows kept, and rows per rule (the first each breaks; unique over the rows kept)."""
    seen = set() if seen is None else seen
    names = ["total.min", "data_pedido.max", "metodo.allowed", "frete_cabe", "entrega_depois",
             "pedido.unique"]  # fmt: skip
    counts = dict.fromkeys(names, 0)
    kept = []
    for i, (p, total, frete, dp, de, m) in enumerate(rows):
        t, f, d1 = Decimal(total), Decimal(frete), dt.date.fromisoformat(dp)
        d2 = dt.date.fromisoformat(de) if de else None
        checks = [t < 0, d1 > dt.date(2024, 12, 31), m not in ("pix", "boleto", "card"),
                  not t >= f, d2 is not None and not d2 >= d1]  # fmt: skip
        broke = next((names[k] for k, c in enumerate(checks) if c), None)
        if broke is None and int(p) in seen:
            broke = "pedido.unique"
        if broke is None:
            seen.add(int(p))
            kept.append(i)
        else:
            counts[broke] += 1
    return kept, counts


def _orders_every_rule(rows: list[list[str]]) -> tuple[dict, dict]:
    """Rows per rule, each rule judged alone (a row counts under every rule it breaks;
    unique: every repeat after a value's first row), and the first 5 of each."""
    names = ["total.min", "data_pedido.max", "metodo.allowed", "frete_cabe", "entrega_depois",
             "pedido.unique"]  # fmt: skip
    hits: dict[str, list[int]] = {n: [] for n in names}
    seen: set[int] = set()
    for i, (p, total, frete, dp, de, m) in enumerate(rows):
        t, f, d1 = Decimal(total), Decimal(frete), dt.date.fromisoformat(dp)
        d2 = dt.date.fromisoformat(de) if de else None
        checks = [t < 0, d1 > dt.date(2024, 12, 31), m not in ("pix", "boleto", "card"),
                  not t >= f, d2 is not None and not d2 >= d1, int(p) in seen]  # fmt: skip
        seen.add(int(p))
        for name, c in zip(names, checks):
            if c:
                hits[name].append(i)
    return {n: len(v) for n, v in hits.items()}, {n: v[:5] for n, v in hits.items()}


@pytest.mark.parametrize("policy", ["skip", "reject"])
def test_orders_rules_exact_and_thread_independent(tmp_path, policy):
    text, rows = _orders(3000, seed=11)
    src = tmp_path / "orders.csv"
    src.write_text(text)
    kept, counts = _orders_reference(rows)
    outs = []
    for workers, block in [(1, None), (2, 4096), (2, 333)]:
        out = tmp_path / f"o{workers}_{block}.npy"
        fastetl.convert(src, out, schema=ORDERS_SCHEMA, on_error=policy, workers=workers, block_size=block)
        meta = _meta(out)
        assert meta["rule_violations"] == counts
        assert np.load(out)["pedido"].tolist() == [int(rows[i][0]) for i in kept]
        rej = out.with_name(out.name + ".rejects.csv")
        outs.append((out.read_bytes(), rej.read_bytes() if rej.exists() else b""))
    assert outs[0] == outs[1] == outs[2]


def test_raise_names_the_row_rule(tmp_path):
    text, rows = _orders(500, seed=3)
    src = tmp_path / "orders.csv"
    src.write_text(text)
    kept, _ = _orders_reference(rows)
    first = next(i for i in range(len(rows)) if i not in kept)
    with pytest.raises(fastetl.ParseError) as e:
        fastetl.convert(src, tmp_path / "o.npy", schema=ORDERS_SCHEMA, workers=2, block_size=512)
    assert e.value.line == first + 2
    assert e.value.row == first


def test_tolerance(tmp_path):
    text, rows = _orders(400, seed=5)
    src = tmp_path / "orders.csv"
    src.write_text(text)
    broke = sum(1 for r in rows if not Decimal(r[1]) >= Decimal(r[2]))
    assert broke
    share = broke / len(rows)
    schema = {"columns": [{**c, **({"unique": False} if c["name"] == "pedido" else {})}
                          for c in ORDERS_SCHEMA["columns"][:3]] + [
        {"name": "data_pedido", "type": "date"}, {"name": "data_entrega", "type": "date", "nullable": True},
        {"name": "metodo", "type": "category"}]}  # fmt: skip
    for c in schema["columns"]:
        c.pop("min", None)
    ok = {**schema, "rules": [{"name": "frete_cabe", "expr": "total >= frete", "tolerance": share + 0.001}]}
    rep = fastetl.convert(src, tmp_path / "a.npy", schema=ok)  # raise: within the tolerance
    assert rep.rows == len(rows) - broke and rep.rows_skipped == broke
    meta = _meta(tmp_path / "a.npy")
    assert meta["rows_read"] == meta["rows_written"] + meta["rows_skipped"] == len(rows)
    assert _meta(tmp_path / "a.npy")["rule_violations"] == {"frete_cabe": broke}
    over = {**schema, "rules": [{"name": "frete_cabe", "expr": "total >= frete", "tolerance": share - 0.001}]}
    for policy in ("raise", "skip"):
        with pytest.raises(fastetl.ParseError, match=f'rule "frete_cabe" is broken by {broke} of'):
            fastetl.convert(src, tmp_path / "b.npy", schema=over, on_error=policy)
        assert not (tmp_path / "b.npy").exists()


@pytest.mark.parametrize("runs", [None, "2"])
def test_unique_beyond_memory(tmp_path, monkeypatch, runs):
    monkeypatch.setenv("FASTETL_UNIQUE_MEMORY", "256")  # a few dozen values, then disk runs
    if runs:
        monkeypatch.setenv("FASTETL_UNIQUE_RUNS", runs)  # and runs merged past two
    rnd = random.Random(2)
    vals = [rnd.randint(0, 6000) for _ in range(20000)]
    src = tmp_path / "u.csv"
    src.write_text("k,s\n" + "".join(f"{v},x{v % 997}\n" for v in vals))
    schema = {"columns": [{"name": "k", "type": "int64", "unique": True},
                          {"name": "s", "type": "str", "width": 8, "unique": True}]}  # fmt: skip
    seen_k, seen_s, kept = set(), set(), []
    for v in vals:  # a row left out claims no value in the other unique column
        if v in seen_k or f"x{v % 997}" in seen_s:
            continue
        seen_k.add(v)
        seen_s.add(f"x{v % 997}")
        kept.append(v)
    out = tmp_path / "u.npy"
    fastetl.convert(src, out, schema=schema, on_error="skip", workers=2, block_size=4096)
    assert np.load(out)["k"].tolist() == kept


def _unique_reference(rows, base_a=(), base_b=()):
    """Rows kept and the rule each other row breaks, one by one in order: ``c.max``
    first, then ``a.unique``, then ``b.unique``, over the values of rows KEPT only."""
    seen_a, seen_b = set(base_a), set(base_b)
    kept, broke = [], {}
    for i, (a, b, c) in enumerate(rows):
        if c != "" and int(c) > 5:
            broke[i] = "c.max"
        elif a != "" and int(a) in seen_a:
            broke[i] = "a.unique"
        elif b in seen_b:
            broke[i] = "b.unique"
        else:
            kept.append(i)
            if a != "":
                seen_a.add(int(a))
            seen_b.add(b)
    return kept, broke


UNIQUE2 = {"columns": [{"name": "a", "type": "int64", "nullable": True, "unique": True},
                       {"name": "b", "type": "str", "width": 8, "unique": True},
                       {"name": "c", "type": "int64", "nullable": True, "max": 5}]}  # fmt: skip


def _unique_rows(n, seed):
    rnd = random.Random(seed)
    return [(rnd.choice(["", str(rnd.randint(0, n // 3))]) if rnd.random() < 0.1
             else str(rnd.randint(0, n // 3)), f"b{rnd.randint(0, n // 3)}",
             rnd.choice(["", str(rnd.randint(0, 7))])) for _ in range(n)]  # fmt: skip


@pytest.mark.parametrize("policy", ["skip", "reject"])
def test_rows_left_out_claim_no_unique_value(tmp_path, policy):
    # row 1 breaks c.max, row 2 b.unique: neither claims its a, so rows 3 and 4 are kept
    rows = [("1", "x", "0"), ("2", "y", "9"), ("3", "x", "0"), ("2", "z", ""), ("3", "w", "")]
    # a chain where each row's fate hangs on the one before: decided past the rounds
    rows += [(str(100000 + i // 2), f"c{(i + 1) // 2}", "") for i in range(40)]
    rows += _unique_rows(3000, seed=5)
    src = tmp_path / "u.csv"
    src.write_text("a,b,c\n" + "".join(f"{a},{b},{c}\n" for a, b, c in rows))
    kept, broke = _unique_reference(rows)
    assert kept[:3] == [0, 3, 4] and broke[1] == "c.max" and broke[2] == "b.unique"
    counts = {r: 0 for r in ("c.max", "a.unique", "b.unique")}
    for r in broke.values():
        counts[r] += 1
    for workers, block in [(1, None), (2, 1 << 10), (2, 97)]:
        out = tmp_path / f"o{workers}{block}.npy"
        fastetl.convert(src, out, schema=UNIQUE2, on_error=policy, workers=workers,
                        block_size=block)
        got = np.load(out)
        assert got["b"].tolist() == [rows[i][1].encode() for i in kept]
        assert _meta(out)["rule_violations"] == counts
        if policy == "reject":
            rej = json.loads(out.with_name(out.name + ".rejects.csv.json").read_text())["rejects"]
            assert [r["line"] for r in rej] == [i + 2 for i in sorted(broke)]
            assert [re.search(r"rule (\S+)\)", r["reason"])[1] for r in rej] == [
                broke[i] for i in sorted(broke)]  # fmt: skip
    # raise: the first row left out stops the run, at its line
    with pytest.raises(fastetl.ParseError) as e:
        fastetl.convert(src, tmp_path / "r.npy", schema=UNIQUE2, block_size=97)
    assert e.value.line == min(broke) + 2


def test_rows_left_out_under_a_tolerance_claim_no_unique_value(tmp_path):
    # raise, but "c <= 5" has a tolerance: its rows are left out, and free their values
    rows = [("1", "x", "9"), ("1", "y", "0"), ("2", "y", "")] + _unique_rows(2000, seed=9)
    src = tmp_path / "u.csv"
    src.write_text("a,b,c\n" + "".join(f"{a},{b},{c}\n" for a, b, c in rows))
    schema = {"columns": [{k: v for k, v in c.items() if k != "max"} for c in UNIQUE2["columns"]],
              "rules": [{"name": "c_small", "expr": "c <= 5", "tolerance": 1}]}  # fmt: skip
    kept, broke = _unique_reference(rows)
    assert kept[:1] == [1] and broke[0] == "c.max" and broke[2] == "b.unique"
    out = tmp_path / "o.npy"
    with pytest.raises(fastetl.ParseError, match="b.unique"):  # a strict rule still stops it
        fastetl.convert(src, out, schema=schema, block_size=97)
    rep = fastetl.convert(src, out, schema=schema, on_error="skip", workers=2, block_size=97)
    assert np.load(out)["b"].tolist() == [rows[i][1].encode() for i in kept]
    counts = {"c_small": 0, "a.unique": 0, "b.unique": 0}
    for r in broke.values():
        counts["c_small" if r == "c.max" else r] += 1
    assert _meta(out)["rule_violations"] == counts and rep.rows_skipped == len(broke)


def test_rows_left_out_claim_no_unique_value_across_append(tmp_path):
    first = [("1", "x", "0"), ("2", "y", "9")]  # row 2 breaks c.max: 2 stays free
    more = [("2", "x", ""), ("2", "q", ""), ("1", "r", ""), ("2", "s", "")] + _unique_rows(500, 6)
    out = tmp_path / "o.npy"
    (tmp_path / "a.csv").write_text("a,b,c\n" + "".join(f"{a},{b},{c}\n" for a, b, c in first))
    (tmp_path / "b.csv").write_text("a,b,c\n" + "".join(f"{a},{b},{c}\n" for a, b, c in more))
    fastetl.convert(tmp_path / "a.csv", out, schema=UNIQUE2, on_error="skip")
    fastetl.convert(tmp_path / "b.csv", out, append=True, on_error="skip", block_size=64)
    kept0, _ = _unique_reference(first)
    base_a, base_b = {int(first[i][0]) for i in kept0}, {first[i][1] for i in kept0}
    kept, _ = _unique_reference(more, base_a, base_b)
    assert kept[:1] == [1]  # "2,x": x was kept, so left out; "2,q" is kept: row "2,y" was not
    assert np.load(out)["b"].tolist() == [first[i][1].encode() for i in kept0] + [
        more[i][1].encode() for i in kept]  # fmt: skip


@pytest.mark.parametrize("workers,block", [(1, None), (2, 256), (2, 61)])
def test_rule_rows_found_again_among_bad_rows_and_quoted_breaks(tmp_path, workers, block):
    """The rows breaking a rule are found again in their block (compiled walk): their
    lines and bytes, between bad rows, blank lines, CRLF and quoted line breaks."""
    rnd = random.Random(13)
    text, line, want = ["id,v\r\n"], 2, []  # want: (line, fields) of each reject, in order
    for i in range(1500):
        if rnd.random() < 0.05:
            text.append("\r\n")  # a blank line: not a row
            line += 1
        v = rnd.choice(["a", "b", '"c\nd"', '"x,y"', "toolong", '"p""q"'])
        ident = str(i) if rnd.random() > 0.05 else "zz"  # a bad row (not an int)
        row = f"{ident},{v}\r\n"
        value = next(csv.reader(io.StringIO(row)))[1]
        if ident == "zz" or len(value) > 2:
            want.append((line, [ident, value]))
        text.append(row)
        line += row.count("\n")
    src = tmp_path / "r.csv"
    src.write_bytes("".join(text).encode())
    schema = {"columns": [{"name": "id", "type": "int64"},
                          {"name": "v", "type": "str", "width": 8, "max_length": 2}]}  # fmt: skip
    out = tmp_path / "o.npy"
    fastetl.convert(src, out, schema=schema, on_error="reject", workers=workers, block_size=block)
    rej = json.loads(out.with_name(out.name + ".rejects.csv.json").read_text())["rejects"]
    text = out.with_name(out.name + ".rejects.csv").read_bytes().decode()
    got = list(csv.reader(io.StringIO(text)))
    assert [r["line"] for r in rej] == [w[0] for w in want]
    assert got[1:] == [w[1] for w in want]


def test_unique_set_spills_and_stays_exact():
    u = UniqueSet(limit=64)
    rnd = np.random.default_rng(4)
    seen: set[int] = set()
    for _ in range(50):
        block = rnd.integers(0, 2000, 100)
        want = []
        for x in block.tolist():
            want.append(x in seen)
            seen.add(x)
        assert u.check_add(block).tolist() == want
    assert len(u.runs) > 5  # the values went to disk, in sorted runs
    u.close()


@pytest.mark.parametrize("max_runs", [2, 3])
@pytest.mark.parametrize("kind", ["int", "bytes"])
def test_unique_runs_are_merged_and_stay_exact(max_runs, kind):
    u = UniqueSet(limit=64, max_runs=max_runs)
    rnd = np.random.default_rng(7)
    seen: set = set()
    most = 0
    for _ in range(120):
        block = rnd.integers(0, 5000, 60)
        if kind == "bytes":
            block = np.array([f"v{x}".encode() for x in block.tolist()], "S6")
        want = []
        for x in block.tolist():
            want.append(x in seen)
            seen.add(x)
        assert u.check_add(block).tolist() == want
        most = max(most, len(u.runs))
    assert most == max_runs  # runs were made, and merged each time they passed the bound
    files = sorted(os.listdir(os.path.dirname(u.paths[0])))
    assert files == sorted(os.path.basename(p) for p in u.paths)  # merged runs removed
    stored = np.concatenate([*u.mem, *u.runs]).tolist()
    assert sorted(stored) == sorted(seen) and len(stored) == len(seen)  # each value once
    assert all(r.tolist() == sorted(r.tolist()) for r in u.runs)
    u.close()


def test_unique_across_append(tmp_path):
    schema = {"columns": [{"name": "k", "type": "int64", "unique": True}]}
    (tmp_path / "a.csv").write_text("k\n1\n2\n3\n")
    (tmp_path / "b.csv").write_text("k\n3\n4\n1\n4\n5\n")
    out = tmp_path / "o.npy"
    fastetl.convert(tmp_path / "a.csv", out, schema=schema)
    with pytest.raises(fastetl.ParseError, match=r"line 2, .*'3' repeats"):
        fastetl.convert(tmp_path / "b.csv", out, append=True)
    rep = fastetl.convert(tmp_path / "b.csv", out, append=True, on_error="skip")
    assert rep.rows_skipped == 3
    assert np.load(out)["k"].tolist() == [1, 2, 3, 4, 5]
    assert _meta(out)["rule_violations"] == {"k.unique": 3}


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fastetl", *args], capture_output=True, text=True, timeout=120)


def test_check_command(tmp_path):
    text, rows = _orders(800, seed=9)
    src = tmp_path / "orders.csv"
    src.write_text(text)
    plain = {"columns": [{"name": c["name"], "type": c["type"], **({"scale": 2} if c["type"] == "decimal" else {}),
                          **({"nullable": True} if c.get("nullable") else {})} for c in ORDERS_SCHEMA["columns"]]}  # fmt: skip
    (tmp_path / "plain.json").write_text(json.dumps(plain))
    out = tmp_path / "o.npy"
    p = _cli("convert", str(src), str(out), "--schema", str(tmp_path / "plain.json"))
    assert p.returncode == 0, p.stderr
    (tmp_path / "rules.json").write_text(json.dumps(ORDERS_SCHEMA))
    p = _cli("check", str(out), "--rules", str(tmp_path / "rules.json"))
    assert p.returncode == 1, p.stderr
    counts, first = _orders_every_rule(rows)
    assert sum(counts.values()) > sum(_orders_reference(rows)[1].values())  # (overlaps exist)
    assert "first output rows" in p.stdout.splitlines()[0]
    table = {line.split()[0]: line.split()[1] for line in p.stdout.splitlines()[1:-1]}
    assert table == {k: f"{v:,}" for k, v in counts.items()}
    report = fastetl.check(out, tmp_path / "rules.json")
    assert report.violations == counts and report.first_rows == first
    # just rule keys, all kept: exit 0
    (tmp_path / "loose.json").write_text(json.dumps({"columns": [{"name": "total", "min": -1}]}))
    p = _cli("check", str(out), "--rules", str(tmp_path / "loose.json"))
    assert p.returncode == 0, p.stdout + p.stderr
    assert "0 violations" in p.stdout
    # a bad rules file: one line, exit 2 (as a bad --schema), not 1 (rows breaking rules)
    (tmp_path / "bad.json").write_text(json.dumps({"rules": [{"name": "x", "expr": "nope > 1"}]}))
    p = _cli("check", str(out), "--rules", str(tmp_path / "bad.json"))
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "unknown column 'nope'" in p.stderr
    # a misspelt rule key is refused, as a schema refuses it, not dropped
    (tmp_path / "typo.json").write_text(json.dumps({"columns": [{"name": "total", "mni": 0}]}))
    p = _cli("check", str(out), "--rules", str(tmp_path / "typo.json"))
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "'mni'" in p.stderr
    # a rules file that is not UTF-8: one line, exit 2
    (tmp_path / "latin.json").write_bytes('{"columns": [{"name": "total", "min": 0}]} é'.encode("latin-1"))
    p = _cli("check", str(out), "--rules", str(tmp_path / "latin.json"))
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "not UTF-8" in p.stderr
    assert "Traceback" not in p.stderr


def test_check_counts_a_row_under_every_rule(tmp_path):
    # row 2 breaks metodo.allowed and repeats pedido 1: it counts under both
    (tmp_path / "a.csv").write_text("pedido,metodo\n1,pix\n2,pix\n1,cash\n3,cash\n")
    schema = {"columns": [{"name": "pedido", "type": "int64"}, {"name": "metodo", "type": "category"}]}
    out = tmp_path / "o.npy"
    fastetl.convert(tmp_path / "a.csv", out, schema=schema)
    rules = {"columns": [{"name": "pedido", "unique": True},
                         {"name": "metodo", "allowed": ["pix", "boleto"]}]}  # fmt: skip
    rows = list(csv.reader(io.StringIO((tmp_path / "a.csv").read_text())))[1:]
    firsts = {}
    want_unique = [i for i, r in enumerate(rows) if firsts.setdefault(r[0], i) != i]
    want_allowed = [i for i, r in enumerate(rows) if r[1] not in ("pix", "boleto")]
    report = fastetl.check(out, rules)
    assert report.violations == {"metodo.allowed": len(want_allowed), "pedido.unique": len(want_unique)}
    assert report.first_rows == {"metodo.allowed": want_allowed, "pedido.unique": want_unique}


def test_unique_memory_setting_is_one_line(tmp_path):
    (tmp_path / "a.csv").write_text("k\n1\n")
    (tmp_path / "s.json").write_text(json.dumps({"columns": [{"name": "k", "type": "int64", "unique": True}]}))
    p = subprocess.run(
        [sys.executable, "-m", "fastetl", "convert", str(tmp_path / "a.csv"), str(tmp_path / "o.npy"),
         "--schema", str(tmp_path / "s.json")],
        capture_output=True, text=True, timeout=120,
        env={**__import__("os").environ, "FASTETL_UNIQUE_MEMORY": "abc"},
    )  # fmt: skip
    assert p.returncode == 1 and p.stderr.count("\n") == 1, p.stderr
    assert "FASTETL_UNIQUE_MEMORY" in p.stderr and "Traceback" not in p.stderr


def test_unique_and_counts_survive_resume(tmp_path):
    rnd = random.Random(8)
    vals = [rnd.randint(0, 40000) for _ in range(60000)]
    src = tmp_path / "u.csv"
    src.write_text("k,v\n" + "".join(f"{k},{k % 50}\n" for k in vals))
    schema = {"columns": [{"name": "k", "type": "int64", "unique": True},
                          {"name": "v", "type": "int64", "max": 45}]}  # fmt: skip
    whole = tmp_path / "whole" / "o.npy"
    whole.parent.mkdir()
    fastetl.convert(src, whole, schema=schema, on_error="skip", block_size=1 << 14)
    calls = 0

    def stop(done, total):
        nonlocal calls
        calls += 1
        if calls == 20:
            raise KeyboardInterrupt

    out = tmp_path / "o.npy"
    with pytest.raises(fastetl.Interrupted) as e:
        fastetl.convert(src, out, schema=schema, on_error="skip", block_size=1 << 14,
                        checkpoint_every=0.0, progress=stop)  # fmt: skip
    assert e.value.resume_rows
    rep = fastetl.convert(src, out, schema=schema, on_error="skip", block_size=1 << 14, resume=True)
    assert rep.resumed_at == e.value.resume_rows
    assert out.read_bytes() == whole.read_bytes()
    seen, kept, counts = set(), [], {"v.max": 0, "k.unique": 0}
    for k in vals:
        if k % 50 > 45:
            counts["v.max"] += 1
        elif k in seen:
            counts["k.unique"] += 1
        else:
            seen.add(k)
            kept.append(k)
    assert np.load(out)["k"].tolist() == kept
    assert _meta(out)["rule_violations"] == counts == _meta(whole)["rule_violations"]


def test_parquet_without_pyarrow_is_one_line(tmp_path):
    # pyarrow made unimportable in a real child process: the CLI names the extra, no traceback
    (tmp_path / "a.csv").write_text("k\n1\n")
    code = (
        "import sys; sys.modules['pyarrow'] = None\n"
        "from fastetl.cli import main\n"
        f"sys.exit(main(['convert', {str(tmp_path / 'a.csv')!r}, {str(tmp_path / 'o.parquet')!r}]))"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and p.stderr.count("\n") == 1, p.stderr
    assert "pyarrow" in p.stderr and "Traceback" not in p.stderr
    assert not (tmp_path / "o.parquet").exists()


def test_has_rules_is_one_function_that_loads_no_rules_for_a_schema_without(tmp_path):
    """``has_rules`` (one function: the pipeline, the API, Dask and ``fastetl.rules`` all
    ask the same) says whether a schema has column or row rules; a conversion whose schema
    has none asks it and does not load the rules package.  In a fresh process."""
    src = tmp_path / "a.csv"
    src.write_text("a,b\n1,x\n-2,y\n")
    code = (
        "import sys, fastetl, fastetl.pipeline, fastetl.api\n"
        "from fastetl.schema import Schema, has_rules\n"
        "plain = Schema.from_dict({'columns': [{'name': 'a', 'type': 'int64'},"
        " {'name': 'b', 'type': 'str', 'width': 4}]})\n"
        f"fastetl.convert({str(src)!r}, {str(tmp_path / 'o.npy')!r}, plain)\n"
        "print(has_rules(plain), 'fastetl.rules' in sys.modules)\n"
        "col = Schema.from_dict({'columns': [{'name': 'a', 'type': 'int64', 'min': 0}]})\n"
        "row = Schema.from_dict({'columns': [{'name': 'a', 'type': 'int64'}],"
        " 'rules': [{'name': 'pos', 'expr': 'a > 0'}]})\n"
        "import fastetl.rules as r, fastetl.dask as d\n"
        "print(has_rules(plain), has_rules(col), has_rules(row))\n"
        "print(r.has_rules is has_rules is fastetl.pipeline.has_rules is fastetl.api.has_rules"
        " is d.has_rules)\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == ["False False", "False True True", "True"]
    with pytest.raises(fastetl.ParseError, match="line 3"):  # (the rule is checked)
        fastetl.convert(src, tmp_path / "p.npy", {"columns": [
            {"name": "a", "type": "int64", "min": 0}, {"name": "b", "type": "str", "width": 4}]})
