"""Questionnaires defined as data in the shape of a FHIR R4 ``Questionnaire``.

Loading and validating definitions, scoring answers (totals, subscales) and
comparing scores against a published minimal important difference.
"""
