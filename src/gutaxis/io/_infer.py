"""What kind of table a study came from: sequencing type and taxonomy scheme.

Best guesses from the data themselves (feature ids, taxon names, the reader
that read the table), used to check that a patient's table and a reference
cohort are comparable; a user who knows says so instead
(:func:`parse_sequencing`, an explicit scheme).
"""

from __future__ import annotations

import re

from gutaxis.exceptions import ValidationError
from gutaxis.study import Study, check_study

__all__ = ["SEQUENCING_TYPES", "TAXONOMY_SCHEMES", "parse_sequencing", "infer_sequencing",
           "infer_taxonomy_scheme"]

#: Sequencing types a table can be of.
SEQUENCING_TYPES = ("16S amplicon", "shotgun", "unknown")
#: Taxonomy schemes the names of a table can follow.
TAXONOMY_SCHEMES = ("greengenes", "silva", "gtdb", "metaphlan", "unknown")

_SEQUENCE_ID = re.compile(r"^[ACGTUNRYSWKMBDHV]{50,}$", re.IGNORECASE)
_MD5_ID = re.compile(r"^[0-9a-f]{32}$")
_CLADE_ID = re.compile(r"^[kdpcofgst]__[^;]*(\|[kdpcofgst]__[^;]*)*$")
_REGION = re.compile(r"\bV(\d)(?:\s*[-–/]\s*V?(\d))?\b", re.IGNORECASE)


def parse_sequencing(text: str) -> tuple[str, str | None]:
    """Return ``(type, region)`` from a sequencing description given by the user.

    ``"16S"``, ``"16S V4"``, ``"amplicon V3-V4"`` → ``("16S amplicon", "V4")``
    …; ``"shotgun"``, ``"metagenomic"``, ``"WGS"`` → ``("shotgun", None)``.

    Raises
    ------
    ValidationError
        A description that names neither.
    """
    low = str(text).strip().casefold()
    if re.search(r"16s|amplicon|\bv\d", low):
        match = _REGION.search(str(text))
        region = None
        if match:
            region = f"V{match.group(1)}" + (f"-V{match.group(2)}" if match.group(2) else "")
        return "16S amplicon", region
    if re.search(r"shotgun|metagenom|\bwgs\b|whole[- ]genome", low):
        return "shotgun", None
    raise ValidationError(f"sequencing type {text!r} is not one gutaxis knows; describe 16S "
                          "amplicon or shotgun sequencing, e.g. '16S V4', '16S V3-V4' or "
                          "'shotgun'")


def infer_sequencing(study: Study, scheme: str) -> str:
    """Guess the sequencing type of a table: ``"16S amplicon"``, ``"shotgun"`` or ``"unknown"``.

    Amplicon: read counts whose feature ids are sequences or MD5 hashes of
    sequences (QIIME 2 / DADA2 / Deblur), or that carry sequences, or that
    are classified with a 16S database (Greengenes, SILVA).  Shotgun: a
    MetaPhlAn profile (read as one, or relative abundances whose features are
    MetaPhlAn clade names).  Anything else is unknown.

    Parameters
    ----------
    study : Study
    scheme : str
        Its taxonomy scheme, one of :data:`TAXONOMY_SCHEMES`
        (:func:`infer_taxonomy_scheme`).

    Returns
    -------
    str
        One of :data:`SEQUENCING_TYPES`.

    Raises
    ------
    InputError
        ``study`` is not a Study.
    ValidationError
        ``scheme`` is not one of :data:`TAXONOMY_SCHEMES`.
    """
    check_study(study)
    if scheme not in TAXONOMY_SCHEMES:
        raise ValidationError(f"the taxonomy scheme must be one of "
                              f"{', '.join(TAXONOMY_SCHEMES)}; got {scheme!r}")
    if scheme == "metaphlan":
        return "shotgun"
    ids = [str(f) for f in study.feature_ids]
    if study.kind == "counts":
        seq_like = sum(bool(_SEQUENCE_ID.match(f) or _MD5_ID.match(f)) for f in ids)
        if study.sequences is not None or (ids and seq_like >= 0.9 * len(ids)):
            return "16S amplicon"
        if scheme in ("greengenes", "silva"):
            return "16S amplicon"
    return "unknown"


