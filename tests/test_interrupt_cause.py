"""What an ``Interrupted`` names as its cause: the error whose clean-up the interrupt
interrupted (the error stays in the traceback: tests/test_interrupt_cleanup.py), and
nothing else.  An exception merely being handled somewhere up the stack when Ctrl-C
came is no cause: a ParseError the widening is handling as it finds the wider type, or
an error of the caller, who converts inside its own ``except`` block.  (Both were named
as the cause of a plain Ctrl-C: the traceback showed an error that had caused nothing.)"""

from __future__ import annotations

import errno

import pytest

import fastetl
from fastetl import api, infer, store
from reference import HOLD, ctrl_c_when_held, interrupt_at, listing

# integers where inference reads, and between them a value only a float holds: the first
# pass stops at it, and the widening finds the wider type as it handles that ParseError
_INTS = b"".join(b"%d,x%d\n" % (i, i) for i in range(20_000))
LATE_FLOAT = b"a,b\n" + _INTS + b"2.5,y\n" + _INTS


def _plain(e: pytest.ExceptionInfo) -> None:
    """``e`` is a plain interrupt's ``Interrupted``: one line, no cause, no context shown."""
    assert type(e.value) is fastetl.Interrupted
    assert str(e.value) == "interrupted; the output was not changed"
    assert e.value.__cause__ is None and e.value.__suppress_context__


def test_ctrl_c_as_a_widening_handles_a_parse_error_has_no_cause(tmp_path):
    src = tmp_path / "in.csv"
    src.write_bytes(LATE_FLOAT)
    dst = tmp_path / "o.npy"
    fastetl.convert(src, tmp_path / "ref.npy", infer_rows=100)  # (it does widen)
    assert fastetl.open(tmp_path / "ref.npy").schema.columns[0].type == "float64"
    with interrupt_at(infer.widen_for, None) as raised:
        with pytest.raises(KeyboardInterrupt) as e:
            fastetl.convert(src, dst, infer_rows=100)
    assert raised
    interrupt = e.value.__context__  # (Ctrl-C came as the ParseError was handled)
    assert type(interrupt) is KeyboardInterrupt
    assert isinstance(interrupt.__context__, fastetl.ParseError)
    _plain(e)
    assert not dst.exists() and listing(tmp_path) == ["in.csv", "ref.npy", "ref.npy.json"]


@pytest.mark.parametrize("where", ["as the run's records are described", "before it starts"])
def test_ctrl_c_in_a_conversion_inside_the_callers_except_block_has_no_cause(tmp_path, where):
    src = tmp_path / "in.csv"
    src.write_bytes(b"a,b\n1,x\n2,y\n")
    func = api._sidecar if where == "as the run's records are described" else api._resolve
    try:
        raise LookupError("the caller's own error, handled as it converts")
    except LookupError:
        with interrupt_at(func, None) as raised:
            with pytest.raises(KeyboardInterrupt) as e:
                fastetl.convert(src, tmp_path / "o.npy")
    assert raised
    _plain(e)
    assert listing(tmp_path) == ["in.csv"]


# the CLI in a child that holds where the widening handles the ParseError, until SIGINT
HELD_IN_WIDENING = HOLD + r"""
import fastetl.cli, fastetl.infer
real = fastetl.infer.widen_for
def widen_for(schema, error):
    print("held", flush=True)
    while _os.getppid() == parent:
        _time.sleep(0.01)
    return real(schema, error)
fastetl.infer.widen_for = widen_for
_sys.exit(fastetl.cli.main(_sys.argv[1:]))
"""


def test_the_cli_says_a_ctrl_c_during_a_widening_in_one_line(tmp_path):
    """A real SIGINT to a real CLI process, as the widening handles the ParseError: one
    line, exit status 130, nothing written."""
    src = tmp_path / "in.csv"
    src.write_bytes(LATE_FLOAT)
    dst = tmp_path / "o.npy"
    status, err = ctrl_c_when_held(
        HELD_IN_WIDENING, "convert", str(src), str(dst), "--infer-rows", "100", "--no-progress"
    )
    assert status == 130
    assert err == "fastetl: interrupted; the output was not changed\n"
    assert listing(tmp_path) == ["in.csv"]


