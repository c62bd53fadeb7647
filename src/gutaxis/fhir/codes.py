"""The code systems gutaxis's FHIR exports use, and the gutaxis ``CodeSystem`` itself.

Which code names a measure is knowledge-base data, never a constant here:
LOINC codes and UCUM units come from ``markers.yaml``, NCBI Taxonomy ids from
``taxa.yaml`` (each with the source where it was seen), and the gutaxis
CodeSystem's concepts from ``fhir.yaml`` plus — so that no text is kept twice —
the markers without a LOINC code, the dysbiosis indices of ``taxa.yaml`` and
the food groups of ``foods.yaml``.  The system URIs below are those the FHIR
R4 specification names for LOINC, UCUM, NCBI Taxonomy and its own
terminologies.
"""

from __future__ import annotations

import functools
from typing import Any

from gutaxis.knowledge import (
    load_fhir_knowledge,
    load_food_catalog,
    load_marker_catalog,
    load_taxa_catalog,
)

__all__ = ["LOINC", "UCUM", "NCBI_TAXONOMY", "OBSERVATION_CATEGORY", "INTERPRETATION",
           "DATA_ABSENT_REASON", "gutaxis_system", "gutaxis_code_system", "gutaxis_concepts",
           "knowledge_version", "marker_code", "index_code", "taxon_code", "component_code",
           "food_group_code", "range_type_code"]

#: LOINC, as FHIR R4 names it.
LOINC = "http://loinc.org"
#: UCUM, the units of ``Quantity.code``.
UCUM = "http://unitsofmeasure.org"
#: NCBI Taxonomy (the system the issue and HL7's terminology list give).
NCBI_TAXONOMY = "http://www.ncbi.nlm.nih.gov/taxonomy"
#: FHIR R4's ``observation-category`` code system.
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
#: HL7 v3 ``ObservationInterpretation`` (H, L, N), the R4 binding of ``interpretation``.
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
#: FHIR R4's ``data-absent-reason`` code system.
DATA_ABSENT_REASON = "http://terminology.hl7.org/CodeSystem/data-absent-reason"


def gutaxis_system() -> str:
    """Return the canonical URL of the gutaxis CodeSystem (from ``fhir.yaml``).

    Returns
    -------
    str

    Examples
    --------
    >>> gutaxis_system()
    'https://gutaxis.org/fhir/CodeSystem/gutaxis'
    """
    return load_fhir_knowledge().code_system.url


def knowledge_version() -> str:
    """Return the version of the knowledge the CodeSystem is drawn from.

    ``fhir.yaml``'s version, then ``markers.yaml``'s, ``taxa.yaml``'s and
    ``foods.yaml``'s, joined by ``+``.

    Returns
    -------
    str
    """
    return "+".join((load_fhir_knowledge().version,
                     f"markers.{load_marker_catalog().version}",
                     f"taxa.{load_taxa_catalog().version}",
                     f"foods.{load_food_catalog().version}"))


def _sentence(text: str) -> str:
    text = " ".join(str(text).split())
    return text if text.endswith(".") else text + "."


@functools.cache
def _concepts() -> tuple[tuple[str, str, str], ...]:
    out: list[tuple[str, str, str]] = []
    for entry in load_marker_catalog().markers:
        if entry.loinc is None:
            definition = (f"{entry.full_name}, measured in {entry.specimen} "
                          f"(unit {entry.unit}). {_sentence(entry.indicates)} "
                          f"Evidence: {entry.evidence}. See the gutaxis marker catalogue "
                          f"(markers.yaml, id {entry.id}) for its sources and caveats.")
            out.append((f"marker:{entry.id}", entry.full_name, definition))
    indices = load_taxa_catalog().indices
    for key, index in (("gmhi", indices.gmhi), ("md_index", indices.md_index)):
        out.append((f"index:{key}", index.name,
                    f"{_sentence(index.definition)} See taxa.yaml (indices.{key}) for the "
                    "sources and taxon lists."))
    for concept in load_fhir_knowledge().concepts:
        out.append((concept.code, concept.display, " ".join(concept.definition.split())))
    for group in load_food_catalog().groups:
        out.append((f"food-group:{group.id}", group.name,
                    f"{_sentence(group.description)} Its foods and their sources are in the "
                    f"gutaxis food catalogue (foods.yaml, group {group.id})."))
    return tuple(out)


def gutaxis_concepts() -> dict[str, tuple[str, str]]:
    """Return every concept of the gutaxis CodeSystem: code → (display, definition).

    Returns
    -------
    dict of str to (str, str)

    Examples
    --------
    >>> concepts = gutaxis_concepts()
    >>> concepts["marker:lbp"][0]
    'Lipopolysaccharide-binding protein'
    >>> "marker:calprotectin" in concepts  # it has a LOINC code
    False
    """
    return {code: (display, definition) for code, display, definition in _concepts()}


