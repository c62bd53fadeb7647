"""Kernels of :func:`gutaxis.stats.linda`: zeros and CLR, contrasts, the bias and its error.

Arrays in, arrays out; the driver in :mod:`gutaxis.stats.linda` handles the
samples, the design and the table.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
from scipy import special

from gutaxis.stats._linear import LeastSquares, least_squares, meanshift_mode, meanshift_modes

__all__ = ["clr_log2", "depth_association", "Contrast", "contrasts", "bias_covariance",
           "contrast_tests", "omnibus", "PSEUDO_COUNT", "DEPTH_P"]

#: Pseudo-count added to every count when the table has zeros (LinDA's default).
PSEUDO_COUNT = 0.5
#: Depth–design association (smallest p) at or below which zeros of counts are
#: imputed instead (LinDA's ``corr.cut``).
DEPTH_P = 0.1


def clr_log2(values: np.ndarray, *, kind: str, zero_handling: str,
             depth_p: float | None = None) -> tuple[np.ndarray, str]:
    """Zeros replaced, then the base-2 centred log-ratio of each row; and what was done.

    Parameters
    ----------
    values : numpy.ndarray
        Samples × tested taxa, non-negative, no empty row.
    kind : {"counts", "relative"}
    zero_handling : {"auto", "pseudo-count", "imputation", "half-minimum"}
        ``"auto"``: for counts, ``"imputation"`` when ``depth_p ≤ 0.1``
        (sequencing depth associated with the model), ``"pseudo-count"``
        otherwise (LinDA's adaptive rule); for proportions ``"half-minimum"``.
    depth_p : float, optional
        Smallest p-value of the design's coefficients for the log depth.

    Returns
    -------
    clr : numpy.ndarray
        Same shape, each row summing to 0.
    used : str
        ``"pseudo-count 0.5"``, ``"imputation"``, ``"half-minimum"`` or
        ``"none (no zeros)"``.
    """
    x = np.array(values, dtype=np.float64)
    zeros = x == 0
    if not zeros.any():
        used = "none (no zeros)"
    else:
        if zero_handling == "auto":
            zero_handling = ("half-minimum" if kind == "relative" else
                             "imputation" if depth_p is not None and depth_p <= DEPTH_P
                             else "pseudo-count")
        if zero_handling == "pseudo-count":
            x += PSEUDO_COUNT
            used = f"pseudo-count {PSEUDO_COUNT:g}"
        elif zero_handling == "imputation":
            # each zero becomes its sample's depth over the largest depth among the
            # samples where that taxon is zero: the same proportion in every such sample
            depth = x.sum(axis=1)
            largest = np.where(zeros, depth[:, None], 0.0).max(axis=0)
            x = np.where(zeros, depth[:, None] / np.where(largest > 0, largest, 1.0), x)
            used = "imputation"
        else:  # half-minimum: half the smallest non-zero value of the same sample
            smallest = np.where(zeros, np.inf, x).min(axis=1)
            x = np.where(zeros, 0.5 * smallest[:, None], x)
            used = "half-minimum"
    logs = np.log2(x)
    return logs - logs.mean(axis=1, keepdims=True), used


@dataclasses.dataclass(frozen=True)
class Contrast:
    """One contrast: ``vector`` picks (a combination of) the model's coefficients."""

    name: str
    vector: np.ndarray
    higher: str | None = None  # the group for effect > 0
    lower: str | None = None  # the group for effect < 0


def bias_covariance(fit: LeastSquares, vectors: np.ndarray, *, draws: int,
                     rng: np.random.Generator) -> np.ndarray:
    """Return the covariance of the biases (modes) of the contrasts ``vectors`` (q × k).

    Each draw gives every taxon coefficient errors from ``N(0, σ̂_j² (XᵀX)⁻¹)``,
    independently across taxa — the noise of the fit with no taxon changing —
    and takes the mode of each contrast across taxa, as for the data.  The
    spread of those modes is the error of the bias estimate.
    """
    n_taxa = fit.coef.shape[1]
    chol = np.linalg.cholesky(fit.xtx_inv)
    errors = rng.standard_normal((draws, n_taxa, chol.shape[0])) @ chol.T
    errors *= np.sqrt(fit.sigma2)[None, :, None]
    per_contrast = (errors @ vectors.T).transpose(0, 2, 1)  # draws × q × taxa
    modes = meanshift_modes(per_contrast.reshape(-1, n_taxa)).reshape(draws, len(vectors))
    return np.atleast_2d(np.cov(modes, rowvar=False))


def contrast_tests(fit: LeastSquares, contrast: Contrast, bias_variance: float
                   ) -> tuple[float, dict[str, np.ndarray]]:
    """One contrast for every taxon: its bias (mode), and the bias-corrected tests.

    The variance of a corrected estimate is the model's, ``σ̂_j² cᵀ(XᵀX)⁻¹c``,
    plus ``bias_variance`` (0: the bias taken as known, as LinDA does).
    """
    c = contrast.vector
    estimate = c @ fit.coef
    bias = meanshift_mode(estimate)
    effect = estimate - bias
    se = np.sqrt(fit.sigma2 * float(c @ fit.xtx_inv @ c) + bias_variance)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = effect / se
    p = 2.0 * special.stdtr(fit.df, -np.abs(t))
    half = special.stdtrit(fit.df, 0.975) * se
    return bias, {"effect": effect, "se": se, "ci_low": effect - half,
                  "ci_high": effect + half, "statistic": t, "p": p}


def omnibus(fit: LeastSquares, columns: Sequence[int], biases: Sequence[float],
             bias_covariance: np.ndarray) -> dict[str, np.ndarray]:
    """F test that every group coefficient is 0, on the bias-corrected coefficients.

    ``F = b̃ᵀ V⁻¹ b̃ / r`` with ``b̃`` the ``r`` group coefficients less their
    biases and ``V = σ̂² L(XᵀX)⁻¹Lᵀ + bias_covariance``, on ``r`` and ``df``
    degrees of freedom.  With a zero ``bias_covariance`` this is LinDA's
    ``linda.wald.test`` for a linear model.
    """
    idx = list(columns)
    r = len(idx)
    corrected = (fit.coef[idx] - np.asarray(biases, dtype=np.float64)[:, None]).T  # D × r
    cov = (fit.sigma2[:, None, None] * fit.xtx_inv[np.ix_(idx, idx)][None]
           + bias_covariance[None])
    with np.errstate(divide="ignore", invalid="ignore"):
        solved = np.linalg.solve(cov, corrected[:, :, None])[:, :, 0]
        f = np.einsum("jr,jr->j", corrected, solved) / r
    return {"statistic": f, "p": special.fdtrc(r, fit.df, f)}


def depth_association(log_depth: np.ndarray, design: np.ndarray, names: Sequence[str],
                      df: int) -> float:
    """Return the smallest p-value of the log depth on the design (intercept aside).

    ``log_depth`` and ``design`` are the model's rows (subject means or
    centred within subject, as the data); ``df`` the residual degrees of
    freedom.  LinDA's adaptive rule imputes zeros when this is ≤ :data:`DEPTH_P`.
    """
    fit = least_squares(design, log_depth[:, None], df=df)
    first = 1 if "intercept" in names else 0
    se = np.sqrt(fit.sigma2[0] * np.diag(fit.xtx_inv)[first:])
    with np.errstate(divide="ignore", invalid="ignore"):
        t = fit.coef[first:, 0] / se
    return float(np.nanmin(2.0 * special.stdtr(df, -np.abs(t)), initial=1.0))


def contrasts(variable: str, levels: Sequence[str], positions: Sequence[int], k: int
              ) -> list[Contrast]:
    """Return the contrasts of a variable whose coefficients are at ``positions`` of ``k``.

    A continuous variable (no ``levels``): its slope.  Groups: each against
    the reference (``levels[0]``), then every other pair, later level first.
    """
    unit = np.eye(k)
    if not levels:
        return [Contrast(variable, unit[positions[0]])]
    out = [Contrast(f"{g} vs {levels[0]}", unit[positions[i]], g, levels[0])
           for i, g in enumerate(levels[1:])]
    for i in range(1, len(levels) - 1):
        for j in range(i + 1, len(levels)):
            out.append(Contrast(f"{levels[j]} vs {levels[i]}",
                                unit[positions[j - 1]] - unit[positions[i - 1]],
                                levels[j], levels[i]))
    return out
