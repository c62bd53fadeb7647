"""FHIR R4 lab results in: matched, converted, censored, skipped, refused — all or nothing."""

from __future__ import annotations

import copy
import math

import pytest

from builders.fhir_labs import (
    MRN,
    UCUM,
    bundle,
    observation,
    patient,
    quantity,
    stool_and_blood_panel,
    write,
)
from gutaxis.exceptions import (
    FormatError,
    InputError,
    NotFoundError,
    OutputError,
    UnitError,
    UnsafeInputError,
    ValidationError,
)
from gutaxis.fhir import LabBundle, read_lab_bundle
from gutaxis.markers import read_labs
from gutaxis.markers.labs import FHIR_COLUMNS


def _by_marker(labs: LabBundle) -> dict[str, dict[str, str]]:
    return {row["marker"]: row for row in labs.rows}


def test_a_panel_is_matched_by_loinc_and_alias_and_converted(tmp_path):
    path = write(tmp_path / "panel.json", stool_and_blood_panel())
    labs = read_lab_bundle(path)
    assert labs.sample_id == "MRN-001"
    assert labs.patient_identifiers == ((MRN, "MRN-001"),)
    assert labs.skipped == []
    rows = _by_marker(labs)
    assert list(rows) == ["calprotectin", "hscrp", "elastase", "zonulin_serum"]
    fc = rows["calprotectin"]
    assert (fc["value"], fc["unit"], fc["ref_low"], fc["ref_high"]) == ("85", "ug/g", "0", "50")
    assert fc["interpretation"] == "H" and fc["status"] == "final"
    assert fc["effective"] == "2026-03-02T08:30:00+01:00"
    assert fc["source"] == "Observation/fc" and fc["report"] == ""
    # 0.21 mg/dL = 2.1 mg/L (x10, hand-computed), the lab's range 0–0.3 mg/dL too: 0–3 mg/L
    crp = rows["hscrp"]
    assert (crp["value"], crp["unit"], crp["ref_low"], crp["ref_high"]) == ("2.1", "mg/L", "0",
                                                                            "3")
    pe = rows["elastase"]
    assert (pe["value"], pe["ref_low"], pe["ref_high"]) == ("350", "200", "")
    assert rows["zonulin_serum"]["value"] == "48.5" and rows["zonulin_serum"]["unit"] == "ng/mL"
    table = labs.table
    assert table.index.names == ["sample_id", "marker"]
    assert table.loc[("MRN-001", "hscrp"), "value"] == 2.1
    assert table.loc[("MRN-001", "hscrp"), "original_value"] == "0.21"
    assert table.loc[("MRN-001", "hscrp"), "original_unit"] == "mg/dL"
    assert math.isnan(table.loc[("MRN-001", "elastase"), "ref_high"])
    assert labs.source == str(path) and len(labs.sha256 or "") == 64


def test_hs_crp_in_mg_per_litre_is_kept_and_the_unit_code_wins_over_the_text():
    obs = observation("crp", loinc="30522-7", value=3.4, unit="mg/L")
    obs["valueQuantity"]["unit"] = "milligrams per litre"  # display text; the UCUM code counts
    labs = read_lab_bundle(bundle(patient("p1", "M1"), obs))
    assert (labs.rows[0]["value"], labs.rows[0]["unit"]) == ("3.4", "mg/L")
    assert labs.table["original_unit"].iloc[0] == "mg/L"


@pytest.mark.parametrize(("code", "unit", "message"), [
    # the code was taken, silently 10 times off what the text said
    ("mg/L", "mg/dL", r"Observation\.valueQuantity\.code: the UCUM code 'mg/L' and the unit "
                      r"'mg/dL' beside it disagree \(a factor of 10\)"),
    # UCUM is case-sensitive: Mg/L is megagrams a litre (it was read as mg/L)
    ("Mg/L", "", r"the UCUM code 'Mg/L' is not 'mg/L': UCUM codes are case-sensitive"),
    ("mg/DL", "", r"the UCUM code 'mg/DL' is not 'mg/dL'"),
    # another kind of quantity (a mass fraction beside a concentration)
    ("mg/L", "ug/g", r"the UCUM code 'mg/L' and the unit 'ug/g' beside it disagree: "),
])
def test_a_ucum_code_that_is_miscased_or_contradicted_by_its_text_is_refused(code, unit,
                                                                             message):
    obs = observation("crp", loinc="30522-7", value=2, unit="mg/L")
    obs["valueQuantity"].update(code=code, unit=unit)
    if not unit:
        del obs["valueQuantity"]["unit"]
    with pytest.raises(UnitError, match=message):
        read_lab_bundle(bundle(patient("p1", "M1"), obs))


