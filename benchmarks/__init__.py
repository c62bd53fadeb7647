"""Benchmarks of gutaxis against scikit-bio (``make bench``; not part of the tests).

See ``benchmarks/README.md``.
"""
