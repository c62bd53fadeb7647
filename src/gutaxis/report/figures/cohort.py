"""Figures of the cohort report, as :class:`matplotlib.figure.Figure` objects.

Every function takes the part of a :class:`~gutaxis.cohort.CohortAnalysis` it
draws and returns a new Figure, drawn with the conventions of
:mod:`gutaxis.report.figures.base` (no pyplot, the shared palettes, data text
shown literally).  Groups keep one colour across all figures
(:func:`~gutaxis.report.figures.base.group_colours`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from gutaxis.exceptions import ValidationError
from gutaxis.report.figures.base import (
    NEUTRAL,
    OTHER,
    PHYLUM_PALETTE,
    SET_PALETTE,
    grid,
    group_colours,
    metric_label,
    new_figure,
    style,
    text,
)

__all__ = [
    "alpha_boxplots",
    "pcoa_scatter",
    "phylum_bars",
    "forest_plot",
    "forest_rows",
    "marker_boxplots",
    "correlation_heatmaps",
    "marker_taxon_heatmap",
    "roc_curves",
]

#: Jitter of the points drawn over boxplots (fixed: the figures are reproducible).
_JITTER_SEED = 20240607

def _group_values(values: pd.Series, groups: pd.Series,
                  group_order: Sequence[str]) -> list[np.ndarray]:
    labels = groups.reindex(values.index).astype(object)
    out = []
    for g in group_order:
        v = values[(labels == g).to_numpy()].to_numpy(dtype=np.float64)
        out.append(v[np.isfinite(v)])
    return out


def _box_with_points(ax: Axes, data: list[np.ndarray], group_order: Sequence[str],
                     rng: np.random.Generator) -> None:
    colours = group_colours(group_order)
    filled = [i for i, v in enumerate(data) if v.size]
    if filled:
        box = ax.boxplot([data[i] for i in filled], positions=filled, widths=0.55,
                         showfliers=False, patch_artist=True,
                         medianprops={"color": "#000000", "linewidth": 1.2})
        for i, patch in zip(filled, box["boxes"], strict=True):
            patch.set_facecolor(colours[str(group_order[i])] + "40")
            patch.set_edgecolor(colours[str(group_order[i])])
    for i, v in enumerate(data):
        x = i + rng.uniform(-0.18, 0.18, size=v.size)
        ax.scatter(x, v, s=10, color=colours[str(group_order[i])], alpha=0.8, linewidths=0,
                   zorder=3)
    ax.set_xticks(range(len(group_order)),
                  [f"{text(g)}\n(n={v.size})" for g, v in zip(group_order, data, strict=True)])
    ax.set_xlim(-0.6, len(group_order) - 0.4)


def _title(name: str, subtitles: Mapping[str, str] | None) -> str:
    sub = (subtitles or {}).get(name)
    return text(name) + (f"\n{text(sub)}" if sub else "")


# ------------------------------------------------------------------ figures
def alpha_boxplots(alpha: pd.DataFrame, groups: pd.Series, group_order: Sequence[str], *,
                   subtitles: Mapping[str, str] | None = None,
                   seed: int = _JITTER_SEED) -> Figure:
    """One panel per alpha metric: boxes per group with the samples jittered over them.

    ``subtitles`` (metric → text, e.g. the test's p) goes under each panel's title.
    """
    if alpha.shape[1] == 0:
        raise ValidationError("alpha_boxplots needs at least one metric column; got none")
    rng = np.random.default_rng(seed)
    with style():
        fig, axes = grid(alpha.shape[1], ncols=4 if alpha.shape[1] == 4 else 3)
        for ax, metric in zip(axes, alpha.columns, strict=True):
            _box_with_points(ax, _group_values(alpha[metric], groups, group_order), group_order,
                             rng)
            sub = (subtitles or {}).get(metric)
            ax.set_title(text(metric_label(str(metric))) + (f"\n{text(sub)}" if sub else ""))
    return fig


def pcoa_scatter(ordination: Any, groups: pd.Series, group_order: Sequence[str], *,
                 metric: str = "") -> Figure:
    """PC1 against PC2, coloured by group, with the % of variation each explains."""
    coords = np.asarray(ordination.coordinates, dtype=np.float64)
    explained = np.asarray(ordination.proportion_explained, dtype=np.float64)
    if coords.ndim != 2 or coords.shape[0] == 0:
        raise ValidationError(f"pcoa_scatter needs n × k coordinates; got shape {coords.shape}")
    if coords.shape[1] < 2:
        coords = np.column_stack([coords, np.zeros((coords.shape[0], 2 - coords.shape[1]))])
        explained = np.concatenate([explained, np.zeros(2 - explained.size)])
    labels = groups.reindex(pd.Index(ordination.ids).astype(str)).astype(object).to_numpy()
    colours = group_colours(group_order)
    with style():
        fig = new_figure((4.6, 3.8))
        ax = fig.add_subplot()
        for g in group_order:
            mask = labels == g
            ax.scatter(coords[mask, 0], coords[mask, 1], s=18, color=colours[str(g)],
                       alpha=0.85, linewidths=0, label=f"{text(g)} (n={int(mask.sum())})")
        ax.axhline(0, color="#cccccc", linewidth=0.6, zorder=0)
        ax.axvline(0, color="#cccccc", linewidth=0.6, zorder=0)
        ax.set_xlabel(f"PC1 ({100 * explained[0]:.1f} %)")
        ax.set_ylabel(f"PC2 ({100 * explained[1]:.1f} %)")
        if metric:
            ax.set_title(text(metric_label(metric)))
        ax.legend(loc="best")
    return fig


def _top_columns(frame: pd.DataFrame, top: int) -> pd.DataFrame:
    """Keep the ``top`` columns by mean, the rest summed into ``Other`` (when more than one)."""
    order = frame.mean(axis=0).sort_values(ascending=False, kind="stable").index
    if len(order) <= top + 1:
        return frame[order]
    kept = frame[order[:top]].copy()
    kept["Other"] = frame[order[top:]].sum(axis=1)
    return kept


def phylum_bars(phylum_abundance: pd.DataFrame, groups: pd.Series, group_order: Sequence[str],
                *, group_means: pd.DataFrame | None = None, top: int = 8) -> Figure:
    """Stacked relative abundance of phyla per sample (ordered by group) and per group mean.

    Samples are sorted by group, then by the most abundant phylum; groups are
    separated by a gap and labelled.  ``group_means`` (phyla × groups) is used
    for the right panel when given, else the means of ``phylum_abundance``.
    """
    if phylum_abundance.empty:
        raise ValidationError("phylum_bars needs a non-empty samples × phyla table")
    shown = _top_columns(phylum_abundance.fillna(0.0), top)
    names = list(shown.columns)
    colours = {p: (OTHER if p == "Other" else PHYLUM_PALETTE[i % len(PHYLUM_PALETTE)])
               for i, p in enumerate(names)}
    labels = groups.reindex(shown.index).astype(object)
    if group_means is None:
        means = shown.groupby(labels.to_numpy()).mean().T
    else:
        means = group_means.reindex(names).fillna(0.0)
        if "Other" in names:
            means.loc["Other"] = 1.0 - means.drop(index="Other").sum(axis=0)
    with style():
        fig = new_figure((10.5, 3.8))
        ax, ax_mean = fig.subplots(1, 2, width_ratios=[5, 1], sharey=True)
        start = 0
        for g in group_order:
            block = shown[(labels == g).to_numpy()]
            block = block.sort_values(names[0], ascending=False, kind="stable")
            n = len(block)
            if n == 0:
                continue
            edges = np.arange(start, start + n + 1, dtype=np.float64)
            bottom = np.zeros(n)
            for p in names:
                top_ = bottom + block[p].to_numpy(dtype=np.float64)
                ax.stairs(top_, edges, baseline=bottom, fill=True, color=colours[p],
                          linewidth=0)
                bottom = top_
            ax.text(start + n / 2, 1.02, f"{text(g)} (n={n})", ha="center", va="bottom",
                    transform=ax.get_xaxis_transform())
            start += n + 1
        ax.set_xlim(0, max(start - 1, 1))
        ax.set_ylim(0, 1)
        ax.set_xticks([])
        ax.set_xlabel("Samples, by group")
        ax.set_ylabel("Relative abundance")
        present = [g for g in group_order if g in means.columns]
        bottom = np.zeros(len(present))
        for p in names:
            vals = means.loc[p, present].to_numpy(dtype=np.float64) if p in means.index else 0
            ax_mean.bar(range(len(present)), vals, bottom=bottom, width=0.8, color=colours[p],
                        label=text(p), linewidth=0)
            bottom = bottom + vals
        ax_mean.set_xticks(range(len(present)), [text(g) for g in present], rotation=30,
                           ha="right")
        ax_mean.set_title("Group mean")
        handles, legend_labels = ax_mean.get_legend_handles_labels()
        fig.legend(handles[::-1], legend_labels[::-1], loc="outside right center",
                   title="Phylum")
    return fig


def forest_plot(da: Any, group_order: Sequence[str], *, q_threshold: float = 0.1,
                top: int = 20, max_rows: int = 40,
                labels: Mapping[str, str] | None = None) -> Figure:
    """Effects (log2 ratio, comparison vs reference) with their intervals.

    Shows the taxa with ``q < q_threshold`` (at most ``max_rows``, smallest
    q first), or the ``top`` taxa by q when none pass; points are coloured by
    the group the taxon is higher in, hollow when ``q >= q_threshold``.
    ``labels`` (taxon → text) replaces the table's ``label`` column.
    """
    table = forest_rows(da.table, q_threshold=q_threshold, top=top, max_rows=max_rows)
    if table.empty:
        raise ValidationError("forest_plot needs a non-empty differential-abundance table")
    table = table.sort_values("effect", kind="stable").reset_index(drop=True)
    colours = group_colours(group_order)
    up = colours.get(str(da.comparison_group), NEUTRAL)
    down = colours.get(str(da.reference_group), NEUTRAL)
    with style():
        fig = new_figure((6.8, 1.3 + 0.24 * len(table)))
        ax = fig.add_subplot()
        y = np.arange(len(table))
        effect = table["effect"].to_numpy(dtype=np.float64)
        low = table["ci_low"].to_numpy(dtype=np.float64)
        high = table["ci_high"].to_numpy(dtype=np.float64)
        sig = table["q"].to_numpy(dtype=np.float64) < q_threshold
        colour = np.where(effect >= 0, up, down)
        ax.hlines(y, low, high, colors=list(colour), linewidth=1.4)
        ax.scatter(effect[sig], y[sig], s=28, c=list(colour[sig]), zorder=3, linewidths=0)
        ax.scatter(effect[~sig], y[~sig], s=28, facecolors="#ffffff",
                   edgecolors=list(colour[~sig]), zorder=3, linewidths=1.2)
        ax.axvline(0, color="#555555", linewidth=0.8)
        names = [(labels or {}).get(str(t), str(lab))
                 for t, lab in zip(table["taxon"], table["label"], strict=True)]
        ax.set_yticks(y, [text(v) for v in names])
        ax.set_ylim(-0.7, len(table) - 0.3)
        ref, comp = text(da.reference_group), text(da.comparison_group)
        ax.set_xlabel(f"log2 ratio {comp} vs {ref}  (← higher in {ref} | higher in {comp} →)")
    return fig


def forest_rows(table: pd.DataFrame, *, q_threshold: float = 0.1, top: int = 20,
                max_rows: int = 40) -> pd.DataFrame:
    """Return the rows a forest plot and its table show (see :func:`forest_plot`)."""
    ordered = table.sort_values("q", kind="stable", na_position="last")
    sig = ordered[ordered["q"] < q_threshold]
    return (sig.head(max_rows) if len(sig) else ordered.head(top)).copy()


def marker_boxplots(values: pd.DataFrame, units: Mapping[str, str], groups: pd.Series,
                    group_order: Sequence[str], *, subtitles: Mapping[str, str] | None = None,
                    seed: int = _JITTER_SEED) -> Figure:
    """One panel per marker, unit on the y axis; log scale past two orders of magnitude.

    ``subtitles`` (marker → text) goes under each panel's title.
    """
    if values.shape[1] == 0:
        raise ValidationError("marker_boxplots needs at least one marker column; got none")
    rng = np.random.default_rng(seed)
    with style():
        fig, axes = grid(values.shape[1], ncols=4, width=2.6)
        for ax, marker in zip(axes, values.columns, strict=True):
            data = _group_values(values[marker], groups, group_order)
            _box_with_points(ax, data, group_order, rng)
            pooled = np.concatenate(data) if data else np.empty(0)
            if pooled.size and pooled.min() > 0 and pooled.max() / pooled.min() > 100:
                ax.set_yscale("log")
            ax.set_ylabel(text(units.get(marker, "")))
            ax.set_title(_title(str(marker), subtitles))
    return fig


def _heatmap(ax: Axes, rho: np.ndarray, q: np.ndarray | None, rows: Sequence[str],
             cols: Sequence[str]) -> Any:
    mesh = ax.pcolormesh(np.ma.masked_invalid(rho), cmap="RdBu_r", vmin=-1, vmax=1,
                         edgecolors="#ffffff", linewidth=0.5)
    for (i, j), r in np.ndenumerate(rho):
        if not np.isfinite(r):
            continue
        star = ""
        if q is not None and np.isfinite(q[i, j]):
            star = "**" if q[i, j] < 0.05 else "*" if q[i, j] < 0.1 else ""
        ax.text(j + 0.5, i + 0.5, f"{r:.2f}{star}", ha="center", va="center", fontsize=7,
                color="#ffffff" if abs(r) > 0.6 else "#000000")
    ax.set_xticks(np.arange(len(cols)) + 0.5, [text(c) for c in cols], rotation=45, ha="right")
    ax.set_yticks(np.arange(len(rows)) + 0.5, [text(r) for r in rows])
    ax.invert_yaxis()
    ax.set_aspect("equal" if len(rows) == len(cols) else "auto")
    for side in ("left", "bottom"):
        ax.spines[side].set_visible(False)
    return mesh


def correlation_heatmaps(correlations: pd.DataFrame, markers: Sequence[str],
                         scopes: Sequence[str]) -> Figure:
    """Marker × marker ρ, one panel per scope (``"pooled"`` then each group).

    Cells are annotated with ρ; ``*`` marks q < 0.1 and ``**`` q < 0.05.
    """
    if correlations.empty or not markers or not scopes:
        raise ValidationError("correlation_heatmaps needs correlations, markers and scopes")
    pos = {str(m): i for i, m in enumerate(markers)}
    k = len(markers)
    with style():
        fig, axes = grid(len(scopes), ncols=3, width=0.55 * k + 1.8, height=0.55 * k + 1.6)
        meshes = []
        for ax, scope in zip(axes, scopes, strict=True):
            rho = np.full((k, k), np.nan)
            q = np.full((k, k), np.nan)
            np.fill_diagonal(rho, 1.0)
            rows = correlations[correlations["scope"].astype(str) == str(scope)]
            for a, b, r, qq in rows[["a", "b", "rho", "q"]].itertuples(index=False):
                if str(a) in pos and str(b) in pos:
                    i, j = pos[str(a)], pos[str(b)]
                    rho[i, j] = rho[j, i] = r
                    q[i, j] = q[j, i] = qq
            meshes.append(_heatmap(ax, rho, q, markers, markers))
            ax.set_title(text(scope))
        fig.colorbar(meshes[0], ax=axes, label="Spearman ρ", shrink=0.8)
    return fig


def marker_taxon_heatmap(associations: pd.DataFrame, *, top: int = 25,
                         markers: Sequence[str] | None = None) -> Figure:
    """Spearman ρ between markers and the ``top`` taxa with the smallest q.

    Cells are annotated with ρ; ``*`` marks q < 0.1 and ``**`` q < 0.05.
    Columns follow ``markers`` (default: their order in ``associations``).
    """
    if associations.empty:
        raise ValidationError("marker_taxon_heatmap needs a non-empty associations table")
    best = associations.sort_values("q", kind="stable", na_position="last")
    taxa = list(dict.fromkeys(best["taxon"].astype(str)))[:top]
    first = associations.drop_duplicates("taxon")
    labels = dict(zip(first["taxon"].astype(str), first["label"].astype(str), strict=True))
    present = list(dict.fromkeys(associations["marker"].astype(str)))
    markers = [m for m in map(str, markers or present) if m in present]
    sub = associations[associations["taxon"].astype(str).isin(taxa)].copy()
    sub["taxon"] = sub["taxon"].astype(str)
    sub["marker"] = sub["marker"].astype(str)
    rho = sub.pivot_table(index="taxon", columns="marker", values="rho", aggfunc="first")
    q = sub.pivot_table(index="taxon", columns="marker", values="q", aggfunc="first")
    rho = rho.reindex(index=taxa, columns=markers)
    q = q.reindex(index=taxa, columns=markers)
    with style():
        fig = new_figure((2.6 + 0.7 * len(markers), 1.4 + 0.26 * len(taxa)))
        ax = fig.add_subplot()
        mesh = _heatmap(ax, rho.to_numpy(dtype=np.float64), q.to_numpy(dtype=np.float64),
                        [str(labels.get(t, t)) for t in taxa], markers)
        fig.colorbar(mesh, ax=ax, label="Spearman ρ", shrink=0.6)
    return fig


def roc_curves(classifiers: Mapping[str, Any]) -> Figure:
    """Mean ROC curve ± one sd per feature set, with the chance line; AUC in the legend.

    Feature sets without a curve (``roc`` is ``None``) are left out; each set
    keeps the colour of its position in ``classifiers``.
    """
    colours = {name: SET_PALETTE[i % len(SET_PALETTE)] for i, name in enumerate(classifiers)}
    curves = {name: c for name, c in classifiers.items() if c.roc is not None and len(c.roc)}
    if not curves:
        raise ValidationError("roc_curves needs at least one classifier with a ROC curve")
    with style():
        fig = new_figure((4.6, 4.2))
        ax = fig.add_subplot()
        ax.plot([0, 1], [0, 1], linestyle="--", color="#999999", linewidth=0.8,
                label="chance")
        for name, res in curves.items():
            colour = colours[name]
            roc = res.roc
            fpr = roc["fpr"].to_numpy(dtype=np.float64)
            mean = roc["tpr_mean"].to_numpy(dtype=np.float64)
            sd = roc["tpr_sd"].to_numpy(dtype=np.float64)
            ax.fill_between(fpr, np.clip(mean - sd, 0, 1), np.clip(mean + sd, 0, 1),
                            color=colour, alpha=0.18, linewidth=0)
            ax.plot(fpr, mean, color=colour, linewidth=1.6,
                    label=f"{text(name)} (AUC {res.auc_mean:.2f} ± {res.auc_sd:.2f})")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.01)
        ax.set_aspect("equal")
        ax.set_xlabel("False positive rate")
        ax.set_ylabel("True positive rate")
        ax.legend(loc="lower right")
    return fig
