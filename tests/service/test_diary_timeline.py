"""The diary's charts on the timeline: what each SVG draws, checked on its elements."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

from gutaxis.service.diary_timeline import _chart

NS = {"s": "http://www.w3.org/2000/svg"}
D = dt.date(2026, 3, 10)


def _svg(days: dict[dt.date, float], first: dt.date, last: dt.date,
         bands: list[tuple[dt.date, dt.date, str, str]] | None = None,
         marks: list[tuple[dt.date, str]] | None = None) -> ET.Element:
    return ET.fromstring(_chart("Bloating", days, first, last, bands or [], marks or []))


def test_one_scored_day_is_drawn_as_a_point() -> None:
    svg = _svg({D: 6.0}, D, D)
    circles = svg.findall("s:circle", NS)
    assert len(circles) == 1
    # the point sits in the middle of the plot's width, at 6 on a 0–10 axis
    width = float(svg.get("viewBox").split()[2])
    assert abs(float(circles[0].get("cx")) - (30 + (width - 30 - 8) / 2)) < 0.2
    top, bottom_y = 24, 160 - 22
    assert abs(float(circles[0].get("cy")) - (top + (bottom_y - top) * 0.4)) < 0.2
    assert svg.findall("s:polyline", NS) == []


def test_points_in_order_of_day_and_a_line_through_them() -> None:
    days = {D + dt.timedelta(days=2): 2.0, D: 8.0, D + dt.timedelta(days=1): 5.0}
    svg = _svg(days, D, D + dt.timedelta(days=2))
    xs = [float(c.get("cx")) for c in svg.findall("s:circle", NS)]
    assert xs == sorted(xs) and len(xs) == 3
    line = svg.find("s:polyline", NS).get("points").split()
    assert [float(p.split(",")[0]) for p in line] == xs


def test_bands_and_marks_stay_inside_the_plot() -> None:
    first, last = D, D + dt.timedelta(days=9)
    bands = [(D - dt.timedelta(days=30), D - dt.timedelta(days=28), "long ago", ""),
             (D + dt.timedelta(days=8), D + dt.timedelta(days=12), "late", "likely trigger")]
    svg = _svg({D: 1.0, last: 3.0}, first, last, bands)
    rects = svg.findall("s:rect", NS)
    assert len(rects) == 1  # the band wholly before the first day is left out
    x0, w = float(rects[0].get("x")), float(rects[0].get("width"))
    width = float(svg.get("viewBox").split()[2])
    assert 30 < x0 and x0 + w <= width - 8 + 0.1
    # the band covers its two days inside the range: a fifth of the plot's width
    assert abs(w - (width - 38) * 2 / 10) < 0.2


def test_a_band_label_is_cut_to_its_band_with_the_whole_name_as_its_title():
    first, last = D, D + dt.timedelta(days=29)
    name = "Gluten-containing grains"
    bands = [(D + dt.timedelta(days=3), D + dt.timedelta(days=5), name, ""),
             (D + dt.timedelta(days=6), D + dt.timedelta(days=8), "Dairy", "")]
    svg = _svg({D: 1.0, last: 3.0}, first, last, bands)
    labels = svg.findall("s:text", NS)[:2]
    widths = [float(r.get("width")) for r in svg.findall("s:rect", NS)]
    for label, width, whole in zip(labels, widths, (name, "Dairy"), strict=True):
        assert label.find("s:title", NS).text == whole
        assert len(label.find("s:title", NS).tail) * 7.2 <= max(width, 3 * 7.2) + 0.01
    assert labels[0].find("s:title", NS).tail.endswith("…")
