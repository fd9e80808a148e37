#!/usr/bin/env bash
# Fuzz fastetl's core with atheris for a bounded time (see docs/RELIABILITY-TESTING.md).
#
#   scripts/fuzz.sh [--asan] [SECONDS]      default 60 seconds
#
# Exits 0 when the time ran out with no finding; non-zero on a finding (the
# input is left in $FUZZ_OUT, default ./fuzz-findings, and the schema and CSV
# it stands for are printed), or when the fuzzer cannot run at all.
#
# Coverage, in order of preference:
#   native  clang found: the core is rebuilt from this checkout into a temporary
#           directory with clang -fsanitize=fuzzer-no-link, so libFuzzer sees the
#           compiled core's branches (and UBSan checks it); --asan adds
#           AddressSanitizer.  The caller's installed fastetl is never touched.
#   python  no clang: the fastetl that `import fastetl` finds is fuzzed as it is,
#           with coverage of fastetl's Python modules only; the compiled core is
#           then a black box to the fuzzer (its crashes are still caught).
# FUZZ_NATIVE=1 requires native mode, FUZZ_NATIVE=0 forbids it.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
PY=${PYTHON:-python3}

ASAN=0
if [ "${1:-}" = "--asan" ]; then ASAN=1; shift; fi
SECONDS_LIMIT=${1:-60}
case "$SECONDS_LIMIT" in
    '' | *[!0-9]*) echo "usage: scripts/fuzz.sh [--asan] [SECONDS]" >&2; exit 2 ;;
esac
OUT=${FUZZ_OUT:-$REPO/fuzz-findings}
NATIVE=${FUZZ_NATIVE:-auto}

say() { printf 'fuzz.sh: %s\n' "$*" >&2; }

# -- atheris -----------------------------------------------------------------
if ! "$PY" -c "import atheris" 2>/dev/null; then
    say "atheris is not installed for $("$PY" --version 2>&1); installing it (pip install atheris)"
    if ! "$PY" -m pip install --quiet atheris >&2; then
        say "FAILED: atheris could not be installed for $("$PY" --version 2>&1) on $(uname -sm)"
        say "(pip's message is above). atheris publishes wheels for CPython on Linux x86_64"
        say "(3.11-3.13 for atheris 3, 3.6-3.10 for atheris 2); elsewhere pip builds it from"
        say "source, which needs clang with libFuzzer. No fuzzing was done."
        exit 2
    fi
fi
ATHERIS_DIR=$("$PY" -c "import atheris; print(atheris.path())")

WORK=$(mktemp -d "${TMPDIR:-/tmp}/fastetl-fuzz.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/corpus" "$OUT"

# -- which core ---------------------------------------------------------------
CLANG=${CLANG:-$(command -v clang || true)}
if [ "$NATIVE" = 1 ] && [ -z "$CLANG" ]; then
    say "FAILED: FUZZ_NATIVE=1 but no clang (Debian/Ubuntu: apt-get install clang)"
    exit 2
fi
if [ "$ASAN" = 1 ] && [ -z "$CLANG" ]; then
    say "FAILED: --asan needs clang to build the core with fuzzer coverage and ASan"
    exit 2
fi
export PYTHONMALLOC=${PYTHONMALLOC:-malloc}
if [ -n "$CLANG" ] && [ "$NATIVE" != 0 ]; then
    if [ "$ASAN" = 1 ]; then
        san=address,undefined
        preload=$ATHERIS_DIR/asan_with_fuzzer.so
        mode="native coverage, AddressSanitizer + UBSan"
    else
        san=undefined
        preload=$ATHERIS_DIR/ubsan_with_fuzzer.so
        mode="native coverage, UBSan"
    fi
    if [ ! -f "$preload" ]; then
        say "FAILED: $preload is missing (this atheris was built without it)"
        exit 2
    fi
    say "building the core with $CLANG -fsanitize=$san,fuzzer-no-link into $WORK/build"
    mkdir -p "$WORK/build"
    cp -R setup.py pyproject.toml src "$WORK/build/"
    rm -f "$WORK"/build/src/fastetl/_core*.so "$WORK"/build/src/fastetl/_core*.pyd \
        "$WORK"/build/src/fastetl/_core.c
    flags="-fsanitize=$san,fuzzer-no-link -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g"
    (cd "$WORK/build" && CC="$CLANG" LDSHARED="$CLANG -shared" CFLAGS="$flags" LDFLAGS="$flags" \
        "$PY" setup.py -q build_ext --inplace >"$WORK/build.log" 2>&1) || {
        cat "$WORK/build.log" >&2
        say "FAILED: the instrumented build failed"
        exit 2
    }
    export PYTHONPATH="$WORK/build/src"
    export LD_PRELOAD="$preload"
    export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:allocator_may_return_null=1"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
else
    mode="Python coverage only (no clang: the compiled core is fuzzed as a black box)"
fi
FASTETL=$("$PY" -c "import fastetl, os; print(os.path.dirname(fastetl.__file__))" 2>&1) || {
    say "FAILED: cannot import fastetl: $FASTETL"
    say "install it (pip install .) or build it in place and set PYTHONPATH=src"
    exit 2
}
say "mode: $mode"
say "fuzzing $FASTETL for ${SECONDS_LIMIT}s; findings go to $OUT/"

# -- run ----------------------------------------------------------------------
# The first corpus directory collects new inputs (a scratch copy: the seeds in
# fuzz/corpus are not rewritten).  Inputs are capped at 4 KiB to keep runs fast;
# one input that takes over 60 s counts as a finding (a hang).
set +e
"$PY" fuzz/fuzz_core.py \
    -max_total_time="$SECONDS_LIMIT" -max_len=4096 -timeout=60 -rss_limit_mb=8192 \
    -print_final_stats=1 -artifact_prefix="$OUT/" \
    "$WORK/corpus" fuzz/corpus 2>"$WORK/fuzz.log"
rc=$?
set -e
grep -E '^(INFO: (Loaded|Seed)|#[0-9]+[[:space:]]+(INITED|DONE)|stat::number_of_executed_units)' \
    "$WORK/fuzz.log" >&2 || true
if [ "$rc" -ne 0 ]; then
    tail -n 80 "$WORK/fuzz.log" >&2
    found=$(ls -t "$OUT"/crash-* "$OUT"/timeout-* "$OUT"/oom-* 2>/dev/null | head -n 1 || true)
    say "FINDING (exit $rc). Input: ${found:-see the log above}"
    if [ -n "$found" ]; then
        say "replay: $PY fuzz/fuzz_core.py $found ; what it means:"
        "$PY" fuzz/fuzz_core.py --describe "$found" >&2 || true
    fi
    exit 1
fi
say "no finding in ${SECONDS_LIMIT}s"
