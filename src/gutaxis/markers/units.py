"""Units of marker values: parsing and conversion.

Only the units lab markers are reported in are handled: mass concentration
(``pg/mL`` … ``g/L``, including ``mg/dL``), mass fraction (``ng/g`` …
``mg/kg``), and units that convert only to themselves (``EU/mL``, ``U/mL``,
``U/L``, ``%``, ratios: a kit's "units" are its own).  This is hand-written
rather than taken from a units library (pint, a UCUM parser) because the set
is small and closed, and the spellings labs use (``µg/mL``, ``mcg/ml``,
``ug/ml``) need mapping anyway; conversion factors are SI prefixes, not
clinical facts.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np

from gutaxis.exceptions import UnitError, ValidationError

__all__ = ["Unit", "parse_unit", "conversion_factor", "convert"]

_MASS = {"g": 1.0, "mg": 1e-3, "ug": 1e-6, "ng": 1e-9, "pg": 1e-12}
_VOLUME = {"l": 1.0, "dl": 1e-1, "ml": 1e-3, "ul": 1e-6}
_MASS_PER_MASS_DENOM = {"g": 1.0, "kg": 1e3}
#: Units that are compared only with themselves (key: normalised spelling → display).
#: ``U/mL`` and ``U/L`` among them: the "units" of marker kits (DAO, say) are each kit's own,
#: not the enzyme unit, so a value in U/L is not taken for a thousandth of one in U/mL.
#: UCUM's "1" (a dimensionless number) is a ratio.
_OPAQUE = {"eu/ml": "EU/mL", "u/ml": "U/mL", "u/l": "U/L", "%": "%", "ratio": "ratio",
           "1": "ratio", "{ratio}": "ratio", "index": "index"}


@dataclasses.dataclass(frozen=True)
class Unit:
    """A parsed unit.

    Attributes
    ----------
    text : str
        Canonical spelling (``"ug/mL"``; ``µ`` written ``u`` as in UCUM).
    dimension : str
        ``"mass/volume"``, ``"mass/mass"`` or ``"opaque"`` (converts only to itself).
    factor : float
        Value of one unit in the dimension's base (g/L or g/g); 1 for opaque units.
    """

    text: str
    dimension: str
    factor: float


def _normalise(text: str) -> str:
    t = str(text).strip().replace("µ", "u").replace("μ", "u").replace(" ", "")
    t = re.sub(r"^mcg", "ug", t, flags=re.IGNORECASE)
    return t.casefold()


def parse_unit(text: str) -> Unit:
    """Parse a unit as labs write it.

    Parameters
    ----------
    text : str
        e.g. ``"pg/mL"``, ``"µg/ml"``, ``"mcg/mL"``, ``"mg/L"``, ``"mg/dL"``,
        ``"ug/g"``, ``"mg/kg"``, ``"EU/mL"``.

    Raises
    ------
    UnitError
        The unit is not one gutaxis knows (the message lists the forms accepted).

    Examples
    --------
    >>> parse_unit("µg/mL")
    Unit(text='ug/mL', dimension='mass/volume', factor=0.001)
    """
    norm = _normalise(text)
    if norm in _OPAQUE:
        return Unit(_OPAQUE[norm], "opaque", 1.0)
    parts = norm.split("/")
    if len(parts) == 2 and parts[0] in _MASS:
        num, den = parts
        if den in _VOLUME:
            return Unit(f"{num}/{den[:-1]}{den[-1].upper()}", "mass/volume",
                        _MASS[num] / _VOLUME[den])
        if den in _MASS_PER_MASS_DENOM:
            return Unit(f"{num}/{den}", "mass/mass", _MASS[num] / _MASS_PER_MASS_DENOM[den])
    raise UnitError(f"unknown unit {text!r}; expected a mass concentration such as pg/mL, "
                    f"ng/mL, ug/mL, mg/L or mg/dL, a mass fraction such as ug/g or mg/kg, "
                    f"or one of {', '.join(sorted(set(_OPAQUE.values())))}")


def conversion_factor(source: str | Unit, target: str | Unit) -> float:
    """Return the number a value in ``source`` is multiplied by to express it in ``target``.

    Raises
    ------
    UnitError
        Unknown units, or units of different dimensions (``ug/g`` to ``ug/mL``).

    Examples
    --------
    >>> conversion_factor("ng/mL", "ug/mL")
    0.001
    >>> conversion_factor("mg/L", "ug/mL")
    1.0
    """
    s = source if isinstance(source, Unit) else parse_unit(source)
    t = target if isinstance(target, Unit) else parse_unit(target)
    if s.dimension == "opaque" or t.dimension == "opaque":
        if s.text == t.text:
            return 1.0
        raise UnitError(f"cannot convert {s.text} to {t.text}")
    if s.dimension != t.dimension:
        raise UnitError(f"cannot convert {s.text} ({s.dimension}) to {t.text} ({t.dimension})")
    # Round to 12 significant digits so that mg/L → ug/mL is exactly 1, not 0.9999999999999999.
    return float(f"{s.factor / t.factor:.12g}")


def convert(values: np.ndarray | float, source: str | Unit, target: str | Unit) -> np.ndarray:
    """Express ``values`` in ``source`` units in ``target`` units.

    Parameters
    ----------
    values : array_like or float
    source, target : str or Unit

    Returns
    -------
    numpy.ndarray
        float64.

    Raises
    ------
    UnitError
        As :func:`conversion_factor`.
    ValidationError
        ``values`` are not numbers.
    """
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ValidationError(f"convert: the values must be numbers; got {values!r:.60}") from None
    return array * conversion_factor(source, target)
