"""The output set: one writer per output, temporary files, an all-or-nothing commit.

A conversion into ``OUT`` writes up to four files that belong together: ``OUT``
(the ``.npy``), ``OUT.json`` (its sidecar) and, under ``on_error="reject"``, the
rejects file and its reasons.  This module keeps them a set:

* **One writer.**  :class:`OutputLock` holds an OS lock (``flock``, or
  ``LockFileEx`` through ``msvcrt.locking`` on Windows) on ``.OUT.fastetl-lock``
  beside ``OUT`` for the whole run.  The lock file holds no data and may stay;
  ``OUT`` itself is replaced by rename, so it cannot be the lock.  Holding the
  lock proves that no other run into ``OUT`` is alive, so the holder may remove
  what dead runs left behind (:func:`leftovers`).
* **Temporary names** are tied to their final name and to the run
  (``.NAME.fastetl-RUNID.part``), created exclusively (``O_EXCL``, never through
  a link) in the destination folder with the mode a new file gets under the
  umask (:func:`create_temp`).
* **The commit** (:func:`commit_set`) first writes a journal that lists every
  rename (the commit point: before it, a failure leaves the previous set and the
  run removes its temporary files; after it the set is decided), then renames,
  then removes the journal.  A run that finds a journal (the previous one died
  during its renames) completes it first (:func:`recover`): readers never decode
  records with another run's sidecar, since the sidecar names the exact ``.npy``
  it describes (:mod:`fastetl.store`, ``pair``).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import re
import secrets
import socket
import stat
import sys
import time
from pathlib import Path
from typing import Any

from .errors import OutputError

JOURNAL_FORMAT = 1
_O_BINARY = getattr(os, "O_BINARY", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_TEMP_RE = r"\.fastetl-[0-9a-f]{16}\.part"
# what earlier builds left: mkstemp's ".NAME.XXXXXXXX.part" and a fixed partial name
_OLD_TEMP_RE = r"\.[a-z0-9_]{8}\.part|\.fastetl-partial"


def new_run_id() -> str:
    """A random id for one run; it names the run's temporary files."""
    return secrets.token_hex(8)


def temp_path(final: Path, run: str) -> Path:
    """Where run ``run`` writes ``final`` before the commit."""
    return final.with_name(f".{final.name}.fastetl-{run}.part")


def is_temp_of(path: Path, final: Path) -> bool:
    """Whether ``path`` is the name of a temporary file of ``final`` (of any run)."""
    pattern = rf"\.{re.escape(final.name)}{_TEMP_RE}"
    return path.parent == final.parent and re.fullmatch(pattern, path.name) is not None


def lock_path(target: Path) -> Path:
    return target.with_name(f".{target.name}.fastetl-lock")


def journal_path(target: Path) -> Path:
    return target.with_name(f".{target.name}.fastetl-commit.json")


def checkpoint_path(target: str | os.PathLike[str]) -> Path:
    """Where a resumable conversion into ``target`` keeps its last checkpoint."""
    p = Path(target)
    return p.with_name(f".{p.name}.fastetl-checkpoint.json")


