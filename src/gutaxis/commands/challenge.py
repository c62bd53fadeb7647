"""``gutaxis challenge verdicts``: challenge verdicts and diary suspects from two CSV files."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from gutaxis.challenge import DEFAULT_CARRYOVER_DAYS
from gutaxis.checks import check_file, check_type
from gutaxis.exceptions import InputError, ValidationError
from gutaxis.outputs import check_output_folder, output_folder, write_json

if TYPE_CHECKING:  # the statistics (scipy) load in run_challenge, not with the command line
    from gutaxis.challenge.diary import Challenge, Diary
    from gutaxis.challenge.suspects import SuspectReport
    from gutaxis.challenge.verdicts import Verdict
    from gutaxis.knowledge import FoodCatalog

__all__ = ["ChallengeOptions", "ChallengeResult", "run_challenge", "CHALLENGE_FILES",
           "food_groups_of"]

#: What ``gutaxis challenge verdicts`` writes into its folder.
CHALLENGE_FILES = ("verdicts.json", "suspects.json")
#: Version of the ``suspects.json`` layout.
SUSPECTS_SCHEMA_VERSION = "1.0"


@dataclasses.dataclass(frozen=True, kw_only=True)
class ChallengeOptions:
    """What ``gutaxis challenge verdicts`` reads and how it judges.

    Parameters
    ----------
    diary : path
        ``DIARY.csv`` (:func:`gutaxis.challenge.read_diary`).
    challenges : path, optional
        ``CHALLENGES.csv`` (:func:`gutaxis.challenge.read_challenges`); without
        it only the diary suspects are computed.
    symptoms : tuple of str, optional
        The primary symptoms (all symptoms of the diary by default).
    carryover_days : int
        Days after each challenge modelled as carry-over.
    food_catalog : bool
        Test diary suspects by the food catalogue's groups (a food row naming
        a catalogue food or group counts for each group it belongs to);
        False tests each item as written.
    """

    OWNED: ClassVar[tuple[str, ...]] = CHALLENGE_FILES

    diary: Path
    challenges: Path | None = None
    symptoms: tuple[str, ...] = ()
    carryover_days: int = DEFAULT_CARRYOVER_DAYS
    food_catalog: bool = True

    def __post_init__(self) -> None:
        """Check that the paths name files and the numbers make sense."""
        if self.diary is None:
            raise InputError("DIARY: the diary is required (DIARY.csv: time,kind,item,value)")
        object.__setattr__(self, "diary", check_file(self.diary, "DIARY"))
        object.__setattr__(self, "challenges", check_file(self.challenges, "--challenges"))
        if self.carryover_days < 0:
            raise ValidationError(f"--carryover-days must be 0 or more; got "
                                  f"{self.carryover_days}")

    def _inputs(self) -> list[Path]:
        return [p for p in (self.diary, self.challenges) if p is not None]

    def check_output(self, folder: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Refuse ``folder`` now if writing there would be refused (before any work)."""
        return check_output_folder(folder, owned=self.OWNED, overwrite=overwrite,
                                   inputs=self._inputs(), what="the challenge results")


def food_groups_of(catalog: FoodCatalog) -> Callable[[str], set[str]]:
    """Return the mapping of a diary item to the names its exposure is tested under.

    A catalogue group id stands for itself; a catalogue food (by id, name
    or alias, :meth:`FoodCatalog.match`) counts for each group it belongs to
    with a source; anything else is tested as written.

    Examples
    --------
    >>> from gutaxis.knowledge import load_food_catalog
    >>> groups_of = food_groups_of(load_food_catalog())
    >>> sorted(groups_of("fructans")), sorted(groups_of("my aunt's stew"))
    (['fructans'], ["my aunt's stew"])
    """
    from gutaxis.knowledge import FoodCatalog

    check_type(catalog, FoodCatalog, "catalog", hint="load it with load_food_catalog")
    group_ids = {g.id for g in catalog.groups}

    def groups_of(item: str) -> set[str]:
        if item in group_ids:
            return {item}
        matches = catalog.match(item)
        if matches:
            groups = catalog.groups_of(matches[0].id)
            if groups:
                return set(groups)
        return {item}

    return groups_of


