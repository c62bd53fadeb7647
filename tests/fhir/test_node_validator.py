"""The independent FHIR validator itself: it refuses what is broken, naming the path.

If the harness accepted everything, every "our output validates" test built on it
would pass for nothing; these tests show it refuses each kind of fault we rely on it
to catch, and accepts the official HL7 examples (written by others).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from builders.fhir_examples import hl7_example, hl7_example_names
from builders.fhir_node import (
    NODE_VALIDATOR_DIR,
    NodeFhirValidator,
    NodeUnavailable,
    check_node_validator,
)


def observation(**changes: Any) -> dict[str, Any]:
    """A valid lab Observation (fasting glucose, as in HL7's f001), with ``changes`` applied."""
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": "glucose",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "15074-8",
                             "display": "Glucose [Moles/volume] in Blood"}]},
        "subject": {"reference": "Patient/f001"},
        "effectiveDateTime": "2013-04-02T09:30:10+01:00",
        "valueQuantity": {"value": 6.3, "unit": "mmol/l", "system": "http://unitsofmeasure.org",
                          "code": "mmol/L"},
        "referenceRange": [{"low": {"value": 3.1, "unit": "mmol/l",
                                    "system": "http://unitsofmeasure.org", "code": "mmol/L"},
                            "high": {"value": 6.2, "unit": "mmol/l",
                                     "system": "http://unitsofmeasure.org", "code": "mmol/L"}}],
    }
    for key, value in changes.items():
        if value is None:
            resource.pop(key, None)
        else:
            resource[key] = value
    return resource


def test_a_valid_observation_passes(fhir_node_validator: NodeFhirValidator) -> None:
    [result] = fhir_node_validator([observation()])
    assert result.ok, result.describe()
    assert result.errors == ()
    assert (result.resource_type, result.id) == ("Observation", "glucose")


def test_missing_status_and_code_are_named(fhir_node_validator: NodeFhirValidator) -> None:
    [result] = fhir_node_validator([observation(status=None, code=None)])
    assert not result.ok
    assert result.error_paths == {"Observation.status", "Observation.code"}
    assert all(issue.details == "Missing required property" for issue in result.errors)


def test_a_wrong_type_is_named(fhir_node_validator: NodeFhirValidator) -> None:
    quantity = {"value": "6.3", "unit": "mmol/l"}  # a string where FHIR has a decimal
    [result] = fhir_node_validator([observation(valueQuantity=quantity)])
    assert not result.ok
    [error] = result.errors
    assert error.expression == ("Observation.value[x].value",)
    assert "expected number" in error.details


def test_a_malformed_date_is_named(fhir_node_validator: NodeFhirValidator) -> None:
    [result] = fhir_node_validator([observation(effectiveDateTime="02/04/2013")])
    assert not result.ok
    assert result.error_paths == {"Observation.effective[x]"}


def test_an_unknown_element_is_named(fhir_node_validator: NodeFhirValidator) -> None:
    [result] = fhir_node_validator([observation(units="mmol/L")])
    assert not result.ok
    [error] = result.errors
    assert error.expression == ("Observation.units",)
    assert '"units"' in error.details


def test_codes_outside_a_required_value_set_are_named(
        fhir_node_validator: NodeFhirValidator) -> None:
    quantity = {"value": 0.5, "comparator": "lt", "unit": "mg/L"}  # the comparator is "<"
    [result] = fhir_node_validator([observation(status="done", valueQuantity=quantity)])
    assert not result.ok
    assert result.error_paths == {"Observation.status", "Observation.value[x].comparator"}
    assert {issue.code for issue in result.errors} == {"code-invalid"}
    # the same resource with the codes of the value sets passes
    quantity["comparator"] = "<"
    [fixed] = fhir_node_validator([observation(status="final", valueQuantity=quantity)])
    assert fixed.ok, fixed.describe()


def test_an_invariant_is_checked(fhir_node_validator: NodeFhirValidator) -> None:
    # obs-3: a reference range needs at least a low, a high or a text
    [result] = fhir_node_validator([observation(referenceRange=[{"age": {"low": {"value": 18}}}])])
    assert not result.ok
    [error] = result.errors
    assert error.code == "invariant"
    assert "obs-3" in error.details
    assert error.expression == ("Observation.referenceRange[0]",)


