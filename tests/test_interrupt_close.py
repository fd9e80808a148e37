"""A second interrupt inside the callees of an interrupt's clean-up: the close of the
records file (``store._SyncedAhead._close_file``, run by ``NpyWriter.abort`` and
``NpyWriter.detach``), at each of its statements and just after each C ``close`` it
calls returned (where Python checks for signals, after the close and before anything
notes it).  The clean-up restarts it (``outset.to_the_end``): the descriptor must be
closed exactly once, so that none of the output's files is left open (``/proc/self/fd``).
(It used to forget the descriptor, then close it: Ctrl-C in between left it open until
exit, a deleted partial file's; on Windows its removal then fails.)"""

from __future__ import annotations

import inspect
import os
from pathlib import Path

import numpy as np
import pytest

import fastetl
from fastetl import outset, resume, store
from fastetl.outset import checkpoint_path
from reference import interrupt_after_call, interrupt_at
from test_resume import SCHEMA, _files, _hidden, _reference, inputs  # noqa: F401

# open descriptors are counted through /proc/self/fd: without it (macOS, Windows) only
# that check is left out, the rest of each test runs
PROC = os.path.isdir("/proc/self/fd")


def _statements(func):
    """The source lines of ``func``'s statements (its body, without the docstring)."""
    lines = inspect.getsource(func).splitlines()
    body = lines[1:]
    doc = inspect.getdoc(func)
    if doc is not None:  # (skip the docstring's lines)
        ends = [i for i, s in enumerate(body) if s.rstrip().endswith('"""')]
        body = body[ends[0] + 1 :]
    return [
        s for s in body
        if s.strip() and not s.strip().startswith("#") and s.strip() not in ("try:", "finally:")
    ]  # fmt: skip


CLOSE = store._SyncedAhead._close_file
# every statement of the close, and as the C close returns (None); then the statements
# of the writer's method that calls it in the clean-up
CLOSING = [(CLOSE, s) for s in _statements(CLOSE)] + [(CLOSE, None)]
W = store.NpyWriter
ABORT = CLOSING + [(W.abort, "self._stage = None"), (W.abort, "self._close_file()"),
                   (W.abort, "_remove_quietly(self.tmp_path")]  # fmt: skip
DETACH = CLOSING + [(W.detach, "self._stage = None"), (W.detach, "self._close_file()"),
                    (W.detach, "if self.textfile is not None:")]  # fmt: skip


def _ids(points):
    return [f"{f.__name__}:{(s or 'after close').strip()}" for f, s in points]


def _second(point):
    func, line = point
    if line is None:
        return interrupt_after_call(func, "close")
    # (the helper's call for the lock's release, not one of the run's before it)
    caller = LOCK.release if func is outset.clean_up_after else None
    return interrupt_at(func, line, caller=caller)


def _none_open_in(folder: Path) -> None:
    """This process holds nothing open in ``folder`` (removed files too), where /proc
    tells."""
    if PROC:
        assert _open_in(folder) == []


def _open_in(folder: Path) -> list[str]:
    """What this process holds open in ``folder`` (removed files too)."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # (the descriptor of the listing itself, closed by now)
            continue
        if target.startswith(str(folder)):
            found.append(target)
    return found


@pytest.mark.parametrize("point", ABORT, ids=_ids(ABORT))
def test_a_second_interrupt_as_the_records_file_is_closed_in_an_abort(
    inputs, tmp_path, point  # noqa: F811
):
    """Ctrl-C part way with no checkpoint (the run aborts), then Ctrl-C again as the
    records file is closed: nothing of the run is left, on disk or open."""
    folder = tmp_path / "run"
    folder.mkdir()
    dst = folder / "o.npy"

    def progress(done, total):
        raise KeyboardInterrupt

    with _second(point) as raised:
        with pytest.raises(KeyboardInterrupt) as e:
            fastetl.convert(inputs["dirty"], dst, SCHEMA, on_error="reject", workers=1,
                            block_size=1 << 16, progress=progress)  # fmt: skip
    assert raised
    assert type(e.value) is fastetl.Interrupted and e.value.resume_rows is None
    _none_open_in(folder)
    assert _files(folder) == {} and _hidden(folder) == []


@pytest.mark.parametrize("point", DETACH, ids=_ids(DETACH))
def test_a_second_interrupt_as_the_records_file_is_closed_to_be_resumed(
    inputs, tmp_path, point  # noqa: F811
):
    """Ctrl-C after a checkpoint (the partial files are kept), then Ctrl-C again as the
    records file is closed: the files are kept, none is left open, and a resume gives an
    uninterrupted run's output."""
    folder = tmp_path / "run"
    folder.mkdir()
    dst = folder / "o.npy"

    def progress(done, total):
        if checkpoint_path(dst).exists():
            raise KeyboardInterrupt

    with _second(point) as raised:
        with pytest.raises(KeyboardInterrupt) as e:
            fastetl.convert(inputs["dirty"], dst, SCHEMA, on_error="reject", workers=1,
                            block_size=1 << 16, checkpoint_every=0.0,
                            progress=progress)  # fmt: skip
    assert raised
    assert type(e.value) is fastetl.Interrupted and e.value.resume_rows
    _none_open_in(folder)
    r = fastetl.convert(inputs["dirty"], dst, SCHEMA, on_error="reject", resume=True)
    assert r.resumed_at == e.value.resume_rows
    assert _files(folder) == _reference(inputs["dirty"], tmp_path / "ref", "reject")
    assert _hidden(folder) == []