def _umask() -> int:
    """The process umask (read without changing it where the OS can say)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # one short-lived change, where /proc cannot tell
    os.umask(mask)
    return mask


def file_mode(final: Path) -> int:
    """The mode the file at ``final`` should get: the mode of the file it replaces,
    else what a new file gets under the umask (0666 less the umask)."""
    try:
        st = os.stat(final)
        if stat.S_ISREG(st.st_mode):
            return stat.S_IMODE(st.st_mode)
    except OSError:
        pass
    return 0o666 & ~_umask()


def create_temp(final: Path, run: str) -> tuple[Path, int]:
    """Create ``final``'s temporary file for ``run``, exclusively and never through a
    link, with :func:`file_mode`.  Returns (path, open read-write descriptor)."""
    path = temp_path(final, run)
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_CLOEXEC | _O_BINARY
    try:
        fd = os.open(path, flags, 0o600)
    except OSError as e:
        raise OutputError(f"cannot create {path}: {e.strerror or e}") from None
    except BaseException:
        # Ctrl-C or SIGTERM is raised as the call returns, maybe after the file was made;
        # with O_EXCL and a name of this run's own, a file there now is ours
        _unlink(path)
        raise
    try:
        mode = file_mode(final)
        if hasattr(os, "fchmod"):
            os.fchmod(fd, mode)
        else:  # pragma: no cover - Windows: only the read-only bit means anything
            os.chmod(path, mode)
    except BaseException:  # (a Ctrl-C or SIGTERM here too: the caller never sees the file)
        os.close(fd)
        _unlink(path)
        raise
    return path, fd


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def fsync_dir(folder: Path) -> None:
    """Make renames in ``folder`` durable (POSIX only: Windows cannot open folders)."""
    if sys.platform == "win32":
        return
    try:
        fd = os.open(folder if str(folder) else ".", os.O_RDONLY)
    except OSError:  # pragma: no cover
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems refuse
        pass
    finally:
        os.close(fd)


def write_json_atomic(path: Path, doc: dict[str, Any], run: str | None = None) -> None:
    """Replace ``path`` with ``doc`` so that a crash leaves the old or the new file whole."""
    tmp, fd = create_temp(path, run or new_run_id())
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, indent=1, ensure_ascii=False)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        _unlink(tmp)
        raise


# -- one writer ----------------------------------------------------------------------


class OutputLock:
    """The lock of one output, held from :meth:`acquire` to :meth:`release`.

    ``wait``: False fails at once when another run holds it (an :class:`OutputError`
    naming that run); True waits for it; a number waits that many seconds at most.
    """

    def __init__(self, target: str | os.PathLike[str]) -> None:
        self.target = Path(target)
        self.path = lock_path(self.target)
        self._fd: int | None = None

    def acquire(self, wait: bool | float = False) -> OutputLock:
        deadline = None if wait is True else time.monotonic() + float(wait or 0)
        while True:
            fd = self._open()
            try:
                if self._try_lock(fd, block=deadline is None):
                    if self._same_file(fd):  # not unlinked or replaced while we waited
                        self._fd = fd
                        self._describe_holder()
                        return self
                    os.close(fd)
                    continue
            except BaseException:
                os.close(fd)
                raise
            holder = self._holder(fd)
            os.close(fd)
            if deadline is not None and time.monotonic() >= deadline:
                raise OutputError(
                    f"{self.target} is being written by another fastetl run ({holder}); "
                    "try again when it has ended, or wait for it (--wait)"
                )
            time.sleep(0.05)

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                if sys.platform == "win32":  # pragma: no cover
                    import msvcrt

                    os.lseek(fd, 0, os.SEEK_SET)
                    msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
            finally:
                os.close(fd)  # (flock locks end with the descriptor)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> OutputLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def _open(self) -> int:
        flags = os.O_RDWR | os.O_CREAT | _O_NOFOLLOW | _O_CLOEXEC | _O_BINARY
        try:
            fd = os.open(self.path, flags, 0o666 & ~_umask())
        except OSError as e:
            raise OutputError(f"cannot lock {self.target}: {self.path}: {e.strerror or e}") from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise OutputError(f"cannot lock {self.target}: {self.path} is not a regular file")
        return fd

    @staticmethod
    def _try_lock(fd: int, block: bool) -> bool:
        if sys.platform == "win32":  # pragma: no cover - LockFileEx on the first byte
            import msvcrt

            os.lseek(fd, 0, os.SEEK_SET)
            try:
                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
                return True
            except OSError:
                if not block:
                    return False
                time.sleep(0.05)
                return False
        import fcntl

        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if block else fcntl.LOCK_NB))
            return True
        except BlockingIOError:
            return False

    def _same_file(self, fd: int) -> bool:
        try:
            a, b = os.fstat(fd), os.stat(self.path, follow_symlinks=False)
        except OSError:
            return False
        return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)

    def _describe_holder(self) -> None:
        """Say who holds the lock, for a run that finds it taken (best effort)."""
        assert self._fd is not None
        doc = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        }
        data = json.dumps(doc).encode("utf-8") + b"\n"
        try:
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, data, 0) if hasattr(os, "pwrite") else os.write(self._fd, data)
        except OSError:  # pragma: no cover - advice for others only
            pass

    @staticmethod
    def _holder(fd: int) -> str:
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            doc = json.loads(os.read(fd, 4096).decode("utf-8"))
            return f"pid {int(doc['pid'])} on {doc['host']}, since {doc['since']}"
        except (OSError, ValueError, KeyError, TypeError):
            return "a process that has not said which"


# -- the commit ------------------------------------------------------------------------


class CommitPending(OutputError):
    """The commit was recorded but not completed: the temporary files must stay (the
    next run into the output completes it)."""


class InterruptedAfterCommit(KeyboardInterrupt):
    """Ctrl-C (or SIGTERM, ``original``) arrived after the commit point: the renames
    were finished first, so the new output is whole and in place."""

    def __init__(self, original: KeyboardInterrupt) -> None:
        super().__init__("interrupted after the output was complete")
        self.original = original


def to_the_end(step: Any, *args: Any) -> KeyboardInterrupt | None:
    """Run the idempotent ``step`` to its end even when interrupts arrive meanwhile
    (each one restarts it); return the first interrupt, to be raised afterwards.
    Portable (no signal masks: Windows has none, and threads other than the main one
    get no signals anyway): what a clean-up must finish, e.g. after Ctrl-C twice."""
    late: KeyboardInterrupt | None = None
    while True:
        try:
            step(*args)
            return late
        except KeyboardInterrupt as e:
            late = late or e


def holds_json(path: Path, doc: dict[str, Any]) -> bool:
    """Whether ``path`` holds ``doc`` (as :func:`write_json_atomic` wrote it)."""
    try:
        return json.loads(path.read_text(encoding="utf-8")) == json.loads(json.dumps(doc))
    except (OSError, ValueError):
        return False


def commit_set(target: Path, renames: list[tuple[Path, Path]]) -> None:
    """Move every temporary file onto its final name, all or nothing.

    Every temporary file must be complete and synced.  The journal written first is
    the commit point: an error before it is an :class:`OutputError` and nothing was
    renamed; an error after it is a :class:`CommitPending`, and the next run into
    ``target`` (:func:`recover`) completes the renames.  An interrupt after the
    commit point does not stop the renames: they finish, then
    :class:`InterruptedAfterCommit` is raised."""
    journal = journal_path(target)
    doc = {"format": JOURNAL_FORMAT, "renames": [[str(a), str(b)] for a, b in renames]}
    late: KeyboardInterrupt | None = None
    try:
        write_json_atomic(journal, doc)
    except OSError as e:
        raise OutputError(f"cannot write {journal}: {e.strerror or e}") from None
    except KeyboardInterrupt as e:
        # between the journal's rename and our return: the commit point was passed
        holds: list[bool] = []
        to_the_end(lambda: holds.append(holds_json(journal, doc)))
        if not holds[-1]:
            raise
        late = e
    late = to_the_end(_roll_forward, journal, renames) or late
    if late is not None:
        raise InterruptedAfterCommit(late)


def renamed(renames: list[tuple[Path, Path]] | None) -> bool:
    """Whether :func:`commit_set` of ``renames`` got past its commit point and finished:
    none of their temporary files is left.  (A caller interrupted just after it
    returned, before noting so, asks the files.)"""
    if not renames:
        return False
    return not any(os.path.lexists(tmp) for tmp, _ in renames)


def _roll_forward(journal: Path, renames: list[tuple[Path, Path]]) -> None:
    """The renames of a recorded commit; safe to run again after any interruption."""
    fsync_dir(journal.parent)
    folders = {journal.parent} | {final.parent for _, final in renames}
    for tmp, final in renames:
        if os.path.lexists(tmp):
            try:
                os.replace(tmp, final)
            except OSError as e:
                raise CommitPending(
                    f"cannot write {final}: {e.strerror or e} (the commit is recorded in "
                    f"{journal.name}; the next run into this output completes it)"
                ) from None
    for folder in folders:
        fsync_dir(folder)
    _unlink(journal)
    fsync_dir(journal.parent)


def recover(target: Path) -> bool:
    """Complete the commit of a run into ``target`` that died during its renames.
    Call it holding the lock.  True when there was one."""
    journal = journal_path(target)
    try:
        if not stat.S_ISREG(os.lstat(journal).st_mode):
            raise OutputError(
                f"{journal} is not a regular file, so not a commit record of fastetl; "
                "remove it and convert again"
            )
        doc = json.loads(journal.read_text(encoding="utf-8"))
        renames = [(Path(a), Path(b)) for a, b in doc["renames"]]
        if doc.get("format") != JOURNAL_FORMAT:
            raise ValueError(f"format {doc.get('format')!r}")
    except FileNotFoundError:
        return False
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise OutputError(
            f"cannot read {journal}, the commit record of an earlier run into {target}: {e}; "
            "move it away and convert again"
        ) from None
    late = to_the_end(_roll_forward, journal, renames)
    if late is not None:
        raise InterruptedAfterCommit(late)
    return True


# -- leftovers ---------------------------------------------------------------------------


def leftovers(final: Path, keep: set[Path] | None = None) -> list[Path]:
    """Temporary files of dead runs into ``final`` (call it holding the lock)."""
    folder = final.parent if str(final.parent) else Path(".")
    pattern = re.compile(rf"\.{re.escape(final.name)}(?:{_TEMP_RE}|{_OLD_TEMP_RE})\Z")
    keep = keep or set()
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    return sorted(folder / n for n in names if pattern.match(n) and folder / n not in keep)


def remove(paths: list[Path]) -> int:
    """Remove ``paths``; the bytes they held."""
    freed = 0
    for p in paths:
        try:
            freed += os.lstat(p).st_size
            os.unlink(p)
        except FileNotFoundError:
            pass
        except OSError as e:
            raise OutputError(f"cannot remove {p}, left by an earlier run: {e.strerror or e}") from None
    return freed


def remove_run(finals: list[Path], run: str) -> None:
    """Remove what exists of run ``run``'s temporary files of ``finals`` (an abort:
    nothing raises)."""
    for final in finals:
        with contextlib.suppress(OSError):
            os.unlink(temp_path(final, run))


def try_recover(target: Path) -> bool:
    """For a reader: complete a pending commit into ``target`` if no run holds its lock
    now (else that run will).  True when it completed one."""
    if not os.path.lexists(journal_path(target)):
        return False
    lock = OutputLock(target)
    try:
        lock.acquire(wait=False)
    except OutputError:
        return False
    try:
        return recover(target)
    finally:
        lock.release()
