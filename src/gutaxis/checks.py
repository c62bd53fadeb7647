"""Checks of arguments at the boundary: one message shape for a wrong type, number or name.

Public functions and options objects call these before doing anything, so a
bad argument gives a :class:`~gutaxis.exceptions.GutaxisError` subclass whose
message names the argument (and its command-line flag where it has one), what
was expected and what was found — never a bare ``TypeError`` or
``AttributeError`` from deep inside.
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeVar

from gutaxis.exceptions import InputError, ValidationError

__all__ = ["type_label", "check_type", "check_date", "check_integer", "check_number",
           "check_path", "check_file", "check_folder", "check_names"]

_T = TypeVar("_T")


def type_label(value: object) -> str:
    """Name the type of ``value`` for a message, with its package when it is not ours.

    Examples
    --------
    >>> import numpy as np
    >>> type_label("x"), type_label(np.float64(1.0))
    ('str', 'numpy.float64')
    """
    kind = type(value)
    package = kind.__module__.split(".")[0]
    return kind.__name__ if package in ("gutaxis", "builtins") else f"{package}.{kind.__name__}"


def _found(value: object) -> str:
    """Describe a value for a message: its type, and the value itself when it is short."""
    if value is None:
        return "None"
    text = repr(value)
    kind = type_label(value)
    if isinstance(value, str | bytes | numbers.Number) and len(text) <= 60:
        return f"{kind} {text}"
    return kind


def check_type(value: Any, expected: type[_T], name: str, *, hint: str = "") -> _T:
    """Return ``value`` when it is an instance of ``expected``; raise :class:`InputError` if not.

    Parameters
    ----------
    value : object
        What the caller passed.
    expected : type
        The class it must be an instance of.
    name : str
        The argument, for the message (``"study"``).
    hint : str, optional
        How to get the right object, appended to the message.

    Returns
    -------
    object
        ``value``, unchanged.

    Raises
    ------
    InputError
        ``value`` is not an instance of ``expected``; the message names the
        argument, the expected type and the type found.

    Examples
    --------
    >>> check_type("table.biom", dict, "options")
    Traceback (most recent call last):
    ...
    gutaxis.exceptions.InputError: options must be a dict; got str 'table.biom'
    """
    if isinstance(value, expected):
        return value
    package = expected.__module__.split(".")[0]
    label = (expected.__name__ if package in ("gutaxis", "builtins")
             else f"{package}.{expected.__name__}")
    article = "an" if label[:1].lower() in "aeiou" else "a"
    raise InputError(f"{name} must be {article} {label}; got {_found(value)}"
                     + (f" ({hint})" if hint else ""))


def check_integer(value: Any, name: str, *, minimum: int,
                  error: type[InputError] = ValidationError) -> int:
    """Return ``value`` as an int after checking that it is a whole number ≥ ``minimum``.

    Parameters
    ----------
    value : object
    name : str
        The option, with its command-line flag where it has one
        (``"the rarefaction depth (--rarefy)"``).
    minimum : int
    error : type, default ValidationError
        The :class:`InputError` subclass raised.

    Returns
    -------
    int

    Raises
    ------
    ValidationError
        ``value`` is not an integer (booleans and texts are not), or is below
        ``minimum``.

    Examples
    --------
    >>> check_integer("deep", "--rarefy", minimum=1)
    Traceback (most recent call last):
    ...
    gutaxis.exceptions.ValidationError: --rarefy must be an integer ≥ 1; got 'deep'
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise error(f"{name} must be an integer ≥ {minimum}; got {value!r}")
    return int(value)


def check_number(value: Any, name: str, *, minimum: float | None = None,
                 above: float | None = None, maximum: float | None = None,
                 finite: bool = True, allow_none: bool = False,
                 error: type[InputError] = ValidationError) -> float | None:
    """Return ``value`` as a float after checking that it is a number in range.

    Parameters
    ----------
    value : object
    name : str
        The option, with its flag where it has one (``"--base"``).
    minimum, maximum : float, optional
        Inclusive bounds.
    above : float, optional
        An exclusive lower bound (``above=0``: a number > 0).
    finite : bool, default True
        Refuse NaN and ±∞; with False they pass (and are not compared with
        the bounds).
    allow_none : bool, default False
        Let ``None`` through (returned as None).
    error : type, default ValidationError
        The :class:`InputError` subclass raised.

    Returns
    -------
    float or None

    Raises
    ------
    ValidationError
        A text, a boolean or another non-number; NaN or ±∞ (with
        ``finite``); a number out of range.

    Examples
    --------
    >>> check_number(0.5, "min_prevalence", minimum=0, maximum=1)
    0.5
    >>> check_number("high", "value", allow_none=True)
    Traceback (most recent call last):
    ...
    gutaxis.exceptions.ValidationError: value must be a finite number or None; got 'high'
    """
    if value is None and allow_none:
        return None
    parts = []
    if minimum is not None and maximum is not None:
        parts.append(f"in [{minimum:g}, {maximum:g}]")
    else:
        if minimum is not None:
            parts.append(f"≥ {minimum:g}")
        if above is not None:
            parts.append(f"> {above:g}")
        if maximum is not None:
            parts.append(f"≤ {maximum:g}")
    wanted = ("a finite number" if finite else "a number") + "".join(f" {p}" for p in parts)
    wanted += " or None" if allow_none else ""
    bad = isinstance(value, bool) or not isinstance(value, numbers.Real)
    if not bad:
        number = float(value)
        if not math.isfinite(number):
            bad = finite
        else:
            bad = ((minimum is not None and number < minimum)
                   or (above is not None and number <= above)
                   or (maximum is not None and number > maximum))
    if bad:
        raise error(f"{name} must be {wanted}; got {value!r}")
    return float(value)


