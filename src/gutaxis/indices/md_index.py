"""The microbial dysbiosis index (MD-index) of Gevers et al. (2014).

The genus lists are QIIME 1's; a genus is found under its own name or a
synonym of the knowledge base (SILVA's *Escherichia-Shigella*, GTDB's
*Phocaeicola*), and the result says how many of the listed genera were found.

Two layers: :func:`md_index_values`, the log-ratio on two arrays of summed
abundances, and :func:`md_index`, which finds the listed genera in a
:class:`~gutaxis.study.Study`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from gutaxis.exceptions import ValidationError
from gutaxis.indices._common import (
    NameMatch,
    NotApplicableError,
    describe_found,
    fractions,
    index_taxonomy,
    match_names,
)
from gutaxis.knowledge import MdIndexList, load_taxa_catalog
from gutaxis.study import Study, check_study

__all__ = ["md_index", "md_index_values", "md_index_lists"]


def md_index_lists(list_id: str | None = None) -> MdIndexList:
    """Return the MD-index genus lists from the knowledge base.

    Parameters
    ----------
    list_id : str, optional
        ``"qiime-1.9.1-dev"`` (the default: QIIME's lists since its fix of
        December 2015) or ``"qiime-1.9.1"`` (the withdrawn release list, only
        to reproduce old numbers).

    Returns
    -------
    MdIndexList

    Raises
    ------
    NotFoundError
        An unknown id (a ``KeyError``; the message lists the valid ones).
    """
    definition = load_taxa_catalog().indices.md_index
    return definition.get(definition.default if list_id is None else list_id)


def md_index_values(increased: np.ndarray, decreased: np.ndarray) -> np.ndarray:
    """ln(increased / decreased) per sample, as QIIME 1's ``compute_index``.

    Parameters
    ----------
    increased, decreased : numpy.ndarray
        Per sample, the summed abundance of the increased and of the
        decreased taxa (≥ 0; NaN propagates).

    Returns
    -------
    numpy.ndarray
        float64: NaN where ``decreased`` is 0 (whatever ``increased`` is);
        ``-inf`` where only ``increased`` is 0; ``ln(increased / decreased)``
        otherwise.  No warning is emitted.

    Raises
    ------
    ValidationError
        Values that are not numbers, or arrays of different lengths.

    Notes
    -----
    QIIME 1 returns ``nan`` when the denominator is 0 and ``-inf`` when the
    numerator is 0 (explicitly, so numpy's "divide by zero in log" warning
    never fires); gutaxis keeps both rules.  ``-inf`` is the limit of the
    ratio (no increased taxa at all: the least dysbiotic value), NaN is
    undefined.  QIIME tests for 0 with ``numpy.allclose`` (absolute
    tolerance 1e-8 on whatever the table holds); gutaxis tests exactly.

    Examples
    --------
    >>> md_index_values(np.array([1.0, 0.0, 0.0, 0.5]), np.array([1.0, 1.0, 0.0, 0.0])).tolist()
    [0.0, -inf, nan, nan]
    """
    try:
        inc = np.asarray(increased, dtype=np.float64)
        dec = np.asarray(decreased, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValidationError("md_index_values: the increased and decreased sums must be "
                              "numbers, one per sample") from None
    try:
        shape = np.broadcast(inc, dec).shape
    except ValueError:
        raise ValidationError(f"md_index_values: increased and decreased must have the same "
                              f"length (one value per sample); got {inc.size} and "
                              f"{dec.size}") from None
    ratio = np.divide(inc, dec, out=np.full(shape, np.nan), where=dec > 0)
    result = np.full(ratio.shape, np.nan)
    positive = ratio > 0
    np.log(ratio, out=result, where=positive)
    result[(dec > 0) & (inc == 0)] = -np.inf
    return result


def md_index(study: Study, *, lists: str | None = None) -> pd.Series:
    """MD-index of every sample: ln(Σ increased genera / Σ decreased genera).

    Parameters
    ----------
    study : Study
        Counts or relative abundances, with a taxonomy that names genera
        (16S tables, MetaPhlAn profiles — the genus of a species name is
        used when the taxonomy has none).
    lists : str, optional
        Which genus lists (see :func:`md_index_lists`); default QIIME's
        current lists.

    Returns
    -------
    pandas.Series
        Named ``"md_index"``, indexed by sample id (``sample_id``): NaN where
        the decreased genera sum to 0 (and for an empty sample), ``-inf``
        where only the increased genera do.  ``attrs["found"]`` says which
        listed genera were found with a non-zero abundance, and as what:
        ``{"increased": {"found": [...], "missing": [...], "as": {genus:
        [the table's spellings]}}, "decreased": {...}, "note": "increased
        genera found: 3 of 4 (…); decreased genera found: …"}``.

    Raises
    ------
    NotApplicableError
        The taxonomy names no genus, or none of the increased (or none of
        the decreased) genera occurs among the features (QIIME 1 refuses
        this case too).
    NotFoundError
        An unknown ``lists`` id (a ``KeyError``).
    InputError
        ``study`` is not a Study.

    Notes
    -----
    Abundances are fractions of each sample's total (the ratio is the same on
    counts).  A feature counts when its genus name is a listed name, as
    QIIME 1 matches ``g__Name`` (rank prefix, case and ``_`` aside):
    Greengenes' ``[Ruminococcus]`` (Lachnospiraceae) is not ``Ruminococcus``,
    nor GTDB's ``Ruminococcus_B``.  Other taxonomies name some of these
    genera differently; their names are synonyms in the knowledge base
    (``taxa.yaml``, ``synonyms``, each with its sources) and count as the
    listed genus: SILVA's *Escherichia-Shigella* (which holds *Shigella* too)
    as *Escherichia*, GTDB's *Phocaeicola* (species that were *Bacteroides*)
    as *Bacteroides*.  ``attrs["found"]`` says which were used.  Four entries
    of the decreased list are family names (*Rikenellaceae*,
    *Lachnospiraceae*, *Erysipelotrichaceae*, *Ruminococcaceae*) that QIIME
    matches as genus names; no Greengenes genus is so named, so, as in QIIME,
    they add nothing there.

    The default lists are QIIME's since December 2015 ("the paper's Figure
    2"); the QIIME 1.9.1 release lists (*Akkermansia* among the decreased
    genera, *Sutterella* among the increased) were withdrawn by QIIME as a
    critical bug and are available as ``lists="qiime-1.9.1"`` only to
    reproduce old numbers.

    References
    ----------
    .. [1] Gevers, D. et al. (2014). The treatment-naive microbiome in
       new-onset Crohn's disease. *Cell Host Microbe* 15, 382–392.
       doi:10.1016/j.chom.2014.02.005
    .. [2] QIIME 1, ``qiime/compute_taxonomy_ratios.py`` and
       ``scripts/compute_taxonomy_ratios.py``; the list fix is
       github.com/biocore/qiime/pull/2115.

    Examples
    --------
    >>> from gutaxis import RANKS
    >>> tax = pd.DataFrame({"genus": ["Escherichia", "Bacteroides", "Blautia"]},
    ...                    index=["a", "b", "c"]).reindex(columns=list(RANKS))
    >>> s = Study(np.array([[10, 10, 5], [0, 20, 5]]), ["s1", "s2"], ["a", "b", "c"],
    ...           taxonomy=tax)
    >>> md_index(s).tolist()
    [0.0, -inf]
    >>> print(md_index(s).attrs["found"]["note"])  # doctest: +NORMALIZE_WHITESPACE
    increased genera found: 1 of 4 (Escherichia; not found: Haemophilus, Fusobacterium,
    Veillonella); decreased genera found: 1 of 14 (Bacteroides; not found: Dialister,
    Faecalibacterium, Ruminococcus, Sutterella, Rikenellaceae, Parabacteroides,
    Lachnospiraceae, Coprococcus, Erysipelotrichaceae, Dorea, Ruminococcaceae,
    Oscillospira, Bilophila)
    """
    check_study(study)
    chosen = md_index_lists(lists)
    tax = index_taxonomy(study)
    if tax is None or not tax[chosen.rank].notna().any():
        raise NotApplicableError(
            "md_index", f"{study.source} names no {chosen.rank} (the MD-index sums "
            f"{chosen.rank}-level abundances); give the taxonomy (--taxonomy)")
    catalog = load_taxa_catalog()
    groups = {"increased": match_names(tax, chosen.rank, chosen.increased, catalog),
              "decreased": match_names(tax, chosen.rank, chosen.decreased, catalog)}
    masks = {which: np.logical_or.reduce([m.mask for m in matches])
             for which, matches in groups.items()}
    for which, listed in (("increased", chosen.increased), ("decreased", chosen.decreased)):
        if not masks[which].any():
            raise NotApplicableError(
                "md_index", f"none of the {which} {chosen.rank} names of the MD-index "
                f"({', '.join(listed)}), nor a synonym of one, occurs in {study.source}")
    rel, empty = fractions(study)
    inc = np.asarray(rel[:, np.flatnonzero(masks["increased"])].sum(axis=1),
                     dtype=np.float64).ravel()
    dec = np.asarray(rel[:, np.flatnonzero(masks["decreased"])].sum(axis=1),
                     dtype=np.float64).ravel()
    values = md_index_values(inc, dec)
    values[empty] = np.nan
    result = pd.Series(values, index=pd.Index(study.sample_ids, name="sample_id"),
                       name="md_index")
    result.attrs["found"] = _found(groups, study, _PLURAL.get(chosen.rank, chosen.rank))
    return result


_PLURAL = {"phylum": "phyla", "class": "classes", "order": "orders", "family": "families",
           "genus": "genera", "species": "species"}


def _found(groups: dict[str, list[NameMatch]], study: Study, plural: str) -> dict[str, Any]:
    """Say which listed genera were found with a non-zero abundance, and as what."""
    total = np.asarray(study.counts.sum(axis=0), dtype=np.float64).ravel()
    out: dict[str, Any] = {}
    notes = []
    for which, matches in groups.items():
        present = [m for m in matches if m.present(total)]
        out[which] = {"found": [m.name for m in present],
                      "missing": [m.name for m in matches if not m.present(total)],
                      "as": {m.name: list(m.spellings) for m in present if m.spellings}}
        notes.append(describe_found(matches, total, f"{which} {plural}"))
    out["note"] = "; ".join(notes)
    return out
