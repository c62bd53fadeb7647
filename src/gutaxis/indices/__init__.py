"""Health and dysbiosis indices, and the key taxa.

* :func:`gmhi` — the Gut Microbiome Health Index (Gupta et al. 2020), on
  species-level profiles only; exact to the authors' ``GMHI.R``.
* :func:`md_index` — the microbial dysbiosis index (Gevers et al. 2014) with
  QIIME 1's genus lists.
* :func:`key_taxa` — relative abundances of the knowledge base's key
  taxa, each at the deepest rank the data resolve (:func:`key_taxa_resolution`
  says which).
* :func:`compute_indices` — all of them (with QIIME 2's ``shannon_entropy``)
  as one table (``gutaxis indices`` writes it as ``indices.tsv``).

One rule for an index that does not apply (GMHI on a 16S genus table, the
MD-index on a table without genera): the function raises
:class:`NotApplicableError` (an :class:`~gutaxis.exceptions.InputError`)
saying why; :func:`compute_indices` leaves that column empty and keeps the
reason in its notes.  Nothing computes a look-alike instead.  A sample for
which an applicable index has no value of its own (GMHI with none of its 50
species, whose formula then gives 0 from the pseudocount) is "not
computable": an empty value with that status (:data:`STATUSES`), not 0.

Every taxon is looked up by its knowledge-base name and that name's synonyms
in other taxonomies (SILVA, GTDB, Greengenes …, ``taxa.yaml``); each index
says how many of its taxa were found, and as what.
"""

from gutaxis.indices._common import NotApplicableError
from gutaxis.indices._driver import (
    INDEX_COLUMNS,
    STATUS_COLUMNS,
    STATUSES,
    compute_indices,
    not_computable_reason,
)
from gutaxis.indices.gmhi import gmhi, gmhi_values
from gutaxis.indices.key_taxa import KeyTaxonMatch, key_taxa, key_taxa_resolution
from gutaxis.indices.md_index import md_index, md_index_lists, md_index_values

__all__ = [
    "NotApplicableError",
    "gmhi",
    "gmhi_values",
    "md_index",
    "md_index_values",
    "md_index_lists",
    "key_taxa",
    "key_taxa_resolution",
    "KeyTaxonMatch",
    "compute_indices",
    "INDEX_COLUMNS",
    "STATUS_COLUMNS",
    "STATUSES",
    "not_computable_reason",
]
