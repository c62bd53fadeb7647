"""The official HL7 FHIR R4 examples kept in ``tests/data/fhir/hl7-r4-examples/``.

Lab results written by other systems than gutaxis, copied from the npm package
``hl7.fhir.r4.examples`` 4.0.1 (CC0-1.0); ``tests/data/fhir/PROVENANCE.md`` says
what each file holds and where it came from.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HL7_R4_EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "fhir" / "hl7-r4-examples"


def hl7_example_names() -> list[str]:
    """Return the file names of the kept examples, sorted."""
    return sorted(path.name for path in HL7_R4_EXAMPLES.glob("*.json"))


def hl7_example(name: str) -> dict[str, Any]:
    """Return one kept example (``hl7-r4-examples/NAME``) parsed.

    Examples
    --------
    >>> hl7_example("Observation-f001.json")["code"]["coding"][0]["code"]
    '15074-8'
    """
    with open(HL7_R4_EXAMPLES / name, encoding="utf-8") as handle:
        loaded: dict[str, Any] = json.load(handle)
    return loaded
