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

import ctypes
import math
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
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


def _gemm(out: np.ndarray, c_at: int, ldc: int, columns: np.ndarray, a_at: int, b_at: int,
          ld: int, m: int, n: int, k: int) -> None:
    """Column-major ``C[m × n] += A[m × k] Bᵀ``, placed by element offsets.

    ``C`` starts at element ``c_at`` of ``out``; ``A`` and ``B`` at elements
    ``a_at`` and ``b_at`` of ``columns`` (leading dimension ``ld``).  The tile
    holds the arrays themselves, not only their addresses, so that their
    memory lives as long as a queued or running tile (an interrupted caller
    may leave before it).
    """
    c = columns.ctypes.data
    _blas("dgemm")(_ref(b"N"), _ref(b"T"), _ref(m), _ref(n), _ref(k), _ref(1.0),
                   ctypes.c_void_p(c + 8 * a_at), _ref(ld), ctypes.c_void_p(c + 8 * b_at),
                   _ref(ld), _ref(1.0), ctypes.c_void_p(out.ctypes.data + 8 * c_at), _ref(ldc))


def _syrk(out: np.ndarray, c_at: int, ldc: int, columns: np.ndarray, a_at: int, ld: int,
          n: int, k: int) -> None:
    """Column-major lower triangle of ``C[n × n] += A[n × k] Aᵀ`` (placed as in :func:`_gemm`)."""
    _blas("dsyrk")(_ref(b"L"), _ref(b"N"), _ref(n), _ref(k), _ref(1.0),
                   ctypes.c_void_p(columns.ctypes.data + 8 * a_at), _ref(ld), _ref(1.0),
                   ctypes.c_void_p(out.ctypes.data + 8 * c_at), _ref(ldc))


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
    """Cut points from 0 to ``n``: about ``parts`` tiles of even size, within the limits."""
    side = min(MAX_TILE, max(MIN_TILE, math.ceil(n / max(parts, 1))))
    return [*range(0, n, side), n]


def add_gram_upper(out: np.ndarray, columns: np.ndarray, pool: ThreadPoolExecutor | None,
                   n_threads: int) -> None:
    """Add ``columnsᵀ columns`` to the upper triangle of ``out`` (diagonal included).

    Below the diagonal ``out`` is not touched.

    Parameters
    ----------
    out : ndarray of float64, shape (n, n), C-contiguous
    columns : ndarray of float64, shape (k, n), C-contiguous
    pool : ThreadPoolExecutor or None
        Runs the tiles in parallel, with BLAS held at one thread meanwhile
        (:func:`_run`); ``None``: one after the other in this thread, on
        BLAS as it is set.
    n_threads : int
        Threads the tiles are shared among (the pool's size).

    Examples
    --------
    >>> cols = np.array([[1.0, 2.0, 0.0], [0.0, 1.0, 3.0]])
    >>> out = np.zeros((3, 3))
    >>> add_gram_upper(out, cols, None, 1)
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
    tiles: list[tuple[float, Callable[[], None]]] = []
    for a in range(len(cuts) - 1):
        r0, r1 = cuts[a], cuts[a + 1]
        # out[r0:r1, r0:r1]: the lower triangle of its column-major transpose
        tiles.append((0.5 * (r1 - r0) ** 2,
                      partial(_syrk, out, r0 * n + r0, n, columns, r0, n, r1 - r0, k)))
        for b in range(a + 1, len(cuts) - 1):
            c0, c1 = cuts[b], cuts[b + 1]
            # out[r0:r1, c0:c1] is the column-major (c1-c0) × (r1-r0) block at out[r0, c0]
            tiles.append(((r1 - r0) * (c1 - c0),
                          partial(_gemm, out, r0 * n + c0, n, columns, c0, r0, n,
                                  c1 - c0, r1 - r0, k)))
    _run(tiles, pool)


def add_gram_block(out: np.ndarray, columns: np.ndarray, n_rows: int,
                   pool: ThreadPoolExecutor | None, n_threads: int) -> None:
    """Add ``columns[:, :n_rows]ᵀ columns[:, n_rows:]`` to ``out``.

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
    >>> add_gram_block(out, cols, 1, None, 1)
    >>> out.tolist()
    [[3.0, 1.0]]
    """
    k, n = columns.shape
    n_rows = int(n_rows)
    if not 0 < n_rows < n:
        raise ValueError(f"n_rows must be from 1 to {n - 1}; got {n_rows}")
    n_cols = n - n_rows
    _check(out, columns, n_rows, n_cols)
    if k == 0:
        return
    cuts = _bounds(n_rows, n_threads)
    # out[r0:r1, :] is the column-major n_cols × (r1-r0) block at out[r0, 0] (ld n_cols)
    tiles: list[tuple[float, Callable[[], None]]] = [
        ((r1 - r0) * n_cols, partial(_gemm, out, r0 * n_cols, n_cols, columns, n_rows, r0, n,
                                     n_cols, r1 - r0, k))
        for r0, r1 in zip(cuts[:-1], cuts[1:], strict=True)]
    _run(tiles, pool)


_CONTROLLER: list[Any] = []


def _blas_controller() -> Any:
    """Return the BLAS libraries' threadpoolctl controller, made once.

    Made after scipy's BLAS, which the tiles call, is loaded; making it scans the
    loaded libraries (0.8 ms), which was repeated for every batch.
    """
    if not _CONTROLLER:
        from threadpoolctl import ThreadpoolController

        _blas("dgemm")
        _blas("dsyrk")
        _CONTROLLER.append(ThreadpoolController().select(user_api="blas"))
    return _CONTROLLER[0]


#: Parallel tiles of concurrent callers take turns: BLAS's thread count is the process's
#: (OpenBLAS with pthreads), so it is held at one and given back by one caller at a time.
_TURN = threading.Lock()


def _run(tiles: list[tuple[float, Callable[[], None]]], pool: ThreadPoolExecutor | None) -> None:
    """Run the tiles, largest first (each pool thread takes the next when it is done).

    With a pool, BLAS is held at one thread while they run (threadpoolctl, entered and
    left in this thread, one caller at a time).  Where that has no effect — threadpoolctl
    lets only one thread set OpenBLAS's count, and another thread may hold that role —
    the tiles run one after the other here on the threaded BLAS instead.  Every tile is
    finished, or was never started, before this returns or raises.
    """
    tiles.sort(key=lambda t: -t[0])
    if pool is None or len(tiles) == 1:
        for _, tile in tiles:
            tile()
        return
    with _TURN:
        controller = _blas_controller()
        with controller.limit(limits=1):
            if any(lib["num_threads"] != 1 for lib in controller.info()):
                for _, tile in tiles:
                    tile()
                return
            futures = [pool.submit(tile) for _, tile in tiles]
            try:
                for future in futures:
                    future.result()
            finally:  # an error or an interrupt: nothing left running on BLAS when we leave
                for future in futures:
                    future.cancel()
                wait(futures)
