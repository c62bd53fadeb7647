"""The names :func:`gutaxis.report.write_results` writes, in a module light to import.

The command line reads them when it builds its options (``--overwrite`` replaces
exactly these), before any analysis library is loaded.
"""

from __future__ import annotations

__all__ = ["RESULT_FILES"]

#: Everything :func:`write_results` may write into its folder (what ``--overwrite`` replaces).
RESULT_FILES = ("results.json", "provenance.json", "alpha.tsv", "alpha_tests.tsv", "beta",
                "beta_tests.tsv", "phylum_abundance.tsv", "differential_abundance.tsv",
                "marker_tests.tsv", "marker_correlations.tsv", "marker_taxon_associations.tsv",
                "classifier.tsv")
