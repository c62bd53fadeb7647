"""The shapes of one patient's measures, shared by ``markers``, ``reference`` and ``profile``.

A :class:`Measure` is one value of the patient — an index, a key taxon or a lab
marker — with the status it was given and the range (:class:`RangeUsed`) it was
judged against.  Its ``id`` always carries its kind as a prefix
(``"index:shannon_entropy"``, ``"taxon:faecalibacterium"``, ``"marker:lps"``),
the same references the knowledge base's rules use, so no layer translates ids.
An :class:`Alert` says why (part of) a profile must be read with care.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal, get_args

from gutaxis.checks import check_names, check_number
from gutaxis.exceptions import ValidationError

__all__ = ["Measure", "RangeUsed", "Alert", "Status", "MeasureKind", "Censoring", "AlertScope",
           "MEASURE_KINDS", "STATUSES", "JUDGED_STATUSES", "measure_id"]

#: Where a value stands.  ``"not measured"``: no value; ``"not comparable"``:
#: a value exists but nothing can place it (no range, a reference that is not
#: comparable, a censored value whose limit does not decide) — no percentile then.
Status = Literal["low", "within", "high", "borderline", "not measured", "not comparable"]
#: What a measure is.
MeasureKind = Literal["index", "taxon", "marker"]
#: A lab value reported only as below (``"<"``) or above (``">"``) an assay limit.
Censoring = Literal["<", ">"]
#: What an alert concerns: the comparison with the reference, or the follow-up.
AlertScope = Literal["reference", "followup"]

MEASURE_KINDS: tuple[str, ...] = get_args(MeasureKind)
STATUSES: tuple[str, ...] = get_args(Status)
#: The statuses that place a value (low, within, high, borderline).
JUDGED_STATUSES: frozenset[str] = frozenset({"low", "within", "high", "borderline"})


def measure_id(kind: str, key: str) -> str:
    """Return the id of a measure: its kind, a colon, its key.

    Parameters
    ----------
    kind : {"index", "taxon", "marker"}
    key : str
        The index name or knowledge-base id (``"shannon_entropy"``, ``"lps"``).

    Returns
    -------
    str

    Raises
    ------
    ValidationError
        An unknown kind or an empty key.

    Examples
    --------
    >>> measure_id("index", "gmhi")
    'index:gmhi'
    """
    if kind not in MEASURE_KINDS:
        raise ValidationError(f"measure kind must be one of {', '.join(MEASURE_KINDS)}; "
                              f"got {kind!r}")
    if not isinstance(key, str) or not key:
        raise ValidationError(f"a measure needs a non-empty key; got {key!r}")
    return f"{kind}:{key}"


@dataclasses.dataclass(frozen=True)
class RangeUsed:
    """The range a value was judged against, and where it came from.

    Attributes
    ----------
    kind : {"lab", "catalogue", "reference"}
        ``"lab"``: the range printed with the result (it wins);
        ``"catalogue"``: a published cut-off from the knowledge base
        (``source`` names it); ``"reference"``: percentiles of the reference
        cohort.
    low, high : float or None
        The range's ends, in the measure's unit.
    source : str
        Where the range comes from.
    borderline_high : float or None
        Where a borderline band below ``high`` starts (calprotectin 50 of 50–120).
    label : str
        What the range is, in words.
    """

    kind: Literal["lab", "catalogue", "reference"]
    low: float | None
    high: float | None
    source: str
    borderline_high: float | None = None
    label: str = ""


@dataclasses.dataclass(frozen=True)
class Measure:
    """One measure of the patient.

    Attributes
    ----------
    id : str
        ``"<kind>:<key>"``: ``"index:shannon_entropy"``, ``"index:gmhi"``,
        ``"taxon:<kb id>"``, ``"marker:<kb id>"`` (see :func:`measure_id`).
    label : str
        Display name.
    kind : {"index", "taxon", "marker"}
        The prefix of ``id``.
    value : float or None
        In ``unit``; ``None`` when not measured / not applicable.  For a
        censored value, the assay's limit.
    unit : str
        ``""`` for unitless indices; relative abundances are fractions (``"fraction"``).
    status : Status
    percentile, ci_low, ci_high : float or None
        Position in the reference (0–100) with its bootstrap 95 % interval.
    reference_n : int or None
        Reference samples the percentile is based on.
    range_used : RangeUsed or None
    caveats : tuple of str
    notes : tuple of str
        Why a value is missing/not applicable/not comparable, unit conversions made…
    censored : {"<", ">"} or None
        The lab reported the value only as below / above an assay limit;
        ``value`` is then the limit, not a measurement, and no percentile is given.

    Raises
    ------
    ValidationError
        An id whose prefix is not its kind, a status that is not a
        :data:`Status`, a value, percentile or interval end that is not a
        number (or None), a censored value with a percentile.

    Examples
    --------
    >>> m = Measure("marker:lps", "LPS", "marker", 500.0, "pg/mL", "not comparable",
    ...             censored="<")
    >>> m.key, m.censored, m.value
    ('lps', '<', 500.0)
    """

    id: str
    label: str
    kind: MeasureKind
    value: float | None
    unit: str
    status: Status
    percentile: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    reference_n: int | None = None
    range_used: RangeUsed | None = None
    caveats: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    censored: Censoring | None = None

    def __post_init__(self) -> None:
        """Check the id, the status, the numbers and the censoring."""
        prefix, sep, key = str(self.id).partition(":")
        if not sep or not key or prefix != self.kind:
            raise ValidationError(f"measure id {self.id!r} must be '{self.kind}:<key>' (its "
                                  f"kind, a colon, its key)")
        if self.status not in STATUSES:
            raise ValidationError(f"measure {self.id}: status must be one of "
                                  f"{', '.join(STATUSES)}; got {self.status!r}")
        for field in ("value", "percentile", "ci_low", "ci_high"):
            check_number(getattr(self, field), f"measure {self.id}: {field}", finite=False,
                         allow_none=True)
        if self.censored not in (None, "<", ">"):
            raise ValidationError(f"measure {self.id}: censored must be '<', '>' or None; "
                                  f"got {self.censored!r}")
        if self.censored is not None and self.percentile is not None:
            raise ValidationError(f"measure {self.id}: a censored value (a limit, not a "
                                  "measurement) cannot have a percentile")

    @property
    def key(self) -> str:
        """The id without its kind (``"shannon_entropy"``)."""
        return self.id.partition(":")[2]

    def to_dict(self) -> dict[str, Any]:
        """Return the measure as plain types (``profile.json``'s ``measures`` entries).

        Returns
        -------
        dict
        """
        out = dataclasses.asdict(self)
        out["caveats"] = list(self.caveats)
        out["notes"] = list(self.notes)
        return out


@dataclasses.dataclass(frozen=True)
class Alert:
    """Why (part of) a profile must be read with care.

    Attributes
    ----------
    code : str
        ``"sequencing_mismatch"``, ``"low_depth"``, ``"out_of_reference_range"``,
        ``"patient_in_reference"``, ``"previous_patient_differs"``… (listed in
        ``docs/output-schemas.md``).
    message : str
        One or two sentences: what differs and what to do.
    scope : {"reference", "followup"}
        ``"reference"``: the comparison with the reference cohort;
        ``"followup"``: the comparison with the previous visit.
    blocking : bool
        True: the measures in ``affects`` get no percentile (status ``"not
        comparable"``).  False: a caveat.
    affects : tuple of str
        The measure ids concerned (``"taxa:<rank>"`` for a taxa table); empty
        when the alert concerns the profile as a whole, not one measure.

    Raises
    ------
    ValidationError
        An empty code or message, an unknown scope.
    InputError
        ``affects`` given as one text (not a list of ids).
    """

    code: str
    message: str
    scope: AlertScope = "reference"
    blocking: bool = False
    affects: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        """Check the code, the message, the scope and the measure ids."""
        for field in ("code", "message"):
            value = getattr(self, field)
            if not isinstance(value, str) or not value.strip():
                raise ValidationError(f"alert {field} must be a non-empty text; got {value!r}")
        object.__setattr__(self, "affects", check_names(self.affects, f"alert {self.code}: "
                                                                      "affects"))
        if self.scope not in get_args(AlertScope):
            raise ValidationError(f"alert {self.code}: scope must be one of "
                                  f"{', '.join(get_args(AlertScope))}; got {self.scope!r}")

    def concerns(self, measure: Measure) -> bool:
        """Return whether this alert concerns ``measure`` (its id is in ``affects``).

        Parameters
        ----------
        measure : Measure

        Returns
        -------
        bool
        """
        return measure.id in self.affects

    def to_dict(self) -> dict[str, Any]:
        """Return the alert as plain types (``profile.json``'s ``warnings`` entries).

        Returns
        -------
        dict
        """
        return {"code": self.code, "message": self.message, "scope": self.scope,
                "blocking": self.blocking, "affects": list(self.affects)}
