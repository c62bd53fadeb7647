"""The first screen of a profile: sentences for the patient, short lines for the clinician.

The sentences describe positions and statuses, never a diagnosis; what a link
of the chain means, in plain words, comes from the knowledge base
(``patient`` in ``chain.yaml``).  Numbers are written by
:mod:`gutaxis.formatting`, as on the rest of the page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from gutaxis.formatting import format_value
from gutaxis.knowledge import ChainCatalog, InterventionCatalog, load_chain, load_interventions
from gutaxis.measures import Alert, Measure
from gutaxis.profile._model import LinkAssessment, Option, Summary

__all__ = ["summarise", "LINK_STATUS_TEXT"]

#: How a link status is written for the clinician.
LINK_STATUS_TEXT = {"disturbed": "disturbed", "not disturbed": "not disturbed",
                    "not comparable": "measured, not comparable",
                    "not measured": "not measured"}


def _diversity_sentence(shannon: Measure, n_reference: int) -> str:
    group = f"the {n_reference} people of the comparison group"
    p = shannon.percentile
    assert p is not None
    if p <= 0:
        return f"Your gut microbial diversity is lower than that of every one of {group}."
    if p >= 100:
        return f"Your gut microbial diversity is higher than that of every one of {group}."
    if p < 0.5 or p >= 99.5:  # "about 0 in 100" / "about 100 in 100" would mislead
        side = "lower" if p < 0.5 else "higher"
        return f"Your gut microbial diversity is {side} than that of almost every one of {group}."
    sentence = (f"Your gut microbial diversity is higher than that of about {p:.0f} in 100 "
                f"of {group}.")
    if shannon.ci_low is not None and shannon.ci_high is not None:
        # the 95 % interval, in words a patient reads without statistics
        sentence += (f" With a group of this size the true figure could be anywhere from "
                     f"about {shannon.ci_low:.0f} to {shannon.ci_high:.0f} in 100.")
    return sentence


def summarise(measures: Sequence[Measure], links: Sequence[LinkAssessment],
              alerts: Sequence[Alert], options: Mapping[str, Sequence[Option]], *,
              n_reference: int, chain: ChainCatalog | None = None,
              interventions: InterventionCatalog | None = None) -> Summary:
    """Write the profile's summary.

    Parameters
    ----------
    measures : sequence of Measure
    links : sequence of LinkAssessment
    alerts : sequence of Alert
    options : mapping of str to sequence of Option
    n_reference : int
        People in the reference.
    chain : ChainCatalog, optional
        Where the plain-language wording of each link comes from (default: the
        bundled ``chain.yaml``).
    interventions : InterventionCatalog, optional
        Which evidence levels the options' count sets apart
        (``unfavourable_levels``; default: the bundled ``interventions.yaml``).

    Returns
    -------
    Summary
        ``patient``: plain sentences (a reference alert, diversity, each link
        in the knowledge base's plain words, how many options there are);
        ``clinician``: the alerts, each link with its deciding measures, the
        measures outside the range used.
    """
    chain = load_chain() if chain is None else chain
    wording = {link.id: link.patient for link in chain.links}
    patient: list[str] = []
    clinician: list[str] = []
    reference_alerts = [a for a in alerts if a.scope == "reference"]
    if any(a.blocking for a in reference_alerts):
        patient.append("Some of your results could not be compared fairly with the comparison "
                       "group; they are marked below.")
    elif any(a.affects for a in reference_alerts):
        patient.append("Some of your results were compared with the comparison group with a "
                       "caveat; they are marked below.")
    clinician.extend(f"Warning: {a.message}" for a in reference_alerts)
    clinician.extend(f"Follow-up: {a.message}" for a in alerts if a.scope == "followup")
    shannon = next((m for m in measures if m.id == "index:shannon_entropy"), None)
    if shannon is not None and shannon.percentile is not None:
        patient.append(_diversity_sentence(shannon, n_reference))
    labels = {m.id: m.label for m in measures}
    for link in links:
        if link.id in wording:
            patient.append(wording[link.id].sentence(link.status))
        deciding = ", ".join(f"{labels.get(m, m)} {s}" for m, s in link.deciding)
        if link.status == "not comparable":
            deciding = ", ".join(labels.get(m, m) for m in link.not_comparable)
        clinician.append(f"{link.label}: {LINK_STATUS_TEXT[link.status]} "
                         f"({deciding or 'no data'}).")
    flagged = [m for m in measures if m.status in ("low", "high", "borderline")]
    if flagged:
        clinician.append("Outside the range used, or borderline: " + "; ".join(
            f"{m.label} {format_value(m.value, m.unit, m.censored)} ({m.status})"
            for m in flagged))
    listed = [o for v in options.values() for o in v]
    if listed:
        interventions = load_interventions() if interventions is None else interventions
        against = sum(o.evidence_level in interventions.unfavourable_levels for o in listed)
        what = "one option" if len(listed) == 1 else f"{len(listed)} options"
        sentence = (f"Your results point to {what} to talk over with your clinician, each "
                    "with how strong the evidence for it is.")
        if against:
            which = ("it" if len(listed) == 1 else "all of them" if against == len(listed)
                     else f"{against} of them")
            sentence += (f" Experts advise against {which}, or studies found no benefit: "
                         "the profile says which.")
        patient.append(sentence)
    return Summary(tuple(patient), tuple(clinician))
