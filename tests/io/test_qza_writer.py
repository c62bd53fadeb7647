"""``.qza`` artifacts written by gutaxis, opened as QIIME 2 opens them and read back."""

from __future__ import annotations

import hashlib
import io
import re
import uuid
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skbio
import yaml

from gutaxis.distance import DistanceMatrix
from gutaxis.exceptions import ValidationError
from gutaxis.io import (
    read_lsmat,
    read_qza,
    write_alpha_qza,
    write_distance_matrix_qza,
    write_pcoa_qza,
    write_qza,
)
from gutaxis.ordination import pcoa

# qiime2/core/archive/provenance_lib/util.py: the VERSION file QIIME 2's parser accepts
_VERSION_MATCHER = (r"QIIME 2\n"
                    r"archive: [0-9]{1,2}$\n"
                    r"framework: "
                    r"(?:20[0-9]{2}|2)\.(?:[1-9][0-2]?|0)\.[0-9](?:\.dev[0-9]?)?"
                    r"(?:\+[.\w]+)?\Z")


def _open_as_qiime2(path: Path) -> tuple[zipfile.ZipFile, str, dict[str, str]]:
    """What qiime2's Archiver does on load, and what its checksum validator checks."""
    zf = zipfile.ZipFile(path)
    roots = {name.split("/")[0] for name in zf.namelist() if not name.startswith(".")}
    assert len(roots) == 1  # "Archive has multiple root directories"
    root = roots.pop()
    assert uuid.UUID(root).version == 4  # is_uuid4
    header, version_line, framework_line, eof = zf.read(f"{root}/VERSION").decode().split("\n")
    assert header == "QIIME 2" and eof == ""
    assert version_line.split(":")[1].strip() == "6"
    assert re.match(_VERSION_MATCHER, zf.read(f"{root}/VERSION").decode().strip(),
                    re.MULTILINE)
    metadata = yaml.safe_load(zf.read(f"{root}/metadata.yaml"))
    assert metadata["uuid"] == root
    # checksums.md5: every file but itself, each md5 right (md5sum_directory_zip)
    listed = {}
    for line in zf.read(f"{root}/checksums.md5").decode().splitlines():
        digest, relpath = line.split("  ", 1)
        listed[relpath] = digest
    actual = {name.split("/", 1)[1]: hashlib.md5(zf.read(name)).hexdigest()
              for name in zf.namelist() if not name.endswith("/checksums.md5")}
    assert listed == actual
    for required in ("provenance/VERSION", "provenance/metadata.yaml",
                     "provenance/citations.bib", "provenance/action/action.yaml"):
        assert required in actual
    return zf, root, metadata


def _matrix(n: int) -> DistanceMatrix:
    points = np.random.default_rng(n).normal(size=(n, 4))
    data = np.sqrt(((points[:, None, :] - points[None, :, :]) ** 2).sum(axis=2))
    np.fill_diagonal(data, 0.0)
    return DistanceMatrix(pd.Index([f"S.{i}" for i in range(n)], dtype=object), data)


def test_distance_matrix_artifact(tmp_path: Path) -> None:
    dm = _matrix(9)
    path = tmp_path / "dm.qza"
    record = {"command": ["gutaxis", "diversity"], "schema_version": "1.1"}
    art = write_distance_matrix_qza(dm, path, provenance=record)
    zf, root, metadata = _open_as_qiime2(path)
    assert root == art
    assert metadata == {"uuid": art, "type": "DistanceMatrix",
                        "format": "DistanceMatrixDirectoryFormat"}
    action = yaml.safe_load(zf.read(f"{root}/provenance/action/action.yaml"))
    assert action["action"]["type"] == "import"
    assert action["action"]["manifest"] == [
        {"name": "distance-matrix.tsv",
         "md5sum": hashlib.md5(zf.read(f"{root}/data/distance-matrix.tsv")).hexdigest()}]
    assert action["environment"]["plugins"]["gutaxis"]["version"]
    import json
    assert json.loads(zf.read(f"{root}/provenance/action/gutaxis-provenance.json")) == record
    # scikit-bio reads the inner file; gutaxis reads the artifact
    theirs = skbio.DistanceMatrix.read(io.StringIO(
        zf.read(f"{root}/data/distance-matrix.tsv").decode()))
    assert list(theirs.ids) == list(dm.ids)
    assert np.array_equal(theirs.data, dm.data)
    ours = read_lsmat(path)
    assert np.array_equal(ours.data, dm.data)
    assert read_qza(path).type == "DistanceMatrix"
    # the data file matches the checksums.md5 written beside it
    from gutaxis.io._qza import read_artifact
    assert read_artifact(path, {"DistanceMatrix": "data/distance-matrix.tsv"}).checksum == \
        "verified"


