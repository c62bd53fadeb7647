"""The marker catalogue (``markers.yaml``): schema and loader."""

from __future__ import annotations

import functools
import re
from importlib import resources
from pathlib import Path
from typing import Any

import pydantic
import yaml

from gutaxis.exceptions import FormatError

__all__ = ["Source", "MarkerEntry", "MarkerCatalog", "load_marker_catalog", "normalise_name"]

_SCHEMA_VERSION = 1


def normalise_name(name: str) -> str:
    """A column or marker name as matched against aliases.

    Lower case, without spaces, ``-``, ``_`` and ``.``: ``"I-FABP"``,
    ``"ifabp"`` and ``"I_FABP"`` all become ``"ifabp"``.
    """
    return re.sub(r"[\s\-_.]+", "", str(name)).casefold()


class Source(pydantic.BaseModel):
    """A citation with at least one resolvable identifier."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    citation: str = pydantic.Field(min_length=5)
    doi: str | None = None
    pmid: str | None = None
    url: str | None = None

    @pydantic.model_validator(mode="after")
    def _has_identifier(self) -> Source:
        if not (self.doi or self.pmid or self.url):
            raise ValueError(f"source {self.citation!r} needs a doi, pmid or url")
        if self.doi is not None and not re.fullmatch(r"10\.\d{4,9}/\S+", self.doi):
            raise ValueError(f"doi {self.doi!r} is not a DOI (10.NNNN/...)")
        if self.pmid is not None and not re.fullmatch(r"\d{1,9}", self.pmid):
            raise ValueError(f"pmid {self.pmid!r} is not a PubMed id (digits)")
        return self


class MarkerEntry(pydantic.BaseModel):
    """One marker of the catalogue (see the field list at the top of ``markers.yaml``)."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    id: str = pydantic.Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    full_name: str
    specimen: str
    unit: str
    ucum: str | None
    loinc: str | None = pydantic.Field(default=None, pattern=r"^\d{1,7}-\d$")
    aliases: list[str]
    alias_units: dict[str, str] = {}
    indicates: str
    caveats: str
    evidence: str
    sources: list[Source] = pydantic.Field(min_length=1)

    @pydantic.model_validator(mode="after")
    def _alias_units_are_aliases(self) -> MarkerEntry:
        unknown = sorted(set(self.alias_units) - set(self.aliases))
        if unknown:
            raise ValueError(f"alias_units names {unknown} that are not in aliases")
        return self


class MarkerCatalog(pydantic.BaseModel):
    """The whole marker file."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    schema_version: int
    version: str
    markers: list[MarkerEntry]

    @pydantic.model_validator(mode="after")
    def _unique(self) -> MarkerCatalog:
        seen: dict[str, str] = {}
        for entry in self.markers:
            for key in {normalise_name(a) for a in [entry.id, entry.name, *entry.aliases]}:
                if key in seen and seen[key] != entry.id:
                    raise ValueError(f"alias {key!r} names both {seen[key]} and {entry.id}")
                seen[key] = entry.id
        if self.schema_version != _SCHEMA_VERSION:
            raise ValueError(f"schema_version {self.schema_version} is not supported "
                             f"(expected {_SCHEMA_VERSION})")
        return self

    def find(self, column: str) -> tuple[MarkerEntry, str | None] | None:
        """The entry a column name refers to, and the unit its name carries.

        Returns ``None`` when no entry has the column (or its normalised form)
        as id, name or alias.
        """
        key = normalise_name(column)
        for entry in self.markers:
            for alias in [entry.id, entry.name, *entry.aliases]:
                if normalise_name(alias) == key:
                    return entry, entry.alias_units.get(alias)
        return None


def _load(text: str, where: str) -> MarkerCatalog:
    try:
        raw: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise FormatError(f"{where}: not valid YAML ({exc})") from None
    try:
        return MarkerCatalog.model_validate(raw)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise FormatError(f"{where}: field {loc}: {first['msg']} "
                          f"({exc.error_count()} problem(s) in all)") from None


@functools.cache
def _bundled() -> MarkerCatalog:
    text = resources.files("gutaxis.knowledge").joinpath("markers.yaml").read_text("utf-8")
    return _load(text, "gutaxis/knowledge/markers.yaml")


def load_marker_catalog(path: str | Path | None = None) -> MarkerCatalog:
    """The marker catalogue: the bundled one, or a file in the same schema.

    Parameters
    ----------
    path : path, optional
        A YAML file in the ``markers.yaml`` schema; by default the catalogue
        shipped with gutaxis.

    Raises
    ------
    FormatError
        Not YAML, or an entry that breaks the schema (the message names the field).
    """
    if path is None:
        return _bundled()
    path = Path(path)
    return _load(path.read_text(encoding="utf-8"), str(path))
