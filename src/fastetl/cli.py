"""The ``fastetl`` command line.  Uses the public API only.

Exit codes: 0 success; 1 data error (bad row, unreadable input, unwritable
output); 2 usage error.  Errors are one line on stderr, starting ``fastetl:``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, NoReturn

import fastetl
from fastetl.api import inference_error, spool
from fastetl.signals import Terminated, raise_terminated

EXIT_OK, EXIT_DATA, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 143  # 128 + SIGINT, 128 + SIGTERM
DEMO_ROWS = 200_000


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors as one line and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"fastetl: {message} (see '{self.prog} --help')\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"seconds must be 0 or more, got {text!r}")
    return value


def _size(text: str) -> int:
    """A byte count like 65536, 64k, 4M or 1G."""
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    t = text.strip().lower().removesuffix("b") or "x"
    mul = units.get(t[-1], 1)
    digits = t[:-1] if t[-1] in units else t
    try:
        value = int(digits) * mul
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size (e.g. 65536, 64k, 4M)") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1 byte")
    return value


def _infer_rows(text: str) -> int | str:
    return "all" if text.strip().lower() == "all" else _positive_int(text)


def _one_char(text: str) -> str:
    named = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
    value = named.get(text.lower(), text)
    if len(value) != 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not one character (or tab, comma, ...)")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="fastetl",
        description="Convert CSV into typed, fixed-layout binary records (.npy).",
    )
    p.add_argument("--version", action="version", version=f"fastetl {fastetl.__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    c = sub.add_parser(
        "convert",
        help="convert a CSV file into a .npy file and a JSON sidecar",
        description="Convert IN (a CSV file, or - for stdin) into OUT (.npy) plus OUT.json "
        "(schema, dictionaries, counts). OUT is replaced only when the whole input has "
        "converted. Without --schema the schema is inferred (see 'fastetl infer').",
    )
    c.add_argument("input", metavar="IN", help="CSV file, .gz/.bz2/.xz file, or - for stdin")
    c.add_argument("output", metavar="OUT", help="the .npy file to write")
    c.add_argument(
        "--schema", metavar="SCHEMA.json", help="the schema (JSON); inferred when not given"
    )
    _dialect_options(c)
    c.add_argument(
        "--block-size",
        type=_size,
        metavar="BYTES",
        help="bytes parsed per step (default 2M); does not change the output",
    )
    c.add_argument(
        "--workers",
        type=_positive_int,
        metavar="N",
        help="threads parsing in parallel (default: every core); does not change the output",
    )
    c.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="a progress bar on stderr (default: when stderr is a terminal)",
    )
    c.add_argument(
        "--on-error",
        choices=("raise", "skip", "reject"),
        default="raise",
        help="bad rows: raise (stop at the first, the default), skip (count them) or "
        "reject (write them, as they were, to the rejects file); with skip or reject an "
        "inferred schema leaves the malformed rows of its sample out",
    )
    c.add_argument(
        "--rejects",
        metavar="FILE",
        help="the rejects file for --on-error reject (default OUT.rejects.csv); "
        "FILE.json says why each row was rejected",
    )
    c.add_argument(
        "--append",
        action="store_true",
        help="add the rows to the existing OUT (same schema), atomically",
    )
    c.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted or killed conversion from its last checkpoint",
    )
    c.add_argument(
        "--wait",
        nargs="?",
        const=True,
        default=False,
        type=_seconds,
        metavar="SECONDS",
        help="when another run is writing OUT, wait for it to end (at most SECONDS, "
        "if given) instead of failing at once",
    )
    c.add_argument(
        "--checkpoint-every",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="seconds of work between checkpoints (default 5)",
    )
    c.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")

    f = sub.add_parser(
        "infer",
        help="print the inferred schema (JSON) of a CSV file",
        description="Sniff the dialect and infer the column types of IN; print the schema "
        "JSON, to edit and pass back with 'fastetl convert --schema'.",
    )
    f.add_argument("input", metavar="IN", help="CSV file, or - for stdin")
    f.add_argument("-o", "--output", metavar="FILE", help="write the schema here, not stdout")
    f.add_argument(
        "--on-error",
        choices=("raise", "skip", "reject"),
        default="raise",
        help="malformed rows in the sample (wrong number of fields, broken quoting): raise "
        "(the default), or skip/reject: leave them out and count them in the schema's "
        '"inferred" facts, as for convert --on-error skip/reject',
    )
    _dialect_options(f)

    i = sub.add_parser("inspect", help="show the schema, size and first rows of a converted file")
    i.add_argument("path", metavar="OUT", help="a .npy file written by fastetl convert")
    i.add_argument("-n", "--rows", type=int, default=5, metavar="N", help="rows to show (5)")

    d = sub.add_parser("demo", help="generate the example e-commerce orders, convert them, report")
    d.add_argument(
        "--rows",
        type=_positive_int,
        default=DEMO_ROWS,
        metavar="N",
        help=f"orders to generate (default {DEMO_ROWS:,})",
    )
    d.add_argument(
        "--dir",
        default="fastetl-demo",
        metavar="DIR",
        help="folder for orders.csv and orders.npy (default ./fastetl-demo)",
    )
    d.add_argument("--seed", type=int, default=0, help="random seed of the generated data")

    r = sub.add_parser(
        "run",
        help="run a Python script with numpy.loadtxt/genfromtxt and pandas.read_csv "
        "answered by fastetl",
        description="Run SCRIPT as 'python SCRIPT ARGS...' would, unchanged, with "
        "numpy.loadtxt, numpy.genfromtxt and pandas.read_csv answered by fastetl's "
        "drop-ins. Calls fastetl cannot answer exactly go to the originals (see "
        "FASTETL_FALLBACK). The exit code is the script's.",
    )
    r.add_argument("script", metavar="SCRIPT", help="the Python script to run")
    r.add_argument("args", nargs=argparse.REMAINDER, metavar="ARGS", help="its arguments")
    return p


def _dialect_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--delimiter",
        type=_one_char,
        metavar="C",
        help="field delimiter, overriding the sniffed or schema one (',' ';' tab '|' ...)",
    )
    p.add_argument("--encoding", metavar="E", help="input encoding (utf-8, cp1252, utf-16 ...)")
    p.add_argument(
        "--no-header", action="store_true", help="the first row is data, not column names"
    )
    p.add_argument(
        "--infer-rows",
        type=_infer_rows,
        metavar="N|all",
        help="rows sampled to infer the schema (default 10000), or 'all' for a full pass "
        "that guarantees every row fits",
    )


# -- commands -----------------------------------------------------------------
class UsageError(Exception):
    """A bad argument found after parsing (e.g. an unreadable schema file): exit 2."""


class _Hinted(fastetl.FastETLError):
    """An error message with advice appended, printed as one line."""


def _input(args: argparse.Namespace) -> Any:
    """IN as the API takes it; stdin is spooled when a schema must be inferred from it
    (it is read twice), and the spool's size is said on stderr."""
    if args.input != "-" or getattr(args, "schema", None):
        return args.input
    out = spool(sys.stdin.buffer)
    size = os.fstat(out.fileno()).st_size
    if not getattr(args, "quiet", False):
        print(
            f"fastetl: stdin spooled to an unnamed temporary file in {tempfile.gettempdir()} "
            f"({size / 1e6:,.1f} MB, gone when the run ends) to infer the schema first",
            file=sys.stderr,
        )
    return out


