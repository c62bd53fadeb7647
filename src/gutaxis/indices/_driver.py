"""All the indices of a table in one frame, and ``indices.tsv`` for the CLI."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from gutaxis.diversity import alpha_diversity
from gutaxis.indices._common import NotApplicableError, index_taxonomy
from gutaxis.indices.gmhi import gmhi, gmhi_coverage
from gutaxis.indices.md_index import md_index, md_index_lists
from gutaxis.indices.panel import key_taxa_panel
from gutaxis.io import read_table
from gutaxis.io._common import PathLike
from gutaxis.study import Study

__all__ = ["compute_indices", "write_indices", "run_indices", "INDEX_COLUMNS"]

logger = logging.getLogger(__name__)

#: The columns before the panel's, in order (``sample_id`` is the index).
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
    """GMHI, MD-index, Shannon entropy and the key-taxa panel of every sample.

    Parameters
    ----------
    study : Study
        Counts or relative abundances (MetaPhlAn percentages included), with
        a taxonomy for the MD-index and the panel.

    Returns
    -------
    frame : pandas.DataFrame
        Index ``sample_id``; columns ``gmhi``, ``md_index``,
        ``shannon_entropy``, then the panel's columns (fractions 0–1, see
        :func:`~gutaxis.indices.key_taxa_panel`).  An index that is not
        applicable is an all-NaN column (an empty cell in ``indices.tsv``).
        ``frame.attrs["resolution"]`` is the panel's resolution.
    notes : dict of str
        Column → what to know about it: why ``gmhi`` or ``md_index`` is
        empty, which MD-index lists were used, at which rank each panel taxon
        was measured.

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
    >>> notes["md_index"]
    'not applicable: none of the increased genus names of the MD-index (Escherichia, Haemophilus, Fusobacterium, Veillonella) occurs in <memory>'
    """
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
    panel = key_taxa_panel(study)
    frame = pd.DataFrame({k: v.to_numpy(dtype=np.float64) for k, v in columns.items()},
                         index=index)
    frame = frame.join(panel.set_axis(index, axis=0))
    resolution = panel.attrs["resolution"]
    for column, match in resolution.items():
        notes[column] = match["note"]
    frame.attrs["resolution"] = resolution
    return frame, notes


def write_indices(study: Study, out_dir: PathLike) -> Path:
    """Write ``out_dir/indices.tsv`` (and ``indices.notes.json`` beside it).

    Parameters
    ----------
    study : Study
    out_dir : str or path-like
        Created if needed.

    Returns
    -------
    pathlib.Path
        The TSV: first column ``sample_id``, then the columns of
        :func:`compute_indices`; an empty cell where a value is NaN (an
        index that is not applicable, an empty sample), ``-inf`` written as
        such.  ``indices.notes.json`` holds ``{"notes": …, "panel": …}``, the
        notes and the panel's resolution.
    """
    frame, notes = compute_indices(study)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "indices.tsv"
    frame.to_csv(path, sep="\t", na_rep="", index=True, index_label="sample_id")
    sidecar = {"source": study.source, "notes": notes, "panel": frame.attrs["resolution"]}
    (out / "indices.notes.json").write_text(json.dumps(sidecar, indent=2, ensure_ascii=False)
                                            + "\n", encoding="utf-8")
    for column, note in notes.items():
        if note.startswith("not applicable") or "not measured" in note:
            logger.info("%s: %s", column, note)
    return path


def run_indices(table: PathLike, out: PathLike) -> Path:
    """Read ``table`` (any format :func:`gutaxis.io.read_table` reads) and write the indices.

    Parameters
    ----------
    table : str or path-like
        BIOM, QIIME 2 ``.qza``, MetaPhlAn profile or TSV/CSV table.
    out : str or path-like
        Output folder.

    Returns
    -------
    pathlib.Path
        ``out/indices.tsv`` (see :func:`write_indices`).
    """
    return write_indices(read_table(table), out)
