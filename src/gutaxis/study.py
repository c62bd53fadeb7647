"""The central object: :class:`Study`.

A ``Study`` is everything known about a set of samples — counts, feature
taxonomy, an optional phylogeny and sequences, sample metadata and the record
of how it was made — with all slots aligned by id.  Readers build one, analyses
take one, and every transform returns a new one (the object is never mutated
in place).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from gutaxis.checks import check_names, check_type
from gutaxis.exceptions import InputError, NotFoundError, SampleMismatchError, ValidationError

if TYPE_CHECKING:
    import anndata
    import biom

    from gutaxis.tree import Tree

__all__ = ["Study", "RANKS", "check_study"]

#: Taxonomic ranks held in :attr:`Study.taxonomy`, in order.
RANKS: tuple[str, ...] = (
    "kingdom",
    "phylum",
    "class",
    "order",
    "family",
    "genus",
    "species",
)

Kind = Literal["counts", "relative"]


def _as_index(ids: Iterable[Any], what: str, source: str) -> pd.Index:
    index = pd.Index(list(check_names(ids, f"{what}_ids")), dtype=object)
    if index.has_duplicates:
        dupes = index[index.duplicated()].unique().tolist()
        raise ValidationError(
            f"{source}: {what} ids must be unique; duplicated: "
            + ", ".join(map(repr, dupes[:10]))
            + (f" (and {len(dupes) - 10} more)" if len(dupes) > 10 else "")
        )
    return index


#: How many ids a provenance record lists by name (the counts are always whole).
_LISTED = 100


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class Study:
    """Samples × features abundances with everything aligned to them.

    Parameters
    ----------
    counts : scipy.sparse.csr_matrix
        Samples × features.  Integer-valued for read counts
        (``kind="counts"``), floats summing to 1 or 100 per sample for
        relative profiles (``kind="relative"``).
    sample_ids, feature_ids : sequence of str
        Unique ids, in the order of the rows / columns of ``counts``.
    taxonomy : pandas.DataFrame, optional
        Indexed by feature id, columns :data:`RANKS`; ``None`` (missing) for an
        unassigned rank.
    tree : gutaxis.tree.Tree, optional
        Rooted phylogeny whose tips include every feature id.
    sequences : pandas.Series, optional
        Feature id → nucleotide sequence.
    samples : pandas.DataFrame, optional
        Sample metadata indexed by sample id (same order as ``sample_ids``).
    kind : {"counts", "relative"}
        What the numbers in ``counts`` are.
    source : str
        Where the table came from (a path, for messages).
    provenance : tuple of dict
        One record per step that made this object (reader, subset, rarefy…).

    Notes
    -----
    Validation happens once, here: shapes, unique ids, finite non-negative
    values, integer values when ``kind="counts"``.  Code that receives a
    ``Study`` may trust it.
    """

    counts: sp.csr_matrix
    sample_ids: pd.Index
    feature_ids: pd.Index
    taxonomy: pd.DataFrame | None = None
    tree: Tree | None = None
    sequences: pd.Series | None = None
    samples: pd.DataFrame | None = None
    kind: Kind = "counts"
    source: str = "<memory>"
    provenance: tuple[dict[str, Any], ...] = ()

    def __post_init__(self) -> None:
        """Normalise the slots (CSR counts, ``str`` ids, aligned annotations) and check them."""
        set_ = object.__setattr__
        counts = _as_matrix(self.counts)
        counts.sum_duplicates()
        counts.eliminate_zeros()
        set_(self, "counts", counts)
        sample_ids = _as_index(self.sample_ids, "sample", self.source)
        feature_ids = _as_index(self.feature_ids, "feature", self.source)
        set_(self, "sample_ids", sample_ids)
        set_(self, "feature_ids", feature_ids)
        if counts.shape != (len(sample_ids), len(feature_ids)):
            raise ValidationError(
                f"{self.source}: the table is {counts.shape[0]} × {counts.shape[1]} "
                f"but {len(sample_ids)} sample ids and {len(feature_ids)} feature ids were given"
            )
        if self.kind not in ("counts", "relative"):
            raise ValidationError(f"kind must be 'counts' or 'relative'; got {self.kind!r}")
        data = counts.data
        if data.size:
            if not np.all(np.isfinite(data)):
                raise ValidationError(f"{self.source}: the table contains NaN or infinite values")
            if data.min() < 0:
                r, c = _first(counts, counts.data < 0)
                raise ValidationError(
                    f"{self.source}: abundances must be ≥ 0; sample {sample_ids[r]!r}, "
                    f"feature {feature_ids[c]!r} has {counts[r, c]!r}"
                )
            with np.errstate(over="ignore"):  # an overflowing sum is refused below
                totals = np.asarray(counts.sum(axis=1)).ravel()
            if not np.all(np.isfinite(totals)):  # each value finite, their sum not
                r = int(np.flatnonzero(~np.isfinite(totals))[0])
                raise ValidationError(
                    f"{self.source}: sample {sample_ids[r]!r}: its abundances add up to more "
                    "than a floating-point number holds (about 1.8e308); the table's values "
                    "cannot be right")
            if self.kind == "counts" and not np.all(data == np.round(data)):
                r, c = _first(counts, data != np.round(data))
                raise ValidationError(
                    f"{self.source}: read counts must be whole numbers; sample "
                    f"{sample_ids[r]!r}, feature {feature_ids[c]!r} has {counts[r, c]!r}. "
                    "If this is a relative-abundance table, read it as one (kind='relative')."
                )
        for slot, expected, hint in (
                ("taxonomy", pd.DataFrame, "indexed by feature id, one column per rank"),
                ("sequences", pd.Series, "feature id → nucleotide sequence"),
                ("samples", pd.DataFrame, "the sample metadata, indexed by sample id")):
            if getattr(self, slot) is not None:
                check_type(getattr(self, slot), expected, slot, hint=f"{hint}; or None")
        if self.taxonomy is not None:
            tax = self.taxonomy.reindex(feature_ids)
            set_(self, "taxonomy", tax)
        if self.sequences is not None:
            set_(self, "sequences", self.sequences.reindex(feature_ids))
        if self.samples is not None:
            md = self.samples
            missing = sample_ids.difference(md.index)
            if len(missing):
                raise NotFoundError("sample id", list(missing), "the sample metadata")
            set_(self, "samples", md.loc[sample_ids])

    # ------------------------------------------------------------------ basics
    @property
    def n_samples(self) -> int:
        """Number of samples (rows of :attr:`counts`)."""
        return int(self.counts.shape[0])

    @property
    def n_features(self) -> int:
        """Number of features (columns of :attr:`counts`)."""
        return int(self.counts.shape[1])

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_samples, n_features)``."""
        return (self.n_samples, self.n_features)

    def __repr__(self) -> str:
        """Return a one-line summary: size, kind, the slots that are set and the source."""
        parts = [f"{self.n_samples} samples × {self.n_features} features ({self.kind})"]
        if self.taxonomy is not None:
            parts.append("taxonomy")
        if self.tree is not None:
            parts.append("tree")
        if self.sequences is not None:
            parts.append("sequences")
        if self.samples is not None:
            parts.append(f"metadata[{self.samples.shape[1]} columns]")
        return f"Study({', '.join(parts)}; source={self.source!r})"

    def sample_totals(self) -> np.ndarray:
        """Total abundance per sample (float64, length ``n_samples``)."""
        return np.asarray(self.counts.sum(axis=1), dtype=np.float64).ravel()

    def replace(self, step: dict[str, Any] | None = None, **changes: Any) -> Study:
        """Return a new Study with slots replaced (and a provenance record appended)."""
        if step is not None:
            changes["provenance"] = (*self.provenance, step)
        return dataclasses.replace(self, **changes)

    # ---------------------------------------------------------------- subsets
    def subset_samples(self, ids: Sequence[str], *, step: str = "subset_samples") -> Study:
        """Return the study restricted to ``ids`` (in that order)."""
        positions = self.sample_ids.get_indexer(pd.Index([str(i) for i in ids]))
        if (positions < 0).any():
            missing = [str(i) for i, p in zip(ids, positions, strict=True) if p < 0]
            raise NotFoundError("sample id", missing, self.source)
        return self.replace(
            {"step": step, "n_samples": len(positions)},
            counts=self.counts[positions],
            sample_ids=self.sample_ids[positions],
            samples=None if self.samples is None else self.samples.iloc[positions],
        )

    def subset_features(self, ids: Sequence[str], *, step: str = "subset_features") -> Study:
        """Return the study restricted to feature ``ids`` (in that order)."""
        positions = self.feature_ids.get_indexer(pd.Index([str(i) for i in ids]))
        if (positions < 0).any():
            missing = [str(i) for i, p in zip(ids, positions, strict=True) if p < 0]
            raise NotFoundError("feature id", missing, self.source)
        fids = self.feature_ids[positions]
        return self.replace(
            {"step": step, "n_features": len(positions)},
            counts=self.counts[:, positions].tocsr(),
            feature_ids=fids,
            taxonomy=None if self.taxonomy is None else self.taxonomy.loc[fids],
            sequences=None if self.sequences is None else self.sequences.loc[fids],
        )

    def drop_empty_features(self) -> Study:
        """Remove features that are zero in every sample."""
        keep = np.flatnonzero(self.counts.getnnz(axis=0) > 0)
        if len(keep) == self.n_features:
            return self
        return self.subset_features(self.feature_ids[keep].tolist(), step="drop_empty_features")

    def with_metadata(self, metadata: pd.DataFrame, *, min_shared: int = 1,
                      source: str = "the metadata") -> Study:
        """Attach sample metadata, keeping the samples present in both.

        Raises
        ------
        SampleMismatchError
            Fewer than ``min_shared`` samples are shared; the message lists
            (some of) the ids on each side that did not match.
        """
        md_ids = pd.Index(metadata.index.astype(str))
        shared = self.sample_ids.intersection(md_ids, sort=False)
        if len(shared) < min_shared:
            only_table = self.sample_ids.difference(md_ids).tolist()
            only_md = md_ids.difference(self.sample_ids).tolist()
            raise SampleMismatchError(
                f"{self.source} and {source} share {len(shared)} sample id(s); at least "
                f"{min_shared} needed. Only in the table ({len(only_table)}): "
                f"{', '.join(map(repr, only_table[:5]))}{' …' if len(only_table) > 5 else ''}; "
                f"only in the metadata ({len(only_md)}): "
                f"{', '.join(map(repr, only_md[:5]))}{' …' if len(only_md) > 5 else ''}. "
                "Check that both files use the same sample ids (first column of the metadata)."
            )
        md = metadata.copy()
        md.index = md_ids
        base = self if len(shared) == self.n_samples else self.subset_samples(
            shared.tolist(), step="match_metadata"
        )
        return base.replace(
            {"step": "attach_metadata", "source": source, "n_shared": len(shared),
             "n_table_only": self.n_samples - len(shared),
             # the first of them by name, in the table's order (all when few)
             "table_only": [str(x) for x in self.sample_ids[
                 ~self.sample_ids.isin(md_ids)][:_LISTED]],
             "n_metadata_only": len(md_ids) - len(shared)},
            samples=md.loc[shared],
        )

    def relative(self) -> Study:
        """Each sample divided by its total (rows summing to 1)."""
        totals = self.sample_totals()
        inv = np.divide(1.0, totals, out=np.zeros_like(totals), where=totals > 0)
        rel = sp.csr_matrix(sp.diags(inv) @ self.counts.astype(np.float64))
        return self.replace({"step": "relative"}, counts=rel, kind="relative")

    # ----------------------------------------------------------- conversions
    def to_dataframe(self) -> pd.DataFrame:
        """Dense samples × features DataFrame (small tables only)."""
        return pd.DataFrame(self.counts.toarray(), index=self.sample_ids, columns=self.feature_ids)

    def to_biom(self) -> biom.Table:
        """Return a :class:`biom.Table` (features × samples, taxonomy as observation metadata)."""
        import biom

        obs_md = None
        if self.taxonomy is not None:
            obs_md = [
                {"taxonomy": [_rank_label(r, v) for r, v in zip(RANKS, row, strict=True)]}
                for row in self.taxonomy[list(RANKS)].itertuples(index=False)
            ]
        sample_md = None
        return biom.Table(
            self.counts.T.tocsr(),
            observation_ids=list(self.feature_ids),
            sample_ids=list(self.sample_ids),
            observation_metadata=obs_md,
            sample_metadata=sample_md,
        )

    def to_anndata(self) -> anndata.AnnData:
        """Return an :class:`anndata.AnnData` (obs = samples, var = features + taxonomy)."""
        try:
            import anndata as ad
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ImportError(
                "to_anndata needs the optional dependency anndata: pip install 'gutaxis[anndata]'"
            ) from exc
        obs = (self.samples.copy() if self.samples is not None
               else pd.DataFrame(index=self.sample_ids.copy()))
        obs.index = obs.index.astype(str)
        var = (self.taxonomy.copy() if self.taxonomy is not None
               else pd.DataFrame(index=self.feature_ids.copy()))
        var.index = var.index.astype(str)
        return ad.AnnData(X=self.counts.copy(), obs=obs, var=var, uns={"gutaxis_kind": self.kind})

    @classmethod
    def from_anndata(cls, adata: anndata.AnnData, *, kind: Kind | None = None) -> Study:
        """Build a Study from an AnnData made by :meth:`to_anndata` (or any with counts in X)."""
        taxonomy = None
        if all(r in adata.var.columns for r in RANKS):
            taxonomy = adata.var[list(RANKS)].astype(object).where(adata.var[list(RANKS)].notna(),
                                                                   None)
        samples = adata.obs if adata.obs.shape[1] else None
        return cls(
            counts=sp.csr_matrix(adata.X),
            sample_ids=adata.obs_names,
            feature_ids=adata.var_names,
            taxonomy=taxonomy,
            samples=samples,
            kind=kind or adata.uns.get("gutaxis_kind", "counts"),
            source="<anndata>",
        )


