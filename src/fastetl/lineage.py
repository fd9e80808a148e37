"""Lineage: what a conversion read (a content hash of its input), and the facts of
each run (schema hash, version, options, times, host, row counts).

The content hash is XXH64 of each 1 MiB of the input, in order (the compiled core
hashes without the GIL, about 10 GB/s on one core), and a BLAKE2b-128 of that list of
digests followed by the input's length::

    value = blake2b(xxh64(c0) || xxh64(c1) || ... || u64le(N), digest_size=16)

where ``c0, c1, ...`` are the input's consecutive 1 MiB pieces (the last shorter),
each XXH64 (seed 0) is 8 bytes little-endian and ``N`` is the input's length in bytes.
The chunks are fixed, so the value depends on the bytes alone, never on how they
were read (block size, thread count).  :func:`file_hash` computes it for a file.

This module imports nothing of fastetl but the core: :mod:`fastetl.sources` hands
it the bytes as they are read (its ``hasher`` is duck-typed), :mod:`fastetl.api`
puts its results in the sidecar.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import socket
import time
import uuid
from typing import Any

from . import _core

ALGORITHM = "xxh64-1MiB+blake2b-128"
CHUNK = 1 << 20
_READ = 4 << 20  # bytes read at a time when the hash reads a file itself


class ContentHash:
    """The content hash of bytes fed in input order, in pieces of any size."""

    def __init__(self) -> None:
        self.nbytes = 0  # bytes fed so far
        self._list = hashlib.blake2b(digest_size=16)  # over the chunk digests, in order
        self._part = bytearray()  # the start of a chunk not yet whole

    def feed(self, data: Any) -> None:
        """The next bytes of the input (any buffer)."""
        view = memoryview(data).cast("B")
        n = len(view)
        if not n:
            return
        self.nbytes += n
        if self._part:
            take = min(CHUNK - len(self._part), n)
            self._part += view[:take]
            view = view[take:]
            if len(self._part) < CHUNK:
                return
            self._list.update(_core.xxh64_chunks(self._part, CHUNK))
            self._part = bytearray()
        whole = len(view) - len(view) % CHUNK
        if whole:
            self._list.update(_core.xxh64_chunks(view[:whole], CHUNK))
        if whole < len(view):
            self._part += view[whole:]

    def feed_at(self, offset: int, data: Any, read_gap: Any = None) -> None:
        """Bytes at input ``offset``: those hashed already (read again) are left out;
        bytes before ``offset`` not hashed yet are read with ``read_gap(start, end)``
        (an iterable of buffers), which must be given when there can be a gap."""
        view = memoryview(data).cast("B")
        if offset > self.nbytes:
            if read_gap is None:
                raise ValueError("a gap in the hashed bytes, and no way to read it")
            for piece in read_gap(self.nbytes, offset):
                self.feed(piece)
        skip = self.nbytes - offset
        if skip < len(view):
            self.feed(view[max(0, skip) :])

    def digest(self) -> dict[str, Any]:
        """The sidecar's ``content_hash``: algorithm, value (hex) and bytes hashed."""
        h = self._list.copy()
        if self._part:
            h.update(_core.xxh64_chunks(self._part, CHUNK))
        return _value(h, self.nbytes)


def chunk_digests(data: Any) -> bytes:
    """The XXH64s (8 bytes each, in order) of the 1 MiB chunks of ``data``, the last
    one shorter: of a piece of an input that starts at a multiple of 1 MiB and ends at
    one or at the input's end (what :func:`combine` takes, piece after piece)."""
    return _core.xxh64_chunks(data, CHUNK)


def combine(digests: bytes, nbytes: int) -> dict[str, Any]:
    """The content hash of an input of ``nbytes`` bytes from all its chunks' digests in
    order (:func:`chunk_digests` of its pieces, concatenated): the value a
    :class:`ContentHash` fed the same bytes gives (hashes made on several machines)."""
    h = hashlib.blake2b(digest_size=16)
    h.update(digests)
    return _value(h, nbytes)


