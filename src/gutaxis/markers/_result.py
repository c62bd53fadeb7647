"""One marker value of one sample, as reported: :class:`MarkerResult`."""

from __future__ import annotations

import dataclasses

from gutaxis.checks import check_number
from gutaxis.knowledge import MarkerEntry
from gutaxis.measures import Censoring, measure_id

__all__ = ["MarkerResult"]


@dataclasses.dataclass(frozen=True)
class MarkerResult:
    """One marker value of one sample, with what came with it.

    The one shape in which a patient's marker reaches the profile, whether it
    came from a ``LABS.csv`` row (:meth:`gutaxis.markers.LabResults.results`)
    or from a metadata column (:meth:`gutaxis.markers.MarkerPanel.results`).

    Attributes
    ----------
    name : str
        Display name (the catalogue's name when the catalogue knows it).
    entry : MarkerEntry or None
        The catalogue entry; ``None`` for a marker the catalogue does not know.
    value : float
        In ``unit``; for a censored result, the assay's limit.
    unit : str
        Canonical spelling.
    censored : {"<", ">"} or None
        Reported only as below / above the assay's limit.
    ref_low, ref_high : float or None
        The range the laboratory printed with the result, in ``unit``.
    assay : str or None
        The assay or kit.
    origin : str
        Where the value was read (``"labs.csv: line 3: reported as <0.5 ng/mL"``,
        ``"metadata column LPSpgml"``).

    Raises
    ------
    ValidationError
        ``value``, ``ref_low`` or ``ref_high`` is not a number (a text...);
        whether the numbers make sense is judged by
        :func:`~gutaxis.markers.interpret_result`.
    """

    name: str
    entry: MarkerEntry | None
    value: float
    unit: str
    censored: Censoring | None = None
    ref_low: float | None = None
    ref_high: float | None = None
    assay: str | None = None
    origin: str = ""

    def __post_init__(self) -> None:
        """Check that the value and the lab's limits are numbers."""
        check_number(self.value, f"marker {self.name}: value", finite=False)
        for field in ("ref_low", "ref_high"):
            check_number(getattr(self, field), f"marker {self.name}: {field}", finite=False,
                         allow_none=True)

    @property
    def catalog_id(self) -> str | None:
        """The catalogue id, or ``None``."""
        return None if self.entry is None else self.entry.id

    @property
    def measure_id(self) -> str:
        """The id of the measure this result becomes (``"marker:<catalogue id or name>"``)."""
        return measure_id("marker", self.catalog_id or self.name)
