"""The Gut Microbiome Health Index (GMHI) of Gupta et al. (2020).

Two layers: :func:`gmhi_values`, the authors' rule on a samples × species
array with the species' names, and :func:`gmhi`, which takes a
:class:`~gutaxis.study.Study` or a :class:`pandas.DataFrame`, checks that it
is a species-level profile, finds the 50 species of the two sets under their
MetaPhlAn2 names or a synonym of the knowledge base, and labels the result
with the sample ids (and says which species were found, and how many of each
set every sample holds).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Sequence
from typing import Any

import numpy as np
import pandas as pd

from gutaxis.exceptions import InputError, ValidationError
from gutaxis.indices._common import NotApplicableError, index_taxonomy, species_profile_problem
from gutaxis.knowledge import gmhi_species_sets, load_taxa_catalog, normalise_taxon
from gutaxis.study import Study

__all__ = ["gmhi", "gmhi_values", "gmhi_coverage", "MH_PRIME", "MN_PRIME", "MIN_FRACTION",
           "PSEUDOCOUNT", "DROPPED"]

#: Median richness of health-prevalent species in the top-ranked 1 % of samples.
MH_PRIME = 7
#: Median richness of health-scarce species in the bottom-ranked 1 % of samples.
MN_PRIME = 31
#: Renormalised fractions below this are set to 0.
MIN_FRACTION = 0.00001
#: Added to both collective abundances before their ratio.
PSEUDOCOUNT = 0.00001
#: Rows the authors remove before renormalising (``contains()``, ignoring case).
DROPPED = re.compile(r"unclassified|virus", re.IGNORECASE)


def _psi(p: np.ndarray, columns: np.ndarray, prime: int) -> np.ndarray:
    sub = p[:, columns]
    present = sub > 0
    safe = np.where(present, sub, 1.0)
    shannon = -np.sum(np.where(present, np.log(safe) * safe, 0.0), axis=1)
    richness = present.sum(axis=1)
    psi: np.ndarray = (richness / prime) * shannon
    return psi


def gmhi_values(values: np.ndarray, names: Sequence[str], *,
                mh: Collection[str] | None = None,
                mn: Collection[str] | None = None) -> np.ndarray:
    """GMHI of each row of a species profile, exactly as the authors' ``GMHI.R``.

    Parameters
    ----------
    values : numpy.ndarray
        Samples × species abundances ≥ 0 (percent, fractions or counts: each
        sample is renormalised).
    names : sequence of str
        The species' names, MetaPhlAn2 style (``s__Genus_species``), one per
        column, unique.
    mh, mn : collection of str, optional
        The health-prevalent and health-scarce species; by default the
        authors' sets shipped with gutaxis
        (:func:`gutaxis.knowledge.gmhi_species_sets`).

    Returns
    -------
    numpy.ndarray
        float64, one value per row; NaN for a row with nothing left after the
        removal of unclassified and viral species.

    Raises
    ------
    ValidationError
        ``values`` is not a samples × species array of numbers with one
        column per name.

    Notes
    -----
    The steps of ``GMHI.R`` [2]_:

    1. drop the species whose name contains ``unclassified`` or ``virus``
       (ignoring case);
    2. divide each sample by its total; set the fractions below
       :data:`MIN_FRACTION` (1e-5) to 0, without renormalising again;
    3. for each set, ψ = (number of its species present / constant) ×
       (−Σ p ln p over those species, p their fractions of the whole
       sample); the constants are :data:`MH_PRIME` = 7 and
       :data:`MN_PRIME` = 31;
    4. GMHI = log10((ψ_MH + 1e-5) / (ψ_MN + 1e-5)).

    GMHI > 0 reads as healthy, < 0 as non-healthy, 0 as neither (e.g. when
    no species of either set is present).  Where the R script would stop
    with an error (a sample with nothing left in step 2), NaN is returned.

    References
    ----------
    .. [1] Gupta, V. K. et al. (2020). A predictive index for health status
       using species-level gut microbiome profiling. *Nat. Commun.* 11,
       4635. doi:10.1038/s41467-020-18476-8
    .. [2] github.com/jaeyunsung/GMHI_2020, ``GMHI.R``.

    Examples
    --------
    >>> mh = gmhi_species_sets()["MH"]
    >>> x = np.array([[50.0, 50.0, 0.0], [0.0, 0.0, 100.0]])
    >>> gmhi_values(x, [mh[0], mh[2], "s__Other_species"]).round(4).tolist()
    [4.2968, 0.0]
    """
    result, _, _ = _gmhi_parts(values, names, mh=mh, mn=mn)
    return result


def _gmhi_parts(values: np.ndarray, names: Sequence[str], *,
                mh: Collection[str] | None = None, mn: Collection[str] | None = None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Compute GMHI, and how many species of each set every sample holds (after step 2)."""
    sets = gmhi_species_sets()
    mh_set = frozenset(sets["MH"] if mh is None else mh)
    mn_set = frozenset(sets["MN"] if mn is None else mn)
    try:
        x = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValidationError(f"gmhi_values: values must be a samples × species array of "
                              f"numbers; got {type(values).__name__}") from None
    if x.ndim != 2 or x.shape[1] != len(names):
        raise ValidationError(f"values must be samples × species with {len(names)} columns "
                              f"(one per name); got shape {x.shape}")
    keep = np.array([DROPPED.search(str(n)) is None for n in names], dtype=bool)
    kept_names = [str(n) for n, k in zip(names, keep, strict=True) if k]
    x = x[:, keep]
    totals = x.sum(axis=1)
    empty = totals <= 0
    p = np.divide(x, totals[:, None], out=np.zeros_like(x), where=~empty[:, None])
    p[p < MIN_FRACTION] = 0.0
    in_mh = np.array([n in mh_set for n in kept_names], dtype=bool)
    in_mn = np.array([n in mn_set for n in kept_names], dtype=bool)
    psi_mh = _psi(p, in_mh, MH_PRIME)
    psi_mn = _psi(p, in_mn, MN_PRIME)
    result = np.log10((psi_mh + PSEUDOCOUNT) / (psi_mn + PSEUDOCOUNT))
    result[empty] = np.nan
    n_mh = (p[:, in_mh] > 0).sum(axis=1)
    n_mn = (p[:, in_mn] > 0).sum(axis=1)
    return result, n_mh, n_mn


