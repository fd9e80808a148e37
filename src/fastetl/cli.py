"""The ``fastetl`` command line.  Uses the public API only.

Exit codes: 0 success; 1 data error (bad row, unreadable input, unwritable
output); 2 usage error.  Errors are one line on stderr, starting ``fastetl:``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import signal
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import Any, NoReturn

import fastetl
from fastetl import signals
from fastetl.api import committed_since, inference_error, is_stream_path, spool
from fastetl.errors import one_line
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


def _mark(text: str) -> str:
    """A decimal mark or thousands separator: one character, or its name."""
    named = {"comma": ",", "dot": ".", "period": ".", "space": " ", "apostrophe": "'",
             "underscore": "_"}  # fmt: skip
    value = named.get(text.lower(), text)
    if len(value) != 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not one character (or comma, dot, space)")
    return value


def _decimal_mark(text: str) -> str:
    value = _mark(text)
    if value not in fastetl.schema.DECIMAL_MARKS:
        raise argparse.ArgumentTypeError(f"{text!r}: the decimal mark is '.' or ','")
    return value


def _thousands_mark(text: str) -> str:
    value = _mark(text)
    if value not in fastetl.schema.THOUSANDS_SEPARATORS:
        seps = " ".join(repr(c) for c in fastetl.schema.THOUSANDS_SEPARATORS)
        raise argparse.ArgumentTypeError(f"{text!r}: the thousands separator is one of {seps}")
    return value


def _words(text: str) -> list[str]:
    """A comma-separated list of words (boolean words, column names)."""
    words = [w.strip() for w in text.split(",")]
    if not all(words):
        raise argparse.ArgumentTypeError(f"{text!r} has an empty item; give A,B,...")
    return words


def _name_type(text: str) -> tuple[str, str]:
    """NAME=TYPE of --type."""
    name, sep, typ = text.partition("=")
    if not sep or not name.strip() or not typ.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=TYPE (e.g. preco=decimal(2))")
    return name.strip(), typ.strip()


def _quote_char(text: str) -> str | None:
    if text.lower() in ("none", ""):
        return None  # no quoting
    return _one_char(text)


def _count(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = -1
    if n < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 0")
    return n


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
        "converted. Without --schema the schema is inferred (see 'fastetl infer'). "
        "An OUT ending in .parquet or .arrow/.feather is written in that format straight "
        "from the CSV, with no .npy in between.",
    )
    c.add_argument("input", metavar="IN", help="CSV file, .gz/.bz2/.xz file, or - for stdin")
    c.add_argument(
        "output", metavar="OUT", help="the .npy file to write (or OUT.parquet, OUT.arrow)"
    )
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
    c.add_argument(
        "--dask",
        metavar="SCHEDULER",
        help="convert on a Dask cluster into the dataset folder OUT: SCHEDULER is the "
        "address of a running scheduler, or local:N for a LocalCluster of N worker "
        "processes; IN may be a glob (quote it) of files with one header",
    )
    c.add_argument(
        "--partition-size",
        metavar="BYTES",
        default="256MB",
        help="with --dask: bytes of input per task and per part (default 256MB)",
    )
    c.add_argument(
        "--no-hash",
        action="store_true",
        help="do not compute the input's content hash (the sidecar's content_hash)",
    )
    c.add_argument(
        "--no-host",
        action="store_true",
        help="leave the host name out of the sidecar's lineage entry",
    )
    c.add_argument(
        "--openlineage",
        metavar="FILE",
        help="also write an OpenLineage RunEvent (JSON) of the conversion to FILE",
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

    ln = sub.add_parser(
        "lineage",
        help="print the lineage chain of a converted file (one entry per input)",
        description="Print what OUT was made from: per input (appends add theirs), the "
        "source, its content hash, the schema hash, row counts, times, host and options.",
    )
    ln.add_argument("path", metavar="OUT", help="a .npy file written by fastetl convert")
    ln.add_argument("--json", action="store_true", help="print the chain as JSON")

    i = sub.add_parser("inspect", help="show the schema, size and first rows of a converted file")
    i.add_argument("path", metavar="OUT", help="a .npy file written by fastetl convert")
    i.add_argument("-n", "--rows", type=int, default=5, metavar="N", help="rows to show (5)")

    ck = sub.add_parser(
        "check",
        help="check a converted file against data-quality rules",
        description="Check OUT against RULES (a schema, or just its rule keys: "
        '{"columns": [{"name": ..., "min": ...}], "rules": [...]}), or against the rules '
        "of the schema it was converted with. Prints, per rule, the output rows breaking "
        "it (a row counts under every rule it breaks); exit status 1 when any row breaks "
        "one, 2 when RULES cannot be read or do not fit OUT.",
    )
    ck.add_argument("path", metavar="OUT", help="a .npy file written by fastetl convert")
    ck.add_argument("--rules", metavar="RULES.json", help="the rules (default: the output's own)")

    pr = sub.add_parser(
        "profile",
        help="statistics, PII and an HTML report of a CSV or a converted .npy",
        description="Profile IN (a CSV, - for stdin, compressed or not, or a converted .npy) "
        "in one pass and bounded memory: per column type, nulls, distinct, min/max, mean, "
        "std, quantiles, histogram, top values, lengths, PII; rows, bad rows, duplicates, "
        "correlations.  Prints a summary; --json and --html write the full profile.",
    )
    pr.add_argument("input", metavar="IN", help="CSV file (- for stdin) or a converted .npy")
    pr.add_argument("--schema", metavar="SCHEMA", help="schema JSON (default: inferred)")
    pr.add_argument("--json", metavar="FILE", help="write the profile as JSON here (- for stdout)")
    pr.add_argument("--html", metavar="FILE", help="write the self-contained HTML report here")
    pr.add_argument(
        "--top", type=int, default=10, metavar="K", help="top values per column (default 10)"
    )
    pr.add_argument(
        "--workers", type=_positive_int, metavar="N", help="threads (default: all cores)"
    )
    _dialect_options(pr)

    sa = sub.add_parser(
        "sample",
        help="a seeded stratified random sample, with estimates and 95%% intervals",
        description="Draw a stratified random sample of IN (a CSV or a converted .npy): "
        "FRAC of its rows, every stratum of --strata represented (at least 2 rows), and "
        "for each --estimate column the estimated total and mean per stratum and overall "
        "with expansion weights and 95%% confidence intervals, beside the exact totals.",
    )
    sa.add_argument("input", metavar="IN", help="CSV file (- for stdin) or a converted .npy")
    sa.add_argument("--strata", required=True, metavar="COL", help="the column that defines strata")
    sa.add_argument(
        "--frac", required=True, type=float, metavar="F", help="share of rows, in (0, 1]"
    )
    sa.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default 0)")
    sa.add_argument(
        "--allocation",
        choices=("proportional", "sqrt", "neyman"),
        default="proportional",
        help="rows per stratum: proportional to its size (default), to its square root "
        "(favours rare strata), or neyman (size times the std of the first --estimate column)",
    )
    sa.add_argument(
        "--estimate", nargs="+", default=[], metavar="COL", help="numeric columns to estimate"
    )
    sa.add_argument("-o", "--output", metavar="SAMPLE.npy", help="write the sampled rows here")
    sa.add_argument("--schema", metavar="SCHEMA", help="schema JSON of a CSV (default: inferred)")
    sa.add_argument(
        "--json", metavar="FILE", help="write the estimates as JSON here (- for stdout)"
    )
    sa.add_argument(
        "--html", metavar="FILE", help="write the estimates beside the exact totals as HTML here"
    )

    e = sub.add_parser(
        "export",
        help="write a converted file as Parquet, Arrow (Feather v2), CSV or JSON Lines",
        description="Write OUT (a .npy file written by fastetl convert) to DEST, in bounded "
        "memory. DEST is replaced only when the whole export is written.",
    )
    e.add_argument("path", metavar="OUT", help="a .npy file written by fastetl convert")
    e.add_argument("dest", metavar="DEST", help="the file to write")
    e.add_argument(
        "--format",
        choices=("parquet", "arrow", "csv", "jsonl"),
        help="the format (default: from DEST's suffix: .parquet .arrow/.feather .csv .jsonl)",
    )
    e.add_argument("--columns", metavar="A,B", help="the columns to write, in this order")
    e.add_argument(
        "--no-formula-escape",
        dest="formula_escape",
        action="store_false",
        help="CSV: write text cells starting with = + - @ TAB CR as they are (for machine "
        "consumers; by default they get a leading ' so spreadsheets do not run them)",
    )

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
        help="run a Python script with numpy.loadtxt/genfromtxt (and, with --pandas, "
        "pandas.read_csv) answered by fastetl",
        description="Run SCRIPT as 'python SCRIPT ARGS...' would, unchanged, with "
        "numpy.loadtxt and numpy.genfromtxt (and with --pandas pandas.read_csv) answered by "
        "fastetl's drop-ins. Calls fastetl cannot answer exactly go to the originals (see "
        "FASTETL_FALLBACK). The exit code is the script's.",
    )
    r.add_argument(
        "--pandas",
        action="store_true",
        help="answer pandas.read_csv too (opt-in: fastetl's pandas drop-in is exact but not "
        "yet faster than pandas' C engine on common files)",
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
    # how values are spelled, and a partial schema (issue 17)
    p.add_argument(
        "--decimal",
        type=_decimal_mark,
        metavar="C",
        help="decimal mark of numbers: '.' or ',' (default: sniffed, e.g. 1,5 in a ; file)",
    )
    p.add_argument(
        "--thousands",
        type=_thousands_mark,
        metavar="C",
        help="digit-group separator of numbers: ',' '.' space \"'\" '_' (default: sniffed "
        "when unambiguous, e.g. 1.234,56)",
    )
    p.add_argument(
        "--true-values",
        type=_words,
        metavar="A,B",
        help="more words read as true (e.g. sim,S); never sniffed",
    )
    p.add_argument(
        "--false-values",
        type=_words,
        metavar="A,B",
        help="more words read as false (e.g. não,N); never sniffed",
    )
    p.add_argument(
        "--type",
        dest="types",
        type=_name_type,
        action="append",
        metavar="NAME=TYPE",
        help="use this type for a column instead of the inferred one (repeat: --type "
        "preco=decimal(2) --type cep=str); without --schema only",
    )
    p.add_argument(
        "--columns",
        type=_words,
        metavar="A,B,C",
        help="keep only these columns (the others are skipped); without --schema only",
    )
    order = p.add_mutually_exclusive_group()
    order.add_argument(
        "--dayfirst",
        dest="dayfirst",
        action="store_const",
        const=True,
        help="dates that fit both orders (01/02/2024) are day-first (the default, said on "
        "stderr when it matters)",
    )
    order.add_argument(
        "--monthfirst",
        dest="dayfirst",
        action="store_const",
        const=False,
        help="dates that fit both orders (01/02/2024) are month-first",
    )
    # the row structure (Dialect fields); each given one is used as it is, never sniffed
    p.add_argument(
        "--quote", type=_quote_char, default=..., metavar="C", help="quote character, or 'none'"
    )
    p.add_argument(
        "--escape", type=_one_char, metavar="C", help="escape character (e.g. '\\'): the next "
        "character is text"
    )
    p.add_argument(
        "--comment", type=_one_char, metavar="C", help="comment mark (e.g. '#'): from it to "
        "the line end is not data"
    )
    p.add_argument(
        "--skip-rows", type=_count, metavar="N", help="lines before the header (or first row) "
        "that are not read"
    )
    p.add_argument(
        "--ragged", choices=("strict", "fill"), help="short rows: an error (strict) or their "
        "missing trailing fields null (fill)"
    )
    p.add_argument(
        "--skip-initial-space", action="store_const", const=True, help="spaces after a "
        "delimiter are not text (a, \"b, c\" is two fields)"
    )
    p.add_argument(
        "--lenient-quotes", action="store_const", const=True, help='a quote inside a quoted '
        'field that is not doubled ("a "b" c") is kept as text'
    )
    p.add_argument(
        "--trailing-delimiter", action="store_const", const=True, help="every row ends with "
        "a delimiter: the empty last field is dropped"
    )
    p.add_argument(
        "--null-values", metavar="A,B,..", help="the texts that mean null, comma-separated "
        "(default: the empty field only)"
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
    """IN as the API takes it; stdin, or a FIFO, is spooled when a schema must be
    inferred from it (it is read twice), and the spool's size is said on stderr."""
    if getattr(args, "schema", None):
        return args.input
    if args.input == "-":
        out, what = spool(sys.stdin.buffer, "<stdin>"), "stdin"
    elif is_stream_path(args.input):
        try:
            with open(args.input, "rb") as fh:
                out, what = spool(fh, args.input), args.input
        except OSError as e:
            raise fastetl.InputError(f"{args.input}: cannot read ({e.strerror or e})") from None
    else:
        return args.input
    size = os.fstat(out.fileno()).st_size
    if not getattr(args, "quiet", False):
        print(
            f"fastetl: {what} spooled to an unnamed temporary file in {tempfile.gettempdir()} "
            f"({size / 1e6:,.1f} MB, gone when the run ends) to infer the schema first",
            file=sys.stderr,
        )
    return out