def check_study(value: Any, name: str = "study") -> Study:
    """Return ``value`` when it is a :class:`Study`; raise :class:`InputError` if not.

    The one check the public functions that take a study make of its type.

    Parameters
    ----------
    value : object
    name : str, default "study"
        The argument, for the message.

    Returns
    -------
    Study

    Raises
    ------
    InputError
        ``value`` is not a Study (a path, a DataFrame, None...); the message
        says how to get one.
    """
    return check_type(value, Study, name,
                      hint="read a table with gutaxis.io.read_table, or make one with "
                           "gutaxis.Study(counts, sample_ids, feature_ids)")


def _as_matrix(counts: Any) -> sp.csr_matrix:
    """Convert ``counts`` to a CSR matrix of numbers (InputError for texts, other non-numbers)."""
    problem = "samples × features matrix of numbers (a numpy array or scipy.sparse matrix)"
    if not sp.issparse(counts):
        array = np.asarray(counts)
        if array.dtype.kind == "O":
            try:
                array = array.astype(np.float64)
            except (TypeError, ValueError):
                raise InputError(f"counts must be a {problem}; it holds values that are not "
                                 "numbers") from None
        if array.dtype.kind not in "biuf":
            found = (f"the text {counts!r:.40}" if isinstance(counts, str | bytes)
                     else f"a {type(counts).__name__} holding {array.dtype} values")
            raise InputError(f"counts must be a {problem}; got {found}")
        if array.ndim > 2:
            raise InputError(f"counts must be a {problem}; got a {array.ndim}-D array")
        counts = sp.csr_matrix(array)
    return sp.csr_matrix(counts)


def _first(matrix: sp.csr_matrix, mask: np.ndarray) -> tuple[int, int]:
    """Row and column of the first stored entry selected by ``mask``."""
    k = int(np.flatnonzero(mask)[0])
    row = int(np.searchsorted(matrix.indptr, k, side="right") - 1)
    return row, int(matrix.indices[k])


def _rank_label(rank: str, value: Any) -> str:
    prefix = rank[0] + "__"
    return prefix if value is None or (isinstance(value, float) and np.isnan(value)) else (
        prefix + str(value)
    )