@pytest.mark.parametrize("system", ["http://unitsofmeasure.org/", "https://unitsofmeasure.org",
                                    "HTTP://UnitsOfMeasure.org", None])
def test_ucums_system_written_otherwise_or_left_out_is_no_way_past_the_agreement(system):
    # with a trailing slash the code was taken for a local one and the text read: 10x off
    obs = observation("crp", loinc="30522-7", value=28, unit="mg/L")
    obs["valueQuantity"].update(code="mg/L", unit="mg/dL")
    if system is None:
        del obs["valueQuantity"]["system"]
    else:
        obs["valueQuantity"]["system"] = system
    with pytest.raises(UnitError, match=r"the UCUM code 'mg/L' and the unit 'mg/dL' beside it "
                                        r"disagree \(a factor of 10\)"):
        read_lab_bundle(bundle(patient("p1", "M1"), obs))


def test_a_local_unit_systems_code_is_not_read_as_ucum():
    obs = observation("crp", loinc="30522-7", value=2.8, unit="mg/dL")
    obs["valueQuantity"].update(system="http://lab.example/units", code="MGDL")
    labs = read_lab_bundle(bundle(patient("p1", "M1"), obs))
    assert (labs.rows[0]["value"], labs.rows[0]["unit"]) == ("28", "mg/L")


def test_a_ucum_code_agrees_with_a_text_of_the_same_quantity():
    # capitals only: UCUM's case-insensitive form, as HL7 v2 systems send it
    for code, unit in (("mg/L", "mg/l"), ("ug/mL", "µg/mL"), ("mg/dL", "mg/dL"),
                       ("mg/l", "milligrams per litre"), ("MG/L", "mg/L"), ("MG/L", "")):
        obs = observation("crp", loinc="30522-7", value=2, unit="mg/L")
        obs["valueQuantity"].update(code=code, unit=unit)
        labs = read_lab_bundle(bundle(patient("p1", "M1"), obs))
        assert labs.rows[0]["unit"] == "mg/L", (code, unit)


@pytest.mark.parametrize(("times", "message"), [
    ({"effectiveDateTime": "0001-01-01"}, r"Observation\.effectiveDateTime: 0001-01-01 is not "
                                          r"a date a result can have \(expected 1900 to "),
    ({"effectiveDateTime": "9999-12-31T23:59:59Z"}, r"effectiveDateTime: 9999-12-31T23:59:59Z"),
    ({"issued": "1899-12-31T00:00:00Z"}, r"Observation\.issued: 1899-12-31"),
    ({"effectivePeriod": {"start": "2026-03-05", "end": "2026-03-01"}},
     r"Observation\.effectivePeriod: the period starts \(2026-03-05\) after it ends "
     r"\(2026-03-01\)"),
])
def test_a_result_dated_where_no_result_can_be_is_refused(times, message):
    obs = observation("fc", loinc="38445-3", value=40)
    obs.pop("effectiveDateTime", None)
    obs.update(times)
    with pytest.raises(ValidationError, match=message):
        read_lab_bundle(bundle(patient("p1", "M1"), obs))


def test_the_written_labs_csv_reads_back_to_the_same_values(tmp_path):
    doc = stool_and_blood_panel()
    doc["entry"].append({"resource": observation("lps", text="LPS", value=0.5, unit="ng/mL",
                                                 comparator="<")})
    labs = read_lab_bundle(doc)
    path = labs.write_csv(tmp_path / "labs.csv")
    again = read_labs(path)
    columns = ["value", "unit", "censored", "ref_low", "ref_high", "assay", *FHIR_COLUMNS]
    assert list(again.table.index) == list(labs.table.index)
    left, right = again.table[columns], labs.table[columns]
    assert left.fillna(-1).equals(right.fillna(-1))
    # <0.5 ng/mL is <500 pg/mL in LPS's catalogue unit, censored below
    assert again.table.loc[("MRN-001", "lps"), ["value", "censored"]].tolist() == [500.0, "<"]
    with pytest.raises(OutputError, match="exists; choose a new file"):
        labs.write_csv(path)
    labs.write_csv(path, overwrite=True)


