#!/usr/bin/env python
"""fastetl against the CSV readers users would pick instead, on every shape of file.

    python benchmarks/compare.py [--shape savetxt,ints,...] [--mode schema,infer] [--mb 200]
        [--rows N] [--threads N] [--repeat K] [--only fastetl,pyarrow,...] [--keep DIR]
        [--memory-sizes 200M,2G] [--no-check] [--no-bytecode]

What it does:

1. generates one CSV per shape (``shapes.py``: ``savetxt``, ``short-floats``, ``ints``,
   ``taxi``, ``text``, ``wide``, and ``orders``, the demo e-commerce file of
   ``fastetl.demo.generate_orders``) of about ``--mb`` megabytes from ``--seed``, cached by
   shape, size and seed in the work folder (``--rows`` sizes the orders file by rows instead);
2. checks correctness once per shape, in a child of its own: fastetl's ``convert`` and
   ``read_csv`` (with the shape's schema, and inferring one) must agree with each other and
   with ``pandas.read_csv(path)`` on the row count and on a few columns at 7 rows;
3. reads every file once to warm the page cache, and byte-compiles fastetl's modules
   (``__pycache__`` beside them), as installing a wheel does and as the other readers' are
   (``--no-bytecode``: not; then, with ``PYTHONDONTWRITEBYTECODE`` set and no bytecode left
   by an earlier run, each child compiles them, and an inferred read compiles
   ``fastetl.infer`` inside its timed call);
4. runs each reader ``--repeat`` times, round-robin over shapes, modes and readers, every run
   in a fresh interpreter (``python compare.py --run READER --shape S --mode M ...``).  The
   child imports its library and prepares its options first, waits ``--settle`` seconds
   (default 0.3: numpy's OpenBLAS threads spin for ~0.1 s after ``import numpy`` and would
   take the CPUs from a reader timed at once -- fastetl, pandas and pyarrow import numpy,
   polars and duckdb do not), then times only the read with ``time.perf_counter``, and reports its own peak resident set at the end (``VmHWM`` on
   Linux, else ``ru_maxrss``).  The parent samples the child's ``/proc/<pid>/status`` every
   few milliseconds for the anonymous part of the peak (heap, as opposed to pages of
   memory-mapped files, which Linux counts in RSS too), and the child reports the CPU time
   (user + sys, all threads) of the read;
5. prints, per shape and mode, a Markdown table: the best time of the K runs, MB/s (10**6
   bytes of CSV per second), the ratio to fastetl's best row, the check, the highest peak
   RSS of the K runs, and notes; then a summary table, shape × mode → fastetl's best MB/s,
   the fastest other reader and its MB/s, and "fastetl vs best" (above 1: fastetl faster);
6. with ``--memory-sizes``, converts orders files of those sizes with fastetl only and prints
   peak RSS against input size.

Two modes.  "schema": every reader gets the shape's column types where the tool has them
(see ``NOTES`` for the orders, ``NOTES_TYPED`` for the generated shapes).  "infer": every
reader gets the path alone (``NOTES_INFER``); fastetl infers its schema inside the timed
call.  ``numpy.loadtxt`` runs on the all-numeric shapes (and on the orders with a schema,
as before), and is "n/a" elsewhere.  A reader whose package is missing is listed as "not
installed"; a reader that fails shows its error.  Timing is end to end for what the tool
returns: fastetl's ``convert`` includes writing the .npy and its final fsync; the others
build their in-memory table.

The work folder (generated CSVs, outputs) is a temporary folder removed at the end, unless
``--keep DIR`` names one: then the CSVs stay there and are reused by later runs.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import inspect
import json
import math
import os
import platform
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_SRC = HERE.parent / "src"
MiB = 1 << 20
RESULT_MARK = "@@RESULT@@ "
if str(HERE) not in sys.path:  # shapes.py, when compare is imported (the smoke test)
    sys.path.insert(0, str(HERE))

# Reader key -> (label, modules it needs).  Order is the table's order.
READERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "fastetl-1": ("fastetl.convert, 1 thread", ("fastetl",)),
    "fastetl-N": ("fastetl.convert, N threads", ("fastetl",)),
    "fastetl-read_csv": ("fastetl.read_csv (in memory), 1 thread", ("fastetl",)),
    "fastetl-read_csv-N": ("fastetl.read_csv (in memory), N threads", ("fastetl",)),
    "pyarrow": ("pyarrow.csv.read_csv", ("pyarrow",)),
    "polars": ("polars.read_csv", ("polars",)),
    "pandas-c": ('pandas.read_csv engine="c"', ("pandas",)),
    "pandas-pyarrow": ('pandas.read_csv engine="pyarrow"', ("pandas", "pyarrow")),
    "numpy-loadtxt": ("numpy.loadtxt", ("numpy",)),
    "duckdb": ("duckdb read_csv → arrow", ("duckdb", "pyarrow")),
}
ALIASES = {
    "fastetl": ["fastetl-1", "fastetl-N"],
    "read_csv": ["fastetl-read_csv", "fastetl-read_csv-N"],
    "pandas": ["pandas-c", "pandas-pyarrow"],
    "numpy": ["numpy-loadtxt"],
    "loadtxt": ["numpy-loadtxt"],
    "all": list(READERS),
}
PACKAGES = ("fastetl", "numpy", "pyarrow", "polars", "pandas", "duckdb")

NOTES: dict[str, str] = {
    "fastetl-1": (
        "`convert(csv, .npy, demo_schema(), workers=1)` (no `workers=` if `convert` lacks "
        "it): one parsing thread; the calling thread writes the packed 273-byte records "
        "to disk (pwrite) meanwhile, a background thread syncs them, then fsync + JSON "
        "sidecar; decimals as scaled int64, categories as codes, 2 bools + 3 predicates "
        "in one flags byte"
    ),
    "fastetl-N": "same as fastetl-1 with `workers={n}`",
    "fastetl-read_csv": (
        "`read_csv(csv, demo_schema(), workers=1)`: the same records into an in-memory numpy "
        "array (no disk, no fsync)"
    ),
    "fastetl-read_csv-N": "same as fastetl-read_csv with `workers={n}`",
    "pyarrow": (
        "`column_types`: int64, date32, uint32, string, dictionary<int32,string> for the 5 "
        "category columns, decimal128(12,2), int16, bool, int8 (nullable) → arrow Table; "
        "`use_threads`, `set_cpu_count({n})`"
    ),
    "polars": (
        "`schema_overrides`: Int64, Date, UInt32, String, Enum (fixed categories) / Categorical "
        "(learned), Decimal(12,2), Int16, Boolean, Int8 → DataFrame; `POLARS_MAX_THREADS={n}`"
    ),
    "pandas-c": (
        "`dtype=`: int64, uint32, str, CategoricalDtype (fixed) / category, **float64 for the "
        "decimals**, int16, bool, Int8 (nullable); `parse_dates` + `date_format`; one thread"
    ),
    "pandas-pyarrow": (
        'same `dtype=`/`parse_dates` as pandas-c with `engine="pyarrow"` (arrow parses in '
        "{n} threads, then conversion to pandas dtypes)"
    ),
    "numpy-loadtxt": (
        "structured dtype: i8, M8[D], u4, U<width> strings (1104-byte records), **f8 for the "
        "decimals**, i2; `quotechar='\"'`; Python converters for the 2 bools (true/false) and the "
        "nullable rating (→ f8 NaN: loadtxt has no nullable ints); one thread"
    ),
    "duckdb": (
        "`read_csv(columns=...)`: BIGINT, DATE, UINTEGER, VARCHAR, ENUM (fixed categories), "
        "VARCHAR (learned category), DECIMAL(12,2), SMALLINT, BOOLEAN, TINYINT → `.arrow()` "
        "read into a pyarrow Table; `SET threads={n}`"
    ),
}

# The generated shapes with a schema: the kinds of shapes.py, per tool.
NOTES_TYPED: dict[str, str] = {
    "fastetl-1": "`convert(csv, .npy, schema, workers=1)`: {types} → .npy + sidecar, fsync",
    "fastetl-N": "same as fastetl-1 with `workers={n}`",
    "fastetl-read_csv": "`read_csv(csv, schema, workers=1)`: the same records into memory",
    "fastetl-read_csv-N": "same as fastetl-read_csv with `workers={n}`",
    "pyarrow": "`column_types`: {types} → arrow Table; `set_cpu_count({n})`",
    "polars": "`schema_overrides`: {types} → DataFrame; `POLARS_MAX_THREADS={n}`",
    "pandas-c": "`dtype=`: {types}; one thread",
    "pandas-pyarrow": 'same options as pandas-c with `engine="pyarrow"` ({n} threads)',
    "numpy-loadtxt": '`loadtxt(csv, {types}, delimiter=",", skiprows=1)`; one thread',
    "duckdb": "`read_csv(columns=...)`: {types} → `.arrow()`; `SET threads={n}`",
}
# What each column kind of shapes.py becomes, per tool (the {types} above).
KIND_TYPES: dict[str, dict[str, str]] = {
    "fastetl-1": {
        "int64": "int64", "int16": "int16", "float64": "float64",
        "money": "money as decimal (scale 2, a scaled int64)", "datetime": "datetime (µs)",
        "category": "category with fixed values (codes)", "str": "str(width) fixed bytes",
        "text": "text (any length, out of line)",
    },
    "pyarrow": {
        "int64": "int64", "int16": "int16", "float64": "float64",
        "money": "decimal128(12,2) for money", "datetime": "timestamp[s]",
        "category": "dictionary<int32,string> for categories", "str": "string", "text": "string",
    },
    "polars": {
        "int64": "Int64", "int16": "Int16", "float64": "Float64",
        "money": "Decimal(12,2) for money", "datetime": "Datetime(us)",
        "category": "Enum for categories", "str": "String", "text": "String",
    },
    "pandas-c": {
        "int64": "int64", "int16": "int16", "float64": "float64",
        "money": "**float64 for money**", "datetime": "`parse_dates` + `date_format`",
        "category": "CategoricalDtype(values)", "str": "str", "text": "str",
    },
    "duckdb": {
        "int64": "BIGINT", "int16": "SMALLINT", "float64": "DOUBLE",
        "money": "DECIMAL(12,2) for money", "datetime": "TIMESTAMP",
        "category": "ENUM for categories", "str": "VARCHAR", "text": "VARCHAR",
    },
}  # fmt: skip

# Inferred: every reader is given the path alone.
NOTES_INFER: dict[str, str] = {
    "fastetl-1": "`convert(csv, .npy, workers=1)`: schema inferred (inside the timed call)",
    "fastetl-N": "`convert(csv, .npy, workers={n})`: schema inferred",
    "fastetl-read_csv": "`read_csv(csv, workers=1)`: schema inferred, records in memory",
    "fastetl-read_csv-N": "`read_csv(csv, workers={n})`: schema inferred, records in memory",
    "pyarrow": "`pyarrow.csv.read_csv(csv)` → arrow Table; `set_cpu_count({n})`",
    "polars": "`polars.read_csv(csv)` → DataFrame; `POLARS_MAX_THREADS={n}`",
    "pandas-c": "`pandas.read_csv(csv)` (C engine); one thread",
    "pandas-pyarrow": '`pandas.read_csv(csv, engine="pyarrow")` ({n} threads)',
    "numpy-loadtxt": '`numpy.loadtxt(csv, delimiter=",", skiprows=1)` → 2-D float64; one thread',
    "duckdb": "`con.read_csv(csv).arrow()` (sniffed types) read into a pyarrow Table; "
    "`SET threads={n}`",
}


# ------------------------------------------------------------------------------------------
# Child side: one reader, one run.
# ------------------------------------------------------------------------------------------
def _current_rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # not Linux: fall back to the peak so far
        return _peak_rss_bytes()


def _peak_rss_bytes() -> int:
    """This process's peak resident set, in bytes.

    On Linux, ``VmHWM`` of ``/proc/self/status``: ``ru_maxrss`` is not usable for a child,
    because exec copies the high-water mark of the parent's address space into it (the
    child of a 500 MB parent reports at least 500 MB).  Elsewhere ``ru_maxrss``.
    """
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB elsewhere


def _demo_vocab() -> dict[str, list[str]]:
    """The fixed category values of the demo schema."""
    from fastetl.demo import demo_schema

    return {c.name: list(c.values) for c in demo_schema().columns if c.values is not None}


def _prepare_orders(key: str, src: str, threads: int, workdir: str):
    """Orders with a schema (the demo comparison, as before): (callable doing the read, version)."""
    if key.startswith("fastetl"):
        import fastetl
        from fastetl.demo import demo_schema

        schema = demo_schema()
        if key.startswith("fastetl-read_csv"):
            kw = _fastetl_kw(fastetl.read_csv, _fastetl_workers(key, threads))
            return (lambda: len(fastetl.read_csv(src, schema, **kw))), fastetl.__version__
        dst = os.path.join(workdir, f"out-{key}-{os.getpid()}.npy")
        kw = _fastetl_kw(fastetl.convert, _fastetl_workers(key, threads))

        def run_fastetl() -> int:
            return fastetl.convert(src, dst, schema, **kw).rows

        return run_fastetl, fastetl.__version__

    if key == "pyarrow":
        import pyarrow as pa
        import pyarrow.csv as pacsv

        pa.set_cpu_count(threads)
        pa.set_io_thread_count(threads)
        dec, dic = pa.decimal128(12, 2), pa.dictionary(pa.int32(), pa.string())
        types = {
            "pedido_id": pa.int64(), "data_pedido": pa.date32(), "cliente_id": pa.uint32(),
            "cliente_nome": pa.string(), "cliente_email": pa.string(),
            "cliente_cidade": pa.string(), "cliente_estado": dic, "produto_id": pa.uint32(),
            "produto_nome": pa.string(), "categoria": dic, "preco": dec,
            "quantidade": pa.int16(), "desconto": dec, "frete": dec, "valor_total": dec,
            "metodo_pagamento": dic, "status_pedido": dic, "is_prime": pa.bool_(),
            "is_presente": pa.bool_(), "avaliacao": pa.int8(),
        }  # fmt: skip
        opts = pacsv.ConvertOptions(column_types=types)
        read = pacsv.ReadOptions(use_threads=True)
        return (
            lambda: pacsv.read_csv(src, read_options=read, convert_options=opts).num_rows
        ), pa.__version__

    if key == "polars":
        import polars as pl  # POLARS_MAX_THREADS is set by the parent

        vocab = _demo_vocab()
        dec = pl.Decimal(12, 2)
        overrides = {
            "pedido_id": pl.Int64, "data_pedido": pl.Date, "cliente_id": pl.UInt32,
            "cliente_nome": pl.String, "cliente_email": pl.String, "cliente_cidade": pl.String,
            "cliente_estado": pl.Enum(vocab["cliente_estado"]), "produto_id": pl.UInt32,
            "produto_nome": pl.String, "categoria": pl.Categorical, "preco": dec,
            "quantidade": pl.Int16, "desconto": dec, "frete": dec, "valor_total": dec,
            "metodo_pagamento": pl.Enum(vocab["metodo_pagamento"]),
            "status_pedido": pl.Enum(vocab["status_pedido"]), "is_prime": pl.Boolean,
            "is_presente": pl.Boolean, "avaliacao": pl.Int8,
        }  # fmt: skip
        return (lambda: pl.read_csv(src, schema_overrides=overrides).height), pl.__version__

    if key in ("pandas-c", "pandas-pyarrow"):
        import pandas as pd

        engine = "c" if key == "pandas-c" else "pyarrow"
        if engine == "pyarrow":
            import pyarrow as pa

            pa.set_cpu_count(threads)
            pa.set_io_thread_count(threads)
        vocab = _demo_vocab()
        dtype = {
            "pedido_id": "int64", "cliente_id": "uint32", "cliente_nome": "str",
            "cliente_email": "str", "cliente_cidade": "str",
            "cliente_estado": pd.CategoricalDtype(vocab["cliente_estado"]),
            "produto_id": "uint32", "produto_nome": "str", "categoria": "category",
            "preco": "float64", "quantidade": "int16", "desconto": "float64",
            "frete": "float64", "valor_total": "float64",
            "metodo_pagamento": pd.CategoricalDtype(vocab["metodo_pagamento"]),
            "status_pedido": pd.CategoricalDtype(vocab["status_pedido"]),
            "is_prime": "bool", "is_presente": "bool", "avaliacao": "Int8",
        }  # fmt: skip

        def run_pandas() -> int:
            df = pd.read_csv(
                src,
                dtype=dtype,
                parse_dates=["data_pedido"],
                date_format="%Y-%m-%d",
                engine=engine,
            )
            return len(df)

        return run_pandas, pd.__version__

    if key == "numpy-loadtxt":
        import numpy as np

        from fastetl.demo import COLUMNS

        formats = [
            "i8", "M8[D]", "u4", "U56", "U40", "U32", "U2", "u4", "U80", "U24", "f8", "i2",
            "f8", "f8", "f8", "U16", "U9", "?", "?", "f8",
        ]  # fmt: skip
        dtype = np.dtype(list(zip(COLUMNS, formats, strict=True)))
        nan = float("nan")
        converters = {
            17: lambda s: s == "true",
            18: lambda s: s == "true",
            19: lambda s: float(s) if s else nan,
        }

        def run_loadtxt() -> int:
            arr = np.loadtxt(
                src,
                dtype=dtype,
                delimiter=",",
                quotechar='"',
                skiprows=1,
                encoding="utf-8",
                converters=converters,
            )
            return len(arr)

        return run_loadtxt, np.__version__

    if key == "duckdb":
        import duckdb
        import pyarrow as pa

        con = duckdb.connect()
        con.execute(f"SET threads = {int(threads)}")
        vocab = _demo_vocab()
        enums = {}
        for col, values in vocab.items():
            name = f"enum_{col}"
            listed = ", ".join("'" + v.replace("'", "''") + "'" for v in values)
            con.execute(f"CREATE TYPE {name} AS ENUM ({listed})")
            enums[col] = name
        columns = {
            "pedido_id": "BIGINT", "data_pedido": "DATE", "cliente_id": "UINTEGER",
            "cliente_nome": "VARCHAR", "cliente_email": "VARCHAR", "cliente_cidade": "VARCHAR",
            "cliente_estado": enums["cliente_estado"], "produto_id": "UINTEGER",
            "produto_nome": "VARCHAR", "categoria": "VARCHAR", "preco": "DECIMAL(12,2)",
            "quantidade": "SMALLINT", "desconto": "DECIMAL(12,2)", "frete": "DECIMAL(12,2)",
            "valor_total": "DECIMAL(12,2)", "metodo_pagamento": enums["metodo_pagamento"],
            "status_pedido": enums["status_pedido"], "is_prime": "BOOLEAN",
            "is_presente": "BOOLEAN", "avaliacao": "TINYINT",
        }  # fmt: skip

        def run_duckdb() -> int:
            res = con.read_csv(src, header=True, columns=columns).arrow()
            table = res if isinstance(res, pa.Table) else res.read_all()
            return table.num_rows

        return run_duckdb, duckdb.__version__

    raise SystemExit(f"unknown reader {key!r}")


def _fastetl_kw(fn, workers: int) -> dict:
    return {"workers": workers} if "workers" in inspect.signature(fn).parameters else {}


def _fastetl_workers(key: str, threads: int) -> int:
    """The threads a fastetl row runs with: ``threads`` for the -N rows, else 1."""
    return threads if key.endswith("-N") else 1


def _prepare(key: str, src: str, threads: int, workdir: str, shape: str, mode: str):
    """Import the library and build its options; return (callable doing the read, version).

    ``mode`` "schema": the reader gets the shape's column types where the tool has them;
    "infer": the reader is called with the path alone (and fastetl infers its schema inside
    the timed call).
    """
    if shape == "orders" and mode == "schema":
        return _prepare_orders(key, src, threads, workdir)
    if mode == "infer":
        return _prepare_infer(key, src, threads, workdir)
    return _prepare_typed(key, src, threads, workdir, shape)


def _prepare_infer(key: str, src: str, threads: int, workdir: str):
    if key.startswith("fastetl"):
        import fastetl

        if key.startswith("fastetl-read_csv"):
            kw = _fastetl_kw(fastetl.read_csv, _fastetl_workers(key, threads))
            return (lambda: len(fastetl.read_csv(src, **kw))), fastetl.__version__
        dst = os.path.join(workdir, f"out-{key}-{os.getpid()}.npy")
        kw = _fastetl_kw(fastetl.convert, _fastetl_workers(key, threads))
        return (lambda: fastetl.convert(src, dst, **kw).rows), fastetl.__version__
    if key == "pyarrow":
        import pyarrow as pa
        import pyarrow.csv as pacsv

        pa.set_cpu_count(threads)
        pa.set_io_thread_count(threads)
        return (lambda: pacsv.read_csv(src).num_rows), pa.__version__
    if key == "polars":
        import polars as pl

        return (lambda: pl.read_csv(src).height), pl.__version__
    if key in ("pandas-c", "pandas-pyarrow"):
        import pandas as pd

        engine = "c" if key == "pandas-c" else "pyarrow"
        if engine == "pyarrow":
            import pyarrow as pa

            pa.set_cpu_count(threads)
            pa.set_io_thread_count(threads)
        return (lambda: len(pd.read_csv(src, engine=engine))), pd.__version__
    if key == "numpy-loadtxt":
        import numpy as np

        return (lambda: len(np.loadtxt(src, delimiter=",", skiprows=1))), np.__version__
    if key == "duckdb":
        import duckdb
        import pyarrow as pa

        con = duckdb.connect()
        con.execute(f"SET threads = {int(threads)}")

        def run_duckdb() -> int:
            res = con.read_csv(src).arrow()
            table = res if isinstance(res, pa.Table) else res.read_all()
            return table.num_rows

        return run_duckdb, duckdb.__version__
    raise SystemExit(f"unknown reader {key!r}")


def _prepare_typed(key: str, src: str, threads: int, workdir: str, shape: str):
    """A generated shape with a schema: each tool gets shapes.SHAPES[shape]'s column kinds."""
    from shapes import SHAPES, fastetl_schema

    cols = SHAPES[shape].columns
    if key.startswith("fastetl"):
        import fastetl

        schema = fastetl.Schema.from_json(json.dumps(fastetl_schema(shape)))
        if key.startswith("fastetl-read_csv"):
            kw = _fastetl_kw(fastetl.read_csv, _fastetl_workers(key, threads))
            return (lambda: len(fastetl.read_csv(src, schema, **kw))), fastetl.__version__
        dst = os.path.join(workdir, f"out-{key}-{os.getpid()}.npy")
        kw = _fastetl_kw(fastetl.convert, _fastetl_workers(key, threads))
        return (lambda: fastetl.convert(src, dst, schema, **kw).rows), fastetl.__version__

    if key == "pyarrow":
        import pyarrow as pa
        import pyarrow.csv as pacsv

        pa.set_cpu_count(threads)
        pa.set_io_thread_count(threads)
        pa_kind = {
            "int64": pa.int64(), "int16": pa.int16(), "float64": pa.float64(),
            "money": pa.decimal128(12, 2), "datetime": pa.timestamp("s"),
            "category": pa.dictionary(pa.int32(), pa.string()),
            "str": pa.string(), "text": pa.string(),
        }  # fmt: skip
        opts = pacsv.ConvertOptions(column_types={c.name: pa_kind[c.kind] for c in cols})
        read = pacsv.ReadOptions(use_threads=True)
        return (
            lambda: pacsv.read_csv(src, read_options=read, convert_options=opts).num_rows
        ), pa.__version__

    if key == "polars":
        import polars as pl

        def pl_type(c):
            if c.kind == "category":
                return pl.Enum(list(c.values))
            return {
                "int64": pl.Int64, "int16": pl.Int16, "float64": pl.Float64,
                "money": pl.Decimal(12, 2), "datetime": pl.Datetime("us"),
                "str": pl.String, "text": pl.String,
            }[c.kind]  # fmt: skip

        overrides = {c.name: pl_type(c) for c in cols}
        return (lambda: pl.read_csv(src, schema_overrides=overrides).height), pl.__version__

    if key in ("pandas-c", "pandas-pyarrow"):
        import pandas as pd

        engine = "c" if key == "pandas-c" else "pyarrow"
        if engine == "pyarrow":
            import pyarrow as pa

            pa.set_cpu_count(threads)
            pa.set_io_thread_count(threads)
        dtype = {}
        dates = []
        for c in cols:
            if c.kind == "datetime":
                dates.append(c.name)
            elif c.kind == "category":
                dtype[c.name] = pd.CategoricalDtype(list(c.values))
            else:
                dtype[c.name] = {"money": "float64", "float64": "float64", "int64": "int64",
                                 "int16": "int16", "str": "str", "text": "str"}[c.kind]  # fmt: skip
        kw = {"parse_dates": dates, "date_format": "%Y-%m-%d %H:%M:%S"} if dates else {}
        return (
            lambda: len(pd.read_csv(src, dtype=dtype, engine=engine, **kw))
        ), pd.__version__

    if key == "numpy-loadtxt":
        import numpy as np

        kinds = {c.kind for c in cols}
        if kinds == {"float64"}:
            dtype = np.dtype("f8")  # a 2-D float64 array, as users of savetxt files read them
        elif kinds == {"int64"}:
            dtype = np.dtype("i8")
        else:  # wide: one record per row
            dtype = np.dtype([(c.name, {"int64": "i8", "float64": "f8"}[c.kind]) for c in cols])
        return (
            lambda: len(np.loadtxt(src, dtype=dtype, delimiter=",", skiprows=1))
        ), np.__version__

    if key == "duckdb":
        import duckdb
        import pyarrow as pa

        con = duckdb.connect()
        con.execute(f"SET threads = {int(threads)}")
        columns = {}
        for c in cols:
            if c.kind == "category":
                listed = ", ".join("'" + v.replace("'", "''") + "'" for v in c.values)
                con.execute(f"CREATE TYPE enum_{c.name} AS ENUM ({listed})")
                columns[c.name] = f"enum_{c.name}"
            else:
                columns[c.name] = {
                    "int64": "BIGINT", "int16": "SMALLINT", "float64": "DOUBLE",
                    "money": "DECIMAL(12,2)", "datetime": "TIMESTAMP",
                    "str": "VARCHAR", "text": "VARCHAR",
                }[c.kind]  # fmt: skip

        def run_duckdb() -> int:
            res = con.read_csv(src, header=True, columns=columns).arrow()
            table = res if isinstance(res, pa.Table) else res.read_all()
            return table.num_rows

        return run_duckdb, duckdb.__version__

    raise SystemExit(f"unknown reader {key!r}")


