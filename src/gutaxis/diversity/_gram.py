"""Gram products added in place to a distance matrix, tile by tile, on gutaxis's own threads.

Unweighted UniFrac adds ``Σ_b x_bi x_bj`` over its middle-density branches
(``x`` the presence columns scaled by ``sqrt(length)``) to the upper triangle
of the ``n × n`` result, batch after batch, between the compiled scatter of
the sparse branches (:mod:`gutaxis.diversity._faith_unifrac_kernels`).

Hand-written because it is measurably faster than the library call: scipy's
``dsyrk`` runs on OpenBLAS's own thread pool, whose workers keep spinning for
about 2²⁸ cycles after each call.  Alternating with numba's threads 24 times
in the 5,000-sample run, the spinning workers took a core from the scatter
(1.7 s instead of 1.0 s) and the whole UniFrac took 3.5 s instead of 2.85 s
(2 cores, same table, alternating runs; ``benchmarks/README.md``).  Here each
tile is one **single-threaded** ``dgemm`` or ``dsyrk`` from scipy's
:mod:`scipy.linalg.cython_blas` (the BLAS scipy ships), called through
:mod:`ctypes` (which releases the GIL) from a small thread pool of ours, with
``beta = 1`` straight into the result's memory: no OpenBLAS worker exists to
spin, no scratch tile and no extra pass to add it.  It also keeps large
results away from OpenBLAS's threaded ``dsyrk``, which wrote out of bounds at
20,000 samples (OpenBLAS 0.3.30).

The BLAS routines are Fortran's: column-major, arguments by reference.  A
C-ordered ``(k, n)`` array of columns is the column-major ``n × k`` matrix
``M`` with leading dimension ``n``, and a C-ordered ``out`` is the
column-major ``Oᵀ``; ``out[i, j] += (MMᵀ)[i, j]`` for ``i ≤ j`` is then the
lower triangle of ``Oᵀ += MMᵀ``.
"""

from __future__ import annotations

import contextlib
import ctypes
import math
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import numpy as np

#: Tiles are at most this many samples a side.
MAX_TILE = 4096
#: ... and at least this many (fewer samples: one tile).
MIN_TILE = 256

_FUNCTIONS: dict[str, Callable[..., None]] = {}
#: the C signatures of scipy.linalg.cython_blas (32-bit Fortran integers)
_SIGNATURE_START = "void (char *, char *, int *"


def _blas(name: str) -> Callable[..., None]:
    """``dgemm`` or ``dsyrk`` of :mod:`scipy.linalg.cython_blas` as a ctypes function."""
    function = _FUNCTIONS.get(name)
    if function is None:
        from scipy.linalg import cython_blas

        capsule = cython_blas.__pyx_capi__[name]
        get_name = ctypes.pythonapi.PyCapsule_GetName
        get_name.restype, get_name.argtypes = ctypes.c_char_p, [ctypes.py_object]
        get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
        get_pointer.restype = ctypes.c_void_p
        get_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
        signature = get_name(capsule)
        if not signature.decode().startswith(_SIGNATURE_START):  # pragma: no cover - scipy
            raise RuntimeError(f"scipy.linalg.cython_blas.{name} has the signature "
                               f"{signature.decode()!r}; {_SIGNATURE_START}… was expected")
        n_args = {"dgemm": 13, "dsyrk": 10}[name]
        prototype = ctypes.CFUNCTYPE(None, *([ctypes.c_void_p] * n_args))
        function = prototype(get_pointer(capsule, signature))
        _FUNCTIONS[name] = function
    return function


def _ref(value: int | float | bytes) -> Any:
    if isinstance(value, bytes):
        return ctypes.byref(ctypes.c_char(value))
    if isinstance(value, float):
        return ctypes.byref(ctypes.c_double(value))
    return ctypes.byref(ctypes.c_int(value))


def _gemm(c_ptr: int, ldc: int, a_ptr: int, b_ptr: int, ld: int, m: int, n: int,
          k: int) -> None:
    """Column-major ``C[m × n] += A[m × k] Bᵀ`` (``A``, ``B`` with leading dimension ``ld``)."""
    _blas("dgemm")(_ref(b"N"), _ref(b"T"), _ref(m), _ref(n), _ref(k), _ref(1.0),
                   ctypes.c_void_p(a_ptr), _ref(ld), ctypes.c_void_p(b_ptr), _ref(ld), _ref(1.0),
                   ctypes.c_void_p(c_ptr), _ref(ldc))


def _syrk(c_ptr: int, ldc: int, a_ptr: int, ld: int, n: int, k: int) -> None:
    """Column-major lower triangle of ``C[n × n] += A[n × k] Aᵀ``."""
    _blas("dsyrk")(_ref(b"L"), _ref(b"N"), _ref(n), _ref(k), _ref(1.0),
                   ctypes.c_void_p(a_ptr), _ref(ld), _ref(1.0), ctypes.c_void_p(c_ptr), _ref(ldc))


def _check(out: np.ndarray, columns: np.ndarray, n_out_rows: int, n_out_cols: int) -> None:
    for name, array in (("out", out), ("columns", columns)):
        if array.dtype != np.float64 or array.ndim != 2 or not array.flags.c_contiguous:
            raise ValueError(f"{name} must be a C-contiguous 2-D float64 array; got "
                             f"{array.dtype} {array.shape} (C-contiguous: "
                             f"{array.flags.c_contiguous})")
    if out.shape != (n_out_rows, n_out_cols):
        raise ValueError(f"out has shape {out.shape}; {(n_out_rows, n_out_cols)} was expected")
    if not out.flags.writeable:
        raise ValueError("out must be writeable")


