"""Report figures: panels, scales, colours, and the SVG each becomes."""

from __future__ import annotations

import re
import subprocess
import sys
import types

import matplotlib as mpl
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

from builders.report import EVIL, MARKERS
from gutaxis.report import figures as F


def _visible_axes(fig: Figure) -> list:
    return [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]


def _titles(fig: Figure) -> list[str]:
    return [ax.get_title() for ax in _visible_axes(fig)]


# ------------------------------------------------------------------ figures
def test_alpha_one_panel_per_metric_with_subtitles(full):
    fig = F.alpha_boxplots(full.alpha, full.groups, full.group_order,
                           subtitles={"shannon_entropy": "p = 0.400"})
    assert isinstance(fig, Figure)
    assert _titles(fig) == ["Observed features", "Shannon entropy\np = 0.400"]


def test_alpha_points_are_the_samples_in_group_colours(full):
    fig = F.alpha_boxplots(full.alpha, full.groups, full.group_order)
    ax = _visible_axes(fig)[0]
    colours = F.group_colours(full.group_order)
    points = [c for c in ax.collections if len(c.get_offsets())]
    assert [len(c.get_offsets()) for c in points] == [7, 6]
    assert [to_hex(c.get_facecolor()[0]) for c in points] == [colours[g].lower()
                                                              for g in full.group_order]
    # jitter stays within the box's slot and is the same on every call
    again = _visible_axes(F.alpha_boxplots(full.alpha, full.groups, full.group_order))[0]
    for i, (c, d) in enumerate(zip(points, [c for c in again.collections
                                            if len(c.get_offsets())], strict=True)):
        x = c.get_offsets()[:, 0]
        assert np.all(np.abs(x - i) <= 0.18)
        np.testing.assert_array_equal(c.get_offsets(), d.get_offsets())


def test_group_colours_follow_the_order_and_are_colour_blind_safe():
    assert F.group_colours(["b", "a"]) == {"b": "#0072B2", "a": "#E69F00"}
    many = F.group_colours([str(i) for i in range(10)])
    assert many["8"] == many["0"]  # cycled, never an error


def test_pcoa_axes_show_percent_explained(full):
    ordination = full.ordinations["braycurtis"]
    fig = F.pcoa_scatter(ordination, full.groups, full.group_order, metric="braycurtis")
    ax = fig.axes[0]
    pe = 100 * np.asarray(ordination.proportion_explained)
    assert ax.get_xlabel() == f"PC1 ({pe[0]:.1f} %)"
    assert ax.get_ylabel() == f"PC2 ({pe[1]:.1f} %)"
    assert ax.get_title() == "Bray–Curtis"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["control (n=7)", "ME/CFS (n=6)"]


def test_pcoa_with_a_single_axis():
    ordination = types.SimpleNamespace(ids=pd.Index(["a", "b", "c"]),
                                       coordinates=np.array([[1.0], [0.0], [-1.0]]),
                                       proportion_explained=np.array([1.0]))
    groups = pd.Series(["x", "x", "y"], index=["a", "b", "c"])
    fig = F.pcoa_scatter(ordination, groups, ["x", "y"])
    assert fig.axes[0].get_ylabel() == "PC2 (0.0 %)"


def test_phylum_bars_keep_top_phyla_and_label_groups(full):
    fig = F.phylum_bars(full.phylum_abundance, full.groups, full.group_order, top=4)
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    # 11 phyla: the 4 largest by mean, then Other; legend reads top of the stack first
    top4 = full.phylum_abundance.mean().sort_values(ascending=False).index[:4].tolist()
    assert legend == ["Other", *top4[::-1]]
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["control (n=7)", "ME/CFS (n=6)"]
    # one filled step patch per phylum and group, not one rectangle per sample
    assert len(fig.axes[0].patches) == 5 * 2


def test_forest_rows_significant_or_top():
    table = pd.DataFrame({"q": [0.5, 0.01, 0.09, 0.2] + [0.6] * 30})
    assert F.forest_rows(table).index.tolist() == [1, 2]
    none_sig = table.assign(q=table["q"] + 0.1)
    rows = F.forest_rows(none_sig, top=20)
    assert len(rows) == 20 and rows["q"].is_monotonic_increasing


def test_forest_plot_colours_by_direction(full):
    da = full.differential_abundance
    fig = F.forest_plot(da, full.group_order, q_threshold=0.5)
    ax = fig.axes[0]
    colours = F.group_colours(full.group_order)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    rows = F.forest_rows(da.table, q_threshold=0.5).sort_values("effect")
    assert labels == rows["label"].tolist() and EVIL in labels
    lines = ax.collections[0]
    expected = [colours[da.comparison_group] if e >= 0 else colours[da.reference_group]
                for e in rows["effect"]]
    assert [to_hex(c) for c in lines.get_colors()] == [c.lower() for c in expected]
    assert "higher in ME/CFS →" in ax.get_xlabel()


def test_marker_panels_units_and_log_scale(full):
    units = {m: i.unit for m, i in full.markers.info.items()}
    fig = F.marker_boxplots(full.markers.values, units, full.groups, full.group_order)
    axes = _visible_axes(fig)
    assert [ax.get_title() for ax in axes] == list(MARKERS)
    assert [ax.get_ylabel() for ax in axes] == list(MARKERS.values())
    # LPS spans 10**0..10**3.5: log; sCD14 and I-FABP do not
    assert [ax.get_yscale() for ax in axes] == ["log", "linear", "linear"]


