"""Reference cohorts: freeze a cohort once, place one patient against it.

``build.py`` selects the samples and freezes what a comparison needs
(:func:`build_reference` → :class:`Reference`); ``store.py`` writes it to a
folder and reads it back with its hash checked (:func:`save_reference`,
:func:`load_reference`); ``compare.py`` places one patient's microbiome and
markers against it, with comparability checks (:func:`compare_to_reference`,
:func:`place_markers`).
"""

from gutaxis.reference._model import (
    DISTANCE_QUANTILE,
    MIN_REFERENCE_SAMPLES,
    RECOMMENDED_REFERENCE_SAMPLES,
    Reference,
)
from gutaxis.reference.build import (
    PER_SUBJECT,
    SmallReferenceWarning,
    build_reference,
    check_ranks,
    relative_at,
)
from gutaxis.reference.compare import (
    MIN_VALUES,
    ReferenceComparison,
    compare_to_reference,
    percentile_status,
    place_markers,
)
from gutaxis.reference.store import load_reference, reference_document, save_reference
from gutaxis.selection import query_columns_hint, select_samples  # their home since 0.3

__all__ = [
    "Reference", "build_reference", "save_reference", "load_reference", "reference_document",
    "compare_to_reference", "place_markers", "ReferenceComparison", "percentile_status",
    "select_samples", "query_columns_hint", "check_ranks", "relative_at", "PER_SUBJECT",
    "SmallReferenceWarning", "MIN_VALUES",
    "DISTANCE_QUANTILE", "MIN_REFERENCE_SAMPLES", "RECOMMENDED_REFERENCE_SAMPLES",
]
