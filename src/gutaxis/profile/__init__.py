"""One patient's gut–immune profile against a reference cohort.

Steps (each a module): ``reference`` (freeze a reference cohort),
``percentile`` (a patient's position with a bootstrap interval), ``chain``
(the gut–immune chain, link by link, from knowledge-base rules), ``options``
(evidence-graded options traced to findings), ``followup`` (change between
visits).  The shared result shapes are in ``_model``.
"""
