"""One patient against a reference: comparability checks and percentiles.

:func:`compare_to_reference` places a sample's microbiome — indices, key
taxa, and optionally every taxon at some ranks — in a reference: a percentile
with a bootstrap interval (:mod:`gutaxis.stats.percentile`) for every measure
the two share, unless the sample is not comparable with the reference; then
the affected measures say so (status ``"not comparable"``, no percentile) and
an :class:`~gutaxis.measures.Alert` says why.  :func:`place_markers` places
lab markers that were already judged against their own ranges.

The percentile convention is the knowledge base's ``percentile_rule``
(``chain.yaml``): a measure is ``"low"`` when its whole interval lies below the
5th percentile, ``"high"`` when it lies above the 95th, otherwise ``"within"``
(:meth:`~gutaxis.knowledge.PercentileRule.interval_status`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from gutaxis.checks import check_names, check_number, check_type
from gutaxis.composition import taxon_labels
from gutaxis.exceptions import NotFoundError, UnitError, ValidationError
from gutaxis.indices import compute_indices, not_computable_reason
from gutaxis.io import TAXONOMY_SCHEMES, infer_sequencing, infer_taxonomy_scheme, parse_sequencing
from gutaxis.knowledge import load_chain, load_taxa_catalog
from gutaxis.markers import UNJUDGED_NOTE, conversion_factor
from gutaxis.measures import Alert, Measure, MeasureKind, RangeUsed, Status, measure_id
from gutaxis.outputs import to_json
from gutaxis.reference._model import DISTANCE_QUANTILE, Reference, check_reference
from gutaxis.reference.build import relative_at
from gutaxis.stats.percentile import percentiles_with_ci
from gutaxis.study import Study, check_study

__all__ = ["ReferenceComparison", "compare_to_reference", "place_markers", "percentile_status",
           "DEPTH_QUANTILE", "MIN_VALUES", "JUDGED_BY_REFERENCE_NOTE"]

#: Replaces :data:`gutaxis.markers.UNJUDGED_NOTE` when the reference judges a marker's value.
JUDGED_BY_REFERENCE_NOTE = "judged by its place in the reference cohort instead"

#: A patient with fewer reads than this percentile of the reference's depths
#: is not compared.
DEPTH_QUANTILE = 1.0
#: Fewest reference values a percentile is given for.
MIN_VALUES = 10
_RECOMMENDED_VALUES = 30
_INDEX_LABELS = {"gmhi": "GMHI (Gut Microbiome Health Index)",
                 "md_index": "MD-index (microbial dysbiosis index)",
                 "shannon_entropy": "Shannon entropy"}
_TAXONOMY_INDICES = ("index:gmhi", "index:md_index")


@dataclasses.dataclass(frozen=True, eq=False)
class ReferenceComparison:
    """A patient's microbiome placed against a reference (see :func:`compare_to_reference`).

    Attributes
    ----------
    reference_name, reference_version : str
    sample_id : str
    measures : tuple of Measure
        Indices, then key taxa.
    alerts : tuple of Alert
        Comparability problems (scope ``"reference"``).
    median_distance : float or None
        The patient's median Bray–Curtis dissimilarity to the reference
        samples (genus); None when not computed (see the alerts).
    distance_threshold : float
        The reference's :attr:`~Reference.distance_threshold`.
    read_depth : float or None
        The patient's reads (None for relative abundances).
    taxa : dict of str to pandas.DataFrame
        Rank → one row per taxon (index: lineage): ``label``, ``value``
        (fraction), ``percentile``, ``ci_low``, ``ci_high``, ``n``,
        ``status``.  Only the ranks asked for.
    """

    reference_name: str
    reference_version: str
    sample_id: str
    measures: tuple[Measure, ...]
    alerts: tuple[Alert, ...]
    median_distance: float | None
    distance_threshold: float
    read_depth: float | None
    taxa: dict[str, pd.DataFrame] = dataclasses.field(default_factory=dict)

    @property
    def comparable(self) -> bool:
        """True when no blocking alert was raised."""
        return not any(a.blocking for a in self.alerts)

    def measure(self, measure_id: str) -> Measure:
        """Return the measure with id ``measure_id``.

        Parameters
        ----------
        measure_id : str

        Returns
        -------
        Measure

        Raises
        ------
        NotFoundError
            No such measure.
        """
        for m in self.measures:
            if m.id == measure_id:
                return m
        raise NotFoundError("measure", [measure_id], "the comparison",
                            available=[m.id for m in self.measures])

    def to_dict(self) -> dict[str, Any]:
        """Return the comparison as plain JSON types.

        Returns
        -------
        dict
        """
        return dict(to_json({
            "reference": {"name": self.reference_name, "version": self.reference_version},
            "sample_id": self.sample_id,
            "comparable": self.comparable,
            "median_distance": self.median_distance,
            "distance_threshold": self.distance_threshold,
            "read_depth": self.read_depth,
            "alerts": [a.to_dict() for a in self.alerts],
            "measures": [m.to_dict() for m in self.measures],
            "taxa": {r: t.reset_index().to_dict(orient="records") for r, t in self.taxa.items()},
        }))


def percentile_status(ci_low: float, ci_high: float, *, value: float | None = None,
                      reference: np.ndarray | None = None) -> Status:
    """Return ``"low"``, ``"high"`` or ``"within"`` from a percentile interval.

    The knowledge base's ``percentile_rule`` decides
    (:meth:`~gutaxis.knowledge.PercentileRule.interval_status`).

    Parameters
    ----------
    ci_low, ci_high : float
        The percentile's interval (0–100).
    value : float, optional
        The value itself.
    reference : numpy.ndarray, optional
        The reference's values.

    Returns
    -------
    {"low", "within", "high"}

    Raises
    ------
    ValidationError
        ``ci_low`` or ``ci_high`` is not a number in [0, 100] (a text, NaN),
        or ``value`` is not a number.

    Examples
    --------
    >>> percentile_status(0.5, 3.0), percentile_status(40.0, 60.0)
    ('low', 'within')
    """
    for name, bound in (("ci_low", ci_low), ("ci_high", ci_high)):
        check_number(bound, name, minimum=0, maximum=100)
    check_number(value, "value", finite=False, allow_none=True)
    return _status(ci_low, ci_high, value=value, reference=reference)


def _status(ci_low: float, ci_high: float, *, value: float | None = None,
            reference: np.ndarray | None = None) -> Status:
    """:func:`percentile_status` on the intervals this module computed (not checked again)."""
    return load_chain().percentile_rule.interval_status(ci_low, ci_high, value=value,
                                                         reference=reference)


@dataclasses.dataclass
class _Candidate:
    id: str
    label: str
    kind: MeasureKind
    unit: str
    value: float
    reference: np.ndarray
    notes: list[str] = dataclasses.field(default_factory=list)
    problem: str | None = None  # a measure-level reason for "not comparable"
    clusters: list[str] | None = None  # the person of each reference row, when repeated

    @property
    def n(self) -> int:
        return int(np.count_nonzero(~np.isnan(self.reference)))


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _candidates(ref: Reference, frame: pd.DataFrame, notes: dict[str, str],
                sid: str) -> list[_Candidate]:
    out = []
    ref_res = ref.details.get("panel_resolution", {}) or {}
    pat_res = frame.attrs.get("resolution", {}) or {}
    for column in ref.indices.columns:
        col = str(column)
        is_index = col in _INDEX_LABELS
        value = _float(frame.loc[sid, col]) if col in frame.columns else float("nan")
        label = _INDEX_LABELS.get(col) or str((ref_res.get(col) or {}).get("name") or col)
        cand = _Candidate(measure_id("index" if is_index else "taxon", col), label,
                          "index" if is_index else "taxon", "" if is_index else "fraction",
                          value, ref.indices[col].to_numpy(dtype=np.float64),
                          clusters=ref.row_people())
        if col not in frame.columns:
            cand.notes.append("not computed for the patient's table")
        else:
            cand.notes.extend(_index_notes(col, value, frame, notes, sid))
        if not is_index and col in ref_res and col in pat_res:
            theirs, ours = ref_res[col].get("matched_as"), pat_res[col].get("matched_as")
            if theirs is not None and ours is not None and theirs != ours:
                cand.problem = (f"measured as {ours} in the patient but as {theirs} in the "
                                "reference")
        out.append(cand)
    return out


def _index_notes(col: str, value: float, frame: pd.DataFrame, notes: dict[str, str],
                 sid: str) -> list[str]:
    """Say why an index's value is missing, how many of its taxa were found, what −∞ is."""
    status = (frame.attrs.get("status") or {}).get(col)
    here = None if status is None else status[list(frame.index).index(sid)]
    out = []
    if here == "not computable":
        out.append(f"not computable: {not_computable_reason(col)}")
    elif np.isnan(value) and notes.get(col):
        out.append(str(notes[col]))
    found = (frame.attrs.get("found") or {}).get(col)
    if found and here != "not applicable":
        out.append(f"in the patient's sample: {found}")
    if col == "md_index" and value == -np.inf:
        meaning = load_taxa_catalog().indices.md_index.minus_infinity
        if meaning:
            out.append(f"−∞: {meaning}")
    return out


