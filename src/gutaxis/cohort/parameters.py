"""What decides a cohort analysis besides its data: :class:`CohortParameters` and defaults.

This module imports nothing heavy, so that the command line can take its
option defaults from here without loading the analysis.
"""

from __future__ import annotations

import dataclasses
import numbers
import os
from collections.abc import Callable
from typing import Any, Literal

from gutaxis.checks import check_integer, check_names
from gutaxis.exceptions import UnknownMetricError, UnknownRankError, ValidationError

__all__ = ["CohortParameters", "DEFAULT_ALPHA", "DEFAULT_BETA", "FEATURE_SETS",
           "MIN_DEFAULT_DEPTH", "StepCallback", "FoldCallback"]

#: Alpha metrics compared between groups by default (QIIME 2 names).
DEFAULT_ALPHA: tuple[str, ...] = ("observed_features", "shannon_entropy", "pielou_evenness",
                                  "faith_pd")
#: Beta metrics tested by default (those needing a tree are skipped without one).
DEFAULT_BETA: tuple[str, ...] = ("braycurtis", "jaccard", "aitchison", "unweighted_unifrac",
                                 "weighted_unifrac")
#: The classifier's feature sets, in report order.
FEATURE_SETS: tuple[str, ...] = ("microbiome", "markers", "combined")
#: Shallowest sample depth accepted as the default rarefaction depth; below it
#: the default is the depth that keeps 90 % of the samples.
MIN_DEFAULT_DEPTH = 1000

#: ``on_step(label, done, total)``; ``total`` may change as steps are skipped.
StepCallback = Callable[[str, int, int], None]
#: ``on_fold(done, total)``, once per cross-validation fold.
FoldCallback = Callable[[int, int], None]


def _integer(value: object, name: str, flag: str, minimum: int) -> int:
    return check_integer(value, f"{name} ({flag})", minimum=minimum)


