"""The Bristol Stool Form Scale (``bristol.yaml``): seven types described in our own words."""

from __future__ import annotations

from pathlib import Path

import pydantic

from gutaxis.exceptions import NotFoundError
from gutaxis.knowledge._loading import load_model
from gutaxis.knowledge._markers import Source

__all__ = ["BristolType", "BristolScale", "load_bristol_scale"]

_SCHEMA_VERSION = 1


class _Frozen(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)


class BristolType(_Frozen):
    """One stool type: its number (1–7), a short label and a plain description."""

    type: int = pydantic.Field(ge=1, le=7)
    label: str = pydantic.Field(min_length=3)
    description: str = pydantic.Field(min_length=10)


class BristolScale(_Frozen):
    """The scale: seven types in order, what it is for, its source and licence."""

    schema_version: int
    version: str
    name: str
    written_for_gutaxis: bool
    licence: str = pydantic.Field(min_length=20)
    about: str = pydantic.Field(min_length=20)
    source: Source
    types: list[BristolType]

    @pydantic.model_validator(mode="after")
    def _seven_in_order(self) -> BristolScale:
        if self.schema_version != _SCHEMA_VERSION:
            raise ValueError(f"schema_version {self.schema_version} is not supported "
                             f"(expected {_SCHEMA_VERSION})")
        numbers = [t.type for t in self.types]
        if numbers != list(range(1, 8)):
            raise ValueError(f"types must be 1 to 7 in order; got {numbers}")
        return self

    def stool_type(self, number: int) -> BristolType:
        """Return stool type ``number`` (1–7).

        Raises
        ------
        NotFoundError
            ``number`` is not one of the seven types.

        Examples
        --------
        >>> load_bristol_scale().stool_type(4).label
        'Smooth snake'
        """
        for entry in self.types:
            if entry.type == number and not isinstance(number, bool):
                return entry
        raise NotFoundError("stool type", [repr(number)], "the Bristol scale",
                            available=[str(t.type) for t in self.types])


def load_bristol_scale(path: str | Path | None = None) -> BristolScale:
    """Load the Bristol Stool Form Scale: the bundled descriptions, or a file in the same schema.

    Parameters
    ----------
    path : path, optional
        A YAML file in the ``bristol.yaml`` schema (a translation, say); by
        default the descriptions shipped with gutaxis.

    Returns
    -------
    BristolScale

    Raises
    ------
    InputError
        ``path`` is not a path at all.
    FormatError
        The file cannot be read, is not YAML, or breaks the schema (the
        message names the field).

    Examples
    --------
    >>> scale = load_bristol_scale()
    >>> [t.type for t in scale.types]
    [1, 2, 3, 4, 5, 6, 7]
    >>> scale.source.doi
    '10.3109/00365529709011203'
    """
    return load_model(BristolScale, "bristol.yaml", path)
