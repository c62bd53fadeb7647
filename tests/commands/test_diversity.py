"""gutaxis diversity as a command: DiversityOptions → run_diversity → DiversityResult.write."""

from __future__ import annotations

import json

import pytest

from builders.cohort import cohort_files
from gutaxis.commands import DiversityOptions, run_diversity
from gutaxis.exceptions import InputError, OutputError, UnknownMetricError, ValidationError


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return cohort_files(tmp_path_factory.mktemp("cohort"))


def test_a_second_run_with_fewer_metrics_leaves_no_stale_matrix(tmp_path, files):
    """gutaxis 0.1 left an old beta/jaccard.tsv beside a new run that did not compute it."""
    out = tmp_path / "out"
    run_diversity(DiversityOptions(table=files[0], metrics=("braycurtis", "jaccard"))).write(out)
    assert (out / "beta" / "jaccard.tsv").is_file()
    again = run_diversity(DiversityOptions(table=files[0], metrics=("braycurtis",)))
    with pytest.raises(OutputError, match="not empty"):
        again.write(out)
    again.write(out, overwrite=True)
    assert sorted(p.name for p in (out / "beta").iterdir()) == ["braycurtis.tsv"]


def test_samples_without_metadata_are_reported(tmp_path, files):
    table, metadata = files
    partial = tmp_path / "md.tsv"
    lines = metadata.read_text().splitlines()
    partial.write_text("\n".join(lines[:-3]) + "\n")  # three samples lose their row
    result = run_diversity(DiversityOptions(table=table, metadata=partial,
                                            metrics=("observed_features",)))
    assert result.study.n_samples == 21
    assert result.skipped["samples without metadata"].startswith("3 sample(s)")
    prov = json.loads(result.write(tmp_path / "out")["provenance"].read_text())
    assert prov["skipped"]["samples without metadata"].startswith("3 sample(s)")
    assert prov["schema_version"] == "1.1"


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"metrics": ("shannon",)}, UnknownMetricError, r"did you mean 'shannon_entropy'\?"),
    ({"metrics": ()}, ValidationError, r"give at least one metric name"),
    ({"rarefy": 0}, ValidationError, r"--rarefy must be an integer ≥ 1; got 0"),
    ({"shannon_base": 1.0}, ValidationError, r"--base must be a finite number > 0 other than 1"),
    ({"shannon_base": float("inf")}, ValidationError, r"--base must be a finite number > 0; "
                                                      r"got inf"),
    ({"threads": 0}, ValidationError, r"--threads must be an integer ≥ 1"),
])
def test_options_are_checked_when_made(files, kwargs, error, message):
    with pytest.raises(error, match=message):
        DiversityOptions(table=files[0], **kwargs)


def test_a_missing_file_names_its_option(tmp_path, files):
    with pytest.raises(InputError, match=r"^--tree .*nope\.nwk: no such file$"):
        DiversityOptions(table=files[0], tree=tmp_path / "nope.nwk")
    with pytest.raises(InputError, match=r"^TABLE .*: is a folder; expected a file$"):
        DiversityOptions(table=tmp_path)


def test_progress_ends_at_its_total_when_metrics_do_not_apply(tmp_path):
    """On relative abundances without a tree, count and tree metrics are left out: the bar
    counts only the steps that run (it used to end at 9 of 10)."""
    from pathlib import Path

    table = (Path(__file__).parents[1] / "indices" / "data"
             / "example_species_relative_abundances.csv")
    calls: list[tuple[str, int, int]] = []
    result = run_diversity(DiversityOptions(table=table),
                           on_step=lambda label, done, total: calls.append((label, done, total)))
    assert "chao1" in result.skipped and "faith_pd" in result.skipped
    ran = ["tree", *result.alpha.columns, *result.beta]   # looking for a tree is a step too
    assert [label for label, _, _ in calls] == ran
    assert calls[-1][1] == calls[-1][2] == len(ran)
    assert [done for _, done, _ in calls] == list(range(1, len(ran) + 1))
