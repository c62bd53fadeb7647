"""Drawing conventions shared by every figure of gutaxis: the cohort report's and the profile's.

Figures are :class:`matplotlib.figure.Figure` objects on their own Agg canvas;
nothing goes through :mod:`matplotlib.pyplot`, so no figure or setting is
left behind in global state.  :func:`figure_to_svg` turns a Figure into an
inline ``<svg>`` element, the same bytes on every run.  Fonts are DejaVu Sans
(shipped with matplotlib, so the layout is the same everywhere).  Groups keep
one colour across all figures (:func:`group_colours`, from the Okabe–Ito
palette [1]_); phyla and feature sets use Paul Tol's colour-blind-safe
palettes [2]_.  Text from the data (taxon, marker, group names) is shown
literally (:func:`text`).

References
----------
.. [1] Okabe, M. & Ito, K. (2008). Color Universal Design (CUD): how to make
   figures and presentations that are friendly to colorblind people.
   https://jfly.uni-koeln.de/color/
.. [2] Tol, P. (2021). Colour schemes. SRON technical note SRON/EPS/TN/09-002.
   https://personal.sron.nl/~pault/
"""

from __future__ import annotations

import contextlib
import io
import math
import re
from collections.abc import Iterator, Sequence
from typing import Any, cast

import matplotlib as mpl
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = ["GROUP_PALETTE", "PHYLUM_PALETTE", "SET_PALETTE", "OTHER", "NEUTRAL", "style",
           "text", "metric_label", "group_colours", "figure_to_svg", "new_figure", "grid"]

#: Okabe–Ito, black last; cycled beyond eight groups.
GROUP_PALETTE: tuple[str, ...] = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9",
                                  "#D55E00", "#F0E442", "#000000")
#: Tol "muted", for phyla; "Other" is grey.
PHYLUM_PALETTE = ("#332288", "#88CCEE", "#44AA99", "#117733", "#999933", "#DDCC77",
                   "#CC6677", "#882255", "#AA4499")
OTHER = "#DDDDDD"
#: Tol "bright", for classifier feature sets.
SET_PALETTE = ("#4477AA", "#EE6677", "#228833", "#CCBB44", "#66CCEE", "#AA3377", "#BBBBBB")
NEUTRAL = "#777777"

_METRIC_LABELS = {
    "observed_features": "Observed features", "shannon_entropy": "Shannon entropy",
    "simpson": "Simpson", "chao1": "Chao1", "pielou_evenness": "Pielou evenness",
    "faith_pd": "Faith PD", "braycurtis": "Bray–Curtis", "jaccard": "Jaccard",
    "aitchison": "Aitchison", "robust_aitchison": "Robust Aitchison",
    "unweighted_unifrac": "Unweighted UniFrac", "weighted_unifrac": "Weighted UniFrac",
    "weighted_normalized_unifrac": "Weighted normalized UniFrac",
}

_RC: dict[str, Any] = {
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],  # ships with matplotlib: same layout everywhere
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.fonttype": "none",  # text stays text: small, searchable, no glyph ids
    "svg.hashsalt": "gutaxis-report",
}



@contextlib.contextmanager
def style() -> Iterator[None]:
    """Draw with the report's settings (fonts, sizes, SVG text), restored afterwards.

    Yields
    ------
    None
    """
    with mpl.rc_context(cast(Any, _RC)):
        yield


def text(value: Any) -> str:
    r"""Return data text to show literally (``$`` would start mathtext).

    Parameters
    ----------
    value : object

    Returns
    -------
    str

    Examples
    --------
    >>> print(text("cost $5"))
    cost \$5
    """
    return str(value).replace("$", r"\$")


def metric_label(name: str) -> str:
    """Return the display name of a diversity metric (``"braycurtis"`` → ``"Bray–Curtis"``).

    Parameters
    ----------
    name : str

    Returns
    -------
    str
    """
    return _METRIC_LABELS.get(name, name.replace("_", " "))


def group_colours(group_order: Sequence[str]) -> dict[str, str]:
    """Return group → colour, by position in ``group_order`` (the same in every figure).

    Parameters
    ----------
    group_order : sequence of str

    Returns
    -------
    dict of str to str
    """
    return {str(g): GROUP_PALETTE[i % len(GROUP_PALETTE)] for i, g in enumerate(group_order)}


# ----------------------------------------------------------------------- SVG
_ID = re.compile(r'\sid="([^"]*)"')
_REF = re.compile(r'(url\(#|href="#)([^)"]*)')


def figure_to_svg(fig: Figure, *, id_prefix: str) -> str:
    """Return ``fig`` as an ``<svg>`` element to inline in HTML, identical on every run.

    The XML prolog and metadata are dropped, ids that nothing refers to are
    removed and the others prefixed with ``id_prefix``, so that several
    figures can share one HTML document without clashing ids.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    id_prefix : str

    Returns
    -------
    str
    """
    buffer = io.StringIO()
    with style():
        fig.savefig(buffer, format="svg",
                    metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg"):].strip()
    referenced = {m.group(2) for m in _REF.finditer(svg)}
    svg = _ID.sub(lambda m: f' id="{id_prefix}{m.group(1)}"' if m.group(1) in referenced else "",
                  svg)
    svg = _REF.sub(lambda m: f"{m.group(1)}{id_prefix}{m.group(2)}", svg)
    return svg.replace("<svg ", '<svg role="img" ', 1)


# ---------------------------------------------------------------- canvases
def new_figure(size: tuple[float, float]) -> Figure:
    """Return a Figure on its own Agg canvas (never registered with pyplot), laid out.

    Parameters
    ----------
    size : (float, float)
        Width and height in inches.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def grid(n: int, *, ncols: int = 3, width: float = 3.0, height: float = 2.8,
         fixed_margins: bool = False) -> tuple[Figure, list[Axes]]:
    """Return a figure with ``n`` panels, ``ncols`` to a row (extra cells hidden).

    Parameters
    ----------
    n : int
    ncols : int, default 3
    width, height : float
        Size of one panel, in inches.
    fixed_margins : bool, default False
        False: laid out by matplotlib's layout engine (:func:`new_figure`).
        True: fixed margins, no layout engine — much faster, for pages that
        draw many small panels.

    Returns
    -------
    (Figure, list of Axes)
    """
    cols = max(1, min(ncols, n))
    rows = max(1, math.ceil(n / cols))
    if fixed_margins:
        fig = Figure(figsize=(width * cols, height * rows))
        FigureCanvasAgg(fig)
        fig.subplots_adjust(left=0.62 / (width * cols), right=1 - 0.12 / (width * cols),
                            bottom=0.62 / (height * rows), top=1 - 0.36 / (height * rows),
                            wspace=0.42, hspace=1.0)
    else:
        fig = new_figure((width * cols, height * rows))
    axes = list(fig.subplots(rows, cols, squeeze=False).ravel())
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[:n]


