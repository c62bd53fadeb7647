"""Spearman rank correlations between many variables at once (markers × taxa)."""

from __future__ import annotations

import operator
from typing import Any

import numpy as np
import pandas as pd
import scipy.special
import scipy.stats

from gutaxis.exceptions import InputError, SampleMismatchError, ValidationError

__all__ = ["spearman_pairs"]


def spearman_pairs(a: pd.DataFrame, b: pd.DataFrame | None = None, *,
                   min_n: int = 5) -> pd.DataFrame:
    r"""Spearman rank correlation of every pair of columns.

    Parameters
    ----------
    a : pandas.DataFrame
        Samples × variables (numeric; NaN marks a missing value), indexed by
        sample id.
    b : pandas.DataFrame, optional
        A second samples × variables table.  Rows are matched to ``a`` by
        sample id; samples in only one of the two are ignored.  When
        omitted, the columns of ``a`` are correlated with each other.
    min_n : int
        Fewest complete observations a pair needs (``>= 3``; default 5).

    Returns
    -------
    pandas.DataFrame
        One row per pair, with columns ``a`` and ``b`` (the column labels),
        ``rho``, ``p`` (two-sided) and ``n`` (complete observations used).
        With ``b``: every column of ``a`` against every column of ``b``, in
        the order ``(a_0, b_0), (a_0, b_1), ...``.  Without: every unordered
        pair of columns of ``a`` once, ``(a_i, a_j)`` with ``i < j``.
        ``rho`` and ``p`` are NaN when ``n < min_n`` or when one of the two
        columns is constant on those observations.  No multiple-testing
        correction is applied: pass ``p`` to
        :func:`gutaxis.stats.group_tests.bh_adjust`.

    Raises
    ------
    InputError
        ``a`` or ``b`` is not a DataFrame, has duplicated column names or
        sample ids, or ``min_n`` is not an integer ``>= 3``.
    ValidationError
        A column is not numeric.
    SampleMismatchError
        ``a`` and ``b`` share no sample id.

    Notes
    -----
    For each pair, on the rows where both values are present
    (pairwise-complete observations), the values are ranked (ties get the
    average of their ranks) and :math:`\rho` is the Pearson correlation of
    the ranks [1]_.  The p-value is from the t-distribution with
    :math:`n - 2` degrees of freedom,

    .. math::
        t = \rho \sqrt{\frac{n - 2}{(1 + \rho)(1 - \rho)}},

    as :func:`scipy.stats.spearmanr` computes it; the agreement with
    ``spearmanr`` on the complete observations of each pair is to rounding.
    When the ranks agree perfectly, :math:`|\rho| = 1` and ``p = 0`` (where
    scipy's rounding may give :math:`|\rho| = 1 - 10^{-16}` and a tiny
    positive p).

    *Speed.*  Columns are grouped by their pattern of missing values; for
    each pair of patterns (one from ``a``, one from ``b``) the rows present
    in both are ranked once for all the columns of the two groups, and the
    correlations are a matrix product of the centred, normalised ranks.
    With markers that have a few patterns and a table of taxa without
    missing values, that is one ranking of the taxa per marker pattern.

    References
    ----------
    .. [1] Spearman, C. (1904). The proof and measurement of association
       between two things. *American Journal of Psychology* 15(1), 72–101.
       doi:10.2307/1412159

    Examples
    --------
    >>> import pandas as pd
    >>> markers = pd.DataFrame({"crp": [1.0, 2.0, 3.0, 4.0, 5.0, None]},
    ...                        index=list("abcdef"))
    >>> taxa = pd.DataFrame({"Bacteroides": [10, 30, 20, 40, 50, 60],
    ...                      "Prevotella": [5, 4, 3, 2, 1, 0]}, index=list("abcdef"))
    >>> spearman_pairs(markers, taxa).round(3)
         a            b  rho      p  n
    0  crp  Bacteroides  0.9  0.037  5
    1  crp   Prevotella -1.0  0.000  5
    """
    n_min = _check_min_n(min_n)
    a = _check_frame(a, "a")
    if b is None:
        values = a.to_numpy(dtype=np.float64, na_value=np.nan)
        rho, n = _pairwise(values, values, n_min, same=True)
        i, j = np.triu_indices(values.shape[1], k=1)
        cols = a.columns
        return _table(cols[i], cols[j], rho[i, j], n[i, j])
    b = _check_frame(b, "b")
    common = a.index.intersection(b.index, sort=False)
    if len(common) == 0:
        raise SampleMismatchError(
            f"a and b share no sample id (a has {len(a.index)} samples, e.g. "
            f"{a.index[:3].tolist()}; b has {len(b.index)}, e.g. {b.index[:3].tolist()}); "
            "rows are matched by index")
    va = a.loc[common].to_numpy(dtype=np.float64, na_value=np.nan)
    vb = b.loc[common].to_numpy(dtype=np.float64, na_value=np.nan)
    rho, n = _pairwise(va, vb, n_min, same=False)
    ka, kb = rho.shape
    return _table(np.repeat(a.columns.to_numpy(), kb), np.tile(b.columns.to_numpy(), ka),
                  rho.ravel(), n.ravel())


