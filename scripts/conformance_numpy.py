#!/usr/bin/env python
"""Run numpy's own loadtxt/genfromtxt tests against fastetl's drop-ins.

The installed numpy ships ``numpy/lib/tests/test_loadtxt.py`` and the
loadtxt/genfromtxt classes of ``test_io.py``.  This script runs them three times,
each in its own pytest process, with ``numpy.loadtxt``/``numpy.genfromtxt``
swapped by the plugin ``fastetl.dropin.pytest_plugin``:

* ``passthrough``: a wrapper that only calls numpy (the baseline);
* ``silent``: fastetl's drop-ins, ``FASTETL_FALLBACK=silent`` (what fastetl
  cannot answer goes to numpy quietly);
* ``error``: fastetl's drop-ins, ``FASTETL_FALLBACK=error`` (fastetl's own path
  only: a fallback fails the test).

It prints the pass counts side by side, the fallback reasons of the ``error`` run,
and exits 1 unless every test the pass-through passes also passes under
``silent`` and at least ``--min-own`` (0.9) of them pass under ``error``.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile

SELECT = "LoadTxt or FromTxt or loadtxt or genfromtxt"
MODULES = ["numpy.lib.tests.test_loadtxt", "numpy.lib.tests.test_io"]
RUNS = {
    "passthrough": {"FASTETL_SWAP": "passthrough", "FASTETL_FALLBACK": "silent"},
    "silent": {"FASTETL_SWAP": "fastetl", "FASTETL_FALLBACK": "silent"},
    "error": {"FASTETL_SWAP": "fastetl", "FASTETL_FALLBACK": "error"},
}


def run(name: str, env_extra: dict[str, str], folder: str) -> dict[str, dict]:
    results = os.path.join(folder, f"{name}.jsonl")
    env = {**os.environ, **env_extra, "FASTETL_RESULTS": results}
    cmd = [
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
        "-p", "fastetl.dropin.pytest_plugin", "--pyargs", *MODULES, "-k", SELECT,
    ]
    # numpy's test files are run from a neutral folder, against the installed numpy
    proc = subprocess.run(cmd, env=env, cwd=folder, capture_output=True, text=True)
    if not os.path.exists(results):
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
        raise SystemExit(f"conformance: the {name} run reported no tests")
    out: dict[str, dict] = {}
    with open(results, encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            out[rec["test"]] = rec
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--min-own", type=float, default=0.9,
                    help="least share of numpy's tests fastetl's own path must pass (0.9)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        res = {name: run(name, env, folder) for name, env in RUNS.items()}
    base = res["passthrough"]
    passed = {n: {t for t, r in rs.items() if r["outcome"] == "passed"} for n, rs in res.items()}
    total = len(base)
    print(f"numpy {__import__('numpy').__version__}: {total} loadtxt/genfromtxt tests")
    print(f"{'run':<12} {'passed':>7} {'of':>5}")
    for n in RUNS:
        print(f"{n:<12} {len(passed[n]):>7} {total:>5}")
    lost = sorted(passed["passthrough"] - passed["silent"])
    own = len(passed["error"]) / max(len(passed["passthrough"]), 1)
    print(f"own path (error): {own:.1%} of what the pass-through passes")
    reasons = collections.Counter(
        r.get("fallback", "not a fallback: a wrong answer") for r in res["error"].values()
        if r["outcome"] == "failed"
    )
    if reasons:
        print("error run, failures by reason:")
        for why, n in reasons.most_common():
            print(f"  {n:>4}  {why}")
    ok = True
    if lost:
        ok = False
        print(f"FAIL: {len(lost)} test(s) the pass-through passes fail under silent:")
        for t in lost:
            print(f"  {t}")
    if own < args.min_own:
        ok = False
        print(f"FAIL: the own path passes {own:.1%} (< {args.min_own:.0%})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