_STRUCTURE_FLAGS = (
    "escape", "comment", "skip_rows", "ragged", "skip_initial_space", "lenient_quotes",
    "trailing_delimiter",
)  # fmt: skip


def _structure_given(args: argparse.Namespace) -> dict[str, Any]:
    """The Dialect fields given by flags, besides --delimiter/--encoding/--no-header."""
    given = {k: getattr(args, k) for k in _STRUCTURE_FLAGS if getattr(args, k) is not None}
    if args.quote is not ...:
        given["quote"] = args.quote
    if args.null_values is not None:
        given["null_values"] = args.null_values.split(",")
    return given


def _schema(args: argparse.Namespace, src: Any) -> tuple[fastetl.Schema, bool]:
    """The schema to use, and whether it was inferred."""
    path = getattr(args, "schema", None)
    spelling = _value_options(args)
    if not path:
        types = dict(args.types) if args.types else None
        if types is not None and len(types) < len(args.types):
            raise UsageError("--type names a column twice")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", fastetl.EncodingGuessWarning)  # said below
                schema = fastetl.infer_schema(
                    src,
                    delimiter=args.delimiter,
                    encoding=args.encoding,
                    header=False if args.no_header else None,
                    infer_rows=args.infer_rows or 10_000,
                    on_error=getattr(args, "on_error", "raise"),
                    types=types,
                    columns=args.columns,
                    dayfirst=args.dayfirst,
                    **spelling,
                    **_structure_given(args),
                )
        except fastetl.ParseError as e:
            raise inference_error(e, getattr(args, "on_error", "raise")) from None
        warning = ((schema.inferred or {}).get("encoding") or {}).get("warning")
        if warning:
            print(f"fastetl: warning: {one_line(warning)}", file=sys.stderr)
        _say_undecided(schema, quiet=getattr(args, "quiet", False))
        return schema, True
    if args.infer_rows is not None:
        raise UsageError("--infer-rows applies only without --schema")
    if args.types or args.columns or args.dayfirst is not None:
        raise UsageError(
            "--type, --columns, --dayfirst and --monthfirst steer inference; with --schema, "
            "edit the schema"
        )
    try:
        schema = fastetl.Schema.load(path)
        changes: dict[str, Any] = {}
        if args.delimiter is not None:
            changes["delimiter"] = args.delimiter
        if args.encoding is not None:
            changes["encoding"] = args.encoding
        if args.no_header:
            changes["header"] = False
        changes |= spelling
        changes |= _structure_given(args)
        if changes:
            d = schema.dialect.to_dict() | changes
            schema = schema.replace(dialect=fastetl.Dialect.from_dict(d))
    except fastetl.SchemaError as e:
        raise UsageError(f"--schema {path}: {e}") from None
    return schema, False


