"""Registries of diversity metrics, looked up by their QIIME 2 names.

Kernel modules register with :func:`register_alpha` / :func:`register_beta`;
drivers look metrics up with :func:`get_alpha_metric` / :func:`get_beta_metric`
so that an unknown name is answered with the list of valid ones.

Kernel contract
---------------
alpha : ``func(counts, **options) -> ndarray`` of length ``n_samples``
beta  : ``func(counts, **options) -> ndarray`` of shape ``n_samples × n_samples``
        (symmetric, zero diagonal, float64)

``counts`` is a samples × features :class:`scipy.sparse.csr_matrix` (float64
data; integers for count metrics).  Metrics with ``needs_tree`` also receive
``tree=`` (a :class:`gutaxis.tree.Tree`) and ``feature_ids=`` (the column ids).
Only the options named in ``options`` are passed on.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from gutaxis.exceptions import UnknownMetricError

__all__ = [
    "Metric",
    "register_alpha",
    "register_beta",
    "get_alpha_metric",
    "get_beta_metric",
    "alpha_metrics",
    "beta_metrics",
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
    """

    name: str
    func: Callable[..., Any]
    needs_tree: bool = False
    needs_counts: bool = False
    options: tuple[str, ...] = ()
    summary: str = ""


_ALPHA: dict[str, Metric] = {}
_BETA: dict[str, Metric] = {}


def _register(table: dict[str, Metric], name: str, **kw: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        if name in table:
            raise RuntimeError(f"metric {name!r} registered twice")
        summary = kw.pop("summary", None) or (func.__doc__ or "").strip().splitlines()[0]
        table[name] = Metric(name=name, func=func, summary=summary, **kw)
        return func

    return decorator


def register_alpha(name: str, *, needs_tree: bool = False, needs_counts: bool = False,
                   options: tuple[str, ...] = (), summary: str = "") -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: register an alpha-diversity kernel under ``name``."""
    return _register(_ALPHA, name, needs_tree=needs_tree, needs_counts=needs_counts,
                     options=options, summary=summary)


def register_beta(name: str, *, needs_tree: bool = False, needs_counts: bool = False,
                  options: tuple[str, ...] = (), summary: str = "") -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: register a beta-diversity kernel under ``name``."""
    return _register(_BETA, name, needs_tree=needs_tree, needs_counts=needs_counts,
                     options=options, summary=summary)


def get_alpha_metric(name: str) -> Metric:
    """The alpha metric called ``name``; :class:`UnknownMetricError` lists valid names."""
    try:
        return _ALPHA[name]
    except KeyError:
        raise UnknownMetricError(name, _ALPHA, "alpha") from None


def get_beta_metric(name: str) -> Metric:
    """The beta metric called ``name``; :class:`UnknownMetricError` lists valid names."""
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