_GG_PHYLA = {"bacteroidetes", "actinobacteria", "verrucomicrobia", "tenericutes",
             "fusobacteria", "synergistetes", "lentisphaerae"}
_GTDB_PHYLA = {"bacillota", "pseudomonadota", "actinomycetota", "verrucomicrobiota",
               "fusobacteriota", "campylobacterota"}
_SILVA_PHYLA = {"actinobacteriota", "campilobacterota", "desulfobacterota"}
_SILVA_NAME = re.compile(r"_group$|^UCG-|-Shigella$|_sensu_stricto|^uncultured|"
                         r"^\[[A-Za-z]+\]_[a-z]", re.IGNORECASE)
_GTDB_SUFFIX = re.compile(r"^[A-Z][a-z]+_[A-Z]{1,2}$|^CAG-\d+$|^UBA\d+$")


def infer_taxonomy_scheme(study: Study) -> str:
    """Guess the taxonomy scheme of a table's names.

    One of ``"greengenes"``, ``"silva"``, ``"gtdb"``, ``"metaphlan"`` or ``"unknown"``.

    A best guess from the names in the taxonomy, scored per scheme; the
    highest score wins, and a tie or no evidence gives ``"unknown"``.

    * MetaPhlAn: the table was read as a MetaPhlAn profile, or its feature
      ids are MetaPhlAn clade names (``s__Genus_species``, ``k__…|…``).
    * Greengenes (13_8): bare species epithets (``prausnitzii``), bracketed
      names without underscores (``[Ruminococcus]``), its phylum names
      (*Bacteroidetes*, *Actinobacteria*, *Tenericutes* …).
    * SILVA 132/138: ``…_group``, ``UCG-…``, ``Escherichia-Shigella``,
      ``…_sensu_stricto``, ``uncultured`` names, 138's phyla
      (*Actinobacteriota*, *Campilobacterota*, *Desulfobacterota*).
    * GTDB: placeholder suffixes (``Firmicutes_A``, ``Ruminococcus_B``),
      ``CAG-``/``UBA`` genera, its phyla (*Bacillota*, *Pseudomonadota* …).

    The parsed taxonomy no longer holds the rank prefixes (``D_0__``,
    ``d__``), so the guess rests on names; pass the scheme explicitly when
    it is known.

    Parameters
    ----------
    study : Study

    Returns
    -------
    str
        One of :data:`TAXONOMY_SCHEMES`.

    Raises
    ------
    InputError
        ``study`` is not a Study.
    """
    check_study(study)
    if any(step.get("step") == "read" and step.get("format") == "metaphlan"
           for step in study.provenance):
        return "metaphlan"
    ids = [str(f) for f in study.feature_ids]
    if study.kind == "relative" and ids and all(_CLADE_ID.match(f) for f in ids):
        return "metaphlan"
    tax = study.taxonomy
    if tax is None:
        return "unknown"
    scores = {"greengenes": 0, "silva": 0, "gtdb": 0}
    names: set[str] = set()
    for rank in ("phylum", "class", "order", "family", "genus"):
        if rank in tax.columns:
            names.update(str(v) for v in tax[rank].dropna().unique())
    for name in names:
        low = name.casefold()
        if low in _GG_PHYLA or re.fullmatch(r"\[[A-Za-z]+\]", name):
            scores["greengenes"] += 1
        if low in _SILVA_PHYLA or _SILVA_NAME.search(name):
            scores["silva"] += 1
        if low in _GTDB_PHYLA or _GTDB_SUFFIX.match(name):
            scores["gtdb"] += 1
    if "species" in tax.columns:
        species = [str(v) for v in tax["species"].dropna().unique()]
        scores["greengenes"] += sum(bool(re.fullmatch(r"[a-z][a-z-]+", s)) for s in species)
        scores["gtdb"] += sum(bool(re.fullmatch(r"[A-Z][a-z]+(_[A-Z]+)? [a-z]+(_[A-Z]+)?", s))
                              for s in species)
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    if ranked[0][1] == 0 or ranked[0][1] == ranked[1][1]:
        return "unknown"
    return ranked[0][0]
