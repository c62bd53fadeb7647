"""The frozen reference cohort: :class:`Reference`."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gutaxis.checks import check_type
from gutaxis.exceptions import NotFoundError
from gutaxis.markers import MarkerColumn, conversion_factor

__all__ = ["Reference", "DISTANCE_QUANTILE", "MIN_REFERENCE_SAMPLES",
           "RECOMMENDED_REFERENCE_SAMPLES"]

#: Percentile of the reference samples' median distances taken as the edge
#: of the reference's range.
DISTANCE_QUANTILE = 99.0
#: Fewest reference samples accepted: building refuses fewer.
MIN_REFERENCE_SAMPLES = 10
#: Below this many samples building warns (SmallReferenceWarning): the
#: 5th/95th percentiles of a smaller cohort rest on one or two samples.
RECOMMENDED_REFERENCE_SAMPLES = 30


def check_reference(value: Any, name: str = "reference") -> Reference:
    """Return ``value`` when it is a :class:`Reference`; raise :class:`InputError` if not.

    Parameters
    ----------
    value : object
    name : str, default "reference"
        The argument, for the message.

    Returns
    -------
    Reference

    Raises
    ------
    InputError
        ``value`` is not a Reference (a folder path, None...); the message
        says how to get one.
    """
    return check_type(value, Reference, name,
                      hint="build one with gutaxis.reference.build_reference, or read a folder "
                           "with gutaxis.reference.load_reference")


@dataclasses.dataclass(frozen=True, eq=False)
class Reference:
    """A frozen reference cohort.

    Build one with :func:`gutaxis.reference.build_reference`, write it with
    :func:`gutaxis.reference.save_reference` and read it back, checked, with
    :func:`gutaxis.reference.load_reference`.

    Attributes
    ----------
    name : str
    sample_ids : pandas.Index
        The reference samples, in the order of every array below.
    indices : pandas.DataFrame
        Samples × the columns of :func:`gutaxis.indices.compute_indices`
        (``gmhi``, ``md_index``, ``shannon_entropy``, then the key taxa's
        ids; fractions 0–1), float64, NaN where not applicable.
    taxa : dict of str to pandas.DataFrame
        Rank → samples × lineages (ids as made by
        :func:`gutaxis.composition.collapse`), relative abundances (rows sum
        to 1), float32.  Always holds ``"genus"`` (the distance check uses it).
    markers : pandas.DataFrame
        Samples × marker names, float64, NaN = missing (no columns when the
        reference has no markers).
    marker_info : dict of str to MarkerColumn
        Marker name → its unit, column, catalogue id and unit source.
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
        ``panel_resolution`` (how each key taxon was measured), ``excluded``
        (samples left out and why), ``provenance`` (the study's steps),
        ``classifier``.
    classifier_file : pathlib.Path or None
        The classifier model (its sidecar beside it): the source file before
        saving, the copy in the reference directory after.
    """

    name: str
    sample_ids: pd.Index
    indices: pd.DataFrame
    taxa: dict[str, pd.DataFrame]
    markers: pd.DataFrame
    marker_info: dict[str, MarkerColumn]
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

    @property
    def n_samples(self) -> int:
        """Number of reference samples."""
        return len(self.sample_ids)

    @property
    def created(self) -> str:
        """When the reference was built (ISO 8601)."""
        return str(self.details.get("created", ""))

    @property
    def min_reads(self) -> int:
        """Fewest reads a sample needed to enter the reference."""
        return int(self.details.get("min_reads", 0))

    def depth_quantiles(self) -> dict[str, float] | None:
        """Return the read depth at the 0, 1, 5, 25, 50, 75, 95, 100th percentiles.

        Returns
        -------
        dict or None
            ``{"p0": …, "p1": …}``; None without depths (relative abundances).
        """
        depth = self.read_depth[~np.isnan(self.read_depth)]
        if not depth.size:
            return None
        qs = (0, 1, 5, 25, 50, 75, 95, 100)
        return {f"p{q}": float(v) for q, v in zip(qs, np.percentile(depth, qs), strict=True)}

    @property
    def n_people(self) -> int:
        """Return the people in the reference (one per sample unless it named subjects)."""
        subjects = self.details.get("subjects") or {}
        return int(subjects.get("n_subjects", self.n_samples))

    def contains_sample(self, sample_id: str) -> bool:
        """Return whether ``sample_id`` is one of the samples the reference was made of.

        Parameters
        ----------
        sample_id : str

        Returns
        -------
        bool
        """
        subjects = self.details.get("subjects") or {}
        if subjects.get("per_subject") == "mean":  # rows are people, named by the person
            return any(sample_id in ids for ids in (subjects.get("samples") or {}).values())
        return sample_id in set(map(str, self.sample_ids))

    def row_people(self) -> list[str] | None:
        """Return the person of each row when people gave several rows (``per_subject="all"``).

        Returns
        -------
        list of str or None
            None when every row is a different person (or is assumed to be).
        """
        subjects = self.details.get("subjects") or {}
        if subjects.get("per_subject") != "all":
            return None
        person = {s: k for k, ids in (subjects.get("samples") or {}).items() for s in ids}
        return [person.get(str(s), str(s)) for s in self.sample_ids]

    def shares_person(self, sample_id: str) -> bool:
        """Return whether another sample of ``sample_id``'s person is in the reference.

        Known when the reference was built with ``per_subject="first"``: the
        samples it left out belong to people whose first sample it holds.

        Parameters
        ----------
        sample_id : str

        Returns
        -------
        bool
        """
        subjects = self.details.get("subjects") or {}
        return sample_id in set(subjects.get("left_out") or ())

    def summary(self) -> dict[str, Any]:
        """Return the reference's description, as a profile shows it.

        Returns
        -------
        dict
            ``{name, version, n_samples, n_people, per_subject, sequencing,
            taxonomy_scheme, created, where}``; ``per_subject`` is None when
            the reference was built without a subject column.
        """
        sequencing = self.sequencing + (f" ({self.region})" if self.region else "")
        subjects = self.details.get("subjects") or {}
        return {"name": self.name, "version": self.version, "n_samples": self.n_samples,
                "n_people": self.n_people, "per_subject": subjects.get("per_subject"),
                "sequencing": sequencing, "taxonomy_scheme": self.taxonomy_scheme,
                "created": self.created, "where": self.details.get("where")}

    def marker_column(self, key: str) -> MarkerColumn | None:
        """Return the reference's marker matching a catalogue id or a name.

        Parameters
        ----------
        key : str
            A catalogue id (``"lps"``) or a marker name.

        Returns
        -------
        MarkerColumn or None
        """
        return next((info for info in self.marker_info.values()
                     if info.catalog_id == key or info.name == key), None)

    def measure_values(self, measure_id: str, *, unit: str | None = None) -> np.ndarray | None:
        """Return the reference's values of a measure, or None when it has none.

        Parameters
        ----------
        measure_id : str
            ``"index:shannon_entropy"``, ``"taxon:<id>"`` or ``"marker:<id>"``.
        unit : str, optional
            Express a marker's values in this unit (the reference keeps them
            in the unit it was built with); ignored for indices and taxa.

        Returns
        -------
        numpy.ndarray or None

        Raises
        ------
        UnitError
            ``unit`` does not convert to the marker's unit.
        """
        kind, _, key = measure_id.partition(":")
        if kind == "marker":
            info = self.marker_column(key)
            if info is None or info.name not in self.markers.columns:
                return None
            values = self.markers[info.name].to_numpy(dtype=np.float64)
            if unit is not None:
                values = values * conversion_factor(info.unit, unit)
            return values
        if kind in ("index", "taxon") and key in self.indices.columns:
            return self.indices[key].to_numpy(dtype=np.float64)
        return None

    def content(self) -> dict[str, np.ndarray]:
        """Return every frozen array by its name in ``arrays.npz`` (what :attr:`version` hashes).

        Returns
        -------
        dict of str to numpy.ndarray
        """
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

    def hashed_metadata(self) -> dict[str, Any]:
        """Return what :attr:`version` hashes besides the arrays: marker units, subjects.

        Returns
        -------
        dict
        """
        extra: dict[str, Any] = {"marker_units": {k: v.unit for k, v in
                                                  self.marker_info.items()}}
        if self.details.get("subjects"):  # absent from references built without subjects
            extra["subjects"] = self.details["subjects"]
        return extra

    def load_classifier(self) -> Any:
        """Return the frozen classifier.

        Returns
        -------
        FittedClassifier
            :func:`gutaxis.stats.load_classifier` (a pickle: load references
            from trusted sources only).

        Raises
        ------
        NotFoundError
            The reference has no classifier.
        """
        if self.classifier_file is None:
            raise NotFoundError("classifier", [self.name], "the reference")
        from gutaxis.stats.classifier import load_classifier

        return load_classifier(self.classifier_file)

    def __repr__(self) -> str:
        """Return a one-line description."""
        return (f"Reference({self.name!r}: {self.n_samples} samples, {self.sequencing}, "
                f"{self.taxonomy_scheme} taxonomy, version {self.version[:12]})")
