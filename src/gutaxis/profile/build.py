"""Assemble one patient's :class:`~gutaxis.profile.Profile`.

Each step lives in its own module; this one only joins them:

1. :func:`~gutaxis.reference.compare_to_reference` places the patient's
   indices and key taxa in the reference (percentile with a bootstrap
   interval) and raises comparability alerts;
2. markers take one path (:func:`assess_markers`): each reported value is
   judged against the lab's range, else the catalogue's published cut-off
   (:func:`~gutaxis.markers.interpret_result`), then placed in the reference
   (:func:`~gutaxis.reference.place_markers`), which judges it only when
   neither range exists;
3. :func:`~gutaxis.profile.assess_chain` and
   :func:`~gutaxis.profile.select_options` apply the knowledge-base rules;
4. with an earlier visit, :func:`~gutaxis.profile.compare_visits` computes
   the changes;
5. :func:`~gutaxis.profile.summary.summarise` writes the first screen.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Sequence
from typing import Any

from gutaxis import composition
from gutaxis._version import __version__
from gutaxis.checks import check_date, check_type
from gutaxis.exceptions import NotFoundError, ValidationError
from gutaxis.knowledge import load_chain, load_interventions, load_marker_catalog, load_taxa_catalog
from gutaxis.markers import LabResults, MarkerPanel, MarkerResult, interpret_result
from gutaxis.measures import Alert, Measure
from gutaxis.profile._model import Profile, Visit
from gutaxis.profile.chain import assess_chain
from gutaxis.profile.followup import compare_visits
from gutaxis.profile.options import select_options
from gutaxis.profile.summary import summarise
from gutaxis.reference import Reference, compare_to_reference, place_markers
from gutaxis.study import Study, check_study

__all__ = ["build_profile", "assess_markers", "patient_markers", "TOP_TAXA"]

#: Taxa listed in the composition section.
TOP_TAXA = 10


def patient_markers(sample_id: str, *, panel: MarkerPanel | None = None,
                    labs: LabResults | None = None) -> list[MarkerResult]:
    """Return the patient's marker values: lab results first, then metadata values.

    Parameters
    ----------
    sample_id : str
    panel : MarkerPanel, optional
        Marker values from sample metadata.
    labs : LabResults, optional
        A ``LABS.csv`` file; a lab result wins over a metadata value of the
        same marker.

    Returns
    -------
    list of MarkerResult
    """
    results = list(labs.results(sample_id)) if labs is not None else []
    seen = {r.measure_id for r in results}
    if panel is not None and sample_id in panel.values.index:
        results += [r for r in panel.results(sample_id) if r.measure_id not in seen]
    return results


def assess_markers(results: Sequence[MarkerResult], reference: Reference, *,
                   n_boot: int = 2000, seed: int = 0) -> list[Measure]:
    """Judge each marker value, then place it in the reference.

    Parameters
    ----------
    results : sequence of MarkerResult
    reference : Reference
    n_boot, seed : int
        Bootstrap of the percentile intervals.

    Returns
    -------
    list of Measure
        In the order of ``results``: status from the lab's range, else the
        catalogue's cut-off, else the reference percentile (see
        :func:`~gutaxis.reference.place_markers`); a censored value keeps
        its ``<``/``>`` and gets no percentile.
    """
    return place_markers(reference, [interpret_result(r) for r in results],
                         n_boot=n_boot, seed=seed)


def _top_taxa(study: Study, sample_id: str, rank: str = "genus") -> tuple[dict[str, Any], ...]:
    if study.taxonomy is None:
        return ()
    collapsed = composition.collapse(study.subset_samples([sample_id]), rank)
    rel = composition.relative_abundance(collapsed).iloc[0]
    rel = rel[rel > 0].sort_values(ascending=False).head(TOP_TAXA)
    labels = dict(zip(collapsed.feature_ids, composition.taxon_labels(list(collapsed.feature_ids)),
                      strict=True))
    return tuple({"taxon": str(t), "label": labels[t], "rank": rank, "abundance": float(v)}
                 for t, v in rel.items())


def _reference_alerts(sample_id: str, reference: Reference,
                      measures: Sequence[Measure]) -> tuple[Alert, ...]:
    placed = tuple(m.id for m in measures if m.percentile is not None)
    alerts = []
    if reference.contains_sample(sample_id):
        alerts.append(Alert("patient_in_reference",
                            f"Sample {sample_id} is itself one of the reference's samples, so "
                            "it is partly compared with itself; its percentiles lean towards "
                            "the middle.", "reference", False, placed))
    elif reference.shares_person(sample_id):
        alerts.append(Alert("patient_in_reference",
                            f"Sample {sample_id} comes from a person who is in the reference "
                            "through another of their samples, so it is partly compared with "
                            "that person; its percentiles lean towards the middle.",
                            "reference", False, placed))
    subjects = reference.details.get("subjects") or {}
    if subjects.get("per_subject") == "mean":
        alerts.append(Alert("reference_of_person_means",
                            f"The reference holds each of its {reference.n_people} people as "
                            "the mean of their samples; one sample varies more than a mean, "
                            "so its percentiles are more extreme than against single samples.",
                            "reference", False, placed))
    elif subjects.get("per_subject") == "all":
        alerts.append(Alert("reference_of_repeated_samples",
                            f"The reference holds all {reference.n_samples} samples of its "
                            f"{reference.n_people} people; people with more samples weigh more "
                            "in the percentiles (the intervals resample whole people).",
                            "reference", False, placed))
    return tuple(alerts)


def _followup_alerts(sample_id: str, patient_id: str | None, reference: Reference,
                     previous: Visit) -> tuple[Alert, ...]:
    out = []
    if patient_id is not None and previous.patient_id is not None \
            and patient_id != previous.patient_id:
        out.append(Alert("previous_patient_differs",
                         f"The previous profile ({previous.path or previous.sample_id}) is of "
                         f"patient {previous.patient_id}, this one of patient {patient_id}: "
                         "the changes below compare two people.", "followup"))
    elif (patient_id is None or previous.patient_id is None) \
            and previous.sample_id == sample_id:
        out.append(Alert("previous_same_sample",
                         f"The previous profile is of the same sample ({sample_id}): the "
                         "changes below compare a sample with itself.", "followup"))
    if previous.reference_version is not None \
            and previous.reference_version != reference.version:
        out.append(Alert("previous_reference_differs",
                         "The previous profile was placed against another reference (version "
                         f"{previous.reference_version[:12]}, now {reference.version[:12]}): "
                         "its percentiles are not comparable with these.", "followup"))
    return tuple(out)


def build_profile(study: Study, sample_id: str, reference: Reference, *,
                  patient_id: str | None = None, markers: MarkerPanel | None = None,
                  labs: LabResults | None = None, previous: Visit | None = None,
                  n_boot: int = 2000, seed: int = 0, inputs: Sequence[dict[str, Any]] = (),
                  clock: Callable[[], _dt.datetime] | None = None,
                  visit_date: str | _dt.date | None = None) -> Profile:
    """Build one patient's profile against a reference cohort.

    Parameters
    ----------
    study : Study
        The patient's microbiome (the table may hold other samples too).
    sample_id : str
        The patient's sample.
    reference : Reference
        A frozen reference cohort (:func:`~gutaxis.reference.load_reference`).
    patient_id : str, optional
        Who the profile is for; a follow-up warns when the previous visit is
        of another patient.
    markers : MarkerPanel, optional
        Marker values from sample metadata.
    labs : LabResults, optional
        Lab results (``LABS.csv``); their ranges win over catalogue cut-offs,
        and a lab value wins over a metadata value of the same marker.
    previous : Visit, optional
        The previous visit (:func:`~gutaxis.profile.read_visit`), for the
        follow-up section.
    n_boot, seed : int
        Bootstrap replicates and seed of the percentile intervals.
    inputs : sequence of dict
        Provenance records of the input files.
    clock : callable, optional
        Returns the time to record (tests inject a fixed one).
    visit_date : str or datetime.date, optional
        The day the sample was taken (ISO 8601): the follow-up dates this
        visit by it, not by the day the profile was computed.

    Returns
    -------
    Profile

    Raises
    ------
    NotFoundError
        ``sample_id`` is not in the table.
    ValidationError
        ``labs`` has no results for ``sample_id``.
    InputError
        ``study``, ``reference``, ``markers``, ``labs`` or ``previous`` of the
        wrong type (the message says how to get the right one); ``visit_date``
        not a date.
    """
    check_study(study)
    check_type(reference, Reference, "reference", hint="read a reference folder with "
               "gutaxis.reference.load_reference")
    for value, expected, name, hint in (
            (markers, MarkerPanel, "markers", "read them with gutaxis.markers.marker_panel"),
            (labs, LabResults, "labs", "read a LABS.csv with gutaxis.markers.read_labs"),
            (previous, Visit, "previous", "read a profile.json with gutaxis.profile.read_visit")):
        if value is not None:
            check_type(value, expected, name, hint=f"{hint}; or None")
    visit_day = check_date(visit_date, "visit_date")  # before the work, not after it
    if sample_id not in set(study.sample_ids):
        raise NotFoundError("sample id", [sample_id], study.source or "the table",
                            available=[str(s) for s in study.sample_ids])
    if labs is not None and sample_id not in set(labs.samples):
        shown = ", ".join(map(repr, sorted(labs.samples)[:10]))
        raise ValidationError(f"{labs.path}: no lab results for sample {sample_id!r} (the "
                              f"file has {shown}); sample ids must match exactly")
    comparison = compare_to_reference(reference, study, sample_id, n_boot=n_boot, seed=seed)
    marker_measures = assess_markers(patient_markers(sample_id, panel=markers, labs=labs),
                                     reference, n_boot=n_boot, seed=seed)
    measures = (*comparison.measures, *marker_measures)
    chain = assess_chain(measures)
    options = select_options(chain, measures)
    alerts = (*comparison.alerts, *_reference_alerts(sample_id, reference, measures))
    followup = None
    history: tuple[dict[str, Any], ...] = ()
    if previous is not None:
        alerts += _followup_alerts(sample_id, patient_id, reference, previous)
        followup = tuple(compare_visits(previous, measures, reference))
        history = (*previous.history, previous.history_entry())
    reference_values = {}
    for m in measures:
        values = (reference.measure_values(m.id, unit=m.unit or None)
                  if m.percentile is not None else None)
        if values is not None:
            reference_values[m.id] = [float(v) for v in values]
    interventions = load_interventions()
    now = (clock or (lambda: _dt.datetime.now(_dt.UTC)))()
    rule = load_chain().percentile_rule
    provenance = {
        "gutaxis_version": __version__,
        "inputs": list(inputs),
        "reference": {"name": reference.name, "version": reference.version},
        "knowledge_base": {
            "markers": load_marker_catalog().version,
            "taxa": load_taxa_catalog().version,
            "chain": load_chain().version,
            "interventions": interventions.version,
        },
        "parameters": {"n_boot": n_boot, "seed": seed, "percentile_rule": {
            "low_below": rule.low_below, "high_above": rule.high_above,
            "require_ci": rule.require_ci}},
    }
    return Profile(
        sample_id=str(sample_id),
        patient_id=None if patient_id is None else str(patient_id),
        created=now.isoformat(timespec="seconds"),
        reference=reference.summary(),
        alerts=alerts,
        measures=measures,
        top_taxa=_top_taxa(study, sample_id),
        chain=tuple(chain),
        options={step: tuple(opts) for step, opts in options.items()},
        followup=followup,
        history=history,
        reference_values=reference_values,
        summary=summarise(measures, chain, alerts, options, n_reference=reference.n_people,
                          interventions=interventions),
        disclaimer=interventions.disclaimer,
        provenance=provenance,
        visit_date=visit_day,
    )
