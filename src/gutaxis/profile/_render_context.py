"""What the profile page's template receives: every cell already text, every figure SVG.

Built from a :class:`~gutaxis.profile._model.Profile` only; used by
:func:`gutaxis.profile.render.render_profile_html`.  Clinical text (link
evidence, option summaries, sentences of the summary) comes from the profile,
which took it from the knowledge base: nothing clinical is written here
beyond headings and column names.
"""

from __future__ import annotations

import json
import math
import numbers
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from markupsafe import Markup

from gutaxis.profile import _figures as PF
from gutaxis.profile._model import LinkAssessment, Measure, Profile, RangeUsed
from gutaxis.report.figures import figure_to_svg
from gutaxis.report.html import format_number

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
_LINK_TEXT = {"disturbed": "disturbed", "not disturbed": "not disturbed",
              "not measured": "not measured"}
_RANGE_KIND = {"lab": "lab range", "catalogue": "published cut-off",
               "reference": "reference cohort"}
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


# ---------------------------------------------------------------- formatting
def _finite(x: Any) -> float | None:
    """``x`` as a finite float, else None (None, NaN, ±inf, text)."""
    if x is None or isinstance(x, bool):
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _number(x: Any, unit: str = "") -> str:
    """A value with its unit; fractions as percentages; ``∞`` for infinite; ``–`` when missing."""
    if isinstance(x, str) and x in ("inf", "-inf"):
        x = float(x)
    if x is None or isinstance(x, bool) or not isinstance(x, numbers.Real):
        return "–"
    v = float(x)
    if math.isnan(v):
        return "–"
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    if unit == "fraction":
        pct = 100 * v
        return f"{pct:.1f} %" if abs(pct) >= 1 or pct == 0 else f"{pct:.2g} %"
    text = format_number(v)
    return f"{text} {unit}" if unit else text


def _signed(x: Any, unit: str = "") -> str:
    text = _number(x, unit)
    v = _finite(x)
    return f"+{text}" if v is not None and v > 0 else text


def _pct(p: float | None) -> str:
    """A percentile: two significant digits below 10, one decimal above 90, else whole."""
    if p is None or not math.isfinite(p):
        return "–"
    if p < 10:
        return f"{p:.2g}"
    return f"{p:.1f}" if p > 90 else f"{p:.0f}"


def _percentile(m: Measure) -> str:
    if m.percentile is None:
        return "–"
    text = _pct(m.percentile)
    if m.ci_low is not None and m.ci_high is not None:
        text += f" (95 % CI {_pct(m.ci_low)}–{_pct(m.ci_high)})"
    return text


def _status(status: str, table: Mapping[str, str] = _STATUS_TEXT) -> dict[str, str]:
    return {"text": table.get(status, status),
            "cls": "st-" + re.sub(r"[^a-z]+", "-", status.lower()).strip("-")}


def _range_text(r: RangeUsed, unit: str) -> str:
    """``"up to 50 ug/g (borderline up to 120)"``, ``"0–0.5 EU/mL"`` and the like."""
    bare = "fraction" if unit == "fraction" else ""  # fractions show as %, no unit text
    suffix = f" {unit}" if unit and not bare else ""
    lo, hi = _number(r.low, bare), _number(r.high, bare)
    if r.low is not None and r.high is not None:
        text = f"{lo}–{hi}{suffix}"
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
    if isinstance(value, int | float) and not isinstance(value, bool):
        return format_number(value) if not isinstance(value, int) else str(value)
    return json.dumps(value, ensure_ascii=False, default=str)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


def _ref(m: Measure) -> str:
    """The measure's knowledge-base reference (``index:shannon_entropy``)."""
    return m.id if ":" in m.id else f"{m.kind}:{m.id}"


def _figure(fig_id: str, fig: Any, caption: str) -> dict[str, Any]:
    return {"id": fig_id, "svg": Markup(figure_to_svg(fig, id_prefix=f"{fig_id}-")),
            "caption": caption}


# ------------------------------------------------------------------ warnings
def _affects(warning: Mapping[str, Any], m: Measure) -> bool:
    """Whether ``warning`` concerns ``m``: by its ``affects`` ids, or (without
    any) every measure placed against the reference."""
    affects = [str(a) for a in warning.get("affects") or ()]
    if affects:
        ids = {a.removeprefix("index:") for a in affects}
        return (m.id.removeprefix("index:") in ids
                or (m.kind == "taxon" and any(a.startswith("taxa:") for a in affects)))
    if m.status == "not measured":
        return False
    return m.kind in ("index", "taxon") or (m.range_used is not None
                                            and m.range_used.kind == "reference")


def _warning(w: Mapping[str, Any]) -> dict[str, str]:
    return {"code": str(w.get("code", "")), "message": str(w.get("message", ""))}


