"""pytest-benchmark micro-benchmarks: each converter kind, and the tokenizer alone.

    python -m pytest benchmarks/ --benchmark-only

Each benchmark parses an in-memory CSV of about 8 MB with ``fastetl.read_csv`` with one
worker thread (``workers=1`` when read_csv has the option; data made once per session,
deterministic), so the numbers are one thread's throughput; ``test_orders_full_threads``
adds the whole demo schema with one worker per usable CPU.  A converter benchmark's file
has four columns of one kind, so the time is that converter plus the tokenizer on a narrow
row; the tokenizer benchmark reads the 20-column demo orders with every column ``skip`` but
one ``int8`` (a schema must store something), so it measures splitting rows and fields,
quotes included.
``extra_info`` carries the MB parsed per call and the best MB/s; the summary at the end
prints MB/s for all of them.  Throughput numbers on a shared machine are indicative only.
"""

from __future__ import annotations

import inspect
import os

import numpy as np
import pytest

pytest.importorskip("pytest_benchmark")

import fastetl  # noqa: E402
from fastetl import demo  # noqa: E402

TARGET_BYTES = 8_000_000
NCOLS = 4
ROUNDS = 5


def _table(columns: list[np.ndarray]) -> bytes:
    """CSV text (header c0..cN) from per-column arrays of str."""
    header = ",".join(f"c{i}" for i in range(len(columns)))
    body = columns[0].astype(object)
    for col in columns[1:]:
        body = body + "," + col.astype(object)
    return (header + "\n" + "\n".join(body.tolist()) + "\n").encode()


def _sized(make) -> bytes:
    """Call make(rows, rng) with enough rows for about TARGET_BYTES."""
    probe = make(2000, np.random.default_rng(1))
    rows = max(1000, int(TARGET_BYTES / (len(probe) / 2000)))
    return make(rows, np.random.default_rng(12345))


# -- value generators: (rows, rng) -> array of str ---------------------------------------------
def _ints(n, rng):
    return rng.integers(-(10**12), 10**12, n).astype(str)