@pytest.mark.parametrize(("comparator", "written"), [("<", "<20"), ("<=", "<20"),
                                                     (">", ">1800"), (">=", ">1800")])
def test_a_comparator_is_kept_as_a_censored_value(comparator, written):
    value = 20 if "<" in comparator else 1800
    doc = bundle(patient("p1", "M1"), observation("fc", loinc="38445-3", value=value,
                                                  comparator=comparator))
    labs = read_lab_bundle(doc)
    assert labs.rows[0]["value"] == written
    assert labs.table["censored"].iloc[0] == comparator[0]
    assert labs.table["original_value"].iloc[0] == f"{comparator}{value}"


def test_a_comparator_that_is_not_a_limit_or_below_zero_is_refused():
    doc = bundle(patient("p1", "M1"), observation("fc", loinc="38445-3", value=20,
                                                  comparator="ad"))
    with pytest.raises(ValidationError, match=r"Bundle\.entry\[1\] \(Observation/fc\): "
                                              r"Observation\.valueQuantity\.comparator: "
                                              r"expected <, <=, > or >="):
        read_lab_bundle(doc)
    doc = bundle(patient("p1", "M1"), observation("fc", loinc="38445-3", value=0,
                                                  comparator="<"))
    with pytest.raises(ValidationError, match="below 0 cannot be interpreted"):
        read_lab_bundle(doc)


def test_only_final_amended_and_corrected_results_are_imported():
    doc = bundle(patient("p1", "M1"),
                 observation("a", loinc="38445-3", value=40, status="amended"),
                 observation("b", loinc="30522-7", value=1, unit="mg/L", status="corrected"),
                 observation("c", loinc="25907-7", value=300, status="preliminary"),
                 observation("d", text="zonulin", value=30, unit="ng/mL",
                             status="entered-in-error"))
    labs = read_lab_bundle(doc)
    assert [r["marker"] for r in labs.rows] == ["calprotectin", "hscrp"]
    assert [r["status"] for r in labs.rows] == ["amended", "corrected"]
    assert [(s.where, s.reason.split(" (")[0]) for s in labs.skipped] == [
        ("Bundle.entry[3] (Observation/c)", "status 'preliminary'"),
        ("Bundle.entry[4] (Observation/d)", "status 'entered-in-error'")]
    assert labs.skipped[0].code == "http://loinc.org|25907-7"


def test_nothing_left_to_import_gives_an_empty_result_that_is_not_written(tmp_path):
    labs = read_lab_bundle(bundle(patient("p1", "M1"), observation(
        "c", loinc="25907-7", value=300, status="registered")))
    assert len(labs) == 0 and len(labs.skipped) == 1 and labs.table.empty
    with pytest.raises(OutputError, match="no lab result to write"):
        labs.write_csv(tmp_path / "labs.csv")
    assert not (tmp_path / "labs.csv").exists()


def _two_patients() -> dict:
    return bundle(patient("p1", "M1"), patient("p2", "M2"),
                  observation("a", loinc="38445-3", value=40),
                  observation("b", loinc="38445-3", value=90, subject="Patient/p2"),
                  observation("c", loinc="30522-7", value=2, unit="mg/L", subject="Patient/p2"))


