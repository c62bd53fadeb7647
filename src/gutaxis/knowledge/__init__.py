"""The knowledge base: versioned data files with their sources.

Clinical content (markers, units, cut-offs, what a marker indicates, taxon
claims, the gut–immune chain's rules, the options of the 5R framework and
their evidence) is data in YAML files shipped with the package, never
constants in code.  Each file has a ``schema_version`` and a ``version``;
every entry names at least one source (DOI, PMID, guideline or URL).  The
loaders validate the files with pydantic models, so a malformed entry fails
loudly (and the test suite checks the shipped files).

Everything outside this package imports from here, never from its private
modules.

Markers (``markers.yaml``)
    :func:`load_marker_catalog`, :class:`MarkerCatalog`, :class:`MarkerEntry`,
    :class:`Cutoff`, :func:`classify`, :class:`Source`.
Taxa (``taxa.yaml``, ``gmhi/``)
    :func:`load_taxa_catalog`, :class:`TaxaCatalog`, :class:`TaxonEntry`,
    :class:`Association`, :class:`Finding`, :class:`MdIndexList`,
    :class:`Synonym`, :class:`SynonymName`, :class:`Spelling`, :class:`NcbiTaxon`,
    :func:`gmhi_species_sets`, :func:`normalise_taxon`.
The chain (``chain.yaml``)
    :func:`load_chain`, :class:`ChainCatalog`, :class:`ChainLink`,
    :class:`Condition`, :data:`LINK_IDS`, :data:`JUDGED_STATUSES`,
    :func:`source_label`.
Options (``interventions.yaml``)
    :func:`load_interventions`, :class:`InterventionCatalog`,
    :class:`Intervention`, :class:`LinkTrigger`, :data:`STEP_IDS`.
Challenges (``challenge.yaml``)
    :func:`load_challenge_knowledge`, :class:`ChallengeKnowledge`,
    :class:`MeaningfulWorsening`, :class:`ProtocolTemplate`, :class:`DayRange`.
Foods (``foods.yaml``)
    :func:`load_food_catalog`, :class:`FoodCatalog`, :class:`FoodGroup`,
    :class:`Food`, :class:`GroupMembership`: foods, the elimination and FODMAP
    groups they belong to (each membership with its sources, or marked
    ``not_in_open_source``), free text mapped to foods.
The Bristol Stool Form Scale (``bristol.yaml``)
    :func:`load_bristol_scale`, :class:`BristolScale`, :class:`BristolType`:
    the seven stool types described in our own words, with the scale's source.
FHIR codes (``fhir.yaml``)
    :func:`load_fhir_knowledge`, :class:`FhirKnowledge`, :class:`FhirConcept`,
    :class:`FhirCodeSystemInfo`: the gutaxis CodeSystem's URL and the concepts
    not drawn from the other files (the report, Shannon entropy, percentiles).
Questionnaires (``questionnaires/*.json``)
    FHIR ``Questionnaire`` definitions shipped as data; read them with
    :func:`gutaxis.questionnaires.bundled_questionnaires`.
"""

from gutaxis.knowledge._bristol import BristolScale, BristolType, load_bristol_scale
from gutaxis.knowledge._chain import (
    JUDGED_STATUSES,
    LINK_IDS,
    ChainCatalog,
    ChainLink,
    Condition,
    load_chain,
    source_label,
)
from gutaxis.knowledge._challenge import (
    ChallengeKnowledge,
    DayRange,
    MeaningfulWorsening,
    ProtocolTemplate,
    load_challenge_knowledge,
)
from gutaxis.knowledge._fhir import (
    FhirCodeSystemInfo,
    FhirConcept,
    FhirKnowledge,
    load_fhir_knowledge,
)
from gutaxis.knowledge._foods import (
    Food,
    FoodCatalog,
    FoodGroup,
    GroupMembership,
    load_food_catalog,
)
from gutaxis.knowledge._interventions import (
    STEP_IDS,
    Intervention,
    InterventionCatalog,
    LinkTrigger,
    load_interventions,
)
from gutaxis.knowledge._markers import (
    Cutoff,
    MarkerCatalog,
    MarkerEntry,
    Source,
    classify,
    load_marker_catalog,
)
from gutaxis.knowledge._taxa import (
    Association,
    Finding,
    MdIndexList,
    NcbiTaxon,
    Spelling,
    Synonym,
    SynonymName,
    TaxaCatalog,
    TaxonEntry,
    gmhi_species_sets,
    load_taxa_catalog,
    normalise_taxon,
)

__all__ = [
    "MarkerCatalog", "MarkerEntry", "Cutoff", "Source", "classify", "load_marker_catalog",
    "TaxaCatalog", "TaxonEntry", "Association", "Finding", "MdIndexList", "load_taxa_catalog",
    "NcbiTaxon",
    "Synonym", "SynonymName", "Spelling", "gmhi_species_sets", "normalise_taxon",
    "ChainCatalog", "ChainLink", "Condition", "LINK_IDS", "JUDGED_STATUSES", "load_chain",
    "source_label",
    "InterventionCatalog", "Intervention", "LinkTrigger", "STEP_IDS", "load_interventions",
    "FoodCatalog", "FoodGroup", "Food", "GroupMembership", "load_food_catalog",
    "BristolScale", "BristolType", "load_bristol_scale",
    "ChallengeKnowledge", "MeaningfulWorsening", "ProtocolTemplate", "DayRange",
    "load_challenge_knowledge",
    "FhirKnowledge", "FhirConcept", "FhirCodeSystemInfo", "load_fhir_knowledge",
]
