"""All the indices of a table in one frame (``gutaxis indices`` writes it as ``indices.tsv``).

Each index's value is a number, or NaN with a status saying why
(:data:`STATUSES`): ``"not applicable"`` (the index is not defined for this
kind of table), ``"not computable"`` (defined, but this sample holds none of
the taxa its value rests on: GMHI with none of its 50 species, the MD-index
with none of its decreased genera), ``"empty sample"``.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from gutaxis.diversity import alpha_diversity
from gutaxis.exceptions import NotFoundError
from gutaxis.indices._common import NotApplicableError
from gutaxis.indices.gmhi import PSEUDOCOUNT, gmhi
from gutaxis.indices.key_taxa import key_taxa
from gutaxis.indices.md_index import md_index, md_index_lists
from gutaxis.knowledge import load_taxa_catalog
from gutaxis.study import Study, check_study

__all__ = ["compute_indices", "INDEX_COLUMNS", "STATUS_COLUMNS", "STATUSES",
           "not_computable_reason"]

logger = logging.getLogger(__name__)

#: The columns before the key taxa's, in order (``sample_id`` is the index).
INDEX_COLUMNS = ("gmhi", "md_index", "shannon_entropy")
#: The indices whose value may be missing for a reason of their own; each has a status.
STATUS_COLUMNS = ("gmhi", "md_index")
#: What a status says of a sample's value.
STATUSES = ("computed", "not computable", "not applicable", "empty sample")


def not_computable_reason(index: str) -> str:
    """Say why a sample's value of ``index`` is not computable (one clause, for notes).

    Parameters
    ----------
    index : {"gmhi", "md_index"}

    Returns
    -------
    str
        The sizes of the GMHI sets come from the knowledge base.

    Raises
    ------
    NotFoundError
        Another index (it has no "not computable" status).

    Examples
    --------
    >>> print(not_computable_reason("md_index"))
    none of the decreased genera of the MD-index occurs in the sample, so the ratio has no
    denominator
    """
    if index == "gmhi":
        sets = load_taxa_catalog().indices.gmhi.species_sets
        sizes = ", ".join(f"{s.n} {s.label}" for s in sets)
        eps = format(PSEUDOCOUNT, "g").replace("e-0", "e-")  # 1e-5, as the paper writes it
        return (f"none of the {sum(s.n for s in sets)} GMHI species ({sizes}) occurs in the "
                f"sample; the formula would give 0 from its pseudocount alone "
                f"(log10({eps} / {eps})), which is not a reading")
    if index == "md_index":
        return ("none of the decreased genera of the MD-index occurs in the sample, so the "
                "ratio has no denominator")
    raise NotFoundError("index", [str(index)], "the indices that can be not computable",
                        available=list(STATUS_COLUMNS))


def _statuses(empty: np.ndarray, not_computable: np.ndarray) -> list[str]:
    return ["empty sample" if e else "not computable" if n else "computed"
            for e, n in zip(empty, not_computable, strict=True)]


def _count(statuses: list[str], which: str, sample_ids: Any, reason: str) -> str:
    """``"not computable in 2 of 25 sample(s): S19, S20 (why)."``, or "" when none is."""
    hit = [str(s) for s, st in zip(sample_ids, statuses, strict=True) if st == which]
    if not hit:
        return ""
    shown = ", ".join(hit[:10]) + (" …" if len(hit) > 10 else "")
    return f"{which} in {len(hit)} of {len(statuses)} sample(s): {shown} ({reason})."


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
        applicable is an all-NaN column (an empty cell in ``indices.tsv``);
        so is a value that is not computable (see the module notes).
        ``frame.attrs["status"]`` maps ``gmhi`` and ``md_index`` to one
        status per sample (:data:`STATUSES`); ``frame.attrs["found"]`` to
        how many of the index's taxa the table holds, and as what;
        ``frame.attrs["resolution"]`` is how each key taxon was measured.
    notes : dict of str
        Column → what to know about it: why ``gmhi`` or ``md_index`` is
        empty (not applicable, or not computable in which samples), how many
        of its taxa were found, which MD-index lists were used, at which
        rank each key taxon was measured.

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
    >>> frame.attrs["status"]["gmhi"]
    ['computed']
    >>> print(notes["md_index"])  # doctest: +NORMALIZE_WHITESPACE
    not applicable: none of the increased genus names of the MD-index
    (Escherichia, Haemophilus, Fusobacterium, Veillonella), nor a synonym of one, occurs
    in <memory>
    """
    check_study(study)
    index = pd.Index(study.sample_ids, name="sample_id")
    empty = study.sample_totals() <= 0
    notes: dict[str, str] = {}
    columns: dict[str, pd.Series] = {}
    status: dict[str, list[str]] = {}
    found: dict[str, str] = {}
    try:
        values = gmhi(study)
        present = values.attrs["species_present"]
        neither = (np.asarray(present["MH"]) == 0) & (np.asarray(present["MN"]) == 0) & ~empty
        status["gmhi"] = _statuses(empty, neither)
        columns["gmhi"] = values.mask(neither)
        found["gmhi"] = values.attrs["found"]["note"]
        notes["gmhi"] = " ".join(filter(None, [
            found["gmhi"] + ".",
            _count(status["gmhi"], "not computable", index, not_computable_reason("gmhi"))]))
    except NotApplicableError as exc:
        columns["gmhi"] = pd.Series(np.nan, index=index)
        status["gmhi"] = ["not applicable"] * study.n_samples
        notes["gmhi"] = f"not applicable: {exc.reason}"
    chosen = md_index_lists()
    try:
        values = md_index(study)
        status["md_index"] = _statuses(empty, np.isnan(values.to_numpy()) & ~empty)
        columns["md_index"] = values
        found["md_index"] = values.attrs["found"]["note"]
        notes["md_index"] = " ".join(filter(None, [
            f"ln(increased / decreased) with the {chosen.id} genus lists ({chosen.label}); "
            "-inf where none of the increased genera occurs in a sample.",
            found["md_index"] + ".",
            _count(status["md_index"], "not computable", index,
                   not_computable_reason("md_index"))]))
    except NotApplicableError as exc:
        columns["md_index"] = pd.Series(np.nan, index=index)
        status["md_index"] = ["not applicable"] * study.n_samples
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
    frame.attrs["status"] = status
    frame.attrs["found"] = found
    return frame, notes