def test_results_of_two_patients_need_one_to_be_picked():
    with pytest.raises(ValidationError, match=(
            r"the results are of 2 patients: urn:example:mrn\|M1 \(1 result\(s\)\); "
            r"urn:example:mrn\|M2 \(2 result\(s\)\); choose one with --patient "
            r"SYSTEM\|VALUE")):
        read_lab_bundle(_two_patients())
    labs = read_lab_bundle(_two_patients(), patient=(MRN, "M2"))
    assert labs.sample_id == "M2" and labs.patient_identifiers == ((MRN, "M2"),)
    assert [(r["marker"], r["value"]) for r in labs.rows] == [("calprotectin", "90"),
                                                              ("hscrp", "2")]
    assert labs.skipped[0].reason == "a result of another patient (urn:example:mrn|M1)"
    assert [p.label for p in labs.patients] == ["urn:example:mrn|M1", "urn:example:mrn|M2"]
    # "SYSTEM|VALUE" text and a bare VALUE work too; the sample id can be given
    assert read_lab_bundle(_two_patients(), patient=f"{MRN}|M1").rows[0]["value"] == "40"
    assert read_lab_bundle(_two_patients(), patient="M1", sample_id="S7").sample_id == "S7"


def test_a_picked_patient_that_is_not_there_is_named():
    with pytest.raises(NotFoundError, match=r"patient\(s\) not found in the FHIR resource: "
                                            r"'urn:example:mrn\|M9'.*Available: "
                                            r"urn:example:mrn\|M1, urn:example:mrn\|M2"):
        read_lab_bundle(_two_patients(), patient=(MRN, "M9"))
    with pytest.raises(InputError, match="patient must be"):
        read_lab_bundle(_two_patients(), patient=("only one",))  # type: ignore[arg-type]


def test_a_subject_identifier_and_a_patient_resource_are_one_patient():
    obs = observation("b", loinc="30522-7", value=2, unit="mg/L", subject=None)
    obs["subject"] = {"identifier": {"system": MRN, "value": "M1"}}
    labs = read_lab_bundle(bundle(patient("p1", "M1"),
                                  observation("a", loinc="38445-3", value=40), obs))
    assert len(labs.rows) == 2 and len(labs.patients) == 1


def _with_unknown() -> dict:
    return bundle(patient("p1", "M1"),
                  observation("fc", loinc="38445-3", value=40),
                  observation("crp", value=5, unit="mg/L",
                              code={"coding": [{"system": "http://loinc.org", "code": "1988-5",
                                                "display": "C reactive protein"}],
                                    "text": "hs-CRP"}),
                  observation("na", text="Sodium", value=140, unit="mmol/L"))


def test_an_unknown_code_stops_the_import_unless_skipped(tmp_path):
    # hs-CRP in the text, but LOINC 1988-5 (CRP) is not the catalogue's hs-CRP (30522-7)
    with pytest.raises(ValidationError, match=(
            r"panel\.json: Bundle\.entry\[2\] \(Observation/crp\): Observation\.code: unknown "
            r"code http://loinc\.org\|1988-5 \(C reactive protein\); the marker catalogue "
            r"knows the LOINC codes .*30522-7 \(hs-CRP\).*--skip-unknown.*nothing was "
            r"imported")):
        read_lab_bundle(write(tmp_path / "panel.json", _with_unknown()))
    labs = read_lab_bundle(_with_unknown(), skip_unknown=True)
    assert [r["marker"] for r in labs.rows] == ["calprotectin"]
    assert [(s.code, s.reason) for s in labs.skipped] == [
        ("http://loinc.org|1988-5 (C reactive protein)", "a code the marker catalogue does "
                                                         "not know"),
        ("Sodium", "a code the marker catalogue does not know")]


def test_a_unit_that_does_not_convert_is_an_error_even_when_skipping_unknown_codes():
    doc = bundle(patient("p1", "M1"), observation("fc", loinc="38445-3", value=40,
                                                  unit="ug/mL"))
    with pytest.raises(UnitError, match=(r"Bundle\.entry\[1\] \(Observation/fc\): "
                                         r"Observation\.valueQuantity\.code: cannot convert "
                                         r"ug/mL \(mass/volume\) to ug/g")):
        read_lab_bundle(doc, skip_unknown=True)
    doc = bundle(patient("p1", "M1"), observation("crp", loinc="30522-7", value=4,
                                                  unit="[IU]/mL"))
    with pytest.raises(UnitError, match=r"unknown unit '\[IU\]/mL'"):
        read_lab_bundle(doc)
    doc = bundle(patient("p1", "M1"), observation("crp", loinc="30522-7", value=4))
    doc["entry"][1]["resource"]["valueQuantity"] = {"value": 4}
    with pytest.raises(UnitError, match="the quantity has no unit"):
        read_lab_bundle(doc)


