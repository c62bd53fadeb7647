"""``gutaxis reference build``: freeze a reference cohort a patient is placed against."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING

from gutaxis.checks import check_file, check_names, check_type
from gutaxis.commands._inputs import TableOptions, load_study, read_markers
from gutaxis.exceptions import InputError, ValidationError

if TYPE_CHECKING:
    from gutaxis.reference import Reference

__all__ = ["ReferenceOptions", "ReferenceResult", "run_reference_build"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class ReferenceOptions(TableOptions):
    """What ``gutaxis reference build`` is asked to do (validated once, when made).

    Parameters
    ----------
    table, taxonomy, metadata, transpose
        As :class:`~gutaxis.commands.TableOptions`; ``metadata`` is required.
    name : str
        A name for reports (``"healthy adults, 16S V4, lab X"``).
    where : str, optional
        Which samples form the reference: a condition on the metadata
        (``"Subject == 'Control'"``); default every sample.
    markers : sequence of str
        Marker columns whose distributions are frozen too (``COLUMN`` or
        ``COLUMN=UNIT``).
    markers_file : path, optional
        A file of marker columns and units.
    classifier : path, optional
        A model saved by ``gutaxis analyze --save-model`` to freeze with it.
    sequencing : str, optional
        ``"16S V4"``, ``"shotgun"``…; default: inferred.
    min_reads : int
        Count tables: samples with fewer reads are left out.
    subject : str, optional
        Metadata column naming the person each sample came from
        (``--subject``); the reference then counts people.
    per_subject : {"first", "mean", "all"}
        How a person with several samples enters (``--per-subject``; see
        :func:`gutaxis.reference.build_reference`).

    Raises
    ------
    InputError
        A path that names no file, or no metadata.
    ValidationError
        An empty name, a negative ``min_reads``, an unknown ``per_subject``.
    """

    OUTPUT_NAME = "the reference"

    def owned(self) -> tuple[str, ...]:
        """Return what a reference folder holds (:data:`gutaxis.reference.store.OWNED`).

        Returns
        -------
        tuple of str
        """
        from gutaxis.reference.store import OWNED

        return OWNED

    name: str
    where: str | None = None
    markers: tuple[str, ...] = ()
    markers_file: Path | None = None
    classifier: Path | None = None
    sequencing: str | None = None
    min_reads: int = 1000
    subject: str | None = None
    per_subject: str = "first"

    def __post_init__(self) -> None:
        """Check the paths, the name and the minimum read count."""
        super().__post_init__()
        if self.metadata is None:
            raise InputError("a reference needs the sample metadata (--metadata)")
        object.__setattr__(self, "markers_file", check_file(self.markers_file,
                                                            "--markers-file"))
        object.__setattr__(self, "classifier", check_file(self.classifier, "--classifier"))
        object.__setattr__(self, "markers", check_names(self.markers, "--markers"))
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValidationError(f"the reference needs a name (--name), a non-empty text; "
                                  f"got {self.name!r}")
        if isinstance(self.min_reads, bool) or not isinstance(self.min_reads, int) \
                or self.min_reads < 0:
            raise ValidationError(f"--min-reads must be an integer ≥ 0; got {self.min_reads!r}")
        if self.per_subject not in ("first", "mean", "all"):
            raise ValidationError(f"--per-subject must be one of first, mean, all; got "
                                  f"{self.per_subject!r}")
        if self.subject is not None and (not isinstance(self.subject, str)
                                         or not self.subject.strip()):
            raise ValidationError(f"--subject must name a metadata column; got "
                                  f"{self.subject!r}")


@dataclasses.dataclass(frozen=True)
class ReferenceResult:
    """The frozen reference (nothing is written until :meth:`write`).

    Attributes
    ----------
    options : ReferenceOptions
    reference : Reference
    """

    options: ReferenceOptions
    reference: Reference

    def write(self, folder: str | os.PathLike[str], *, overwrite: bool = False
              ) -> dict[str, Path]:
        """Write the reference folder (:func:`gutaxis.reference.save_reference`).

        Parameters
        ----------
        folder : path
        overwrite : bool, default False

        Returns
        -------
        dict of str to Path
            ``{"reference": folder}``.
        """
        from gutaxis.reference import save_reference

        return {"reference": save_reference(self.reference, folder, overwrite=overwrite)}


def run_reference_build(options: ReferenceOptions) -> ReferenceResult:
    """Read a cohort and freeze the reference (see :func:`gutaxis.reference.build_reference`).

    Parameters
    ----------
    options : ReferenceOptions

    Returns
    -------
    ReferenceResult

    Raises
    ------
    InputError
        ``options`` is not a ReferenceOptions, and the errors of the readers
        and of :func:`~gutaxis.reference.build_reference`.
    """
    from gutaxis.reference import build_reference

    check_type(options, ReferenceOptions, "options",
               hint="make one with ReferenceOptions(table=..., metadata=..., name=...)")
    study, inputs = load_study(options)
    panel = read_markers(study, options.markers, options.markers_file, inputs,
                         where=str(options.metadata))
    reference = build_reference(study, name=options.name, where=options.where, markers=panel,
                                classifier_path=options.classifier,
                                sequencing=options.sequencing, min_reads=options.min_reads,
                                inputs=inputs, subject=options.subject,
                                per_subject=options.per_subject)
    return ReferenceResult(options, reference)
