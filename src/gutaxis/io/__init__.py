"""Readers and writers: BIOM, QIIME 2 artifacts, MetaPhlAn, plain tables, metadata, trees.

Every reader validates at the boundary — sizes against the limits in
:func:`get_limits` (``GUTAXIS_MAX_*`` environment overrides), structure,
ids, values — and raises a :class:`~gutaxis.exceptions.GutaxisError`
subclass naming the file and the field or line.  Tables come back as a
:class:`~gutaxis.study.Study` whose provenance starts with
``{"step": "read", "format", "path", "sha256", "bytes", ...}``; the other
readers put the same record in ``attrs["provenance"]`` (or
:attr:`Tree.provenance <gutaxis.tree.Tree.provenance>`), so each input file
is hashed once, by the reader that reads it.

Also here: the bundled example study (:func:`example_dataset`,
:func:`read_example`) and what kind of table a study came from
(:func:`infer_sequencing`, :func:`infer_taxonomy_scheme`).
"""

from __future__ import annotations

from gutaxis.io._artifact_types import SUPPORTED_TYPES, QzaArtifact, read_qza, read_qza_table
from gutaxis.io._distance_output import write_distance
from gutaxis.io._examples import EXAMPLE_DATASETS, ExampleDataset, example_dataset, read_example
from gutaxis.io._fasta import read_sequences
from gutaxis.io._infer import (
    SEQUENCING_TYPES,
    TAXONOMY_SCHEMES,
    infer_sequencing,
    infer_taxonomy_scheme,
    parse_sequencing,
)
from gutaxis.io._limits import Limits, get_limits
from gutaxis.io._lsmat import read_lsmat, write_lsmat
from gutaxis.io._matrix_stores import (
    PCoALike,
    read_distance_hdf5,
    read_distance_zarr,
    read_pcoa_hdf5,
    write_distance_hdf5,
    write_distance_zarr,
)
from gutaxis.io._metadata import metadata_source, numeric_typos, read_metadata
from gutaxis.io._qza import is_qza
from gutaxis.io._qza_writer import (
    write_alpha_qza,
    write_distance_matrix_qza,
    write_pcoa_qza,
    write_qza,
)
from gutaxis.io._table import FORMATS, read_table, sniff_format
from gutaxis.io._taxonomy import parse_taxonomy, read_taxonomy
from gutaxis.io._tree import read_tree, write_tree
from gutaxis.io._writers import write_biom, write_table_tsv

__all__ = [
    "read_table",
    "sniff_format",
    "FORMATS",
    "read_qza",
    "read_qza_table",
    "is_qza",
    "QzaArtifact",
    "SUPPORTED_TYPES",
    "read_metadata",
    "numeric_typos",
    "metadata_source",
    "parse_taxonomy",
    "read_taxonomy",
    "read_sequences",
    "read_tree",
    "read_lsmat",
    "write_lsmat",
    "write_distance",
    "write_distance_hdf5",
    "read_distance_hdf5",
    "read_pcoa_hdf5",
    "write_distance_zarr",
    "read_distance_zarr",
    "PCoALike",
    "write_qza",
    "write_distance_matrix_qza",
    "write_alpha_qza",
    "write_pcoa_qza",
    "write_tree",
    "write_table_tsv",
    "write_biom",
    "Limits",
    "get_limits",
    "ExampleDataset",
    "EXAMPLE_DATASETS",
    "example_dataset",
    "read_example",
    "SEQUENCING_TYPES",
    "TAXONOMY_SCHEMES",
    "parse_sequencing",
    "infer_sequencing",
    "infer_taxonomy_scheme",
]
