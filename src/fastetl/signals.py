"""SIGTERM as an interruption: ``docker stop``, systemd and ``timeout`` end a
conversion the way Ctrl-C does (temporary files removed, or kept for ``--resume``
when a checkpoint was saved), instead of killing it where it stands."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from typing import Any

_SIGTERM = getattr(signal, "SIGTERM", None)


class Terminated(KeyboardInterrupt):
    """Raised in the main thread when SIGTERM arrives during a conversion."""


def during(e: BaseException) -> BaseException | None:
    """The error whose clean-up the interrupt ``e`` interrupted, or None: the error a
    clean-up names as it raises the interrupt that came during it in the error's place
    (``from`` it: :func:`fastetl.outset.clean_up_after`), through interrupts raised in
    place of others.  An ``Interrupted`` put in the place of ``e`` is raised ``from``
    it, so that error stays in the traceback, and a plain Ctrl-C keeps its one line.

    Not any exception being handled when ``e`` came (its ``__context__``): that may be
    handled in a frame the interrupt did not stop, e.g. a caller that converts inside
    its own ``except`` block, or a ParseError a widening is handling as it finds the
    wider type (the run goes on after it); naming it would say a plain Ctrl-C came
    from an error that did nothing to cause it."""
    seen: set[int] = set()
    cause = e.__cause__
    while isinstance(cause, KeyboardInterrupt) and id(cause) not in seen:
        seen.add(id(cause))
        cause = cause.__cause__
    return None if isinstance(cause, KeyboardInterrupt) else cause


def terminated(e: BaseException) -> bool:
    """Whether the interrupt ``e`` is SIGTERM: a :class:`Terminated`, an interrupt that
    says so (``Interrupted.terminated``), or one that stands for a SIGTERM
    (``outset.InterruptedAfterCommit.original``)."""
    seen: set[int] = set()
    while isinstance(e, BaseException) and id(e) not in seen:
        if isinstance(e, Terminated) or getattr(e, "terminated", False) is True:
            return True
        seen.add(id(e))
        e = getattr(e, "original", None)
    return False


def raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated()


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While the block runs, SIGTERM raises :class:`Terminated` in the main thread.

    Only where SIGTERM has its default action (a program that handles it keeps its
    handler), and only in the main thread (Python delivers signals there).  When
    ``Terminated`` leaves the block, the default action follows once the block has
    cleaned up: the process ends by SIGTERM, as it would have without us."""
    if (
        _SIGTERM is None
        or threading.current_thread() is not threading.main_thread()
        or signal.getsignal(_SIGTERM) is not signal.SIG_DFL
    ):
        yield
        return
    try:  # (a signal may land as the handler is set: the default is put back all the same)
        signal.signal(_SIGTERM, raise_terminated)
        yield
    except KeyboardInterrupt as e:
        if not terminated(e):
            raise
        signal.signal(_SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), _SIGTERM)
        raise  # pragma: no cover - where the signal does not end the process at once
    finally:
        signal.signal(_SIGTERM, signal.SIG_DFL)
