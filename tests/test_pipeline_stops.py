"""How a run ends when it is stopped, and when a slow stream's rows are reported.

read_plain_file: a failing piece or an interrupt of the calling thread leaves no worker
thread alive and no file descriptor open (a worker never reads from a closed descriptor
number).  _run_parallel: a stream's first block is parsed and reported before the next
bytes come (a slow producer sees work done)."""

from __future__ import annotations

import csv
import io
import os
import signal
import sys
import threading

import numpy as np
import pytest

import fastetl
from fastetl import pipeline
from fastetl.schema import Column, Dialect, Schema

pytestmark = pytest.mark.skipif(
    sys.platform != "linux", reason="counts /proc/self/fd; read_plain_file needs preadv"
)

WAIT = 10  # seconds a test waits for the other side at most (then it fails, never hangs)


def _schema() -> Schema:
    dialect = Dialect(delimiter=",", quote=None, header=False, null_values=())
    return Schema(columns=[Column(name="a", type="int64"), Column(name="b", type="float64")],
                  dialect=dialect)


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _plain_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "fastetl-plain"]


class Stop(Exception):
    pass


def test_a_late_piece_that_fails_stops_the_run_and_every_thread(tmp_path):
    path = tmp_path / "data.csv"
    path.write_bytes("".join(f"{k},{k / 4}\n" for k in range(400)).encode())
    first_piece_may_go = threading.Event()  # piece 0 waits: the pieces after it wait for it
    second_piece_seen = threading.Event()
    waited_too_long = []

    def inspect(data, start, end):
        text = bytes(data[start:end])
        if not text:  # (the lines skipped before the first piece: none)
            return
        if text.startswith(b"0,"):  # piece 0
            if not first_piece_may_go.wait(WAIT):
                waited_too_long.append("piece 0")
        elif text.startswith(b"8,"):  # piece 1: counted, then waits for piece 0's count
            second_piece_seen.set()
        elif text.startswith(b"15,"):  # piece 2 (of many): fails while 0 and 1 wait
            if not second_piece_seen.wait(WAIT):
                waited_too_long.append("piece 1")
            first_piece_may_go.set()
            raise Stop(text)

    threads_before, fds_before = _plain_threads(), _fds()
    with pytest.raises(Stop) as e:
        pipeline.read_plain_file(str(path), _schema(), 3, inspect, piece=50)
    assert e.value.args[0].startswith(b"15,")
    assert _plain_threads() == threads_before == []
    assert _fds() == fds_before
    assert not waited_too_long
    # and a run after it reads the file whole (as Python reads it)
    got = pipeline.read_plain_file(str(path), _schema(), 3, None, piece=50)
    with open(path, newline="") as fh:
        ref = [(int(a), float(b)) for a, b in csv.reader(fh)]
    assert [(int(r["a"]), float(r["b"])) for r in got] == ref


def _main_thread_joins() -> bool:
    """Whether the calling thread waits for the workers to end (its pieces done)."""
    frame = sys._current_frames().get(threading.main_thread().ident)
    while frame is not None:
        code = frame.f_code
        if code.co_name == "_stop_and_join" or (
            code.co_name == "join" and code.co_filename == threading.__file__
        ):
            return True
        frame = frame.f_back
    return False


def test_an_interrupt_while_joining_waits_for_every_worker_before_the_file_is_closed(tmp_path):
    # a worker busy with the last piece when the calling thread, done with its pieces and
    # joining, is interrupted (Ctrl-C): the interrupt is raised only once the worker has
    # exited, so no worker is left reading from a closed descriptor number
    assert threading.current_thread() is threading.main_thread()
    path = tmp_path / "data.csv"
    rows = 300
    path.write_bytes("".join(f"{k},{k / 4}\n" for k in range(rows)).encode())
    last = f"{rows - 1},".encode()
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        for _ in range(50):  # until a worker (not the calling thread) gets the last piece
            armed, returned, trouble = [], threading.Event(), []

            def inspect(data, start, end):
                text = bytes(data[start:end])
                if threading.current_thread() is threading.main_thread() or last not in text:
                    return
                for _ in range(WAIT * 100):
                    if _main_thread_joins():
                        break
                    returned.wait(0.01)
                else:
                    trouble.append("the calling thread never joined")
                    return
                armed.append(True)
                signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)
                # busy on: the calling thread must wait for this worker
                if returned.wait(1):
                    trouble.append("the call returned while a worker still read the file")

            fds_before = _fds()
            try:
                pipeline.read_plain_file(str(path), _schema(), 2, inspect, piece=400)
            except KeyboardInterrupt:
                interrupted = True
            else:
                interrupted = False
            closed = _fds() == fds_before
            returned.set()
            for _ in range(WAIT * 100):  # (the worker is done with the file: it ends now)
                if not _plain_threads():
                    break
                returned.wait(0.01)
            assert not _plain_threads()
            assert not trouble
            if armed:
                assert interrupted and closed
                break
        assert armed, "the last piece always went to the calling thread"
    finally:
        signal.signal(signal.SIGINT, old)


def test_a_pipes_first_block_is_reported_before_the_rest_comes(tmp_path):
    schema = {"columns": [{"name": "id", "type": "int32"}, {"name": "x", "type": "float64"}]}
    rows = [f"{i},{i / 8}\n" for i in range(2000)]
    head = ("id,x\n" + "".join(rows[:100])).encode()
    rest = "".join(rows[100:]).encode()
    r, w = os.pipe()
    reported = threading.Event()
    waited_too_long = []

    def producer():  # a slow producer: the rest comes once the first rows are reported
        with os.fdopen(w, "wb") as fh:
            fh.write(head)
            fh.flush()
            if not reported.wait(WAIT):
                waited_too_long.append(True)
            fh.write(rest)

    writer = threading.Thread(target=producer)
    writer.start()
    try:
        with os.fdopen(r, "rb", buffering=0) as src:
            out = tmp_path / "out.npy"
            fastetl.convert(
                src, out, schema, workers=2, block_size=1 << 16,
                progress=lambda done, total: reported.set(),
            )
    finally:
        reported.set()
        writer.join(WAIT)
    assert not waited_too_long, "nothing was reported until the rest of the input came"
    got = np.load(out)
    ref = list(csv.reader(io.StringIO("".join(rows))))
    assert [(int(a), float(b)) for a, b in ref] == [(int(v["id"]), float(v["x"])) for v in got]
