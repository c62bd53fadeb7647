"""gutaxis — the gut–immune axis: microbiome and barrier/immune markers together."""

from __future__ import annotations

import typing

from gutaxis._version import __version__
from gutaxis.exceptions import GutaxisError
from gutaxis.lazy import lazy_attributes as _lazy_attributes

if typing.TYPE_CHECKING:
    from gutaxis.distance import DistanceMatrix
    from gutaxis.study import RANKS, Study

__all__ = ["__version__", "Study", "RANKS", "DistanceMatrix", "GutaxisError"]

#: Imported on first use, so that ``import gutaxis.<module>`` (and ``gutaxis --help``)
#: does not load pandas and scipy for modules that do not need them.
_LAZY = {"DistanceMatrix": "distance", "Study": "study", "RANKS": "study"}
__getattr__ = _lazy_attributes(__name__, _LAZY)
