"""Principal coordinate analysis (PCoA) of a distance matrix.

:func:`pcoa` matches :func:`skbio.stats.ordination.pcoa` (eigenvalues,
proportions explained and coordinates, each axis up to its sign) while
computing only the axes asked for.  Two eigensolvers are available:

``"eigsh"``
    Implicitly restarted Lanczos (ARPACK, :func:`scipy.sparse.linalg.eigsh`)
    for the top ``k`` eigenpairs, converged to machine precision.  The centred
    matrix is never formed: each product ``B @ x`` is computed as
    ``-½ J (D∘D) J x`` by a compiled kernel that squares the distances on the
    fly, so no ``n × n`` array besides the input is allocated.
``"eigh"``
    LAPACK (:func:`scipy.linalg.eigh`) on the Gower-centred matrix, built once
    (one ``n × n`` float64 array).  Exact and robust for every size, but
    ``O(n³)``: at 5,000 samples it takes about 6 s for the top three axes and
    about 13 s for all of them (scikit-bio's default), against well under a
    second for ``"eigsh"``.

``method="auto"`` (the default) uses ``"eigsh"`` when a few axes of a matrix
of at least 400 samples are asked for and ``"eigh"`` otherwise.
"""

from __future__ import annotations

import contextlib
import dataclasses
import operator
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Literal

import numba
import numpy as np
import pandas as pd
import scipy.linalg
import scipy.sparse.linalg as spla

from gutaxis.checks import type_label
from gutaxis.distance import DistanceMatrix
from gutaxis.exceptions import InputError

if TYPE_CHECKING:
    import skbio

__all__ = ["OrdinationResult", "pcoa"]

Method = Literal["auto", "eigh", "eigsh"]

#: Eigenvalues with ``|λ| <= _ZERO_RTOL * λ_max`` are rounding noise and set to 0.
_ZERO_RTOL = 1e-10
#: Sign convention: the first sample whose |coordinate| is within this relative
#: distance of the axis's largest |coordinate| gets a positive coordinate.
_SIGN_RTOL = 1e-6
#: Below this size (or for many axes) ``method="auto"`` picks LAPACK.
_AUTO_EIGSH_MIN_N = 400
#: Up to this size ``method="eigh"`` decomposes the whole matrix in one LAPACK
#: call rather than asking for a subset: as fast or faster there, and immune to
#: a pathology seen with threaded OpenBLAS, where a subset of a rank-deficient
#: 450 × 450 matrix took 3 s instead of 0.03 s.
_FULL_EIGH_MAX_N = 1000
#: Finest relative tolerance of the Lanczos estimate of the smallest eigenvalue.
_SMALLEST_TOL = 1e-8
#: ARPACK starting vectors come from this seed, so results are reproducible.
_V0_SEED = 20011
#: Matrices smaller than this run the compiled kernels on one thread: waking
#: the thread pool costs more than the work (milliseconds on a busy machine).
_PARALLEL_MIN_N = 2000


@contextlib.contextmanager
def _threads_for(n: int) -> Iterator[None]:
    """One numba thread for small matrices, the configured number otherwise."""
    if n >= _PARALLEL_MIN_N:
        yield
        return
    previous = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(previous)


