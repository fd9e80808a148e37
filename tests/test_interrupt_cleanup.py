"""A second interrupt during an interrupt's own clean-up (Ctrl-C twice, or SIGTERM after
SIGINT): the clean-up still runs to its end, on the local path and the Dask path alike.

The first interrupt is raised by a step of the run (a patched call), the second just
before one statement of the clean-up (each one in turn: ``interrupt_at``).  What is left
is checked against an uninterrupted conversion, and so is what a later ``resume=True``
and ``append=True`` run makes of it (a checkpoint left behind by a committed run sent a
resume into a missing partial file: "cannot write in DIR: No such file or directory").
"""

from __future__ import annotations

import json
import signal

import numpy as np
import pytest

import fastetl
from fastetl import api, errors, signals
from fastetl.outset import checkpoint_path
from reference import interrupt_at
from test_resume import SCHEMA, _files, _hidden, _reference, inputs  # noqa: F401


@pytest.fixture
def sigterm_kept():
    """SIGTERM handled by the test process itself: ``sigterm_as_interrupt`` then leaves it
    alone, and a ``Terminated`` raised here does not end pytest."""
    old = signal.signal(signal.SIGTERM, lambda *a: None)
    yield
    signal.signal(signal.SIGTERM, old)


def _raise_after(monkeypatch, owner, name, exc, when=lambda: True):
    """Make ``owner.name`` raise ``exc`` once, after the real call returned (and ``when()``)."""
    real = getattr(owner, name)
    done: list[bool] = []

    def patched(*args, **kwargs):
        out = real(*args, **kwargs)
        if not done and when():
            done.append(True)
            raise exc
        return out

    monkeypatch.setattr(owner, name, patched)
    return done


# Before the handler's first call (``to_the_end``) a second interrupt escapes it: the
# files are left as a kill at that point leaves them, and the next run reads them right.
WINDOW = "late = outset.to_the_end(wind_up)"


def _check_after(src, dst, tmp_path, on_error, stale=False):
    """The output set is an uninterrupted conversion's, nothing of the run is left (but
    the ``stale`` checkpoint of a committed run), and a resume (nothing to take up: it
    converts again) and an append give what they should."""
    ref = _reference(src, tmp_path / "ref", on_error)
    assert _files(dst.parent) == ref
    assert _hidden(dst.parent) == ([checkpoint_path(dst).name] if stale else [])
    r = fastetl.convert(src, dst, SCHEMA, on_error=on_error, resume=True)
    assert r.resumed_at is None and _files(dst.parent) == ref
    assert not checkpoint_path(dst).exists()
    before = np.load(dst)
    fastetl.convert(src, dst, SCHEMA, on_error=on_error, append=True)
    after = np.load(dst)
    assert after.tobytes() == np.concatenate([before, before]).tobytes()
    assert _hidden(dst.parent) == []


# the statements of the committed branch of the handler (in api._convert_locked), and
# after it: a second interrupt just before each one
COMMITTED = [
    (WINDOW, 1),
    ("if committed or outset.renamed(renames)", 1),
    ("wound.append((None, True))", 1),
    ("rows, whole = wound[0]", 1),
    ("                    land()", 1),
    ("remove_checkpoint(dst_path)  # (else", 1),
    ("rows, whole = wound[0]", 2),
    ("terminated = _terminated(e) or", 1),
    ("raise Interrupted(rows, terminated", 1),
]


