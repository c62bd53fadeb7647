"""The kept HL7 R4 examples: unchanged since selected, and read by fhirclient's strict models."""

from __future__ import annotations

import hashlib
import re

import pytest
from fhirclient.models.fhirelementfactory import FHIRElementFactory

from builders.fhir_examples import HL7_R4_EXAMPLES, hl7_example, hl7_example_names

PROVENANCE = HL7_R4_EXAMPLES.parent / "PROVENANCE.md"


def provenance_hashes() -> dict[str, str]:
    """Return ``{file name: SHA-256}`` from the file table of PROVENANCE.md."""
    rows = re.findall(r"^\| `([^`]+\.json)` \| [\d,]+ \| `([0-9a-f]{64})` \|",
                      PROVENANCE.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return dict(rows)


def test_every_file_is_listed_with_its_hash() -> None:
    listed = provenance_hashes()
    assert sorted(listed) == hl7_example_names()
    found = {name: hashlib.sha256((HL7_R4_EXAMPLES / name).read_bytes()).hexdigest()
             for name in listed}
    assert found == listed


@pytest.mark.parametrize("name", hl7_example_names())
def test_fhirclient_strict_models_read_the_example(name: str) -> None:
    resource = hl7_example(name)
    model = FHIRElementFactory.instantiate(resource["resourceType"], resource)  # strict=True
    written = model.as_json()
    if name == "Patient-pat2.json":
        # fhirclient has no place for extensions on primitives: it drops `_gender`
        assert "_gender" in resource and "_gender" not in written
        del resource["_gender"]
    assert written == resource