@functools.cache
def _set_names() -> dict[str, str]:
    """Map a normalised name to its GMHI set name (the set names and their synonyms)."""
    catalog = load_taxa_catalog()
    out: dict[str, str] = {}
    for names in gmhi_species_sets().values():
        for name in names:
            for spelling in catalog.spellings(name, "species"):
                out.setdefault(spelling.key, name)
            out.setdefault(normalise_taxon(name), name)
    return out


def _canonical(names: Sequence[str]) -> list[str]:
    """Return the GMHI set name of each name that is one under another spelling, else the name."""
    known = _set_names()
    return [known.get(normalise_taxon(n), str(n)) for n in names]


def _merge(names: Sequence[str]) -> tuple[np.ndarray, list[str], dict[str, list[str]]]:
    """Join the spellings of one GMHI species: codes, names, and each one's other spellings."""
    canonical = _canonical(names)
    codes, unique = pd.factorize(pd.Index(canonical, dtype=object))
    original: dict[str, list[str]] = {}
    for raw, name in zip(names, canonical, strict=True):
        if str(raw) != name and name not in original.get(name, []):
            original.setdefault(name, [])
            shown = str(raw).removeprefix("s__")
            if shown not in original[name]:
                original[name].append(shown)
    return np.asarray(codes), [str(n) for n in unique], original


def _leaf(name: str) -> str:
    return str(name).strip().rsplit("|", 1)[-1]


