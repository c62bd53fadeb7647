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
import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from gutaxis.checks import check_file
from gutaxis.cohort import StepCallback
from gutaxis.exceptions import (
    InputError,
    NotFoundError,
    SampleMismatchError,
    UnknownNameError,
    ValidationError,
)
from gutaxis.outputs import check_output_folder, output_folder
from gutaxis.provenance import file_sha256, input_record_from

if TYPE_CHECKING:  # the command line makes options without loading pandas, scipy or the readers
    import pandas as pd

    from gutaxis.markers import MarkerPanel
    from gutaxis.study import Study

__all__ = ["TableOptions", "load_study", "attach_tree", "tree_info", "read_markers",
           "StepCallback", "default", "check_taxonomy_overlap", "require",
           "MIN_TAXONOMY_SHARE"]

logger = logging.getLogger(__name__)


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

    def output(self, folder: str | os.PathLike[str], *, overwrite: bool
               ) -> contextlib.AbstractContextManager[Path]:
        """Make ``folder`` ready for the results, for a ``with`` block that writes them.

        See :func:`~gutaxis.outputs.output_folder`: the earlier files of an
        overwritten folder are kept until the block has written the new ones.

        Parameters
        ----------
        folder : path
        overwrite : bool

        Returns
        -------
        context manager of pathlib.Path
        """
        return output_folder(folder, owned=self.owned(), overwrite=overwrite,
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

    The metadata and the taxonomy are read first: unless ``transpose`` is
    given, their sample and feature ids decide the orientation of a plain
    table (samples in rows or in columns, :mod:`gutaxis.io._plain`), and the
    choice and its reason are logged.  A taxonomy must name most of the
    table's features (:func:`check_taxonomy_overlap`).

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

    Raises
    ------
    InputError
        The errors of the readers, named with their option; a taxonomy that
        names too few of the table's features; a table and metadata that
        share fewer than ``min_shared`` samples (with the orientation the
        table was read in, when it was detected).
    """
    from gutaxis import io as gio
    tax = md = None
    if options.taxonomy is not None:
        with _named("--taxonomy"):
            tax = gio.read_taxonomy(options.taxonomy)
    if options.metadata is not None:
        with _named("--metadata"):
            md = gio.read_metadata(options.metadata)
    study = gio.read_table(options.table, transpose=options.transpose,
                           sample_ids=None if md is None else md.index.astype(str),
                           feature_ids=None if tax is None else tax.index)
    read = study.provenance[0]
    if md is not None and "known sample ids" in str(read.get("orientation_reason", "")):
        logger.info("%s: the known sample ids are those of --metadata %s", study.source,
                    options.metadata)
    inputs = [input_record_from(read, "table")]
    if tax is not None:
        check_taxonomy_overlap(study, tax, str(options.taxonomy))
        inputs.append(input_record_from(tax.attrs["provenance"], "taxonomy"))
        study = study.replace({"step": "attach_taxonomy", "path": str(options.taxonomy)},
                              taxonomy=tax.reindex(study.feature_ids))
    if sequences is not None:
        with _named("--sequences"):
            seqs = gio.read_sequences(sequences)
        inputs.append(input_record_from(seqs.attrs["provenance"], "sequences"))
        study = study.replace({"step": "attach_sequences", "path": str(sequences)},
                              sequences=seqs.reindex(study.feature_ids))
    if md is not None:
        inputs.append(input_record_from(md.attrs["provenance"], "metadata"))
        try:
            study = study.with_metadata(md, min_shared=min_shared, source=str(options.metadata))
        except SampleMismatchError as exc:
            if read.get("orientation") and options.transpose is None:
                exc.args = (f"{exc.args[0]} The table was read as {read['orientation']} "
                            f"({read['orientation_reason']}); neither its row ids nor its "
                            "column names are the metadata's sample ids.", *exc.args[1:])
            raise
    return study, inputs


#: A taxonomy must name at least this share of the table's features.
MIN_TAXONOMY_SHARE = 0.5


def check_taxonomy_overlap(study: Study, taxonomy: pd.DataFrame, source: str) -> None:
    """Refuse a taxonomy that names none, or too few, of the table's features.

    QIIME 2 (``taxa collapse``, ``taxa barplot``) needs every feature of the
    table in the taxonomy.  gutaxis lets a few be missing — they count as
    unassigned, and the number is logged — but refuses a taxonomy that names
    fewer than :data:`MIN_TAXONOMY_SHARE` of the table's features: that is
    the taxonomy of another table (or of differently named features), and
    every rank-level result would be wrong.

    Parameters
    ----------
    study : Study
    taxonomy : pandas.DataFrame
        Indexed by feature id (:func:`gutaxis.io.read_taxonomy`).
    source : str
        The taxonomy file, for messages.

    Raises
    ------
    ValidationError
        Fewer than :data:`MIN_TAXONOMY_SHARE` of the features are named; the
        message gives the number matched and a few ids of each side.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from gutaxis.study import Study
    >>> s = Study(np.array([[1, 2]]), ["S1"], ["ASV1", "ASV2"])
    >>> tax = pd.DataFrame({"kingdom": ["Bacteria"]}, index=["OTU9"])
    >>> try:
    ...     check_taxonomy_overlap(s, tax, "tax.tsv")
    ... except ValidationError as exc:
    ...     print(str(exc).split(" (")[0])
    --taxonomy tax.tsv names 0 of the 2 features of the table <memory>
    """
    features = study.feature_ids
    shared = features.isin(taxonomy.index)
    n = int(shared.sum())
    if n >= MIN_TAXONOMY_SHARE * len(features):
        if n < len(features):
            logger.warning("--taxonomy %s names %d of the %d features of %s; the other %d "
                           "count as unassigned", source, n, len(features), study.source,
                           len(features) - n)
        return
    table_only = [_short(f) for f in features[~shared][:3]]
    tax_only = [_short(f) for f in taxonomy.index[~taxonomy.index.isin(features)][:3]]
    raise ValidationError(
        f"--taxonomy {source} names {n} of the {len(features)} features of the table "
        f"{study.source} (at least {MIN_TAXONOMY_SHARE:.0%} are needed); table features such as "
        f"{', '.join(map(repr, table_only))}; "
        + (f"taxonomy ids such as {', '.join(map(repr, tax_only))}" if tax_only else
           "the taxonomy has no other ids")
        + ". Give the taxonomy made for this table "
        "(the same feature ids: ASV sequences, MD5 hashes or OTU names)")


def _short(ident: object, width: int = 40) -> str:
    """Return an id for a message: whole, or its start, ``…`` and its end.

    ASV sequences are long and often share their first bases (one primer,
    one region), so the end is kept too: the examples must tell ids apart.

    Examples
    --------
    >>> _short("ASV1"), _short("TACG" * 30, width=21)
    ('ASV1', 'TACGTACGTA…CGTACGTACG (120 characters)')
    """
    text = str(ident)
    if len(text) <= width:
        return text
    head = (width - 1) // 2
    return f"{text[:head]}…{text[-(width - 1 - head):]} ({len(text)} characters)"


def require(study: Study, *, taxonomy_for: str | None = None,
            columns: dict[str, Sequence[str]] | None = None) -> None:
    """Stop before any long work when the study lacks what a command needs.

    Parameters
    ----------
    study : Study
        As :func:`load_study` made it.
    taxonomy_for : str, optional
        What needs the features' taxonomy (``"the composition at rank
        family"``); None when nothing does.
    columns : dict of str to sequence of str, optional
        Option → the metadata columns it names (``{"--group": ["Subject"]}``).

    Raises
    ------
    InputError
        No taxonomy (or one that assigns no feature at any rank) when one is
        needed; metadata columns named without metadata.
    NotFoundError
        A metadata column that is not there (the columns are listed).
    """
    if taxonomy_for is not None:
        tax = study.taxonomy
        if tax is None or not tax.notna().to_numpy().any():
            what = "has none" if tax is None else "has one that assigns no feature to any rank"
            raise InputError(
                f"{taxonomy_for} needs the features' taxonomy, and the table {study.source} "
                f"{what}. Give the taxonomy (--taxonomy FILE: a QIIME 2 taxonomy TSV or .qza, "
                "or mothur's .cons.taxonomy), or use a table that carries it (BIOM observation "
                "metadata, a taxonomy column, MetaPhlAn)")
    for flag, names in (columns or {}).items():
        if not names:
            continue
        if study.samples is None:
            raise InputError(f"{flag} names metadata columns; give the sample metadata "
                             "(--metadata)")
        missing = [c for c in names if c not in study.samples.columns]
        if missing:
            from gutaxis.io import metadata_source  # here: the CLI starts without the readers

            raise NotFoundError(f"{flag} metadata column", missing, metadata_source(study.samples),
                                available=[str(c) for c in study.samples.columns])


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

    Raises
    ------
    InputError
        The user's tree is unrooted (its root has more than two children),
        or an error of the tree reader (named with ``--tree``).
    NotFoundError
        Features of the table that are not tips of the user's tree.
    """
    from gutaxis import io as gio
    from gutaxis.denovo_tree import build_tree, ids_look_like_sequences, sequences_from_ids

    if tree is not None:
        with _named("--tree"):
            loaded = gio.read_tree(tree)
        missing = loaded.missing_tips(study.feature_ids)
        if missing:
            raise NotFoundError("feature id", missing, f"the tips of --tree {tree}")
        if loaded.root_children > 2:
            raise InputError(
                f"--tree {tree}: the root has {loaded.root_children} children, so the tree is "
                "unrooted (tree builders write one from an arbitrary node); phylogenetic "
                "metrics need a rooted tree. Root it at its midpoint (QIIME 2: qiime phylogeny "
                "midpoint-root) and give that file, or leave --tree out: gutaxis builds a "
                "rooted tree itself when the features are ASV sequences or --sequences is "
                "given")
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
    from gutaxis.markers import marker_panel, read_marker_specs
    all_specs = list(specs)
    origins = ["--markers"] * len(all_specs)
    if markers_file is not None:
        inputs.append({"role": "markers", "path": str(markers_file),
                       "sha256": file_sha256(markers_file),
                       "bytes": markers_file.stat().st_size})
        all_specs += read_marker_specs(markers_file, origins=origins)
    if not all_specs:
        return None
    if study.samples is None:
        raise InputError("markers are read from the sample metadata: give --metadata (the "
                         "file the marker columns are in)")
    return marker_panel(study.samples, all_specs, where=where, origins=origins)