def _distance(ref: Reference, values: np.ndarray, lineages: pd.Index) -> tuple[float, str]:
    """Return the patient's median Bray–Curtis dissimilarity to the reference samples (genus)."""
    columns = ref.taxa["genus"].columns
    matrix = ref.taxa["genus"].to_numpy(dtype=np.float64)
    positions = columns.get_indexer(lineages)
    shared = np.zeros(len(columns))
    inside = positions >= 0
    shared[positions[inside]] = values[inside]
    outside = float(values[~inside].sum())
    numerator = np.abs(matrix - shared[None, :]).sum(axis=1) + outside
    denominator = matrix.sum(axis=1) + shared.sum() + outside
    with np.errstate(invalid="ignore", divide="ignore"):
        median = float(np.median(numerator / denominator))
    top = int(np.argmax(values))
    return median, f"{taxon_labels([str(lineages[top])])[0]} ({float(values[top]):.0%})"


def _checks(ref: Reference, patient: Study, sid: str, genus: pd.DataFrame | None,
            sequencing: tuple[str, str | None], scheme: str
            ) -> tuple[list[tuple[str, str, bool, str]], float | None, float | None]:
    """Return the alerts as ``(code, message, blocking, scope)``, the distance and the depth.

    ``scope`` is ``"microbiome"`` (indices, key taxa, taxa tables) or
    ``"taxonomy"`` (key taxa, GMHI, MD-index, taxa tables).
    """
    found: list[tuple[str, str, bool, str]] = []
    seq_type, region = sequencing
    if "unknown" in (seq_type, ref.sequencing):
        how = ("the patient's table tells it by its feature ids (ASV sequences or MD5 ids: "
               "16S; a MetaPhlAn profile: shotgun)" if seq_type == "unknown" else
               "build the reference with --sequencing, e.g. --sequencing '16S V4'")
        whose = "patient" if seq_type == "unknown" else "reference"
        found.append(("sequencing_unverified",
                      f"The sequencing type of the {whose} could not be inferred, so it was "
                      f"not checked that the two match ({how}).", False, "microbiome"))
    elif seq_type != ref.sequencing:
        found.append(("sequencing_mismatch",
                      f"The patient's sample is {seq_type} data and the reference "
                      f"{ref.name!r} is {ref.sequencing} data; diversity and abundances are not on "
                      f"the same scale across the two, so the microbiome measures are not placed "
                      f"against this reference. Use a {seq_type} reference.", True, "microbiome"))
    elif region and ref.region and region.upper() != ref.region.upper():
        found.append(("region_mismatch",
                      f"The patient's 16S region ({region}) differs from the reference's "
                      f"({ref.region}); primers shift the abundances of some taxa.", False,
                      "microbiome"))
    if "unknown" in (scheme, ref.taxonomy_scheme):
        found.append(("taxonomy_unverified",
                      "The taxonomy scheme of the "
                      f"{'patient' if scheme == 'unknown' else 'reference'} could not be "
                      "inferred, so it was not checked that taxon names match.", False,
                      "taxonomy"))
    elif scheme != ref.taxonomy_scheme:
        found.append(("taxonomy_mismatch",
                      f"The patient's taxonomy is {scheme} and the reference's "
                      f"{ref.taxonomy_scheme}; taxon names and boundaries differ between "
                      "the two, so taxa and the taxonomy-based indices are not placed.", True,
                      "taxonomy"))
    depth = float(patient.sample_totals()[0]) if patient.kind == "counts" else None
    ref_depth = ref.read_depth[~np.isnan(ref.read_depth)]
    if depth is not None:
        floor = float(ref.min_reads)
        if ref_depth.size:
            floor = max(floor, float(np.percentile(ref_depth, DEPTH_QUANTILE)))
        if depth < floor:
            found.append(("low_depth",
                          f"The patient's sample has {depth:,.0f} reads, fewer than the "
                          f"reference accepts ({floor:,.0f}: the larger of its minimum read "
                          "count and the 1st percentile of the reference's depths); its "
                          "diversity and rare taxa would be underestimated. Re-sequence deeper.",
                          True, "microbiome"))
    elif ref_depth.size:
        found.append(("depth_unverified", "The patient's table holds relative abundances, so "
                      "its read depth could not be checked.", False, "microbiome"))
    distance = None
    mismatch = any(code in ("sequencing_mismatch", "taxonomy_mismatch")
                   for code, *_ in found)
    row = None if genus is None else genus.loc[[sid]].to_numpy(dtype=np.float64)[0]
    if genus is None or row is None or mismatch or row.sum() <= 0:
        why = ("the sequencing or taxonomy differs" if mismatch else
               "the patient's table has no taxonomy" if genus is None else
               "the patient's sample is empty")
        found.append(("distance_unverified", f"Whether the profile lies within the "
                      f"reference's range was not checked: {why}.", False, "microbiome"))
    elif ref.taxa["genus"].shape[1] < 2 or not ref.distance_threshold > 0:
        found.append(("distance_unverified", "Whether the profile lies within the reference's "
                      "range was not checked: the reference does not resolve genera (e.g. a "
                      "species-only profile), so genus-level distances carry no information.",
                      False, "microbiome"))
    else:
        distance, dominant = _distance(ref, row, genus.columns)
        # a relative tolerance keeps float noise (1e-17 over a threshold of 0.4) from counting
        if distance > ref.distance_threshold * (1 + 1e-9):
            found.append(("out_of_reference_range",
                          f"The patient's profile is out of the reference's range: its median "
                          f"Bray–Curtis dissimilarity to the reference samples (genus level) "
                          f"is {distance:.3f}, beyond {ref.distance_threshold:.3f}, the "
                          f"{DISTANCE_QUANTILE:g}th percentile of the reference's own samples "
                          f"(most abundant genus: {dominant}). Percentiles against this "
                          "reference would be misleading.", True, "microbiome"))
    return found, distance, depth