def test_a_range_in_another_unit_is_converted_with_its_own_unit():
    obs = observation("crp", loinc="30522-7", value=4, unit="mg/L")
    obs["referenceRange"] = [{"high": quantity(0.5, "mg/dL"), "appliesTo": [{"text": "men"}]},
                             {"low": quantity(0, "mg/dL"), "high": quantity(0.3, "mg/dL")}]
    labs = read_lab_bundle(bundle(patient("p1", "M1"), obs))
    # the range without appliesTo is used: 0–0.3 mg/dL = 0–3 mg/L
    assert (labs.rows[0]["ref_low"], labs.rows[0]["ref_high"]) == ("0", "3")


def test_invalid_structure_is_one_line_naming_the_resource_and_element(tmp_path):
    doc = stool_and_blood_panel()
    doc["entry"][2]["resource"]["valueQuantity"]["value"] = "0.21"
    path = write(tmp_path / "b.json", doc)
    with pytest.raises(FormatError) as caught:
        read_lab_bundle(path, skip_unknown=True)
    assert str(caught.value) == (f'{path}: Bundle.entry[2] (Observation/crp): '
                                 'Observation.valueQuantity.value: expected a number; found '
                                 'a text "0.21"')
    doc = stool_and_blood_panel()
    del doc["entry"][1]["resource"]["status"]
    with pytest.raises(FormatError, match=(r"Bundle\.entry\[1\] \(Observation/fc\): "
                                           r"Observation\.status: a required element is "
                                           r"missing")):
        read_lab_bundle(doc)
    doc = stool_and_blood_panel()
    doc["entry"][1]["resource"]["effectiveDateTime"] = "02/03/2026"
    with pytest.raises(FormatError, match=r"Observation\.effectiveDateTime: expected a FHIR "
                                          r"dateTime .*; found \"02/03/2026\""):
        read_lab_bundle(doc)


def test_values_that_are_not_numbers_are_refused():
    obs = observation("fc", loinc="38445-3", valueString="85 ug/g")
    with pytest.raises(ValidationError, match=r"Observation\.valueQuantity: expected a number "
                                              r"with a unit \(valueQuantity\) for Calprotectin; "
                                              r"found valueString"):
        read_lab_bundle(bundle(patient("p1", "M1"), obs))
    obs = observation("fc", loinc="38445-3", value=85)
    obs["valueQuantity"]["value"] = True
    with pytest.raises(ValidationError, match=r"valueQuantity\.value: expected a number; "
                                              r"found True"):
        read_lab_bundle(bundle(patient("p1", "M1"), obs))
    obs = observation("fc", loinc="38445-3", value=-3)
    with pytest.raises(ValidationError, match="expected a number of 0 or more"):
        read_lab_bundle(bundle(patient("p1", "M1"), obs))
    obs = observation("fc", loinc="38445-3", value=85, valueString="x")
    with pytest.raises(FormatError, match=r"Observation\.value\[x\]: expected one value; found "
                                          r"valueQuantity, valueString"):
        read_lab_bundle(bundle(patient("p1", "M1"), obs))


def test_one_bad_result_and_nothing_is_imported(tmp_path):
    doc = stool_and_blood_panel()
    doc["entry"].append({"resource": observation("bad", loinc="25907-7", value=10,
                                                 unit="ng/mL")})
    doc["entry"][1], doc["entry"][-1] = doc["entry"][-1], doc["entry"][1]
    # the bad one is first or last: either way, no result comes back
    for document in (doc, stool_and_blood_panel() | {"entry": [*stool_and_blood_panel()[
            "entry"], doc["entry"][1]]}):
        with pytest.raises(UnitError, match="nothing was imported"):
            read_lab_bundle(document)


