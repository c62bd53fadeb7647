"""Beta diversity for cohorts beyond one machine: Dask tiles into a chunked zarr matrix.

:func:`blockwise_beta_diversity` splits the ``n × n`` matrix into square
tiles (the upper triangle, diagonal tiles included); each tile is a Dask task
computed by the same kernel as :func:`gutaxis.diversity.beta_diversity` and
written, with its mirror, straight into a zarr store whose chunks are the
tiles.  A completion marker per tile makes an interrupted run resume.
:func:`read_distances` loads a finished store as a
:class:`~gutaxis.distance.DistanceMatrix`; :func:`blockwise_pcoa` orders a
finished store and :func:`blockwise_permanova` tests a grouping on it, without
ever holding the matrix.

Needs the ``[distributed]`` extra (``dask[distributed]``, ``zarr``).
"""

from gutaxis.distributed._driver import BlockwiseRun, blockwise_beta_diversity, dask_client
from gutaxis.distributed._ordination import blockwise_pcoa
from gutaxis.distributed._permanova import blockwise_permanova
from gutaxis.distributed._store import read_distances
from gutaxis.distributed._tiles import TileGrid

__all__ = ["blockwise_beta_diversity", "BlockwiseRun", "dask_client", "read_distances",
           "blockwise_pcoa", "blockwise_permanova", "TileGrid"]
