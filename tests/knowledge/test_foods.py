"""The shipped food catalogue: schema, sources, spot checks, free-text matching, clinic foods."""

from __future__ import annotations

import textwrap
from importlib import resources

import pytest
import yaml

from gutaxis.exceptions import FormatError, NotFoundError, ValidationError
from gutaxis.knowledge import Food, FoodCatalog, GroupMembership, load_food_catalog

ELIMINATION = {"gluten", "dairy", "egg", "soy", "corn", "nuts", "peanuts", "shellfish",
               "nightshades", "alcohol", "caffeine"}
FODMAP = {"fructans", "gos", "lactose", "excess_fructose", "polyols", "sorbitol", "mannitol"}


@pytest.fixture(scope="module")
def catalog() -> FoodCatalog:
    return load_food_catalog()


def _raw() -> dict:
    text = resources.files("gutaxis.knowledge").joinpath("foods.yaml").read_text("utf-8")
    return yaml.safe_load(text)


# ---------------------------------------------------------------- the shipped file
def test_the_shipped_file_validates_and_holds_the_groups_asked_for(catalog):
    assert 80 <= len(catalog.foods) <= 150
    kinds = {g.id: g.kind for g in catalog.groups}
    assert {g for g, k in kinds.items() if k == "elimination"} == ELIMINATION
    assert {g for g, k in kinds.items() if k == "fodmap"} == FODMAP
    assert catalog.group("lactose").subgroup_of == "dairy"
    assert catalog.group("sorbitol").subgroup_of == "polyols"
    assert catalog.group("mannitol").subgroup_of == "polyols"
    for group in catalog.groups:
        assert group.description and group.sources


def test_every_membership_has_a_source_or_says_no_open_source_settled_it(catalog):
    unconfirmed = 0
    for food in catalog.foods:
        for membership in food.groups:
            if membership.not_in_open_source:
                unconfirmed += 1
                assert not membership.sources and membership.note, food.id
            else:
                assert membership.sources, (food.id, membership.group)
                for source in membership.sources:
                    assert source.doi or source.pmid or source.url, source.citation
    assert unconfirmed > 0  # the open questions are kept, not guessed away


def test_every_source_of_the_bibliography_is_used():
    raw = _raw()
    used = {key for g in raw["groups"] for key in g["sources"]}
    used |= {key for f in raw["foods"] for m in f.get("groups", [])
             for key in [*m.get("sources", []), *m.get("consulted", [])]}
    assert used == set(raw["sources"])


def test_every_food_in_a_subgroup_is_in_its_parent_as_firmly(catalog):
    for food in catalog.foods:
        for membership in food.groups:
            parent = catalog.group(membership.group).subgroup_of
            if parent:
                above = food.membership(parent)
                assert above is not None, (food.id, membership.group)
                assert above.confirmed or not membership.confirmed, food.id


@pytest.mark.parametrize(("food", "groups"), [
    ("wheat_bread", {"gluten", "fructans"}),
    ("garlic", {"fructans"}),
    ("milk", {"dairy", "lactose"}),
    ("apple", {"excess_fructose", "polyols", "sorbitol"}),
    ("mushrooms", {"polyols", "mannitol"}),
    ("lentils", {"gos"}),
    ("tomato", {"nightshades"}),
    ("coffee", {"caffeine"}),
    ("rye_bread", {"gluten", "fructans", "polyols", "mannitol"}),
    ("beer", {"gluten", "alcohol"}),
    ("high_fructose_corn_syrup", {"corn", "excess_fructose"}),
    ("lactose_free_milk", {"dairy"}),
    ("sweet_potato", set()),
    ("almond_milk", {"nuts"}),
    ("rice", set()),
])
def test_spot_checks_read_as_the_sources_say(catalog, food, groups):
    assert catalog.groups_of(food) == groups


def test_the_sources_behind_the_spot_checks(catalog):
    def keys(food, group):
        return {s.citation.split(".")[0] for s in catalog.food(food).membership(group).sources}

    assert any("1169/2011" in k for k in keys("wheat_bread", "gluten"))
    assert {s.doi for s in catalog.food("garlic").membership("fructans").sources} >= {
        "10.1177/15598276211012968"}
    assert {s.doi for s in catalog.food("lentils").membership("gos").sources} == {
        "10.1177/15598276211012968"}
    assert {s.doi for s in catalog.food("apple").membership("excess_fructose").sources} == {
        "10.1097/MOG.0000000000000608", "10.1177/15598276211012968"}
    mannitol = catalog.food("mushrooms").membership("mannitol")
    assert "Agaricus bisporus" in mannitol.sources[0].citation
    assert "Solanaceae" in catalog.food("tomato").membership("nightshades").sources[0].citation
    caffeine = catalog.food("coffee").membership("caffeine")
    assert caffeine.sources[0].doi == "10.2903/j.efsa.2015.4102"


def test_oats_carry_what_the_codex_standard_says_about_them(catalog):
    oats = catalog.food("oats").membership("gluten")
    assert oats.confirmed
    assert "most, but not all" in oats.note and "contamination" in oats.note
    assert any("CXS 118-1979" in s.citation for s in oats.sources)


