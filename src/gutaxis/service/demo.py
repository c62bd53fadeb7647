"""The demo clinic of ``make serve``: real participants of the bundled study, no invented values.

Each demo patient is one participant of Giloteaux et al. (Microbiome 2016):
their visit holds the study's stool table (their own sample chosen) and a
``LABS.csv`` made from their own LPS, LBP, sCD14 and I-FABP values in the
study's metadata (the units are those of the column names).  The uploads go
through the same route as a practitioner's (stored, parsed in a limited
process, profiled against the bundled controls reference), so the demo shows
what the application does with real data.  Every page of a demo clinic says
that it is demo data.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import secrets

import pandas as pd
from sqlalchemy import select

from gutaxis.service.access import Principal
from gutaxis.service.context import AppContext
from gutaxis.service.models import Clinic
from gutaxis.service.services import accounts, patients, uploads

__all__ = ["DemoClinic", "create_demo_clinic", "DEMO_EMAIL", "DEMO_CLINIC"]

DEMO_EMAIL = "demo@gutaxis.example"
DEMO_CLINIC = "Demo clinic (bundled study data)"
#: Metadata column → (marker as LABS.csv names it, unit of the column).
_LAB_COLUMNS = {"LPSpgml": ("LPS", "pg/mL"), "LBPugml": ("LBP", "ug/mL"),
                "sCD14ugml": ("sCD14", "ug/mL"), "IFABPpgml": ("I-FABP", "pg/mL")}


@dataclasses.dataclass(frozen=True)
class DemoClinic:
    """The demo clinic, its owner's e-mail address and how many patients were made.

    ``password`` is the owner's password when the clinic was just made (to
    be shown once), ``None`` when it existed already.
    """

    clinic_id: int
    email: str
    password: str | None
    patients: int


def _labs_csv(row: pd.Series, sample: str) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["sample_id", "marker", "value", "unit"])
    for column, (marker, unit) in _LAB_COLUMNS.items():
        value = row.get(column)
        if value is not None and pd.notna(value):
            writer.writerow([sample, marker, repr(float(value)), unit])
    return buffer.getvalue().encode()


def _sex(value: object) -> str:
    text = str(value or "").strip().lower()
    return {"f": "female", "m": "male"}.get(text, text if text in patients.SEXES else "unknown")


def create_demo_clinic(ctx: AppContext, *, per_group: int = 3) -> DemoClinic:
    """Make the demo clinic once (later calls return it without a password).

    Parameters
    ----------
    ctx : AppContext
        The migrated application (``gutaxis.service.app.prepare`` has run).
    per_group : int
        Participants taken from each group of the study (ME/CFS, control),
        the first by sample id.

    Returns
    -------
    DemoClinic
    """
    from gutaxis import io as gio

    with ctx.transaction() as db:
        existing = db.scalar(select(Clinic).where(Clinic.demo.is_(True)))
        if existing is not None:
            return DemoClinic(existing.id, DEMO_EMAIL, None, 0)
        password = secrets.token_urlsafe(12)
        clinic = accounts.create_clinic(db, DEMO_CLINIC, demo=True)
        user = accounts.create_user(db, clinic, DEMO_EMAIL, password, "owner",
                                    "Demo practitioner")
        who = Principal(user.id, clinic.id, "owner", user.email, "demo", "session")
        data = gio.example_dataset()
        meta = pd.read_csv(data.metadata, sep="\t", dtype=str, comment=None)
        meta = meta[~meta.iloc[:, 0].astype(str).str.startswith("#q2")]
        meta = meta.set_index(meta.columns[0])
        for column in _LAB_COLUMNS:
            meta[column] = pd.to_numeric(meta[column], errors="coerce")
        chosen: list[str] = []
        for group in ("Patient", "Control"):
            ids = sorted(str(i) for i in meta.index[meta["Subject"] == group])
            chosen += ids[:per_group]
        today = dt.date.today()
        for key, row in meta.loc[chosen].iterrows():
            sample = str(key)
            label = "ME/CFS" if row["Subject"] == "Patient" else "control"
            name = str(row.get("Sample_Name_s") or sample)
            patient = patients.create_patient(db, who, {
                "name": f"Study participant {name}",
                "conditions": f"{label} participant of the bundled study (Giloteaux et al., "
                              f"Microbiome 2016), sample {sample}",
                "contact": "demo data: not a real contact",
                "sex": _sex(row.get("Sex"))})
            visit = patients.create_visit(
                db, who, patient.id, today,
                "Demo visit: the participant's one stool sample and blood markers from the "
                "bundled study; the date is the day the demo was made.")
            with open(data.table, "rb") as table:
                uploads.receive_upload(db, ctx.store, who, visit.id, "microbiome", "table.biom",
                                       table, sample=sample,
                                       limit=ctx.settings.max_upload_bytes)
            labs = _labs_csv(row, sample)
            uploads.receive_upload(db, ctx.store, who, visit.id, "labs", "LABS.csv",
                                   io.BytesIO(labs), limit=ctx.settings.max_upload_bytes)
        return DemoClinic(clinic.id, DEMO_EMAIL, password, len(chosen))
