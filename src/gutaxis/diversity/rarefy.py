"""Rarefaction: subsample every sample to the same number of reads.

:func:`rarefy` follows QIIME 2's ``qiime feature-table rarefy`` (which calls
:meth:`biom.Table.subsample`): each sample's reads are drawn *without
replacement* down to exactly ``depth``; samples with fewer reads are dropped;
features left with no reads in any sample are removed (``biom`` filters them
out after subsampling; ``keep_empty_features=True`` keeps them).  Unlike
QIIME 2, the dropped samples are reported and the seed is always recorded, in
the result and in the study's provenance.
"""

from __future__ import annotations

import dataclasses
import numbers

import numpy as np
import scipy.sparse as sp

from gutaxis.exceptions import InputError
from gutaxis.study import Study, check_study

__all__ = ["RarefactionResult", "rarefy", "suggest_depth"]


@dataclasses.dataclass(frozen=True)
class RarefactionResult:
    """What :func:`rarefy` returns.

    Attributes
    ----------
    study : Study
        The rarefied study (``kind="counts"``): every sample sums to
        ``depth``.  Its provenance ends with a ``"rarefy"`` record.
    depth : int
        Reads kept per sample.
    dropped : tuple of str
        Ids of the samples that had fewer than ``depth`` reads, in table order.
    seed : int
        The seed used; ``rarefy(study, depth, seed=seed)`` gives the same table.
    """

    study: Study
    depth: int
    dropped: tuple[str, ...]
    seed: int


def _check_depth(depth: object) -> int:
    value: int | None = None
    if isinstance(depth, numbers.Integral) and not isinstance(depth, bool):
        value = int(depth)
    elif (isinstance(depth, float | np.floating) and np.isfinite(depth)
          and float(depth).is_integer()):
        value = int(depth)  # 100.0 from a config file is fine
    if value is None or value < 1:
        raise InputError(f"`depth` must be an integer ≥ 1; got {depth!r}.")
    return value


def _check_seed(seed: object) -> int:
    if seed is None:
        return int(np.random.SeedSequence().entropy)  # type: ignore[arg-type]
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise InputError(f"`seed` must be an integer ≥ 0 (or None for a fresh one); got {seed!r}.")
    return int(seed)


#: Reads a sample may hold for rarefaction: 2^62, well inside the 64-bit integers the
#: draws use (a float sum at 2^63 may round up past them).
_MAX_READS = float(2 ** 62)


