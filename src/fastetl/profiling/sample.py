"""Stratified random samples and the estimates they give.

:func:`sample` draws, with a seed, a stratified simple random sample (without
replacement within each stratum) of a CSV or a converted ``.npy``, in two passes
over record chunks and memory bounded by the sample itself:

1. count the rows of each stratum ``N_h`` (and, for Neyman allocation, the
   standard deviation of the first estimate column in each), with the exact
   totals of the estimate columns;
2. give every row a uniform random key (one seeded generator, rows in input
   order) and keep, per stratum, the ``n_h`` rows with the smallest keys -- a
   simple random sample of ``n_h`` of its ``N_h`` rows.

Allocation of ``n = round(frac * N)``: ``proportional`` (``n_h ~ N_h``), ``sqrt``
(``n_h ~ sqrt(N_h)``: rare strata get more than their share) or ``neyman``
(``n_h ~ N_h S_h``); every stratum keeps at least ``min(2, N_h)`` rows (a
variance needs two).  Estimates per stratum and overall use the expansion
weights ``N_h / n_h``: ``total = sum N_h * mean_h``, variance
``sum N_h**2 (1 - n_h/N_h) s_h**2 / n_h``, 95% interval ``total +- 1.96 se``.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from .._version import __version__
from ..schema import Schema
from ..table import Table, _decimal_floats

ALLOCATIONS = ("proportional", "sqrt", "neyman")
Z95 = 1.959963984540054
MAX_STRATA = 100_000


class _Strata:
    """Stratum ids for the values of the strata column, in order of first appearance."""

    def __init__(self, column: str) -> None:
        self.column = column
        self.ids: dict[Any, int] = {}
        self.keys: list[Any] = []

    def codes(self, raw: np.ndarray, nulls: np.ndarray | None) -> np.ndarray:
        if raw.dtype.kind == "u" and raw.dtype.itemsize <= 2:  # category codes: a lookup
            lut = getattr(self, "_lut", None)
            if lut is None:
                lut = self._lut = np.full(1 << (8 * raw.dtype.itemsize), -1, dtype=np.int64)
            out = lut[raw]
            if nulls is not None:
                out = np.where(nulls, 0, out)
            if (out < 0).any():
                out = self._general(raw, nulls)
                ok = nulls is None or ~nulls
                lut[raw[ok]] = out[ok]
                return out
            if nulls is not None and nulls.any():
                out[nulls] = self._null_id()
            return out
        return self._general(raw, nulls)

    def _null_id(self) -> int:
        nid = self.ids.setdefault(None, len(self.keys))
        if nid == len(self.keys):
            self.keys.append(None)
        return nid

    def _general(self, raw: np.ndarray, nulls: np.ndarray | None) -> np.ndarray:
        keys = raw.astype(np.int64) if raw.dtype.kind == "b" else raw
        uniq, first, inv = np.unique(keys, return_index=True, return_inverse=True)
        inv = inv.ravel()
        local = np.empty(len(uniq), dtype=np.int64)
        for j in np.argsort(first, kind="stable").tolist():
            k = uniq[j].item() if isinstance(uniq[j], np.generic) else uniq[j]
            if k not in self.ids:
                if len(self.ids) >= MAX_STRATA:
                    raise ValueError(
                        f"column {self.column!r} has more than {MAX_STRATA:,} distinct values: "
                        "too many strata"
                    )
                self.ids[k] = len(self.keys)
                self.keys.append(k)
            local[j] = self.ids[k]
        out = local[inv]
        if nulls is not None and nulls.any():
            out[nulls] = self._null_id()
        return out


class _Sums:
    """Per stratum: count, sum and sum of squares (about a shift) of one column."""

    def __init__(self) -> None:
        self.n = np.zeros(0)
        self.s = np.zeros(0)
        self.ss = np.zeros(0)
        self.shift: float | None = None

    def _grow(self, k: int) -> None:
        if k > len(self.n):
            for name in ("n", "s", "ss"):
                a = getattr(self, name)
                setattr(self, name, np.concatenate([a, np.zeros(k - len(a))]))

    def add(self, strata: np.ndarray, x: np.ndarray, k: int) -> None:
        self._grow(k)
        ok = np.isfinite(x)
        strata, x = strata[ok], x[ok]
        if not len(x):
            return
        if self.shift is None:
            self.shift = float(x[0])
        z = x - self.shift
        self.n += np.bincount(strata, minlength=len(self.n))[: len(self.n)]
        self.s += np.bincount(strata, weights=z, minlength=len(self.n))[: len(self.n)]
        self.ss += np.bincount(strata, weights=z * z, minlength=len(self.n))[: len(self.n)]

    def totals(self, k: int) -> np.ndarray:
        self._grow(k)
        return self.s + self.n * (self.shift or 0.0)

    def stds(self, k: int) -> np.ndarray:
        self._grow(k)
        with np.errstate(invalid="ignore", divide="ignore"):
            var = (self.ss - self.s * self.s / self.n) / (self.n - 1)
        return np.sqrt(np.where(self.n > 1, np.maximum(var, 0.0), 0.0))


def allocate(sizes: np.ndarray, n: int, how: str, stds: np.ndarray | None = None) -> np.ndarray:
    """Rows to draw from each stratum of ``sizes`` rows, about ``n`` in all."""
    sizes = np.asarray(sizes, dtype=np.int64)
    if how == "proportional":
        w = sizes.astype(np.float64)
    elif how == "sqrt":
        w = np.sqrt(sizes)
    elif how == "neyman":
        assert stds is not None
        w = sizes * stds
        if not w.sum():
            w = sizes.astype(np.float64)
    else:
        raise ValueError(f"allocation must be one of {', '.join(ALLOCATIONS)}, got {how!r}")
    want = n * w / w.sum()
    out = np.floor(want).astype(np.int64)
    short = n - int(out.sum())
    if short > 0:  # largest remainders first (ties: the first stratum)
        order = np.argsort(-(want - out), kind="stable")[:short]
        out[order] += 1
    out = np.maximum(out, np.minimum(2, sizes))
    return np.minimum(out, sizes)


def _values(table: Table, records: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray | None]:
    """A column of ``records`` as stored, and its null mask (or None)."""
    table.array = records
    col = table._column(name) if name in table._columns else None
    if col is None:  # a flag bit
        return table[name], None
    raw = np.asarray(records[name])
    nulls = table.null_mask(name) if (col.nullable or col.null_in_value) else None
    return raw, nulls


def _floats(table: Table, records: np.ndarray, name: str) -> np.ndarray:
    """A numeric column as float64, NaN for nulls."""
    col = table._columns.get(name)
    raw, nulls = _values(table, records, name)
    if col is not None and col.type == "decimal":
        x = _decimal_floats(raw, col.scale or 0)
    elif col is not None and col.type in ("str", "category", "date", "datetime"):
        raise ValueError(f"column {name!r} is {col.type}: only numbers can be estimated")
    else:
        x = raw.astype(np.float64)
    if nulls is not None:
        x = np.where(nulls, np.nan, x)
    return x


class Sampler:
    """The two passes of :func:`sample` over chunks of records (see the module doc)."""

    def __init__(self, schema: Schema, strata: str, estimate: list[str]) -> None:
        self.schema = schema
        self.table = Table.from_array(
            np.zeros(0, dtype=schema.dtype()), {"schema": schema.to_dict(), "categories": {}}
        )
        for name in [strata, *estimate]:
            if name not in self.table.columns:
                raise ValueError(f"no column {name!r}; columns: {self.table.columns}")
        self.strata = _Strata(strata)
        self.estimate = list(estimate)
        self.sums = {e: _Sums() for e in estimate}
        self.rows = 0
        self._sizes = np.zeros(0, np.int64)
        # pass 2
        self.rng: np.random.Generator | None = None
        self.want: np.ndarray | None = None
        self.kept: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (keys, strata, rows)

    def _codes(self, records: np.ndarray) -> np.ndarray:
        raw, nulls = _values(self.table, records, self.strata.column)
        return self.strata.codes(raw, nulls)

    def count(self, records: np.ndarray) -> None:
        """Pass 1: stratum sizes and the sums of the estimate columns."""
        codes = self._codes(records)
        self.rows += len(records)
        k = len(self.strata.keys)
        for e in self.estimate:
            self.sums[e].add(codes, _floats(self.table, records, e), k)
        self._sizes = np.bincount(codes, minlength=k) + self.sizes

    @property
    def sizes(self) -> np.ndarray:
        """Rows of each stratum seen by pass 1."""
        k = len(self.strata.keys)
        s = self._sizes
        return np.concatenate([s, np.zeros(k - len(s), np.int64)]).astype(np.int64)

    def plan(self, frac: float, allocation: str, seed: int) -> None:
        n = int(round(frac * self.rows))
        stds = None
        if allocation == "neyman":
            if not self.estimate:
                raise ValueError("neyman allocation needs an --estimate column (it uses the first)")
            stds = self.sums[self.estimate[0]].stds(len(self.strata.keys))
        self.want = (
            allocate(self.sizes, n, allocation, stds) if self.rows else np.zeros(0, np.int64)
        )
        self.rng = np.random.default_rng(seed)
        self.kept = []
        self._bound = np.full(len(self.want), 1 << 40, dtype=np.int64)

    def draw(
        self, chunks: Any, frac: float, allocation: str, seed: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Pass 2 over ``chunks`` (the records of pass 1, in the same order): the
        sample's records and their strata.  May be called again with another seed."""
        self.plan(frac, allocation, seed)
        for records in chunks:
            self.select(records)
        return self.result()

    def select(self, records: np.ndarray) -> None:
        """Pass 2: keep the rows of smallest random key in each stratum."""
        assert self.rng is not None and self.want is not None
        keys = self.rng.integers(0, 1 << 40, size=len(records))
        codes = self._codes(records)
        if len(self.want) < len(self.strata.keys):  # pragma: no cover - pass 1 saw them all
            raise ValueError("the input changed between the two passes of the sample")
        # a row whose key is above the n_h-th smallest kept so far cannot be chosen
        maybe = np.flatnonzero(keys < self._bound[codes])
        keys, codes = keys[maybe], codes[maybe]
        pick = _smallest(keys, codes, self.want)
        self.kept.append((keys[pick], codes[pick], records[maybe[pick]]))
        self._trim()

    def _trim(self) -> None:
        """Keep only the rows that can still be chosen: the ``n_h`` smallest keys."""
        assert self.want is not None
        if len(self.kept) >= 2:
            keys = np.concatenate([k for k, _, _ in self.kept])
            codes = np.concatenate([c for _, c, _ in self.kept])
            recs = np.concatenate([r for _, _, r in self.kept])
            pick = _smallest(keys, codes, self.want)
            self.kept = [(keys[pick], codes[pick], recs[pick])]
        if self.kept:
            keys, codes, _ = self.kept[0]
            k = len(self.want)
            full = np.bincount(codes, minlength=k) >= self.want
            top = np.zeros(k, np.int64)
            np.maximum.at(top, codes, keys)
            self._bound = np.where(full, top, 1 << 40)

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """The sample's records (in input order) and their strata."""
        self._trim()
        if not self.kept:
            return np.zeros(0, dtype=self.schema.dtype()), np.zeros(0, np.int64)
        _, codes, recs = self.kept[0]
        return recs, codes

    def estimates(self, records: np.ndarray, codes: np.ndarray) -> dict[str, Any]:
        k = len(self.strata.keys)
        sizes = self.sizes
        taken = np.bincount(codes, minlength=k)
        out: dict[str, Any] = {}
        for e in self.estimate:
            x = _floats(self.table, records, e)
            ok = np.isfinite(x)
            n_h = np.bincount(codes[ok], minlength=k).astype(np.float64)
            s1 = np.bincount(codes[ok], weights=x[ok], minlength=k)
            with np.errstate(invalid="ignore", divide="ignore"):
                mean_h = np.where(n_h > 0, s1 / n_h, 0.0)
                dev = x[ok] - mean_h[codes[ok]]
                ss = np.bincount(codes[ok], weights=dev * dev, minlength=k)
                var_h = np.where(n_h > 1, ss / (n_h - 1), 0.0)
                # rows of stratum h with a value: N_h times the sample's share of them
                share = np.where(taken > 0, n_h / np.maximum(taken, 1), 0.0)
                big_n = sizes * share
                fpc = np.where(big_n > 0, 1 - n_h / np.maximum(big_n, 1e-300), 0.0)
                v_tot = np.where(
                    n_h > 0, big_n**2 * np.maximum(fpc, 0.0) * var_h / np.maximum(n_h, 1), 0.0
                )
            tot_h = big_n * mean_h
            exact = self.sums[e].totals(k)
            strata = {}
            for h, key in enumerate(self.strata.keys):
                se = math.sqrt(v_tot[h])
                nh = max(float(big_n[h]), 0.0)
                strata[_key(key, self, h)] = {
                    "rows": int(sizes[h]),
                    "sampled": int(taken[h]),
                    "weight": float(sizes[h] / taken[h]) if taken[h] else None,
                    "total": float(tot_h[h]),
                    "total_ci": [float(tot_h[h] - Z95 * se), float(tot_h[h] + Z95 * se)],
                    "mean": float(mean_h[h]) if n_h[h] else None,
                    "mean_ci": (
                        [float(mean_h[h] - Z95 * se / nh), float(mean_h[h] + Z95 * se / nh)]
                        if n_h[h] and nh
                        else None
                    ),
                    "exact_total": float(exact[h]),
                }
            total = float(tot_h.sum())
            se = math.sqrt(float(v_tot.sum()))
            n_all = float(big_n.sum())
            out[e] = {
                "overall": {
                    "total": total,
                    "total_ci": [total - Z95 * se, total + Z95 * se],
                    "mean": total / n_all if n_all else None,
                    "mean_ci": (
                        [(total - Z95 * se) / n_all, (total + Z95 * se) / n_all] if n_all else None
                    ),
                },
                "exact_total": float(exact.sum()),
                "exact_mean": float(exact.sum() / self.sums[e].n.sum())
                if self.sums[e].n.sum()
                else None,
                "strata": strata,
            }
        return out