def test_a_diagnostic_report_with_contained_results_and_specimen():
    report = {
        "resourceType": "DiagnosticReport", "id": "r1", "status": "final",
        "code": {"text": "Stool panel"},
        "subject": {"identifier": {"system": MRN, "value": "M5"}},
        "contained": [
            {"resourceType": "Specimen", "id": "sp", "type": {"text": "Stool"}},
            observation("fc", loinc="38445-3", value=120, subject=None,
                        specimen={"reference": "#sp"},
                        method={"text": "Bühlmann fCAL ELISA"}),
            observation("pe", loinc="25907-7", value=150, subject=None, comparator="<"),
        ],
        "result": [{"reference": "#fc"}, {"reference": "#pe"}],
    }
    labs = read_lab_bundle(report)
    rows = _by_marker(labs)
    assert labs.sample_id == "M5"
    assert rows["calprotectin"]["source"] == "DiagnosticReport/r1#fc"
    assert rows["calprotectin"]["report"] == "DiagnosticReport/r1"
    assert rows["calprotectin"]["specimen"] == "Stool"
    assert rows["calprotectin"]["assay"] == "Bühlmann fCAL ELISA"
    assert rows["elastase"]["value"] == "<150"
    missing = copy.deepcopy(report)
    missing["result"].append({"reference": "Observation/elsewhere"})
    with pytest.raises(FormatError, match=(r"DiagnosticReport/r1: DiagnosticReport\.result\[2\]"
                                           r"\.reference: expected an Observation of the input.*"
                                           r"'Observation/elsewhere' is not in the input")):
        read_lab_bundle(missing)


def test_a_result_of_another_patient_than_its_reports_is_refused():
    # the report's subject was ignored: the results went to the observation's patient
    report = {
        "resourceType": "DiagnosticReport", "id": "r1", "status": "final",
        "code": {"text": "Stool panel"},
        "subject": {"identifier": {"system": MRN, "value": "B1"}},
        "contained": [observation("fc", loinc="38445-3", value=120, subject=None)],
        "result": [{"reference": "#fc"}],
    }
    other = copy.deepcopy(report)
    other["contained"][0]["subject"] = {"identifier": {"system": MRN, "value": "A1"}}
    with pytest.raises(ValidationError, match=(
            r"DiagnosticReport/r1\.contained\[0\] \(Observation/fc\): Observation\.subject: "
            r"the result is of urn:example:mrn\|A1, but its report \(DiagnosticReport/r1\) "
            r"is of urn:example:mrn\|B1: a report's results are of its patient")):
        read_lab_bundle(other)
    # by reference: Patient/p2 against the report's Patient/p1 (one of them in the bundle)
    entries = bundle(patient("p1", "M1"), observation("a", loinc="38445-3", value=40,
                                                      subject="Patient/p2"))
    entries["entry"].append({"fullUrl": "https://lab.example/fhir/DiagnosticReport/r2",
                             "resource": {"resourceType": "DiagnosticReport", "id": "r2",
                                          "status": "final", "code": {"text": "Stool"},
                                          "subject": {"reference": "Patient/p1"},
                                          "result": [{"reference": "Observation/a"}]}})
    with pytest.raises(ValidationError, match=r"the result is of Patient/p2 \(no identifier\), "
                                              r"but its report .* is of urn:example:mrn\|M1"):
        read_lab_bundle(entries)
    # the same patient named two ways (the identifier, the resource holding it) is one
    same = copy.deepcopy(report)
    same["contained"][0]["subject"] = {"identifier": {"system": MRN, "value": "B1"}}
    assert read_lab_bundle(same).sample_id == "B1"
    assert read_lab_bundle(report).sample_id == "B1"


def test_urn_uuid_references_of_a_transaction_bundle():
    doc = bundle(
        {"resourceType": "Patient", "identifier": [{"system": MRN, "value": "M8"}]},
        {"resourceType": "Observation", "status": "final",
         "code": {"coding": [{"system": "http://loinc.org", "code": "38445-3"}]},
         "subject": {"reference": "urn:uuid:00000000-0000-4000-8000-000000000000"},
         "valueQuantity": {"value": 30, "system": UCUM, "code": "mg/kg"}},
        {"resourceType": "DiagnosticReport", "status": "final", "code": {"text": "stool"},
         "subject": {"reference": "urn:uuid:00000000-0000-4000-8000-000000000000"},
         "result": [{"reference": "urn:uuid:00000000-0000-4000-8000-000000000001"}]},
        kind="transaction", urls=True)
    for n, entry in enumerate(doc["entry"]):
        entry["request"] = {"method": "POST", "url": entry["resource"]["resourceType"]}
        assert n < 3
    labs = read_lab_bundle(doc)
    # 30 mg/kg = 30 ug/g
    assert labs.rows[0]["value"] == "30" and labs.sample_id == "M8"
    assert labs.rows[0]["source"] == "urn:uuid:00000000-0000-4000-8000-000000000001"
    assert labs.rows[0]["report"] == "urn:uuid:00000000-0000-4000-8000-000000000002"