@dataclasses.dataclass(frozen=True, eq=False)
class OrdinationResult:
    """Samples placed on principal axes.

    Attributes
    ----------
    ids : pandas.Index
        Sample ids, in the order of the rows of ``coordinates``.
    coordinates : numpy.ndarray
        ``n × k`` float64; column ``j`` is axis ``PC{j+1}`` (eigenvector scaled
        by ``sqrt(eigenvalue)``).  Axes whose eigenvalue is negative (or zero)
        are all zeros, as in scikit-bio.
    eigenvalues : numpy.ndarray
        The ``k`` largest eigenvalues of the Gower-centred matrix, descending;
        negative ones are reported as 0 (see ``smallest_eigenvalue``).
    proportion_explained : numpy.ndarray
        ``eigenvalues / total_inertia``.
    method : str
        The eigensolver used (``"eigh"`` or ``"eigsh"``).
    total_inertia : float
        Trace of the centred matrix ``B = -½ J D² J`` — the sum of *all* its
        eigenvalues, negative ones included — equal to
        ``Σ_{i<j} d_ij² / n``.
    smallest_eigenvalue : float
        The most negative (smallest) eigenvalue of ``B``; NaN when it was not
        computed (``warn_negative=False`` with a partial decomposition).
        Exact when LAPACK decomposed the whole matrix (``n_components=None``,
        ``method="eigh"`` with at most 1,000 samples, or fewer than 400
        samples); otherwise a Lanczos estimate, never below the true value
        and above it by at most about ``t × eigenvalues[0]`` with
        ``t = min(max(warn_negative / 10, 1e-8), 1e-3)`` — enough to decide
        the warning, which is what it is computed for.
    metric : str
        The metric of the distance matrix, when known.
    """

    ids: pd.Index
    coordinates: np.ndarray
    eigenvalues: np.ndarray
    proportion_explained: np.ndarray
    method: str
    total_inertia: float
    smallest_eigenvalue: float = float("nan")
    metric: str = ""

    @property
    def n_components(self) -> int:
        """Number of axes kept (columns of :attr:`coordinates`)."""
        return int(self.coordinates.shape[1])

    @property
    def axis_labels(self) -> list[str]:
        """``["PC1", "PC2", ...]``."""
        return [f"PC{i}" for i in range(1, self.n_components + 1)]

    def to_dataframe(self) -> pd.DataFrame:
        """Coordinates as a DataFrame (index ``sample_id``, columns ``PC1``...)."""
        return pd.DataFrame(self.coordinates, index=pd.Index(self.ids, name="sample_id"),
                            columns=self.axis_labels)

    def to_skbio(self) -> skbio.OrdinationResults:
        """Return the same result as a :class:`skbio.OrdinationResults`."""
        from skbio import OrdinationResults

        labels = self.axis_labels
        long_name = "Principal Coordinate Analysis"
        if self.method == "eigsh":
            long_name += " (Lanczos, top axes only)"
        return OrdinationResults(
            short_method_name="PCoA",
            long_method_name=long_name,
            eigvals=pd.Series(self.eigenvalues, index=labels),
            samples=pd.DataFrame(self.coordinates, index=list(self.ids), columns=labels),
            proportion_explained=pd.Series(self.proportion_explained, index=labels),
        )


