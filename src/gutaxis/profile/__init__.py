"""One patient's gut–immune profile against a reference cohort.

Steps (each a module): markers are judged and placed (``build.assess_markers``,
with :mod:`gutaxis.reference` placing values in the reference cohort),
``chain`` (the gut–immune chain, link by link, from knowledge-base rules),
``options`` (evidence-graded options traced to findings), ``visits`` (the
previous visit, read back from its ``profile.json``), ``followup`` (change
between visits), ``summary`` (the first screen), and ``build`` joins them into
a :class:`Profile`.  The shared shapes are in ``_model`` (and
:mod:`gutaxis.measures`).  Rendering a profile (JSON, HTML, PDF) is
:mod:`gutaxis.report`'s.
"""

from gutaxis.profile._model import (
    PROFILE_SCHEMA_VERSION,
    FollowupRow,
    LinkAssessment,
    LinkStatus,
    Option,
    Profile,
    Summary,
    Visit,
)
from gutaxis.profile.build import TOP_TAXA, assess_markers, build_profile, patient_markers
from gutaxis.profile.chain import assess_chain, measures_by_id
from gutaxis.profile.followup import (
    MAD_SCALE,
    MIN_REFERENCE_VALUES,
    Z_95,
    compare_visits,
    critical_difference,
    robust_sd,
)
from gutaxis.profile.options import UNVERIFIED_PREFIX, select_options
from gutaxis.profile.summary import LINK_STATUS_TEXT, summarise
from gutaxis.profile.visits import read_visit, visit_from_document

__all__ = [
    "Profile", "LinkAssessment", "LinkStatus", "Option", "FollowupRow", "Visit", "Summary",
    "PROFILE_SCHEMA_VERSION", "build_profile", "assess_markers", "patient_markers", "TOP_TAXA",
    "assess_chain", "measures_by_id", "select_options", "UNVERIFIED_PREFIX", "compare_visits",
    "robust_sd", "critical_difference", "Z_95", "MAD_SCALE", "MIN_REFERENCE_VALUES",
    "read_visit", "visit_from_document", "summarise", "LINK_STATUS_TEXT",
]
