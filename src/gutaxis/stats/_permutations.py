"""Which relabellings a permutation test may draw when samples come from repeated subjects.

Samples of one person are not independent: a test that shuffles group labels
freely between samples treats 426 samples of 27 people as 426 people, and its
p-values are far too small (pseudo-replication, Hurlbert 1984).  With a
subject for every sample the labels are only exchanged as the design allows,
as vegan's ``permute`` package does with plots and blocks (Simpson 2022):

*whole subjects* (the tested factor is the same in all of a subject's
samples, e.g. a diagnosis)
    The subjects' labels are shuffled among the subjects and every sample
    takes its subject's new label.  Subjects may hold different numbers of
    samples: the group sizes (in samples) then change from one relabelling to
    the next, which the tests allow for.  (``permute``'s whole-plot
    permutation needs plots of one size; shuffling the labels of the plots
    rather than the plots themselves does not.)
*within subjects* (the factor changes inside every subject that has it in
more than one level, e.g. before/after a treatment)
    The labels are shuffled within each subject only, as ``adonis2(...,
    strata = subject)`` does.

A factor that is constant in some subjects and changes in others is refused:
neither scheme tests it as a whole.  So is a design whose distinct partitions
are so few that no p-value below 0.05 is possible (relabellings that only swap
the names of two equal groups give the same statistic and count once).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Literal

import numpy as np
import pandas as pd

from gutaxis.exceptions import InputError

__all__ = ["PermutationDesign", "permutation_design", "FREE"]

#: Fewer distinct relabellings than this cannot give p < 0.05.
_MIN_RELABELLINGS = 20

Kind = Literal["free", "whole subjects", "within subjects"]


@dataclasses.dataclass(frozen=True)
class PermutationDesign:
    """How a permutation test relabels the samples.

    Attributes
    ----------
    kind : {"free", "whole subjects", "within subjects"}
        See the module's description.
    subjects : numpy.ndarray or None
        Subject index of every sample (``None`` for ``"free"``).
    n_subjects : int or None
        Number of subjects.
    """

    kind: Kind
    subjects: np.ndarray | None = None
    n_subjects: int | None = None

    def describe(self) -> str:
        """One sentence for results and reports."""
        if self.kind == "free":
            return "labels permuted freely among the samples (every sample its own unit)"
        if self.kind == "whole subjects":
            return (f"whole subjects permuted: each of the {self.n_subjects} subjects keeps its "
                    "samples together and the group labels are shuffled among the subjects")
        return (f"labels permuted within each of the {self.n_subjects} subjects only "
                "(the subject as a block)")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record of the design."""
        return {"kind": self.kind, "n_subjects": self.n_subjects,
                "description": self.describe()}

    def relabel(self, codes: np.ndarray, rng: np.random.Generator, out: np.ndarray) -> None:
        """Write one random relabelling of ``codes`` into ``out`` (same length).

        The free design draws exactly ``rng.permutation(codes)`` (scikit-bio's
        stream, so that seeded p-values agree with it).
        """
        out[:] = codes
        if self.kind == "free":
            rng.shuffle(out)
            return
        assert self.subjects is not None
        if self.kind == "whole subjects":
            first = _first_sample(self.subjects, self.n_subjects or 0)
            subject_codes = codes[first]
            rng.shuffle(subject_codes)
            out[:] = subject_codes[self.subjects]
            return
        order = np.lexsort((rng.random(len(codes)), self.subjects))
        out[_by_subject(self.subjects)] = codes[order]


FREE = PermutationDesign("free")


def _first_sample(subjects: np.ndarray, n_subjects: int) -> np.ndarray:
    first = np.full(n_subjects, -1, dtype=np.intp)
    idx = np.arange(len(subjects))
    first[subjects[::-1]] = idx[::-1]
    return first


def _by_subject(subjects: np.ndarray) -> np.ndarray:
    return np.argsort(subjects, kind="stable")


def _aligned_subjects(ids: pd.Index, subjects: Any) -> np.ndarray:
    if isinstance(subjects, pd.Series):
        missing = ids.difference(subjects.index)
        if len(missing):
            shown = ", ".join(map(str, missing[:10])) + (" …" if len(missing) > 10 else "")
            raise InputError(f"{len(missing)} sample(s) have no subject: {shown}")
        values = subjects.reindex(ids)
    else:
        if len(subjects) != len(ids):
            raise InputError(f"subjects must give one subject per sample ({len(ids)}); "
                             f"got {len(subjects)}")
        values = pd.Series(list(subjects), index=ids)
    if values.isna().any():
        bad = ", ".join(map(str, values.index[values.isna()][:10]))
        raise InputError(f"{int(values.isna().sum())} sample(s) have no subject (missing "
                         f"value): {bad}")
    return pd.factorize(values.astype(str))[0].astype(np.intp)


