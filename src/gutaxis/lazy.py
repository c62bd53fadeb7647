"""Names a package exports but imports only when first used (a module ``__getattr__``).

Used where importing a package would otherwise load slow libraries (numba,
scipy.stats, matplotlib, scikit-learn) that the caller may not need: the
command line builds its options without loading the analysis.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_attributes"]


def lazy_attributes(package: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """Return a module ``__getattr__`` that imports ``package.<homes[name]>`` on first use.

    Parameters
    ----------
    package : str
        The package's name (``__name__``).
    homes : mapping of str to str
        Exported name → the submodule that defines it.

    Returns
    -------
    callable
        Assign it to the package's ``__getattr__``.

    Examples
    --------
    >>> getattr_ = lazy_attributes("gutaxis", {"DistanceMatrix": "distance"})
    >>> getattr_("DistanceMatrix").__name__
    'DistanceMatrix'
    >>> getattr_("nope")
    Traceback (most recent call last):
    ...
    AttributeError: module 'gutaxis' has no attribute 'nope'
    """

    def __getattr__(name: str) -> Any:
        if name in homes:
            return getattr(importlib.import_module(f"{package}.{homes[name]}"), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
