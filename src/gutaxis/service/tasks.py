"""The work a job does, run inside the limited child (:mod:`gutaxis.service.sandbox`).

Each task takes plain values and returns plain values; it calls the same
library entry functions the command line calls (``read_table``,
``read_labs``, :func:`~gutaxis.commands.run_profile`,
:func:`~gutaxis.commands.run_reference_build`).  Paths in error messages are
shown by the upload's own file name, not the server's scratch path.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gutaxis import io as gio
from gutaxis.commands import ProfileOptions, ReferenceOptions, run_profile, run_reference_build
from gutaxis.exceptions import GutaxisError
from gutaxis.markers import read_labs

__all__ = ["run", "describe", "TASKS"]

#: Samples named in a parsed table's summary (the rest are counted).
SHOWN_SAMPLES = 200


def describe(exc: BaseException) -> str:
    """Put a task's failure in words for the user.

    gutaxis's own errors are their message already; a file nested too deeply
    says so; any other error is named with its type.
    """
    if isinstance(exc, GutaxisError):
        return str(exc)
    if isinstance(exc, RecursionError):
        return "the file is nested too deeply to read"
    return f"the file could not be read ({type(exc).__name__}: {exc})"


def parse_microbiome(path: str, sample: str | None = None) -> dict[str, Any]:
    """Read a feature table (any format gutaxis reads) and pick the visit's sample."""
    study = gio.read_table(path)
    samples = [str(s) for s in study.sample_ids]
    name = Path(path).name
    if sample:
        if sample not in samples:
            shown = ", ".join(samples[:10]) + (" …" if len(samples) > 10 else "")
            raise _Failed(f"{name}: sample {sample!r} is not in the table (it holds "
                          f"{len(samples)}: {shown})")
    elif len(samples) == 1:
        sample = samples[0]
    else:
        shown = ", ".join(samples[:10]) + (" …" if len(samples) > 10 else "")
        raise _Failed(f"{name}: the table holds {len(samples)} samples ({shown}); say which "
                      "one is this visit's (\"Sample id\" in the upload form, the 'sample' "
                      "field in the API)")
    index = samples.index(sample)
    reads = float(study.counts[index].sum())
    if not math.isfinite(reads) or reads <= 0:
        raise _Failed(f"{name}: sample {sample!r} has no reads")
    return {"sample": sample, "n_samples": len(samples), "n_features": len(study.feature_ids),
            "samples": samples[:SHOWN_SAMPLES], "sample_total": reads}


def parse_labs(path: str) -> dict[str, Any]:
    """Read a ``LABS.csv`` into rows (values in the units as written)."""
    try:
        labs = read_labs(path)
    except GutaxisError as exc:  # the page's words, not the command line's
        raise _Failed(str(exc).replace(
            "are read with `gutaxis labs import` (read_lab_bundle in Python)",
            "are uploaded as FHIR ('Lab results as FHIR' in the visit's page, kind 'fhir' "
            "in the API)")) from None
    frame = labs.table.reset_index()
    rows = []
    for record in frame.to_dict("records"):
        rows.append({key: _plain(record.get(key)) for key in
                     ("sample_id", "marker", "value", "unit", "censored", "ref_low",
                      "ref_high", "assay")})
    return {"rows": rows, "samples": sorted({str(r["sample_id"]) for r in rows})}


#: Skipped results named in a FHIR upload's summary (the rest are counted).
SHOWN_SKIPPED = 50


def parse_fhir(path: str, identifiers: list[list[str]], skip_unknown: bool = False,
               birth_date: str | None = None) -> dict[str, Any]:
    """Read lab results from FHIR R4 JSON for the patient holding ``identifiers``.

    The results imported are those of the input's patient who holds one of
    the patient record's identifiers (``[system, value]`` pairs).  Input
    naming a patient by identifiers none of which is the record's is refused:
    the practitioner says it is this patient by adding the identifier to the
    record.  Input whose results name no identified patient is taken as the
    visit's, as a ``LABS.csv`` is — unless its ``Patient`` was born on
    another day than the record's ``birth_date`` (ISO): then it is another
    patient's, and refused.
    """
    name = Path(path).name
    try:
        return _parse_fhir(path, name, identifiers, skip_unknown, birth_date)
    except GutaxisError as exc:  # say the page's words, not the command line's
        text = str(exc)
        for command_line, page in _PAGE_WORDS:
            text = text.replace(command_line, page)
        raise _Failed(text) from None


#: The command line's advice in the readers' messages, and what the upload page offers instead.
_PAGE_WORDS = (
    ("with --skip-unknown (skip_unknown=True)",
     "by ticking 'Skip results gutaxis does not know'"),
    ("import one report at a time (--report ID, report= in Python; the input's reports: ",
     "upload one report at a time, each in a file of its own (the input's reports: "),
    ("; choose one with --patient SYSTEM|VALUE (patient=(system, value) in Python)",
     "; upload a file with this patient's results alone, or add the identifier the file "
     "gives this patient to the patient's record (Edit patient) and upload it again"),
)


