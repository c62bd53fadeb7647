"""``gutaxis diversity --format tsv|hdf5|qza|zarr``: each written, read back equal to the TSV."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from builders.cohort import cohort_files
from gutaxis import io as gio
from gutaxis.cli import app
from gutaxis.commands import DiversityOptions, run_diversity
from gutaxis.exceptions import ValidationError


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return Path(cohort_files(tmp_path_factory.mktemp("cohort"))[0])


@pytest.fixture(scope="module")
def reference(table: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tsv")
    run_diversity(DiversityOptions(table=table, metrics=("braycurtis", "shannon_entropy"))
                  ).write(out, overwrite=True)
    return out


def test_hdf5_with_pcoa_on_the_command_line(table: Path, reference: Path, tmp_path: Path) -> None:
    out = tmp_path / "h5"
    result = CliRunner().invoke(app, ["diversity", str(table), "--metrics", "braycurtis",
                                      "--format", "hdf5", "--precision", "float32",
                                      "--pcoa", "3", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"beta diversity (braycurtis): {out / 'beta' / 'braycurtis.h5'}" in result.output
    tsv = gio.read_lsmat(reference / "beta" / "braycurtis.tsv")
    with h5py.File(out / "beta" / "braycurtis.h5", "r") as f_u:  # as unifrac reads it
        assert f_u["matrix"].dtype == np.float32
        assert [c.decode("ascii") for c in f_u["order"][:]] == list(tsv.ids)
        assert np.array_equal(f_u["matrix"][:, :], tsv.data.astype(np.float32))
        assert f_u["pcoa_samples"].shape == (len(tsv.ids), 3)
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["parameters"]["format"] == "hdf5"
    assert prov["parameters"]["precision"] == "float32"
    assert prov["parameters"]["pcoa"] == 3


def test_qza_writes_artifacts_for_alpha_beta_and_pcoa(table: Path, reference: Path,
                                                     tmp_path: Path) -> None:
    options = DiversityOptions(table=table, metrics=("braycurtis", "shannon_entropy"),
                               output_format="qza", pcoa=2)
    written = run_diversity(options).write(tmp_path / "qza")
    assert set(written) >= {"alpha", "alpha/shannon_entropy", "beta/braycurtis",
                            "pcoa/braycurtis", "provenance"}
    tsv = gio.read_lsmat(reference / "beta" / "braycurtis.tsv")
    back = gio.read_lsmat(written["beta/braycurtis"])
    assert list(back.ids) == list(tsv.ids)
    assert np.array_equal(back.data, tsv.data)
    alpha = gio.read_qza(written["alpha/shannon_entropy"]).value
    expected = (reference / "alpha.tsv").read_text().splitlines()
    assert alpha.name == "shannon_entropy"
    assert len(alpha) == len(expected) - 1
    with zipfile.ZipFile(written["pcoa/braycurtis"]) as zf:
        root = zf.namelist()[0].split("/")[0]
        assert yaml.safe_load(zf.read(f"{root}/metadata.yaml"))["type"] == "PCoAResults"
        prov = json.loads(zf.read(f"{root}/provenance/action/gutaxis-provenance.json"))
    assert prov["parameters"]["format"] == "qza"


def test_zarr_reads_back_equal(table: Path, reference: Path, tmp_path: Path) -> None:
    written = run_diversity(DiversityOptions(table=table, metrics=("braycurtis",),
                                             output_format="zarr")).write(tmp_path / "z")
    tsv = gio.read_lsmat(reference / "beta" / "braycurtis.tsv")
    back = gio.read_distance_zarr(written["beta/braycurtis"])
    assert list(back.ids) == list(tsv.ids)
    assert np.array_equal(back.data, tsv.data)
    assert back.metric == "braycurtis"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"output_format": "csv"}, r"--format must be one of tsv, hdf5, qza, zarr; got 'csv'"),
    ({"precision": "float16", "output_format": "hdf5"},
     r"--precision must be float64 or float32; got 'float16'"),
    ({"precision": "float32"}, r"--precision float32 applies to --format hdf5 or zarr"),
    ({"pcoa": 3}, r"--pcoa is written with --format hdf5 .* not with --format tsv"),
    ({"pcoa": 0, "output_format": "hdf5"}, r"--pcoa must be an integer ≥ 1"),
    # both were ignored without a word
    ({"pcoa": 3, "output_format": "hdf5", "metrics": ("shannon_entropy",)},
     r"--pcoa ordinates the beta diversity matrices, and --metrics shannon_entropy holds none"),
    ({"tile_size": 16}, r"--tile-size sets the chunks of --format zarr .* with --format tsv"),
])
def test_format_options_are_checked(table: Path, kwargs: dict[str, object],
                                    message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        DiversityOptions(table=table, **kwargs)  # type: ignore[arg-type]


def test_more_axes_than_samples_says_how_many_were_written(table: Path) -> None:
    result = run_diversity(DiversityOptions(table=table, metrics=("braycurtis",),
                                            output_format="hdf5", pcoa=10_000))
    n = result.study.n_samples
    assert result.pcoa["braycurtis"].coordinates.shape[1] <= n
    assert result.notes["pcoa"] == (f"--pcoa 10000: {n} samples give at most {n} axes; "
                                    f"{n} written")
    assert "pcoa" not in run_diversity(DiversityOptions(
        table=table, metrics=("braycurtis",), output_format="hdf5", pcoa=2)).notes
