"""Reading a knowledge-base YAML file into its pydantic model (one way for every file)."""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import pydantic
import yaml

from gutaxis.checks import check_path
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
    if raw is None:
        raise FormatError(f"{where}: the file is empty; expected a YAML document "
                          f"({model.__name__}: schema_version, version, …)")
    try:
        return model.model_validate(raw)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        field = f"field {loc}" if loc else "the document"
        raise FormatError(f"{where}: {field}: {first['msg']} "
                          f"({exc.error_count()} problem(s) in all)") from None


@functools.cache
def _bundled(model: type[pydantic.BaseModel], filename: str) -> pydantic.BaseModel:
    text = resources.files("gutaxis.knowledge").joinpath(filename).read_text("utf-8")
    return parse_model(model, text, f"gutaxis/knowledge/{filename}")


def load_model(model: type[M], filename: str, path: str | Path | None = None) -> M:
    """Load the bundled ``filename`` (parsed once, cached), or the file at ``path``.

    Raises
    ------
    InputError
        ``path`` is not a path at all (a number...).
    FormatError
        The file cannot be read (missing, a folder), is not UTF-8 text, or
        breaks the schema (see :func:`parse_model`).
    """
    if path is None:
        loaded = _bundled(model, filename)
        assert isinstance(loaded, model)
        return loaded
    path = check_path(path, "path")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FormatError(f"{path}: cannot read the file ({exc.strerror or exc}); expected a "
                          f"YAML file in the schema of gutaxis/knowledge/{filename}") from None
    except UnicodeDecodeError as exc:
        raise FormatError(f"{path}: byte {exc.start} is not UTF-8 text; expected a YAML file "
                          f"in the schema of gutaxis/knowledge/{filename}") from None
    return parse_model(model, text, str(path))
