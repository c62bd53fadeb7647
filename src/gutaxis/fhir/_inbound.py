"""FHIR R4 JSON that comes in: size limit, JSON, strict R4 structure, and a bundle's references.

:func:`load_resource` reads a path, bytes or a parsed mapping into one JSON
object that has a ``resourceType``; :func:`check_r4_structure` checks it with
the strict FHIR R4 (4.0.1) models of ``fhirclient`` and turns the first
problem into one line naming the resource (type/id and position, such as
``Bundle.entry[3]``), the element path, what was expected and what was found;
:class:`ResourceIndex` lists the resources of a bundle (entries and contained
ones) and resolves references between them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from gutaxis.exceptions import FormatError, UnsafeInputError
from gutaxis.io import get_limits

__all__ = ["LoadedResource", "load_resource", "check_r4_structure", "Located", "ResourceIndex",
           "describe_resource", "literal_target"]

#: Elements that FHIR R4 does not define but another FHIR version does, by resource type
#: (from the resource pages of https://hl7.org/fhir/R5/, /STU3/ and /DSTU2/): a hint in the
#: error message when one of them is found.
_OTHER_VERSION_ELEMENTS: dict[tuple[str, str], str] = {
    ("Observation", "triggeredBy"): "R5",
    ("Observation", "instantiatesCanonical"): "R5",
    ("Observation", "instantiatesReference"): "R5",
    ("Observation", "bodyStructure"): "R5",
    ("DiagnosticReport", "supportingInfo"): "R5",
    ("DiagnosticReport", "study"): "R5",
    ("DiagnosticReport", "note"): "R5",
    ("Bundle", "issues"): "R5",
    ("Observation", "comment"): "STU3",
    ("Observation", "context"): "STU3",
    ("DiagnosticReport", "context"): "STU3",
    ("DiagnosticReport", "codedDiagnosis"): "STU3 or DSTU2",
    ("DiagnosticReport", "image"): "STU3 or DSTU2",
    ("Observation", "comments"): "DSTU2",
    ("DiagnosticReport", "request"): "DSTU2",
}

_WRONG_TYPE = re.compile(r"Wrong type <class '([\w.]+)'> for property \"(\w+)\" on "
                         r"<class '[\w.]+'>, expecting <class '([\w.]+)'>")
_MISSING = re.compile(r"Non-optional property \"(\w+)\" on .* is missing")
_SUPERFLUOUS = re.compile(r"Superfluous entry \"([^\"]*)\" in data for")

_TYPE_WORDS = {"str": "a text", "float": "a number", "int": "an integer", "bool": "true or false",
               "list": "a list", "dict": "a JSON object", "NoneType": "null",
               "FHIRDate": "a FHIR date (YYYY, YYYY-MM or YYYY-MM-DD)",
               "FHIRDateTime": "a FHIR dateTime (YYYY-MM-DD or YYYY-MM-DDThh:mm:ss+zz:zz)",
               "FHIRInstant": "a FHIR instant (YYYY-MM-DDThh:mm:ss+zz:zz)",
               "FHIRTime": "a FHIR time (hh:mm:ss)"}


@dataclasses.dataclass(frozen=True)
class LoadedResource:
    """A FHIR resource as read: the JSON object, what to call it, and its hash.

    Attributes
    ----------
    document : dict
        The parsed JSON object (it has a ``resourceType``).
    label : str
        The file's path, ``"the FHIR bytes"`` or ``"the FHIR resource"`` (for
        a mapping); the first part of every message.
    sha256 : str or None
        SHA-256 of the bytes read; None for a mapping.
    """

    document: dict[str, Any]
    label: str
    sha256: str | None


def _refuse_constant(name: str) -> float:
    raise FormatError(f"the JSON holds {name}, which is not a JSON number")


def load_resource(source: str | Path | bytes | Mapping[str, Any]) -> LoadedResource:
    """Read FHIR JSON from a path, bytes or a parsed mapping; check size and ``resourceType``.

    Raises
    ------
    FormatError
        Unreadable, not UTF-8, not JSON, not a JSON object, no ``resourceType``
        (or XML).
    UnsafeInputError
        Larger than ``get_limits().max_fhir_bytes`` (``GUTAXIS_MAX_FHIR_BYTES``),
        or nested too deeply to parse.
    """
    limit = get_limits().max_fhir_bytes
    if isinstance(source, Mapping):
        label, raw, sha = "the FHIR resource", None, None
        document: Any = dict(source)
    else:
        if isinstance(source, (bytes, bytearray)):
            label, raw = "the FHIR bytes", bytes(source)
            if len(raw) > limit:
                raise UnsafeInputError(f"{label}: {len(raw)} bytes is more than the limit of "
                                       f"{limit} bytes for a FHIR file (GUTAXIS_MAX_FHIR_BYTES)")
        elif isinstance(source, (str, Path)):
            label = str(source)
            path = Path(source)
            try:
                size = path.stat().st_size
                if size > limit:
                    raise UnsafeInputError(
                        f"{label}: {size} bytes is more than the limit of {limit} bytes for a "
                        "FHIR file (raise it with GUTAXIS_MAX_FHIR_BYTES)")
                raw = path.read_bytes()
            except OSError as exc:
                raise FormatError(f"{label}: cannot read the FHIR file "
                                  f"({exc.strerror or exc})") from None
        else:
            raise FormatError(f"expected a path, bytes or a parsed FHIR JSON object; got "
                              f"{type(source).__name__}")
        sha = hashlib.sha256(raw).hexdigest()
        document = _parse_json(raw, label)
    if not isinstance(document, dict):
        raise FormatError(f"{label}: expected a FHIR resource (a JSON object with a "
                          f"'resourceType'); found a JSON {type(document).__name__}")
    resource_type = document.get("resourceType")
    if not isinstance(resource_type, str) or not resource_type:
        keys = ", ".join(list(map(str, document))[:6]) or "none"
        raise FormatError(f"{label}: not a FHIR resource: the JSON object has no "
                          f"'resourceType' (its keys: {keys}); expected a FHIR R4 Bundle, "
                          "DiagnosticReport or Observation in JSON")
    return LoadedResource(document, label, sha)


def _parse_json(raw: bytes, label: str) -> Any:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FormatError(f"{label}: the file is UTF-16; save it as UTF-8")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FormatError(f"{label}: not UTF-8 text (byte {exc.start}); FHIR JSON is UTF-8"
                          ) from None
    if text.lstrip().startswith("<"):
        raise FormatError(f"{label}: this looks like XML; gutaxis reads FHIR JSON (convert "
                          "the XML to JSON first)")
    try:
        document = json.loads(text, parse_constant=_refuse_constant, parse_int=_bounded_int,
                              object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        raise FormatError(f"{label}: not JSON (line {exc.lineno}, column {exc.colno}: "
                          f"{exc.msg})") from None
    except FormatError as exc:
        raise FormatError(f"{label}: {exc}") from None
    except RecursionError:
        raise UnsafeInputError(f"{label}: the JSON is nested too deeply to read") from None
    where = _unpaired_surrogate(document, "")
    if where is not None:
        raise FormatError(f"{label}: {where or 'the document'}: a text holds an unpaired "
                          "surrogate escape (such as \\ud800), which is not Unicode text; "
                          "nothing was imported")
    return document


#: The most digits an integer of the input may have (FHIR's integers are 32-bit; decimals
#: have at most 18 significant digits in practice).
_MAX_INT_DIGITS = 40


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > _MAX_INT_DIGITS:
        raise FormatError(f"a number with {len(text.lstrip('-'))} digits ({text[:12]}…); "
                          f"expected a number of at most {_MAX_INT_DIGITS} digits")
    return int(text)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise FormatError(f"the property {key!r} appears twice in one JSON object (FHIR "
                              "JSON forbids it: which value is meant cannot be known)")
        out[key] = value
    return out


def _unpaired_surrogate(node: Any, path: str) -> str | None:
    """Return the element path of the first text holding a lone surrogate (None: none)."""
    if isinstance(node, str):
        return path if any("\ud800" <= c <= "\udfff" for c in node) else None
    if isinstance(node, dict):
        for key, value in node.items():
            found = _unpaired_surrogate(key, path) or _unpaired_surrogate(
                value, f"{path}.{key}" if path else key)
            if found is not None:
                return found
    elif isinstance(node, list):
        for n, value in enumerate(node):
            found = _unpaired_surrogate(value, f"{path}[{n}]")
            if found is not None:
                return found
    return None


def describe_resource(resource: Mapping[str, Any]) -> str:
    """``"Observation/abc"``, or the bare type when the resource has no id."""
    kind = str(resource.get("resourceType", "resource"))
    rid = resource.get("id")
    return f"{kind}/{rid}" if isinstance(rid, str) and rid else kind


# ------------------------------------------------------------------ structure
def _leaves(error: BaseException, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...],
                                                                           BaseException]]:
    from fhirclient.models.fhirabstractbase import FHIRValidationError

    if isinstance(error, FHIRValidationError):
        here = path + tuple(str(error.path).split(".")) if error.path else path
        for inner in error.errors:
            yield from _leaves(inner, here)
    else:
        yield path, error


def _property_type(resource_type: str, segments: list[str]) -> str | None:
    """Return the fhirclient class name of the element at ``segments`` (list indexes skipped)."""
    from fhirclient.models.fhirelementfactory import FHIRElementFactory

    cls: Any = type(FHIRElementFactory.instantiate(resource_type, None))
    for seg in segments:
        if seg.isdigit():
            continue
        try:
            props = cls().elementProperties()
        except Exception:  # a primitive: no properties
            return None
        match = next((p for p in props if p[1] == seg), None)
        if match is None:
            return None
        cls = match[2]
    return str(cls.__name__)


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def check_r4_structure(loaded: LoadedResource) -> None:
    """Check the resource against the strict FHIR R4 (4.0.1) models of ``fhirclient``.

    Raises
    ------
    FormatError
        One line: the file, the resource (type/id and position), the element
        path, what was expected and what was found (and how many more
        problems there are).
    """
    from fhirclient.models.fhirabstractbase import FHIRValidationError
    from fhirclient.models.fhirabstractresource import FHIRAbstractResource
    from fhirclient.models.fhirelementfactory import FHIRElementFactory

    doc = loaded.document
    kind = doc["resourceType"]
    model = FHIRElementFactory.instantiate(kind, None)
    if not isinstance(model, FHIRAbstractResource):
        raise FormatError(f"{loaded.label}: resourceType {kind!r} is not a FHIR R4 resource "
                          "type (is the file FHIR R5 or an older version? gutaxis reads R4, "
                          "4.0.1)")
    try:
        type(model)(doc, strict=True)
    except FHIRValidationError as exc:
        leaves = list(_leaves(exc, ()))
        path, leaf = leaves[0]
        more = f" (and {len(leaves) - 1} more problem(s))" if len(leaves) > 1 else ""
        raise FormatError(f"{loaded.label}: {_explain(doc, list(path), leaf)}{more}") from None
    except Exception as exc:  # fhirclient's own checks outside the validation tree
        raise FormatError(f"{loaded.label}: not valid FHIR R4: {exc}") from None


def _explain(doc: dict[str, Any], path: list[str], leaf: BaseException) -> str:
    """Turn a fhirclient path and leaf error into 'where: element: expected …; found …'."""
    # walk the raw JSON along the path, remembering the innermost resource and where it is
    where = describe_resource(doc)
    resource: dict[str, Any] = doc
    element = [str(doc["resourceType"])]
    node: Any = doc
    i = 0
    while i < len(path):
        seg = path[i]
        index = path[i + 1] if i + 1 < len(path) and path[i + 1].isdigit() else None
        child = node.get(seg) if isinstance(node, dict) else None
        if index is not None:
            step = f"{seg}[{index}]"
            child = (child[int(index)] if isinstance(child, list) and int(index) < len(child)
                     else None)
            i += 2
        else:
            step = seg
            i += 1
        is_resource = isinstance(child, dict) and "resourceType" in child
        if not isinstance(child, dict) or not is_resource:
            element.append(step)
            node = child
            continue
        if seg == "resource":
            where = f"{'.'.join(element)} ({describe_resource(child)})"
        elif seg == "contained":
            where = f"{where}.{step} ({describe_resource(child)})"
        resource, element, node = child, [str(child["resourceType"])], child
    kind = str(resource.get("resourceType"))
    message = str(leaf.args[0]) if leaf.args else str(leaf)
    elem = ".".join(element)
    wrong = _WRONG_TYPE.search(message)
    if wrong:
        found, prop, expected = wrong.groups()
        expected_name = expected.rsplit(".", 1)[-1]
        if prop in ("resource",) and expected_name == "Resource" and isinstance(node, dict):
            return (f"{where}: {elem}: resourceType {node.get('resourceType')!r} is not a FHIR "
                    "R4 resource type (is the file FHIR R5 or an older version? gutaxis reads "
                    "R4, 4.0.1)")
        expected_text = _TYPE_WORDS.get(expected_name, f"a {expected_name} (a JSON object)")
        found_text = _TYPE_WORDS.get(found.rsplit(".", 1)[-1], found)
        return (f"{where}: {elem}: expected {expected_text}; found {found_text} "
                f"{_shown(node)}")
    missing = _MISSING.search(message)
    if missing:
        return (f"{where}: {elem}.{missing.group(1)}: a required element is missing "
                f"(FHIR R4 {kind} needs it)")
    extra = _SUPERFLUOUS.search(message)
    if extra:
        name = extra.group(1)
        owner = element[-1] if len(element) > 1 else kind
        version = _OTHER_VERSION_ELEMENTS.get((kind, name)) if len(element) == 1 else None
        hint = (f"; it is an element of FHIR {version}: convert the file to R4 (4.0.1)"
                if version else "; check its spelling, or whether the file is another FHIR "
                                "version than R4 (4.0.1)")
        return (f"{where}: {elem}.{name}: element {name!r} is not defined in FHIR R4 "
                f"for {owner}{hint}")
    if "does not match expected format" in message:
        expected_name = _property_type(kind, element[1:] if len(element) > 1 else []) or ""
        expected_text = _TYPE_WORDS.get(expected_name, "the FHIR format of this element")
        return f"{where}: {elem}: expected {expected_text}; found {_shown(node)}"
    cleaned = re.sub(r"<[^>]* object at 0x[0-9a-f]+>", kind, message)
    return f"{where}: {elem}: not valid FHIR R4 ({cleaned})"


# ----------------------------------------------------------------- references
@dataclasses.dataclass(eq=False)
class Located:
    """A resource of the input and where it is.

    Attributes
    ----------
    resource : dict
    where : str
        ``"Bundle.entry[3] (Observation/abc)"``, ``"DiagnosticReport/r1 contained[0]
        (Observation/o1)"``, or ``"Observation/abc"`` for a single resource.
    full_url : str or None
        ``Bundle.entry.fullUrl``.
    container : Located or None
        The resource that contains this one (``contained``).
    """

    resource: dict[str, Any]
    where: str
    full_url: str | None = None
    container: Located | None = None

    @property
    def kind(self) -> str:
        """The ``resourceType``."""
        return str(self.resource.get("resourceType"))

    @property
    def name(self) -> str:
        """What the resource is called in the ``source`` column: type/id, fullUrl or position."""
        if self.container is not None:
            return f"{self.container.name}#{self.resource.get('id', '')}"
        if self.resource.get("id"):
            return describe_resource(self.resource)
        return self.full_url or self.where


class ResourceIndex:
    """The resources of a bundle (or of a single resource), and references between them.

    Parameters
    ----------
    document : dict
        A structurally valid FHIR R4 resource.
    """

    def __init__(self, document: dict[str, Any]) -> None:
        self.top: list[Located] = []
        if document["resourceType"] == "Bundle":
            for n, entry in enumerate(document.get("entry") or []):
                res = entry.get("resource")
                if isinstance(res, dict):
                    self.top.append(Located(res, f"Bundle.entry[{n}] ({describe_resource(res)})",
                                            entry.get("fullUrl")))
        else:
            self.top.append(Located(document, describe_resource(document)))
        self.contained: dict[int, list[Located]] = {}
        for located in self.top:
            self.contained[id(located)] = [
                Located(res, f"{located.where}.contained[{n}] ({describe_resource(res)})",
                        None, located)
                for n, res in enumerate(located.resource.get("contained") or [])]
        # the first entry of each fullUrl and of each type/id: references are looked up, not
        # searched (a bundle of 10,000 patients spent a minute in a linear search)
        self._by_url: dict[str, Located] = {}
        self._by_id: dict[tuple[str, str], Located] = {}
        for located in self.top:
            if located.full_url:
                self._by_url.setdefault(located.full_url, located)
            rid = located.resource.get("id")
            if isinstance(rid, str):
                self._by_id.setdefault((located.kind, rid), located)

    def all(self) -> list[Located]:
        """Every resource, in document order (a container before what it contains)."""
        out = []
        for located in self.top:
            out.append(located)
            out.extend(self.contained[id(located)])
        return out

    def resolve(self, reference: str, origin: Located) -> Located | None:
        """Return the resource ``reference`` points to, seen from ``origin`` (None: absent).

        ``#id`` is a contained resource of ``origin``'s container; a fullUrl
        (``urn:uuid:…``, an absolute URL) matches an entry's ``fullUrl``;
        ``Type/id`` (or a URL ending in it, with or without ``_history``)
        matches an entry by type and id.
        """
        if reference.startswith("#"):
            outer = origin.container or origin
            return next((c for c in self.contained[id(outer)]
                         if c.resource.get("id") == reference[1:]), None)
        hit = self._by_url.get(reference)
        if hit is not None or reference.startswith("urn:"):
            return hit
        target = literal_target(reference)
        return self._by_id.get(target) if target is not None else None


def literal_target(reference: str) -> tuple[str, str] | None:
    """Return the type and id a literal reference names, relative or absolute.

    None for what names no resource by type and id: a ``urn:``, a contained
    ``#id``, a conditional ``Type?search`` or a bare word.

    Examples
    --------
    >>> literal_target("Patient/p1"), literal_target("https://x.example/fhir/Group/g1/_history/2")
    (('Patient', 'p1'), ('Group', 'g1'))
    >>> literal_target("urn:uuid:5e3c"), literal_target("Patient?identifier=a|b")
    (None, None)
    """
    if not reference or reference.startswith(("urn:", "#")) or "?" in reference:
        return None
    parts = reference.split("/_history/")[0].rstrip("/").split("/")
    return (parts[-2], parts[-1]) if len(parts) >= 2 else None


def finite_number(value: Any) -> bool:
    """Return True for a JSON number that is not a boolean and is finite."""
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))
