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
    # synonyms (2026.12.1): each seen where the comment says
    # SILVA 138.1 taxonomy file, genera Escherichia-Shigella, Phocaeicola (Incertae Sedis),
    # Agathobacter: read in this copy (commit 2cd7eaa, file tax_slv_ssu_138.1.txt)
    "https://github.com/metabaRfactory/metabaR_external_data/blob/"
    "2cd7eaa476a7120bb4801553370bb53cca6c3a9e/tax_slv_ssu_138.1.txt",
    "https://drive5.com/usearch/manual/tax_noms.html",  # the page: SILVA's Escherichia-Shigella
    # Garcia-Lopez 2019: DOI, PMC6767994 and PMID 31608019 as cited for P. vulgatus
    "10.3389/fmicb.2019.02083",
    # sourmash doc/command-line.md at this commit: GTDB rs202 lineage of Phocaeicola vulgatus
    "https://github.com/sourmash-bio/sourmash/blob/a99e2d4e1e2c46aadb93ef62d1635c80dc518c9b/"
    "doc/command-line.md",
    "10.1038/s41587-023-01845-1",  # Greengenes2 (Nat Biotechnol record; QIIME 2 forum post)
    "10.1186/s40168-016-0171-4",  # Giloteaux 2016, the bundled study's PROVENANCE.md
    "https://microbewiki.kenyon.edu/index.php/R._gnavus",  # the page (an unapplied synonym)
    "10.1093/nar/gkab776",  # GTDB paper: PubMed 34520557
    "10.1099/ijsem.0.005056",  # Oren & Garrity 2021: cited as the authority of Pseudomonadota
    "http://www.vetbact.org/docid/25",  # the page: Epsilonproteobacteria -> Campylobacterota
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
    for syn in catalog.synonyms:
        for other in syn.names:
            yield f"synonym:{syn.name}:{other.name}", other.sources


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
    entry = catalog.get("ruminococcus_gnavus")
    spelled = {s.name for n in entry.spellings_at("species") for s in catalog.spellings(n,
                                                                                         "species")}
    assert spelled == {"Ruminococcus gnavus", "[Ruminococcus] gnavus"}


def test_normalised_names():
    assert normalise_taxon("s__Faecalibacterium_prausnitzii") == "faecalibacterium prausnitzii"
    # a GTDB suffix is dropped from a species name, kept on a genus: Ruminococcus_B is the
    # Lachnospiraceae genus of R. gnavus in GTDB, not Ruminococcus (Ruminococcaceae)
    assert normalise_taxon("Faecalibacterium prausnitzii_C") == "faecalibacterium prausnitzii"
    assert normalise_taxon("Ruminococcus_B gnavus") == "ruminococcus gnavus"
    assert normalise_taxon("g__Ruminococcus_B") != normalise_taxon("Ruminococcus")
    assert normalise_taxon("p__Firmicutes_A") != normalise_taxon("Firmicutes")
    assert normalise_taxon("[Ruminococcus]") != normalise_taxon("Ruminococcus")
    assert normalise_taxon("Lachnospiraceae_bacterium_3_1_57FAA_CT1").endswith("57faa ct1")


def test_synonyms_per_taxonomy_with_sources():
    catalog = load_taxa_catalog()
    assert catalog.version == "2026.12.2"  # 2026.12.2 added the NCBI taxids
    table = {(syn.name, other.name): (other.taxonomies, other.relation, other.verified)
             for syn in catalog.synonyms for other in syn.names}
    assert table[("Escherichia", "Escherichia-Shigella")] == (["silva"], "wider", True)
    assert table[("Bacteroides", "Phocaeicola")] == (["gtdb", "greengenes2"], "part", True)
    assert table[("Eubacterium rectale", "Agathobacter rectalis")] == (["gtdb"], "same", True)
    assert table[("Ruminococcus gnavus", "[Ruminococcus] gnavus")][2] is True
    # the two spellings no checked source shows are kept for review, not applied
    assert {k[1] for k, v in table.items() if not v[2]} == {"Mediterraneibacter gnavus",
                                                            "[Eubacterium] rectale"}
    assert [s.name for s in catalog.spellings("Ruminococcus gnavus", "species")] == [
        "Ruminococcus gnavus", "[Ruminococcus] gnavus"]
    # prefix, case and "_" do not matter when a name is looked up
    assert [s.name for s in catalog.spellings("g__escherichia", "genus")] == [
        "Escherichia", "Escherichia-Shigella"]
    # a synonym belongs to its rank
    assert [s.name for s in catalog.spellings("Escherichia", "family")] == ["Escherichia"]


