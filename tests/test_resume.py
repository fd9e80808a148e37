"""Checkpoints and resume: a conversion killed (SIGKILL) or interrupted (SIGINT) part way
resumes from its last checkpoint, and the result is byte-identical to a run that was
never stopped; a changed input or other options are refused.

The conversions run in real subprocesses that are really killed.  Each one holds (its
progress callback stops) once it reaches the state a test needs, a checkpoint of so
many rows, and says so: the test then kills it there, on any machine, with no sleep
and no race with the end of the run (reference.HOLD).
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import fastetl
from reference import (
    HOLD,
    SLOW_CLI,
    ctrl_c_when_held,
    held,
    interrupt_after_call,
    interrupt_at,
    listing,
)
from fastetl.outset import checkpoint_path

SCHEMA = {
    "columns": [
        {"name": "id", "type": "int64"},
        {"name": "kind", "type": "category"},
        {"name": "price", "type": "decimal", "scale": 2},
        {"name": "note", "type": "str", "width": 12},
        {"name": "day", "type": "date"},
    ]
}
ROWS = 300_000  # many blocks: a checkpoint part way, and work left after it

RUNNER = HOLD + r"""
import json, sys
import fastetl
src, dst, workers, on_error, resume, every = sys.argv[1:7]
r = fastetl.convert(src, dst, json.loads(sys.argv[7]), workers=int(workers), block_size=1 << 16,
                    on_error=on_error, resume=resume == "1", checkpoint_every=float(every),
                    progress=holding(dst, json.loads(sys.argv[8])))