def _scope_ids(scope: str, cands: list[_Candidate], ranks: list[str]) -> list[str]:
    tables = [f"taxa:{r}" for r in ranks]
    if scope == "microbiome":
        return [c.id for c in cands] + tables
    return [c.id for c in cands if c.kind == "taxon" or c.id in _TAXONOMY_INDICES] + tables


def _reference_range(ref: Reference, values: np.ndarray, *, label: str) -> RangeUsed:
    """Return the reference's range under the percentile rule.

    Infinite values are values (an MD-index of −∞ is the lowest there is): they
    count in ``n`` and in the percentiles, as they do in the patient's
    percentile, so an end of the range may be −∞; the source says how many
    there are.
    """
    rule = load_chain().percentile_rule
    low, high = rule.bounds(values)
    n = int(np.count_nonzero(~np.isnan(values)))
    infinite = [f"{int(np.count_nonzero(values == v))} at {sign}"
                for v, sign in ((-np.inf, "−∞"), (np.inf, "+∞")) if np.any(values == v)]
    counted = f"n={n}" + (f", of which {' and '.join(infinite)}" if infinite else "")
    return RangeUsed("reference", low, high,
                     f"reference cohort {ref.name!r} ({counted}, version {ref.version[:12]}), "
                     f"{rule.label()}", label=label)


