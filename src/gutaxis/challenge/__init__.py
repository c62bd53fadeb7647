"""Diary and challenge statistics: per-challenge verdicts with uncertainty, diary suspects.

A library (and the ``gutaxis challenge verdicts`` command) used by the
patient portal; the method is written up in ``docs/challenge-statistics.md``.

Reading
    :func:`read_diary`, :func:`read_challenges`, :func:`diary_from_rows`,
    :func:`challenges_from_steps`, :class:`Diary`, :class:`Challenge`,
    :class:`ChallengeStep`, :data:`KINDS`, :data:`PORTIONS`; writing:
    :func:`diary_csv`, :func:`challenges_csv`.
Verdicts (one challenge at a time, against the patient's own baseline or sham)
    :func:`challenge_verdicts`, :class:`VerdictOptions`, :class:`Verdict`,
    :data:`LIKELY_TRIGGER`, :data:`LIKELY_TOLERATED`, :data:`INCONCLUSIVE`.
Suspects (the diary alone, false-discovery-rate control)
    :func:`diary_suspects`, :class:`SuspectOptions`, :class:`SuspectReport`,
    :class:`SuspectTest`.
Protocols (the calendar of elimination and one-at-a-time challenges)
    :class:`ProtocolSpec`, :func:`build_calendar`, :class:`Calendar`,
    :class:`CalendarChallenge`, :func:`back_at_baseline`, :func:`challenge_order`.
Validation
    :mod:`gutaxis.challenge.simulate` (diaries with known truth) and
    :mod:`gutaxis.challenge.naive` (the days-with-versus-without method apps use).

Every name is imported on first use (the command line starts without scipy).
"""

from gutaxis.lazy import lazy_attributes as _lazy_attributes

#: Days after a challenge modelled as carry-over, by default.
DEFAULT_CARRYOVER_DAYS = 3

__all__ = [
    "KINDS", "PORTIONS", "Challenge", "ChallengeStep", "Diary", "challenges_from_steps",
    "diary_from_rows", "read_challenges", "read_diary", "diary_csv", "challenges_csv",
    "INCONCLUSIVE", "LIKELY_TOLERATED", "LIKELY_TRIGGER", "Verdict", "VerdictOptions",
    "challenge_verdicts", "diary_suspects", "SuspectOptions", "SuspectReport", "SuspectTest",
    "DEFAULT_CARRYOVER_DAYS",
    "ProtocolSpec", "build_calendar", "Calendar", "CalendarChallenge", "back_at_baseline",
    "challenge_order",
]

_LAZY = {name: "diary" for name in ("KINDS", "PORTIONS", "Challenge", "ChallengeStep", "Diary",
                                      "challenges_from_steps", "diary_from_rows",
                                      "read_challenges", "read_diary", "diary_csv",
                                      "challenges_csv")}
_LAZY.update({name: "verdicts" for name in ("INCONCLUSIVE", "LIKELY_TOLERATED", "LIKELY_TRIGGER",
                                            "Verdict", "VerdictOptions", "challenge_verdicts")})
_LAZY.update({name: "suspects" for name in ("diary_suspects", "SuspectOptions", "SuspectReport",
                                            "SuspectTest")})
_LAZY.update({name: "protocol" for name in ("ProtocolSpec", "build_calendar", "Calendar",
                                            "CalendarChallenge", "back_at_baseline",
                                            "challenge_order")})

__getattr__ = _lazy_attributes(__name__, _LAZY)
