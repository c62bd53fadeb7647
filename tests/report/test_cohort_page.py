"""The HTML report: structure, tables, figures, escaping, skipped steps, determinism."""

from __future__ import annotations

import html
import importlib.metadata
import re
from importlib import resources

import pytest

from builders.browser import page_widths, table_cell_display
from builders.html_page import Page
from builders.report import ALPHA, BETA, EVIL, MARKERS
from gutaxis.report import render_report, write_report
from gutaxis.report.cohort_page import SECTIONS

SECTION_IDS = ["summary", "diversity", "composition", "differential-abundance", "markers",
               "marker-taxon", "classifier", "methods", "provenance"]


@pytest.fixture(scope="module")
def full_html(full) -> str:
    return render_report(full)


@pytest.fixture(scope="module")
def page(full_html) -> Page:
    return Page(full_html)


@pytest.fixture(scope="module")
def bare_page(bare) -> Page:
    return Page(render_report(bare))


# ---------------------------------------------------------------- structure
@pytest.mark.parametrize("which", ["page", "bare_page"])
def test_every_section_is_present_in_order(which, request):
    p = request.getfixturevalue(which)
    assert [i for i in p.ids if i in SECTION_IDS] == SECTION_IDS
    assert [sid for sid, _ in SECTIONS] == SECTION_IDS
    assert len(p.ids) == len(set(p.ids)), "ids must be unique across the page and its SVGs"


def test_every_figure_has_an_svg_and_a_one_line_caption(page):
    ids = [f["id"] for f in page.figures]
    assert ids == ["fig-alpha", "fig-pcoa-braycurtis", "fig-pcoa-jaccard", "fig-phyla",
                   "fig-da", "fig-markers", "fig-marker-correlations", "fig-marker-taxon",
                   "fig-roc"]
    for f in page.figures:
        assert f["svg"] == 1, f["id"]
        caption = f["caption"].strip()
        assert caption and "\n" not in caption, f["id"]


def test_captions_name_the_test(page):
    captions = {f["id"]: f["caption"] for f in page.figures}
    assert captions["fig-pcoa-braycurtis"] == (
        "PCoA of Bray–Curtis distances (n = 13); PERMANOVA pseudo-F 1.92, R² 0.022, "
        "p ≤ 0.001 (999 permutations); PERMDISP F 0.41, p = 0.530.")
    assert "Mann-Whitney U" in captions["fig-alpha"]
    assert "Mann-Whitney U" in captions["fig-markers"]
    assert "Spearman" in captions["fig-marker-taxon"]
    assert captions["fig-da"].startswith("ALDEx2-style CLR Welch test")
    assert "5-fold cross-validation" in captions["fig-roc"]


def test_tables_have_one_row_per_item(page, full):
    assert page.column("alpha-table") == ["Observed features", "Shannon entropy"]
    assert len(page.tables["alpha-table"]) == len(ALPHA)
    assert page.column("beta-table") == ["Bray–Curtis", "Jaccard"]
    assert len(page.tables["beta-table"]) == len(BETA)
    assert page.column("marker-table") == list(MARKERS)
    assert page.column("marker-table", 1) == list(MARKERS.values())
    assert page.column("classifier-table") == ["microbiome", "markers", "combined"]
    assert page.column("input-table", 3) == ["ab" * 32, "cd" * 32]
    assert len(page.tables["correlation-table"]) == len(full.marker_correlations)
    assert len(page.tables["marker-taxon-table"]) == 25
    assert len(page.tables["phylum-table"]) == full.phylum_abundance.shape[1]


