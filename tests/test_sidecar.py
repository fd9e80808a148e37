"""Hand-edited or corrupt sidecars (issue 14, item 6).

Every key a reader uses is checked as strictly as a schema, so each corruption
below gives one clear error line naming the sidecar and the key -- through
``fastetl.open`` (a FastETLError, also when the columns are decoded), through
``fastetl inspect`` as a real subprocess (exit 1, one ``fastetl:`` line, no
traceback), and through ``fastetl convert --append`` as a subprocess (the same,
and the output folder byte-identical afterwards).  The sidecar format policy:
readers read formats up to theirs, refuse a newer one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastetl
from fastetl.store import SIDECAR_FORMAT, read_npy_header

SCHEMA = {
    "columns": [
        {"name": "id", "type": "int32"},
        {"name": "city", "type": "category", "nullable": True},
        {"name": "size", "type": "category", "values": ["S", "M", "L"]},
        {"name": "amount", "type": "decimal", "scale": 2},
        {"name": "note", "type": "str", "width": 8, "nullable": True},
        {"name": "pay", "type": "skip"},
    ],
    "flags": [{"name": "flags", "bits": [{"name": "pix", "column": "pay", "equals": "pix"}]}],
}
HEAD = "id,city,size,amount,note,pay\n"
CITIES = ["Lisboa", "Porto", "", "Braga", "Évora"]


def _rows(lo: int, hi: int) -> str:
    return "".join(
        f"{i},{CITIES[i % 5]},{'SML'[i % 3]},{i}.{i % 100:02d},{'n' * (i % 4)},"
        f"{'pix' if i % 2 else 'card'}\n"
        for i in range(lo, hi)
    )


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> tuple[bytes, bytes]:
    """The .npy and sidecar bytes of a small conversion with every kind of key."""
    d = tmp_path_factory.mktemp("base")
    fastetl.convert((HEAD + _rows(0, 30)).encode(), d / "out.npy", SCHEMA)
    return (d / "out.npy").read_bytes(), (d / "out.npy.json").read_bytes()


def _edit(fn: Callable[[dict[str, Any]], Any]) -> Callable[[bytes], bytes]:
    """A corruption made by editing the parsed sidecar in place."""

    def apply(raw: bytes) -> bytes:
        meta = json.loads(raw)
        fn(meta)
        return json.dumps(meta, indent=2, ensure_ascii=False).encode()

    return apply


def _set(key: str, value: Any) -> Callable[[bytes], bytes]:
    """Set ``key`` (dotted, list indexes as numbers) to ``value``; ``...`` deletes it."""

    def fn(meta: dict[str, Any]) -> None:
        *path, last = key.split(".")
        obj: Any = meta
        for k in path:
            obj = obj[int(k)] if isinstance(obj, list) else obj[k]
        if isinstance(obj, list):
            obj[int(last)] = value
        elif value is ...:
            del obj[last]
        else:
            obj[last] = value

    return _edit(fn)


def _drop_last_city(meta: dict[str, Any]) -> None:
    meta["categories"]["city"].pop()


def _dup_city(meta: dict[str, Any]) -> None:
    meta["categories"]["city"][1] = meta["categories"]["city"][0]


def _many_cities(meta: dict[str, Any]) -> None:
    meta["categories"]["city"] += [f"c{i}" for i in range(70_000)]


def _wider_id(meta: dict[str, Any]) -> None:
    meta["schema"]["columns"][0]["type"] = "int64"


def _extra_column(meta: dict[str, Any]) -> None:
    meta["schema"]["columns"].append({"name": "more", "type": "int8"})


def _rows_plus_one(meta: dict[str, Any]) -> None:
    meta["rows"] += 1


def _offset_off(meta: dict[str, Any]) -> None:
    meta["output"]["data_offset"] += 64


def _raw_rows(value: str) -> Callable[[bytes], bytes]:
    def apply(raw: bytes) -> bytes:
        out = raw.replace(b'"rows": 30,', f'"rows": {value},'.encode(), 1)
        assert out != raw
        return out

    return apply


# (case id, corruption of the sidecar bytes, what the error line must say besides the file)
CASES: list[tuple[str, Callable[[bytes], bytes], str]] = [
    ("truncated-json", lambda raw: raw[: len(raw) // 2], "not valid JSON"),
    ("empty-file", lambda raw: b"", "not valid JSON"),
    ("not-utf8", lambda raw: b"\xff\xfe" + raw, "not valid JSON"),
    ("deeply-nested", lambda raw: b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
    ("json-array", lambda raw: b"[1, 2]", "not a fastetl sidecar"),
    ("json-null", lambda raw: b"null", "not a fastetl sidecar"),
    ("format-missing", _set("format", ...), '"format"'),
    ("format-string", _set("format", "1"), '"format"'),
    ("format-zero", _set("format", 0), '"format"'),
    ("format-bool", _set("format", True), '"format"'),
    ("format-newer", _set("format", SIDECAR_FORMAT + 1), "written by a newer fastetl"),
    ("format-huge", _set("format", 10**30), "written by a newer fastetl"),
    ("schema-missing", _set("schema", ...), '"schema"'),
    ("schema-not-object", _set("schema", "int64"), '"schema"'),
    ("schema-unknown-type", _set("schema.columns.0.type", "int128"), '"schema"'),
    ("schema-columns-not-list", _set("schema.columns", {"id": "int32"}), '"schema"'),
    ("schema-other-dtype", _edit(_wider_id), '"schema"'),
    ("schema-renamed-column", _set("schema.columns.0.name", "ID"), '"schema"'),
    ("schema-extra-column", _edit(_extra_column), '"schema"'),
    ("rows-missing", _set("rows", ...), '"rows"'),
    ("rows-negative", _set("rows", -1), '"rows"'),
    ("rows-string", _set("rows", "30"), '"rows"'),
    ("rows-float", _set("rows", 30.0), '"rows"'),
    ("rows-bool", _set("rows", True), '"rows"'),
    ("rows-zero", _set("rows", 0), '"rows"'),
    ("rows-not-the-npy", _edit(_rows_plus_one), '"rows"'),
    ("rows-huge", _set("rows", 10**30), '"rows"'),
    ("rows-5000-digits", _raw_rows("9" * 5000), "not valid JSON"),
    ("categories-missing", _set("categories", ...), '"categories"'),
    ("categories-a-list", _set("categories", []), '"categories"'),
    ("categories-too-short", _edit(_drop_last_city), '"categories.city"'),
    ("categories-not-strings", _set("categories.city.0", 7), '"categories.city"'),
    ("categories-duplicate", _edit(_dup_city), '"categories.city"'),
    ("categories-not-a-category", _set("categories.amount", []), '"categories.amount"'),
    ("categories-column-missing", _set("categories.city", ...), '"categories.city"'),
    ("categories-fixed-changed", _set("categories.size", ["S", "M", "XL"]), '"categories.size"'),
    ("categories-too-many", _edit(_many_cities), '"categories.city"'),
    ("flags-not-object", _set("flags", ["pix"]), '"flags"'),
    ("flags-renamed-bit", _set("flags.flags", ["card"]), '"flags"'),
    ("nulls-not-object", _set("nulls", "NaN"), '"nulls"'),
    ("nulls-bits-wrong", _set("nulls.null_bits", ["note", "city"]), '"nulls.null_bits"'),
    ("output-not-object", _set("output", 3), '"output"'),
    ("output-offset-wrong", _edit(_offset_off), '"output.data_offset"'),
    ("output-bytes-string", _set("output.bytes", "1 KB"), '"output.bytes"'),
    ("source-not-object", _set("source", "orders.csv"), '"source"'),
    ("source-mtime-huge", _set("source.mtime", 1e300), '"source.mtime"'),
    ("source-mtime-nan", _set("source.mtime", float("nan")), '"source.mtime"'),
    ("source-size-string", _set("source.size", "big"), '"source.size"'),
    ("source-path-number", _set("source.path", 12), '"source.path"'),
    ("rows-rejected-string", _set("rows_rejected", "0"), '"rows_rejected"'),
    ("rows-read-negative", _set("rows_read", -5), '"rows_read"'),
    ("header-not-list", _set("header", "id,city"), '"header"'),
    ("on-error-unknown", _set("on_error", "ignore"), '"on_error"'),
    ("rejects-number", _set("rejects", 0), '"rejects"'),
    ("appended-not-list", _set("appended", {}), '"appended"'),
    ("appended-bad-entry", _set("appended", [{"rows_read": -1}]), '"appended[0].rows_read"'),
    ("numpy-load-bad", _set("numpy_load", {"max_header_size": "big"}), '"numpy_load'),
    ("version-not-string", _set("fastetl_version", 1.0), '"fastetl_version"'),
]
assert len(CASES) >= 25


def _make(tmp_path: Path, base: tuple[bytes, bytes], corrupt: Callable[[bytes], bytes]) -> Path:
    npy, side = base
    out = tmp_path / "out.npy"
    out.write_bytes(npy)
    (tmp_path / "out.npy.json").write_bytes(corrupt(side))
    return out


def _snapshot(folder: Path) -> dict[str, bytes]:
    """The output and its sidecar (a lock file may stay beside them)."""
    return {name: (folder / name).read_bytes() for name in ("out.npy", "out.npy.json")}


def _cli(*args: str) -> tuple[int, str, str]:
    p = subprocess.run([sys.executable, "-m", "fastetl", *args], capture_output=True, timeout=120)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def _one_line(err: str, expect: str) -> None:
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {err!r}"
    assert lines[0].startswith("fastetl: "), lines[0]
    assert "out.npy.json" in lines[0], lines[0]
    assert expect in lines[0], lines[0]


def _ids(cases: list[tuple[str, Any, str]]) -> list[str]:
    return [c[0] for c in cases]


@pytest.mark.parametrize("case, corrupt, expect", CASES, ids=_ids(CASES))
def test_open_refuses_a_corrupt_sidecar_with_one_line(tmp_path, base, case, corrupt, expect):
    out = _make(tmp_path, base, corrupt)
    with pytest.raises(fastetl.FastETLError) as e:
        t = fastetl.open(out)
        t.rows()  # decoding every column finds what opening does not look at
        t.to_pandas() if _has_pandas() else None
    msg = str(e.value)
    assert "\n" not in msg and "out.npy.json" in msg and expect in msg, msg


@pytest.mark.parametrize("case, corrupt, expect", CASES, ids=_ids(CASES))
def test_inspect_refuses_a_corrupt_sidecar_with_one_line(tmp_path, base, case, corrupt, expect):
    out = _make(tmp_path, base, corrupt)
    code, _, err = _cli("inspect", str(out))
    assert code == 1, err
    _one_line(err, expect)


@pytest.mark.parametrize("case, corrupt, expect", CASES, ids=_ids(CASES))
def test_append_refuses_a_corrupt_sidecar_and_changes_nothing(
    tmp_path, base, case, corrupt, expect
):
    out = _make(tmp_path, base, corrupt)
    more = tmp_path / "more.csv"
    more.write_text(HEAD + _rows(30, 40), encoding="utf-8")
    before = _snapshot(tmp_path)
    code, _, err = _cli("convert", str(more), str(out), "--append")
    assert code == 1, err
    _one_line(err, expect)
    assert _snapshot(tmp_path) == before


def _has_pandas() -> bool:
    try:
        import pandas  # noqa: F401
    except ImportError:
        return False
    return True


# -- what stays readable ------------------------------------------------------------


def _unknown_keys(meta: dict[str, Any]) -> None:
    # (a key of a later version; "lineage", once the example here, is now known and checked)
    meta["provenance"] = {"run": "abc", "inputs": [1, 2, 3]}
    meta["source"]["checksum"] = "sha256:00"
    meta["appended"] = [{"source": {"path": "b.csv"}, "rows_read": 0, "future": True}]


def _only_what_readers_need(meta: dict[str, Any]) -> None:
    for key in list(meta):
        if key not in ("format", "schema", "rows", "categories", "pair"):
            del meta[key]


@pytest.mark.parametrize(
    "edit", [_unknown_keys, _only_what_readers_need], ids=["unknown-keys", "minimal"]
)
def test_a_sidecar_with_unknown_or_without_optional_keys_is_read(tmp_path, base, edit):
    out = _make(tmp_path, base, _edit(edit))
    t = fastetl.open(out)
    assert t["id"].tolist() == list(range(30))
    assert t["city"].tolist()[:3] == ["Lisboa", "Porto", None]
    code, text, err = _cli("inspect", str(out))
    assert code == 0 and "30 rows" in text, err
    more = tmp_path / "more.csv"
    more.write_text(HEAD + _rows(30, 40), encoding="utf-8")
    code, _, err = _cli("convert", str(more), str(out), "--append")
    assert code == 0, err
    assert fastetl.open(out)["id"].tolist() == list(range(40))


def test_the_writer_writes_the_current_format(tmp_path, base):
    assert json.loads(base[1])["format"] == SIDECAR_FORMAT


# -- the .npy beside it ---------------------------------------------------------------


def test_a_truncated_npy_is_refused_in_one_line(tmp_path, base):
    out = tmp_path / "out.npy"
    out.write_bytes(base[0][:-40])
    (tmp_path / "out.npy.json").write_bytes(base[1])
    with pytest.raises(fastetl.OutputError, match="out.npy is truncated"):
        fastetl.open(out)
    code, _, err = _cli("inspect", str(out))
    assert code == 1 and "truncated" in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize(
    "npy",
    [b"", b"not a numpy file at all", b"\x93NUMPY\x09\x00\x10\x00", b"\x93NUMPY\x01\x00\xff\xff{"],
    ids=["empty", "text", "unknown-version", "header-past-the-end"],
)
def test_a_damaged_npy_header_is_one_output_error(tmp_path, base, npy):
    out = tmp_path / "out.npy"
    out.write_bytes(npy)
    (tmp_path / "out.npy.json").write_bytes(base[1])
    with pytest.raises(fastetl.OutputError) as e:
        fastetl.open(out)
    assert "\n" not in str(e.value) and "out.npy" in str(e.value)
    with pytest.raises(fastetl.OutputError):
        read_npy_header(out)


def test_a_sidecar_saying_zero_rows_of_a_huge_file_reads_nothing(tmp_path, base):
    """ "rows": 0 used to make fastetl read the whole .npy into memory (numpy cannot map
    zero bytes, so zero rows were read plainly).  A 2 GiB sparse .npy whose sidecar
    says 0 rows is refused in one line, and the process never holds 512 MiB."""
    pytest.importorskip("resource")
    npy, side = base
    dtype, rows, offset = read_npy_header_bytes(npy, tmp_path)
    huge = (2 << 30) // dtype.itemsize
    out = tmp_path / "out.npy"
    with open(out, "wb") as fh:
        fh.write(fastetl.store.npy_header(dtype, huge, offset))
        fh.truncate(offset + huge * dtype.itemsize)  # sparse: no disk, no memory
    meta = json.loads(side)
    meta["rows"] = 0
    meta.pop("output", None)
    meta.pop("pair", None)
    (tmp_path / "out.npy.json").write_text(json.dumps(meta))
    code = (
        "import resource, sys, fastetl\n"
        "resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))  # a safety net\n"
        "try:\n"
        "    fastetl.open(sys.argv[1])\n"
        "except fastetl.OutputError as e:\n"
        "    print(e)\n"
        "try:  # this process's own peak (ru_maxrss would carry the parent's over exec)\n"
        "    status = open('/proc/self/status').read().split('VmHWM:')[1]\n"
        "    print(int(status.split()[0]))  # KiB\n"
        "except OSError:\n"
        "    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # KiB (macOS: bytes)\n"
    )
    p = subprocess.run(
        [sys.executable, "-c", code, str(out)],
        capture_output=True,
        timeout=120,
        env={**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"},
    )
    assert p.returncode == 0 and b"Traceback" not in p.stderr, p.stderr.decode()
    message, peak = p.stdout.decode().strip().splitlines()
    assert '"rows" is 0 but out.npy holds' in message, message
    assert int(peak) < 512 << 10, f"peak RSS {int(peak) >> 10} MiB"


def read_npy_header_bytes(npy: bytes, tmp_path: Path) -> tuple[np.dtype, int, int]:
    p = tmp_path / "probe.npy"
    p.write_bytes(npy)
    try:
        return read_npy_header(p)
    finally:
        p.unlink()


def test_an_empty_table_opens_without_reading_or_mapping(tmp_path):
    out = tmp_path / "empty.npy"
    fastetl.convert(HEAD.encode(), out, SCHEMA)
    t = fastetl.open(out)
    assert len(t) == 0 and t.rows() == [] and t["city"].tolist() == []
    assert not isinstance(t.array, np.memmap)
    code, text, err = _cli("inspect", str(out))
    assert code == 0 and "0 rows" in text, err


def test_a_table_maps_its_records(tmp_path, base):
    out = _make(tmp_path, base, lambda raw: raw)
    t = fastetl.open(out)
    assert isinstance(t.array, np.memmap) and not t.array.flags.writeable
    assert np.array_equal(t.array, np.load(out, mmap_mode="r"))


def test_codes_outside_the_dictionary_name_the_row(tmp_path, base):
    out = _make(tmp_path, base, _edit(_drop_last_city))
    # the edit changes what the pair id covers, so opening refuses it at once, and says
    # which key and row (a sidecar without a pair id is checked when the column decodes)
    with pytest.raises(fastetl.OutputError, match=r'"categories.city" lists 3 values, but row 4 '):
        fastetl.open(out)
    meta = json.loads(out.with_name(out.name + ".json").read_text())
    del meta["pair"]
    out.with_name(out.name + ".json").write_text(json.dumps(meta))
    t = fastetl.open(out)  # opening reads no records: the codes are checked when decoded
    assert t["id"].tolist() == list(range(30))
    with pytest.raises(fastetl.OutputError, match=r'"categories.city" lists 3 values, but row 4 '):
        t["city"]
    with pytest.raises(fastetl.OutputError, match=r"row 4 of out.npy holds code 3"):
        t.rows(2, 6)


# -- any edit at all ------------------------------------------------------------------

_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


def _paths(obj: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [here]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*here, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj[:4]):
            out += _paths(v, (*here, i))
    return out


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_edit_of_any_key_opens_or_fails_as_a_fastetl_error(tmp_path, base, data):
    """Replace any one value of the sidecar (or delete it) by any JSON value: opening
    and decoding either work or raise a FastETLError (never another exception)."""
    meta = json.loads(base[1])
    path = data.draw(st.sampled_from(_paths(meta)[1:]))
    parent = meta
    for k in path[:-1]:
        parent = parent[k]
    if data.draw(st.booleans()) and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = data.draw(_JSON)
    out = tmp_path / "out.npy"
    out.write_bytes(base[0])
    (tmp_path / "out.npy.json").write_text(json.dumps(meta), encoding="utf-8")
    try:
        t = fastetl.open(out)
        t.rows()
        for name in t.columns:
            t[name]
    except fastetl.FastETLError as e:
        assert "\n" not in str(e), str(e)
