"""Blockwise beta diversity on a Dask cluster, written tile by tile into zarr, resumable."""

from __future__ import annotations

import contextlib
import dataclasses
import numbers
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import scipy.sparse as sp

from gutaxis.distributed._store import (
    DTYPES,
    done_tiles,
    prepare_store,
    unreadable_tiles,
    write_tile,
)
from gutaxis.distributed._tiles import TileGrid, tile_distances
from gutaxis.diversity import applicable_metrics, get_beta_metric
from gutaxis.exceptions import InputError, NotFoundError
from gutaxis.outputs import hold_folder
from gutaxis.study import Study, check_study

__all__ = ["BlockwiseRun", "blockwise_beta_diversity", "dask_client"]

#: How long an interrupted run waits for the tiles its workers are computing.
_SETTLE_SECONDS = 600.0


def _running(prefix: str, dask_worker: Any = None) -> int:
    """Tasks of this run a worker is executing (run on each worker by ``client.run``)."""
    return sum(1 for task in dask_worker.state.executing if str(task.key).startswith(prefix))


def _wait_for_running_tiles(client: Any, prefix: str) -> None:
    """Return when no worker computes a tile of this run any more.

    Cancelling a future does not stop a task a worker has begun; it still
    writes its tile (and its marker) into the store.  Waiting for those makes
    an interrupted call leave the store as it will stay, so that a reader, a
    resumed run or the user moving the folder does not race with it.
    """
    deadline = time.monotonic() + _SETTLE_SECONDS
    while time.monotonic() < deadline:
        try:
            if not sum(client.run(_running, prefix).values()):
                return
        except Exception:  # noqa: BLE001 - a lost worker or a closed cluster writes no more
            return
        time.sleep(0.05)


@dataclasses.dataclass(frozen=True)
class BlockwiseRun:
    """What one call of :func:`blockwise_beta_diversity` did.

    Attributes
    ----------
    store : pathlib.Path
        The zarr store holding the distances.
    metric : str
        The metric's registry name.
    n_samples, tile_size, n_tiles : int
        Matrix size, tile side and number of tiles in the upper triangle.
    computed : tuple of (int, int)
        The tiles this call computed, in order of completion.
    skipped : int
        Tiles found already written (a resumed run), not recomputed.
    tile_seconds : tuple of float
        Time of each computed tile in its worker (kernel + write).
    seconds : float
        Wall time of the call.
    damaged : int
        Tiles marked written whose values could not be read back (a chunk
        lost or cut short since): computed again, counted in ``computed``.
    """

    store: Path
    metric: str
    n_samples: int
    tile_size: int
    n_tiles: int
    computed: tuple[tuple[int, int], ...]
    skipped: int
    tile_seconds: tuple[float, ...]
    seconds: float
    damaged: int = 0


def _run_tile(store: Path, counts: sp.csr_matrix, metric: str, options: dict[str, Any],
              grid: TileGrid, block_i: int, block_j: int) -> tuple[int, int, float]:
    """Compute tile ``(block_i, block_j)`` and write it (runs in a worker)."""
    start = time.perf_counter()
    rows, cols = grid.rows(block_i), grid.rows(block_j)
    values = tile_distances(counts, metric, rows, cols, options)
    write_tile(store, block_i, block_j, rows, cols, values)
    return block_i, block_j, time.perf_counter() - start


