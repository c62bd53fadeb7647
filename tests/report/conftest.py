"""Fixtures for the report tests (builders live in report_builders.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from builders.report import make_analysis
from gutaxis.cohort import CohortAnalysis


@pytest.fixture
def make() -> Callable[..., CohortAnalysis]:
    return make_analysis


@pytest.fixture(scope="module")
def full() -> CohortAnalysis:
    return make_analysis()


@pytest.fixture(scope="module")
def bare() -> CohortAnalysis:
    """No markers, no differential abundance, no classifier."""
    return make_analysis(with_markers=False, with_da=False, with_classifier=False)
