"""Fill a practice clinic with many patients fast, for :mod:`benchmarks.practice`.

Usage (a data folder that ``gutaxis serve`` then serves)::

    .venv/bin/python -m benchmarks.practice_seed --data /tmp/clinic --patients 10000 --visits 5
    GUTAXIS_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/mydb \\
        .venv/bin/python -m benchmarks.practice_seed --data /tmp/clinic

The database is migrated and the bundled reference set up by the server's own
:func:`gutaxis.service.app.prepare`; the clinic and its owner are made by the
service (``accounts.create_clinic`` / ``create_user``, which write the first
audit rows).  Everything else goes in with SQLAlchemy Core bulk inserts,
with explicit ids, into the migrated schema:

* **patients**: a first name and a surname drawn from lists of common names
  of several countries (so that a surname matches ~0.5 % of the clinic and a
  search has a realistic number of hits), a date of birth (1935–2008), sex,
  a made-up contact (``example.org`` e-mail, ``+44 7700 900…`` phone, the
  range Ofcom reserves for drama) and one to three conditions;
* **visits**: ``visits`` per patient, the first in the last three years, then
  every 4–16 weeks, with a short note;
* per visit, the uploads the server would have: the **microbiome table** (the
  bundled study's ``table.biom``, one of its real samples chosen, as the demo
  clinic does; stored once) and a **LABS.csv** (LPS, LBP, sCD14, I-FABP,
  hs-CRP: log-normal around the study's medians, a patient-level level times
  visit-to-visit noise; each file written to the store, so an export finds
  it), both ``parsed``, with the **lab values**;
* a **profile** (``done``) per visit, pointing at a real ``profile.json`` /
  ``profile.html`` computed against the bundled reference for the visit's
  sample (one per distinct sample, see :func:`profile_documents`), and the
  **timeline rows** (:class:`~gutaxis.service.models.VisitMeasure`): the
  document's index and taxon measures plus the visit's five markers, with the
  change judgement ("within normal variation" for 70 % of measures, "real
  change up/down" for 15 % each) from the second visit on.

No audit rows are written while seeding: the log is a hash chain per clinic,
and the server's own rows (the reads of the benchmark) continue the chain
that the service started, so it stays intact (the benchmark checks it).
Stored files are written straight into the store's layout without ``fsync``
(a benchmark fixture, not a record).  On PostgreSQL the id sequences are moved
past the inserted ids and the tables analysed (autovacuum would do the same
within a minute); on SQLite nothing is analysed (the server never does).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, func, select, text

from gutaxis.service.context import AppContext
from gutaxis.service.models import (
    LabValue,
    Patient,
    Profile,
    Reference,
    Upload,
    Visit,
    VisitMeasure,
)
from gutaxis.service.services.patients import name_key
from gutaxis.service.services.profiles import BUNDLED_FOLDER, measures_from_document
from gutaxis.service.store import FileStore

__all__ = ["FIRST_NAMES", "SURNAMES", "SeedResult", "seed_clinic", "profile_documents",
           "make_owner", "seed_benchmark_clinic", "LAB_MARKERS", "PASSWORD", "PROFILES_CACHE"]

#: The password of the benchmark's owner account.
PASSWORD = "benchmark password 2026"
#: Where the seeded visits' profile documents are computed once and kept.
PROFILES_CACHE = Path(__file__).resolve().parents[1] / ".bench" / "practice" / "profiles"

FIRST_NAMES = (
    "Olivia Emma Amelia Isla Ava Mia Sophia Grace Lily Freya Ella Evie Chloe Sophie Poppy "
    "Alice Ruby Harper Daisy Florence Oliver George Arthur Noah Muhammad Leo Harry Oscar "
    "Archie Henry Jack Charlie Freddie Theodore Thomas Alfie Jacob William Lucas Isaac Marie "
    "Louise Camille Léa Chloé Manon Inès Jade Lucie Hugo Louis Gabriel Raphaël Jules Arthur "
    "Maël Paul Adam Sofia Giulia Aurora Alice Ginevra Emma Beatrice Francesco Alessandro "
    "Lorenzo Mattia Leonardo Andrea Lucía María Martina Paula Julia Daniela Alejandro Hugo "
    "Pablo Álvaro Mateo Daniel Anna Lena Hannah Mila Emilia Lina Ben Paul Finn Jonas Elias "
    "Liam Luca Ana Beatriz Mariana Leonor João Rodrigo Tomás Afonso Aisha Fatima Zainab "
    "Omar Yusuf Ali Priya Ananya Aarav Vivaan Wei Mei Hiroshi Yuki Sakura Haruto Kenji Chen "
    "Amara Chidi Kwame Ama Kofi Nia Zara Ingrid Astrid Sven Lars Freja Nils Ewa Piotr Katarzyna "
    "Tomasz Agnieszka Dmitri Olga Ivan Anastasia Niamh Siobhan Ciarán Aoife Eoin Seán").split()
SURNAMES = (
    "Smith Jones Taylor Brown Williams Wilson Johnson Davies Robinson Wright Thompson Evans "
    "Walker White Roberts Green Hall Wood Jackson Clarke Patel Khan Lewis James Phillips "
    "Mason Mitchell Rose Davis Rodriguez Cox Alexander Morgan Moore Hughes Edwards Hill Lee "
    "Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon Laurent "
    "Lefebvre Michel Garcia David Bertrand Roux Vincent Fournier Morel Girard Rossi Russo "
    "Ferrari Esposito Bianchi Romano Colombo Ricci Marino Greco Bruno Gallo Conti De Luca "
    "Mancini Costa Giordano Rizzo Lombardi Moretti Fernández González Rodríguez López "
    "Martínez Sánchez Pérez Gómez Martín Jiménez Ruiz Hernández Díaz Moreno Muñoz Álvarez "
    "Romero Alonso Gutiérrez Navarro Müller Schmidt Schneider Fischer Weber Meyer Wagner "
    "Becker Schulz Hoffmann Schäfer Koch Bauer Richter Klein Wolf Schröder Neumann Silva "
    "Santos Ferreira Pereira Oliveira Costa Rodrigues Martins Jesus Sousa Fernandes "
    "Gonçalves Gomes Lopes Marques Alves Almeida Ribeiro Pinto Carvalho Teixeira Nowak "
    "Kowalski Wiśniewski Wójcik Kowalczyk Kamiński Lewandowski Zieliński Szymański Ivanov "
    "Smirnov Kuznetsov Popov Sokolov Lebedev Kozlov Novak Horvat Kovačević Jensen Nielsen "
    "Hansen Pedersen Andersen Larsen Johansson Andersson Karlsson Nilsson Eriksson Larsson "
    "Olsen Berg Haugen Murphy Kelly O'Sullivan Walsh O'Brien Byrne Ryan O'Connor Kumar Singh "
    "Sharma Gupta Shah Mehta Reddy Nair Wang Li Zhang Liu Chen Yang Huang Zhao Sato Suzuki "
    "Takahashi Tanaka Watanabe Ito Yamamoto Nakamura Kim Park Choi Jung Okafor Adeyemi "
    "Mensah Owusu Diallo Traoré Ndlovu Mokoena Haddad Nasser Khoury Cohen Levi Mizrahi "
    "Yilmaz Kaya Demir Şahin Çelik Papadopoulos Nagy Horváth Dvořák Novotný Virtanen "
    "Korhonen").split()
CONDITIONS = ("irritable bowel syndrome", "ME/CFS", "long COVID", "coeliac disease",
              "ulcerative colitis", "Crohn's disease", "type 2 diabetes", "eczema",
              "psoriasis", "migraine", "fibromyalgia", "SIBO (breath test positive)",
              "GERD", "hypothyroidism", "rheumatoid arthritis", "anxiety", "obesity",
              "post-antibiotic diarrhoea", "food intolerances", "recurrent UTIs")
VISIT_NOTES = ("Initial consultation; history taken, stool and blood tests ordered.",
               "Follow-up: bloating less frequent, energy still low.",
               "Follow-up: started the elimination diet two weeks ago.",
               "Review of the results with the patient; plan adjusted.",
               "Follow-up: symptoms improved, reintroducing dairy.",
               "Patient reports a flare after a course of antibiotics.",
               "Routine review; no change in medication.")
#: Marker, unit, median (log-normal centre; the study's medians, hs-CRP a typical value).
LAB_MARKERS = (("LPS", "pg/mL", 87.0), ("LBP", "ug/mL", 13.9), ("sCD14", "ug/mL", 1.68),
               ("I-FABP", "pg/mL", 250.0), ("hs-CRP", "mg/L", 1.5))
_CHANGES = ("within normal variation", "real change up", "real change down")
_SEXES = ("female", "male", "other", "unknown")
_SEX_CDF = np.cumsum((0.45, 0.45, 0.05, 0.05))
_BATCH = 20_000


@dataclasses.dataclass(frozen=True)
class SeedResult:
    """What :func:`seed_clinic` made."""

    patient_ids: range
    visits: int
    uploads: int
    lab_values: int
    profiles: int
    measures: int
    seconds: float
    #: ``table, seconds`` in insertion order.
    timings: list[tuple[str, float]]

    def as_dict(self) -> dict[str, Any]:
        return {"patients": len(self.patient_ids), "first_patient_id": self.patient_ids.start,
                "visits": self.visits, "uploads": self.uploads,
                "lab_values": self.lab_values, "profiles": self.profiles,
                "measures": self.measures, "seconds": round(self.seconds, 2),
                "timings": {k: round(v, 2) for k, v in self.timings}}


def make_owner(ctx: AppContext, clinic: str, email: str) -> tuple[int, int]:
    """The clinic and its owner, made by the service (audited); ``(clinic_id, user_id)``."""
    from gutaxis.service.services import accounts

    with ctx.transaction() as db:
        row = accounts.create_clinic(db, clinic)
        user = accounts.create_user(db, row, email, PASSWORD, "owner", "Benchmark owner")
        return row.id, user.id


def profile_documents(ctx: AppContext, cache: Path, samples: list[str]
                      ) -> dict[str, tuple[str, str, list[dict[str, Any]]]]:
    """A real profile of each sample against the bundled reference, stored in ``ctx.store``.

    The documents are computed once (``gutaxis.commands.run_profile``,
    2,000 bootstrap replicates, no PDF) and cached under ``cache``.

    Returns
    -------
    dict
        sample → (json SHA-256, html SHA-256, the timeline rows of the document).
    """
    from gutaxis import io as gio
    from gutaxis.commands import ProfileOptions, run_profile

    out: dict[str, tuple[str, str, list[dict[str, Any]]]] = {}
    table = gio.example_dataset().table
    reference = ctx.settings.references_dir / BUNDLED_FOLDER
    for sample in samples:
        folder = cache / sample
        if not (folder / "profile.json").is_file():
            result = run_profile(ProfileOptions(table=table, sample=sample, reference=reference,
                                                n_boot=2000, pdf=False))
            result.write(folder, overwrite=True)
        document = json.loads((folder / "profile.json").read_text(encoding="utf-8"))
        out[sample] = (ctx.store.put_file(folder / "profile.json"),
                       ctx.store.put_file(folder / "profile.html"),
                       measures_from_document(document))
    return out


def _write_plain(store: FileStore, data: bytes) -> tuple[str, int]:
    """Put ``data`` in the store's layout without fsync (a fixture, not a record)."""
    sha = hashlib.sha256(data).hexdigest()
    path = store.path(sha)
    if not path.is_file():
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
    return sha, len(data)


