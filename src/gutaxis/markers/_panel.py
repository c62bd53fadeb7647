"""Marker columns of the sample metadata, as values with units."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from gutaxis.exceptions import FormatError, NotFoundError, ValidationError
from gutaxis.knowledge import MarkerCatalog, load_marker_catalog
from gutaxis.markers.units import parse_unit

__all__ = ["MarkerPanel", "marker_panel", "read_marker_specs"]


@dataclasses.dataclass(frozen=True)
class MarkerPanel:
    """Lab markers of a set of samples, each with its unit.

    Attributes
    ----------
    values : pandas.DataFrame
        Samples × markers, float, NaN = missing.  Columns are the markers'
        display names (the catalogue name, e.g. ``"LPS"``, or the column name
        for a marker the catalogue does not know).
    units : dict of str to str
        Marker → unit (canonical spelling, ``"ug/mL"``).
    columns : dict of str to str
        Marker → the metadata column it was read from.
    catalog_ids : dict of str to str or None
        Marker → id in the marker catalogue (``None`` when not in it).
    unit_sources : dict of str to str
        Marker → where its unit came from: ``"user"``, ``"column name"``
        (an alias such as ``LPSpgml``) or ``"catalogue default"``.
    """

    values: pd.DataFrame
    units: dict[str, str]
    columns: dict[str, str]
    catalog_ids: dict[str, str | None]
    unit_sources: dict[str, str]

    @property
    def names(self) -> list[str]:
        """Marker display names, in column order."""
        return [str(c) for c in self.values.columns]

    def subset_samples(self, ids: Sequence[str]) -> MarkerPanel:
        """The panel restricted (and ordered) to ``ids``."""
        return dataclasses.replace(self, values=self.values.loc[list(ids)])

    def missing(self) -> dict[str, int]:
        """Number of missing values per marker."""
        return {str(k): int(v) for k, v in self.values.isna().sum().items()}

    def label(self, marker: str) -> str:
        """``"LPS (pg/mL)"``."""
        return f"{marker} ({self.units[marker]})"


def read_marker_specs(path: str | Path) -> list[str]:
    """Marker specifications from a file: one row per marker column.

    The file is tab- or comma-separated with a header; column ``column``
    (required) names the metadata column, ``unit`` (optional) its unit.

    Returns
    -------
    list of str
        ``"COLUMN"`` or ``"COLUMN=UNIT"``, as :func:`marker_panel` takes them.

    Raises
    ------
    FormatError
        Unreadable file, no ``column`` header, or an empty ``column`` cell
        (the line is named).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise FormatError(f"{path}: cannot read the markers file ({exc})") from None
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    if not lines:
        raise FormatError(f"{path}: empty markers file; expected a header 'column<TAB>unit'")
    sep = "\t" if "\t" in lines[0] else ","
    header = [h.strip().casefold() for h in lines[0].split(sep)]
    if "column" not in header:
        raise FormatError(f"{path}: line 1: expected a header with a 'column' field "
                          f"(and optionally 'unit'); got {lines[0]!r}")
    col_i = header.index("column")
    unit_i = header.index("unit") if "unit" in header else None
    specs = []
    for number, line in enumerate(lines[1:], start=2):
        cells = [c.strip() for c in line.split(sep)]
        column = cells[col_i] if col_i < len(cells) else ""
        if not column:
            raise FormatError(f"{path}: line {number}: empty 'column' cell")
        unit = cells[unit_i] if unit_i is not None and unit_i < len(cells) else ""
        specs.append(f"{column}={unit}" if unit else column)
    return specs


def _numeric(series: pd.Series, column: str, where: str) -> pd.Series:
    if pd.api.types.is_bool_dtype(series):
        raise ValidationError(f"{where}: marker column {column!r} holds true/false values; "
                              "expected numbers")
    if pd.api.types.is_numeric_dtype(series):
        values = series.astype(float)
    else:
        values = pd.to_numeric(series, errors="coerce")
        bad = values.isna() & series.notna()
        if bad.any():
            sample = bad.index[np.flatnonzero(bad.to_numpy())[0]]
            raise ValidationError(
                f"{where}: marker column {column!r} must be numeric; sample {sample!r} has "
                f"{series[sample]!r} ({int(bad.sum())} non-numeric value(s) in all)")
    finite = values.dropna()
    if not np.isfinite(finite.to_numpy()).all():
        raise ValidationError(f"{where}: marker column {column!r} holds an infinite value")
    if (finite < 0).any():
        sample = finite.index[np.flatnonzero((finite < 0).to_numpy())[0]]
        raise ValidationError(f"{where}: marker column {column!r} has a negative value "
                              f"({finite[sample]!r} for sample {sample!r}); concentrations "
                              "cannot be negative")
    return values


def marker_panel(samples: pd.DataFrame, specs: Sequence[str], *,
                 catalog: MarkerCatalog | None = None, where: str = "metadata") -> MarkerPanel:
    """Read marker columns out of sample metadata.

    Parameters
    ----------
    samples : pandas.DataFrame
        Sample metadata (index = sample ids).
    specs : sequence of str
        ``"COLUMN"`` or ``"COLUMN=UNIT"``.  Without a unit, the unit comes from
        the marker catalogue: from the column name when it is an alias that
        carries one (``LPSpgml`` → pg/mL), otherwise the catalogue's default
        unit for that marker.
    catalog : MarkerCatalog, optional
        Defaults to the bundled catalogue.
    where : str
        Name of the metadata source, for error messages.

    Returns
    -------
    MarkerPanel

    Raises
    ------
    NotFoundError
        A column that is not in the metadata.
    ValidationError
        Non-numeric or negative values, a marker named twice, no unit for a
        column the catalogue does not know.
    UnitError
        An unknown unit.
    """
    catalog = catalog or load_marker_catalog()
    if not specs:
        raise ValidationError("no marker columns given")
    parsed = []
    for spec in specs:
        column, _, unit = (s.strip() for s in str(spec).partition("="))
        parsed.append((column, unit or None))
    missing = [c for c, _ in parsed if c not in samples.columns]
    if missing:
        raise NotFoundError("marker column", missing, where)
    values: dict[str, pd.Series] = {}
    units: dict[str, str] = {}
    columns: dict[str, str] = {}
    ids: dict[str, str | None] = {}
    unit_sources: dict[str, str] = {}
    for column, given in parsed:
        found = catalog.find(column)
        name = found[0].name if found else column
        if name in values:
            raise ValidationError(f"marker {name!r} is named twice ({columns[name]!r} and "
                                  f"{column!r})")
        if given is not None:
            unit, source = given, "user"
        elif found and found[1]:
            unit, source = found[1], "column name"
        elif found:
            unit, source = found[0].unit, "catalogue default"
        else:
            raise ValidationError(
                f"marker column {column!r} is not in the marker catalogue, so its unit is "
                f"unknown; give it as {column}=UNIT (e.g. {column}=ng/mL) or in a markers file")
        values[name] = _numeric(samples[column], column, where)
        units[name] = parse_unit(unit).text
        columns[name] = column
        ids[name] = found[0].id if found else None
        unit_sources[name] = source
    frame = pd.DataFrame(values, index=samples.index)
    empty = [n for n in frame.columns if frame[n].isna().all()]
    if empty:
        raise ValidationError(f"{where}: marker column(s) with no values: "
                              f"{', '.join(columns[n] for n in empty)}")
    return MarkerPanel(frame, units, columns, ids, unit_sources)


