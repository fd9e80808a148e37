"""The fallback policy of the drop-ins.

A drop-in (``fastetl.loadtxt``, ``fastetl.pandas.read_csv``, ...) answers a call
on fastetl's own path when it can give exactly what the original function
gives.  When it cannot -- a Python callable converter, an option it does not
cover -- it calls the original function unchanged, and the policy says what
the caller hears about it:

``"warn"`` (the default)
    a :class:`FallbackWarning` (a ``UserWarning``) naming the function and the
    reason, then the original's result;
``"error"``
    :class:`FallbackError` instead of calling the original (to find, in a test
    suite, every call that is not accelerated);
``"silent"``
    the original's result, nothing said.

The policy is :func:`set_fallback`'s, or else the ``FASTETL_FALLBACK``
environment variable's, read at each call, or else ``"warn"``.
"""

from __future__ import annotations

import os
import warnings
from typing import Any, Callable

from ..errors import FastETLError

MODES = ("warn", "error", "silent")
ENV = "FASTETL_FALLBACK"

_mode: str | None = None


class FallbackWarning(UserWarning):
    """A drop-in called the original function: the call was not accelerated."""


class FallbackError(FastETLError, RuntimeError):
    """Raised instead of falling back when the policy is ``"error"``."""


class Unsupported(Exception):
    """Raised inside a drop-in's translation when fastetl's path cannot give
    exactly the original's result; its message is the reason given to the user."""


def _check(mode: Any, where: str) -> str:
    if mode not in MODES:
        raise ValueError(f"{where}: fallback mode must be one of {', '.join(MODES)}; got {mode!r}")
    return mode


def set_fallback(mode: str | None) -> None:
    """Set the fallback policy for this process: ``"warn"``, ``"error"`` or
    ``"silent"``; ``None`` goes back to ``FASTETL_FALLBACK`` (or ``"warn"``)."""
    global _mode
    _mode = None if mode is None else _check(mode, "set_fallback")


def get_fallback() -> str:
    """The policy in force now (see the module's documentation)."""
    if _mode is not None:
        return _mode
    env = os.environ.get(ENV, "").strip().lower()
    return _check(env, f"environment variable {ENV}") if env else "warn"


def fall_back(
    name: str, reason: str, original: Callable[..., Any], *args: Any, **kwargs: Any
) -> Any:
    """Answer a call of the drop-in ``name`` with ``original(*args, **kwargs)``,
    under the policy: warn (:class:`FallbackWarning`), raise (:class:`FallbackError`)
    or stay silent.  ``reason`` says what fastetl's own path does not cover."""
    mode = get_fallback()
    message = f"fastetl.{name} cannot answer this call itself ({reason})"
    if mode == "error":
        raise FallbackError(f"{message}; {ENV}=error forbids calling the original")
    if mode == "warn":
        origin = f"{getattr(original, '__module__', '?')}.{getattr(original, '__qualname__', name)}"
        # stacklevel 3: the warning points at the line that called the drop-in
        warnings.warn(f"{message}: called {origin} instead", FallbackWarning, stacklevel=3)
    return original(*args, **kwargs)
