"""Past one machine: the same conversion as Dask tasks, into a dataset folder.

``convert(src, out_dir)`` cuts one big file into byte ranges of about
``partition_size`` at exact row boundaries, converts each range in a task on any
worker of a Dask cluster, and commits a *dataset*: a folder of ``part-00000.npy``,
``part-00001.npy``, ... plus ``dataset.json`` (schema, global category
dictionaries, per-part rows and source ranges, counts).  The records of the parts,
concatenated, are the same bytes :func:`fastetl.convert` writes for the same input
and schema; a bad row is reported with the same line, column and row.  With ``text``
columns each part has its text bytes beside it (``part-00000.text.npy``) and its
references count from there (:class:`fastetl.dataset.Dataset` joins them).

How the work is split:

1. *Cuts* (one task per range, in parallel).  Range k is guessed to start just after
   the first line break at or after its nominal start ``k * partition_size`` (the
   core's ``line_start_after``).  That line break may be inside a quoted field, so the
   task makes two walks with the core's row walker (``next_row_start``, the tokenizer
   the parser uses): one from the guess, one from where the row ends if the guess was
   inside a quoted field (the core tokenizes a quote followed by the bytes after the
   guess); each goes to the first row start at or after the next range's nominal
   start and counts the line breaks it walked over.  The client chains them: range 0
   starts after the header, range k where the right walk of range k-1 ended, and the
   right walk of range k is the one that started there.  When neither did (rare) a
   walk from the true start is made then.  Line numbers of range k are the header's
   lines plus the prefix sum of the lines of the ranges before it.
2. *Parts* (one task per range, or per compressed or transcoded file): the core
   Parser over the memory-mapped range, into a part file with a task-unique name (a
   task that is run again after its worker died writes a new file).  Each part
   learns its own category dictionaries.
3. *Categories*: the dictionaries are merged in input order (first appearance, as
   one thread gives them), then each part's codes are mapped to the global ones by a
   task that writes the final ``part-NNNNN.npy`` (never in place: a task run twice
   gives the same file).  When the merged dictionary would pass a column's
   ``max_values`` the parts from the first that fills it are parsed again in order,
   seeded with the dictionary so far, so the rows that overflow are exactly the bad
   rows of a single-machine run.
4. *Commit*: everything is written to a temporary folder beside ``out_dir`` and
   renamed into place at the end; an existing dataset stays whole until then.  One
   writer per dataset (a lock file beside it, as for ``.npy`` outputs).

An inferred schema is widened as :mod:`fastetl.widening` does for one machine: the
parts' bad rows are shown to one watcher in input order; a value to widen starts the
parts over with the wider schema (the cuts are kept).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import glob as _glob
import json
import mmap
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import _core, lineage, outset, widening
from . import openlineage as _ol
from ._version import __version__
from .api import (
    _completed_event,
    _counts,
    _decoding,
    _failed_event,
    _raise_interrupted,
    _RunFacts,
    _start_event,
    _terminated,
    inference_error,
)
from .dataset import DATASET_FILE, DATASET_FORMAT, Dataset
from .errors import OutputError, ParseError, SchemaError
from .layout import learned_categories, make_parser
from .pipeline import (
    DEFAULT_BLOCK_SIZE,
    MAX_ROW_BYTES,
    ON_ERROR,
    RunResult,
    _BadRows,
    _bind,
    _core_dialect,
    _header_error,
    _header_start,
    _NEED_MORE,
    _null_field,
    _parse_range,
    _Position,
    _S,
    _skip_lines,
    long_row,
    run,
)
from .rules import has_rules
from .schema import Schema, as_schema
from .sources import InputError, check_encoding_prefix, open_source
from .store import REJECTS_FORMAT, ArrayWriter, RejectsWriter, sidecar_path, text_path

REJECTS_FILE = "rejects.csv"  # in the dataset folder, with rejects.csv.json
# bad rows one part hands back to the widening watcher at most (each is a few hundred bytes)
_MAX_WATCHED = 100_000


def parse_size(size: int | str) -> int:
    """A partition size in bytes: an int, or text as Dask writes it ("256MB" is 256 * 10**6,
    "64MiB" 64 * 2**20; :func:`dask.utils.parse_bytes`)."""
    from dask.utils import parse_bytes

    try:
        if isinstance(size, bool):
            raise TypeError
        n = parse_bytes(size)
    except (ValueError, TypeError):
        raise ValueError(
            f"partition_size: not a size: {size!r} (e.g. 256MB, 64MiB, 1000000)"
        ) from None
    if n < 1:
        raise ValueError(f"partition_size must be at least 1 byte, got {size!r}")
    return n


# -- inputs ----------------------------------------------------------------------------


def expand_inputs(src: Any) -> list[str]:
    """One path, a list of paths, or a glob pattern: the files, in order."""
    if isinstance(src, (list, tuple)):
        paths = [os.fspath(p) for p in src]
    else:
        s = os.fspath(src)
        if any(c in s for c in "*?[") and not os.path.exists(s):
            paths = sorted(_glob.glob(s))
            if not paths:
                raise InputError(f"{s}: no file matches")
        else:
            paths = [s]
    if not paths:
        raise ValueError("no input files given")
    for p in paths:
        if p == "-":
            raise ValueError("a Dask conversion reads files that every worker sees, not stdin")
        if not os.path.isfile(p):
            raise InputError(f"{p}: no such file")
    return paths


@dataclass
class _File:
    path: str
    size: int
    whole: bool  # compressed or transcoded: one task converts the whole file
    data_start: int = 0  # plain files: where the rows start (after the header)
    lines: int = 0  # line breaks before data_start
    header: list[str] | None = None
    header_raw: bytes | None = None
    facts: dict[str, Any] = field(default_factory=dict)
    stamp: tuple[int, int] = (0, 0)  # size and mtime when the run looked at it


def _check_unchanged(files: list[_File]) -> None:
    """Workers read the inputs while they convert: one that changed meanwhile may have
    been read in two states (the cuts of one, the rows of another)."""
    for f in files:
        st = os.stat(f.path)
        if (st.st_size, st.st_mtime_ns) != f.stamp:
            raise InputError(
                f"{f.path} changed while it was converted (its size or time of change); "
                "convert it again once it is complete"
            )


def _map(path: str) -> Any:
    with open(path, "rb") as fh:
        if os.fstat(fh.fileno()).st_size == 0:
            return b""
        return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)


def _look(path: str, schema: Schema, first: bool) -> _File:
    """The file's kind and, for a plain file, its header (read on the client: one row)."""
    d = schema.dialect
    with open_source(path, d.encoding) as source:
        whole = source.compression is not None or source.encoding is not None
        facts = source.facts()
        st = os.stat(path)
    f = _File(path, st.st_size, whole, facts=facts, stamp=(st.st_size, st.st_mtime_ns))
    if whole:
        return f
    data = _map(path)
    try:
        start = check_encoding_prefix(bytes(data[:4]), path)
        start = _skip_lines(data, start, d.skip_rows, True)  # as the local pipeline does
        f.data_start = start
        if d.header:
            delim, quote = _core_dialect(d)
            status, fields, nxt = _core.split_row(data, start, len(data), True, delim, quote)
            if status > 0:
                raise _header_error(status, _Position(data), nxt)
            if fields:
                f.header_raw = bytes(data[start:nxt])
                at = _header_start(data, start, len(data), True, delim, quote)
                if first:  # bound to the schema (the others must be the same header)
                    result = RunResult()
                    _bind(result, schema, fields, _core.count_lines(data, 0, at) + 1)
                    f.header = result.header
                else:
                    f.header = [x.decode("utf-8", "backslashreplace") for x in fields]
                f.data_start = nxt
            else:
                f.data_start = len(data)
        f.lines = _core.count_lines(data, 0, f.data_start)
    finally:
        if isinstance(data, mmap.mmap):
            data.close()
    return f


