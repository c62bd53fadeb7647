"""``gutaxis labs import``: lab results from FHIR R4 JSON into a ``LABS.csv``."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING

from gutaxis.checks import check_file, check_type
from gutaxis.exceptions import InputError, OutputError

if TYPE_CHECKING:  # the FHIR models load in run_labs_import, not with the command line
    from gutaxis.fhir import LabBundle

__all__ = ["LabsImportOptions", "LabsImportResult", "run_labs_import", "parse_patient_option"]


def parse_patient_option(text: str | None) -> tuple[str, str] | None:
    """Split ``--patient SYSTEM|VALUE`` (or a bare ``VALUE``: any system).

    Examples
    --------
    >>> parse_patient_option("urn:oid:1.2.36.146.595.217.0.1|12345")
    ('urn:oid:1.2.36.146.595.217.0.1', '12345')
    >>> parse_patient_option("12345")
    ('', '12345')
    """
    if text is None:
        return None
    system, sep, value = text.strip().rpartition("|")
    if not value.strip():
        raise InputError(f"--patient must be SYSTEM|VALUE (an identifier of the patient, e.g. "
                         f"urn:oid:1.2.36.146.595.217.0.1|12345) or VALUE; got {text!r}")
    return (system.strip() if sep else "", value.strip())


@dataclasses.dataclass(frozen=True, kw_only=True)
class LabsImportOptions:
    """What ``gutaxis labs import`` reads.

    Parameters
    ----------
    bundle : path
        FHIR R4 JSON: a ``Bundle``, ``DiagnosticReport`` or ``Observation``.
    patient : (system, value), optional
        The patient whose results to import (needed when there are several).
    sample : str, optional
        The rows' ``sample_id`` (default: the patient's first identifier's value).
    skip_unknown : bool
        Skip the observations whose code the marker catalogue does not know.
    report : str, optional
        Import only the results of this ``DiagnosticReport`` (id,
        ``DiagnosticReport/<id>`` or fullUrl).
    """

    bundle: Path
    patient: tuple[str, str] | None = None
    sample: str | None = None
    skip_unknown: bool = False
    report: str | None = None

    def __post_init__(self) -> None:
        """Check that the bundle is a file and the sample id is not empty."""
        if self.bundle is None:
            raise InputError("BUNDLE: the FHIR JSON file is required")
        object.__setattr__(self, "bundle", check_file(self.bundle, "BUNDLE"))
        if self.sample is not None and not str(self.sample).strip():
            raise InputError("--sample must not be empty")

    def check_output(self, out: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Refuse ``out`` now if writing there would be refused (before any work)."""
        target = Path(out)
        try:
            is_dir, exists = target.is_dir(), target.exists()
        except OSError as exc:  # a name too long, a folder that may not be read
            raise OutputError(f"{target}: cannot be written ({exc.strerror or exc})") from None
        if is_dir:
            raise OutputError(f"{target} is a folder; --out names the LABS.csv file to write "
                              "(e.g. --out labs.csv)")
        if exists and target.resolve() == Path(self.bundle).resolve():
            raise OutputError(f"{target} is the FHIR file read; choose another --out")
        if exists and not overwrite:
            raise OutputError(f"{target} exists; choose a new file, or replace it with "
                              "--overwrite")
        return target


@dataclasses.dataclass(frozen=True)
class LabsImportResult:
    """The imported results (nothing is written until :meth:`write`)."""

    options: LabsImportOptions
    labs: LabBundle

    def write(self, out: str | os.PathLike[str], *, overwrite: bool = False) -> dict[str, Path]:
        """Write the ``LABS.csv``; return ``{"labs": path}``."""
        self.options.check_output(out, overwrite=overwrite)
        return {"labs": self.labs.write_csv(out, overwrite=overwrite)}


def run_labs_import(options: LabsImportOptions) -> LabsImportResult:
    """Read the FHIR input (all or nothing); write nothing.

    Raises
    ------
    InputError
        The one-line error of :func:`gutaxis.fhir.read_lab_bundle`; no result
        at all to import (everything skipped).
    """
    from gutaxis.fhir import read_lab_bundle

    check_type(options, LabsImportOptions, "options")
    labs = read_lab_bundle(options.bundle, patient=options.patient, sample_id=options.sample,
                           skip_unknown=options.skip_unknown, report=options.report)
    return LabsImportResult(options, labs)
