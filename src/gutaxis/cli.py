"""The ``gutaxis`` command line (Typer + Rich): a thin shell around :mod:`gutaxis.pipeline`."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from gutaxis._version import __version__
from gutaxis.exceptions import GutaxisError

app = typer.Typer(
    name="gutaxis",
    help="The gut–immune axis: microbiome diversity and composition with barrier and immune markers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="rich",
)
console = Console(stderr=True, soft_wrap=True)
out_console = Console(soft_wrap=True)


def _version(value: bool) -> None:
    if value:
        out_console.print(f"gutaxis {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Show the version and exit.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v",
                                          help="Show what each step does (log messages).")] = False,
) -> None:
    handler = RichHandler(console=console, show_path=False, show_time=False)
    logger = logging.getLogger("gutaxis")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO if verbose else logging.WARNING)
    logger.propagate = False


def _progress() -> Progress:
    return Progress(TextColumn("[bold]{task.description:<28}"), BarColumn(),
                    TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                    console=console, transient=False, disable=not console.is_terminal)


def _parse_metrics(text: str | None) -> list[str] | None:
    if text is None:
        return None
    names = [m.strip() for m in text.split(",") if m.strip()]
    if not names:
        raise typer.BadParameter("give at least one metric name, e.g. --metrics shannon_entropy")
    return names


def _run_diversity(table: Path, *, out: Path, taxonomy: Path | None, tree: Path | None,
                   metadata: Path | None, sequences: Path | None, metrics: str | None,
                   rarefy: int | None, seed: int, transpose: bool | None, base: float,
                   threads: int | None) -> None:
    from gutaxis.pipeline import run_diversity

    with _progress() as progress:
        task = progress.add_task("reading", total=None)

        def on_step(label: str, done: int, total: int) -> None:
            progress.update(task, description=label, completed=done, total=total)

        result = run_diversity(
            table, out=out, taxonomy=taxonomy, tree=tree, metadata=metadata, sequences=sequences,
            metrics=_parse_metrics(metrics), rarefy_depth=rarefy, seed=seed, transpose=transpose,
            base=base, threads=threads, command=["gutaxis", *sys.argv[1:]], on_step=on_step,
        )
        progress.update(task, description="done")
    study = result.study
    console.print(f"{study.n_samples} samples × {study.n_features} features")
    if result.rarefaction is not None:
        r = result.rarefaction
        dropped = r["dropped"]
        console.print(f"rarefied to {r['depth']:,} reads per sample (seed {r['seed']}); "
                      f"{len(dropped)} sample(s) below that depth dropped"
                      + (f": {', '.join(dropped[:10])}{' …' if len(dropped) > 10 else ''}"
                         if dropped else ""))
    if result.tree_info is not None:
        info = result.tree_info
        if info.get("source") == "user":
            console.print(f"tree: yours ({info['path']})")
        else:
            console.print(f"tree: built de novo ({info.get('aligner')}, {info.get('tree_builder')}, "
                          f"{info.get('rooting')} rooted{', from cache' if info.get('cached') else ''})")
    for name, why in result.skipped.items():
        console.print(f"[yellow]skipped {name}[/]: {why}")
    if result.alpha_path is not None:
        out_console.print(f"alpha diversity: {result.alpha_path}")
    for name, path in result.beta_paths.items():
        out_console.print(f"beta diversity ({name}): {path}")
    out_console.print(f"provenance: {result.provenance_path}")


@app.command()
def diversity(
    table: Annotated[Path, typer.Argument(
        help="Feature table: BIOM (JSON or HDF5), QIIME 2 .qza, MetaPhlAn profile, TSV/CSV. "
             "Example: table.biom")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder. Example: --out results/")]
    = Path("gutaxis-diversity"),
    taxonomy: Annotated[Path | None, typer.Option(
        help="Feature taxonomy (QIIME 2 taxonomy.tsv or .qza). Example: --taxonomy taxonomy.qza")]
    = None,
    tree: Annotated[Path | None, typer.Option(
        help="Rooted tree (Newick or Phylogeny[Rooted] .qza); without it a tree is built de novo "
             "when features are ASV sequences. Example: --tree rooted-tree.qza")] = None,
    metadata: Annotated[Path | None, typer.Option(
        help="Sample metadata (QIIME 2 TSV or CSV); only shared samples are kept. "
             "Example: --metadata sample-metadata.tsv")] = None,
    sequences: Annotated[Path | None, typer.Option(
        help="ASV sequences (FASTA or FeatureData[Sequence] .qza) for the de novo tree. "
             "Example: --sequences rep-seqs.qza")] = None,
    metrics: Annotated[str | None, typer.Option(
        help="Comma-separated QIIME 2 metric names (default: all that apply; see "
             "`gutaxis metrics`). Example: --metrics shannon_entropy,braycurtis")] = None,
    rarefy: Annotated[int | None, typer.Option(
        "--rarefy", min=1,
        help="Rarefy each sample to N reads first; samples below N are dropped and listed. "
             "Example: --rarefy 10000")] = None,
    no_rarefy: Annotated[bool, typer.Option(
        "--no-rarefy", help="Use the counts as they are (the default when --rarefy is not given). "
                            "Example: --no-rarefy")] = False,
    seed: Annotated[int, typer.Option(help="Random seed of the rarefaction. Example: --seed 42")]
    = 0,
    transpose: Annotated[bool | None, typer.Option(
        "--transpose/--no-transpose",
        help="Plain tables: force samples in columns (--transpose) or in rows (--no-transpose) "
             "instead of detecting it. Example: --transpose")] = None,
    base: Annotated[float, typer.Option(
        help="Logarithm base of shannon_entropy (QIIME 2 uses 2). Example: --base 2.718281828")]
    = 2.0,
    threads: Annotated[int | None, typer.Option(
        min=1, help="Threads for the kernels (default: all cores). Example: --threads 2")] = None,
) -> None:
    """Alpha and beta diversity of TABLE, as QIIME 2 defines them.

    Writes OUT/alpha.tsv, OUT/beta/<metric>.tsv (lsmat) and OUT/provenance.json.

    Example: gutaxis diversity table.qza --tree rooted-tree.qza --rarefy 10000 --out results/
    """
    if rarefy is not None and no_rarefy:
        raise typer.BadParameter("give either --rarefy N or --no-rarefy, not both")
    _run_diversity(table, out=out, taxonomy=taxonomy, tree=tree, metadata=metadata,
                   sequences=sequences, metrics=metrics, rarefy=rarefy, seed=seed,
                   transpose=transpose, base=base, threads=threads)


@app.command("metrics")
def list_metrics() -> None:
    """List the diversity metrics (QIIME 2 names) and what each needs."""
    from gutaxis.diversity import alpha_metrics, beta_metrics

    table = Table("kind", "name", "needs", "what")
    for kind, registry in (("alpha", alpha_metrics()), ("beta", beta_metrics())):
        for metric in registry.values():
            needs = ", ".join(n for n, f in (("tree", metric.needs_tree),
                                             ("counts", metric.needs_counts)) if f)
            table.add_row(kind, metric.name, needs, metric.summary)
    out_console.print(table)


def _split(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def _run_analysis(table: Path, *, metadata: Path, group: str, out: Path, **options: object
                  ) -> None:
    from rich.progress import MofNCompleteColumn

    from gutaxis.pipeline import run_analysis

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

        result = run_analysis(table, metadata=metadata, group=group, out=out,
                              command=["gutaxis", *sys.argv[1:]], on_step=on_step,
                              on_fold=on_fold, **options)  # type: ignore[arg-type]
        progress.update(steps, description="done")
    analysis = result.analysis
    sizes = ", ".join(f"{g} {int((analysis.groups == g).sum())}" for g in analysis.group_order)
    console.print(f"{analysis.study.n_samples} samples ({sizes}); "
                  f"{analysis.study.n_features} features")
    if analysis.rarefaction_depth is not None:
        dropped = analysis.rarefaction_dropped
        console.print(f"diversity rarefied to {analysis.rarefaction_depth:,} reads per sample; "
                      f"{len(dropped)} sample(s) below it left out of the diversity step")
    for name, why in analysis.skipped.items():
        console.print(f"[yellow]skipped {name}[/]: {why}")
    out_console.print(f"results: {result.written['results']}")
    out_console.print(f"report: {result.report_path}")


@app.command()
def analyze(
    table: Annotated[Path, typer.Argument(
        help="Feature table: BIOM (JSON or HDF5), QIIME 2 .qza, MetaPhlAn profile, TSV/CSV. "
             "Example: table.biom")],
    metadata: Annotated[Path, typer.Option(
        help="Sample metadata (QIIME 2 TSV or CSV) with the group and marker columns. "
             "Example: --metadata sample-metadata.tsv")],
    group: Annotated[str, typer.Option(
        help="Metadata column that defines the groups (each needs ≥ 3 samples). "
             "Example: --group Subject")],
    markers: Annotated[str | None, typer.Option(
        help="Comma-separated marker columns, each optionally with its unit as COLUMN=UNIT "
             "(columns the marker catalogue knows, such as LPSpgml, need none). "
             "Example: --markers LPSpgml,LBPugml,zonulin=ng/mL")] = None,
    markers_file: Annotated[Path | None, typer.Option(
        help="Tab- or comma-separated file with a header 'column<TAB>unit', one marker column "
             "per row. Example: --markers-file markers.tsv")] = None,
    covariates: Annotated[str | None, typer.Option(
        help="Comma-separated metadata columns adjusted for in differential abundance. "
             "Example: --covariates Age,Sex")] = None,
    taxonomy: Annotated[Path | None, typer.Option(
        help="Feature taxonomy when the table has none (QIIME 2 taxonomy.tsv or .qza). "
             "Example: --taxonomy taxonomy.qza")] = None,
    tree: Annotated[Path | None, typer.Option(
        help="Rooted tree (Newick or .qza); without it one is built de novo from ASV "
             "sequences. Example: --tree rooted-tree.qza")] = None,
    sequences: Annotated[Path | None, typer.Option(
        help="ASV sequences (FASTA or .qza) for the de novo tree. "
             "Example: --sequences rep-seqs.qza")] = None,
    rank: Annotated[str, typer.Option(
        help="Rank of composition, differential abundance, marker–taxon links and the "
             "microbiome classifier. Example: --rank family")] = "genus",
    rarefy: Annotated[int | None, typer.Option(
        "--rarefy", min=1, help="Rarefy to N reads for diversity (default: the shallowest "
                                "sample's depth, if ≥ 1,000). Example: --rarefy 10000")] = None,
    no_rarefy: Annotated[bool, typer.Option(
        "--no-rarefy", help="Compute diversity on the counts as they are. "
                            "Example: --no-rarefy")] = False,
    permutations: Annotated[int, typer.Option(
        min=0, help="Permutations of PERMANOVA and PERMDISP. Example: --permutations 9999")]
    = 999,
    seed: Annotated[int, typer.Option(
        help="Seed of every random step (rarefaction, permutations, Monte Carlo, CV). "
             "Example: --seed 42")] = 0,
    cv_folds: Annotated[int, typer.Option(min=2, help="Cross-validation folds (stratified). "
                                                  "Example: --cv-folds 5")] = 10,
    cv_repeats: Annotated[int, typer.Option(min=1, help="Cross-validation repeats. "
                                                      "Example: --cv-repeats 20")] = 10,
    trees: Annotated[int, typer.Option(min=10, help="Trees per random forest. Example: --trees 500")]
    = 100,
    mc_samples: Annotated[int, typer.Option(
        min=8, help="Monte Carlo instances of the differential-abundance test. "
                    "Example: --mc-samples 256")] = 128,
    no_classifier: Annotated[bool, typer.Option(
        "--no-classifier", help="Skip the random-forest classifiers. "
                                "Example: --no-classifier")] = False,
    save_model: Annotated[bool, typer.Option(
        "--save-model", help="Fit each classifier on all samples and save it under "
                             "OUT/model/ (joblib + JSON feature list). "
                             "Example: --save-model")] = False,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder. "
                                                          "Example: --out results/")]
    = Path("gutaxis-analysis"),
    threads: Annotated[int | None, typer.Option(
        min=1, help="Threads (default: all cores). Example: --threads 2")] = None,
) -> None:
    """Cohort analysis: microbiome and gut-barrier/immune markers between groups.

    Diversity (group tests, PCoA, PERMANOVA, PERMDISP), composition and
    compositional differential abundance, markers (group tests, correlations,
    marker–taxon links), random-forest classifiers with repeated cross-validation.
    Writes OUT/report.html, OUT/results.json and TSV tables.

    Examples:

      gutaxis analyze table.biom --metadata md.tsv --group Subject --markers LPSpgml,LBPugml

      gutaxis analyze table.qza --taxonomy taxonomy.qza --tree rooted-tree.qza
      --metadata md.tsv --group diagnosis --covariates age --rank family --out results/
    """
    if rarefy is not None and no_rarefy:
        raise typer.BadParameter("give either --rarefy N or --no-rarefy, not both")
    depth: int | str | None = None if no_rarefy else (rarefy if rarefy is not None else "auto")
    _run_analysis(table, metadata=metadata, group=group, out=out, taxonomy=taxonomy, tree=tree,
                  sequences=sequences, markers=_split(markers), markers_file=markers_file,
                  covariates=_split(covariates), rank=rank, rarefy_depth=depth,
                  permutations=permutations, seed=seed, classifier=not no_classifier,
                  cv_folds=cv_folds, cv_repeats=cv_repeats, n_estimators=trees,
                  mc_samples=mc_samples, save_model=save_model, threads=threads)


@app.command()
def indices(
    table: Annotated[Path, typer.Argument(
        help="Feature table: BIOM, QIIME 2 .qza, MetaPhlAn profile (species level for GMHI), "
             "TSV/CSV. Example: merged_abundance_table.txt")],
    taxonomy: Annotated[Path | None, typer.Option(
        help="Feature taxonomy when the table has none (QIIME 2 taxonomy.tsv or .qza). "
             "Example: --taxonomy taxonomy.qza")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder. "
                                                          "Example: --out indices/")]
    = Path("gutaxis-indices"),
) -> None:
    """Published indices per sample: GMHI, MD-index, Shannon entropy, the key-taxa panel.

    Writes OUT/indices.tsv (first column sample_id) and OUT/indices.notes.json
    (why an index is empty, e.g. GMHI on a 16S genus-level table, and the rank
    each panel taxon was matched at).

    Example: gutaxis indices merged_abundance_table.txt --out indices/
    """
    import json

    from gutaxis.indices import write_indices
    from gutaxis.pipeline import load_study

    study, _ = load_study(table, taxonomy=taxonomy)
    path = write_indices(study, out)
    notes = json.loads((path.parent / "indices.notes.json").read_text(encoding="utf-8"))["notes"]
    for name, note in notes.items():
        if "not applicable" in note:
            console.print(f"[yellow]{name}[/]: {note}")
    out_console.print(f"indices: {path}")


reference_app = typer.Typer(help="Reference cohorts a patient is placed against.",
                             no_args_is_help=True, rich_markup_mode="rich")
app.add_typer(reference_app, name="reference")


@reference_app.command("build")
def reference_build(
    table: Annotated[Path, typer.Argument(
        help="Feature table of the cohort (BIOM, .qza, MetaPhlAn, TSV/CSV). "
             "Example: table.biom")],
    metadata: Annotated[Path, typer.Option(
        help="Sample metadata. Example: --metadata sample-metadata.tsv")],
    name: Annotated[str, typer.Option(help="Name of the reference. Example: --name "
                                           "healthy-controls-2016")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write the reference to "
                                                          "(must be new or empty). "
                                                          "Example: --out ref/")],
    where: Annotated[str | None, typer.Option(
        help="Which samples form the reference (a pandas query on the metadata). "
             "Example: --where \"Subject == 'Control'\"")] = None,
    markers: Annotated[str | None, typer.Option(
        help="Comma-separated marker columns (COLUMN or COLUMN=UNIT) whose distributions "
             "are frozen too. Example: --markers LPSpgml,LBPugml")] = None,
    markers_file: Annotated[Path | None, typer.Option(
        help="File of marker columns and units. Example: --markers-file markers.tsv")] = None,
    taxonomy: Annotated[Path | None, typer.Option(
        help="Feature taxonomy when the table has none. Example: --taxonomy taxonomy.qza")]
    = None,
    classifier: Annotated[Path | None, typer.Option(
        help="A model saved by `gutaxis analyze --save-model` to freeze with the reference. "
             "Example: --classifier results/model/combined.joblib")] = None,
    sequencing: Annotated[str | None, typer.Option(
        help="Sequencing type, e.g. '16S V4' or 'shotgun' (inferred when not given). "
             "Example: --sequencing '16S V4'")] = None,
) -> None:
    """Freeze a reference cohort: indices, taxa at each rank, markers with units.

    Example: gutaxis reference build table.biom --metadata md.tsv
    --where "Subject == 'Control'" --name cfs-controls --out ref/
    """
    from gutaxis.pipeline import run_reference_build

    path, ref = run_reference_build(table, metadata=metadata, name=name, out=out, where=where,
                                    taxonomy=taxonomy, markers=_split(markers),
                                    markers_file=markers_file, classifier=classifier,
                                    sequencing=sequencing)
    console.print(f"{ref.n_samples} reference samples; {ref.sequencing}, taxonomy "
                  f"{ref.taxonomy_scheme}; version {ref.version[:12]}")
    out_console.print(f"reference: {path}")


@app.command()
def profile(
    table: Annotated[Path, typer.Argument(
        help="The patient's microbiome table (it may hold other samples). Example: patient.biom")],
    sample: Annotated[str, typer.Option(help="The patient's sample id. Example: --sample P01")],
    reference: Annotated[Path, typer.Option(
        help="A reference folder made by `gutaxis reference build`. Example: --reference ref/")],
    labs: Annotated[Path | None, typer.Option(
        help="Lab results, one row per result: sample_id, marker, value, unit, ref_low, "
             "ref_high, assay. Example: --labs labs.csv")] = None,
    metadata: Annotated[Path | None, typer.Option(
        help="Sample metadata holding marker columns (with --markers). "
             "Example: --metadata md.tsv")] = None,
    markers: Annotated[str | None, typer.Option(
        help="Marker columns of --metadata (COLUMN or COLUMN=UNIT). "
             "Example: --markers LPSpgml,LBPugml")] = None,
    taxonomy: Annotated[Path | None, typer.Option(
        help="Feature taxonomy when the table has none. Example: --taxonomy taxonomy.qza")]
    = None,
    previous: Annotated[Path | None, typer.Option(
        help="The profile.json of an earlier visit, for the follow-up section. "
             "Example: --previous visit1/profile.json")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap intervals. Example: --seed 1")]
    = 0,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder. "
                                                          "Example: --out patient-P01/")]
    = Path("gutaxis-profile"),
) -> None:
    """One patient's gut–immune profile against a reference cohort.

    Writes OUT/profile.html, OUT/profile.pdf and OUT/profile.json. The profile
    supports, and does not replace, a clinician's judgement.

    Example: gutaxis profile patient.biom --sample P01 --reference ref/ --labs labs.csv
    --out patient-P01/
    """
    from gutaxis.pipeline import run_profile

    written, result = run_profile(table, sample=sample, reference=reference, out=out, labs=labs,
                                  metadata=metadata, markers=_split(markers), taxonomy=taxonomy,
                                  previous=previous, seed=seed)
    _print_profile(result, written)


def _print_profile(result: object, written: dict[str, Path]) -> None:
    for warning in getattr(result, "warnings", ()):
        console.print(f"[yellow]warning[/]: {warning['message']}")
    for link in getattr(result, "chain", ()):
        console.print(f"{link.label}: {link.status}")
    for kind in ("html", "pdf", "json"):
        if kind in written:
            out_console.print(f"profile ({kind}): {written[kind]}")


#: The marker columns of the bundled study (units are in the column names).
_DEMO_MARKERS = ("LPSpgml", "LBPugml", "sCD14ugml", "IFABPpgml")
_DEMO_REFERENCE = "cfs-giloteaux-2016-controls"


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder. Example: --out demo/")]
    = Path("gutaxis-demo"),
) -> None:
    """Analyse the bundled ME/CFS study (Giloteaux et al. 2016) end to end, offline.

    Runs `gutaxis analyze` with --group Subject and the markers LPS, LBP, sCD14
    and I-FABP; the tree is built de novo from the ASV sequences (cached after
    the first run) and diversity is rarefied to the shallowest sample's depth.
    Then freezes a reference from the study's controls (OUT/reference/) and
    profiles the first patient against it (OUT/profile/).

    Example: gutaxis demo --out demo/
    """
    from gutaxis.datasets import example_dataset

    data = example_dataset()
    console.print(f"[bold]gutaxis demo[/]: {data.name} (see {data.provenance})")
    _run_analysis(data.table, metadata=data.metadata, group="Subject", out=out,
                  markers=list(_DEMO_MARKERS), rarefy_depth="auto", save_model=True)

    from gutaxis import io as gio
    from gutaxis.pipeline import run_profile, run_reference_build

    console.print("[bold]reference[/]: the study's controls; [bold]profile[/]: its first "
                  "patient (by sample id)")
    _, ref = run_reference_build(data.table, metadata=data.metadata, name=_DEMO_REFERENCE,
                                 where="Subject == 'Control'", markers=list(_DEMO_MARKERS),
                                 classifier=out / "model" / "combined.joblib",
                                 out=out / "reference", overwrite=True)
    metadata = gio.read_metadata(data.metadata)
    patient = sorted(str(s) for s in metadata.index[metadata["Subject"] == "Patient"])[0]
    written, result = run_profile(data.table, sample=patient, reference=out / "reference",
                                  metadata=data.metadata, markers=list(_DEMO_MARKERS),
                                  out=out / "profile")
    console.print(f"patient {patient} against {ref.n_samples} controls")
    _print_profile(result, written)


def main() -> None:
    """Console-script entry point: domain errors become one clear line and exit code 2."""
    try:
        app()
    except GutaxisError as exc:
        console.print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(2)
    except KeyboardInterrupt:
        console.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":  # pragma: no cover
    main()
