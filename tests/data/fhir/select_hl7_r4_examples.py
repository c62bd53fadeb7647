"""Copy the chosen HL7 FHIR R4 example resources into ``hl7-r4-examples/``.

Run from the repository root, with the npm package's tarball fetched by npm::

    (cd /tmp && npm pack hl7.fhir.r4.examples@4.0.1)
    .venv/bin/python tests/data/fhir/select_hl7_r4_examples.py \
        /tmp/hl7.fhir.r4.examples-4.0.1.tgz

The tarball's SHA-512 is checked against the registry's ``integrity`` first.  Whole
example files are copied byte for byte; the two lab reports that the specification
keeps only inside ``Bundle-72ac8493-…`` (its ``diagnosticreport-examples-general``
collection of 17 report Bundles) are written out on their own, with every value as
in the source (decimals keep their digits: they are parsed as ``Decimal`` and
written back as the same text).  The script prints each file's SHA-256, which
``PROVENANCE.md`` lists.  gutaxis is not imported.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
import tarfile
from decimal import Decimal
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TARGET = HERE / "hl7-r4-examples"

#: npm's ``dist.integrity`` of hl7.fhir.r4.examples@4.0.1
INTEGRITY = ("sha512-DXBdIZOeQaSKIgCU7w6HOC7sw/6BzylmipLkBW4f//pT+Bc94x+8LImwTdvaNThP"
             "JoOzpBzvxAzNqjeu3X/zLw==")

#: example files copied unchanged
WHOLE_FILES = [
    "Bundle-ghp.json",
    "Bundle-lipids.json",
    "Observation-f001.json",
    "Observation-unsat.json",
    "Observation-vp-oyster.json",
    "Patient-pat2.json",
    "Patient-f001.json",
    "Specimen-isolate.json",
    "Bundle-bundle-transaction.json",
    "Bundle-bundle-example.json",
]

#: (source file, index in its ``entry``, file written): the report Bundles kept inside
#: the general diagnostic-report examples
EXTRACTED = [
    ("Bundle-72ac8493-52ac-41bd-8d5d-7258c289b5ea.json", 0, "Bundle-3-acme-elft.json"),
    ("Bundle-72ac8493-52ac-41bd-8d5d-7258c289b5ea.json", 16, "Bundle-27-acme-hscrp.json"),
]


def dump_json(value: Any, indent: int = 0) -> str:
    """Write parsed JSON back as text, decimals with the digits they had.

    Parameters
    ----------
    value : Any
        JSON parsed with ``parse_float=Decimal``.
    indent : int
        The current depth (two spaces each).

    Returns
    -------
    str
        The JSON text.

    Examples
    --------
    >>> dump_json(json.loads('{"v": 2.80, "n": [1, true]}', parse_float=Decimal))
    '{\\n  "v": 2.80,\\n  "n": [\\n    1,\\n    true\\n  ]\\n}'
    """
    pad, inner = "  " * indent, "  " * (indent + 1)
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{inner}{json.dumps(key, ensure_ascii=False)}: {dump_json(item, indent + 1)}"
                 for key, item in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, list):
        if not value:
            return "[]"
        return "[\n" + ",\n".join(inner + dump_json(item, indent + 1) for item in value) \
            + "\n" + pad + "]"
    if isinstance(value, Decimal):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def main(tarball: Path) -> None:
    """Check the tarball and write the selection; print each file's SHA-256."""
    data = tarball.read_bytes()
    integrity = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
    if integrity != INTEGRITY:
        raise SystemExit(f"{tarball}: integrity {integrity}, expected {INTEGRITY}")
    TARGET.mkdir(exist_ok=True)
    with tarfile.open(tarball) as archive:
        def member(name: str) -> bytes:
            extracted = archive.extractfile(f"package/{name}")
            if extracted is None:
                raise SystemExit(f"{tarball}: no package/{name}")
            return extracted.read()

        for name in WHOLE_FILES:
            (TARGET / name).write_bytes(member(name))
        for source, index, name in EXTRACTED:
            bundle = json.loads(member(source), parse_float=Decimal)
            resource = bundle["entry"][index]["resource"]
            text = dump_json(resource) + "\n"
            # the written text must parse back to the same values
            if json.loads(text, parse_float=Decimal) != resource:
                raise SystemExit(f"{name}: written text does not parse back to the source")
            (TARGET / name).write_text(text, encoding="utf-8")
    for path in sorted(TARGET.glob("*.json")):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        print(f"{path.name}\t{path.stat().st_size}\t{digest}")  # noqa: T201


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: select_hl7_r4_examples.py hl7.fhir.r4.examples-4.0.1.tgz")
    main(Path(sys.argv[1]))
