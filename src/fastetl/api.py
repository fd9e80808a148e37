"""The public entry points: :func:`convert` and :func:`read_csv`.

They check options, open the input, choose a writer and hand the rest to
:mod:`fastetl.pipeline`.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import io
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from ._version import __version__
from . import lineage, memory, outset, widening
from . import openlineage as _ol
from .errors import Interrupted, OutputError, ParseError, SchemaError
from .pipeline import (
    ON_ERROR,
    RunResult,
    check_options as _check_options,
    cpu_count,
    decoding as _decoding,
    estimate_rows,
    plain_file_applies,
    read_into as read_into,  # (the API's, kept in the pipeline: a drop-in read needs no more)
    read_plain_file,
    run,
    workers_for as _workers,
)
from .resume import Checkpoints, ResumePoint, identity, resume_point
from .schema import Dialect, Schema, as_schema, has_rules
from .signals import Terminated, during, sigterm_as_interrupt
from .sources import InputError, Source, is_stream_path, open_source, spool, stream_name
from .store import (
    SIDECAR_FORMAT,
    ArrayWriter,
    NpyWriter,
    RejectsWriter,
    load_pair,
    read_checkpoint,
    read_sidecar,
    remove_checkpoint,
    sidecar_path,
    sidecar_schema,
    text_path,
    verify_pair,
)
from .table import Table

Src = Any  # str | os.PathLike | "-" | binary file object | bytes-like


@dataclass(frozen=True)
class ConvertReport:
    """What :func:`convert` did.

    ``rows_read == rows + rows_rejected + rows_skipped``: every data row of the
    input is written, rejected (to ``rejects``) or skipped.
    """

    rows: int  # records written from this input
    bytes_in: int
    bytes_out: int
    seconds: float
    output: str
    sidecar: str
    rows_read: int = 0
    rows_rejected: int = 0
    rows_skipped: int = 0
    rejects: str | None = None  # the rejects file, with on_error="reject"
    resumed_at: int | None = None  # rows already converted when a resumed run began
    appended: bool = False
    leftovers_removed: int = 0  # temporary files of dead runs removed before this one
    leftover_bytes: int = 0  # ... and the bytes they held
    recovered: bool = False  # completed the commit of a run that died committing
    spooled_bytes: int = 0  # input copied to a temporary file to be read twice (stdin)
    tail_left_out: int = 0  # bytes of an unfinished last line of an input that grew meanwhile
    widened: tuple[dict[str, Any], ...] = ()  # columns an inferred schema widened past its sample
    # compressed input: its compression and its size on disk (bytes_in and mb_per_s count
    # the decompressed bytes)
    compression: str | None = None
    compressed_bytes: int | None = None

    @property
    def mb_per_s(self) -> float:
        """Input megabytes (10**6 bytes, decompressed) per second."""
        return self.bytes_in / 1e6 / self.seconds if self.seconds > 0 else float("inf")

    def _compressed(self) -> str:
        if self.compression is None:
            return ""
        size = f"{self.compressed_bytes / 1e6:,.1f} MB of " if self.compressed_bytes else ""
        return f" (decompressed from {size}{self.compression})"

    def __str__(self) -> str:
        bad = ""
        if self.rows_rejected:
            bad += f", {self.rows_rejected:,} rejected"
        if self.rows_skipped:
            bad += f", {self.rows_skipped:,} skipped"
        return (
            f"{self.rows_read:,} rows read, {self.rows:,} written{bad}; "
            f"{self.bytes_in / 1e6:,.1f} MB in{self._compressed()}, "
            f"{self.bytes_out / 1e6:,.1f} MB out, {self.seconds:.2f} s, "
            f"{self.mb_per_s:,.0f} MB/s"
        )


def _seekable(src: Src) -> Src:
    """Inference reads the input twice: spool stdin, pipes, FIFOs and text streams that
    cannot seek to a temporary file first."""
    if is_stream_path(src):
        try:
            with open(src, "rb") as fh:
                return spool(fh, str(src))
        except OSError as e:
            raise InputError(f"{src}: cannot read ({e.strerror or e})") from None
    stream = sys.stdin.buffer if src == "-" else src
    if not hasattr(stream, "read"):
        return src
    if isinstance(stream, io.TextIOBase):  # spooled as UTF-8: read twice as bytes
        return spool(stream, stream_name(stream))
    try:
        if stream.seekable():
            return src
    except (AttributeError, OSError, ValueError):
        pass
    return spool(stream, "<stdin>" if src == "-" else stream_name(stream))


def _tell(src: Src, widen: bool) -> int | None:
    """Where a file object input starts, to read it again from there when a column
    widens (it was made seekable then), or None."""
    return src.tell() if widen and hasattr(src, "read") else None


def _rewind(src: Src, pos: int | None) -> None:
    if pos is not None:
        src.seek(pos)


def _spooled_bytes(original: Src, used: Src) -> int:
    if used is original:
        return 0
    try:
        return os.fstat(used.fileno()).st_size
    except (AttributeError, OSError, ValueError):  # pragma: no cover
        return 0


# Keywords of convert/read_csv that say how values are spelled or rows are laid out
# (None: sniff, or the schema's); and those that steer inference (only without a schema).
VALUE_OPTIONS = ("decimal", "thousands", "true_values", "false_values")
STRUCTURE_OPTIONS = (
    "escape", "comment", "skip_rows", "trailing_delimiter", "skip_initial_space", "ragged",
    "lenient_quotes",
)  # fmt: skip
PARTIAL_OPTIONS = ("types", "columns", "dayfirst")
READING_OPTIONS = VALUE_OPTIONS + STRUCTURE_OPTIONS + PARTIAL_OPTIONS


def _resolve(
    src: Src,
    schema: Any,
    infer_rows: int | str | None,
    on_error: str,
    options: dict[str, Any] | None = None,
    keep: list | None = None,
) -> tuple[Src, Schema]:
    """The input (spooled if it must be read twice) and the schema (given or inferred).
    ``options``: the value-spelling, row-structure and partial-schema keywords given
    (not None): with a schema, the first two replace its dialect's; without one, they
    all go to inference, which sniffs what was not given.  ``keep``: inference's
    records of an input its sample covered whole (see :func:`infer_schema`'s ``_keep``)."""
    options = {k: v for k, v in (options or {}).items() if v is not None}
    if schema is not None:
        if infer_rows is not None:
            raise ValueError("infer_rows applies only when no schema is given")
        partial = [k for k in PARTIAL_OPTIONS if k in options]
        if partial:
            raise ValueError(
                f"{' and '.join(partial)} apply only when no schema is given (they steer "
                "inference); change the schema's columns instead"
            )
        sch = as_schema(schema)
        if options:  # given spellings and structure win over the schema's own
            d = sch.dialect.to_dict() | {
                k: list(v) if isinstance(v, (list, tuple)) else v for k, v in options.items()
            }
            sch = sch.replace(dialect=Dialect.from_dict(d))
        return src, sch
    from .infer import infer_schema  # inference is only loaded when it is used

    src = _seekable(src)
    try:
        rows = 10_000 if infer_rows is None else infer_rows
        return src, infer_schema(src, infer_rows=rows, on_error=on_error, _keep=keep, **options)
    except ParseError as e:
        raise inference_error(e, on_error) from None


def inference_error(e: ParseError, on_error: str) -> ParseError:
    """The error of a row inference could not read, for a conversion under ``on_error``:
    with skip or reject, it says why the policy did not apply (inference comes first).
    Under those policies inference leaves malformed rows of its sample out, so this is
    left for rows it cannot go past: a broken header, or a full pass (``infer_rows="all"``)."""
    if on_error == "raise":
        return e
    return ParseError(
        f"{e.reason} (met while inferring the schema, which needs well-formed rows: "
        f"to {on_error} such rows, give the schema, e.g. from `fastetl infer` on a "
        "clean part, with schema= or --schema)",
        line=e.line,
        column=e.column,
        value=e.value,
        offset=e.offset,
        row=e.row,
        value_bytes=e.value_bytes,
    )


def _counts(result: RunResult, on_error: str) -> dict[str, int]:
    return {
        "rows_read": result.rows_read,
        "rows_written": result.rows,
        "rows_rejected": result.rows_bad if on_error == "reject" else 0,
        # (under raise: rows left out by a rule with a tolerance, see fastetl.rules)
        "rows_skipped": result.rows_bad if on_error != "reject" else 0,
    }


def _sidecar(
    schema: Schema,
    source: Source,
    result: RunResult,
    on_error: str,
    rejects: Path | None,
    before: dict[str, Any] | None,
    total_rows: int,
    output: Path,
    content_hash: dict[str, Any] | None = None,
    run_lineage: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The sidecar's content; ``before`` is the sidecar of the output appended to.
    ``content_hash``: the input's (None: not hashed); ``run_lineage``: this run's
    lineage entry, added to the chain of ``before``'s."""
    counts = _counts(result, on_error)
    this = {
        "source": source.facts(),
        "header": result.header,
        "on_error": on_error,
        "rejects": _beside(rejects, output) if rejects is not None else None,
        **counts,
    }
    if content_hash is not None:
        this["content_hash"] = content_hash
    if result.rule_violations:  # rows that broke each rule (the first each broke)
        this["rule_violations"] = result.rule_violations
    doc: dict[str, Any] = {
        "format": SIDECAR_FORMAT,
        "fastetl_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "schema": schema.to_dict(),
        "rows": total_rows,
    }
    if before is None:
        doc.update(this)
    else:  # the first input's facts stay; counts are totals; each append is listed
        doc.update({k: before.get(k) for k in ("source", "header", "on_error", "rejects")})
        if "content_hash" in before:
            doc["content_hash"] = before["content_hash"]
        for k, v in counts.items():
            doc[k] = before.get(k, before["rows"] if k in ("rows_read", "rows_written") else 0) + v
        if result.rule_violations:
            had = before.get("rule_violations") or {}
            doc["rule_violations"] = {
                k: had.get(k, 0) + v for k, v in result.rule_violations.items()
            }
        doc["appended"] = [*before.get("appended", []), this]
    if run_lineage is not None:
        doc["lineage"] = [*lineage.chain(before or {}), run_lineage]
    doc.update(_decoding(schema, result))
    return doc


def _beside(path: Path, output: Path) -> str:
    """``path`` as the sidecar names it: relative to the output's folder when inside it."""
    try:
        return str(path.resolve().relative_to(output.resolve().parent))
    except ValueError:
        return str(path.resolve())


def _same_file(source: Source, dst: Path) -> bool:
    if source.path is None or not dst.exists():
        return False
    try:
        return os.path.samefile(source.path, dst)
    except OSError:
        return False


def _check_on_error(on_error: str, rejects: Any) -> None:
    if on_error not in ON_ERROR:
        raise ValueError(f"on_error must be one of {', '.join(ON_ERROR)}, got {on_error!r}")
    if rejects is not None and on_error != "reject":
        raise ValueError('rejects= is the file for on_error="reject"; give that policy too')


def default_rejects_path(dst: str | os.PathLike[str]) -> Path:
    """``orders.npy`` -> ``orders.npy.rejects.csv``."""
    p = Path(dst)
    return p.with_name(p.name + ".rejects.csv")


def convert(
    src: Src,
    dst: str | os.PathLike[str],
    schema: Schema | dict | str | os.PathLike[str] | None = None,
    *,
    block_size: int | None = None,
    workers: int | None = None,
    infer_rows: int | str | None = None,
    progress: Callable[[int, int | None], None] | None = None,
    on_error: str = "raise",
    rejects: str | os.PathLike[str] | None = None,
    append: bool = False,
    resume: bool = False,
    checkpoint_every: float = 5.0,
    wait: bool | float = False,
    widen: bool | None = None,
    decimal: str | None = None,
    thousands: str | None = None,
    true_values: list[str] | None = None,
    false_values: list[str] | None = None,
    types: dict[str, Any] | None = None,
    columns: list[str] | None = None,
    dayfirst: bool | None = None,
    escape: str | None = None,
    comment: str | None = None,
    skip_rows: int | None = None,
    trailing_delimiter: bool | None = None,
    skip_initial_space: bool | None = None,
    ragged: str | None = None,
    lenient_quotes: bool | None = None,
    hash: bool = True,
    host: bool = True,
    openlineage: str | os.PathLike[str] | None = None,
) -> ConvertReport:
    """Convert the CSV ``src`` into the ``.npy`` file ``dst`` (plus ``dst + ".json"``).

    ``dst`` is replaced atomically when the whole input has converted; on any
    error an existing ``dst`` and its sidecar are left exactly as they were.
    Without a ``schema`` one is inferred (see :func:`fastetl.infer_schema`;
    ``infer_rows`` is its sample size, or ``"all"`` for a guaranteed full pass).
    ``workers`` threads parse in parallel (default: every core); the output is
    the same bytes whatever ``workers`` and ``block_size`` are. ``progress``, if
    given, is called now and then with (input bytes done, input bytes in all or None).

    ``on_error``: ``"raise"`` (stop at the first bad row), ``"skip"`` (count bad rows
    and go on) or ``"reject"`` (also write them to ``rejects``, by default
    ``dst + ".rejects.csv"``, with the reasons in ``rejects + ".json"``).
    ``append`` adds the rows to the existing ``dst`` (same schema; atomically).
    A conversion of a file saves a checkpoint every ``checkpoint_every`` seconds;
    after it is killed or interrupted, ``resume=True`` continues from the last one
    and gives the same bytes as an uninterrupted run.

    One conversion writes into ``dst`` at a time: it holds a lock on
    ``.DST.fastetl-lock`` for the whole run.  When another run holds it, ``wait``
    says what to do: False (the default) raises :class:`OutputError` at once,
    naming the other process; True waits for it; a number waits that many seconds
    at most.  SIGTERM, where the program leaves it at its default, interrupts the
    conversion as Ctrl-C does (the process then ends by SIGTERM).

    ``widen``: a value past the inference sample that does not fit the inferred
    schema widens its column and the conversion starts over with the wider schema,
    instead of stopping (see :mod:`fastetl.widening`; the widenings are in the
    report's ``widened`` and the sidecar's ``schema.inferred.widened``).  None (the
    default) widens an inferred schema only; True also a given one (treated as a
    starting point); False never.  Appending never widens.
    How values are spelled, each sniffed when None (see :func:`fastetl.infer_schema`) and
    with a ``schema``, put in its dialect: ``decimal`` (``","``), ``thousands`` (``"."``,
    ``","``, ``" "`` ...), ``true_values``/``false_values`` (extra boolean words).  Without a
    schema, ``types`` (``{"preco": "decimal(2)"}``) and ``columns`` (names to keep) adjust
    the inferred one, and ``dayfirst`` reads dates that fit both orders (01/02/2024).
    The row-structure options (``escape``, ``comment``, ``skip_rows``,
    ``trailing_delimiter``, ``skip_initial_space``, ``ragged``, ``lenient_quotes``; see
    :class:`Dialect`) replace the schema's when given; without a schema they are
    given to inference, which sniffs those left at None.

    Lineage (see :mod:`fastetl.lineage`): the sidecar records the input's content hash
    (``hash=False``: not computed), and in its ``lineage`` list one entry per input
    (appends add theirs): schema hash, version, options, start and end times, the host
    name (``host=False``: left out) and row counts.  ``openlineage``: a file to write
    the run's OpenLineage RunEvents into, as JSON Lines: START when the run begins, then
    COMPLETE (FAIL when the conversion fails, ABORT when interrupted); its folder must
    exist (checked before anything is converted).
    """
    params = dict(locals())  # (nothing else is bound yet)
    reading = {k: params[k] for k in READING_OPTIONS}
    facts = _RunFacts(
        lineage.new_run_id(), lineage.now(), hash, host, _options(params), openlineage
    )
    _check_options(block_size, workers)
    _check_on_error(on_error, rejects)
    if append and resume:
        raise ValueError("append and resume cannot be combined")
    if not checkpoint_every >= 0:
        raise ValueError(f"checkpoint_every must be >= 0 seconds, got {checkpoint_every!r}")
    if not (isinstance(wait, bool) or (isinstance(wait, (int, float)) and wait >= 0)):
        raise ValueError(f"wait must be True, False or seconds >= 0, got {wait!r}")
    if openlineage is not None:
        _ol.check_destination(openlineage)
    dst_path = Path(dst)
    from .export.onepass import streamed_format, unwritable_reason  # (light: no pyarrow)

    refused = unwritable_reason(dst_path)
    # (the input itself under that name: refused later, saying so)
    own = isinstance(src, (str, os.PathLike)) and dst_path.exists() and os.path.exists(src)
    if refused is not None and not (own and os.path.samefile(src, dst_path)):
        raise ValueError(refused)
    fmt = streamed_format(dst_path)
    if fmt is not None:  # OUT.parquet / OUT.arrow: written straight, no .npy in between
        if append or resume or on_error == "reject":
            raise ValueError(
                f"a conversion to {fmt} takes neither append, resume nor on_error='reject' "
                "(convert to .npy, then fastetl.export)"
            )
        try:  # (the START event inside: an interrupt as it is written is Interrupted too)
            _start_event(facts, src, dst_path)
            with sigterm_as_interrupt():
                return _convert_streamed(
                    src, dst_path, schema, fmt, block_size=block_size, workers=workers,
                    infer_rows=infer_rows, progress=progress, on_error=on_error, widen=widen,
                    reading=reading, facts=facts,
                )  # fmt: skip
        except KeyboardInterrupt as e:
            _raise_interrupted(e, facts, src, dst_path, resume=False)
        except BaseException as e:
            _failed_event(facts, src, dst_path, e)
            raise
    if dst_path.is_dir():
        raise OutputError(f"{dst} is a directory; give the path of the .npy file to write")
    folder = dst_path.parent if str(dst_path.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(f"cannot write {dst}: folder {folder} does not exist")
    try:  # (the START event inside: an interrupt as it is written is Interrupted too)
        _start_event(facts, src, dst_path)
        with sigterm_as_interrupt(), outset.OutputLock(dst_path).acquire(wait):
            return _convert_locked(
                src,
                dst_path,
                schema,
                block_size=block_size,
                workers=workers,
                infer_rows=infer_rows,
                progress=progress,
                on_error=on_error,
                rejects=rejects,
                append=append,
                resume=resume,
                checkpoint_every=checkpoint_every,
                widen=widen,
                reading=reading,
                facts=facts,
            )
    except KeyboardInterrupt as e:
        _raise_interrupted(e, facts, src, dst_path, resume)
    except BaseException as e:
        _failed_event(facts, src, dst_path, e)
        raise


def _raise_interrupted(
    e: KeyboardInterrupt, facts: _RunFacts, src: Any, dst: Path, resume: bool
) -> NoReturn:
    """Raise what the interrupt ``e`` of a conversion (or a Dask dataset's) into ``dst``
    says (``Interrupted``: whether the run's commit landed, as the run noted it holding
    the output's lock, else as the files say), its run's end event written; ``e`` itself
    when it is already that (with its own traceback), else the new one in its place."""
    if isinstance(e, Interrupted):  # (its run decided what it says, by the files)
        said = e
    else:
        terminated = isinstance(e, Terminated) or bool(getattr(e, "terminated", False))
        if facts.landed is not None or _committed_by(dst, facts.run_id):
            # after this run's commit (e.g. as a checkpoint's thread or the lock was let
            # go): the output holds the run, whatever this interrupt stopped
            said = Interrupted(None, terminated, committed=True)
        else:  # before the run had files of its own (inferring, checking a checkpoint...):
            # a resume's checkpoint is still there, untouched
            said = Interrupted(_checkpoint_rows(dst) if resume else None, terminated)
    _failed_event(facts, src, dst, said)
    if said is e:
        raise e
    raise said from during(e)


def _checkpoint_rows(dst: Path) -> int | None:
    """The rows the checkpoint of a conversion into ``dst`` keeps (None: none, or unreadable)."""
    try:
        doc = read_checkpoint(dst)
        return int(doc["mark"]["rows"]) if doc is not None else None
    except (OSError, KeyError, TypeError, ValueError):
        return None


def _terminated(e: BaseException) -> bool:
    """Whether the interrupt ``e`` is a SIGTERM (itself, or the one it stands for)."""
    return isinstance(e, Terminated) or isinstance(getattr(e, "original", None), Terminated)


def _committed_by(dst: Path, run_id: str) -> bool:
    """Whether run ``run_id`` committed the output set at ``dst``, as its files say (for
    an interrupt that came before the run noted it, :attr:`_RunFacts.landed`): an entry
    of its lineage chain names the run -- any entry, not only the last: another writer
    waiting for the lock may have appended its own since."""
    return any(e.get("run_id") == run_id for e in _runs(dst))


def committed_since(dst: str | os.PathLike[str], started: str) -> bool:
    """Whether a run that started at ``started`` (:func:`lineage.now`) or later
    committed the output set at ``dst`` (an entry of its lineage chain: not only the
    last, another writer may have appended its own since): for a caller of
    :func:`convert` interrupted as it returned, outside convert's own handler, to tell
    a commit made from none."""
    return any(str(e.get("started", "")) >= started for e in _runs(Path(dst)))


def _runs(dst: Path) -> list[dict[str, Any]]:
    """The lineage entries of the output ``dst`` ([] when it has none, or cannot be read)."""
    try:
        return _entries(_stored(dst))
    except _read_back_errors():
        return []


def _entries(stored: dict[str, Any]) -> list[dict[str, Any]]:
    """The entries of the lineage chain an output holds (:func:`_stored`), those of its
    shape only (a dict each: an entry of another shape names no run)."""
    chain = stored["lineage"]
    return [e for e in chain if isinstance(e, dict)] if isinstance(chain, list) else []


def _read_back_errors() -> tuple[type[BaseException], ...]:
    """What reading an output's runs back (:func:`_stored`) raises for an output it cannot
    read as one of fastetl's: missing or a folder (OSError), damaged or not fastetl's
    (ValueError, KeyError, IndexError, TypeError; RecursionError: JSON nested too deep),
    too big for memory (MemoryError), no pyarrow (ImportError), or any refusal of pyarrow
    (``pyarrow.ArrowException``, whichever subclass: ArrowMemoryError, ArrowCancelled...).
    This is read while an interrupt is handled: such an error must not replace the
    ``Interrupted`` (the run says what it knows without the read).  Not ``Exception``:
    a bug of ours (NameError, AttributeError, AssertionError...) stays loud."""
    errors: tuple[type[BaseException], ...] = (
        OSError, ValueError, KeyError, IndexError, TypeError, RecursionError, MemoryError,
        ImportError,
    )  # fmt: skip
    pa = sys.modules.get("pyarrow")  # (read back through pyarrow only if it was imported)
    arrow = getattr(pa, "ArrowException", None)
    return errors + (arrow,) if isinstance(arrow, type) else errors


def _stored(dst: Path) -> dict[str, Any]:
    """What the output ``dst`` holds of its runs: its ``schema`` and ``lineage`` entries
    (from its sidecar, a one-pass Parquet or Arrow file's metadata, or a Dask dataset
    folder's ``dataset.json``)."""
    from .dataset import DATASET_FILE, is_dataset
    from .export.onepass import stored_meta, streamed_format

    if is_dataset(dst):
        with open(Path(dst) / DATASET_FILE, encoding="utf-8") as fh:
            return json.load(fh)
    return stored_meta(dst) if streamed_format(dst) is not None else read_sidecar(dst)


def _entry(
    facts: _RunFacts,
    source: Source,
    content: dict[str, Any] | None,
    sch: Schema,
    result: RunResult,
    on_error: str,
    dst: Path,
) -> dict[str, Any]:
    """The run's lineage entry (a sidecar's, or a one-pass file's metadata)."""
    return lineage.entry(
        run_id=facts.run_id,
        source=source.facts(),
        content_hash=content,
        schema=sch.to_dict(),
        version=__version__,
        options=facts.options,
        started=facts.started,
        ended=lineage.now(),
        host=facts.host,
        counts=_counts(result, on_error),
        output=str(dst.resolve()),
    )


def _start_event(facts: _RunFacts, src: Any, dst: Path) -> None:
    """Write the OpenLineage START event of a conversion (when events were asked for) of
    ``src`` (a list of files: a Dask conversion's)."""
    if facts.openlineage is not None:
        facts.start = _ol.start_event(facts.run_id, facts.started, src, dst, facts.host)
        _ol.write_events(facts.openlineage, [facts.start])


def _completed_event(facts: _RunFacts, dst: Path) -> None:
    """Write START and then COMPLETE of the run's commit into ``dst`` as the run noted it
    (:meth:`_RunFacts.land`; the events file holds the run's events)."""
    if facts.openlineage is None or facts.start is None or facts.landed is None:
        return
    entry, schema, rows, size = facts.landed
    event = _ol.run_event(
        event_type="COMPLETE",
        event_time=entry["ended"],
        run_id=facts.run_id,
        job_name=_ol.job_name(dst),
        input_ds=facts.start["inputs"],
        output=str(dst),
        schema=schema,
        rows=rows,
        size=size,
        host=facts.host,
    )
    _ol.write_events(facts.openlineage, [facts.start, event])


def _failed_event(facts: _RunFacts, src: Any, dst: Path, error: BaseException) -> None:
    """Write START and then FAIL (ABORT when interrupted) of a conversion that started;
    COMPLETE when an interrupt came after the run's commit (``Interrupted.committed``):
    the output holds the run, its event as the run noted it at its commit, else as it
    is read back from the output."""
    if facts.openlineage is None or facts.start is None:
        return
    with contextlib.suppress(OSError):  # (the conversion's error is the one to raise)
        if getattr(error, "committed", False):
            facts.landed = facts.landed or _read_back(facts, dst)
            if facts.landed is not None:
                _completed_event(facts, dst)
                return
        event = _ol.failed_event(facts.run_id, lineage.now(), src, str(dst), error, facts.host)
        _ol.write_events(facts.openlineage, [facts.start, event])


def _read_back(
    facts: _RunFacts, dst: Path
) -> tuple[dict[str, Any], dict[str, Any], int, int] | None:
    """The run's commit into ``dst`` (as :attr:`_RunFacts.landed`) as its files hold it
    (what an uninterrupted run's COMPLETE says), for an interrupt that came before the
    run noted it; None when they do not hold the run."""
    from .export.onepass import streamed_format

    try:
        stored = _stored(dst)
        entry = next(e for e in reversed(_entries(stored)) if e.get("run_id") == facts.run_id)
        rows = int(entry["rows_written"])
        if streamed_format(dst) is None:  # (the records' bytes; a one-pass file's: the file's)
            size = rows * Schema.from_dict(stored["schema"]).dtype().itemsize
        else:
            size = dst.stat().st_size
    except (StopIteration, *_read_back_errors()):
        return None  # (not readable as the run's: the interrupt's ABORT is written)
    return entry, stored["schema"], rows, size


@dataclass
class _RunFacts:
    """What a run's lineage records, known before it starts."""

    run_id: str
    started: str
    hash: bool
    host: bool
    options: dict[str, Any]
    openlineage: Any = None
    start: dict[str, Any] | None = None  # the OpenLineage START event written
    # the run's commit landed: (lineage entry, schema, rows, size) of its COMPLETE event
    landed: tuple[dict[str, Any], dict[str, Any], int, int] | None = None

    def land(self, entry: dict[str, Any], schema: dict[str, Any], rows: int, size: int) -> None:
        """Note that the run's commit landed, and what its COMPLETE event says; right
        after the commit, the output's lock still held: an interrupt's handler, run after
        the lock is let go, decides by this, not by reading the output back (another
        writer, waiting for the lock, may have committed in between)."""
        self.landed = (entry, schema, rows, size)


_NOT_OPTIONS = ("src", "dst", "schema", "progress", "wait", "openlineage", "hash", "host")


def _options(params: dict[str, Any]) -> dict[str, Any]:
    """The options of a conversion as its lineage records them: those given (not None),
    the schema as given or inferred; JSON-ready."""
    given = params["schema"]  # (a Schema inference made, e.g. by the CLI, says so)
    inferred = given is None or bool(getattr(given, "inferred", None))
    out: dict[str, Any] = {"schema": "inferred" if inferred else "given"}
    for k, v in params.items():
        if k in _NOT_OPTIONS or v is None:
            continue
        if isinstance(v, os.PathLike):
            v = os.fspath(v)
        elif isinstance(v, tuple):
            v = list(v)
        out[k] = v
    return out


def _clear_leftovers(
    dst: Path, rejects: Path | None, keep: set[Path]
) -> tuple[int, int]:
    """Remove what dead runs into ``dst`` left (holding its lock proves they are dead):
    temporary files of the output set, the checkpoint and the journal (a journal itself
    was completed by :func:`outset.recover` before), and of the default rejects
    file even when this run rejects nothing (a dead run may have).  (count, bytes)."""
    stale = [p for f in _finals(dst, rejects) for p in outset.leftovers(f, keep)]
    return len(stale), outset.remove(stale)


def _finals(dst: Path, rejects: Path | None) -> list[Path]:
    """The final names of the files a run into ``dst`` writes (its temporary files are
    named for these): the set, the checkpoint, the journal, the default rejects too."""
    finals = [dst, sidecar_path(dst), outset.checkpoint_path(dst), outset.journal_path(dst)]
    finals.append(text_path(dst))
    for r in dict.fromkeys([default_rejects_path(dst), rejects]):
        if r is not None:
            finals += [r, sidecar_path(r)]
    return finals


def _convert_locked(
    src: Src,
    dst_path: Path,
    schema: Any,
    *,
    block_size: int | None,
    workers: int | None,
    infer_rows: int | str | None,
    progress: Callable[[int, int | None], None] | None,
    on_error: str,
    rejects: str | os.PathLike[str] | None,
    append: bool,
    resume: bool,
    checkpoint_every: float,
    widen: bool | None,
    reading: dict[str, Any] | None = None,
    facts: _RunFacts | None = None,
) -> ConvertReport:
    """:func:`convert`, holding the output's lock."""
    schema_arg = schema
    try:
        recovered = outset.recover(dst_path)
    except outset.InterruptedAfterCommit as e:  # (the earlier run's renames were finished)
        raise Interrupted(None, _terminated(e), earlier=True) from during(e)
    before = None
    saved = read_checkpoint(dst_path) if resume else None
    if append:
        if not dst_path.exists():
            raise OutputError(f"cannot append to {dst_path}: it does not exist")
        before = read_sidecar(dst_path, records=True)
        verify_pair(dst_path, before)
        schema = _append_schema(before, schema, dst_path)
    elif saved is not None and schema is None:
        schema = saved["schema"]  # the schema it was started with (checked again below)
    original = src
    src, sch = _resolve(src, schema, infer_rows, on_error, reading)
    widen = (schema_arg is None if widen is None else widen) and not append
    if widen:
        src = _seekable(src)  # a widening reads the input again
    spooled = _spooled_bytes(original, src)
    rejects_path = (
        (Path(rejects) if rejects is not None else default_rejects_path(dst_path))
        if on_error == "reject"
        else None
    )
    t0 = time.perf_counter()
    pos = _tell(src, widen)
    tries = 0

    def attempt(sch: Schema, watcher: widening.Watcher | None) -> ConvertReport:
        nonlocal tries
        again, tries = tries > 0, tries + 1
        if again:
            _rewind(src, pos)
        hasher = lineage.ContentHash() if facts is not None and facts.hash else None
        with open_source(src, sch.dialect.encoding, hasher) as source:
            outputs = [dst_path, sidecar_path(dst_path)]
            if rejects_path is not None:
                outputs += [rejects_path, sidecar_path(rejects_path)]
                if rejects_path.resolve() in (dst_path.resolve(), sidecar_path(dst_path).resolve()):
                    raise OutputError(f"the rejects file {rejects_path} would overwrite the output")
            for out in outputs:
                if _same_file(source, out):
                    what = "the output" if out == dst_path else str(out)
                    raise OutputError(f"refusing to write {what} over the input {source.name}")
            ident = None if append else identity(source, sch, on_error, rejects_path)
            point: ResumePoint | None = None
            if resume and not again:  # a widened schema starts the input over
                point = resume_point(saved, dst_path, rejects_path, source, ident)
            if point is None:
                remove_checkpoint(dst_path)  # a stale one is of no use now
            removed, freed = _clear_leftovers(
                dst_path, rejects_path, point.files() if point is not None else set()
            )
            mark = point.mark if point is not None else None
            run_id = outset.new_run_id()
            writer: NpyWriter | None = None
            sink = None
            ckpt = None
            committed = False
            finishing = False  # (the records file is being finished: no resume from it)
            renames: list[tuple[Path, Path]] | None = None

            def land() -> None:  # (right after the commit, holding the lock: see _RunFacts)
                if facts is not None and entry is not None:
                    size = result.rows * writer.itemsize  # type: ignore[union-attr]
                    facts.land(entry, meta["schema"], result.rows, size)

            wound: list[tuple[int | None, bool]] = []  # (rows to resume from, committed)

            def wind_up() -> None:
                """The clean-up after an interrupt, idempotent: a second Ctrl-C (or SIGTERM
                after it) restarts it (:func:`outset.to_the_end`).  What the output holds
                is decided once, in ``wound``: the clean-up changes what the files say."""
                if not wound:
                    kept = (ckpt.kept() if ckpt is not None else None) or mark
                    # (an interrupt just after commit_set returned, before ``committed``
                    # was set: the files decide, as for a checkpoint)
                    if committed or outset.renamed(renames):  # after the commit point
                        wound.append((None, True))
                    elif kept is None or finishing:  # (a finished or removed records
                        wound.append((None, False))  # file cannot be resumed: it goes)
                    else:
                        wound.append((kept.rows, False))
                rows, whole = wound[0]
                if whole:
                    land()
                    remove_checkpoint(dst_path)  # (else a stale one for the next resume)
                elif rows is None:
                    _abort(writer, sink, dst_path, run_id, rejects_path)
                else:  # keep the partial files: resume=True continues from them (also when
                    # the interrupt came as this resumed run took them up: no writer yet)
                    if writer is not None:
                        writer.detach()
                    if sink is not None:
                        sink.detach()

            try:  # (the writer is made inside: an interrupt just after it must abort it too)
                writer = NpyWriter(
                    dst_path,
                    sch.dtype(),
                    run=run_id,
                    partial=point.partial if point is not None else None,
                    resume_rows=mark.rows if mark is not None else None,
                    append=append,
                    pipelined=cpu_count() > 1,
                    text_partial=point.text_partial if point is not None else None,
                    text_bytes=point.text_bytes if point is not None else None,
                )
                if rejects_path is not None:
                    sink = RejectsWriter(
                        rejects_path,
                        source.name,
                        run=run_id,
                        resume=point.rejects_state if point is not None else None,
                    )
                if ident is not None:
                    ckpt = Checkpoints(dst_path, writer, sink, source, ident, checkpoint_every,
                                       keeps=watcher.unchanged if watcher else None)
                total = source.size if source.compression is None and source.encoding is None else None
                tick = (lambda done: progress(done, total)) if progress else None
                nworkers = _workers(workers, source, block_size)
                result = run(
                    source,
                    sch,
                    writer,
                    block_size,
                    nworkers,
                    tick,
                    on_error=watcher.on_error if watcher else on_error,
                    rejects=sink,
                    checkpoint=ckpt,
                    resume=mark,
                    categories=before.get("categories") if before is not None else None,
                    watch=watcher,
                    existing=_existing(dst_path, append, writer, mark, sch),
                )
                if watcher:
                    watcher.check()  # a column to widen: this pass is not kept
                content = source.content_hash()
                entry = None
                if facts is not None:
                    entry = _entry(facts, source, content, sch, result, on_error, dst_path)
                meta = _sidecar(
                    sch, source, result, on_error, rejects_path, before, writer.rows, dst_path,
                    content, entry,
                )
                renames = sink.finish() if sink is not None else []
                finishing = True  # (its header gets the row count, or an abort removes it)
                size, more = writer.finish(meta)
                renames += more
                try:
                    outset.commit_set(dst_path, renames)
                except outset.InterruptedAfterCommit:
                    committed = True
                    raise
                committed = True
                land()
                remove_checkpoint(dst_path)
            except KeyboardInterrupt as e:
                late = outset.to_the_end(wind_up)  # (first: a 2nd interrupt must not skip it)
                rows, whole = wound[0]
                terminated = _terminated(e) or (late is not None and _terminated(late))
                raise Interrupted(rows, terminated, committed=whole) from during(e)
            except outset.CommitPending:
                raise  # the journal needs the temporary files: the next run completes it
            except BaseException:
                late = outset.to_the_end(_abort, writer, sink, dst_path, run_id, rejects_path)
                if late is not None:  # (Ctrl-C as it cleaned up: the error stays its cause)
                    raise late
                raise
            finally:
                if ckpt is not None:
                    ckpt.close()
            if facts is not None:
                _completed_event(facts, dst_path)
        return ConvertReport(
            rows=result.rows,
            bytes_in=result.bytes_in,
            bytes_out=size,
            seconds=time.perf_counter() - t0,
            output=str(dst_path),
            sidecar=str(sidecar_path(dst_path)),
            rejects=str(rejects_path) if rejects_path is not None else None,
            resumed_at=mark.rows if mark is not None else None,
            appended=append,
            leftovers_removed=removed,
            leftover_bytes=freed,
            recovered=recovered,
            spooled_bytes=spooled,
            tail_left_out=source.tail_left_out,
            widened=tuple((sch.inferred or {}).get("widened", ())),
            compression=source.compression,
            compressed_bytes=source.size if source.compression else None,
            **{k: v for k, v in _counts(result, on_error).items() if k != "rows_written"},
        )

    return widening.converting(sch, on_error, widen, attempt)


def _existing(
    dst: Path, append: bool, writer: NpyWriter, mark: Any, schema: Schema
) -> np.ndarray | None:
    """The records already in the output (appending) or in the partial output (resuming),
    whose values count for a ``unique`` rule."""
    if not has_rules(schema):
        return None
    if append:
        return load_pair(dst)[1]
    if mark is not None and mark.rows:
        return np.memmap(
            writer.tmp_path, schema.dtype(), "r", writer.data_offset, (mark.rows,)
        )
    return None


def _convert_streamed(
    src: Src,
    dst: Path,
    schema: Any,
    fmt: str,
    *,
    block_size: int | None,
    workers: int | None,
    infer_rows: int | str | None,
    progress: Callable[[int, int | None], None] | None,
    on_error: str,
    widen: bool | None,
    reading: dict[str, Any],
    facts: _RunFacts,
) -> ConvertReport:
    """:func:`convert` into Parquet or Arrow IPC: the pipeline's records go to
    ``export.onepass.FormatWriter`` (which writes, and commits, the file, with the
    schema and the lineage entry in its metadata)."""
    from .export.onepass import FormatWriter

    widen = schema is None if widen is None else widen
    src, sch = _resolve(src, schema, infer_rows, on_error, reading)
    if widen:
        src = _seekable(src)  # a widening reads the input again
    pos = _tell(src, widen)
    t0 = time.perf_counter()
    tries = 0

    def attempt(sch: Schema, watcher: widening.Watcher | None) -> ConvertReport:
        nonlocal tries
        if tries:
            _rewind(src, pos)
        tries += 1
        hasher = lineage.ContentHash() if facts.hash else None
        with open_source(src, sch.dialect.encoding, hasher) as source:
            if _same_file(source, dst):
                raise OutputError(f"refusing to write the output over the input {source.name}")
            total = source.size if source.compression is None and source.encoding is None else None
            with FormatWriter(dst, fmt, sch) as writer:
                result = run(
                    source,
                    sch,
                    writer,
                    block_size,
                    _workers(workers, source, block_size),
                    (lambda done: progress(done, total)) if progress else None,
                    on_error=watcher.on_error if watcher else on_error,
                    checkpoint=writer,
                    watch=watcher,
                )
                if watcher:
                    watcher.check()  # a column to widen: this pass is not kept
                entry = _entry(facts, source, source.content_hash(), sch, result, on_error, dst)
                writer.finish(result.categories, [entry])
                # (noted as the file is renamed into place, holding its lock: see _RunFacts)
                writer.on_commit = lambda: facts.land(
                    entry, sch.to_dict(), result.rows, dst.stat().st_size
                )
        _completed_event(facts, dst)
        return ConvertReport(
            rows=result.rows,
            bytes_in=result.bytes_in,
            bytes_out=dst.stat().st_size,
            seconds=time.perf_counter() - t0,
            output=str(dst),
            sidecar="",
            widened=tuple((sch.inferred or {}).get("widened", ())),
            **{k: v for k, v in _counts(result, on_error).items() if k != "rows_written"},
        )

    return widening.converting(sch, on_error, widen, attempt)


def _abort(
    writer: NpyWriter | None, sink: RejectsWriter | None, dst: Path, run: str,
    rejects: Path | None,
) -> None:  # fmt: skip
    """Remove every temporary file of the run; each step runs whatever the others do
    (abort methods do not raise).  Last, the files named for the run ``run`` go by
    name: an interrupt that lands after a writer made its file, before the run holds
    the writer (or the writer its file), leaves a file no abort method knows."""
    try:
        if sink is not None:
            sink.abort()
    finally:
        try:
            if writer is not None:
                writer.abort()
        finally:
            try:
                remove_checkpoint(dst)
            finally:
                outset.remove_run(_finals(dst, rejects), run)


def _append_schema(before: dict[str, Any], schema: Any, dst: Path) -> Schema:
    """The schema to append with: the output's own (a given one must agree with it)."""
    have = sidecar_schema(before)
    if schema is None:
        return have
    given = as_schema(schema)
    a, b = given.to_dict(), have.to_dict()
    for d in (a, b):  # how the text is spelled, and what inference noted, may differ
        d.pop("dialect", None)
        d.pop("inferred", None)
    if a != b:
        raise SchemaError(
            f"cannot append to {dst}: the schema differs from the one it was written with "
            f"(see {sidecar_path(dst)})"
        )
    return given


SMALL_INPUT_BYTES = 1 << 20  # estimate_rows counts every line of an input this small


def _array_writer(sch: Schema, source: Any) -> ArrayWriter:
    """Where read_csv puts the records: room reserved once, twice the estimate from a
    buffer's or file's size, else (stdin, pipes, compressed input) a fixed reservation
    of address space; the array moves only if that is not enough."""
    dtype = sch.dtype()
    rows = estimate_rows(source)
    if source.is_buffer and len(source.buffer) <= SMALL_INPUT_BYTES:
        # its lines counted whole: an ordinary array of that many rows, no reservation
        # (whose page-making thread, copy out of a small result and unmapping cost more)
        return ArrayWriter(dtype, capacity=rows)
    if source.is_buffer:
        reserve = 2 * rows * dtype.itemsize + (1 << 20)
        text = len(source.buffer) + (1 << 20)  # (a value's text is never longer than its field)
    else:
        reserve = text = memory.RESERVE_UNKNOWN_BYTES
    return ArrayWriter(dtype, capacity=rows, reserve_bytes=reserve, reserve_text=text)


def read_records(
    path: str | os.PathLike[str],
    schema: Schema,
    *,
    workers: int | None = None,
    inspect: Callable[[Any, int, int], None] | None = None,
) -> np.ndarray | None:
    """The records of the regular file ``path`` under a full ``schema``, as read_csv's
    ``t.array`` gives them, read straight into one array by all threads -- or None when
    the file or the schema needs read_csv (quotes, escapes, a header, learned categories,
    text columns, rules, no room to reserve ...).  For the drop-ins, whose inputs are
    mostly this simple.  ``inspect(data, start, end)`` is shown each byte of the file
    once, before it is parsed, and may raise to stop the read (its exception is raised).
    Bad rows raise their :class:`ParseError` (the policy "raise")."""
    path = os.fspath(path)
    if not isinstance(schema, Schema) or not plain_file_applies(schema):
        return None
    if is_stream_path(path) or not os.path.isfile(path):
        return None
    want = cpu_count() if workers is None else workers
    _check_options(None, want)
    return read_plain_file(path, schema, want, inspect)


def _read_plain(
    src: Src,
    source: Source,
    sch: Schema,
    workers: int,
    block_size: int | None,
    on_error: str,
    rejects: Any,
) -> tuple[np.ndarray, RunResult] | None:
    """read_csv's records of a regular file with no quote byte after its header, read
    by all ``workers`` threads straight into one array (:func:`read_plain_file`: no record
    buffers, no copy into the result on the calling thread, which the usual path makes
    with more than one thread), and what the run found; None: the usual path reads it
    (one thread, a quote, a dialect or schema it does not take, a bad row or a file that
    changed: the usual path says what is wrong, or widens)."""
    if workers < 2 or on_error != "raise" or rejects is not None:
        return None
    if not isinstance(src, (str, os.PathLike)) or is_stream_path(src):
        return None
    if source.path is None or source.compression or source.encoding or source.size is None:
        return None
    if not plain_file_applies(sch, header_and_quote=True) or not os.path.isfile(source.path):
        return None
    result = RunResult()
    piece = max(block_size, 64 << 10) if block_size else None
    try:
        array = read_plain_file(source.path, sch, workers, piece=piece, result=result)
    except (ParseError, InputError):
        return None
    if array is None or not source.unchanged():  # (grown: a torn last line?)
        return None
    result.rows = len(array)
    return array, result


def read_csv(
    src: Src,
    schema: Schema | dict | str | os.PathLike[str] | None = None,
    *,
    block_size: int | None = None,
    workers: int | None = None,
    infer_rows: int | str | None = None,
    on_error: str = "raise",
    rejects: str | os.PathLike[str] | None = None,
    widen: bool | None = None,
    decimal: str | None = None,
    thousands: str | None = None,
    true_values: list[str] | None = None,
    false_values: list[str] | None = None,
    types: dict[str, Any] | None = None,
    columns: list[str] | None = None,
    dayfirst: bool | None = None,
    escape: str | None = None,
    comment: str | None = None,
    skip_rows: int | None = None,
    trailing_delimiter: bool | None = None,
    skip_initial_space: bool | None = None,
    ragged: str | None = None,
    lenient_quotes: bool | None = None,
) -> Table:
    """Read the CSV ``src`` into memory, as a :class:`~fastetl.Table`.

    ``t[name]`` gives values (as :func:`fastetl.open` does), ``t.array`` the
    numpy structured array of records, ``t.meta`` the schema, the category
    dictionaries and the flag names, ``t.to_pandas()`` a DataFrame.
    Without a ``schema`` one is inferred, as in :func:`convert`.  ``on_error`` as in
    :func:`convert`; ``"reject"`` needs ``rejects``, the file for the bad rows.
    ``widen`` as in :func:`convert`.
    ``decimal``, ``thousands``, ``true_values``, ``false_values``, ``types``, ``columns``
    and ``dayfirst`` as in :func:`convert`; the row-structure options (``escape``,
    ``comment`` ...) as in :func:`convert`.
    """
    params = dict(locals())  # (nothing else is bound yet)
    _check_options(block_size, workers)
    _check_on_error(on_error, rejects)
    if on_error == "reject" and rejects is None:
        raise ValueError('on_error="reject" needs rejects=, the file to write bad rows to')
    reading = {k: params[k] for k in READING_OPTIONS}
    widen = schema is None if widen is None else widen
    # a small input inference reads whole is parsed once: its check's records are kept
    kept: list | None = [] if _parse_once(src, schema, on_error, rejects) else None
    src, sch = _resolve(src, schema, infer_rows, on_error, reading, kept)
    if kept:
        array, text, result, facts = kept
        if facts is None:  # (the sample was not read from a plain file or a buffer)
            with open_source(src, sch.dialect.encoding) as source:
                facts = source.facts()
        return _table(array, text, result, facts, sch, on_error)
    if widen:
        src = _seekable(src)  # a widening reads the input again
    pos = _tell(src, widen)
    tries = 0

    def attempt(
        sch: Schema, watcher: widening.Watcher | None
    ) -> tuple[Any, Any, RunResult, dict[str, Any], Schema]:
        nonlocal tries
        if tries:
            _rewind(src, pos)
        tries += 1
        with open_source(src, sch.dialect.encoding) as source:
            nworkers = _workers(workers, source, block_size)
            # (a watched pass is a widening's: the value that stopped the plain pass is
            # in the file, so the threads' path would stop at it again)
            plain = None if watcher is not None else _read_plain(
                src, source, sch, nworkers, block_size, on_error, rejects
            )
            if plain is not None:  # (no bad row in it: nothing to widen either)
                return plain[0], None, plain[1], source.facts(), sch
            writer = _array_writer(sch, source)
            sink = RejectsWriter(rejects, source.name) if rejects is not None else None
            try:
                result = run(
                    source,
                    sch,
                    writer,
                    block_size,
                    nworkers,
                    on_error=watcher.on_error if watcher else on_error,
                    rejects=sink,
                    watch=watcher,
                )
                if watcher:
                    watcher.check()  # a column to widen: this pass is not kept
                if sink is not None:
                    sink.commit()
            except BaseException:
                writer.close()
                if sink is not None:
                    sink.abort()
                raise
            return writer.result(), writer.text(), result, source.facts(), sch

    array, text, result, facts, sch = widening.converting(sch, on_error, widen, attempt)
    return _table(array, text, result, facts, sch, on_error)


def _parse_once(src: Src, schema: Any, on_error: str, rejects: Any) -> bool:
    """Whether read_csv may take inference's records as its result (a path or bytes,
    no schema, bad rows raised): then a small input is parsed once, not twice."""
    if schema is not None or on_error != "raise" or rejects is not None:
        return False
    if isinstance(src, (bytes, bytearray, memoryview)):
        return True
    return isinstance(src, (str, os.PathLike)) and src != "-" and not is_stream_path(src)


def _table(
    array: Any, text: Any, result: RunResult, facts: dict[str, Any], sch: Schema, on_error: str
) -> Table:
    meta = {
        "schema": sch.to_dict(),
        "rows": result.rows,
        "source": facts,
        "header": result.header,
        **_counts(result, on_error),
        **_decoding(sch, result),
    }
    return Table.from_array(array, meta, text if sch.text_names else None, sch)