# --------------------------------------------------------------------- helpers
def _pairwise(va: np.ndarray, vb: np.ndarray, n_min: int,
              *, same: bool) -> tuple[np.ndarray, np.ndarray]:
    """Spearman ρ (NaN where undefined) and n for every column of ``va`` × ``vb``.

    ``same=True`` (``va is vb``) computes each pair of missing-value patterns
    once and fills both triangles.
    """
    ka, kb = va.shape[1], vb.shape[1]
    rho = np.full((ka, kb), np.nan)
    n = np.zeros((ka, kb), dtype=np.int64)
    pat_a, groups_a = _patterns(va)
    pat_b, groups_b = (pat_a, groups_a) if same else _patterns(vb)
    for ia, (mask_a, cols_a) in enumerate(zip(pat_a, groups_a, strict=True)):
        for ib, (mask_b, cols_b) in enumerate(zip(pat_b, groups_b, strict=True)):
            if same and ib < ia:
                continue
            rows = mask_a & mask_b
            m = int(rows.sum())
            n[np.ix_(cols_a, cols_b)] = m
            if same:
                n[np.ix_(cols_b, cols_a)] = m
            if m < n_min:
                continue
            za = _unit_ranks(va[np.ix_(rows, cols_a)])
            zb = za if same and ia == ib else _unit_ranks(vb[np.ix_(rows, cols_b)])
            block = np.clip(za.T @ zb, -1.0, 1.0)
            rho[np.ix_(cols_a, cols_b)] = block
            if same:
                rho[np.ix_(cols_b, cols_a)] = block.T
    return rho, n


def _patterns(values: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Distinct missing-value patterns (row masks) and the columns having each."""
    present = ~np.isnan(values)
    if present.shape[1] == 0:
        return [], []
    unique, inverse = np.unique(present.T, axis=0, return_inverse=True)
    inverse = np.ravel(inverse)
    return [u for u in unique], [np.flatnonzero(inverse == k) for k in range(len(unique))]


def _unit_ranks(block: np.ndarray) -> np.ndarray:
    """Average ranks of each column, centred and scaled to unit norm (NaN if constant)."""
    ranks: np.ndarray = scipy.stats.rankdata(block, axis=0)
    ranks -= ranks.mean(axis=0)
    norms = np.sqrt(np.einsum("ij,ij->j", ranks, ranks))
    # ranks are multiples of 1/2 centred on a multiple of 1/2: a constant
    # column is exactly zero
    scale = np.where(norms > 0, norms, np.nan)
    return ranks / scale


def _table(col_a: Any, col_b: Any, rho: np.ndarray, n: np.ndarray) -> pd.DataFrame:
    df = (n - 2).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = rho * np.sqrt(np.clip(df / ((1.0 + rho) * (1.0 - rho)), 0.0, None))
        p = 2.0 * scipy.special.stdtr(df, -np.abs(t))
    p = np.where(np.isnan(rho), np.nan, np.minimum(p, 1.0))
    return pd.DataFrame({"a": np.asarray(col_a, dtype=object),
                         "b": np.asarray(col_b, dtype=object),
                         "rho": rho, "p": p, "n": n.astype(np.int64)})


def _check_min_n(min_n: Any) -> int:
    if isinstance(min_n, bool):
        raise InputError(f"min_n must be an integer >= 3; got {min_n!r}")
    try:
        value = operator.index(min_n)
    except TypeError:
        raise InputError(f"min_n must be an integer >= 3; got {min_n!r}") from None
    if value < 3:
        raise InputError(f"min_n must be an integer >= 3 (the t-test of ρ has n - 2 degrees "
                         f"of freedom); got {value}")
    return value


def _check_frame(frame: Any, name: str) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"{name} must be a pandas DataFrame (samples × variables); "
                         f"got {type(frame).__name__}")
    if frame.columns.has_duplicates:
        dupes = frame.columns[frame.columns.duplicated()].unique().tolist()
        raise InputError(f"{name} has duplicated column names: " + ", ".join(map(repr, dupes)))
    if frame.index.has_duplicates:
        dupes = frame.index[frame.index.duplicated()].unique().tolist()
        raise InputError(f"{name} has duplicated sample ids in its index: "
                         + ", ".join(map(repr, dupes[:10])))
    bad = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c].dtype)]
    if bad:
        raise ValidationError(f"every column of {name} must be numeric; got non-numeric "
                              f"column(s): " + ", ".join(map(repr, bad[:10])))
    return frame