def test_alpha_artifact(tmp_path: Path) -> None:
    values = pd.Series([1.5, np.nan, 0.1 + 0.2], index=["a", "b", "c"], name="shannon_entropy")
    path = tmp_path / "alpha.qza"
    write_alpha_qza(values, path)
    zf, root, metadata = _open_as_qiime2(path)
    assert metadata["type"] == "SampleData[AlphaDiversity]"
    assert metadata["format"] == "AlphaDiversityDirectoryFormat"
    assert zf.read(f"{root}/data/alpha-diversity.tsv") == (
        b"\tshannon_entropy\na\t1.5\nb\t\nc\t0.30000000000000004\n")
    # as q2-types reads it (pandas, first column the index)
    theirs = pd.read_csv(io.BytesIO(zf.read(f"{root}/data/alpha-diversity.tsv")), sep="\t",
                         index_col=0).iloc[:, 0]
    pd.testing.assert_series_equal(theirs, values, check_names=False, check_index_type=False)
    back = read_qza(path).value
    assert back.name == "shannon_entropy"
    assert np.array_equal(back.to_numpy(), values.to_numpy(), equal_nan=True)


def test_pcoa_artifact(tmp_path: Path) -> None:
    dm = _matrix(10)
    ordination = pcoa(dm, n_components=3)
    path = tmp_path / "pcoa.qza"
    write_pcoa_qza(ordination, path)
    zf, root, metadata = _open_as_qiime2(path)
    assert metadata["type"] == "PCoAResults"
    assert metadata["format"] == "OrdinationDirectoryFormat"
    theirs = skbio.OrdinationResults.read(io.StringIO(
        zf.read(f"{root}/data/ordination.txt").decode()))
    assert list(theirs.samples.index) == list(dm.ids)
    assert np.array_equal(theirs.samples.to_numpy(), ordination.coordinates)
    assert np.array_equal(theirs.eigvals.to_numpy(), ordination.eigenvalues)
    # and the PCoA itself agrees with scikit-bio's on the same matrix
    reference = skbio.stats.ordination.pcoa(dm.to_skbio(), number_of_dimensions=3)
    assert np.allclose(theirs.eigvals.to_numpy(), reference.eigvals.to_numpy(), rtol=1e-9)
    assert np.allclose(np.abs(theirs.samples.to_numpy()),
                       np.abs(reference.samples.to_numpy()), atol=1e-9)


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="at least one data file"):
        write_qza(tmp_path / "x.qza", semantic_type="DistanceMatrix",
                  directory_format="DistanceMatrixDirectoryFormat", files={})
    with pytest.raises(ValidationError, match="plain file name"):
        write_qza(tmp_path / "x.qza", semantic_type="DistanceMatrix",
                  directory_format="DistanceMatrixDirectoryFormat", files={"../x": b""})
    with pytest.raises(ValidationError, match="version-4 UUID"):
        write_qza(tmp_path / "x.qza", semantic_type="DistanceMatrix",
                  directory_format="DistanceMatrixDirectoryFormat", files={"a.tsv": b""},
                  artifact_uuid=str(uuid.uuid1()))
    with pytest.raises(ValidationError, match="need a name"):
        write_alpha_qza(pd.Series([1.0], index=["a"]), tmp_path / "x.qza")
    assert not (tmp_path / "x.qza").exists()