def check_path(value: Any, name: str) -> Path:
    """Return ``value`` as a :class:`~pathlib.Path` after checking that it is a path at all.

    Whether the path exists is left to the caller (a reader names the file
    it could not open).

    Parameters
    ----------
    value : object
    name : str
        The argument or option (``"path"``, ``"--metadata"``).

    Returns
    -------
    pathlib.Path

    Raises
    ------
    InputError
        ``value`` is not a ``str`` or ``os.PathLike`` (``None``, a number...).
    """
    if not isinstance(value, str | os.PathLike):
        raise InputError(f"{name} must be a path (a str or os.PathLike); got {_found(value)}")
    return Path(value)


def check_file(path: str | os.PathLike[str] | None, what: str) -> Path | None:
    """Return ``path`` as a Path after checking that it names a readable file.

    Parameters
    ----------
    path : path or None
    what : str
        The option it was given as, for the message (``"--metadata"``).

    Returns
    -------
    pathlib.Path or None

    Raises
    ------
    InputError
        Not a path at all (a number...), no such file, or a folder.
    """
    if path is None:
        return None
    p = check_path(path, what)
    if not p.exists():
        raise InputError(f"{what} {p}: no such file")
    if p.is_dir():
        raise InputError(f"{what} {p}: is a folder; expected a file")
    return p


def check_folder(path: str | os.PathLike[str], what: str) -> Path:
    """Return ``path`` as a Path after checking that it names a folder.

    Parameters
    ----------
    path : path
    what : str
        The option it was given as (``"--reference"``).

    Returns
    -------
    pathlib.Path

    Raises
    ------
    InputError
        Not a path at all (None, a number...), no such folder, or a file.
    """
    p = check_path(path, what)
    if not p.exists():
        raise InputError(f"{what} {p}: no such folder")
    if not p.is_dir():
        raise InputError(f"{what} {p}: is a file; expected a folder")
    return p


def check_names(value: Any, name: str) -> tuple[str, ...]:
    """Return a list of names as a tuple of str, refusing a single text.

    A single text would otherwise be read as its letters (``"shannon"`` as
    ``"s", "h", …``).

    Parameters
    ----------
    value : iterable of str
    name : str
        The argument or option (``"metrics (--metrics)"``).

    Returns
    -------
    tuple of str

    Raises
    ------
    InputError
        ``value`` is a single text, or not a list at all (``None``, a number).

    Examples
    --------
    >>> check_names(["Age", "BMI"], "covariates")
    ('Age', 'BMI')
    >>> check_names("Age", "covariates")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    gutaxis.exceptions.InputError: covariates must be a list of names; got the text 'Age' ...
    """
    if isinstance(value, str | bytes):
        raise InputError(f"{name} must be a list of names; got the text {value!r} "
                         f"(write [{value!r}])")
    if isinstance(value, Iterable) and not isinstance(value, dict):
        return tuple(str(v) for v in value)
    raise InputError(f"{name} must be a list of names; got {_found(value)}")


def check_date(value: Any, name: str) -> str | None:
    """Return a day as ISO 8601 text (``YYYY-MM-DD``), ``None`` for ``None``.

    Parameters
    ----------
    value : str, datetime.date or None
        A date, or its ISO 8601 text; a date and time is refused (a day is meant).
    name : str
        The argument or option (``"--visit-date"``).

    Raises
    ------
    ValidationError
        Naming ``name``, the expected form and what was found.

    Examples
    --------
    >>> check_date("2026-03-01", "--visit-date")
    '2026-03-01'
    >>> check_date("3026-01-01", "--visit-date")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    gutaxis.exceptions.ValidationError: --visit-date must be from 1900-01-01 to a year from ...
    >>> check_date("1 March", "--visit-date")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    gutaxis.exceptions.ValidationError: --visit-date must be a date such as 2026-03-01; got ...
    """
    if value is None:
        return None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return _plausible_day(value, name).isoformat()
    try:
        day = dt.date.fromisoformat(str(value))
    except ValueError:
        raise ValidationError(f"{name} must be a date such as 2026-03-01; got "
                              f"{value!r}") from None
    return _plausible_day(day, name).isoformat()


def _plausible_day(day: dt.date, name: str) -> dt.date:
    """Refuse a day before 1900 or more than a year ahead (the practice's rule for dates)."""
    latest = dt.date.today() + dt.timedelta(days=366)
    if not dt.date(1900, 1, 1) <= day <= latest:
        raise ValidationError(f"{name} must be from 1900-01-01 to a year from today "
                              f"({latest}); got {day}")
    return day