print(r.resumed_at, r.rows, flush=True)
"""


def _partial(dst: Path) -> Path:
    """The partial records file that the checkpoint of a conversion into ``dst`` names."""
    return Path(json.loads(checkpoint_path(dst).read_text())["partial"])


def _hidden(folder: Path) -> list[str]:
    """Hidden files a run left in ``folder``, but the lock file (which may stay)."""
    return sorted(
        p.name for p in folder.iterdir() if p.name.startswith(".") and "fastetl-lock" not in p.name
    )


def _make_csv(path: Path, dirty: bool) -> None:
    lines = ["id,kind,price,note,day"]
    for i in range(ROWS):
        price = "x.y" if dirty and i % 997 == 5 else f"{i % 1000}.{i % 100:02d}"
        note = '"a, b"' if i % 7 == 0 else f"n{i % 5000}"
        lines.append(f"{i},k{i // 2500},{price},{note},2024-{1 + i % 12:02d}-{1 + i % 28:02d}")
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("resume-inputs")
    clean, dirty = d / "clean.csv", d / "dirty.csv"
    _make_csv(clean, False)
    _make_csv(dirty, True)
    with gzip.open(d / "dirty.csv.gz", "wb", compresslevel=1) as fh:
        fh.write(dirty.read_bytes())
    return {"clean": clean, "dirty": dirty, "gz": d / "dirty.csv.gz"}


def _start(src, dst, workers, on_error, resume=False, every=0.0, hold=None):
    """A conversion in a child; ``hold`` (see reference.HOLD): where it stops and says so."""
    args = [str(src), str(dst), str(workers), on_error, "1" if resume else "0", str(every)]
    return subprocess.Popen(
        [sys.executable, "-c", RUNNER, *args, json.dumps(SCHEMA), json.dumps(hold)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _start_held(src, dst, workers, on_error, min_rows: int = ROWS // 10) -> tuple:
    """A conversion in a child, held once its checkpoint has ``min_rows``: (child, checkpoint)."""
    proc = _start(src, dst, workers, on_error, hold=["checkpoint", "rows", min_rows])
    held(proc)
    return proc, json.loads(checkpoint_path(dst).read_text())


def _reference(src, folder: Path, on_error: str) -> dict[str, bytes]:
    """The files of an uninterrupted conversion (same output name, another folder)."""
    folder.mkdir()
    fastetl.convert(src, folder / "o.npy", SCHEMA, on_error=on_error, workers=1)
    return _files(folder)


def _files(folder: Path) -> dict[str, bytes]:
    out = {}
    for p in sorted(folder.iterdir()):
        if p.name.startswith("."):  # a run's hidden partial files: checked on their own
            continue
        data = p.read_bytes()
        if p.name == "o.npy.json":  # the sidecar says when it was made: leave that out
            meta = json.loads(data)
            meta.pop("created")
            # (and the run's lineage: its times, run id and options; its content hash,
            # of the whole input even when resumed, is compared with the rest)
            meta.pop("lineage")
            data = json.dumps(meta, sort_keys=True).encode()
        out[p.name] = data
    return out


@pytest.mark.parametrize(
    "which,workers,on_error",
    [("dirty", 1, "reject"), ("dirty", 2, "reject"), ("clean", 2, "raise"), ("gz", 1, "skip")],
)
def test_kill_9_then_resume_is_byte_identical(tmp_path, inputs, which, workers, on_error):
    src = inputs[which]
    ref = _reference(src, tmp_path / "ref", on_error)
    run = tmp_path / "run"
    run.mkdir()
    dst = run / "o.npy"
    # a previous good output, which must survive the kill untouched
    fastetl.convert(b"id,kind,price,note,day\n1,a,1.00,x,2020-01-01\n", dst, SCHEMA)
    old = _files(run)
    proc, doc = _start_held(src, dst, workers, on_error)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert _files(run) == old  # OUT and its sidecar as they were (hidden partials aside)
    assert _partial(dst).exists()
    rep = fastetl.convert(src, dst, SCHEMA, on_error=on_error, workers=workers, resume=True)
    assert rep.resumed_at is not None and rep.resumed_at >= doc["mark"]["rows"]
    assert rep.resumed_at < rep.rows
    assert _files(run) == ref
    assert _hidden(run) == []


def test_ctrl_c_keeps_a_partial_that_the_cli_resumes(tmp_path, inputs):
    src = inputs["dirty"]
    ref = _reference(src, tmp_path / "ref", "reject")
    run = tmp_path / "run"
    run.mkdir()
    dst = run / "o.npy"
    proc, _ = _start_held(src, dst, 2, "reject")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode != 0 and "Interrupted" in err and "resume to continue" in err
    assert not dst.exists()
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps(SCHEMA))
    p = subprocess.run(
        [sys.executable, "-m", "fastetl", "convert", str(src), str(dst), "--schema", str(schema),
         "--on-error", "reject", "--resume"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert "resumed after" in p.stdout
    assert _files(run) == ref


def test_cli_ctrl_c_says_how_to_resume(tmp_path, inputs):
    dst = tmp_path / "o.npy"
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps(SCHEMA))
    status, err = ctrl_c_when_held(
        SLOW_CLI, "convert", str(inputs["gz"]), str(dst), "--schema", str(schema),
        "--on-error", "skip", "--checkpoint-every", "0", "--block-size", "4096", "--workers", "1",
    )  # fmt: skip
    assert status == 130
    assert "--resume to continue after row" in err
    assert _partial(dst).exists() and not dst.exists()


def test_a_changed_input_is_refused(tmp_path, inputs):
    src = tmp_path / "in.csv"
    src.write_bytes(inputs["clean"].read_bytes())
    dst = tmp_path / "o.npy"
    proc, doc = _start_held(src, dst, 1, "raise")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    # same size and modification time, one digit changed before the checkpoint
    st = os.stat(src)
    data = bytearray(src.read_bytes())
    at = doc["mark"]["offset"] - 100
    while not chr(data[at]).isdigit():
        at -= 1
    data[at] = ord("7") if data[at] != ord("7") else ord("8")
    src.write_bytes(bytes(data))
    os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns))
    with pytest.raises(fastetl.InputError, match="has changed since the checkpoint"):
        fastetl.convert(src, dst, SCHEMA, resume=True)
    # a longer file is refused too
    with open(src, "ab") as fh:
        fh.write(b"999999,k,1.00,x,2020-01-01\n")
    with pytest.raises(fastetl.InputError, match="has changed"):
        fastetl.convert(src, dst, SCHEMA, resume=True)
    assert not dst.exists()
    # other options than the checkpoint's are refused
    with pytest.raises(fastetl.OutputError, match="another on_error"):
        fastetl.convert(src, dst, SCHEMA, resume=True, on_error="skip")
    # starting over (no resume) works, and clears the stale checkpoint
    rep = fastetl.convert(src, dst, SCHEMA)
    assert rep.rows == ROWS + 1 and rep.resumed_at is None
    assert _hidden(tmp_path) == []  # the stale checkpoint and partial files are gone


def test_resume_without_a_checkpoint_converts_from_the_start(tmp_path, inputs):
    dst = tmp_path / "o.npy"
    rep = fastetl.convert(inputs["clean"], dst, SCHEMA, resume=True)
    assert rep.resumed_at is None and rep.rows == ROWS
    assert not checkpoint_path(dst).exists()


def test_an_interrupt_before_any_checkpoint_leaves_nothing(tmp_path, inputs):
    dst = tmp_path / "o.npy"
    proc = _start(inputs["clean"], dst, 1, "raise", every=3600, hold="start")
    held(proc)  # part way through the first checkpoint's interval
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0 and "Interrupted" in err
    assert listing(tmp_path) == []


def test_an_interrupt_just_after_a_checkpoint_file_is_written_keeps_it(tmp_path, inputs):
    """An interrupt that lands after the checkpoint file was put in place, before the run
    noted it as saved (the window a signal hit in CI), still leaves that checkpoint
    resumable: the file on disk decides, and resume finishes with the same bytes."""
    from fastetl import resume as resume_module

    (tmp_path / "run").mkdir()
    dst = tmp_path / "run" / "o.npy"
    # the line of save() just after write_json_atomic returned
    with interrupt_at(resume_module.Checkpoints.save, "self.saved = mark") as raised:
        with pytest.raises(KeyboardInterrupt) as e:  # (a regression: not Interrupted)
            fastetl.convert(inputs["clean"], dst, SCHEMA, workers=1, block_size=1 << 16,
                            checkpoint_every=0.0)  # fmt: skip
    assert raised and isinstance(e.value, fastetl.Interrupted)
    doc = json.loads(checkpoint_path(dst).read_text())
    assert e.value.resume_rows == doc["mark"]["rows"] > 0
    assert _partial(dst).exists()
    rep = fastetl.convert(inputs["clean"], dst, SCHEMA, workers=1, block_size=1 << 16, resume=True)
    assert rep.resumed_at is not None and rep.rows == ROWS
    assert _files(tmp_path / "run") == _reference(inputs["clean"], tmp_path / "ref", "raise")


def test_an_interrupt_just_after_the_commit_says_the_output_is_whole(tmp_path, inputs):
    """An interrupt that lands after the commit renamed the set into place, before the run
    noted it as committed, is not taken for one before the commit: the run says the
    output holds all of it (not "resume to continue", nor "not changed"), and leaves no
    checkpoint naming partial files that were renamed away."""
    from fastetl import api

    (tmp_path / "run").mkdir()
    dst = tmp_path / "run" / "o.npy"
    # the line just after outset.commit_set returned
    with interrupt_at(api._convert_locked, "committed = True", nth=2) as raised:
        with pytest.raises(KeyboardInterrupt) as e:  # (a regression: not Interrupted)
            fastetl.convert(inputs["dirty"], dst, SCHEMA, workers=2, block_size=1 << 16,
                            on_error="reject", checkpoint_every=0.0)  # fmt: skip
    assert raised and isinstance(e.value, fastetl.Interrupted)
    assert e.value.committed and e.value.resume_rows is None
    assert _hidden(tmp_path / "run") == []  # no checkpoint, no temporary file
    assert _files(tmp_path / "run") == _reference(inputs["dirty"], tmp_path / "ref", "reject")


def _interrupted_run(src, dst: Path, on_error: str, after: int = 3) -> dict:
    """Convert ``src`` into ``dst`` in this process, interrupted (as Ctrl-C does) at the
    progress call after ``after`` checkpoints; returns the checkpoint left."""
    calls = []

    def progress(done, total):
        calls.append(done)
        if len(calls) == after:
            raise KeyboardInterrupt

    with pytest.raises(fastetl.Interrupted):
        fastetl.convert(src, dst, SCHEMA, workers=1, block_size=1 << 16, on_error=on_error,
                        checkpoint_every=0.0, progress=progress)  # fmt: skip
    return json.loads(checkpoint_path(dst).read_text())


@pytest.mark.parametrize(
    "where",
    [("NpyWriter._take_up", "self.rows = rows"),
     ("RejectsWriter.__init__", 'self.count = resume["count"]')],  # fmt: skip
)
def test_an_interrupt_as_a_resume_takes_up_the_partial_files_keeps_them(tmp_path, inputs, where):
    """Ctrl-C or SIGTERM while a resumed run takes up the interrupted run's files (the
    records', the rejects'): they and the checkpoint stay, the run says it can be resumed
    again, and the next resume ends with the bytes of an uninterrupted run.  (They were
    removed as a failed run's own temporaries: the work since the start was lost.)"""
    from fastetl import store

    cls, name = where[0].split(".")
    func = getattr(getattr(store, cls), name)
    (tmp_path / "run").mkdir()
    dst = tmp_path / "run" / "o.npy"
    doc = _interrupted_run(inputs["dirty"], dst, "reject")
    kept = sorted(p.name for p in (tmp_path / "run").iterdir())
    with interrupt_at(func, where[1]) as raised:
        with pytest.raises(KeyboardInterrupt) as e:  # (a regression: not Interrupted)
            fastetl.convert(inputs["dirty"], dst, SCHEMA, workers=1, block_size=1 << 16,
                            on_error="reject", resume=True)  # fmt: skip
    assert raised and isinstance(e.value, fastetl.Interrupted)
    assert e.value.resume_rows == doc["mark"]["rows"] > 0
    assert json.loads(checkpoint_path(dst).read_text()) == doc
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == kept
    rep = fastetl.convert(inputs["dirty"], dst, SCHEMA, workers=1, block_size=1 << 16,
                          on_error="reject", resume=True)  # fmt: skip
    assert rep.resumed_at == doc["mark"]["rows"]
    assert _files(tmp_path / "run") == _reference(inputs["dirty"], tmp_path / "ref", "reject")
    assert _hidden(tmp_path / "run") == []


@pytest.mark.parametrize("which", ["NpyWriter", "RejectsWriter", "_TextFile"])
def test_an_interrupt_just_after_a_writer_made_its_files_leaves_nothing(tmp_path, which):
    """Ctrl-C or SIGTERM as a writer's constructor returns, before the run holds the
    writer: its temporary files (records, rejects and reasons, text) are removed all the
    same (by their run's name), and the output is as it was."""
    from fastetl import store

    schema = {"columns": [*SCHEMA["columns"][:3], {"name": "note", "type": "text"}]}
    data = b"id,kind,price,note\n1,a,1.00,x\n2,b,oops,y\n"
    dst = tmp_path / "o.npy"
    fastetl.convert(b"id,kind,price,note\n0,z,0.00,w\n", dst, schema)
    before = _all_files(tmp_path)
    with interrupt_at(getattr(store, which).__init__, None) as raised:
        with pytest.raises(KeyboardInterrupt) as e:  # (a regression: not Interrupted)
            fastetl.convert(data, dst, schema, on_error="reject")
    assert raised and isinstance(e.value, fastetl.Interrupted)
    assert e.value.resume_rows is None and not e.value.committed
    assert _all_files(tmp_path) == before


def _all_files(folder: Path) -> dict[str, bytes]:
    """Every file in ``folder`` (hidden ones too) with its bytes, but the lock file."""
    return {n: (folder / n).read_bytes() for n in listing(folder)}


@pytest.mark.parametrize(
    "where", ["resume.Checkpoints.close", "outset.OutputLock.release", "cli.ProgressBar.close"]
)
def test_an_interrupt_after_the_commit_says_the_output_is_whole(tmp_path, inputs, where, capsys):
    """Ctrl-C or SIGTERM after the commit, as the run lets go of its checkpoint's thread,
    of the output's lock, or as the CLI reports: the output holds the whole conversion,
    and the run says so (it said "the output was not changed")."""
    import importlib

    from fastetl import cli

    module, cls, name = where.split(".")
    func = getattr(getattr(importlib.import_module(f"fastetl.{module}"), cls), name)
    (tmp_path / "run").mkdir()
    dst = tmp_path / "run" / "o.npy"
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps(SCHEMA))
    with interrupt_at(func, None) as raised:
        if module == "cli":  # the CLI's own main(), in this process (its bar: --progress)
            try:
                code = cli.main(["convert", str(inputs["clean"]), str(dst), "--schema",
                                 str(schema), "--progress", "--checkpoint-every", "0"])  # fmt: skip
            finally:  # (main sets a SIGTERM handler for the process it ends)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
        else:
            with pytest.raises(KeyboardInterrupt) as e:  # (a regression: not Interrupted)
                fastetl.convert(inputs["clean"], dst, SCHEMA, checkpoint_every=0.0)
    assert raised
    if module == "cli":
        assert code == 130
        err = capsys.readouterr().err.splitlines()[-1]
        assert err == "fastetl: interrupted after the conversion was complete: the output holds all of it"
    else:
        assert isinstance(e.value, fastetl.Interrupted)
        assert e.value.committed and e.value.resume_rows is None
    assert _hidden(tmp_path / "run") == []
    assert _files(tmp_path / "run") == _reference(inputs["clean"], tmp_path / "ref", "raise")


