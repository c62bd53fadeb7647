"""``gutaxis diversity``: alpha and beta diversity of a table, as QIIME 2 defines them."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from gutaxis.checks import check_file, check_integer, check_names, check_number, check_type
from gutaxis.commands._inputs import (
    StepCallback,
    TableOptions,
    attach_tree,
    load_study,
    tree_info,
)
from gutaxis.exceptions import InputError, OutputError, ValidationError
from gutaxis.outputs import (
    DISTANCE_FORMATS,
    check_distance_format,
    output_folder,
    write_json,
    write_tsv,
)
from gutaxis.provenance import build_provenance

if TYPE_CHECKING:  # the command line makes options without loading pandas or the kernels
    import pandas as pd

    from gutaxis.distance import DistanceMatrix
    from gutaxis.ordination import OrdinationResult
    from gutaxis.study import Study

__all__ = ["DiversityOptions", "DiversityResult", "run_diversity", "DIVERSITY_FILES",
           "OUTPUT_FORMATS"]

#: What ``gutaxis diversity`` writes into its folder (what ``--overwrite`` replaces).
DIVERSITY_FILES = ("alpha.tsv", "alpha", "beta", "provenance.json", "tree.nwk")
#: The formats of the beta diversity matrices (``--format``); tsv is lsmat.
OUTPUT_FORMATS = tuple(DISTANCE_FORMATS)
#: Rows and columns of each zarr chunk (and of each Dask task) unless --tile-size says.
TILE_SIZE = 1024


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
    drop_empty : bool
        Leave out the samples with no reads (listed in the result and in the
        provenance).  Without it they are kept: the alpha metrics defined for
        an empty sample give their value (``observed_features``, ``chao1``,
        ``faith_pd``: 0), the others are missing (NaN), with a note, as in
        scikit-bio and QIIME 2; a beta metric undefined for them (Bray–Curtis
        between two empty samples, Aitchison) is skipped with the reason, or
        refused before any work when asked for by name.
    seed : int
        Seed of the rarefaction.
    shannon_base : float
        Logarithm base of ``shannon_entropy`` (QIIME 2: 2).
    tree_cache : path, optional
        Where de novo trees are cached.
    threads : int, optional
        Threads for the kernels (default: all cores).
    output_format : {"tsv", "hdf5", "qza", "zarr"}
        How the distance matrices are written: lsmat TSV
        (``beta/<metric>.tsv``), Striped UniFrac's HDF5 (``beta/<metric>.h5``),
        QIIME 2 ``DistanceMatrix`` artifacts (``beta/<metric>.qza``, and each
        alpha metric as ``alpha/<metric>.qza``) or chunked zarr
        (``beta/<metric>.zarr``).  ``alpha.tsv`` is written in every format.
    precision : {"float64", "float32"}
        The number type of the HDF5 and zarr matrices.
    pcoa : int, optional
        Also compute the PCoA of each matrix with this many axes, written in
        the HDF5 file (as ``ssu --pcoa``) or as ``beta/<metric>_pcoa.qza``;
        hdf5 and qza only.
    cluster : str, optional
        Compute each beta matrix blockwise on Dask (:mod:`gutaxis.distributed`):
        ``"local"`` (a local cluster) or a scheduler address
        (``tcp://host:8786``).  Needs ``output_format="zarr"``: each tile is
        written straight into ``beta/<metric>.zarr``, and an interrupted run
        resumes from the tiles written (see :func:`run_diversity`'s
        ``store_dir``).
    tile_size : int
        Rows and columns of each zarr chunk (and, with ``cluster``, of each
        Dask task).

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
    drop_empty: bool = False
    seed: int = 0
    shannon_base: float = 2.0
    tree_cache: Path | None = None
    threads: int | None = None
    output_format: str = "tsv"
    precision: str = "float64"
    pcoa: int | None = None
    cluster: str | None = None
    tile_size: int = TILE_SIZE

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
            _, beta = split_metrics(names)
            object.__setattr__(self, "metrics", names)
            if self.pcoa is not None and not beta:
                raise ValidationError(f"--pcoa ordinates the beta diversity matrices, and "
                                      f"--metrics {','.join(names)} holds none: add a beta "
                                      "metric (braycurtis, unweighted_unifrac…) or leave out "
                                      "--pcoa")
        if self.rarefy is not None:
            check_integer(self.rarefy, "--rarefy", minimum=1)
        check_type(self.drop_empty, bool, "--drop-empty")
        check_integer(self.seed, "--seed", minimum=0)
        base = check_number(self.shannon_base, "--base", above=0)
        if base == 1.0:
            raise ValidationError("--base must be a finite number > 0 other than 1; got 1")
        if self.threads is not None:
            check_integer(self.threads, "--threads", minimum=1)
        check_distance_format(self.output_format, self.precision)
        if self.pcoa is not None:
            check_integer(self.pcoa, "--pcoa", minimum=1)
            if self.output_format not in ("hdf5", "qza"):
                raise ValidationError(f"--pcoa is written with --format hdf5 (in the file, as "
                                      f"ssu --pcoa) or qza (PCoAResults); not with --format "
                                      f"{self.output_format}")
        check_integer(self.tile_size, "--tile-size", minimum=2)
        if self.tile_size != TILE_SIZE and self.output_format != "zarr":
            raise ValidationError(f"--tile-size sets the chunks of --format zarr (and the "
                                  f"tasks of --cluster); with --format {self.output_format} it "
                                  "would change nothing")
        if self.cluster is not None:
            if not isinstance(self.cluster, str) or not (
                    self.cluster == "local" or "://" in self.cluster):
                raise ValidationError(f"--cluster must be 'local' or a Dask scheduler's address "
                                      f"such as tcp://host:8786; got {self.cluster!r}")
            if self.output_format != "zarr":
                raise ValidationError(f"--cluster writes each matrix tile by tile into "
                                      f"beta/<metric>.zarr: add --format zarr (not "
                                      f"{self.output_format})")


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
    empty_samples : tuple of str
        The samples of the table with no reads (left out with
        ``drop_empty``, else kept).
    notes : dict of str to str
        What a user should know about values that were computed (the empty
        samples kept: which values they got, which are missing).
    pcoa : dict of str to OrdinationResult
        The PCoA of each matrix, when ``options.pcoa`` asked for it.
    beta_stores : dict of str to Path
        With ``options.cluster``: the zarr store each beta matrix was written
        into, tile by tile (``beta`` is then empty; read a store with
        :func:`gutaxis.io.read_distance_zarr` when it fits in memory).
    """

    options: DiversityOptions
    study: Study
    alpha: pd.DataFrame | None
    beta: dict[str, DistanceMatrix]
    rarefaction: dict[str, Any] | None
    skipped: dict[str, str]
    provenance: dict[str, Any]
    empty_samples: tuple[str, ...] = ()
    notes: dict[str, str] = dataclasses.field(default_factory=dict)
    pcoa: dict[str, OrdinationResult] = dataclasses.field(default_factory=dict)
    beta_stores: dict[str, Path] = dataclasses.field(default_factory=dict)

    @property
    def tree(self) -> dict[str, Any] | None:
        """The tree used, as recorded (``source`` ``"user"`` or ``"de novo"``), or None."""
        return tree_info(self.study)

    @property
    def _precision(self) -> Literal["float64", "float32"]:
        return "float32" if self.options.precision == "float32" else "float64"

    def write(self, folder: str | os.PathLike[str], *, overwrite: bool = False
              ) -> dict[str, Path]:
        """Write ``alpha.tsv``, ``beta/<metric>.<format>``, ``provenance.json`` (and ``tree.nwk``).

        Parameters
        ----------
        folder : path
            Created when missing; a folder that holds files is refused unless
            ``overwrite`` (see :func:`gutaxis.outputs.output_folder`).
        overwrite : bool, default False

        Returns
        -------
        dict of str to Path
            ``alpha``, ``alpha/<metric>`` (qza), ``beta/<metric>``,
            ``pcoa/<metric>`` (qza with ``pcoa``), ``provenance`` and ``tree``,
            as written.
        """
        from gutaxis import io as gio

        with self._output(Path(folder), overwrite) as out:
            fmt = self.options.output_format
            written: dict[str, Path] = {}
            if self.alpha is not None:
                written["alpha"] = write_tsv(self.alpha, out / "alpha.tsv", index=True,
                                             float_format="%.17g")
                if fmt == "qza":
                    (out / "alpha").mkdir(exist_ok=True)
                    for name in self.alpha.columns:
                        target = out / "alpha" / f"{name}.qza"
                        gio.write_alpha_qza(self.alpha[name].rename(str(name)), target,
                                            provenance=self.provenance)
                        written[f"alpha/{name}"] = target
            if self.beta:
                (out / "beta").mkdir(exist_ok=True)
                for name, dm in self.beta.items():
                    paths = gio.write_distance(dm, out / "beta", name, fmt,
                                               precision=self._precision,
                                               pcoa=self.pcoa.get(name),
                                               provenance=self.provenance,
                                               tile_size=self.options.tile_size)
                    written[f"beta/{name}"] = paths["matrix"]
                    if "pcoa" in paths:
                        written[f"pcoa/{name}"] = paths["pcoa"]
            for name, store in self.beta_stores.items():
                target = out / "beta" / f"{name}.zarr"
                if store.resolve() != target.resolve():
                    shutil.rmtree(target, ignore_errors=True)
                    shutil.copytree(store, target)
                written[f"beta/{name}"] = target
            tree = self.tree
            if tree is not None and tree.get("source") == "de novo" and self.study.tree is not None:
                written["tree"] = gio.write_tree(self.study.tree, out / "tree.nwk")
            written["provenance"] = write_json(out / "provenance.json", self.provenance)
            return written


    def _output(self, folder: Path, overwrite: bool) -> contextlib.AbstractContextManager[Path]:
        """Make ``folder`` ready; the blockwise stores already in ``folder/beta`` are kept."""
        if not self.beta_stores:
            return self.options.output(folder, overwrite=overwrite)
        owned = [name for name in self.options.owned() if name != "beta"]
        if not overwrite:
            present = sorted(name for name in owned if (folder / name).exists())
            if present:
                raise OutputError(f"{folder} already holds {', '.join(present)}; overwrite it "
                                  "(--overwrite, overwrite=True in Python) or choose a new "
                                  "folder")
        return output_folder(folder, owned=owned, overwrite=True,
                             inputs=self.options.input_paths(), what=self.options.OUTPUT_NAME)


