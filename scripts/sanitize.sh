#!/usr/bin/env bash
# Run the core-heavy tests against a FASTETL_SANITIZE=1 build (AddressSanitizer +
# UndefinedBehaviorSanitizer), then fuzz that core under ASan for a short time.
# See docs/RELIABILITY-TESTING.md.
#
#   scripts/sanitize.sh [--full] [FUZZ_SECONDS]
#
#   --full          the whole test suite instead of the core-heavy subset
#                   (about 6-7 minutes on 2 cores instead of about 2)
#   FUZZ_SECONDS    how long to fuzz under ASan (default 20; 0 skips it)
#
# The core is built from this checkout into a temporary directory and imported
# from there (PYTHONPATH); the caller's installed fastetl is never touched.
# Exit status: 0 clean; 1 a test failed or a sanitizer reported anything
# (the report is printed); 2 the sanitized build could not be made.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
PY=${PYTHON:-python3}
CC=${CC:-gcc}

FULL=0
if [ "${1:-}" = "--full" ]; then FULL=1; shift; fi
FUZZ_SECONDS=${1:-20}
case "$FUZZ_SECONDS" in
    '' | *[!0-9]*) echo "usage: scripts/sanitize.sh [--full] [FUZZ_SECONDS]" >&2; exit 2 ;;
esac

say() { printf 'sanitize.sh: %s\n' "$*" >&2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/fastetl-sanitize.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# -- build ------------------------------------------------------------------------
LIBASAN=$("$CC" -print-file-name=libasan.so)
if [ ! -e "$LIBASAN" ]; then
    say "FAILED: $CC has no AddressSanitizer runtime (libasan.so); install it (Debian: libasan8)"
    exit 2
fi
say "building the core with FASTETL_SANITIZE=1 CC=$CC in $WORK/tree"
mkdir -p "$WORK/tree" "$WORK/reports"
cp -R setup.py pyproject.toml src tests fuzz "$WORK/tree/"
rm -f "$WORK"/tree/src/fastetl/_core*.so "$WORK"/tree/src/fastetl/_core*.pyd \
    "$WORK"/tree/src/fastetl/_core.c
t0=$(date +%s)
(cd "$WORK/tree" && FASTETL_SANITIZE=1 CC="$CC" "$PY" setup.py -q build_ext --inplace \
    >"$WORK/build.log" 2>&1) || {
    cat "$WORK/build.log" >&2
    say "FAILED: the sanitized build failed"
    exit 2
}
say "built in $(($(date +%s) - t0)) s"

# The interpreter is not instrumented, so the ASan runtime must be loaded first.
# Python's own allocations go through malloc (PYTHONMALLOC=malloc) so that ASan
# sees the bounds of every bytes object and array the core touches.  Leak
# detection is off: the interpreter's own never-freed objects are not ours (the
# leak test, tests/test_leaks.py, measures the core instead).  Every report --
# from this process or any subprocess a test starts -- is also written to
# $WORK/reports, and any file there fails the run, even if a test swallowed
# the crash.
export LD_PRELOAD="$LIBASAN"
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:strict_string_checks=1:check_initialization_order=1:log_path=$WORK/reports/asan"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$WORK/reports/ubsan"
export PYTHONMALLOC=malloc
export PYTHONPATH="$WORK/tree/src"
cd "$WORK/tree"
"$PY" - <<'EOF' || { say "FAILED: the sanitized core is not the one imported"; exit 2; }
import os, sys
import fastetl._core as core
here = os.path.realpath(os.path.join(os.getcwd(), "src"))
if not os.path.realpath(core.__file__).startswith(here):
    sys.exit(f"imported {core.__file__}, not the build in {here}")
with open(core.__file__, "rb") as fh:
    if b"__asan_" not in fh.read():
        sys.exit(f"{core.__file__} is not instrumented with AddressSanitizer")
print(f"sanitized core: {core.__file__}")
EOF

reports() {
    if compgen -G "$WORK/reports/*" >/dev/null; then
        for f in "$WORK"/reports/*; do
            say "sanitizer report $f:"
            cat "$f" >&2
        done
        return 0
    fi
    return 1
}

# -- tests --------------------------------------------------------------------------
# The subset: every test file whose work is mostly inside the compiled core --
#   test_tokenizer    the tokenizer, row splitting and block cutting, edge by edge
#   test_values       every converter (ints, floats, decimals, dates, str, categories)
#   test_errors       the error paths: bad rows, rollback of category journals, positions
#   test_parallel     threads, blocks cut at every size, streams, compressed inputs
#   test_differential random files against the pure-Python reference (hypothesis),
#                     at a fifth of the usual example count
#   test_text         out-of-line text: the parser's references, and the bridges'
#                     gathers over 12-byte references at every alignment
#   fuzz/test_fuzz_target  the fuzz target's oracles over the seed corpus and
#                     random inputs (no atheris needed)
# Left out (run with --full): test_cli, test_demo_data, test_infer, test_schema,
# test_output -- command line, demo generator, inference heuristics, schema
# validation and the .npy writer: Python code that reaches the core only along
# the paths above.  Two shards run side by side (2 cores).
status=0
t0=$(date +%s)
if [ "$FULL" = 1 ]; then
    "$PY" -m pytest -q -p no:cacheprovider --capture=sys tests fuzz/test_fuzz_target.py \
        --ignore=tests/test_leaks.py \
        >"$WORK/shard-1.log" 2>&1 || status=1
    cat "$WORK/shard-1.log"
else
    FASTETL_FUZZ=0.2 "$PY" -m pytest -q -p no:cacheprovider --capture=sys \
        tests/test_differential.py tests/test_parallel.py >"$WORK/shard-1.log" 2>&1 &
    pid1=$!
    "$PY" -m pytest -q -p no:cacheprovider --capture=sys \
        tests/test_tokenizer.py tests/test_values.py tests/test_errors.py tests/test_text.py \
        fuzz/test_fuzz_target.py >"$WORK/shard-2.log" 2>&1 &
    pid2=$!
    wait "$pid1" || status=1
    wait "$pid2" || status=1
    for log in "$WORK"/shard-*.log; do
        echo "--- $(basename "$log")"
        cat "$log"
    done
fi
say "tests under the sanitizers: $(($(date +%s) - t0)) s"
if reports; then
    say "FAILED: the sanitizers reported the problems above"
    exit 1
fi
if [ "$status" -ne 0 ]; then
    say "FAILED: tests failed under the sanitizers (see above)"
    exit 1
fi

# -- fuzzing under ASan ---------------------------------------------------------------
if [ "$FUZZ_SECONDS" -gt 0 ]; then
    if ! command -v clang >/dev/null; then
        # gcc's ASan runtime exports the coverage hooks libFuzzer needs, so atheris
        # gets no coverage with it: without clang the fuzz target's oracles run
        # under ASan only through fuzz/test_fuzz_target.py above.
        say "no clang: skipping coverage-guided fuzzing under ASan (apt-get install clang)"
    else
        say "fuzzing for ${FUZZ_SECONDS}s under ASan + UBSan (scripts/fuzz.sh --asan)"
        unset LD_PRELOAD PYTHONPATH
        export ASAN_OPTIONS=${ASAN_OPTIONS%%:log_path=*}
        export UBSAN_OPTIONS=${UBSAN_OPTIONS%%:log_path=*}
        cd "$REPO"
        scripts/fuzz.sh --asan "$FUZZ_SECONDS" || {
            say "FAILED: the fuzzer found a problem under ASan (see above)"
            exit 1
        }
    fi
fi
say "clean"