def test_an_interrupt_just_after_the_records_file_is_closed_closes_nothing_else(tmp_path):
    """Ctrl-C or SIGTERM just after the finished records file was closed: the abort that
    follows closes no descriptor again (by then the number may be another thread's file,
    opened meanwhile, as here), and removes the run's files."""
    from fastetl import store

    other = tmp_path / "other.txt"
    other.write_bytes(b"another thread's file\n")
    opened: list[int] = []
    dst = tmp_path / "o.npy"
    with interrupt_after_call(  # the number is free then, and taken here
        store._SyncedAhead._close_file,
        "close",
        lambda: opened.append(os.open(other, os.O_RDONLY)),
    ) as raised:
        with pytest.raises(KeyboardInterrupt) as e:
            fastetl.convert(b"id,kind,price,note,day\n1,a,1.00,x,2020-01-01\n", dst, SCHEMA)
    assert raised and isinstance(e.value, fastetl.Interrupted) and not e.value.committed
    try:
        assert os.read(opened[0], 100) == b"another thread's file\n"  # still open, still it
    finally:
        os.close(opened[0])
    assert listing(tmp_path) == ["other.txt"]


def test_an_interrupt_before_the_run_has_files_is_interrupted_and_keeps_the_checkpoint(
    tmp_path, inputs
):
    """Ctrl-C or SIGTERM before the run made a file of its own (as the input's schema is
    found, or as a resume checks its checkpoint against the input, which reads the input's
    prefix): ``Interrupted`` as anywhere else (it was a plain KeyboardInterrupt), nothing
    left, and a resume's checkpoint kept and offered again."""
    from fastetl import api
    from fastetl import resume as resume_module

    (tmp_path / "new").mkdir()
    with interrupt_at(api._resolve, None) as raised:
        with pytest.raises(KeyboardInterrupt) as e:  # (a regression: not Interrupted)
            fastetl.convert(inputs["clean"], tmp_path / "new" / "o.npy")
    assert raised and isinstance(e.value, fastetl.Interrupted)
    assert e.value.resume_rows is None and not e.value.committed
    assert listing(tmp_path / "new") == []

    (tmp_path / "run").mkdir()
    dst = tmp_path / "run" / "o.npy"
    doc = _interrupted_run(inputs["dirty"], dst, "reject")
    kept = _all_files(tmp_path / "run")
    with interrupt_at(resume_module.resume_point, None) as raised:
        with pytest.raises(KeyboardInterrupt) as e:  # (a regression: not Interrupted)
            fastetl.convert(inputs["dirty"], dst, SCHEMA, workers=1, block_size=1 << 16,
                            on_error="reject", resume=True)  # fmt: skip
    assert raised and isinstance(e.value, fastetl.Interrupted)
    assert e.value.resume_rows == doc["mark"]["rows"] > 0
    assert _all_files(tmp_path / "run") == kept
    rep = fastetl.convert(inputs["dirty"], dst, SCHEMA, workers=1, block_size=1 << 16,
                          on_error="reject", resume=True)  # fmt: skip
    assert rep.resumed_at == doc["mark"]["rows"]
    assert _files(tmp_path / "run") == _reference(inputs["dirty"], tmp_path / "ref", "reject")


