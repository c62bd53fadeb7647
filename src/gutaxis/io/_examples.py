"""The example data bundled with gutaxis (works offline).

``cfs_giloteaux_2016``: 16S V4 ASV table of 87 stool samples from ME/CFS
patients and controls with blood markers of microbial translocation
(Giloteaux et al., Microbiome 2016, doi:10.1186/s40168-016-0171-4); see
``gutaxis/data/cfs_giloteaux_2016/PROVENANCE.md``.
"""

from __future__ import annotations

import dataclasses
from importlib import resources
from pathlib import Path

from gutaxis.exceptions import NotFoundError
from gutaxis.study import Study

__all__ = ["ExampleDataset", "example_dataset", "read_example", "EXAMPLE_DATASETS"]

#: The bundled data sets, by name.
EXAMPLE_DATASETS: tuple[str, ...] = ("cfs_giloteaux_2016",)


@dataclasses.dataclass(frozen=True)
class ExampleDataset:
    """Paths of a bundled data set.

    Attributes
    ----------
    name : str
    table : pathlib.Path
        The feature table (BIOM).
    metadata : pathlib.Path
        The sample metadata (QIIME 2 TSV).
    provenance : pathlib.Path
        Where the data come from, under which licence.
    """

    name: str
    table: Path
    metadata: Path
    provenance: Path


def example_dataset(name: str = "cfs_giloteaux_2016") -> ExampleDataset:
    """Return the paths of a bundled example study.

    Parameters
    ----------
    name : str, default "cfs_giloteaux_2016"
        One of :data:`EXAMPLE_DATASETS`.

    Returns
    -------
    ExampleDataset

    Raises
    ------
    NotFoundError
        No bundled data set of that name.

    Examples
    --------
    >>> example_dataset().table.name
    'table.biom'
    """
    if name not in EXAMPLE_DATASETS:
        raise NotFoundError("example data set", [str(name)], "the bundled data",
                            available=EXAMPLE_DATASETS)
    root = Path(str(resources.files("gutaxis.data") / name))
    return ExampleDataset(name, root / "table.biom", root / "sample-metadata.tsv",
                          root / "PROVENANCE.md")


def read_example(name: str = "cfs_giloteaux_2016") -> Study:
    """Read a bundled example study: its table with the sample metadata attached.

    Parameters
    ----------
    name : str, default "cfs_giloteaux_2016"
        One of :data:`EXAMPLE_DATASETS`.

    Returns
    -------
    Study

    Examples
    --------
    >>> study = read_example()
    >>> study.n_samples, study.n_features
    (87, 2129)
    >>> study.samples["Subject"].value_counts().to_dict()
    {'Patient': 48, 'Control': 39}
    """
    from gutaxis.io._metadata import read_metadata
    from gutaxis.io._table import read_table

    data = example_dataset(name)
    return read_table(data.table).with_metadata(read_metadata(data.metadata),
                                                source=str(data.metadata))