def _schema(args: argparse.Namespace, src: Any) -> tuple[fastetl.Schema, bool]:
    """The schema to use, and whether it was inferred."""
    path = getattr(args, "schema", None)
    if not path:
        try:
            schema = fastetl.infer_schema(
                src,
                delimiter=args.delimiter,
                encoding=args.encoding,
                header=False if args.no_header else None,
                infer_rows=args.infer_rows or 10_000,
                on_error=getattr(args, "on_error", "raise"),
            )
        except fastetl.ParseError as e:
            raise inference_error(e, getattr(args, "on_error", "raise")) from None
        return schema, True
    if args.infer_rows is not None:
        raise UsageError("--infer-rows applies only without --schema")
    try:
        schema = fastetl.Schema.load(path)
        changes: dict[str, Any] = {}
        if args.delimiter is not None:
            changes["delimiter"] = args.delimiter
        if args.encoding is not None:
            changes["encoding"] = args.encoding
        if args.no_header:
            changes["header"] = False
        if changes:
            d = schema.dialect.to_dict() | changes
            schema = schema.replace(dialect=fastetl.Dialect.from_dict(d))
    except fastetl.SchemaError as e:
        raise UsageError(f"--schema {path}: {e}") from None
    return schema, False


class ProgressBar:
    """Bytes done, percent, MB/s and time left, redrawn at most 10 times a second."""

    def __init__(self, out: Any = None) -> None:
        self.out = out or sys.stderr
        self.start = time.perf_counter()
        self.last = 0.0
        self.drawn = False

    def __call__(self, done: int, total: int | None) -> None:
        now = time.perf_counter()
        if now - self.last < 0.1 and (total is None or done < total):
            return
        self.last = now
        secs = max(now - self.start, 1e-9)
        rate = done / secs
        text = f"  {done / 1e6:,.1f} MB"
        if total:
            left = (total - done) / rate if rate > 0 else 0.0
            text += f" / {total / 1e6:,.1f} MB  {100 * done / total:3.0f}%"
            text += f"  {rate / 1e6:,.0f} MB/s  {left:,.0f} s left"
        else:
            text += f"  {rate / 1e6:,.0f} MB/s"
        self.out.write("\r" + text.ljust(64))
        self.out.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            self.out.write("\r" + " " * 64 + "\r")
            self.out.flush()


