"""PCoA and PERMANOVA on a tiled distance matrix, one pass over the tiles at a time."""

from __future__ import annotations

import numbers
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.linalg

from gutaxis.distributed._driver import dask_client
from gutaxis.distributed._store import open_complete, read_tile
from gutaxis.distributed._tiles import TileGrid
from gutaxis.exceptions import InputError
from gutaxis.ordination import OrdinationResult

__all__ = ["blockwise_pcoa"]

_ZERO_RTOL = 1e-10  # eigenvalues this close to 0 (relative to the largest) are 0, as in pcoa
_SIGN_RTOL = 1e-6  # the sign rule of gutaxis.ordination.pcoa


def _tile_squared_products(store: Path, grid: TileGrid, block_i: int, block_j: int,
                           x: np.ndarray) -> tuple[int, int, np.ndarray, np.ndarray | None,
                                                   float]:
    """``D²_IJ x_J``, ``D²_IJᵀ x_I`` (off-diagonal) and ``Σ D²_IJ`` of one tile (in a worker)."""
    rows, cols = grid.rows(block_i), grid.rows(block_j)
    sq = read_tile(store, rows, cols) ** 2
    forward = sq @ x[cols]
    backward = None if block_i == block_j else sq.T @ x[rows]
    return block_i, block_j, forward, backward, float(sq.sum())


class _SquaredOperator:
    """``X ↦ D² X`` over the tiles of a store, on a Dask client."""

    def __init__(self, client: Any, store: Path, grid: TileGrid) -> None:
        self.client, self.store, self.grid = client, store, grid
        self.passes = 0
        self.sum_of_squares = float("nan")

    def __call__(self, x: np.ndarray) -> np.ndarray:
        import distributed

        grid = self.grid
        shared = self.client.scatter(x, broadcast=True)
        futures = [self.client.submit(_tile_squared_products, self.store, grid, i, j, shared,
                                      pure=False) for i, j in grid.upper()]
        out = np.zeros_like(x)
        total = 0.0
        for future in distributed.as_completed(futures):  # type: ignore[no-untyped-call]
            i, j, forward, backward, s = future.result()
            out[grid.rows(i)] += forward
            if backward is not None:
                out[grid.rows(j)] += backward
                s *= 2.0
            total += s
        self.passes += 1
        self.sum_of_squares = total
        return out


def _centred(op: _SquaredOperator, x: np.ndarray) -> np.ndarray:
    """``B x`` with ``B = -½ J D² J``."""
    y = op(x - x.mean(axis=0))
    centred: np.ndarray = -0.5 * (y - y.mean(axis=0))
    return centred


def _fix_signs(v: np.ndarray) -> None:
    """Flip columns in place: the first (near-)largest |entry| becomes positive (as pcoa)."""
    if v.size == 0:
        return
    mag = np.abs(v)
    first = np.argmax(mag >= (1.0 - _SIGN_RTOL) * mag.max(axis=0), axis=0)
    signs = np.sign(v[first, np.arange(v.shape[1])])
    signs[signs == 0] = 1.0
    v *= signs


