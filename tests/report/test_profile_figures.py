"""The profile's figures (gutaxis.report.figures.profile): axes, colours, sizes for print."""

from __future__ import annotations

import numpy as np
from matplotlib.collections import PathCollection
from matplotlib.colors import to_hex

from gutaxis.report.figures import profile as PF


def _panel(label: str, values, *, unit: str = "fraction", threshold=None, previous=None) -> dict:
    return {"label": label, "unit": unit,
            "dates": [f"2026-0{i + 1}-01" for i in range(len(values))],
            "values": list(values), "censored": [None] * len(values),
            "threshold": threshold, "previous": previous}


def test_trend_axes_of_non_negative_measures_start_at_zero():
    # the band previous ± threshold reaches below 0; a share cannot: the axis starts at 0 %
    fig = PF.trends([_panel("Roseburia", [0.0004, 0.00016], threshold=0.054, previous=0.0004),
                     _panel("Shannon entropy", [3.1, 2.3], unit="", threshold=2.3,
                            previous=3.1),
                     _panel("Flat zero", [0.0, 0.0])])
    for ax in fig.axes:
        low, high = ax.get_ylim()
        assert low == 0.0 and high > 0.0, ax.get_title()
        assert all(t >= 0 for t in ax.get_yticks() if low <= t <= high), ax.get_title()
    assert fig.axes[0].get_ylabel() == "%"


def test_trend_axes_of_signed_measures_may_go_below_zero():
    fig = PF.trends([_panel("MD-index", [-4.1, -3.9], unit="", threshold=5.6, previous=-4.1)])
    assert fig.axes[0].get_ylim()[0] < -4.1


def test_many_trend_panels_fit_an_a4_page():
    fig = PF.trends([_panel(f"Butyrate producers (F. prausnitzii, Roseburia, E. rectale) {i}",
                            [0.001, 0.002]) for i in range(16)])
    width, height = fig.get_size_inches()
    assert width <= 7.1 and height <= 7.6  # the A4 page's text area is 7.1 × 10 in
    assert len([ax for ax in fig.axes if ax.get_visible()]) == 16
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert all(max(len(line) for line in t.split("\n")) <= 26 for t in titles), titles


def test_wrap_breaks_long_titles_at_spaces():
    assert PF._wrap("Shannon entropy") == "Shannon entropy"
    assert PF._wrap("Butyrate producers (F. prausnitzii, Roseburia, E. rectale)", 26) == (
        "Butyrate producers (F.\nprausnitzii, Roseburia, E.\nrectale)")


def test_percentile_chart_colours_follow_the_written_status():
    fig = PF.percentile_chart([("F. prausnitzii", 0.0, 0.0, 0.0, "low"),
                               ("Bifidobacterium", 56.0, 41.0, 72.0, "within range")])
    ax = fig.axes[0]
    points = [c for c in ax.collections if isinstance(c, PathCollection)]
    colours = [to_hex(c.get_facecolor()[0]) for c in points]
    assert colours == [PF.STATUS_COLOURS["low"].lower(), PF.STATUS_COLOURS["within"].lower()]
    assert ax.get_xlim()[0] < 0 and ax.get_xlim()[1] > 100  # a point at 0 or 100 is whole
    assert list(np.asarray(ax.get_xticks())) == [0, 25, 50, 75, 100]
    assert [t.get_text() for t in ax.texts] == ["low", "within range"]
