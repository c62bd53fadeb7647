"""Figures of one patient's profile, as :class:`matplotlib.figure.Figure` objects.

The drawing conventions are those of the cohort report (:mod:`gutaxis.report.figures`):
DejaVu Sans, no pyplot, the Okabe–Ito palette, data text shown literally.
:func:`gutaxis.report.figures.figure_to_svg` turns each figure into inline SVG.

Status is never carried by colour alone: the percentile chart writes the
status next to each row, and the patient's marks are labelled in the legend.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from gutaxis.report.figures import GROUP_PALETTE, _new_figure, _style, _txt

__all__ = ["STATUS_COLOURS", "reference_distribution", "percentile_chart", "trends"]

_BLUE, _ORANGE, _GREEN, _VERMILLION = (GROUP_PALETTE[0], GROUP_PALETTE[1], GROUP_PALETTE[2],
                                       GROUP_PALETTE[5])
_GREY = "#777777"
_REFERENCE = "#BBBBBB"
_PATIENT = "#000000"
#: Measure status → colour (Okabe–Ito); the status is always written next to it too.
STATUS_COLOURS: dict[str, str] = {
    "low": _BLUE, "high": _VERMILLION, "borderline": _ORANGE, "within": _GREEN,
    "not comparable": _GREY, "not measured": _GREY,
}


def _finite(values: Sequence[float] | np.ndarray) -> np.ndarray:
    x = np.asarray(values, dtype=np.float64)
    return x[np.isfinite(x)]


def reference_distribution(values: Sequence[float] | np.ndarray, patient: float, *,
                           label: str, unit: str = "",
                           ci: tuple[float, float] | None = None) -> Figure:
    """Histogram of the reference's values with the patient's value marked.

    Parameters
    ----------
    values : sequence of float
        The reference cohort's values of the measure (non-finite ones are dropped).
    patient : float
        The patient's value.
    label, unit : str
        Axis text.
    ci : (float, float), optional
        The patient's 95 % percentile interval expressed as reference values
        (the reference's quantiles at the interval's ends); drawn as a band.

    Returns
    -------
    matplotlib.figure.Figure
    """
    ref = _finite(values)
    if not ref.size:
        raise ValueError(f"reference_distribution needs finite reference values for {label!r}")
    if not math.isfinite(patient):
        raise ValueError(f"reference_distribution needs a finite patient value; got {patient}")
    lo, hi = float(min(ref.min(), patient)), float(max(ref.max(), patient))
    span = hi - lo or max(abs(hi), 1.0)
    with _style():
        fig = Figure(figsize=(6.0, 2.3))  # fixed margins, no layout engine (faster)
        FigureCanvasAgg(fig)
        fig.subplots_adjust(left=0.62 / 6.0, right=1 - 2.25 / 6.0, bottom=0.5 / 2.3,
                            top=1 - 0.12 / 2.3)
        ax = fig.add_subplot()
        bins = int(np.clip(np.sqrt(ref.size), 8, 30))
        ax.hist(ref, bins=bins, range=(lo - 0.02 * span, hi + 0.02 * span), color=_REFERENCE,
                edgecolor="#ffffff", linewidth=0.4, label=f"reference (n = {ref.size})")
        if ci is not None and all(math.isfinite(c) for c in ci):
            ax.axvspan(min(ci), max(ci), color=_ORANGE, alpha=0.25, linewidth=0,
                       label="95 % interval of the percentile")
        ax.axvline(patient, color=_PATIENT, linewidth=1.8, label="this patient")
        ax.set_xlim(lo - 0.05 * span, hi + 0.05 * span)
        ax.set_xlabel(_txt(f"{label} ({unit})" if unit else label))
        ax.set_ylabel("Reference samples")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def percentile_chart(rows: Sequence[tuple[str, float, float | None, float | None, str]]
                     ) -> Figure:
    """The patient's reference percentile with its 95 % interval, one row per measure.

    Parameters
    ----------
    rows : sequence of (label, percentile, ci_low, ci_high, status)
        Percentiles on 0–100; the status is written at the right of its row.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not rows:
        raise ValueError("percentile_chart needs at least one row")
    with _style():
        fig = _new_figure((6.4, 0.9 + 0.32 * len(rows)))
        ax = fig.add_subplot()
        for y, (_, pct, low, high, status) in enumerate(rows):
            colour = STATUS_COLOURS.get(status, _GREY)
            if low is not None and high is not None:
                ax.hlines(y, low, high, color=colour, linewidth=2.2, alpha=0.8)
            ax.scatter([pct], [y], s=30, color=colour, zorder=3, edgecolors=_PATIENT,
                       linewidths=0.6)
            ax.text(1.02, y, _txt(status), transform=ax.get_yaxis_transform(), va="center",
                    ha="left", fontsize=8, color="#000000")
        for x in (25, 50, 75):
            ax.axvline(x, color="#dddddd", linewidth=0.6, zorder=0)
        ax.set_yticks(range(len(rows)), [_txt(r[0]) for r in rows])
        ax.set_ylim(len(rows) - 0.5, -0.5)
        ax.set_xlim(0, 100)
        ax.set_xlabel("Percentile in the reference cohort (point) with 95 % interval (bar)")
    return fig


