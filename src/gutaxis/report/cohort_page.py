"""The HTML report of a :class:`~gutaxis.cohort.CohortAnalysis`.

:func:`render_report` turns an analysis into one self-contained HTML page
(inline CSS and SVG figures, no external resources, so it opens offline);
:func:`write_report` writes it to a file.  The report only formats what the
analysis holds: nothing here recomputes a statistic.  The output depends only
on the analysis (no clock is read), so rendering twice gives the same bytes.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import math
import shlex
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
import pandas as pd
from markupsafe import Markup

from gutaxis.composition import taxon_label
from gutaxis.diversity import alpha_metrics, beta_metrics
from gutaxis.formatting import format_number, format_p, format_percent
from gutaxis.outputs import write_text
from gutaxis.report import figures as F
from gutaxis.stats.linda import LinDAResult

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from gutaxis.cohort import CohortAnalysis

__all__ = ["render_report", "write_report"]

#: Sections in page order: (id, title).
SECTIONS: tuple[tuple[str, str], ...] = (
    ("summary", "Summary"), ("diversity", "Diversity"), ("composition", "Composition"),
    ("differential-abundance", "Differential abundance"), ("markers", "Markers"),
    ("marker-taxon", "Markers and taxa"), ("classifier", "Classifier"),
    ("methods", "Methods"), ("provenance", "Provenance"),
)
#: ``skipped`` keys (lower case, ``-``/spaces as ``_``) that explain a section not run.
_SKIP_KEYS = {
    "diversity": ("rarefaction", "alpha", "beta", "diversity"),
    "differential-abundance": ("differential_abundance",),
    "markers": ("markers",),
    "marker-taxon": ("markers", "marker_taxon"),
    "classifier": ("classifier",),
}
_EFFECT_NAMES = {"rank_biserial": "rank-biserial r", "epsilon_squared": "ε²", "R2": "R²"}
_Q_SIG = 0.1  # the q below which a taxon counts as differentially abundant in the report
_BIAS_DRAWS_TEXT = "200 simulated fits"  # linda's draws behind the bias's error
_TOP_ASSOC = 25
_TOP_IMPORTANCES = 10
_MAX_CORR_ROWS = 120


# ---------------------------------------------------------------- formatting
_percent = format_percent


def _missing(x: Any) -> bool:
    return x is None or (isinstance(x, float) and not math.isfinite(x)) or bool(pd.isna(x))


def _display_labels(taxa: Iterable[Any], labels: Iterable[Any] | None = None) -> dict[str, str]:
    """Taxon id → a display label that is unique among ``taxa``.

    Labels default to :func:`~gutaxis.composition.taxon_label`; a label shared
    by several taxa (two genera *Clostridium* in different families) gets its
    parent level added, and the id if that is not enough.
    """
    ids = [str(t) for t in taxa]
    names = [str(x) for x in labels] if labels is not None else [taxon_label(t) for t in ids]
    pairs = dict(zip(ids, names, strict=True))
    shared = collections.Counter(pairs.values())
    out = {}
    for taxon, name in pairs.items():
        parent = taxon_label(taxon.rsplit(";", 1)[0]) if ";" in taxon else ""
        out[taxon] = (f"{name} ({parent})" if shared[name] > 1 and parent and parent != name
                      else name)
    shared = collections.Counter(out.values())
    return {t: f"{n} [{t}]" if shared[n] > 1 else n for t, n in out.items()}


def _pm(mean: Any, sd: Any) -> str:
    return f"{format_number(mean)} ± {format_number(sd)}"


def _effect(test: Any) -> str:
    if test is None or _missing(test.effect_size):
        return "–"
    return f"{_EFFECT_NAMES.get(test.effect_size_name, test.effect_size_name)} " \
           f"{format_number(test.effect_size)}"


def _p_title(test: Any) -> str:
    """``"p = 0.031, q = 0.062"`` (panel subtitles)."""
    text = f"p {format_p(test.p_value, test.permutations, phrase=True)}"
    return text + (f", q {format_p(test.q_value, phrase=True)}" if test.q_value is not None
                   else "")


def _methods(tests: Iterable[Any]) -> str:
    return " / ".join(dict.fromkeys(t.method for t in tests)) or "no"


# --------------------------------------------------------------------- model
@dataclasses.dataclass(frozen=True)
class Table:
    """A table as the template renders it: every cell already text."""

    id: str
    headers: list[str]
    rows: list[list[str]]
    numeric: frozenset[int] = frozenset()
    note: str = ""


@dataclasses.dataclass(frozen=True)
class FigureBlock:
    """An inline SVG figure with its one-line caption."""

    id: str
    svg: Markup
    caption: str


def _figure(fig_id: str, fig: Figure, caption: str) -> FigureBlock:
    return FigureBlock(fig_id, Markup(F.figure_to_svg(fig, id_prefix=f"{fig_id}-")), caption)


def _reasons(analysis: CohortAnalysis, section: str) -> list[tuple[str, str]]:
    keys = _SKIP_KEYS.get(section, ())
    out = []
    for key, reason in analysis.skipped.items():
        norm = str(key).lower().replace("-", "_").replace(" ", "_")
        if any(norm == k or norm.startswith(k + "_") for k in keys):
            out.append((str(key), str(reason)))
    return out


def _group_sizes(analysis: CohortAnalysis) -> dict[str, int]:
    counts = analysis.groups.astype(str).value_counts()
    return {g: int(counts.get(g, 0)) for g in analysis.group_order}


def _medians(test: Any, order: Sequence[str]) -> list[str]:
    medians = (test.extra.get("medians") or {}) if test is not None else {}
    return [format_number(medians.get(g)) for g in order]


# ------------------------------------------------------------------ sections
def _diversity(a: CohortAnalysis) -> dict[str, Any]:
    order = a.group_order
    metrics = list(dict.fromkeys([*a.alpha_tests, *map(str, a.alpha.columns)]))
    alpha_rows = []
    for m in metrics:
        t = a.alpha_tests.get(m)
        alpha_rows.append([F.metric_label(m), *_medians(t, order),
                           t.method if t else "not tested",
                           format_number(t.statistic, 4) if t else "–",
                           format_p(t.p_value, t.permutations) if t else "–",
                           format_p(t.q_value) if t else "–", _effect(t)])
    alpha_table = Table("alpha-table", ["Metric", *(f"Median {g}" for g in order), "Test",
                                        "Statistic", "p", "q", "Effect size"], alpha_rows,
                        frozenset(range(1, len(order) + 1)) | {len(order) + 2,
                                                               len(order) + 3, len(order) + 4})
    beta_names = list(dict.fromkeys([*a.beta, *a.ordinations, *a.permanova]))
    beta_rows, pcoa_figs = [], []
    for m in beta_names:
        pm, pd_ = a.permanova.get(m), a.permdisp.get(m)
        beta_rows.append([
            F.metric_label(m), str(pm.n) if pm else "–",
            format_number(pm.statistic) if pm else "–",
            format_number(pm.effect_size) if pm else "–",
            format_p(pm.p_value, pm.permutations) if pm else "–",
            format_number(pd_.statistic) if pd_ else "–",
            format_p(pd_.p_value, pd_.permutations) if pd_ else "–",
            str(pm.permutations) if pm else "–"])
        if m in a.ordinations:
            caption = f"PCoA of {F.metric_label(m)} distances"
            if pm:
                caption += (f" (n = {pm.n}); PERMANOVA pseudo-F {format_number(pm.statistic)}, "
                            f"R² {format_number(pm.effect_size)}, "
                            f"p {format_p(pm.p_value, pm.permutations, phrase=True)} "
                            f"({pm.permutations} permutations)")
            if pd_:
                caption += (f"; PERMDISP F {format_number(pd_.statistic)}, "
                            f"p {format_p(pd_.p_value, pd_.permutations, phrase=True)}")
            pcoa_figs.append(_figure(f"fig-pcoa-{_slug(m)}", F.pcoa_scatter(
                a.ordinations[m], a.groups, order, metric=m), caption + "."))
    beta_table = Table("beta-table", ["Metric", "n", "PERMANOVA pseudo-F", "R²", "p",
                                      "PERMDISP F", "p", "Permutations"], beta_rows,
                       frozenset(range(1, 8)))
    alpha_fig = None
    if a.alpha.shape[1]:
        tests = a.alpha_tests
        alpha_fig = _figure(
            "fig-alpha", F.alpha_boxplots(a.alpha, a.groups, order,
                                          subtitles={m: _p_title(t) for m, t in tests.items()}),
            f"Alpha diversity per group (box: median and quartiles; points: samples); "
            f"{_methods(tests.values())} test per metric, p and BH q in the panel titles.")
    known = {*alpha_metrics(), *beta_metrics()}
    metric_reasons = [(F.metric_label(k), v) for k, v in a.skipped.items() if k in known]
    return {"alpha_table": alpha_table, "alpha_figure": alpha_fig, "beta_table": beta_table,
            "pcoa_figures": pcoa_figs, "reasons": _reasons(a, "diversity") + metric_reasons}


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-") or "x"


def _abundance_table(table_id: str, means: pd.DataFrame, order: Sequence[str],
                     name: str) -> Table:
    cols = [g for g in order if g in means.columns]
    rows = [[str(taxon), *(_percent(means.loc[taxon, g]) for g in cols)]
            for taxon in means.index]
    return Table(table_id, [name, *(f"Mean {g}" for g in cols)], rows,
                 frozenset(range(1, len(cols) + 1)))


def _composition(a: CohortAnalysis) -> dict[str, Any]:
    order = a.group_order
    phylum_means = a.group_mean_abundance.get("phylum")
    rank_means = a.group_mean_abundance.get(a.rank)
    out: dict[str, Any] = {"phylum_table": None, "rank_table": None, "figure": None}
    if phylum_means is not None:
        out["phylum_table"] = _abundance_table("phylum-table", phylum_means, order, "Phylum")
    if rank_means is not None and a.rank != "phylum":
        out["rank_table"] = _abundance_table("rank-table", rank_means, order,
                                             a.rank.capitalize())
    if not a.phylum_abundance.empty:
        shown = min(a.phylum_abundance.shape[1], 8)
        out["figure"] = _figure(
            "fig-phyla", F.phylum_bars(a.phylum_abundance, a.groups, order,
                                       group_means=phylum_means),
            f"Relative abundance of the {shown} most abundant phyla per sample (ordered by "
            "group) and per group mean; descriptive, no test.")
    return out


@dataclasses.dataclass(frozen=True)
class _OneContrast:
    """One contrast of a LinDA result in the shape :func:`figures.forest_plot` reads."""

    table: pd.DataFrame
    reference_group: str
    comparison_group: str


def _subject_text(model: str, subject: str | None, n_subjects: int | None) -> str:
    if model == "subject means":
        return (f" Each person counts once: the model is fitted on the mean CLR of their "
                f"samples ({n_subjects:,} people, column {subject}).")
    if model == "within subject":
        return (f" The groups change within people, so each sample is compared with its "
                f"person's own mean ({n_subjects:,} people, column {subject}).")
    return ""


def _one_contrast_table(rows: pd.DataFrame, names: Mapping[str, str], effect_name: str,
                        note: str) -> Table:
    return Table("da-table", ["Taxon", effect_name, "95 % interval", "p", "q", "Higher in",
                              "Mean abundance", "Prevalence"],
                 [[names[str(r.taxon)], format_number(r.effect),
                   f"{format_number(r.ci_low)} to {format_number(r.ci_high)}",
                   format_p(r.p), format_p(r.q),
                   "–" if _missing(r.higher_in) else str(r.higher_in),
                   _percent(r.mean_abundance), _percent(r.prevalence)]
                  for r in rows.itertuples(index=False)],
                 frozenset({1, 3, 4, 6, 7}), note=note)


def _sig_note(n_sig: int, n_taxa: int, n_rows: int, what: str = "taxa with q") -> str:
    if not n_sig:
        return f"No taxon reached q < {_Q_SIG}; the {n_rows} with the smallest q are shown."
    shown = (f"; the {n_rows} with the smallest q are shown (all of them are in "
             "differential_abundance.tsv and results.json)" if n_rows < n_sig else "")
    return f"{n_sig} of {n_taxa} {what} < {_Q_SIG}{shown}."


def _forest(fig_id: str, da: Any, order: Sequence[str], names: Mapping[str, str],
            n_rows: int, n_sig: int, method: str) -> FigureBlock:
    what = (f"{n_rows} taxa with q < {_Q_SIG}" if n_sig else
            f"the {n_rows} taxa with the smallest q (none with q < {_Q_SIG})")
    return _figure(fig_id, F.forest_plot(da, order, q_threshold=_Q_SIG, labels=names),
                   f"{method}: log2 ratio {da.comparison_group} vs {da.reference_group} with "
                   f"interval for {what}; filled: q < {_Q_SIG}.")


def _differential(a: CohortAnalysis) -> dict[str, Any] | None:
    da = a.differential_abundance
    if da is None:
        return None
    if isinstance(da, LinDAResult):
        return _linda_section(a, da)
    rows = F.forest_rows(da.table, q_threshold=_Q_SIG)
    n_sig = int((da.table["q"] < _Q_SIG).sum())
    names = _display_labels(da.table["taxon"], da.table["label"])
    table = _one_contrast_table(rows, names, "log2 ratio",
                                _sig_note(n_sig, len(da.table), len(rows)))
    figure = (_forest("fig-da", da, a.group_order, names, len(rows), n_sig, da.method)
              if len(rows) else None)
    covariates = ", ".join(map(str, da.covariates)) or "none"
    intro = (f"{da.method} at {da.rank} level: {da.comparison_group} compared with "
             f"{da.reference_group} (reference), grouped by {da.group_column}; covariates: "
             f"{covariates}; {da.mc_samples} Monte Carlo samples, seed {da.seed}. Effects are "
             f"log2 ratios ({da.comparison_group} vs {da.reference_group}): positive means "
             f"higher in {da.comparison_group}."
             + _subject_text(getattr(da, "model", "samples"), getattr(da, "subject", None),
                             getattr(da, "n_subjects", None)))
    return {"da": da, "intro": intro, "table": table, "figure": figure, "n_sig": n_sig,
            "summary": f"{n_sig} taxa with q < {_Q_SIG}", "covariates": covariates,
            "notes": []}


def _linda_section(a: CohortAnalysis, da: LinDAResult) -> dict[str, Any]:
    """LinDA: one contrast like the count method; three groups or more, omnibus and pairs."""
    first = da.table[da.table["contrast"] == da.contrasts[0]]
    rows = F.forest_rows(first, q_threshold=_Q_SIG)
    n_sig = int((first["q"] < _Q_SIG).sum())
    names = _display_labels(first["taxon"], first["label"])
    covariates = ", ".join(map(str, da.covariates)) or "none"
    zeros = {"half-minimum": "zeros replaced by half the smallest proportion of their sample",
             "pseudo-count 0.5": "0.5 added to every count",
             "imputation": "zeros imputed in proportion to the sample's depth (the depth "
                           "differed with the groups)",
             }.get(da.zero_handling, "no zeros")
    intro = (f"{da.method} at {da.rank} level, by {da.variable}; covariates: {covariates}. "
             "Each taxon's centred log-ratio (log2) is regressed on the groups. The "
             "log-ratio shifts every taxon's estimate by the same amount (the compositional "
             "bias); that shift, estimated as the mode of all taxa's estimates, is removed, so "
             "the effects are log2 fold changes on the assumption that most taxa do not "
             f"change. Zeros: {zeros}.")
    figure = None
    if len(da.levels) >= 3:
        pairs = list(da.contrasts[1:])
        by_pair = {c: da.table[da.table["contrast"] == c].set_index("taxon") for c in pairs}
        body = []
        for r in rows.itertuples(index=False):
            cells = [names[str(r.taxon)], format_number(r.statistic), format_p(r.p),
                     format_p(r.q)]
            for c in pairs:
                pair = by_pair[c].loc[str(r.taxon)]
                cells.append(f"{format_number(pair['effect'])} "
                             f"(q {format_p(pair['q'], phrase=True)})")
            cells += [_percent(r.mean_abundance), _percent(r.prevalence)]
            body.append(cells)
        k = len(pairs)
        table = Table("da-table", ["Taxon", "F", "p", "q", *(f"{c}: log2 ratio" for c in pairs),
                                   "Mean abundance", "Prevalence"], body,
                      frozenset({1, 2, 3, *range(4, 6 + k)}),
                      note=_sig_note(n_sig, len(first), len(rows),
                                     "taxa differ between the groups, omnibus q"))
        intro += (f" {len(da.levels)} groups ({', '.join(da.levels)}): an omnibus F test asks "
                  "whether a taxon differs between any of them (taxa in order of that q); each "
                  "pair of groups then has its log2 ratio and its own q (Benjamini–Hochberg "
                  "across the taxa of that pair).")
        summary = f"{n_sig} taxa differ between the groups (omnibus q < {_Q_SIG})"
    else:
        continuous = da.variable_type == "continuous"
        effect_name = f"log2 change per unit of {da.variable}" if continuous else "log2 ratio"
        table = _one_contrast_table(rows, names, effect_name,
                                    _sig_note(n_sig, len(first), len(rows)))
        if continuous:
            intro += f" Effects are log2 changes per unit of {da.variable}."
        else:
            reference, comparison = da.levels
            intro += (f" Effects are log2 ratios ({comparison} vs {reference}): positive "
                      f"means higher in {comparison}.")
            if len(rows):
                figure = _forest("fig-da", _OneContrast(first, reference, comparison),
                                 a.group_order, names, len(rows), n_sig, "LinDA")
        summary = f"{n_sig} taxa with q < {_Q_SIG}"
    # how people were counted is the first of LinDA's own notes, shown under the intro
    return {"da": da, "intro": intro, "table": table, "figure": figure, "n_sig": n_sig,
            "summary": summary, "covariates": covariates, "notes": list(da.notes)}


def _markers(a: CohortAnalysis) -> dict[str, Any] | None:
    panel = a.markers
    if panel is None:
        return None
    order = a.group_order
    names = [str(c) for c in panel.values.columns]
    rows = []
    for m in names:
        t = a.marker_tests.get(m)
        unit = (t.extra.get("unit") if t else None) or panel.info[m].unit if m in panel.info else ""
        missing = t.extra.get("missing") if t else int(panel.values[m].isna().sum())
        rows.append([m, unit, str(t.n) if t else "–", str(missing), *_medians(t, order),
                     t.method if t else "not tested",
                     format_number(t.statistic, 4) if t else "–",
                     format_p(t.p_value, t.permutations) if t else "–",
                     format_p(t.q_value) if t else "–", _effect(t),
                     str(t.extra.get("higher_in") or "–") if t else "–"])
    k = len(order)
    table = Table("marker-table", ["Marker", "Unit", "n", "Missing",
                                   *(f"Median {g}" for g in order), "Test", "Statistic", "p",
                                   "q", "Effect size", "Higher in"], rows,
                  frozenset({2, 3, *range(4, 4 + k), 5 + k, 6 + k, 7 + k}))
    tests = [a.marker_tests[m] for m in names if m in a.marker_tests]
    units = {m: i.unit for m, i in panel.info.items()}
    figure = _figure(
        "fig-markers", F.marker_boxplots(panel.values, units, a.groups, order,
                                         subtitles={m: _p_title(a.marker_tests[m])
                                                    for m in names if m in a.marker_tests}),
        f"Markers per group (box: median and quartiles; points: samples; log axis where values "
        f"span over 100-fold); {_methods(tests)} test per marker, p and BH q in the panel titles.")
    corr = a.marker_correlations
    corr_table = corr_fig = None
    if not corr.empty:
        scopes = [s for s in ["pooled", *order] if (corr["scope"].astype(str) == s).any()]
        rank = {s: i for i, s in enumerate(scopes)}
        shown = corr.assign(_o=corr["scope"].astype(str).map(rank)).sort_values(
            ["_o", "q"], kind="stable", na_position="last")
        corr_table = Table(
            "correlation-table", ["Marker", "Marker", "Samples", "Spearman ρ", "p", "q", "n"],
            [[str(r.a), str(r.b), str(r.scope), format_number(r.rho), format_p(r.p),
              format_p(r.q), format_number(r.n)]
             for r in shown.head(_MAX_CORR_ROWS).itertuples(index=False)],
            frozenset({3, 4, 5, 6}),
            note="" if len(shown) <= _MAX_CORR_ROWS else f"First {_MAX_CORR_ROWS} of "
                                                          f"{len(shown)} pairs.")
        if len(names) >= 2:
            corr_fig = _figure("fig-marker-correlations",
                               F.correlation_heatmaps(corr, names, scopes),
                               "Spearman ρ between markers, pooled and within each group; "
                               "* q < 0.1, ** q < 0.05 (Benjamini–Hochberg).")
    return {"table": table, "figure": figure, "corr_table": corr_table, "corr_figure": corr_fig}


def _marker_taxon(a: CohortAnalysis) -> dict[str, Any] | None:
    assoc = a.marker_taxon_associations
    if a.markers is None or assoc.empty:
        return None
    names = _display_labels(assoc["taxon"], assoc["label"])
    assoc = assoc.assign(label=assoc["taxon"].astype(str).map(names))
    top = assoc.sort_values(["q", "p"], kind="stable", na_position="last").head(_TOP_ASSOC)
    table = Table("marker-taxon-table", ["Marker", "Taxon", "Spearman ρ", "p", "q", "n"],
                  [[str(r.marker), str(r.label), format_number(r.rho), format_p(r.p),
                    format_p(r.q), format_number(r.n)] for r in top.itertuples(index=False)],
                  frozenset({2, 3, 4, 5}),
                  note=f"The {len(top)} of {len(assoc)} marker–taxon pairs with the smallest q.")
    n_taxa = min(assoc["taxon"].nunique(), _TOP_ASSOC)
    heatmap = F.marker_taxon_heatmap(assoc, top=_TOP_ASSOC, markers=list(a.markers.values.columns))
    figure = _figure("fig-marker-taxon", heatmap,
                     f"Spearman ρ between markers and the {n_taxa} taxa ({a.rank}) with the "
                     "smallest q; * q < 0.1, ** q < 0.05 (Benjamini–Hochberg).")
    return {"table": table, "figure": figure, "n_sig": int((assoc["q"] < 0.05).sum())}


def _unit_of_analysis(a: CohortAnalysis) -> str | None:
    """Say how the tests count people, when ``--subject`` named them."""
    if a.subjects is None:
        return None
    subjects = a.subjects.reindex(a.groups.index)
    per_group = ", ".join(f"{g} {subjects[a.groups == g].nunique()}" for g in a.group_order)
    return (f"{subjects.nunique():,} people ({per_group}) gave the {len(subjects):,} samples "
            f"(column {a.subject_column}). Group tests and correlations use one value per "
            "person (the mean of their samples); PERMANOVA and PERMDISP permute whole people; "
            "cross-validation keeps each person's samples in one fold.")


def _cv_text(a: CohortAnalysis) -> str:
    p = a.parameters
    if p.get("cv_folds") and p.get("cv_repeats"):
        grouped = " with each person's samples in one fold" if a.subjects is not None else ""
        return (f"{p['cv_repeats']} × repeated stratified {p['cv_folds']}-fold "
                f"cross-validation{grouped}")
    cv = next(iter(a.classifier.values())).cv if a.classifier else {}
    return "cross-validation (" + ", ".join(f"{k} {v}" for k, v in cv.items()) + ")"


def _classifier(a: CohortAnalysis) -> dict[str, Any] | None:
    if not a.classifier:
        return None
    rows, importances = [], []
    for name, c in a.classifier.items():
        rows.append([name, str(c.n_samples), str(c.n_features), _pm(c.accuracy_mean,
                     c.accuracy_sd), _pm(c.auc_mean, c.auc_sd), str(c.positive_class)])
        imp = c.importances.sort_values("importance_mean", ascending=False, kind="stable")
        names = _display_labels(imp["feature"])
        importances.append(Table(
            f"importance-table-{_slug(name)}", ["Feature", "Importance (mean ± sd)"],
            [[names[str(r.feature)], _pm(r.importance_mean, r.importance_sd)]
             for r in imp.head(_TOP_IMPORTANCES).itertuples(index=False)], frozenset({1}),
            note=f"{name}: top {min(len(imp), _TOP_IMPORTANCES)} of {c.n_features} features."))
    table = Table("classifier-table", ["Feature set", "Samples", "Features", "Accuracy",
                                       "AUC", "Positive class"], rows, frozenset({1, 2, 3, 4}))
    figure = None
    if any(c.roc is not None and len(c.roc) for c in a.classifier.values()):
        figure = _figure("fig-roc", F.roc_curves(a.classifier),
                         f"Mean ROC curves (band: ± 1 sd) of random forests, {_cv_text(a)}; "
                         "AUC mean ± sd in the legend.")
    return {"table": table, "figure": figure, "importances": importances, "cv": _cv_text(a)}


def _summary(a: CohortAnalysis, sections: Mapping[str, Any]) -> list[str]:
    sizes = _group_sizes(a)
    items = [f"{sum(sizes.values()):,} samples in {len(sizes)} groups of {a.group_column}: "
             + ", ".join(f"{g} (n = {n:,})" for g, n in sizes.items()) + "."]
    if a.subjects is not None:
        people = a.subjects.reindex(a.groups.index)
        items[0] = items[0][:-1] + (
            f", from {people.nunique():,} people ("
            + ", ".join(f"{g} {people[a.groups == g].nunique():,}" for g in a.group_order)
            + ").")
    for m, t in a.permanova.items():
        items.append(f"{F.metric_label(m)}: PERMANOVA pseudo-F {format_number(t.statistic)}, "
                     f"R² {format_number(t.effect_size)}, "
                     f"p {format_p(t.p_value, t.permutations, phrase=True)}.")
    sig_alpha = [F.metric_label(m) for m, t in a.alpha_tests.items()
                 if t.q_value is not None and t.q_value < 0.05]
    if a.alpha_tests:
        items.append("Alpha metrics differing between groups at q < 0.05: "
                     f"{', '.join(sig_alpha) or 'none'}.")
    if sections["da"] is not None:
        items.append(f"Differential abundance ({a.rank}): {sections['da']['summary']}.")
    if a.marker_tests:
        sig = [f"{m} (higher in {t.extra.get('higher_in')})" if t.extra.get("higher_in")
               else m for m, t in a.marker_tests.items()
               if t.q_value is not None and t.q_value < 0.05]
        items.append(f"Markers differing between groups at q < 0.05: {', '.join(sig) or 'none'}.")
    if a.classifier:
        best = max(a.classifier.items(), key=lambda kv: (kv[1].auc_mean, kv[0]))
        items.append(f"Highest cross-validated AUC: {best[0]} features, "
                     f"{_pm(best[1].auc_mean, best[1].auc_sd)}.")
    return items


def _methods_text(a: CohortAnalysis) -> list[str]:
    p = a.parameters
    seed = p.get("seed")
    seed_txt = f" (seed {seed})" if seed is not None else ""
    paras = []
    if a.rarefaction_depth is not None:
        paras.append(f"Diversity was computed on counts rarefied to {a.rarefaction_depth:,} "
                     f"reads per sample{seed_txt}; {len(a.rarefaction_dropped)} sample(s) "
                     "below that depth were left out of the diversity step.")
    else:
        paras.append("Diversity was computed without rarefaction.")
    people = a.subjects is not None
    if people:
        paras.append(f"Several samples came from one person (column {a.subject_column}), so "
                     "every test counts people: group tests and correlations use each "
                     "person's mean, the permutation tests shuffle the group labels among "
                     "whole people, and cross-validation keeps each person's samples in one "
                     "fold. The figures show every sample.")
    if a.alpha_tests:
        unit = " on each person's mean" if people else ""
        paras.append(f"Alpha diversity ({', '.join(map(F.metric_label, a.alpha_tests))}) was "
                     f"compared between groups with the {_methods(a.alpha_tests.values())} "
                     f"test{unit}; q-values are Benjamini–Hochberg adjusted across the alpha "
                     "metrics.")
    perms = sorted({t.permutations for t in [*a.permanova.values(), *a.permdisp.values()]})
    if a.permanova:
        how = " of whole people" if people else ""
        paras.append(f"Beta diversity ({', '.join(map(F.metric_label, a.permanova))}) was "
                     "ordinated by principal coordinate analysis and tested with PERMANOVA "
                     "(Anderson 2001) and PERMDISP (Anderson 2006), with "
                     f"{' / '.join(map(str, perms))} permutations{how}{seed_txt}.")
        if "aitchison" in a.permanova:
            paras.append("Aitchison distances are Euclidean distances between centred "
                         "log-ratios of each sample's composition, its zeros replaced "
                         "multiplicatively (δ = 1/D², D features; Martín-Fernández et al. "
                         "2003), so they do not depend on the unit or the sequencing depth.")
    paras.append(f"Composition is summarised as mean relative abundance per group at phylum "
                 f"and {a.rank} level (unrarefied table).")
    if a.differential_abundance is not None:
        paras.append(_da_methods(a.differential_abundance, p.get("min_prevalence")))
    if a.markers is not None:
        listed = "; ".join(f"{m} ({a.markers.unit(m)})" for m in a.markers.names)
        unit = " on each person's mean" if people else ""
        paras.append(f"The markers — {listed} — were compared between groups with the "
                     f"{_methods(a.marker_tests.values())} test{unit} (Benjamini–Hochberg across "
                     "markers), and correlated with each other (pooled and within each group) "
                     f"and with taxon abundances at {a.rank} level by Spearman's ρ, with "
                     "Benjamini–Hochberg q-values.")
    if a.classifier:
        trees = p.get("n_estimators")
        paras.append(f"Random-forest classifiers{f' ({trees} trees)' if trees else ''} were "
                     f"evaluated by {_cv_text(a)}{seed_txt} on each feature set "
                     f"({', '.join(a.classifier)}).")
    software = a.provenance.get("software") or a.provenance.get("packages") or {}
    if software:
        paras.append("Software: " + ", ".join(f"{k} {v}" for k, v in software.items()) + ".")
    return paras


def _da_methods(da: Any, prevalence: Any) -> str:
    """Return the methods paragraph of the differential-abundance step (either method)."""
    cov = f", adjusted for {', '.join(map(str, da.covariates))}" if da.covariates else ""
    prev_txt = (f"; taxa present in fewer than {100 * prevalence:g} % of samples were left out"
                if isinstance(prevalence, int | float) else "")
    people = {"subject means": "; one mean CLR per person",
              "within subject": "; each sample against its person's mean (within-person)",
              }.get(getattr(da, "model", "samples"), "")
    if not isinstance(da, LinDAResult):
        return (f"Differential abundance at {da.rank} level: {da.method} ({da.citation}), "
                f"{da.comparison_group} vs {da.reference_group}{cov}, {da.mc_samples} "
                f"Monte Carlo samples (seed {da.seed}){people}{prev_txt}.")
    tests = (f"an omnibus F test across the {len(da.levels)} groups and every pair of groups"
             if len(da.levels) >= 3 else
             f"a slope in {da.variable}" if da.variable_type == "continuous" else
             f"{da.levels[1]} vs {da.levels[0]}")
    bias = (f"its estimation error added to the standard errors ({_BIAS_DRAWS_TEXT}, seed "
            f"{da.seed})" if da.bias_uncertainty else "taken as known")
    return (f"Differential abundance at {da.rank} level: {da.method} ({da.citation}), "
            f"linear models of each taxon's centred log-ratio (log2; zeros: {da.zero_handling}) "
            f"on {da.variable}{cov}, {tests}; the compositional bias, the mode of the "
            f"estimates across taxa, removed from each contrast and {bias}; t and F tests on "
            f"{da.df} residual degrees of freedom, Benjamini–Hochberg q-values per "
            f"contrast{people}{prev_txt}.")


def _provenance(a: CohortAnalysis) -> dict[str, Any]:
    prov = a.provenance
    inputs = Table("input-table", ["Role", "Path", "Bytes", "SHA-256"],
                   [[str(i.get("role", "")), str(i.get("path", "")),
                     format_number(i.get("bytes")), str(i.get("sha256", ""))]
                    for i in prov.get("inputs", [])], frozenset({2}))
    params = Table("parameter-table", ["Parameter", "Value"],
                   [[str(k), v if isinstance(v, str) else json.dumps(v, default=str,
                                                                        ensure_ascii=False)]
                    for k, v in a.parameters.items()])
    command = prov.get("command")
    steps = [str(s.get("step", s)) if isinstance(s, Mapping) else str(s)
             for s in prov.get("steps", [])]
    tree = prov.get("tree")
    return {"inputs": inputs, "parameters": params, "created": prov.get("created"),
            "tree": tree.get("source") if isinstance(tree, Mapping) else None,
            "version": prov.get("gutaxis_version"), "steps": steps,
            "command": shlex.join(map(str, command)) if command else None}


# --------------------------------------------------------------------- API
def _environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.PackageLoader("gutaxis.report", "templates"),
                              autoescape=True, undefined=jinja2.StrictUndefined,
                              trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


def render_report(analysis: CohortAnalysis) -> str:
    """Render the report of ``analysis`` as one self-contained HTML document.

    Parameters
    ----------
    analysis : CohortAnalysis
        What :func:`gutaxis.cohort.analyze_cohort` returned.

    Returns
    -------
    str
        HTML with inline CSS and SVG figures, no external resources.  The
        same analysis always gives the same string.
    """
    sections: dict[str, Any] = {
        "diversity": _diversity(analysis), "composition": _composition(analysis),
        "da": _differential(analysis), "markers": _markers(analysis),
        "marker_taxon": _marker_taxon(analysis), "classifier": _classifier(analysis),
        "provenance": _provenance(analysis),
    }
    reasons = {sid: _reasons(analysis, sid) for sid, _ in SECTIONS}
    reasons["diversity"] = sections["diversity"]["reasons"]
    context = {
        "a": analysis, "sections": SECTIONS, "s": sections, "reasons": reasons,
        "summary": _summary(analysis, sections), "methods": _methods_text(analysis),
        "group_sizes": _group_sizes(analysis),
        "skipped": [(str(k), str(v)) for k, v in analysis.skipped.items()],
        "unit_of_analysis": _unit_of_analysis(analysis),
    }
    return _environment().get_template("report.html.j2").render(**context)


def write_report(analysis: CohortAnalysis, path: str | Path) -> Path:
    """Write :func:`render_report` of ``analysis`` to ``path`` (UTF-8, whole or not at all).

    Parameters
    ----------
    analysis : CohortAnalysis
    path : path

    Returns
    -------
    pathlib.Path
    """
    return write_text(path, render_report(analysis))
