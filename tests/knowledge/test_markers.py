"""The shipped marker catalogue obeys its schema, and every entry has a source."""

from __future__ import annotations

import re
import textwrap

import pytest
import yaml

from gutaxis.exceptions import FormatError
from gutaxis.knowledge import load_marker_catalog
from gutaxis.knowledge._markers import LINKS, normalise_name
from gutaxis.markers import conversion_factor, parse_unit


def test_every_marker_entry_has_a_source_with_an_identifier():
    catalog = load_marker_catalog()
    assert catalog.markers, "the catalogue is empty"
    for entry in catalog.markers:
        assert entry.sources, entry.id
        for source in entry.sources:
            assert source.doi or source.pmid or source.url, (entry.id, source.citation)


def test_units_of_the_catalogue_parse_and_match_ucum_codes():
    for entry in load_marker_catalog().markers:
        unit = parse_unit(entry.unit)
        if entry.ucum is not None:
            assert parse_unit(entry.ucum).factor == pytest.approx(unit.factor)
        for alias, alias_unit in entry.alias_units.items():
            assert alias in entry.aliases
            parse_unit(alias_unit)


def test_the_bundled_studys_columns_resolve_with_their_units():
    catalog = load_marker_catalog()
    expected = {"LPSpgml": ("lps", "pg/mL"), "LBPugml": ("lbp", "ug/mL"),
                "sCD14ugml": ("scd14", "ug/mL"), "IFABPpgml": ("ifabp", "pg/mL")}
    for column, (marker_id, unit) in expected.items():
        entry, carried = catalog.find(column)
        assert (entry.id, carried) == (marker_id, unit)


def test_alias_matching_ignores_case_and_separators():
    assert normalise_name("I-FABP") == normalise_name("i_fabp") == "ifabp"
    assert load_marker_catalog().find("hs crp")[0].id == "hscrp"
    assert load_marker_catalog().find("not a marker") is None


def _write(tmp_path, text):
    path = tmp_path / "m.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


_ENTRY = """\
    schema_version: 1
    version: test
    markers:
      - id: x
        name: X
        full_name: X marker
        specimen: serum
        unit: ng/mL
        ucum: ng/mL
        loinc: null
        aliases: [X]
        indicates: something
        caveats: none
        evidence: research
        sources: SOURCES
"""


def test_an_entry_without_a_source_is_refused(tmp_path):
    path = _write(tmp_path, _ENTRY.replace("SOURCES", "[]"))
    with pytest.raises(FormatError, match=r"markers\.0\.sources"):
        load_marker_catalog(path)


def test_a_source_without_identifier_or_with_a_bad_doi_is_refused(tmp_path):
    no_id = _write(tmp_path, _ENTRY.replace("SOURCES", "[{citation: Somebody 2020}]"))
    with pytest.raises(FormatError, match="needs a doi, pmid or url"):
        load_marker_catalog(no_id)
    bad_doi = _write(tmp_path, _ENTRY.replace(
        "SOURCES", "[{citation: Somebody 2020, doi: 'doi.org/123'}]"))
    with pytest.raises(FormatError, match="is not a DOI"):
        load_marker_catalog(bad_doi)


def test_a_duplicate_alias_across_entries_is_refused(tmp_path):
    text = _ENTRY.replace("SOURCES", "[{citation: Somebody 2020, pmid: '123'}]")
    raw = yaml.safe_load(textwrap.dedent(text))
    twin = dict(raw["markers"][0], id="y", name="Y")
    raw["markers"].append(twin)
    path = tmp_path / "twin.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(FormatError, match="names both x and y"):
        load_marker_catalog(path)


def test_invalid_yaml_names_the_file(tmp_path):
    path = _write(tmp_path, "markers: [unclosed")
    with pytest.raises(FormatError, match="m.yaml: not valid YAML"):
        load_marker_catalog(path)


# --- links, cut-offs, LOINC check digits --------------------------------------------------