# --------------------------------------------------------------------- kernels
@numba.njit(parallel=True, cache=True)
def _row_sums_of_squares(d: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    n = d.shape[0]
    out = np.empty(n)
    for i in numba.prange(n):
        s = 0.0
        for j in range(n):
            s += d[i, j] * d[i, j]
        out[i] = s
    return out


@numba.njit(parallel=True, cache=True)
def _gower_into(d: np.ndarray, b: np.ndarray) -> None:  # pragma: no cover - compiled
    """``b = -½ (A - r 1ᵀ - 1 rᵀ + m)`` with ``A = d∘d``, ``r`` its row means."""
    n = d.shape[0]
    r = np.empty(n)
    for i in numba.prange(n):
        s = 0.0
        for j in range(n):
            v = d[i, j] * d[i, j]
            b[i, j] = v
            s += v
        r[i] = s / n
    m = 0.0
    for i in range(n):
        m += r[i]
    m /= n
    for i in numba.prange(n):
        ri = r[i] - m
        for j in range(n):
            b[i, j] = -0.5 * (b[i, j] - ri - r[j])


@numba.njit(fastmath=True, cache=True)
def _squared_matvec(d: np.ndarray, x: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover
    """``out = (d∘d) @ x`` without forming ``d∘d``.

    Deliberately single-threaded: it is bound by memory bandwidth, and the
    Lanczos loop calls it about a hundred times between BLAS calls, where a
    parallel region per call loses more to waking (and, on a busy machine,
    waiting for) threads than a second core gains: measured 0.36 s against
    0.70 s for a whole 5,000-sample PCoA on 2 cores.
    """
    n = d.shape[0]
    for i in range(n):
        s = 0.0
        for j in range(n):
            v = d[i, j]
            s += v * v * x[j]
        out[i] = s


def _c_order(d: np.ndarray) -> np.ndarray:
    """Return a C-contiguous view of a symmetric matrix (its transpose if F-ordered)."""
    if d.flags.c_contiguous:
        return d
    if d.flags.f_contiguous:
        return d.T
    return np.ascontiguousarray(d)


def _centred_operator(d: np.ndarray) -> spla.LinearOperator:
    """``x ↦ B x`` with ``B = -½ J (d∘d) J`` and ``J = I - 11ᵀ/n``."""
    n = d.shape[0]
    buf = np.empty(n)

    def matvec(x: np.ndarray) -> np.ndarray:
        x = np.ravel(x)
        y = x - x.mean()
        _squared_matvec(d, y, buf)
        bx: np.ndarray = -0.5 * (buf - buf.mean())
        return bx

    return spla.LinearOperator((n, n), matvec=matvec, rmatvec=matvec, dtype=np.float64)


def _start_vector(n: int) -> np.ndarray:
    return np.random.default_rng(_V0_SEED).standard_normal(n)


def _gower(d: np.ndarray) -> np.ndarray:
    b = np.empty_like(d)
    _gower_into(d, b)
    return b


def _smallest_eigenvalue(op: spla.LinearOperator, d: np.ndarray, largest: float,
                         tol: float) -> float:
    """Smallest eigenvalue of the centred matrix: LAPACK if small, else Lanczos.

    Lanczos runs on ``c I - B`` with ``c`` the largest eigenvalue; its top
    eigenvalue is ``c - λ_min ≥ c``, so ARPACK's relative tolerance ``tol``
    means an absolute accuracy of about ``tol · c``, and a spectrum that ends
    in a large cluster of zeros (rank-deficient Euclidean input) converges at
    once.  The Ritz value lies inside the spectrum, so the estimate is never
    below ``λ_min`` (by more than rounding): Euclidean input gives no false
    negative eigenvalue.
    """
    n = op.shape[0]
    if n <= _AUTO_EIGSH_MIN_N:
        return float(scipy.linalg.eigh(_gower(d), eigvals_only=True, overwrite_a=True,
                                       check_finite=False)[0])
    c = float(largest)

    def matvec(x: np.ndarray) -> np.ndarray:
        x = np.ravel(x)
        y: np.ndarray = c * x - op.matvec(x)
        return y

    shifted = spla.LinearOperator((n, n), matvec=matvec, rmatvec=matvec, dtype=np.float64)
    try:
        w = spla.eigsh(shifted, k=1, which="LA", v0=_start_vector(n), tol=tol, maxiter=100,
                       return_eigenvectors=False)
    except spla.ArpackNoConvergence as exc:  # pragma: no cover - pathological spectra
        w = exc.eigenvalues
        if len(w) == 0:
            return float("nan")
    return c - float(np.max(w))


def _estimate_tol(threshold: float) -> float:
    """Lanczos accuracy needed to decide the warning: a tenth of its threshold."""
    return min(max(threshold / 10.0, _SMALLEST_TOL), 1e-3)


# ------------------------------------------------------------------------- API
def pcoa(dm: DistanceMatrix, *, n_components: int | None = 3, method: Method = "auto",
         warn_negative: float | bool = 0.01) -> OrdinationResult:
    r"""Principal coordinate analysis (classical multidimensional scaling).

    Parameters
    ----------
    dm : DistanceMatrix
        Distances between ``n`` samples.
    n_components : int or None
        Number of axes to compute (``1 <= n_components <= n``).  ``None``
        computes the full decomposition and keeps every axis with a positive
        eigenvalue.
    method : {"auto", "eigsh", "eigh"}
        Eigensolver (see the module documentation).  ``"eigsh"`` needs
        ``n_components < n - 1``.
    warn_negative : float or bool
        Warn (:class:`RuntimeWarning`) when the most negative eigenvalue
        exceeds this fraction of the largest one in magnitude, as scikit-bio
        does (default 1 %).  ``True`` warns on any negative eigenvalue;
        ``False`` never warns and, for partial decompositions, skips the
        (Lanczos) estimate of the smallest eigenvalue.

    Returns
    -------
    OrdinationResult

    Raises
    ------
    InputError
        ``n_components`` out of range, an unknown ``method``, or fewer than
        two samples.

    Notes
    -----
    The squared distances are Gower-centred, :math:`B = -\tfrac12 J D^{(2)} J`
    with :math:`J = I - \mathbf{1}\mathbf{1}^T/n` [1]_, and the sample
    coordinates on axis :math:`j` are :math:`v_j \sqrt{\lambda_j}` for the
    eigenpairs of :math:`B` in decreasing order of :math:`\lambda_j`.

    *Agreement with scikit-bio.*  Eigenvalues and coordinates agree with
    ``skbio.stats.ordination.pcoa`` to rounding; each axis is defined only up
    to its sign, so compare after aligning signs.  gutaxis fixes the sign
    deterministically: on every axis the first sample whose absolute
    coordinate is within 1e-6 (relative) of the axis's largest absolute
    coordinate is given a positive coordinate.

    *Proportion explained.*  The denominator is the trace of :math:`B`, i.e.
    the sum of **all** its eigenvalues (negative ones included), which needs
    no further eigenpairs: :math:`\operatorname{tr} B = \sum_{i<j} d_{ij}^2/n`.
    This is what scikit-bio computes whenever ``dimensions`` is given.  With
    its default ``dimensions=0`` scikit-bio instead divides by the sum of the
    *non-negative* eigenvalues; the two agree for Euclidean distances and
    differ (scikit-bio's being smaller) when there are negative eigenvalues.

    *Negative eigenvalues.*  Non-Euclidean distances (Bray–Curtis, UniFrac...)
    give a centred matrix with negative eigenvalues.  As in scikit-bio, an
    axis with a negative eigenvalue is kept (so that ``n_components`` axes are
    always returned) with eigenvalue, proportion and coordinates set to zero,
    and a warning is raised when the most negative eigenvalue is large
    (``warn_negative``).  Eigenvalues within ``1e-10`` (relative to the
    largest) of zero are set to zero; scikit-bio uses an absolute ``1e-8``,
    which would zero every axis of a matrix of very small distances.  For
    ``n_components=None`` only the positive axes are returned.  Negative
    eigenvalues are not corrected (no Lingoes or Cailliez constant [2]_).

    References
    ----------
    .. [1] Gower, J. C. (1966). Some distance properties of latent root and
       vector methods used in multivariate analysis. *Biometrika* 53(3–4),
       325–338. doi:10.1093/biomet/53.3-4.325
    .. [2] Legendre, P. & Legendre, L. (2012). *Numerical Ecology*, 3rd
       English ed., section 9.3. Elsevier.
    .. [3] Lehoucq, R. B., Sorensen, D. C. & Yang, C. (1998). *ARPACK Users'
       Guide*. SIAM. doi:10.1137/1.9780898719628

    Examples
    --------
    Three points on a line at 0, 1 and 3:

    >>> import numpy as np
    >>> from gutaxis import DistanceMatrix
    >>> x = np.array([0.0, 1.0, 3.0])
    >>> dm = DistanceMatrix(["a", "b", "c"], np.abs(x[:, None] - x[None, :]))
    >>> res = pcoa(dm, n_components=1)
    >>> res.coordinates.ravel().round(4)
    array([-1.3333, -0.3333,  1.6667])
    >>> res.eigenvalues.round(4), res.proportion_explained
    (array([4.6667]), array([1.]))
    """
    if not isinstance(dm, DistanceMatrix):
        raise InputError(f"pcoa takes a gutaxis DistanceMatrix; got {type_label(dm)}")
    n = len(dm)
    if n < 2:
        raise InputError(f"PCoA needs at least 2 samples; the distance matrix has {n}")
    k = _check_components(n_components, n)
    if method not in ("auto", "eigh", "eigsh"):
        raise InputError(f"unknown PCoA method {method!r}; valid methods are: auto, eigh, eigsh")
    if isinstance(warn_negative, bool):
        threshold = 0.0 if warn_negative else None
    else:
        threshold = float(warn_negative)
        if not 0.0 <= threshold <= 1.0:
            raise InputError(f"warn_negative must be a bool or a fraction in [0, 1]; "
                             f"got {warn_negative!r}")
    if method == "auto":
        method = "eigsh" if (k is not None and n >= _AUTO_EIGSH_MIN_N
                             and k <= max(10, n // 20)) else "eigh"
    if method == "eigsh" and (k is None or k >= n - 1):
        raise InputError(f"method='eigsh' computes fewer than n - 1 = {n - 1} axes; "
                         f"got n_components={n_components}. Use method='eigh'.")

    with _threads_for(n):
        return _pcoa(dm, n, k, method, threshold)


def _pcoa(dm: DistanceMatrix, n: int, k: int | None, method: str,
          threshold: float | None) -> OrdinationResult:
    d = _c_order(dm.data)
    total = float(_row_sums_of_squares(d).sum() / (2.0 * n))
    op = _centred_operator(d)
    smallest = float("nan")
    if total == 0.0:  # every distance is zero: every eigenvalue is zero
        m = 0 if k is None else k
        return OrdinationResult(ids=dm.ids.copy(), coordinates=np.zeros((n, m)),
                                eigenvalues=np.zeros(m), proportion_explained=np.zeros(m),
                                method=method, total_inertia=0.0, smallest_eigenvalue=0.0,
                                metric=dm.metric)
    if method == "eigh":
        b = _gower(d)
        if k is None or n <= _FULL_EIGH_MAX_N:  # one LAPACK call gives everything
            w, v = scipy.linalg.eigh(b, overwrite_a=True, check_finite=False)
            smallest = float(w[0])
            if k is not None:
                w, v = w[n - k:], v[:, n - k:]
        else:
            w, v = scipy.linalg.eigh(b, subset_by_index=[n - k, n - 1], overwrite_a=True,
                                     check_finite=False)
            if threshold is not None:
                smallest = _smallest_eigenvalue(op, d, float(np.max(w)),
                                                _estimate_tol(threshold))
        del b
    else:
        assert k is not None
        w, v = spla.eigsh(op, k=k, which="LA", v0=_start_vector(n), tol=0.0)
        if threshold is not None:
            smallest = _smallest_eigenvalue(op, d, float(np.max(w)), _estimate_tol(threshold))

    order = np.argsort(w)[::-1]
    w = np.array(w[order], dtype=np.float64)
    v = np.array(v[:, order], dtype=np.float64)
    scale = max(abs(float(w[0])), abs(smallest) if np.isfinite(smallest) else 0.0)
    w[np.abs(w) <= _ZERO_RTOL * scale] = 0.0
    if np.isfinite(smallest) and abs(smallest) <= _ZERO_RTOL * scale:
        smallest = 0.0
    if k is None:
        keep = w > 0
        w, v = w[keep], v[:, keep]
    positive = w > 0
    w[~positive] = 0.0
    v[:, ~positive] = 0.0
    _fix_signs(v)
    coordinates = v * np.sqrt(w)
    with np.errstate(invalid="ignore", divide="ignore"):
        proportion = w / total if total > 0 else np.zeros_like(w)

    if threshold is not None and smallest < 0:
        largest = float(w[0]) if len(w) else 0.0
        if threshold == 0.0 or -smallest > threshold * largest:
            warnings.warn(
                f"PCoA{f' of {dm.metric}' if dm.metric else ''}: the distances are not "
                f"Euclidean — the most negative eigenvalue "
                f"({smallest:.6g}) is {(-smallest / largest if largest else np.inf):.2%} of "
                f"the largest ({largest:.6g}). Axes with negative eigenvalues are set to "
                "zero; the leading axes are usually still interpretable (from Python, "
                "pcoa(..., warn_negative=False) silences this).",
                RuntimeWarning, stacklevel=3,
            )

    return OrdinationResult(
        ids=dm.ids.copy(),
        coordinates=coordinates,
        eigenvalues=w,
        proportion_explained=proportion,
        method=method,
        total_inertia=total,
        smallest_eigenvalue=smallest,
        metric=dm.metric,
    )


def _check_components(n_components: int | None, n: int) -> int | None:
    if n_components is None:
        return None
    if isinstance(n_components, bool):
        raise InputError(f"n_components must be an integer or None; got {n_components!r}")
    try:
        k = operator.index(n_components)
    except TypeError:
        raise InputError(
            f"n_components must be an integer or None; got {n_components!r}"
        ) from None
    if not 1 <= k <= n:
        raise InputError(f"n_components must be between 1 and the number of samples ({n}); "
                         f"got {k}")
    return k


def _fix_signs(v: np.ndarray) -> None:
    """Flip columns in place: the first (near-)largest |entry| becomes positive."""
    if v.size == 0:
        return
    mag = np.abs(v)
    top = mag.max(axis=0)
    first = np.argmax(mag >= (1.0 - _SIGN_RTOL) * top, axis=0)
    signs = np.sign(v[first, np.arange(v.shape[1])])
    signs[signs == 0] = 1.0
    v *= signs