def test_a_panel_with_members_and_an_observation_with_components():
    members = [observation("fc", loinc="38445-3", value=40),
               observation("pe", loinc="25907-7", value=420)]
    panel = observation("panel", text="Stool panel",
                        hasMember=[{"reference": "Observation/fc"},
                                   {"reference": "Observation/pe"}])
    labs = read_lab_bundle(bundle(patient("p1", "M1"), panel, *members))
    assert [r["marker"] for r in labs.rows] == ["calprotectin", "elastase"]
    assert "a panel with no value of its own" in labs.skipped[0].reason
    combined = observation("both", text="Stool panel", component=[
        {"code": {"coding": [{"system": "http://loinc.org", "code": "38445-3"}]},
         "valueQuantity": quantity(40, "ug/g"),
         "referenceRange": [{"high": quantity(50, "ug/g")}]},
        {"code": {"text": "Elastase"}, "valueQuantity": quantity(0.42, "mg/g")}])
    labs = read_lab_bundle(bundle(patient("p1", "M1"), combined))
    assert [(r["marker"], r["value"], r["ref_high"], r["source"]) for r in labs.rows] == [
        ("calprotectin", "40", "50", "Observation/both.component[0]"),
        ("elastase", "420", "", "Observation/both.component[1]")]


def test_the_same_marker_twice_and_a_result_without_value():
    doc = bundle(patient("p1", "M1"), observation("a", loinc="38445-3", value=40),
                 observation("b", loinc="38445-3", value=60))
    with pytest.raises(ValidationError, match=r"Bundle\.entry\[2\] \(Observation/b\): "
                                              r"calprotectin of sample 'M1' is already given "
                                              r"by Bundle\.entry\[1\]"):
        read_lab_bundle(doc)
    absent = observation("a", loinc="38445-3", dataAbsentReason={"text": "not performed"})
    labs = read_lab_bundle(bundle(patient("p1", "M1"), absent,
                                  observation("b", loinc="30522-7", value=1, unit="mg/L")))
    assert labs.skipped[0].reason == "no value (dataAbsentReason: not performed)"
    with pytest.raises(ValidationError, match="found no value"):
        read_lab_bundle(bundle(patient("p1", "M1"), observation("a", loinc="38445-3")))


def test_a_result_without_patient_identifier_needs_a_sample_id():
    obs = observation("fc", loinc="38445-3", value=40, subject="Patient/example")
    with pytest.raises(ValidationError, match=r"no patient identifier \(Patient/example \(no "
                                              r"identifier\)\).*--sample ID"):
        read_lab_bundle(obs)
    assert read_lab_bundle(obs, sample_id="S1").rows[0]["sample_id"] == "S1"


@pytest.mark.parametrize(("content", "error", "message"), [
    (b"", FormatError, r"not JSON \(line 1, column 1"),
    (b"{not json", FormatError, "not JSON"),
    (b'<Bundle xmlns="http://hl7.org/fhir"/>', FormatError, "looks like XML"),
    (b"[1, 2]", FormatError, "found a JSON list"),
    (b'{"type": "collection"}', FormatError, "no 'resourceType'"),
    (b'{"resourceType": "Observation", "status": "final", "code": {"text": "x"}, '
     b'"valueQuantity": {"value": NaN}}', FormatError, "NaN, which is not a JSON number"),
    (b'{"resourceType": "Patient"}', FormatError, "expected a FHIR R4 Bundle, DiagnosticReport "
                                                  "or Observation; found a Patient"),
    (b'{"resourceType": "Bundle", "type": "history"}', FormatError, "Bundle.type: expected"),
    (b'{"resourceType": "NutritionIntake", "status": "completed"}', FormatError,
     "'NutritionIntake' is not a FHIR R4 resource type"),
    (b'{"resourceType": "Observation", "status": "final", "code": {"text": "x"}, '
     b'"triggeredBy": []}', FormatError, r"Observation\.triggeredBy: .*it is an element of "
                                         r"FHIR R5"),
    (b'{"resourceType": "Observation", "status": "final", "code": {"text": "x"}, '
     b'"comments": "old"}', FormatError, "it is an element of FHIR DSTU2"),
    (b'{"resourceType": "Bundle", "type": "collection", "entry": [{"resource": '
     b'{"resourceType": "Transport", "id": "t"}}]}', FormatError,
     r"Bundle\.entry\[0\] \(Transport/t\).*'Transport' is not a FHIR R4 resource type"),
    (b"\xff\xfe{}", FormatError, "UTF-16"),
])
def test_what_is_not_fhir_r4_is_refused_plainly(content, error, message):
    with pytest.raises(error, match=message):
        read_lab_bundle(content)


