"""Reports: the cohort report and the patient profile, as the files people open.

The cohort analysis (:class:`~gutaxis.cohort.CohortAnalysis`) becomes
``results.json`` and TSV tables (:mod:`.results`) and a self-contained HTML page
(:mod:`.cohort_page`); a patient's :class:`~gutaxis.profile.Profile` becomes
``profile.json``, a self-contained HTML page and a PDF (:mod:`.profile_page`).
Both pages draw their figures with the shared conventions of
:mod:`.figures` and write numbers with :mod:`gutaxis.formatting`; nothing
here computes a statistic.
"""

from gutaxis.report.cohort_page import render_report, write_report
from gutaxis.report.figures import figure_to_svg, group_colours
from gutaxis.report.profile_page import (
    PROFILE_FILES,
    profile_document,
    profile_schema,
    render_profile_html,
    write_profile,
)
from gutaxis.report.results import RESULT_FILES, results_document, results_schema, write_results

__all__ = [
    "write_report", "render_report", "results_document", "results_schema", "write_results",
    "RESULT_FILES", "profile_document", "profile_schema", "render_profile_html",
    "write_profile", "PROFILE_FILES", "figure_to_svg", "group_colours",
]
