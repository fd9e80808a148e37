"""Checkpoints of a conversion, and taking one up again (``resume=True``).

Every ``every`` seconds of work a :class:`Checkpoints` makes the records and
rejects written so far durable and saves where the conversion stands: the input
offset, line, rows, the category dictionaries, the partial files of the run, and a
CRC-32 of the input's bytes before the offset.  A later run resumes only when the
input, the schema and the options are the same, and the CRC of the same prefix
still matches: an edit before the checkpoint, even one that keeps the size and puts
the mtime back, is found.  (For a compressed or transcoded input the offsets are
not file offsets, so the CRC covers the whole file.)

The CRC is computed ahead of the parser on a thread of its own
(:class:`PrefixHash`; ``zlib.crc32`` runs without the GIL), so a checkpoint
waits only for the bytes of its last, partial chunk.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._version import __version__
from .errors import OutputError
from .outset import checkpoint_path, holds_json, is_temp_of, write_json_atomic
from .pipeline import Mark
from .schema import Schema
from .sources import InputError, Source
from .store import CHECKPOINT_FORMAT, NpyWriter, RejectsWriter, sidecar_path, text_path

HASH_CHUNK = 8 << 20  # the prefix CRC is kept at every multiple of this


def _crc_range(fd: int, start: int, end: int, crc: int) -> int:
    pos = start
    while pos < end:
        data = os.pread(fd, min(HASH_CHUNK, end - pos), pos)
        if not data:
            raise InputError(f"the input ended at byte {pos}, before byte {end}")
        crc = zlib.crc32(data, crc)
        pos += len(data)
    return crc


def file_crc(path: str, end: int | None) -> int:
    """CRC-32 of the file's first ``end`` bytes (all of it when None)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        if end is None:
            end = os.fstat(fd).st_size
        return _crc_range(fd, 0, end, 0)
    finally:
        os.close(fd)


class PrefixHash:
    """CRC-32 of a file's first N bytes, for any N, computed ahead on a thread that
    keeps the CRC at every ``HASH_CHUNK`` bytes."""

    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        self._at: dict[int, int] = {0: 0}  # offset (a multiple of HASH_CHUNK) -> CRC before it
        self._end: int | None = None  # where the file ended, once the thread got there
        self._error: BaseException | None = None
        self._stop = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="fastetl-hash", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        crc, pos = 0, 0
        try:
            while not self._stop:
                data = os.pread(self._fd, HASH_CHUNK, pos)
                crc = zlib.crc32(data, crc)
                pos += len(data)
                with self._cond:
                    if len(data) == HASH_CHUNK:
                        self._at[pos] = crc
                    else:
                        self._end = pos
                        self._at[pos] = crc
                    self._cond.notify_all()
                if len(data) < HASH_CHUNK:
                    return
        except OSError as e:
            with self._cond:
                self._error = e
                self._cond.notify_all()

    def _wait_for(self, offset: int) -> int:
        with self._cond:
            while offset not in self._at and self._error is None:
                if self._end is not None and offset > self._end:
                    break
                self._cond.wait()
            if self._error is not None:
                raise InputError(f"cannot read the input again: {self._error}")
            if offset not in self._at:
                raise InputError(f"the input ended at byte {self._end}, before byte {offset}")
            return self._at[offset]

    def crc_to(self, offset: int) -> int:
        """CRC-32 of the bytes before ``offset``."""
        base = offset - offset % HASH_CHUNK
        return _crc_range(self._fd, base, offset, self._wait_for(base))

    def crc_all(self) -> int:
        """CRC-32 of the whole file (as the thread found its end)."""
        with self._cond:
            while self._end is None and self._error is None:
                self._cond.wait()
            end = self._end
        return self._wait_for(end if end is not None else 0)

    def close(self) -> None:
        self._stop = True
        self._thread.join()
        os.close(self._fd)


def _offsets_are_file_offsets(source: Source) -> bool:
    return source.compression is None and source.encoding is None


def input_check(source: Source, offset: int, hasher: PrefixHash | None = None) -> dict[str, Any]:
    """What a checkpoint at ``offset`` records of the input's bytes."""
    assert source.path is not None
    if _offsets_are_file_offsets(source):
        crc = hasher.crc_to(offset) if hasher else file_crc(source.path, offset)
        return {"prefix_bytes": offset, "prefix_crc32": crc}
    crc = hasher.crc_all() if hasher else file_crc(source.path, None)
    return {"file_crc32": crc}


