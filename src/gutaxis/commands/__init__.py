"""The commands: one options object in, one result object out, ``.write(folder)``.

The public entry layer that the command line (:mod:`gutaxis.cli`) — and the
web service to come — call.  Each command has a frozen options class,
validated once when it is made (defaults live there, and in
:class:`~gutaxis.cohort.CohortParameters` for the analysis), a ``run_*``
function that reads and computes but writes nothing, and a result class whose
``write(folder, overwrite=False)`` writes the files by the one output rule of
:mod:`gutaxis.outputs`.

- ``gutaxis diversity``: :class:`DiversityOptions`, :func:`run_diversity`,
  :class:`DiversityResult`
- ``gutaxis analyze``: :class:`AnalysisOptions`, :func:`run_analysis`,
  :class:`AnalysisResult`
- ``gutaxis indices``: :class:`IndicesOptions`, :func:`run_indices`,
  :class:`IndicesResult`
- ``gutaxis reference build``: :class:`ReferenceOptions`,
  :func:`run_reference_build`, :class:`ReferenceResult`
- ``gutaxis profile``: :class:`ProfileOptions`, :func:`run_profile`,
  :class:`ProfileResult`
- ``gutaxis challenge verdicts``: :class:`ChallengeOptions`, :func:`run_challenge`,
  :class:`ChallengeResult`
- ``gutaxis labs import``: :class:`LabsImportOptions`, :func:`run_labs_import`,
  :class:`LabsImportResult` (lab results from FHIR R4 JSON into a ``LABS.csv``)
- ``gutaxis demo``: a folder, :func:`run_demo`, :class:`DemoResult`

Examples
--------
>>> from gutaxis.commands import IndicesOptions, run_indices
>>> from gutaxis.io import example_dataset
>>> result = run_indices(IndicesOptions(table=example_dataset().table))
>>> result.frame.shape
(87, 14)
"""

from gutaxis.commands._inputs import TableOptions, default
from gutaxis.commands.analyze import ANALYSIS_FILES, AnalysisOptions, AnalysisResult, run_analysis
from gutaxis.commands.challenge import (
    CHALLENGE_FILES,
    ChallengeOptions,
    ChallengeResult,
    food_groups_of,
    run_challenge,
)
from gutaxis.commands.demo import DEMO_MARKERS, DEMO_REFERENCE, DemoResult, run_demo
from gutaxis.commands.diversity import (
    DIVERSITY_FILES,
    DiversityOptions,
    DiversityResult,
    run_diversity,
)
from gutaxis.commands.indices import INDICES_FILES, IndicesOptions, IndicesResult, run_indices
from gutaxis.commands.labs import LabsImportOptions, LabsImportResult, run_labs_import
from gutaxis.commands.profile import ProfileOptions, ProfileResult, run_profile
from gutaxis.commands.reference import ReferenceOptions, ReferenceResult, run_reference_build

__all__ = [
    "TableOptions", "default",
    "DiversityOptions", "DiversityResult", "run_diversity", "DIVERSITY_FILES",
    "AnalysisOptions", "AnalysisResult", "run_analysis", "ANALYSIS_FILES",
    "IndicesOptions", "IndicesResult", "run_indices", "INDICES_FILES",
    "ReferenceOptions", "ReferenceResult", "run_reference_build",
    "ProfileOptions", "ProfileResult", "run_profile",
    "DemoResult", "run_demo", "DEMO_MARKERS", "DEMO_REFERENCE",
    "ChallengeOptions", "ChallengeResult", "run_challenge", "CHALLENGE_FILES", "food_groups_of",
    "LabsImportOptions", "LabsImportResult", "run_labs_import",
]