def trends(panels: Sequence[Mapping[str, Any]]) -> Figure:
    """Measures across visits, one panel each, the current visit last.

    Parameters
    ----------
    panels : sequence of dict
        ``{"label", "unit", "dates", "values", "threshold", "previous"}``:
        one label per visit (``"2025-03-01"``), oldest first; the value at
        each visit (None or non-finite values are left out); with both
        ``threshold`` and ``previous``, the band ``previous ± threshold`` is
        shaded (a current value inside it is not a real change).  Fractions
        (``unit="fraction"``) are drawn as percentages.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not panels:
        raise ValueError("trends needs at least one panel")
    with _style():
        fig, axes = _panel_grid(len(panels))
        for ax, panel in zip(axes, panels, strict=True):
            dates, values = list(panel["dates"]), list(panel["values"])
            if len(dates) != len(values):
                raise ValueError(f"trends needs one value per date; got {len(dates)} dates "
                                 f"and {len(values)} values for {panel['label']!r}")
            scale = 100.0 if panel.get("unit") == "fraction" else 1.0
            xs = [i for i, v in enumerate(values) if v is not None and math.isfinite(v)]
            ys = [scale * float(values[i]) for i in xs]
            threshold, previous = panel.get("threshold"), panel.get("previous")
            if threshold is not None and previous is not None:
                ax.axhspan(scale * (previous - threshold), scale * (previous + threshold),
                           color=_REFERENCE, alpha=0.35, linewidth=0)
            ax.plot(xs, ys, color=_BLUE, linewidth=1.2, marker="o", markersize=3.5)
            if xs and xs[-1] == len(values) - 1:
                ax.scatter([xs[-1]], [ys[-1]], s=36, color=_PATIENT, zorder=3)
            ax.set_xticks(range(len(dates)), [_txt(d) for d in dates], rotation=25,
                          ha="right", fontsize=7)
            ax.set_xlim(-0.4, len(dates) - 0.6)
            unit = "%" if scale != 1.0 else str(panel.get("unit") or "")
            ax.set_ylabel(_txt(unit))
            ax.yaxis.set_major_locator(MaxNLocator(4))
            ax.set_title(_txt(_wrap(str(panel["label"]))), fontsize=8)
    return fig


def _panel_grid(n: int, *, ncols: int = 3, width: float = 2.3,
                height: float = 2.1) -> tuple[Figure, list[Axes]]:
    """``n`` panels on a fixed grid (no layout engine: many small panels draw much faster)."""
    cols = max(1, min(ncols, n))
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(width * cols, height * rows))
    FigureCanvasAgg(fig)
    fig.subplots_adjust(left=0.62 / (width * cols), right=1 - 0.12 / (width * cols),
                        bottom=0.62 / (height * rows), top=1 - 0.36 / (height * rows),
                        wspace=0.42, hspace=1.0)
    axes = list(fig.subplots(rows, cols, squeeze=False).ravel())
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[:n]


def _wrap(text: str, width: int = 34) -> str:
    """Long panel titles on two lines (at a space)."""
    if len(text) <= width or " " not in text[:width]:
        return text
    cut = text.rindex(" ", 0, width)
    return text[:cut] + "\n" + text[cut + 1:]
