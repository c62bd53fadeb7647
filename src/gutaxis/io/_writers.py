"""Writers: BIOM TSV (``biom convert --to-tsv`` layout) and BIOM 2.1 HDF5 / 1.0 JSON."""

from __future__ import annotations

import json
import re
from typing import Any, Literal

import numpy as np

from gutaxis._version import __version__
from gutaxis.exceptions import InputError, ValidationError
from gutaxis.io._common import PathLike
from gutaxis.outputs import open_atomic
from gutaxis.study import RANKS, Study, check_study

__all__ = ["write_table_tsv", "write_biom"]

_UNSAFE = re.compile(r"[\t\r\n]")
_CHUNK = 2048


def _taxon_string(row: tuple[object, ...]) -> str:
    return "; ".join(f"{rank[0]}__{'' if v is None or v != v else v}"
                     for rank, v in zip(RANKS, row, strict=True))


def write_table_tsv(study: Study, path: PathLike) -> None:
    """Write ``study`` as features × samples TSV with a ``#OTU ID`` header.

    The layout of ``biom convert --to-tsv``: a ``# Constructed from biom
    file`` line, a header ``#OTU ID<TAB>sample…`` (plus ``taxonomy`` when the
    study has one, as ``k__…; p__…; …; s__…``), then one row per feature.
    Counts are written as integers, relative values with full precision.

    Parameters
    ----------
    study : Study
    path : str or path-like

    Raises
    ------
    InputError
        ``study`` is not a Study.
    ValidationError
        An id contains a tab or a line break.
    OutputError
        The file cannot be written.
    """
    check_study(study)
    for what, ids in (("sample", study.sample_ids), ("feature", study.feature_ids)):
        for ident in ids:
            if _UNSAFE.search(ident):
                raise ValidationError(f"{what} id {ident!r} contains a tab or line break; it "
                                      "cannot be written as TSV")
    by_feature = study.counts.T.tocsr()
    taxa = None
    if study.taxonomy is not None:
        taxa = [_taxon_string(r) for r in study.taxonomy[list(RANKS)].itertuples(index=False)]
    fmt = _format_int if study.kind == "counts" else _format_float
    with open_atomic(path, what="the table") as out:
        out.write("# Constructed from biom file\n")
        out.write("\t".join(["#OTU ID", *study.sample_ids]
                            + (["taxonomy"] if taxa is not None else [])) + "\n")
        for start in range(0, study.n_features, _CHUNK):
            block = by_feature[start:start + _CHUNK].toarray()
            for k, row in enumerate(block):
                cells = [study.feature_ids[start + k], *fmt(row)]
                if taxa is not None:
                    cells.append(taxa[start + k])
                out.write("\t".join(cells) + "\n")


def _format_int(row: np.ndarray) -> list[str]:
    return [str(v) for v in row.astype(np.int64).tolist()]


def _format_float(row: np.ndarray) -> list[str]:
    return [repr(v) for v in row.tolist()]


def write_biom(study: Study, path: PathLike, *,
               format: Literal["hdf5", "json"] = "hdf5") -> None:
    """Write ``study`` as a BIOM table with biom-format (taxonomy as observation metadata).

    Parameters
    ----------
    study : Study
    path : str or path-like
    format : {"hdf5", "json"}
        BIOM 2.1 HDF5 (default, written by biom-format) or BIOM 1.0 JSON
        (sparse, written here because biom-format's ``to_json`` rounds floats
        to six decimals).

    Raises
    ------
    InputError
        An unknown ``format``, or ``study`` is not a Study.
    OutputError
        The file cannot be written.
    """
    check_study(study)
    if format not in ("hdf5", "json"):
        raise InputError(f"format must be 'hdf5' or 'json'; got {format!r}")
    generated_by = f"gutaxis {__version__}"
    if format == "hdf5":
        import h5py

        table = study.to_biom()
        with open_atomic(path, "w+b", what="the BIOM table") as out, \
                h5py.File(out, "w") as handle:
            table.to_hdf5(handle, generated_by)
    else:
        with open_atomic(path, what="the BIOM table") as out:
            json.dump(_biom_json(study, generated_by), out, separators=(",", ":"),
                      allow_nan=False)



def _biom_json(study: Study, generated_by: str) -> dict[str, Any]:
    import datetime as dt

    by_feature = study.counts.T.tocoo()
    taxa = None
    if study.taxonomy is not None:
        taxa = [_taxon_string(r).split("; ")
                for r in study.taxonomy[list(RANKS)].itertuples(index=False)]
    rows = [{"id": fid, "metadata": None if taxa is None else {"taxonomy": taxa[i]}}
            for i, fid in enumerate(study.feature_ids)]
    integer = study.kind == "counts"
    values = by_feature.data.astype(np.int64).tolist() if integer else by_feature.data.tolist()
    return {
        "id": None,
        "format": "Biological Observation Matrix 1.0.0",
        "format_url": "http://biom-format.org",
        "type": "OTU table",
        "generated_by": generated_by,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "matrix_type": "sparse",
        "matrix_element_type": "int" if integer else "float",
        "shape": [study.n_features, study.n_samples],
        "rows": rows,
        "columns": [{"id": sid, "metadata": None} for sid in study.sample_ids],
        "data": [[int(r), int(c), v] for r, c, v in zip(by_feature.row, by_feature.col, values,
                                                         strict=True)],
    }
