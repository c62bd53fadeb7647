"""Marker columns of the sample metadata, as values with units.

Each marker is described by one :class:`MarkerColumn` record (name, column,
unit, catalogue id, where the unit came from); a :class:`MarkerPanel` holds
the values of many samples with one record per marker.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gutaxis.checks import check_names, check_type
from gutaxis.exceptions import FormatError, NotFoundError, UnitError, ValidationError
from gutaxis.knowledge import MarkerCatalog, load_marker_catalog
from gutaxis.markers._result import MarkerResult
from gutaxis.markers.units import parse_unit

__all__ = ["MarkerColumn", "MarkerPanel", "marker_panel", "read_marker_specs"]


@dataclasses.dataclass(frozen=True)
class MarkerColumn:
    """What one marker is and where its values come from.

    Attributes
    ----------
    name : str
        Display name: the catalogue's name (``"LPS"``), or the column name for
        a marker the catalogue does not know.
    column : str
        The metadata column (or file) the values were read from.
    unit : str
        The values' unit (canonical spelling, ``"ug/mL"``).
    catalog_id : str or None
        Id in the marker catalogue (``None`` when not in it).
    unit_source : str
        Where the unit came from: ``"user"``, ``"column name"`` (an alias
        such as ``LPSpgml``), ``"catalogue default"`` or ``"labs"``.

    Examples
    --------
    >>> MarkerColumn("LPS", "LPSpgml", "pg/mL", "lps", "column name").to_dict()
    {'unit': 'pg/mL', 'column': 'LPSpgml', 'catalog_id': 'lps', 'unit_source': 'column name'}
    """

    name: str
    column: str
    unit: str
    catalog_id: str | None
    unit_source: str

    def to_dict(self) -> dict[str, Any]:
        """Return the record without its name (the name is the key where it is stored).

        Returns
        -------
        dict
            ``{"unit", "column", "catalog_id", "unit_source"}``.
        """
        return {"unit": self.unit, "column": self.column, "catalog_id": self.catalog_id,
                "unit_source": self.unit_source}

    @classmethod
    def from_dict(cls, name: str, data: Mapping[str, Any]) -> MarkerColumn:
        """Build the record from :meth:`to_dict`'s form.

        Parameters
        ----------
        name : str
        data : mapping
            ``{"unit", "column", "catalog_id", "unit_source"}``; ``unit`` is required.

        Returns
        -------
        MarkerColumn

        Raises
        ------
        FormatError
            ``data`` is not a mapping with a text ``unit``.
        """
        if not isinstance(data, Mapping) or not isinstance(data.get("unit"), str):
            raise FormatError(f"marker {name!r}: expected a record with a text \"unit\"; "
                              f"got {data!r}")
        cid = data.get("catalog_id")
        return cls(str(name), str(data.get("column") or name), data["unit"],
                   None if cid is None else str(cid), str(data.get("unit_source") or "unknown"))


@dataclasses.dataclass(frozen=True)
class MarkerPanel:
    """Lab markers of a set of samples, each with its unit.

    Attributes
    ----------
    values : pandas.DataFrame
        Samples × markers, float, NaN = missing.  Columns are the markers'
        display names (:attr:`MarkerColumn.name`).
    info : dict of str to MarkerColumn
        Marker name → its record, in column order.

    Raises
    ------
    InputError
        ``values`` is not a DataFrame, or ``info`` not a mapping.
    ValidationError
        ``info`` does not describe exactly the columns of ``values``.
    """

    values: pd.DataFrame
    info: dict[str, MarkerColumn]

    def __post_init__(self) -> None:
        """Check that every column has its record."""
        check_type(self.values, pd.DataFrame, "values",
                   hint="samples × markers; read them with gutaxis.markers.marker_panel")
        check_type(self.info, dict, "info", hint="marker name → MarkerColumn")
        if [str(c) for c in self.values.columns] != list(self.info):
            raise ValidationError(f"a marker panel needs one record per column; columns "
                                  f"{list(self.values.columns)}, records {list(self.info)}")

    @property
    def names(self) -> list[str]:
        """Marker display names, in column order."""
        return list(self.info)

    def unit(self, marker: str) -> str:
        """Return the unit of ``marker``.

        Parameters
        ----------
        marker : str

        Returns
        -------
        str

        Raises
        ------
        NotFoundError
            No such marker in the panel.
        """
        if marker not in self.info:
            raise NotFoundError("marker", [marker], "the marker panel", available=self.names)
        return self.info[marker].unit

    def subset_samples(self, ids: Sequence[str]) -> MarkerPanel:
        """Return the panel restricted (and ordered) to ``ids``.

        Parameters
        ----------
        ids : sequence of str

        Returns
        -------
        MarkerPanel
        """
        return dataclasses.replace(self, values=self.values.loc[list(ids)])

    def results(self, sample_id: str, *,
                catalog: MarkerCatalog | None = None) -> list[MarkerResult]:
        """Return one sample's marker values (the missing ones left out).

        Parameters
        ----------
        sample_id : str
        catalog : MarkerCatalog, optional
            Where the catalogue entries are looked up (default: the bundled one).

        Returns
        -------
        list of MarkerResult
            In column order; ``origin`` names the metadata column.

        Raises
        ------
        NotFoundError
            ``sample_id`` is not in the panel.
        """
        if sample_id not in self.values.index:
            raise NotFoundError("sample id", [sample_id], "the marker panel")
        catalog = catalog or load_marker_catalog()
        entries = {e.id: e for e in catalog.markers}
        out = []
        for name, info in self.info.items():
            value = float(self.values.at[sample_id, name])  # type: ignore[arg-type]
            if np.isnan(value):
                continue
            entry = entries.get(info.catalog_id) if info.catalog_id else None
            out.append(MarkerResult(name=name, entry=entry, value=value, unit=info.unit,
                                    origin=f"metadata column {info.column}"))
        return out

    def missing(self) -> dict[str, int]:
        """Return the number of missing values per marker.

        Returns
        -------
        dict of str to int
        """
        return {str(k): int(v) for k, v in self.values.isna().sum().items()}

    def label(self, marker: str) -> str:
        """Return the marker's name with its unit (``"LPS (pg/mL)"``).

        Parameters
        ----------
        marker : str

        Returns
        -------
        str
        """
        return f"{marker} ({self.unit(marker)})"


def read_marker_specs(path: str | Path, *, origins: list[str] | None = None) -> list[str]:
    """Marker specifications from a file: one row per marker column.

    The file is tab- or comma-separated with a header; column ``column``
    (required) names the metadata column, ``unit`` (optional) its unit.

    Parameters
    ----------
    path : path
    origins : list, optional
        When given, each specification's place (``"markers.tsv: line 3"``)
        is appended to it, for :func:`marker_panel`'s messages.

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
    numbered = [(n, ln) for n, ln in enumerate(text.splitlines(), start=1)
                if ln.strip() and not ln.startswith("#")]
    if not numbered:
        raise FormatError(f"{path}: empty markers file; expected a header 'column<TAB>unit'")
    header_no, header_line = numbered[0]
    sep = "\t" if "\t" in header_line else ","
    header = [h.strip().casefold() for h in header_line.split(sep)]
    if "column" not in header:
        raise FormatError(f"{path}: line {header_no}: expected a header with a 'column' field "
                          f"(and optionally 'unit'); got {header_line!r}")
    col_i = header.index("column")
    unit_i = header.index("unit") if "unit" in header else None
    specs = []
    for number, line in numbered[1:]:
        cells = [c.strip() for c in line.split(sep)]
        column = cells[col_i] if col_i < len(cells) else ""
        if not column:
            raise FormatError(f"{path}: line {number}: empty 'column' cell")
        unit = cells[unit_i] if unit_i is not None and unit_i < len(cells) else ""
        specs.append(f"{column}={unit}" if unit else column)
        if origins is not None:
            origins.append(f"{path}: line {number}")
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
                 catalog: MarkerCatalog | None = None, where: str = "metadata",
                 origins: Sequence[str] | None = None) -> MarkerPanel:
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
    origins : sequence of str, optional
        Where each of ``specs`` was given (``"--markers"``, ``"markers.tsv:
        line 3"``): a message about a unit or a marker named twice starts
        with it.

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
    InputError
        ``samples`` is not a DataFrame, ``specs`` is one text (not a list),
        or ``catalog`` is not a MarkerCatalog.
    """
    check_type(samples, pd.DataFrame, "samples", hint="the sample metadata, indexed by sample "
               "id (gutaxis.io.read_metadata)")
    specs = check_names(specs, "the marker columns (--markers)")
    catalog = (check_type(catalog, MarkerCatalog, "catalog", hint="or None for the bundled one")
               if catalog is not None else load_marker_catalog())
    if not specs:
        raise ValidationError("no marker columns given; name at least one metadata column "
                              "(--markers COLUMN or COLUMN=UNIT)")
    places = list(origins) if origins is not None and len(origins) == len(specs) else (
        [""] * len(specs))
    parsed = []
    for spec in specs:
        column, _, unit = (s.strip() for s in str(spec).partition("="))
        parsed.append((column, unit or None))
    missing = [c for c, _ in parsed if c not in samples.columns]
    if missing:
        raise NotFoundError("marker column", missing, where,
                            available=[str(c) for c in samples.columns])
    values: dict[str, pd.Series] = {}
    info: dict[str, MarkerColumn] = {}
    given_at: dict[str, str] = {}
    for (column, given), place in zip(parsed, places, strict=True):
        at = f"{place}: " if place else ""
        found = catalog.find(column)
        name = found[0].name if found else column
        if name in values:
            first = f", first at {given_at[name]}" if given_at[name] else ""
            raise ValidationError(f"{at}marker {name!r} is named twice ({info[name].column!r} "
                                  f"and {column!r}{first})")
        given_at[name] = place
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
        try:
            parsed_unit = parse_unit(unit)
        except UnitError as exc:
            raise UnitError(f"{at}marker column {column!r}: {exc}") from None
        if given is not None and found and found[1] and parse_unit(found[1]).text \
                != parsed_unit.text:
            warnings.warn(f"{at}marker column {column!r} is named in {found[1]} but was given "
                          f"as {column}={given}: its values are read as {parsed_unit.text}, "
                          "as given. Check which is right (a unit off by 1,000 moves every "
                          "value against its ranges)", UserWarning, stacklevel=2)
        values[name] = _numeric(samples[column], column, where)
        info[name] = MarkerColumn(name, column, parsed_unit.text,
                                  found[0].id if found else None, source)
    frame = pd.DataFrame(values, index=samples.index)
    empty = [n for n in frame.columns if frame[n].isna().all()]
    if empty:
        raise ValidationError(f"{where}: marker column(s) with no values: "
                              f"{', '.join(info[str(n)].column for n in empty)}")
    return MarkerPanel(frame, info)


