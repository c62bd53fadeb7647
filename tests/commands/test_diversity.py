"""gutaxis diversity as a command: DiversityOptions → run_diversity → DiversityResult.write."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import skbio

from builders.cohort import cohort_files
from gutaxis.commands import DiversityOptions, run_diversity
from gutaxis.exceptions import InputError, OutputError, UnknownMetricError, ValidationError
from gutaxis.study import Study


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


# ------------------------------------------------------------------ empty samples
#: Two samples without reads (E1, E2) among four with reads.
EMPTY_IDS = ["E1", "A", "E2", "B", "C", "D"]
EMPTY_COUNTS = np.array([[0, 0, 0, 0, 0], [1, 2, 3, 0, 0], [0, 0, 0, 0, 0],
                         [4, 0, 1, 1, 0], [2, 2, 2, 2, 5], [0, 6, 1, 0, 3]])


@pytest.fixture
def with_empty(tmp_path):
    study = Study(EMPTY_COUNTS, EMPTY_IDS, [f"F{j}" for j in range(5)])
    path = tmp_path / "empty.biom.json"
    path.write_text(study.to_biom().to_json("test"))
    return path


def test_empty_samples_are_kept_with_the_values_scikit_bio_gives(with_empty, tmp_path):
    """No abort: alpha as scikit-bio defines it, beta metrics undefined on them skipped."""
    result = run_diversity(DiversityOptions(table=with_empty))
    alpha = result.alpha
    assert alpha.index.tolist() == EMPTY_IDS
    for ours, theirs in (("observed_features", "observed_features"), ("chao1", "chao1"),
                         ("shannon_entropy", "shannon"), ("simpson", "simpson"),
                         ("pielou_evenness", "pielou_e")):
        kw = {"base": 2} if theirs == "shannon" else {}
        expected = skbio.diversity.alpha_diversity(theirs, EMPTY_COUNTS, ids=EMPTY_IDS, **kw)
        # scikit-bio: 0 for observed features and Chao1, NaN for Shannon, Simpson, Pielou
        np.testing.assert_allclose(alpha[ours], expected, rtol=1e-12, equal_nan=True)
    assert alpha.loc[["E1", "E2"], "observed_features"].tolist() == [0, 0]
    assert alpha.loc[["E1", "E2"], "shannon_entropy"].isna().all()
    assert "braycurtis" not in result.beta and "aitchison" not in result.beta
    assert result.skipped["braycurtis"] == (
        "undefined between two samples with no reads, and 2 sample(s) have none (E1, E2); "
        "leave them out first (--drop-empty)")
    assert result.skipped["aitchison"].startswith("undefined for a sample with no reads")
    # Jaccard is defined on them: scipy / scikit-bio give 0 between two empty samples
    ref = skbio.diversity.beta_diversity("jaccard", EMPTY_COUNTS, ids=EMPTY_IDS)
    np.testing.assert_allclose(result.beta["jaccard"].data, ref.data, atol=1e-15)
    assert result.empty_samples == ("E1", "E2")
    assert result.notes["empty samples"] == (
        "2 sample(s) have no reads: E1, E2. Their values: observed_features 0, chao1 0. "
        "shannon_entropy, simpson, pielou_evenness are undefined for them (empty cells in "
        "alpha.tsv, as scikit-bio and QIIME 2 give NaN). --drop-empty leaves them out.")
    prov = json.loads(result.write(tmp_path / "out")["provenance"].read_text())
    assert prov["empty_samples"] == {"ids": ["E1", "E2"], "dropped": False}
    assert prov["parameters"]["drop_empty"] is False
    assert prov["notes"] == result.notes
    written = pd.read_csv(tmp_path / "out" / "alpha.tsv", sep="\t", index_col=0)
    assert written.loc["E1", "observed_features"] == 0
    assert np.isnan(written.loc["E1", "shannon_entropy"])


def test_drop_empty_leaves_them_out_and_says_which(with_empty, tmp_path):
    result = run_diversity(DiversityOptions(table=with_empty, drop_empty=True,
                                            metrics=("shannon_entropy", "braycurtis",
                                                     "aitchison")))
    kept = [i for i in EMPTY_IDS if i not in ("E1", "E2")]
    assert result.study.sample_ids.tolist() == kept
    nonempty = EMPTY_COUNTS[EMPTY_COUNTS.sum(axis=1) > 0]
    ref = skbio.diversity.beta_diversity("braycurtis", nonempty, ids=kept)
    np.testing.assert_allclose(result.beta["braycurtis"].data, ref.data, rtol=1e-12, atol=1e-15)
    expected = skbio.diversity.alpha_diversity("shannon", nonempty, ids=kept, base=2)
    np.testing.assert_allclose(result.alpha["shannon_entropy"], expected, rtol=1e-12)
    assert result.skipped["empty samples"] == ("2 sample(s) have no reads and are left out "
                                               "(--drop-empty): E1, E2")
    assert result.notes == {}
    prov = json.loads(result.write(tmp_path / "out")["provenance"].read_text())
    assert prov["empty_samples"] == {"ids": ["E1", "E2"], "dropped": True}
    assert prov["parameters"]["drop_empty"] is True
    assert {"step": "drop_empty_samples", "n_samples": 4} in prov["steps"]
    assert prov["n_samples"] == 4


def test_drop_empty_on_the_command_line(with_empty, tmp_path):
    from typer.testing import CliRunner

    from gutaxis.cli import app

    out = tmp_path / "cli"
    result = CliRunner().invoke(app, ["diversity", str(with_empty), "--drop-empty",
                                      "--metrics", "braycurtis", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "skipped empty samples: 2 sample(s) have no reads and are left out (--drop-empty): " \
           "E1, E2" in result.output
    assert skbio.DistanceMatrix.read(str(out / "beta" / "braycurtis.tsv")).ids == \
        ("A", "B", "C", "D")


def test_a_metric_asked_for_is_refused_before_the_tree(with_empty, tmp_path):
    """Asked for by name, Bray–Curtis on two empty samples stops the run before any step
    (the tree given would fail: it lacks a feature; it is never read)."""
    tree = tmp_path / "tree.nwk"
    tree.write_text("((F0:1,F1:1):1,F2:1);\n")
    steps: list[str] = []
    options = DiversityOptions(table=with_empty, tree=tree, metrics=("faith_pd", "braycurtis"))
    with pytest.raises(InputError, match=r"^braycurtis cannot be computed on .*empty\.biom\.json: "
                                         r"undefined between two samples with no reads, and 2 "
                                         r"sample\(s\) have none \(E1, E2\); leave them out first "
                                         r"\(--drop-empty\)$"):
        run_diversity(options, on_step=lambda label, done, total: steps.append(label))
    assert steps == []


def test_rarefying_drops_empty_samples_so_every_metric_applies(with_empty):
    result = run_diversity(DiversityOptions(table=with_empty, rarefy=5, seed=1,
                                            metrics=("braycurtis",)))
    assert result.rarefaction["dropped"] == ["E1", "E2"]
    assert "braycurtis" in result.beta and "braycurtis" not in result.skipped


def test_every_sample_empty(tmp_path):
    path = tmp_path / "zero.json"
    path.write_text(Study(np.zeros((3, 2)), ["a", "b", "c"], ["f", "g"]).to_biom().to_json("t"))
    for drop in (False, True):
        with pytest.raises(ValidationError, match=r"every sample of .*zero\.json has no reads "
                                                  r"\(3 sample\(s\)\); there is no diversity"):
            run_diversity(DiversityOptions(table=path, drop_empty=drop))


def test_rarefaction_that_cannot_run_is_refused_before_any_step(with_empty, tmp_path):
    steps: list[str] = []
    with pytest.raises(InputError, match=r"^--rarefy 1000: every sample has fewer reads; the "
                                         r"deepest has 13\. Choose a depth ≤ 13$"):
        run_diversity(DiversityOptions(table=with_empty, rarefy=1000),
                      on_step=lambda label, done, total: steps.append(label))
    relative = tmp_path / "rel.json"
    relative.write_text(Study(np.array([[0.5, 0.5], [0.2, 0.8]]), ["a", "b"], ["f", "g"],
                              kind="relative").to_biom().to_json("t"))
    with pytest.raises(InputError, match=r"--rarefy subsamples reads, and .*rel\.json holds "
                                         r"relative abundances"):
        run_diversity(DiversityOptions(table=relative, rarefy=10),
                      on_step=lambda label, done, total: steps.append(label))
    assert steps == []


def test_drop_empty_must_be_a_flag(with_empty):
    with pytest.raises(InputError, match=r"--drop-empty must be a bool; got str 'yes'"):
        DiversityOptions(table=with_empty, drop_empty="yes")
