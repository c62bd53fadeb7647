"""PERMDISP: test whether groups of samples differ in their spread (multivariate dispersion)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import pandas as pd

from gutaxis.checks import type_label
from gutaxis.distance import DistanceMatrix
from gutaxis.exceptions import InputError
from gutaxis.ordination import pcoa
from gutaxis.stats._grouping import _check_permutations, _rng, _tested_grouping
from gutaxis.stats._permutations import PermutationDesign, permutation_design
from gutaxis.stats._results import TestResult, make_result

__all__ = ["permdisp"]

Test = Literal["centroid", "median"]

#: Working-memory budget of one chunk of permutations, in float64 elements.
_CHUNK_ELEMENTS = 1 << 22
#: Most permutations evaluated together.
_MAX_CHUNK = 512
#: A permuted F counts as "at least as large" when it is within this relative
#: distance of the observed one (as in :func:`gutaxis.stats.permanova`).
_TIE_RTOL = 1e-9
#: Distances to a centre below this fraction of the data's scale are rounding
#: noise (the centroid of coincident samples) and set to zero; so are sums of
#: squares of the ANOVA below ``n`` times its square.
_ZERO_DISTANCE = 1e-12
#: Spatial median: the Weiszfeld iteration stops when a step is shorter than
#: this fraction of the data's scale (root mean squared distance of the
#: samples to their overall centroid in the PCoA space) ...
_MEDIAN_TOL = 1e-10
#: ... or after this many steps.
_MEDIAN_MAXITER = 2000
#: A sample within this fraction of the scale of the current estimate counts
#: as lying on it (above the rounding noise of distances computed as
#: ``|x|² - 2 x·y + |y|²``, which is about 3e-8 of the scale).
_MEDIAN_COINCIDE = 1e-6


def permdisp(dm: DistanceMatrix, grouping: pd.Series | Any, *, permutations: int = 999,
             seed: int | np.random.Generator | None = None, test: Test = "centroid",
             n_components: int | None = None, subjects: pd.Series | Any = None) -> TestResult:
    r"""Test for homogeneity of multivariate dispersions (PERMDISP).

    Parameters
    ----------
    dm : DistanceMatrix
        Distances between ``n`` samples.
    grouping : pandas.Series or array_like
        The group of every sample, as for
        :func:`gutaxis.stats.permanova`: a Series is matched to ``dm.ids`` by
        its index (extra ids ignored), any other 1-D array-like is taken in
        ``dm.ids`` order; missing labels are refused.
    permutations : int
        Number of random relabellings for the p-value (``>= 0``; 0 gives a
        NaN p-value).
    seed : int, numpy.random.Generator or None
        Seed (or generator) for the permutations; ``None`` draws fresh
        entropy from the operating system.
    test : {"centroid", "median"}
        The centre of each group: its centroid (mean), or its spatial
        (geometric) median, which is more robust to outlying samples.
    n_components : int or None
        PCoA axes to use.  ``None`` (the default, as in Anderson 2006) uses
        every axis with a positive eigenvalue; an integer uses only that many
        leading axes (scikit-bio's ``permdisp`` uses 10 unless told
        otherwise).
    subjects : pandas.Series or array_like, optional
        The subject of every sample; the permutations then respect it, as in
        :func:`gutaxis.stats.permanova`.

    Returns
    -------
    TestResult
        ``method="PERMDISP"``, ``statistic_name="F"``,
        ``effect_size_name="eta_squared"``; ``extra`` holds
        ``mean_distance`` (group → mean distance of its samples to its
        centre), ``group_sizes`` (group → size), ``test``, ``df_between``,
        ``df_within``, ``n_axes`` (PCoA axes used), ``permutation_design``
        and, for a named Series, ``grouping``.  Group labels are strings.

    Raises
    ------
    NotFoundError
        A sample of ``dm`` is not in the index of the grouping Series.
    InputError
        Fewer than two groups, every group of size one, missing labels, a
        grouping of the wrong length, an unknown ``test``, a bad
        ``permutations``/``seed``/``n_components``, a sample without a
        subject, or a design that cannot be permuted honestly.

    Notes
    -----
    Anderson's (2006) [1]_ distance-based test of homogeneity of
    dispersions, the multivariate analogue of Levene's test.  The samples
    are placed in Euclidean space by principal coordinate analysis
    (:func:`gutaxis.ordination.pcoa`) on every axis with a positive
    eigenvalue; the distance :math:`z_{i}` of each sample to the centre
    :math:`c_k` of its group (centroid, or spatial median) is computed there,
    and the statistic is the F of a one-way ANOVA of these distances on the
    groups:

    .. math::
        F = \frac{\sum_k n_k (\bar z_k - \bar z)^2 / (g - 1)}
                 {\sum_k \sum_{i \in k} (z_{i} - \bar z_k)^2 / (N - g)}.

    The p-value is :math:`(1 + \#\{F^\pi \ge F\}) / (1 + \text{permutations})`
    over random relabellings :math:`\pi` of the samples (the distances to
    the centres recomputed for each), with a relative tolerance of 1e-9 for
    ties.  ``F`` is infinite when the distances are equal within every group
    but differ between groups, and NaN when they are all equal (e.g. every
    sample on its group's centre); distances, and root mean squared
    deviations of them, below 1e-12 of the data's scale (defined below) are
    taken as rounding error and count as 0.  The effect
    size is :math:`\eta^2 = SS_\text{between} / (SS_\text{between} +
    SS_\text{within})` of that ANOVA — the share of the variation of the
    distances-to-centre that the groups explain — not a measure of how far
    apart the groups are (that is PERMANOVA's R²).

    *Negative eigenvalues.*  Non-Euclidean distances (Bray–Curtis...) have
    axes with negative eigenvalues; as in scikit-bio they are left out.
    (vegan's ``betadisper`` [2]_ instead subtracts their contribution,
    following Anderson (2006), so its F differs for such distances.)

    *Spatial median.*  The point minimising the sum of Euclidean distances
    to the group's samples, found by the Weiszfeld iteration with Vardi and
    Zhang's modification for estimates that coincide with a sample [3]_,
    started at the centroid and stopped when a step is shorter than 1e-10
    of the data's scale (the root mean squared distance of the samples to
    their centroid), or after 2,000 steps.  A sample within 1e-6 of the
    scale of the estimate counts as lying on it; when the median is such a
    sample (Vardi and Zhang's criterion), the estimate is moved exactly onto
    it.

    *Agreement with scikit-bio.*  With ``n_components=None`` the F equals
    that of ``skbio.stats.distance.permdisp(..., dimensions=len(dm))``;
    with ``n_components=k``, that of ``dimensions=k`` (scikit-bio's default
    is 10 axes).  For the centroid the agreement is to rounding; for the
    median it is as close as scikit-bio's own iteration (an absolute 1e-7
    stopping step) allows, typically 1e-7 relative.  Note that scikit-bio's
    default ``test`` is ``"median"``; here it is ``"centroid"``.  The
    permutations are drawn as scikit-bio draws them (one
    ``rng.permutation(codes)`` each from ``numpy.random.default_rng(seed)``),
    so with the same integer seed the p-values are the same.

    *Speed.*  One PCoA (a full eigendecomposition, ``O(n³)``), then the
    permutations in chunks, vectorised across each chunk with NumPy:
    group centres by matrix products with one-hot group matrices and
    distances as :math:`\lVert x\rVert^2 - 2 x \cdot c + \lVert c\rVert^2`,
    ``O(n · axes · groups)`` per permutation (times the number of
    Weiszfeld steps for the median).

    References
    ----------
    .. [1] Anderson, M. J. (2006). Distance-based tests for homogeneity of
       multivariate dispersions. *Biometrics* 62(1), 245–253.
       doi:10.1111/j.1541-0420.2005.00440.x
    .. [2] Oksanen, J. et al. vegan: Community Ecology Package
       (``betadisper``). https://CRAN.R-project.org/package=vegan
    .. [3] Vardi, Y. & Zhang, C.-H. (2000). The multivariate L1-median and
       associated data depth. *PNAS* 97(4), 1423–1426.
       doi:10.1073/pnas.97.4.1423

    Examples
    --------
    Points on a line: group ``u`` spread over 0–2, group ``v`` over 10–16.

    >>> import numpy as np
    >>> from gutaxis import DistanceMatrix
    >>> x = np.array([0.0, 1.0, 2.0, 10.0, 13.0, 16.0])
    >>> dm = DistanceMatrix(list("abcdef"), np.abs(x[:, None] - x[None, :]))
    >>> res = permdisp(dm, ["u", "u", "u", "v", "v", "v"], permutations=99, seed=1)
    >>> {k: round(v, 4) for k, v in res.extra["mean_distance"].items()}
    {'u': 0.6667, 'v': 2.0}
    >>> round(res.statistic, 4), round(res.effect_size, 4)
    (1.6, 0.2857)
    """
    if not isinstance(dm, DistanceMatrix):
        raise InputError(f"permdisp takes a gutaxis DistanceMatrix; got {type_label(dm)}")
    if test not in ("centroid", "median"):
        raise InputError(f"unknown PERMDISP test {test!r}; valid tests are: centroid, median")
    codes, labels, name, sizes = _tested_grouping(dm, grouping, "PERMDISP",
                                                  why_two="dispersion to compare")
    n, g = len(codes), len(labels)
    n_perm = _check_permutations(permutations)
    rng = _rng(seed)
    design = permutation_design(pd.Index(dm.ids), codes, subjects, "PERMDISP")
    if n_components is not None and (isinstance(n_components, bool)
                                     or not isinstance(n_components, int | np.integer)
                                     or not 1 <= n_components <= n):
        raise InputError(f"n_components must be None or an integer between 1 and the number "
                         f"of samples ({n}); got {n_components!r}")
    x = _coordinates(dm, n_components)
    scale = math.sqrt(float(np.einsum("ij,ij->", x, x)) / n)
    centres = _centres(x, codes[None, :], sizes, test, scale, direct=True)
    diff = x - centres[0, codes]
    z = np.sqrt(np.einsum("nd,nd->n", diff, diff))
    z[z <= _ZERO_DISTANCE * scale] = 0.0  # a sample on its centre, up to rounding
    f_obs, ssb, ssw = _anova(z[None, :], codes[None, :], sizes,
                             n * (_ZERO_DISTANCE * scale) ** 2)
    stat = float(f_obs[0])
    total = float(ssb[0] + ssw[0])
    eta2 = float(ssb[0]) / total if total > 0 else math.nan

    if n_perm == 0 or math.isnan(stat):
        p = math.nan
    else:
        f_all = _permuted_f(x, codes, sizes, n_perm, rng, test, scale, design)
        ref, perm = f_all[0], f_all[1:]
        if math.isnan(ref):  # rounding in the permutation kernel; not seen in practice
            ref = stat
        if math.isfinite(ref):
            hits = int(np.count_nonzero(perm >= ref - _TIE_RTOL * abs(ref)))
        else:
            hits = int(np.count_nonzero(perm == ref))
        p = (hits + 1) / (n_perm + 1)

    means = np.bincount(codes, weights=z, minlength=g) / sizes
    extra: dict[str, Any] = {
        "mean_distance": {str(lab): float(m) for lab, m in zip(labels, means, strict=True)},
        "group_sizes": {str(lab): int(s) for lab, s in zip(labels, sizes, strict=True)},
        "test": test,
        "df_between": g - 1,
        "df_within": n - g,
        "n_axes": int(x.shape[1]),
        "permutation_design": design.to_dict(),
    }
    if name is not None:
        extra["grouping"] = str(name)
    return make_result(method="PERMDISP", statistic_name="F", statistic=stat, p_value=p,
                       permutations=n_perm, n=n, n_groups=g, effect_size=eta2,
                       effect_size_name="eta_squared", extra=extra)


# --------------------------------------------------------------------- helpers
def _coordinates(dm: DistanceMatrix, n_components: int | None) -> np.ndarray:
    """PCoA coordinates on the positive axes (at least one column, maybe of zeros)."""
    ordination = pcoa(dm, n_components=None if n_components is None else int(n_components),
                      method="eigh", warn_negative=False)
    x = ordination.coordinates[:, ordination.eigenvalues > 0]
    if x.shape[1] == 0:  # every distance zero (or no positive axis kept)
        x = np.zeros((len(dm), 1))
    return np.ascontiguousarray(x)


def _one_hot(labels: np.ndarray, g: int) -> np.ndarray:
    """``P × g × n`` indicator of the groups of ``P`` labellings (``P × n``)."""
    n_rows, n = labels.shape
    m = np.zeros((n_rows, g, n))
    m[np.arange(n_rows)[:, None], labels, np.arange(n)[None, :]] = 1.0
    return m


def _anova(z: np.ndarray, labels: np.ndarray, sizes: np.ndarray,
           floor: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One-way ANOVA F (and the two sums of squares) of each row of ``z``.

    Sums of squares up to ``floor`` are rounding noise and count as zero.
    """
    n_rows, n = z.shape
    g = sizes.shape[-1]
    flat = (labels + g * np.arange(n_rows)[:, None]).ravel()
    sums = np.bincount(flat, weights=z.ravel(), minlength=n_rows * g).reshape(n_rows, g)
    means = sums / sizes
    grand = sums.sum(axis=1, keepdims=True) / n
    ssb = ((means - grand) ** 2 * sizes).sum(axis=1)
    resid = z - np.take_along_axis(means, labels, axis=1)
    ssw = np.einsum("pn,pn->p", resid, resid)
    ssb = np.where(ssb <= floor, 0.0, ssb)
    ssw = np.where(ssw <= floor, 0.0, ssw)
    with np.errstate(divide="ignore", invalid="ignore"):
        f = (ssb / (g - 1)) / (ssw / (n - g))
    # exact zeros: all distances equal within groups
    f = np.where(ssw == 0, np.where(ssb == 0, np.nan, np.inf), f)
    return f, ssb, ssw


def _centres(x: np.ndarray, labels: np.ndarray, sizes: np.ndarray, test: str, scale: float,
             *, direct: bool) -> np.ndarray:
    """Group centres ``P × g × axes`` for ``P`` labellings (rows of ``labels``).

    ``direct=True`` computes sample–centre distances from the differences
    (exact; for a few labellings), otherwise through dot products.
    """
    g = sizes.shape[-1]
    onehot = _one_hot(labels, g)
    centroids: np.ndarray = (onehot @ x) / np.atleast_2d(sizes)[:, :, None]
    if test == "centroid":
        return centroids
    sq = np.einsum("nd,nd->n", x, x)

    def distances(y: np.ndarray) -> np.ndarray:
        """Distance of every sample to its group's current estimate, ``P × n``."""
        if direct:
            diff = x[None, :, :] - np.take_along_axis(y, labels[:, :, None], axis=1)
            dist: np.ndarray = np.sqrt(np.einsum("pnd,pnd->pn", diff, diff))
            return dist
        return _expanded_distances(x, sq, y, labels)

    return _weiszfeld(x, onehot, centroids, distances, scale)


def _expanded_distances(x: np.ndarray, sq: np.ndarray, y: np.ndarray,
                        labels: np.ndarray) -> np.ndarray:
    """``|x_i - y_{p, label_pi}|`` as ``sqrt(|x|² - 2 x·y + |y|²)``, ``P × n``."""
    dots = y @ x.T  # P × g × n
    own = np.take_along_axis(dots, labels[:, None, :], axis=1)[:, 0, :]
    yy = np.einsum("pgd,pgd->pg", y, y)
    d2 = sq[None, :] - 2.0 * own + np.take_along_axis(yy, labels, axis=1)
    dist: np.ndarray = np.sqrt(np.maximum(d2, 0.0))
    return dist


def _weiszfeld(x: np.ndarray, onehot: np.ndarray, start: np.ndarray,
               distances: Callable[[np.ndarray], np.ndarray], scale: float) -> np.ndarray:
    """Spatial medians of every (labelling, group), by the modified Weiszfeld iteration.

    For the current estimate ``y`` of a group with samples ``x_i``: weights
    ``w_i = 1/|x_i - y|`` over the samples not on ``y``, their weighted mean
    ``T``, ``η`` the number of samples on ``y``, ``R = (T - y) Σ w_i`` and
    ``y ← (1 - min(1, η/|R|)) T + min(1, η/|R|) y`` (Vardi & Zhang 2000).
    When ``η ≥ |R|`` the sample(s) on ``y`` are the median, and ``y`` is moved
    exactly onto (the mean of) them.  Every (labelling, group) stops on its
    own when its step is short enough.
    """
    y = start.copy()
    if scale == 0.0:
        return y
    tol = _MEDIAN_TOL * scale
    eps = _MEDIAN_COINCIDE * scale
    active = np.ones(y.shape[:2], dtype=bool)
    for _ in range(_MEDIAN_MAXITER):
        d = distances(y)
        on = d <= eps
        w = np.where(on, 0.0, 1.0 / np.where(on, 1.0, d))
        w_sum = np.einsum("pgn,pn->pg", onehot, w)
        n_on = np.einsum("pgn,pn->pg", onehot, on.astype(np.float64))
        with np.errstate(divide="ignore", invalid="ignore"):
            t = ((onehot * w[:, None, :]) @ x) / w_sum[:, :, None]
            r = np.sqrt(np.einsum("pgd,pgd->pg", t - y, t - y)) * w_sum
            gamma = np.where(n_on > 0, np.minimum(1.0, n_on / r), 0.0)
        gamma = np.where(np.isnan(gamma), 1.0, gamma)  # r == 0 with samples on y
        new = (1.0 - gamma)[:, :, None] * t + gamma[:, :, None] * y
        # γ = 1: the sample(s) on the estimate are the median; move onto them exactly
        at_sample = (gamma >= 1.0) & (n_on > 0)
        if at_sample.any():
            with np.errstate(divide="ignore", invalid="ignore"):
                on_mean = ((onehot * on[:, None, :]) @ x) / n_on[:, :, None]
            new = np.where(at_sample[:, :, None], on_mean, new)
        stuck = w_sum == 0  # every sample on the estimate: it is the median
        new = np.where((stuck | ~active)[:, :, None], y, new)
        step = np.sqrt(np.einsum("pgd,pgd->pg", new - y, new - y))
        y = new
        active &= step > tol
        if not active.any():
            break
    return y


def _permuted_f(x: np.ndarray, codes: np.ndarray, sizes: np.ndarray, n_perm: int,
                rng: np.random.Generator, test: str, scale: float,
                design: PermutationDesign) -> np.ndarray:
    """F of the observed grouping (first), then of ``n_perm`` relabellings ``design`` allows.

    Under a whole-subject design the group sizes change between relabellings.
    """
    n, dims = x.shape
    g = len(sizes)
    per_row = 3 * g * n + 2 * g * dims + 4 * n
    width = int(max(1, min(_MAX_CHUNK, _CHUNK_ELEMENTS // per_row, n_perm + 1)))
    sq = np.einsum("nd,nd->n", x, x)
    out = np.empty(n_perm + 1)
    buf = np.empty((width, n), dtype=np.intp)
    for start in range(0, n_perm + 1, width):
        stop = min(start + width, n_perm + 1)
        for row, i in enumerate(range(start, stop)):
            if i > 0:
                # free design: rng.shuffle on a copy of ``codes`` == rng.permutation(codes)
                design.relabel(codes, rng, buf[row])
            else:
                buf[row] = codes
        labels = buf[: stop - start]
        rows = len(labels)
        if design.kind == "whole subjects":
            flat = (labels + g * np.arange(rows)[:, None]).ravel()
            chunk_sizes = np.bincount(flat, minlength=rows * g).reshape(rows, g)
        else:
            chunk_sizes = sizes
        centres = _centres(x, labels, chunk_sizes, test, scale, direct=False)
        z = _expanded_distances(x, sq, centres, labels)
        out[start:stop] = _anova(z, labels, chunk_sizes)[0]
    return out
