"""FHIR R4 (4.0.1) both ways: lab results in, profiles, answers and plans out.

Lab results arrive as a FHIR ``Bundle`` (or one ``DiagnosticReport`` /
``Observation``) and become the rows of the ``LABS.csv`` layout that
:func:`gutaxis.markers.read_labs` reads; a visit's profile, a patient's
questionnaire answers and plan leave as FHIR resources that any clinic system
reads.  Every name is imported on first use (the command line starts without
the FHIR models).
"""

from gutaxis.lazy import lazy_attributes as _lazy_attributes

__all__: list[str] = []

_LAZY: dict[str, str] = {}

_LAZY.update({n: "read" for n in ("read_lab_bundle", "LabBundle", "SkippedResult", "BundlePatient")})  # noqa: E501

_LAZY.update({n: "write" for n in ("profile_bundle", "patient_resource", "questionnaire_response_resource", "care_plan_resource", "nutrition_order_resource", "bundle", "resource_uuid")} | {"gutaxis_code_system": "codes", "gutaxis_concepts": "codes"})  # noqa: E501

_LAZY.update({"lab_report_bundle": "lab_report", "LAB_FLAGS": "lab_report"})
__all__ += list(_LAZY)
__getattr__ = _lazy_attributes(__name__, _LAZY)
