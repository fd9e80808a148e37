"""Timers for the ``--phases`` tables of ``profile.py`` and ``infer.py``: wrap a function
in place so each call adds its CPU time to a running total under a label.

    spent = {}
    wrap(module_or_class, "name", "label", spent, time.thread_time)
    wrap(cls, "add", "column ", spent, clock, key=lambda self, *a: self.name)

``key`` (optional) gets the call's arguments and returns a suffix of the label (one
total per column, say).  Wrapped calls nest: an outer timer holds its inner ones'.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import Any


def wrap(
    owner: Any,
    name: str,
    label: str,
    spent: MutableMapping[str, float],
    clock: Callable[[], float],
    key: Callable[..., str] | None = None,
) -> None:
    """Replace ``owner.name`` with a timed copy adding ``clock()`` deltas to ``spent``."""
    fn = getattr(owner, name)

    def timed(*a, **k):
        t = clock()
        try:
            return fn(*a, **k)
        finally:
            at = label if key is None else label + key(*a)
            spent[at] = spent.get(at, 0.0) + clock() - t

    setattr(owner, name, timed)
