#!/usr/bin/env python3
"""Many writers, appenders and readers on one output, with random kills: check that
nothing is lost and nothing is left behind (issue 14).

    python scripts/stress.py --seconds 60 [--seed S] [--dir DIR] [--concurrency N]

Each round:
1. a few converters rewrite OUT at once, from one of two inputs whose category
   dictionaries come out in different orders (so decoding one run's codes with the
   other's dictionary gives wrong values, which the checks see); some use
   ``--on-error reject`` on an input with bad rows, some ``--wait``, some not;
2. then a few appenders add chunks of rows with unique ids at once (``--wait``);
3. all along, reader processes open OUT again and again and check every row.
A random share of the writers is killed (SIGKILL) or stopped (SIGTERM) at a random
moment.  Invariants, checked by the readers and at the end of each round:
- OUT always opens (``fastetl.open``), and every row decodes to the value its id
  implies: never another run's dictionary;
- OUT is one base input, whole, plus whole appended chunks: every append that exited 0
  is there, a killed one is there whole or not at all, nothing is there twice;
- the sidecar's counts agree with the records and the rejects file;
- no temporary file is left once the next run into OUT has started;
- every run ends with exit 0, 1 (another run holds OUT: one clear line), 143 (SIGTERM)
  or -9 (SIGKILL): never a traceback.
Prints one summary line and exits 1 on any violation.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KINDS = 5
BASE_ROWS = 40_000
CHUNK_ROWS = 5_000
SCHEMA = {
    "columns": [
        {"name": "id", "type": "int64"},
        {"name": "kind", "type": "category"},
        {"name": "v", "type": "float64"},
    ]
}

READER = r"""
import json, os, sys, time
import fastetl
out, stop = sys.argv[1], sys.argv[2]
reads = errors = 0
bad = []
while not os.path.exists(stop):
    try:
        t = fastetl.open(out)
        ids = t["id"]
        kinds = t["kind"]
    except fastetl.FastETLError as e:
        errors += 1
        if len(bad) < 5:
            bad.append(f"open: {e}")
        continue
    want = [f"k{i % 5}" for i in ids.tolist()]
    if kinds.tolist() != want:
        wrong = sum(a != b for a, b in zip(kinds.tolist(), want))
        bad.append(f"{wrong} rows decoded to another value (another run's dictionary?)")
    reads += 1
