"""Reference cohorts: freeze a cohort once, place one patient against it.

:func:`build_reference` selects the reference samples of a
:class:`~gutaxis.study.Study` (``where``, a metadata query) and freezes what a
comparison needs: the indices of :func:`gutaxis.indices.compute_indices`
(GMHI, MD-index, Shannon entropy, the key-taxa panel) per sample, the
relative abundances of every taxon at several ranks, marker values with their
units, the read depths, the sequencing type and taxonomy scheme, and the
cohort's own spread of Bray–Curtis distances.  :meth:`Reference.save` writes
it to a directory and :func:`load_reference` reads it back (checked).
:func:`compare_to_reference` places one sample: a percentile with a bootstrap
interval (:mod:`gutaxis.profile.percentile`) for every measure the two share —
unless the sample is not comparable with the reference, in which case the
affected measures say so (status ``"not comparable"``, no percentile) and a
:class:`ComparabilityWarning` says why.

The percentile convention: a measure is ``"low"`` when the upper bound of its
interval is below :data:`LOW_PERCENTILE`, ``"high"`` when the lower bound is
above :data:`HIGH_PERCENTILE`, otherwise ``"within"``.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import numbers
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gutaxis._version import __version__
from gutaxis.composition import collapse
from gutaxis.exceptions import (
    FormatError,
    NotFoundError,
    ValidationError,
)
from gutaxis.markers import MarkerPanel, conversion_factor
from gutaxis.profile import _reference_impl as _io
from gutaxis.profile._reference_compare import (
    DISTANCE_QUANTILE,
    HIGH_PERCENTILE,
    LOW_PERCENTILE,
    ComparabilityWarning,
    ReferenceComparison,
    compare,
    percentile_status,
)
from gutaxis.study import RANKS, Study

__all__ = [
    "Reference",
    "ReferenceComparison",
    "ComparabilityWarning",
    "SmallReferenceWarning",
    "build_reference",
    "load_reference",
    "compare_to_reference",
    "LOW_PERCENTILE",
    "HIGH_PERCENTILE",
    "MIN_REFERENCE_SAMPLES",
    "RECOMMENDED_REFERENCE_SAMPLES",
    "DISTANCE_QUANTILE",
    "percentile_status",
]

#: Fewest reference samples accepted: :func:`build_reference` refuses fewer.
MIN_REFERENCE_SAMPLES = 10
#: Below this many samples :func:`build_reference` warns (SmallReferenceWarning):
#: the 5th/95th percentiles of a smaller cohort rest on one or two samples.
RECOMMENDED_REFERENCE_SAMPLES = 30


class SmallReferenceWarning(UserWarning):
    """A reference with fewer than :data:`RECOMMENDED_REFERENCE_SAMPLES` samples."""


def _compute_indices(study: Study) -> tuple[pd.DataFrame, dict[str, str]]:
    """:func:`gutaxis.indices.compute_indices` (imported late: the indices are heavy)."""
    from gutaxis.indices import compute_indices

    return compute_indices(study)


@dataclasses.dataclass(frozen=True, eq=False)
class Reference:
    """A frozen reference cohort.

    Attributes
    ----------
    name : str
    sample_ids : pandas.Index
        The reference samples, in the order of every array below.
    indices : pandas.DataFrame
        Samples × the columns of :func:`gutaxis.indices.compute_indices`
        (``gmhi``, ``md_index``, ``shannon_entropy``, then the key-taxa
        panel's taxon ids; fractions 0–1), float64, NaN where not applicable.
    taxa : dict of str to pandas.DataFrame
        Rank → samples × lineages (ids as made by
        :func:`gutaxis.composition.collapse`), relative abundances (rows sum
        to 1), float32.  Always holds ``"genus"`` (the distance check uses it).
    markers : pandas.DataFrame
        Samples × marker names, float64, NaN = missing (no columns when the
        reference has no markers).
    marker_info : dict
        Marker name → ``{"unit", "column", "catalog_id", "unit_source"}``.
    read_depth : numpy.ndarray
        Reads per sample (NaN for a relative-abundance table).
    median_distance : numpy.ndarray
        Each sample's median Bray–Curtis dissimilarity (genus, relative
        abundances) to the other reference samples.
    distance_threshold : float
        The :data:`DISTANCE_QUANTILE` th percentile of ``median_distance``:
        a patient whose median distance to the reference is larger is out of
        the reference's range.
    sequencing, region : str, str or None
        ``"16S amplicon"``/``"shotgun"``/``"unknown"`` and the 16S region.
    taxonomy_scheme : str
        ``"greengenes"``, ``"silva"``, ``"gtdb"``, ``"metaphlan"`` or ``"unknown"``.
    kind : str
        ``"counts"`` or ``"relative"``, as the source table.
    version : str
        SHA-256 of the frozen arrays and marker units (see :meth:`content`);
        two references with the same version hold the same data.
    details : dict
        Everything else recorded: ``created``, ``gutaxis_version``,
        ``where``, ``min_reads``, ``sequencing_source``,
        ``taxonomy_scheme_source``, ``inputs`` (file hashes), ``index_notes``,
        ``panel_resolution``, ``excluded`` (samples left out and why),
        ``provenance`` (the study's steps), ``classifier``.
    classifier_file : pathlib.Path or None
        The classifier model (its sidecar beside it): the source file before
        saving, the copy in the reference directory after.
    """

    name: str
    sample_ids: pd.Index
    indices: pd.DataFrame
    taxa: dict[str, pd.DataFrame]
    markers: pd.DataFrame
    marker_info: dict[str, dict[str, Any]]
    read_depth: np.ndarray
    median_distance: np.ndarray
    distance_threshold: float
    sequencing: str
    region: str | None
    taxonomy_scheme: str
    kind: str
    version: str
    details: dict[str, Any]
    classifier_file: Path | None = None

    # ----------------------------------------------------------- accessors
    @property
    def n_samples(self) -> int:
        return len(self.sample_ids)

    @property
    def created(self) -> str:
        return str(self.details.get("created", ""))

    @property
    def min_reads(self) -> int:
        return int(self.details.get("min_reads", 0))

    def depth_quantiles(self) -> dict[str, float] | None:
        """Read depth at the 0, 1, 5, 25, 50, 75, 95, 100th percentiles (None without depths)."""
        depth = self.read_depth[~np.isnan(self.read_depth)]
        if not depth.size:
            return None
        qs = (0, 1, 5, 25, 50, 75, 95, 100)
        return {f"p{q}": float(v) for q, v in zip(qs, np.percentile(depth, qs), strict=True)}

    def summary(self) -> dict[str, Any]:
        """``{name, version, n_samples, sequencing, taxonomy_scheme, created, where}``
        (the ``reference`` entry of a profile)."""
        sequencing = self.sequencing + (f" ({self.region})" if self.region else "")
        return {"name": self.name, "version": self.version, "n_samples": self.n_samples,
                "sequencing": sequencing, "taxonomy_scheme": self.taxonomy_scheme,
                "created": self.created, "where": self.details.get("where")}

    def measure_values(self, measure_id: str, *, unit: str | None = None) -> np.ndarray | None:
        """The reference's values of a measure (``"shannon_entropy"``, ``"taxon:<id>"``,
        ``"marker:<id>"``), or None when it has none.

        ``unit``: express a marker's values in this unit (the reference keeps
        them in the unit it was built with); ignored for indices and taxa.
        """
        if measure_id.startswith("taxon:"):
            column = measure_id.split(":", 1)[1]
            frame = self.indices
        elif measure_id.startswith("marker:"):
            key = measure_id.split(":", 1)[1]
            column = next((n for n, i in self.marker_info.items()
                           if i.get("catalog_id") == key or n == key), "")
            frame = self.markers
        else:
            column, frame = measure_id, self.indices
        if column not in frame.columns:
            return None
        values = frame[column].to_numpy(dtype=np.float64)
        if unit is not None and measure_id.startswith("marker:"):
            stored = str(self.marker_info[column].get("unit"))
            values = values * conversion_factor(stored, unit)
        return values

    def content(self) -> dict[str, np.ndarray]:
        """Every frozen array by its name in ``arrays.npz`` (what :attr:`version` hashes)."""
        arrays: dict[str, np.ndarray] = {
            "sample_ids": np.asarray(self.sample_ids.astype(str), dtype=str),
            "indices": self.indices.to_numpy(dtype=np.float64),
            "indices_columns": np.asarray([str(c) for c in self.indices.columns], dtype=str),
            "markers": self.markers.to_numpy(dtype=np.float64).reshape(self.n_samples, -1),
            "markers_columns": np.asarray([str(c) for c in self.markers.columns], dtype=str),
            "read_depth": np.asarray(self.read_depth, dtype=np.float64),
            "median_distance": np.asarray(self.median_distance, dtype=np.float64),
        }
        for rank, frame in self.taxa.items():
            arrays[f"taxa__{rank}"] = frame.to_numpy(dtype=np.float32)
            arrays[f"taxa__{rank}__columns"] = np.asarray([str(c) for c in frame.columns],
                                                          dtype=str)
        return arrays

    def load_classifier(self) -> Any:
        """The frozen classifier (:func:`gutaxis.stats.classifier.load_classifier`; a pickle:
        load references from trusted sources only)."""
        if self.classifier_file is None:
            raise NotFoundError("classifier", [self.name], "the reference")
        from gutaxis.stats.classifier import load_classifier

        return load_classifier(self.classifier_file)

    # ------------------------------------------------------------------ I/O
    def save(self, directory: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Write the reference to ``directory`` (created; refused if not empty).

        Layout: ``reference.json`` (metadata, human-readable), ``arrays.npz``
        (every per-sample array, compressed, no pickled objects) and, when
        the reference has a classifier, ``classifier/<model>`` with its
        sidecar ``<model>.json``.

        Returns
        -------
        pathlib.Path
            ``directory``.
        """
        target = Path(directory)
        classifier = None
        if self.classifier_file is not None:
            _io.check_classifier(self.classifier_file)
            classifier = self.classifier_file
        _io.write_reference_dir(target, _io.metadata(self, DISTANCE_QUANTILE), self.content(),
                                classifier,
                                overwrite=overwrite)
        return target

    def __repr__(self) -> str:
        return (f"Reference({self.name!r}: {self.n_samples} samples, {self.sequencing}, "
                f"{self.taxonomy_scheme} taxonomy, version {self.version[:12]})")


