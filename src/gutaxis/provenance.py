"""Provenance: what was run, on which inputs (by hash), with which versions.

Every command writes a ``provenance.json`` built here, so that a result can be
traced back to its exact inputs and software.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import platform
import sys
from collections.abc import Callable, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from gutaxis._version import __version__

__all__ = ["file_sha256", "input_record", "input_record_from", "package_versions",
           "build_provenance", "SCHEMA_VERSION"]

#: Version of the ``provenance.json`` layout (see docs/output-schemas.md).
SCHEMA_VERSION = "1.1"

_PACKAGES = ("numpy", "scipy", "pandas", "numba", "h5py", "biom-format", "scikit-bio",
             "pyfamsa", "veryfasttree", "scikit-learn", "matplotlib", "jinja2", "pydantic")


def file_sha256(path: str | Path, *, chunk_size: int = 1 << 20) -> str:
    """SHA-256 hex digest of a file, read in chunks (constant memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk_size):
            digest.update(block)
    return digest.hexdigest()


def input_record(path: str | Path, role: str) -> dict[str, Any]:
    """Return ``{"role", "path", "sha256", "bytes"}`` for one input file (hashing it).

    Parameters
    ----------
    path : path
    role : str
        What the file is to the command (``"table"``, ``"labs"``...).

    Returns
    -------
    dict
    """
    p = Path(path)
    return {"role": role, "path": str(p), "sha256": file_sha256(p), "bytes": p.stat().st_size}


def input_record_from(read: Mapping[str, Any], role: str) -> dict[str, Any]:
    """Return the input record of a file from the record its reader made (no second hash).

    Parameters
    ----------
    read : mapping
        A reader's ``{"step": "read", "path", "sha256", "bytes", ...}``.
    role : str

    Returns
    -------
    dict
        ``{"role", "path", "sha256", "bytes"}``.

    Examples
    --------
    >>> input_record_from({"step": "read", "path": "t.biom", "sha256": "ab", "bytes": 3}, "table")
    {'role': 'table', 'path': 't.biom', 'sha256': 'ab', 'bytes': 3}
    """
    return {"role": role, "path": str(read.get("path", "")), "sha256": read.get("sha256"),
            "bytes": read.get("bytes")}


def package_versions(names: Sequence[str] = _PACKAGES) -> dict[str, str]:
    """Installed versions of the packages that shape the results."""
    versions = {"python": platform.python_version(), "gutaxis": __version__}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def build_provenance(*, command: Sequence[str] | None = None, inputs: Sequence[dict[str, Any]],
                     parameters: dict[str, Any], steps: Sequence[dict[str, Any]] = (),
                     extra: dict[str, Any] | None = None,
                     clock: Callable[[], _dt.datetime] | None = None) -> dict[str, Any]:
    """Build the ``provenance.json`` document.

    Parameters
    ----------
    command : sequence of str, optional
        The command line (defaults to ``sys.argv``).
    inputs : sequence of dict
        :func:`input_record` entries.
    parameters : dict
        The options that shaped the result (metrics, depth, seed...).
    steps : sequence of dict
        The ``Study.provenance`` records of the data the results came from.
    extra : dict, optional
        Further top-level keys (``tree``, ``rarefaction``...).
    clock : callable, optional
        Returns the timestamp to record (injected in tests for golden files).
    """
    now = (clock or (lambda: _dt.datetime.now(_dt.UTC)))()
    doc: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "gutaxis_version": __version__,
        "created": now.isoformat(timespec="seconds"),
        "command": list(command if command is not None else sys.argv),
        "inputs": list(inputs),
        "parameters": parameters,
        "steps": list(steps),
        "software": package_versions(),
    }
    if extra:
        doc.update(extra)
    return doc
