"""Composition: taxa collapsed to a rank, relative abundances, CLR, group means.

Two layers, as elsewhere in gutaxis: drivers on a :class:`~gutaxis.study.Study`
(:func:`collapse`, :func:`relative_abundance`, :func:`filter_prevalence`) and
plain array / frame functions (:func:`clr`, :func:`group_means`,
:func:`taxon_label`).

:func:`collapse` follows QIIME 2's ``qiime taxa collapse``: a feature's group
is its lineage cut at the rank, written with the Greengenes rank prefixes
(``k__Bacteria;p__Firmicutes;…;g__Faecalibacterium``), so features that agree
down to the rank are summed, and features whose rank is unassigned pool under
an empty level (``…;f__Lachnospiraceae;g__``).
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from gutaxis.checks import check_type
from gutaxis.exceptions import InputError, UnknownRankError
from gutaxis.study import RANKS, Study, check_study

__all__ = [
    "UnknownRankError",
    "collapse",
    "taxon_label",
    "taxon_labels",
    "lineages",
    "relative_abundance",
    "clr",
    "group_means",
    "filter_prevalence",
    "OTHER",
]

#: Name of the row of :func:`group_means` that holds the taxa outside the top.
OTHER = "Other"

#: Rank → the Greengenes / QIIME prefix of its level in a lineage.
_PREFIX = {rank: f"{rank[0]}__" for rank in RANKS}
#: Prefix letter → rank (``d__``, SILVA 138 / GTDB domain, is a kingdom).
_RANK_OF_LETTER = {rank[0]: rank for rank in RANKS} | {"d": "kingdom"}
_LEVEL = re.compile(r"^\s*([A-Za-z])__(.*?)\s*$", re.DOTALL)


def _check_rank(rank: object) -> str:
    if not isinstance(rank, str) or rank.strip().lower() not in RANKS:
        raise UnknownRankError(str(rank), RANKS)
    return rank.strip().lower()


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


# ------------------------------------------------------------------- lineages
def lineages(taxonomy: pd.DataFrame, rank: str) -> pd.Series:
    """Each feature's lineage down to ``rank``, as QIIME 2 writes it.

    Parameters
    ----------
    taxonomy : pandas.DataFrame
        Indexed by feature id, columns :data:`gutaxis.study.RANKS` (bare names,
        ``None``/NaN for an unassigned rank), as in :attr:`Study.taxonomy`.
    rank : str
        The deepest rank kept.

    Returns
    -------
    pandas.Series of str
        ``"k__Bacteria;p__Firmicutes;…;g__Faecalibacterium"``; an unassigned
        rank is its bare prefix (``g__``).

    Raises
    ------
    UnknownRankError
        ``rank`` is not one of :data:`gutaxis.study.RANKS`.
    InputError
        ``taxonomy`` is not a DataFrame.

    Examples
    --------
    >>> tax = pd.DataFrame([["Bacteria", "Firmicutes", None, None, None, None, None]],
    ...                    index=["asv1"], columns=list(RANKS))
    >>> lineages(tax, "class").tolist()
    ['k__Bacteria;p__Firmicutes;c__']
    """
    rank = _check_rank(rank)
    check_type(taxonomy, pd.DataFrame, "taxonomy",
               hint="indexed by feature id, one column per rank, as Study.taxonomy")
    depth = RANKS.index(rank) + 1
    parts = []
    for r in RANKS[:depth]:
        column = taxonomy[r] if r in taxonomy.columns else pd.Series(None, index=taxonomy.index)
        values = column.astype(object).where(column.notna(), "").map(lambda v: str(v).strip())
        parts.append(_PREFIX[r] + values)
    joined = parts[0]
    for part in parts[1:]:
        joined = joined + ";" + part
    return joined.astype(object)


def collapse(study: Study, rank: str) -> Study:
    """Sum the features of ``study`` that share a lineage down to ``rank``.

    Parameters
    ----------
    study : Study
        Counts or relative abundances, with :attr:`Study.taxonomy`.
    rank : str
        One of :data:`gutaxis.study.RANKS` (``"genus"``...).

    Returns
    -------
    Study
        Same samples, metadata and ``kind``; one feature per lineage (the
        feature id is the lineage string, e.g.
        ``"k__Bacteria;…;f__Lachnospiraceae;g__"``), sorted by lineage.  Its
        taxonomy holds the ranks down to ``rank`` (deeper ranks ``None``); the
        tree and sequences are dropped (they describe the original features).
        The provenance ends with a ``"collapse"`` record.

    Raises
    ------
    UnknownRankError
        ``rank`` is not a rank name (the message lists the valid ones).
    InputError
        ``study`` is not a Study, or it has no taxonomy.

    Notes
    -----
    As QIIME 2's ``taxa collapse``, every feature belongs to exactly one
    group, unassigned levels included: all the features of
    *Lachnospiraceae* without a genus pool into
    ``…;f__Lachnospiraceae;g__``, and a feature with no taxonomy at all into
    ``k__;p__;…``.  (QIIME 2 pads lineages that are too short with ``__``;
    gutaxis has parsed the taxonomy into ranks, so it writes the rank's own
    empty prefix.)  The sum is one sparse product, ``counts @ indicator``,
    where the indicator is features × lineages; the result stays sparse.

    Examples
    --------
    >>> import numpy as np
    >>> tax = pd.DataFrame({"kingdom": ["Bacteria"] * 3, "phylum": ["Firmicutes"] * 3,
    ...                     "class": ["Clostridia"] * 3, "order": ["Eubacteriales"] * 3,
    ...                     "family": ["Lachnospiraceae"] * 3,
    ...                     "genus": ["Roseburia", None, None], "species": [None] * 3},
    ...                    index=["a", "b", "c"])
    >>> s = Study(np.array([[1, 2, 3]]), ["s1"], ["a", "b", "c"], taxonomy=tax)
    >>> g = collapse(s, "genus")
    >>> [taxon_label(f) for f in g.feature_ids], g.counts.toarray().tolist()
    (['Lachnospiraceae (unassigned genus)', 'Roseburia'], [[5, 1]])
    """
    check_study(study)
    rank = _check_rank(rank)
    if study.taxonomy is None:
        raise InputError(
            f"collapsing to {rank} needs the features' taxonomy, and {study.source} has none. "
            "Give the taxonomy (--taxonomy FILE: a QIIME 2 taxonomy TSV or .qza), or use a "
            "table that carries it (BIOM observation metadata, MetaPhlAn)."
        )
    depth = RANKS.index(rank) + 1
    ids = lineages(study.taxonomy, rank)
    codes, uniques = pd.factorize(ids.to_numpy(dtype=object), sort=True)
    n_features, n_groups = study.n_features, len(uniques)
    indicator = sp.csr_matrix(
        (np.ones(n_features, dtype=study.counts.dtype), (np.arange(n_features), codes)),
        shape=(n_features, n_groups),
    )
    collapsed = sp.csr_matrix(study.counts @ indicator)

    _, first = np.unique(codes, return_index=True)  # first feature of each group
    taxonomy = pd.DataFrame(None, index=pd.Index(uniques, dtype=object), columns=list(RANKS),
                            dtype=object)
    kept = study.taxonomy.iloc[first][list(RANKS[:depth])].astype(object)
    kept = kept.where(kept.notna(), None).map(
        lambda v: None if _is_missing(v) else str(v).strip())
    taxonomy[list(RANKS[:depth])] = kept.to_numpy(dtype=object)
    step = {"step": "collapse", "rank": rank, "n_features_in": n_features,
            "n_features": n_groups}
    return study.replace(
        step,
        counts=collapsed,
        feature_ids=pd.Index(uniques, dtype=object),
        taxonomy=taxonomy,
        tree=None,
        sequences=None,
    )


def _levels(text: str) -> list[tuple[str, str | None]] | None:
    """``[(rank, name or None), …]`` for a prefixed lineage; ``None`` if it is not one."""
    levels: list[tuple[str, str | None]] = []
    for part in text.split(";"):
        if not part.strip():
            continue
        match = _LEVEL.match(part)
        if match is None or match.group(1).lower() not in _RANK_OF_LETTER:
            return None
        name = match.group(2).strip()
        levels.append((_RANK_OF_LETTER[match.group(1).lower()], name or None))
    return levels or None


def taxon_label(lineage: str) -> str:
    """Return a short display name for a lineage.

    Parameters
    ----------
    lineage : str
        A prefixed lineage as made by :func:`collapse`
        (``"k__Bacteria;…;g__Faecalibacterium"``).  Anything else (a plain
        feature id) is returned unchanged.

    Returns
    -------
    str
        The deepest named level (``"Faecalibacterium"``).  When deeper levels
        are unassigned, the deepest name and the first missing rank
        (``"Lachnospiraceae (unassigned genus)"``).  A bare species epithet is
        preceded by its genus (``"Faecalibacterium prausnitzii"``); a species
        name that already holds the genus (GTDB's ``s__Faecalibacterium
        prausnitzii``, SILVA's ``s__Faecalibacterium_prausnitzii``) is kept as
        written.  A lineage with no name at all is ``"Unassigned"``.

    Examples
    --------
    >>> taxon_label("k__Bacteria;p__Firmicutes;c__Clostridia;o__Eubacteriales;"
    ...             "f__Oscillospiraceae;g__Faecalibacterium")
    'Faecalibacterium'
    >>> taxon_label("k__Bacteria;p__Firmicutes;c__Clostridia;o__Eubacteriales;"
    ...             "f__Lachnospiraceae;g__")
    'Lachnospiraceae (unassigned genus)'
    >>> taxon_label("k__Bacteria;f__Oscillospiraceae;g__Faecalibacterium;s__prausnitzii")
    'Faecalibacterium prausnitzii'
    """
    levels = _levels(str(lineage))
    if levels is None:
        return str(lineage)
    named = [i for i, (_, name) in enumerate(levels) if name is not None]
    if not named:
        return "Unassigned"
    deepest = named[-1]
    rank, name = levels[deepest]
    assert name is not None
    if rank == "species":
        genus = next((n for r, n in levels if r == "genus" and n is not None), None)
        bare = not re.search(r"[\s_]", name)
        if genus is not None and bare and not name.startswith(genus):
            name = f"{genus} {name}"
    if deepest < len(levels) - 1:
        return f"{name} (unassigned {levels[deepest + 1][0]})"
    return name


# -------------------------------------------------------------- abundances
def taxon_labels(lineages: Sequence[str]) -> list[str]:
    """Display names for many lineages, made unique.

    Like :func:`taxon_label`, but a name shared by several lineages (Greengenes
    has a *Clostridium* in Clostridiaceae and another in Erysipelotrichaceae)
    gets the name of the nearest higher rank where they differ, in brackets.

    Parameters
    ----------
    lineages : sequence of str

    Returns
    -------
    list of str
        One label per lineage, in order.

    Raises
    ------
    InputError
        ``lineages`` is one text or not a list (None).

    Examples
    --------
    >>> taxon_labels(["k__Bacteria;p__Firmicutes;f__Clostridiaceae;g__Clostridium",
    ...               "k__Bacteria;p__Firmicutes;f__Erysipelotrichaceae;g__Clostridium",
    ...               "k__Bacteria;p__Firmicutes;f__Ruminococcaceae;g__Faecalibacterium"])
    ['Clostridium (Clostridiaceae)', 'Clostridium (Erysipelotrichaceae)', 'Faecalibacterium']
    """
    if isinstance(lineages, str) or not isinstance(lineages, Iterable):
        raise InputError(f"lineages must be a list of lineages (one label each); got "
                         f"{type(lineages).__name__} (one lineage: taxon_label)")
    ids = [str(x) for x in lineages]
    labels = [taxon_label(x) for x in ids]
    by_label: dict[str, list[int]] = {}
    for position, label in enumerate(labels):
        by_label.setdefault(label, []).append(position)
    for label, positions in by_label.items():
        if len(positions) < 2:
            continue
        parsed = [_levels(ids[p]) or [] for p in positions]
        depth = min(len(levels) for levels in parsed)
        for level in range(depth - 1, -1, -1):
            names = [levels[level][1] for levels in parsed]
            if len(set(names)) == len(names) and all(n is not None for n in names):
                for p, name in zip(positions, names, strict=True):
                    labels[p] = f"{label} ({name})"
                break
        else:
            for p in positions:
                labels[p] = f"{label} [{ids[p]}]"
    return labels


def relative_abundance(study: Study) -> pd.DataFrame:
    """Return samples × features fractions: each sample divided by its total.

    Parameters
    ----------
    study : Study
        Counts or relative abundances (percentages become fractions too).

    Returns
    -------
    pandas.DataFrame
        Index the sample ids, columns the feature ids; every row sums to 1.

    Raises
    ------
    InputError
        ``study`` is not a Study; some samples have no reads (they have no
        composition; the message names them).

    Examples
    --------
    >>> import numpy as np
    >>> s = Study(np.array([[1, 3], [2, 2]]), ["a", "b"], ["x", "y"])
    >>> relative_abundance(s).to_numpy().tolist()
    [[0.25, 0.75], [0.5, 0.5]]
    """
    totals = check_study(study).sample_totals()
    empty = np.flatnonzero(totals <= 0)
    if len(empty):
        ids = [str(s) for s in study.sample_ids[empty]]
        raise InputError(
            f"relative abundances are undefined for samples with no reads; {len(ids)} sample(s) "
            f"in {study.source} are empty: {', '.join(map(repr, ids[:10]))}"
            f"{' …' if len(ids) > 10 else ''}. Remove them first."
        )
    dense = study.counts.toarray().astype(np.float64, copy=False)
    dense /= totals[:, None]
    return pd.DataFrame(dense, index=study.sample_ids.copy(), columns=study.feature_ids.copy())


def clr(values: np.ndarray, *, pseudocount: float = 0.5) -> np.ndarray:
    """Centred log-ratio transform of each row (natural logarithm).

    ``clr(x)_j = log(x_j + c) − mean_k log(x_k + c)``.

    Parameters
    ----------
    values : array_like
        Samples × parts (a 1-D array is one sample), non-negative.
    pseudocount : float
        ``c``, added to every value before the logarithm, ≥ 0.

    Returns
    -------
    numpy.ndarray
        Same shape, float64; each row sums to 0.

    Raises
    ------
    InputError
        Values that are not numbers, a negative value, a negative
        pseudocount, or a zero left after adding the pseudocount (the
        logarithm of 0).

    Notes
    -----
    The default pseudocount 0.5 is meant for read counts: it is the
    Jeffreys-prior value that ALDEx2 adds to counts [2]_ and the usual choice
    for the zeros of count compositions [1]_ (a read count of 0 becomes a
    half-read).  It is *not* a good choice for proportions, where 0.5 would
    swamp the data: there use a value below the smallest non-zero proportion
    (or transform counts instead).  The result depends on the pseudocount
    through the zeros only; for data without zeros, ``pseudocount=0`` gives
    the exact CLR.

    References
    ----------
    .. [1] Aitchison, J. (1986). *The Statistical Analysis of Compositional
       Data*. Chapman & Hall.
    .. [2] Fernandes, A. D. et al. (2014). Unifying the analysis of
       high-throughput sequencing datasets. *Microbiome* 2, 15.

    Examples
    --------
    >>> clr(np.array([[1.0, 1.0, 4.0]]), pseudocount=0).round(4).tolist()
    [[-0.4621, -0.4621, 0.9242]]
    """
    if not isinstance(pseudocount, numbers.Real) or not pseudocount >= 0:
        raise InputError(f"`pseudocount` must be a number ≥ 0; got {pseudocount!r}.")
    try:
        x = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"clr: the values must be a samples × parts array of numbers; got "
                         f"{type(values).__name__} {str(values)[:40]!r}") from None
    if x.ndim not in (1, 2):
        raise InputError(f"clr takes a 1-D or 2-D array (samples × parts); got {x.ndim}-D.")
    if x.size and not np.all(np.isfinite(x)):
        raise InputError("clr: the values contain NaN or infinite entries.")
    if x.size and x.min() < 0:
        raise InputError(f"clr: values must be ≥ 0; the smallest is {x.min()!r}.")
    shifted = x + float(pseudocount)
    if x.size and shifted.min() <= 0:
        raise InputError(
            "clr: a value is 0 and `pseudocount` is 0, so its logarithm is undefined; "
            "give a pseudocount > 0 (0.5 for read counts)."
        )
    logs = np.log(shifted)
    return logs - logs.mean(axis=-1, keepdims=True)


def group_means(relative: pd.DataFrame, groups: pd.Series, *,
                order: Sequence[Any] | None = None, top: int | None = None) -> pd.DataFrame:
    """Mean relative abundance of each taxon in each group.

    Parameters
    ----------
    relative : pandas.DataFrame
        Samples × taxa relative abundances (e.g. :func:`relative_abundance`).
    groups : pandas.Series
        Group of each sample, indexed by sample id (every sample of
        ``relative`` must be present).  Samples with a missing group are left
        out.
    order : sequence, optional
        The groups, in the order of the columns (default: sorted).  Groups
        not listed are left out.
    top : int, optional
        Keep only the ``top`` taxa with the largest overall mean, and add a
        row :data:`OTHER` holding the sum of the others (always present when
        ``top`` is given, 0 when nothing is left), so that each column still
        sums to the same total as before (1 for fractions).

    Returns
    -------
    pandas.DataFrame
        Taxa × groups.  Rows sorted by overall mean (the mean over all the
        grouped samples, not the mean of the group means), largest first,
        ties by taxon name; :data:`OTHER` last.

    Raises
    ------
    InputError
        ``relative`` not a DataFrame or ``groups`` not a Series; samples
        without a group entry, a group in ``order`` with no samples,
        ``top`` not an integer ≥ 1, or a taxon already called ``"Other"``
        when ``top`` is given.

    Examples
    --------
    >>> rel = pd.DataFrame({"x": [0.5, 0.1, 0.2], "y": [0.3, 0.6, 0.8],
    ...                     "z": [0.2, 0.3, 0.0]}, index=["a", "b", "c"])
    >>> group_means(rel, pd.Series({"a": "A", "b": "B", "c": "B"}), top=1)
             A    B
    y      0.3  0.7
    Other  0.7  0.3
    """
    if top is not None and (isinstance(top, bool) or not isinstance(top, numbers.Integral)
                            or top < 1):
        raise InputError(f"`top` must be an integer ≥ 1 (or None for all taxa); got {top!r}.")
    check_type(relative, pd.DataFrame, "relative", hint="samples × taxa, e.g. from "
               "relative_abundance")
    check_type(groups, pd.Series, "groups", hint="the group of each sample, indexed by "
               "sample id (a metadata column)")
    index = relative.index
    missing = index.difference(groups.index)
    if len(missing):
        raise InputError(
            f"{len(missing)} sample(s) have no entry in `groups`: "
            f"{', '.join(map(repr, missing[:10].tolist()))}{' …' if len(missing) > 10 else ''}"
        )
    labels = groups.reindex(index)
    present = labels.notna().to_numpy()
    values = relative.loc[present]
    labels = labels[present]
    levels = sorted(pd.unique(labels), key=str) if order is None else list(order)
    sizes = labels.value_counts()
    empty = [g for g in levels if sizes.get(g, 0) == 0]
    if empty:
        raise InputError(
            f"group(s) {', '.join(map(repr, empty))} in `order` have no samples; the groups "
            f"present are {', '.join(map(repr, sorted(sizes.index, key=str)))}."
        )
    in_order = labels.isin(levels).to_numpy()
    values, labels = values.loc[in_order], labels[in_order]
    means = values.groupby(labels.to_numpy()).mean().T.reindex(columns=levels)
    overall = values.mean(axis=0)
    ranking = pd.DataFrame({"mean": -overall.to_numpy(), "name": overall.index.astype(str)},
                           index=overall.index).sort_values(["mean", "name"], kind="stable")
    means = means.loc[ranking.index]
    means.columns.name = None
    if top is None:
        return means
    if OTHER in means.index:
        raise InputError(
            f"a taxon is already called {OTHER!r}; rename it before asking for the top taxa."
        )
    head = means.iloc[:top]
    other = means.iloc[top:].sum(axis=0).to_frame(OTHER).T
    return pd.concat([head, other])


def filter_prevalence(study: Study, *, min_prevalence: float = 0.1) -> Study:
    """Keep the features present (> 0) in at least a fraction of the samples.

    Parameters
    ----------
    study : Study
    min_prevalence : float
        In ``[0, 1]``; a feature is kept when it is non-zero in at least
        ``min_prevalence × n_samples`` samples (0 keeps everything).

    Returns
    -------
    Study
        The kept features in their original order; the provenance ends with a
        ``"filter_prevalence"`` record.

    Raises
    ------
    InputError
        ``study`` is not a Study; ``min_prevalence`` outside ``[0, 1]``; no
        feature passes (the message gives the highest prevalence there is).

    Examples
    --------
    >>> s = Study(np.array([[1, 0, 0], [2, 0, 1], [3, 1, 0]]), ["a", "b", "c"],
    ...           ["x", "y", "z"])
    >>> filter_prevalence(s, min_prevalence=0.5).feature_ids.tolist()
    ['x']
    """
    if (isinstance(min_prevalence, bool) or not isinstance(min_prevalence, numbers.Real)
            or not 0 <= min_prevalence <= 1):
        raise InputError(f"`min_prevalence` must be a fraction in [0, 1]; got {min_prevalence!r}.")
    n = check_study(study).n_samples
    present = study.counts.getnnz(axis=0)
    # the smallest whole number of samples ≥ min_prevalence × n, safe from rounding (0.1 × 30)
    needed = math.ceil(float(min_prevalence) * n - 1e-9)
    keep = np.flatnonzero(present >= needed)
    if len(keep) == 0:
        best = present.max() / n if n and study.n_features else 0.0
        raise InputError(
            f"no feature of {study.source} is present in at least {min_prevalence:.0%} of the "
            f"{n} samples (`min_prevalence`); the most prevalent is in {best:.0%}. "
            "Lower min_prevalence."
        )
    if len(keep) == study.n_features:
        return study.replace({"step": "filter_prevalence", "min_prevalence": float(min_prevalence),
                              "n_features": study.n_features, "n_removed": 0})
    filtered = study.subset_features(study.feature_ids[keep].tolist(), step="filter_prevalence")
    record = {**filtered.provenance[-1], "min_prevalence": float(min_prevalence),
              "n_removed": int(study.n_features - len(keep))}
    return filtered.replace(None, provenance=(*filtered.provenance[:-1], record))
