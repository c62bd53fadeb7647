"""A square distance matrix with its sample ids."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from gutaxis.checks import check_names
from gutaxis.exceptions import InputError, NotFoundError, ValidationError

if TYPE_CHECKING:
    import skbio

__all__ = ["DistanceMatrix"]


@dataclasses.dataclass(frozen=True, eq=False)
class DistanceMatrix:
    """Symmetric, hollow ``n × n`` float64 distances between samples.

    Parameters
    ----------
    ids : sequence of str
        Sample ids, in row/column order.
    data : numpy.ndarray
        ``n × n`` distances.  Checked for shape, symmetry (to 1e-12 relative),
        a zero diagonal and finite values.
    metric : str
        The metric's registry name (``"braycurtis"``...), or ``""``.
    validate : bool
        Skip the O(n²) checks when the producer guarantees them (kernels do).
    """

    ids: pd.Index
    data: np.ndarray
    metric: str = ""
    validate: dataclasses.InitVar[bool] = True

    def __post_init__(self, validate: bool) -> None:
        """Coerce ids to str and data to float64; check shape, unique ids and, if asked, values."""
        ids = pd.Index(list(check_names(self.ids, "the distance matrix's ids")), dtype=object)
        object.__setattr__(self, "ids", ids)
        try:
            data = np.asarray(self.data, dtype=np.float64)
        except (TypeError, ValueError):
            raise InputError(f"the distance matrix's data must be an n × n array of numbers; "
                             f"got {type(self.data).__name__} {str(self.data)[:40]!r}") from None
        object.__setattr__(self, "data", data)
        n = len(ids)
        if data.shape != (n, n):
            raise ValidationError(f"distance matrix is {data.shape} but has {n} ids")
        if ids.has_duplicates:
            raise ValidationError("distance matrix ids must be unique; duplicated: "
                                  + ", ".join(ids[ids.duplicated()][:10]))
        if validate:
            if not np.all(np.isfinite(data)):
                raise ValidationError("distance matrix contains NaN or infinite values")
            if np.any(np.diag(data) != 0):
                raise ValidationError("distance matrix must have a zero diagonal")
            if not np.allclose(data, data.T, rtol=1e-12, atol=1e-14):
                raise ValidationError("distance matrix must be symmetric")

    @property
    def shape(self) -> tuple[int, int]:
        """Shape of the square matrix, ``(n, n)``."""
        return self.data.shape

    def __len__(self) -> int:
        """Return the number of ids."""
        return len(self.ids)

    def condensed(self) -> np.ndarray:
        """Upper triangle (row-major), as :func:`scipy.spatial.distance.squareform` gives."""
        iu = np.triu_indices(len(self.ids), k=1)
        return self.data[iu]

    def subset(self, ids: list[str]) -> DistanceMatrix:
        """Return the matrix restricted to ``ids`` (in that order)."""
        pos = self.ids.get_indexer(pd.Index([str(i) for i in ids]))
        if (pos < 0).any():
            raise NotFoundError("sample id", [i for i, p in zip(ids, pos, strict=True) if p < 0],
                                "the distance matrix")
        return DistanceMatrix(self.ids[pos], self.data[np.ix_(pos, pos)], self.metric,
                              validate=False)

    def to_dataframe(self) -> pd.DataFrame:
        """Return the matrix as a square DataFrame indexed by the ids on both axes."""
        return pd.DataFrame(self.data, index=self.ids, columns=self.ids)

    def to_skbio(self) -> skbio.DistanceMatrix:
        """Return the matrix as a :class:`skbio.DistanceMatrix` with the same ids."""
        import skbio

        return skbio.DistanceMatrix(self.data, ids=list(self.ids))
