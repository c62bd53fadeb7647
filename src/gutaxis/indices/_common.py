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

Every lookup of a taxon by name — the MD-index's genera, the GMHI species,
the key taxa — goes through :func:`match_names`: the knowledge base's name
and its synonyms in other taxonomies (:meth:`TaxaCatalog.spellings
<gutaxis.knowledge.TaxaCatalog.spellings>`), compared as
:func:`~gutaxis.knowledge.normalise_taxon` writes them.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from gutaxis.exceptions import InputError
from gutaxis.io import parse_taxonomy
from gutaxis.knowledge import TaxaCatalog, normalise_taxon
from gutaxis.study import RANKS, Study

__all__ = [
    "NotApplicableError",
    "NameMatch",
    "index_taxonomy",
    "species_profile_problem",
    "fractions",
    "match_names",
    "describe_found",
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


@dataclasses.dataclass(frozen=True)
class NameMatch:
    """The features that one name of the knowledge base matches in a table.

    Attributes
    ----------
    name : str
        The name as the knowledge base writes it.
    mask : numpy.ndarray of bool
        The features it matches (under that name or a synonym).
    spellings : tuple of str
        The table's own spellings of those features, where they differ from
        ``name`` (``"Escherichia-Shigella"``), in the order first met.
    """

    name: str
    mask: np.ndarray
    spellings: tuple[str, ...] = ()

    def present(self, abundance: np.ndarray) -> bool:
        """Tell whether a matched feature has a non-zero ``abundance`` (one value per feature)."""
        return bool(np.any(abundance[self.mask] > 0))


def _plain(name: str) -> str:
    """Return a name without its rank prefix, ``_`` as a space, case ignored (suffixes kept)."""
    return " ".join(_PREFIXED_ID.sub("", str(name).strip()).replace("_", " ").split()).casefold()


def _names_column(tax: pd.DataFrame, rank: str) -> pd.Series:
    return tax["binomial"] if rank == "species" else tax[rank]


def match_names(tax: pd.DataFrame, rank: str, names: Sequence[str],
                catalog: TaxaCatalog) -> list[NameMatch]:
    """Find the features each of ``names`` (at ``rank``) names, through the synonyms.

    Parameters
    ----------
    tax : pandas.DataFrame
        From :func:`index_taxonomy` (species are matched on ``binomial``).
    rank : str
    names : sequence of str
        Names as the knowledge base writes them.
    catalog : TaxaCatalog
        Where the synonyms come from.

    Returns
    -------
    list of NameMatch
        One per name, in order.  A feature matched by a synonym with a
        ``within`` condition counts only where its name at that rank is
        unknown or the one the condition names.

    Examples
    --------
    >>> from gutaxis.knowledge import load_taxa_catalog
    >>> tax = pd.DataFrame({"family": ["Enterobacteriaceae", None],
    ...                     "genus": ["Escherichia-Shigella", "Blautia"],
    ...                     "species": [None, None]}, index=["a", "b"])
    >>> tax["binomial"] = None
    >>> m = match_names(tax, "genus", ["Escherichia"], load_taxa_catalog())[0]
    >>> m.mask.tolist(), m.spellings
    ([True, False], ('Escherichia-Shigella',))
    """
    column = _names_column(tax, rank)
    keys = {v: normalise_taxon(v) for v in column.dropna().unique() if isinstance(v, str)}
    values = column.to_numpy(dtype=object)
    within_ranks = [r for r in RANKS if r in tax.columns]
    out = []
    for name in names:
        by_key = {s.key: s for s in catalog.spellings(name, rank)}
        mask = np.zeros(len(values), dtype=bool)
        seen: dict[str, None] = {}
        for i, value in enumerate(values):
            spelling = by_key.get(keys.get(value, "")) if isinstance(value, str) else None
            if spelling is None or not spelling.allows(
                    {r: tax.iloc[i][r] for r in within_ranks} if spelling.synonym else {}):
                continue
            mask[i] = True
            if _plain(value) != _plain(name):
                seen.setdefault(str(value).strip(), None)
        out.append(NameMatch(str(name), mask, tuple(seen)))
    return out


def describe_found(matches: Sequence[NameMatch], abundance: np.ndarray, what: str) -> str:
    """Say how many of ``matches``' names were found with a non-zero abundance, and as what.

    Parameters
    ----------
    matches : sequence of NameMatch
    abundance : numpy.ndarray
        One total per feature (over the samples considered).
    what : str
        What the names are, plural (``"increased genera"``).

    Returns
    -------
    str
        ``"increased genera found: 3 of 4 (Escherichia as Escherichia-Shigella,
        Fusobacterium, Veillonella; not found: Haemophilus)"``.
    """
    found = [m for m in matches if m.present(abundance)]
    missing = [m.name for m in matches if not m.present(abundance)]
    shown = [f"{m.name} as {' and '.join(m.spellings)}" if m.spellings else m.name
             for m in found]
    parts = ", ".join(shown)
    if missing:
        parts = f"{parts}; not found: {', '.join(missing)}" if parts else \
            f"not found: {', '.join(missing)}"
    return f"{what} found: {len(found)} of {len(matches)} ({parts})"
