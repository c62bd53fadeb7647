"""A clinic's own foods: added to the food catalogue of its patients' diaries.

The shipped catalogue (``gutaxis/knowledge/foods.yaml``) holds common foods
with a source for every group membership.  A practice adds what its patients
eat and the catalogue lacks (a local bread, a brand); each membership may
carry a source (a composition table or a label's URL).  One without a source
is kept as the practitioner's judgement: it is shown, but not used to group
a diary's foods for the statistics (as the shipped catalogue treats a
membership that no open source confirms).
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gutaxis.exceptions import GutaxisError
from gutaxis.knowledge import FoodCatalog, load_food_catalog
from gutaxis.service import audit
from gutaxis.service.access import Principal
from gutaxis.service.errors import Invalid, NotAllowed
from gutaxis.service.models import ClinicFood

__all__ = ["clinic_foods", "clinic_catalog", "add_clinic_food", "food_id_of"]


def food_id_of(name: str) -> str:
    """Return the id a clinic food gets from its name.

    Examples
    --------
    >>> food_id_of("Grandma's rye stew")
    'clinic_grandma_s_rye_stew'
    """
    slug = re.sub(r"[^a-z0-9]+", "_", name.casefold()).strip("_")
    return f"clinic_{slug}"[:80]


def _as_food(row: ClinicFood) -> dict[str, Any]:
    memberships = []
    for item in row.groups or []:
        source = str(item.get("source") or "").strip()
        if source:
            memberships.append({"group": item["group"], "sources": [
                {"citation": f"Given by the clinic for {row.name}", "url": source}]})
        else:
            memberships.append({"group": item["group"], "not_in_open_source": True,
                                "note": "added by the clinic without a source (the "
                                        "practitioner's judgement)"})
    return {"id": row.food_id, "name": row.name, "aliases": list(row.aliases or []),
            "groups": memberships, "note": row.note or None}


def clinic_foods(db: Session, clinic_id: int) -> list[ClinicFood]:
    """Return a clinic's own foods, oldest first."""
    return list(db.scalars(select(ClinicFood).where(ClinicFood.clinic_id == clinic_id)
                           .order_by(ClinicFood.id)))


def clinic_catalog(db: Session, clinic_id: int) -> FoodCatalog:
    """Return the shipped catalogue with the clinic's own foods added."""
    rows = clinic_foods(db, clinic_id)
    catalog = load_food_catalog()
    return catalog.with_foods([_as_food(r) for r in rows]) if rows else catalog


def add_clinic_food(db: Session, who: Principal, values: dict[str, Any]) -> ClinicFood:
    """Add a food to ``who``'s clinic's catalogue (practitioners and owners; audited).

    Parameters
    ----------
    values : dict
        ``name``; ``aliases`` (comma-separated text or a list); ``groups``
        (group ids); ``source`` (a URL backing the memberships, optional);
        ``note``.

    Raises
    ------
    Invalid
        No name, an unknown group, a name or id the catalogue already has (the
        message names the field).
    """
    if who.patient_id is not None:
        raise NotAllowed("a patient may not do this")
    name = " ".join(str(values.get("name") or "").split())[:200]
    if len(name) < 2:
        raise Invalid("name: give the food's name",
                      fields=[{"field": "name", "message": "required"}])
    raw_aliases = values.get("aliases") or []
    if isinstance(raw_aliases, str):
        raw_aliases = raw_aliases.split(",")
    aliases = [" ".join(str(a).split())[:200] for a in raw_aliases if str(a).strip()][:20]
    raw_groups = values.get("groups") or []
    groups = [raw_groups] if isinstance(raw_groups, str) else list(raw_groups)
    source = str(values.get("source") or "").strip()[:500]
    if source and not re.match(r"^https?://\S+$", source):
        raise Invalid("source: expected a web address (https://…)",
                      fields=[{"field": "source", "message": "a URL"}])
    row = ClinicFood(clinic_id=who.clinic_id, food_id=food_id_of(name), name=name,
                     aliases=aliases, groups=[{"group": str(g), "source": source}
                                              for g in dict.fromkeys(groups)],
                     note=str(values.get("note") or "")[:2000], created_by=who.user_id)
    try:  # the catalogue checks the groups and that the name and id are new
        clinic_catalog(db, who.clinic_id).with_foods([_as_food(row)])
    except GutaxisError as exc:
        message = str(exc)
        raise Invalid(message, fields=[{"field": "groups" if "group" in message else "name",
                                        "message": message}]) from None
    db.add(row)
    db.flush()
    audit.record(db, who.actor, "food.create", "clinic_food", row.id)
    return row
