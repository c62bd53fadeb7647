"""Whole steps the command line (and later the web service) run: load → diversity → files.

The CLI is a thin shell around these functions, so everything here can be
called from Python with the same behaviour.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from gutaxis import io as gio
from gutaxis.diversity import (
    alpha_diversity,
    alpha_metrics,
    beta_diversity,
    beta_metrics,
    rarefy,
)
from gutaxis.exceptions import InputError, UnknownMetricError
from gutaxis.provenance import build_provenance, input_record
from gutaxis.study import Study

__all__ = [
    "DEFAULT_ALPHA",
    "DEFAULT_BETA",
    "DiversityRun",
    "load_study",
    "attach_tree",
    "run_diversity",
    "AnalysisRun",
    "run_analysis",
]

if TYPE_CHECKING:
    from gutaxis.cohort import CohortAnalysis

log = logging.getLogger(__name__)

#: Metrics computed when ``--metrics`` is not given (QIIME 2 names).
DEFAULT_ALPHA: tuple[str, ...] = (
    "observed_features", "shannon_entropy", "simpson", "chao1", "pielou_evenness", "faith_pd",
)
DEFAULT_BETA: tuple[str, ...] = (
    "braycurtis", "jaccard", "aitchison", "robust_aitchison",
    "unweighted_unifrac", "weighted_unifrac", "weighted_normalized_unifrac",
)

#: ``on_step(label, done, total)`` — progress callback the CLI turns into a bar.
StepCallback = Callable[[str, int, int], None]


@dataclasses.dataclass(frozen=True)
class DiversityRun:
    """What :func:`run_diversity` wrote and computed."""

    out_dir: Path
    alpha_path: Path | None
    beta_paths: dict[str, Path]
    provenance_path: Path
    alpha: pd.DataFrame | None
    study: Study
    tree_info: dict[str, Any] | None
    rarefaction: dict[str, Any] | None
    skipped: dict[str, str]


def load_study(table: str | Path, *, taxonomy: str | Path | None = None,
               metadata: str | Path | None = None, sequences: str | Path | None = None,
               transpose: bool | None = None,
               min_shared: int = 1) -> tuple[Study, list[dict[str, Any]]]:
    """Read a table and its companions into one :class:`Study`.

    ``min_shared`` is the number of samples table and metadata must share
    (fewer is a :class:`~gutaxis.exceptions.SampleMismatchError`).

    Returns the study and the input records (path, role, SHA-256) for provenance.
    """
    inputs = [input_record(table, "table")]
    study = gio.read_table(table, transpose=transpose)
    if taxonomy is not None:
        inputs.append(input_record(taxonomy, "taxonomy"))
        tax = gio.read_taxonomy(taxonomy)
        study = study.replace({"step": "attach_taxonomy", "path": str(taxonomy)},
                              taxonomy=tax.reindex(study.feature_ids))
    if sequences is not None:
        inputs.append(input_record(sequences, "sequences"))
        seqs = gio.read_sequences(sequences)
        study = study.replace({"step": "attach_sequences", "path": str(sequences)},
                              sequences=seqs.reindex(study.feature_ids))
    if metadata is not None:
        inputs.append(input_record(metadata, "metadata"))
        md = gio.read_metadata(metadata)
        study = study.with_metadata(md, min_shared=min_shared, source=str(metadata))
    return study, inputs


def _sequences_for_tree(study: Study) -> pd.Series | None:
    from gutaxis.phylogeny import ids_look_like_sequences, sequences_from_ids

    if study.sequences is not None and study.sequences.notna().all():
        return study.sequences
    if ids_look_like_sequences(study.feature_ids):
        return sequences_from_ids(study.feature_ids)
    return None


def attach_tree(study: Study, tree: str | Path | None, *, cache_dir: str | Path | None = None,
                threads: int | None = None) -> tuple[Study, dict[str, Any] | None]:
    """Give the study a tree: the user's, or one built de novo from ASV sequences.

    Returns the study (unchanged when no tree can be had) and a description of
    the tree used (``None`` when there is none).
    """
    from gutaxis.phylogeny import build_tree
    from gutaxis.tree import Tree

    if tree is not None:
        path = Path(tree)
        loaded = gio.read_qza(path).value if gio.is_qza(path) else Tree.read(path)
        if not isinstance(loaded, Tree):
            raise InputError(f"{path}: expected a rooted phylogeny (Newick or Phylogeny[Rooted] "
                             f".qza); got {type(loaded).__name__}")
        info = {"source": "user", **input_record(path, "tree")}
        return study.replace({"step": "attach_tree", "source": "user", "path": str(path)},
                             tree=loaded), info
    sequences = _sequences_for_tree(study)
    if sequences is None:
        return study, None
    built, info = build_tree(sequences, cache_dir=cache_dir, threads=threads)
    return study.replace({"step": "attach_tree", **info}, tree=built), info


def _split_metrics(metrics: Sequence[str] | None) -> tuple[list[str], list[str], bool]:
    if metrics is None:
        return list(DEFAULT_ALPHA), list(DEFAULT_BETA), True
    alpha, beta = alpha_metrics(), beta_metrics()
    chosen_alpha, chosen_beta = [], []
    for name in metrics:
        if name in alpha:
            chosen_alpha.append(name)
        elif name in beta:
            chosen_beta.append(name)
        else:
            raise UnknownMetricError(name, [*alpha, *beta])
    return chosen_alpha, chosen_beta, False


def run_diversity(table: str | Path, *, out: str | Path, taxonomy: str | Path | None = None,
                  tree: str | Path | None = None, metadata: str | Path | None = None,
                  sequences: str | Path | None = None, metrics: Sequence[str] | None = None,
                  rarefy_depth: int | None = None, seed: int = 0, transpose: bool | None = None,
                  base: float = 2.0, tree_cache: str | Path | None = None,
                  threads: int | None = None, command: Sequence[str] | None = None,
                  on_step: StepCallback | None = None) -> DiversityRun:
    """Alpha and beta diversity of a table, written to ``out``.

    Parameters
    ----------
    table : path
        Any table format :func:`gutaxis.io.read_table` reads.
    out : path
        Output folder: ``alpha.tsv``, ``beta/<metric>.tsv``, ``provenance.json``
        (and ``tree.nwk`` when a tree was built de novo).
    taxonomy, tree, metadata, sequences : path, optional
        Companion files.  Without ``tree``, a tree is built de novo when the
        features are ASV sequences (ids or ``sequences``).
    metrics : sequence of str, optional
        QIIME 2 metric names; by default every metric that applies
        (phylogenetic ones are skipped, with a note, when no tree can be had).
    rarefy_depth : int, optional
        Rarefy every sample to this depth first (samples below it are dropped and
        listed in ``provenance.json``); ``None`` = no rarefaction.
    seed : int
        Seed of the rarefaction.
    base : float
        Logarithm base of ``shannon_entropy`` (QIIME 2: 2).
    on_step : callable, optional
        ``on_step(label, done, total)`` progress callback.

    Raises
    ------
    UnknownMetricError
        A metric name that does not exist (the message lists the valid ones).
    InputError
        A phylogenetic metric was asked for and no tree can be had, and the
        errors of the readers.
    """
    out_dir = Path(out)
    alpha_names, beta_names, defaults = _split_metrics(metrics)
    study, inputs = load_study(table, taxonomy=taxonomy, metadata=metadata,
                               sequences=sequences, transpose=transpose)
    all_metrics = {**alpha_metrics(), **beta_metrics()}
    wants_tree = any(all_metrics[m].needs_tree for m in [*alpha_names, *beta_names])
    tree_info = None
    total = len(alpha_names) + len(beta_names) + int(wants_tree) + int(rarefy_depth is not None)
    done = 0

    def step(label: str) -> None:
        nonlocal done
        done += 1
        if on_step is not None:
            on_step(label, done, total)

    skipped: dict[str, str] = {}
    if wants_tree:
        study, tree_info = attach_tree(study, tree, cache_dir=tree_cache, threads=threads)
        if tree_info is not None and tree_info["source"] == "user":
            inputs.append({k: tree_info[k] for k in ("role", "path", "sha256", "bytes")})
        step("tree")
        if study.tree is None:
            reason = ("no tree given (--tree) and the feature ids are not sequences "
                      "(give --sequences to build one)")
            phylo = [m for m in [*alpha_names, *beta_names] if all_metrics[m].needs_tree]
            if not defaults:
                raise InputError(f"{', '.join(phylo)} need(s) a phylogenetic tree: {reason}")
            skipped.update(dict.fromkeys(phylo, reason))
            alpha_names = [m for m in alpha_names if m not in skipped]
            beta_names = [m for m in beta_names if m not in skipped]
            total -= len(phylo)
    if study.kind != "counts":
        for name in [m for m in alpha_names if all_metrics[m].needs_counts]:
            skipped[name] = "defined on read counts; the table holds relative abundances"
            if not defaults:
                raise InputError(f"{name} is defined on read counts; {table} holds relative "
                                 "abundances")
        alpha_names = [m for m in alpha_names if m not in skipped]

    rarefaction = None
    if rarefy_depth is not None:
        result = rarefy(study, rarefy_depth, seed=seed)
        study = result.study
        rarefaction = {"depth": int(rarefy_depth), "seed": seed,
                       "dropped": list(result.dropped), "n_kept": study.n_samples}
        step("rarefy")

    out_dir.mkdir(parents=True, exist_ok=True)
    alpha_frame = None
    alpha_path = None
    if alpha_names:
        columns = []
        for name in alpha_names:
            columns.append(alpha_diversity(study, [name], base=base))
            step(name)
        alpha_frame = pd.concat(columns, axis=1)
        alpha_path = out_dir / "alpha.tsv"
        alpha_frame.to_csv(alpha_path, sep="\t", float_format="%.17g")
    beta_paths: dict[str, Path] = {}
    if beta_names:
        (out_dir / "beta").mkdir(exist_ok=True)
        for name in beta_names:
            dm = beta_diversity(study, name, n_threads=threads)
            path = out_dir / "beta" / f"{name}.tsv"
            gio.write_lsmat(dm, path)
            beta_paths[name] = path
            step(name)
    if tree_info is not None and tree_info.get("source") == "de novo" and study.tree is not None:
        (out_dir / "tree.nwk").write_text(study.tree.to_newick(), encoding="utf-8")

    parameters = {"metrics": {"alpha": alpha_names, "beta": beta_names},
                  "rarefy": rarefy_depth, "seed": seed, "shannon_base": base,
                  "threads": threads or os.cpu_count()}
    doc = build_provenance(command=command, inputs=inputs, parameters=parameters,
                           steps=study.provenance,
                           extra={"tree": tree_info, "rarefaction": rarefaction,
                                  "skipped_metrics": skipped,
                                  "n_samples": study.n_samples, "n_features": study.n_features})
    provenance_path = out_dir / "provenance.json"
    provenance_path.write_text(json.dumps(doc, indent=2, default=str) + "\n", encoding="utf-8")
    return DiversityRun(out_dir, alpha_path, beta_paths, provenance_path, alpha_frame, study,
                        tree_info, rarefaction, skipped)


@dataclasses.dataclass(frozen=True)
class AnalysisRun:
    """What :func:`run_analysis` wrote and computed."""

    out_dir: Path
    report_path: Path
    written: dict[str, Path]
    analysis: CohortAnalysis
    tree_info: dict[str, Any] | None


def run_analysis(table: str | Path, *, metadata: str | Path, group: str, out: str | Path,
                 taxonomy: str | Path | None = None, tree: str | Path | None = None,
                 sequences: str | Path | None = None, markers: Sequence[str] = (),
                 markers_file: str | Path | None = None, covariates: Sequence[str] = (),
                 rank: str = "genus", rarefy_depth: int | str | None = "auto",
                 permutations: int = 999, seed: int = 0, classifier: bool = True,
                 cv_folds: int = 10, cv_repeats: int = 10, n_estimators: int = 100,
                 mc_samples: int = 128, save_model: bool = False, transpose: bool | None = None,
                 tree_cache: str | Path | None = None, threads: int | None = None,
                 command: Sequence[str] | None = None, on_step: StepCallback | None = None,
                 on_fold: Callable[[int, int], None] | None = None) -> AnalysisRun:
    """``gutaxis analyze``: read, analyse the cohort, write the report and the tables.

    Parameters
    ----------
    table, metadata : path
        Feature table (any format :func:`gutaxis.io.read_table` reads) and
        sample metadata with the ``group`` column.
    group : str
        Metadata column with the groups.
    out : path
        Output folder (see ``docs/output-schemas.md``).
    markers : sequence of str
        Marker columns, ``"COLUMN"`` or ``"COLUMN=UNIT"``.
    markers_file : path, optional
        A file of marker columns and units (see :func:`gutaxis.markers.read_marker_specs`).
    save_model : bool
        Also fit each classifier on all samples and save it under ``out/model/``.
    Other parameters
        As :func:`gutaxis.cohort.analyze_cohort` and :func:`run_diversity`.
    """
    from gutaxis.cohort import analyze_cohort
    from gutaxis.markers import marker_panel, read_marker_specs
    from gutaxis.report import write_report
    from gutaxis.report.results_json import write_results

    out_dir = Path(out)
    min_group_size = 3
    study, inputs = load_study(table, taxonomy=taxonomy, metadata=metadata, sequences=sequences,
                               transpose=transpose, min_shared=2 * min_group_size)
    specs = list(markers)
    if markers_file is not None:
        inputs.append(input_record(markers_file, "markers"))
        specs.extend(read_marker_specs(markers_file))
    assert study.samples is not None
    panel = marker_panel(study.samples, specs, where=str(metadata)) if specs else None
    if on_step is not None:
        on_step("reading", 0, 0)
    study, tree_info = attach_tree(study, tree, cache_dir=tree_cache, threads=threads)
    if tree_info is not None and tree_info["source"] == "user":
        inputs.append({k: tree_info[k] for k in ("role", "path", "sha256", "bytes")})
    analysis = analyze_cohort(
        study, group_column=group, markers=panel, covariates=covariates, rank=rank,
        rarefy_depth=rarefy_depth, permutations=permutations, seed=seed, classifier=classifier,
        cv_folds=cv_folds, cv_repeats=cv_repeats, n_estimators=n_estimators,
        mc_samples=mc_samples, min_group_size=min_group_size, threads=threads,
        fit_models=save_model, inputs=inputs, command=command, on_step=on_step, on_fold=on_fold)
    analysis.provenance["tree"] = tree_info
    written = write_results(analysis, out_dir)
    if tree_info is not None and tree_info.get("source") == "de novo" and study.tree is not None:
        path = out_dir / "tree.nwk"
        path.write_text(study.tree.to_newick(), encoding="utf-8")
        written["tree"] = path
    for name, model in analysis.models.items():
        (out_dir / "model").mkdir(exist_ok=True)
        path = out_dir / "model" / f"{name}.joblib"
        model.save(path)
        written[f"model/{name}"] = path
    report_path = write_report(analysis, out_dir / "report.html")
    written["report"] = report_path
    return AnalysisRun(out_dir, report_path, written, analysis, tree_info)


def run_reference_build(table: str | Path, *, metadata: str | Path, name: str,
                        out: str | Path, where: str | None = None,
                        taxonomy: str | Path | None = None, markers: Sequence[str] = (),
                        markers_file: str | Path | None = None,
                        classifier: str | Path | None = None, sequencing: str | None = None,
                        overwrite: bool = False) -> tuple[Path, Any]:
    """``gutaxis reference build``: freeze a reference cohort into the folder ``out``.

    Returns the folder and the :class:`~gutaxis.profile.reference.Reference`.
    """
    from gutaxis.markers import marker_panel, read_marker_specs
    from gutaxis.profile.reference import build_reference

    study, _ = load_study(table, taxonomy=taxonomy, metadata=metadata)
    specs = list(markers) + (read_marker_specs(markers_file) if markers_file else [])
    assert study.samples is not None
    panel = marker_panel(study.samples, specs, where=str(metadata)) if specs else None
    reference = build_reference(study, name=name, where=where, markers=panel,
                                classifier_path=classifier, sequencing=sequencing)
    return reference.save(out, overwrite=overwrite), reference


def run_profile(table: str | Path, *, sample: str, reference: str | Path, out: str | Path,
                labs: str | Path | None = None, metadata: str | Path | None = None,
                markers: Sequence[str] = (), taxonomy: str | Path | None = None,
                previous: str | Path | None = None, seed: int = 0, n_boot: int = 2000,
                pdf: bool = True) -> tuple[dict[str, Path], Any]:
    """``gutaxis profile``: one patient against a reference, as JSON, HTML and PDF.

    Returns the written files by kind and the :class:`~gutaxis.profile._model.Profile`.
    """
    from gutaxis.markers import marker_panel
    from gutaxis.markers.labs import read_labs
    from gutaxis.profile.build import build_profile
    from gutaxis.profile.reference import load_reference
    from gutaxis.profile.render import write_profile

    study, inputs = load_study(table, taxonomy=taxonomy, metadata=metadata)
    ref = load_reference(reference)
    lab_results = None
    if labs is not None:
        lab_results = read_labs(labs)
        inputs.append(input_record(labs, "labs"))
    panel = None
    if markers:
        if study.samples is None:
            raise InputError("--markers needs --metadata (the file the marker columns are in)")
        panel = marker_panel(study.samples, list(markers), where=str(metadata))
    previous_doc = None
    if previous is not None:
        try:
            previous_doc = json.loads(Path(previous).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(f"{previous}: cannot read the previous profile ({exc})") from None
        if not isinstance(previous_doc, dict) or "measures" not in previous_doc:
            raise InputError(f"{previous}: not a gutaxis profile.json (no 'measures')")
        inputs.append(input_record(previous, "previous profile"))
    profile = build_profile(study, sample, ref, markers=panel, labs=lab_results,
                            previous=previous_doc, n_boot=n_boot, seed=seed, inputs=inputs)
    return write_profile(profile, out, pdf=pdf), profile
