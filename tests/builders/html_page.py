"""A structural reader of the HTML gutaxis writes (cohort report and patient profile).

Shared by tests/report and tests/profile (``pythonpath = ["tests"]`` in pyproject):
ids, section texts, figures with their SVG count and caption, tables by id, every
link-like attribute, and the running footer.
"""

from __future__ import annotations

import collections
from html.parser import HTMLParser

__all__ = ["Page"]


class Page(HTMLParser):
    """What the tests look at: ids, sections, figures, tables, links, text per section."""

    def __init__(self, text: str, *, word_gaps: bool = False) -> None:
        super().__init__(convert_charrefs=True)
        self.word_gaps = word_gaps
        self.ids: list[str] = []
        self.tags: collections.Counter[str] = collections.Counter()
        self.links: list[tuple[str, str, str]] = []
        self.figures: list[dict] = []
        self.tables: dict[str, list[list[str]]] = {}
        self.section_text: dict[str, str] = collections.defaultdict(str)
        self.footer = ""
        self._section: str | None = None
        self._figure: dict | None = None
        self._in_caption = self._in_footer = self._in_body = False
        self._table: str | None = None
        self._cell: list[str] | None = None
        self.feed(text)
        self.close()

    def _gap(self) -> None:
        """With ``word_gaps``, tags separate words (``<td>a</td><td>b</td>`` reads ``a b``)."""
        if self.word_gaps:
            self.handle_data(" ")

    def handle_starttag(self, tag, attrs):
        self._gap()
        a = dict(attrs)
        self.tags[tag] += 1
        if "id" in a:
            self.ids.append(a["id"])
        for name in ("href", "src", "xlink:href", "action", "srcset", "data"):
            if a.get(name):
                self.links.append((tag, name, a[name]))
        if tag == "section":
            self._section = a.get("id")
        elif tag == "footer" or "running-footer" in (a.get("class") or ""):
            self._in_footer = True
        elif tag == "figure":
            self._figure = {"id": a.get("id"), "svg": 0, "caption": ""}
        elif tag == "svg" and self._figure is not None:
            self._figure["svg"] += 1
        elif tag == "figcaption":
            self._in_caption = True
        elif tag == "table" and a.get("id"):
            self._table = a["id"]
            self.tables[self._table] = []
        elif tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body and self._table:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._in_body and self._table:
            self._cell = []

    def handle_endtag(self, tag):
        self._gap()
        if tag == "section":
            self._section = None
        elif tag in ("footer", "div") and self._in_footer:
            self._in_footer = False
        elif tag == "figure":
            self.figures.append(self._figure)
            self._figure = None
        elif tag == "figcaption":
            self._in_caption = False
        elif tag == "tbody":
            self._in_body = False
        elif tag == "table":
            self._table = None
        elif tag in ("td", "th") and self._cell is not None:
            self.tables[self._table][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data):
        if self._in_caption:
            self._figure["caption"] += data
        if self._cell is not None:
            self._cell.append(data)
        if self._in_footer:
            self.footer += data
        if self._section is not None and self._figure is None:
            self.section_text[self._section] += data

    def text(self, section: str) -> str:
        return " ".join(self.section_text[section].split())

    def column(self, table: str, index: int = 0) -> list[str]:
        return [row[index] for row in self.tables[table]]