# ------------------------------------------------------------------------------------------
# Child side: the correctness check of one shape (not timed).
# ------------------------------------------------------------------------------------------
def _norm(v):
    """A value as plain Python, for comparing fastetl's decoded rows with pandas'."""
    import datetime as dt
    import decimal

    import numpy as np

    if v is None:
        return None
    if isinstance(v, (np.generic,)):
        v = v.item()
    try:
        import pandas as pd

        if v is pd.NA or v is pd.NaT:
            return None
        if isinstance(v, pd.Timestamp):
            v = v.to_pydatetime()
    except ImportError:
        pass
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, decimal.Decimal):
        return float(v)
    if isinstance(v, dt.datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, bytes):
        return v.decode("utf-8")
    return v


def _same(a, b) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)
    return a == b


def check_shape(shape: str, src: str, workdir: str, modes: list[str]) -> dict:
    """fastetl against pandas on one file: {mode: {"ok": bool, "detail": text}}.

    pandas reads the file with no options (C engine).  For each mode fastetl converts it
    (with the shape's schema, or inferring one) and reads it with ``read_csv``; the check
    asks for the same row count as pandas, the same records from ``read_csv`` as from
    ``convert``, and, at 7 rows spread over the file, the same values as pandas in the
    shape's check columns (decoded by ``fastetl.open``; floats to 1e-12 relative).
    """
    import fastetl
    import numpy as np
    import pandas as pd

    from shapes import SHAPES, fastetl_schema

    ref = pd.read_csv(src)
    n = len(ref)
    idx = sorted({i for i in (0, 1, n // 3, n // 2, 2 * n // 3, n - 2, n - 1) if 0 <= i < n})
    cols = SHAPES[shape].check
    out = {}
    for mode in modes:
        problems: list[str] = []
        try:
            if mode == "infer":
                schema = None
            elif shape == "orders":
                from fastetl.demo import demo_schema

                schema = demo_schema()
            else:
                schema = fastetl.Schema.from_json(json.dumps(fastetl_schema(shape)))
            dst = os.path.join(workdir, f"out-check-{os.getpid()}.npy")
            fastetl.convert(src, dst, schema)
            table = fastetl.open(dst)
            if len(table) != n:
                problems.append(f"{len(table):,} rows, pandas {n:,}")
            arr = fastetl.read_csv(src, schema)
            arr = getattr(arr, "array", arr)  # a Table since issue 16; an array before
            disk = np.asarray(table.array)
            if arr.dtype != disk.dtype or len(arr) != len(disk):
                problems.append("read_csv and convert differ in dtype or rows")
            elif len(arr) and not np.array_equal(
                np.ascontiguousarray(arr).view(np.uint8), np.ascontiguousarray(disk).view(np.uint8)
            ):
                problems.append("read_csv records differ from convert's")
            for i in idx:
                if i >= len(table):
                    break
                row = table.rows(i, i + 1)[0]
                for c in cols:
                    if c not in row:
                        problems.append(f"no column {c!r}")
                        continue
                    mine, theirs = _norm(row[c]), _norm(ref[c].iloc[i])
                    if not _same(mine, theirs):
                        problems.append(f"row {i}, {c}: {mine!r} != pandas {theirs!r}")
                if len(problems) > 3:
                    break
            del arr, disk, table
        except Exception as e:  # noqa: BLE001 - a failure is the check's answer
            msg = str(e).strip().splitlines()
            problems.append(f"{type(e).__name__}: {msg[0] if msg else ''}"[:200])
        finally:
            for p in Path(workdir).glob(f"*out-check-{os.getpid()}*"):
                p.unlink(missing_ok=True)
        out[mode] = {
            "ok": not problems,
            "detail": "; ".join(problems[:3])
            or f"{n:,} rows; {len(idx)} rows × {', '.join(cols)} as pandas",
        }
    return out


def child_main(args: argparse.Namespace) -> int:
    if args.run == "check":
        try:
            out = check_shape(args.shape, args.src, args.workdir, args.mode.split(","))
        except BaseException as e:  # e.g. pandas cannot read it: every mode fails
            msg = str(e).strip().splitlines()
            err = f"check failed: {type(e).__name__}: {msg[0] if msg else ''}"[:300]
            out = {m: {"ok": False, "detail": err} for m in args.mode.split(",")}
        print(RESULT_MARK + json.dumps(out), flush=True)
        return 0
    out: dict = {"reader": args.run}
    try:
        fn, version = _prepare(
            args.run, args.src, args.threads, args.workdir, args.shape, args.mode
        )
        out["version"] = version
        out["rss_base"] = _current_rss_bytes()
        time.sleep(args.settle)  # (see --settle: no import's threads left running)
        c0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        rows = fn()
        out["seconds"] = time.perf_counter() - t0
        c1 = resource.getrusage(resource.RUSAGE_SELF)
        out["cpu_user"] = c1.ru_utime - c0.ru_utime
        out["cpu_sys"] = c1.ru_stime - c0.ru_stime
        out["rows"] = int(rows)
    except BaseException as e:  # report, do not crash: the parent prints it in the table
        msg = str(e).strip().splitlines()
        out["error"] = f"{type(e).__name__}: {msg[0] if msg else ''}"[:300]
    out["rss_peak"] = _peak_rss_bytes()
    print(RESULT_MARK + json.dumps(out), flush=True)
    return 0


# ------------------------------------------------------------------------------------------
# Parent side.
# ------------------------------------------------------------------------------------------
def _proc_status(pid: int) -> dict[str, int]:
    """RssAnon / RssFile / VmHWM of a live process, in bytes ({} if unavailable)."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                key, _, rest = line.partition(":")
                if key in ("RssAnon", "RssFile", "RssShmem", "VmHWM"):
                    out[key] = int(rest.split()[0]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return out


_settle = 0.3  # seconds a child waits before its timed read (main() sets it from --settle)


def run_child(
    key: str,
    src: Path,
    threads: int,
    workdir: Path,
    timeout: float,
    shape: str = "orders",
    mode: str = "schema",
) -> dict:
    env = dict(os.environ)
    env["POLARS_MAX_THREADS"] = str(threads)
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    if _use_repo_src:  # fastetl is not installed: the children import it from src/ too
        paths.insert(0, str(REPO_SRC))
    if paths:
        env["PYTHONPATH"] = os.pathsep.join(os.path.abspath(p) for p in paths)
    cmd = [
        sys.executable, str(Path(__file__).resolve()), "--run", key, "--src", str(src),
        "--threads", str(threads), "--workdir", str(workdir), "--shape", shape, "--mode", mode,
        "--settle", str(_settle),
    ]  # fmt: skip
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        peak_anon = peak_file = 0
        t_end = time.monotonic() + timeout
        timed_out = False
        while proc.poll() is None:
            st = _proc_status(proc.pid)
            peak_anon = max(peak_anon, st.get("RssAnon", 0) + st.get("RssShmem", 0))
            peak_file = max(peak_file, st.get("RssFile", 0))
            if time.monotonic() > t_end:
                proc.kill()
                proc.wait()
                timed_out = True
                break
            time.sleep(0.005)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    for p in workdir.glob(f"out-{key}-*"):  # the fastetl outputs and their sidecars
        p.unlink(missing_ok=True)
    for p in workdir.glob(f".out-{key}-*"):
        p.unlink(missing_ok=True)
    for p in workdir.glob("*out-check-*"):
        p.unlink(missing_ok=True)
    res: dict = {}
    for line in stdout.splitlines():
        if line.startswith(RESULT_MARK):
            res = json.loads(line[len(RESULT_MARK) :])
    if timed_out:
        res = {"error": f"timed out after {timeout:.0f} s"}
    elif not res:
        tail = (stderr.strip().splitlines() or ["(no output)"])[-1]
        res = {"error": f"process exited with code {proc.returncode}: {tail}"[:300]}
    res["peak_anon"] = peak_anon
    res["peak_file"] = peak_file
    return res


_use_repo_src = False


def _import_fastetl():
    """Import fastetl, from the repository's src/ if it is not importable otherwise."""
    global _use_repo_src
    try:
        import fastetl  # noqa: F401
    except ImportError:
        sys.path.insert(0, str(REPO_SRC))
        _use_repo_src = True
    import fastetl
    import fastetl.demo

    return fastetl


def _bytecode(fastetl_mod) -> str:
    """Compile the benchmarked fastetl's modules to bytecode (``__pycache__`` beside them),
    as pip does when it installs a wheel: the other readers' packages in site-packages have
    theirs.  Without it, a fastetl run from a source tree with ``PYTHONDONTWRITEBYTECODE``
    set compiles every module it loads in every child, and a module loaded inside the
    timed call (``fastetl.infer``, in an inferred read: ~20 ms for its 2,700 lines) is
    compiled inside it.  What the report says about it (one line)."""
    import compileall

    folder = Path(fastetl_mod.__file__).parent
    if not os.access(folder, os.W_OK):
        return "fastetl's modules not byte-compiled here (its folder is read-only)"
    # (py_compile writes the bytecode whatever PYTHONDONTWRITEBYTECODE says; an up-to-date
    # .pyc, as an installed wheel's, is left as it is)
    ok = compileall.compile_dir(str(folder), quiet=2, workers=1)
    if not ok:
        return "fastetl's modules: byte-compiling some failed (those are compiled per child)"
    return "fastetl's modules byte-compiled before the runs (as an installed wheel's are)"


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def machine_line(fastetl_mod) -> str:
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        cpu = platform.processor() or cpu
    ram = "?"
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal"):
                    ram = f"{int(line.split()[1]) / 1024**2:.1f} GiB"
    except OSError:
        pass
    os_name = platform.platform()
    try:
        with open("/etc/os-release") as fh:
            for line in fh:
                if line.startswith("PRETTY_NAME="):
                    os_name = f"{line.split('=', 1)[1].strip().strip(chr(34))} ({os_name})"
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    versions = []
    for pkg in PACKAGES:
        v = fastetl_mod.__version__ if pkg == "fastetl" else _version(pkg)
        versions.append(f"{pkg} {v or 'not installed'}")
    return (
        f"{cpu}, {os.cpu_count()} logical CPUs ({usable} usable), {ram} RAM; {os_name}; "
        f"Python {platform.python_version()} ({platform.python_implementation()}); "
        + ", ".join(versions)
    )


def parse_size(text: str) -> int:
    text = text.strip().upper().rstrip("B")
    mult = {"K": 10**3, "M": 10**6, "G": 10**9}.get(text[-1:], 1)
    num = text[:-1] if text[-1:] in "KMG" else text
    try:
        value = float(num) * mult
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad size {text!r} (use e.g. 200M, 2G)") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"size must be positive, got {text!r}")
    return int(value)


def generate(folder: Path, rows: int, seed: int) -> Path:
    """The orders CSV of rows and seed, generated once per folder."""
    import fastetl.demo

    path = folder / f"orders-{rows}-seed{seed}.csv"
    if path.exists():
        _log(f"using cached {path} ({path.stat().st_size / 1e6:,.1f} MB)")
        return path
    _log(f"generating {rows:,} rows into {path} ...")
    t0 = time.perf_counter()
    part = path.with_suffix(".csv.part")
    size = fastetl.demo.generate_orders(part, rows, seed)
    os.replace(part, path)
    _log(f"  {size / 1e6:,.1f} MB in {time.perf_counter() - t0:.1f} s")
    return path


def warm(path: Path) -> None:
    with open(path, "rb", buffering=0) as fh:
        while fh.read(16 * MiB):
            pass


def _loadavg() -> str:
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "?"


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _fmt_mib(b: int | None) -> str:
    return f"{b / MiB:,.0f}" if b else "–"


def resolve_readers(only: str | None) -> list[str]:
    if not only:
        return list(READERS)
    keys: list[str] = []
    for name in only.split(","):
        name = name.strip()
        if not name:
            continue
        expanded = ALIASES.get(name, [name])
        for k in expanded:
            if k not in READERS:
                raise SystemExit(
                    f"unknown reader {name!r}; known: {', '.join(READERS)} "
                    f"(aliases: {', '.join(ALIASES)})"
                )
            if k not in keys:
                keys.append(k)
    return [k for k in READERS if k in keys]


def generate_shape(
    folder: Path, shape: str, args: argparse.Namespace, fastetl_mod
) -> tuple[Path, int]:
    """The CSV of ``shape`` at ``--mb`` (orders: ``--rows`` if given) and its row count."""
    from shapes import GENERATOR_VERSION, write_shape

    target = int(args.mb * 1e6)
    if shape == "orders":
        rows = args.rows or _orders_rows(target, args.seed, fastetl_mod)
        return generate(folder, rows, args.seed), rows
    path = folder / f"{shape}-{target}B-seed{args.seed}-v{GENERATOR_VERSION}.csv"
    count = path.with_name(path.name + ".rows")
    if path.exists() and count.exists():
        _log(f"using cached {path} ({path.stat().st_size / 1e6:,.1f} MB)")
        return path, int(count.read_text())
    _log(f"generating {shape} ({args.mb:g} MB) into {path} ...")
    t0 = time.perf_counter()
    part = path.with_suffix(".csv.part")
    rows = write_shape(shape, part, target, args.seed)
    os.replace(part, path)
    count.write_text(str(rows))
    mb = path.stat().st_size / 1e6
    _log(f"  {rows:,} rows, {mb:,.1f} MB in {time.perf_counter() - t0:.1f} s")
    return path, rows


def _orders_rows(target: int, seed: int, fastetl_mod) -> int:
    sample = fastetl_mod.demo.generate_orders_bytes(20_000, seed)
    per_row = (len(sample) - len(fastetl_mod.demo.HEADER)) / 20_000
    return max(1, math.ceil(target / per_row))


def resolve_shapes(text: str | None) -> list[str]:
    from shapes import SHAPE_ORDER

    if not text or text == "all":
        return list(SHAPE_ORDER)
    names = [t.strip() for t in text.split(",") if t.strip()]
    for n in names:
        if n not in SHAPE_ORDER:
            raise SystemExit(f"unknown shape {n!r}; known: {', '.join(SHAPE_ORDER)}")
    return [s for s in SHAPE_ORDER if s in names]


def not_applicable(key: str, shape: str, mode: str) -> str | None:
    """Why ``key`` does not run on (shape, mode), or None."""
    from shapes import SHAPES

    if key == "numpy-loadtxt" and not SHAPES[shape].numeric:
        if shape == "orders" and mode == "schema":
            return None  # the demo comparison: a structured dtype with converters
        return "n/a: numpy.loadtxt reads numeric matrices (no inference of text or dates)"
    return None


def note_for(key: str, shape: str, mode: str, threads: int) -> str:
    from shapes import SHAPES

    if shape == "orders" and mode == "schema":
        note = NOTES[key]
    elif mode == "infer":
        note = NOTES_INFER[key]
    else:
        note = NOTES_TYPED[key]
        kinds = [c.kind for c in SHAPES[shape].columns]
        if key == "numpy-loadtxt":
            types = (
                "`dtype=float64` (2-D array)" if set(kinds) == {"float64"}
                else "`dtype=int64` (2-D array)" if set(kinds) == {"int64"}
                else f"a structured dtype of {len(kinds)} i8/f8 fields"
            )  # fmt: skip
        elif key in KIND_TYPES:
            seen = list(dict.fromkeys(kinds))  # the shape's kinds, in column order
            types = ", ".join(KIND_TYPES[key][k] for k in seen)
        else:
            types = ""
        note = note.replace("{types}", types)
    return note.replace("{n}", str(threads))


def comparison(args: argparse.Namespace, workdir: Path, fastetl_mod) -> str:
    shapes_ = resolve_shapes(args.shape)
    modes = [m for m in ("schema", "infer") if m in args.mode.split(",")]
    files: dict[str, tuple[Path, int]] = {}
    for shape in shapes_:
        files[shape] = generate_shape(workdir, shape, args, fastetl_mod)
    keys = resolve_readers(args.only)
    has_workers = "workers" in inspect.signature(fastetl_mod.convert).parameters
    skipped: dict[str, str] = {}
    for key in keys:
        missing = [m for m in READERS[key][1] if importlib.util.find_spec(m) is None]
        if missing:
            skipped[key] = "not installed (" + ", ".join(missing) + ")"
        elif key == "fastetl-N" and not has_workers:
            skipped[key] = (
                "not run: `fastetl.convert` has no `workers=` option yet (single-threaded)"
            )
        elif key.endswith("-N") and key.startswith("fastetl") and args.threads == 1:
            same = "fastetl-1" if key == "fastetl-N" else key[: -len("-N")]
            skipped[key] = f"not run: --threads 1 (same as {same})"

    # Correctness first: fastetl against pandas on every file (one process per shape).
    checks: dict[tuple[str, str], dict] = {}
    for shape in shapes_:
        src, _ = files[shape]
        if args.no_check or importlib.util.find_spec("pandas") is None:
            why = "not checked (--no-check)" if args.no_check else "not checked (no pandas)"
            for mode in modes:
                checks[shape, mode] = {"ok": None, "detail": why}
            continue
        warm(src)
        _log(f"check: fastetl against pandas on {shape} ...")
        res = run_check(shape, src, workdir, modes, args.timeout)
        for mode in modes:
            checks[shape, mode] = res.get(mode, {"ok": False, "detail": res.get("error", "?")})
            c = checks[shape, mode]
            _log(f"  {mode}: {'ok' if c['ok'] else 'WRONG'} ({c['detail']})")

    cells = [(s, m) for s in shapes_ for m in modes]
    todo = {
        cell: [k for k in keys if k not in skipped and not not_applicable(k, *cell)]
        for cell in cells
    }
    runs: dict[tuple[str, str, str], list[dict]] = {
        (s, m, k): [] for (s, m) in cells for k in todo[s, m]
    }
    for shape in shapes_:
        warm(files[shape][0])
    for rep in range(args.repeat):
        for shape, mode in cells:
            src, rows = files[shape]
            size = src.stat().st_size
            for key in todo[shape, mode]:
                _log(f"run {rep + 1}/{args.repeat}: {shape}/{mode}: {key} ...")
                res = run_child(key, src, args.threads, workdir, args.timeout, shape, mode)
                if "error" in res:
                    _log(f"  error: {res['error']}")
                else:
                    _log(
                        f"  {res['seconds']:.2f} s, {size / 1e6 / res['seconds']:,.0f} MB/s, "
                        f"peak RSS {res['rss_peak'] / MiB:,.0f} MiB"
                    )
                runs[shape, mode, key].append(res)

    sections = [
        "Each run is a fresh process; seconds = wall time of the read call only (imports and "
        f"option building excluded; the child waits {_settle:g} s after them, --settle), best of {args.repeat} runs taken round-robin over all "
        "shapes, modes and readers; MB/s = 10^6 bytes of CSV per second; peak RSS = the "
        "child's own `VmHWM` (highest of the runs; `ru_maxrss` would include the parent's, see "
        "`_peak_rss_bytes`), which counts pages of memory-mapped files too; peak anon = highest "
        "sampled RssAnon+RssShmem of the child (every 5 ms), i.e. without file-backed pages; "
        "CPU s = user+sys CPU time of the child (all its threads) during the read, of the best "
        "run: on a shared machine a wall time well above the CPU time of a one-thread reader "
        "means it waited. Threads offered to multi-threaded readers, fastetl-N and "
        f"fastetl-read_csv-N: {args.threads}. **fastetl best** = the fastest fastetl row "
        "(convert N threads, convert 1 thread, read_csv 1 thread, read_csv N threads) whose "
        "check passed; **ratio** = the reader's time ÷ "
        "fastetl best's time; **fastetl vs best** = fastest peer's time ÷ fastetl best's time "
        "(= fastetl MB/s ÷ peer MB/s): above 1, fastetl is faster by that factor. "
        "**check**: fastetl's convert and read_csv agree with each other and with "
        "`pandas.read_csv(path)` (row count; 7 rows spread over the file × a few columns, "
        "decoded); the other readers are checked for their row count only. "
        "**with schema**: every reader gets the column types where the tool has them (notes); "
        "**inferred**: every reader gets the path alone, and fastetl's inference is inside "
        "the timed call."
    ]
    summary: list[str] = []
    for shape, mode in cells:
        src, rows = files[shape]
        size = src.stat().st_size
        table, line = _cell_table(
            args, shape, mode, src, rows, size, keys, skipped, runs, checks[shape, mode],
            has_workers,
        )  # fmt: skip
        sections.append(table)
        summary.append(line)
    sections.append(
        "### Summary: fastetl's best against the fastest other reader\n\n"
        "| shape | mode | MB | fastetl best MB/s | fastetl reader | check | fastest peer "
        "| peer MB/s | fastetl vs best |\n|---|---|---:|---:|---|---|---|---:|---:|\n"
        + "\n".join(summary)
        + "\n"
    )
    return "\n\n".join(x.strip("\n") for x in sections) + "\n"


MODE_LABEL = {"schema": "with schema", "infer": "inferred"}


def _cell_table(
    args, shape, mode, src, rows, size, keys, skipped, runs, check, has_workers
) -> tuple[str, str]:
    from shapes import SHAPES

    best: dict[str, dict] = {}
    for key in keys:
        rs = runs.get((shape, mode, key))
        if rs is None:
            continue
        ok = [r for r in rs if "error" not in r]
        if ok:
            b = dict(min(ok, key=lambda r: r["seconds"]))
            b["all"] = [r["seconds"] for r in ok]
            b["rss_peak"] = max(r["rss_peak"] for r in ok)
            b["rss_base"] = max(r["rss_base"] for r in ok)
            b["peak_anon"] = max(r["peak_anon"] for r in ok)
            b["errors"] = len(rs) - len(ok)
            b["first_error"] = next((r["error"] for r in rs if "error" in r), None)
            b["rows_ok"] = all(r["rows"] == rows for r in ok)
            best[key] = b
        else:
            best[key] = {"error": rs[0]["error"] if rs else "no run"}

    def valid(key: str) -> bool:
        b = best.get(key)
        if not b or "error" in b or not b["rows_ok"]:
            return False
        return check["ok"] is not False if key.startswith("fastetl") else True

    mine = [k for k in best if k.startswith("fastetl") and valid(k)]
    peers = [k for k in best if not k.startswith("fastetl") and valid(k)]
    ref_key = min(mine, key=lambda k: best[k]["seconds"]) if mine else None
    peer_key = min(peers, key=lambda k: best[k]["seconds"]) if peers else None
    ref = best[ref_key]["seconds"] if ref_key else None

    if check["ok"] is None:
        fcheck = "–"
    else:
        fcheck = "✓" if check["ok"] else "✗"
    lines = [
        f"| reader | seconds (best of {args.repeat}) | MB/s | ratio | check | CPU s user+sys "
        "| peak RSS MiB | RSS after imports MiB | peak anon MiB | notes |",
        "|---|---:|---:|---:|:---:|---:|---:|---:|---:|---|",
    ]
    for key in keys:
        label = f"**{key}**" if key.startswith("fastetl") else key
        why = skipped.get(key) or not_applicable(key, shape, mode)
        if why:
            lines.append(f"| {label} | – | – | – | – | – | – | – | – | {why} |")
            continue
        b = best[key]
        if "error" in b:
            err = b["error"].replace("|", "\\|")
            lines.append(f"| {label} | – | – | – | ✗ | – | – | – | – | **failed**: {err} |")  # noqa: E501
            continue
        sec = b["seconds"]
        ratio = f"{sec / ref:.2f}" if ref else "–"
        note = note_for(key, shape, mode, args.threads)
        note += "; runs " + "/".join(f"{s:.2f}" for s in b["all"]) + " s"
        if not b["rows_ok"]:
            note += f"; **read {b['rows']:,} rows, expected {rows:,}**"
        if b["errors"]:
            note += f"; {b['errors']} run(s) failed: {b['first_error']}"
        if key == "fastetl-1" and not has_workers:
            note += " (`convert` has no `workers=` yet)"
        if key.startswith("fastetl"):
            mark = fcheck if b["rows_ok"] else "✗"
            if check["ok"] is False:
                note += f"; **check failed: {check['detail']}**"
        else:
            mark = "rows ✓" if b["rows_ok"] else "✗ rows"
        lines.append(
            f"| {label} | {sec:.2f} | {size / 1e6 / sec:,.0f} | {ratio} | {mark} | "
            f"{b['cpu_user']:.2f}+{b['cpu_sys']:.2f} | {_fmt_mib(b['rss_peak'])} | "
            f"{_fmt_mib(b['rss_base'])} | "
            f"{_fmt_mib(b['peak_anon'])} | {note.replace('|', '/')} |"
        )

    def mbs(key: str | None) -> str:
        return f"{size / 1e6 / best[key]['seconds']:,.0f}" if key else "–"

    vs = f"{best[peer_key]['seconds'] / ref:.2f}" if ref_key and peer_key else "–"
    if not ref_key and check["ok"] is False:
        vs = "✗ (fastetl wrong)"
    detail = check["detail"].replace("|", "/")
    head = (
        f"### {shape}, {MODE_LABEL[mode]}\n\n"
        f"Input: {SHAPES[shape].description}; {rows:,} rows, {size / 1e6:,.1f} MB "
        f"(seed {args.seed}), in the page cache. Check: {fcheck} {detail}.\n\n"
        f"fastetl best: **{mbs(ref_key)} MB/s** ({ref_key or 'none'}); fastest peer: "
        f"{peer_key or 'none'} {mbs(peer_key)} MB/s; **fastetl vs best: {vs}**"
    )
    summary = (
        f"| {shape} | {MODE_LABEL[mode]} | {size / 1e6:,.0f} | {mbs(ref_key)} | "
        f"{ref_key or '–'} | {fcheck} | {peer_key or '–'} | {mbs(peer_key)} | {vs} |"
    )
    return head + "\n\n" + "\n".join(lines) + "\n", summary


def run_check(shape: str, src: Path, workdir: Path, modes: list[str], timeout: float) -> dict:
    """The correctness check of one shape, in its own process (not timed)."""
    res = run_child("check", src, 1, workdir, timeout, shape, ",".join(modes))
    return {k: v for k, v in res.items() if k not in ("peak_anon", "peak_file")}


def memory_table(args: argparse.Namespace, workdir: Path, fastetl_mod) -> str:
    sample = fastetl_mod.demo.generate_orders_bytes(20_000, args.seed)
    per_row = (len(sample) - len(fastetl_mod.demo.HEADER)) / 20_000
    has_workers = "workers" in inspect.signature(fastetl_mod.convert).parameters
    keys = ["fastetl-1"] + (["fastetl-N"] if has_workers and args.threads > 1 else [])
    lines = [
        "| reader | target size | rows | CSV MB | seconds | MB/s | CPU s user+sys | peak RSS MiB "
        "| RSS after imports MiB | peak anon MiB | peak file-backed MiB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for target in args.memory_sizes:
        rows = max(1, math.ceil(target / per_row))
        src = generate(workdir, rows, args.seed)
        size = src.stat().st_size
        warm(src)
        for key in keys:
            _log(f"memory: {key} on {size / 1e6:,.0f} MB ...")
            res = run_child(key, src, args.threads, workdir, args.timeout)
            tsize = f"{target / 1e9:g}G" if target >= 10**9 else f"{target / 1e6:g}M"
            if "error" in res:
                err = res["error"].replace("|", "\\|")
                lines.append(
                    f"| {key} | {tsize} | {rows:,} | {size / 1e6:,.0f} | – | – | – "
                    f"| failed: {err} | – | – | – |"
                )
                continue
            sec = res["seconds"]
            _log(f"  {sec:.2f} s, peak RSS {res['rss_peak'] / MiB:,.0f} MiB")
            lines.append(
                f"| {key} | {tsize} | {rows:,} | {size / 1e6:,.0f} | {sec:.2f} | "
                f"{size / 1e6 / sec:,.0f} | {res['cpu_user']:.2f}+{res['cpu_sys']:.2f} | "
                f"{_fmt_mib(res['rss_peak'])} | "
                f"{_fmt_mib(res['rss_base'])} | {_fmt_mib(res['peak_anon'])} | "
                f"{_fmt_mib(res['peak_file'])} |"
            )
        if not args.keep:
            src.unlink(missing_ok=True)  # the 2 GB files are not worth keeping in a temp folder
    head = (
        "fastetl only, one run per size, each in a fresh process. Peak RSS = the child's `VmHWM`; "
        "anon and file-backed peaks sampled every 5 ms from `/proc/<pid>/status` (file-backed: "
        "pages of the memory-mapped input and output counted in RSS; the kernel can drop them "
        "under pressure)."
    )
    return head + "\n\n" + "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description="Compare fastetl with other CSV readers on every shape of CSV file."
    )
    p.add_argument(
        "--shape",
        help="comma-separated shapes: savetxt, short-floats, ints, taxi, text, wide, orders "
        "(default: all)",
    )
    p.add_argument(
        "--mode",
        default="schema,infer",
        help="schema, infer or both (default): readers given the column types, or the path alone",
    )
    p.add_argument(
        "--mb", type=float, default=200, help="target size of each generated CSV, 10^6 bytes"
    )
    p.add_argument(
        "--rows", type=int, help="rows of the orders CSV (default: sized by --mb like the others)"
    )
    p.add_argument(
        "--no-check", action="store_true", help="skip the correctness check against pandas"
    )
    p.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    p.add_argument(
        "--threads",
        type=int,
        default=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 2,
        help="threads for fastetl-N and the multi-threaded readers (default: usable CPUs)",
    )
    p.add_argument("--repeat", type=int, default=3, help="runs per reader; the best is shown")
    p.add_argument(
        "--only",
        help="comma-separated readers: "
        + ", ".join(READERS)
        + "; aliases "
        + ", ".join(f"{a}={'+'.join(v)}" for a, v in ALIASES.items() if a != "all"),
    )
    p.add_argument("--keep", metavar="DIR", help="work in DIR and keep the generated CSVs there")
    p.add_argument(
        "--memory-sizes",
        type=lambda s: [parse_size(x) for x in s.split(",") if x.strip()],
        metavar="SIZES",
        help="also measure fastetl's peak RSS on files of these sizes, e.g. 200M,2G",
    )
    p.add_argument("--no-compare", action="store_true", help="only the --memory-sizes table")
    p.add_argument(
        "--no-bytecode",
        action="store_true",
        help="do not byte-compile fastetl's modules first (as runs up to 49 did: with "
        "PYTHONDONTWRITEBYTECODE set and no __pycache__ left by an earlier run, every child "
        "compiles them)",
    )
    p.add_argument("--timeout", type=float, default=3600, help="seconds per child run")
    p.add_argument(
        "--settle",
        type=float,
        default=0.3,
        help="seconds each child waits between its imports and the timed read (default 0.3; "
        "runs up to 70 waited none: OpenBLAS's threads, started by import numpy, spun into it)",
    )
    p.add_argument("--output", metavar="FILE", help="also write the Markdown report to FILE")
    # child mode
    p.add_argument("--run", help=argparse.SUPPRESS)
    p.add_argument("--src", help=argparse.SUPPRESS)
    # (--shape and --mode also tell a child what to read, --mode "schema,infer" a check)
    p.add_argument("--workdir", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    global _settle
    _settle = max(0.0, args.settle)

    if args.run:
        return child_main(args)
    if (args.rows is not None and args.rows < 1) or args.repeat < 1 or args.threads < 1:
        p.error("--rows, --repeat and --threads must be at least 1")
    if not args.mb > 0:
        p.error("--mb must be positive")
    if not set(args.mode.split(",")) <= {"schema", "infer"} or not args.mode.strip(","):
        p.error("--mode: schema, infer or schema,infer")

    fastetl_mod = _import_fastetl()
    bytecode = "fastetl's modules compiled in each child (--no-bytecode)"
    if not args.no_bytecode:
        bytecode = _bytecode(fastetl_mod)
    if args.keep:
        workdir = Path(args.keep).resolve()
        workdir.mkdir(parents=True, exist_ok=True)
    else:
        workdir = Path(tempfile.mkdtemp(prefix="fastetl-bench-"))
    command = "python " + " ".join(
        shlex.quote(a) for a in [os.path.relpath(__file__)] + sys.argv[1:]
    )
    parts = [
        f"- Machine: {machine_line(fastetl_mod)}\n"
        f"- fastetl imported from `{Path(fastetl_mod.__file__).parent}`; {bytecode}\n"
        f"- Command: `{command}`\n"
        f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n"
    ]
    load0 = _loadavg()
    try:
        if not args.no_compare:
            parts.append(comparison(args, workdir, fastetl_mod))
        if args.memory_sizes:
            parts.append(
                "### Memory against input size (orders, fastetl only)\n\n"
                + memory_table(args, workdir, fastetl_mod)
            )
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    parts[0] += (
        f"- Load average (1 min) at start {load0}, at end {_loadavg()}: the machine is "
        "shared; quote ratios from one run\n"
    )
    report = "\n".join(parts)
    print(report)
    if args.output:
        Path(args.output).write_text(report, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
