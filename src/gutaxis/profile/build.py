"""Assemble one patient's :class:`~gutaxis.profile._model.Profile`.

Each step lives in its own module; this one only joins them:

1. :func:`~gutaxis.profile.reference.compare_to_reference` places the
   patient's indices, key taxa and markers in the reference (percentile with
   a bootstrap interval) and raises comparability warnings;
2. marker values are judged by :func:`~gutaxis.markers.interpret.interpret_marker`
   — the lab's range first, the catalogue's published cut-off next — and keep
   their reference percentile; a marker with neither range is judged by its
   reference percentile when the reference has it;
3. :func:`~gutaxis.profile.chain.assess_chain` and
   :func:`~gutaxis.profile.options.select_options` apply the knowledge-base rules;
4. :func:`~gutaxis.profile.followup.compare_visits` compares with a previous
   profile.

The plain-language summary is built from the results here; its sentences
describe positions and statuses, never a diagnosis.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from gutaxis import composition
from gutaxis._version import __version__
from gutaxis.exceptions import NotFoundError, ValidationError
from gutaxis.knowledge import load_marker_catalog
from gutaxis.knowledge._chain import load_chain
from gutaxis.knowledge._interventions import load_interventions
from gutaxis.knowledge._taxa import load_taxa_catalog
from gutaxis.markers import MarkerPanel
from gutaxis.markers.interpret import interpret_marker
from gutaxis.markers.labs import LabResults
from gutaxis.profile._model import Measure, Profile, RangeUsed
from gutaxis.profile.chain import assess_chain
from gutaxis.profile.followup import compare_visits
from gutaxis.profile.options import select_options
from gutaxis.profile.reference import (
    HIGH_PERCENTILE,
    LOW_PERCENTILE,
    Reference,
    compare_to_reference,
)
from gutaxis.study import Study

__all__ = ["build_profile", "TOP_TAXA"]

#: Taxa listed in the composition section.
TOP_TAXA = 10
_JUDGED = {"low", "within", "high", "borderline"}


def _reference_range(measure: Measure, reference: Reference) -> RangeUsed:
    values = reference.measure_values(measure.id, unit=measure.unit)
    finite = sorted(float(v) for v in (values if values is not None else []) if math.isfinite(v))
    low = high = None
    if finite:
        import numpy as np

        low, high = (float(q) for q in np.percentile(finite, [LOW_PERCENTILE, HIGH_PERCENTILE]))
    return RangeUsed("reference", low, high,
                     f"reference cohort '{reference.name}' (version {reference.version[:12]}), "
                     f"{LOW_PERCENTILE}th–{HIGH_PERCENTILE}th percentile",
                     label="no laboratory or published range; judged by the reference's "
                           "percentiles (the whole 95 % interval must lie outside them)")


def _judge_marker(compared: Measure | None, lab: Measure | None, reference: Reference,
                  entry_value: tuple[Any, float, str] | None) -> Measure | None:
    """One marker: lab range > catalogue cut-off > reference percentile."""
    judged = lab
    if judged is None and entry_value is not None:
        entry, value, unit = entry_value
        judged = interpret_marker(entry, value, unit)
    if judged is None:
        return compared
    if compared is None or compared.percentile is None:
        return judged
    merged = dataclasses.replace(judged, percentile=compared.percentile,
                                 ci_low=compared.ci_low, ci_high=compared.ci_high,
                                 reference_n=compared.reference_n,
                                 notes=judged.notes + tuple(n for n in compared.notes
                                                            if n not in judged.notes))
    if judged.status == "not comparable" and compared.status in _JUDGED:
        merged = dataclasses.replace(merged, status=compared.status,
                                     range_used=_reference_range(merged, reference))
    return merged


def _markers(comparison_measures: Sequence[Measure], reference: Reference,
             panel: MarkerPanel | None, labs: LabResults | None, sample_id: str
             ) -> list[Measure]:
    from gutaxis.markers.interpret import interpret_labs

    catalog = load_marker_catalog()
    compared = {m.id: m for m in comparison_measures if m.kind == "marker"}
    lab = {m.id: m for m in (interpret_labs(labs, sample_id) if labs is not None and
                              sample_id in set(labs.samples) else [])}
    from_panel: dict[str, tuple[Any, float, str]] = {}
    if panel is not None and sample_id in panel.values.index:
        for name in panel.names:
            value = float(panel.values.at[sample_id, name])  # type: ignore[arg-type]
            cid = panel.catalog_ids.get(name)
            if cid is None or not math.isfinite(value):
                continue
            entry = next(e for e in catalog.markers if e.id == cid)
            from_panel[f"marker:{cid}"] = (entry, value, panel.units[name])
    ids = list(dict.fromkeys([*lab, *from_panel, *compared]))
    out = []
    for mid in ids:
        measure = _judge_marker(compared.get(mid), lab.get(mid), reference,
                                None if mid in lab else from_panel.get(mid))
        if measure is not None:
            out.append(measure)
    return out


def _patient_panel(panel: MarkerPanel | None, labs: LabResults | None,
                   sample_id: str) -> MarkerPanel | None:
    """The patient's marker values as placed in the reference: a lab result wins over a
    metadata value of the same marker, so the percentile is that of the value shown."""
    import pandas as pd

    values: dict[str, float] = {}
    units: dict[str, str] = {}
    columns: dict[str, str] = {}
    ids: dict[str, str | None] = {}
    sources: dict[str, str] = {}
    if panel is not None and sample_id in panel.values.index:
        for name in panel.names:
            values[name] = float(panel.values.at[sample_id, name])  # type: ignore[arg-type]
            units[name], columns[name] = panel.units[name], panel.columns[name]
            ids[name], sources[name] = panel.catalog_ids.get(name), panel.unit_sources[name]
    if labs is not None:
        for row in labs.for_sample(sample_id).itertuples():
            marker_id = str(row.Index[1] if isinstance(row.Index, tuple) else row.Index)
            entry = labs.entry(marker_id)
            for name in [n for n, i in ids.items() if i == entry.id]:
                del values[name], units[name], columns[name], ids[name], sources[name]
            values[entry.name] = float(row.value)  # type: ignore[arg-type]
            units[entry.name], columns[entry.name] = str(row.unit), f"{labs.path} (labs)"
            ids[entry.name], sources[entry.name] = entry.id, "labs"
    if not values:
        return None
    frame = pd.DataFrame({n: [v] for n, v in values.items()}, index=[sample_id])
    return MarkerPanel(frame, units, columns, ids, sources)


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


def _fmt(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.3g}"


def _summary(measures: Sequence[Measure], chain: Sequence[Any], warnings: Sequence[dict[str, Any]],
             reference: Reference, options: Mapping[str, Sequence[Any]]) -> dict[str, list[str]]:
    patient: list[str] = []
    clinician: list[str] = []
    if warnings:
        patient.append("Some results could not be compared fairly with the reference group; "
                       "they are marked below and should be read with care.")
        clinician.extend(f"Warning: {w['message']}" for w in warnings)
    ref_text = f"the {reference.n_samples} people of the reference group '{reference.name}'"
    shannon = next((m for m in measures if m.id in ("shannon_entropy", "index:shannon_entropy")),
                   None)
    if shannon is not None and shannon.percentile is not None:
        patient.append(
            f"Your gut microbial diversity (Shannon) is higher than that of about "
            f"{shannon.percentile:.0f} % of {ref_text} (95 % interval "
            f"{shannon.ci_low:.0f}–{shannon.ci_high:.0f} %).")
    labels = {m.id: m.label for m in measures}
    labels.update({f"index:{m.id}": m.label for m in measures if m.kind == "index"})
    for link in chain:
        patient.append(f"{link.label}: {link.status}.")
        deciding = ", ".join(f"{labels.get(m, m)} {s}" for m, s in link.deciding)
        clinician.append(f"{link.label}: {link.status} ({deciding or 'no data'}).")
    flagged = [m for m in measures if m.status in ("low", "high", "borderline")]
    if flagged:
        clinician.append("Outside the range used: " + "; ".join(
            f"{m.label} {_fmt(m.value)} {m.unit} ({m.status})".replace("  ", " ")
            for m in flagged))
    n_options = sum(len(v) for v in options.values())
    if n_options:
        patient.append(f"{n_options} option(s) to discuss with your clinician are listed, each "
                       "with how strong the evidence for it is.")
    return {"patient": patient, "clinician": clinician}


def _context_warnings(sample_id: str, reference: Reference,
                      previous: Mapping[str, Any] | None) -> tuple[dict[str, Any], ...]:
    """Warnings about what the profile is compared with (none blocks a percentile)."""
    out = []
    if sample_id in set(map(str, reference.sample_ids)):
        out.append({"code": "patient_in_reference", "affects": [], "message":
                    f"Sample {sample_id} is itself one of the reference's samples, so it is "
                    "partly compared with itself; its percentiles lean towards the middle."})
    if previous is not None:
        before = previous.get("sample_id")
        if before is not None and str(before) != str(sample_id):
            out.append({"code": "previous_sample_differs", "affects": [], "message":
                        f"The previous profile is of sample {before}, this one of "
                        f"{sample_id}: the follow-up assumes both are the same person."})
        ref_before = (previous.get("reference") or {}).get("version")
        if ref_before is not None and str(ref_before) != reference.version:
            out.append({"code": "previous_reference_differs", "affects": [], "message":
                        "The previous profile was placed against another reference (version "
                        f"{str(ref_before)[:12]}, now {reference.version[:12]}): its "
                        "percentiles are not comparable with these."})
    return tuple(out)


def _history(previous: Mapping[str, Any] | None) -> tuple[dict[str, Any], ...]:
    if previous is None:
        return ()
    earlier = list(previous.get("history") or [])
    values = {m["id"]: m.get("value") for m in previous.get("measures", []) if "id" in m}
    earlier.append({"created": previous.get("created", ""), "values": values})
    return tuple(earlier)


def build_profile(study: Study, sample_id: str, reference: Reference, *,
                  markers: MarkerPanel | None = None, labs: LabResults | None = None,
                  previous: Mapping[str, Any] | None = None, n_boot: int = 2000, seed: int = 0,
                  inputs: Sequence[dict[str, Any]] = (),
                  clock: Callable[[], _dt.datetime] | None = None) -> Profile:
    """One patient's profile against a reference cohort.

    Parameters
    ----------
    study : Study
        The patient's microbiome (the table may hold other samples too).
    sample_id : str
        The patient's sample.
    reference : Reference
        A frozen reference cohort (:func:`~gutaxis.profile.reference.load_reference`).
    markers : MarkerPanel, optional
        Marker values from sample metadata.
    labs : LabResults, optional
        Lab results (``LABS.csv``); their ranges win over catalogue cut-offs,
        and a lab value wins over a metadata value of the same marker.
    previous : mapping, optional
        A previous ``profile.json`` (parsed) for the follow-up section.
    n_boot, seed : int
        Bootstrap replicates and seed of the percentile intervals.
    inputs : sequence of dict
        Provenance records of the input files.
    clock : callable, optional
        Returns the time to record (tests inject a fixed one).

    Returns
    -------
    Profile

    Raises
    ------
    NotFoundError
        ``sample_id`` is not in the table.
    """
    if sample_id not in set(study.sample_ids):
        raise NotFoundError("sample id", [sample_id], study.source or "the table")
    if labs is not None and sample_id not in set(labs.samples):
        shown = ", ".join(map(repr, sorted(labs.samples)[:10]))
        raise ValidationError(f"{labs.path}: no lab results for sample {sample_id!r} (the "
                              f"file has {shown}); sample ids must match exactly")
    comparison = compare_to_reference(reference, study, sample_id,
                                      markers=_patient_panel(markers, labs, sample_id),
                                      n_boot=n_boot, seed=seed)
    non_markers = [m for m in comparison.measures if m.kind != "marker"]
    measures = [*non_markers, *_markers(comparison.measures, reference, markers, labs, sample_id)]
    by_id = {m.id: m for m in measures}
    chain = assess_chain(by_id)
    options = select_options(chain, by_id)
    warnings = tuple({"code": w.code, "message": w.message, "affects": list(w.affects)}
                     for w in comparison.warnings) + _context_warnings(sample_id, reference,
                                                                       previous)
    followup = (tuple(compare_visits(previous, measures, reference))
                if previous is not None else None)
    reference_values = {}
    for m in measures:
        values = (reference.measure_values(m.id, unit=m.unit) if m.percentile is not None
                  else None)
        if values is not None:
            reference_values[m.id] = [float(v) for v in values]
    interventions = load_interventions()
    now = (clock or (lambda: _dt.datetime.now(_dt.UTC)))()
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
            "low_below": LOW_PERCENTILE, "high_above": HIGH_PERCENTILE}},
    }
    return Profile(
        sample_id=str(sample_id),
        created=now.isoformat(timespec="seconds"),
        reference=reference.summary(),
        warnings=warnings,
        measures=tuple(measures),
        top_taxa=_top_taxa(study, sample_id),
        chain=tuple(chain),
        options={step: tuple(opts) for step, opts in options.items()},
        followup=followup,
        history=_history(previous),
        reference_values=reference_values,
        summary=_summary(measures, chain, warnings, reference, options),
        disclaimer=interventions.disclaimer,
        provenance=provenance,
    )
