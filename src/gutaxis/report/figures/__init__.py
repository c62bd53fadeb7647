"""Figures of the reports: the cohort report's (:mod:`.cohort`) and the profile's (:mod:`.profile`).

Both draw with the conventions of :mod:`.base` (no pyplot, shared palettes,
data text shown literally), and :func:`figure_to_svg` inlines any of them.
"""

from gutaxis.report.figures.base import GROUP_PALETTE, figure_to_svg, group_colours, metric_label
from gutaxis.report.figures.cohort import (
    alpha_boxplots,
    correlation_heatmaps,
    forest_plot,
    forest_rows,
    marker_boxplots,
    marker_taxon_heatmap,
    pcoa_scatter,
    phylum_bars,
    roc_curves,
)
from gutaxis.report.figures.profile import (
    STATUS_COLOURS,
    percentile_chart,
    reference_distribution,
    trends,
)

__all__ = [
    "GROUP_PALETTE", "figure_to_svg", "group_colours", "metric_label",
    "alpha_boxplots", "pcoa_scatter", "phylum_bars", "forest_plot", "forest_rows",
    "marker_boxplots", "correlation_heatmaps", "marker_taxon_heatmap", "roc_curves",
    "STATUS_COLOURS", "reference_distribution", "percentile_chart", "trends",
]