@dataclasses.dataclass(frozen=True)
class ChallengeResult:
    """The verdicts and the suspects (nothing is written until :meth:`write`)."""

    options: ChallengeOptions
    diary: Diary
    challenges: list[Challenge]
    verdicts: list[Verdict]
    suspects: SuspectReport

    def suspects_document(self) -> dict[str, Any]:
        """Return ``suspects.json``: the tests, the suspects and the gauge of enough days."""
        return {"schema_version": SUSPECTS_SCHEMA_VERSION, "diary": str(self.options.diary),
                **self.suspects.to_json()}

    def write(self, folder: str | os.PathLike[str], *, overwrite: bool = False
              ) -> dict[str, Path]:
        """Write ``verdicts.json`` (a list, per challenge and symptom) and ``suspects.json``.

        Returns
        -------
        dict of str to Path
            ``{"verdicts": …, "suspects": …}``.
        """
        with output_folder(folder, owned=self.options.OWNED, overwrite=overwrite,
                           inputs=self.options._inputs(), what="the challenge results") as out:
            return {"verdicts": write_json(out / "verdicts.json",
                                           [v.to_json() for v in self.verdicts]),
                    "suspects": write_json(out / "suspects.json", self.suspects_document())}


def _without_challenge_days(diary: Diary, challenges: list[Challenge]) -> Diary:
    """Return ``diary`` without the food rows eaten on challenge days."""
    if not challenges:
        return diary
    from gutaxis.challenge.diary import Diary as DiaryClass

    days = {c.start + dt.timedelta(days=i) for c in challenges for i in range(c.days)}
    entries = diary.entries
    on_challenge = entries["time"].dt.date.isin(days) & (entries["kind"] == "food")
    return DiaryClass(entries[~on_challenge].reset_index(drop=True), diary.source)


def run_challenge(options: ChallengeOptions) -> ChallengeResult:
    """Read the diary (and the challenges) and judge them.

    Returns
    -------
    ChallengeResult

    Raises
    ------
    InputError
        A bad file (the message names the file, line and field), a primary
        symptom the diary never scores.
    """
    from gutaxis.challenge.diary import read_challenges, read_diary
    from gutaxis.challenge.suspects import SuspectOptions, SuspectReport, diary_suspects
    from gutaxis.challenge.verdicts import VerdictOptions, challenge_verdicts
    from gutaxis.knowledge import load_food_catalog

    check_type(options, ChallengeOptions, "options")
    diary = read_diary(options.diary)
    challenges = read_challenges(options.challenges) if options.challenges else []
    symptoms = tuple(dict.fromkeys(options.symptoms)) or None
    verdicts = []
    if challenges:
        if all(c.sham for c in challenges):
            raise ValidationError(f"{options.challenges}: no food challenge to judge (only "
                                  "sham ones); add the food challenges the shams are "
                                  "compared with")
        verdicts = challenge_verdicts(diary, challenges, VerdictOptions(
            symptoms=symptoms, carryover_days=options.carryover_days))
    groups_of = food_groups_of(load_food_catalog()) if options.food_catalog else None
    # the challenge days' foods (the test foods, the capsules) are the verdicts' subject:
    # suspects come from the free-living days only
    free = _without_challenge_days(diary, challenges)
    if free.foods().empty:
        scored = diary.symptoms()["time"].dt.date.nunique()
        report = SuspectReport([], int(scored), SuspectOptions(symptoms=symptoms))
    else:
        report = diary_suspects(free, SuspectOptions(symptoms=symptoms), groups_of)
    return ChallengeResult(options, diary, challenges, verdicts, report)
