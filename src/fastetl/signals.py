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
    """The error whose handling the interrupt ``e`` interrupted (the first of its
    context chain that is no interrupt itself), or None: an ``Interrupted`` put in the
    place of ``e`` is raised ``from`` it, so that error stays in the traceback (and a
    plain Ctrl-C keeps its one line)."""
    seen: set[int] = set()
    context = e.__context__
    while isinstance(context, KeyboardInterrupt) and id(context) not in seen:
        seen.add(id(context))
        context = context.__context__
    return None if isinstance(context, KeyboardInterrupt) else context


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
        if not (isinstance(e, Terminated) or getattr(e, "terminated", False)):
            raise
        signal.signal(_SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), _SIGTERM)
        raise  # pragma: no cover - where the signal does not end the process at once
    finally:
        signal.signal(_SIGTERM, signal.SIG_DFL)