def test_table_values_are_formatted(page):
    alpha = page.tables["alpha-table"][0]
    # Metric, median control, median ME/CFS, test, statistic, p, q, effect size
    assert alpha[3:] == ["Mann-Whitney U", "12.5", "0.012", "0.024", "rank-biserial r 0.31"]
    beta = page.tables["beta-table"][0]
    assert beta == ["Bray–Curtis", "13", "1.92", "0.022", "≤ 0.001", "0.41", "0.530", "999"]
    lps = page.tables["marker-table"][0]
    assert lps[2:4] == ["13", "0"]
    assert lps[-6:] == ["Mann-Whitney U", "12.5", "0.004", "0.012", "rank-biserial r 0.31",
                        "ME/CFS"]
    scd14 = page.tables["marker-table"][1]
    assert scd14[3] == "1"  # one missing value
    assert page.tables["classifier-table"][0][3:5] == ["0.7 ± 0.1", "0.75 ± 0.08"]


def test_differential_abundance_lists_significant_taxa(page):
    rows = page.tables["da-table"]
    # q = linspace(0.001, 0.9, 12): the first two are below 0.1
    assert [r[0] for r in rows] == [EVIL, "Genus1"]
    assert rows[0][1:5] == ["-2", "-2.8 to -1.2", "< 0.001", "0.001"]
    assert "2 of 12 taxa with q < 0.1" in page.text("differential-abundance")
    assert "Fernandes et al. (2014)" in page.text("differential-abundance")


def test_differential_abundance_without_hits_shows_the_top_20(make):
    analysis = make()
    da = analysis.differential_abundance
    table = da.table.assign(q=0.5)
    big = table.loc[table.index.repeat(3)].reset_index(drop=True)
    da.table = big  # 36 taxa, none with q < 0.1
    p = Page(render_report(analysis))
    assert len(p.tables["da-table"]) == 20
    assert "No taxon reached q < 0.1" in p.text("differential-abundance")


# --------------------------------------------------------------- self-contained
def test_no_external_resources(full_html, page):
    external = [link for link in page.links
                if re.match(r"\s*(https?:)?//", link[2], flags=re.IGNORECASE)]
    assert external == []
    # in-page anchors, and the colour bars' gradients (PNG embedded in the SVG)
    assert all(value.startswith(("#", "data:image/png;base64,")) for _, _, value in page.links)
    assert page.tags["script"] == 0 and page.tags["link"] == 0 and page.tags["img"] == 0
    assert "@import" not in full_html and not re.search(r"url\((?!#)", full_html)
    assert full_html.count("<style>") == 1  # the page's inline CSS (SVGs carry their own)


def test_markup_in_data_is_escaped(full_html, page):
    assert EVIL not in full_html
    assert html.escape(EVIL, quote=False) in full_html
    assert EVIL in page.column("da-table")  # shown literally after parsing


def test_research_statement_is_visible(page):
    summary = page.text("summary")
    assert "Research report." in summary and "not a diagnosis" in summary


# ------------------------------------------------------------------- skipped
def test_skipped_sections_show_their_reason(bare_page):
    assert "no marker columns given (--markers)" in bare_page.text("markers")
    assert "no marker columns given (--markers)" in bare_page.text("marker-taxon")
    assert "compares two groups; diagnosis has 3" in bare_page.text("differential-abundance")
    assert "not requested (--no-classifier)" in bare_page.text("classifier")
    for section in ("markers", "differential-abundance", "classifier", "marker-taxon"):
        assert "Not run." in bare_page.text(section)
    assert [f["id"] for f in bare_page.figures] == ["fig-alpha", "fig-pcoa-braycurtis",
                                                    "fig-pcoa-jaccard", "fig-phyla"]
    for table in ("marker-table", "da-table", "classifier-table", "marker-taxon-table"):
        assert table not in bare_page.tables


def test_skipped_metric_is_listed_under_diversity(page):
    assert "Faith PD: needs a phylogenetic tree" in page.text("diversity")
    assert "faith_pd: needs a phylogenetic tree" in page.text("summary")


def test_section_without_a_recorded_reason_says_so(make):
    analysis = make(with_classifier=False)
    analysis.skipped.pop("classifier")
    assert "the analysis recorded no reason" in Page(render_report(analysis)).text(
        "classifier").lower()