class Checkpoints:
    """Saves a checkpoint every ``every`` seconds of work, once the records and rejects
    up to it are durable; a later ``resume=True`` run continues from the last one."""

    def __init__(
        self,
        target: Path,
        writer: NpyWriter,
        rejects: RejectsWriter | None,
        source: Source,
        identity: dict[str, Any],
        every: float,
        keeps: Callable[[], bool] | None = None,
    ) -> None:
        self.target = target
        # whether the output so far may be resumed from: not once a watched pass widened a
        # column (the pass is not kept, and the rows it set aside for the next pass are in
        # neither the records nor the rejects); the checkpoint from before stays good
        self.keeps = keeps
        self.writer = writer
        self.rejects = rejects
        self.source = source
        self.identity = identity
        self.every = every
        self.started = self.last = time.monotonic()
        self.saved: Mark | None = None
        self._saving: tuple[Mark, dict[str, Any]] | None = None
        self._hash: PrefixHash | None = None

    def due(self) -> bool:
        if self.keeps is not None and not self.keeps():
            return False
        now = time.monotonic()
        if self._hash is None and now - self.started >= self.every / 2:
            assert self.source.path is not None  # a resumable input is a file
            self._hash = PrefixHash(self.source.path)  # (short runs never pay for it)
        return now - self.last >= self.every

    def save(self, mark: Mark) -> None:
        self.writer.sync()
        doc = {
            "format": CHECKPOINT_FORMAT,
            **self.identity,
            "input_check": input_check(self.source, mark.offset, self._hash),
            "partial": str(self.writer.tmp_path),
            **self._text(),
            "rejects_state": self.rejects.state() if self.rejects is not None else None,
            "mark": dataclasses.asdict(mark),
        }
        self._saving = (mark, doc)
        write_json_atomic(checkpoint_path(self.target), doc, self.writer.run)
        self.saved = mark
        self.last = time.monotonic()

    def kept(self) -> Mark | None:
        """The mark of the checkpoint on disk, which a resume continues from.  An
        interrupt can land after :meth:`save` put its file in place but before it
        recorded ``saved``: the file decides then, so that checkpoint is kept too."""
        if self._saving is not None and self._saving[0] is not self.saved:
            mark, doc = self._saving
            if holds_json(checkpoint_path(self.target), doc):
                return mark
        return self.saved

    def _text(self) -> dict[str, Any]:
        """Where the text bytes of the checkpoint are (only with text columns)."""
        text = self.writer.textfile
        if text is None:
            return {}
        return {"text_partial": str(text.tmp_path), "text_bytes": text.length}

    def close(self) -> None:
        if self._hash is not None:
            self._hash.close()
            self._hash = None


def identity(
    source: Source, schema: Schema, on_error: str, rejects: Path | None
) -> dict[str, Any] | None:
    """What must be the same for a checkpoint to be resumed (None: cannot resume)."""
    fp = source.fingerprint()
    if fp is None:
        return None
    return {
        "fastetl_version": __version__,
        "input": fp,
        "schema": schema.to_dict(),
        "on_error": on_error,
        "rejects": str(rejects) if rejects is not None else None,
    }


@dataclasses.dataclass(frozen=True)
class ResumePoint:
    mark: Mark
    partial: Path  # the records of the interrupted run
    rejects_state: dict[str, Any] | None
    text_partial: Path | None = None  # the text bytes of the interrupted run
    text_bytes: int | None = None

    def files(self) -> set[Path]:
        """The interrupted run's files this run takes up."""
        out = {self.partial}
        if self.text_partial is not None:
            out.add(self.text_partial)
        if self.rejects_state is not None:
            out |= {Path(self.rejects_state["rows_path"]), Path(self.rejects_state["meta_path"])}
        return out


def resume_point(
    doc: dict[str, Any] | None,
    dst: Path,
    rejects: Path | None,
    source: Source,
    ident: dict[str, Any] | None,
) -> ResumePoint | None:
    """The checkpoint ``doc`` to resume from, checked against the input and the options."""
    if doc is None:
        return None
    if ident is None:
        raise InputError(f"{source.name} cannot be read again, so it cannot be resumed")
    what = [
        k for k in ("fastetl_version", "schema", "on_error", "rejects") if doc.get(k) != ident[k]
    ]
    if what:
        raise OutputError(
            f"the checkpoint of {dst} was made with another {', '.join(what)}; "
            "convert without --resume to start over"
        )
    try:
        mark = Mark(**doc["mark"])
        partial = Path(doc["partial"])
        state = doc.get("rejects_state")
        text = doc.get("text_partial")
        point = ResumePoint(
            mark,
            partial,
            state,
            Path(text) if text is not None else None,
            int(doc["text_bytes"]) if text is not None else None,
        )
        if text is not None and not is_temp_of(Path(text), text_path(dst)):
            raise ValueError(f"{text} is not a temporary file of {text_path(dst)}")
        finals = [dst]
        if state is not None:
            assert rejects is not None
            finals += [rejects, sidecar_path(rejects)]
        for path, final in zip(
            [partial, *([Path(state["rows_path"]), Path(state["meta_path"])] if state else [])],
            finals,
            strict=True,
        ):
            if not is_temp_of(path, final):  # never take up (and truncate) another file
                raise ValueError(f"{path} is not a temporary file of {final}")
    except (KeyError, TypeError, ValueError, AssertionError) as e:
        raise OutputError(
            f"the checkpoint of {dst} is damaged ({e}); convert without --resume to start over"
        ) from None
    if not partial.exists():  # its run committed (an interrupt cut the checkpoint's removal
        return None  # short) or its files were removed: nothing to take up, start over
    changed = InputError(
        f"{source.name} has changed since the checkpoint of {dst} was made; "
        "convert without --resume to start over"
    )
    if doc.get("input") != ident["input"]:
        raise changed
    assert source.path is not None
    want = doc.get("input_check")
    try:
        have = (
            {"prefix_bytes": mark.offset, "prefix_crc32": file_crc(source.path, mark.offset)}
            if _offsets_are_file_offsets(source)
            else {"file_crc32": file_crc(source.path, None)}
        )
    except InputError:
        raise changed from None
    if want != have:
        raise changed
    return point