def cmd_convert(args: argparse.Namespace) -> int:
    if args.rejects and args.on_error != "reject":
        raise UsageError("--rejects goes with --on-error reject")
    if args.append and args.resume:
        raise UsageError("--append and --resume cannot be combined")
    if args.checkpoint_every < 0:
        raise UsageError("--checkpoint-every must be 0 or more seconds")
    if (args.append or args.resume) and not args.schema:
        # the schema is the output's own (or the checkpoint's), not a new inference
        if args.delimiter or args.encoding or args.no_header or args.infer_rows:
            raise UsageError("with --append or --resume, dialect options need --schema")
        src, schema, inferred = args.input, None, False
    else:
        src = _input(args)
        schema, inferred = _schema(args, src)
    show = args.progress if args.progress is not None else sys.stderr.isatty()
    bar = ProgressBar() if show and not args.quiet else None
    try:
        report = fastetl.convert(
            src,
            args.output,
            schema,
            block_size=args.block_size,
            workers=args.workers,
            progress=bar,
            on_error=args.on_error,
            rejects=args.rejects,
            append=args.append,
            resume=args.resume,
            checkpoint_every=args.checkpoint_every,
            wait=args.wait,
        )
    except fastetl.Interrupted as e:
        if bar is not None:
            bar.close()
        if e.resume_rows is None:
            raise
        what = "terminated" if e.terminated else "interrupted"
        print(
            f"fastetl: {what}; the output was not changed. Run the same command with "
            f"--resume to continue after row {e.resume_rows:,} (the last checkpoint).",
            file=sys.stderr,
        )
        return EXIT_TERMINATED if e.terminated else EXIT_INTERRUPTED
    except (fastetl.ParseError, fastetl.InputError) as e:
        hint = fastetl.hint_for(e, schema) if inferred else ""
        if hint:
            raise _Hinted(f"{e}; {hint}") from None
        raise
    finally:
        if bar is not None:
            bar.close()
    if report.recovered:
        print(
            f"fastetl: completed the commit of an earlier run into {report.output} "
            "that stopped while committing",
            file=sys.stderr,
        )
    if report.tail_left_out:
        print(
            f"fastetl: {args.input} grew while it was read; its unfinished last line "
            f"({report.tail_left_out:,} bytes) was left out",
            file=sys.stderr,
        )
    if report.leftovers_removed:
        print(
            f"fastetl: removed {report.leftovers_removed} temporary file(s) "
            f"({report.leftover_bytes / 1e6:,.1f} MB) left beside {report.output} "
            "by a run that did not end",
            file=sys.stderr,
        )
    if not args.quiet:
        how = " (schema inferred)" if inferred else ""
        left_out = (schema.inferred or {}).get("rows_left_out", 0) if inferred else 0
        if left_out:
            how = f" (schema inferred; {left_out:,} malformed sample row(s) left out)"
        if report.resumed_at is not None:
            how += f" (resumed after {report.resumed_at:,} rows)"
        if report.appended:
            how += " (appended)"
        print(f"fastetl: {args.input} -> {report.output}: {report}{how}")
        if report.rejects is not None:
            print(f"fastetl: rejected rows: {report.rejects} (reasons: {report.rejects}.json)")
    return EXIT_OK