def _marker_range(ref: Reference, m: Measure) -> RangeUsed:
    """Return the reference's range of a marker, in the measure's unit."""
    values = ref.measure_values(m.id, unit=m.unit)
    return _reference_range(
        ref, values if values is not None else np.array([]),
        label="no laboratory or published range; judged by the reference's percentiles (the "
              "whole 95 % interval must lie outside them)")


def _measure(cand: _Candidate, row: tuple[float, float, float] | None, blocked: list[str],
             ref: Reference, caveats: list[str]) -> Measure:
    value = None if np.isnan(cand.value) else float(cand.value)
    notes = tuple(cand.notes)
    n = cand.n
    if value is None:
        return Measure(cand.id, cand.label, cand.kind, None, cand.unit, "not measured",
                       reference_n=n, notes=notes)
    reason = (", ".join(blocked) + " (see the comparison's warnings)") if blocked \
        else cand.problem
    if reason is None and n < MIN_VALUES:
        reason = (f"the reference has only {n} value(s) of this measure (at least "
                  f"{MIN_VALUES} needed)")
    if reason is not None or row is None:
        return Measure(cand.id, cand.label, cand.kind, value, cand.unit, "not comparable",
                       reference_n=n, caveats=tuple(caveats),
                       notes=(*notes, f"not comparable: {reason}"))
    extra = list(caveats)
    if n < _RECOMMENDED_VALUES:
        extra.append(f"only {n} reference values: the interval is wide")
    pct, lo, hi = row
    status = _status(lo, hi, value=value, reference=cand.reference)
    return Measure(cand.id, cand.label, cand.kind, value, cand.unit, status, percentile=pct,
                   ci_low=lo, ci_high=hi, reference_n=n,
                   range_used=_reference_range(
                       ref, cand.reference,
                       label=f"{load_chain().percentile_rule.label()} of the reference"),
                   caveats=tuple(extra), notes=notes)


