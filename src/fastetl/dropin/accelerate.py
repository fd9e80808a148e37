"""Zero-edit acceleration: :func:`install`, :func:`uninstall` and ``fastetl run``.

:func:`install` points ``numpy.loadtxt`` and ``numpy.genfromtxt`` at fastetl's
drop-ins, and with ``pandas=True`` ``pandas.read_csv`` at
``fastetl.dropin.pandas.read_csv`` -- at once if pandas is already imported, else the
moment the program imports pandas (an import hook), so a numpy-only script never pays
for importing pandas.  :func:`uninstall` puts the originals back.

:func:`run_script` runs a script as ``python SCRIPT ARGS...`` would (``__main__``,
``sys.argv``, the script's folder first on ``sys.path``), with the drop-ins
installed, and returns the exit code Python would give.
"""

from __future__ import annotations

import builtins
import importlib
import importlib.util
import io
import os
import sys
import traceback
import types
from typing import Any

import numpy as np

from . import numpy as _np_dropin

_PANDAS_DROPIN = "fastetl.dropin.pandas"
# (module, attribute) -> the original, for what install() replaced
_saved: dict[tuple[Any, str], Any] = {}
_hook: _PandasHook | None = None


def _patch(module: Any, name: str, new: Any) -> None:
    key = (module, name)
    if key not in _saved:
        _saved[key] = getattr(module, name)
    setattr(module, name, new)


def _has_pandas_dropin() -> bool:
    try:
        return importlib.util.find_spec(_PANDAS_DROPIN) is not None
    except (ImportError, ValueError):
        return False


def _patch_pandas(pandas: Any) -> None:
    # the drop-in module is imported before the patch, so that it keeps the original
    dropin = importlib.import_module(_PANDAS_DROPIN)
    _patch(pandas, "read_csv", dropin.read_csv)


class _PandasHook:
    """A meta-path finder that patches ``pandas.read_csv`` right after pandas is imported."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name != "pandas":
            return None
        sys.meta_path.remove(self)  # find the real pandas, once
        try:
            spec = importlib.util.find_spec("pandas")
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return None
        loader = spec.loader
        exec_module = loader.exec_module

        def exec_and_patch(module: Any) -> None:
            exec_module(module)
            if self in sys.meta_path:  # still installed
                _patch_pandas(module)

        loader.exec_module = exec_and_patch  # type: ignore[method-assign]
        return spec


def install(*, pandas: bool = False) -> None:
    """Answer ``numpy.loadtxt`` and ``numpy.genfromtxt`` with fastetl's drop-ins in this
    process, and with ``pandas=True`` ``pandas.read_csv`` too.  (pandas is opt-in while
    its drop-in is slower than pandas' own C engine on common files: README, Drop-in.)"""
    global _hook
    _patch(np, "loadtxt", _np_dropin.loadtxt)
    _patch(np, "genfromtxt", _np_dropin.genfromtxt)
    if not pandas or not _has_pandas_dropin():
        return
    if "pandas" in sys.modules:
        _patch_pandas(sys.modules["pandas"])
    elif _hook is None:
        _hook = _PandasHook()
        sys.meta_path.insert(0, _hook)


def uninstall() -> None:
    """Put back every function :func:`install` replaced."""
    global _hook
    if _hook is not None:
        if _hook in sys.meta_path:
            sys.meta_path.remove(_hook)
        _hook = None
    for (module, name), original in _saved.items():
        setattr(module, name, original)
    _saved.clear()


def installed() -> bool:
    """True while :func:`install` is in force."""
    return bool(_saved) or _hook is not None


def _print_exception(e: BaseException, script: str) -> None:
    """The traceback as ``python SCRIPT`` prints it: from the script's frames on."""
    tb = e.__traceback__
    target = os.path.realpath(script)
    while tb is not None and os.path.realpath(tb.tb_frame.f_code.co_filename) != target:
        tb = tb.tb_next
    traceback.print_exception(type(e), e, tb if tb is not None else e.__traceback__)


def _exit_code(e: SystemExit) -> int:
    """What the interpreter makes of ``SystemExit(code)``."""
    code = e.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF if code >= 0 else code % 256
    print(code, file=sys.stderr)
    return 1


def _run_main(script: str) -> None:
    """Execute ``script`` as the ``__main__`` module, as the interpreter does: ``__file__``
    absolute, ``sys.argv[0]`` as given (``runpy.run_path`` would make both the same)."""
    path = os.path.abspath(script)
    with io.open_code(path) as fh:
        source = fh.read()
    code = compile(source, path, "exec", dont_inherit=True)
    main = types.ModuleType("__main__")
    main.__file__ = path
    main.__cached__ = None  # type: ignore[attr-defined]
    main.__builtins__ = builtins  # type: ignore[attr-defined]
    sys.modules["__main__"] = main
    exec(code, main.__dict__)


def run_script(script: str, args: list[str], *, pandas: bool = False) -> int:
    """Run ``script`` as ``python script *args`` does, with the drop-ins installed
    (``pandas``: ``pandas.read_csv`` too, see :func:`install`); returns the exit code.
    Exceptions the script raises print their traceback."""
    argv, path0 = sys.argv[:], sys.path[0] if sys.path else None
    sys.argv = [script, *args]
    folder = os.path.dirname(os.path.realpath(script))
    if sys.path:
        sys.path[0] = folder
    else:
        sys.path.insert(0, folder)
    main_before = sys.modules.get("__main__")
    install(pandas=pandas)
    try:
        _run_main(script)
        return 0
    except SystemExit as e:
        return _exit_code(e)
    except KeyboardInterrupt as e:
        _print_exception(e, script)
        return 130
    except BaseException as e:
        _print_exception(e, script)
        return 1
    finally:
        uninstall()
        if main_before is not None:
            sys.modules["__main__"] = main_before
        sys.argv = argv
        if path0 is not None:
            sys.path[0] = path0
        sys.stdout.flush()
