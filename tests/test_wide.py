"""Wide tables (issue 14, item 6): hundreds to a hundred thousand columns.

Past ~350 columns of 16-character names the .npy header outgrows numpy.load's
default limit of 10,000 bytes (``max_header_size``, numpy >= 1.24): every fastetl
reader reads such files anyway, and the sidecar records what a plain numpy user
passes (``"numpy_load": {"max_header_size": N}``).  Past 64 KiB the header needs
.npy format 2.0 (3.0 when names are not Latin-1).  Schema checks are linear in the
number of columns, so 100,000 columns convert.
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import fastetl
from fastetl.schema import Column, Schema
from fastetl.store import npy_header, read_npy_header

NUMPY_MAX_HEADER_SIZE = 10000  # numpy.load's default max_header_size

NUMPY_HAS_LIMIT = tuple(int(x) for x in np.__version__.split(".")[:2]) >= (1, 24)


def _names(n: int, stem: str = "col") -> list[str]:
    """``n`` names; 16 characters each by default."""
    return [f"c{i:012d}_xy" if stem == "col" else f"{stem}{i:05d}" for i in range(n)]


def _csv(path: Path, names: list[str], rows: range) -> None:
    n = len(names)
    with open(path, "w", encoding="utf-8") as f:
        f.write(",".join(names) + "\n")
        for r in rows:
            f.write(",".join(str((r * 7 + i) % 100) for i in range(n)) + "\n")


def _cli(*args: str) -> tuple[int, str, str]:
    p = subprocess.run([sys.executable, "-m", "fastetl", *args], capture_output=True, timeout=300)
    err = p.stderr.decode("utf-8", "replace")
    assert "Traceback" not in err, err
    return p.returncode, p.stdout.decode("utf-8", "replace"), err


def _check_numpy_reads(out: Path, t: fastetl.Table) -> None:
    """What the sidecar tells a plain numpy user is what numpy needs."""
    meta = json.loads(out.with_name(out.name + ".json").read_text(encoding="utf-8"))
    _, _, offset = read_npy_header(out)
    if offset <= NUMPY_MAX_HEADER_SIZE:
        assert "numpy_load" not in meta
        kwargs = {}
    else:
        kwargs = meta["numpy_load"]
        assert set(kwargs) == {"max_header_size"}
        if NUMPY_HAS_LIMIT:
            with pytest.raises(ValueError, match="max_header_size"):
                np.load(out, mmap_mode="r")
    a = np.load(out, mmap_mode="r", **kwargs) if NUMPY_HAS_LIMIT else np.load(out, mmap_mode="r")
    assert a.dtype == t.array.dtype and np.array_equal(a, t.array)


@pytest.mark.parametrize("ncols, version", [(400, 1), (2000, 1), (20000, 2)])
def test_wide_files_convert_open_inspect_append_and_load_in_numpy(tmp_path, ncols, version):
    names = _names(ncols)
    assert all(len(n) == 16 for n in names)
    src, more, out = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "out.npy"
    _csv(src, names, range(3))
    _csv(more, names, range(3, 5))
    fastetl.convert(src, out)
    assert out.read_bytes()[6] == version  # .npy format 2.0 past 64 KiB of header
    t = fastetl.open(out)
    assert len(t) == 3 and t[names[-1]].tolist() == [(r * 7 + ncols - 1) % 100 for r in range(3)]
    _check_numpy_reads(out, t)
    code, text, err = _cli("inspect", str(out), "-n", "2")
    assert code == 0 and f"{out}: 3 rows" in text and names[-1] in text, err
    code, _, err = _cli("convert", str(more), str(out), "--append")
    assert code == 0, err
    t = fastetl.open(out)
    assert t[names[0]].tolist() == [(r * 7) % 100 for r in range(5)]
    _check_numpy_reads(out, t)


def test_names_beyond_latin1_use_npy_format_3(tmp_path):
    names = _names(3000, stem="列名")
    src, out = tmp_path / "a.csv", tmp_path / "out.npy"
    _csv(src, names, range(2))
    fastetl.convert(src, out)
    assert out.read_bytes()[6] == 3
    t = fastetl.open(out)
    assert list(t.array.dtype.names) == names
    _check_numpy_reads(out, t)
    code, _, err = _cli("convert", str(src), str(out), "--append")
    assert code == 0, err
    assert len(fastetl.open(out)) == 4


def _dtype_with_body(length: int) -> np.dtype:
    """A one-field dtype whose .npy header text (0 rows) is ``length`` bytes."""
    probe = npy_header(np.dtype([("x", "<i8")]), 0)
    base = len(probe.rstrip(b" \n")) - 10  # the text, without prefix and padding
    return np.dtype([("x" * (1 + length - base), "<i8")])


@pytest.mark.parametrize("length", range(65300, 65480, 9))
def test_the_header_keeps_its_version_and_size_for_any_row_count(tmp_path, length):
    """The header is reserved with 0 rows and rewritten with the count at commit: near
    the 64 KiB limit of format 1.0 both must be the same version and size."""
    dtype = _dtype_with_body(length)
    first = npy_header(dtype, 0)
    last = npy_header(dtype, 10**19, len(first))
    assert len(last) == len(first) and last[6] == first[6] and len(first) % 64 == 0
    p = tmp_path / "x.npy"
    p.write_bytes(npy_header(dtype, 2, len(first)) + np.zeros(2, dtype).tobytes())
    assert read_npy_header(p) == (dtype, 2, len(first))
    a = np.load(p, max_header_size=len(first)) if NUMPY_HAS_LIMIT else np.load(p)
    assert a.dtype == dtype and len(a) == 2


class _Counted(str):
    """A column name that counts how often it is compared."""

    calls = 0

    def __eq__(self, other: object) -> bool:
        _Counted.calls += 1
        return str.__eq__(self, other)

    __hash__ = str.__hash__


def test_schema_checks_and_binding_compare_names_a_linear_number_of_times():
    n = 3000
    names = [_Counted(x) for x in _names(n)]
    _Counted.calls = 0
    schema = Schema(tuple(Column(name=x, type="int32") for x in names))
    schema.bind(list(names))
    assert _Counted.calls < 20 * n  # was n * n / 2 per check: 4.5 million here


def test_a_repeated_name_is_named_among_100k_columns():
    names = _names(100_000)
    cols = [{"name": x, "type": "int8"} for x in names]
    cols[77_777]["name"] = names[12_345]
    with pytest.raises(fastetl.SchemaError, match=f"column name\\(s\\) \\['{names[12_345]}'\\]"):
        Schema.from_dict({"columns": cols})
    schema = Schema.from_dict({"columns": [{"name": x, "type": "int8"} for x in names]})
    header = list(names)
    header[99_999] = names[5]
    with pytest.raises(fastetl.SchemaError, match=f"repeats the name\\(s\\) \\['{names[5]}'\\]"):
        schema.bind(header)
    values = [f"v{i}" for i in range(50_000)] + ["v123"]
    with pytest.raises(fastetl.SchemaError, match="value 'v123' is listed twice"):
        Column(name="c", type="category", values=tuple(values))


def test_100k_columns_convert_and_open(tmp_path):
    """Quadratic checks made this run for hours; linear ones finish in seconds."""
    names = _names(100_000)
    src, out = tmp_path / "a.csv", tmp_path / "out.npy"
    _csv(src, names, range(2))
    fastetl.convert(src, out)  # inferred: infer, schema, bind, layout, header, sidecar
    t = fastetl.open(out)
    assert len(t.columns) == 100_000 and t[names[-1]].tolist() == [99_999 % 100, 6]
    _check_numpy_reads(out, t)


@pytest.mark.parametrize(
    "names, version",
    [
        (["a", "b"], (1, 0)),
        ([f"f{i:05d}" for i in range(6000)], (2, 0)),
        (["ação", "名前"], (3, 0)),
    ],
    ids=["narrow", "format-2", "format-3"],
)
def test_read_npy_header_reads_what_numpy_writes(tmp_path, names, version):
    dtype = np.dtype([(n, "<i2") for n in names])
    p = tmp_path / "x.npy"
    with warnings.catch_warnings():  # numpy warns that formats 2.0 and 3.0 need a newer numpy
        warnings.simplefilter("ignore", UserWarning)
        np.save(p, np.zeros(3, dtype), allow_pickle=False)
    assert tuple(p.read_bytes()[6:8]) == version
    with open(p, "rb") as fh:
        np.lib.format.read_magic(fh)
        size = 2 if version == (1, 0) else 4
        offset = 10 + size - 2 + int.from_bytes(fh.read(size), "little")
    assert read_npy_header(p) == (dtype, 3, offset)


def test_errors_about_a_wide_header_stay_short():
    names = _names(100_000)
    schema = Schema.from_dict({"columns": [{"name": x, "type": "int8"} for x in names]})
    with pytest.raises(fastetl.SchemaError) as e:
        schema.bind([*names[:-1], "other"])
    msg = str(e.value)
    assert f"['{names[-1]}'] are not in the file's header" in msg and "(100,000 in all)]" in msg
    assert len(msg) < 1000
