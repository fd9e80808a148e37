"""Legacy encodings: detected with charset-normalizer (the ``encodings`` extra), else
cp1252 with a one-line warning when the bytes do not look like it; ``--encoding``
always wins; the choice and how it was made are in the schema's ``inferred`` facts,
the sidecar and ``fastetl infer``'s output.  Values are checked against Python's own
codecs and ``csv`` module."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from test_cli import run as run_cli

import fastetl

# (codec the file is written in, its text)
TEXTS = {
    "shift_jis": (
        "id,名前,都市\n1,山田太郎,東京\n2,佐藤花子,大阪\n3,鈴木一郎,名古屋\n4,高橋美咲,福岡\n"
    ),
    "gb18030": "编号,名称,城市\n1,张伟,北京\n2,王芳,上海\n3,李娜,广州\n4,刘洋,深圳\n",
    "cp1251": (
        "id;имя;город\n1;Иван Петров;Москва\n2;Мария Иванова;Санкт-Петербург\n3;Ольга;Омск\n"
    ),
    "euc_kr": "번호,이름,도시\n1,김철수,서울\n2,이영희,부산\n3,박민수,대구\n",
}
WESTERN = (
    "cliente;cidade;obs\nJoão;São Paulo;ações\nMaría;Niterói;não\nJosé;Maceió;à vista\n"
    "Inês;Brasília;“ótimo”\n"
)


def rows_of(text: str) -> list[list[str]]:
    delim = ";" if ";" in text.splitlines()[0] else ","
    return list(csv.reader(io.StringIO(text), delimiter=delim))


def values_of(path: Path, schema=None) -> list[list[str]]:
    table = fastetl.read_csv(path, schema)
    names = [c.name for c in (schema or fastetl.infer_schema(path)).columns]
    return [names] + [
        [str(v) for v in row] for row in zip(*(list(table[n]) for n in names), strict=True)
    ]


@pytest.mark.parametrize("codec", list(TEXTS))
def test_legacy_encodings_are_detected_with_the_extra(tmp_path, codec):
    pytest.importorskip("charset_normalizer")
    text = TEXTS[codec]
    p = tmp_path / f"{codec}.csv"
    p.write_bytes(text.encode(codec))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning: the encoding was found
        schema = fastetl.infer_schema(p)
    assert p.read_bytes().decode(schema.dialect.encoding) == text
    want = {"name": schema.dialect.encoding, "how": "charset-normalizer"}
    assert schema.inferred["encoding"] == want
    assert values_of(p, schema) == rows_of(text)


def test_western_text_stays_cp1252(tmp_path):
    p = tmp_path / "pt.csv"
    p.write_bytes(WESTERN.encode("cp1252"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        schema = fastetl.infer_schema(p)
    assert schema.dialect.encoding == "cp1252"  # the quotes are bytes 0x93 and 0x94
    assert schema.inferred["encoding"]["how"] == "not utf-8"
    assert values_of(p, schema) == rows_of(WESTERN)


WITHOUT_EXTRA = r"""
import sys
sys.modules["charset_normalizer"] = None  # the extra is not installed
from fastetl.cli import main
sys.exit(main(sys.argv[1:]))
"""


def run_without_extra(*args: str) -> tuple[int, str, str]:
    p = subprocess.run(
        [sys.executable, "-c", WITHOUT_EXTRA, *args], capture_output=True, timeout=120
    )
    err = p.stderr.decode("utf-8", "replace")
    assert "Traceback" not in err, err
    return p.returncode, p.stdout.decode("utf-8", "replace"), err


@pytest.mark.parametrize("codec", ["cp1251", "shift_jis"])
def test_without_the_extra_a_warning_line_and_the_fact(tmp_path, codec):
    """cp1252 is the guess, and the CLI says in one line that the bytes do not look like
    it; the sidecar and `fastetl infer` record the warning."""
    text = TEXTS[codec] * 3
    p = tmp_path / "in.csv"
    p.write_bytes(text.encode(codec))
    out = tmp_path / "o.npy"
    code, _, err = run_without_extra("convert", str(p), str(out))
    assert code == 0, err
    warning_lines = [ln for ln in err.splitlines() if "warning" in ln]
    assert len(warning_lines) == 1
    assert "do not look like" in warning_lines[0] and "fastetl[encodings]" in warning_lines[0]
    enc = json.load(open(str(out) + ".json"))["schema"]["inferred"]["encoding"]
    assert enc["how"] == "not utf-8" and enc["name"] in ("cp1252", "latin-1")
    assert "do not look like" in enc["warning"]
    code, stdout, err = run_without_extra("infer", str(p))
    assert code == 0, err
    assert "do not look like" in json.loads(stdout)["inferred"]["encoding"]["warning"]


def test_without_the_extra_western_text_has_no_warning(tmp_path):
    p = tmp_path / "in.csv"
    p.write_bytes((WESTERN * 4).encode("cp1252"))
    code, _, err = run_without_extra("convert", str(p), str(tmp_path / "o.npy"))
    assert code == 0, err
    assert "warning" not in err


def test_the_api_warns_once(tmp_path):
    pytest.importorskip("charset_normalizer")
    # bytes charset-normalizer cannot place and that do not look like cp1252: random
    # high bytes in runs (no legacy text has them): cp1252, and one warning
    import random

    rng = random.Random(17)
    body = b"\n".join(
        b"%d,%s" % (i, bytes(rng.choice(range(0xA0, 0x100)) for _ in range(12))) for i in range(40)
    )
    p = tmp_path / "in.csv"
    p.write_bytes(b"id,text\n" + body + b"\n")
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        schema = fastetl.infer_schema(p)
    enc = schema.inferred["encoding"]
    assert enc["how"] == "not utf-8" and enc["name"] == "latin-1"  # no byte in 0x80-0x9F
    mine = [w for w in got if issubclass(w.category, fastetl.EncodingGuessWarning)]
    assert len(mine) == 1 and str(mine[0].message) == enc["warning"]
    assert "\n" not in enc["warning"] and len(enc["warning"]) < 300


@pytest.mark.parametrize("given", ["cp1251", "koi8_r"])
def test_the_given_encoding_always_wins(tmp_path, given):
    text = TEXTS["cp1251"]
    p = tmp_path / "in.csv"
    p.write_bytes(text.encode(given))
    out = tmp_path / "o.npy"
    code, _, err = run_cli("convert", str(p), str(out), "--encoding", given)
    assert code == 0, err
    meta = json.load(open(str(out) + ".json"))
    assert meta["schema"]["dialect"]["encoding"] == given
    assert meta["schema"]["inferred"]["encoding"] == {"name": given, "how": "given"}
    table = fastetl.open(out)
    want = rows_of(text)
    assert [
        list(map(str, r)) for r in zip(*(list(table[n]) for n in want[0]), strict=True)
    ] == want[1:]


def test_utf16_with_a_bom_from_stdin(tmp_path):
    text = "nome,n\nΑθήνα,1\n東京,2\nZoë,3\n"
    out = tmp_path / "o.npy"
    code, _, err = run_cli("convert", "-", str(out), "-q", stdin=text.encode("utf-16"))
    assert code == 0, err
    meta = json.load(open(str(out) + ".json"))
    assert meta["schema"]["inferred"]["encoding"] == {"name": "utf-16", "how": "bom"}
    table = fastetl.open(out)
    assert list(table["nome"]) == [r[0] for r in rows_of(text)[1:]]


def test_a_full_pass_detects_the_encoding_of_bytes_past_the_sample(tmp_path):
    """infer_rows="all": Shift-JIS rows only between the sampled windows (an 8 MiB file,
    sampled at its head, middle and end) are found by the full pass, and the bytes
    around them decide the encoding -- not cp1252."""
    pytest.importorskip("charset_normalizer")
    names = ["山田太郎", "佐藤花子", "鈴木一郎", "高橋美咲"]
    data = bytearray(b"id,name\n")
    want = []
    while len(data) < (8 << 20):
        i = len(want)
        in_gap = (5 << 19) <= len(data) < (7 << 19)  # from 2.5 to 3.5 MiB
        name = names[i % 4] if in_gap else f"name{i}"
        data += f"{i},{name}\n".encode("shift_jis")
        want.append(name)
    p = tmp_path / "mixed.csv"
    p.write_bytes(bytes(data))
    sampled = fastetl.infer_schema(p)
    assert sampled.dialect.encoding == "utf-8"  # the sample saw ASCII only
    schema = fastetl.infer_schema(p, infer_rows="all")
    assert schema.inferred["encoding"] == {"name": schema.dialect.encoding, "how": "full pass"}
    assert list(fastetl.read_csv(p, schema)["name"]) == want
