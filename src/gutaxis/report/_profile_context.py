"""What the profile page's template receives: every cell already text, every figure SVG.

Built from a :class:`~gutaxis.profile.Profile` only; used by
:func:`gutaxis.report.profile_page.render_profile_html`.  Clinical text (link
evidence, option summaries, sentences of the summary) comes from the profile,
which took it from the knowledge base: nothing clinical is written here
beyond headings and column names.  Numbers are written by
:mod:`gutaxis.formatting`, as everywhere else.
"""

from __future__ import annotations

import json
import math
import posixpath
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from markupsafe import Markup

from gutaxis.formatting import (
    format_number,
    format_percentile_with_ci,
    format_value,
    is_missing,
)
from gutaxis.indices import STATUS_COLUMNS, not_computable_reason
from gutaxis.knowledge import load_chain, load_interventions
from gutaxis.measures import Alert, Measure, RangeUsed
from gutaxis.profile import LINK_STATUS_TEXT, LinkAssessment, Profile
from gutaxis.report.figures import profile as PF
from gutaxis.report.figures.base import figure_to_svg

__all__ = ["SECTIONS", "build_context"]

#: Sections of the page, in order: (id, title).
SECTIONS: tuple[tuple[str, str], ...] = (
    ("summary", "Summary"), ("diversity", "Diversity and indices"),
    ("composition", "Composition"),
    ("markers", "Barrier, translocation and inflammation markers"),
    ("chain", "The gut–immune chain"), ("options", "Options to consider"),
    ("followup", "Follow-up"), ("provenance", "Provenance"),
)
_STATUS_TEXT = {"low": "low", "within": "within range", "high": "high",
                "borderline": "borderline", "not measured": "not measured",
                "not comparable": "not comparable"}
_LINK_TEXT = LINK_STATUS_TEXT
_RANGE_KIND = {"lab": "lab range", "catalogue": "published cut-off",
               "reference": "reference cohort"}
#: A file path in a text of the profile: absolute with a folder (``/a/b.csv``), or relative
#: with a folder and a data file's extension (``data/table.biom``); the page shows its file
#: name only.  Units (``ng/mL``), "A/ B" and DOIs are not paths.
_PATH = re.compile(r"(?<![\w/.:~-])(?:~?/(?:[\w.@+-]+/)+[\w@+-][\w.@+-]*"
                   r"|(?:[\w.@+-]+/)+[\w@+-][\w.@+-]*\.(?:biom|tsv|csv|txt|json|qza|tab|xlsx?"
                   r"|fasta|fa|nwk|gz))(?![\w/])")
#: Most trend panels in one figure (4 rows of 4: fits an A4 page with its caption).
_TRENDS_PER_FIGURE = 16


# ---------------------------------------------------------------- formatting
def _finite(x: Any) -> float | None:
    """Return ``x`` as a finite float, else None (None, NaN, ±inf, text)."""
    if is_missing(x):
        return None
    v = float(x)
    return v if math.isfinite(v) else None


def _number(x: Any, unit: str = "", censored: str | None = None) -> str:
    """Write a value with its unit and censoring; ``"inf"`` text read back as infinity."""
    if isinstance(x, str) and x in ("inf", "-inf"):
        x = float(x)
    return format_value(x, unit, censored)


def _signed(x: Any, unit: str = "") -> str:
    text = _number(x, unit)
    if isinstance(x, str) and x in ("inf", "-inf"):
        x = float(x)
    positive = not is_missing(x) and float(x) > 0
    return f"+{text}" if positive else text


def _value(m: Measure) -> str:
    """Write the value cell: the number, or "not computable" when an index is not.

    A measure without a value whose first note is the index's "not computable"
    reason (:func:`gutaxis.indices.not_computable_reason`, put there by the
    comparison) reads "not computable", not a dash.
    """
    reasons = tuple(f"not computable: {not_computable_reason(k)}" for k in STATUS_COLUMNS)
    if m.value is None and m.notes and m.notes[0].startswith(reasons):
        return "not computable"
    return _number(m.value, m.unit, m.censored)


def _percentile(m: Measure) -> str:
    if m.censored is not None and m.value is not None:
        return "– (a limit, not a measurement)"
    return format_percentile_with_ci(m.percentile, m.ci_low, m.ci_high)


def _status(status: str, table: Mapping[str, str] = _STATUS_TEXT) -> dict[str, str]:
    return {"text": table.get(status, status),
            "cls": "st-" + re.sub(r"[^a-z]+", "-", status.lower()).strip("-")}


