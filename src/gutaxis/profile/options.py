"""Options to consider, grouped by 5R step, each traced to the findings that triggered it.

An option is selected when a finding it ``addresses`` in ``interventions.yaml``
is present: a link of the chain in the named status, or a measure in the
named status.  Nothing else is shown: with nothing measured there are no
options (the catalogue has no "general" entries, by design: every option must
be traceable to a finding of this patient).  Options carry the evidence
level, the guideline wording and the sources of the knowledge base, never a
dose; the catalogue's ``disclaimer`` (``load_interventions().disclaimer``)
belongs with them wherever they are shown.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from gutaxis.exceptions import ValidationError
from gutaxis.knowledge import (
    STEP_IDS,
    Intervention,
    InterventionCatalog,
    LinkTrigger,
    load_interventions,
)
from gutaxis.measures import Measure
from gutaxis.profile._model import LinkAssessment, Option
from gutaxis.profile.chain import measures_by_id

__all__ = ["select_options", "UNVERIFIED_PREFIX"]

#: Put before the summary of a catalogue entry marked ``verified: false``.
UNVERIFIED_PREFIX = "[Unverified] "


def _findings(entry: Intervention, link_status: Mapping[str, str],
              by_ref: Mapping[str, Measure]) -> list[str]:
    found = []
    for trigger in entry.addresses:
        if isinstance(trigger, LinkTrigger):
            if link_status.get(trigger.link) == trigger.status:
                found.append(trigger.label())
        else:
            measure = by_ref.get(trigger.measure)
            if measure is None or (measure.censored == ">" and trigger.value_below is not None):
                continue  # ">L" says nothing about being below a threshold
            if trigger.holds(measure.status, measure.value):
                found.append(trigger.label())
    return found


def _option(entry: Intervention, found: list[str]) -> Option:
    summary = entry.evidence_summary
    if not entry.verified:
        summary = UNVERIFIED_PREFIX + summary
    return Option(
        id=entry.id,
        name=entry.name,
        step=entry.step,
        triggered_by=tuple(found),
        evidence_summary=summary,
        evidence_level=entry.evidence_level,
        guideline=entry.guideline_text(),
        sources=entry.source_labels(),
        cautions=entry.cautions,
    )


def select_options(links: Iterable[LinkAssessment], measures: Iterable[Measure], *,
                   interventions: InterventionCatalog | None = None) -> dict[str, list[Option]]:
    """Select the options the patient's findings point at, grouped by 5R step.

    Parameters
    ----------
    links : iterable of LinkAssessment
        The chain as :func:`gutaxis.profile.chain.assess_chain` returns it.
    measures : iterable of Measure
        The patient's measures.
    interventions : InterventionCatalog, optional
        By default the bundled ``interventions.yaml``.

    Returns
    -------
    dict of str to list of Option
        Keys are 5R steps in their order (remove, replace, reinoculate,
        repair, rebalance); only steps with at least one option appear, so
        an empty dict means no finding points at any option.  Within a step,
        options keep the catalogue's order.  ``triggered_by`` lists every
        finding that selected the option (``"link:barrier=disturbed"``,
        ``"marker:elastase=low"``).  An entry the catalogue marks
        unverified has its summary prefixed with :data:`UNVERIFIED_PREFIX`.

    Raises
    ------
    ValidationError
        The same link appears twice in ``links``, or two measures share an id.

    Examples
    --------
    >>> from gutaxis.profile.chain import assess_chain
    >>> m = [Measure(id="marker:elastase", label="Elastase", kind="marker", value=60.0,
    ...              unit="ug/g", status="low")]
    >>> options = select_options(assess_chain(m), m)
    >>> [(step, [o.id for o in opts]) for step, opts in options.items()]
    [('replace', ['pert_confirmed_epi'])]
    """
    catalog = load_interventions() if interventions is None else interventions
    link_status: dict[str, str] = {}
    for link in links:
        if link.id in link_status:
            raise ValidationError(f"link {link.id!r} appears twice; pass each link once "
                                  "(as assess_chain returns them)")
        link_status[link.id] = link.status
    by_ref = measures_by_id(measures)

    grouped: dict[str, list[Option]] = {step: [] for step in STEP_IDS}
    for entry in catalog.interventions:
        found = _findings(entry, link_status, by_ref)
        if found:
            grouped[entry.step].append(_option(entry, found))
    return {step: options for step, options in grouped.items() if options}
