"""Build a reference cohort: select samples, freeze what a comparison needs.

:func:`build_reference` selects the reference samples of a
:class:`~gutaxis.study.Study` (``where``, a metadata query) and freezes what a
comparison needs: the indices of :func:`gutaxis.indices.compute_indices`
(GMHI, MD-index, Shannon entropy, the key taxa) per sample, the relative
abundances of every taxon at several ranks, marker values with their units,
the read depths, the sequencing type and taxonomy scheme, and the cohort's own
spread of Bray–Curtis distances.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import numbers
import os
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from gutaxis._version import __version__
from gutaxis.checks import check_type
from gutaxis.composition import collapse
from gutaxis.exceptions import (
    InputError,
    NotFoundError,
    RepeatedMeasuresWarning,
    UnknownRankError,
    ValidationError,
)
from gutaxis.indices import compute_indices
from gutaxis.io import TAXONOMY_SCHEMES, infer_sequencing, infer_taxonomy_scheme, parse_sequencing
from gutaxis.markers import MarkerColumn, MarkerPanel
from gutaxis.outputs import to_json
from gutaxis.reference._model import (
    DISTANCE_QUANTILE,
    MIN_REFERENCE_SAMPLES,
    RECOMMENDED_REFERENCE_SAMPLES,
    Reference,
)
from gutaxis.reference.store import CLASSIFIER_DIR, check_classifier, content_hash
from gutaxis.selection import per_subject as per_subject_mean
from gutaxis.selection import (
    query_columns_hint,
    sample_subjects,
    select_samples,
    subject_like_columns,
)
from gutaxis.study import RANKS, Study, check_study

__all__ = ["build_reference", "check_ranks", "relative_at", "median_distances",
           "SmallReferenceWarning", "PER_SUBJECT"]


class SmallReferenceWarning(UserWarning):
    """A reference with fewer than :data:`RECOMMENDED_REFERENCE_SAMPLES` samples."""


#: How a reference holds people who gave several samples (``--per-subject``).
PER_SUBJECT = ("first", "mean", "all")


def _check_size(n: int, what: str, hint: str = "", unit: str = "sample(s)") -> None:
    if n < MIN_REFERENCE_SAMPLES:
        raise ValidationError(
            f"{what} leaves {n} {unit}{hint}; a reference needs at least "
            f"{MIN_REFERENCE_SAMPLES} ({RECOMMENDED_REFERENCE_SAMPLES} or more recommended). "
            "Loosen the selection (--where), or lower the minimum read count (--min-reads).")
    if n < RECOMMENDED_REFERENCE_SAMPLES:
        warnings.warn(
            f"{what} leaves {n} {unit.replace('(s)', 's')}; with fewer than "
            f"{RECOMMENDED_REFERENCE_SAMPLES}, the 5th and 95th percentiles rest on one or two "
            f"of them and the intervals are wide.",
            SmallReferenceWarning, stacklevel=3)


def build_reference(study: Study, *, name: str, where: str | None = None,
                    markers: MarkerPanel | None = None,
                    rank_list: Sequence[str] = ("phylum", "family", "genus", "species"),
                    classifier_path: str | os.PathLike[str] | None = None,
                    sequencing: str | None = None, taxonomy_scheme: str | None = None,
                    min_reads: int = 1000,
                    inputs: Sequence[dict[str, Any]] | None = None,
                    subject: str | None = None, per_subject: str = "first") -> Reference:
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
        into the reference folder by :func:`~gutaxis.reference.save_reference`.
    sequencing : str, optional
        ``"16S V4"``, ``"16S V3-V4"``, ``"shotgun"``…; default: inferred (a
        count table with sequence or MD5 feature ids is 16S amplicon, a
        MetaPhlAn profile is shotgun, otherwise unknown; the 16S region
        cannot be inferred).
    taxonomy_scheme : str, optional
        One of ``greengenes``, ``silva``, ``gtdb``, ``metaphlan``; default:
        inferred from the taxon names (see
        :func:`gutaxis.io.infer_taxonomy_scheme`), else
        ``"unknown"``.
    min_reads : int, default 1000
        Count tables: samples with fewer reads are left out of the reference
        (listed in ``details["excluded"]``); a patient below this is not
        compared.  Ignored for relative abundances.
    inputs : sequence of dict, optional
        The input files' records (``{"role", "path", "sha256", "bytes"}``);
        by default those of the study's readers.
    subject : str, optional
        Metadata column naming the person each sample came from
        (``--subject``).  A reference describes people: the size rule counts
        people, and ``per_subject`` decides how a person with several
        samples enters.
    per_subject : {"first", "mean", "all"}, default "first"
        ``"first"``: each person's first sample (in the table's order), the
        others left out and listed; ``"mean"``: one row per person, the mean
        of their samples (indices, relative abundances, markers; rows are
        then named by the person); ``"all"``: every sample (people with more
        samples weigh more in the percentiles).  Recorded in
        ``details["subjects"]`` and hashed into the version.

    Returns
    -------
    Reference

    Raises
    ------
    ValidationError
        ``where`` is invalid (the message says why and lists the columns),
        fewer than :data:`MIN_REFERENCE_SAMPLES` samples (people, with
        ``subject``) remain, a sample has no subject, or ``per_subject`` is
        not one of :data:`PER_SUBJECT`.
    UnknownRankError
        A rank not in :data:`gutaxis.study.RANKS`.
    NotFoundError
        Reference samples missing from ``markers``.
    InputError, UnsafeInputError
        No taxonomy; a classifier file that is missing or fails its check;
        ``study`` or ``markers`` of the wrong type.

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
    check_study(study)
    if markers is not None:
        check_type(markers, MarkerPanel, "markers",
                   hint="read them with gutaxis.markers.marker_panel; or None")
    if not isinstance(name, str) or not name.strip():
        raise ValidationError(f"the reference needs a name (--name), a non-empty text; got "
                              f"{name!r}")
    if (isinstance(min_reads, bool) or not isinstance(min_reads, numbers.Integral)
            or min_reads < 0):
        raise ValidationError(f"the minimum read count (--min-reads) must be an integer ≥ 0; "
                              f"got {min_reads!r}")
    ranks = check_ranks(rank_list)
    if study.taxonomy is None:
        collapse(study, "genus")  # raises the InputError that explains what to give
    if taxonomy_scheme is not None and taxonomy_scheme not in TAXONOMY_SCHEMES:
        raise ValidationError(f"the taxonomy scheme must be one of "
                              f"{', '.join(TAXONOMY_SCHEMES)}; got {taxonomy_scheme!r}")
    if per_subject not in PER_SUBJECT:
        raise ValidationError(f"--per-subject must be one of {', '.join(PER_SUBJECT)}; got "
                              f"{per_subject!r}")
    if subject is None and per_subject != "first":
        raise ValidationError(f"--per-subject {per_subject} says how a person's samples enter, "
                              "and needs --subject to know whose they are")
    classifier = None
    if classifier_path is not None:
        classifier = check_classifier(Path(classifier_path))
    ids = select_samples(study, where)
    what = f"--where {where!r}" if where is not None else "the study"
    if len(ids) < MIN_REFERENCE_SAMPLES:
        _check_size(len(ids), what, query_columns_hint(study, where))
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
    subjects: pd.Series | None = None
    subject_record: dict[str, Any] | None = None
    if subject is None:
        _check_size(sub.n_samples, what)
        suspects = subject_like_columns(sub.samples) if sub.samples is not None else []
        if suspects:
            column, why = suspects[0]
            warnings.warn(f"the metadata column {column!r} looks like a subject id ({why}); if "
                          f"several reference samples come from one person, build again with "
                          f"--subject {column}: without it the reference counts each sample as "
                          "a person", RepeatedMeasuresWarning, stacklevel=2)
    else:
        subjects = sample_subjects(sub, subject)
        _check_size(int(subjects.nunique()), what, unit="people")
        subject_record = {"column": subject, "per_subject": per_subject,
                          "n_subjects": int(subjects.nunique()), "n_samples": sub.n_samples}
        if per_subject == "first":
            first = ~subjects.duplicated(keep="first")
            subject_record["left_out"] = [str(s) for s in subjects.index[~first]]
            sub = sub.subset_samples(list(subjects.index[first]),
                                     step="reference_first_sample_per_subject")
            subjects = subjects[first]
        else:  # mean and all: which samples are whose (all: the bootstrap resamples people)
            subject_record["samples"] = {str(k): [str(s) for s in v.index]
                                         for k, v in subjects.groupby(subjects, sort=False)}

    scheme = taxonomy_scheme or infer_taxonomy_scheme(sub)
    if sequencing is not None:
        seq_type, region = parse_sequencing(sequencing)
        seq_source = "user"
    else:
        seq_type, region, seq_source = infer_sequencing(sub, scheme), None, "inferred"

    frame, notes = compute_indices(sub)
    indices = frame.reindex(sub.sample_ids).astype(np.float64)
    indices.index = pd.Index(sub.sample_ids.astype(str), name="sample_id")
    taxa = {rank: relative_at(sub, rank).astype(np.float32) for rank in ranks}
    for table in taxa.values():
        table.index = indices.index
    marker_values = pd.DataFrame(index=indices.index)
    marker_info: dict[str, MarkerColumn] = {}
    if markers is not None:
        missing = [s for s in indices.index if s not in markers.values.index]
        if missing:
            raise NotFoundError("reference sample", missing, "the marker panel")
        marker_values = markers.values.loc[list(indices.index)].astype(np.float64)
        marker_values.index = indices.index
        marker_info = dict(markers.info)
    depth = sub.sample_totals() if sub.kind == "counts" else np.full(sub.n_samples, np.nan)
    if subjects is not None and per_subject == "mean":
        indices, taxa, marker_values, depth = _subject_means(indices, taxa, marker_values,
                                                             depth, subjects)
    median = median_distances(taxa["genus"])
    threshold = float(np.percentile(median, DISTANCE_QUANTILE))
    details: dict[str, Any] = {
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "gutaxis_version": __version__,
        "where": where,
        "min_reads": int(min_reads),
        "sequencing_source": seq_source,
        "taxonomy_scheme_source": "user" if taxonomy_scheme else "inferred",
        "source": study.source,
        "inputs": _input_records(study, classifier, inputs),
        "index_notes": dict(notes),
        "panel_resolution": to_json(frame.attrs.get("resolution", {})),
        "excluded": excluded,
        "subjects": subject_record,
        "provenance": to_json(list(sub.provenance)),
        "classifier": None if classifier is None else {
            "file": f"{CLASSIFIER_DIR}/{classifier['file']}",
            "sidecar": f"{CLASSIFIER_DIR}/{classifier['sidecar']}",
            "sha256": classifier["sha256"]},
    }
    ref = Reference(name=name.strip(), sample_ids=pd.Index(indices.index, dtype=object),
                    indices=indices, taxa=taxa, markers=marker_values,
                    marker_info=marker_info, read_depth=np.asarray(depth, dtype=np.float64),
                    median_distance=median, distance_threshold=threshold,
                    sequencing=seq_type, region=region, taxonomy_scheme=scheme,
                    kind=sub.kind, version="", details=details,
                    classifier_file=None if classifier_path is None else Path(classifier_path))
    version = content_hash(ref.content(), ref.hashed_metadata())
    return dataclasses.replace(ref, version=version)


# ------------------------------------------------------- building blocks
def _subject_means(indices: pd.DataFrame, taxa: dict[str, pd.DataFrame],
                   markers: pd.DataFrame, depth: np.ndarray, subjects: pd.Series
                   ) -> tuple[pd.DataFrame, dict[str, pd.DataFrame], pd.DataFrame, np.ndarray]:
    """One row per person: the mean of their samples (rows named by the person)."""
    keys = subjects.reindex(indices.index)

    def mean(frame: pd.DataFrame) -> pd.DataFrame:
        with np.errstate(invalid="ignore"):  # −∞ and +∞ of one person: no mean (NaN)
            out = per_subject_mean(frame, keys)
        assert isinstance(out, pd.DataFrame)
        out.index = pd.Index([str(i) for i in out.index], name="sample_id")
        return out

    depth_frame = pd.DataFrame({"depth": np.asarray(depth, dtype=np.float64)},
                               index=indices.index)
    return (mean(indices), {rank: mean(t).astype(np.float32) for rank, t in taxa.items()},
            mean(markers.reindex(indices.index)) if len(markers.columns)
            else pd.DataFrame(index=mean(indices).index),
            mean(depth_frame)["depth"].to_numpy())


def check_ranks(rank_list: Sequence[str]) -> list[str]:
    """Return the ranks, validated, deduplicated, in taxonomic order, with ``"genus"`` added.

    Raises
    ------
    UnknownRankError
        A rank that is not one of :data:`gutaxis.study.RANKS`.
    InputError
        ``rank_list`` is not a list of ranks (None, a number).
    """
    if isinstance(rank_list, str):
        rank_list = [rank_list]
    if not isinstance(rank_list, Iterable):
        raise InputError(f"the ranks must be a list of rank names ({', '.join(RANKS)}); got "
                         f"{type(rank_list).__name__}")
    ranks: list[str] = []
    for rank in rank_list:
        if not isinstance(rank, str) or rank.strip().lower() not in RANKS:
            raise UnknownRankError(str(rank), RANKS)
        if rank.strip().lower() not in ranks:
            ranks.append(rank.strip().lower())
    if "genus" not in ranks:
        ranks.append("genus")
    return sorted(ranks, key=RANKS.index)


def relative_at(study: Study, rank: str) -> pd.DataFrame:
    """Return samples × lineages at ``rank``, each row divided by its total (empty rows stay 0)."""
    collapsed = collapse(study, rank)
    totals = collapsed.sample_totals()
    inv = np.divide(1.0, totals, out=np.zeros_like(totals), where=totals > 0)
    rel = sp.csr_matrix(sp.diags(inv) @ collapsed.counts.astype(np.float64))
    return pd.DataFrame(rel.toarray(), index=collapsed.sample_ids.copy(),
                        columns=collapsed.feature_ids.copy())


def median_distances(genus: pd.DataFrame) -> np.ndarray:
    """Return each row's median Bray–Curtis dissimilarity to the other rows."""
    from gutaxis.diversity.beta import braycurtis

    dist = braycurtis(sp.csr_matrix(genus.to_numpy(dtype=np.float64)))
    np.fill_diagonal(dist, np.nan)
    return np.asarray(np.nanmedian(dist, axis=1), dtype=np.float64)


def _input_records(study: Study, classifier: dict[str, Any] | None,
                   inputs: Sequence[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Return ``{"role", "path", "sha256"}`` of every hashed input (reader steps, classifier)."""
    records = list(inputs) if inputs is not None else [
        {"role": str(step.get("format", step.get("step", "input"))),
         "path": str(step.get("path", "")), "sha256": step["sha256"]}
        for step in study.provenance if isinstance(step.get("sha256"), str)]
    if classifier is not None:
        records.append({"role": "classifier", "path": classifier["file"],
                        "sha256": classifier["sha256"]})
        records.append({"role": "classifier sidecar", "path": classifier["sidecar"],
                        "sha256": classifier["sidecar_sha256"]})
    return records