def _metrics(options: DiversityOptions) -> tuple[list[str], list[str], bool]:
    from gutaxis.diversity import alpha_metrics, beta_metrics, split_metrics

    if options.metrics is None:
        return list(alpha_metrics()), list(beta_metrics()), True
    alpha, beta = split_metrics(options.metrics)
    return alpha, beta, False


def run_diversity(options: DiversityOptions, *, command: Sequence[str] | None = None,
                  on_step: StepCallback | None = None,
                  store_dir: str | os.PathLike[str] | None = None) -> DiversityResult:
    """Compute alpha and beta diversity of a table.

    Everything the run needs is checked before the long steps (the de novo
    tree, the metrics): the files, a user tree covering the features and
    rooted, the rarefaction depth, and that each metric asked for by name
    applies (a tree, read counts, samples with reads where it needs them).

    Parameters
    ----------
    options : DiversityOptions
    command : sequence of str, optional
        The command line, for provenance.
    on_step : callable, optional
        ``on_step(label, done, total)`` progress callback.
    store_dir : path, optional
        With ``options.cluster``: the folder of the zarr stores, one
        ``<metric>.zarr`` per beta metric, written tile by tile as the cluster
        computes them (the command line gives ``OUT/beta``).  A store already
        there from the same table, tree and options is resumed: its written
        tiles are not computed again.

    Returns
    -------
    DiversityResult

    Raises
    ------
    InputError
        ``options`` is not a DiversityOptions; ``options.cluster`` without
        ``store_dir``; the Dask scheduler cannot be reached; a phylogenetic metric asked for
        by name when no tree can be had, a count metric asked for on relative
        abundances, a metric asked for by name that is undefined on the
        table's empty samples (without ``drop_empty``), ``rarefy`` on relative
        abundances or deeper than every sample, a table whose samples are all
        empty, and the errors of the readers.
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
    if options.cluster is not None and store_dir is None:  # before reading anything
        raise InputError("with a cluster the matrices are written tile by tile into zarr "
                         "stores: give run_diversity a store_dir (the command line uses "
                         "OUT/beta)")
    asked = () if defaults else options.metrics or ()
    study, inputs = load_study(options, sequences=options.sequences)
    registry = {**alpha_metrics(), **beta_metrics()}
    from gutaxis.selection import no_metadata_note

    skipped: dict[str, str] = dict(no_metadata_note(study))
    study, empty = _empty_samples(study, options, skipped)
    # before the long steps: what the rarefaction and the metrics asked for by name need
    if options.rarefy is not None:
        _check_depth(study, options.rarefy)
    else:
        applicable_metrics(study, [m for m in asked if not registry[m].needs_tree], asked=asked)
    wants_tree = any(registry[m].needs_tree for m in [*alpha_names, *beta_names])
    total = (len(alpha_names) + len(beta_names) + int(wants_tree)
             + int(options.rarefy is not None))
    done = 0

    def step(label: str) -> None:
        nonlocal done
        done += 1
        if on_step is not None:
            on_step(label, done, total)

    if wants_tree:
        study = attach_tree(study, options.tree, cache_dir=options.tree_cache,
                            threads=options.threads)
        info = tree_info(study)
        if info is not None and info.get("source") == "user":
            inputs.append({k: info[k] for k in ("role", "path", "sha256", "bytes")})
        step("tree")
    rarefaction = None
    if options.rarefy is not None:
        result = rarefy(study, options.rarefy, seed=options.seed)
        study = result.study
        rarefaction = {"depth": int(options.rarefy), "seed": options.seed,
                       "dropped": list(result.dropped), "n_kept": study.n_samples}
        step("rarefy")
    alpha_names, beta_names, left_out = applicable_metrics(
        study, [*alpha_names, *beta_names], asked=asked)
    skipped.update(left_out)
    # the steps left, now that the metrics that do not apply are known
    total = done + len(alpha_names) + len(beta_names)

    alpha_frame = None
    if alpha_names:
        columns = []
        for name in alpha_names:
            columns.append(alpha_diversity(study, [name], base=options.shannon_base))
            step(name)
        import pandas as pd

        alpha_frame = pd.concat(columns, axis=1)
    beta: dict[str, DistanceMatrix] = {}
    stores: dict[str, Path] = {}
    blockwise: dict[str, dict[str, Any]] = {}
    if options.cluster is not None and beta_names:
        assert store_dir is not None  # checked above
        stores, blockwise = _blockwise(study, beta_names, options, Path(store_dir),
                                       lambda label: on_step(label, done, total)
                                       if on_step is not None else None)
        for name in beta_names:
            step(name)
    else:
        for name in beta_names:
            beta[name] = beta_diversity(study, name, n_threads=options.threads)
            step(name)
    ordinations: dict[str, OrdinationResult] = {}
    if options.pcoa is not None:
        from gutaxis.ordination import pcoa

        for name, dm in beta.items():
            ordinations[name] = pcoa(dm, n_components=min(options.pcoa, len(dm.ids)))
    notes = _empty_notes(alpha_frame, empty) if empty and not options.drop_empty else {}
    if options.pcoa is not None and beta and options.pcoa > study.n_samples:
        notes["pcoa"] = (f"--pcoa {options.pcoa}: {study.n_samples} samples give at most "
                         f"{study.n_samples} axes; {study.n_samples} written")

    parameters = {"metrics": {"alpha": alpha_names, "beta": beta_names},
                  "rarefy": options.rarefy, "seed": options.seed,
                  "drop_empty": options.drop_empty,
                  "shannon_base": options.shannon_base,
                  "threads": options.threads or os.cpu_count(),
                  "format": options.output_format, "precision": options.precision,
                  "pcoa": options.pcoa, "cluster": options.cluster,
                  "tile_size": options.tile_size}
    empty_record = {"ids": list(empty), "dropped": bool(empty) and options.drop_empty}
    provenance = build_provenance(command=command, inputs=inputs, parameters=parameters,
                                  steps=study.provenance,
                                  extra={"tree": tree_info(study), "rarefaction": rarefaction,
                                         "empty_samples": empty_record,
                                         "skipped_metrics": {k: v for k, v in skipped.items()
                                                             if k in registry},
                                         "skipped": skipped, "notes": notes,
                                         "n_samples": study.n_samples,
                                         "n_features": study.n_features,
                                         **({"blockwise": blockwise} if blockwise else {})})
    return DiversityResult(options, study, alpha_frame, beta, rarefaction, skipped, provenance,
                           empty_samples=tuple(empty), notes=notes, pcoa=ordinations,
                           beta_stores=stores)


def _blockwise(study: Study, names: list[str], options: DiversityOptions, folder: Path,
               show: Callable[[str], None]) -> tuple[dict[str, Path], dict[str, dict[str, Any]]]:
    """Compute each beta metric on ``options.cluster`` into ``folder/<metric>.zarr``.

    One Dask client serves every metric.  Returns the stores and, per
    metric, what the run did (tiles computed, tiles found written, seconds).
    """
    from gutaxis.distributed import blockwise_beta_diversity, dask_client

    folder.mkdir(parents=True, exist_ok=True)
    stores: dict[str, Path] = {}
    record: dict[str, dict[str, Any]] = {}
    with dask_client(options.cluster) as client:
        for name in names:
            def tiles(done: int, total: int, name: str = name) -> None:
                show(f"{name}: tile {done}/{total}")

            run = blockwise_beta_diversity(study, name, folder / f"{name}.zarr",
                                           cluster=client, tile_size=options.tile_size,
                                           dtype=options.precision, on_tile=tiles)
            stores[name] = run.store
            record[name] = {"tiles": run.n_tiles, "computed": len(run.computed),
                            "already_written": run.skipped, "damaged": run.damaged,
                            "seconds": round(run.seconds, 3)}
    return stores, record


def _shown(ids: Sequence[str], limit: int = 10) -> str:
    return ", ".join(ids[:limit]) + (" …" if len(ids) > limit else "")


def _empty_samples(study: Study, options: DiversityOptions, skipped: dict[str, str]
                   ) -> tuple[Study, list[str]]:
    """Find the samples without reads; leave them out with ``drop_empty`` (noted in ``skipped``).

    Raises
    ------
    ValidationError
        Every sample is empty.
    """
    totals = study.sample_totals()
    empty = [str(s) for s in study.sample_ids[totals <= 0]]
    if not empty:
        return study, []
    if len(empty) == study.n_samples:
        raise ValidationError(f"every sample of {study.source} has no reads ({len(empty)} "
                              "sample(s)); there is no diversity to compute")
    if options.drop_empty:
        study = study.subset_samples([str(s) for s in study.sample_ids[totals > 0]],
                                     step="drop_empty_samples")
        skipped["empty samples"] = (f"{len(empty)} sample(s) have no reads and are left out "
                                    f"(--drop-empty): {_shown(empty)}")
    return study, empty


def _check_depth(study: Study, depth: int) -> None:
    """Refuse a rarefaction that cannot run, before the long steps."""
    if study.kind != "counts":
        raise InputError(f"--rarefy subsamples reads, and {study.source} holds relative "
                         "abundances (values that are not whole numbers, or a relative-frequency "
                         "or MetaPhlAn table); leave --rarefy out for this table")
    deepest = float(study.sample_totals().max())
    if deepest < depth:
        raise InputError(f"--rarefy {depth}: every sample has fewer reads; the deepest has "
                         f"{int(deepest):,}. Choose a depth ≤ {int(deepest):,}")


def _empty_notes(alpha: pd.DataFrame | None, empty: Sequence[str]) -> dict[str, str]:
    """Say which alpha values the empty samples got, and which are missing."""
    if alpha is None:
        return {"empty samples": (f"{len(empty)} sample(s) have no reads: {_shown(empty)}; "
                                  "--drop-empty leaves them out")}
    rows = alpha.loc[list(empty)]
    missing = [str(c) for c in rows.columns if rows[c].isna().any()]
    valued = [f"{c} {rows[c].iloc[0]:g}" for c in rows.columns if c not in missing]
    text = f"{len(empty)} sample(s) have no reads: {_shown(empty)}."
    if valued:
        text += f" Their values: {', '.join(valued)}."
    if missing:
        text += (f" {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} undefined for "
                 "them (empty cells in alpha.tsv, as scikit-bio and QIIME 2 give NaN).")
    return {"empty samples": text + " --drop-empty leaves them out."}
