"""Reports: the cohort report and the patient profile, as the files people open.

The cohort analysis (:class:`~gutaxis.cohort.CohortAnalysis`) becomes
``results.json`` and TSV tables (:mod:`.results`) and a self-contained HTML page
(:mod:`.cohort_page`); a patient's :class:`~gutaxis.profile.Profile` becomes
``profile.json``, a self-contained HTML page and a PDF (:mod:`.profile_page`).
Both pages draw their figures with the shared conventions of
:mod:`.figures` and write numbers with :mod:`gutaxis.formatting`; nothing
here computes a statistic.
"""

from __future__ import annotations

import typing

from gutaxis.lazy import lazy_attributes as _lazy_attributes

if typing.TYPE_CHECKING:
    from gutaxis.report.cohort_page import render_report, write_report
    from gutaxis.report.figures import figure_to_svg, group_colours
    from gutaxis.report.profile_page import (
        PROFILE_FILES,
        profile_document,
        profile_schema,
        render_profile_html,
        write_profile,
        write_profile_pdf,
    )
    from gutaxis.report.results import (
        RESULT_FILES,
        results_document,
        results_schema,
        write_results,
    )

__all__ = [
    "write_report", "render_report", "results_document", "results_schema", "write_results",
    "RESULT_FILES", "profile_document", "profile_schema", "render_profile_html",
    "write_profile", "write_profile_pdf", "PROFILE_FILES", "figure_to_svg", "group_colours",
]

#: Where each name lives; a module is imported when one of its names is first used, so
#: that importing the package (and the command line) does not load matplotlib or Jinja2.
_LAZY = {
    "write_report": "cohort_page", "render_report": "cohort_page",
    "results_document": "results", "results_schema": "results", "write_results": "results",
    "RESULT_FILES": "results", "profile_document": "profile_page",
    "profile_schema": "profile_page", "render_profile_html": "profile_page",
    "write_profile": "profile_page", "write_profile_pdf": "profile_page",
    "PROFILE_FILES": "profile_page",
    "figure_to_svg": "figures", "group_colours": "figures",
}


__getattr__ = _lazy_attributes(__name__, _LAZY)
