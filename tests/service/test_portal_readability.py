"""Patient-facing text reads at about a 6th–8th-grade level (Flesch–Kincaid), page by page.

The portal's pages are rendered for a patient with a diary, a plan item and a
finished food-test protocol (so that the results' wording is there too); the
text of each page's ``<main>`` is graded.  The figures are printed (``-s``) and
reported in docs/practitioner-guide.md.  Texts that come from elsewhere — the
"For you" part of a profile (its own tests) and the practitioner's own words —
are not the portal's and are graded where they are written.
"""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient

from builders.portal import patient_account
from builders.practice import make_user
from builders.readability import flesch_kincaid_grade, page_sentences
from gutaxis.service.context import AppContext
from gutaxis.service.services import diary, plans, protocols

#: The aim of the issue: about a 6th–8th-grade reading level.
MAX_GRADE = 8.0
PAGES = ("/portal", "/portal/diary", "/portal/diary/new?kind=meal",
         "/portal/diary/new?kind=symptoms", "/portal/diary/new?kind=stool", "/portal/visits",
         "/portal/plan", "/portal/tests", "/portal/timeline")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_portals_pages_read_at_a_6th_to_8th_grade_level(client: TestClient,
                                                             ctx: AppContext) -> None:
    staff = make_user(ctx, "Clinic A", "pia@a.example", "practitioner")
    ana = patient_account(ctx, staff, "ana@mail.example", name="Ana Alder",
                          symptoms=("Bloating", "Tummy pain"))
    start = dt.date.today() - dt.timedelta(days=40)
    with ctx.transaction() as db:
        protocols.create_protocol(db, staff, ana.patient_id, {
            "groups": ["fructans"], "elimination_days": 14, "shams": 1,
            "elimination_start": start.isoformat()})
        plans.add_own(db, staff, ana.patient_id, "Walk after dinner", "rebalance")
        for d in range(41):
            at = dt.datetime.combine(start + dt.timedelta(days=d), dt.time(20))
            diary.add_entry(db, ana.principal, "symptoms",
                            {"scores": {"Bloating": 3 + (d % 3), "Tummy pain": 2}}, at=at)
        diary.add_entry(db, ana.principal, "meal", {"text": "porridge", "portion": "usual"},
                        at=dt.datetime.combine(dt.date.today(), dt.time(8)))
    client.cookies.clear()
    grades = {}
    everything = []
    for path in PAGES:
        response = client.get(path, headers=ana.cookie)
        assert response.status_code == 200, (path, response.text[:300])
        text = page_sentences(response.text)
        everything.append(text)
        grades[path] = flesch_kincaid_grade(text)
    overall = flesch_kincaid_grade(" ".join(everything))
    print("Flesch-Kincaid grade of the portal's pages: "
          + ", ".join(f"{p} {g:.1f}" for p, g in grades.items()) + f"; all together {overall:.1f}")
    assert overall <= MAX_GRADE
    assert max(grades.values()) <= MAX_GRADE + 1.0, grades