def cmd_infer(args: argparse.Namespace) -> int:
    src = _input(args)
    schema, _ = _schema(args, src)
    text = schema.to_json() + "\n"
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"fastetl: schema of {args.input} written to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _fmt_bytes(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:,} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return str(n)  # pragma: no cover


def _describe(col: fastetl.Column) -> str:
    parts = [col.type]
    if col.width is not None:
        parts.append(f"width {col.width}")
    if col.scale is not None:
        parts.append(f"scale {col.scale}")
    if col.format:
        parts.append(f"format {col.format}")
    if col.type == "category":
        parts.append(f"{'fixed' if col.values is not None else 'learned'}")
    if col.nullable:
        parts.append("nullable")
    return ", ".join(parts)


def _cell(v: Any) -> str:
    if v is None:
        return "∅"
    if isinstance(v, float) and v != v:
        return "NaN"
    s = str(v)
    return s if len(s) <= 24 else s[:23] + "…"


def print_table(rows: list[dict[str, Any]], out: Any = None) -> None:
    out = out or sys.stdout
    if not rows:
        print("  (no rows)", file=out)
        return
    names = list(rows[0])
    cells = [[_cell(r[n]) for n in names] for r in rows]
    widths = [max(len(n), *(len(c[i]) for c in cells)) for i, n in enumerate(names)]
    print("  " + "  ".join(n.ljust(w) for n, w in zip(names, widths, strict=True)), file=out)
    for c in cells:
        print("  " + "  ".join(v.ljust(w) for v, w in zip(c, widths, strict=True)), file=out)