def _frame_profile(frame: pd.DataFrame
                   ) -> tuple[np.ndarray, list[str], dict[str, list[str]], pd.Index]:
    def species_like(labels: pd.Index) -> bool:
        leaves = [_leaf(x) for x in labels]
        return bool(leaves) and any(x.startswith("s__") for x in leaves)

    if species_like(frame.index):
        names, values, samples = [_leaf(x) for x in frame.index], frame.T, frame.columns
    elif species_like(frame.columns):
        names, values, samples = [_leaf(x) for x in frame.columns], frame, frame.index
    else:
        raise NotApplicableError(
            "gmhi", "the table has no species names (s__Genus_species) on either axis; GMHI "
            "needs a species-level profile such as MetaPhlAn's (--tax_lev s)")
    others = [n for n in names if not n.startswith("s__") and DROPPED.search(n) is None]
    if others:
        raise NotApplicableError(
            "gmhi", f"the table mixes species with other rows ({', '.join(map(repr, others[:5]))}"
            f"{' …' if len(others) > 5 else ''}); give the species level only (MetaPhlAn "
            "--tax_lev s; a MetaPhlAn profile given as the table is read at its species "
            "level)")
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise NotApplicableError("gmhi", f"species names repeat: {', '.join(dupes[:5])}")
    try:
        array = values.to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise NotApplicableError("gmhi", f"the abundances are not all numbers ({exc})") from None
    if array.size and (not np.all(np.isfinite(array)) or array.min() < 0):
        raise NotApplicableError("gmhi", "abundances must be finite and ≥ 0")
    codes, merged, original = _merge(names)
    summed = np.zeros((array.shape[0], len(merged)))
    np.add.at(summed.T, codes, array.T)  # spellings of one species are summed
    return summed, merged, original, pd.Index([str(s) for s in samples], dtype=object)


def _study_profile(study: Study) -> tuple[np.ndarray, list[str], dict[str, list[str]]]:
    tax = index_taxonomy(study)
    keys = None if tax is None else [
        None if b is None else "s__" + b.replace(" ", "_") for b in tax["binomial"]]
    dropped = None if keys is None else np.array(
        [k is not None and DROPPED.search(k) is not None for k in keys], dtype=bool)
    problem = species_profile_problem(study, tax, dropped)
    if problem is not None:
        raise NotApplicableError("gmhi", problem + ". GMHI is defined on shotgun metagenomic "
                                 "species profiles (MetaPhlAn2); a look-alike on other data "
                                 "would not be GMHI")
    assert keys is not None
    present = study.counts.getnnz(axis=0) > 0
    columns = [i for i, k in enumerate(keys) if k is not None and present[i]]
    codes, names, original = _merge([str(keys[i]) for i in columns])
    dense = study.counts[:, columns].toarray().astype(np.float64, copy=False)
    by_species = np.zeros((len(names), study.n_samples))
    np.add.at(by_species, codes, dense.T)  # features naming the same species are summed
    return by_species.T, names, original