def _chunk_digests(data: Any, start: int, end: int) -> tuple[int, bytes]:
    """(index of the first, digests of) the 1 MiB chunks of the file ``data`` that start
    in ``[start, end)``, each to its own end (the last may reach past ``end``, into the
    next range: at most 1 MiB read twice): a part's share of the file's content hash."""
    first = -(-start // lineage.CHUNK)
    at = first * lineage.CHUNK
    if at >= end:
        return first, b""
    stop = min(len(data), ((end - 1) // lineage.CHUNK + 1) * lineage.CHUNK)
    view = memoryview(data)[at:stop]
    try:
        return first, lineage.chunk_digests(view)
    finally:
        view.release()


def _content_hashes(files: list[_File], ranges: list[_Range], results: list[_PartResult]) -> None:
    """Each file's content hash into its facts (``sources`` in dataset.json): from the
    digests its parts made as they parsed (a plain file), or the hash its one task made
    as it read it (a compressed or transcoded file).  Chunks no part started (a file
    with no rows after its header) are hashed here."""
    for i, f in enumerate(files):
        mine = [res for rg, res in zip(ranges, results, strict=True) if rg.file == i]
        if f.whole:
            f.facts["content_hash"] = mine[0].content_hash
            continue
        digests, nxt = bytearray(), 0  # chunks [0, nxt) have their digests
        data = None
        try:
            for res in sorted(mine, key=lambda r: r.hash_first):
                if res.hash_first > nxt:  # (not expected: ranges are contiguous)
                    data = data if data is not None else _map(f.path)
                    digests += _chunk_digests(data, nxt * lineage.CHUNK,
                                              res.hash_first * lineage.CHUNK)[1]
                    nxt = res.hash_first
                skip = nxt - res.hash_first
                digests += res.digests[8 * skip :]
                nxt = max(nxt, res.hash_first + len(res.digests) // 8)
            if nxt * lineage.CHUNK < f.size:
                data = data if data is not None else _map(f.path)
                digests += _chunk_digests(data, nxt * lineage.CHUNK, f.size)[1]
        finally:
            if isinstance(data, mmap.mmap):
                data.close()
        f.facts["content_hash"] = lineage.combine(bytes(digests), f.size)


def _check_header(first: _File, f: _File) -> None:
    if f.header != first.header:
        raise ParseError(
            f"{f.path}: its header {f.header!r} differs from the header of {first.path} "
            f"{first.header!r} (the files are converted as one input with one header)",
            line=1,
        )


# -- tasks (run on the workers) ----------------------------------------------------------


def _after_quoted(data: Any, at: int, delim: int, quote: int) -> int:
    """Where the row ends if ``at`` is inside a quoted field (-1: it cannot be).

    The core's tokenizer reads a quote followed by ``data[at:]``: the row it finds is
    the rest of the quoted field and of its row."""
    n, window = len(data), 1 << 16
    limit = min(n, at + MAX_ROW_BYTES)  # a longer row is refused by a local run anyway
    q = bytes([quote])
    if data.find(q, at, limit) < 0:  # (bytes and mmap alike)
        return -1
    while True:
        end = min(limit, at + window)
        buf = q + bytes(data[at:end])
        status, nxt, _ = _core.find_row_end(buf, 0, len(buf), end >= n, delim, quote)
        if status == 0:
            return at + nxt - 1
        if status > 0 or end >= limit:
            return -1
        window *= 4


def _walk(path: str, start: int, target: int, schema: dict, lenient: bool) -> list[tuple]:
    """Walk whole rows from ``start`` (a row start) to the first row start at or after
    ``target``: [(start, status, end, line breaks in start..end)].

    ``start`` ``-1 - p`` is a guess: just after the first line break at or after ``p``.
    That line break may be inside a quoted field, so two walks are made: one from there,
    one from where the row ends if it was inside one; the client knows which was right
    once the range before is walked (the true start is where the walk before ended)."""
    d = Schema.from_dict(schema).dialect
    delim, quote = _core_dialect(d)
    data = _map(path)
    try:
        n = len(data)
        starts = [start]
        if start < 0:  # a guess
            g = _core.line_start_after(data, min(n, max(0, -start - 2)))  # (a row may start at p)
            starts = [g]
            if quote >= 0 and g < n:
                r = _after_quoted(data, g, delim, quote)
                if r > g:
                    starts.append(r)
        out = []
        for st in starts:
            if start < 0:  # blank lines before a row are not its start (as in the walks)
                st = _core.next_row_start(data, st, st, n, True, delim, quote, lenient)[1]
            status, end = _core.next_row_start(data, st, max(st, target), n, True, delim,
                                               quote, lenient)
            out.append((st, status, end, _core.count_lines(data, st, end)))
        return out
    finally:
        if isinstance(data, mmap.mmap):
            data.close()


@dataclass
class _PartResult:
    tmp: str  # the part's records, with codes of its own dictionaries
    rows: int
    bad: int
    categories: dict[str, list[str]]
    error: ParseError | None = None  # the first bad row (policy "raise")
    watched: list[ParseError] = field(default_factory=list)  # bad rows, for the widening watcher
    header: list[str] | None = None  # a whole file's header
    bytes_in: int = 0
    rejects: str | None = None  # the part's rejected rows (policy "reject"), JSON beside
    header_raw: bytes | None = None  # a whole file's header line
    source: str = ""  # the input file
    # the content hash: of a plain file's range, the digests of the 1 MiB chunks that
    # start in it (the first is chunk ``hash_first``); of a whole file, its hash
    hash_first: int = 0
    digests: bytes = b""
    content_hash: dict[str, Any] | None = None


def _parse_part(
    path: str,
    start: int,
    end: int,
    lines_before: int,
    schema: dict,
    names: list[str] | None,
    policy: str,
    watch: bool,
    seed: dict[str, list[str]] | None,
    folder: str,
    index: int,
    capacity: int,
    hash_from: int = -1,
) -> _PartResult:
    """Convert ``path[start:end]`` (whole rows) into a part file of its own; ``capacity``:
    records to make room for first (the range's line count: no row is without one, but
    the last row of the input).  ``hash_from`` (-1: no hash): also hash the 1 MiB chunks
    of the file that start from there (0 for a file's first range: its header too) up to
    ``end``, from the same map the rows are parsed from."""
    sch = Schema.from_dict(schema)
    binding = sch.bind(names)
    dtype = sch.dtype()
    watched: list[ParseError] = []
    sink = _part_rejects(policy, folder, index, path)
    bad = _BadRows(policy, sink, binding, watch=watched.append if watch else None)
    data = _map(path)
    try:
        writer = ArrayWriter(dtype, capacity=capacity)
        pos = _Position(data, 0, 0)
        pos.know(start, lines_before)
        parser = make_parser(binding, seed)
        error = None
        try:
            stop = _parse_rows(parser, pos, data, start, end, writer, bad, sch)
        except ParseError as e:
            error = e
        else:
            if stop != end:  # pragma: no cover - the cuts are made by the parser's tokenizer
                raise OutputError(
                    f"internal error: the rows of {path}[{start}:{end}] end at {stop}"
                )
        cats = {
            col.name: [v.decode("utf-8") for v in parser.categories(i)]
            for i, col in learned_categories(binding)
        }
        records = writer.result()
        text = writer.text() if writer.text_names else None
        first, digests = 0, b""
        if hash_from >= 0 and error is None:
            first, digests = _chunk_digests(data, hash_from, end)
    finally:
        if isinstance(data, mmap.mmap):
            data.close()
    tmp = _save(records, folder, index, "raw", text)
    return _PartResult(tmp, writer.rows, bad.count, cats, error, watched[:_MAX_WATCHED],
                       bytes_in=end - start, rejects=_commit_rejects(sink), source=path,
                       hash_first=first, digests=digests)


def _parse_rows(
    parser: Any,
    pos: _Position,
    data: Any,
    start: int,
    end: int,
    writer: ArrayWriter,
    bad: _BadRows,
    sch: Schema,
) -> int:
    """Parse the whole rows of ``data[start:end]`` (``end`` is a row boundary) block by
    block, as the local pipeline does, so that a row longer than MAX_ROW_BYTES meets the
    local run's rule: under raise, the same error at the same line.  Under skip and reject
    the local run takes it as one bad row; the range cuts are not made around such rows, so
    the Dask path refuses the input instead (one line saying so) -- never a different
    result in silence.  Returns where the rows end."""
    delim, quote = _core_dialect(sch.dialect)
    at = start
    while at < end:
        stop = min(end, at + DEFAULT_BLOCK_SIZE)
        final = stop >= end
        new = _parse_range(parser, pos, at, stop, final, writer, bad)
        if new == at and not final:  # one row longer than the block: find its end
            limit = min(end, at + MAX_ROW_BYTES)
            status, nxt = _core.next_row_start(
                data, at, at + 1, limit, limit >= end, delim, quote, bad.lenient
            )
            if status == _NEED_MORE:
                if not bad.lenient:
                    long_row(data, at, pos, writer, bad, sch.dialect)  # raises, as locally
                raise ParseError(
                    f"a row is longer than {MAX_ROW_BYTES >> 20} MiB: the Dask path cannot "
                    "cut around it; convert this input with fastetl.convert",
                    line=pos.line_of(at),
                    offset=pos.offset_of(at),
                )
            if status != _S["OK"]:
                nxt = end  # the parse below meets the error
            new = _parse_range(parser, pos, at, nxt, True, writer, bad)
        at = new
    return at


def _convert_file(
    path: str,
    schema: dict,
    policy: str,
    watch: bool,
    seed: dict[str, list[str]] | None,
    folder: str,
    index: int,
    hash: bool = False,
) -> _PartResult:
    """Convert a whole (compressed or transcoded) file with the local pipeline, one thread
    (``hash``: hashing its bytes as they are read, as a local conversion does)."""
    sch = Schema.from_dict(schema)
    writer = ArrayWriter(sch.dtype())
    watched: list[ParseError] = []
    error = None
    result = RunResult()
    content = None
    sink = _part_rejects(policy, folder, index, path)
    hasher = lineage.ContentHash() if hash else None
    with open_source(path, sch.dialect.encoding, hasher) as source:
        try:
            result = run(source, sch, writer, None, 1, on_error=policy,
                         rejects=_Headless(sink) if sink is not None else None,
                         categories=seed, watch=watched.append if watch else None)
            content = source.content_hash()
        except ParseError as e:
            error = e
            result.rows, result.rows_bad = writer.rows, 0
    text = writer.text() if writer.text_names else None
    tmp = _save(writer.result(), folder, index, "raw", text)
    cats = dict(result.categories)
    if error is not None:
        cats = {}
    return _PartResult(tmp, writer.rows, result.rows_bad, cats, error,
                       watched[:_MAX_WATCHED], result.header, result.bytes_in,
                       _commit_rejects(sink), result.header_raw, path,
                       content_hash=content)


def _part_rejects(policy: str, folder: str, index: int, source: str) -> RejectsWriter | None:
    """A part's own rejects file (no header line: the dataset's file gets one), with a
    name no other try uses."""
    if policy != "reject":
        return None
    path = Path(folder) / f".part-{index:05d}.{uuid.uuid4().hex}.rejects"
    sink = RejectsWriter(path, source)
    sink.start(None)
    return sink


def _commit_rejects(sink: RejectsWriter | None) -> str | None:
    if sink is None:
        return None
    sink.commit()
    return str(sink.path)


class _Headless:
    """A rejects sink that leaves the header line out (the pipeline starts it with one)."""

    def __init__(self, sink: RejectsWriter) -> None:
        self.sink = sink

    def start(self, header: bytes | None) -> None:
        pass

    def add(self, raw: bytes, error: ParseError, offset: int) -> None:
        self.sink.add(raw, error, offset)

    def add_pieces(self, pieces: Any, error: Any, offset: int) -> None:
        self.sink.add_pieces(pieces, error, offset)


def _save(records: np.ndarray, folder: str, index: int, what: str,
          text: np.ndarray | None = None) -> str:
    """The records as a .npy file with a name no other task (or try) uses; ``text``
    (the bytes of the text columns, which the records' references count from) beside
    it, in :func:`_text_of` the name."""
    tmp = os.path.join(folder, f".part-{index:05d}.{uuid.uuid4().hex}.{what}")
    if text is not None:
        with open(_text_of(tmp), "wb") as fh:
            np.save(fh, text, allow_pickle=False)
    with open(tmp, "wb") as fh:
        np.save(fh, records, allow_pickle=False)
    return tmp


def _text_of(tmp: str) -> str:
    """Where the text bytes of the part file ``tmp`` are until the part is finished."""
    return tmp + ".text"


def _finish_part(tmp: str, final: str, maps: dict[str, np.ndarray], nulls: dict[str, tuple]) -> str:
    """Write the part's final file, its category codes mapped to the global ones.

    ``tmp`` is never changed (only read, or renamed when no code changes), so the
    task gives the same file however many times it runs.  Its text bytes (text
    columns) are renamed to ``part-NNNNN.text.npy`` first: each part's references
    count from the start of its own text file."""
    if os.path.exists(_text_of(tmp)):
        os.replace(_text_of(tmp), text_path(final))
    if not maps:
        if os.path.exists(tmp):
            os.replace(tmp, final)
        elif not os.path.exists(final):  # pragma: no cover - a lost file
            raise OutputError(f"internal error: part {tmp} is missing")
        return final
    if not os.path.exists(tmp) and os.path.exists(final):
        return final  # done by an earlier try
    recs = np.load(tmp, mmap_mode="r")
    out = np.array(recs)
    for name, table in maps.items():
        local = out[name]
        bitinfo = nulls.get(name)
        if bitinfo is None:
            out[name] = table[local]
        else:
            fname, bit = bitinfo
            valued = ~((out[fname] >> np.uint64(bit % 64)) & np.uint64(1)).astype(bool)
            col = out[name]
            col[valued] = table[local[valued]]
            out[name] = col
    del recs
    mid = _save(out, os.path.dirname(final), -1, "mapped")
    os.replace(mid, final)
    os.remove(tmp)
    return final


# -- the client ---------------------------------------------------------------------


@dataclass
class DatasetReport:
    """What a Dask conversion did."""

    output: str
    parts: int
    rows: int
    rows_read: int
    rows_skipped: int
    rows_rejected: int
    bytes_in: int
    rejects: str | None = None  # the rejects file (policy "reject"), in the dataset folder
    widened: tuple = ()

    def __str__(self) -> str:
        return (
            f"{self.rows:,} rows in {self.parts} part(s) -> {self.output}"
            + (f" ({self.rows_skipped:,} bad rows skipped)" if self.rows_skipped else "")
            + (f" ({self.rows_rejected:,} bad rows rejected)" if self.rows_rejected else "")
        )


@dataclass
class _Range:
    file: int
    start: int
    end: int
    lines_before: int  # -1: a whole file (its own line numbers)
    lines: int = -1  # line breaks in the range (-1: not known)


def _client(client: Any) -> tuple[Any, Any]:
    """(the client to use, a cluster started here to close after, or None)."""
    if client is not None:
        return client, None
    from distributed import Client, get_client

    try:
        return get_client(), None
    except ValueError:
        c = Client(processes=True, threads_per_worker=1)
        return c, c


@contextlib.contextmanager
def connect(spec: str) -> Iterator[Any]:
    """A client of ``spec``: ``local`` / ``local:N`` (a LocalCluster of N worker
    processes, closed at the end) or a scheduler's address."""
    from distributed import Client, LocalCluster

    m = re.fullmatch(r"local(?::(\d+))?", spec)
    if m:
        n = int(m.group(1)) if m.group(1) else None
        if n is not None and n < 1:
            raise ValueError("local:N needs at least 1 worker")
        with LocalCluster(n_workers=n, threads_per_worker=1, processes=True) as cluster:
            with Client(cluster) as client:
                yield client
    else:
        with Client(spec) as client:
            yield client


def _gather(client: Any, futures: list) -> list:
    return client.gather(futures) if futures else []


def convert(
    src: Any,
    out_dir: str | os.PathLike[str],
    schema: Schema | dict | str | os.PathLike[str] | None = None,
    *,
    client: Any = None,
    partition_size: int | str = "256MB",
    on_error: str = "raise",
    infer_rows: int | str | None = None,
    widen: bool | None = None,
    wait: bool | float = False,
    hash: bool = True,
    host: bool = True,
    openlineage: str | os.PathLike[str] | None = None,
) -> DatasetReport:
    """Convert ``src`` (a file, a list of files or a glob: their concatenation with one
    header) into the dataset folder ``out_dir`` on the Dask cluster of ``client``
    (default: the current client, else a LocalCluster started for this call).

    ``out_dir`` must be storage every worker and the client see.  ``on_error`` is
    ``"raise"``, ``"skip"`` or ``"reject"`` (the rows go to ``rejects.csv`` in the
    dataset, the reasons to ``rejects.csv.json``).  Without ``schema`` one is inferred
    from the first file (``infer_rows`` as for :func:`fastetl.convert`) and widened when
    a later value needs it (``widen``: as for :func:`fastetl.convert`).  ``wait``: as for
    :func:`fastetl.convert` when another run holds the dataset's lock.

    Lineage, as for :func:`fastetl.convert`: each input's content hash (``hash=False``:
    not computed), made by the tasks as they parse; ``dataset.json``'s ``lineage`` list
    (one entry per input file; ``host=False`` leaves the host name out); ``openlineage``:
    a file to write the run's OpenLineage events into (START, then COMPLETE, FAIL or
    ABORT; the inputs are the files, the output the dataset folder).
    """
    if on_error not in ON_ERROR:
        raise ValueError(f"on_error must be one of {', '.join(ON_ERROR)}, got {on_error!r}")
    psize = parse_size(partition_size)
    paths = expand_inputs(src)
    out = Path(out_dir)
    _check_replaceable(out)
    if not out.parent.is_dir():
        raise OutputError(f"cannot write {out}: folder {out.parent} does not exist")
    if openlineage is not None:
        _ol.check_destination(openlineage)
    inferred = schema is None or bool(getattr(schema, "inferred", None))  # (as convert's)
    options = {"schema": "inferred" if inferred else "given", "dask": True,
               "partition_size": partition_size, "on_error": on_error}
    if widen is not None:
        options["widen"] = widen
    run = _RunFacts(lineage.new_run_id(), lineage.now(), hash, host, options, openlineage)
    try:  # (the START event inside: an interrupt as it is written is Interrupted too)
        _start_event(run, paths, out)
        return _convert(paths, out, schema, client, psize, on_error, infer_rows, widen, wait,
                        run)
    except KeyboardInterrupt as e:  # Interrupted, saying whether the dataset is the run's
        _raise_interrupted(e, run, paths, out, resume=False)
    except BaseException as e:
        _failed_event(run, paths, out, e)
        raise


def _convert(
    paths: list[str],
    out: Path,
    schema: Any,
    client: Any,
    psize: int,
    on_error: str,
    infer_rows: int | str | None,
    widen: bool | None,
    wait: bool | float,
    run: _RunFacts,
) -> DatasetReport:
    """:func:`convert` once its options are checked and its START event written."""
    schema_arg = schema
    if schema is None:
        from .infer import infer_schema

        rows = 10_000 if infer_rows is None else infer_rows
        try:
            sch = infer_schema(paths[0], infer_rows=rows, on_error=on_error)
        except ParseError as e:
            raise inference_error(e, on_error) from None
    else:
        if infer_rows is not None:
            raise ValueError("infer_rows applies only when no schema is given")
        sch = as_schema(schema)
        if has_rules(sch):  # the parts are parsed apart: unique could not be exact
            raise SchemaError(
                "the Dask path does not check data-quality rules yet: convert without "
                "dask, or convert and then run fastetl check on the output"
            )
    widen = schema_arg is None if widen is None else widen
    with outset.OutputLock(out).acquire(wait):
        _clear_stale(out)
        cl, own = _client(client)
        try:
            report, doc = _convert_locked(cl, paths, out, sch, psize, on_error, widen, run)
        finally:
            if own is not None:
                own.close()
    _completed_event(run, out)
    return report


def _entries(run: _RunFacts, out: Path, sch: Schema, files: list[_File],
             ranges: list[_Range], results: list[_PartResult], on_error: str) -> list[dict]:
    """One lineage entry per input file, as a local conversion of it would write."""
    ended = lineage.now()
    entries = []
    for i, f in enumerate(files):
        mine = [res for rg, res in zip(ranges, results, strict=True) if rg.file == i]
        done = RunResult(rows=sum(r.rows for r in mine), rows_bad=sum(r.bad for r in mine))
        entries.append(lineage.entry(
            run_id=run.run_id, content_hash=f.facts.get("content_hash"),
            source={k: v for k, v in f.facts.items() if k != "content_hash"},
            schema=sch.to_dict(), version=__version__, options=run.options,
            started=run.started, ended=ended, host=run.host,
            counts=_counts(done, on_error), output=str(out.resolve()),
        ))  # fmt: skip
    return entries


def _check_replaceable(out: Path) -> None:
    """Only a dataset folder (or an empty folder) is ever replaced."""
    if out.exists() and not (out.is_dir() and (_is_dataset(out) or not any(out.iterdir()))):
        raise OutputError(
            f"{out} exists and is not a fastetl dataset folder; refusing to replace it"
        )


def _is_dataset(folder: Path) -> bool:
    return (folder / DATASET_FILE).is_file()


def _temp_dir(out: Path, run_id: str) -> Path:
    return out.with_name(f".{out.name}.fastetl-{run_id}.dataset")


def _clear_stale(out: Path) -> None:
    """Folders dead runs into ``out`` left (holding the lock proves they are dead)."""
    pat = re.compile(rf"\.{re.escape(out.name)}\.fastetl-[0-9a-f]+\.(dataset|old)")
    for p in out.parent.iterdir():
        if pat.fullmatch(p.name) and p.is_dir():
            if not out.exists() and p.name.endswith(".old") and _is_dataset(p):
                os.replace(p, out)  # a run died between its two renames: the old one back
            else:
                shutil.rmtree(p, ignore_errors=True)


def _cuts(client: Any, files: list[_File], psize: int, sch: Schema, lenient: bool) -> list:
    """The exact ranges of every plain file (whole files for the others), in order."""
    sd = sch.to_dict()
    plans: list[tuple[int, list[int], list]] = []
    for i, f in enumerate(files):
        if f.whole:
            continue
        n = max(1, -(-(f.size - f.data_start) // psize))
        nominal = [f.data_start + k * psize for k in range(n)] + [f.size]
        futs = [
            client.submit(_walk, f.path, f.data_start if k == 0 else -nominal[k] - 1,
                          nominal[k + 1], sd, lenient, pure=False,
                          key=f"fastetl-cut-{uuid.uuid4().hex[:8]}-{k}")
            for k in range(n)
        ]
        plans.append((i, nominal, futs))
    exact: dict[int, list[_Range]] = {}
    for i, nominal, futs in plans:
        f = files[i]
        walks = _gather(client, futs)
        at, lines = f.data_start, f.lines
        ranges: list[_Range] = []
        for k, tries in enumerate(walks):
            if at >= f.size:
                break
            if at >= nominal[k + 1]:  # a row from before runs past this range's end
                continue
            walk = next((w for w in tries if w[0] == at), None)
            if walk is None:  # neither guess was right (rare): walk from the true start
                walk = client.submit(
                    _walk, f.path, at, nominal[k + 1], sd, lenient, pure=False
                ).result()[0]
            start, status, end, nlines = walk
            if status > 0:  # broken quoting (policy raise): the parse of the rest says where
                ranges.append(_Range(i, at, f.size, lines))
                break
            if end > at:
                ranges.append(_Range(i, at, end, lines, nlines))
            at, lines = end, lines + nlines
        exact[i] = ranges
    out = []
    for i, f in enumerate(files):
        out += [_Range(i, 0, f.size, -1)] if f.whole else exact[i]
    return out


def _convert_locked(
    client: Any,
    paths: list[str],
    out: Path,
    sch: Schema,
    psize: int,
    on_error: str,
    widen: bool,
    run: _RunFacts,
) -> tuple[DatasetReport, dict[str, Any]]:
    run_id = outset.new_run_id()
    tmp = _temp_dir(out, run_id)
    tmp.mkdir()
    doc: dict[str, Any] = {}

    def land() -> None:  # (right after the commit, holding the lock: see api._RunFacts)
        if doc.get("lineage"):
            itemsize = Schema.from_dict(doc["schema"]).dtype().itemsize
            run.land(doc["lineage"][0], doc["schema"], doc["rows"], doc["rows"] * itemsize)

    try:
        files = []
        for p in paths:
            files.append(_look(p, sch, not any(not f.whole for f in files)))
        plain = [f for f in files if not f.whole]
        for f in plain[1:]:
            _check_header(plain[0], f)
        ranges = _cuts(client, files, psize, sch, on_error != "raise")

        def attempt(s: Schema, watcher: widening.Watcher | None) -> tuple:
            return _parts(client, files, ranges, s, on_error, watcher, tmp, run.hash)

        sch, results, cats = widening.converting(sch, on_error, widen, attempt)
        if run.hash:
            _content_hashes(files, ranges, results)
        doc = _dataset_doc(sch, files, ranges, results, cats, on_error)
        doc["lineage"] = _entries(run, out, sch, files, ranges, results, on_error)
        keep = {p[k] for p in doc["parts"] for k in ("file", "text") if k in p}
        if on_error == "reject":
            doc["rejects"] = _merge_rejects(tmp, files, results)
            keep |= {REJECTS_FILE, REJECTS_FILE + ".json"}
        for p in tmp.iterdir():  # what tries on workers that died left half-written
            if p.name not in keep:
                p.unlink()
        _check_unchanged(files)
        with open(tmp / DATASET_FILE, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, ensure_ascii=False, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        outset.fsync_dir(tmp)
        _commit(tmp, out, run_id)
        land()
    except BaseException as e:
        whole: list[bool] = []

        def wind_up() -> None:  # (idempotent: a second Ctrl-C, or SIGTERM, restarts it)
            if not whole:  # (asked once: once removed, the folder no longer tells)
                whole.append(out.is_dir() and not tmp.exists())  # (renamed into place)
            if whole[0]:
                land()
            shutil.rmtree(tmp, ignore_errors=True)

        late = outset.to_the_end(wind_up)
        if late is not None and (not isinstance(e, KeyboardInterrupt) or _terminated(late)):
            raise late  # (Ctrl-C as an error was cleaned up: that error stays its cause)
        raise
    report = DatasetReport(
        output=str(out),
        parts=len(results),
        rows=doc["rows"],
        rows_read=doc["rows_read"],
        rows_skipped=doc["rows_skipped"],
        rows_rejected=doc["rows_rejected"],
        rejects=str(out / doc["rejects"]) if doc["rejects"] else None,
        bytes_in=sum(f.size for f in files),
        widened=tuple((sch.inferred or {}).get("widened", ())),
    )
    return report, doc


def _merge_rejects(tmp: Path, files: list[_File], results: list[_PartResult]) -> str:
    """The parts' rejected rows as one rejects file of the dataset (the input's header
    line, then the rows in input order) and its JSON (each row's index counted from the
    first row of the input; with several files, the file of each)."""
    rows_path = tmp / REJECTS_FILE
    header = next((f.header_raw for f in files if f.header_raw is not None), None)
    if header is None:
        header = next((r.header_raw for r in results if r.header_raw is not None), None)
    entries: list[dict[str, Any]] = []
    before = 0
    with open(rows_path, "wb") as out:
        if header:
            out.write(header if header.endswith((b"\n", b"\r")) else header + b"\n")
        for res in results:
            assert res.rejects is not None
            with open(res.rejects, "rb") as fh:
                shutil.copyfileobj(fh, out)
            part = json.loads(sidecar_path(res.rejects).read_text(encoding="utf-8"))
            for e in part["rejects"]:
                if e.get("row") is not None:
                    e["row"] += before
                if len(files) > 1:
                    e["file"] = res.source
                entries.append(e)
            before += res.rows + res.bad
        out.flush()
        os.fsync(out.fileno())
    paths = [f.path for f in files]
    doc = {
        "format": REJECTS_FORMAT,
        "source": paths[0] if len(paths) == 1 else paths,
        "header": bool(header),
        "rejects": entries,
        "count": len(entries),
    }
    with open(sidecar_path(rows_path), "w", encoding="utf-8") as fh:
        json.dump(doc, fh, ensure_ascii=False)
        fh.flush()
        os.fsync(fh.fileno())
    return REJECTS_FILE


def _commit(tmp: Path, out: Path, run_id: str) -> None:
    """``tmp`` becomes ``out``; an existing dataset is moved aside first, then removed."""
    old = out.with_name(f".{out.name}.fastetl-{run_id}.old")
    _check_replaceable(out)  # (again: the folder may have changed since the run began)
    try:
        if out.exists():
            os.replace(out, old)
        os.replace(tmp, out)
    except BaseException as e:  # (an interrupt before the rename: the old dataset back,
        late = outset.to_the_end(_put_back, tmp, old, out)  # through a second one too)
        if late is not None and not isinstance(e, KeyboardInterrupt):
            raise late from e
        raise
    try:
        outset.fsync_dir(out.parent)
    finally:  # (an interrupt after the rename too: the old dataset's copy is not left behind)
        late = outset.to_the_end(_remove_old, old)
    if late is not None:
        raise late


def _put_back(tmp: Path, old: Path, out: Path) -> None:
    """The dataset moved aside back in place, unless the new one took it (repeatable)."""
    if tmp.exists() and old.exists() and not out.exists():
        os.replace(old, out)


def _remove_old(old: Path) -> None:
    """The old dataset's copy removed (repeatable: a restart removes what is left)."""
    if old.exists():
        shutil.rmtree(old, ignore_errors=True)


def _parts(
    client: Any,
    files: list[_File],
    ranges: list[_Range],
    sch: Schema,
    on_error: str,
    watcher: widening.Watcher | None,
    tmp: Path,
    hash: bool = True,
) -> tuple:
    """Every range converted and committed as a part in ``tmp``: (schema, part facts,
    global dictionaries).  Raises the first bad row (in input order) under "raise".
    ``hash``: the tasks also hash the input as they read it (see :func:`_content_hashes`)."""
    for p in tmp.iterdir():  # an earlier attempt's files (a widening)
        p.unlink()
    sd = sch.to_dict()
    policy = watcher.on_error if watcher is not None else on_error
    names = next((f.header for f in files if not f.whole), None)
    binding = sch.bind(names) if names is not None or not sch.dialect.header else None
    tag = uuid.uuid4().hex[:8]

    def submit(k: int, seed: dict | None) -> Any:
        r = ranges[k]
        f = files[r.file]
        key = f"fastetl-parse-{tag}-{k}-{seed is not None}"
        watch = watcher is not None
        if f.whole:
            return client.submit(_convert_file, f.path, sd, policy, watch, seed, str(tmp), k,
                                 hash, pure=False, key=key)
        cap = r.lines + 1 if r.lines >= 0 else max(1024, (r.end - r.start) // 64)
        first = k == 0 or ranges[k - 1].file != r.file  # (its header is hashed too)
        hash_from = -1 if not hash else 0 if first else r.start
        return client.submit(_parse_part, f.path, r.start, r.end, r.lines_before, sd, names,
                             policy, watch, seed, str(tmp), k, cap, hash_from, pure=False,
                             key=key)

    results: list[_PartResult] = _gather(client, [submit(k, None) for k in range(len(ranges))])
    # whole files: their header checked, their line numbers named by file
    for k, res in enumerate(results):
        f = files[ranges[k].file]
        if f.whole and f.header is None:
            f.header = res.header
        if f.whole and names is not None and res.header is not None and res.header != names:
            _check_header(next(x for x in files if not x.whole), f)
        if f.whole and names is None:
            names = res.header
    if binding is None:
        binding = sch.bind(names)
    learned = learned_categories(binding)
    # the global dictionaries, in input order; a part that would overflow one (or that
    # met a full one) and every part after it are parsed again, seeded, in order
    cats: dict[str, list[str]] = {col.name: [] for _, col in learned}
    index: dict[str, dict[str, int]] = {col.name: {} for _, col in learned}
    k = 0
    reparse_from = None
    while k < len(results):
        res = results[k]
        if reparse_from is None and not _fits(res, cats, index, learned):
            reparse_from = k
        if reparse_from is not None:
            seed = {n: list(v) for n, v in cats.items()}
            old = results[k].tmp
            results[k] = res = submit(k, seed).result()
            _remove(old)
        _merge(res, cats, index, learned)
        if res.error is not None and policy == "raise":
            break
        k += 1
    # errors and bad rows in input order, with their row index in the whole input
    before = 0
    for k, res in enumerate(results):
        f = files[ranges[k].file]
        res.watched = [_located(e, before, f.path if len(files) > 1 else None)
                       for e in res.watched]
        if res.error is not None:
            res.error = _located(res.error, before, f.path if len(files) > 1 else None)
        if watcher is not None:
            for e in res.watched:
                watcher.watch(e)  # raises a bad row that is not a value to widen
        if res.error is not None:
            if watcher is not None:
                watcher.check()  # a column to widen first (a broken row is not widened)
            _remove_parts(results)
            raise res.error
        before += res.rows + res.bad
    if watcher is not None:
        watcher.check()  # a column to widen: this attempt is not kept
    # final part files, codes mapped to the global dictionaries
    futs = []
    for k, res in enumerate(results):
        maps, nulls = {}, {}
        if res.categories is not None and (reparse_from is None or k < reparse_from):
            for i, col in learned:
                local = res.categories.get(col.name, [])
                table = np.array([index[col.name][v] for v in local], dtype=np.int64)
                if not np.array_equal(table, np.arange(len(local))):
                    maps[col.name] = table
                    bit = binding.fields[i].null_bit
                    if bit >= 0:
                        nulls[col.name] = (_null_field(bit), bit)
        final = str(tmp / f"part-{k:05d}.npy")
        futs.append(client.submit(_finish_part, res.tmp, final, maps, nulls, pure=False,
                                  key=f"fastetl-finish-{tag}-{k}"))
    _gather(client, futs)
    return sch, results, cats


def _located(e: ParseError, rows_before: int, path: str | None) -> ParseError:
    """A part's error as the whole input's: its row counted from the first row; the
    file named when there are several (lines are counted in each file)."""
    return ParseError(
        e.reason if path is None else f"{e.reason} (in {path})",
        line=e.line,
        column=e.column,
        value=e.value,
        offset=e.offset,
        row=None if e.row is None else e.row + rows_before,
    )


def _fits(res: _PartResult, cats: dict, index: dict, learned: list) -> bool:
    """Whether the part's values fit the global dictionaries as they are."""
    for _, col in learned:
        have = index[col.name]
        new = sum(1 for v in dict.fromkeys(res.categories.get(col.name, [])) if v not in have)
        total = len(have) + new
        if total > col.category_limit:
            return False
        if total >= col.category_limit and (res.bad or res.error is not None):
            return False  # a bad row's value may have met the full dictionary first
    return True


def _merge(res: _PartResult, cats: dict, index: dict, learned: list) -> None:
    for _, col in learned:
        have = index[col.name]
        for v in res.categories.get(col.name, []):
            if v not in have:
                have[v] = len(cats[col.name])
                cats[col.name].append(v)


def _remove(path: str) -> None:
    """A part's temporary file, and its text bytes."""
    for p in (path, _text_of(path)):
        try:
            os.remove(p)
        except OSError:
            pass


def _remove_parts(results: list[_PartResult]) -> None:
    for r in results:
        _remove(r.tmp)


def _dataset_doc(
    sch: Schema,
    files: list[_File],
    ranges: list[_Range],
    results: list[_PartResult],
    cats: dict[str, list[str]],
    on_error: str,
) -> dict[str, Any]:
    rows = sum(r.rows for r in results)
    bad = sum(r.bad for r in results)
    parts = []
    for k, (rg, res) in enumerate(zip(ranges, results, strict=True)):
        f = files[rg.file]
        part = {"file": f"part-{k:05d}.npy", "rows": res.rows, "rows_bad": res.bad,
                "source": f.path}
        if not f.whole:
            part.update({"start": rg.start, "end": rg.end, "first_line": rg.lines_before + 1})
        if sch.text_names:
            part["text"] = text_path(part["file"]).name
        parts.append(part)
    doc: dict[str, Any] = {
        "format": DATASET_FORMAT,
        "fastetl_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "schema": sch.to_dict(),
        "rows": rows,
        "rows_read": rows + bad,
        "rows_written": rows,
        "rows_skipped": bad if on_error == "skip" else 0,
        "rows_rejected": bad if on_error == "reject" else 0,
        "on_error": on_error,
        "rejects": None,
        "header": next((f.header for f in files if f.header is not None), None),
        "sources": [f.facts for f in files],
        # (as a sidecar's: of the one input; each source's is in its facts)
        "content_hash": files[0].facts.get("content_hash") if len(files) == 1 else None,
        "parts": parts,
    }
    doc.update(_decoding(sch, RunResult(categories=cats)))
    return doc


# -- reading ------------------------------------------------------------------------


def read_dataset(out_dir: str | os.PathLike[str], index: str | None = None) -> Any:
    """The dataset as a dask.dataframe, one partition per part (decoded values)."""
    return from_table(Dataset(out_dir), index=index)


def _part_frame(path: str, k: int | None, index: str | None) -> Any:
    if k is None:
        from .table import open as open_table

        df = open_table(path).to_pandas()
    else:
        df = Dataset(path).part(k).to_pandas()
    return df.set_index(index) if index is not None else df


def from_table(t: Any, index: str | None = None) -> Any:
    """A Table (``fastetl.open`` of a file or a dataset) as a dask.dataframe: one partition
    per part of a dataset (one in all for a file).  ``index``: a column to index by; when
    its values are sorted within and across the parts, the divisions are known."""
    import dask.dataframe as dd
    from dask import delayed

    from .table import Table

    if isinstance(t, Dataset):
        tables = t.parts()
        keys: list[int | None] = list(range(t.nparts))
        if not keys:
            import dask.dataframe as dd

            return dd.from_pandas(t.to_pandas(), npartitions=1)
    elif isinstance(t, Table) and t.path is not None:
        tables, keys = [t], [None]
    else:
        raise ValueError("from_table needs a Table opened from a file or a dataset")
    path = str(t.path)
    meta = Table.from_array(tables[0].array[:0], tables[0].meta, tables[0].text).to_pandas()
    divisions = None
    if index is not None:
        meta = meta.set_index(index)
        divisions = _divisions([tb[index] for tb in tables])
    jobs = [delayed(_part_frame, pure=True)(path, k, index) for k in keys]
    return dd.from_delayed(jobs, meta=meta, divisions=divisions, verify_meta=False)


def _divisions(cols: list[np.ndarray]) -> list | None:
    """Known divisions when the index is sorted within and across the parts."""
    bounds = []
    for col in cols:
        if isinstance(col, np.ma.MaskedArray) or col.dtype.kind not in "iufmM" or len(col) == 0:
            return None
        if len(col) > 1 and not (col[1:] >= col[:-1]).all():
            return None
        bounds.append((col[0], col[-1]))
    if any(bounds[i][1] > bounds[i + 1][0] for i in range(len(bounds) - 1)):
        return None
    return [b[0].item() if hasattr(b[0], "item") else b[0] for b in bounds] + [bounds[-1][1]]


def read_csv(
    src: Any,
    schema: Any = None,
    *,
    out_dir: str | os.PathLike[str] | None = None,
    index: str | None = None,
    **kwargs: Any,
) -> Any:
    """Convert ``src`` on the cluster (see :func:`convert`) and read the dataset as a
    dask.dataframe, one partition per part.  The dataset goes to ``out_dir``, or to a
    new temporary folder (which must then be one the workers see: fine for a
    LocalCluster; give ``out_dir`` on a shared file system for a real cluster)."""
    if out_dir is None:
        out_dir = os.path.join(tempfile.mkdtemp(prefix="fastetl-dask-"), "dataset")
    convert(src, out_dir, schema, **kwargs)
    return read_dataset(out_dir, index=index)