def permutation_design(ids: pd.Index, codes: np.ndarray, subjects: Any,
                       method: str) -> PermutationDesign:
    """Choose the relabelling scheme for a factor and the samples' subjects.

    Parameters
    ----------
    ids : pandas.Index
        Sample ids, in the order of ``codes``.
    codes : numpy.ndarray
        Group index of every sample.
    subjects : pandas.Series, array_like or None
        Subject of every sample (a Series is matched by sample id).  ``None``
        gives the free design.
    method : str
        Name of the test, for the messages.

    Returns
    -------
    PermutationDesign

    Raises
    ------
    InputError
        A sample without a subject; a factor constant in some subjects and
        changing in others; fewer than 20 distinct relabellings.

    Examples
    --------
    >>> ids = pd.Index(list("abcdefgh"))
    >>> codes = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    >>> subjects = ["p1", "p1", "p2", "p2", "p3", "p3", "p4", "p4"]
    >>> permutation_design(ids, codes, subjects, "PERMANOVA")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    gutaxis.exceptions.InputError: PERMANOVA ... 2 and 2 subjects, which allow only 3 ...
    >>> ids = pd.Index([f"s{i}" for i in range(12)])  # before/after in 6 people: 2⁶ / 2 = 32
    >>> subjects = [f"p{i // 2}" for i in range(12)]
    >>> design = permutation_design(ids, np.array([0, 1] * 6), subjects, "PERMANOVA")
    >>> design.kind, design.n_subjects
    ('within subjects', 6)
    """
    if subjects is None:
        return FREE
    subject = _aligned_subjects(ids, subjects)
    n_subjects = int(subject.max()) + 1 if len(subject) else 0
    levels = pd.DataFrame({"s": subject, "g": codes}).groupby("s")["g"].nunique()
    varying = int((levels > 1).sum())
    several = int((np.bincount(subject, minlength=n_subjects) > 1).sum())
    if varying == 0:
        per_group = np.bincount(codes[_first_sample(subject, n_subjects)])
        sizes = per_group[per_group > 0]
        # groups of equal size can swap labels without changing the partition (or the
        # statistic), so only multinomial / ∏ (groups of each size)! relabellings differ
        count = _multinomial(sizes) // _symmetry(sizes[:, None])
        if count < _MIN_RELABELLINGS:
            raise InputError(
                f"{method} with whole subjects permuted: the groups hold "
                + " and ".join(str(int(k)) for k in per_group)
                + f" subjects, which allow only {count} distinct partitions of the subjects, "
                "so no p-value below 0.05 is possible; more subjects are needed")
        return PermutationDesign("whole subjects", subject, n_subjects)
    if varying < several:
        raise InputError(
            f"{method}: the tested factor changes within {varying} subject(s) and is constant "
            f"within {several - varying} other subject(s) with several samples, so neither "
            "whole subjects nor labels within subjects can be permuted honestly; test a "
            "factor that is constant within every subject (e.g. a diagnosis) or one that "
            "changes within every subject (e.g. before/after), or choose the samples with "
            "--where")
    count = _within_count(subject, codes, n_subjects)
    if count < _MIN_RELABELLINGS:
        raise InputError(
            f"{method} with labels permuted within subjects: the {n_subjects} subjects allow "
            f"only {count} distinct partitions of the samples, so no p-value below 0.05 is "
            "possible")
    return PermutationDesign("within subjects", subject, n_subjects)


def _multinomial(sizes: np.ndarray) -> int:
    total = math.factorial(int(sizes.sum()))
    for k in sizes:
        total //= math.factorial(int(k))
    return total


def _symmetry(profiles: np.ndarray) -> int:
    """Label permutations that leave the design as it is: ∏ (groups with one profile)!.

    ``profiles`` has one row per group (its subjects, or its samples in each subject).
    """
    _, repeats = np.unique(profiles, axis=0, return_counts=True)
    out = 1
    for k in repeats:
        out *= math.factorial(int(k))
    return out


def _within_count(subject: np.ndarray, codes: np.ndarray, n_subjects: int) -> int:
    """Distinct partitions reachable by permuting labels within subjects (at least up to 20)."""
    g = int(codes.max()) + 1
    counts = np.zeros((g, n_subjects), dtype=np.int64)
    np.add.at(counts, (codes, subject), 1)
    symmetry = _symmetry(counts)
    count = 1
    for s in range(n_subjects):
        count *= _multinomial(counts[:, s][counts[:, s] > 0])
        if count >= _MIN_RELABELLINGS * symmetry:
            break
    return count // symmetry
