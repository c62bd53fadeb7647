"""gutaxis analyze as a command: AnalysisOptions → run_analysis → AnalysisResult.write."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import zipfile

import h5py
import numpy as np
import pytest
import yaml

from builders.cohort import cohort_files
from gutaxis import io as gio
from gutaxis.cohort import CohortParameters
from gutaxis.commands import AnalysisOptions, AnalysisResult, default, run_analysis
from gutaxis.exceptions import InputError, OutputError, SampleMismatchError, ValidationError

FAST = {"permutations": 19, "cv_folds": 3, "cv_repeats": 1, "n_estimators": 10,
        "mc_samples": 8}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return cohort_files(tmp_path_factory.mktemp("cohort"))


def _options(files, **kw) -> AnalysisOptions:
    table, metadata = files
    return AnalysisOptions(table=table, metadata=metadata,
                           parameters=CohortParameters("Diagnosis", **FAST), **kw)


def test_run_computes_and_write_writes(tmp_path, files, monkeypatch):
    monkeypatch.chdir(tmp_path)
    inputs = sorted(p.name for p in files[0].parent.iterdir())
    result = run_analysis(_options(files, markers=("LPSpgml", "CRP=mg/L")))
    # nothing written before .write: not here, not beside the inputs
    assert list(tmp_path.iterdir()) == []
    assert sorted(p.name for p in files[0].parent.iterdir()) == inputs
    written = result.write(tmp_path / "out")
    assert written["results"] == tmp_path / "out" / "results.json"
    assert written["report"].is_file() and written["marker_tests"].is_file()
    doc = json.loads(written["results"].read_text())
    assert doc["schema_version"] == "2.1" and doc["markers"]["LPS"]["higher_in"] == "case"
    prov = json.loads(written["provenance"].read_text())
    assert [r["role"] for r in prov["inputs"]] == ["table", "metadata"]
    assert all(len(r["sha256"]) == 64 and r["bytes"] > 0 for r in prov["inputs"])


def test_the_matrices_in_the_formats_big_studies_use(tmp_path, files):
    result = run_analysis(_options(files, output_format="qza"))
    analysis = result.analysis
    written = result.write(tmp_path / "qza")
    names = sorted(analysis.beta)
    assert names and all(f"pcoa/{name}" in written for name in names)
    for name in names:
        dm = analysis.beta[name]
        with zipfile.ZipFile(written[f"beta/{name}"]) as zf:  # as QIIME 2 opens it
            meta = next(n for n in zf.namelist() if n.endswith("/metadata.yaml")
                        and n.count("/") == 1)
            assert yaml.safe_load(zf.read(meta))["type"] == "DistanceMatrix"
        assert np.array_equal(gio.read_lsmat(written[f"beta/{name}"]).data, dm.data)
        with zipfile.ZipFile(written[f"pcoa/{name}"]) as zf:
            meta = next(n for n in zf.namelist() if n.endswith("/metadata.yaml")
                        and n.count("/") == 1)
            assert yaml.safe_load(zf.read(meta))["type"] == "PCoAResults"
    # hdf5, float32: Striped UniFrac's layout, with the analysis's PCoA in the file
    options = dataclasses.replace(result.options, output_format="hdf5", precision="float32")
    written = AnalysisResult(options, analysis).write(tmp_path / "h5")
    for name in names:
        dm, ordination = analysis.beta[name], analysis.ordinations[name]
        assert written[f"beta/{name}"] == tmp_path / "h5" / "beta" / f"{name}.h5"
        with h5py.File(written[f"beta/{name}"], "r") as f_u:
            assert [c.decode("ascii") for c in f_u["order"][:]] == [str(i) for i in dm.ids]
            assert np.array_equal(f_u["matrix"][:, :], dm.data.astype(np.float32))
            assert np.allclose(f_u["pcoa_samples"][:, :], ordination.coordinates, atol=1e-12)
    assert (tmp_path / "h5" / "report.html").is_file()
    prov = json.loads(written["provenance"].read_text())["parameters"]
    assert (prov["format"], prov["precision"]) == ("hdf5", "float32")
    assert prov["permutations"] == FAST["permutations"]  # the analysis's own, kept
    assert not list((tmp_path / "h5" / "beta").glob("*.tsv"))


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"output_format": "xlsx"}, r"--format must be one of tsv, hdf5, qza, zarr; got 'xlsx'"),
    ({"precision": "float32"}, r"--precision float32 applies to --format hdf5 or zarr"),
])
def test_format_options_are_checked(files, kwargs, message):
    with pytest.raises(ValidationError, match=message):
        _options(files, **kwargs)


def test_zarr_without_the_zarr_package_is_refused_before_the_analysis(files, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "zarr" else real(name, *a))
    # at the options, so nothing is computed and an earlier run's folder is untouched
    with pytest.raises(InputError, match=r"--format zarr needs zarr: pip install "
                                         r"'gutaxis\[distributed\]'"):
        _options(files, output_format="zarr")


def test_a_bad_format_on_the_command_line_is_one_clear_line(tmp_path, files):
    table, metadata = files
    proc = subprocess.run([sys.executable, "-m", "gutaxis.cli", "analyze", str(table),
                           "--metadata", str(metadata), "--group", "Diagnosis", "--format",
                           "xls", "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "error: --format must be one of tsv, hdf5, qza, zarr; got 'xls'" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not (tmp_path / "out").exists()


def test_rerunning_into_the_same_folder_never_mixes_results(tmp_path, files):
    """gutaxis 0.1 left the old marker_*.tsv next to a new run without markers."""
    out = tmp_path / "out"
    run_analysis(_options(files, markers=("LPSpgml",))).write(out)
    assert (out / "marker_tests.tsv").is_file()
    (out / "my-notes.txt").write_text("keep")
    without = run_analysis(_options(files))
    with pytest.raises(OutputError, match=r"out is not empty .*--overwrite"):
        without.write(out)
    without.write(out, overwrite=True)
    assert not list(out.glob("marker_*.tsv"))  # the stale tables are gone
    assert json.loads((out / "results.json").read_text())["markers"] == {}
    assert (out / "my-notes.txt").read_text() == "keep"


@pytest.mark.parametrize(("field", "flag"), [("table", "TABLE"), ("metadata", "--metadata"),
                                             ("tree", "--tree"), ("sequences", "--sequences"),
                                             ("markers_file", "--markers-file"),
                                             ("taxonomy", "--taxonomy")])
def test_a_missing_input_is_one_clear_error(tmp_path, files, field, flag):
    table, metadata = files
    kwargs = {"table": table, "metadata": metadata, field: tmp_path / "absent.tsv"}
    with pytest.raises(InputError, match=rf"^{flag} .*absent\.tsv: no such file$"):
        AnalysisOptions(parameters=CohortParameters("Diagnosis"), **kwargs)


def test_the_analysis_needs_metadata(files):
    with pytest.raises(InputError, match=r"needs sample metadata \(--metadata\)"):
        AnalysisOptions(table=files[0], parameters=CohortParameters("Diagnosis"))


def test_too_few_shared_samples_between_table_and_metadata(tmp_path, files):
    md = tmp_path / "md.tsv"
    md.write_text("id\tDiagnosis\nS00\tctrl\nS01\tcase\nX9\tctrl\n")
    with pytest.raises(SampleMismatchError, match="6 needed"):
        run_analysis(AnalysisOptions(table=files[0], metadata=md,
                                     parameters=CohortParameters("Diagnosis")))


def test_defaults_live_in_one_place():
    assert default(CohortParameters, "permutations") == 999
    assert default(AnalysisOptions, "save_model") is False
    assert CohortParameters("x").rarefy_depth == "auto"


def test_groups_and_people_are_checked_before_the_tree(files, monkeypatch):
    """A design the analysis will refuse is refused before the (slow) tree is built."""
    from gutaxis.commands import analyze as analyze_command
    from gutaxis.exceptions import ValidationError

    def no_tree(*args, **kwargs):
        raise AssertionError("the tree was built before the groups were checked")

    monkeypatch.setattr(analyze_command, "attach_tree", no_tree)
    table, metadata = files
    small = AnalysisOptions(table=table, metadata=metadata, parameters=CohortParameters(
        "Diagnosis", where="Diagnosis == 'case' or LPSpgml > 81.5", **FAST))
    with pytest.raises(ValidationError, match=r"every group needs at least 3 samples"):
        run_analysis(small)