def _taxa_table(ref: Reference, rank: str, table: pd.DataFrame, sid: str, blocked: list[str],
                n_boot: int, seed: int) -> pd.DataFrame:
    reference = ref.taxa[rank].astype(np.float64)
    row = table.loc[sid]
    extra = [c for c in row.index if c not in reference.columns and row[c] > 0]
    if extra:
        reference = reference.join(pd.DataFrame(0.0, index=reference.index, columns=extra))
    values = pd.Series(row.reindex(reference.columns).fillna(0.0).to_numpy(dtype=np.float32),
                       index=reference.columns, dtype=np.float64)
    out = pd.DataFrame({"label": taxon_labels(list(reference.columns)),
                        "value": values.to_numpy()}, index=pd.Index(reference.columns,
                                                                    name="lineage"))
    if blocked:
        for col in ("percentile", "ci_low", "ci_high"):
            out[col] = np.nan
        out["n"] = len(reference)
        out["status"] = "not comparable"
        return out
    pct = percentiles_with_ci(values, reference, n_boot=n_boot, seed=seed,
                              clusters=ref.row_people())
    out = out.join(pct.set_axis(out.index, axis=0))
    # the same rule as the measures: the value and the reference decide ties
    out["status"] = [_status(lo, hi, value=v, reference=reference[c].to_numpy())
                     for c, v, lo, hi in zip(out.index, out["value"], out["ci_low"],
                                              out["ci_high"], strict=True)]
    return out


