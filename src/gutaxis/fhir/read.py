"""FHIR R4 lab results in: a ``Bundle``, ``DiagnosticReport`` or ``Observation`` → LABS.csv rows.

:func:`read_lab_bundle` checks the input with the strict FHIR R4 models of
``fhirclient``, finds the patient, matches each ``Observation`` to the marker
catalogue (LOINC code or a catalogue name/alias), converts its value and the
lab's reference range to the catalogue unit, and returns a :class:`LabBundle`
whose rows are the ``LABS.csv`` layout :func:`gutaxis.markers.read_labs`
reads.  All or nothing: the first problem is one error, and nothing is
returned.
"""

from __future__ import annotations

import collections
import csv
import dataclasses
import datetime as dt
import io
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from gutaxis.exceptions import (
    FormatError,
    GutaxisError,
    InputError,
    NotFoundError,
    OutputError,
    UnitError,
    ValidationError,
)
from gutaxis.fhir._inbound import (
    LoadedResource,
    Located,
    ResourceIndex,
    check_r4_structure,
    finite_number,
    literal_target,
    load_resource,
)
from gutaxis.fhir.codes import gutaxis_system
from gutaxis.knowledge import MarkerCatalog, MarkerEntry, load_marker_catalog
from gutaxis.markers.labs import FHIR_COLUMNS, OPTIONAL_COLUMNS, REQUIRED_COLUMNS, TABLE_COLUMNS
from gutaxis.markers.units import conversion_factor, parse_unit
from gutaxis.outputs import write_text

__all__ = ["LabBundle", "SkippedResult", "BundlePatient", "read_lab_bundle", "LOINC_SYSTEM",
           "UCUM_SYSTEM", "COUNTED_STATUSES", "LAB_BUNDLE_COLUMNS"]

LOINC_SYSTEM = "http://loinc.org"
UCUM_SYSTEM = "http://unitsofmeasure.org"
#: ``Observation.status`` values whose results are imported (the others are skipped).
COUNTED_STATUSES = ("final", "amended", "corrected")
#: R4's ObservationStatus (required binding).
OBSERVATION_STATUSES = ("registered", "preliminary", "final", "amended", "corrected",
                        "cancelled", "entered-in-error", "unknown")
#: ``Bundle.type`` values read.
_BUNDLE_TYPES = ("collection", "transaction", "searchset", "document", "batch", "message")
#: ``LABS.csv`` columns written by :meth:`LabBundle.write_csv`, in order.
LAB_BUNDLE_COLUMNS = (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)
_CENSORING = {"<": "<", "<=": "<", ">": ">", ">=": ">"}


@dataclasses.dataclass(frozen=True)
class SkippedResult:
    """A result of the input that was not imported, and why.

    Attributes
    ----------
    where : str
        The resource and its position (``"Bundle.entry[4] (Observation/x)"``).
    code : str
        The observation's code as ``system|code (display)`` or its text.
    reason : str
        Why it was skipped (a status, another patient, a code the catalogue
        does not know, a panel, no value).
    """

    where: str
    code: str
    reason: str

    def to_json(self) -> dict[str, str]:
        """Return ``{"where", "code", "reason"}``."""
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class BundlePatient:
    """A patient the results are of: a ``Patient`` of the input, or a subject named by reference.

    Attributes
    ----------
    identifiers : tuple of (system, value)
        ``Patient.identifier`` (or the reference's ``identifier``); system ``""``
        when not given.
    reference : str
        ``Patient/id``, a fullUrl, or ``""`` for results without a subject.
    results : int
        How many observations of the input name this patient.
    birth_date : str
        ``Patient.birthDate`` of the input's ``Patient`` resource (``""``
        when it gives none): a caller checks it against its own record.
    """

    identifiers: tuple[tuple[str, str], ...]
    reference: str
    results: int = 0
    birth_date: str = ""

    @property
    def label(self) -> str:
        """``system|value`` of each identifier, or the reference when there is none."""
        if self.identifiers:
            return ", ".join(f"{s}|{v}" if s else v for s, v in self.identifiers)
        if self.reference:
            return f"{self.reference} (no identifier)"
        return "(no subject)"

    def matches(self, system: str, value: str) -> bool:
        """Return True when (system, value) is one of the identifiers (system ``""``: any)."""
        if not system and value == self.reference:
            return True
        return any(v == value and (not system or s == system) for s, v in self.identifiers)


