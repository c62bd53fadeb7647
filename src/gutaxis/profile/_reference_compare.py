"""One patient against a reference: comparability checks and per-measure percentiles.

The engine behind :func:`gutaxis.profile.reference.compare_to_reference`;
import the public names from :mod:`gutaxis.profile.reference`.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from gutaxis.composition import taxon_labels
from gutaxis.exceptions import NotFoundError, UnitError
from gutaxis.markers import MarkerPanel, conversion_factor
from gutaxis.profile._model import Measure, MeasureKind, RangeUsed, Status
from gutaxis.profile._reference_impl import json_ready
from gutaxis.profile.percentile import percentiles_with_ci
from gutaxis.study import Study

if TYPE_CHECKING:
    from gutaxis.profile.reference import Reference

__all__ = ["ComparabilityWarning", "ReferenceComparison", "compare", "LOW_PERCENTILE",
           "HIGH_PERCENTILE", "DISTANCE_QUANTILE", "DEPTH_QUANTILE", "percentile_status"]

#: A measure is ``"low"`` when the upper bound of its percentile interval is
#: below this.  A convention, not a clinical cut-off: a knowledge-base rule for
#: a measure (a published threshold) may supersede it.
LOW_PERCENTILE = 5.0
#: A measure is ``"high"`` when the lower bound of its percentile interval is
#: above this (same caveat as :data:`LOW_PERCENTILE`).
HIGH_PERCENTILE = 95.0
#: Percentile of the reference samples' median distances taken as the edge
#: of the reference's range.
DISTANCE_QUANTILE = 99.0
#: A patient with fewer reads than this percentile of the reference's depths
#: is not compared.
DEPTH_QUANTILE = 1.0
#: Fewest reference values a percentile is given for (as for building).
_MIN_VALUES = 10
_RECOMMENDED_VALUES = 30
_INDEX_LABELS = {"gmhi": "GMHI (Gut Microbiome Health Index)",
                 "md_index": "MD-index (microbial dysbiosis index)",
                 "shannon_entropy": "Shannon entropy"}
_TAXONOMY_INDICES = ("gmhi", "md_index")


@dataclasses.dataclass(frozen=True)
class ComparabilityWarning:
    """Why (part of) a patient's profile cannot be placed against the reference.

    Attributes
    ----------
    code : str
        ``"sequencing_mismatch"``, ``"region_mismatch"``,
        ``"taxonomy_mismatch"``, ``"low_depth"``, ``"out_of_reference_range"``,
        ``"sequencing_unverified"``, ``"taxonomy_unverified"``,
        ``"depth_unverified"``, ``"distance_unverified"``.
    message : str
        One or two sentences for the report: what differs and what to do.
    blocking : bool
        True: the measures in ``affects`` get no percentile (status ``"not
        comparable"``).  False: a caveat attached to them.
    affects : tuple of str
        The measure ids concerned (``"taxa:<rank>"`` for a taxa table).
    """

    code: str
    message: str
    blocking: bool = True
    affects: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "blocking": self.blocking,
                "affects": list(self.affects)}


@dataclasses.dataclass(frozen=True, eq=False)
class ReferenceComparison:
    """A patient placed against a reference (see :func:`compare_to_reference`).

    Attributes
    ----------
    reference_name, reference_version : str
    sample_id : str
    measures : tuple of Measure
        Indices, then panel taxa, then markers.
    warnings : tuple of ComparabilityWarning
    median_distance : float or None
        The patient's median Bray–Curtis dissimilarity to the reference
        samples (genus); None when not computed (see the warnings).
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
    warnings: tuple[ComparabilityWarning, ...]
    median_distance: float | None
    distance_threshold: float
    read_depth: float | None
    taxa: dict[str, pd.DataFrame] = dataclasses.field(default_factory=dict)

    @property
    def comparable(self) -> bool:
        """True when no blocking warning was raised."""
        return not any(w.blocking for w in self.warnings)

    def measure(self, measure_id: str) -> Measure:
        """The measure with id ``measure_id`` (NotFoundError if absent)."""
        for m in self.measures:
            if m.id == measure_id:
                return m
        raise NotFoundError("measure", [measure_id], "the comparison")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (non-finite numbers as ``None``/``"inf"``/``"-inf"``)."""
        return json_ready({
            "reference": {"name": self.reference_name, "version": self.reference_version},
            "sample_id": self.sample_id,
            "comparable": self.comparable,
            "median_distance": self.median_distance,
            "distance_threshold": self.distance_threshold,
            "read_depth": self.read_depth,
            "warnings": [w.to_dict() for w in self.warnings],
            "measures": [m.to_dict() for m in self.measures],
            "taxa": {r: t.reset_index().to_dict(orient="records") for r, t in self.taxa.items()},
        })


def percentile_status(ci_low: float, ci_high: float, *, value: float | None = None,
                      reference: np.ndarray | None = None) -> Status:
    """``"low"``, ``"high"`` or ``"within"`` from a percentile interval.

    With ``value`` and ``reference``, "low"/"high" also needs the value to lie
    strictly beyond the reference's 5th/95th percentile value: a value tied
    with the bottom of the reference (e.g. an absent taxon when 5–7 % of the
    reference lack it too) has a mid-rank interval below 5 but is not below
    the range shown next to it.
    """
    finite = None if reference is None else reference[np.isfinite(reference)]
    if ci_high < LOW_PERCENTILE:
        if value is None or finite is None or not finite.size or \
                value < float(np.percentile(finite, LOW_PERCENTILE)):
            return "low"
    if ci_low > HIGH_PERCENTILE:
        if value is None or finite is None or not finite.size or \
                value > float(np.percentile(finite, HIGH_PERCENTILE)):
            return "high"
    return "within"


@dataclasses.dataclass
class _Candidate:
    id: str
    label: str
    kind: MeasureKind
    unit: str
    value: float
    reference: np.ndarray
    notes: list[str] = dataclasses.field(default_factory=list)
    caveats: list[str] = dataclasses.field(default_factory=list)
    problem: str | None = None  # a measure-level reason for "not comparable"


def _finite_or_nan(value: Any) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return float("nan")
    return out


def _marker_candidates(ref: Reference, markers: MarkerPanel | None,
                       sid: str) -> list[_Candidate]:
    if markers is None:
        return []
    if sid not in markers.values.index:
        raise NotFoundError("sample id", [sid], "the patient's marker panel")
    out = []
    for name, info in ref.marker_info.items():
        cid = info.get("catalog_id")
        match = next((p for p in markers.names
                      if (cid is not None and markers.catalog_ids.get(p) == cid) or p == name),
                     None)
        if match is None:
            continue
        unit = str(info.get("unit"))
        cand = _Candidate(f"marker:{cid or name}", name, "marker", unit,
                          _finite_or_nan(markers.values.loc[sid, match]),
                          ref.markers[name].to_numpy(dtype=np.float64))
        given = markers.units[match]
        try:
            factor = conversion_factor(given, unit)
        except UnitError as exc:
            cand.problem = f"the patient's unit {given} cannot be converted to the " \
                           f"reference's {unit} ({exc})"
            out.append(cand)
            continue
        if factor != 1.0:
            cand.value *= factor
            cand.notes.append(f"converted from {given} to {unit} (× {factor:g})")
        out.append(cand)
    return out


def _candidates(ref: Reference, frame: pd.DataFrame, notes: dict[str, str],
                sid: str) -> list[_Candidate]:
    out = []
    ref_res = ref.details.get("panel_resolution", {}) or {}
    pat_res = frame.attrs.get("resolution", {}) or {}
    for column in ref.indices.columns:
        col = str(column)
        is_index = col in _INDEX_LABELS
        value = _finite_or_nan(frame.loc[sid, col]) if col in frame.columns else float("nan")
        label = _INDEX_LABELS.get(col) or str((ref_res.get(col) or {}).get("name") or col)
        cand = _Candidate(col if is_index else f"taxon:{col}", label,
                          "index" if is_index else "taxon", "" if is_index else "fraction",
                          value, ref.indices[col].to_numpy(dtype=np.float64))
        if col not in frame.columns:
            cand.notes.append("not computed for the patient's table")
        elif np.isnan(value) and notes.get(col):
            cand.notes.append(str(notes[col]))
        if not is_index and col in ref_res and col in pat_res:
            theirs, ours = ref_res[col].get("matched_as"), pat_res[col].get("matched_as")
            if theirs is not None and ours is not None and theirs != ours:
                cand.problem = (f"measured as {ours} in the patient but as {theirs} in the "
                                "reference")
        out.append(cand)
    return out


def _distance(ref: Reference, values: np.ndarray, lineages: pd.Index) -> tuple[float, str]:
    """The patient's median Bray–Curtis dissimilarity to the reference samples (genus)."""
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
    """Warnings as ``(code, message, blocking, scope)``, the distance and the depth.

    ``scope`` is ``"microbiome"`` (indices, panel taxa, taxa tables) or
    ``"taxonomy"`` (panel taxa, GMHI, MD-index, taxa tables).
    """
    found: list[tuple[str, str, bool, str]] = []
    seq_type, region = sequencing
    if "unknown" in (seq_type, ref.sequencing):
        whose = "patient" if seq_type == "unknown" else "reference"
        found.append(("sequencing_unverified",
                      f"The sequencing type of the {whose} could not be inferred, so it was "
                      "not checked that the two match; give it (e.g. sequencing='16S V4').",
                      False, "microbiome"))
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
                          f"reference accepts ({floor:,.0f}: the larger of min_reads and the "
                          "1st percentile of the reference's depths); its diversity and "
                          "rare taxa would be underestimated. Re-sequence deeper.", True,
                          "microbiome"))
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
        return [c.id for c in cands if c.kind != "marker"] + tables
    return [c.id for c in cands if c.kind == "taxon" or c.id in _TAXONOMY_INDICES] + tables


