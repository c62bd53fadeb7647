"""Helpers shared by the indices.

The not-applicable error, the features' taxonomy as the indices read it, and
abundances as fractions of each sample.

The taxonomy seen by the indices is :attr:`Study.taxonomy` with two
additions:

* ``binomial`` — the species with its genus: a species name that already
  holds the genus (MetaPhlAn ``Faecalibacterium_prausnitzii``, GTDB
  ``Faecalibacterium prausnitzii``) is kept as written; a bare Greengenes
  epithet (``prausnitzii``) is joined to its genus with a space.  Placeholders
  (``uncultured …``, ``unidentified …``, ``… metagenome``) count as no species.
* a genus taken from ``binomial`` when the taxonomy has none (a MetaPhlAn
  table of species names alone): its first word, unless that word is not
  capitalised, ends like a family or an order (``-aceae``, ``-ales``, as in
  MetaPhlAn's ``Lachnospiraceae_bacterium_…``), or the name is a virus or a
  phage.

A study without taxonomy whose feature ids are clade names or prefixed
lineages (``s__Genus_species``, ``k__…|…|s__…``, ``k__…;…;g__…``) has them
parsed.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import scipy.sparse as sp

from gutaxis.exceptions import InputError
from gutaxis.io import parse_taxonomy
from gutaxis.study import RANKS, Study

__all__ = [
    "NotApplicableError",
    "index_taxonomy",
    "species_profile_problem",
    "fractions",
]

_PREFIXED_ID = re.compile(r"^[kdpcofgst]__", re.IGNORECASE)
_PLACEHOLDER = re.compile(r"^(uncultured|unidentified|unknown|unassigned)(?=[\s_]|$)|metagenome",
                          re.IGNORECASE)
_SEPARATOR = re.compile(r"[\s_]")
_NOT_A_GENUS = re.compile(r"(aceae|ales)$")
_VIRAL = re.compile(r"virus|phage", re.IGNORECASE)
_GENUS_WORD = re.compile(r"^\[?[A-Z][A-Za-z-]*\]?$")


class NotApplicableError(InputError):
    """An index that is not defined for the data given.

    Raised, never returned: :func:`gutaxis.indices.gmhi` and
    :func:`gutaxis.indices.md_index` either give a value per sample or raise
    this; :func:`gutaxis.indices.compute_indices` catches it, leaves the
    column empty and keeps ``reason`` in its notes.

    Parameters
    ----------
    index : str
        The index (``"gmhi"``, ``"md_index"``).
    reason : str
        Why, and what would make it applicable.
    """

    def __init__(self, index: str, reason: str) -> None:
        self.index = index
        self.reason = reason
        super().__init__(f"{index} is not applicable: {reason}")


def _binomial(species: object, genus: object) -> str | None:
    if not isinstance(species, str) or not species.strip():
        return None
    text = " ".join(species.split())
    if _PLACEHOLDER.search(text):
        return None
    if _SEPARATOR.search(text):
        return text
    if isinstance(genus, str) and genus.strip():
        return f"{genus.strip()} {text}"
    return None


def _genus_from(binomial: str | None) -> str | None:
    if binomial is None or _VIRAL.search(binomial):
        return None
    word = _SEPARATOR.split(binomial, maxsplit=1)[0]
    if not _GENUS_WORD.match(word) or _NOT_A_GENUS.search(word.strip("[]")):
        return None
    return word


def index_taxonomy(study: Study) -> pd.DataFrame | None:
    """Return the features' taxonomy as the indices read it (see the module notes).

    Parameters
    ----------
    study : Study

    Returns
    -------
    pandas.DataFrame or None
        Indexed by feature id; columns :data:`gutaxis.study.RANKS` and
        ``binomial`` (``None`` where unassigned).  ``None`` when the study has
        no taxonomy and its feature ids are not taxon names.

    Examples
    --------
    >>> s = Study(np.ones((1, 2)), ["a"], ["s__Escherichia_coli",
    ...           "s__Lachnospiraceae_bacterium_8_1_57FAA"], kind="relative")
    >>> index_taxonomy(s)[["genus", "binomial"]].to_numpy().tolist()
    [['Escherichia', 'Escherichia_coli'], [None, 'Lachnospiraceae_bacterium_8_1_57FAA']]
    """
    if study.taxonomy is not None:
        tax = study.taxonomy.reindex(columns=list(RANKS)).astype(object)
    else:
        ids = [str(f) for f in study.feature_ids]
        if not ids or not all(_PREFIXED_ID.match(f) for f in ids):
            return None
        tax = parse_taxonomy(ids, index=ids)
    tax = tax.where(tax.notna(), None).copy()
    binomials = [_binomial(s, g) for s, g in zip(tax["species"], tax["genus"], strict=True)]
    tax["binomial"] = pd.Series(binomials, index=tax.index, dtype=object)
    missing_genus = tax["genus"].isna().to_numpy()
    if missing_genus.any():
        derived = [_genus_from(b) if m else g for b, g, m in
                   zip(binomials, tax["genus"], missing_genus, strict=True)]
        tax["genus"] = pd.Series(derived, index=tax.index, dtype=object)
    return tax


def species_profile_problem(study: Study, tax: pd.DataFrame | None,
                            dropped: np.ndarray | None = None) -> str | None:
    """Why ``study`` is not a species-level profile, or ``None`` when it is one.

    A species-level profile (what MetaPhlAn reports) names a species for
    every feature with abundance, apart from the features in ``dropped``
    (e.g. MetaPhlAn's ``…_unclassified`` rows).  A 16S table where only some
    reads were classified to species is not one, nor is a genus table.

    Parameters
    ----------
    study : Study
    tax : pandas.DataFrame or None
        From :func:`index_taxonomy`.
    dropped : numpy.ndarray of bool, optional
        Features to ignore.
    """
    if tax is None:
        return (f"{study.source} has no taxonomy, and its feature ids are not taxon names; "
                "give the taxonomy (--taxonomy) or a MetaPhlAn species profile")
    named = tax["binomial"].notna().to_numpy()
    present = study.counts.getnnz(axis=0) > 0
    considered = present if dropped is None else present & ~dropped
    if not named[considered].any():
        deepest = next((r for r in reversed(RANKS[:-1]) if tax[r].notna().any()), None)
        where = f"its deepest resolved rank is {deepest}" if deepest else "it has no names"
        return (f"{study.source} is not a species-level profile: no feature is assigned to a "
                f"species ({where})")
    unnamed = considered & ~named
    if unnamed.any():
        weights = np.asarray(study.counts.sum(axis=0), dtype=np.float64).ravel()
        share = weights[unnamed].sum() / weights[considered].sum() if weights.any() else 0.0
        return (f"{study.source} is not a species-level profile: {int(unnamed.sum()):,} of "
                f"{int(considered.sum()):,} features ({share:.1%} of the abundance) have no "
                "species assignment, as in a 16S table classified to genus")
    return None


def fractions(study: Study) -> tuple[sp.csr_matrix, np.ndarray]:
    """Each sample divided by its total, and which samples are empty.

    Returns
    -------
    values : scipy.sparse.csr_matrix
        float64; rows of empty samples are all zero.
    empty : numpy.ndarray of bool
        Samples whose total is 0 (their indices are NaN).
    """
    totals = study.sample_totals()
    empty = totals <= 0
    inv = np.divide(1.0, totals, out=np.zeros_like(totals), where=~empty)
    return sp.csr_matrix(sp.diags(inv) @ study.counts.astype(np.float64)), empty