def _listed_names(names: list[str], most: int = 5) -> str:
    more = f" and {len(names) - most} more" if len(names) > most else ""
    return ", ".join(repr(n) for n in names[:most]) + more


def _say_undecided(schema: fastetl.Schema, quiet: bool) -> None:
    """One line on stderr for each reading inference had to choose or leave undecided."""
    facts = schema.inferred or {}
    order = facts.get("date_order")
    if quiet:
        return
    if order and not order["given"]:
        print(
            f"fastetl: every sampled date of {_listed_names(order['columns'])} fits both "
            f"day-first and month-first; read {order['order']} (--dayfirst / --monthfirst "
            "to choose)",
            file=sys.stderr,
        )
    if facts.get("numbers_unread"):
        print(
            f"fastetl: {_listed_names(facts['numbers_unread'])} could be numbers in more than "
            "one spelling (1,234: 1.234 or 1234?) and were kept as text (--decimal / "
            "--thousands to choose)",
            file=sys.stderr,
        )


def _value_options(args: argparse.Namespace) -> dict[str, Any]:
    """The value-spelling flags given (--decimal, --thousands, --true/false-values)."""
    keys = ("decimal", "thousands", "true_values", "false_values")
    return {k: getattr(args, k) for k in keys if getattr(args, k, None) is not None}


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
    from fastetl.export.onepass import unwritable_reason

    refused = unwritable_reason(args.output)
    out = Path(args.output)
    own = args.input != "-" and out.exists() and os.path.exists(args.input)
    if refused is not None and not (own and os.path.samefile(args.input, out)):
        raise UsageError(refused)  # (the input itself under that name: refused later, saying so)
    if args.dask:
        return _convert_dask(args)
    if args.rejects and args.on_error != "reject":
        raise UsageError("--rejects goes with --on-error reject")
    if args.append and args.resume:
        raise UsageError("--append and --resume cannot be combined")
    from fastetl.export.onepass import streamed_format

    fmt = streamed_format(args.output)
    if fmt is not None and (args.append or args.resume or args.on_error == "reject"):
        raise UsageError(
            f"--append, --resume and --on-error reject do not apply to a {fmt} output "
            "(convert to .npy, then fastetl export)"
        )
    if args.checkpoint_every < 0:
        raise UsageError("--checkpoint-every must be 0 or more seconds")
    if args.openlineage:  # before anything is read or written: no event for a bad path
        from fastetl.openlineage import check_destination

        check_destination(args.openlineage)
    if (args.append or args.resume) and not args.schema:
        # the schema is the output's own (or the checkpoint's), not a new inference
        if (
            args.delimiter
            or args.encoding
            or args.no_header
            or args.infer_rows
            or _value_options(args)
            or args.types
            or args.columns
            or args.dayfirst is not None
            or _structure_given(args)
        ):
            raise UsageError("with --append or --resume, dialect options need --schema")
        src, schema, inferred = args.input, None, False
    else:
        try:
            src = _input(args)
            schema, inferred = _schema(args, src)
        except (fastetl.FastETLError, OSError, KeyboardInterrupt) as e:
            if args.openlineage:  # (the conversion never started: say it failed)
                _failed_event(args, e)
            raise
    show = args.progress if args.progress is not None else sys.stderr.isatty()
    bar = ProgressBar() if show and not args.quiet else None
    started = fastetl.lineage.now()
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
            widen=inferred,
            hash=not args.no_hash,
            host=not args.no_host,
            openlineage=args.openlineage,
        )
        args.converted = True  # (an interrupt from here on comes after the commit)
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
    except KeyboardInterrupt as e:  # (not Interrupted: it landed as convert returned,
        # or before it began; the output's sidecar tells which)
        if committed_since(args.output, started):
            raise fastetl.Interrupted(None, isinstance(e, Terminated), committed=True) from None
        raise
    except (fastetl.ParseError, fastetl.InputError) as e:
        hint = fastetl.hint_for(e, schema) if inferred else ""
        if hint:
            raise _Hinted(f"{e}; {hint}") from None
        raise
    except ImportError as e:  # OUT.parquet / OUT.arrow without pyarrow: the extra to install
        raise UsageError(str(e)) from None
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
    for w in report.widened:
        if "column" in w:
            what = f'column "{w["column"]}" widened from {w["from"]} to {w["to"]}'
        elif "null_values_added" in w:
            what = f"null values {w['null_values_added']} added"
        else:
            what = f"encoding changed from {w['encoding'][0]} to {w['encoding'][1]}"
        print(
            f"fastetl: {what} for {w['value']!r} at line {w['line']:,}, past the inference "
            "sample; the input was converted again",
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


def _failed_event(args: argparse.Namespace, error: BaseException) -> None:
    """START and FAIL of a run that stopped before its conversion began."""
    from fastetl import lineage, openlineage

    run, host = lineage.new_run_id(), not args.no_host
    start = openlineage.start_event(run, lineage.now(), args.input, args.output, host)
    event = openlineage.failed_event(run, lineage.now(), args.input, args.output, error, host)
    openlineage.write_events(args.openlineage, [start, event])


def _convert_dask(args: argparse.Namespace) -> int:
    """``convert --dask``: the dataset folder OUT, converted on a Dask cluster."""
    for given, flag in ((args.append, "--append"), (args.resume, "--resume"),
                        (args.rejects, "--rejects"), (args.workers, "--workers"),
                        (args.block_size, "--block-size")):
        if given:
            raise UsageError(f"{flag} does not apply with --dask")
    if args.input == "-":
        raise UsageError("--dask reads files every worker sees, not stdin")
    try:
        from . import dask as fdask
    except ImportError as e:
        raise UsageError(f"--dask needs Dask: pip install 'fastetl[dask]' ({e})") from None
    try:
        size = fdask.parse_size(args.partition_size)
    except ValueError as e:
        raise UsageError(str(e)) from None
    paths = fdask.expand_inputs(args.input)
    if args.openlineage:  # before anything is read or written: no event for a bad path
        from fastetl.openlineage import check_destination

        check_destination(args.openlineage)
    try:
        schema, inferred = _schema(args, paths[0])
    except (fastetl.FastETLError, OSError, KeyboardInterrupt) as e:
        if args.openlineage:  # (the conversion never started: say it failed)
            _failed_event(args, e)
        raise
    with fdask.connect(args.dask) as client:
        report = fdask.convert(paths, args.output, schema, client=client, partition_size=size,
                               on_error=args.on_error, widen=inferred, wait=args.wait,
                               hash=not args.no_hash, host=not args.no_host,
                               openlineage=args.openlineage)
        args.converted = True  # (an interrupt as the cluster closes comes after the commit)
    if not args.quiet:
        print(f"fastetl: {args.input} -> {report}")
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
    print(f"{path}: {len(t):,} rows, {t.schema.dtype().itemsize} bytes per record")
    if path.is_dir():  # a dataset (fastetl convert --dask)
        parts = meta["parts"]
        size = sum((path / p["file"]).stat().st_size for p in parts)
        print(f"  files: {len(parts)} part(s) {_fmt_bytes(size)}, dataset.json")
    else:
        text = path.with_name(meta["text"]["path"]) if "text" in meta else None
        print(
            f"  files: {path.name} {_fmt_bytes(path.stat().st_size)}, "
            + (f"{text.name} {_fmt_bytes(text.stat().st_size)}, " if text else "")
            + f"{side.name} {_fmt_bytes(side.stat().st_size)}"
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


def cmd_lineage(args: argparse.Namespace) -> int:
    from fastetl import lineage
    from fastetl.export.onepass import stored_meta, streamed_format

    if streamed_format(args.path):  # written in one pass: the file's own metadata
        meta = stored_meta(args.path)
    else:
        meta = fastetl.open(args.path).meta  # (the sidecar, checked against the .npy)
    entries = lineage.chain(meta)
    if args.json:
        print(json.dumps(entries, indent=2, ensure_ascii=False))
    else:
        sys.stdout.write(lineage.describe(entries, meta["rows"]))
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    from fastetl.rules.check import RulesError

    try:
        report = fastetl.check(args.path, args.rules)
    except RulesError as e:  # the rules file, not the data: exit 2 as for --schema
        raise UsageError(f"--rules {args.rules}: {e}") from None
    print(report.table())
    return EXIT_OK if report.ok else EXIT_DATA


def _write_text(target: str, text: str, what: str) -> None:
    if target == "-":
        sys.stdout.write(text)
        return
    Path(target).write_text(text, encoding="utf-8")
    print(f"fastetl: {what} written to {target}", file=sys.stderr)


def cmd_profile(args: argparse.Namespace) -> int:
    if args.top < 0:
        raise UsageError("--top must be 0 or more")
    from fastetl.profiling import is_npy

    if is_npy(args.input):
        if args.schema or args.delimiter or args.encoding or args.no_header or args.infer_rows:
            raise UsageError("a converted .npy carries its schema: no --schema or reading options")
        prof = fastetl.profile(args.input, top=args.top, workers=args.workers)
    else:
        src = _input(args)
        schema, inferred = _schema(args, src)
        if inferred and schema.text_names:  # a profile folds fixed-width values: str there
            args.types = [*(args.types or []), *((n, "str") for n in schema.text_names)]
            if hasattr(src, "seek"):
                src.seek(0)
            schema, inferred = _schema(args, src)
        prof = fastetl.profile(src, schema, top=args.top, workers=args.workers)
        prof.data["schema_inferred"] = inferred
        if args.input == "-":
            prof.data["source"] = "<stdin>"
    if args.json:
        _write_text(args.json, prof.to_json() + "\n", "profile JSON")
    if args.html:
        prof.save_html(args.html)
        print(f"fastetl: HTML report written to {args.html}", file=sys.stderr)
    if not args.json and not args.html:
        print(prof)
    return EXIT_OK


def cmd_sample(args: argparse.Namespace) -> int:
    import json

    from fastetl.profiling import is_npy, sample

    schema = None
    if args.schema:
        if is_npy(args.input):
            raise UsageError("a converted .npy carries its schema: no --schema")
        try:
            schema = fastetl.Schema.load(args.schema)
        except fastetl.SchemaError as e:
            raise UsageError(f"--schema {args.schema}: {e}") from None
    try:
        info = sample(
            args.input,
            args.strata,
            args.frac,
            seed=args.seed,
            allocation=args.allocation,
            estimate=args.estimate,
            output=args.output,
            schema=schema,
        )
    except ValueError as e:
        if isinstance(e, fastetl.FastETLError):
            raise
        raise UsageError(str(e)) from None
    if args.json:
        _write_text(args.json, json.dumps(info, indent=2, ensure_ascii=False) + "\n", "estimates")
    if args.html:
        from fastetl.profiling.report import render_sample_html

        _write_text(args.html, render_sample_html(info), "HTML report")
    print(
        f"fastetl: sampled {info['rows']:,} of {info['population']:,} rows "
        f"({info['allocation']} allocation over strata of {info['strata']!r}, seed {info['seed']})"
        + (f" into {args.output}" if args.output else ""),
        file=sys.stderr,
    )
    if not args.json or args.json != "-":
        for col, est in info["estimates"].items():
            o = est["overall"]
            lo, hi = o["total_ci"]
            print(
                f"{col}: estimated total {o['total']:,.2f} (95% CI {lo:,.2f} .. {hi:,.2f}); "
                f"exact {est['exact_total']:,.2f}"
            )
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
    return run_script(args.script, list(args.args), pandas=args.pandas)


def cmd_export(args: argparse.Namespace) -> int:
    from fastetl.export import export  # (pyarrow is loaded only for an export)

    columns = None
    if args.columns is not None:
        columns = [c.strip() for c in args.columns.split(",")]
    try:
        report = export(
            args.path, args.dest, args.format, columns, formula_escape=args.formula_escape
        )
    except (ValueError, ImportError) as e:
        raise UsageError(str(e)) from None
    print(f"fastetl: {report}", file=sys.stderr)
    return EXIT_OK


COMMANDS = {
    "export": cmd_export,
    "run": cmd_run,
    "convert": cmd_convert,
    "infer": cmd_infer,
    "inspect": cmd_inspect,
    "lineage": cmd_lineage,
    "check": cmd_check,
    "demo": cmd_demo,
    "profile": cmd_profile,
    "sample": cmd_sample,
}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        # SIGTERM (docker stop, systemd, timeout) stops a command as Ctrl-C does
        # (not for `run`: the script keeps Python's own signal handling); set in the
        # try: one that lands as it is set is said as any other
        if (
            args.command != "run"
            and hasattr(signal, "SIGTERM")
            and threading.current_thread() is threading.main_thread()
        ):
            signal.signal(signal.SIGTERM, raise_terminated)
        return COMMANDS[args.command](args)
    except UsageError as e:
        print(f"fastetl: {one_line(str(e))}", file=sys.stderr)
        return EXIT_USAGE
    except fastetl.SchemaError as e:
        print(f"fastetl: schema error: {one_line(str(e))}", file=sys.stderr)
        return EXIT_DATA
    except fastetl.FastETLError as e:
        print(f"fastetl: {one_line(str(e))}", file=sys.stderr)
        return EXIT_DATA
    except BrokenPipeError:  # e.g. `fastetl inspect x.npy | head`: the reader has enough
        _silence_stdout()
        return EXIT_OK
    except OSError as e:
        where = f": {e.filename}" if e.filename else ""
        print(f"fastetl: {one_line(f'{e.strerror or e}{where}')}", file=sys.stderr)
        return EXIT_DATA
    except KeyboardInterrupt as e:
        terminated = signals.terminated(e)
        if getattr(args, "converted", False) and not getattr(e, "committed", False):
            e = fastetl.Interrupted(None, terminated, committed=True)  # while it reported
        if isinstance(e, fastetl.Interrupted):  # (it says what became of the output)
            print(f"fastetl: {e}", file=sys.stderr)
        else:
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
