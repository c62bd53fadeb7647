"""All the indices of a table in one frame (``gutaxis indices`` writes it as ``indices.tsv``)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from gutaxis.diversity import alpha_diversity
from gutaxis.indices._common import NotApplicableError, index_taxonomy
from gutaxis.indices.gmhi import gmhi, gmhi_coverage
from gutaxis.indices.key_taxa import key_taxa
from gutaxis.indices.md_index import md_index, md_index_lists
from gutaxis.study import Study, check_study

__all__ = ["compute_indices", "INDEX_COLUMNS"]

logger = logging.getLogger(__name__)

#: The columns before the key taxa's, in order (``sample_id`` is the index).
INDEX_COLUMNS = ("gmhi", "md_index", "shannon_entropy")


def _gmhi_notes(study: Study) -> list[str]:
    tax = index_taxonomy(study)
    if tax is None:
        return []
    names = ["s__" + b.replace(" ", "_") for b in tax["binomial"].dropna()]
    coverage = gmhi_coverage(names)
    found = ", ".join(f"{k} {n}/{size}" for k, (n, size) in coverage.items())
    return [f"GMHI species-set names found among the features: {found} (the sets use "
            "MetaPhlAn2 names; an absent name counts as an absent species)"]


def compute_indices(study: Study) -> tuple[pd.DataFrame, dict[str, str]]:
    """Compute GMHI, MD-index, Shannon entropy and the key taxa of every sample.

    Parameters
    ----------
    study : Study
        Counts or relative abundances (MetaPhlAn percentages included), with
        a taxonomy for the MD-index and the key taxa.

    Returns
    -------
    frame : pandas.DataFrame
        Index ``sample_id``; columns ``gmhi``, ``md_index``,
        ``shannon_entropy``, then the key taxa's columns (fractions 0–1, see
        :func:`~gutaxis.indices.key_taxa`).  An index that is not
        applicable is an all-NaN column (an empty cell in ``indices.tsv``).
        ``frame.attrs["resolution"]`` is how each key taxon was measured.
    notes : dict of str
        Column → what to know about it: why ``gmhi`` or ``md_index`` is
        empty, which MD-index lists were used, at which rank each key taxon
        was measured.

    Raises
    ------
    InputError
        ``study`` is not a Study.

    Notes
    -----
    ``shannon_entropy`` is QIIME 2's (base 2) from
    :func:`gutaxis.diversity.alpha_diversity`, on the table as given: it
    divides each sample by its total, so percentages, fractions and counts
    give the same value; on a count table it is not rarefied here.

    References
    ----------
    .. [1] Gupta, V. K. et al. (2020). *Nat. Commun.* 11, 4635 (GMHI).
    .. [2] Gevers, D. et al. (2014). *Cell Host Microbe* 15, 382 (MD-index).
    .. [3] Shannon, C. E. (1948). *Bell System Technical Journal* 27, 379.

    Examples
    --------
    >>> s = Study(np.array([[60.0, 40.0]]), ["S1"],
    ...           ["s__Alistipes_senegalensis", "s__Klebsiella_pneumoniae"], kind="relative")
    >>> frame, notes = compute_indices(s)
    >>> frame.loc["S1", ["gmhi", "shannon_entropy"]].round(4).tolist()
    [0.5683, 0.971]
    >>> print(notes["md_index"])  # doctest: +NORMALIZE_WHITESPACE
    not applicable: none of the increased genus names of the MD-index
    (Escherichia, Haemophilus, Fusobacterium, Veillonella) occurs in <memory>
    """
    check_study(study)
    index = pd.Index(study.sample_ids, name="sample_id")
    notes: dict[str, str] = {}
    columns: dict[str, pd.Series] = {}
    try:
        columns["gmhi"] = gmhi(study)
        notes["gmhi"] = " ".join(_gmhi_notes(study))
    except NotApplicableError as exc:
        columns["gmhi"] = pd.Series(np.nan, index=index)
        notes["gmhi"] = f"not applicable: {exc.reason}"
    chosen = md_index_lists()
    try:
        columns["md_index"] = md_index(study)
        notes["md_index"] = (f"ln(increased / decreased) with the {chosen.id} genus lists "
                             f"({chosen.label}); NaN where the decreased genera sum to 0, "
                             "-inf where only the increased genera do")
    except NotApplicableError as exc:
        columns["md_index"] = pd.Series(np.nan, index=index)
        notes["md_index"] = f"not applicable: {exc.reason}"
    columns["shannon_entropy"] = alpha_diversity(study, ["shannon_entropy"])["shannon_entropy"]
    notes["shannon_entropy"] = "Shannon entropy in bits (QIIME 2's shannon_entropy)"
    panel = key_taxa(study)
    frame = pd.DataFrame({k: v.to_numpy(dtype=np.float64) for k, v in columns.items()},
                         index=index)
    frame = frame.join(panel.set_axis(index, axis=0))
    resolution = panel.attrs["resolution"]
    for column, match in resolution.items():
        notes[column] = match["note"]
    frame.attrs["resolution"] = resolution
    return frame, notes
