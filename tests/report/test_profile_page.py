"""The patient profile as profile.json, profile.html and profile.pdf (gutaxis.report.profile_page)."""

from __future__ import annotations

import copy
import dataclasses
import html
import json
import math
import re
import sys
import time
from importlib import resources

import jsonschema
import numpy as np
import pypdfium2 as pdfium
import pytest

from builders.html_page import Page
from builders.profile import (
    DISCLAIMER,
    EVIL,
    GMHI_NOTE,
    LEAKY,
    NOT_COMPARABLE_NOTE,
    SHA_LABS,
    SHA_TABLE,
    WARN_RANGE,
    WARN_TAXONOMY,
    make_profile,
)
from gutaxis.exceptions import ToolError
from gutaxis.measures import Measure
from gutaxis.profile import Summary
from gutaxis.report.profile_page import (
    SCHEMA_VERSION,
    SECTIONS,
    profile_document,
    profile_schema,
    render_profile_html,
    write_profile,
)


def read_page(text: str) -> Page:
    """The profile's page, tags read as word breaks (its tables hold inline tags)."""
    return Page(text, word_gaps=True)


#: WeasyPrint warns at import when the system lacks libharfbuzz-subset (it still works);
#: only that warning is ignored, only where WeasyPrint is imported.
WEASYPRINT_IMPORT = pytest.mark.filterwarnings(
    "ignore:HarfBuzz-Subset will be required:DeprecationWarning")

SECTION_IDS = ["summary", "diversity", "composition", "markers", "chain", "options", "followup",
               "provenance"]


@pytest.fixture(scope="module")
def profile():
    return make_profile()


@pytest.fixture(scope="module")
def page_html(profile) -> str:
    return render_profile_html(profile)


@pytest.fixture(scope="module")
def page(page_html) -> Page:
    return read_page(page_html)


@pytest.fixture(scope="module")
def first_visit() -> Page:
    return read_page(render_profile_html(make_profile(with_followup=False)))


# -------------------------------------------------------------------- JSON
def test_document_validates_against_the_schema(profile):
    schema = profile_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    doc = profile_document(profile)
    jsonschema.validate(doc, schema, cls=jsonschema.Draft202012Validator)
    assert doc["schema_version"] == SCHEMA_VERSION == "2.0"
    assert list(doc) == ["schema_version", "patient_id", "sample_id", "created",
                         "gutaxis_version", "reference", "warnings", "summary", "measures",
                         "top_taxa", "chain", "options", "followup", "history", "disclaimer",
                         "provenance"]
    assert doc["patient_id"] == "P-0042"
    assert doc["warnings"][1] == {"code": "taxonomy_mismatch", "message": WARN_TAXONOMY,
                                  "scope": "reference", "blocking": True,
                                  "affects": ["index:md_index"]}
    assert doc["followup"][0]["id"] == "index:shannon_entropy"
    assert doc["followup"][0]["previous_censored"] is None
    assert [m["id"] for m in doc["measures"]] == [m.id for m in profile.measures]
    assert doc["measures"][0] == json.loads(json.dumps(profile.measures[0].to_dict()))
    assert list(doc["options"]) == ["remove", "reinoculate"]
    assert doc["chain"][0]["deciding"][0] == {"measure": "index:shannon_entropy",
                                              "status": "low"}
    assert doc["disclaimer"] == DISCLAIMER
    json.dumps(doc, allow_nan=False)  # JSON-safe


def test_first_visit_document_has_null_followup():
    doc = profile_document(make_profile(with_followup=False))
    assert doc["followup"] is None and doc["history"] == []
    jsonschema.validate(doc, profile_schema(), cls=jsonschema.Draft202012Validator)


def test_nan_becomes_null_and_infinity_text(profile):
    measures = (Measure("index:gmhi", "GMHI", "index", float("nan"), "", "not measured",
                        percentile=float("nan")),
                Measure("index:md_index", "MD-index", "index", float("inf"), "", "high",
                        percentile=99.0, ci_low=97.0, ci_high=100.0),
                *profile.measures[3:])
    p = dataclasses.replace(make_profile(), measures=measures)
    doc = profile_document(p)
    assert doc["measures"][0]["value"] is None and doc["measures"][0]["percentile"] is None
    assert doc["measures"][1]["value"] == "inf"
    jsonschema.validate(doc, profile_schema(), cls=jsonschema.Draft202012Validator)
    json.dumps(doc, allow_nan=False)
    page = read_page(render_profile_html(p))  # an infinite value renders, as ∞
    assert page.tables["index-table"][1][1] == "∞"