def _section_warnings(profile: Profile, measures: Iterable[Measure]) -> list[dict[str, str]]:
    ms = list(measures)
    return [_warning(w) for w in profile.warnings if any(_affects(w, m) for m in ms)]


# ------------------------------------------------------------------- measures
def _measure_row(profile: Profile, m: Measure) -> dict[str, Any]:
    r = m.range_used
    return {
        "id": m.id, "label": m.label, "kind": m.kind, "value": _number(m.value, m.unit),
        "percentile": _percentile(m),
        "reference_n": "–" if m.reference_n is None else str(m.reference_n),
        "status": _status(m.status),
        "range": None if r is None else _range_text(r, m.unit),
        "range_kind": None if r is None else _RANGE_KIND.get(r.kind, r.kind),
        "range_label": "" if r is None else r.label,
        "range_source": "" if r is None else r.source,
        "notes": list(m.notes), "caveats": list(m.caveats),
        "warnings": [str(w.get("code") or "above").replace("_", " ")
                     for w in profile.warnings if _affects(w, m)],
    }


def _lookup(profile: Profile, ref: str) -> Measure | None:
    found = profile.measure(ref)
    if found is None and ref.startswith("index:"):
        found = profile.measure(ref.removeprefix("index:"))
    return found


def _key_numbers(profile: Profile) -> dict[str, Any]:
    """Every index, markers with a value, key taxa found low/high/borderline; the key taxa
    with a value the reference cannot place are named in a line below the table."""
    rows, unplaced = [], []
    for m in profile.measures:
        if m.kind == "taxon" and m.status not in ("low", "high", "borderline"):
            if m.status == "not comparable":
                unplaced.append(m.label)
            continue
        if m.kind == "marker" and m.value is None and m.status == "not measured":
            continue
        rows.append(_measure_row(profile, m))
    return {"rows": rows, "unplaced_taxa": unplaced}


def _diversity_figures(profile: Profile, indices: Sequence[Measure]) -> list[dict[str, Any]]:
    ref_name = str(profile.reference.get("name") or "the reference")
    out = []
    for m in indices:
        ref = np.asarray(profile.reference_values.get(m.id, []), dtype=np.float64)
        ref = ref[np.isfinite(ref)]
        value = _finite(m.value)
        if value is None or m.percentile is None or not ref.size:
            continue
        ci = None
        caption = (f"{m.label}: distribution in {ref_name} (n = {ref.size}) with this "
                   f"patient's value {_number(value, m.unit)} (line); reference percentile "
                   f"{_percentile(m)}")
        if m.ci_low is not None and m.ci_high is not None:
            lo, hi = np.percentile(ref, [m.ci_low, m.ci_high])
            ci = (float(lo), float(hi))
            caption += "; the band shows that interval as reference values"
        caption += f"; status: {_status(m.status)['text']}."
        fig = PF.reference_distribution(ref, value, label=m.label, unit=m.unit, ci=ci)
        out.append(_figure(f"fig-ref-{_slug(m.id)}", fig, caption))
    return out


def _diversity(profile: Profile) -> dict[str, Any]:
    indices = [m for m in profile.measures if m.kind == "index"]
    return {"rows": [_measure_row(profile, m) for m in indices],
            "figures": _diversity_figures(profile, indices),
            "warnings": _section_warnings(profile, indices)}


def _composition(profile: Profile) -> dict[str, Any]:
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
    return {"top": top, "rows": [_measure_row(profile, m) for m in taxa], "figure": figure,
            "warnings": _section_warnings(profile, taxa)}


def _markers(profile: Profile) -> dict[str, Any]:
    markers = [m for m in profile.measures if m.kind == "marker"]
    groups: list[dict[str, Any]] = []
    placed: set[str] = set()
    for link in profile.chain:
        refs = {ref for ref, _ in link.deciding}
        members = [m for m in markers if _ref(m) in refs and m.id not in placed]
        if members:
            placed.update(m.id for m in members)
            groups.append({"id": f"markers-{_slug(link.id)}", "title": link.label,
                           "rows": [_measure_row(profile, m) for m in members]})
    rest = [m for m in markers if m.id not in placed]
    if rest:
        groups.append({"id": "markers-other",
                       "title": "Other markers" if groups else "Markers",
                       "rows": [_measure_row(profile, m) for m in rest]})
    return {"groups": groups, "warnings": _section_warnings(profile, markers)}


# ---------------------------------------------------------------------- chain
def _link_box(link: LinkAssessment) -> dict[str, Any]:
    return {"id": link.id, "label": link.label, "status": _status(link.status, _LINK_TEXT)}


def _statements(links: Iterable[LinkAssessment], phrase: str) -> list[str]:
    """Sentences of the links' texts that mention ``phrase`` (case-insensitive), once each."""
    found: dict[str, None] = {}
    for link in links:
        for text in (link.evidence, link.unknowns, link.explanation):
            for sentence in _SENTENCE.split(" ".join(text.split())):
                if phrase in sentence.lower():
                    found[sentence] = None
    return list(found)


