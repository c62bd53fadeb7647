"""Drivers: diversity on a :class:`~gutaxis.study.Study`.

The drivers check once what every kernel needs (a tree covering the features,
integer counts for count-only metrics), hand the kernels a CSR matrix and wrap
the arrays they return with the sample ids.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd

from gutaxis.checks import check_names
from gutaxis.distance import DistanceMatrix
from gutaxis.diversity._registry import (
    Metric,
    alpha_metrics,
    beta_metrics,
    get_alpha_metric,
    get_beta_metric,
    split_metrics,
)
from gutaxis.exceptions import EmptySamplesError, InputError, NotFoundError
from gutaxis.study import Study, check_study

__all__ = ["alpha_diversity", "beta_diversity", "applicable_metrics"]

#: Why a metric does not apply to a study, as :func:`applicable_metrics` notes it.
NEEDS_COUNTS = "defined on read counts; the table holds relative abundances"
NEEDS_TREE = ("needs a phylogenetic tree: give --tree, or ASV sequences (as feature ids or "
              "--sequences) so that gutaxis can build one")


def _empty_sample_ids(study: Study) -> list[str]:
    """Return the ids of the samples with no reads (total 0), in table order."""
    return [str(s) for s in study.sample_ids[study.sample_totals() <= 0]]


def _shown(ids: Sequence[str], limit: int = 10) -> str:
    return ", ".join(ids[:limit]) + (" …" if len(ids) > limit else "")


def _why_not(study: Study, metric: Metric, empty: Sequence[str] | None = None) -> str | None:
    """Return why ``metric`` cannot be computed on ``study``, or None when it can.

    ``empty``: the study's empty samples, when they are to be judged too.
    """
    if metric.needs_counts and study.kind != "counts":
        return NEEDS_COUNTS
    if metric.needs_tree and study.tree is None:
        lacking = ([] if study.sequences is None
                   else [str(f) for f in study.sequences.index[study.sequences.isna()]])
        if lacking:  # sequences were given, but not for every feature: no tree from them
            return (f"needs a phylogenetic tree, and the sequences given have none for "
                    f"{len(lacking)} feature(s) of the table ({_shown(lacking, 5)}): give "
                    "every feature's sequence, or --tree")
        return NEEDS_TREE
    if empty is not None and metric.max_empty is not None and len(empty) > metric.max_empty:
        between = "between two samples" if metric.max_empty == 1 else "for a sample"
        return (f"undefined {between} with no reads, and {len(empty)} sample(s) have none "
                f"({_shown(list(empty))}); leave them out first (--drop-empty)")
    return None


def applicable_metrics(study: Study, names: Sequence[str], *, asked: Sequence[str] = ()
                       ) -> tuple[list[str], list[str], dict[str, str]]:
    """Sort metric names into those that apply to ``study`` and those that do not.

    Parameters
    ----------
    study : Study
    names : sequence of str
        QIIME 2 metric names, alpha and beta mixed.
    asked : sequence of str
        The names the user asked for by name: one of them that does not
        apply is an error, not a skip.

    Notes
    -----
    A metric does not apply when it needs a tree and the study has none,
    needs read counts and the study holds relative abundances, or is
    undefined on the study's samples without reads (Bray–Curtis between two
    of them, the default Aitchison for any; see ``Metric.max_empty``).  Alpha
    metrics always apply: an empty sample gets its value where the metric
    defines one (observed features 0) and NaN where it does not (Shannon),
    as scikit-bio gives.

    Returns
    -------
    alpha, beta : list of str
        The metrics that apply, in the order given.
    skipped : dict of str to str
        Each metric left out, with the reason.

    Raises
    ------
    InputError
        A metric in ``asked`` does not apply (no tree, or relative abundances
        for a count metric); ``study`` is not a Study.
    UnknownMetricError
        A name that is no metric.

    Examples
    --------
    >>> import numpy as np
    >>> s = Study(np.array([[0.5, 0.5]]), ["S1"], ["a", "b"], kind="relative")
    >>> alpha, beta, skipped = applicable_metrics(
    ...     s, ["shannon_entropy", "chao1", "faith_pd", "braycurtis"])
    >>> alpha, beta, sorted(skipped)
    (['shannon_entropy'], ['braycurtis'], ['chao1', 'faith_pd'])
    """
    check_study(study)
    alpha, beta = split_metrics(names)
    registry = {**alpha_metrics(), **beta_metrics()}
    empty = _empty_sample_ids(study)
    skipped: dict[str, str] = {}
    for name in [*alpha, *beta]:
        reason = _why_not(study, registry[name], empty)
        if reason is None:
            continue
        if name in asked:
            raise InputError(f"{name} cannot be computed on {study.source}: {reason}")
        skipped[name] = reason
    return ([n for n in alpha if n not in skipped], [n for n in beta if n not in skipped],
            skipped)


def _check_applicable(study: Study, metric: Metric) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    reason = _why_not(study, metric)
    if reason is not None:
        raise InputError(f"{metric.name} cannot be computed on {study.source}: {reason}")
    if metric.needs_tree and study.tree is not None:  # (a tree: _why_not checked it)
        missing = study.tree.missing_tips(study.feature_ids)
        if missing:
            raise NotFoundError("feature id", missing, "the tree's tips")
        extra["tree"] = study.tree
        extra["feature_ids"] = study.feature_ids
    return extra


@contextlib.contextmanager
def _blas_threads(n_threads: int | None) -> Iterator[None]:
    """Hold BLAS/OpenMP pools to ``n_threads`` (numba loops take it as an option)."""
    if n_threads is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=n_threads):
        yield


def _options(metric: Metric, given: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in given.items() if k in metric.options and v is not None}


def alpha_diversity(study: Study, metrics: Sequence[str] = ("observed_features", "shannon_entropy"),
                    *, base: float = 2.0) -> pd.DataFrame:
    """Alpha diversity of every sample.

    Parameters
    ----------
    study : Study
        Counts (or relative abundances for the metrics defined on them).
    metrics : sequence of str
        QIIME 2 metric names (see :func:`gutaxis.diversity.alpha_metrics`).
    base : float
        Logarithm base for Shannon's entropy; QIIME 2's ``shannon_entropy``
        uses 2, which is the default here.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``sample_id``, one float column per metric, in the order asked.

    Raises
    ------
    InputError
        ``study`` is not a Study, ``metrics`` is one text (not a list), or a
        metric does not apply (a tree or read counts needed).
    UnknownMetricError
        An unknown metric name.

    Examples
    --------
    >>> import numpy as np
    >>> from gutaxis import Study
    >>> s = Study(np.array([[1, 1, 0], [4, 0, 0]]), ["a", "b"], ["f1", "f2", "f3"])
    >>> metrics = ["observed_features", "shannon_entropy"]
    >>> alpha_diversity(s, metrics)  # doctest: +NORMALIZE_WHITESPACE
               observed_features  shannon_entropy
    sample_id
    a                        2.0              1.0
    b                        1.0              0.0
    """
    check_study(study)
    resolved = [get_alpha_metric(m) for m in check_names(metrics, "metrics")]
    columns = {}
    for metric in resolved:
        extra = _check_applicable(study, metric)
        values = metric.func(study.counts, **extra, **_options(metric, {"base": base}))
        columns[metric.name] = np.asarray(values, dtype=np.float64)
    frame = pd.DataFrame(columns, index=pd.Index(study.sample_ids, name="sample_id"))
    return frame


def beta_diversity(study: Study, metric: str, *, pseudocount: float | None = None,
                   n_threads: int | None = None) -> DistanceMatrix:
    """Distances between every pair of samples.

    Parameters
    ----------
    study : Study
        Counts or relative abundances.
    metric : str
        QIIME 2 metric name (see :func:`gutaxis.diversity.beta_metrics`).
    pseudocount : float, optional
        For ``aitchison`` only: added to every count before the CLR
        (default 1, as documented in :mod:`gutaxis.diversity.beta`).
    n_threads : int, optional
        Threads for the compiled kernels and the BLAS they call (default: all
        cores; the BLAS pool is limited with threadpoolctl).

    Returns
    -------
    DistanceMatrix

    Raises
    ------
    InputError
        ``study`` is not a Study, or the metric does not apply (a tree or
        read counts needed).
    UnknownMetricError
        An unknown metric name.
    EmptySamplesError
        The metric is undefined between samples with no reads.
    """
    check_study(study)
    resolved = get_beta_metric(metric)
    extra = _check_applicable(study, resolved)
    opts = _options(resolved, {"pseudocount": pseudocount, "n_threads": n_threads})
    try:
        with _blas_threads(n_threads):
            data = resolved.func(study.counts, **extra, **opts)
    except EmptySamplesError as exc:  # kernels name rows; the driver knows the ids
        ids = [str(study.sample_ids[r]) for r in exc.rows]
        raise EmptySamplesError(
            f"{resolved.name} is undefined between samples with no reads; {len(ids)} sample(s) "
            f"in {study.source} are empty: {_shown(ids)}. Leave them out first (gutaxis "
            "diversity --drop-empty; rarefying drops them too).", rows=exc.rows) from exc
    return DistanceMatrix(study.sample_ids, data, resolved.name, validate=False)
