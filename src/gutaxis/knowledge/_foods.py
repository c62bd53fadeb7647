"""The food catalogue (``foods.yaml``): foods, the groups they belong to, and free-text matching.

Two kinds of group: the groups an elimination diet removes (gluten-containing
grains, dairy, egg, soy, corn, tree nuts, peanuts, shellfish, nightshades,
alcohol, caffeine) and the FODMAP subgroups a low-FODMAP reintroduction tests
(fructans, GOS, lactose, excess fructose, and the polyols sorbitol and
mannitol).  A group may sit inside another (``subgroup_of``): lactose inside
dairy, sorbitol and mannitol inside polyols; a food listed in a subgroup must
then be listed in its parent too, so that removing dairy also removes every
lactose food.

Each membership of a food in a group carries its sources, or says that no open
source settled it (``not_in_open_source: true`` with a note) — such a
membership is *unconfirmed*: it is kept so that a practitioner sees the open
question, and it is left out of :meth:`FoodCatalog.groups_of` and
:meth:`FoodCatalog.foods_in` unless asked for.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import pydantic

from gutaxis.exceptions import NotFoundError, ValidationError, suggest
from gutaxis.knowledge._loading import load_model
from gutaxis.knowledge._markers import Source

__all__ = ["FoodGroup", "GroupMembership", "Food", "FoodCatalog", "load_food_catalog",
           "normalise_food_text"]

_SCHEMA_VERSION = 1
_ID = r"^[a-z][a-z0-9_]*$"


#: Letters NFKD does not split into a base letter and a mark.
_LIGATURES = str.maketrans({"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O",
                            "ß": "ss", "ł": "l", "Ł": "L"})


def _stem(token: str) -> str:
    """Fold a plural into its singular, crudely but the same way on both sides of a match."""
    if len(token) > 4 and token.endswith("ies"):
        return token[:-3] + "y"                     # cherries → cherry
    if len(token) > 4 and token.endswith(("oes", "ches", "shes", "xes", "sses")):
        return token[:-2]                           # tomatoes → tomato, peaches → peach
    if len(token) > 3 and token.endswith("s") and not token.endswith(("ss", "us", "is")):
        return token[:-1]                           # apples → apple; hummus, couscous kept
    return token


def normalise_food_text(text: str) -> tuple[str, ...]:
    """Split ``text`` into the words food names are matched on.

    Accents are dropped, case is folded, anything that is not a letter or a
    digit separates words, and plurals are folded to the singular.

    Examples
    --------
    >>> normalise_food_text("Café au lait, 2 Tomatoes!")
    ('cafe', 'au', 'lait', '2', 'tomato')
    """
    decomposed = unicodedata.normalize("NFKD", str(text).translate(_LIGATURES))
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    return tuple(_stem(word) for word in re.split(r"[^0-9a-z]+", plain) if word)


class _Frozen(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)


class FoodGroup(_Frozen):
    """A group of foods removed together (fields described at the top of ``foods.yaml``)."""

    id: str = pydantic.Field(pattern=_ID)
    name: str = pydantic.Field(min_length=2)
    kind: Literal["elimination", "fodmap"]
    subgroup_of: str | None = None
    description: str = pydantic.Field(min_length=20)
    sources: list[Source] = pydantic.Field(min_length=1)


class GroupMembership(_Frozen):
    """A food's place in one group, with the sources that put it there.

    Either ``sources`` names at least one source, or ``not_in_open_source`` is
    true and ``note`` says what was looked for and not found (then there are
    no sources; ``consulted`` may name what was read without settling it, such
    as a secondary list).  ``note`` may also qualify a sourced membership
    (portion, processing, variety).
    """

    group: str = pydantic.Field(pattern=_ID)
    sources: list[Source] = []
    not_in_open_source: bool = False
    note: str | None = None
    consulted: list[Source] = []

    @pydantic.model_validator(mode="after")
    def _sourced_or_said_so(self) -> GroupMembership:
        if self.not_in_open_source:
            if self.sources:
                raise ValueError(f"group {self.group!r}: not_in_open_source is true, so no "
                                 "sources may be given")
            if not self.note or len(self.note.strip()) < 10:
                raise ValueError(f"group {self.group!r}: not_in_open_source needs a note saying "
                                 "what was looked for")
        elif not self.sources:
            raise ValueError(f"group {self.group!r}: needs at least one source, or "
                             "not_in_open_source: true with a note")
        elif self.consulted:
            raise ValueError(f"group {self.group!r}: consulted is for memberships no open "
                             "source settled; list a source that supports it under sources")
        return self

    @property
    def confirmed(self) -> bool:
        """Whether an open source supports the membership."""
        return not self.not_in_open_source


class Food(_Frozen):
    """One food: its id, display name, the other names it goes by, and its groups."""

    id: str = pydantic.Field(pattern=_ID)
    name: str = pydantic.Field(min_length=2)
    aliases: list[str] = []
    groups: list[GroupMembership] = []
    note: str | None = None

    @pydantic.model_validator(mode="after")
    def _check(self) -> Food:
        for alias in [self.name, *self.aliases]:
            if not normalise_food_text(alias):
                raise ValueError(f"food {self.id!r}: name or alias {alias!r} has no letters or "
                                 "digits to match on")
        seen = [m.group for m in self.groups]
        twice = sorted({g for g in seen if seen.count(g) > 1})
        if twice:
            raise ValueError(f"food {self.id!r}: group(s) {twice} listed twice")
        return self

    def membership(self, group_id: str) -> GroupMembership | None:
        """Return this food's membership in ``group_id``, or ``None``."""
        return next((m for m in self.groups if m.group == group_id), None)