def loinc_check_digit(body: str) -> int:
    """The LOINC Mod 10 check digit of the digits before the hyphen.

    LOINC Users' Guide: counting from the right, the digits in odd positions
    (1st, 3rd, ...) are joined into a number that is doubled; the digits in
    even positions are appended to the result; the digits of that string are
    summed; the check digit is what brings the sum up to the next multiple of
    ten (0 when it already is one).
    """
    digits = body[::-1]
    doubled = str(2 * int(digits[0::2][::-1]))
    total = sum(int(d) for d in doubled + digits[1::2])
    return (10 - total % 10) % 10


def loinc_is_valid(code: str) -> bool:
    match = re.fullmatch(r"(\d+)-(\d)", code)
    return bool(match) and loinc_check_digit(match.group(1)) == int(match.group(2))


@pytest.mark.parametrize("code", ["38445-3", "30522-7", "1988-5", "25907-7"])
def test_the_loinc_check_digit_accepts_the_codes_seen_in_lab_catalogues(code):
    assert loinc_is_valid(code)


@pytest.mark.parametrize("code", ["38445-4", "30522-1", "1988-0", "25907-2", "38445", "3844-53"])
def test_the_loinc_check_digit_refuses_a_wrong_digit_or_shape(code):
    assert not loinc_is_valid(code)


def test_every_loinc_of_the_catalogue_has_a_valid_check_digit():
    codes = {e.id: e.loinc for e in load_marker_catalog().markers if e.loinc}
    assert codes == {"calprotectin": "38445-3", "hscrp": "30522-7", "elastase": "25907-7"}
    for marker_id, code in codes.items():
        assert re.fullmatch(r"\d+-\d", code), marker_id
        assert loinc_is_valid(code), (marker_id, code)


def test_the_markers_of_clinical_facts_section_1_are_catalogued_with_a_link():
    catalog = load_marker_catalog()
    links = {e.id: e.link for e in catalog.markers}
    assert links == {
        "lps": "translocation", "lbp": "translocation", "scd14": "translocation",
        "ifabp": "barrier", "zonulin_serum": "barrier", "zonulin_stool": "barrier",
        "lactulose_mannitol": "barrier", "calprotectin": "inflammation",
        "lactoferrin": "inflammation", "hscrp": "inflammation", "hbd2": "inflammation",
        "siga": "mucosal_immunity", "dao": "digestion", "elastase": "digestion"}
    assert set(links.values()) <= set(LINKS)


def test_every_cutoff_has_a_source_with_an_identifier_and_a_unit_that_converts():
    for entry in load_marker_catalog().markers:
        for cut in entry.cutoffs:
            src = cut.source
            assert src.doi or src.pmid or src.url, (entry.id, cut.label)
            assert cut.identifier.startswith(("doi:", "pmid:", "http")), cut.identifier
            parse_unit(cut.unit)
            assert conversion_factor(cut.unit, entry.unit) > 0, (entry.id, cut.label)
            if cut.low is not None and cut.high is not None:
                assert cut.low < cut.high, (entry.id, cut.label)
            if cut.borderline_low is not None:
                assert cut.borderline_low < cut.borderline_high, (entry.id, cut.label)


def test_cutoffs_only_from_verified_sources_and_one_default_per_marker():
    for entry in load_marker_catalog().markers:
        for cut in entry.cutoffs:
            assert cut.verified, (entry.id, cut.label)  # only [V] numbers are shipped
        if entry.cutoffs:
            assert sum(c.default for c in entry.cutoffs) == 1, entry.id
            assert entry.default_cutoff is not None and entry.default_cutoff.default


def test_markers_without_a_published_interval_have_no_cutoffs():
    catalog = load_marker_catalog()
    flagged = {e.id for e in catalog.markers if e.no_reference_interval}
    assert flagged == {"lps", "scd14", "ifabp", "zonulin_serum", "zonulin_stool",
                       "lactulose_mannitol", "hbd2", "siga"}
    for entry in catalog.markers:
        if entry.no_reference_interval:
            assert entry.cutoffs == [] and entry.default_cutoff is None


