"""Lab results written by others: the HL7 FHIR R4 example resources (CC0, tests/data/fhir/).

The expected values are the examples' own (see tests/data/fhir/PROVENANCE.md):
what the marker catalogue knows is imported, strict mode names the first code
it does not know, ``skip_unknown`` lists the rest.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gutaxis.exceptions import FormatError, ValidationError
from gutaxis.fhir import read_lab_bundle
from gutaxis.markers import read_labs

EXAMPLES = Path(__file__).parents[1] / "data" / "fhir" / "hl7-r4-examples"
UNKNOWN = "a code the marker catalogue does not know"


def test_the_hs_crp_report_is_imported_as_the_lab_wrote_it(tmp_path):
    source = EXAMPLES / "Bundle-27-acme-hscrp.json"
    # its subject, Patient/1, is not in the bundle: no identifier to name the sample by
    with pytest.raises(ValidationError, match=r"no patient identifier \(Patient/1 \(no "
                                              r"identifier\)\)"):
        read_lab_bundle(source)
    labs = read_lab_bundle(source, sample_id="P1")
    assert len(labs.rows) == 1 and labs.skipped == []
    row = labs.rows[0]
    # LOINC 30522-7, 2.8 with the unit as text "mg/L", range 1.0–3.0 mg/L, final
    assert (row["marker"], row["value"], row["unit"], row["ref_low"], row["ref_high"]) == (
        "hscrp", "2.8", "mg/L", "1", "3")
    assert row["status"] == "final" and row["source"] == "Observation/o1-27"
    assert row["report"] == "DiagnosticReport/27"
    back = read_labs(labs.write_csv(tmp_path / "labs.csv"))
    assert back.table.loc[("P1", "hscrp"), ["value", "ref_low", "ref_high"]].tolist() == [
        2.8, 1.0, 3.0]


def test_a_general_chemistry_report_stops_at_its_first_unknown_code():
    source = EXAMPLES / "Bundle-3-acme-elft.json"
    with pytest.raises(ValidationError, match=(
            r"Bundle-3-acme-elft\.json: Bundle\.entry\[1\] \(Observation/o1-3\): "
            r"Observation\.code: unknown code http://loinc\.org\|2951-2 \(Sodium "
            r"\[Moles/volume\] in Serum or Plasma\)")):
        read_lab_bundle(source, sample_id="P1")
    labs = read_lab_bundle(source, sample_id="P1", skip_unknown=True)
    assert labs.rows == [] and len(labs.skipped) == 26
    assert {s.reason for s in labs.skipped} == {UNKNOWN}
    assert labs.skipped[0].code.startswith("http://loinc.org|2951-2")


def test_the_general_health_profile_panels_members_and_patient(tmp_path):
    source = EXAMPLES / "Bundle-ghp.json"
    # the three panels (no value) come first and are no error; the first member is
    with pytest.raises(ValidationError, match=(r"Bundle\.entry\[5\] \(Observation/r1\): "
                                               r"Observation\.code: unknown code "
                                               r"http://loinc\.org\|718-7")):
        read_lab_bundle(source, sample_id="P1")
    labs = read_lab_bundle(source, sample_id="P1", skip_unknown=True)
    panels = [s for s in labs.skipped if s.reason.startswith("a panel")]
    assert len(panels) == 3 and len(labs.skipped) == 51
    assert len([s for s in labs.skipped if s.reason == UNKNOWN]) == 48
    # with its patient (Patient-pat2.json) added, the patient is known by identifier
    doc = json.loads(source.read_text(encoding="utf-8"))
    doc["entry"].append({"fullUrl": "https://example.com/base/Patient/pat2",
                         "resource": json.loads((EXAMPLES / "Patient-pat2.json").read_text(
                             encoding="utf-8"))})
    labs = read_lab_bundle(doc, skip_unknown=True)
    assert labs.patient_identifiers == (("urn:oid:0.1.2.3.4.5.6.7", "123456"),)
    assert labs.sample_id == "123456" and len(labs.patients) == 1


@pytest.mark.parametrize(("name", "reason"), [
    ("Observation-unsat.json", "status 'cancelled'"),
    ("Observation-vp-oyster.json", "status 'preliminary'"),
])
def test_results_that_are_not_final_are_skipped(name, reason):
    labs = read_lab_bundle(EXAMPLES / name, sample_id="P1")
    assert labs.rows == [] and labs.skipped[0].reason.startswith(reason)


@pytest.mark.parametrize("name", ["Patient-pat2.json", "Specimen-isolate.json"])
def test_resources_that_hold_no_lab_results_are_refused(name):
    with pytest.raises(FormatError, match="expected a FHIR R4 Bundle, DiagnosticReport or "
                                          "Observation"):
        read_lab_bundle(EXAMPLES / name)


@pytest.mark.parametrize("name", ["Bundle-bundle-transaction.json",
                                  "Bundle-bundle-example.json"])
def test_bundles_without_observations_are_refused(name):
    with pytest.raises(FormatError, match="no Observation in the input"):
        read_lab_bundle(EXAMPLES / name)