def test_correlation_heatmaps_one_panel_per_scope(full):
    scopes = ["pooled", *full.group_order]
    fig = F.correlation_heatmaps(full.marker_correlations, list(MARKERS), scopes)
    axes = _visible_axes(fig)
    assert [ax.get_title() for ax in axes] == scopes
    pooled = full.marker_correlations.query("scope == 'pooled' and a == 'LPS' and b == 'sCD14'")
    rho = float(pooled["rho"].iloc[0])
    annotations = [t.get_text() for t in axes[0].texts]
    assert f"{rho:.2f}**" in annotations  # q = 0.04 < 0.05
    assert annotations.count("1.00") == 3  # the diagonal


def test_marker_taxon_heatmap_top_taxa_by_q(full):
    assoc = full.marker_taxon_associations
    fig = F.marker_taxon_heatmap(assoc, top=5)
    ax = _visible_axes(fig)[0]
    rows = [t.get_text() for t in ax.get_yticklabels()]
    expected = list(dict.fromkeys(assoc.sort_values("q")["label"]))[:5]
    assert rows == expected
    assert [t.get_text() for t in ax.get_xticklabels()] == list(MARKERS)
    order = list(MARKERS)[::-1]
    ax = _visible_axes(F.marker_taxon_heatmap(assoc, top=5, markers=order))[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == order


def test_roc_curves_skip_sets_without_a_curve(full):
    fig = F.roc_curves(full.classifier)
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["chance", "microbiome (AUC 0.75 ± 0.08)", "combined (AUC 0.65 ± 0.08)"]


@pytest.mark.parametrize("call", [
    lambda a: F.alpha_boxplots(a.alpha.iloc[:, :0], a.groups, a.group_order),
    lambda a: F.phylum_bars(a.phylum_abundance.iloc[:0], a.groups, a.group_order),
    lambda a: F.marker_taxon_heatmap(a.marker_taxon_associations.iloc[:0]),
    lambda a: F.roc_curves({}),
])
def test_empty_input_is_refused(full, call):
    with pytest.raises(ValueError, match="needs"):
        call(full)


def test_dollar_signs_are_shown_literally(full):
    values = full.markers.values.rename(columns={"LPS": "$LPS$"})
    fig = F.marker_boxplots(values, {"$LPS$": "pg/mL"}, full.groups, full.group_order)
    svg = F.figure_to_svg(fig, id_prefix="m-")
    assert "$LPS$" in svg


# ---------------------------------------------------------------------- SVG
def test_svg_is_inline_deterministic_and_ids_are_prefixed(full):
    def svg() -> str:
        fig = F.pcoa_scatter(full.ordinations["braycurtis"], full.groups, full.group_order)
        return F.figure_to_svg(fig, id_prefix="fig-a-")

    first = svg()
    assert first == svg()
    assert first.startswith("<svg ") and first.endswith("</svg>")
    assert "<?xml" not in first and "DOCTYPE" not in first and "<metadata" not in first
    ids = re.findall(r'\sid="([^"]*)"', first)
    assert ids and all(i.startswith("fig-a-") for i in ids)
    assert len(ids) == len(set(ids))
    refs = set(re.findall(r'(?:url\(#|href="#)([^)"]*)', first))
    assert refs <= set(ids)  # every reference resolves inside the figure


def test_two_figures_share_no_ids(full):
    a = F.figure_to_svg(F.alpha_boxplots(full.alpha, full.groups, full.group_order),
                        id_prefix="x-")
    b = F.figure_to_svg(F.alpha_boxplots(full.alpha, full.groups, full.group_order),
                        id_prefix="y-")
    ids_a = set(re.findall(r'\sid="([^"]*)"', a))
    ids_b = set(re.findall(r'\sid="([^"]*)"', b))
    assert ids_a and not ids_a & ids_b


def test_svg_escapes_markup_in_labels(full):
    svg = F.figure_to_svg(F.forest_plot(full.differential_abundance, full.group_order),
                          id_prefix="f-")
    assert "<script" not in svg
    assert "Bad&lt;script&gt;alert(1)&lt;/script&gt;taxon" in svg


def test_no_global_matplotlib_state_changes(full):
    before = dict(mpl.rcParams)
    F.figure_to_svg(F.roc_curves(full.classifier), id_prefix="r-")
    assert dict(mpl.rcParams) == before


def test_figures_stay_out_of_pyplot():
    # matplotlib may import pyplot itself (to resolve its default backend), but no
    # report figure may be registered there: the report leaves no figures open.
    code = ("import sys, pandas as pd\n"
            "from matplotlib.backends.backend_agg import FigureCanvasAgg\n"
            "from gutaxis.report import figures as F\n"
            "g = pd.Series(['a', 'b', 'a', 'b'], index=list('wxyz'))\n"
            "alpha = pd.DataFrame({'m': [1.0, 2, 3, 4]}, index=list('wxyz'))\n"
            "fig = F.alpha_boxplots(alpha, g, ['a', 'b'])\n"
            "assert isinstance(fig.canvas, FigureCanvasAgg)\n"
            "F.figure_to_svg(fig, id_prefix='p-')\n"
            "plt = sys.modules.get('matplotlib.pyplot')\n"
            "assert plt is None or plt.get_fignums() == []\n")
    subprocess.run([sys.executable, "-W", "error", "-c", code], check=True)
