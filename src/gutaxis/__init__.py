"""gutaxis — the gut–immune axis: microbiome and barrier/immune markers together."""

from gutaxis._version import __version__
from gutaxis.distance import DistanceMatrix
from gutaxis.exceptions import GutaxisError
from gutaxis.study import RANKS, Study

__all__ = ["__version__", "Study", "RANKS", "DistanceMatrix", "GutaxisError"]