def _smallest(keys: np.ndarray, codes: np.ndarray, want: np.ndarray) -> np.ndarray:
    """Indices (ascending) of the ``want[h]`` smallest ``keys`` of each stratum ``h``."""
    order = np.argsort((codes << 40) | keys, kind="stable")  # by stratum, then key
    sc = codes[order]
    starts = np.searchsorted(sc, np.arange(len(want)))
    rank = np.arange(len(sc)) - starts[sc]
    pick = order[rank < want[sc]]
    pick.sort()
    return pick


def _key(key: Any, sampler: Sampler, h: int) -> str:
    """A stratum's value as text (a category's code as its value)."""
    if key is None:
        return "(null)"
    cats = getattr(sampler, "categories", None) or {}
    words = cats.get(sampler.strata.column)
    if words is not None and isinstance(key, int) and key < len(words):
        return str(words[key])
    if isinstance(key, bytes):
        return key.rstrip(b"\0").decode("utf-8", "replace")
    if isinstance(key, np.datetime64):
        return str(key)
    return str(key)


def _check(strata: Any, frac: Any, allocation: str, seed: Any) -> None:
    if not isinstance(strata, str) or not strata:
        raise ValueError("strata must be a column name")
    if isinstance(frac, bool) or not isinstance(frac, (int, float)) or not 0 < frac <= 1:
        raise ValueError(f"frac must be a number in (0, 1], got {frac!r}")
    if allocation not in ALLOCATIONS:
        raise ValueError(f"allocation must be one of {', '.join(ALLOCATIONS)}, got {allocation!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a whole number >= 0, got {seed!r}")


