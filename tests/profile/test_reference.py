"""Reference cohorts: building, saving/loading, and placing one patient."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from gutaxis.exceptions import FormatError, NotFoundError, UnknownRankError, ValidationError
from gutaxis.io import parse_taxonomy
from gutaxis.markers import marker_panel
from gutaxis.profile import _reference_impl as impl
from gutaxis.profile.percentile import percentile_with_ci
from gutaxis.profile.reference import (
    HIGH_PERCENTILE,
    LOW_PERCENTILE,
    Reference,
    SmallReferenceWarning,
    build_reference,
    compare_to_reference,
    load_reference,
    percentile_status,
)
from gutaxis.study import RANKS, Study

# phylum, class, order, family, genus, species, mean weight (Greengenes spellings)
GENERA = [
    ("Firmicutes", "Clostridia", "Clostridiales", "Ruminococcaceae", "Faecalibacterium",
     "prausnitzii", 12.0),
    ("Bacteroidetes", "Bacteroidia", "Bacteroidales", "Bacteroidaceae", "Bacteroides", None, 20.0),
    ("Firmicutes", "Clostridia", "Clostridiales", "Lachnospiraceae", "Roseburia", None, 6.0),
    ("Firmicutes", "Clostridia", "Clostridiales", "Lachnospiraceae", "Blautia", None, 8.0),
    ("Firmicutes", "Clostridia", "Clostridiales", "Lachnospiraceae", "Coprococcus", None, 4.0),
    ("Firmicutes", "Clostridia", "Clostridiales", "Ruminococcaceae", "Oscillospira", None, 5.0),
    ("Actinobacteria", "Actinobacteria", "Bifidobacteriales", "Bifidobacteriaceae",
     "Bifidobacterium", None, 4.0),
    ("Verrucomicrobia", "Verrucomicrobiae", "Verrucomicrobiales", "Verrucomicrobiaceae",
     "Akkermansia", "muciniphila", 2.0),
    ("Proteobacteria", "Gammaproteobacteria", "Enterobacteriales", "Enterobacteriaceae",
     "Escherichia", "coli", 1.5),
    ("Bacteroidetes", "Bacteroidia", "Bacteroidales", "Prevotellaceae", "Prevotella", "copri",
     5.0),
    ("Firmicutes", "Negativicutes", "Selenomonadales", "Veillonellaceae", "Veillonella", None,
     1.0),
    ("Bacteroidetes", "Bacteroidia", "Bacteroidales", "Rikenellaceae", "Alistipes", None, 4.0),
    ("Fusobacteria", "Fusobacteriia", "Fusobacteriales", "Fusobacteriaceae", "Fusobacterium",
     None, 0.05),
]
PER_GENUS = 3
N_CONTROL, N_PATIENT = 60, 10


def _features(seed: int = 0) -> tuple[list[str], pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ids, rows = [], []
    for g in GENERA:
        for _ in range(PER_GENUS):
            ids.append("".join(rng.choice(list("ACGT"), size=120)))
            rows.append(dict(zip(RANKS, ("Bacteria", *g[:6]), strict=True)))
    return ids, pd.DataFrame(rows, index=ids)[list(RANKS)]


def synthetic_study(n_control: int = N_CONTROL, n_patient: int = N_PATIENT,
                    seed: int = 0) -> Study:
    """16S-like counts: ASV sequences as ids, Greengenes taxonomy, Dirichlet-multinomial."""
    ids, taxonomy = _features()
    rng = np.random.default_rng(seed + 1)
    base = np.repeat([g[6] for g in GENERA], PER_GENUS) / PER_GENUS
    n = n_control + n_patient
    props = rng.dirichlet(base * 2.0, size=n)
    depths = rng.integers(5000, 20000, size=n)
    counts = np.vstack([rng.multinomial(d, p) for d, p in zip(depths, props, strict=True)])
    samples = [f"S{i:03d}" for i in range(n)]
    md = pd.DataFrame({"Subject": ["Control"] * n_control + ["Patient"] * n_patient,
                       "Age": rng.integers(20, 70, size=n).astype(float),
                       "LPSpgml": rng.lognormal(5, 0.4, size=n)}, index=samples)
    return Study(counts, samples, ids, taxonomy=taxonomy, samples=md)


def patient_study(weights: dict[str, float], reads: int = 10000, sid: str = "P1") -> Study:
    """One sample over the same ASVs, ``weights`` giving each genus's share."""
    ids, taxonomy = _features()
    genus = taxonomy["genus"].to_numpy()
    counts = np.zeros(len(ids))
    for name, share in weights.items():
        where = np.flatnonzero(genus == name)
        counts[where] = share * reads / len(where)
    return Study(np.round(counts)[None, :], [sid], ids, taxonomy=taxonomy,
                 samples=pd.DataFrame({"LPSpgml": [150.0]}, index=[sid]))


