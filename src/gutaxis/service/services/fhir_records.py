"""A patient's record as FHIR R4 resources: the export, and what ``/fhir`` answers.

The resources are built by :mod:`gutaxis.fhir` (the library the command line
uses too) from the stored rows: the ``Patient``; per visit, the
``DiagnosticReport`` of its latest finished profile with its ``Observation``s
(read from the stored ``profile.json``), or, for a visit with lab results and
no profile, one ``Observation`` per result; the questionnaire answers as
``QuestionnaireResponse``s; the plan as a ``CarePlan``; each elimination
protocol as a ``NutritionOrder``.  References between them are the server's
own (``Patient/7``, ``Observation/<id>``), so the same resources serve a
``Bundle`` to download and the read-only FHIR face.  Reads are audited by the
caller's action, once per request.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gutaxis.service.access import Principal
from gutaxis.service.models import (
    ChallengeProtocol,
    LabValue,
    PlanItem,
    Profile,
    QuestionnaireRequest,
    QuestionnaireResponse,
    Visit,
)
from gutaxis.service.services.patients import get_patient, patient_identifiers
from gutaxis.service.services.uploads import visit_labs
from gutaxis.service.store import FileStore

__all__ = ["PatientResources", "patient_resources", "server_references", "patient_mapping",
           "patient_bundle"]


@dataclasses.dataclass
class PatientResources:
    """A patient's FHIR resources, with the server's references between them."""

    patient: dict[str, Any]
    reports: list[dict[str, Any]]
    observations: list[dict[str, Any]]
    responses: list[dict[str, Any]]
    care_plans: list[dict[str, Any]]
    nutrition_orders: list[dict[str, Any]]

    def all(self) -> list[dict[str, Any]]:
        """Every resource: the patient first, then reports, observations and the rest."""
        return [self.patient, *self.reports, *self.observations, *self.responses,
                *self.care_plans, *self.nutrition_orders]


def server_references(resources: Iterable[Mapping[str, Any]], full_urls: Mapping[str, str]
                      ) -> list[dict[str, Any]]:
    """Rewrite references to bundle-local ``urn:uuid:`` full URLs as ``Type/id``.

    Parameters
    ----------
    resources : iterable of mapping
        The resources (copied, not changed).
    full_urls : mapping of str to str
        A full URL → the ``Type/id`` it stands for.

    Returns
    -------
    list of dict

    Examples
    --------
    >>> obs = {"resourceType": "Observation", "id": "a",
    ...        "subject": {"reference": "urn:uuid:1"}}
    >>> server_references([obs], {"urn:uuid:1": "Patient/7"})[0]["subject"]
    {'reference': 'Patient/7'}
    """

    def walk(node: Any) -> Any:
        if isinstance(node, Mapping):
            out = {key: walk(value) for key, value in node.items()}
            ref = out.get("reference")
            if isinstance(ref, str) and ref in full_urls:
                out["reference"] = full_urls[ref]
            return out
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    return [walk(resource) for resource in resources]


def patient_mapping(patient: Any) -> dict[str, Any]:
    """Return a stored patient as :func:`gutaxis.fhir.patient_resource` takes it."""
    return {"id": str(patient.id), "name": patient.name, "birth_date": patient.birth_date,
            "sex": patient.sex,
            "identifiers": [{"system": s, "value": v} for s, v in patient_identifiers(patient)]}


def _utc(moment: dt.datetime) -> str:
    return moment.replace(tzinfo=dt.UTC, microsecond=0).isoformat()


def _latest_done_profiles(db: Session, visit_ids: list[int]) -> dict[int, Profile]:
    done: dict[int, Profile] = {}
    if not visit_ids:
        return done
    for profile in db.scalars(select(Profile).where(Profile.visit_id.in_(visit_ids),
                                                    Profile.status == "done",
                                                    Profile.json_sha256 != "")
                              .order_by(Profile.id)):
        done[profile.visit_id] = profile  # the latest wins
    return done


def patient_resources(db: Session, store: FileStore, who: Principal, patient_id: int, *,
                      action: str) -> PatientResources:
    """Build a patient's FHIR resources (the read is audited once, as ``action``).

    Raises
    ------
    NotFound
        No such patient in ``who``'s clinic (another clinic's included).
    """
    from gutaxis.fhir import (
        care_plan_resource,
        lab_report_bundle,
        nutrition_order_resource,
        patient_resource,
        profile_bundle,
        questionnaire_response_resource,
    )

    patient = get_patient(db, who, patient_id, action=action)
    mapping = patient_mapping(patient)
    subject = f"Patient/{patient.id}"
    patient_fhir = patient_resource(mapping)
    visits = list(db.scalars(select(Visit).where(Visit.patient_id == patient.id)
                             .order_by(Visit.visit_date, Visit.id)))
    done = _latest_done_profiles(db, [v.id for v in visits])
    reports: list[dict[str, Any]] = []
    observations: list[dict[str, Any]] = []
    for visit in visits:
        profile = done.get(visit.id)
        if profile is not None:
            document = json.loads(store.open(profile.json_sha256).read_bytes())
            # a lab result keeps the time its lab gave it (FHIR uploads), not the visit's day
            measured = {f"marker:{row.marker}": row.effective
                        for row in visit_labs(db, visit.id) if row.effective}
            bundle = profile_bundle(document, patient=mapping, effective=visit.visit_date,
                                    measured=measured)
        else:
            rows = visit_labs(db, visit.id)
            if not rows:
                continue
            bundle = lab_report_bundle([_lab_row(row) for row in rows], patient=mapping,
                                       effective=visit.visit_date, key=f"visit-{visit.id}")
        urls = {e["fullUrl"]: f"{e['resource']['resourceType']}/{e['resource']['id']}"
                for e in bundle.get("entry", [])}
        for resource in server_references((e["resource"] for e in bundle.get("entry", [])),
                                          urls):
            kind = resource["resourceType"]
            if kind == "DiagnosticReport":
                reports.append(resource)
            elif kind == "Observation":
                observations.append(resource)
    responses = []
    for response, request in db.execute(
            select(QuestionnaireResponse, QuestionnaireRequest)
            .join(QuestionnaireRequest,
                  QuestionnaireRequest.id == QuestionnaireResponse.request_id)
            .where(QuestionnaireResponse.patient_id == patient.id)
            .order_by(QuestionnaireResponse.id)):
        responses.append(questionnaire_response_resource(
            request.definition, response.answers, subject=subject,
            authored=_utc(response.completed_at), resource_id=f"qr-{response.id}"))
    items = list(db.scalars(select(PlanItem).where(PlanItem.patient_id == patient.id)
                            .order_by(PlanItem.id)))
    orders = []
    for protocol in db.scalars(select(ChallengeProtocol).where(
            ChallengeProtocol.patient_id == patient.id).order_by(ChallengeProtocol.id)):
        orders.append(nutrition_order_resource(
            {"id": f"protocol-{protocol.id}", "date_time": _utc(protocol.created_at),
             "groups": list(protocol.groups), "template": protocol.template,
             "elimination_start": protocol.elimination_start,
             "elimination_days": protocol.elimination_days},
            patient=subject, status="completed" if protocol.ended_at else "active"))
    care_plans = []
    if items or orders:
        plan_items = [{"title": item.title, "step": item.step, "status": item.status,
                       "evidence_level": item.evidence_level, "sources": list(item.sources),
                       "details": item.details, "option_id": item.option_id}
                      for item in items]
        plan_items += [{"title": "Elimination diet, then one food group at a time",
                        "step": "remove", "status": "done" if o["status"] == "completed"
                        else "active", "reference": f"NutritionOrder/{o['id']}"}
                       for o in orders]
        created = min([item.created_at for item in items]
                      + [p.created_at for p in db.scalars(select(ChallengeProtocol).where(
                          ChallengeProtocol.patient_id == patient.id))])
        care_plans.append(care_plan_resource(
            {"id": f"plan-{patient.id}", "title": "Plan", "created": _utc(created),
             "items": plan_items}, subject=subject))
    return PatientResources(patient_fhir, reports, observations, responses, care_plans, orders)


def _lab_row(row: LabValue) -> dict[str, Any]:
    return {"marker": row.marker, "value": row.value, "unit": row.unit,
            "censored": row.censored, "ref_low": row.ref_low, "ref_high": row.ref_high,
            "assay": row.assay, "effective": row.effective, "specimen": row.specimen,
            "interpretation": row.interpretation}


def patient_bundle(db: Session, store: FileStore, who: Principal, patient_id: int,
                   base: str) -> dict[str, Any]:
    """Return the patient's record as one FHIR ``Bundle`` (type ``collection``) to download.

    ``base`` is the server's FHIR base URL: each entry's ``fullUrl`` is
    ``base/Type/id``, against which the ``Type/id`` references resolve.  The
    export is audited as ``patient.export_fhir``.
    """
    found = patient_resources(db, store, who, patient_id, action="patient.export_fhir")
    return {"resourceType": "Bundle", "type": "collection",
            "timestamp": _utc(dt.datetime.now(dt.UTC).replace(tzinfo=None)),
            "entry": [{"fullUrl": f"{base}/{r['resourceType']}/{r['id']}", "resource": r}
                      for r in found.all()]}