def _break(doc: dict, how: str) -> None:
    if how == "no disclaimer":
        del doc["disclaimer"]
    elif how == "bad status":
        doc["measures"][0]["status"] = "abnormal"
    elif how == "percentile over 100":
        doc["measures"][0]["percentile"] = 150.0
    elif how == "unknown link":
        doc["chain"][0]["id"] = "leaky_gut"
    elif how == "unknown step":
        doc["options"]["detox"] = doc["options"].pop("remove")
    elif how == "option without trigger":
        doc["options"]["remove"][0]["triggered_by"] = []
    elif how == "bad hash":
        doc["provenance"]["inputs"][0]["sha256"] = "xyz"
    elif how == "extra measure field":
        doc["measures"][0]["dose"] = "10 mg"
    elif how == "wrong version":
        doc["schema_version"] = "1.0"
    elif how == "bare measure id":
        doc["measures"][0]["id"] = "shannon_entropy"
    elif how == "warning without scope":
        del doc["warnings"][0]["scope"]
    elif how == "warning without message":
        del doc["warnings"][0]["message"]


@pytest.mark.parametrize("how", ["no disclaimer", "bad status", "percentile over 100",
                                 "unknown link", "unknown step", "option without trigger",
                                 "bad hash", "extra measure field", "wrong version",
                                 "warning without message", "bare measure id",
                                 "warning without scope"])
def test_broken_documents_do_not_validate(profile, how):
    doc = copy.deepcopy(profile_document(profile))
    _break(doc, how)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, profile_schema(), cls=jsonschema.Draft202012Validator)


def test_schema_and_template_ship_inside_the_package():
    root = resources.files("gutaxis.report")
    assert (root / "templates" / "profile.html.j2").is_file()
    assert (root / "schemas" / "profile.schema.json").is_file()


def test_a_bare_profile_renders_and_validates():
    bare = dataclasses.replace(make_profile(with_followup=False), alerts=(), measures=(),
                               top_taxa=(), chain=(), options={}, reference_values={},
                               summary=Summary((), ()), provenance={}, reference={},
                               patient_id=None)
    jsonschema.validate(profile_document(bare), profile_schema(),
                        cls=jsonschema.Draft202012Validator)
    p = read_page(render_profile_html(bare))
    assert [i for i in p.ids if i in SECTION_IDS] == SECTION_IDS
    assert p.figures == [] and "key-numbers" not in p.tables
    assert "No finding of this profile points at an option." in p.text("options")
    assert "The chain was not assessed." in p.text("chain")
    assert DISCLAIMER in p.text("options")


# --------------------------------------------------------------- structure
def test_sections_in_order(page):
    assert [i for i in page.ids if i in SECTION_IDS] == SECTION_IDS
    assert [sid for sid, _ in SECTIONS] == SECTION_IDS
    assert len(page.ids) == len(set(page.ids)), "ids must be unique across the page and SVGs"


def test_without_followup_the_section_says_so(first_visit):
    assert [i for i in first_visit.ids if i in SECTION_IDS] == SECTION_IDS
    assert "No previous profile" in first_visit.text("followup")
    assert "followup-table" not in first_visit.tables
    assert "fig-trends" not in [f["id"] for f in first_visit.figures]


def test_every_figure_has_an_svg_and_a_caption(page):
    assert [f["id"] for f in page.figures] == ["fig-ref-index-shannon-entropy", "fig-key-taxa",
                                               "fig-trends"]
    for f in page.figures:
        assert f["svg"] == 1, f["id"]
        caption = " ".join(f["caption"].split())
        assert caption.endswith("."), f["id"]


def test_reference_plot_caption_gives_percentile_and_interval(page):
    caption = " ".join(page.figures[0]["caption"].split())
    assert caption == ("Shannon entropy: distribution in HC-300 (n = 300) with this patient's "
                       "value 2.31 (line); reference percentile 1.7 (95 % CI 0.8–3.9); the band "
                       "shows that interval as reference values; status: low.")


def test_self_contained_no_scripts_no_external_links(page_html, page):
    assert page.tags["script"] == 0 and page.tags["link"] == 0 and page.tags["img"] == 0
    assert page.tags["iframe"] == 0 and page.tags["object"] == 0
    assert all(value.startswith("#") for _, _, value in page.links), page.links
    assert not re.search(r"url\((?!#)", page_html) and "@import" not in page_html
    assert not re.search(r"""(href|src)\s*=\s*["']?\s*(https?:)?//""", page_html, re.I)
    assert page_html.count("<style>") == 1


def test_markup_in_labels_is_escaped():
    text = render_profile_html(make_profile(taxon_label=EVIL))
    assert "<script" not in text
    assert html.escape(EVIL, quote=False) in text
    assert EVIL in read_page(text).column("key-taxa-table")


def test_rendering_is_deterministic(profile, page_html):
    assert render_profile_html(profile) == page_html
    assert render_profile_html(make_profile()) == page_html  # an equal profile built again


