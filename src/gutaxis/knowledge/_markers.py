"""The marker catalogue (``markers.yaml``): schema and loader."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Literal

import pydantic

from gutaxis.checks import check_number
from gutaxis.exceptions import ValidationError
from gutaxis.knowledge._loading import load_model

__all__ = ["Source", "Cutoff", "MarkerEntry", "MarkerCatalog", "Link", "LINKS", "classify",
           "load_marker_catalog", "normalise_name"]

_SCHEMA_VERSION = 1

#: The links of the gut–immune chain a marker can inform (``MarkerEntry.link``).
Link = Literal["barrier", "translocation", "inflammation", "mucosal_immunity", "digestion"]
LINKS: tuple[str, ...] = ("barrier", "translocation", "inflammation", "mucosal_immunity",
                          "digestion")


def normalise_name(name: str) -> str:
    """Normalise a column or marker name as it is matched against aliases.

    Lower case, without spaces, ``-``, ``_`` and ``.``: ``"I-FABP"``,
    ``"ifabp"`` and ``"I_FABP"`` all become ``"ifabp"``.
    """
    return re.sub(r"[\s\-_.]+", "", str(name)).casefold()


class Source(pydantic.BaseModel):
    """A citation with at least one resolvable identifier."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    citation: str = pydantic.Field(min_length=5)
    doi: str | None = None
    pmid: str | None = None
    url: str | None = None

    @pydantic.model_validator(mode="after")
    def _has_identifier(self) -> Source:
        if not (self.doi or self.pmid or self.url):
            raise ValueError(f"source {self.citation!r} needs a doi, pmid or url")
        if self.doi is not None and not re.fullmatch(r"10\.\d{4,9}/\S+", self.doi):
            raise ValueError(f"doi {self.doi!r} is not a DOI (10.NNNN/...)")
        if self.pmid is not None and not re.fullmatch(r"\d{1,9}", self.pmid):
            raise ValueError(f"pmid {self.pmid!r} is not a PubMed id (digits)")
        return self


class Cutoff(pydantic.BaseModel):
    """A published cut-off of a marker (see ``cutoffs`` at the top of ``markers.yaml``).

    How a value is placed (:meth:`classify`): above ``high`` → ``"high"``;
    else below ``low`` → ``"low"``; else inside the borderline band →
    ``"borderline"``; else ``"within"``.  A value *equal* to a bound is
    outside it unless the bound is marked inclusive: ``high_inclusive`` makes
    ``value == high`` high ("≥ 120 positive"), ``low_inclusive`` makes
    ``value == low`` low ("≤ 3"), and the band is closed unless
    ``borderline_low_inclusive`` / ``borderline_high_inclusive`` say otherwise
    ("≤ 50 normal; 50.1–120 borderline" is the band (50, 120]).  The bounds
    are stored as the source prints them; ``wording`` keeps the source's
    categories so they can be checked against the numbers.
    """

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    label: str = pydantic.Field(min_length=2)
    wording: str = pydantic.Field(min_length=2)
    unit: str
    low: float | None = pydantic.Field(default=None, ge=0)
    high: float | None = pydantic.Field(default=None, ge=0)
    borderline_low: float | None = pydantic.Field(default=None, ge=0)
    borderline_high: float | None = pydantic.Field(default=None, ge=0)
    low_inclusive: bool = False
    high_inclusive: bool = False
    borderline_low_inclusive: bool = True
    borderline_high_inclusive: bool = True
    population: str
    verified: bool
    default: bool = False
    source: Source

    @pydantic.model_validator(mode="after")
    def _consistent(self) -> Cutoff:
        if self.low is None and self.high is None:
            raise ValueError(f"cut-off {self.label!r} needs low, high or both")
        if self.low is not None and self.high is not None and not self.low < self.high:
            raise ValueError(f"cut-off {self.label!r}: low ({self.low}) must be below "
                             f"high ({self.high})")
        band = (self.borderline_low, self.borderline_high)
        if (band[0] is None) != (band[1] is None):
            raise ValueError(f"cut-off {self.label!r}: give both borderline_low and "
                             "borderline_high, or neither")
        if band[0] is not None and band[1] is not None:
            if not band[0] < band[1]:
                raise ValueError(f"cut-off {self.label!r}: borderline_low ({band[0]}) must be "
                                 f"below borderline_high ({band[1]})")
            if self.low is not None and band[0] < self.low:
                raise ValueError(f"cut-off {self.label!r}: the borderline band starts below low")
            if self.high is not None and band[1] > self.high:
                raise ValueError(f"cut-off {self.label!r}: the borderline band ends above high")
        return self

    @property
    def identifier(self) -> str:
        """``"doi:…"``, ``"pmid:…"`` or the URL of :attr:`source`."""
        src = self.source
        if src.doi:
            return f"doi:{src.doi}"
        if src.pmid:
            return f"pmid:{src.pmid}"
        return str(src.url)

    def classify(self, value: float) -> str:
        """Classify ``value`` (in :attr:`unit`) by the rule in the class docstring.

        The status is ``"low"``, ``"borderline"``, ``"within"`` or ``"high"``.

        Examples
        --------
        >>> c = Cutoff(label="A lab", unit="ug/g",
        ...            wording="≤50 normal; 50.1–120 borderline; ≥120.1 abnormal",
        ...            high=120, borderline_low=50, borderline_high=120,
        ...            borderline_low_inclusive=False, population="all", verified=True,
        ...            source=Source(citation="A lab catalogue", url="https://example.org"))
        >>> [c.classify(v) for v in (50, 50.1, 120, 120.1)]
        ['within', 'borderline', 'borderline', 'high']
        """
        return classify(value, low=self.low, high=self.high,
                        low_inclusive=self.low_inclusive, high_inclusive=self.high_inclusive,
                        band=_band(self))


