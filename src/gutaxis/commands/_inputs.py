"""What every command reads: the table and its companion files, checked once.

:class:`TableOptions` is the part of every command's options that names the
feature table and its companions; :func:`load_study` reads them into one
:class:`~gutaxis.study.Study` and returns the input records for provenance,
taken from the readers' own records (each file is hashed once, by the reader
that reads it).  :func:`attach_tree` gives a study the user's tree or one
built de novo.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd

from gutaxis import io as gio
from gutaxis.checks import check_file
from gutaxis.cohort import StepCallback
from gutaxis.exceptions import InputError, UnknownNameError, ValidationError
from gutaxis.markers import MarkerPanel, marker_panel, read_marker_specs
from gutaxis.outputs import check_output_folder, prepare_output_folder
from gutaxis.provenance import file_sha256, input_record_from
from gutaxis.study import Study

__all__ = ["TableOptions", "load_study", "attach_tree", "tree_info", "read_markers",
           "no_metadata_note", "StepCallback", "default"]


def default(options: type, name: str) -> Any:
    """Return the default of one field of an options class (the one place defaults live).

    Parameters
    ----------
    options : type
        A dataclass (``AnalysisOptions``, ``CohortParameters``...).
    name : str
        The field.

    Returns
    -------
    object

    Raises
    ------
    InputError
        ``options`` is not a dataclass.
    UnknownNameError
        ``options`` has no field ``name`` (the fields are listed).
    ValidationError
        The field has no default.

    Examples
    --------
    >>> from gutaxis.cohort import CohortParameters
    >>> default(CohortParameters, "permutations")
    999
    """
    if not (isinstance(options, type) and dataclasses.is_dataclass(options)):
        raise InputError(f"default() takes an options class (a dataclass such as "
                         f"CohortParameters); got {options!r}")
    fields = {f.name: f for f in dataclasses.fields(options)}
    if name not in fields:
        raise UnknownNameError(name, list(fields), f"{options.__name__} field")
    field = fields[name]
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    raise ValidationError(f"{options.__name__}.{name} has no default")


@dataclasses.dataclass(frozen=True, kw_only=True)
class TableOptions:
    """The feature table a command reads, and its companion files.

    Parameters
    ----------
    table : path
        Any format :func:`gutaxis.io.read_table` reads.
    taxonomy : path, optional
        Feature taxonomy (QIIME 2 TSV or ``.qza``) when the table has none.
    metadata : path, optional
        Sample metadata (QIIME 2 TSV or CSV).
    transpose : bool, optional
        Plain tables: samples in columns (True) or in rows (False) instead of
        detecting it.

    Raises
    ------
    InputError
        No table, or a path that names no file (the message names the option).
    """

    #: What the command writes into its output folder (what ``--overwrite`` replaces);
    #: see :meth:`owned`.
    OWNED: ClassVar[tuple[str, ...]] = ()
    #: What the output folder holds, for messages (``"the analysis"``).
    OUTPUT_NAME: ClassVar[str] = "the output"

    table: Path
    taxonomy: Path | None = None
    metadata: Path | None = None
    transpose: bool | None = None

    def __post_init__(self) -> None:
        """Check that every path names a file."""
        if self.table is None:
            raise InputError("TABLE: the feature table is required (a BIOM, .qza, MetaPhlAn or "
                             "TSV file); got None")
        for name, flag in (("table", "TABLE"), ("taxonomy", "--taxonomy"),
                           ("metadata", "--metadata")):
            object.__setattr__(self, name, check_file(getattr(self, name), flag))

    def input_paths(self) -> list[Path]:
        """Return every input file the options name (no output may replace them).

        Returns
        -------
        list of pathlib.Path
        """
        return [p for p in (getattr(self, f.name) for f in dataclasses.fields(self))
                if isinstance(p, Path)]

    def owned(self) -> tuple[str, ...]:
        """Return what the command writes into its output folder (:attr:`OWNED`).

        A command whose names live in a module that is slow to import
        overrides this and imports it here, so that making the options (and
        ``gutaxis --help``) stays fast.

        Returns
        -------
        tuple of str
        """
        return self.OWNED

    def check_output(self, folder: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Refuse ``folder`` now, before any work, if writing the results there would be refused.

        Parameters
        ----------
        folder : path
            Where the results will be written.
        overwrite : bool, default False

        Returns
        -------
        pathlib.Path
            ``folder``.

        Raises
        ------
        OutputError
            See :func:`gutaxis.outputs.check_output_folder`.
        """
        return check_output_folder(folder, owned=self.owned(), overwrite=overwrite,
                                   inputs=self.input_paths(), what=self.OUTPUT_NAME)

    def prepare_output(self, folder: str | os.PathLike[str], *, overwrite: bool) -> Path:
        """Make ``folder`` ready for the results (:func:`~gutaxis.outputs.prepare_output_folder`).

        Parameters
        ----------
        folder : path
        overwrite : bool

        Returns
        -------
        pathlib.Path
        """
        return prepare_output_folder(folder, owned=self.owned(), overwrite=overwrite,
                                     inputs=self.input_paths(), what=self.OUTPUT_NAME)


@contextlib.contextmanager
def _named(flag: str) -> Iterator[None]:
    """Put the option's name in front of a reader's error (``--metadata x.biom: …``)."""
    try:
        yield
    except InputError as exc:
        if exc.args and not str(exc.args[0]).startswith(flag):
            exc.args = (f"{flag} {exc.args[0]}", *exc.args[1:])
        raise


