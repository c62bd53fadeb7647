"""The shipped marker catalogue obeys its schema, and every entry has a source."""

from __future__ import annotations

import textwrap

import pytest
import yaml

from gutaxis.exceptions import FormatError
from gutaxis.knowledge import load_marker_catalog
from gutaxis.knowledge._markers import normalise_name
from gutaxis.markers import parse_unit


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
