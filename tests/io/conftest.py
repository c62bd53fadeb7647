"""Fixtures for the io tests (builders live in io_builders.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """The bundled data directory (tests using it skip when it is absent)."""
    if not SHARED.is_dir():
        pytest.skip("../shared/data is not available")
    return SHARED.resolve()