def metaphlan_patient(sid: str = "M1") -> Study:
    """A MetaPhlAn-like shotgun species profile (percent)."""
    paths = ["k__Bacteria|p__Firmicutes|c__Clostridia|o__Clostridiales|f__Ruminococcaceae|"
             "g__Faecalibacterium|s__Faecalibacterium_prausnitzii",
             "k__Bacteria|p__Bacteroidetes|c__Bacteroidia|o__Bacteroidales|f__Bacteroidaceae|"
             "g__Bacteroides|s__Bacteroides_vulgatus",
             "k__Bacteria|p__Firmicutes|c__Clostridia|o__Clostridiales|f__Lachnospiraceae|"
             "g__Roseburia|s__Roseburia_intestinalis"]
    leaves = [p.rsplit("|", 1)[1] for p in paths]
    return Study(np.array([[30.0, 50.0, 20.0]]), [sid], leaves,
                 taxonomy=parse_taxonomy(paths, index=leaves), kind="relative")


@pytest.fixture(scope="module")
def study() -> Study:
    return synthetic_study()


@pytest.fixture(scope="module")
def panel(study: Study):
    return marker_panel(study.samples, ["LPSpgml"])


@pytest.fixture(scope="module")
def reference(study: Study, panel) -> Reference:
    return build_reference(study, name="synthetic controls", where="Subject == 'Control'",
                           markers=panel, sequencing="16S V4")


def _microbiome(comparison) -> list:
    return [m for m in comparison.measures if m.kind != "marker"]


# ---------------------------------------------------------------- building
def test_build_freezes_the_reference(reference: Reference) -> None:
    assert reference.n_samples == N_CONTROL
    assert reference.sequencing == "16S amplicon" and reference.region == "V4"
    assert reference.taxonomy_scheme == "greengenes"
    assert list(reference.taxa) == ["phylum", "family", "genus", "species"]
    genus = reference.taxa["genus"]
    assert genus.shape == (N_CONTROL, len(GENERA)) and genus.dtypes.eq(np.float32).all()
    np.testing.assert_allclose(genus.sum(axis=1), 1.0, rtol=1e-5)
    assert list(reference.indices.columns[:3]) == ["gmhi", "md_index", "shannon_entropy"]
    assert reference.indices["gmhi"].isna().all()  # GMHI is not defined on 16S genera
    assert "not applicable" in reference.details["index_notes"]["gmhi"]
    assert reference.marker_info["LPS"]["unit"] == "pg/mL"
    assert np.all(reference.read_depth >= 5000)
    assert 0 < reference.distance_threshold < 1
    assert reference.distance_threshold == pytest.approx(
        np.percentile(reference.median_distance, 99))
    assert len(reference.version) == 64
    assert reference.details["where"] == "Subject == 'Control'"
    assert reference.summary() == {
        "name": "synthetic controls", "version": reference.version, "n_samples": N_CONTROL,
        "sequencing": "16S amplicon (V4)", "taxonomy_scheme": "greengenes",
        "created": reference.created, "where": "Subject == 'Control'"}


def test_sequencing_and_taxonomy_are_inferred(study: Study) -> None:
    ref = build_reference(study, name="x", rank_list=("genus",))
    assert (ref.sequencing, ref.region) == ("16S amplicon", None)
    assert ref.details["sequencing_source"] == "inferred"
    assert ref.taxonomy_scheme == "greengenes"
    assert list(ref.taxa) == ["genus"]


def test_median_distances_are_bray_curtis_on_genera(reference: Reference) -> None:
    x = reference.taxa["genus"].to_numpy(dtype=np.float64)
    first = [np.abs(x[0] - x[j]).sum() / (x[0].sum() + x[j].sum()) for j in range(1, len(x))]
    assert reference.median_distance[0] == pytest.approx(np.median(first), rel=1e-9)