def test_an_interrupt_as_the_records_file_is_finished_offers_no_resume(tmp_path, inputs):
    """Once the records file is being finished (its header given the row count, or
    removed by the abort), the checkpoint cannot be resumed from: the run says the output
    was not changed and offers no resume, and leaves nothing; a resume=True run then
    converts from the start, to the bytes of one uninterrupted run."""
    from fastetl import store

    (tmp_path / "run").mkdir()
    dst = tmp_path / "run" / "o.npy"
    with interrupt_at(store.NpyWriter.finish, "os.fsync(self._fd)") as raised:
        with pytest.raises(fastetl.Interrupted) as e:
            fastetl.convert(inputs["clean"], dst, SCHEMA, workers=1, block_size=1 << 16,
                            checkpoint_every=0.0)  # fmt: skip
    assert raised and e.value.resume_rows is None and not e.value.committed
    assert "not changed" in str(e.value) and "resume" not in str(e.value)
    assert _hidden(tmp_path / "run") == [] and not dst.exists()
    rep = fastetl.convert(inputs["clean"], dst, SCHEMA, workers=1, block_size=1 << 16, resume=True)
    assert rep.resumed_at is None and rep.rows == ROWS
    assert _files(tmp_path / "run") == _reference(inputs["clean"], tmp_path / "ref", "raise")