def _resolve_sources(value: Any, bibliography: Mapping[str, Any], where: str,
                     field: str = "sources") -> Any:
    """Replace bibliography keys (``eu_1169_2011``) by the sources they name."""
    if not isinstance(value, list):
        return value
    resolved = []
    for i, item in enumerate(value):
        if isinstance(item, str):
            if item not in bibliography:
                hint = suggest(item, bibliography)
                raise ValueError(f"{where}.{field}.{i}: unknown source key {item!r}"
                                 + (f"; did you mean {hint[0]!r}?" if hint else "")
                                 + " (keys are defined under 'sources' at the top)")
            resolved.append(bibliography[item])
        else:
            resolved.append(item)
    return resolved


def _resolve_membership(membership: Any, bibliography: Mapping[str, Any], where: str) -> Any:
    """Resolve the keys of a membership's ``sources`` and ``consulted``."""
    if not isinstance(membership, Mapping):
        return membership
    resolved = dict(membership)
    for key in ("sources", "consulted"):
        if key in resolved:
            resolved[key] = _resolve_sources(resolved[key], bibliography, where, key)
    return resolved


class FoodCatalog(_Frozen):
    """The whole food file: a bibliography, the groups and the foods."""

    schema_version: int
    version: str
    disclaimer: str = pydantic.Field(min_length=20)
    sources: dict[str, Source] = pydantic.Field(min_length=1)
    groups: list[FoodGroup] = pydantic.Field(min_length=1)
    foods: list[Food]

    @pydantic.model_validator(mode="before")
    @classmethod
    def _keys_to_sources(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not isinstance(data.get("sources"), dict):
            return data
        bibliography = data["sources"]
        data = dict(data)
        if isinstance(data.get("groups"), list):
            data["groups"] = [
                {**g, "sources": _resolve_sources(g.get("sources"), bibliography, f"groups.{i}")}
                if isinstance(g, dict) else g for i, g in enumerate(data["groups"])]
        if isinstance(data.get("foods"), list):
            foods = []
            for i, food in enumerate(data["foods"]):
                if isinstance(food, dict) and isinstance(food.get("groups"), list):
                    food = {**food, "groups": [
                        _resolve_membership(m, bibliography, f"foods.{i}.groups.{j}")
                        for j, m in enumerate(food["groups"])]}
                foods.append(food)
            data["foods"] = foods
        return data

    @pydantic.model_validator(mode="after")
    def _check(self) -> FoodCatalog:
        if self.schema_version != _SCHEMA_VERSION:
            raise ValueError(f"schema_version {self.schema_version} is not supported "
                             f"(expected {_SCHEMA_VERSION})")
        ids = [g.id for g in self.groups]
        twice = sorted({g for g in ids if ids.count(g) > 1})
        if twice:
            raise ValueError(f"group id(s) {twice} used twice")
        by_id = {g.id: g for g in self.groups}
        for group in self.groups:
            parent = group.subgroup_of
            if parent is None:
                continue
            if parent not in by_id or parent == group.id:
                raise ValueError(f"group {group.id!r}: subgroup_of {parent!r} is not another "
                                 f"group of the file")
            if by_id[parent].subgroup_of is not None:
                raise ValueError(f"group {group.id!r}: its parent {parent!r} is itself a "
                                 "subgroup; one level only")
        _check_foods(self.foods, by_id)
        return self

    # ---------------------------------------------------------------- lookups
    def group(self, group_id: str) -> FoodGroup:
        """Return the group with this id.

        Raises
        ------
        NotFoundError
            No such group (the message suggests close ids and lists them).
        """
        for group in self.groups:
            if group.id == group_id:
                return group
        raise NotFoundError("food group", [str(group_id)], "the food catalogue",
                            available=[g.id for g in self.groups])

    def food(self, food_id: str) -> Food:
        """Return the food with this id.

        Raises
        ------
        NotFoundError
            No such food.
        """
        for food in self.foods:
            if food.id == food_id:
                return food
        raise NotFoundError("food", [str(food_id)], "the food catalogue",
                            available=[f.id for f in self.foods])

    def groups_of(self, food_id: str, *, include_unconfirmed: bool = False) -> set[str]:
        """Return the ids of the groups a food belongs to.

        Parameters
        ----------
        food_id : str
        include_unconfirmed : bool, default False
            Also return the memberships no open source settled
            (``not_in_open_source``).

        Returns
        -------
        set of str

        Raises
        ------
        NotFoundError
            No such food.

        Examples
        --------
        >>> sorted(load_food_catalog().groups_of("milk"))
        ['dairy', 'lactose']
        """
        food = self.food(food_id)
        return {m.group for m in food.groups if m.confirmed or include_unconfirmed}

    def foods_in(self, group_id: str, *, include_unconfirmed: bool = False) -> list[Food]:
        """Return the foods of a group, in the catalogue's order.

        Parameters
        ----------
        group_id : str
        include_unconfirmed : bool, default False
            Also return foods whose membership no open source settled.

        Raises
        ------
        NotFoundError
            No such group.

        Examples
        --------
        >>> [f.id for f in load_food_catalog().foods_in("peanuts")]
        ['peanuts', 'peanut_butter']
        """
        self.group(group_id)
        return [f for f in self.foods
                if (m := f.membership(group_id)) is not None
                and (m.confirmed or include_unconfirmed)]

    # ---------------------------------------------------------------- free text
    def match(self, text: str) -> list[Food]:
        """Map free text to the foods it names, best match first.

        The text and every food's name and aliases are compared as words
        (:func:`normalise_food_text`: accents and case ignored, plurals folded).
        A name matches where its words appear together in the text.  Longer
        names win: once a stretch of words is taken by a match, a shorter name
        inside it does not match as well ("peanut butter" is peanut butter, not
        butter).  A phrase listed under several foods names all of them
        ("café au lait" is coffee and milk).  The foods come longest match
        first, then in the order they appear in the text.

        Parameters
        ----------
        text : str
            What the patient wrote ("2 slices of wheat toast").

        Returns
        -------
        list of Food
            Empty when nothing matches.

        Examples
        --------
        >>> catalog = load_food_catalog()
        >>> [f.id for f in catalog.match("2 slices of wheat toast")]
        ['wheat_bread']
        >>> sorted(f.id for f in catalog.match("Café au lait"))
        ['coffee', 'milk']
        >>> catalog.match("a walk in the park")
        []
        """
        words = normalise_food_text(text if isinstance(text, str) else str(text))
        candidates: list[tuple[int, int, int, str]] = []  # (-length, start, order, food id)
        for order, food in enumerate(self.foods):
            phrases = {normalise_food_text(p) for p in [food.name, *food.aliases]}
            for phrase in phrases:
                size = len(phrase)
                for start in range(len(words) - size + 1):
                    if words[start:start + size] == phrase:
                        candidates.append((-size, start, order, food.id))
        taken: list[tuple[int, int]] = []
        chosen: list[str] = []
        for neg_size, start, _order, food_id in sorted(candidates):
            span = (start, start - neg_size)
            clash = any(span != t and span[0] < t[1] and t[0] < span[1] for t in taken)
            if clash:
                continue
            taken.append(span)
            if food_id not in chosen:
                chosen.append(food_id)
        return [self.food(food_id) for food_id in chosen]

    # ---------------------------------------------------------------- clinic foods
    def with_foods(self, extra: Sequence[Food | Mapping[str, Any]]) -> FoodCatalog:
        """Return a catalogue with a clinic's own foods added after the shipped ones.

        Parameters
        ----------
        extra : sequence of Food or mapping
            The foods to add; a mapping is read as a :class:`Food` (its
            memberships' ``sources`` may name keys of this catalogue's
            bibliography).

        Returns
        -------
        FoodCatalog
            A new catalogue; this one is unchanged.

        Raises
        ------
        ValidationError
            ``extra`` is not a list of foods; a food breaks the schema (the
            message names the field); an id or name already in the catalogue
            (or twice in ``extra``); a group the catalogue does not have (the
            message suggests close ids); a subgroup without its parent group.

        Examples
        --------
        >>> catalog = load_food_catalog()
        >>> mine = catalog.with_foods([{"id": "spelt_sourdough", "name": "Spelt sourdough",
        ...     "groups": [{"group": "gluten", "sources": ["eu_1169_2011_annex_ii"]}]}])
        >>> "spelt_sourdough" in {f.id for f in mine.foods_in("gluten")}
        True
        """
        if isinstance(extra, str | bytes | Mapping) or not isinstance(extra, Sequence):
            raise ValidationError(f"extra must be a list of foods; got {type(extra).__name__}")
        added: list[Food] = []
        for i, item in enumerate(extra):
            if isinstance(item, Food):
                added.append(item)
                continue
            if not isinstance(item, Mapping):
                raise ValidationError(f"extra[{i}] must be a Food or a mapping; got "
                                      f"{type(item).__name__}")
            raw = dict(item)
            if isinstance(raw.get("groups"), list):
                try:
                    raw["groups"] = [_resolve_membership(m, self.sources, f"groups.{j}")
                                     for j, m in enumerate(raw["groups"])]
                except ValueError as exc:
                    raise ValidationError(f"extra[{i}]: {exc}") from None
            try:
                added.append(Food.model_validate(raw))
            except pydantic.ValidationError as exc:
                first = exc.errors()[0]
                loc = ".".join(str(p) for p in first["loc"])
                raise ValidationError(f"extra[{i}]" + (f".{loc}" if loc else "")
                                      + f": {first['msg']}") from None
        by_id = {g.id: g for g in self.groups}
        try:
            _check_foods([*self.foods, *added], by_id)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
        return self.model_copy(update={"foods": [*self.foods, *added]})


def _check_foods(foods: Sequence[Food], groups: Mapping[str, FoodGroup]) -> None:
    """Check ids and names are unique and memberships name known groups (ValueError if not)."""
    ids: set[str] = set()
    names: dict[tuple[str, ...], str] = {}
    for food in foods:
        if food.id in ids:
            raise ValueError(f"food id {food.id!r} is used twice")
        ids.add(food.id)
        key = normalise_food_text(food.name)
        if key in names:
            raise ValueError(f"food {food.id!r}: its name {food.name!r} is already the name of "
                             f"{names[key]!r}")
        names[key] = food.id
        for m in food.groups:
            if m.group not in groups:
                hint = suggest(m.group, groups)
                raise ValueError(f"food {food.id!r}: group {m.group!r} is not a group of the "
                                 "catalogue" + (f"; did you mean {hint[0]!r}?" if hint else "")
                                 + f" (groups: {', '.join(groups)})")
            parent = groups[m.group].subgroup_of
            if parent is None:
                continue
            above = food.membership(parent)
            if above is None or (m.confirmed and not above.confirmed):
                raise ValueError(f"food {food.id!r}: it is in {m.group!r}, a subgroup of "
                                 f"{parent!r}, so it must be in {parent!r} too"
                                 + (" (and as firmly)" if above is not None else ""))


def load_food_catalog(path: str | Path | None = None) -> FoodCatalog:
    """Load the food catalogue: the bundled one, or a file in the same schema.

    Parameters
    ----------
    path : path, optional
        A YAML file in the ``foods.yaml`` schema; by default the catalogue
        shipped with gutaxis.

    Returns
    -------
    FoodCatalog

    Raises
    ------
    InputError
        ``path`` is not a path at all.
    FormatError
        The file cannot be read or is not UTF-8 text; not YAML, or an entry
        that breaks the schema (the message names the field).

    Examples
    --------
    >>> catalog = load_food_catalog()
    >>> sorted(catalog.groups_of("wheat_bread"))
    ['fructans', 'gluten']
    """
    return load_model(FoodCatalog, "foods.yaml", path)