def rarefy(study: Study, depth: int, *, seed: int | None = None,
           with_replacement: bool = False, keep_empty_features: bool = False,
           ) -> RarefactionResult:
    """Subsample every sample to exactly ``depth`` reads.

    Parameters
    ----------
    study : Study
        A read-count study (``kind="counts"``).
    depth : int
        Reads to keep per sample, ≥ 1.  Samples with fewer reads are dropped.
    seed : int, optional
        Seed of the :func:`numpy.random.default_rng` generator; the same seed
        on the same study gives the same table.  ``None`` draws a fresh seed,
        which is recorded in the result and the provenance so that the run
        can still be repeated.
    with_replacement : bool
        Draw reads with replacement (multinomial on the sample's proportions)
        instead of without (QIIME 2's ``--p-with-replacement``; default
        ``False`` as in QIIME 2).
    keep_empty_features : bool
        Keep the features that have no reads left after rarefying (all-zero
        columns), so that the feature axis is unchanged.  Default ``False``:
        they are removed, as QIIME 2 does.

    Returns
    -------
    RarefactionResult
        The rarefied study and what was done.

    Raises
    ------
    InputError
        ``study`` is not a Study; ``depth`` is not an integer ≥ 1; the study
        holds relative abundances;
        every sample has fewer than ``depth`` reads (the message gives the
        largest depth available).

    Notes
    -----
    Without replacement, the counts kept for a sample follow the
    multivariate hypergeometric distribution: ``depth`` reads drawn at random
    from the sample's reads, each read equally likely.  They are drawn with
    :meth:`numpy.random.Generator.multivariate_hypergeometric` (marginals
    method: one exact hypergeometric draw per non-zero feature), sample after
    sample in table order, from one generator seeded with ``seed``; only the
    non-zero entries are touched, so the cost is O(non-zeros) and the table
    stays sparse.  Reproducible for a given seed and numpy version; the
    numbers are not the same as QIIME 2's for the same seed (biom uses its own
    Cython sampler).

    As in QIIME 2 (``biom.Table.subsample``), features left with no reads in
    any sample after rarefying are removed from the study (with their
    taxonomy and sequences) unless ``keep_empty_features``; samples below
    ``depth`` are removed, and their ids are listed in ``dropped``.  The
    expected rarefied count of a feature is ``depth × count / total``.

    References
    ----------
    .. [1] Sanders, H. L. (1968). Marine benthic diversity: a comparative
       study. *The American Naturalist* 102(925), 243–282.
    .. [2] Weiss, S. et al. (2017). Normalization and microbial differential
       abundance strategies depend upon data characteristics. *Microbiome*
       5, 27.

    Examples
    --------
    >>> import numpy as np
    >>> from gutaxis import Study
    >>> s = Study(np.array([[5, 5, 0], [1, 0, 1], [3, 3, 4]]), ["a", "b", "c"],
    ...           ["f1", "f2", "f3"])
    >>> r = rarefy(s, 4, seed=1)
    >>> r.study.sample_totals().tolist(), r.dropped
    ([4.0, 4.0], ('b',))
    """
    check_study(study)
    depth = _check_depth(depth)
    if study.kind != "counts":
        raise InputError(
            f"rarefaction subsamples reads; {study.source} holds relative abundances "
            "(kind='relative'). Rarefy the read-count table instead."
        )
    seed = _check_seed(seed)
    x = study.counts
    totals = study.sample_totals()
    keep = totals >= depth
    if not keep.any():
        raise InputError(
            f"every sample has fewer than {depth} reads (the rarefaction depth: --rarefy, "
            f"depth in Python); the deepest sample, "
            f"{study.sample_ids[int(np.argmax(totals))]!r}, has {int(totals.max())}. "
            f"Choose a depth ≤ {int(totals.max())}."
        )
    rows = np.flatnonzero(keep)
    dropped = tuple(study.sample_ids[~keep])
    # the draws count reads in 64-bit integers: a sample's reads must fit one
    too_many = rows[totals[rows] >= _MAX_READS]
    if len(too_many):
        raise InputError(
            f"{study.source}: sample {study.sample_ids[too_many[0]]!r} has "
            f"{totals[too_many[0]]:.6g} reads; rarefaction counts reads in 64-bit integers "
            f"(fewer than {_MAX_READS:.6g} a sample). These are not read counts.")

    sub = sp.csr_matrix(x[rows])  # a new matrix: its data is ours to overwrite
    rng = np.random.default_rng(seed)
    indptr, data = sub.indptr, sub.data
    for r in range(sub.shape[0]):
        a, b = indptr[r], indptr[r + 1]
        colors = data[a:b].astype(np.int64)
        if with_replacement:
            drawn = rng.multinomial(depth, colors / colors.sum())
        else:
            drawn = rng.multivariate_hypergeometric(colors, depth, method="marginals")
        data[a:b] = drawn
    sub.eliminate_zeros()

    if keep_empty_features:
        present = np.arange(x.shape[1])
    else:
        present = np.flatnonzero(np.bincount(sub.indices, minlength=sub.shape[1]) > 0)
    n_empty_features = x.shape[1] - len(present)
    if n_empty_features:
        sub = sp.csr_matrix(sub[:, present])
    feature_ids = study.feature_ids[present]

    step = {
        "step": "rarefy",
        "depth": depth,
        "seed": seed,
        "with_replacement": bool(with_replacement),
        "keep_empty_features": bool(keep_empty_features),
        "n_samples": int(len(rows)),
        "n_dropped": len(dropped),
        "dropped": list(dropped),
        "n_features_removed": int(n_empty_features),
    }
    rarefied = study.replace(
        step,
        counts=sub,
        sample_ids=study.sample_ids[rows],
        feature_ids=feature_ids,
        samples=None if study.samples is None else study.samples.iloc[rows],
        taxonomy=None if study.taxonomy is None else study.taxonomy.loc[feature_ids],
        sequences=None if study.sequences is None else study.sequences.loc[feature_ids],
        kind="counts",
    )
    return RarefactionResult(study=rarefied, depth=depth, dropped=dropped, seed=seed)


def suggest_depth(study: Study, *, keep: float = 0.9) -> int:
    """Return a rarefaction depth that keeps at least ``keep`` of the samples.

    The largest depth at which at least ``ceil(keep × n_samples)`` samples
    have enough reads (i.e. the corresponding order statistic of the sample
    totals).  A starting point, not a rule: look at the totals too.

    Parameters
    ----------
    study : Study
        A read-count study.
    keep : float
        Share of samples to keep, in (0, 1].

    Returns
    -------
    int

    Examples
    --------
    >>> import numpy as np
    >>> from gutaxis import Study
    >>> s = Study(np.array([[5, 5], [1, 0], [3, 4], [9, 9]]), list("abcd"), ["f1", "f2"])
    >>> suggest_depth(s, keep=0.75)
    7
    """
    if study.kind != "counts":
        raise InputError("suggest_depth needs a read-count study (kind='counts').")
    if not (0 < keep <= 1):
        raise InputError(f"`keep` must be in (0, 1]; got {keep!r}.")
    totals = np.sort(study.sample_totals())[::-1]
    if totals.size == 0 or totals[0] < 1:
        raise InputError("the study has no reads")
    k = int(np.ceil(keep * len(totals)))
    return int(max(1, totals[k - 1]))