def _rows(cands: Sequence[_Candidate], n_boot: int, seed: int
          ) -> dict[str, tuple[float, float, float]]:
    """Return the percentile rows of the candidates (one shared bootstrap)."""
    if not cands:
        return {}
    reference = pd.DataFrame({c.id: c.reference for c in cands})
    table = percentiles_with_ci({c.id: c.value for c in cands}, reference, n_boot=n_boot,
                                seed=seed, clusters=cands[0].clusters)
    return {str(mid): (float(p), float(lo), float(hi)) for mid, p, lo, hi in
            zip(table.index, table["percentile"], table["ci_low"], table["ci_high"],
                strict=True)}


def compare_to_reference(reference: Reference, patient_study: Study, sample_id: str, *,
                         sequencing: str | None = None, taxonomy_scheme: str | None = None,
                         ranks: Sequence[str] = (), n_boot: int = 2000,
                         seed: int = 0) -> ReferenceComparison:
    """Place one sample's microbiome against a reference: percentiles, intervals, comparability.

    Parameters
    ----------
    reference : Reference
    patient_study : Study
        A table holding the patient's sample (other samples are ignored).
    sample_id : str
    sequencing, taxonomy_scheme : str, optional
        The patient's, when known; default: inferred
        (:func:`gutaxis.io.infer_sequencing`, :func:`gutaxis.io.infer_taxonomy_scheme`).
    ranks : sequence of str
        Also place every taxon at these ranks (of those frozen in the
        reference): :attr:`ReferenceComparison.taxa`.
    n_boot, seed
        Bootstrap of :func:`~gutaxis.stats.percentile.percentiles_with_ci`
        (one shared resampling for all measures).

    Returns
    -------
    ReferenceComparison
        One :class:`~gutaxis.measures.Measure` per index and key taxon, and
        the :class:`~gutaxis.measures.Alert` list.

    Raises
    ------
    NotFoundError
        ``sample_id`` is not in ``patient_study``, or a rank in ``ranks`` is
        not frozen in the reference.
    ValidationError
        An unknown taxonomy scheme or sequencing description.
    InputError
        ``reference`` or ``patient_study`` of the wrong type; ``ranks`` given
        as one text.

    Notes
    -----
    Checks, each giving an alert (``code``) instead of a misleading
    percentile; a *blocking* alert makes the measures it affects ``"not
    comparable"``:

    * ``sequencing_mismatch`` (blocking, all microbiome measures): 16S
      amplicon against shotgun;  ``region_mismatch`` (caveat): two 16S
      regions;
    * ``taxonomy_mismatch`` (blocking: key taxa, GMHI, MD-index, taxa
      tables): two taxonomy schemes (Shannon entropy is computed on the
      features and is kept);
    * ``low_depth`` (blocking, microbiome): fewer reads than the reference's
      1st percentile of depth or than its minimum read count;
    * ``out_of_reference_range`` (blocking, microbiome): the patient's median
      Bray–Curtis dissimilarity to the reference samples (genus level)
      exceeds the reference's ``distance_threshold``;
    * ``*_unverified`` (caveat): a type that could not be inferred.
    """
    check_reference(reference)
    check_study(patient_study, "patient_study")
    ranks = check_names(ranks, "ranks")
    scheme = taxonomy_scheme
    if scheme is not None and scheme not in TAXONOMY_SCHEMES:
        raise ValidationError(f"the taxonomy scheme must be one of "
                              f"{', '.join(TAXONOMY_SCHEMES)}; got {scheme!r}")
    sid = str(sample_id)
    if sid not in patient_study.sample_ids:
        raise NotFoundError("sample id", [sid], patient_study.source,
                            available=[str(s) for s in patient_study.sample_ids])
    patient = patient_study.subset_samples([sid], step="patient_sample")
    scheme = scheme or infer_taxonomy_scheme(patient)
    if sequencing is not None:
        seq_type, region = parse_sequencing(sequencing)
    else:
        seq_type, region = infer_sequencing(patient, scheme), None
    unknown = [r for r in ranks if r not in reference.taxa]
    if unknown:
        raise NotFoundError("rank", unknown, f"the reference {reference.name!r}",
                            available=list(reference.taxa))
    frame, notes = compute_indices(patient)
    genus = relative_at(patient, "genus") if patient.taxonomy is not None else None
    tables = {r: relative_at(patient, r) for r in ranks}

    cands = _candidates(reference, frame, notes, sid)
    found, distance, depth = _checks(reference, patient, sid, genus, (seq_type, region), scheme)
    alerts = tuple(Alert(code, message, "reference", blocking,
                         tuple(_scope_ids(scope, cands, list(tables))))
                   for code, message, blocking, scope in found)
    blocked: dict[str, list[str]] = {}
    caveats: dict[str, list[str]] = {}
    for alert in alerts:
        for mid in alert.affects:
            if alert.blocking:
                blocked.setdefault(mid, []).append(alert.code)
            else:
                caveats.setdefault(mid, []).append(alert.message)
    usable = [c for c in cands if not np.isnan(c.value) and c.id not in blocked
              and c.problem is None and c.n >= MIN_VALUES]
    rows = _rows(usable, n_boot, seed)
    measures = tuple(_measure(c, rows.get(c.id), blocked.get(c.id, []), reference,
                              caveats.get(c.id, [])) for c in cands)
    taxa = {r: _taxa_table(reference, r, t, sid, blocked.get(f"taxa:{r}", []), n_boot, seed)
            for r, t in tables.items()}
    return ReferenceComparison(reference.name, reference.version, sid, measures, alerts,
                               distance, reference.distance_threshold, depth, taxa)