@contextlib.contextmanager
def dask_client(cluster: Any) -> Iterator[Any]:
    """Yield a Dask client for ``cluster``: a Client, a scheduler address, or "local".

    Several blockwise calls in a row can share one cluster this way (a local
    cluster starts once).

    Parameters
    ----------
    cluster : {"local"} or str or distributed.Client
        ``"local"``: a local Dask cluster (Dask's default workers for this
        machine), closed when the block ends; a scheduler address
        (``tcp://host:8786``); or a connected client, used as it is.

    Raises
    ------
    InputError
        Dask is not installed; the scheduler cannot be reached; ``cluster``
        is none of the above.
    """
    try:
        import distributed
    except ImportError:  # pragma: no cover - the extra is installed in development
        raise InputError("blockwise beta diversity needs Dask: pip install "
                         "'gutaxis[distributed]'") from None
    if isinstance(cluster, distributed.Client):
        yield cluster
        return
    if cluster is None or cluster == "local":
        local = distributed.LocalCluster(dashboard_address=":0")  # type: ignore[no-untyped-call]
        with local, distributed.Client(local) as client:  # type: ignore[no-untyped-call]
            yield client
        return
    if isinstance(cluster, str) and "://" in cluster:
        try:
            client = distributed.Client(cluster, timeout=30)  # type: ignore[no-untyped-call]
        except OSError as exc:
            raise InputError(f"cannot reach the Dask scheduler at {cluster}: {exc}") from None
        with client:
            yield client
        return
    raise InputError(f"`cluster` must be 'local', a scheduler address such as "
                     f"tcp://host:8786, or a distributed.Client; got {cluster!r}")


def blockwise_beta_diversity(study: Study, metric: str, store: str | Path, *,
                             cluster: Any = "local", tile_size: int = 1024,
                             dtype: str = "float64", pseudocount: float | None = None,
                             n_threads: int = 1,
                             on_tile: Callable[[int, int], None] | None = None,
                             ) -> BlockwiseRun:
    """Distances between every pair of samples, tile by tile on Dask, into a zarr store.

    Each tile of the upper triangle is one Dask task that computes the tile
    with the in-memory kernel of the metric (see :mod:`gutaxis.distributed`)
    and writes it, with its mirror, straight into the store; no process ever
    holds the ``n × n`` matrix.  Tiles already in the store are not computed
    again, so a run that was stopped (a worker killed, the client stopped)
    resumes when called again with the same arguments; a resumed run first
    reads back every tile marked written, and computes again those that
    cannot be read whole.  The store is held for the call: a second call
    into it (another process) is refused.

    Parameters
    ----------
    study : Study
        Counts or relative abundances (with a tree for the UniFrac metrics).
    metric : str
        A beta metric (see :func:`gutaxis.diversity.beta_metrics`).
    store : str or pathlib.Path
        Folder of the zarr store (created; an existing one must come from
        the same table, metric, options, tile size and dtype).  On a real
        cluster it must be on a file system every worker mounts.
    cluster : {"local"} or str or distributed.Client
        ``"local"`` (default): a local Dask cluster, closed at the end; a
        scheduler address (``tcp://host:8786``); or a connected client.
    tile_size : int
        Samples per tile side (also the zarr chunk side; at most the number
        of samples: a larger one is taken as that).  A worker holds
        about ``(2 · tile_size)² · 8`` bytes for the kernel's square plus the
        table (1024: 32 MiB).
    dtype : {"float64", "float32"}
        Stored precision (float32 halves the disk; values rounded once).
    pseudocount : float, optional
        For ``aitchison`` only, as in :func:`gutaxis.diversity.beta_diversity`.
    n_threads : int
        Threads of each tile's kernel (default 1: Dask runs tiles in parallel).
    on_tile : callable, optional
        Called as ``on_tile(done, total)`` in the client after each tile is
        written (``done`` counts tiles already in the store).  An exception it
        raises stops the run; what was written stays.

    Returns
    -------
    BlockwiseRun
        Which tiles were computed and which were found written.  Read the
        matrix with :func:`read_distances`.

    Raises
    ------
    InputError
        Unknown or inapplicable metric, bad ``tile_size``/``dtype``/``cluster``.
    NotFoundError
        A feature id is not a tip of the tree.
    ValidationError
        ``store`` holds distances made from other inputs, or is damaged.
    OutputError
        Another run is writing into ``store``.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib, distributed
    >>> from gutaxis.distributed import read_distances
    >>> from gutaxis.study import Study
    >>> s = Study(np.array([[1, 2, 0], [0, 3, 4], [5, 0, 0]]), ["a", "b", "c"], ["x", "y", "z"])
    >>> store = pathlib.Path(tempfile.mkdtemp()) / "bc.zarr"
    >>> with distributed.Client(processes=False, n_workers=1, dashboard_address=":0") as c:
    ...     run = blockwise_beta_diversity(s, "braycurtis", store, cluster=c, tile_size=2)
    >>> len(run.computed), run.skipped
    (3, 0)
    >>> read_distances(store).data[0]
    array([0.  , 0.6 , 0.75])
    """
    started = time.perf_counter()
    check_study(study)
    resolved = get_beta_metric(metric)
    applicable_metrics(study, [resolved.name], asked=[resolved.name])
    if (isinstance(tile_size, bool) or not isinstance(tile_size, numbers.Integral)
            or tile_size < 2):
        raise InputError(f"`tile_size` must be an integer ≥ 2; got {tile_size!r}.")
    if dtype not in DTYPES:
        raise InputError(f"`dtype` must be one of {', '.join(DTYPES)}; got {dtype!r}.")
    if (isinstance(n_threads, bool) or not isinstance(n_threads, numbers.Integral)
            or n_threads < 1):
        raise InputError(f"`n_threads` must be an integer ≥ 1; got {n_threads!r}.")
    options: dict[str, Any] = {}
    if resolved.needs_tree and study.tree is not None:
        missing = study.tree.missing_tips(study.feature_ids)
        if missing:
            raise NotFoundError("feature id", missing, "the tree's tips")
        options.update(tree=study.tree, feature_ids=list(map(str, study.feature_ids)))
    if pseudocount is not None and "pseudocount" in resolved.options:
        options["pseudocount"] = pseudocount
    if "n_threads" in resolved.options:
        options["n_threads"] = int(n_threads)
    path = Path(store)
    # a tile larger than the matrix is the matrix (a huge --tile-size allocated exabytes)
    grid = TileGrid(study.n_samples, min(int(tile_size), max(2, study.n_samples)))
    resumed = path.exists() and any(path.iterdir())
    with hold_folder(path):  # a second run into the same store is refused, before any check
        prepare_store(path, study, resolved.name, tile_size=grid.tile_size, dtype=dtype,
                      options=options)
        done = done_tiles(path)
        damaged = unreadable_tiles(path, grid, done) if resumed and done.any() else []
        for i, j in damaged:
            done[i, j] = False
        return _compute(study, resolved.name, path, grid, done, options, cluster, on_tile,
                        started, len(damaged))


