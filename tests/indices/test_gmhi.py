"""GMHI against the authors' output, and the cases where it does not apply."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gutaxis import RANKS, Study
from gutaxis.exceptions import InputError
from gutaxis.indices import NotApplicableError, compute_indices, gmhi, gmhi_values
from gutaxis.io import read_table
from gutaxis.knowledge import gmhi_species_sets

DATA = Path(__file__).parent / "data"
PROFILE = DATA / "example_species_relative_abundances.csv"
OUTPUT = DATA / "example_GMHI_output.csv"
TOLERANCE = 1e-9

MH = gmhi_species_sets()["MH"]
MN = gmhi_species_sets()["MN"]


@pytest.fixture(scope="module")
def expected() -> pd.Series:
    frame = pd.read_csv(OUTPUT, index_col=0, encoding="utf-8-sig")
    return frame["GMHI"]


def _check(result: pd.Series, expected: pd.Series) -> None:
    assert result.index.tolist() == expected.index.tolist()  # all 25 samples, same order
    assert len(result) == 25
    diff = (result - expected).abs()
    assert diff.max() <= TOLERANCE, diff.sort_values().tail()


def test_the_input_starts_with_a_byte_order_mark():
    assert PROFILE.read_bytes()[:3] == b"\xef\xbb\xbf"
    frame = pd.read_csv(PROFILE, index_col=0, encoding="utf-8-sig")
    assert frame.index.name == "Species"
    assert frame.shape == (576, 25)


def test_matches_the_authors_output_through_read_table(expected):
    study = read_table(PROFILE)  # detected as a merged MetaPhlAn table despite the BOM
    assert study.provenance[0]["format"] == "metaphlan"
    _check(gmhi(study), expected)


def test_matches_the_authors_output_through_the_plain_table_reader(expected):
    study = read_table(PROFILE, format="tsv")  # no taxonomy: the s__ ids are parsed
    assert study.taxonomy is None
    _check(gmhi(study), expected)


def test_matches_the_authors_output_from_a_plain_dataframe(expected):
    frame = pd.read_csv(PROFILE, index_col=0, encoding="utf-8-sig")
    _check(gmhi(frame), expected)  # the authors' layout: species × samples
    _check(gmhi(frame.T), expected)  # samples × species
    _check(gmhi(frame / 100.0), expected)  # fractions instead of percent


def test_samples_with_neither_set_are_exactly_zero(expected):
    result = gmhi(read_table(PROFILE))
    assert expected[["Sample19", "Sample20"]].tolist() == [0.0, 0.0]
    assert result[["Sample19", "Sample20"]].tolist() == [0.0, 0.0]
    assert result.name == "gmhi" and result.index.name == "sample_id"
    # the authors' 0 is the pseudocount's log10(1e-5 / 1e-5): no species of either set
    present = result.attrs["species_present"]
    at = [list(result.index).index(s) for s in ("Sample19", "Sample20")]
    assert [present["MH"][i] for i in at] == [0, 0] and [present["MN"][i] for i in at] == [0, 0]
    others = [i for i in range(25) if i not in at]
    assert all(present["MH"][i] + present["MN"][i] > 0 for i in others)


def test_compute_indices_says_not_computable_where_the_authors_print_0(expected):
    frame, notes = compute_indices(read_table(PROFILE))
    status = dict(zip(frame.index, frame.attrs["status"]["gmhi"], strict=True))
    zero = sorted(expected.index[expected == 0.0])  # the authors' output: Sample19, Sample20
    assert zero == ["Sample19", "Sample20"]
    assert sorted(s for s, st in status.items() if st == "not computable") == zero
    assert frame.loc[zero, "gmhi"].isna().all()
    computed = [s for s in expected.index if s not in zero]
    assert all(status[s] == "computed" for s in computed)
    np.testing.assert_allclose(frame.loc[computed, "gmhi"], expected[computed], atol=TOLERANCE)
    assert "not computable in 2 of 25 sample(s): Sample19, Sample20" in notes["gmhi"]
    assert notes["gmhi"].startswith("GMHI species found in the table: MH 7/7, MN 42/43")


def test_a_gtdb_species_name_is_found_under_its_suffix():
    # R. gnavus (health-scarce) written as GTDB-Tk writes it; the value is the hand formula
    assert "s__Ruminococcus_gnavus" in MN
    frame = pd.DataFrame({"S": [30.0, 10.0, 60.0]},
                         index=[MH[0], "s__Ruminococcus_B_gnavus", "s__Prevotella_copri"])
    psi_mh = (1 / 7) * -(0.3 * math.log(0.3))
    psi_mn = (1 / 31) * -(0.1 * math.log(0.1))
    result = gmhi(frame)
    assert result.iloc[0] == pytest.approx(math.log10((psi_mh + 1e-5) / (psi_mn + 1e-5)),
                                           rel=1e-14)
    assert result.attrs["found"]["MN"] == {"found": 1, "of": 43,
                                           "as": {"s__Ruminococcus_gnavus":
                                                  ["Ruminococcus_B_gnavus"]}}


def test_spellings_of_one_species_are_summed_in_a_frame():
    # Greengenes' [Ruminococcus] gnavus and MetaPhlAn's s__Ruminococcus_gnavus: one species
    frame = pd.DataFrame({"S": [30.0, 4.0, 6.0, 60.0]},
                         index=[MH[0], "s__Ruminococcus_gnavus", "s__[Ruminococcus]_gnavus",
                                "s__Prevotella_copri"])
    joined = gmhi_values(np.array([[30.0, 10.0, 60.0]]),
                         [MH[0], "s__Ruminococcus_gnavus", "s__Prevotella_copri"])
    assert gmhi(frame).iloc[0] == pytest.approx(joined[0], rel=1e-14)


def test_hand_computed_value():
    # MH: two species at 0.3 and 0.2 of the community; MN: one at 0.1; rest elsewhere.
    values = np.array([[30.0, 20.0, 10.0, 40.0]])
    names = [MH[0], MH[1], MN[0], "s__Prevotella_copri"]
    psi_mh = (2 / 7) * -(0.3 * math.log(0.3) + 0.2 * math.log(0.2))
    psi_mn = (1 / 31) * -(0.1 * math.log(0.1))
    expected = math.log10((psi_mh + 1e-5) / (psi_mn + 1e-5))
    assert gmhi_values(values, names)[0] == pytest.approx(expected, rel=1e-14)


def test_unclassified_and_viral_rows_are_removed_before_renormalising():
    names = [MH[0], MN[0], "s__Other_species"]
    base = gmhi_values(np.array([[30.0, 10.0, 60.0]]), names)
    extra = gmhi_values(np.array([[30.0, 10.0, 60.0, 500.0, 70.0, 9.0]]),
                        [*names, "s__Roseburia_unclassified", "s__Escherichia_virus_T4",
                         "UNCLASSIFIED"])
    assert extra[0] == pytest.approx(base[0], rel=1e-14)


def test_fractions_below_1e_5_count_as_absent():
    names = [MH[0], MH[1], MN[0], "s__Other_species"]
    tiny = gmhi_values(np.array([[0.5, 0.000009, 0.25, 0.249991]]), names)
    without = (1 / 7) * -(0.5 * math.log(0.5))
    mn = (1 / 31) * -(0.25 * math.log(0.25))
    assert tiny[0] == pytest.approx(math.log10((without + 1e-5) / (mn + 1e-5)), rel=1e-12)


def test_an_empty_sample_is_nan():
    # nothing left once the unclassified row is removed
    result = gmhi_values(np.array([[0.0, 0.0, 5.0], [1.0, 1.0, 0.0]]),
                         [MH[0], MH[1], "s__Foo_unclassified"])
    assert math.isnan(result[0]) and result[1] > 0


def _taxonomy(rows: dict[str, dict[str, str | None]]) -> pd.DataFrame:
    return pd.DataFrame.from_dict(rows, orient="index").reindex(columns=list(RANKS)).astype(
        object).where(lambda t: t.notna(), None)


def test_features_naming_the_same_species_are_summed():
    tax = _taxonomy({
        "asv1": {"genus": "Bifidobacterium", "species": "adolescentis"},
        "asv2": {"genus": "Bifidobacterium", "species": "adolescentis"},
        "asv3": {"genus": "Klebsiella", "species": "pneumoniae"},
    })
    split = Study(np.array([[20, 10, 70]]), ["s"], ["asv1", "asv2", "asv3"], taxonomy=tax)
    joined = gmhi_values(np.array([[30.0, 70.0]]),
                         ["s__Bifidobacterium_adolescentis", "s__Klebsiella_pneumoniae"])
    assert gmhi(split).iloc[0] == pytest.approx(joined[0], rel=1e-14)


def test_not_applicable_to_a_genus_level_16s_table():
    tax = _taxonomy({
        "asv1": {"kingdom": "Bacteria", "phylum": "Firmicutes", "family": "Ruminococcaceae",
                 "genus": "Faecalibacterium"},
        "asv2": {"kingdom": "Bacteria", "phylum": "Bacteroidetes", "family": "Bacteroidaceae",
                 "genus": "Bacteroides"},
    })
    study = Study(np.array([[5, 7]]), ["s"], ["asv1", "asv2"], taxonomy=tax)
    with pytest.raises(NotApplicableError, match=r"deepest resolved rank is genus") as info:
        gmhi(study)
    assert isinstance(info.value, InputError)
    assert info.value.index == "gmhi"


def test_not_applicable_when_only_some_features_have_a_species():
    tax = _taxonomy({
        "asv1": {"genus": "Faecalibacterium", "species": "prausnitzii"},
        "asv2": {"genus": "Bacteroides", "species": None},
    })
    study = Study(np.array([[5, 15]]), ["s"], ["asv1", "asv2"], taxonomy=tax)
    with pytest.raises(NotApplicableError, match=r"1 of 2 features \(75\.0% of the abundance\) "
                                                 r"have no species"):
        gmhi(study)


def test_not_applicable_without_taxonomy():
    study = Study(np.array([[5, 15]]), ["s"], ["ACGT", "TTGA"])
    with pytest.raises(NotApplicableError, match="has no taxonomy"):
        gmhi(study)


def test_frames_without_species_or_with_other_ranks_are_refused():
    with pytest.raises(NotApplicableError, match="no species names"):
        gmhi(pd.DataFrame({"S1": [1.0, 2.0]}, index=["g__Bacteroides", "g__Blautia"]))
    mixed = pd.DataFrame({"S1": [1.0, 2.0, 3.0]},
                         index=[MH[0], "g__Bacteroides", "s__Foo_unclassified"])
    with pytest.raises(NotApplicableError,
                       match=r"mixes species with other rows \('g__Bacteroides'"):
        gmhi(mixed)
    with pytest.raises(InputError, match="Study or a pandas.DataFrame"):
        gmhi(np.ones((2, 2)))  # type: ignore[arg-type]