# A conversion that dies (as by kill -9) after writing its commit journal, before its
# renames: its second os.replace is the first rename after the journal's own.
DIES_AFTER_THE_JOURNAL = r"""
import os, sys
import fastetl
replace, calls = os.replace, []
def dying(*a, **k):
    calls.append(1)
    if len(calls) == 2:
        os._exit(9)
    return replace(*a, **k)
os.replace = dying
fastetl.convert(sys.argv[1], sys.argv[2])
"""


def test_an_interrupt_as_an_earlier_commit_is_completed_says_so(tmp_path):
    """A run that completes an earlier run's unfinished commit (its journal) and is
    interrupted as those renames end says so: the output holds the earlier run's
    conversion, this one did not start (not "the output was not changed")."""
    from fastetl import outset

    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text("id,v\n1,2.5\n")
    b.write_text("id,v\n7,8.5\n9,1.5\n")
    dst = tmp_path / "o.npy"
    fastetl.convert(a, dst)
    child = subprocess.run([sys.executable, "-c", DIES_AFTER_THE_JOURNAL, str(b), str(dst)])
    assert child.returncode == 9 and outset.journal_path(dst).exists()
    with interrupt_at(outset._roll_forward, None) as raised:
        with pytest.raises(fastetl.Interrupted) as e:
            fastetl.convert(a, dst)
    assert raised and e.value.earlier and e.value.resume_rows is None
    assert "earlier run" in str(e.value) and "not changed" not in str(e.value)
    assert not outset.journal_path(dst).exists()
    with open(b, newline="") as fh:
        want = [(int(r["id"]), float(r["v"])) for r in csv.DictReader(fh)]
    t = fastetl.open(dst)
    assert list(zip(t["id"].tolist(), t["v"].tolist(), strict=True)) == want