def cmd_inspect(args: argparse.Namespace) -> int:
    # fastetl.open checks the sidecar (every key used below) against the .npy and its
    # pair; the rows are decoded before anything is printed, so a bad one prints nothing
    t = fastetl.open(args.path)
    meta = t.meta
    path = Path(args.path)
    side = path.with_name(path.name + ".json")
    n = max(0, args.rows)
    first = t.rows(0, n)
    print(f"{path}: {len(t):,} rows, {t.array.dtype.itemsize} bytes per record")
    print(
        f"  files: {path.name} {_fmt_bytes(path.stat().st_size)}, "
        f"{side.name} {_fmt_bytes(side.stat().st_size)}"
    )
    src = meta.get("source", {})
    if src:
        when = ""
        if "mtime" in src:
            when = ", modified " + _dt.datetime.fromtimestamp(
                src["mtime"], _dt.timezone.utc
            ).isoformat(timespec="seconds")
        size = f" ({_fmt_bytes(src['size'])}{when})" if "size" in src else ""
        print(f"  source: {src.get('path')}{size}")
    print(f"  rows rejected: {meta.get('rows_rejected', 0):,}")
    print("columns:")
    width = max(len(c.name) for c in t.schema.columns)
    for c in t.schema.columns:
        extra = ""
        if c.type == "category":
            extra = f" [{len(meta['categories'].get(c.name, [])):,} values]"
        print(f"  {c.name.ljust(width)}  {_describe(c)}{extra}")
    for f in t.schema.flags:
        print(
            f"flags {f.name} ({f.type}): "
            + ", ".join(f"bit {i} {b.name}" for i, b in enumerate(f.bits))
        )
    print(f"first {len(first)} rows:")
    print_table(first)
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from fastetl.demo import demo_schema, generate_orders

    folder = Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    csv_path, npy_path = folder / "orders.csv", folder / "orders.npy"
    t0 = time.perf_counter()
    size = generate_orders(csv_path, args.rows, seed=args.seed)
    gen = time.perf_counter() - t0
    print(
        f"fastetl demo: generated {args.rows:,} e-commerce orders (20 columns, "
        f"{_fmt_bytes(size)}) in {csv_path} [{gen:.1f} s]"
    )
    schema = demo_schema()
    report = fastetl.convert(csv_path, npy_path, schema)
    itemsize = schema.dtype().itemsize
    print(f"converted -> {npy_path}: {report}")
    print(
        f"  {itemsize} bytes per record instead of {size / max(report.rows, 1):.0f} bytes "
        f"of CSV text; {len(schema.columns)} columns, "
        f"{sum(len(f.bits) for f in schema.flags)} flag bits packed in "
        f"{len(schema.flags)} byte(s)"
    )
    t = fastetl.open(npy_path)
    print("first 3 rows, decoded:")
    print_table(t.rows(0, 3))
    print("open it from Python:")
    print(f"  import fastetl; t = fastetl.open({str(npy_path)!r}); t['categoria'], t['pago_pix']")
    print(f"  import numpy; a = numpy.load({str(npy_path)!r}, mmap_mode='r')   # no fastetl needed")
    print(f"or: fastetl inspect {npy_path}")
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    from fastetl.dropin.accelerate import run_script

    if not os.path.isfile(args.script):
        raise UsageError(f"run: can't open file {args.script!r}: no such file")
    return run_script(args.script, list(args.args))


COMMANDS = {
    "run": cmd_run,
    "convert": cmd_convert,
    "infer": cmd_infer,
    "inspect": cmd_inspect,
    "demo": cmd_demo,
}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    # SIGTERM (docker stop, systemd, timeout) stops a command as Ctrl-C does
    # (not for `run`: the script keeps Python's own signal handling)
    if (
        args.command != "run"
        and hasattr(signal, "SIGTERM")
        and threading.current_thread() is threading.main_thread()
    ):
        signal.signal(signal.SIGTERM, raise_terminated)
    try:
        return COMMANDS[args.command](args)
    except UsageError as e:
        print(f"fastetl: {e}", file=sys.stderr)
        return EXIT_USAGE
    except fastetl.SchemaError as e:
        print(f"fastetl: schema error: {e}", file=sys.stderr)
        return EXIT_DATA
    except fastetl.FastETLError as e:
        print(f"fastetl: {e}", file=sys.stderr)
        return EXIT_DATA
    except BrokenPipeError:  # e.g. `fastetl inspect x.npy | head`: the reader has enough
        _silence_stdout()
        return EXIT_OK
    except OSError as e:
        where = f": {e.filename}" if e.filename else ""
        print(f"fastetl: {e.strerror or e}{where}", file=sys.stderr)
        return EXIT_DATA
    except KeyboardInterrupt as e:
        terminated = isinstance(e, Terminated) or getattr(e, "terminated", False)
        what = "terminated" if terminated else "interrupted"
        print(f"fastetl: {what}; the output was not changed", file=sys.stderr)
        return EXIT_TERMINATED if terminated else EXIT_INTERRUPTED


def _silence_stdout() -> None:
    """Point stdout at devnull so the interpreter's final flush cannot fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