def _censored_status(cand: _Candidate, censored: str, n_boot: int, seed: int
                     ) -> tuple[Status | None, str]:
    """Return the reference status every value a censored result may stand for shares.

    A ``"<L"`` result may be any value in [0, L); a ``">L"`` any value above L.
    The status is monotone in the value, so the two ends decide: when they
    agree, the limit decides the question; otherwise there is no status.
    """
    limit = cand.value
    top = float(np.nanmax(cand.reference)) if cand.n else limit
    ends = (0.0, float(np.nextafter(limit, -np.inf))) if censored == "<" else \
        (float(np.nextafter(limit, np.inf)), max(top, limit) * 2 + 1.0)
    statuses = set()
    for end in ends:
        end_cand = dataclasses.replace(cand, value=end)
        pct, lo, hi = _rows([end_cand], n_boot, seed)[cand.id]
        statuses.add(_status(lo, hi, value=end, reference=cand.reference))
    side = "below" if censored == "<" else "above"
    if len(statuses) == 1:
        status = statuses.pop()
        return status, (f"reported only as {side} the assay's limit: every value it may stand "
                        f"for is {status} against the reference, so the limit decides")
    order = ("low", "within", "high")  # the status grows with the value: the ends bound it
    spanned = order[min(map(order.index, statuses)):max(map(order.index, statuses)) + 1]
    found = " or ".join(spanned)
    return None, (f"reported only as {side} the assay's limit: the values it may stand for are "
                  f"{found} against the reference, so its position there is not known (no "
                  "percentile)")