@dataclasses.dataclass(frozen=True)
class CohortParameters:
    """Everything that decides a cohort analysis besides its data: validated once, here.

    Parameters
    ----------
    group_column : str
        Metadata column with the groups (``--group``).
    subject : str, optional
        Metadata column naming the subject (person) of each sample
        (``--subject``).  Given, every test treats the subject as its unit:
        group tests and correlations on one value per subject (the mean of
        its samples), PERMANOVA/PERMDISP permuting whole subjects,
        cross-validation folds that keep each subject's samples together, and
        differential abundance with one value per subject.  Each subject must
        lie in one group.
    where : str, optional
        A condition on the metadata choosing the samples analysed
        (``--where``), e.g. ``"diagnosis in ['CD', 'nonIBD']"``.
    covariates : sequence of str
        Metadata columns adjusted for in the differential-abundance model.
    rank : str
        Rank of the composition, differential-abundance, marker–taxon and
        microbiome-classifier steps (normalised to lower case).
    rarefy_depth : int, "auto" or None
        Depth of the diversity step.  ``"auto"``: the shallowest sample's depth
        when it is at least 1,000 reads, otherwise the depth that keeps 90 % of
        the samples.  ``None``: no rarefaction.  Composition, differential
        abundance and classifiers always use the unrarefied table.
    permutations : int
        PERMANOVA/PERMDISP permutations.
    seed : int
        The one seed of every random step (rarefaction, permutations, Monte
        Carlo, cross-validation).
    alpha_metrics, beta_metrics : sequence of str, optional
        Metrics (default :data:`DEFAULT_ALPHA`, :data:`DEFAULT_BETA`; the
        defaults that need a tree are skipped without one, a metric asked for
        by name is an error without one).
    classifier : bool
        Run the random-forest cross-validation.
    cv_folds, cv_repeats, n_estimators : int
        Repeated stratified k-fold scheme and forest size.
    mc_samples : int
        Monte Carlo instances of the differential-abundance test.
    min_prevalence : float
        Taxa present in fewer samples than this share are left out of the
        differential-abundance, marker–taxon and classifier steps.
    top_taxa : int
        Taxa listed in the group-mean composition table at ``rank``.
    min_group_size : int
        Smallest group accepted (and smallest number of non-missing values a
        marker needs in each group).
    threads : int, optional
        Threads for the kernels and the forests (default: all cores).
    fit_models : bool
        Also fit each feature set's forest on all samples (``models``).

    Raises
    ------
    ValidationError
        A value out of range (the message names the option and its flag).
    InputError
        ``covariates`` or a list of metrics given as one text (or None).
    UnknownRankError, UnknownMetricError
        An unknown rank or metric name (with the closest names suggested).

    Examples
    --------
    >>> CohortParameters("Subject", rank="Family").rank
    'family'
    """

    group_column: str
    subject: str | None = None
    where: str | None = None
    covariates: tuple[str, ...] = ()
    rank: str = "genus"
    rarefy_depth: int | Literal["auto"] | None = "auto"
    permutations: int = 999
    seed: int = 0
    alpha_metrics: tuple[str, ...] | None = None
    beta_metrics: tuple[str, ...] | None = None
    classifier: bool = True
    cv_folds: int = 10
    cv_repeats: int = 10
    n_estimators: int = 100
    mc_samples: int = 128
    min_prevalence: float = 0.1
    top_taxa: int = 10
    min_group_size: int = 3
    threads: int | None = None
    fit_models: bool = False

    def __post_init__(self) -> None:
        """Validate and normalise every field."""
        if not isinstance(self.group_column, str) or not self.group_column:
            raise ValidationError(f"the group column (--group) must be a column name; got "
                                  f"{self.group_column!r}")
        for field, flag in (("subject", "--subject"), ("where", "--where")):
            value = getattr(self, field)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise ValidationError(f"{field} ({flag}) must be a text (a column name, or a "
                                      f"condition such as \"Subject == 'Control'\"); got "
                                      f"{value!r}")
        if self.subject is not None and self.subject == self.group_column:
            raise ValidationError(f"--subject and --group name the same column "
                                  f"({self.subject!r}); the subject is the person each sample "
                                  "came from, the group what is compared")
        set_ = object.__setattr__
        set_(self, "covariates", check_names(self.covariates, "covariates (--covariates)"))
        rank = str(self.rank).strip().lower()
        from gutaxis.study import RANKS  # here: gutaxis.study loads pandas and scipy

        if rank not in RANKS:
            raise UnknownRankError(str(self.rank), RANKS)
        set_(self, "rank", rank)
        if self.rarefy_depth not in ("auto", None):
            set_(self, "rarefy_depth",
                 _integer(self.rarefy_depth, "the rarefaction depth", "--rarefy", 1))
        _integer(self.permutations, "permutations", "--permutations", 0)
        _integer(self.seed, "the seed", "--seed", 0)
        _integer(self.cv_folds, "cross-validation folds", "--cv-folds", 2)
        _integer(self.cv_repeats, "cross-validation repeats", "--cv-repeats", 1)
        _integer(self.n_estimators, "trees per forest", "--trees", 1)
        _integer(self.mc_samples, "Monte Carlo instances", "--mc-samples", 2)
        _integer(self.top_taxa, "top taxa", "top_taxa", 1)
        _integer(self.min_group_size, "the smallest group size", "min_group_size", 2)
        if self.threads is not None:
            _integer(self.threads, "threads", "--threads", 1)
        if not isinstance(self.min_prevalence, numbers.Real) or \
                not 0 <= float(self.min_prevalence) < 1:
            raise ValidationError(f"min_prevalence must be a share in [0, 1); got "
                                  f"{self.min_prevalence!r}")
        # imported here, not at the top: the command line builds its options from this
        # module, and the diversity kernels (numba) load only when parameters are made
        from gutaxis.diversity import alpha_metrics, beta_metrics

        for field, kind, registry in (("alpha_metrics", "alpha", alpha_metrics()),
                                      ("beta_metrics", "beta", beta_metrics())):
            names = getattr(self, field)
            if names is None:
                continue
            names = check_names(names, field)
            for name in names:
                if name not in registry:
                    raise UnknownMetricError(name, registry, kind)
            set_(self, field, names)

    @property
    def threads_used(self) -> int:
        """The threads the analysis runs with (all cores when ``threads`` is None)."""
        return self.threads or os.cpu_count() or 1

    def to_dict(self) -> dict[str, Any]:
        """Return the parameters as plain types.

        Returns
        -------
        dict
        """
        return dataclasses.asdict(self)
