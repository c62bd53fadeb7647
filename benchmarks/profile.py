"""Benchmark: one patient's profile against a 1,000-sample reference.

The issue's target: a profile (indices, percentiles with 2,000 bootstrap
replicates, chain, options, JSON and HTML) in under 1 s against a
1,000-sample reference, PDF excluded.  No peer tool profiles a patient this
way, so there is no ratio; the PDF time is printed separately.

The reference is made from the bundled ME/CFS study so that taxonomy, key
taxa and markers are real: 1,000 samples, each a multinomial redraw (at the
original depth) of a randomly chosen study sample, with its markers
multiplied by log-normal noise (sd 0.2).

Run: ``.venv/bin/python -m benchmarks.profile [--quick]``
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from gutaxis import Study
from gutaxis.io import read_example
from gutaxis.markers import marker_panel
from gutaxis.profile import build_profile
from gutaxis.reference import build_reference, load_reference, save_reference
from gutaxis.report import profile_document, render_profile_html, write_profile

MARKERS = ["LPSpgml", "LBPugml", "sCD14ugml", "IFABPpgml"]


def resampled_study(n: int, seed: int = 0) -> Study:
    """``n`` samples redrawn from the bundled study (see the module docstring)."""
    study = read_example()
    assert study.samples is not None
    rng = np.random.default_rng(seed)
    dense = study.counts.toarray()
    picks = rng.integers(0, study.n_samples, size=n)
    counts = np.vstack([rng.multinomial(int(dense[i].sum()), dense[i] / dense[i].sum())
                        for i in picks])
    ids = [f"R{j:05d}" for j in range(n)]
    md = study.samples.iloc[picks][MARKERS + ["Subject"]].copy()
    md[MARKERS] = md[MARKERS].to_numpy() * rng.lognormal(0, 0.2, size=(n, len(MARKERS)))
    md.index = pd.Index(ids, name="sample_id")
    return Study(counts, ids, list(study.feature_ids), taxonomy=study.taxonomy,
                 samples=md, source="resampled bundled study")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 reference samples, 2 repeats")
    args = parser.parse_args()
    n_ref, repeats = (200, 2) if args.quick else (1000, 5)

    cohort = resampled_study(n_ref)
    panel = marker_panel(cohort.samples, MARKERS)
    t0 = time.perf_counter()
    reference = build_reference(cohort, name="resampled", markers=panel)
    build_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        save_reference(reference, Path(tmp) / "ref")
        t0 = time.perf_counter()
        reference = load_reference(Path(tmp) / "ref")
        load_s = time.perf_counter() - t0

        patient = read_example()
        patient_panel = marker_panel(patient.samples, MARKERS)
        sample = sorted(patient.samples.index[patient.samples["Subject"] == "Patient"])[0]
        build_profile(patient, sample, reference, markers=patient_panel)  # warm imports
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            profile = build_profile(patient, sample, reference, markers=patient_panel)
            profile_document(profile)
            render_profile_html(profile)
            times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        write_profile(profile, Path(tmp) / "out", pdf=True)
        with_pdf_s = time.perf_counter() - t0

    print(f"reference: {reference.n_samples} samples (build {build_s:.2f} s, load {load_s:.2f} s)")
    print(f"profile (build + JSON + HTML, no PDF), median of {repeats}: "
          f"{statistics.median(times):.3f} s (min {min(times):.3f}, max {max(times):.3f}); "
          f"target < 1 s")
    print(f"write_profile with PDF: {with_pdf_s:.2f} s")


if __name__ == "__main__":
    main()