def _bounds(n: int, parts: int) -> list[int]:
    """``parts + 1`` cut points from 0 to ``n``: tiles of even size within the limits."""
    side = min(MAX_TILE, max(MIN_TILE, math.ceil(n / max(parts, 1))))
    return [*range(0, n, side), n]


def add_gram_upper(out: np.ndarray, columns: np.ndarray, pool: ThreadPoolExecutor | None,
                   n_threads: int) -> None:
    """Add ``columnsᵀ columns`` to the upper triangle of ``out`` (diagonal included).

    Below the diagonal ``out`` is not touched.  Call it inside
    :func:`single_threaded_blas`.

    Parameters
    ----------
    out : ndarray of float64, shape (n, n), C-contiguous
    columns : ndarray of float64, shape (k, n), C-contiguous
    pool : ThreadPoolExecutor or None
        Runs the tiles (``None``: in this thread).
    n_threads : int
        Threads the tiles are shared among (the pool's size).

    Examples
    --------
    >>> cols = np.array([[1.0, 2.0, 0.0], [0.0, 1.0, 3.0]])
    >>> out = np.zeros((3, 3))
    >>> with single_threaded_blas():
    ...     add_gram_upper(out, cols, None, 1)
    >>> bool(np.array_equal(out, np.triu(cols.T @ cols)))
    True
    """
    k, n = columns.shape
    _check(out, columns, n, n)
    if k == 0 or n == 0:
        return
    # one row of tiles a thread up to two threads (2 threads: two triangles, one square —
    # equal work), more beyond so that the largest-first order evens them out
    cuts = _bounds(n, n_threads if n_threads <= 2 else 2 * n_threads)
    o, c = out.ctypes.data, columns.ctypes.data
    tiles: list[tuple[float, Callable[[], None]]] = []
    for a in range(len(cuts) - 1):
        r0, r1 = cuts[a], cuts[a + 1]
        # out[r0:r1, r0:r1]: the lower triangle of its column-major transpose
        tiles.append((0.5 * (r1 - r0) ** 2,
                      partial(_syrk, o + 8 * (r0 * n + r0), n, c + 8 * r0, n, r1 - r0, k)))
        for b in range(a + 1, len(cuts) - 1):
            c0, c1 = cuts[b], cuts[b + 1]
            # out[r0:r1, c0:c1] is the column-major (c1-c0) × (r1-r0) block at out[r0, c0]
            tiles.append(((r1 - r0) * (c1 - c0),
                          partial(_gemm, o + 8 * (r0 * n + c0), n, c + 8 * c0, c + 8 * r0, n,
                                  c1 - c0, r1 - r0, k)))
    _run(tiles, pool)


def add_gram_block(out: np.ndarray, columns: np.ndarray, n_rows: int,
                   pool: ThreadPoolExecutor | None, n_threads: int) -> None:
    """Add ``columns[:, :n_rows]ᵀ columns[:, n_rows:]`` to ``out``.

    Call it inside :func:`single_threaded_blas`.

    Parameters
    ----------
    out : ndarray of float64, shape (n_rows, n - n_rows), C-contiguous
    columns : ndarray of float64, shape (k, n), C-contiguous
    n_rows : int
    pool, n_threads
        As :func:`add_gram_upper`.

    Examples
    --------
    >>> cols = np.array([[1.0, 2.0, 0.0], [0.0, 1.0, 3.0]])
    >>> out = np.ones((1, 2))
    >>> with single_threaded_blas():
    ...     add_gram_block(out, cols, 1, None, 1)
    >>> out.tolist()
    [[3.0, 1.0]]
    """
    k, n = columns.shape
    if not 0 < n_rows < n:
        raise ValueError(f"n_rows must be from 1 to {n - 1}; got {n_rows}")
    n_cols = n - n_rows
    _check(out, columns, n_rows, n_cols)
    if k == 0:
        return
    cuts = _bounds(n_rows, n_threads)
    o, c = out.ctypes.data, columns.ctypes.data
    # out[r0:r1, :] is the column-major n_cols × (r1-r0) block at out[r0, 0] (ld n_cols)
    tiles: list[tuple[float, Callable[[], None]]] = [
        ((r1 - r0) * n_cols, partial(_gemm, o + 8 * r0 * n_cols, n_cols, c + 8 * n_rows,
                                     c + 8 * r0, n, n_cols, r1 - r0, k))
        for r0, r1 in zip(cuts[:-1], cuts[1:], strict=True)]
    _run(tiles, pool)


def _run(tiles: list[tuple[float, Callable[[], None]]], pool: ThreadPoolExecutor | None) -> None:
    """Run the tiles, largest first (each thread takes the next when it is done)."""
    tiles.sort(key=lambda t: -t[0])
    if pool is None or len(tiles) == 1:
        for _, tile in tiles:
            tile()
        return
    for future in [pool.submit(tile) for _, tile in tiles]:
        future.result()


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """BLAS limited to the calling thread (tiles run in parallel on a pool of ours)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield
