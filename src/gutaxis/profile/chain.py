"""The gut–immune chain of one patient, link by link, from the knowledge base's rules.

Each link (dysbiosis → barrier → translocation → inflammation) is decided by
the rule ``chain.yaml`` gives it, from the statuses of the patient's measures;
this module does not judge values itself (percentile statuses follow the
chain's ``percentile_rule``, marker statuses the lab range or a published
cut-off, both decided upstream).
"""

from __future__ import annotations

from collections.abc import Mapping

from gutaxis.exceptions import ValidationError
from gutaxis.knowledge._chain import (
    JUDGED_STATUSES,
    ChainCatalog,
    ChainLink,
    load_chain,
    source_label,
)
from gutaxis.profile._model import LinkAssessment, LinkStatus, Measure

__all__ = ["assess_chain", "measures_by_ref"]

_PREFIXES = ("index", "taxon", "marker")


def measures_by_ref(measures: Mapping[str, Measure]) -> dict[str, Measure]:
    """The measures keyed by the references the knowledge base uses.

    A key that already has a prefix (``"marker:lps"``, ``"index:gmhi"``) is
    kept; a bare key (``"shannon_entropy"``, as :class:`Measure` ids of
    indices are written) gets its measure's kind as prefix
    (``"index:shannon_entropy"``).

    Raises
    ------
    ValidationError
        A prefix that is not index/taxon/marker, a prefix that contradicts the
        measure's ``kind``, or two keys naming the same reference.

    Examples
    --------
    >>> m = Measure(id="shannon_entropy", label="Shannon", kind="index", value=3.1,
    ...             unit="", status="low")
    >>> list(measures_by_ref({"shannon_entropy": m}))
    ['index:shannon_entropy']
    """
    out: dict[str, Measure] = {}
    for key, measure in measures.items():
        ref = key if ":" in key else f"{measure.kind}:{key}"
        prefix = ref.split(":", 1)[0]
        if prefix not in _PREFIXES:
            raise ValidationError(f"measure key {key!r} must start with one of "
                                  f"{', '.join(p + ':' for p in _PREFIXES)} or have none; "
                                  f"got prefix {prefix!r}")
        if prefix != measure.kind:
            raise ValidationError(f"measure key {key!r} says {prefix!r} but the measure's kind "
                                  f"is {measure.kind!r}; use the key {measure.kind}:...")
        if ref in out:
            raise ValidationError(f"two measures refer to {ref!r}; give each measure once")
        out[ref] = measure
    return out


def _judged(measure: Measure | None) -> bool:
    return measure is not None and measure.value is not None and measure.status in JUDGED_STATUSES


def _describe(measure: Measure) -> str:
    """``"Shannon entropy low (reference percentile 2, 95 % CI 1–4)"`` and the like."""
    text = f"{measure.label} {measure.status}"
    if measure.percentile is not None:
        detail = f"reference percentile {measure.percentile:.3g}"
        if measure.ci_low is not None and measure.ci_high is not None:
            detail += f", 95 % CI {measure.ci_low:.3g}–{measure.ci_high:.3g}"
        text += f" ({detail})"
    elif measure.value is not None:
        unit = f" {measure.unit}" if measure.unit else ""
        source = f"; {measure.range_used.kind} range" if measure.range_used is not None else ""
        text += f" ({measure.value:.4g}{unit}{source})"
    return text


def _assess(link: ChainLink, by_ref: Mapping[str, Measure]) -> LinkAssessment:
    present = {ref: by_ref[ref] for ref in link.measures if ref in by_ref}
    considered = {ref: m for ref, m in present.items() if _judged(m)}
    fired = [c for c in link.rule.any_of
             if c.measure in considered and considered[c.measure].status == c.status]

    status: LinkStatus
    if fired:
        status = "disturbed"
        others = [_describe(m) for ref, m in considered.items()
                  if ref not in {c.measure for c in fired}]
        explanation = ("Disturbed: " + "; ".join(_describe(considered[c.measure]) for c in fired)
                       + ".")
        if others:
            explanation += " Also measured: " + "; ".join(others) + "."
    elif len(considered) >= link.rule.min_measured:
        status = "not disturbed"
        explanation = ("Not disturbed: no condition of the rule holds for the measures judged ("
                       + "; ".join(_describe(m) for m in considered.values()) + ").")
    elif considered:
        status = "not measured"
        explanation = (f"Not measured: {len(considered)} of the {link.rule.min_measured} "
                       "measures the rule needs could be judged.")
    else:
        status = "not measured"
        labels = [present[ref].label if ref in present else ref for ref in link.measures]
        explanation = ("Not measured: none of " + ", ".join(labels)
                       + " has a value that could be judged.")
    unplaced = [m.label for ref, m in present.items() if m.status == "not comparable"]
    if unplaced:
        explanation += " Not comparable with the reference: " + ", ".join(unplaced) + "."
    rule = ", ".join(c.label() for c in link.rule.any_of)
    explanation += f" Rule: disturbed when any of {rule}."

    return LinkAssessment(
        id=link.id,
        label=link.label,
        status=status,
        deciding=tuple((ref, m.status) for ref, m in considered.items()),
        explanation=explanation,
        evidence=link.evidence,
        unknowns=link.unknowns,
        sources=tuple(source_label(s) for s in link.sources),
    )


def assess_chain(measures: Mapping[str, Measure], *,
                 chain: ChainCatalog | None = None) -> list[LinkAssessment]:
    """Each link of the gut–immune chain: disturbed, not disturbed or not measured.

    Parameters
    ----------
    measures : mapping of str to Measure
        The patient's measures with their statuses, keyed by reference
        (``"index:shannon_entropy"`` or ``"shannon_entropy"``,
        ``"taxon:<id>"``, ``"marker:<id>"``; see :func:`measures_by_ref`).
    chain : ChainCatalog, optional
        The chain and its rules; by default the bundled ``chain.yaml``.

    Returns
    -------
    list of LinkAssessment
        One per link, in chain order.  A link is "not measured" when none of
        its measures has a value with a judged status (low, within, high,
        borderline; more precisely, fewer than the rule's ``min_measured``);
        "disturbed" when a condition of its rule holds; else "not disturbed".
        ``deciding`` lists the (measure reference, status) pairs considered.

    Raises
    ------
    ValidationError
        Keys that cannot be read as measure references (see :func:`measures_by_ref`).

    Notes
    -----
    The rule is a display convention of gutaxis, not a validated diagnostic
    criterion; each assessment carries the knowledge base's statement of how
    strong the evidence is for reading the measures that way (``evidence``)
    and what is not known (``unknowns``).

    Examples
    --------
    >>> m = Measure(id="shannon_entropy", label="Shannon entropy", kind="index",
    ...             value=3.1, unit="", status="low", percentile=2.0, ci_low=1.0, ci_high=4.0)
    >>> [(a.id, a.status) for a in assess_chain({"index:shannon_entropy": m})]
    ... # doctest: +NORMALIZE_WHITESPACE
    [('dysbiosis', 'disturbed'), ('barrier', 'not measured'),
     ('translocation', 'not measured'), ('inflammation', 'not measured')]
    """
    chain = load_chain() if chain is None else chain
    by_ref = measures_by_ref(measures)
    return [_assess(link, by_ref) for link in chain.links]
