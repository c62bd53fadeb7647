"""The taxa catalogue (``taxa.yaml``): its schema and loader.

The catalogue holds key gut taxa, their reported associations, the taxon
lists of the dysbiosis indices, and the names other reference taxonomies give
those taxa (``synonyms``: SILVA's *Escherichia-Shigella*, GTDB's *Phocaeicola*
…), each with its sources.  Every lookup of a taxon by name goes through
:meth:`TaxaCatalog.spellings`, so a synonym applies to the key taxa, the
indices and, through the key taxa, the chain's rules alike.

Every association and finding names at least one :class:`Source` with a DOI,
PubMed id or URL, and says whether it was checked in that source
(``verified``).  The GMHI species sets are package files whose SHA-256 the
catalogue records; :func:`gmhi_species_sets` refuses a file that does not
match.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Literal

import pydantic

from gutaxis.exceptions import FormatError, NotFoundError
from gutaxis.knowledge._loading import load_model
from gutaxis.knowledge._markers import Source
from gutaxis.study import RANKS

__all__ = [
    "Association",
    "Finding",
    "NcbiTaxon",
    "TaxonEntry",
    "MdIndexList",
    "MdIndexDefinition",
    "GmhiSpeciesSet",
    "GmhiDefinition",
    "IndexDefinitions",
    "SynonymName",
    "Synonym",
    "Spelling",
    "TaxaCatalog",
    "load_taxa_catalog",
    "gmhi_species_sets",
    "normalise_taxon",
]

_SCHEMA_VERSION = 1
_PREFIX = re.compile(r"^[a-zA-Z]__")
_GTDB_SUFFIX = re.compile(r"(?<=[a-z])_[A-Z]{1,2}(?=$|[\s_])")

Rank = Literal["kingdom", "phylum", "class", "order", "family", "genus", "species"]


def normalise_taxon(name: str) -> str:
    """Normalise a taxon name as the catalogue's names are compared.

    The rank prefix (``s__``, ``g__``) is dropped, ``_`` becomes a space,
    runs of spaces collapse, and case is ignored.  Square brackets are kept:
    Greengenes' ``[Ruminococcus]`` is another genus than ``Ruminococcus``.

    GTDB's placeholder suffixes (``_A``, ``_B`` …) are dropped from a species
    name (``Faecalibacterium prausnitzii_C``, ``Ruminococcus_B gnavus``: GTDB
    splits a species into clusters that keep its epithet) and kept on a
    one-word name, genus and above: ``Ruminococcus_B`` (GTDB's genus of
    *R. gnavus*, Lachnospiraceae) is not ``Ruminococcus`` (Ruminococcaceae),
    nor ``Firmicutes_A`` ``Firmicutes``.  A GTDB genus that stands for an
    older name is a synonym in the knowledge base, with its source.

    Examples
    --------
    >>> normalise_taxon("s__Faecalibacterium_prausnitzii")
    'faecalibacterium prausnitzii'
    >>> normalise_taxon("Faecalibacterium prausnitzii_C")
    'faecalibacterium prausnitzii'
    >>> normalise_taxon("g__Ruminococcus_B"), normalise_taxon("Ruminococcus_B gnavus")
    ('ruminococcus_b', 'ruminococcus gnavus')
    >>> normalise_taxon("[Ruminococcus] gnavus")
    '[ruminococcus] gnavus'
    """
    text = _PREFIX.sub("", str(name).strip())
    bare = _GTDB_SUFFIX.sub("", text)
    words = bare.replace("_", " ").split()
    if len(words) < 2:  # genus and above: the suffix names another taxon
        return "_".join(text.split()).casefold()
    return " ".join(words).casefold()


class _Frozen(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)


class Association(_Frozen):
    """A reported association between a taxon and a condition."""

    condition: str = pydantic.Field(min_length=2)
    direction: Literal["lower", "higher", "context-dependent"]
    evidence: str = pydantic.Field(min_length=5)
    caveat: str | None = None
    sources: list[Source] = pydantic.Field(min_length=1)
    verified: bool


class Finding(_Frozen):
    """A mechanistic or interventional finding (not an abundance association)."""

    text: str = pydantic.Field(min_length=5)
    caveat: str | None = None
    sources: list[Source] = pydantic.Field(min_length=1)
    verified: bool


class NcbiTaxon(_Frozen):
    """The NCBI Taxonomy id of a taxon, as seen in a named public source.

    ``name`` is the name NCBI gives that id in the source (``[Eubacterium]
    rectale``), which may differ from the catalogue's display name.
    """

    taxid: str = pydantic.Field(pattern=r"^[1-9][0-9]{0,9}$")
    name: str = pydantic.Field(min_length=2)
    source: Source


class TaxonEntry(_Frozen):
    """One taxon of the catalogue (see the field list at the top of ``taxa.yaml``)."""

    id: str = pydantic.Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    rank: Rank | Literal["group"]
    match: dict[Rank, list[str]] = {}
    members: list[str] = []
    role: str
    panel: bool
    associations: list[Association] = pydantic.Field(min_length=1)
    findings: list[Finding] = []
    ncbi: NcbiTaxon | None = None

    @pydantic.model_validator(mode="after")
    def _consistent(self) -> TaxonEntry:
        if self.rank == "group":
            if not self.members or self.match:
                raise ValueError("a 'group' entry lists `members` and has no `match`")
            if self.ncbi is not None:
                raise ValueError("a 'group' entry sums other taxa and has no NCBI taxon")
            return self
        if self.members:
            raise ValueError("only 'group' entries have `members`")
        ranks = list(self.match)
        if not ranks or ranks[0] != self.rank:
            raise ValueError(f"`match` must start with the entry's rank {self.rank!r}; "
                             f"got {ranks}")
        depths = [RANKS.index(r) for r in ranks]
        if depths != sorted(depths, reverse=True) or len(set(depths)) != len(depths):
            raise ValueError(f"`match` ranks must go from the entry's rank upwards; got {ranks}")
        for rank, names in self.match.items():
            if not names:
                raise ValueError(f"`match.{rank}` is empty")
        return self

    def match_ranks(self) -> list[str]:
        """Return the ranks of ``match``, deepest (the entry's own) first."""
        return list(self.match)

    def spellings_at(self, rank: str) -> list[str]:
        """Return the spellings listed at ``rank`` (empty when the rank is not in ``match``)."""
        return next((list(v) for r, v in self.match.items() if r == rank), [])

    def names_at(self, rank: str) -> frozenset[str]:
        """Return the normalised spellings at ``rank`` (see :func:`normalise_taxon`)."""
        return frozenset(normalise_taxon(n) for n in self.spellings_at(rank))


class MdIndexList(_Frozen):
    """One version of the MD-index taxon lists."""

    id: str
    label: str
    status: Literal["current", "withdrawn"]
    rank: Rank
    increased: list[str] = pydantic.Field(min_length=1)
    decreased: list[str] = pydantic.Field(min_length=1)
    note: str | None = None
    sources: list[Source] = pydantic.Field(min_length=1)
    verified: bool

    @pydantic.model_validator(mode="after")
    def _disjoint(self) -> MdIndexList:
        both = sorted(set(self.increased) & set(self.decreased))
        if both:
            raise ValueError(f"list {self.id!r}: {both} are both increased and decreased")
        return self


class MdIndexDefinition(_Frozen):
    """The MD-index: its definition, sources and list versions."""

    name: str
    definition: str
    minus_infinity: str | None = None
    default: str
    sources: list[Source] = pydantic.Field(min_length=1)
    lists: list[MdIndexList] = pydantic.Field(min_length=1)

    @pydantic.model_validator(mode="after")
    def _default_exists(self) -> MdIndexDefinition:
        ids = [entry.id for entry in self.lists]
        if len(set(ids)) != len(ids):
            raise ValueError(f"duplicate MD-index list ids: {ids}")
        if self.default not in ids:
            raise ValueError(f"default {self.default!r} is not one of the lists {ids}")
        if self.get(self.default).status != "current":
            raise ValueError(f"the default list {self.default!r} is withdrawn")
        return self

    def get(self, list_id: str) -> MdIndexList:
        """Return the list called ``list_id``.

        Raises
        ------
        NotFoundError
            No such list (a ``KeyError``; the message names the valid ids).
        """
        for entry in self.lists:
            if entry.id == list_id:
                return entry
        raise NotFoundError("MD-index list", [str(list_id)], "the knowledge base",
                            available=[e.id for e in self.lists])


class GmhiSpeciesSet(_Frozen):
    """A GMHI species set: a package file, its size and SHA-256."""

    id: Literal["MH", "MN"]
    label: str
    file: str = pydantic.Field(pattern=r"^gmhi/[A-Za-z0-9_.-]+$")
    n: int = pydantic.Field(ge=1)
    sha256: str = pydantic.Field(pattern=r"^[0-9a-f]{64}$")


class GmhiDefinition(_Frozen):
    """GMHI: definition, species sets and sources."""

    name: str
    definition: str
    species_sets: list[GmhiSpeciesSet] = pydantic.Field(min_length=2, max_length=2)
    sources: list[Source] = pydantic.Field(min_length=1)

    @pydantic.model_validator(mode="after")
    def _both_sets(self) -> GmhiDefinition:
        if sorted(s.id for s in self.species_sets) != ["MH", "MN"]:
            raise ValueError("GMHI needs exactly the species sets MH and MN")
        return self


class IndexDefinitions(_Frozen):
    """The ``indices`` section."""

    md_index: MdIndexDefinition
    gmhi: GmhiDefinition


Taxonomy = Literal["silva", "gtdb", "greengenes", "greengenes2", "metaphlan", "ncbi"]


class SynonymName(_Frozen):
    """Another taxonomy's name for a taxon (see ``synonyms`` at the top of ``taxa.yaml``)."""

    name: str = pydantic.Field(min_length=2)
    taxonomies: list[Taxonomy] = pydantic.Field(min_length=1)
    relation: Literal["same", "wider", "part"]
    within: dict[Rank, str] = {}
    note: str | None = None
    sources: list[Source] = pydantic.Field(min_length=1)
    verified: bool


class Synonym(_Frozen):
    """The names other taxonomies give one name of this file."""

    name: str = pydantic.Field(min_length=2)
    rank: Rank
    names: list[SynonymName] = pydantic.Field(min_length=1)


@dataclasses.dataclass(frozen=True)
class Spelling:
    """One way a name of the catalogue may be written in a table.

    Attributes
    ----------
    name : str
        As the catalogue writes it.
    key : str
        :func:`normalise_taxon` of ``name``: what a table's names are compared with.
    synonym : SynonymName or None
        ``None`` for the catalogue's own name; else the synonym it comes from
        (its relation, ``within`` condition, taxonomies and sources).
    """

    name: str
    key: str
    synonym: SynonymName | None = None

    def allows(self, lineage: Mapping[str, object]) -> bool:
        """Tell whether a feature whose names at other ranks are ``lineage`` may match.

        A synonym with a ``within`` condition (``{family: Bacteroidaceae}``)
        matches only where the feature's name at that rank is unknown or
        equal to it.
        """
        if self.synonym is None:
            return True
        for rank, name in self.synonym.within.items():
            have = lineage.get(rank)
            if isinstance(have, str) and have.strip() and \
                    normalise_taxon(have) != normalise_taxon(name):
                return False
        return True


class TaxaCatalog(_Frozen):
    """The whole taxa file."""

    schema_version: int
    version: str
    taxa: list[TaxonEntry] = pydantic.Field(min_length=1)
    indices: IndexDefinitions
    synonyms: list[Synonym] = []
    _spelling_index: dict[tuple[str, str], tuple[Spelling, ...]] | None = \
        pydantic.PrivateAttr(default=None)

    @pydantic.model_validator(mode="after")
    def _check(self) -> TaxaCatalog:
        if self.schema_version != _SCHEMA_VERSION:
            raise ValueError(f"schema_version {self.schema_version} is not supported "
                             f"(expected {_SCHEMA_VERSION})")
        ids = [t.id for t in self.taxa]
        if len(set(ids)) != len(ids):
            dupes = sorted({i for i in ids if ids.count(i) > 1})
            raise ValueError(f"duplicate taxon ids: {dupes}")
        known = set(ids)
        for entry in self.taxa:
            unknown = [m for m in entry.members if m not in known]
            if unknown:
                raise ValueError(f"{entry.id}: members {unknown} are not taxon ids")
            nested = [m for m in entry.members if self.get(m).rank == "group"]
            if nested:
                raise ValueError(f"{entry.id}: members {nested} are groups themselves")
        seen: dict[tuple[str, str], str] = {}
        for syn in self.synonyms:
            own = (syn.rank, normalise_taxon(syn.name))
            if own in seen:
                raise ValueError(f"synonyms: {syn.name!r} ({syn.rank}) is listed twice")
            seen[own] = syn.name
        for syn in self.synonyms:
            for other in syn.names:
                key = (syn.rank, normalise_taxon(other.name))
                if key in seen:
                    raise ValueError(f"synonyms: {other.name!r} ({syn.rank}) names both "
                                     f"{seen[key]!r} and {syn.name!r}")
                seen[key] = syn.name
        return self

    def get(self, taxon_id: str) -> TaxonEntry:
        """Return the entry with id ``taxon_id``.

        Raises
        ------
        NotFoundError
            No such entry (close ids are suggested).
        """
        for entry in self.taxa:
            if entry.id == taxon_id:
                return entry
        raise NotFoundError("taxon id", [taxon_id], "the taxa catalogue",
                            available=[e.id for e in self.taxa])

    def panel(self) -> list[TaxonEntry]:
        """Return the entries shown in the key-taxa panel, in file order."""
        return [t for t in self.taxa if t.panel]

    def spellings(self, name: str, rank: str) -> tuple[Spelling, ...]:
        """Return the ways ``name`` (at ``rank``) may be written in a table.

        The name itself first, then the verified synonyms of ``synonyms``
        (unverified ones are kept in the file for review and not applied).
        Synonyms apply whatever a table's taxonomy: the ``taxonomies`` of a
        synonym say where it was seen, not where it is looked for.

        Parameters
        ----------
        name : str
            As this file writes it (a ``match`` spelling, an MD-index genus,
            a GMHI species ``s__Genus_species``).
        rank : str

        Returns
        -------
        tuple of Spelling

        Examples
        --------
        >>> [s.name for s in load_taxa_catalog().spellings("Escherichia", "genus")]
        ['Escherichia', 'Escherichia-Shigella']
        """
        return self._spellings().get((str(rank), normalise_taxon(name)),
                                     (Spelling(str(name), normalise_taxon(name)),))

    def _spellings(self) -> dict[tuple[str, str], tuple[Spelling, ...]]:
        cached = self._spelling_index
        if cached is None:
            cached = {}
            for syn in self.synonyms:
                own = Spelling(syn.name, normalise_taxon(syn.name))
                cached[(syn.rank, own.key)] = (own, *(
                    Spelling(other.name, normalise_taxon(other.name), other)
                    for other in syn.names if other.verified))
            self._spelling_index = cached
        return cached


def load_taxa_catalog(path: str | Path | None = None) -> TaxaCatalog:
    """Load the taxa catalogue: the bundled one, or a file in the same schema.

    Parameters
    ----------
    path : path, optional
        A YAML file in the ``taxa.yaml`` schema; by default the catalogue
        shipped with gutaxis.

    Raises
    ------
    FormatError
        The file cannot be read or is not UTF-8 text; not YAML, or an entry that
        breaks the schema (the message names the field).
    """
    return load_model(TaxaCatalog, "taxa.yaml", path)


@functools.cache
def gmhi_species_sets() -> dict[str, tuple[str, ...]]:
    """Load the GMHI species sets shipped with gutaxis, checked against their SHA-256.

    Returns
    -------
    dict
        ``{"MH": (7 names), "MN": (43 names)}``, MetaPhlAn2 species names
        (``s__Genus_species``) in file order.

    Raises
    ------
    FormatError
        A file whose SHA-256 or number of names differs from the catalogue.

    References
    ----------
    .. [1] Gupta, V. K. et al. (2020). A predictive index for health status
       using species-level gut microbiome profiling. *Nat. Commun.* 11, 4635.
       doi:10.1038/s41467-020-18476-8
    """
    sets: dict[str, tuple[str, ...]] = {}
    for spec in load_model(TaxaCatalog, "taxa.yaml").indices.gmhi.species_sets:
        data = resources.files("gutaxis.knowledge").joinpath(*spec.file.split("/")).read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if digest != spec.sha256:
            raise FormatError(f"gutaxis/knowledge/{spec.file}: SHA-256 {digest} differs from "
                              f"{spec.sha256} recorded in taxa.yaml; reinstall gutaxis")
        names = tuple(line.strip() for line in data.decode("utf-8").splitlines() if line.strip())
        if len(names) != spec.n:
            raise FormatError(f"gutaxis/knowledge/{spec.file}: {len(names)} species; "
                              f"taxa.yaml says {spec.n}")
        sets[spec.id] = names
    return sets
