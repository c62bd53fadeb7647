"""Registries of diversity metrics, looked up by their QIIME 2 names.

Kernel modules register with :func:`register_alpha` / :func:`register_beta`;
drivers look metrics up with :func:`get_alpha_metric` / :func:`get_beta_metric`
so that an unknown name is answered with the list of valid ones.

Kernel contract
---------------
alpha : ``func(counts, **options) -> ndarray`` of length ``n_samples``
beta  : ``func(counts, **options) -> ndarray`` of shape ``n_samples × n_samples``
        (symmetric, zero diagonal, float64); with ``n_rows=k`` the ``k × (n_samples
        − k)`` block of the distances between the first ``k`` samples and the
        others, computed without the pairs inside either group (the tiles of a
        blockwise matrix, :mod:`gutaxis.distributed`)

``counts`` is a samples × features :class:`scipy.sparse.csr_matrix` (float64
data; integers for count metrics).  Metrics with ``needs_tree`` also receive
``tree=`` (a :class:`gutaxis.tree.Tree`) and ``feature_ids=`` (the column ids).
Only the options named in ``options`` are passed on.
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from gutaxis.checks import check_names
from gutaxis.exceptions import InputError, UnknownMetricError

__all__ = [
    "Metric",
    "register_alpha",
    "register_beta",
    "get_alpha_metric",
    "get_beta_metric",
    "alpha_metrics",
    "beta_metrics",
    "split_metrics",
    "check_block_rows",
]


@dataclasses.dataclass(frozen=True)
class Metric:
    """A registered metric.

    Attributes
    ----------
    name : str
        The QIIME 2 name (also the output column / file name).
    func : callable
        The kernel (see the module docstring for its contract).
    needs_tree : bool
        Phylogenetic metric: needs ``tree`` and ``feature_ids``.
    needs_counts : bool
        Only defined on integer counts (e.g. Chao1 needs singletons).
    options : tuple of str
        Keyword options the kernel accepts (``base``, ``pseudocount``...).
    summary : str
        One line for ``--help`` and the docs.
    max_empty : int or None
        Beta metrics: the most samples without reads the metric is defined
        for, with its default options (Bray–Curtis 1: 0/0 between two empty
        samples; Aitchison 0: an empty sample has no composition); None when
        any number is fine.  Alpha metrics are defined or not per sample
        (NaN where undefined) and leave it None.
    """

    name: str
    func: Callable[..., Any]
    needs_tree: bool = False
    needs_counts: bool = False
    options: tuple[str, ...] = ()
    summary: str = ""
    max_empty: int | None = None


_ALPHA: dict[str, Metric] = {}
_BETA: dict[str, Metric] = {}

_F = TypeVar("_F", bound=Callable[..., Any])


def _register(table: dict[str, Metric], name: str, **kw: Any) -> Callable[[_F], _F]:
    def decorator(func: _F) -> _F:
        if name in table:
            raise RuntimeError(f"metric {name!r} registered twice")
        summary = kw.pop("summary", None) or (func.__doc__ or "").strip().splitlines()[0]
        table[name] = Metric(name=name, func=func, summary=summary, **kw)
        return func

    return decorator


def register_alpha(name: str, *, needs_tree: bool = False, needs_counts: bool = False,
                   options: tuple[str, ...] = (), summary: str = "") -> Callable[[_F], _F]:
    """Return a decorator that registers an alpha-diversity kernel under ``name``."""
    return _register(_ALPHA, name, needs_tree=needs_tree, needs_counts=needs_counts,
                     options=options, summary=summary)


def register_beta(name: str, *, needs_tree: bool = False, needs_counts: bool = False,
                  options: tuple[str, ...] = (), summary: str = "",
                  max_empty: int | None = None) -> Callable[[_F], _F]:
    """Return a decorator that registers a beta-diversity kernel under ``name``."""
    return _register(_BETA, name, needs_tree=needs_tree, needs_counts=needs_counts,
                     options=options, summary=summary, max_empty=max_empty)


def get_alpha_metric(name: str) -> Metric:
    """Return the alpha metric called ``name``; :class:`UnknownMetricError` lists valid names."""
    try:
        return _ALPHA[name]
    except KeyError:
        raise UnknownMetricError(name, _ALPHA, "alpha") from None


def get_beta_metric(name: str) -> Metric:
    """Return the beta metric called ``name``; :class:`UnknownMetricError` lists valid names."""
    try:
        return _BETA[name]
    except KeyError:
        raise UnknownMetricError(name, _BETA, "beta") from None


def alpha_metrics() -> dict[str, Metric]:
    """All registered alpha metrics, by name (registration order)."""
    return dict(_ALPHA)


def beta_metrics() -> dict[str, Metric]:
    """All registered beta metrics, by name (registration order)."""
    return dict(_BETA)


def split_metrics(names: Iterable[str]) -> tuple[list[str], list[str]]:
    """Sort metric names into alpha and beta metrics, checking each once.

    Parameters
    ----------
    names : iterable of str
        QIIME 2 metric names, alpha and beta mixed.

    Returns
    -------
    alpha, beta : list of str
        In the order given, each name once.

    Raises
    ------
    InputError
        ``names`` is one text, not a list of names.
    UnknownMetricError
        A name that is neither (the message suggests the closest names and
        lists the valid ones).

    Examples
    --------
    >>> split_metrics(["braycurtis", "shannon_entropy"])
    (['shannon_entropy'], ['braycurtis'])
    """
    alpha: list[str] = []
    beta: list[str] = []
    for name in check_names(names, "the metric names"):
        if name in _ALPHA:
            target = alpha
        elif name in _BETA:
            target = beta
        else:
            raise UnknownMetricError(str(name), [*_ALPHA, *_BETA])
        if name not in target:
            target.append(name)
    return alpha, beta


def check_block_rows(n_rows: Any, n: int, metric: str) -> int | None:
    """Check the ``n_rows`` of a beta kernel's block (see the kernel contract).

    Parameters
    ----------
    n_rows : int or None
        The samples of the first group; None: the whole square.
    n : int
        The samples of the table.
    metric : str
        The metric's name, for the message.

    Returns
    -------
    int or None

    Raises
    ------
    InputError
        ``n_rows`` is not an integer from 1 to ``n - 1``.

    Examples
    --------
    >>> check_block_rows(2, 5, "braycurtis"), check_block_rows(None, 5, "braycurtis")
    (2, None)
    """
    if n_rows is None:
        return None
    if n < 2:
        raise InputError(f"{metric}: a block needs two samples at least; the table has {n}")
    if isinstance(n_rows, bool) or not isinstance(n_rows, numbers.Integral) \
            or not 1 <= int(n_rows) < n:
        raise InputError(f"{metric}: n_rows must be an integer from 1 to {n - 1} (the table "
                         f"has {n} samples); got {n_rows!r}")
    return int(n_rows)
