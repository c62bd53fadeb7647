"""The patient profile as profile.json, profile.html and profile.pdf (report.profile_page)."""

from __future__ import annotations

import copy
import dataclasses
import html
import itertools
import json
import re
import sys
import time
from importlib import resources

import jsonschema
import numpy as np
import pypdfium2 as pdfium
import pytest

from builders.browser import page_widths, table_cell_display
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
from gutaxis.knowledge import load_chain, load_interventions
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

#: What every page says it is, under the title, in the patient's part and in the footer.
NOTICE = " ".join(load_chain().profile_notice.split())

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
    assert doc["schema_version"] == SCHEMA_VERSION == "2.3"
    assert list(doc) == ["schema_version", "patient_id", "sample_id", "created", "visit_date",
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
    # the patient's block first, then the warnings, then what the clinician reads
    assert text.index(profile.summary.patient[-1]) < text.index(WARN_RANGE)
    assert text.index(WARN_RANGE) < text.index("For the clinician")
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
                 *fodmap.sources):
        assert part in text
    # the evidence level in words, with what it means in the knowledge base
    levels = load_interventions().evidence_levels
    assert fodmap.evidence_level.replace("-", " ") in text
    assert " ".join(levels[fodmap.evidence_level].split()) in text
    assert "Dysbiosis (chain link): disturbed; Faecalibacterium prausnitzii: low" in text
    assert NOTICE in " ".join(page.footer.split())


def test_followup_table_and_trends(page):
    rows = page.tables["followup-table"]
    assert [r[0] for r in rows] == ["Shannon entropy", "Faecal calprotectin", "LPS"]
    assert rows[0][1:6] == ["3.1", "2.31", "-0.79", "1.22", "no"]
    assert rows[1][1:6] == ["20 ug/g", "84 ug/g", "+64 ug/g", "33.3 ug/g", "yes"]
    assert rows[2][5:] == ["n.a.", "no reference distribution for this measure"]


def test_one_trend_panel_per_measure_with_history(page_html):
    svg = re.search(r'<figure id="fig-trends"[^>]*>(.*?)</figure>', page_html, re.S).group(1)
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
    assert NOTICE in " ".join(pdf_page.footer.split())
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



# ------------------------------------------------------------- patient block
def _for_you(page_html: str) -> str:
    block = re.search(r'<div class="for-you"[^>]*>(.*?)</div>', page_html, re.S)
    assert block is not None, "the patient's block is missing"
    return block.group(1)


def test_patient_block_comes_first_and_holds_plain_sentences_only(page_html, profile):
    summary = page_html[page_html.index('<section id="summary">'):]
    # right after the section's heading: before any warning, table or clinician text
    assert summary.index('class="for-you"') < summary.index('class="warning"')
    assert summary.index('class="for-you"') < summary.index("For the clinician")
    block = _for_you(page_html)
    assert re.findall(r"<h(\d)[^>]*>(.*?)</h\1>", block) == [("3", "For you")]
    sentences = re.findall(r"<p>(.*?)</p>", block)
    assert [html.unescape(s) for s in sentences] == list(profile.summary.patient)
    # nothing else but a pointer to the warnings: no codes, tables, statuses or measure ids
    words = " ".join(re.sub(r"<[^>]+>", " ", html.unescape(block)).split())
    for jargon in ("[", "percentile", "index:", "taxon:", "marker:", "status", "CI"):
        assert jargon not in words.replace(" ".join(profile.summary.patient), ""), jargon
    assert "<table" not in block and 'class="status' not in block
    assert 'aria-labelledby="for-you-heading"' in page_html


def test_the_page_says_it_supports_and_does_not_replace_a_clinician(page_html):
    """Under the title, at the end of the patient's block, and in the footer."""
    def text(part: str) -> str:
        return " ".join(re.sub(r"<[^>]+>", " ", html.unescape(part)).split())

    header = page_html[page_html.index("<header>"):page_html.index("</header>")]
    assert NOTICE in text(header)
    assert text(_for_you(page_html)).endswith(NOTICE)
    assert text(page_html[page_html.index('<footer class="page-footer"'):]).startswith(NOTICE)
    assert "does not replace, a clinician's judgement" in NOTICE


def test_patient_block_without_warnings_has_no_pointer(profile):
    text = render_profile_html(dataclasses.replace(profile, alerts=()))
    assert "warning" not in _for_you(text).lower()


