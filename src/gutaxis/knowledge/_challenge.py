"""The challenge knowledge (``challenge.yaml``): the meaningful worsening and protocol shapes."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pydantic

from gutaxis.knowledge._loading import load_model
from gutaxis.knowledge._markers import Source

__all__ = ["ChallengeKnowledge", "MeaningfulWorsening", "ProtocolTemplate", "DayRange",
           "load_challenge_knowledge"]

_FROZEN = pydantic.ConfigDict(extra="forbid", frozen=True)


class MeaningfulWorsening(pydantic.BaseModel):
    """How large a worsening of a primary symptom counts (a fraction of the own level)."""

    model_config = _FROZEN

    relative: float = pydantic.Field(gt=0, lt=5)
    scale_minimum: float = pydantic.Field(ge=0, le=10)
    scale: str
    summary: str = pydantic.Field(min_length=20)
    sources: tuple[Source, ...] = pydantic.Field(min_length=1)
    evidence_level: str

    def threshold(self, level: float) -> float:
        """Return the worsening (in points) that counts, for a patient at ``level``.

        Examples
        --------
        >>> load_challenge_knowledge().meaningful_worsening.threshold(4.0)
        1.2
        >>> load_challenge_knowledge().meaningful_worsening.threshold(0.2)
        0.3
        """
        return round(self.relative * max(level, self.scale_minimum), 12)


class DayRange(pydantic.BaseModel):
    """A published range of days and the value the portal proposes."""

    model_config = _FROZEN

    low: int = pydantic.Field(ge=1)
    high: int = pydantic.Field(ge=1)
    default: int = pydantic.Field(ge=1)

    @pydantic.model_validator(mode="after")
    def _ordered(self) -> DayRange:
        if not self.low <= self.default <= self.high:
            raise ValueError(f"expected low <= default <= high, got {self.low}, "
                             f"{self.default}, {self.high}")
        return self


class ProtocolTemplate(pydantic.BaseModel):
    """A published shape of an elimination-and-reintroduction protocol."""

    model_config = _FROZEN

    id: str = pydantic.Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    elimination_days: DayRange | None
    default_note: str
    challenge_days: int = pydantic.Field(ge=1, le=14)
    rising_portions: bool
    washout_min_days: int = pydantic.Field(ge=0, le=30)
    groups_tested_one_at_a_time: bool
    blinded_with_sham: bool = False
    summary: str = pydantic.Field(min_length=20)
    sources: tuple[Source, ...] = pydantic.Field(min_length=1)
    evidence_level: str


class ChallengeKnowledge(pydantic.BaseModel):
    """The contents of ``challenge.yaml``."""

    model_config = _FROZEN

    schema_version: Literal[1]
    version: str
    evidence_levels: dict[str, str]
    meaningful_worsening: MeaningfulWorsening
    protocols: tuple[ProtocolTemplate, ...] = pydantic.Field(min_length=1)

    @pydantic.model_validator(mode="after")
    def _levels_known(self) -> ChallengeKnowledge:
        used = [("meaningful_worsening", self.meaningful_worsening.evidence_level)]
        used += [(f"protocols.{p.id}", p.evidence_level) for p in self.protocols]
        for where, level in used:
            if level not in self.evidence_levels:
                raise ValueError(f"{where}: evidence_level {level!r} is not one of "
                                 f"{', '.join(self.evidence_levels)}")
        ids = [p.id for p in self.protocols]
        if len(set(ids)) != len(ids):
            raise ValueError(f"protocol ids must be unique, got {ids}")
        return self

    def protocol(self, protocol_id: str) -> ProtocolTemplate:
        """Return the protocol template ``protocol_id``.

        Raises
        ------
        KeyError
            No such template.
        """
        for template in self.protocols:
            if template.id == protocol_id:
                return template
        raise KeyError(protocol_id)


def load_challenge_knowledge(path: str | Path | None = None) -> ChallengeKnowledge:
    """Load ``challenge.yaml`` (the bundled file, or the one at ``path``).

    Raises
    ------
    FormatError
        Not YAML, or a field that breaks the schema (named in the message).

    Examples
    --------
    >>> knowledge = load_challenge_knowledge()
    >>> knowledge.meaningful_worsening.relative, knowledge.protocol("low_fodmap").challenge_days
    (0.3, 3)
    """
    return load_model(ChallengeKnowledge, "challenge.yaml", path)