# ----------------------------------------------------------------- content
def test_summary_for_patient_and_clinician(page, profile):
    text = page.text("summary")
    for sentence in (*profile.summary.patient, *profile.summary.clinician):
        assert sentence in text
    assert text.index(WARN_RANGE) < text.index(profile.summary.patient[0])  # warnings first
    # every index; key taxa outside the reference's middle; markers with a value
    assert page.column("key-numbers") == ["Shannon entropy", "GMHI", "MD-index",
                                          "Faecalibacterium prausnitzii", "Faecal calprotectin",
                                          "hs-CRP", "LPS", "Zonulin (serum)"]
    assert "Dysbiosis disturbed" in text and "Gut barrier not measured" in text


def test_status_is_written_not_only_coloured(page):
    rows = {r[0]: r for r in page.tables["index-table"]}
    assert rows["Shannon entropy"][4] == "low"
    assert rows["MD-index"][4] == "not comparable"
    assert rows["GMHI"][4] == "not measured"
    assert page.column("markers-inflammation", 4) == [
        "borderline", "within range"]


def test_diversity_table_and_why_not(page):
    rows = {r[0]: r for r in page.tables["index-table"]}
    assert rows["Shannon entropy"][1:4] == ["2.31", "1.7 (95 % CI 0.8–3.9)", "300"]
    assert GMHI_NOTE in rows["GMHI"][5]
    assert NOT_COMPARABLE_NOTE in rows["MD-index"][5]
    assert rows["MD-index"][2] == "–"  # no percentile when not comparable


def test_warnings_are_shown_near_the_affected_measures(page):
    assert WARN_TAXONOMY in page.text("diversity")  # affects md_index only
    assert WARN_TAXONOMY not in page.text("composition")
    assert WARN_RANGE in page.text("composition")  # no `affects`: every reference measure
    assert WARN_RANGE not in page.text("markers")  # markers judged by lab/published ranges
    rows = {r[0]: r for r in page.tables["index-table"]}
    assert "taxonomy mismatch" in rows["MD-index"][5]
    assert "out of reference range" not in rows["GMHI"][5]  # not measured: not affected


def test_composition_tables(page):
    assert page.tables["top-taxa-table"] == [["Bacteroides", "genus", "31.0 %"],
                                             ["Blautia", "genus", "8.0 %"],
                                             ["Roseburia", "genus", "0.04 %"]]
    rows = {r[0]: r for r in page.tables["key-taxa-table"]}
    assert rows["Faecalibacterium prausnitzii"][1:5] == ["0.4 %", "3.2 (95 % CI 1.5–4.6)",
                                                        "300", "low"]


def test_markers_show_value_range_source_and_status(page):
    assert "markers-translocation" in page.tables and "markers-other" in page.tables
    calpro = page.tables["markers-inflammation"][0]
    assert calpro[:2] == ["Faecal calprotectin", "84 ug/g"]
    assert calpro[2] == "up to 50 ug/g (borderline up to 120 ug/g) lab range: adult range"
    assert calpro[3] == "Lab report of 2026-03-01"
    assert "NSAIDs raise calprotectin" in calpro[5]
    crp = page.tables["markers-inflammation"][1]
    assert crp[2].startswith("up to 3 mg/L published cut-off")
    assert crp[3].startswith("Pearson TA")
    assert page.tables["markers-translocation"][0][2] == "0–0.5 EU/mL lab range"
    zonulin = page.tables["markers-other"][0]
    assert zonulin[4] == "not comparable" and "kit's range was not printed" in zonulin[5]


def test_chain_links_with_evidence_and_leaky_gut_statement(page, profile):
    text = page.text("chain")
    for link in profile.chain:
        assert f"link-{link.id}" in page.ids
        for part in (link.explanation, link.unknowns, *link.sources):
            assert part in text
    assert "Dysbiosis disturbed" in text and "Translocation not disturbed" in text
    assert text.count(LEAKY) == 2  # called out at the top, and in the barrier's evidence
    assert text.index(LEAKY) < text.index("Deciding measures")


def test_options_grouped_by_step_with_disclaimer_first(page, profile):
    text = page.text("options")
    assert text.startswith("6. Options to consider " + DISCLAIMER)
    assert ["step-remove", "step-reinoculate"] == [i for i in page.ids if i.startswith("step-")]
    assert ["option-low-fodmap-limited-trial", "option-probiotics-ibs"] == [
        i for i in page.ids if i.startswith("option-")]
    fodmap = profile.options["remove"][0]
    for part in (fodmap.name, fodmap.guideline, fodmap.evidence_summary, fodmap.cautions,
                 fodmap.evidence_level, *fodmap.sources):
        assert part in text
    assert "Dysbiosis (chain link): disturbed; Faecalibacterium prausnitzii: low" in text
    assert DISCLAIMER in page.footer