def _money(n, rng):  # 123.45
    cents = rng.integers(0, 10**6, n)
    units = (cents // 100).astype(str)
    return np.char.add(np.char.add(units, "."), np.char.zfill((cents % 100).astype(str), 2))


def _long_floats(n, rng):  # 0.30000000000000004: shortest repr, ~17 significant digits
    return (rng.random(n) * 10.0 ** rng.integers(-3, 4, n)).astype(str)


def _days(n, rng):
    return np.datetime64("2000-01-01") + rng.integers(0, 365 * 30, n).astype("m8[D]")


def _iso_dates(n, rng):
    return _days(n, rng).astype(str)


def _dmy_dates(n, rng):
    iso = _iso_dates(n, rng).tolist()
    return np.array([f"{s[8:10]}/{s[5:7]}/{s[0:4]}" for s in iso], dtype=object)


def _datetimes(n, rng):  # 2023-04-06T12:34:56
    secs = np.datetime64("2000-01-01T00:00:00") + rng.integers(0, 30 * 365 * 86400, n).astype(
        "m8[s]"
    )
    return secs.astype(str)


def _names(n, rng):  # "Lavínia Martins", with 10 % quoted "Souza, Ana" (comma inside)
    first = np.array(demo._FIRST_NAMES, dtype=object)[rng.integers(0, len(demo._FIRST_NAMES), n)]
    last = np.array(demo._SURNAMES, dtype=object)[rng.integers(0, len(demo._SURNAMES), n)]
    plain = first + " " + last
    quoted = '"' + last + ", " + first + '"'
    return np.where(rng.integers(0, 10, n) == 0, quoted, plain)


_CATEGORY_VALUES = [
    "Eletrônicos", "Informática", "Celulares", "Eletrodomésticos", "Casa e Cozinha", "Moda",
    "Calçados", "Beleza", "Saúde", "Esporte e Lazer", "Livros", "Games", "Brinquedos",
    "Bebês", "Pet Shop", "Automotivo", "Ferramentas", "Papelaria", "Móveis",
    "Alimentos e Bebidas",
]  # fmt: skip


def _categories(n, rng):
    return np.array(_CATEGORY_VALUES, dtype=object)[rng.integers(0, len(_CATEGORY_VALUES), n)]


def _bools(n, rng):
    return np.where(rng.integers(0, 2, n) == 1, "true", "false")


# kind -> (generator, column spec without name)
KINDS = {
    "int64": (_ints, {"type": "int64"}),
    "float64_short": (_money, {"type": "float64"}),
    "float64_long": (_long_floats, {"type": "float64"}),
    "decimal": (_money, {"type": "decimal", "scale": 2}),
    "date_iso": (_iso_dates, {"type": "date"}),
    "date_dmy": (_dmy_dates, {"type": "date", "format": "%d/%m/%Y"}),
    "datetime": (_datetimes, {"type": "datetime"}),
    "str": (_names, {"type": "str", "width": 48}),
    "category": (_categories, {"type": "category"}),
    "bool": (_bools, {"type": "bool"}),
}


@pytest.fixture(scope="session")
def kind_data():
    """kind -> (csv bytes, schema, rows), made on first use and kept for the session."""
    cache: dict[str, tuple[bytes, fastetl.Schema, int]] = {}

    def get(kind: str):
        if kind not in cache:
            gen, spec = KINDS[kind]

            def make(rows, rng):
                return _table([gen(rows, rng) for _ in range(NCOLS)])

            data = _sized(make)
            rows = data.count(b"\n") - 1
            schema = fastetl.Schema.from_dict(
                {"columns": [{"name": f"c{i}", **spec} for i in range(NCOLS)]}
            )
            cache[kind] = (data, schema, rows)
        return cache[kind]

    return get


@pytest.fixture(scope="session")
def orders_data():
    """The demo orders (about 8 MB), and a schema storing only avaliacao (int8)."""
    rows = int(TARGET_BYTES / 202)
    data = demo.generate_orders_bytes(rows, seed=0)
    columns = [
        {"name": name, "type": "skip"} if name != "avaliacao" else
        {"name": name, "type": "int8", "nullable": True}
        for name in demo.COLUMNS
    ]  # fmt: skip
    return data, fastetl.Schema.from_dict({"columns": columns}), rows


HAS_WORKERS = "workers" in inspect.signature(fastetl.read_csv).parameters
THREADS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def measure(benchmark, log, name: str, data: bytes, schema, rows: int, workers: int = 1) -> None:
    """Benchmark read_csv(data, schema) with ``workers`` threads (1: one thread's throughput)."""
    mb = len(data) / 1e6
    benchmark.extra_info["MB"] = round(mb, 3)
    benchmark.extra_info["rows"] = rows
    kwargs = {"workers": workers} if HAS_WORKERS else {}
    benchmark.extra_info["workers"] = workers if HAS_WORKERS else "n/a"
    result = benchmark.pedantic(
        fastetl.read_csv,
        args=(data, schema),
        kwargs=kwargs,
        rounds=ROUNDS,
        iterations=1,
        warmup_rounds=1,
    )
    assert len(result) == rows
    stats = getattr(getattr(benchmark, "stats", None), "stats", None)
    if stats is not None:  # None under --benchmark-disable
        benchmark.extra_info["MB/s"] = round(mb / stats.min, 1)
        log.append((name, mb, stats.min, stats.median))


@pytest.mark.parametrize("kind", list(KINDS))
def test_converter(benchmark, throughput_log, kind_data, kind):
    data, schema, rows = kind_data(kind)
    benchmark.group = "converters (4 columns of one kind)"
    measure(benchmark, throughput_log, f"converter[{kind}]", data, schema, rows)


def test_tokenizer(benchmark, throughput_log, orders_data):
    data, schema, rows = orders_data
    benchmark.group = "tokenizer (orders, 19 skip + 1 int8)"
    measure(benchmark, throughput_log, "tokenizer[orders]", data, schema, rows)


def test_orders_full(benchmark, throughput_log, orders_data):
    """The whole demo schema on the same bytes: the tokenizer plus every converter."""
    data, _, rows = orders_data
    benchmark.group = "tokenizer (orders, 19 skip + 1 int8)"
    measure(benchmark, throughput_log, "orders[demo_schema]", data, demo.demo_schema(), rows)


@pytest.mark.skipif(not HAS_WORKERS or THREADS < 2, reason="needs read_csv(workers=) and 2 CPUs")
def test_orders_full_threads(benchmark, throughput_log, orders_data):
    """The whole demo schema with one worker per usable CPU."""
    data, _, rows = orders_data
    benchmark.group = "tokenizer (orders, 19 skip + 1 int8)"
    name = f"orders[demo_schema, {THREADS} workers]"
    measure(benchmark, throughput_log, name, data, demo.demo_schema(), rows, workers=THREADS)
