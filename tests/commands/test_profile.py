"""gutaxis profile --fhir: profile.fhir.json beside profile.json, on the bundled study."""

from __future__ import annotations

import json

import pytest
from fhirclient.models.bundle import Bundle
from fhirclient.models.observation import Observation

from gutaxis.commands import ProfileOptions, ReferenceOptions, run_profile, run_reference_build
from gutaxis.fhir import profile_bundle
from gutaxis.io import example_dataset

MARKERS = ("LPSpgml", "LBPugml")


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    data = example_dataset()
    ref = tmp_path_factory.mktemp("ref") / "controls"
    run_reference_build(ReferenceOptions(table=data.table, metadata=data.metadata,
                                         name="controls", where="Subject == 'Control'",
                                         markers=MARKERS)).write(ref)
    options = ProfileOptions(table=data.table, metadata=data.metadata, markers=MARKERS,
                             reference=ref, sample="ERR1331786", patient="P01", pdf=False,
                             fhir=True)
    out = tmp_path_factory.mktemp("visit")
    return options, run_profile(options).write(out), out


def test_fhir_writes_a_strict_r4_bundle_of_profile_json(written):
    options, files, out = written
    assert sorted(files) == ["fhir", "html", "json"]
    assert files["fhir"] == out / "profile.fhir.json"
    doc = json.loads(files["json"].read_text())
    fhir = json.loads(files["fhir"].read_text())
    Bundle(fhir, strict=True)
    assert fhir == profile_bundle(doc)  # the file is the stored profile.json's Bundle
    observations = [e["resource"] for e in fhir["entry"]
                    if e["resource"]["resourceType"] == "Observation"]
    assert len(observations) == len(doc["measures"])
    lps_doc = next(m for m in doc["measures"] if m["id"] == "marker:lps")
    lps = next(o for o in observations if o["code"].get("coding", [{}])[0].get("code")
               == "marker:lps")
    Observation(lps, strict=True)
    assert lps["valueQuantity"]["value"] == lps_doc["value"]
    assert lps["valueQuantity"]["code"] == "pg/mL"
    placed = [m for m in doc["measures"] if m["percentile"] is not None]
    assert placed  # the bundled study places its indices and taxa
    for measure in placed:
        obs = observations[doc["measures"].index(measure)]
        parts = {c["code"]["coding"][0]["code"]: c for c in obs["component"]}
        assert parts["percentile"]["valueQuantity"]["value"] == measure["percentile"]


def test_fhir_file_is_owned_and_replaced_with_overwrite(written):
    options, files, out = written
    assert "profile.fhir.json" in options.owned()
    again = run_profile(options).write(out, overwrite=True)
    # a new run is a new profile (its own creation time), and the Bundle follows it
    doc = json.loads(again["json"].read_text())
    fhir = json.loads(again["fhir"].read_text())
    assert fhir["timestamp"] == doc["created"] and fhir == profile_bundle(doc)


def test_labs_made_from_is_checked_and_needs_labs(written, tmp_path):
    from gutaxis.exceptions import ValidationError

    options, _, _ = written
    labs = tmp_path / "LABS.csv"
    labs.write_text("sample_id,marker,value,unit\nERR1331786,LPS,<0.5,pg/mL\n")
    base = {"table": options.table, "reference": options.reference, "sample": options.sample,
            "pdf": False}
    for labs_path, made_from in ((None, ("LABS.csv", "a" * 64)), (labs, ("LABS.csv", "xyz")),
                                 (labs, ("", "a" * 64)), (labs, "LABS.csv")):
        with pytest.raises(ValidationError, match="labs_made_from must be"):
            ProfileOptions(**base, labs=labs_path, labs_made_from=made_from)
    doc = run_profile(ProfileOptions(**base, labs=labs, labs_made_from=["upload.csv", "b" * 64])
                      ).profile.provenance
    [record] = [i for i in doc["inputs"] if i["role"] == "labs"]
    assert record["made_from"] == {"path": "upload.csv", "sha256": "b" * 64}
