"""Build the compiled core.

Compiler directives live here and only here.  Environment switches:

* ``FASTETL_DEBUG=1``    -- boundscheck, linetrace, annotated HTML, ``-O0 -g``.
* ``FASTETL_SANITIZE=1`` -- AddressSanitizer + UndefinedBehaviorSanitizer (gcc/clang).
* ``FASTETL_PORTABLE=1`` -- compile out every platform-specific fast path, so the
  portable fallbacks are what runs (the test suite must pass both ways).
"""

import os
import sys

from Cython.Build import cythonize
from setuptools import Extension, setup


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


DEBUG = _flag("FASTETL_DEBUG")
SANITIZE = _flag("FASTETL_SANITIZE")
PORTABLE = _flag("FASTETL_PORTABLE")
MSVC = sys.platform == "win32"

directives = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": False,
    "cdivision": True,
    "initializedcheck": DEBUG,
    "freethreading_compatible": True,
    "embedsignature": True,
}
define_macros = []
extra_compile_args = []
extra_link_args = []

if DEBUG:
    directives["linetrace"] = True
    define_macros += [("CYTHON_TRACE_NOGIL", "1")]
    extra_compile_args += ["/Od", "/Zi"] if MSVC else ["-O0", "-g"]
elif MSVC:
    extra_compile_args += ["/O2"]
else:
    extra_compile_args += ["-O3"]

if SANITIZE and not MSVC:
    san = [
        "-fsanitize=address,undefined",
        "-fno-omit-frame-pointer",
        "-fno-sanitize-recover=undefined",
    ]
    extra_compile_args += san + ["-g"]
    extra_link_args += san

if PORTABLE:
    define_macros += [("FASTETL_PORTABLE", "1")]

extensions = [
    Extension(
        "fastetl._core",
        sources=["src/fastetl/_core.pyx"],
        include_dirs=["src/fastetl"],
        define_macros=define_macros,
        extra_compile_args=extra_compile_args,
        extra_link_args=extra_link_args,
    )
]

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives=directives,
        annotate=DEBUG,
        include_path=["src/fastetl"],
    ),
)