def test_followup_table_and_trends(page):
    rows = page.tables["followup-table"]
    assert [r[0] for r in rows] == ["Shannon entropy", "Faecal calprotectin", "LPS"]
    assert rows[0][1:6] == ["3.1", "2.31", "-0.79", "1.22", "no"]
    assert rows[1][1:6] == ["20 ug/g", "84 ug/g", "+64 ug/g", "33.3 ug/g", "yes"]
    assert rows[2][5:] == ["n.a.", "no reference distribution for this measure"]


def test_one_trend_panel_per_measure_with_history(page_html):
    svg = re.search(r'<figure id="fig-trends">(.*?)</figure>', page_html, re.S).group(1)
    titles = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    assert [t for t in titles if t in ("Shannon entropy", "Faecal calprotectin", "LPS",
                                        "hs-CRP")] == ["Shannon entropy", "Faecal calprotectin",
                                                       "LPS"]  # hs-CRP has no history


def test_provenance(page):
    text = page.text("provenance")
    assert page.column("input-table", 3) == [SHA_TABLE, SHA_LABS]
    assert "f" * 64 in text and "HC-300" in text
    assert page.tables["knowledge-table"] == [["chain", "2026.11.1"],
                                              ["interventions", "2026.11.1"],
                                              ["markers", "2026.10.2"]]
    assert "gutaxis 0.1.0" in text


def test_pdf_page_carries_a_running_footer(profile):
    pdf_page = read_page(render_profile_html(profile, for_pdf=True))
    assert DISCLAIMER in pdf_page.footer
    assert pdf_page.tags["footer"] == 0  # the running element replaces the page-end footer


# --------------------------------------------------------------------- files
@pytest.fixture(scope="module")
def written(profile, tmp_path_factory):
    out = tmp_path_factory.mktemp("profile")
    start = time.perf_counter()
    paths = write_profile(profile, out)
    return paths, time.perf_counter() - start


@WEASYPRINT_IMPORT
def test_write_profile_writes_three_files(written, profile, page_html):
    paths, _ = written
    assert sorted(paths) == ["html", "json", "pdf"]
    assert [p.name for p in paths.values()] == ["profile.json", "profile.html", "profile.pdf"]
    assert json.loads(paths["json"].read_text("utf-8")) == profile_document(profile)
    assert paths["html"].read_text("utf-8") == page_html


@WEASYPRINT_IMPORT
def test_pdf_renders_and_is_not_blank(written):
    paths, _ = written
    pdf = pdfium.PdfDocument(paths["pdf"])
    try:
        assert len(pdf) >= 2
        image = pdf[0].render(scale=1).to_numpy()
        ink = float((image[..., :3].min(axis=-1) < 245).mean())
        assert 0.01 < ink < 0.9, ink
        text = "\n".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    finally:
        pdf.close()
    for heading in ("Summary", "Options", "Diversity", "Provenance"):
        assert heading in text, heading
    assert "no validated test" in text


@WEASYPRINT_IMPORT
def test_pdf_figures_are_drawn(written):
    """The SVG figures reach the PDF: the reference plot's axis label is on the page."""
    paths, _ = written
    pdf = pdfium.PdfDocument(paths["pdf"])
    try:
        pages = [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]
        page = next(i for i, t in enumerate(pages) if "Reference samples" in t)
        image = pdf[page].render(scale=1).to_numpy()[..., :3]
    finally:
        pdf.close()
    grey = np.all(np.abs(image.astype(int) - 0xBB) < 6, axis=-1)  # the histogram's bars
    assert grey.mean() > 0.002


def test_missing_weasyprint_is_a_tool_error_after_json_and_html(profile, tmp_path,
                                                               monkeypatch):
    monkeypatch.setitem(sys.modules, "weasyprint", None)  # import fails
    with pytest.raises(ToolError, match=r"WeasyPrint.*Pango.*profile\.json and profile\.html "
                                        r"were written"):
        write_profile(profile, tmp_path / "out")
    assert (tmp_path / "out" / "profile.json").is_file()
    assert (tmp_path / "out" / "profile.html").is_file()
    assert not (tmp_path / "out" / "profile.pdf").exists()


@WEASYPRINT_IMPORT
def test_write_profile_without_pdf_needs_no_weasyprint(profile, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "weasyprint", None)
    paths = write_profile(profile, tmp_path, pdf=False)
    assert sorted(paths) == ["html", "json"]
    assert not (tmp_path / "profile.pdf").exists()


@WEASYPRINT_IMPORT
def test_timings_are_reasonable(written):
    _, seconds = written
    assert math.isfinite(seconds) and seconds < 30
