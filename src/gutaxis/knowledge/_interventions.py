"""The options catalogue (``interventions.yaml``): the 5R steps and their interventions.

Each intervention names the findings it addresses, the evidence, and sources.

Nothing here is a prescription: entries carry no doses, and the evidence
level is a small documented vocabulary (``evidence_levels`` in the file)
describing what the sources show.  Where a guideline states a position, its
wording is quoted verbatim in ``guideline``; a grade that was not checked
against the guideline's text is not quoted (``grade_note`` says so).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pydantic

from gutaxis.exceptions import NotFoundError
from gutaxis.knowledge._chain import Condition, source_label
from gutaxis.knowledge._loading import load_model
from gutaxis.knowledge._markers import Source

__all__ = [
    "STEP_IDS",
    "LinkTrigger",
    "GuidelinePosition",
    "Step",
    "Framework",
    "Intervention",
    "InterventionCatalog",
    "load_interventions",
]

_SCHEMA_VERSION = 1

#: The 5R steps in their order.
STEP_IDS: tuple[str, ...] = ("remove", "replace", "reinoculate", "repair", "rebalance")
StepId = Literal["remove", "replace", "reinoculate", "repair", "rebalance"]


class _Frozen(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)


class LinkTrigger(_Frozen):
    """A link of the chain in a given status: ``{link: barrier, status: disturbed}``."""

    link: Literal["dysbiosis", "barrier", "translocation", "inflammation"]
    status: Literal["disturbed"]

    def label(self) -> str:
        """``"link:barrier=disturbed"``, the form profiles use for a finding."""
        return f"link:{self.link}={self.status}"


#: A finding an intervention addresses: a link status or a measure status.
Trigger = LinkTrigger | Condition


class GuidelinePosition(_Frozen):
    """What a guideline or position paper says, in its own words.

    ``statement`` and ``grade`` are verbatim (or null); ``grade_note`` says
    why no grade is quoted (not checked verbatim, or the document carries no
    formal grade).  ``source`` is where the wording was read.
    """

    body: str = pydantic.Field(min_length=2)
    year: int = pydantic.Field(ge=1950, le=2100)
    document: str = pydantic.Field(min_length=5)
    statement: str | None = None
    grade: str | None = None
    grade_note: str | None = None
    source: Source

    @pydantic.model_validator(mode="after")
    def _something_quoted(self) -> GuidelinePosition:
        if self.statement is None and self.grade is None and self.grade_note is None:
            raise ValueError("a guideline position needs a statement, a grade or a grade_note")
        if self.grade is None and self.grade_note is None:
            raise ValueError("without a verbatim grade, grade_note must say why none is quoted")
        return self

    def render(self) -> str:
        """One line: body, year, quoted statement and grade (or why none is quoted)."""
        text = f"{self.body} {self.year}, {self.document}"
        if self.statement:
            text += f': "{self.statement}"'
        if self.grade:
            text += f' Grade: "{self.grade}".'
        elif self.grade_note:
            text += f" [{self.grade_note}]"
        return text


class Step(_Frozen):
    """One of the five R's."""

    id: StepId
    name: str
    description: str = pydantic.Field(min_length=10)
    commonly_named: list[str] = pydantic.Field(min_length=1)
    evidence_note: str = pydantic.Field(min_length=10)
    sources: list[Source] = pydantic.Field(min_length=1)


class Framework(_Frozen):
    """The 5R framework as a whole: what it is and what is known of it."""

    name: str
    description: str = pydantic.Field(min_length=10)
    trial_evidence: str = pydantic.Field(min_length=10)
    source_note: str = pydantic.Field(min_length=10)
    sources: list[Source] = pydantic.Field(min_length=1)


class Intervention(_Frozen):
    """One option (fields described at the top of ``interventions.yaml``)."""

    id: str = pydantic.Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str = pydantic.Field(min_length=3)
    step: StepId
    addresses: list[Trigger] = pydantic.Field(min_length=1)
    evidence_summary: str = pydantic.Field(min_length=20)
    evidence_level: str
    guideline: list[GuidelinePosition] | None = None
    cautions: str = ""
    sources: list[Source] = pydantic.Field(min_length=1)
    verified: bool

    def guideline_text(self) -> str | None:
        """Join the guideline positions, one line each; ``None`` when there are none."""
        if not self.guideline:
            return None
        return " | ".join(position.render() for position in self.guideline)

    def source_labels(self) -> tuple[str, ...]:
        return tuple(source_label(s) for s in self.sources)


class InterventionCatalog(_Frozen):
    """The whole options file."""

    schema_version: int
    version: str
    disclaimer: str = pydantic.Field(min_length=20)
    evidence_levels: dict[str, str] = pydantic.Field(min_length=1)
    unfavourable_levels: list[str] = pydantic.Field(min_length=1)
    framework: Framework
    steps: list[Step]
    interventions: list[Intervention]

    @pydantic.model_validator(mode="after")
    def _check(self) -> InterventionCatalog:
        if self.schema_version != _SCHEMA_VERSION:
            raise ValueError(f"schema_version {self.schema_version} is not supported "
                             f"(expected {_SCHEMA_VERSION})")
        steps = [s.id for s in self.steps]
        if steps != list(STEP_IDS):
            raise ValueError(f"steps must be {list(STEP_IDS)} in that order; got {steps}")
        unknown = sorted(set(self.unfavourable_levels) - set(self.evidence_levels))
        if unknown:
            raise ValueError(f"unfavourable_levels names {unknown}, which are not "
                             f"evidence_levels")
        seen: set[str] = set()
        for entry in self.interventions:
            if entry.id in seen:
                raise ValueError(f"intervention id {entry.id!r} is used twice")
            seen.add(entry.id)
            if entry.evidence_level not in self.evidence_levels:
                raise ValueError(f"intervention {entry.id!r}: evidence_level "
                                 f"{entry.evidence_level!r} is not one of "
                                 f"{sorted(self.evidence_levels)}")
        return self

    def step(self, step_id: str) -> Step:
        """Return the 5R step with this id.

        Parameters
        ----------
        step_id : str
            One of :data:`STEP_IDS`.

        Returns
        -------
        Step

        Raises
        ------
        NotFoundError
            No such step (the message lists the valid ids).
        """
        for entry in self.steps:
            if entry.id == step_id:
                return entry
        raise NotFoundError("5R step", [step_id], "the options catalogue",
                            available=STEP_IDS)


def load_interventions(path: str | Path | None = None) -> InterventionCatalog:
    """Load the options catalogue: the bundled one, or a file in the same schema.

    Parameters
    ----------
    path : path, optional
        A YAML file in the ``interventions.yaml`` schema; by default the
        catalogue shipped with gutaxis.

    Raises
    ------
    FormatError
        The file cannot be read or is not UTF-8 text; not YAML, or an entry that
        breaks the schema (the message names the field).

    Examples
    --------
    >>> [step.id for step in load_interventions().steps]
    ['remove', 'replace', 'reinoculate', 'repair', 'rebalance']
    """
    return load_model(InterventionCatalog, "interventions.yaml", path)
