"""The knowledge base: versioned data files with their sources.

Clinical content (markers, units, what a marker indicates, caveats) is data in
YAML files shipped with the package, never constants in code.  Each file has a
``schema_version`` and a ``version``; every entry names at least one source
(DOI, PMID, guideline or URL).  The loaders validate the files with pydantic
models, so a malformed entry fails loudly (and the test suite checks the
shipped files).

Public names: :func:`load_marker_catalog`, :class:`MarkerEntry`,
:class:`MarkerCatalog`, :class:`Source`.
"""

from gutaxis.knowledge._markers import MarkerCatalog, MarkerEntry, Source, load_marker_catalog
from gutaxis.knowledge._taxa import (
    Association,
    Finding,
    TaxaCatalog,
    TaxonEntry,
    gmhi_species_sets,
    load_taxa_catalog,
)

__all__ = ["MarkerCatalog", "MarkerEntry", "Source", "load_marker_catalog",
           "TaxaCatalog", "TaxonEntry", "Association", "Finding", "load_taxa_catalog",
           "gmhi_species_sets"]