def load_study(options: TableOptions, *, min_shared: int = 1,
               sequences: Path | None = None) -> tuple[Study, list[dict[str, Any]]]:
    """Read the table and its companions into one :class:`Study`.

    Parameters
    ----------
    options : TableOptions
    min_shared : int, default 1
        Samples table and metadata must share (fewer is a
        :class:`~gutaxis.exceptions.SampleMismatchError`).
    sequences : pathlib.Path, optional
        ASV sequences (FASTA or ``.qza``) to attach.

    Returns
    -------
    study : Study
    inputs : list of dict
        ``{"role", "path", "sha256", "bytes"}`` of each file, from the
        readers' records.
    """
    study = gio.read_table(options.table, transpose=options.transpose)
    inputs = [input_record_from(study.provenance[0], "table")]
    if options.taxonomy is not None:
        with _named("--taxonomy"):
            tax = gio.read_taxonomy(options.taxonomy)
        inputs.append(input_record_from(tax.attrs["provenance"], "taxonomy"))
        study = study.replace({"step": "attach_taxonomy", "path": str(options.taxonomy)},
                              taxonomy=tax.reindex(study.feature_ids))
    if sequences is not None:
        with _named("--sequences"):
            seqs = gio.read_sequences(sequences)
        inputs.append(input_record_from(seqs.attrs["provenance"], "sequences"))
        study = study.replace({"step": "attach_sequences", "path": str(sequences)},
                              sequences=seqs.reindex(study.feature_ids))
    if options.metadata is not None:
        with _named("--metadata"):
            md = gio.read_metadata(options.metadata)
        inputs.append(input_record_from(md.attrs["provenance"], "metadata"))
        study = study.with_metadata(md, min_shared=min_shared, source=str(options.metadata))
    return study, inputs


def attach_tree(study: Study, tree: Path | None, *, cache_dir: str | os.PathLike[str] | None,
                threads: int | None) -> Study:
    """Give the study a tree: the user's, or one built de novo from ASV sequences.

    Parameters
    ----------
    study : Study
    tree : pathlib.Path, optional
        A Newick file or ``Phylogeny[Rooted]`` artifact.
    cache_dir : path, optional
        Where de novo trees are cached (default: the user cache).
    threads : int, optional

    Returns
    -------
    Study
        Unchanged when no tree can be had; otherwise with the tree and an
        ``attach_tree`` step describing it (``source`` ``"user"`` with the
        file's hash, or ``"de novo"`` with the tools and parameters).
    """
    from gutaxis.denovo_tree import build_tree, ids_look_like_sequences, sequences_from_ids

    if tree is not None:
        loaded = gio.read_tree(tree)
        record = {"source": "user", **input_record_from(loaded.provenance or {}, "tree")}
        return study.replace({"step": "attach_tree", **record}, tree=loaded)
    sequences: pd.Series | None = None
    if study.sequences is not None and study.sequences.notna().all():
        sequences = study.sequences
    elif ids_look_like_sequences(study.feature_ids):
        sequences = sequences_from_ids(study.feature_ids)
    if sequences is None:
        return study
    built, info = build_tree(sequences, cache_dir=cache_dir, threads=threads)
    return study.replace({"step": "attach_tree", **info}, tree=built)


def tree_info(study: Study) -> dict[str, Any] | None:
    """Return the ``attach_tree`` step of a study (without ``step``), or None.

    Parameters
    ----------
    study : Study

    Returns
    -------
    dict or None
    """
    steps = [s for s in study.provenance if s.get("step") == "attach_tree"]
    return None if not steps or study.tree is None else \
        {k: v for k, v in steps[-1].items() if k != "step"}


def read_markers(study: Study, specs: Sequence[str], markers_file: Path | None,
                 inputs: list[dict[str, Any]], *, where: str) -> MarkerPanel | None:
    """Read the marker columns named on the command line and in a markers file.

    Parameters
    ----------
    study : Study
        With the sample metadata the columns are in.
    specs : sequence of str
        ``"COLUMN"`` or ``"COLUMN=UNIT"``.
    markers_file : pathlib.Path, optional
        A file of marker columns and units (:func:`gutaxis.markers.read_marker_specs`);
        its record is appended to ``inputs``.
    inputs : list of dict
    where : str
        The metadata file's name, for messages.

    Returns
    -------
    MarkerPanel or None
        None when no marker is named.

    Raises
    ------
    InputError
        Markers named without metadata.
    """
    all_specs = list(specs)
    if markers_file is not None:
        inputs.append({"role": "markers", "path": str(markers_file),
                       "sha256": file_sha256(markers_file),
                       "bytes": markers_file.stat().st_size})
        all_specs += read_marker_specs(markers_file)
    if not all_specs:
        return None
    if study.samples is None:
        raise InputError("markers are read from the sample metadata: give --metadata (the "
                         "file the marker columns are in)")
    return marker_panel(study.samples, all_specs, where=where)


def no_metadata_note(study: Study) -> dict[str, str]:
    """Return ``{"samples without metadata": …}`` when the metadata left table samples out.

    Parameters
    ----------
    study : Study

    Returns
    -------
    dict of str to str
    """
    table_only = sum(int(s.get("n_table_only", 0)) for s in study.provenance
                     if s.get("step") == "attach_metadata")
    if not table_only:
        return {}
    return {"samples without metadata": (f"{table_only} sample(s) of the table have no row in "
                                         "the metadata and are left out")}
