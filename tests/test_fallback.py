"""The fallback policy (warn, error, silent), install()/uninstall() and ``fastetl run``.

A call the numpy drop-ins cannot answer themselves -- a delimiter that is not one
ASCII character -- goes to numpy: the result is numpy's, and what the caller hears
depends on the policy.  ``fastetl run`` is run as a real subprocess on a real
script and compared with ``python SCRIPT``.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest

import fastetl
from fastetl.dropin.numpy import ORIGINAL_GENFROMTXT, ORIGINAL_LOADTXT

TEXT = "1,2\n3,4\n"
ODD = {"delimiter": "\u00a7"}  # a delimiter the core does not take: numpy answers
ODD_TEXT = TEXT.replace(",", ODD["delimiter"])
SRC = str(Path(fastetl.__file__).resolve().parent.parent)


@pytest.fixture(autouse=True)
def _clean(monkeypatch):
    monkeypatch.delenv("FASTETL_FALLBACK", raising=False)
    fastetl.set_fallback(None)
    yield
    fastetl.set_fallback(None)
    fastetl.uninstall()


def _numpy_answer():
    return ORIGINAL_LOADTXT(io.StringIO(ODD_TEXT), **ODD)


def test_warn_is_the_default_and_names_the_reason():
    with pytest.warns(fastetl.FallbackWarning, match="delimiter") as seen:
        got = fastetl.loadtxt(io.StringIO(ODD_TEXT), **ODD)
    np.testing.assert_array_equal(got, _numpy_answer())
    assert issubclass(fastetl.FallbackWarning, UserWarning)
    # the warning points at the line that called the drop-in, not inside fastetl
    assert [Path(w.filename).name for w in seen] == [Path(__file__).name]


def test_error_raises_instead_of_calling_numpy():
    fastetl.set_fallback("error")
    with pytest.raises(fastetl.FallbackError, match="delimiter"):
        fastetl.loadtxt(io.StringIO(ODD_TEXT), **ODD)


def test_silent_says_nothing():
    fastetl.set_fallback("silent")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = fastetl.loadtxt(io.StringIO(ODD_TEXT), **ODD)
    np.testing.assert_array_equal(got, _numpy_answer())


@pytest.mark.parametrize("mode", ["error", "ERROR ", "silent", "warn"])
def test_environment_variable(monkeypatch, mode):
    monkeypatch.setenv("FASTETL_FALLBACK", mode)
    assert fastetl.get_fallback() == mode.strip().lower()
    if mode.strip().lower() == "error":
        with pytest.raises(fastetl.FallbackError):
            fastetl.genfromtxt(io.StringIO(ODD_TEXT), **ODD)


def test_set_fallback_wins_over_the_environment(monkeypatch):
    monkeypatch.setenv("FASTETL_FALLBACK", "error")
    fastetl.set_fallback("silent")
    got = fastetl.genfromtxt(io.StringIO(ODD_TEXT), **ODD)
    want = ORIGINAL_GENFROMTXT(io.StringIO(ODD_TEXT), **ODD)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


def test_bad_policy_values(monkeypatch):
    with pytest.raises(ValueError, match="one of warn, error, silent"):
        fastetl.set_fallback("loud")
    monkeypatch.setenv("FASTETL_FALLBACK", "sometimes")
    with pytest.raises(ValueError, match="FASTETL_FALLBACK"):
        fastetl.get_fallback()


def test_numpy_errors_are_not_fallbacks():
    """Input numpy refuses raises numpy's own error, even under "error"."""
    fastetl.set_fallback("error")
    for text in ("1,2\n3\n", "1,x\n"):
        with pytest.raises(ValueError) as want:
            ORIGINAL_LOADTXT(io.StringIO(text), delimiter=",")
        with pytest.raises(ValueError) as got:
            fastetl.loadtxt(io.StringIO(text), delimiter=",")
        assert type(got.value) is type(want.value)
        assert str(got.value) == str(want.value)


def test_install_and_uninstall():
    fastetl.install()
    assert np.loadtxt is fastetl.loadtxt and np.genfromtxt is fastetl.genfromtxt
    fastetl.set_fallback("error")
    np.testing.assert_array_equal(
        np.loadtxt(io.StringIO(TEXT), delimiter=","),
        ORIGINAL_LOADTXT(io.StringIO(TEXT), delimiter=","),
    )
    fastetl.install()  # twice is once
    fastetl.uninstall()
    assert np.loadtxt is ORIGINAL_LOADTXT and np.genfromtxt is ORIGINAL_GENFROMTXT


