"""Profiling: statistics, PII detection, an HTML report and stratified samples.

``fastetl.profile(src)`` is :func:`fastetl.profiling.run.profile`; modules:
``stats`` (mergeable accumulators and sketches), ``pii`` (validators, masking),
``fold`` (blocks of records into column states), ``run`` (a CSV through the
pipeline, or an ``.npy``), ``report`` (the JSON and the HTML), ``sample``
(stratified samples and their estimates).
"""

from .fold import Limits
from .report import Profile
from .run import is_npy, profile
from .sample import sample

__all__ = ["Limits", "Profile", "is_npy", "profile", "sample"]
