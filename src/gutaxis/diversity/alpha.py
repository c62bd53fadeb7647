"""Non-phylogenetic alpha diversity.

Metrics: ``observed_features``, ``shannon_entropy``, ``simpson``, ``chao1``,
``pielou_evenness``.

Each kernel takes a samples × features :class:`scipy.sparse.csr_matrix` and
returns one float64 value per sample.  Names are QIIME 2's; the numbers are
scikit-bio's (:mod:`skbio.diversity.alpha`, version 0.7) to 1e-12 relative,
including what an empty sample gives:

=====================  ==========================  =================
metric                 scikit-bio function         empty sample
=====================  ==========================  =================
``observed_features``  ``observed_features``       0
``shannon_entropy``    ``shannon(base=2)``         NaN
``simpson``            ``simpson``                 NaN
``chao1``              ``chao1``                   0
``pielou_evenness``    ``pielou_e``                NaN
=====================  ==========================  =================

The kernels are vectorised over the CSR arrays (``indptr`` / ``data``): a
per-element expression followed by a per-row sum, with no Python loop over
samples.  Explicit zeros in ``data`` are ignored.
"""

from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse as sp

from gutaxis.diversity._registry import register_alpha
from gutaxis.exceptions import InputError

__all__ = ["observed_features", "shannon_entropy", "simpson", "chao1", "pielou_evenness"]


# --------------------------------------------------------------------------- helpers
def _csr(counts: sp.spmatrix | np.ndarray) -> sp.csr_matrix:
    """CSR float64 without explicit zeros (copies only when needed)."""
    x = counts if sp.issparse(counts) else sp.csr_matrix(np.asarray(counts, dtype=np.float64))
    if not isinstance(x, sp.csr_matrix) or x.format != "csr":
        x = sp.csr_matrix(x)
    if x.dtype != np.float64:
        x = x.astype(np.float64)
    if x.data.size and not np.all(x.data != 0):
        x = x.copy()
        x.eliminate_zeros()
    if x.data.size and x.data.min() < 0:
        raise InputError("alpha diversity needs abundances ≥ 0; the table has negative values")
    return x


def _row_ids(x: sp.csr_matrix) -> np.ndarray:
    """Return the row of every stored value."""
    return np.repeat(np.arange(x.shape[0]), np.diff(x.indptr))


