"""``gutaxis indices``: published indices per sample (GMHI, MD-index, Shannon, key taxa)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gutaxis.checks import check_type
from gutaxis.commands._inputs import TableOptions, load_study
from gutaxis.outputs import write_json, write_tsv

if TYPE_CHECKING:  # the command line makes options without loading pandas
    import pandas as pd

    from gutaxis.study import Study

__all__ = ["IndicesOptions", "IndicesResult", "run_indices", "INDICES_FILES"]

#: What ``gutaxis indices`` writes into its folder (what ``--overwrite`` replaces).
INDICES_FILES = ("indices.tsv", "indices.notes.json")
#: Version of the ``indices.notes.json`` layout.
NOTES_SCHEMA_VERSION = "2.1"


@dataclasses.dataclass(frozen=True, kw_only=True)
class IndicesOptions(TableOptions):
    """What ``gutaxis indices`` reads (see :class:`~gutaxis.commands.TableOptions`)."""

    OWNED = INDICES_FILES
    OUTPUT_NAME = "the indices"


@dataclasses.dataclass(frozen=True)
class IndicesResult:
    """The indices of every sample (nothing is written until :meth:`write`).

    Attributes
    ----------
    options : IndicesOptions
    study : Study
    frame : pandas.DataFrame
        :func:`gutaxis.indices.compute_indices`' table.
    notes : dict of str to str
        Column → why it is empty, which lists were used, how a key taxon was measured.
    """

    options: IndicesOptions
    study: Study
    frame: pd.DataFrame
    notes: dict[str, str]

    @property
    def not_applicable(self) -> dict[str, str]:
        """The indices that do not apply to this table, with the reason."""
        return {k: v for k, v in self.notes.items() if v.startswith("not applicable")}

    @property
    def not_computable(self) -> dict[str, list[str]]:
        """The samples whose value of an index is not computable, per index (none: absent)."""
        out = {}
        for column, statuses in (self.frame.attrs.get("status") or {}).items():
            hit = [str(s) for s, st in zip(self.frame.index, statuses, strict=True)
                   if st == "not computable"]
            if hit:
                out[column] = hit
        return out

    def notes_document(self) -> dict[str, Any]:
        """Return the ``indices.notes.json`` document.

        Returns
        -------
        dict
            ``{"schema_version", "source", "notes", "found", "not_computable",
            "key_taxa"}``: the notes, how many of each index's taxa the table
            holds (and as what), why a value is not computable, and how each
            key taxon was measured.
        """
        from gutaxis.indices import STATUS_COLUMNS, not_computable_reason

        return {"schema_version": NOTES_SCHEMA_VERSION, "source": self.study.source,
                "notes": self.notes, "found": self.frame.attrs.get("found", {}),
                "not_computable": {k: not_computable_reason(k) for k in STATUS_COLUMNS
                                   if k in self.frame.columns},
                "key_taxa": self.frame.attrs.get("resolution", {})}

    def table(self) -> pd.DataFrame:
        """Return ``indices.tsv`` as a frame: the indices, then one status column per index.

        Returns
        -------
        pandas.DataFrame
            The columns of :func:`~gutaxis.indices.compute_indices`, then
            ``gmhi_status`` and ``md_index_status``: ``computed``, ``not
            computable``, ``not applicable`` or ``empty sample`` for each
            sample (the value is empty unless ``computed``).
        """
        frame = self.frame.copy()
        frame.index.name = "sample_id"
        for column, statuses in (self.frame.attrs.get("status") or {}).items():
            frame[f"{column}_status"] = list(statuses)
        return frame

    def write(self, folder: str | os.PathLike[str], *, overwrite: bool = False
              ) -> dict[str, Path]:
        """Write ``indices.tsv`` and ``indices.notes.json``.

        ``indices.tsv`` (:meth:`table`): first column ``sample_id``, then the
        columns of :func:`~gutaxis.indices.compute_indices`, then the status
        of GMHI and of the MD-index in each sample; an empty cell where a
        value is NaN (its status says why: not applicable, not computable,
        an empty sample), ``-inf`` written as such (:mod:`gutaxis.outputs`).

        Parameters
        ----------
        folder : path
        overwrite : bool, default False

        Returns
        -------
        dict of str to Path
            ``{"indices": …, "notes": …}``.
        """
        with self.options.output(folder, overwrite=overwrite) as out:
            return {"indices": write_tsv(self.table(), out / "indices.tsv", index=True,
                                         float_format=None),
                    "notes": write_json(out / "indices.notes.json", self.notes_document())}


def run_indices(options: IndicesOptions) -> IndicesResult:
    """Read a table and compute its indices.

    Parameters
    ----------
    options : IndicesOptions

    Returns
    -------
    IndicesResult

    Raises
    ------
    InputError
        ``options`` is not an IndicesOptions, and the errors of the readers.
    """
    from gutaxis.indices import compute_indices

    check_type(options, IndicesOptions, "options",
               hint="make one with IndicesOptions(table=...)")
    study, _ = load_study(options)
    frame, notes = compute_indices(study)
    return IndicesResult(options, study, frame, notes)