def test_version_is_a_content_hash(study: Study, panel) -> None:
    a = build_reference(study, name="a", where="Subject == 'Control'", markers=panel)
    b = build_reference(study, name="b", where="Subject == 'Control'", markers=panel)
    c = build_reference(study, name="c", where="Age > 0", markers=panel)
    assert a.version == b.version != c.version


def test_reference_samples_below_min_reads_are_left_out(study: Study) -> None:
    depth = study.sample_totals()
    cut = int(np.sort(depth[:N_CONTROL])[5])  # five controls fall below
    ref = build_reference(study, name="x", where="Subject == 'Control'", min_reads=cut)
    assert ref.n_samples == N_CONTROL - 5
    assert len(ref.details["excluded"][f"fewer than {cut} reads"]) == 5


# -------------------------------------------------------------- `where`
@pytest.mark.parametrize(("where", "match"), [
    ("Subject ==", "not a valid query"),
    ("Nope == 'x'", "not a valid query.*columns are: Subject, Age, LPSpgml"),
    ("Age", "true/false condition"),
    ("x = 1", "true/false condition"),
    ("Age > @limit", "Python variables"),
    ("", "non-empty"),
])
def test_invalid_where_is_refused(study: Study, where: str, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        build_reference(study, name="x", where=where)


def test_where_selecting_too_few_is_refused(study: Study) -> None:
    with pytest.raises(ValidationError, match=r"leaves 0 sample\(s\); a reference needs at "
                                              r"least 10"):
        build_reference(study, name="x", where="Subject == 'control'")
    with pytest.raises(ValidationError, match="leaves 9 sample"):
        build_reference(study.subset_samples(study.sample_ids[:9].tolist()), name="x")


def test_small_reference_warns(study: Study) -> None:
    with pytest.warns(SmallReferenceWarning, match="leaves 10 samples"):
        ref = build_reference(study, name="x", where="Subject == 'Patient'")
    assert ref.n_samples == N_PATIENT


def test_where_needs_metadata(study: Study) -> None:
    bare = study.replace(None, samples=None)
    with pytest.raises(ValidationError, match="has none; attach it"):
        build_reference(bare, name="x", where="Age > 1")


def test_bad_options(study: Study) -> None:
    with pytest.raises(UnknownRankError, match="valid ranks"):
        build_reference(study, name="x", rank_list=("genera",))
    with pytest.raises(ValidationError, match="min_reads"):
        build_reference(study, name="x", min_reads=-1)
    with pytest.raises(ValidationError, match="16S amplicon or shotgun"):
        build_reference(study, name="x", sequencing="nanopore")
    with pytest.raises(NotFoundError, match="reference sample"):
        build_reference(study, name="x", markers=marker_panel(study.samples.iloc[:5],
                                                              ["LPSpgml"]))


# ------------------------------------------------------------ save / load
def _assert_same(a: Reference, b: Reference) -> None:
    assert a.version == b.version
    for key, arr in a.content().items():
        other = b.content()[key]
        assert arr.dtype == other.dtype, key
        np.testing.assert_array_equal(arr, other, err_msg=key)
    pd.testing.assert_frame_equal(a.indices, b.indices)
    for rank in a.taxa:
        pd.testing.assert_frame_equal(a.taxa[rank], b.taxa[rank])
    pd.testing.assert_frame_equal(a.markers, b.markers)
    assert a.marker_info == b.marker_info
    assert (a.name, a.sequencing, a.region, a.taxonomy_scheme, a.kind, a.distance_threshold,
            a.created) == (b.name, b.sequencing, b.region, b.taxonomy_scheme, b.kind,
                           b.distance_threshold, b.created)
    assert a.details == b.details


def test_save_load_round_trip_is_exact(reference: Reference, tmp_path) -> None:
    out = reference.save(tmp_path / "ref")
    assert sorted(p.name for p in out.iterdir()) == ["arrays.npz", "reference.json"]
    loaded = load_reference(out)
    _assert_same(reference, loaded)
    meta = json.loads((out / "reference.json").read_text(encoding="utf-8"))
    assert meta["schema_version"] == 1 and meta["format"] == "gutaxis-reference"
    assert meta["distance"]["threshold"] == reference.distance_threshold
    assert meta["sequencing"] == {"type": "16S amplicon", "region": "V4", "source": "user"}
    assert meta["read_depth"]["p1"] == pytest.approx(np.percentile(reference.read_depth, 1))
    with np.load(out / "arrays.npz", allow_pickle=False) as npz:  # plain arrays only
        assert {npz[k].dtype.kind for k in npz.files} <= {"f", "U"}
    again = load_reference(loaded.save(tmp_path / "again"))
    _assert_same(reference, again)


def test_save_refuses_a_non_empty_directory(reference: Reference, tmp_path) -> None:
    (tmp_path / "x.txt").write_text("hello", encoding="utf-8")
    with pytest.raises(Exception, match="not empty"):
        reference.save(tmp_path)
    reference.save(tmp_path, overwrite=True)
    assert load_reference(tmp_path).version == reference.version


def test_load_errors_name_the_file(reference: Reference, tmp_path) -> None:
    with pytest.raises(Exception, match="no reference directory"):
        load_reference(tmp_path / "missing")
    with pytest.raises(FormatError, match=r"reference\.json: missing"):
        load_reference(tmp_path)
    out = reference.save(tmp_path / "ref")
    jpath = out / "reference.json"
    meta = json.loads(jpath.read_text(encoding="utf-8"))

    jpath.write_text(json.dumps({**meta, "schema_version": 99}), encoding="utf-8")
    with pytest.raises(FormatError, match=r"reference\.json: written with reference "
                                          r"schema_version 99.*upgrade gutaxis"):
        load_reference(out)
    jpath.write_text("{not json", encoding="utf-8")
    with pytest.raises(FormatError, match=r"reference\.json: not valid JSON"):
        load_reference(out)
    jpath.write_text(json.dumps({k: v for k, v in meta.items() if k != "ranks"}),
                     encoding="utf-8")
    with pytest.raises(FormatError, match="field \"ranks\""):
        load_reference(out)
    jpath.write_text(json.dumps(meta), encoding="utf-8")

    apath = out / "arrays.npz"
    with np.load(apath) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["indices"][0, 2] += 1.0
    np.savez_compressed(apath, **arrays)
    with pytest.raises(FormatError, match=r"arrays\.npz: its content hash .* records version"):
        load_reference(out)
    del arrays["median_distance"]
    np.savez_compressed(apath, **arrays)
    with pytest.raises(FormatError, match=r"arrays\.npz: array 'median_distance' is missing"):
        load_reference(out)
    apath.write_bytes(b"not a zip")
    with pytest.raises(FormatError, match=r"arrays\.npz: not a readable \.npz"):
        load_reference(out)


def test_classifier_is_copied_and_checked(study: Study, tmp_path) -> None:
    from gutaxis.stats.classifier import fit_final_model

    features = pd.DataFrame({"age": study.samples["Age"], "lps": study.samples["LPSpgml"]})
    model = fit_final_model(features, study.samples["Subject"], n_estimators=5,
                            positive_class="Patient")
    model.save(tmp_path / "model.joblib")
    ref = build_reference(study, name="x", where="Subject == 'Control'",
                          classifier_path=tmp_path / "model.joblib")
    out = ref.save(tmp_path / "ref")
    assert sorted(p.name for p in (out / "classifier").iterdir()) == [
        "model.joblib", "model.joblib.json"]
    loaded = load_reference(out)
    assert loaded.classifier_file == out / "classifier" / "model.joblib"
    assert loaded.load_classifier().features == ["age", "lps"]
    roles = [r["role"] for r in loaded.details["inputs"]]
    assert "classifier" in roles and "classifier sidecar" in roles
    (out / "classifier" / "model.joblib").write_bytes(b"tampered")
    with pytest.raises(FormatError, match="classifier does not check out"):
        load_reference(out)


# -------------------------------------------------------------- comparing
def _typical(reference: Reference) -> str:
    shannon = reference.indices["shannon_entropy"]
    return str((shannon - shannon.median()).abs().idxmin())


def test_patient_from_the_reference_is_comparable_and_within(reference: Reference,
                                                            study: Study, panel) -> None:
    sid = _typical(reference)
    cmp = compare_to_reference(reference, study, sid, markers=panel, n_boot=500)
    assert cmp.comparable
    assert not [w for w in cmp.warnings if w.blocking]
    assert cmp.median_distance is not None
    assert cmp.median_distance <= reference.distance_threshold
    shannon = cmp.measure("shannon_entropy")
    assert shannon.status == "within" and shannon.kind == "index"
    assert shannon.ci_low <= shannon.percentile <= shannon.ci_high
    assert shannon.reference_n == N_CONTROL
    assert shannon.range_used is not None and shannon.range_used.kind == "reference"
    placed = [m for m in cmp.measures if m.value is not None]
    assert placed and all(m.status in ("low", "within", "high") for m in placed)
    assert cmp.measure("gmhi").status == "not measured"
    assert cmp.measure("taxon:roseburia").unit == "fraction"
    assert cmp.measure("marker:lps").kind == "marker"


def test_percentile_equals_percentile_with_ci_on_the_stored_data(reference: Reference,
                                                                 study: Study, panel) -> None:
    cmp = compare_to_reference(reference, study, "S065", markers=panel, n_boot=300, seed=4)
    for measure_id in ("shannon_entropy", "taxon:faecalibacterium_prausnitzii", "marker:lps"):
        m = cmp.measure(measure_id)
        expected = percentile_with_ci(m.value, reference.measure_values(measure_id),
                                      n_boot=300, seed=4)
        assert (m.percentile, m.ci_low, m.ci_high) == pytest.approx(expected, abs=1e-12)
        assert m.status == percentile_status(m.ci_low, m.ci_high)


def test_status_convention() -> None:
    assert (LOW_PERCENTILE, HIGH_PERCENTILE) == (5.0, 95.0)
    assert percentile_status(0.0, 4.9) == "low"
    assert percentile_status(0.0, 5.0) == "within"
    assert percentile_status(95.1, 100.0) == "high"
    assert percentile_status(95.0, 100.0) == "within"


def test_out_of_range_patient_is_flagged(reference: Reference) -> None:
    rare = patient_study({"Fusobacterium": 0.9, "Bacteroides": 0.1})
    cmp = compare_to_reference(reference, rare, "P1", n_boot=200, ranks=("genus",))
    codes = {w.code: w for w in cmp.warnings}
    assert "out_of_reference_range" in codes
    warning = codes["out_of_reference_range"]
    assert warning.blocking and "Fusobacterium (90%)" in warning.message
    assert cmp.median_distance > reference.distance_threshold
    assert not cmp.comparable
    for m in _microbiome(cmp):
        assert m.status in ("not comparable", "not measured")
        assert m.percentile is None and m.ci_low is None
    assert cmp.measure("shannon_entropy").status == "not comparable"
    assert "out_of_reference_range" in cmp.measure("shannon_entropy").notes[-1]
    assert set(cmp.taxa["genus"]["status"]) == {"not comparable"}
    assert "taxa:genus" in warning.affects
    assert cmp.to_dict()["warnings"][0]["code"]


def test_shotgun_patient_against_16s_reference_is_not_comparable(reference: Reference) -> None:
    cmp = compare_to_reference(reference, metaphlan_patient(), "M1", n_boot=200)
    codes = {w.code for w in cmp.warnings if w.blocking}
    assert {"sequencing_mismatch", "taxonomy_mismatch"} <= codes
    message = next(w.message for w in cmp.warnings if w.code == "sequencing_mismatch")
    assert "shotgun" in message and "16S amplicon" in message
    shannon = cmp.measure("shannon_entropy")
    assert shannon.value is not None and shannon.status == "not comparable"
    assert shannon.percentile is None
    assert cmp.median_distance is None  # not computed across sequencing types


def test_too_few_reads_is_flagged(reference: Reference) -> None:
    shallow = patient_study({"Bacteroides": 0.4, "Faecalibacterium": 0.3, "Blautia": 0.3},
                            reads=600)
    cmp = compare_to_reference(reference, shallow, "P1", n_boot=200)
    low = [w for w in cmp.warnings if w.code == "low_depth"]
    assert len(low) == 1 and low[0].blocking
    assert "fewer than the reference accepts" in low[0].message
    assert cmp.read_depth == pytest.approx(600, abs=3)
    assert cmp.measure("shannon_entropy").status == "not comparable"


def test_markers_are_converted_and_stay_comparable(reference: Reference) -> None:
    rare = patient_study({"Fusobacterium": 0.9, "Bacteroides": 0.1})
    ng = marker_panel(pd.DataFrame({"LPS": [0.15]}, index=["P1"]), ["LPS=ng/mL"])
    cmp = compare_to_reference(reference, rare, "P1", markers=ng, n_boot=200)
    lps = cmp.measure("marker:lps")
    assert lps.value == pytest.approx(150.0) and lps.unit == "pg/mL"
    assert lps.status in ("low", "within", "high") and lps.percentile is not None
    assert any("converted from ng/mL to pg/mL" in n for n in lps.notes)


def test_taxa_tables(reference: Reference, study: Study) -> None:
    cmp = compare_to_reference(reference, study, "S061", ranks=("genus", "phylum"), n_boot=200)
    genus = cmp.taxa["genus"]
    assert list(genus.columns) == ["label", "value", "percentile", "ci_low", "ci_high", "n",
                                   "status"]
    assert genus["value"].sum() == pytest.approx(1.0, abs=1e-5)
    row = genus.loc[genus["label"] == "Faecalibacterium"].iloc[0]
    stored = reference.taxa["genus"][genus.index[genus["label"] == "Faecalibacterium"][0]]
    pct, lo, hi = percentile_with_ci(row["value"], stored, n_boot=200, seed=0)
    assert (row["percentile"], row["ci_low"], row["ci_high"]) == pytest.approx((pct, lo, hi))
    with pytest.raises(NotFoundError, match="rank"):
        compare_to_reference(reference, study, "S061", ranks=("order",))


def test_unknown_patient_sample(reference: Reference, study: Study) -> None:
    with pytest.raises(NotFoundError, match="'nobody'"):
        compare_to_reference(reference, study, "nobody")


def test_loaded_reference_compares_like_the_built_one(reference: Reference, study: Study,
                                                      panel, tmp_path) -> None:
    loaded = load_reference(reference.save(tmp_path / "ref"))
    a = compare_to_reference(reference, study, "S066", markers=panel, n_boot=200)
    b = compare_to_reference(loaded, study, "S066", markers=panel, n_boot=200)
    assert a.measures == b.measures and a.warnings == b.warnings


# ---------------------------------------------------------------- inference
def test_parse_sequencing() -> None:
    assert impl.parse_sequencing("16S V3-V4") == ("16S amplicon", "V3-V4")
    assert impl.parse_sequencing("16S rRNA amplicon, v4") == ("16S amplicon", "V4")
    assert impl.parse_sequencing("shotgun metagenomics") == ("shotgun", None)


def test_infer_taxonomy_scheme() -> None:
    assert impl.infer_taxonomy_scheme(metaphlan_patient()) == "metaphlan"
    silva = pd.DataFrame({"phylum": ["Bacteroidota", "Firmicutes"],
                          "genus": ["Escherichia-Shigella", "Lachnospiraceae_NK4A136_group"]},
                         index=["a", "b"]).reindex(columns=list(RANKS))
    gtdb = pd.DataFrame({"phylum": ["Bacillota_A", "Bacteroidota"],
                         "genus": ["Ruminococcus_B", "Bacteroides"],
                         "species": ["Ruminococcus_B gnavus", "Bacteroides uniformis"]},
                        index=["a", "b"]).reindex(columns=list(RANKS))
    plain = pd.DataFrame({"genus": ["Bacteroides", "Blautia"]},
                         index=["a", "b"]).reindex(columns=list(RANKS))
    for tax, expected in ((silva, "silva"), (gtdb, "gtdb"), (plain, "unknown")):
        s = Study(np.ones((1, 2)), ["x"], ["a", "b"], taxonomy=tax)
        assert impl.infer_taxonomy_scheme(s) == expected


def test_bundled_study_controls_as_reference(tmp_path) -> None:
    from gutaxis.datasets import example_dataset
    from gutaxis.io import read_metadata, read_table

    data = example_dataset()
    study = read_table(data.table).with_metadata(read_metadata(data.metadata))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ref = build_reference(study, name="Giloteaux 2016 controls",
                              where="Subject == 'Control'", sequencing="16S V4",
                              markers=marker_panel(study.samples, ["LPSpgml", "sCD14ugml"]))
    assert 30 <= ref.n_samples <= 39
    assert ref.taxonomy_scheme == "greengenes"
    assert any(r["role"].startswith("biom") for r in ref.details["inputs"])
    patient = str(study.samples.index[study.samples["Subject"] == "Patient"][0])
    cmp = compare_to_reference(load_reference(ref.save(tmp_path / "r")), study, patient,
                               n_boot=200)
    assert cmp.measure("shannon_entropy").value is not None
