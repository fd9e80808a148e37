"""The compiled Arrow decode (``bridges.record_batch``) and the Parquet export's row
groups encoded in parallel and stitched into one file, against independent readings:
``pyarrow.array`` of the values Python's ``int``/``Decimal``/``datetime``/``float``
parse from the CSV text, and pyarrow's, polars' and DuckDB's Parquet readers."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import random
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

import fastetl
from fastetl import _core, bridges
from fastetl.export import export
from fastetl.export import parquet as pqexport
from reference import listing

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
pl = pytest.importorskip("polars")

SEED = 20261206
MASKED = 70  # nullable int16 columns: their null bits fill _nulls and go on in _nulls1
BITS = 10  # flag bits: a uint16 flags field
CATS = 300  # category values: uint16 codes
DECIMALS = {  # name: (scale, texts at the edges of a scaled int64)
    "d0": (0, ["9223372036854775807", "-9223372036854775808", "0", "1", "-1"]),
    "d2": (2, ["92233720368547758.07", "-92233720368547758.08", "0.01", "-0.01", "0.00"]),
    "d18": (18, ["9.223372036854775807", "-9.223372036854775808", "0.000000000000000001",
                 "-0.000000000000000001", "0"]),
}  # fmt: skip
TZ_FORMAT = "%Y-%m-%dT%H:%M:%S%z"
SCHEMA = {
    "columns": [{"name": f"n{k}", "type": "int16", "nullable": True} for k in range(MASKED)]
    + [{"name": name, "type": "decimal", "scale": scale, "nullable": True}
       for name, (scale, _) in DECIMALS.items()]
    + [
        {"name": "u32", "type": "uint32", "nullable": True},
        {"name": "i32", "type": "int32"},
        {"name": "f32", "type": "float32", "nullable": True},
        {"name": "f64", "type": "float64"},
        {"name": "ok", "type": "bool", "nullable": True},
        {"name": "day", "type": "date", "nullable": True},
        {"name": "at", "type": "datetime", "unit": "ms", "nullable": True},
        {"name": "at_tz", "type": "datetime", "format": TZ_FORMAT, "nullable": True},
        {"name": "cat", "type": "category", "max_values": 1000, "nullable": True},
        {"name": "s", "type": "str", "width": 12, "nullable": True},
        {"name": "long", "type": "text", "nullable": True},
    ]
    + [{"name": f"b{k}", "type": "skip"} for k in range(BITS)],
    "flags": [{"name": "flags", "type": "uint16",
               "bits": [{"name": f"bit{k}", "column": f"b{k}"} for k in range(BITS)]}],
}  # fmt: skip
NAMES = [c["name"] for c in SCHEMA["columns"]]
TEXTS = ["", "a", "Zé", "東京都", "😀 emoji", "x" * 12, "ação"]


def make_rows(n: int, seed: int) -> list[list[str]]:
    rnd = random.Random(seed)

    def maybe(v: str) -> str:
        return "" if rnd.random() < 0.25 else v

    rows = []
    for _ in range(n):
        row = [maybe(str(rnd.randint(-(2**15), 2**15 - 1))) for _ in range(MASKED)]
        row += [maybe(rnd.choice(texts)) for _, texts in DECIMALS.values()]
        stamp = dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=rnd.randint(-(10**12), 10**13))
        minutes = rnd.randint(-14 * 60, 14 * 60)
        sign = "-" if minutes < 0 else "+"
        row += [
            maybe(str(rnd.randint(0, 2**32 - 1))),
            str(rnd.randint(-(2**31), 2**31 - 1)),
            maybe(repr(float(np.float32(rnd.uniform(-1e30, 1e30))))),
            repr(rnd.uniform(-1e300, 1e300)),
            maybe(rnd.choice(["true", "false"])),
            maybe(str(dt.date(1, 1, 1) + dt.timedelta(days=rnd.randint(0, 3_652_058)))),
            maybe(stamp.isoformat(timespec="milliseconds")),
            maybe(stamp.replace(microsecond=0).isoformat()
                  + f"{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"),
            maybe(f"c{rnd.randrange(CATS)}"),
            maybe(rnd.choice(TEXTS[1:])),
            maybe(rnd.choice(TEXTS[1:]) * rnd.randint(1, 50)),
        ]  # fmt: skip
        row += [rnd.choice(["true", "false"]) for _ in range(BITS)]
        rows.append(row)
    return rows


def reference(rows: list[list[str]]) -> dict[str, pa.Array]:
    """Each column as ``pa.array`` of what Python parses from the CSV text."""
    cols = {name: [r[i] for r in rows] for i, name in enumerate(NAMES)}

    def nullable(parse, texts):
        return [parse(v) if v != "" else None for v in texts]

    def utc(v: str) -> dt.datetime:
        return dt.datetime.strptime(v, TZ_FORMAT).astimezone(dt.timezone.utc)

    out = {f"n{k}": pa.array(nullable(int, cols[f"n{k}"]), pa.int16()) for k in range(MASKED)}
    for name, (scale, _) in DECIMALS.items():
        out[name] = pa.array(nullable(Decimal, cols[name]), pa.decimal128(19, scale))
    out["u32"] = pa.array(nullable(int, cols["u32"]), pa.uint32())
    out["i32"] = pa.array([int(v) for v in cols["i32"]], pa.int32())
    out["f32"] = pa.array(nullable(float, cols["f32"]), pa.float32())
    out["f64"] = pa.array([float(v) for v in cols["f64"]], pa.float64())
    out["ok"] = pa.array(nullable(lambda v: v == "true", cols["ok"]), pa.bool_())
    out["day"] = pa.array(nullable(dt.date.fromisoformat, cols["day"]), pa.date32())
    out["at"] = pa.array(nullable(dt.datetime.fromisoformat, cols["at"]), pa.timestamp("ms"))
    out["at_tz"] = pa.array(nullable(utc, cols["at_tz"]), pa.timestamp("us", tz="UTC"))
    out["cat"] = pa.array(nullable(str, cols["cat"]), pa.string())
    out["s"] = pa.array(nullable(str, cols["s"]), pa.string())
    out["long"] = pa.array(nullable(str, cols["long"]), pa.large_string())
    for k in range(BITS):
        out[f"bit{k}"] = pa.array([v == "true" for v in cols[f"b{k}"]], pa.bool_())
    return out


@pytest.fixture(scope="module")
def wide(tmp_path_factory):
    print(f"random rows with seed {SEED}")
    d = tmp_path_factory.mktemp("wide")
    rows = make_rows(1000, SEED)
    src = d / "wide.csv"
    with src.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(NAMES)
        w.writerows(rows)
    out = d / "wide.npy"
    fastetl.convert(src, out, SCHEMA)
    return out, reference(rows)


def check_table(got: pa.Table, want: dict[str, pa.Array], what: str) -> None:
    assert got.column_names == list(want), what
    for name, w in want.items():
        g = got[name].combine_chunks()
        if pa.types.is_dictionary(g.type):
            g = g.cast(pa.string())
        assert g.type == w.type, (what, name, g.type)
        assert g.equals(w), (what, name)


def test_reference_sees_the_edges(wide):
    _, want = wide
    assert want["n69"].null_count and want["d0"].null_count and want["cat"].null_count
    assert Decimal("-92233720368547758.08") in want["d2"].to_pylist()
    assert Decimal("-9.223372036854775808") in want["d18"].to_pylist()
    assert len(set(want["cat"].drop_null().to_pylist())) > 255


@pytest.mark.parametrize("rows", [1, 7, 8, 9, 64, 999, 1000])
def test_batches_equal_pyarrow_arrays_of_python_values(wide, rows):
    out, want = wide
    t = fastetl.open(out)
    batches = list(t.iter_batches(rows))
    for b in batches:
        b.validate(full=True)
    check_table(pa.Table.from_batches(batches), want, f"batches of {rows}")
    check_table(t.to_arrow(), want, "to_arrow")


def test_record_batch_of_a_slice_starting_inside_a_byte(wide):
    out, want = wide
    t = fastetl.open(out)
    got = bridges.record_batch(t._sub(13, 700))
    got.validate(full=True)
    check_table(pa.Table.from_batches([got]), {k: v[13:700] for k, v in want.items()}, "slice")


def test_str_columns_past_the_room_limit_take_the_exact_builder(wide, monkeypatch):
    out, want = wide
    monkeypatch.setattr(bridges, "_STR_ROOM", 100)  # every str column of 1000 rows passes it
    t = fastetl.open(out)
    plan = bridges._decode_plan(t, bridges.arrow_schema(t))
    assert [name for name, _, _, row in plan if row is None] == ["s", "long"]
    check_table(t.to_arrow(), want, "exact builder")


@pytest.mark.parametrize("rows", [7, 100, 1000])
def test_parquet_read_back_by_pyarrow_polars_duckdb(wide, tmp_path, rows):
    out, want = wide
    dest = tmp_path / "wide.parquet"
    export(out, dest, rows_per_batch=rows)
    meta = pq.ParquetFile(dest).metadata
    assert meta.num_rows == 1000 and meta.num_row_groups == -(-1000 // rows)
    check_table(pq.read_table(dest), want, "pyarrow")
    # each row group on its own: its offsets point at its own pages
    f = pq.ParquetFile(dest)
    for g in (0, meta.num_row_groups // 2, meta.num_row_groups - 1):
        lo = g * rows
        check_table(f.read_row_group(g), {k: v[lo : lo + rows] for k, v in want.items()}, "rg")
    got = pl.read_parquet(dest)
    for name in ("n0", "n69", "d2", "d18", "day", "at_tz", "s", "long", "bit9"):
        assert got[name].to_arrow().cast(want[name].type).equals(want[name]), name
    duckdb = pytest.importorskip("duckdb")
    count, total, nulls = duckdb.sql(
        f"select count(*), sum(n5), count(*) - count(n69) from '{dest}'"
    ).fetchall()[0]
    assert count == 1000
    assert total == pa.compute.sum(want["n5"]).as_py()
    assert nulls == want["n69"].null_count


def test_parquet_of_the_demo_equals_pyarrows_own_writer(tmp_path):
    """Row groups balanced over the threads; the file pyarrow writes from the same
    Table reads back the same."""
    from fastetl.demo import demo_schema, generate_orders

    src = tmp_path / "orders.csv"
    generate_orders(src, rows=40_000, seed=3)
    out = tmp_path / "orders.npy"
    fastetl.convert(src, out, schema=demo_schema())
    t = fastetl.open(out)
    assert len(t) * t.array.dtype.itemsize > pqexport.MIN_PARALLEL_BYTES
    dest = tmp_path / "orders.parquet"
    export(out, dest, rows_per_batch=15_000)
    groups = pq.ParquetFile(dest).metadata.num_row_groups
    w = pqexport.workers()
    assert groups % w == 0 and groups >= 3  # 3 slices asked for: a multiple of w
    theirs = tmp_path / "theirs.parquet"
    pq.write_table(t.to_arrow(), theirs)
    assert pq.read_table(dest).equals(pq.read_table(theirs))
    assert pl.read_parquet(dest).equals(pl.read_parquet(theirs))


@pytest.mark.parametrize(
    "n, itemsize, rows, w",
    [(300_000, 273, 122_000, 2), (300_000, 273, 122_000, 4), (10, 273, 3, 2),
     (1_000_000, 100, 7, 2), (123_457, 100, 1_000, 3), (50_000, 273, 100_000, 2)],
)  # fmt: skip
def test_group_rows(n, itemsize, rows, w):
    got = pqexport.group_rows(n, itemsize, rows, w)
    assert 1 <= got <= rows
    groups = -(-n // got)
    if n * itemsize >= pqexport.MIN_PARALLEL_BYTES:
        assert groups % w == 0 or groups == n  # balanced over the threads
        assert groups < w * (-(-n // (w * rows)) + 1)  # no more than needed
    else:
        assert got == rows


def test_dictionary_only_where_values_repeat():
    n = 20_000
    batch = pa.record_batch(
        {
            "unique": pa.array(np.arange(n)),
            "few": pa.array(np.arange(n) % 10),
            "cat": pa.array([str(i % 3) for i in range(n)]).dictionary_encode(),
            "s": pa.array([str(i) for i in range(n)]),
            "flag": pa.array(np.arange(n) % 2 == 0),
        }
    )
    assert pqexport.dictionary_columns(batch) == ["few", "cat", "s"]


def footers(tmp_path: Path) -> list[bytes]:
    """Footers pyarrow writes with assorted options."""
    rnd = random.Random(SEED)
    n = 3000
    table = pa.table(
        {
            "i": pa.array([rnd.randint(-(2**40), 2**40) if rnd.random() > 0.1 else None
                           for _ in range(n)]),
            "s": pa.array([rnd.choice(["a", "bb", None, "ç" * 30]) for _ in range(n)]),
            "d": pa.array([Decimal(rnd.randint(-999, 999)).scaleb(-2) for _ in range(n)],
                          pa.decimal128(19, 2)),
            "b": pa.array([rnd.random() > 0.5 for _ in range(n)]),
        },
        metadata={"k": "v" * 300},
    )  # fmt: skip
    out = []
    for i, kw in enumerate(
        [{}, {"write_page_index": True}, {"use_dictionary": False, "compression": "none"},
         {"write_statistics": False, "row_group_size": 17}, {"row_group_size": 1000}]
    ):  # fmt: skip
        path = tmp_path / f"f{i}.parquet"
        pq.write_table(table, path, **kw)
        data = path.read_bytes()
        size = int.from_bytes(data[-8:-4], "little")
        out.append(data[-8 - size : -8])
    return out


def test_row_groups_copied_unmoved_rebuild_the_footer(tmp_path):
    for footer in footers(tmp_path):
        groups, count, rows, (r0, r1, g0, g1) = _core.parquet_row_groups(footer, 0, 0)
        assert rows == 3000 and count >= 1
        head = bytes([count << 4 | 12]) if count < 15 else bytes([0xFC]) + varint(count)
        assert footer[:g0] + head + groups + footer[g1:] == footer
        assert footer[r0:r1] == varint(rows << 1)


def varint(v: int) -> bytes:
    out = bytearray()
    while True:
        out.append(v & 0x7F | (0x80 if v >= 0x80 else 0))
        v >>= 7
        if not v:
            return bytes(out)


def test_row_groups_of_what_is_not_a_footer_is_a_value_error(tmp_path):
    footer = footers(tmp_path)[1]
    for cut in range(len(footer)):  # every truncation: an error, never a read past the end
        with pytest.raises(ValueError, match="not a Parquet footer"):
            _core.parquet_row_groups(footer[:cut], 0, 0)
    for bad in (b"", b"\x00", b"\x1c" * 200, b"\x18\x7f", b"\x16\x02\x00"):
        with pytest.raises(ValueError, match="not a Parquet footer"):
            _core.parquet_row_groups(bad, 0, 0)


def test_row_groups_bool_map_elements_are_one_byte_and_sizes_bounded():
    # compact protocol: a bool map key/value is one byte, like a list element; sizes
    # past the bytes left are refused up front (a bool/bool map of 2^62 entries hung)
    code = (
        "from fastetl import _core\n"
        f"for f in ({bytes([0x1B]) + varint(1 << 62) + bytes([0x11, 0])!r},"
        f" {bytes([0x19, 0xF1]) + varint(1 << 62) + bytes([0])!r},"
        f" {bytes([0x36, 10, 0x49, 0xFC]) + varint(1 << 62) + bytes([0])!r}):\n"
        "    try:\n        _core.parquet_row_groups(f, 0, 0)\n"
        "    except ValueError as e:\n        print(e)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.count("not a Parquet footer") == 3, done
    # map<bool, i32> {true: 1, false: 2} before num_rows (5) and an empty row_groups
    footer = bytes([0x1B, 2, 0x15, 1, 2, 2, 4, 0x26, 10, 0x19, 0x0C, 0])
    assert _core.parquet_row_groups(footer, 0, 0)[1:3] == (0, 5)


def test_row_groups_refuse_strided_repeated_overflow_ordinal_and_page_index(tmp_path):
    footer = footers(tmp_path)[1]
    with pytest.raises(BufferError):  # a strided view is not read as contiguous
        _core.parquet_row_groups(memoryview(footer)[::-1], 0, 0)
    one = bytes([0x36, 10, 0x19, 0x0C])  # num_rows 5, row_groups empty
    for again in (bytes([0x06, 6, 10]), bytes([0x09, 8, 0x0C])):  # field 3 / 4 repeated
        with pytest.raises(ValueError, match="not a Parquet footer"):
            _core.parquet_row_groups(one + again + b"\x00", 0, 0)
    with pytest.raises(ValueError, match="passes int64"):
        _core.parquet_row_groups(footer, 2**63 - 2, 0)
    # two row groups with an ordinal (field 7, i16): renumbered, and refused past 32767
    groups2 = bytes([0x36, 10, 0x19, 0x2C, 0x74, 0, 0, 0x74, 0, 0, 0])
    assert _core.parquet_row_groups(groups2, 0, 5)[0] == bytes([0x74, 10, 0, 0x74, 12, 0])
    assert _core.parquet_row_groups(groups2, 0, 32766)[1] == 2
    with pytest.raises(ValueError, match="32768 row groups"):
        _core.parquet_row_groups(groups2, 0, 32767)
    table = pa.table({"i": pa.array(range(3000))})
    pq.write_table(table, tmp_path / "pi.parquet", write_page_index=True)
    data = (tmp_path / "pi.parquet").read_bytes()
    size = int.from_bytes(data[-8:-4], "little")
    with pytest.raises(ValueError, match="write_page_index=False"):
        _core.parquet_row_groups(data[-8 - size : -8], 4, 0)
    assert pqexport.properties(table.slice(0, 10))["write_page_index"] is False


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS and /proc are Linux's")
def test_row_groups_that_cannot_be_copied_for_memory_are_a_memory_error():
    # a 64 MB row group copied under an address-space limit 32 MB above what the
    # process holds: the copy's realloc fails, which is not "not a Parquet footer"
    code = textwrap.dedent(
        """
        import resource
        from fastetl import _core
        n = 64 << 20
        struct = bytes([0x88]) + VARINT + bytes(n) + b"\\x00"  # field 8: binary of n bytes
        footer = bytes([0x36, 10, 0x19, 0x1C]) + struct + b"\\x00"
        groups, count, rows, _ = _core.parquet_row_groups(footer, 0, 0)
        assert (groups == struct, count, rows) == (True, 1, 5)
        del groups
        with open("/proc/self/status") as fh:
            vm = next(int(x.split()[1]) for x in fh if x.startswith("VmSize:")) << 10
        resource.setrlimit(resource.RLIMIT_AS, (vm + (32 << 20), resource.RLIM_INFINITY))
        try:
            _core.parquet_row_groups(footer, 0, 0)
        except Exception as e:
            print(type(e).__name__, e)
        """
    ).replace("VARINT", repr(varint(64 << 20)))
    env = dict(os.environ)
    if "ASAN_OPTIONS" in env:  # (scripts/sanitize.sh --full: ASan's malloc returns NULL too)
        env["ASAN_OPTIONS"] += ":allocator_may_return_null=1"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          timeout=120)  # fmt: skip
    assert done.stdout.startswith("MemoryError "), done
    assert done.stdout.count("\n") == 1


def test_stitcher_refuses_a_footer_with_row_groups_before_num_rows():
    footer = bytes([0x49, 0x0C, 0x06, 6, 10, 0])  # row_groups (4) then num_rows (3)
    assert _core.parquet_row_groups(footer, 0, 0)[1:3] == (0, 5)
    part = b"PAR1" + footer + len(footer).to_bytes(4, "little") + b"PAR1"
    with pytest.raises(ValueError, match="cannot splice"):
        pqexport.Stitcher(io.BytesIO()).append(part)


def test_stitcher_refuses_a_part_whose_footer_differs_outside_its_row_groups():
    table = pa.table({"i": pa.array(range(2000)), "s": pa.array([str(i % 7) for i in range(2000)])})
    first = pqexport.encode(table.slice(0, 1000).to_batches()[0], {})
    second = table.slice(1000, 1000).to_batches()[0]
    same = pqexport.encode(second, {"use_dictionary": False, "compression": "none"})
    marked = bytes(first).replace(b"parquet-cpp-arrow", b"parquet-cpp-arrOw")
    assert pq.ParquetFile(pa.BufferReader(marked)).metadata.created_by.startswith(
        "parquet-cpp-arrOw"
    )
    for other in (
        pqexport.encode(second.cast(pa.schema([("i", pa.int32()), ("s", pa.string())])), {}),
        pqexport.encode(second.replace_schema_metadata({"k": "v"}), {}),
        marked,
    ):
        stitch = pqexport.Stitcher(io.BytesIO())
        stitch.append(first)
        stitch.append(same)  # other encodings, the same schema: one footer serves both
        with pytest.raises(ValueError, match="part 3 differs from the first outside its row "):
            stitch.append(other)


def test_stitched_offsets_are_the_parts_moved(tmp_path):
    table = pa.table({"i": pa.array(range(3000)), "s": pa.array([str(i % 7) for i in range(3000)])})
    parts = [pqexport.encode(table.slice(lo, 1000).to_batches()[0], {}) for lo in (0, 1000, 2000)]
    dest = tmp_path / "stitched.parquet"
    with open(dest, "wb") as fh:
        stitch = pqexport.Stitcher(fh)
        for p in parts:
            stitch.append(p)
        stitch.close()
    got = pq.ParquetFile(dest).metadata
    assert got.num_rows == 3000 and got.num_row_groups == 3
    shift = 0
    for g, p in enumerate(parts):
        theirs = pq.ParquetFile(pa.BufferReader(p)).metadata.row_group(0)
        for c in range(2):
            a, b = got.row_group(g).column(c), theirs.column(c)
            assert a.data_page_offset == b.data_page_offset + shift
            assert a.dictionary_page_offset == b.dictionary_page_offset + shift
            assert a.statistics == b.statistics
        shift += len(p) - 12 - int.from_bytes(bytes(p[-8:-4]), "little")


def test_stitched_many_groups_and_a_page_index_refused(tmp_path):
    """A page index holds absolute page offsets in the body, which the stitch does not
    move: a part after the first with one is refused, not written corrupt."""
    table = pa.table({"i": pa.array(range(5000)), "s": pa.array([str(i % 7) for i in range(5000)])})
    with pytest.raises(ValueError, match="write_page_index=False"):
        stitch = pqexport.Stitcher(io.BytesIO())
        for lo in range(0, 5000, 700):
            part = table.slice(lo, 700).to_batches()[0]
            stitch.append(pqexport.encode(part, {"write_page_index": True}))
    dest = tmp_path / "stitched.parquet"
    with open(dest, "wb") as fh:
        stitch = pqexport.Stitcher(fh)
        for lo in range(0, 5000, 700):
            part = table.slice(lo, 700).to_batches()[0]
            stitch.append(pqexport.encode(part, {}))
        stitch.close()
    assert pq.read_table(dest).equals(table)
    f = pq.ParquetFile(dest, page_checksum_verification=True)
    assert f.metadata.num_row_groups == 8
    assert f.metadata.row_group(7).num_rows == 100
    assert pl.read_parquet(dest)["i"].to_list() == list(range(5000))
    duckdb = pytest.importorskip("duckdb")
    assert duckdb.sql(f"select sum(i) from '{dest}' where i >= 4000").fetchall()[0][0] == sum(
        range(4000, 5000)
    )


def test_a_bad_value_in_a_late_slice_leaves_no_file(wide, tmp_path):
    out, _ = wide
    bad = tmp_path / "bad.npy"
    bad.write_bytes(out.read_bytes())
    Path(str(bad) + ".json").write_bytes(Path(str(out) + ".json").read_bytes())
    bad.with_suffix(".text.npy").write_bytes(out.with_suffix(".text.npy").read_bytes())
    arr = np.load(bad, mmap_mode="r+")
    arr["cat"][900] = CATS + 5  # a code past the sidecar's dictionary
    arr.flush()
    del arr
    dest = tmp_path / "bad.parquet"
    before = listing(tmp_path)
    with pytest.raises(fastetl.OutputError, match="900"):
        export(bad, dest, rows_per_batch=100)
    assert listing(tmp_path) == before  # no file, no temporary file left