def gmhi(data: Study | pd.DataFrame) -> pd.Series:
    """GMHI of every sample of a species-level profile.

    Parameters
    ----------
    data : Study or pandas.DataFrame
        A :class:`~gutaxis.study.Study` whose features are species (a
        MetaPhlAn profile read with :func:`gutaxis.io.read_table`, or any
        table whose taxonomy names a species for every feature), or a frame
        laid out as the authors' CSV (species ``s__Genus_species`` as the
        index, one column per sample — ``pd.read_csv(path, index_col=0)``)
        or transposed (species as columns); the axis holding ``s__`` names is
        taken as the species.

    Returns
    -------
    pandas.Series
        Named ``"gmhi"``, indexed by sample id (``sample_id``), float64, the
        authors' values.  ``attrs["species_present"]`` is, per sample, how
        many species of each set it holds (``{"MH": [...], "MN": [...]}``):
        where both are 0 the value is 0 by the pseudocount alone
        (log10(1e-5 / 1e-5)), which :func:`~gutaxis.indices.compute_indices`
        reports as not computable.  ``attrs["found"]`` says how many species
        of each set the table holds, and under which other names
        (``{"MH": {"found", "of", "as"}, "MN": …, "note": "…"}``).

    Raises
    ------
    NotApplicableError
        The data are not a species-level profile: a 16S table whose
        deepest resolved rank is genus, a table where some features have no
        species (most 16S tables), no taxonomy, or a frame without ``s__``
        names.  GMHI is not computed on anything else.
    InputError
        ``data`` is neither a Study nor a DataFrame.

    Notes
    -----
    The rule is :func:`gmhi_values` (the authors' ``GMHI.R``).  In a
    :class:`~gutaxis.study.Study`, a feature's species name is
    ``s__Genus_epithet`` built from its taxonomy (MetaPhlAn ids are that
    already), features naming the same species are summed first, and the
    ``unclassified``/``virus`` filter applies to that name.  The species sets
    use MetaPhlAn2 (mpa_v20) names; a species is also found under a synonym
    of the knowledge base (``taxa.yaml``, ``synonyms``: Greengenes'
    *[Ruminococcus] gnavus* is *R. gnavus*) and under a GTDB species name
    (the suffix of *Ruminococcus_B gnavus* is dropped).  Profiles made with
    other databases still name some species differently, and an absent name
    counts as an absent species: ``attrs["found"]`` says how many were found.

    References
    ----------
    .. [1] Gupta, V. K. et al. (2020). A predictive index for health status
       using species-level gut microbiome profiling. *Nat. Commun.* 11,
       4635. doi:10.1038/s41467-020-18476-8

    Examples
    --------
    >>> frame = pd.DataFrame({"S1": [60.0, 40.0]}, index=["s__Alistipes_senegalensis",
    ...                                                   "s__Klebsiella_pneumoniae"])
    >>> gmhi(frame).round(4).tolist()
    [0.5683]
    """
    if isinstance(data, Study):
        values, names, original = _study_profile(data)
        samples = data.sample_ids
    elif isinstance(data, pd.DataFrame):
        values, names, original, samples = _frame_profile(data)
    else:
        raise InputError(f"gmhi takes a Study or a pandas.DataFrame (species × samples); got "
                         f"{type(data).__name__}")
    result, n_mh, n_mn = _gmhi_parts(values, names)
    series = pd.Series(result, index=pd.Index(samples, name="sample_id"), name="gmhi")
    series.attrs["species_present"] = {"MH": [int(n) for n in n_mh],
                                       "MN": [int(n) for n in n_mn]}
    series.attrs["found"] = _found(values, names, original)
    return series


def _found(values: np.ndarray, names: Sequence[str],
           original: dict[str, list[str]]) -> dict[str, Any]:
    """Say which species of each set occur (non-zero somewhere), and under which other names."""
    total = values.sum(axis=0) if values.size else np.zeros(len(names))
    have = {n for n, t in zip(names, total, strict=True) if t > 0}
    out: dict[str, Any] = {}
    parts = []
    for key, species in gmhi_species_sets().items():
        found = [s for s in species if s in have]
        spelled = {s: original[s] for s in found if original.get(s)}
        out[key] = {"found": len(found), "of": len(species), "as": spelled}
        shown = "".join(f"; {s} as {' and '.join(v)}" for s, v in spelled.items())
        parts.append(f"{key} {len(found)}/{len(species)}{shown}")
    out["note"] = ("GMHI species found in the table: " + ", ".join(parts) + " (the sets use "
                   "MetaPhlAn2 names; an absent name counts as an absent species)")
    return out


def gmhi_coverage(names: Sequence[str]) -> dict[str, tuple[int, int]]:
    """How many species of each GMHI set occur among ``names`` (under any spelling).

    Parameters
    ----------
    names : sequence of str
        Species names (``s__Genus_species``, ``Genus species``, GTDB or a
        knowledge-base synonym).

    Returns
    -------
    dict
        ``{"MH": (found, 7), "MN": (found, 43)}``.
    """
    have = set(_canonical(names))
    return {key: (sum(1 for s in spp if s in have), len(spp))
            for key, spp in gmhi_species_sets().items()}