def _row_sum(x: sp.csr_matrix, values: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """Σ values per row (0 for empty rows)."""
    if rows is None:
        rows = _row_ids(x)
    return np.bincount(rows, weights=values, minlength=x.shape[0]).astype(np.float64)


def _proportions(x: sp.csr_matrix, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return p = x / row total at every stored value, and the row totals."""
    totals = _row_sum(x, x.data, rows)
    return x.data / totals[rows], totals


def _entropy_nats(x: sp.csr_matrix, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """−Σ p ln p per row (NaN for an empty row) and the richness per row."""
    p, _ = _proportions(x, rows)
    h = _row_sum(x, -p * np.log(p), rows)
    richness = np.diff(x.indptr)
    h[richness == 0] = np.nan
    return h, richness


# --------------------------------------------------------------------------- metrics
@register_alpha("observed_features")
def observed_features(counts: sp.spmatrix) -> np.ndarray:
    """Observed features: the number of features with a non-zero count.

    Parameters
    ----------
    counts : scipy.sparse.csr_matrix
        Samples × features, counts or relative abundances.

    Returns
    -------
    numpy.ndarray
        float64, one value per sample; 0 for an empty sample.

    Notes
    -----
    QIIME 2's ``observed_features`` (scikit-bio ``observed_features`` /
    ``sobs``); exact (an integer count).

    References
    ----------
    .. [1] Magurran, A. E. (2004). *Measuring Biological Diversity*.
       Blackwell, Oxford.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> observed_features(sp.csr_matrix(np.array([[1, 2, 0], [0, 0, 0]])))
    array([2., 0.])
    """
    x = _csr(counts)
    observed: np.ndarray = np.diff(x.indptr).astype(np.float64)
    return observed


@register_alpha("shannon_entropy", options=("base",))
def shannon_entropy(counts: sp.spmatrix, *, base: float = 2.0) -> np.ndarray:
    r"""Shannon entropy: −Σ pᵢ log_b pᵢ, in bits by default (QIIME 2's base 2).

    Parameters
    ----------
    counts : scipy.sparse.csr_matrix
        Samples × features, counts or relative abundances.
    base : float
        Logarithm base, > 0 and ≠ 1.  The default 2 is QIIME 2's
        ``shannon_entropy`` (q2-diversity-lib divides by ``log(2)``).  Note
        that scikit-bio's :func:`~skbio.diversity.alpha.shannon` defaults to
        base *e* since 0.6.1: pass ``base=np.e`` for its default number.

    Returns
    -------
    numpy.ndarray
        float64, one value per sample; NaN for an empty sample (as scikit-bio
        and QIIME 2 give), 0 for a sample with one feature.

    Raises
    ------
    InputError
        ``base`` is not a number > 0 and ≠ 1.

    Notes
    -----
    Computed as :math:`-\sum_i p_i \ln p_i / \ln b` with
    :math:`p_i = x_i / \sum x`, exactly scikit-bio's
    ``shannon(counts, base=b)``; agreement 1e-12 relative (tested).

    References
    ----------
    .. [1] Shannon, C. E. (1948). A mathematical theory of communication.
       *Bell System Technical Journal* 27(3), 379–423.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> shannon_entropy(sp.csr_matrix(np.array([[1, 1, 2, 4], [5, 0, 0, 0]])))
    array([1.75, 0.  ])
    """
    if (isinstance(base, bool) or not isinstance(base, numbers.Real) or not np.isfinite(base)
            or base <= 0 or base == 1):
        raise InputError(f"`base` must be a number > 0 and ≠ 1; got {base!r}.")
    x = _csr(counts)
    h, _ = _entropy_nats(x, _row_ids(x))
    return h / np.log(float(base))


@register_alpha("simpson")
def simpson(counts: sp.spmatrix) -> np.ndarray:
    r"""Gini–Simpson index: 1 − Σ pᵢ², in [0, 1).

    Parameters
    ----------
    counts : scipy.sparse.csr_matrix
        Samples × features, counts or relative abundances.

    Returns
    -------
    numpy.ndarray
        float64, one value per sample; NaN for an empty sample (as scikit-bio).

    Notes
    -----
    QIIME 2's ``simpson`` (q2-diversity-lib: ``1 − skbio dominance``), i.e.
    scikit-bio's :func:`~skbio.diversity.alpha.simpson` with
    ``finite=False``: the probability that two reads drawn *with*
    replacement belong to different features.  Agreement 1e-12 relative.

    References
    ----------
    .. [1] Simpson, E. H. (1949). Measurement of diversity. *Nature* 163,
       688.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> simpson(sp.csr_matrix(np.array([[1, 1, 2], [3, 0, 0]])))  # 1 − (1+1+4)/16
    array([0.625, 0.   ])
    """
    x = _csr(counts)
    rows = _row_ids(x)
    p, totals = _proportions(x, rows)
    d = _row_sum(x, p * p, rows)
    out = 1.0 - d
    out[totals == 0] = np.nan
    return out


@register_alpha("chao1", needs_counts=True, options=("bias_corrected",))
def chao1(counts: sp.spmatrix, *, bias_corrected: bool = True) -> np.ndarray:
    r"""Chao1 richness estimator from singletons and doubletons.

    Parameters
    ----------
    counts : scipy.sparse.csr_matrix
        Samples × features, integer read counts.
    bias_corrected : bool
        Default ``True`` (scikit-bio's and QIIME 2's default): always the
        bias-corrected form.  With ``False`` the classic form is used only
        where a sample has both singletons *and* doubletons, and the
        bias-corrected form elsewhere (it would divide by zero without
        doubletons) — exactly scikit-bio's switch.

    Returns
    -------
    numpy.ndarray
        float64, one value per sample; 0 for an empty sample (as scikit-bio).

    Notes
    -----
    With :math:`S_{obs}` observed features, :math:`F_1` singletons and
    :math:`F_2` doubletons,

    .. math::

       \text{bias-corrected: } S_{obs} + \frac{F_1(F_1 - 1)}{2(F_2 + 1)}
       \qquad
       \text{classic: } S_{obs} + \frac{F_1^2}{2F_2}

    Matches scikit-bio's :func:`~skbio.diversity.alpha.chao1` (QIIME 2's
    ``chao1`` calls it) to 1e-12 relative.  Defined on counts only: the
    driver refuses a relative-abundance table.

    References
    ----------
    .. [1] Chao, A. (1984). Nonparametric estimation of the number of classes
       in a population. *Scandinavian Journal of Statistics* 11(4), 265–270.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> chao1(sp.csr_matrix(np.array([[1, 1, 2, 5], [1, 1, 1, 0]])))  # 4 + 2·1/(2·2); 3 + 3·2/2
    array([4.5, 6. ])
    """
    x = _csr(counts)
    rows = _row_ids(x)
    n = x.shape[0]
    observed = np.diff(x.indptr).astype(np.float64)
    singles = np.bincount(rows[x.data == 1], minlength=n).astype(np.float64)
    doubles = np.bincount(rows[x.data == 2], minlength=n).astype(np.float64)
    corrected: np.ndarray = observed + singles * (singles - 1) / (2 * (doubles + 1))
    if bias_corrected:
        return corrected
    classic = (singles > 0) & (doubles > 0)
    out = corrected
    out[classic] = observed[classic] + singles[classic] ** 2 / (2 * doubles[classic])
    return out


@register_alpha("pielou_evenness")
def pielou_evenness(counts: sp.spmatrix) -> np.ndarray:
    r"""Pielou's evenness J′ = H / ln S (Shannon entropy over its maximum), in [0, 1].

    Parameters
    ----------
    counts : scipy.sparse.csr_matrix
        Samples × features, counts or relative abundances.

    Returns
    -------
    numpy.ndarray
        float64, one value per sample.  A sample with one observed feature
        gives 1.0 and an empty sample NaN (scikit-bio ≥ 0.6's ``pielou_e``).

    Notes
    -----
    Matches scikit-bio's :func:`~skbio.diversity.alpha.pielou_e` to 1e-12
    relative (the ratio does not depend on the logarithm base).  QIIME 2's
    own ``pielou_evenness`` (q2-diversity-lib's in-house copy) computes
    ``H / ln S`` without the special case and so gives NaN (0/0) for a
    sample with one feature, with an option ``drop_undefined_samples``;
    gutaxis follows scikit-bio's convention that a one-feature community is
    perfectly even.

    References
    ----------
    .. [1] Pielou, E. C. (1966). The measurement of diversity in different
       types of biological collections. *Journal of Theoretical Biology* 13,
       131–144.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> pielou_evenness(sp.csr_matrix(np.array([[2, 2, 0], [7, 0, 0], [1, 1, 2]]))).round(6)
    array([1.      , 1.      , 0.946395])
    >>> pielou_evenness(sp.csr_matrix(np.array([[0, 0, 0]])))  # empty sample
    array([nan])
    """
    x = _csr(counts)
    h, richness = _entropy_nats(x, _row_ids(x))
    out = np.full(x.shape[0], np.nan)
    one = richness == 1
    out[one] = 1.0
    many = richness > 1
    out[many] = h[many] / np.log(richness[many])
    return out
