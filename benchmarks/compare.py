#!/usr/bin/env python
"""fastetl against the CSV readers users would pick instead, on the same file, one process each.

    python benchmarks/compare.py --rows 2000000 [--threads N] [--repeat K]
        [--only fastetl,pyarrow,...] [--keep DIR] [--memory-sizes 200M,2G]

What it does:

1. generates the demo e-commerce orders CSV (``fastetl.demo.generate_orders``) with ``--rows``
   rows and ``--seed``, cached by rows and seed in the work folder;
2. reads the file once to warm the page cache;
3. runs each reader ``--repeat`` times, round-robin, every run in a fresh interpreter
   (``python compare.py --run READER ...``).  The child imports its library and prepares its
   options first, then times only the read with ``time.perf_counter``, and reports its own
   peak resident set at the end (``VmHWM`` on Linux, else ``ru_maxrss``).  The parent
   samples the child's ``/proc/<pid>/status`` every few milliseconds for the anonymous part
   of the peak (heap, as opposed to pages of memory-mapped files, which Linux counts in RSS
   too), and the child reports the CPU time (user + sys, all threads) of the read;
4. prints a Markdown table: the best time of the K runs, MB/s (10**6 bytes of CSV per
   second), the ratio to fastetl, the highest peak RSS of the K runs, and notes;
5. with ``--memory-sizes``, converts files of those sizes with fastetl only and prints peak
   RSS against input size.

Every reader turns the CSV into typed data with the schema's column types where the tool
has them (see ``NOTES``).  A reader whose package is missing is listed as "not installed";
a reader that fails shows its error.  Timing is end to end for what the tool returns:
fastetl's ``convert`` includes writing the .npy (plain writes, synced ahead on a background
thread) and its final fsync; the others build their in-memory table.

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

# Reader key -> (label, modules it needs).  Order is the table's order.
READERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "fastetl-1": ("fastetl.convert, 1 thread", ("fastetl",)),
    "fastetl-N": ("fastetl.convert, N threads", ("fastetl",)),
    "fastetl-read_csv": ("fastetl.read_csv (in memory), 1 thread", ("fastetl",)),
    "pyarrow": ("pyarrow.csv.read_csv", ("pyarrow",)),
    "polars": ("polars.read_csv", ("polars",)),
    "pandas-c": ('pandas.read_csv engine="c"', ("pandas",)),
    "pandas-pyarrow": ('pandas.read_csv engine="pyarrow"', ("pandas", "pyarrow")),
    "numpy-loadtxt": ("numpy.loadtxt", ("numpy",)),
    "duckdb": ("duckdb read_csv → arrow", ("duckdb", "pyarrow")),
}
ALIASES = {
    "fastetl": ["fastetl-1", "fastetl-N"],
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


def _prepare(key: str, src: str, threads: int, workdir: str):
    """Import the library and build its options; return (callable doing the read, version)."""
    if key.startswith("fastetl"):
        import fastetl
        from fastetl.demo import demo_schema

        schema = demo_schema()
        if key == "fastetl-read_csv":
            kw = {}
            if "workers" in inspect.signature(fastetl.read_csv).parameters:
                kw["workers"] = 1
            return (lambda: len(fastetl.read_csv(src, schema, **kw))), fastetl.__version__
        dst = os.path.join(workdir, f"out-{key}-{os.getpid()}.npy")
        kw = {}
        if "workers" in inspect.signature(fastetl.convert).parameters:
            kw["workers"] = threads if key == "fastetl-N" else 1

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


def child_main(args: argparse.Namespace) -> int:
    out: dict = {"reader": args.run}
    try:
        fn, version = _prepare(args.run, args.src, args.threads, args.workdir)
        out["version"] = version
        out["rss_base"] = _current_rss_bytes()
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


def run_child(key: str, src: Path, threads: int, workdir: Path, timeout: float) -> dict:
    env = dict(os.environ)
    env["POLARS_MAX_THREADS"] = str(threads)
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    if _use_repo_src:  # fastetl is not installed: the children import it from src/ too
        paths.insert(0, str(REPO_SRC))
    if paths:
        env["PYTHONPATH"] = os.pathsep.join(os.path.abspath(p) for p in paths)
    cmd = [
        sys.executable, str(Path(__file__).resolve()), "--run", key, "--src", str(src),
        "--threads", str(threads), "--workdir", str(workdir),
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


def comparison(args: argparse.Namespace, workdir: Path, fastetl_mod) -> str:
    src = generate(workdir, args.rows, args.seed)
    size = src.stat().st_size
    warm(src)
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
        elif key == "fastetl-N" and args.threads == 1:
            skipped[key] = "not run: --threads 1 (same as fastetl-1)"
    runs: dict[str, list[dict]] = {k: [] for k in keys if k not in skipped}
    for rep in range(args.repeat):
        for key in runs:
            _log(f"run {rep + 1}/{args.repeat}: {key} ...")
            res = run_child(key, src, args.threads, workdir, args.timeout)
            if "error" in res:
                _log(f"  error: {res['error']}")
            else:
                _log(
                    f"  {res['seconds']:.2f} s, {size / 1e6 / res['seconds']:,.0f} MB/s, "
                    f"peak RSS {res['rss_peak'] / MiB:,.0f} MiB"
                )
            runs[key].append(res)

    best: dict[str, dict] = {}
    for key, rs in runs.items():
        ok = [r for r in rs if "error" not in r]
        if ok:
            b = dict(min(ok, key=lambda r: r["seconds"]))
            b["all"] = [r["seconds"] for r in ok]
            b["rss_peak"] = max(r["rss_peak"] for r in ok)
            b["rss_base"] = max(r["rss_base"] for r in ok)
            b["peak_anon"] = max(r["peak_anon"] for r in ok)
            b["errors"] = len(rs) - len(ok)
            b["first_error"] = next((r["error"] for r in rs if "error" in r), None)
            best[key] = b
        else:
            best[key] = {"error": rs[0]["error"] if rs else "no run"}
    ref_key = next(
        (k for k in ("fastetl-N", "fastetl-1") if k in best and "error" not in best[k]), None
    )
    ref = best[ref_key]["seconds"] if ref_key else None

    lines = []
    ref_label = "fastetl-N" if ref_key == "fastetl-N" else "fastetl-1"
    lines.append(
        f"| reader | seconds (best of {args.repeat}) | MB/s | ratio vs {ref_label} "
        "| CPU s user+sys | peak RSS MiB | RSS after imports MiB | peak anon MiB | notes |"
    )
    lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for key in keys:
        label = f"**{key}**" if key.startswith("fastetl") else key
        if key in skipped:
            lines.append(f"| {label} | – | – | – | – | – | – | – | {skipped[key]} |")
            continue
        b = best[key]
        if "error" in b:
            err = b["error"].replace("|", "\\|")
            lines.append(f"| {label} | – | – | – | – | – | – | – | **failed**: {err} |")
            continue
        sec = b["seconds"]
        ratio = f"{sec / ref:.2f}" if ref else "–"
        note = NOTES[key].replace("{n}", str(args.threads))
        runs_txt = "/".join(f"{s:.2f}" for s in b["all"])
        note += f"; runs {runs_txt} s"
        if b["rows"] != args.rows:
            note += f"; **read {b['rows']:,} rows, expected {args.rows:,}**"
        if b["errors"]:
            note += f"; {b['errors']} run(s) failed: {b['first_error']}"
        if key == "fastetl-1" and not has_workers:
            note += " (`convert` has no `workers=` yet)"
        lines.append(
            f"| {label} | {sec:.2f} | {size / 1e6 / sec:,.0f} | {ratio} | "
            f"{b['cpu_user']:.2f}+{b['cpu_sys']:.2f} | {_fmt_mib(b['rss_peak'])} | "
            f"{_fmt_mib(b['rss_base'])} | "
            f"{_fmt_mib(b['peak_anon'])} | {note.replace('|', '/')} |"
        )
    head = (
        f"Input: {args.rows:,} rows, {size / 1e6:,.1f} MB "
        f"(`fastetl.demo.generate_orders`, seed {args.seed}), in the page cache. "
        f"Threads offered to multi-threaded readers: {args.threads}. "
        f"Each run is a fresh process; seconds = wall time of the read call only (imports and "
        f"option building excluded), best of {args.repeat} runs taken round-robin; peak RSS = "
        f"the child's own `VmHWM` (highest of the runs; `ru_maxrss` would include the "
        f"parent's, see `_peak_rss_bytes`), which counts pages of memory-mapped "
        f"files too; peak anon = highest sampled RssAnon+RssShmem of the child (every 5 ms), "
        f"i.e. without file-backed pages; CPU s = user+sys CPU time of the child (all its "
        f"threads) during the read, of the best run: on a shared machine a wall time well "
        f"above the CPU time of a one-thread reader means it waited (for a CPU or for I/O). "
        f"Ratio = reader's time ÷ {ref_label}'s time "
        f"(above 1: fastetl is faster by that factor). MB = 10^6 bytes of CSV."
    )
    return head + "\n\n" + "\n".join(lines) + "\n"


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
        description="Compare fastetl with other CSV readers on the demo orders file."
    )
    p.add_argument("--rows", type=int, default=2_000_000, help="rows of the generated CSV")
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
    p.add_argument("--timeout", type=float, default=3600, help="seconds per child run")
    p.add_argument("--output", metavar="FILE", help="also write the Markdown report to FILE")
    # child mode
    p.add_argument("--run", help=argparse.SUPPRESS)
    p.add_argument("--src", help=argparse.SUPPRESS)
    p.add_argument("--workdir", help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.run:
        return child_main(args)
    if args.rows < 1 or args.repeat < 1 or args.threads < 1:
        p.error("--rows, --repeat and --threads must be at least 1")

    fastetl_mod = _import_fastetl()
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
        f"- fastetl imported from `{Path(fastetl_mod.__file__).parent}`\n"
        f"- Command: `{command}`\n"
        f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n"
    ]
    load0 = _loadavg()
    try:
        if not args.no_compare:
            parts.append(comparison(args, workdir, fastetl_mod))
        if args.memory_sizes:
            parts.append("Memory vs input size.\n\n" + memory_table(args, workdir, fastetl_mod))
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
