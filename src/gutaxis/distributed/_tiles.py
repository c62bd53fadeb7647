"""The tile grid of a blockwise distance matrix and the distances of one tile.

A tile is the block of rows ``I`` and columns ``J`` of the ``n × n`` matrix,
``I`` and ``J`` being consecutive runs of ``tile_size`` samples.  Only the
upper triangle of tiles (``I ≤ J``, diagonal tiles included) is computed; the
lower triangle is its transpose.

Each tile is computed by the registered in-memory kernel of the metric
(:func:`gutaxis.diversity.get_beta_metric`), so the numbers are those of
:func:`gutaxis.diversity.beta_diversity`:

* a diagonal tile ``I × I`` is the kernel on the rows ``I``;
* an off-diagonal tile ``I × J`` is the ``I × J`` block of the kernel on the
  rows ``I`` followed by the rows ``J``.

Every beta metric of gutaxis is a function of the two samples of a pair (and
of the table's columns: all columns are kept, so Aitchison's feature count
and the tree are those of the whole table), hence the block of the kernel on
a subset of rows is the block of the kernel on the whole table.  Every beta
kernel computes such a block by itself (``n_rows``, see
:mod:`gutaxis.diversity._registry`): an off-diagonal tile costs its own
``|I|·|J|`` pairs, not those of the square on ``I ∪ J``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import numpy as np
import scipy.sparse as sp

from gutaxis.diversity import get_beta_metric

__all__ = ["TileGrid", "tile_distances"]


@dataclasses.dataclass(frozen=True)
class TileGrid:
    """Square tiles of ``tile_size`` samples over ``n`` samples.

    Examples
    --------
    >>> grid = TileGrid(n=5, tile_size=2)
    >>> grid.n_blocks, list(grid.upper())
    (3, [(0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)])
    >>> grid.rows(2)
    slice(4, 5, None)
    """

    n: int
    tile_size: int

    @property
    def n_blocks(self) -> int:
        """Number of tiles along one side."""
        return -(-self.n // self.tile_size)

    @property
    def n_tiles(self) -> int:
        """Number of tiles in the upper triangle, diagonal included."""
        k = self.n_blocks
        return k * (k + 1) // 2

    def rows(self, block: int) -> slice:
        """Return the samples of block ``block``."""
        return slice(block * self.tile_size, min(self.n, (block + 1) * self.tile_size))

    def upper(self) -> Iterator[tuple[int, int]]:
        """Yield the tiles ``(i, j)`` with ``i ≤ j``, row by row."""
        for i in range(self.n_blocks):
            for j in range(i, self.n_blocks):
                yield i, j


def tile_distances(counts: sp.csr_matrix, metric: str, rows: slice, cols: slice,
                   options: dict[str, Any]) -> np.ndarray:
    """Distances between the samples ``rows`` and the samples ``cols``.

    Parameters
    ----------
    counts : scipy.sparse.csr_matrix
        The whole table (samples × features).
    metric : str
        A registered beta metric.
    rows, cols : slice
        Two blocks of samples, either equal or not overlapping.
    options : dict
        Keyword arguments of the kernel (``tree``, ``feature_ids``,
        ``pseudocount``, ``n_threads``), as the in-memory driver passes them.

    Returns
    -------
    numpy.ndarray
        ``len(rows) × len(cols)`` float64.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> x = sp.csr_matrix(np.array([[1, 2, 0], [0, 3, 4], [5, 0, 0]]))
    >>> tile_distances(x, "braycurtis", slice(0, 1), slice(1, 3), {})
    array([[0.6 , 0.75]])
    """
    kernel = get_beta_metric(metric).func
    if rows == cols:
        return np.asarray(kernel(counts[rows], **options), dtype=np.float64)
    both = sp.vstack([counts[rows], counts[cols]], format="csr")
    block = kernel(both, **options, n_rows=rows.stop - rows.start)
    return np.ascontiguousarray(block, dtype=np.float64)
