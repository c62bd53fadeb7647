"""Every audit row names its action (an erasure logged a blank row before its own)."""

from __future__ import annotations

from sqlalchemy import select

from builders.practice import bearer, make_user
from gutaxis.service.models import AuditEvent


def test_erasing_a_patient_logs_only_the_erasure(client, ctx):
    make_user(ctx, "Clinic A", "owner@a.example", "owner")
    auth = bearer(client, "owner@a.example")
    patient = client.post("/api/v1/patients", json={"name": "Ana Example"}, headers=auth)
    assert patient.status_code == 201
    pid = patient.json()["id"]
    with ctx.sessions() as db:
        before = db.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1))
    own = client.post(f"/api/v1/patients/{pid}/plan", headers=auth,
                      json={"title": "Low-FODMAP trial", "step": "remove"})
    assert own.status_code == 201, own.text
    assert client.delete(f"/api/v1/patients/{pid}", headers=auth).status_code == 204
    with ctx.sessions() as db:
        rows = db.execute(select(AuditEvent.action, AuditEvent.object_type,
                                 AuditEvent.object_id).where(AuditEvent.seq > before)
                          .order_by(AuditEvent.seq)).all()
    assert [tuple(r) for r in rows] == [("plan.add_own", "plan_item", "1"),
                                        ("patient.erase", "patient", str(pid))]