def blockwise_pcoa(store: str | Path, *, n_components: int = 3, cluster: Any = "local",
                   oversample: int = 10, tol: float = 1e-10, max_passes: int = 300,
                   seed: int = 0) -> OrdinationResult:
    r"""PCoA of a tiled distance matrix by randomized subspace iteration.

    No process holds the ``n × n`` matrix: every pass multiplies the Gower-centred
    matrix by an ``n × (n_components + oversample)`` block of vectors, one Dask task
    per stored tile (a task holds one tile and the block).

    Parameters
    ----------
    store : str or pathlib.Path
        A complete store of :func:`blockwise_beta_diversity`.
    n_components : int
        Leading axes to return (``1 ≤ n_components < n``).
    cluster : {"local"} or str or distributed.Client
        As for :func:`blockwise_beta_diversity`.
    oversample : int
        Extra vectors in the block (faster, surer convergence).
    tol : float
        Stop when every returned axis has ``‖B v − λ v‖ ≤ tol · |λ₁|``.
    max_passes : int
        Passes over the matrix at most; an error if not converged by then.
    seed : int
        Seed of the random starting block.

    Returns
    -------
    OrdinationResult
        As :func:`gutaxis.ordination.pcoa` with ``n_components``: same
        eigenvalues, coordinates (same sign rule), proportions of the total
        inertia; ``method`` is ``"blockwise-subspace"``; ``smallest_eigenvalue``
        is NaN (not computed, so no warning about negative eigenvalues).

    Raises
    ------
    InputError
        Bad ``n_components``/``oversample``/``tol``/``max_passes``, or no
        convergence within ``max_passes``.
    ValidationError
        ``store`` is not a complete store.

    Notes
    -----
    Subspace iteration with a Rayleigh–Ritz step on every pass (Halko, Martinsson &
    Tropp 2011 [1]_, algorithm 4.4; Saad 2011 [2]_, ch. 5): ``Q`` starts as an
    orthonormal Gaussian block; each pass computes ``Y = B Q``, the eigenpairs
    ``(λ, u)`` of ``QᵀY``, the residuals of ``v = Q u``, and ``Q = qr(Y)``.
    ``B = -½ J D² J`` is applied as ``D² (J X)`` blockwise, then centred.  The
    block converges to the eigenvalues of largest magnitude; the leading
    (algebraically largest) ones are returned, negative ones as zero axes, as in
    ``pcoa``.  The total inertia ``Σ_{i<j} d²/n`` is summed in the same passes.

    References
    ----------
    .. [1] Halko, N., Martinsson, P. G. & Tropp, J. A. (2011). Finding structure
       with randomness. *SIAM Review* 53(2), 217–288. doi:10.1137/090771806
    .. [2] Saad, Y. (2011). *Numerical Methods for Large Eigenvalue Problems*,
       2nd ed. SIAM. doi:10.1137/1.9781611970739
    """
    attrs, grid = open_complete(store)
    n = grid.n
    for name, value, low in (("n_components", n_components, 1), ("oversample", oversample, 0),
                             ("max_passes", max_passes, 1)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
            raise InputError(f"`{name}` must be an integer ≥ {low}; got {value!r}.")
    if n_components >= n:
        raise InputError(f"`n_components` must be below the number of samples ({n}); "
                         f"got {n_components}.")
    if not isinstance(tol, numbers.Real) or not 0 < tol < 1:
        raise InputError(f"`tol` must be a number in (0, 1); got {tol!r}.")
    k = int(n_components)
    r = min(n, k + int(oversample))
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((n, r)))
    with dask_client(cluster) as client:
        op = _SquaredOperator(client, Path(store), grid)
        for _ in range(int(max_passes)):
            y = _centred(op, q)
            t = q.T @ y
            w, u = scipy.linalg.eigh(0.5 * (t + t.T))
            order = np.argsort(w)[::-1]
            w, u = w[order], u[:, order]
            v = q @ u[:, :k]
            residual = np.linalg.norm(y @ u[:, :k] - v * w[:k], axis=0)
            scale = float(np.max(np.abs(w)))
            if scale == 0.0 or np.all(residual <= tol * scale):
                break
            q, _ = np.linalg.qr(y)
        else:
            raise InputError(
                f"blockwise PCoA did not converge in {max_passes} passes (largest residual "
                f"{residual.max() / scale:.1e} of |λ₁|, tol {tol:g}); raise `max_passes` or "
                "`oversample`")
    total = op.sum_of_squares / (2.0 * n)
    w = np.array(w[:k], dtype=np.float64)
    v = np.array(v, dtype=np.float64)
    w[np.abs(w) <= _ZERO_RTOL * scale] = 0.0
    positive = w > 0
    w[~positive] = 0.0
    v[:, ~positive] = 0.0
    _fix_signs(v)
    proportion = w / total if total > 0 else np.zeros_like(w)
    return OrdinationResult(ids=pd.Index(attrs["order"], dtype=object),
                            coordinates=v * np.sqrt(w), eigenvalues=w,
                            proportion_explained=proportion, method="blockwise-subspace",
                            total_inertia=total, smallest_eigenvalue=float("nan"),
                            metric=attrs["metric"])