def gutaxis_code_system() -> dict[str, Any]:
    """Return the gutaxis ``CodeSystem`` resource (FHIR R4), JSON-ready.

    ``status`` active, ``content`` complete, ``caseSensitive``, ``version``
    :func:`knowledge_version`, one ``concept`` per :func:`gutaxis_concepts`.

    Returns
    -------
    dict

    Examples
    --------
    >>> cs = gutaxis_code_system()
    >>> cs["url"], cs["content"], cs["count"] == len(cs["concept"])
    ('https://gutaxis.org/fhir/CodeSystem/gutaxis', 'complete', True)
    """
    info = load_fhir_knowledge().code_system
    concept = [{"code": code, "display": display, "definition": definition}
               for code, display, definition in _concepts()]
    return {"resourceType": "CodeSystem", "id": "gutaxis", "url": info.url,
            "version": knowledge_version(), "name": info.name, "title": info.title,
            "status": "active", "experimental": False, "publisher": info.publisher,
            "description": " ".join(info.description.split()), "caseSensitive": True,
            "content": "complete", "count": len(concept), "concept": concept}


def _gutaxis(code: str, text: str) -> dict[str, Any]:
    concepts = gutaxis_concepts()
    if code not in concepts:
        return {"text": text}
    return {"coding": [{"system": gutaxis_system(), "code": code,
                        "display": concepts[code][0]}], "text": text}


def marker_code(marker_id: str, text: str) -> dict[str, Any]:
    """Return the ``CodeableConcept`` of a marker: LOINC when it has one, else gutaxis.

    Parameters
    ----------
    marker_id : str
        The marker catalogue's id (``"calprotectin"``).
    text : str
        The label shown (``code.text``).

    Returns
    -------
    dict
        ``{"coding": [...], "text": text}``; only ``text`` for a marker the
        catalogue does not know.

    Examples
    --------
    >>> marker_code("calprotectin", "Calprotectin")["coding"][0]["code"]
    '38445-3'
    >>> marker_code("lps", "LPS")["coding"][0]["code"]
    'marker:lps'
    """
    entry = next((m for m in load_marker_catalog().markers if m.id == marker_id), None)
    if entry is not None and entry.loinc:
        return {"coding": [{"system": LOINC, "code": entry.loinc}], "text": text}
    return _gutaxis(f"marker:{marker_id}", text)


def index_code(index_id: str, text: str) -> dict[str, Any]:
    """Return the ``CodeableConcept`` of an index (``"gmhi"``, ``"shannon_entropy"``).

    Examples
    --------
    >>> index_code("gmhi", "GMHI")["coding"][0]["code"]
    'index:gmhi'
    """
    return _gutaxis(f"index:{index_id}", text)


def taxon_code(taxon_id: str, text: str) -> dict[str, Any]:
    """Return the ``CodeableConcept`` of a key taxon: its NCBI Taxonomy id when known.

    A taxon without a verified id in ``taxa.yaml`` (a group, or one whose id
    was not seen in a source) gets ``text`` only.

    Examples
    --------
    >>> taxon_code("faecalibacterium_prausnitzii", "F. prausnitzii")["coding"][0]["code"]
    '853'
    >>> taxon_code("butyrate_producers", "Butyrate producers")
    {'text': 'Butyrate producers'}
    """
    entry = next((t for t in load_taxa_catalog().taxa if t.id == taxon_id), None)
    if entry is None or entry.ncbi is None:
        return {"text": text}
    return {"coding": [{"system": NCBI_TAXONOMY, "code": entry.ncbi.taxid,
                        "display": entry.ncbi.name}], "text": text}


def component_code(code: str) -> dict[str, Any]:
    """Return the ``CodeableConcept`` of a percentile component (``"percentile"`` …)."""
    return _gutaxis(code, gutaxis_concepts()[code][0])


def range_type_code(origin: str) -> dict[str, Any]:
    """Return the ``referenceRange.type`` of a range that is not a laboratory's.

    ``origin`` is the profile's ``range_used.kind``: ``catalogue`` (a published
    cut-off of the marker catalogue) or ``reference`` (the reference cohort's).

    Examples
    --------
    >>> range_type_code("catalogue")["coding"][0]["code"]
    'range:catalogue'
    """
    code = f"range:{origin}"
    if code not in gutaxis_concepts():
        raise ValueError(f"no range type {origin!r}; expected catalogue or reference")
    return _gutaxis(code, gutaxis_concepts()[code][0])


def food_group_code(group_id: str) -> dict[str, Any]:
    """Return the ``CodeableConcept`` of a food group of the catalogue (``"gluten"``).

    Examples
    --------
    >>> food_group_code("gluten")["coding"][0]["code"]
    'food-group:gluten'
    """
    concepts = gutaxis_concepts()
    code = f"food-group:{group_id}"
    text = concepts[code][0] if code in concepts else group_id
    return _gutaxis(code, text)
