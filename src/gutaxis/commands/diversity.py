"""``gutaxis diversity``: alpha and beta diversity of a table, as QIIME 2 defines them."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from gutaxis import io as gio
from gutaxis.checks import check_file, check_integer, check_names, check_number, check_type
from gutaxis.commands._inputs import (
    StepCallback,
    TableOptions,
    attach_tree,
    load_study,
    no_metadata_note,
    tree_info,
)
from gutaxis.distance import DistanceMatrix
from gutaxis.exceptions import ValidationError
from gutaxis.outputs import write_json, write_tsv
from gutaxis.provenance import build_provenance
from gutaxis.study import Study

__all__ = ["DiversityOptions", "DiversityResult", "run_diversity", "DIVERSITY_FILES"]

#: What ``gutaxis diversity`` writes into its folder (what ``--overwrite`` replaces).
DIVERSITY_FILES = ("alpha.tsv", "beta", "provenance.json", "tree.nwk")


@dataclasses.dataclass(frozen=True, kw_only=True)
class DiversityOptions(TableOptions):
    """What ``gutaxis diversity`` is asked to do (validated once, when made).

    Parameters
    ----------
    table, taxonomy, metadata, transpose
        As :class:`~gutaxis.commands.TableOptions`; with ``metadata``, only
        the samples it shares with the table are kept.
    tree : path, optional
        A rooted tree (Newick or ``Phylogeny[Rooted]`` ``.qza``); without it
        a tree is built de novo when the features are ASV sequences.
    sequences : path, optional
        ASV sequences (FASTA or ``.qza``) for the de novo tree.
    metrics : sequence of str, optional
        QIIME 2 metric names; by default every registered metric that applies
        (phylogenetic ones are skipped, with a note, when no tree can be had).
    rarefy : int, optional
        Rarefy every sample to this depth first (samples below it are left
        out and listed); ``None`` = no rarefaction.
    seed : int
        Seed of the rarefaction.
    shannon_base : float
        Logarithm base of ``shannon_entropy`` (QIIME 2: 2).
    tree_cache : path, optional
        Where de novo trees are cached.
    threads : int, optional
        Threads for the kernels (default: all cores).

    Raises
    ------
    InputError
        A path that names no file; ``metrics`` given as one text.
    UnknownMetricError
        A metric name that does not exist (the closest are suggested).
    ValidationError
        A value out of range.
    """

    OWNED = DIVERSITY_FILES
    OUTPUT_NAME = "the diversity"

    tree: Path | None = None
    sequences: Path | None = None
    metrics: tuple[str, ...] | None = None
    rarefy: int | None = None
    seed: int = 0
    shannon_base: float = 2.0
    tree_cache: Path | None = None
    threads: int | None = None

    def __post_init__(self) -> None:
        """Check paths, metric names and numbers."""
        from gutaxis.diversity import split_metrics  # here: the kernels load when options are made

        super().__post_init__()
        object.__setattr__(self, "tree", check_file(self.tree, "--tree"))
        object.__setattr__(self, "sequences", check_file(self.sequences, "--sequences"))
        if self.metrics is not None:
            names = check_names(self.metrics, "--metrics")
            if not names:
                raise ValidationError("give at least one metric name, e.g. --metrics "
                                      "shannon_entropy (see `gutaxis metrics`)")
            split_metrics(names)
            object.__setattr__(self, "metrics", names)
        if self.rarefy is not None:
            check_integer(self.rarefy, "--rarefy", minimum=1)
        check_integer(self.seed, "--seed", minimum=0)
        base = check_number(self.shannon_base, "--base", above=0)
        if base == 1.0:
            raise ValidationError("--base must be a finite number > 0 other than 1; got 1")
        if self.threads is not None:
            check_integer(self.threads, "--threads", minimum=1)


@dataclasses.dataclass(frozen=True)
class DiversityResult:
    """What ``gutaxis diversity`` computed (nothing is written until :meth:`write`).

    Attributes
    ----------
    options : DiversityOptions
    study : Study
        The samples the metrics were computed on (rarefied when asked).
    alpha : pandas.DataFrame or None
        Samples × alpha metrics.
    beta : dict of str to DistanceMatrix
    rarefaction : dict or None
        ``{depth, seed, dropped, n_kept}``.
    skipped : dict of str to str
        Metrics not computed and samples left out, with the reason.
    provenance : dict
        The ``provenance.json`` document.
    """

    options: DiversityOptions
    study: Study
    alpha: pd.DataFrame | None
    beta: dict[str, DistanceMatrix]
    rarefaction: dict[str, Any] | None
    skipped: dict[str, str]
    provenance: dict[str, Any]

    @property
    def tree(self) -> dict[str, Any] | None:
        """The tree used, as recorded (``source`` ``"user"`` or ``"de novo"``), or None."""
        return tree_info(self.study)

    def write(self, folder: str | os.PathLike[str], *, overwrite: bool = False
              ) -> dict[str, Path]:
        """Write ``alpha.tsv``, ``beta/<metric>.tsv``, ``provenance.json`` (and ``tree.nwk``).

        Parameters
        ----------
        folder : path
            Created when missing; a folder that holds files is refused unless
            ``overwrite`` (see :func:`gutaxis.outputs.prepare_output_folder`).
        overwrite : bool, default False

        Returns
        -------
        dict of str to Path
            ``alpha``, ``beta/<metric>``, ``provenance`` and ``tree``, as written.
        """
        out = self.options.prepare_output(folder, overwrite=overwrite)
        written: dict[str, Path] = {}
        if self.alpha is not None:
            written["alpha"] = write_tsv(self.alpha, out / "alpha.tsv", index=True,
                                         float_format="%.17g")
        if self.beta:
            (out / "beta").mkdir(exist_ok=True)
            for name, dm in self.beta.items():
                gio.write_lsmat(dm, out / "beta" / f"{name}.tsv")
                written[f"beta/{name}"] = out / "beta" / f"{name}.tsv"
        tree = self.tree
        if tree is not None and tree.get("source") == "de novo" and self.study.tree is not None:
            written["tree"] = gio.write_tree(self.study.tree, out / "tree.nwk")
        written["provenance"] = write_json(out / "provenance.json", self.provenance)
        return written


def _metrics(options: DiversityOptions) -> tuple[list[str], list[str], bool]:
    from gutaxis.diversity import alpha_metrics, beta_metrics, split_metrics

    if options.metrics is None:
        return list(alpha_metrics()), list(beta_metrics()), True
    alpha, beta = split_metrics(options.metrics)
    return alpha, beta, False


def run_diversity(options: DiversityOptions, *, command: Sequence[str] | None = None,
                  on_step: StepCallback | None = None) -> DiversityResult:
    """Compute alpha and beta diversity of a table.

    Parameters
    ----------
    options : DiversityOptions
    command : sequence of str, optional
        The command line, for provenance.
    on_step : callable, optional
        ``on_step(label, done, total)`` progress callback.

    Returns
    -------
    DiversityResult

    Raises
    ------
    InputError
        ``options`` is not a DiversityOptions; a phylogenetic metric asked for
        by name when no tree can be had, a count metric asked for on relative
        abundances, and the errors of the readers.
    """
    from gutaxis.diversity import (
        alpha_diversity,
        alpha_metrics,
        applicable_metrics,
        beta_diversity,
        beta_metrics,
        rarefy,
    )

    check_type(options, DiversityOptions, "options", hint="make one with "
               "DiversityOptions(table=...)")
    alpha_names, beta_names, defaults = _metrics(options)
    study, inputs = load_study(options, sequences=options.sequences)
    registry = {**alpha_metrics(), **beta_metrics()}
    wants_tree = any(registry[m].needs_tree for m in [*alpha_names, *beta_names])
    total = (len(alpha_names) + len(beta_names) + int(wants_tree)
             + int(options.rarefy is not None))
    done = 0

    def step(label: str) -> None:
        nonlocal done
        done += 1
        if on_step is not None:
            on_step(label, done, total)

    skipped: dict[str, str] = dict(no_metadata_note(study))
    if wants_tree:
        study = attach_tree(study, options.tree, cache_dir=options.tree_cache,
                            threads=options.threads)
        info = tree_info(study)
        if info is not None and info.get("source") == "user":
            inputs.append({k: info[k] for k in ("role", "path", "sha256", "bytes")})
        step("tree")
    alpha_names, beta_names, left_out = applicable_metrics(
        study, [*alpha_names, *beta_names], asked=() if defaults else options.metrics or ())
    skipped.update(left_out)
    # the steps left, now that the metrics that do not apply are known
    total = done + len(alpha_names) + len(beta_names) + int(options.rarefy is not None)

    rarefaction = None
    if options.rarefy is not None:
        result = rarefy(study, options.rarefy, seed=options.seed)
        study = result.study
        rarefaction = {"depth": int(options.rarefy), "seed": options.seed,
                       "dropped": list(result.dropped), "n_kept": study.n_samples}
        step("rarefy")

    alpha_frame = None
    if alpha_names:
        columns = []
        for name in alpha_names:
            columns.append(alpha_diversity(study, [name], base=options.shannon_base))
            step(name)
        alpha_frame = pd.concat(columns, axis=1)
    beta: dict[str, DistanceMatrix] = {}
    for name in beta_names:
        beta[name] = beta_diversity(study, name, n_threads=options.threads)
        step(name)

    parameters = {"metrics": {"alpha": alpha_names, "beta": beta_names},
                  "rarefy": options.rarefy, "seed": options.seed,
                  "shannon_base": options.shannon_base,
                  "threads": options.threads or os.cpu_count()}
    provenance = build_provenance(command=command, inputs=inputs, parameters=parameters,
                                  steps=study.provenance,
                                  extra={"tree": tree_info(study), "rarefaction": rarefaction,
                                         "skipped_metrics": {k: v for k, v in skipped.items()
                                                             if k in registry},
                                         "skipped": skipped,
                                         "n_samples": study.n_samples,
                                         "n_features": study.n_features})
    return DiversityResult(options, study, alpha_frame, beta, rarefaction, skipped, provenance)