def _parse_fhir(path: str, name: str, identifiers: list[list[str]], skip_unknown: bool,
                birth_date: str | None) -> dict[str, Any]:
    from gutaxis.exceptions import NotFoundError
    from gutaxis.fhir import read_lab_bundle

    ours = [(str(system), str(value)) for system, value in identifiers]
    found = None
    for pair in ours:
        try:
            found = read_lab_bundle(path, patient=pair, sample_id="visit",
                                    skip_unknown=skip_unknown)
            break
        except NotFoundError:
            continue
    if found is None:
        held = ", ".join(f"{s}|{v}" for s, v in ours) or "none"
        advice = ("if the results are this patient's, add their identifier to the patient's "
                  "record (Edit patient), then upload the file again; nothing was stored")
        try:
            found = read_lab_bundle(path, sample_id="visit", skip_unknown=skip_unknown)
        except GutaxisError as exc:
            if ours and " patients: " in str(exc):  # several patients, none of them ours
                raise _Failed(f"{exc} — none of them holds this patient's identifiers "
                              f"({held}); {advice}") from None
            raise
        if found.patient_identifiers:
            named = ", ".join(f"{s}|{v}" if s else v for s, v in found.patient_identifiers)
            raise _Failed(f"{name}: the results are of the patient with identifier {named}; "
                          f"this patient's identifiers: {held}; {advice}")
    named = "; ".join(p.label for p in found.patients)[:200]
    given = found.patient_birth_date  # FHIR allows "1980" and "1980-05": compare as precise
    if birth_date and given and not birth_date.startswith(given[:10]):
        raise _Failed(f"{name}: the results are of a patient born {given} ({named}); this "
                      f"patient was born {birth_date}: they are another patient's. Nothing "
                      "was stored")
    unidentified = "" if found.patient_identifiers else (
        f"The results name their patient without an identifier ({named}): they were "
        "taken as this visit's patient's, because the file was uploaded here. Check that they "
        "are.")
    rows = [{key: row.get(key, "") for key in
             ("marker", "unit", "assay", "effective", "specimen", "interpretation", "source")}
            for row in found.rows]
    records = {r["marker"]: r for r in found.table.reset_index().to_dict("records")}
    for row in rows:
        record = records[row["marker"]]
        row.update(value=_plain(record["value"]), censored=_plain(record["censored"]) or "",
                   ref_low=_plain(record["ref_low"]), ref_high=_plain(record["ref_high"]))
    skipped = [s.to_json() for s in found.skipped]
    return {"rows": rows, "sample": None, "n_skipped": len(skipped), "note": unidentified,
            "skipped": skipped[:SHOWN_SKIPPED],
            "patient": [list(p) for p in found.patient_identifiers],
            "other_patients": found.other_patients}


def _plain(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):
        value = value.item()
        if isinstance(value, float) and math.isnan(value):
            return None
    return value


def compute_profile(table: str, sample: str, reference: str, out: str, n_boot: int,
                    labs: str | None = None, previous: str | None = None,
                    patient: str | None = None, visit_date: str | None = None,
                    labs_made_from: list[str] | None = None,
                    partial: Callable[[dict[str, str]], None] | None = None
                    ) -> dict[str, str]:
    """Profile one visit's sample against a reference; write json, html and pdf to ``out``.

    The inputs in the job's folder are named by their file names (``table.biom``,
    ``LABS.csv``), as the profile's provenance and notes show them, not by the
    server's scratch path; ``labs_made_from`` is the upload (its file name and
    SHA-256) the visit's ``LABS.csv`` was written from.  ``visit_date`` (the
    visit's day) dates the visit in the profile's follow-up.  ``partial`` is
    told of the JSON and HTML as soon as they are written, before the PDF (the
    slow part) is drawn.
    """
    from gutaxis.report import write_profile_pdf

    folder = Path(table).parent

    def local(path: str | None) -> Path | None:
        if not path:
            return None
        return Path(Path(path).name) if Path(path).parent == folder else Path(path)

    with contextlib.chdir(folder):
        result = run_profile(ProfileOptions(
            table=Path(Path(table).name), sample=sample, reference=Path(reference),
            labs=local(labs), previous=local(previous), patient=patient, n_boot=n_boot,
            labs_made_from=tuple(labs_made_from) if labs_made_from else None,  # type: ignore[arg-type]
            visit_date=visit_date, pdf=False))
        written = result.write(out, overwrite=True)
        paths = {key: str(Path(folder, value)) for key, value in written.items()}
        if partial is not None:
            partial(dict(paths))
        paths["pdf"] = str(Path(folder, write_profile_pdf(result.profile,
                                                          Path(out) / "profile.pdf")))
    return paths


def build_reference(table: str, out: str, name: str, metadata: str | None = None,
                    where: str | None = None, markers: list[str] | None = None
                    ) -> dict[str, Any]:
    """Build a reference cohort (as ``gutaxis reference build``) into ``out``."""
    result = run_reference_build(ReferenceOptions(
        table=Path(table), metadata=Path(metadata) if metadata else None, name=name,
        where=where or None, markers=tuple(markers or ())))
    result.write(out, overwrite=True)
    return {"n_samples": int(result.reference.n_samples)}


class _Failed(GutaxisError):
    """A task's own refusal (a message for the user)."""


TASKS: dict[str, Callable[..., Any]] = {
    "parse_microbiome": parse_microbiome,
    "parse_labs": parse_labs,
    "parse_fhir": parse_fhir,
    "compute_profile": compute_profile,
    "build_reference": build_reference,
}


def run(task: str, payload: dict[str, Any],
        partial: Callable[[dict[str, Any]], None] | None = None) -> Any:
    """Run the task ``task`` with ``payload`` as keyword arguments.

    ``partial`` is handed to the tasks that report a first result early
    (``compute_profile``).
    """
    if partial is not None and task == "compute_profile":
        return TASKS[task](**payload, partial=partial)
    return TASKS[task](**payload)
