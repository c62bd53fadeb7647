"""Fixtures for the io tests (builders live in tests/builders/io.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gutaxis.io import ExampleDataset, example_dataset


@pytest.fixture
def bundled() -> ExampleDataset:
    """The example study shipped with gutaxis (read through the package, never ../shared)."""
    return example_dataset()


@pytest.fixture
def gmhi_example() -> Path:
    """The GMHI authors' MetaPhlAn2 example table (tests/indices/data, see its PROVENANCE.md)."""
    data = Path(__file__).parents[1] / "indices" / "data"
    return data / "example_species_relative_abundances.csv"