@pytest.mark.parametrize("marker, nth", COMMITTED)
@pytest.mark.parametrize("second", [KeyboardInterrupt, signals.Terminated])
def test_a_second_interrupt_after_the_commit_leaves_no_stale_checkpoint(
    inputs, tmp_path, monkeypatch, sigterm_kept, marker, nth, second
):
    """Ctrl-C after the commit (as the checkpoint is removed), then Ctrl-C or SIGTERM as
    the handler lands the run: ``Interrupted`` says the output holds all of it, and the
    checkpoint is gone (a later resume took it up and failed on the missing partial)."""
    (tmp_path / "run").mkdir()
    dst = tmp_path / "run" / "o.npy"
    real, first = api.remove_checkpoint, []

    def remove_checkpoint(target):  # (Ctrl-C as its second call, after the commit, starts:
        if len(first) == 1:  # the first removed a stale one before the run)
            first.append(True)
            raise KeyboardInterrupt
        first.append(False)
        real(target)

    monkeypatch.setattr(api, "remove_checkpoint", remove_checkpoint)
    with interrupt_at(api._convert_locked, marker, nth, exc=second) as raised:
        with pytest.raises(KeyboardInterrupt) as e:
            fastetl.convert(inputs["dirty"], dst, SCHEMA, on_error="reject",
                            checkpoint_every=0.0)  # fmt: skip
    monkeypatch.undo()
    assert first[1] and raised
    assert type(e.value) is fastetl.Interrupted
    assert e.value.committed and e.value.resume_rows is None
    # (a SIGTERM after the Ctrl-C ends the process by SIGTERM, where the test does not
    # keep SIGTERM itself)
    assert e.value.terminated is (second is signals.Terminated)
    assert e.value.__cause__ is None and e.value.__suppress_context__  # (one line)
    _check_after(inputs["dirty"], dst, tmp_path, "reject", stale=marker == WINDOW)


ABORT = [
    (WINDOW, 1, api._convert_locked),
    ("kept = (ckpt.kept()", 1, api._convert_locked),
    ("wound.append((None, False))", 1, api._convert_locked),
    ("_abort(writer, sink, dst_path, run_id, rejects_path)", 1, api._convert_locked),
    ("sink.abort()", 1, api._abort),
    ("writer.abort()", 1, api._abort),
    ("remove_checkpoint(dst)", 1, api._abort),
    ("outset.remove_run(", 1, api._abort),
    ("rows, whole = wound[0]", 2, api._convert_locked),
]


@pytest.mark.parametrize("marker, nth, func", ABORT)
def test_a_second_interrupt_as_the_run_is_aborted_leaves_nothing(
    inputs, tmp_path, monkeypatch, marker, nth, func
):
    """Ctrl-C as the records file is finished (it cannot be resumed: the run aborts),
    then Ctrl-C again at each step of the abort: the earlier output is as it was, and
    neither the run's partial files nor its checkpoint are left."""
    (tmp_path / "run").mkdir()
    dst = tmp_path / "run" / "o.npy"
    fastetl.convert(inputs["clean"], dst, SCHEMA, on_error="reject")
    before = _files(tmp_path / "run")
    first = _raise_after(monkeypatch, api.NpyWriter, "finish", KeyboardInterrupt)
    with interrupt_at(func, marker, nth) as raised:
        with pytest.raises(KeyboardInterrupt) as e:
            fastetl.convert(inputs["dirty"], dst, SCHEMA, on_error="reject",
                            checkpoint_every=0.0)  # fmt: skip
    monkeypatch.undo()
    assert first and raised
    assert type(e.value) is fastetl.Interrupted
    assert not e.value.committed and e.value.resume_rows is None
    assert _files(tmp_path / "run") == before
    if marker == WINDOW:  # the checkpoint and the finished records file, as a kill
        # leaves them as the file is finished: not taken up, one line says so
        with pytest.raises(errors.OutputError, match="does not match the checkpoint"):
            fastetl.convert(inputs["dirty"], dst, SCHEMA, on_error="reject", resume=True)
    else:
        assert _hidden(tmp_path / "run") == []
    ref = _reference(inputs["dirty"], tmp_path / "ref", "reject")
    fastetl.convert(inputs["dirty"], dst, SCHEMA, on_error="reject", resume=True)
    assert _files(tmp_path / "run") == ref
    assert _hidden(tmp_path / "run") == []  # (what a kill left: removed by the next run)


DETACH = [
    (WINDOW, 1),
    ("kept = (ckpt.kept()", 1),
    ("wound.append((kept.rows, False))", 1),
    ("                        writer.detach()", 1),
    ("                        sink.detach()", 1),
    ("rows, whole = wound[0]", 2),
]


