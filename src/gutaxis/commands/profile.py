"""``gutaxis profile``: one patient against a reference cohort, as JSON, HTML and PDF."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gutaxis.checks import (
    check_date,
    check_file,
    check_folder,
    check_integer,
    check_names,
    check_type,
)
from gutaxis.commands._inputs import (
    TableOptions,
    load_study,
    read_markers,
)
from gutaxis.exceptions import ToolError, ValidationError
from gutaxis.provenance import input_record

if TYPE_CHECKING:
    from gutaxis.profile import Profile

__all__ = ["ProfileOptions", "ProfileResult", "run_profile", "FHIR_FILE"]

#: The FHIR R4 Bundle ``--fhir`` writes beside ``profile.json``.
FHIR_FILE = "profile.fhir.json"


@dataclasses.dataclass(frozen=True, kw_only=True)
class ProfileOptions(TableOptions):
    """What ``gutaxis profile`` is asked to do (validated once, when made).

    Parameters
    ----------
    table, taxonomy, metadata, transpose
        As :class:`~gutaxis.commands.TableOptions`: the patient's table (it
        may hold other samples).
    sample : str
        The patient's sample id.
    reference : path
        A folder made by ``gutaxis reference build``.
    patient : str, optional
        The patient's id: recorded in the profile, and a follow-up warns when
        the previous profile is of another patient.
    labs : path, optional
        Lab results (``LABS.csv``, :func:`gutaxis.markers.read_labs`).
    labs_made_from : tuple of (str, str), optional
        When ``labs`` was written from another file (the practice
        application writes one from a visit's labs or FHIR upload): that
        file's name and SHA-256, recorded beside ``labs`` in the provenance
        so that the profile can be traced to what was uploaded.
    markers : sequence of str
        Marker columns of ``metadata`` (``COLUMN`` or ``COLUMN=UNIT``).
    markers_file : path, optional
        A file of marker columns and units.
    previous : path, optional
        The ``profile.json`` of an earlier visit.
    visit_date : str, optional
        The day the sample was taken (``YYYY-MM-DD``), recorded in the
        profile; a follow-up dates each visit by it.
    seed, n_boot : int
        Seed and replicates of the bootstrap intervals.
    pdf : bool
        Also write ``profile.pdf``.
    fhir : bool
        Also write ``profile.fhir.json``: the profile as a FHIR R4 ``Bundle``
        (:func:`gutaxis.fhir.profile_bundle`).

    Raises
    ------
    InputError
        A path that names no file or folder.
    ValidationError
        An empty sample id, markers without metadata, ``n_boot`` < 1, a
        negative seed.
    """

    OUTPUT_NAME = "the profile"

    def owned(self) -> tuple[str, ...]:
        """Return ``profile.json``, ``profile.html``, ``profile.pdf`` and ``profile.fhir.json``.

        Returns
        -------
        tuple of str
        """
        from gutaxis.report import PROFILE_FILES

        return (*PROFILE_FILES, FHIR_FILE)

    sample: str
    reference: Path
    patient: str | None = None
    labs: Path | None = None
    labs_made_from: tuple[str, str] | None = None
    markers: tuple[str, ...] = ()
    markers_file: Path | None = None
    previous: Path | None = None
    visit_date: str | None = None
    seed: int = 0
    n_boot: int = 2000
    pdf: bool = True
    fhir: bool = False

    def __post_init__(self) -> None:
        """Check the paths and the values."""
        super().__post_init__()
        object.__setattr__(self, "reference", check_folder(self.reference, "--reference"))
        for name, flag in (("labs", "--labs"), ("markers_file", "--markers-file"),
                           ("previous", "--previous")):
            object.__setattr__(self, name, check_file(getattr(self, name), flag))
        object.__setattr__(self, "markers", check_names(self.markers, "--markers"))
        if not isinstance(self.sample, str) or not self.sample:
            raise ValidationError(f"--sample must be a sample id; got {self.sample!r}")
        if (self.markers or self.markers_file) and self.metadata is None:
            raise ValidationError("markers are read from the sample metadata: give --metadata "
                                  "(the file the marker columns are in), or give the values "
                                  "in a lab results file (--labs)")
        if self.patient is not None and not str(self.patient).strip():
            raise ValidationError("--patient must be a non-empty id")
        if self.labs_made_from is not None:
            name, sha = (tuple(self.labs_made_from) + ("", ""))[:2] \
                if isinstance(self.labs_made_from, tuple | list) else ("", "")
            if self.labs is None or not name or len(sha) != 64 or not all(
                    c in "0123456789abcdef" for c in sha):
                raise ValidationError("labs_made_from must be (file name, SHA-256 in hex) of "
                                      "the file --labs was written from; got "
                                      f"{self.labs_made_from!r}")
            object.__setattr__(self, "labs_made_from", (str(name), sha))
        check_integer(self.n_boot, "n_boot", minimum=1)
        check_integer(self.seed, "--seed", minimum=0)
        object.__setattr__(self, "visit_date", check_date(self.visit_date, "--visit-date"))


@dataclasses.dataclass(frozen=True)
class ProfileResult:
    """One patient's profile (nothing is written until :meth:`write`).

    Attributes
    ----------
    options : ProfileOptions
    profile : Profile
    """

    options: ProfileOptions
    profile: Profile

    def write(self, folder: str | os.PathLike[str], *, overwrite: bool = False
              ) -> dict[str, Path]:
        """Write ``profile.json``, ``profile.html``, ``profile.pdf`` and ``profile.fhir.json``.

        The PDF only with ``pdf``, the FHIR Bundle only with ``fhir``.

        Parameters
        ----------
        folder : path
            Created when missing; a folder that holds files is refused unless
            ``overwrite``.  The previous visit's ``profile.json`` is never
            written over.
        overwrite : bool, default False

        Returns
        -------
        dict of str to Path
            ``{"json", "html", "pdf", "fhir"}`` (those written).

        Raises
        ------
        OutputError
            The folder is not empty (without ``overwrite``), or writing there
            would replace the previous visit's profile.
        ToolError
            The PDF cannot be made (WeasyPrint's libraries are missing); the
            JSON and HTML are written before.
        """
        with self.options.output(folder, overwrite=overwrite) as out:
            from gutaxis.report import write_profile

            written: dict[str, Path] = {}
            if self.options.fhir:  # before the PDF, which may fail for want of WeasyPrint
                import json

                from gutaxis.fhir import profile_bundle
                from gutaxis.outputs import json_text, write_json
                from gutaxis.report import profile_document

                stored = json.loads(json_text(profile_document(self.profile)))  # as profile.json
                written["fhir"] = write_json(out / FHIR_FILE, profile_bundle(stored))
            try:
                return {**write_profile(self.profile, out, pdf=self.options.pdf), **written}
            except ToolError as exc:  # no PDF: what was written stays, the error follows
                no_pdf = exc
        raise no_pdf


def run_profile(options: ProfileOptions) -> ProfileResult:
    """Read a patient's data and build the profile (see :func:`gutaxis.profile.build_profile`).

    Parameters
    ----------
    options : ProfileOptions

    Returns
    -------
    ProfileResult

    Raises
    ------
    InputError
        ``options`` is not a ProfileOptions, and the errors of the readers
        and of :func:`~gutaxis.profile.build_profile`.
    """
    from gutaxis.profile import build_profile, read_visit
    from gutaxis.reference import load_reference

    check_type(options, ProfileOptions, "options",
               hint="make one with ProfileOptions(table=..., sample=..., reference=...)")
    study, inputs = load_study(options)
    reference = load_reference(options.reference)
    labs = None
    if options.labs is not None:
        from gutaxis.markers import read_labs  # here: the marker catalogue is slow to load

        labs = read_labs(options.labs)
        record: dict[str, Any] = {"role": "labs", "path": str(options.labs),
                                  "sha256": labs.sha256, "bytes": options.labs.stat().st_size}
        if options.labs_made_from is not None:
            name, sha = options.labs_made_from
            record["made_from"] = {"path": name, "sha256": sha}
        inputs.append(record)
    panel = read_markers(study, options.markers, options.markers_file, inputs,
                         where=str(options.metadata))
    previous = None
    if options.previous is not None:
        previous = read_visit(options.previous)
        inputs.append(input_record(options.previous, "previous profile"))
    profile = build_profile(study, options.sample, reference, patient_id=options.patient,
                            markers=panel, labs=labs, previous=previous,
                            n_boot=options.n_boot, seed=options.seed, inputs=inputs,
                            visit_date=options.visit_date)
    return ProfileResult(options, profile)
