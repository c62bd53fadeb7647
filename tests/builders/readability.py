"""Readability of patient-facing text: the Flesch–Kincaid grade level, and text out of a page.

The grade uses a simple vowel-group syllable count, as common readability tools do;
it is an estimate (Kincaid JP et al., 1975, Naval Technical Training Command
report 8-75).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

__all__ = ["syllables", "flesch_kincaid_grade", "page_sentences"]

#: Elements whose text stands on its own (a heading, a label, a button): one sentence each.
_BLOCKS = {"p", "li", "h1", "h2", "h3", "h4", "label", "button", "td", "th", "legend",
           "summary", "option", "a", "dt", "dd", "section", "div", "form", "fieldset"}


def syllables(word: str) -> int:
    """Count a word's syllables: groups of vowels, a silent final e dropped."""
    word = word.lower()
    count = len(re.findall(r"[aeiouy]+", word))
    if word.endswith("e") and not word.endswith(("le", "ee")) and count > 1:
        count -= 1
    return max(count, 1)


def flesch_kincaid_grade(text: str) -> float:
    """Return the Flesch–Kincaid grade level of ``text``."""
    sentences = [s for s in re.split(r"[.!?:;]+", text) if re.search(r"[A-Za-z]", s)]
    words = re.findall(r"[A-Za-z']+", text)
    total = sum(syllables(w) for w in words)
    return 0.39 * len(words) / len(sentences) + 11.8 * total / len(words) - 15.59


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inside_main = 0
        self.skip = 0
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "main":
            self.inside_main += 1
        if tag in ("script", "style", "svg", "select"):
            self.skip += 1
        if tag in _BLOCKS:
            self.parts.append(". ")

    def handle_endtag(self, tag: str) -> None:
        if tag == "main":
            self.inside_main -= 1
        if tag in ("script", "style", "svg", "select"):
            self.skip -= 1
        if tag in _BLOCKS:
            self.parts.append(". ")

    def handle_data(self, data: str) -> None:
        if self.inside_main and not self.skip:
            self.parts.append(data)


def page_sentences(html: str) -> str:
    """Return the text of a page's ``<main>``, each block element ending a sentence."""
    parser = _Text()
    parser.feed(html)
    return " ".join("".join(parser.parts).split())