# ------------------------------------------------------------------ fastetl run
SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np

    print("argv", sys.argv[1:])
    print("module", np.loadtxt.__module__)
    a = np.loadtxt(sys.argv[1], delimiter=",")
    print("sum", repr(a.sum()), a.shape, a.dtype)
    if len(sys.argv) > 2 and sys.argv[2] == "raise":
        raise KeyError("from the script")
    sys.exit(int(sys.argv[2]) if len(sys.argv) > 2 else 0)
    """
)


def _env(**extra):
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("FASTETL_FALLBACK", None)
    env.update(extra)
    return env


@pytest.mark.parametrize("how", [["-m", "fastetl", "run"], ["-m", "fastetl.cli", "run"]])
@pytest.mark.parametrize("tail", [[], ["3"], ["raise"]])
def test_fastetl_run_as_python_runs_it(tmp_path, how, tail):
    data = tmp_path / "data.csv"
    data.write_text("0.1,0.2\n0.3,0.4\n")
    script = tmp_path / "script.py"
    script.write_text(SCRIPT)
    args = [str(script), str(data), *tail]
    plain = subprocess.run([sys.executable, *args], capture_output=True, text=True,
                           env=_env(), cwd=tmp_path, timeout=120)
    ours = subprocess.run([sys.executable, *how, *args], capture_output=True, text=True,
                          env=_env(FASTETL_FALLBACK="error"), cwd=tmp_path, timeout=120)
    assert ours.returncode == plain.returncode
    assert ours.stdout == plain.stdout.replace("module numpy", "module fastetl.dropin.numpy")
    assert "module fastetl.dropin.numpy" in ours.stdout
    assert ours.stderr == plain.stderr  # the same traceback, when there is one


def test_fastetl_run_missing_script(tmp_path):
    r = subprocess.run([sys.executable, "-m", "fastetl", "run", str(tmp_path / "nope.py")],
                       capture_output=True, text=True, env=_env(), timeout=120)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "nope.py" in r.stderr


PANDAS_SCRIPT = textwrap.dedent(
    """
    import sys
    import pandas as pd

    print("module", pd.read_csv.__module__)
    df = pd.read_csv(sys.argv[1])
    print(df.dtypes.to_dict())
    print(df.to_dict("list"))
    """
)


def test_install_answers_pandas_read_csv_only_when_asked():
    """pandas.read_csv is opt-in: install() leaves it alone, install(pandas=True) patches
    it (pandas is imported here already), uninstall() puts it back."""
    pd = pytest.importorskip("pandas")
    original = pd.read_csv
    fastetl.install()
    try:
        assert pd.read_csv is original
    finally:
        fastetl.uninstall()
    fastetl.install(pandas=True)
    try:
        import fastetl.pandas as fpd

        assert pd.read_csv is fpd.read_csv
        fastetl.set_fallback("error")
        got = pd.read_csv(io.StringIO("a,b\n1,x\n2,y\n"))
        pd.testing.assert_frame_equal(got, original(io.StringIO("a,b\n1,x\n2,y\n")), check_exact=True)
    finally:
        fastetl.uninstall()
    assert pd.read_csv is original


@pytest.mark.parametrize("flag", [[], ["--pandas"]])
def test_fastetl_run_patches_pandas_with_the_flag(tmp_path, flag):
    pytest.importorskip("pandas")
    data = tmp_path / "data.csv"
    data.write_text("a,b,c\n1,x,0.5\n2,y,1.25\n")
    script = tmp_path / "script.py"
    script.write_text(PANDAS_SCRIPT)
    plain = subprocess.run([sys.executable, str(script), str(data)], capture_output=True,
                           text=True, env=_env(), cwd=tmp_path, timeout=120)
    ours = subprocess.run([sys.executable, "-m", "fastetl", "run", *flag, str(script), str(data)],
                          capture_output=True, text=True, env=_env(FASTETL_FALLBACK="error"),
                          cwd=tmp_path, timeout=120)
    assert ours.returncode == plain.returncode == 0, ours.stderr
    mine = "fastetl.dropin.pandas" if flag else plain.stdout.splitlines()[0].split()[1]
    assert ours.stdout.splitlines()[0] == f"module {mine}"
    assert ours.stdout.splitlines()[1:] == plain.stdout.splitlines()[1:]  # the same frame