def test_a_synonym_with_a_within_condition():
    phocaeicola = load_taxa_catalog().spellings("Bacteroides", "genus")[1]
    assert phocaeicola.allows({"family": "Bacteroidaceae"})
    assert phocaeicola.allows({"family": None})  # a family the table does not name
    assert not phocaeicola.allows({"family": "Bacteroidales Incertae Sedis"})  # SILVA 138.1


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


_SYNONYMS = """\
    synonyms:
      - name: Ea
        rank: genus
        names:
          - {name: Ea-S, taxonomies: [silva], relation: wider, verified: true,
             sources: [{citation: SILVA file, url: "https://example.org"}]}
      - name: Fa
        rank: genus
        names:
          - {name: OTHER, taxonomies: [gtdb], relation: same, verified: true,
             sources: [{citation: GTDB file, url: "https://example.org"}]}
"""


def test_synonyms_are_checked_when_loaded(tmp_path):
    base = _MINIMAL.replace("SOURCES", '[{citation: "Someone 2020", pmid: "123"}]')
    good = load_taxa_catalog(_write(tmp_path, base + _SYNONYMS))
    assert [s.name for s in good.spellings("g__ea", "genus")] == ["Ea", "Ea-S"]
    twice = _SYNONYMS.replace("name: OTHER", "name: Ea-S")
    with pytest.raises(FormatError, match="'Ea-S' .genus. names both 'Ea' and 'Fa'"):
        load_taxa_catalog(_write(tmp_path, base + twice))
    no_source = _SYNONYMS.replace('sources: [{citation: GTDB file, url: "https://example.org"}]',
                                  "sources: []")
    with pytest.raises(FormatError, match=r"synonyms\.1\.names\.0\.sources"):
        load_taxa_catalog(_write(tmp_path, base + no_source))
    unknown = _SYNONYMS.replace("taxonomies: [gtdb]", "taxonomies: [rdp]")
    with pytest.raises(FormatError, match=r"synonyms\.1\.names\.0\.taxonomies"):
        load_taxa_catalog(_write(tmp_path, base + unknown))


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


def test_ncbi_taxids_are_the_ones_seen_in_their_sources():
    """Each id was read next to its name in a public CAMI-format profile (TAXID, TAXPATHSN)."""
    catalog = load_taxa_catalog()
    seen = {t.id: (t.ncbi.taxid, t.ncbi.name) for t in catalog.taxa if t.ncbi}
    assert seen == {
        "faecalibacterium_prausnitzii": ("853", "Faecalibacterium prausnitzii"),
        "roseburia": ("841", "Roseburia"),
        "eubacterium_rectale": ("39491", "[Eubacterium] rectale"),
        "bifidobacterium": ("1678", "Bifidobacterium"),
        "akkermansia_muciniphila": ("239935", "Akkermansia muciniphila"),
        "enterobacteriaceae": ("543", "Enterobacteriaceae"),
        "proteobacteria": ("1224", "Proteobacteria"),
        "ruminococcus_gnavus": ("33038", "[Ruminococcus] gnavus"),
        "fusobacterium_nucleatum": ("851", "Fusobacterium nucleatum"),
    }
    for entry in catalog.taxa:
        if entry.ncbi is not None:
            assert entry.ncbi.source.url.startswith("https://github.com/")
            assert "TAXPATHSN" in entry.ncbi.source.citation
    # not seen with its name in a source we could read: left out, not guessed
    assert catalog.get("prevotella_copri").ncbi is None
    assert catalog.get("butyrate_producers").ncbi is None  # a group