def test_ctrl_c_as_an_error_is_cleaned_up_has_that_error_as_its_cause(tmp_path, monkeypatch):
    """The other way: Ctrl-C as the run cleans up after an OutputError (a full disk as the
    records are finished) names that error, not the caller's error being handled."""
    src = tmp_path / "in.csv"
    src.write_bytes(b"a,b\n1,x\n2,y\n")
    dst = tmp_path / "o.npy"
    full = fastetl.OutputError(f"cannot write {dst}: No space left on device")

    def finish(self, meta):
        raise full

    monkeypatch.setattr(api.NpyWriter, "finish", finish)
    try:
        raise LookupError("the caller's own error, handled as it converts")
    except LookupError:
        with interrupt_at(api._abort, "writer.abort()") as raised:
            with pytest.raises(KeyboardInterrupt) as e:
                fastetl.convert(src, dst)
    assert raised and type(e.value) is fastetl.Interrupted
    assert str(e.value) == "interrupted; the output was not changed"
    assert e.value.__cause__ is full
    assert listing(tmp_path) == ["in.csv"]


def _full_disk(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("writer", ["records", "rejects"])
def test_ctrl_c_as_a_writer_cleans_up_after_its_own_error_has_that_error_as_its_cause(
    tmp_path, monkeypatch, writer
):
    """A writer cleans up after its own error (a full disk as it finishes: its abort) and
    Ctrl-C lands there: the full disk is the cause (the clean-up names it), and the
    clean-up still runs to its end (nothing of the run is left)."""
    src = tmp_path / "in.csv"
    src.write_bytes(b"a,b\n1,x\nbad,y\n2,z\n")
    if writer == "records":  # (the records' trailer is written as a full disk fails it)
        monkeypatch.setattr(store, "_pair_trailer", _full_disk)
        where = interrupt_at(store.NpyWriter.abort, "_remove_quietly(self.tmp_path")
    else:  # (the rejects' files are closed, their last bytes flushed, on a full disk)
        real, calls = store.RejectsWriter._close, []

        def _close(self):
            calls.append(True)
            if len(calls) == 1:
                _full_disk()
            real(self)

        monkeypatch.setattr(store.RejectsWriter, "_close", _close)
        where = interrupt_at(store.RejectsWriter.abort, "_remove_quietly(*self._tmp)")
    schema = {"columns": [{"name": "a", "type": "int64"}, {"name": "b", "type": "str", "width": 4}]}
    try:
        raise LookupError("the caller's own error, handled as it converts")
    except LookupError:
        with where as raised:
            with pytest.raises(KeyboardInterrupt) as e:
                fastetl.convert(src, tmp_path / "o.npy", schema, on_error="reject")
    assert raised and type(e.value) is fastetl.Interrupted
    assert str(e.value) == "interrupted; the output was not changed"
    cause = e.value.__cause__
    assert isinstance(cause, OSError) and cause.errno == errno.ENOSPC
    assert listing(tmp_path) == ["in.csv"]


@pytest.fixture
def sigterm_restored():
    """The CLI's main() sets its own SIGTERM handler: the test process's comes back."""
    import signal

    old = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, old)


def test_the_cli_says_a_sigterm_that_came_after_a_commit_as_terminated(
    tmp_path, monkeypatch, capsys, sigterm_restored
):
    """SIGTERM as a command completes an earlier run's commit (``outset.recover``, as an
    output is opened: an ``InterruptedAfterCommit`` whose ``original`` is the SIGTERM) is
    said as SIGTERM, exit status 143 (the CLI's own test for SIGTERM did not look through
    ``original``: 130, "interrupted")."""
    from fastetl import cli, outset, signals

    def inspect(args):
        raise outset.InterruptedAfterCommit(signals.Terminated())

    monkeypatch.setitem(cli.COMMANDS, "inspect", inspect)
    assert cli.main(["inspect", str(tmp_path / "o.npy")]) == cli.EXIT_TERMINATED
    assert capsys.readouterr().err.startswith("fastetl: terminated")
