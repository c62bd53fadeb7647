"""The shipped taxa catalogue obeys its schema, and every claim has a source."""

from __future__ import annotations

import hashlib
import re
import textwrap
from importlib import resources
from pathlib import Path

import pytest

from gutaxis.exceptions import FormatError
from gutaxis.knowledge import gmhi_species_sets, load_taxa_catalog
from gutaxis.knowledge._taxa import normalise_taxon

FACTS = Path(__file__).parent / "data" / "clinical-facts.md"  # a copy; see data/PROVENANCE.md
#: The GMHI species sets' SHA-256 as the project's data note records them for the authors'
#: files (shared/data/gmhi/SHA256SUMS, from github.com/jaeyunsung/GMHI_2020).
GMHI_SHA256 = {"MH": "90e8fab9a8d80d0365b3515ed7077169d4c1cc85c20c779bc40d210d03a5f9bd",
               "MN": "40e95457bf36f5ff01b9d0b588520b70e26f984ddda2b48cb036efe4163fd5a1"}

#: Identifiers in taxa.yaml that clinical-facts.md does not give, and where each was checked.
LOOKED_UP = {
    "10.3389/fmicb.2017.01765",  # Cani & de Vos 2017: the publisher's page
    "https://pmc.ncbi.nlm.nih.gov/articles/PMC10143502/",  # iMSMS 2022: PubMed Central
    "24021287",  # Machiels 2014: PubMed record of doi 10.1136/gutjnl-2013-304833
    "31182571",  # Henke 2019: PubMed record of doi 10.1073/pnas.1904099116
    "https://github.com/biocore/qiime/pull/2115",  # the QIIME list fix
    "https://github.com/biocore/qiime/commit/f9b4da6647b2c049b9d57e8007e60a5bbf7344ce",
    "https://github.com/jaeyunsung/GMHI_2020",  # named in shared/data/README.md
    "10.1038/s41467-020-18476-8",  # GMHI paper, named in shared/data/README.md
}


def _all_sources(catalog):
    for entry in catalog.taxa:
        for item in [*entry.associations, *entry.findings]:
            yield entry.id, item.sources
    md = catalog.indices.md_index
    yield "md_index", md.sources
    for lists in md.lists:
        yield f"md_index:{lists.id}", lists.sources
    yield "gmhi", catalog.indices.gmhi.sources


def test_every_claim_has_a_source_with_an_identifier():
    catalog = load_taxa_catalog()
    for entry in catalog.taxa:
        assert entry.associations, entry.id
    for where, sources in _all_sources(catalog):
        assert sources, where
        for source in sources:
            assert source.doi or source.pmid or source.url, (where, source.citation)


def test_identifiers_come_from_the_clinical_facts_or_were_looked_up():
    facts = FACTS.read_text(encoding="utf-8")
    for where, sources in _all_sources(load_taxa_catalog()):
        for source in sources:
            for ident in (source.doi, source.pmid, source.url):
                if ident is None or ident in LOOKED_UP:
                    continue
                key = re.sub(r"^https://pmc\.ncbi\.nlm\.nih\.gov/articles/(PMC\d+)/$", r"\1",
                             ident)
                assert key in facts, (where, ident)


def test_unverified_items_are_flagged_and_unidentified_ones_left_out():
    catalog = load_taxa_catalog()
    unverified = [(e.id, a.condition) for e in catalog.taxa for a in e.associations
                  if not a.verified]
    unverified += [(e.id, f.text) for e in catalog.taxa for f in e.findings if not f.verified]
    assert unverified == [("fusobacterium_nucleatum", "colorectal adenoma")]
    adenoma = next(a for a in catalog.get("fusobacterium_nucleatum").associations
                   if not a.verified)
    assert "not verified" in adenoma.sources[0].citation
    text = resources.files("gutaxis.knowledge").joinpath("taxa.yaml").read_text("utf-8")
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    for name in ("Pittayanon", "Azzouz", "Xiong", "Arpaia"):  # [U] with no identifier
        assert name not in body


def test_match_ranks_and_groups():
    catalog = load_taxa_catalog()
    for entry in catalog.taxa:
        if entry.rank == "group":
            assert all(catalog.get(m).rank != "group" for m in entry.members)
        else:
            assert entry.match_ranks()[0] == entry.rank
    assert catalog.get("faecalibacterium_prausnitzii").match_ranks() == ["species", "genus"]
    assert catalog.get("ruminococcus_gnavus").match_ranks() == ["species"]
    assert "mediterraneibacter gnavus" in catalog.get("ruminococcus_gnavus").names_at("species")