def _next_id(conn: Any, table: Any) -> int:
    return int(conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()) + 1


class _Inserter:
    """Bulk inserts in batches (foreign keys hold at every flush), timed per table."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.rows: dict[str, list[dict[str, Any]]] = {}
        self.tables: dict[str, Any] = {}
        self.counts: dict[str, int] = {}
        self.seconds: dict[str, float] = {}

    def add(self, model: Any, row: dict[str, Any]) -> None:
        name = model.__tablename__
        self.tables.setdefault(name, model.__table__)
        batch = self.rows.setdefault(name, [])
        batch.append(row)
        if len(batch) >= _BATCH:
            self.flush()

    def flush(self) -> None:
        # every table, parents first (the order rows were first added in)
        for key in list(self.rows):
            batch = self.rows.get(key)
            if batch:
                t0 = time.perf_counter()
                self.conn.execute(self.tables[key].insert(), batch)
                self.seconds[key] = self.seconds.get(key, 0.0) + time.perf_counter() - t0
                self.counts[key] = self.counts.get(key, 0) + len(batch)
                batch.clear()


def seed_clinic(ctx: AppContext, clinic_id: int, user_id: int, *, patients: int = 10_000,
                visits: int = 5, documents: dict[str, tuple[str, str, list[dict[str, Any]]]],
                seed: int = 0, today: dt.date | None = None) -> SeedResult:
    """Insert ``patients`` × ``visits`` with uploads, labs, profiles and timeline rows.

    Parameters
    ----------
    ctx : AppContext
        A migrated application (:func:`gutaxis.service.app.prepare` has run).
    clinic_id, user_id : int
        The clinic and the practitioner of every patient.
    documents : dict
        From :func:`profile_documents`: the samples visits are given, and
        their profiles.
    seed : int
    today : date, optional
        The last possible visit date (default today).

    Returns
    -------
    SeedResult
    """
    from gutaxis import io as gio

    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    today = today or dt.date.today()
    table = gio.example_dataset().table
    table_sha = ctx.store.put_file(table)
    table_size = table.stat().st_size
    study_samples = _study_samples()
    samples = sorted(documents)
    engine: Engine = ctx.engine
    with ctx.sessions() as db:
        reference_id = db.scalar(select(Reference.id).where(
            Reference.clinic_id.is_(None), Reference.folder == BUNDLED_FOLDER))
    if reference_id is None:
        raise RuntimeError("the bundled reference is not set up (run prepare first)")
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with engine.begin() as conn:
        ids = {m.__tablename__: _next_id(conn, m.__table__)
               for m in (Patient, Visit, Upload, LabValue, Profile, VisitMeasure)}
        first_patient = ids["patient"]
        out = _Inserter(conn)
        for _ in range(patients):
            pid = ids["patient"]
            ids["patient"] += 1
            first = FIRST_NAMES[int(rng.integers(len(FIRST_NAMES)))]
            surname = SURNAMES[int(rng.integers(len(SURNAMES)))]
            if rng.random() < 0.08:
                surname = f"{surname}-{SURNAMES[int(rng.integers(len(SURNAMES)))]}"
            name = f"{first} {surname}"
            birth = dt.date(1935, 1, 1) + dt.timedelta(days=int(rng.integers(0, 73 * 365)))
            conditions = ", ".join(CONDITIONS[int(i)] for i in rng.permutation(
                len(CONDITIONS))[:int(rng.integers(1, 4))])
            created = now - dt.timedelta(days=int(rng.integers(200, 1100)))
            out.add(Patient, {
                "id": pid, "clinic_id": clinic_id, "practitioner_id": user_id, "name": name,
                "name_key": name_key(name), "birth_date": birth,
                "sex": _SEXES[int(np.searchsorted(_SEX_CDF, rng.random()))],
                "contact": f"{name_key(first)}.{pid}@example.org, +44 7700 900"
                           f"{int(rng.integers(0, 1000)):03d}",
                "conditions": conditions, "created_at": created, "updated_at": created})
            levels = rng.lognormal(0.0, 0.35, size=len(LAB_MARKERS))
            day = today - dt.timedelta(days=int(rng.integers(visits * 112, 3 * 365)))
            for v in range(visits):
                if v:
                    day = min(today, day + dt.timedelta(days=int(rng.integers(28, 113))))
                vid = ids["visit"]
                ids["visit"] += 1
                at = dt.datetime.combine(day, dt.time(9)) + dt.timedelta(
                    minutes=int(rng.integers(0, 480)))
                out.add(Visit, {"id": vid, "clinic_id": clinic_id, "patient_id": pid,
                                "visit_date": day, "notes": VISIT_NOTES[
                                    0 if v == 0 else int(rng.integers(1, len(VISIT_NOTES)))],
                                "created_at": at})
                sample = samples[int(rng.integers(0, len(samples)))]
                out.add(Upload, {
                    "id": ids["upload"], "clinic_id": clinic_id, "visit_id": vid,
                    "kind": "microbiome", "filename": "table.biom", "sha256": table_sha,
                    "size": table_size, "sample": sample, "status": "parsed",
                    "summary": {"sample": sample, "n_samples": len(study_samples),
                                "n_features": 2129, "samples": study_samples,
                                "sample_total": 60000.0},
                    "created_at": at, "created_by": user_id})
                ids["upload"] += 1
                values = [(marker, unit, float(f"{median * level * rng.lognormal(0, 0.15):.4g}"))
                          for (marker, unit, median), level in zip(LAB_MARKERS, levels,
                                                                    strict=True)]
                csv = "sample_id,marker,value,unit\n" + "".join(
                    f"{sample},{m},{x!r},{u}\n" for m, u, x in values)
                labs_sha, labs_size = _write_plain(ctx.store, csv.encode())
                labs_id = ids["upload"]
                ids["upload"] += 1
                out.add(Upload, {
                    "id": labs_id, "clinic_id": clinic_id, "visit_id": vid, "kind": "labs",
                    "filename": "LABS.csv", "sha256": labs_sha, "size": labs_size,
                    "sample": sample, "status": "parsed",
                    "summary": {"samples": [sample], "sample": sample,
                                "n_results": len(values)},
                    "created_at": at, "created_by": user_id})
                for marker, unit, value in values:
                    out.add(LabValue, {"id": ids["lab_value"], "clinic_id": clinic_id,
                                       "visit_id": vid, "upload_id": labs_id,
                                       "marker": marker, "value": value, "unit": unit,
                                       "censored": "", "assay": ""})
                    ids["lab_value"] += 1
                json_sha, html_sha, rows = documents[sample]
                profile_id = ids["profile"]
                ids["profile"] += 1
                done = at + dt.timedelta(seconds=float(rng.uniform(3, 30)))
                out.add(Profile, {"id": profile_id, "clinic_id": clinic_id, "visit_id": vid,
                                  "reference_id": reference_id, "status": "done",
                                  "json_sha256": json_sha, "html_sha256": html_sha,
                                  "pdf_sha256": "", "created_at": at, "finished_at": done})
                markers = [{"group": "marker", "measure": f"marker:{name_key(m)}".replace(
                    "-", ""), "label": m, "value": x, "unit": u, "change": "",
                    "change_detail": ""} for m, u, x in values]
                for row in [*rows, *markers]:
                    change = ""
                    if v and row["value"] is not None:
                        u = rng.random()
                        change = _CHANGES[0 if u < 0.7 else 1 if u < 0.85 else 2]
                    out.add(VisitMeasure, {
                        **row, "id": ids["visit_measure"], "clinic_id": clinic_id,
                        "patient_id": pid, "visit_id": vid, "profile_id": profile_id,
                        "change": change,
                        "change_detail": "" if not change.startswith("real") else
                        "beyond the reference's normal visit-to-visit variation"})
                    ids["visit_measure"] += 1
        out.flush()
        timings = sorted(out.seconds.items(), key=lambda kv: -kv[1])
        if engine.dialect.name == "postgresql":
            for name in ids:
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                                  f"(SELECT max(id) FROM {name}))"))
    if engine.dialect.name == "postgresql":
        t0 = time.perf_counter()
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
        timings.append(("analyze", time.perf_counter() - t0))
    return SeedResult(range(first_patient, first_patient + patients),
                      out.counts.get("visit", 0), out.counts.get("upload", 0),
                      out.counts.get("lab_value", 0), out.counts.get("profile", 0),
                      out.counts.get("visit_measure", 0), time.perf_counter() - started, timings)


def seed_benchmark_clinic(ctx: AppContext, clinic: str, email: str, *, patients: int,
                          visits: int, seed: int = 0) -> tuple[int, int, SeedResult]:
    """A clinic, its owner ``email`` and ``patients`` × ``visits`` (a migrated ``ctx``).

    Returns
    -------
    tuple
        The clinic's id, the owner's id and what :func:`seed_clinic` made.
    """
    clinic_id, user_id = make_owner(ctx, clinic, email)
    documents = profile_documents(ctx, PROFILES_CACHE, _study_samples()[::11])
    seeded = seed_clinic(ctx, clinic_id, user_id, patients=patients, visits=visits,
                         documents=documents, seed=seed)
    return clinic_id, user_id, seeded


def _study_samples() -> list[str]:
    from gutaxis.io import read_example

    return [str(s) for s in read_example().sample_ids]


def main(argv: list[str] | None = None) -> None:
    from gutaxis.service.app import prepare
    from gutaxis.service.settings import Settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="the data folder")
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--visits", type=int, default=5)
    parser.add_argument("--email", default="owner@bench.example")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    ctx = AppContext(Settings.from_env(args.data, run_worker=False))
    try:
        prepare(ctx)
        _, _, result = seed_benchmark_clinic(ctx, "Benchmark clinic", args.email,
                                             patients=args.patients, visits=args.visits,
                                             seed=args.seed)
    finally:
        ctx.close()
    print(json.dumps(result.as_dict(), indent=1))
    print(f"sign in as {args.email} with the password {PASSWORD!r}", file=sys.stderr)


if __name__ == "__main__":
    main()
