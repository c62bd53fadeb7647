"""Reading a knowledge-base YAML file into its pydantic model (one way for every file)."""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import pydantic
import yaml

from gutaxis.exceptions import FormatError

__all__ = ["parse_model", "load_model"]

M = TypeVar("M", bound=pydantic.BaseModel)


def parse_model(model: type[M], text: str, where: str) -> M:
    """Validate YAML ``text`` as ``model``.

    Raises
    ------
    FormatError
        Not YAML, or a schema violation: the message names ``where`` and the
        first offending field (and how many problems there are in all).
    """
    try:
        raw: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise FormatError(f"{where}: not valid YAML ({exc})") from None
    try:
        return model.model_validate(raw)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise FormatError(f"{where}: field {loc}: {first['msg']} "
                          f"({exc.error_count()} problem(s) in all)") from None


@functools.cache
def _bundled(model: type[pydantic.BaseModel], filename: str) -> pydantic.BaseModel:
    text = resources.files("gutaxis.knowledge").joinpath(filename).read_text("utf-8")
    return parse_model(model, text, f"gutaxis/knowledge/{filename}")


def load_model(model: type[M], filename: str, path: str | Path | None = None) -> M:
    """The bundled ``filename`` (parsed once, cached), or the file at ``path``."""
    if path is None:
        loaded = _bundled(model, filename)
        assert isinstance(loaded, model)
        return loaded
    path = Path(path)
    return parse_model(model, path.read_text(encoding="utf-8"), str(path))
