"""A plan item's status history: dated changes that read forward in time."""

from __future__ import annotations

import datetime as dt

import pytest

from builders.practice import make_user
from gutaxis.service.context import AppContext
from gutaxis.service.errors import Invalid
from gutaxis.service.services import patients, plans


def test_a_change_may_not_be_dated_before_the_last_one_nor_before_birth(ctx: AppContext) -> None:
    staff = make_user(ctx, "Clinic A", "pia@a.example", "practitioner")
    with ctx.transaction() as db:
        patient = patients.create_patient(db, staff, {"name": "Hal Hazel",
                                                      "birth_date": "1970-06-01"})
        item = plans.add_own(db, staff, patient.id, "Walk daily")
        # earlier care may be recorded: the first change may go back before the adding
        plans.change_status(db, staff, item.id, "active", on="2024-01-15")
        plans.change_status(db, staff, item.id, "paused", on="2024-01-15")  # the same day
        with pytest.raises(Invalid, match=r"on: 2024-01-14 is before this item's last change "
                                          r"\(2024-01-15, paused\)"):
            plans.change_status(db, staff, item.id, "active", on="2024-01-14")
        plans.change_status(db, staff, item.id, "active", on="2024-02-01")
        db.refresh(item)
        assert [(e.status, e.on.isoformat()) for e in item.events][1:] == [
            ("active", "2024-01-15"), ("paused", "2024-01-15"), ("active", "2024-02-01")]
        other = plans.add_own(db, staff, patient.id, "Sleep earlier")
        with pytest.raises(Invalid, match=r"before the patient's date of birth \(1970-06-01\)"):
            plans.change_status(db, staff, other.id, "paused", on="1900-01-01")
        # nor in the future: a mistyped year would have held every later change back
        later = (dt.date.today() + dt.timedelta(days=300)).isoformat()
        with pytest.raises(Invalid, match=rf"on: {later} is in the future"):
            plans.change_status(db, staff, other.id, "active", on=later)
        db.refresh(other)
        assert other.status == "proposed" and len(other.events) == 1
