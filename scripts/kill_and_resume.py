"""Kill a conversion with SIGKILL part way, resume it, and show the output is byte-identical.

    python scripts/kill_and_resume.py [--rows 2000000] [--dir /tmp/fastetl-kill] [--workers N]

It generates the demo orders (``fastetl demo``'s data), converts them once without
interruption (the reference), then starts the same conversion with the CLI, waits for a
checkpoint a quarter of the way in, kills the process with SIGKILL, runs the same command
again with ``--resume`` and compares the results: the .npy byte for byte, the sidecar
but what it says of the run itself (its ``created`` time; its lineage entry's run id,
times, output path and ``resume`` option).  Exits 0 when they are identical.  POSIX only (SIGKILL).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from fastetl.demo import demo_schema, generate_orders
from fastetl.store import checkpoint_path


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# what a sidecar says of the run itself, not of the data: its time, and in its lineage
# entry the run's id, times, output path and the resume option
RUN_FACTS = ("run_id", "started", "ended", "output")


def sidecar(path: Path) -> dict:
    meta = json.loads(Path(str(path) + ".json").read_text(encoding="utf-8"))
    meta.pop("created")
    for entry in meta["lineage"]:
        for key in RUN_FACTS:
            entry.pop(key)
        entry["options"].pop("resume")
    return meta


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--dir", type=Path, default=Path("fastetl-kill-resume"))
    ap.add_argument("--workers", type=int, default=None)
    args = ap.parse_args()
    d: Path = args.dir
    if d.exists():
        shutil.rmtree(d)
    (d / "ref").mkdir(parents=True)
    (d / "run").mkdir()
    src, schema = d / "orders.csv", d / "orders.schema.json"
    generate_orders(src, args.rows)
    demo_schema().save(schema)
    print(f"input: {src} ({src.stat().st_size / 1e6:,.1f} MB, {args.rows:,} rows)")
    cli = [sys.executable, "-m", "fastetl", "convert"]
    opts = ["--schema", str(schema), "--no-progress", "--checkpoint-every", "0.25"]
    if args.workers:
        opts += ["--workers", str(args.workers)]

    t0 = time.perf_counter()
    subprocess.run([*cli, str(src), str(d / "ref" / "orders.npy"), *opts], check=True)
    print(f"reference run: {time.perf_counter() - t0:.1f} s")

    out = d / "run" / "orders.npy"
    proc = subprocess.Popen([*cli, str(src), str(out), *opts])
    ck = checkpoint_path(out)
    mark = None
    while proc.poll() is None:
        try:
            mark = json.loads(ck.read_text())["mark"]
        except (FileNotFoundError, ValueError):
            mark = None
        if mark and mark["rows"] >= args.rows // 4:
            break
        time.sleep(0.001)
    if proc.poll() is not None:
        print("the conversion ended before it could be killed: use more --rows")
        return 2
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert mark is not None
    print(f"killed with SIGKILL (exit {proc.returncode}); last checkpoint: "
          f"{mark['rows']:,} rows written, input offset {mark['offset']:,}")  # fmt: skip
    print(f"{out.name} exists after the kill: {out.exists()}")

    t0 = time.perf_counter()
    subprocess.run([*cli, str(src), str(out), *opts, "--resume"], check=True)
    print(f"resumed run: {time.perf_counter() - t0:.1f} s")

    a, b = sha256(d / "ref" / "orders.npy"), sha256(out)
    same_meta = sidecar(d / "ref" / "orders.npy") == sidecar(out)
    print(f"sha256 uninterrupted: {a}")
    print(f"sha256 killed+resumed: {b}")
    print(f"sidecars equal (but the facts of each run): {same_meta}")
    ok = a == b and same_meta
    print("IDENTICAL" if ok else "DIFFERENT")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