def test_three_groups(make):
    analysis = make(groups=("a", "b", "c"), n_per_group=(4, 5, 4), with_da=False)
    p = Page(render_report(analysis))
    # metric, three medians, test, statistic, p, q, effect size
    assert len(p.tables["alpha-table"][0]) == 9
    assert [f["id"] for f in p.figures][:2] == ["fig-alpha", "fig-pcoa-braycurtis"]
    assert "a (n = 4), b (n = 5), c (n = 4)" in p.text("summary")


# ------------------------------------------------------------------ methods
def test_methods_paragraph_is_built_from_parameters(page):
    methods = page.text("methods")
    for expected in ("rarefied to 1,000 reads per sample (seed 0)", "999 permutations",
                     "PERMANOVA", "PERMDISP", "128 Monte Carlo samples",
                     "10 × repeated stratified 5-fold cross-validation", "(100 trees)",
                     "Benjamini–Hochberg", "LPS (pg/mL)",
                     f"numpy {importlib.metadata.version('numpy')}"):
        assert expected in methods, expected
    assert page.column("parameter-table")[:2] == ["group_column", "groups"]


def test_provenance_lists_inputs_and_command(page):
    text = page.text("provenance")
    assert "gutaxis analyze table.biom" in text
    assert "2026-01-02T03:04:05+00:00" in text
    assert page.column("input-table", 1) == ["table.biom", "sample-metadata.tsv"]


# ------------------------------------------------------------- determinism
def test_rendering_is_deterministic(full, full_html, make):
    assert render_report(full) == full_html
    assert render_report(make()) == full_html  # an equal analysis built again


def test_write_report(full, full_html, tmp_path):
    path = write_report(full, tmp_path / "report.html")
    assert path == tmp_path / "report.html"
    assert path.read_text(encoding="utf-8") == full_html


def test_template_ships_inside_the_package():
    template = resources.files("gutaxis.report") / "templates" / "report.html.j2"
    assert template.is_file()


def test_cohort_of_90_samples_stays_small(make):
    analysis = make(n_per_group=(45, 45), beta=("braycurtis", "jaccard", "aitchison",
                                                "robust_aitchison", "unweighted_unifrac",
                                                "weighted_unifrac",
                                                "weighted_normalized_unifrac"))
    text = render_report(analysis)
    assert len(Page(text).tables["beta-table"]) == 7
    assert len(text.encode()) < 1_500_000


def test_shared_labels_are_told_apart():
    from gutaxis.report.cohort_page import _display_labels

    erys = "k__Bacteria;p__Firmicutes;c__Erysipelotrichi;o__E;f__Erysipelotrichaceae;g__Clostridium"
    clos = "k__Bacteria;p__Firmicutes;c__Clostridia;o__C;f__Clostridiaceae;g__Clostridium"
    blautia = "k__Bacteria;p__Firmicutes;c__Clostridia;o__C;f__Lachnospiraceae;g__Blautia"
    assert _display_labels([erys, clos, blautia, "LPS"]) == {
        erys: "Clostridium (Erysipelotrichaceae)", clos: "Clostridium (Clostridiaceae)",
        blautia: "Blautia", "LPS": "LPS"}
    # plain ids with the same label: the id is added
    assert _display_labels(["a", "b"], ["x", "x"]) == {"a": "x [a]", "b": "x [b]"}


@pytest.mark.parametrize("width", [390, 1280])
def test_no_horizontal_scrolling_in_a_browser(full_html, browser, tmp_path, width):
    path = tmp_path / "report.html"
    path.write_text(full_html, "utf-8")
    widths = page_widths(browser, path, width)
    assert widths["client"] == width
    assert widths["scroll"] <= widths["client"], widths


def test_tables_become_cards_on_a_phone(full_html, browser, tmp_path):
    """On a phone every row is a card, each cell under its column's name; not on a desktop."""
    path = tmp_path / "report.html"
    path.write_text(full_html, "utf-8")
    assert table_cell_display(browser, path, 390) == {"block"}
    assert table_cell_display(browser, path, 1280) == {"table-cell"}
    assert full_html.count("<td") == full_html.count(" data-label=")  # every cell has a name