def test_a_bundle_entry_is_validated_inside_the_bundle(
        fhir_node_validator: NodeFhirValidator) -> None:
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": "urn:uuid:7f3d2c0e-6b1a-4b55-9b1e-0c8f4c2a9d11", "resource": observation()},
        {"fullUrl": "urn:uuid:0b6a1a52-3f0e-4d8c-a7e4-1d5f3e9b2c77",
         "resource": observation(code=None)},
    ]}
    [result] = fhir_node_validator([bundle])
    assert not result.ok
    assert result.error_paths == {"Bundle.entry[1].resource.code"}


def test_results_come_back_in_order_for_a_batch(fhir_node_validator: NodeFhirValidator) -> None:
    batch = [observation(id="a"), observation(id="b", status=None), observation(id="c")]
    assert [(r.id, r.ok) for r in fhir_node_validator(batch)] == [
        ("a", True), ("b", False), ("c", True)]


def test_assert_valid_lists_every_issue(fhir_node_validator: NodeFhirValidator) -> None:
    fhir_node_validator.assert_valid([observation()])
    with pytest.raises(AssertionError, match=r"(?s)Observation/glucose: INVALID.*"
                                             r"Observation\.status.*Observation\.code"):
        fhir_node_validator.assert_valid([observation(status=None, code=None)])


def test_a_single_resource_must_be_passed_as_a_list(
        fhir_node_validator: NodeFhirValidator) -> None:
    with pytest.raises(TypeError, match=r"validator\(\[resource\]\)"):
        fhir_node_validator(observation())  # type: ignore[arg-type]


def test_the_hl7_examples_are_valid(fhir_node_validator: NodeFhirValidator) -> None:
    names = hl7_example_names()
    assert len(names) >= 12  # each listed in PROVENANCE.md (test_hl7_examples)
    results = fhir_node_validator([hl7_example(name) for name in names])
    invalid = {name: result.describe() for name, result in zip(names, results, strict=True)
               if not result.ok}
    assert invalid == {}


def test_a_fault_deep_in_a_real_bundle_is_found(fhir_node_validator: NodeFhirValidator) -> None:
    # HL7's General Health Profile: a report and 51 Observations from another system; one
    # status spoiled, one comparator spoiled, one unit value turned into text
    bundle = hl7_example("Bundle-ghp.json")
    spoiled = copy.deepcopy(bundle)
    index = {entry["resource"]["id"]: i for i, entry in enumerate(spoiled["entry"])}
    spoiled["entry"][index["o1"]]["resource"]["status"] = "complete"
    spoiled["entry"][index["u8"]]["resource"]["valueQuantity"]["comparator"] = "less than"
    spoiled["entry"][index["o2"]]["resource"]["valueQuantity"]["value"] = "4.2"
    original, result = fhir_node_validator([bundle, spoiled])
    assert original.ok, original.describe()
    assert result.error_paths == {
        f"Bundle.entry[{index['o1']}].resource.status",
        f"Bundle.entry[{index['u8']}].resource.value[x].comparator",
        f"Bundle.entry[{index['o2']}].resource.value[x].value",
    }


def test_missing_node_is_reported_with_the_fix(monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    monkeypatch.setenv("NODE", str(tmp_path / "no-node"))
    with pytest.raises(NodeUnavailable, match=r"needs Node\.js .*apt install nodejs npm"):
        check_node_validator()


def test_packages_not_installed_or_stale_are_reported(monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    import builders.fhir_node as fhir_node

    fake_node = tmp_path / "node"
    fake_node.write_text("")  # only its existence is checked here
    monkeypatch.setenv("NODE", str(fake_node))
    package = json.loads((NODE_VALIDATOR_DIR / "package.json").read_text(encoding="utf-8"))
    (tmp_path / "package.json").write_text(json.dumps(package), encoding="utf-8")
    monkeypatch.setattr(fhir_node, "NODE_VALIDATOR_DIR", tmp_path)
    with pytest.raises(NodeUnavailable, match=r"not installed .*npm ci --prefix tests/fhir/node"):
        check_node_validator()
    for name in fhir_node.REQUIRED_PACKAGES:
        folder = tmp_path / "node_modules" / name
        folder.mkdir(parents=True)
        (folder / "package.json").write_text(json.dumps({"version": "0.0.1"}), encoding="utf-8")
    with pytest.raises(NodeUnavailable, match=r"0\.0\.1 installed but package\.json pins"):
        check_node_validator()