def test_normalised_names():
    assert normalise_taxon("s__Faecalibacterium_prausnitzii") == "faecalibacterium prausnitzii"
    assert normalise_taxon("g__Ruminococcus_B") == "ruminococcus"
    assert normalise_taxon("[Ruminococcus]") != normalise_taxon("Ruminococcus")
    assert normalise_taxon("Lachnospiraceae_bacterium_3_1_57FAA_CT1").endswith("57faa ct1")


def test_md_index_lists_and_their_status():
    md = load_taxa_catalog().indices.md_index
    assert md.get(md.default).status == "current"
    assert {entry.id: entry.status for entry in md.lists} == {
        "qiime-1.9.1-dev": "current", "qiime-1.9.1": "withdrawn"}


def test_gmhi_species_sets_match_their_recorded_hashes():
    catalog = load_taxa_catalog()
    for spec in catalog.indices.gmhi.species_sets:
        data = resources.files("gutaxis.knowledge").joinpath(spec.file).read_bytes()
        assert hashlib.sha256(data).hexdigest() == spec.sha256
    sets = gmhi_species_sets()
    assert (len(sets["MH"]), len(sets["MN"])) == (7, 43)
    assert not set(sets["MH"]) & set(sets["MN"])
    for key in ("MH", "MN"):
        shipped = resources.files("gutaxis.knowledge") / "gmhi" / f"{key}_species.txt"
        assert hashlib.sha256(shipped.read_bytes()).hexdigest() == GMHI_SHA256[key]
        assert list(sets[key]) == shipped.read_text("utf-8").split()


_MINIMAL = """\
    schema_version: 1
    version: test
    taxa:
      - id: x
        name: X
        rank: genus
        match: {genus: [X]}
        role: test
        panel: true
        associations:
          - condition: something
            direction: lower
            evidence: a finding
            sources: SOURCES
            verified: true
    indices:
      md_index:
        name: md
        definition: ln ratio
        default: a
        sources: [{citation: Gevers 2014, doi: 10.1016/j.chom.2014.02.005}]
        lists:
          - {id: a, label: a, status: current, rank: genus, increased: [E], decreased: [F],
             sources: [{citation: QIIME, url: "https://example.org"}], verified: true}
      gmhi:
        name: g
        definition: d
        species_sets:
          - {id: MH, label: mh, file: gmhi/MH_species.txt, n: 7, sha256: "HASH_MH"}
          - {id: MN, label: mn, file: gmhi/MN_species.txt, n: 43, sha256: "HASH_MN"}
        sources: [{citation: Gupta 2020, doi: 10.1038/s41467-020-18476-8}]
""".replace("HASH_MH", "0" * 64).replace("HASH_MN", "1" * 64)


def _write(tmp_path, text):
    path = tmp_path / "taxa.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_a_minimal_file_loads(tmp_path):
    good = _MINIMAL.replace("SOURCES", '[{citation: "Someone 2020", pmid: "123"}]')
    catalog = load_taxa_catalog(_write(tmp_path, good))
    assert catalog.get("x").names_at("genus") == {"x"}


@pytest.mark.parametrize("sources, match", [
    ("[]", r"taxa\.0\.associations\.0\.sources"),
    ('[{citation: "Someone 2020"}]', r"needs a doi, pmid or url"),
    ('[{citation: "Someone 2020", doi: "not-a-doi"}]', r"is not a DOI"),
])
def test_an_association_without_a_usable_source_is_refused(tmp_path, sources, match):
    with pytest.raises(FormatError, match=match):
        load_taxa_catalog(_write(tmp_path, _MINIMAL.replace("SOURCES", sources)))


def test_schema_errors_name_the_field(tmp_path):
    good_sources = '[{citation: "Someone 2020", pmid: "123"}]'
    wrong_rank = _MINIMAL.replace("SOURCES", good_sources).replace(
        "match: {genus: [X]}", "match: {family: [X]}")
    with pytest.raises(FormatError, match="must start with the entry's rank"):
        load_taxa_catalog(_write(tmp_path, wrong_rank))
    bad_direction = _MINIMAL.replace("SOURCES", good_sources).replace(
        "direction: lower", "direction: down")
    with pytest.raises(FormatError, match=r"direction"):
        load_taxa_catalog(_write(tmp_path, bad_direction))
    withdrawn_default = _MINIMAL.replace("SOURCES", good_sources).replace(
        "status: current", "status: withdrawn")
    with pytest.raises(FormatError, match="is withdrawn"):
        load_taxa_catalog(_write(tmp_path, withdrawn_default))
