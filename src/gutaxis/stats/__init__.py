"""Statistical tests on distance matrices and diversity values.

Every test returns a :class:`TestResult` (built by :func:`make_result`), so
results from different tests can be tabulated and corrected together.

Public names: :func:`permanova`, :class:`TestResult`, :func:`make_result`.
"""

from gutaxis.stats._results import TestResult, make_result
from gutaxis.stats.permanova import permanova

__all__ = ["permanova", "TestResult", "make_result"]
