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


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder. Example: --out demo/")]
    = Path("gutaxis-demo"),
) -> None:
    """Run diversity on the bundled ME/CFS study (Giloteaux et al. 2016), offline.

    The tree is built de novo from the ASV sequences (cached after the first
    run) and every sample is rarefied to the depth of the shallowest one.

    Example: gutaxis demo --out demo/
    """
    from gutaxis import io as gio
    from gutaxis.datasets import example_dataset

    data = example_dataset()
    depth = int(gio.read_table(data.table).sample_totals().min())
    console.print(f"[bold]gutaxis demo[/]: {data.name} (see {data.provenance})")
    console.print(f"rarefying to {depth:,} reads, the depth of the shallowest sample")
    _run_diversity(data.table, out=out, taxonomy=None, tree=None, metadata=data.metadata,
                   sequences=None, metrics=None, rarefy=depth, seed=0, transpose=None,
                   base=2.0, threads=None)


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
