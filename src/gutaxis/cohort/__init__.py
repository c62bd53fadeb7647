"""Cohort analysis: :func:`analyze_cohort` turns a study into one :class:`CohortAnalysis`.

- :mod:`gutaxis.cohort.parameters` — :class:`CohortParameters` and the
  defaults (light: the command line reads its defaults from it);
- :mod:`gutaxis.cohort.analysis` — :func:`analyze_cohort`, step by step, and
  :class:`CohortAnalysis`.

The analysis module is imported when one of its names is first used, so that
``import gutaxis.cohort`` (and ``gutaxis --help``) does not load the
statistics, the diversity kernels or the plotting libraries.
"""

from __future__ import annotations

import typing

from gutaxis.cohort.parameters import (
    DEFAULT_ALPHA,
    DEFAULT_BETA,
    FEATURE_SETS,
    CohortParameters,
    FoldCallback,
    StepCallback,
)
from gutaxis.lazy import lazy_attributes as _lazy_attributes

if typing.TYPE_CHECKING:
    from gutaxis.cohort.analysis import CohortAnalysis, analyze_cohort, check_cohort

__all__ = ["CohortParameters", "CohortAnalysis", "analyze_cohort", "check_cohort",
           "DEFAULT_ALPHA", "DEFAULT_BETA", "FEATURE_SETS", "StepCallback", "FoldCallback"]

#: Imported from :mod:`gutaxis.cohort.analysis` on first use.
_LAZY = {"CohortAnalysis": "analysis", "analyze_cohort": "analysis", "check_cohort": "analysis"}

__getattr__ = _lazy_attributes(__name__, _LAZY)
