"""Alpha and beta diversity, rarefaction — QIIME 2's definitions, fast kernels.

Public names: :func:`alpha_diversity`, :func:`beta_diversity`,
:func:`rarefy`, :func:`alpha_metrics`, :func:`beta_metrics`.
"""

from gutaxis.diversity import alpha as _alpha  # noqa: F401  (registers metrics)
from gutaxis.diversity import beta as _beta  # noqa: F401
from gutaxis.diversity import faith_unifrac as _faith_unifrac  # noqa: F401
from gutaxis.diversity._driver import alpha_diversity, applicable_metrics, beta_diversity
from gutaxis.diversity._registry import (
    alpha_metrics,
    beta_metrics,
    get_alpha_metric,
    get_beta_metric,
    split_metrics,
)
from gutaxis.diversity.rarefy import RarefactionResult, rarefy

__all__ = [
    "alpha_diversity",
    "beta_diversity",
    "applicable_metrics",
    "alpha_metrics",
    "beta_metrics",
    "get_alpha_metric",
    "get_beta_metric",
    "split_metrics",
    "rarefy",
    "RarefactionResult",
]
