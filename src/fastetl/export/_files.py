"""Writing one export file crash-safely: under a temporary name beside it, renamed
over the destination only when the whole file is written (the output set's own
temporary names, lock and rename: :mod:`fastetl.outset`)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

from .. import outset
from ..errors import OutputError


@contextlib.contextmanager
def atomic_output(dest: Path, renamed: Callable[[], None] | None = None) -> Iterator[Path]:
    """Yields the temporary path to write (empty, created exclusively); on a clean
    exit it is synced and renamed to ``dest``; on any error it is removed and ``dest``
    is left as it was.  One writer per ``dest`` at a time (its lock).  ``renamed()``,
    if given, is called once the rename has happened, the lock still held (also when
    an interrupt came just after the rename, before the interrupt goes on)."""
    if dest.is_dir():
        raise OutputError(f"{dest} is a directory; give the path of the file to write")
    folder = dest.parent if str(dest.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(f"cannot write {dest}: folder {folder} does not exist")
    with outset.OutputLock(dest).acquire(False):
        outset.remove(outset.leftovers(dest))  # what dead exports left (the lock proves it)
        tmp, fd = outset.create_temp(dest, outset.new_run_id())
        try:
            yield tmp
            os.fsync(fd)
            closing, fd = fd, -1  # (never closed twice: an interrupt may land between)
            os.close(closing)
            os.replace(tmp, dest)
            if renamed is not None:
                renamed()
            outset.fsync_dir(folder)
        except BaseException:
            if fd >= 0:
                os.close(fd)
            elif renamed is not None and not os.path.lexists(tmp):  # (it was renamed)
                renamed()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise


class EarlySync:
    """Puts what is written to ``out`` on disk on a helper thread while the caller goes
    on encoding and writing (:meth:`kick` after each part), so the fsync that commits
    the file (:func:`atomic_output`) waits only for its last part.  :meth:`close` waits
    for the sync in flight."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="fastetl-sync")
        self.pending: Future[None] | None = None

    def kick(self) -> None:
        if self.pending is not None and not self.pending.done():
            return  # (the next kick syncs what this one would)
        if self.pending is not None:
            self.pending.result()
        self.out.flush()
        self.pending = self.pool.submit(getattr(os, "fdatasync", os.fsync), self.out.fileno())

    def close(self) -> None:
        try:
            if self.pending is not None:
                self.pending.result()
        finally:
            self.pool.shutdown()
