"""The gut–immune chain (``chain.yaml``): the four links, their rules; schema and loader.

The chain is read link by link: dysbiosis → barrier → translocation →
inflammation/immune activation.  Each link names the measures that inform it
and, as data, the rule that calls it "disturbed" (``any_of`` a list of
``{measure, status}`` conditions).  It also says how strong the evidence is for
reading those measures that way, and what is not known, with sources.

Measure references have the form ``"index:<id>"``, ``"taxon:<id>"`` or
``"marker:<id>"``, where ``<id>`` is a knowledge-base id (``taxa.yaml``,
``markers.yaml``) or an index name (``shannon_entropy``, ``gmhi``, ``md_index``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pydantic

from gutaxis.exceptions import NotFoundError
from gutaxis.knowledge._loading import load_model
from gutaxis.knowledge._markers import Source
from gutaxis.measures import JUDGED_STATUSES

__all__ = [
    "LINK_IDS",
    "MEASURE_REF",
    "JUDGED_STATUSES",
    "Condition",
    "LinkRule",
    "ChainLink",
    "PatientWording",
    "PercentileRule",
    "ChainCatalog",
    "load_chain",
    "source_label",
]

_SCHEMA_VERSION = 1

#: The links, in their order along the chain.
LINK_IDS: tuple[str, ...] = ("dysbiosis", "barrier", "translocation", "inflammation")
LinkId = Literal["dysbiosis", "barrier", "translocation", "inflammation"]

#: A measure reference: ``index:<id>``, ``taxon:<id>`` or ``marker:<id>``.
MEASURE_REF = r"^(index|taxon|marker):[a-z][a-z0-9_]*$"


def source_label(source: Source) -> str:
    """One line naming a source and its identifier, as profiles show it.

    Examples
    --------
    >>> source_label(Source(citation="Gevers D et al. Cell Host Microbe 2014;15:382",
    ...                     doi="10.1016/j.chom.2014.02.005"))
    'Gevers D et al. Cell Host Microbe 2014;15:382. doi:10.1016/j.chom.2014.02.005'
    """
    ids = []
    if source.doi:
        ids.append(f"doi:{source.doi}")
    if source.pmid:
        ids.append(f"PMID {source.pmid}")
    if source.url:
        ids.append(source.url)
    return f"{source.citation.rstrip('.')}. {'; '.join(ids)}"


class _Frozen(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)


class Condition(_Frozen):
    """A measure in a given status: ``{measure: "index:shannon_entropy", status: low}``."""

    measure: str = pydantic.Field(pattern=MEASURE_REF)
    status: Literal["low", "high", "borderline"]
    #: Also require the value to be below this number (in the measure's catalogue
    #: unit): for options that rest on a diagnostic threshold rather than on
    #: whatever range judged the value (a lab's interval can call a value "low"
    #: that a guideline calls indeterminate).  The number's source is cited in
    #: the entry that uses it.
    value_below: float | None = None

    def holds(self, status: str, value: float | None) -> bool:
        """Whether a measure with this status and value meets the condition."""
        if status != self.status or value is None:
            return False
        return self.value_below is None or value < self.value_below

    def label(self) -> str:
        """``"index:shannon_entropy=low"``, the form profiles use for a finding."""
        return f"{self.measure}={self.status}"


class LinkRule(_Frozen):
    """When a link is "disturbed".

    ``any_of``: the link is disturbed when at least one condition holds.
    ``min_measured``: when no condition holds, the link is "not disturbed" only
    if at least this many of its measures have a judged status (low, within,
    high, borderline); with fewer it is "not measured".
    """

    any_of: list[Condition] = pydantic.Field(min_length=1)
    min_measured: int = pydantic.Field(default=1, ge=1)


class PatientWording(_Frozen):
    """A link's reading in plain words, for the patient (``patient`` in ``chain.yaml``).

    One sentence per link status; they restate what was compared and how it
    came out, never a diagnosis.
    """

    topic: str = pydantic.Field(min_length=3)
    disturbed: str = pydantic.Field(min_length=10)
    not_disturbed: str = pydantic.Field(min_length=10)
    not_comparable: str = pydantic.Field(min_length=10)
    not_measured: str = pydantic.Field(min_length=10)

    def sentence(self, status: str) -> str:
        """Return the sentence for a link status (``"not disturbed"`` → ``not_disturbed``).

        Parameters
        ----------
        status : {"disturbed", "not disturbed", "not comparable", "not measured"}

        Returns
        -------
        str

        Raises
        ------
        NotFoundError
            Not a link status.
        """
        key = status.replace(" ", "_")
        if key not in ("disturbed", "not_disturbed", "not_comparable", "not_measured"):
            raise NotFoundError("link status", [status], "the chain's patient wording",
                                available=["disturbed", "not disturbed", "not comparable",
                                           "not measured"])
        return str(getattr(self, key))


class ChainLink(_Frozen):
    """One link of the chain (fields described at the top of ``chain.yaml``)."""

    id: LinkId
    label: str = pydantic.Field(min_length=2)
    description: str = pydantic.Field(min_length=10)
    measures: list[str] = pydantic.Field(min_length=1)
    rule: LinkRule
    evidence: str = pydantic.Field(min_length=10)
    unknowns: str = pydantic.Field(min_length=10)
    sources: list[Source] = pydantic.Field(min_length=1)
    patient: PatientWording
    callout: str | None = None

    @pydantic.model_validator(mode="after")
    def _callout_is_evidence(self) -> ChainLink:
        if self.callout is not None and \
                " ".join(self.callout.split()) not in " ".join(self.evidence.split()):
            raise ValueError(f"{self.id}: callout must be a sentence of the link's evidence "
                             "(so that it rests on the link's sources)")
        return self

    @pydantic.field_validator("measures")
    @classmethod
    def _refs(cls, value: list[str]) -> list[str]:
        bad = [m for m in value if not re.fullmatch(MEASURE_REF, m)]
        if bad:
            raise ValueError(f"measure references {bad} are not of the form "
                             "index:<id>, taxon:<id> or marker:<id>")
        if len(set(value)) != len(value):
            raise ValueError("a measure is listed twice")
        return value

    @pydantic.model_validator(mode="after")
    def _rule_uses_listed_measures(self) -> ChainLink:
        unknown = sorted({c.measure for c in self.rule.any_of} - set(self.measures))
        if unknown:
            raise ValueError(f"the rule of {self.id!r} uses {unknown}, which are not in "
                             "its measures list")
        if self.rule.min_measured > len(self.measures):
            raise ValueError(f"min_measured {self.rule.min_measured} exceeds the "
                             f"{len(self.measures)} measures of {self.id!r}")
        return self


class PercentileRule(_Frozen):
    """How an index or taxon is called low/high against the reference cohort.

    ``low`` when the percentile's 95 % interval lies entirely below
    ``low_below``, ``high`` when it lies entirely above ``high_above``, else
    ``within``.  A statistical convention relative to the reference cohort,
    not a clinical cut-off (``note`` says so in the data file).
    """

    low_below: float = pydantic.Field(gt=0, lt=100)
    high_above: float = pydantic.Field(gt=0, lt=100)
    require_ci: bool
    note: str = pydantic.Field(min_length=10)

    @pydantic.model_validator(mode="after")
    def _ordered(self) -> PercentileRule:
        if not self.low_below < self.high_above:
            raise ValueError(f"low_below ({self.low_below}) must be below high_above "
                             f"({self.high_above})")
        return self

    def classify(self, percentile: float | None, ci_low: float | None,
                 ci_high: float | None, *, value: float | None = None,
                 reference: np.ndarray | None = None,
                 ) -> Literal["low", "within", "high", "not comparable"]:
        """Return the status of a reference percentile under this rule.

        Parameters
        ----------
        percentile : float or None
            Position in the reference (0–100).
        ci_low, ci_high : float or None
            Its 95 % interval.  With ``require_ci`` and no interval the value
            cannot be placed: ``"not comparable"``.
        value : float, optional
            The value itself, with ``reference``: see :meth:`interval_status`.
        reference : numpy.ndarray, optional
            The reference cohort's values of the measure.

        Examples
        --------
        >>> rule = load_chain().percentile_rule
        >>> rule.classify(2.0, 0.5, 4.0), rule.classify(3.0, 1.0, 8.0)
        ('low', 'within')
        """
        if percentile is None:
            return "not comparable"
        if ci_low is None or ci_high is None:
            if self.require_ci:
                return "not comparable"
            ci_low = ci_high = percentile
        return self.interval_status(ci_low, ci_high, value=value, reference=reference)

    def interval_status(self, ci_low: float, ci_high: float, *, value: float | None = None,
                        reference: np.ndarray | None = None) -> Literal["low", "within", "high"]:
        """Return ``"low"``, ``"within"`` or ``"high"`` for a percentile's interval.

        ``low`` when the whole interval lies below ``low_below``, ``high``
        when it lies above ``high_above``.  Given the value and the
        reference's values, ``low``/``high`` also needs the value to lie
        strictly beyond the reference's ``low_below``/``high_above``
        percentile value (the ``ties`` clause of the rule's note): a value
        tied with the bottom of the reference — an absent taxon when a few
        reference samples lack it too — has a mid-rank interval below 5 but
        is not below the range shown next to it.

        Parameters
        ----------
        ci_low, ci_high : float
            The interval (0–100).
        value : float, optional
        reference : numpy.ndarray, optional
            NaN values are ignored; ±∞ are values like any other (an MD-index
            of −∞), as in the percentile (see :meth:`values_at`).

        Returns
        -------
        {"low", "within", "high"}

        Examples
        --------
        >>> import numpy as np
        >>> rule = load_chain().percentile_rule
        >>> rule.interval_status(1.5, 4.75)
        'low'
        >>> rule.interval_status(1.5, 4.75, value=0.0, reference=np.r_[0.0, 0.0, np.arange(1, 19)])
        'within'
        """
        low = high = None
        if value is not None and reference is not None:
            low, high = self.bounds(reference)
        if ci_high < self.low_below:
            if low is None or value is None or value < low:
                return "low"
        if ci_low > self.high_above:
            if high is None or value is None or value > high:
                return "high"
        return "within"

    def bounds(self, reference: np.ndarray) -> tuple[float | None, float | None]:
        """Return the reference's values at ``low_below`` and ``high_above``.

        Parameters
        ----------
        reference : numpy.ndarray
            NaN values are ignored; ±∞ count (see :meth:`values_at`).

        Returns
        -------
        (float or None, float or None)
            None when the reference has no value, or when the value at that
            percentile is not defined (between −∞ and +∞).

        Examples
        --------
        >>> rule = load_chain().percentile_rule
        >>> rule.bounds(np.r_[-np.inf, -np.inf, np.arange(18.0)])
        (-inf, 16.05)
        """
        low, high = self.values_at(reference, [self.low_below, self.high_above])
        return (None if np.isnan(low) else float(low), None if np.isnan(high) else float(high))

    @staticmethod
    def values_at(reference: np.ndarray, percentiles: Sequence[float]) -> np.ndarray:
        """Return the reference's values at ``percentiles`` (0–100), infinities included.

        The linear interpolation of :func:`numpy.percentile` between the two
        order statistics around each percentile, with its infinite cases
        decided rather than left to ``inf − inf``: between −∞ and a finite
        value (with any weight on −∞) the value is −∞, likewise +∞ at the
        top; two equal infinities give that infinity; only between −∞ and +∞
        is the value undefined (NaN).  NaN reference values are ignored.

        Parameters
        ----------
        reference : numpy.ndarray
        percentiles : sequence of float

        Returns
        -------
        numpy.ndarray
            One value per percentile; all NaN when the reference has no value.

        Examples
        --------
        >>> PercentileRule.values_at(np.r_[-np.inf, 0.0, 1.0, 2.0], [0, 20, 50, 100]).tolist()
        [-inf, -inf, 0.5, 2.0]
        """
        ref = np.asarray(reference, dtype=np.float64)
        ref = np.sort(ref[~np.isnan(ref)])
        q = np.asarray(percentiles, dtype=np.float64)
        if not ref.size:
            return np.full(q.shape, np.nan)
        finite = np.isfinite(ref)
        if finite.all():
            return np.asarray(np.percentile(ref, q), dtype=np.float64)
        position = (ref.size - 1) * q / 100.0
        below = np.floor(position).astype(int)
        above = np.minimum(below + 1, ref.size - 1)
        weight = position - below
        a, b = ref[below], ref[above]
        out = np.empty(q.shape, dtype=np.float64)
        both = np.isfinite(a) & np.isfinite(b)
        if both.any():  # numpy's own interpolation, as for an all-finite reference
            out[both] = np.percentile(ref, q[both])
        at_a = ~both & ((weight == 0) | (a == b))
        out[at_a] = a[at_a]
        rest = ~both & ~at_a
        out[rest & (a == -np.inf) & (b != np.inf)] = -np.inf
        out[rest & (b == np.inf) & (a != -np.inf)] = np.inf
        out[rest & (a == -np.inf) & (b == np.inf)] = np.nan  # −∞ + ∞: not defined
        return out

    def label(self) -> str:
        """Return ``"5th–95th percentile"`` for this rule.

        Returns
        -------
        str
        """
        return f"{self.low_below:g}th–{self.high_above:g}th percentile"


class ChainCatalog(_Frozen):
    """The whole chain file."""

    schema_version: int
    version: str
    profile_notice: str = pydantic.Field(min_length=20)
    percentile_rule: PercentileRule
    links: list[ChainLink] = pydantic.Field(min_length=1)

    @pydantic.model_validator(mode="after")
    def _check(self) -> ChainCatalog:
        if self.schema_version != _SCHEMA_VERSION:
            raise ValueError(f"schema_version {self.schema_version} is not supported "
                             f"(expected {_SCHEMA_VERSION})")
        ids = [link.id for link in self.links]
        if len(set(ids)) != len(ids):
            raise ValueError(f"link ids must be unique; got {ids}")
        if ids != sorted(ids, key=LINK_IDS.index):
            raise ValueError(f"links must follow the chain order {list(LINK_IDS)}; got {ids}")
        return self

    def link(self, link_id: str) -> ChainLink:
        """Return the link with this id.

        Parameters
        ----------
        link_id : str
            One of :data:`LINK_IDS`.

        Returns
        -------
        ChainLink

        Raises
        ------
        NotFoundError
            No such link (the message lists the valid ids).
        """
        for entry in self.links:
            if entry.id == link_id:
                return entry
        raise NotFoundError("chain link", [link_id], "the chain",
                            available=[e.id for e in self.links])


def load_chain(path: str | Path | None = None) -> ChainCatalog:
    """Load the gut–immune chain: the bundled one, or a file in the same schema.

    Parameters
    ----------
    path : path, optional
        A YAML file in the ``chain.yaml`` schema; by default the chain shipped
        with gutaxis.

    Raises
    ------
    FormatError
        The file cannot be read or is not UTF-8 text; not YAML, or a link that
        breaks the schema (the message names the field).

    Examples
    --------
    >>> [link.id for link in load_chain().links]
    ['dysbiosis', 'barrier', 'translocation', 'inflammation']
    """
    return load_model(ChainCatalog, "chain.yaml", path)
