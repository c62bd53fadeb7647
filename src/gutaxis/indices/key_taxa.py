"""The key taxa: the relative abundance of the knowledge base's key taxa.

The key taxa are those with ``panel: true`` in ``taxa.yaml``; each is taken at
the deepest rank it is defined at that the data resolve.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd

from gutaxis.checks import check_type
from gutaxis.indices._common import (
    fractions,
    index_taxonomy,
    match_names,
    species_profile_problem,
)
from gutaxis.knowledge import TaxaCatalog, TaxonEntry, load_taxa_catalog
from gutaxis.study import Study, check_study

__all__ = ["key_taxa", "key_taxa_resolution", "KeyTaxonMatch"]


@dataclasses.dataclass(frozen=True)
class KeyTaxonMatch:
    """How one key taxon was measured in a study.

    Attributes
    ----------
    id, name : str
        The knowledge-base entry.
    rank : str
        The rank the entry is defined at (``"group"`` for a sum of entries).
    matched_rank : str or None
        The rank it was measured at; ``None`` when the data do not resolve
        any of its ranks (the values are then NaN).
    matched_as : str or None
        What was summed, e.g. ``"genus Faecalibacterium"``.
    n_features : int
        Features summed.
    note : str
        One sentence for reports.
    spellings : tuple of str
        The table's names of those features where they differ from the
        knowledge base's (a synonym such as ``Agathobacter rectalis``, GTDB's
        ``Ruminococcus_B gnavus``).
    """

    id: str
    name: str
    rank: str
    matched_rank: str | None
    matched_as: str | None
    n_features: int
    note: str
    spellings: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """Return the fields as a plain dict (for JSON; ``spellings`` as a list).

        Returns
        -------
        dict
        """
        out = dataclasses.asdict(self)
        out["spellings"] = list(self.spellings)
        return out


def _measure(entry: TaxonEntry, tax: pd.DataFrame | None, species_problem: str | None,
             rel: Any, empty: np.ndarray, n_samples: int,
             catalog: TaxaCatalog) -> tuple[np.ndarray, KeyTaxonMatch]:
    reasons: list[str] = []
    if tax is None:
        reasons.append("the table has no taxonomy")
    else:
        for rank in entry.match_ranks():
            if rank == "species":
                if species_problem is not None:
                    reasons.append("the table is not a species-level profile")
                    continue
            elif not tax[rank].notna().any():
                reasons.append(f"no feature is named at the {rank} level")
                continue
            matches = match_names(tax, rank, entry.spellings_at(rank), catalog)
            mask = np.logical_or.reduce([m.mask for m in matches])
            spellings = tuple(dict.fromkeys(x for m in matches for x in m.spellings))
            columns = np.flatnonzero(mask)
            values = np.asarray(rel[:, columns].sum(axis=1), dtype=np.float64).ravel()
            values[empty] = np.nan
            label = entry.spellings_at(rank)[0].split("__", 1)[-1].replace("_", " ")
            written = f"; written {', '.join(spellings)} in the table" if spellings else ""
            if rank == entry.rank:
                note = (f"{entry.name}: measured at the {rank} level ({len(columns)} "
                        f"feature(s){written})")
            else:
                note = (f"{entry.name}: measured as {rank} {label} ({len(columns)} "
                        f"feature(s){written}), because {'; '.join(reasons)}")
            return values, KeyTaxonMatch(entry.id, entry.name, entry.rank, rank,
                                      f"{rank} {label}", len(columns), note, spellings)
    ranks = " or ".join(entry.match_ranks())
    note = (f"{entry.name}: not measured ({ranks} level needed; "
            f"{'; '.join(reasons)})")
    return (np.full(n_samples, np.nan),
            KeyTaxonMatch(entry.id, entry.name, entry.rank, None, None, 0, note))


def _resolve(study: Study, catalog: TaxaCatalog) -> tuple[dict[str, np.ndarray],
                                                           dict[str, KeyTaxonMatch]]:
    tax = index_taxonomy(study)
    problem = species_profile_problem(study, tax)
    rel, empty = fractions(study)
    values: dict[str, np.ndarray] = {}
    matches: dict[str, KeyTaxonMatch] = {}
    for entry in catalog.panel():
        if entry.rank == "group":
            continue
        values[entry.id], matches[entry.id] = _measure(entry, tax, problem, rel, empty,
                                                       study.n_samples, catalog)
    for entry in catalog.panel():
        if entry.rank != "group":
            continue
        parts = []
        for member in entry.members:
            if member not in matches:
                values[member], matches[member] = _measure(catalog.get(member), tax, problem,
                                                           rel, empty, study.n_samples,
                                                           catalog)
            parts.append(matches[member])
        used = [m for m in parts if m.matched_rank is not None]
        if used:
            total = np.sum([values[m.id] for m in used], axis=0)
            described = ", ".join(m.name if m.matched_rank == m.rank else
                                  f"{m.name} (as {m.matched_as})" for m in used)
            missing = [m.name for m in parts if m.matched_rank is None]
            note = f"{entry.name}: sum of {described}"
            if missing:
                note += f"; not measured: {', '.join(missing)}"
            match = KeyTaxonMatch(entry.id, entry.name, "group", "group", described,
                                  sum(m.n_features for m in used), note,
                                  tuple(dict.fromkeys(x for m in used for x in m.spellings)))
        else:
            total = np.full(study.n_samples, np.nan)
            match = KeyTaxonMatch(entry.id, entry.name, "group", None, None, 0,
                                  f"{entry.name}: not measured (none of its members is)")
        values[entry.id], matches[entry.id] = total, match
    order = [e.id for e in catalog.panel()]
    return {k: values[k] for k in order}, {k: matches[k] for k in order}


def _checked(study: Study, catalog: TaxaCatalog | None) -> tuple[Study, TaxaCatalog]:
    """Return the study and the catalogue (the bundled one by default), types checked."""
    check_study(study)
    if catalog is None:
        return study, load_taxa_catalog()
    return study, check_type(catalog, TaxaCatalog, "catalog",
                             hint="load one with gutaxis.knowledge.load_taxa_catalog; or None")


def key_taxa_resolution(study: Study, *, catalog: TaxaCatalog | None = None) -> pd.DataFrame:
    """Tell at which rank, and as what, each key taxon is measured in ``study``.

    Parameters
    ----------
    study : Study
    catalog : TaxaCatalog, optional
        Default: the bundled knowledge base.

    Returns
    -------
    pandas.DataFrame
        One row per key taxon (index ``id``), the fields of
        :class:`KeyTaxonMatch`.

    Raises
    ------
    InputError
        ``study`` is not a Study, or ``catalog`` not a TaxaCatalog.
    """
    _, matches = _resolve(*_checked(study, catalog))
    frame = pd.DataFrame([m.as_dict() for m in matches.values()])
    return frame.set_index("id")


def key_taxa(study: Study, *, catalog: TaxaCatalog | None = None) -> pd.DataFrame:
    """Compute the relative abundance of the knowledge base's key taxa in every sample.

    Parameters
    ----------
    study : Study
        Counts or relative abundances with a taxonomy (or MetaPhlAn species
        names as feature ids).
    catalog : TaxaCatalog, optional
        Default: the bundled knowledge base (:func:`gutaxis.knowledge.load_taxa_catalog`).

    Returns
    -------
    pandas.DataFrame
        Index ``sample_id``; one float64 column per key taxon (its ``id``,
        in catalogue order): the fraction (0–1) of the sample's total.  NaN
        for an entry the data cannot resolve and for empty samples.
        ``attrs["resolution"]`` maps each column to :meth:`KeyTaxonMatch.as_dict`
        (``matched_rank``, ``matched_as``, ``note``); :func:`key_taxa_resolution`
        gives the same as a table.

    Raises
    ------
    InputError
        ``study`` is not a Study, or ``catalog`` not a TaxaCatalog.

    Notes
    -----
    Each entry lists spellings per rank, its own rank first, then the ranks
    it may fall back to (see ``taxa.yaml``); each spelling also matches its
    synonyms in other taxonomies (``synonyms`` in ``taxa.yaml``: GTDB's
    *Agathobacter rectalis* is *E. rectale*), and the note names the
    table's spellings that differ.  The first rank the data resolve is used:

    * species — only in a species-level profile (every feature with
      abundance names a species, as in MetaPhlAn).  In a 16S table, where
      species are assigned to some reads only, a species sum would count an
      arbitrary part of the species, so the entry falls back, e.g.
      *F. prausnitzii* to genus *Faecalibacterium*; entries without a
      fallback (*E. rectale*, *R. gnavus*: their genus names cover many other
      species) are then NaN;
    * genus and above — when any feature is named at that rank.  Features
      unassigned at the rank are not counted (a 16S "g__" read of
      Lachnospiraceae is in no genus).

    Family and phylum entries (*Enterobacteriaceae*, *Proteobacteria*) sum
    every feature of the family or phylum; a MetaPhlAn table of species
    names alone carries no family or phylum, so they are NaN there.  A
    ``group`` entry (butyrate producers) sums its members that were
    measured, each at its own resolved rank, and says which in its note.

    References
    ----------
    Each entry's sources are in ``gutaxis/knowledge/taxa.yaml``
    (:func:`gutaxis.knowledge.load_taxa_catalog`).

    Examples
    --------
    >>> from gutaxis import RANKS
    >>> tax = pd.DataFrame({"family": ["Ruminococcaceae", "Enterobacteriaceae"],
    ...                     "genus": ["Faecalibacterium", "Escherichia"]},
    ...                    index=["a", "b"]).reindex(columns=list(RANKS))
    >>> s = Study(np.array([[30, 10]]), ["s1"], ["a", "b"], taxonomy=tax)
    >>> frame = key_taxa(s)
    >>> frame[["faecalibacterium_prausnitzii", "enterobacteriaceae"]].to_numpy().tolist()
    [[0.75, 0.25]]
    >>> frame.attrs["resolution"]["faecalibacterium_prausnitzii"]["matched_as"]
    'genus Faecalibacterium'
    """
    values, matches = _resolve(*_checked(study, catalog))
    frame = pd.DataFrame(values, index=pd.Index(study.sample_ids, name="sample_id"),
                         dtype=np.float64)
    frame.attrs["resolution"] = {k: m.as_dict() for k, m in matches.items()}
    return frame
