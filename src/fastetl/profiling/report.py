"""A profile's result: :class:`Profile` (its JSON) and its self-contained HTML report.

The HTML is one file: the template ``report.html.in`` (package data: inline CSS,
light and dark themes by ``prefers-color-scheme``, a layout that reflows on a
phone) filled with inline SVG charts.  No script, font, image or style sheet is
loaded from anywhere; every value from the data is HTML-escaped.
"""

from __future__ import annotations

import html
import json
import math
import os
import string
from importlib import resources
from typing import Any

from .._version import __version__


def _template() -> string.Template:
    text = resources.files("fastetl.profiling").joinpath("report.html.in").read_text("utf-8")
    return string.Template(text)


class Profile:
    """The profile of a table (see the README's "Profile" section for the JSON keys)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    @property
    def rows(self) -> int:
        return int(self.data["rows"])

    @property
    def columns(self) -> list[dict[str, Any]]:
        return list(self.data["columns"])

    def column(self, name: str) -> dict[str, Any]:
        for c in self.data["columns"]:
            if c["name"] == name:
                return c
        raise KeyError(f"no column {name!r}")

    def to_dict(self) -> dict[str, Any]:
        return json.loads(self.to_json(indent=None))

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.data, indent=indent, ensure_ascii=False, allow_nan=False)

    def to_html(self) -> str:
        return render_html(self.data)

    def save_json(self, path: str | os.PathLike[str]) -> None:
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.to_json())
            f.write("\n")

    def save_html(self, path: str | os.PathLike[str]) -> None:
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.to_html())

    def __repr__(self) -> str:
        return f"<fastetl.Profile {self.rows:,} rows, {len(self.columns)} columns>"

    def __str__(self) -> str:
        d = self.data
        lines = [
            f"{d['source']}: {d['rows']:,} rows, {len(d['columns'])} columns, "
            f"{d['bad_rows']['count']:,} bad rows, "
            f"{d['duplicate_rows']['count']:,} duplicate rows"
            + ("" if d["duplicate_rows"]["exact"] else " (estimate)"),
        ]
        w = max([len(c["name"]) for c in d["columns"]] + [6])
        lines.append(f"{'column':<{w}}  {'type':<9} {'nulls':>9} {'distinct':>10}  summary")
        for c in d["columns"]:
            lines.append(
                f"{c['name']:<{w}}  {c['type']:<9} {c['nulls']:>9,} "
                f"{('~' if not c['distinct_exact'] else '') + format(c['distinct'], ','):>10}  "
                + _summary(c)
            )
        return "\n".join(lines)


def _fmt(v: Any) -> str:
    """A value for people: numbers to 6 significant digits, None as an em dash."""
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if not math.isfinite(v):
            return str(v)
        if v != 0 and (abs(v) >= 1e15 or abs(v) < 1e-4):
            return f"{v:.4g}"
        return f"{v:,.1f}" if abs(v) >= 1e5 else f"{v:.6g}"
    return str(v)


def _summary(c: dict[str, Any]) -> str:
    parts = []
    if c.get("pii_kind"):
        parts.append(f"PII {c['pii_kind']}")
    if c.get("mean") is not None:
        parts.append(f"mean {_fmt(c['mean'])}")
    if c.get("min") is not None:
        parts.append(f"min {_fmt(c['min'])} max {_fmt(c['max'])}")
    elif c.get("top"):
        v, n = c["top"][0]
        parts.append(f"top {_fmt(v)!r} ({n:,})")
    if c.get("invalid", {}).get("count"):
        parts.append(f"{c['invalid']['count']:,} invalid")
    return ", ".join(parts)


# ---------------------------------------------------------------------------
# HTML

e = html.escape  # quote=True: safe in text and in attribute values


def _metric(label: str, value: str) -> str:
    return (
        f'<div class="card metric"><div class="v">{e(value)}</div>'
        f'<div class="k">{e(label)}</div></div>'
    )


def _bytes(n: Any) -> str:
    if not isinstance(n, (int, float)):
        return "—"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000
    return "—"  # pragma: no cover


def _hist_svg(h: dict[str, Any]) -> str:
    counts = h["counts"]
    if not counts:
        return ""
    top = max(counts) or 1
    w, hgt, n = 300, 110, len(counts)
    bw = w / n
    bars = []
    for i, c in enumerate(counts):
        bh = 90 * c / top
        lo, hi = h["edges"][i], h["edges"][i + 1]
        bars.append(
            f'<rect class="bar" x="{i * bw + 0.5:.2f}" y="{92 - bh:.2f}" '
            f'width="{max(bw - 1, 0.5):.2f}" height="{bh:.2f}">'
            f"<title>{e(_fmt(lo))} – {e(_fmt(hi))}: {c:,}</title></rect>"
        )
    lo, hi = _fmt(h["edges"][0]), _fmt(h["edges"][-1])
    return (
        f'<svg viewBox="0 0 {w} {hgt}" role="img" aria-label="histogram">'
        + "".join(bars)
        + f'<text class="axis" x="0" y="106">{e(lo)}</text>'
        f'<text class="axis" x="{w}" y="106" text-anchor="end">{e(hi)}</text></svg>'
        f'<div class="sub">histogram: counts {e(h.get("counts_from", ""))}</div>'
    )


def _top_svg(top: list[list[Any]], count: int) -> str:
    if not top:
        return ""
    rows = top[:8]
    most = max(n for _, n in rows) or 1
    w, rh = 300, 18
    parts = []
    for i, (v, n) in enumerate(rows):
        y = i * rh
        bw = 85 * n / most
        label = _fmt(v)
        if len(label) > 19:
            label = label[:18] + "…"
        share = f" ({100 * n / count:.1f}%)" if count else ""
        parts.append(
            f'<text class="lbl" x="0" y="{y + 13}">{e(label)}</text>'
            f'<rect class="bar" x="125" y="{y + 3}" width="{bw:.2f}" height="{rh - 6}"/>'
            f'<text class="axis" x="{w}" y="{y + 13}" text-anchor="end">{e(f"{n:,}{share}")}</text>'
        )
    return (
        f'<svg viewBox="0 0 {w} {rh * len(rows)}" role="img" aria-label="top values">'
        + "".join(parts)
        + "</svg>"
    )


def _null_svg(nulls: int, total: int) -> str:
    if not total:
        return ""
    share = nulls / total
    return (
        '<svg viewBox="0 0 300 8" role="img" aria-label="nulls">'
        '<rect class="bar" x="0" y="0" width="300" height="8" opacity="0.35"/>'
        f'<rect class="null" x="0" y="0" width="{300 * share:.2f}" height="8"/></svg>'
    )


def _row(k: str, v: Any) -> str:
    return f'<tr><th>{e(k)}</th><td class="n">{e(_fmt(v))}</td></tr>'


def _column_card(c: dict[str, Any]) -> str:
    total = c["count"] + c["nulls"]
    badges = f'<span class="badge">{e(c["type"])}</span>'
    if c.get("pii_kind"):
        badges += f'<span class="badge pii">PII: {e(c["pii_kind"])}</span>'
    rows = [
        _row("count", c["count"]),
        _row("nulls", c["nulls"]),
        _row("distinct" + ("" if c["distinct_exact"] else " (estimate)"), c["distinct"]),
    ]
    inv = c.get("invalid", {})
    if inv.get("count"):
        rows.append(_row("invalid values", inv["count"]))
    for k in ("min", "max", "mean", "std"):
        if k in c and not (k in ("min", "max") and c.get("redacted")):
            # (a text value longer than Limits.value_prefix bytes: its start, said so)
            rows.append(_row(k + (" (cut: its start)" if c.get(k + "_cut") else ""), c.get(k)))
    q = c.get("quantiles") or {}
    if q and not c.get("redacted"):
        for k in ("p1", "p25", "p50", "p75", "p99"):
            if k in q:
                rows.append(_row(k + ("" if c.get("quantiles_exact") else " ≈"), q[k]))
    ln = c.get("lengths")
    if ln:
        rows.append(
            _row("length min / mean / max", f"{ln['min']} / {ln['mean']:.1f} / {ln['max']}")
        )
    body = [
        f'<div class="card"><h3>{e(c["name"])}{badges}</h3>',
        _null_svg(c["nulls"], total),
        f"<table>{''.join(rows)}</table>",
    ]
    if c.get("histogram"):
        body.append(_hist_svg(c["histogram"]))
    elif c.get("top"):
        body.append(_top_svg(c["top"], c["count"]))
        if not c.get("top_exact", True):
            body.append(
                f'<div class="sub">top counts within {c.get("top_error", 0):,} of the truth</div>'
            )
        if c.get("top_cut"):  # (values kept as their first Limits.value_prefix bytes)
            body.append('<div class="sub">the longest top values are cut (their start)</div>')
    pii = c.get("pii") or {}
    if pii:
        items = []
        for kind, p in pii.items():
            ex = ", ".join(p.get("examples", []))
            items.append(
                f"<li><strong>{e(kind)}</strong>: {p['count']:,} values ({100 * p['share']:.1f}%)"
                + (f' — <span class="sub">{e(ex)}</span>' if ex else "")
                + "</li>"
            )
        body.append(f'<ul class="pii-list">{"".join(items)}</ul>')
    if c.get("redacted"):
        body.append('<div class="sub warn">personal data: raw values are not shown</div>')
    body.append("</div>")
    return "".join(body)


def _corr_table(corr: dict[str, dict[str, Any]]) -> str:
    names = list(corr)
    if len(names) < 2:
        return ""
    head = "".join(f"<th>{e(n)}</th>" for n in names)
    rows = []
    for a in names:
        cells = []
        for b in names:
            r = corr[a].get(b)
            if r is None:
                cells.append("<td>—</td>")
                continue
            rgb = "var(--pos)" if r >= 0 else "var(--neg)"
            cells.append(f'<td style="background: rgba({rgb}, {abs(r) * 0.7:.2f})">{r:.2f}</td>')
        rows.append(f"<tr><th>{e(a)}</th>{''.join(cells)}</tr>")
    return (
        '<h2>Correlations (Pearson)</h2><div class="card scroll"><table class="corr">'
        f"<tr><th></th>{head}</tr>{''.join(rows)}</table></div>"
    )


def _sample_section(s: dict[str, Any] | None) -> str:
    """The estimates of a stratified sample, each beside the exact value of the full data."""
    if not s:
        return ""
    parts = [
        "<h2>Stratified sample estimates</h2>",
        f'<div class="sub">strata {e(str(s.get("strata")))}: {e(_fmt(s.get("rows")))} of '
        f"{e(_fmt(s.get('population')))} rows sampled ({e(str(s.get('allocation')))} "
        f"allocation, seed {e(str(s.get('seed')))}); 95% intervals</div>",
    ]
    for col, est in s.get("estimates", {}).items():
        o = est["overall"]
        rows = [
            "<tr><th>stratum</th><th>rows</th><th>sampled</th><th>estimated total</th>"
            "<th>95% interval</th><th>exact total</th></tr>"
        ]
        items = [("all", {**o, "rows": s.get("population"), "sampled": s.get("rows"),
                          "exact_total": est.get("exact_total")})]  # fmt: skip
        items += list(est.get("strata", {}).items())
        for name, v in items:
            lo, hi = v["total_ci"]
            inside = v.get("exact_total") is not None and lo <= v["exact_total"] <= hi
            cls = "n" if inside else "n warn"  # the exact value outside the interval
            rows.append(
                f'<tr><td class="t">{e(str(name))}</td><td class="n">{e(_fmt(v.get("rows")))}</td>'
                f'<td class="n">{e(_fmt(v.get("sampled")))}</td>'
                f'<td class="n">{e(_fmt(v["total"]))}</td>'
                f'<td class="n">{e(_fmt(lo))} – {e(_fmt(hi))}</td>'
                f'<td class="{cls}">{e(_fmt(v.get("exact_total")))}</td></tr>'
            )
        parts.append(
            f'<h3 class="est">{e(col)}</h3>'
            f'<div class="card scroll"><table>{"".join(rows)}</table></div>'
        )
    return "\n".join(parts)


def render_sample_html(info: dict[str, Any]) -> str:
    """The report of :func:`fastetl.profiling.sample`: its estimates beside the exact
    values of the full data (one self-contained HTML document)."""
    src = str(info.get("source", ""))
    body = [
        f"<h1>Stratified sample of {e(os.path.basename(src) or src)}</h1>",
        f'<div class="sub">{e(src)} · fastetl {e(__version__)}</div>',
        _sample_section(info),
        "<footer>Estimated totals use the expansion weights N_h / n_h; intervals are "
        "total ± 1.96 standard errors with the finite population correction.</footer>",
    ]
    title = f"Stratified sample of {os.path.basename(src)}"
    return _template().substitute(title=e(title), body="\n".join(body))


def render_html(d: dict[str, Any]) -> str:
    """The report of profile ``d`` as one self-contained HTML document."""
    cols = d["columns"]
    pii_cols = [c for c in cols if c.get("pii_kind")]
    bad = d["bad_rows"]
    dup = d["duplicate_rows"]
    overview = [
        _metric("rows", f"{d['rows']:,}"),
        _metric("columns", f"{len(cols):,}"),
        _metric("size", _bytes(d.get("bytes"))),
        _metric("time", f"{d.get('seconds', 0):.2f} s"),
        _metric("bad rows", f"{bad['count']:,}"),
        _metric("duplicate rows" + ("" if dup["exact"] else " (est.)"), f"{dup['count']:,}"),
        _metric("PII columns", f"{len(pii_cols):,}"),
    ]
    parts = [
        f"<h1>Profile of {e(os.path.basename(str(d['source'])) or str(d['source']))}</h1>",
        f'<div class="sub">{e(str(d["source"]))} · {e(d["format"])} · '
        f"fastetl {e(__version__)}</div>",
        "<h2>Overview</h2>",
        f'<div class="grid">{"".join(overview)}</div>',
    ]
    if pii_cols:
        lst = ", ".join(f"{e(c['name'])} ({e(c['pii_kind'])})" for c in pii_cols)
        parts.append(f'<p class="warn">Personal data found in: {lst}</p>')
    if bad["count"]:
        rs = "".join(
            f'<tr><td class="t">{e(r)}</td><td class="n">{n:,}</td></tr>'
            for r, n in bad["by_reason"].items()
        )
        parts.append(f'<h2>Bad rows</h2><div class="card scroll"><table>{rs}</table></div>')
    parts.append("<h2>Columns</h2>")
    parts.append(f'<div class="cols">{"".join(_column_card(c) for c in cols)}</div>')
    parts.append(_corr_table(d.get("correlations") or {}))
    parts.append(_sample_section(d.get("sample")))
    parts.append(
        "<footer>Exact statistics unless marked ≈ or estimate; sketches: "
        "HyperLogLog (distinct), KLL (quantiles), Misra-Gries (top values).</footer>"
    )
    title = f"Profile of {os.path.basename(str(d['source']))}"
    return _template().substitute(title=e(title), body="\n".join(parts))
