"""Drop-in replacements for the readers people already call.

``numpy.py`` (``loadtxt``, ``genfromtxt``), ``pandas.py`` (``read_csv``),
``fallback.py`` (what happens when a call cannot be answered on fastetl's own
path) and ``accelerate.py`` (``fastetl run`` / ``fastetl.install()``).
"""
