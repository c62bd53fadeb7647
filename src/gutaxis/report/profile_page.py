"""One patient's profile as ``profile.json``, ``profile.html`` and ``profile.pdf``.

:func:`profile_document` is the machine-readable contract (fixed by the JSON
Schema ``schemas/profile.schema.json``, :func:`profile_schema`);
:func:`render_profile_html` the self-contained page (inline CSS and SVG, no
external resources, no scripts) that WeasyPrint also turns into the PDF;
:func:`write_profile` writes all three.  Everything shown comes from the
:class:`~gutaxis.profile.Profile`: this module computes no statistic, and
reads no clock, so rendering twice gives the same bytes.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from gutaxis._version import __version__
from gutaxis.exceptions import ToolError
from gutaxis.outputs import open_atomic, to_json, write_json, write_text
from gutaxis.profile import PROFILE_SCHEMA_VERSION, Profile
from gutaxis.report import _profile_context as ctx

__all__ = ["SCHEMA_VERSION", "SECTIONS", "PROFILE_FILES", "profile_document", "profile_schema",
           "render_profile_html", "write_profile_pdf", "write_profile"]

#: Version of the ``profile.json`` layout (:data:`gutaxis.profile.PROFILE_SCHEMA_VERSION`).
SCHEMA_VERSION = PROFILE_SCHEMA_VERSION
#: Sections of the page, in order: (id, title).
SECTIONS: tuple[tuple[str, str], ...] = ctx.SECTIONS
#: What :func:`write_profile` writes (what ``--overwrite`` replaces).
PROFILE_FILES = ("profile.json", "profile.html", "profile.pdf")


def profile_document(profile: Profile) -> dict[str, Any]:
    """Return the ``profile.json`` document of ``profile``.

    Parameters
    ----------
    profile : Profile

    Returns
    -------
    dict
        Plain JSON types: ``schema_version``, ``patient_id``, ``sample_id``,
        ``created``, ``gutaxis_version``, ``reference``, ``warnings`` (the
        alerts), ``summary``, ``measures``, ``top_taxa``, ``chain``,
        ``options`` (5R step → options), ``followup`` (or ``None``),
        ``history`` (the earlier visits, so that the next profile can draw
        the trend), ``disclaimer`` and ``provenance``.  Non-finite numbers
        follow :mod:`gutaxis.outputs` (NaN ``null``, ±∞ ``"inf"``/``"-inf"``).
        It validates against :func:`profile_schema`.

    Examples
    --------
    >>> from gutaxis.measures import Measure
    >>> from gutaxis.profile import Summary
    >>> p = Profile(sample_id="P1", patient_id=None, created="2026-01-02T03:04:05+00:00",
    ...             reference={}, alerts=(), measures=(Measure("index:gmhi", "GMHI", "index",
    ...             float("nan"), "", "not measured"),), top_taxa=(), chain=(), options={},
    ...             followup=None, history=(), reference_values={}, summary=Summary((), ()),
    ...             disclaimer="Supports, does not replace, a clinician.", provenance={})
    >>> profile_document(p)["measures"][0]["value"] is None
    True
    """
    version = profile.provenance.get("gutaxis_version") or __version__
    doc = {
        "schema_version": SCHEMA_VERSION,
        "patient_id": profile.patient_id,
        "sample_id": profile.sample_id,
        "created": profile.created,
        "visit_date": profile.visit_date,
        "gutaxis_version": str(version),
        "reference": dict(profile.reference),
        "warnings": [a.to_dict() for a in profile.alerts],
        "summary": profile.summary.to_dict(),
        "measures": [m.to_dict() for m in profile.measures],
        "top_taxa": [dict(t) for t in profile.top_taxa],
        "chain": [link.to_dict() for link in profile.chain],
        "options": {step: [o.to_dict() for o in opts] for step, opts in profile.options.items()},
        "followup": None if profile.followup is None else [r.to_dict() for r in profile.followup],
        "history": [dict(h) for h in profile.history],
        "disclaimer": profile.disclaimer,
        "provenance": dict(profile.provenance),
    }
    out: dict[str, Any] = to_json(doc)
    return out


def profile_schema() -> dict[str, Any]:
    """Return the JSON Schema (draft 2020-12) of ``profile.json``.

    Returns
    -------
    dict
    """
    text = resources.files("gutaxis.report").joinpath(
        "schemas/profile.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def _environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.PackageLoader("gutaxis.report", "templates"),
                              autoescape=True, undefined=jinja2.StrictUndefined,
                              trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


def render_profile_html(profile: Profile, *, for_pdf: bool = False) -> str:
    """Render ``profile`` as one self-contained HTML page.

    Parameters
    ----------
    profile : Profile
    for_pdf : bool, default False
        True for the page WeasyPrint prints: the disclaimer and the page
        number become a running footer on every page (in the browser the
        disclaimer is the page's footer).  Print CSS is in both: A4, a bottom
        margin that holds the footer, a compact layout that puts the summary
        (the patient's block, the clinician's lines, the chain and the key
        numbers) on page 1, sections that follow on without forced page
        breaks, headings kept with what follows and figures with their
        captions.  On a narrow screen the chain's boxes stack and wide tables
        scroll inside their own box.

    Returns
    -------
    str
        HTML with inline CSS and SVG figures; no scripts, no external
        resources.  Sections, in order, with these ids: ``summary``,
        ``diversity``, ``composition``, ``markers``, ``chain``, ``options``,
        ``followup`` (saying "No previous profile" when there is none) and
        ``provenance``.  The same profile always gives the same string.

    Notes
    -----
    Every text from the profile is escaped (Jinja2 autoescape); statuses
    are written out as words next to their colour.  Input files' paths in the
    profile's notes and warnings are shown as file names (``profile.json``
    and the provenance section keep them whole).  The options section
    shows the knowledge base's disclaimer first, and never a dose.
    """
    context = ctx.build_context(profile)
    context["for_pdf"] = for_pdf
    context["gutaxis_version"] = str(profile.provenance.get("gutaxis_version") or __version__)
    return _environment().get_template("profile.html.j2").render(**context)


def _pdf(html: str, target: Path) -> None:
    try:
        import weasyprint
    except (ImportError, OSError) as exc:  # OSError: Pango/GObject libraries not found
        raise ToolError(
            "writing profile.pdf needs WeasyPrint and the system libraries it loads (Pango, "
            "HarfBuzz, fontconfig); importing it failed with: "
            f"{type(exc).__name__}: {exc}. Install them (e.g. `apt-get install libpango-1.0-0 "
            "libpangoft2-1.0-0 libharfbuzz0b`, see WeasyPrint's installation guide) and "
            "`pip install weasyprint`; profile.json and profile.html were written "
            f"to {target.parent}.") from exc
    from weasyprint.urls import URLFetcher

    # the page holds its pictures (data: URLs); a file or a server named in it, which a
    # text of the profile could only carry by a mistake of escaping, is not fetched
    embedded_only = URLFetcher(allowed_protocols=("data",))
    with open_atomic(target, "wb", what="the PDF") as out:
        weasyprint.HTML(string=html, base_url=None, url_fetcher=embedded_only).write_pdf(out)


def write_profile(profile: Profile, out_dir: str | Path, *, pdf: bool = True) -> dict[str, Path]:
    """Write ``profile.json``, ``profile.html`` and ``profile.pdf`` into ``out_dir``.

    Parameters
    ----------
    profile : Profile
    out_dir : str or Path
        Created when missing; existing files of those names are replaced (the
        commands check the folder first, :func:`gutaxis.outputs.output_folder`).
    pdf : bool, default True
        False: write the JSON and HTML only (WeasyPrint is then not needed).

    Returns
    -------
    dict of str to Path
        ``{"json": ..., "html": ..., "pdf": ...}`` (no ``"pdf"`` with ``pdf=False``).

    Raises
    ------
    ToolError
        WeasyPrint (or a system library it needs) cannot be imported; the
        JSON and HTML files are written before, so they are still there.
    """
    out = Path(out_dir)
    written: dict[str, Path] = {}
    written["json"] = write_json(out / "profile.json", profile_document(profile))
    written["html"] = write_text(out / "profile.html", render_profile_html(profile))
    if pdf:
        written["pdf"] = write_profile_pdf(profile, out / "profile.pdf")
    return written


def write_profile_pdf(profile: Profile, path: str | Path) -> Path:
    """Write the profile laid out for print as a PDF (WeasyPrint).

    :func:`write_profile` calls it last; the practice application calls it on
    its own, after the JSON and HTML, so that a visit's profile is shown
    while its PDF (the slow part) is drawn.

    Parameters
    ----------
    profile : Profile
    path : str or Path
        The PDF file (replaced when it exists).

    Returns
    -------
    Path

    Raises
    ------
    ToolError
        WeasyPrint (or a system library it needs) cannot be imported.
    """
    target = Path(path)
    _pdf(render_profile_html(profile, for_pdf=True), target)
    return target
