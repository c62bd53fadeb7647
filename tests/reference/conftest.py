"""The reference tests' cohort: 60 synthetic controls and 10 patients, one LPS column."""

from __future__ import annotations

import pytest

from builders.reference import synthetic_study
from gutaxis.markers import MarkerPanel, marker_panel
from gutaxis.reference import Reference, build_reference
from gutaxis.study import Study


@pytest.fixture(scope="module")
def study() -> Study:
    return synthetic_study()


@pytest.fixture(scope="module")
def panel(study: Study) -> MarkerPanel:
    return marker_panel(study.samples, ["LPSpgml"])


@pytest.fixture(scope="module")
def reference(study: Study, panel: MarkerPanel) -> Reference:
    return build_reference(study, name="synthetic controls", where="Subject == 'Control'",
                           markers=panel, sequencing="16S V4")
