"""Statistical tests: distances, groups, correlations, differential abundance, classifiers.

Every hypothesis test returns a :class:`TestResult` (built by
:func:`make_result`), so results from different tests can be tabulated and
corrected together (:func:`bh_adjust`).

Public names: :func:`permanova`, :func:`permdisp` (with :func:`permutation_design`,
which relabellings repeated subjects allow), :func:`compare_groups`,
:func:`compare_groups_many`, :func:`bh_adjust`, :func:`group_labels`,
:func:`spearman_pairs`, :func:`differential_abundance`
(:class:`DifferentialAbundance`; counts, two groups), :func:`linda`
(:class:`LinDAResult`; counts or proportions, any number of groups or a
continuous variable), :func:`percentile_with_ci`,
:func:`percentiles_with_ci`, :func:`midrank_percentile`,
:func:`cross_validate_forest` (:class:`ClassifierResult`), :func:`fit_final_model`,
:func:`load_classifier` (:class:`FittedClassifier`), :func:`verify_model_file`,
:class:`TestResult`, :func:`make_result`.  The classifier names import
scikit-learn on first use.
"""

from gutaxis.lazy import lazy_attributes as _lazy_attributes
from gutaxis.stats._grouping import group_labels
from gutaxis.stats._permutations import PermutationDesign, permutation_design
from gutaxis.stats._results import TestResult, make_result
from gutaxis.stats.correlation import spearman_pairs
from gutaxis.stats.differential import DifferentialAbundance, differential_abundance
from gutaxis.stats.group_tests import bh_adjust, compare_groups, compare_groups_many
from gutaxis.stats.linda import LinDAResult, linda
from gutaxis.stats.percentile import midrank_percentile, percentile_with_ci, percentiles_with_ci
from gutaxis.stats.permanova import permanova
from gutaxis.stats.permdisp import permdisp

__all__ = [
    "permanova", "permdisp", "permutation_design", "PermutationDesign", "compare_groups",
    "compare_groups_many", "bh_adjust",
    "group_labels", "spearman_pairs", "differential_abundance", "DifferentialAbundance",
    "linda", "LinDAResult",
    "percentile_with_ci", "percentiles_with_ci", "midrank_percentile",
    "cross_validate_forest", "ClassifierResult", "fit_final_model", "FittedClassifier",
    "load_classifier", "verify_model_file", "TestResult", "make_result",
]

#: Names whose modules import scikit-learn (about a second): imported on first use.
_LAZY = {"cross_validate_forest": "classifier", "ClassifierResult": "classifier",
         "fit_final_model": "classifier", "FittedClassifier": "classifier",
         "load_classifier": "classifier", "verify_model_file": "_model_file"}


__getattr__ = _lazy_attributes(__name__, _LAZY)
