"""Diary and challenge statistics: per-challenge verdicts with uncertainty, diary suspects.

A library (and the ``gutaxis challenge`` command) used by the patient portal.
"""
