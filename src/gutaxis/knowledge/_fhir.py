"""The FHIR knowledge (``fhir.yaml``): the gutaxis CodeSystem's own concepts, schema and loader."""

from __future__ import annotations

from pathlib import Path

import pydantic

from gutaxis.knowledge._loading import load_model
from gutaxis.knowledge._markers import Source

__all__ = ["FhirConcept", "FhirCodeSystemInfo", "FhirKnowledge", "load_fhir_knowledge"]

_SCHEMA_VERSION = 1


class _Frozen(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)


class FhirConcept(_Frozen):
    """One concept of the gutaxis CodeSystem written in ``fhir.yaml``."""

    code: str = pydantic.Field(pattern=r"^[a-z][a-z0-9_:\-]*$")
    display: str = pydantic.Field(min_length=3)
    definition: str = pydantic.Field(min_length=10)
    sources: list[Source] = pydantic.Field(min_length=1)


class FhirCodeSystemInfo(_Frozen):
    """The CodeSystem's canonical URL, names and description."""

    url: str = pydantic.Field(pattern=r"^https://\S+$")
    name: str = pydantic.Field(pattern=r"^[A-Z][A-Za-z0-9_]{0,254}$")
    title: str
    publisher: str
    description: str


class FhirKnowledge(_Frozen):
    """The whole ``fhir.yaml`` (see the field list at its top)."""

    schema_version: int
    version: str
    code_system: FhirCodeSystemInfo
    concepts: list[FhirConcept] = pydantic.Field(min_length=1)

    @pydantic.model_validator(mode="after")
    def _checked(self) -> FhirKnowledge:
        if self.schema_version != _SCHEMA_VERSION:
            raise ValueError(f"schema_version {self.schema_version} is not supported "
                             f"(expected {_SCHEMA_VERSION})")
        codes = [c.code for c in self.concepts]
        twice = sorted({c for c in codes if codes.count(c) > 1})
        if twice:
            raise ValueError(f"codes given twice: {twice}")
        return self


def load_fhir_knowledge(path: str | Path | None = None) -> FhirKnowledge:
    """Load ``fhir.yaml``: the bundled file, or a file in the same schema.

    Parameters
    ----------
    path : path, optional

    Returns
    -------
    FhirKnowledge

    Raises
    ------
    FormatError
        The file cannot be read, is not YAML, or breaks the schema.

    Examples
    --------
    >>> load_fhir_knowledge().code_system.url
    'https://gutaxis.org/fhir/CodeSystem/gutaxis'
    """
    return load_model(FhirKnowledge, "fhir.yaml", path)
