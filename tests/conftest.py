"""Shared test set-up.

* ``tests/reference.py`` (the pure-Python reference and the block-size harness)
  is importable as ``reference`` from every test module.
* Hypothesis: no deadline (the core is timed by benchmarks, not tests), and a
  failing example is printed with its ``@reproduce_failure`` blob.  Set
  ``FASTETL_FUZZ=10`` to run ten times as many random examples.
* The report header says which fastetl (and which compiled core) is under test,
  so a run against a stale build or the wrong install is easy to spot.
* Ctrl-C tests send SIGINT to a child converter.  A shell that starts a job in the
  background without job control (``cmd &`` in a script, ``nohup``) leaves SIGINT
  ignored, every child inherits that, and Python then never turns it into
  KeyboardInterrupt: the child would run to its end.  The test process restores
  Python's handler, so the children it starts get SIGINT as from a terminal.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from hypothesis import settings

sys.path.insert(0, str(Path(__file__).parent))

# Under CI (.ci/run sets CI) the property tests draw the same examples every run, so a red
# run is a change's doing and a green one can be run again; elsewhere they explore anew each
# run, and what they find becomes a named test (see test_dropin_numpy_genfromtxt.py).
settings.register_profile(
    "fastetl", deadline=None, print_blob=True, derandomize=bool(os.environ.get("CI"))
)
settings.load_profile("fastetl")

if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_report_header(config):
    lines = []
    try:
        import fastetl
        import fastetl._core as core

        lines.append(f"fastetl {fastetl.__version__}: {Path(fastetl.__file__).parent}")
        lines.append(f"fastetl core: {Path(core.__file__).name}")
    except Exception as e:  # the header must never hide the real error
        lines.append(f"fastetl: cannot import ({type(e).__name__}: {e})")
    lines.append(f"random examples x{os.environ.get('FASTETL_FUZZ', '1')} (FASTETL_FUZZ)")
    return lines