def _band(cut: Cutoff) -> tuple[float, float, bool, bool] | None:
    if cut.borderline_low is None or cut.borderline_high is None:
        return None
    return (cut.borderline_low, cut.borderline_high, cut.borderline_low_inclusive,
            cut.borderline_high_inclusive)


def classify(value: float, *, low: float | None, high: float | None,
             low_inclusive: bool = False, high_inclusive: bool = False,
             band: tuple[float, float, bool, bool] | None = None) -> str:
    """Place ``value`` against bounds: ``"high"``, ``"low"``, ``"borderline"`` or ``"within"``.

    The rule of :class:`Cutoff`; ``band`` is ``(lower, upper, lower_inclusive,
    upper_inclusive)``.  A lab's reference range is ``low``/``high`` with both
    bounds inside the range (the defaults).

    Parameters
    ----------
    value : float
        A number (±∞ allowed: the open end of a censored value); not NaN.
    low, high : float or None
        The bounds.
    low_inclusive, high_inclusive : bool
        Whether a value equal to the bound is already low / high.
    band : tuple, optional
        The borderline band.

    Returns
    -------
    {"high", "low", "borderline", "within"}

    Raises
    ------
    ValidationError
        ``value`` is not a number, or is NaN (a missing value has no status);
        a bound that is not a number.
    """
    number = check_number(value, "value", finite=False)
    if number is None or math.isnan(number):
        raise ValidationError("value is NaN; a missing value cannot be placed against a range")
    for name, bound in (("low", low), ("high", high)):
        check_number(bound, name, finite=False, allow_none=True)
    if high is not None and (value > high or (high_inclusive and value == high)):
        return "high"
    if low is not None and (value < low or (low_inclusive and value == low)):
        return "low"
    if band is not None:
        lo, hi, lo_inc, hi_inc = band
        above = value > lo or (lo_inc and value == lo)
        below = value < hi or (hi_inc and value == hi)
        if above and below:
            return "borderline"
    return "within"


class MarkerEntry(pydantic.BaseModel):
    """One marker of the catalogue (see the field list at the top of ``markers.yaml``)."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    id: str = pydantic.Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    full_name: str
    specimen: str
    unit: str
    ucum: str | None
    loinc: str | None = pydantic.Field(default=None, pattern=r"^\d{1,7}-\d$")
    aliases: list[str]
    alias_units: dict[str, str] = {}
    indicates: str
    caveats: str
    evidence: str
    sources: list[Source] = pydantic.Field(min_length=1)
    link: Link | None = None
    no_reference_interval: bool = False
    cutoffs: list[Cutoff] = []

    @pydantic.model_validator(mode="after")
    def _alias_units_are_aliases(self) -> MarkerEntry:
        unknown = sorted(set(self.alias_units) - set(self.aliases))
        if unknown:
            raise ValueError(f"alias_units names {unknown} that are not in aliases")
        if self.no_reference_interval and self.cutoffs:
            raise ValueError(f"{self.id}: no_reference_interval is true but cutoffs are given")
        defaults = [c.label for c in self.cutoffs if c.default]
        if self.cutoffs and len(defaults) != 1:
            raise ValueError(f"{self.id}: exactly one cut-off must be marked default: true "
                             f"(got {len(defaults)}: {defaults})")
        return self

    @property
    def default_cutoff(self) -> Cutoff | None:
        """The cut-off a value is judged against when the lab gives no range."""
        return next((c for c in self.cutoffs if c.default), None)


class MarkerCatalog(pydantic.BaseModel):
    """The whole marker file."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    schema_version: int
    version: str
    markers: list[MarkerEntry]

    @pydantic.model_validator(mode="after")
    def _unique(self) -> MarkerCatalog:
        seen: dict[str, str] = {}
        for entry in self.markers:
            for key in {normalise_name(a) for a in [entry.id, entry.name, *entry.aliases]}:
                if key in seen and seen[key] != entry.id:
                    raise ValueError(f"alias {key!r} names both {seen[key]} and {entry.id}")
                seen[key] = entry.id
        if self.schema_version != _SCHEMA_VERSION:
            raise ValueError(f"schema_version {self.schema_version} is not supported "
                             f"(expected {_SCHEMA_VERSION})")
        return self

    def find(self, column: str) -> tuple[MarkerEntry, str | None] | None:
        """Find the entry a column name refers to, and the unit its name carries.

        Returns ``None`` when no entry has the column (or its normalised form)
        as id, name or alias.
        """
        key = normalise_name(column)
        for entry in self.markers:
            for alias in [entry.id, entry.name, *entry.aliases]:
                if normalise_name(alias) == key:
                    return entry, entry.alias_units.get(alias)
        return None


def load_marker_catalog(path: str | Path | None = None) -> MarkerCatalog:
    """Load the marker catalogue: the bundled one, or a file in the same schema.

    Parameters
    ----------
    path : path, optional
        A YAML file in the ``markers.yaml`` schema; by default the catalogue
        shipped with gutaxis.

    Raises
    ------
    FormatError
        The file cannot be read or is not UTF-8 text; not YAML, or an entry that
        breaks the schema (the message names the field).
    """
    return load_model(MarkerCatalog, "markers.yaml", path)
