#!/usr/bin/env python3
"""Run pandas' shipped parser tests (pandas/tests/io/parser, C engine) with
pandas.read_csv routed to fastetl.pandas.read_csv, beside a pure pass-through
wrapper, and print the counts.

    python scripts/pandas_conformance.py [--timeout SECONDS] [--min-own SHARE] [pytest args...]

Three runs: pass-through (the baseline), fastetl with FASTETL_FALLBACK=silent
(target: everything the baseline passes), fastetl with FASTETL_FALLBACK=error
(fastetl's own path only; target: >= 70% of the baseline's C-engine tests).
Exit status 1 when the silent run passes fewer tests than the baseline, or when
the own path passes less than ``--min-own`` (a share, default 0) of the tests run.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _run(route: str, policy: str | None, extra: list[str], timeout: float) -> dict[str, int]:
    import pandas

    tests = Path(pandas.__file__).parent / "tests" / "io" / "parser"
    env = {**os.environ, "FASTETL_ROUTE": route}
    env["PYTHONPATH"] = os.pathsep.join(
        [str(HERE), *([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])]
    )
    env.pop("FASTETL_FALLBACK", None)
    if policy:
        env["FASTETL_FALLBACK"] = policy
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
           "-p", "pandas_parser_plugin", str(tests), "-m", "not network and not single_cpu",
           "--tb=no", "-o", "faulthandler_timeout=120", *extra]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    counts = {k: 0 for k in ("passed", "failed", "errors", "skipped", "xfailed", "xpassed")}
    tail = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
    for n, word in re.findall(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed)", tail):
        counts["errors" if word.startswith("error") else word] = int(n)
    counts["seconds"] = round(time.perf_counter() - t0)
    return counts


def main(argv: list[str]) -> int:
    timeout = 1800.0
    min_own = 0.0
    while argv[:1] in (["--timeout"], ["--min-own"]):
        if argv[0] == "--timeout":
            timeout = float(argv[1])
        else:
            min_own = float(argv[1])
        argv = argv[2:]
    rows = []
    for label, route, policy in (
        ("pass-through", "passthrough", None),
        ("fastetl, silent", "fastetl", "silent"),
        ("fastetl, error", "fastetl", "error"),
    ):
        c = _run(route, policy, argv, timeout)
        rows.append((label, c))
        print(f"{label:16} {c['passed']:6} passed {c['failed']:5} failed {c['errors']:4} errors "
              f"{c['skipped']:4} skipped {c['xfailed']:4} xfailed  ({c['seconds']} s)", flush=True)
    base, silent, error = (c for _, c in rows)
    ran = base["passed"] + base["failed"] + base["errors"]
    share = error["passed"] / ran if ran else 0.0
    print(f"own path (error): {error['passed']}/{ran} = {share:.1%} of the C-engine tests run")
    if silent["passed"] < base["passed"]:
        print("FAIL: the silent run passes fewer tests than the pass-through wrapper")
        return 1
    if share < min_own:
        print(f"FAIL: the own path passes {share:.1%} (< {min_own:.1%})")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
