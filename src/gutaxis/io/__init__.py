"""Readers and writers: BIOM, QIIME 2 artifacts, MetaPhlAn, plain tables, metadata.

Every reader validates at the boundary — sizes against the limits in
:func:`get_limits` (``GUTAXIS_MAX_*`` environment overrides), structure,
ids, values — and raises a :class:`~gutaxis.exceptions.GutaxisError`
subclass naming the file and the field or line.  Tables come back as a
:class:`~gutaxis.study.Study` whose provenance starts with
``{"step": "read", "format", "path", "sha256", ...}``.
"""

from __future__ import annotations

from gutaxis.io._fasta import read_sequences
from gutaxis.io._limits import Limits, get_limits
from gutaxis.io._lsmat import read_lsmat, write_lsmat
from gutaxis.io._metadata import read_metadata
from gutaxis.io._qza import SUPPORTED_TYPES, QzaArtifact, is_qza, read_qza, read_qza_table
from gutaxis.io._table import FORMATS, read_table, sniff_format
from gutaxis.io._taxonomy import parse_taxonomy, read_taxonomy
from gutaxis.io._writers import write_biom, write_table_tsv
from gutaxis.provenance import file_sha256

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
    "parse_taxonomy",
    "read_taxonomy",
    "read_sequences",
    "read_lsmat",
    "write_lsmat",
    "write_table_tsv",
    "write_biom",
    "file_sha256",
    "Limits",
    "get_limits",
]