def _hash_extra(marker_info: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {"marker_units": {k: v.get("unit") for k, v in marker_info.items()}}


# ----------------------------------------------------------------- building
def _check_size(n: int, what: str) -> None:
    if n < MIN_REFERENCE_SAMPLES:
        raise ValidationError(
            f"{what} leaves {n} sample(s); a reference needs at least "
            f"{MIN_REFERENCE_SAMPLES} ({RECOMMENDED_REFERENCE_SAMPLES} or more recommended). "
            "Loosen `where`, or lower `min_reads`.")
    if n < RECOMMENDED_REFERENCE_SAMPLES:
        warnings.warn(
            f"{what} leaves {n} samples; with fewer than {RECOMMENDED_REFERENCE_SAMPLES}, the "
            "5th and 95th percentiles rest on one or two samples and the intervals are wide.",
            SmallReferenceWarning, stacklevel=3)


def build_reference(study: Study, *, name: str, where: str | None = None,
                    markers: MarkerPanel | None = None,
                    rank_list: Sequence[str] = ("phylum", "family", "genus", "species"),
                    classifier_path: str | os.PathLike[str] | None = None,
                    sequencing: str | None = None, taxonomy_scheme: str | None = None,
                    min_reads: int = 1000) -> Reference:
    """Freeze a reference cohort from the samples of ``study``.

    Parameters
    ----------
    study : Study
        Counts or relative abundances with a taxonomy (and sample metadata
        when ``where`` is given).
    name : str
        A name for reports (``"healthy adults, 16S V4, lab X"``).
    where : str, optional
        A :meth:`pandas.DataFrame.eval` condition on the sample metadata
        selecting the reference samples, e.g. ``"Subject == 'Control'"``;
        samples where it is missing (NaN) are left out.  Default: every sample.
    markers : MarkerPanel, optional
        Lab markers of (at least) the reference samples, frozen with units.
    rank_list : sequence of str
        Ranks at which every taxon's relative abundance is frozen;
        ``"genus"`` is always added.
    classifier_path : path, optional
        A model saved by :meth:`gutaxis.stats.classifier.FittedClassifier.save`;
        it and its sidecar are checked (SHA-256, not unpickled) and copied
        into the reference directory on :meth:`Reference.save`.
    sequencing : str, optional
        ``"16S V4"``, ``"16S V3-V4"``, ``"shotgun"``…; default: inferred (a
        count table with sequence or MD5 feature ids is 16S amplicon, a
        MetaPhlAn profile is shotgun, otherwise unknown; the 16S region
        cannot be inferred).
    taxonomy_scheme : str, optional
        One of ``greengenes``, ``silva``, ``gtdb``, ``metaphlan``; default:
        inferred from the taxon names (see
        :func:`~gutaxis.profile._reference_impl.infer_taxonomy_scheme`), else
        ``"unknown"``.
    min_reads : int, default 1000
        Count tables: samples with fewer reads are left out of the reference
        (listed in ``details["excluded"]``); a patient below this is not
        compared.  Ignored for relative abundances.

    Returns
    -------
    Reference

    Raises
    ------
    ValidationError
        ``where`` is invalid (the message says why and lists the columns), or
        fewer than :data:`MIN_REFERENCE_SAMPLES` samples remain.
    UnknownRankError
        A rank not in :data:`gutaxis.study.RANKS`.
    NotFoundError
        Reference samples missing from ``markers``.
    InputError, UnsafeInputError
        No taxonomy; a classifier file that is missing or fails its check.

    Warns
    -----
    SmallReferenceWarning
        Fewer than :data:`RECOMMENDED_REFERENCE_SAMPLES` samples remain.

    Notes
    -----
    Size rule: below 10 samples no percentile means much (the 5th percentile
    of 9 values is an interpolation between the two smallest), so building
    is refused; from 10 to 29 it is allowed with a warning; 30 or more is
    the usual minimum for the 5th–95th percentile range.  The distance
    threshold is the 99th percentile of the reference samples' median
    Bray–Curtis dissimilarity to the others (genus level, relative
    abundances): by construction about 1 % of the reference itself lies
    beyond it.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValidationError(f"`name` must be a non-empty string; got {name!r}")
    if (isinstance(min_reads, bool) or not isinstance(min_reads, numbers.Integral)
            or min_reads < 0):
        raise ValidationError(f"`min_reads` must be an integer ≥ 0; got {min_reads!r}")
    ranks = _io.check_ranks(rank_list)
    if study.taxonomy is None:
        collapse(study, "genus")  # raises the InputError that explains what to give
    if taxonomy_scheme is not None and taxonomy_scheme not in _io.TAXONOMY_SCHEMES:
        raise ValidationError(f"`taxonomy_scheme` must be one of "
                              f"{', '.join(_io.TAXONOMY_SCHEMES)}; got {taxonomy_scheme!r}")
    classifier = None
    if classifier_path is not None:
        classifier = _io.check_classifier(Path(classifier_path))
    ids = _io.select_samples(study, where)
    what = f"`where` ({where!r})" if where is not None else "the study"
    if len(ids) < MIN_REFERENCE_SAMPLES:
        _check_size(len(ids), what)
    sub = study.subset_samples(ids, step="reference_samples")
    totals = sub.sample_totals()
    excluded: dict[str, list[str]] = {}
    low = (totals < min_reads) if sub.kind == "counts" else (totals <= 0)
    if low.any():
        reason = (f"fewer than {min_reads} reads" if sub.kind == "counts" else "empty")
        excluded[reason] = [str(s) for s in sub.sample_ids[low]]
        sub = sub.subset_samples([str(s) for s in sub.sample_ids[~low]],
                                 step="reference_min_reads")
        what += f" after leaving out {int(low.sum())} sample(s) with {reason}"
    _check_size(sub.n_samples, what)

    scheme = taxonomy_scheme or _io.infer_taxonomy_scheme(sub)
    if sequencing is not None:
        seq_type, region = _io.parse_sequencing(sequencing)
        seq_source = "user"
    else:
        seq_type, region, seq_source = _io.infer_sequencing(sub, scheme), None, "inferred"

    frame, notes = _compute_indices(sub)
    indices = frame.reindex(sub.sample_ids).astype(np.float64)
    indices.index = pd.Index(sub.sample_ids.astype(str), name="sample_id")
    taxa = {rank: _io.relative_at(sub, rank).astype(np.float32) for rank in ranks}
    for table in taxa.values():
        table.index = indices.index
    marker_values = pd.DataFrame(index=indices.index)
    marker_info: dict[str, dict[str, Any]] = {}
    if markers is not None:
        missing = [s for s in indices.index if s not in markers.values.index]
        if missing:
            raise NotFoundError("reference sample", missing, "the marker panel")
        marker_values = markers.values.loc[list(indices.index)].astype(np.float64)
        marker_values.index = indices.index
        marker_info = {n: {"unit": markers.units[n], "column": markers.columns.get(n),
                           "catalog_id": markers.catalog_ids.get(n),
                           "unit_source": markers.unit_sources.get(n)}
                       for n in markers.names}
    depth = sub.sample_totals() if sub.kind == "counts" else np.full(sub.n_samples, np.nan)
    median = _io.median_distances(taxa["genus"])
    threshold = float(np.percentile(median, DISTANCE_QUANTILE))
    details: dict[str, Any] = {
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "gutaxis_version": __version__,
        "where": where,
        "min_reads": int(min_reads),
        "sequencing_source": seq_source,
        "taxonomy_scheme_source": "user" if taxonomy_scheme else "inferred",
        "source": study.source,
        "inputs": _io.input_records(study, classifier),
        "index_notes": dict(notes),
        "panel_resolution": _io.json_ready(frame.attrs.get("resolution", {})),
        "excluded": excluded,
        "provenance": _io.json_ready(list(sub.provenance)),
        "classifier": None if classifier is None else {
            "file": f"{_io.CLASSIFIER_DIR}/{classifier['file']}",
            "sidecar": f"{_io.CLASSIFIER_DIR}/{classifier['sidecar']}",
            "sha256": classifier["sha256"]},
    }
    ref = Reference(name=name.strip(), sample_ids=pd.Index(indices.index, dtype=object),
                    indices=indices, taxa=taxa, markers=marker_values,
                    marker_info=marker_info, read_depth=np.asarray(depth, dtype=np.float64),
                    median_distance=median, distance_threshold=threshold,
                    sequencing=seq_type, region=region, taxonomy_scheme=scheme,
                    kind=sub.kind, version="", details=details,
                    classifier_file=None if classifier_path is None else Path(classifier_path))
    version = _io.content_hash(ref.content(), _hash_extra(marker_info))
    return dataclasses.replace(ref, version=version)


# ------------------------------------------------------------------ loading
def load_reference(directory: str | os.PathLike[str]) -> Reference:
    """Read a reference written by :meth:`Reference.save`, checking it.

    Parameters
    ----------
    directory : path

    Returns
    -------
    Reference

    Raises
    ------
    InputError
        No such directory.
    FormatError
        A file missing or malformed (the file is named), a reference saved
        by a newer gutaxis (higher ``schema_version``), arrays that do not
        match the ``version`` recorded in ``reference.json``, or a classifier
        that fails its SHA-256 check.
    """
    root = Path(directory)
    meta, arrays = _io.read_reference_dir(root)
    jpath, apath = root / _io.JSON_FILE, root / _io.ARRAYS_FILE
    ids = _io.get_array(arrays, "sample_ids", apath, "U", (None,))
    n = len(ids)
    index = pd.Index(ids.tolist(), dtype=object, name="sample_id")
    icols = _io.get_array(arrays, "indices_columns", apath, "U", (None,))
    indices = pd.DataFrame(_io.get_array(arrays, "indices", apath, "f", (n, len(icols))),
                           index=index, columns=icols.tolist())
    mcols = _io.get_array(arrays, "markers_columns", apath, "U", (None,))
    markers = pd.DataFrame(_io.get_array(arrays, "markers", apath, "f", (n, len(mcols))),
                           index=index.copy(), columns=mcols.tolist())
    taxa = {}
    for rank in meta["ranks"]:
        if rank not in RANKS:
            raise FormatError(f"{jpath}: \"ranks\" holds {rank!r}, not a taxonomic rank")
        cols = _io.get_array(arrays, f"taxa__{rank}__columns", apath, "U", (None,))
        values = _io.get_array(arrays, f"taxa__{rank}", apath, "f", (n, len(cols)))
        taxa[rank] = pd.DataFrame(values, index=index.copy(), columns=cols.tolist())
    if "genus" not in taxa:
        raise FormatError(f"{jpath}: \"ranks\" must include genus")
    marker_info = meta["markers"]
    if sorted(marker_info) != sorted(markers.columns):
        raise FormatError(f"{jpath}: \"markers\" lists {sorted(marker_info)} but {apath.name} "
                          f"holds {sorted(markers.columns)}")
    try:
        distance = float(meta["distance"]["threshold"])
        seq, tax = meta["sequencing"], meta["taxonomy_scheme"]
        seq_type, region, scheme = seq["type"], seq.get("region"), tax["scheme"]
    except (KeyError, TypeError, ValueError) as exc:
        raise FormatError(f"{jpath}: malformed sequencing/taxonomy/distance fields ({exc})") \
            from None
    if seq_type not in _io.SEQUENCING_TYPES or scheme not in _io.TAXONOMY_SCHEMES:
        raise FormatError(f"{jpath}: unknown sequencing type {seq_type!r} or taxonomy scheme "
                          f"{scheme!r}")
    classifier_file = None
    classifier = meta.get("classifier")
    if classifier:
        classifier_file = root / str(classifier.get("file", ""))
        try:
            checked = _io.check_classifier(classifier_file)
        except Exception as exc:
            raise FormatError(f"{jpath}: its classifier does not check out: {exc}") from None
        if checked["sha256"] != classifier.get("sha256"):
            raise FormatError(f"{classifier_file}: SHA-256 differs from the one in {jpath.name}")
    details = _io.details_from(meta)
    ref = Reference(name=meta["name"], sample_ids=pd.Index(index, dtype=object),
                    indices=indices.astype(np.float64), taxa=taxa,
                    markers=markers.astype(np.float64), marker_info=marker_info,
                    read_depth=_io.get_array(arrays, "read_depth", apath, "f",
                                             (n,)).astype(np.float64),
                    median_distance=_io.get_array(arrays, "median_distance", apath, "f",
                                           (n,)).astype(np.float64),
                    distance_threshold=distance, sequencing=seq_type, region=region,
                    taxonomy_scheme=scheme, kind=str(meta.get("kind", "counts")),
                    version=meta["version"], details=details, classifier_file=classifier_file)
    actual = _io.content_hash(ref.content(), _hash_extra(marker_info))
    if actual != meta["version"]:
        raise FormatError(f"{apath}: its content hash is {actual[:16]}… but {jpath.name} "
                          f"records version {meta['version'][:16]}…; the arrays were changed "
                          "or belong to another reference")
    return ref


def compare_to_reference(reference: Reference, patient_study: Study, sample_id: str, *,
                         markers: MarkerPanel | None = None, sequencing: str | None = None,
                         taxonomy_scheme: str | None = None, ranks: Sequence[str] = (),
                         n_boot: int = 2000, seed: int = 0) -> ReferenceComparison:
    """Place one sample against a reference: percentiles, intervals and comparability.

    Parameters
    ----------
    reference : Reference
    patient_study : Study
        A table holding the patient's sample (other samples are ignored).
    sample_id : str
    markers : MarkerPanel, optional
        The patient's markers; those the reference also has are compared,
        converted to the reference's unit.
    sequencing, taxonomy_scheme : str, optional
        The patient's, when known; default: inferred as in
        :func:`build_reference`.
    ranks : sequence of str
        Also place every taxon at these ranks (of those frozen in the
        reference): :attr:`ReferenceComparison.taxa`.
    n_boot, seed
        Bootstrap of :func:`~gutaxis.profile.percentile.percentiles_with_ci`
        (one shared resampling for all measures).

    Returns
    -------
    ReferenceComparison
        One :class:`~gutaxis.profile._model.Measure` per index, panel taxon
        and shared marker, and the :class:`ComparabilityWarning` list.

    Raises
    ------
    NotFoundError
        ``sample_id`` is not in ``patient_study`` (or in ``markers``), or a
        rank in ``ranks`` is not frozen in the reference.

    Notes
    -----
    Checks, each giving a warning (``code``) instead of a misleading
    percentile; a *blocking* warning makes the measures it affects ``"not
    comparable"``:

    * ``sequencing_mismatch`` (blocking, all microbiome measures): 16S
      amplicon against shotgun;  ``region_mismatch`` (caveat): two 16S
      regions;
    * ``taxonomy_mismatch`` (blocking: panel taxa, GMHI, MD-index, taxa
      tables): two taxonomy schemes (Shannon entropy is computed on the
      features and is kept);
    * ``low_depth`` (blocking, microbiome): fewer reads than the reference's
      1st percentile of depth or than ``min_reads``;
    * ``out_of_reference_range`` (blocking, microbiome): the patient's median
      Bray–Curtis dissimilarity to the reference samples (genus level)
      exceeds the reference's ``distance_threshold``;
    * ``*_unverified`` (caveat): a type that could not be inferred.

    Markers are lab values: only a unit that cannot be converted makes one
    not comparable.
    """
    scheme = taxonomy_scheme
    if scheme is not None and scheme not in _io.TAXONOMY_SCHEMES:
        raise ValidationError(f"`taxonomy_scheme` must be one of "
                              f"{', '.join(_io.TAXONOMY_SCHEMES)}; got {scheme!r}")
    sid = str(sample_id)
    if sid not in patient_study.sample_ids:
        raise NotFoundError("sample id", [sid], patient_study.source)
    patient = patient_study.subset_samples([sid], step="patient_sample")
    scheme = scheme or _io.infer_taxonomy_scheme(patient)
    if sequencing is not None:
        seq_type, region = _io.parse_sequencing(sequencing)
    else:
        seq_type, region = _io.infer_sequencing(patient, scheme), None
    unknown = [r for r in ranks if r not in reference.taxa]
    if unknown:
        raise NotFoundError("rank", unknown, f"the reference {reference.name!r} (frozen: "
                            f"{', '.join(reference.taxa)})")
    frame, notes = _compute_indices(patient)
    genus = _io.relative_at(patient, "genus") if patient.taxonomy is not None else None
    tables = {r: _io.relative_at(patient, r) for r in ranks}
    return compare(reference, patient, sid, indices=frame, index_notes=notes,
                   genus=genus, rank_tables=tables, markers=markers,
                   sequencing=(seq_type, region), scheme=scheme, n_boot=n_boot, seed=seed)