def _range_text(r: RangeUsed, unit: str) -> str:
    """``"up to 50 ug/g (borderline up to 120)"``, ``"0–0.5 EU/mL"`` and the like."""
    bare = "fraction" if unit == "fraction" else ""  # fractions show as %, no unit text
    suffix = f" {unit}" if unit and not bare else ""
    lo, hi = _number(r.low, bare), _number(r.high, bare)
    if r.low is not None and r.high is not None:
        # "−3.6 to −2.3", "−∞ to −2.3": a dash between two minus signs misreads
        text = f"{lo} to {hi}{suffix}" if r.low < 0 else f"{lo}–{hi}{suffix}"
    elif r.high is not None:
        text = f"up to {hi}{suffix}"
    elif r.low is not None:
        text = f"from {lo}{suffix}"
    else:
        text = "no numeric limits"
    if r.borderline_high is not None:
        text += f" (borderline up to {_number(r.borderline_high, bare)}{suffix})"
    return text


def _plain(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return format_number(value)
    return json.dumps(value, ensure_ascii=False, default=str)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


def _figure(fig_id: str, fig: Any, caption: str) -> dict[str, Any]:
    """Make a figure for the template: its SVG named by its caption (``<id>-caption``)."""
    svg = figure_to_svg(fig, id_prefix=f"{fig_id}-").replace(
        '<svg role="img" ', f'<svg role="img" aria-labelledby="{fig_id}-caption" ', 1)
    return {"id": fig_id, "svg": Markup(svg), "caption": caption}


class _Paths:
    """Write the input files' paths in the profile's texts as their file names.

    The profile keeps what it was given (``profile.json`` is unchanged); the page
    shows ``table.biom``, not ``/home/someone/project/data/table.biom``.
    """

    def __init__(self, profile: Profile) -> None:
        inputs = profile.provenance.get("inputs") or []
        paths = {str(i.get("path")) for i in inputs
                 if isinstance(i, Mapping) and i.get("path") and "/" in str(i.get("path"))}
        self._known = sorted(paths, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for path in self._known:
            text = text.replace(path, posixpath.basename(path.rstrip("/")))
        return _PATH.sub(lambda m: posixpath.basename(m.group(0)), text)


# ------------------------------------------------------------------ warnings
def _warning(alert: Alert, short: _Paths) -> dict[str, str]:
    return {"code": alert.code, "message": short(alert.message)}


def _section_warnings(profile: Profile, measures: Iterable[Measure],
                      short: _Paths) -> list[dict[str, str]]:
    """Return the reference alerts that concern a measure of the section (by id)."""
    ids = {m.id for m in measures}
    return [_warning(a, short) for a in profile.alerts_for("reference")
            if ids & set(a.affects)]


# ------------------------------------------------------------------- measures
def _measure_row(profile: Profile, m: Measure, short: _Paths) -> dict[str, Any]:
    r = m.range_used
    return {
        "id": m.id, "label": m.label, "kind": m.kind,
        "value": _value(m),
        "percentile": _percentile(m),
        "reference_n": "–" if m.reference_n is None else str(m.reference_n),
        "status": _status(m.status),
        "range": None if r is None else _range_text(r, m.unit),
        "range_kind": None if r is None else _RANGE_KIND.get(r.kind, r.kind),
        "range_label": "" if r is None else r.label,
        "range_source": "" if r is None else r.source,
        "notes": [short(n) for n in m.notes], "caveats": [short(c) for c in m.caveats],
        "warnings": [a.code.replace("_", " ") for a in profile.alerts_for("reference")
                     if a.concerns(m)],
    }


def _key_numbers(profile: Profile, short: _Paths) -> dict[str, Any]:
    """Collect the key numbers of page 1.

    They are every index, the markers with a value, and the key taxa found
    low, high or borderline; the key taxa with a value the reference cannot
    place are named in a line below the table.
    """
    rows, unplaced = [], []
    for m in profile.measures:
        if m.kind == "taxon" and m.status not in ("low", "high", "borderline"):
            if m.status == "not comparable":
                unplaced.append(m.label)
            continue
        if m.kind == "marker" and m.value is None and m.status == "not measured":
            continue
        rows.append(_measure_row(profile, m, short))
    return {"rows": rows, "unplaced_taxa": unplaced}


def _diversity_figures(profile: Profile, indices: Sequence[Measure]) -> list[dict[str, Any]]:
    ref_name = str(profile.reference.get("name") or "the reference")
    rule = load_chain().percentile_rule
    out = []
    for m in indices:
        every = np.asarray(profile.reference_values.get(m.id, []), dtype=np.float64)
        every = every[~np.isnan(every)]
        ref = every[np.isfinite(every)]
        value = _finite(m.value)
        if value is None or m.percentile is None or not ref.size:
            continue
        ci = None
        caption = (f"{m.label}: distribution in {ref_name} (n = {every.size}) with this "
                   f"patient's value {_number(value, m.unit)} (line)")
        if ref.size < every.size:  # ±∞ are values (an MD-index of −∞) but have no place on an axis
            caption += (f"; {every.size - ref.size} reference value(s) are infinite and not "
                        "drawn, though they count in the percentile")
        pct = _percentile(m)
        at_end = not 0 < float(m.percentile) < 100  # "below/above every reference sample"
        caption += f", {pct}" if at_end else f"; reference percentile {pct}"
        if m.ci_low is not None and m.ci_high is not None:
            lo, hi = rule.values_at(every, [m.ci_low, m.ci_high])
            # an end at ±∞ is drawn to the edge of the histogram
            ci = (float(np.clip(lo, ref.min(), ref.max())) if not np.isnan(lo) else lo,
                  float(np.clip(hi, ref.min(), ref.max())) if not np.isnan(hi) else hi)
            if not at_end:
                caption += "; the band shows that interval as reference values"
                if np.isinf(lo) or np.isinf(hi):
                    caption += " (an infinite end reaches the edge of the plot)"
        caption += f"; status: {_status(m.status)['text']}."
        fig = PF.reference_distribution(ref, value, label=m.label, unit=m.unit, ci=ci)
        out.append(_figure(f"fig-ref-{_slug(m.id)}", fig, caption))
    return out


def _diversity(profile: Profile, short: _Paths) -> dict[str, Any]:
    indices = [m for m in profile.measures if m.kind == "index"]
    return {"rows": [_measure_row(profile, m, short) for m in indices],
            "figures": _diversity_figures(profile, indices),
            "warnings": _section_warnings(profile, indices, short)}


def _composition(profile: Profile, short: _Paths) -> dict[str, Any]:
    taxa = [m for m in profile.measures if m.kind == "taxon"]
    top = [{"label": str(t.get("label") or t.get("taxon") or ""), "rank": str(t.get("rank") or ""),
            "taxon": str(t.get("taxon") or ""), "abundance": _number(t.get("abundance"),
                                                                       "fraction")}
           for t in profile.top_taxa]
    charted = [(m.label, float(m.percentile), m.ci_low, m.ci_high, _status(m.status)["text"])
               for m in taxa if m.percentile is not None and math.isfinite(m.percentile)]
    figure = None
    if charted:
        figure = _figure("fig-key-taxa", PF.percentile_chart(charted),
                         "Key taxa: this patient's percentile in the reference cohort (point) "
                         "with its 95 % interval (bar); the status is written at the right.")
    return {"top": top, "rows": [_measure_row(profile, m, short) for m in taxa],
            "figure": figure, "warnings": _section_warnings(profile, taxa, short)}


def _markers(profile: Profile, short: _Paths) -> dict[str, Any]:
    markers = [m for m in profile.measures if m.kind == "marker"]
    groups: list[dict[str, Any]] = []
    placed: set[str] = set()
    for link in profile.chain:
        refs = {ref for ref, _ in link.deciding}
        members = [m for m in markers if m.id in refs | set(link.not_comparable)
                   and m.id not in placed]
        if members:
            placed.update(m.id for m in members)
            groups.append({"id": f"markers-{_slug(link.id)}", "title": link.label,
                           "rows": [_measure_row(profile, m, short) for m in members]})
    rest = [m for m in markers if m.id not in placed]
    if rest:
        groups.append({"id": "markers-other",
                       "title": "Other markers" if groups else "Markers",
                       "rows": [_measure_row(profile, m, short) for m in rest]})
    return {"groups": groups, "warnings": _section_warnings(profile, markers, short)}


# ---------------------------------------------------------------------- chain
def _link_box(link: LinkAssessment) -> dict[str, Any]:
    return {"id": link.id, "label": link.label, "status": _status(link.status, _LINK_TEXT)}


def _chain(profile: Profile, short: _Paths) -> dict[str, Any]:
    links = []
    for link in profile.chain:
        deciding = []
        for ref, status in link.deciding:
            m = profile.measure(ref)
            deciding.append({"label": m.label if m is not None else ref, "ref": ref,
                             "status": _status(status)})
        unplaced = []  # measured, but no range or reference could place the value
        for ref in link.not_comparable:
            m = profile.measure(ref)
            unplaced.append({"label": m.label if m is not None else ref, "ref": ref,
                             "status": _status("not comparable")})
        links.append({**_link_box(link), "deciding": deciding, "not_comparable": unplaced,
                      "explanation": short(link.explanation), "evidence": link.evidence,
                      "unknowns": link.unknowns, "sources": list(link.sources)})
    known = {link.id: link for link in load_chain().links}
    callouts = [known[link.id].callout for link in profile.chain
                if link.id in known and known[link.id].callout]
    return {"boxes": [_link_box(link) for link in profile.chain], "links": links,
            "callouts": [" ".join(str(c).split()) for c in callouts]}


# -------------------------------------------------------------------- options
def _trigger(profile: Profile, trigger: str) -> str:
    """``"link:barrier=disturbed"`` → ``"Gut barrier: disturbed"``; unknown forms kept."""
    what, sep, status = trigger.partition("=")
    if not sep:
        return trigger
    if what.startswith("link:"):
        link_id = what.removeprefix("link:")
        label = next((lk.label for lk in profile.chain if lk.id == link_id), link_id)
        return f"{label} (chain link): {_LINK_TEXT.get(status, status)}"
    m = profile.measure(what)
    return f"{m.label if m is not None else what}: {_STATUS_TEXT.get(status, status)}"


def _options(profile: Profile) -> list[dict[str, Any]]:
    catalog = load_interventions()
    steps = []
    for step, opts in profile.options.items():
        steps.append({"id": f"step-{_slug(step)}", "title": step[:1].upper() + step[1:],
                      "options": [{
                          "id": f"option-{_slug(o.id)}", "name": o.name,
                          "triggered_by": [_trigger(profile, t) for t in o.triggered_by],
                          "evidence_level": o.evidence_level.replace("-", " "),
                          "evidence_meaning": catalog.evidence_levels.get(o.evidence_level, ""),
                          "unfavourable": o.evidence_level in catalog.unfavourable_levels,
                          "guideline": ([] if not o.guideline
                                        else [g.strip() for g in o.guideline.split(" | ")]),
                          "evidence_summary": o.evidence_summary, "cautions": o.cautions,
                          "sources": list(o.sources)} for o in opts]})
    return steps


# ------------------------------------------------------------------- followup
def _visit_day(visit_date: object, created: object) -> str:
    """Return the day of a visit: its own date when recorded, else its profile's day."""
    return str(visit_date or "")[:10] or str(created or "")[:10]


def _history_points(profile: Profile, m: Measure
                    ) -> tuple[list[str], list[float | None], list[str | None]]:
    visits = sorted(profile.history, key=lambda h: _visit_day(h.get("visit_date"),
                                                               h.get("created")))
    dates: list[str] = []
    values: list[float | None] = []
    censored: list[str | None] = []
    for h in visits:
        vals = h.get("values") or {}
        if m.id in vals:
            dates.append(_visit_day(h.get("visit_date"), h.get("created")) or "earlier")
            values.append(_finite(vals[m.id]))
            censored.append((h.get("censored") or {}).get(m.id))
    return dates, values, censored


def _same_patient_note(profile: Profile) -> str:
    """Say what the follow-up assumes when the two profiles do not both name a patient."""
    before = profile.history[-1].get("patient_id") if profile.history else None
    if profile.patient_id is not None and before is not None:
        return ""
    return ("The follow-up assumes that this profile and the previous one are of the same "
            "patient; give the patient's id (--patient) when making profiles to have this "
            "checked.")


def _followup(profile: Profile, short: _Paths) -> dict[str, Any] | None:
    if profile.followup is None:
        return None
    rows, by_id = [], {}
    for r in profile.followup:
        by_id[r.id] = (r.critical_difference, r.previous)
        rows.append({"label": r.label,
                     "previous": _number(r.previous, r.unit, r.previous_censored),
                     "current": _number(r.current, r.unit, r.current_censored),
                     "change": _signed(r.change, r.unit),
                     "threshold": _number(r.critical_difference, r.unit),
                     "real": ("yes" if r.real_change is True else "no"
                              if r.real_change is False else "n.a."),
                     "note": short("; ".join(r.notes))})
    panels = []
    censored_any = False
    for m in profile.measures:
        dates, values, censored = _history_points(profile, m)
        if not any(v is not None for v in values):
            continue
        dates.append(_visit_day(profile.visit_date, profile.created) or "current")
        values.append(_finite(m.value))
        censored.append(m.censored)
        if sum(v is not None for v in values) < 2:
            continue
        censored_any = censored_any or any(censored)
        threshold, previous = by_id.get(m.id, (None, None))
        panels.append({"label": m.label, "unit": m.unit, "dates": dates, "values": values,
                       "censored": censored, "threshold": _finite(threshold),
                       "previous": _finite(previous)})
    figures = []
    if panels:
        caption = ("Each measure with an earlier value, at every visit (the current one last, "
                   "in black); where a threshold for a real change exists, the grey band is "
                   "the previous value ± that threshold.")
        if censored_any:
            caption += (" An open triangle is a value reported only as below (▽) or above (△) "
                        "an assay's limit, drawn at the limit and not joined to the line.")
        # at most _TRENDS_PER_FIGURE panels a figure, so that each fits a printed page
        parts = math.ceil(len(panels) / _TRENDS_PER_FIGURE)
        size = math.ceil(len(panels) / parts)
        for i in range(parts):
            chunk = panels[i * size:(i + 1) * size]
            text = caption if parts == 1 else f"({i + 1} of {parts}) {caption}"
            figures.append(_figure("fig-trends" if i == 0 else f"fig-trends-{i + 1}",
                                   PF.trends(chunk), text))
    return {"rows": rows, "figures": figures,
            "warnings": [_warning(a, short) for a in profile.alerts_for("followup")],
            "assumption": _same_patient_note(profile)}


# ----------------------------------------------------------------- provenance
_REFERENCE_KEYS = ("name", "version", "n_samples", "sequencing", "taxonomy_scheme", "created",
                   "where")
_KB_KEYS = ("knowledge_base", "knowledge")
_PROV_HANDLED = {"inputs", "reference", "gutaxis_version", "parameters", *_KB_KEYS}


def _pairs(mapping: Mapping[str, Any], first: Sequence[str] = ()) -> list[tuple[str, str]]:
    keys = [k for k in first if k in mapping] + [k for k in mapping if k not in first]
    return [(str(k).replace("_", " "), _plain(mapping[k])) for k in keys
            if mapping[k] is not None]


def _provenance(profile: Profile) -> dict[str, Any]:
    prov = profile.provenance
    inputs = [{"role": str(i.get("role", "")), "path": str(i.get("path", "")),
               "bytes": _plain(i.get("bytes")) if i.get("bytes") is not None else "–",
               "sha256": str(i.get("sha256", "")),
               "made_from": ({"path": str(i["made_from"].get("path", "")),
                              "sha256": str(i["made_from"].get("sha256", ""))}
                             if isinstance(i.get("made_from"), Mapping) else None)}
              for i in prov.get("inputs", []) if isinstance(i, Mapping)]
    reference = dict(profile.reference)
    if isinstance(prov.get("reference"), Mapping):
        reference.update({k: v for k, v in prov["reference"].items() if k not in reference})
    kb: dict[str, Any] = {}
    for key in _KB_KEYS:
        if isinstance(prov.get(key), Mapping):
            kb.update(prov[key])
    return {"inputs": inputs, "reference": _pairs(reference, _REFERENCE_KEYS),
            "knowledge": _pairs(kb),
            "parameters": _pairs(prov.get("parameters") or {}),
            "other": _pairs({k: v for k, v in prov.items() if k not in _PROV_HANDLED})}


# ------------------------------------------------------------------------ API
def build_context(profile: Profile) -> dict[str, Any]:
    """Build the template's context for ``profile`` (see ``templates/profile.html.j2``)."""
    short = _Paths(profile)
    return {
        "p": profile, "sections": SECTIONS, "notice": load_chain().profile_notice,
        "headings": {sid: f"{i}. {title}" for i, (sid, title) in enumerate(SECTIONS, 1)},
        "reference_name": str(profile.reference.get("name") or ""),
        "reference_version": str(profile.reference.get("version") or ""),
        "warnings": [_warning(a, short) for a in profile.alerts_for("reference")],
        "patient": [short(s) for s in profile.summary.patient],
        "clinician": [short(s) for s in profile.summary.clinician],
        "key_numbers": _key_numbers(profile, short), "chain": _chain(profile, short),
        # alerts not already shown: in the summary's warnings box or a clinician's line
        "clinician_warnings": [_warning(a, short) for a in profile.alerts
                               if a.scope != "reference"
                               and not any(a.message in line
                                           for line in profile.summary.clinician)],
        "diversity": _diversity(profile, short), "composition": _composition(profile, short),
        "markers": _markers(profile, short), "options": _options(profile),
        "followup": _followup(profile, short), "provenance": _provenance(profile),
    }