def _compute(study: Study, metric: str, path: Path, grid: TileGrid, done: Any,
             options: dict[str, Any], cluster: Any,
             on_tile: Callable[[int, int], None] | None, started: float,
             damaged: int) -> BlockwiseRun:
    """Compute the tiles not ``done`` on ``cluster``; what the call did."""
    todo = [(i, j) for i, j in grid.upper() if not done[i, j]]
    skipped = grid.n_tiles - len(todo)
    computed: list[tuple[int, int]] = []
    seconds: list[float] = []
    if todo:
        import distributed

        with dask_client(cluster) as client:
            counts = client.scatter(sp.csr_matrix(study.counts), broadcast=True)
            shared = client.scatter(options, broadcast=True)
            prefix = f"gutaxis-tile-{path.name}-{time.time_ns()}-"
            futures = [client.submit(_run_tile, path, counts, metric, shared, grid, i, j,
                                     key=f"{prefix}{i}-{j}", pure=False)
                       for i, j in todo]
            try:
                for future in distributed.as_completed(futures):  # type: ignore[no-untyped-call]
                    i, j, s = future.result()
                    computed.append((i, j))
                    seconds.append(s)
                    if on_tile is not None:
                        on_tile(skipped + len(computed), grid.n_tiles)
            finally:
                client.cancel(futures)
                _wait_for_running_tiles(client, prefix)
    return BlockwiseRun(store=path, metric=metric, n_samples=grid.n,
                        tile_size=grid.tile_size, n_tiles=grid.n_tiles,
                        computed=tuple(computed), skipped=skipped,
                        tile_seconds=tuple(seconds), seconds=time.perf_counter() - started,
                        damaged=damaged)