def place_markers(reference: Reference, markers: Sequence[Measure], *, n_boot: int = 2000,
                  seed: int = 0) -> list[Measure]:
    """Place lab markers, already judged against their own ranges, in the reference.

    Parameters
    ----------
    reference : Reference
    markers : sequence of Measure
        Marker measures (:func:`gutaxis.markers.interpret_result`): their
        status comes from the lab's range or a published cut-off, or is
        ``"not comparable"`` when neither exists.
    n_boot, seed
        As for :func:`compare_to_reference`.

    Returns
    -------
    list of Measure
        Each marker the reference also has gets its percentile, interval and
        ``reference_n`` (the patient's value is converted to the reference's
        unit for this).  A marker without a lab range or cut-off is judged by
        the percentile (``range_used`` of kind ``"reference"``).  A censored
        value gets no percentile; without a range of its own it is judged by
        the reference only when every value it may stand for gets the same
        status (the limit decides), else it stays ``"not comparable"``.

    Raises
    ------
    ValidationError
        A measure that is not a marker.
    InputError
        ``reference`` is not a Reference, or a marker is not a Measure.
    """
    check_reference(reference)
    out: list[tuple[Measure, _Candidate | None]] = []
    cands = []
    for m in markers:
        check_type(m, Measure, "each marker", hint="see gutaxis.markers.interpret_result")
        if m.kind != "marker":
            raise ValidationError(f"place_markers places markers; {m.id} is of kind {m.kind!r}")
        info = reference.marker_column(m.key)
        if info is None or m.value is None:
            out.append((m, None))
            continue
        try:
            factor = conversion_factor(m.unit, info.unit)
        except UnitError as exc:
            note = (f"not placed in the reference: its unit {m.unit} does not convert to the "
                    f"reference's {info.unit} ({exc})")
            out.append((dataclasses.replace(m, notes=(*m.notes, note)), None))
            continue
        cand = _Candidate(m.id, m.label, "marker", info.unit, float(m.value) * factor,
                          reference.markers[info.name].to_numpy(dtype=np.float64),
                          clusters=reference.row_people())
        out.append((m, cand))
        if m.censored is None and cand.n >= MIN_VALUES:
            cands.append(cand)
    rows = _rows(cands, n_boot, seed)
    placed = []
    for m, found in out:
        if found is None:
            placed.append(m)
            continue
        placed.append(_placed(reference, m, found, rows.get(m.id), n_boot, seed))
    return placed


def _judged_by_reference(m: Measure, **changes: Any) -> Measure:
    """Give ``m`` the status the reference found; its notes no longer say it has none."""
    notes = tuple(JUDGED_BY_REFERENCE_NOTE if n == UNJUDGED_NOTE else n
                  for n in changes.pop("notes", m.notes))
    return dataclasses.replace(m, notes=notes, **changes)


def _placed(reference: Reference, m: Measure, cand: _Candidate,
            row: tuple[float, float, float] | None, n_boot: int, seed: int) -> Measure:
    unjudged = m.range_used is None
    if cand.n < MIN_VALUES:
        return dataclasses.replace(m, reference_n=cand.n, notes=(
            *m.notes, f"not placed in the reference: it has only {cand.n} value(s) of this "
            f"marker (at least {MIN_VALUES} needed)"))
    if m.censored is not None:
        if not unjudged:
            return dataclasses.replace(m, reference_n=cand.n)
        status, note = _censored_status(cand, m.censored, n_boot, seed)
        if status is None:
            return dataclasses.replace(m, reference_n=cand.n, notes=(*m.notes, note))
        return _judged_by_reference(m, status=status, reference_n=cand.n,
                                    range_used=_marker_range(reference, m),
                                    notes=(*m.notes, note))
    assert row is not None
    pct, lo, hi = row
    placed = dataclasses.replace(m, percentile=pct, ci_low=lo, ci_high=hi, reference_n=cand.n)
    if unjudged:
        status = _status(lo, hi, value=cand.value, reference=cand.reference)
        placed = _judged_by_reference(placed, status=status,
                                      range_used=_marker_range(reference, m))
    return placed
