"""The ``gutaxis`` command line (Typer + Rich): a thin shell around :mod:`gutaxis.commands`.

Each command turns its flags into the command's options object (where the
defaults live, read here with :func:`gutaxis.commands.default`), runs it with
a progress bar, prints what a user should know, writes the files, and prints
their paths.  Errors of gutaxis become one line and exit code 2 (:func:`main`).
"""

from __future__ import annotations

import errno
import logging
import os
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from gutaxis._version import __version__
from gutaxis.challenge import DEFAULT_CARRYOVER_DAYS
from gutaxis.cohort import CohortParameters
from gutaxis.commands import (
    AnalysisOptions,
    DiversityOptions,
    IndicesOptions,
    ProfileOptions,
    ReferenceOptions,
    default,
)
from gutaxis.exceptions import GutaxisError, OutputError

if TYPE_CHECKING:
    from gutaxis.service.context import AppContext
    from gutaxis.service.settings import Settings
    from gutaxis.study import Study

app = typer.Typer(
    name="gutaxis",
    help="The gut–immune axis: microbiome diversity and composition with barrier and immune "
         "markers.\n\nA typical session: `gutaxis analyze` a cohort; `gutaxis reference build` "
         "a reference from its healthy samples; `gutaxis profile` each patient against that "
         "reference.  `gutaxis demo` runs all three on the bundled study.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)
console = Console(stderr=True, soft_wrap=True)
out_console = Console(soft_wrap=True)

# ------------------------------------------------------------ shared options
Out = Annotated[Path, typer.Option("--out", "-o", help="Output folder (created; a folder that "
                                   "holds files is refused unless --overwrite). "
                                   "Example: --out results/")]
Overwrite = Annotated[bool, typer.Option(
    "--overwrite", help="Write into a folder that holds files: the files this command writes "
                        "are replaced, other files are kept. Example: --overwrite")]
Verbose = Annotated[bool, typer.Option("--verbose", "-v",
                                       help="Show what each step does (log messages).")]
Table_ = Annotated[Path, typer.Argument(
    metavar="TABLE", help="Feature table: BIOM (JSON or HDF5), QIIME 2 .qza, MetaPhlAn "
                          "profile, TSV/CSV. Example: table.biom")]
Taxonomy = Annotated[Path | None, typer.Option(
    help="Feature taxonomy when the table has none (QIIME 2 taxonomy.tsv or .qza). "
         "Example: --taxonomy taxonomy.qza")]
Tree = Annotated[Path | None, typer.Option(
    help="Rooted tree (Newick or Phylogeny[Rooted] .qza); without it a tree is built de novo "
         "when the features are ASV sequences. Example: --tree rooted-tree.qza")]
Sequences = Annotated[Path | None, typer.Option(
    help="ASV sequences (FASTA or FeatureData[Sequence] .qza) for the de novo tree. "
         "Example: --sequences rep-seqs.qza")]
Markers = Annotated[str | None, typer.Option(
    help="Comma-separated marker columns of the metadata, each optionally with its unit as "
         "COLUMN=UNIT (columns the marker catalogue knows, such as LPSpgml, need none; see "
         "`gutaxis markers`). Example: --markers LPSpgml,LBPugml,zonulin=ng/mL")]
MarkersFile = Annotated[Path | None, typer.Option(
    help="Tab- or comma-separated file with a header 'column<TAB>unit', one marker column per "
         "row. Example: --markers-file markers.tsv")]
Transpose = Annotated[bool | None, typer.Option(
    "--transpose/--no-transpose",
    help="Plain tables: force samples in columns (--transpose) or in rows (--no-transpose) "
         "instead of detecting it. Example: --transpose")]
Subject = Annotated[str | None, typer.Option(
    help="Metadata column naming the person each sample came from, when some gave several: "
         "people are then counted, not samples (analyze: one value per person in the tests, "
         "whole people permuted, cross-validation folds that keep a person together; "
         "reference build: see --per-subject). Example: --subject host_subject_id")]
Threads = Annotated[int | None, typer.Option(
    help="Threads (default: all cores). Example: --threads 2")]


class _LineHandler(logging.Handler):
    """Print each log record as one unwrapped line: ``warning: …`` or, with -v, the step."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record must not stop the run
            self.handleError(record)
            return
        if record.levelno >= logging.WARNING:
            console.print(f"[yellow]warning:[/] {escape(message)}", highlight=False,
                          soft_wrap=True)
            if record.exc_info:  # logger.exception (the server's unexpected errors)
                console.print(escape(logging.Formatter().formatException(record.exc_info)),
                              highlight=False, soft_wrap=True)
        else:
            console.print(escape(message), style="dim", highlight=False, soft_wrap=True)


def _logging(verbose: bool) -> None:
    handler = _LineHandler()
    logger = logging.getLogger("gutaxis")
    logger.handlers[:] = [handler]
    if verbose or logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO if verbose else logging.WARNING)
    logger.propagate = False


def _version(value: bool) -> None:
    if value:
        out_console.print(f"gutaxis {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Show the version and exit.")] = False,
    verbose: Verbose = False,
) -> None:
    logging.getLogger("gutaxis").setLevel(logging.NOTSET)
    _logging(verbose)


def _command() -> list[str]:
    return ["gutaxis", *sys.argv[1:]]


def _split(text: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (text or "").split(",") if part.strip())


@contextmanager
def _progress() -> Iterator[tuple[Callable[[str, int, int], None], Callable[[int, int], None]]]:
    """Yield ``on_step`` and ``on_fold`` callbacks drawing two bars (only on a terminal)."""
    progress = Progress(TextColumn("[bold]{task.description:<32}"), BarColumn(),
                        MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                        transient=False, disable=not console.is_terminal)
    with progress:
        steps = progress.add_task("reading", total=None)
        folds = progress.add_task("cross-validation folds", total=None, visible=False)

        def on_step(label: str, done: int, total: int) -> None:
            progress.update(steps, description=label, completed=done, total=total or None)

        def on_fold(done: int, total: int) -> None:
            progress.update(folds, completed=done, total=total, visible=True)

        yield on_step, on_fold
        progress.update(steps, description="done")


def _skipped(skipped: dict[str, str]) -> None:
    for name, why in skipped.items():
        console.print(f"[yellow]skipped {name}[/]: {escape(why)}", highlight=False)


def _written(written: dict[str, Path], labels: dict[str, str]) -> None:
    for key, label in labels.items():
        if key in written:
            out_console.print(f"{label}: {written[key]}", highlight=False)


# ------------------------------------------------------------------ diversity
@app.command()
def diversity(
    table: Table_,
    out: Out,
    taxonomy: Taxonomy = None,
    tree: Tree = None,
    metadata: Annotated[Path | None, typer.Option(
        help="Sample metadata (QIIME 2 TSV or CSV); only the samples it shares with the table "
             "are kept (the others are listed). Example: --metadata sample-metadata.tsv")]
    = None,
    sequences: Sequences = None,
    metrics: Annotated[str | None, typer.Option(
        help="Comma-separated QIIME 2 metric names (default: all that apply; see "
             "`gutaxis metrics`). Example: --metrics shannon_entropy,braycurtis")] = None,
    rarefy: Annotated[int | None, typer.Option(
        "--rarefy", help="Rarefy each sample to N reads first; samples below N are "
                                "left out and listed. Example: --rarefy 10000")] = None,
    no_rarefy: Annotated[bool, typer.Option(
        "--no-rarefy", help="Use the counts as they are (the default when --rarefy is not "
                            "given). Example: --no-rarefy")] = False,
    seed: Annotated[int, typer.Option(help="Random seed of the rarefaction. Example: --seed 42")]
    = default(DiversityOptions, "seed"),
    drop_empty: Annotated[bool, typer.Option(
        "--drop-empty", help="Leave out samples with no reads (they are listed). Without it "
                             "they are kept: observed_features 0, Shannon and the other "
                             "undefined values missing. Example: --drop-empty")]
    = default(DiversityOptions, "drop_empty"),
    transpose: Transpose = None,
    base: Annotated[float, typer.Option(
        help="Logarithm base of shannon_entropy (QIIME 2 uses 2). Example: --base 2.718281828")]
    = default(DiversityOptions, "shannon_base"),
    threads: Threads = None,
    output_format: Annotated[str, typer.Option(
        "--format", help="How the distance matrices are written: tsv (lsmat, as QIIME 2 and "
                         "scikit-bio read it), hdf5 (Striped UniFrac's layout, `order` and "
                         "`matrix`), qza (QIIME 2 artifacts, also one per alpha metric) or "
                         "zarr (chunked; needs gutaxis[distributed]). Example: --format hdf5")]
    = default(DiversityOptions, "output_format"),
    precision: Annotated[str, typer.Option(
        help="Number type of the hdf5 and zarr matrices: float64 or float32 (half the size). "
             "Example: --precision float32")] = default(DiversityOptions, "precision"),
    pcoa: Annotated[int | None, typer.Option(
        "--pcoa", help="Also write the PCoA of each matrix with N axes (hdf5: in the file, as "
                       "ssu --pcoa; qza: beta/<metric>_pcoa.qza). Example: --pcoa 10")] = None,
    cluster: Annotated[str | None, typer.Option(
        help="Compute the beta matrices blockwise on Dask, each tile written straight into "
             "OUT/beta/<metric>.zarr (needs --format zarr): 'local' (a local cluster) or a "
             "scheduler's address. Example: --cluster tcp://scheduler:8786")] = None,
    tile_size: Annotated[int, typer.Option(
        help="Samples per side of each zarr chunk (and, with --cluster, of each Dask task). "
             "Example: --tile-size 2048")] = default(DiversityOptions, "tile_size"),
    resume: Annotated[bool, typer.Option(
        "--resume", help="With --cluster: go on with an interrupted run in OUT; the tiles "
                         "already written are kept (they must come from the same table, tree "
                         "and options). Example: --resume")] = False,
    overwrite: Overwrite = False,
    verbose: Verbose = False,
) -> None:
    """Alpha and beta diversity of TABLE, as QIIME 2 defines them.

    Writes OUT/alpha.tsv, OUT/beta/<metric>.tsv (lsmat; .h5, .qza or .zarr with --format)
    and OUT/provenance.json.

    Example: gutaxis diversity table.qza --tree rooted-tree.qza --rarefy 10000 --out results/
    """
    _logging(verbose)
    if rarefy is not None and no_rarefy:
        raise typer.BadParameter("give either --rarefy N or --no-rarefy, not both")
    options = DiversityOptions(
        table=table, taxonomy=taxonomy, tree=tree, metadata=metadata, sequences=sequences,
        metrics=_split(metrics) if metrics is not None else None, rarefy=rarefy, seed=seed,
        drop_empty=drop_empty, transpose=transpose, shannon_base=base, threads=threads,
        output_format=output_format, precision=precision, pcoa=pcoa, cluster=cluster,
        tile_size=tile_size)
    if resume and cluster is None:
        raise typer.BadParameter("--resume goes on with an interrupted --cluster run; add "
                                 "--cluster")
    if resume and overwrite:
        raise typer.BadParameter("give either --resume (keep the tiles written) or "
                                 "--overwrite (start again), not both")
    stores = None
    held = ExitStack()
    if cluster is None:
        options.check_output(out, overwrite=overwrite)
    else:  # the tiles go straight into OUT/beta as they are computed
        from gutaxis.outputs import hold_folder

        try:
            options.check_output(out, overwrite=overwrite or resume)
        except OutputError as exc:
            raise OutputError(f"{exc}; or --resume to go on with an interrupted --cluster "
                              "run there") from None
        # held from now to the last file: a second run into OUT is refused, not let remove
        # or recompute this one's tiles
        held.enter_context(hold_folder(out))
        if not resume:  # the earlier files go now: the cluster writes its tiles as it goes
            with options.output(out, overwrite=overwrite):
                pass
        stores = out / "beta"
    with held:
        _diversity_run(options, out, overwrite or resume, stores, cluster)


def _diversity_run(options: Any, out: Path, overwrite: bool, stores: Path | None,
                   cluster: str | None) -> None:
    """Run the diversity command's work and write its files (``diversity``'s second half)."""
    from gutaxis.commands import run_diversity

    with _progress() as (on_step, _):
        result = run_diversity(options, command=_command(), on_step=on_step, store_dir=stores)
    study = result.study
    console.print(f"{study.n_samples} samples × {study.n_features} features"
                  + (" (relative abundances)" if study.kind == "relative" else ""))
    _read_notes(study)
    if result.rarefaction is not None:
        r = result.rarefaction
        dropped = r["dropped"]
        console.print(f"rarefied to {r['depth']:,} reads per sample (seed {r['seed']}); "
                      f"{len(dropped)} sample(s) below that depth left out"
                      + (f": {', '.join(dropped[:10])}{' …' if len(dropped) > 10 else ''}"
                         if dropped else ""))
    info = result.tree
    if info is not None:
        if info.get("source") == "user":
            console.print(f"tree: yours ({info['path']})")
        else:
            cached = ", from cache" if info.get("cached") else ""
            console.print(f"tree: built de novo ({info.get('aligner')}, "
                          f"{info.get('tree_builder')}, {info.get('rooting')} rooted{cached})")
    _skipped(result.skipped)
    for name, note in result.notes.items():
        console.print(f"[yellow]{name}[/]: {escape(note)}", highlight=False)
    for name, run in result.provenance.get("blockwise", {}).items():
        console.print(f"{name}: {run['computed']} of {run['tiles']} tiles computed on "
                      f"{cluster}, {run['already_written']} found written, in "
                      f"{run['seconds']:.1f} s", highlight=False)
        if run.get("damaged"):
            console.print(f"[yellow]{name}[/]: {run['damaged']} tile(s) marked written could "
                          "not be read back whole (a file lost or cut short): computed again",
                          highlight=False)
    written = result.write(out, overwrite=overwrite)
    _written(written, {"alpha": "alpha diversity"})
    for key, path in written.items():
        if key.startswith("alpha/"):
            out_console.print(f"alpha diversity ({key[6:]}): {path}", highlight=False)
    for key, path in written.items():
        if key.startswith("beta/"):
            out_console.print(f"beta diversity ({key[5:]}): {path}", highlight=False)
        elif key.startswith("pcoa/"):
            out_console.print(f"PCoA ({key[5:]}): {path}", highlight=False)
    _written(written, {"tree": "tree", "provenance": "provenance"})


@app.command("metrics")
def list_metrics() -> None:
    """List the diversity metrics (QIIME 2 names) and what each needs."""
    from gutaxis.diversity import alpha_metrics, beta_metrics

    rows = []
    for kind, registry in (("alpha", alpha_metrics()), ("beta", beta_metrics())):
        for metric in registry.values():
            needs = ", ".join(n for n, f in (("tree", metric.needs_tree),
                                             ("counts", metric.needs_counts)) if f)
            rows.append((kind, metric.name, needs, metric.summary))
    _print_listing(("kind", "name", "needs", "what"), rows)


def _print_listing(headers: tuple[str, ...], rows: Sequence[tuple[str, ...]],
                   whole: str = "") -> None:
    """Print a listing: a table on a terminal, tab-separated lines when piped.

    On a terminal the columns wrap, never cut (``whole`` stays on one line);
    piped into ``grep``, ``cut`` or a file, each row is one line, whole.
    """
    if not out_console.is_terminal:
        # written as they are: Rich would turn the tabs into spaces
        sys.stdout.write("".join("\t".join(" ".join(cell.split()) for cell in row) + "\n"
                                 for row in (headers, *rows)))
        return
    table = Table()
    for header in headers:
        if header == whole:
            table.add_column(header, no_wrap=True,
                             min_width=max(len(r[headers.index(header)]) for r in rows))
        else:
            table.add_column(header, overflow="fold")
    for row in rows:
        table.add_row(*row)
    out_console.print(table)


@app.command("markers")
def list_markers() -> None:
    """List the markers the catalogue knows: names, units, and how LABS.csv writes them.

    A LABS.csv file (gutaxis profile --labs) has the header
    sample_id,marker,value,unit,ref_low,ref_high,assay; the marker is matched by
    id, name or alias (ignoring case, spaces, '-', '_' and '.'); the unit is
    converted to the catalogue's; a value reported as below or above the
    assay's limit is written <0.5 or >1800 and kept as a limit.
    """
    from gutaxis.knowledge import load_marker_catalog

    catalog = load_marker_catalog()
    rows = []
    for entry in catalog.markers:
        cut = entry.default_cutoff
        rows.append((entry.id, entry.name, entry.unit, ", ".join(entry.aliases),
                     entry.specimen, cut.label if cut is not None else
                     ("none exists" if entry.no_reference_interval
                      else "none in the knowledge base")))
    _print_listing(("id", "name", "unit", "also accepted as", "specimen", "published cut-off"),
                   rows, whole="id")
    # piped, the listing is the output and the note goes to the terminal (stderr)
    note = out_console if out_console.is_terminal else console
    note.print("Units: mass concentrations (pg/mL, ng/mL, ug/mL, mg/L, mg/dL, g/L), mass "
               "fractions (ng/g, ug/g, mg/kg) and EU/mL, U/mL, U/L, %, ratio; values "
               "below or above an assay's limit as <0.5 or >1800. Catalogue version "
               f"{catalog.version}.", highlight=False)


# -------------------------------------------------------------------- analyze
@app.command()
def analyze(
    table: Table_,
    metadata: Annotated[Path, typer.Option(
        help="Sample metadata (QIIME 2 TSV or CSV) with the group and marker columns. "
             "Example: --metadata sample-metadata.tsv")],
    group: Annotated[str, typer.Option(
        help="Metadata column that defines the groups (each needs ≥ 3 samples). "
             "Example: --group Subject")],
    out: Out,
    subject: Subject = None,
    where: Annotated[str | None, typer.Option(
        help="Analyse only the samples whose metadata satisfy this condition. "
             "Example: --where \"diagnosis in ['CD', 'nonIBD']\"")] = None,
    markers: Markers = None,
    markers_file: MarkersFile = None,
    covariates: Annotated[str | None, typer.Option(
        help="Comma-separated metadata columns adjusted for in differential abundance. "
             "Example: --covariates Age,Sex")] = None,
    taxonomy: Taxonomy = None,
    tree: Tree = None,
    sequences: Sequences = None,
    rank: Annotated[str, typer.Option(
        help="Rank of composition, differential abundance, marker–taxon links and the "
             "microbiome classifier. Example: --rank family")]
    = default(CohortParameters, "rank"),
    rarefy: Annotated[int | None, typer.Option(
        "--rarefy", help="Rarefy to N reads for diversity (default: the shallowest "
                                "sample's depth, if ≥ 1,000). Example: --rarefy 10000")] = None,
    no_rarefy: Annotated[bool, typer.Option(
        "--no-rarefy", help="Compute diversity on the counts as they are. "
                            "Example: --no-rarefy")] = False,
    permutations: Annotated[int, typer.Option(
        help="Permutations of PERMANOVA and PERMDISP. Example: --permutations 9999")]
    = default(CohortParameters, "permutations"),
    seed: Annotated[int, typer.Option(
        help="Seed of every random step (rarefaction, permutations, Monte Carlo, CV). "
             "Example: --seed 42")] = default(CohortParameters, "seed"),
    cv_folds: Annotated[int, typer.Option(help="Cross-validation folds (stratified). "
                                                  "Example: --cv-folds 5")]
    = default(CohortParameters, "cv_folds"),
    cv_repeats: Annotated[int, typer.Option(help="Cross-validation repeats. "
                                                      "Example: --cv-repeats 20")]
    = default(CohortParameters, "cv_repeats"),
    trees: Annotated[int, typer.Option(help="Trees per random forest. "
                                                    "Example: --trees 500")]
    = default(CohortParameters, "n_estimators"),
    mc_samples: Annotated[int, typer.Option(
        help="Monte Carlo instances of the differential-abundance test of read counts "
             "in two groups (LinDA, for relative abundances or more groups, has none). "
             "Example: --mc-samples 256")] = default(CohortParameters, "mc_samples"),
    no_classifier: Annotated[bool, typer.Option(
        "--no-classifier", help="Skip the random-forest classifiers. "
                                "Example: --no-classifier")] = False,
    save_model: Annotated[bool, typer.Option(
        "--save-model", help="Fit each classifier on all samples and save it under "
                             "OUT/model/ (joblib + JSON feature list), for `gutaxis reference "
                             "build --classifier`. Example: --save-model")] = False,
    output_format: Annotated[str, typer.Option(
        "--format", help="How the distance matrices OUT/beta/<metric> are written: tsv (lsmat), "
                         "hdf5 (Striped UniFrac's layout, with the PCoA in the file), qza (QIIME "
                         "2 DistanceMatrix, and PCoAResults as <metric>_pcoa.qza) or zarr "
                         "(needs gutaxis[distributed]). Example: --format qza")]
    = default(AnalysisOptions, "output_format"),
    precision: Annotated[str, typer.Option(
        help="Number type of hdf5 and zarr matrices: float64 or float32. "
             "Example: --precision float32")] = default(AnalysisOptions, "precision"),
    transpose: Transpose = None,
    threads: Threads = None,
    overwrite: Overwrite = False,
    verbose: Verbose = False,
) -> None:
    """Cohort analysis: microbiome and gut-barrier/immune markers between groups.

    Diversity (group tests, PCoA, PERMANOVA, PERMDISP), composition and
    compositional differential abundance, markers (group tests, correlations,
    marker–taxon links), random-forest classifiers with repeated cross-validation.
    Writes OUT/report.html, OUT/results.json, TSV tables and the distance matrices
    OUT/beta/<metric>.tsv (lsmat; .h5, .qza or .zarr with --format).

    For example:

      gutaxis analyze table.biom --metadata md.tsv --group Subject --markers LPSpgml,LBPugml
      --out results/

      gutaxis analyze table.qza --taxonomy taxonomy.qza --tree rooted-tree.qza
      --metadata md.tsv --group diagnosis --covariates age --rank family --out results/
    """
    _logging(verbose)
    if rarefy is not None and no_rarefy:
        raise typer.BadParameter("give either --rarefy N or --no-rarefy, not both")
    parameters = CohortParameters(
        group, subject=subject, where=where, covariates=_split(covariates), rank=rank,
        rarefy_depth=None if no_rarefy else (rarefy if rarefy is not None else "auto"),
        permutations=permutations, seed=seed, classifier=not no_classifier,
        cv_folds=cv_folds, cv_repeats=cv_repeats, n_estimators=trees, mc_samples=mc_samples,
        threads=threads)
    options = AnalysisOptions(
        table=table, metadata=metadata, taxonomy=taxonomy, tree=tree, sequences=sequences,
        markers=_split(markers), markers_file=markers_file, parameters=parameters,
        save_model=save_model, transpose=transpose, output_format=output_format,
        precision=precision)
    options.check_output(out, overwrite=overwrite)
    _analyze(options, out, overwrite)


def _analyze(options: AnalysisOptions, out: Path, overwrite: bool) -> dict[str, Path]:
    from gutaxis.commands import run_analysis

    with _progress() as (on_step, on_fold):
        result = run_analysis(options, command=_command(), on_step=on_step, on_fold=on_fold)
    analysis = result.analysis
    sizes = ", ".join(f"{g} {int((analysis.groups == g).sum()):,}" for g in analysis.group_order)
    console.print(f"{analysis.study.n_samples:,} samples ({sizes}); "
                  f"{analysis.study.n_features:,} features", highlight=False)
    if analysis.subjects is not None:
        person = analysis.subjects.reindex(analysis.groups.index)
        people = ", ".join(f"{g} {person[analysis.groups == g].nunique():,}"
                           for g in analysis.group_order)
        console.print(f"from {person.nunique():,} people ({people}; column "
                      f"{analysis.subject_column}): every test counts people", highlight=False)
    if analysis.rarefaction_depth is not None:
        dropped = analysis.rarefaction_dropped
        console.print(f"diversity rarefied to {analysis.rarefaction_depth:,} reads per sample; "
                      f"{len(dropped)} sample(s) below it left out of the diversity step")
    _skipped(analysis.skipped)
    written = result.write(out, overwrite=overwrite)
    _written(written, {"results": "results", "report": "report"})
    return written


# -------------------------------------------------------------------- indices
@app.command()
def indices(
    table: Annotated[Path, typer.Argument(
        metavar="TABLE", help="Feature table: BIOM, QIIME 2 .qza, MetaPhlAn profile (species "
                              "level for GMHI), TSV/CSV. Example: merged_abundance_table.txt")],
    out: Out,
    taxonomy: Taxonomy = None,
    transpose: Transpose = None,
    overwrite: Overwrite = False,
    verbose: Verbose = False,
) -> None:
    """Compute published indices per sample: GMHI, MD-index, Shannon entropy, the key taxa.

    Writes OUT/indices.tsv (first column sample_id) and OUT/indices.notes.json
    (why an index is empty, e.g. GMHI on a 16S genus-level table, and the rank
    each key taxon was matched at).

    Example: gutaxis indices merged_abundance_table.txt --out indices/
    """
    from gutaxis.commands import run_indices

    _logging(verbose)
    options = IndicesOptions(table=table, taxonomy=taxonomy, transpose=transpose)
    options.check_output(out, overwrite=overwrite)
    result = run_indices(options)
    for name, note in result.not_applicable.items():
        console.print(f"[yellow]{name}[/]: {escape(note)}", highlight=False)
    for name, samples in result.not_computable.items():
        shown = ", ".join(samples[:5]) + (" …" if len(samples) > 5 else "")
        console.print(f"[yellow]{name}[/]: not computable in {len(samples)} of "
                      f"{result.study.n_samples} sample(s) ({shown}); see "
                      f"{name}_status in indices.tsv and indices.notes.json", highlight=False)
    written = result.write(out, overwrite=overwrite)
    _written(written, {"indices": "indices", "notes": "notes"})


# ------------------------------------------------------------------ reference
reference_app = typer.Typer(
    help="Reference cohorts a patient is placed against (build one before `gutaxis profile`).",
    no_args_is_help=True, rich_markup_mode=None)
app.add_typer(reference_app, name="reference")


@reference_app.command("build")
def reference_build(
    table: Annotated[Path, typer.Argument(
        metavar="TABLE", help="Feature table of the cohort (BIOM, .qza, MetaPhlAn, TSV/CSV). "
                              "Example: table.biom")],
    metadata: Annotated[Path, typer.Option(
        help="Sample metadata. Example: --metadata sample-metadata.tsv")],
    name: Annotated[str, typer.Option(help="Name of the reference. Example: --name "
                                           "healthy-controls-2016")],
    out: Out,
    where: Annotated[str | None, typer.Option(
        help="Which samples form the reference (a condition on the metadata columns). "
             "Example: --where \"Subject == 'Control'\"")] = None,
    markers: Markers = None,
    markers_file: MarkersFile = None,
    taxonomy: Taxonomy = None,
    classifier: Annotated[Path | None, typer.Option(
        help="A model saved by `gutaxis analyze --save-model` to freeze with the reference. "
             "Example: --classifier results/model/combined.joblib")] = None,
    sequencing: Annotated[str | None, typer.Option(
        help="Sequencing type, e.g. '16S V4' or 'shotgun' (inferred when not given). "
             "Example: --sequencing '16S V4'")] = None,
    min_reads: Annotated[int, typer.Option(
        help="Count tables: samples with fewer reads are left out of the reference "
                    "(and a patient below it is not compared). Example: --min-reads 5000")]
    = default(ReferenceOptions, "min_reads"),
    subject: Subject = None,
    per_subject: Annotated[str, typer.Option(
        help="With --subject: a person's first sample (in the table's order), the mean of "
             "their samples, or all of them. Example: --per-subject mean")]
    = default(ReferenceOptions, "per_subject"),
    transpose: Transpose = None,
    overwrite: Overwrite = False,
    verbose: Verbose = False,
) -> None:
    """Freeze a reference cohort: indices, taxa at each rank, markers with units.

    Build it once from healthy (or control) samples; then place each patient
    against it with `gutaxis profile --reference OUT`.

    Example: gutaxis reference build table.biom --metadata md.tsv
    --where "Subject == 'Control'" --name cfs-controls --out ref/
    """
    from gutaxis.commands import run_reference_build

    _logging(verbose)
    options = ReferenceOptions(
        table=table, metadata=metadata, name=name, where=where, markers=_split(markers),
        markers_file=markers_file, taxonomy=taxonomy, classifier=classifier,
        sequencing=sequencing, min_reads=min_reads, transpose=transpose, subject=subject,
        per_subject=per_subject)
    options.check_output(out, overwrite=overwrite)
    result = run_reference_build(options)
    ref = result.reference
    subjects = ref.details.get("subjects")
    if subjects:
        how = {"first": "each person's first sample", "mean": "the mean of each person's "
               "samples", "all": "all their samples"}[subjects["per_subject"]]
        console.print(f"{subjects['n_subjects']} people ({subjects['n_samples']} samples; "
                      f"{how}: {ref.n_samples} rows)", highlight=False)
    else:
        console.print(f"{ref.n_samples} reference samples (one per person assumed; "
                      "--subject counts people)", highlight=False)
    console.print(f"{ref.sequencing}, taxonomy {ref.taxonomy_scheme}; version "
                  f"{ref.version[:12]}", highlight=False)
    for reason, samples in (ref.details.get("excluded") or {}).items():
        shown = escape(", ".join(map(str, samples[:10])) + (" …" if len(samples) > 10 else ""))
        console.print(f"[yellow]left out[/] {len(samples)} sample(s) with {reason}: {shown} "
                      "(all in reference.json, under excluded)", highlight=False)
    _written(result.write(out, overwrite=overwrite), {"reference": "reference"})


# ------------------------------------------------------------------ challenge
challenge_app = typer.Typer(
    help="Food challenges judged from a food-and-symptom diary, and diary suspects.",
    no_args_is_help=True, rich_markup_mode=None)
app.add_typer(challenge_app, name="challenge")


@challenge_app.command("verdicts")
def challenge_verdicts_command(
    diary: Annotated[Path, typer.Argument(
        metavar="DIARY", help="The diary: CSV with columns time,kind,item,value (kind: food, "
                              "symptom, stool, sleep, stress, medication). Example: DIARY.csv")],
    out: Out,
    challenges: Annotated[Path | None, typer.Option(
        help="The challenges: CSV with columns food_group,start,end,portion,sham (one row per "
             "challenge, or per day of rising portions). Without it only the diary suspects "
             "are computed. Example: --challenges CHALLENGES.csv")] = None,
    symptoms: Annotated[str | None, typer.Option(
        help="Comma-separated primary symptoms (default: every symptom scored in the diary). "
             "Example: --symptoms bloating,pain")] = None,
    carryover_days: Annotated[int, typer.Option(
        help="Days after a challenge modelled as carry-over. Example: --carryover-days 2")]
    = DEFAULT_CARRYOVER_DAYS,
    food_catalog: Annotated[bool, typer.Option(
        "--food-catalog/--no-food-catalog",
        help="Test diary suspects by the food catalogue's groups (default) or each diary item "
             "as written.")] = True,
    overwrite: Overwrite = False,
    verbose: Verbose = False,
) -> None:
    """Judge food challenges against the own baseline (or sham); list diary suspects.

    Writes OUT/verdicts.json (per challenge and primary symptom: effect, 90 %
    interval, probability above the meaningful worsening, verdict: likely
    trigger, likely tolerated or inconclusive) and OUT/suspects.json (foods
    to test with a challenge, with false-discovery-rate control).  Times are
    ISO 8601 (2026-03-01T08:30); symptom and stress scores 0-10, stool
    Bristol 1-7, sleep hours; CHALLENGES.csv rows of one food group on
    consecutive days form one challenge of rising portions.  The method:
    docs/challenge-statistics.md.

    Example: gutaxis challenge verdicts DIARY.csv --challenges CHALLENGES.csv --out verdicts/
    """
    from gutaxis.commands import ChallengeOptions, run_challenge

    _logging(verbose)
    options = ChallengeOptions(diary=diary, challenges=challenges, symptoms=_split(symptoms),
                               carryover_days=carryover_days, food_catalog=food_catalog)
    options.check_output(out, overwrite=overwrite)
    result = run_challenge(options)
    if result.verdicts:
        compared = {v.compared_with for v in result.verdicts}
        title = ("Challenges, each against the sham (blinded) challenges" if compared == {"sham"}
                 else "Challenges, each against the patient's own level without it"
                 if compared == {"baseline"} else "Challenges")
        table = Table(title=title, title_justify="left")
        # wrapped to the screen's width, never cut: a word wider than its column goes on
        # over the next line
        for column in ("food group", "symptom", "change (90 % interval)", "counts from",
                       "P(above)", "verdict"):
            table.add_column(column, overflow="fold")
        numbered = any(v.challenge != "1" for v in result.verdicts)
        for v in result.verdicts:
            change = ("—" if v.effect is None or v.interval is None else
                      f"{v.effect:+.1f} ({v.interval[0]:+.1f} to {v.interval[1]:+.1f})")
            name = v.food_group + (f" #{v.challenge}" if numbered and v.challenge != "pooled"
                                   else " (pooled)" if v.challenge == "pooled" else "")
            table.add_row(escape(name), escape(v.symptom), change,
                          "—" if v.threshold is None else f"+{v.threshold:.1f}",
                          "—" if v.p_above_threshold is None else f"{v.p_above_threshold:.2f}",
                          v.verdict)
        out_console.print(table)
        for v in result.verdicts:
            if v.note and v.effect is None:
                console.print(f"[yellow]{escape(v.food_group)} / {escape(v.symptom)}[/]: "
                              f"{escape(v.note)}", highlight=False)
        if "baseline" in compared:
            console.print("Open challenges: a worsening because the food is expected to harm "
                          "(nocebo) counts as an effect; blinded challenges against sham tell "
                          "them apart.", highlight=False)
    gauge = result.suspects.gauge()
    console.print(escape(gauge["summary"]), highlight=False)
    for s in result.suspects.suspects:
        console.print(f"suspect: {escape(s.food)} → {escape(s.symptom)} "
                      f"({s.window_hours[0]:g}–{s.window_hours[1]:g} h after eating; "
                      f"{s.effect:+.1f} points, q = {s.q_value:.2f}): {s.label}",
                      highlight=False)
    console.print("These results support, and do not replace, a clinician's judgement.",
                  style="dim", highlight=False)
    _written(result.write(out, overwrite=overwrite),
             {"verdicts": "verdicts", "suspects": "suspects"})


# ----------------------------------------------------------------------- labs
labs_app = typer.Typer(help="Lab results: import them from FHIR R4 into a LABS.csv.",
                       no_args_is_help=True, rich_markup_mode=None)
app.add_typer(labs_app, name="labs")


@labs_app.command("import")
def labs_import_command(
    bundle: Annotated[Path, typer.Argument(
        metavar="BUNDLE", help="FHIR R4 JSON: a Bundle (collection, transaction, searchset, "
                               "document, batch or message), a DiagnosticReport or an "
                               "Observation. Example: results.json")],
    out: Annotated[Path, typer.Option(
        "--out", "-o", help="The LABS.csv to write (an existing file is refused unless "
                            "--overwrite). Example: --out labs.csv")],
    patient: Annotated[str | None, typer.Option(
        help="The patient whose results to import, by identifier SYSTEM|VALUE (or VALUE); "
             "needed when the bundle holds results of several patients. "
             "Example: --patient 'urn:oid:1.2.36.146.595.217.0.1|12345' (quoted: the shell "
             "reads | as a pipe)")] = None,
    sample: Annotated[str | None, typer.Option(
        help="The sample_id of the rows (the id `gutaxis profile --sample` uses); default: "
             "the patient's identifier value. Example: --sample S17")] = None,
    skip_unknown: Annotated[bool, typer.Option(
        "--skip-unknown", help="Skip (and list) results whose code the marker catalogue does "
                               "not know, instead of stopping. Example: --skip-unknown")]
    = False,
    report: Annotated[str | None, typer.Option(
        help="Import only the results of this DiagnosticReport (its id, DiagnosticReport/ID "
             "or fullUrl): for a bundle holding several visits' reports of one patient. "
             "Example: --report DiagnosticReport/27")] = None,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace the --out file if it exists. Example: --overwrite")]
    = False,
    verbose: Verbose = False,
) -> None:
    """Import lab results from FHIR R4 JSON into a LABS.csv (what `gutaxis profile --labs` reads).

    Observations are matched to the marker catalogue by LOINC code or by the
    names and aliases `gutaxis markers` lists; values and the lab's reference
    range are converted to the catalogue unit; a comparator (<0.5) is kept as
    a censored value.  Only final, amended and corrected results are imported;
    the others are listed as skipped.  All or nothing: an unknown code, unit or
    an invalid resource stops the import with one line naming the resource and
    the element, and nothing is written.

    Example: gutaxis labs import results.json --out labs.csv --patient
    'urn:oid:1.2.36.146.595.217.0.1|12345'
    """
    from gutaxis.commands import LabsImportOptions, run_labs_import
    from gutaxis.commands.labs import parse_patient_option

    _logging(verbose)
    options = LabsImportOptions(bundle=bundle, patient=parse_patient_option(patient),
                                sample=sample, skip_unknown=skip_unknown, report=report)
    options.check_output(out, overwrite=overwrite)
    result = run_labs_import(options)
    labs = result.labs
    if labs.rows:
        table = Table(title=f"Imported for sample {escape(labs.sample_id)}", title_justify="left")
        for column in ("marker", "value", "unit", "lab range", "flag", "status", "effective",
                       "from"):
            table.add_column(column, overflow="fold")  # wrapped on a narrow screen, never cut
        for row in labs.rows:
            low, high = row["ref_low"], row["ref_high"]
            span = (f"{low}–{high}" if low and high else f"up to {high}" if high
                    else f"from {low}" if low else "")
            table.add_row(*(escape(str(x)) for x in (
                row["marker"], row["value"], row["unit"], span, row["interpretation"],
                row["status"], row["effective"], row["source"])))
        out_console.print(table)
    for item in labs.skipped:
        console.print(f"[yellow]skipped[/] {escape(item.where)} {escape(item.code)}: "
                      f"{escape(item.reason)}", highlight=False)
    if labs.patient_identifiers:
        console.print("patient: " + escape(", ".join(
            f"{s}|{v}" if s else v for s, v in labs.patient_identifiers)), highlight=False)
    _written(result.write(out, overwrite=overwrite), {"labs": "lab results"})


# -------------------------------------------------------------------- profile
@app.command()
def profile(
    table: Annotated[Path, typer.Argument(
        metavar="TABLE", help="The patient's microbiome table (it may hold other samples). "
                              "Example: patient.biom")],
    sample: Annotated[str, typer.Option(
        help="The patient's sample id in TABLE (and in --labs). Example: --sample S17")],
    reference: Annotated[Path, typer.Option(
        help="A reference folder made by `gutaxis reference build`. Example: --reference ref/")],
    out: Out,
    patient: Annotated[str | None, typer.Option(
        help="The patient's id, recorded in the profile; a follow-up (--previous) warns when "
             "the previous profile is of another patient. Example: --patient P01")] = None,
    labs: Annotated[Path | None, typer.Option(
        help="Lab results, one row per result, with the header sample_id,marker,value,unit,"
             "ref_low,ref_high,assay; markers and units as `gutaxis markers` lists them, a "
             "value below or above the assay's limit as <0.5 or >1800. "
             "Example: --labs labs.csv")] = None,
    metadata: Annotated[Path | None, typer.Option(
        help="Sample metadata holding marker columns (with --markers). "
             "Example: --metadata md.tsv")] = None,
    markers: Markers = None,
    markers_file: MarkersFile = None,
    taxonomy: Taxonomy = None,
    previous: Annotated[Path | None, typer.Option(
        help="The profile.json of an earlier visit, for the follow-up section (never written "
             "over). Example: --previous visit1/profile.json")] = None,
    visit_date: Annotated[str | None, typer.Option(
        help="The day the sample was taken (YYYY-MM-DD), recorded in the profile; a follow-up "
             "dates each visit by it (otherwise by the day its profile was made). "
             "Example: --visit-date 2026-03-01")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap intervals. Example: --seed 1")]
    = default(ProfileOptions, "seed"),
    pdf: Annotated[bool, typer.Option(
        "--pdf/--no-pdf", help="Also write profile.pdf (needs the Pango library). "
                               "Example: --no-pdf")] = default(ProfileOptions, "pdf"),
    fhir: Annotated[bool, typer.Option(
        "--fhir", help="Also write profile.fhir.json: the profile as a FHIR R4 Bundle "
                       "(DiagnosticReport and Observations). Example: --fhir")]
    = default(ProfileOptions, "fhir"),
    transpose: Transpose = None,
    overwrite: Overwrite = False,
    verbose: Verbose = False,
) -> None:
    """One patient's gut–immune profile against a reference cohort (`gutaxis reference build`).

    Writes OUT/profile.html, OUT/profile.pdf and OUT/profile.json (and, with
    --fhir, OUT/profile.fhir.json). The profile supports, and does not replace, a
    clinician's judgement.

    Example: gutaxis profile patient.biom --sample S17 --patient P01 --reference ref/
    --labs labs.csv --previous visit1/profile.json --out visit2/
    """
    from gutaxis.commands import run_profile

    _logging(verbose)
    options = ProfileOptions(
        table=table, sample=sample, reference=reference, patient=patient, labs=labs,
        metadata=metadata, markers=_split(markers), markers_file=markers_file,
        taxonomy=taxonomy, previous=previous, visit_date=visit_date, seed=seed, pdf=pdf,
        fhir=fhir, transpose=transpose)
    options.check_output(out, overwrite=overwrite)
    result = run_profile(options)
    _print_profile(result.profile)
    written = result.write(out, overwrite=overwrite)
    _written(written, {k: f"profile ({k})" for k in ("html", "pdf", "json", "fhir")})


def _print_profile(result: object) -> None:
    from gutaxis.profile import LINK_STATUS_TEXT, Profile

    assert isinstance(result, Profile)
    for alert in result.alerts:
        console.print(f"[yellow]warning[/]: {escape(alert.message)}", highlight=False)
    for link in result.chain:
        console.print(f"{link.label}: {LINK_STATUS_TEXT[link.status]}", highlight=False)


# ----------------------------------------------------------------------- demo
@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder. "
                                                          "Example: --out demo/")]
    = Path("gutaxis-demo"),
    overwrite: Overwrite = False,
    verbose: Verbose = False,
) -> None:
    """Analyse the bundled ME/CFS study (Giloteaux et al. 2016) end to end, offline.

    Runs `gutaxis analyze` with --group Subject and the markers LPS, LBP, sCD14
    and I-FABP; the tree is built de novo from the ASV sequences (cached after
    the first run) and diversity is rarefied to the shallowest sample's depth.
    Then freezes a reference from the study's controls (OUT/reference/) and
    profiles the first patient against it (OUT/profile/).

    Example: gutaxis demo --out demo/ --overwrite
    """
    from gutaxis.commands import run_demo
    from gutaxis.io import example_dataset

    _logging(verbose)
    data = example_dataset()
    console.print(f"[bold]gutaxis demo[/]: {data.name} (see {data.provenance})", highlight=False)

    def on_stage(stage: str) -> None:
        if stage == "reference":
            console.print("[bold]reference[/]: the study's controls; [bold]profile[/]: its "
                          "first patient (by sample id)")

    with _progress() as (on_step, on_fold):
        result = run_demo(out, overwrite=overwrite, command=_command(), on_step=on_step,
                          on_fold=on_fold, on_stage=on_stage)
    analysis = result.analysis.analysis
    sizes = ", ".join(f"{g} {int((analysis.groups == g).sum())}" for g in analysis.group_order)
    console.print(f"{analysis.study.n_samples} samples ({sizes}); "
                  f"{analysis.study.n_features} features", highlight=False)
    if analysis.rarefaction_depth is not None:
        console.print(f"diversity rarefied to {analysis.rarefaction_depth:,} reads per sample; "
                      f"{len(analysis.rarefaction_dropped)} sample(s) below it left out of the "
                      "diversity step")
    _written(result.written, {"results": "results", "report": "report",
                              "reference": "reference"})
    console.print(f"patient {result.patient} against "
                  f"{result.reference.reference.n_samples} controls", highlight=False)
    _print_profile(result.profile.profile)
    _written(result.written, {f"profile/{k}": f"profile ({k})" for k in ("html", "pdf", "json")})


# ----------------------------------------------------------------------- the practice application
DataDir = Annotated[Path, typer.Option(
    "--data", help="The data folder: SQLite database, uploaded files, profiles (the database "
                   "is PostgreSQL instead when GUTAXIS_DATABASE_URL is set). "
                   "Example: --data gutaxis-data/")]


def _service_settings(data: Path, **overrides: object) -> Settings:
    try:
        from gutaxis.service.settings import Settings
    except ImportError as exc:  # pragma: no cover - the extra is not installed
        raise typer.BadParameter(f"the practice application needs gutaxis[service] "
                                 f"({exc})") from None
    return Settings.from_env(data, **overrides)


def _read_notes(study: Study) -> None:
    """Print what reading the table noted (the read step's notes), one line each."""
    read = next((step for step in study.provenance if step.get("step") == "read"), {})
    for note in read.get("notes") or []:
        console.print(f"[yellow]table[/]: {escape(str(note))}", highlight=False)


def _service_error(exc: Exception | str) -> None:
    console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def _listening_socket(host: str, port: int) -> Any:
    """Listen on ``host:port`` now, or say in one line why not (the port taken, say)."""
    import socket

    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        # a name (localhost) listens on its IPv4 address when it has one, as uvicorn does:
        # a proxy pointed at 127.0.0.1 must find the server there
        family, kind, proto, _, address = next(
            (f for f in found if f[0] == socket.AF_INET), found[0])
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
            sock.listen(2048)
        except OSError:
            sock.close()
            raise
    except OSError as exc:
        reason = ("another program listens there (another gutaxis server?)"
                  if exc.errno == errno.EADDRINUSE else exc.strerror or str(exc))
        _service_error(f"cannot listen on {host}:{port}: {reason}")
    sock.set_inheritable(True)
    return sock


@contextmanager
def _practice_database(data: Path, *, existing: bool = False,
                       settings: Settings | None = None,
                       before: list[str | None] | None = None) -> Iterator[AppContext]:
    """Open the practice's database, migrated, for a command; say what goes wrong in one line.

    ``existing``: the SQLite database must be there already (a command that
    changes an account must not make an empty database in a mistyped folder).
    ``settings``: the command's own (``serve``'s options); else those of ``data``.
    ``before``: gets the migration the database was at before (None: none).
    """
    import sqlalchemy.exc

    from gutaxis.service.context import AppContext
    from gutaxis.service.db import MigrationError, current_revision, upgrade
    from gutaxis.service.services.accounts import seal_stored_secrets
    from gutaxis.service.settings import DATABASE_URL_ENV

    if data.exists() and not data.is_dir():
        _service_error(f"--data {data} is a file; expected the data folder (the one "
                       "`gutaxis serve --data` uses)")
    settings = settings or _service_settings(data)
    if existing and settings.database_url is None \
            and not (settings.data_dir / "gutaxis.sqlite3").is_file():
        _service_error(f"--data {data}: no database there (no gutaxis.sqlite3); give the "
                       "folder `gutaxis serve --data` uses, or make the first account with "
                       "`gutaxis users create`")
    where = (f"{DATABASE_URL_ENV}" if settings.database_url
             else f"{settings.data_dir / 'gutaxis.sqlite3'}")
    try:
        ctx = AppContext(settings)
    except (sqlalchemy.exc.ArgumentError, sqlalchemy.exc.NoSuchModuleError,
            ImportError, OSError) as exc:  # ImportError: a driver that is not installed
        _service_error(f"{where}: cannot use this database ({exc}); "
                       f"{DATABASE_URL_ENV} takes a URL such as "
                       "postgresql+psycopg://user@host:5432/name")
    try:
        try:
            if before is not None:
                before.append(current_revision(ctx.engine))
            upgrade(ctx.engine)
        except sqlalchemy.exc.DBAPIError as exc:
            _service_error(f"{where}: cannot open the database "
                           f"({str(exc.orig).strip().splitlines()[0]})")
        except MigrationError as exc:
            _service_error(f"{where}: {exc}")
        with ctx.transaction() as db:
            seal_stored_secrets(db)
        yield ctx
    finally:
        ctx.close()


@app.command()
def serve(
    data: DataDir = Path("gutaxis-data"),
    host: Annotated[str, typer.Option(help="Address to listen on (127.0.0.1: this computer "
                                           "only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    demo_clinic: Annotated[bool, typer.Option(
        "--demo-clinic", help="Make the demo clinic from the bundled study (once) and print "
                              "its practitioner's password the first time.")] = False,
    secure_cookies: Annotated[bool, typer.Option(
        "--secure-cookies", help="Mark cookies Secure (when served over HTTPS).")] = False,
    workers: Annotated[int, typer.Option(
        min=1, help="Server processes. More than one needs PostgreSQL "
                    "(GUTAXIS_DATABASE_URL): one process owns a SQLite database.")] = 1,
) -> None:
    """Start the practice application (web pages and the API under /api/v1).

    Migrates the database, builds the bundled controls reference on first
    start, and runs the job worker.  Example: gutaxis serve --data clinic-data/
    """
    import uvicorn

    from gutaxis.service import create_app
    from gutaxis.service.app import prepare
    from gutaxis.service.context import AppContext

    settings = _service_settings(data, secure_cookies=secure_cookies)
    sqlite_file = settings.sqlite_file
    if workers > 1 and sqlite_file is not None:
        _service_error(ValueError(
            f"--workers {workers} needs PostgreSQL (set GUTAXIS_DATABASE_URL): the SQLite "
            f"database {sqlite_file} is kept by one server process"))
    # refused before anything is touched: a second server on the same SQLite database, or
    # a port another program listens on (a start that fails must not disturb one that runs)
    if sqlite_file is not None:
        from gutaxis.service.context import FolderInUse, hold_sqlite_server

        try:
            hold_sqlite_server(settings)  # held until the process ends
        except FolderInUse as exc:
            _service_error(exc)
    with _practice_database(data, settings=settings):
        pass  # reachable and migrated, or one line saying why not (not a server's traceback)
    listening = _listening_socket(host, port)
    bound = listening.getsockname()  # the port the system gave for --port 0
    shown = f"[{bound[0]}]:{bound[1]}" if ":" in bound[0] else f"{host}:{bound[1]}"
    if demo_clinic:
        from gutaxis.service.demo import create_demo_clinic

        ctx = AppContext(settings)
        console.print("setting up (the first start builds the bundled reference)…")
        prepare(ctx)
        made = create_demo_clinic(ctx)
        ctx.close()
        if made.password:
            out_console.print(f"demo clinic: sign in at http://{shown}/login as "
                              f"{made.email} with the password {made.password} "
                              "(shown only now; it is not stored anywhere in clear)",
                              highlight=False)
        else:
            out_console.print(f"demo clinic: sign in as {made.email} (the password was "
                              "printed when the demo clinic was made; `gutaxis users "
                              "password` sets a new one)", highlight=False)
    console.print(f"gutaxis practice on http://{shown}/ (data: "
                  f"{settings.data_dir}; Ctrl+C stops it)", highlight=False)
    # behind a reverse proxy on this computer, X-Forwarded-Proto/-For give the scheme (the
    # CSRF origin check compares it) and the client's address (audit log, throttling);
    # uvicorn trusts them only from FORWARDED_ALLOW_IPS (default 127.0.0.1 and ::1)
    if workers == 1:
        uvicorn.Server(uvicorn.Config(create_app(settings), host=host, port=port,
                                      log_level="warning", proxy_headers=True)
                       ).run(sockets=[listening])
        return
    listening.close()  # uvicorn's own processes listen on it: it was free a moment ago
    # each worker process builds its own app from the settings in the environment; the
    # database is migrated and the bundled reference set up once, here, before they start
    from gutaxis.service.app import SETTINGS_ENV

    ctx = AppContext(settings)
    prepare(ctx)
    ctx.close()
    os.environ[SETTINGS_ENV] = settings.to_json()
    uvicorn.run("gutaxis.service.app:create_app_from_environment", factory=True,
                workers=workers, host=host, port=port, log_level="warning",
                proxy_headers=True)


users_app = typer.Typer(help="Accounts of the practice application.", no_args_is_help=True)
app.add_typer(users_app, name="users")


def _password_from_stdin() -> str:
    try:
        if sys.stdin.isatty():
            import getpass

            return getpass.getpass("password: ")
        password = sys.stdin.readline().rstrip("\n")
        password.encode("utf-8")  # a byte that is not UTF-8 comes in as a lone surrogate
        return password
    except UnicodeError:
        raise typer.BadParameter("the password read from standard input is not UTF-8 text") \
            from None


@users_app.command("create")
def users_create(
    clinic: Annotated[str, typer.Option(help="The clinic: made when no clinic has this "
                                             "name.")],
    email: Annotated[str, typer.Option(help="The account's e-mail address.")],
    role: Annotated[str, typer.Option(help="owner, practitioner or assistant.")] = "owner",
    name: Annotated[str, typer.Option(help="The person's name.")] = "",
    data: DataDir = Path("gutaxis-data"),
) -> None:
    r"""Make an account; the password is read from standard input (at least 12 characters).

    Example: printf '%s\n' "$PASSWORD" | gutaxis users create --clinic "My practice"
    --email me@example.org --role owner
    """
    from sqlalchemy import select

    from gutaxis.service.errors import ServiceError
    from gutaxis.service.models import Clinic
    from gutaxis.service.services import accounts

    password = _password_from_stdin()
    with _practice_database(data) as ctx:
        try:
            with ctx.transaction() as db:
                row = db.scalar(select(Clinic).where(Clinic.name == clinic.strip()))
                row = row or accounts.create_clinic(db, clinic)
                user = accounts.create_user(db, row, email, password, role, name)
                out_console.print(f"{user.email}: {user.role} of {row.name} (clinic {row.id})",
                                  highlight=False)
        except ServiceError as exc:
            _service_error(exc)


@users_app.command("password")
def users_password(
    email: Annotated[str, typer.Option(help="The account's e-mail address.")],
    second_factor_off: Annotated[bool, typer.Option(
        "--second-factor-off", help="Also turn the second factor off (a lost authenticator "
                                    "app; the person turns it on again after signing in).")]
    = False,
    data: DataDir = Path("gutaxis-data"),
) -> None:
    r"""Set a new password (read from standard input) and unlock the account.

    The account's sessions end and its access tokens are revoked.  Example:
    printf '%s\n' "$PASSWORD" | gutaxis users password --email me@example.org
    --second-factor-off
    """
    from sqlalchemy import select

    from gutaxis.service.errors import ServiceError
    from gutaxis.service.models import User
    from gutaxis.service.services import accounts

    password = _password_from_stdin()
    # migrated first, as `users create` does: the audit row needs the current schema
    with _practice_database(data, existing=True) as ctx:
        try:
            with ctx.transaction() as db:
                user = db.scalar(select(User).where(
                    User.email == accounts.normalise_email(email)))
                if user is None:
                    _service_error(f"email: no account {email} (in the database of "
                                   f"{ctx.settings.data_dir}; `gutaxis users create` makes "
                                   "one)")
                    return
                accounts.set_password(db, user, password,
                                      second_factor_off=second_factor_off)
            out_console.print(f"{email}: password set", highlight=False)
        except ServiceError as exc:
            _service_error(exc)


db_app = typer.Typer(help="The practice application's database.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade(data: DataDir = Path("gutaxis-data")) -> None:
    """Apply the database migrations (`gutaxis serve` also does at start).

    On SQLite the database must be there already (a mistyped folder is not
    made into a new, empty database); on PostgreSQL an empty database gets
    its schema.  Says which migrations it applied.
    """
    from gutaxis.service.db import current_revision

    before: list[str | None] = []
    with _practice_database(data, existing=True, before=before) as ctx:
        shown = ctx.engine.url.render_as_string()
        after = current_revision(ctx.engine)
    if before and before[0] == after:
        out_console.print(f"database up to date (at {after}; {shown})", highlight=False)
    else:
        start = f"from {before[0]}" if before and before[0] else "from an empty database"
        out_console.print(f"database upgraded {start} to {after} ({shown})", highlight=False)


def _show_warning(message: Warning | str, category: type[Warning], filename: str,
                  lineno: int, file: object = None, line: str | None = None) -> None:
    """Print a warning as one line, as errors are (no source file, no code line)."""
    console.print(f"[yellow]warning:[/] {escape(str(message))}", highlight=False,
                  soft_wrap=True)


def main() -> None:
    """Run the console script: domain errors become one clear line and exit code 2.

    Warnings are one ``warning:`` line each.
    """
    warnings.showwarning = _show_warning
    import signal

    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        # a stop (kill, a batch system's time limit) unwinds like Ctrl-C: an output folder
        # being written gets its earlier results back instead of keeping them hidden
        signal.signal(signal.SIGTERM, _terminated)
    try:
        app()
    except GutaxisError as exc:
        console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False,
                      soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        console.print("interrupted" + _resume_hint())
        sys.exit(130)
    except SystemExit as exc:
        if exc.code == 130:  # Typer turns Ctrl-C into a silent exit 130
            console.print("interrupted" + _resume_hint())
        raise
    except _Terminated:
        console.print("stopped (SIGTERM)" + _resume_hint())
        sys.exit(143)


def _resume_hint(argv: list[str] | None = None) -> str:
    """Say what to do after a stopped command: a blockwise run goes on where it stopped.

    >>> _resume_hint(["gutaxis", "diversity", "t.biom", "--cluster", "local", "--out", "o"])
    '; the tiles written are kept: run the same command with --resume to go on'
    >>> _resume_hint(["gutaxis", "diversity", "t.biom", "--cluster", "local", "--overwrite"]
    ...              ).endswith("with --resume in place of --overwrite to go on")
    True
    >>> _resume_hint(["gutaxis", "diversity", "t.biom", "--out", "o"])
    ''
    """
    args = sys.argv if argv is None else argv
    if "diversity" in args and any(a == "--cluster" or a.startswith("--cluster=")
                                   for a in args):
        if "--resume" in args:
            return "; the tiles written are kept: run the same command again to go on"
        if "--overwrite" in args:
            return ("; the tiles written are kept: run the same command with --resume in "
                    "place of --overwrite to go on")
        return "; the tiles written are kept: run the same command with --resume to go on"
    return ""


class _Terminated(BaseException):
    """SIGTERM, raised where the program was, so that ``finally`` and cleanup run."""


def _terminated(signum: int, frame: object) -> None:
    raise _Terminated


if __name__ == "__main__":  # pragma: no cover
    main()
