"""Pages opened in the system Chromium (the ``browser`` fixture of ``tests/conftest.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def page_widths(browser: Any, path: Path, width: int) -> dict[str, int]:
    """Open ``path`` in a ``width``-px-wide tab; return the page's scroll and client widths.

    A page that fits has ``scroll <= client``: nothing to scroll sideways.
    """
    tab = browser.new_page(viewport={"width": width, "height": 900})
    try:
        tab.goto(path.as_uri())
        return dict(tab.evaluate("() => ({scroll: document.documentElement.scrollWidth, "
                                 "client: document.documentElement.clientWidth})"))
    finally:
        tab.close()


def table_cell_display(browser: Any, path: Path, width: int) -> set[str]:
    """Return the CSS ``display`` of every data cell of the page's tables at ``width`` px.

    ``{"table-cell"}`` on a wide screen; ``{"block"}`` where the tables turn
    into one card per row (phones).
    """
    tab = browser.new_page(viewport={"width": width, "height": 900})
    try:
        tab.goto(path.as_uri())
        return set(tab.evaluate(
            "() => [...document.querySelectorAll('table.cards td')]"
            ".map(td => getComputedStyle(td).display)"))
    finally:
        tab.close()
