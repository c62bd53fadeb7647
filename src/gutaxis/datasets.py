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

__all__ = ["ExampleDataset", "example_dataset"]


@dataclasses.dataclass(frozen=True)
class ExampleDataset:
    """Paths of a bundled data set."""

    name: str
    table: Path
    metadata: Path
    provenance: Path


def example_dataset(name: str = "cfs_giloteaux_2016") -> ExampleDataset:
    """Paths of the bundled example study.

    Examples
    --------
    >>> example_dataset().table.name
    'table.biom'
    """
    root = Path(str(resources.files("gutaxis.data") / name))
    if not root.is_dir():
        available = sorted(p.name for p in Path(str(resources.files("gutaxis.data"))).iterdir()
                           if p.is_dir() and not p.name.startswith("_"))
        raise ValueError(f"no bundled data set {name!r}; available: {', '.join(available)}")
    return ExampleDataset(name, root / "table.biom", root / "sample-metadata.tsv",
                          root / "PROVENANCE.md")
