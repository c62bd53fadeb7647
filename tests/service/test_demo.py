"""The demo clinic of ``make serve``: real participants of the bundled study, nothing invented."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import select

from builders.practice import run_jobs
from gutaxis import io as gio
from gutaxis.service.demo import DEMO_EMAIL, create_demo_clinic
from gutaxis.service.models import Clinic, LabValue, Patient, Profile, Upload, Visit


def test_demo_clinic_holds_the_studys_own_samples_and_markers(ctx):
    made = create_demo_clinic(ctx, per_group=2)
    assert made.email == DEMO_EMAIL and made.password and len(made.password) >= 12
    assert made.patients == 4
    run_jobs(ctx)
    meta = pd.read_csv(gio.example_dataset().metadata, sep="\t", dtype=str)
    meta = meta[~meta.iloc[:, 0].str.startswith("#q2")].set_index(meta.columns[0])
    with ctx.transaction() as db:
        clinic = db.scalar(select(Clinic).where(Clinic.demo.is_(True)))
        assert clinic is not None
        rows = list(db.scalars(select(Patient).where(Patient.clinic_id == clinic.id)))
        samples = []
        for patient in rows:
            visit = db.scalar(select(Visit).where(Visit.patient_id == patient.id))
            table = db.scalar(select(Upload).where(Upload.visit_id == visit.id,
                                                   Upload.kind == "microbiome"))
            assert table.status == "parsed" and table.sample in meta.index
            samples.append(table.sample)
            row = meta.loc[table.sample]
            assert patient.name == f"Study participant {row['Sample_Name_s']}"
            assert patient.sex == row["Sex"].lower()
            labs = {v.marker: (v.value, v.unit) for v in db.scalars(
                select(LabValue).where(LabValue.visit_id == visit.id))}
            # stored by the catalogue's ids, in the units of the study's column names
            expected = {marker: (float(row[column]), unit) for column, (marker, unit) in {
                "LPSpgml": ("lps", "pg/mL"), "LBPugml": ("lbp", "ug/mL"),
                "sCD14ugml": ("scd14", "ug/mL"), "IFABPpgml": ("ifabp", "pg/mL")}.items()
                if pd.notna(pd.to_numeric(row[column], errors="coerce"))}
            assert labs == expected
            profile = db.scalar(select(Profile).where(Profile.visit_id == visit.id)
                                .order_by(Profile.id.desc()))
            assert profile.status == "done", profile.error
        groups = sorted(meta.loc[samples, "Subject"])
        assert groups == ["Control", "Control", "Patient", "Patient"]
    again = create_demo_clinic(ctx)
    assert again.password is None and again.clinic_id == made.clinic_id
