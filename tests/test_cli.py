"""The ``fastetl`` command, run as a real subprocess (``python -m fastetl`` and the
installed console script).  Exit codes: 0 success, 1 data error, 2 usage error;
errors are one line on stderr; never a traceback.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from reference import assert_same_records, reference_parse, listing

import fastetl
from fastetl import Schema

SCHEMA = {
    "columns": [
        {"name": "id", "type": "int64"},
        {"name": "nome", "type": "str", "width": 16},
        {"name": "preco", "type": "decimal", "scale": 2},
        {"name": "categoria", "type": "category"},
        {"name": "x", "type": "int64"},
    ]
}
CATS = ["Eletrônicos", "Livros", "Brinquedos"]
NROWS = 1234


def run(*args: str, stdin: bytes | None = None, cwd: Path | None = None, timeout: float = 120):
    p = subprocess.run(
        [sys.executable, "-m", "fastetl", *args],
        input=stdin,
        capture_output=True,
        cwd=cwd,
        timeout=timeout,
    )
    out, err = p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")
    assert "Traceback" not in err, err
    assert "Traceback" not in out, out
    return p.returncode, out, err


@pytest.fixture
def files(tmp_path: Path):
    rows = ["id,nome,preco,categoria,x"]
    for i in range(NROWS):
        rows.append(f"{i},Cliente {i},{i}.{i % 100:02d},{CATS[i % 3]},{i * 3}")
    src = tmp_path / "orders.csv"
    src.write_bytes(("\n".join(rows) + "\n").encode())
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps(SCHEMA), encoding="utf-8")
    return src, schema, tmp_path / "orders.npy"


def test_convert_then_inspect(files):
    src, schema, out = files
    code, stdout, err = run("convert", str(src), str(out), "--schema", str(schema))
    assert code == 0, err
    arr = np.load(out, mmap_mode="r")
    assert len(arr) == NROWS
    assert_same_records(
        arr, reference_parse(src.read_bytes(), Schema.from_dict(SCHEMA)), "cli convert"
    )
    assert Path(str(out) + ".json").exists()

    code, stdout, err = run("inspect", str(out))
    assert code == 0, err
    for name in ("id", "nome", "preco", "categoria", "x"):
        assert name in stdout
    for t in ("int64", "str", "decimal", "category"):
        assert t in stdout
    assert str(NROWS) in stdout or f"{NROWS:,}" in stdout
    # the first rows, decoded: names, the category's string and the decimal as a number
    assert "Cliente 0" in stdout and "Cliente 1" in stdout
    assert "Eletrônicos" in stdout and "Livros" in stdout
    assert "1.01" in stdout


def test_convert_from_stdin(files):
    src, schema, out = files
    code, _, err = run("convert", "-", str(out), "--schema", str(schema), stdin=src.read_bytes())
    assert code == 0, err
    assert len(np.load(out)) == NROWS


def test_convert_block_size_option(files):
    src, schema, out = files
    code, _, err = run("convert", str(src), str(out), "--schema", str(schema), "--block-size", "7")
    assert code == 0, err
    assert_same_records(np.load(out), fastetl.read_csv(src, schema).array, "--block-size 7")


def test_convert_workers_option(files):
    # DESIGN.md: fastetl convert IN OUT [--workers N]
    src, schema, out = files
    code, _, err = run("convert", str(src), str(out), "--schema", str(schema), "--workers", "2")
    assert code == 0, err
    assert_same_records(np.load(out), fastetl.read_csv(src, schema).array, "--workers 2")


def test_demo(tmp_path: Path):
    code, stdout, err = run("demo", "--rows", "2000", "--dir", str(tmp_path))
    assert code == 0, err
    text = stdout.lower()
    assert "rows" in text
    assert "2000" in stdout or "2,000" in stdout
    assert "mb/s" in text
    outs = sorted(tmp_path.rglob("*.npy"))
    assert outs, f"no .npy in {sorted(tmp_path.rglob('*'))}"
    arr = np.load(outs[0], mmap_mode="r")
    assert len(arr) == 2000
    assert Path(str(outs[0]) + ".json").exists()


@pytest.mark.parametrize(
    "args", [["--help"], ["convert", "--help"], ["inspect", "--help"], ["demo", "--help"]]
)
def test_help(args):
    code, stdout, err = run(*args)
    assert code == 0, err
    assert "usage" in stdout.lower()


def test_console_script_is_installed():
    exe = shutil.which("fastetl") or str(Path(sys.executable).with_name("fastetl"))
    assert os.path.exists(exe), "the fastetl console script is not installed (pip install -e .)"
    p = subprocess.run([exe, "--help"], capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert b"convert" in p.stdout


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {err!r}"
    assert lines[0].startswith("fastetl: "), lines[0]
    return lines[0]


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--bogus"],
        ["frobnicate"],
        ["convert"],
        ["convert", "in.csv"],
        ["convert", "in.csv", "out.npy", "--bogus"],
        ["convert", "in.csv", "out.npy", "--schema"],
        ["convert", "in.csv", "out.npy", "--schema", "nonexistent.json"],
        ["convert", "in.csv", "out.npy", "--schema", "schema.json", "--workers", "0"],
        ["convert", "in.csv", "out.npy", "--schema", "schema.json", "--workers", "x"],
        ["convert", "in.csv", "out.npy", "--schema", "schema.json", "--block-size", "0"],
        ["convert", "in.csv", "out.npy", "--schema", "schema.json", "--block-size", "lots"],
        ["demo", "--rows", "0"],
        ["demo", "--rows", "x"],
        ["inspect"],
    ],
)
def test_usage_errors_exit_2(tmp_path: Path, args):
    (tmp_path / "in.csv").write_bytes(b"id\n1\n")
    (tmp_path / "schema.json").write_text(json.dumps({"columns": [{"name": "id", "type": "int8"}]}))
    code, stdout, err = run(*args, cwd=tmp_path)
    assert code == 2, (code, stdout, err)
    assert err.strip(), "a usage error says what is wrong on stderr"
    assert not (tmp_path / "out.npy").exists()


def test_bad_schema_file_content_exits_2(tmp_path: Path):
    (tmp_path / "in.csv").write_bytes(b"id\n1\n")
    (tmp_path / "schema.json").write_text('{"columns": [{"name": "id", "type": "int65"}]}')
    code, _, err = run("convert", "in.csv", "out.npy", "--schema", "schema.json", cwd=tmp_path)
    assert code == 2
    _one_line(err)


def test_bad_data_exits_1_with_one_line(tmp_path: Path):
    (tmp_path / "in.csv").write_bytes(b"id,x\n1,2\n2,abc\n3,4\n")
    (tmp_path / "schema.json").write_text(
        json.dumps({"columns": [{"name": "id", "type": "int64"}, {"name": "x", "type": "int64"}]})
    )
    code, _, err = run("convert", "in.csv", "out.npy", "--schema", "schema.json", cwd=tmp_path)
    assert code == 1
    assert _one_line(err) == "fastetl: line 3, column \"x\": 'abc' is not a valid int64"
    assert listing(tmp_path) == ["in.csv", "schema.json"]


def test_structural_error_exits_1(tmp_path: Path):
    (tmp_path / "in.csv").write_bytes(b"id,x\r\n1,2\r\n2\r\n")
    (tmp_path / "schema.json").write_text(
        json.dumps({"columns": [{"name": "id", "type": "int64"}, {"name": "x", "type": "int64"}]})
    )
    code, _, err = run("convert", "in.csv", "out.npy", "--schema", "schema.json", cwd=tmp_path)
    assert code == 1
    assert _one_line(err) == "fastetl: line 3: expected 2 fields, found 1"


def test_header_mismatch_exits_with_one_line(tmp_path: Path):
    (tmp_path / "in.csv").write_bytes(b"id,extra\n1,2\n")
    (tmp_path / "schema.json").write_text(
        json.dumps({"columns": [{"name": "id", "type": "int64"}]})
    )
    code, _, err = run("convert", "in.csv", "out.npy", "--schema", "schema.json", cwd=tmp_path)
    assert code in (1, 2)
    line = _one_line(err)
    assert "extra" in line and "skip" in line


def test_missing_input_exits_1(tmp_path: Path):
    (tmp_path / "schema.json").write_text(json.dumps({"columns": [{"name": "id", "type": "int8"}]}))
    code, _, err = run("convert", "missing.csv", "out.npy", "--schema", "schema.json", cwd=tmp_path)
    assert code == 1
    assert "missing.csv" in _one_line(err)


def test_inspect_missing_file_exits_1(tmp_path: Path):
    code, _, err = run("inspect", str(tmp_path / "nope.npy"))
    assert code == 1
    _one_line(err)


def test_convert_from_stdin_with_encoding(tmp_path: Path):
    text = "nome,n\r\nSão Paulo,1\r\nCafé,2\r\n"
    (tmp_path / "schema.json").write_text(
        json.dumps(
            {
                "columns": [
                    {"name": "nome", "type": "str", "width": 12},
                    {"name": "n", "type": "int8"},
                ]
            }
        )
    )
    args = ["convert", "-", "out.npy", "--schema", "schema.json", "--encoding", "cp1252"]
    code, _, err = run(*args, stdin=text.encode("cp1252"), cwd=tmp_path)
    assert code == 0, err
    arr = np.load(tmp_path / "out.npy")
    assert arr.tolist() == [("São Paulo".encode(), 1), ("Café".encode(), 2)]
