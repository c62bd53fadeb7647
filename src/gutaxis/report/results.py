"""``results.json`` and the TSV tables of a cohort analysis: the machine-readable contract.

The layout is documented in ``docs/output-schemas.md`` and fixed by the JSON
Schema shipped next to this module (``schemas/results.schema.json``); a change
that breaks it bumps :data:`SCHEMA_VERSION`.  Numbers that are not finite
follow :mod:`gutaxis.outputs`' one rule (NaN ``null``, ±∞ ``"inf"``/``"-inf"``).
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from gutaxis import io as gio
from gutaxis._version import __version__
from gutaxis.outputs import to_json, write_json, write_tsv
from gutaxis.report.result_files import RESULT_FILES

if TYPE_CHECKING:
    from gutaxis.cohort import CohortAnalysis
    from gutaxis.stats import TestResult

__all__ = ["SCHEMA_VERSION", "results_document", "results_schema", "write_results",
           "RESULT_FILES"]

#: Version of the ``results.json`` layout.
SCHEMA_VERSION = "2.1"


def _num(value: Any) -> Any:
    """Return a number as JSON (booleans as 0/1, NaN null, ±∞ text)."""
    if isinstance(value, bool | np.bool_):
        return int(value)
    return to_json(value)


_plain = to_json


def _group_test(result: TestResult) -> dict[str, Any]:
    return {
        "medians": _plain(result.extra.get("medians", {})),
        "n_per_group": _plain(result.extra.get("n_per_group", {})),
        "test": result.method,
        "statistic_name": result.statistic_name,
        "statistic": _num(result.statistic),
        "p": _num(result.p_value),
        "q": _num(result.q_value),
        "effect_size": _num(result.effect_size),
        "effect_size_name": result.effect_size_name,
        "higher_in": result.extra.get("higher_in"),
        "n": result.n,
    }


def _design(result: TestResult) -> str:
    design = result.extra.get("permutation_design") or {}
    return str(design.get("kind", "free"))


def _subjects(analysis: CohortAnalysis) -> dict[str, Any] | None:
    if analysis.subjects is None:
        return None
    subjects = analysis.subjects.reindex(analysis.groups.index)
    per_group = analysis.groups.groupby(analysis.groups).apply(
        lambda g: int(subjects.reindex(g.index).nunique()))
    return {"column": analysis.subject_column, "n": int(subjects.nunique()),
            "per_group": {g: int(per_group.get(g, 0)) for g in analysis.group_order}}


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [_plain(row) for row in frame.to_dict(orient="records")]


def results_document(analysis: CohortAnalysis) -> dict[str, Any]:
    """Return the ``results.json`` document of an analysis (plain JSON types).

    Parameters
    ----------
    analysis : CohortAnalysis

    Returns
    -------
    dict
        Validates against :func:`results_schema`.
    """
    sizes = analysis.groups.value_counts()
    doc: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "gutaxis_version": __version__,
        "n_samples": int(analysis.study.n_samples),
        "group_column": analysis.group_column,
        "groups": {g: int(sizes.get(g, 0)) for g in analysis.group_order},
        "rarefaction_depth": analysis.rarefaction_depth,
        "rarefaction_dropped": list(analysis.rarefaction_dropped),
        "rank": analysis.rank,
        "alpha": {name: _group_test(r) for name, r in analysis.alpha_tests.items()},
        "beta": {},
        "composition": {
            rank: {str(taxon): _plain(row) for taxon, row in table.to_dict(orient="index").items()}
            for rank, table in analysis.group_mean_abundance.items()
        },
        "differential_abundance": (None if analysis.differential_abundance is None
                                   else _plain(analysis.differential_abundance.to_dict())),
        "markers": {},
        "marker_correlations": _records(analysis.marker_correlations),
        "marker_taxon_associations": _records(analysis.marker_taxon_associations),
        "classifier": {name: _plain(r.to_dict()) for name, r in analysis.classifier.items()},
        "skipped": dict(analysis.skipped),
        "parameters": _plain(analysis.parameters),
        "subjects": _subjects(analysis),
        "repeated_measures_note": analysis.repeated_measures_note,
    }
    for name, perm in analysis.permanova.items():
        disp = analysis.permdisp[name]
        doc["beta"][name] = {
            "permanova": {"pseudo_f": _num(perm.statistic), "r2": _num(perm.effect_size),
                          "p": _num(perm.p_value), "permutations": perm.permutations,
                          "permutation_design": _design(perm)},
            "permdisp": {"f": _num(disp.statistic), "p": _num(disp.p_value),
                         "permutations": disp.permutations,
                         "permutation_design": _design(disp),
                         "mean_distance": _plain(disp.extra.get("mean_distance", {}))},
            "proportion_explained": _plain(
                analysis.ordinations[name].proportion_explained[:3].tolist()),
        }
    if analysis.markers is not None:
        missing = analysis.markers.missing()
        for name, result in analysis.marker_tests.items():
            info = analysis.markers.info[name]
            doc["markers"][name] = {
                "unit": info.unit,
                "unit_source": info.unit_source,
                "column": info.column,
                "missing": int(result.extra.get("missing", missing.get(name, 0))),
                **_group_test(result),
            }
    return doc


def results_schema() -> dict[str, Any]:
    """Return the JSON Schema (draft 2020-12) of ``results.json``.

    Returns
    -------
    dict
    """
    text = resources.files("gutaxis.report").joinpath("schemas/results.schema.json").read_text(
        "utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def _tests_table(results: dict[str, TestResult], unit: dict[str, str] | None,
                 order: list[str], key: str) -> pd.DataFrame:
    rows = []
    for name, r in results.items():
        row: dict[str, Any] = {key: name}
        if unit is not None:
            row["unit"] = unit[name]
        row.update({"n": r.n, "missing": r.extra.get("missing", 0)})
        for g in order:
            row[f"median_{g}"] = r.extra.get("medians", {}).get(g)
        row.update({"test": r.method, "statistic": r.statistic, "p": r.p_value, "q": r.q_value,
                    "effect_size": r.effect_size, "effect_size_name": r.effect_size_name,
                    "higher_in": r.extra.get("higher_in")})
        rows.append(row)
    return pd.DataFrame(rows)


def _write_tsv(frame: pd.DataFrame, path: Path, *, index: bool = False) -> Path:
    return write_tsv(frame, path, index=index)


def write_results(analysis: CohortAnalysis, out_dir: str | Path, *,
                  matrix_format: str = "tsv",
                  precision: Literal["float64", "float32"] = "float64") -> dict[str, Path]:
    """Write ``results.json``, ``provenance.json``, the TSV tables and the distance matrices.

    Parameters
    ----------
    analysis : CohortAnalysis
    out_dir : path
        An existing folder (see :func:`gutaxis.outputs.output_folder`).
    matrix_format : {"tsv", "hdf5", "qza", "zarr"}
        How ``beta/<metric>`` is written (:func:`gutaxis.io.write_distance`);
        with ``hdf5`` and ``qza`` the analysis's PCoA goes with it (in the
        file; ``beta/<metric>_pcoa.qza``).
    precision : {"float64", "float32"}
        Of the ``hdf5`` and ``zarr`` matrices.

    Returns
    -------
    dict of str to Path
        What was written, by name (``results``, ``alpha``, ``beta/<metric>``,
        ``pcoa/<metric>``, ``differential_abundance``, ``marker_tests``, ...).
    """
    out = Path(out_dir)
    written: dict[str, Path] = {}
    written["results"] = write_json(out / "results.json", results_document(analysis))
    # how the matrices were written is part of what was done (as gutaxis diversity records it)
    provenance = {**analysis.provenance, "parameters": {
        **analysis.provenance.get("parameters", {}), "format": matrix_format,
        "precision": precision}}
    written["provenance"] = write_json(out / "provenance.json", provenance)

    order = analysis.group_order
    alpha = analysis.alpha.copy()
    alpha.index.name = "sample_id"
    alpha.insert(0, analysis.group_column, analysis.groups.reindex(alpha.index))
    written["alpha"] = _write_tsv(alpha, out / "alpha.tsv", index=True)
    if analysis.alpha_tests:
        written["alpha_tests"] = _write_tsv(
            _tests_table(analysis.alpha_tests, None, order, "metric"), out / "alpha_tests.tsv")
    if analysis.beta:
        (out / "beta").mkdir(exist_ok=True)
        rows = []
        with_pcoa = matrix_format in ("hdf5", "qza")
        for name, dm in analysis.beta.items():
            paths = gio.write_distance(
                dm, out / "beta", name, matrix_format, precision=precision,
                pcoa=analysis.ordinations.get(name) if with_pcoa else None,
                provenance=provenance)
            written[f"beta/{name}"] = paths["matrix"]
            if "pcoa" in paths:
                written[f"pcoa/{name}"] = paths["pcoa"]
            perm, disp = analysis.permanova[name], analysis.permdisp[name]
            rows.append({"metric": name, "permanova_pseudo_f": perm.statistic,
                         "permanova_r2": perm.effect_size, "permanova_p": perm.p_value,
                         "permdisp_f": disp.statistic, "permdisp_p": disp.p_value,
                         "permutations": perm.permutations, "n": perm.n})
        written["beta_tests"] = _write_tsv(pd.DataFrame(rows), out / "beta_tests.tsv")
    phyla = analysis.phylum_abundance.copy()
    phyla.index.name = "sample_id"
    written["phylum_abundance"] = _write_tsv(phyla, out / "phylum_abundance.tsv", index=True)
    if analysis.differential_abundance is not None:
        written["differential_abundance"] = _write_tsv(
            analysis.differential_abundance.table, out / "differential_abundance.tsv")
    if analysis.markers is not None:
        written["marker_tests"] = _write_tsv(
            _tests_table(analysis.marker_tests,
                         {m: i.unit for m, i in analysis.markers.info.items()}, order, "marker"),
            out / "marker_tests.tsv")
        written["marker_correlations"] = _write_tsv(analysis.marker_correlations,
                                                    out / "marker_correlations.tsv")
        written["marker_taxon_associations"] = _write_tsv(
            analysis.marker_taxon_associations, out / "marker_taxon_associations.tsv")
    if analysis.classifier:
        rows = [{"feature_set": name, "accuracy_mean": r.accuracy_mean,
                 "accuracy_sd": r.accuracy_sd, "auc_mean": r.auc_mean, "auc_sd": r.auc_sd,
                 "n_features": r.n_features, "n_samples": r.n_samples}
                for name, r in analysis.classifier.items()]
        written["classifier"] = _write_tsv(pd.DataFrame(rows), out / "classifier.tsv")
    return written