print(json.dumps({"reads": reads, "errors": errors, "bad": bad}))
"""


def _base(path: Path, first_kind: int, bad_every: int = 0) -> Path:
    """BASE_ROWS rows, ids 0.., kind k(id % 5), the first row's kind ``first_kind``
    (so the learned dictionary's order differs between inputs)."""
    lines = ["id,kind,v"]
    order = [*range(first_kind, BASE_ROWS), *range(first_kind)]
    for n, i in enumerate(order):
        v = "oops" if bad_every and n % bad_every == 7 else f"{i / 8}"
        lines.append(f"{i},k{i % KINDS},{v}")
    path.write_text("\n".join(lines) + "\n")
    return path


def _chunk(path: Path, k: int) -> Path:
    start = 10_000_000 * (k + 1)
    lines = ["id,kind,v"] + [f"{i},k{i % KINDS},{i / 8}" for i in range(start, start + CHUNK_ROWS)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _fastetl(*args: str) -> list[str]:
    return [sys.executable, "-m", "fastetl", *args]


class Stress:
    def __init__(self, folder: Path, seed: int, concurrency: int) -> None:
        self.dir = folder
        self.rng = random.Random(seed)
        self.concurrency = concurrency
        self.out = folder / "out" / "o.npy"
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.schema = folder / "schema.json"
        self.schema.write_text(json.dumps(SCHEMA))
        self.inputs = {
            "a": _base(folder / "a.csv", 0),
            "b": _base(folder / "b.csv", 3),
            "bad": _base(folder / "bad.csv", 1, bad_every=50),
        }
        self.rejected_in_bad = sum(1 for n in range(BASE_ROWS) if n % 50 == 7)
        self.chunks = 0
        self.violations: list[str] = []
        self.counts = {"converts": 0, "appends": 0, "killed": 0, "terminated": 0, "busy": 0,
                       "reads": 0, "read_errors": 0, "rounds": 0}  # fmt: skip

    def fail(self, what: str) -> None:
        self.violations.append(what)

    # -- one batch of processes, some of them killed --------------------------------------
    def _run_batch(self, cmds: list[tuple[str, list[str]]]) -> list[tuple[str, int, str]]:
        procs = []
        for tag, cmd in cmds:
            procs.append((tag, subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                                stderr=subprocess.PIPE, text=True)))  # fmt: skip
            time.sleep(self.rng.random() * 0.05)
        doomed = [p for _, p in procs if self.rng.random() < 0.35]
        deadline = time.monotonic() + self.rng.random() * 1.5
        for p in doomed:
            time.sleep(max(0.0, min(deadline - time.monotonic(), self.rng.random() * 0.5)))
            if p.poll() is None:
                p.send_signal(signal.SIGKILL if self.rng.random() < 0.5 else signal.SIGTERM)
        results = []
        for tag, p in procs:
            _, err = p.communicate(timeout=600)
            results.append((tag, p.returncode, err))
            if p.returncode == -signal.SIGKILL:
                self.counts["killed"] += 1
            elif p.returncode in (143, -signal.SIGTERM):  # (-15: before its handler existed)
                self.counts["terminated"] += 1
            elif p.returncode == 1 and "being written by another fastetl run" in err:
                self.counts["busy"] += 1
            elif p.returncode != 0 or "Traceback" in err:
                self.fail(f"{tag}: exit {p.returncode}: {err.strip()[-300:]}")
            if err.count("\n") > 1:
                self.fail(f"{tag}: more than one line on stderr: {err[-300:]!r}")
        return results

    def round(self) -> None:
        self.counts["rounds"] += 1
        stop = self.dir / "stop"
        stop.unlink(missing_ok=True)
        readers = [
            subprocess.Popen([sys.executable, "-c", READER, str(self.out), str(stop)],
                             stdout=subprocess.PIPE, text=True)  # fmt: skip
            for _ in range(2)
        ] if self.out.exists() else []  # fmt: skip
        # 1. rewrites, the last one with --wait so that a base always lands
        cmds = []
        for i in range(self.concurrency):
            which = self.rng.choice(["a", "b", "bad"])
            cmd = _fastetl("convert", str(self.inputs[which]), str(self.out),
                           "--schema", str(self.schema), "-q", "--block-size", "64k")  # fmt: skip
            if which == "bad":
                cmd += ["--on-error", "reject"]
            if self.rng.random() < 0.5 or i == self.concurrency - 1:
                cmd.append("--wait")
            cmds.append((f"convert {which}", cmd))
        results = self._run_batch(cmds)
        self.counts["converts"] += len(cmds)
        settle = _fastetl("convert", str(self.inputs["a"]), str(self.out), "--schema",
                          str(self.schema), "-q", "--wait")  # fmt: skip
        if not self.out.exists() or all(code != 0 for _, code, _ in results):
            subprocess.run(settle, check=True)  # every rewrite killed: start from a
        base = self._check_base()
        # 2. appends
        cmds, chunk_ids = [], []
        for _ in range(self.concurrency):
            k = self.chunks
            self.chunks += 1
            path = _chunk(self.dir / f"chunk{k}.csv", k)
            cmds.append((f"append {k}", _fastetl("convert", str(path), str(self.out), "--append",
                                                  "--wait", "-q")))  # fmt: skip
            chunk_ids.append(k)
        results = self._run_batch(cmds)
        self.counts["appends"] += len(cmds)
        self._check_appends(base, chunk_ids, [code for _, code, _ in results])
        stop.write_text("")
        for r in readers:
            out, _ = r.communicate(timeout=120)
            got = json.loads(out)
            self.counts["reads"] += got["reads"]
            self.counts["read_errors"] += got["errors"]
            for b in got["bad"]:
                self.fail(f"reader: {b}")  # a refusal counts too: OUT must always open
        # 3. no leftovers once the next run has started: a clean rewrite now
        subprocess.run(settle, check=True)
        left = sorted(n for n in os.listdir(self.out.parent)
                      if n not in ("o.npy", "o.npy.json", ".o.npy.fastetl-lock",
                                   "o.npy.rejects.csv", "o.npy.rejects.csv.json"))  # fmt: skip
        if left:
            self.fail(f"left behind after a new run: {left}")

    def _check_base(self) -> str:
        import fastetl

        t = fastetl.open(self.out)
        ids = t["id"].tolist()
        meta = t.meta
        src = Path(meta["source"]["path"]).name
        self._check_values(t)
        if sorted(ids) != list(range(BASE_ROWS)) and src != "bad.csv":
            self.fail(f"base {src}: {len(ids)} rows, not the whole input")
        if src == "bad.csv":
            if len(ids) != BASE_ROWS - self.rejected_in_bad:
                self.fail(f"base bad.csv: {len(ids)} rows written")
            rej = self.out.with_name("o.npy.rejects.csv")
            n_rej = len(rej.read_text().splitlines()) - 1
            if n_rej != self.rejected_in_bad or meta["rows_rejected"] != self.rejected_in_bad:
                self.fail(f"rejects: {n_rej} rows in the file, {meta['rows_rejected']} counted")
        return src

    def _check_values(self, t) -> None:
        kinds, want = t["kind"].tolist(), [f"k{i % KINDS}" for i in t["id"].tolist()]
        if kinds != want:
            self.fail("values decoded with another run's dictionary")
        if t.meta["rows"] != len(t):
            self.fail("sidecar rows != records")

    def _check_appends(self, base: str, chunk_ids: list[int], codes: list[int]) -> None:
        import fastetl

        t = fastetl.open(self.out)
        self._check_values(t)
        ids = t["id"].tolist()
        present = {}
        for i in ids:
            if i >= 10_000_000:
                k = i // 10_000_000 - 1
                present[k] = present.get(k, 0) + 1
        for k, code in zip(chunk_ids, codes, strict=True):
            n = present.get(k, 0)
            if code == 0 and n != CHUNK_ROWS:
                self.fail(f"append {k} exited 0 but {n} of its {CHUNK_ROWS} rows are there")
            if n not in (0, CHUNK_ROWS):
                self.fail(f"append {k} is there in part ({n} rows)")
        if len(ids) != len(set(ids)):
            self.fail("a row is there twice")
        listed = [Path(a["source"]["path"]).name for a in t.meta.get("appended", [])]
        if sorted(listed) != sorted(f"chunk{k}.csv" for k in present):
            self.fail(f"the sidecar lists appends {listed}, the records hold {sorted(present)}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=30, help="rounds start until then (30)")
    p.add_argument("--seed", type=int, default=None, help="random seed (printed)")
    p.add_argument("--dir", help="work here (default: a temporary folder, removed)")
    p.add_argument("--concurrency", type=int, default=3, help="writers at once (3)")
    args = p.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    if args.dir is not None and not os.path.isdir(args.dir):
        why = "not a folder" if os.path.exists(args.dir) else "no such folder"
        p.error(f"--dir {args.dir}: {why}")
    with tempfile.TemporaryDirectory(dir=args.dir) as d:
        s = Stress(Path(d), seed, args.concurrency)
        t0 = time.monotonic()
        while time.monotonic() - t0 < args.seconds and not s.violations:
            s.round()
        took = time.monotonic() - t0
    c = s.counts
    print(
        f"stress: seed {seed}, {took:.0f} s, {c['rounds']} rounds: {c['converts']} converts, "
        f"{c['appends']} appends ({c['killed']} killed, {c['terminated']} SIGTERMed, "
        f"{c['busy']} refused as busy), {c['reads']} reads ({c['read_errors']} refused): "
        f"{len(s.violations)} violations"
    )
    for v in s.violations[:20]:
        print(f"  VIOLATION: {v}")
    return 1 if s.violations else 0


if __name__ == "__main__":
    sys.exit(main())