def _open_fds(under: Path) -> list[str]:
    """The descriptors this process holds open on files under ``under`` (Linux: /proc)."""
    folder, found = "/proc/self/fd", []
    for n in os.listdir(folder):
        with contextlib.suppress(OSError):  # (the listing's own, closed by now)
            if os.readlink(f"{folder}/{n}").startswith(str(under)):
                found.append(f"{n}: {os.readlink(f'{folder}/{n}')}")
    return sorted(found)


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts descriptors in /proc")
@pytest.mark.parametrize("how", ["interrupted", "mismatch"])
def test_a_resume_that_stops_as_it_takes_up_the_text_file_closes_it(tmp_path, inputs, how):
    """A resumed run stopped while it takes up the interrupted run's text file (Ctrl-C as
    it checks the file, or a file that does not match its checkpoint): the descriptor it
    opened is closed (it leaked: the writer never held it), and the files stay as the
    checkpoint names them (interrupted: a later resume ends with an uninterrupted run's
    bytes)."""
    from fastetl import store

    schema = {"columns": [*SCHEMA["columns"][:3], {"name": "note", "type": "text"},
                          SCHEMA["columns"][4]]}  # fmt: skip
    (tmp_path / "run").mkdir()
    dst = tmp_path / "run" / "o.npy"
    calls = []

    def progress(done, total):
        calls.append(done)
        if len(calls) == 3:
            raise KeyboardInterrupt

    with pytest.raises(fastetl.Interrupted):
        fastetl.convert(inputs["clean"], dst, schema, workers=1, block_size=1 << 16,
                        checkpoint_every=0.0, progress=progress)  # fmt: skip
    doc = json.loads(checkpoint_path(dst).read_text())
    text_partial = Path(doc["text_partial"])
    assert doc["mark"]["rows"] > 0 and text_partial.exists()
    if how == "mismatch":
        text_partial.write_bytes(b"not the text file")
    kept = _all_files(tmp_path / "run")
    assert _open_fds(tmp_path) == []
    if how == "interrupted":
        with interrupt_at(store._TextFile.__init__, "self.length = keep") as raised:
            with pytest.raises(KeyboardInterrupt) as e:
                fastetl.convert(inputs["clean"], dst, schema, workers=1, block_size=1 << 16,
                                resume=True)  # fmt: skip
        assert raised and isinstance(e.value, fastetl.Interrupted)
        assert e.value.resume_rows == doc["mark"]["rows"]
    else:
        with pytest.raises(fastetl.OutputError, match="does not match the checkpoint"):
            fastetl.convert(inputs["clean"], dst, schema, workers=1, block_size=1 << 16,
                            resume=True)  # fmt: skip
    assert _open_fds(tmp_path) == []
    if how == "interrupted":
        assert _all_files(tmp_path / "run") == kept
        rep = fastetl.convert(inputs["clean"], dst, schema, workers=1, block_size=1 << 16,
                              resume=True)  # fmt: skip
        assert rep.resumed_at == doc["mark"]["rows"]
        ref = tmp_path / "ref" / "o.npy"
        ref.parent.mkdir()
        fastetl.convert(inputs["clean"], ref, schema, workers=1)
        got, want = _all_files(tmp_path / "run"), _all_files(tmp_path / "ref")
        assert sorted(got) == sorted(want) == ["o.npy", "o.npy.json", "o.text.npy"]
        assert got["o.npy"] == want["o.npy"] and got["o.text.npy"] == want["o.text.npy"]