def test_unconfirmed_memberships_are_left_out_unless_asked_for(catalog):
    assert catalog.groups_of("cauliflower") == set()
    assert catalog.groups_of("cauliflower", include_unconfirmed=True) == {"polyols", "mannitol"}
    assert "hard_cheese" not in {f.id for f in catalog.foods_in("lactose")}
    assert "hard_cheese" in {f.id for f in catalog.foods_in("lactose", include_unconfirmed=True)}
    assert catalog.food("hard_cheese").membership("lactose").note.startswith("The sources read")


def test_foods_in_a_group_keep_the_catalogue_order(catalog):
    assert [f.id for f in catalog.foods_in("peanuts")] == ["peanuts", "peanut_butter"]
    assert {f.id for f in catalog.foods_in("shellfish")} >= {"shrimp", "crab", "mussels", "squid"}
    assert "sweet_potato" not in {f.id for f in catalog.foods_in("nightshades")}


def test_unknown_ids_are_named_with_suggestions(catalog):
    with pytest.raises(NotFoundError, match=r"food group.*'glutn'.*did you mean 'gluten'"):
        catalog.foods_in("glutn")
    with pytest.raises(NotFoundError, match=r"food.*'wheat_bred'.*wheat_bread"):
        catalog.groups_of("wheat_bred")


# ---------------------------------------------------------------- free text
@pytest.mark.parametrize(("text", "expected"), [
    ("2 slices of wheat toast", ["wheat_bread"]),
    ("Toast", ["wheat_bread"]),
    ("peanut butter", ["peanut_butter"]),                # not butter as well
    ("toast with peanut butter", ["peanut_butter", "wheat_bread"]),  # longest match first
    ("rice and lentils", ["rice", "lentils"]),           # then in the order written
    ("Tomatoes & POTATOES", ["tomato", "potato"]),       # case and plurals
    ("a bowl of cherries", ["cherry"]),
    ("almond milk", ["almond_milk"]),
    ("sweet potato", ["sweet_potato"]),
    ("Œufs brouillés", ["egg"]),                         # accents and ligatures
    ("soy sauce", ["soy_sauce"]),
    ("green tea", ["tea"]),
    ("peppermint tea", ["herbal_tea"]),
    ("a walk in the park", []),
    ("", []),
])
def test_match_maps_free_text_to_foods(catalog, text, expected):
    assert [f.id for f in catalog.match(text)] == expected


@pytest.mark.parametrize("text", ["Café au lait", "cafe au lait", "CAFÉ AU LAIT"])
def test_a_phrase_listed_under_two_foods_names_both(catalog, text):
    assert {f.id for f in catalog.match(text)} == {"coffee", "milk"}


# ---------------------------------------------------------------- clinic foods
def test_a_clinic_adds_foods_without_changing_the_shipped_catalogue(catalog):
    extra = [
        Food(id="einkorn_bread", name="Einkorn bread",
             groups=[GroupMembership(group="gluten",
                                     sources=[catalog.sources["codex_cxs_118_1979"]])]),
        {"id": "house_kombucha", "name": "House kombucha", "aliases": ["kombucha"]},
        {"id": "sheep_yoghurt", "name": "Sheep yoghurt", "groups": [
            {"group": "dairy", "sources": ["eu_1169_2011_annex_ii"]},
            {"group": "lactose", "not_in_open_source": True,
             "note": "not measured by the clinic"}]},
    ]
    mine = catalog.with_foods(extra)
    assert len(mine.foods) == len(catalog.foods) + 3
    assert mine.groups_of("einkorn_bread") == {"gluten"}
    assert [f.id for f in mine.match("kombucha")] == ["house_kombucha"]
    assert mine.groups_of("sheep_yoghurt", include_unconfirmed=True) == {"dairy", "lactose"}
    with pytest.raises(NotFoundError):
        catalog.food("einkorn_bread")


@pytest.mark.parametrize(("extra", "message"), [
    ([{"id": "x_bread", "name": "X bread", "groups": [{"group": "glutn", "sources": [
        "codex_cxs_118_1979"]}]}],
     r"food 'x_bread': group 'glutn' is not a group of the catalogue; did you mean 'gluten'\?"),
    ([{"id": "milk", "name": "Clinic milk"}], r"food id 'milk' is used twice"),
    ([{"id": "a_b", "name": "A b"}, {"id": "a_b", "name": "A c"}], r"food id 'a_b' is used twice"),
    ([{"id": "new_milk", "name": "Milk"}], r"its name 'Milk' is already the name of 'milk'"),
    ([{"id": "kefir2", "name": "Goat kefir", "groups": [{"group": "lactose", "sources": [
        "eu_1169_2011_annex_ii"]}]}],
     r"it is in 'lactose', a subgroup of 'dairy', so it must be in 'dairy' too"),
    ([{"id": "kefir2", "name": "Goat kefir", "groups": [{"group": "dairy"}]}],
     r"extra\[0\]\.groups\.0: Value error, group 'dairy': needs at least one source"),
    ([{"id": "kefir2", "name": "Goat kefir", "groups": [{"group": "dairy", "sources": [
        "eu_1169"]}]}], r"extra\[0\]: groups\.0\.sources\.0: unknown source key 'eu_1169'"),
    ([{"id": "Bad Id", "name": "Bad"}], r"extra\[0\]\.id: String should match pattern"),
    ([42], r"extra\[0\] must be a Food or a mapping; got int"),
    ({"id": "x"}, r"extra must be a list of foods; got dict"),
    ("milk", r"extra must be a list of foods; got str"),
])
def test_a_bad_clinic_food_is_refused_clearly(catalog, extra, message):
    with pytest.raises(ValidationError, match=message):
        catalog.with_foods(extra)