def _value(h: Any, nbytes: int) -> dict[str, Any]:
    h.update(nbytes.to_bytes(8, "little"))
    return {"algorithm": ALGORITHM, "value": h.hexdigest(), "bytes": nbytes}


def file_hash(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The content hash of a file, as a conversion of it records it (compressed files:
    of the compressed bytes)."""
    h = ContentHash()
    with open(path, "rb") as fh:
        while piece := fh.read(_READ):
            h.feed(piece)
    return h.digest()


# -- the facts of one run --------------------------------------------------------


def now() -> str:
    """The time now, UTC, ISO 8601 to the millisecond."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


def new_run_id() -> str:
    """A UUID version 7 (time-ordered, as OpenLineage recommends for run ids)."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | (rand >> 64 & 0xFFF) << 64
    value |= 0b10 << 62 | rand & ((1 << 62) - 1)
    return str(uuid.UUID(int=value))


def schema_hash(schema: dict[str, Any]) -> str:
    """SHA-256 of the schema's JSON (keys sorted, no spaces), without what inference
    noted about how it got there (``inferred``): the same layout, the same hash."""
    doc = {k: v for k, v in schema.items() if k != "inferred"}
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def host_name() -> str:
    return socket.gethostname()


def entry(
    *,
    run_id: str,
    source: dict[str, Any],
    content_hash: dict[str, Any] | None,
    schema: dict[str, Any],
    version: str,
    options: dict[str, Any],
    started: str,
    ended: str,
    host: bool,
    counts: dict[str, int],
    output: str,
) -> dict[str, Any]:
    """One run's lineage entry (the sidecar's ``lineage`` list holds one per input)."""
    out: dict[str, Any] = {
        "run_id": run_id,
        "source": source,
        "content_hash": content_hash,
        "output": output,
        "schema_hash": schema_hash(schema),
        "fastetl_version": version,
        "options": options,
        "started": started,
        "ended": ended,
    }
    if host:
        out["host"] = host_name()
    out.update(counts)
    return out


def chain(meta: dict[str, Any]) -> list[dict[str, Any]]:
    """The lineage entries of a sidecar, in input order (empty for sidecars written
    before lineage was recorded)."""
    entries = meta.get("lineage")
    return list(entries) if isinstance(entries, list) else []


def describe(entries: list[dict[str, Any]], rows: int) -> str:
    """The chain as text: one block per entry."""
    if not entries:
        return "no lineage recorded (converted by a fastetl without lineage?)\n"
    lines = []
    recorded = sum(int(e.get("rows_written", 0)) for e in entries)
    if recorded < rows:
        lines.append(f"{rows - recorded:,} rows were written before lineage was recorded\n")
    for i, e in enumerate(entries, 1):
        src = e.get("source") or {}
        ch = e.get("content_hash")
        lines.append(f"[{i}] {src.get('path', '?')}")
        if ch:
            lines.append(f"    content   {ch['algorithm']} {ch['value']} ({ch['bytes']:,} bytes)")
        else:
            lines.append("    content   not hashed (--no-hash)")
        lines.append(f"    schema    {e.get('schema_hash')}")
        lines.append(
            f"    rows      {e.get('rows_read', 0):,} read, {e.get('rows_written', 0):,} "
            f"written, {e.get('rows_rejected', 0):,} rejected, "
            f"{e.get('rows_skipped', 0):,} skipped"
        )
        lines.append(f"    run       {e.get('run_id')}  {e.get('started')} .. {e.get('ended')}")
        who = f"fastetl {e.get('fastetl_version')}"
        if e.get("host"):
            who += f" on {e['host']}"
        lines.append(f"    by        {who}")
        opts = e.get("options") or {}
        if opts:
            shown = ", ".join(f"{k}={json.dumps(v)}" for k, v in sorted(opts.items()))
            lines.append(f"    options   {shown}")
        lines.append("")
    return "\n".join(lines)
