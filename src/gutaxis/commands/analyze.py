"""``gutaxis analyze``: the cohort analysis, from files to report."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from gutaxis.checks import check_file, check_names, check_type
from gutaxis.cohort import CohortParameters, FoldCallback
from gutaxis.commands._inputs import (
    StepCallback,
    TableOptions,
    attach_tree,
    load_study,
    read_markers,
    require,
    tree_info,
)
from gutaxis.exceptions import InputError
from gutaxis.outputs import check_distance_format
from gutaxis.report.result_files import RESULT_FILES

if TYPE_CHECKING:
    from gutaxis.cohort import CohortAnalysis

__all__ = ["AnalysisOptions", "AnalysisResult", "run_analysis", "ANALYSIS_FILES"]

#: What ``gutaxis analyze`` writes into its folder (what ``--overwrite`` replaces).
ANALYSIS_FILES = (*RESULT_FILES, "report.html", "tree.nwk", "model")


@dataclasses.dataclass(frozen=True, kw_only=True)
class AnalysisOptions(TableOptions):
    """What ``gutaxis analyze`` is asked to do (validated once, when made).

    Parameters
    ----------
    table, taxonomy, metadata, transpose
        As :class:`~gutaxis.commands.TableOptions`; ``metadata`` is required
        (it holds the groups and the markers).
    parameters : CohortParameters
        The group column and every choice of the analysis (their defaults
        live there).
    tree : path, optional
        A rooted tree; without it one is built de novo from ASV sequences.
    sequences : path, optional
        ASV sequences (FASTA or ``.qza``) for the de novo tree.
    markers : sequence of str
        Marker columns of the metadata, ``"COLUMN"`` or ``"COLUMN=UNIT"``.
    markers_file : path, optional
        A file of marker columns and units (:func:`gutaxis.markers.read_marker_specs`).
    save_model : bool
        Also fit each classifier on all samples and save it under ``model/``.
    tree_cache : path, optional
        Where de novo trees are cached.
    output_format : {"tsv", "hdf5", "qza", "zarr"}
        How the distance matrices ``beta/<metric>`` are written (as
        ``gutaxis diversity --format``); with ``hdf5`` the analysis's PCoA
        goes in the file (as ``ssu --pcoa``), with ``qza`` it is written as
        ``beta/<metric>_pcoa.qza`` (``PCoAResults``).
    precision : {"float64", "float32"}
        The number type of the ``hdf5`` and ``zarr`` matrices.

    Raises
    ------
    InputError
        A path that names no file, no metadata, ``parameters`` that are not
        CohortParameters, ``markers`` given as one text.
    ValidationError
        An unknown ``output_format`` or ``precision``, float32 with a text
        format.

    Examples
    --------
    >>> from gutaxis.io import example_dataset
    >>> data = example_dataset()
    >>> options = AnalysisOptions(table=data.table, metadata=data.metadata,
    ...                           parameters=CohortParameters("Subject"))
    >>> options.parameters.permutations
    999
    """

    OWNED = ANALYSIS_FILES
    OUTPUT_NAME = "the analysis"

    parameters: CohortParameters
    tree: Path | None = None
    sequences: Path | None = None
    markers: tuple[str, ...] = ()
    markers_file: Path | None = None
    save_model: bool = False
    tree_cache: Path | None = None
    output_format: str = "tsv"
    precision: str = "float64"

    def __post_init__(self) -> None:
        """Check the paths; the analysis needs metadata."""
        super().__post_init__()
        if self.metadata is None:
            raise InputError("the cohort analysis needs sample metadata (--metadata) with the "
                             "group column")
        if not isinstance(self.parameters, CohortParameters):
            raise InputError(f"parameters must be CohortParameters; got "
                             f"{type(self.parameters).__name__}")
        object.__setattr__(self, "tree", check_file(self.tree, "--tree"))
        object.__setattr__(self, "sequences", check_file(self.sequences, "--sequences"))
        object.__setattr__(self, "markers_file", check_file(self.markers_file,
                                                            "--markers-file"))
        object.__setattr__(self, "markers", check_names(self.markers, "--markers"))
        check_distance_format(self.output_format, self.precision)
        if self.save_model:
            object.__setattr__(self, "parameters",
                               dataclasses.replace(self.parameters, fit_models=True))


@dataclasses.dataclass(frozen=True)
class AnalysisResult:
    """What ``gutaxis analyze`` computed (nothing is written until :meth:`write`).

    Attributes
    ----------
    options : AnalysisOptions
    analysis : CohortAnalysis
    """

    options: AnalysisOptions
    analysis: CohortAnalysis

    def write(self, folder: str | os.PathLike[str], *, overwrite: bool = False
              ) -> dict[str, Path]:
        """Write ``report.html``, ``results.json``, ``provenance.json``, the tables and matrices.

        Also ``tree.nwk`` when the tree was built de novo and ``model/<set>.joblib``
        with ``save_model``.

        Parameters
        ----------
        folder : path
            Created when missing; a folder that holds files is refused unless
            ``overwrite`` (see :func:`gutaxis.outputs.output_folder`).
        overwrite : bool, default False

        Returns
        -------
        dict of str to Path
            What was written, by name (``results``, ``report``, ``alpha``...).
        """
        with self.options.output(folder, overwrite=overwrite) as out:
            analysis = self.analysis
            from gutaxis import io as gio
            from gutaxis.report import write_report, write_results

            options = self.options
            written = write_results(analysis, out, matrix_format=options.output_format,
                                    precision="float32" if options.precision == "float32"
                                    else "float64")
            info = tree_info(analysis.study)
            if info is not None and info.get("source") == "de novo" and \
                    analysis.study.tree is not None:
                written["tree"] = gio.write_tree(analysis.study.tree, out / "tree.nwk")
            for name, model in analysis.models.items():
                (out / "model").mkdir(exist_ok=True)
                path = out / "model" / f"{name}.joblib"
                model.save(path)
                written[f"model/{name}"] = path
            written["report"] = write_report(analysis, out / "report.html")
            return written


def run_analysis(options: AnalysisOptions, *, command: Sequence[str] | None = None,
                 on_step: StepCallback | None = None,
                 on_fold: FoldCallback | None = None) -> AnalysisResult:
    """Read the cohort and analyse it (see :func:`gutaxis.cohort.analyze_cohort`).

    Parameters
    ----------
    options : AnalysisOptions
    command : sequence of str, optional
        The command line, for provenance.
    on_step, on_fold : callable, optional
        Progress callbacks: ``on_step(label, done, total)`` per step,
        ``on_fold(done, total)`` per cross-validation fold.

    Returns
    -------
    AnalysisResult

    Raises
    ------
    InputError
        ``options`` is not an AnalysisOptions, and the errors of the readers
        and of :func:`~gutaxis.cohort.analyze_cohort`.
    """
    from gutaxis.cohort import analyze_cohort, check_cohort

    check_type(options, AnalysisOptions, "options",
               hint="make one with AnalysisOptions(table=..., metadata=..., parameters=...)")
    p = options.parameters
    study, inputs = load_study(options, min_shared=2 * p.min_group_size,
                               sequences=options.sequences)
    # what the analysis needs, checked before the tree and the diversity
    require(study, taxonomy_for=f"the analysis at rank {p.rank} (composition, differential "
            "abundance, classifiers)", columns={"--group": [p.group_column],
                                                "--covariates": list(p.covariates),
                                                "--subject": [p.subject] if p.subject else []})
    panel = read_markers(study, options.markers, options.markers_file, inputs,
                         where=str(options.metadata))
    check_cohort(study, p)  # samples, groups and people, before the tree
    if on_step is not None:
        on_step("reading", 0, 0)
    study = attach_tree(study, options.tree, cache_dir=options.tree_cache, threads=p.threads)
    info = tree_info(study)
    if info is not None and info.get("source") == "user":
        inputs.append({k: info[k] for k in ("role", "path", "sha256", "bytes")})
    analysis = analyze_cohort(study, p, markers=panel, inputs=inputs, command=command,
                              on_step=on_step, on_fold=on_fold)
    return AnalysisResult(options, analysis)
