"""Statistical tests: distances, groups, correlations, differential abundance, classifiers.

Every hypothesis test returns a :class:`TestResult` (built by
:func:`make_result`), so results from different tests can be tabulated and
corrected together (:func:`bh_adjust`).

Public names: :func:`permanova`, :func:`permdisp`, :func:`compare_groups`,
:func:`compare_groups_many`, :func:`bh_adjust`, :func:`spearman_pairs`,
:func:`differential_abundance` (:class:`DifferentialAbundance`),
:func:`cross_validate_forest` (:class:`ClassifierResult`), :func:`fit_final_model`,
:func:`load_classifier` (:class:`FittedClassifier`), :class:`TestResult`,
:func:`make_result`.  The classifier names import scikit-learn on first use.
"""

from typing import Any

from gutaxis.stats._results import TestResult, make_result
from gutaxis.stats.correlation import spearman_pairs
from gutaxis.stats.differential import DifferentialAbundance, differential_abundance
from gutaxis.stats.group_tests import bh_adjust, compare_groups, compare_groups_many
from gutaxis.stats.permanova import permanova
from gutaxis.stats.permdisp import permdisp

__all__ = [
    "permanova", "permdisp", "compare_groups", "compare_groups_many", "bh_adjust",
    "spearman_pairs", "differential_abundance", "DifferentialAbundance",
    "cross_validate_forest", "ClassifierResult", "fit_final_model", "FittedClassifier",
    "load_classifier", "TestResult", "make_result",
]

_CLASSIFIER_NAMES = {"cross_validate_forest", "ClassifierResult", "fit_final_model",
                     "FittedClassifier", "load_classifier"}


def __getattr__(name: str) -> Any:
    # scikit-learn takes about a second to import; only the classifier needs it.
    if name in _CLASSIFIER_NAMES:
        from gutaxis.stats import classifier

        return getattr(classifier, name)
    raise AttributeError(f"module 'gutaxis.stats' has no attribute {name!r}")