# Each shipped cut-off against its published wording, at and around every bound.
@pytest.mark.parametrize("marker, label, expected", [
    ("calprotectin", "Mayo Clinic Laboratories CALPR",
     {49.9: "within", 50: "within", 50.1: "borderline", 120: "borderline", 120.1: "high"}),
    ("calprotectin", "Michigan Medicine Laboratories FCPR (Inova QUANTA Flash CLIA)",
     {49.9: "within", 50: "borderline", 119.9: "borderline", 120: "high"}),
    ("calprotectin", "Parkview Laboratories CAPF (PETIA)",
     {79.9: "within", 80: "borderline", 160: "borderline", 160.1: "high"}),
    ("calprotectin", "AGA 2023 biomarkers in ulcerative colitis",
     {149.9: "within", 150: "within", 150.1: "high"}),
    ("lactoferrin", "Mayo Clinic Laboratories LCTF (ELISA)",
     {4.4: "within", 4.5: "high"}),
    ("hscrp", "AHA/CDC 2003 (cardiovascular risk)",
     {0.5: "within", 3: "within", 3.1: "high", 12: "high"}),
    ("hscrp", "Mayo Clinic Laboratories HSCRP", {1.9: "within", 2.0: "high"}),
    ("dao", "Manufacturer's cut-offs (as used by van Odijk 2023 and Arih 2023)",
     {2.9: "low", 3: "borderline", 10: "borderline", 10.1: "within"}),
    ("elastase", "AGA Clinical Practice Update 2023",
     {99: "low", 100: "borderline", 200: "borderline", 201: "within"}),
])
def test_cutoffs_place_values_as_their_wording_says(marker, label, expected):
    entry = load_marker_catalog().find(marker)[0]
    cut = next(c for c in entry.cutoffs if c.label == label)
    assert {v: cut.classify(v) for v in expected} == expected


def test_the_default_cutoffs_are_the_documented_ones():
    defaults = {e.id: e.default_cutoff.label for e in load_marker_catalog().markers
                if e.default_cutoff}
    assert defaults == {
        "calprotectin": "Mayo Clinic Laboratories CALPR",
        "lactoferrin": "Mayo Clinic Laboratories LCTF (ELISA)",
        "hscrp": "AHA/CDC 2003 (cardiovascular risk)",
        "dao": "Manufacturer's cut-offs (as used by van Odijk 2023 and Arih 2023)",
        "elastase": "AGA Clinical Practice Update 2023"}


_CUTOFF = {"label": "Some lab", "wording": "<10 normal", "unit": "ng/mL", "high": 10,
           "population": "adults", "verified": True, "default": True,
           "source": {"citation": "Some lab catalogue", "url": "https://example.org/x"}}


def _with(tmp_path, **changes):
    raw = yaml.safe_load(textwrap.dedent(_ENTRY.replace(
        "SOURCES", "[{citation: Somebody 2020, pmid: '123'}]")))
    raw["markers"][0].update(changes)
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def test_an_entry_without_the_new_fields_still_loads(tmp_path):
    entry = load_marker_catalog(_with(tmp_path)).markers[0]
    assert (entry.link, entry.no_reference_interval, entry.cutoffs) == (None, False, [])


@pytest.mark.parametrize("changes, message", [
    ({"link": "dysbiosis"}, r"markers\.0\.link"),
    ({"cutoffs": [dict(_CUTOFF, source={"citation": "Some lab catalogue"})]},
     "needs a doi, pmid or url"),
    ({"cutoffs": [dict(_CUTOFF, low=10)]}, r"low \(10\.0\) must be below high"),
    ({"cutoffs": [dict(_CUTOFF, high=None)]}, "needs low, high or both"),
    ({"cutoffs": [dict(_CUTOFF, borderline_low=5)]}, "give both borderline_low"),
    ({"cutoffs": [dict(_CUTOFF, borderline_low=5, borderline_high=12)]},
     "band ends above high"),
    ({"cutoffs": [_CUTOFF, dict(_CUTOFF, label="Other lab")]}, "exactly one cut-off"),
    ({"cutoffs": [dict(_CUTOFF, default=False)]}, "exactly one cut-off"),
    ({"cutoffs": [_CUTOFF], "no_reference_interval": True},
     "no_reference_interval is true but cutoffs"),
    ({"cutoffs": [dict(_CUTOFF, high=-1)]}, "greater than or equal to 0"),
])
def test_a_malformed_cutoff_or_link_is_refused(tmp_path, changes, message):
    with pytest.raises(FormatError, match=message):
        load_marker_catalog(_with(tmp_path, **changes))