@dataclasses.dataclass(frozen=True, eq=False)
class LabBundle:
    """The lab results of a FHIR input, as ``LABS.csv`` rows for one patient.

    Attributes
    ----------
    rows : list of dict
        One dict per result with the ``LABS.csv`` columns
        (:data:`LAB_BUNDLE_COLUMNS`: ``sample_id``, ``marker`` — the catalogue
        id —, ``value`` — in the catalogue unit, ``<0.5`` / ``>1800`` when
        censored —, ``unit``, ``ref_low``, ``ref_high``, ``assay``,
        ``effective``, ``specimen``, ``interpretation``, ``status``,
        ``source``, ``report``), every cell text as it is written.
    skipped : list of SkippedResult
        Results not imported, with the reason.
    patient_identifiers : tuple of (system, value)
        The identifiers of the patient whose results were imported (empty
        when the results name no identified patient).
    patients : tuple of BundlePatient
        Every patient the input's results name.
    sample_id : str
        The ``sample_id`` of the rows.
    source : str
        The file read (or ``"the FHIR bytes"`` / ``"the FHIR resource"``).
    sha256 : str or None
        SHA-256 of the bytes read (None for a parsed mapping).
    table : pandas.DataFrame
        As :attr:`gutaxis.markers.LabResults.table` without ``line``: indexed
        by (``sample_id``, ``marker``); ``value``, ``ref_low``, ``ref_high``
        floats in the catalogue unit, ``censored``, ``original_value`` and
        ``original_unit`` as the FHIR resource gave them (``"<=0.05"``,
        ``"mg/dL"``), and the FHIR columns.
    """

    rows: list[dict[str, str]]
    skipped: list[SkippedResult]
    patient_identifiers: tuple[tuple[str, str], ...]
    patients: tuple[BundlePatient, ...]
    sample_id: str
    source: str
    sha256: str | None
    table: pd.DataFrame = dataclasses.field(repr=False)
    catalog: MarkerCatalog = dataclasses.field(repr=False)
    patient_birth_date: str = ""
    """``birthDate`` of the imported results' patient as the input gives it (``""``: none)."""
    other_patients: int = 0
    """How many other patients the input names anywhere (a ``Patient`` resource, or the
    ``subject``/``patient`` of any resource): a file to keep from this patient's export."""

    def __len__(self) -> int:
        """Return the number of results imported."""
        return len(self.rows)

    def csv_text(self) -> str:
        """Return the ``LABS.csv`` text of :attr:`rows` (comma-separated, header first)."""
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(LAB_BUNDLE_COLUMNS), lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows)
        return buffer.getvalue()

    def write_csv(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Write :attr:`rows` as a ``LABS.csv`` that :func:`gutaxis.markers.read_labs` reads.

        Parameters
        ----------
        path : path
            The file to write (whole or not at all).
        overwrite : bool
            Replace a file that exists.

        Returns
        -------
        pathlib.Path

        Raises
        ------
        OutputError
            No results to write; ``path`` exists and ``overwrite`` is False,
            or is a folder, or is the FHIR file read.
        """
        target = Path(path)
        if not self.rows:
            raise OutputError(f"{self.source}: no lab result to write to {target} "
                              f"({len(self.skipped)} skipped)")
        if target.is_dir():
            raise OutputError(f"{target} is a folder; give the path of the LABS.csv to write")
        if target.exists():
            if self.source != "the FHIR resource" and target.resolve() == Path(
                    self.source).resolve():
                raise OutputError(f"{target} is the FHIR file read; choose another path")
            if not overwrite:
                raise OutputError(f"{target} exists; choose a new file, or replace it "
                                  "(--overwrite, overwrite=True in Python)")
        return write_text(target, self.csv_text())


# -------------------------------------------------------------------- helpers
def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _number_text(value: float) -> str:
    return f"{value:.12g}"


def _scaled(value: float, factor: float) -> float:
    """``value * factor`` without float noise (as :func:`gutaxis.markers.read_labs` does)."""
    return float(f"{value * factor:.12g}")


def _concept_text(concept: Any) -> str:
    """``system|code (display)`` of the first coding, or the concept's text."""
    if not isinstance(concept, Mapping):
        return ""
    for coding in concept.get("coding") or []:
        code, system = _text(coding.get("code")), _text(coding.get("system"))
        display = _text(coding.get("display"))
        if code:
            head = f"{system}|{code}" if system else code
            return f"{head} ({display})" if display else head
    return _text(concept.get("text"))


def _concept_word(concept: Any) -> str:
    """Return a concept's first code, else its text (interpretation, specimen)."""
    if not isinstance(concept, Mapping):
        return ""
    for coding in concept.get("coding") or []:
        if _text(coding.get("code")):
            return _text(coding.get("code"))
    return _text(concept.get("text"))


class _Reader:
    """One call of :func:`read_lab_bundle`: the input, its index and the options."""

    def __init__(self, loaded: LoadedResource, catalog: MarkerCatalog, skip_unknown: bool
                 ) -> None:
        self.loaded = loaded
        self.label = loaded.label
        self.catalog = catalog
        self.skip_unknown = skip_unknown
        self.index = ResourceIndex(loaded.document)
        self.by_loinc = {e.loinc: e for e in catalog.markers if e.loinc}

    def fail(self, located: Located, element: str, problem: str,
             error: type[InputError] = ValidationError) -> InputError:
        return error(f"{self.label}: {located.where}: {element}: {problem}; nothing was "
                     "imported")

    # ---------------------------------------------------------------- codes
    def match(self, located: Located, concept: Any, element: str
              ) -> tuple[MarkerEntry, str | None] | None:
        """Return the catalogue entry a code names (None: unknown); refuse an ambiguous one."""
        if not isinstance(concept, Mapping):
            return None
        codings = [c for c in concept.get("coding") or [] if isinstance(c, Mapping)]
        loinc_codes = [_text(c.get("code")) for c in codings
                       if _text(c.get("system")) == LOINC_SYSTEM and _text(c.get("code"))]
        found: dict[str, tuple[MarkerEntry, str | None]] = {}
        for code in loinc_codes:
            entry = self.by_loinc.get(code)
            if entry is not None:
                found[entry.id] = (entry, None)
        own = gutaxis_system()
        for c in codings:  # gutaxis's own codes (its exports): marker:<id>
            kind, _, key = _text(c.get("code")).partition(":")
            if _text(c.get("system")) == own and kind == "marker":
                entry = next((e for e in self.catalog.markers if e.id == key), None)
                if entry is not None:
                    found[entry.id] = (entry, None)
        if not found:
            names = [_text(concept.get("text"))]
            for c in codings:
                names.append(_text(c.get("display")))
                # a bare code is read as a marker's name only without a code system (or in
                # LOINC's): a laboratory's own short codes (FC, LMR, DAO) mean what that
                # laboratory says, not what the catalogue's aliases do
                if _text(c.get("system")) in ("", LOINC_SYSTEM):
                    names.append(_text(c.get("code")))
            for name in filter(None, names):
                hit = self.catalog.find(name)
                if hit is None:
                    continue
                entry, carried = hit
                # a LOINC code that is not the entry's says the result is something else
                if loinc_codes and entry.loinc not in loinc_codes:
                    continue
                found.setdefault(entry.id, (entry, carried))
        if len(found) > 1:
            raise self.fail(located, element,
                            f"the code names more than one marker of the catalogue "
                            f"({', '.join(found)}); give one code per observation")
        return next(iter(found.values()), None)

    def unknown(self, located: Located, concept: Any, element: str) -> ValidationError:
        known = ", ".join(f"{e.loinc} ({e.name})" for e in self.catalog.markers if e.loinc)
        return ValidationError(
            f"{self.label}: {located.where}: {element}: unknown code "
            f"{_concept_text(concept) or '(none)'}; the marker catalogue knows the LOINC codes "
            f"{known} (system {LOINC_SYSTEM}) and the marker names and aliases `gutaxis "
            "markers` lists (in code.text, coding.display or coding.code); skip the results "
            "the catalogue does not know with --skip-unknown (skip_unknown=True); nothing was "
            "imported")

    # ---------------------------------------------------------------- units
    def unit_of(self, located: Located, quantity: Mapping[str, Any], element: str,
                fallback: str | None = None) -> str:
        code, unit = _text(quantity.get("code")), _text(quantity.get("unit"))
        system = _text(quantity.get("system"))
        if code and _is_ucum(system):
            problem = _ucum_problem(code, unit)
            if problem:
                raise self.fail(located, f"{element}.code", problem, UnitError)
            return code
        if code and unit and not system:
            # a code without its system beside a unit text: either may be what the lab
            # meant, so the two must agree (a local code system's code is not compared)
            problem = _ucum_problem(code, unit)
            if problem:
                raise self.fail(located, f"{element}.code", problem, UnitError)
        if unit:
            return unit
        if code:
            return code
        if fallback:
            return fallback
        raise self.fail(located, element, "the quantity has no unit (expected a UCUM code, "
                                          f"system {UCUM_SYSTEM}, or a unit)", UnitError)

    def factor(self, located: Located, unit: str, entry: MarkerEntry, element: str) -> float:
        try:
            return conversion_factor(parse_unit(unit), entry.unit)
        except UnitError as exc:
            raise self.fail(located, element, f"{exc} ({entry.name} is kept in {entry.unit})",
                            UnitError) from None

    def quantity_value(self, located: Located, quantity: Mapping[str, Any], element: str
                       ) -> float:
        value: Any = quantity.get("value")
        if not finite_number(value):
            raise self.fail(located, f"{element}.value",
                            f"expected a number; found {value!r}")
        if value < 0:
            raise self.fail(located, f"{element}.value",
                            f"expected a number of 0 or more (a concentration or ratio); "
                            f"found {value}")
        return float(value)

    # ---------------------------------------------------------------- one result
    def result(self, located: Located, element: str, part: Mapping[str, Any],
               entry: MarkerEntry, carried: str | None) -> dict[str, Any]:
        """Value, unit and range of an observation (or a component) as table fields."""
        values = [k for k in part if k.startswith("value")]
        if len(values) > 1:
            raise self.fail(located, f"{element}.value[x]",
                            f"expected one value; found {', '.join(values)}", FormatError)
        if values != ["valueQuantity"]:
            found = values[0] if values else "no value"
            raise self.fail(located, f"{element}.valueQuantity",
                            f"expected a number with a unit (valueQuantity) for {entry.name}; "
                            f"found {found}")
        quantity = part["valueQuantity"]
        where_q = f"{element}.valueQuantity"
        number = self.quantity_value(located, quantity, where_q)
        unit = self.unit_of(located, quantity, where_q)
        if carried is not None and parse_unit(carried).text != parse_unit(unit).text:
            raise self.fail(located, where_q, f"the code names {entry.name} in {carried}, but "
                                              f"the unit is {unit!r}", UnitError)
        factor = self.factor(located, unit, entry, f"{where_q}.code")
        comparator = _text(quantity.get("comparator"))
        if comparator and comparator not in _CENSORING:
            raise self.fail(located, f"{where_q}.comparator",
                            f"expected <, <=, > or >= (a value below or above the assay's "
                            f"limit); found {comparator!r}")
        censored = _CENSORING.get(comparator, "")
        if censored == "<" and number == 0:
            raise self.fail(located, where_q, f"the value is {comparator}0; a value below 0 "
                                              "cannot be interpreted")
        refs = {"ref_low": math.nan, "ref_high": math.nan}
        ranges = [r for r in part.get("referenceRange") or [] if isinstance(r, Mapping)]
        chosen = _laboratory_range(ranges)
        if isinstance(chosen, Mapping):
            n = ranges.index(chosen)
            for bound, name in (("low", "ref_low"), ("high", "ref_high")):
                q = chosen.get(bound)
                if isinstance(q, Mapping):
                    at = f"{element}.referenceRange[{n}].{bound}"
                    bound_unit = self.unit_of(located, q, at, fallback=unit)
                    refs[name] = _scaled(self.quantity_value(located, q, at),
                                         self.factor(located, bound_unit, entry, f"{at}.code"))
            if refs["ref_low"] > refs["ref_high"]:
                raise self.fail(located, f"{element}.referenceRange[{n}]",
                                "low is above high")
        for name, converted in (("value", _scaled(number, factor)), *refs.items()):
            if math.isinf(converted):
                raise self.fail(located, where_q if name == "value" else
                                f"{element}.referenceRange", f"the {name} is too large to "
                                f"express in {entry.unit} (it converts to infinity)")
        original = f"{comparator}{quantity['value']}"
        return {"value": _scaled(number, factor), "censored": censored,
                "original_value": original, "original_unit": unit, **refs,
                "interpretation": ",".join(filter(None, (_concept_word(c) for c in
                                                         part.get("interpretation") or [])))}


def _is_ucum(system: str) -> bool:
    """Return whether ``system`` is UCUM's, as it is written in the wild.

    A trailing slash, ``https`` or capitals make no other code system:
    taking such a code for a local one let a ``unit`` text contradicting it
    through (``mg/dL`` read where the code said ``mg/L``).

    >>> _is_ucum("http://unitsofmeasure.org/"), _is_ucum("HTTPS://unitsofmeasure.org")
    (True, True)
    >>> _is_ucum("http://lab.example/units")
    False
    """
    plain = system.strip().lower().rstrip("/")
    return plain in (UCUM_SYSTEM, UCUM_SYSTEM.replace("http:", "https:"))


def _ucum_problem(code: str, unit: str) -> str:
    """Say what is wrong with a UCUM ``code`` and the ``unit`` text beside it ("" if nothing).

    UCUM codes are case-sensitive (``Mg`` is a megagram, ``mg`` a milligram;
    ``l`` and ``L`` are both the litre); a code in capitals only (``MG/DL``)
    is UCUM's case-insensitive form, which HL7 v2 systems send, and is read
    as such.  A ``unit`` text that gutaxis reads as another quantity than the
    code (another factor, another kind of quantity, another unit of its own)
    is a contradiction, not a display form: which of the two the laboratory
    meant cannot be told.  A text gutaxis does not read as a unit ("milligrams
    per litre") is taken as the code's display.
    """
    try:
        coded = parse_unit(code)
    except UnitError:
        return ""  # not one gutaxis knows: said where it is converted
    if coded.dimension != "opaque" and code != code.upper():
        written, canonical = code.replace("l", "L"), coded.text.replace("l", "L")
        if written != canonical:
            return (f"the UCUM code {code!r} is not {coded.text!r}: UCUM codes are "
                    "case-sensitive (in capitals only, a code is read case-insensitively); "
                    f"expected {coded.text!r} if that is what the laboratory meant")
    if unit and unit != code:
        try:
            shown = parse_unit(unit)
        except UnitError:
            return ""
        if shown.dimension != coded.dimension or (
                coded.dimension == "opaque" and shown.text != coded.text) \
                or not math.isclose(shown.factor, coded.factor):
            factor = (f" (a factor of {_number_text(shown.factor / coded.factor)})"
                      if shown.dimension == coded.dimension != "opaque" else "")
            return (f"the UCUM code {code!r} and the unit {unit!r} beside it disagree"
                    f"{factor}: which the laboratory meant cannot be told")
    return ""


def _laboratory_range(ranges: list[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """Return the laboratory's normal range among ``referenceRange``s (None: none usable).

    A range is the laboratory's normal one when its ``type`` is absent or
    ``normal`` and it is not restricted to a population (``appliesTo``,
    ``age``) that gutaxis cannot check against the patient.  A range gutaxis
    wrote itself (``type`` from the gutaxis CodeSystem: a catalogue's or a
    reference cohort's range, not a laboratory's) is never taken for the
    laboratory's.
    """
    own = gutaxis_system()
    for rng in ranges:
        if rng.get("appliesTo") or rng.get("age"):
            continue
        codings = (rng.get("type") or {}).get("coding") or [] if isinstance(
            rng.get("type"), Mapping) else []
        if any(_text(c.get("system")) == own for c in codings if isinstance(c, Mapping)):
            continue
        if not codings or any(_text(c.get("code")) == "normal" for c in codings
                              if isinstance(c, Mapping)):
            return rng
    return None


def _parse_patient(patient: tuple[str, str] | str | None) -> tuple[str, str] | None:
    if patient is None:
        return None
    if isinstance(patient, str):
        system, sep, value = patient.rpartition("|")
        if not value:
            raise InputError(f"--patient must be SYSTEM|VALUE (or VALUE); got {patient!r}")
        return (system if sep else "", value)
    if (isinstance(patient, Sequence) and len(patient) == 2
            and all(isinstance(p, str) for p in patient) and patient[1]):
        return (patient[0], patient[1])
    raise InputError(f"patient must be (system, value), e.g. ('urn:oid:1.2.36.146.595.217.0.1', "
                     f"'12345'); got {patient!r}")


def read_lab_bundle(source: str | os.PathLike[str] | bytes | Mapping[str, Any], *,
                    catalog: MarkerCatalog | None = None,
                    patient: tuple[str, str] | str | None = None,
                    sample_id: str | None = None,
                    skip_unknown: bool = False,
                    report: str | None = None) -> LabBundle:
    """Read lab results from FHIR R4 JSON: a ``Bundle``, ``DiagnosticReport`` or ``Observation``.

    Parameters
    ----------
    source : path, bytes or mapping
        FHIR R4 (4.0.1) JSON: a ``Bundle`` of type collection, transaction,
        searchset, document, batch or message; a ``DiagnosticReport`` with its
        results contained; or one ``Observation``.  At most
        ``GUTAXIS_MAX_FHIR_BYTES`` (64 MiB by default).
    catalog : MarkerCatalog, optional
        Defaults to the bundled marker catalogue.
    patient : (system, value) or str, optional
        The patient whose results to import, by identifier (a string is
        ``"SYSTEM|VALUE"``, or ``"VALUE"`` for any system; a patient without
        identifier is picked by its reference, ``"Patient/123"``).  Needed when
        the input holds results of more than one patient.
    sample_id : str, optional
        The ``sample_id`` of the rows; by default the value of the patient's
        first identifier.
    skip_unknown : bool
        Skip (and list in :attr:`LabBundle.skipped`) the observations whose
        code the catalogue does not know, instead of stopping.  Everything
        else stays strict.
    report : str, optional
        Import only the results of one ``DiagnosticReport`` (its id,
        ``DiagnosticReport/<id>`` or its ``fullUrl``); the others are listed
        as skipped.  For input holding several visits' reports of one
        patient (a record exported as FHIR), which a ``LABS.csv`` of one
        sample cannot hold at once.

    Returns
    -------
    LabBundle

    Raises
    ------
    FormatError
        Not JSON, not FHIR (no ``resourceType``), not R4 (an element or
        resource type R4 does not define), structurally invalid (fhirclient's
        strict R4 models: a required element missing, a text where a number
        belongs...), not a lab input (another resource type, a history
        bundle), a reference to a result that the input does not hold.
    UnsafeInputError
        Over the size limit.
    ValidationError
        Results of several patients and none picked, a picked patient that is
        not there, an unknown code (unless ``skip_unknown``), a value that is
        not a number or is negative, no value, two results of one marker, no
        identifier to name the sample and no ``sample_id``.
    UnitError
        A unit the unit layer does not know or cannot convert to the
        catalogue unit.

    Every message is one line naming the file, the resource (type/id and
    position, such as ``Bundle.entry[3] (Observation/abc)``) and the element
    path; on any of them nothing is returned (all or nothing).

    Notes
    -----
    Matching: a coding of system ``http://loinc.org`` whose code is an
    entry's ``loinc`` in the catalogue; otherwise ``code.text``, a coding's
    ``display`` or ``code`` equal to an entry's id, name or alias (as
    ``LABS.csv`` markers are matched) — unless the observation carries a
    LOINC code that is not that entry's.  Values come from
    ``valueQuantity`` (``code`` of system ``http://unitsofmeasure.org``
    preferred over the ``unit`` text), converted to the catalogue unit;
    ``comparator`` ``<``/``<=`` is kept as censored ``<``, ``>``/``>=`` as
    ``>``.  The lab's range is the first ``referenceRange`` without
    ``appliesTo`` or ``age`` (else the first), its bounds converted too.
    Only statuses ``final``, ``amended`` and ``corrected`` are imported;
    others, results of a ``DiagnosticReport`` that is ``entered-in-error`` or
    ``cancelled``, results without a value that give a ``dataAbsentReason``,
    and other patients' results are skipped with the reason.  A panel (an
    observation with ``hasMember`` and no value) is no result itself: its
    members are read as observations of their own; an observation with
    ``component`` gives one result per component (with the observation's
    status, subject, time and specimen) and one for its own value if it has
    one.

    Examples
    --------
    >>> bundle = {"resourceType": "Observation", "status": "final",
    ...           "code": {"coding": [{"system": "http://loinc.org", "code": "30522-7"}]},
    ...           "subject": {"identifier": {"system": "urn:example:mrn", "value": "P1"}},
    ...           "valueQuantity": {"value": 0.21, "unit": "mg/dL",
    ...                             "system": "http://unitsofmeasure.org", "code": "mg/dL"}}
    >>> labs = read_lab_bundle(bundle)
    >>> labs.rows[0]["sample_id"], labs.rows[0]["marker"], labs.rows[0]["value"]
    ('P1', 'hscrp', '2.1')
    """
    catalog = catalog or load_marker_catalog()
    picked = _parse_patient(patient)
    if isinstance(source, os.PathLike):
        source = Path(source)
    loaded = load_resource(source)
    check_r4_structure(loaded)
    doc = loaded.document
    kind = doc["resourceType"]
    if kind == "Bundle":
        btype = doc.get("type")
        if btype not in _BUNDLE_TYPES:
            raise FormatError(f"{loaded.label}: Bundle.type: expected one of "
                              f"{', '.join(_BUNDLE_TYPES)}; found {btype!r} (a history or "
                              "response bundle holds no lab results to import)")
    elif kind not in ("DiagnosticReport", "Observation"):
        raise FormatError(f"{loaded.label}: expected a FHIR R4 Bundle, DiagnosticReport or "
                          f"Observation; found a {kind}")
    reader = _Reader(loaded, catalog, skip_unknown)
    return _import(reader, picked, sample_id, report)


def _is_report(located: Located, wanted: str) -> bool:
    rid = str(located.resource.get("id") or "")
    return wanted in {rid, f"DiagnosticReport/{rid}", located.full_url or ""} - {""}


def _import(reader: _Reader, picked: tuple[str, str] | None, sample_id: str | None,
            report: str | None = None) -> LabBundle:
    index = reader.index
    everything = index.all()
    observations = [x for x in everything if x.kind == "Observation"]
    # the report each result belongs to; results must be in the input
    report_of: dict[int, Located] = {}
    for located in everything:
        if located.kind != "DiagnosticReport":
            continue
        for n, ref in enumerate(located.resource.get("result") or []):
            target = _resolve(reader, located, ref, f"DiagnosticReport.result[{n}]")
            report_of.setdefault(id(target), located)
    for located in observations:
        for n, ref in enumerate(located.resource.get("hasMember") or []):
            member = _resolve(reader, located, ref, f"Observation.hasMember[{n}]")
            if id(member) in report_of:
                continue
            if id(located) in report_of:
                report_of[id(member)] = report_of[id(located)]
    if report is not None:
        reports = [x for x in everything if x.kind == "DiagnosticReport"]
        if not any(_is_report(x, report) for x in reports):
            shown = ", ".join(f"DiagnosticReport/{x.resource.get('id')}" for x in reports[:10])
            raise NotFoundError("DiagnosticReport", [report], reader.label,
                                available=[shown or "none"])
    patients, subject_of = _patients(reader, observations, report_of)
    chosen = _choose(reader, patients, picked)
    if sample_id is None:
        if not chosen.identifiers:
            raise ValidationError(
                f"{reader.label}: the results name no patient identifier ({chosen.label}) to "
                "name the sample; give the sample id (--sample ID, sample_id= in Python)")
        sample_id = chosen.identifiers[0][1]
    elif not isinstance(sample_id, str) or not sample_id.strip():
        raise InputError(f"sample_id must be a non-empty text; got {sample_id!r}")
    skipped: list[SkippedResult] = []
    records: list[tuple[str, dict[str, Any]]] = []
    for located in observations:
        obs = located.resource
        if subject_of[id(located)] is not chosen:
            skipped.append(SkippedResult(located.where, _concept_text(obs.get("code")),
                                         f"a result of another patient "
                                         f"({subject_of[id(located)].label})"))
            continue
        if report is not None and not (id(located) in report_of
                                       and _is_report(report_of[id(located)], report)):
            skipped.append(SkippedResult(located.where, _concept_text(obs.get("code")),
                                         f"not a result of report {report}"))
            continue
        records += _observation(reader, located, report_of.get(id(located)), skipped)
    rows: list[dict[str, str]] = []
    table_rows: list[dict[str, Any]] = []
    keys: dict[tuple[str, str], str] = {}
    for marker_id, rec in records:
        key = (sample_id, marker_id)
        if key in keys:
            raise ValidationError(
                f"{reader.label}: {rec['where']}: {marker_id} of sample {sample_id!r} is "
                f"already given by {keys[key]}; a LABS.csv holds one result per sample and "
                "marker: import one report at a time (--report ID, report= in Python; the "
                "input's reports: "
                + (", ".join(sorted({f"DiagnosticReport/{r.resource.get('id')}"
                                     for r in report_of.values()})) or "none")
                + "); nothing was imported")
        keys[key] = rec["where"]
        entry = next(e for e in reader.catalog.markers if e.id == marker_id)
        value_text = rec["censored"] + _number_text(rec["value"])
        rows.append({"sample_id": sample_id, "marker": marker_id, "value": value_text,
                     "unit": parse_unit(entry.unit).text,
                     "ref_low": "" if math.isnan(rec["ref_low"]) else _number_text(rec["ref_low"]),
                     "ref_high": ("" if math.isnan(rec["ref_high"])
                                  else _number_text(rec["ref_high"])),
                     "assay": rec["assay"], **{c: rec[c] for c in FHIR_COLUMNS}})
        table_rows.append({"value": rec["value"], "unit": parse_unit(entry.unit).text,
                           "censored": rec["censored"], "original_value": rec["original_value"],
                           "original_unit": rec["original_unit"], "ref_low": rec["ref_low"],
                           "ref_high": rec["ref_high"], "assay": rec["assay"],
                           **{c: rec[c] for c in FHIR_COLUMNS}})
    columns = [c for c in TABLE_COLUMNS if c != "line"]
    table = pd.DataFrame(table_rows, columns=columns,
                         index=pd.MultiIndex.from_tuples(list(keys) or [],
                                                         names=["sample_id", "marker"]))
    table = table.astype({"value": float, "ref_low": float, "ref_high": float})
    return LabBundle(rows, skipped, chosen.identifiers, tuple(patients), sample_id,
                     reader.label, reader.loaded.sha256, table, reader.catalog,
                     chosen.birth_date, _other_patients(reader, chosen))


def _resolve(reader: _Reader, origin: Located, ref: Any, element: str) -> Located:
    target_ref = _text(ref.get("reference")) if isinstance(ref, Mapping) else ""
    target = reader.index.resolve(target_ref, origin) if target_ref else None
    if target is None or target.kind != "Observation":
        shown = target_ref or "(no reference)"
        found = "not in the input" if target is None else f"a {target.kind}"
        raise reader.fail(origin, f"{element}.reference",
                          f"expected an Observation of the input (an entry's fullUrl, "
                          f"Observation/id or #id of a contained one); {shown!r} is {found}",
                          FormatError)
    return target


def _patients(reader: _Reader, observations: list[Located], report_of: dict[int, Located]
              ) -> tuple[list[BundlePatient], dict[int, BundlePatient]]:
    """Return the patients the results name (merged by identifier), each result's patient."""
    keys: list[tuple[tuple[tuple[str, str], ...], str]] = []
    key_of: dict[int, int] = {}
    born: dict[int, set[str]] = {}
    by_ident: dict[tuple[str, str], int] = {}  # identifier → first patient holding it
    by_reference: dict[str, int] = {}  # reference → its patient, for those without identifiers
    for located in observations:
        idents, reference, birth = _subject(reader, located.resource.get("subject"), located)
        report = report_of.get(id(located))
        if report is not None:
            report_ids, report_ref, report_birth = _subject(
                reader, report.resource.get("subject"), report)
            of_report = (report_ids, report_ref)
            if not (idents or reference):
                idents, reference, birth = report_ids, report_ref, report_birth
            elif _other_patient((idents, reference), of_report):
                shown = BundlePatient(idents, reference).label
                raise reader.fail(located, "Observation.subject",
                                  f"the result is of {shown}, but its report "
                                  f"({report.where}) is of "
                                  f"{BundlePatient(*of_report).label}: a report's results "
                                  "are of its patient")
        # the same patient: a shared identifier, or the same reference (the first such
        # patient; looked up, not searched: a batch of 40,000 patients took minutes)
        if idents:
            hits = [by_ident[i] for i in idents if i in by_ident]
            found = min(hits) if hits else None
        else:
            found = by_reference.get(reference)
        if found is None:
            keys.append((idents, reference))
            found = len(keys) - 1
            if not idents:
                by_reference.setdefault(reference, found)
        elif idents:
            ids, ref = keys[found]
            keys[found] = (tuple(dict.fromkeys(ids + idents)), ref or reference)
        for ident in idents:
            by_ident[ident] = min(by_ident.get(ident, found), found)
        key_of[id(located)] = found
        if birth:
            born.setdefault(found, set()).add(birth)
            if len(born[found]) > 1:
                raise reader.fail(located, "Patient.birthDate",
                                  f"one patient ({BundlePatient(*keys[found]).label}) with two "
                                  f"dates of birth ({', '.join(sorted(born[found]))}); "
                                  "expected one")
    counts = collections.Counter(key_of.values())
    patients = [BundlePatient(ids, ref, counts[n], min(born.get(n, {""})))
                for n, (ids, ref) in enumerate(keys)]
    return patients, {k: patients[n] for k, n in key_of.items()}


def _other_patients(reader: _Reader, chosen: BundlePatient) -> int:
    """Count the patients other than ``chosen`` that the input names, in any resource.

    Not only the results' subjects: a lab's batch may hold other people's
    ``Patient`` resources, conditions or reports too.  A subject that cannot
    be told apart (a Group, a contradiction) counts as another.
    """
    ours = set(chosen.identifiers)

    def same(ids: tuple[tuple[str, str], ...], reference: str) -> bool:
        if ids:
            return bool(set(ids) & ours)
        return not reference or reference == chosen.reference

    others: set[Any] = set()
    for located in reader.index.all():
        resource = located.resource
        if located.kind == "Patient":
            ids = tuple((_text(i.get("system")), _text(i.get("value")))
                        for i in resource.get("identifier") or [] if _text(i.get("value")))
            if not same(ids, located.name):
                others.add(frozenset(ids) if ids else located.name)
        for field in ("subject", "patient"):
            pointer = resource.get(field)
            if not isinstance(pointer, Mapping):
                continue
            try:
                ids, reference, _ = _subject(reader, pointer, located)
            except GutaxisError:
                others.add(("unclear", located.where))
                continue
            if not same(ids, reference):
                others.add(frozenset(ids) if ids else reference)
    return len(others)


def _subject(reader: _Reader, subject: Any, located: Located
             ) -> tuple[tuple[tuple[str, str], ...], str, str]:
    """Return the identifiers, the reference and the date of birth of a ``subject``.

    All empty without one.  A reference to a ``Patient`` of the input gives
    that resource's identifiers, name and ``birthDate``; a conditional
    reference (``Patient?identifier=system|value``) its identifier; otherwise
    the reference's own ``identifier``.  A subject that is not a patient (a
    ``Group``, a ``Device``, a ``Location``) is refused: lab results for a
    record are a patient's.
    """
    idents: tuple[tuple[str, str], ...] = ()
    reference = birth = ""
    if isinstance(subject, Mapping):
        reference = _text(subject.get("reference"))
        target = reader.index.resolve(reference, located) if reference else None
        named = {k for k in (target.kind if target is not None else _reference_type(reference),
                             _text(subject.get("type"))) if k}
        if named - {"Patient"}:
            kind = " and a ".join(sorted(named))
            raise reader.fail(located, "subject",
                              f"expected a Patient; found a {kind} ({reference or 'by type'}): "
                              "a patient's record takes only that patient's results")
        if target is not None:
            reference = target.name
            idents = tuple((_text(i.get("system")), _text(i.get("value")))
                           for i in target.resource.get("identifier") or []
                           if _text(i.get("value")))
            birth = _text(target.resource.get("birthDate"))
        elif "?" in reference:
            idents = _conditional_identifiers(reference)
        ident = subject.get("identifier")
        if isinstance(ident, Mapping) and _text(ident.get("value")):
            own = (_text(ident.get("system")), _text(ident.get("value")))
            if target is not None:  # (a Patient: any other type was refused above)
                # the Patient the reference names decides; an identifier beside it must be
                # one of that Patient's (joined to it, it merged two patients' results)
                if not any(v == own[1] and (not own[0] or s == own[0]) for s, v in idents):
                    raise reader.fail(
                        located, "subject.identifier",
                        f"{own[0]}|{own[1]} is not an identifier of the patient its reference "
                        f"names ({reference}: {BundlePatient(idents, reference).label}); the "
                        "two may be different patients")
            elif not idents:
                idents = (own,)
    return idents, reference, birth


def _reference_type(reference: str) -> str:
    """Return the resource type a reference names (``""``: a ``urn:`` or none).

    >>> _reference_type("Patient/1"), _reference_type("https://x.example/fhir/Group/g1/_history/2")
    ('Patient', 'Group')
    >>> _reference_type("Device?identifier=a|b"), _reference_type("urn:uuid:5e3c")
    ('Device', '')
    """
    if "?" in reference and not reference.startswith("urn:"):  # conditional: Type?search
        return reference.partition("?")[0].rstrip("/").split("/")[-1]
    target = literal_target(reference)
    return target[0] if target is not None and target[0][:1].isupper() else ""


def _conditional_identifiers(reference: str) -> tuple[tuple[str, str], ...]:
    """Return the identifiers a conditional reference searches by.

    >>> _conditional_identifiers("Patient?identifier=urn:mrn|P2")
    (('urn:mrn', 'P2'),)
    >>> _conditional_identifiers("Patient?name=Ana&identifier=urn:nhs%7C9434765919")
    (('urn:nhs', '9434765919'),)
    """
    from urllib.parse import parse_qsl

    found = []
    for key, value in parse_qsl(reference.partition("?")[2]):
        if key == "identifier" and value:
            system, bar, code = value.partition("|")
            found.append((system, code) if bar and code else ("", value))
    return tuple(found)


def _other_patient(one: tuple[tuple[tuple[str, str], ...], str],
                   other: tuple[tuple[tuple[str, str], ...], str]) -> bool:
    """Return True when two subjects are known to be different patients.

    Identified: an identifier in common makes them one; otherwise they differ
    only where one system gives them different values (identifiers of
    different systems may well be one person's).  Else referenced: two plain
    references (``Patient/id``, relative or absolute) to different resources
    differ; a ``urn:`` or conditional (``Patient?identifier=…``) reference
    that the input does not resolve says nothing.

    >>> mrn = (("urn:mrn", "A1"),)
    >>> _other_patient((mrn, ""), ((("urn:mrn", "B1"),), ""))
    True
    >>> _other_patient((mrn, ""), ((("urn:nhs", "9"),), ""))
    False
    >>> _other_patient(((), "Patient/p1"), ((), "https://lab.example/fhir/Patient/p2"))
    True
    >>> _other_patient(((), "Patient/p1"), ((), "urn:uuid:5e3c"))
    False
    """
    (ids, ref), (other_ids, other_ref) = one, other
    if ids and other_ids:
        if set(ids) & set(other_ids):
            return False
        systems = {s for s, _ in ids if s} & {s for s, _ in other_ids if s}
        return bool(systems)

    first, second = literal_target(ref), literal_target(other_ref)
    return bool(first and second and first != second)


def _choose(reader: _Reader, patients: list[BundlePatient], picked: tuple[str, str] | None
            ) -> BundlePatient:
    listing = "; ".join(f"{p.label} ({p.results} result(s))" for p in patients)
    if not patients:
        raise FormatError(f"{reader.label}: no Observation in the input; expected lab results "
                          "(Observation resources, in a Bundle or contained in a "
                          "DiagnosticReport)")
    if picked is not None:
        hits = [p for p in patients if p.matches(*picked)]
        if len(hits) == 1:
            return hits[0]
        asked = f"{picked[0]}|{picked[1]}" if picked[0] else picked[1]
        if not hits:
            raise NotFoundError("patient", [asked], reader.label,
                                available=[p.label for p in patients])
        raise ValidationError(f"{reader.label}: --patient {asked} matches {len(hits)} "
                              f"patients ({listing}); give the identifier's system too "
                              "(SYSTEM|VALUE)")
    if len(patients) > 1:
        raise ValidationError(
            f"{reader.label}: the results are of {len(patients)} patients: {listing}; choose "
            "one with --patient SYSTEM|VALUE (patient=(system, value) in Python); nothing "
            "was imported")
    return patients[0]


def _observation(reader: _Reader, located: Located, report: Located | None,
                 skipped: list[SkippedResult]) -> list[tuple[str, dict[str, Any]]]:
    """Return the results of one observation (itself, its components): (marker id, record)."""
    obs = located.resource
    code_text = _concept_text(obs.get("code"))
    status = _text(obs.get("status"))
    if status not in OBSERVATION_STATUSES:
        raise reader.fail(located, "Observation.status",
                          f"expected one of {', '.join(OBSERVATION_STATUSES)} (R4's "
                          f"ObservationStatus); found {status!r}", FormatError)
    if obs.get("dataAbsentReason") is not None and any(k.startswith("value") for k in obs):
        raise reader.fail(located, "Observation.dataAbsentReason",
                          "a result has a value or says why it has none, not both (FHIR "
                          "invariant obs-6)", FormatError)
    if status not in COUNTED_STATUSES:
        skipped.append(SkippedResult(located.where, code_text,
                                     f"status {status!r} (only {', '.join(COUNTED_STATUSES)} "
                                     "results are imported)"))
        return []
    if report is not None and report.resource.get("status") in ("entered-in-error",
                                                                 "cancelled"):
        skipped.append(SkippedResult(located.where, code_text,
                                     f"its report {report.name} is "
                                     f"{report.resource.get('status')}"))
        return []
    has_value = any(k.startswith("value") for k in obs)
    components = [c for c in obs.get("component") or [] if isinstance(c, Mapping)]
    if not has_value and obs.get("hasMember") and not components:
        skipped.append(SkippedResult(located.where, code_text,
                                     f"a panel with no value of its own (its "
                                     f"{len(obs['hasMember'])} member(s) are read as results "
                                     "of their own)"))
        return []
    if not has_value and not components and obs.get("dataAbsentReason"):
        skipped.append(SkippedResult(
            located.where, code_text,
            f"no value (dataAbsentReason: {_concept_text(obs['dataAbsentReason'])})"))
        return []
    _check_times(reader, located)
    common = {
        "effective": (_text(obs.get("effectiveDateTime")) or _text(obs.get("effectiveInstant"))
                      or _text((obs.get("effectivePeriod") or {}).get("start"))
                      or _text(obs.get("issued"))),
        "specimen": _specimen(reader, located),
        "status": status,
        "report": report.name if report is not None else "",
        "assay": _concept_text_plain(obs.get("method")),
    }
    parts: list[tuple[str, Mapping[str, Any], str]] = []
    if has_value or not components:
        parts.append(("Observation", obs, located.name))
    for n, comp in enumerate(components):
        parts.append((f"Observation.component[{n}]", comp, f"{located.name}.component[{n}]"))
    out = []
    for element, part, source in parts:
        found = reader.match(located, part.get("code"), f"{element}.code")
        if found is None:
            if reader.skip_unknown:
                skipped.append(SkippedResult(located.where + (
                    f" {element.removeprefix('Observation.')}" if element != "Observation"
                    else ""), _concept_text(part.get("code")),
                    "a code the marker catalogue does not know"))
                continue
            raise reader.unknown(located, part.get("code"), f"{element}.code")
        entry, carried = found
        record = reader.result(located, element, part, entry, carried)
        out.append((entry.id, {**common, **record, "source": source, "where": located.where}))
    return out


#: The first year a result may be dated (the practice's dates start there too).
FIRST_YEAR = 1900


def _check_times(reader: _Reader, located: Located) -> None:
    """Refuse a result dated before 1900 or after tomorrow, or a period that ends first.

    The format was checked with the resource; this is whether the date can be
    a laboratory result's (``0001-01-01`` and ``9999-12-31`` are valid FHIR).
    A day of slack ahead covers time zones.
    """
    obs = located.resource
    raw_period = obs.get("effectivePeriod")
    period: Mapping[str, Any] = raw_period if isinstance(raw_period, Mapping) else {}
    latest = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    for element, value in (("effectiveDateTime", obs.get("effectiveDateTime")),
                           ("effectiveInstant", obs.get("effectiveInstant")),
                           ("effectivePeriod.start", period.get("start")),
                           ("effectivePeriod.end", period.get("end")),
                           ("issued", obs.get("issued"))):
        text = _text(value)
        if len(text) < 4 or not text[:4].isdigit():
            continue
        day = text[:10]
        if int(text[:4]) < FIRST_YEAR or day > latest:
            raise reader.fail(located, f"Observation.{element}",
                              f"{text} is not a date a result can have (expected "
                              f"{FIRST_YEAR} to {latest})", ValidationError)
    start, end = _text(period.get("start")), _text(period.get("end"))
    if start and end and _after(start, end):
        raise reader.fail(located, "Observation.effectivePeriod",
                          f"the period starts ({start}) after it ends ({end})", ValidationError)


def _after(first: str, second: str) -> bool:
    """Tell whether the FHIR dateTime ``first`` is after ``second``, as far as their precision says.

    Two times with offsets are compared as moments; otherwise the dates, to
    the precision both have (``2024-03`` is not after ``2024-03-01``).

    >>> _after("2024-03-11T00:30:00+01:00", "2024-03-10T23:45:00Z")
    False
    >>> _after("2024-03-05", "2024-03-01T08:00:00Z"), _after("2024-03", "2024-03-01")
    (True, False)
    """
    try:
        moments = dt.datetime.fromisoformat(first), dt.datetime.fromisoformat(second)
    except ValueError:
        moments = None
    if moments is not None and all(m.tzinfo is not None for m in moments):
        return moments[0] > moments[1]
    days = first[:10], second[:10]
    shared = min(len(d) for d in days)
    return days[0][:shared] > days[1][:shared]


def _concept_text_plain(concept: Any) -> str:
    """Return a concept's text, else its first coding's display, else its code."""
    if not isinstance(concept, Mapping):
        return ""
    if _text(concept.get("text")):
        return _text(concept.get("text"))
    for coding in concept.get("coding") or []:
        if _text(coding.get("display")) or _text(coding.get("code")):
            return _text(coding.get("display")) or _text(coding.get("code"))
    return ""


def _specimen(reader: _Reader, located: Located) -> str:
    ref = located.resource.get("specimen")
    if not isinstance(ref, Mapping):
        return ""
    target = (reader.index.resolve(_text(ref.get("reference")), located)
              if _text(ref.get("reference")) else None)
    if target is not None and target.kind == "Specimen":
        kind = _concept_text_plain(target.resource.get("type"))
        if kind:
            return kind
    return _text(ref.get("display")) or _text(ref.get("reference"))
