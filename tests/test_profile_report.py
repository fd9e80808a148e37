"""The HTML report: it parses, loads nothing from anywhere, escapes every value, and
renders in a real headless Chromium (a screenshot that is not blank).

The browser test is skipped only outside CI when no Chromium is installed; in CI
(``CI`` set, as ``.ci/run`` and GitHub Actions do) a missing browser fails it.
"""

from __future__ import annotations

import csv
import html.parser
import os
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

import fastetl

EVIL = '<script>alert("x")</script>'


class _Collector(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.stack: list[str] = []
        self.closed_ok = True

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag not in ("meta", "br", "link", "img", "input"):
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.closed_ok = False
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> tuple[Path, str]:
    d = tmp_path_factory.mktemp("report")
    path = d / "evil.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow([EVIL, "valor", "cidade", "email", "quando"])
        for i in range(500):
            w.writerow([
                f"<b>{i % 7}</b>&amp;", f"{i * 1.5:.2f}", ["São Paulo", "Recife", '"Rio"'][i % 3],
                f"p{i}@mail.com", f"2024-01-{1 + i % 28:02d}",
            ])  # fmt: skip
    prof = fastetl.profile(path)
    out = d / "report.html"
    prof.save_html(out)
    return out, out.read_text(encoding="utf-8")


def test_report_parses_with_balanced_tags(report):
    _, text = report
    p = _Collector()
    p.feed(text)
    p.close()
    assert p.closed_ok and p.stack == []
    assert any(t == "svg" for t, _ in p.tags)


def test_report_escapes_every_value(report):
    _, text = report
    p = _Collector()
    p.feed(text)
    assert not any(t == "script" for t, _ in p.tags)
    assert not any(t == "b" for t, _ in p.tags)  # the <b> in values stayed text
    shown = "".join(p.text)
    assert EVIL in shown  # the column named <script>... is shown, as text
    assert "<b>3</b>&amp;" in shown


def test_report_loads_nothing_from_elsewhere(report):
    _, text = report
    p = _Collector()
    p.feed(text)
    for tag, attrs in p.tags:
        assert tag not in ("script", "link", "img", "iframe", "object", "embed", "audio", "video")
        for k, v in attrs.items():
            if k in ("src", "href", "srcset", "action", "data", "poster", "xlink:href"):
                pytest.fail(f"<{tag} {k}={v!r}>")
            assert not (k.startswith("on")), f"event handler {k} on <{tag}>"
    styles = " ".join(re.findall(r"<style>(.*?)</style>", text, re.S))
    assert "url(" not in styles and "@import" not in styles and "@font-face" not in styles
    assert "prefers-color-scheme: dark" in styles
    assert re.search(r'<meta name="viewport" content="width=device-width', text)


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _png_varies(png: bytes) -> float:
    """The share of non-zero bytes in the filtered scanlines of a PNG: a one-colour
    image filters to zeros (whatever filter each line uses), a page of text does not."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    at, idat = 8, b""
    width = height = 0
    while at < len(png):
        n, kind = struct.unpack(">I4s", png[at : at + 8])
        body = png[at + 8 : at + 8 + n]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        at += 12 + n
    raw = zlib.decompress(idat)
    stride = len(raw) // height
    assert width > 0 and stride * height == len(raw)
    # drop each line's filter byte and the first line (filtered against nothing)
    pixels = b"".join(raw[i * stride + 1 : (i + 1) * stride] for i in range(1, height))
    return (len(pixels) - pixels.count(0)) / len(pixels)


def _shoot(browser: str, page: Path, png: Path, width: int) -> bytes:
    r = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--window-size={width},1400", f"--screenshot={png}", page.as_uri()],
        capture_output=True,
        timeout=120,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr.decode(errors="replace")[-2000:]
    return png.read_bytes()


def test_report_renders_in_headless_chromium(report, tmp_path):
    browser = _chromium()
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("no Chromium in CI: .ci/run installs it (apt-get install chromium)")
        pytest.skip("no Chromium installed (CI installs it; apt-get install chromium)")
    path, _ = report
    blank = tmp_path / "blank.html"
    blank.write_text("<!DOCTYPE html><html><body></body></html>")
    control = _png_varies(_shoot(browser, blank, tmp_path / "blank.png", 1280))
    for width in (1280, 412):  # a desktop and a phone
        shot = _shoot(browser, path, tmp_path / f"r{width}.png", width)
        assert _png_varies(shot) > 0.01 > control
    r = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", path.as_uri()],
        capture_output=True,
        timeout=120,
    )
    dom = r.stdout.decode("utf-8", "replace")
    assert "Profile of evil.csv" in dom and "&lt;script&gt;" in dom