LOCK = outset.OutputLock
# (the statements of __exit__ and release after their first, which must be the calls that
# lead to the restartable step: Ctrl-C before it, as either is entered, is the window left
# -- the lock then goes when the lock object does; then the statements of the step that
# lets it go on POSIX, as its C close returns, and after it in the helper release ran)
LETTING_GO = [(f, s) for f in (LOCK.__exit__, LOCK.release) for s in _statements(f)[1:]] + [
    (LOCK._let_go, "fh = self._file"),
    (LOCK._let_go, "if fh is None or fh.closed:"),
    (LOCK._let_go, 'if sys.platform == "win32"'),
    (LOCK._let_go, "fh.close()"),
    (LOCK._let_go, None),
    (outset.clean_up_after, "if late is None:"),
]


@pytest.mark.parametrize("point", LETTING_GO, ids=_ids(LETTING_GO))
def test_an_interrupt_as_the_output_lock_is_let_go_lets_it_go(
    inputs, tmp_path, point  # noqa: F811
):
    """Ctrl-C as a finished conversion lets the output's lock go: the lock is let go all
    the same (the next run into the output, in the same program, found it "being written
    by another fastetl run": this one), and its descriptor is closed."""
    folder = tmp_path / "run"
    folder.mkdir()
    dst = folder / "o.npy"
    with _second(point) as raised:
        with pytest.raises(KeyboardInterrupt) as e:
            fastetl.convert(inputs["clean"], dst, SCHEMA)
    assert raised
    assert type(e.value) is fastetl.Interrupted and e.value.committed
    _none_open_in(folder)
    fastetl.convert(inputs["clean"], dst, SCHEMA, wait=False)
    assert _files(folder) == _reference(inputs["clean"], tmp_path / "ref", "raise")


HASH = resume.PrefixHash


@pytest.mark.parametrize("marker", ["self._stop = True", "self._thread.join()"])
def test_an_interrupt_as_the_input_hasher_is_closed_closes_the_input(tmp_path, marker):
    """Ctrl-C as the checkpoints' input hasher is closed (in the conversion's ``finally``,
    after the commit): its descriptor of the input is closed all the same (it was left
    open until exit)."""
    folder = tmp_path / "run"
    folder.mkdir()
    src = folder / "in.csv"
    src.write_bytes(b"a,b\n" + b"".join(b"%d,x%d\n" % (i, i) for i in range(200_000)))
    with interrupt_at(HASH.close, marker) as raised:
        with pytest.raises(KeyboardInterrupt) as e:
            fastetl.convert(src, folder / "o.npy", checkpoint_every=0.0, workers=1,
                            block_size=1 << 16)  # fmt: skip
    assert raised
    assert type(e.value) is fastetl.Interrupted and e.value.committed
    _none_open_in(folder)
    ref = fastetl.convert(src, tmp_path / "ref.npy")
    assert ref.rows == 200_000
    assert np.load(folder / "o.npy").tobytes() == np.load(tmp_path / "ref.npy").tobytes()


def test_the_output_lock_is_let_go_by_the_first_statement_of_its_release():
    """What the test above cannot reach: a Ctrl-C before the restartable step runs.  Only
    the entry of ``__exit__`` and ``release`` is left before it (statements before the
    step kept the lock until a gc cycle)."""
    assert _statements(LOCK.__exit__)[0].strip() == "self.release(exc[1])"
    first = _statements(LOCK.release)[0].strip()
    assert first == "clean_up_after(error, self._let_go)", first


def test_an_interrupt_as_the_lock_is_released_keeps_the_error_in_flight(tmp_path):
    """``release()`` in a ``finally`` as an error goes up (as ``outset.try_recover`` does),
    and Ctrl-C as the lock is let go: the lock goes, and the error stays in the traceback
    of the interrupt ("during handling"), though not as its cause (it caused nothing)."""
    dst = tmp_path / "o.npy"
    lock = outset.OutputLock(dst).acquire()
    failed = ValueError("the recovery failed")
    with interrupt_at(LOCK._let_go, "fh.close()") as raised:
        with pytest.raises(KeyboardInterrupt) as e:
            try:
                raise failed
            finally:
                lock.release()
    assert raised and not lock.held
    assert e.value.__cause__ is None
    assert e.value.__context__ is failed and not e.value.__suppress_context__
    outset.OutputLock(dst).acquire(wait=False).release()
