"""The Bristol Stool Form Scale as written for gutaxis: seven types, source, plain language."""

from __future__ import annotations

from importlib import resources

import pytest

from builders.readability import flesch_kincaid_grade, syllables
from gutaxis.exceptions import FormatError, NotFoundError
from gutaxis.knowledge import load_bristol_scale
from gutaxis.questionnaires import bundled_questionnaires

#: The wording of the original chart (Lewis & Heaton 1997, as reproduced on many sites),
#: kept here only to check that our descriptions do not copy it.
ORIGINAL = ["Separate hard lumps, like nuts", "Sausage-shaped but lumpy",
            "Like a sausage but with cracks on its surface", "Like a sausage or snake, smooth "
            "and soft", "Soft blobs with clear-cut edges", "Fluffy pieces with ragged edges, a "
            "mushy stool", "Watery, no solid pieces"]


def test_the_syllable_count_and_grade_on_known_text():
    assert [syllables(w) for w in ["water", "sausage", "easily", "smooth", "like"]] == [
        2, 2, 3, 1, 1]
    # "The cat sat on the mat." — 6 words, 6 syllables, 1 sentence: 0.39*6 + 11.8 - 15.59
    assert flesch_kincaid_grade("The cat sat on the mat.") == pytest.approx(-1.45)


def test_seven_types_in_order_with_the_published_source():
    scale = load_bristol_scale()
    assert [t.type for t in scale.types] == [1, 2, 3, 4, 5, 6, 7]
    assert scale.written_for_gutaxis
    assert scale.source.doi == "10.3109/00365529709011203"
    assert scale.source.pmid == "9299672"
    assert "Scand J Gastroenterol 1997;32(9):920-924" in scale.source.citation
    assert scale.stool_type(7).label == "Watery"
    with pytest.raises(NotFoundError, match=r"stool type.*8"):
        scale.stool_type(8)


def test_the_descriptions_are_our_own_words():
    scale = load_bristol_scale()
    for ours, theirs in zip(scale.types, ORIGINAL, strict=True):
        assert theirs.lower() not in ours.description.lower()
        assert ours.description != theirs


def test_the_descriptions_read_at_about_a_sixth_grade_level():
    scale = load_bristol_scale()
    text = " ".join(f"{t.label}. {t.description}" for t in scale.types)
    grade = flesch_kincaid_grade(text)
    # measured 2.1 when written (the "about" text 4.8); the aim is a 6th-grade level or below
    assert grade <= 6.0, grade
    assert flesch_kincaid_grade(" ".join(scale.about.split())) <= 7.0


def test_the_bundled_questionnaire_shows_exactly_these_descriptions():
    scale = load_bristol_scale()
    item = bundled_questionnaires()["BristolStoolForm"].item("stool_type")
    assert item is not None
    assert [(o.code, o.display, o.score) for o in item.options] == [
        (str(t.type), f"Type {t.type}: {t.label}. {t.description}", float(t.type))
        for t in scale.types]


def test_a_broken_scale_file_is_refused(tmp_path):
    original = resources.files("gutaxis.knowledge").joinpath("bristol.yaml").read_text("utf-8")
    path = tmp_path / "bristol.yaml"
    path.write_text(original.replace("  - type: 7\n", "  - type: 8\n"), encoding="utf-8")
    with pytest.raises(FormatError, match=r"field types\.6\.type: Input should be less than or "
                                          r"equal to 7"):
        load_bristol_scale(path)
    path.write_text(original.replace("  - type: 3\n", "  - type: 4\n", 1), encoding="utf-8")
    with pytest.raises(FormatError, match=r"types must be 1 to 7 in order; got \[1, 2, 4, 4"):
        load_bristol_scale(path)
