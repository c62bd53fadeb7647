"""Reference folders: save, load with the hash check, and clear errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from gutaxis.exceptions import FormatError, InputError, OutputError, ValidationError
from gutaxis.reference import Reference, build_reference, load_reference, save_reference
from gutaxis.study import Study


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
    out = save_reference(reference, tmp_path / "ref")
    assert sorted(p.name for p in out.iterdir()) == ["arrays.npz", "reference.json"]
    loaded = load_reference(out)
    _assert_same(reference, loaded)
    meta = json.loads((out / "reference.json").read_text(encoding="utf-8"))
    assert meta["schema_version"] == 2 and meta["format"] == "gutaxis-reference"
    assert meta["distance"]["threshold"] == reference.distance_threshold
    assert meta["sequencing"] == {"type": "16S amplicon", "region": "V4", "source": "user"}
    assert meta["read_depth"]["p1"] == pytest.approx(np.percentile(reference.read_depth, 1))
    with np.load(out / "arrays.npz", allow_pickle=False) as npz:  # plain arrays only
        assert {npz[k].dtype.kind for k in npz.files} <= {"f", "U"}
    again = load_reference(save_reference(loaded, tmp_path / "again"))
    _assert_same(reference, again)


def test_a_reference_written_by_gutaxis_0_1_still_loads(reference: Reference, tmp_path) -> None:
    out = save_reference(reference, tmp_path / "ref")
    path = out / "reference.json"
    meta = json.loads(path.read_text(encoding="utf-8"))
    # 0.1.0 wrote schema 1, whose inputs' role was the table's format
    meta["schema_version"] = 1
    meta["inputs"] = [{**i, "role": "biom-hdf5"} if i["role"] == "table" else i
                      for i in meta["inputs"]]
    path.write_text(json.dumps(meta), encoding="utf-8")
    _assert_same(reference, load_reference(out))
    meta["schema_version"] = 3
    path.write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(FormatError, match="reference schema_version 3, but this gutaxis reads "
                                          "up to 2; upgrade gutaxis"):
        load_reference(out)


def test_save_refuses_a_non_empty_directory(reference: Reference, tmp_path) -> None:
    (tmp_path / "x.txt").write_text("hello", encoding="utf-8")
    with pytest.raises(OutputError, match=r"is not empty \(x\.txt\).*--overwrite"):
        save_reference(reference, tmp_path)
    save_reference(reference, tmp_path, overwrite=True)
    assert load_reference(tmp_path).version == reference.version
    assert (tmp_path / "x.txt").read_text(encoding="utf-8") == "hello"  # not the reference's


def test_load_errors_name_the_file(reference: Reference, tmp_path) -> None:
    with pytest.raises(InputError, match=r"no reference folder at .*missing \(make one with "
                                         r"`gutaxis reference build`\)"):
        load_reference(tmp_path / "missing")
    with pytest.raises(FormatError, match=r"reference\.json: missing"):
        load_reference(tmp_path)
    out = save_reference(reference, tmp_path / "ref")
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
    from gutaxis.stats import fit_final_model

    features = pd.DataFrame({"age": study.samples["Age"], "lps": study.samples["LPSpgml"]})
    model = fit_final_model(features, study.samples["Subject"], n_estimators=5,
                            positive_class="Patient")
    model.save(tmp_path / "model.joblib")
    ref = build_reference(study, name="x", where="Subject == 'Control'",
                          classifier_path=tmp_path / "model.joblib")
    out = save_reference(ref, tmp_path / "ref")
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
    # a model retrained after the build is not frozen in its place
    other = fit_final_model(features, study.samples["Subject"], n_estimators=7, seed=1,
                            positive_class="Patient")
    other.save(tmp_path / "model.joblib")
    with pytest.raises(ValidationError, match=r"model.joblib: the classifier changed since the "
                                              r"reference was built"):
        save_reference(ref, tmp_path / "ref2")
    assert not (tmp_path / "ref2").exists()


def test_marker_records_keep_the_0_1_layout(reference: Reference, tmp_path) -> None:
    """The folder layout did not change: marker records are read into MarkerColumn."""
    out = save_reference(reference, tmp_path / "ref")
    meta = json.loads((out / "reference.json").read_text(encoding="utf-8"))
    assert meta["markers"] == {"LPS": {"unit": "pg/mL", "column": "LPSpgml", "catalog_id": "lps",
                                       "unit_source": "column name"}}
    assert load_reference(out).marker_info == reference.marker_info


def test_bundled_study_controls_as_reference(tmp_path) -> None:
    import warnings

    from gutaxis.io import read_example
    from gutaxis.markers import marker_panel
    from gutaxis.reference import compare_to_reference

    study = read_example()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ref = build_reference(study, name="Giloteaux 2016 controls",
                              where="Subject == 'Control'", sequencing="16S V4",
                              markers=marker_panel(study.samples, ["LPSpgml", "sCD14ugml"]))
    assert 30 <= ref.n_samples <= 39
    assert ref.taxonomy_scheme == "greengenes"
    assert any(r["role"].startswith("biom") for r in ref.details["inputs"])  # the reader's
    patient = str(study.samples.index[study.samples["Subject"] == "Patient"][0])
    cmp = compare_to_reference(load_reference(save_reference(ref, tmp_path / "r")), study,
                               patient, n_boot=200)
    assert cmp.measure("index:shannon_entropy").value is not None
