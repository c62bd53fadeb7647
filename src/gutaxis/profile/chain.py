"""The gut–immune chain of one patient, link by link, from the knowledge base's rules.

Each link (dysbiosis → barrier → translocation → inflammation) is decided by
the rule ``chain.yaml`` gives it, from the statuses of the patient's measures;
this module does not judge values itself (percentile statuses follow the
chain's ``percentile_rule``, marker statuses the lab range or a published
cut-off, both decided upstream).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from gutaxis.exceptions import ValidationError
from gutaxis.formatting import format_percentile_with_ci, format_value
from gutaxis.knowledge import (
    JUDGED_STATUSES,
    ChainCatalog,
    ChainLink,
    load_chain,
    load_marker_catalog,
    source_label,
)
from gutaxis.measures import Measure
from gutaxis.profile._model import LinkAssessment, LinkStatus

__all__ = ["assess_chain", "measures_by_id"]


def measures_by_id(measures: Iterable[Measure]) -> dict[str, Measure]:
    """Return the measures keyed by their ids (``"index:shannon_entropy"``, ``"marker:lps"``).

    Parameters
    ----------
    measures : iterable of Measure

    Returns
    -------
    dict of str to Measure

    Raises
    ------
    ValidationError
        Two measures with the same id.

    Examples
    --------
    >>> m = Measure("index:shannon_entropy", "Shannon", "index", 3.1, "", "low")
    >>> list(measures_by_id([m]))
    ['index:shannon_entropy']
    """
    out: dict[str, Measure] = {}
    for measure in measures:
        if measure.id in out:
            raise ValidationError(f"two measures have the id {measure.id!r}; give each "
                                  "measure once")
        out[measure.id] = measure
    return out


def _judged(measure: Measure | None) -> bool:
    return measure is not None and measure.value is not None and measure.status in JUDGED_STATUSES


def _describe(measure: Measure) -> str:
    """``"Shannon entropy low — reference percentile 2.0 (95 % CI 1.0–4.0)"`` and the like.

    Numbers are written by `gutaxis.formatting`, as on the rest of the page.
    """
    text = f"{measure.label} {measure.status}"
    if measure.percentile is not None:
        placed = format_percentile_with_ci(measure.percentile, measure.ci_low, measure.ci_high)
        detail = placed if placed.endswith("reference sample") else f"reference percentile {placed}"
        text += f" — {detail}"
    elif measure.value is not None:
        source = f", {measure.range_used.kind} range" if measure.range_used is not None else ""
        text += f" — {format_value(measure.value, measure.unit or '', measure.censored)}{source}"
    return text


def _label(ref: str, present: Mapping[str, Measure]) -> str:
    """Name a measure in a sentence: its own label, else the marker catalogue's name."""
    if ref in present:
        return present[ref].label
    kind, key = ref.split(":", 1)
    found = load_marker_catalog().find(key) if kind == "marker" else None
    return found[0].name if found is not None else key.replace("_", " ")


def _rule_text(link: ChainLink, present: Mapping[str, Measure]) -> str:
    """Write the link's rule in words: ``"Shannon entropy low, or LBP high"``."""
    return ", or ".join(f"{_label(c.measure, present)} {c.status}" for c in link.rule.any_of)


def _assess(link: ChainLink, by_ref: Mapping[str, Measure]) -> LinkAssessment:
    present = {ref: by_ref[ref] for ref in link.measures if ref in by_ref}
    considered = {ref: m for ref, m in present.items() if _judged(m)}
    fired = [c for c in link.rule.any_of
             if c.measure in considered and considered[c.measure].status == c.status]

    unplaced = [m.label for ref, m in present.items()
                 if m.status == "not comparable" and m.value is not None]
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
    elif unplaced:
        status = "not comparable"
        explanation = ("Measured, not comparable: " + ", ".join(unplaced) + " could not be "
                       "placed (no range applies, or the reference cannot place the value).")
    else:
        status = "not measured"
        labels = [_label(ref, present) for ref in link.measures]
        explanation = ("Not measured: none of " + ", ".join(labels)
                       + " has a value that could be judged.")
    if unplaced and status != "not comparable":
        explanation += " Not comparable with the reference: " + ", ".join(unplaced) + "."
    explanation += f" Rule: disturbed when {_rule_text(link, present)}."

    return LinkAssessment(
        id=link.id,
        label=link.label,
        status=status,
        deciding=tuple((ref, m.status) for ref, m in considered.items()),
        explanation=explanation,
        evidence=link.evidence,
        unknowns=link.unknowns,
        sources=tuple(source_label(s) for s in link.sources),
        not_comparable=tuple(ref for ref, m in present.items()
                             if m.status == "not comparable" and m.value is not None),
    )


def assess_chain(measures: Iterable[Measure], *,
                 chain: ChainCatalog | None = None) -> list[LinkAssessment]:
    """Assess each link of the gut–immune chain.

    Parameters
    ----------
    measures : iterable of Measure
        The patient's measures with their statuses (ids such as
        ``"index:shannon_entropy"``, ``"taxon:<id>"``, ``"marker:<id>"``).
    chain : ChainCatalog, optional
        The chain and its rules; by default the bundled ``chain.yaml``.

    Returns
    -------
    list of LinkAssessment
        One per link, in chain order: "disturbed" when a condition of its
        rule holds; "not disturbed" when none holds and at least the rule's
        ``min_measured`` measures have a judged status (low, within, high,
        borderline); otherwise "not comparable" when some of its measures
        have a value that could not be placed (a censored value, a marker
        without a range), else "not measured".  ``deciding`` lists the
        (measure id, status) pairs considered.

    Raises
    ------
    ValidationError
        Two measures with the same id.

    Notes
    -----
    The rule is a display convention of gutaxis, not a validated diagnostic
    criterion; each assessment carries the knowledge base's statement of how
    strong the evidence is for reading the measures that way (``evidence``)
    and what is not known (``unknowns``).

    Examples
    --------
    >>> m = Measure(id="index:shannon_entropy", label="Shannon entropy", kind="index",
    ...             value=3.1, unit="", status="low", percentile=2.0, ci_low=1.0, ci_high=4.0)
    >>> [(a.id, a.status) for a in assess_chain([m])]
    ... # doctest: +NORMALIZE_WHITESPACE
    [('dysbiosis', 'disturbed'), ('barrier', 'not measured'),
     ('translocation', 'not measured'), ('inflammation', 'not measured')]
    """
    chain = load_chain() if chain is None else chain
    by_id = measures_by_id(measures)
    return [_assess(link, by_id) for link in chain.links]