# ------------------------------------------------------------------ wording
def test_percentile_at_the_ends_reads_as_words(profile):
    shannon = dataclasses.replace(profile.measures[0], percentile=0.0, ci_low=0.0, ci_high=0.0)
    p = dataclasses.replace(profile, measures=(shannon, *profile.measures[1:]))
    page = read_page(render_profile_html(p))
    rows = {r[0]: r for r in page.tables["key-numbers"]}
    assert rows["Shannon entropy"][2] == "below every reference sample"
    assert page.tables["index-table"][0][2] == "below every reference sample"
    caption = " ".join(page.figures[0]["caption"].split())
    assert caption == ("Shannon entropy: distribution in HC-300 (n = 300) with this patient's "
                       "value 2.31 (line), below every reference sample; status: low.")


def _with_paths(profile):
    """The test profile with input paths in its notes, as the commands write them."""
    gmhi = dataclasses.replace(profile.measures[1], notes=(
        "not applicable: /home/ana/study/data/table.biom is not a species-level profile: "
        "90 of 139 features have no species assignment",))
    zonulin = dataclasses.replace(profile.measures[8], notes=(
        "data/labs/LABS.csv: line 5: reported as 61 ng/mL",))
    measures = list(profile.measures)
    measures[1], measures[8] = gmhi, zonulin
    provenance = copy.deepcopy(dict(profile.provenance))
    provenance["inputs"][0]["path"] = "/home/ana/study/data/table.biom"
    provenance["inputs"][1]["path"] = "data/labs/LABS.csv"
    return dataclasses.replace(profile, measures=tuple(measures), provenance=provenance)


def test_notes_show_file_names_not_directory_paths(profile):
    p = _with_paths(profile)
    page = read_page(render_profile_html(p))
    gmhi = {r[0]: r for r in page.tables["index-table"]}["GMHI"]
    assert gmhi[5] == ("not applicable: table.biom is not a species-level profile: 90 of 139 "
                       "features have no species assignment")
    zonulin = page.tables["markers-other"][0]
    assert zonulin[5].startswith("LABS.csv: line 5: reported as 61 ng/mL")
    for sid in SECTION_IDS[:-1]:  # only the provenance names where the inputs were
        assert "/home/ana" not in page.text(sid) and "data/labs" not in page.text(sid), sid
    assert page.column("input-table", 1) == ["/home/ana/study/data/table.biom",
                                             "data/labs/LABS.csv"]
    doc = profile_document(p)  # profile.json keeps what the profile holds
    assert "/home/ana/study/data/table.biom" in doc["measures"][1]["notes"][0]


def test_slashes_that_are_not_paths_are_kept(profile):
    crp = dataclasses.replace(profile.measures[6], notes=(
        "0.21 mg/dL = 2.1 mg/L; AHA/ CDC 2003; doi:10.1161/01.CIR.0000052939.59093.45",))
    p = dataclasses.replace(profile, measures=(*profile.measures[:6], crp,
                                               *profile.measures[7:]))
    row = read_page(render_profile_html(p)).tables["markers-inflammation"][1]
    assert row[5].startswith(crp.notes[0])


# -------------------------------------------------- measured, not comparable
@pytest.fixture(scope="module")
def not_comparable_link(profile):
    chain = list(profile.chain)
    chain[1] = dataclasses.replace(
        chain[1], status="not comparable", not_comparable=("marker:zonulin_serum",),
        explanation="Measured, not comparable: Zonulin (serum) could not be placed.")
    return render_profile_html(dataclasses.replace(profile, chain=tuple(chain)))


def test_measured_not_comparable_link_is_shown_as_such(not_comparable_link):
    page = read_page(not_comparable_link)
    for sid in ("summary", "chain"):  # the chain's boxes, in both places
        assert "Gut barrier measured, not comparable" in page.text(sid)
        assert "Gut barrier not measured" not in page.text(sid)
    boxes = re.findall(r'<span class="link-box ([^"]+)"><span class="link-label">([^<]+)<',
                       not_comparable_link)
    assert boxes[:4] == [("st-disturbed", "Dysbiosis"), ("st-not-comparable", "Gut barrier"),
                         ("st-not-disturbed", "Translocation"),
                         ("st-not-disturbed", "Inflammation")]
    detail = page.text("chain")
    assert "Gut barrier: measured, not comparable" in detail
    assert "Measured, not comparable Zonulin (serum): not comparable" in detail


