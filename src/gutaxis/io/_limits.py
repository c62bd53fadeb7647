"""Safety limits applied by every reader, in one place.

Each limit has a default sized for real microbiome data on a workstation and
can be overridden per process with an environment variable
``GUTAXIS_MAX_<NAME>`` (for example ``GUTAXIS_MAX_NNZ=1000000000``).  The
variables are read each time :func:`get_limits` is called, so tests and
services can tighten them without touching global state.
"""

from __future__ import annotations

import dataclasses
import os

from gutaxis.exceptions import InputError

__all__ = ["Limits", "get_limits"]

_MiB = 1 << 20
_GiB = 1 << 30


@dataclasses.dataclass(frozen=True)
class Limits:
    """Upper bounds on what a reader accepts.

    Parameters
    ----------
    max_text_bytes : int
        Size of a text file (TSV, CSV, FASTA, lsmat, metadata) parsed in memory.
    max_json_bytes : int
        Size of a BIOM 1.0 JSON file (``json.load`` needs several times this).
    max_fhir_bytes : int
        Size of a FHIR JSON file (a lab results ``Bundle``) read in memory.
    max_features : int
        Features (ASVs, OTUs, species) in one table.
    max_samples : int
        Samples in one table.
    max_nnz : int
        Stored (non-zero) values in one sparse table.
    max_dense_cells : int
        Cells of a table that arrives dense (TSV, dense BIOM JSON).
    max_id_length : int
        Characters in one sample or feature id.
    max_zip_members : int
        Members of a ``.qza`` archive.
    max_zip_bytes : int
        Total uncompressed size of a ``.qza`` archive.
    max_zip_ratio : int
        Uncompressed / compressed size of one ``.qza`` member (members under
        1 MiB uncompressed are exempt: small files compress well legitimately).
    max_hdf5_objects : int
        Links visited while checking an HDF5 file.
    """

    max_text_bytes: int = 1 * _GiB
    max_json_bytes: int = 512 * _MiB
    max_fhir_bytes: int = 64 * _MiB
    max_features: int = 10_000_000
    max_samples: int = 1_000_000
    max_nnz: int = 200_000_000
    max_dense_cells: int = 200_000_000
    max_id_length: int = 10_000
    max_zip_members: int = 10_000
    max_zip_bytes: int = 4 * _GiB
    max_zip_ratio: int = 200
    max_hdf5_objects: int = 100_000


#: Members smaller than this are not subject to the compression-ratio limit.
ZIP_RATIO_FLOOR = 1 * _MiB


def get_limits() -> Limits:
    """Return the limits in force, defaults overridden by ``GUTAXIS_MAX_*`` variables.

    Returns
    -------
    Limits

    Raises
    ------
    InputError
        An override is not a positive integer.
    """
    changes: dict[str, int] = {}
    for field in dataclasses.fields(Limits):
        var = "GUTAXIS_" + field.name.upper()
        raw = os.environ.get(var)
        if raw is None or raw.strip() == "":
            continue
        try:
            value = int(raw.strip().replace("_", ""))
        except ValueError:
            value = 0
        if value < 1:
            raise InputError(f"environment variable {var} must be a positive integer; got {raw!r}")
        changes[field.name] = value
    return Limits(**changes)