def sample_array(
    records: np.ndarray,
    meta: dict[str, Any],
    strata: str,
    frac: float,
    *,
    seed: int = 0,
    allocation: str = "proportional",
    estimate: list[str] | tuple[str, ...] = (),
    chunk_rows: int = 1 << 16,
) -> tuple[np.ndarray, dict[str, Any]]:
    """:func:`sample` of records already at hand (a Table's ``array`` and ``meta``)."""
    _check(strata, frac, allocation, seed)
    sch = Schema.from_dict(meta["schema"])
    s = Sampler(sch, strata, list(estimate))
    s.categories = meta.get("categories", {})  # type: ignore[attr-defined]
    for at in range(0, len(records), chunk_rows):
        s.count(records[at : at + chunk_rows])
    chunks = (records[at : at + chunk_rows] for at in range(0, len(records), chunk_rows))
    recs, codes = s.draw(chunks, frac, allocation, seed)
    info = {
        "strata": strata,
        "frac": frac,
        "seed": seed,
        "allocation": allocation,
        "rows": int(len(recs)),
        "population": int(s.rows),
        "estimates": s.estimates(recs, codes),
    }
    return recs, info


def write_sample(
    records: np.ndarray, meta: dict[str, Any], info: dict[str, Any], out: str | os.PathLike[str]
) -> None:
    """Write sampled records as a converted ``.npy`` with its sidecar (readable by
    :func:`fastetl.open`); the sidecar's ``"sample"`` key holds ``info``."""
    from ..store import NpyWriter

    writer = NpyWriter(out, records.dtype)
    try:
        if len(records):
            writer.append(records)
        n = len(records)
        side = {
            "format": meta.get("format", 1),
            "fastetl_version": __version__,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "schema": meta["schema"],
            "rows": n,
            "source": meta.get("source") or {"path": str(info.get("source", ""))},
            "header": meta.get("header"),
            "on_error": "raise",
            "rejects": None,
            "rows_read": n,
            "rows_written": n,
            "rows_rejected": 0,
            "rows_skipped": 0,
            "categories": meta.get("categories", {}),
            "flags": meta.get("flags", {}),
            "nulls": meta.get("nulls", {}),
            "sample": info,
        }
        writer.commit(side)
    except BaseException:
        writer.abort()
        raise