def _css_rule(text: str, selector: str) -> str:
    match = re.search(re.escape(selector) + r"\s*\{([^}]*)\}", text)
    assert match is not None, selector
    return match.group(1)


def test_not_comparable_box_is_dashed_like_not_measured_but_another_colour(page_html):
    comparable = _css_rule(page_html, "ol.chain .link-box.st-not-comparable")
    measured = _css_rule(page_html, "ol.chain .link-box.st-not-measured")
    assert "dashed" in comparable and "dashed" in measured
    colour = re.compile(r"#[0-9a-f]{6}")
    assert colour.findall(comparable) != colour.findall(measured)


# -------------------------------------------------- phone width, accessibility
def test_page_is_built_to_fit_a_phone(page_html):
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page_html
    # every data table scrolls inside its own container, never the whole page
    tables = re.findall(r'(<div class="scroll"[^>]*>\s*)?<table id="([^"]+)"', page_html)
    assert tables and all(wrapper for wrapper, _ in tables), tables
    # the chain is a list of boxes (they stack on a narrow screen), not a table row
    assert "chain-row" not in page_html and page_html.count('<ol class="chain"') == 2
    phone = page_html[page_html.index("@media screen and (max-width: 640px)"):]
    assert "ol.chain { flex-direction: column; }" in phone


@WEASYPRINT_IMPORT
def test_tables_become_cards_on_a_phone(written, browser):
    """Measures, markers, follow-up and inputs: one card per row on a phone."""
    paths, _ = written
    assert table_cell_display(browser, paths["html"], 390) == {"block"}
    assert table_cell_display(browser, paths["html"], 1280) == {"table-cell"}


@pytest.mark.parametrize("width", [390, 1280])
def test_no_horizontal_scrolling_in_a_browser(written, browser, width):
    paths, _ = written
    widths = page_widths(browser, paths["html"], width)
    assert widths["client"] == width
    assert widths["scroll"] <= widths["client"], widths


def test_accessibility_basics(page_html, page):
    headings = [int(h) for h in re.findall(r"<h([1-6])[ >]", page_html)]
    assert headings[0] == 1 and headings.count(1) == 1
    assert all(b <= a + 1 for a, b in itertools.pairwise(headings)), headings  # none skipped
    th = re.findall(r"<th\b[^>]*>", page_html)
    assert th and all(re.search(r'scope="(col|row)"', t) for t in th), th
    # every figure is named by its caption
    for f in page.figures:
        assert (f'<svg role="img" aria-labelledby="{f["id"]}-caption"' in page_html
                and f'<figcaption id="{f["id"]}-caption">' in page_html), f["id"]
    # every status pill and chain box says its status in words
    pills = re.findall(r'<span class="(?:status|link-box) st-[^"]*">(?:<span[^>]*>[^<]*</span>'
                       r'<br><span class="link-status">)?([^<]*)<', page_html)
    assert pills and all(p.strip() for p in pills)


# --------------------------------------------------------------------- print
#: Where the running footer starts, in PDF points above the page's bottom edge: the text
#: below it must be the footer's and the page number's only.
_FOOTER_TOP = 66.0
#: Above this is the page's content (the bottom margin is 27 mm, about 76.5 pt).
_CONTENT_BOTTOM = 70.0


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _pdf_pages(path) -> list[tuple[str, str]]:
    """Per page: (the content's text, the text in the footer's band)."""
    pdf = pdfium.PdfDocument(path)
    try:
        out = []
        for i in range(len(pdf)):
            text = pdf[i].get_textpage()
            out.append((text.get_text_bounded(bottom=_CONTENT_BOTTOM),
                        text.get_text_bounded(top=_FOOTER_TOP)))
        return out
    finally:
        pdf.close()


@WEASYPRINT_IMPORT
def test_pdf_page_one_holds_both_summaries_and_the_key_numbers(written, profile):
    paths, _ = written
    pages = _pdf_pages(paths["pdf"])
    first = _squash(pages[0][0])
    for text in (*profile.summary.patient, *profile.summary.clinician, "Key numbers",
                 "For you", "For the clinician", "The chain", WARN_RANGE):
        assert _squash(text) in first, text
    for label in read_page(render_profile_html(profile)).column("key-numbers"):
        assert _squash(label) in first, label


