"""``import fastetl`` loads its names at first use (PEP 562): every public name and
submodule is reachable as before, and no attribute probe runs the CLI or loads an
optional package."""

import pkgutil
import subprocess
import sys

import fastetl

# imported by name only: the CLI (importing it runs it) and the optional packages' modules
BY_NAME_ONLY = {"__main__", "pandas", "dask"}


def _fresh(code: str) -> str:
    """``code`` run in a new interpreter (nothing of fastetl imported yet): its stdout."""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_every_public_name_is_its_modules_object():
    import importlib

    for name in fastetl.__all__:
        value = getattr(fastetl, name)
        home = importlib.import_module(value.__module__) if hasattr(value, "__module__") else None
        if home is not None and hasattr(home, name):
            assert getattr(home, name) is value, name


def test_every_submodule_is_an_attribute_in_a_fresh_process():
    names = sorted(m.name for m in pkgutil.iter_modules(fastetl.__path__))
    assert "api" in names and "__main__" in names  # (the listing is the package's own)
    # (``fastetl.export`` is the function; its subpackage: the last test)
    wanted = [n for n in names if n not in BY_NAME_ONLY | {"export"}]
    out = _fresh(
        "import fastetl, types\n"
        f"print(all(isinstance(getattr(fastetl, n), types.ModuleType) for n in {wanted!r}))"
    )
    assert out == "True"


def test_a_probe_runs_no_cli_and_loads_no_optional_package():
    out = _fresh(
        "import sys, fastetl\n"
        "print(hasattr(fastetl, '__main__'), hasattr(fastetl, 'dask'), "
        "hasattr(fastetl, 'no_such_name'), 'fastetl.__main__' in sys.modules, "
        "'fastetl.dask' in sys.modules)"
    )
    assert out == "False False False False False"


def test_export_stays_the_function_after_its_subpackage_is_imported():
    out = _fresh(
        "import fastetl, fastetl.export.parquet, types\n"
        "print(isinstance(fastetl.export, types.FunctionType) or callable(fastetl.export))"
    )
    assert out == "True"


def test_a_pandas_drop_in_read_loads_only_what_it_uses(tmp_path):
    """``import fastetl.pandas`` and a small read load neither the API's outputs (store,
    sidecar, checkpoints, lineage), the reader of converted files, nor the rules: a
    drop-in user pays for those in memory only when they use them.  The read is pandas'
    own frame all the same."""
    path = str(tmp_path / "small.csv")
    with open(path, "w", encoding="utf-8") as f:
        f.write("a,b,c\n1,2.5,x\n3,,y\n")
    unused = ("fastetl.api", "fastetl.store", "fastetl.sidecar", "fastetl.table",
              "fastetl.rules", "fastetl.resume", "fastetl.lineage")
    out = _fresh(
        "import sys, pandas, fastetl.pandas as fpd\n"
        f"got = fpd.read_csv({path!r})\n"
        f"print(sorted(m for m in {unused!r} if m in sys.modules))\n"
        f"pandas.testing.assert_frame_equal(got, pandas.read_csv({path!r}), check_exact=True)"
    )
    assert out == "[]"
