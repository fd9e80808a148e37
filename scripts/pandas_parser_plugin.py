"""A pytest plugin that routes pandas' own parser tests to fastetl.pandas.read_csv.

Loaded by scripts/pandas_conformance.py (``-p pandas_parser_plugin``).  pandas'
parser fixtures (``all_parsers``, ``c_parser_only`` ...) call ``pandas.read_csv``
with ``engine="c"``; the plugin replaces that attribute, for the whole session, by

* ``FASTETL_ROUTE=passthrough``: a pure pass-through wrapper (``*args, **kwargs``
  handed to the original unchanged) -- the baseline;
* ``FASTETL_ROUTE=fastetl``: ``fastetl.dropin.pandas.read_csv``, under the fallback
  policy of ``FASTETL_FALLBACK`` (``silent``: every call fastetl cannot answer
  exactly goes to pandas; ``error``: such a call fails the test).

Only the C engine's tests are kept (ids ``c_high`` / ``c_low``): the Python and
pyarrow engines are not what the drop-in mirrors.  A call naming one of them
(``engine="python"``) is a test's oracle -- the expected frame it compares the C
engine's answer with -- and goes to pandas unchanged in every route.

``FASTETL_RESULTS=FILE`` writes each test's outcome (JSON lines) to FILE, with the
fallback's reason where a fallback failed it (the counts by reason).
"""

from __future__ import annotations

import json
import os

import pandas
import pytest

_saved = {}
_FALLBACK_MARK = "cannot answer this call itself ("


def pytest_configure(config):
    route = os.environ.get("FASTETL_ROUTE", "fastetl")
    original = pandas.read_csv
    if route == "passthrough":

        def read_csv(*args, **kwargs):
            return original(*args, **kwargs)

    elif route == "fastetl":
        from fastetl.dropin.pandas import read_csv as fastetl_read_csv

        def read_csv(*args, **kwargs):
            if kwargs.get("engine") not in (None, "c"):  # the oracle, not the test subject
                return original(*args, **kwargs)
            return fastetl_read_csv(*args, **kwargs)
    else:
        raise pytest.UsageError(f"FASTETL_ROUTE must be passthrough or fastetl, got {route!r}")
    _saved["read_csv"] = original
    pandas.read_csv = read_csv


def pytest_unconfigure(config):
    if "read_csv" in _saved:
        pandas.read_csv = _saved.pop("read_csv")


def pytest_collection_modifyitems(config, items):
    keep, drop = [], []
    for item in items:
        (keep if ("c_high" in item.nodeid or "c_low" in item.nodeid) else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_runtest_logreport(report):
    path = os.environ.get("FASTETL_RESULTS")
    if not path:
        return
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        outcome = "xfailed" if hasattr(report, "wasxfail") else report.outcome
        line = {"test": report.nodeid, "outcome": outcome}
        if report.failed:
            text = str(report.longrepr)
            at = text.rfind(_FALLBACK_MARK)
            if at >= 0:  # the fallback's reason, for the counts by reason
                line["fallback"] = text[at + len(_FALLBACK_MARK) :].split("; FASTETL", 1)[0][:-1]
            else:
                line["error"] = text.strip().splitlines()[-1][:300] if text.strip() else ""
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(line) + "\n")