@WEASYPRINT_IMPORT
def test_pdf_is_short(written):
    paths, _ = written
    assert len(_pdf_pages(paths["pdf"])) <= 6  # a page for each section was 10


def _many_trends(n_extra: int = 12):
    """The test patient with a history of ``n_extra`` more markers (15 trend panels)."""
    from gutaxis.measures import RangeUsed
    base = make_profile()
    extra = tuple(Measure(f"marker:m{i:02d}", f"Marker {i:02d} of the research panel", "marker",
                          10.0 + i, "ng/mL", "within",
                          range_used=RangeUsed("lab", 0.0, 50.0, "Lab report"))
                  for i in range(n_extra))
    history = tuple({**h, "values": {**h["values"],
                                      **{m.id: 8.0 + k for k, m in enumerate(extra)}}}
                    for h in base.history)
    return dataclasses.replace(base, measures=(*base.measures, *extra), history=history)


@pytest.fixture(scope="module")
def many_trends_pdf(tmp_path_factory):
    profile = _many_trends()
    out = tmp_path_factory.mktemp("trends")
    write_profile(profile, out)
    return profile, read_page(render_profile_html(profile)), _pdf_pages(out / "profile.pdf")


@WEASYPRINT_IMPORT
def test_pdf_keeps_figures_with_their_captions(many_trends_pdf):
    profile, page, pages = many_trends_pdf
    captions = {f["id"]: _squash(f["caption"]) for f in page.figures}
    assert "fig-trends" in captions
    for content, _ in pages:  # no page holds only (a piece of) a caption
        body = _squash(content)
        assert body and not any(body in c for c in captions.values()), content[:200]
    # the trend panels (the last one too) are on the page of their caption
    on_page = next(_squash(c) for c, _ in pages if captions["fig-trends"][:60] in _squash(c))
    assert _squash("Marker 11 of the research panel") in on_page
    assert _squash("Shannon entropy") in on_page


@WEASYPRINT_IMPORT
def test_pdf_footer_band_holds_only_the_footer(many_trends_pdf, written):
    for pages, sample in ((many_trends_pdf[2], "S-0003"), (_pdf_pages(written[0]["pdf"]),
                                                            "S-0003")):
        for number, (_, band) in enumerate(pages, 1):
            # the PDF's text comes out in layout order (the page number sits on the right):
            # each part whole, and nothing else in the band
            parts = [NOTICE, f"· {sample} · gutaxis 0.1.0", f"Page {number} of {len(pages)}"]
            squashed = _squash(band)
            assert all(_squash(p) in squashed for p in parts), band
            assert len(squashed) == sum(len(_squash(p)) for p in parts), band


def test_trends_are_split_into_figures_that_fit_a_page():
    page = read_page(render_profile_html(_many_trends(n_extra=20)))  # 23 panels
    trends = [f for f in page.figures if f["id"].startswith("fig-trends")]
    assert [f["id"] for f in trends] == ["fig-trends", "fig-trends-2"]
    assert " ".join(trends[1]["caption"].split()).startswith("(2 of 2) Each measure")


def test_the_pdf_fetches_nothing_outside_its_page(tmp_path):
    # the pictures are data: URLs; a file or a server named in the HTML is not read
    import base64
    import zlib

    from gutaxis.report.profile_page import _pdf

    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(
            4, "big")

    def png() -> bytes:  # one red pixel
        row = b"\x00\xff\x00\x00"
        return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", (1).to_bytes(4, "big") * 2
                                             + b"\x08\x02\x00\x00\x00")
                + chunk(b"IDAT", zlib.compress(row)) + chunk(b"IEND", b""))

    picture = tmp_path / "on-disk.png"
    picture.write_bytes(png())
    embedded = "data:image/png;base64," + base64.b64encode(png()).decode()
    for src, images in ((picture.as_uri(), 0), (embedded, 1)):
        out = tmp_path / "p.pdf"
        _pdf(f'<p>x</p><img src="{src}" width="20" height="20">', out)
        document = pdfium.PdfDocument(out)
        page = document[0]
        found = sum(1 for obj in page.get_objects() if obj.type == pdfium.raw.FPDF_PAGEOBJ_IMAGE)
        page.close()
        document.close()
        assert found == images, src