def _chain(profile: Profile) -> dict[str, Any]:
    links = []
    for link in profile.chain:
        deciding = []
        for ref, status in link.deciding:
            m = _lookup(profile, ref)
            deciding.append({"label": m.label if m is not None else ref, "ref": ref,
                             "status": _status(status)})
        links.append({**_link_box(link), "deciding": deciding, "explanation": link.explanation,
                      "evidence": link.evidence, "unknowns": link.unknowns,
                      "sources": list(link.sources)})
    return {"boxes": [_link_box(link) for link in profile.chain], "links": links,
            "leaky_gut": _statements(profile.chain, "leaky gut")}


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
    m = _lookup(profile, what)
    return f"{m.label if m is not None else what}: {_STATUS_TEXT.get(status, status)}"


def _options(profile: Profile) -> list[dict[str, Any]]:
    steps = []
    for step, opts in profile.options.items():
        steps.append({"id": f"step-{_slug(step)}", "title": step[:1].upper() + step[1:],
                      "options": [{
                          "id": f"option-{_slug(o.id)}", "name": o.name,
                          "triggered_by": [_trigger(profile, t) for t in o.triggered_by],
                          "evidence_level": o.evidence_level,
                          "guideline": ([] if not o.guideline
                                        else [g.strip() for g in o.guideline.split(" | ")]),
                          "evidence_summary": o.evidence_summary, "cautions": o.cautions,
                          "sources": list(o.sources)} for o in opts]})
    return steps


# ------------------------------------------------------------------- followup
def _history_points(profile: Profile, m: Measure) -> tuple[list[str], list[float | None]]:
    visits = sorted(profile.history, key=lambda h: str(h.get("created", "")))
    dates, values = [], []
    for h in visits:
        vals = h.get("values") or {}
        if m.id in vals:
            dates.append(str(h.get("created", ""))[:10] or "earlier")
            values.append(_finite(vals[m.id]))
    return dates, values


def _followup(profile: Profile) -> dict[str, Any] | None:
    if profile.followup is None:
        return None
    rows, by_id = [], {}
    for r in profile.followup:
        unit = str(r.get("unit") or "")
        threshold = r.get("threshold", r.get("critical_difference"))
        notes = r.get("notes")
        note = r.get("note") or ("; ".join(map(str, notes)) if notes else "")
        real = r.get("real_change")
        by_id[str(r.get("id"))] = (threshold, r.get("previous"))
        rows.append({"label": str(r.get("label") or r.get("id") or ""),
                     "previous": _number(r.get("previous"), unit),
                     "current": _number(r.get("current"), unit),
                     "change": _signed(r.get("change"), unit),
                     "threshold": _number(threshold, unit),
                     "real": "yes" if real is True else "no" if real is False else "n.a.",
                     "note": str(note)})
    panels = []
    for m in profile.measures:
        dates, values = _history_points(profile, m)
        if not any(v is not None for v in values):
            continue
        dates.append(profile.created[:10] or "current")
        values.append(_finite(m.value))
        if sum(v is not None for v in values) < 2:
            continue
        threshold, previous = by_id.get(m.id, (None, None))
        panels.append({"label": m.label, "unit": m.unit, "dates": dates, "values": values,
                       "threshold": _finite(threshold), "previous": _finite(previous)})
    figures = []
    if panels:
        figures.append(_figure(
            "fig-trends", PF.trends(panels),
            "Each measure with an earlier value, at every visit (the current one last, in "
            "black); where a threshold for a real change exists, the grey band is the previous "
            "value ± that threshold."))
    return {"rows": rows, "figures": figures}


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
               "sha256": str(i.get("sha256", ""))}
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
    """The template's context for ``profile`` (see ``templates/profile.html.j2``)."""
    chain = _chain(profile)
    return {
        "p": profile, "sections": SECTIONS,
        "headings": {sid: f"{i}. {title}" for i, (sid, title) in enumerate(SECTIONS, 1)},
        "reference_name": str(profile.reference.get("name") or ""),
        "reference_version": str(profile.reference.get("version") or ""),
        "warnings": [_warning(w) for w in profile.warnings],
        "patient": list(profile.summary.get("patient", [])),
        "clinician": list(profile.summary.get("clinician", [])),
        "key_numbers": _key_numbers(profile), "chain": chain,
        "clinician_warnings": [_warning(w) for w in profile.warnings
                               if not any(str(w.get("message", "")) in line
                                          for line in profile.summary.get("clinician", []))],
        "diversity": _diversity(profile), "composition": _composition(profile),
        "markers": _markers(profile), "options": _options(profile),
        "followup": _followup(profile), "provenance": _provenance(profile),
    }