def _measure(cand: _Candidate, row: tuple[float, float, float] | None, blocked: list[str],
             ref: Reference, caveats: list[str]) -> Measure:
    value = None if np.isnan(cand.value) else float(cand.value)
    notes = tuple(cand.notes)
    n = int(np.count_nonzero(~np.isnan(cand.reference)))
    if value is None:
        return Measure(cand.id, cand.label, cand.kind, None, cand.unit, "not measured",
                       reference_n=n, notes=notes)
    reason = (", ".join(blocked) + " (see the comparison's warnings)") if blocked \
        else cand.problem
    if reason is None and n < _MIN_VALUES:
        reason = (f"the reference has only {n} value(s) of this measure (at least "
                  f"{_MIN_VALUES} needed)")
    if reason is not None or row is None:
        return Measure(cand.id, cand.label, cand.kind, value, cand.unit, "not comparable",
                       reference_n=n, caveats=tuple(caveats),
                       notes=(*notes, f"not comparable: {reason}"))
    extra = list(caveats) + cand.caveats
    if n < _RECOMMENDED_VALUES:
        extra.append(f"only {n} reference values: the interval is wide")
    lo_q, hi_q = np.nanpercentile(cand.reference, [LOW_PERCENTILE, HIGH_PERCENTILE])
    used = RangeUsed("reference", float(lo_q), float(hi_q),
                     f"reference {ref.name!r} (n={n}, version {ref.version[:12]})",
                     label=f"{LOW_PERCENTILE:g}th–{HIGH_PERCENTILE:g}th percentile of the "
                           "reference")
    pct, lo, hi = row
    status = percentile_status(lo, hi, value=value, reference=cand.reference)
    return Measure(cand.id, cand.label, cand.kind, value, cand.unit, status, percentile=pct,
                   ci_low=lo, ci_high=hi, reference_n=n, range_used=used,
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
    pct = percentiles_with_ci(values, reference, n_boot=n_boot, seed=seed)
    out = out.join(pct.set_axis(out.index, axis=0))
    out["status"] = [percentile_status(lo, hi) for lo, hi in zip(out["ci_low"], out["ci_high"],
                                                                 strict=True)]
    return out


def compare(ref: Reference, patient: Study, sid: str, *, indices: pd.DataFrame,
            index_notes: dict[str, str], genus: pd.DataFrame | None,
            rank_tables: dict[str, pd.DataFrame], markers: MarkerPanel | None,
            sequencing: tuple[str, str | None], scheme: str, n_boot: int,
            seed: int) -> ReferenceComparison:
    """The body of :func:`gutaxis.profile.reference.compare_to_reference`."""
    cands = _candidates(ref, indices, index_notes, sid) + _marker_candidates(ref, markers, sid)
    ranks = list(rank_tables)
    found, distance, depth = _checks(ref, patient, sid, genus, sequencing, scheme)
    warnings_ = tuple(ComparabilityWarning(code, message, blocking,
                                           tuple(_scope_ids(scope, cands, ranks)))
                      for code, message, blocking, scope in found)
    blocked: dict[str, list[str]] = {}
    caveats: dict[str, list[str]] = {}
    for w in warnings_:
        for mid in w.affects:
            if w.blocking:
                blocked.setdefault(mid, []).append(w.code)
            else:
                caveats.setdefault(mid, []).append(w.message)
    usable = [c for c in cands if not np.isnan(c.value) and c.id not in blocked
              and c.problem is None
              and np.count_nonzero(~np.isnan(c.reference)) >= _MIN_VALUES]
    rows: dict[str, tuple[float, float, float]] = {}
    if usable:
        reference = pd.DataFrame({c.id: c.reference for c in usable})
        table = percentiles_with_ci({c.id: c.value for c in usable}, reference,
                                    n_boot=n_boot, seed=seed)
        rows = {str(mid): (float(p), float(lo), float(hi)) for mid, p, lo, hi in
                zip(table.index, table["percentile"], table["ci_low"], table["ci_high"],
                    strict=True)}
    measures = tuple(_measure(c, rows.get(c.id), blocked.get(c.id, []), ref,
                              caveats.get(c.id, [])) for c in cands)
    taxa = {r: _taxa_table(ref, r, t, sid, blocked.get(f"taxa:{r}", []), n_boot, seed)
            for r, t in rank_tables.items()}
    return ReferenceComparison(ref.name, ref.version, sid, measures, warnings_, distance,
                               ref.distance_threshold, depth, taxa)