def sample(
    src: Any,
    strata: str,
    frac: float,
    *,
    seed: int = 0,
    allocation: str = "proportional",
    estimate: list[str] | tuple[str, ...] = (),
    output: str | os.PathLike[str] | None = None,
    schema: Any = None,
) -> dict[str, Any]:
    """A seeded stratified sample of ``src`` (a CSV or a converted ``.npy``) by column
    ``strata``: ``frac`` of its rows, allocated as ``allocation``; written to
    ``output`` (an ``.npy`` with its sidecar) when given.  Returns what was drawn and,
    for each ``estimate`` column, the estimated total and mean per stratum and
    overall with 95% intervals, beside the exact totals."""
    from .run import csv_passes, is_npy

    _check(strata, frac, allocation, seed)
    estimate = list(estimate)
    if is_npy(src):
        t = Table(Path(src))
        recs, info = sample_array(
            t.array, t.meta, strata, frac, seed=seed, allocation=allocation, estimate=estimate
        )
        meta = t.meta
    else:  # two passes through the pipeline; memory: its blocks and the sample
        sampler: Sampler | None = None

        def first(sch: Schema) -> Any:
            nonlocal sampler
            sampler = Sampler(sch, strata, estimate)
            return sampler.count

        def second(sch: Schema) -> Any:
            assert sampler is not None
            sampler.plan(frac, allocation, seed)
            return sampler.select

        meta = csv_passes(src, schema, [first, second])
        assert sampler is not None
        sampler.categories = meta["categories"]  # type: ignore[attr-defined]
        recs, codes = sampler.result()
        info = {
            "strata": strata,
            "frac": frac,
            "seed": seed,
            "allocation": allocation,
            "rows": int(len(recs)),
            "population": int(sampler.rows),
            "estimates": sampler.estimates(recs, codes),
        }
    info["source"] = str(src) if isinstance(src, (str, os.PathLike)) else "<stream>"
    if output is not None:
        write_sample(recs, meta, info, output)
        info["output"] = str(output)
    return info
