"""Writing one export file crash-safely: under a temporary name beside it, renamed
over the destination only when the whole file is written (the output set's own
temporary names, lock and rename: :mod:`fastetl.outset`)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from .. import outset
from ..errors import OutputError


@contextlib.contextmanager
def atomic_output(dest: Path) -> Iterator[Path]:
    """Yields the temporary path to write (empty, created exclusively); on a clean
    exit it is synced and renamed to ``dest``; on any error it is removed and ``dest``
    is left as it was.  One writer per ``dest`` at a time (its lock)."""
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
            os.close(fd)
            fd = -1
            os.replace(tmp, dest)
            outset.fsync_dir(folder)
        except BaseException:
            if fd >= 0:
                os.close(fd)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
