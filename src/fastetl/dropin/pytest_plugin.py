"""A pytest plugin that answers ``numpy.loadtxt`` / ``numpy.genfromtxt`` with fastetl's
drop-ins, to run numpy's own test files against them::

    FASTETL_SWAP=fastetl python -m pytest -p fastetl.dropin.pytest_plugin \\
        --pyargs numpy.lib.tests.test_loadtxt

``FASTETL_SWAP``: ``fastetl`` (the drop-ins, the default) or ``passthrough`` (a
wrapper that only calls numpy: the baseline a drop-in is measured against).
``FASTETL_FALLBACK`` decides what a fallback does, as everywhere.
``FASTETL_RESULTS=FILE`` writes each test's outcome (JSON lines) to FILE.
"""

from __future__ import annotations

import functools
import json
import os
from typing import Any

import numpy as np

from .numpy import ORIGINAL_GENFROMTXT, ORIGINAL_LOADTXT, genfromtxt, loadtxt

_saved: dict[str, Any] = {}
_FALLBACK_MARK = "cannot answer this call itself ("


def _passthrough(original: Any) -> Any:
    @functools.wraps(original)
    def call(*args: Any, **kwargs: Any) -> Any:
        return original(*args, **kwargs)

    return call


def pytest_configure(config: Any) -> None:
    swap = os.environ.get("FASTETL_SWAP", "fastetl")
    if swap == "passthrough":
        new = {"loadtxt": _passthrough(ORIGINAL_LOADTXT),
               "genfromtxt": _passthrough(ORIGINAL_GENFROMTXT)}
    elif swap == "fastetl":
        new = {"loadtxt": loadtxt, "genfromtxt": genfromtxt}
    else:
        raise ValueError(f"FASTETL_SWAP must be fastetl or passthrough, got {swap!r}")
    for name, fn in new.items():
        _saved[name] = getattr(np, name)
        setattr(np, name, fn)


def pytest_unconfigure(config: Any) -> None:
    for name, fn in _saved.items():
        setattr(np, name, fn)
    _saved.clear()


def pytest_runtest_logreport(report: Any) -> None:
    path = os.environ.get("FASTETL_RESULTS")
    if not path:
        return
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        outcome = "xfailed" if hasattr(report, "wasxfail") else report.outcome
        line: dict[str, Any] = {"test": report.nodeid, "outcome": outcome}
        if report.failed:
            text = str(report.longrepr)
            at = text.rfind(_FALLBACK_MARK)
            if at >= 0:  # the fallback's reason, for the counts by reason
                line["fallback"] = text[at + len(_FALLBACK_MARK) :].split(";", 1)[0][:-1]
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(line) + "\n")
