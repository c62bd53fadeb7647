"""The cohort report: a self-contained HTML page with inline SVG figures.

Public names: :func:`write_report` and :func:`render_report` (the page),
the figure functions of :mod:`gutaxis.report.figures` (each returns a
:class:`matplotlib.figure.Figure`) and :func:`figure_to_svg`.
"""

from gutaxis.report.figures import (
    alpha_boxplots,
    correlation_heatmaps,
    figure_to_svg,
    forest_plot,
    group_colours,
    marker_boxplots,
    marker_taxon_heatmap,
    pcoa_scatter,
    phylum_bars,
    roc_curves,
)
from gutaxis.report.html import format_p, render_report, write_report

__all__ = [
    "write_report",
    "render_report",
    "format_p",
    "figure_to_svg",
    "group_colours",
    "alpha_boxplots",
    "pcoa_scatter",
    "phylum_bars",
    "forest_plot",
    "marker_boxplots",
    "correlation_heatmaps",
    "marker_taxon_heatmap",
    "roc_curves",
]
