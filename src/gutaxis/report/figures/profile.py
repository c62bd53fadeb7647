"""Figures of one patient's profile, as :class:`matplotlib.figure.Figure` objects.

The drawing conventions are those of the cohort report
(:mod:`gutaxis.report.figures.base`): DejaVu Sans, no pyplot, the Okabe–Ito
palette, data text shown literally; :func:`~gutaxis.report.figures.base.figure_to_svg`
turns each figure into inline SVG.

Status is never carried by colour alone: the percentile chart writes the
status next to each row, and the patient's marks are labelled in the legend.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from gutaxis.exceptions import ValidationError
from gutaxis.report.figures.base import GROUP_PALETTE, grid, new_figure, style, text

__all__ = ["STATUS_COLOURS", "reference_distribution", "percentile_chart", "trends"]

_BLUE, _ORANGE, _GREEN, _VERMILLION = (GROUP_PALETTE[0], GROUP_PALETTE[1], GROUP_PALETTE[2],
                                       GROUP_PALETTE[5])
_GREY = "#777777"
_REFERENCE = "#BBBBBB"
_PATIENT = "#000000"
#: Measure status → colour (Okabe–Ito); the status is always written next to it too.
STATUS_COLOURS: dict[str, str] = {
    "low": _BLUE, "high": _VERMILLION, "borderline": _ORANGE, "within": _GREEN,
    "within range": _GREEN, "not comparable": _GREY, "not measured": _GREY,
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
        raise ValidationError(f"reference_distribution needs finite reference values for {label!r}")
    if not math.isfinite(patient):
        raise ValidationError(f"reference_distribution needs a finite patient value; got {patient}")
    lo, hi = float(min(ref.min(), patient)), float(max(ref.max(), patient))
    span = hi - lo or max(abs(hi), 1.0)
    with style():
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
        ax.set_xlabel(text(f"{label} ({unit})" if unit else label))
        ax.set_ylabel("Reference samples")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def percentile_chart(rows: Sequence[tuple[str, float, float | None, float | None, str]]
                     ) -> Figure:
    """Draw the patient's reference percentile with its 95 % interval, one row per measure.

    Parameters
    ----------
    rows : sequence of (label, percentile, ci_low, ci_high, status)
        Percentiles on 0–100; the status (``"low"``, ``"within range"``, …) is
        written at the right of its row and picks the colour.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not rows:
        raise ValidationError("percentile_chart needs at least one row")
    with style():
        fig = new_figure((6.4, 0.9 + 0.32 * len(rows)))
        ax = fig.add_subplot()
        for y, (_, pct, low, high, status) in enumerate(rows):
            colour = STATUS_COLOURS.get(status, _GREY)
            if low is not None and high is not None:
                ax.hlines(y, low, high, color=colour, linewidth=2.2, alpha=0.8)
            ax.scatter([pct], [y], s=30, color=colour, zorder=3, edgecolors=_PATIENT,
                       linewidths=0.6)
            ax.text(1.02, y, text(status), transform=ax.get_yaxis_transform(), va="center",
                    ha="left", fontsize=8, color="#000000")
        for x in (25, 50, 75):
            ax.axvline(x, color="#dddddd", linewidth=0.6, zorder=0)
        ax.set_yticks(range(len(rows)), [text(r[0]) for r in rows])
        ax.set_ylim(len(rows) - 0.5, -0.5)
        ax.set_xlim(-3, 103)  # a point at 0 or 100 is drawn whole
        ax.set_xticks([0, 25, 50, 75, 100])
        ax.set_xlabel("Percentile in the reference cohort")
    return fig


def trends(panels: Sequence[Mapping[str, Any]]) -> Figure:
    """Draw measures across visits, one panel each, the current visit last.

    Parameters
    ----------
    panels : sequence of dict
        ``{"label", "unit", "dates", "values", "censored", "threshold",
        "previous"}``: one label per visit (``"2025-03-01"``), oldest first;
        the value at each visit (None or non-finite values are left out);
        ``censored`` (optional), per visit ``"<"``, ``">"`` or None: a value
        reported only as beyond an assay limit is drawn as an open triangle
        at the limit, pointing the way the true value lies, and not joined to
        the line; with both ``threshold`` and ``previous``, the band
        ``previous ± threshold`` is shaded (a current value inside it is not a
        real change).  Fractions (``unit="fraction"``) are drawn as
        percentages.  Measures that cannot be negative (every value ≥ 0) get
        an axis that starts at 0.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValidationError
        No panel, or a panel whose values do not match its dates.
    """
    if not panels:
        raise ValidationError("trends needs at least one panel")
    with style():
        # four narrow panels a row past three: 16 panels fit an A4 page's width and height
        fig, axes = (grid(len(panels), width=2.3, height=2.1, fixed_margins=True)
                     if len(panels) <= 3 else
                     grid(len(panels), ncols=4, width=1.75, height=1.85, fixed_margins=True))
        for ax, panel in zip(axes, panels, strict=True):
            dates, values = list(panel["dates"]), list(panel["values"])
            censored = list(panel.get("censored") or [None] * len(values))
            if not len(dates) == len(values) == len(censored):
                raise ValidationError(f"trends needs one value per date; got {len(dates)} "
                                      f"dates and {len(values)} values for "
                                      f"{panel['label']!r}")
            scale = 100.0 if panel.get("unit") == "fraction" else 1.0
            shown = [i for i, v in enumerate(values) if v is not None and math.isfinite(v)]
            exact = [i for i in shown if not censored[i]]
            ys = [scale * float(values[i]) for i in exact]
            threshold, previous = panel.get("threshold"), panel.get("previous")
            non_negative = all(float(values[i]) >= 0 for i in shown)
            if threshold is not None and previous is not None:
                low = scale * (previous - threshold)
                ax.axhspan(max(low, 0.0) if non_negative else low,
                           scale * (previous + threshold), color=_REFERENCE, alpha=0.35,
                           linewidth=0)
            ax.plot(exact, ys, color=_BLUE, linewidth=1.2, marker="o", markersize=3.5)
            for i in shown:
                if censored[i]:
                    ax.scatter([i], [scale * float(values[i])], s=42,
                               marker="v" if censored[i] == "<" else "^",
                               facecolors="none", edgecolors=_PATIENT, linewidths=1.1, zorder=3)
            if exact and exact[-1] == len(values) - 1:
                ax.scatter([exact[-1]], [ys[-1]], s=36, color=_PATIENT, zorder=3)
            ax.set_xticks(range(len(dates)), [text(d) for d in dates], rotation=25,
                          ha="right", fontsize=7)
            ax.set_xlim(-0.4, len(dates) - 0.6)
            if non_negative:
                ax.set_ylim(bottom=0.0)
            unit = "%" if scale != 1.0 else str(panel.get("unit") or "")
            ax.set_ylabel(text(unit))
            ax.yaxis.set_major_locator(MaxNLocator(4))
            ax.set_title(text(_wrap(str(panel["label"]), 34 if len(panels) <= 3 else 26)),
                         fontsize=8 if len(panels) <= 3 else 7.5)
    return fig


def _wrap(label: str, width: int = 34, lines: int = 3) -> str:
    """Put long panel titles on up to ``lines`` lines (at spaces)."""
    out: list[str] = []
    while len(label) > width and " " in label[:width + 1] and len(out) < lines - 1:
        cut = label.rindex(" ", 0, width + 1)
        out.append(label[:cut])
        label = label[cut + 1:]
    return "\n".join([*out, label])