@pytest.mark.parametrize("marker, nth", DETACH)
def test_a_second_interrupt_as_the_partial_files_are_kept_keeps_them_for_resume(
    inputs, tmp_path, monkeypatch, marker, nth
):
    """Ctrl-C part way (after a checkpoint), then Ctrl-C again as the partial files are
    kept: ``resume_rows`` is the checkpoint's, and resume=True gives the files of an
    uninterrupted run."""
    (tmp_path / "run").mkdir()
    dst = tmp_path / "run" / "o.npy"

    def progress(done, total):
        if checkpoint_path(dst).exists():
            raise KeyboardInterrupt

    with interrupt_at(api._convert_locked, marker, nth) as raised:
        with pytest.raises(KeyboardInterrupt) as e:
            fastetl.convert(inputs["dirty"], dst, SCHEMA, on_error="reject", workers=1,
                            block_size=1 << 16, checkpoint_every=0.0, progress=progress)  # fmt: skip
    assert raised
    assert type(e.value) is fastetl.Interrupted and not e.value.committed
    assert not dst.exists() and checkpoint_path(dst).exists()
    rows = json.loads(checkpoint_path(dst).read_text())["mark"]["rows"]
    # (before the handler's first call, and after its clean-up, the run does not say)
    said = None if (marker, nth) in [(WINDOW, 1), ("rows, whole = wound[0]", 2)] else rows
    assert e.value.resume_rows == said and rows > 0
    r = fastetl.convert(inputs["dirty"], dst, SCHEMA, on_error="reject", resume=True)
    assert r.resumed_at == rows
    assert _files(tmp_path / "run") == _reference(inputs["dirty"], tmp_path / "ref", "reject")
    assert _hidden(tmp_path / "run") == []


def test_a_checkpoint_left_by_a_committed_run_is_not_resumed(inputs, tmp_path):
    """A checkpoint whose partial file is gone (its run committed: the partial is the
    output now) has nothing to take up: resume=True converts the input again, as with
    no checkpoint, and removes it."""
    (tmp_path / "run").mkdir()
    dst = tmp_path / "run" / "o.npy"
    path = checkpoint_path(dst)
    real = api.remove_checkpoint
    kept: list[bytes] = []

    def remember(target):  # (the last checkpoint, as the run removes it after its commit)
        if path.exists():
            kept.append(path.read_bytes())
        real(target)

    api.remove_checkpoint = remember
    try:
        fastetl.convert(inputs["clean"], dst, SCHEMA, checkpoint_every=0.0)
    finally:
        api.remove_checkpoint = real
    path.write_bytes(kept[-1])  # what a run that died after its commit would leave
    r = fastetl.convert(inputs["clean"], dst, SCHEMA, resume=True)
    assert r.resumed_at is None and not path.exists()
    assert _files(tmp_path / "run") == _reference(inputs["clean"], tmp_path / "ref", "raise")


def test_an_interrupt_as_an_error_is_cleaned_up_keeps_the_error_as_its_cause(
    inputs, tmp_path, monkeypatch
):
    """Ctrl-C as the run aborts after an OutputError: ``Interrupted`` (the output is as it
    was) with that error as its cause, in the traceback; a plain Ctrl-C has none."""
    (tmp_path / "run").mkdir()
    dst = tmp_path / "run" / "o.npy"
    full = errors.OutputError(f"cannot write {dst}: No space left on device")

    def finish(self, meta):
        raise full

    monkeypatch.setattr(api.NpyWriter, "finish", finish)
    with interrupt_at(api._abort, "writer.abort()") as raised:
        with pytest.raises(KeyboardInterrupt) as e:
            fastetl.convert(inputs["clean"], dst, SCHEMA, checkpoint_every=0.0)
    assert raised and type(e.value) is fastetl.Interrupted
    assert str(e.value) == "interrupted; the output was not changed"
    assert e.value.__cause__ is full
    assert not dst.exists() and _hidden(tmp_path / "run") == []
    monkeypatch.undo()
    with interrupt_at(api._sidecar, None) as raised:  # a plain Ctrl-C: nothing to show
        with pytest.raises(KeyboardInterrupt) as e:
            fastetl.convert(inputs["clean"], dst, SCHEMA)
    assert raised and type(e.value) is fastetl.Interrupted
    assert e.value.__cause__ is None and e.value.__suppress_context__