# ---------------------------------------------------------------- bad files
_FILE = """\
    schema_version: SCHEMA
    version: test
    disclaimer: Amounts vary; labels and the practitioner come first.
    sources:
      eu: {citation: Regulation (EU) No 1169/2011 Annex II,
           url: "https://eur-lex.europa.eu/eli/reg/2011/1169/oj"}
    groups:
      - {id: dairy, name: Dairy, kind: elimination, description: milk and foods made from milk,
         sources: [eu]}
      - {id: lactose, name: Lactose, kind: KIND, subgroup_of: PARENT,
         description: the sugar in milk here, sources: [eu]}
    foods:
      - id: milk
        name: Milk
        groups:
          - MEMBERSHIP
          - {group: lactose, sources: [eu]}
      - {id: FOOD2, name: Yoghurt}
"""
_OK = {"SCHEMA": "1", "KIND": "fodmap", "PARENT": "dairy", "FOOD2": "yoghurt",
       "MEMBERSHIP": "{group: dairy, sources: [eu]}"}


def _write(tmp_path, **changes):
    text = textwrap.dedent(_FILE)
    for key, value in {**_OK, **changes}.items():
        text = text.replace(key, value)
    path = tmp_path / "foods.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_valid_custom_file_loads(tmp_path):
    catalog = load_food_catalog(_write(tmp_path))
    assert catalog.groups_of("milk") == {"dairy", "lactose"}
    assert catalog.food("milk").membership("dairy").sources[0].url.startswith("https://eur-lex")


@pytest.mark.parametrize(("changes", "message"), [
    ({"SCHEMA": "2"}, r"schema_version 2 is not supported \(expected 1\)"),
    ({"KIND": "allergen"}, r"field groups\.1\.kind: Input should be 'elimination' or 'fodmap'"),
    ({"PARENT": "milk_things"}, r"group 'lactose': subgroup_of 'milk_things' is not another group"),
    ({"MEMBERSHIP": "{group: dairy}"},
     r"field foods\.0\.groups\.0: Value error, group 'dairy': needs at least one source, or "
     r"not_in_open_source: true with a note"),
    ({"MEMBERSHIP": "{group: dairy, not_in_open_source: true}"},
     r"field foods\.0\.groups\.0: .*not_in_open_source needs a note"),
    ({"MEMBERSHIP": "{group: dairy, not_in_open_source: true, note: none found anywhere, "
                    "sources: [eu]}"},
     r"field foods\.0\.groups\.0: .*so no sources may be given"),
    ({"MEMBERSHIP": "{group: dairy, sources: [eu], consulted: [eu]}"},
     r"field foods\.0\.groups\.0: .*consulted is for memberships no open source settled"),
    ({"MEMBERSHIP": "{group: dairy, not_in_open_source: true, note: none found anywhere, "
                    "consulted: [eux]}"},
     r"foods\.0\.groups\.0\.consulted\.0: unknown source key 'eux'"),
    ({"MEMBERSHIP": "{group: dairy, sources: [ue]}"},
     r"foods\.0\.groups\.0\.sources\.0: unknown source key 'ue'"),
    ({"MEMBERSHIP": "{group: daily, sources: [eu]}"},
     r"food 'milk': group 'daily' is not a group of the catalogue; did you mean 'dairy'\?"),
    ({"MEMBERSHIP": "{group: lactose, sources: [eu]}"}, r"group\(s\) \['lactose'\] listed twice"),
    ({"FOOD2": "milk"}, r"food id 'milk' is used twice"),
    ({"MEMBERSHIP": "{group: dairy, sources: [eu], colour: white}"},
     r"field foods\.0\.groups\.0\.colour: Extra inputs are not permitted"),
])
def test_a_broken_file_is_refused_naming_the_field(tmp_path, changes, message):
    with pytest.raises(FormatError, match=message):
        load_food_catalog(_write(tmp_path, **changes))


def test_a_missing_or_non_yaml_file_is_a_format_error(tmp_path):
    with pytest.raises(FormatError,
                       match=r"cannot read the file.*schema of gutaxis/knowledge/foods"):
        load_food_catalog(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("groups: [unclosed", encoding="utf-8")
    with pytest.raises(FormatError, match=r"bad\.yaml: not valid YAML"):
        load_food_catalog(bad)