def test_the_size_limit(monkeypatch, tmp_path):
    path = write(tmp_path / "big.json", stool_and_blood_panel())
    monkeypatch.setenv("GUTAXIS_MAX_FHIR_BYTES", "100")
    with pytest.raises(UnsafeInputError, match=r"big\.json: \d+ bytes is more than the limit "
                                               r"of 100 bytes.*GUTAXIS_MAX_FHIR_BYTES"):
        read_lab_bundle(path)
    with pytest.raises(UnsafeInputError, match="more than the limit"):
        read_lab_bundle(path.read_bytes())
    with pytest.raises(FormatError, match="cannot read the FHIR file"):
        read_lab_bundle(tmp_path / "absent.json")


def test_a_subject_whose_reference_and_identifier_name_two_patients_is_refused():
    # it was read as the reference's patient, the contradicting identifier ignored
    obs = observation("fc", loinc="38445-3", value=40, unit="ug/g")
    obs["subject"] = {"reference": "Patient/p1", "identifier": {"system": MRN, "value": "P2"}}
    with pytest.raises(ValidationError, match=r"subject\.identifier: urn:example:mrn\|P2 is not "
                                              r"an identifier of the patient its reference"):
        read_lab_bundle(bundle(patient("p1", "P4"), obs))
    # nor one of another system that the Patient does not hold: joined to it, it merged
    # two Patients of the file holding it into one (a review finding)
    obs["subject"]["identifier"] = {"system": "urn:nhs", "value": "943"}
    with pytest.raises(ValidationError, match=r"urn:nhs\|943 is not an identifier"):
        read_lab_bundle(bundle(patient("p1", "P4"), obs))
    # one of the Patient's own is the same patient
    obs["subject"]["identifier"] = {"system": MRN, "value": "P4"}
    labs = read_lab_bundle(bundle(patient("p1", "P4"), obs))
    assert labs.patient_identifiers == ((MRN, "P4"),)


def test_a_subject_naming_a_group_is_refused_whatever_its_type_says():
    obs = observation("fc", loinc="38445-3", value=40, unit="ug/g")
    obs["subject"] = {"reference": "Group/g1", "type": "Patient"}
    with pytest.raises(ValidationError, match=r"subject: expected a Patient; found a Group and a "
                                              r"Patient \(Group/g1\)"):
        read_lab_bundle(bundle(obs))


def test_other_patients_named_anywhere_in_the_input_are_counted():
    # the results are all P4's, but the batch holds another person's Patient and condition
    # (the export handed such a file to the patient: only the results' subjects were counted)
    own = observation("fc", loinc="38445-3", value=40, unit="ug/g")
    labs = read_lab_bundle(bundle(patient("p1", "P4"), own))
    assert labs.other_patients == 0
    condition = {"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p2"}}
    labs = read_lab_bundle(bundle(patient("p1", "P4"), patient("p2", "P5"), own, condition),
                           patient=(MRN, "P4"))
    assert labs.other_patients == 1  # P5: its Patient and its condition, one person
    stranger = {**condition, "subject": {"identifier": {"system": MRN, "value": "P9"}}}
    labs = read_lab_bundle(bundle(patient("p1", "P4"), own, stranger))
    assert labs.other_patients == 1
