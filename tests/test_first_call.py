"""A process's first read of a plain CSV imports only what it uses: the decompressors,
tempfile, ctypes.util (which spawns ldconfig) and decimal are imported where they are
needed, and compressed input still reads (and fails in one line) in a fresh process."""

from __future__ import annotations

import bz2
import csv
import gzip
import json
import lzma
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import fastetl

# the children import the fastetl this process tests (an installed one, or a checkout's
# src/ with its core built in place), not the checkout's src/ as such
HOME = str(Path(fastetl.__file__).resolve().parents[1])
DATA = b"id,name,price\n1,ana,1.5\n2,bia,2.25\n3,caio,-3\n"
LAZY = ("bz2", "gzip", "lzma", "zipfile", "tempfile", "shutil", "ctypes.util", "decimal")
COMPRESS = {
    "gzip": gzip.compress,
    "bzip2": bz2.compress,
    "xz": lzma.compress,
    "zip": lambda b: _zip(b),
}


def _zip(data: bytes) -> bytes:
    import io

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("data.csv", data)
    return out.getvalue()


def _child(code: str, *args: str) -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([HOME, os.environ.get("PYTHONPATH", "")]))
    out = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


READ = r"""
import json, sys
before = set(sys.modules)
import fastetl
t = fastetl.read_csv(sys.argv[1])
rows = [[v.decode() if isinstance(v, bytes) else str(v) for v in r] for r in t.array.tolist()]
print(json.dumps({"new": sorted(set(sys.modules) - before), "rows": rows}))
"""


def _expected(data: bytes) -> list[list[str]]:
    rows = list(csv.reader(data.decode().splitlines()))[1:]
    return [[str(int(r[0])), r[1], str(float(r[2]))] for r in rows]


def test_a_plain_read_imports_no_decompressor(tmp_path):
    path = tmp_path / "plain.csv"
    path.write_bytes(DATA)
    got = _child(READ, str(path))
    assert got["rows"] == _expected(DATA)
    assert [m for m in LAZY if m in got["new"]] == []


@pytest.mark.parametrize("kind", sorted(COMPRESS))
def test_compressed_input_reads_in_a_fresh_process(tmp_path, kind):
    path = tmp_path / f"data.{kind}"
    path.write_bytes(COMPRESS[kind](DATA))
    assert _child(READ, str(path))["rows"] == _expected(DATA)


FAIL = r"""
import json, sys
import fastetl
try:
    fastetl.read_csv(sys.argv[1])
except fastetl.FastETLError as e:
    print(json.dumps({"type": type(e).__name__, "message": str(e)}))
"""


@pytest.mark.parametrize("kind", sorted(COMPRESS))
def test_corrupt_compressed_input_is_one_line_in_a_fresh_process(tmp_path, kind):
    payload = COMPRESS[kind](DATA * 50)
    path = tmp_path / f"cut.{kind}"
    path.write_bytes(payload[: len(payload) // 2])
    got = _child(FAIL, str(path))
    assert got["type"] == "InputError"
    assert "\n" not in got["message"] and "cut." in got["message"]


WITHOUT = r"""
import json, sys
sys.modules["_lzma"] = sys.modules["_bz2"] = None  # a Python built without them
import fastetl
try:
    t = fastetl.read_csv(sys.argv[1])
    rows = [[v.decode() if isinstance(v, bytes) else str(v) for v in r] for r in t.array.tolist()]
    print(json.dumps({"rows": rows}))
except fastetl.FastETLError as e:
    print(json.dumps({"type": type(e).__name__, "message": str(e)}))
"""


@pytest.mark.parametrize("kind", sorted(COMPRESS))
def test_a_python_without_lzma_and_bz2_reads_what_it_can(tmp_path, kind):
    # gzip and zip (deflated) read; xz and bzip2 are one line saying what is missing, not
    # a ModuleNotFoundError traceback (the lzma module was imported for every kind)
    path = tmp_path / f"data.{kind}"
    path.write_bytes(COMPRESS[kind](DATA))
    got = _child(WITHOUT, str(path))
    if kind in ("gzip", "zip"):
        assert got == {"rows": _expected(DATA)}
    else:
        module = {"xz": "lzma", "bzip2": "bz2"}[kind]
        assert got["type"] == "InputError" and "\n" not in got["message"]
        assert f"{kind}-compressed" in got["message"] and f"no {module} module" in got["message"]


# -- a warm call skips the checks of options that were not given; given ones are checked ----


@pytest.mark.parametrize(
    ("kw", "words"),
    [
        ({"decimal": "x"}, "decimal must be one of"),
        ({"thousands": ".", "decimal": "."}, "they must differ"),
        ({"true_values": ["sim"], "false_values": ["sim"]}, "sim"),
        ({"escape": "ab"}, "escape must be one ASCII character"),
        ({"ragged": "zz"}, "ragged must be"),
        ({"quote": "ab"}, "quote must be one ASCII character"),
        ({"comment": ","}, "comment and delimiter must differ"),
        ({"comment": ";", "delimiter": ";"}, "comment and delimiter must differ"),
    ],
)
def test_options_given_are_still_checked(tmp_path, kw, words):
    import fastetl

    path = tmp_path / "d.csv"
    path.write_bytes(DATA)
    import inspect

    calls = [fastetl.infer_schema]
    if set(kw) <= set(inspect.signature(fastetl.read_csv).parameters):
        calls.append(fastetl.read_csv)
    for call in calls:
        with pytest.raises(fastetl.SchemaError) as info:
            call(str(path), **kw)
        assert words in str(info.value) and "\n" not in str(info.value)


def test_no_option_given_infers_the_default_spelling(tmp_path):
    import fastetl

    path = tmp_path / "d.csv"
    path.write_bytes(DATA)
    d = fastetl.infer_schema(str(path)).dialect
    assert (d.decimal, d.thousands, d.true_values, d.false_values) == (".", None, (), ())
    assert [c.type for c in fastetl.infer_schema(str(path)).columns] == ["int8", "str", "float64"]
