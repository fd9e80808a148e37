"""Shared bits of the micro-benchmarks: import path, and a throughput summary at the end.

The benchmarks are not part of the default test run (the root ``testpaths`` is ``tests``);
run them with ``python -m pytest benchmarks/ --benchmark-only``.
"""

from __future__ import annotations

import sys
from pathlib import Path

try:
    import fastetl  # noqa: F401  (the installed package, or PYTHONPATH=src)
except ImportError:  # a source checkout with the core built in place
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import pytest

# (test name, MB parsed per call, best seconds, median seconds), filled by test_micro.measure
_THROUGHPUT = pytest.StashKey[list]()


def pytest_configure(config):
    config.stash[_THROUGHPUT] = []


@pytest.fixture
def throughput_log(request) -> list[tuple[str, float, float, float]]:
    """Where a benchmark records its throughput for the end-of-run summary."""
    return request.config.stash[_THROUGHPUT]


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # noqa: ARG001
    rows = config.stash.get(_THROUGHPUT, [])
    if not rows:
        return
    tr = terminalreporter
    tr.write_sep("-", "fastetl micro-benchmarks: throughput (MB = 10**6 bytes of CSV)")
    tr.write_line(f"{'benchmark':<32} {'MB':>6} {'best MB/s':>10} {'median MB/s':>12}")
    for name, mb, best, median in rows:
        tr.write_line(f"{name:<32} {mb:>6.1f} {mb / best:>10.0f} {mb / median:>12.0f}")
